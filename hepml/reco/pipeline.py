"""ROOT in, one row per selected jet out: ``hepml reconstruct``.

For each chunk of events: optional smearing, clustering, the jet selection,
truth labels, substructure and per-particle features; rows are written to
ROOT (tree ``jets``) or parquet with the event ids, so they join back to the
input. Every input event is counted: it gave jets, or it was rejected with a
reason.

Example::

    from hepml.reco.pipeline import ReconstructConfig, reconstruct
    summary = reconstruct(["ttbar.root"], "jets.parquet", ReconstructConfig(smear=True))
    print(summary)
"""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from hepml._version import __version__
from hepml.errors import ConfigError, HepmlError, InputError
from hepml.io import open_events
from hepml.io.reader import expand_paths, find_tree, open_root, skip_reason, unreadable
from hepml.io.write import atomic_path, refuse_overwrite
from hepml.kernels.cluster import first_nonfinite
from hepml.reco._buffers import flat, offsets_of
from hepml.reco.cluster import ALGORITHMS, cluster
from hepml.reco.features import FEATURE_NAMES, jet_particle_features
from hepml.reco.labels import TOP_MATCHES, hadronic_tops, select_jets, top_matched
from hepml.reco.smear import SmearConfig, smear
from hepml.reco.substructure import soft_drop, substructure

__all__ = [
    "ReconstructConfig",
    "ReconstructSummary",
    "read_provenance",
    "reconstruct",
    "reconstruct_events",
]

TOP_PROCESSES = ("ttbar", "zprime_ttbar")
LABELS = ("auto", "top", "qcd", "none")
LEVELS = ("jets", "events")
#: jets per parquet row group: the unit that streaming readers (hepml.graphs.stream) load
PARQUET_ROW_GROUP = 8192
#: the ROOT output's tree recording what made it (see :func:`read_provenance`)
PROVENANCE = "provenance"


@dataclass
class ReconstructConfig:
    """Every knob of the reconstruction; recorded in the output."""

    algorithm: str = "antikt"
    radius: float = 0.8
    pt_min: float = 550.0
    pt_max: float = 650.0
    eta_max: float = 2.0
    label: str = "auto"  # top: keep top-matched jets (label 1); qcd: label 0; none: -1
    top_match: str = "full"  # full: top + its 3 quarks in the jet; partial: 2 of the 3 quarks
    smear: bool = False
    smear_config: SmearConfig | None = None
    seed: int = 0
    max_particles: int | None = None
    drop_nonfinite: bool = False
    skip_bad_files: bool = False  # go on past unreadable input files (listed in the summary)
    step_size: str | int = "50 MB"
    level: str = "jets"  # jets: one row per selected jet; events: one row per event

    def validate(self) -> None:
        if self.level not in LEVELS:
            raise ConfigError(f"--level must be one of {LEVELS}, got {self.level!r}")
        if self.algorithm.lower() not in ALGORITHMS:
            raise ConfigError(
                f"unknown --algorithm {self.algorithm!r}; use antikt, kt or cambridge"
            )
        if self.radius <= 0:
            raise ConfigError(f"--radius must be positive, got {self.radius}")
        if self.pt_max <= self.pt_min:
            raise ConfigError(f"--pt-max ({self.pt_max}) must exceed --pt-min ({self.pt_min})")
        if self.eta_max <= 0:
            raise ConfigError(f"--eta-max must be positive, got {self.eta_max}")
        if self.label not in LABELS:
            raise ConfigError(f"--label must be one of {LABELS}, got {self.label!r}")
        if self.top_match not in TOP_MATCHES:
            raise ConfigError(f"--top-match must be one of {TOP_MATCHES}, got {self.top_match!r}")
        if self.top_match != "full" and self.label in ("qcd", "none"):
            raise ConfigError(
                f"--top-match {self.top_match} with --label {self.label}: the match decides "
                "which jets of a top sample are top jets; give --label top (or auto), or "
                "leave --top-match out"
            )
        if self.max_particles is not None and self.max_particles < 1:
            raise ConfigError(f"--max-particles must be at least 1, got {self.max_particles}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"--seed must be between 0 and 2**32 - 1, got {self.seed}")


@dataclass
class ReconstructSummary:
    """Events in, jets out, events rejected (by reason), per file."""

    events_in: int = 0
    events_with_jets: int = 0
    jets_out: int = 0
    rejected: Counter = field(default_factory=Counter)
    files: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # path -> why it was not (fully) read
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)
    level: str = "jets"

    def add(self, other: ReconstructSummary) -> None:
        self.events_in += other.events_in
        self.events_with_jets += other.events_with_jets
        self.jets_out += other.jets_out
        self.rejected.update(other.rejected)
        for k, v in other.files.items():
            self.files[k] = self.files.get(k, 0) + v
        self.skipped.update(other.skipped)

    @property
    def balanced(self) -> bool:
        return self.events_in == self.events_with_jets + sum(self.rejected.values())

    def __str__(self) -> str:
        if self.level == "events":
            lines = [f"events in: {self.events_in}, event rows out: {self.jets_out}"]
        else:
            lines = [
                f"events in: {self.events_in}, with selected jets: {self.events_with_jets}, "
                f"jets out: {self.jets_out}"
            ]
        for reason, n in sorted(self.rejected.items()):
            if n or self.level != "events":  # (every event accounted for)
                lines.append(f"  rejected ({reason}): {n}")
        if self.skipped:
            lines.append(f"files skipped: {len(self.skipped)} of {len(self.files)}")
            for path, why in self.skipped.items():
                lines.append(f"  {why}" if why.startswith(path) else f"  {path}: {why}")
        return "\n".join(lines)


