"""Latency of a menu: time per event of each path at batch size 1 and in batches.

Batch size 1 is how an HLT process sees events (one at a time, one per core):
every path's cut, variable and ML inference are timed on each of ``events``
events alone, with Numba's kernels on one thread, and the report gives the
median (p50) and the 99th percentile (p99). The batched
figure is the time of one chunk divided by its events (offline emulation). The
reconstruction of the objects (clustering, substructure) is timed as its own
stage. Each path is timed on every event (its cost were it to run); the menu total
of an event is the objects plus the seeds plus the HLT paths that run on it, i.e.
whose seed's cut passed (as in an HLT, a path whose seeds all failed costs
nothing; seeds' prescales and thresholds are not applied, so the total stays an
upper bound for paths seeded by a prescaled or thresholded seed). In batches the
total is the objects plus every path.

Example::

    lat = measure_latency(menu, Sample("qcd", ["qcd.root"]), events=200, budget_ms=50)
    lat["HLT_PFHT1050"].p99_ms
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from hepml.io import read_events
from hepml.trigger.emulate import Sample
from hepml.trigger.menu import Menu, TriggerPath
from hepml.trigger.objects import trigger_objects

__all__ = ["OBJECTS", "TOTAL", "Latency", "measure_latency"]

OBJECTS = "(objects)"
TOTAL = "(menu total)"


@dataclass
class Latency:
    """Milliseconds per event: p50/p99 at batch size 1, mean per event in batches."""

    name: str
    p50_ms: float
    p99_ms: float
    batched_ms: float
    over_budget: bool = False
    backend: str = ""
    #: the share of the events timed one by one on which the path runs (an HLT path:
    #: a seed's cut passed; 1 for the Level-1 seeds, the objects and the total)
    ran_fraction: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


def _path_time(p: TriggerPath, objs, scorers: dict) -> np.ndarray:
    """Run the path (its cut, then its variable or ML score where the cut passed);
    returns the cut's decisions."""
    c = p.cut(objs) if p.cut is not None else np.ones(len(objs), bool)
    if p.is_ml:
        scorers[p.name].score(objs, c)
    elif p.variable is not None:
        p.variable.values(objs)
    # the turn-on variable is an offline quantity: not part of the trigger's latency
    return np.asarray(c, bool)


def measure_latency(
    menu: Menu,
    sample: Sample,
    *,
    events: int = 200,
    batch_events: int = 2000,
    scorers: dict | None = None,
    budget_ms: float | None = None,
    warmup: int = 3,
    skip_bad_files: bool = False,
) -> dict[str, Latency]:
    """Time every path of ``menu`` on the first events of ``sample``."""
    from hepml.trigger.emulate import _scorers

    scorers = scorers if scorers is not None else _scorers(menu)
    need = menu.collections()
    ml = menu.needs_particles
    evs = read_events(
        sample.files, sample.schema, entry_stop=max(events, batch_events),
        skip_bad_files=skip_bad_files,
    )  # fmt: skip
    paths = menu.ordered()
    # batched
    t0 = time.perf_counter()
    objs = trigger_objects(evs, menu.objects, need=need, keep_particles=ml)
    t_obj = time.perf_counter() - t0
    batched = {OBJECTS: t_obj / len(evs)}
    for p in paths:
        t0 = time.perf_counter()
        _path_time(p, objs, scorers)
        batched[p.name] = (time.perf_counter() - t0) / len(evs)
    # batch size 1, on one thread: an HLT farm runs one event per core, and waking a
    # thread pool for one event costs more than the event (Numba's parallel kernels)
    n1 = min(events, len(evs))
    single = {name: np.zeros(n1) for name in batched}
    ran = {p.name: np.ones(n1, bool) for p in paths}  # whether the path runs on the event
    with _one_thread():
        _time_one_by_one(menu, evs, n1, warmup, need, ml, paths, scorers, single, ran)
    single[TOTAL] = single[OBJECTS] + np.sum([single[p.name] * ran[p.name] for p in paths], axis=0)
    batched[TOTAL] = sum(batched.values())
    out = {}
    for name, t in single.items():
        ms = t * 1e3
        p99 = float(np.percentile(ms, 99))
        out[name] = Latency(
            name=name,
            p50_ms=float(np.percentile(ms, 50)),
            p99_ms=p99,
            batched_ms=batched[name] * 1e3,
            over_budget=budget_ms is not None and p99 > budget_ms,
            backend=scorers[name].backend if name in scorers else "",
            ran_fraction=float(ran[name].mean()) if name in ran and n1 else 1.0,
        )
    return out


@contextmanager
def _one_thread():
    """Numba's parallel kernels on one thread inside the block."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _time_one_by_one(menu, evs, n1, warmup, need, ml, paths, scorers, single, ran) -> None:
    """Fill ``single[name][i]`` with each stage's seconds on event ``i`` alone, and
    ``ran[name][i]`` with whether the path runs on it (an HLT path: a seed's cut
    passed; ``paths`` come after their seeds)."""
    for i in range(-warmup, n1):
        ev = evs[max(i, 0) : max(i, 0) + 1]
        t0 = time.perf_counter()
        o = trigger_objects(ev, menu.objects, need=need, keep_particles=ml)
        t1 = time.perf_counter()
        if i >= 0:
            single[OBJECTS][i] = t1 - t0
        passed: dict[str, bool] = {}
        for p in paths:
            t0 = time.perf_counter()
            c = _path_time(p, o, scorers)
            if i >= 0:
                single[p.name][i] = time.perf_counter() - t0
                # (Level-1 seeds all run, in hardware, whatever seeds them)
                runs = p.level == "L1" or not p.seeds or any(passed.get(s, True) for s in p.seeds)
                ran[p.name][i] = runs
                passed[p.name] = runs and bool(c.all())
