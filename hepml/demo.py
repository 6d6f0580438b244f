"""The built-in demo: from nothing to tagging figures and trigger rates, in minutes.

:func:`run_demo` runs every layer of hepml once, on events it generates:

1. **generate** (Pythia 8) boosted top pairs and QCD dijets (pT-hat > 400 GeV) for
   tagging; for the trigger, QCD with a pT-hat bias (rates across thresholds from
   one sample) and Z' → tt̄ (1 TeV) as the signal, and top pairs and QCD of
   pT-hat > 300 GeV for the trigger's tagger;
2. **reconstruct**: smear, cluster anti-kt R = 0.8, label (top-matched or QCD),
   substructure and ParticleNet's particle features (jets 400–1000 GeV);
3. **train** ParticleNet-Lite and PFN briefly, and the substructure BDT — one shared
   train/validation/test split; and the trigger's ParticleNet-Lite (below);
4. **evaluate** on the test jets: AUC, 1/ε_B at ε_S = 0.3 and 0.5, ROC and
   rejection plots;
5. **trigger**: the built-in ``demo`` menu with a ParticleNet-Lite in its ML path:
   rates (Hz, L = 2×10³⁴ cm⁻²s⁻¹), efficiencies on Z' → tt̄, thresholds for target
   rates, latency, plots. The trigger's tagger is trained for what the path must
   find: jets of 300–1000 GeV (the path scores fat jets above 300 GeV) whose top
   label counts partly merged tops too (two of the top's three quarks in the jet,
   ``--top-match partial``), against QCD jets of the same range; both samples are
   generated with pT-hat > 300 GeV, so that top and QCD jets fill the range alike,
   with twice the tagging samples' events each.
   A 1 TeV Z' gives tops of 300–500 GeV, of which only a quarter make a fully merged
   jet: a tagger trained on those alone (the benchmark's rule, used for step 4's
   figures) ignores the rest.

Everything is written under one folder; the same ``seed`` gives the same numbers
(``ray=True`` trains and predicts on a local Ray with 2 workers instead).

Example::

    summary = run_demo(DemoConfig(events=4000, seed=1), "hepml-demo")
    summary.models["particlenet-lite"]["auc"]
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hepml._json import strict
from hepml.errors import ConfigError
from hepml.extras import require
from hepml.io.write import atomic_path

__all__ = ["DemoConfig", "DemoSummary", "run_demo"]

MODELS = ("particlenet-lite", "pfn", "substructure-bdt")
#: the trigger's tagger (see the module docstring): model, run folder, lowest jet pT
TRIGGER_MODEL, TRIGGER_RUN, TRIGGER_PT_MIN = "particlenet-lite", "particlenet-lite-trigger", 300.0
#: the trigger tagger's top-pair and QCD samples hold this many times ``events`` each
TRIGGER_SCALE = 2


@dataclass
class DemoConfig:
    """Sizes of the demo; the defaults take 5 to 10 minutes on 2 CPU cores."""

    events: int = 4000  # per tagging sample (ttbar, QCD)
    trigger_events: int = 6000  # pT-hat-biased QCD for rates
    signal_events: int = 2000  # Z' -> ttbar for trigger efficiencies
    zprime_mass: float = 1000.0  # GeV: tops of 300-500 GeV, below the cut paths' pT thresholds
    epochs: int = 6
    seed: int = 1
    jobs: int = 2
    ray: bool = False
    latency_events: int = 50

    def validate(self) -> None:
        for k in ("events", "trigger_events", "signal_events", "epochs", "jobs"):
            if getattr(self, k) < 1:
                raise ConfigError(f"--{k.replace('_', '-')} must be at least 1")
        if not 350.0 <= self.zprime_mass <= 10000.0:
            raise ConfigError(
                f"--zprime-mass {self.zprime_mass:g}: give a Z' mass between 350 and 10000 GeV"
            )
        if self.events < 100:
            raise ConfigError("--events must be at least 100 (the tagger needs jets to learn)")
        if self.seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {self.seed}")
        for k in ("events", "trigger_events", "signal_events"):
            if self.jobs > getattr(self, k):
                raise ConfigError(
                    f"--jobs ({self.jobs}) exceeds --{k.replace('_', '-')} ({getattr(self, k)})"
                )


@dataclass
class DemoSummary:
    """What the demo prints: per model its test metrics, per path its rate and
    efficiencies, and where the outputs are."""

    output: str
    models: dict[str, dict] = field(default_factory=dict)
    jets: dict[str, int] = field(default_factory=dict)
    trigger: dict = field(default_factory=dict)
    #: the trigger's tagger: its jets, labels and validation figures
    trigger_model: dict = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _null_progress(desc, total):
    return contextlib.nullcontext(lambda n=1: None)


def run_demo(
    cfg: DemoConfig,
    output: str | Path = "hepml-demo",
    *,
    progress: Callable = _null_progress,
    info: Callable[[str], None] = lambda msg: None,
) -> DemoSummary:
    """Run the demo (see the module docstring) into ``output``."""
    from hepml.io.generate import GenerateConfig, generate
    from hepml.reco.pipeline import ReconstructConfig, reconstruct

    cfg.validate()
    plan = [
        ("ttbar", GenerateConfig(process="ttbar", events=cfg.events, seed=cfg.seed,
                                 jobs=cfg.jobs, pthat_min=400.0)),
        ("qcd", GenerateConfig(process="qcd", events=cfg.events, seed=cfg.seed + 1,
                               jobs=cfg.jobs, pthat_min=400.0)),
        ("qcd_biased", GenerateConfig(process="qcd", events=cfg.trigger_events,
                                      seed=cfg.seed + 2, jobs=cfg.jobs, pthat_min=120.0,
                                      pthat_bias=4.0)),
        ("zprime", GenerateConfig(process="zprime_ttbar", mass=cfg.zprime_mass,
                                  events=cfg.signal_events, seed=cfg.seed + 3, jobs=cfg.jobs)),
        # the trigger tagger's samples: jets down to 300 GeV, as the path sees them (the
        # tagging samples' pT-hat > 400 have few, and those few are their softest jets),
        # top and QCD with the same pT-hat cut so that neither is harder than the other;
        # twice the tagging samples' events (its partly merged tops are harder to learn)
        ("qcd_trigger", GenerateConfig(process="qcd", events=TRIGGER_SCALE * cfg.events,
                                       seed=cfg.seed + 4, jobs=cfg.jobs,
                                       pthat_min=TRIGGER_PT_MIN)),
        ("ttbar_trigger", GenerateConfig(process="ttbar", events=TRIGGER_SCALE * cfg.events,
                                         seed=cfg.seed + 5, jobs=cfg.jobs,
                                         pthat_min=TRIGGER_PT_MIN)),
    ]  # fmt: skip
    for _, gen in plan:  # (all of it before the previous demo's folder is emptied)
        gen.validate()
    require("pythia8mc", extra="generate", purpose="the demo's events")
    require("matplotlib", extra="plot", purpose="the demo's plots")
    if cfg.ray:
        require("ray", extra="ray", purpose="the demo's training on Ray")
    out = Path(output)
    _fresh_folder(out)
    summary = DemoSummary(output=str(out.resolve()))
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        summary.seconds[name] = round(now - clock, 1)
        clock = now

    # 1. events
    ev = out / "events"
    paths = {}
    for name, gen in plan:
        paths[name] = ev / f"{name}.root"
        ev.mkdir(exist_ok=True)
        with progress(f"generating {name}", gen.events) as advance:
            generate(gen, paths[name], progress=advance)
    lap("generate")
    # 2. jets
    jets = out / "jets"
    jets.mkdir(exist_ok=True)
    rows = {"top": jets / "top_jets.parquet", "qcd": jets / "qcd_jets.parquet"}
    trigger_rows = {"top": jets / "top_jets_trigger.parquet",
                    "qcd": jets / "qcd_jets_trigger.parquet"}  # fmt: skip
    plan_rows = [  # (sample, label, rows, lowest jet pT, top match, summary key)
        ("ttbar", "top", rows, 400.0, "full", "top"),
        ("qcd", "qcd", rows, 400.0, "full", "qcd"),
        ("ttbar_trigger", "top", trigger_rows, TRIGGER_PT_MIN, "partial", "trigger_top"),
        ("qcd_trigger", "qcd", trigger_rows, TRIGGER_PT_MIN, "full", "trigger_qcd"),
    ]
    sizes = {name: gen.events for name, gen in plan}
    for name, label, where, lo, match, key in plan_rows:
        rc = ReconstructConfig(smear=True, seed=cfg.seed, pt_min=lo, pt_max=1000.0,
                               label=label, top_match=match)  # fmt: skip
        what = f"reconstructing {name}" + (" (trigger tagger)" if where is trigger_rows else "")
        with progress(what, sizes[name]) as advance:
            s = reconstruct([paths[name]], where[label], rc, jobs=cfg.jobs, progress=advance)
        summary.jets[key] = s.jets_out
    lap("reconstruct")
    # 3. training
    runs = out / "models"
    ckpts = {}
    for model in MODELS:
        ckpts[model] = _train(model, cfg, rows, runs / model, info)
    trigger_model = _train(TRIGGER_MODEL, cfg, trigger_rows, runs / TRIGGER_RUN, info,
                           what="the trigger's tagger")  # fmt: skip
    summary.trigger_model = _trigger_model_summary(trigger_model, trigger_rows["top"])
    lap("train")
    # 4. evaluation
    results = _evaluate(ckpts, cfg, out / "evaluation", rows, summary)
    lap("evaluate")
    del results
    # 5. trigger
    summary.trigger, trigger_result = _trigger(
        cfg, paths, trigger_model, out / "trigger", progress, info
    )
    lap("trigger")
    summary.files = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    with atomic_path(out / "summary.json") as tmp, open(tmp, "w") as f:
        json.dump(strict(asdict(summary) | {"config": asdict(cfg)}), f, indent=1, default=str)
    summary.trigger_result = trigger_result  # for the terminal table; not in summary.json
    return summary


#: what the demo writes into its folder; a rerun replaces exactly these
OUTPUTS = ("events", "jets", "models", "evaluation", "trigger", "summary.json")
#: written first into a demo folder: a later run may replace what it holds
MARKER = ".hepml-demo"


def _fresh_folder(out: Path) -> None:
    """Make ``out`` ready for a new run: created if absent; an earlier demo run's outputs
    removed (the trainers refuse to overwrite a run, and stale files would mix with new
    ones). Only a folder the demo made (its marker file, or an older run's
    ``summary.json``) is cleared; a file, or a folder holding anything else (hidden
    files aside), is refused."""
    import shutil

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output-dir {out}: is a file; give a folder (it is created)")
    if out.is_dir():
        entries = [p.name for p in out.iterdir() if not p.name.startswith(".")]
        foreign = sorted(n for n in entries if n not in OUTPUTS)
        ours = (out / MARKER).exists() or (out / "summary.json").is_file()
        if foreign or (entries and not ours):
            shown = foreign or sorted(entries)
            raise ConfigError(
                f"--output-dir {out}: holds {', '.join(shown[:3])}"
                f"{' …' if len(shown) > 3 else ''}, which no earlier demo run wrote; give a "
                "new or empty folder (a demo folder is reused: its outputs are replaced)"
            )
        for name in OUTPUTS:
            path = out / name
            if path.is_symlink() or path.is_file():
                path.unlink()  # (a link itself, never what it points to)
            elif path.is_dir():
                shutil.rmtree(path)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by hepml demo: a rerun replaces this folder's outputs\n")


def _trigger_model_summary(path: Path, top_rows: Path) -> dict:
    """The trigger tagger's best validation epoch (it has no test figures: its jets and
    labels differ from the tagging comparison's), and its jets' range and top rule as
    their file's provenance records them."""
    from hepml.reco.pipeline import read_provenance
    from hepml.train import load_checkpoint

    ckpt = load_checkpoint(path)
    best = next((r for r in ckpt["history"] if r.get("epoch") == ckpt.get("epoch")), {})
    rc = (read_provenance(top_rows) or {}).get("config", {})
    return {"jets": f"{rc.get('pt_min', 0):.0f}-{rc.get('pt_max', 0):.0f} GeV",
            "top_match": rc.get("top_match"), "epoch": ckpt.get("epoch"),
            "val_auc": best.get("val_auc"), "val_rej30": best.get("val_rej30"),
            "path": str(path)}  # fmt: skip


