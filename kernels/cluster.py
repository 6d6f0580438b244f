"""Sequential-recombination jet clustering (anti-kt, kt, Cambridge/Aachen) that
reproduces FastJet exactly.

What
----
The longitudinally invariant generalised-kt algorithms with E-scheme
recombination, on flat numpy buffers, giving the same clustering history,
the same jets (to the last bit on the same machine) and the same constituents
as FastJet 3.5 (M. Cacciari, G. P. Salam, G. Soyez, arXiv:1111.6097;
anti-kt: arXiv:0802.1189), including how exact ties (e.g. duplicated
particles) are resolved.

Maths
-----
With :math:`k_{t,i}` the transverse momentum, :math:`y_i` the rapidity,
:math:`\\phi_i` the azimuth and :math:`p \\in \\{1, 0, -1\\}` for kt,
Cambridge/Aachen and anti-kt,

.. math::
    d_{ij} = \\min(k_{t,i}^{2p}, k_{t,j}^{2p}) \\frac{\\Delta R_{ij}^2}{R^2}, \\qquad
    d_{iB} = k_{t,i}^{2p}, \\qquad
    \\Delta R_{ij}^2 = (y_i - y_j)^2 + \\Delta\\phi_{ij}^2 .

At each step the smallest of all :math:`d_{ij}, d_{iB}` is found; a
:math:`d_{ij}` merges :math:`i` and :math:`j` into :math:`p_i + p_j`, a
:math:`d_{iB}` makes :math:`i` an inclusive jet. As in FastJet, each object
only keeps its nearest neighbour :math:`j` with :math:`\\Delta R_{ij}^2 < R^2`
(else the beam), and the quantity compared is
:math:`\\Delta R_{ij}^2 \\min(k_{t,i}^{2p}, k_{t,j}^{2p})` (or
:math:`R^2 k_{t,i}^{2p}` for the beam), multiplied by :math:`1/R^2` once chosen;
:math:`k_t^{-2} = 10^{300}` when :math:`k_t^2 \\le 10^{-300}`.

Strategies
----------
FastJet's own strategy choice (``ClusterSequence::_best_strategy``) is used
by default (``strategy=STRATEGY_AUTO``), and each strategy follows its FastJet
counterpart step by step, because exact ties are resolved by the order in
which a strategy visits pairs:

* ``N2_PLAIN`` (FastJet ``N2Plain``): nearest neighbours (NN) cached per
  object, :math:`O(N^2)`; FastJet uses it for :math:`N \\le 39` (R = 0.4) or
  30 (R = 0.8).
* ``N2_TILED`` (``N2Tiled``): the (y, φ) plane cut in tiles of size ≥ R, NN
  searches only in the 3×3 neighbouring tiles, first smallest :math:`d` of a
  compacted table; FastJet uses it up to :math:`N \\approx 690` (R = 0.4) or
  516 (R = 0.8).
* ``N2_MINHEAP_TILED`` (``N2MinHeapTiled``): tiles and a min-heap of the
  :math:`d`; R < 0.65, up to :math:`N \\approx 1600` at R = 0.4.
* ``N2_LAZY9`` (``N2MHTLazy9``): tiles, min-heap, and NN searches that skip
  tiles farther than the current NN; beyond.

What differs from FastJet is only how the work is done, never its outcome:
the d table is kept in blocks of 32 (block minimum and its first position:
the same answer as FastJet's linear scan); the heap strategies pick the
smallest d from the same blocks and replay FastJet's heap updates (logged)
only when that smallest d is shared by other than a pair of mutual nearest
neighbours, the one case where the heap's choice matters; NN searches skip
tiles whose edge is farther than the current NN (less a 1e-7 rounding margin,
as FastJet's own lazy strategies do), which cannot change a strict-minimum
search; helpers are closures, so that numba does not reference-count the
arrays at each call. Arithmetic is IEEE (``error_model="numpy"``), as in C++:
degenerate momenta (say E = p_z = 0 < p_T) give infinite rapidities, not
exceptions.

FastJet switches to ``N2MHTLazy25`` (anti-kt: N ≳ 4900 at R = 0.8, 21900 at
R = 0.4, 2960 at R = 1; kt and C/A a little later; any N ≥ 700–1000 for
R > π/2) or to CGAL ``NlnN`` (millions of particles); there ``N2_LAZY9``
runs instead: the same jets, but exact ties may then resolve differently.
Measured with these kernels, N2Plain is faster than the tiled strategies up
to N ≈ 85 (R = 0.4) or 60 (R = 0.8), and the three tiled ones run within
~15% of each other for N = 300–1000: following FastJet's choice (for exact
ties) costs at most a few microseconds per event.

API
---
Algorithms: ``KT = 1``, ``CAMBRIDGE = 0``, ``ANTIKT = -1`` (the exponent p).

Single event (``px, py, pz, e``: float64 arrays of shape ``(n,)``):

* ``cluster_sequence(px, py, pz, e, R, p, strategy=-1) -> (hist, dij, jets)``:
  the full FastJet history. ``hist``: int64 ``(2n, 4)``, columns
  ``HIST_PARENT1, HIST_PARENT2, HIST_CHILD, HIST_JET`` (FastJet's
  ``history_element``: rows ``0..n-1`` are the particles; a merge of two
  objects has both parents, a beam merge has ``parent2 = BEAM``; parents of
  particles are ``INEXISTENT_PARENT``; ``child`` is the row that used this row,
  ``INVALID`` if none; ``jet`` is the row in ``jets``, ``INVALID`` for beam
  steps). ``dij``: float64 ``(2n, 2)``, the :math:`d` of each step and the
  running maximum. ``jets``: float64 ``(m, 4)`` px, py, pz, E of every
  pseudojet (FastJet's ``jets()``: particles first, then each merge).
* ``inclusive_jets(hist, dij, jets, p, ptmin) -> int64 rows of jets``, sorted
  by decreasing pt (``sorted_by_pt(inclusive_jets(ptmin))``).
* ``exclusive_jets(hist, njets)``, ``n_exclusive_jets(hist, dij, dcut)``,
  ``exclusive_jets_dcut(hist, dij, dcut)`` ``-> int64 rows of jets`` in
  FastJet's order (``exclusive_jets_up_to`` when njets > n);
  ``exclusive_dmerge(hist, dij, njets)``, ``exclusive_dmerge_max(...)``.
* ``constituents(hist, jet_row) -> int64 particle indices`` (FastJet's order);
  ``particle_jet_indices(hist, jet_rows) -> int64 (n,)`` (-1: in none).
* ``choose_strategy(n, R, p) -> int``: the strategy ``STRATEGY_AUTO`` runs.

Many events (content arrays + int64 ``offsets`` of shape ``(n_events + 1,)``;
event i owns ``content[offsets[i]:offsets[i+1]]``; parallel over events):

* ``cluster_batch(px, py, pz, e, offsets, R, p, ptmin, strategy) ->
  (jet_px, jet_py, jet_pz, jet_e, jet_offsets, particle_jet, status)``:
  inclusive jets above ``ptmin`` sorted by pt, per event (each event's
  clustering stops once no jet above ``ptmin`` can form any more, i.e. when
  the scalar pt sum of its active pseudojets drops below it); ``particle_jet``
  (shape of the content) is the index, within its event's jets, of the jet
  each particle ends in (-1 if in none); ``status`` (n_events,) is
  ``STATUS_OK`` or ``STATUS_NONFINITE`` (event not clustered: no jets).
* ``exclusive_batch(px, py, pz, e, offsets, R, p, njets, dcut, strategy)``:
  the same outputs for ``exclusive_jets(njets)`` when ``njets > 0``, else for
  ``exclusive_jets(dcut)``, sorted by pt.
* ``cluster_history_batch(px, py, pz, e, offsets, R, p, strategy) ->
  (hist, dij, jets, n_pseudojets, status)``: the history of every event,
  event i in rows ``2*offsets[i]:2*offsets[i+1]`` of all three arrays (only
  the first ``n_pseudojets[i]`` rows of its ``jets`` block are used), to
  decluster in the glue or with the single-event helpers above.
* ``first_nonfinite(px, py, pz, e, offsets) -> int64 (n_events,)``: index
  within the event of its first particle with a NaN/inf component, or -1, so
  the caller can name the bad event in its error.

Example::

    import numpy as np
    from hepml.kernels.cluster import ANTIKT, cluster_batch
    offsets = np.array([0, 3], dtype=np.int64)
    px, py = np.array([10.0, 9.0, -5.0]), np.array([0.0, 1.0, 0.0])
    pz, e = np.array([1.0, 0.5, 0.0]), np.array([10.1, 9.1, 5.0])
    jpx, jpy, jpz, je, joff, pjet, status = cluster_batch(
        px, py, pz, e, offsets, 0.4, ANTIKT, 0.0, -1)
    # two jets: particles 0 and 1 together (pjet == [0, 0, 1])
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .checks import check_offsets
from .fourvec import PI, TWOPI, rapidity_phi

__all__ = [
    "ANTIKT",
    "BEAM",
    "CAMBRIDGE",
    "HIST_CHILD",
    "HIST_JET",
    "HIST_PARENT1",
    "HIST_PARENT2",
    "INEXISTENT_PARENT",
    "INVALID",
    "KT",
    "N2_LAZY9",
    "N2_MINHEAP_TILED",
    "N2_PLAIN",
    "N2_TILED",
    "STATUS_NONFINITE",
    "STATUS_OK",
    "STRATEGY_AUTO",
    "choose_strategy",
    "cluster_batch",
    "cluster_history_batch",
    "cluster_sequence",
    "constituents",
    "exclusive_batch",
    "exclusive_dmerge",
    "exclusive_dmerge_max",
    "exclusive_jets",
    "exclusive_jets_dcut",
    "first_nonfinite",
    "inclusive_jets",
    "n_exclusive_jets",
    "particle_jet_indices",
]

# algorithms: the exponent p of kt^(2p)
KT = 1
CAMBRIDGE = 0
ANTIKT = -1

# strategies
STRATEGY_AUTO = -1
N2_PLAIN = 0
N2_TILED = 1
N2_MINHEAP_TILED = 2
N2_LAZY9 = 3

# history columns and special values (FastJet's ClusterSequence enums)
HIST_PARENT1 = 0
HIST_PARENT2 = 1
HIST_CHILD = 2
HIST_JET = 3
BEAM = -1
INEXISTENT_PARENT = -2
INVALID = -3

STATUS_OK = 0
STATUS_NONFINITE = 1

_DBL_MAX = np.finfo(np.float64).max
_TILE_EDGE_SECURITY_MARGIN = 1.0e-7


# --------------------------------------------------------------------------
# scalar helpers (no arrays: no reference counting in the hot loops)
# --------------------------------------------------------------------------


@numba.njit(cache=True, error_model="numpy")
def _scale(kt2, p):
    """FastJet's ``jet_scale_for_algorithm``: kt^(2p)."""
    if p == 1:
        return kt2
    if p == 0:
        return 1.0
    if kt2 > 1e-300:
        return 1.0 / kt2
    return 1e300


