r"""Building blocks shared by the networks, in pure torch (TorchScript-able).

* :class:`EdgeConvBlock` — ParticleNet's EdgeConv block (arXiv:1902.08570, after
  DGCNN, arXiv:1801.07829) on an explicit ``edge_index``.
* :func:`segment_reduce` — per-node aggregation of edge messages.
* :func:`global_pool` — per-graph sum / mean / max of node features.
* :func:`mlp` — ``Linear → ReLU → Dropout`` stacks for the heads.

Everything here avoids compiled torch-geometric extensions (``torch-scatter``,
``pyg-lib``) so the models run wherever torch does, and can be scripted.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["EdgeConvBlock", "global_pool", "mlp", "num_graphs_of", "segment_reduce"]


def segment_reduce(values: Tensor, index: Tensor, size: int, reduce: str) -> Tensor:
    """Reduce rows of ``values`` ``(E, C)`` into ``(size, C)`` by ``index`` ``(E,)``.

    ``reduce`` is ``"sum"``, ``"mean"`` or ``"max"``; a segment without rows gives zeros.
    """
    out = values.new_zeros((size, values.size(1)))
    if reduce == "max":
        idx = index.view(-1, 1).expand_as(values)
        return out.scatter_reduce(0, idx, values, reduce="amax", include_self=False)
    out = out.index_add(0, index, values)
    if reduce == "mean":
        count = torch.bincount(index, minlength=size).clamp_min(1).to(values.dtype)
        out = out / count.view(-1, 1)
    elif reduce != "sum":
        raise ValueError(f"segment_reduce: reduce must be sum, mean or max, got {reduce}")
    return out


def num_graphs_of(batch: Tensor, num_graphs: int | None) -> int:
    """``num_graphs`` if given, else ``batch.max() + 1`` (0 for no nodes)."""
    if num_graphs is not None:
        return num_graphs
    return int(batch.max()) + 1 if batch.numel() > 0 else 0


def global_pool(x: Tensor, batch: Tensor, num_graphs: int, reduce: str) -> Tensor:
    """Per-graph ``reduce`` (sum / mean / max) of node features: ``(n, C) -> (B, C)``."""
    return segment_reduce(x, batch, num_graphs, reduce)


def mlp(in_dims: int, layers: Sequence[tuple[int, float]]) -> tuple[nn.Sequential, int]:
    """``Linear(→units) → ReLU → Dropout(p)`` for each ``(units, p)``; returns it and its width."""
    mods: list[nn.Module] = []
    for units, p in layers:
        mods += [nn.Linear(in_dims, units), nn.ReLU()]
        if p > 0:
            mods.append(nn.Dropout(p))
        in_dims = units
    return nn.Sequential(*mods), in_dims


class EdgeConvBlock(nn.Module):
    r"""EdgeConv block with a shortcut, as in ParticleNet (arXiv:1902.08570, Fig. 2).

    For node :math:`i` with neighbours :math:`\mathcal{N}(i)` (edges :math:`j \to i`):

    .. math::

        h_i = \mathrm{ReLU}\Big( \mathrm{BN}(W_s x_i) + \operatorname*{aggr}_{j\in\mathcal{N}(i)}
              \Theta\big([\,x_i,\; x_j - x_i\,]\big) \Big)

    with :math:`\Theta` a stack of ``Linear → BatchNorm1d → ReLU`` layers of
    widths ``channels`` (the Linear layers have no bias; BN supplies it) and
    ``aggr`` the mean (ParticleNet) or max. BatchNorm statistics are taken over
    the real edges only. A node without edges gets a zero message.

    Shapes: ``x`` ``(n, in_dims)``, ``edge_index`` ``(2, E)`` (row 0 source) →
    ``(n, channels[-1])``.
    """

    def __init__(self, in_dims: int, channels: Sequence[int], aggr: str = "mean") -> None:
        super().__init__()
        if aggr not in ("mean", "max", "sum"):
            raise ValueError(f"EdgeConvBlock: aggr must be mean, max or sum, got {aggr!r}")
        mods: list[nn.Module] = []
        c_in = 2 * in_dims
        for c in channels:
            mods += [nn.Linear(c_in, c, bias=False), nn.BatchNorm1d(c), nn.ReLU()]
            c_in = c
        self.mlp = nn.Sequential(*mods)
        self.shortcut = nn.Sequential(
            nn.Linear(in_dims, channels[-1], bias=False), nn.BatchNorm1d(channels[-1])
        )
        self.aggr = aggr
        self.out_dims = int(channels[-1])

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        src, dst = edge_index[0], edge_index[1]
        x_i = x.index_select(0, dst)
        x_j = x.index_select(0, src)
        msg = self.mlp(torch.cat([x_i, x_j - x_i], dim=1))
        agg = segment_reduce(msg, dst, x.size(0), self.aggr)
        return torch.relu(agg + self.shortcut(x))
