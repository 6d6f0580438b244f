"""Schemas: how a file's branches map onto hepml's event model.

hepml's collections (DESIGN.md): ``particles`` (px, py, pz, E, pid, charge),
``jets``, ``fatjets``, ``muons``, ``electrons``, ``photons`` (pt, eta, phi, mass
plus extras), ``met`` (pt, phi), ``triggers`` (decision bits), ``weight`` and the
event ids ``run``, ``lumi``, ``event`` (``entry``, the entry number in its file,
is always there). hepml's own files also carry ``partons`` (the hard process).

A schema looks at a tree's branch names and returns an :class:`EventMapping`:
for each collection, the branches that fill each field and how to read their
kinematics. Built-in schemas: ``hepml``, ``nanoaod`` (TTree and RNTuple, PFNano
``PFCands_*`` when present), ``delphes``, ``flat`` (``Prefix_Px``-style ntuples such
as the scikit-hep HZZ sample) and a user mapping in YAML (:func:`load_mapping`).

Example YAML mapping::

    tree: events
    collections:
      jets:
        kind: xyze                  # or ptetaphim, ptetaphie
        counter: NJet               # optional; checked against the content
        fields: {px: Jet_Px, py: Jet_Py, pz: Jet_Pz, E: Jet_E, btag: Jet_btag}
      muons:
        kind: xyze
        fields: {px: Muon_Px, py: Muon_Py, pz: Muon_Pz, E: Muon_E}
    met: {kind: xy, fields: {px: MET_px, py: MET_py}}
    weight: EventWeight
    triggers: {IsoMu24: triggerIsoMu24}
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from hepml.errors import ConfigError

__all__ = [
    "COLLECTIONS",
    "SCHEMAS",
    "EventMapping",
    "Source",
    "detect_schema",
    "is_mapping_file",
    "load_mapping",
    "mapping_for",
]

#: Object collections and what their kinematics are made of once read.
OBJECT_COLLECTIONS = ("jets", "fatjets", "muons", "electrons", "photons")
#: Every collection name a mapping may fill.
COLLECTIONS = ("particles", "partons", *OBJECT_COLLECTIONS, "met", "triggers", "weight", "ids")

#: Kinds of kinematic inputs and the fields each needs.
KINDS: dict[str, tuple[str, ...]] = {
    "xyze": ("px", "py", "pz", "E"),
    "ptetaphim": ("pt", "eta", "phi", "mass"),
    "ptetaphie": ("pt", "eta", "phi", "E"),
    "ptphi": ("pt", "phi"),
    "xy": ("px", "py"),
}

#: the kinds a collection of four-momenta may be given in, and MET's
FOUR_KINDS = ("xyze", "ptetaphim", "ptetaphie")
MET_KINDS = ("ptphi", "xy")

MUON_MASS = 0.1056583755
ELECTRON_MASS = 0.00051099895
PION_MASS = 0.13957039


@dataclass(frozen=True)
class Source:
    """Where one collection's fields come from.

    ``fields`` maps an output field to a branch; ``constants`` gives fields a
    fixed value (the mass of a muon when a file has none, the pid of a photon
    tower); ``counter`` is the count branch (``nJet``) checked against the
    content when it is read. ``final_status``: keep only the entries whose
    ``status`` equals it (a generator record that lists every particle of the
    decay chains, as Delphes' ``Particle`` does: its final-state particles are
    status 1; the tops, Ws and hadrons that decayed would count twice).
    """

    kind: str
    fields: dict[str, str]
    counter: str | None = None
    constants: dict[str, float] = field(default_factory=dict)
    final_status: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown kinematics kind {self.kind!r}; use one of {sorted(KINDS)}")

    def branches(self) -> list[str]:
        names = list(self.fields.values())
        if self.counter:
            names.append(self.counter)
        return names

    def core(self) -> Source:
        """This source without extras: kinematics and particle identity only."""
        keep = (*KINDS[self.kind], "pid", "charge", "status", "mother")
        return Source(
            self.kind,
            {f: b for f, b in self.fields.items() if f in keep},
            self.counter,
            self.constants,
            self.final_status,
        )


@dataclass
class EventMapping:
    """A file's branches mapped onto hepml's collections.

    ``collections`` maps a collection name to one or more sources; several
    sources are concatenated per event (Delphes' tracks, photons and neutral
    hadrons make up ``particles``). ``scalars`` maps ``weight``/``run``/``lumi``/
    ``event`` to branches, ``triggers`` maps a bit name to its branch, and
    ``missing`` lists branches the schema expected but did not find.
    """

    schema: str
    tree: str
    collections: dict[str, list[Source]] = field(default_factory=dict)
    met: Source | None = None
    scalars: dict[str, str] = field(default_factory=dict)
    triggers: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    with_weight: bool = True  # a ``weight`` field (ones when the file has none)

    def available(self) -> list[str]:
        names = list(self.collections)
        if self.met is not None:
            names.append("met")
        if self.triggers:
            names.append("triggers")
        names.append("weight")
        names.append("ids")
        return names

    def select(self, collections: Iterable[str] | None) -> EventMapping:
        """A copy restricted to ``collections`` (None keeps all)."""
        if collections is None:
            return self
        wanted = set(collections)
        unknown = wanted - set(COLLECTIONS)
        if unknown:
            raise ConfigError(
                f"unknown collection(s) {sorted(unknown)}; hepml's collections are {list(COLLECTIONS)}"
            )
        return EventMapping(
            schema=self.schema,
            tree=self.tree,
            collections={k: v for k, v in self.collections.items() if k in wanted},
            met=self.met if "met" in wanted else None,
            scalars={
                k: v
                for k, v in self.scalars.items()
                if (k == "weight" and "weight" in wanted) or (k != "weight" and "ids" in wanted)
            },
            triggers=self.triggers if "triggers" in wanted else {},
            missing=self.missing,
            with_weight="weight" in wanted,
        )

    def core(self) -> EventMapping:
        """A copy whose collections keep only their kinematic and identity fields."""
        return replace(
            self, collections={k: [s.core() for s in v] for k, v in self.collections.items()}
        )

    def branches(self) -> list[str]:
        """Every branch this mapping reads, each once, in a stable order."""
        out: list[str] = []
        for sources in self.collections.values():
            for s in sources:
                out.extend(s.branches())
        if self.met is not None:
            out.extend(self.met.branches())
        out.extend(self.scalars.values())
        out.extend(self.triggers.values())
        return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- helpers


def _prefixed(branches: set[str], prefix: str, sep: str = "_") -> dict[str, str]:
    """``{"pt": "Jet_pt", ...}`` for every branch named ``prefix + sep + field``."""
    n = len(prefix) + len(sep)
    return {b[n:]: b for b in sorted(branches) if b.startswith(prefix + sep) and len(b) > n}


# --------------------------------------------------------------------------- hepml's own


def _hepml(branches: set[str], tree: str) -> EventMapping:
    m = EventMapping(schema="hepml", tree=tree)
    p = _prefixed(branches, "particle")
    need = ("px", "py", "pz", "E", "pid", "charge")
    m.missing += [f"particle_{f}" for f in need if f not in p]
    if all(f in p for f in ("px", "py", "pz", "E")):
        m.collections["particles"] = [
            Source("xyze", p, counter="nparticle" if "nparticle" in branches else None)
        ]
    q = _prefixed(branches, "parton")
    if all(f in q for f in ("px", "py", "pz", "E")):
        m.collections["partons"] = [
            Source("xyze", q, counter="nparton" if "nparton" in branches else None)
        ]
    for c in OBJECT_COLLECTIONS:  # reconstructed objects written back by hepml
        f = _prefixed(branches, c[:-1])
        if all(k in f for k in ("pt", "eta", "phi", "mass")):
            m.collections[c] = [Source("ptetaphim", f, counter=f"n{c[:-1]}")]
    if "met_pt" in branches and "met_phi" in branches:
        m.met = Source("ptphi", {"pt": "met_pt", "phi": "met_phi"})
    for k in ("weight", "run", "lumi", "event"):
        if k in branches:
            m.scalars[k] = k
    m.triggers = {b[len("trigger_") :]: b for b in sorted(branches) if b.startswith("trigger_")}
    return m


# --------------------------------------------------------------------------- CMS NanoAOD

_NANO_OBJECTS = {
    "jets": ("Jet", {}),
    "fatjets": ("FatJet", {"msoftdrop": "msd"}),
    "muons": ("Muon", {"pfRelIso04_all": "iso", "pdgId": "pid"}),
    "electrons": ("Electron", {"pfRelIso03_all": "iso", "pdgId": "pid"}),
    "photons": ("Photon", {"pfRelIso03_all": "iso"}),
}


def _alias(fields: dict[str, str], renames: dict[str, str]) -> dict[str, str]:
    """Add friendlier names (``msd`` for ``msoftdrop``) beside the file's own."""
    out = dict(fields)
    for old, new in renames.items():
        if old in out and new not in out:
            out[new] = out[old]
    return out


