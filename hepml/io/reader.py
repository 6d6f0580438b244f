"""Chunked reading of ROOT files (TTree and RNTuple) into hepml's event model.

:func:`open_events` streams one or many files (globs expand, in sorted order)
chunk by chunk; only the branches the schema maps are read; every chunk knows
its file, tree and entry range; memory stays bounded by a few chunks however
long the files are. :func:`read_events` reads everything into one array.

Example::

    from hepml.io import open_events

    stream = open_events("data/nano_*.root", step_size="50 MB", skip_bad_files=True)
    for events, info in stream.with_info():
        print(info.file, info.entry_start, info.entry_stop, ak.sum(events.jets.pt))
    print(stream.summary)
"""

from __future__ import annotations

import glob
import numbers
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import awkward as ak
import uproot

from hepml.errors import ConfigError, HepmlError, InputError
from hepml.io.events import build_events
from hepml.io.schemas import (
    COLLECTIONS,
    OBJECT_COLLECTIONS,
    SCHEMAS,
    EventMapping,
    detect_schema,
    is_mapping_file,
    load_mapping,
    mapping_for,
)

__all__ = [
    "ChunkInfo",
    "EventStream",
    "FileReport",
    "ReadSummary",
    "expand_paths",
    "find_tree",
    "open_events",
    "open_root",
    "read_events",
    "skip_reason",
    "unreadable",
]

#: Collections each built-in schema must find, or the file is not of that schema.
REQUIRED = {"hepml": ("particles",), "nanoaod": ("ids",), "delphes": (), "flat": ()}
_TREE_CLASSES = ("TTree", "ROOT::RNTuple", "ROOT::Experimental::RNTuple")


@dataclass(frozen=True)
class ChunkInfo:
    """Where a chunk came from: file, tree, schema and entry range [start, stop)."""

    file: str
    tree: str
    schema: str
    entry_start: int
    entry_stop: int
    index: int

    @property
    def entries(self) -> int:
        return self.entry_stop - self.entry_start


@dataclass
class FileReport:
    """What happened to one input file."""

    path: str
    status: str = "pending"  # "ok", "empty" or "skipped"
    reason: str = ""
    tree: str = ""
    schema: str = ""
    entries: int = 0  # the entries planned to be read
    events: int = 0  # the events read
    chunks: int = 0
    tree_entries: int = 0  # the tree's entries (events == tree_entries: read whole)


@dataclass
class ReadSummary:
    """Every input file with its status and the number of events read from it."""

    files: list[FileReport] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(f.events for f in self.files)

    @property
    def skipped(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "skipped"]

    def __str__(self) -> str:
        lines = [
            f"{len(self.files)} file(s), {self.events} event(s) read, {len(self.skipped)} skipped"
        ]
        for f in self.files:
            if f.status == "skipped":  # (the reason starts with the file, and says why)
                why = skip_reason(f.reason)
                line = (
                    f"  SKIPPED {why}" if why.startswith(f.path) else f"  SKIPPED {f.path}: {why}"
                )
                if f.events:  # (it broke part-way: what came before was handed out)
                    line += f" ({f.events} events read before the break were kept)"
                lines.append(line)
            else:
                lines.append(f"  {f.path}: {f.status}, {f.events} events")
        return "\n".join(lines)


# --------------------------------------------------------------------------- files


def expand_paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """Expand globs (sorted) and check that every named file exists. A name that is a
    file is that file, even when it holds ``[``, ``*`` or ``?`` (``run[1].root``)."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    out: list[str] = []
    for p in paths:
        s = os.fspath(p)
        if glob.has_magic(s) and not os.path.exists(s):
            hits = sorted(glob.glob(s))
            if not hits:
                raise InputError(f"{s}: no file matches this pattern; check the path")
            out.extend(hits)
        else:
            out.append(s)
    if not out:
        raise InputError("no input files given")
    _refuse_repeats(out)
    return out


def _refuse_repeats(paths: list[str]) -> None:
    """A file named twice (``a.root 'a*.root'``, or by two spellings) would be read
    twice: its events counted double against runinfo's once."""
    seen: dict[tuple, str] = {}
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue  # (missing files get their own error where they are opened)
        key = (st.st_dev, st.st_ino)
        if key in seen:
            same = "is given twice" if seen[key] == p else f"and {seen[key]} are the same file"
            raise InputError(f"{p} {same}; each input file may be named once")
        seen[key] = p


