"""Turn the raw branches of one chunk into hepml's event model.

Kinematic conversions are vectorised numpy on the flat content of each jagged
branch (``ak.flatten``) and rebuilt with the same counts, so no Python code
loops over events or particles. Momenta get ``vector`` behaviours
(``Momentum4D`` for particles and objects, ``Momentum2D`` for ``met``).

.. math::

    p_T = \\sqrt{p_x^2 + p_y^2},\\quad \\eta = \\sinh^{-1}(p_z / p_T),\\quad
    \\phi = \\operatorname{atan2}(p_y, p_x),\\quad m = \\sqrt{\\max(E^2 - |\\vec p|^2, 0)}
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

from hepml.errors import InputError
from hepml.io.schemas import KINDS, EventMapping, Source

__all__ = ["build_events"]

vector.register_awkward()

_PARTICLE_LIKE = ("particles", "partons")
_KINEMATIC = {f for fields in KINDS.values() for f in fields}


class _Raw:
    """Fast access to the branches of one chunk: offsets and flat contents as numpy."""

    def __init__(self, raw: ak.Array, where: str = "") -> None:
        self.layout = ak.to_layout(raw)
        self.fields = set(self.layout.fields)
        self.where = where
        self.scalars: set[str] = set()  # branches with one value per entry (not lists)
        self._jagged: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def array(self, branch: str) -> ak.Array:
        return ak.Array(self.layout.content(branch))

    def flat(self, branch: str) -> np.ndarray:
        """A per-event branch as a numpy array."""
        node = self.layout.content(branch)
        if isinstance(node, ak.contents.NumpyArray):
            return np.asarray(node.data)
        return ak.to_numpy(ak.Array(node))

    def jagged(self, branch: str) -> tuple[np.ndarray, np.ndarray]:
        """``(offsets starting at 0, content)`` of a jagged branch of numbers; a branch
        of one number per entry (a flat ntuple's leading object) is a list of one."""
        if branch not in self._jagged:
            node = self.layout.content(branch)
            if isinstance(node, ak.contents.NumpyArray) and node.data.ndim == 1:
                self.scalars.add(branch)
                offsets = np.arange(len(node) + 1, dtype=np.int64)
                self._jagged[branch] = (offsets, np.asarray(node.data))
                return self._jagged[branch]
            try:
                if isinstance(node, ak.contents.NumpyArray):  # fixed-size arrays per entry
                    node = node.to_RegularArray()
                if not isinstance(node, ak.contents.ListOffsetArray):
                    node = node.to_ListOffsetArray64(True)
                offsets = np.asarray(node.offsets.data)
                content = node.content
                if not isinstance(content, ak.contents.NumpyArray):
                    content = ak.to_layout(ak.to_numpy(ak.Array(content)))
                if content.data.ndim != 1:
                    raise ValueError("lists of arrays")
            except Exception:
                kind = str(ak.Array(self.layout.content(branch)).type)
                raise InputError(
                    f"{self.where}: branch {branch!r} holds {kind[:80]}, which hepml cannot read "
                    "as an object collection; it expects one number or one list of numbers per "
                    "entry: check the branch, map the collection with a YAML file, or read "
                    "without it (collections=[...])"
                ) from None
            data = np.asarray(content.data)[offsets[0] : offsets[-1]]
            self._jagged[branch] = (offsets - offsets[0], data)
        return self._jagged[branch]


def _xyz_from_ptetaphi(pt, eta, phi):
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)


def _ptetaphi_from_xyz(px, py, pz):
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(pz / np.where(pt > 0, pt, 1.0)), np.sign(pz) * np.inf)
    return pt, eta, np.arctan2(py, px)


def _mass(E, p2):
    return np.sqrt(np.maximum(E * E - p2, 0.0))


