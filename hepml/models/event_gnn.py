r"""Event-level GNN: classify a whole collision event from its reconstructed objects.

Nodes are the event's objects — jets, leptons, photons, MET — with features
such as a type one-hot and kinematics (built by :mod:`hepml.graphs`; only the
width ``input_dims`` matters here). Edges join every pair of objects of an event
(``graph="full"``, the default: events have tens of objects at most) or each
object to its ``k`` nearest in feature space (``graph="knn"``), or are given.

A stack of EdgeConv blocks (:class:`hepml.models.layers.EdgeConvBlock`, after
DGCNN, arXiv:1801.07829, as in ParticleNet, arXiv:1902.08570) updates

.. math::

    x'_i = \mathrm{ReLU}\Big(\mathrm{BN}(W_s x_i) + \operatorname*{aggr}_{j \to i}
           \Theta\big([x_i,\ x_j - x_i]\big)\Big),

then the event is summarised by the concatenated mean and max over its objects,
:math:`[\bar{x}, \max_i x_i]`, and classified by ``Linear → ReLU → Dropout``
layers and a ``Linear`` to the logits.

Shapes: ``x`` ``(n, input_dims)``, ``batch`` ``(n,)`` event ids (objects of an
event contiguous), optional ``edge_index`` ``(2, E)`` → ``(B, n_classes)``.
An event with one object has no edges; its block message is zero.

Example::

    model = EventGNN(EventGNNConfig(input_dims=10, n_classes=3))
    logits = model(x, batch)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from hepml.errors import ConfigError
from hepml.models import _config as check
from hepml.models.knn import knn
from hepml.models.layers import EdgeConvBlock, global_pool, mlp, num_graphs_of

__all__ = ["EventGNN", "EventGNNConfig", "fully_connected"]


def fully_connected(batch: Tensor, loop: bool = False) -> Tensor:
    """``edge_index`` ``(2, E)`` joining every ordered pair of nodes within each graph.

    ``batch`` ``(n,)``: sorted graph ids (nodes of a graph contiguous). Edges are
    grouped by target node, sources in node order; ``loop`` adds self-loops.
    :math:`E = \\sum_g n_g (n_g - 1)` (or :math:`n_g^2` with loops).
    """
    n = batch.size(0)
    if n == 0:
        return torch.empty((2, 0), dtype=torch.long, device=batch.device)
    if n > 1 and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("fully_connected: batch must be sorted (nodes of a graph contiguous)")
    counts = torch.bincount(batch)
    ptr = torch.cumsum(counts, 0) - counts
    n_max = int(counts.max())
    local = torch.arange(n_max, device=batch.device)
    # for each target node (global), candidate sources ptr[g] + 0 .. n_max - 1
    node_count = counts[batch].view(-1, 1)
    src = ptr[batch].view(-1, 1) + local.view(1, -1)
    keep = local.view(1, -1) < node_count
    dst = torch.arange(n, device=batch.device).view(-1, 1).expand_as(src)
    if not loop:
        keep = keep & (src != dst)
    return torch.stack([src[keep], dst[keep]], dim=0)


@dataclass
class EventGNNConfig:
    """Event GNN hyper-parameters.

    ``input_dims``: object feature width (default 10, the builder's
    :data:`~hepml.reco.objects.EVENT_NODE_FEATURES`: a 5-way type one-hot — jet,
    electron, muon, photon, MET — and log pT, η, sin φ, cos φ, log mass).
    ``conv_params``: each EdgeConv block's MLP widths; ``aggr``: ``"mean"``, ``"max"`` or ``"sum"`` over neighbours; ``graph``:
    ``"full"`` or ``"knn"`` (with ``k``) when no ``edge_index`` is passed;
    ``fc_params``: ``(units, dropout)`` hidden layers of the head.
    """

    input_dims: int = 10
    n_classes: int = 2
    conv_params: tuple[tuple[int, ...], ...] = ((64, 64), (64, 64), (64, 64))
    aggr: str = "mean"
    graph: str = "full"
    k: int = 8
    fc_params: tuple[tuple[int, float], ...] = ((128, 0.1),)
    use_fts_bn: bool = True

    def __post_init__(self) -> None:
        m = "event-gnn"
        for key in ("input_dims", "n_classes", "k"):
            setattr(self, key, check.positive_int(m, key, getattr(self, key)))
        self.conv_params = check.channels(m, "conv_params", self.conv_params, nested=True)
        self.fc_params = check.fc_layers(m, "fc_params", self.fc_params)
        self.aggr = check.choice(m, "aggr", self.aggr, ("mean", "max", "sum"))
        self.graph = check.choice(m, "graph", self.graph, ("full", "knn"))
        if not isinstance(self.use_fts_bn, bool):
            raise ConfigError(
                f"{m}: option 'use_fts_bn' must be true or false, got {self.use_fts_bn!r}"
            )


class EventGNN(nn.Module):
    """EdgeConv network over an event's objects; see the module docstring."""

    def __init__(self, config: EventGNNConfig | None = None) -> None:
        super().__init__()
        cfg = config if config is not None else EventGNNConfig()
        self.config = cfg
        self.fts_bn = nn.BatchNorm1d(cfg.input_dims) if cfg.use_fts_bn else nn.Identity()
        blocks = []
        in_dims = cfg.input_dims
        for widths in cfg.conv_params:
            blocks.append(EdgeConvBlock(in_dims, widths, aggr=cfg.aggr))
            in_dims = widths[-1]
        self.blocks = nn.ModuleList(blocks)
        self.use_knn = cfg.graph == "knn"
        self.k = cfg.k
        self.fc, width = mlp(2 * in_dims, cfg.fc_params)
        self.out = nn.Linear(width, cfg.n_classes)

    def forward(
        self,
        x: Tensor,
        batch: Tensor | None = None,
        edge_index: Tensor | None = None,
        num_graphs: int | None = None,
    ) -> Tensor:
        """Logits ``(B, n_classes)`` for objects ``x`` ``(n, F)`` of events ``batch``."""
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        n_graphs = num_graphs_of(batch, num_graphs)
        h = self.fts_bn(x)
        if edge_index is None:
            edge_index = knn(h, self.k, batch) if self.use_knn else fully_connected(batch)
        for block in self.blocks:
            h = block(h, edge_index)
        pooled = torch.cat(
            [global_pool(h, batch, n_graphs, "mean"), global_pool(h, batch, n_graphs, "max")],
            dim=1,
        )
        return self.out(self.fc(pooled))

    @torch.jit.unused
    def forward_data(self, data) -> Tensor:
        """Logits for a :class:`torch_geometric.data.Batch` (or ``Data``) with ``x`` and
        optionally ``edge_index`` and ``batch``."""
        if data.x is None:
            raise ValueError("EventGNN.forward_data: the graph needs `x` (object features)")
        return self(
            data.x,
            getattr(data, "batch", None),
            getattr(data, "edge_index", None),
            getattr(data, "num_graphs", None),
        )
