"""Distributed inference: a pool of Ray actors scores jet (or event) rows, file by file.

Each actor loads the model once (``num_gpus`` each when asked) and scores whole
work units — one input file, or an entry range of it — returning the scores with
the rows' keys (``file_index``, ``entry``, ``run``, ``event``, ``jet_index``). The
driver writes one output per input file, ``OUT/<input stem>.scores.parquet``,
atomically, once all of that file's units are back.

**Exactly once.** A unit is written only from the result of the one task that
completed it; when an actor dies mid-unit (node lost, process killed), its unit
is resubmitted to a fresh actor and the lost attempt leaves nothing behind. The
summary accounts for every row: rows in = scores out. A file that is not rows of
``hepml reconstruct`` is refused before any actor starts; an error inside an actor
(a bad file part-way) stops the run with that error's one line.

Work goes only to actors that have answered (loaded their model): with more actors
than the cluster can place, the others wait unused instead of holding units.

Example::

    summary = predict("pn/best.pt", ["top.parquet", "qcd.parquet"], "scores/", num_actors=2)
    print(summary)   # rows in, scores out, rejected, files, restarts
"""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from hepml.errors import ConfigError, HepmlError, InputError

#: a unit whose actor dies under it this many times is an error, not retried forever
MAX_LOST_ATTEMPTS = 3
#: how long the pool may go without any working actor before the run gives up [s]
RESTART_TIMEOUT = 300.0

__all__ = ["PredictSummary", "predict"]

KEYS = ("file_index", "entry", "run", "event", "jet_index", "label", "weight")


@dataclass
class PredictSummary:
    """Accounting of a distributed prediction run."""

    rows_in: int = 0
    scores_out: int = 0
    rejected: Counter = field(default_factory=Counter)
    outputs: list[str] = field(default_factory=list)
    restarts: int = 0
    seconds: float = 0.0
    #: from asking for the actors until the last one had loaded its model, and from the
    #: first one's model loaded until the end: ``rows_in / scoring_seconds`` is the
    #: pool's rate without start-up. An actor's load time comes from its ``ready`` answer
    #: or, when that answer was lost with the actor (killed before it could send it),
    #: from the first unit it delivered, i.e. from its restart, which start-up then
    #: includes; an actor with neither is left out; None when no actor's time is known
    startup_seconds: float | None = None
    scoring_seconds: float | None = None

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.scores_out + sum(self.rejected.values())

    def __str__(self) -> str:
        lines = [f"rows in: {self.rows_in}, scores out: {self.scores_out}, "
                 f"actor restarts: {self.restarts}"]  # fmt: skip
        if self.seconds:
            ready = (f" (actors ready after {self.startup_seconds:.1f} s)"
                     if self.startup_seconds is not None else "")  # fmt: skip
            lines.append(f"  {self.seconds:.1f} s{ready}")
        lines += [f"  rejected ({reason}): {n}" for reason, n in sorted(self.rejected.items())]
        return "\n".join(lines)


class _Scorer:
    """Ray actor body: the model, loaded once, scoring units."""

    def __init__(self, model_path: str, device: str, batch_size: int) -> None:
        from hepml.train.checkpoint import load_checkpoint, model_from_checkpoint
        from hepml.train.loop import resolve_device

        self.ckpt = load_checkpoint(model_path)
        self.device = resolve_device(device)
        self.model = model_from_checkpoint(self.ckpt, self.device)
        self.batch_size = batch_size
        self.loaded_at = time.time()

    def pid(self) -> int:
        return os.getpid()

    def ready(self) -> float:
        """The wall-clock time at which this actor had loaded the model."""
        return self.loaded_at

    def score(self, path: str, start: int, stop: int, delay: float = 0.0) -> tuple[dict, float]:
        """The unit's columns with their scores, and this actor's load time."""
        from hepml.graphs.jets import read_rows
        from hepml.train.predict import predict_rows

        try:
            rows = read_rows(path, entry_start=start, entry_stop=stop)
        except HepmlError:
            raise
        except Exception as err:  # (a damaged page: the driver's check read only metadata)
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise InputError(
                f"{path} entries {start}-{stop}: cannot be read ({type(err).__name__}: "
                f"{first}); the file may be damaged: write it again"
            ) from None
        if delay < 0:
            os._exit(17)  # tests: an actor that dies on every unit
        if delay:
            time.sleep(delay)  # tests: keep the unit in flight long enough to be killed
        score = predict_rows(self.ckpt, rows, str(self.device), self.batch_size, self.model)
        out = {k: ak.to_numpy(rows[k]) for k in KEYS if k in rows.fields}
        out["score"] = np.asarray(score)
        return out, self.loaded_at


