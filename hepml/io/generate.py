"""Generate proton–proton collisions with Pythia 8 into hepml's own ROOT layout.

Needs the ``generate`` extra (``pythia8mc``). Events come out of Pythia in
batches as awkward arrays (``Pythia.nextBatch``), so particles are extracted
without a Python loop over particles.

Output (DESIGN.md): tree ``events`` with jagged ``particle_{px,py,pz,E,pid,charge}``
(final state; neutrinos dropped unless ``keep_neutrinos``), ``parton_{px,py,pz,E,
pid,status,mother}`` (the hard process and resonance decays: tops, their b and W,
the W and Z decay products; ``mother`` indexes the parton list, -1 when not
stored), ``met_pt``/``met_phi`` (the neutrinos' transverse momentum), ``weight``
(the generator weight), ``run`` (the job's Pythia seed) and ``event``; tree
``runinfo`` with one row per job (see :mod:`hepml.io.runinfo`).

**pT-hat-biased samples** (``pthat_bias``, for trigger rates over a wide range of
thresholds from one sample): Pythia's ``PhaseSpace:bias2Selection`` samples a
2 → 2 process ``(pT-hat / ref)^pow`` times more often and gives each event the
compensating weight

.. math::

    w = \\left(\\frac{p_{T,\\mathrm{ref}}}{\\hat p_T}\\right)^{\\mathrm{pow}}

(``ref`` defaults to the pT-hat minimum, so weights are at most 1). The runinfo
cross-section stays the unbiased total, so a rate is still
``luminosity * sigma * (sum of weights passing) / (sum of all weights)``; the
power and reference are recorded in runinfo. For pT-hat bins (several samples
with disjoint ``[pthat_min, pthat_max)``) see :func:`hepml.io.runinfo.event_weights_pb`.

Example (``jobs > 1`` starts processes the ``spawn`` way, which import the calling
script again: in a script, keep the calls under ``if __name__ == "__main__":``; a
notebook needs nothing)::

    from hepml.io.generate import GenerateConfig, generate

    if __name__ == "__main__":
        result = generate(GenerateConfig(process="ttbar", events=1000, seed=1, jobs=2),
                          "ttbar.root")
        print(result.cross_section_pb, result.events_per_second)
        # QCD from 200 GeV to beyond 1 TeV in one sample, weights (200 / pT-hat)^4
        generate(GenerateConfig(process="qcd", events=5000, pthat_min=200, pthat_bias=4),
                 "qcd.root")
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from hepml._version import __version__
from hepml.errors import ConfigError, HepmlError
from hepml.extras import require
from hepml.io.runinfo import RunInfo, combine_runinfo
from hepml.io.write import write_root

__all__ = [
    "PROCESSES",
    "PTHAT_PROCESSES",
    "GenerateConfig",
    "GenerateResult",
    "check_output",
    "final_state",
    "generate",
    "pythia_settings",
]

MB_TO_PB = 1.0e9
NEUTRINOS = (12, 14, 16)
RESONANCES = (6, 23, 24, 25, 32)

#: Pythia settings of each process; ``{mass}`` is the Z' mass in GeV.
PROCESSES: dict[str, tuple[str, ...]] = {
    "ttbar": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
    "qcd": ("HardQCD:all = on",),
    "zprime_ttbar": (
        "NewGaugeBoson:ffbar2gmZZprime = on",
        "Zprime:gmZmode = 3",
        "32:m0 = {mass}",
        "32:onMode = off",
        "32:onIfAny = 6",
    ),
    "wjets": ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on"),
    "zjets": (
        "WeakBosonAndParton:qqbar2gmZg = on",
        "WeakBosonAndParton:qg2gmZq = on",
        "WeakZ0:gmZmode = 2",
    ),
}
#: Default minimum pT-hat (GeV) of each process: a dijet sample needs one.
DEFAULT_PTHAT_MIN = {"qcd": 200.0, "wjets": 20.0, "zjets": 20.0}
#: Processes whose hard scattering is 2 -> 2, so that pT-hat exists and can be biased.
PTHAT_PROCESSES = ("qcd", "ttbar", "wjets", "zjets")
#: Largest bias power Pythia accepts (``PhaseSpace:bias2SelectionPow``).
MAX_PTHAT_BIAS = 10.0
#: Pythia settings hepml writes from config fields (and records in runinfo), by
#: lower-case key: the field to use instead of ``settings``.
RESERVED_SETTINGS = {
    "phasespace:pthatmin": "pthat_min (--pthat-min)",
    "phasespace:pthatmax": "pthat_max (--pthat-max)",
    "phasespace:bias2selection": "pthat_bias (--pthat-bias)",
    "phasespace:bias2selectionpow": "pthat_bias (--pthat-bias)",
    "phasespace:bias2selectionref": "pthat_bias_ref (--pthat-bias-ref)",
    "random:seed": "seed (--seed; job j uses Pythia seed 1 + seed + j)",
    "random:setseed": "seed (--seed; job j uses Pythia seed 1 + seed + j)",
    "beams:ecm": "ecm (--ecm)",
    "beams:ea": "ecm (--ecm)",
    "beams:eb": "ecm (--ecm)",
    # (the Z' mass is recorded in runinfo: samples of different masses must not combine)
    "32:m0": "mass (--mass, for zprime_ttbar)",
    "32:mmin": "mass (--mass, for zprime_ttbar)",
    "32:mmax": "mass (--mass, for zprime_ttbar)",
}


@dataclass
class GenerateConfig:
    """What to generate; every field is recorded in the output's runinfo."""

    process: str = "ttbar"
    events: int = 1000
    seed: int = 1
    jobs: int = 1
    pthat_min: float | None = None
    pthat_max: float | None = None
    pthat_bias: float | None = None  # power p: sample (pT-hat/ref)^p more, weight (ref/pT-hat)^p
    pthat_bias_ref: float | None = None  # GeV; default: the pT-hat minimum
    ecm: float = 13000.0
    mass: float | None = None  # Z' mass (GeV) for zprime_ttbar; default 2000
    keep_neutrinos: bool = False
    merge: bool = True  # one output file; else one per job (name_jobN.root)
    batch: int = 50
    settings: list[str] = field(default_factory=list)  # extra Pythia "Key = value" lines

    @property
    def effective_mass(self) -> float | None:
        """The Z' mass Pythia uses (GeV): ``mass`` or 2000 for ``zprime_ttbar``; else None."""
        if self.process != "zprime_ttbar":
            return None
        return float(self.mass) if self.mass is not None else 2000.0

    @property
    def effective_pthat_min(self) -> float:
        """The pT-hat minimum Pythia uses (GeV): ``pthat_min`` or the process default (0)."""
        if self.pthat_min is not None:
            return float(self.pthat_min)
        return float(DEFAULT_PTHAT_MIN.get(self.process, 0.0))

    @property
    def effective_pthat_bias_ref(self) -> float | None:
        """The bias reference pT-hat (GeV): ``pthat_bias_ref`` or the pT-hat minimum;
        None when unbiased."""
        if self.pthat_bias is None:
            return None
        if self.pthat_bias_ref is not None:
            return float(self.pthat_bias_ref)
        return self.effective_pthat_min

    def validate(self) -> None:
        if self.process not in PROCESSES:
            raise ConfigError(
                f"unknown process {self.process!r}; choose one of {sorted(PROCESSES)}"
            )
        if self.events < 1:
            raise ConfigError(f"--events must be at least 1, got {self.events}")
        if self.jobs < 1:
            raise ConfigError(f"--jobs must be at least 1, got {self.jobs}")
        if self.jobs > self.events:
            raise ConfigError(f"--jobs ({self.jobs}) exceeds --events ({self.events})")
        if self.seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {self.seed}")
        lo, hi = self.pthat_min, self.pthat_max
        if (lo is not None or hi is not None) and self.process not in PTHAT_PROCESSES:
            raise ConfigError(
                f"{self.process!r} is a 2 -> 1 process: Pythia applies no pT-hat cut to it, "
                "so --pthat-min/--pthat-max would be recorded (and files combined as pT-hat "
                "bins) without cutting anything; drop them and select on the objects instead"
            )
        if lo is not None and lo < 0:
            raise ConfigError(f"--pthat-min must be >= 0, got {lo}")
        if hi is not None and lo is not None and hi <= lo:
            raise ConfigError(f"--pthat-max ({hi}) must exceed --pthat-min ({lo})")
        if hi is not None and lo is None and hi <= self.effective_pthat_min:
            raise ConfigError(
                f"--pthat-max ({hi}) must exceed the pT-hat minimum of {self.process!r} "
                f"({self.effective_pthat_min:g} GeV); lower it with --pthat-min"
            )
        if self.ecm <= 0:
            raise ConfigError(f"--ecm must be positive, got {self.ecm}")
        if self.mass is not None and self.process != "zprime_ttbar":
            raise ConfigError(
                f"--mass ({self.mass:g}) is the Z' mass of zprime_ttbar; {self.process!r} "
                "has none: drop --mass"
            )
        if self.mass is not None and not self.mass > 0:
            raise ConfigError(f"--mass must be a positive mass in GeV, got {self.mass}")
        self._validate_bias()
        for s in self.settings:
            if "=" not in s:
                raise ConfigError(f"Pythia setting {s!r} is not of the form 'Key = value'")
            use = RESERVED_SETTINGS.get(s.split("=", 1)[0].strip().lower())
            if use is not None:
                raise ConfigError(
                    f"Pythia setting {s!r}: set it with {use} instead, so that runinfo records "
                    "it (cross-sections of pT-hat bins and biased samples are combined from it)"
                )

    def _validate_bias(self) -> None:
        power, ref = self.pthat_bias, self.pthat_bias_ref
        if power is None:
            if ref is not None:
                raise ConfigError(
                    f"--pthat-bias-ref ({ref}) is only used with --pthat-bias; "
                    "add --pthat-bias POW (4 is usual) or drop it"
                )
            return
        if not 0 < power <= MAX_PTHAT_BIAS:
            raise ConfigError(
                f"--pthat-bias must be a power > 0 and <= {MAX_PTHAT_BIAS:g} (4 is usual), "
                f"got {power}"
            )
        if self.process not in PTHAT_PROCESSES:
            raise ConfigError(
                f"--pthat-bias needs a 2 -> 2 process with a pT-hat ({', '.join(PTHAT_PROCESSES)}); "
                f"{self.process!r} has none: generate it without --pthat-bias"
            )
        if self.effective_pthat_min <= 0:
            raise ConfigError(
                f"--pthat-bias needs --pthat-min > 0 for {self.process!r}: an event at "
                "pT-hat 0 would get an infinite weight"
            )
        ref = self.effective_pthat_bias_ref
        if ref is None or not (math.isfinite(ref) and ref >= 1.0):
            raise ConfigError(
                f"--pthat-bias-ref must be a pT-hat of at least 1 GeV (Pythia's limit), got {ref}"
            )


