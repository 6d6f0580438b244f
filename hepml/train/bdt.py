"""Train the substructure baseline (:mod:`hepml.models.baseline`) from a :class:`TrainConfig`.

Same data, same split and the same checkpoint format as the networks (``kind:
"bdt"``), so ``hepml evaluate`` and ``hepml predict`` treat it like any model.

Example::

    fit_bdt(load_config(overrides={"model": {"name": "substructure-bdt"},
                                   "data": {"files": ["top.parquet", "qcd.parquet"]}}))
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable

import awkward as ak
import numpy as np

from hepml.errors import InputError
from hepml.io.write import check_folder
from hepml.models.baseline import SUBSTRUCTURE_FEATURES, BDTConfig, SubstructureBDT
from hepml.train.checkpoint import save_checkpoint
from hepml.train.config import TrainConfig
from hepml.train.data import (
    absolute_paths,
    load_jet_rows,
    reconstruction_settings,
    split_indices,
    training_fingerprints,
)
from hepml.train.loop import write_history
from hepml.train.metrics import binary_metrics

__all__ = ["fit_bdt", "substructure_features"]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def substructure_features(rows: ak.Array, features=SUBSTRUCTURE_FEATURES) -> np.ndarray:
    """``(n_jets, len(features))`` float64 matrix of the baseline's inputs
    (τ ratios are 0 where the denominator is 0)."""
    cols = []
    for name in features:
        if name == "tau32":
            cols.append(_ratio(ak.to_numpy(rows.jet_tau3), ak.to_numpy(rows.jet_tau2)))
        elif name == "tau21":
            cols.append(_ratio(ak.to_numpy(rows.jet_tau2), ak.to_numpy(rows.jet_tau1)))
        elif name in rows.fields:
            cols.append(ak.to_numpy(rows[name]).astype(np.float64))
        else:
            raise InputError(
                f"jet rows have no field {name!r} for the substructure baseline; "
                f"available: tau32, tau21, {', '.join(rows.fields)}"
            )
    return np.stack(cols, axis=1) if cols else np.zeros((len(rows), 0))


def fit_bdt(config: TrainConfig, log: Callable[[str], None] | None = None) -> list[dict]:
    """Fit the baseline on the training split, validate, write ``best.pt`` and
    ``checkpoint.pt`` to ``config.output``; returns a one-row history."""
    log = log or (lambda msg: None)
    check_folder(config.output)  # (a file there, or no permission: said before any work)
    if os.path.exists(os.path.join(config.output, "checkpoint.pt")):
        raise InputError(
            f"{config.output}: holds a previous run's checkpoint; choose another output folder "
            "(or remove it to fit anew)"
        )
    config.data.files = absolute_paths(config.data.files)
    options = dict(config.model_options)
    if config.model_name == "event-bdt":
        from hepml.reco.pipeline import EVENT_FEATURES

        options.setdefault("features", list(EVENT_FEATURES))
    bdt_cfg = BDTConfig(**options)
    rows, sample = load_jet_rows(config.data.files, config.data.max_jets)
    split = split_indices(rows, sample, config.data.split, config.data.split_seed)
    X = substructure_features(rows, bdt_cfg.features)
    y = np.asarray(rows.label).astype(np.int64)
    tr, va = split["train"], split["val"]
    if len(np.unique(y[tr])) < 2:
        raise InputError(f"the training split of {config.data.files} needs both labels 0 and 1")
    start = time.perf_counter()
    model = SubstructureBDT(bdt_cfg).fit(X[tr], y[tr], seed=config.seed)
    seconds = time.perf_counter() - start
    row = {"epoch": 1, "jets_per_s": len(tr) / max(seconds, 1e-9), "seconds": seconds}
    if len(va) and len(np.unique(y[va])) == 2:
        row.update({f"val_{k}": v for k, v in binary_metrics(y[va], model.predict(X[va])).items()})
    state = {
        "kind": "bdt",
        "model_name": config.model_name,
        "model_config": dataclasses.asdict(bdt_cfg),
        "model_state": model.state_dict(),
        "features": list(bdt_cfg.features),
        "standardizer": None,
        "config": config.to_dict(),
        "epoch": 1,
        "history": [row],
        "data_fingerprints": training_fingerprints(config.data.files),
        "reco": reconstruction_settings(config.data.files),
    }
    os.makedirs(config.output, exist_ok=True)
    for name in ("checkpoint.pt", "best.pt"):
        save_checkpoint(state, os.path.join(config.output, name))
    write_history([row], config.output)
    what = "events" if config.model_name == "event-bdt" else "jets"
    log(f"trained {config.model_name} on {len(tr)} {what} in {seconds:.1f} s")
    return [row]
