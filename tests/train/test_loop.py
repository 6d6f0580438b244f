"""The training loop on real (Pythia → reconstruct) jets: checkpoints, history, resume."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

from hepml.errors import ConfigError, InputError
from hepml.graphs import load_rows
from hepml.train import (
    Trainer,
    evaluate_checkpoint,
    fit,
    load_checkpoint,
    model_from_checkpoint,
    predict_rows,
    save_checkpoint,
)
from hepml.train.data import load_jet_rows, split_indices


def test_split_is_by_event_fixed_and_disjoint(jet_rows):
    rows, sample = load_jet_rows([jet_rows["top"], jet_rows["qcd"]])
    a = split_indices(rows, sample, [0.6, 0.2, 0.2], seed=0)
    b = split_indices(rows, sample, [0.6, 0.2, 0.2], seed=0)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    allidx = np.concatenate(list(a.values()))
    assert np.array_equal(np.sort(allidx), np.arange(len(rows)))
    key = [(int(s), int(f), int(e)) for s, f, e in zip(sample, rows.file_index, rows.entry)]
    where = {}
    for name, idx in a.items():
        for i in idx:
            assert where.setdefault(key[i], name) == name  # jets of one event stay together
    c = split_indices(rows, sample, [0.6, 0.2, 0.2], seed=1)
    assert not np.array_equal(a["test"], c["test"])
    frac = len(a["train"]) / len(rows)
    assert 0.4 < frac < 0.8


def test_training_writes_checkpoints_history_and_learns(small_config):
    cfg = small_config(epochs=3, optimizer={"lr": 0.005})
    rows_seen = []
    history = Trainer(cfg, on_epoch=rows_seen.append).fit()
    assert [r["epoch"] for r in history] == [1, 2, 3] == [r["epoch"] for r in rows_seen]
    for r in history:
        assert np.isfinite([r["loss"], r["val_loss"], r["val_auc"]]).all()
        assert {"val_rej30", "val_rej50", "val_accuracy", "jets_per_s", "lr"} <= set(r)
    out = cfg.output
    assert {"checkpoint.pt", "best.pt", "history.json", "history.csv"} <= set(os.listdir(out))
    with open(os.path.join(out, "history.json")) as f:
        assert json.load(f)[-1]["epoch"] == 3
    with open(os.path.join(out, "history.csv")) as f:
        assert len(f.read().splitlines()) == 4
    ckpt = load_checkpoint(out)  # a folder means its best.pt
    assert ckpt["kind"] == "torch"
    assert ckpt["model_name"] == "particlenet-lite"
    assert ckpt["features"][0] == "deta"
    assert len(ckpt["standardizer"]["mean"]) == 13
    # evaluating the checkpoint of the last epoch on the validation split gives the history's
    last = load_checkpoint(os.path.join(out, "checkpoint.pt"))
    res = evaluate_checkpoint(last, split="val", device="cpu")
    assert res.metrics["auc"] == pytest.approx(history[-1]["val_auc"], abs=1e-6)
    assert res.metrics["auc"] > 0.6  # boosted tops vs QCD separate even after 3 short epochs


@pytest.mark.parametrize("augment", ["none", "reflect"])
def test_resume_continues_exactly(small_config, tmp_path, augment):
    """A run interrupted after epoch 1 and resumed ends where an uninterrupted one does
    (with mirrored training jets too: their signs come from the seed and the epoch)."""
    data = {"augment": augment}
    straight = small_config(model="pfn", epochs=3, output=str(tmp_path / "a"), data=data)
    fit(straight)

    class Stop(Exception):
        pass

    def stop_after_first(row):
        if row["epoch"] == 1:
            raise Stop

    broken = small_config(model="pfn", epochs=3, output=str(tmp_path / "b"), data=data)
    with pytest.raises(Stop):
        Trainer(broken, on_epoch=stop_after_first).fit()
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["epoch"] == 1
    with pytest.raises(InputError, match="--resume"):
        Trainer(broken).fit()  # refuses to overwrite a run
    Trainer(broken).fit(resume=True)
    a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert b["epoch"] == 3
    for key, tensor in a["model_state"].items():
        torch.testing.assert_close(b["model_state"][key], tensor, rtol=0, atol=0, msg=key)
    assert [r["val_loss"] for r in a["history"]] == [r["val_loss"] for r in b["history"]]


def test_reflect_augmentation_mirrors_training_jets_only(small_config):
    """data.augment: reflect flips Δη / Δφ of whole training jets (x and pos, as if the
    raw features were mirrored before standardising), reproducibly per epoch; the
    validation batches and the BatchNorm recalibration batches are left alone."""
    plain = Trainer(small_config(model="pfn"))
    aug = Trainer(small_config(model="pfn", data={"augment": "reflect"}))
    plain.prepare_data()
    aug.prepare_data()
    cols = [aug.features.index("deta"), aug.features.index("dphi")]
    mean, std = aug.standardizer.mean, aug.standardizer.std
    flips = []
    for a, p in zip(aug.batches("train", 1), plain.batches("train", 1), strict=True):
        assert torch.equal(a.ids, p.ids)
        assert torch.equal(a.batch, p.batch)
        sign = a.pos[:, :] / p.pos[:, :]  # ±1 per particle and coordinate
        finite = p.pos != 0
        assert torch.all((sign[finite].abs() - 1).abs() < 1e-6)
        for k, col in enumerate(cols):
            raw_a = a.x[:, col] * std[col] + mean[col]
            raw_p = p.x[:, col] * std[col] + mean[col]
            s = torch.where(finite[:, k], sign[:, k], torch.ones_like(sign[:, k]))
            torch.testing.assert_close(raw_a, s * raw_p, atol=1e-5, rtol=1e-5)
            for j in range(a.num_graphs):  # one sign per jet
                assert len(torch.unique(s[(a.batch == j) & finite[:, k]])) <= 1
        others = [c for c in range(a.x.shape[1]) if c not in cols]
        assert torch.equal(a.x[:, others], p.x[:, others])
        flips.append(sign[finite].lt(0).float().mean())
    assert 0.3 < float(torch.stack(flips).mean()) < 0.7
    again = next(iter(aug.batches("train", 1)))
    assert torch.equal(again.x, next(iter(aug.batches("train", 1))).x)
    assert not torch.equal(again.x, next(iter(aug.batches("train", 2))).x)
    for split, epoch, stream in (("val", None, 0), ("train", 1, 1)):
        a = next(iter(aug.batches(split, epoch, stream)))
        p = next(iter(plain.batches(split, epoch, stream)))
        assert torch.equal(a.x, p.x)
        assert torch.equal(a.pos, p.pos)
    with pytest.raises(ConfigError, match=r"'data.augment' reflect needs deta and dphi"):
        small_config(data={"augment": "reflect", "features": ["log_pt", "dphi"]})


def test_bdt_through_the_same_config(small_config, jet_rows):
    cfg = small_config(model="substructure-bdt")
    history = fit(cfg)
    assert history[0]["val_auc"] > 0.6
    ckpt = load_checkpoint(cfg.output)
    assert ckpt["kind"] == "bdt"
    res = evaluate_checkpoint(ckpt, split="val")
    assert res.metrics["auc"] == pytest.approx(history[0]["val_auc"], abs=1e-9)
    rows = load_rows(jet_rows["top"])
    assert predict_rows(ckpt, rows).shape == (len(rows),)


def test_tiny_jets_go_through(small_config, jet_rows):
    """Jets with one particle, or fewer than k, are scored (finite) by a trained model."""
    cfg = small_config(epochs=1)
    fit(cfg)
    ckpt = load_checkpoint(cfg.output)
    rows = load_rows(jet_rows["top"])[:6]
    for n in (1, 2, 4):
        short = rows[["file_index", "entry", "jet_index", "label", "weight"]]
        short = _with_part(short, rows.part[:, :n])
        score = predict_rows(ckpt, short, device="cpu")
        assert np.isfinite(score).all()
        assert len(score) == 6


def _with_part(rows, part):
    import awkward as ak

    return ak.with_field(rows, part, "part")


def test_foreign_and_corrupt_model_files(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a hepml checkpoint"):
        load_checkpoint(tmp_path / "other.pt")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump(Evil(), f)
    torch.save({"format": "hepml-checkpoint", "payload": Evil()}, tmp_path / "evil2.pt")
    for name in ("evil.pt", "evil2.pt"):
        with pytest.raises(InputError, match="weights_only=True"):
            load_checkpoint(tmp_path / name)
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(InputError, match="not a hepml checkpoint"):
        load_checkpoint(tmp_path / "text.pt")
    with pytest.raises(InputError, match="no such model file"):
        load_checkpoint(tmp_path / "missing.pt")
    # a ROOT file given for a model, and a checkpoint cut short by a full disk
    import uproot

    with uproot.recreate(tmp_path / "jets.root") as f:
        f["jets"] = {"pt": np.arange(3.0)}
    save_checkpoint({"kind": "torch", "x": torch.zeros(1000)}, tmp_path / "whole.pt")
    whole = (tmp_path / "whole.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(whole[:-30])
    for name in ("jets.root", "cut.pt"):
        with pytest.raises(InputError, match=f"{name}: not a hepml checkpoint"):
            load_checkpoint(tmp_path / name)
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(InputError, match=r"without best\.pt"):
        load_checkpoint(tmp_path / "empty_run")


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    save_checkpoint({"kind": "torch", "x": torch.ones(2)}, tmp_path / "c.pt")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"kind": "torch", "x": torch.zeros(2)}, tmp_path / "c.pt")
    assert load_checkpoint(tmp_path / "c.pt")["x"].tolist() == [1.0, 1.0]
    assert os.listdir(tmp_path) == ["c.pt"]


def test_partial_files_of_a_killed_writer_are_removed(tmp_path):
    """NAME.tmp-PID files whose writer is gone are removed (what --resume does after a
    SIGKILL during a save); those of live processes and every other file stay."""
    import subprocess
    import sys

    from hepml.train.checkpoint import remove_stale_temporaries

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = int(done.stdout)  # a process that has exited
    names = [f"best.pt.tmp-{dead}", f"history.json.tmp-{dead}", f"model.onnx.tmp-{dead}.onnx",
             f"checkpoint.pt.tmp-{os.getpid()}", "checkpoint.pt.tmp-1", "best.pt", "notes.tmp"]  # fmt: skip
    for name in names:
        (tmp_path / name).write_text("x")
    removed = remove_stale_temporaries(tmp_path)
    assert removed == sorted(names[:3])
    assert sorted(os.listdir(tmp_path)) == sorted(names[3:])
    assert remove_stale_temporaries(tmp_path / "missing") == []


def test_model_from_checkpoint_roundtrip(small_config):
    cfg = small_config(model="pfn", epochs=1)
    fit(cfg)
    ckpt = load_checkpoint(cfg.output)
    model = model_from_checkpoint(ckpt)
    assert not model.training
    assert sum(p.numel() for p in model.parameters()) > 0


def test_precise_batchnorm_is_the_plain_average_and_draws_no_random_numbers():
    from torch import nn

    from hepml.train.loop import recalibrate_batchnorm

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(3)
            self.drop = nn.Dropout(0.5)

        def forward_data(self, b):
            return self.drop(self.bn(b.x))

    class B:
        def __init__(self, x):
            self.x = x

        def to(self, device, non_blocking=False):
            return self

    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(n, 3, generator=g) * 2 + 1 for n in (10, 30, 20)]
    model = Tiny()
    state = torch.get_rng_state()
    assert recalibrate_batchnorm(model, [B(x) for x in xs], torch.device("cpu")) == 3
    assert torch.equal(torch.get_rng_state(), state)
    assert not model.training
    assert model.bn.momentum == 0.1
    want_mean = torch.stack([x.mean(0) for x in xs]).mean(0)  # average of batch means
    torch.testing.assert_close(model.bn.running_mean, want_mean)
    want_var = torch.stack([x.var(0, unbiased=True) for x in xs]).mean(0)
    torch.testing.assert_close(model.bn.running_var, want_var)


def test_event_level_rows_train_the_event_gnn_and_the_event_bdt(samples, jet_rows, tmp_path):
    """ttbar events vs QCD events, from their reconstructed objects only."""
    import awkward as ak

    from hepml.graphs import EVENT_NODE_FEATURES, EventGraphs, load_rows
    from hepml.reco.pipeline import EVENT_FEATURES, ReconstructConfig, reconstruct
    from hepml.train import load_config

    cfg = ReconstructConfig(level="events")
    for name in ("ttbar", "qcd"):
        s = reconstruct([samples[name]], tmp_path / f"{name}.parquet", cfg)
        assert s.events_in == s.events_with_jets  # every event becomes a row
    rows = load_rows(tmp_path / "ttbar.parquet", tmp_path / "qcd.parquet")
    assert set(EVENT_FEATURES) <= set(rows.fields)
    # the same rows written to ROOT read back alike (the objects were left flat)
    reconstruct([samples["qcd"]], tmp_path / "qcd_events.root", cfg)
    from_root = load_rows(tmp_path / "qcd_events.root")
    from_parquet = load_rows(tmp_path / "qcd.parquet")
    assert from_root.fields == from_parquet.fields
    flat = [ak.to_numpy(ak.flatten(r.objects.pt)) for r in (from_root, from_parquet)]
    np.testing.assert_allclose(*flat, rtol=1e-6)
    assert ak.to_list(ak.num(from_root.objects)) == ak.to_list(ak.num(from_parquet.objects))
    assert set(np.unique(ak_to_np(rows.label))) == {0, 1}
    graphs = EventGraphs(rows)
    assert graphs.x.shape[1] == len(EVENT_NODE_FEATURES)
    # the one-hot columns say each node's type, MET is the last node of every event
    assert torch.all(graphs.x[:, :5].sum(1) == 1)
    last = graphs.offsets[1:] - 1
    assert torch.all(graphs.x[last, 4] == 1)
    files = [str(tmp_path / "ttbar.parquet"), str(tmp_path / "qcd.parquet")]
    mirrored = load_config(overrides={"data": {"files": files, "augment": "reflect"},
                                      "model": {"name": "event-gnn"}, "device": "cpu"})  # fmt: skip
    with pytest.raises(ConfigError, match=r"data.augment: reflect .* lack \['deta', 'dphi'\]"):
        Trainer(mirrored).prepare_data()  # event graphs have no Δη, Δφ to mirror
    mixed = [files[0], str(jet_rows["qcd"])]  # event rows of one class, jet rows of the other
    for model in ("event-gnn", "event-bdt", "particlenet-lite", "substructure-bdt"):
        c = load_config(overrides={"data": {"files": mixed}, "model": {"name": model},
                                   "output": str(tmp_path / "mixed")})  # fmt: skip
        with pytest.raises(
            InputError, match=r"ttbar.parquet holds event rows and .*qcd.parquet jet"
        ):
            fit(c)
    for model, extra in (("event-gnn", {"epochs": 2, "batch_size": 16}), ("event-bdt", {})):
        c = load_config(overrides={"data": {"files": files}, "model": {"name": model},
                                   "device": "cpu", "output": str(tmp_path / model), **extra})  # fmt: skip
        hist = fit(c)
        assert np.isfinite(hist[-1]["val_auc"])
        res = evaluate_checkpoint(load_checkpoint(tmp_path / model), split="test")
        assert len(res.score) == len(res.y) > 0


def ak_to_np(x):
    import awkward as ak

    return ak.to_numpy(x)


def test_early_stopping_and_class_weights(small_config):
    """A model that cannot move (lr 1e-12) stops after ``patience`` epochs without gain."""
    cfg = small_config(model="pfn", epochs=6, optimizer={"lr": 1e-12, "weight_decay": 0.0},
                       early_stopping={"patience": 2, "monitor": "val_auc"},
                       class_weights="balanced")  # fmt: skip
    trainer = Trainer(cfg)
    history = trainer.fit()
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert [r["best"] for r in history] == [True, False, False]
    w = trainer.class_weights.cpu()
    y = trainer.data.y[torch.from_numpy(trainer.split["train"])]
    counts = torch.bincount(y, minlength=2).float()
    torch.testing.assert_close(w * counts, torch.full((2,), counts.sum() / 2))


def test_streaming_training_sees_the_same_split(small_config, jet_rows):
    """data.streaming reads the files through the shuffle buffer: every training jet once
    per epoch, and the validation metrics are those of the in-memory evaluation."""
    cfg = small_config(model="pfn", data={"streaming": True, "shuffle_buffer": 40})
    trainer = Trainer(cfg)
    history = trainer.fit()
    rows, sample = load_jet_rows([jet_rows["top"], jet_rows["qcd"]])
    split = split_indices(rows, sample, cfg.data.split, cfg.data.split_seed)
    assert trainer.split_sizes == {k: len(v) for k, v in split.items()}
    assert [r["trained_on"] for r in history] == [len(split["train"])] * 2
    res = evaluate_checkpoint(load_checkpoint(os.path.join(cfg.output, "checkpoint.pt")), "val")
    assert res.metrics["auc"] == pytest.approx(history[-1]["val_auc"], abs=1e-6)
    # the standardisation was fitted on training jets only (all of them here)
    in_memory = Trainer(small_config(model="pfn", output=cfg.output + "-mem"))
    in_memory.prepare_data()
    torch.testing.assert_close(trainer.standardizer.mean, in_memory.standardizer.mean)


def test_evaluation_keeps_each_training_file_in_its_split(small_config, jet_rows, tmp_path):
    """The split is keyed on each file's place among the training files, whatever the
    order of --data (the files swapped put training jets into the test split); a file
    given twice is refused; --data evaluates every jet (not the training --max-jets)."""
    cfg = small_config(model="substructure-bdt", data={"max_jets": 40})
    fit(cfg)
    ckpt = load_checkpoint(cfg.output)
    top, qcd = str(jet_rows["top"]), str(jet_rows["qcd"])
    default = evaluate_checkpoint(ckpt, split="test")
    straight = evaluate_checkpoint(ckpt, files=[top, qcd], split="test")
    swapped = evaluate_checkpoint(ckpt, files=[qcd, top], split="test")
    np.testing.assert_array_equal(np.sort(swapped.score), np.sort(straight.score))
    rows, sample = load_jet_rows([top, qcd])
    assert len(straight.y) == len(split_indices(rows, sample, cfg.data.split, 0)["test"])
    assert len(straight.y) > len(default.y)  # (every jet, not the first 40 per file)
    with pytest.raises(InputError, match="is given twice"):
        load_jet_rows([top, qcd, os.path.relpath(top)])
    # the checkpoint records absolute paths: it evaluates from another directory
    assert all(os.path.isabs(f) for f in ckpt["config"]["data"]["files"])
    here = os.getcwd()
    try:
        os.chdir(tmp_path)
        assert len(evaluate_checkpoint(ckpt, split="test").y) == len(default.y)
    finally:
        os.chdir(here)


def test_moved_training_files_keep_their_split(small_config, jet_rows, tmp_path):
    """Training files moved (or copied to another machine) are recognised by their
    fingerprint (provenance and size), so --data on them evaluates the same test jets;
    a file named like a missing training file that cannot be told apart is refused
    (its training jets would have been scored as test jets), except with --split all."""
    import shutil

    import awkward as ak

    old = tmp_path / "old"
    old.mkdir()
    files = [old / "top.parquet", old / "qcd.parquet"]
    shutil.copy(jet_rows["top"], files[0])
    shutil.copy(jet_rows["qcd"], files[1])
    cfg = small_config(model="substructure-bdt", data={"files": [str(f) for f in files]})
    fit(cfg)
    ckpt = load_checkpoint(cfg.output)
    assert all(ckpt["data_fingerprints"])
    before = evaluate_checkpoint(ckpt, split="test")
    new = tmp_path / "new"
    shutil.move(old, new)
    moved = [str(new / "qcd.parquet"), str(new / "top.parquet")]
    after = evaluate_checkpoint(ckpt, files=moved, split="test")
    np.testing.assert_array_equal(np.sort(after.score), np.sort(before.score))
    # a checkpoint without fingerprints (or files without provenance): refused
    old_style = {**ckpt, "data_fingerprints": None}
    with pytest.raises(
        InputError, match=r"top\.parquet: named like the training file .*--split all"
    ):
        evaluate_checkpoint(old_style, files=[moved[1]], split="test")
    assert len(evaluate_checkpoint(old_style, files=[moved[1]], split="all").y) > 0
    # another sample of the same name, with its own provenance: a new file, evaluated
    rows = load_rows(moved[1])
    other = tmp_path / "elsewhere" / "top.parquet"
    other.parent.mkdir()
    meta = {**rows.attrs["hepml"], "config": {**rows.attrs["hepml"]["config"], "seed": 999}}
    ak.to_parquet(ak.Array(rows, attrs={"hepml": meta}), other)
    n_test = len(evaluate_checkpoint(ckpt, files=[str(other)], split="test").y)
    assert 0 < n_test < len(rows)


def test_bdt_refuses_an_existing_run_and_resume(small_config):
    cfg = small_config(model="substructure-bdt")
    fit(cfg)
    with pytest.raises(InputError, match="holds a previous run's checkpoint"):
        fit(cfg)
    with pytest.raises(ConfigError, match="nothing to resume"):
        fit(cfg, resume=True)


def test_resume_with_another_monitor_compares_like_with_like(small_config):
    """A run resumed with another early_stopping.monitor takes that metric's best from
    the history so far (it compared a val_loss with the old val_auc's best)."""

    class Stop(Exception):
        pass

    def stop(row):
        if row["epoch"] == 2:
            raise Stop

    first = small_config(model="pfn", epochs=4, early_stopping={"monitor": "val_auc"})
    with pytest.raises(Stop):
        Trainer(first, on_epoch=stop).fit()
    logged = []
    again = Trainer(small_config(model="pfn", epochs=4, early_stopping={"monitor": "val_loss"}),
                    log=logged.append)  # fmt: skip
    history = again.fit(resume=True)
    assert any("early stopping now on val_loss" in m for m in logged)
    best = min(r["val_loss"] for r in history[:2])
    for row in history[2:]:  # each later epoch is best exactly when its val_loss is lowest yet
        assert row["best"] == (row["val_loss"] < best)
        best = min(best, row["val_loss"])
    assert again.best_value == pytest.approx(min(r["val_loss"] for r in history))


def test_early_stopping_on_infinite_rejection_and_nan_losses(small_config):
    """val_rej30 is infinite while no validation background passes (small sets): AUC
    then says whether the epoch gained, instead of no epoch ever beating the first; a
    NaN val_loss is no gain and never the best."""
    rej = Trainer(small_config(model="pfn", early_stopping={"monitor": "val_rej30"}))
    rows = [{"val_rej30": np.inf, "val_auc": 0.7}, {"val_rej30": np.inf, "val_auc": 0.8},
            {"val_rej30": np.inf, "val_auc": 0.75}, {"val_rej30": 40.0, "val_auc": 0.9}]  # fmt: skip
    rej.best_value = None
    assert [rej._improved(r) for r in rows] == [True, True, False, False]
    loss = Trainer(small_config(model="pfn"))
    loss.best_value = None
    rows = [{"val_loss": float("nan")}, {"val_loss": 0.5}, {"val_loss": 0.6}, {"val_loss": 0.4}]
    assert [loss._improved(r) for r in rows] == [False, True, False, True]
    assert loss.best_value == 0.4


def test_resume_with_other_epochs_is_refused_for_laid_out_schedules(small_config, tmp_path):
    cfg = small_config(model="pfn", epochs=1, schedule={"name": "onecycle"})
    fit(cfg)
    more = small_config(model="pfn", epochs=2, schedule={"name": "onecycle"})
    with pytest.raises(ConfigError, match="cannot resume with 2 epochs: the onecycle"):
        Trainer(more).fit(resume=True)
    # a constant learning rate can be extended
    flat = small_config(model="pfn", epochs=1, schedule={"name": "none"},
                        output=str(tmp_path / "flat"))  # fmt: skip
    fit(flat)
    longer = small_config(model="pfn", epochs=2, schedule={"name": "none"},
                          output=str(tmp_path / "flat"))  # fmt: skip
    assert len(Trainer(longer).fit(resume=True)) == 2


def test_unlabelled_rows_are_refused_with_the_file(small_config, jet_rows, tmp_path):
    import awkward as ak

    rows = load_rows(jet_rows["qcd"])
    bare = tmp_path / "bare.parquet"
    ak.to_parquet(ak.with_field(rows, rows.label * 0 - 1, "label"), bare)
    for streaming in (False, True):
        cfg = small_config(model="pfn", data={"files": [str(jet_rows["top"]), str(bare)],
                                              "streaming": streaming})  # fmt: skip
        with pytest.raises(InputError, match=r"bare\.parquet: .* rows have no label"):
            fit(cfg)


def test_streaming_standardisation_draws_from_every_file(small_config, jet_rows, tmp_path):
    """With fewer data.stats_jets than the first file holds, the streaming
    standardisation still sees every file (files are usually one class each): it took
    the first jets of a pass in file order, i.e. the first file's only."""
    import awkward as ak

    from hepml.graphs.stream import stats_sample

    rows = load_rows(jet_rows["qcd"])
    marked = tmp_path / "marked.parquet"  # (the second file's jets told apart by log_pt)
    part = ak.with_field(rows.part, rows.part.log_pt + 100.0, "log_pt")
    ak.to_parquet(ak.with_field(rows, part, "part"), marked)
    files = [str(jet_rows["top"]), str(marked)]
    n_top = len(load_rows(jet_rows["top"]))
    for n in (n_top // 3, 2 * n_top):
        x = stats_sample(files, ["log_pt", "deta"], n, seed=1)
        second = (x[:, 0] > 50).float().mean()
        assert 0.1 < second < 0.9
    again = stats_sample(files, ["log_pt", "deta"], n_top // 3, seed=1)
    torch.testing.assert_close(again, stats_sample(files, ["log_pt", "deta"], n_top // 3, seed=1))
    # the trainer fits on it: its mean lies between the two files' means
    cfg = small_config(model="pfn", data={"files": files, "streaming": True,
                                          "stats_jets": n_top // 3})  # fmt: skip
    trainer = Trainer(cfg)
    trainer.prepare_data()
    column = trainer.features.index("log_pt")
    assert 10 < float(trainer.standardizer.mean[column]) < 90


def test_a_two_class_monitor_needs_both_classes_in_validation(small_config, jet_rows, tmp_path):
    """early_stopping.monitor val_auc (or val_rej30) with a validation split of one class
    was never computed: every epoch counted as no gain, best.pt stayed at epoch 1 and
    patience stopped the run "without improvement". Refused before training."""
    import awkward as ak

    files = [str(tmp_path / "top.parquet"), str(tmp_path / "qcd.parquet")]
    ak.to_parquet(load_rows(jet_rows["top"])[:20], files[0])
    ak.to_parquet(load_rows(jet_rows["qcd"])[:3], files[1])
    rows, sample = load_jet_rows(files)
    y = ak.to_numpy(rows.label)
    seed = next(
        s
        for s in range(200)
        if len(set(y[split_indices(rows, sample, (0.6, 0.2, 0.2), s)["val"]])) == 1
        and len(set(y[split_indices(rows, sample, (0.6, 0.2, 0.2), s)["train"]])) == 2
    )
    for streaming in (False, True):
        for monitor in ("val_auc", "val_rej30"):
            cfg = small_config(model="pfn", data={"files": files, "split_seed": seed,
                                                  "streaming": streaming},
                               early_stopping={"monitor": monitor, "patience": 2})  # fmt: skip
            with pytest.raises(ConfigError, match=f"monitor {monitor} is a two-class metric"):
                fit(cfg)
    cfg = small_config(model="pfn", epochs=1, data={"files": files, "split_seed": seed},
                       early_stopping={"monitor": "val_loss"})  # fmt: skip
    assert len(fit(cfg)) == 1  # (val_loss is there with any labels)


def test_streaming_with_loader_workers_keeps_to_the_schedule(small_config, tmp_path):
    cfg = small_config(model="pfn", epochs=1, batch_size=100, schedule={"name": "onecycle"},
                       data={"streaming": True, "workers": 2})  # fmt: skip
    assert len(fit(cfg)) == 1  # (it stepped past OneCycleLR's total before)
    # the two files hold one row group each: a third loader process would get nothing
    cfg = small_config(model="pfn", data={"streaming": True, "workers": 3}, output=str(
        tmp_path / "three"))  # fmt: skip
    with pytest.raises(ConfigError, match=r"these files hold 2, fewer than the 3 shards"):
        fit(cfg)


def test_weighted_evaluation_counts_each_jet_with_its_weight(small_config, jet_rows, tmp_path):
    """--weighted: a jet of weight 0 is as if absent, one of weight 2 counts twice (against
    the unweighted metrics of a sample built that way), a class's overall scale does
    not matter, and bad weights are refused naming the files."""
    import awkward as ak

    from hepml.cli.main import main
    from hepml.train.metrics import binary_metrics, rejection_error

    cfg = small_config(model="substructure-bdt")
    fit(cfg)
    ckpt = load_checkpoint(cfg.output)
    top, qcd = (load_rows(jet_rows[k]) for k in ("top", "qcd"))
    n = len(qcd)
    w = np.where(np.arange(n) % 3 == 0, 0.0, np.where(np.arange(n) % 3 == 1, 2.0, 1.0))
    files = {"top": tmp_path / "top_w.parquet", "qcd": tmp_path / "qcd_w.parquet"}
    ak.to_parquet(ak.with_field(top, top.weight * 1e6, "weight"), files["top"])
    ak.to_parquet(ak.with_field(qcd, w, "weight"), files["qcd"])
    got = evaluate_checkpoint(ckpt, "all", [files["top"], files["qcd"]], weighted=True)
    plain = evaluate_checkpoint(ckpt, "all", [files["top"], files["qcd"]])
    # the same jets, unweighted, with weight-2 jets twice and weight-0 jets left out
    repeat = np.concatenate([np.ones(len(top), int), w.astype(int)])
    y, score = np.repeat(plain.y, repeat), np.repeat(plain.score, repeat)
    want = binary_metrics(y, score)
    for key in ("auc", "rej30", "rej50"):
        assert got.metrics[key] == pytest.approx(want[key], rel=1e-9), key
    assert got.metrics["auc"] != pytest.approx(plain.metrics["auc"], rel=1e-6)
    # errors use effective counts: more than the unweighted ones of the same jets
    if np.isfinite(got.metrics["rej50"]):
        err = rejection_error(got.y, got.score, 0.5, got.metric_weight)
        assert err > rejection_error(y, score, 0.5)

    main(["evaluate", cfg.output, "--data", str(files["top"]), str(files["qcd"]), "--split",
          "all", "--weighted", "--no-plots", "-q", "-o", str(tmp_path / "ev")])  # fmt: skip
    with open(tmp_path / "ev" / "metrics.json") as f:
        report = json.load(f)
    assert report["weighted"] is True
    assert report["models"]["substructure-bdt"]["auc"] == pytest.approx(got.metrics["auc"])

    ak.to_parquet(ak.with_field(qcd, np.where(np.arange(n) == 5, np.nan, w), "weight"),
                  files["qcd"])  # fmt: skip
    with pytest.raises(InputError, match=r"qcd_w\.parquet: entry \d+, jet \d+ has the weight nan"):
        evaluate_checkpoint(ckpt, "all", [files["top"], files["qcd"]], weighted=True)


def test_rows_of_the_wrong_kind_and_rows_without_weights(small_config, jet_rows):
    """A jet tagger given event rows (or the reverse) says so; rows without a weight
    column are scored (weight 1)."""
    import awkward as ak

    from hepml.train.loop import resolve_device

    cfg = small_config(model="substructure-bdt")
    fit(cfg)
    ckpt = load_checkpoint(cfg.output)
    events = ak.Array({"label": [0, 1], "objects": [[{"pt": 1.0}], [{"pt": 2.0}]]})
    with pytest.raises(InputError, match=r"is a jet tagger: it scores jet rows.*event rows"):
        predict_rows(ckpt, events)
    from hepml.graphs.jets import JetGraphs

    rows = load_rows(jet_rows["top"])
    bare = rows[[f for f in rows.fields if f != "weight"]]
    np.testing.assert_array_equal(predict_rows(ckpt, bare), predict_rows(ckpt, rows))
    graphs = JetGraphs(bare)  # (what training builds; it read rows.weight)
    assert torch.all(graphs.weight == 1.0)
    assert len(graphs.weight) == len(bare)
    with pytest.raises(ConfigError, match="device 'gpu': use auto, cpu, cuda"):
        resolve_device("gpu")


def test_history_json_is_strict_json(tmp_path):
    """A validation set with no background passing the working point gives an infinite
    rejection: history.json must still be JSON that strict readers accept."""
    from hepml.train.loop import write_history

    history = [{"epoch": 1, "loss": 0.5, "val_rej30": float("inf"), "val_auc": float("nan")}]
    write_history(history, str(tmp_path))
    text = (tmp_path / "history.json").read_text()
    assert "Infinity" not in text
    assert "NaN" not in text
    back = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON token {c}"))
    assert back == [{"epoch": 1, "loss": 0.5, "val_rej30": "inf", "val_auc": None}]
    assert (tmp_path / "history.csv").read_text().splitlines()[1] == "1,0.5,inf,nan"


def test_a_batch_of_one_jet_of_one_particle_trains(jet_rows):
    """The last partial batch of an epoch can be one jet of one particle, on which
    BatchNorm in training mode raises: that batch trains with BatchNorm's running
    statistics (every DDP rank still does its forward and backward)."""
    import awkward as ak

    from hepml.graphs import JetGraphs
    from hepml.models import build
    from hepml.train.loop import recalibrate_batchnorm, train_epoch

    rows = load_rows(jet_rows["top"])[:3]
    rows = ak.with_field(rows, rows.part[:, :1], "part")
    graphs = JetGraphs(rows)
    torch.manual_seed(0)
    model = build("particlenet-lite", input_dims=graphs.x.shape[1], k=4)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d))
    before = bn.running_mean.clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    out = train_epoch(model, [graphs.batch([0])], opt, torch.nn.CrossEntropyLoss(),
                      torch.device("cpu"))  # fmt: skip
    assert out["jets"] == 1
    assert np.isfinite(out["loss"])
    assert torch.equal(bn.running_mean, before)  # (eval mode for that batch)
    assert bn.training  # and back to training mode after it
    whole = JetGraphs(load_rows(jet_rows["top"])[:1])  # one jet of many particles:
    train_epoch(model, [whole.batch([0])], opt, torch.nn.CrossEntropyLoss(),
                torch.device("cpu"))  # fmt: skip
    assert not torch.equal(bn.running_mean, before)  # BatchNorm trains on its nodes
    used = recalibrate_batchnorm(model, [graphs.batch([0]), graphs.batch([1, 2])],
                                 torch.device("cpu"))  # fmt: skip
    assert used == 1
