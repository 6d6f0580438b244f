"""k nearest neighbours in (η, φ) within each jet, as torch-geometric edge lists.

For node :math:`i` of a jet with :math:`n` nodes, its :math:`\\min(k, n-1)`
nearest other nodes :math:`j` by

.. math:: d_{ij}^2 = (\\eta_i - \\eta_j)^2 + \\Delta\\phi(\\phi_i, \\phi_j)^2

(:math:`\\Delta\\phi` wrapped into :math:`(-\\pi, \\pi]`) give edges
:math:`j \\to i`: row 0 of the output is the source (neighbour), row 1 the
target, PyG's ``flow="source_to_target"``. Ties are broken by the lower index.
Node indices are global over the batch (jet ``g``'s nodes are
``offsets[g] ... offsets[g+1] - 1``), so the output is the ``edge_index`` of
the batched graph.

Example::

    edge_index, edge_offsets = knn_edges(eta, phi, offsets, 16)
"""

from __future__ import annotations

import numba
import numpy as np

from .checks import check_offsets
from .fourvec import delta_phi

__all__ = ["knn_edges"]


@numba.njit(cache=True, parallel=True)
def knn_edges(
    eta: np.ndarray, phi: np.ndarray, offsets: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Edges of the kNN graph of every jet.

    Shapes: ``eta``, ``phi`` ``(n,)``; ``offsets`` ``(n_jets + 1,)``. Returns
    ``edge_index`` int64 ``(2, E)`` and ``edge_offsets`` int64 ``(n_jets + 1,)``
    (jet ``g``'s edges are columns ``edge_offsets[g]:edge_offsets[g+1]``, grouped by
    target node, nearest neighbour first).
    """
    check_offsets(offsets, eta.shape[0], (phi.shape[0],))
    if k < 1:
        raise ValueError("k must be at least 1")
    n_jets = offsets.shape[0] - 1
    edge_offsets = np.zeros(n_jets + 1, dtype=np.int64)
    for g in range(n_jets):
        n = offsets[g + 1] - offsets[g]
        kk = min(k, n - 1) if n > 1 else 0
        edge_offsets[g + 1] = edge_offsets[g] + n * kk
    edges = np.empty((2, edge_offsets[n_jets]), dtype=np.int64)
    for g in numba.prange(n_jets):
        lo = offsets[g]
        n = offsets[g + 1] - lo
        if n < 2:
            continue
        kk = min(k, n - 1)
        best_d = np.empty(kk)
        best_j = np.empty(kk, dtype=np.int64)
        col = edge_offsets[g]
        for i in range(n):
            # keep the kk nearest seen so far, sorted; scanning j upwards and
            # inserting only on a strictly smaller distance keeps ties by index
            m = 0
            for j in range(n):
                if j == i:
                    continue
                de = eta[lo + i] - eta[lo + j]
                dp = delta_phi(phi[lo + i], phi[lo + j])
                d = de * de + dp * dp
                if m == kk and d >= best_d[kk - 1]:
                    continue
                pos = m if m < kk else kk - 1
                while pos > 0 and best_d[pos - 1] > d:
                    if pos < kk:
                        best_d[pos] = best_d[pos - 1]
                        best_j[pos] = best_j[pos - 1]
                    pos -= 1
                best_d[pos] = d
                best_j[pos] = j
                if m < kk:
                    m += 1
            for r in range(kk):
                edges[0, col] = lo + best_j[r]
                edges[1, col] = lo + i
                col += 1
    return edges, edge_offsets
