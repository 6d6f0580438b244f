"""Jets and events as graphs for torch-geometric.

* :class:`JetGraphs` — an in-memory dataset of jet graphs built from the rows
  ``hepml reconstruct`` writes (one row per jet with jagged particle features):
  ``x`` (particle features), ``pos`` (Δη, Δφ), ``y``, ``weight`` and ids.
* :class:`Standardizer` — per-feature mean and standard deviation computed on a
  training split, saved with a model as a plain dict.
"""

from __future__ import annotations

from hepml.graphs.jets import JetGraphs, Standardizer, load_rows

__all__ = ["JetGraphs", "Standardizer", "load_rows"]
