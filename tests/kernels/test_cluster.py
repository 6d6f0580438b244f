"""Jet clustering kernels against FastJet (the ``fastjet`` package, FastJet 3.5).

The reference is FastJet itself: its awkward interface for whole samples, and
per-event ``ClusterSequence`` objects (``user_index`` on the inputs) to compare
the complete history, strategy by strategy, including exact ties.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepml.kernels import cluster as K
from hepml.kernels.fourvec import eta, mass, phi, pt

fastjet = pytest.importorskip("fastjet")
ak = pytest.importorskip("awkward")

ALGORITHMS = {
    K.ANTIKT: "antikt_algorithm",
    K.KT: "kt_algorithm",
    K.CAMBRIDGE: "cambridge_algorithm",
}
ALG_IDS = {K.ANTIKT: "antikt", K.KT: "kt", K.CAMBRIDGE: "cam"}
STRATEGIES = {
    K.N2_PLAIN: "N2Plain",
    K.N2_TILED: "N2Tiled",
    K.N2_MINHEAP_TILED: "N2MinHeapTiled",
    K.N2_LAZY9: "N2MHTLazy9",
}
RTOL = 1e-9
ATOL = 1e-9  # GeV or radians: for jets with tiny pt, mass or eta


def jet_definition(p: int, R: float, strategy: int = K.STRATEGY_AUTO):
    alg = getattr(fastjet, ALGORITHMS[p])
    if strategy == K.STRATEGY_AUTO:
        return fastjet.JetDefinition(alg, R)
    # (this SWIG overload takes the strategy before the recombination scheme)
    return fastjet.JetDefinition(alg, R, getattr(fastjet, STRATEGIES[strategy]), fastjet.E_scheme)


def fastjet_sequence(px, py, pz, e, p, R, strategy=K.STRATEGY_AUTO):
    particles = []
    for i, mom in enumerate(zip(px.tolist(), py.tolist(), pz.tolist(), e.tolist())):
        pj = fastjet.PseudoJet(*mom)
        pj.set_user_index(i)
        particles.append(pj)
    return fastjet.ClusterSequence(particles, jet_definition(p, R, strategy))


def four(jet) -> list[float]:
    return [jet.px(), jet.py(), jet.pz(), jet.E()]


def assert_same_history(px, py, pz, e, p, R, strategy=K.STRATEGY_AUTO):
    """Our complete ClusterSequence equals FastJet's: every pseudojet (bit for bit,
    in creation order), the step that made it, every d_ij and constituents."""
    n = len(px)
    cs = fastjet_sequence(px, py, pz, e, p, R, strategy)
    if strategy == K.STRATEGY_AUTO and n:
        assert STRATEGIES[K.choose_strategy(n, R, p)] == cs.strategy_string()
    hist, dij, jets = K.cluster_sequence(px, py, pz, e, R, p, strategy)
    fj_jets = cs.jets()
    np.testing.assert_array_equal(jets, np.array([four(j) for j in fj_jets]).reshape(-1, 4))
    created_at = {int(r): int(k) for k, r in enumerate(hist[:, K.HIST_JET]) if r >= 0}
    assert [created_at[k] for k in range(len(jets))] == [j.cluster_hist_index() for j in fj_jets]
    np.testing.assert_array_equal(
        [K.exclusive_dmerge(hist, dij, k) for k in range(n)],
        [cs.exclusive_dmerge(k) for k in range(n)],
    )
    np.testing.assert_array_equal(
        [K.exclusive_dmerge_max(hist, dij, k) for k in range(n)],
        [cs.exclusive_dmerge_max(k) for k in range(n)],
    )
    fj_inc = fastjet.sorted_by_pt(cs.inclusive_jets())
    rows = K.inclusive_jets(hist, dij, jets, p, 0.0)
    assert len(rows) == len(fj_inc)
    # pt ties between jets (duplicated events) may be sorted either way: compare as sets
    ours = {tuple(K.constituents(hist, r).tolist()): tuple(jets[r]) for r in rows}
    theirs = {tuple(c.user_index() for c in j.constituents()): tuple(four(j)) for j in fj_inc}
    assert ours == theirs


def compare_with_fastjet_awkward(ev, p: int, R: float, ptmin: float) -> int:
    """cluster_batch against FastJet's awkward interface on a whole sample:
    identical constituent sets, kinematics to 1e-9, jets sorted by pt. Returns
    the number of jets."""
    counts = np.diff(ev.offsets)
    records = ak.zip({"px": ev.px, "py": ev.py, "pz": ev.pz, "E": ev.e}, with_name="Momentum4D")
    cs = fastjet.ClusterSequence(ak.unflatten(records, counts), jet_definition(p, R))
    fj_jets = cs.inclusive_jets(ptmin)
    fj_const = cs.constituent_index(ptmin)

    jpx, jpy, jpz, je, joff, particle_jet, status = K.cluster_batch(
        ev.px, ev.py, ev.pz, ev.e, ev.offsets, R, p, ptmin, K.STRATEGY_AUTO
    )
    assert np.all(status == K.STATUS_OK)
    np.testing.assert_array_equal(np.diff(joff), ak.to_numpy(ak.num(fj_jets)))

    # global jet ids of every particle, ours and FastJet's
    event_of = np.repeat(np.arange(len(counts)), counts)
    ours = np.where(particle_jet >= 0, joff[event_of] + particle_jet, -1)
    fj_first = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(fj_jets)))])
    n_const = ak.to_numpy(ak.flatten(ak.num(fj_const, axis=2)))
    fj_jet_ids = np.repeat(np.arange(len(n_const)), n_const)
    fj_event = np.repeat(np.repeat(np.arange(len(counts)), ak.to_numpy(ak.num(fj_jets))), n_const)
    fj_particle = ev.offsets[fj_event] + ak.to_numpy(ak.flatten(fj_const, axis=None))
    theirs = np.full(len(ev.px), -1)
    theirs[fj_particle] = fj_jet_ids
    assert fj_first[-1] == len(jpx)
    # the same particles are in jets, and the two labellings are a bijection
    np.testing.assert_array_equal(ours >= 0, theirs >= 0)
    pairs = np.unique(np.stack([ours[ours >= 0], theirs[ours >= 0]]), axis=1)
    assert pairs.shape[1] == len(jpx)
    assert len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == len(jpx)

    # kinematics of matched jets
    fj4 = {f: ak.to_numpy(ak.flatten(getattr(fj_jets, f))) for f in ("px", "py", "pz", "E")}
    o, t = pairs
    for mine, ref in ((jpx, "px"), (jpy, "py"), (jpz, "pz"), (je, "E")):
        np.testing.assert_allclose(mine[o], fj4[ref][t], rtol=RTOL, atol=ATOL)
    for fn in (
        lambda a, b, c, d: pt(a, b),
        lambda a, b, c, d: eta(a, b, c),
        lambda a, b, c, d: phi(a, b),
        mass,
    ):
        mine = np.array([fn(*x) for x in zip(jpx[o], jpy[o], jpz[o], je[o])])
        ref = np.array([fn(*x) for x in zip(*(fj4[f][t] for f in ("px", "py", "pz", "E")))])
        np.testing.assert_allclose(mine, ref, rtol=RTOL, atol=ATOL)
    # sorted by decreasing pt within each event
    pt2 = jpx**2 + jpy**2
    same_event = np.repeat(np.arange(len(counts)), np.diff(joff))
    step = np.diff(pt2)[np.diff(same_event) == 0]
    assert np.all(step <= 0)
    return len(jpx)


# --------------------------------------------------------------------------
# realistic events
# --------------------------------------------------------------------------


def test_events_are_realistic(pythia_events):
    counts = np.diff(pythia_events.offsets)
    assert pythia_events.n_events == 1000
    assert 300 < counts.mean() < 900
    # FastJet's strategy choice spans its three tiled strategies on them
    used = {K.choose_strategy(int(n), R, K.ANTIKT) for n in counts for R in (0.4, 0.8)}
    assert used == {K.N2_TILED, K.N2_MINHEAP_TILED, K.N2_LAZY9}


@pytest.mark.parametrize("R", [0.4, 0.8])
@pytest.mark.parametrize("p", [K.ANTIKT, K.KT, K.CAMBRIDGE], ids=ALG_IDS.get)
def test_inclusive_jets_match_fastjet(sample_events, p, R):
    n_jets = compare_with_fastjet_awkward(sample_events, p, R, 0.0)
    assert n_jets > sample_events.n_events
    compare_with_fastjet_awkward(sample_events, p, R, 20.0)


@pytest.mark.slow
@pytest.mark.parametrize("R", [0.4, 0.8])
@pytest.mark.parametrize("p", [K.ANTIKT, K.KT, K.CAMBRIDGE], ids=ALG_IDS.get)
def test_inclusive_jets_match_fastjet_on_1000_events(pythia_events, p, R):
    """The acceptance check: 1000 ttbar + QCD events, every jet and constituent."""
    assert pythia_events.n_events == 1000
    n_jets = compare_with_fastjet_awkward(pythia_events, p, R, 5.0)
    assert n_jets > pythia_events.n_events


@pytest.mark.parametrize("strategy", list(STRATEGIES), ids=STRATEGIES.get)
@pytest.mark.parametrize("R", [0.4, 0.8])
@pytest.mark.parametrize("p", [K.ANTIKT, K.KT, K.CAMBRIDGE], ids=ALG_IDS.get)
def test_history_matches_fastjet_strategy_by_strategy(sample_events, p, R, strategy):
    for i in (0, 3, 151, 160):  # two ttbar, two QCD events
        px, py, pz, e = sample_events.event(i)
        assert_same_history(px, py, pz, e, p, R, strategy)


@pytest.mark.parametrize("R", [0.1, 0.4, 0.8, 1.0, 1.5])
@pytest.mark.parametrize("p", [K.ANTIKT, K.KT, K.CAMBRIDGE], ids=ALG_IDS.get)
def test_history_matches_fastjet_best_strategy(sample_events, p, R):
    """FastJet's own strategy choice, on events cut to sizes around its thresholds."""
    pool = [np.concatenate([sample_events.event(i)[k] for i in range(4)]) for k in range(4)]
    assert len(pool[0]) > 1600
    for n in (1, 2, 25, 31, 40, 60, 200, 500, 520, 700, 1600):
        assert_same_history(*(x[:n] for x in pool), p, R)


