r"""Cut expressions of trigger menus: a whitelisted grammar over Python's ``ast``.

An expression is parsed once (:func:`compile_expression`) into a tree of small
closures, then evaluated on whole chunks of events at a time (awkward arrays
and numpy, with the trigger-primitive kernels of :mod:`hepml.kernels.trigger`
for ``ht``/``mht``/``mass``). Nothing from a menu reaches ``eval`` or ``exec``:
only the nodes below are accepted, everything else is an
:class:`ExpressionError` naming the column.

Grammar (Python syntax, a subset)::

    expr      := expr 'and' expr | expr 'or' expr | 'not' expr
               | expr CMP expr [CMP expr ...]          # <, <=, >, >=, ==, !=
               | expr OP expr                          # + - * / ** & |
               | '-' expr | '~' expr | '(' expr ')'
               | NAME                                  # a collection: jets, fatjets, muons, ...
               | expr '.' FIELD                        # jets.pt, met.pt
               | expr '[' INT ']'                      # jets.pt[0]: the leading object
               | expr '[' expr ']'                     # jets[jets.pt > 30]: a selection
               | FUNC '(' expr [, expr ...] ')'        # see FUNCTIONS
               | NUMBER | True | False

Values are per event (numpy, one per event), per object (jagged) or a
collection. ``x[i]`` of an event without an ``i``-th object is missing
(NaN): every comparison with it is false (``!=`` too), so **missing objects
fail a cut**. ``and``/``or``/``not``/``&``/``|``/``~`` and ``any``/``all`` take
conditions only: a number is refused, not read as "non-zero". ``count(x)`` counts
the objects of a collection, or those that pass a per-object condition
(``count(jets.pt > 30)``). A whole expression must give one boolean per event; a
per-object result must be reduced with ``any(...)``, ``all(...)`` or ``count(...)``.

Example::

    cut = compile_expression("ht(jets[jets.pt > 30]) > 1050")
    passed = cut(objects)            # numpy bool, one per event
    cut.collections                  # {'jets'}
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np

from hepml.errors import ConfigError
from hepml.io.schemas import OBJECT_COLLECTIONS
from hepml.reco import primitives
from hepml.reco._buffers import offsets_of

__all__ = [
    "COLLECTIONS",
    "FUNCTIONS",
    "Expression",
    "ExpressionError",
    "axis_label",
    "compile_expression",
]

#: names an expression may start from
COLLECTIONS = ("jets", "fatjets", "muons", "electrons", "photons", "met", "triggers", "event")
#: longest accepted expression (characters)
MAX_LENGTH = 1000
_MAX_DEPTH = 60


class ExpressionError(ConfigError):
    """An expression outside the grammar, or one that cannot be evaluated on the events."""


# --------------------------------------------------------------------------- value helpers


def _is_ak(x) -> bool:
    return isinstance(x, ak.Array)


def _depth(x) -> int:
    """0: per event (numpy or flat ak), 1: per object (jagged)."""
    if not _is_ak(x):
        return 0
    return 1 if x.ndim > 1 else 0


def _is_collection(x) -> bool:
    return _is_ak(x) and x.ndim > 1 and len(x.fields) > 0


def _is_record(x) -> bool:
    return _is_ak(x) and x.ndim == 1 and len(x.fields) > 0


# ---- fast paths for plain jagged layouts -----------------------------------------
# Objects built by hepml are ListOffsetArrays of plain numpy buffers. On those, the
# element-wise operations, selections and any/all/count of an expression are done on
# the flat buffers with numpy (a few microseconds), not through awkward's general
# broadcasting (0.1-0.5 ms per call, which dominates one event at a time). Anything
# else (missing values, nested lists, other layouts) takes the awkward path; both
# give the same values (tested).


def _jagged(x) -> tuple[np.ndarray, np.ndarray] | None:
    """``(offsets, values)`` of jagged numbers with a plain layout (``values`` aligned
    with ``offsets - offsets[0]``), or None."""
    if not _is_ak(x):
        return None
    layout = x.layout
    if not isinstance(layout, ak.contents.ListOffsetArray):
        return None
    content = layout.content
    if not isinstance(content, ak.contents.NumpyArray) or content.parameters:
        return None
    data, off = content.data, layout.offsets.data
    if not (isinstance(data, np.ndarray) and isinstance(off, np.ndarray)) or data.ndim != 1:
        return None
    if off[0] == 0:
        return off, data[: off[-1]]
    return off - off[0], data[off[0] : off[-1]]


def _same_offsets(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal offsets (the fields of one collection share one buffer: no scan then)."""
    if a is b or (len(a) == len(b) and a.ctypes.data == b.ctypes.data):
        return True
    return np.array_equal(a, b)