@numba.njit(cache=True, error_model="numpy")
def _rap_phi(px, py, pz, e):
    """Rapidity and phi in [0, 2pi) exactly as ``PseudoJet::_set_rap_phi``."""
    return rapidity_phi(px, py, pz, e)


@numba.njit(cache=True, error_model="numpy")
def _dist(eta_a, phi_a, eta_b, phi_b):
    """FastJet's ``_bj_dist``: squared distance in (rapidity, phi)."""
    dphi = abs(phi_a - phi_b)
    deta = eta_a - eta_b
    if dphi > PI:
        dphi = TWOPI - dphi
    return dphi * dphi + deta * deta


@numba.njit(cache=True, error_model="numpy")
def _dist_to_tile(e, f, own_eta_c, eta_c, phi_c, half_eta, half_phi):
    """FastJet's ``LazyTiling9::_distance_to_tile``: from (e, f), in a tile centred
    on ``own_eta_c`` in rapidity, to the edge of the tile centred on (eta_c, phi_c)."""
    if own_eta_c == eta_c:
        deta = 0.0
    else:
        deta = abs(e - eta_c) - half_eta
    dphi = abs(f - phi_c)
    if dphi > PI:
        dphi = TWOPI - dphi
    dphi -= half_phi
    if dphi < 0.0:
        dphi = 0.0
    return dphi * dphi + deta * deta


@numba.njit(cache=True, error_model="numpy")
def _tiling_extent(rap, jets, n):
    """FastJet's ``TilingExtent``: the rapidity range worth tiling (``rap[i]``:
    rapidity of particle i, ``jets[i]`` its momentum)."""
    nrap = 20
    nbins = 2 * nrap
    counts = np.zeros(nbins)
    minrap = _DBL_MAX
    maxrap = -_DBL_MAX
    for i in range(n):
        if jets[i, 3] == abs(jets[i, 2]):
            continue
        y = rap[i]
        if y < minrap:
            minrap = y
        if y > maxrap:
            maxrap = y
        x = y + nrap
        if x < 0.0:
            ibin = 0
        elif x >= nbins:
            ibin = nbins - 1
        else:
            ibin = int(x)
        counts[ibin] += 1.0
    max_in_bin = 0.0
    for ibin in range(nbins):
        if max_in_bin < counts[ibin]:
            max_in_bin = counts[ibin]
    allowed = math.floor(max(max_in_bin * 0.25, 4.0))
    if allowed > max_in_bin:
        allowed = max_in_bin
    cumul = 0.0
    for ibin in range(nbins):
        cumul += counts[ibin]
        if cumul >= allowed:
            y = float(ibin - nrap)
            if y > minrap:
                minrap = y
            break
    cumul = 0.0
    for ibin in range(nbins - 1, -1, -1):
        cumul += counts[ibin]
        if cumul >= allowed:
            y = float(ibin - nrap + 1)
            if y < maxrap:
                maxrap = y
            break
    # guard against degenerate events (FastJet: undefined behaviour there)
    if not (abs(minrap) < 1e6 and abs(maxrap) < 1e6 and minrap <= maxrap):
        minrap = 0.0
        maxrap = 0.0
    return minrap, maxrap


@numba.njit(cache=True, error_model="numpy")
def _tile_of(eta, phi, eta_min, eta_max, size_eta, size_phi, n_phi, n_eta_m1):
    """FastJet's ``_tile_index(eta, phi)`` (guarded against non-finite input)."""
    if eta <= eta_min:
        ieta = 0
    elif eta >= eta_max:
        ieta = n_eta_m1
    else:
        x = (eta - eta_min) / size_eta
        ieta = int(x) if x < n_eta_m1 else n_eta_m1
    x = (phi + TWOPI) / size_phi
    if not (x >= 0.0 and x < 4.0 * n_phi):
        x = 0.0
    iphi = int(x) % n_phi
    return iphi + ieta * n_phi


@numba.njit(cache=True, error_model="numpy")
def _tile_neighbours(ieta_min, ieta_max, n_phi):
    """Neighbours of FastJet's tiles, ``nb[t, :cnt[t]]``: the tile itself, its
    left (L) neighbours, then from ``rh[t]`` on its right (R) ones:

    .. code-block:: text

        LRR
        LXR
        LLR
    """
    n_eta = ieta_max - ieta_min + 1
    ntiles = n_eta * n_phi
    nb = np.empty((ntiles, 9), np.int64)
    cnt = np.empty(ntiles, np.int64)
    rh = np.empty(ntiles, np.int64)
    for ieta in range(ieta_min, ieta_max + 1):
        for iphi in range(n_phi):
            t = (ieta - ieta_min) * n_phi + iphi
            nb[t, 0] = t
            k = 1
            if ieta > ieta_min:
                for idphi in range(-1, 2):
                    nb[t, k] = (ieta - 1 - ieta_min) * n_phi + (iphi + idphi + n_phi) % n_phi
                    k += 1
            nb[t, k] = (ieta - ieta_min) * n_phi + (iphi - 1 + n_phi) % n_phi
            k += 1
            rh[t] = k
            nb[t, k] = (ieta - ieta_min) * n_phi + (iphi + 1 + n_phi) % n_phi
            k += 1
            if ieta < ieta_max:
                for idphi in range(-1, 2):
                    nb[t, k] = (ieta + 1 - ieta_min) * n_phi + (iphi + idphi + n_phi) % n_phi
                    k += 1
            cnt[t] = k
    return nb, cnt, rh


