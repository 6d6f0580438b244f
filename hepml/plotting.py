"""Plots physicists recognise, as functions over hepml's outputs (extra ``plot``).

Each function draws with matplotlib in the mplhep CMS style, returns the
``Figure``, and writes it to ``path`` (PNG, or any matplotlib format) when given.

Example::

    from hepml.plotting import rejection_curves
    rejection_curves([result_pn, result_pfn, result_bdt], "rejection.png")
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from hepml.extras import require
from hepml.train.metrics import roc_curve

__all__ = [
    "binned_efficiency",
    "rate_vs_threshold",
    "rejection_curves",
    "roc_curves",
    "score_histograms",
    "training_history",
    "turn_on_curves",
]


def _plt():
    mpl = require("matplotlib", extra="plot", purpose="plots")
    mpl.use("Agg", force=False) if mpl.get_backend().lower() != "agg" else None
    import matplotlib.pyplot as plt

    hep = require("mplhep", extra="plot", purpose="plots in the CMS style")
    plt.style.use(hep.style.CMS)
    return plt, hep


def _save(fig, path: str | os.PathLike | None):
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{os.fspath(path)}.tmp-{os.getpid()}{os.path.splitext(path)[1]}"
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
        os.replace(tmp, path)
    return fig


def _label(r) -> str:
    m = r.metrics
    if not m:
        return r.name
    return f"{r.name} (AUC {m['auc']:.3f}, $1/\\varepsilon_B$@0.3 = {m['rej30']:.0f})"


def roc_curves(results: Sequence, path=None, title: str | None = None):
    """Signal efficiency vs background efficiency for each :class:`EvalResult`."""
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(9, 8))
    for r in results:
        eps_b, eps_s, _ = roc_curve(r.y, r.score)
        ax.plot(eps_b, eps_s, label=_label(r))
    ax.plot([0, 1], [0, 1], ls=":", color="grey", label="random")
    ax.set_xlabel(r"Background efficiency $\varepsilon_B$")
    ax.set_ylabel(r"Signal efficiency $\varepsilon_S$")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=14, loc="lower right")
    if title:
        ax.set_title(title, fontsize=16)
    return _save(fig, path)


def rejection_curves(results: Sequence, path=None, title: str | None = None):
    """Background rejection :math:`1/\\varepsilon_B` (log) vs signal efficiency."""
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(9, 8))
    for r in results:
        eps_b, eps_s, _ = roc_curve(r.y, r.score)
        ok = (eps_b > 0) & (eps_s > 0.05)
        ax.plot(eps_s[ok], 1.0 / eps_b[ok], label=_label(r))
    ax.set_yscale("log")
    ax.set_xlabel(r"Signal efficiency $\varepsilon_S$")
    ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
    ax.set_xlim(0, 1)
    for wp in (0.3, 0.5):
        ax.axvline(wp, ls=":", color="grey")
    ax.legend(fontsize=14, loc="upper right")
    if title:
        ax.set_title(title, fontsize=16)
    return _save(fig, path)


def score_histograms(result, path=None, bins: int = 40, class_names=("background", "signal")):
    """Score distribution of each class (normalised), for one :class:`EvalResult`."""
    plt, hep = _plt()
    fig, ax = plt.subplots(figsize=(9, 8))
    edges = np.linspace(0, 1, bins + 1)
    for label, name in enumerate(class_names):
        s = result.score[result.y == label]
        if len(s):
            h, _ = np.histogram(s, bins=edges)
            hep.histplot(h / max(h.sum(), 1), edges, ax=ax, label=f"{name} ({len(s)} jets)")
    ax.set_xlabel(f"{result.name} score")
    ax.set_ylabel("Fraction of jets")
    ax.set_yscale("log")
    ax.legend(fontsize=14)
    return _save(fig, path)


def training_history(history: Sequence[dict], path=None, title: str | None = None):
    """Loss (train, validation) and validation AUC per epoch."""
    plt, _ = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(16, 7))
    ep = [r["epoch"] for r in history]
    a1.plot(ep, [r["loss"] for r in history], "o-", label="training")
    a1.plot(ep, [r["val_loss"] for r in history], "s-", label="validation")
    a1.set_xlabel("Epoch")
    a1.set_ylabel("Cross-entropy loss")
    a1.legend(fontsize=14)
    if all("val_auc" in r for r in history):
        a2.plot(ep, [r["val_auc"] for r in history], "s-", color="C1")
    a2.set_xlabel("Epoch")
    a2.set_ylabel("Validation AUC")
    if title:
        fig.suptitle(title, fontsize=16)
    return _save(fig, path)


def rate_vs_threshold(
    curves: dict,
    path=None,
    xlabel: str = "Threshold",
    target_hz: float | None = None,
    threshold: float | None = None,
    title: str | None = None,
):
    """Trigger rate (Hz, log) vs threshold with its statistical band.

    ``curves`` maps a label to ``(thresholds, rate_hz, error_hz)`` as
    :func:`hepml.trigger.rates.rate_curve` gives them; ``target_hz`` and the chosen
    ``threshold`` are drawn as lines.
    """
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(9, 8))
    lowest = np.inf
    for label, (thr, r, err) in curves.items():
        thr, r, err = (np.asarray(a, dtype=float) for a in (thr, r, err))
        ok = r > 0
        if not ok.any():
            continue
        lowest = min(lowest, r[ok].min())
        down = np.where(r[ok] - err[ok] > 0, r[ok] - err[ok], 0.5 * r[ok])
        ax.step(thr[ok], r[ok], where="post", label=label)
        ax.fill_between(thr[ok], down, r[ok] + err[ok], step="post", alpha=0.3)
    if target_hz is not None:
        ax.axhline(target_hz, ls="--", color="grey", label=f"target {target_hz:g} Hz")
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, ls=":", color="k", label=f"threshold {threshold:.4g}")
    ax.set_yscale("log")
    if np.isfinite(lowest):
        ax.set_ylim(bottom=0.3 * lowest)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Rate [Hz]")
    ax.legend(fontsize=14)
    if title:
        ax.set_title(title, fontsize=16)
    return _save(fig, path)


def binned_efficiency(
    x: np.ndarray, passed: np.ndarray, bins: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Efficiency per bin of ``x`` with Clopper–Pearson 68% intervals on effective counts:
    ``(centres, eff, low, high)``; NaN where a bin is empty."""
    from scipy.stats import beta

    x = np.asarray(x, dtype=float)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    ok = np.isfinite(x)
    tot, _ = np.histogram(x[ok], bins, weights=w[ok])
    tot2, _ = np.histogram(x[ok], bins, weights=(w * w)[ok])
    acc, _ = np.histogram(x[ok & passed], bins, weights=w[ok & passed])
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = acc / tot
        n = tot * tot / tot2
    k = eff * n
    lo = np.where(k > 0, beta.ppf(0.1587, k, n - k + 1), 0.0)
    hi = np.where(k < n, beta.ppf(0.8413, k + 1, n - k), 1.0)
    lo, hi = np.fmin(lo, eff), np.fmax(hi, eff)  # effective counts need not be integers
    empty = tot <= 0
    eff, lo, hi = (np.where(empty, np.nan, a) for a in (eff, lo, hi))
    return 0.5 * (bins[1:] + bins[:-1]), eff, lo, hi


