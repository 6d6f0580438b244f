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


def _flat(raw: ak.Array, branch: str) -> np.ndarray:
    return ak.to_numpy(ak.flatten(raw[branch], axis=None))


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


def _collection(
    raw: ak.Array, name: str, src: Source, where: str, entry0: int
) -> tuple[ak.Array, np.ndarray]:
    """One source's jagged record array and its counts per event."""
    lead = next((f for f in KINDS[src.kind] if f in src.fields), next(iter(src.fields)))
    first = src.fields[lead]
    counts = ak.to_numpy(ak.num(raw[first], axis=1))
    for _f, b in src.fields.items():
        other = ak.to_numpy(ak.num(raw[b], axis=1))
        if not np.array_equal(other, counts):
            i = int(np.flatnonzero(other != counts)[0])
            raise InputError(
                f"{where}: branch {b!r} has {other[i]} values at entry {entry0 + i} but "
                f"{first!r} has {counts[i]} (collection {name!r}); the file is inconsistent: "
                f"regenerate it, or read without {name!r} (collections=[...])"
            )
    if src.counter is not None and src.counter in raw.fields:
        declared = ak.to_numpy(raw[src.counter]).astype(np.int64)
        if not np.array_equal(declared, counts):
            i = int(np.flatnonzero(declared != counts)[0])
            raise InputError(
                f"{where}: count branch {src.counter!r} says {declared[i]} at entry {entry0 + i} "
                f"but {first!r} holds {counts[i]} values (collection {name!r}); the file is "
                f"inconsistent: regenerate it, or read without {name!r} (collections=[...])"
            )
    n = int(counts.sum())
    cols = {f: _flat(raw, b) for f, b in src.fields.items()}
    particle_like = name in _PARTICLE_LIKE
    core = _convert(src, cols, n, particle_like)
    out = dict(core)
    if particle_like:
        for k in ("pid", "charge"):
            v = cols.get(k, np.full(n, src.constants.get(k, 0)))
            out[k] = v.astype(np.int32)
    for k, v in cols.items():
        if k not in out and k not in _needed(src):
            out[k] = v
    for k, v in src.constants.items():
        if k not in out and k not in _KINEMATIC:
            out[k] = np.full(n, v)
    return ak.zip(out, depth_limit=1), counts


def _scalar(arr: ak.Array, default: float) -> ak.Array:
    """A per-event value; Delphes stores them as one-element lists (``Event.Weight``)."""
    if arr.ndim > 1:
        return ak.fill_none(ak.firsts(arr, axis=1), default)
    return arr


def build_events(raw: ak.Array, mapping: EventMapping, *, entry_start: int, where: str) -> ak.Array:
    """hepml's event record for one chunk of raw branches.

    ``raw`` holds the branches of ``mapping.branches()`` for entries
    ``entry_start ... entry_start + len(raw)`` of the file; ``where`` names the
    file and tree for error messages.
    """
    n = len(raw)
    fields: dict[str, ak.Array | np.ndarray] = {}
    for name, sources in mapping.collections.items():
        parts = []
        for src in sources:
            flat, counts = _collection(raw, name, src, where, entry_start)
            parts.append(ak.unflatten(flat, counts))
        if len(parts) > 1:  # several sources (Delphes): keep the fields they all have
            common = [f for f in parts[0].fields if all(f in p.fields for p in parts[1:])]
            parts = [p[common] for p in parts]
        arr = parts[0] if len(parts) == 1 else ak.concatenate(parts, axis=1)
        fields[name] = ak.with_name(arr, "Momentum4D")
    if mapping.met is not None:
        m = mapping.met
        col = {k: ak.to_numpy(_scalar(raw[b], 0.0)) for k, b in m.fields.items()}
        if m.kind == "xy":
            px, py = col["px"].astype(np.float64), col["py"].astype(np.float64)
            met = {"pt": np.hypot(px, py), "phi": np.arctan2(py, px)}
        else:
            met = {"pt": col["pt"], "phi": col["phi"]}
        fields["met"] = ak.zip(met, with_name="Momentum2D")
    if mapping.triggers:
        fields["triggers"] = ak.zip(
            {k: ak.values_astype(raw[b], bool) for k, b in mapping.triggers.items()}, depth_limit=1
        )
    for k in ("run", "lumi", "event"):
        if k in mapping.scalars:
            fields[k] = _scalar(raw[mapping.scalars[k]], -1)
    fields["entry"] = np.arange(entry_start, entry_start + n, dtype=np.int64)
    if "weight" in mapping.scalars:
        fields["weight"] = ak.values_astype(
            _scalar(raw[mapping.scalars["weight"]], 1.0), np.float64
        )
    elif mapping.with_weight:
        fields["weight"] = np.ones(n, dtype=np.float64)
    return ak.zip(fields, depth_limit=1)
