"""The emulation's outputs: terminal table, ``report.json``, PNG plots, decisions in ROOT.

``write_report(result, "report/")`` writes

* ``report.json`` — menu, samples, per path: threshold (solved ones with their
  ±1σ range), rate ± error, unique rate, efficiencies with 68% intervals;
  totals per level, the overlap matrix, same-rate comparisons and rate-vs-threshold
  curves. It holds nothing that changes between runs with the same seed and the
  same ML backend (``backend``, per ML path: the faster of TorchScript and ONNX
  Runtime on this machine; their scores agree to ~1e-7, so a solved score threshold
  may differ in its last digits when the other one wins).
* ``latency.json`` — the timings (measurements, so they vary from run to run).
* ``decisions/SAMPLE.root`` — tree ``decisions``: event ids, one boolean branch per
  seed and path, and ``score_PATH`` for ML paths; written atomically.
* ``plots/rate_PATH.png`` (rate vs threshold), ``plots/turnon_PATH.png``, and for a
  path with ``compare_with`` ``plots/efficiency_vs_rate_PATH_SIGNAL.png`` (signal
  efficiency vs background rate of it and the paths it is compared with).

Writing a report into a folder that holds an earlier one replaces it: files of the
earlier report that this one does not write (a sample or path no longer given) are
removed; the folder's ``.hepml-report-files`` lists what its report wrote.

Example::

    res = emulate(menu, samples)
    files = write_report(res, "report/", latency=measure_latency(menu, samples[0]))
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hepml._json import strict
from hepml.io.reader import expand_paths
from hepml.io.write import atomic_path, prepare_folder, write_root
from hepml.trigger.emulate import EmulationResult
from hepml.trigger.expr import axis_label
from hepml.trigger.rates import rate_curve

__all__ = ["report_dict", "summary_lines", "summary_table", "write_report"]

_CURVE_POINTS = 200


def _f(x):
    return None if x is None else strict(float(x))


def curve(result: EmulationResult, name: str):
    """Rate vs threshold of ``name`` on the background (seeds and cut applied, no prescale)."""
    bg = result.background
    values = np.concatenate([np.where(s.pre[name], s.value[name], np.nan) for s in bg])
    r_hz = np.concatenate([s.rate_hz for s in bg])
    return rate_curve(values, r_hz)


def _thin(thr, r, e, n=_CURVE_POINTS):
    if len(thr) <= n:
        return thr, r, e
    idx = np.unique(np.linspace(0, len(thr) - 1, n).round().astype(int))
    return thr[idx], r[idx], e[idx]


def report_dict(result: EmulationResult) -> dict:
    """Everything the report says, JSON-ready (deterministic for a seed)."""
    menu = result.menu
    out = {
        "menu": {"name": menu.name, "source": os.path.basename(menu.source),
                 "luminosity_cm2s": menu.luminosity, "input_rate_hz": menu.input_rate_hz},
        "seed": result.seed,
        "rate_mode": result.mode,
        "notes": list(result.notes),
        "samples": {},
        "paths": {},
        "totals_hz": {k: {"rate": _f(v[0]), "error": _f(v[1])}
                      for k, v in result.total_rate_hz.items()},
        "overlap_hz": {"paths": result.hlt_names,
                       "matrix": [[_f(x) for x in row] for row in result.overlap_hz]},
        "comparisons": [],
    }  # fmt: skip
    for name, s in result.samples.items():
        out["samples"][name] = {
            "role": s.sample.role,
            "files": [os.path.basename(f) for f in s.sample.files],
            "events": s.n,
            "sum_weights": _f(s.weight.sum()),
            "total_rate_hz": _f(s.rate_hz.sum()),
        }
        if s.skipped:  # only with skip_bad_files
            out["samples"][name]["skipped"] = {os.path.basename(f): r for f, r in s.skipped.items()}
        if s.notes:  # what skipped files or max_events did to the rates
            out["samples"][name]["notes"] = list(s.notes)
    for p in menu.ordered():
        res = result.paths[p.name]
        d = {
            "level": p.level,
            "seeds": list(p.seeds),
            "cut": p.cut.text if p.cut else None,
            "variable": ("ML score" if p.is_ml else p.variable.text) if p.has_threshold else None,
            "prescale": p.prescale,
            "threshold": _f(res.threshold),
            "rate_hz": _f(res.rate_hz),
            "rate_err_hz": _f(res.rate_err_hz),
            "unique_rate_hz": _f(res.unique_rate_hz),
            "efficiency": {k: {"value": _f(v[0]), "low": _f(v[1]), "high": _f(v[2])}
                           for k, v in res.efficiency.items()},
        }  # fmt: skip
        if p.is_ml:
            # its run folder and file (best.pt alone named no run; the whole path would
            # make the report differ from one working folder to another)
            m = os.fspath(p.model)
            d["model"] = os.path.join(os.path.basename(os.path.dirname(m)), os.path.basename(m))
            d["object"] = p.object
            scorer = result.scorers.get(p.name)
            if scorer is not None:  # (the faster one here: scores agree to ~1e-7)
                d["backend"] = scorer.backend
        if res.solved is not None:
            d["solved"] = {k: _f(v) if isinstance(v, float) else v
                           for k, v in res.solved.to_dict().items()}  # fmt: skip
        if p.has_threshold and result.background:
            thr, r, e = _thin(*curve(result, p.name))
            d["rate_curve"] = {"threshold": [_f(x) for x in thr], "rate_hz": [_f(x) for x in r],
                               "error_hz": [_f(x) for x in e]}  # fmt: skip
        out["paths"][p.name] = d
    for c in result.comparisons:
        out["comparisons"].append(json.loads(json.dumps(strict(c), default=_f)))
    return out


def summary_lines(result: EmulationResult) -> list[str]:
    """The notes a user must not miss: unreachable targets, comparisons, totals."""
    lines = list(result.notes)
    for name, s in result.samples.items():
        if s.skipped:
            lines.append(f"sample {name}: files skipped: {len(s.skipped)} of {len(s.files)}")
        lines.extend(
            f"  {reason}" for reason in s.skip_reasons().values()
        )  # (starts with the file)
        lines.extend(f"sample {name}: {note}" for note in s.notes)
    for name, res in result.paths.items():
        if res.solved is not None and (not res.solved.reached or res.solved.note):
            lines.append(f"{name}: {res.solved.note or 'target not reached'}")
    for level, (r, e) in result.total_rate_hz.items():
        lines.append(f"{level} total rate (overlaps counted once): {r:.4g} ± {e:.2g} Hz")
    for c in result.comparisons:
        lines.append(
            f"{c['path']} keeps {c['ratio']:.2f}× the {c['signal']} events of the best "
            f"cut-based path {c['best']} at the same background rate ({c['rate_hz']:.3g} Hz): "
            f"{c['efficiency']:.3f} vs "
            f"{max(a['efficiency'] for a in c['against']):.3f}"
        )
        if c.get("scan"):
            parts = []
            for row in c["scan"]:
                flag = "" if row["reached"] else " (target not reached)"
                parts.append(
                    f"{row['target_hz']:g} Hz {row['ratio']:.2f}× "
                    f"({row['efficiency']:.3f} vs {row['best']} "
                    f"{row['against'][row['best']]['efficiency']:.3f}){flag}"
                )
            lines.append(f"{c['path']} / best cut-based path on {c['signal']}: " + "; ".join(parts))
    return lines


def summary_table(result: EmulationResult, latency: dict | None = None):
    """A rich ``Table``: one row per seed/path (efficiencies with symmetric 68% errors)."""
    from rich.table import Table

    t = Table(title=f"menu {result.menu.name}: rates from {result.mode}", title_justify="left")
    t.add_column("path", no_wrap=True)
    t.add_column("PS", justify="right")
    t.add_column("threshold", justify="right", no_wrap=True)
    t.add_column("rate [Hz]", justify="right", no_wrap=True)
    t.add_column("unique [Hz]", justify="right")
    names = list(result.samples)
    for n in names:
        t.add_column(f"eff {n}", justify="right", no_wrap=True)
    if latency:
        t.add_column("p50/p99 [ms]", justify="right", no_wrap=True)
    for p in result.menu.ordered():
        res = result.paths[p.name]
        if res.threshold is None:
            thr = ""
        elif res.solved is not None:
            thr = f"{res.threshold:.4g} ± {res.solved.error:.2g}"
            thr += "" if res.solved.reached else " (!)"
        else:
            thr = f"{res.threshold:.4g}"
        row = [p.name, str(p.prescale), thr,
               f"{res.rate_hz:.3g} ± {res.rate_err_hz:.2g}", f"{res.unique_rate_hz:.3g}"]  # fmt: skip
        for n in names:
            e, lo, hi = res.efficiency[n]
            row.append(f"{e:.3f} ± {0.5 * (hi - lo):.3f}")
        if latency:
            lat = latency.get(p.name)
            flag = " (!)" if lat and lat.over_budget else ""
            row.append(f"{lat.p50_ms:.2f}/{lat.p99_ms:.2f}{flag}" if lat else "")
        t.add_row(*row)
    return t


def _write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        # (strict JSON: no NaN/Infinity, which jq and JavaScript refuse)
        Path(tmp).write_text(json.dumps(strict(data), indent=2, default=_f, allow_nan=False) + "\n")


def write_decisions(result: EmulationResult, folder: Path) -> list[Path]:
    """``folder/SAMPLE.root`` with ids, one branch per path and the ML scores."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, s in result.samples.items():
        branches = {k: v for k, v in s.ids.items()}
        branches["weight"] = s.weight
        branches["rate_hz"] = s.rate_hz
        for p in result.menu.ordered():
            branches[p.name] = s.decision[p.name]
            if p.is_ml:
                branches[f"score_{p.name}"] = s.value[p.name]
        out.append(write_root(folder / f"{name}.root", {"decisions": branches}))
    return out


