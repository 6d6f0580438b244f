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
    "reconstruction_settings",
    "split_indices",
    "split_keys",
    "training_fingerprints",
]


def absolute_paths(files: Sequence[str | os.PathLike]) -> list[str]:
    """``files`` as absolute paths (as given, symbolic links kept)."""
    return [os.path.abspath(os.fspath(f)) for f in files]


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def file_fingerprint(path: str | os.PathLike) -> str | None:
    """What identifies a ``hepml reconstruct`` output wherever it lies (moved, copied,
    on another machine): a hash of its provenance (the command that made it, with its
    inputs and seed) and its size in bytes; None for a file without provenance."""
    import hashlib
    import json

    from hepml.reco.pipeline import read_provenance

    try:
        meta = read_provenance(path)
        size = os.path.getsize(path)
    except Exception:  # (unreadable here: it is matched by path only)
        return None
    if meta is None:
        return None
    text = json.dumps(meta, sort_keys=True, default=str) + f"|{size}"
    return hashlib.sha1(text.encode()).hexdigest()


def training_fingerprints(files: Sequence[str | os.PathLike]) -> list[str | None]:
    """:func:`file_fingerprint` of each training file, stored in the checkpoint."""
    return [file_fingerprint(f) for f in files]


def reconstruction_settings(files: Sequence[str | os.PathLike]) -> dict:
    """The ``hepml reconstruct`` settings (``max_particles``, ``smear``, ``radius`` …,
    from each file's provenance) that all of ``files`` share, stored in a checkpoint
    so that whoever builds the model's inputs elsewhere (the trigger's ML path) builds
    them alike; a setting the files disagree on, or any file without provenance,
    leaves it out (an empty dict when nothing is known)."""
    from hepml.reco.pipeline import read_provenance

    shared: dict | None = None
    for f in files:
        try:
            meta = read_provenance(f)
        except Exception:
            meta = None
        cfg = (meta or {}).get("config")
        if not isinstance(cfg, dict):
            return {}
        if shared is None:
            shared = dict(cfg)
        else:
            shared = {k: v for k, v in shared.items() if k in cfg and cfg[k] == v}
    return shared or {}


def split_keys(
    files: Sequence[str | os.PathLike],
    training: Sequence[str],
    fingerprints: Sequence[str | None] | None = None,
    split: str = "test",
) -> list[int]:
    """The split key of each of ``files``: its position among the ``training`` files
    when it is one of them (the same file, or one with the same
    :func:`file_fingerprint`: a moved or copied training file), so that its rows fall
    in the splits they had in training, in whatever order the files are given; else a
    position after them. Where a training file has no fingerprint (no provenance, or a
    checkpoint from before hepml recorded them), a file named like it while it is not
    at its place is refused (unless ``split`` is ``"all"``): its training rows would
    be taken for test rows."""
    keys, extra = [], len(training)
    prints = list(fingerprints or [None] * len(training))
    for f in files:
        k = next((i for i, t in enumerate(training) if _same_file(os.fspath(f), t)), None)
        mine = file_fingerprint(f) if k is None and any(prints) else None
        if mine is not None:
            k = next((i for i, t in enumerate(prints) if t == mine), None)
        if k is None and split != "all":
            name = os.path.basename(os.fspath(f))
            unsure = [
                t
                for t, fp in zip(training, prints)
                if fp is None and os.path.basename(t) == name and not os.path.exists(t)
            ]
            if unsure:
                raise InputError(
                    f"{f}: named like the training file {unsure[0]}, which is not there, and "
                    "the checkpoint cannot tell whether this is it, moved (its rows would then "
                    "be split as new files are, putting training jets in the test split); put "
                    "the file back at that path, or evaluate with --split all"
                )
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