def _units(paths: Sequence[str], rows_per_unit: int, summary: PredictSummary) -> list[tuple]:
    from hepml.graphs.jets import parquet_row_groups, read_columns, row_kind

    units = []
    for i, path in enumerate(paths):
        n = len(read_columns(path, ["entry"]))  # a bad file fails here, before any actor
        row_kind(path)  # (not rows of hepml reconstruct: one line, before any actor)
        summary.rows_in += n
        # parquet: units inside row groups, so that each reads only its own group
        bounds = [0, n] if path.lower().endswith(".root") else parquet_row_groups(path)
        for a, b in itertools.pairwise(bounds):
            units += [
                (i, path, lo, min(lo + rows_per_unit, b)) for lo in range(a, b, rows_per_unit)
            ]
        if n == 0:
            units.append((i, path, 0, 0))
    return units


def predict(
    model: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    *,
    num_actors: int = 2,
    num_gpus_per_actor: float = 0.0,
    batch_size: int = 1024,
    rows_per_unit: int = 20000,
    address: str | None = None,
    unit_timeout: float | None = None,
    progress: Callable[[int], None] | None = None,
    _delay: float = 0.0,
) -> PredictSummary:
    """Score every row of ``inputs`` with ``model`` on ``num_actors`` Ray actors; write
    ``output_dir/<stem>.scores.parquet`` per input. See the module docstring.

    ``unit_timeout`` [s]: an actor that has not answered a unit after this long (hung on
    a stuck file system, a deadlock) is killed and restarted, and the unit is run again;
    it counts as a lost attempt (:data:`MAX_LOST_ATTEMPTS`). None (default): no deadline;
    give a few times the time one unit takes (``rows_per_unit`` rows)."""
    from hepml.distributed.train import connect
    from hepml.io.write import check_folder, prepare_folder, write_parquet
    from hepml.train.checkpoint import load_checkpoint

    load_checkpoint(model)  # a clear error before any actor starts
    if num_actors < 1:
        raise ConfigError(f"--num-actors must be >= 1, got {num_actors}")
    if isinstance(rows_per_unit, bool) or not isinstance(rows_per_unit, int) or rows_per_unit < 1:
        raise ConfigError(f"--rows-per-unit must be a whole number >= 1, got {rows_per_unit!r}")
    if unit_timeout is not None and not unit_timeout > 0:
        raise ConfigError(f"--unit-timeout must be > 0 seconds, got {unit_timeout}")
    # actors may run in another working folder: paths that exist here are made absolute
    paths = [os.path.abspath(p) if os.path.exists(p) else os.fspath(p) for p in inputs]
    model = os.path.abspath(model) if os.path.exists(model) else model
    stems = output_stems(paths)
    check_folder(output_dir, "-o")  # (made once the cluster answers)
    summary = PredictSummary()
    t0 = time.perf_counter()
    units = _units(paths, rows_per_unit, summary)
    ray = connect(address, purpose="distributed inference")
    prepare_folder(output_dir, [f"{s}.scores.parquet" for s in stems], paths, flag="-o")
    if num_gpus_per_actor and ray.cluster_resources().get("GPU", 0) < num_gpus_per_actor:
        raise ConfigError("--num-gpus-per-actor asks for GPUs the Ray cluster does not have")
    device = "cuda" if num_gpus_per_actor else "cpu"
    Actor = ray.remote(num_cpus=1, num_gpus=num_gpus_per_actor, max_restarts=-1)(_Scorer)
    asked = time.time()
    actors = [Actor.remote(os.fspath(model), device, batch_size) for _ in range(num_actors)]
    # each file is written (and its scores freed) as soon as its last unit is back:
    # a later file's error leaves the finished ones written
    left = Counter(f for f, *_ in units)
    results: dict[int, dict] = {}
    written: dict[int, str] = {}

    def unit_done(u: int, res: dict) -> None:
        i = units[u][0]
        results[u] = res
        left[i] -= 1
        if left[i]:
            return
        mine = [results.pop(v) for v in range(len(units)) if units[v][0] == i and v in results]
        cols = {k: np.concatenate([r[k] for r in mine]) for k in mine[0]}
        cols["input"] = np.full(len(cols["score"]), i, dtype=np.int64)  # (as hepml predict)
        out = os.path.join(os.fspath(output_dir), f"{stems[i]}.scores.parquet")
        write_parquet(out, cols)
        written[i] = out
        summary.outputs = [written[j] for j in sorted(written)]
        summary.scores_out += len(cols.get("score", ()))

    try:
        loaded = _run_units(ray, actors, units, summary, progress, _delay, unit_timeout, unit_done)
        if loaded:
            summary.startup_seconds = max(loaded.values()) - asked
            summary.scoring_seconds = time.time() - min(loaded.values())
    finally:
        for a in actors:
            ray.kill(a)
    summary.seconds = time.perf_counter() - t0
    if not summary.balanced:
        raise InputError(f"internal accounting error: {summary}")
    return summary


