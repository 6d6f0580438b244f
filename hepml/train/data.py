"""The jets a training run uses, and its fixed train / validation / test split.

The split is decided per **event** from a hash of (position of the file in
``data.files``, ``file_index``, ``entry``) and ``split_seed`` — not from the order
of the rows — so jets of one event never straddle two splits, and every model
trained on the same files (ParticleNet, PFN, the substructure baseline) and every
``hepml evaluate`` sees the same test jets.

Example::

    rows, sample = load_jet_rows(["top.parquet", "qcd.parquet"])
    split = split_indices(rows, sample, (0.6, 0.2, 0.2), seed=0)   # {'train': idx, ...}
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import awkward as ak
import numpy as np

from hepml.errors import InputError
from hepml.graphs.jets import load_rows

__all__ = ["SPLITS", "graphs_of", "load_jet_rows", "split_indices"]

SPLITS = ("train", "val", "test")


def load_jet_rows(
    files: Sequence[str | os.PathLike], max_jets: int | None = None
) -> tuple[ak.Array, np.ndarray]:
    """Jet rows of all ``files`` (``hepml reconstruct`` parquet outputs) concatenated,
    and the position of each row's file in ``files``; at most ``max_jets`` per file."""
    if not files:
        raise InputError("no training data: give jet files (data.files in the config)")
    arrays, sample = [], []
    for i, path in enumerate(files):
        rows = load_rows(path)
        if max_jets is not None:
            rows = rows[:max_jets]
        arrays.append(rows)
        sample.append(np.full(len(rows), i, dtype=np.int64))
    rows = ak.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    return rows, np.concatenate(sample)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64 → uniformly spread uint64)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def split_indices(
    rows: ak.Array, sample: np.ndarray, fractions: Sequence[float], seed: int = 0
) -> dict[str, np.ndarray]:
    """Row indices of the ``train``/``val``/``test`` splits (sorted), by event hash."""
    with np.errstate(over="ignore"):
        key = _mix(np.uint64(seed) + np.uint64(0x9E3779B97F4A7C15))
        for col in (sample, ak.to_numpy(rows.file_index), ak.to_numpy(rows.entry)):
            key = _mix(key ^ np.asarray(col).astype(np.uint64))
    u = (key >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    edges = np.cumsum(fractions)
    which = np.searchsorted(edges[:-1], u, side="right")
    return {name: np.nonzero(which == i)[0] for i, name in enumerate(SPLITS)}


def graphs_of(rows: ak.Array, features: Sequence[str] | None = None):
    """:class:`~hepml.graphs.JetGraphs` of jet rows or :class:`~hepml.graphs.EventGraphs`
    of event rows, with ``features`` (``None``: all of the kind's node features)."""
    from hepml.graphs import EVENT_NODE_FEATURES, EventGraphs, JetGraphs, is_event_rows
    from hepml.reco import FEATURE_NAMES

    if is_event_rows(rows):
        return EventGraphs(rows, features or EVENT_NODE_FEATURES)
    return JetGraphs(rows, features or FEATURE_NAMES)
