"""Trigger primitives against plain Python and `vector`; smearing is deterministic and sane."""

from __future__ import annotations

import math

import numpy as np
import vector
from hypothesis import given, settings
from hypothesis import strategies as st

from hepml.kernels.smear import DEFAULT_PARAMS, PARAM_NAMES, smear_kernel
from hepml.kernels.trigger import (
    count_kernel,
    ht_kernel,
    leading_kernel,
    max_pair_mass_kernel,
    mht_kernel,
    pair_mass_kernel,
)


def _objects(counts, seed):
    rng = np.random.default_rng(seed)
    n = sum(counts)
    pt = rng.uniform(5, 200, n)
    eta = rng.uniform(-4, 4, n)
    phi = rng.uniform(-math.pi, math.pi, n)
    mass = rng.uniform(0, 20, n)
    return pt, eta, phi, mass, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 8), min_size=1, max_size=6), st.integers(0, 2**31))
def test_primitives_match_plain_python(counts, seed):
    pt, eta, phi, mass, off = _objects(counts, seed)
    ht = ht_kernel(pt, eta, off, 30.0, 2.5)
    n = count_kernel(pt, eta, off, 30.0, 2.5)
    mht, mphi = mht_kernel(pt, eta, phi, off, 30.0, 2.5)
    lead_eta = leading_kernel(eta, pt, off, 0, -99.0)
    sub_pt = leading_kernel(pt, pt, off, 1, -1.0)
    mjj = pair_mass_kernel(pt, eta, phi, mass, off, -1.0)
    mmax = max_pair_mass_kernel(pt, eta, phi, mass, off, 0.0, 10.0, -1.0)
    for ev in range(len(counts)):
        s = slice(off[ev], off[ev + 1])
        ok = [(p, e, f) for p, e, f in zip(pt[s], eta[s], phi[s]) if p > 30 and abs(e) < 2.5]
        assert math.isclose(ht[ev], sum(p for p, _, _ in ok), rel_tol=1e-12, abs_tol=1e-12)
        assert n[ev] == len(ok)
        sx, sy = -sum(p * math.cos(f) for p, _, f in ok), -sum(p * math.sin(f) for p, _, f in ok)
        assert math.isclose(mht[ev], math.hypot(sx, sy), rel_tol=1e-9, abs_tol=1e-9)
        if ok and mht[ev] > 1e-9:
            assert math.isclose(mphi[ev], math.atan2(sy, sx), abs_tol=1e-9)
        objs = sorted(zip(pt[s], eta[s], phi[s], mass[s]), key=lambda o: -o[0])
        assert lead_eta[ev] == (objs[0][1] if objs else -99.0)
        assert sub_pt[ev] == (objs[1][0] if len(objs) > 1 else -1.0)
        vs = [vector.obj(pt=o[0], eta=o[1], phi=o[2], mass=o[3]) for o in objs]
        if len(vs) >= 2:
            assert math.isclose(mjj[ev], (vs[0] + vs[1]).mass, rel_tol=1e-9)
            best = max((vs[a] + vs[b]).mass for a in range(len(vs)) for b in range(a + 1, len(vs)))
            assert math.isclose(mmax[ev], best, rel_tol=1e-9)
        else:
            assert mjj[ev] == -1.0
            assert mmax[ev] == -1.0


def _particles(n_events=40, per=200, seed=0):
    rng = np.random.default_rng(seed)
    n = n_events * per
    pid = rng.choice(np.array([211, -211, 22, 130, 11, -13, 12, 2212], dtype=np.int32), n)
    charge = np.select(
        [np.isin(pid, [211, -13, 2212]), np.isin(pid, [-211, 11])], [1, -1], 0
    ).astype(np.int32)
    pt = rng.exponential(5, n) + 0.1
    eta = rng.uniform(-6, 6, n)
    phi = rng.uniform(-math.pi, math.pi, n)
    v = vector.array({"pt": pt, "eta": eta, "phi": phi, "mass": np.where(charge != 0, 0.1396, 0.0)})
    off = np.arange(0, n + 1, per, dtype=np.int64)
    return v.px, v.py, v.pz, v.E, charge, pid, off