def _run_units(
    ray, actors, units, summary, progress, delay, unit_timeout=None, done_unit=None
) -> dict:
    """Run every unit once on the actors, handing each result to ``done_unit(unit,
    result)``; returns each actor's model load time.

    An actor gets work once it has answered ``ready`` (its model loaded). One that dies
    under a unit is probed (``pid``) until its restart answers, and only then given
    work again: a task sent while Ray still thinks the old process alive fails at
    once, so counting those would blame the unit for one death several times. A unit
    that loses :data:`MAX_LOST_ATTEMPTS` attempts (an actor dead under it, or killed
    for not answering within ``unit_timeout``), an actor whose model fails to load,
    or a pool where no actor has worked for :data:`RESTART_TIMEOUT` (none started, or
    the dead never came back) is an error; one actor staying down while the others
    work is not."""
    from hepml.distributed.train import _user_error

    lost_errors = (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError)
    # object ref -> (unit id, or None for a ping, actor number); actor tasks run in the
    # order sent, so each actor's `ready` answers once its model is loaded
    in_flight: dict = {a.ready.remote(): (None, i) for i, a in enumerate(actors)}
    pending = list(range(len(units)))
    loaded: dict[int, float] = {}  # actor number -> when it had loaded its model
    idle: list[int] = []
    lost: dict[int, int] = {}  # unit -> attempts lost with their actor

    progressed = time.monotonic()  # the last answer from a live actor
    sent: dict = {}  # object ref of a unit -> when it was sent

    def lose(u: int, how: str) -> None:
        """An attempt at unit ``u`` lost (it wrote nothing): run it again, or give up."""
        summary.restarts += 1
        lost[u] = lost.get(u, 0) + 1
        if lost[u] >= MAX_LOST_ATTEMPTS:
            raise HepmlError(
                f"{_unit_name(units[u])}: {how}, {lost[u]} times (out of memory? a broken "
                "file? a stuck file system?); score that file alone, or with smaller units, "
                "to see why"
            ) from None
        pending.insert(0, u)

    def stalled() -> HepmlError:
        return HepmlError(
            f"no Ray actor could take work for {RESTART_TIMEOUT:.0f} s (none started, or "
            f"the dead ones never came back); is the cluster short of CPUs or memory for "
            f"{len(actors)} actor(s) of 1 CPU (cluster: {ray.cluster_resources()})?"
        )

    while pending or any(u is not None for u, _ in in_flight.values()):
        while pending and idle:
            u = pending.pop(0)
            actor = idle.pop(0)
            _, path, lo, hi = units[u]
            ref = actors[actor].score.remote(path, lo, hi, delay)
            in_flight[ref] = (u, actor)
            sent[ref] = time.monotonic()
        wait = 10.0
        if unit_timeout is not None and sent:
            wait = max(0.0, min(wait, min(sent.values()) + unit_timeout - time.monotonic()))
        done, _ = ray.wait(list(in_flight), num_returns=1, timeout=wait)
        now = time.monotonic()
        if unit_timeout is not None:
            for ref in [r for r, t in sent.items() if now - t >= unit_timeout and r not in done]:
                u, actor = in_flight.pop(ref)
                del sent[ref]
                ray.kill(actors[actor], no_restart=False)  # hung: restart it (max_restarts)
                lose(u, f"no answer within --unit-timeout {unit_timeout:g} s")
                in_flight[actors[actor].pid.remote()] = (None, actor)
        if not done:  # (nothing back for a while: is any actor working or able to?)
            busy = any(u is not None for u, _ in in_flight.values())
            if not busy and now - progressed > RESTART_TIMEOUT:
                raise stalled()
            continue
        ref = done[0]
        u, actor = in_flight.pop(ref)
        sent.pop(ref, None)
        try:
            answer = ray.get(ref)
        except lost_errors as err:
            if getattr(err, "actor_init_failed", False):  # its model did not load: final
                cause = _user_error(err)
                first = str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
                raise cause or HepmlError(
                    f"a Ray actor failed to load the model: {first}"
                ) from None
            if u is not None:
                lose(u, "the actor scoring them died")
            else:
                if now - progressed > RESTART_TIMEOUT:  # (crash-looping: never back for good)
                    raise stalled() from None
                time.sleep(0.05)  # still restarting: ask again shortly
            in_flight[actors[actor].pid.remote()] = (None, actor)  # max_restarts: it comes back
            continue
        except ray.exceptions.RayTaskError as err:  # a hepml error inside: its one line
            raise (_user_error(err) or err) from None
        progressed = now
        idle.append(actor)
        if u is None:  # a ping answered: the actor is (back) up
            if isinstance(answer, float):  # (`ready`: its model's load time)
                loaded.setdefault(actor, answer)
            continue
        res, loaded_at = answer
        loaded.setdefault(actor, loaded_at)
        if done_unit is not None:
            done_unit(u, res)
        if progress is not None:
            progress(len(res["score"]))
    return loaded