def _nanoaod(branches: set[str], tree: str) -> EventMapping:
    m = EventMapping(schema="nanoaod", tree=tree)
    for coll, (prefix, renames) in _NANO_OBJECTS.items():
        f = _prefixed(branches, prefix)
        if not f:
            m.missing.append(f"{prefix}_pt")
            continue
        if "mass" not in f and coll == "photons":
            src = Source("ptetaphim", {**f}, counter=f"n{prefix}", constants={"mass": 0.0})
        else:
            src = Source("ptetaphim", _alias(f, renames), counter=f"n{prefix}")
        miss = [
            f"{prefix}_{k}"
            for k in KINDS["ptetaphim"]
            if k not in src.fields and k not in src.constants
        ]
        if miss:
            m.missing += miss
            continue
        if src.counter not in branches:
            src = Source(src.kind, src.fields, None, src.constants)
        m.collections[coll] = [src]
    pf = _prefixed(branches, "PFCands")
    if all(k in pf for k in ("pt", "eta", "phi", "mass")):
        pf = _alias(pf, {"pdgId": "pid"})
        m.collections["particles"] = [
            Source("ptetaphim", pf, counter="nPFCands" if "nPFCands" in branches else None)
        ]
    if "MET_pt" in branches and "MET_phi" in branches:
        m.met = Source("ptphi", {"pt": "MET_pt", "phi": "MET_phi"})
    else:
        m.missing.append("MET_pt")
    for k, b in (
        ("weight", "genWeight"),
        ("run", "run"),
        ("lumi", "luminosityBlock"),
        ("event", "event"),
    ):
        if b in branches:
            m.scalars[k] = b
        elif k != "weight":
            m.missing.append(b)
    m.triggers = {b: b for b in sorted(branches) if b.startswith(("HLT_", "L1_"))}
    return m


