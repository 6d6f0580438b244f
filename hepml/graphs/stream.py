"""Jets (or events) streamed from files larger than memory, shuffled through a bounded buffer.

:class:`StreamingJetGraphs` is a ``torch.utils.data.IterableDataset`` over jet-row
files written by ``hepml reconstruct`` (parquet, read row group by row group; or
ROOT, tree ``jets``, read by entry ranges). It yields ready ``Batch`` objects.

* **Work units** are (file, row group) or (file, entry range). Each epoch the
  units are put in an order drawn from ``(seed, epoch)``, the same in every
  process, and unit ``i`` goes to global worker ``i mod W`` where
  ``W = world_size × num_workers`` (DataLoader workers of every rank): each
  worker reads only its own files/ranges, nothing funnels through one process.
* **Shuffling**: jets enter a buffer of at most ``shuffle_buffer`` jets plus one
  unit; once full, the buffer is permuted and everything beyond
  ``shuffle_buffer`` leaves as batches. Memory is bounded by the buffer and one
  unit, not by the files.
* **Reproducible**: the same files, seed, epoch, ``world_size``/``rank`` and
  number of workers give the same batches in the same order.
* **Splits**: ``split=("train", fractions, split_seed)`` keeps only that split's
  rows (:mod:`hepml.graphs.split`, decided row by row, so no global pass).
* Jet rows give jet graphs, event rows (``--level events``) event graphs.

Example::

    ds = StreamingJetGraphs(["top.parquet", "qcd.parquet"], batch_size=256,
                            shuffle_buffer=20000, seed=1, standardizer=std)
    ds.set_epoch(3)
    for batch in torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2):
        ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import awkward as ak
import numpy as np
import torch

from hepml.errors import InputError
from hepml.graphs.events import graphs_of
from hepml.graphs.jets import Standardizer, jets_tree, parquet_row_groups, read_rows
from hepml.graphs.split import SPLITS, split_indices

__all__ = ["StreamingJetGraphs", "shards", "stats_sample", "unit_rows", "work_units"]


def work_units(paths: Sequence[str | os.PathLike], step: int = 8192) -> list[tuple]:
    """``(file position, path, kind, a, b)`` units: a parquet row group ``a`` of ``b``
    rows, or a ROOT entry range ``[a, b)`` of at most ``step`` jets."""
    units = []
    for i, path in enumerate(paths):
        path = os.fspath(path)
        if not os.path.exists(path):
            raise InputError(f"{path}: no such file; write it with 'hepml reconstruct'")
        if path.lower().endswith(".root"):
            with jets_tree(path) as tree:
                n = tree.num_entries
            units += [(i, path, "root", lo, min(lo + step, n)) for lo in range(0, n, step)]
        else:
            bounds = parquet_row_groups(path)
            units += [(i, path, "parquet", g, bounds[g + 1] - bounds[g])
                      for g in range(len(bounds) - 1)]  # fmt: skip
    return units


def unit_rows(unit: tuple) -> int:
    """The number of rows (jets) of a work unit."""
    _, _, kind, a, b = unit
    return b - a if kind == "root" else b


def shards(units: Sequence[tuple], order: Sequence[int], total: int) -> list[list[int]]:
    """Unit positions of each of ``total`` shards, in ``order``, with about equal rows:
    the largest units first, each to the shard with the fewest rows so far (ties: the
    lower shard). Ranks in lockstep stop when the smallest shard runs out, so shards of
    equal counts but unequal rows (each file ends in a short row group) would waste
    most of an epoch."""
    sizes = [unit_rows(u) for u in units]
    load = [0] * total
    shard_of = {}
    for i in sorted(order, key=lambda i: -sizes[i]):  # (stable: ties keep the order)
        s = min(range(total), key=load.__getitem__)
        shard_of[i] = s
        load[s] += sizes[i]
    return [[i for i in order if shard_of[i] == s] for s in range(total)]


def _read_unit(unit: tuple) -> ak.Array:
    _, path, kind, a, b = unit
    if kind == "root":
        return read_rows(path, entry_start=a, entry_stop=b)
    return ak.from_parquet(path, row_groups=[a])


def stats_sample(
    paths: Sequence[str | os.PathLike],
    features: Sequence[str],
    n: int,
    split: tuple | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Node features (unstandardised) of about ``n`` jets (or events) drawn from every
    file, to fit a :class:`~hepml.graphs.jets.Standardizer` on: the work units in an
    order drawn from ``seed``, from each a random share of its ``split`` rows (at
    least ``n / 64`` of them), until ``n`` are in. Files usually hold one class each
    (``top.parquet``, ``qcd.parquet``): the first ``n`` jets of a pass in file order
    would be one class only. Reads at most every unit once; the same on every rank."""
    units = work_units(paths)
    rng = np.random.default_rng([seed, 3])
    per_unit = max(-(-n // max(len(units), 1)), -(-n // 64), 1)
    parts, have = [], 0
    for i in rng.permutation(len(units)):
        rows = _read_unit(units[i])
        if split is not None:
            which, fractions, split_seed = split
            sample = np.full(len(rows), units[i][0], np.int64)
            rows = rows[split_indices(rows, sample, fractions, split_seed)[which]]
        take = min(per_unit, len(rows), n - have)
        if take <= 0:
            continue
        parts.append(rows[np.sort(rng.choice(len(rows), take, replace=False))])
        have += take
        if have >= n:
            break
    if not parts:
        raise InputError(f"{list(map(os.fspath, paths))}: no rows to fit the standardisation on")
    return graphs_of(ak.concatenate(parts), list(features)).x


class StreamingJetGraphs(torch.utils.data.IterableDataset):
    """Batches of jet graphs streamed from files (see the module docstring)."""

    def __init__(
        self,
        paths: Sequence[str | os.PathLike],
        features: Sequence[str] | None = None,
        batch_size: int = 256,
        shuffle_buffer: int = 16384,
        seed: int = 0,
        standardizer: Standardizer | None = None,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        root_step: int = 8192,
        split: tuple[str, Sequence[float], int] | None = None,
    ) -> None:
        super().__init__()
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        if split is not None and split[0] not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split[0]!r}")
        self.split = split
        self.paths = [os.fspath(p) for p in paths]
        self.units = work_units(self.paths, root_step)
        self.features = tuple(features) if features else None
        self.batch_size = int(batch_size)
        self.shuffle_buffer = int(shuffle_buffer) if shuffle else 0
        self.seed = seed
        self.standardizer = standardizer
        self.shuffle = shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order :meth:`__iter__` gives."""
        self.epoch = int(epoch)

    def _my_units(self) -> tuple[list[tuple], np.random.Generator]:
        info = torch.utils.data.get_worker_info()
        n_workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        total = self.world_size * n_workers
        me = self.rank * n_workers + worker
        order = np.arange(len(self.units))
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.units))
        mine = [self.units[i] for i in shards(self.units, order.tolist(), total)[me]]
        return mine, np.random.default_rng([self.seed, self.epoch, me, 1])

    def _batches(self, rows: ak.Array, rng: np.random.Generator, final: bool):
        """Emit batches from ``rows``; return the rows kept back in the buffer."""
        n = len(rows)
        keep = 0 if final else min(self.shuffle_buffer, n)
        if self.shuffle:
            rows = rows[rng.permutation(n)]
        out_n = n - keep
        if out_n <= 0:
            return rows, []
        if not final:
            out_n -= out_n % self.batch_size  # whole batches only, until the end
        graphs = graphs_of(rows[:out_n], self.features)
        batches = [
            graphs.batch(torch.arange(lo, min(lo + self.batch_size, out_n)), self.standardizer)
            for lo in range(0, out_n, self.batch_size)
        ]
        return rows[out_n:], batches

    def __iter__(self) -> Iterator:
        units, rng = self._my_units()
        buffer = None
        for unit in units:
            rows = _read_unit(unit)
            if self.split is not None:
                which, fractions, split_seed = self.split
                sample = np.full(len(rows), unit[0], np.int64)
                rows = rows[split_indices(rows, sample, fractions, split_seed)[which]]
            buffer = rows if buffer is None else ak.concatenate([buffer, rows])
            buffer = ak.to_packed(buffer)
            if len(buffer) >= self.shuffle_buffer + self.batch_size:
                buffer, batches = self._batches(buffer, rng, final=False)
                yield from batches
        if buffer is not None and len(buffer):
            _, batches = self._batches(buffer, rng, final=True)
            yield from batches