def test_strategy_choice_matches_fastjet(sample_events):
    px, py, pz, e = (
        np.concatenate([sample_events.event(i)[k] for i in range(6)]) for k in range(4)
    )
    for p in ALGORITHMS:
        for R in (0.05, 0.2, 0.4, 0.64, 0.7, 1.0, 2.0):
            for n in (1, 30, 31, 39, 40, 55, 60, 200, 400, 516, 520, 690, 700, 1582, 1600, 2960):
                cs = fastjet_sequence(px[:n], py[:n], pz[:n], e[:n], p, R)
                fj = cs.strategy_string()
                ours = STRATEGIES[K.choose_strategy(n, R, p)]
                # N2MHTLazy25 (R > pi/2 with N >= 700, or N ~ 3000 at R = 1) runs as N2MHTLazy9
                assert ours == fj or (fj == "N2MHTLazy25" and ours == "N2MHTLazy9"), (p, R, n)


@pytest.mark.parametrize("R", [0.4, 0.8])
@pytest.mark.parametrize("p", [K.ANTIKT, K.KT, K.CAMBRIDGE], ids=ALG_IDS.get)
def test_exclusive_jets_match_fastjet(sample_events, p, R):
    for i in range(0, 300, 15):
        px, py, pz, e = sample_events.event(i)
        cs = fastjet_sequence(px, py, pz, e, p, R)
        hist, dij, jets = K.cluster_sequence(px, py, pz, e, R, p)
        for njets in (1, 2, 3, 6):
            rows = K.exclusive_jets(hist, njets)
            np.testing.assert_array_equal(jets[rows], [four(j) for j in cs.exclusive_jets(njets)])
        dcuts = [cs.exclusive_dmerge_max(k) for k in (1, 2, 5)] + [1e-3, 1.0, 1e4]
        for dcut in dcuts:
            rows = K.exclusive_jets_dcut(hist, dij, dcut)
            assert K.n_exclusive_jets(hist, dij, dcut) == cs.n_exclusive_jets(dcut)
            ref = np.array([four(j) for j in cs.exclusive_jets(float(dcut))]).reshape(-1, 4)
            np.testing.assert_array_equal(jets[rows], ref)
    # more jets asked than particles: exclusive_jets_up_to, i.e. all the particles
    px, py, pz, e = (x[:5] for x in sample_events.event(0))
    cs = fastjet_sequence(px, py, pz, e, p, R)
    hist, dij, jets = K.cluster_sequence(px, py, pz, e, R, p)
    rows = K.exclusive_jets(hist, 8)
    np.testing.assert_array_equal(jets[rows], [four(j) for j in cs.exclusive_jets_up_to(8)])
    assert sorted(rows) == [0, 1, 2, 3, 4]
    # the batch versions: the same jets, sorted by pt, with the same constituents
    sub = sample_events.select(np.arange(0, 300, 15))
    for njets, dcut in ((2, -1.0), (0, 50.0**2 if p == K.KT else 0.05)):
        jpx, jpy, jpz, je, joff, pjet, status = K.exclusive_batch(
            sub.px, sub.py, sub.pz, sub.e, sub.offsets, R, p, njets, dcut
        )
        assert np.all(status == K.STATUS_OK)
        for i in range(sub.n_events):
            px, py, pz, e = sub.event(i)
            cs = fastjet_sequence(px, py, pz, e, p, R)
            ref = cs.exclusive_jets(njets) if njets else cs.exclusive_jets(float(dcut))
            ref = fastjet.sorted_by_pt(ref)
            mine = slice(joff[i], joff[i + 1])
            np.testing.assert_array_equal(
                np.stack([jpx[mine], jpy[mine], jpz[mine], je[mine]], axis=1).reshape(-1, 4),
                np.array([four(j) for j in ref]).reshape(-1, 4),
            )
            members = pjet[sub.offsets[i] : sub.offsets[i + 1]]
            for k, jet in enumerate(ref):
                assert sorted(c.user_index() for c in jet.constituents()) == list(
                    np.flatnonzero(members == k)
                )


