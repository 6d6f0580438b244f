"""``hepml trigger run|compare``: emulate a trigger menu; compare with recorded bits."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from hepml.errors import ConfigError

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Emulate a trigger menu (YAML: Level-1 seeds and HLT paths with cut expressions,
prescales, thresholds or target rates, and ML paths that score the leading fat
jet with a trained hepml model) on samples of events.
"""

EPILOG = """examples:
  hepml trigger run --menu demo --sample qcd='qcd*.root' --sample zprime='zp*.root' \\
      --signal zprime -o report/
  hepml trigger run --menu demo --sample qcd=qcd.root --model runs/pn/best.pt \\
      --latency-budget-ms 50 --set paths.HLT_AK8PFJet300_ParticleNetTop.target_rate_hz=20
  hepml trigger compare --menu nanoaod_2015 ../shared/data/nanoAOD_2015_CMS_Open_Data_ttbar.root
"""

RUN_EPILOG = """Rates come from the menu's luminosity and each background sample's cross-section
(runinfo of 'hepml generate' files, pT-hat bins and biased samples weighted
correctly), or from the menu's input_rate_hz for data-like files. Every sample
gets efficiencies; --signal samples do not count towards rates.

Writes OUT/report.json, OUT/latency.json, OUT/decisions/SAMPLE.root and
OUT/plots/*.png, and prints the table. With --skip-bad-files, files that cannot
be read are listed and left out; each file read keeps its share of its pT-hat
bin's cross-section, and the events read from a file that broke part-way stand
for the whole file (as do the first N with --max-events).

examples:
  hepml trigger run --menu demo --sample qcd='qcd*.root' --sample zprime='zp*.root' \\
      --signal zprime -o report/
  hepml trigger run --menu demo --sample qcd=qcd.root --model runs/pn/best.pt \\
      --latency-budget-ms 50 --set paths.HLT_AK8PFJet300_ParticleNetTop.target_rate_hz=20
"""

