"""``hepml demo``: the built-in default run, from nothing to a summary."""

from __future__ import annotations

import argparse
import math

__all__ = ["add_parser", "run"]

HELP = """Run hepml end to end on built-in defaults, with no data at hand (5 to 10
minutes on 2 CPU cores): generate boosted top-pair and QCD events with Pythia 8,
smear and reconstruct them, train ParticleNet-Lite, PFN and the substructure BDT
briefly, evaluate them on the same test jets, and run the demo trigger menu
(rates at L = 2e34 cm^-2 s^-1 from pT-hat-biased QCD, efficiencies on Z' -> ttbar,
the ParticleNet path at a target rate). Plots, reports, models and events go to
one folder (./hepml-demo); the same --seed gives the same numbers. Running it
again into the same folder replaces the earlier run's outputs there (a folder that
holds anything else is refused).

examples:
  hepml demo
  hepml demo --events 3000 --seed 7 --output-dir demo-out
  hepml demo --ray          # training and inference on a local Ray (2 workers)
"""


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo",
        help="run the built-in demo (generate, reconstruct, train, evaluate, trigger)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-n", "--events", type=int, default=4000,
                   help="events per tagging sample, ttbar and QCD (default 4000)")  # fmt: skip
    p.add_argument("--trigger-events", type=int, default=6000,
                   help="pT-hat-biased QCD events for trigger rates (default 6000)")  # fmt: skip
    p.add_argument("--signal-events", type=int, default=2000,
                   help="Z' -> ttbar events for trigger efficiencies (default 2000)")  # fmt: skip
    p.add_argument("--zprime-mass", type=float, default=1000.0,
                   help="Z' mass in GeV for the trigger's signal (default 1000)")  # fmt: skip
    p.add_argument("--epochs", type=int, default=6, help="training epochs (default 6)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("-j", "--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--ray", action="store_true",
                   help="train and predict on a local Ray (2 workers; extra 'ray')")  # fmt: skip
    p.add_argument("--output-dir", default="hepml-demo", help="folder for outputs")
    p.set_defaults(run=run)
    return p


def _pm(value, err) -> str:
    if value is None:  # (not measured: one class in the test split)
        return "n/a"
    if isinstance(value, float) and not math.isfinite(value):
        return "inf"
    fmt = ".0f" if value >= 10 else ".2f"  # (1.5 ± 0.18 is not "2 ± 0")
    return f"{value:{fmt}} ± {err:{fmt}}"


def run(args, ui) -> int:
    from rich.table import Table

    from hepml.demo import DemoConfig, run_demo
    from hepml.trigger.report import summary_table

    cfg = DemoConfig(
        events=args.events, trigger_events=args.trigger_events,
        signal_events=args.signal_events, epochs=args.epochs, seed=args.seed, jobs=args.jobs,
        ray=args.ray, zprime_mass=args.zprime_mass,
    )  # fmt: skip
    cfg.validate()
    ui.info(f"hepml demo: outputs in {args.output_dir}/ (seed {cfg.seed})")
    s = run_demo(cfg, args.output_dir, progress=ui.progress, info=ui.info)
    t = Table(title=f"jet tagging: {s.jets['top']} top and {s.jets['qcd']} QCD jets (400-1000 "
                    "GeV, smeared); scores on their test split", title_justify="left")  # fmt: skip
    for col in ("model", "test jets", "AUC", "1/εB @ εS=0.3", "1/εB @ εS=0.5"):
        t.add_column(col, justify="left" if col == "model" else "right", no_wrap=True)
    for name, m in s.models.items():
        auc = f"{m['auc']:.4f}" if m.get("auc") is not None else "n/a"
        t.add_row(name, str(m["test_jets"]), auc, _pm(m.get("rej30"), m.get("rej30_err")),
                  _pm(m.get("rej50"), m.get("rej50_err")))  # fmt: skip
    ui.table(t, 100)
    ray = s.models.get("particlenet-lite", {}).get("ray_inference")
    if ray:
        ui.print(f"Ray inference: {ray['scores_out']} of {ray['rows_in']} jets scored on "
                 f"{ray['actors']} actors, {ray['rejected']} rejected; largest difference to "
                 f"the local scores {ray['max_abs_diff_vs_local']:.1e}")  # fmt: skip
    tm = s.trigger_model
    if tm:
        auc = f"{tm['val_auc']:.4f}" if tm.get("val_auc") is not None else "n/a"
        ui.print(f"the trigger's ParticleNet-Lite: {s.jets.get('trigger_top', 0)} top jets (two or "
                 f"three of the top's quarks inside) and {s.jets.get('trigger_qcd', 0)} QCD jets of "
                 f"{tm['jets']}; validation AUC {auc} (epoch {tm['epoch']})")  # fmt: skip
    ui.table(summary_table(s.trigger_result), 150)
    for line in s.trigger["notes"]:
        ui.print(line)
    lat = s.trigger["latency_ms"]
    ui.print(f"menu latency per event at batch size 1 (objects, seeds and the paths they let "
             f"through): {lat['p50']:.1f} ms p50, {lat['p99']:.1f} ms p99")  # fmt: skip
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in s.seconds.items())
    ui.print(f"time: {steps}")
    ui.print(f"outputs in {s.output}: evaluation/ (roc.png, rejection.png, scores_*.png, "
             "metrics.json), trigger/ (report.json, latency.json, plots/, decisions/), "
             "models/, jets/, events/, summary.json")  # fmt: skip
    return 0