def _train(model: str, cfg: DemoConfig, rows: dict, run: Path, info, what: str = "") -> Path:
    from hepml.train import fit, load_config

    options = {"particlenet-lite": {}, "pfn": {}, "substructure-bdt": {}}[model]
    conf = load_config(overrides={
        "data": {"files": [str(rows["top"]), str(rows["qcd"])], "split_seed": cfg.seed},
        "model": {"name": model, **options},
        "epochs": cfg.epochs, "batch_size": 128, "seed": cfg.seed, "device": "cpu",
        "optimizer": {"lr": 3e-3}, "output": str(run),
    })  # fmt: skip
    on_ray = cfg.ray and model != "substructure-bdt"
    where = "Ray, 2 workers" if on_ray else "one process"
    epochs = "" if model == "substructure-bdt" else f", {cfg.epochs} epochs"
    info(f"training {what or model} ({model}, {where}{epochs})" if what else
         f"training {model} ({where}{epochs})")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if on_ray:
            from hepml.distributed import fit as ray_fit

            ray_fit(conf, num_workers=2, storage_path=str(run / "ray"), max_failures=0,
                    address="local")  # fmt: skip
        else:
            fit(conf)
    return run / "best.pt"


def _evaluate(ckpts: dict, cfg: DemoConfig, out: Path, rows: dict, summary: DemoSummary):
    from hepml import plotting
    from hepml.train import evaluate_checkpoint, load_checkpoint
    from hepml.train.metrics import rejection_error

    out.mkdir(parents=True, exist_ok=True)
    results = []
    for model, path in ckpts.items():
        ckpt = load_checkpoint(path)
        r = evaluate_checkpoint(ckpt, "test", name=model, device="cpu")
        m = dict(r.metrics)
        if cfg.ray and model == "particlenet-lite":
            m["ray_inference"] = _ray_inference(ckpt, path, rows, out)
        for wp in (30, 50):
            m[f"rej{wp}_err"] = rejection_error(r.y, r.score, wp / 100)
        m["test_jets"] = len(r.y)
        summary.models[model] = m
        results.append(r)
    title = f"test split, {len(results[0].y)} jets (400-1000 GeV)"
    plotting.roc_curves(results, out / "roc.png", title)
    plotting.rejection_curves(results, out / "rejection.png", title)
    for r in results:
        plotting.score_histograms(r, out / f"scores_{r.name}.png")
    import matplotlib.pyplot as plt

    plt.close("all")
    with atomic_path(out / "metrics.json") as tmp, open(tmp, "w") as f:
        json.dump(strict(summary.models), f, indent=1, allow_nan=False)
    return results


