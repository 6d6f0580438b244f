"""``hepml reconstruct IN... -o OUT``: jets, labels, substructure, particle features."""

from __future__ import annotations

import argparse

from hepml.errors import ConfigError, HepmlError
from hepml.io.reader import expand_paths
from hepml.reco.labels import TOP_MATCHES
from hepml.reco.pipeline import LABELS, ReconstructConfig, check_output, reconstruct
from hepml.reco.smear import SmearConfig

__all__ = ["add_parser", "run"]

HELP = """Reconstruct events from any supported ROOT file: optionally smear the
particles, cluster jets (FastJet-exact Numba kernels), select them, label them
(top jets: the top and its three quarks within dR < 0.8; QCD sample: 0), compute
substructure (tau1-3, soft-drop mass) and ParticleNet's per-particle features,
and write one row per selected jet with its event id, jet index, label, weight
and the jagged constituents, to ROOT (tree 'jets') or parquet.

examples:
  hepml reconstruct ttbar.root -o top_jets.parquet --smear
  hepml reconstruct qcd_*.root -o qcd_jets.root --jobs 2 --pt-min 300 --pt-max 2000
"""


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "reconstruct",
        help="cluster, label and compute jet inputs",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="input ROOT files or globs")
    p.add_argument("-o", "--output", required=True, help="output .root or .parquet")
    # (the jet options default to None here, so that --level events, which does not use
    # them, can tell that one was given; JET_DEFAULTS fills them in for --level jets)
    p.add_argument("--algorithm", help="antikt (default), kt or cambridge")
    p.add_argument("--radius", type=float, help="jet radius (default 0.8)")
    p.add_argument("--pt-min", type=float, help="jet pT minimum in GeV (default 550)")
    p.add_argument("--pt-max", type=float, help="jet pT maximum in GeV (default 650)")
    p.add_argument("--eta-max", type=float, help="jet |eta| maximum (default 2)")
    p.add_argument(
        "--label", choices=LABELS, default="auto", help="truth labels (default: from the sample)"
    )
    p.add_argument(
        "--top-match", choices=TOP_MATCHES,
        help="which jets of a top sample are top jets: full (default; the top and its three "
        "quarks within ΔR < 0.8 of the jet axis, the top-tagging benchmark's rule, whatever "
        "--radius) or partial (two of the three quarks: also the partly merged tops of a "
        "trigger's lower pT); only with --label top or auto",
    )  # fmt: skip
    p.add_argument("--smear", action="store_true", help="apply the parametric detector smearing")
    p.add_argument("--smear-config", default=None, help="YAML file of smearing parameters")
    p.add_argument("--seed", type=int, default=0, help="seed of the smearing (default 0)")
    p.add_argument(
        "--max-particles", type=int, default=None, help="keep the hardest N particles per jet"
    )
    p.add_argument(
        "--drop-nonfinite", action="store_true", help="skip (and count) events with NaN/inf momenta"
    )
    p.add_argument(
        "--skip-bad-files",
        action="store_true",
        help="go on past input files that cannot be read (truncated, corrupt, without an "
        "event tree); the summary lists them with the reason",
    )
    p.add_argument(
        "--level", choices=("jets", "events"), default="jets",
        help="jets: one row per selected jet (default); events: one row per event with its "
        "reconstructed objects (R=0.4 jets, isolated leptons and photons, MET), parquet only",
    )  # fmt: skip
    p.add_argument("-j", "--jobs", type=int, default=1, help="worker processes (default 1)")
    p.set_defaults(run=run)
    return p


JET_DEFAULTS = {k: getattr(ReconstructConfig(), k)
                for k in ("algorithm", "radius", "pt_min", "pt_max", "eta_max", "max_particles",
                          "top_match")}  # fmt: skip


def run(args, ui) -> int:
    given = [k for k in JET_DEFAULTS if getattr(args, k) is not None]
    if args.level == "events" and given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ConfigError(
            f"{flags}: options of the jet rows; --level events builds its objects (R=0.4 "
            "jets, leptons, photons, MET) with fixed definitions: drop them"
        )
    jet = {k: v if getattr(args, k) is None else getattr(args, k) for k, v in JET_DEFAULTS.items()}
    cfg = ReconstructConfig(
        **jet,
        label=args.label,
        smear=args.smear or args.smear_config is not None,
        smear_config=SmearConfig.from_yaml(args.smear_config) if args.smear_config else None,
        seed=args.seed,
        drop_nonfinite=args.drop_nonfinite,
        skip_bad_files=args.skip_bad_files,
        level=args.level,
    )
    cfg.validate()
    paths = expand_paths(args.inputs)
    check_output(args.output, paths)
    if args.level == "events" and str(args.output).lower().endswith(".root"):
        raise ConfigError(f"{args.output}: --level events writes parquet; use a .parquet name")
    from hepml.io import inspect_file

    total = 0
    for p in paths:
        try:
            total += inspect_file(p).entries
        except HepmlError:
            if not args.skip_bad_files:
                raise
    with ui.progress("reconstructing", total) as advance:
        summary = reconstruct(paths, args.output, cfg, jobs=args.jobs, progress=advance)
    ui.print(f"wrote {args.output}")
    ui.print(str(summary))
    ui.print(f"{summary.events_in / max(summary.seconds, 1e-9):.0f} events/s")
    return 0