@dataclass
class GenerateResult:
    """What :func:`generate` made."""

    outputs: list[Path]
    runinfo: RunInfo
    events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")

    @property
    def cross_section_pb(self) -> float:
        return self.runinfo.cross_section_pb


def pythia_seed(seed: int, job: int) -> int:
    """Pythia's seed of job ``job``: in 1..900,000,000 (0 would mean 'from the clock')."""
    return 1 + (seed + job) % 899_999_999


def pythia_settings(cfg: GenerateConfig, job: int = 0) -> list[str]:
    """The full list of Pythia settings for one job."""
    out = [
        f"Beams:eCM = {cfg.ecm}",
        *(s.format(mass=cfg.effective_mass) for s in PROCESSES[cfg.process]),
        "Random:setSeed = on",
        f"Random:seed = {pythia_seed(cfg.seed, job)}",
        "Print:quiet = on",
        "Next:numberCount = 0",
        "Next:numberShowEvent = 0",
        "Next:numberShowInfo = 0",
        "Next:numberShowProcess = 0",
    ]
    lo = cfg.pthat_min if cfg.pthat_min is not None else DEFAULT_PTHAT_MIN.get(cfg.process)
    if lo is not None:
        out.append(f"PhaseSpace:pTHatMin = {lo}")
    if cfg.pthat_max is not None:
        out.append(f"PhaseSpace:pTHatMax = {cfg.pthat_max}")
    if cfg.pthat_bias is not None:
        out += [
            "PhaseSpace:bias2Selection = on",
            f"PhaseSpace:bias2SelectionPow = {cfg.pthat_bias}",
            f"PhaseSpace:bias2SelectionRef = {cfg.effective_pthat_bias_ref}",
        ]
    out.extend(cfg.settings)
    return out


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """Silence C++ output on file descriptors 1 and 2 (Pythia's banners and tables)."""
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def _charge_table(pythia, pids: np.ndarray) -> np.ndarray:
    uniq, inverse = np.unique(pids, return_inverse=True)
    charges = np.array([pythia.particleData.charge(int(p)) for p in uniq], dtype=np.float64)
    return np.rint(charges[inverse]).astype(np.int8)


