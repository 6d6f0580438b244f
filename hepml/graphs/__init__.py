"""Jets and events as graphs for torch-geometric.

* :class:`JetGraphs` — an in-memory dataset of jet graphs built from the rows
  ``hepml reconstruct`` writes (one row per jet with jagged particle features):
  ``x`` (particle features), ``pos`` (Δη, Δφ), ``y``, ``weight`` and ids.
* :class:`EventGraphs` — events as graphs of their reconstructed objects (jets,
  leptons, photons, MET), with the same API.
* :class:`StreamingJetGraphs` — the same graphs streamed from files larger than
  memory through a bounded shuffle buffer, sharded over ranks and workers.
* :func:`reflect` — mirror jets in Δη / Δφ, the training-time augmentation of
  ``data.augment: reflect``.
* :class:`Standardizer` — per-feature mean and standard deviation computed on a
  training split, saved with a model as a plain dict.
"""

from __future__ import annotations

from hepml.graphs.events import EVENT_NODE_FEATURES, EventGraphs, graphs_of, is_event_rows
from hepml.graphs.jets import JetGraphs, Standardizer, load_rows, read_rows, reflect
from hepml.graphs.split import SPLITS, split_indices
from hepml.graphs.stream import StreamingJetGraphs

__all__ = [
    "EVENT_NODE_FEATURES",
    "SPLITS",
    "EventGraphs",
    "JetGraphs",
    "Standardizer",
    "StreamingJetGraphs",
    "graphs_of",
    "is_event_rows",
    "load_rows",
    "read_rows",
    "reflect",
    "split_indices",
]
