r"""Trigger menus: Level-1 seeds and HLT paths in YAML, validated before any event is read.

.. code-block:: yaml

    name: demo
    luminosity: 2.0e34            # cm^-2 s^-1 (rates from cross-sections), or
    # input_rate_hz: 40.0e6       # (rates from event counts, for data-like files)
    objects: {smear: true, fatjet_pt_min: 200}
    seeds:
      L1_HTT280: "ht(jets[jets.pt > 30]) > 280"            # short form: the cut
      L1_SingleJet180: {cut: "jets.pt[0] > 180"}
    paths:
      HLT_PFHT1050:
        seed: L1_HTT280                                    # runs only on events it accepted
        cut: "ht(jets[jets.pt > 30]) > 1050"
        turn_on: "ht(jets[jets.pt > 30])"                  # offline variable of the turn-on plot
      HLT_AK8PFJet400_SD30:
        seed: L1_SingleJet180
        cut: "fatjets.msd[0] > 30"
        variable: "fatjets.pt[0]"                          # decision: cut and variable > threshold
        threshold: 400                                     # or target_rate_hz: 20
      HLT_PFJet60_PS:
        cut: "jets.pt[0] > 60"
        prescale: 200                                      # keeps every 200th passing event
      HLT_AK8_PNetTop:
        seed: L1_SingleJet180
        cut: "fatjets.pt[0] > 400"                         # preselection
        model: runs/pn/best.pt                             # a hepml checkpoint (relative to the menu)
        object: "fatjets[0]"                               # the jet it scores ("fatjets[:2]": the
                                                           # best of two; "event": the event graph
                                                           # of all objects, an event-level model)
        target_rate_hz: 20                                 # threshold solved on the background
        compare_with: [HLT_AK8PFJet400_SD30]               # same-rate efficiency ratio
        compare_rates_hz: [2, 5, 10, 20]                   # ... and at these rates too

Every entry may name a ``seed`` (one name, or a list meaning OR) among the
seeds and paths; a seed that does not exist or a cycle of seeds is an error.
Errors name the file, the entry and the key.

Example::

    menu = load_menu("menus/demo.yaml")
    [p.name for p in menu.ordered()]
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from hepml._yaml import load_yaml
from hepml.errors import ConfigError
from hepml.reco.objects import OBJECT_TYPES
from hepml.trigger.expr import Expression, compile_expression
from hepml.trigger.objects import OBJECT_NAMES, ObjectsConfig

__all__ = ["BUILTIN_MENUS", "Menu", "TriggerPath", "load_menu", "menu_from_dict"]

_PATH_KEYS = {
    "cut",
    "seed",
    "prescale",
    "variable",
    "threshold",
    "target_rate_hz",
    "model",
    "object",
    "turn_on",
    "recorded",
    "compare_with",
    "compare_rates_hz",
    "description",
}
_TOP_KEYS = {"name", "luminosity", "input_rate_hz", "objects", "seeds", "paths", "description"}
#: what an ML path may score: one fat jet, or the best of the two leading ones
ML_OBJECTS = ("fatjets[0]", "fatjets[1]", "fatjets[:2]", "event")
#: the id and weight columns of the decision files, which path names must not shadow
RESERVED_NAMES = ("file_index", "run", "lumi", "event", "entry", "weight", "rate_hz")
#: what an ML path with ``object: event`` reads: the nodes of the event graph
EVENT_GRAPH_COLLECTIONS = (*(f"{t}s" for t in OBJECT_TYPES[:-1]), "met")


@dataclass
class TriggerPath:
    """One seed (``level="L1"``) or HLT path (``level="HLT"``) of a menu."""

    name: str
    level: str
    cut: Expression | None = None
    seeds: tuple[str, ...] = ()
    prescale: int = 1
    variable: Expression | None = None
    threshold: float | None = None
    target_rate_hz: float | None = None
    model: str | None = None
    object: str = "fatjets[0]"
    turn_on: Expression | None = None
    recorded: str | None = None
    compare_with: tuple[str, ...] = ()
    compare_rates_hz: tuple[float, ...] = ()
    description: str = ""

    @property
    def is_ml(self) -> bool:
        return self.model is not None

    @property
    def has_threshold(self) -> bool:
        return self.is_ml or self.variable is not None

    def expressions(self) -> list[Expression]:
        return [e for e in (self.cut, self.variable, self.turn_on) if e is not None]


@dataclass
class Menu:
    """A validated menu; :meth:`ordered` gives every entry after its seeds."""

    name: str
    paths: dict[str, TriggerPath]
    luminosity: float | None = None
    input_rate_hz: float | None = None
    objects: ObjectsConfig = field(default_factory=ObjectsConfig)
    source: str = "<dict>"
    description: str = ""

    def ordered(self) -> list[TriggerPath]:
        done: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            for s in self.paths[name].seeds:
                visit(s)
            seen.add(name)
            done.append(name)

        for name in self.paths:
            visit(name)
        return [self.paths[n] for n in done]

    def level(self, level: str) -> list[TriggerPath]:
        return [p for p in self.paths.values() if p.level == level]

    @property
    def ml_paths(self) -> list[TriggerPath]:
        return [p for p in self.paths.values() if p.is_ml]

    @property
    def needs_particles(self) -> bool:
        """Whether an ML path scores jets (their inputs are built from particles)."""
        return any(p.object != "event" for p in self.ml_paths)

    def collections(self) -> set[str]:
        """Object collections the menu's expressions (and ML paths) need."""
        need: set[str] = set()
        for p in self.paths.values():
            for e in p.expressions():
                need |= e.collections
            if p.is_ml:
                need |= set(EVENT_GRAPH_COLLECTIONS) if p.object == "event" else {"fatjets"}
        if "event" in need:
            need |= set(OBJECT_NAMES)
        return need & set(OBJECT_NAMES) | (need & {"triggers"})


