"""hepml.reco on awkward arrays: against FastJet, `vector` and plain awkward."""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np
import pytest
import vector

from hepml.errors import InputError
from hepml.io import read_events
from hepml.reco import (
    FEATURE_NAMES,
    SmearConfig,
    cluster,
    constituent_particles,
    count,
    hadronic_tops,
    ht,
    jet_particle_features,
    knn_edges,
    leading,
    pair_mass,
    smear,
    soft_drop,
    substructure,
    top_matched,
)


@pytest.fixture(scope="module")
def ttbar(samples):
    return read_events(samples["ttbar"])


@pytest.mark.parametrize(
    ("algorithm", "fj_algorithm"),
    [
        ("antikt", fastjet.antikt_algorithm),
        ("kt", fastjet.kt_algorithm),
        ("cambridge", fastjet.cambridge_algorithm),
    ],
)
def test_cluster_matches_fastjet_awkward_interface(ttbar, algorithm, fj_algorithm):
    particles = ttbar.particles[:40]
    jets = cluster(particles, algorithm, 0.8, pt_min=20.0)
    p4 = ak.zip({k: ak.values_astype(particles[k], np.float64) for k in ("px", "py", "pz", "E")})
    cs = fastjet.ClusterSequence(p4, fastjet.JetDefinition(fj_algorithm, 0.8))
    raw = cs.inclusive_jets(20.0)
    ref = raw[ak.argsort(raw.px**2 + raw.py**2, axis=1, ascending=False, stable=True)]
    assert ak.to_list(ak.num(jets)) == ak.to_list(ak.num(ref))
    rv = vector.zip({k: ref[k] for k in ("px", "py", "pz", "E")})
    for ours, theirs in ((jets.pt, rv.pt), (jets.eta, rv.eta), (jets.mass, rv.mass)):
        np.testing.assert_allclose(
            ak.to_numpy(ak.flatten(ours)), ak.to_numpy(ak.flatten(theirs)), rtol=1e-9, atol=1e-9
        )
    dphi = np.angle(
        np.exp(1j * (ak.to_numpy(ak.flatten(jets.phi)) - ak.to_numpy(ak.flatten(rv.phi))))
    )
    np.testing.assert_allclose(dphi, 0.0, atol=1e-9)
    # constituents: the same sets as FastJet's
    idx = cs.constituent_index(20.0)
    for e in range(5):
        order = np.argsort(
            -(ak.to_numpy(raw.px[e]) ** 2 + ak.to_numpy(raw.py[e]) ** 2), kind="stable"
        )
        theirs = [sorted(ak.to_list(idx[e][i])) for i in order]
        assert [sorted(c) for c in ak.to_list(jets.constituents[e])] == theirs


def test_nonfinite_momenta_raise_or_are_counted(ttbar):
    particles = ak.to_packed(ttbar.particles[:3])
    px = ak.to_numpy(ak.flatten(particles.px)).astype(np.float64)
    px[ak.num(particles)[0] + 4] = np.nan  # event 1, particle 4
    bad = ak.zip(
        {
            "px": ak.unflatten(px, ak.num(particles)),
            "py": particles.py,
            "pz": particles.pz,
            "E": particles.E,
        },
        with_name="Momentum4D",
    )
    with pytest.raises(InputError, match=r"event 1 \(particle 4\) has a NaN"):
        cluster(bad)
    from hepml.reco import ClusterReport

    report = ClusterReport()
    jets = cluster(bad, on_nonfinite="drop", report=report)
    assert report.dropped == 1
    assert report.dropped_events == [1]
    assert ak.num(jets)[1] == 0
    assert ak.num(jets)[0] > 0
    cluster(bad, on_nonfinite="drop", report=report)  # the next chunk: events 3 to 5
    assert (report.events, report.dropped, report.dropped_events) == (6, 2, [1, 4])


