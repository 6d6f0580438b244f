"""Jet substructure: N-subjettiness, soft drop, jet mass, reproducing FastJet contrib.

What
----
Per-jet observables on flat constituent buffers, computed exactly as FastJet
contrib computes them (``Nsubjettiness`` with ``KT_Axes``, ``RecursiveTools``
``SoftDrop``), using the FastJet-exact clustering of :mod:`hepml.kernels.cluster`
for the reclustering steps.

Buffers: the constituents of many jets as float64 ``px, py, pz, e`` of shape
``(n,)`` and int64 ``offsets`` of shape ``(n_jets + 1,)``; jet ``j`` owns
``content[offsets[j]:offsets[j+1]]``. Batch functions run in parallel over jets.

N-subjettiness (J. Thaler, K. Van Tilburg, arXiv:1011.2268)
---------------------------------------------------------------
With the :math:`N` axes :math:`a` being the exclusive-kt subjets of the jet
(the constituents reclustered with kt, E-scheme, :math:`R = 1000` — FastJet's
``JetDefinition::max_allowable_R``, as contrib's ``KT_Axes`` does — and
stopped at :math:`N` jets),

.. math::
    \\tau_N^{\\text{unnorm}} = \\sum_k p_{T,k} \\min_a \\Delta R_{ka}^{\\beta}, \\qquad
    \\tau_N^{\\text{norm}} = \\frac{\\tau_N^{\\text{unnorm}}}{\\sum_k p_{T,k} R_0^{\\beta}},

:math:`\\Delta R^2_{ka} = (y_k - y_a)^2 + \\Delta\\phi_{ka}^2` in **rapidity**
:math:`y` (not pseudorapidity) and azimuth, as contrib's default ``pt_R``
measure (``PseudoJet::squared_distance``). The normalised form is contrib's
``NormalizedMeasure(beta, R0)`` (CMS NanoAOD's ``tau1..3`` convention, with its
one-pass axes instead); the unnormalised one is ``UnnormalizedMeasure(beta)``
(GeV). A jet with :math:`n \\le N` constituents has :math:`\\tau_N = 0`
(contrib's convention: every constituent is then its own axis).

Soft drop (A. Larkoski, S. Marzani, G. Soyez, J. Thaler, arXiv:1402.2657)
-----------------------------------------------------------------------------
The constituents are reclustered with Cambridge/Aachen at :math:`R = 1000`
(contrib's default ``Recluster(cambridge_algorithm, max_allowable_R)``, keeping
the hardest inclusive jet) and declustered from the top: a node with parents
:math:`j_1, j_2` (ordered by decreasing :math:`p_T`) passes when

.. math::
    z = \\frac{\\min(p_{T,1}, p_{T,2})}{p_{T,1} + p_{T,2}}
      > z_{\\text{cut}} \\left(\\frac{\\Delta R_{12}}{R_0}\\right)^{\\beta}

(``scalar_z`` symmetry measure, rapidity–azimuth :math:`\\Delta R`). If it
fails, the softer parent is dropped and the harder one declustered next. The
groomed jet is the first passing node (its four-momentum is that node's
pseudojet), or the last single constituent when none passes (grooming mode).
:math:`z_g` and :math:`R_g` are :math:`z` and :math:`\\Delta R_{12}` of the
passing node, ``-1`` when no node passes (FastJet's ``symmetry()`` and
``delta_R()``). This is what the ``fastjet`` package's
``exclusive_jets_softdrop_grooming(njets=1, beta, symmetry_cut, "scalar_z", R0)``
returns for a cluster sequence that holds one jet's constituents. A node of zero
:math:`p_T` met on the way gives a zero groomed jet, as contrib does.

Both agree with FastJet 3.5.2 / fjcontrib to the last bit on Pythia jets and on
random jets with exactly duplicated particles (``tests/kernels/test_substructure.py``).

API
---
Single jet (``px, py, pz, e`` float64 ``(n,)``):

* ``nsubjettiness(px, py, pz, e, R0=0.8, beta=1.0, normalized=True) -> float64 (3,)``:
  :math:`\\tau_1, \\tau_2, \\tau_3`.
* ``soft_drop(px, py, pz, e, z_cut=0.1, beta=0.0, R0=0.8) ->
  (groomed float64 (4,), msd, n_groomed, zg, rg, keep bool (n,))``.

Many jets (content + ``offsets``; parallel over jets):

* ``nsubjettiness_batch(px, py, pz, e, offsets, R0=0.8, beta=1.0, normalized=True)
  -> float64 (n_jets, 3)``.
* ``soft_drop_batch(px, py, pz, e, offsets, z_cut=0.1, beta=0.0, R0=0.8) ->
  (groomed float64 (n_jets, 4) [px, py, pz, E], msd float64 (n_jets,),
  n_groomed int64 (n_jets,))``.
* ``soft_drop_details_batch(...)`` (same arguments) ``-> (groomed, msd,
  n_groomed, zg (n_jets,), rg (n_jets,), keep bool (n,))``; ``keep`` marks the
  constituents of the groomed jet.
* ``jet_p4_batch(px, py, pz, e, offsets) -> float64 (n_jets, 4)``,
  ``jet_mass_batch(px, py, pz, e, offsets) -> float64 (n_jets,)``,
  ``n_constituents_batch(offsets) -> int64 (n_jets,)``.

A jet with no constituents gives zeros (``n_groomed = 0``, ``zg = rg = -1``).
A jet with a NaN/inf constituent is not clustered: its floats are NaN,
``n_groomed = -1`` and ``keep`` is False for its constituents. Offsets that are
not non-decreasing within ``[0, n]`` raise ``ValueError``.

Example::

    import numpy as np
    from hepml.kernels.substructure import nsubjettiness_batch, soft_drop_batch
    taus = nsubjettiness_batch(px, py, pz, e, offsets, 0.8, 1.0)   # (n_jets, 3)
    tau21 = taus[:, 1] / taus[:, 0]
    groomed, msd, n_groomed = soft_drop_batch(px, py, pz, e, offsets, 0.1, 0.0, 0.8)
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .checks import check_offsets
from .cluster import (
    CAMBRIDGE,
    HIST_JET,
    HIST_PARENT1,
    HIST_PARENT2,
    INEXISTENT_PARENT,
    KT,
    cluster_sequence,
    constituents,
    exclusive_jets,
    inclusive_jets,
)
from .fourvec import PI, TWOPI, mass, phi, rapidity

__all__ = [
    "MAX_ALLOWABLE_R",
    "jet_mass_batch",
    "jet_p4_batch",
    "n_constituents_batch",
    "nsubjettiness",
    "nsubjettiness_batch",
    "soft_drop",
    "soft_drop_batch",
    "soft_drop_details_batch",
]

#: FastJet's ``JetDefinition::max_allowable_R``: the radius contrib uses to
#: recluster a whole jet (``KT_Axes``, soft drop's C/A reclustering).
MAX_ALLOWABLE_R = 1000.0

_N_TAU = 3
_DBL_MAX = np.finfo(np.float64).max

# soft-drop outcomes
_SD_OK = 0
_SD_EMPTY = 1
_SD_NONFINITE = 2
_SD_ZERO = 3  # contrib's recursion_issue: a zero jet is returned


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _plain_distance(y1, phi1, y2, phi2):
    """FastJet's ``PseudoJet::plain_distance`` (= ``squared_distance``) for azimuths
    in :math:`[0, 2\\pi)`: :math:`\\Delta y^2 + \\Delta\\phi^2`."""
    dphi = abs(phi1 - phi2)
    if dphi > PI:
        dphi = TWOPI - dphi
    drap = y1 - y2
    return dphi * dphi + drap * drap


@numba.njit(cache=True)
def _slice(a, lo, hi):
    out = np.empty(hi - lo)
    for i in range(hi - lo):
        out[i] = a[lo + i]
    return out


# --------------------------------------------------------------------------
# N-subjettiness
# --------------------------------------------------------------------------


@numba.njit(cache=True)
def _nsub_into(px, py, pz, e, R0, beta, normalized, out):
    """τ1..τ3 of one jet into ``out`` (3,)."""
    n = px.shape[0]
    for k in range(_N_TAU):
        out[k] = 0.0
    if n == 0:
        return
    hist, _, jets = cluster_sequence(px, py, pz, e, MAX_ALLOWABLE_R, KT)
    if hist.shape[0] == 0:  # a NaN/inf component: not clustered
        for k in range(_N_TAU):
            out[k] = np.nan
        return
    rap = np.empty(n)
    phi_ = np.empty(n)
    pt = np.empty(n)
    for i in range(n):
        rap[i] = rapidity(px[i], py[i], pz[i], e[i])
        phi_[i] = phi(px[i], py[i])
        pt[i] = math.sqrt(px[i] * px[i] + py[i] * py[i])
    r0b = R0**beta
    half_beta = beta / 2.0
    assign = np.empty(n, np.int64)
    axis_rap = np.empty(_N_TAU)
    axis_phi = np.empty(_N_TAU)
    pieces = np.empty(_N_TAU)
    for nax in range(1, _N_TAU + 1):
        if n <= nax:
            continue  # every constituent is an axis: tau = 0
        rows = exclusive_jets(hist, nax)
        for a in range(nax):
            r = rows[a]
            axis_rap[a] = rapidity(jets[r, 0], jets[r, 1], jets[r, 2], jets[r, 3])
            axis_phi[a] = phi(jets[r, 0], jets[r, 1])
            pieces[a] = 0.0
        for i in range(n):
            best = _DBL_MAX
            ibest = -1
            for a in range(nax):
                d2 = _plain_distance(rap[i], phi_[i], axis_rap[a], axis_phi[a])
                if d2 < best:
                    best = d2
                    ibest = a
            assign[i] = ibest
            if ibest >= 0 and best > 0.0:
                pieces[ibest] += pt[i] * best**half_beta
        tau = 0.0
        for a in range(nax):
            tau += pieces[a]
        if normalized:
            # summed partition by partition, as contrib does (same rounding)
            den = 0.0
            for a in range(nax):
                for i in range(n):
                    if assign[i] == a:
                        den += pt[i] * r0b
            tau = tau / den if den > 0.0 else 0.0
        out[nax - 1] = tau


@numba.njit(cache=True)
def nsubjettiness(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    R0: float = 0.8,
    beta: float = 1.0,
    normalized: bool = True,
) -> np.ndarray:
    """N-subjettiness :math:`\\tau_1, \\tau_2, \\tau_3` of one jet (arXiv:1011.2268).

    .. math::
        \\tau_N = \\frac{\\sum_k p_{T,k} \\min_a \\Delta R_{ka}^{\\beta}}
                      {\\sum_k p_{T,k} R_0^{\\beta}}

    with exclusive-kt axes (R = 1000) and :math:`\\Delta R` in (rapidity, φ);
    ``normalized=False`` drops the denominator (GeV). Equal to FastJet contrib's
    ``Nsubjettiness(N, KT_Axes(), NormalizedMeasure(beta, R0))`` (or
    ``UnnormalizedMeasure(beta)``). ``px, py, pz, e``: float64 ``(n,)``;
    returns float64 ``(3,)``; :math:`\\tau_N = 0` when :math:`n \\le N`.

    Example: ``tau1, tau2, tau3 = nsubjettiness(px, py, pz, e, 0.8, 1.0)``.
    """
    out = np.zeros(_N_TAU)
    _nsub_into(px, py, pz, e, R0, beta, normalized, out)
    return out


@numba.njit(cache=True, parallel=True)
def nsubjettiness_batch(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    offsets: np.ndarray,
    R0: float = 0.8,
    beta: float = 1.0,
    normalized: bool = True,
) -> np.ndarray:
    """:func:`nsubjettiness` of every jet: float64 ``(n_jets, 3)``, columns τ1, τ2, τ3.

    ``normalized=True`` (default): :math:`\\tau_N / \\sum_k p_{T,k} R_0^\\beta`
    (dimensionless, contrib's ``NormalizedMeasure``); ``False``: the sum in GeV
    (``UnnormalizedMeasure``). ``R0`` only enters the normalisation.
    """
    check_offsets(offsets, px.shape[0], (py.shape[0], pz.shape[0], e.shape[0]))
    n_jets = offsets.shape[0] - 1
    out = np.zeros((n_jets, _N_TAU))
    for j in numba.prange(n_jets):
        lo = offsets[j]
        hi = offsets[j + 1]
        _nsub_into(
            _slice(px, lo, hi),
            _slice(py, lo, hi),
            _slice(pz, lo, hi),
            _slice(e, lo, hi),
            R0,
            beta,
            normalized,
            out[j],
        )
    return out


# --------------------------------------------------------------------------
# soft drop
# --------------------------------------------------------------------------


@numba.njit(cache=True)
def _soft_drop_node(px, py, pz, e, z_cut, beta, R0):
    """Recluster with C/A and decluster; returns ``(status, hist, jets, h, zg, rg)``
    with ``h`` the history row of the groomed pseudojet when ``status == _SD_OK``."""
    n = px.shape[0]
    hist, dij, jets = cluster_sequence(px, py, pz, e, MAX_ALLOWABLE_R, CAMBRIDGE)
    if n == 0:
        return _SD_EMPTY, hist, jets, -1, -1.0, -1.0
    if hist.shape[0] == 0:
        return _SD_NONFINITE, hist, jets, -1, np.nan, np.nan
    # the hardest inclusive C/A jet (Recluster's keep_only_hardest)
    root = inclusive_jets(hist, dij, jets, CAMBRIDGE, 0.0)[0]
    h = root
    if root >= n:
        for r in range(hist.shape[0] - 1, n - 1, -1):
            if hist[r, HIST_JET] == root:
                h = r
                break
    R0sqr = R0 * R0
    while True:
        p1 = hist[h, HIST_PARENT1]
        if p1 == INEXISTENT_PARENT:  # a single constituent: no substructure
            return _SD_OK, hist, jets, h, -1.0, -1.0
        p2 = hist[h, HIST_PARENT2]
        j = hist[h, HIST_JET]
        if jets[j, 0] * jets[j, 0] + jets[j, 1] * jets[j, 1] <= 0.0:
            return _SD_ZERO, hist, jets, -1, -1.0, -1.0
        a = hist[p1, HIST_JET]
        b = hist[p2, HIST_JET]
        kt2a = jets[a, 0] * jets[a, 0] + jets[a, 1] * jets[a, 1]
        kt2b = jets[b, 0] * jets[b, 0] + jets[b, 1] * jets[b, 1]
        if kt2a < kt2b:  # has_parents: decreasing pt
            a, b = b, a
            p1, p2 = p2, p1
            kt2a, kt2b = kt2b, kt2a
        pta = math.sqrt(kt2a)
        ptb = math.sqrt(kt2b)
        s = pta + ptb
        if s == 0.0:
            return _SD_ZERO, hist, jets, -1, -1.0, -1.0
        sym = min(pta, ptb) / s
        dr2 = _plain_distance(
            rapidity(jets[a, 0], jets[a, 1], jets[a, 2], jets[a, 3]),
            phi(jets[a, 0], jets[a, 1]),
            rapidity(jets[b, 0], jets[b, 1], jets[b, 2], jets[b, 3]),
            phi(jets[b, 0], jets[b, 1]),
        )
        cut = z_cut * (dr2 / R0sqr) ** (0.5 * beta)
        if sym > cut:
            return _SD_OK, hist, jets, h, sym, math.sqrt(dr2)
        h = p1  # drop the softer branch, follow the harder one


@numba.njit(cache=True)
def _soft_drop_into(px, py, pz, e, z_cut, beta, R0, p4, keep):
    """Soft drop of one jet: groomed four-momentum into ``p4`` (4,), constituents
    kept into ``keep`` (n,); returns ``(msd, n_groomed, zg, rg)``."""
    n = px.shape[0]
    for i in range(n):
        keep[i] = False
    status, hist, jets, h, zg, rg = _soft_drop_node(px, py, pz, e, z_cut, beta, R0)
    if status == _SD_OK:
        jr = hist[h, HIST_JET]
        for c in range(4):
            p4[c] = jets[jr, c]
        idx = constituents(hist, jr)
        for i in range(idx.shape[0]):
            keep[idx[i]] = True
        return mass(p4[0], p4[1], p4[2], p4[3]), idx.shape[0], zg, rg
    if status == _SD_NONFINITE:
        for c in range(4):
            p4[c] = np.nan
        return np.nan, -1, np.nan, np.nan
    for c in range(4):
        p4[c] = 0.0
    return 0.0, 0, -1.0, -1.0


@numba.njit(cache=True)
def soft_drop(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    z_cut: float = 0.1,
    beta: float = 0.0,
    R0: float = 0.8,
) -> tuple[np.ndarray, float, int, float, float, np.ndarray]:
    """Soft drop of one jet (arXiv:1402.2657), as FastJet contrib's ``SoftDrop``.

    .. math:: \\frac{\\min(p_{T,1}, p_{T,2})}{p_{T,1} + p_{T,2}}
              > z_{\\text{cut}} \\left(\\frac{\\Delta R_{12}}{R_0}\\right)^{\\beta}

    on the C/A (R = 1000) declustering of the constituents, following the
    harder branch. ``β = 0`` is the modified mass-drop tagger. Returns the
    groomed ``(px, py, pz, E)`` float64 ``(4,)``, its mass, its number of
    constituents, :math:`z_g` and :math:`R_g` (``-1`` when no splitting passes)
    and ``keep`` bool ``(n,)`` (constituents of the groomed jet).

    Example: ``p4, msd, n_sd, zg, rg, keep = soft_drop(px, py, pz, e, 0.1, 0.0, 0.8)``.
    """
    p4 = np.zeros(4)
    keep = np.zeros(px.shape[0], np.bool_)
    msd, ng, zg, rg = _soft_drop_into(px, py, pz, e, z_cut, beta, R0, p4, keep)
    return p4, msd, ng, zg, rg, keep


@numba.njit(cache=True, parallel=True)
def soft_drop_details_batch(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    offsets: np.ndarray,
    z_cut: float = 0.1,
    beta: float = 0.0,
    R0: float = 0.8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`soft_drop` of every jet.

    Returns ``groomed`` float64 ``(n_jets, 4)`` (px, py, pz, E), ``msd``
    ``(n_jets,)``, ``n_groomed`` int64 ``(n_jets,)``, ``zg`` and ``rg``
    ``(n_jets,)`` (``-1``: no splitting passed) and ``keep`` bool ``(n,)``
    (the constituents that survive grooming).
    """
    check_offsets(offsets, px.shape[0], (py.shape[0], pz.shape[0], e.shape[0]))
    n_jets = offsets.shape[0] - 1
    groomed = np.zeros((n_jets, 4))
    msd = np.zeros(n_jets)
    n_groomed = np.zeros(n_jets, np.int64)
    zg = np.zeros(n_jets)
    rg = np.zeros(n_jets)
    keep = np.zeros(px.shape[0], np.bool_)
    for j in numba.prange(n_jets):
        lo = offsets[j]
        hi = offsets[j + 1]
        kj = np.empty(hi - lo, np.bool_)
        m, ng, z, r = _soft_drop_into(
            _slice(px, lo, hi),
            _slice(py, lo, hi),
            _slice(pz, lo, hi),
            _slice(e, lo, hi),
            z_cut,
            beta,
            R0,
            groomed[j],
            kj,
        )
        msd[j] = m
        n_groomed[j] = ng
        zg[j] = z
        rg[j] = r
        for i in range(hi - lo):
            keep[lo + i] = kj[i]
    return groomed, msd, n_groomed, zg, rg, keep


def soft_drop_batch(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    offsets: np.ndarray,
    z_cut: float = 0.1,
    beta: float = 0.0,
    R0: float = 0.8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Soft-drop groomed jets: ``groomed`` float64 ``(n_jets, 4)`` (px, py, pz, E),
    soft-drop mass ``msd`` ``(n_jets,)`` and ``n_groomed`` int64 ``(n_jets,)``.

    Defaults are the CMS AK8 ones (:math:`z_{\\text{cut}} = 0.1, \\beta = 0,
    R_0 = 0.8`). Identical to the ``fastjet`` package's
    ``exclusive_jets_softdrop_grooming`` (see the module docstring). Parallel over
    jets (it runs :func:`soft_drop_details_batch`). A Python function: a cached njit
    function that calls a ``parallel=True`` one may segfault when it is loaded from
    Numba's cache (numba issue 8578), so no kernel here does.

    Example::

        groomed, msd, n_sd = soft_drop_batch(px, py, pz, e, offsets, 0.1, 0.0, 0.8)
    """
    groomed, msd, n_groomed, _, _, _ = soft_drop_details_batch(
        px, py, pz, e, offsets, float(z_cut), float(beta), float(R0)
    )
    return groomed, msd, n_groomed


# --------------------------------------------------------------------------
# jet four-momentum, mass, multiplicity
# --------------------------------------------------------------------------


@numba.njit(cache=True, parallel=True)
def jet_p4_batch(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Sum of each jet's constituent four-momenta (E-scheme), float64 ``(n_jets, 4)``
    (px, py, pz, E), summed in constituent order; zeros for an empty jet."""
    check_offsets(offsets, px.shape[0], (py.shape[0], pz.shape[0], e.shape[0]))
    n_jets = offsets.shape[0] - 1
    out = np.zeros((n_jets, 4))
    for j in numba.prange(n_jets):
        sx = 0.0
        sy = 0.0
        sz = 0.0
        se = 0.0
        for i in range(offsets[j], offsets[j + 1]):
            sx += px[i]
            sy += py[i]
            sz += pz[i]
            se += e[i]
        out[j, 0] = sx
        out[j, 1] = sy
        out[j, 2] = sz
        out[j, 3] = se
    return out


def jet_mass_batch(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Jet mass :math:`m = \\mathrm{sign}(m^2)\\sqrt{|m^2|}`, :math:`m^2 = (\\sum E)^2 -
    |\\sum \\vec p|^2` (FastJet's ``m()``), float64 ``(n_jets,)``; 0 for an empty jet.
    (Python around two kernels: see :func:`soft_drop_batch`.)"""
    return _masses(jet_p4_batch(px, py, pz, e, offsets))


@numba.njit(cache=True, parallel=True)
def _masses(p4: np.ndarray) -> np.ndarray:
    n_jets = p4.shape[0]
    out = np.empty(n_jets)
    for j in numba.prange(n_jets):
        out[j] = mass(p4[j, 0], p4[j, 1], p4[j, 2], p4[j, 3])
    return out


@numba.njit(cache=True)
def n_constituents_batch(offsets: np.ndarray) -> np.ndarray:
    """Number of constituents of each jet, ``offsets[1:] - offsets[:-1]``, int64 ``(n_jets,)``."""
    n_jets = offsets.shape[0] - 1
    out = np.empty(max(n_jets, 0), np.int64)
    for j in range(n_jets):
        out[j] = offsets[j + 1] - offsets[j]
    return out
