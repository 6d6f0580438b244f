r"""Classifier metrics in the units physicists quote.

For a binary tagger with score :math:`s` (signal = label 1), a threshold
:math:`t` keeps the signal efficiency :math:`\varepsilon_S(t)` = (weighted)
fraction of signal with :math:`s > t` and the background efficiency
:math:`\varepsilon_B(t)` likewise. The ROC curve is :math:`(\varepsilon_B,
\varepsilon_S)` over all thresholds; the AUC its area; the **background
rejection** at a working point is :math:`1/\varepsilon_B` at fixed
:math:`\varepsilon_S` (linearly interpolated on the ROC curve), the figure the
top-tagging benchmark (arXiv:1902.09914) quotes at :math:`\varepsilon_S = 0.3`.

All functions take numpy arrays ``y`` (0/1), ``score`` and optional per-sample
``weight``; they agree with scikit-learn's ``roc_curve``/``roc_auc_score``
(the tests check this).

Example::

    m = binary_metrics(y, score)           # {'auc': ..., 'accuracy': ..., 'rej30': ..., ...}
    rej = rejection_at(y, score, 0.5)      # 1/eps_B at eps_S = 0.5
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "WORKING_POINTS",
    "accuracy",
    "auc",
    "binary_metrics",
    "rejection_at",
    "rejection_error",
    "roc_curve",
]

#: signal efficiencies at which :func:`binary_metrics` reports the rejection
WORKING_POINTS = (0.3, 0.5)


def _prepare(y, score, weight):
    y = np.asarray(y).astype(np.int64).ravel()
    score = np.asarray(score, dtype=np.float64).ravel()
    if y.shape != score.shape:
        raise ValueError(f"labels {y.shape} and scores {score.shape} differ in length")
    w = np.ones_like(score) if weight is None else np.asarray(weight, dtype=np.float64).ravel()
    if w.shape != score.shape:
        raise ValueError(f"weights {w.shape} and scores {score.shape} differ in length")
    if not np.isfinite(score).all():
        raise ValueError("scores contain NaN or inf")
    return y, score, w


def roc_curve(y, score, weight=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(eps_B, eps_S, thresholds)``: efficiencies of ``score >= threshold``, thresholds
    decreasing, starting at ``(0, 0)`` (threshold ``inf``) as scikit-learn does (without
    dropping collinear points)."""
    y, score, w = _prepare(y, score, weight)
    order = np.argsort(-score, kind="mergesort")
    s, yy, ww = score[order], y[order], w[order]
    tp = np.cumsum(ww * (yy == 1))
    fp = np.cumsum(ww * (yy != 1))
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1] if len(s) else np.zeros(0, np.int64)
    tp, fp = np.r_[0.0, tp[last]], np.r_[0.0, fp[last]]
    thresholds = np.r_[np.inf, s[last]]
    n_s, n_b = tp[-1], fp[-1]
    if n_s <= 0 or n_b <= 0:
        raise ValueError("the ROC curve needs both signal (label 1) and background (label 0)")
    return fp / n_b, tp / n_s, thresholds


def auc(y, score, weight=None) -> float:
    """Area under the ROC curve (trapezoids; 0.5 for a random tagger)."""
    eps_b, eps_s, _ = roc_curve(y, score, weight)
    return float(np.trapezoid(eps_s, eps_b))


def _eps_b_at(eps_b: np.ndarray, eps_s: np.ndarray, eff_s: float) -> float:
    """ε_B of the ROC curve at signal efficiency ``eff_s`` (linear between its points,
    on the first crossing: ``eps_s`` is non-decreasing)."""
    i = int(np.searchsorted(eps_s, eff_s, side="left"))
    if i >= len(eps_s):
        return float(eps_b[-1])
    if eps_s[i] == eff_s or i == 0:
        return float(eps_b[i])
    f = (eff_s - eps_s[i - 1]) / (eps_s[i] - eps_s[i - 1])
    return float(eps_b[i - 1] + f * (eps_b[i] - eps_b[i - 1]))


