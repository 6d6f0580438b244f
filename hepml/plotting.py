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

__all__ = ["rejection_curves", "roc_curves", "score_histograms", "training_history"]


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
