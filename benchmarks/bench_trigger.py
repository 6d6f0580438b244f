"""Trigger emulation speed: cut paths on pre-read objects, and ML-path latency at batch 1.

1. **Cut paths** — the expressions of a menu evaluated by hepml's grammar
   (:mod:`hepml.trigger.expr`, awkward + the trigger-primitive kernels) against the
   same cuts written by hand in awkward/numpy, on the same pre-read objects: the
   jets, muons and MET of the real CMS NanoAOD file in ``../shared/data`` repeated
   to ``--events`` events (projected to the fields the cuts use). One thread
   (Numba and BLAS), so the figure is per core. Decisions are checked equal first.
2. **ML path latency** — one jet of ``--particles`` particles at batch size 1,
   ``--calls`` times: hepml's ML-path inference (:class:`hepml.trigger.ml.MLScorer`:
   padding and the ONNX Runtime session, or TorchScript) against plain ONNX Runtime
   ``session.run`` on the same exported model with inputs already padded. The model
   is ``--model`` (a hepml checkpoint) or a ParticleNet-Lite with random weights
   (latency does not depend on the weights). The building of the jet's inputs from
   particles is timed apart (it is not part of the model call).
3. **Menu latency, one thread against all** (with ``--menu-sample FILE``) — the
   built-in ``demo`` menu timed event by event by
   :func:`hepml.trigger.latency.measure_latency` (which runs Numba's kernels on one
   thread) and by the same loop with Numba's full thread pool, alternating, twice.
   ``--model`` scores the menu's jet ML paths. Run it once on an idle machine and
   once with a core busy.

Run::

    python benchmarks/bench_trigger.py [--events 1000000] [--model runs/pn/best.pt]
    python benchmarks/bench_trigger.py --events 0 --menu-sample demo/events/qcd_biased.root \
        --model demo/models/particlenet-lite/best.pt

It prints markdown tables for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import awkward as ak
import numba
import numpy as np
import torch
from _needs import need

from hepml.io import read_events
from hepml.trigger.expr import compile_expression

NANO = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
)

#: (hepml expression, the same cut by hand)
CUTS = {
    "ht(jets[(jets.pt > 30) & (abs(jets.eta) < 2.5)]) > 350": lambda o: ak.to_numpy(
        ak.sum(o.jets.pt[(o.jets.pt > 30) & (abs(o.jets.eta) < 2.5)], axis=1)) > 350,
    "jets.pt[0] > 60": lambda o: ak.to_numpy(
        ak.fill_none(ak.firsts(o.jets.pt), np.nan)) > 60,
    "any((muons.pt > 24) & (muons.iso < 0.15))": lambda o: ak.to_numpy(
        ak.any((o.muons.pt > 24) & (o.muons.iso < 0.15), axis=1)),
    "met.pt > 50": lambda o: ak.to_numpy(o.met.pt) > 50,
    "count(jets[jets.pt > 30]) >= 4": lambda o: ak.to_numpy(
        ak.num(o.jets[o.jets.pt > 30], axis=1)) >= 4,
    "fatjets.pt[0] > 200 and fatjets.mass[0] > 30": lambda o: (
        ak.to_numpy(ak.fill_none(ak.firsts(o.fatjets.pt), np.nan)) > 200)
        & (ak.to_numpy(ak.fill_none(ak.firsts(o.fatjets.mass), np.nan)) > 30),
}  # fmt: skip


def objects(n_events: int) -> ak.Array:
    ev = read_events(NANO)
    keep = {
        "jets": ev.jets[["pt", "eta", "phi", "mass"]],
        "fatjets": ev.fatjets[["pt", "eta", "phi", "mass"]],
        "muons": ev.muons[["pt", "eta", "phi", "mass", "iso"]],
        "met": ev.met[["pt", "phi"]],
    }
    small = ak.zip(keep, depth_limit=1)
    reps = -(-n_events // len(small))
    big = ak.concatenate([small] * reps)[:n_events]
    return ak.to_packed(big)


def best_of(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_cuts(n_events: int, repeat: int) -> list[tuple]:
    objs = objects(n_events)
    rows = []
    total_h = total_r = 0.0
    for text, by_hand in CUTS.items():
        expr = compile_expression(text)
        np.testing.assert_array_equal(expr(objs), by_hand(objs))
        th = best_of(lambda expr=expr: expr(objs), repeat)
        tr = best_of(lambda by_hand=by_hand: by_hand(objs), repeat)
        total_h += th
        total_r += tr
        rows.append((text, n_events / th, n_events / tr, tr / th))
    rows.append(("all six cuts, one after the other", n_events / total_h, n_events / total_r,
                 total_r / total_h))  # fmt: skip
    return rows


def random_checkpoint() -> dict:
    from hepml.kernels.features import FEATURE_NAMES
    from hepml.models import build

    model = build("particlenet-lite")
    f = len(FEATURE_NAMES)
    return {"format": "hepml-checkpoint", "kind": "torch", "model_name": "particlenet-lite",
            "model_config": {}, "model_state": model.state_dict(), "features": list(FEATURE_NAMES),
            "standardizer": {"mean": [0.0] * f, "std": [1.0] * f}, "config": {}}  # fmt: skip


def percentiles(fns: list, calls: int) -> list[tuple[float, float]]:
    """p50 and p99 in ms of each of ``fns``, timed in turns (call i of each, then call
    i + 1), so that a slow spell of a shared machine falls on all of them alike."""
    for _ in range(20):
        for fn in fns:
            fn()
    t = np.empty((len(fns), calls))
    for i in range(calls):
        for j, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            t[j, i] = time.perf_counter() - t0
    return [(float(np.percentile(r, 50) * 1e3), float(np.percentile(r, 99) * 1e3)) for r in t]


def bench_ml(model: str | None, particles: int, calls: int) -> list[tuple]:
    import tempfile

    ort = need("onnxruntime", "onnx", "the plain ONNX Runtime reference of this benchmark")

    from hepml.train.checkpoint import load_checkpoint
    from hepml.train.export import export_checkpoint
    from hepml.trigger.ml import MLScorer

    ckpt = load_checkpoint(model) if model else random_checkpoint()
    with tempfile.TemporaryDirectory() as tmp:
        if model is None:
            path = os.path.join(tmp, "random.pt")
            torch.save(ckpt, path)
            from hepml.train.checkpoint import FORMAT

            ckpt["format"] = FORMAT
            ckpt["version"] = 1
            torch.save(ckpt, path)
            model = path
        rows = []
        scorers = {b: MLScorer(model, backend=b) for b in ("onnx", "torchscript")}
        onnx_path = os.path.join(tmp, "m.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_checkpoint(ckpt, onnx_path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        f = len(ckpt["features"])
        x = rng.normal(size=(particles, f)).astype(np.float32)
        pos = rng.normal(scale=0.3, size=(particles, 2)).astype(np.float32)
        tx, tp = torch.from_numpy(x), torch.from_numpy(pos)
        batch = torch.zeros(particles, dtype=torch.long)
        feed = {"x": x[None], "pos": pos[None], "mask": np.ones((1, particles), bool)}
        feed = {k: v for k, v in feed.items() if k in {i.name for i in sess.get_inputs()}}
        want = sess.run(None, feed)[0][:, -1]
        for sc in scorers.values():
            np.testing.assert_allclose(sc._run(tx, tp, batch), want, atol=1e-4)
        fns = [lambda: sess.run(None, feed)]
        fns += [lambda sc=sc: sc._run(tx, tp, batch) for sc in scorers.values()]
        ref, *mine = percentiles(fns, calls)
        rows.append(("plain ONNX Runtime session.run (inputs padded)", *ref, 1.0))
        for name, p in zip(scorers, mine, strict=True):
            rows.append((f"hepml ML path, {name}", *p, p[1] / ref[1]))
        auto = MLScorer(model)
        rows.append((f"(auto choice: {auto.backend})", float("nan"), float("nan"), float("nan")))
    return rows


def bench_menu_latency(sample: str, model: str | None, events: int) -> list[tuple]:
    """``(threads, objects p50, p99, menu p50, p99)`` per run, in ms."""
    import contextlib

    import hepml.trigger.latency as L
    from hepml.trigger import Sample, load_menu
    from hepml.trigger.emulate import _scorers

    menu = load_menu("demo")
    if model:
        for p in menu.ml_paths:
            if p.object != "event":
                p.model = model
    scorers = _scorers(menu)
    one_thread = L._one_thread
    rows = []
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    try:
        for _ in range(2):
            for label, block in (("all", contextlib.nullcontext), ("one", one_thread)):
                L._one_thread = block
                lat = L.measure_latency(menu, Sample("qcd", [sample]), events=events,
                                        scorers=scorers)  # fmt: skip
                o, t = lat[L.OBJECTS], lat[L.TOTAL]
                rows.append((label, o.p50_ms, o.p99_ms, t.p50_ms, t.p99_ms))
    finally:
        L._one_thread = one_thread
        numba.set_num_threads(1)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", default=None, help="a hepml checkpoint (default: random weights)")
    ap.add_argument("--particles", type=int, default=60)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--menu-sample", default=None,
                    help="a hepml events file: time the demo menu event by event on it")  # fmt: skip
    ap.add_argument("--menu-events", type=int, default=100)
    args = ap.parse_args()
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"one thread (numba {numba.__version__}, torch {torch.__version__})\n")  # fmt: skip
    if args.events <= 0:
        print("skipping the cut paths (--events 0)")
    elif NANO.exists():
        rows = bench_cuts(args.events, args.repeat)
        print(f"cut paths on {args.events:,} pre-read NanoAOD events (one core)\n")
        print("| cut | hepml events/s | by-hand awkward events/s | hepml / by hand |")
        print("|---|---:|---:|---:|")
        for text, h, r, ratio in rows:
            print(f"| `{text}` | {h / 1e6:.2f} M | {r / 1e6:.2f} M | {ratio:.2f}× |")
    else:
        print(f"skipping the cut paths: {NANO} not found")
    rows = bench_ml(args.model, args.particles, args.calls)
    print(f"\nML path at batch size 1: one jet of {args.particles} particles, {args.calls} calls\n")
    print("| inference | p50 [ms] | p99 [ms] | p99 / plain ORT |")
    print("|---|---:|---:|---:|")
    for name, p50, p99, ratio in rows:
        if np.isnan(p50):
            print(f"| {name} | | | |")
        else:
            print(f"| {name} | {p50:.3f} | {p99:.3f} | {ratio:.2f}× |")
    if args.menu_sample:
        rows = bench_menu_latency(args.menu_sample, args.model, args.menu_events)
        print(f"\ndemo menu event by event on {args.menu_events} events of {args.menu_sample}\n")
        print("| Numba threads | objects p50 / p99 [ms] | menu p50 / p99 [ms] |")
        print("|---|---:|---:|")
        for label, o50, o99, t50, t99 in rows:
            n = 1 if label == "one" else numba.config.NUMBA_NUM_THREADS
            print(f"| {n} | {o50:.2f} / {o99:.2f} | {t50:.2f} / {t99:.2f} |")


if __name__ == "__main__":
    main()