def _number(v, where: str, *, positive: bool = True) -> float:
    if isinstance(v, str):  # YAML 1.1 reads 2.0e34 (no sign in the exponent) as a string
        try:
            v = float(v)
        except ValueError:
            raise ConfigError(f"{where}: must be a number, got {v!r}") from None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ConfigError(f"{where}: must be a number, got {v!r}")
    if not math.isfinite(v):  # (a NaN threshold never fires; an infinite rate means nothing)
        raise ConfigError(f"{where}: must be a finite number, got {v!r}")
    if positive and not v > 0:
        raise ConfigError(f"{where}: must be positive, got {v!r}")
    return float(v)


def _expr(v, where: str) -> Expression:
    if not isinstance(v, str):
        raise ConfigError(f"{where}: must be an expression string, got {v!r}")
    try:
        return compile_expression(v)
    except ConfigError as err:
        raise type(err)(f"{where}: {err}") from None


def _entry(name: str, spec, level: str, where: str, base: Path) -> TriggerPath:
    if isinstance(spec, str):
        spec = {"cut": spec}
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: must be a cut string or a mapping, got {type(spec).__name__}")
    unknown = sorted(set(spec) - _PATH_KEYS, key=str)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(_PATH_KEYS)}")
    p = TriggerPath(name=name, level=level, description=str(spec.get("description", "")))
    if "cut" in spec:
        p.cut = _expr(spec["cut"], f"{where}.cut")
    seeds = spec.get("seed", ())
    seeds = [seeds] if isinstance(seeds, str) else seeds
    if not isinstance(seeds, list | tuple) or not all(isinstance(s, str) for s in seeds):
        raise ConfigError(f"{where}.seed: must be a name or a list of names, got {seeds!r}")
    p.seeds = tuple(seeds)
    if "prescale" in spec:
        ps = spec["prescale"]
        if isinstance(ps, bool) or not isinstance(ps, int) or ps < 1:
            raise ConfigError(f"{where}.prescale: must be an integer >= 1, got {ps!r}")
        p.prescale = ps
    if "variable" in spec:
        p.variable = _expr(spec["variable"], f"{where}.variable")
    if "threshold" in spec:
        p.threshold = _number(spec["threshold"], f"{where}.threshold", positive=False)
    if "target_rate_hz" in spec:
        p.target_rate_hz = _number(spec["target_rate_hz"], f"{where}.target_rate_hz")
    if "model" in spec:
        model = spec["model"]
        if not isinstance(model, str) or not model:
            raise ConfigError(f"{where}.model: must be a path to a hepml checkpoint")
        p.model = str(base / os.path.expanduser(model))
        obj = spec.get("object", "fatjets[0]")
        if obj not in ML_OBJECTS:
            raise ConfigError(
                f"{where}.object: {obj!r} is not supported; an ML path scores one of {ML_OBJECTS}"
            )
        p.object = obj
        if p.variable is not None:
            raise ConfigError(f"{where}: an ML path's variable is the model's score; drop variable")
    elif "object" in spec:
        raise ConfigError(f"{where}.object: only ML paths (with model:) score an object")
    if p.has_threshold and (p.threshold is None) == (p.target_rate_hz is None):
        raise ConfigError(f"{where}: give exactly one of threshold and target_rate_hz")
    if p.target_rate_hz is not None and p.prescale > 1:
        raise ConfigError(
            f"{where}: target_rate_hz with prescale {p.prescale}: the threshold is solved "
            "for the rate before the prescale, so the path would run at about 1/"
            f"{p.prescale} of the target; drop the prescale, or set threshold instead"
        )
    if not p.has_threshold and (p.threshold is not None or p.target_rate_hz is not None):
        raise ConfigError(
            f"{where}: threshold/target_rate_hz need a variable (or a model) to act on"
        )
    if p.cut is None and not p.has_threshold:
        raise ConfigError(f"{where}: needs a cut (or a variable with a threshold, or a model)")
    if "turn_on" in spec:
        p.turn_on = _expr(spec["turn_on"], f"{where}.turn_on")
    if "recorded" in spec:
        if not isinstance(spec["recorded"], str):
            raise ConfigError(f"{where}.recorded: must be a branch name such as HLT_PFJet40")
        p.recorded = spec["recorded"]
    cw = spec.get("compare_with", ())
    cw = [cw] if isinstance(cw, str) else cw
    if not isinstance(cw, list | tuple) or not all(isinstance(s, str) for s in cw):
        raise ConfigError(f"{where}.compare_with: must be a list of path names")
    p.compare_with = tuple(cw)
    if "compare_rates_hz" in spec:
        rates = spec["compare_rates_hz"]
        rates = [rates] if isinstance(rates, int | float) and not isinstance(rates, bool) else rates
        if (
            not isinstance(rates, list | tuple)
            or not rates
            or not all(isinstance(r, int | float) and not isinstance(r, bool) for r in rates)
            or not all(0 < r < float("inf") for r in rates)
        ):
            raise ConfigError(
                f"{where}.compare_rates_hz: must be a list of positive rates in Hz, e.g. [2, 5, 10]"
            )
        if not p.compare_with:
            raise ConfigError(
                f"{where}.compare_rates_hz: needs compare_with (the paths to compare)"
            )
        if not p.has_threshold:
            raise ConfigError(
                f"{where}.compare_rates_hz: {p.name} has no variable or model whose threshold "
                "can be set to each rate"
            )
        p.compare_rates_hz = tuple(sorted({float(r) for r in rates}))
    return p