def _wrap(off: np.ndarray, values: np.ndarray) -> ak.Array:
    return ak.Array(
        ak.contents.ListOffsetArray(ak.index.Index64(off), ak.contents.NumpyArray(values))
    )


_SCALARS = (bool, int, float, np.number, np.bool_)


def _elementwise(fn: Callable, *args):
    """``fn(*args)`` with awkward's broadcasting (per-event numpy values spread over each
    event's objects); on the flat buffers when every jagged argument is plain."""
    off = None
    vals = []
    for a in args:
        j = _jagged(a)
        if j is not None:
            if off is None:
                off = j[0]
            elif not _same_offsets(off, j[0]):
                return fn(*args)
            vals.append(j[1])
        elif isinstance(a, _SCALARS) or (isinstance(a, np.ndarray) and a.ndim == 1):
            vals.append(a)
        else:
            return fn(*args)
    if off is None:
        return fn(*args)
    counts = None
    for k, a in enumerate(args):
        if isinstance(a, np.ndarray):  # one value per event, spread over its objects
            if len(a) != len(off) - 1:
                return fn(*args)
            counts = np.diff(off) if counts is None else counts
            vals[k] = np.repeat(a, counts)
    return _wrap(off, fn(*vals))


def _counts_in_lists(truth: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Number of true values in each list (``off`` starts at 0)."""
    running = np.zeros(len(truth) + 1, dtype=np.int64)
    np.cumsum(truth, out=running[1:])
    return running[off[1:]] - running[off[:-1]]


def _checked_select(x, m, where: str):
    """``x[m]`` after checking that ``m`` has one value per object of ``x`` (awkward
    would read a mask of other lengths as positions: jets at the muons' places)."""
    xn, mn = (ak.to_numpy(ak.fill_none(ak.num(a, axis=1), -1)) for a in (x, m))
    if not np.array_equal(xn, mn):
        event = int(np.flatnonzero(xn != mn)[0])
        raise ExpressionError(
            f"{where}: in x[cond], cond must belong to x's collection (one value per object), "
            f"e.g. jets.pt[jets.eta < 2.4]; in event {event} of the chunk x has {xn[event]} "
            f"objects and cond {mn[event]}"
        )
    return x[m]


def _select(x, m, where: str = ""):
    """``x[m]`` for per-object ``x`` (numbers or a collection) and booleans ``m``."""
    jm = _jagged(m)
    layout = x.layout
    if jm is None or jm[1].dtype != np.bool_ or not isinstance(layout, ak.contents.ListOffsetArray):
        return _checked_select(x, m, where)
    moff, mask = jm
    xoff = layout.offsets.data
    if not isinstance(xoff, np.ndarray) or not _same_offsets(
        xoff - xoff[0] if xoff[0] else xoff, moff
    ):
        return _checked_select(x, m, where)
    keep = np.flatnonzero(mask) + xoff[0]
    content = layout.content
    columns = [content] if isinstance(content, ak.contents.NumpyArray) else None
    if isinstance(content, ak.contents.RecordArray) and not content.is_tuple:
        columns = [content.content(f) for f in content.fields]
    if columns is None or not all(
        isinstance(c, ak.contents.NumpyArray) and isinstance(c.data, np.ndarray)
        and c.data.ndim == 1 and not c.parameters
        for c in columns
    ):  # fmt: skip
        return x[m]
    taken = [ak.contents.NumpyArray(c.data[keep]) for c in columns]
    if isinstance(content, ak.contents.RecordArray):
        new = ak.contents.RecordArray(
            taken, content.fields, length=len(keep), parameters=content.parameters
        )
    else:
        new = taken[0]
    off = np.zeros(len(moff), dtype=np.int64)
    np.cumsum(_counts_in_lists(mask, moff), out=off[1:])
    return ak.Array(
        ak.contents.ListOffsetArray(ak.index.Index64(off), new, parameters=layout.parameters),
        behavior=x.behavior,
    )


def _per_event(x, fill=np.nan) -> np.ndarray:
    """A flat awkward value (maybe with missing entries) as numpy; missing → ``fill``."""
    if not _is_ak(x):
        return x
    if x.ndim != 1 or x.fields:
        return x
    if isinstance(x.layout, ak.contents.NumpyArray):
        return x.to_numpy()
    filled = ak.fill_none(x, fill)
    return ak.to_numpy(filled)


def _pick(x: ak.Array, i: int):
    """``x[:, i]`` of jagged numbers as numpy, missing → NaN (False for booleans); a fast
    path on the offsets and content, ``None`` when the layout is not a plain list."""
    layout = x.layout
    if isinstance(layout, ak.contents.ListOffsetArray):
        off = np.asarray(layout.offsets.data)
        starts, stops = off[:-1], off[1:]
    elif isinstance(layout, ak.contents.ListArray):
        starts, stops = np.asarray(layout.starts.data), np.asarray(layout.stops.data)
    else:
        return None
    content = layout.content
    if not isinstance(content, ak.contents.NumpyArray):
        return None
    data = np.asarray(content.data)
    at = starts + i
    ok = at < stops
    if data.dtype == np.bool_:
        out = np.zeros(len(at), dtype=bool)
    else:
        out = np.full(len(at), np.nan)
    out[ok] = data[at[ok]]
    return out


def _prim_type(x) -> str:
    """The type of the values of an awkward array (``'float64'``, ``'bool'``, ...)."""
    try:
        return str(ak.type(x).content).split("?")[-1].split("*")[-1].strip()
    except Exception:  # pragma: no cover - defensive
        return ""


def _fill_for(x):
    """NaN for numbers, False for booleans (a missing object fails)."""
    return False if "bool" in _prim_type(x) else np.nan


def _is_bool(x) -> bool:
    if _is_ak(x):
        return _prim_type(x) == "bool"
    if isinstance(x, np.ndarray):
        return x.dtype == np.bool_
    return isinstance(x, bool | np.bool_)


def _as_bool(x, where: str):
    """``x`` as a condition: booleans only. A number is refused rather than read as
    "non-zero" (a missing object, NaN, would then pass)."""
    if _is_collection(x) or _is_record(x):
        raise ExpressionError(
            f"{where}: a collection is not a condition; compare one of its fields"
        )
    if not _is_bool(x):
        raise ExpressionError(
            f"{where}: a number is not a condition; compare it, e.g. jets.pt[0] > 30"
        )
    if _is_ak(x):
        return x if _depth(x) else _per_event(x, False).astype(bool)
    return x if isinstance(x, np.ndarray) else bool(x)


# --------------------------------------------------------------------------- functions


def _reduce(name: str, fn: Callable, empty):
    def f(x, where):
        if _is_collection(x):
            raise ExpressionError(f"{where}: {name}() takes values, e.g. {name}(jets.pt)")
        if _depth(x) != 1:
            raise ExpressionError(f"{where}: {name}() needs one value per object, e.g. jets.pt")
        if name in ("any", "all") and not _is_bool(x):
            raise ExpressionError(
                f"{where}: {name}() takes per-object conditions, e.g. {name}(jets.pt > 30)"
            )
        j = _jagged(x) if name in ("any", "all") else None
        if j is not None:  # (fast path: how many objects are true / false per event)
            off, values = j
            n_true = _counts_in_lists(values, off)
            return n_true > 0 if name == "any" else n_true == np.diff(off)
        out = fn(x, axis=1)
        return _per_event(out, empty)

    return f


def _coll_fn(name: str, fn: Callable, needs: tuple[str, ...]):
    def f(x, where):
        if not _is_collection(x):
            raise ExpressionError(f"{where}: {name}() takes a collection, e.g. {name}(jets)")
        missing = [k for k in needs if k not in x.fields]
        if missing:
            raise ExpressionError(
                f"{where}: {name}() needs the field(s) {missing}; the collection has "
                f"{', '.join(x.fields)}"
            )
        return fn(x)

    return f


def _num(x, where):
    """Objects per event; for per-object conditions, the objects that pass
    (``count(jets.pt > 30)`` = ``count(jets[jets.pt > 30])``)."""
    if _depth(x) != 1:
        raise ExpressionError(f"{where}: count() takes a collection or per-object values")
    if not _is_collection(x) and _is_bool(x):
        j = _jagged(x)
        if j is not None:
            return _counts_in_lists(j[1], j[0])
        return _per_event(ak.sum(x, axis=1), 0).astype(np.int64)
    return np.diff(offsets_of(x))  # (no awkward call for plain layouts)


def _abs(x, where):
    if _is_collection(x) or _is_record(x):
        raise ExpressionError(f"{where}: abs() takes numbers")
    return _elementwise(np.absolute, x) if _is_ak(x) else abs(x)


def _dphi(a, b, where):
    d = a - b
    return (d + math.pi) % (2 * math.pi) - math.pi


#: name -> (number of arguments, implementation(args..., where))
FUNCTIONS: dict[str, tuple[int, Callable]] = {
    "ht": (1, _coll_fn("ht", primitives.ht, ("pt", "eta"))),
    "mht": (1, _coll_fn("mht", lambda c: primitives.mht(c)[0], ("pt", "eta", "phi"))),
    "mass": (
        1,
        _coll_fn("mass", primitives.pair_mass, ("pt", "eta", "phi", "mass")),
    ),
    "max_pair_mass": (
        1,
        _coll_fn("max_pair_mass", primitives.max_pair_mass, ("pt", "eta", "phi", "mass")),
    ),
    "count": (1, _num),
    "any": (1, _reduce("any", ak.any, False)),
    "all": (1, _reduce("all", ak.all, True)),
    "sum": (1, _reduce("sum", ak.sum, 0.0)),
    "max": (1, _reduce("max", ak.max, np.nan)),
    "min": (1, _reduce("min", ak.min, np.nan)),
    "abs": (1, _abs),
    "dphi": (2, _dphi),
}


#: Collections of objects (lists per event): what ``x[cond]`` may select from.
_LIST_COLLECTIONS = frozenset({*OBJECT_COLLECTIONS, "particles", "partons"})
#: Functions that turn a collection into one value per event.
_PER_EVENT_FUNCTIONS = frozenset(FUNCTIONS) - {"abs", "dphi"}


def _bases(node: ast.AST) -> set[str]:
    """The collections whose objects ``node``'s value runs over (one value per object
    of them): ``jets.pt > met.pt`` -> {jets}; ``jets.pt[0]``, ``count(muons)`` -> {}."""
    if isinstance(node, ast.Name):
        return {node.id} & _LIST_COLLECTIONS
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id == "event":
            return {node.attr} & _LIST_COLLECTIONS  # event.muons is muons
        return _bases(node.value)
    if isinstance(node, ast.Subscript):
        sl = node.slice
        return set() if isinstance(sl, ast.Constant) else _bases(node.value)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id in _PER_EVENT_FUNCTIONS:
            return set()
        return set().union(*(_bases(a) for a in node.args))
    return set().union(*(_bases(c) for c in ast.iter_child_nodes(node)))


def _not_equal(a, b):
    """``a != b``, false where either side is missing (NaN): a missing object fails
    every comparison, ``!=`` included."""
    return np.not_equal(a, b) & ~np.isnan(a) & ~np.isnan(b)


_CMP = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: _not_equal,
}
_BIN = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
}


