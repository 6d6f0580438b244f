"""Session-wide fixtures: the real foreign files and one small Pythia sample per process."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

if importlib.util.find_spec("torch") is not None:
    # The tests run on 2 CPU threads. torch_geometric 2.8 calls ``torch.jit.script`` at
    # import time, which torch 2.13 deprecates; with ``filterwarnings = error`` that
    # import would fail, so it is imported once here with that one warning ignored.
    import torch

    torch.set_num_threads(2)
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*torch\.jit\.script. is deprecated", category=DeprecationWarning
        )
        if importlib.util.find_spec("torch_geometric") is not None:
            import torch_geometric  # noqa: F401

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NANOAOD = "nanoAOD_2015_CMS_Open_Data_ttbar.root"
RNTUPLE = "cmsopendata2015_ttbar_19980_NANOAOD_RNTupleImporter_rntuple_v1-0-0-1.root"
HZZ = "uproot-HZZ.root"
HZZ_ZSTD = "uproot-HZZ-zstd.root"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real ROOT files written by others); skip when absent."""
    if not (SHARED_DATA / NANOAOD).exists():
        pytest.skip(f"real ROOT files not found in {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> dict[str, Path]:
    """Small Pythia samples made once per session: boosted ttbar (2 jobs) and QCD dijets,
    both with pT-hat > 400 GeV so that top decays fall inside R = 0.8 jets."""
    from hepml.io.generate import GenerateConfig, generate

    out = tmp_path_factory.mktemp("samples")
    made = {}
    for process, events, jobs, pthat in (("ttbar", 120, 2, 400.0), ("qcd", 60, 1, 400.0)):
        path = out / f"{process}.root"
        generate(
            GenerateConfig(process=process, events=events, seed=11, jobs=jobs, pthat_min=pthat),
            path,
        )
        made[process] = path
    return made


@pytest.fixture(scope="session")
def jet_rows(samples, tmp_path_factory) -> dict[str, Path]:
    """``hepml reconstruct`` rows (parquet) of the session samples: top-matched jets of
    the ttbar sample and QCD jets, with a wide pT window (150 GeV to 3 TeV, |eta| < 2.5)."""
    from hepml.reco.pipeline import ReconstructConfig, reconstruct

    out = tmp_path_factory.mktemp("jet_rows")
    cfg = ReconstructConfig(pt_min=150.0, pt_max=3000.0, eta_max=2.5)
    paths = {"top": out / "top.parquet", "qcd": out / "qcd.parquet"}
    reconstruct([samples["ttbar"]], paths["top"], cfg)
    reconstruct([samples["qcd"]], paths["qcd"], cfg)
    return paths
