"""``hepml demo``: the built-in default run, from nothing to a summary."""

from __future__ import annotations

import argparse
from pathlib import Path

import awkward as ak
from rich.table import Table

from hepml.io import open_events, read_runinfo
from hepml.io.generate import GenerateConfig, generate

__all__ = ["add_parser", "run"]

HELP = """Run hepml end to end on built-in defaults: generate top-pair and QCD dijet
events with Pythia 8, read them back chunk by chunk, and print a summary
(events, cross-sections, particle multiplicities, hard-process content).
Outputs go to one folder (default ./hepml-demo).

example:
  hepml demo --events 400 --seed 7 --output-dir demo-out
"""

SAMPLES = (("ttbar", None), ("qcd", 400.0))


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="run the built-in demo",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-n", "--events", type=int, default=400, help="events per sample (default 400)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("-j", "--jobs", type=int, default=2, help="generator processes (default 2)")
    p.add_argument("--output-dir", default="hepml-demo", help="folder for outputs")
    p.set_defaults(run=run)


def run(args, ui) -> int:
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = Table(title="hepml demo", header_style="bold")
    for col in ("sample", "events", "σ (pb)", "events/s", "⟨particles⟩", "⟨charged⟩", "tops/event"):
        table.add_column(col, justify="right")
    for process, pthat in SAMPLES:
        cfg = GenerateConfig(
            process=process, events=args.events, seed=args.seed, jobs=args.jobs, pthat_min=pthat
        )
        path = out / f"{process}.root"
        with ui.progress(f"generating {process}", cfg.events) as advance:
            result = generate(cfg, path, progress=advance)
        n = 0
        n_particles = n_charged = n_tops = 0
        for events in open_events(path, step_size=100):
            n += len(events)
            n_particles += int(ak.sum(ak.num(events.particles)))
            n_charged += int(ak.sum(events.particles.charge != 0))
            last_tops = (abs(events.partons.pid) == 6) & (events.partons.status == -62)
            n_tops += int(ak.sum(last_tops))
        info = read_runinfo(path)
        table.add_row(
            process,
            str(n),
            f"{info.cross_section_pb:.4g} ± {info.cross_section_error_pb:.2g}",
            f"{result.events_per_second:.0f}",
            f"{n_particles / n:.0f}",
            f"{n_charged / n:.0f}",
            f"{n_tops / n:.2f}",
        )
    ui.print(table)
    ui.print(f"outputs in {out.resolve()}")
    return 0