def test_pt_min_is_checked_and_a_threshold_above_every_jet_gives_none(ttbar):
    particles = ttbar.particles[:5]
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="pt_min must be a finite number >= 0"):
            cluster(particles, pt_min=bad)
    # (the clustering stops at once: nothing is left that could make such a jet)
    jets = cluster(particles, pt_min=1e9)
    assert ak.sum(ak.num(jets)) == 0
    assert len(jets) == 5
    # exclusive jets: n_jets a whole number >= 1 (0 gave every particle as a jet), a
    # finite dcut, no pt_min (it was ignored); radii FastJet accepts
    for kwargs, message in (({"n_jets": 0}, "n_jets must be"), ({"n_jets": -1}, "n_jets must"),
                            ({"n_jets": 2.7}, "n_jets must"), ({"n_jets": True}, "n_jets must"),
                            ({"dcut": float("nan")}, "dcut must"), ({"dcut": -1.0}, "dcut must"),
                            ({"n_jets": 2, "pt_min": 20.0}, "pt_min applies to inclusive"),
                            ({"radius": float("nan")}, "jet radius must"),
                            ({"radius": 5000.0}, "jet radius must")):  # fmt: skip
        with pytest.raises(InputError, match=message):
            cluster(particles, **kwargs)
    assert ak.to_list(ak.num(cluster(particles, n_jets=np.int64(2)))) == [2] * 5


def test_features_knn_and_substructure_shapes(ttbar):
    particles = ttbar.particles[:20]
    jets = cluster(particles, pt_min=150.0)
    feats = jet_particle_features(particles, jets, max_particles=30)
    assert ak.to_list(ak.num(feats)) == ak.to_list(ak.num(jets))
    per_jet = ak.flatten(feats, axis=1)
    n = ak.to_numpy(ak.num(per_jet))
    assert np.all(n == np.minimum(ak.to_numpy(ak.flatten(jets.n_constituents)), 30))
    assert set(FEATURE_NAMES) <= set(per_jet.fields)
    # hardest first, and ΔR < R for anti-kt constituents
    assert ak.all(per_jet.log_pt[:, :-1] >= per_jet.log_pt[:, 1:])
    # anti-kt uses rapidity; the features use pseudorapidity: nearly all within R
    assert ak.mean(per_jet.delta_r < 0.8) > 0.97
    onehot = sum(per_jet[f] for f in FEATURE_NAMES[8:])
    assert ak.all(onehot == 1)
    edges = knn_edges(per_jet, k=7)
    assert ak.to_list(ak.num(edges)) == ak.to_list(n * np.minimum(7, np.maximum(n - 1, 0)))
    assert ak.all(edges.src != edges.dst)
    members = ak.flatten(constituent_particles(particles, jets), axis=1)
    s = substructure(members)
    np.testing.assert_allclose(
        ak.to_numpy(s.mass), ak.to_numpy(ak.flatten(jets.mass)), rtol=1e-9, atol=1e-6
    )
    tau = ak.to_numpy(s.tau)
    assert np.all(np.isfinite(tau))
    assert np.all(tau >= 0)
    assert np.median(ak.to_numpy(s.tau21)) < 1.0
    g = soft_drop(members)
    assert np.all(ak.to_numpy(g.mass) <= ak.to_numpy(s.mass) + 1e-9)


def test_top_labels_select_top_like_jets(ttbar):
    jets = cluster(ttbar.particles, pt_min=200.0)
    tops = hadronic_tops(ttbar.partons)
    matched = top_matched(jets, tops)
    masses = ak.to_numpy(ak.flatten(jets.mass[matched]))
    assert len(masses) >= 5
    assert 140 < np.median(masses) < 210  # a fully contained hadronic top
    # the three quarks add up to the top (t -> b q q'), up to the W's recoil in the shower
    t = ak.flatten(tops)
    ratio = ak.to_numpy((t.q1 + t.q2 + t.q3).mass / t.top.mass)
    assert np.median(np.abs(ratio - 1)) < 0.02