def check_output(output: str | os.PathLike, inputs: Sequence = ()) -> Path:
    """The output path, if its folder exists, it is ``.root`` or ``.parquet``, not a
    folder, and none of ``inputs`` (which it would overwrite)."""
    output = Path(output)
    if output.suffix.lower() not in (".root", ".parquet"):
        raise ConfigError(f"{output}: write .root or .parquet")
    if not output.parent.exists():
        raise ConfigError(f"{output}: output folder {output.parent} does not exist")
    if output.is_dir():
        raise ConfigError(f"{output}: is a folder; give a file name to write")
    refuse_overwrite(output, inputs)
    return output


def _label_mode(cfg: ReconstructConfig, path: str, events: ak.Array) -> str:
    if cfg.label != "auto":
        return cfg.label
    f = open_root(path)
    if "runinfo" in [k.split(";")[0] for k in f.keys(recursive=False)]:
        try:
            names = f["runinfo"].keys()
        except Exception as err:  # (uproot raises many kinds on damaged bytes)
            raise unreadable(f"{path}:runinfo (the labels come from its process)", err) from None
        if "process" not in names:
            raise ConfigError(
                f"{path}: its runinfo has no 'process' branch to take the labels from; give "
                "--label top, qcd or none"
            )
        try:
            procs = set(f["runinfo"]["process"].array(library="np").tolist())
        except Exception as err:  # (uproot raises many kinds on damaged bytes)
            raise unreadable(f"{path}:runinfo (the labels come from its process)", err) from None
        return "top" if procs & set(TOP_PROCESSES) else "qcd"
    if "partons" in events.fields:
        return "top" if ak.any(abs(events.partons.pid) == 6) else "qcd"
    return "none"


def _id_columns(events: ak.Array, file_index: int, rows_per_event: np.ndarray) -> dict:
    def per_row(x):
        return np.repeat(ak.to_numpy(x), rows_per_event)

    n = int(rows_per_event.sum())
    cols = {"file_index": np.full(n, file_index, dtype=np.int32), "entry": per_row(events.entry)}
    for k in ("run", "lumi", "event"):
        if k in events.fields:
            cols[k] = per_row(events[k])
    cols["weight"] = per_row(events.weight) if "weight" in events.fields else np.ones(n)
    return cols


#: event-level summary columns (the event-level baseline's inputs)
EVENT_FEATURES = ("ht", "met", "n_jets", "n_leptons", "jet1_pt", "jet2_pt", "jet3_pt",
                  "jet4_pt", "lep1_pt")  # fmt: skip