# --------------------------------------------------------------------------- compiler

Node = Callable[[Any], Any]


@dataclass
class Expression:
    """A compiled cut: call it on a chunk of trigger objects to get one bool per event."""

    text: str
    node: Node
    collections: set[str] = field(default_factory=set)
    fields: dict[str, set[str]] = field(default_factory=dict)

    def values(self, objects: ak.Array) -> Any:
        """The raw value (per event numbers or booleans)."""
        try:
            out = self.node(objects)
        except ExpressionError:
            raise
        except (ValueError, TypeError, IndexError, KeyError) as err:
            msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ExpressionError(f"{self.text!r} cannot be evaluated: {msg}") from None
        if _depth(out) == 1:
            raise ExpressionError(
                f"{self.text!r} gives one value per object; reduce it with any(...), "
                "all(...), count(...) or index it, e.g. jets.pt[0]"
            )
        if _is_collection(out) or _is_record(out):
            raise ExpressionError(f"{self.text!r} is a collection, not a value")
        out = _per_event(out, _fill_for(out) if _is_ak(out) else np.nan)
        if np.ndim(out) == 0:
            out = np.full(len(objects), out)
        return out

    def __call__(self, objects: ak.Array) -> np.ndarray:
        """One boolean per event (missing objects fail)."""
        out = self.values(objects)
        if out.dtype != np.bool_:
            raise ExpressionError(
                f"{self.text!r} is a number, not a condition; compare it, e.g. ... > 100"
            )
        return out


