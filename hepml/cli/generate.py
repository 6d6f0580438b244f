"""``hepml generate``: Pythia 8 events into hepml's ROOT layout (extra ``generate``)."""

from __future__ import annotations

import argparse

from hepml.io.generate import PROCESSES, GenerateConfig, check_output, generate

__all__ = ["add_parser", "config_from_args", "run"]

HELP = """Generate proton-proton collisions with Pythia 8 and write hepml's own ROOT
layout: final-state particles, hard-process partons (for truth labels), weights,
and a runinfo tree with the cross-section (pb), events tried/accepted and seeds.

For trigger rates over many thresholds, --pthat-bias POW samples QCD (and other
2 -> 2 processes) (pT-hat/ref)^POW times more often at high pT-hat; each event
then has the weight (ref/pT-hat)^POW and the runinfo cross-section stays the
unbiased one: rate = luminosity * cross-section * sum(w passing) / sum(all w).
Samples of disjoint --pthat-min/--pthat-max ranges combine as pT-hat bins
(hepml.io.runinfo.event_weights_pb gives each event's weight in pb).

examples:
  hepml generate --process ttbar --events 2000 --jobs 2 -o ttbar.root
  hepml generate --process qcd --pthat-min 400 --pthat-max 800 --events 5000 -o qcd.root
  hepml generate --process qcd --pthat-min 100 --pthat-bias 4 --events 20000 -j 2 -o qcd_biased.root
  hepml generate --process zprime_ttbar --mass 3000 --events 1000 -o zp.root
"""


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "generate",
        help="generate events with Pythia 8",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--process", required=True, choices=sorted(PROCESSES), help="physics process")
    p.add_argument(
        "-n", "--events", type=int, default=1000, help="events to generate (default 1000)"
    )
    p.add_argument("-o", "--output", default=None, help="output ROOT file (default PROCESS.root)")
    p.add_argument(
        "--seed",
        type=int,
        default=1,
        help="random seed; job j uses Pythia seed 1+seed+j (default 1)",
    )
    p.add_argument("-j", "--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--no-merge", action="store_true", help="keep one output file per job")
    p.add_argument("--pthat-min", type=float, default=None, help="minimum pT-hat in GeV")
    p.add_argument("--pthat-max", type=float, default=None, help="maximum pT-hat in GeV")
    p.add_argument(
        "--pthat-bias",
        type=float,
        default=None,
        metavar="POW",
        help="bias 2 -> 2 sampling by (pT-hat/ref)^POW, e.g. 4, with compensating event "
        "weights (ref/pT-hat)^POW; the cross-section stays unbiased (default: unbiased)",
    )
    p.add_argument(
        "--pthat-bias-ref",
        type=float,
        default=None,
        metavar="GEV",
        help="reference pT-hat of --pthat-bias, where the weight is 1 (default: the pT-hat minimum)",
    )
    p.add_argument("--ecm", type=float, default=13000.0, help="centre-of-mass energy in GeV")
    p.add_argument("--mass", type=float, default=None,
                   help="Z' mass in GeV (zprime_ttbar only; default 2000)")  # fmt: skip
    p.add_argument("--keep-neutrinos", action="store_true", help="keep neutrinos in particles")
    p.add_argument(
        "--set", action="append", default=[], metavar="'KEY = VALUE'", help="extra Pythia setting"
    )
    p.set_defaults(run=run)
    return p


def config_from_args(args) -> GenerateConfig:
    return GenerateConfig(
        process=args.process,
        events=args.events,
        seed=args.seed,
        jobs=args.jobs,
        pthat_min=args.pthat_min,
        pthat_max=args.pthat_max,
        pthat_bias=args.pthat_bias,
        pthat_bias_ref=args.pthat_bias_ref,
        ecm=args.ecm,
        mass=args.mass,
        keep_neutrinos=args.keep_neutrinos,
        merge=not args.no_merge,
        settings=list(args.set),
    )


def run(args, ui) -> int:
    cfg = config_from_args(args)
    cfg.validate()
    output = check_output(args.output or f"{cfg.process}.root")
    with ui.progress(f"generating {cfg.process}", cfg.events) as advance:
        result = generate(cfg, output, progress=advance)
    info = result.runinfo
    for out in result.outputs:
        ui.print(f"wrote {out}")
    ui.print(
        f"{cfg.process}: {result.events} events in {result.seconds:.1f} s "
        f"({result.events_per_second:.1f} events/s with {cfg.jobs} job(s)); "
        f"cross-section {info.cross_section_pb:.6g} ± {info.cross_section_error_pb:.2g} pb "
        f"({info.events_accepted} accepted of {info.events_tried} tried)"
    )
    if cfg.pthat_bias is not None:
        ui.print(
            f"pT-hat bias ^{cfg.pthat_bias:g} (ref {cfg.effective_pthat_bias_ref:g} GeV): "
            f"events weighted (ref/pT-hat)^{cfg.pthat_bias:g}, sum of weights "
            f"{info.sum_weights:.6g}; rate = luminosity * cross-section * "
            "sum(w passing) / sum(all w)"
        )
    return 0