def _convert(src: Source, cols: dict[str, np.ndarray], n: int, particle_like: bool):
    """Core kinematic columns of one source, in the collection's representation."""
    c = {k: cols[k] if k in cols else np.full(n, src.constants[k]) for k in _needed(src)}
    if particle_like:
        if src.kind == "xyze":
            return {"px": c["px"], "py": c["py"], "pz": c["pz"], "E": c["E"]}
        px, py, pz = _xyz_from_ptetaphi(c["pt"], c["eta"], c["phi"])
        if src.kind == "ptetaphim":
            E = np.sqrt(px * px + py * py + pz * pz + c["mass"] ** 2)
        else:  # ptetaphie
            E = c["E"]
        return {"px": px, "py": py, "pz": pz, "E": E}
    if src.kind == "ptetaphim":
        return {"pt": c["pt"], "eta": c["eta"], "phi": c["phi"], "mass": c["mass"]}
    if src.kind == "xyze":
        pt, eta, phi = _ptetaphi_from_xyz(c["px"], c["py"], c["pz"])
        m = _mass(c["E"], c["px"] ** 2 + c["py"] ** 2 + c["pz"] ** 2)
        return {"pt": pt, "eta": eta, "phi": phi, "mass": m}
    # ptetaphie
    m = _mass(c["E"], (c["pt"] * np.cosh(c["eta"])) ** 2)
    return {"pt": c["pt"], "eta": c["eta"], "phi": c["phi"], "mass": m}


def _needed(src: Source) -> tuple[str, ...]:
    return KINDS[src.kind]


def _collection(raw: _Raw, name: str, src: Source, where: str, entry0: int) -> ak.contents.Content:
    """One source's jagged record array (a layout), after checking its counts."""
    lead = next((f for f in KINDS[src.kind] if f in src.fields), next(iter(src.fields)))
    first = src.fields[lead]
    offsets, _ = raw.jagged(first)
    for b in src.fields.values():
        other, _ = raw.jagged(b)
        if not np.array_equal(other, offsets):
            c1, c2 = np.diff(other), np.diff(offsets)
            i = int(np.flatnonzero(c1 != c2)[0])
            if (b in raw.scalars) != (first in raw.scalars):
                one, many = (b, first) if b in raw.scalars else (first, b)
                raise InputError(
                    f"{where}: branch {one!r} holds one value per entry but {many!r} holds a "
                    f"list per entry (collection {name!r}); a collection's branches must all be "
                    f"lists or all single values: check the file, or read without {name!r} "
                    "(collections=[...])"
                )
            raise InputError(
                f"{where}: branch {b!r} has {c1[i]} values at entry {entry0 + i} but "
                f"{first!r} has {c2[i]} (collection {name!r}); the file is inconsistent: "
                f"regenerate it, or read without {name!r} (collections=[...])"
            )
    if src.counter is not None and src.counter in raw.fields:
        declared = raw.flat(src.counter).astype(np.int64)
        counts = np.diff(offsets)
        if not np.array_equal(declared, counts):
            i = int(np.flatnonzero(declared != counts)[0])
            raise InputError(
                f"{where}: count branch {src.counter!r} says {declared[i]} at entry {entry0 + i} "
                f"but {first!r} holds {counts[i]} values (collection {name!r}); the file is "
                f"inconsistent: regenerate it, or read without {name!r} (collections=[...])"
            )
    n = int(offsets[-1])
    cols = {f: raw.jagged(b)[1] for f, b in src.fields.items()}
    if src.final_status is not None and "status" in cols:  # (decay chains listed too)
        keep = cols["status"] == src.final_status
        event = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        counts = np.bincount(event[keep], minlength=len(offsets) - 1)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        cols = {k: v[keep] for k, v in cols.items()}
        n = int(offsets[-1])
    particle_like = name in _PARTICLE_LIKE
    out = _convert(src, cols, n, particle_like)
    if particle_like:
        # (partons carry no charge column: a quark's charge is not an integer, and
        # none is made up when the file has none)
        for k in ("pid", "charge") if name == "particles" else ("pid",):
            v = cols.get(k, np.full(n, src.constants.get(k, 0)))
            out[k] = v.astype(np.int32)
    for k, v in cols.items():
        if k not in out and k not in _needed(src):
            out[k] = v
    for k, v in src.constants.items():
        if k not in out and k not in _KINEMATIC:
            out[k] = np.full(n, v)
    record = ak.contents.RecordArray(
        [ak.contents.NumpyArray(v) for v in out.values()],
        list(out),
        length=n,
        parameters={"__record__": "Momentum4D"},
    )
    return ak.contents.ListOffsetArray(ak.index.Index64(offsets.astype(np.int64)), record)


