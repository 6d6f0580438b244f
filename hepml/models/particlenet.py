r"""ParticleNet: jet tagging on particle clouds with dynamic graph CNNs.

H. Qu and L. Gouskos, "ParticleNet: Jet Tagging via Particle Clouds",
Phys. Rev. D 101, 056019 (2020), arXiv:1902.08570; layout as in weaver-core's
``ParticleNet`` (input BatchNorm, fusion layer).

A jet is a graph of its particles. Each EdgeConv block :math:`b` recomputes the
kNN graph in its own input space — the coordinates ``pos`` = (Δη, Δφ) for the
first block, the previous block's output after that — and updates

.. math::

    x^{(b+1)}_i = \mathrm{ReLU}\Big(\mathrm{BN}(W_s x^{(b)}_i)
      + \frac{1}{|\mathcal N_k(i)|}\sum_{j\in\mathcal N_k(i)}
        \Theta_b\big([x^{(b)}_i,\ x^{(b)}_j - x^{(b)}_i]\big)\Big)

with :math:`\Theta_b` three ``Linear → BN → ReLU`` layers (:class:`EdgeConvBlock`).
The block outputs are concatenated and fused (``Linear → BN → ReLU`` to
:math:`\mathrm{clip}(128\lfloor\sum_b C_b / 128\rfloor, 128, 1024)` channels, as
weaver does), averaged over each jet's particles, and classified by
``Linear → ReLU → Dropout`` layers and a final ``Linear`` to the logits.

Shapes: ``x`` ``(n, input_dims)`` particle features, ``pos`` ``(n, 2)``,
``batch`` ``(n,)`` jet ids (nodes of a jet contiguous) → logits ``(B, n_classes)``.

Parameter counts (``input_dims=7``, ``n_classes=2`` as in the paper's top-tagging
study): the paper's networks have no fusion layer and pool the last block only —
``fusion=False`` reproduces them, 366,160 (ParticleNet, "366k") and 26,416
(ParticleNet-Lite, "26k"). With the fusion layer (default, as weaver) they are
571,728 and 47,152.

Jets with one particle have no neighbours; their EdgeConv message is zero and the
shortcut alone carries them. The output is invariant under permuting the
particles of a jet (up to float rounding and exact distance ties).

Example::

    model = ParticleNet(ParticleNetConfig(input_dims=13, n_classes=2))
    logits = model(x, pos, batch)               # or model.forward_data(data)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from hepml.errors import ConfigError
from hepml.models import _config as check
from hepml.models.knn import knn
from hepml.models.layers import EdgeConvBlock, global_pool, mlp, num_graphs_of

__all__ = ["ParticleNet", "ParticleNetConfig", "particlenet_lite_config"]


@dataclass
class ParticleNetConfig:
    """ParticleNet's hyper-parameters (defaults: the paper's full ParticleNet).

    ``input_dims`` defaults to hepml's per-particle feature set
    (``len(hepml.kernels.features.FEATURE_NAMES)`` = 13); ``k`` is the number of
    neighbours of every kNN (the first in ``pos``, then in feature space). ``conv_params`` lists each EdgeConv
    block's MLP widths; ``fc_params`` the ``(units, dropout)`` hidden layers of the
    head. ``fusion`` adds weaver's fusion layer (``False``: the paper's network).
    """

    input_dims: int = 13
    n_classes: int = 2
    k: int = 16
    conv_params: tuple[tuple[int, ...], ...] = ((64, 64, 64), (128, 128, 128), (256, 256, 256))
    fc_params: tuple[tuple[int, float], ...] = ((256, 0.1),)
    use_fts_bn: bool = True
    fusion: bool = True
    name: str = field(default="particlenet", repr=False)

    def __post_init__(self) -> None:
        m = self.name
        for key in ("input_dims", "n_classes", "k"):
            setattr(self, key, check.positive_int(m, key, getattr(self, key)))
        self.conv_params = check.channels(m, "conv_params", self.conv_params, nested=True)
        self.fc_params = check.fc_layers(m, "fc_params", self.fc_params)
        for key in ("use_fts_bn", "fusion"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(
                    f"{m}: option {key!r} must be true or false, got {getattr(self, key)!r}"
                )


def particlenet_lite_config(**overrides) -> ParticleNetConfig:
    """ParticleNet-Lite: k = 7, blocks (32,32,32), (64,64,64), head 128 (dropout 0.1)."""
    base = {
        "k": 7,
        "conv_params": ((32, 32, 32), (64, 64, 64)),
        "fc_params": ((128, 0.1),),
        "name": "particlenet-lite",
    }
    return ParticleNetConfig(**{**base, **overrides})


class ParticleNet(nn.Module):
    """ParticleNet (arXiv:1902.08570); see the module docstring for the maths and shapes."""

    def __init__(self, config: ParticleNetConfig | None = None) -> None:
        super().__init__()
        cfg = config if config is not None else ParticleNetConfig()
        self.config = cfg
        self.k = cfg.k
        self.fts_bn = nn.BatchNorm1d(cfg.input_dims) if cfg.use_fts_bn else nn.Identity()
        blocks = []
        in_dims = cfg.input_dims
        for widths in cfg.conv_params:
            blocks.append(EdgeConvBlock(in_dims, widths, aggr="mean"))
            in_dims = widths[-1]
        self.blocks = nn.ModuleList(blocks)
        self.use_fusion = cfg.fusion
        if cfg.fusion:
            cat_dims = sum(w[-1] for w in cfg.conv_params)
            out = min(max((cat_dims // 128) * 128, 128), 1024)
            self.fusion = nn.Sequential(
                nn.Linear(cat_dims, out, bias=False), nn.BatchNorm1d(out), nn.ReLU()
            )
            in_dims = out
        else:
            self.fusion = nn.Identity()
        self.fc, in_dims = mlp(in_dims, cfg.fc_params)
        self.out = nn.Linear(in_dims, cfg.n_classes)

    def forward(
        self, x: Tensor, pos: Tensor, batch: Tensor | None = None, num_graphs: int | None = None
    ) -> Tensor:
        """Logits ``(B, n_classes)`` for features ``x`` ``(n, F)``, coordinates ``pos``
        ``(n, 2)`` and jet ids ``batch`` ``(n,)`` (``None``: one jet). ``num_graphs``
        fixes ``B`` when trailing jets may be empty."""
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        n_graphs = num_graphs_of(batch, num_graphs)
        h = self.fts_bn(x)
        outputs: list[Tensor] = []
        for i, block in enumerate(self.blocks):
            points = pos if i == 0 else h
            h = block(h, knn(points, self.k, batch))
            outputs.append(h)
        if self.use_fusion:
            h = self.fusion(torch.cat(outputs, dim=1))
        pooled = global_pool(h, batch, n_graphs, "mean")
        return self.out(self.fc(pooled))

    @torch.jit.unused
    def forward_data(self, data) -> Tensor:
        """Logits for a :class:`torch_geometric.data.Batch` (or ``Data``) with ``x``,
        ``pos`` and (for a batch) ``batch``."""
        x, pos = data.x, getattr(data, "pos", None)
        if x is None or pos is None:
            raise ValueError(
                "ParticleNet.forward_data: the graph needs `x` (particle features) and "
                "`pos` (Δη, Δφ); build it with hepml.graphs"
            )
        batch = getattr(data, "batch", None)
        return self(x, pos, batch, getattr(data, "num_graphs", None))