# --------------------------------------------------------------------------- Delphes


#: Delphes members that are not one number per object: ROOT's TObject internals,
#: references to other objects (TRef, TRefArray) and four-vectors (TLorentzVector);
#: fixed-size arrays (``Jet.FracPt[5]``) are left out by their ``[``
_DELPHES_NOT_NUMBERS = frozenset({
    "fUniqueID", "fBits", "Constituents", "Particles", "Particle", "Area",
    "SoftDroppedJet", "SoftDroppedSubJet1", "SoftDroppedSubJet2",
})  # fmt: skip


def _delphes_fields(branches: set[str], name: str) -> dict[str, str]:
    return {
        k: b
        for k, b in _prefixed(branches, name, sep=".").items()
        if "[" not in k and k not in _DELPHES_NOT_NUMBERS
    }


def _delphes(branches: set[str], tree: str) -> EventMapping:
    m = EventMapping(schema="delphes", tree=tree)
    parts: list[Source] = []
    trk = _delphes_fields(branches, "EFlowTrack")
    if {"PT", "Eta", "Phi"} <= trk.keys():
        f = {"pt": trk["PT"], "eta": trk["Eta"], "phi": trk["Phi"]}
        const: dict[str, float] = {}
        if "Mass" in trk:
            f["mass"] = trk["Mass"]
        else:
            const["mass"] = PION_MASS
        if "PID" in trk:
            f["pid"] = trk["PID"]
        if "Charge" in trk:
            f["charge"] = trk["Charge"]
        parts.append(Source("ptetaphim", f, counter="EFlowTrack_size", constants=const))
    for name, pid in (("EFlowPhoton", 22.0), ("EFlowNeutralHadron", 130.0)):
        t = _delphes_fields(branches, name)
        if {"ET", "Eta", "Phi", "E"} <= t.keys():
            f = {"pt": t["ET"], "eta": t["Eta"], "phi": t["Phi"], "E": t["E"]}
            parts.append(
                Source(
                    "ptetaphie", f, counter=f"{name}_size", constants={"pid": pid, "charge": 0.0}
                )
            )
    if parts:
        m.collections["particles"] = parts
    else:
        gen = _delphes_fields(branches, "Particle")
        if {"Px", "Py", "Pz", "E"} <= gen.keys():
            f = {"px": gen["Px"], "py": gen["Py"], "pz": gen["Pz"], "E": gen["E"]}
            for a, b in (("pid", "PID"), ("charge", "Charge"), ("status", "Status")):
                if b in gen:
                    f[a] = gen[b]
            final = 1 if "status" in f else None  # (HepMC: 1 = final state)
            m.collections["particles"] = [
                Source("xyze", f, counter="Particle_size", final_status=final)
            ]
        else:
            m.missing.append("EFlowTrack.PT")
    objects = {
        "jets": ("Jet", {}, None),
        "fatjets": ("FatJet", {}, None),
        "muons": ("Muon", {"mass": MUON_MASS}, "IsolationVar"),
        "electrons": ("Electron", {"mass": ELECTRON_MASS}, "IsolationVar"),
        "photons": ("Photon", {"mass": 0.0}, "IsolationVar"),
    }
    for coll, (name, const, iso) in objects.items():
        t = _delphes_fields(branches, name)
        if not {"PT", "Eta", "Phi"} <= t.keys():
            continue
        f = {"pt": t.pop("PT"), "eta": t.pop("Eta"), "phi": t.pop("Phi")}
        if "Mass" in t:
            f["mass"] = t.pop("Mass")
            const = {}
        if iso and iso in t:
            f["iso"] = t[iso]
        for k, b in t.items():
            f.setdefault(k[0].lower() + k[1:], b)
        m.collections[coll] = [Source("ptetaphim", f, counter=f"{name}_size", constants=const)]
    met = _delphes_fields(branches, "MissingET")
    if {"MET", "Phi"} <= met.keys():
        m.met = Source("ptphi", {"pt": met["MET"], "phi": met["Phi"]})
    ev = _delphes_fields(branches, "Event")
    if "Weight" in ev:
        m.scalars["weight"] = ev["Weight"]
    if "Number" in ev:
        m.scalars["event"] = ev["Number"]
    return m


