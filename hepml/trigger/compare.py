"""Emulated paths against the decisions a detector recorded (NanoAOD ``HLT_*`` bits).

A path with ``recorded: HLT_X`` in the menu is emulated on the events of the
files and compared with branch ``HLT_X`` event by event:

* the **agreement matrix** — events where both fired, only the emulation, only
  the recorded bit, neither; and the fraction that agree;
* the **turn-on** of the recorded bit and of the emulated path against the path's
  ``turn_on`` variable (for example the leading offline jet pT for ``HLT_PFJet40``).

Offline objects differ from the online ones (calibration, reconstruction), so a
perfect agreement is not expected: the turn-on shows where they part.

Example::

    comps = compare_recorded(load_menu("menus/nanoaod_2015.yaml"), ["nano.root"])
    comps[0].agreement, comps[0].matrix
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hepml.errors import ConfigError
from hepml.io.reader import expand_paths
from hepml.trigger.emulate import Sample, count_events, first_pass, second_pass
from hepml.trigger.expr import axis_label
from hepml.trigger.menu import Menu

__all__ = ["RecordedComparison", "compare_recorded", "write_comparison"]


@dataclass
class RecordedComparison:
    """One emulated path vs its recorded bit."""

    path: str
    recorded: str
    matrix: np.ndarray  # [[neither, recorded only], [emulated only, both]]
    x: np.ndarray | None  # the turn-on variable, per event
    emulated: np.ndarray
    recorded_bits: np.ndarray
    variable: str = ""
    #: files left out with ``skip_bad_files`` (path -> why); the events counted are the
    #: ones read from the other files (and those read from a file before it broke)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return int(self.matrix.sum())

    @property
    def agreement(self) -> float:
        return float((self.matrix[0, 0] + self.matrix[1, 1]) / max(self.events, 1))

    def to_dict(self) -> dict:
        m = self.matrix
        out = {
            "path": self.path,
            "recorded": self.recorded,
            "events": self.events,
            "both": int(m[1, 1]),
            "emulated_only": int(m[1, 0]),
            "recorded_only": int(m[0, 1]),
            "neither": int(m[0, 0]),
            "agreement": self.agreement,
            "turn_on_variable": self.variable,
        }
        if self.x is not None:  # (the numbers of the turn-on plot)
            from hepml.plotting import binned_efficiency, turn_on_edges

            edges = turn_on_edges([self.x])
            out["turn_on"] = {"edges": edges.tolist()}
            for name, bits in (("recorded", self.recorded_bits), ("emulated", self.emulated)):
                _, eff, lo, hi = binned_efficiency(self.x, np.asarray(bits, bool), edges)
                out["turn_on"][name] = {"efficiency": eff.tolist(), "low": lo.tolist(),
                                        "high": hi.tolist()}  # fmt: skip
        if self.skipped:
            out["skipped_files"] = dict(self.skipped)
        return out


def compare_recorded(
    menu: Menu,
    files: Sequence[str | os.PathLike],
    *,
    max_events: int | None = None,
    seed: int = 0,
    skip_bad_files: bool = False,
    progress: Callable | None = None,
    step_size: int | str = 2000,
) -> list[RecordedComparison]:
    """Emulate ``menu`` on ``files`` and compare every path that names a ``recorded`` bit.

    ``skip_bad_files`` goes on past files that cannot be read (each comparison's
    ``skipped`` names them, with why, and how many of their events, read in chunks of
    ``step_size`` before the damage, were kept); ``progress(description, total)`` is a
    context manager yielding ``advance(n)``, as :meth:`hepml.cli.ui.UI.progress`.
    """
    pairs = {p.name: p.recorded for p in menu.paths.values() if p.recorded}
    if not pairs:
        raise ConfigError(
            f"{menu.source}: no path names a recorded bit; add e.g. 'recorded: HLT_PFJet40'"
        )
    for p in menu.paths.values():
        if p.target_rate_hz is not None:
            raise ConfigError(
                f"{menu.source}: {p.name}: target_rate_hz needs background rates; give a fixed "
                "threshold in a menu for 'hepml trigger compare'"
            )
    sample = Sample("recorded", expand_paths(files), role="signal")
    bar = progress("compare", count_events(sample, max_events)) if progress else nullcontext()
    with bar as adv:
        data = first_pass(menu, sample, seed=seed, max_events=max_events, progress=adv,
                          skip_bad_files=skip_bad_files, step_size=step_size)  # fmt: skip
    second_pass(menu, {sample.name: data}, seed)
    skipped = data.skip_reasons()
    out = []
    for name, bit in pairs.items():
        emu = data.decision[name]
        rec = data.recorded[name]
        m = np.array(
            [[np.sum(~emu & ~rec), np.sum(~emu & rec)], [np.sum(emu & ~rec), np.sum(emu & rec)]]
        )
        p = menu.paths[name]
        x = data.turn_on.get(name)
        out.append(RecordedComparison(name, bit, m, x, emu, rec,
                                      p.turn_on.text if p.turn_on else "",
                                      dict(skipped)))  # fmt: skip
    return out


def write_comparison(comps: list[RecordedComparison], out_dir: str | os.PathLike) -> list[Path]:
    """``comparison.json`` and ``plots/turnon_recorded_PATH.png``."""
    import json

    import matplotlib.pyplot as plt

    from hepml._json import strict
    from hepml.io.write import atomic_path, prepare_folder
    from hepml.plotting import turn_on_curves

    out = prepare_folder(out_dir)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "comparison.json") as tmp:
        data = strict([c.to_dict() for c in comps])
        Path(tmp).write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    files = [out / "comparison.json"]
    for c in comps:
        if c.x is None:
            continue
        png = out / "plots" / f"turnon_recorded_{c.path}.png"
        fig = turn_on_curves(
            {f"recorded {c.recorded}": (c.x, c.recorded_bits),
             f"emulated {c.path}": (c.x, c.emulated)},
            png, xlabel=axis_label(c.variable), title=f"{c.recorded}: recorded vs emulated",
        )  # fmt: skip
        plt.close(fig)
        files.append(png)
    return files
