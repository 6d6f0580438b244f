"""Substructure kernels against FastJet and FastJet contrib on real Pythia jets.

References: the ``fastjet`` package's ``exclusive_jets_softdrop_grooming`` (contrib
``SoftDrop``) and ``njettiness`` (contrib ``Nsubjettiness``, ``KT_Axes``) on a
cluster sequence holding one jet's constituents, and a plain-Python τN that
uses FastJet's own exclusive-kt subjets as axes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hepml.kernels.substructure import (
    MAX_ALLOWABLE_R,
    jet_mass_batch,
    jet_p4_batch,
    n_constituents_batch,
    nsubjettiness,
    nsubjettiness_batch,
    soft_drop,
    soft_drop_batch,
    soft_drop_details_batch,
)

ak = pytest.importorskip("awkward")
fastjet = pytest.importorskip("fastjet")
pythia8mc = pytest.importorskip("pythia8mc")

R0 = 0.8
RTOL = 1e-9


def _events(process: str, n_events: int) -> ak.Array:
    """Final-state particles (no neutrinos) of ``n_events`` Pythia events, pT-hat > 400 GeV."""
    from hepml.io.generate import GenerateConfig, final_state

    p = final_state(GenerateConfig(process=process, events=n_events, seed=2, pthat_min=400.0))
    return p[["px", "py", "pz", "E"]]


def _flat(a) -> np.ndarray:
    return np.ascontiguousarray(ak.to_numpy(ak.flatten(a)), dtype=np.float64)


@pytest.fixture(scope="module")
def sample() -> dict:
    """Anti-kt R = 0.8 jets with pT > 300 GeV from ttbar and QCD events, their
    constituents as flat buffers, and a FastJet cluster sequence (kt, R = 1000)
    holding each jet's constituents as one "event" (for the contrib references)."""
    events = ak.concatenate(
        [
            _events("ttbar", 60),
            _events("qcd", 60),
        ]
    )
    cs = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.8))
    jets = ak.flatten(cs.inclusive_jets(min_pt=300.0))
    const = ak.flatten(cs.constituents(min_pt=300.0), axis=1)
    const = ak.zip({"px": const.px, "py": const.py, "pz": const.pz, "E": const.E})
    counts = ak.to_numpy(ak.num(const)).astype(np.int64)
    per_jet_cs = fastjet.ClusterSequence(
        const, fastjet.JetDefinition(fastjet.kt_algorithm, MAX_ALLOWABLE_R)
    )
    return {
        "px": _flat(const.px),
        "py": _flat(const.py),
        "pz": _flat(const.pz),
        "e": _flat(const.E),
        "offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "const": const,
        "jets": jets,
        "per_jet_cs": per_jet_cs,
    }


def _assert_close_abs(ours, ref, tol) -> None:
    """``|ours - ref| <= tol`` elementwise (``tol`` may be an array: a per-jet scale)."""
    diff = np.abs(np.asarray(ours) - np.asarray(ref))
    bad = ~(diff <= tol)
    assert not bad.any(), f"{bad.sum()} entries differ; worst {diff.max():.3g}"


def _buffers(s: dict) -> tuple:
    return s["px"], s["py"], s["pz"], s["e"], s["offsets"]


def test_sample_is_realistic(sample):
    n_jets = len(sample["offsets"]) - 1
    counts = np.diff(sample["offsets"])
    assert n_jets > 100
    assert counts.min() > 5
    assert counts.max() > 75  # the largest jets take the tiled C/A and kt paths