# --------------------------------------------------------------------------- flat ntuples

_FLAT_NAMES = {
    "jet": "jets",
    "fatjet": "fatjets",
    "muon": "muons",
    "electron": "electrons",
    "photon": "photons",
}
_FLAT_SUFFIX = re.compile(r"^(?P<prefix>[A-Za-z][A-Za-z0-9]*)_(?P<f>Px|Py|Pz|E|px|py|pz|e)$")


def _flat(branches: set[str], tree: str) -> EventMapping:
    m = EventMapping(schema="flat", tree=tree)
    prefixes: dict[str, set[str]] = {}
    for b in branches:
        mt = _FLAT_SUFFIX.match(b)
        if mt:
            prefixes.setdefault(mt["prefix"], set()).add(mt["f"].lower())
    for prefix, have in sorted(prefixes.items()):
        coll = _FLAT_NAMES.get(prefix.lower())
        if prefix.lower() == "met" and {"px", "py"} <= have:
            f = _prefixed(branches, prefix)
            m.met = Source("xy", {"px": f.get("px", f.get("Px")), "py": f.get("py", f.get("Py"))})
            continue
        if coll is None or not {"px", "py", "pz", "e"} <= have:
            continue
        raw = _prefixed(branches, prefix)
        f: dict[str, str] = {}
        for k, b in raw.items():
            key = k.lower() if k.lower() in ("px", "py", "pz") else ("E" if k.lower() == "e" else k)
            key = {"Charge": "charge", "Iso": "iso"}.get(key, key)
            f[key] = b
        counter = next((c for c in (f"N{prefix}", f"n{prefix}") if c in branches), None)
        m.collections[coll] = [Source("xyze", f, counter=counter)]
    for w in ("EventWeight", "weight", "Weight", "eventWeight"):
        if w in branches:
            m.scalars["weight"] = w
            break
    for k, names in (("run", ("run", "RunNumber")), ("event", ("event", "EventNumber"))):
        for b in names:
            if b in branches:
                m.scalars[k] = b
                break
    m.triggers = {
        b[len("trigger") :]: b for b in sorted(branches) if b.startswith("trigger") and len(b) > 7
    }
    return m