def test_batch_entry_points_equal_single_event(sample_events):
    sub = sample_events.select(np.r_[0:10, 150:160])
    R, p = 0.4, K.ANTIKT
    jpx, jpy, jpz, je, joff, pjet, status = K.cluster_batch(
        sub.px, sub.py, sub.pz, sub.e, sub.offsets, R, p, 10.0
    )
    hist_b, dij_b, jets_b, npj, status_h = K.cluster_history_batch(
        sub.px, sub.py, sub.pz, sub.e, sub.offsets, R, p
    )
    assert np.all(status == 0)
    assert np.all(status_h == 0)
    for i in range(sub.n_events):
        hist, dij, jets = K.cluster_sequence(*sub.event(i), R, p)
        block = slice(2 * sub.offsets[i], 2 * sub.offsets[i + 1])
        np.testing.assert_array_equal(hist_b[block], hist)
        np.testing.assert_array_equal(dij_b[block], dij)
        np.testing.assert_array_equal(jets_b[block][: npj[i]], jets)
        rows = K.inclusive_jets(hist, dij, jets, p, 10.0)
        mine = slice(joff[i], joff[i + 1])
        np.testing.assert_array_equal(np.stack([jpx, jpy, jpz, je], 1)[mine], jets[rows])
        members = pjet[sub.offsets[i] : sub.offsets[i + 1]]
        np.testing.assert_array_equal(members, K.particle_jet_indices(hist, rows))
        for k, r in enumerate(rows):
            assert sorted(K.constituents(hist, r)) == list(np.flatnonzero(members == k))