# --------------------------------------------------------------------------
# soft drop
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("beta", "z_cut"), [(0.0, 0.1), (1.0, 0.2), (2.0, 0.05)])
def test_soft_drop_matches_fastjet(sample, beta, z_cut):
    ref = sample["per_jet_cs"].exclusive_jets_softdrop_grooming(
        njets=1, beta=beta, symmetry_cut=z_cut, symmetry_measure="scalar_z", R0=R0
    )
    groomed, msd, n_sd, zg, rg, keep = soft_drop_details_batch(*_buffers(sample), z_cut, beta, R0)
    ref_m = ak.to_numpy(ref.msoftdrop)
    np.testing.assert_allclose(msd, ref_m, rtol=RTOL, atol=0.0)
    e_scale = ak.to_numpy(ref.Esoftdrop)
    np.testing.assert_allclose(groomed[:, 3], e_scale, rtol=RTOL, atol=0.0)
    _assert_close_abs(groomed[:, 2], ak.to_numpy(ref.pzsoftdrop), RTOL * e_scale)
    pt = np.hypot(groomed[:, 0], groomed[:, 1])
    ref_pt, ref_phi = ak.to_numpy(ref.ptsoftdrop), ak.to_numpy(ref.phisoftdrop)
    np.testing.assert_allclose(pt, ref_pt, rtol=RTOL, atol=0.0)
    _assert_close_abs(groomed[:, 0], ref_pt * np.cos(ref_phi), RTOL * e_scale)
    _assert_close_abs(groomed[:, 1], ref_pt * np.sin(ref_phi), RTOL * e_scale)
    np.testing.assert_array_equal(n_sd, ak.to_numpy(ak.num(ref.constituents)))
    np.testing.assert_allclose(zg, ak.to_numpy(ref.symmetrysoftdrop), rtol=RTOL, atol=0.0)
    np.testing.assert_allclose(rg, ak.to_numpy(ref.deltaRsoftdrop), rtol=RTOL, atol=0.0)
    # the kept constituents are exactly FastJet's groomed constituents
    kept_e = ak.unflatten(sample["e"][keep], n_sd)
    np.testing.assert_array_equal(
        ak.to_numpy(ak.flatten(ak.sort(kept_e))),
        ak.to_numpy(ak.flatten(ak.sort(ref.constituents.E))),
    )
    # grooming removed something somewhere, and never added
    counts = np.diff(sample["offsets"])
    assert np.all(n_sd <= counts)
    assert np.any(n_sd < counts)
    # the plain batch function gives the same numbers
    g2, m2, n2 = soft_drop_batch(*_buffers(sample), z_cut, beta, R0)
    np.testing.assert_array_equal(g2, groomed)
    np.testing.assert_array_equal(m2, msd)
    np.testing.assert_array_equal(n2, n_sd)


def test_soft_drop_single_jet_equals_batch(sample):
    px, py, pz, e, off = _buffers(sample)
    groomed, msd, n_sd = soft_drop_batch(px, py, pz, e, off, 0.1, 0.0, R0)
    for j in (0, len(off) // 2, len(off) - 2):
        lo, hi = off[j], off[j + 1]
        p4, m, n, zg, rg, keep = soft_drop(px[lo:hi], py[lo:hi], pz[lo:hi], e[lo:hi], 0.1, 0.0, R0)
        np.testing.assert_array_equal(p4, groomed[j])
        assert m == msd[j]
        assert n == n_sd[j] == keep.sum()
        assert 0.1 < zg <= 0.5
        assert rg > 0.0


def test_soft_drop_defaults_are_cms_ak8(sample):
    g_default, m_default, n_default = soft_drop_batch(*_buffers(sample))
    g, m, n = soft_drop_batch(*_buffers(sample), 0.1, 0.0, 0.8)
    np.testing.assert_array_equal(g_default, g)
    np.testing.assert_array_equal(m_default, m)
    np.testing.assert_array_equal(n_default, n)


# --------------------------------------------------------------------------
# N-subjettiness
# --------------------------------------------------------------------------


def _tau_python(const, beta: float, normalized: bool) -> np.ndarray:
    """τ1..τ3 summed in Python with FastJet's exclusive kt subjets (R = 1000) as axes
    and FastJet's (rapidity, φ) distance."""
    jet_def = fastjet.JetDefinition(fastjet.kt_algorithm, MAX_ALLOWABLE_R)
    out = np.zeros((len(const), 3))
    for j, jet in enumerate(ak.to_list(const)):
        parts = [fastjet.PseudoJet(c["px"], c["py"], c["pz"], c["E"]) for c in jet]
        cs = fastjet.ClusterSequence(parts, jet_def)
        pt_sum = sum(p.pt() for p in parts)
        for n_axes in (1, 2, 3):
            if len(parts) <= n_axes:
                continue
            axes = cs.exclusive_jets(n_axes)
            tau = sum(
                p.pt() * min(p.squared_distance(a) for a in axes) ** (beta / 2.0) for p in parts
            )
            out[j, n_axes - 1] = tau / (pt_sum * R0**beta) if normalized else tau
    return out


@pytest.mark.parametrize("normalized", [False, True])
def test_nsubjettiness_matches_python_with_fastjet_axes(sample, normalized):
    ours = nsubjettiness_batch(*_buffers(sample), R0, 1.0, normalized)
    ref = _tau_python(sample["const"], 1.0, normalized)
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=0.0)
    assert np.all(ours > 0.0)


