"""Checkpoints: one file holds everything to resume, evaluate or export a model.

A checkpoint is a plain dict saved with ``torch.save`` and read back with
``torch.load(..., weights_only=True)`` (tensors, numbers, strings, lists, dicts:
no pickled code runs on load). It is written to a temporary name and renamed,
so a run killed mid-write leaves the previous checkpoint intact.

Keys: ``format`` (``"hepml-checkpoint"``), ``version``, ``kind`` (``"torch"`` or
``"bdt"``), ``model_name``, ``model_config``, ``model_state``, ``features`` (the
per-particle or per-jet inputs, in order), ``standardizer``, ``config`` (the
training config as a dict), ``epoch`` (epochs completed), ``history``; for
resuming also ``optimizer_state``, ``scheduler_state``, ``rng``, ``early_stopping``.

Example::

    ckpt = load_checkpoint("run/best.pt")
    model = model_from_checkpoint(ckpt)
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
from typing import Any

import torch

from hepml.errors import InputError

__all__ = [
    "FORMAT",
    "checkpoint_file",
    "load_checkpoint",
    "model_from_checkpoint",
    "remove_stale_temporaries",
    "save_checkpoint",
]

FORMAT = "hepml-checkpoint"
VERSION = 1


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``state`` (tagged with the format) to ``path`` atomically."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        torch.save({"format": FORMAT, "version": VERSION, **state}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


_TEMPORARY = re.compile(r".+\.tmp-(\d+)(\.\w+)?$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Delete the half-written ``NAME.tmp-PID`` files in ``folder`` whose writer ``PID``
    is gone (a run killed while saving; the files they replace are intact). Returns
    the names removed."""
    removed = []
    if not os.path.isdir(folder):
        return removed
    for name in sorted(os.listdir(folder)):
        m = _TEMPORARY.fullmatch(name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            os.remove(os.path.join(folder, name))
            removed.append(name)
    return removed


def checkpoint_file(path: str | os.PathLike) -> str:
    """The checkpoint file that ``path`` names: itself, or for a run folder its
    ``best.pt`` (else ``checkpoint.pt``)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        for name in ("best.pt", "checkpoint.pt"):
            if os.path.exists(os.path.join(path, name)):
                return os.path.join(path, name)
        raise InputError(
            f"{path}: a folder without best.pt or checkpoint.pt; train with hepml train"
        )
    return path


def _exported_kind(path: str) -> str | None:
    """ "TorchScript" or "ONNX" for a file ``hepml export`` writes, else None."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                if any(n.endswith("/code/__torch__.py") or "/code/" in n for n in z.namelist()):
                    return "TorchScript"
            return None
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return None
    # (an ONNX ModelProto begins with field 1, ir_version, then producer_name "pytorch")
    if head[:1] == b"\x08" and b"pytorch" in head:
        return "ONNX"
    return None


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a hepml checkpoint (``weights_only=True``); a clear error for anything else.

    ``path`` may be a run folder, meaning its ``best.pt`` (else ``checkpoint.pt``)."""
    path = checkpoint_file(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such model file")
    exported = _exported_kind(path)
    if exported:
        raise InputError(
            f"{path}: a model exported by hepml export ({exported}), not a checkpoint; give "
            "the run folder or its best.pt"
        )
    try:
        with warnings.catch_warnings():
            # files pickled elsewhere (protocol != 2) warn before they are refused
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except PermissionError as exc:
        raise InputError(
            f"{path}: cannot be read ({exc.strerror}); check its permissions"
        ) from None
    except (pickle.UnpicklingError, RuntimeError, zipfile.BadZipFile, EOFError, ValueError,
            KeyError, TypeError, AttributeError, IndexError, OSError) as exc:  # fmt: skip
        # (a ROOT or text file gives IndexError from the unpickler, a truncated .pt OSError)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{path}: not a hepml checkpoint (it does not load with weights_only=True: "
            f"{first[:200]}); use a model file written by hepml train"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(
            f"{path}: a torch file but not a hepml checkpoint (no 'format': {FORMAT!r}); "
            "use a model file written by hepml train"
        )
    if int(state.get("version", 0)) > VERSION:
        raise InputError(
            f"{path}: checkpoint version {state['version']} is newer than this hepml reads "
            f"({VERSION}); upgrade hepml"
        )
    return state


def model_from_checkpoint(state: dict, device: str | torch.device = "cpu"):
    """The trained model of a checkpoint, in eval mode (a torch module, or a
    :class:`hepml.models.baseline.SubstructureBDT`)."""
    if state["kind"] == "bdt":
        from hepml.models.baseline import BDTConfig, SubstructureBDT

        return SubstructureBDT(BDTConfig(**state["model_config"])).load_state_dict(
            state["model_state"]
        )
    from hepml.models import build

    model = build(state["model_name"], **state["model_config"])
    model.load_state_dict(state["model_state"])
    return model.to(device).eval()
