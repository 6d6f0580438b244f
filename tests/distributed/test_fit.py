"""Ray Train around the one training loop, on a local Ray (loopback, 2 CPUs)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from hepml.errors import ConfigError, InputError
from hepml.train import evaluate_checkpoint, load_checkpoint, load_config
from hepml.train.data import load_jet_rows, split_indices

ray = pytest.importorskip("ray")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def local_ray():
    from hepml.distributed import connect

    ray_mod = connect(None, num_cpus=2)
    yield ray_mod
    ray_mod.shutdown()


def _cfg(jet_rows, out, **extra):
    return load_config(overrides={
        "data": {"files": [str(jet_rows["top"]), str(jet_rows["qcd"])]},
        "model": {"name": "pfn", "phi_sizes": [16, 16], "f_sizes": [16]},
        "epochs": 2, "batch_size": 16, "device": "cpu", "output": str(out), **extra})  # fmt: skip


def test_two_workers_share_the_epoch_and_leave_a_hepml_checkpoint(local_ray, jet_rows, tmp_path):
    from hepml.distributed import fit

    cfg = _cfg(jet_rows, tmp_path / "run")
    history = fit(cfg, num_workers=2, storage_path=str(tmp_path / "ray"), max_failures=0)
    rows, sample = load_jet_rows(cfg.data.files)
    n_train = len(split_indices(rows, sample, cfg.data.split, cfg.data.split_seed)["train"])
    assert [r["epoch"] for r in history] == [1, 2]
    assert all(r["workers"] == 2 for r in history)
    assert all(r["trained_on"] == n_train // 2 for r in history)  # each worker half the jets
    for name in ("best.pt", "checkpoint.pt", "history.json"):
        assert (tmp_path / "run" / name).exists()
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert ckpt["epoch"] == 2
    assert ckpt["model_name"] == "pfn"
    assert not any(k.startswith("module.") for k in ckpt["model_state"])  # not DDP-wrapped
    res = evaluate_checkpoint(ckpt, "val", device="cpu")
    assert res.metrics["auc"] == pytest.approx(history[-1]["val_auc"], abs=1e-6)
    assert os.listdir(tmp_path / "ray")  # Ray's own run folder with its checkpoints


def test_errors_before_training(local_ray, jet_rows, tmp_path):
    from hepml.distributed import fit

    cfg = _cfg(jet_rows, tmp_path / "run")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="not writable"):
        fit(cfg, num_workers=1, storage_path=str(blocker / "sub"))
    with pytest.raises(ConfigError, match="GPU"):
        fit(cfg, num_workers=1, use_gpu=True, storage_path=str(tmp_path / "ray"))
    with pytest.raises(ConfigError, match="CPUs"):
        fit(cfg, num_workers=8, storage_path=str(tmp_path / "ray"))
    bdt = _cfg(jet_rows, tmp_path / "bdt", model={"name": "substructure-bdt"})
    with pytest.raises(ConfigError, match="one process"):
        fit(bdt, num_workers=1)
    gone = _cfg(jet_rows, tmp_path / "run")
    gone.data.files = [str(tmp_path / "gone.parquet"), *gone.data.files[1:]]
    with pytest.raises(InputError, match=r"gone\.parquet: no such file"):  # (not after Ray's start)
        fit(gone, num_workers=1, storage_path=str(tmp_path / "ray"))
    assert not (tmp_path / "run").exists()


def test_bad_cluster_address_is_one_line_and_quick(jet_rows, tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = subprocess.run(
        [sys.executable, "-m", "hepml.cli.main", "train", "--data", str(jet_rows["top"]),
         str(jet_rows["qcd"]), "--model", "pfn", "-o", str(tmp_path / "run"), "--ray",
         "--address", f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2
    assert f"cannot connect to the Ray cluster at '127.0.0.1:{port}'" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()


def test_another_cluster_while_connected_and_ipv6_addresses(local_ray):
    """A process connected to one Ray is not silently kept on it when asked for
    another cluster; an IPv6 address is probed without its brackets."""
    import socket

    from hepml.distributed import connect
    from hepml.distributed.train import _probe

    assert connect(None) is local_ray  # (the one it holds)
    with pytest.raises(ConfigError, match=r"already connected to the Ray cluster at .*, not "
                                          r"'10\.0\.0\.1:1'; call ray\.shutdown\(\) first"):  # fmt: skip
        connect("10.0.0.1:1")
    # another host on the same port (every head's default 6379), or a client address of
    # another host: refused too (both ran on the cluster held); this one's address is kept
    current = local_ray.get_runtime_context().gcs_address
    port = current.rpartition(":")[2]
    for other in (f"10.0.0.1:{port}", "ray://10.0.0.1:10001"):
        with pytest.raises(ConfigError, match="already connected to the Ray cluster"):
            connect(other)
    assert connect(current) is local_ray
    assert connect(f"localhost:{port}") is local_ray
    # this machine by its own address, a head on 127.0.0.1 (or the reverse): the same
    # one; IPv6 loopback too
    from hepml.distributed.train import _host_key, _own_addresses

    for mine in _own_addresses():
        assert connect(f"[{mine}]:{port}" if ":" in mine else f"{mine}:{port}") is local_ray
    assert _host_key("::1") == _host_key("127.0.0.1") == _host_key("localhost")
    assert _host_key("10.0.0.1", own=set()) == frozenset({"10.0.0.1"})
    assert _host_key("10.0.0.1", own={"10.0.0.1"}) == _host_key("127.0.0.1")
    with socket.socket(socket.AF_INET6) as s:
        try:
            s.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback here")
        s.listen(1)
        _probe(f"[::1]:{s.getsockname()[1]}")  # (raised 'Name or service not known')


@pytest.mark.timeout(300)
def test_streaming_shards_of_unequal_size_and_early_stopping(local_ray, jet_rows, tmp_path):
    """Streaming deals row groups to the workers, so their shards hold different numbers
    of batches (DDP waited forever for the missing all-reduces; under DDP's join the
    longer shard stepped onecycle past its end): they go in lockstep; early stopping and
    ``best`` are decided on one row that every worker shares (each decided on its own
    validation, so one stopped and the other waited forever)."""
    import pyarrow.parquet as pq

    from hepml.distributed import fit

    files = []
    for name, group in (("top", 7), ("qcd", 50)):  # many small groups / a few large ones
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pq.read_table(jet_rows[name]), path, row_group_size=group)
        files.append(str(path))
    cfg = load_config(overrides={
        "data": {"files": files, "streaming": True, "shuffle_buffer": 64, "stats_jets": 100},
        "model": {"name": "particlenet-lite", "k": 4, "conv_params": [[8, 8], [8, 8]],
                  "fc_params": [[8, 0.1]]},
        "epochs": 3, "batch_size": 8, "device": "cpu", "output": str(tmp_path / "run"),
        "optimizer": {"lr": 0.05}, "schedule": {"name": "onecycle"},
        "early_stopping": {"patience": 1}})  # fmt: skip
    history = fit(cfg, num_workers=2, storage_path=str(tmp_path / "ray"), max_failures=0)
    assert 1 <= len(history) <= 3
    assert history[0]["best"]
    best = [r["val_loss"] for r in history]
    for i, r in enumerate(history):  # (the early-stopping monitor: val_loss)
        assert r["best"] == (best[i] < min(best[:i], default=float("inf")))
    if len(history) < 3:  # stopped early: the last epoch did not improve
        assert not history[-1]["best"]
    assert (tmp_path / "run" / "best.pt").exists()


def test_predict_on_actors_survives_a_killed_actor_exactly_once(local_ray, jet_rows, tmp_path):
    """An actor process is SIGKILLed while it scores: its unit runs again elsewhere and
    every row comes out once, with the scores of the in-process prediction."""
    import signal
    import threading
    import time

    import awkward as ak
    import psutil

    from hepml.distributed import predict
    from hepml.graphs import load_rows
    from hepml.train import fit as fit_local
    from hepml.train import predict_rows

    cfg = _cfg(jet_rows, tmp_path / "model", epochs=1)
    fit_local(cfg)
    killed = []

    def kill_one_scorer():
        deadline = time.monotonic() + 300  # actors start slowly on a loaded machine
        while not killed and time.monotonic() < deadline:
            for proc in psutil.process_iter(["cmdline"]):
                cmd = " ".join(proc.info["cmdline"] or [])
                if "ray::_Scorer.score" in cmd:
                    proc.send_signal(signal.SIGKILL)
                    killed.append(proc.pid)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_scorer)
    killer.start()
    summary = predict(tmp_path / "model", [jet_rows["top"], jet_rows["qcd"]], tmp_path / "out",
                      num_actors=2, rows_per_unit=40, _delay=2.0)  # fmt: skip
    killer.join(timeout=310)
    assert killed, "no scoring actor was found to kill"
    assert summary.restarts >= 1
    assert summary.balanced
    # start-up (both actors had their model) and scoring time are accounted apart
    assert 0 < summary.startup_seconds < summary.seconds
    assert 0 < summary.scoring_seconds <= summary.seconds
    assert "actors ready after" in str(summary)
    ckpt = load_checkpoint(tmp_path / "model")
    for name in ("top", "qcd"):
        rows = load_rows(jet_rows[name])
        out = ak.from_parquet(tmp_path / "out" / f"{name}.scores.parquet")
        assert len(out) == len(rows)
        keys = list(zip(ak.to_list(out.entry), ak.to_list(out.jet_index)))
        assert len(set(keys)) == len(keys)  # no duplicates
        assert ak.all(out.entry == rows.entry)  # in input order
        want = predict_rows(ckpt, rows, device="cpu")
        np.testing.assert_allclose(ak.to_numpy(out.score), want, rtol=1e-5, atol=1e-6)
    assert summary.scores_out == summary.rows_in


def test_predict_stops_when_a_unit_kills_every_actor(local_ray, jet_rows, tmp_path):
    """An actor that dies on every attempt at a unit (a unit that runs out of memory,
    a crash in a library) is an error naming the file and its entries after a few
    attempts, not an endless loop; no output file is left behind."""
    import time

    from hepml.distributed import predict
    from hepml.distributed.predict import MAX_LOST_ATTEMPTS
    from hepml.errors import HepmlError
    from hepml.train import fit as fit_local

    cfg = _cfg(jet_rows, tmp_path / "model", epochs=1)
    fit_local(cfg)
    t0 = time.monotonic()
    with pytest.raises(HepmlError, match=r"top\.parquet entries 0-40: the actor scoring them died"):
        predict(tmp_path / "model", [jet_rows["top"]], tmp_path / "out", num_actors=1,
                rows_per_unit=40, _delay=-1.0)  # fmt: skip
    assert time.monotonic() - t0 < 240
    assert not list((tmp_path / "out").glob("*.parquet"))
    assert MAX_LOST_ATTEMPTS == 3


def test_predict_restarts_an_actor_that_hangs_and_gives_up_on_its_unit(
    local_ray, jet_rows, tmp_path
):
    """An actor that does not answer a unit within ``unit_timeout`` (hung on a stuck
    file system) is killed and restarted and the unit is run again; a unit that hangs
    every time is an error naming the file, its entries and the deadline, in bounded
    time, with no output left behind. Bad deadlines and unit sizes are refused first."""
    import time

    from hepml.distributed import predict
    from hepml.errors import ConfigError, HepmlError
    from hepml.train import fit as fit_local

    cfg = _cfg(jet_rows, tmp_path / "model", epochs=1)
    fit_local(cfg)
    for bad in ({"unit_timeout": 0}, {"unit_timeout": -1.0}, {"rows_per_unit": 0}):
        with pytest.raises(ConfigError, match=r"--unit-timeout|--rows-per-unit"):
            predict(tmp_path / "model", [jet_rows["top"]], tmp_path / "bad", **bad)
    t0 = time.monotonic()
    match = r"top\.parquet entries 0-40: no answer within --unit-timeout 4 s, 3 times"
    with pytest.raises(HepmlError, match=match):
        predict(tmp_path / "model", [jet_rows["top"]], tmp_path / "out", num_actors=1,
                rows_per_unit=40, unit_timeout=4.0, _delay=600.0)  # fmt: skip
    took = time.monotonic() - t0
    assert 12 <= took < 240  # three deadlines of 4 s, not the 600 s the unit would hang
    assert not list((tmp_path / "out").glob("*.parquet"))


def test_predict_with_more_actors_than_cpus_and_a_file_that_is_not_rows(
    local_ray, jet_rows, tmp_path
):
    """Three actors on two CPUs: the two that start do the work (a unit handed to the
    third waited forever); a file that is not jet rows is refused before any actor."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hepml.distributed import predict
    from hepml.errors import InputError
    from hepml.train import fit as fit_local

    fit_local(_cfg(jet_rows, tmp_path / "model", epochs=1))
    summary = predict(tmp_path / "model", [jet_rows["top"]], tmp_path / "out", num_actors=3,
                      rows_per_unit=20)  # fmt: skip
    assert summary.balanced
    assert summary.scores_out == summary.rows_in > 0
    # an output folder that is a file: said before the cluster is asked (here: before
    # the other cluster's address is refused)
    (tmp_path / "taken").write_text("mine")
    with pytest.raises(ConfigError, match=r"-o .*taken: is a file; give a folder"):
        predict(tmp_path / "model", [jet_rows["top"]], tmp_path / "taken",
                address="10.0.0.1:1")  # fmt: skip
    assert (tmp_path / "taken").read_text() == "mine"
    other = tmp_path / "notjets.parquet"
    pq.write_table(pa.table({"entry": [0, 1], "x": [1.0, 2.0]}), other)
    with pytest.raises(InputError, match=r"notjets\.parquet: not a file of jet \(or event\) rows"):
        predict(tmp_path / "model", [jet_rows["top"], other], tmp_path / "out2", num_actors=1)
    assert not (tmp_path / "out2" / "top.scores.parquet").exists()
    # a damaged data page, which only the actor reading it meets: one line naming the
    # file and its entries (a Ray traceback without the file's name before)
    bad = tmp_path / "bad.parquet"
    pq.write_table(pq.read_table(jet_rows["top"]), bad, row_group_size=20)
    meta = pq.ParquetFile(bad).metadata
    col = meta.row_group(1).column(meta.num_columns - 3)
    with open(bad, "r+b") as f:
        f.seek(col.data_page_offset + 8)
        f.write(b"\xff" * 48)  # (its page header)
    with pytest.raises(
        InputError, match=r"bad\.parquet entries 20-40: cannot be read \(OSError"
    ) as err:
        predict(tmp_path / "model", [bad], tmp_path / "out4", num_actors=1, rows_per_unit=20)
    assert "ray::" not in str(err.value)  # (Ray's traceback)
    assert "\n" not in str(err.value)
    # inputs of one name in two folders (run*/jets.parquet) are told apart, each file is
    # written once scored: a later file's error leaves the finished ones
    import shutil

    named = []
    for i, name in enumerate(("top", "qcd")):
        (tmp_path / f"run{i}").mkdir()
        named.append(shutil.copy(jet_rows[name], tmp_path / f"run{i}" / "jets.parquet"))
    with pytest.raises(InputError, match=r"bad\.parquet entries 20-40"):
        predict(
            tmp_path / "model", [*named, bad], tmp_path / "out5", num_actors=1, rows_per_unit=20
        )
    import awkward as ak

    for i, name in enumerate(("top", "qcd")):
        out = ak.from_parquet(tmp_path / "out5" / f"run{i}-jets.scores.parquet")
        assert len(out) == len(ak.from_parquet(jet_rows[name], columns=["entry"]))
        assert set(ak.to_list(out.input)) == {i}  # (the file's position, as hepml predict)
    assert not (tmp_path / "out5" / "bad.scores.parquet").exists()
    # a checkpoint the driver reads but the actors cannot build: said at once (it was
    # probed for minutes, then blamed on the cluster's size)
    import time

    from hepml.errors import HepmlError
    from hepml.train.checkpoint import save_checkpoint

    ckpt = load_checkpoint(tmp_path / "model")
    ckpt["model_state"] = dict(list(ckpt["model_state"].items())[1:])  # a tensor missing
    save_checkpoint(ckpt, tmp_path / "broken.pt")
    t0 = time.monotonic()
    with pytest.raises(HepmlError, match="failed to load the model"):
        predict(tmp_path / "broken.pt", [jet_rows["top"]], tmp_path / "out3", num_actors=1)
    assert time.monotonic() - t0 < 120