@pytest.mark.parametrize("beta", [1.0, 2.0])
@pytest.mark.parametrize(
    ("measure", "normalized"), [("UnnormalizedMeasure", False), ("NormalizedMeasure", True)]
)
def test_nsubjettiness_matches_fastjet_contrib(sample, measure, normalized, beta):
    ref = sample["per_jet_cs"].njettiness(
        measure_definition=measure, axes_definition="KT_Axes", njets=[1, 2, 3], beta=beta, R0=R0
    )
    ours = nsubjettiness_batch(*_buffers(sample), R0, beta, normalized)
    np.testing.assert_allclose(ours, ak.to_numpy(ref), rtol=RTOL, atol=0.0)


def test_nsubjettiness_single_jet_and_defaults(sample):
    px, py, pz, e, off = _buffers(sample)
    batch = nsubjettiness_batch(px, py, pz, e, off)
    np.testing.assert_array_equal(batch, nsubjettiness_batch(px, py, pz, e, off, 0.8, 1.0, True))
    for j in (0, len(off) - 2):
        lo, hi = off[j], off[j + 1]
        np.testing.assert_array_equal(
            nsubjettiness(px[lo:hi], py[lo:hi], pz[lo:hi], e[lo:hi]), batch[j]
        )
    # unnormalised / normalised = sum(pT) * R0^beta
    raw = nsubjettiness_batch(px, py, pz, e, off, R0, 1.0, False)
    pt_sum = np.add.reduceat(np.hypot(px, py), off[:-1])
    np.testing.assert_allclose(raw / batch, np.repeat((pt_sum * R0)[:, None], 3, 1), rtol=1e-12)


# --------------------------------------------------------------------------
# jet mass and multiplicity
# --------------------------------------------------------------------------


def test_jet_mass_p4_and_counts(sample):
    px, py, pz, e, off = _buffers(sample)
    jets = sample["jets"]
    p4 = jet_p4_batch(px, py, pz, e, off)
    ref_e = ak.to_numpy(jets.E)
    for c, name in enumerate(("px", "py", "pz", "E")):
        _assert_close_abs(p4[:, c], ak.to_numpy(jets[name]), 1e-12 * ref_e)
    m = jet_mass_batch(px, py, pz, e, off)
    ref_m = [fastjet.PseudoJet(j["px"], j["py"], j["pz"], j["E"]).m() for j in ak.to_list(jets)]
    np.testing.assert_allclose(m, ref_m, rtol=RTOL)
    np.testing.assert_array_equal(n_constituents_batch(off), ak.to_numpy(ak.num(sample["const"])))


# --------------------------------------------------------------------------
# random jets, with exact ties (hypothesis)
# --------------------------------------------------------------------------


