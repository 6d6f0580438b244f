"""Physics objects from particles, checked against plain-Python definitions."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from hepml.io import read_events
from hepml.kernels.isolation import relative_isolation_kernel
from hepml.reco._buffers import counts_to_offsets
from hepml.reco.objects import ObjectConfig, reconstruct_objects


def test_isolation_kernel_matches_python():
    rng = np.random.default_rng(1)
    counts = np.array([0, 1, 5, 40])
    n = counts.sum()
    pt = rng.exponential(10, n) + 0.5
    eta = rng.uniform(-2, 2, n)
    phi = rng.uniform(-math.pi, math.pi, n)
    phi[:3] = [3.1, -3.1, 3.05]  # cones across the ±pi seam
    cand = rng.random(n) < 0.5
    off = counts_to_offsets(counts)
    got = relative_isolation_kernel(pt, eta, phi, off, cand, 0.3)
    for ev in range(len(counts)):
        for i in range(off[ev], off[ev + 1]):
            want = 0.0
            if cand[i]:
                for j in range(off[ev], off[ev + 1]):
                    dphi = (phi[j] - phi[i] + math.pi) % (2 * math.pi) - math.pi
                    if j != i and (eta[j] - eta[i]) ** 2 + dphi**2 < 0.09:
                        want += pt[j]
                want /= pt[i]
            assert got[i] == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_objects_of_generated_ttbar(samples):
    events = read_events(samples["ttbar"])
    cfg = ObjectConfig()
    objs = reconstruct_objects(events.particles, cfg)
    assert len(objs) == len(events)
    # MET balances the visible particles
    p = events.particles
    vis = p[(abs(p.pid) != 12) & (abs(p.pid) != 14) & (abs(p.pid) != 16)]
    np.testing.assert_allclose(
        ak.to_numpy(objs.met.pt), np.hypot(ak.sum(vis.px, 1), ak.sum(vis.py, 1)), rtol=1e-9
    )
    for name, pt_min in (("jets", cfg.jet_pt_min), ("muons", cfg.lepton_pt_min)):
        o = objs[name]
        assert ak.all(o.pt > pt_min)
        assert ak.all(o.pt[:, :-1] >= o.pt[:, 1:])  # sorted by pT
    assert ak.all(abs(objs.muons.eta) < cfg.lepton_eta_max)
    # boosted ttbar: several jets per event; semileptonic decays give isolated leptons
    assert ak.mean(ak.num(objs.jets)) > 3
    n_lep = ak.num(objs.electrons) + ak.num(objs.muons)
    assert 0.1 < ak.mean(n_lep > 0) < 0.9
    # a selected muon really is a muon with little activity around it (Python check)
    ev = int(np.argmax(ak.to_numpy(ak.num(objs.muons)) > 0))
    mu = objs.muons[ev][0]
    parts = events.particles[ev]
    pts = np.hypot(ak.to_numpy(parts.px), ak.to_numpy(parts.py))
    pz = ak.to_numpy(parts.pz)
    etas = np.arcsinh(pz / pts)
    phis = np.arctan2(ak.to_numpy(parts.py), ak.to_numpy(parts.px))
    d = np.hypot(etas - mu.eta, (phis - mu.phi + np.pi) % (2 * np.pi) - np.pi)
    me = np.argmin(d)
    assert abs(int(parts.pid[me])) == 13
    assert pts[(d < 0.3) & (np.arange(len(d)) != me)].sum() < 0.15 * mu.pt
