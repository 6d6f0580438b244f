"""Per-particle jet features and kNN edges on awkward arrays.

Example::

    feats = jet_particle_features(events.particles, jets, max_particles=100)
    feats[0][0].deta       # event 0, jet 0: its particles' Δη, hardest first
    edges = knn_edges(ak.flatten(feats, axis=1), k=16)   # per jet: src, dst
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from hepml.kernels.features import FEATURE_NAMES
from hepml.kernels.features import jet_particle_features as _features
from hepml.kernels.fourvec import to_xyze
from hepml.kernels.knn import knn_edges as _knn
from hepml.reco._buffers import as_float64, counts_to_offsets, flat, jagged_record, offsets_of
from hepml.reco.cluster import constituent_index

__all__ = ["FEATURE_NAMES", "jet_particle_features", "knn_edges", "particle_features_flat"]


def particle_features_flat(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    charge: np.ndarray,
    pid: np.ndarray,
    jet_offsets: np.ndarray,
    jet_pt: np.ndarray,
    jet_eta: np.ndarray,
    jet_phi: np.ndarray,
    jet_mass: np.ndarray,
    max_particles: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The features kernel on flat buffers: each jet's particles (``px ... pid``, jet
    ``g`` owns ``jet_offsets[g]:jet_offsets[g+1]``) and the jets' pt, eta, phi, mass.
    Returns ``feats`` (n, len(FEATURE_NAMES)), ``order`` (the input row of each output
    row) and the output offsets; for callers that already hold buffers (the trigger's
    ML path, one event at a time)."""
    jpx, jpy, jpz, je = to_xyze(jet_pt, jet_eta, jet_phi, jet_mass)
    limit = -1 if max_particles is None else int(max_particles)
    return _features(px, py, pz, e, charge, pid, jet_offsets, jpx, jpy, jpz, je, limit)


def jet_particle_features(
    particles: ak.Array, jets: ak.Array, max_particles: int | None = None
) -> ak.Array:
    """ParticleNet's per-particle inputs for every jet (see :mod:`hepml.kernels.features`).

    ``particles``: ``var * Momentum4D`` with pid and charge; ``jets``: the output of
    :func:`hepml.reco.cluster`. Returns ``events * jets * particles`` records with
    fields ``FEATURE_NAMES`` plus ``index`` (the particle's index in its event),
    ordered by decreasing pT and cut at ``max_particles``.
    """
    global_idx, per_jet, per_event = constituent_index(particles, jets)
    jet_offsets = counts_to_offsets(per_jet)
    px, py, pz, e = (flat(particles, f)[global_idx] for f in ("px", "py", "pz", "E"))
    charge = flat(particles, "charge", np.int32)[global_idx]
    pid = flat(particles, "pid", np.int32)[global_idx]
    jet = [as_float64(ak.flatten(jets[f])) for f in ("pt", "eta", "phi", "mass")]
    feats, order, out_offsets = particle_features_flat(
        px, py, pz, e, charge, pid, jet_offsets, *jet, max_particles
    )
    cols = {name: feats[:, i] for i, name in enumerate(FEATURE_NAMES)}
    local = ak.to_numpy(ak.flatten(jets.constituents, axis=None)).astype(np.int64)
    # order indexes the per-jet content; map back to the particle's index in its event
    cols["index"] = local[order]
    per_jet = jagged_record(cols, out_offsets)
    return ak.unflatten(per_jet, per_event)


def knn_edges(points: ak.Array, k: int = 16, *, eta: str = "deta", phi: str = "dphi") -> ak.Array:
    """kNN graph of each jet in (η, φ): ``jets * edges`` records ``{src, dst}``.

    ``points``: ``jets * particles`` with fields ``eta``/``phi`` (by default the
    ``deta``/``dphi`` features). Indices are local to the jet; each particle
    gets ``min(k, n - 1)`` incoming edges (source = neighbour, PyG's
    ``source_to_target`` flow).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    offsets = offsets_of(points)
    edges, edge_offsets = _knn(flat(points, eta), flat(points, phi), offsets, int(k))
    n_edges = np.diff(edge_offsets)
    start = np.repeat(offsets[:-1], n_edges)
    cols = {"src": edges[0] - start, "dst": edges[1] - start}
    return jagged_record(cols, edge_offsets)
