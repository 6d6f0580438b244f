"""CUDA checks, run once on a GPU machine: the pure-torch kNN on CUDA agrees with CPU,
training with bf16 autocast through hepml's one training loop, and inference throughput.

    python benchmarks/gpu_check.py --data top_jets.parquet qcd_jets.parquet --out gpu.json

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
    from hepml.train import Trainer, load_config

    cfg = load_config(overrides={
        "data": {"files": files, "max_jets": max_jets}, "model": {"name": model, **options},
        "epochs": epochs, "batch_size": batch_size, "device": "cuda", "precision": precision,
        "output": out, "optimizer": {"lr": 0.003}})  # fmt: skip
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    hist = Trainer(cfg).fit()
    torch.cuda.synchronize()
    return {
        "model": model,
        "precision": precision,
        "epochs": epochs,
        "train_jets_per_s_last_epoch": hist[-1]["jets_per_s"],
        "train_jets_per_s_first_epoch": hist[0]["jets_per_s"],
        "val_auc": hist[-1].get("val_auc"),
        "val_rej30": hist[-1].get("val_rej30"),
        "wall_s": time.perf_counter() - t0,
        "peak_mem_gb": torch.cuda.max_memory_allocated() / 1e9,
    }


def inference(run_dir, files, batch_size, precision) -> dict:
    from hepml.graphs import JetGraphs, Standardizer
    from hepml.train import load_checkpoint, model_from_checkpoint
    from hepml.train.data import load_jet_rows
    from hepml.train.loop import autocast_dtype, predict_batches

    ckpt = load_checkpoint(run_dir)
    dev = torch.device("cuda")
    model = model_from_checkpoint(ckpt, dev)
    rows, _ = load_jet_rows(files)
    data = JetGraphs(rows, ckpt["features"])
    std = Standardizer.from_state_dict(ckpt["standardizer"])
    batches = [data.batch(torch.arange(lo, min(lo + batch_size, len(data))), std)
               for lo in range(0, len(data), batch_size)]  # fmt: skip
    amp = autocast_dtype("bf16" if precision == "bf16" else "fp32", dev)
    predict_batches(model, batches[:3], dev, amp)  # warm-up
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    res = predict_batches(model, batches, dev, amp)
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {"model": ckpt["model_name"], "batch_size": batch_size, "precision": precision,
            "jets": len(res["y"]), "jets_per_s": len(res["y"]) / dt}  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", nargs=2, required=True)
    p.add_argument("--out", default="gpu_check.json")
    p.add_argument("--max-jets", type=int, default=None)
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 0
    dev = torch.device("cuda")
    results: dict = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    results.update(knn_agrees(dev))
    print(json.dumps(results, indent=1), flush=True)
    tmp = tempfile.mkdtemp()
    lite = {}
    runs = [
        ("particlenet-lite", lite, 3, "bf16", 512),
        ("particlenet-lite", lite, 1, "fp32", 512),
        ("particlenet", {}, 1, "bf16", 512),
        ("particlenet", {}, 1, "fp32", 512),
    ]
    results["train"] = []
    for model, options, epochs, precision, bs in runs:
        out = os.path.join(tmp, f"{model}-{precision}")
        r = train(args.data, model, options, epochs, precision, bs, out, args.max_jets)
        r["run_dir"] = out
        results["train"].append(r)
        print(json.dumps(r), flush=True)
    results["inference"] = []
    for r in results["train"]:
        if r["precision"] != "bf16":
            continue
        for bs in (256, 2048):
            for precision in ("bf16", "fp32"):
                i = inference(r["run_dir"], args.data, bs, precision)
                results["inference"].append(i)
                print(json.dumps(i), flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