@numba.njit(cache=True, error_model="numpy")
def _heap_init(hv, mv, ml, m):
    """FastJet's ``MinHeap::initialise`` on the values in ``hv[:m]``.

    Node ``i`` has children ``2i+1, 2i+2``; ``ml[i]`` is the location of the
    smallest value at or below ``i`` and ``mv[i]`` a copy of that value
    (FastJet reads it through a pointer: same comparisons, one load less).
    """
    for i in range(m):
        ml[i] = i
        mv[i] = hv[i]
    for i in range(m - 1, 0, -1):
        parent = (i - 1) >> 1
        if mv[i] < mv[parent]:
            ml[parent] = ml[i]
            mv[parent] = mv[i]


# d values are kept in blocks of 32 entries with their minimum and its first
# position: the first smallest d (FastJet's N2Tiled linear scan) then takes
# ~n/32 + 32 comparisons per step instead of n.
_BLOCK_SHIFT = 5
_BLOCK = 1 << _BLOCK_SHIFT


# --------------------------------------------------------------------------
# the clustering kernel: FastJet's N2Plain, N2Tiled, N2MinHeapTiled, N2MHTLazy9
# --------------------------------------------------------------------------


@numba.njit(cache=True, error_model="numpy")
def _run(n, R, p, strategy, jets, jet_hist, hist, hd, cnt, ptstop):
    """Cluster the ``n`` particles in ``jets[:n]`` with ``strategy``, writing
    the new pseudojets into ``jets``, the history into ``hist``/``hd`` and
    counting rows in ``cnt`` (history rows, jet rows).

    ``ptstop > 0``: stop as soon as the scalar sum of the active pseudojets'
    pt is below ``ptstop`` (with a 1e-9 margin). Every pseudojet still active
    ends in exactly one inclusive jet, whose pt (a vector sum) is at most the
    scalar sum of its parts' pt, so no inclusive jet with pt >= ``ptstop`` can
    appear after that point: the jets above ``ptstop`` and their histories are
    already complete, and the steps left (most of anti-kt's soft clustering)
    are skipped. The history then ends at row ``cnt[0]``.

    Each strategy reproduces its FastJet routine (same floating-point
    expressions, same order of visits, same tie resolution): N2Plain
    ``_simple_N2_cluster``, N2Tiled ``_faster_tiled_N2_cluster``,
    N2MinHeapTiled ``_minheap_faster_tiled_N2_cluster``, N2MHTLazy9
    ``LazyTiling9::run``; the module docstring lists where the work is done
    differently without changing its outcome. Brief-jet "pointers" are slot
    indices, -1 is NULL. The helpers are closures rather than functions
    because numba would reference-count every array argument at each call,
    which costs more than the work they do.
    """
    R2 = R * R
    invR2 = 1.0 / R2
    minheap = strategy in (N2_MINHEAP_TILED, N2_LAZY9)

    # brief jets: one slot per active pseudojet
    eta = np.empty(n)
    phi = np.empty(n)
    kt2 = np.empty(n)  # kt^(2p), the algorithm's scale
    nnd = np.empty(n)  # distance^2 to the nearest neighbour (R^2 if none)
    nn = np.empty(n, np.int64)  # nearest neighbour slot, -1 if none
    ji = np.empty(n, np.int64)  # row in jets
    tile = np.empty(n, np.int64)
    prv = np.empty(n, np.int64)  # doubly linked list of each tile's jets
    nxt = np.empty(n, np.int64)
    posn = np.zeros(n, np.int64)  # N2Tiled: position in the d table; else a flag
    # d times R^2 of each jet: N2Tiled's compact table, or (heap strategies) by slot
    dval = np.empty(n)
    djet = np.empty(n, np.int64)  # N2Tiled: slot of each d-table entry
    # blocks of 32 d values: minimum, its first position, how many times it occurs
    nblk = (n + _BLOCK - 1) >> _BLOCK_SHIFT
    bmin = np.empty(nblk)
    barg = np.empty(nblk, np.int64)
    bcnt = np.empty(nblk, np.int64)
    # FastJet's MinHeap (values, cached minimum below each node, its location),
    # brought up to date from a log of its updates only when needed (see below)
    hv = np.empty(n)
    mv = np.empty(n)
    ml = np.empty(n, np.int64)
    nlogmax = 4 * n + 64
    log_loc = np.empty(nlogmax, np.int64)
    log_val = np.empty(nlogmax)
    nlog = np.zeros(1, np.int64)
    stack = np.empty(n, np.int64)  # jets whose heap entry needs an update

    def set_bj(a, j):
        # _bj_set_jetinfo: slot a describes jets[j]
        px = jets[j, 0]
        py = jets[j, 1]
        r, f = _rap_phi(px, py, jets[j, 2], jets[j, 3])
        eta[a] = r
        phi[a] = f
        kt2[a] = _scale(px * px + py * py, p)
        ji[a] = j
        nnd[a] = R2
        nn[a] = -1

    def dij(a):
        # _bj_diJ: d of slot a times R^2 (capped at DBL_MAX: only momenta beyond
        # ~1e150 GeV overflow, and the removed jets must stay behind)
        k = kt2[a]
        b = nn[a]
        if b >= 0 and kt2[b] < k:
            k = kt2[b]
        v = nnd[a] * k
        return v if v <= _DBL_MAX else _DBL_MAX

    def add_step(p1, p2, jetp, d):
        # _add_step_to_history
        k = cnt[0]
        hist[k, 0] = p1
        hist[k, 1] = p2
        hist[k, 2] = INVALID
        hist[k, 3] = jetp
        hd[k, 0] = d
        prev = hd[k - 1, 1]
        hd[k, 1] = prev if d < prev else d
        hist[p1, 2] = k
        if p2 >= 0:
            hist[p2, 2] = k
        cnt[0] = k + 1

    def record_ij(i, j, d):
        # _do_ij_recombination_step, E-scheme; returns the new jet's row
        k = cnt[1]
        jets[k, 0] = jets[i, 0] + jets[j, 0]
        jets[k, 1] = jets[i, 1] + jets[j, 1]
        jets[k, 2] = jets[i, 2] + jets[j, 2]
        jets[k, 3] = jets[i, 3] + jets[j, 3]
        cnt[1] = k + 1
        hi = jet_hist[i]
        hj = jet_hist[j]
        jet_hist[k] = cnt[0]
        if hi < hj:
            add_step(hi, hj, k, d)
        else:
            add_step(hj, hi, k, d)
        return k

    def record_ib(i, d):
        # _do_iB_recombination_step
        add_step(jet_hist[i], BEAM, INVALID, d)

    def heap_update(loc, value):
        # MinHeap::update (ties resolved as FastJet does)
        start = loc
        if ml[start] != start and not (value < mv[start]):
            hv[start] = value
            return
        hv[start] = value
        ml[start] = start
        mv[start] = value
        change = True
        while change:
            here = loc
            change = False
            if ml[here] == start:
                ml[here] = here
                mv[here] = hv[here]
                change = True
            child = 2 * loc + 1
            if child < n:
                if mv[child] < mv[here]:
                    ml[here] = ml[child]
                    mv[here] = mv[child]
                    change = True
                child += 1
                if child < n and mv[child] < mv[here]:
                    ml[here] = ml[child]
                    mv[here] = mv[child]
                    change = True
            if loc == 0:
                break
            loc = (loc - 1) >> 1

    def block_rescan(blk, nl):
        lo = blk << _BLOCK_SHIFT
        hi = min(lo + _BLOCK, nl)
        m = dval[lo]
        am = lo
        for i in range(lo + 1, hi):
            if dval[i] < m:
                m = dval[i]
                am = i
        bmin[blk] = m
        barg[blk] = am
        c = 0
        if minheap:  # (only the heap strategies need to know about ties)
            for i in range(lo, hi):
                if dval[i] == m:
                    c += 1
        bcnt[blk] = c

    def block_set(pos, v, nl):
        # dval[pos] = v, keeping each block's minimum, its first position and
        # its multiplicity exact
        old = dval[pos]
        dval[pos] = v
        blk = pos >> _BLOCK_SHIFT
        m = bmin[blk]
        if v < m:
            bmin[blk] = v
            barg[blk] = pos
            bcnt[blk] = 1
        elif old == m:
            if v != m:
                block_rescan(blk, nl)
        elif v == m:
            bcnt[blk] += 1
            if pos < barg[blk]:
                barg[blk] = pos

    # The heap strategies pick the smallest d with FastJet's MinHeap, whose
    # only observable effect beyond "a smallest d" is which one it returns
    # when several are equal. So the d values live in the blocks (cheap), the
    # heap updates are only logged, and the log is replayed into the heap,
    # in order, when the smallest d is tied (or the log is full).
    def heap_sync():
        for k in range(nlog[0]):
            heap_update(log_loc[k], log_val[k])
        nlog[0] = 0

    def heap_set(loc, value, removed):
        if nlog[0] == nlogmax:
            heap_sync()
        k = nlog[0]
        log_loc[k] = loc
        log_val[k] = value
        nlog[0] = k + 1
        # (removed jets are +inf in the blocks, DBL_MAX in FastJet's heap)
        block_set(loc, math.inf if removed else value, n)

    for i in range(n):
        set_bj(i, i)

    def pt_of(j):
        return math.sqrt(jets[j, 0] * jets[j, 0] + jets[j, 1] * jets[j, 1])

    # the running scalar pt sum of the active pseudojets (checked exactly, on the
    # slots still active, before it stops anything)
    stop_at = ptstop / (1.0 + 1e-9)
    rem = 0.0
    if ptstop > 0.0:
        for i in range(n):
            rem += pt_of(i)

    # ---------------- N2Plain ----------------
    if strategy == N2_PLAIN:
        # _bj_set_NN_crosscheck(jetA, head, jetA) for each jetA after the first
        for a in range(1, n):
            best_d = R2
            best = -1
            for b in range(a):
                d = _dist(eta[a], phi[a], eta[b], phi[b])
                if d < best_d:
                    best_d = d
                    best = b
                if d < nnd[b]:
                    nnd[b] = d
                    nn[b] = a
            nn[a] = best
            nnd[a] = best_d
        for i in range(n):
            dval[i] = dij(i)
        tail = n
        while tail > 0:
            if rem < stop_at:
                rem = 0.0
                for i in range(tail):
                    rem += pt_of(ji[i])
                if rem < stop_at:
                    return
            dmin = dval[0]
            a = 0
            for i in range(1, tail):
                if dval[i] < dmin:
                    a = i
                    dmin = dval[i]
            b = nn[a]
            dmin *= invR2
            if b >= 0:
                if a < b:
                    a, b = b, a
                k = record_ij(ji[a], ji[b], dmin)
                if ptstop > 0.0:
                    rem += pt_of(k) - pt_of(ji[a]) - pt_of(ji[b])
                set_bj(b, k)
            else:
                record_ib(ji[a], dmin)
                if ptstop > 0.0:
                    rem -= pt_of(ji[a])
            tail -= 1
            # *jetA = *tail
            eta[a] = eta[tail]
            phi[a] = phi[tail]
            kt2[a] = kt2[tail]
            nnd[a] = nnd[tail]
            nn[a] = nn[tail]
            ji[a] = ji[tail]
            dval[a] = dval[tail]
            for i in range(tail):
                if nn[i] == a or (b >= 0 and nn[i] == b):
                    # _bj_set_NN_nocross(jetI, head, tail)
                    best_d = R2
                    best = -1
                    for j in range(i):
                        d = _dist(eta[i], phi[i], eta[j], phi[j])
                        if d < best_d:
                            best_d = d
                            best = j
                    for j in range(i + 1, tail):
                        d = _dist(eta[i], phi[i], eta[j], phi[j])
                        if d < best_d:
                            best_d = d
                            best = j
                    nn[i] = best
                    nnd[i] = best_d
                    dval[i] = dij(i)
                if b >= 0 and i != b:
                    d = _dist(eta[i], phi[i], eta[b], phi[b])
                    if d < nnd[i]:
                        nnd[i] = d
                        nn[i] = b
                        dval[i] = dij(i)
                    if d < nnd[b]:
                        nnd[b] = d
                        nn[b] = i
                if nn[i] == tail:
                    nn[i] = a
            if b >= 0:
                dval[b] = dij(b)
        return

    # ---------------- tiles (N2Tiled, N2MinHeapTiled, N2MHTLazy9) ----------------
    default_size = max(0.1, R)
    n_phi = max(3, math.floor(TWOPI / default_size))
    size_phi = TWOPI / n_phi
    ext_min, ext_max = _tiling_extent(eta, jets, n)
    if strategy == N2_LAZY9 and ext_max - ext_min < 2 * default_size:
        # LazyTiling9 with FASTJET_LAZY9_MIN2TILESY: exactly two rapidity tiles
        size_eta = (ext_max - ext_min) / 2
        ieta_min = 0
        ieta_max = 1
        eta_min = ext_min
        eta_max = ext_max - size_eta
    else:
        size_eta = default_size
        ieta_min = math.floor(ext_min / size_eta)
        ieta_max = math.floor(ext_max / size_eta)
        eta_min = ieta_min * size_eta
        eta_max = ieta_max * size_eta
    hfe = size_eta * 0.5
    hfp = size_phi * 0.5
    n_eta_m1 = ieta_max - ieta_min
    ntiles = (n_eta_m1 + 1) * n_phi
    nb, nbc, rh = _tile_neighbours(ieta_min, ieta_max, n_phi)
    head = np.full(ntiles, -1, np.int64)
    tagged = np.zeros(ntiles, np.bool_)
    max_nnd = np.zeros(ntiles)  # N2MHTLazy9: bound on the NN distances in a tile
    eta_c = np.empty(ntiles)  # tile centres
    phi_c = np.empty(ntiles)
    for ie in range(n_eta_m1 + 1):
        for ip in range(n_phi):
            eta_c[ie * n_phi + ip] = (ie + 0.5) * size_eta + eta_min
            phi_c[ie * n_phi + ip] = (ip + 0.5) * size_phi
    union = np.empty(27, np.int64)

    def insert(a):
        # second half of _tj_set_jetinfo: a goes at the head of its tile's list
        t = _tile_of(eta[a], phi[a], eta_min, eta_max, size_eta, size_phi, n_phi, n_eta_m1)
        tile[a] = t
        prv[a] = -1
        nxt[a] = head[t]
        if nxt[a] >= 0:
            prv[nxt[a]] = a
        head[t] = a

    def remove(a):
        # _bj_remove_from_tiles
        t = tile[a]
        if prv[a] < 0:
            head[t] = nxt[a]
        else:
            nxt[prv[a]] = nxt[a]
        if nxt[a] >= 0:
            prv[nxt[a]] = prv[a]

    def add_untagged(t0, nu):
        # _add_untagged_neighbours_to_tile_union
        for r in range(nbc[t0]):
            t = nb[t0, r]
            if not tagged[t]:
                tagged[t] = True
                union[nu] = t
                nu += 1
        return nu

    def add_untagged_max_info(e, f, t0, nu):
        # _add_untagged_neighbours_to_tile_union_using_max_info
        for r in range(nbc[t0]):
            t = nb[t0, r]
            if tagged[t]:
                continue
            dtt = _dist_to_tile(e, f, eta_c[t0], eta_c[t], phi_c[t], hfe, hfp)
            if dtt - _TILE_EDGE_SECURITY_MARGIN > max_nnd[t]:
                continue
            tagged[t] = True
            union[nu] = t
            nu += 1
        return nu

    def push(i, ns):
        # label jet i as needing its heap entry updated
        if posn[i] == 0:
            posn[i] = 1
            stack[ns] = i
            ns += 1
        return ns

    lazy = strategy == N2_LAZY9

    def scan_nn(i):
        # nearest neighbour of slot i among the jets in its tile's neighbours:
        # the first strictly closest in visiting order. Tiles whose edge is
        # farther than the current best are skipped (FastJet's N2MHTLazy9
        # test; for the others a rounding margin keeps this exact).
        ei = eta[i]
        fi = phi[i]
        ti = tile[i]
        ec = eta_c[ti]
        best = R2
        bj = -1
        for r in range(nbc[ti]):
            t = nb[ti, r]
            dtt = _dist_to_tile(ei, fi, ec, eta_c[t], phi_c[t], hfe, hfp)
            if lazy:
                if best < dtt:
                    continue
            elif dtt - _TILE_EDGE_SECURITY_MARGIN >= best:
                continue
            j = head[t]
            while j >= 0:
                d = _dist(ei, fi, eta[j], phi[j])
                # (branch-free form of: if d < best and j != i: best, bj = d, j)
                closer = (d < best) & (j != i)
                bj = j if closer else bj
                best = d if closer else best
                j = nxt[j]
        nnd[i] = best
        nn[i] = bj

    def lazy_set_nn(i, ns):
        # LazyTiling9::_set_NN
        ns = push(i, ns)
        scan_nn(i)
        return ns

    for i in range(n):
        insert(i)

    # initial nearest neighbours: own tile, then the right-hand tiles
    # (N2MHTLazy9 skips right-hand tiles too far from both sides)
    for t in range(ntiles):
        a = head[t]
        while a >= 0:
            b = head[t]
            while b != a:
                d = _dist(eta[a], phi[a], eta[b], phi[b])
                if d < nnd[a]:
                    nnd[a] = d
                    nn[a] = b
                if d < nnd[b]:
                    nnd[b] = d
                    nn[b] = a
                b = nxt[b]
            a = nxt[a]
        if lazy:
            a = head[t]
            while a >= 0:
                if nnd[a] > max_nnd[t]:
                    max_nnd[t] = nnd[a]
                a = nxt[a]
        else:
            for r in range(rh[t], nbc[t]):
                rt = nb[t, r]
                a = head[t]
                while a >= 0:
                    b = head[rt]
                    while b >= 0:
                        d = _dist(eta[a], phi[a], eta[b], phi[b])
                        if d < nnd[a]:
                            nnd[a] = d
                            nn[a] = b
                        if d < nnd[b]:
                            nnd[b] = d
                            nn[b] = a
                        b = nxt[b]
                    a = nxt[a]
    if lazy:
        for t in range(ntiles):
            for r in range(rh[t], nbc[t]):
                rt = nb[t, r]
                a = head[t]
                while a >= 0:
                    dtt = _dist_to_tile(eta[a], phi[a], eta_c[t], eta_c[rt], phi_c[rt], hfe, hfp)
                    if dtt <= nnd[a] or dtt <= max_nnd[rt]:
                        b = head[rt]
                        while b >= 0:
                            d = _dist(eta[a], phi[a], eta[b], phi[b])
                            if d < nnd[a]:
                                nnd[a] = d
                                nn[a] = b
                            if d < nnd[b]:
                                nnd[b] = d
                                nn[b] = a
                            b = nxt[b]
                    a = nxt[a]
    for t in range(ntiles):
        max_nnd[t] = 0.0
        a = head[t]
        while a >= 0:
            if nnd[a] > max_nnd[t]:
                max_nnd[t] = nnd[a]
            a = nxt[a]

    # d values: a table scanned for its first minimum (N2Tiled, compacted as
    # jets disappear) or a min-heap over the slots (the other two)
    for i in range(n):
        dval[i] = dij(i)
        djet[i] = i
        if not minheap:
            posn[i] = i
    for k in range(nblk):
        block_rescan(k, n)
    if minheap:
        for i in range(n):
            hv[i] = dval[i]
        _heap_init(hv, mv, ml, n)

    ns = 0
    nleft = n
    while nleft > 0:
        if rem < stop_at:
            rem = 0.0
            for i in range(n):
                if ji[i] >= 0:
                    rem += pt_of(ji[i])
            if rem < stop_at:
                return
        nbk = nblk if minheap else (nleft + _BLOCK - 1) >> _BLOCK_SHIFT
        dmin = bmin[0]
        bb = 0
        ties = bcnt[0]
        for k in range(1, nbk):
            if bmin[k] < dmin:
                dmin = bmin[k]
                bb = k
                ties = bcnt[k]
            elif bmin[k] == dmin:
                ties += bcnt[k]
        if not minheap:
            a = djet[barg[bb]]
        else:
            a = barg[bb]
            if ties > 1:
                # Several smallest d. Two mutual nearest neighbours (the usual
                # case) give the same step whichever the heap returns; otherwise
                # ask the heap itself.
                exact = True
                if ties == 2:
                    a2 = -1
                    if bcnt[bb] == 2:
                        for k in range(a + 1, min((bb + 1) << _BLOCK_SHIFT, n)):
                            if dval[k] == dmin:
                                a2 = k
                                break
                    else:
                        for k in range(bb + 1, nbk):
                            if bmin[k] == dmin:
                                a2 = barg[k]
                                break
                    exact = not (a2 >= 0 and nn[a] == a2 and nn[a2] == a)
                if exact:
                    heap_sync()
                    if ji[ml[0]] >= 0:  # (always, unless d overflowed)
                        a = ml[0]
        dmin *= invR2
        b = nn[a]
        old_tile = 0
        old_eta = 0.0
        old_phi = 0.0
        if b >= 0:
            if a < b:
                a, b = b, a
            k = record_ij(ji[a], ji[b], dmin)
            if ptstop > 0.0:
                rem += pt_of(k) - pt_of(ji[a]) - pt_of(ji[b])
            remove(a)
            old_tile = tile[b]
            old_eta = eta[b]
            old_phi = phi[b]
            remove(b)
            set_bj(b, k)
            insert(b)
        else:
            record_ib(ji[a], dmin)
            if ptstop > 0.0:
                rem -= pt_of(ji[a])
            remove(a)
        ji[a] = -1  # (slot a is gone)
        if minheap:
            heap_set(a, _DBL_MAX, True)

        if not lazy:
            # ---- N2Tiled / N2MinHeapTiled ----
            nu = add_untagged(tile[a], 0)
            if b >= 0:
                if tile[b] != tile[a]:
                    nu = add_untagged(tile[b], nu)
                if old_tile != tile[a] and old_tile != tile[b]:
                    nu = add_untagged(old_tile, nu)
                if minheap:
                    posn[b] = 1
                    stack[ns] = b
                    ns += 1
            if not minheap:
                # compact the d table: its last entry moves to jet a's place
                nleft -= 1
                last = djet[nleft]
                pa = posn[a]
                posn[last] = pa
                dval[pa] = dval[nleft]
                djet[pa] = last
                if pa < nleft:
                    block_rescan(pa >> _BLOCK_SHIFT, nleft)
                if (nleft & (_BLOCK - 1)) != 0 and barg[nleft >> _BLOCK_SHIFT] == nleft:
                    block_rescan(nleft >> _BLOCK_SHIFT, nleft)
            # (B's own nearest neighbour evolves in locals bd, bn during the loop;
            # recomputed nearest neighbours come from scan_nn)
            eb = 0.0
            fb = 0.0
            bd = R2
            bn = -1
            if b >= 0:
                eb = eta[b]
                fb = phi[b]
            for iu in range(nu):
                t = union[iu]
                tagged[t] = False
                i = head[t]
                while i >= 0:
                    if nn[i] == a or (b >= 0 and nn[i] == b):
                        if minheap:
                            ns = push(i, ns)
                        scan_nn(i)
                        if not minheap:
                            block_set(posn[i], dij(i), nleft)
                    if b >= 0 and i != b:
                        d = _dist(eta[i], phi[i], eb, fb)
                        if d < nnd[i]:
                            nnd[i] = d
                            nn[i] = b
                            if minheap:
                                ns = push(i, ns)
                            else:
                                block_set(posn[i], dij(i), nleft)
                        if d < bd:
                            bd = d
                            bn = i
                    i = nxt[i]
            if b >= 0:
                nnd[b] = bd
                nn[b] = bn
            if not minheap:
                if b >= 0:
                    block_set(posn[b], dij(b), nleft)
                continue
        else:
            # ---- N2MHTLazy9 ----
            nu = 0
            if b >= 0:
                # B's own nearest neighbour evolves in locals (bd, bn)
                tb = tile[b]
                eb = eta[b]
                fb = phi[b]
                ecb = eta_c[tb]
                bd = R2
                bn = -1
                for r in range(nbc[tb]):
                    t = nb[tb, r]
                    dtt = _dist_to_tile(eb, fb, ecb, eta_c[t], phi_c[t], hfe, hfp)
                    if not (dtt <= bd or dtt <= max_nnd[t]):
                        continue
                    union[nu] = t
                    tagged[t] = True
                    nu += 1
                    i = head[t]
                    while i >= 0:
                        if nn[i] == a or nn[i] == b:
                            ns = lazy_set_nn(i, ns)
                        # _update_jetX_jetI_NN(jetB, jetI)
                        if i != b:
                            d = _dist(eta[i], phi[i], eb, fb)
                            if d < nnd[i]:
                                nnd[i] = d
                                nn[i] = b
                                ns = push(i, ns)
                            if d < bd:
                                bd = d
                                bn = i
                        i = nxt[i]
                nnd[b] = bd
                nn[b] = bn
            n_done = nu
            nu = add_untagged_max_info(eta[a], phi[a], tile[a], nu)
            if b >= 0:
                nu = add_untagged_max_info(old_eta, old_phi, old_tile, nu)
                posn[b] = 1
                stack[ns] = b
                ns += 1
            for iu in range(n_done):
                tagged[union[iu]] = False
            for iu in range(n_done, nu):
                t = union[iu]
                tagged[t] = False
                i = head[t]
                while i >= 0:
                    if nn[i] == a or (b >= 0 and nn[i] == b):
                        ns = lazy_set_nn(i, ns)
                    i = nxt[i]

        # heap entries to update (last pushed first, as FastJet pops them)
        while ns > 0:
            ns -= 1
            i = stack[ns]
            heap_set(i, dij(i), False)
            posn[i] = 0
            if lazy:
                ti = tile[i]
                if max_nnd[ti] < nnd[i]:
                    max_nnd[ti] = nnd[i]
        nleft -= 1


