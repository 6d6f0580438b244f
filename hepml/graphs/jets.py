"""Jet graphs from ``hepml reconstruct`` rows, without a Python loop over particles.

The particle features of all jets are stored as one flat ``(n_particles, F)``
tensor with offsets; a jet ``i`` is the slice ``offsets[i]:offsets[i+1]``, and a
batch of jets is a ``torch_geometric.data.Batch`` assembled by concatenation.

Example::

    rows = load_rows("top_jets.parquet", "qcd_jets.parquet")
    data = JetGraphs(rows)
    std = Standardizer.fit(data.x[data.node_mask(train_idx)])
    batch = data.batch(range(32), standardizer=std)   # Batch: x, pos, y, weight, batch
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

import awkward as ak
import numpy as np
import torch
from torch_geometric.data import Batch, Data

from hepml.errors import InputError
from hepml.reco import FEATURE_NAMES

__all__ = [
    "JetGraphs",
    "Standardizer",
    "jets_tree",
    "load_rows",
    "read_columns",
    "read_rows",
    "reflect",
    "row_kind",
]

ID_FIELDS = ("file_index", "entry", "jet_index")


def read_rows(
    path: str | os.PathLike, entry_start: int | None = None, entry_stop: int | None = None
) -> ak.Array:
    """Jet (or event) rows of one file written by ``hepml reconstruct``: parquet, or ROOT
    (tree ``jets``, whose flat ``part_*`` / ``objects_*`` branches are zipped back into
    the ``part`` / ``objects`` records)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file; write it with 'hepml reconstruct ... -o {path}'")
    if path.lower().endswith(".root"):
        with jets_tree(path) as tree:
            arr = tree.arrays(entry_start=entry_start, entry_stop=entry_stop)
        fields: dict = {}
        nested: dict[str, dict] = {"part": {}, "objects": {}}  # (jets' / events' lists)
        for n in arr.fields:
            prefix = n.split("_", 1)[0]
            if prefix in nested and "_" in n:
                nested[prefix][n.split("_", 1)[1]] = arr[n]
            elif n not in ("npart", "nobjects"):
                fields[n] = arr[n]
        for name, columns in nested.items():
            if columns:
                fields[name] = ak.zip(columns)
        arr = ak.zip(fields, depth_limit=1)
    elif entry_start is None and entry_stop is None:
        arr = ak.from_parquet(path)
    else:  # only the row groups that hold [entry_start, entry_stop)
        bounds = parquet_row_groups(path)
        lo, hi = slice(entry_start, entry_stop).indices(bounds[-1])[:2]
        groups = [g for g in range(len(bounds) - 1) if bounds[g] < hi and bounds[g + 1] > lo]
        if groups:
            first = bounds[groups[0]]
            arr = ak.from_parquet(path, row_groups=groups)[lo - first : hi - first]
        else:  # an empty range: no rows, the file's fields
            arr = ak.from_parquet(path, row_groups=[0] if len(bounds) > 1 else None)[:0]
    needed = ("objects", "label", "file_index", "entry") if "objects" in arr.fields else (
        "part", "label", *ID_FIELDS)  # fmt: skip
    missing = [f for f in needed if f not in arr.fields]
    if missing:
        raise InputError(
            f"{path}: not a file of jet rows (missing {missing}); use hepml reconstruct"
        )
    return arr


def parquet_row_groups(path: str | os.PathLike) -> list[int]:
    """Row offsets of a parquet file's row groups: ``[0, n0, n0 + n1, ..., rows]``."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(os.fspath(path)).metadata
    except Exception as exc:  # pyarrow raises several types for non-parquet files
        raise InputError(f"{os.fspath(path)}: not a parquet file ({exc})") from None
    bounds = [0]
    for g in range(meta.num_row_groups):
        bounds.append(bounds[-1] + meta.row_group(g).num_rows)
    return bounds


@contextlib.contextmanager
def jets_tree(path: str | os.PathLike):
    """The ``jets`` tree of a ROOT file of rows, open for the ``with`` block."""
    import uproot

    path = os.fspath(path)
    with uproot.open(path) as f:
        if "jets" not in f:
            raise InputError(f"{path}: no 'jets' tree; write it with hepml reconstruct")
        yield f["jets"]


def _branches(path: str) -> list[str]:
    if path.lower().endswith(".root"):
        with jets_tree(path) as tree:
            return list(tree.keys())
    import pyarrow.parquet as pq

    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except Exception as exc:  # pyarrow raises several types for non-parquet files
        raise InputError(f"{path}: not a parquet file ({exc})") from None


def row_kind(path: str | os.PathLike) -> str:
    """``"jets"`` or ``"events"``: what a file written by ``hepml reconstruct`` holds."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file; write it with 'hepml reconstruct'")
    names = _branches(path)
    if any(n == "objects" or n.startswith("objects_") for n in names):
        return "events"
    if any(n == "part" or n.startswith("part_") for n in names):
        return "jets"
    raise InputError(
        f"{path}: not a file of jet (or event) rows: no 'part' or 'objects' column; "
        "write it with hepml reconstruct"
    )


def read_columns(path: str | os.PathLike, columns: Sequence[str]) -> ak.Array:
    """Only ``columns`` (flat per-row fields such as ``label``, ``entry``) of a rows file."""
    path = os.fspath(path)
    missing = [c for c in columns if c not in _branches(path)]
    if missing:
        raise InputError(f"{path}: no column(s) {missing}; write it with hepml reconstruct")
    if path.lower().endswith(".root"):
        with jets_tree(path) as tree:
            return tree.arrays(list(columns))
    return ak.from_parquet(path, columns=list(columns))


