"""`hepml train --ray` as the entry point of a Ray job, submitted to a head node's job
server on 127.0.0.1 with Ray's job-submission client (`ray job submit`, as the README
shows)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from hepml.train import evaluate_checkpoint, load_checkpoint

pytest.importorskip("ray")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def head_node(tmp_path):
    """A Ray head with its dashboard / job server on 127.0.0.1; stopped afterwards."""
    port, dashboard = _free_port(), _free_port()
    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    head = subprocess.Popen(
        [ray_bin, "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
         "--port", str(port), "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard),
         "--num-cpus", "2", "--include-dashboard", "true", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{dashboard}"
    finally:
        # `ray start --block` waits ~30 s for its GCS server and one helper after a
        # SIGTERM; the rest stop within seconds, so wait 10 s before killing the group
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=30)


def test_job_submission_trains_and_leaves_a_checkpoint(head_node, jet_rows, tmp_path):
    bin_dir = os.path.dirname(sys.executable)
    # the CLI client sends the token the head generated (token authentication is on)
    env = dict(os.environ, RAY_AUTH_MODE="token")
    out = tmp_path / "run"
    cmd = [os.path.join(bin_dir, "ray"), "job", "submit", "--address", head_node, "--",
           os.path.join(bin_dir, "hepml"), "train", "--data", str(jet_rows["top"]),
           str(jet_rows["qcd"]), "--model", "pfn", "--epochs", "1", "--batch-size", "32",
           "--device", "cpu", "-o", str(out), "--ray", "--num-workers", "1", "--address",
           "auto", "-q"]  # fmt: skip
    deadline = time.monotonic() + 120
    while True:  # the job server answers a few seconds after the head starts
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=420, env=env)
        if r.returncode == 0 or "succeeded" in r.stdout or time.monotonic() > deadline:
            break
        if "Failed to connect" not in r.stdout + r.stderr and "Connection" not in r.stderr:
            break
        time.sleep(2)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-3000:]
    assert "succeeded" in log
    ckpt = load_checkpoint(out)
    assert ckpt["epoch"] == 1
    assert ckpt["history"][0]["workers"] == 1
    assert evaluate_checkpoint(ckpt, "val", device="cpu").metrics["auc"] > 0