def _rank_within_event(mask: ak.Array) -> ak.Array:
    """For each entry, how many selected entries precede it in its event (jagged)."""
    counts = ak.to_numpy(ak.num(mask))
    flat = ak.to_numpy(ak.flatten(mask)).astype(np.int64)
    cs = np.cumsum(flat)
    before = np.concatenate([[0], cs])[np.concatenate([[0], np.cumsum(counts)[:-1]])]
    return ak.unflatten(cs - 1 - np.repeat(before, counts), counts)


def _invisible(absid: ak.Array) -> ak.Array:
    return (absid == 12) | (absid == 14) | (absid == 16)


def _final_state_mask(prt: ak.Array, keep_neutrinos: bool) -> ak.Array:
    """Final-state particles (status > 0), without neutrinos unless asked."""
    final = prt.status > 0
    return final if keep_neutrinos else final & ~_invisible(abs(prt.id))


def _extract(batch: ak.Array, pythia, keep_neutrinos: bool, event0: int, run: int) -> dict:
    """hepml's event layout from one Pythia batch (vectorised over the batch)."""
    prt = batch.prt
    status, pid = prt.status, prt.id
    absid = abs(pid)
    invisible, final = _invisible(absid), status > 0
    keep = _final_state_mask(prt, keep_neutrinos)
    p = prt.p[keep]
    ids = pid[keep]
    counts = ak.num(ids)
    flat_ids = ak.to_numpy(ak.flatten(ids))
    charge = ak.unflatten(_charge_table(pythia, flat_ids), counts)
    particle = ak.zip(
        {
            "px": ak.values_astype(p.px, np.float32),
            "py": ak.values_astype(p.py, np.float32),
            "pz": ak.values_astype(p.pz, np.float32),
            "E": ak.values_astype(p.e, np.float32),
            "pid": ak.values_astype(ids, np.int32),
            "charge": charge,
        }
    )
    # hard process (|status| 21-29) and the decaying copies of resonances
    d1 = prt.daughter1
    last_copy = pid[ak.where(d1 > 0, d1, 0)] != pid
    is_res = (absid == 6) | (absid == 23) | (absid == 24) | (absid == 25) | (absid == 32)
    hard = (abs(status) >= 21) & (abs(status) <= 29)
    sel = hard | (is_res & last_copy & (d1 > 0))
    new_index = _rank_within_event(sel)
    m1 = prt.mother1
    for _ in range(50):  # climb over unstored recoil copies of the same particle
        climb = ~sel[m1] & (pid[m1] == pid) & (m1 > 0)
        if not ak.any(climb):
            break
        m1 = ak.where(climb, prt.mother1[m1], m1)
    mother = ak.where(sel[m1], new_index[m1], -1)[sel]
    q = prt.p[sel]
    parton = ak.zip(
        {
            "px": q.px,
            "py": q.py,
            "pz": q.pz,
            "E": q.e,
            "pid": ak.values_astype(pid[sel], np.int32),
            "status": ak.values_astype(status[sel], np.int32),
            "mother": ak.values_astype(mother, np.int32),
        }
    )
    nu = prt.p[final & invisible]
    mpx = ak.to_numpy(ak.sum(nu.px, axis=1))
    mpy = ak.to_numpy(ak.sum(nu.py, axis=1))
    weight = ak.to_numpy(ak.fill_none(ak.firsts(batch.info.weights), 1.0)).astype(np.float64)
    n = len(batch)
    return {
        "particle": particle,
        "parton": parton,
        "met_pt": np.hypot(mpx, mpy),
        "met_phi": np.arctan2(mpy, mpx),
        "weight": weight,
        "run": np.full(n, run, dtype=np.int32),
        "event": np.arange(event0, event0 + n, dtype=np.int64),
    }