def event_rows(
    events: ak.Array,
    particles: ak.Array,
    label_mode: str,
    file_index: int = 0,
    objects_config=None,
) -> tuple[ak.Array, ReconstructSummary]:
    """One chunk at event level: reconstructed objects (``hepml.reco.objects``) as one
    row per event — ids, label (1 for top-pair samples, 0 otherwise), the summary
    columns of :data:`EVENT_FEATURES` and the jagged ``objects`` (type index into
    ``OBJECT_TYPES``, pt, eta, phi, mass; MET last, with mass 0 and eta 0)."""
    from hepml.reco.objects import OBJECT_TYPES, reconstruct_objects

    n = len(events)
    summary = ReconstructSummary(events_in=n, events_with_jets=n, jets_out=n, level="events")
    objs = reconstruct_objects(particles, objects_config)
    parts = []
    for t, name in enumerate(OBJECT_TYPES[:-1]):
        o = objs[f"{name}s"]
        parts.append(ak.zip({"type": ak.values_astype(o.pt * 0 + t, np.int8), "pt": o.pt,
                             "eta": o.eta, "phi": o.phi, "mass": o.mass}))  # fmt: skip
    met = objs.met
    zero = met.pt * 0
    parts.append(ak.zip({"type": ak.values_astype(zero + len(OBJECT_TYPES) - 1, np.int8),
                         "pt": met.pt, "eta": zero, "phi": met.phi, "mass": zero})[:, None])  # fmt: skip
    objects = ak.concatenate(parts, axis=1)
    cols = _id_columns(events, file_index, np.ones(n, dtype=np.int64))
    value = {"top": 1, "qcd": 0}.get(label_mode, -1)
    cols["label"] = np.full(n, value, dtype=np.int32)
    jets = objs.jets
    leptons = ak.concatenate([objs.electrons.pt, objs.muons.pt], axis=1)
    cols["ht"] = ak.to_numpy(ak.sum(jets.pt, axis=1))
    cols["met"] = ak.to_numpy(met.pt)
    cols["n_jets"] = ak.to_numpy(ak.num(jets)).astype(np.int32)
    cols["n_leptons"] = ak.to_numpy(ak.num(leptons)).astype(np.int32)
    padded = ak.fill_none(ak.pad_none(jets.pt, 4, clip=True), 0.0)
    for i in range(4):
        cols[f"jet{i + 1}_pt"] = ak.to_numpy(padded[:, i])
    cols["lep1_pt"] = ak.to_numpy(ak.fill_none(ak.max(leptons, axis=1), 0.0))
    cols = {k: np.ascontiguousarray(v) for k, v in cols.items()}
    cols["objects"] = objects
    return ak.zip(cols, depth_limit=1), summary


def _nonfinite_events(events: ak.Array, particles: ak.Array, cfg: ReconstructConfig) -> np.ndarray:
    """Events with a NaN or infinite particle momentum (a mask); an InputError naming
    the first one's entry unless ``cfg.drop_nonfinite``."""
    offsets = offsets_of(particles)
    px, py, pz, e = (flat(particles, f) for f in ("px", "py", "pz", "E"))
    first = first_nonfinite(px, py, pz, e, offsets)
    bad = first >= 0
    if bad.any() and not cfg.drop_nonfinite:
        i = int(np.flatnonzero(bad)[0])
        entries = ak.to_numpy(events.entry)
        raise InputError(
            f"entry {int(entries[i])} (particle {int(first[i])}) has a NaN or infinite "
            f"momentum; {int(bad.sum())} event(s) of entries {int(entries[0])}-"
            f"{int(entries[-1])} are affected: fix the input or pass --drop-nonfinite "
            "to skip them (they are counted)"
        )
    return bad


