"""Fixtures for the clustering kernels: realistic Pythia 8 events, generated once.

Half ttbar, half QCD dijets (pT-hat > 500 GeV), 13 TeV, final-state particles
without neutrinos: about 550 particles per event, so FastJet's strategy choice
spans N2Plain, N2Tiled, N2MinHeapTiled and N2MHTLazy9 over them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

N_PER_PROCESS = 500
#: process -> minimum pT-hat (GeV); None for inclusive ttbar
PROCESSES = {"ttbar": None, "qcd": 500.0}


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


def _generate(process: str, pthat_min: float | None, n_events: int, seed: int) -> Events:
    """Final-state particles from hepml's generator (in memory), as flat buffers."""
    pytest.importorskip("pythia8mc")
    import awkward as ak

    from hepml.io.generate import GenerateConfig, final_state

    p = final_state(
        GenerateConfig(process=process, events=n_events, seed=seed, pthat_min=pthat_min)
    )
    counts = ak.to_numpy(ak.num(p)).astype(np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    cols = [np.ascontiguousarray(ak.to_numpy(ak.flatten(p[f])), dtype=np.float64)
            for f in ("px", "py", "pz", "E")]  # fmt: skip
    return Events(*cols, offsets)


@pytest.fixture(scope="session")
def pythia_events() -> Events:
    """500 ttbar then 500 QCD events (the ``slow`` test uses all 1000)."""
    parts = [
        _generate(process, pthat, N_PER_PROCESS, seed)
        for seed, (process, pthat) in enumerate(PROCESSES.items(), 6)  # Pythia seeds 7 and 8
    ]
    offsets = np.concatenate([parts[0].offsets, parts[1].offsets[1:] + parts[0].offsets[-1]])
    cols = [np.concatenate([getattr(p, f) for p in parts]) for f in ("px", "py", "pz", "e")]
    return Events(*cols, offsets)


@pytest.fixture(scope="session")
def sample_events(pythia_events: Events) -> Events:
    """300 events (150 ttbar + 150 QCD) for the regular, quicker comparisons."""
    idx = np.r_[0:150, N_PER_PROCESS : N_PER_PROCESS + 150]
    return pythia_events.select(idx)