# --------------------------------------------------------------------------
# strategy choice and the single-event entry point
# --------------------------------------------------------------------------


@numba.njit(cache=True, error_model="numpy")
def _parabola(a, b, c, x):
    return c * (a * x * x + b * x + 1)


@numba.njit(cache=True, error_model="numpy")
def choose_strategy(n: int, R: float, p: int) -> int:
    """The strategy FastJet's ``Best`` picks (``ClusterSequence::_best_strategy``).

    ``N2MHTLazy25`` and ``NlnN`` (tens of thousands of particles, or R > π/2
    with N ≳ 700) are mapped to ``N2_LAZY9``. Example:
    ``choose_strategy(500, 0.4, ANTIKT) == N2_TILED``.
    """
    bounded_r = max(R, 0.1)
    if n <= 30 or n <= 39.0 / (bounded_r + 0.6):
        return N2_PLAIN
    if bounded_r < 0.65:
        if n < _parabola(-45.4947, 54.3528, 44.6283, bounded_r):
            return N2_TILED
        if math.log(float(n)) < _parabola(0.677807, -1.05006, 10.6994, bounded_r):
            return N2_MINHEAP_TILED
        return N2_LAZY9
    if bounded_r < 0.5 * PI:
        if math.log(float(n)) < -1.31304 * bounded_r + 7.29621:
            return N2_TILED
        return N2_LAZY9
    if n < 75:
        return N2_PLAIN
    return N2_LAZY9


