"""Plots physicists recognise, as functions over hepml's outputs (extra ``plot``).

Each function draws with matplotlib in the mplhep CMS style, returns the
``Figure``, and writes it to ``path`` (PNG, or any matplotlib format) when given.

Example::

    from hepml.plotting import rejection_curves
    rejection_curves([result_pn, result_pfn, result_bdt], "rejection.png")

Tagging: :func:`roc_curves`, :func:`rejection_curves`, :func:`score_histograms`,
:func:`training_history`. Jets and events: :func:`jet_images`,
:func:`event_display`. Trigger: :func:`rate_vs_threshold`, :func:`turn_on_curves`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from hepml.extras import require
from hepml.train.metrics import roc_curve

if TYPE_CHECKING:
    import awkward as ak

__all__ = [
    "PARTICLE_TYPES",
    "binned_efficiency",
    "efficiency_vs_rate",
    "event_display",
    "jet_images",
    "rate_vs_threshold",
    "rejection_curves",
    "roc_curves",
    "score_histograms",
    "training_history",
    "turn_on_curves",
]


def _plt():
    mpl = require("matplotlib", extra="plot", purpose="plots")
    backend = mpl.get_backend().lower()
    inline = "inline" in backend or "ipympl" in backend or "widget" in backend
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if backend != "agg" and not inline and not display:  # no screen: draw to files
        mpl.use("Agg", force=False)
    import matplotlib.pyplot as plt

    hep = require("mplhep", extra="plot", purpose="plots in the CMS style")
    return plt, hep


def _styled(fn):
    """Draw ``fn``'s figure in the CMS style without changing matplotlib's global
    style (a notebook's own figures after one of ours keep theirs)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        plt, hep = _plt()
        with plt.style.context(hep.style.CMS):
            return fn(*args, **kwargs)

    return wrapper


def _save(fig, path: str | os.PathLike | None):
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        ext = os.path.splitext(path)[1]
        tmp = f"{os.fspath(path)}.tmp-{os.getpid()}{ext}"
        # (no suffix: PNG, as matplotlib writes it; the temporary name must not decide)
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format=None if ext else "png")
        os.replace(tmp, path)
    return fig


def _label(r) -> str:
    m = r.metrics
    if not m:
        return r.name
    return f"{r.name} (AUC {m['auc']:.3f}, $1/\\varepsilon_B$@0.3 = {m['rej30']:.3g})"


@_styled
def roc_curves(results: Sequence, path=None, title: str | None = None):
    """Signal efficiency vs background efficiency for each :class:`EvalResult`."""
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(9, 8))
    for r in results:
        eps_b, eps_s, _ = roc_curve(r.y, r.score, getattr(r, "metric_weight", None))
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


@_styled
def rejection_curves(results: Sequence, path=None, title: str | None = None):
    """Background rejection :math:`1/\\varepsilon_B` (log) vs signal efficiency."""
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(9, 8))
    for r in results:
        eps_b, eps_s, _ = roc_curve(r.y, r.score, getattr(r, "metric_weight", None))
        ok = (eps_b > 0) & (eps_s > 0.05)
        ax.plot(eps_s[ok], 1.0 / eps_b[ok], label=_label(r))
    ax.set_yscale("log")
    ax.set_xlabel(r"Signal efficiency $\varepsilon_S$")
    ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
    ax.set_xlim(0, 1)
    for wp in (0.3, 0.5):
        ax.axvline(wp, ls=":", color="grey")
    ax.legend(fontsize=14, loc="best")
    if title:
        ax.set_title(title, fontsize=16)
    return _save(fig, path)