def output_stems(paths: Sequence[str]) -> list[str]:
    """The name of each input's output, ``<stem>.scores.parquet``: the file's stem, or,
    for inputs of the same name in different folders (``run1/jets.parquet``,
    ``run2/jets.parquet``), the stem with as many of its folders as tell them apart
    (``run1-jets``, ``run2-jets``); inputs that differ by their extension alone keep it
    (``jets.root``, ``jets.parquet``)."""
    full = [os.path.normpath(os.path.abspath(p)) for p in paths]
    twice = sorted({p for p in full if full.count(p) > 1})
    if twice:
        raise ConfigError(f"inputs name {twice[0]} twice; give each file once")
    for keep_ext in (False, True):
        names = _distinct_names([p.split(os.sep) for p in full], keep_ext)
        if len(set(names)) == len(names):
            return names
    clash = sorted({n for n in names if names.count(n) > 1})
    raise ConfigError(
        f"inputs {[p for p, n in zip(paths, names, strict=True) if n in clash]} would write "
        f"the same output ({clash[0]}.scores.parquet); rename one of them"
    )


def _distinct_names(parts: list[list[str]], keep_ext: bool) -> list[str]:
    """Each file's name (stem, or the whole name), with as many of its folders as it
    takes to tell it from the others ("-"-joined)."""
    if not keep_ext:
        parts = [[*p[:-1], os.path.splitext(p[-1])[0]] for p in parts]
    names = [p[-1] for p in parts]
    depth = 1
    while len(set(names)) != len(names) and depth < max(len(p) for p in parts):
        depth += 1
        clash = {n for n in names if names.count(n) > 1}
        names = ["-".join(x for x in p[-depth:] if x) if n in clash else n
                 for n, p in zip(names, parts, strict=True)]  # fmt: skip
    return names


def _unit_name(unit: tuple) -> str:
    _, path, lo, hi = unit
    return f"{path} entries {lo}-{hi}"
