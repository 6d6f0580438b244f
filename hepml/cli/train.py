"""``hepml train``: train a tagger from a YAML config and/or options."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Train a jet tagger (particlenet, particlenet-lite, pfn, or the substructure-bdt
baseline) on jet rows written by 'hepml reconstruct', or an event classifier
(event-gnn, or the event-bdt baseline) on its --level events rows. Every epoch writes
OUTPUT/checkpoint.pt (resumable with --resume), OUTPUT/best.pt and
OUTPUT/history.json/.csv; the split (train/val/test) is fixed by the files and
data.split_seed, so every model sees the same test jets.
"""

EPILOG = """examples:
  hepml train --data top_jets.parquet qcd_jets.parquet --model particlenet-lite --epochs 10 -o pn
  hepml train train.yaml --set optimizer.lr=3e-3 --epochs 20 -o runs/pn-lr3e-3
  hepml train --data top_jets.parquet qcd_jets.parquet --model substructure-bdt -o bdt
  hepml train train.yaml -o pn --resume      # continue an interrupted run
  hepml train train.yaml -o pn --ray --num-workers 2 --storage-path /shared/runs
"""


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train a tagger (ParticleNet, PFN, substructure BDT)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", nargs="?", default=None, help="YAML training config (optional)")
    p.add_argument("--data", nargs="+", metavar="FILE", help="jet row files (data.files)")
    p.add_argument("--model", help="model name (model.name), e.g. particlenet-lite")
    p.add_argument("--epochs", type=int, help="number of epochs")
    p.add_argument("--batch-size", type=int, help="jets per batch")
    p.add_argument("--lr", type=float, help="learning rate (optimizer.lr)")
    p.add_argument("--seed", type=int, help="random seed of the model and batch order")
    p.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--max-jets", type=int, help="at most this many jets per file")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="any config key, dotted (e.g. model.k=8, schedule.name=onecycle)",
    )  # fmt: skip
    p.add_argument("-o", "--output", help="output folder (default: the config's, else 'run')")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/checkpoint.pt")
    ray = p.add_argument_group("Ray (distributed training, extra 'ray')")
    ray.add_argument("--ray", action="store_true", help="train with Ray Train (data parallel)")
    ray.add_argument("--num-workers", type=int, default=2, help="training workers (default 2)")
    ray.add_argument("--use-gpu", action="store_true", help="one GPU per worker")
    ray.add_argument("--address", default=None,
                     help="Ray cluster: auto, ray://host:10001 (default: a local Ray)")  # fmt: skip
    ray.add_argument("--storage-path", default=None,
                     help="where Ray keeps checkpoints (default OUTPUT/ray; shared on a cluster)")  # fmt: skip
    ray.add_argument("--max-failures", type=int, default=2,
                     help="worker-group restarts from the last checkpoint (default 2)")  # fmt: skip
    ray.add_argument("--run-name", default=None,
                     help="Ray run name; rerun with the same name to continue (default: "
                          "hepml-MODEL-OUTPUT-HASH, one per output folder)")  # fmt: skip
    p.set_defaults(run=run)
    return p


_SECTIONS = ("data", "model", "optimizer", "schedule", "early_stopping")


def _flat(key: str, value) -> list[str]:
    """The dotted keys that ``--set key=value`` sets (a mapping sets each of its keys)."""
    if isinstance(value, dict):
        return [k for sub, v in value.items() for k in _flat(f"{key}.{sub}", v)]
    return [key]


def _dotted(overrides: dict, key: str, value) -> None:
    from hepml.errors import ConfigError

    parts = key.split(".")
    node = overrides
    for i, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            head = ".".join(parts[: i + 1])
            if head in _SECTIONS:
                raise ConfigError(
                    f"--set {head}={node!r}: {head} is a section of the config, not a value; "
                    f"set its keys one by one (--set {head}.KEY=VALUE)"
                )
            raise ConfigError(f"--set {key}: {head} is a value ({node!r}); it has no keys")
    node[parts[-1]] = value


def overrides_from_args(args) -> dict:
    """The config overrides that the command-line options ask for."""
    from hepml.cli.ui import parse_set

    out: dict = {}
    for key, value in parse_set(args.set, "optimizer.lr=0.003"):
        _dotted(out, key, value)
    pairs = {
        "data.files": args.data,
        "model.name": args.model,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "optimizer.lr": args.lr,
        "seed": args.seed,
        "device": args.device,
        "data.max_jets": args.max_jets,
        "output": args.output,
    }
    for key, value in pairs.items():
        if value is not None:
            _dotted(out, key, value)
    return out


