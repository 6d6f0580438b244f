"""Training configs: validated before any data is read, errors naming the key."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hepml.errors import ConfigError
from hepml.train import load_config


def test_defaults_and_overrides(tmp_path):
    cfg = load_config(overrides={"data": {"files": ["a.parquet"]}})
    assert cfg.model_name == "particlenet-lite"
    assert cfg.optimizer.lr == 1e-3
    path = tmp_path / "train.yaml"
    path.write_text(
        "data: {files: [t.parquet, q.parquet], split: [0.5, 0.25, 0.25]}\n"
        "model: {name: pfn, phi_sizes: [16, 16]}\noptimizer: {lr: 0.003}\nepochs: 4\n"
    )
    cfg = load_config(path, {"epochs": 7, "optimizer": {"weight_decay": 0}})
    assert cfg.epochs == 7
    assert cfg.optimizer.lr == 0.003  # nested overrides merge
    assert cfg.optimizer.weight_decay == 0.0
    assert cfg.model_options == {"phi_sizes": [16, 16]}
    assert cfg.data.split == [0.5, 0.25, 0.25]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"optimizer": {"lrr": 0.1}}, r"unknown key 'optimizer.lrr' \(did you mean 'lr'\?\)"),
        ({"epoch": 3}, r"unknown key 'epoch' \(did you mean 'epochs'\?\)"),
        ({"epochs": "ten"}, r"'epochs' must be int, got 'ten'"),
        ({"epochs": 0}, r"'epochs' must be >= 1"),
        ({"optimizer": {"lr": "fast"}}, r"'optimizer.lr' must be float"),
        ({"optimizer": {"name": "adagrad"}}, r"'optimizer.name' must be one of adam, adamw, sgd"),
        ({"data": {"files": "a.parquet"}}, r"'data.files' must be list\[str\]"),
        ({"data": {"split": [0.5, 0.5, 0.5]}}, r"'data.split' must be 3 fractions"),
        ({"model": {"name": "particlenet-lit"}}, r"did you mean 'particlenet-lite'"),
        ({"model": {"name": "pfn", "phi_size": [4]}}, r"unknown option 'phi_size'"),
        ({"model": {"name": "particlenet", "k": 0}}, r"'k' must be an integer >= 1"),
        ({"model": {"name": "substructure-bdt", "max_iters": 3}}, r"unknown key 'model.max_iters'"),
        ({"device": "gpu"}, r"'device' must be auto, cpu, cuda or cuda:N"),
        ({"data": {"augment": "rotate"}}, r"'data.augment' must be one of none, reflect"),
        (
            {"data": {"augment": "reflect", "features": ["log_pt", "dphi"]}},
            r"'data.augment' reflect needs deta and dphi",
        ),
        ({"optimizer": 3}, r"optimizer must be a mapping"),
        ({"seed": -1}, r"'seed' must be a finite number >= 0, got -1"),
        ({"optimizer": {"momentum": -0.5}}, r"'optimizer.momentum' must be a finite number >= 0"),
        ({"data": {"split_seed": -1}}, r"'data.split_seed' must be a finite number >= 0"),
        ({"optimizer": {"weight_decay": -1}}, r"'optimizer.weight_decay' must be a finite"),
        ({"optimizer": {"weight_decay": float("nan")}}, r"'optimizer.weight_decay' must be a"),
        ({"optimizer": {"lr": float("nan")}}, r"'optimizer.lr' must be a finite number > 0"),
        ({"optimizer": {"lr": float("inf")}}, r"'optimizer.lr' must be a finite number > 0"),
        ({"optimizer": {"lr": 0.0}}, r"'optimizer.lr' must be a finite number > 0"),
        ({"data": {"features": ["deta", "log_pt", "deta"]}}, r"names \['deta'\] more than once"),
        ({"schedule": {"step_size": 0}}, r"'schedule.step_size' must be >= 1"),
        ({"schedule": {"gamma": 0}}, r"'schedule.gamma' must be > 0"),
        ({"data": {"features": []}}, r"'data.features' is empty"),
    ],
)
def test_bad_config_names_the_key(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config(overrides=overrides)


def test_model_options_without_a_name_are_the_default_models():
    cfg = load_config(overrides={"model": {"k": 8}})
    assert cfg.model_name == "particlenet-lite"
    assert cfg.model_options == {"k": 8}


def test_cli_set_errors_are_one_line(tmp_path, capsys):
    """--set on a section, and network-only keys for the BDT (which would be ignored)."""
    from hepml.cli.main import main

    def train(*args):
        code = main(["train", "--data", "a.parquet", "b.parquet", "-o", str(tmp_path / "r"),
                     *args])  # fmt: skip
        return code, capsys.readouterr().err

    code, err = train("--set", "data=foo")
    assert code == 2
    assert "data is a section of the config" in err
    code, err = train("--set", "seed=1", "--set", "seed.x=2")
    assert code == 2
    assert "--set seed.x: seed is a value (1); it has no keys" in err
    for key in ("epochs=3", "optimizer.lr=0.1", "data.augment=reflect", "class_weights=balanced",
                "schedule.name=step", "data.features=[mass]", "data={augment: reflect}"):  # fmt: skip
        code, err = train("--model", "substructure-bdt", "--set", key)
        assert code == 2
        flat = key.split("=")[0] + (".augment" if "{" in key else "")
        assert f"--set {flat}: not an option of substructure-bdt" in err
    code, err = train("--model", "substructure-bdt", "--set", "model.max_iter=3")
    assert "not an option" not in err  # (the BDT's own option passes; the data is missing)
    assert "a.parquet: no such file" in err
    assert not (tmp_path / "r").exists()  # a run that fails on its data leaves no folder


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(bad)
    bad.write_text("model: {name: particlenet, kk: 3}\n")
    with pytest.raises(ConfigError, match=rf"{bad}: model: .*unknown option 'kk'"):
        load_config(bad)


def test_cli_rejects_a_bad_model_before_reading_data(tmp_path):
    """The data file does not exist: the model name is reported, not the file."""
    r = subprocess.run(
        [sys.executable, "-m", "hepml.cli.main", "train", "--data", "nope.parquet",
         "--model", "particlenett", "-o", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2
    assert "unknown model 'particlenett'" in r.stderr
    assert "nope.parquet" not in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()


def test_exponent_numbers_without_a_dot_are_numbers(tmp_path):
    """PyYAML (YAML 1.1) reads ``3e-3`` as a string; a float key takes it as 0.003 —
    in a config file and in ``--set optimizer.lr=3e-3`` (the example of hepml train)."""
    from hepml.cli.ui import parse_set

    path = tmp_path / "c.yaml"
    path.write_text("optimizer: {lr: 3e-3, weight_decay: 1E-5}\n")
    cfg = load_config(path)
    assert cfg.optimizer.lr == 0.003
    assert cfg.optimizer.weight_decay == 1e-5
    ((key, value),) = parse_set(["optimizer.lr=3e-3"], "optimizer.lr=3e-3")
    assert key == "optimizer.lr"
    assert load_config(overrides={"optimizer": {"lr": value}}).optimizer.lr == 0.003
    with pytest.raises(ConfigError, match=r"'optimizer.lr' must be float, got 'fast3e-3'"):
        load_config(overrides={"optimizer": {"lr": "fast3e-3"}})