@_styled
def score_histograms(
    result, path=None, bins: int = 40, class_names=("background", "signal"), unit: str = "jets"
):
    """Score distribution of each class (normalised), for one :class:`EvalResult`;
    ``unit`` names what was scored (``"events"`` for event-level models)."""
    plt, hep = _plt()
    fig, ax = plt.subplots(figsize=(9, 8))
    edges = np.linspace(0, 1, bins + 1)
    weight = getattr(result, "metric_weight", None)
    for label, name in enumerate(class_names):
        mine = result.y == label
        s = result.score[mine]
        if len(s):
            h, _ = np.histogram(s, bins=edges, weights=None if weight is None else weight[mine])
            hep.histplot(h / max(h.sum(), 1), edges, ax=ax, label=f"{name} ({len(s)} {unit})")
    ax.set_xlabel(f"{result.name} score")
    ax.set_ylabel(f"Fraction of {unit}" + (" (weighted)" if weight is not None else ""))
    ax.set_yscale("log")
    ax.legend(fontsize=14)
    return _save(fig, path)


@_styled
def training_history(history: Sequence[dict], path=None, title: str | None = None):
    """Loss (train, validation) and validation AUC per epoch."""
    plt, _ = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(17, 7))
    fig.subplots_adjust(wspace=0.35)
    ep = [r["epoch"] for r in history]
    if all("loss" in r for r in history):
        a1.plot(ep, [r["loss"] for r in history], "o-", label="training")
        a1.plot(ep, [r.get("val_loss", np.nan) for r in history], "s-", label="validation")
        a1.legend(fontsize=14)
    else:  # (the BDT baselines: trained in one go, no loss per epoch)
        a1.text(0.5, 0.5, "no loss per epoch\n(trained in one go)", ha="center",
                va="center", transform=a1.transAxes, fontsize=16)  # fmt: skip
    a1.set_xlabel("Epoch")
    a1.set_ylabel("Cross-entropy loss")
    if all("val_auc" in r for r in history):
        a2.plot(ep, [r["val_auc"] for r in history], "s-", color="C1")
    a2.set_xlabel("Epoch")
    a2.set_ylabel("Validation AUC")
    if title:
        fig.suptitle(title, fontsize=16)
    return _save(fig, path)


@_styled
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
        ax.axhline(target_hz, ls="--", color="grey", label=f"target {target_hz:.3g} Hz")
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


@_styled
def efficiency_vs_rate(
    curves: dict,
    path=None,
    signal: str = "signal",
    rates_hz: Sequence[float] | None = None,
    title: str | None = None,
):
    """Signal efficiency vs background rate (Hz, log), one curve per trigger path,
    every threshold at once (the trigger's "ROC"): at any rate the higher curve keeps
    more signal. ``curves`` maps a label to ``(rate_hz, efficiency)`` as
    :func:`hepml.trigger.emulate.efficiency_vs_rate` gives them; ``rates_hz`` are
    drawn as vertical lines (the rates a comparison was made at).
    """
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(9, 8))
    lowest, highest = np.inf, 0.0
    for label, (r, eff) in curves.items():
        r, eff = np.asarray(r, dtype=float), np.asarray(eff, dtype=float)
        ok = r > 0
        if not ok.any():
            continue
        lowest, highest = min(lowest, r[ok].min()), max(highest, r[ok].max())
        ax.step(r[ok], eff[ok], where="post", label=label)
    for i, x in enumerate(rates_hz or ()):
        ax.axvline(x, ls=":", color="grey", label="compared at" if i == 0 else None)
    ax.set_xscale("log")
    if np.isfinite(lowest):  # at most 6 decades: single weighted events make long tails
        ax.set_xlim(max(0.5 * lowest, 1e-6 * highest), 2 * highest)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("Background rate [Hz]")
    ax.set_ylabel(f"Efficiency ({signal})")
    ax.legend(fontsize=12)
    if title:
        ax.set_title(title, fontsize=14)
    return _save(fig, path)