class _Compiler:
    def __init__(self, text: str) -> None:
        self.text = text
        self.collections: set[str] = set()
        self.fields: dict[str, set[str]] = {}

    def fail(self, node: ast.AST | None, msg: str) -> ExpressionError:
        col = getattr(node, "col_offset", None)
        where = f" at column {col + 1}" if col is not None else ""
        return ExpressionError(f"in {self.text!r}{where}: {msg}")

    def where(self, node: ast.AST) -> str:
        return f"in {self.text!r} at column {node.col_offset + 1}"

    def one_collection(self, node: ast.AST, operands: list[ast.AST], what: str) -> None:
        """Refuse an element-wise operation between the objects of two collections:
        it would pair jet i with muon i where the counts happen to match (and fail
        where they do not)."""
        bases = set().union(*(_bases(x) for x in operands))
        if len(bases) > 1:
            a, b = sorted(bases)[:2]
            raise self.fail(
                node,
                f"{what} between the objects of {a} and of {b} would pair them one by "
                f"one; reduce one side to one value per event first, e.g. {b}.pt[0] or "
                f"max({b}.pt), or test each collection apart: any(...) & any(...)",
            )

    def compile(self, node: ast.AST, depth: int = 0) -> Node:
        if depth > _MAX_DEPTH:
            raise self.fail(node, "expression nested too deeply")
        d = depth + 1
        if isinstance(node, ast.Expression):
            return self.compile(node.body, d)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or (isinstance(v, int | float) and not isinstance(v, complex)):
                if isinstance(v, int) and not isinstance(v, bool):
                    if abs(v) > 2**53:
                        raise self.fail(node, "integer constant too large")
                    v = float(v)  # (numbers are float64: 10**15 ** 10 must not wrap as int64)
                return lambda _o, v=v: v
            raise self.fail(node, f"only numbers and True/False are allowed, not {v!r}")
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, d)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, d)
        if isinstance(node, ast.Call):
            return self.call(node, d)
        if isinstance(node, ast.BoolOp):
            self.one_collection(node, node.values, f"'{type(node.op).__name__.lower()}'")
            parts = [self.compile(v, d) for v in node.values]
            op = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            where = self.where(node)

            def boolop(o, parts=parts, op=op, where=where):
                acc = _as_bool(parts[0](o), where)
                for p in parts[1:]:
                    acc = _elementwise(op, acc, _as_bool(p(o), where))
                return acc

            return boolop
        if isinstance(node, ast.UnaryOp):
            inner = self.compile(node.operand, d)
            where = self.where(node)
            if isinstance(node.op, ast.Not | ast.Invert):
                return lambda o: _elementwise(np.logical_not, _as_bool(inner(o), where))
            if isinstance(node.op, ast.USub):
                return lambda o: _elementwise(np.negative, self._number(inner(o), where))
            if isinstance(node.op, ast.UAdd):
                return lambda o: self._number(inner(o), where)
        if isinstance(node, ast.BinOp):
            self.one_collection(node, [node.left, node.right], "an operator")
            left, right = self.compile(node.left, d), self.compile(node.right, d)
            where = self.where(node)
            if isinstance(node.op, ast.BitAnd | ast.BitOr):
                op = np.logical_and if isinstance(node.op, ast.BitAnd) else np.logical_or
                return lambda o: _elementwise(
                    op, _as_bool(left(o), where), _as_bool(right(o), where)
                )
            if type(node.op) in _BIN:
                fn = _BIN[type(node.op)]

                def binop(o):
                    with np.errstate(all="ignore"):
                        a, b = self._number(left(o), where), self._number(right(o), where)
                        return _elementwise(fn, a, b)

                return binop
            raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.Compare):
            return self.compare(node, d)
        raise self.fail(node, f"{type(node).__name__} is not part of the cut grammar")

    @staticmethod
    def _number(x, where):
        if _is_collection(x) or _is_record(x):
            raise ExpressionError(f"{where}: arithmetic needs numbers, not a collection")
        return x

    def name(self, node: ast.Name) -> Node:
        if node.id not in COLLECTIONS:
            raise self.fail(
                node,
                f"unknown name {node.id!r}; names are the collections {', '.join(COLLECTIONS)}",
            )
        name = node.id
        self.collections.add(name)
        where = self.where(node)

        def get(o):
            if name == "event":
                return o
            if name not in o.fields:
                raise ExpressionError(
                    f"{where}: these events have no {name!r}; they have {', '.join(o.fields)}"
                )
            return o[name]

        return get

    def _root_name(self, node: ast.AST) -> str | None:
        while isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    def attribute(self, node: ast.Attribute, d: int) -> Node:
        attr = node.attr
        if attr.startswith("_"):
            raise self.fail(node, f"attribute {attr!r} is not allowed (no names starting with _)")
        inner = self.compile(node.value, d)
        root = self._root_name(node.value)
        if root:
            self.fields.setdefault(root, set()).add(attr)
        where = self.where(node)

        def get(o):
            x = inner(o)
            if not (_is_collection(x) or _is_record(x) or (_is_ak(x) and x.fields)):
                raise ExpressionError(f"{where}: .{attr} of something that is not a collection")
            if attr not in x.fields:
                raise ExpressionError(
                    f"{where}: no field {attr!r}; available: {', '.join(x.fields)}"
                )
            out = x[attr]
            if out.ndim == 1 and isinstance(out.layout, ak.contents.NumpyArray):
                return out.layout.data if isinstance(out.layout.data, np.ndarray) else out
            return out

        return get

    def subscript(self, node: ast.Subscript, d: int) -> Node:
        inner = self.compile(node.value, d)
        sl = node.slice
        where = self.where(node)
        if isinstance(sl, ast.Constant) and type(sl.value) is int:
            i = sl.value
            if not 0 <= i < 1000:
                raise self.fail(sl, "an object index must be 0 … 999 (0 = leading)")

            def index(o):
                x = inner(o)
                if _depth(x) != 1:
                    raise ExpressionError(f"{where}: [{i}] needs per-object values or a collection")
                if not x.fields:
                    fast = _pick(x, i)
                    if fast is not None:
                        return fast
                picked = ak.pad_none(x, i + 1, axis=1, clip=True)[:, i]
                return picked if picked.fields else _per_event(picked, _fill_for(picked))

            return index
        if (
            isinstance(sl, ast.UnaryOp)
            and isinstance(sl.op, ast.USub)
            and isinstance(sl.operand, ast.Constant)
        ):
            raise self.fail(sl, "negative indices are not allowed; 0 is the leading object")
        if isinstance(sl, ast.Slice | ast.Tuple):
            raise self.fail(sl, "only x[INDEX] or x[CONDITION] subscripts are allowed")
        xb, cb = _bases(node.value), _bases(sl)
        if len(xb) == 1 and cb - xb:
            raise self.fail(
                sl,
                f"x[cond] selects {next(iter(xb))} but cond is on {', '.join(sorted(cb - xb))}; "
                "cond must be on x's own collection, e.g. jets.pt[jets.eta < 2.4]",
            )
        mask = self.compile(sl, d)

        def select(o):
            x, m = inner(o), mask(o)
            if _depth(x) != 1 or _depth(m) != 1:
                raise ExpressionError(
                    f"{where}: a selection x[cond] needs per-object x and cond, "
                    "e.g. jets[jets.pt > 30]"
                )
            return _select(x, m, where)

        return select

    def call(self, node: ast.Call, d: int) -> Node:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only the functions " + ", ".join(FUNCTIONS) + " may be called")
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.fail(
                node, f"unknown function {name!r}; allowed: {', '.join(sorted(FUNCTIONS))}"
            )
        if node.keywords:
            raise self.fail(node, f"{name}() takes no keyword arguments")
        nargs, fn = FUNCTIONS[name]
        if len(node.args) != nargs:
            raise self.fail(node, f"{name}() takes {nargs} argument(s), got {len(node.args)}")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, "*arguments are not allowed")
        if nargs > 1:
            self.one_collection(node, node.args, f"{name}()")
        args = [self.compile(a, d) for a in node.args]
        where = self.where(node)
        return lambda o: fn(*(a(o) for a in args), where)

    def compare(self, node: ast.Compare, d: int) -> Node:
        for op in node.ops:
            if type(op) not in _CMP:
                raise self.fail(node, f"comparison {type(op).__name__} is not allowed")
        self.one_collection(node, [node.left, *node.comparators], "a comparison")
        operands = [self.compile(x, d) for x in (node.left, *node.comparators)]
        ops = [_CMP[type(op)] for op in node.ops]
        where = self.where(node)

        def cmp(o):
            vals = [self._number(v(o), where) for v in operands]
            acc = None
            with np.errstate(invalid="ignore"):
                for fn, a, b in zip(ops, vals, vals[1:], strict=False):
                    r = _elementwise(fn, a, b)
                    acc = r if acc is None else _elementwise(np.logical_and, acc, r)
            return acc

        return cmp