def write_plots(result: EmulationResult, folder: Path) -> list[Path]:
    from hepml.plotting import efficiency_vs_rate as plot_efficiency_vs_rate
    from hepml.plotting import rate_vs_threshold, turn_on_curves
    from hepml.trigger.emulate import efficiency_vs_rate

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    import matplotlib.pyplot as plt

    for p in result.menu.ordered():
        res = result.paths[p.name]
        if p.has_threshold and result.background:
            bg = "+".join(s.sample.name for s in result.background)
            label = "ML score" if p.is_ml else axis_label(p.variable.text)
            fig = rate_vs_threshold(
                {f"{p.name} ({bg})": curve(result, p.name)},
                folder / f"rate_{p.name}.png",
                xlabel=label,
                target_hz=p.target_rate_hz,
                threshold=res.threshold,
                title=f"{result.menu.name}: {p.name}",
            )
            plt.close(fig)
            written.append(folder / f"rate_{p.name}.png")
        if p.turn_on is not None:
            curves = {f"{n}": (s.turn_on[p.name], s.decision[p.name], s.efficiency_weights)
                      for n, s in result.samples.items()}  # fmt: skip
            fig = turn_on_curves(
                curves, folder / f"turnon_{p.name}.png", xlabel=axis_label(p.turn_on.text),
                title=f"{p.name} (L1 seed and HLT)",
            )  # fmt: skip
            plt.close(fig)
            written.append(folder / f"turnon_{p.name}.png")
    signals = [n for n, s in result.samples.items() if s.sample.role == "signal"]
    for p in result.menu.ordered():
        if not p.compare_with or not result.background:
            continue
        for sig in signals:
            curves = {n: efficiency_vs_rate(result, n, sig) for n in (p.name, *p.compare_with)}
            png = folder / f"efficiency_vs_rate_{p.name}_{sig}.png"
            fig = plot_efficiency_vs_rate(
                curves, png, signal=sig, rates_hz=p.compare_rates_hz or None,
                title=f"{result.menu.name}: {p.name} and the paths it is compared with",
            )  # fmt: skip
            plt.close(fig)
            written.append(png)
    return written


