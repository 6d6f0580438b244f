r"""Run a trigger menu over samples: decisions, rates, efficiencies, thresholds.

Two passes. The first streams each sample's files in chunks, builds the
trigger objects once per chunk and evaluates every entry's cut and variable
(ML scores included) — the expensive part. The second combines them in seed
order: an entry passes when one of its seeds passed (or it has none), its cut
passes, its variable is above the threshold (solved on the background for a
``target_rate_hz``) and its prescale counter lets it through.

Prescales are deterministic counters, as in real triggers: every Nth event that
passes a path with prescale N is kept, counting in file order within each sample,
from a phase drawn from the seed (:func:`prescale_phase`), so that rates are right on
average.

Example::

    menu = load_menu("menus/demo.yaml")
    samples = [Sample("qcd", ["qcd.root"]), Sample("zprime", ["zp.root"], role="signal")]
    result = emulate(menu, samples, seed=1)
    result.paths["HLT_PFHT1050"].rate_hz
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from hepml.errors import ConfigError, InputError
from hepml.io import open_events
from hepml.io.reader import FileReport, expand_paths, open_root, skip_reason
from hepml.trigger.menu import Menu, TriggerPath
from hepml.trigger.objects import trigger_objects
from hepml.trigger.rates import (
    PB_TO_CM2,
    Threshold,
    can_pass,
    efficiency,
    rate,
    rate_curve,
    solve_threshold,
)

__all__ = ["EmulationResult", "PathResult", "Sample", "SampleData", "emulate", "parse_sample"]

ROLES = ("background", "signal")


@dataclass
class Sample:
    """A named set of files; ``background`` samples make the rates, every sample gets
    efficiencies."""

    name: str
    files: list[str]
    role: str = "background"
    schema: str = "auto"  # as hepml.io.open_events takes it

    def __post_init__(self) -> None:
        # globs expanded here (as --sample does): each file has its own index, seed and
        # share of the cross-section
        self.files = expand_paths(self.files)
        if self.role not in ROLES:
            raise ConfigError(f"sample {self.name}: role must be one of {ROLES}")
        if not self.name.isidentifier():
            raise ConfigError(f"sample name {self.name!r}: use letters, digits and _")


def parse_sample(spec: str, signals: Sequence[str] = (), schema: str = "auto") -> Sample:
    """``NAME=GLOB[,GLOB...]`` (as ``--sample`` takes it) → :class:`Sample`."""
    if "=" not in spec:
        raise ConfigError(f"--sample {spec!r}: write NAME=FILES, e.g. qcd='qcd*.root'")
    name, pattern = spec.split("=", 1)
    files = expand_paths([p for p in pattern.split(",") if p])
    role = "signal" if name.strip() in signals else "background"
    return Sample(name.strip(), files, role, schema)


@dataclass
class SampleData:
    """Per-event arrays of one sample after the first pass."""

    sample: Sample
    ids: dict[str, np.ndarray]
    weight: np.ndarray  # generator weights (efficiencies)
    rate_hz: np.ndarray  # per-event rate weight (Hz); zeros for signal samples
    cut: dict[str, np.ndarray]  # cut passed (seeds not applied yet)
    value: dict[str, np.ndarray]  # variable / ML score where the cut passed, else NaN
    turn_on: dict[str, np.ndarray]
    recorded: dict[str, np.ndarray]
    decision: dict[str, np.ndarray] = field(default_factory=dict)  # final
    pre: dict[str, np.ndarray] = field(default_factory=dict)  # seeds and cut
    seconds: float = 0.0
    files: list[FileReport] = field(default_factory=list)  # what was read from each file
    skipped: dict[str, str] = field(default_factory=dict)  # file -> why (skip_bad_files)
    notes: list[str] = field(default_factory=list)  # what partial reads did to the rates
    #: per-event weights of efficiencies and turn-on curves: the rate weights for a
    #: background (pT-hat bins weighed by their cross-sections), the generator weights
    #: (in pb when the files are several pT-hat bins) for a signal; None: ``weight``
    eff_weight: np.ndarray | None = None

    @property
    def efficiency_weights(self) -> np.ndarray:
        return self.weight if self.eff_weight is None else self.eff_weight

    @property
    def n(self) -> int:
        return len(self.weight)

    def events_from(self, path: str) -> int:
        """How many of this sample's events come from file ``path``."""
        return int(np.count_nonzero(self.ids["file_index"] == _file_index(self.sample, path)))

    def skip_reasons(self) -> dict[str, str]:
        """``skipped``, each reason with how many events read before the damage were kept."""
        out = {}
        for path, reason in self.skipped.items():
            n = self.events_from(path)
            out[path] = reason + (f" ({n} events read from it were kept)" if n else "")
        return out

    @property
    def files_read(self) -> list[str]:
        """The files events were taken from (all of them unless files were skipped)."""
        if not self.skipped:
            return list(self.sample.files)
        return [f.path for f in self.files if f.events > 0]