def test_output_names_and_remote_storage(tmp_path, monkeypatch):
    """Outputs of same-named inputs are told apart by their folders; a storage URI is
    given to Ray as it is (s3://b/runs became a local folder 's3:')."""
    from hepml.distributed.predict import output_stems
    from hepml.distributed.train import _check_storage

    assert output_stems(["a/top.parquet", "b/qcd.root"]) == ["top", "qcd"]
    assert output_stems(["x/run1/jets.parquet", "x/run2/jets.parquet", "y/top.parquet"]) == [
        "run1-jets", "run2-jets", "top"]  # fmt: skip
    assert output_stems(["p/a/j.parquet", "q/a/j.parquet"]) == ["p-a-j", "q-a-j"]
    with pytest.raises(ConfigError, match=r"inputs name .*j\.parquet twice"):
        output_stems(["a/j.parquet", "a/./j.parquet"])
    # the same name with two extensions is two files (it was refused as one twice)
    assert output_stems(["d/jets.parquet", "d/jets.root"]) == ["jets.parquet", "jets.root"]
    assert output_stems(["a/jets.parquet", "b/jets.root"]) == ["a-jets", "b-jets"]
    monkeypatch.chdir(tmp_path)
    for uri in ("s3://bucket/runs", "gs://b/r", "file:///tmp/r"):
        assert _check_storage(uri) == uri
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match="not a URI"):
        _check_storage("://nothing")
    assert _check_storage("local") == str(tmp_path / "local")