def _ray_inference(ckpt: dict, path: Path, rows: dict, out: Path) -> dict:
    """Score every jet on 2 Ray actors (hepml.distributed.predict) and check the scores
    against the same model in this process."""
    import awkward as ak
    import numpy as np

    from hepml.distributed import predict
    from hepml.graphs.jets import load_rows
    from hepml.train import predict_rows

    pred_dir = out / "ray_scores"
    summ = predict(path, [rows["top"], rows["qcd"]], pred_dir, num_actors=2, address="local")
    diff, n = 0.0, 0
    for label in ("top", "qcd"):
        local = load_rows(rows[label])
        want = predict_rows(ckpt, local, device="cpu")
        got = ak.from_parquet(pred_dir / f"{rows[label].stem}.scores.parquet")
        key = {(int(e), int(j)): i for i, (e, j) in enumerate(
            zip(ak.to_numpy(local.entry), ak.to_numpy(local.jet_index), strict=True))}  # fmt: skip
        idx = np.array([key[(int(e), int(j))] for e, j in zip(
            ak.to_numpy(got.entry), ak.to_numpy(got.jet_index), strict=True)])  # fmt: skip
        diff = max(diff, float(np.max(np.abs(ak.to_numpy(got.score) - want[idx]))))
        n += len(idx)
    return {"jets": n, "rows_in": summ.rows_in, "scores_out": summ.scores_out,
            "rejected": sum(summ.rejected.values()), "actors": 2,
            "max_abs_diff_vs_local": diff}  # fmt: skip