def load_rows(*paths: str | os.PathLike) -> ak.Array:
    """Concatenate jet rows from files (parquet or ROOT) written by ``hepml reconstruct``."""
    arrays = [read_rows(p) for p in paths]
    return ak.concatenate(arrays) if len(arrays) > 1 else arrays[0]


@dataclass
class Standardizer:
    """:math:`x' = (x - \\mu) / \\sigma` per feature (σ = 1 where a feature is constant)."""

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, x: torch.Tensor) -> Standardizer:
        mean = x.mean(dim=0)
        std = x.std(dim=0, unbiased=False)
        return cls(mean, torch.where(std > 0, std, torch.ones_like(std)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x)) / self.std.to(x)

    def state_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_state_dict(cls, state: dict[str, list[float]]) -> Standardizer:
        return cls(torch.tensor(state["mean"]), torch.tensor(state["std"]))


def reflect(
    batch: Batch,
    signs: torch.Tensor,
    columns: tuple[int, int],
    standardizer: Standardizer | None = None,
) -> Batch:
    """Mirror each jet of ``batch`` in Δη and/or Δφ (training-time augmentation).

    ``signs`` is ``(num_graphs, 2)`` of ±1: jet ``j`` gets Δη → ``signs[j, 0]``·Δη
    and Δφ → ``signs[j, 1]``·Δφ, in ``pos`` and in the feature columns ``columns``
    of ``x``. ``x`` may already be standardised by ``standardizer``: the mirrored
    raw value −r standardises to ``−x − 2μ/σ``, so the result equals mirroring the
    raw features and standardising after. Pairwise distances, and so every kNN
    graph built from ``pos``, do not change; a top jet mirrored is still a top jet
    (the selection is symmetric in η, and the physics in φ). Returns a new Batch.
    """
    per_node = signs.to(batch.x.dtype)[batch.batch]
    out = batch.clone()
    out.pos = batch.pos * per_node.to(batch.pos.dtype)
    x = batch.x.clone()
    for k, col in enumerate(columns):
        s = per_node[:, k]
        shift = 0.0
        if standardizer is not None:
            shift = (standardizer.mean[col] / standardizer.std[col]).to(x.dtype)
        x[:, col] = s * x[:, col] + (s - 1) * shift
    out.x = x
    return out


class JetGraphs(torch.utils.data.Dataset):
    """Jets as graphs: ``x`` (n, F) features, ``pos`` (n, 2) = (Δη, Δφ), per jet
    ``y`` (label), ``weight`` and ids (file_index, entry, jet_index).

    ``features`` picks the per-particle fields (default: all of
    :data:`hepml.reco.FEATURE_NAMES`). Indexing gives a ``Data``; :meth:`batch`
    gives a ``Batch`` of many jets at once.
    """

    def __init__(self, rows: ak.Array, features: Sequence[str] = FEATURE_NAMES) -> None:
        part = rows.part
        unknown = [f for f in features if f not in part.fields]
        if unknown:
            raise InputError(f"unknown particle feature(s) {unknown}; available: {part.fields}")
        counts = ak.to_numpy(ak.num(part)).astype(np.int64)
        self.offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(counts)]))
        cols = [ak.to_numpy(ak.flatten(part[f])).astype(np.float32) for f in features]
        self.x = torch.from_numpy(np.stack(cols, axis=1)) if cols else torch.zeros((0, 0))
        self.pos = torch.from_numpy(
            np.stack(
                [ak.to_numpy(ak.flatten(part[f])).astype(np.float32) for f in ("deta", "dphi")], 1
            )
        )
        self.y = torch.from_numpy(ak.to_numpy(rows.label).astype(np.int64))
        weight = ak.to_numpy(rows.weight) if "weight" in rows.fields else np.ones(len(rows))
        self.weight = torch.from_numpy(weight.astype(np.float32))  # (rows without: 1)
        self.ids = torch.from_numpy(
            np.stack([ak.to_numpy(rows[f]).astype(np.int64) for f in ID_FIELDS], 1)
        )
        self.features = tuple(features)

    def __len__(self) -> int:
        return len(self.y)

    def _rows(self, jets) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(jet indices, particles per jet, particle rows of those jets in order)."""
        idx = torch.as_tensor(jets, dtype=torch.long).reshape(-1)
        counts = self.offsets[idx + 1] - self.offsets[idx]
        starts = torch.repeat_interleave(self.offsets[idx], counts)
        first = torch.cumsum(counts, 0) - counts
        local = torch.arange(int(counts.sum())) - torch.repeat_interleave(first, counts)
        return idx, counts, starts + local

    def node_mask(self, jets: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Boolean mask over all particles of the given jets (e.g. a training split)."""
        mask = torch.zeros(len(self.x), dtype=torch.bool)
        mask[self._rows(jets)[2]] = True
        return mask

    def batch(
        self, jets: Sequence[int] | torch.Tensor, standardizer: Standardizer | None = None
    ) -> Batch:
        """A ``Batch`` of the given jets (in that order), features standardised if asked."""
        idx, counts, rows = self._rows(jets)
        x = self.x[rows]
        if standardizer is not None:
            x = standardizer(x)
        return Batch(
            x=x,
            pos=self.pos[rows],
            y=self.y[idx],
            weight=self.weight[idx],
            ids=self.ids[idx],
            batch=torch.repeat_interleave(torch.arange(len(idx)), counts),
            ptr=torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(counts, 0)]),
        )

    def __getitem__(self, i: int) -> Data:
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return Data(
            x=self.x[lo:hi],
            pos=self.pos[lo:hi],
            y=self.y[i : i + 1],
            weight=self.weight[i : i + 1],
            ids=self.ids[i : i + 1],
        )