@pytest.mark.parametrize("strategy", list(STRATEGIES), ids=STRATEGIES.get)
@pytest.mark.parametrize("p", [K.ANTIKT, K.KT, K.CAMBRIDGE], ids=ALG_IDS.get)
def test_inclusive_jets_stop_early_with_the_same_jets(sample_events, p, strategy):
    """Above a ptmin the clustering stops once the active pseudojets' scalar pt sum
    is below it: same jets and particle memberships as the full clustering (which
    is FastJet's), and for anti-kt most of the steps are skipped."""
    R, ptmin = 0.8, 300.0
    written = total = 0
    stopped_with_jets = False
    for i in (0, 3, 151, 160, 170):  # ttbar and QCD events
        px, py, pz, e = sample_events.event(i)
        n = len(px)
        hist, dij, jets = K.cluster_sequence(px, py, pz, e, R, p, strategy)
        rows = K.inclusive_jets(hist, dij, jets, p, ptmin)
        offsets = np.array([0, n], dtype=np.int64)
        jpx, jpy, jpz, je, _, pjet, status = K.cluster_batch(
            px, py, pz, e, offsets, R, p, ptmin, strategy
        )
        assert status[0] == K.STATUS_OK
        np.testing.assert_array_equal(np.stack([jpx, jpy, jpz, je], 1), jets[rows])
        np.testing.assert_array_equal(pjet, K.particle_jet_indices(hist, rows))
        # the truncated history itself: the rows written are the full history's
        h2, d2, j2 = np.empty((2 * n, 4), np.int64), np.empty((2 * n, 2)), np.empty((2 * n, 4))
        nh, m = K._cluster_into(px, py, pz, e, R, p, strategy, h2, d2, j2, ptmin)
        np.testing.assert_array_equal(h2[:nh, [0, 1, 3]], hist[:nh, [0, 1, 3]])
        # children: the same where the child step was written, none where it was not
        child = hist[:nh, K.HIST_CHILD]
        np.testing.assert_array_equal(h2[:nh, K.HIST_CHILD], np.where(child < nh, child, K.INVALID))
        np.testing.assert_array_equal(d2[:nh], dij[:nh])
        np.testing.assert_array_equal(j2[:m], jets[:m])
        written += nh - n
        total += n
        stopped_with_jets |= len(rows) > 0 and nh < 2 * n
    if p == K.ANTIKT:  # hard jets first, then the soft particles among themselves
        assert written < 0.5 * total
    if p != K.KT:  # (kt ends with its hardest jet: it can only stop when there is none)
        assert stopped_with_jets


