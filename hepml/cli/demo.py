"""``hepml demo``: the built-in default run, from nothing to a summary."""

from __future__ import annotations

import argparse
from pathlib import Path

import awkward as ak
import numpy as np
from rich.table import Table

from hepml.io import read_runinfo
from hepml.io.generate import GenerateConfig, generate
from hepml.reco.pipeline import ReconstructConfig, reconstruct

__all__ = ["add_parser", "run"]

HELP = """Run hepml end to end on built-in defaults: generate boosted top-pair and
QCD dijet events with Pythia 8 (pT-hat > 400 GeV), smear them with the
parametric detector, cluster anti-kt R = 0.8 jets, label them, compute soft-drop
mass and N-subjettiness and ParticleNet's particle features, and print a
summary. Outputs (ROOT events, parquet jets) go to one folder (./hepml-demo).

example:
  hepml demo --events 400 --seed 7 --output-dir demo-out
"""

SAMPLES = ("ttbar", "qcd")


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo",
        help="run the built-in demo",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-n", "--events", type=int, default=600, help="events per sample (default 600)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("-j", "--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--output-dir", default="hepml-demo", help="folder for outputs")
    p.set_defaults(run=run)
    return p


def run(args, ui) -> int:
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = Table(
        title="hepml demo: 13 TeV, pT-hat > 400 GeV, jets 550-650 GeV", header_style="bold"
    )
    for col in ("sample", "events", "σ (pb)", "ev/s", "jets", "tops", "m_SD", "τ32", "n_part"):
        table.add_column(col, justify="right")
    for process in SAMPLES:
        cfg = GenerateConfig(
            process=process, events=args.events, seed=args.seed, jobs=args.jobs, pthat_min=400.0
        )
        events_path = out / f"{process}.root"
        with ui.progress(f"generating {process}", cfg.events) as advance:
            result = generate(cfg, events_path, progress=advance)
        jets_path = out / f"{process}_jets.parquet"
        with ui.progress(f"reconstructing {process}", cfg.events) as advance:
            summary = reconstruct(
                [events_path],
                jets_path,
                ReconstructConfig(smear=True, seed=args.seed),
                jobs=args.jobs,
                progress=advance,
            )
        rows = ak.from_parquet(jets_path)
        info = read_runinfo(events_path)
        tau32 = ak.to_numpy(rows.jet_tau3 / rows.jet_tau2) if len(rows) else np.zeros(0)
        table.add_row(
            process,
            str(summary.events_in),
            f"{info.cross_section_pb:.4g} ± {info.cross_section_error_pb:.2g}",
            f"{result.events_per_second:.0f}",
            str(summary.jets_out),
            str(int(ak.sum(rows.label == 1))) if len(rows) else "0",
            f"{np.mean(ak.to_numpy(rows.jet_msd)):.0f}" if len(rows) else "-",
            f"{np.mean(tau32):.2f}" if len(rows) else "-",
            f"{np.mean(ak.to_numpy(rows.jet_n_constituents)):.0f}" if len(rows) else "-",
        )
    ui.print(table)
    ui.print(
        "ev/s: generation throughput; jets: selected jets (550 < pT < 650 GeV, |η| < 2); "
        "tops: jets with a top and its three quarks within ΔR < 0.8; m_SD (GeV), τ32, n_part: "
        "means of soft-drop mass, τ3/τ2 and particles per jet"
    )
    ui.print(f"outputs in {out.resolve()}")
    return 0