def reconstruct_events(
    events: ak.Array, cfg: ReconstructConfig, label_mode: str, file_index: int = 0
) -> tuple[ak.Array, ReconstructSummary]:
    """One chunk: rows of selected jets (or, with ``level="events"``, of events) and the
    chunk's event accounting."""
    summary = ReconstructSummary(events_in=len(events))
    particles = events.particles
    bad = _nonfinite_events(events, particles, cfg)
    if bad.any():  # (--drop-nonfinite: dropped here, counted as rejected)
        events, particles = events[~bad], particles[~bad]
    if label_mode == "top" and "partons" not in events.fields:
        why = "" if cfg.label == "top" else " (--label auto: the file is a top sample)"
        raise ConfigError(
            f"--label top{why} needs the generator's partons (the top and its decay quarks), "
            "which these events do not have; use --label qcd or --label none"
        )
    if cfg.smear:
        # per (seed, file position, entry): the same jets whatever the chunks or --jobs
        # pieces (the position, not the name: the README says so), and whatever events
        # --drop-nonfinite left out before
        seed = cfg.seed * 1_000_003 + file_index
        entries = ak.to_numpy(events.entry)
        particles = smear(particles, cfg.smear_config, seed=seed, entries=entries)
    if cfg.level == "events":
        rows, ev_summary = event_rows(events, particles, label_mode, file_index)
        ev_summary.events_in += int(bad.sum())
        ev_summary.rejected["non-finite momenta"] += int(bad.sum())
        return rows, ev_summary
    summary.rejected["non-finite momenta"] += int(bad.sum())
    jets = cluster(particles, cfg.algorithm, cfg.radius, pt_min=cfg.pt_min)
    jet_index = ak.local_index(jets.pt, axis=1)
    keep = select_jets(jets, cfg.pt_min, cfg.pt_max, cfg.eta_max)
    selected = ak.to_numpy(ak.any(keep, axis=1))
    if label_mode == "top":
        matched = top_matched(jets, hadronic_tops(events.partons), 0.8, cfg.top_match)
        label = ak.values_astype(matched, np.int32)
        keep_final = keep & matched
    else:
        value = 0 if label_mode == "qcd" else -1
        label = ak.values_astype(jets.pt * 0 + value, np.int32)
        keep_final = keep
    passed = ak.to_numpy(ak.any(keep_final, axis=1))
    summary.rejected["no jet in the selection"] += int((~selected).sum())
    summary.rejected["no top-matched jet"] += int((selected & ~passed).sum())
    summary.events_with_jets = int(passed.sum())
    # per selected jet
    sel_jets = jets[keep_final]
    n_per_event = ak.to_numpy(ak.num(sel_jets))
    feats = jet_particle_features(particles, sel_jets, cfg.max_particles)
    flat_jets = ak.flatten(sel_jets)
    from hepml.reco.cluster import constituent_particles

    members = ak.flatten(constituent_particles(particles, sel_jets), axis=1)
    taus = substructure(members, radius=cfg.radius)
    sd = soft_drop(members, radius=cfg.radius)
    event_of_jet = np.repeat(np.arange(len(events)), n_per_event)

    def per_jet(x):
        return ak.to_numpy(x)[event_of_jet]

    cols = {
        "file_index": np.full(len(flat_jets), file_index, dtype=np.int32),
        "entry": per_jet(events.entry),
    }
    for k in ("run", "lumi", "event"):
        if k in events.fields:
            cols[k] = per_jet(events[k])
    cols["weight"] = (
        per_jet(events.weight) if "weight" in events.fields else np.ones(len(flat_jets))
    )
    cols["jet_index"] = ak.to_numpy(ak.flatten(jet_index[keep_final])).astype(np.int32)
    cols["label"] = ak.to_numpy(ak.flatten(label[keep_final]))
    for k in ("pt", "eta", "phi", "mass"):
        cols[f"jet_{k}"] = ak.to_numpy(flat_jets[k])
    cols["jet_n_constituents"] = ak.to_numpy(flat_jets.n_constituents).astype(np.int32)
    cols["jet_msd"] = ak.to_numpy(sd.mass)
    for i in range(3):
        cols[f"jet_tau{i + 1}"] = ak.to_numpy(taus.tau[:, i]) if len(flat_jets) else np.zeros(0)
    part = ak.flatten(feats, axis=1)
    cols = {k: np.ascontiguousarray(v) if isinstance(v, np.ndarray) else v for k, v in cols.items()}
    cols["part"] = ak.zip({name: part[name] for name in (*FEATURE_NAMES, "index")})
    summary.jets_out = len(flat_jets)
    return ak.zip(cols, depth_limit=1), summary