def test_partial_top_match_counts_two_of_three_quarks(ttbar):
    """match="partial": a jet holding two of a top's three quarks (checked against a
    plain loop over jets and tops); every fully matched jet is one of them."""
    jets = cluster(ttbar.particles, pt_min=200.0)
    tops = hadronic_tops(ttbar.partons)
    full = top_matched(jets, tops)
    partial = top_matched(jets, tops, match="partial")

    def dr(eta1, phi1, eta2, phi2):
        dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
        return np.hypot(eta1 - eta2, dphi)

    quarks = {q: (ak.to_list(tops[q].eta), ak.to_list(tops[q].phi)) for q in ("q1", "q2", "q3")}
    jet_eta, jet_phi = ak.to_list(jets.eta), ak.to_list(jets.phi)
    for e, got in enumerate(ak.to_list(partial)):
        for j, flag in enumerate(got):
            want = False
            for t in range(len(quarks["q1"][0][e])):
                inside = sum(dr(jet_eta[e][j], jet_phi[e][j], eta[e][t], phi[e][t]) < 0.8
                             for eta, phi in quarks.values())  # fmt: skip
                want |= inside >= 2
            assert flag == want, (e, j)
    assert ak.all(~full | partial)  # (full implies partial)
    assert ak.sum(partial) > 1.5 * ak.sum(full)  # partly merged tops are most of them
    with pytest.raises(ValueError, match="top match 'most'"):
        top_matched(jets, tops, match="most")


def test_smear_is_deterministic_and_drops_invisible(ttbar):
    particles = ttbar.particles[:10]
    a, b = smear(particles, seed=3), smear(particles, seed=3)
    assert ak.array_equal(a, b)
    assert not ak.array_equal(a, smear(particles, seed=4))
    assert ak.all(ak.num(a) < ak.num(particles))
    assert ak.all(abs(a.eta) < 5.0 + 0.087 / 2)  # calorimeter acceptance, cell-centred
    tight = smear(particles, SmearConfig(track_eff=0.5), seed=3)
    n_charged = lambda x: ak.sum(x.charge != 0)  # noqa: E731
    assert n_charged(tight) < 0.7 * n_charged(a)
    # charged particles without a track are calorimeter clusters, neutral: what the
    # tracker loses the calorimeters still see (forward jets kept their neutrals only)
    assert ak.sum(tight.E) == pytest.approx(ak.sum(a.E), rel=0.05)
    assert set(ak.to_list(ak.ravel(abs(tight.pid[tight.charge != 0])))) <= {11, 13, 211, 321, 2212}
    truth = ak.flatten(particles)
    forward = ak.flatten(a)[abs(ak.flatten(a).eta) > 2.6]
    assert len(forward) > 0
    assert ak.all(forward.charge == 0)
    assert not np.isin(abs(ak.to_numpy(forward.pid)), [11, 13, 211, 321, 2212]).any()
    fwd_truth = truth[(abs(truth.eta) > 2.6) & (abs(truth.eta) < 4.9) & (abs(truth.pid) != 12)
                      & (abs(truth.pid) != 14) & (abs(truth.pid) != 16) & (abs(truth.pid) != 13)]  # fmt: skip
    assert ak.sum(forward.E) == pytest.approx(ak.sum(fwd_truth.E), rel=0.1)


def test_primitives_against_plain_awkward(shared_data):
    ev = read_events(
        shared_data / "nanoAOD_2015_CMS_Open_Data_ttbar.root", collections=["jets", "muons"]
    )
    j = ev.jets
    sel = (j.pt > 30) & (abs(j.eta) < 2.4)
    np.testing.assert_allclose(ht(j, 30, 2.4), ak.to_numpy(ak.sum(j.pt[sel], axis=1)), rtol=1e-6)
    assert list(count(j, 30, 2.4)) == ak.to_list(ak.sum(sel, axis=1))
    lead = leading(j, "eta", 0, fill=-9.0)
    order = ak.argsort(j.pt, axis=1, ascending=False, stable=True)
    np.testing.assert_allclose(
        lead, ak.to_numpy(ak.fill_none(ak.firsts(j.eta[order]), -9.0)), rtol=1e-6
    )
    mu = ev.muons[ak.argsort(ev.muons.pt, axis=1, ascending=False, stable=True)]
    two = ak.num(mu) >= 2
    ref = (mu[two][:, 0] + mu[two][:, 1]).mass
    np.testing.assert_allclose(pair_mass(ev.muons)[ak.to_numpy(two)], ak.to_numpy(ref), rtol=1e-5)