def _start_pythia(cfg: GenerateConfig, job: int):
    """A silenced, initialised Pythia for job ``job`` of ``cfg``."""
    pythia8 = require("pythia8mc", extra="generate", purpose="event generation")
    with _silenced():
        pythia = pythia8.Pythia("", False)
        for s in pythia_settings(cfg, job):
            if not pythia.readString(s):
                raise ConfigError(f"Pythia rejected the setting {s!r}")
        if not pythia.init():
            extra = (
                " and --pthat-bias (Pythia biases 2 -> 2 processes only)" if cfg.pthat_bias else ""
            )
            raise HepmlError(
                f"Pythia failed to initialise {cfg.process!r}; check the settings{extra}"
            )
    return pythia


def _pythia_batches(pythia, cfg: GenerateConfig, n_events: int) -> Iterator[ak.Array]:
    """``n_events`` events as Pythia batches (awkward), failed events skipped."""
    made = failures = 0
    while made < n_events:
        with _silenced():
            batch = pythia.nextBatch(min(cfg.batch, n_events - made), "skip")
        if len(batch) == 0:
            failures += 1
            if failures > 10:
                raise HepmlError(f"Pythia keeps failing to generate {cfg.process!r} events")
            continue
        made += len(batch)
        yield batch


def final_state(cfg: GenerateConfig, job: int = 0) -> ak.Array:
    """``cfg.events`` events in memory, no file: final-state particles per event as
    ``var * {px, py, pz, E}`` (float64) with ``pid`` — the same settings, seed and
    selection as :func:`generate` (for tests and benchmarks that need particles)."""
    cfg.validate()
    pythia = _start_pythia(cfg, job)
    parts = []
    for batch in _pythia_batches(pythia, cfg, cfg.events):
        prt = batch.prt[_final_state_mask(batch.prt, cfg.keep_neutrinos)]
        p = prt.p
        parts.append(ak.zip({"px": p.px, "py": p.py, "pz": p.pz, "E": p.e, "pid": prt.id}))
    return ak.concatenate(parts) if len(parts) > 1 else parts[0]


