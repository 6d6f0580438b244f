"""Training, evaluation, prediction and export of hepml's taggers.

* :mod:`~hepml.train.config` — the typed YAML config (:func:`load_config`).
* :mod:`~hepml.train.loop` — the one training loop (:class:`Trainer`), used by the
  CLI, notebooks and Ray.
* :mod:`~hepml.train.bdt` — the substructure baseline through the same config.
* :mod:`~hepml.train.checkpoint` — checkpoints that load with ``weights_only=True``.
* :mod:`~hepml.train.metrics` — AUC, accuracy, background rejection at fixed
  signal efficiency.
* :mod:`~hepml.train.predict` — scores on jet rows, evaluation on a split.
* :mod:`~hepml.train.export` — TorchScript and ONNX.

Example::

    from hepml.train import load_config, Trainer
    cfg = load_config(overrides={"data": {"files": ["top.parquet", "qcd.parquet"]},
                                 "model": {"name": "particlenet-lite"}, "epochs": 5})
    history = Trainer(cfg).fit()
"""

from __future__ import annotations

from hepml.errors import ConfigError
from hepml.train.bdt import fit_bdt
from hepml.train.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from hepml.train.config import TrainConfig, config_from_dict, load_config
from hepml.train.loop import Trainer, predict_batches, train_epoch
from hepml.train.metrics import auc, binary_metrics, rejection_at, roc_curve
from hepml.train.predict import EvalResult, evaluate_checkpoint, predict_rows

__all__ = [
    "EvalResult",
    "TrainConfig",
    "Trainer",
    "auc",
    "binary_metrics",
    "config_from_dict",
    "evaluate_checkpoint",
    "fit",
    "fit_bdt",
    "load_checkpoint",
    "load_config",
    "model_from_checkpoint",
    "predict_batches",
    "predict_rows",
    "rejection_at",
    "roc_curve",
    "save_checkpoint",
    "train_epoch",
]


def fit(config: TrainConfig, resume: bool = False, **kwargs) -> list[dict]:
    """Train ``config``'s model (network or baseline); returns the per-epoch history."""
    from hepml.train.config import BDT_MODELS

    if config.model_name in BDT_MODELS:
        if resume:
            raise ConfigError(
                f"{config.model_name} is fitted in one go: there is nothing to resume; "
                "train it without --resume"
            )
        return fit_bdt(config, log=kwargs.get("log"))
    return Trainer(config, **kwargs).fit(resume=resume)
