"""The one training loop: every front end (``hepml train``, notebooks, Ray) uses it.

:class:`Trainer` holds a model, its optimiser and schedule, and the data; an
epoch is :func:`train_epoch` over shuffled batches, then :func:`predict_batches`
on the validation split and the metrics of :mod:`hepml.train.metrics`. After
every epoch it writes ``checkpoint.pt`` (everything needed to resume: model,
optimiser, schedule, RNG states, epoch, config, standardisation, history,
early-stopping state), ``best.pt`` when the monitored metric improves, and
``history.json``/``history.csv`` — all atomically.

Resuming (``Trainer(cfg).fit(resume=True)``) continues from ``checkpoint.pt``
exactly: the batch order of epoch ``e`` is drawn from ``(seed, e)`` and the torch
RNG (dropout) is restored, so an interrupted run ends where an uninterrupted one
with the same seed would (tested with SIGKILL).

Example::

    cfg = load_config("train.yaml")
    history = Trainer(cfg).fit()          # list of per-epoch metric dicts
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import awkward as ak
import numpy as np
import torch
from torch import nn

from hepml._json import strict
from hepml.errors import ConfigError, InputError
from hepml.io.write import check_folder
from hepml.train.checkpoint import load_checkpoint, remove_stale_temporaries, save_checkpoint
from hepml.train.config import BDT_MODELS, TrainConfig
from hepml.train.data import absolute_paths, reconstruction_settings, training_fingerprints
from hepml.train.metrics import binary_metrics

__all__ = [
    "Trainer",
    "autocast_dtype",
    "predict_batches",
    "recalibrate_batchnorm",
    "resolve_device",
    "train_epoch",
    "write_history",
]


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; a clear error if CUDA is asked for
    and absent."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r}: use auto, cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for but CUDA is not available; use device: cpu")
    return dev


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` (``auto``: bf16 on CUDA, none on CPU)."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    return torch.bfloat16


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _batchnorms(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _one_value_per_channel(batch) -> bool:
    """A batch of one node (the last partial batch of an epoch can be one jet of one
    particle), on which BatchNorm layers in training mode raise: hepml's BatchNorm
    layers normalise over nodes and edges, so one graph of several nodes trains."""
    x = getattr(batch, "x", None)
    return x is not None and x.shape[0] < 2


def train_epoch(
    model: nn.Module,
    batches: Iterable,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    device: torch.device,
    scheduler: Any = None,
    amp_dtype: torch.dtype | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """One pass of training over ``batches`` (PyG ``Batch`` objects with ``y``);
    steps ``scheduler`` after every batch. Returns mean loss, accuracy, jets, seconds."""
    model.train()
    bns = _batchnorms(model)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    n = 0
    start = time.perf_counter()
    for batch in batches:
        batch = batch.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        tiny = bns and _one_value_per_channel(batch)
        if tiny:  # (BatchNorm cannot train on one value: its running statistics serve)
            for m in bns:
                m.eval()
        with _autocast(device, amp_dtype):
            logits = _forward(model, batch)
        if tiny:
            for m in bns:
                m.train()
        loss = loss_fn(logits.float(), batch.y)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        size = batch.y.numel()
        total_loss += loss.detach() * size
        correct += (logits.detach().argmax(1) == batch.y).sum()
        n += size
        if on_batch is not None:
            on_batch(size)
    seconds = time.perf_counter() - start
    return {
        "loss": float(total_loss) / max(n, 1),
        "accuracy": float(correct) / max(n, 1),
        "jets": n,
        "seconds": seconds,
    }


def _forward(model: nn.Module, batch) -> torch.Tensor:
    inner = getattr(model, "module", model)  # DistributedDataParallel
    if inner is model:
        return model.forward_data(batch)
    return model(*_forward_args(inner, batch))


def _forward_args(model: nn.Module, batch) -> tuple:
    from hepml.models import PFN, EventGNN, ParticleNet

    if isinstance(model, ParticleNet):
        return (batch.x, batch.pos, batch.batch, batch.num_graphs)
    if isinstance(model, PFN):
        return (batch.x, batch.batch, batch.num_graphs)
    if isinstance(model, EventGNN):
        return (batch.x, batch.batch, getattr(batch, "edge_index", None), batch.num_graphs)
    raise TypeError(f"no forward adapter for {type(model).__name__}")


def lockstep(batches: Iterable, device: torch.device) -> Iterator:
    """``batches`` while every rank of the process group still has one: before each
    batch the ranks agree (an all-reduce of one flag) whether all can go on. So every
    rank takes the same number of optimiser and schedule steps (the learning rates
    stay equal; a schedule laid out for the even share is never overrun) and the
    gradient all-reduces always pair up; the longer shards' last batches of the epoch
    are left out (the order of units changes each epoch)."""
    import torch.distributed as dist

    it = iter(batches)
    flag = torch.ones(1, dtype=torch.int32, device=device)
    while True:
        batch = next(it, None)
        flag.fill_(0 if batch is None else 1)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        if int(flag.item()) == 0:
            return
        yield batch


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module, batches: Iterable, device: torch.device, amp_dtype=None
) -> int:
    """Recompute every BatchNorm's running statistics as the plain average over
    ``batches`` ("precise BN", Wu & Johnson, arXiv:2105.07576).

    The exponential running averages lag behind weights that move quickly (high
    learning rates), and with the dynamic kNN that lag changes the graphs
    themselves: on top tagging the validation accuracy of ParticleNet-Lite rose from
    0.87 to 0.92 after recalibration. Only the BatchNorm layers run in training mode
    (dropout stays off, so no random numbers are drawn). Returns the batches used.
    """
    bns = _batchnorms(model)
    if not bns:
        return 0
    model.eval()
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
        m.train()
    n = 0
    try:
        for batch in batches:
            if _one_value_per_channel(batch):
                continue  # (no statistics in one value)
            batch = batch.to(device, non_blocking=True)
            with _autocast(device, amp_dtype):
                _forward(model, batch)
            n += 1
    finally:
        for m, momentum in zip(bns, saved):
            m.momentum = momentum
            m.eval()
    return n


@torch.no_grad()
def predict_batches(
    model: nn.Module,
    batches: Iterable,
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Softmax scores ``(n, C)``, labels, weights and ids of all ``batches``, in order."""
    model.eval()
    out: dict[str, list] = {"scores": [], "y": [], "weight": [], "ids": [], "logits": []}
    for batch in batches:
        batch = batch.to(device, non_blocking=True)
        with _autocast(device, amp_dtype):
            logits = _forward(model, batch).float()
        out["logits"].append(logits.cpu())
        out["scores"].append(torch.softmax(logits, 1).cpu())
        out["y"].append(batch.y.cpu())
        out["weight"].append(batch.weight.cpu())
        out["ids"].append(batch.ids.cpu())
        if on_batch is not None:
            on_batch(batch.y.numel())
    if not out["y"]:
        return {"scores": np.zeros((0, 2)), "logits": np.zeros((0, 2)), "y": np.zeros(0, np.int64),
                "weight": np.zeros(0), "ids": np.zeros((0, 3), np.int64)}  # fmt: skip
    return {k: torch.cat(v).numpy() for k, v in out.items()}


