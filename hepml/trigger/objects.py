r"""The objects a trigger menu cuts on, built once per chunk of events.

Files that already hold reconstructed objects (CMS NanoAOD, Delphes, flat
ntuples) are used as they are: ``jets``, ``fatjets``, ``muons``, ``electrons``,
``photons``, ``met`` and the recorded ``triggers`` bits (NanoAOD's FatJet
``msoftdrop`` is also offered as ``msd``). Generator files (hepml's own) hold
particles only; then the objects are reconstructed the way an HLT farm would,
from (optionally smeared) particles:

* ``jets``, ``muons``, ``electrons``, ``photons``, ``met`` —
  :func:`hepml.reco.objects.reconstruct_objects` (anti-kt R = 0.4; every lepton
  candidate, isolated or not, with ``iso`` and ``isolated``, as a Level-1 muon seed
  sees them: ``all_leptons: false`` keeps the isolated ones only; isolated photons);
* ``fatjets`` — anti-kt R = ``fatjet_radius`` above ``fatjet_pt_min``, with
  soft-drop mass ``msd`` (z_cut = 0.1, β = 0), ``tau21``, ``tau32`` and the
  constituents an ML path needs.

Only the collections a menu uses are built.

Example::

    objs = trigger_objects(events, ObjectsConfig(), need={"jets", "fatjets"})
    objs.fatjets.msd
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import awkward as ak
import numpy as np

from hepml.errors import ConfigError, InputError
from hepml.reco._buffers import counts_to_offsets, event_index, flat, jagged_record, offsets_of
from hepml.reco.cluster import cluster
from hepml.reco.objects import INVISIBLE_PIDS, ObjectConfig, reconstruct_objects
from hepml.reco.smear import SmearConfig, smear
from hepml.reco.substructure import soft_drop, substructure

__all__ = ["OBJECT_NAMES", "ObjectsConfig", "trigger_objects"]

OBJECT_NAMES = ("jets", "fatjets", "muons", "electrons", "photons", "met")
_FROM_PARTICLES = ("jets", "muons", "electrons", "photons", "met")


@dataclass
class ObjectsConfig:
    """How objects are made from particles (the menu's ``objects:`` block): smearing,
    the fat jets, and — as flat keys (``jet_pt_min``, ``iso_max`` …) — the fields of
    :class:`hepml.reco.objects.ObjectConfig` for jets, leptons, photons and MET."""

    smear: bool = True
    smear_config: dict = field(default_factory=dict)
    fatjet_radius: float = 0.8
    fatjet_pt_min: float = 200.0
    fatjet_eta_max: float = 2.4
    #: (every lepton listed, isolated or not: a muon seed has no isolation; cut on
    #: ``muons.iso`` where a path wants isolated ones)
    objects: ObjectConfig = field(default_factory=lambda: ObjectConfig(all_leptons=True))

    @classmethod
    def from_dict(cls, d: dict | None, where: str = "objects") -> ObjectsConfig:
        if d is not None and not isinstance(d, dict):
            raise ConfigError(
                f"{where}: must be a mapping of settings (e.g. fatjet_pt_min: 200), got {d!r}"
            )
        d = dict(d or {})
        own = {f.name for f in fields(cls)} - {"objects"}
        shared = {f.name for f in fields(ObjectConfig)}
        unknown = sorted(set(d) - own - shared)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(own | shared)}")
        for k in set(d) - {"smear", "smear_config", "all_leptons"}:
            v = d[k]
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < math.inf:
                raise ConfigError(f"{where}.{k}: must be a finite non-negative number, got {v!r}")
        for k in ("smear", "all_leptons"):
            if not isinstance(d.get(k, True), bool):
                raise ConfigError(f"{where}.{k}: must be true or false")
        cfg = cls(
            **{k: v for k, v in d.items() if k in own},
            # (the trigger's own defaults, all_leptons among them, then the menu's keys)
            objects=replace(cls().objects, **{k: v for k, v in d.items() if k in shared}),
        )
        if cfg.fatjet_radius <= 0 or cfg.objects.jet_radius <= 0:
            raise ConfigError(f"{where}: jet radii must be positive")
        try:
            cfg.smearing()
        except TypeError as err:
            raise ConfigError(f"{where}.smear_config: {err}") from None
        return cfg

    def smearing(self) -> SmearConfig:
        return SmearConfig(**self.smear_config)

    def reco(self) -> ObjectConfig:
        return self.objects


def _by_pt(coll: ak.Array) -> ak.Array:
    """A collection read from a file, sorted by decreasing pT within each event (stable):
    ``jets.pt[0]`` is the leading jet, as the grammar says, in files that store their
    objects in another order too. Already sorted (the usual case): returned as is."""
    if coll.ndim < 2 or "pt" not in ak.fields(coll):
        return coll  # (met: one record per event)
    offsets = offsets_of(coll)
    pt = flat(coll, "pt")
    if len(pt) < 2:
        return coll
    rises = np.diff(pt) > 0
    edges = offsets[1:-1]
    rises[edges[(edges > 0) & (edges < len(pt))] - 1] = False  # (across events: allowed)
    if not rises.any():
        return coll
    return coll[ak.argsort(coll.pt, axis=1, ascending=False, stable=True)]


def visible(particles: ak.Array) -> ak.Array:
    """The particles a detector sees (no neutrinos)."""
    offsets = offsets_of(particles)
    keep = ~np.isin(np.abs(flat(particles, "pid", np.int64)), INVISIBLE_PIDS)
    counts = np.bincount(event_index(offsets)[keep], minlength=len(offsets) - 1).astype(np.int64)
    cols = {f: ak.to_numpy(ak.flatten(particles[f]))[keep] for f in particles.fields}
    name = particles.layout.purelist_parameter("__record__")
    return jagged_record(cols, counts_to_offsets(counts), name=name)


def fatjets_from_particles(particles: ak.Array, cfg: ObjectsConfig) -> ak.Array:
    """Anti-kt fat jets of the (visible) ``particles`` with ``msd``, ``tau21``,
    ``tau32`` and ``constituents`` (indices into ``particles``), sorted by pT.

    Built on flat buffers (the jets' particles gathered once, in plain layouts), so
    that one event at a time costs little more than its clustering.
    """
    R = cfg.fatjet_radius
    jets = cluster(particles, "antikt", R, pt_min=cfg.fatjet_pt_min)
    offsets, jet_offsets = offsets_of(particles), offsets_of(jets)
    n_events = len(offsets) - 1
    cols = {f: flat(jets, f) for f in ("pt", "eta", "phi", "mass")}
    per_jet = flat(jets, "n_constituents", np.int64)
    members = ak.to_numpy(ak.flatten(jets.constituents, axis=None)).astype(np.int64)
    jet_event = event_index(jet_offsets)
    keep = np.abs(cols["eta"]) < cfg.fatjet_eta_max
    members = members[np.repeat(keep, per_jet)]
    per_jet = per_jet[keep]
    jet_event = jet_event[keep]
    cols = {k: v[keep] for k, v in cols.items()}
    # the kept jets' particles, gathered once (content + offsets per jet)
    glob = members + np.repeat(offsets[:-1][jet_event], per_jet)
    member_offsets = counts_to_offsets(per_jet)
    p4 = {f: flat(particles, f)[glob] for f in ("px", "py", "pz", "E")}
    constituents = jagged_record(p4, member_offsets, name="Momentum4D")
    msd = ak.to_numpy(soft_drop(constituents, radius=R).mass)
    taus = substructure(constituents, radius=R)
    tau21, tau32 = ak.to_numpy(taus.tau21), ak.to_numpy(taus.tau32)
    cols["n_constituents"] = per_jet
    cols["constituents"] = ak.contents.ListOffsetArray(
        ak.index.Index64(member_offsets), ak.contents.NumpyArray(members)
    )
    cols.update(msd=msd, tau21=tau21, tau32=tau32)
    counts = np.bincount(jet_event, minlength=n_events).astype(np.int64)
    return jagged_record(cols, counts_to_offsets(counts), name="Momentum4D")


def trigger_objects(
    events: ak.Array,
    cfg: ObjectsConfig | None = None,
    *,
    need: set[str] | frozenset[str] = frozenset(OBJECT_NAMES),
    seed: int = 0,
    first_event: int = 0,
    keep_particles: bool = False,
    where: str = "",
) -> ak.Array:
    """One record per event with the collections in ``need`` (plus ``triggers`` when
    the file has recorded bits, and ``particles`` when ``keep_particles``). Smearing
    draws per event from ``seed`` and ``first_event + i`` (see :func:`hepml.reco.smear`)."""
    cfg = cfg or ObjectsConfig()
    have = set(events.fields)
    out: dict[str, ak.Array] = {}
    # generator files hold particles (and the neutrinos' MET); a trigger sees reconstructed
    # objects, so then everything is built from the particles
    generator_level = "particles" in have and not any(c in have for c in OBJECT_NAMES[:-1])
    from_file = [] if generator_level else [c for c in need if c in have and c in OBJECT_NAMES]
    for c in from_file:
        coll = events[c]
        if c == "fatjets" and "msd" not in ak.fields(coll) and "msoftdrop" in ak.fields(coll):
            coll = ak.with_field(coll, coll.msoftdrop, "msd")
        out[c] = _by_pt(coll)
    todo = [c for c in need if c in OBJECT_NAMES and c not in out]
    particles = None
    if todo or keep_particles:
        if "particles" not in have:
            raise InputError(
                f"{where or 'these events'}: no {', '.join(sorted(todo)) or 'particles'} and no "
                "particles to build them from; use files with these collections or with particles"
            )
        particles = visible(events.particles)
        if cfg.smear:
            particles = smear(particles, cfg.smearing(), seed=seed, first_event=first_event)
    if set(todo) & set(_FROM_PARTICLES):
        objs = reconstruct_objects(particles, cfg.reco())
        for c in _FROM_PARTICLES:
            if c in todo:
                out[c] = objs[c]
    if "fatjets" in todo:
        out["fatjets"] = fatjets_from_particles(particles, cfg)
    if "triggers" in have:
        out["triggers"] = events.triggers
    if keep_particles:
        out["particles"] = particles
    if not out:  # a menu of constant cuts: still one record per event
        out["event_index"] = np.arange(len(events))
    return ak.zip(out, depth_limit=1)