@pytest.mark.parametrize("p", [K.ANTIKT, K.KT, K.CAMBRIDGE], ids=ALG_IDS.get)
def test_inclusive_jets_above_a_high_ptmin_match_fastjet(sample_events, p):
    for R in (0.4, 0.8):
        for ptmin in (100.0, 300.0):
            # (the helper asserts jets, constituents and kinematics equal FastJet's)
            assert compare_with_fastjet_awkward(sample_events, p, R, ptmin) > 0


def test_no_early_stop_where_ptmin_squared_underflows():
    """The cut is pt^2 >= ptmin^2: with ptmin^2 = 0 in floating point a jet below
    ptmin still passes, so the early stop must not have dropped it (as FastJet)."""
    px, py = np.array([0.999e-161, -5.0]), np.array([0.0, 0.0])
    pz, e = np.array([1.0, 0.0]), np.array([1.0, 5.0])
    offsets = np.array([0, 2], dtype=np.int64)
    for p in (K.ANTIKT, K.KT, K.CAMBRIDGE):
        jpx, *_ = K.cluster_batch(px, py, pz, e, offsets, 0.4, p, 1e-161)
        n_fj = len(fastjet_sequence(px, py, pz, e, p, 0.4).inclusive_jets(1e-161))
        assert len(jpx) == n_fj
        if p == K.ANTIKT:
            assert n_fj == 2  # (the 1e-161 GeV particle passes FastJet's cut)