def rejection_at(y, score, eff_s: float, weight=None) -> float:
    """Background rejection :math:`1/\\varepsilon_B` at signal efficiency ``eff_s``
    (``inf`` when no background survives)."""
    if not 0 < eff_s <= 1:
        raise ValueError(f"signal efficiency must be in (0, 1], got {eff_s}")
    eps_b, eps_s, _ = roc_curve(y, score, weight)
    b = _eps_b_at(eps_b, eps_s, eff_s)
    return float(np.inf) if b <= 0 else float(1.0 / b)


def rejection_error(y, score, eff_s: float, weight=None) -> float:
    r"""Standard error of :func:`rejection_at`, from both samples' binomial errors with
    weights (for equal weights :math:`\varepsilon(1-\varepsilon)/N`):

    .. math::
        \sigma^2(\varepsilon) = \frac{\sum_{\rm pass} w^2 (1-\varepsilon)^2
          + \sum_{\rm fail} w^2 \varepsilon^2}{(\sum w)^2}, \qquad
        \sigma^2(\varepsilon_B) \mathrel{+}= \Big(\frac{d\varepsilon_B}{d\varepsilon_S}
          \Big)^2 \sigma^2(\varepsilon_S), \qquad
        \sigma(1/\varepsilon_B) = \sigma(\varepsilon_B)/\varepsilon_B^2 .

    Weighted samples (pT-hat-biased QCD) need the per-event form: the background that
    passes a tight cut is mostly the low-weight part, whose spread ``N_eff`` of the
    whole sample overstates. The second term is the working point's own uncertainty:
    the threshold that gives ``eff_s`` on the signal at hand moves by its statistical
    error, and ε_B with it (slope of the ROC curve over ±1σ of ε_S). It dominates when
    the signal sample is small and the background large. ``inf`` when no background
    survives. A linear error: when it is comparable to the rejection itself, the
    rejection is poorly known whatever the number says.
    """
    y, score, w = _prepare(y, score, weight)
    rej = rejection_at(y, score, eff_s, w)
    if not np.isfinite(rej):
        return float(np.inf)
    eps_b, eps_s, thresholds = roc_curve(y, score, w)
    i = min(int(np.searchsorted(eps_s, eff_s, side="left")), len(thresholds) - 1)
    passed = score >= thresholds[i]  # (the working point's threshold)

    def variance(sel: np.ndarray, eps: float) -> float:
        ws, ok = w[sel], passed[sel]
        total = ws.sum()
        return float((np.sum(ws[ok] ** 2) * (1 - eps) ** 2 + np.sum(ws[~ok] ** 2) * eps**2)
                     / total**2)  # fmt: skip

    eps = 1.0 / rej
    var = variance(y != 1, eps)
    d = float(np.sqrt(variance(y == 1, eff_s)))
    if d > 0:
        lo, hi = max(eff_s - d, 0.0), min(eff_s + d, 1.0)
        slope = (_eps_b_at(eps_b, eps_s, hi) - _eps_b_at(eps_b, eps_s, lo)) / (hi - lo)
        var += slope**2 * d**2
    return float(np.sqrt(var) / eps**2)


def accuracy(y, score, weight=None, threshold: float = 0.5) -> float:
    """(Weighted) fraction with ``(score > threshold) == y``."""
    y, score, w = _prepare(y, score, weight)
    return float(np.sum(w * ((score > threshold) == (y == 1))) / np.sum(w))


def binary_metrics(y, score, weight=None) -> dict[str, float]:
    """``auc``, ``accuracy`` (at score 0.5) and ``rej30``/``rej50`` (1/ε_B at ε_S = 0.3/0.5)."""
    out = {"auc": auc(y, score, weight), "accuracy": accuracy(y, score, weight)}
    for wp in WORKING_POINTS:
        out[f"rej{round(wp * 100)}"] = rejection_at(y, score, wp, weight)
    return out
