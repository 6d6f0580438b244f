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

__all__ = [
    "SPLITS",
    "absolute_paths",
    "graphs_of",
    "load_jet_rows",
    "split_indices",
    "split_keys",
]


def absolute_paths(files: Sequence[str | os.PathLike]) -> list[str]:
    """``files`` as absolute paths (as given, symbolic links kept)."""
    return [os.path.abspath(os.fspath(f)) for f in files]


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def split_keys(files: Sequence[str | os.PathLike], training: Sequence[str]) -> list[int]:
    """The split key of each of ``files``: its position among the ``training`` files
    when it is one of them (so its rows fall in the splits they had in training, in
    whatever order the files are given), else a position after them."""
    keys, extra = [], len(training)
    for f in files:
        k = next((i for i, t in enumerate(training) if _same_file(os.fspath(f), t)), None)
        if k is None:
            k, extra = extra, extra + 1
        keys.append(k)
    return keys


def load_jet_rows(
    files: Sequence[str | os.PathLike],
    max_jets: int | None = None,
    keys: Sequence[int] | None = None,
) -> tuple[ak.Array, np.ndarray]:
    """Jet rows of all ``files`` (``hepml reconstruct`` parquet outputs) concatenated,
    and each row's split key: the position of its file in ``files`` (or ``keys[i]``, see
    :func:`split_keys`); at most ``max_jets`` per file. A file given twice is refused
    (its rows would be in two splits at once)."""
    if not files:
        raise InputError("no training data: give jet files (data.files in the config)")
    for i, a in enumerate(files):
        for b in files[:i]:
            if _same_file(os.fspath(a), os.fspath(b)):
                raise InputError(
                    f"{a} is given twice (as {b} too); each file may appear once, "
                    "or its rows would count twice"
                )
    arrays, sample = [], []
    for i, path in enumerate(files):
        rows = load_rows(path)
        if max_jets is not None:
            rows = rows[:max_jets]
        arrays.append(rows)
        sample.append(np.full(len(rows), i if keys is None else keys[i], dtype=np.int64))
    level = ["events" if "objects" in a.fields else "jets" for a in arrays]
    for i in range(1, len(files)):
        if level[i] != level[0]:
            raise InputError(
                f"{files[0]} holds {level[0][:-1]} rows and {files[i]} {level[i][:-1]} rows "
                f"(hepml reconstruct --level {level[0]} / {level[i]}); train on rows of one level"
            )
    rows = ak.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    return rows, np.concatenate(sample)