def test_smear_with_empty_events_at_the_end(ttbar):
    """Empty events anywhere (last ones included) keep their place: each event is smeared
    as it would be alone (seeded per entry)."""
    particles = ttbar.particles[:3]
    empty = particles[:0]
    mixed = ak.concatenate([particles[:1], empty[:0], particles[1:3], ak.Array([[], []])])
    mixed = ak.with_name(mixed, "Momentum4D")
    got = smear(mixed, seed=5)
    assert len(got) == 5
    assert ak.to_list(ak.num(got)[3:]) == [0, 0]
    alone = smear(particles, seed=5)
    assert ak.array_equal(got[:3].px, alone.px)


def test_negative_rank_and_nested_inputs_are_refused(ttbar):
    from hepml.errors import ConfigError
    from hepml.kernels.trigger import leading_kernel

    jets = cluster(ttbar.particles[:5], pt_min=100.0)
    with pytest.raises(ConfigError, match=r"rank=-1\): rank counts from 0"):
        leading(jets, "pt", rank=-1)
    # the kernel itself never reads outside an event
    off = np.array([0, 2, 2], dtype=np.int64)
    got = leading_kernel(np.array([1.0, 2.0]), np.array([5.0, 9.0]), off, -1, -7.0)
    assert got.tolist() == [-7.0, -7.0]
    # events x jets x particles (a forgotten ak.flatten) would mix up jets
    nested = constituent_particles(ttbar.particles[:5], jets)
    for call in (substructure, soft_drop):
        with pytest.raises(InputError, match=r"2 levels of lists.*ak\.flatten"):
            call(nested)


def test_missing_values_are_refused_and_nullable_columns_without_any_pass(ttbar):
    """A None in the particles would leave a hole in the kernels' flat buffers (every
    later particle shifted, reads past the end): an error naming the first event. A
    nullable column without a None (as parquet gives) is read as usual."""
    from hepml.errors import ConfigError

    particles = ttbar.particles[:6]
    want = cluster(particles, pt_min=50.0)
    padded = ak.pad_none(particles, int(ak.max(ak.num(particles))) + 1, axis=1)
    one = ak.to_list(particles.px)
    one[2][4] = None
    holed = ak.with_field(particles, ak.Array(one), "px")
    for bad in (padded, holed):
        for call in (cluster, smear, lambda p: jet_particle_features(p, want)):
            with pytest.raises(InputError, match=r"'px' has missing values \(None\) in"):
                call(bad)
    with pytest.raises(InputError, match=r"in 1 event\(s\), the first event 2; .*ak\.drop_none"):
        cluster(holed)
    nullable = ak.with_field(particles, ak.mask(particles.px, particles.px == particles.px), "px")
    assert "?float" in str(nullable.px.type)
    got = cluster(nullable, pt_min=50.0)
    assert ak.array_equal(got.pt, want.pt)
    with pytest.raises(ConfigError, match="seed must be an integer >= 0"):
        smear(particles, seed=-1)
    with pytest.raises(ConfigError, match="6 events need 6 entries"):
        smear(particles, entries=np.arange(5))


def test_substructure_parameters_are_checked(ttbar):
    """A radius, z_cut or beta the definitions do not allow is one line, not τ = 0 or a
    groomed mass of nothing; a one-particle jet has τ21 = τ32 = 0."""
    from hepml.errors import ConfigError

    jets = cluster(ttbar.particles[:3], pt_min=100.0)
    members = ak.flatten(constituent_particles(ttbar.particles[:3], jets), axis=1)
    for kwargs, what in (({"radius": 0.0}, "radius"), ({"radius": -1}, "radius"),
                         ({"beta": 0.0}, "beta"), ({"radius": float("nan")}, "radius")):  # fmt: skip
        with pytest.raises(ConfigError, match=f"{what} must be"):
            substructure(members, **kwargs)
    for kwargs, what in (({"z_cut": -0.1}, "z_cut"), ({"z_cut": 1.0}, "z_cut"),
                         ({"beta": -1.0}, "beta"), ({"radius": 0}, "radius")):  # fmt: skip
        with pytest.raises(ConfigError, match=f"{what} must be"):
            soft_drop(members, **kwargs)
    assert len(soft_drop(members, z_cut=0.0, beta=0.0)) == len(members)
    one = substructure(members[:, :1])
    assert ak.all(one.tau21 == 0)
    assert ak.all(one.tau32 == 0)