@pytest.mark.parametrize("p", [K.ANTIKT, K.KT, K.CAMBRIDGE], ids=ALG_IDS.get)
def test_a_jet_at_exactly_ptmin_is_kept(p):
    """The early stop must not lose a jet whose pt equals ptmin: here the scalar sum
    of the last two pseudojets is exactly the jet's pt (collinear particles)."""
    px = np.array([30.0, 20.0, 0.0, -1.0])
    py = np.array([0.0, 0.0, 2.0, 0.0])
    pz = np.array([5.0, 10.0 / 3.0, 0.0, 1.0])
    e = np.sqrt(px**2 + py**2 + pz**2)
    offsets = np.array([0, 4], dtype=np.int64)
    cs = fastjet_sequence(px, py, pz, e, p, 0.4)
    for ptmin in (50.0, np.nextafter(50.0, 100.0)):
        jpx, *_, pjet, _ = K.cluster_batch(px, py, pz, e, offsets, 0.4, p, ptmin)
        fj = cs.inclusive_jets(ptmin)
        assert len(jpx) == len(fj) == (1 if ptmin == 50.0 else 0)
        if len(fj):
            assert jpx[0] == fj[0].px() == 50.0
            assert pjet.tolist() == [0, 0, -1, -1]


# --------------------------------------------------------------------------
# edge cases
# --------------------------------------------------------------------------


def test_zero_particles():
    empty = np.zeros(0)
    hist, dij, jets = K.cluster_sequence(empty, empty, empty, empty, 0.4, K.ANTIKT)
    assert hist.shape == (0, 4)
    assert dij.shape == (0, 2)
    assert jets.shape == (0, 4)
    assert len(K.inclusive_jets(hist, dij, jets, K.ANTIKT, 0.0)) == 0
    assert len(K.exclusive_jets(hist, 2)) == 0
    assert len(fastjet_sequence(empty, empty, empty, empty, K.ANTIKT, 0.4).inclusive_jets()) == 0
    # an empty event among others
    px = np.array([10.0, 9.0, -5.0, 3.0, 1.0])
    py = np.array([0.0, 1.0, 0.0, 3.0, -1.0])
    pz = np.array([1.0, 0.5, 0.0, 2.0, 7.0])
    e = np.sqrt(px**2 + py**2 + pz**2) + 0.1
    offsets = np.array([0, 3, 3, 5, 5], dtype=np.int64)
    *_, joff, pjet, status = K.cluster_batch(px, py, pz, e, offsets, 0.4, K.ANTIKT)
    assert list(np.diff(joff)) == [2, 0, 2, 0]
    assert list(pjet) == [0, 0, 1, 0, 1]
    assert list(status) == [0, 0, 0, 0]
    *_, npj, _status = K.cluster_history_batch(px, py, pz, e, offsets, 0.4, K.ANTIKT)
    assert list(npj) == [4, 0, 2, 0]
    assert K.first_nonfinite(px, py, pz, e, offsets).tolist() == [-1, -1, -1, -1]


@pytest.mark.parametrize("p", [K.ANTIKT, K.KT, K.CAMBRIDGE], ids=ALG_IDS.get)
def test_one_particle(p):
    px, py, pz, e = (np.array([v]) for v in (3.0, 4.0, 12.0, 13.5))
    hist, dij, jets = K.cluster_sequence(px, py, pz, e, 0.4, p)
    assert hist.tolist() == [[K.INEXISTENT_PARENT, K.INEXISTENT_PARENT, 1, 0], [0, K.BEAM, -3, -3]]
    np.testing.assert_array_equal(jets, [[3.0, 4.0, 12.0, 13.5]])
    assert K.inclusive_jets(hist, dij, jets, p, 4.9).tolist() == [0]
    assert K.inclusive_jets(hist, dij, jets, p, 5.1).tolist() == []
    assert_same_history(px, py, pz, e, p, 0.4)
    scale = {K.ANTIKT: 1 / 25.0, K.KT: 25.0, K.CAMBRIDGE: 1.0}[p]
    assert math.isclose(dij[1, 0], scale, rel_tol=1e-15)


