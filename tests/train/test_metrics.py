"""Metrics against scikit-learn and against brute-force definitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from hepml.train.metrics import accuracy, auc, binary_metrics, rejection_at, roc_curve


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(4, 200),
    seed=st.integers(0, 2**31),
    levels=st.sampled_from([3, 10, 1000]),
    weighted=st.booleans(),
)
def test_roc_and_auc_agree_with_sklearn(n, seed, levels, weighted):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    score = rng.integers(0, levels, n) / levels + 0.1 * y  # ties when levels is small
    w = rng.uniform(0.1, 3.0, n) if weighted else None
    fpr, tpr, thr = sk_roc_curve(y, score, sample_weight=w, drop_intermediate=False)
    eps_b, eps_s, t = roc_curve(y, score, w)
    np.testing.assert_allclose(eps_b, fpr, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(eps_s, tpr, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(t[1:], thr[1:])
    assert auc(y, score, w) == pytest.approx(roc_auc_score(y, score, sample_weight=w), abs=1e-12)


def test_rejection_is_one_over_background_efficiency_at_the_working_point():
    # 10 signal jets with scores 0.91..1.00; background 0.0..0.99 in steps of 0.01
    sig = np.linspace(0.91, 1.0, 10)
    bkg = np.arange(100) / 100.0
    y = np.r_[np.ones(10), np.zeros(100)]
    score = np.r_[sig, bkg]
    # eps_S = 0.3 is reached at threshold 0.98 (3 signal kept), where 2 of 100 background pass
    assert rejection_at(y, score, 0.3) == pytest.approx(50.0)
    # eps_S = 0.5: threshold 0.96, background 0.96..0.99 pass -> eps_B = 0.04
    assert rejection_at(y, score, 0.5) == pytest.approx(25.0)
    # between ROC points the efficiency is interpolated linearly
    r = rejection_at(y, score, 0.25)
    eps_b, eps_s, _ = roc_curve(y, score)
    assert 1 / r == pytest.approx(np.interp(0.25, eps_s, eps_b))
    # no background above the signal: infinite rejection
    assert rejection_at([1, 1, 0], [0.9, 0.8, 0.1], 0.5) == np.inf


def test_binary_metrics_and_bad_input():
    y = np.array([0, 0, 1, 1, 1])
    s = np.array([0.2, 0.7, 0.6, 0.9, 0.4])
    m = binary_metrics(y, s)
    assert set(m) == {"auc", "accuracy", "rej30", "rej50"}
    assert m["accuracy"] == pytest.approx(accuracy(y, s)) == pytest.approx(3 / 5)
    assert m["auc"] == pytest.approx(roc_auc_score(y, s))
    with pytest.raises(ValueError, match="both signal"):
        auc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        auc([0, 1], [0.2, np.nan])
    with pytest.raises(ValueError, match="differ in length"):
        auc([0, 1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="signal efficiency"):
        rejection_at(y, s, 0.0)


def test_rejection_error_has_both_binomial_terms():
    from sklearn.metrics import roc_curve as sk_roc

    from hepml.train.metrics import rejection_error

    rng = np.random.default_rng(3)
    ns, nb = 307, 5000
    y = np.r_[np.ones(ns), np.zeros(nb)]
    score = np.r_[rng.normal(1.5, 1, ns), rng.normal(0, 1, nb)]
    fpr, tpr, _ = sk_roc(y, score, drop_intermediate=False)

    def eps_b(e):
        return np.interp(e, tpr, fpr)

    eb, d = eps_b(0.3), np.sqrt(0.3 * 0.7 / ns)
    slope = (eps_b(0.3 + d) - eps_b(0.3 - d)) / (2 * d)
    want = np.sqrt(eb * (1 - eb) / nb + slope**2 * d**2) / eb**2
    assert rejection_error(y, score, 0.3) == pytest.approx(want, rel=1e-9)


def test_rejection_error_covers_the_spread_of_toy_experiments():
    """A small signal sample against a large background (the `evaluate --add` case):
    the working point's own error dominates; the background's alone was ~7x too small."""
    from hepml.train.metrics import rejection_error

    rng = np.random.default_rng(1)
    rej, err = [], []
    for _ in range(150):
        y = np.r_[np.ones(200), np.zeros(20000)]
        score = np.r_[rng.normal(1.0, 1, 200), rng.normal(0, 1, 20000)]
        rej.append(rejection_at(y, score, 0.3))
        err.append(rejection_error(y, score, 0.3))
    assert 0.8 < np.std(rej) / np.median(err) < 1.4


def test_rejection_error_is_inf_without_background_left():
    from hepml.train.metrics import rejection_error

    assert rejection_error([1, 1, 0], [0.9, 0.8, 0.1], 0.5) == np.inf


def test_weighted_rejection_error_matches_the_spread_of_toys():
    """With pT-hat-biased weights the background that passes a tight cut is the low-weight
    part: the error is the per-event binomial one (the whole sample's N_eff made it 1.6x
    too large), as the spread of pseudo-experiments says."""
    from hepml.train.metrics import rejection_at, rejection_error

    rng = np.random.default_rng(1)

    def sample():
        pthat = 300 * (1 + rng.exponential(1.0, 4000))
        w = np.r_[np.ones(20000), (300 / pthat) ** 4]
        s = np.r_[rng.normal(4.0, 1.0, 20000), rng.normal(0, 1, 4000) + 3.0 * np.log(pthat / 300)]
        y = np.r_[np.ones(20000, int), np.zeros(4000, int)]
        return y, s, w

    toys = []
    for _ in range(300):
        y, s, w = sample()
        toys.append(rejection_at(y, s, 0.3, w))
    y, s, w = sample()
    err = rejection_error(y, s, 0.3, w)
    assert err == pytest.approx(np.std(toys), rel=0.25)
    # equal weights: the textbook binomial error (and the weights' scale does not matter)
    y, s, _ = sample()
    assert rejection_error(y, s, 0.3) == pytest.approx(
        rejection_error(y, s, 0.3, np.full(len(y), 3.0))
    )