def test_smearing_is_deterministic_and_respects_acceptance():
    px, py, pz, e, charge, pid, off = _particles()
    events = np.arange(len(off) - 1, dtype=np.int64)
    a = smear_kernel(px, py, pz, e, charge, pid, off, DEFAULT_PARAMS, 7, events)
    b = smear_kernel(px, py, pz, e, charge, pid, off, DEFAULT_PARAMS, 7, events)
    c = smear_kernel(px, py, pz, e, charge, pid, off, DEFAULT_PARAMS, 8, events)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    keep, calo = a[4], a[5]
    v_in = vector.array({"px": px, "py": py, "pz": pz, "E": e})
    v_out = vector.array({"px": a[0], "py": a[1], "pz": a[2], "E": a[3]})
    p = dict(zip(PARAM_NAMES, DEFAULT_PARAMS))
    assert not keep[np.isin(abs(pid), [12, 14, 16])].any()  # neutrinos never seen
    charged = charge != 0
    muon = abs(pid) == 13
    in_tracker = (abs(v_in.eta) < p["track_eta_max"]) & (v_in.pt >= p["track_pt_min"])
    in_calo = abs(v_in.eta) < p["calo_eta_max"]
    assert not calo[~charged].any()
    assert not (calo & ~keep).any()
    # charged outside the tracker: in the calorimeters (muons: lost), never as tracks
    outside = charged & ~in_tracker
    assert (keep[outside] == calo[outside]).all()
    assert not keep[outside & muon].any()
    assert keep[outside & ~muon & in_calo].mean() > 0.9  # (above the cluster threshold)
    assert not keep[~in_calo & ~in_tracker].any()
    # tracks keep their direction; the pT resolution is about a ⊕ b pT
    t = keep & charged & ~calo
    assert not t[~in_tracker].any()
    np.testing.assert_allclose(v_out.eta[t], v_in.eta[t], atol=1e-9)
    ratio = v_out.pt[t] / v_in.pt[t]
    assert abs(np.mean(ratio) - 1) < 0.01
    assert 0.001 < np.std(ratio) < 0.05
    # efficiency about 95 % for tracks in acceptance; the lost ones go to the calorimeters
    acc = charged & in_tracker & ~muon
    assert 0.92 < t[acc].mean() < 0.98
    assert 0.02 < calo[acc].mean() < 0.08
    assert keep[acc].mean() > 0.99
    # charged seen by the calorimeters alone: cell-centred, massless, energy smeared
    hc = p["hcal_cell"]
    h = calo & (abs(pid) != 11)
    assert h.sum() > 100
    assert np.all(np.abs(v_out.eta[h] - v_in.eta[h]) <= hc / 2 + 1e-9)
    np.testing.assert_allclose(v_out.mass[h], 0.0, atol=1e-6 * v_out.E[h].max())
    r = v_out.E[h] / v_in.E[h]
    assert abs(np.median(r) - 1) < 0.1
    assert 0.1 < np.std(r) < 1.0
    # neutrals: cell-centred directions, energy resolution of the right size
    ph = keep & (pid == 22)
    cell = p["ecal_cell"]
    assert np.allclose((v_out.eta[ph] / cell - 0.5) % 1.0, 0.0, atol=1e-6) or np.allclose(
        np.abs(((v_out.eta[ph] / cell) - 0.5) - np.round((v_out.eta[ph] / cell) - 0.5)),
        0.0,
        atol=1e-6,
    )
    assert np.all(np.abs(v_out.eta[ph] - v_in.eta[ph]) <= cell / 2 + 1e-9)


def test_event_seeds_of_neighbouring_seeds_are_unrelated():
    """Seed 1's events do not replay seed 0's shifted by some entries (the seed was
    ``seed * 1000003 + entry``: seed 1, entry 0 was seed 0, entry 1000003)."""
    from hepml.kernels.smear import event_seed

    assert event_seed(1, 0) != event_seed(0, 1000003)
    seeds = {event_seed(s, e) for s in range(20) for e in range(0, 3_000_000, 1000)}
    assert len(seeds) > 0.999 * 20 * 3000  # (32-bit: a few random coincidences at most)
    assert all(0 <= event_seed(s, e) < 2**32 - 1 for s in (0, 1, 2**62) for e in (0, 2**62))
