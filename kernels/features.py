"""Per-particle jet features as ParticleNet uses them (arXiv:1902.08570, Table 1).

Input: the constituents of many jets as flat buffers — particle ``px, py, pz, e``
(float64), ``charge`` and ``pid`` (int32), ``jet_offsets`` (jet ``j`` owns
``content[jet_offsets[j]:jet_offsets[j+1]]``) — and each jet's four-momentum.

Output, per jet, its constituents ordered by decreasing :math:`p_T` (at most
``max_particles`` of them, all when ``max_particles < 0``):

=====  ==========================================================
col    feature
=====  ==========================================================
0      :math:`\\Delta\\eta = \\eta - \\eta_\\mathrm{jet}`
1      :math:`\\Delta\\phi = \\phi - \\phi_\\mathrm{jet}` wrapped to :math:`(-\\pi, \\pi]`
2      :math:`\\log p_T`
3      :math:`\\log E`
4      :math:`\\log (p_T / p_{T,\\mathrm{jet}})`
5      :math:`\\log (E / E_\\mathrm{jet})`
6      :math:`\\Delta R = \\sqrt{\\Delta\\eta^2 + \\Delta\\phi^2}`
7      charge
8-12   one-hot type: charged hadron, neutral hadron, photon, electron, muon
=====  ==========================================================

Logarithms of values at or below ``1e-8`` (zero included) are floored at ``log(1e-8)``
so that no feature is infinite and ultra-soft particles do not stretch the inputs.

Example::

    feats, order, out_offsets = jet_particle_features(
        px, py, pz, e, charge, pid, jet_offsets, jpx, jpy, jpz, je, 100
    )
    # feats[out_offsets[j]:out_offsets[j+1]] are jet j's particles, hardest first;
    # order maps each row back to its index in the input content.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .checks import check_offsets
from .fourvec import delta_phi, eta, phi_std, pt

__all__ = ["FEATURE_NAMES", "N_FEATURES", "jet_particle_features", "particle_type"]

FEATURE_NAMES = (
    "deta",
    "dphi",
    "log_pt",
    "log_e",
    "log_pt_rel",
    "log_e_rel",
    "delta_r",
    "charge",
    "is_charged_hadron",
    "is_neutral_hadron",
    "is_photon",
    "is_electron",
    "is_muon",
)
N_FEATURES = len(FEATURE_NAMES)
_LOG_FLOOR = math.log(1e-8)


@numba.njit(cache=True)
def _safe_log(x: float) -> float:
    return math.log(x) if x > 1e-8 else _LOG_FLOOR


@numba.njit(cache=True)
def particle_type(pid: int, charge: int) -> int:
    """0 charged hadron, 1 neutral hadron, 2 photon, 3 electron, 4 muon."""
    a = abs(pid)
    if a == 11:
        return 3
    if a == 13:
        return 4
    if a == 22:
        return 2
    if charge != 0:
        return 0
    return 1


@numba.njit(cache=True, parallel=True)
def jet_particle_features(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    charge: np.ndarray,
    pid: np.ndarray,
    jet_offsets: np.ndarray,
    jet_px: np.ndarray,
    jet_py: np.ndarray,
    jet_pz: np.ndarray,
    jet_e: np.ndarray,
    max_particles: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features of every jet's constituents, hardest first.

    Shapes: particle arrays ``(n,)``; ``jet_offsets`` ``(n_jets + 1,)``; jet arrays
    ``(n_jets,)``. Returns ``features`` float32 ``(m, 13)``, ``order`` int64 ``(m,)``
    (row -> input index) and ``out_offsets`` int64 ``(n_jets + 1,)``.
    """
    n = px.shape[0]
    check_offsets(
        jet_offsets, n, (py.shape[0], pz.shape[0], e.shape[0], charge.shape[0], pid.shape[0])
    )
    n_jets = jet_offsets.shape[0] - 1
    if (
        jet_px.shape[0] != n_jets
        or jet_py.shape[0] != n_jets
        or jet_pz.shape[0] != n_jets
        or jet_e.shape[0] != n_jets
    ):
        raise ValueError("jet arrays: one entry per jet of jet_offsets needed")
    counts = np.empty(n_jets, dtype=np.int64)
    for j in range(n_jets):
        c = jet_offsets[j + 1] - jet_offsets[j]
        counts[j] = c if max_particles < 0 or c < max_particles else max_particles
    out_offsets = np.zeros(n_jets + 1, dtype=np.int64)
    for j in range(n_jets):
        out_offsets[j + 1] = out_offsets[j] + counts[j]
    m = out_offsets[n_jets]
    feats = np.zeros((m, N_FEATURES), dtype=np.float32)
    order = np.empty(m, dtype=np.int64)
    for j in numba.prange(n_jets):
        lo = jet_offsets[j]
        hi = jet_offsets[j + 1]
        npart = hi - lo
        pts = np.empty(npart)
        for i in range(npart):
            pts[i] = pt(px[lo + i], py[lo + i])
        # stable ordering by decreasing pT (ties keep input order)
        idx = np.argsort(-pts, kind="mergesort")
        jpt = pt(jet_px[j], jet_py[j])
        jeta = eta(jet_px[j], jet_py[j], jet_pz[j])
        jphi = phi_std(jet_px[j], jet_py[j])
        je = jet_e[j]
        base = out_offsets[j]
        for r in range(counts[j]):
            k = lo + idx[r]
            ppt = pts[idx[r]]
            deta = eta(px[k], py[k], pz[k]) - jeta
            dphi = delta_phi(phi_std(px[k], py[k]), jphi)
            row = base + r
            order[row] = k
            feats[row, 0] = deta
            feats[row, 1] = dphi
            feats[row, 2] = _safe_log(ppt)
            feats[row, 3] = _safe_log(e[k])
            feats[row, 4] = _safe_log(ppt / jpt) if jpt > 0 else _LOG_FLOOR
            feats[row, 5] = _safe_log(e[k] / je) if je > 0 else _LOG_FLOOR
            feats[row, 6] = math.sqrt(deta * deta + dphi * dphi)
            feats[row, 7] = charge[k]
            feats[row, 8 + particle_type(pid[k], charge[k])] = 1.0
    return feats, order, out_offsets