# --------------------------------------------------------------------------- detection

#: name -> (function building the mapping, default tree names)
SCHEMAS: dict[str, tuple[Callable[[set[str], str], EventMapping], tuple[str, ...]]] = {
    "hepml": (_hepml, ("events",)),
    "nanoaod": (_nanoaod, ("Events",)),
    "delphes": (_delphes, ("Delphes",)),
    "flat": (_flat, ("events", "Events", "tree", "ntuple")),
}


def detect_schema(branches: Iterable[str]) -> str | None:
    """The schema whose signature branches a tree has, or None.

    hepml: ``particle_px`` with ``parton_pid`` or ``particle_pid``, or objects as
    :func:`hepml.io.write` writes them (``njet`` with ``jet_pt/eta/phi/mass``); NanoAOD:
    ``run``, ``luminosityBlock`` and some ``nX``/``X_pt`` pair; Delphes: any
    ``Name.Field`` branch of its classes; flat: a ``Prefix_Px``/``Py``/``Pz``/``E``
    quartet.
    """
    b = set(branches)
    if "particle_px" in b and ("particle_pid" in b or "parton_pid" in b):
        return "hepml"
    if {"run", "luminosityBlock"} <= b and any(x.startswith("n") and f"{x[1:]}_pt" in b for x in b):
        return "nanoaod"
    if any(x.startswith(("Event.", "Particle.", "EFlowTrack.", "Jet.", "Track.")) for x in b):
        return "delphes"
    if _flat(b, "").collections:
        return "flat"
    if _hepml_objects_only(b):
        return "hepml"
    return None


_HEPML_PREFIXES = (*tuple(f"{c[:-1]}_" for c in (*OBJECT_COLLECTIONS, "triggers")), "met_")


def _hepml_objects_only(b: set[str]) -> bool:
    """Objects as :func:`hepml.io.write` writes them (``njet``, ``jet_pt/eta/phi/mass``,
    ``met_pt``, ``trigger_*``, run/lumi/event/weight) and nothing else; a skim of only
    MET or trigger bits too."""
    objs = [c[:-1] for c in OBJECT_COLLECTIONS if f"n{c[:-1]}" in b]
    kin = ("pt", "eta", "phi", "mass")
    met = {"met_pt", "met_phi"} <= b
    trig = any(x.startswith("trigger_") for x in b)
    return (
        bool(objs or met or trig)
        and all({f"{o}_{k}" for k in kin} <= b for o in objs)
        and all(
            x in ("run", "lumi", "event", "weight")
            or x.startswith(_HEPML_PREFIXES)
            or (x.startswith("n") and x[1:] in objs)
            for x in b
        )
    )


