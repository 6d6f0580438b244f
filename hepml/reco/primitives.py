"""Trigger primitives on object collections (jets, muons, ...) of many events.

Example::

    ht(events.jets, pt_min=30, eta_max=2.5)
    count(events.muons, pt_min=24)
    leading(events.fatjets, "msd", rank=0)
    pair_mass(events.muons)            # invariant mass of the two leading muons
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from hepml.errors import ConfigError
from hepml.kernels import trigger as K
from hepml.reco._buffers import flat, offsets_of

__all__ = ["count", "ht", "leading", "max_pair_mass", "mht", "pair_mass"]


def _cols(objects: ak.Array, *names: str):
    return offsets_of(objects), [flat(objects, n) for n in names]


def ht(objects: ak.Array, pt_min: float = 0.0, eta_max: float = np.inf) -> np.ndarray:
    """Scalar pT sum of objects above ``pt_min`` within ``|eta| < eta_max``."""
    off, (pt, eta) = _cols(objects, "pt", "eta")
    return K.ht_kernel(pt, eta, off, float(pt_min), float(eta_max))


def mht(
    objects: ak.Array, pt_min: float = 0.0, eta_max: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Missing HT (magnitude, azimuth) of the passing objects."""
    off, (pt, eta, phi) = _cols(objects, "pt", "eta", "phi")
    return K.mht_kernel(pt, eta, phi, off, float(pt_min), float(eta_max))


def count(objects: ak.Array, pt_min: float = 0.0, eta_max: float = np.inf) -> np.ndarray:
    """Number of passing objects per event."""
    off, (pt, eta) = _cols(objects, "pt", "eta")
    return K.count_kernel(pt, eta, off, float(pt_min), float(eta_max))


def leading(
    objects: ak.Array, field: str = "pt", rank: int = 0, fill: float = np.nan
) -> np.ndarray:
    """``field`` of the ``rank``-th hardest object (0 = leading); ``fill`` if absent."""
    if int(rank) < 0:
        raise ConfigError(f"leading(..., rank={rank}): rank counts from 0 (the leading object)")
    off, (values, pt) = _cols(objects, field, "pt")
    return K.leading_kernel(values, pt, off, int(rank), float(fill))


def pair_mass(objects: ak.Array, fill: float = np.nan) -> np.ndarray:
    """Invariant mass of the two hardest objects."""
    off, (pt, eta, phi, mass) = _cols(objects, "pt", "eta", "phi", "mass")
    return K.pair_mass_kernel(pt, eta, phi, mass, off, float(fill))


def max_pair_mass(
    objects: ak.Array, pt_min: float = 0.0, eta_max: float = np.inf, fill: float = np.nan
) -> np.ndarray:
    """Largest invariant mass over pairs of passing objects."""
    off, (pt, eta, phi, mass) = _cols(objects, "pt", "eta", "phi", "mass")
    return K.max_pair_mass_kernel(
        pt, eta, phi, mass, off, float(pt_min), float(eta_max), float(fill)
    )