def _random_jet(n: int, n_prongs: int, n_dup: int, seed: int) -> tuple[np.ndarray, ...]:
    """A jet of ``n`` massless-ish particles around ``n_prongs`` directions, with the
    last ``n_dup`` particles exact copies of earlier ones (exact distance ties)."""
    rng = np.random.default_rng(seed)
    prong = rng.integers(0, n_prongs, n)
    y0, phi0 = (
        rng.normal(0, 0.3, n_prongs),
        rng.uniform(0, 2 * np.pi, 1) + rng.normal(0, 0.3, n_prongs),
    )
    y = y0[prong] + rng.normal(0, 0.05, n)
    phi_ = phi0[prong] + rng.normal(0, 0.05, n)
    pt = rng.exponential(20.0, n) + 0.5
    m = rng.uniform(0, 0.2, n)
    mt = np.sqrt(pt**2 + m**2)
    px, py, pz, e = pt * np.cos(phi_), pt * np.sin(phi_), mt * np.sinh(y), mt * np.cosh(y)
    for k in range(n - n_dup, n):
        src = k % max(n - n_dup, 1)
        px[k], py[k], pz[k], e[k] = px[src], py[src], pz[src], e[src]
    return px, py, pz, e


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    n_prongs=st.integers(1, 4),
    dup_fraction=st.sampled_from([0.0, 0.0, 0.2, 0.5]),
    seed=st.integers(0, 2**32 - 1),
    beta=st.sampled_from([0.0, 1.0, 2.0]),
    z_cut=st.sampled_from([0.05, 0.1, 0.3]),
)
def test_random_jets_against_fastjet(n, n_prongs, dup_fraction, seed, beta, z_cut):
    px, py, pz, e = _random_jet(n, n_prongs, int(dup_fraction * n), seed)
    off = np.array([0, n], np.int64)
    event = ak.Array([[{"px": a, "py": b, "pz": c, "E": d} for a, b, c, d in zip(px, py, pz, e)]])
    cs = fastjet.ClusterSequence(
        event, fastjet.JetDefinition(fastjet.kt_algorithm, MAX_ALLOWABLE_R)
    )
    ref = cs.exclusive_jets_softdrop_grooming(njets=1, beta=beta, symmetry_cut=z_cut, R0=R0)
    _, msd, n_sd, zg, rg, _ = soft_drop_details_batch(px, py, pz, e, off, z_cut, beta, R0)
    np.testing.assert_allclose(msd, ak.to_numpy(ref.msoftdrop), rtol=RTOL, atol=1e-12)
    np.testing.assert_array_equal(n_sd, ak.to_numpy(ak.num(ref.constituents)))
    np.testing.assert_allclose(zg, ak.to_numpy(ref.symmetrysoftdrop), rtol=RTOL)
    np.testing.assert_allclose(rg, ak.to_numpy(ref.deltaRsoftdrop), rtol=RTOL)
    beta_tau = beta if beta > 0.0 else 1.0  # contrib rejects beta = 0 for tau
    taus = nsubjettiness_batch(px, py, pz, e, off, R0, beta_tau, False)
    ref_tau = cs.njettiness(
        measure_definition="UnnormalizedMeasure",
        axes_definition="KT_Axes",
        njets=[1, 2, 3],
        beta=beta_tau,
    )
    np.testing.assert_allclose(taus, ak.to_numpy(ref_tau), rtol=RTOL, atol=1e-12)


# --------------------------------------------------------------------------
# edge cases
# --------------------------------------------------------------------------


def test_few_constituents_against_fastjet(sample):
    """Jets made of the first 1, 2, 3, 4 constituents of a real jet."""
    px, py, pz, e, _ = _buffers(sample)
    parts = ak.to_list(sample["const"][0])
    ks = [1, 2, 3, 4]
    sub = ak.Array([parts[:k] for k in ks])
    sel = np.concatenate([np.arange(k) for k in ks])
    sp, sy, sz, se = px[sel], py[sel], pz[sel], e[sel]
    soff = np.concatenate([[0], np.cumsum(ks)]).astype(np.int64)

    taus = nsubjettiness_batch(sp, sy, sz, se, soff, R0, 1.0, False)
    for i, k in enumerate(ks):
        for n_axes in (1, 2, 3):
            if n_axes >= k:
                assert taus[i, n_axes - 1] == 0.0
            else:
                assert taus[i, n_axes - 1] > 0.0
    cs = fastjet.ClusterSequence(sub, fastjet.JetDefinition(fastjet.kt_algorithm, MAX_ALLOWABLE_R))
    ref = cs.njettiness(
        measure_definition="UnnormalizedMeasure", axes_definition="KT_Axes", njets=[1, 2, 3]
    )
    np.testing.assert_allclose(taus, ak.to_numpy(ref), rtol=RTOL, atol=0.0)

    groomed, msd, n_sd, zg, rg, keep = soft_drop_details_batch(sp, sy, sz, se, soff, 0.1, 0.0, R0)
    np.testing.assert_array_equal(keep.sum(), n_sd.sum())
    ref_sd = cs.exclusive_jets_softdrop_grooming(njets=1, beta=0.0, symmetry_cut=0.1, R0=R0)
    np.testing.assert_allclose(msd, ak.to_numpy(ref_sd.msoftdrop), rtol=RTOL, atol=0.0)
    np.testing.assert_array_equal(n_sd, ak.to_numpy(ak.num(ref_sd.constituents)))
    np.testing.assert_allclose(zg, ak.to_numpy(ref_sd.symmetrysoftdrop), rtol=RTOL)
    # one constituent: it is the groomed jet, no splitting
    np.testing.assert_array_equal(groomed[0], [sp[0], sy[0], sz[0], se[0]])
    assert n_sd[0] == 1
    assert zg[0] == rg[0] == -1.0