def _refuse_network_options(args, model: str) -> None:
    """The BDT baselines have no epochs, batches, learning-rate schedule or Ray: an option
    for those would be ignored without a word, so it is an error naming the BDT's own."""
    from hepml.cli.ui import parse_set
    from hepml.errors import ConfigError
    from hepml.train.config import NETWORK_ONLY_KEYS

    options = {"--epochs": args.epochs, "--batch-size": args.batch_size, "--lr": args.lr,
               "--ray": args.ray or None, "--use-gpu": args.use_gpu or None}  # fmt: skip
    given = [flag for flag, value in options.items() if value is not None]
    for item, value in parse_set(args.set, "model.max_iter=400"):
        for key in _flat(item, value):
            if any(key == k or key.startswith(k) or f"{key}." == k for k in NETWORK_ONLY_KEYS):
                given.append(f"--set {key}")
    if given:
        raise ConfigError(
            f"{', '.join(given)}: not an option of {model} (gradient-boosted "
            "trees, trained in one go); set its own with --set, e.g. --set model.max_iter=400 "
            "--set model.learning_rate=0.05 (also max_leaf_nodes, min_samples_leaf, "
            "l2_regularization, and model.features: its per-jet inputs)"
        )


def run(args, ui) -> int:
    from hepml.errors import ConfigError
    from hepml.train import fit, load_config
    from hepml.train.config import BDT_MODELS

    cfg = load_config(args.config, overrides_from_args(args))
    if cfg.model_name in BDT_MODELS:
        _refuse_network_options(args, cfg.model_name)
    if args.ray and args.resume:
        raise ConfigError(
            "--resume is for runs in one process; a Ray run continues when rerun with "
            "the same --run-name and --storage-path (an interrupted run resumes itself)"
        )
    gpu_asked = str(cfg.device).startswith("cuda")
    if args.ray and cfg.device not in ("auto", None) and gpu_asked != bool(args.use_gpu):
        raise ConfigError(
            f"device {cfg.device!r} with --ray: the workers train on "
            f"{'GPUs' if args.use_gpu else 'CPUs'} as --use-gpu says; give --use-gpu for "
            "GPUs, or leave the device out"
        )
    what = (
        ""
        if cfg.model_name in BDT_MODELS
        else (f" ({cfg.epochs} epoch(s), batch {cfg.batch_size}, seed {cfg.seed})")
    )
    ui.info(f"training {cfg.model_name} on {', '.join(cfg.data.files)} -> {cfg.output}/{what}")

    unit = "events" if cfg.model_name.startswith("event") else "jets"

    def on_epoch(row: dict) -> None:
        parts = [f"epoch {row['epoch']:>3}", f"loss {row['loss']:.4f}",
                 f"val_loss {row['val_loss']:.4f}"]  # fmt: skip
        if "val_auc" in row:
            parts += [f"val_auc {row['val_auc']:.4f}", f"1/eB@0.3 {row['val_rej30']:.1f}",
                      f"1/eB@0.5 {row['val_rej50']:.1f}"]  # fmt: skip
        parts.append(f"{row['jets_per_s']:.0f} {unit}/s")
        ui.print("  ".join(parts) + ("  *" if row.get("best") else ""))

    if args.ray:
        from hepml.distributed import fit as ray_fit

        history = ray_fit(cfg, num_workers=args.num_workers, use_gpu=args.use_gpu,
                          storage_path=args.storage_path, max_failures=args.max_failures,
                          address=args.address, name=args.run_name, log=ui.info)  # fmt: skip
        for row in history:
            on_epoch(row)
    else:
        history = fit(cfg, resume=args.resume, on_epoch=on_epoch, progress=ui.progress,
                      log=ui.info)  # fmt: skip
    last = history[-1] if history else {}
    if cfg.model_name in BDT_MODELS and "val_auc" in last:
        ui.print(f"val_auc {last['val_auc']:.4f}  1/eB@0.3 {last['val_rej30']:.1f}  "
                 f"1/eB@0.5 {last['val_rej50']:.1f}")  # fmt: skip
    ui.print(f"wrote {cfg.output}/best.pt, checkpoint.pt, history.json")
    return 0