@dataclass
class PathResult:
    """What the report says about one seed or path."""

    path: TriggerPath
    threshold: float | None = None
    solved: Threshold | None = None
    rate_hz: float = 0.0
    rate_err_hz: float = 0.0
    unique_rate_hz: float = 0.0
    efficiency: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    backend: str = ""


@dataclass
class EmulationResult:
    menu: Menu
    samples: dict[str, SampleData]
    paths: dict[str, PathResult]
    total_rate_hz: dict[str, tuple[float, float]]  # level -> (rate, error)
    overlap_hz: np.ndarray  # HLT x HLT rates of events accepted by both
    hlt_names: list[str]
    comparisons: list[dict]
    seed: int
    mode: str  # "luminosity" or "input rate"
    scorers: dict = field(default_factory=dict)
    seconds: float = 0.0
    #: what the user must know about the menu as a whole (a model applied to inputs
    #: made otherwise than its training rows)
    notes: list[str] = field(default_factory=list)

    @property
    def background(self) -> list[SampleData]:
        return [s for s in self.samples.values() if s.sample.role == "background"]


# --------------------------------------------------------------------------- first pass


def _scorers(menu: Menu) -> dict:
    from hepml.trigger.ml import scorer

    return {p.name: scorer(p.model, p.object) for p in menu.ml_paths}


def _rate_weights(menu: Menu, sample: Sample, weight: np.ndarray) -> np.ndarray:
    """Per-event rate (Hz) of a sample read whole."""
    if sample.role == "signal":
        return np.zeros(len(weight))
    if menu.input_rate_hz is not None:
        total = weight.sum()
        if total <= 0:
            raise InputError(f"sample {sample.name}: the weights sum to {total}")
        return menu.input_rate_hz * weight / total
    _check_rate_menu(menu)
    from hepml.io.runinfo import event_weights_pb

    try:
        w_pb = event_weights_pb(sample.files)
    except InputError as err:
        raise _no_cross_section(sample.name, err) from None
    if len(w_pb) != len(weight):
        raise InputError(
            f"sample {sample.name}: {len(weight)} events read but {len(w_pb)} weights in runinfo"
        )
    return menu.luminosity * PB_TO_CM2 * w_pb