def open_root(path: str) -> uproot.ReadOnlyDirectory:
    """``uproot.open`` with errors that say which file and what to do."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file; check the path")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not a ROOT file; pass the files inside it")
    if "://" not in path:  # (a local file: ROOT files start with the bytes "root")
        try:
            with open(path, "rb") as fh:
                magic = fh.read(4)
        except OSError as err:
            raise InputError(f"{path}: cannot be read ({err.strerror})") from None
        if magic != b"root":
            raise InputError(
                f"{path}: not a ROOT file (it does not start with 'root'); hepml reads ROOT "
                "files (TTree or RNTuple)"
            )
    try:
        f = uproot.open(path)
        f.classnames(recursive=False)  # (reads the directory: a cut file fails here)
        return f
    except Exception as err:
        msg = _one_line(err)
        if "not a ROOT file" in msg:
            raise InputError(
                f"{path}: not a ROOT file ({msg}); hepml reads ROOT files (TTree or RNTuple)"
            ) from None
        raise unreadable(f"{path}: cannot open as ROOT", err) from None


#: What :func:`unreadable` errors advise (front ends that skip the file drop it).
SKIP_ADVICE = (
    "copy it again, or go on without it (skip_bad_files=True; --skip-bad-files for hepml "
    "reconstruct, hepml trigger run and hepml trigger compare)"
)


def _check_step_size(step_size) -> None:
    """A positive number of entries, or a memory size uproot reads ("100 MB"): checked
    here, so that a typo is not blamed on (or, with skip_bad_files, skips) every file."""
    if isinstance(step_size, bool) or not isinstance(step_size, numbers.Integral | str):
        raise ConfigError(
            f"step_size must be a number of entries or a size such as '100 MB', got {step_size!r}"
        )
    if isinstance(step_size, numbers.Integral):
        if step_size <= 0:
            raise ConfigError(f"step_size must be positive, got {step_size}")
        return
    try:
        size = uproot._util.memory_size(step_size)
    except Exception:
        size = None
    if not size or size <= 0:
        raise ConfigError(
            f"step_size {step_size!r}: not a memory size; write e.g. '100 MB' or '1 GB' "
            "(or give a number of entries)"
        )


def skip_reason(err: BaseException | str) -> str:
    """Why a file was skipped, without the advice on how to skip it."""
    return str(err).replace(f": {SKIP_ADVICE}", "")


def unreadable(where: str, err: BaseException) -> InputError:
    """The error for bytes of a file that cannot be read: ``where`` (file, tree,
    entries), uproot's reason, and what to do."""
    return InputError(
        f"{where} ({type(err).__name__}: {_one_line(err)}); the file may be truncated or "
        f"corrupt: {SKIP_ADVICE}"
    )


def _trees(f: uproot.ReadOnlyDirectory) -> dict[str, str]:
    """Every TTree/RNTuple in the file, in subdirectories too (``"ana/events"``)."""
    try:
        classes = f.classnames(recursive=True)
    except Exception as err:  # (a subdirectory cannot be read)
        raise unreadable(f"{f.file_path}: its directories cannot be read", err) from None
    out = {}
    for key, cls in classes.items():
        if cls in _TREE_CLASSES:
            out.setdefault(key.split(";")[0], cls)
    return out


def exact_names(names) -> object:
    """An uproot ``filter_name`` that takes exactly ``names``: as strings, uproot reads
    ``[``, ``*`` and ``?`` as glob patterns, so Delphes' ``Jet.FracPt[5]`` would match
    nothing."""
    wanted = frozenset(names)
    return lambda name: name in wanted


def _branch_names(tree) -> list[str]:
    if isinstance(tree, uproot.TTree):
        return list(tree.keys(recursive=True, full_paths=False))
    return [k for k in tree.keys() if not k.startswith("_collection")]


def find_tree(f: uproot.ReadOnlyDirectory, path: str, tree: str | None, schema: str):
    """The tree (TTree or RNTuple) to read: named, the schema's default, or the only one."""
    try:
        return _find_tree(f, path, tree, schema)
    except HepmlError:
        raise
    except Exception as err:  # (the tree's own metadata cannot be read)
        raise unreadable(f"{path}: its tree cannot be read", err) from None


