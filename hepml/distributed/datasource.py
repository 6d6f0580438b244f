"""Ray Data from ROOT files: hepml's reader as a Ray Data datasource.

:func:`read_root` plans the read on the driver and returns a lazy
``ray.data.Dataset`` of events, one row per event:

* **Planning (driver, cheap).** Every file is opened with hepml's reader
  (:class:`hepml.io.reader.EventStream`): tree found, schema detected (or the one
  given), the branches it needs checked, its entry count read from the tree's
  metadata — no event data is read. A missing file, a file that is not ROOT, a
  missing tree or branch raises :class:`hepml.errors.InputError` naming the file
  here, before any Ray task runs (or, with ``skip_bad_files=True``, the file is
  left out and reported through ``log``). Each file is cut into entry ranges of
  ``step_size`` entries; the schema resolved here (an
  :class:`~hepml.io.schemas.EventMapping`) is shipped to every task, so all tasks
  read the same branches into the same collections.
* **Reading (one Ray task per entry range).** A task opens its file with the same
  reader, reads only the mapping's branches for its range and yields **one block**:
  the events (``particles``, ``jets``, ``met``, ``weight``, ``run``, ``event``,
  ``entry``...) as a ``pyarrow.Table``. The number of read tasks and of blocks equals
  the number of entry ranges (Ray is told so, and splits a block only when it
  exceeds its ``target_max_block_size``, 128 MiB by default).

**Block format.** Plain Arrow types, made by ``ak.to_arrow_table(events,
extensionarray=False)``: a jagged collection is a ``large_list<struct<...>>``
column (offsets kept, no padding, no Python objects), ``met`` a ``struct``, ids
and weights plain numbers; fields are non-nullable, so they come back without
option types. Plain Arrow (rather than awkward's Arrow extension types) passes
through Ray Data's operations — shuffles, repartitioning, Parquet written and read
back — unchanged. What Arrow cannot hold is the ``vector`` behaviour (the record names);
:func:`to_events` puts it back: ``Momentum4D`` on ``particles``, ``partons``,
``jets``, ``fatjets``, ``muons``, ``electrons``, ``photons`` and ``Momentum2D`` on
``met``. So in ``map_batches`` ask for ``batch_format="pyarrow"`` and call
:func:`to_events` on the batch; return a dict of numpy columns or
:func:`to_arrow` of an awkward array.

Example::

    import hepml.distributed as hd
    from hepml.reco import cluster, leading

    ds = hd.read_root("data/nano_*.root", step_size=100_000, collections=["jets", "ids"])

    def lead_jet(batch):
        events = hd.to_events(batch)
        return {"event": events.event.to_numpy(), "lead_pt": leading(events.jets, "pt")}

    ds.map_batches(lead_jet, batch_format="pyarrow", batch_size=None).write_parquet("out/")
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak

from hepml.errors import ConfigError, HepmlError, InputError
from hepml.extras import require
from hepml.io.reader import EventStream, ReadSummary, exact_names
from hepml.io.schemas import OBJECT_COLLECTIONS, EventMapping

__all__ = ["EntryRange", "RootDatasource", "read_root", "to_arrow", "to_events"]

#: collections that are ``Momentum4D`` records in hepml's event model
VECTOR4 = ("particles", "partons", *OBJECT_COLLECTIONS)


@dataclass(frozen=True)
class EntryRange:
    """The work of one read task: entries ``[start, stop)`` of ``tree`` in ``path``;
    ``size_bytes`` is the uncompressed size of its branches (``None`` when unknown)."""

    path: str
    tree: str
    start: int
    stop: int
    size_bytes: int | None = None

    @property
    def entries(self) -> int:
        return self.stop - self.start


def to_arrow(events: ak.Array):
    """An awkward array as a Ray Data block (``pyarrow.Table`` of plain Arrow types;
    see the module docstring)."""
    return ak.to_arrow_table(events, extensionarray=False)


def to_events(batch: Any) -> ak.Array:
    """A Ray Data batch (``batch_format="pyarrow"``) or block — or an awkward array read
    back from its Parquet output — as hepml events: an ``ak.Array`` of records with the
    ``vector`` behaviours of :func:`hepml.io.open_events` (``Momentum4D`` collections,
    ``Momentum2D`` ``met``)."""
    import pyarrow as pa

    if isinstance(batch, pa.RecordBatch):
        batch = pa.Table.from_batches([batch])
    if isinstance(batch, pa.Table):
        arr = ak.from_arrow(batch)
    elif isinstance(batch, ak.Array):
        arr = batch
    else:
        raise InputError(
            f"to_events takes an Arrow table, got {type(batch).__name__}; call map_batches "
            "with batch_format='pyarrow'"
        )
    fields = {}
    for name in arr.fields:
        col = arr[name]
        if name in VECTOR4:
            col = ak.with_name(col, "Momentum4D")
        elif name == "met":
            col = ak.with_name(col, "Momentum2D")
        fields[name] = col
    if not fields:
        return arr
    return ak.zip(fields, depth_limit=1)


def _entries_per_task(tree, step_size: int | str, branches: list[str], where: str) -> int:
    if isinstance(step_size, bool) or not isinstance(step_size, int | str):
        raise ConfigError(f"step_size must be a number of entries or a size such as '100 MB', "
                          f"got {step_size!r}")  # fmt: skip
    if isinstance(step_size, int):
        if step_size <= 0:
            raise ConfigError(f"step_size must be positive, got {step_size}")
        return step_size
    try:
        return max(1, int(tree.num_entries_for(step_size, filter_name=exact_names(branches))))
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"step_size {step_size!r} is neither a number of entries nor a size such as "
            f"'100 MB' ({err})"
        ) from None
    except Exception as err:
        raise InputError(
            f"{where}: cannot size the entry ranges ({type(err).__name__}: {err}); "
            "pass step_size as a number of entries"
        ) from None


def _uncompressed_bytes(tree, branches: list[str]) -> int | None:
    """The uncompressed size of ``branches`` (TTree only; ``None`` for an RNTuple)."""
    import uproot

    if not isinstance(tree, uproot.TTree):
        return None
    try:
        return int(sum(tree[b].uncompressed_bytes for b in branches))
    except Exception:
        return None


def _read_range(part: EntryRange, mapping: EventMapping, include_paths: bool) -> Iterable:
    """A read task's body: one entry range through hepml's reader, as one Arrow block."""
    import pyarrow as pa

    whole = part.stop <= part.start  # an empty file: read it whole (0 events, full schema)
    stream = EventStream(
        part.path,
        mapping,
        tree=part.tree,
        step_size=max(part.entries, 1),
        entry_start=None if whole else part.start,
        entry_stop=None if whole else part.stop,
    )
    chunks = list(stream)
    events = chunks[0] if len(chunks) == 1 else ak.concatenate(chunks)
    if len(events) != part.entries:
        raise InputError(
            f"{part.path}:{part.tree}: entries {part.start}-{part.stop} gave {len(events)} "
            f"events instead of {part.entries}; the file changed since the read was planned"
        )
    table = to_arrow(events)
    if include_paths:
        path = pa.array([part.path] * len(table), pa.string())
        table = table.append_column(pa.field("path", pa.string(), nullable=False), path)
    return [table]


try:  # hepml.distributed imports without Ray; using it raises an error naming the extra
    from ray.data import Datasource as _Datasource
except ImportError:  # pragma: no cover - exercised only without the extra
    _Datasource = object


class RootDatasource(_Datasource):
    """A ``ray.data.Datasource`` over ROOT files, planned on construction (see the
    module docstring). ``ranges`` lists the read tasks' entry ranges, ``mapping`` the
    schema every task uses, ``summary`` every file with its entries (or why it was
    skipped). Use it through :func:`read_root`, or ``ray.data.read_datasource``."""

    def __init__(
        self,
        paths: str | os.PathLike | Iterable[str | os.PathLike],
        schema: str | os.PathLike | EventMapping = "auto",
        *,
        tree: str | None = None,
        step_size: int | str = "100 MB",
        collections: Sequence[str] | None = None,
        extras: bool = True,
        include_paths: bool = False,
        skip_bad_files: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        require("ray.data", extra="ray", purpose="reading ROOT files with Ray Data")
        super().__init__()
        log = log or (lambda msg: None)
        stream = EventStream(
            paths, schema, tree=tree, step_size=step_size, collections=collections, extras=extras
        )
        self.include_paths = include_paths
        self.summary: ReadSummary = stream.summary
        self.ranges: list[EntryRange] = []
        empty: EntryRange | None = None
        for report in stream.summary.files:
            try:
                t, mapping, where = stream.plan(report)  # hepml's own checks, no data read
                n = int(t.num_entries)
                step = _entries_per_task(t, step_size, mapping.branches(), where)
                size = _uncompressed_bytes(t, mapping.branches())
            except HepmlError as err:
                if isinstance(err, ConfigError) or not skip_bad_files:
                    raise
                report.status, report.reason = "skipped", str(err)
                log(f"skipping {report.path}: {err}")
                continue
            report.entries = n
            report.status = "ok" if n else "empty"
            for lo in range(0, n, step):
                hi = min(lo + step, n)
                part_size = None if size is None else int(size * (hi - lo) / n)
                self.ranges.append(EntryRange(report.path, report.tree, lo, hi, part_size))
            if n == 0 and empty is None:
                empty = EntryRange(report.path, report.tree, 0, 0, 0)
        if stream.mapping is None:  # every file skipped
            raise InputError(
                "no readable input file: " + "; ".join(f.reason for f in self.summary.skipped)
            )
        if not self.ranges and empty is not None:
            self.ranges.append(empty)  # all files empty: one empty block carries the schema
        self.mapping: EventMapping = stream.mapping

    @property
    def num_entries(self) -> int:
        return sum(r.entries for r in self.ranges)

    def get_name(self) -> str:
        return "ROOT"

    def estimate_inmemory_data_size(self) -> int | None:
        sizes = [r.size_bytes for r in self.ranges]
        return None if any(s is None for s in sizes) else int(sum(sizes))

    def get_read_tasks(
        self,
        parallelism: int,
        per_task_row_limit: int | None = None,
        data_context: Any = None,
    ) -> list:
        """One task per entry range, whatever ``parallelism`` asks: the ranges are the
        unit of work (choose them with ``step_size``)."""
        from ray.data.block import BlockMetadata
        from ray.data.datasource import ReadTask

        return [
            ReadTask(
                functools.partial(_read_range, part, self.mapping, self.include_paths),
                BlockMetadata(
                    num_rows=part.entries,
                    size_bytes=part.size_bytes,
                    exec_stats=None,
                    input_files=[part.path],
                ),
                per_task_row_limit=per_task_row_limit,
            )
            for part in self.ranges
        ]


def read_root(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    schema: str | os.PathLike | EventMapping = "auto",
    *,
    tree: str | None = None,
    step_size: int | str = "100 MB",
    collections: Sequence[str] | None = None,
    extras: bool = True,
    include_paths: bool = False,
    skip_bad_files: bool = False,
    address: str | None = None,
    log: Callable[[str], None] | None = None,
    **read_args: Any,
):
    """ROOT files (TTree or RNTuple) as a ``ray.data.Dataset`` of events, one read task
    per file and entry range.

    Parameters
    ----------
    paths : a file, a glob (expanded, sorted) or a list of them.
    schema : ``"auto"``, ``"hepml"``, ``"nanoaod"``, ``"delphes"``, ``"flat"``, a YAML
        mapping file or an :class:`~hepml.io.schemas.EventMapping`, as for
        :func:`hepml.io.open_events`.
    tree : the TTree/RNTuple name; by default the schema's own or the only one.
    step_size : entries per read task (int), or a size of the needed branches such as
        ``"100 MB"`` (converted to entries per file by uproot).
    collections : read only these collections (only their branches are read).
    extras : also read non-kinematic fields of objects (``btag``, ``iso`` ...).
    include_paths : add a ``path`` column naming each event's file (with ``entry``,
        a unique key).
    skip_bad_files : leave out files that cannot be opened or planned (not ROOT, no
        such tree, a schema that does not fit; each reported through ``log``) instead
        of raising. Damage inside a file's baskets shows only when a read task reads
        them (the dataset is lazy): it stops the dataset with an error naming the file
        and entries, as ``hepml.io.open_events`` would without ``skip_bad_files``.
    address : the Ray cluster (``None``: the running one, else a new local Ray on
        127.0.0.1), as for :func:`hepml.distributed.fit`.
    read_args : passed to ``ray.data.read_datasource`` (``num_cpus``, ``concurrency``,
        ``memory``...).

    Returns
    -------
    ray.data.Dataset
        One row per event, one block per entry range; convert a batch back with
        :func:`to_events`.

    Example::

        ds = read_root(["ttbar.root", "qcd.root"], step_size=50_000, include_paths=True)
        ds.count()
    """
    from hepml.distributed.train import connect

    source = RootDatasource(
        paths, schema, tree=tree, step_size=step_size, collections=collections, extras=extras,
        include_paths=include_paths, skip_bad_files=skip_bad_files, log=log,
    )  # fmt: skip
    ray = connect(address, purpose="reading ROOT files with Ray Data")
    read_args.setdefault("override_num_blocks", len(source.ranges))
    return ray.data.read_datasource(source, **read_args)
