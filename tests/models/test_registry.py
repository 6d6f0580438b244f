"""The model registry: names, typed configs, errors that name the option."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from hepml.errors import ConfigError
from hepml.models import (
    PFN,
    EventGNN,
    ParticleNet,
    ParticleNetConfig,
    build,
    default_config,
    list_models,
)


def test_list_and_build_every_model():
    assert list_models() == ["event-gnn", "particlenet", "particlenet-lite", "pfn"]
    kinds = {"particlenet": ParticleNet, "particlenet-lite": ParticleNet, "pfn": PFN}
    kinds["event-gnn"] = EventGNN
    for name in list_models():
        model = build(name)
        assert isinstance(model, kinds[name])
        assert isinstance(model, torch.nn.Module)


def test_overrides_and_yaml_lists():
    import numpy as np

    assert build("particlenet-lite", k=np.int64(6)).config.k == 6  # (numpy integers too)
    model = build("particlenet", k=5, conv_params=[[8, 8], [16, 16, 16]], fc_params=[[32, 0.2]])
    cfg = model.config
    assert isinstance(cfg, ParticleNetConfig)
    assert cfg.k == 5
    assert cfg.conv_params == ((8, 8), (16, 16, 16))
    assert cfg.fc_params == ((32, 0.2),)
    assert len(model.blocks) == 2
    lite = default_config("particlenet-lite")
    assert (lite.k, lite.conv_params, lite.fc_params) == (7, ((32,) * 3, (64,) * 3), ((128, 0.1),))
    # the saved config rebuilds the same model
    assert build("particlenet", **dataclasses.asdict(cfg)).config == cfg
    lite_cfg = build("particlenet-lite", n_classes=5).config
    assert build("particlenet-lite", **dataclasses.asdict(lite_cfg)).config == lite_cfg


def test_unknown_model():
    with pytest.raises(ConfigError, match=r"unknown model 'particle_net'.*particlenet-lite"):
        build("particle_net")


def test_unknown_option_names_key_and_lists_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown option 'kk'.*did you mean 'k'.*conv_params"):
        build("particlenet", kk=16)
    with pytest.raises(ConfigError, match=r"'phi_size'.*phi_sizes, f_sizes"):
        build("pfn", phi_size=(10,))
    with pytest.raises(ConfigError, match="'name'"):
        build("particlenet", name="x")  # internal field, not an option
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("particlenet", {"k": 0}, "'k' must be an integer >= 1"),
        ("particlenet", {"k": "16"}, "'k'"),
        ("particlenet", {"k": True}, "'k'"),
        ("particlenet", {"conv_params": [64, 64]}, "'conv_params'"),
        ("particlenet", {"conv_params": []}, "'conv_params'"),
        ("particlenet", {"fc_params": [[256]]}, "'fc_params'"),
        ("particlenet", {"fc_params": [[256, 1.5]]}, "'fc_params'"),
        ("particlenet", {"fusion": "yes"}, "'fusion'"),
        ("pfn", {"dropout": -0.1}, "'dropout'"),
        ("pfn", {"phi_sizes": "100"}, "'phi_sizes'"),
        ("event-gnn", {"aggr": "median"}, "'aggr' must be one of 'mean', 'max', 'sum'"),
        ("event-gnn", {"graph": "radius"}, "'graph'"),
    ],
)
def test_invalid_values(name, options, match):
    with pytest.raises(ConfigError, match=match):
        build(name, **options)


def test_layer_rule_no_upstream_imports():
    """hepml.models imports neither hepml.io, hepml.reco nor hepml.graphs."""
    import ast
    from pathlib import Path

    import hepml.models

    for path in Path(hepml.models.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for mod in names:
                top = mod.split(".")[0]
                # sklearn: the classifier of the substructure baseline (baseline.py)
                assert top in {
                    "__future__",
                    "torch",
                    "torch_geometric",
                    "numpy",
                    "hepml",
                    "sklearn",
                } or (
                    top
                    in {"collections", "dataclasses", "difflib", "numbers", "typing", "warnings"}
                ), (
                    path.name,
                    mod,
                )
                if top == "hepml":
                    assert mod in {"hepml.errors"} or mod.startswith("hepml.models"), (
                        path.name,
                        mod,
                    )