def first_pass(
    menu: Menu,
    sample: Sample,
    *,
    seed: int = 0,
    scorers: dict | None = None,
    step_size: int | str = 2000,
    max_events: int | None = None,
    progress: Callable[[int], None] | None = None,
    skip_bad_files: bool = False,
) -> SampleData:
    """Cuts, variables, ML scores, turn-on variables and recorded bits of every event.

    With ``skip_bad_files`` a file that cannot be read is skipped (one that breaks
    part-way keeps the events read before the break), and so is one without readable
    run information in a sample that makes rates. After skipped files or with
    ``max_events`` the rates are normalised to what was read: see
    :func:`_pb_of_what_was_read`.
    """
    t0 = time.perf_counter()
    scorers = scorers if scorers is not None else _scorers(menu)
    need = menu.collections()
    ml = menu.needs_particles
    recorded = {p.name: p.recorded for p in menu.paths.values() if p.recorded}
    cols = {"ids": [], "weight": []}
    cut: dict[str, list] = {p: [] for p in menu.paths}
    value: dict[str, list] = {p.name: [] for p in menu.paths.values() if p.has_threshold}
    turn: dict[str, list] = {p.name: [] for p in menu.paths.values() if p.turn_on}
    rec: dict[str, list] = {p: [] for p in recorded}
    stream = open_events(
        sample.files, sample.schema, step_size=step_size, entry_stop=max_events,
        skip_bad_files=skip_bad_files,
    )  # fmt: skip
    for events, info in stream.with_info():
        where = f"{info.file} entries {info.entry_start}-{info.entry_stop}"
        # smearing per (seed, file, entry): the same objects whatever the chunk size
        file_seed = seed * 1_000_003 + _file_index(sample, info.file)
        objs = trigger_objects(
            events, menu.objects, need=need, seed=file_seed, first_event=info.entry_start,
            keep_particles=ml, where=where,
        )  # fmt: skip
        n = len(events)
        ids = {"file_index": np.full(n, _file_index(sample, info.file), np.int32)}
        for k in ("run", "lumi", "event", "entry"):
            if k in events.fields:
                ids[k] = ak.to_numpy(events[k]).astype(np.int64)
        cols["ids"].append(ids)
        w = ak.to_numpy(events.weight).astype(np.float64) if "weight" in events.fields else None
        if w is not None and not np.isfinite(w).all():
            bad = int(np.flatnonzero(~np.isfinite(w))[0])
            raise InputError(
                f"{info.file}: entry {info.entry_start + bad}: event weight {w[bad]} (sample "
                f"{sample.name}); every rate and efficiency would be NaN: fix or drop "
                "these events"
            )
        cols["weight"].append(w if w is not None else np.ones(n))
        for p in menu.paths.values():
            try:
                c = p.cut(objs) if p.cut is not None else np.ones(n, bool)
                cut[p.name].append(c)
                if p.is_ml:
                    value[p.name].append(scorers[p.name].score(objs, c))
                elif p.variable is not None:
                    v = np.asarray(p.variable.values(objs), dtype=np.float64)
                    value[p.name].append(np.where(c, v, np.nan))
                if p.turn_on is not None:
                    turn[p.name].append(np.asarray(p.turn_on.values(objs), dtype=np.float64))
            except ConfigError as err:
                raise type(err)(f"{menu.source}: {p.name} on {where}: {err}") from None
        for name, branch in recorded.items():
            trig = events.triggers if "triggers" in events.fields else None
            if trig is None or branch not in ak.fields(trig):
                raise InputError(
                    f"{info.file}: no recorded trigger bit {branch!r} (path {name}.recorded); "
                    "the file's bits are listed by 'hepml inspect'"
                )
            rec[name].append(ak.to_numpy(trig[branch]).astype(bool))
        if progress is not None:
            progress(n)
    reports = stream.summary.files
    skipped = {r.path: skip_reason(r.reason) for r in reports if r.status == "skipped"}
    if not cols["weight"]:
        if skipped:
            why = "; ".join(f"{os.path.basename(f)}: {r}" for f, r in skipped.items())
            raise InputError(
                f"sample {sample.name}: none of its {len(reports)} file(s) could be read ({why})"
            )
        raise InputError(f"sample {sample.name}: no events in {', '.join(sample.files)}")
    weight = np.concatenate(cols["weight"])
    ids = {k: np.concatenate([c[k] for c in cols["ids"]]) for k in cols["ids"][0]}
    data = SampleData(
        sample=sample,
        ids=ids,
        weight=weight,
        rate_hz=np.zeros(len(weight)),
        cut={k: np.concatenate(v) for k, v in cut.items()},
        value={k: np.concatenate(v) for k, v in value.items()},
        turn_on={k: np.concatenate(v) for k, v in turn.items()},
        recorded={k: np.concatenate(v) for k, v in rec.items()},
        files=reports,
        skipped=skipped,
    )
    partial = skip_bad_files or max_events is not None
    if partial and sample.role == "background" and menu.input_rate_hz is None:
        _check_rate_menu(menu)
        keep, w_pb = _pb_of_what_was_read(data, skip_bad_files)
        if not keep.all():
            data = _select(data, keep)
        data.rate_hz = menu.luminosity * PB_TO_CM2 * w_pb[keep]
    else:
        data.rate_hz = _rate_weights(menu, sample, data.weight)
    data.eff_weight = _efficiency_weights(data, skip_bad_files)
    data.seconds = time.perf_counter() - t0
    return data


