"""Jet substructure on awkward arrays: N-subjettiness and soft drop.

Inputs are the constituents of each jet, ``jets * particles`` (``Momentum4D``
with px, py, pz, E), for example ``ak.flatten(constituent_particles(p, jets), axis=1)``.

Example::

    members = ak.flatten(constituent_particles(events.particles, jets), axis=1)
    s = substructure(members, radius=0.8)     # s.tau (n_jets, 3), s.tau32, s.mass ...
    g = soft_drop(members, z_cut=0.1, beta=0.0, radius=0.8)   # g.mass, g.n_constituents
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from hepml.errors import ConfigError
from hepml.kernels import substructure as K
from hepml.reco._buffers import flat, offsets_of

__all__ = ["soft_drop", "substructure"]


def _check(name: str, value: float, low: float, high: float = np.inf, open_low=True) -> float:
    v = float(value)
    ok = (low < v if open_low else low <= v) and v < high  # (NaN fails)
    if not ok:
        bound = f"> {low:g}" if open_low else f">= {low:g}"
        upper = f" and < {high:g}" if np.isfinite(high) else ""
        raise ConfigError(f"{name} must be {bound}{upper}, got {value!r}")
    return v


def _buffers(constituents: ak.Array):
    offsets = offsets_of(constituents)
    return [flat(constituents, f) for f in ("px", "py", "pz", "E")], offsets


def substructure(constituents: ak.Array, radius: float = 0.8, beta: float = 1.0) -> ak.Array:
    """τ1, τ2, τ3 (normalised, exclusive-kt axes; arXiv:1011.2268), τ21, τ32,
    jet mass and number of constituents, one record per jet."""
    radius = _check("radius", radius, 0.0, K.MAX_ALLOWABLE_R)
    beta = _check("beta", beta, 0.0)
    (px, py, pz, e), offsets = _buffers(constituents)
    tau = K.nsubjettiness_batch(px, py, pz, e, offsets, radius, beta, True)
    mass = K.jet_mass_batch(px, py, pz, e, offsets)
    with np.errstate(divide="ignore", invalid="ignore"):  # (0 for τ = 0; NaN stays NaN)
        tau21 = np.where(tau[:, 0] > 0, tau[:, 1] / tau[:, 0], tau[:, 0] * 0.0)
        tau32 = np.where(tau[:, 1] > 0, tau[:, 2] / tau[:, 1], tau[:, 1] * 0.0)
    return ak.zip(
        {
            "tau": tau,
            "tau21": tau21,
            "tau32": tau32,
            "mass": mass,
            "n_constituents": np.diff(offsets),
        },
        depth_limit=1,
    )


def soft_drop(
    constituents: ak.Array, z_cut: float = 0.1, beta: float = 0.0, radius: float = 0.8
) -> ak.Array:
    """Soft-drop grooming (arXiv:1402.2657; C/A declustering) of every jet:
    groomed four-momentum (px, py, pz, E), ``mass`` and ``n_constituents``."""
    z_cut = _check("z_cut", z_cut, 0.0, 1.0, open_low=False)
    beta = _check("beta", beta, 0.0, open_low=False)
    radius = _check("radius", radius, 0.0, K.MAX_ALLOWABLE_R)
    (px, py, pz, e), offsets = _buffers(constituents)
    groomed, msd, n = K.soft_drop_batch(px, py, pz, e, offsets, z_cut, beta, radius)
    return ak.zip(
        {
            "px": groomed[:, 0],
            "py": groomed[:, 1],
            "pz": groomed[:, 2],
            "E": groomed[:, 3],
            "mass": msd,
            "n_constituents": n,
        },
        depth_limit=1,
    )
