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

from hepml.kernels.isolation import relative_isolation_kernel
from hepml.reco._buffers import flat, offsets_of
from hepml.reco.cluster import cluster

__all__ = ["OBJECT_TYPES", "ObjectConfig", "reconstruct_objects"]

vector.register_awkward()

#: node types of the event graphs, in one-hot order
OBJECT_TYPES = ("jet", "electron", "muon", "photon", "met")
_INVISIBLE = (12, 14, 16)


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


def _p4(obj: ak.Array, **extra: ak.Array) -> ak.Array:
    return ak.zip(
        {"pt": obj.pt, "eta": obj.eta, "phi": obj.phi, "mass": obj.mass, **extra},
        with_name="Momentum4D",
    )


def _sorted(obj: ak.Array) -> ak.Array:
    return obj[ak.argsort(obj.pt, axis=1, ascending=False)]


def reconstruct_objects(particles: ak.Array, config: ObjectConfig | None = None) -> ak.Array:
    """Per event: ``electrons``, ``muons``, ``photons``, ``jets`` (jagged) and ``met``
    (record with ``pt``, ``phi``) — see the module docstring."""
    cfg = config or ObjectConfig()
    p = ak.zip(
        {"px": particles.px, "py": particles.py, "pz": particles.pz, "E": particles.E},
        with_name="Momentum4D",
    )
    apid = abs(particles.pid)
    charge = particles.charge
    visible = ~((apid == 12) | (apid == 14) | (apid == 16))
    pt, eta = p.pt, p.eta
    lep_cand = (
        ((apid == 11) | (apid == 13)) & (pt > cfg.lepton_pt_min) & (abs(eta) < cfg.lepton_eta_max)
    )
    pho_cand = (apid == 22) & (pt > cfg.photon_pt_min) & (abs(eta) < cfg.photon_eta_max)
    cand = ak.to_numpy(ak.flatten(lep_cand | pho_cand))
    iso = relative_isolation_kernel(
        flat(p, "pt"), flat(p, "eta"), flat(p, "phi"), offsets_of(p), cand, float(cfg.iso_radius)
    )
    iso = ak.unflatten(iso, ak.num(p))
    isolated = iso < cfg.iso_max
    is_e = lep_cand & (apid == 11) & isolated
    is_mu = lep_cand & (apid == 13) & isolated
    is_pho = pho_cand & isolated
    rest = p[visible & ~is_e & ~is_mu & ~is_pho]
    jets = cluster(rest, "antikt", cfg.jet_radius, pt_min=cfg.jet_pt_min)
    jets = jets[abs(jets.eta) < cfg.jet_eta_max]
    vis = p[visible]
    mx, my = -ak.sum(vis.px, axis=1), -ak.sum(vis.py, axis=1)
    met = ak.zip({"pt": np.hypot(mx, my), "phi": np.arctan2(my, mx)})
    out = {
        "electrons": _sorted(_p4(p[is_e], charge=charge[is_e], iso=iso[is_e])),
        "muons": _sorted(_p4(p[is_mu], charge=charge[is_mu], iso=iso[is_mu])),
        "photons": _sorted(_p4(p[is_pho], iso=iso[is_pho])),
        "jets": _sorted(_p4(jets)),
        "met": met,
    }
    return ak.zip(out, depth_limit=1)
