r"""Relative isolation of particles: the scalar pT of the other particles around each one.

For candidate particle :math:`i` of an event,

.. math::

    I_i = \frac{1}{p_{T,i}} \sum_{j \ne i,\ \Delta R_{ij} < R} p_{T,j},
    \qquad \Delta R_{ij}^2 = (\eta_i - \eta_j)^2 + \Delta\phi_{ij}^2

(:math:`\Delta\phi` wrapped into :math:`[-\pi, \pi]`). Non-candidates get 0.
Loops run over events in parallel; the cost is candidates × particles per event.

Example::

    iso = relative_isolation_kernel(pt, eta, phi, offsets, is_candidate, 0.3)
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .checks import check_offsets

__all__ = ["relative_isolation_kernel"]


@numba.njit(cache=True, parallel=True)
def relative_isolation_kernel(
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    offsets: np.ndarray,
    candidate: np.ndarray,
    radius: float,
) -> np.ndarray:
    check_offsets(offsets, pt.shape[0], (eta.shape[0], phi.shape[0], candidate.shape[0]))
    out = np.zeros(len(pt), dtype=np.float64)
    r2 = radius * radius
    for ev in numba.prange(len(offsets) - 1):
        lo, hi = offsets[ev], offsets[ev + 1]
        for i in range(lo, hi):
            if not candidate[i] or pt[i] <= 0.0:
                continue
            s = 0.0
            for j in range(lo, hi):
                if j == i:
                    continue
                dphi = phi[j] - phi[i]
                if dphi > math.pi:
                    dphi -= 2.0 * math.pi
                elif dphi < -math.pi:
                    dphi += 2.0 * math.pi
                deta = eta[j] - eta[i]
                if deta * deta + dphi * dphi < r2:
                    s += pt[j]
            out[i] = s / pt[i]
    return out