def test_default_run_names_and_foreign_checkpoints(tmp_path):
    """The default Ray run name is one per output folder (two trainings sharing a
    storage path continued each other's run); an output folder holding another run's
    checkpoint is refused before Ray starts."""
    from hepml.distributed.train import _check_output, default_run_name

    a = load_config(overrides={"model": {"name": "pfn"}, "output": str(tmp_path / "A")})
    b = load_config(overrides={"model": {"name": "pfn"}, "output": str(tmp_path / "B")})
    assert default_run_name(a) != default_run_name(b)
    assert default_run_name(a) == default_run_name(a)
    assert default_run_name(a).startswith("hepml-pfn-A-")
    storage = tmp_path / "store"
    storage.mkdir()
    _check_output(a.output, str(storage), default_run_name(a))  # nothing there: fine
    (tmp_path / "A").mkdir()
    (tmp_path / "A" / "checkpoint.pt").write_bytes(b"a single-process run")
    with pytest.raises(ConfigError, match="holds a previous run's checkpoint that is not Ray run"):
        _check_output(a.output, str(storage), default_run_name(a))
    (storage / default_run_name(a)).mkdir()  # the same Ray run, rerun: fine
    _check_output(a.output, str(storage), default_run_name(a))


def test_relative_paths_work_from_the_driver_folder(local_ray, jet_rows, tmp_path, monkeypatch):
    """Ray Train workers run in their own folder: relative data and output paths given to
    the driver must still reach the same files."""
    import shutil

    from hepml.distributed import fit

    for name in ("top", "qcd"):
        shutil.copy(jet_rows[name], tmp_path / f"{name}.parquet")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(overrides={
        "data": {"files": ["top.parquet", "qcd.parquet"]},
        "model": {"name": "pfn", "phi_sizes": [8], "f_sizes": [8]},
        "epochs": 1, "batch_size": 32, "device": "cpu", "output": "rel-run"})  # fmt: skip
    history = fit(cfg, num_workers=2, storage_path="ray-store", max_failures=0)
    assert [r["epoch"] for r in history] == [1]
    assert (tmp_path / "rel-run" / "best.pt").exists()
    ckpt = load_checkpoint(tmp_path / "rel-run" / "best.pt")
    assert all(os.path.isabs(f) for f in ckpt["config"]["data"]["files"])


