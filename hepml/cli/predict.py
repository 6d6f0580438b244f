"""``hepml predict``: score jets with a trained model, keyed by event and jet."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Score every jet row (or event row, for event models) of the input files (written
by 'hepml reconstruct', .parquet or .root) with a trained model and write one row
per input row: file_index, entry, run, event, jet_index (join keys back to the
input), label and weight when known, input (the position of its file among IN),
and score (the signal probability). Output .parquet or .root (tree 'scores'),
written atomically; with --ray, a folder with one OUT/<name>.scores.parquet per
input (inputs of the same name in different folders: <folder>-<name>), each written
as soon as its rows are scored.
"""

EPILOG = """examples:
  hepml predict pn/best.pt top_jets.parquet qcd_jets.parquet -o scores.parquet
  hepml predict bdt/ new_jets.parquet -o bdt_scores.root
  hepml predict pn/ run*/jets.parquet -o scores/ --ray --num-actors 4
"""

KEYS = ("file_index", "entry", "run", "event", "jet_index", "label", "weight")


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "predict",
        help="score jets with a trained model",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="run folder or .pt checkpoint")
    p.add_argument(
        "inputs", nargs="+", metavar="IN", help="jet (or event) row files (.parquet or .root)"
    )
    p.add_argument("-o", "--output", required=True,
                   help="output .parquet or .root (with --ray: a folder, one file per input)")  # fmt: skip
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--batch-size", type=int, default=1024, help="jets per batch (default 1024)")
    ray = p.add_argument_group("Ray (distributed inference, extra 'ray')")
    ray.add_argument("--ray", action="store_true", help="score on a pool of Ray actors")
    ray.add_argument("--num-actors", type=int, default=2, help="actors (default 2)")
    ray.add_argument("--num-gpus-per-actor", type=float, default=0.0, help="GPUs per actor")
    ray.add_argument("--address", default=None, help="Ray cluster (default: a local Ray)")
    ray.add_argument(
        "--rows-per-unit",
        type=int,
        default=20000,
        metavar="N",
        help="rows an actor scores per task (default 20000)",
    )
    ray.add_argument("--unit-timeout", type=float, default=None, metavar="S",
                     help="restart an actor that has not finished its part of a file "
                     "(--rows-per-unit rows) after S seconds, and run that part again "
                     "(default: no deadline)")  # fmt: skip
    p.set_defaults(run=run)
    return p


def run(args, ui) -> int:
    import time

    from hepml.errors import ConfigError

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.ray and args.num_actors < 1:
        raise ConfigError(f"--num-actors must be at least 1, got {args.num_actors}")
    if args.ray and str(args.output).lower().endswith((".root", ".parquet", ".pq")):
        raise ConfigError(
            f"-o {args.output} with --ray: give a folder (one <name>.scores.parquet per input "
            "is written in it)"
        )
    if args.ray and args.device != "auto":
        gpus = args.num_gpus_per_actor > 0
        if args.device.startswith("cuda") != gpus:
            raise ConfigError(
                f"--device {args.device} with --ray: the actors score on "
                f"{'GPUs' if gpus else 'CPUs'} as --num-gpus-per-actor says "
                f"({args.num_gpus_per_actor:g}); give --num-gpus-per-actor 1 for GPUs, or leave "
                "--device out"
            )

    if args.ray:
        from hepml.distributed import predict

        with ui.progress("scoring", None) as advance:
            summary = predict(args.model, args.inputs, args.output, num_actors=args.num_actors,
                              num_gpus_per_actor=args.num_gpus_per_actor,
                              batch_size=args.batch_size, address=args.address,
                              rows_per_unit=args.rows_per_unit,
                              unit_timeout=args.unit_timeout, progress=advance)  # fmt: skip
        ui.print(f"wrote {len(summary.outputs)} file(s) to {args.output}")
        ui.print(str(summary))
        return 0

    import awkward as ak

    from hepml.io import write_parquet, write_root
    from hepml.reco.pipeline import check_output
    from hepml.train import load_checkpoint, predict_rows
    from hepml.train.data import load_jet_rows

    check_output(args.output, args.inputs)
    ckpt = load_checkpoint(args.model)
    rows, sample = load_jet_rows(args.inputs)
    start = time.perf_counter()
    score = predict_rows(ckpt, rows, args.device, args.batch_size)
    seconds = time.perf_counter() - start
    if len(score) != len(rows):  # (never silently fewer scores than rows)
        raise RuntimeError(f"{len(score)} scores for {len(rows)} rows")
    out = {k: rows[k] for k in KEYS if k in rows.fields}
    out["input"] = sample
    out["score"] = score
    table = ak.zip(out, depth_limit=1)
    if str(args.output).lower().endswith(".root"):
        write_root(args.output, {"scores": table})
    else:
        write_parquet(args.output, table)
    unit = "events" if ckpt["model_name"].startswith("event") else "jets"
    ui.print(f"wrote {args.output}: {len(rows)} {unit} scored by {ckpt['model_name']} "
             f"({len(rows) / max(seconds, 1e-9):.0f} {unit}/s)")  # fmt: skip
    return 0