def _efficiency_weights(data: SampleData, skip_bad_files: bool) -> np.ndarray:
    """:attr:`SampleData.eff_weight`: an efficiency on a sample made of pT-hat bins
    weighs each bin's events by its cross-section, as its rates do (with the generator
    weights alone, a bin of 1 pb would count as much as one of 10^6 pb)."""
    from hepml.io.runinfo import read_runinfo

    if data.sample.role == "background":
        return data.rate_hz
    try:
        bins = len(read_runinfo(data.files_read).bins)
    except InputError:  # (no run information: the generator weights are all there is)
        return data.weight
    if bins < 2:
        return data.weight
    keep, w_pb = _pb_of_what_was_read(data, skip_bad_files)
    return np.where(keep, w_pb, 0.0)


def _no_cross_section(sample: str, err: Exception) -> InputError:
    return InputError(
        f"sample {sample}: no cross-section to make rates from ({err}); give the menu an "
        "input_rate_hz, or mark the sample --signal"
    )


def _check_rate_menu(menu: Menu) -> None:
    if menu.luminosity is None:
        raise ConfigError(
            f"{menu.source}: give luminosity (cm^-2 s^-1) or input_rate_hz to compute rates"
        )


def _select(data: SampleData, keep: np.ndarray) -> SampleData:
    """``data`` restricted to the events ``keep`` marks (per-event arrays only)."""

    def sub(d: dict) -> dict:
        return {k: v[keep] for k, v in d.items()}

    data.ids, data.weight = sub(data.ids), data.weight[keep]
    data.cut, data.value = sub(data.cut), sub(data.value)
    data.turn_on, data.recorded = sub(data.turn_on), sub(data.recorded)
    return data