def test_empty_jet_list():
    z = np.zeros(0)
    off = np.zeros(1, np.int64)
    assert nsubjettiness_batch(z, z, z, z, off, R0, 1.0, True).shape == (0, 3)
    groomed, msd, n_sd = soft_drop_batch(z, z, z, z, off, 0.1, 0.0, R0)
    assert groomed.shape == (0, 4)
    assert msd.shape == (0,)
    assert n_sd.shape == (0,)
    assert n_sd.dtype == np.int64
    out = soft_drop_details_batch(z, z, z, z, off, 0.1, 0.0, R0)
    assert [a.shape for a in out] == [(0, 4), (0,), (0,), (0,), (0,), (0,)]
    assert jet_mass_batch(z, z, z, z, off).shape == (0,)
    assert jet_p4_batch(z, z, z, z, off).shape == (0, 4)
    assert n_constituents_batch(off).shape == (0,)


def test_empty_and_nonfinite_jets_do_not_disturb_others(sample):
    px, py, pz, e, off = _buffers(sample)
    n0 = off[1]
    # jet 0, an empty jet, jet 0 again with a NaN constituent, jet 0 again
    cat = [np.concatenate([a[:n0], a[:n0], a[:n0]]) for a in (px, py, pz, e)]
    cat[0][n0 + 3] = math.nan
    o = np.array([0, n0, n0, 2 * n0, 3 * n0], np.int64)
    taus = nsubjettiness_batch(*cat, o, R0, 1.0, True)
    groomed, msd, n_sd, zg, rg, keep = soft_drop_details_batch(*cat, o, 0.1, 0.0, R0)
    np.testing.assert_array_equal(taus[0], taus[3])
    np.testing.assert_array_equal(taus[1], 0.0)
    assert np.all(np.isnan(taus[2]))
    np.testing.assert_array_equal(groomed[0], groomed[3])
    np.testing.assert_array_equal(groomed[1], 0.0)
    assert msd[1] == 0.0
    assert n_sd[1] == 0
    assert zg[1] == rg[1] == -1.0
    assert np.all(np.isnan(groomed[2]))
    assert math.isnan(msd[2])
    assert n_sd[2] == -1
    assert not keep[n0 : 2 * n0].any()
    np.testing.assert_array_equal(keep[:n0], keep[2 * n0 :])
    m = jet_mass_batch(*cat, o)
    assert m[1] == 0.0
    assert m[0] == m[3]


@pytest.mark.parametrize(
    "offsets",
    [np.array([0, 3, 2], np.int64), np.array([0, 99], np.int64), np.array([-1, 2], np.int64)],
)
def test_bad_offsets_raise(offsets):
    a = np.ones(5)
    with pytest.raises(ValueError, match="offsets"):
        nsubjettiness_batch(a, a, a, a, offsets, R0, 1.0, True)
    with pytest.raises(ValueError, match="offsets"):
        soft_drop_batch(a, a, a, a, offsets, 0.1, 0.0, R0)
    with pytest.raises(ValueError, match="offsets"):
        jet_mass_batch(a, a, a, a, offsets)
