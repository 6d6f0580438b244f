r"""Rates, efficiencies and thresholds: the statistics of trigger emulation.

Each background event :math:`e` carries a rate weight :math:`r_e` in Hz
(:math:`r_e = L\,\sigma\,w_e / \sum w` with :math:`L` in cm⁻²s⁻¹ and σ in cm², or
:math:`r_e = R_{\rm in}\, w_e / \sum w` for data-like files). Then

.. math::

    R = \sum_{e\,\in\,\rm pass} r_e, \qquad \delta R = \sqrt{\sum_{e\,\in\,\rm pass} r_e^2}.

An efficiency is :math:`\varepsilon = \sum_{\rm pass} w_e / \sum w_e` with a
Clopper–Pearson interval on the effective counts
:math:`n_{\rm eff} = (\sum w)^2/\sum w^2` (exact for unit weights).

A threshold for a target rate is the smallest cut value :math:`t` (a decision is
``value > t``) whose rate does not exceed the target; its uncertainty is the
range of thresholds whose rates lie within :math:`R \pm \delta R`.

Example::

    r, dr = rate(passed, r_hz)
    eff, lo, hi = efficiency(passed, weights)
    th = solve_threshold(scores, r_hz, target_hz=20.0)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "PB_TO_CM2",
    "Threshold",
    "can_pass",
    "clopper_pearson",
    "efficiency",
    "rate",
    "rate_curve",
    "solve_threshold",
]

#: 1 pb in cm²
PB_TO_CM2 = 1e-36


def rate(passed: np.ndarray, r_hz: np.ndarray) -> tuple[float, float]:
    """Rate (Hz) of the passing events and its statistical error."""
    r = r_hz[passed]
    return float(r.sum()), float(np.sqrt((r * r).sum()))


def clopper_pearson(eff, n, cl: float = 0.6827):
    """Clopper–Pearson interval ``(low, high)`` of efficiencies ``eff`` measured on
    (effective) counts ``n``; numbers or arrays. Effective counts need not be
    integers, so the interval is widened to contain ``eff``."""
    from scipy.stats import beta

    eff, n = np.asarray(eff, dtype=float), np.asarray(n, dtype=float)
    k = eff * n
    a = (1 - cl) / 2
    with np.errstate(invalid="ignore"):
        lo = np.where(k > 0, beta.ppf(a, k, n - k + 1), 0.0)
        hi = np.where(k < n, beta.ppf(1 - a, k + 1, n - k), 1.0)
    return np.fmin(lo, eff), np.fmax(hi, eff)


def efficiency(
    passed: np.ndarray, weights: np.ndarray | None = None, cl: float = 0.6827
) -> tuple[float, float, float]:
    """Efficiency and its Clopper–Pearson interval (``cl``) on effective counts."""
    w = np.ones(len(passed)) if weights is None else np.asarray(weights, dtype=float)
    total, total2 = w.sum(), (w * w).sum()
    if not total > 0:  # (NaN too)
        return float("nan"), float("nan"), float("nan")
    eff = float(w[passed].sum() / total)
    lo, hi = clopper_pearson(eff, total * total / total2, cl)
    return eff, float(lo), float(hi)


@dataclass
class Threshold:
    """A threshold solved for ``target_hz``: ``value`` with its ±1σ range, the rate it
    gives, and whether the target was reached (never silently clipped)."""

    value: float
    low: float
    high: float
    rate_hz: float
    rate_err_hz: float
    target_hz: float
    reached: bool
    note: str = ""

    @property
    def error(self) -> float:
        return 0.5 * (self.high - self.low)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["error"] = self.error
        return d


def can_pass(values: np.ndarray) -> np.ndarray:
    """Events that some threshold ``t`` accepts with ``value > t``: not NaN (seed or
    preselection failed, object missing) and not -inf; +inf passes every threshold."""
    with np.errstate(invalid="ignore"):
        return values > -np.inf


def rate_curve(values: np.ndarray, r_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate as a function of the threshold: ``(thresholds, rate, error)`` where
    ``rate[i]`` counts the events with value above ``thresholds[i]`` (descending values)."""
    ok = can_pass(values)
    v, r = values[ok], r_hz[ok]
    order = np.argsort(-v, kind="stable")
    v, r = v[order], r[order]
    # events strictly above v[i]: those before the first index holding v[i]
    cum = np.concatenate([[0.0], np.cumsum(r)])
    cum2 = np.concatenate([[0.0], np.cumsum(r * r)])
    first = np.searchsorted(-v, -v, side="left")
    return v, cum[first], np.sqrt(cum2[first])


def solve_threshold(values: np.ndarray, r_hz: np.ndarray, target_hz: float) -> Threshold:
    """The loosest threshold ``t`` with ``rate(value > t) <= target_hz``.

    ``values`` are NaN for events that cannot pass (seed or preselection failed).
    When even the loosest cut stays below the target, the threshold accepts every
    candidate and ``reached`` is False; when a single event is above it,
    ``reached`` is False with a note on the sample's resolution.
    """
    thr, rates, errs = rate_curve(values, r_hz)
    if len(thr) == 0:
        return Threshold(np.inf, np.inf, np.inf, 0.0, 0.0, target_hz, False,
                         "no background event passes the seed and preselection")  # fmt: skip
    all_rate = float(np.sum(r_hz[can_pass(values)]))
    if all_rate <= target_hz:
        lowest = float(thr[-1])
        lo = lowest - 1e-9 * max(1.0, abs(lowest)) if np.isfinite(lowest) else np.finfo(float).max
        return Threshold(
            lo, lo, lo, all_rate, float(np.sqrt(np.sum(r_hz[can_pass(values)] ** 2))),
            target_hz, all_rate == target_hz,
            "" if all_rate == target_hz else
            f"target {target_hz:g} Hz not reachable: the preselection alone gives "
            f"{all_rate:.4g} Hz; the path accepts every candidate",
        )  # fmt: skip
    ok = np.flatnonzero(rates <= target_hz)  # rates is non-decreasing along thr (descending)
    i = int(ok[-1])  # loosest threshold at or below the target
    t = float(thr[i])
    r, dr = float(rates[i]), float(errs[i])
    note = ""
    if r == 0.0:
        n_top = int(np.sum(thr == thr[0]))
        if n_top > 1:  # (a variable of few values, such as a count)
            note = (
                f"target {target_hz:g} Hz not reachable: the highest value, {thr[0]:g}, is "
                f"shared by {n_top} background events "
                f"({float(np.sum(r_hz[values == thr[0]])):.4g} Hz together); no threshold "
                "separates them"
            )
        else:
            note = (
                f"target {target_hz:g} Hz is below one background event's rate "
                f"({float(np.sum(r_hz[values == thr[0]])):.3g} Hz, the one with the highest value): "
                "more background events needed"
            )
    # ±1σ: thresholds whose rate lies in [r - dr, r + dr]
    within = np.flatnonzero((rates >= r - dr) & (rates <= r + dr))
    high = float(thr[within[0]]) if len(within) else t
    low = float(thr[within[-1]]) if len(within) else t
    return Threshold(t, low, high, r, dr, target_hz, r > 0, note)
