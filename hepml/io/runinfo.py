"""Run information of hepml's own files: cross-sections, counts, seeds.

``hepml generate`` writes a ``runinfo`` tree with one row per generator job:
``process``, ``cross_section_pb``, ``cross_section_error_pb``, ``events_tried``,
``events_accepted``, ``sum_weights``, ``seed``, ``generator``, ``ecm_gev``,
``pthat_min``, ``pthat_max``, ``hepml_version``. :func:`read_runinfo` combines
the rows of many files of one process.

Jobs are independent estimates of the same cross-section, each an average over
its tried events, so they combine weighted by ``events_tried``:

.. math::

    \\sigma = \\frac{\\sum_i n_i \\sigma_i}{\\sum_i n_i},\\qquad
    \\delta\\sigma = \\frac{\\sqrt{\\sum_i (n_i\\,\\delta\\sigma_i)^2}}{\\sum_i n_i}

A rate is then ``luminosity * sigma * (sum of weights passing) / sum_weights``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from hepml.errors import InputError
from hepml.io.reader import expand_paths, open_root

__all__ = ["RunInfo", "combine_runinfo", "read_runinfo"]


@dataclass
class RunInfo:
    """Combined run information of one process over one or more files."""

    process: str
    cross_section_pb: float
    cross_section_error_pb: float
    events_tried: int
    events_accepted: int
    sum_weights: float
    seeds: list[int] = field(default_factory=list)
    generator: str = ""
    files: list[str] = field(default_factory=list)

    def weight_per_event(self) -> float:
        """Cross-section in pb carried by one event of unit generator weight."""
        return self.cross_section_pb / self.sum_weights if self.sum_weights else 0.0


def combine_runinfo(rows: dict[str, np.ndarray], files: list[str]) -> RunInfo:
    """Combine runinfo rows (columns as arrays) of a single process."""
    procs = sorted(set(rows["process"]))
    if len(procs) != 1:
        raise InputError(
            f"{', '.join(files)}: runinfo mixes processes {procs}; combine files of one process"
        )
    n = np.asarray(rows["events_tried"], dtype=np.float64)
    sig = np.asarray(rows["cross_section_pb"], dtype=np.float64)
    err = np.asarray(rows["cross_section_error_pb"], dtype=np.float64)
    total = n.sum()
    return RunInfo(
        process=str(procs[0]),
        cross_section_pb=float((n * sig).sum() / total) if total else 0.0,
        cross_section_error_pb=float(np.sqrt(((n * err) ** 2).sum()) / total) if total else 0.0,
        events_tried=int(total),
        events_accepted=int(np.sum(rows["events_accepted"])),
        sum_weights=float(np.sum(rows["sum_weights"])),
        seeds=[int(s) for s in rows["seed"]],
        generator=str(rows["generator"][0]),
        files=files,
    )


def read_runinfo(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> RunInfo:
    """Read and combine the ``runinfo`` trees of hepml files of one process."""
    files = expand_paths(paths)
    cols: dict[str, list] = {}
    for p in files:
        f = open_root(p)
        if "runinfo" not in [k.split(";")[0] for k in f.keys(recursive=False)]:
            raise InputError(
                f"{p}: no 'runinfo' tree; cross-sections come with files written by 'hepml generate'"
            )
        arr = f["runinfo"].arrays()
        for k in arr.fields:
            cols.setdefault(k, []).extend(ak.to_list(arr[k]))
    return combine_runinfo({k: np.asarray(v) for k, v in cols.items()}, files)