# --------------------------------------------------------------------------- driver


def _work_units(
    paths: list[str], jobs: int, skipped: dict[str, str] | None = None
) -> list[tuple[int, str, int, int]]:
    """(file index, path, entry_start, entry_stop) pieces, about ``jobs`` per input.
    With ``skipped`` (a dict), files that cannot be opened are recorded there (path ->
    reason) and left out instead of raising."""
    units = []
    for i, p in enumerate(paths):
        try:
            f = open_root(p)
            tree, _ = find_tree(f, p, None, "auto")
            n = tree.num_entries
        except HepmlError as err:
            if skipped is None:
                raise
            skipped[p] = skip_reason(err)
            continue
        if jobs == 1 or n < 2 * jobs:
            units.append((i, p, 0, -1))
            continue
        edges = np.linspace(0, n, jobs + 1).astype(int)
        units += [(i, p, int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]
    return units


def _run_unit(
    unit, cfg_dict: dict, out: str, tree_root: bool, progress=None, meta: dict | None = None
) -> dict:
    index, path, start, stop = unit
    cfg = ReconstructConfig(**cfg_dict)
    if isinstance(cfg.smear_config, dict):
        cfg.smear_config = SmearConfig(**cfg.smear_config)
    summary = ReconstructSummary(files={path: 0})
    mode = None
    rows_out = 0
    with atomic_path(out) as tmp:
        writer = _Writer(tmp, tree_root, meta)
        stream = open_events(
            path,
            step_size=cfg.step_size,
            entry_start=start,
            entry_stop=None if stop < 0 else stop,
            collections=["particles", "partons", "ids", "weight"]
            if _has_partons(path)
            else ["particles", "ids", "weight"],
            skip_bad_files=cfg.skip_bad_files,
        )
        bad_runinfo = None
        for events in stream:
            if mode is None:
                try:
                    mode = _label_mode(cfg, path, events)
                except InputError as err:
                    if not cfg.skip_bad_files:
                        raise
                    bad_runinfo = skip_reason(err)
                    break
            try:
                rows, s = reconstruct_events(events, cfg, mode, index)
            except HepmlError as err:  # (name the file; keep the error's class)
                raise type(err)(f"{path}: {err}") from None
            summary.add(s)
            summary.files[path] += s.events_in
            rows_out += len(rows)
            writer.write(rows)
            if progress is not None:
                progress(s.events_in)
        writer.close()
    skipped = {r.path: skip_reason(r.reason) for r in stream.summary.skipped}
    if bad_runinfo is not None:
        skipped[path] = bad_runinfo
    return {
        "events_in": summary.events_in,
        "events_with_jets": summary.events_with_jets,
        "jets_out": summary.jets_out,
        "rejected": dict(summary.rejected),
        "files": summary.files,
        "skipped": skipped,
        "empty": mode is None,  # no events were read: no part to merge
    }


def _has_partons(path: str) -> bool:
    f = open_root(path)
    for key, cls in f.classnames(recursive=False).items():
        if (cls == "TTree" or "RNTuple" in cls) and "parton_pid" in f[key].keys():
            return True
    return False


def _stamp_root(f, meta: dict | None) -> None:
    """The provenance tree of a ROOT output: one entry, the JSON of ``meta``."""
    if meta is not None:
        f.mktree(
            PROVENANCE, {"tool": np.array([meta["tool"]]), "json": np.array([json.dumps(meta)])}
        )


def _to_parquet(rows: ak.Array, path: Path, meta: dict | None) -> None:
    if meta is not None:
        rows = ak.Array(rows, attrs={"hepml": meta})
    ak.to_parquet(rows, path, row_group_size=PARQUET_ROW_GROUP)


def read_provenance(path: str | os.PathLike) -> dict | None:
    """What made a ``hepml reconstruct`` output: ``{"tool", "version", "config",
    "inputs"}`` (``config`` holds every knob, the seed included; ``inputs`` the files
    in ``file_index`` order), or None for a file without it."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        raw = (pq.read_schema(path).metadata or {}).get(b"AWKWARD_ATTRS")
        return json.loads(raw).get("hepml") if raw else None
    with uproot.open(path) as f:
        if PROVENANCE not in [k.split(";")[0] for k in f.keys(recursive=False)]:
            return None
        return json.loads(str(f[PROVENANCE]["json"].array(library="np")[0]))


class _Writer:
    """Rows appended chunk by chunk to ROOT (tree ``jets``) or collected for parquet."""

    def __init__(self, path: Path, root: bool, meta: dict | None = None) -> None:
        self.path, self.root, self.meta = path, root, meta
        self.file = uproot.recreate(path, compression=uproot.ZSTD(5)) if root else None
        self.parts: list[ak.Array] = []
        self.started = False

    def write(self, rows: ak.Array) -> None:
        if not self.root:
            self.parts.append(rows)
            return
        if len(rows) == 0 and not self.started:
            self.parts.append(rows)  # keep the structure for an empty output
            return
        data = {f: rows[f] for f in rows.fields}
        if not self.started:
            self.file.mktree("jets", data)
            self.started = True
        else:
            self.file["jets"].extend(data)

    def close(self) -> None:
        if self.root:
            if not self.started and self.parts:
                self.file.mktree("jets", {f: self.parts[0][f] for f in self.parts[0].fields})
            _stamp_root(self.file, self.meta)
            self.file.close()
        elif self.parts:  # (a piece that read no events leaves no rows to merge)
            _to_parquet(ak.concatenate(self.parts), self.path, self.meta)


def reconstruct(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    cfg: ReconstructConfig | None = None,
    *,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> ReconstructSummary:
    """Reconstruct ``inputs`` into ``output`` (``.root`` or ``.parquet``)."""
    cfg = cfg or ReconstructConfig()
    cfg.validate()
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    paths = expand_paths(inputs)
    output = check_output(output, paths)
    suffix = output.suffix.lower()
    skipped: dict[str, str] = {}
    units = _work_units(paths, jobs, skipped if cfg.skip_bad_files else None)
    if not units:
        raise InputError(
            f"none of the {len(paths)} input files could be read; the first: "
            f"{next(iter(skipped.values()))}"
        )
    cfg_dict = asdict(cfg)
    meta = {"tool": "hepml reconstruct", "version": __version__, "config": cfg_dict,
            "inputs": [str(p) for p in paths]}  # fmt: skip
    root = suffix == ".root"
    t0 = time.perf_counter()
    summary = ReconstructSummary()
    parts = [output.with_name(f".{output.stem}.part{i}{suffix}") for i in range(len(units))]
    try:
        if jobs == 1:
            results = [
                _run_unit(u, cfg_dict, str(p), root, progress, meta) for u, p in zip(units, parts)
            ]
        else:
            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                futures = [
                    pool.submit(_run_unit, u, cfg_dict, str(p), root, None, meta)
                    for u, p in zip(units, parts)
                ]
                results = []
                for unit, fut in zip(units, futures):
                    try:
                        res = fut.result()
                    except Exception as err:
                        # the pieces not started yet are dropped: the error comes now,
                        # not after the rest of the run
                        pool.shutdown(wait=False, cancel_futures=True)
                        if isinstance(err, HepmlError):
                            raise
                        _, path, start, stop = unit
                        where = f"{path}" + (f" entries {start}-{stop}" if stop >= 0 else "")
                        raise HepmlError(  # a worker's error, with its context
                            f"{where}: reconstruction worker failed: {type(err).__name__}: {err}"
                        ) from err
                    results.append(res)
                    if progress is not None:
                        progress(res["events_in"])
        for r in results:
            summary.add(
                ReconstructSummary(
                    events_in=r["events_in"],
                    events_with_jets=r["events_with_jets"],
                    jets_out=r["jets_out"],
                    rejected=Counter(r["rejected"]),
                    files=r["files"],
                    skipped=r["skipped"],
                )
            )
        for path, why in skipped.items():
            summary.files.setdefault(path, 0)
            summary.skipped[path] = why
        for path in summary.skipped:  # (a file may break in one of its --jobs pieces)
            if summary.files.get(path, 0):
                summary.skipped[path] += f" ({summary.files[path]} events read from it were kept)"
        filled = [p for p, r in zip(parts, results) if not r["empty"]]
        if not filled:
            why = "; ".join(summary.skipped.values())
            raise InputError(
                f"no events could be read from the {len(paths)} input file(s)"
                + (f"; skipped: {why}" if why else "")
            )
        _merge(filled, output, root, meta)
    finally:
        for p in parts:
            p.unlink(missing_ok=True)
    summary.seconds = time.perf_counter() - t0
    summary.outputs = [str(output)]
    summary.level = cfg.level
    if not summary.balanced:  # never drop events silently
        raise InputError(f"internal accounting error: {summary}")
    return summary


#: the event-id columns a row has when its file has them
_IDS = ("run", "lumi", "event")


def _aligned(columns: dict, ids: list[str], n: int) -> dict:
    """``columns`` with every id column of ``ids`` (int64; -1 where the file had none),
    in one order, right after ``entry``: inputs of different kinds (hepml's own files
    have run and event, NanoAOD run, lumi and event) merge into one output."""
    rest = [k for k in columns if k not in _IDS]
    at = rest.index("entry") + 1 if "entry" in rest else 0
    out = {}
    for k in [*rest[:at], *ids, *rest[at:]]:
        if k in _IDS:
            have = columns.get(k)
            out[k] = np.full(n, -1, np.int64) if have is None else np.asarray(have, np.int64)
        else:
            out[k] = columns[k]
    return out


def _merge(parts: list[Path], output: Path, root: bool, meta: dict | None = None) -> None:
    if len(parts) == 1:
        os.replace(parts[0], output)
        return
    if not root:
        arrs = [ak.from_parquet(p) for p in parts]
        ids = [k for k in _IDS if any(k in a.fields for a in arrs)]
        if any([k for k in a.fields if k in _IDS] != ids for a in arrs):
            arrs = [
                ak.zip(_aligned({k: a[k] for k in a.fields}, ids, len(a)), depth_limit=1)
                for a in arrs
            ]
        arr = ak.concatenate(arrs)
        with atomic_path(output) as tmp:
            _to_parquet(arr, tmp, meta)
        return
    names = []
    for p in parts:
        with uproot.open(p) as src:
            names.append(set(src["jets"].keys()))
    ids = [k for k in _IDS if any(k in n for n in names)]
    same_ids = all({k for k in n if k in _IDS} == set(ids) for n in names)
    with atomic_path(output) as tmp, uproot.recreate(tmp, compression=uproot.ZSTD(5)) as f:
        _stamp_root(f, meta)
        started = False
        for p in parts:
            with uproot.open(p) as src:
                for arr in src["jets"].iterate(step_size="100 MB"):
                    data = _regroup(arr)
                    if not same_ids:
                        data = _aligned(data, ids, len(arr))
                    if not started:
                        f.mktree("jets", data)
                        started = True
                    else:
                        f["jets"].extend(data)
        if not started:  # no row in any part: the tree with its columns and no entries
            with uproot.open(parts[0]) as src:
                f.mktree("jets", _regroup(src["jets"].arrays(entry_stop=0)))


def _regroup(arr: ak.Array) -> dict:
    out: dict = {}
    part: dict = {}
    objects: dict = {}
    for name in arr.fields:
        if name in ("npart", "nobjects"):
            continue
        if name.startswith("part_"):
            part[name[5:]] = arr[name]
        elif name.startswith("objects_"):
            objects[name[8:]] = arr[name]
        else:
            out[name] = ak.to_numpy(arr[name])
    if part:
        out["part"] = ak.zip(part)
    if objects:
        out["objects"] = ak.zip(objects)
    return out