def _pb_of_what_was_read(data: SampleData, skip_bad_files: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(keep, w_pb)``: per-event rate weights in pb when not every event was read
    (files skipped, or ``max_events``).

    Each file keeps its share of its pT-hat bin's cross-section, ``sigma_b W_f /
    W_b``, with ``sigma_b`` and the sums of weights ``W`` from the run information
    of the files events were read from (a file read whole is weighted as usual,
    ``sigma_b * w / W_b``, right for skims too); the events read from a file that
    was not read to its end stand for the whole file (their weights are scaled by
    ``W_f`` over their sum). A bin none of whose files gave events is missing, and
    ``data.notes`` says so. With ``skip_bad_files``, a file whose events were read
    but whose run information cannot be is left out (``keep`` is False for its
    events); without, that is an error, as is a file past ``max_events`` without
    run information.
    """
    from hepml.io.runinfo import read_runinfo

    name = data.sample.name
    file_index = data.ids["file_index"]
    keep = np.ones(data.n, bool)
    good: dict[int, str] = {}
    scale: dict[int, float] = {}  # W_f over the weights read, for files not read whole
    for r in data.files:
        if r.events == 0:
            continue
        i = _file_index(data.sample, r.path)
        try:
            own = read_runinfo([r.path])
        except InputError as err:
            if not skip_bad_files:
                raise _no_cross_section(name, err) from None
            keep &= file_index != i
            why = f"{skip_reason(err)}; the {r.events} events read from it are left out"
            data.skipped[r.path] = (
                f"{data.skipped[r.path]}; {why}" if r.path in data.skipped else why
            )
            continue
        good[i] = r.path
        if r.status == "skipped" or r.events < r.tree_entries:
            read = data.weight[file_index == i].sum()
            stored = _stored_sum_weights(r, own.sum_weights, own.events_accepted, read, data)
            scale[i] = stored / read if read > 0 else 0.0
    if not good:
        raise InputError(
            f"sample {name}: no file whose events could be read has run information to make "
            "rates from; give the menu an input_rate_hz, or mark the sample --signal"
        )
    info = read_runinfo(list(good.values()))
    w_pb = np.zeros(data.n)
    for i, path in good.items():
        here = file_index == i
        w_pb[here] = data.weight[here] * (info.pb_per_weight(path) * scale.get(i, 1.0))
    have = {(b.pthat_min, b.pthat_max) for b in info.bins}
    for r in data.files:  # files that gave no events: skipped, or past max_events
        if r.path in good.values():
            continue
        try:
            lost = read_runinfo([r.path])
        except InputError as err:
            if not skip_bad_files:
                raise _no_cross_section(name, err) from None
            data.notes.append(
                f"the pT-hat range of {os.path.basename(r.path)} cannot be told "
                "(its run information cannot be read); if no other file covers it, its "
                "cross-section is missing from the rates"
            )
            continue
        for b in lost.bins:
            if (b.pthat_min, b.pthat_max) not in have:
                have.add((b.pthat_min, b.pthat_max))
                data.notes.append(
                    f"no events of pT-hat bin {b.describe()} were read; its "
                    f"{b.cross_section_pb:.4g} pb are missing from the rates"
                )
    return keep, w_pb


def _stored_sum_weights(
    r: FileReport, runinfo_sum: float, runinfo_events: int, read: float, data: SampleData
) -> float:
    """The sum of the weights of every event stored in the file of ``r``, which the
    ``read`` part of them stands for. It is the runinfo's sum unless the file is a skim
    (its events a selection of those generated), so it is summed from the file's weight
    branch; when that cannot be read (a damaged file), the runinfo's sum for a file
    that holds every generated event, else ``read`` scaled by entries (with a note)."""
    try:
        with open_root(r.path) as f:
            tree = f[r.tree or "events"]
            if "weight" not in tree.keys():
                return float(tree.num_entries)
            return float(np.sum(tree["weight"].array(library="np"), dtype=np.float64))
    except Exception:  # (the file broke part-way: its weights cannot all be read)
        if r.tree_entries == runinfo_events:
            return runinfo_sum
        data.notes.append(
            f"{os.path.basename(r.path)} holds {r.tree_entries} of {runinfo_events} generated "
            f"events (a skim) and its weights cannot all be read: the {r.events} events read "
            "stand for its entries by number, an estimate"
        )
        return read * r.tree_entries / max(r.events, 1)


def _file_index(sample: Sample, path: str) -> int:
    """Position of ``path`` among the sample's files (-1 if it is not one of them)."""
    for i, f in enumerate(sample.files):
        if f == path or os.path.abspath(f) == os.path.abspath(path):
            return i
    return -1


# --------------------------------------------------------------------------- second pass


def prescale_phase(seed: int, path: str, sample: str, prescale: int) -> int:
    """Where a prescale counter starts (0 … prescale-1), drawn from the emulation's
    ``seed``, the path and the sample: a counter that kept each sample's first passing
    event made every prescaled rate too high (by up to one event's rate per sample,
    100× at prescale 1000 on the demo's samples); from a random phase it is right on
    average, and the same for the same seed."""
    if prescale == 1:
        return 0
    key = [int(seed), zlib.crc32(path.encode()), zlib.crc32(sample.encode())]
    return int(np.random.default_rng(key).integers(prescale))


def _prescaled(raw: np.ndarray, prescale: int, phase: int = 0) -> np.ndarray:
    """The events a counter keeps: every ``prescale``-th passing one, the first being
    the ``prescale - phase``-th (``phase`` 0: the first)."""
    if prescale == 1:
        return raw
    k = np.cumsum(raw)
    return raw & ((k - 1 + phase) % prescale == 0)


def _solve(p: TriggerPath, background: list[SampleData]) -> Threshold:
    values = np.concatenate([np.where(s.pre[p.name], s.value[p.name], np.nan) for s in background])
    r_hz = np.concatenate([s.rate_hz for s in background])
    return solve_threshold(values, r_hz, p.target_rate_hz)


def second_pass(menu: Menu, data: dict[str, SampleData], seed: int = 0) -> dict[str, PathResult]:
    """Seeds, thresholds and prescales (counters from :func:`prescale_phase` of ``seed``)
    in seed order; per path rates and efficiencies."""
    background = [s for s in data.values() if s.sample.role == "background"]
    results: dict[str, PathResult] = {}
    for p in menu.ordered():
        res = PathResult(p)
        for s in data.values():
            seeded = np.ones(s.n, bool)
            if p.seeds:
                seeded = np.logical_or.reduce([s.decision[x] for x in p.seeds])
            s.pre[p.name] = seeded & s.cut[p.name]
        if p.has_threshold:
            if p.target_rate_hz is not None:
                if not background:
                    raise ConfigError(
                        f"{p.name}: target_rate_hz needs a background sample (not --signal)"
                    )
                res.solved = _solve(p, background)
                res.threshold = res.solved.value
            else:
                res.threshold = p.threshold
        for s in data.values():
            raw = s.pre[p.name]
            if p.has_threshold:
                with np.errstate(invalid="ignore"):
                    raw = raw & (s.value[p.name] > res.threshold)
            phase = prescale_phase(seed, p.name, s.sample.name, p.prescale)
            s.decision[p.name] = _prescaled(raw, p.prescale, phase)
        results[p.name] = res
    for level in ("L1", "HLT"):
        names = [p.name for p in menu.level(level)]
        for name in names:
            res = results[name]
            dec = [(s, s.decision[name]) for s in background]
            if dec:
                res.rate_hz, res.rate_err_hz = _sum_rate(dec)
                others = [n for n in names if n != name]
                uniq = [
                    (s, d & ~np.logical_or.reduce([s.decision[o] for o in others]))
                    if others
                    else (s, d)
                    for s, d in dec
                ]
                res.unique_rate_hz = _sum_rate(uniq)[0]
            for s in data.values():
                res.efficiency[s.sample.name] = efficiency(s.decision[name], s.efficiency_weights)
    return results


def _sum_rate(pairs) -> tuple[float, float]:
    r, e2 = 0.0, 0.0
    for s, d in pairs:
        a, b = rate(d, s.rate_hz)
        r += a
        e2 += b * b
    return r, float(np.sqrt(e2))


def _totals(menu: Menu, data: dict[str, SampleData]) -> dict[str, tuple[float, float]]:
    out = {}
    background = [s for s in data.values() if s.sample.role == "background"]
    for level in ("L1", "HLT"):
        names = [p.name for p in menu.level(level)]
        if not names or not background:
            continue
        out[level] = _sum_rate(
            [(s, np.logical_or.reduce([s.decision[n] for n in names])) for s in background]
        )
    return out


def _overlap(names: list[str], data: dict[str, SampleData]) -> np.ndarray:
    m = np.zeros((len(names), len(names)))
    for s in data.values():
        if s.sample.role != "background" or not names:
            continue
        d = np.stack([s.decision[n] for n in names]).astype(np.float64)
        m += (d * s.rate_hz) @ d.T
    return m


def efficiency_at_rate(
    p: TriggerPath, data: dict[str, SampleData], target_hz: float
) -> tuple[Threshold, dict[str, tuple[float, float, float]]]:
    """Solve ``p``'s threshold for ``target_hz`` (ignoring its own threshold and
    prescale) and give its efficiency on every sample there."""
    background = [s for s in data.values() if s.sample.role == "background"]
    th = solve_threshold(
        np.concatenate([np.where(s.pre[p.name], s.value[p.name], np.nan) for s in background]),
        np.concatenate([s.rate_hz for s in background]),
        target_hz,
    )
    effs = {}
    for s in data.values():
        with np.errstate(invalid="ignore"):
            passed = s.pre[p.name] & (s.value[p.name] > th.value)
        effs[s.sample.name] = efficiency(passed, s.efficiency_weights)
    return th, effs


def _comparisons(
    menu: Menu, data: dict[str, SampleData], results: dict[str, PathResult]
) -> list[dict]:
    out = []
    signals = [s for s in data.values() if s.sample.role == "signal"]
    for p in menu.paths.values():
        if not p.compare_with or not signals:
            continue
        at = results[p.name].rate_hz
        for sig in signals:
            mine = results[p.name].efficiency[sig.sample.name]
            rows = []
            for other in p.compare_with:
                q = menu.paths[other]
                if q.has_threshold:
                    th, effs = efficiency_at_rate(q, data, at)
                    rows.append({"path": other, "threshold": th.value, "rate_hz": th.rate_hz,
                                 "efficiency": effs[sig.sample.name][0],
                                 "interval": effs[sig.sample.name][1:]})  # fmt: skip
                else:
                    rows.append({"path": other, "threshold": None,
                                 "rate_hz": results[other].rate_hz,
                                 "efficiency": results[other].efficiency[sig.sample.name][0],
                                 "interval": results[other].efficiency[sig.sample.name][1:]})  # fmt: skip
            best = max(rows, key=lambda r: r["efficiency"])
            out.append({"path": p.name, "signal": sig.sample.name, "rate_hz": at,
                        "efficiency": mine[0], "interval": mine[1:], "against": rows,
                        "best": best["path"], "ratio": _ratio(mine[0], best["efficiency"]),
                        "scan": _rate_scan(p, menu, data, sig.sample.name)})  # fmt: skip
    return out


def _rate_scan(p: TriggerPath, menu: Menu, data: dict[str, SampleData], signal: str) -> list[dict]:
    """``p`` and each of its ``compare_with`` paths with thresholds solved for each of
    ``p.compare_rates_hz``: efficiencies on ``signal`` and the ratio to the best."""
    scan = []
    for target in p.compare_rates_hz:
        th, effs = efficiency_at_rate(p, data, target)
        against = {}
        for other in p.compare_with:
            th_o, effs_o = efficiency_at_rate(menu.paths[other], data, target)
            against[other] = {"efficiency": effs_o[signal][0], "rate_hz": th_o.rate_hz,
                              "threshold": th_o.value, "reached": th_o.reached}  # fmt: skip
        best = max(against, key=lambda k: against[k]["efficiency"])
        e_best = against[best]["efficiency"]
        scan.append({"target_hz": target, "threshold": th.value, "rate_hz": th.rate_hz,
                     "reached": th.reached, "efficiency": effs[signal][0],
                     "interval": effs[signal][1:], "against": against, "best": best,
                     "ratio": _ratio(effs[signal][0], e_best)})  # fmt: skip
    return scan


def _ratio(mine: float, best: float) -> float:
    """``mine / best``; x / 0 is infinite when this path keeps signal and undefined
    (NaN) when neither does."""
    if best > 0:
        return mine / best
    return float("inf") if mine > 0 else float("nan")


def efficiency_vs_rate(
    result: EmulationResult | dict[str, SampleData], name: str, signal: str
) -> tuple[np.ndarray, np.ndarray]:
    """Every threshold of path ``name`` at once: ``(background rate in Hz, efficiency on
    signal)``, seeds and cut applied, without prescale — the curve a trigger's
    "ROC" is drawn from (thresholds from the tightest, so rates ascending)."""
    data = result.samples if isinstance(result, EmulationResult) else result
    bg = [s for s in data.values() if s.sample.role == "background"]
    values = np.concatenate([np.where(s.pre[name], s.value[name], np.nan) for s in bg])
    thr, rate, _ = rate_curve(values, np.concatenate([s.rate_hz for s in bg]))
    sig = data[signal]
    v = np.where(sig.pre[name], sig.value[name], np.nan)
    ok = can_pass(v)
    order = np.argsort(-v[ok], kind="stable")
    w = sig.efficiency_weights
    vs, ws = v[ok][order], w[ok][order]
    cum = np.concatenate([[0.0], np.cumsum(ws)])
    total = w.sum()
    above = np.searchsorted(-vs, -thr, side="left")  # signal events strictly above each threshold
    eff = cum[above] / total if total > 0 else np.zeros(len(thr))
    return rate, eff


def _model_notes(menu: Menu, scorers: dict) -> list[str]:
    """A jet tagger applied to fat jets made otherwise than its training jets (smeared
    or not, another radius or algorithm) gives scores off its training distribution."""
    from hepml.trigger.ml import MLScorer, training_reconstruction

    notes = []
    for name, sc in scorers.items():
        if not isinstance(sc, MLScorer):
            continue
        reco = training_reconstruction(sc.ckpt)
        seen = {"smear": menu.objects.smear, "radius": menu.objects.fatjet_radius,
                "algorithm": "antikt"}  # fmt: skip
        for key, here in seen.items():
            if key in reco and reco[key] != here:
                notes.append(
                    f"{name}: its model was trained on jets with {key} = {reco[key]!r}, the "
                    f"menu's fat jets have {key} = {here!r}: its scores (and the threshold for "
                    f"a rate) are not those of its training; set objects.{_OBJECT_KEY[key]} "
                    "alike, or train on such jets"
                )
    return notes


_OBJECT_KEY = {"smear": "smear", "radius": "fatjet_radius", "algorithm": "(anti-kt only)"}


def emulate(
    menu: Menu,
    samples: Sequence[Sample],
    *,
    seed: int = 0,
    step_size: int | str = 2000,
    max_events: int | None = None,
    progress: Callable | None = None,
    skip_bad_files: bool = False,
) -> EmulationResult:
    """Emulate ``menu`` on ``samples`` (see the module docstring).

    ``progress(description, total)`` is a context manager yielding ``advance(n)``
    (as :meth:`hepml.cli.ui.UI.progress`); one bar per sample. ``skip_bad_files``
    goes on past files that cannot be read; each sample's ``skipped`` and
    ``notes`` say which and what that did to its rates.
    """
    t0 = time.perf_counter()
    if not samples:
        raise ConfigError("give at least one --sample NAME=FILES")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise ConfigError(f"--seed must be an integer between 0 and 2**32 - 1, got {seed!r}")
    names = [s.name for s in samples]
    if len(set(names)) != len(names):
        raise ConfigError(f"sample names must be unique, got {names}")
    if menu.input_rate_hz is not None and sum(s.role == "background" for s in samples) > 1:
        raise ConfigError(
            f"{menu.source}: input_rate_hz describes one data stream; give one background "
            "sample (mark the others --signal) or use luminosity with cross-sections"
        )
    solved = [p.name for p in menu.paths.values() if p.target_rate_hz is not None]
    if solved and not any(s.role == "background" for s in samples):  # (before any reading)
        raise ConfigError(
            f"{solved[0]}: target_rate_hz needs a background sample (not --signal) to solve "
            "its threshold on"
        )
    _check_cross_sections(menu, samples, skip_bad_files)
    scorers = _scorers(menu)
    data = {}
    for s in samples:
        bar = (
            progress(f"trigger {s.name}", count_events(s, max_events))
            if progress
            else nullcontext()
        )
        with bar as adv:
            data[s.name] = first_pass(
                menu, s, seed=seed, scorers=scorers, step_size=step_size, max_events=max_events,
                progress=adv, skip_bad_files=skip_bad_files,
            )  # fmt: skip
    results = second_pass(menu, data, seed)
    for name, sc in scorers.items():
        results[name].backend = sc.backend
    notes = _model_notes(menu, scorers)
    hlt = [p.name for p in menu.level("HLT")]
    return EmulationResult(
        menu=menu,
        samples=data,
        paths=results,
        total_rate_hz=_totals(menu, data),
        overlap_hz=_overlap(hlt, data),
        hlt_names=hlt,
        comparisons=_comparisons(menu, data, results),
        seed=seed,
        mode="input rate" if menu.input_rate_hz is not None else "luminosity",
        scorers=scorers,
        seconds=time.perf_counter() - t0,
        notes=notes,
    )


def _check_cross_sections(menu: Menu, samples: Sequence[Sample], skip_bad_files: bool) -> None:
    """Refuse a background sample whose files hold no cross-section before any event is
    read (rates from luminosity); a file that cannot be opened is left to the first pass,
    which names it (or skips it with ``skip_bad_files``)."""
    if menu.input_rate_hz is not None or skip_bad_files:
        return
    from hepml.io.reader import open_root
    from hepml.io.runinfo import require_runinfo

    for s in samples:
        if s.role != "background":
            continue
        _check_rate_menu(menu)
        for path in expand_paths(s.files):
            try:
                f = open_root(path)
            except InputError:
                continue
            try:
                require_runinfo(f, path)
            except InputError as err:
                raise _no_cross_section(s.name, err) from None


def count_events(sample: Sample, max_events: int | None) -> int | None:
    """Events a pass over ``sample`` will read (for progress bars); None if unknown."""
    from hepml.io.reader import open_root

    try:
        n = 0
        for p in sample.files:
            f = open_root(p)
            trees = [k for k, c in f.classnames().items() if c in ("TTree", "ROOT::RNTuple")]
            n += max(f[t].num_entries for t in trees) if trees else 0
        return min(n, max_events) if max_events else n
    except Exception:
        return None
