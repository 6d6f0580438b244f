"""``hepml evaluate``: metrics table and plots for one or more trained models."""

from __future__ import annotations

import argparse
import json
import math
import os

from hepml._json import strict
from hepml.errors import InputError

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Evaluate trained models on the same split of the same jets (by default the test
split of the files each model was trained on): AUC, accuracy at score 0.5, and
background rejection 1/eps_B at signal efficiency 0.3 and 0.5. Writes
metrics.json, roc.png, rejection.png and one score histogram per model to OUTPUT.

--add puts every jet of independent files (never trained on: e.g. more QCD, to
measure a rejection of thousands) into the evaluated set; --baseline prints each
model's rejection as a multiple of one model's, with its error. Rejection errors
count both samples: the background's binomial error and the working point's own
(the signal efficiency's error moved along the ROC curve), which dominates when few
signal jets face many background jets. --data files the model was trained on keep
their training split, in whatever order they are given.

--weighted counts each jet with its event weight (the `weight` column that
`hepml reconstruct` writes from the generator's weights): needed for pT-hat-biased
samples, whose weights undo the bias. Each class's weights are scaled to sum to its
number of jets; rejection errors then use the effective numbers of jets.
"""

EPILOG = """examples:
  hepml evaluate pn/ pfn/ bdt/ -o eval
  hepml evaluate pn/best.pt --data other_top.parquet other_qcd.parquet --split all -o eval_other
  hepml evaluate pn/ pfn/ bdt/ --add qcd_more.parquet --baseline bdt/ -o eval_more
  hepml evaluate pn/ --data top_biased.parquet qcd_biased.parquet --split all --weighted
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
    p.add_argument("--split", default="test", choices=("train", "val", "test", "all"),
                   help="train, val, test (default) or all")  # fmt: skip
    p.add_argument(
        "--add",
        nargs="+",
        metavar="FILE",
        default=[],
        help="independent jet files whose every jet joins the evaluated set",
    )
    p.add_argument(
        "--baseline",
        metavar="MODEL",
        help="one of the MODELs: rejections are also given as multiples of its",
    )
    p.add_argument(
        "--weighted",
        action="store_true",
        help="count each jet with its event weight (pT-hat-biased samples)",
    )
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--no-plots", action="store_true", help="metrics only")
    p.add_argument("-o", "--output", default="eval", help="output folder (default eval)")
    p.set_defaults(run=run)
    return p


def _names(paths: list[str], ckpts: list[dict]) -> list[str]:
    """One name per model, all different: the model's name, and where several models
    share it, each with the shortest end of its run folder's path that tells them
    apart (``pn (s0/pn)``, ``pn (s1/pn)``; the file too for two of one folder)."""
    from hepml.train.checkpoint import checkpoint_file

    names = [c["model_name"] for c in ckpts]
    out = list(names)
    for name in set(names):
        group = [i for i, n in enumerate(names) if n == name]
        if len(group) < 2:
            continue
        files = {i: os.path.abspath(checkpoint_file(paths[i])) for i in group}
        folders = [os.path.dirname(f) for f in files.values()]
        one_folder = len(set(folders)) < len(folders)  # (best.pt and checkpoint.pt of a run)
        parts = {i: (f if one_folder else os.path.dirname(f)).split(os.sep)
                 for i, f in files.items()}  # fmt: skip
        for k in range(1, max(map(len, parts.values())) + 1):
            tags = {i: "/".join(parts[i][-k:]) for i in group}
            if len(set(tags.values())) == len(group):
                break
        for i in group:
            out[i] = f"{name} ({tags[i]})"
    return out


def _file_names(names: list[str]) -> list[str]:
    """``names`` made safe as parts of file names, and still all different."""
    out: list[str] = []
    for name in names:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        out.append(safe if safe not in out else f"{safe}_{len(out)}")
    return out


def _forget_earlier_plots(output: str) -> None:
    """Remove the plots an earlier evaluation into ``output`` drew (the models its
    metrics.json names), so that the folder never pairs new metrics with old plots
    (``--no-plots``, fewer models, one-class rows)."""
    try:
        with open(os.path.join(output, "metrics.json")) as f:
            earlier = list(json.load(f).get("models", {}))
    except (OSError, ValueError, AttributeError):
        return
    for name in ["roc.png", "rejection.png", *(f"scores_{s}.png" for s in _file_names(earlier))]:
        path = os.path.join(output, name)
        if os.path.isfile(path):
            os.remove(path)


def _check_distinct(paths: list[str]) -> None:
    from hepml.train.checkpoint import checkpoint_file

    seen: dict[str, str] = {}
    for p in paths:
        real = os.path.realpath(checkpoint_file(p))
        if real in seen:
            raise InputError(f"{p} is the same model as {seen[real]}: give each model once")
        seen[real] = p


def _same_rows_note(results: list, ckpts: list[dict], args) -> str | None:
    """A warning when the models scored different jets (other training files, split
    seeds, fractions or --max-jets): their metrics then differ by sample, not only by
    model."""
    if len({r.rows_id for r in results}) < 2:
        return None

    def what(r, c):
        d = c["config"]["data"]
        files = args.data or d["files"]
        cap = "" if args.data else f", max_jets {d.get('max_jets')}"  # (--data: every row)
        return (f"{r.name}: {len(r.y)} rows of {', '.join(map(os.path.basename, files))} "
                f"(split {d['split']}, split_seed {d['split_seed']}{cap})")  # fmt: skip

    advice = ("--split all scores every row of the --data files for all" if args.data else
              "give the same files to all with --data, and --split all to score every row")  # fmt: skip
    return (
        f"the models were scored on different jets, so their metrics also differ by "
        f"sample ({advice}): " + "; ".join(what(r, c) for r, c in zip(results, ckpts, strict=True))
    )


def _baseline_index(baseline: str, models: list[str]) -> int:
    """Position of ``baseline`` among ``models`` (same path, or same file)."""
    from hepml.train.checkpoint import checkpoint_file

    def resolved(path: str) -> str:
        try:  # (a run folder means its best.pt)
            return os.path.realpath(checkpoint_file(path))
        except Exception:
            return os.path.realpath(path)

    for i, m in enumerate(models):
        if m == baseline or resolved(m) == resolved(baseline):
            return i
    raise InputError(f"--baseline {baseline} is not one of the models {models}")


def _ratios(m: dict, b: dict) -> dict:
    """Rejection of ``m`` as a multiple of ``b``'s. The errors are combined as if
    independent; the models share the test jets, so this likely overstates it."""
    out = {}
    for wp in (30, 50):
        a, sa, c, sc = m[f"rej{wp}"], m[f"rej{wp}_err"], b[f"rej{wp}"], b[f"rej{wp}_err"]
        ok = 0 < c < math.inf and 0 < a < math.inf  # else no ratio is measured
        r = a / c if ok else float("nan")
        out[f"ratio{wp}"] = r
        out[f"ratio{wp}_err"] = r * math.hypot(sa / a, sc / c) if ok else float("nan")
    return out


def run(args, ui) -> int:
    from rich.table import Table

    from hepml.io.write import prepare_folder
    from hepml.train import evaluate_checkpoint, load_checkpoint
    from hepml.train.checkpoint import checkpoint_file

    base = _baseline_index(args.baseline, args.models) if args.baseline else None
    _check_distinct(args.models)
    ckpts = [(m, load_checkpoint(m)) for m in args.models]  # all checked before any work
    names = _names(args.models, [c for _, c in ckpts])
    files = ["metrics.json"] + ([] if args.no_plots else
             ["roc.png", "rejection.png", *(f"scores_{s}.png" for s in _file_names(names))])  # fmt: skip
    inputs = [*map(checkpoint_file, args.models), *(args.data or ()), *args.add]
    prepare_folder(args.output, files, inputs, "-o")  # (a file there: said before any work)
    results = []
    where = f"the {args.split} split" + (f" + {len(args.add)} added file(s)" if args.add else "")
    for (path, ckpt), name in zip(ckpts, names, strict=True):
        ui.info(f"evaluating {path} on {where}")
        result = evaluate_checkpoint(
            ckpt, args.split, args.data, name, args.device, args.add, weighted=args.weighted
        )
        results.append(result)
    mixed = _same_rows_note(results, [c for _, c in ckpts], args)
    if mixed:
        ui.warn(mixed)
    if base is not None and not results[base].metrics:
        raise InputError(f"--baseline {args.baseline}: its jets hold one class, no rejection")
    title = f"{args.split} split" + (f" + {', '.join(args.add)}" if args.add else "")
    weighted = ", weighted" if args.weighted else ""
    table = Table(title=title + weighted)
    cols = ["model", "n", "AUC", "accuracy", "1/eB @ eS=0.3", "1/eB @ eS=0.5"]
    if base is not None:
        cols += [f"x {results[base].name} @ 0.3", "@ 0.5"]
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right", no_wrap=True)
    from hepml.train.metrics import rejection_error

    for r in results:
        if r.metrics:
            for wp in (30, 50):
                r.metrics[f"rej{wp}_err"] = rejection_error(r.y, r.score, wp / 100, r.metric_weight)
    for j, r in enumerate(results):
        m = r.metrics
        if base is not None and m:
            m.update(_ratios(m, results[base].metrics))
            if j == base:  # itself: exactly 1
                m.update(ratio30_err=0.0, ratio50_err=0.0)

        def rej(wp, m=m, key="rej", fmt=".1f"):
            if f"{key}{wp}" not in m:
                return "nan"
            return f"{m[f'{key}{wp}']:{fmt}} ± {m[f'{key}{wp}_err']:{fmt}}"

        row = [r.name, str(len(r.y)), f"{m.get('auc', float('nan')):.4f}",
               f"{m.get('accuracy', float('nan')):.4f}", rej(30), rej(50)]  # fmt: skip
        if base is not None:
            row += [rej(30, key="ratio", fmt=".2f"), rej(50, key="ratio", fmt=".2f")]
        table.add_row(*row)
    # (files first: a closed stdout loses nothing)
    report = {r.name: {"n": len(r.y), "signal": int((r.y == 1).sum()), **r.metrics}
              for r in results}  # fmt: skip
    out = {"split": args.split, "added_files": list(args.add), "weighted": args.weighted,
           "same_rows": mixed is None, "models": report}  # fmt: skip
    if base is not None:
        out["baseline"] = results[base].name
    _forget_earlier_plots(args.output)
    from hepml.io.write import atomic_path

    with atomic_path(os.path.join(args.output, "metrics.json")) as tmp, open(tmp, "w") as f:
        json.dump(strict(out), f, indent=1, allow_nan=False)
    if not args.no_plots:
        from hepml import plotting

        unit = "events" if all(c["model_name"].startswith("event") for _, c in ckpts) else "jets"
        sizes = sorted({len(r.y) for r in results})
        title = f"{args.split} split, {'/'.join(map(str, sizes))} {unit}{weighted}"
        two_class = [r for r in results if r.metrics]
        for plot, png in ((plotting.roc_curves, "roc.png"),
                          (plotting.rejection_curves, "rejection.png")):  # fmt: skip
            if two_class:
                plot(two_class, os.path.join(args.output, png), title)
            elif os.path.exists(os.path.join(args.output, png)):  # (an earlier run's)
                os.remove(os.path.join(args.output, png))
        if len(two_class) < len(results):
            ui.warn("no ROC or rejection curve for a model whose rows hold one class only "
                    f"({', '.join(r.name for r in results if not r.metrics)})")  # fmt: skip
        for r, safe in zip(results, _file_names(names), strict=True):
            plotting.score_histograms(r, os.path.join(args.output, f"scores_{safe}.png"), unit=unit)
    ui.table(table)
    ui.print(f"wrote {args.output}/metrics.json" + ("" if args.no_plots else " and plots"))
    return 0