def _scalar(raw: _Raw, branch: str, default: float) -> np.ndarray:
    """A per-event value; Delphes stores them as one-element lists (``Event.Weight``)."""
    node = raw.layout.content(branch)
    if isinstance(node, ak.contents.NumpyArray):
        return np.asarray(node.data)
    arr = ak.Array(node)
    if arr.ndim > 1:
        arr = ak.fill_none(ak.firsts(arr, axis=1), default)
    return ak.to_numpy(arr)


def _bit(r: _Raw, branch: str, where: str) -> np.ndarray:
    """A trigger decision branch (one bool or integer per entry) as booleans."""
    node = r.layout.content(branch)
    if not (
        isinstance(node, ak.contents.NumpyArray)
        and node.data.ndim == 1
        and np.asarray(node.data).dtype.kind in "biu"
    ):
        raise InputError(
            f"{where}: branch {branch!r} was taken for a trigger decision by its name, but "
            f"holds {ak.Array(node).type.content}, not one bool per entry; leave the "
            "'triggers' collection out (collections=[...]) or map the file with a YAML "
            "mapping"
        )
    return np.asarray(node.data).astype(bool, copy=False)


def build_events(raw: ak.Array, mapping: EventMapping, *, entry_start: int, where: str) -> ak.Array:
    """hepml's event record for one chunk of raw branches.

    ``raw`` holds the branches of ``mapping.branches()`` for entries
    ``entry_start ... entry_start + len(raw)`` of the file; ``where`` names the
    file and tree for error messages.
    """
    n = len(raw)
    r = _Raw(raw, where)
    fields: dict[str, ak.contents.Content | np.ndarray] = {}
    for name, sources in mapping.collections.items():
        parts = [_collection(r, name, src, where, entry_start) for src in sources]
        if len(parts) == 1:
            fields[name] = parts[0]
            continue
        # several sources (Delphes): concatenate per event, keeping the fields they all have
        arrays = [ak.Array(p) for p in parts]
        common = [f for f in arrays[0].fields if all(f in a.fields for a in arrays[1:])]
        merged = ak.concatenate([a[common] for a in arrays], axis=1)
        fields[name] = ak.to_layout(ak.with_name(merged, "Momentum4D"))
    if mapping.met is not None:
        m = mapping.met
        col = {k: _scalar(r, b, 0.0) for k, b in m.fields.items()}
        if m.kind == "xy":
            px, py = col["px"].astype(np.float64), col["py"].astype(np.float64)
            met = {"pt": np.hypot(px, py), "phi": np.arctan2(py, px)}
        else:
            met = {"pt": col["pt"], "phi": col["phi"]}
        fields["met"] = ak.contents.RecordArray(
            [ak.contents.NumpyArray(v) for v in met.values()],
            list(met),
            length=n,
            parameters={"__record__": "Momentum2D"},
        )
    if mapping.triggers:
        fields["triggers"] = ak.contents.RecordArray(
            [ak.contents.NumpyArray(_bit(r, b, where)) for b in mapping.triggers.values()],
            list(mapping.triggers),
            length=n,
        )
    for k in ("run", "lumi", "event"):
        if k in mapping.scalars:
            fields[k] = _scalar(r, mapping.scalars[k], -1)
    fields["entry"] = np.arange(entry_start, entry_start + n, dtype=np.int64)
    if "weight" in mapping.scalars:
        fields["weight"] = _scalar(r, mapping.scalars["weight"], 1.0).astype(np.float64)
    elif mapping.with_weight:
        fields["weight"] = np.ones(n, dtype=np.float64)
    contents = [
        ak.contents.NumpyArray(v) if isinstance(v, np.ndarray) else v for v in fields.values()
    ]
    return ak.Array(ak.contents.RecordArray(contents, list(fields), length=n))
