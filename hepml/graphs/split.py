"""The fixed train / validation / test split, decided per event.

Each row goes to a split by a hash of (position of its file in the file list,
``file_index``, ``entry``) and ``seed`` — not by row order — so the jets of one
event never straddle two splits, every model trained on the same files sees the
same test rows, and a reader that sees one chunk at a time (the streaming
dataset, a Ray worker) can tell each row's split on its own.

Example::

    split = split_indices(rows, sample, (0.6, 0.2, 0.2), seed=0)   # {'train': idx, ...}
"""

from __future__ import annotations

from collections.abc import Sequence

import awkward as ak
import numpy as np

__all__ = ["SPLITS", "split_indices"]

SPLITS = ("train", "val", "test")


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