def is_mapping_file(schema: object) -> bool:
    """Whether ``schema`` names a YAML mapping file rather than a built-in schema: a
    path object, a name ending in ``.yaml``/``.yml``, or an existing file."""
    if isinstance(schema, os.PathLike):
        return True
    if not isinstance(schema, str) or schema == "auto" or schema in SCHEMAS:
        return False
    return schema.endswith((".yaml", ".yml")) or os.path.isfile(schema)


def mapping_for(schema: str | os.PathLike, branches: Iterable[str], tree: str) -> EventMapping:
    """Build the mapping of built-in ``schema`` for a tree with ``branches``; a YAML
    mapping file (:func:`load_mapping`) is read as it is, its branches that the tree
    lacks listed in ``missing``."""
    if is_mapping_file(schema):
        m = load_mapping(schema)
        have = set(branches)
        m.missing = [b for b in m.branches() if b not in have]
        return m
    try:
        fn, _ = SCHEMAS[schema]
    except KeyError:
        raise ConfigError(
            f"unknown schema {schema!r}; use one of {['auto', *SCHEMAS]} or a YAML mapping file"
        ) from None
    m = fn(set(branches), tree)
    m.collections = {c: m.collections[c] for c in COLLECTIONS if c in m.collections}
    return m


def load_mapping(path: str | Path) -> EventMapping:
    """Read a user mapping from YAML (``safe_load``; see the module docstring)."""
    from hepml._yaml import load_yaml

    path = Path(path)
    doc = load_yaml(path, "schema mapping file")
    if not isinstance(doc, dict) or "tree" not in doc:
        raise ConfigError(f"{path}: a schema mapping needs a top-level 'tree' key")
    m = EventMapping(schema=f"yaml:{path.name}", tree=str(doc["tree"]))
    known = {"tree", "collections", "met", "weight", "run", "lumi", "event", "triggers"}
    extra = set(doc) - known
    if extra:
        raise ConfigError(f"{path}: unknown key(s) {sorted(extra)}; allowed: {sorted(known)}")

    def source(where: str, spec: object, kinds: tuple[str, ...]) -> Source:
        if not isinstance(spec, dict) or "fields" not in spec or "kind" not in spec:
            raise ConfigError(f"{path}: {where} needs 'kind' and 'fields'")
        kind = spec["kind"]
        if kind not in kinds:  # (a collection has four-momenta; MET is transverse)
            raise ConfigError(f"{path}: {where}.kind is {kind!r}; use one of {list(kinds)}")
        fields = {str(k): str(v) for k, v in dict(spec["fields"]).items()}
        consts = {str(k): float(v) for k, v in dict(spec.get("constants", {})).items()}
        miss = [f for f in KINDS[kind] if f not in fields and f not in consts]
        if miss:
            raise ConfigError(f"{path}: {where}.fields lacks {miss} needed by kind {kind!r}")
        return Source(kind, fields, spec.get("counter"), consts)

    for name, spec in dict(doc.get("collections") or {}).items():
        if name not in COLLECTIONS or name in ("met", "triggers", "weight", "ids"):
            raise ConfigError(
                f"{path}: collections.{name} is not one of {['particles', 'partons', *OBJECT_COLLECTIONS]}"
            )
        specs = spec if isinstance(spec, list) else [spec]
        m.collections[name] = [source(f"collections.{name}", s, FOUR_KINDS) for s in specs]
    if doc.get("met") is not None:
        m.met = source("met", doc["met"], MET_KINDS)
    for k in ("weight", "run", "lumi", "event"):
        if doc.get(k) is not None:
            m.scalars[k] = str(doc[k])
    trig = doc.get("triggers") or {}
    if isinstance(trig, list):
        trig = {str(t): str(t) for t in trig}
    m.triggers = {str(k): str(v) for k, v in dict(trig).items()}
    return m