COMPARE_EPILOG = """Every path with 'recorded: HLT_...' in the menu is compared event by event with
that branch: agreement matrix, and turn-on curves of the recorded bit and of the
emulation against the path's turn_on variable.

examples:
  hepml trigger compare --menu nanoaod_2015 \\
      ../shared/data/nanoAOD_2015_CMS_Open_Data_ttbar.root -o compare/
  hepml trigger compare --menu nanoaod_2015 nano/*.root --skip-bad-files   # go on past broken files
"""


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "trigger",
        help="trigger emulation: rates, efficiencies, thresholds, latency",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tsub = p.add_subparsers(dest="trigger_command", metavar="ACTION", parser_class=type(p))
    r = tsub.add_parser(
        "run",
        help="emulate a menu on samples: rates, efficiencies, thresholds, latency",
        description=DESCRIPTION,
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("--menu", required=True,
                   help="menu YAML file, or a built-in menu: demo, nanoaod_2015")  # fmt: skip
    r.add_argument("--sample", action="append", default=[], metavar="NAME=FILES",
                   help="a sample: name=glob[,glob...] (repeat for more)")  # fmt: skip
    r.add_argument("--signal", action="append", default=[], metavar="NAME",
                   help="this sample is signal: efficiencies only, no rate (repeatable)")  # fmt: skip
    r.add_argument("-o", "--out", default="trigger-report", help="report folder")
    r.add_argument("--schema", default="auto",
                   help="schema of the files: auto (default), hepml, nanoaod, delphes, flat, a YAML")  # fmt: skip
    r.add_argument("--seed", type=int, default=0, help="seed of the smearing (default 0)")
    r.add_argument("--max-events", type=int, default=None,
                   help="read only the first N events of each sample (the events read from a "
                        "file stand for the whole file)")  # fmt: skip
    r.add_argument(
        "--model",
        default=None,
        help="jet-tagger checkpoint for every ML path that scores fat jets (overrides the "
        "menu; paths with object: event keep their event-level model)",
    )
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a menu key, e.g. paths.HLT_X.threshold=450 (replaces the path's "
                        "target_rate_hz, and the other way round); KEY=null removes the key")  # fmt: skip
    r.add_argument("--latency-events", type=int, default=200,
                   help="events timed one by one for latency (0: skip; default 200)")  # fmt: skip
    r.add_argument("--latency-budget-ms", type=float, default=None,
                   help="flag paths whose p99 latency exceeds this")  # fmt: skip
    r.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    r.add_argument("--skip-bad-files", action="store_true",
                   help="go on past files that cannot be read (the report lists them, and "
                        "rates stand on the events that were read)")  # fmt: skip
    r.set_defaults(run=run)
    c = tsub.add_parser(
        "compare",
        help="compare emulated paths with recorded trigger bits (NanoAOD HLT_*)",
        description="Compare emulated paths with the trigger decisions recorded in the files.",
        epilog=COMPARE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("files", nargs="+", help="ROOT files with recorded bits")
    c.add_argument("--menu", required=True,
                   help="menu YAML whose paths name 'recorded' bits, or a built-in menu "
                        "(nanoaod_2015)")  # fmt: skip
    c.add_argument("-o", "--out", default="trigger-compare", help="output folder")
    c.add_argument("--max-events", type=int, default=None, help="at most N events")
    c.add_argument("--skip-bad-files", action="store_true",
                   help="go on past files that cannot be read (listed at the end and in "
                        "comparison.json)")  # fmt: skip
    c.set_defaults(run=run_compare)
    for q in (r, c):
        q.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars or notes")  # fmt: skip
    p.set_defaults(run=lambda args, ui: (p.print_help(), 2)[1])
    return p


def _overrides(items: list[str]) -> dict:
    from hepml.cli.ui import parse_set

    return dict(parse_set(items, "paths.HLT_X.threshold=450"))


def run(args, ui) -> int:
    from hepml.trigger import load_menu, parse_sample

    overrides = _overrides(args.set)
    menu = load_menu(args.menu, overrides)
    if args.model:
        jet_paths = [p for p in menu.ml_paths if p.object != "event"]
        if not jet_paths:
            raise ConfigError(f"--model: menu {menu.name!r} has no ML path that scores fat jets")
        for p in jet_paths:
            p.model = args.model
    if not args.sample:
        raise ConfigError("give at least one --sample NAME=FILES")
    samples = [parse_sample(s, args.signal, args.schema) for s in args.sample]
    unknown = sorted(set(args.signal) - {s.name for s in samples})
    if unknown:
        raise ConfigError(f"--signal {unknown[0]}: no --sample of that name")
    if args.max_events is not None and args.max_events < 1:
        raise ConfigError("--max-events must be at least 1")
    from hepml.io.reader import expand_paths
    from hepml.io.write import prepare_folder
    from hepml.trigger.report import report_files

    if args.latency_events < 0:
        raise ConfigError(
            f"--latency-events must be >= 0 (0: no timing), got {args.latency_events}"
        )
    inputs = [f for s in samples for f in expand_paths(s.files)]
    with _folder_kept_on_success(args.out):
        prepare_folder(args.out, report_files([s.name for s in samples]), inputs, "-o")  # (first)
        return _run(args, ui, menu, samples)


def _run(args, ui, menu, samples) -> int:
    from hepml.trigger import Sample
    from hepml.trigger.emulate import emulate
    from hepml.trigger.latency import TOTAL, measure_latency
    from hepml.trigger.report import summary_lines, summary_table, write_report

    res = emulate(
        menu, samples, seed=args.seed, max_events=args.max_events, progress=ui.progress,
        skip_bad_files=args.skip_bad_files,
    )  # fmt: skip
    latency = None
    if args.latency_events > 0:
        ui.info(f"timing {args.latency_events} events one by one …")
        first = samples[0]
        timed = Sample(first.name, res.samples[first.name].files_read, first.role, first.schema)
        latency = measure_latency(
            menu, timed, events=args.latency_events, scorers=res.scorers,
            budget_ms=args.latency_budget_ms, skip_bad_files=args.skip_bad_files,
        )  # fmt: skip
    files = write_report(res, args.out, latency=latency, plots=not args.no_plots)
    ui.table(summary_table(res, latency), 170)
    ui.print("(!) marks a target rate not reached, or a path over the latency budget")
    for line in summary_lines(res):
        ui.print(line)
    if latency:
        tot = latency[TOTAL]
        ui.print(
            f"latency per event (batch 1): objects {latency['(objects)'].p50_ms:.2f} ms p50, "
            f"menu total (the paths each event's seeds let through) {tot.p50_ms:.2f} ms p50 / "
            f"{tot.p99_ms:.2f} ms p99; batched (every path) "
            f"{tot.batched_ms:.3f} ms/event" + (" — OVER BUDGET" if tot.over_budget else "")
        )
        for name, sc in res.scorers.items():
            ui.print(f"{name}: model {sc.model_name} runs with {sc.backend}")
    ui.print(f"report: {args.out}/report.json ({len(files)} files) in {res.seconds:.1f} s")
    return 0


@contextlib.contextmanager
def _folder_kept_on_success(folder):
    """The output folder this command makes stays only if the command succeeds or wrote
    into it: a run that fails (bad sample, menu error found on reading) leaves no empty
    folder behind."""
    out = Path(folder)
    existed = out.exists()
    try:
        yield
    except BaseException:
        if not existed and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise


def run_compare(args, ui) -> int:
    from hepml.trigger import load_menu

    menu = load_menu(args.menu)
    if args.max_events is not None and args.max_events < 1:
        raise ConfigError("--max-events must be at least 1")
    from hepml.io.write import prepare_folder

    with _folder_kept_on_success(args.out):
        prepare_folder(args.out, flag="-o")  # (before the work)
        return _compare(args, ui, menu)


def _compare(args, ui, menu) -> int:
    from hepml.trigger.compare import compare_recorded, write_comparison

    comps = compare_recorded(menu, args.files, max_events=args.max_events,
                             skip_bad_files=args.skip_bad_files, progress=ui.progress)  # fmt: skip
    write_comparison(comps, args.out)
    from rich.table import Table

    t = Table(title=f"emulated vs recorded ({comps[0].events if comps else 0} events)")
    for col in ("path", "recorded", "both", "emulated only", "recorded only", "neither",
                "agreement"):  # fmt: skip
        t.add_column(col, justify="left" if col in ("path", "recorded") else "right")
    for c in comps:
        d = c.to_dict()
        t.add_row(c.path, c.recorded, str(d["both"]), str(d["emulated_only"]),
                  str(d["recorded_only"]), str(d["neither"]), f"{c.agreement:.3f}")  # fmt: skip
    ui.table(t, 120)
    skipped = comps[0].skipped if comps else {}
    if skipped:
        from hepml.io.reader import expand_paths

        ui.print(f"files skipped: {len(skipped)} of {len(expand_paths(args.files))}")
        for reason in skipped.values():
            ui.print(f"  {reason}")
    plots = f" and turn-on plots in {args.out}/plots" if any(c.x is not None for c in comps) else ""
    ui.print(f"wrote {args.out}/comparison.json{plots}")
    return 0
