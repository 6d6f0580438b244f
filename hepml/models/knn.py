r"""Dynamic k nearest neighbours in feature space, in pure torch (CPU and CUDA).

For node :math:`i` of graph :math:`g` (with :math:`n_g` nodes) the neighbours are
the :math:`\min(k, n_g - 1)` other nodes :math:`j` of the same graph with the
smallest squared Euclidean distance

.. math:: d_{ij} = \lVert x_i - x_j \rVert^2 = \lVert x_i\rVert^2 + \lVert x_j\rVert^2
          - 2\, x_i \cdot x_j ,

each giving one edge :math:`j \to i`: row 0 of the result is the source
(neighbour), row 1 the target, PyG's ``flow="source_to_target"``. This is the
graph that ParticleNet's EdgeConv blocks recompute from each block's input
(arXiv:1902.08570) and that :func:`hepml.kernels.knn.knn_edges` builds in
(η, φ) with Numba; unlike the kernel, φ is **not** wrapped here (the features
are whatever the network has learnt; ParticleNet's first block gets (Δη, Δφ)
relative to the jet axis, where no wrap-around occurs).

Conventions:

* ``batch`` is PyG's graph-id vector: the nodes of a graph are contiguous and the
  ids non-decreasing (what :class:`torch_geometric.data.Batch` produces); graph ids
  without nodes are allowed.
* Output order: grouped by target node (in node order), nearest neighbour first,
  the same order as :func:`hepml.kernels.knn.knn_edges`.
* Among neighbours at exactly equal distance at the k-th place the lower index is
  taken, as in :func:`hepml.kernels.knn.knn_edges`; so a jet's neighbour sets (and
  score) do not depend on the other jets of its batch. Exact ties are common:
  smeared calorimeter cells put neutral particles at equal (η, φ). The order among
  equal distances inside the k is unspecified. This holds exactly for up to 4
  features (the first ParticleNet block's (Δη, Δφ), computed coordinate by
  coordinate). With more (the learned features of later blocks) distances come
  from a matrix product, whose rounding can depend on the batch's layout, so two
  neighbours at equal distance may compare unequal and the set at a tie can differ
  with the batch; exact ties there need exactly equal learned features (duplicated
  particles), and scores then differ at the level of float rounding.
* A graph with fewer than :math:`k + 1` nodes gives every node all the others.
  A single-node graph gives **no** edges (``loop=False``): its node is isolated,
  and a message-passing layer with mean or max aggregation gives it a zero
  message (ParticleNet's shortcut still carries its features).
* ``loop=True`` counts each node as its own nearest neighbour (PyG's
  ``knn_graph(loop=True)`` convention): every node gets :math:`\min(k, n_g)`
  neighbours, itself first; a single-node graph then gets its self-loop.
* Non-finite features give unspecified neighbours for their graph.

The distances are computed on a padded ``(B, N_max, F)`` tensor — coordinate by
coordinate (exact) for ``F <= 4``, by the expanded formula with a batched matmul
after subtracting each graph's mean (which keeps it accurate) above — then
``torch.topk`` picks the neighbours. Memory is :math:`O(B\, N_{max}^2)`; no
Python loop runs over graphs or nodes.
Neighbour indices are not differentiable; the features are detached. The distances
are computed in float32 (float64 inputs stay float64) even under ``torch.autocast``
with bf16 or fp16, so that mixed precision does not change the graph.

Example::

    edge_index = knn(pos, k=16, batch=batch)  # (2, E), E = sum_g n_g * min(16, n_g - 1)
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["knn", "to_dense"]


def to_dense(x: Tensor, batch: Tensor, num_graphs: int = -1) -> tuple[Tensor, Tensor, Tensor]:
    """Pad node features per graph.

    Shapes: ``x`` ``(n, F)``, ``batch`` ``(n,)`` non-decreasing graph ids. Returns
    ``dense`` ``(B, N_max, F)`` (padding is zero), ``mask`` bool ``(B, N_max)`` and
    ``ptr`` long ``(B,)``, the global index of each graph's first node. ``B`` is
    ``num_graphs`` when given (≥ 0), else ``batch.max() + 1``.
    """
    n = x.size(0)
    if num_graphs < 0:
        num_graphs = int(batch.max()) + 1 if n > 0 else 0
    counts = torch.bincount(batch, minlength=num_graphs)
    ptr = torch.cumsum(counts, 0) - counts
    n_max = int(counts.max()) if num_graphs > 0 else 0
    local = torch.arange(n, device=x.device) - ptr[batch]
    dense = x.new_zeros((num_graphs, n_max, x.size(1)))
    dense[batch, local] = x
    mask = torch.zeros((num_graphs, n_max), dtype=torch.bool, device=x.device)
    mask[batch, local] = True
    return dense, mask, ptr


def knn(x: Tensor, k: int, batch: Tensor | None = None, loop: bool = False) -> Tensor:
    """``edge_index`` ``(2, E)`` long of the k-nearest-neighbour graph of every graph.

    Shapes: ``x`` ``(n, F)`` float; ``batch`` ``(n,)`` long graph ids, nodes of a
    graph contiguous and sorted by graph (``None``: one graph). See the module
    docstring for ordering, ties, small graphs and ``loop``.

    Example::

        >>> x = torch.tensor([[0.0], [1.0], [3.0]])
        >>> knn(x, k=1)
        tensor([[1, 0, 1],
                [0, 1, 2]])
    """
    if x.dim() != 2:
        raise ValueError(f"knn: x must be (n_nodes, n_features), got {x.dim()} dimensions")
    if k < 1:
        raise ValueError(f"knn: k must be >= 1, got {k}")
    n = x.size(0)
    if batch is None:
        batch = torch.zeros(n, dtype=torch.long, device=x.device)
    if batch.dim() != 1 or batch.size(0) != n:
        raise ValueError(
            f"knn: batch must have one graph id per node ({n}), got shape {batch.shape}"
        )
    if n == 0:
        return torch.empty((2, 0), dtype=torch.long, device=x.device)
    if n > 1 and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError(
            "knn: batch must be sorted (nodes of a graph contiguous, graph ids "
            "non-decreasing, as in torch_geometric.data.Batch)"
        )
    # distances in fp32 whatever the autocast: bf16's 8-bit mantissa reorders near
    # neighbours (tests/models/test_knn.py shows the graph change under CPU autocast)
    x = x.detach()
    if x.dtype != torch.float64:
        x = x.float()
    if torch.jit.is_scripting():  # (TorchScript compiles no autocast block; none runs there)
        return _knn(x, k, batch, loop)
    with torch.autocast(device_type=x.device.type, enabled=False):
        return _knn(x, k, batch, loop)


def _knn(x: Tensor, k: int, batch: Tensor, loop: bool) -> Tensor:
    dense, mask, ptr = to_dense(x, batch)
    n_max = dense.size(1)
    k_eff = min(k, n_max if loop else n_max - 1)
    if k_eff < 1:
        return torch.empty((2, 0), dtype=torch.long, device=x.device)

    inf = float("inf")
    if dense.size(2) <= 4:
        # few features (the first ParticleNet block's (Δη, Δφ)): exact sum of squared
        # coordinate differences, padding placed at +inf gives inf distances
        pts = dense.masked_fill(~mask.unsqueeze(-1), inf)
        dist = (pts[:, :, None, 0] - pts[:, None, :, 0]).square_()
        for f in range(1, pts.size(2)):
            dist.add_((pts[:, :, None, f] - pts[:, None, :, f]).square_())
    else:
        # centre each graph (padding stays zero) so the expanded formula loses little precision
        fmask = mask.unsqueeze(-1).to(dense.dtype)
        count = fmask.sum(1, keepdim=True).clamp_min(1.0)
        dense = (dense - dense.sum(1, keepdim=True) / count) * fmask
        sq = (dense * dense).sum(-1)
        dist = torch.baddbmm(
            sq.unsqueeze(2) + sq.unsqueeze(1), dense, dense.transpose(1, 2), alpha=-2.0
        )
        dist.clamp_min_(0.0).masked_fill_(~mask.unsqueeze(1), inf)
    dist.diagonal(dim1=1, dim2=2).fill_(-1.0 if loop else inf)
    idx, valid = _nearest(dist, k_eff)
    valid &= mask.unsqueeze(-1)
    offset = ptr.view(-1, 1, 1)
    src = idx + offset
    dst = (torch.arange(n_max, device=x.device).view(1, -1, 1) + offset).expand_as(src)
    return torch.stack([src[valid], dst[valid]], dim=0)


def _nearest(dist: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Indices ``(B, N, k)`` of the ``k`` smallest of each row of ``dist`` ``(B, N, N)``,
    nearest first, and whether each distance is finite.

    Where the k-th and the (k+1)-th smallest distance are equal, ``topk`` alone would
    pick the neighbour set by memory layout, so a jet's graph (and score) would depend
    on the other jets of its batch; smeared calorimeter cells put neutral particles at
    equal (η, φ), so such ties are common. Those rows are sorted again, stably: the
    lower index is taken, as in :func:`hepml.kernels.knn.knn_edges`. Inside the k,
    the order among equal distances stays ``topk``'s (the set is fixed; only the
    order of summing messages can differ). Checking every tie instead of the
    boundary's cost 15 % of the kNN time.
    """
    n = dist.size(-1)
    kk = min(k + 1, n)
    d, idx = torch.topk(dist, kk, dim=-1, largest=False, sorted=True)
    if kk > k:
        tie = (d[:, :, k] == d[:, :, k - 1]) & torch.isfinite(d[:, :, k])
        rows = tie.nonzero()
        if rows.size(0) > 0:
            b, i = rows[:, 0], rows[:, 1]
            ds, ids = torch.sort(dist[b, i], dim=-1, stable=True)
            d[b, i] = ds[:, :kk]
            idx[b, i] = ids[:, :kk]
    return idx[:, :, :k], torch.isfinite(d[:, :, :k])
