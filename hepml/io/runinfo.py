"""Run information of hepml's own files: cross-sections, counts, seeds, pT-hat bins.

``hepml generate`` writes a ``runinfo`` tree with one row per generator job:
``process``, ``cross_section_pb``, ``cross_section_error_pb``, ``events_tried``,
``events_accepted``, ``sum_weights``, ``seed``, ``generator``, ``ecm_gev``,
``pthat_min``, ``pthat_max`` (-1: none), ``pthat_bias`` (the power of a
pT-hat-biased sample, 0: unbiased), ``pthat_bias_ref`` (its reference pT-hat in
GeV, 0: unbiased) and ``hepml_version``. Files written before the bias columns
existed read as unbiased. :func:`read_runinfo` combines the rows of many files of
one process.

**Jobs of one sample.** Rows with the same pT-hat range are independent
estimates of the same cross-section, each an average over its tried events, so
they combine weighted by ``events_tried``:

.. math::

    \\sigma_b = \\frac{\\sum_{i \\in b} n_i \\sigma_i}{\\sum_{i \\in b} n_i},\\qquad
    \\delta\\sigma_b = \\frac{\\sqrt{\\sum_{i \\in b} (n_i\\,\\delta\\sigma_i)^2}}{\\sum_{i \\in b} n_i},
    \\qquad W_b = \\sum_{i \\in b} \\texttt{sum\\_weights}_i

**pT-hat bins.** Samples of disjoint pT-hat ranges ``[pthat_min, pthat_max)``
of one process (the standard way to cover many trigger thresholds) are pieces
of one phase space: their cross-sections add and each bin's events are
normalised by that bin's own sum of weights,

.. math::

    \\sigma = \\sum_b \\sigma_b,\\qquad
    \\delta\\sigma = \\sqrt{\\sum_b \\delta\\sigma_b^2},\\qquad
    w^{\\mathrm{pb}}_e = \\sigma_{b(e)}\\,\\frac{w_e}{W_{b(e)}}

so that a rate is ``luminosity * sum of w_pb over passing events`` (1 pb =
1e-36 cm², so L = 2e34 cm⁻²s⁻¹ gives 2e-2 Hz per pb). Overlapping ranges, or
two biases in one range, are refused: they would double count.

**pT-hat-biased samples.** With ``pthat_bias = p`` Pythia samples
``(pT-hat / ref)^p`` more often and gives each event the compensating weight
``(ref / pT-hat)^p``; the cross-section stays the unbiased total. The same
formula (one bin: ``rate = luminosity * sigma * (sum of weights passing) /
sum_weights``) then holds, with many more events at high pT-hat.

Example::

    from hepml.io.runinfo import event_weights_pb, read_runinfo
    info = read_runinfo(["qcd_200_400.root", "qcd_400_inf.root"])  # two pT-hat bins
    w_pb = event_weights_pb(["qcd_200_400.root", "qcd_400_inf.root"])  # one per event
    rate_hz = 2e34 * 1e-36 * w_pb[passing].sum()
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from hepml.errors import InputError
from hepml.io.reader import expand_paths, open_root, unreadable

__all__ = [
    "PtHatBin",
    "RunInfo",
    "combine_runinfo",
    "event_weights_pb",
    "read_runinfo",
    "require_runinfo",
]

#: Columns every runinfo tree has.
REQUIRED_COLUMNS = (
    "process",
    "cross_section_pb",
    "cross_section_error_pb",
    "events_tried",
    "events_accepted",
    "sum_weights",
    "seed",
    "generator",
)
#: Columns added later, with the value that files written before them mean.
OPTIONAL_COLUMNS: dict[str, float] = {
    "ecm_gev": math.nan,
    "pthat_min": 0.0,
    "pthat_max": -1.0,
    "pthat_bias": 0.0,
    "pthat_bias_ref": 0.0,
}


@dataclass
class PtHatBin:
    """One pT-hat range ``[pthat_min, pthat_max)`` of a process and its combined jobs."""

    pthat_min: float
    pthat_max: float | None  # None: no upper limit
    pthat_bias: float  # 0: unbiased
    pthat_bias_ref: float  # GeV; 0 when unbiased
    cross_section_pb: float
    cross_section_error_pb: float
    events_tried: int
    events_accepted: int
    sum_weights: float
    files: list[str] = field(default_factory=list)

    @property
    def pb_per_weight(self) -> float:
        """Cross-section in pb carried by a unit of generator weight: ``sigma_b / W_b``."""
        return self.cross_section_pb / self.sum_weights if self.sum_weights else 0.0

    def describe(self) -> str:
        """``[200, 400) GeV`` (with the bias when there is one)."""
        hi = "inf" if self.pthat_max is None else f"{self.pthat_max:g}"
        text = f"[{self.pthat_min:g}, {hi}) GeV"
        if self.pthat_bias:
            text += f" biased ^{self.pthat_bias:g} (ref {self.pthat_bias_ref:g} GeV)"
        return text


@dataclass
class RunInfo:
    """Combined run information of one process over one or more files.

    ``cross_section_pb`` is the total over the pT-hat bins (the unbiased one for
    biased samples); ``bins`` holds each range; :meth:`pb_per_weight` gives the
    factor that turns a file's ``weight`` into pb.
    """

    process: str
    cross_section_pb: float
    cross_section_error_pb: float
    events_tried: int
    events_accepted: int
    sum_weights: float
    seeds: list[int] = field(default_factory=list)
    generator: str = ""
    files: list[str] = field(default_factory=list)
    ecm_gev: float = math.nan
    bins: list[PtHatBin] = field(default_factory=list)
    file_bins: dict[str, int] = field(default_factory=dict)  # file -> index into bins

    @property
    def pthat_bias(self) -> float:
        """The bias power of the sample (0: unbiased); the largest when bins differ."""
        return max((b.pthat_bias for b in self.bins), default=0.0)

    def weight_per_event(self) -> float:
        """Cross-section in pb carried by one event of unit generator weight.

        Only defined for one pT-hat bin; with several, each bin has its own
        factor: use :meth:`pb_per_weight` or :func:`event_weights_pb`.
        """
        if len(self.bins) > 1:
            raise InputError(
                f"{', '.join(self.files)}: {len(self.bins)} pT-hat bins, each with its own "
                "pb per unit weight; use RunInfo.pb_per_weight(file) or event_weights_pb(files)"
            )
        return self.cross_section_pb / self.sum_weights if self.sum_weights else 0.0

    def bin_of(self, file: str | os.PathLike) -> PtHatBin:
        """The pT-hat bin the events of ``file`` belong to."""
        key = os.fspath(file)
        index = self.file_bins.get(key)
        if index is None:
            by_abs = {os.path.abspath(k): v for k, v in self.file_bins.items()}
            index = by_abs.get(os.path.abspath(key))
        if index is None:
            raise InputError(
                f"{key}: not one of the files this run information was read from "
                f"({', '.join(self.files)}); read the runinfo of all the files you weight"
            )
        return self.bins[index]

    def pb_per_weight(self, file: str | os.PathLike) -> float:
        """pb per unit of generator weight for the events of ``file``: ``sigma_b / W_b``.

        A chunk streamed with :func:`hepml.io.open_events` is weighted in pb by
        ``events.weight * info.pb_per_weight(events.attrs["hepml"]["file"])``.
        """
        return self.bin_of(file).pb_per_weight


def _columns(rows: dict[str, Sequence], where: str) -> dict[str, np.ndarray]:
    """Runinfo columns as arrays, optional ones filled in, required ones checked."""
    missing = [k for k in REQUIRED_COLUMNS if k not in rows]
    if missing:
        raise InputError(
            f"{where}: runinfo lacks {missing}; it was not written by 'hepml generate'"
        )
    n = len(rows["process"])
    cols = {k: np.asarray(v) for k, v in rows.items()}
    for k, default in OPTIONAL_COLUMNS.items():
        if k not in cols:
            cols[k] = np.full(n, default, dtype=np.float64)
    return cols


def _combine_bin(cols: dict[str, np.ndarray], idx: np.ndarray, files: list[str]) -> PtHatBin:
    n = cols["events_tried"][idx].astype(np.float64)
    sig = cols["cross_section_pb"][idx].astype(np.float64)
    err = cols["cross_section_error_pb"][idx].astype(np.float64)
    total = n.sum()
    hi = float(cols["pthat_max"][idx[0]])
    return PtHatBin(
        pthat_min=float(cols["pthat_min"][idx[0]]),
        pthat_max=hi if hi > 0 else None,
        pthat_bias=float(cols["pthat_bias"][idx[0]]),
        pthat_bias_ref=float(cols["pthat_bias_ref"][idx[0]]),
        cross_section_pb=float((n * sig).sum() / total) if total else 0.0,
        cross_section_error_pb=float(np.sqrt(((n * err) ** 2).sum()) / total) if total else 0.0,
        events_tried=int(total),
        events_accepted=int(np.sum(cols["events_accepted"][idx])),
        sum_weights=float(np.sum(cols["sum_weights"][idx].astype(np.float64))),
        files=files,
    )


def combine_runinfo(
    rows: dict[str, Sequence],
    files: list[str],
    row_files: Sequence[str] | None = None,
) -> RunInfo:
    """Combine runinfo rows (columns as arrays) of a single process.

    Rows of the same pT-hat range are jobs of one sample (cross-sections
    averaged, weighted by ``events_tried``); disjoint ranges are pT-hat bins
    (cross-sections added). ``row_files`` names the file of each row, so that
    :meth:`RunInfo.pb_per_weight` knows each file's bin; without it every file
    maps to the bin when there is only one.
    """
    where = ", ".join(files)
    cols = _columns(rows, where)
    procs = sorted(set(cols["process"].tolist()))
    if len(procs) != 1:
        raise InputError(f"{where}: runinfo mixes processes {procs}; combine files of one process")
    ecms = {float(e) for e in cols["ecm_gev"] if not math.isnan(float(e))}
    if len(ecms) > 1:
        raise InputError(
            f"{where}: runinfo mixes centre-of-mass energies {sorted(ecms)} GeV; "
            "combine files of one energy"
        )
    masses = {float(m) for m in cols.get("mass_gev", []) if float(m) > 0}
    if len(masses) > 1:
        raise InputError(
            f"{where}: runinfo mixes Z' masses {sorted(masses)} GeV; combine files of one mass"
        )
    settings = sorted({str(x) for x in cols.get("settings", [])})
    if len(settings) > 1:  # (another hard process or tune: another cross-section)
        shown = "; ".join(repr(x) if x else "none" for x in settings[:3])
        raise InputError(
            f"{where}: runinfo mixes extra Pythia settings ({shown}), which can change the "
            "process and its cross-section; combine files generated with the same --set"
        )
    n_rows = len(cols["process"])
    if row_files is not None and len(row_files) != n_rows:
        raise ValueError(f"row_files has {len(row_files)} entries for {n_rows} runinfo rows")
    keys = [(float(a), float(b)) for a, b in zip(cols["pthat_min"], cols["pthat_max"], strict=True)]
    bins: list[PtHatBin] = []
    row_bin = np.empty(n_rows, dtype=np.int64)
    for key in sorted(set(keys)):
        idx = np.flatnonzero([k == key for k in keys])
        row_bin[idx] = len(bins)
        bias = {(float(cols["pthat_bias"][i]), float(cols["pthat_bias_ref"][i])) for i in idx}
        bin_files = sorted({row_files[i] for i in idx}) if row_files is not None else list(files)
        if len(bias) > 1:
            shown = ", ".join(f"^{p:g} (ref {r:g} GeV)" if p else "none" for p, r in sorted(bias))
            raise InputError(
                f"{', '.join(bin_files)}: one pT-hat range [{key[0]:g}, "
                f"{key[1] if key[1] > 0 else math.inf:g}) with different biases ({shown}); "
                "their weights are not on one scale: combine files of one bias"
            )
        seeds = [int(cols["seed"][i]) for i in idx]
        twice = sorted({x for x in seeds if seeds.count(x) > 1})
        if twice:  # (same process, range and seed: the same events, counted twice)
            raise InputError(
                f"{', '.join(bin_files)}: runinfo rows of one pT-hat range share the Pythia "
                f"seed {twice[0]}, so they hold the same events; job j of 'hepml generate "
                "--seed S' uses 1 + S + j (--seed 1 -j 2 and --seed 2 overlap): generate "
                "with seeds at least --jobs apart"
            )
        bins.append(_combine_bin(cols, idx, bin_files))
    for lo, hi in itertools.pairwise(bins):
        if lo.pthat_max is None or lo.pthat_max > hi.pthat_min:
            raise InputError(
                f"{where}: pT-hat ranges {lo.describe()} and {hi.describe()} overlap, so their "
                "cross-sections cannot be added; combine jobs of one range, or disjoint ranges "
                "(pT-hat bins) such as [200, 400) and [400, inf)"
            )
    file_bins: dict[str, int] = {}
    if row_files is not None:
        for f, b in zip(row_files, row_bin, strict=True):
            if file_bins.setdefault(f, int(b)) != b:
                raise InputError(
                    f"{f}: runinfo rows of several pT-hat ranges in one file; its events "
                    "cannot be assigned to a bin: keep pT-hat bins in separate files"
                )
    elif len(bins) == 1:
        file_bins = dict.fromkeys(files, 0)
    return RunInfo(
        process=str(procs[0]),
        cross_section_pb=float(sum(b.cross_section_pb for b in bins)),
        cross_section_error_pb=float(math.sqrt(sum(b.cross_section_error_pb**2 for b in bins))),
        events_tried=int(np.sum(cols["events_tried"])),
        events_accepted=int(np.sum(cols["events_accepted"])),
        sum_weights=float(np.sum(cols["sum_weights"].astype(np.float64))),
        seeds=[int(s) for s in cols["seed"]],
        generator=str(cols["generator"][0]),
        files=list(files),
        ecm_gev=ecms.pop() if ecms else math.nan,
        bins=bins,
        file_bins=file_bins,
    )


def _has_tree(f, name: str) -> bool:
    return name in [k.split(";")[0] for k in f.keys(recursive=False)]


def require_runinfo(f, path: str) -> None:
    """Raise InputError if the open ROOT file ``f`` (at ``path``) has no ``runinfo`` tree."""
    if not _has_tree(f, "runinfo"):
        raise InputError(
            f"{path}: no 'runinfo' tree; cross-sections come with files written by 'hepml generate'"
        )


def read_runinfo(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> RunInfo:
    """Read and combine the ``runinfo`` trees of hepml files of one process.

    The files may be jobs of one sample and/or pT-hat bins (see the module
    docstring); globs are expanded and sorted.
    """
    files = expand_paths(paths)
    per_file: list[dict[str, list]] = []
    row_files: list[str] = []
    for p in files:
        f = open_root(p)
        require_runinfo(f, p)
        try:
            arr = f["runinfo"].arrays()
        except Exception as err:
            raise unreadable(f"{p}:runinfo cannot be read", err) from None
        cols = _columns({k: ak.to_list(arr[k]) for k in arr.fields}, f"{p}:runinfo")
        per_file.append({k: v.tolist() for k, v in cols.items()})
        row_files.extend([p] * len(arr))
    names = [k for k in per_file[0] if all(k in c for c in per_file)]
    rows = {k: np.asarray([v for c in per_file for v in c[k]]) for k in names}
    return combine_runinfo(rows, files, row_files)


def event_weights_pb(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    info: RunInfo | None = None,
) -> np.ndarray:
    """Each event's rate weight in pb, ``sigma_b * w / W_b``, over hepml files in order.

    The files are read in the order of :func:`hepml.io.read_events` (globs
    expanded and sorted), so ``event_weights_pb(paths)[i]`` belongs to event
    ``i`` of ``read_events(paths)``. A rate in Hz is then
    ``luminosity_cm2s * 1e-36 * w_pb[passing].sum()`` with statistical error
    ``luminosity_cm2s * 1e-36 * sqrt((w_pb[passing] ** 2).sum())``; the sum over all
    events is the total cross-section. ``info`` is the files' run information
    (read when not given).

    Returns
    -------
    numpy.ndarray
        float64, shape ``(total events,)``.
    """
    files = expand_paths(paths)
    info = info if info is not None else read_runinfo(files)
    out = []
    for p in files:
        f = open_root(p)
        if not _has_tree(f, "events"):
            raise InputError(f"{p}: no 'events' tree; pass files written by 'hepml generate'")
        if "weight" not in f["events"].keys():
            raise InputError(f"{p}:events has no 'weight' branch; pass files of 'hepml generate'")
        w = f["events"]["weight"].array(library="np").astype(np.float64)
        out.append(w * info.pb_per_weight(p))
    return np.concatenate(out) if out else np.zeros(0)
