"""Jet clustering on awkward arrays: FastJet's jets from :mod:`hepml.kernels.cluster`.

Example::

    from hepml.io import read_events
    from hepml.reco import cluster

    events = read_events("ttbar.root")
    jets = cluster(events.particles, algorithm="antikt", radius=0.8, pt_min=200.0)
    jets.pt, jets.mass, jets.constituents   # per event, per jet; constituents index particles
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import awkward as ak
import numpy as np
import vector

from hepml.errors import InputError
from hepml.kernels import cluster as K
from hepml.kernels.fourvec import to_ptetaphim
from hepml.reco._buffers import flat, jagged_record, offsets_of, unflatten2

__all__ = ["ALGORITHMS", "ClusterReport", "cluster", "constituent_index", "constituent_particles"]

vector.register_awkward()

#: algorithm name -> generalised-kt exponent p
ALGORITHMS = {
    "antikt": K.ANTIKT,
    "anti-kt": K.ANTIKT,
    "kt": K.KT,
    "ca": K.CAMBRIDGE,
    "cambridge": K.CAMBRIDGE,
    "cambridge_aachen": K.CAMBRIDGE,
}


@dataclass
class ClusterReport:
    """Events dropped for non-finite momenta when ``on_nonfinite="drop"``. One report
    may follow several calls (chunks of a file): ``dropped_events`` counts the events
    of all of them in order (the first event of the second call is ``events`` of the
    first)."""

    events: int = 0
    dropped: int = 0
    dropped_events: list[int] | None = None


def _exponent(algorithm: str) -> int:
    try:
        return ALGORITHMS[algorithm.lower()]
    except KeyError:
        raise InputError(
            f"unknown jet algorithm {algorithm!r}; use one of antikt, kt, cambridge (ca)"
        ) from None


def cluster(
    particles: ak.Array,
    algorithm: str = "antikt",
    radius: float = 0.8,
    pt_min: float = 0.0,
    *,
    n_jets: int | None = None,
    dcut: float | None = None,
    on_nonfinite: str = "raise",
    report: ClusterReport | None = None,
) -> ak.Array:
    """Cluster each event's particles into jets, exactly as FastJet does.

    Parameters
    ----------
    particles : ``var * Momentum4D`` (fields or vector properties px, py, pz, E).
    algorithm : ``"antikt"`` (arXiv:0802.1189), ``"kt"`` or ``"cambridge"``.
    radius : the jet radius R (rapidity–azimuth distance).
    pt_min : inclusive jets above this pT (GeV). Give the threshold you need: an
        event's clustering stops once no jet above it can form any more (the
        scalar pT sum of what is left is below it), which for anti-kt skips most
        of the soft clustering; the jets are the same.
    n_jets, dcut : exclusive jets instead: exactly ``n_jets`` per event, or
        clustering stopped at ``dcut`` (FastJet ``exclusive_jets``).
    on_nonfinite : ``"raise"`` (an error naming the event) or ``"drop"``
        (such events get no jets; counted in ``report``).

    Returns
    -------
    ak.Array
        ``var * Momentum4D`` per event with fields pt, eta, phi, mass,
        ``n_constituents`` and ``constituents`` (indices of the event's
        particles in each jet, ascending), jets sorted by decreasing pT.
    """
    if not 0 < radius <= 1000:  # (NaN too; FastJet's largest R is 1000)
        raise InputError(f"jet radius must be in (0, 1000], got {radius}")
    if not (np.isfinite(pt_min) and pt_min >= 0):
        raise InputError(f"pt_min must be a finite number >= 0 (GeV), got {pt_min}")
    if n_jets is not None and dcut is not None:
        raise InputError("give n_jets or dcut for exclusive jets, not both")
    if n_jets is not None and (
        isinstance(n_jets, bool) or not isinstance(n_jets, numbers.Integral) or n_jets < 1
    ):
        raise InputError(f"n_jets must be a whole number >= 1, got {n_jets!r}")
    if dcut is not None and not (np.isfinite(dcut) and dcut >= 0):
        raise InputError(f"dcut must be a finite number >= 0, got {dcut!r}")
    if (n_jets is not None or dcut is not None) and pt_min > 0:
        raise InputError(
            "pt_min applies to inclusive jets; exclusive jets (n_jets, dcut) take none: "
            "select the jets afterwards (jets[jets.pt > X])"
        )
    if on_nonfinite not in ("raise", "drop"):
        raise InputError(f"on_nonfinite must be 'raise' or 'drop', got {on_nonfinite!r}")
    p = _exponent(algorithm)
    offsets = offsets_of(particles)
    px, py, pz, e = (flat(particles, f) for f in ("px", "py", "pz", "E"))
    bad = K.first_nonfinite(px, py, pz, e, offsets)
    bad_events = np.flatnonzero(bad >= 0)
    if len(bad_events) and on_nonfinite == "raise":
        ev = int(bad_events[0])
        raise InputError(
            f"event {ev} (particle {int(bad[ev])}) has a NaN or infinite momentum; "
            f"{len(bad_events)} event(s) are affected: fix the input or pass "
            "on_nonfinite='drop' to skip them (they are counted)"
        )
    if report is not None:
        before = report.events
        report.events += len(offsets) - 1
        report.dropped += len(bad_events)
        report.dropped_events = [*(report.dropped_events or []),
                                 *(before + int(i) for i in bad_events)]  # fmt: skip
    if n_jets is None and dcut is None:
        out = K.cluster_batch(px, py, pz, e, offsets, float(radius), p, float(pt_min), -1)
    else:
        out = K.exclusive_batch(
            px, py, pz, e, offsets, float(radius), p,
            int(n_jets) if n_jets is not None else 0,
            float(dcut) if dcut is not None else -1.0, -1,
        )  # fmt: skip
    jpx, jpy, jpz, je, jet_offsets, particle_jet, _status = out
    return _jets_array(jpx, jpy, jpz, je, jet_offsets, particle_jet, offsets)


def _jets_array(jpx, jpy, jpz, je, jet_offsets, particle_jet, offsets) -> ak.Array:
    """Jets as ``var * Momentum4D`` with their constituents' indices."""
    n_events = len(offsets) - 1
    counts = np.diff(offsets)
    event_of = np.repeat(np.arange(n_events), counts)
    local = np.arange(len(particle_jet)) - np.repeat(offsets[:-1], counts)
    inside = particle_jet >= 0
    key = jet_offsets[event_of[inside]] + particle_jet[inside]  # global jet index
    order = np.argsort(key, kind="stable")
    members = local[inside][order]
    per_jet = np.bincount(key, minlength=len(jpx)).astype(np.int64)
    constituents = ak.unflatten(members, per_jet)
    pt, eta, phi, mass = to_ptetaphim(jpx, jpy, jpz, je)
    cols = {
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "mass": mass,
        "n_constituents": per_jet,
        "constituents": ak.to_layout(constituents),
    }
    return jagged_record(cols, jet_offsets, name="Momentum4D")


def constituent_index(
    particles: ak.Array, jets: ak.Array
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat indices of every jet's particles into ``ak.flatten(particles)``, with the
    number of particles per jet and of jets per event."""
    offsets = offsets_of(particles)
    n_per_event = ak.to_numpy(ak.num(jets, axis=1)).astype(np.int64)
    members = ak.to_numpy(ak.flatten(jets.constituents, axis=None)).astype(np.int64)
    per_jet = ak.to_numpy(ak.flatten(jets.n_constituents)).astype(np.int64)
    jet_event = np.repeat(np.arange(len(n_per_event)), n_per_event)
    return members + np.repeat(offsets[:-1][jet_event], per_jet), per_jet, n_per_event


def constituent_particles(particles: ak.Array, jets: ak.Array) -> ak.Array:
    """The particles of every jet: ``events * jets * particles`` (a gather, no loop)."""
    global_idx, per_jet, n_per_event = constituent_index(particles, jets)
    return unflatten2(ak.flatten(particles)[global_idx], per_jet, n_per_event)
