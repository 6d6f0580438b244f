"""Shared helpers for the training tests: small configs over the session's jet rows."""

from __future__ import annotations

import pytest

from hepml.train import load_config


@pytest.fixture
def small_config(jet_rows, tmp_path):
    """A config factory: the session's top and QCD jets, a tiny network, CPU, fast."""

    def make(model="particlenet-lite", **overrides):
        options = {"particlenet-lite": {"k": 4, "conv_params": [[8, 8], [16, 16]],
                                        "fc_params": [[16, 0.1]]},
                   "pfn": {"phi_sizes": [16, 16], "f_sizes": [16]}}.get(model, {})  # fmt: skip
        base = {
            "data": {"files": [str(jet_rows["top"]), str(jet_rows["qcd"])]},
            "model": {"name": model, **options},
            "epochs": 2,
            "batch_size": 16,
            "device": "cpu",
            "output": str(tmp_path / model),
        }
        for key, value in overrides.items():
            if isinstance(value, dict):
                base.setdefault(key, {}).update(value)
            else:
                base[key] = value
        return load_config(overrides=base)

    return make
