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
leptons also carry ``charge`` and ``iso``, photons ``iso``.

Example::

    objs = reconstruct_objects(events.particles)
    objs.jets.pt, objs.muons, objs.met.pt
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np
import vector

from hepml.kernels.fourvec import to_ptetaphim
from hepml.kernels.isolation import relative_isolation_kernel
from hepml.reco._buffers import counts_to_offsets, event_index, flat, jagged_record, offsets_of
from hepml.reco.cluster import cluster

__all__ = ["OBJECT_TYPES", "ObjectConfig", "reconstruct_objects"]

vector.register_awkward()

#: node types of the event graphs, in one-hot order
OBJECT_TYPES = ("jet", "electron", "muon", "photon", "met")
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
    iso = relative_isolation_kernel(
        pt, eta, phi, offsets, lep_cand | pho_cand, float(cfg.iso_radius)
    )
    isolated = iso < cfg.iso_max
    is_e = lep_cand & (apid == 11) & isolated
    is_mu = lep_cand & (apid == 13) & isolated
    is_pho = pho_cand & isolated
    # jets: anti-kt of the visible particles that are not isolated leptons or photons
    rest = visible & ~is_e & ~is_mu & ~is_pho
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
            np.flatnonzero(is_e), event, n_events, {**p4, "charge": charge, "iso": iso}
        ),
        "muons": _collection(
            np.flatnonzero(is_mu), event, n_events, {**p4, "charge": charge, "iso": iso}
        ),
        "photons": _collection(np.flatnonzero(is_pho), event, n_events, {**p4, "iso": iso}),
        "jets": _collection(kept, jet_event, n_events, jet_cols),
        "met": met,
    }
    return ak.zip(out, depth_limit=1)
