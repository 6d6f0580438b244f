"""Fixtures for the clustering kernels: realistic Pythia 8 events, generated once.

Half ttbar, half QCD dijets (pT-hat > 500 GeV), 13 TeV, final-state particles
without neutrinos: about 550 particles per event, so FastJet's strategy choice
spans N2Plain, N2Tiled, N2MinHeapTiled and N2MHTLazy9 over them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

NEUTRINOS = (12, 14, 16)
N_PER_PROCESS = 500
PROCESSES = {
    "ttbar": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
    "qcd": ("HardQCD:all = on", "PhaseSpace:pTHatMin = 500"),
}


@dataclass(frozen=True)
class Events:
    """Flat content arrays and int64 offsets (event i owns [offsets[i], offsets[i+1]))."""

    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    offsets: np.ndarray

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    def event(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = self.offsets[i], self.offsets[i + 1]
        return self.px[lo:hi], self.py[lo:hi], self.pz[lo:hi], self.e[lo:hi]

    def select(self, events: np.ndarray) -> Events:
        """The listed events, in that order."""
        parts = [self.event(int(i)) for i in events]
        counts = np.array([len(p[0]) for p in parts], dtype=np.int64)
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        cols = [np.concatenate([p[k] for p in parts]) if parts else np.zeros(0) for k in range(4)]
        return Events(*cols, offsets)


def _generate(settings: tuple[str, ...], n_events: int, seed: int) -> Events:
    pythia8mc = pytest.importorskip("pythia8mc")
    ak = pytest.importorskip("awkward")
    pythia = pythia8mc.Pythia("", False)
    for s in (
        "Beams:eCM = 13000",
        *settings,
        "Print:quiet = on",
        "Next:numberCount = 0",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
    ):
        pythia.readString(s)
    pythia.init()
    prt = pythia.nextBatch(n_events).prt
    aid = abs(prt.id)
    keep = prt.status > 0
    for nu in NEUTRINOS:
        keep = keep & (aid != nu)
    p = prt[keep].p
    counts = ak.to_numpy(ak.num(p)).astype(np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    cols = [np.ascontiguousarray(ak.to_numpy(ak.flatten(getattr(p, f))), dtype=np.float64)
            for f in ("px", "py", "pz", "e")]  # fmt: skip
    return Events(*cols, offsets)


@pytest.fixture(scope="session")
def pythia_events() -> Events:
    """500 ttbar then 500 QCD events (the ``slow`` test uses all 1000)."""
    parts = [_generate(s, N_PER_PROCESS, seed) for seed, s in enumerate(PROCESSES.values(), 7)]
    offsets = np.concatenate([parts[0].offsets, parts[1].offsets[1:] + parts[0].offsets[-1]])
    cols = [np.concatenate([getattr(p, f) for p in parts]) for f in ("px", "py", "pz", "e")]
    return Events(*cols, offsets)


@pytest.fixture(scope="session")
def sample_events(pythia_events: Events) -> Events:
    """300 events (150 ttbar + 150 QCD) for the regular, quicker comparisons."""
    idx = np.r_[0:150, N_PER_PROCESS : N_PER_PROCESS + 150]
    return pythia_events.select(idx)