@numba.njit(cache=True, error_model="numpy")
def _cluster_into(px, py, pz, e, R, p, strategy, hist, hd, jets, ptstop):
    """Cluster one event into preallocated ``hist (2n,4)``, ``hd (2n,2)``,
    ``jets (2n,4)``; returns the number of history rows written (``2n``, fewer
    when ``ptstop > 0`` ended the clustering early, see :func:`_run`) and of
    pseudojets (rows of ``jets`` used)."""
    n = px.shape[0]
    for i in range(n):
        jets[i, 0] = px[i]
        jets[i, 1] = py[i]
        jets[i, 2] = pz[i]
        jets[i, 3] = e[i]
        hist[i, 0] = INEXISTENT_PARENT
        hist[i, 1] = INEXISTENT_PARENT
        hist[i, 2] = INVALID
        hist[i, 3] = i
        hd[i, 0] = 0.0
        hd[i, 1] = 0.0
    if n == 0:
        return 0, 0
    jet_hist = np.empty(2 * n, np.int64)
    for i in range(n):
        jet_hist[i] = i
    cnt = np.empty(2, np.int64)
    cnt[0] = n
    cnt[1] = n
    s = strategy
    if s < 0:
        s = choose_strategy(n, R, p)
    _run(n, R, p, s, jets, jet_hist, hist, hd, cnt, ptstop)
    return cnt[0], cnt[1]


