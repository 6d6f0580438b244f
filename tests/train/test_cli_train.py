"""The train / evaluate / predict / export commands as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import awkward as ak
import numpy as np
import pytest
import torch

from hepml.train import load_checkpoint

pytestmark = pytest.mark.slow


def hepml(*args, timeout=300, check=True):
    r = subprocess.run([sys.executable, "-m", "hepml.cli.main", *map(str, args)],
                       capture_output=True, text=True, timeout=timeout)  # fmt: skip
    if check:
        assert r.returncode == 0, r.stderr
    return r


def _train_args(jet_rows, out, epochs=4):
    return ["train", "--data", jet_rows["top"], jet_rows["qcd"], "--model", "particlenet-lite",
            "--set", "model.conv_params=[[16,16],[16,16]]", "--set", "model.k=4",
            "--epochs", epochs, "--batch-size", 8, "--device", "cpu", "--seed", 5,
            "-o", out, "-q"]  # fmt: skip


def _no_nan_tokens(token):
    raise AssertionError(f"metrics.json holds {token}, which strict JSON readers reject")


def test_sigkill_mid_run_then_resume_equals_uninterrupted(jet_rows, tmp_path):
    hepml(*_train_args(jet_rows, tmp_path / "straight"))
    args = [
        sys.executable,
        "-m",
        "hepml.cli.main",
        *map(str, _train_args(jet_rows, tmp_path / "k")),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "k" / "checkpoint.pt"
    try:
        deadline = time.monotonic() + 240
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ckpt.exists(), "no checkpoint was written"
        os.kill(proc.pid, signal.SIGKILL)  # in epoch 2, before its checkpoint
    finally:
        proc.kill()
        proc.wait(timeout=30)
    killed_at = load_checkpoint(ckpt)["epoch"]
    assert killed_at < 4
    r = hepml(*_train_args(jet_rows, tmp_path / "k"), "--resume")
    assert r.returncode == 0
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = load_checkpoint(ckpt)
    assert b["epoch"] == a["epoch"] == 4
    for key, tensor in a["model_state"].items():
        torch.testing.assert_close(b["model_state"][key], tensor, rtol=0, atol=0, msg=key)
    assert [h["val_auc"] for h in a["history"]] == [h["val_auc"] for h in b["history"]]
    assert not [p for p in os.listdir(tmp_path / "k") if ".tmp" in p]


def test_train_evaluate_predict_export(jet_rows, tmp_path):
    from PIL import Image

    data = [jet_rows["top"], jet_rows["qcd"]]
    r = hepml("train", "--data", *data, "--model", "pfn", "--epochs", 2, "-o", tmp_path / "pfn")
    assert "val_auc" in r.stdout
    assert "wrote" in r.stdout
    hepml("train", "--data", *data, "--model", "substructure-bdt", "-o", tmp_path / "bdt")
    r = hepml("evaluate", tmp_path / "pfn", tmp_path / "bdt", "-o", tmp_path / "eval")
    assert "pfn" in r.stdout
    assert "substructure-bdt" in r.stdout
    assert "1/eB" in r.stdout
    with open(tmp_path / "eval" / "metrics.json") as f:
        metrics = json.load(f, parse_constant=_no_nan_tokens)
    assert set(metrics["models"]) == {"pfn", "substructure-bdt"}
    assert metrics["models"]["pfn"]["n"] == metrics["models"]["substructure-bdt"]["n"]
    for png in ("roc.png", "rejection.png", "scores_pfn.png", "scores_substructure-bdt.png"):
        img = np.asarray(Image.open(tmp_path / "eval" / png).convert("L"))
        assert img.shape[0] > 400
        assert img.shape[1] > 400
        assert img.std() > 10  # not blank

    _evaluate_with_added_jets(jet_rows, tmp_path)

    for out in ("scores.parquet", "scores.root", "upper.ROOT"):
        hepml("predict", tmp_path / "pfn", *data, "-o", tmp_path / out)
    assert (tmp_path / "upper.ROOT").read_bytes()[:4] == b"root"  # (was parquet: PAR1)
    scores = ak.from_parquet(tmp_path / "scores.parquet")
    top = ak.from_parquet(jet_rows["top"])
    qcd = ak.from_parquet(jet_rows["qcd"])
    assert len(scores) == len(top) + len(qcd)
    first = scores[scores.input == 0]
    for key in ("file_index", "entry", "event", "jet_index"):  # joins back row by row
        assert ak.all(first[key] == top[key])
    assert ak.all((scores.score >= 0) & (scores.score <= 1))
    import uproot

    with uproot.open(tmp_path / "scores.root") as f:
        np.testing.assert_allclose(f["scores"]["score"].array(library="np"),
                                   ak.to_numpy(scores.score), rtol=1e-6)  # fmt: skip

    hepml("export", tmp_path / "pfn", "-o", tmp_path / "pfn.onnx")
    assert (tmp_path / "pfn.onnx").stat().st_size > 1000


def _evaluate_with_added_jets(jet_rows, tmp_path):
    """--add: every jet of an independent file joins the test split; --baseline: ratios."""
    from hepml.train import evaluate_checkpoint, predict_rows
    from hepml.train.metrics import rejection_at

    extra = tmp_path / "qcd_more.parquet"  # stands for an independent QCD sample
    ak.to_parquet(ak.from_parquet(jet_rows["qcd"]), extra)
    r = hepml("evaluate", tmp_path / "pfn", tmp_path / "bdt", "--add", extra,
              "--baseline", tmp_path / "bdt", "--no-plots", "-o", tmp_path / "eval_more")  # fmt: skip
    assert "x substructure-bdt @ 0.3" in r.stdout
    with open(tmp_path / "eval_more" / "metrics.json") as f:
        more = json.load(f, parse_constant=_no_nan_tokens)
    with open(tmp_path / "eval" / "metrics.json") as f:
        plain = json.load(f)
    n_extra = len(ak.from_parquet(extra))
    assert more["added_files"] == [str(extra)]
    assert more["baseline"] == "substructure-bdt"
    for name in ("pfn", "substructure-bdt"):
        m, p = more["models"][name], plain["models"][name]
        assert m["n"] == p["n"] + n_extra
        assert m["signal"] == p["signal"]  # QCD added, no top
        ckpt = load_checkpoint(tmp_path / ("pfn" if name == "pfn" else "bdt") / "best.pt")
        test = evaluate_checkpoint(ckpt, "test")
        y = np.concatenate([test.y, np.zeros(n_extra, dtype=np.int64)])
        score = np.concatenate([test.score, predict_rows(ckpt, ak.from_parquet(extra))])
        np.testing.assert_allclose(float(m["rej30"]), rejection_at(y, score, 0.3), rtol=1e-9)
        np.testing.assert_allclose(float(m["rej50"]), rejection_at(y, score, 0.5), rtol=1e-9)
    pfn, bdt = more["models"]["pfn"], more["models"]["substructure-bdt"]
    measured = [wp for wp in (30, 50) if all(np.isfinite(float(m[f"rej{wp}"])) for m in (pfn, bdt))]
    assert measured  # the small sample leaves background at one working point at least
    for wp in measured:
        assert bdt[f"ratio{wp}"] == 1.0
        assert bdt[f"ratio{wp}_err"] == 0.0
        np.testing.assert_allclose(pfn[f"ratio{wp}"], pfn[f"rej{wp}"] / bdt[f"rej{wp}"], rtol=1e-12)
        rel = np.hypot(pfn[f"rej{wp}_err"] / pfn[f"rej{wp}"], bdt[f"rej{wp}_err"] / bdt[f"rej{wp}"])
        np.testing.assert_allclose(pfn[f"ratio{wp}_err"], pfn[f"ratio{wp}"] * rel, rtol=1e-12)

    # a training file is not independent; a baseline must be one of the models
    r = hepml("evaluate", tmp_path / "bdt", "--add", jet_rows["qcd"], check=False)
    assert r.returncode == 2
    assert "is one of the split files" in r.stderr
    assert "Traceback" not in r.stderr
    qcd = ak.from_parquet(jet_rows["qcd"])
    other = tmp_path / "other_level.parquet"  # rows without a field the split files have
    ak.to_parquet(ak.zip({f: qcd[f] for f in qcd.fields if f != "jet_tau3"}, depth_limit=1), other)
    r = hepml("evaluate", tmp_path / "bdt", "--add", other, check=False)
    assert r.returncode == 2
    assert "its rows lack jet_tau3" in r.stderr
    r = hepml("evaluate", tmp_path / "bdt", "--baseline", tmp_path / "pfn", check=False)
    assert r.returncode == 2
    assert "is not one of the models" in r.stderr


def test_cli_errors_are_one_line(jet_rows, tmp_path):
    r = hepml("train", "--data", jet_rows["top"], "--model", "pfn", "-o", tmp_path / "x",
              check=False)  # fmt: skip
    assert r.returncode == 2
    assert "only label 1" in r.stderr
    assert "Traceback" not in r.stderr
    (tmp_path / "foreign.pt").write_bytes(b"\x80\x04K\x01.")
    r = hepml("evaluate", tmp_path / "foreign.pt", check=False)
    assert r.returncode == 2
    assert "not a hepml checkpoint" in r.stderr
    r = hepml("predict", tmp_path / "foreign.pt", jet_rows["top"], "-o", tmp_path / "s.csv",
              check=False)  # fmt: skip
    assert r.returncode == 2
    assert ".parquet" in r.stderr
    r = hepml("train", "--data", jet_rows["top"], "--set", "epochs", check=False)
    assert r.returncode == 2
    assert "KEY=VALUE" in r.stderr
