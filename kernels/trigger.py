"""Trigger primitives on objects of many events (pt, eta, phi, mass content + offsets).

Every function loops over events in parallel and returns one value per event.
Objects pass when :math:`p_T > p_{T,\\min}` and :math:`|\\eta| < \\eta_\\max`.

.. math::

    H_T = \\sum_{\\text{pass}} p_T,\\qquad
    \\vec{H}_T^{\\text{miss}} = -\\sum_{\\text{pass}} \\vec p_T,\\qquad
    m_{ij} = \\sqrt{(E_i + E_j)^2 - |\\vec p_i + \\vec p_j|^2}

Example::

    ht = ht_kernel(pt, eta, offsets, 30.0, 2.5)
    n = count_kernel(pt, eta, offsets, 30.0, 2.5)
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .checks import check_offsets
from .fourvec import ptetaphim_to_xyze

__all__ = [
    "count_kernel",
    "ht_kernel",
    "leading_kernel",
    "max_pair_mass_kernel",
    "mht_kernel",
    "pair_mass_kernel",
]


@numba.njit(cache=True, parallel=True)
def ht_kernel(
    pt: np.ndarray, eta: np.ndarray, offsets: np.ndarray, pt_min: float, eta_max: float
) -> np.ndarray:
    """Scalar sum of the passing objects' :math:`p_T`, shape ``(n_events,)``."""
    check_offsets(offsets, pt.shape[0], (eta.shape[0],))
    n = offsets.shape[0] - 1
    out = np.zeros(n)
    for ev in numba.prange(n):
        s = 0.0
        for i in range(offsets[ev], offsets[ev + 1]):
            if pt[i] > pt_min and abs(eta[i]) < eta_max:
                s += pt[i]
        out[ev] = s
    return out


@numba.njit(cache=True, parallel=True)
def mht_kernel(
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    offsets: np.ndarray,
    pt_min: float,
    eta_max: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude and azimuth of :math:`-\\sum \\vec p_T` of the passing objects."""
    check_offsets(offsets, pt.shape[0], (eta.shape[0], phi.shape[0]))
    n = offsets.shape[0] - 1
    mag = np.zeros(n)
    ang = np.zeros(n)
    for ev in numba.prange(n):
        sx = 0.0
        sy = 0.0
        for i in range(offsets[ev], offsets[ev + 1]):
            if pt[i] > pt_min and abs(eta[i]) < eta_max:
                sx -= pt[i] * math.cos(phi[i])
                sy -= pt[i] * math.sin(phi[i])
        mag[ev] = math.hypot(sx, sy)
        ang[ev] = math.atan2(sy, sx)
    return mag, ang


@numba.njit(cache=True, parallel=True)
def count_kernel(
    pt: np.ndarray, eta: np.ndarray, offsets: np.ndarray, pt_min: float, eta_max: float
) -> np.ndarray:
    """Number of passing objects, int64 ``(n_events,)``."""
    check_offsets(offsets, pt.shape[0], (eta.shape[0],))
    n = offsets.shape[0] - 1
    out = np.zeros(n, dtype=np.int64)
    for ev in numba.prange(n):
        c = 0
        for i in range(offsets[ev], offsets[ev + 1]):
            if pt[i] > pt_min and abs(eta[i]) < eta_max:
                c += 1
        out[ev] = c
    return out


@numba.njit(cache=True, parallel=True)
def leading_kernel(
    values: np.ndarray, pt: np.ndarray, offsets: np.ndarray, rank: int, fill: float
) -> np.ndarray:
    """``values`` of the object with the ``rank``-th highest :math:`p_T` (0 = leading)
    in each event, ``fill`` where an event has too few objects."""
    check_offsets(offsets, values.shape[0], (pt.shape[0],))
    n = offsets.shape[0] - 1
    out = np.full(n, fill)
    for ev in numba.prange(n):
        lo = offsets[ev]
        m = offsets[ev + 1] - lo
        if 0 <= rank < m:
            order = np.argsort(-pt[lo : lo + m], kind="mergesort")
            out[ev] = values[lo + order[rank]]
    return out


@numba.njit(cache=True)
def _pair_mass(pt1, eta1, phi1, m1, pt2, eta2, phi2, m2) -> float:
    ax, ay, az, ae = ptetaphim_to_xyze(pt1, eta1, phi1, m1)
    bx, by, bz, be = ptetaphim_to_xyze(pt2, eta2, phi2, m2)
    x = ax + bx
    y = ay + by
    z = az + bz
    t = ae + be
    m2_ = t * t - x * x - y * y - z * z
    return math.sqrt(m2_) if m2_ > 0.0 else 0.0


@numba.njit(cache=True, parallel=True)
def pair_mass_kernel(
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    mass: np.ndarray,
    offsets: np.ndarray,
    fill: float,
) -> np.ndarray:
    """Invariant mass of the two highest-:math:`p_T` objects, ``fill`` with fewer than two."""
    check_offsets(offsets, pt.shape[0], (eta.shape[0], phi.shape[0], mass.shape[0]))
    n = offsets.shape[0] - 1
    out = np.full(n, fill)
    for ev in numba.prange(n):
        lo = offsets[ev]
        m = offsets[ev + 1] - lo
        if m >= 2:
            order = np.argsort(-pt[lo : lo + m], kind="mergesort")
            a = lo + order[0]
            b = lo + order[1]
            out[ev] = _pair_mass(pt[a], eta[a], phi[a], mass[a], pt[b], eta[b], phi[b], mass[b])
    return out


@numba.njit(cache=True, parallel=True)
def max_pair_mass_kernel(
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    mass: np.ndarray,
    offsets: np.ndarray,
    pt_min: float,
    eta_max: float,
    fill: float,
) -> np.ndarray:
    """Largest invariant mass over all pairs of passing objects (dijet :math:`m_{jj}`)."""
    check_offsets(offsets, pt.shape[0], (eta.shape[0], phi.shape[0], mass.shape[0]))
    n = offsets.shape[0] - 1
    out = np.full(n, fill)
    for ev in numba.prange(n):
        best = -1.0
        for a in range(offsets[ev], offsets[ev + 1]):
            if not (pt[a] > pt_min and abs(eta[a]) < eta_max):
                continue
            for b in range(a + 1, offsets[ev + 1]):
                if not (pt[b] > pt_min and abs(eta[b]) < eta_max):
                    continue
                mm = _pair_mass(pt[a], eta[a], phi[a], mass[a], pt[b], eta[b], phi[b], mass[b])
                if mm > best:
                    best = mm
        if best >= 0.0:
            out[ev] = best
    return out
