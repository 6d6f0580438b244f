"""Parametric detector smearing of particles (optional stage before clustering).

Example::

    from hepml.reco import SmearConfig, smear
    detector = smear(events.particles, SmearConfig(track_eff=0.9), seed=1)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import awkward as ak
import numpy as np

from hepml.errors import ConfigError
from hepml.kernels.smear import DEFAULT_PARAMS, PARAM_NAMES, smear_kernel
from hepml.reco._buffers import event_index, flat, jagged_record, offsets_of

__all__ = ["SmearConfig", "smear"]

_DEFAULTS = dict(zip(PARAM_NAMES, DEFAULT_PARAMS.tolist()))


@dataclass
class SmearConfig:
    """Detector parameters (CMS-like defaults); see :mod:`hepml.kernels.smear`."""

    track_eta_max: float = _DEFAULTS["track_eta_max"]
    track_pt_min: float = _DEFAULTS["track_pt_min"]
    track_eff: float = _DEFAULTS["track_eff"]
    muon_eff: float = _DEFAULTS["muon_eff"]
    track_a: float = _DEFAULTS["track_a"]
    track_b: float = _DEFAULTS["track_b"]
    calo_eta_max: float = _DEFAULTS["calo_eta_max"]
    ecal_stochastic: float = _DEFAULTS["ecal_stochastic"]
    ecal_constant: float = _DEFAULTS["ecal_constant"]
    hcal_stochastic: float = _DEFAULTS["hcal_stochastic"]
    hcal_constant: float = _DEFAULTS["hcal_constant"]
    ecal_cell: float = _DEFAULTS["ecal_cell"]
    hcal_cell: float = _DEFAULTS["hcal_cell"]
    calo_e_min: float = _DEFAULTS["calo_e_min"]

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int | float) or not np.isfinite(v) or v < 0:
                raise ConfigError(
                    f"smearing parameter {f.name} must be a finite number >= 0, got {v!r}"
                )
        for f in ("track_eff", "muon_eff"):
            if getattr(self, f) > 1:
                raise ConfigError(f"smearing parameter {f} is an efficiency: at most 1")
        for f in ("ecal_cell", "hcal_cell"):
            if getattr(self, f) <= 0:
                raise ConfigError(f"smearing parameter {f} must be positive")

    @classmethod
    def from_yaml(cls, path: str | Path) -> SmearConfig:
        from hepml._yaml import load_yaml

        doc = load_yaml(path, "smearing config (YAML)") or {}
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}: expected a mapping of smearing parameters")
        unknown = set(doc) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"{path}: unknown smearing parameter(s) {sorted(unknown)}")
        return cls(**doc)

    def params(self) -> np.ndarray:
        d = asdict(self)
        return np.array([float(d[name]) for name in PARAM_NAMES])


def smear(
    particles: ak.Array,
    config: SmearConfig | None = None,
    *,
    seed: int = 0,
    first_event: int = 0,
    entries: np.ndarray | None = None,
) -> ak.Array:
    """Detector-level particles: smeared, with those not seen removed; charged
    particles without a track (outside the tracker, too soft, or lost to its
    efficiency) are measured by the calorimeters as neutral ones (pid 22 or 130,
    charge 0); see :mod:`hepml.kernels.smear`.

    Deterministic: event ``i`` of ``particles`` draws from a generator seeded with
    ``seed`` (an integer ≥ 0) and its entry, ``first_event + i`` or ``entries[i]``
    (independent of the thread count). Pass the entry of the first event as
    ``first_event`` when smearing a file chunk by chunk, or every event's entry as
    ``entries`` when some events of the chunk were left out: each event then gets
    the same smearing however the file is cut. (The generator takes a 32-bit seed,
    so among millions of events some pairs share their random numbers; they are
    different events, so no distribution is biased.)
    Returns ``var * Momentum4D`` with px, py, pz, E, pid, charge.
    """
    cfg = config or SmearConfig()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"the smearing seed must be an integer >= 0, got {seed!r}")
    offsets = offsets_of(particles)
    n_events = len(offsets) - 1
    if entries is None:
        numbers = np.arange(int(first_event), int(first_event) + n_events, dtype=np.int64)
    else:
        numbers = np.ascontiguousarray(entries, dtype=np.int64)
        if numbers.shape != (n_events,):
            raise ConfigError(f"entries: {n_events} events need {n_events} entries, "
                              f"got shape {numbers.shape}")  # fmt: skip
    if n_events and numbers.min() < 0:
        raise ConfigError("entries and first_event must be >= 0")
    px, py, pz, e = (flat(particles, f) for f in ("px", "py", "pz", "E"))
    charge = flat(particles, "charge", np.int32)
    pid = flat(particles, "pid", np.int32)
    opx, opy, opz, oe, keep, calo = smear_kernel(
        px, py, pz, e, charge, pid, offsets, cfg.params(), int(seed) % 4294967295, numbers
    )
    # a charged particle seen by the calorimeters alone is a neutral cluster: a photon-
    # like one for an electron (ECAL), a neutral hadron (K0_L's pid) for a hadron (HCAL)
    pid = np.where(calo, np.where(np.abs(pid) == 11, 22, 130), pid).astype(np.int32)
    charge = np.where(calo, 0, charge).astype(np.int32)
    counts = np.bincount(event_index(offsets)[keep], minlength=len(offsets) - 1).astype(np.int64)
    new_offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=new_offsets[1:])
    cols = {
        "px": opx[keep],
        "py": opy[keep],
        "pz": opz[keep],
        "E": oe[keep],
        "pid": pid[keep],
        "charge": charge[keep],
    }
    return jagged_record(cols, new_offsets, name="Momentum4D")
