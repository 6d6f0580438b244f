"""Typed training configuration, loaded from YAML and validated before any data is read.

A config file (every key optional except ``data.files``)::

    data:
      files: [top_jets.parquet, qcd_jets.parquet]   # rows from `hepml reconstruct`
      features: null          # per-particle fields (null: all 13 of hepml.reco.FEATURE_NAMES)
      split: [0.6, 0.2, 0.2]  # train / validation / test fractions, fixed by split_seed
      split_seed: 0
      max_jets: null          # keep at most this many jets per file (first ones)
      streaming: false        # true: stream the files (larger than memory) through a
      shuffle_buffer: 16384   #   shuffle buffer of this many jets, standardisation fitted on
      stats_jets: 100000      #   stats_jets training jets drawn from all files, DataLoader workers
      workers: 0
      augment: none           # reflect: mirror each training jet in Δη and Δφ with random
                              #   signs, drawn from (seed, epoch) (jet graphs only)
    model:
      name: particlenet-lite  # hepml.models.list_models(), or substructure-bdt
      k: 7                    # any option of that model
    optimizer: {name: adamw, lr: 0.001, weight_decay: 0.0001}
    schedule: {name: cosine}  # none | cosine | step (step_size, gamma) | onecycle
    epochs: 10
    batch_size: 256
    seed: 0
    device: auto              # auto (CUDA if available) | cpu | cuda | cuda:1
    precision: auto           # auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16
    class_weights: none       # none | balanced
    precise_bn_batches: 50    # recompute BatchNorm statistics on this many training batches
                              # after each epoch (0: keep the running averages)
    early_stopping: {patience: null, monitor: val_loss}
    output: run               # folder for checkpoints, history and plots

An unknown key, a value of the wrong type or an unknown model name raises
:class:`hepml.errors.ConfigError` naming the key (``optimizer.lr``) and the
file. Example::

    cfg = load_config("train.yaml", overrides={"epochs": 3})
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from hepml._yaml import load_yaml
from hepml.errors import ConfigError

__all__ = [
    "DataConfig",
    "EarlyStoppingConfig",
    "OptimizerConfig",
    "ScheduleConfig",
    "TrainConfig",
    "config_from_dict",
    "load_config",
]

BDT_MODELS = ("substructure-bdt", "event-bdt")

#: keys that only the networks read (the BDT baselines fit in one go on their own
#: per-jet features): a key, or a whole section when it ends with a dot
NETWORK_ONLY_KEYS = ("epochs", "batch_size", "precision", "class_weights", "precise_bn_batches",
                     "optimizer.", "schedule.", "early_stopping.", "data.features",
                     "data.augment", "data.streaming", "data.shuffle_buffer", "data.stats_jets",
                     "data.workers")  # fmt: skip


@dataclass
class DataConfig:
    files: list[str] = field(default_factory=list)
    features: list[str] | None = None
    split: list[float] = field(default_factory=lambda: [0.6, 0.2, 0.2])
    split_seed: int = 0
    max_jets: int | None = None
    streaming: bool = False
    shuffle_buffer: int = 16384
    stats_jets: int = 100000
    workers: int = 0
    augment: str = "none"


@dataclass
class OptimizerConfig:
    name: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9


@dataclass
class ScheduleConfig:
    name: str = "cosine"
    step_size: int = 5
    gamma: float = 0.5


@dataclass
class EarlyStoppingConfig:
    patience: int | None = None
    monitor: str = "val_loss"


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: dict[str, Any] = field(default_factory=lambda: {"name": "particlenet-lite"})
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    epochs: int = 10
    batch_size: int = 256
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    class_weights: str = "none"
    precise_bn_batches: int = 50
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    output: str = "run"

    @property
    def model_name(self) -> str:
        return str(self.model["name"])

    @property
    def model_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.model.items() if k != "name"}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_CHOICES = {
    "data.augment": ("none", "reflect"),
    "optimizer.name": ("adam", "adamw", "sgd"),
    "schedule.name": ("none", "cosine", "step", "onecycle"),
    "precision": ("auto", "fp32", "bf16"),
    "class_weights": ("none", "balanced"),
    "early_stopping.monitor": ("val_loss", "val_auc", "val_rej30"),
}


_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def _type_ok(value: Any, tp: Any) -> tuple[bool, Any]:
    """Whether ``value`` fits the annotation ``tp``; returns the (normalised) value."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            ok, v = _type_ok(value, arg)
            if ok:
                return True, v
        return False, value
    if tp is type(None):
        return value is None, value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            # YAML 1.1 (PyYAML) reads 3e-3 (no dot) as a string: take it as the number
            return True, float(value)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if tp is str:
        return isinstance(value, str), value
    if origin is list:
        if not isinstance(value, list | tuple):
            return False, value
        (arg,) = typing.get_args(tp)
        out = []
        for v in value:
            ok, nv = _type_ok(v, arg)
            if not ok:
                return False, value
            out.append(nv)
        return True, out
    if origin is dict:
        return isinstance(value, dict), value
    return True, value


def _type_name(tp: Any) -> str:
    return str(tp).replace("typing.", "").replace("<class '", "").replace("'>", "")