@numba.njit(cache=True, error_model="numpy")
def _finite4(a, b, c, d):
    return math.isfinite(a) and math.isfinite(b) and math.isfinite(c) and math.isfinite(d)


@numba.njit(cache=True, error_model="numpy")
def cluster_sequence(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    R: float,
    p: int,
    strategy: int = -1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cluster one event; the full history as FastJet's ``ClusterSequence`` holds it.

    ``px, py, pz, e``: float64 ``(n,)``; ``R > 0``; ``p``: ``ANTIKT``, ``KT``
    or ``CAMBRIDGE``; ``strategy``: ``STRATEGY_AUTO`` (FastJet's choice) or
    one of ``N2_PLAIN, N2_TILED, N2_MINHEAP_TILED, N2_LAZY9``.

    Returns ``hist`` int64 ``(2n, 4)`` (parent1, parent2, child, jet row),
    ``dij`` float64 ``(2n, 2)`` (d of the step, running max) and ``jets``
    float64 ``(m, 4)`` (px, py, pz, E of each pseudojet, n ≤ m < 2n); see the
    module docstring. An event with a NaN/inf component is not clustered: all
    three arrays come back empty (find the culprit with :func:`first_nonfinite`).

    Example::

        hist, dij, jets = cluster_sequence(px, py, pz, e, 0.4, ANTIKT)
        rows = inclusive_jets(hist, dij, jets, ANTIKT, 20.0)
        leading = jets[rows[0]]
    """
    n = px.shape[0]
    hist = np.empty((2 * n, 4), np.int64)
    hd = np.empty((2 * n, 2))
    jets = np.empty((2 * n, 4))
    ok = True
    for i in range(n):
        if not _finite4(px[i], py[i], pz[i], e[i]):
            ok = False
            break
    if not ok:
        return hist[:0], hd[:0], jets[:0]
    # np.int64/np.float64: plain (non-literal) types, so that the kernels compile
    # once whatever constants the callers pass
    _, m = _cluster_into(
        px, py, pz, e, np.float64(R), np.int64(p), np.int64(strategy), hist, hd, jets, 0.0
    )
    return hist[: 2 * n], hd[: 2 * n], jets[:m]


# --------------------------------------------------------------------------
# reading the history (FastJet's ClusterSequence accessors)
# --------------------------------------------------------------------------


@numba.njit(cache=True, error_model="numpy")
def _sort_rows_by_pt(jets, rows):
    """``sorted_by_pt``: rows ordered by decreasing pt^2 (stable on ties)."""
    m = rows.shape[0]
    key = np.empty(m)
    for i in range(m):
        r = rows[i]
        key[i] = -(jets[r, 0] * jets[r, 0] + jets[r, 1] * jets[r, 1])
    order = np.argsort(key, kind="mergesort")
    return rows[order]


@numba.njit(cache=True, error_model="numpy")
def inclusive_jets(
    hist: np.ndarray, dij: np.ndarray, jets: np.ndarray, p: int, ptmin: float = 0.0
) -> np.ndarray:
    """Rows of ``jets`` that are inclusive jets with :math:`p_T^2 \\ge p_{T,\\min}^2`,
    sorted by decreasing pt (FastJet ``sorted_by_pt(cs.inclusive_jets(ptmin))``;
    for kt the cut is applied on :math:`d_{iB}`, as FastJet does).

    Shapes: ``hist (2n, 4)``, ``dij (2n, 2)``, ``jets (m, 4)`` from
    :func:`cluster_sequence`; returns int64 ``(n_jets,)``.
    """
    return _inclusive_rows(hist, dij, jets, p, ptmin, hist.shape[0])


@numba.njit(cache=True, error_model="numpy")
def _inclusive_rows(hist, dij, jets, p, ptmin, nh):
    """:func:`inclusive_jets` on the first ``nh`` rows of the history (all of it,
    or the rows written before an early stop)."""
    dcut = ptmin * ptmin
    out = np.empty(nh // 2 + 1, np.int64)
    k = 0
    i = nh - 1
    if p == KT:
        while i >= 0:
            if dij[i, 1] < dcut:
                break
            if hist[i, 1] == BEAM and dij[i, 0] >= dcut:
                out[k] = hist[hist[i, 0], 3]
                k += 1
            i -= 1
    elif p == CAMBRIDGE:
        while i >= 0:
            if hist[i, 1] != BEAM:
                break
            r = hist[hist[i, 0], 3]
            if jets[r, 0] * jets[r, 0] + jets[r, 1] * jets[r, 1] >= dcut:
                out[k] = r
                k += 1
            i -= 1
    else:
        while i >= 0:
            if hist[i, 1] == BEAM:
                r = hist[hist[i, 0], 3]
                if jets[r, 0] * jets[r, 0] + jets[r, 1] * jets[r, 1] >= dcut:
                    out[k] = r
                    k += 1
            i -= 1
    return _sort_rows_by_pt(jets, out[:k])


@numba.njit(cache=True, error_model="numpy")
def n_exclusive_jets(hist: np.ndarray, dij: np.ndarray, dcut: float) -> int:
    """Number of jets when clustering stops at ``dcut`` (FastJet ``n_exclusive_jets``)."""
    nh = hist.shape[0]
    i = nh - 1
    while i >= 0:
        if dij[i, 1] <= dcut:
            break
        i -= 1
    return nh - (i + 1)


@numba.njit(cache=True, error_model="numpy")
def exclusive_jets(hist: np.ndarray, njets: int) -> np.ndarray:
    """Rows of ``jets`` of the event clustered to ``njets`` jets, in FastJet's
    order (``exclusive_jets_up_to(njets)``: all particles when njets > n).

    Returns int64 ``(min(njets, n),)``.
    """
    nh = hist.shape[0]
    n = nh // 2
    stop = nh - njets
    if stop < n:
        stop = n
    out = np.empty(max(min(njets, n), 0), np.int64)
    k = 0
    for i in range(stop, nh):
        p1 = hist[i, 0]
        if p1 < stop:
            out[k] = hist[p1, 3]
            k += 1
        p2 = hist[i, 1]
        if p2 < stop and p2 > 0:
            out[k] = hist[p2, 3]
            k += 1
    return out[:k]


@numba.njit(cache=True, error_model="numpy")
def exclusive_jets_dcut(hist: np.ndarray, dij: np.ndarray, dcut: float) -> np.ndarray:
    """Rows of ``jets`` of the exclusive jets at ``dcut`` (FastJet ``exclusive_jets(dcut)``)."""
    return exclusive_jets(hist, n_exclusive_jets(hist, dij, dcut))


@numba.njit(cache=True, error_model="numpy")
def exclusive_dmerge(hist: np.ndarray, dij: np.ndarray, njets: int) -> float:
    """d of the merge that went from ``njets + 1`` to ``njets`` jets (0 if njets ≥ n)."""
    n = hist.shape[0] // 2
    if njets >= n:
        return 0.0
    return dij[2 * n - njets - 1, 0]


@numba.njit(cache=True, error_model="numpy")
def exclusive_dmerge_max(hist: np.ndarray, dij: np.ndarray, njets: int) -> float:
    """Largest d of all merges up to the one leaving ``njets`` jets (0 if njets ≥ n)."""
    n = hist.shape[0] // 2
    if njets >= n:
        return 0.0
    return dij[2 * n - njets - 1, 1]


@numba.njit(cache=True, error_model="numpy")
def constituents(hist: np.ndarray, jet_row: int) -> np.ndarray:
    """Indices of the particles in pseudojet ``jet_row``, in FastJet's order
    (``add_constituents``: depth first, parent1 before parent2).

    Example: ``constituents(hist, inclusive_jets(hist, dij, jets, ANTIKT)[0])``.
    """
    n = hist.shape[0] // 2
    # history row of the jet: the row whose jet column is jet_row
    h = jet_row
    if jet_row >= n:
        for r in range(n, hist.shape[0]):
            if hist[r, 3] == jet_row:
                h = r
                break
    out = np.empty(n, np.int64)
    stack = np.empty(n + 1, np.int64)
    k = 0
    ns = 1
    stack[0] = h
    while ns > 0:
        ns -= 1
        r = stack[ns]
        p1 = hist[r, 0]
        if p1 == INEXISTENT_PARENT:
            out[k] = r
            k += 1
            continue
        p2 = hist[r, 1]
        if p2 != BEAM:
            stack[ns] = p2
            ns += 1
        stack[ns] = p1
        ns += 1
    return out[:k]


@numba.njit(cache=True, error_model="numpy")
def particle_jet_indices(hist: np.ndarray, jet_rows: np.ndarray) -> np.ndarray:
    """For each particle, the position in ``jet_rows`` of the jet containing it,
    -1 if none (FastJet ``particle_jet_indices``). Returns int64 ``(n,)``."""
    return _particle_jet_rows(hist, hist.shape[0], hist.shape[0] // 2, jet_rows)


@numba.njit(cache=True, error_model="numpy")
def _particle_jet_rows(hist, nh, n, jet_rows):
    """:func:`particle_jet_indices` for ``n`` particles on the first ``nh`` rows of
    the history (a particle whose steps were not all written is in no jet of
    ``jet_rows``, which are complete)."""
    out = np.full(n, -1, np.int64)
    # map pseudojet row -> history row
    hrow = np.full(nh, -1, np.int64)
    for r in range(nh):
        j = hist[r, 3]
        if j >= 0:
            hrow[j] = r
    owner = np.full(nh, -1, np.int64)
    for k in range(jet_rows.shape[0]):
        owner[hrow[jet_rows[k]]] = k
    # children come after parents: walk from the end, pushing owners down
    for r in range(nh - 1, -1, -1):
        if owner[r] < 0:
            c = hist[r, 2]
            if c >= 0 and hist[c, 1] != BEAM and owner[c] >= 0:
                owner[r] = owner[c]
    for i in range(n):
        out[i] = owner[i]
    return out


# --------------------------------------------------------------------------
# many events
# --------------------------------------------------------------------------


@numba.njit(cache=True, error_model="numpy")
def first_nonfinite(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Per event, the index (within the event) of its first particle with a
    NaN or infinite component, or -1. Shapes: content ``(N,)``, offsets
    ``(n_events + 1,)``; returns int64 ``(n_events,)``.

    Example: ``bad = np.flatnonzero(first_nonfinite(px, py, pz, e, offsets) >= 0)``.
    """
    check_offsets(offsets, px.shape[0], (py.shape[0], pz.shape[0], e.shape[0]))
    nev = offsets.shape[0] - 1
    out = np.empty(nev, np.int64)
    for ev in range(nev):
        out[ev] = _first_nonfinite_in(px, py, pz, e, offsets[ev], offsets[ev + 1])
    return out


@numba.njit(cache=True, error_model="numpy")
def _first_nonfinite_in(px, py, pz, e, lo, hi):
    """Index (from ``lo``) of the first non-finite particle in [lo, hi), or -1."""
    for i in range(lo, hi):
        if not _finite4(px[i], py[i], pz[i], e[i]):
            return i - lo
    return -1


@numba.njit(cache=True, error_model="numpy")
def _event_jets(px, py, pz, e, R, p, strategy, mode, ptmin, njets, dcut, out, particle_jet):
    """Cluster one (finite) event and keep the jets of ``mode``: inclusive above
    ``ptmin`` (0), ``exclusive_jets(njets)`` (1) or ``exclusive_jets(dcut)`` (2),
    sorted by decreasing pt, in ``out[:m]``; each particle's jet in
    ``particle_jet``. Returns m."""
    n = px.shape[0]
    if n == 0:
        return 0
    hist = np.empty((2 * n, 4), np.int64)
    hd = np.empty((2 * n, 2))
    jets = np.empty((2 * n, 4))
    # inclusive jets above ptmin: stop once no more can form (see _run). The jets are
    # cut on pt^2 >= ptmin^2, which a pt bound matches only while ptmin^2 does not
    # underflow: below 1e-150 GeV (nothing physical) the clustering runs to the end
    stop = ptmin if mode == 0 and ptmin >= 1e-150 else 0.0
    nh, _ = _cluster_into(px, py, pz, e, R, p, strategy, hist, hd, jets, stop)
    if mode == 0:
        rows = _inclusive_rows(hist, hd, jets, p, ptmin, nh)
    else:
        if mode == 1:
            rows = exclusive_jets(hist, njets)
        else:
            rows = exclusive_jets_dcut(hist, hd, dcut)
        rows = _sort_rows_by_pt(jets, rows)
    m = rows.shape[0]
    for k in range(m):
        r = rows[k]
        for c in range(4):
            out[k, c] = jets[r, c]
    particle_jet[:] = _particle_jet_rows(hist, nh, n, rows)
    return m


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _jets_batch_loop(
    px, py, pz, e, offsets, R, p, strategy, mode, ptmin, njets, dcut, tmp, count, status, pjet
):
    """The parallel part of :func:`_jets_batch` (kept minimal: parfors are slow to compile)."""
    for ev in numba.prange(offsets.shape[0] - 1):
        lo = offsets[ev]
        hi = offsets[ev + 1]
        if _first_nonfinite_in(px, py, pz, e, lo, hi) < 0:
            count[ev] = _event_jets(
                px[lo:hi], py[lo:hi], pz[lo:hi], e[lo:hi], R, p, strategy,
                mode, ptmin, njets, dcut, tmp[lo:hi], pjet[lo:hi],
            )  # fmt: skip
        else:
            count[ev] = 0
            status[ev] = STATUS_NONFINITE
            for i in range(lo, hi):
                pjet[i] = -1


def _jets_batch(px, py, pz, e, offsets, R, p, strategy, mode, ptmin, njets, dcut):
    """Python around the kernels (a cached njit function that calls a ``parallel=True``
    one may segfault when loaded from Numba's cache: numba issue 8578)."""
    check_offsets(offsets, px.shape[0], (py.shape[0], pz.shape[0], e.shape[0]))
    nev = offsets.shape[0] - 1
    ntot = px.shape[0]
    # event ev first puts its jets in rows [offsets[ev], offsets[ev] + count[ev])
    tmp = np.empty((ntot, 4))
    count = np.zeros(nev, np.int64)
    status = np.zeros(nev, np.int64)
    particle_jet = np.empty(ntot, np.int64)
    _jets_batch_loop(
        px, py, pz, e, offsets, R, p, strategy, mode, ptmin, njets, dcut,
        tmp, count, status, particle_jet,
    )  # fmt: skip
    jet_offsets = np.zeros(nev + 1, np.int64)
    np.cumsum(count, out=jet_offsets[1:])
    jpx, jpy, jpz, je = _gather_jets(tmp, offsets, jet_offsets, count)
    return jpx, jpy, jpz, je, jet_offsets, particle_jet, status


@numba.njit(cache=True, error_model="numpy")
def _gather_jets(tmp, offsets, jet_offsets, count):
    """Each event's jets, from its rows of ``tmp``, into flat jet arrays."""
    nev = offsets.shape[0] - 1
    njt = jet_offsets[nev]
    jpx = np.empty(njt)
    jpy = np.empty(njt)
    jpz = np.empty(njt)
    je = np.empty(njt)
    for ev in range(nev):
        src = offsets[ev]
        dst = jet_offsets[ev]
        for k in range(count[ev]):
            jpx[dst + k] = tmp[src + k, 0]
            jpy[dst + k] = tmp[src + k, 1]
            jpz[dst + k] = tmp[src + k, 2]
            je[dst + k] = tmp[src + k, 3]
    return jpx, jpy, jpz, je


def cluster_batch(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    offsets: np.ndarray,
    R: float,
    p: int,
    ptmin: float = 0.0,
    strategy: int = -1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inclusive jets of many events, in parallel over events.

    Inputs: float64 content arrays ``(N,)`` and int64 ``offsets (n_events + 1,)``.
    Returns ``jet_px, jet_py, jet_pz, jet_e`` (float64 ``(n_jets_total,)``,
    per event sorted by decreasing pt and with :math:`p_T \\ge` ``ptmin``),
    ``jet_offsets`` (int64 ``(n_events + 1,)``), ``particle_jet`` (int64
    ``(N,)``: index within its event's jets of the jet each particle is in,
    -1 if none) and ``status`` (int64 ``(n_events,)``: ``STATUS_OK``, or
    ``STATUS_NONFINITE`` for an event with NaN/inf momenta, left unclustered).

    With ``ptmin > 0`` an event's clustering stops as soon as the scalar pt sum of
    its active pseudojets is below ``ptmin``: no jet above ``ptmin`` can form
    after that (a jet's pt is at most the scalar sum of its parts'), so the jets
    are the full clustering's. For anti-kt, whose hard jets are complete before
    the soft particles cluster among themselves, this skips most of the work at
    high ``ptmin`` (70 % of the steps at R = 0.8 and 300 GeV on ttbar/QCD events).
    """
    # np.int64/np.float64: plain (non-literal) types, so that the kernels compile once
    return _jets_batch(
        px, py, pz, e, offsets, np.float64(R), np.int64(p), np.int64(strategy), np.int64(0),
        np.float64(ptmin), np.int64(0), np.float64(0.0),
    )  # fmt: skip


def exclusive_batch(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    offsets: np.ndarray,
    R: float,
    p: int,
    njets: int = 0,
    dcut: float = -1.0,
    strategy: int = -1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exclusive jets of many events: FastJet ``exclusive_jets(njets)`` when
    ``njets > 0`` (all particles if an event has fewer), else
    ``exclusive_jets(dcut)``. Same inputs and outputs as :func:`cluster_batch`
    (jets sorted by decreasing pt)."""
    mode = 1 if njets > 0 else 2
    return _jets_batch(
        px, py, pz, e, offsets, np.float64(R), np.int64(p), np.int64(strategy), np.int64(mode),
        np.float64(0.0), np.int64(njets), np.float64(dcut),
    )  # fmt: skip


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _history_batch_loop(px, py, pz, e, offsets, R, p, strategy, hist, hd, jets, npj, status):
    for ev in numba.prange(offsets.shape[0] - 1):
        lo = offsets[ev]
        hi = offsets[ev + 1]
        h = hist[2 * lo : 2 * hi]
        d = hd[2 * lo : 2 * hi]
        j = jets[2 * lo : 2 * hi]
        if _first_nonfinite_in(px, py, pz, e, lo, hi) < 0:
            npj[ev] = _cluster_into(
                px[lo:hi], py[lo:hi], pz[lo:hi], e[lo:hi], R, p, strategy, h, d, j, 0.0
            )[1]
        else:
            npj[ev] = 0
            status[ev] = STATUS_NONFINITE
            for r in range(2 * (hi - lo)):
                h[r, 0] = INEXISTENT_PARENT
                h[r, 1] = INEXISTENT_PARENT
                h[r, 2] = INVALID
                h[r, 3] = INVALID
                d[r, 0] = 0.0
                d[r, 1] = 0.0


def cluster_history_batch(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    offsets: np.ndarray,
    R: float,
    p: int,
    strategy: int = -1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Full clustering histories of many events, in parallel over events.

    Returns ``hist`` int64 ``(2N, 4)``, ``dij`` float64 ``(2N, 2)``, ``jets``
    float64 ``(2N, 4)`` (event i in rows ``2*offsets[i]:2*offsets[i+1]``, laid
    out as :func:`cluster_sequence` returns them; in ``jets`` only the first
    ``n_pseudojets[i]`` rows of the block are filled, the rest are zero),
    ``n_pseudojets`` and ``status`` (int64 ``(n_events,)``). Indices inside a
    block are local to the event, so ``hist[2*o0:2*o1]`` etc. go straight
    into :func:`inclusive_jets`, :func:`constituents`, ...
    """
    check_offsets(offsets, px.shape[0], (py.shape[0], pz.shape[0], e.shape[0]))
    nev = offsets.shape[0] - 1
    ntot = px.shape[0]
    hist = np.empty((2 * ntot, 4), np.int64)
    hd = np.empty((2 * ntot, 2))
    jets = np.zeros((2 * ntot, 4))
    npj = np.zeros(nev, np.int64)
    status = np.zeros(nev, np.int64)
    _history_batch_loop(
        px, py, pz, e, offsets, np.float64(R), np.int64(p), np.int64(strategy),
        hist, hd, jets, npj, status,
    )  # fmt: skip
    return hist, hd, jets, npj, status