@pytest.mark.parametrize(("p", "R"), [(K.ANTIKT, 0.4), (K.KT, 0.6), (K.CAMBRIDGE, 0.4)])
def test_ten_thousand_particles(p, R):
    rng = np.random.default_rng(42)
    n = 10_000
    y = rng.uniform(-4.5, 4.5, n)
    f = rng.uniform(0, 2 * np.pi, n)
    ptv = rng.exponential(2.0, n) + 0.1
    m = rng.uniform(0, 0.5, n)
    mt = np.sqrt(ptv**2 + m**2)
    px, py, pz, e = ptv * np.cos(f), ptv * np.sin(f), mt * np.sinh(y), mt * np.cosh(y)
    assert K.choose_strategy(n, R, p) == K.N2_LAZY9
    assert_same_history(px, py, pz, e, p, R)
    offsets = np.array([0, n], dtype=np.int64)
    jpx, *_, status = K.cluster_batch(px, py, pz, e, offsets, R, p, 0.0)
    assert status[0] == 0
    assert len(jpx) > 10


@pytest.mark.parametrize("p", [K.ANTIKT, K.KT, K.CAMBRIDGE], ids=ALG_IDS.get)
def test_energy_below_momentum_clusters_as_fastjet(sample_events, p):
    """E < |p| (space-like momenta, as float32 rounding or smearing produce): FastJet
    takes m^2 = 0 for the rapidity; the history must still be FastJet's."""
    px, py, pz, e = sample_events.event(2)
    e = e.copy()
    e[::3] = 0.98 * np.sqrt(px[::3] ** 2 + py[::3] ** 2 + pz[::3] ** 2)
    assert np.any(e**2 < px**2 + py**2 + pz**2)
    for R in (0.4, 0.8):
        assert_same_history(px, py, pz, e, p, R)


