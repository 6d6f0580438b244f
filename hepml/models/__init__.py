"""Graph networks for jets and events, in pure torch (no compiled PyG extensions).

* :func:`build`, :func:`list_models`, :func:`default_config` — the registry
  (``"particlenet"``, ``"particlenet-lite"``, ``"pfn"``, ``"event-gnn"``).
* :class:`ParticleNet` — dynamic-graph EdgeConv jet tagger (arXiv:1902.08570).
* :class:`PFN` — Particle Flow Network / Deep Sets (arXiv:1810.05165).
* :class:`EventGNN` — EdgeConv over an event's reconstructed objects.
* :func:`knn` — kNN graph per graph of a PyG-style batch, CPU or CUDA;
  :func:`fully_connected` — all pairs within each graph.

Every model takes flat node tensors and a ``batch`` vector of graph ids (PyG's
batching) and returns logits ``(n_graphs, n_classes)``; ``model.forward_data(batch)``
takes a :class:`torch_geometric.data.Batch`. This layer imports only torch
(and :mod:`hepml.errors`), never :mod:`hepml.io`, :mod:`hepml.reco` or
:mod:`hepml.graphs`.

Example::

    from hepml.models import build
    model = build("particlenet-lite", input_dims=13, n_classes=2)
    logits = model(x, pos, batch)
"""

from __future__ import annotations

from hepml.models.event_gnn import EventGNN, EventGNNConfig, fully_connected
from hepml.models.knn import knn
from hepml.models.layers import EdgeConvBlock
from hepml.models.particlenet import ParticleNet, ParticleNetConfig, particlenet_lite_config
from hepml.models.pfn import PFN, PFNConfig
from hepml.models.registry import build, default_config, list_models

__all__ = [
    "PFN",
    "EdgeConvBlock",
    "EventGNN",
    "EventGNNConfig",
    "PFNConfig",
    "ParticleNet",
    "ParticleNetConfig",
    "build",
    "default_config",
    "fully_connected",
    "knn",
    "list_models",
    "particlenet_lite_config",
]