def report_files(samples) -> list[str]:
    """The files of a report folder that could clash with inputs, for the sample names."""
    return ["report.json", "latency.json", *(f"decisions/{name}.root" for name in samples)]


def write_report(
    result: EmulationResult,
    out_dir: str | os.PathLike,
    latency: dict | None = None,
    plots: bool = True,
    decisions: bool = True,
) -> list[Path]:
    """Write the report folder (see the module docstring); returns the files written.
    A file that would overwrite one of the samples' files is refused."""
    inputs = [f for s in result.samples.values() if s.files_read
              for f in expand_paths(s.files_read)]  # (sample files may be globs)  # fmt: skip
    out = prepare_folder(out_dir, report_files(result.samples), inputs)
    files = [out / "report.json"]
    _write_json(out / "report.json", report_dict(result))
    if latency:
        _write_json(out / "latency.json", {k: v.to_dict() for k, v in latency.items()})
        files.append(out / "latency.json")
    if decisions:
        files += write_decisions(result, out / "decisions")
    if plots:
        files += write_plots(result, out / "plots")
    _forget_stale(out, files, inputs)
    return files


#: the files a report folder's last ``write_report`` wrote (relative paths, one a line)
MANIFEST = ".hepml-report-files"


def _forget_stale(out: Path, files: list[Path], inputs: list[str]) -> None:
    """Remove what an earlier report into ``out`` wrote and this one did not (decisions
    of a sample no longer given, plots of a path no longer in the menu, timings of a run
    with latency), so the folder holds one run's report; only files listed in the
    folder's manifest are touched, never an input; then record this run's files."""
    written = {p.relative_to(out).as_posix() for p in files}
    manifest = out / MANIFEST
    try:
        earlier = manifest.read_text().splitlines()
    except OSError:
        earlier = []
    root = out.resolve()
    for rel in earlier:
        path = out / rel
        if rel in written or Path(rel).is_absolute() or ".." in Path(rel).parts:
            continue
        if not path.is_file() or not path.resolve().is_relative_to(root):
            continue  # (only this folder's own files, never through a link)
        if any(os.path.exists(i) and os.path.samefile(path, i) for i in inputs):
            continue
        path.unlink()
    with atomic_path(manifest) as tmp, open(tmp, "w") as f:
        f.write("".join(f"{rel}\n" for rel in sorted(written)))
