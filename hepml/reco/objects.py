r"""Physics objects from particles: isolated leptons and photons, jets, missing pT.

What a detector's reconstruction hands an analysis, built from an event's
final-state particles (generated, optionally smeared):

* **electrons, muons** — :math:`|{\rm pid}|` 11 / 13 with :math:`p_T >`
  ``lepton_pt_min`` and :math:`|\eta| <` ``lepton_eta_max``, relative isolation
  :math:`I < ` ``iso_max`` in a cone ``iso_radius`` (:mod:`hepml.kernels.isolation`);
* **photons** — pid 22, likewise with ``photon_pt_min``;
* **jets** — anti-kt (``jet_radius``, default 0.4) of the remaining visible
  particles (isolated leptons and photons removed), :math:`p_T >` ``jet_pt_min``,
  :math:`|\eta| <` ``jet_eta_max``;
* **met** — :math:`\vec p_T^{\rm miss} = -\sum \vec p_T` over all visible particles
  (neutrinos are never visible).

Every collection has ``pt, eta, phi, mass`` (``Momentum4D`` behaviour), sorted by pT;
leptons also carry ``charge``, ``iso`` and ``isolated``, photons ``iso``. With
``all_leptons`` (what the trigger uses) non-isolated leptons are listed too.

Example::

    objs = reconstruct_objects(events.particles)
    objs.jets.pt, objs.muons, objs.met.pt
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import awkward as ak
import numpy as np
import vector

from hepml.errors import InputError
from hepml.kernels.fourvec import to_ptetaphim
from hepml.kernels.isolation import relative_isolation_kernel
from hepml.reco._buffers import counts_to_offsets, event_index, flat, jagged_record, offsets_of
from hepml.reco.cluster import cluster

__all__ = [
    "EVENT_NODE_FEATURES",
    "OBJECT_TYPES",
    "ObjectConfig",
    "node_features",
    "reconstruct_objects",
]

vector.register_awkward()

#: node types of the event graphs, in one-hot order
OBJECT_TYPES = ("jet", "electron", "muon", "photon", "met")
#: per-object node features of the event graphs, in order (see :func:`node_features`)
EVENT_NODE_FEATURES = (
    *(f"is_{t}" for t in OBJECT_TYPES),
    "log_pt",
    "eta",
    "sin_phi",
    "cos_phi",
    "log_mass",
)
#: |pid| of the particles a detector never sees (neutrinos)
INVISIBLE_PIDS = (12, 14, 16)


@dataclass
class ObjectConfig:
    """Selections of :func:`reconstruct_objects` (LHC-like defaults)."""

    jet_radius: float = 0.4
    jet_pt_min: float = 30.0
    jet_eta_max: float = 4.7
    lepton_pt_min: float = 10.0
    lepton_eta_max: float = 2.5
    photon_pt_min: float = 20.0
    photon_eta_max: float = 2.5
    iso_radius: float = 0.3
    iso_max: float = 0.15
    #: list every electron and muon candidate, non-isolated ones too (with ``iso`` and
    #: ``isolated``), as a trigger's muon seeds see them; the jets still lose only the
    #: isolated ones. False: isolated leptons only (an analysis' leptons)
    all_leptons: bool = False


def _collection(
    index: np.ndarray, event: np.ndarray, n_events: int, columns: dict[str, np.ndarray]
) -> ak.Array:
    """The particles at flat ``index`` as ``var * Momentum4D`` per event, sorted by
    decreasing pT (stable: equal pT keep their order, as ``ak.argsort`` does)."""
    ev = event[index]
    order = index[np.lexsort((-columns["pt"][index], ev))]
    offsets = counts_to_offsets(np.bincount(ev, minlength=n_events).astype(np.int64))
    return jagged_record({k: v[order] for k, v in columns.items()}, offsets, name="Momentum4D")


def reconstruct_objects(particles: ak.Array, config: ObjectConfig | None = None) -> ak.Array:
    """Per event: ``electrons``, ``muons``, ``photons``, ``jets`` (jagged) and ``met``
    (record with ``pt``, ``phi``) — see the module docstring.

    Everything is done on the flat particle buffers (a fixed, small number of
    numpy/Numba calls whatever the number of events), so that one event at a
    time — how a trigger sees them — costs milliseconds, not tens of them.
    """
    cfg = config or ObjectConfig()
    offsets = offsets_of(particles)
    n_events = len(offsets) - 1
    event = event_index(offsets)
    px, py, pz, e = (flat(particles, f) for f in ("px", "py", "pz", "E"))
    apid = np.abs(flat(particles, "pid", np.int64))
    charge = ak.to_numpy(ak.flatten(particles.charge))
    pt, eta, phi, mass = to_ptetaphim(px, py, pz, e)
    visible = ~np.isin(apid, INVISIBLE_PIDS)
    lep_cand = ((apid == 11) | (apid == 13)) & (pt > cfg.lepton_pt_min)
    lep_cand &= np.abs(eta) < cfg.lepton_eta_max
    pho_cand = (apid == 22) & (pt > cfg.photon_pt_min) & (np.abs(eta) < cfg.photon_eta_max)
    iso = relative_isolation_kernel(  # (neutrinos leave no energy in the cone)
        np.where(visible, pt, 0.0), eta, phi, offsets, lep_cand | pho_cand, float(cfg.iso_radius)
    )
    isolated = iso < cfg.iso_max
    is_e = lep_cand & (apid == 11) & isolated
    is_mu = lep_cand & (apid == 13) & isolated
    is_pho = pho_cand & isolated
    # jets: anti-kt of the visible particles that are not isolated leptons or photons
    rest = visible & ~is_e & ~is_mu & ~is_pho
    if cfg.all_leptons:  # (listed, but in the jets as before)
        is_e = lep_cand & (apid == 11)
        is_mu = lep_cand & (apid == 13)
    rest_offsets = counts_to_offsets(np.bincount(event[rest], minlength=n_events).astype(np.int64))
    rest_p = jagged_record(
        {"px": px[rest], "py": py[rest], "pz": pz[rest], "E": e[rest]}, rest_offsets
    )
    jets = cluster(rest_p, "antikt", cfg.jet_radius, pt_min=cfg.jet_pt_min)
    jet_offsets = offsets_of(jets)
    jet_cols = {f: flat(jets, f) for f in ("pt", "eta", "phi", "mass")}
    jet_event = event_index(jet_offsets)
    kept = np.flatnonzero(np.abs(jet_cols["eta"]) < cfg.jet_eta_max)
    # missing pT: minus the visible particles' sum, summed in order as ak.sum does
    mx = -np.bincount(event[visible], weights=px[visible], minlength=n_events)
    my = -np.bincount(event[visible], weights=py[visible], minlength=n_events)
    met = ak.zip({"pt": np.hypot(mx, my), "phi": np.arctan2(my, mx)})
    p4 = {"pt": pt, "eta": eta, "phi": phi, "mass": mass}
    out = {
        "electrons": _collection(
            np.flatnonzero(is_e),
            event,
            n_events,
            {**p4, "charge": charge, "iso": iso, "isolated": isolated},
        ),
        "muons": _collection(
            np.flatnonzero(is_mu),
            event,
            n_events,
            {**p4, "charge": charge, "iso": iso, "isolated": isolated},
        ),
        "photons": _collection(np.flatnonzero(is_pho), event, n_events, {**p4, "iso": iso}),
        "jets": _collection(kept, jet_event, n_events, jet_cols),
        "met": met,
    }
    return ak.zip(out, depth_limit=1)


def node_features(
    types: np.ndarray,
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    mass: np.ndarray,
    features: Sequence[str] = EVENT_NODE_FEATURES,
) -> np.ndarray:
    """``(n, len(features))`` float32 node features of ``n`` objects given as flat arrays
    (``types``: index into :data:`OBJECT_TYPES`): the event graphs' nodes, for training
    (``hepml.graphs.EventGraphs``) and for the trigger's event ML path alike.

    One-hot of the type, ``log_pt`` (log pT, pT floored at 1 MeV), ``eta``, ``sin_phi``,
    ``cos_phi`` (continuous across ±π) and ``log_mass`` (log(1 + m))."""
    unknown = [f for f in features if f not in EVENT_NODE_FEATURES]
    if unknown:
        raise InputError(
            f"unknown event node feature(s) {unknown}; available: {list(EVENT_NODE_FEATURES)}"
        )
    types = np.asarray(types, dtype=np.int64)
    pt, eta, phi, mass = (np.asarray(a, dtype=np.float64) for a in (pt, eta, phi, mass))
    cols = {f"is_{name}": (types == i).astype(np.float64) for i, name in enumerate(OBJECT_TYPES)}
    cols.update({
        "log_pt": np.log(np.maximum(pt, 1e-3)), "eta": eta, "sin_phi": np.sin(phi),
        "cos_phi": np.cos(phi), "log_mass": np.log1p(np.maximum(mass, 0.0))})  # fmt: skip
    out = np.empty((len(types), len(features)), dtype=np.float32)
    for k, f in enumerate(features):
        out[:, k] = cols[f]
    return out
