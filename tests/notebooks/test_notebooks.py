"""The analysis notebooks of ``notebooks/``, run as a user runs them: executed with
nbclient by a ``python3`` kernel of this interpreter, in the ``notebooks/`` folder, on
small inputs given through their ``HEPML_NB_*`` parameters (the session's Pythia
samples). A failing cell fails the test with the cell's source and traceback
(nbclient's ``CellExecutionError``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
EXPECTED = (
    "01_read_and_reconstruct.ipynb",
    "02_train_particlenet.ipynb",
    "03_ray_cluster.ipynb",
    "04_trigger_emulation.ipynb",
)
CELL_TIMEOUT = 300  # seconds per cell

pytestmark = [
    # the kernel's own warnings stay in the notebook; these are jupyter_client's and zmq's
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.mark.timeout(60)
def test_every_notebook_is_stored_without_outputs():
    found = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert found == sorted(EXPECTED), "a notebook without its test (or a missing one)"
    for name in found:
        nb = nbformat.read(NOTEBOOKS / name, as_version=nbformat.NO_CONVERT)
        nbformat.validate(nb)
        assert nb.nbformat == 4
        assert nb.metadata["kernelspec"]["name"] == "python3", name
        code = [c for c in nb.cells if c.cell_type == "code"]
        for i, cell in enumerate(code):
            assert cell.outputs == [], f"{name}: code cell {i} is stored with outputs"
            assert cell.execution_count is None, f"{name}: code cell {i} has an execution count"
        params = code[0]
        assert "parameters" in params.metadata.get("tags", []), f"{name}: no parameters cell"
        assert "HEPML_NB_" in params.source, f"{name}: parameters do not read the environment"
        assert nb.cells[0].cell_type == "markdown", f"{name}: starts without an explanation"


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory) -> Path:
    """A ``python3`` kernelspec that runs this very interpreter (the .venv one), whatever
    other kernels the user has installed."""
    kernels = tmp_path_factory.mktemp("kernels")
    spec = kernels / "python3"
    spec.mkdir()
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python 3 (hepml tests)", "language": "python"})
    )
    return kernels


def run_notebook(name: str, params: dict, kernel_dir: Path):
    """Execute ``notebooks/<name>`` with ``params`` in its environment; returns the
    executed notebook. Raises ``CellExecutionError`` (with the cell) when a cell fails."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    km = AsyncKernelManager(
        kernel_name="python3",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]),
    )
    client = nbclient.NotebookClient(
        nb,
        km=km,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        startup_timeout=120,
        resources={"metadata": {"path": str(NOTEBOOKS)}},  # the kernel's working directory
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEPML_NB_")}
    env.update({k: str(v) for k, v in params.items()})
    before = sorted(p.name for p in NOTEBOOKS.iterdir())
    client.execute(env=env, cleanup_kc=True)  # our kernel manager: shut the kernel down after
    assert sorted(p.name for p in NOTEBOOKS.iterdir()) == before, "wrote into notebooks/"
    return nb


def text_of(nb) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            out += [o.get("text", ""), data.get("text/plain", ""), data.get("text/markdown", "")]
    return "\n".join(out)


def images_of(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def check_pngs(folder: Path, names) -> None:
    for name in names:
        png = folder / name
        assert png.exists(), f"{png} not written"
        assert png.stat().st_size > 10_000, f"{png}: {png.stat().st_size} bytes"


def small(samples, tmp_path, **extra) -> dict:
    return {
        "HEPML_NB_TTBAR": samples["ttbar"],
        "HEPML_NB_QCD": samples["qcd"],
        "HEPML_NB_OUT": tmp_path / "out",
        "HEPML_NB_JOBS": 1,
        "HEPML_NB_EPOCHS": 1,
        "HEPML_NB_BATCH_SIZE": 64,
        "HEPML_NB_DEVICE": "cpu",
        **extra,
    }


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_01_read_and_reconstruct(samples, tmp_path, kernel_dir):
    nb = run_notebook("01_read_and_reconstruct.ipynb", small(samples, tmp_path), kernel_dir)
    text = text_of(nb)
    assert "identical constituents" in text  # the FastJet comparison ran (and asserted)
    here = tmp_path / "out" / "01_read_and_reconstruct"
    check_pngs(here, ["substructure.png", "jet_images.png", "event_display.png"])
    if "not found: the NanoAOD cells are skipped" not in text:
        check_pngs(here, ["nanoaod_jets.png"])
    assert images_of(nb) >= 4


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_02_train_particlenet(samples, tmp_path, kernel_dir):
    nb = run_notebook("02_train_particlenet.ipynb", small(samples, tmp_path), kernel_dir)
    here = tmp_path / "out" / "02_train_particlenet"
    for model in ("particlenet-lite", "pfn", "substructure-bdt"):
        assert (here / "models" / model / "best.pt").exists()
        assert f"| {model} |" in text_of(nb)  # the metrics table
    check_pngs(here, ["jet_graph.png", "history_particlenet-lite.png", "roc.png",
                      "rejection.png", "scores_particlenet-lite.png"])  # fmt: skip
    assert images_of(nb) >= 5


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_03_ray_cluster(samples, tmp_path, kernel_dir):
    pytest.importorskip("ray")
    nb = run_notebook("03_ray_cluster.ipynb", small(samples, tmp_path), kernel_dir)
    text = text_of(nb)
    assert "epoch 1: 2 workers" in text
    assert "actor restarts: 0" in text
    assert "Ray is down: True" in text
    here = tmp_path / "out" / "03_ray_cluster"
    assert (here / "models" / "particlenet-lite" / "best.pt").exists()
    assert (here / "train.yaml").exists()
    check_pngs(here, ["history_ray.png", "scores_ray.png"])


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_04_trigger_emulation(samples, tmp_path, kernel_dir):
    params = small(samples, tmp_path, HEPML_NB_TRIGGER_EVENTS=300, HEPML_NB_SIGNAL_EVENTS=150)
    nb = run_notebook("04_trigger_emulation.ipynb", params, kernel_dir)
    text = text_of(nb)
    assert "HLT_AK8PFJet300_ParticleNetTop" in text
    assert "HLT total rate" in text
    here = tmp_path / "out" / "04_trigger_emulation"
    check_pngs(here, ["rate_ml.png", "rate_ak8.png", "turnon_HLT_PFJet500.png",
                      "turnon_HLT_AK8PFJet400_SoftDropMass30.png"])  # fmt: skip
    if "recorded-bit comparison is skipped" not in text:
        assert "agreement" in text
        check_pngs(here, ["recorded_HLT_PFJet40.png"])