def write_history(history: list[dict], out: str) -> None:
    """``history.json`` (strict JSON: an infinite rejection is ``"inf"``, a missing
    value ``null``) and ``history.csv`` in ``out``, atomically."""
    text = json.dumps(strict(history), indent=1, allow_nan=False)
    _atomic_text(os.path.join(out, "history.json"), text)
    buf = io.StringIO()
    if history:
        writer = csv.DictWriter(buf, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    _atomic_text(os.path.join(out, "history.csv"), buf.getvalue())


def _atomic_text(path: str, text: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _check_labelled(path, labels: np.ndarray) -> None:
    """Training needs labels 0, 1, ...: rows written with ``--label none`` (-1) are refused."""
    if len(labels) and labels.min() < 0:
        n = int((labels < 0).sum())
        raise InputError(
            f"{path}: {n} of its {len(labels)} rows have no label (-1: written with "
            "'hepml reconstruct --label none'); training needs labelled rows: write them with "
            "--label top or --label qcd (or auto for hepml generator files)"
        )


class Trainer:
    """Train the model of a :class:`TrainConfig` (see the module docstring).

    ``on_epoch(row)`` is called with each epoch's metrics; ``progress(description,
    total)`` is a context manager factory yielding ``advance(n)`` (the CLI passes a
    rich progress bar; the default shows nothing); ``log(msg)`` receives notes.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        on_epoch: Callable[[dict], None] | None = None,
        progress: Callable[[str, int], Any] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if config.model_name in BDT_MODELS:
            raise ConfigError(
                f"model {config.model_name!r} is not a neural network; use hepml.train.fit_bdt"
            )
        # (absolute: the checkpoint's files stay valid from any working directory)
        config.data.files = absolute_paths(config.data.files)
        self.config = config
        #: what identifies each training file moved or copied (see split_keys)
        self.fingerprints = training_fingerprints(config.data.files)
        #: how the training rows were reconstructed (the trigger's ML path builds alike)
        self.reco = reconstruction_settings(config.data.files)
        self.on_epoch = on_epoch or (lambda row: None)
        self.progress = progress or _no_progress
        self.log = log or (lambda msg: None)
        self.device = resolve_device(config.device)
        self.amp_dtype = autocast_dtype(config.precision, self.device)
        self.out = config.output
        self.history: list[dict] = []
        self.epoch = 0
        self._data_ready = False
        self.rank, self.world_size = 0, 1  # set by a distributed front end
        #: a distributed front end's agreement on each epoch's row (see train_one_epoch)
        self.sync_row: Callable[[dict], dict] | None = None

    # ---- data -------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Read the jets, split them, fit the standardisation on the training split
        (streaming: read only labels and ids, fit on ``data.stats_jets`` training jets
        drawn from every file, see :func:`hepml.graphs.stream.stats_sample`)."""
        from hepml.graphs.jets import Standardizer
        from hepml.train.data import graphs_of, load_jet_rows, split_indices

        cfg = self.config
        if cfg.data.streaming:
            self._prepare_stream()
            return
        rows, sample = load_jet_rows(cfg.data.files, cfg.data.max_jets)
        y = ak.to_numpy(rows.label)
        for i, path in enumerate(cfg.data.files):
            _check_labelled(path, y[sample == i])
        self.data = graphs_of(rows, cfg.data.features)
        self.features = list(self.data.features)
        self._check_augment()
        self.split = split_indices(rows, sample, cfg.data.split, cfg.data.split_seed)
        self.split_sizes = {k: len(v) for k, v in self.split.items()}
        train_labels = self.data.y[torch.from_numpy(self.split["train"])]
        val_labels = self.data.y[torch.from_numpy(self.split["val"])]
        self._check_labels(train_labels, int(self.data.y.max()), len(rows), val_labels)
        self.standardizer = Standardizer.fit(self.data.x[self.data.node_mask(self.split["train"])])
        self._data_ready = True

    def _check_augment(self) -> None:
        if self.config.data.augment == "reflect":
            missing = [f for f in ("deta", "dphi") if f not in self.features]
            if missing:
                raise ConfigError(
                    f"data.augment: reflect mirrors the particle features deta and dphi, "
                    f"but the training features {self.features} lack {missing}; "
                    "use jet rows with those features or data.augment: none"
                )

    def _check_labels(
        self,
        train_labels: torch.Tensor,
        max_label: int,
        n_rows: int,
        val_labels: torch.Tensor | None = None,
    ) -> None:
        cfg = self.config
        for name in ("train", "val"):
            if self.split_sizes[name] == 0:
                raise InputError(
                    f"the {name} split is empty ({n_rows} rows in {cfg.data.files}); "
                    "give more data or change data.split"
                )
        self.n_classes = max(2, max_label + 1)
        if len(torch.unique(train_labels)) < 2:
            raise InputError(
                f"the training split of {cfg.data.files} has only label "
                f"{int(train_labels[0])}; give files of both classes (e.g. top and QCD jets)"
            )
        monitor = cfg.early_stopping.monitor
        if monitor != "val_loss" and val_labels is not None:
            have = sorted(int(v) for v in torch.unique(val_labels))
            if self.n_classes != 2 or len(have) < 2:
                why = (f"{self.n_classes} classes" if self.n_classes != 2
                       else f"a validation split of label {have[0]} only")  # fmt: skip
                raise ConfigError(
                    f"early_stopping.monitor {monitor} is a two-class metric, never computed "
                    f"with {why} ({cfg.data.files}): every epoch would count as no gain; "
                    "monitor val_loss, or give more data or another data.split"
                )
        counts = torch.bincount(train_labels, minlength=self.n_classes).float()
        self.class_weights = (
            (counts.sum() / (self.n_classes * counts.clamp_min(1))).to(self.device)
            if cfg.class_weights == "balanced"
            else None
        )

    def _prepare_stream(self) -> None:
        from hepml.graphs import EVENT_NODE_FEATURES
        from hepml.graphs.jets import Standardizer, read_columns, row_kind
        from hepml.graphs.stream import stats_sample
        from hepml.reco import FEATURE_NAMES
        from hepml.train.data import split_indices

        cfg = self.config
        kinds = {row_kind(p) for p in cfg.data.files}
        if len(kinds) > 1:
            raise InputError(f"{cfg.data.files}: mixes jet rows and event rows; train on one kind")
        default = EVENT_NODE_FEATURES if kinds == {"events"} else FEATURE_NAMES
        self.features = list(cfg.data.features or default)
        self._check_augment()  # (before any jet is read)
        self._check_shards()
        labels, val, n_rows = [], [], 0
        self.split_sizes = dict.fromkeys(("train", "val", "test"), 0)
        for i, path in enumerate(cfg.data.files):  # labels and ids only
            rows = read_columns(path, ["label", "file_index", "entry"])
            _check_labelled(path, ak.to_numpy(rows.label))
            idx = split_indices(rows, np.full(len(rows), i), cfg.data.split, cfg.data.split_seed)
            for name, v in idx.items():
                self.split_sizes[name] += len(v)
            labels.append(torch.from_numpy(np.asarray(rows.label[idx["train"]], dtype=np.int64)))
            val.append(torch.from_numpy(np.asarray(rows.label[idx["val"]], dtype=np.int64)))
            n_rows += len(rows)
        train_labels = torch.cat(labels)
        self._check_labels(train_labels, int(train_labels.max()), n_rows, torch.cat(val))
        self.standardizer = None
        split = ("train", cfg.data.split, cfg.data.split_seed)
        x = stats_sample(cfg.data.files, self.features, cfg.data.stats_jets, split, cfg.seed)
        self.standardizer = Standardizer.fit(x)
        self._data_ready = True

    def _check_shards(self) -> None:
        """Streaming over several ranks or loader workers: each shard must get at least
        one unit (a parquet row group, a ROOT entry range); a rank with none would stop
        every rank's epoch at once (they go in lockstep) and train nothing."""
        from hepml.graphs.stream import work_units

        cfg = self.config
        need = self.world_size * max(cfg.data.workers, 1)
        if need == 1:
            return
        have = len(work_units(cfg.data.files))
        if have < need:
            raise ConfigError(
                f"{cfg.data.files}: streaming reads whole parquet row groups (ROOT: ranges "
                f"of 8192 jets), and these files hold {have}, fewer than the {need} shards "
                f"({self.world_size} worker(s) x {max(cfg.data.workers, 1)} loader "
                "process(es)); write the rows in smaller row groups, use fewer workers, or "
                "turn data.streaming off"
            )

    def batches(self, split: str, epoch: int | None = None, stream: int = 0) -> Iterator:
        """Batches of ``split``; shuffled from ``(seed, epoch, stream)`` when ``epoch`` is
        given (``stream`` 0: training, 1: BatchNorm recalibration). Training batches
        are mirrored (``data.augment: reflect``) with signs drawn from ``(seed, epoch,
        rank)``, so a resumed run sees the same jets as an uninterrupted one."""
        cfg = self.config
        batches = (
            self._stream(split, epoch, stream)
            if cfg.data.streaming
            else self._memory(split, epoch, stream)
        )
        if cfg.data.augment == "reflect" and split == "train" and epoch is not None and not stream:
            batches = self._reflected(batches, epoch)
        yield from batches

    def _reflected(self, batches: Iterable, epoch: int) -> Iterator:
        from hepml.graphs.jets import reflect

        rng = np.random.default_rng([self.config.seed, epoch, 2, self.rank])
        columns = (self.features.index("deta"), self.features.index("dphi"))
        for batch in batches:
            signs = torch.from_numpy(rng.choice([-1.0, 1.0], size=(batch.num_graphs, 2)))
            yield reflect(batch, signs, columns, self.standardizer)

    def _memory(self, split: str, epoch: int | None, stream: int) -> Iterator:
        cfg = self.config
        idx = self.split[split]
        if epoch is not None:
            key = [cfg.seed, epoch] + ([stream] if stream else [])
            idx = idx[np.random.default_rng(key).permutation(len(idx))]
            if split == "train" and self.world_size > 1:
                # this worker's shard: the same number of jets (and batches) on every rank
                idx = idx[self.rank :: self.world_size][: len(idx) // self.world_size]
        bs = cfg.batch_size
        for lo in range(0, len(idx), bs):
            yield self.data.batch(torch.from_numpy(idx[lo : lo + bs]), self.standardizer)

    def _stream(self, split: str, epoch: int | None, stream: int) -> Iterator:
        from hepml.graphs.stream import StreamingJetGraphs

        cfg = self.config
        sharded = split == "train" and epoch is not None
        ds = StreamingJetGraphs(
            cfg.data.files,
            features=self.features,
            batch_size=cfg.batch_size,
            shuffle_buffer=cfg.data.shuffle_buffer,
            seed=cfg.seed * 1000 + stream,
            standardizer=self.standardizer,
            shuffle=epoch is not None,
            # only training epochs are sharded over ranks; validation and the
            # standardisation pass read the whole split on every rank
            rank=self.rank if sharded else 0,
            world_size=self.world_size if sharded else 1,
            split=(split, cfg.data.split, cfg.data.split_seed),
        )
        ds.set_epoch(epoch or 0)
        if cfg.data.workers > 0:
            it = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=cfg.data.workers)
        else:
            it = ds
        yield from it

    # ---- model ------------------------------------------------------------------------
    def build(self) -> None:
        """Model, optimiser, schedule and loss, seeded from ``config.seed``."""
        from hepml.models import build

        cfg = self.config
        torch.manual_seed(cfg.seed)
        options = {"input_dims": len(self.features), "n_classes": self.n_classes}
        for key, value in options.items():  # (set from the data; another value cannot run)
            given = cfg.model_options.get(key, value)
            if given != value:
                what = f"{value} input features" if key == "input_dims" else f"{value} classes"
                raise ConfigError(
                    f"model.{key}={given}: the data have {what}; leave model.{key} out "
                    "(it is taken from the data)"
                )
        options.update(cfg.model_options)
        self.model = build(cfg.model_name, **options).to(self.device)
        o = cfg.optimizer
        params = self.model.parameters()
        if o.name == "adam":
            self.optimizer = torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
        elif o.name == "adamw":
            self.optimizer = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
        else:
            self.optimizer = torch.optim.SGD(
                params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay
            )
        steps = max(1, math.ceil(self.split_sizes["train"] / (cfg.batch_size * self.world_size)))
        if cfg.data.streaming and cfg.data.workers > 0:
            steps += cfg.data.workers  # (each loader worker ends on its own partial batch)
        total = steps * cfg.epochs
        s = cfg.schedule
        if s.name == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, total)
        elif s.name == "onecycle":
            self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
                self.optimizer, max_lr=o.lr, total_steps=total
            )
        elif s.name == "step":
            self.scheduler = torch.optim.lr_scheduler.StepLR(
                self.optimizer, s.step_size * steps, s.gamma
            )
        else:
            self.scheduler = None
        self.loss_fn = nn.CrossEntropyLoss(weight=self.class_weights)
        self.best_value: float | None = None
        self._best_auc: float | None = None  # (the tie-break of infinite val_rej30)
        self.bad_epochs = 0

    # ---- checkpoints ------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The checkpoint dict of the current state (see :mod:`hepml.train.checkpoint`)."""
        model = getattr(self.model, "module", self.model)
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "kind": "torch",
            "model_name": self.config.model_name,
            "model_config": dataclasses.asdict(model.config),
            "model_state": model.state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "scheduler_state": self.scheduler.state_dict() if self.scheduler else None,
            "rng": rng,
            "epoch": self.epoch,
            "config": self.config.to_dict(),
            "features": self.features,
            "standardizer": self.standardizer.state_dict(),
            "history": self.history,
            "early_stopping": {
                "best": self.best_value,
                "bad_epochs": self.bad_epochs,
                "monitor": self.config.early_stopping.monitor,
            },
            "data_fingerprints": self.fingerprints,
            "reco": self.reco,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        model = getattr(self.model, "module", self.model)
        model.load_state_dict(state["model_state"])
        self.optimizer.load_state_dict(state["optimizer_state"])
        if self.scheduler is not None and state["scheduler_state"] is not None:
            self.scheduler.load_state_dict(state["scheduler_state"])
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])
        self.best_value = state["early_stopping"]["best"]
        self.bad_epochs = int(state["early_stopping"]["bad_epochs"])
        monitor = self.config.early_stopping.monitor
        if state["early_stopping"].get("monitor") != monitor:  # (changed on resume)
            self._best_from_history(monitor)
        self._best_auc = max(
            (r["val_auc"] for r in self.history
             if r.get(monitor) == self.best_value and r.get("val_auc") is not None),
            default=None,
        )  # fmt: skip

    def _check_resumable(
        self, state: dict[str, Any], path: str, new_run: str = "use a new output"
    ) -> None:
        saved, now = state["config"], self.config.to_dict()
        for cfg in (saved, now):  # (files compared as absolute paths)
            if isinstance(cfg.get("data"), dict):
                cfg["data"] = {**cfg["data"], "files": absolute_paths(cfg["data"]["files"])}
        # (what shapes the training; epochs, device, precision, output and early stopping
        # may change)
        keys = ("data", "model", "optimizer", "schedule", "batch_size", "seed", "class_weights",
                "precise_bn_batches")  # fmt: skip
        for key in keys:
            if key in saved and key in now and saved[key] != now[key]:
                raise ConfigError(
                    f"{path}: cannot resume, the config's {key!r} differs from the checkpoint's "
                    f"({saved.get(key)!r} vs {now.get(key)!r}); use the same config or {new_run}"
                )
        name = (now.get("schedule") or {}).get("name", "none")
        if saved.get("epochs") != now.get("epochs") and name in ("cosine", "onecycle"):
            raise ConfigError(
                f"{path}: cannot resume with {now.get('epochs')} epochs: the {name} learning-rate "
                f"schedule was laid out for {saved.get('epochs')}; resume with --epochs "
                f"{saved.get('epochs')}, or train anew (schedule.name=none or step can be extended)"
            )

    # ---- the loop ---------------------------------------------------------------------
    def run_epoch(self) -> dict[str, Any]:
        """Train one epoch, validate, and return the history row (not yet saved)."""
        epoch = self.epoch + 1
        n_train = self.split_sizes["train"] // self.world_size
        batches = self.batches("train", epoch)
        if self.world_size > 1 and self.config.data.streaming:
            # streaming shards hold unequal numbers of batches: the ranks go in lockstep
            # and stop when one runs out (DDP would wait forever for its all-reduces)
            batches = lockstep(batches, self.device)
        with self.progress(f"epoch {epoch}/{self.config.epochs}", n_train) as advance:
            tr = train_epoch(
                self.model,
                batches,
                self.optimizer,
                self.loss_fn,
                self.device,
                self.scheduler,
                self.amp_dtype,
                advance,
            )
        n_bn = self.config.precise_bn_batches
        if n_bn > 0:
            batches = itertools.islice(self.batches("train", epoch, stream=1), n_bn)
            # (the bare module: DDP would sync buffers at each forward, a collective that
            # ranks with unequal numbers of batches would not all reach)
            bare = getattr(self.model, "module", self.model)
            recalibrate_batchnorm(bare, batches, self.device, self.amp_dtype)
        val = predict_batches(self.model, self.batches("val"), self.device, self.amp_dtype)
        y = torch.from_numpy(val["y"])
        val_loss = float(
            nn.functional.cross_entropy(torch.from_numpy(val["logits"]), y, reduction="mean")
        )
        row = {
            "epoch": epoch,
            "loss": tr["loss"],
            "accuracy": tr["accuracy"],
            "val_loss": val_loss,
            "lr": self.optimizer.param_groups[0]["lr"],
            "trained_on": tr["jets"],
            "jets_per_s": tr["jets"] / max(tr["seconds"], 1e-9),
            "seconds": tr["seconds"],
        }
        if self.n_classes == 2 and len(np.unique(val["y"])) == 2:
            m = binary_metrics(val["y"], val["scores"][:, 1])
            row.update({f"val_{k}": v for k, v in m.items()})
        else:
            row["val_accuracy"] = float(np.mean(val["scores"].argmax(1) == val["y"]))
        return row

    def _best_from_history(self, monitor: str) -> None:
        """Best value and epochs without gain of ``monitor`` over the history so far (a
        run resumed with another monitor compared it with the old one's best)."""
        values = [(r["epoch"], r[monitor]) for r in self.history if r.get(monitor) is not None]
        if not values:
            self.best_value, self.bad_epochs = None, 0
            return
        pick = min if monitor == "val_loss" else max
        epoch, self.best_value = pick(values, key=lambda ev: ev[1])
        self.best_value = float(self.best_value)
        self.bad_epochs = self.epoch - int(epoch)
        self.log(f"early stopping now on {monitor}: best {self.best_value:.4g} at epoch {epoch}")

    def _improved(self, row: dict) -> bool:
        key = self.config.early_stopping.monitor
        value = row.get(key)
        if value is None or np.isnan(value):  # (a NaN is no gain, and never the best)
            return False
        better = (lambda a, b: a < b) if key == "val_loss" else (lambda a, b: a > b)
        if self.best_value is None or better(value, self.best_value):
            self.best_value = float(value)
            self._best_auc = row.get("val_auc")
            return True
        # 1/eps_B is infinite while no validation background passes: then AUC decides
        if key == "val_rej30" and value == self.best_value == np.inf:
            auc, best_auc = row.get("val_auc"), self._best_auc
            if auc is not None and (best_auc is None or auc > best_auc):
                self._best_auc = auc
                return True
        return False

    def fit(self, resume: bool = False) -> list[dict]:
        """Train for ``config.epochs`` (or until early stopping); returns the history."""
        ckpt_path = os.path.join(self.out, "checkpoint.pt")
        check_folder(self.out)  # (a file there, or no permission: said before any work)
        state = None
        if resume:
            if not os.path.exists(ckpt_path):
                raise InputError(f"{ckpt_path}: nothing to resume; start without --resume")
            state = load_checkpoint(ckpt_path)
        elif os.path.exists(ckpt_path):
            raise InputError(
                f"{self.out}: holds a previous run's checkpoint; use --resume to continue it "
                "or choose another output folder"
            )
        if not self._data_ready:
            self.prepare_data()
        self.build()
        if state is not None:
            self._check_resumable(state, ckpt_path)
            self.load_state(state)
            self.log(f"resumed from {ckpt_path} after epoch {self.epoch}")
            for name in remove_stale_temporaries(self.out):
                self.log(f"removed {name}, a partial file of the interrupted run")
        os.makedirs(self.out, exist_ok=True)
        while not self.done():
            row = self.train_one_epoch()
            state = self.state()
            # best.pt before checkpoint.pt: a run killed in between repeats this epoch
            # on --resume (the same result) and so writes both again
            if row["best"] or not os.path.exists(os.path.join(self.out, "best.pt")):
                save_checkpoint(state, os.path.join(self.out, "best.pt"))
            save_checkpoint(state, ckpt_path)
            write_history(self.history, self.out)
            self.on_epoch(row)
        return self.history

    def done(self) -> bool:
        """Whether the run is over: all epochs trained, or early stopping triggered."""
        patience = self.config.early_stopping.patience
        if patience is not None and self.bad_epochs >= patience:
            if self.epoch < self.config.epochs:
                self.log(f"early stopping: {self.config.early_stopping.monitor} did not "
                         f"improve for {patience} epoch(s)")  # fmt: skip
            return True
        return self.epoch >= self.config.epochs

    def train_one_epoch(self) -> dict[str, Any]:
        """:meth:`run_epoch` plus the bookkeeping (epoch count, best, early stopping,
        history) that every front end shares; returns the history row."""
        row = self.run_epoch()
        if self.sync_row is not None:  # (every rank decides on the same row: early stopping)
            row = self.sync_row(row)
        self.epoch = row["epoch"]
        improved = self._improved(row)
        self.bad_epochs = 0 if improved else self.bad_epochs + 1
        row["best"] = improved
        self.history.append(row)
        return row


@contextlib.contextmanager
def _no_progress(description: str, total: int):
    yield lambda n=1: None