def _lattice(n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Particles on a grid in (y, phi) with pt from a small set: many exactly equal
    distances and d_ij, and many particles on tile boundaries."""
    rng = np.random.default_rng(seed)
    y = rng.integers(-8, 8, n) * 0.25
    f = rng.integers(0, 24, n) * (2 * np.pi / 24)
    ptv = rng.choice([1.0, 2.0, 4.0], n)
    return ptv * np.cos(f), ptv * np.sin(f), ptv * np.sinh(y), ptv * np.cosh(y)


@pytest.mark.parametrize(
    "strategy", [K.STRATEGY_AUTO, *STRATEGIES], ids=["auto", *STRATEGIES.values()]
)
@pytest.mark.parametrize("p", [K.ANTIKT, K.KT, K.CAMBRIDGE], ids=ALG_IDS.get)
def test_exact_ties_resolve_as_fastjet(sample_events, p, strategy):
    """Duplicated particles (exactly zero distances, equal d_ij) and lattices
    (equal distances): the same history as FastJet, step by step."""
    px, py, pz, e = sample_events.event(5)
    cases = [
        [np.concatenate([x, x]) for x in (px, py, pz, e)],  # every particle twice
        [np.concatenate([x, x[::3], x[:40]]) for x in (px, py, pz, e)],  # some 2 or 3 times
        [np.concatenate([x[:20]] * 3) for x in (px, py, pz, e)],  # small event, 3 copies
        _lattice(60, 1),
        _lattice(400, 2),
    ]
    for case in cases:
        for R in (0.4, 0.8):
            if strategy == K.N2_PLAIN and len(case[0]) > 500:
                continue
            assert_same_history(*case, p, R, strategy)


def test_massless_particles_along_the_beam(sample_events):
    """E == |pz| with pt = 0: rapidity +-(1e5 + |pz|) as FastJet gives it."""
    px, py, pz, e = (x[:200].copy() for x in sample_events.event(2))
    extra = np.array([[0.0, 0.0, 50.0, 50.0], [0.0, 0.0, -80.0, 80.0], [0.0, 0.0, 50.0, 50.0]])
    px, py, pz, e = (np.concatenate([x, extra[:, k]]) for k, x in enumerate((px, py, pz, e)))
    for p in ALGORITHMS:
        for R in (0.4, 1.0):
            assert_same_history(px, py, pz, e, p, R)


def test_nonfinite_momenta_are_reported_not_clustered():
    rng = np.random.default_rng(3)
    n = 40
    px, py, pz = rng.normal(size=(3, 3 * n)) * 10
    e = np.sqrt(px**2 + py**2 + pz**2) + 1.0
    offsets = np.array([0, n, 2 * n, 3 * n], dtype=np.int64)
    px[n + 7] = np.nan
    e[2 * n + 3] = np.inf
    assert K.first_nonfinite(px, py, pz, e, offsets).tolist() == [-1, 7, 3]
    jpx, _, _, _, joff, pjet, status = K.cluster_batch(px, py, pz, e, offsets, 0.4, K.ANTIKT)
    assert status.tolist() == [K.STATUS_OK, K.STATUS_NONFINITE, K.STATUS_NONFINITE]
    assert np.diff(joff).tolist()[1:] == [0, 0]
    assert np.all(pjet[n:] == -1)
    good = K.cluster_batch(px[:n], py[:n], pz[:n], e[:n], offsets[:2], 0.4, K.ANTIKT)
    np.testing.assert_array_equal(jpx, good[0])
    *_, npj, status_h = K.cluster_history_batch(px, py, pz, e, offsets, 0.4, K.ANTIKT)
    assert status_h.tolist() == [0, 1, 1]
    assert npj.tolist()[1:] == [0, 0]
    hist, _dij, jets = K.cluster_sequence(
        px[n : 2 * n], py[n : 2 * n], pz[n : 2 * n], e[n : 2 * n], 0.4, K.ANTIKT
    )
    assert hist.shape == (0, 4)
    assert jets.shape == (0, 4)
    # finite but degenerate momenta (infinite rapidity, zero four-vector, huge values)
    # are clustered without exceptions or hangs, whatever the strategy
    weird = np.array(
        [
            [3.0, 4.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 3.0, 2.0],
            [1e200, 1e200, 0.0, 1e201],  # twice: kt^2 overflows, d_ij = 0 * inf
            [1e200, 1e200, 0.0, 1e201],
        ]
    )
    cols = [np.concatenate([x[:n], weird[:, k]]) for k, x in enumerate((px, py, pz, e))]
    for strategy in [K.STRATEGY_AUTO, *STRATEGIES]:
        for p in ALGORITHMS:
            hist, dij, jets = K.cluster_sequence(*cols, 0.4, p, strategy)
            assert hist.shape == (2 * (n + len(weird)), 4)
            assert len(K.inclusive_jets(hist, dij, jets, p, 0.0)) > 0


def test_constituents_and_particle_jet_indices(sample_events):
    px, py, pz, e = sample_events.event(1)
    hist, dij, jets = K.cluster_sequence(px, py, pz, e, 0.4, K.ANTIKT)
    rows = K.inclusive_jets(hist, dij, jets, K.ANTIKT, 0.0)
    owner = K.particle_jet_indices(hist, rows)
    assert np.all(owner >= 0)  # every particle ends in an inclusive jet
    for k, r in enumerate(rows):
        members = K.constituents(hist, r)
        assert sorted(members) == list(np.flatnonzero(owner == k))
        np.testing.assert_allclose(
            jets[r], [px[members].sum(), py[members].sum(), pz[members].sum(), e[members].sum()],
            rtol=1e-12, atol=1e-9,
        )  # fmt: skip
    # a particle is its own constituent; the history is consistent
    assert K.constituents(hist, 3).tolist() == [3]
    n = len(px)
    for k in range(n, 2 * n):
        p1, p2, _child, jet = hist[k]
        assert hist[p1, K.HIST_CHILD] == k
        assert (p2 == K.BEAM) == (jet == K.INVALID)
        if p2 != K.BEAM:
            assert hist[p2, K.HIST_CHILD] == k
            assert p1 < p2
    assert np.all(np.diff(dij[n:, 1]) >= 0)
