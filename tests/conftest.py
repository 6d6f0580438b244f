"""Session-wide fixtures: the real foreign files and one small Pythia sample per process."""

from __future__ import annotations

from pathlib import Path

import pytest

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