def compile_expression(text: str) -> Expression:
    """Parse ``text`` with the cut grammar; raise :class:`ExpressionError` (with the
    column) for anything outside it. Never executes the text."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        col = f" at column {err.offset}" if err.offset else ""
        raise ExpressionError(f"in {text!r}{col}: invalid syntax ({err.msg})") from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as err:
        raise ExpressionError(f"in {text!r}: cannot be parsed ({type(err).__name__})") from None
    comp = _Compiler(text.strip())
    try:
        node = comp.compile(tree)
    except RecursionError:
        raise ExpressionError(f"in {text!r}: expression nested too deeply") from None
    return Expression(text.strip(), node, comp.collections, comp.fields)


#: object fields and functions whose values are energies (GeV): for plot axes
_GEV_FIELDS = {"pt", "msd", "mass", "msoftdrop", "e", "energy", "et", "sumet", "px", "py", "pz"}
_GEV_FUNCTIONS = {"ht", "mht", "mass", "max_pair_mass"}


def axis_label(text: str) -> str:
    """A plot axis label for an expression: the expression, with `` [GeV]`` when its
    value is an energy (``jets.pt[0]``, ``ht(jets[...])``, ``max(fatjets.msd)``)."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return text
    while True:
        if isinstance(node, ast.Subscript):
            node = node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("sum", "max", "min", "abs") and len(node.args) == 1):  # fmt: skip
            node = node.args[0]
        else:
            break
    if isinstance(node, ast.Attribute):
        gev = node.attr.lower() in _GEV_FIELDS
    elif isinstance(node, ast.Name):  # a NanoAOD branch such as Jet_pt, FatJet_msoftdrop
        gev = "_" in node.id and node.id.lower().rsplit("_", 1)[1] in _GEV_FIELDS
    else:
        fn = node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else ""
        gev = fn in _GEV_FUNCTIONS
    return f"{text} [GeV]" if gev else text