def turn_on_curves(
    curves: dict,
    path=None,
    bins: int | np.ndarray = 30,
    xlabel: str = "Offline variable",
    title: str | None = None,
):
    """Trigger efficiency vs an offline variable (turn-on curves) with 68% intervals.

    ``curves`` maps a label to ``(x, passed)`` or ``(x, passed, weights)``.
    """
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(9, 8))
    allx = np.concatenate([np.asarray(c[0], dtype=float) for c in curves.values()] or [[0.0]])
    allx = allx[np.isfinite(allx)]
    if np.isscalar(bins) or np.ndim(bins) == 0:
        hi = np.quantile(allx, 0.99) if len(allx) else 1.0
        lo = min(0.0, allx.min()) if len(allx) else 0.0
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, int(bins) + 1)
    for label, c in curves.items():
        x, passed = c[0], np.asarray(c[1], dtype=bool)
        w = c[2] if len(c) > 2 else None
        xc, eff, lo_, hi_ = binned_efficiency(x, passed, bins, w)
        ok = np.isfinite(eff)
        ax.errorbar(xc[ok], eff[ok], yerr=[eff[ok] - lo_[ok], hi_[ok] - eff[ok]],
                    xerr=0.5 * np.diff(bins)[ok], fmt="o", ms=5, label=label)  # fmt: skip
    ax.axhline(1.0, ls=":", color="grey")
    ax.set_ylim(0, 1.1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Trigger efficiency")
    ax.legend(fontsize=14, loc="lower right")
    if title:
        ax.set_title(title, fontsize=16)
    return _save(fig, path)
