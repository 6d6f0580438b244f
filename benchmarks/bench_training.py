"""ParticleNet training and inference: hepml's variable-size graphs against
weaver-core's padded ParticleNet, same jets, same hyper-parameters, one process.

Both networks get the same standardised 13 per-particle features and (Δη, Δφ)
coordinates of the same jets, the ParticleNet-Lite configuration (k = 7, EdgeConv
(32,32,32), (64,64,64), fusion, fc 128 with dropout 0.1), AdamW (lr 1e-3), batch
256, the same number of epochs and the same jet order:

* **hepml** — ``particlenet-lite`` through ``hepml.train.train_epoch`` on
  ``JetGraphs`` batches: no padding, kNN per jet of its own size;
* **weaver** — ``weaver.nn.model.ParticleNet.ParticleNet`` (weaver-core 0.5.3) on
  ``(B, F, N)`` tensors padded to weaver's usual fixed length for top tagging
  (``--length``, default 100, softest particles dropped beyond it; weaver's own
  ``ParticleNet`` takes the padded inputs as they are: no trimming to a batch's
  longest jet).

Printed: training and inference jets/s and their ratio, test AUC and 1/ε_B at
ε_S = 0.3 for both after the same epochs (AUC error from the Hanley–McNeil
formula); then the full ``particlenet`` configuration, forward + backward on a few
batches. weaver-core is a benchmark-only dependency; install it without its
(heavy) requirements: ``make bench-deps`` (``pip install --no-deps weaver-core==0.5.3``). Run::

    python benchmarks/bench_training.py --data top_jets.parquet qcd_jets.parquet \\
        [--jets 12000] [--epochs 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
import warnings

import numpy as np
import torch

from hepml.graphs import Standardizer
from hepml.models import build
from hepml.train.data import graphs_of, load_jet_rows
from hepml.train.loop import predict_batches, train_epoch
from hepml.train.metrics import auc, rejection_at

warnings.simplefilter("ignore")


def weaver_particlenet(full: bool):
    try:
        from weaver.nn.model.ParticleNet import ParticleNet
    except ImportError:
        raise SystemExit(
            "weaver-core is needed: pip install --no-deps weaver-core==0.5.3"
        ) from None
    import logging

    logging.getLogger("weaver").setLevel(logging.WARNING)
    if full:
        conv = [(16, (64, 64, 64)), (16, (128, 128, 128)), (16, (256, 256, 256))]
        return ParticleNet(13, 2, conv_params=conv, fc_params=[(256, 0.1)])
    return ParticleNet(13, 2)  # its defaults are ParticleNet-Lite


def padded(data, idx, std, length):
    """weaver's inputs for jets ``idx``: points (B,2,L), features (B,F,L), mask (B,1,L)."""
    b = data.batch(torch.as_tensor(idx), std)
    counts = torch.bincount(b.batch, minlength=len(idx))
    local = torch.arange(len(b.batch)) - torch.repeat_interleave(b.ptr[:-1], counts)
    keep = local < length  # jets are pT-ordered: the softest beyond `length` are dropped
    feats = torch.zeros(len(idx), b.x.size(1), length)
    pts = torch.zeros(len(idx), 2, length)
    mask = torch.zeros(len(idx), 1, length, dtype=torch.bool)
    bi, li = b.batch[keep], local[keep]
    feats[bi, :, li] = b.x[keep]
    pts[bi, :, li] = b.pos[keep]
    mask[bi, 0, li] = True
    return pts, feats, mask, b.y


def auc_error(a: float, n_pos: int, n_neg: int) -> float:
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    return math.sqrt((a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a))
                     / (n_pos * n_neg))  # fmt: skip


def run_hepml(model, data, std, train_idx, test_idx, epochs, bs, seed):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    dev = torch.device("cpu")
    t_train = 0.0
    for e in range(epochs):
        order = train_idx[np.random.default_rng([seed, e]).permutation(len(train_idx))]
        batches = [data.batch(torch.from_numpy(order[i : i + bs]), std)
                   for i in range(0, len(order), bs)]  # fmt: skip
        t_train += train_epoch(model, batches, opt, loss_fn, dev)["seconds"]
    batches = [data.batch(torch.from_numpy(test_idx[i : i + bs]), std)
               for i in range(0, len(test_idx), bs)]  # fmt: skip
    t0 = time.perf_counter()
    out = predict_batches(model, batches, dev)
    t_inf = time.perf_counter() - t0
    return len(train_idx) * epochs / t_train, len(test_idx) / t_inf, out["scores"][:, 1]


def run_weaver(model, data, std, train_idx, test_idx, epochs, bs, seed, length):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    t_train = 0.0
    for e in range(epochs):
        order = train_idx[np.random.default_rng([seed, e]).permutation(len(train_idx))]
        inputs = [padded(data, order[i : i + bs], std, length) for i in range(0, len(order), bs)]
        model.train()
        t0 = time.perf_counter()
        for pts, feats, mask, y in inputs:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(pts, feats, mask), y)
            loss.backward()
            opt.step()
        t_train += time.perf_counter() - t0
    inputs = [padded(data, test_idx[i : i + bs], std, length) for i in range(0, len(test_idx), bs)]
    model.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        scores = [torch.softmax(model(p, f, m), 1)[:, 1] for p, f, m, _ in inputs]
    t_inf = time.perf_counter() - t0
    return len(train_idx) * epochs / t_train, len(test_idx) / t_inf, torch.cat(scores).numpy()