def _find_tree(f, path, tree, schema):
    trees = _trees(f)
    if tree is None and is_mapping_file(schema):  # a YAML mapping names its tree
        tree = load_mapping(schema).tree
    if tree is not None:
        if tree not in trees:
            raise InputError(
                f"{path}: no tree {tree!r} in this file (it has: {sorted(trees) or 'no trees'}); "
                "pass one of those with tree=... (--tree on the command line)"
            )
        return f[tree], tree
    if not trees:
        raise InputError(f"{path}: this file holds no TTree or RNTuple (keys: {f.keys()})")
    if len(trees) == 1:
        name = next(iter(trees))
        return f[name], name
    order = []
    if schema in SCHEMAS:
        order += [t for t in SCHEMAS[schema][1] if t in trees]
    for defaults in (v[1] for v in SCHEMAS.values()):
        order += [t for t in defaults if t in trees]
    order += sorted(trees)
    for name in dict.fromkeys(order):
        obj = f[name]
        if schema != "auto" or detect_schema(_branch_names(obj)) is not None:
            return obj, name
    return f[order[0]], order[0]


# --------------------------------------------------------------------------- stream


class EventStream:
    """An iterable over chunks of events; see :func:`open_events`.

    Iterating yields ``ak.Array`` chunks; :meth:`with_info` yields
    ``(events, ChunkInfo)`` pairs. After (or during) iteration,
    :attr:`summary` lists every file with the events read or the reason it was
    skipped. Each chunk's ``attrs["hepml"]`` also holds its provenance.
    """

    def __init__(
        self,
        paths: str | os.PathLike | Iterable[str | os.PathLike],
        schema: str | os.PathLike | EventMapping = "auto",
        *,
        tree: str | None = None,
        step_size: int | str = "100 MB",
        entry_start: int | None = None,
        entry_stop: int | None = None,
        collections: Sequence[str] | None = None,
        extras: bool = True,
        skip_bad_files: bool = False,
    ) -> None:
        self.paths = expand_paths(paths)
        self.schema = schema
        self.tree = tree
        self.step_size = step_size
        self.entry_start = entry_start
        self.entry_stop = entry_stop
        self.collections = list(collections) if collections is not None else None
        self.extras = extras
        self.skip_bad_files = skip_bad_files
        self.summary = ReadSummary([FileReport(p) for p in self.paths])
        if self.collections is not None:
            unknown = [c for c in self.collections if c not in COLLECTIONS]
            if unknown:
                raise ConfigError(
                    f"unknown collection(s) {unknown}; hepml's collections are {list(COLLECTIONS)}"
                )
        _check_step_size(step_size)
        if entry_start is not None and entry_start < 0:
            raise ConfigError(f"entry_start must be >= 0, got {entry_start}")
        if entry_stop is not None and entry_stop < 0:
            raise ConfigError(f"entry_stop must be >= 0, got {entry_stop}")
        if entry_stop is not None and entry_stop < (entry_start or 0):
            raise ConfigError(
                f"entry_stop ({entry_stop}) is before entry_start ({entry_start or 0}); "
                "pass entry_stop >= entry_start (equal reads no events)"
            )
        self._mapping: EventMapping | None = None
        self._mapping_from = ""  # the file an automatic mapping was made from
        if isinstance(schema, EventMapping):
            self._mapping = schema
        elif is_mapping_file(schema):
            self._mapping = load_mapping(schema)
        self._user_mapping = self._mapping is not None
        if self._mapping is not None:
            self._mapping = self._mapping.select(self.collections)
            if not extras:
                self._mapping = self._mapping.core()
        elif schema != "auto" and schema not in SCHEMAS:
            raise ConfigError(
                f"unknown schema {schema!r}; use 'auto', one of {list(SCHEMAS)}, or a YAML mapping file"
            )

    # ------------------------------------------------------------------ API
    def __iter__(self) -> Iterator[ak.Array]:
        for events, _ in self.with_info():
            yield events

    def with_info(self) -> Iterator[tuple[ak.Array, ChunkInfo]]:
        """Yield ``(events, ChunkInfo)`` for every chunk, files in order."""
        # each iteration reads the files afresh: its summary counts this iteration only
        self.summary.files[:] = [FileReport(p) for p in self.paths]
        skip_before = self.entry_start or 0
        remaining = None if self.entry_stop is None else self.entry_stop - skip_before
        index = 0
        for report in self.summary.files:
            if remaining is not None and remaining <= 0:
                report.status = "ok"
                continue
            try:
                tree, mapping, where = self.plan(report)
                n = report.tree_entries = tree.num_entries
                start = min(skip_before, n)
                skip_before -= start
                stop = n if remaining is None else min(n, start + remaining)
                report.entries = stop - start
                if remaining is not None:
                    remaining -= stop - start
                for events, info in self._chunks(tree, mapping, report, where, start, stop, index):
                    index += 1
                    yield events, info
                report.status = "ok" if n > 0 else "empty"
            except HepmlError as err:
                report.status = "skipped"
                report.reason = str(err)
                if not self.skip_bad_files:
                    raise
                if not self._user_mapping and not any(
                    r.events or r.status in ("ok", "empty") for r in self.summary.files
                ):  # nothing read with the mapping of a skipped file: the next file chooses
                    self._mapping = None

    def empty(self) -> ak.Array:
        """An array of no events with the fields a read of these files gives (from the
        first file that can be planned), for entry ranges that read nothing."""
        errors = []
        skipped = {r.path: r for r in self.summary.files if r.status == "skipped"}
        if not self._user_mapping:  # (no event was read: no file's mapping binds the rest)
            self._mapping = None
        for path in self.paths:
            if path in skipped:  # (already found bad while reading: not the one to ask)
                errors.append(f"{path}: {skipped[path].reason}")
                continue
            try:
                tree, mapping, where = self.plan(FileReport(path))
                raw = self._raw(tree, mapping.branches(), where, 0, 0)
                return build_events(raw, mapping, entry_start=0, where=where)
            except HepmlError as err:
                if not self.skip_bad_files:
                    raise
                errors.append(skip_reason(err))
                if not self._user_mapping:  # (the next file is judged on its own)
                    self._mapping = None
        raise InputError("no readable input file: " + "; ".join(errors))

    @property
    def mapping(self) -> EventMapping | None:
        """The mapping in use once the first file was opened."""
        return self._mapping

    # ----------------------------------------------------- planning, then internals
    def plan(self, report: FileReport):
        """Open one file, find its tree and its branch mapping, and check them (errors name
        the file and tree) without reading any data: ``(tree, mapping, "path:tree")``.
        Used by the reading loop and by planners that split files into tasks (Ray Data)."""
        path = report.path
        f = open_root(path)
        want_tree = self.tree or (self._mapping.tree if self._user_mapping else None)
        schema = self.schema if isinstance(self.schema, str) else "yaml"
        tree, tree_name = find_tree(f, path, want_tree, schema if schema in SCHEMAS else "auto")
        report.tree = tree_name
        where = f"{path}:{tree_name}"
        try:
            names = _branch_names(tree)
        except Exception as err:
            raise InputError(
                f"{where}: cannot read the list of branches ({type(err).__name__}: {err}); "
                "the file may be truncated or corrupt"
            ) from None
        detected = detect_schema(names)
        if self._mapping is None:
            name = self.schema if self.schema != "auto" else detected
            if name is None:
                raise InputError(
                    f"{where}: cannot tell the schema from the branch names (e.g. {names[:5]}); "
                    f"pass schema= one of {list(SCHEMAS)} or a YAML mapping file"
                )
            mapping = mapping_for(name, names, tree_name)
            self._check_required(mapping, where)
            mapping = mapping.select(self._wanted(mapping, where))
            self._mapping = mapping if self.extras else mapping.core()
            self._mapping_from = path
        elif self.schema == "auto" and detected != self._mapping.schema:
            first = next(
                (r.path for r in self.summary.files if r.status in ("ok", "empty")),
                self._mapping_from,
            )
            raise InputError(
                f"{path}: schema {detected!r} differs from {self._mapping.schema!r} of {first}; "
                "read files of one schema per call (or pass schema= explicitly)"
            )
        elif not self._user_mapping:
            self._refuse_dropped(names, tree_name, path, where)
        mapping = self._mapping
        report.schema = mapping.schema
        have = set(names)
        need = [b for b in mapping.branches() if b not in have]
        if need:
            raise InputError(
                f"{where}: branch(es) {need[:6]}{' ...' if len(need) > 6 else ''} missing, which "
                f"schema {mapping.schema!r} needs; check the file, or restrict collections=[...]"
            )
        return tree, mapping, where

    def _refuse_dropped(self, names: list[str], tree_name: str, path: str, where: str) -> None:
        """A later file with kinematic, weight or id branches that the first file's
        mapping (which every file of the call shares) lacks would lose them silently
        (its weights read as 1): an error naming both files. Extra object fields and
        trigger bits may differ between files (they are not read from this one)."""
        current = self._mapping
        own = mapping_for(current.schema, names, tree_name).select(self._wanted(current, where))
        core = replace(own.core(), triggers={})
        read = set(current.branches())
        dropped = [b for b in core.branches() if b not in read]
        if dropped:
            raise InputError(
                f"{path}: has branch(es) {dropped[:6]}{' ...' if len(dropped) > 6 else ''} "
                f"that {self._mapping_from} (read first) has not; every file of one call is "
                "read with the first one's branches, so these would be dropped (a missing "
                "weight reads as 1): read these files in separate calls"
            )

    def _check_required(self, mapping: EventMapping, where: str) -> None:
        for coll in REQUIRED.get(mapping.schema, ()):
            ok = (
                coll in mapping.collections
                or (coll == "ids" and {"run", "event"} <= mapping.scalars.keys())
                or (  # (hepml files of objects, MET or trigger bits only, as written back)
                    coll == "particles"
                    and (
                        any(c in mapping.collections for c in OBJECT_COLLECTIONS)
                        or mapping.met is not None
                        or bool(mapping.triggers)
                    )
                )
            )
            if not ok:
                miss = ", ".join(mapping.missing[:6]) or "its collections"
                raise InputError(
                    f"{where}: schema {mapping.schema!r} needs collection {coll!r} but branch(es) "
                    f"{miss} are missing; check the file or choose another schema"
                )

    def _wanted(self, mapping: EventMapping, where: str) -> list[str] | None:
        if self.collections is None:
            return None
        absent = [c for c in self.collections if c not in mapping.available()]
        if absent:
            hint = ""
            if "particles" in absent:  # (what reconstruction, labels and the trigger need)
                hint = (
                    "; particle-level inputs are needed here: PF candidates (NanoAOD "
                    "PFCands_*), Delphes EFlow/Particle, hepml's particle_px/py/pz/E/pid "
                    "branches (hepml generate), or any tree with a YAML mapping (--schema)"
                )
            raise InputError(
                f"{where}: schema {mapping.schema!r} found no branches for collection(s) {absent} "
                f"(it has {mapping.available()}"
                + (f"; expected but missing: {mapping.missing[:6]}" if mapping.missing else "")
                + f"){hint}"
            )
        return self.collections

    def _chunks(self, tree, mapping, report, where, start, stop, index):
        branches = mapping.branches()
        if stop <= start:  # an empty file (or range) is an empty result, not an error
            raw = self._raw(tree, branches, where, 0, 0)
            events = build_events(raw, mapping, entry_start=start, where=where)
            info = ChunkInfo(report.path, report.tree, mapping.schema, start, start, index)
            report.chunks += 1
            yield self._stamp(events, info), info
            return
        if not branches:  # nothing to read (e.g. only entry ids): chunks are entry ranges
            yield from self._ranges(mapping, report, where, start, stop, index)
            return
        it = tree.iterate(
            filter_name=exact_names(branches),
            step_size=self.step_size,
            entry_start=start,
            entry_stop=stop,
            report=True,
        )
        while True:
            try:
                raw, rep = next(it)
            except StopIteration:
                break
            except Exception as err:
                done = start + report.events
                raise unreadable(f"{where}: entries {done}-{stop} could not be read", err) from None
            s, e = int(rep.tree_entry_start), int(rep.tree_entry_stop)
            yield self._chunk(raw, mapping, report, where, s, e, index)
            index += 1

    def _ranges(self, mapping, report, where, start, stop, index):
        """Chunks of a mapping that reads no branch: ``step_size`` entries each, or as
        many 8-byte entry numbers as a memory ``step_size`` holds."""
        step = self.step_size
        if not isinstance(step, numbers.Integral):
            try:
                step = uproot._util.memory_size(step) // 8
            except Exception:
                step = 10_000_000
        step = max(int(step), 1)
        for s in range(start, stop, step):
            e = min(s + step, stop)
            yield self._chunk(self._raw(None, [], where, s, e), mapping, report, where, s, e, index)
            index += 1

    def _chunk(self, raw, mapping, report, where, s, e, index):
        """Entries [s, e) read as ``raw``: the events and their ChunkInfo, counted."""
        events = build_events(raw, mapping, entry_start=s, where=f"{where} entries {s}-{e}")
        info = ChunkInfo(report.path, report.tree, mapping.schema, s, e, index)
        report.events += len(events)
        report.chunks += 1
        return self._stamp(events, info), info

    @classmethod
    def _raw(cls, tree, branches, where, start, stop):
        """Entries [start, stop) of ``branches``; no branch: records without fields."""
        if not branches:
            return ak.Array(ak.contents.RecordArray([], [], length=stop - start))
        return cls._read_range(tree, branches, where, start, stop)

    @staticmethod
    def _read_range(tree, branches, where, start, stop):
        try:
            return tree.arrays(
                filter_name=exact_names(branches), entry_start=start, entry_stop=stop
            )
        except Exception as err:
            raise InputError(
                f"{where}: entries {start}-{stop} could not be read ({type(err).__name__}: "
                f"{_one_line(err)}); the file may be truncated or corrupt"
            ) from None

    @staticmethod
    def _stamp(events: ak.Array, info: ChunkInfo) -> ak.Array:
        attrs = dict(events.attrs or {})
        attrs["hepml"] = {
            "file": info.file,
            "tree": info.tree,
            "schema": info.schema,
            "entry_start": info.entry_start,
            "entry_stop": info.entry_stop,
        }
        return ak.Array(events, attrs=attrs)


