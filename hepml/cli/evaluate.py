"""``hepml evaluate``: metrics table and plots for one or more trained models."""

from __future__ import annotations

import argparse
import json
import os

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Evaluate trained models on the same split of the same jets (by default the test
split of the files each model was trained on): AUC, accuracy at score 0.5, and
background rejection 1/eps_B at signal efficiency 0.3 and 0.5. Writes
metrics.json, roc.png, rejection.png and one score histogram per model to OUTPUT.
"""

EPILOG = """examples:
  hepml evaluate pn/ pfn/ bdt/ -o eval
  hepml evaluate pn/best.pt --data other_top.parquet other_qcd.parquet --split all -o eval_other
"""


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "evaluate",
        help="metrics table, ROC and rejection plots of trained models",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help="run folders or .pt checkpoints")
    p.add_argument("--data", nargs="+", metavar="FILE", help="jet rows (default: training files)")
    p.add_argument("--split", default="test", help="train, val, test (default) or all")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--no-plots", action="store_true", help="metrics only")
    p.add_argument("-o", "--output", default="eval", help="output folder (default eval)")
    p.set_defaults(run=run)
    return p


def _name(path: str, ckpt: dict, taken: set) -> str:
    name = ckpt["model_name"]
    if name in taken:
        name = f"{name} ({os.path.basename(os.path.normpath(path))})"
    taken.add(name)
    return name


def run(args, ui) -> int:
    from rich.table import Table

    from hepml.train import evaluate_checkpoint, load_checkpoint

    ckpts = [(m, load_checkpoint(m)) for m in args.models]  # all checked before any work
    taken: set = set()
    results = []
    for path, ckpt in ckpts:
        ui.info(f"evaluating {path} on the {args.split} split")
        results.append(
            evaluate_checkpoint(ckpt, args.split, args.data, _name(path, ckpt, taken), args.device)
        )
    table = Table(title=f"{args.split} split")
    for col in ("model", "n", "AUC", "accuracy", "1/eB @ eS=0.3", "1/eB @ eS=0.5"):
        table.add_column(col, justify="left" if col == "model" else "right", no_wrap=True)
    from hepml.train.metrics import rejection_error

    for r in results:
        m = r.metrics
        if m:
            for wp in (30, 50):
                m[f"rej{wp}_err"] = rejection_error(r.y, r.score, wp / 100)

        def rej(wp, m=m):
            if f"rej{wp}" not in m:
                return "nan"
            return f"{m[f'rej{wp}']:.1f} ± {m[f'rej{wp}_err']:.1f}"

        table.add_row(r.name, str(len(r.y)), f"{m.get('auc', float('nan')):.4f}",
                      f"{m.get('accuracy', float('nan')):.4f}", rej(30), rej(50))  # fmt: skip
    ui.print(table)
    os.makedirs(args.output, exist_ok=True)
    report = {r.name: {"n": len(r.y), "signal": int((r.y == 1).sum()), **r.metrics}
              for r in results}  # fmt: skip
    with open(os.path.join(args.output, "metrics.json"), "w") as f:
        json.dump({"split": args.split, "models": report}, f, indent=1)
    if not args.no_plots:
        from hepml import plotting

        unit = "events" if all(c["model_name"].startswith("event") for _, c in ckpts) else "jets"
        title = f"{args.split} split, {len(results[0].y)} {unit}"
        plotting.roc_curves(results, os.path.join(args.output, "roc.png"), title)
        plotting.rejection_curves(results, os.path.join(args.output, "rejection.png"), title)
        for r in results:
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in r.name)
            plotting.score_histograms(r, os.path.join(args.output, f"scores_{safe}.png"))
    ui.print(f"wrote {args.output}/metrics.json" + ("" if args.no_plots else " and plots"))
    return 0