def test_best_checkpoint_is_the_best_epoch_and_reruns_must_match(local_ray, jet_rows, tmp_path):
    """best.pt is the best epoch of the whole run (Ray keeps only the last two
    checkpoints); rerunning a run's name with another config is refused, not silently
    answered with the old run's model."""
    from hepml.distributed import fit

    wild = {"optimizer": {"name": "adam", "lr": 0.05}, "schedule": {"name": "none"}, "epochs": 4}
    cfg = _cfg(jet_rows, tmp_path / "run", **wild)
    storage = str(tmp_path / "ray")
    history = fit(cfg, num_workers=1, storage_path=storage, max_failures=0, name="r")
    losses = [r["val_loss"] for r in history]
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert best["epoch"] == int(np.argmin(losses)) + 1
    said = []  # the same command again: the finished run's model, and it says so
    again = fit(cfg, num_workers=1, storage_path=storage, max_failures=0, name="r", log=said.append)
    assert again == history
    assert any("had already finished (4 epoch(s)); nothing was trained" in m for m in said)
    other = _cfg(jet_rows, tmp_path / "run2", **{**wild, "seed": 11})
    with pytest.raises(ConfigError, match=r"cannot resume, the config.s .seed. differs"):
        fit(other, num_workers=1, storage_path=storage, max_failures=0, name="r")
    # another number of workers: refused (the schedule, sized for the new number, was
    # stepped past its end, or its learning rate climbed again)
    with pytest.raises(ConfigError, match=r"was trained on 1 worker\(s\), not 2; rerun with "
                                          r"--num-workers 1 to continue it"):  # fmt: skip
        fit(cfg, num_workers=2, storage_path=storage, max_failures=0, name="r")
