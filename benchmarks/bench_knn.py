"""kNN graphs of jets: hepml's Numba kernel and pure-torch kNN against the usual tools.

All methods get the same jets (default 2000 jets with 30–120 particles, (η, φ)
Gaussian around the jet axis with σ = 0.25, clipped to the R = 0.8 cone, so no φ
wrap-around) and k = 16, in one process:

* ``hepml.kernels.knn.knn_edges`` — Numba, parallel over jets (float64, wraps φ);
* ``hepml.models.knn`` — pure torch, padded batch, ``topk`` (rows tied at the k-th
  place sorted again, stably; float32, the training path; ParticleNet calls it in
  every EdgeConv block);
* ``torch.cdist + topk`` — the hand-written torch version on the same padded
  ``(B, N_max, 2)`` tensor (padding and self distances set to +inf; ties unordered;
  padding of the result not removed, so it does a little less work);
* ``scipy.spatial.cKDTree`` — one tree per jet in a Python loop, ``query(k + 1)``.

Each timing is the best of ``--repeat`` runs after a warm-up call (Numba JIT /
cache load, torch allocator). The neighbour sets are checked to agree before
timing. With CUDA available the torch methods are also timed on the GPU
(synchronised). Run::

    python benchmarks/bench_knn.py [--jets 2000] [--k 16] [--repeat 5] [--threads N]

It prints a markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numba
import numpy as np
import torch
from scipy.spatial import cKDTree

from hepml.kernels.knn import knn_edges
from hepml.models.knn import knn, to_dense


def make_jets(n_jets: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    counts = rng.integers(30, 121, n_jets)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n = int(offsets[-1])
    eta = np.clip(rng.normal(0, 0.25, n), -0.8, 0.8)
    phi = np.clip(rng.normal(0, 0.25, n), -0.8, 0.8)
    return eta, phi, offsets


def numba_knn(eta, phi, offsets, k):
    return knn_edges(eta, phi, offsets, k)[0]


def hepml_torch_knn(x, batch, k):
    return knn(x, k, batch)


def cdist_topk(x, batch, k):
    dense, mask, _ = to_dense(x, batch)
    d = torch.cdist(dense, dense)
    d = d.masked_fill(~mask.unsqueeze(1), float("inf"))
    eye = torch.eye(d.size(1), dtype=torch.bool, device=d.device)
    d = d.masked_fill(eye, float("inf"))
    return torch.topk(d, min(k, d.size(1) - 1), dim=-1, largest=False).indices


def kdtree_knn(eta, phi, offsets, k):
    out = []
    for g in range(len(offsets) - 1):
        pts = np.stack([eta[offsets[g] : offsets[g + 1]], phi[offsets[g] : offsets[g + 1]]], 1)
        kk = min(k + 1, len(pts))
        _, idx = cKDTree(pts).query(pts, kk)
        out.append(idx[:, 1:] + offsets[g])
    return out


def best_of(fn, repeat: int, sync=None) -> float:
    fn()
    if sync:
        sync()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jets", type=int, default=2000)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))

    eta, phi, offsets = make_jets(args.jets, args.seed)
    counts = torch.from_numpy(np.diff(offsets))
    batch = torch.repeat_interleave(torch.arange(args.jets), counts)
    x = torch.from_numpy(np.stack([eta, phi], 1)).float()
    k = args.k

    # agreement: identical neighbour sets (float32 vs float64 may differ only at near-ties)
    ref = numba_knn(eta, phi, offsets, k)
    got = hepml_torch_knn(x.double(), batch, k).numpy()
    assert np.array_equal(ref, got), "hepml.models.knn (float64) differs from the Numba kernel"
    got32 = hepml_torch_knn(x, batch, k).numpy()
    same = np.mean(
        np.all(np.sort(ref[0].reshape(-1, k), 1) == np.sort(got32[0].reshape(-1, k), 1), 1)
    )
    tree = np.concatenate(kdtree_knn(eta, phi, offsets, k))
    same_tree = np.mean(np.all(np.sort(tree, 1) == np.sort(ref[0].reshape(-1, k), 1), 1))

    rows = []
    t_numba = best_of(lambda: numba_knn(eta, phi, offsets, k), args.repeat)
    rows.append((f"Numba `knn_edges` ({numba.get_num_threads()} threads, f64)", t_numba))
    t_hepml = best_of(lambda: hepml_torch_knn(x, batch, k), args.repeat)
    rows.append((f"hepml.models.knn, CPU ({torch.get_num_threads()} threads, f32)", t_hepml))
    rows.append(
        (
            "torch.cdist + topk, padded, CPU (f32)",
            best_of(lambda: cdist_topk(x, batch, k), args.repeat),
        )
    )
    rows.append(
        (
            "scipy cKDTree per jet (Python loop)",
            best_of(lambda: kdtree_knn(eta, phi, offsets, k), max(1, args.repeat // 2)),
        )
    )
    device = "CPU"
    if torch.cuda.is_available():
        device = torch.cuda.get_device_name()
        xc, bc = x.cuda(), batch.cuda()
        sync = torch.cuda.synchronize
        rows.append(
            (
                "hepml.models.knn, CUDA (f32)",
                best_of(lambda: hepml_torch_knn(xc, bc, k), args.repeat, sync),
            )
        )
        rows.append(
            (
                "torch.cdist + topk, padded, CUDA (f32)",
                best_of(lambda: cdist_topk(xc, bc, k), args.repeat, sync),
            )
        )

    print(
        f"\nkNN graphs, k = {k}: {args.jets} jets, 30–120 particles "
        f"({int(offsets[-1])} particles), best of {args.repeat}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {device}; "
        f"torch {torch.__version__}, numba {numba.__version__}\n"
    )
    print(
        f"Agreement with the Numba kernel: hepml.models.knn float64 identical; float32 "
        f"{same:.2%} of nodes identical sets; cKDTree {same_tree:.2%}\n"
    )
    print("| method | time (ms) | jets/s | ratio to hepml.models.knn (CPU) |")
    print("|---|---:|---:|---:|")
    for name, t in rows:
        print(f"| {name} | {t * 1e3:.1f} | {args.jets / t:,.0f} | {t / t_hepml:.2f} |")


if __name__ == "__main__":
    main()
