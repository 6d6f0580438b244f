r"""Particle Flow Network (Deep Sets for jets).

P. T. Komiske, E. M. Metodiev and J. Thaler, "Energy Flow Networks: Deep Sets
for Particle Jets", JHEP 01 (2019) 121, arXiv:1810.05165.

A jet is a set of particles; a per-particle network :math:`\Phi` maps each
particle to a latent vector, the latents are **summed** over the jet, and a
network :math:`F` maps the sum to the logits:

.. math:: \mathrm{PFN}(\{p_1, \dots, p_M\}) = F\Big(\sum_{i=1}^{M} \Phi(p_i)\Big)

:math:`\Phi` is ``Linear → ReLU`` layers of widths ``phi_sizes`` (default 100,
100, 128: the last is the latent dimension ℓ), :math:`F` is ``Linear → ReLU →
Dropout`` of widths ``f_sizes`` (100, 100, 100) followed by ``Linear`` to
``n_classes`` logits. The output is exactly invariant under permutations of the
particles (up to float rounding of the sum).

Shapes: ``x`` ``(n, input_dims)``, ``batch`` ``(n,)`` jet ids → ``(B, n_classes)``.

Example::

    model = PFN(PFNConfig(input_dims=13))
    logits = model(x, batch)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from hepml.models import _config as check
from hepml.models.layers import global_pool, mlp, num_graphs_of

__all__ = ["PFN", "PFNConfig"]


@dataclass
class PFNConfig:
    """PFN hyper-parameters (defaults: the paper's Φ = (100, 100, 128), F = (100, 100, 100)).

    ``input_dims`` defaults to hepml's per-particle feature set (13 features);
    ``dropout`` applies after each hidden layer of F.
    """

    input_dims: int = 13
    n_classes: int = 2
    phi_sizes: tuple[int, ...] = (100, 100, 128)
    f_sizes: tuple[int, ...] = (100, 100, 100)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for key in ("input_dims", "n_classes"):
            setattr(self, key, check.positive_int("pfn", key, getattr(self, key)))
        self.phi_sizes = check.channels("pfn", "phi_sizes", self.phi_sizes)
        self.f_sizes = check.channels("pfn", "f_sizes", self.f_sizes)
        self.dropout = check.probability("pfn", "dropout", self.dropout)


class PFN(nn.Module):
    """Particle Flow Network (arXiv:1810.05165); see the module docstring."""

    def __init__(self, config: PFNConfig | None = None) -> None:
        super().__init__()
        cfg = config if config is not None else PFNConfig()
        self.config = cfg
        self.phi, width = mlp(cfg.input_dims, [(s, 0.0) for s in cfg.phi_sizes])
        self.f, width = mlp(width, [(s, cfg.dropout) for s in cfg.f_sizes])
        self.out = nn.Linear(width, cfg.n_classes)

    def forward(
        self, x: Tensor, batch: Tensor | None = None, num_graphs: int | None = None
    ) -> Tensor:
        """Logits ``(B, n_classes)`` for particles ``x`` ``(n, F)`` of jets ``batch``."""
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        latent = global_pool(self.phi(x), batch, num_graphs_of(batch, num_graphs), "sum")
        return self.out(self.f(latent))

    @torch.jit.unused
    def forward_data(self, data) -> Tensor:
        """Logits for a :class:`torch_geometric.data.Batch` (or ``Data``) with ``x``."""
        if data.x is None:
            raise ValueError("PFN.forward_data: the graph needs `x` (particle features)")
        return self(data.x, getattr(data, "batch", None), getattr(data, "num_graphs", None))
