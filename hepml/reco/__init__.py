"""Reconstruction on awkward arrays, wrapping the Numba kernels of :mod:`hepml.kernels`.

Inputs and outputs are awkward arrays; the glue flattens them to content and
offsets, calls a kernel and rebuilds jagged results, without Python loops over
events or particles.

* :func:`cluster` — anti-kt / kt / C-A jets identical to FastJet's, with constituents.
* :func:`substructure`, :func:`soft_drop` — τN, soft-drop mass.
* :func:`smear` — parametric detector smearing (:class:`SmearConfig`).
* :func:`jet_particle_features`, :func:`knn_edges` — ParticleNet's inputs and graphs.
* :func:`ht`, :func:`mht`, :func:`count`, :func:`leading`, :func:`pair_mass` — trigger primitives.
* :func:`hadronic_tops`, :func:`top_matched` — truth labels.
* :func:`hepml.reco.pipeline.reconstruct` — the ``hepml reconstruct`` pipeline.
"""

from __future__ import annotations

from hepml.reco.cluster import ALGORITHMS, ClusterReport, cluster, constituent_particles
from hepml.reco.features import FEATURE_NAMES, jet_particle_features, knn_edges
from hepml.reco.labels import DEFAULT_SELECTION, hadronic_tops, select_jets, top_matched
from hepml.reco.primitives import count, ht, leading, max_pair_mass, mht, pair_mass
from hepml.reco.smear import SmearConfig, smear
from hepml.reco.substructure import soft_drop, substructure

__all__ = [
    "ALGORITHMS",
    "DEFAULT_SELECTION",
    "FEATURE_NAMES",
    "ClusterReport",
    "SmearConfig",
    "cluster",
    "constituent_particles",
    "count",
    "hadronic_tops",
    "ht",
    "jet_particle_features",
    "knn_edges",
    "leading",
    "max_pair_mass",
    "mht",
    "pair_mass",
    "select_jets",
    "smear",
    "soft_drop",
    "substructure",
    "top_matched",
]
