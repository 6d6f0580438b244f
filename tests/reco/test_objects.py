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
    # MET balances the visible particles (summed in double precision)
    p = events.particles
    vis = p[(abs(p.pid) != 12) & (abs(p.pid) != 14) & (abs(p.pid) != 16)]
    sx, sy = (ak.sum(ak.values_astype(vis[f], np.float64), 1) for f in ("px", "py"))
    np.testing.assert_allclose(ak.to_numpy(objs.met.pt), np.hypot(sx, sy), rtol=1e-9)
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


def _reference_objects(particles, cfg):
    """The same objects written with awkward and ``vector`` in the obvious way."""
    p = ak.zip({f: particles[f] for f in ("px", "py", "pz", "E")}, with_name="Momentum4D")
    apid = abs(particles.pid)
    visible = (apid != 12) & (apid != 14) & (apid != 16)
    lep = ((apid == 11) | (apid == 13)) & (p.pt > cfg.lepton_pt_min)
    lep = lep & (abs(p.eta) < cfg.lepton_eta_max)
    pho = (apid == 22) & (p.pt > cfg.photon_pt_min) & (abs(p.eta) < cfg.photon_eta_max)
    cand = ak.to_numpy(ak.flatten(lep | pho))
    flat = [ak.to_numpy(ak.flatten(getattr(p, f))).astype(np.float64) for f in ("pt", "eta", "phi")]
    off = counts_to_offsets(ak.to_numpy(ak.num(p)))
    iso = ak.unflatten(relative_isolation_kernel(*flat, off, cand, cfg.iso_radius), ak.num(p))
    keep = {
        "electrons": lep & (apid == 11) & (iso < cfg.iso_max),
        "muons": lep & (apid == 13) & (iso < cfg.iso_max),
        "photons": pho & (iso < cfg.iso_max),
    }
    out = {}
    for name, m in keep.items():
        o = p[m]
        out[name] = o[ak.argsort(o.pt, axis=1, ascending=False)]
    from hepml.reco.cluster import cluster

    rest = p[visible & ~keep["electrons"] & ~keep["muons"] & ~keep["photons"]]
    jets = cluster(rest, "antikt", cfg.jet_radius, pt_min=cfg.jet_pt_min)
    out["jets"] = jets[abs(jets.eta) < cfg.jet_eta_max]
    vis = p[visible]
    sx, sy = (ak.sum(ak.values_astype(vis[f], np.float64), axis=1) for f in ("px", "py"))
    out["met"] = np.hypot(sx, sy)
    return out


@pytest.mark.parametrize("smeared", [False, True])
def test_objects_match_an_awkward_vector_reference(samples, smeared):
    from hepml.reco.smear import smear

    particles = read_events(samples["ttbar"]).particles
    if smeared:
        particles = smear(particles, seed=3)
    cfg = ObjectConfig()
    got = reconstruct_objects(particles, cfg)
    ref = _reference_objects(particles, cfg)
    for name in ("electrons", "muons", "photons", "jets"):
        assert ak.to_list(ak.num(got[name])) == ak.to_list(ak.num(ref[name])), name
        for f in ("pt", "eta", "phi", "mass"):
            a = ak.to_numpy(ak.flatten(got[name][f]))
            b = ak.to_numpy(ak.flatten(getattr(ref[name], f))).astype(np.float64)
            if smeared or name == "jets":  # double precision on both sides (the masses of
                atol = 1e-4 if f == "mass" else 1e-9  # massless particles: rounding of E² - p²)
                np.testing.assert_allclose(a, b, rtol=1e-9, atol=atol, err_msg=f"{name}.{f}")
            else:  # vector works in the file's float32; masses of ~massless particles
                atol = 0.5 if f == "mass" else 1e-4  # cancel there, not in hepml's doubles
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=atol, err_msg=f"{name}.{f}")
    np.testing.assert_allclose(ak.to_numpy(got.met.pt), ak.to_numpy(ref["met"]), rtol=1e-9)
    # one event at a time gives the same objects
    for ev in range(3):
        one = reconstruct_objects(particles[ev : ev + 1], cfg)
        for name in ("electrons", "muons", "photons", "jets"):
            assert ak.to_list(one[name][0]) == ak.to_list(got[name][ev])


def test_objects_of_no_events_and_empty_events():
    cfg = ObjectConfig()
    empty = ak.Array([[], [{"px": 50.0, "py": 0.0, "pz": 0.0, "E": 50.0, "pid": 13, "charge": -1}]])
    objs = reconstruct_objects(empty, cfg)
    assert ak.to_list(ak.num(objs.muons)) == [0, 1]
    assert ak.to_list(ak.num(objs.jets)) == [0, 0]
    assert ak.to_list(objs.met.pt) == [0.0, 50.0]
    none = reconstruct_objects(empty[:0], cfg)
    assert len(none) == 0


def test_a_neutrino_near_a_muon_does_not_spoil_its_isolation():
    """Neutrinos leave nothing in a detector: they count neither in MET's visible sum
    nor in a lepton's isolation cone."""

    def particle(pt, eta, phi, pid, charge, m=0.0):
        px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
        e = math.sqrt(px * px + py * py + pz * pz + m * m)
        return {"px": px, "py": py, "pz": pz, "E": e, "pid": pid, "charge": charge}

    muon = particle(50, 0.0, 0.0, 13, -1, 0.105)
    far = particle(40, 0.0, 3.0, 211, 1, 0.14)
    nu = particle(20, 0.1, 0.05, -14, 0)  # ΔR = 0.11 from the muon
    alone, with_nu = (
        reconstruct_objects(ak.Array([ev], with_name="Momentum4D"))
        for ev in ([muon, far], [muon, nu, far])
    )
    assert ak.to_list(with_nu.muons.pt) == ak.to_list(alone.muons.pt) == [[pytest.approx(50)]]
    assert ak.to_list(with_nu.muons.iso) == [[0.0]]
    assert ak.to_list(with_nu.met.pt) == ak.to_list(alone.met.pt)