def _job(cfg: GenerateConfig, job: int, n_events: int, event0: int, out: str, report) -> dict:
    """Generate ``n_events`` into ``out``; return this job's runinfo row."""
    pythia = _start_pythia(cfg, job)
    made = 0
    sum_w = 0.0
    # run = the job's Pythia seed: (run, event) then names an event across separate
    # generate calls too (seeds of one process never repeat: runinfo refuses files that
    # share one)
    run = pythia_seed(cfg.seed, job)

    def batches() -> Iterator[dict]:
        nonlocal made, sum_w
        for batch in _pythia_batches(pythia, cfg, n_events):
            chunk = _extract(batch, pythia, cfg.keep_neutrinos, event0 + made, run)
            made += len(batch)
            sum_w += float(chunk["weight"].sum())
            report(len(batch))
            yield chunk

    def runinfo_row() -> dict:
        info = pythia.infoPython()
        return {
            "process": cfg.process,
            "cross_section_pb": info.sigmaGen() * MB_TO_PB,
            "cross_section_error_pb": info.sigmaErr() * MB_TO_PB,
            "events_tried": int(info.nTried()),
            "events_accepted": int(info.nAccepted()),
            "sum_weights": sum_w,
            "seed": pythia_seed(cfg.seed, job),
            "generator": f"pythia8mc {pythia.parm('Pythia:versionNumber'):.3f}",
            "ecm_gev": cfg.ecm,
            "pthat_min": cfg.effective_pthat_min,
            "pthat_max": float(cfg.pthat_max if cfg.pthat_max is not None else -1.0),
            "pthat_bias": float(cfg.pthat_bias or 0.0),
            "pthat_bias_ref": float(cfg.effective_pthat_bias_ref or 0.0),
            "mass_gev": float(cfg.effective_mass or -1.0),  # (-1: no Z')
            "keep_neutrinos": int(cfg.keep_neutrinos),
            "settings": "; ".join(cfg.settings),
            "hepml_version": __version__,
        }

    # runinfo needs the counts at the end, so it is written after the events
    rows: list[dict] = []

    def runinfo_rows() -> Iterator[dict]:
        rows.append(runinfo_row())  # after the events: it needs the final counts
        yield _rows_to_columns(rows)

    write_root(out, {"events": batches(), "runinfo": runinfo_rows()})
    return rows[0]