def binned_efficiency(
    x: np.ndarray, passed: np.ndarray, bins: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Efficiency per bin of ``x`` with Clopper–Pearson 68% intervals on effective counts:
    ``(centres, eff, low, high)``; NaN where a bin is empty."""
    from hepml.trigger.rates import clopper_pearson

    x = np.asarray(x, dtype=float)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    ok = np.isfinite(x)
    tot, _ = np.histogram(x[ok], bins, weights=w[ok])
    tot2, _ = np.histogram(x[ok], bins, weights=(w * w)[ok])
    acc, _ = np.histogram(x[ok & passed], bins, weights=w[ok & passed])
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = acc / tot
        n = tot * tot / tot2
    lo, hi = clopper_pearson(eff, n)
    empty = tot <= 0
    eff, lo, hi = (np.where(empty, np.nan, a) for a in (eff, lo, hi))
    return 0.5 * (bins[1:] + bins[:-1]), eff, lo, hi


def turn_on_edges(xs, bins: int = 30) -> np.ndarray:
    """Bin edges of a turn-on curve over the values ``xs`` (arrays): ``bins`` equal bins
    from min(0, smallest) to the 99 % quantile, plus one bin up to the largest value when
    it lies beyond (the plateau's last events are not dropped)."""
    allx = np.concatenate([np.asarray(x, dtype=float) for x in xs] or [[0.0]])
    allx = allx[np.isfinite(allx)]
    hi = float(np.quantile(allx, 0.99)) if len(allx) else 1.0
    lo = min(0.0, float(allx.min())) if len(allx) else 0.0
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, int(bins) + 1)
    if len(allx) and allx.max() >= edges[-1]:
        edges = np.append(edges, np.nextafter(allx.max(), np.inf))
    return edges


@_styled
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
    if np.isscalar(bins) or np.ndim(bins) == 0:
        bins = turn_on_edges([c[0] for c in curves.values()], int(bins))
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


def _rows_of(rows):
    """Jet rows as an awkward array: rows themselves, or a file of ``hepml reconstruct``."""
    if isinstance(rows, str | os.PathLike):
        from hepml.graphs.jets import load_rows

        return load_rows(rows)
    return rows


@_styled
def jet_images(
    groups: Mapping[str, ak.Array | str | os.PathLike],
    path: str | os.PathLike | None = None,
    bins: int = 32,
    radius: float = 0.8,
    title: str | None = None,
):
    """The average jet image of each group: constituent :math:`p_T` fraction in
    :math:`(\\Delta\\eta, \\Delta\\phi)` around the jet axis, side by side (log colour scale,
    one scale for all groups).

    .. math::

        I_g(i, j) = \\frac{1}{N_g} \\sum_{\\mathrm{jets}} \\sum_{k \\in \\mathrm{pixel}\\,(i, j)}
        \\frac{p_{T,k}}{p_{T,\\mathrm{jet}}}

    ``groups`` maps a name to jet rows of ``hepml reconstruct`` (an awkward array with
    the per-jet ``part`` record of :data:`hepml.reco.FEATURE_NAMES`, or the path of such
    a file); the fraction is ``exp(log_pt_rel)``. Images are not rotated or flipped: the
    axes are the detector's. ``bins`` pixels per axis cover ``[-radius, radius]``.

    Example::

        jet_images({"top": load_rows("top.parquet"), "QCD": load_rows("qcd.parquet")},
                   "jet_images.png")
    """
    import awkward as ak
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Circle

    if not groups:
        raise ValueError("jet_images needs at least one group of jet rows")
    plt, _ = _plt()
    edges = np.linspace(-radius, radius, int(bins) + 1)
    images = {}
    for name, rows in groups.items():
        part = _rows_of(rows)["part"]
        n_jets = len(part)
        deta, dphi, log_rel = (
            np.asarray(ak.to_numpy(ak.flatten(part[f])), dtype=float)
            for f in ("deta", "dphi", "log_pt_rel")
        )
        h, _, _ = np.histogram2d(deta, dphi, bins=[edges, edges], weights=np.exp(log_rel))
        images[name] = (h / max(n_jets, 1), n_jets)
    vmax = max((im.max() for im, _ in images.values()), default=0.0)
    vmax = vmax if vmax > 0 else 1.0
    positive = [im[im > 0].min() for im, _ in images.values() if (im > 0).any()]
    vmin = max(min(positive, default=vmax * 1e-4), vmax * 1e-5)
    norm = LogNorm(vmin=vmin, vmax=vmax)
    base = plt.get_cmap("viridis")
    cmap = base.with_extremes(bad=base(0.0), under=base(0.0))  # empty pixels: the lowest colour
    n = len(images)
    fig, axes = plt.subplots(1, n, figsize=(7.5 * n + 1.5, 7.5), squeeze=False,
                             layout="constrained")  # fmt: skip
    mappable = None
    for ax, (name, (im, n_jets)) in zip(axes[0], images.items(), strict=True):
        masked = np.ma.masked_less_equal(im.T, 0.0)
        mappable = ax.imshow(masked, origin="lower", extent=(-radius, radius, -radius, radius),
                             cmap=cmap, norm=norm, interpolation="nearest", aspect="equal")  # fmt: skip
        ax.add_patch(Circle((0, 0), radius, fill=False, ls="--", lw=1.2, color="white"))
        ax.set_xlabel(r"$\Delta\eta$ (particle $-$ jet)")
        ax.set_ylabel(r"$\Delta\phi$ (particle $-$ jet)")
        ax.set_title(f"{name} ({n_jets} jets)", fontsize=18)
    cb = fig.colorbar(mappable, ax=axes[0].tolist(), shrink=0.9, pad=0.02)
    cb.set_label(r"$\langle p_T^{\mathrm{particle}} / p_T^{\mathrm{jet}} \rangle$ per pixel")
    if title:
        fig.suptitle(title, fontsize=18)
    return _save(fig, path)


_MAX_JETS_LISTED = 8

#: particle types of :func:`event_display` (as ParticleNet's one-hot features, see
#: :func:`hepml.kernels.features.particle_type`) and their colours
PARTICLE_TYPES = (
    ("charged hadron", "tab:blue"),
    ("neutral hadron", "tab:green"),
    ("photon", "tab:orange"),
    ("electron", "tab:red"),
    ("muon", "tab:purple"),
)


def _particle_types(pid: np.ndarray, charge: np.ndarray) -> np.ndarray:
    """0 charged hadron, 1 neutral hadron, 2 photon, 3 electron, 4 muon."""
    a = np.abs(pid)
    out = np.where(charge != 0, 0, 1)
    out = np.where(a == 22, 2, out)
    out = np.where(a == 11, 3, out)
    return np.where(a == 13, 4, out)


def _field(array, name: str, default=None) -> np.ndarray:
    """A field (or vector property such as ``pt``) of one event's records as floats."""
    import awkward as ak

    if name in array.fields:
        values = array[name]
    elif hasattr(array, name):  # a vector behaviour: pt, eta, phi ... from px, py, pz, E
        values = getattr(array, name)
    elif default is not None:
        return np.full(len(array), default, dtype=float)
    else:
        raise ValueError(f"event_display: no field {name!r} in {array.fields}")
    return np.asarray(ak.to_numpy(values), dtype=float)


@_styled
def event_display(
    particles: ak.Array,
    jets: ak.Array,
    path: str | os.PathLike | None = None,
    radius: float = 0.4,
    title: str | None = None,
    eta_max: float = 5.0,
):
    """One event in the :math:`(\\eta, \\phi)` plane: its particles (marker area
    :math:`\\propto p_T`, colour by type from ``pid`` and ``charge``) and its jets (axis
    and a circle of radius ``radius``).

    ``particles`` is one event's particles (``events.particles[i]``: fields px, py, pz,
    E, pid, charge, or vector behaviours); ``jets`` that event's jets as
    :func:`hepml.reco.cluster` gives them (``jets[i]``, or the whole output for a
    one-event array). Particles with :math:`|\\eta| >` ``eta_max`` lie outside the frame
    (counted in the legend); circles that cross :math:`\\phi = \\pm\\pi` wrap around.

    Example::

        jets = cluster(events.particles, "antikt", 0.4, pt_min=30.0)
        event_display(events.particles[0], jets[0], "event0.png", radius=0.4)
    """
    import awkward as ak
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle

    plt, _ = _plt()
    if isinstance(jets, ak.Array) and jets.ndim == 2:
        if len(jets) != 1:
            raise ValueError(
                f"event_display shows one event: pass that event's jets (jets[i]), not "
                f"{len(jets)} events' jets"
            )
        jets = jets[0]
    if isinstance(particles, ak.Array) and particles.ndim == 2:
        if len(particles) != 1:
            raise ValueError("event_display shows one event: pass events.particles[i]")
        particles = particles[0]
    px, py, pz = (_field(particles, f) for f in ("px", "py", "pz"))
    kind = _particle_types(_field(particles, "pid", 0), _field(particles, "charge", 0))
    pt = np.hypot(px, py)
    ok = pt > 0
    px, py, pz, pt, kind = px[ok], py[ok], pz[ok], pt[ok], kind[ok]
    eta = np.arcsinh(pz / pt)
    phi = np.arctan2(py, px)
    if len(jets):
        j_pt, j_eta, j_phi = (_field(jets, f) for f in ("pt", "eta", "phi"))
        j_mass = _field(jets, "mass", np.nan)
    else:
        j_pt = j_eta = j_phi = j_mass = np.zeros(0)
    lim = max(eta_max, float(np.max(np.abs(j_eta)) + radius) if len(j_eta) else 0.0)

    fig, ax = plt.subplots(figsize=(13, 8))
    scale = 1000.0 / max(float(pt.max()) if len(pt) else 1.0, 1e-9)
    order = np.argsort(-pt)  # the hardest first, so soft particles stay visible on top
    handles = []
    for t, (name, colour) in enumerate(PARTICLE_TYPES):
        sel = order[kind[order] == t]
        if len(sel) == 0:
            continue
        ax.scatter(eta[sel], phi[sel], s=np.maximum(pt[sel] * scale, 3.0), color=colour,
                   alpha=0.65, edgecolors="none", zorder=2)  # fmt: skip
        handles.append(Line2D([], [], ls="", marker="o", ms=9, color=colour, alpha=0.8,
                              label=f"{name} ({len(sel)})"))  # fmt: skip
    for k, (je, jp) in enumerate(zip(j_eta, j_phi, strict=True)):
        for shift in (-2 * np.pi, 0.0, 2 * np.pi):
            if abs(jp + shift) <= np.pi + radius:
                ax.add_patch(Circle((je, jp + shift), radius, fill=False, lw=1.8, color="k",
                                    zorder=3))  # fmt: skip
        ax.plot(je, jp, marker="x", ms=12, mew=2.5, color="k", ls="", zorder=4)
        # a short tag beside the circle; the numbers go into the legend (no overlaps)
        dy = 0.75 * radius if jp < np.pi - 1.2 * radius else -0.75 * radius
        ax.text(je + 0.75 * radius, jp + dy, f"j{k + 1}", ha="left", va="center", fontsize=14,
                fontweight="bold", zorder=5)  # fmt: skip
    if len(j_pt):
        handles.append(Line2D([], [], ls="", marker="x", ms=11, mew=2.5, color="k",
                              label=f"jet axes, R = {radius:g} ({len(j_pt)} jets)"))  # fmt: skip
        for k in range(min(len(j_pt), _MAX_JETS_LISTED)):
            mass = f", m = {j_mass[k]:.0f} GeV" if np.isfinite(j_mass[k]) else ""
            handles.append(
                Line2D([], [], ls="", label=f"j{k + 1}: $p_T$ = {j_pt[k]:.0f} GeV{mass}")
            )
        if len(j_pt) > _MAX_JETS_LISTED:
            handles.append(Line2D([], [], ls="", label=f"... {len(j_pt) - _MAX_JETS_LISTED} more"))
    outside = int(np.sum(np.abs(eta) > lim))
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-np.pi, np.pi)
    ax.set_yticks([-np.pi, -np.pi / 2, 0, np.pi / 2, np.pi])
    ax.set_yticklabels([r"$-\pi$", r"$-\pi/2$", "0", r"$\pi/2$", r"$\pi$"])
    ax.set_xlabel(r"Pseudorapidity $\eta$")
    ax.set_ylabel(r"Azimuth $\phi$ [rad]")
    head = f"{len(pt)} particles, area $\\propto p_T$"
    if outside:
        head += f"; {outside} at $|\\eta| > {lim:.3g}$ not shown"
    ax.legend(handles=handles, title=head, fontsize=14, title_fontsize=14, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)  # fmt: skip
    if title:
        ax.set_title(title, fontsize=16)
    return _save(fig, path)
