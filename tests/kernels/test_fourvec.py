"""Four-vector kernels: bit for bit against FastJet's PseudoJet, and against
plain-Python formulas and scikit-hep ``vector`` (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hepml.kernels import fourvec as F

fastjet = pytest.importorskip("fastjet")

# (no subnormal momenta: FastJet's formulas, hence ours, treat pt^2 = 0 specially)
finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False).filter(
    lambda x: x == 0.0 or abs(x) > 1e-100
)
positive = st.floats(1e-3, 1e4, allow_nan=False, allow_infinity=False)
angle = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)
angle_02pi = st.floats(0.0, 2 * math.pi, allow_nan=False, exclude_max=True)


@st.composite
def massive(draw):
    """A time-like four-momentum (E > |p|)."""
    px, py, pz = draw(finite), draw(finite), draw(finite)
    m = draw(positive)
    return px, py, pz, math.sqrt(px * px + py * py + pz * pz + m * m)


SPECIAL = [
    (0.0, 0.0, 5.0, 5.0),  # massless along +z: rapidity 1e5 + 5
    (0.0, 0.0, -5.0, 5.0),  # massless along -z
    (0.0, 0.0, -5.0, 6.0),
    (0.0, 0.0, 0.0, 1.0),  # at rest
    (0.0, 0.0, 0.0, 0.0),
    (1.0, 0.0, 0.0, 1.0),
    (1e-200, 0.0, 5.0, 5.0),  # pt^2 underflows to 0
    (0.0, 0.0, 3.0, 2.0),  # E < |pz|: infinite rapidity
    (1.0, 2.0, 0.0, 0.5),  # space-like: negative mass
    (1.0, -1e-17, 0.0, 2.0),  # phi just below 2 pi rounds to 0
    (-1.0, -1e-320, 0.0, 2.0),  # phi = pi
    (0.0, -1.0, 2.0, 3.0),
]


def test_bit_for_bit_with_fastjet_pseudojet(sample_events):
    ev = sample_events
    moms = [*SPECIAL, *zip(ev.px[:3000], ev.py[:3000], ev.pz[:3000], ev.e[:3000])]
    for px, py, pz, e in moms:
        pj = fastjet.PseudoJet(float(px), float(py), float(pz), float(e))
        assert F.rapidity(px, py, pz, e) == pj.rap()
        assert F.phi(px, py) == pj.phi()
        assert F.phi_std(px, py) == pj.phi_std()
        assert F.eta(px, py, pz) == pj.eta()
        assert F.pt(px, py) == pj.pt()
        assert F.pt2(px, py) == pj.pt2()
        assert F.mass2(px, py, pz, e) == pj.m2()
        assert F.mass(px, py, pz, e) == pj.m()
        assert F.rapidity_phi(px, py, pz, e) == (pj.rap(), pj.phi())
    rng = np.random.default_rng(1)
    for _ in range(200):
        a, b = rng.integers(0, 3000, 2)
        pa = fastjet.PseudoJet(*(float(x[a]) for x in (ev.px, ev.py, ev.pz, ev.e)))
        pb = fastjet.PseudoJet(*(float(x[b]) for x in (ev.px, ev.py, ev.pz, ev.e)))
        args = (ev.px[a], ev.py[a], ev.pz[a], ev.e[a], ev.px[b], ev.py[b], ev.pz[b], ev.e[b])
        assert F.delta_r2_rapidity(*args) == pa.plain_distance(pb)
        assert F.delta_r2(pa.rap(), pa.phi(), pb.rap(), pb.phi()) == pa.plain_distance(pb)


def test_ptyphim_is_fastjets(sample_events):
    for pt, y, phi, m in [(10.0, 1.2, 0.3, 2.0), (5.0, -3.0, 6.0, 0.0), (1e-3, 0.0, -1.0, 0.1)]:
        pj = fastjet.PtYPhiM(pt, y, phi, m)
        assert F.ptyphim_to_xyze(pt, y, phi, m) == (pj.px(), pj.py(), pj.pz(), pj.E())


@settings(max_examples=200, deadline=None)
@given(massive())
def test_rapidity_eta_mass_match_plain_python(p4):
    px, py, pz, e = p4
    assert F.rapidity(px, py, pz, e) == pytest.approx(
        0.5 * math.log((e + pz) / (e - pz)), rel=1e-9, abs=1e-9
    )
    pt = math.hypot(px, py)
    # (FastJet's eta is infinite once pt^2 underflows, imprecise beyond |eta| ~ 15)
    if pt > 1e-150 and pt > 1e-6 * abs(pz):
        assert F.eta(px, py, pz) == pytest.approx(math.asinh(pz / pt), rel=1e-9, abs=1e-9)
    m = math.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0))
    assert F.mass(px, py, pz, e) == pytest.approx(m, rel=1e-6, abs=1e-6 * e)
    assert F.pt(px, py) == pytest.approx(pt, rel=1e-15)


@settings(max_examples=200, deadline=None)
@given(finite, finite)
def test_phi_in_zero_two_pi(px, py):
    f = F.phi(px, py)
    assert 0.0 <= f < 2 * math.pi
    if px * px + py * py > 0:  # (FastJet: phi = 0 when pt^2 is 0, even by underflow)
        assert math.isclose(math.cos(f), px / math.hypot(px, py), abs_tol=1e-12)
        assert math.isclose(math.sin(f), py / math.hypot(px, py), abs_tol=1e-12)
    g = F.phi_std(px, py)
    assert -math.pi < g <= math.pi
    assert math.isclose(math.cos(g), math.cos(f), abs_tol=1e-15)


@settings(max_examples=300, deadline=None)
@given(angle, angle)
def test_delta_phi_wraps_into_minus_pi_pi(a, b):
    d = F.delta_phi(a, b)
    assert -math.pi < d <= math.pi
    # congruent to a - b modulo 2 pi
    k = (a - b - d) / (2 * math.pi)
    assert abs(k - round(k)) < 1e-9
    assert F.delta_phi(a, a) == 0.0


def test_delta_phi_across_the_wrap():
    assert F.delta_phi(0.1, 2 * math.pi - 0.1) == pytest.approx(0.2)
    assert F.delta_phi(2 * math.pi - 0.1, 0.1) == pytest.approx(-0.2)
    assert F.delta_phi(math.pi, 0.0) == math.pi
    assert F.delta_phi(0.0, math.pi) == math.pi  # -pi is mapped to +pi
    assert F.delta_phi(-3.0, 3.0) == pytest.approx(2 * math.pi - 6.0)


def _plain_dr2(y1, f1, y2, f2):
    dphi = (f1 - f2) % (2 * math.pi)
    dphi = min(dphi, 2 * math.pi - dphi)
    return (y1 - y2) ** 2 + dphi**2


@settings(max_examples=300, deadline=None)
@given(angle, angle_02pi, angle, angle_02pi)
def test_delta_r2_matches_plain_python(y1, f1, y2, f2):
    assert F.delta_r2(y1, f1, y2, f2) == pytest.approx(_plain_dr2(y1, f1, y2, f2), abs=1e-12)
    assert F.delta_r2(y1, f1, y2, f2) == F.delta_r2(y2, f2, y1, f1)


@settings(max_examples=300, deadline=None)
@given(angle, angle, angle, angle)
def test_delta_r2_any_angle_range(y1, f1, y2, f2):
    """Angles outside [0, 2 pi) (e.g. in (-pi, pi] or several turns) are wrapped."""
    assert F.delta_r2(y1, f1, y2, f2) == pytest.approx(_plain_dr2(y1, f1, y2, f2), abs=1e-9)


def test_delta_r2_wraparound_examples():
    assert F.delta_r2(0.0, 0.05, 0.0, 2 * math.pi - 0.05) == pytest.approx(0.01)
    assert F.delta_r2(0.0, -3.1, 0.0, 3.1) == pytest.approx((2 * math.pi - 6.2) ** 2)
    assert F.delta_r2(1.0, 0.0, 0.0, math.pi) == pytest.approx(1.0 + math.pi**2)


@settings(max_examples=200, deadline=None)
@given(massive(), massive())
def test_delta_r2_of_momenta(a, b):
    ya = 0.5 * math.log((a[3] + a[2]) / (a[3] - a[2]))
    yb = 0.5 * math.log((b[3] + b[2]) / (b[3] - b[2]))
    # (phi = 0 when pt = 0, as FastJet has it: atan2(0, -0) would say pi)
    fa, fb = (math.atan2(q[1], q[0]) if q[0] or q[1] else 0.0 for q in (a, b))
    assert F.delta_r2_rapidity(*a, *b) == pytest.approx(_plain_dr2(ya, fa, yb, fb), abs=1e-8)
    if math.hypot(a[0], a[1]) > 1e-6 and math.hypot(b[0], b[1]) > 1e-6:
        ea = math.asinh(a[2] / math.hypot(a[0], a[1]))
        eb = math.asinh(b[2] / math.hypot(b[0], b[1]))
        dr2 = F.delta_r2_eta(*a[:3], *b[:3])
        assert dr2 == pytest.approx(_plain_dr2(ea, fa, eb, fb), rel=1e-7, abs=1e-7)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(1e-2, 1e4),
    st.floats(-6.0, 6.0),
    st.floats(-math.pi, math.pi),
    st.floats(0.0, 1e3),
)
def test_ptetaphim_round_trip(pt, eta, phi, m):
    px, py, pz, e = F.ptetaphim_to_xyze(pt, eta, phi, m)
    assert math.isclose(
        e * e - px * px - py * py - pz * pz, m * m, rel_tol=1e-6, abs_tol=1e-6 * e * e
    )
    pt2, eta2, phi2, m2 = F.xyze_to_ptetaphim(px, py, pz, e)
    assert pt2 == pytest.approx(pt, rel=1e-12)
    assert eta2 == pytest.approx(eta, abs=1e-9)
    assert F.delta_phi(phi2, phi) == pytest.approx(0.0, abs=1e-12)
    assert -math.pi < phi2 <= math.pi
    assert m2 == pytest.approx(m, rel=1e-6, abs=1e-6 * e)
    # the rapidity form, FastJet's PtYPhiM, inverts rapidity exactly enough
    y = F.rapidity(px, py, pz, e)
    q = F.ptyphim_to_xyze(pt, y, phi, m)
    np.testing.assert_allclose(q, (px, py, pz, e), rtol=1e-9, atol=1e-9 * e)


def test_against_scikit_hep_vector(sample_events):
    vector = pytest.importorskip("vector")
    ev = sample_events
    px, py, pz, e = (x[:2000] for x in (ev.px, ev.py, ev.pz, ev.e))
    v = vector.array({"px": px, "py": py, "pz": pz, "E": e})
    pt, eta, phi, m = F.to_ptetaphim(px, py, pz, e)
    np.testing.assert_allclose(pt, v.pt, rtol=1e-14)
    np.testing.assert_allclose(eta, v.eta, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(phi, v.phi, atol=1e-14)
    # (m of massless particles is rounding noise: compare signed m^2 against E^2)
    vm = np.asarray(v.mass)
    np.testing.assert_allclose(m * np.abs(m), vm * np.abs(vm), rtol=1e-9, atol=1e-12 * e.max() ** 2)
    rap = np.array([F.rapidity(*x) for x in zip(px, py, pz, e)])
    np.testing.assert_allclose(rap, v.rapidity, rtol=1e-9, atol=1e-9)
    back = F.to_xyze(pt, eta, phi, m)
    np.testing.assert_allclose(back[0], px, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(back[2], pz, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(back[3], e, rtol=1e-9, atol=1e-6)