def _one_line(err: BaseException) -> str:
    """The error's message on one line (uproot's span several), at most 300 characters."""
    s = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    s = s.split(" for file path ")[0]  # (uproot repeats the path the message starts with)
    return s[:300] if s else type(err).__name__


def open_events(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    schema: str | os.PathLike | EventMapping = "auto",
    *,
    tree: str | None = None,
    step_size: int | str = "100 MB",
    entry_start: int | None = None,
    entry_stop: int | None = None,
    collections: Sequence[str] | None = None,
    extras: bool = True,
    skip_bad_files: bool = False,
) -> EventStream:
    """Stream ROOT files as chunks of hepml events.

    Parameters
    ----------
    paths : a file, a glob (expanded, sorted) or a list of them; read in order.
    schema : ``"auto"`` (from the branch names), ``"hepml"``, ``"nanoaod"``,
        ``"delphes"``, ``"flat"``, a YAML mapping file, or an
        :class:`~hepml.io.schemas.EventMapping`.
    tree : the TTree/RNTuple name; by default the schema's own or the only one.
    step_size : entries per chunk (int) or a memory size such as ``"100 MB"``.
    entry_start, entry_stop : a global entry range over the files in order.
    collections : restrict to these collections (only their branches are read).
    extras : also read non-kinematic fields of objects (``btag``, ``iso`` ...).
    skip_bad_files : go on past files that cannot be read; the summary says why.

    Returns
    -------
    EventStream
        Iterable of ``ak.Array`` records with fields such as ``particles``
        (``Momentum4D``: px, py, pz, E, pid, charge), ``jets`` (pt, eta, phi,
        mass, ...), ``met`` (``Momentum2D``), ``triggers``, ``weight``, ``run``,
        ``lumi``, ``event`` and ``entry``.
    """
    return EventStream(
        paths,
        schema,
        tree=tree,
        step_size=step_size,
        entry_start=entry_start,
        entry_stop=entry_stop,
        collections=collections,
        extras=extras,
        skip_bad_files=skip_bad_files,
    )


def read_events(paths, schema="auto", **kwargs) -> ak.Array:
    """Read everything :func:`open_events` would stream into one array."""
    stream = open_events(paths, schema, **kwargs)
    chunks = list(stream)
    if not chunks:  # an entry range that ends before the first file, or every file skipped
        if stream.summary.files and len(stream.summary.skipped) == len(stream.summary.files):
            raise InputError(
                "no readable input file: "
                + "; ".join(skip_reason(f.reason) for f in stream.summary.skipped)
            )
        chunks = [stream.empty()]
    out = ak.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    return ak.Array(out, attrs={"hepml": {"files": expand_paths(paths)}})
