"""Ray scaling on this machine: training with 1 vs 2 Ray Train workers and inference
with 1 vs 2 actors, each against the single-process loop, on the same jets.

* training — one epoch of ParticleNet-Lite (batch 256) through ``hepml.train.Trainer``
  in this process (torch threads = the machine's cores), then ``hepml.distributed.fit``
  with 1 worker (given all cores: the Ray overhead) and with N workers (cores / N each);
  with ``--cpus-per-worker C`` (a machine with ≥ N × C cores) the single process and
  every worker get C cores, which measures scaling: N workers bring N × C cores.
  Jets/s = training jets of the epoch / the slowest rank's training seconds (the
  ranks run in step: DDP all-reduces every batch);
* inference — ``hepml.train.predict_rows`` in process, then ``hepml.distributed.predict``
  with 1 and N actors (wall time including actor start-up and model loading);
* communication, **on paper**: gradient bytes all-reduced per step (fp32, one value
  per parameter) and, for a ring all-reduce, the number of workers at which its
  time would exceed the measured compute time of a step on 25 and 200 Gb/s links.

Run (the local Ray is started on 127.0.0.1 and shut down)::

    python benchmarks/bench_ray.py --data top_jets.parquet qcd_jets.parquet [--jets 6000]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
import warnings

import torch

warnings.simplefilter("ignore")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--jets", type=int, default=6000, help="jets per file (default 6000)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--inference-only",
        metavar="MODEL",
        help="skip training; time inference with this checkpoint",
    )
    p.add_argument("--cpus-per-worker", type=int, default=None,
                   help="CPUs (torch threads) per Ray Train worker; the single process and "
                        "the 1-worker run get as many. Default: the machine's cores / "
                        "--workers, with all cores for the single process and 1 worker "
                        "(the same total CPU in every row)")  # fmt: skip
    args = p.parse_args()
    machine = os.cpu_count() or 2
    if args.cpus_per_worker:  # scaling: each worker brings its own CPUs
        cores, per = args.cpus_per_worker, args.cpus_per_worker
    else:  # the same machine shared: 1 × all cores against N × cores / N
        cores, per = machine, max(1, machine // args.workers)
    torch.set_num_threads(cores)

    from hepml.distributed import connect, fit
    from hepml.train import Trainer, load_config

    tmp = tempfile.mkdtemp()

    def cfg(out):
        return load_config(overrides={
            "data": {"files": list(args.data), "max_jets": args.jets},
            "model": {"name": "particlenet-lite"}, "epochs": 1, "batch_size": 256,
            "device": "cpu", "precise_bn_batches": 0, "output": os.path.join(tmp, out)})  # fmt: skip

    if args.inference_only:
        connect(None, num_cpus=max(machine, per * args.workers))
        return inference(args, args.inference_only, tmp, cores)

    # single process
    single = Trainer(cfg("single"))
    hist = single.fit()
    n_train = single.split_sizes["train"]
    t_single = hist[0]["seconds"]
    steps = math.ceil(n_train / 256)
    n_params = sum(p.numel() for p in single.model.parameters())

    connect(None, num_cpus=max(machine, per * args.workers))
    rows_out = []
    for workers, per_worker in ((1, {"CPU": cores}), (args.workers, {"CPU": per})):  # fmt: skip
        h = fit(cfg(f"ray{workers}"), num_workers=workers, resources_per_worker=per_worker,
                storage_path=os.path.join(tmp, "ray"), name=f"bench{workers}")  # fmt: skip
        t = h[0]["seconds"]  # rank 0's training seconds; ranks move in step
        rows_out.append((f"Ray Train, {workers} worker(s) × {per_worker['CPU']} CPU", n_train / t))

    print(f"# {machine} cores on this machine, torch {torch.__version__}; {n_train} training jets")
    print("\n| training | jets/s | vs single process |")
    print("|---|---:|---:|")
    print(f"| single process ({cores} threads) | {n_train / t_single:.0f} | 1.00 |")
    for name, v in rows_out:
        print(f"| {name} | {v:.0f} | {v / (n_train / t_single):.2f} |")
    r1, r2 = rows_out[0][1], rows_out[1][1]
    print(f"\n{args.workers} workers / 1 worker: **{r2 / r1:.2f}×**; Ray overhead at 1 worker: "
          f"{(1 - r1 / (n_train / t_single)) * 100:+.0f} % slower than single process")  # fmt: skip
    inference(args, os.path.join(tmp, "single", "best.pt"), tmp, cores)
    communication(n_params, t_single / steps)


def inference(args, model, tmp, cores) -> None:
    """1 and N actors (1 CPU each) against ``predict_rows`` in this process."""
    import awkward as ak

    from hepml.distributed import predict
    from hepml.graphs import load_rows
    from hepml.train import load_checkpoint, predict_rows

    files = []
    for i, path in enumerate(args.data):  # the same jets as training used, as files
        out = os.path.join(tmp, f"in{i}.parquet")
        ak.to_parquet(load_rows(path)[: args.jets], out)
        files.append(out)
    ckpt = load_checkpoint(model)
    rows = load_rows(*files)
    t0 = time.perf_counter()
    predict_rows(ckpt, rows, device="cpu")
    t_inf = time.perf_counter() - t0
    inf_rows = []
    for actors in (1, args.workers):
        s = predict(model, files, os.path.join(tmp, f"pred{actors}"), num_actors=actors,
                    rows_per_unit=2000)  # fmt: skip
        steady = s.rows_in / s.scoring_seconds if s.scoring_seconds else float("nan")
        startup = s.startup_seconds if s.startup_seconds is not None else float("nan")
        inf_rows.append((f"Ray actors × {actors}", s.rows_in / s.seconds, steady, startup))

    print(f"\n# {len(rows)} jets scored")
    single_rate = len(rows) / t_inf
    print("\n| inference | jets/s incl. start-up | vs single process | actors ready after "
          "| jets/s once the first actor is ready |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    print(f"| single process ({cores} threads) | {single_rate:.0f} | 1.00 | | |")
    for name, v, steady, startup in inf_rows:
        print(f"| {name} × 1 CPU | {v:.0f} | {v / single_rate:.2f} | {startup:.1f} s "
              f"| {steady:.0f} |")  # fmt: skip
    print(f"\n{args.workers} actors / 1 actor: **{inf_rows[1][1] / inf_rows[0][1]:.2f}×** "
          f"incl. start-up, **{inf_rows[1][2] / inf_rows[0][2]:.2f}×** once the first actor "
          "is ready")  # fmt: skip


def communication(n_params, t_step) -> None:
    """On paper: when a ring all-reduce of the gradients would outlast a step."""
    grad_bytes = 4 * n_params
    print(f"\nOn paper: {n_params:,} parameters → {grad_bytes / 1e3:.0f} kB of fp32 gradients "
          f"all-reduced per step; measured compute per step here {t_step * 1e3:.0f} ms.")  # fmt: skip
    for gbps in (25, 200):
        bw = gbps * 1e9 / 8
        # ring all-reduce: each worker sends/receives 2 (N-1)/N × bytes, plus 2 (N-1) hops
        # of latency (20 µs assumed); bandwidth term < 2 bytes / bw for any N
        alpha = 20e-6
        n_star = None
        for n in range(2, 100001):
            if 2 * (n - 1) / n * grad_bytes / bw + 2 * (n - 1) * alpha > t_step:
                n_star = n
                break
        bw_ms = 2 * grad_bytes / bw * 1e3
        print(f"- {gbps} Gb/s: bandwidth term ≤ {bw_ms:.3f} ms per step; communication "
              f"exceeds this step time at N ≈ {n_star if n_star else '> 100000'} workers "
              f"(latency-bound, 20 µs per hop assumed)")  # fmt: skip


if __name__ == "__main__":
    main()