def _build(cls, data: Any, where: str, source: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {where or 'the config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{source}: unknown key {path!r}{hint}; valid keys: {', '.join(names)}"
            )
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value, path, source)
            continue
        ok, value = _type_ok(value, tp)
        if not ok:
            raise ConfigError(f"{source}: {path!r} must be {_type_name(tp)}, got {value!r}")
        if path in _CHOICES and value not in _CHOICES[path]:
            raise ConfigError(
                f"{source}: {path!r} must be one of {', '.join(_CHOICES[path])}, got {value!r}"
            )
        kwargs[key] = value
    return cls(**kwargs)


def _check(cfg: TrainConfig, source: str) -> None:
    from hepml.models import default_config

    def bad(key: str, what: str) -> ConfigError:
        return ConfigError(f"{source}: {key!r} {what}")

    if cfg.precise_bn_batches < 0:
        raise bad("precise_bn_batches", f"must be >= 0, got {cfg.precise_bn_batches}")
    for key in ("epochs", "batch_size"):
        if getattr(cfg, key) < 1:
            raise bad(key, f"must be >= 1, got {getattr(cfg, key)}")
    if not 0 < cfg.optimizer.lr < math.inf:  # (NaN too)
        raise bad("optimizer.lr", f"must be a finite number > 0, got {cfg.optimizer.lr}")
    for key, value in (("seed", cfg.seed), ("data.split_seed", cfg.data.split_seed),
                       ("optimizer.weight_decay", cfg.optimizer.weight_decay),
                       ("optimizer.momentum", cfg.optimizer.momentum)):  # fmt: skip
        if not 0 <= value < math.inf:
            raise bad(key, f"must be a finite number >= 0, got {value}")
    if cfg.schedule.step_size < 1:
        raise bad("schedule.step_size", f"must be >= 1 (epochs), got {cfg.schedule.step_size}")
    if cfg.schedule.gamma <= 0:
        raise bad("schedule.gamma", f"must be > 0, got {cfg.schedule.gamma}")
    if cfg.data.features is not None and not cfg.data.features:
        raise bad("data.features", "is empty: name the inputs, or leave it out for all")
    if cfg.data.features is not None and len(set(cfg.data.features)) < len(cfg.data.features):
        twice = sorted({f for f in cfg.data.features if cfg.data.features.count(f) > 1})
        raise bad("data.features", f"names {twice} more than once")
    split = cfg.data.split
    if len(split) != 3 or min(split) < 0 or split[0] <= 0 or abs(sum(split) - 1) > 1e-6:
        raise bad("data.split", f"must be 3 fractions (train, val, test) summing to 1, got {split}")
    if cfg.data.streaming and cfg.data.max_jets is not None:
        raise bad("data.max_jets", "cannot be combined with data.streaming")
    for key in ("shuffle_buffer", "stats_jets"):
        if getattr(cfg.data, key) < 1:
            raise bad(f"data.{key}", f"must be >= 1, got {getattr(cfg.data, key)}")
    feats = cfg.data.features
    if cfg.data.augment == "reflect" and feats is not None and not {"deta", "dphi"} <= set(feats):
        raise bad("data.augment", "reflect needs deta and dphi in data.features")
    if cfg.data.workers < 0:
        raise bad("data.workers", f"must be >= 0, got {cfg.data.workers}")
    if cfg.data.max_jets is not None and cfg.data.max_jets < 1:
        raise bad("data.max_jets", f"must be >= 1, got {cfg.data.max_jets}")
    if cfg.early_stopping.patience is not None and cfg.early_stopping.patience < 1:
        raise bad("early_stopping.patience", f"must be >= 1, got {cfg.early_stopping.patience}")
    dev = cfg.device
    if not (dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit())):
        raise bad("device", f"must be auto, cpu, cuda or cuda:N, got {dev!r}")
    if "name" not in cfg.model:
        raise bad("model.name", "is missing (e.g. particlenet-lite)")
    if cfg.model_name in BDT_MODELS:
        from hepml.models.baseline import BDTConfig

        _build(BDTConfig, cfg.model_options, "model", source)
        return
    try:
        options = dict(cfg.model_options)
        options.setdefault("input_dims", 1)  # filled in from the data later
        default_config(cfg.model_name, **options)
    except ConfigError as exc:
        extra = ""
        if "unknown model" in str(exc):  # (the registry holds the networks only)
            extra = f", and the baselines {', '.join(BDT_MODELS)}"
        raise ConfigError(f"{source}: model: {exc}{extra}") from None


def config_from_dict(data: dict[str, Any], source: str = "config") -> TrainConfig:
    """A validated :class:`TrainConfig` from a plain mapping (as read from YAML).

    A ``model`` mapping without ``name`` sets options of the default model."""
    data = dict(data or {})
    if isinstance(data.get("model"), dict) and "name" not in data["model"]:
        data["model"] = {"name": TrainConfig().model_name, **data["model"]}
    cfg = _build(TrainConfig, data, "", source)
    _check(cfg, source)
    return cfg


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(
    path: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """Read ``path`` (YAML, ``safe_load``), apply ``overrides`` (nested mappings merge),
    validate, and return the :class:`TrainConfig`."""
    data: dict[str, Any] = {}
    source = "command line"
    if path is not None:
        source = str(path)
        data = load_yaml(path, "config file") or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a training config must be a mapping of keys")
    return config_from_dict(_merge(data, overrides or {}), source)