def _key(p: TriggerPath) -> str:
    """Where ``p`` is in the menu file: ``seeds.NAME`` or ``paths.NAME``."""
    return f"{'seeds' if p.level == 'L1' else 'paths'}.{p.name}"


def _check_graph(paths: dict[str, TriggerPath], where: str) -> None:
    for p in paths.values():
        for s in p.seeds:
            if s not in paths:
                raise ConfigError(
                    f"{where}: {_key(p)}.seed: no seed or path named {s!r}; "
                    f"defined: {', '.join(paths)}"
                )
            if p.level == "L1" and paths[s].level != "L1":
                raise ConfigError(
                    f"{where}: {_key(p)}.seed: {s} is an HLT path; a Level-1 seed can only "
                    "be seeded by other Level-1 seeds (the HLT runs after Level-1)"
                )
        for c in p.compare_with:
            if c == p.name:
                raise ConfigError(f"{where}: {_key(p)}.compare_with: a path cannot compare "
                                  "with itself; name other paths")  # fmt: skip
            if c not in paths:
                raise ConfigError(f"{where}: {_key(p)}.compare_with: no path named {c!r}")
            if not paths[c].has_threshold:
                raise ConfigError(
                    f"{where}: {_key(p)}.compare_with: {c} has no variable to set to the same "
                    "rate; compare with paths that have a variable and a threshold"
                )
    state: dict[str, int] = {}

    def visit(name: str, stack: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            loop = stack[stack.index(name) :]
            keys = ", ".join(f"{_key(paths[n])}.seed" for n in loop)
            raise ConfigError(
                f"{where}: cycle of seeds: {' -> '.join([*loop, name])} ({keys}); a path "
                "cannot wait for its own decision: remove one of these seeds"
            )
        state[name] = 1
        for s in paths[name].seeds:
            visit(s, [*stack, name])
        state[name] = 2

    for name in paths:
        visit(name, [])


def menu_from_dict(d: dict, source: str = "<dict>", base: str | os.PathLike = ".") -> Menu:
    """Validate a menu given as a dict (what :func:`load_menu` reads from YAML)."""
    if not isinstance(d, dict):
        raise ConfigError(f"{source}: a menu must be a mapping, got {type(d).__name__}")
    unknown = sorted(set(d) - _TOP_KEYS, key=str)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; known: {sorted(_TOP_KEYS)}")
    lumi = d.get("luminosity")
    rate = d.get("input_rate_hz")
    if lumi is not None and rate is not None:
        raise ConfigError(f"{source}: give luminosity or input_rate_hz, not both")
    menu = Menu(
        name=str(d.get("name", Path(source).stem)),
        paths={},
        luminosity=_number(lumi, f"{source}: luminosity") if lumi is not None else None,
        input_rate_hz=_number(rate, f"{source}: input_rate_hz") if rate is not None else None,
        objects=ObjectsConfig.from_dict(d.get("objects"), f"{source}: objects"),
        source=source,
        description=str(d.get("description", "")),
    )
    base = Path(base)
    for section, level in (("seeds", "L1"), ("paths", "HLT")):
        entries = d.get(section) or {}
        if not isinstance(entries, dict):
            raise ConfigError(f"{source}: {section} must be a mapping of name: cut")
        for name, spec in entries.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ConfigError(f"{source}: {section}: {name!r} is not a valid path name")
            if name in RESERVED_NAMES or name.startswith("score_"):
                raise ConfigError(
                    f"{source}: {section}.{name}: the name is taken by a column of the "
                    f"decision files ({', '.join(RESERVED_NAMES)}, score_*); rename the path"
                )
            if name in menu.paths:
                raise ConfigError(f"{source}: {section}.{name} is defined twice")
            where = f"{source}: {section}.{name}"
            menu.paths[name] = _entry(name, spec, level, where, base)
    if not menu.level("HLT") and not menu.level("L1"):
        raise ConfigError(f"{source}: the menu has no seeds and no paths")
    _check_graph(menu.paths, source)
    return menu


#: menus that come with hepml, by name (``--menu demo``)
BUILTIN_MENUS = {p.stem: p for p in sorted((Path(__file__).parent / "menus").glob("*.yaml"))}


def load_menu(path: str | os.PathLike, overrides: dict | None = None) -> Menu:
    """Read and validate a YAML menu (``yaml.safe_load``); model paths are relative to it.

    ``path`` is a file or the name of a built-in menu (:data:`BUILTIN_MENUS`:
    ``demo``, ``nanoaod_2015``). ``overrides`` maps ``"paths.NAME.key"`` (or
    ``"luminosity"``) to a value, as the CLI's ``--set`` does.
    """
    path = Path(path)
    base = path.parent
    if not path.is_file() and str(path) in BUILTIN_MENUS:
        path = BUILTIN_MENUS[str(path)]
        base = Path.cwd()  # a built-in menu's model paths are the user's, not the package's
    if not path.is_file():
        raise ConfigError(f"{path}: no such menu file (built-in menus: {', '.join(BUILTIN_MENUS)})")
    d = load_yaml(path, "menu file")
    if overrides and not isinstance(d, dict):
        raise ConfigError(
            f"{path}: a menu is a mapping (name, luminosity, seeds, paths, ...), "
            f"not {type(d).__name__}; --set has nothing to change"
        )
    for key, value in (overrides or {}).items():
        _set(d, key, value, str(path))
    return menu_from_dict(d, str(path), base)


#: a path has one of these; setting one with --set replaces the other
_EXCLUSIVE = ("threshold", "target_rate_hz")


def _set(d: dict, key: str, value, source: str) -> None:
    """``--set key=value``: dotted keys into the menu; ``None`` (``null``) removes the key."""
    parts = key.split(".")
    node = d
    for k in parts[:-1]:
        if not isinstance(node, dict) or k not in node:
            raise ConfigError(f"{source}: --set {key}: no {k!r} in the menu")
        if isinstance(node[k], str):  # short form "NAME: cut"
            node[k] = {"cut": node[k]}
        node = node[k]
    if not isinstance(node, dict):
        raise ConfigError(f"{source}: --set {key}: {'.'.join(parts[:-1])} is not a mapping")
    last = parts[-1]
    if value is None:
        node.pop(last, None)
        return
    node[last] = value
    if last in _EXCLUSIVE and len(parts) == 3 and parts[0] in ("seeds", "paths"):
        for other in _EXCLUSIVE:
            if other != last:
                node.pop(other, None)
