"""Distributed training: Ray Train's ``TorchTrainer`` around hepml's one training loop.

Every worker builds the same :class:`hepml.train.Trainer` from the config, with its
``rank`` and ``world_size`` set, so it trains on its own shard of the training
split (in memory: every ``world_size``-th jet of the epoch's permutation, the same
number of batches on every worker; streaming: its own files / row groups, in
lockstep since their sizes differ, see :func:`hepml.train.loop.lockstep`); the
model is wrapped in ``DistributedDataParallel`` by ``ray.train.torch.prepare_model``,
so gradients are all-reduced (gloo on CPU, NCCL on GPU). After each epoch the
workers agree on one history row (:func:`_epoch_row_of_all_ranks`: training loss
over all workers, rank 0's validation), so that ``best`` and early stopping are
decided alike, and rank 0 reports it and a ``ray.train.Checkpoint`` holding
``checkpoint.pt`` in exactly the single-process format; on a worker failure (a process, or a whole node,
lost) Ray restarts the group (``max_failures``) and every worker resumes from the
last checkpoint Ray Train registered. Every history row records ``resumed_from``, the
epoch of the checkpoint its attempt started from (0: a fresh start), and ``fit`` logs
each resume. When the run
ends its best and last checkpoints are copied to ``config.output``, so
``hepml evaluate OUTPUT`` works as for any run.

Checks before any training starts (each a :class:`hepml.errors.ConfigError`):
the cluster address answers, it has GPUs for ``use_gpu=True``, enough CPUs for the
workers, and ``storage_path`` is writable.

Example::

    history = fit(load_config("train.yaml"), num_workers=2, storage_path="runs/ray")
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable
from typing import Any

from hepml.errors import ConfigError, HepmlError, InputError
from hepml.extras import require
from hepml.io.write import check_folder
from hepml.train.config import BDT_MODELS, TrainConfig

__all__ = ["connect", "fit"]


def _probe(address: str, timeout: float = 5.0) -> None:
    """A TCP connection to ``host:port`` (or ``ray://host:port``) before Ray tries for
    minutes; ``auto`` and ``local`` are left to Ray."""
    target = address.removeprefix("ray://")
    if address in ("auto", "local") or ":" not in target:
        return
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot connect to the Ray cluster at {address!r} ({exc}); check the address "
            "(auto, ray://host:10001, host:6379) or leave it out for a local Ray"
        ) from None


def _is_loopback(address: str | None) -> bool:
    """``None`` (a new local Ray) or a ``host:port`` whose host is this machine's loopback."""
    import ipaddress

    if address is None:
        return True
    if address in ("auto", "local") or address.startswith("ray://") or ":" not in address:
        return False
    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def _loopback_kept(ray):
    """Keep ``127.0.0.1`` as given while ``ray.init`` runs.

    Ray (2.60) replaces a loopback host — in the cluster address and in
    ``_node_ip_address`` — by the machine's outward IP
    (``ray._private.services.resolve_ip_for_localhost``) unless it runs in
    single-machine mode (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read once when
    ``ray`` is imported). A cluster whose nodes listen on 127.0.0.1 only (``ray start
    --node-ip-address 127.0.0.1``, ``ray.cluster_utils.Cluster`` on loopback) is then
    never reached, and a "local Ray on loopback" listens on every interface. For a
    loopback address the cluster is on this machine by definition, so single-machine
    mode is what is meant; it is switched on for the call only."""
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    if constants is None or not hasattr(constants, "ENABLE_RAY_CLUSTER"):
        yield
        return
    before = constants.ENABLE_RAY_CLUSTER
    constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        constants.ENABLE_RAY_CLUSTER = before


def _own_addresses() -> set[str]:
    """This machine's addresses as far as it knows them without the network: its host
    name's, and the one its default route leaves by."""
    own = set()
    with contextlib.suppress(OSError):
        own |= {i[4][0] for i in socket.getaddrinfo(socket.gethostname(), None)}
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.254.254.254", 1))  # (UDP: nothing is sent)
        own.add(s.getsockname()[0])
    return own


def _host_key(host: str, own: set[str] | None = None) -> frozenset[str]:
    """A host as the addresses it resolves to; loopback and this machine's own addresses
    (a head bound to the node's IP and reached as 127.0.0.1) all read "this machine"."""
    import ipaddress

    host = host.strip("[]")
    try:
        addrs = {i[4][0].split("%")[0] for i in socket.getaddrinfo(host, None)}
    except OSError:
        return frozenset({host.lower()})
    own = _own_addresses() if own is None else own
    local = any(ipaddress.ip_address(a).is_loopback or a in own for a in addrs)
    return frozenset({"this machine"}) if local else frozenset(addrs)


def _same_cluster(ray, address: str | None) -> None:
    """This process already holds a Ray connection: the address of another cluster
    (another host or port; every head listens on 6379 by default) would silently run on
    the one it holds. A ``ray://`` address is compared by host (its port is the client
    server's, not the cluster's)."""
    if address is None or address in ("auto", "local"):
        return
    try:
        current = ray.get_runtime_context().gcs_address
    except Exception:  # (an older or client-mode Ray: nothing to compare)
        return
    if not current:
        return
    client = address.startswith("ray://")
    host, _, port = address.removeprefix("ray://").rpartition(":")
    cur_host, _, cur_port = current.rpartition(":")
    own = _own_addresses()
    same_host = bool(_host_key(host, own) & _host_key(cur_host, own))
    same = same_host and (client or port == cur_port)
    if not same:
        raise ConfigError(
            f"this process is already connected to the Ray cluster at {current}, not "
            f"{address!r}; call ray.shutdown() first to join another one"
        )


def connect(
    address: str | None = None, *, purpose: str = "distributed training", **init_kwargs: Any
):
    """Connect to (or start, ``address=None``) a Ray cluster; a clear error when the
    address does not answer. Returns the ``ray`` module.

    ``None`` starts a new local Ray on 127.0.0.1; ``auto`` joins the cluster ``ray
    start`` left on this machine; ``host:port`` (the GCS address, also what
    ``ray.cluster_utils.Cluster.address`` gives) and ``ray://host:10001`` join that one.
    A loopback ``host:port`` is used as given (see :func:`_loopback_kept`)."""
    ray = require("ray", extra="ray", purpose=purpose)
    if ray.is_initialized():
        _same_cluster(ray, address)
        return ray
    if address is not None:
        _probe(address)
    kwargs = dict(init_kwargs)
    if address is None:  # a local Ray on loopback; its dashboard serves Ray Train's state API
        kwargs.setdefault("_node_ip_address", "127.0.0.1")
        kwargs.setdefault("dashboard_host", "127.0.0.1")
    try:
        # "local": a new local Ray even when `ray start` left a cluster on this machine
        with _loopback_kept(ray) if _is_loopback(address) else contextlib.nullcontext():
            ray.init(address=address or "local", **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot connect to the Ray cluster at {address!r} ({first[:200]}); "
            "check the address (auto, ray://host:10001, host:6379) or leave it out "
            "for a local cluster"
        ) from None
    return ray


def _check_storage(path: str) -> str:
    """A local storage folder made absolute and checked writable; a URI (``s3://``,
    ``gs://``, ``file://`` ...) is Ray's to reach, given on unchanged (it became a
    local folder named ``s3:``)."""
    scheme, sep, rest = path.partition("://")
    if sep:
        if (
            not scheme
            or not (scheme[0].isalpha() and all(c.isalnum() or c in "+-." for c in scheme))
            or not rest
        ):
            raise ConfigError(f"storage path {path!r}: not a URI (scheme://...) or a folder")
        return path
    path = os.path.abspath(path)
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".hepml-write-test-{uuid.uuid4().hex}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as exc:
        raise ConfigError(
            f"storage path {path} is not writable ({exc.strerror}); give --storage-path "
            "a folder every node can write (a shared filesystem on a cluster)"
        ) from None
    return path


def _check_resources(ray, num_workers: int, use_gpu: bool, per_worker: dict) -> None:
    total = ray.cluster_resources()
    cpus = float(per_worker.get("CPU", 1))
    gpus = float(per_worker.get("GPU", 1 if use_gpu else 0))
    if use_gpu and total.get("GPU", 0) < gpus * num_workers:
        raise ConfigError(
            f"use_gpu asks for {gpus * num_workers:g} GPU(s) but the Ray cluster has "
            f"{total.get('GPU', 0):g}; drop --use-gpu or add GPU nodes"
        )
    if total.get("CPU", 0) < cpus * num_workers:
        raise ConfigError(
            f"{num_workers} worker(s) × {cpus:g} CPU need {cpus * num_workers:g} CPUs but the "
            f"Ray cluster has {total.get('CPU', 0):g}; use fewer workers"
        )


def _worker_loop(loop_config: dict) -> None:
    """Runs on every Ray Train worker: the single-process loop, sharded and wrapped."""
    import ray.train
    import ray.train.torch

    from hepml.train.checkpoint import load_checkpoint, save_checkpoint
    from hepml.train.config import config_from_dict
    from hepml.train.loop import Trainer, write_history

    cfg = config_from_dict(loop_config["config"], "ray worker")
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    trainer = Trainer(cfg)
    trainer.device = ray.train.torch.get_device()
    from hepml.train.loop import autocast_dtype

    trainer.amp_dtype = autocast_dtype(cfg.precision, trainer.device)
    trainer.rank, trainer.world_size = rank, world
    trainer.prepare_data()
    trainer.build()
    checkpoint = ray.train.get_checkpoint()
    best_bytes = None  # rank 0: the best epoch's checkpoint, carried in every checkpoint
    if checkpoint is not None:  # a restart after a worker failure, or a rerun of the run
        with checkpoint.as_directory() as d:
            state = load_checkpoint(os.path.join(d, "checkpoint.pt"))
            run = f"Ray run {loop_config.get('run_name', '')!r}"
            new_run = (
                "use another output folder (-o) for a new run, or another "
                "--run-name / --storage-path if you gave them"
            )
            trainer._check_resumable(state, run, new_run)
            before = state.get("world_size", world)
            if before != world:  # (the schedule's length and the shards depend on it)
                raise ConfigError(
                    f"{run}: was trained on {before} worker(s), not {world}; rerun with "
                    f"--num-workers {before} to continue it, or {new_run}"
                )
            trainer.load_state(state)
            best_path = os.path.join(d, "best.pt")
            if os.path.exists(best_path):
                with open(best_path, "rb") as f:
                    best_bytes = f.read()
    resumed_from = trainer.epoch  # 0 on a fresh start
    trainer.model = ray.train.torch.prepare_model(trainer.model)
    trainer.sync_row = _epoch_row_of_all_ranks
    while not trainer.done():
        row = trainer.train_one_epoch()
        row["workers"] = world
        row["resumed_from"] = resumed_from  # in every row: history.csv has one header
        if rank == 0:
            with tempfile.TemporaryDirectory() as tmp:
                state = trainer.state()
                state["world_size"] = world  # (a rerun on another number is refused)
                save_checkpoint(state, os.path.join(tmp, "checkpoint.pt"))
                if row.get("best") or best_bytes is None:
                    with open(os.path.join(tmp, "checkpoint.pt"), "rb") as f:
                        best_bytes = f.read()
                with open(os.path.join(tmp, "best.pt"), "wb") as f:
                    f.write(best_bytes)
                write_history(trainer.history, tmp)
                ray.train.report(
                    {k: v for k, v in row.items() if isinstance(v, int | float | bool)},
                    checkpoint=ray.train.Checkpoint.from_directory(tmp),
                )
        else:
            ray.train.report({k: v for k, v in row.items() if isinstance(v, int | float | bool)})


def default_run_name(config: TrainConfig) -> str:
    """``hepml-MODEL-OUTPUT-HASH``: one Ray run per output folder, so two trainings that
    share a storage path never continue each other's run (they did, by model name)."""
    import hashlib

    out = os.path.abspath(config.output)
    digest = hashlib.sha1(out.encode()).hexdigest()[:8]
    return f"hepml-{config.model_name}-{os.path.basename(out) or 'run'}-{digest}"


def _check_output(output: str, storage: str, run_name: str) -> None:
    """A run folder that holds another training's checkpoint is not overwritten: only
    a rerun of the same Ray run (found in the storage path) may write it again."""
    if not os.path.exists(os.path.join(output, "checkpoint.pt")):
        return
    if "://" in storage or _run_exists(storage, run_name):
        return  # (a rerun of this Ray run; remote storage: Ray checks the run itself)
    raise ConfigError(
        f"{output}: holds a previous run's checkpoint that is not Ray run {run_name!r} in "
        f"{storage}; choose another output folder (or the --run-name and --storage-path "
        "of the run that wrote it, to continue it)"
    )


def _run_exists(storage: str, run_name: str) -> bool:
    return "://" not in storage and os.path.isdir(os.path.join(storage, run_name))


def _rows_in_output(output: str) -> int | None:
    """Epochs in the history that an earlier call left in ``output`` (None: none)."""
    try:
        with open(os.path.join(output, "history.json")) as f:
            return len(json.load(f))
    except (OSError, ValueError, TypeError):
        return None


def _epoch_row_of_all_ranks(row: dict) -> dict:
    """One history row that every rank holds alike: the training loss and accuracy
    averaged over all ranks' jets, ``jets_per_s`` the whole group's rate and ``seconds``
    the slowest rank's (``trained_on`` stays per worker); the validation metrics are
    rank 0's (its model is the one saved, and the ranks' BatchNorm statistics,
    recalibrated on their own shards, differ). Early
    stopping and ``best`` are then decided alike on every rank: on their own rows the
    ranks disagreed, one stopped and the others waited for it forever."""
    import torch.distributed as dist

    rows: list = [None] * dist.get_world_size()
    dist.all_gather_object(rows, row)
    n = sum(r["trained_on"] for r in rows)
    out = dict(rows[0])
    if n > 0:
        out["loss"] = sum(r["loss"] * r["trained_on"] for r in rows) / n
        out["accuracy"] = sum(r["accuracy"] * r["trained_on"] for r in rows) / n
    out["jets_per_s"] = n / max(max(r["seconds"] for r in rows), 1e-9)
    out["seconds"] = max(r["seconds"] for r in rows)
    return out


def _user_error(err: BaseException) -> HepmlError | None:
    """The hepml error (bad config or input) a worker raised, out of Ray's wrappers, so
    that the command line prints its one line instead of Ray's traceback."""
    todo, seen = [err], set()
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        cause = getattr(e, "cause", None)  # (Ray's RayTaskError(InputError) is itself a
        if isinstance(cause, HepmlError):  # HepmlError whose text is the remote traceback)
            return cause
        if isinstance(e, HepmlError) and not isinstance(cause, BaseException):
            return e
        # (Ray Train: WorkerGroupError.worker_failures by rank; RayTaskError.cause)
        todo += list((getattr(e, "worker_failures", None) or {}).values())
        todo += [getattr(e, "cause", None), e.__cause__, e.__context__]
        todo = [t for t in todo if t is None or isinstance(t, BaseException)]
    return None


def _absolute_paths(cfg: dict) -> dict:
    """Relative data files (that exist here) and output folder made absolute: Ray Train
    workers run in their own working folder, where a relative path means nothing."""
    data = dict(cfg.get("data") or {})
    data["files"] = [os.path.abspath(f) if os.path.exists(f) else f for f in data.get("files", [])]
    out = cfg.get("output")
    return {**cfg, "data": data, "output": os.path.abspath(out) if out else out}


def fit(
    config: TrainConfig,
    *,
    num_workers: int = 2,
    use_gpu: bool = False,
    resources_per_worker: dict | None = None,
    storage_path: str | None = None,
    max_failures: int = 0,
    address: str | None = None,
    name: str | None = None,
    log: Callable[[str], None] | None = None,
) -> list[dict]:
    """Train ``config``'s network on ``num_workers`` Ray Train workers; returns the
    history (one row per epoch, from rank 0) and leaves ``best.pt``/``checkpoint.pt``
    in ``config.output``. Rerunning with the same ``name`` and ``storage_path`` after
    an interruption continues from the last checkpoint."""
    log = log or (lambda msg: None)
    require("ray", extra="ray", purpose="distributed training")  # (before any folder is made)
    if config.model_name in BDT_MODELS:
        raise ConfigError(f"{config.model_name} trains in one process; drop --ray")
    if num_workers < 1:
        raise ConfigError(f"--num-workers must be >= 1, got {num_workers}")
    if max_failures < 0:
        raise ConfigError(f"--max-failures must be >= 0, got {max_failures}")
    missing = [f for f in config.data.files if "://" not in f and not os.path.exists(f)]
    if missing and address in (None, "local"):  # (a remote cluster may see other files)
        raise InputError(f"{missing[0]}: no such file (data.files); check the path")
    if address is not None:
        _probe(address)  # before anything is written
    check_folder(config.output)  # (a file there, or no permission: said before Ray starts)
    storage = _check_storage(storage_path or os.path.join(config.output, "ray"))
    run_name = name or default_run_name(config)
    _check_output(config.output, storage, run_name)  # (before Ray's start-up)
    rows_before = _rows_in_output(config.output) if _run_exists(storage, run_name) else None
    legacy = f"hepml-{config.model_name}"  # (the default name before 2026-12-01)
    if name is None and "://" not in storage and os.path.isdir(os.path.join(storage, legacy)):
        log(f"note: {storage} holds Ray run {legacy!r} (an earlier hepml's default name); "
            f"this run is {run_name!r}; give --run-name {legacy} to continue that one")  # fmt: skip
    ray = connect(address)
    per_worker = dict(resources_per_worker or {"CPU": 1})
    if use_gpu:
        per_worker.setdefault("GPU", 1)
    _check_resources(ray, num_workers, use_gpu, per_worker)
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    device = "cuda" if use_gpu else "cpu"
    cfg_dict = _absolute_paths({**config.to_dict(), "device": device})
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={"config": cfg_dict, "run_name": run_name},
        scaling_config=ScalingConfig(
            num_workers=num_workers, use_gpu=use_gpu, resources_per_worker=per_worker
        ),
        run_config=RunConfig(
            name=run_name,
            storage_path=storage,
            failure_config=FailureConfig(max_failures=max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
        ),
    )
    log(f"Ray Train: {num_workers} worker(s) ({'GPU' if use_gpu else 'CPU'}), run {run_name!r} "
        f"in {storage}")  # fmt: skip
    try:
        result = trainer.fit()
    except Exception as err:
        raise (_user_error(err) or err) from None
    if result.error is not None:
        raise _user_error(result.error) or result.error
    if result.checkpoint is None:
        raise ConfigError(f"Ray run {run_name!r} finished without a checkpoint")
    from hepml.train.checkpoint import load_checkpoint, save_checkpoint

    os.makedirs(config.output, exist_ok=True)
    with result.checkpoint.as_directory() as d:
        state = load_checkpoint(os.path.join(d, "checkpoint.pt"))
        save_checkpoint(state, os.path.join(config.output, "checkpoint.pt"))
        shutil.copy(os.path.join(d, "history.json"), os.path.join(config.output, "history.json"))
        shutil.copy(os.path.join(d, "history.csv"), os.path.join(config.output, "history.csv"))
        # (the best epoch's state travels in every checkpoint: Ray keeps only the last two)
        best_path = os.path.join(d, "best.pt")
        best_state = load_checkpoint(best_path) if os.path.exists(best_path) else state
    save_checkpoint(best_state, os.path.join(config.output, "best.pt"))
    history = list(state["history"])
    if rows_before is not None and len(history) == rows_before:
        log(f"Ray run {run_name!r} had already finished ({rows_before} epoch(s)); nothing was "
            "trained, its model is returned as it was; give another --run-name (or output "
            "folder) to train anew")  # fmt: skip
    for epoch in sorted({r.get("resumed_from", 0) for r in history} - {0}):
        log(f"Ray Train: resumed from the checkpoint of epoch {epoch} (a worker failed, or "
            f"the run was restarted); epochs {epoch + 1}+ ran after it")  # fmt: skip
    return history
