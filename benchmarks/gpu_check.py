"""CUDA checks, run once on a GPU machine: the pure-torch kNN on CUDA agrees with CPU,
training with bf16 autocast through hepml's one training loop, and inference throughput.

    python benchmarks/gpu_check.py --data top_jets.parquet qcd_jets.parquet --out gpu.json \\
        [--repeat 4] [--ray]

``benchmarks/device_check.sh`` runs it (with the CUDA tests and ``bench_ray.py``) on a
lent GPU machine.

Prints a table and writes the figures as JSON (recorded in benchmarks/RESULTS.md).
Exits 0 with a note when no CUDA device is present.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings

import torch

warnings.simplefilter("ignore")

DEVICE = "cuda"  # --dry-run-cpu: the same steps on the CPU (to try the script before a lease)


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def knn_agrees(device) -> dict:
    from hepml.models.knn import knn

    g = torch.Generator().manual_seed(0)
    sizes = torch.randint(1, 120, (512,), generator=g)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), sizes)
    out = {}
    for f in (2, 32):
        x = torch.randn(len(batch), f, generator=g)
        a = knn(x, 16, batch)
        b = knn(x.to(device), 16, batch.to(device)).cpu()
        # neighbour sets per target (order among exact ties may differ)
        ka = (a[1] * len(batch) + a[0]).sort().values
        kb = (b[1] * len(batch) + b[0]).sort().values
        out[f"knn_same_edges_F{f}"] = bool(torch.equal(ka, kb))
        out[f"knn_edges_F{f}"] = int(a.size(1))
    return out


def train(files, model, options, epochs, precision, batch_size, out, max_jets) -> dict:
    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()
    from hepml.train import Trainer, load_config

    cfg = load_config(overrides={
        "data": {"files": files, "max_jets": max_jets}, "model": {"name": model, **options},
        "epochs": epochs, "batch_size": batch_size, "device": DEVICE, "precision": precision,
        "output": out, "optimizer": {"lr": 0.003}})  # fmt: skip
    sync()
    t0 = time.perf_counter()
    hist = Trainer(cfg).fit()
    sync()
    return {
        "model": model,
        "precision": precision,
        "epochs": epochs,
        "train_jets_per_s_last_epoch": hist[-1]["jets_per_s"],
        "train_jets_per_s_first_epoch": hist[0]["jets_per_s"],
        "val_auc": hist[-1].get("val_auc"),
        "val_rej30": hist[-1].get("val_rej30"),
        "wall_s": time.perf_counter() - t0,
        "peak_mem_gb": torch.cuda.max_memory_allocated() / 1e9 if DEVICE == "cuda" else 0.0,
    }


def inference(run_dir, files, batch_size, precision) -> dict:
    from hepml.graphs import JetGraphs, Standardizer
    from hepml.train import load_checkpoint, model_from_checkpoint
    from hepml.train.data import load_jet_rows
    from hepml.train.loop import autocast_dtype, predict_batches

    ckpt = load_checkpoint(run_dir)
    dev = torch.device(DEVICE)
    model = model_from_checkpoint(ckpt, dev)
    rows, _ = load_jet_rows(files)
    data = JetGraphs(rows, ckpt["features"])
    std = Standardizer.from_state_dict(ckpt["standardizer"])
    batches = [data.batch(torch.arange(lo, min(lo + batch_size, len(data))), std)
               for lo in range(0, len(data), batch_size)]  # fmt: skip
    amp = autocast_dtype("bf16" if precision == "bf16" else "fp32", dev)
    predict_batches(model, batches[:3], dev, amp)  # warm-up
    sync()
    t0 = time.perf_counter()
    res = predict_batches(model, batches, dev, amp)
    sync()
    dt = time.perf_counter() - t0
    return {"model": ckpt["model_name"], "batch_size": batch_size, "precision": precision,
            "jets": len(res["y"]), "jets_per_s": len(res["y"]) / dt}  # fmt: skip


def repeated(files, repeat, folder) -> list[str]:
    """The jets of each file ``repeat`` times over (throughput needs long epochs; the
    physics figures of these runs mean nothing then)."""
    if repeat <= 1:
        return list(files)
    import awkward as ak

    out = []
    for i, path in enumerate(files):
        rows = ak.from_parquet(path)
        dest = os.path.join(folder, f"repeated{i}.parquet")
        ak.to_parquet(ak.concatenate([rows] * repeat), dest)
        out.append(dest)
    return out


def ray_gpu(files, epochs, out, max_jets) -> dict:
    """The same run through Ray Train with ``use_gpu=True`` (one worker, one GPU), then
    Ray actor inference on the GPU: the code path a GPU cluster uses."""
    from hepml.distributed import fit, predict
    from hepml.train import load_checkpoint, load_config

    cfg = load_config(overrides={
        "data": {"files": files, "max_jets": max_jets}, "model": {"name": "particlenet-lite"},
        "epochs": epochs, "batch_size": 512, "precision": "bf16", "output": out,
        "optimizer": {"lr": 0.003}})  # fmt: skip
    t0 = time.perf_counter()
    gpu = DEVICE == "cuda"
    per_worker = {"CPU": 4, "GPU": 1} if gpu else {"CPU": 1}
    hist = fit(cfg, num_workers=1, use_gpu=gpu, resources_per_worker=per_worker,
               storage_path=os.path.join(out, "ray"), name="gpu-check")  # fmt: skip
    wall = time.perf_counter() - t0
    ckpt = load_checkpoint(os.path.join(out, "best.pt"))  # hepml's format, loads anywhere
    t1 = time.perf_counter()
    summary = predict(os.path.join(out, "best.pt"), files, os.path.join(out, "pred"),
                      num_actors=1, num_gpus_per_actor=1 if gpu else 0, batch_size=2048,
                      rows_per_unit=20000)  # fmt: skip
    return {
        "model": ckpt["model_name"],
        "workers": 1,
        "train_jets_per_s_last_epoch": hist[-1]["jets_per_s"],
        "val_auc": hist[-1].get("val_auc"),
        "fit_wall_s": wall,
        "predict_rows_in": summary.rows_in,
        "predict_scores_out": summary.scores_out,
        "predict_balanced": summary.balanced,
        "predict_jets_per_s_incl_startup": summary.rows_in / summary.seconds,
        "predict_wall_s": time.perf_counter() - t1,
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", nargs=2, required=True)
    p.add_argument("--out", default="gpu_check.json")
    p.add_argument("--max-jets", type=int, default=None)
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="use each file's jets this many times over (longer epochs)",
    )
    p.add_argument("--epochs", type=int, default=2, help="per run; the last epoch is timed")
    p.add_argument(
        "--ray",
        action="store_true",
        help="also Ray Train with use_gpu=True and Ray actors on the GPU",
    )
    p.add_argument(
        "--budget-s",
        type=float,
        default=420.0,
        help="skip what is left once this much time has passed",
    )
    p.add_argument("--models", default="particlenet-lite,particlenet")
    p.add_argument(
        "--dry-run-cpu",
        action="store_true",
        help="run every step on the CPU (no figures: to try the script)",
    )
    args = p.parse_args()
    global DEVICE
    if args.dry_run_cpu:
        DEVICE = "cpu"
    elif not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 0
    t_start = time.perf_counter()
    dev = torch.device(DEVICE)
    name = torch.cuda.get_device_name(0) if DEVICE == "cuda" else "CPU (dry run)"
    results: dict = {"device": name, "torch": torch.__version__,
                     "cpu_cores": os.cpu_count(), "skipped": []}  # fmt: skip

    def save():
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)

    def time_left(what) -> bool:
        if time.perf_counter() - t_start < args.budget_s:
            return True
        results["skipped"].append(what)
        print(f"over --budget-s: skipped {what}", flush=True)
        return False

    results.update(knn_agrees(dev))
    print(json.dumps(results, indent=1), flush=True)
    tmp = tempfile.mkdtemp()
    files = repeated(args.data, args.repeat, tmp)
    results["repeat"] = args.repeat
    runs = [
        (model, {}, precision, 512)
        for model in args.models.split(",")
        for precision in ("bf16", "fp32")
    ]
    results["train"] = []
    for model, options, precision, bs in runs:
        if not time_left(f"train {model} {precision}"):
            continue
        out = os.path.join(tmp, f"{model}-{precision}")
        r = train(files, model, options, args.epochs, precision, bs, out, args.max_jets)
        r["run_dir"] = out
        results["train"].append(r)
        print(json.dumps(r), flush=True)
        save()
    results["inference"] = []
    for r in results["train"]:
        if r["precision"] != "bf16":
            continue
        for bs in (256, 2048):
            for precision in ("bf16", "fp32"):
                if not time_left(f"inference {r['model']} {bs} {precision}"):
                    continue
                i = inference(r["run_dir"], files, bs, precision)
                results["inference"].append(i)
                print(json.dumps(i), flush=True)
                save()
    if args.ray and time_left("ray"):
        results["ray"] = ray_gpu(files, args.epochs, os.path.join(tmp, "ray-gpu"), args.max_jets)
        print(json.dumps(results["ray"]), flush=True)
    results["wall_s"] = time.perf_counter() - t_start
    save()
    print(table(results))
    print(f"wrote {args.out}")
    return 0


def table(results: dict) -> str:
    lines = [f"# {results['device']}, torch {results['torch']}, {results['cpu_cores']} CPU cores",
             "", "| training | precision | jets/s (last epoch) | val AUC | peak GPU memory |",
             "|---|---|---:|---:|---:|"]  # fmt: skip
    for r in results["train"]:
        lines.append(f"| {r['model']} | {r['precision']} | {r['train_jets_per_s_last_epoch']:.0f} "
                     f"| {r['val_auc']:.4f} | {r['peak_mem_gb']:.2f} GB |")  # fmt: skip
    lines += ["", "| inference | batch | precision | jets/s |", "|---|---:|---|---:|"]
    for r in results["inference"]:
        lines.append(
            f"| {r['model']} | {r['batch_size']} | {r['precision']} | {r['jets_per_s']:.0f} |"
        )
    if "ray" in results:
        r = results["ray"]
        lines += ["", f"Ray Train use_gpu=True, 1 worker: {r['train_jets_per_s_last_epoch']:.0f} "
                  f"jets/s (last epoch), val AUC {r['val_auc']:.4f}; Ray actor on the GPU: "
                  f"{r['predict_scores_out']}/{r['predict_rows_in']} scored, "
                  f"{r['predict_jets_per_s_incl_startup']:.0f} jets/s incl. start-up"]  # fmt: skip
    lines.append(
        f"kNN on CUDA = CPU: {results.get('knn_same_edges_F2')}, "
        f"{results.get('knn_same_edges_F32')}; skipped: {results['skipped'] or 'none'}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