def _rows_to_columns(rows: list[dict]) -> dict:
    cols = {}
    for k in rows[0]:
        vals = [r[k] for r in rows]
        cols[k] = ak.Array(vals) if isinstance(vals[0], str) else np.asarray(vals)
    return cols


class _ParentGone(Exception):
    """A generator job's parent process is gone: the job stops."""


def _job_entry(cfg_dict: dict, job: int, n: int, event0: int, out: str, queue) -> None:
    """Worker process body: report progress and the result (or the error) on ``queue``."""
    parent = os.getppid()

    def report(k: int) -> None:
        if os.getppid() != parent:  # the parent died (SIGKILL): stop, leave nothing behind
            raise _ParentGone()
        queue.put(("n", k))

    try:
        row = _job(GenerateConfig(**cfg_dict), job, n, event0, out, report)
        queue.put(("done", job, row))
    except _ParentGone:  # (its temporary file is gone; nobody reads the queue any more)
        queue.cancel_join_thread()
    except BaseException as err:  # the parent re-raises it with context
        queue.put(("error", job, f"{type(err).__name__}: {err}", isinstance(err, HepmlError)))


def _split(n: int, jobs: int) -> list[int]:
    base, extra = divmod(n, jobs)
    return [base + (1 if j < extra else 0) for j in range(jobs)]


def check_output(output: str | os.PathLike) -> Path:
    """The output path, if its folder exists and it names a ROOT file."""
    output = Path(output)
    if not output.parent.exists():
        raise ConfigError(f"{output}: output folder {output.parent} does not exist")
    if output.suffix != ".root":
        raise ConfigError(f"{output}: hepml generate writes ROOT files; use a .root name")
    if output.is_dir():
        raise ConfigError(f"{output}: is a folder; give a file name to write")
    return output


