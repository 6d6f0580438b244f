"""Trigger emulation: menus of cut-based and ML paths, rates in Hz, thresholds for a
target rate, efficiencies, latency, and comparison with recorded trigger bits.

* :func:`load_menu` — a YAML menu of Level-1 seeds and HLT paths (:mod:`hepml.trigger.menu`),
  cuts in a whitelisted expression grammar (:mod:`hepml.trigger.expr`).
* :func:`emulate` — run a menu over samples (:mod:`hepml.trigger.emulate`);
  rates from cross-sections and luminosity, or from an input rate.
* :func:`measure_latency` — time per event per path, batch size 1 and batched.
* :func:`write_report` — terminal table, JSON, PNG plots and per-event decisions (ROOT).
* :func:`compare_recorded` — emulated paths against recorded ``HLT_*`` bits.

Example::

    from hepml.trigger import Sample, emulate, load_menu
    menu = load_menu("menus/demo.yaml")
    res = emulate(menu, [Sample("qcd", ["qcd.root"]), Sample("zp", ["zp.root"], "signal")])
    res.paths["HLT_PFHT1050"].rate_hz
"""

from __future__ import annotations

from hepml.trigger.emulate import EmulationResult, PathResult, Sample, emulate, parse_sample
from hepml.trigger.expr import Expression, ExpressionError, compile_expression
from hepml.trigger.menu import Menu, TriggerPath, load_menu, menu_from_dict
from hepml.trigger.objects import ObjectsConfig, trigger_objects
from hepml.trigger.rates import Threshold, efficiency, rate, solve_threshold

__all__ = [
    "EmulationResult",
    "Expression",
    "ExpressionError",
    "Menu",
    "ObjectsConfig",
    "PathResult",
    "Sample",
    "Threshold",
    "TriggerPath",
    "compile_expression",
    "efficiency",
    "emulate",
    "load_menu",
    "menu_from_dict",
    "parse_sample",
    "rate",
    "solve_threshold",
    "trigger_objects",
]
