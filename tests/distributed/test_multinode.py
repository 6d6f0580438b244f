"""A worker node is lost mid-training on a local multi-node Ray cluster (loopback), and
the run finishes from its last checkpoint.

The cluster (``ray.cluster_utils.Cluster``): a head with 0 CPUs (the driver and Ray
Train's controller live there) and two worker nodes of 1 CPU each, all on 127.0.0.1,
so the two Ray Train workers land one per node. Once Ray Train has registered the
first checkpoint, a background thread kills one worker node outright (its raylet,
object store and worker processes, no graceful shutdown) and adds a fresh node in
its place: the 2-worker group needs 2 CPUs to restart, as a cluster autoscaler or a
node manager would provide. Ray Train notices the dead worker, tears the group down,
restarts it (``max_failures``) and every worker resumes from the last registered
checkpoint.

Timing: Ray Train (v2) hands each ``report`` to its controller through a queue of one
that the controller polls every 2 s, so an epoch lasts at least that long here and the
node dies while epoch 2 (or 3) runs, well before the last of the 5 epochs.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from hepml.train import evaluate_checkpoint, load_checkpoint, load_config

ray = pytest.importorskip("ray")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(400),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

EPOCHS = 5
NODE = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}


@pytest.fixture
def cluster():
    """Head (0 CPUs) + 2 worker nodes (1 CPU each) on 127.0.0.1; every process stopped
    afterwards, the driver disconnected first."""
    from ray.cluster_utils import Cluster

    if ray.is_initialized():  # another module's local Ray
        ray.shutdown()
    # shutdown_at_exit=False: Ray's exit hooks install a SIGTERM handler, which only the
    # main thread may do, and the replacement node is added from the test's thread; the
    # finally below stops every node instead
    c = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1", "include_dashboard": False},
        shutdown_at_exit=False,
    )
    try:
        for _ in range(2):
            c.add_node(**NODE)
        c.wait_for_nodes()
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def _registered_checkpoint(run_dir: Path) -> bool:
    """Whether Ray Train's controller has registered a checkpoint of the run (its
    checkpoint manager snapshot names a latest checkpoint)."""
    snapshot = run_dir / "checkpoint_manager_snapshot.json"
    try:
        state = json.loads(snapshot.read_text())
    except (OSError, ValueError):
        return False
    if isinstance(state, str):  # stored as a JSON string of the pydantic model
        state = json.loads(state)
    return bool(state.get("latest_checkpoint_result"))


def test_lost_worker_node_resumes_from_the_last_checkpoint(cluster, jet_rows, tmp_path):
    from hepml.distributed import connect, fit

    connect(cluster.address)  # a loopback GCS address, as Cluster gives it
    alive = [n for n in ray.nodes() if n["Alive"]]
    assert len(alive) == 3
    assert {n["NodeManagerAddress"] for n in alive} == {"127.0.0.1"}

    storage = tmp_path / "ray"
    cfg = load_config(overrides={
        "data": {"files": [str(jet_rows["top"]), str(jet_rows["qcd"])]},
        "model": {"name": "pfn", "phi_sizes": [16, 16], "f_sizes": [16]},
        "epochs": EPOCHS, "batch_size": 16, "device": "cpu", "output": str(tmp_path / "run")})  # fmt: skip
    removed, stop = [], threading.Event()

    def lose_a_worker_node():
        deadline = time.monotonic() + 300
        while not stop.is_set() and time.monotonic() < deadline:
            if _registered_checkpoint(storage / "lost-node"):
                node = next(iter(cluster.worker_nodes))  # each worker node hosts one worker
                cluster.remove_node(node, allow_graceful=False)
                removed.append(time.monotonic())
                cluster.add_node(**NODE)  # the replacement the 2-worker group restarts on
                return
            time.sleep(0.05)

    killer = threading.Thread(target=lose_a_worker_node, daemon=True)
    killer.start()
    logs: list[str] = []
    try:
        history = fit(cfg, num_workers=2, storage_path=str(storage), max_failures=2,
                      address=cluster.address, name="lost-node", log=logs.append)  # fmt: skip
    finally:
        stop.set()
        killer.join(timeout=60)
    assert removed, "the worker node was not removed (no checkpoint registered in time)"

    # one row per epoch, each once; the rows after the restart resumed from a checkpoint
    assert [r["epoch"] for r in history] == list(range(1, EPOCHS + 1))
    resumed = {r["resumed_from"] for r in history} - {0}
    assert len(resumed) == 1, history
    (start,) = resumed
    assert 1 <= start < EPOCHS  # from the checkpointed epoch, not from epoch 1
    assert all(r["resumed_from"] == 0 for r in history[:start])
    assert all(r["resumed_from"] == start for r in history[start:])
    assert all(r["workers"] == 2 for r in history)
    assert any(f"resumed from the checkpoint of epoch {start}" in line for line in logs)

    # the final epoch's metrics are reported, and its checkpoint loads and evaluates
    last = history[-1]
    assert last["epoch"] == EPOCHS
    assert {"loss", "val_loss", "val_auc"} <= set(last)
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert ckpt["epoch"] == EPOCHS
    res = evaluate_checkpoint(ckpt, "val", device="cpu")
    assert res.metrics["auc"] == pytest.approx(last["val_auc"], abs=1e-6)


@pytest.mark.parametrize(
    ("address", "loopback"),
    [(None, True), ("127.0.0.1:6379", True), ("localhost:6379", True), ("[::1]:6379", True),
     ("127.0.0.2:6379", True), ("auto", False), ("local", False), ("10.0.0.5:6379", False),
     ("ray://127.0.0.1:10001", False), ("head.cluster:6379", False)],
)  # fmt: skip
def test_which_addresses_connect_keeps_on_loopback(address, loopback):
    from hepml.distributed.train import _is_loopback

    assert _is_loopback(address) is loopback