def generate(
    cfg: GenerateConfig,
    output: str | os.PathLike,
    *,
    progress: Callable[[int], None] | None = None,
) -> GenerateResult:
    """Generate ``cfg.events`` events of ``cfg.process`` into ``output``.

    With ``jobs > 1`` each job is a process with its own seed (job ``j`` uses
    Pythia seed ``1 + (seed + j) mod 899999999``); the outputs are merged into
    ``output`` unless ``merge`` is false, in which case ``output`` with
    ``_jobN`` before the suffix is written for every job. ``progress`` is
    called with the number of events made since its last call. With
    ``pthat_bias`` the events carry weights ``(ref / pT-hat)^pow`` and the
    runinfo cross-section is the unbiased one.
    """
    cfg.validate()
    require("pythia8mc", extra="generate", purpose="event generation")
    output = check_output(output)
    report = progress or (lambda k: None)
    sizes = _split(cfg.events, cfg.jobs)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    t0 = time.perf_counter()
    if cfg.jobs == 1:
        rows = [_job(cfg, 0, cfg.events, 0, str(output), report)]
        parts = [output]
    elif not cfg.merge:  # one file per job, under its final name
        parts = [output.with_name(f"{output.stem}_job{j}{output.suffix}") for j in range(cfg.jobs)]
        rows = _run_jobs(cfg, sizes, starts, parts, report)
    else:  # jobs write hidden files (never a user's OUT_jobN.root), merged, then removed
        parts = [
            output.with_name(f".{output.stem}.job{j}.{os.getpid()}{output.suffix}")
            for j in range(cfg.jobs)
        ]
        try:
            rows = _run_jobs(cfg, sizes, starts, parts, report)
            _merge(parts, rows, output)
        finally:
            for p in parts:
                p.unlink(missing_ok=True)
    seconds = time.perf_counter() - t0
    outputs = [output] if cfg.jobs > 1 and cfg.merge else parts
    cols = _rows_to_columns(rows)
    row_files = [str(p) for p in parts] if len(outputs) > 1 else [str(output)] * len(rows)
    info = combine_runinfo(
        {k: np.asarray(ak.to_list(v)) for k, v in cols.items()},
        [str(p) for p in outputs],
        row_files,
    )
    return GenerateResult(outputs=outputs, runinfo=info, events=cfg.events, seconds=seconds)


def _run_jobs(cfg, sizes, starts, parts, report) -> list[dict]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    cfg_dict = asdict(cfg)
    procs = [
        ctx.Process(
            target=_job_entry, args=(cfg_dict, j, sizes[j], int(starts[j]), str(parts[j]), queue)
        )
        for j in range(cfg.jobs)
    ]
    for p in procs:
        p.start()
    rows: dict[int, dict] = {}
    try:
        while len(rows) < len(procs):
            try:
                msg = queue.get(timeout=5)
            except Exception:
                dead = [j for j, p in enumerate(procs) if not p.is_alive() and j not in rows]
                if dead and queue.empty():
                    raise HepmlError(
                        f"generator job(s) {dead} died without a result (exit codes "
                        f"{[procs[j].exitcode for j in dead]}); rerun with --jobs 1 to see why "
                        "(from a script: are the calls under if __name__ == '__main__':? "
                        "--jobs starts processes that import the script again)"
                    ) from None
                continue
            if msg[0] == "n":
                report(msg[1])
            elif msg[0] == "done":
                rows[msg[1]] = msg[2]
            else:
                _, job, text, user_error = msg
                err_cls = HepmlError if user_error else RuntimeError
                raise err_cls(f"generator job {job} failed: {text}")
    finally:
        for p in procs:
            if p.is_alive() and len(rows) < len(procs):
                p.terminate()
            p.join()
        if len(rows) < len(procs):  # a terminated job leaves its temporary file
            for j, part in enumerate(parts):
                for tmp in part.parent.glob(f".{part.name}.*.part"):
                    tmp.unlink(missing_ok=True)
                if j in rows:  # (this run's file; an earlier run's of that name stays)
                    part.unlink(missing_ok=True)
    return [rows[j] for j in range(len(procs))]


def _merge(parts: list[Path], rows: list[dict], output: Path) -> None:
    """Concatenate the jobs' event trees (chunk by chunk) and their runinfo rows."""

    def chunks() -> Iterator[dict]:
        for p in parts:
            with uproot.open(p) as f:
                for arr in f["events"].iterate(step_size="100 MB"):
                    yield _to_writable(arr)

    write_root(output, {"events": chunks(), "runinfo": _rows_to_columns(rows)})


def _to_writable(arr: ak.Array) -> dict:
    """Raw branches read back -> the dict layout uproot writes (records per prefix)."""
    out: dict = {}
    groups: dict[str, dict] = {}
    for name in arr.fields:
        if name.startswith("n") and name[1:] in ("particle", "parton"):
            continue
        prefix, _, rest = name.partition("_")
        if prefix in ("particle", "parton"):
            groups.setdefault(prefix, {})[rest] = arr[name]
        else:
            out[name] = ak.to_numpy(arr[name])
    for prefix, fields in groups.items():
        out[prefix] = ak.zip(fields)
    return out