def _trigger(cfg: DemoConfig, paths: dict, model: Path, out: Path, progress, info):
    from hepml.trigger import Sample, emulate, load_menu
    from hepml.trigger.latency import TOTAL, measure_latency
    from hepml.trigger.report import report_dict, summary_lines, write_report

    menu = load_menu("demo")
    for p in menu.ml_paths:
        if p.object != "event":
            p.model = str(model)
    samples = [Sample("qcd", [str(paths["qcd_biased"])]),
               Sample("zprime", [str(paths["zprime"])], role="signal")]  # fmt: skip
    res = emulate(menu, samples, seed=cfg.seed, progress=progress)
    info(f"timing {cfg.latency_events} events one by one")
    lat = measure_latency(menu, samples[0], events=cfg.latency_events,
                          batch_events=min(cfg.trigger_events, 1000), scorers=res.scorers)  # fmt: skip
    write_report(res, out, latency=lat)
    rep = report_dict(res)
    return {
        "paths": {n: {"rate_hz": d["rate_hz"], "rate_err_hz": d["rate_err_hz"],
                      "threshold": d["threshold"],
                      "eff_zprime": d["efficiency"]["zprime"]["value"], "level": d["level"]}
                  for n, d in rep["paths"].items()},
        "totals_hz": rep["totals_hz"],
        "comparisons": rep["comparisons"],
        "notes": summary_lines(res),
        "latency_ms": {"p50": lat[TOTAL].p50_ms, "p99": lat[TOTAL].p99_ms},
    }, res  # fmt: skip