def fwd_bwd(step, batches) -> float:
    step(batches[0])  # warm-up
    t0 = time.perf_counter()
    n = 0
    for b in batches[1:]:
        n += step(b)
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", nargs=2, required=True, metavar=("TOP", "QCD"))
    p.add_argument("--jets", type=int, default=12000, help="jets per class (default 12000)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--length", type=int, default=100, help="weaver's padded length")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    rows, _ = load_jet_rows(args.data, args.jets)
    data = graphs_of(rows)
    n = len(data)
    perm = np.random.default_rng(args.seed).permutation(n)
    train_idx, test_idx = np.sort(perm[: int(0.7 * n)]), np.sort(perm[int(0.7 * n) :])
    std = Standardizer.fit(data.x[data.node_mask(train_idx)])
    counts = (data.offsets[1:] - data.offsets[:-1]).numpy()
    y_test = data.y[torch.from_numpy(test_idx)].numpy()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {args.threads} threads")  # fmt: skip
    print(f"# {n} jets ({len(train_idx)} train, {len(test_idx)} test), particles per jet: "
          f"mean {counts.mean():.0f}, max {counts.max()}, >{args.length}: "
          f"{(counts > args.length).mean():.1%}; {args.epochs} epoch(s), batch {args.batch_size}")  # fmt: skip

    torch.manual_seed(args.seed)
    ours = build("particlenet-lite", input_dims=13, n_classes=2)
    torch.manual_seed(args.seed)
    theirs = weaver_particlenet(full=False)
    n_ours = sum(p.numel() for p in ours.parameters())
    n_theirs = sum(p.numel() for p in theirs.parameters())
    h_tr, h_inf, h_s = run_hepml(ours, data, std, train_idx, test_idx, args.epochs,
                                 args.batch_size, args.seed)  # fmt: skip
    w_tr, w_inf, w_s = run_weaver(theirs, data, std, train_idx, test_idx, args.epochs,
                                  args.batch_size, args.seed, args.length)  # fmt: skip
    n_pos, n_neg = int((y_test == 1).sum()), int((y_test == 0).sum())
    rows_out = []
    for name, tr, inf, s, npar in (("hepml particlenet-lite", h_tr, h_inf, h_s, n_ours),
                                   ("weaver ParticleNet (lite)", w_tr, w_inf, w_s, n_theirs)):  # fmt: skip
        a = auc(y_test, s)
        rows_out.append(
            (name, npar, tr, inf, a, auc_error(a, n_pos, n_neg), rejection_at(y_test, s, 0.3))
        )
    print("\n| model | parameters | train jets/s | inference jets/s | test AUC | 1/eB @ eS=0.3 |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, npar, tr, inf, a, da, rej in rows_out:
        print(f"| {name} | {npar:,} | {tr:.0f} | {inf:.0f} | {a:.4f} ± {da:.4f} | {rej:.0f} |")
    print(f"| **ratio hepml / weaver** | | **{h_tr / w_tr:.2f}x** | **{h_inf / w_inf:.2f}x** | "
          f"Δ = {rows_out[0][4] - rows_out[1][4]:+.4f} | |")  # fmt: skip

    # full ParticleNet: forward + backward on a few batches
    torch.manual_seed(args.seed)
    ours_full = build("particlenet", input_dims=13, n_classes=2)
    theirs_full = weaver_particlenet(full=True)
    idx = train_idx[: 6 * args.batch_size]
    gb = [data.batch(torch.from_numpy(idx[i : i + args.batch_size]), std)
          for i in range(0, len(idx), args.batch_size)]  # fmt: skip
    wb = [padded(data, idx[i : i + args.batch_size], std, args.length)
          for i in range(0, len(idx), args.batch_size)]  # fmt: skip
    loss_fn = torch.nn.CrossEntropyLoss()

    def step_ours(b):
        ours_full.train()
        loss_fn(ours_full.forward_data(b), b.y).backward()
        return b.num_graphs

    def step_theirs(b):
        theirs_full.train()
        pts, feats, mask, y = b
        loss_fn(theirs_full(pts, feats, mask), y).backward()
        return len(y)

    fo, ft = fwd_bwd(step_ours, gb), fwd_bwd(step_theirs, wb)
    print("\n| full ParticleNet, forward + backward | jets/s |")
    print("|---|---:|")
    print(f"| hepml particlenet | {fo:.0f} |")
    print(f"| weaver ParticleNet | {ft:.0f} |")
    print(f"| **ratio** | **{fo / ft:.2f}x** |")


if __name__ == "__main__":
    main()
