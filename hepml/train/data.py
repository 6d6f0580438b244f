"""The jets a training run uses, and its fixed train / validation / test split.

The split (:mod:`hepml.graphs.split`) is decided per **event** from a hash of
(position of the file in ``data.files``, ``file_index``, ``entry``) and
``split_seed``, so every model trained on the same files (ParticleNet, PFN, the
substructure baseline) and every ``hepml evaluate`` sees the same test jets.

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
from hepml.graphs.events import graphs_of
from hepml.graphs.jets import load_rows
from hepml.graphs.split import SPLITS, split_indices

__all__ = ["SPLITS", "graphs_of", "load_jet_rows", "split_indices"]


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
