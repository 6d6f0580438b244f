"""Write awkward arrays to ROOT (uproot) or parquet, atomically.

The output goes to a temporary name beside the target and is renamed when it is
complete, so a crash never leaves a half-written file under the final name.

Example::

    write_root("out.root", {"events": events_dict, "runinfo": runinfo_dict})
    write_parquet("jets.parquet", jets)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from hepml.errors import ConfigError, InputError

__all__ = [
    "atomic_path",
    "check_folder",
    "prepare_folder",
    "refuse_overwrite",
    "write",
    "write_parquet",
    "write_root",
]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block succeeds."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{path}: output folder {parent} does not exist; create it first")
    if path.is_dir():  # (checked first: the work would be done, then the rename refused)
        raise InputError(f"{path}: is a folder; give a file name for the output")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    except OSError as err:  # (read-only or full disk, /proc, no permission)
        raise InputError(
            f"{path}: cannot write in {parent} ({err.strerror or type(err).__name__}); "
            "choose another output folder"
        ) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def refuse_overwrite(output: str | os.PathLike, inputs: Sequence) -> None:
    """A one-line error when ``output`` is one of the ``inputs`` (the same file)."""
    if not os.path.exists(output):
        return
    for path in inputs:
        if os.path.exists(path) and os.path.samefile(output, path):
            raise ConfigError(
                f"{output} is also an input ({path}): writing it would destroy the input; "
                "choose another output name"
            )


def check_folder(folder: str | os.PathLike, flag: str = "") -> None:
    """A one-line error now, before any long work, when ``folder`` is a file or cannot
    be made (its nearest existing parent is a file or not writable); nothing is made."""
    out = Path(folder)
    name = f"{flag} {out}" if flag else str(out)
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"{name}: is a file; give a folder for the outputs")
        return
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{name}: cannot make this folder ({parent} is a file); choose another")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{name}: cannot make this folder ({parent} is not writable); choose another"
        )


def prepare_folder(
    folder: str | os.PathLike, files: Sequence[str] = (), inputs: Sequence = (), flag: str = ""
) -> Path:
    """An output folder, made now (before any long work), with a one-line error when it
    cannot be, is a file, or when one of ``files`` (relative to it) would overwrite one
    of ``inputs``."""
    out = Path(folder)
    name = f"{flag} {out}" if flag else str(out)  # (flag: the command-line option, if any)
    check_folder(out, flag)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"{name}: cannot make this folder ({err.strerror or err}); choose another"
        ) from None
    for rel in files:
        refuse_overwrite(out / rel, inputs)
    return out


def _branch_dict(arrays: Mapping[str, object] | ak.Array) -> dict[str, object]:
    if isinstance(arrays, ak.Array):
        return {f: arrays[f] for f in arrays.fields}
    return dict(arrays)


def write_root(
    path: str | os.PathLike,
    trees: Mapping[str, Mapping[str, object] | ak.Array | Iterator],
    *,
    compression: str = "zstd",
    level: int = 5,
) -> Path:
    """Write one or more trees to a ROOT file atomically.

    ``trees`` maps a tree name to a dict of branches (numpy arrays, jagged
    awkward arrays, or records of jagged arrays, written as ``name_field``
    branches with an ``nname`` counter), or to an iterator of such dicts,
    appended chunk by chunk (for outputs larger than memory).
    """
    comp = {"zstd": uproot.ZSTD, "zlib": uproot.ZLIB, "lz4": uproot.LZ4, "lzma": uproot.LZMA}
    if compression not in comp:
        raise InputError(f"unknown compression {compression!r}; use one of {sorted(comp)}")
    with atomic_path(path) as tmp, uproot.recreate(tmp, compression=comp[compression](level)) as f:
        for name, data in trees.items():
            chunks = [data] if isinstance(data, Mapping | ak.Array) else data
            first = True
            for chunk in chunks:
                if first:
                    # mktree writes records of jagged arrays as flat ``name_field``
                    # branches with one ``nname`` counter (what ROOT users expect)
                    f.mktree(name, _branch_dict(chunk))
                    first = False
                else:
                    f[name].extend(_branch_dict(chunk))
    return Path(path)


def write_parquet(path: str | os.PathLike, array: ak.Array | Mapping[str, object]) -> Path:
    """Write an awkward array (or dict of columns) to parquet atomically."""
    if not isinstance(array, ak.Array):
        array = ak.zip(
            {
                k: ak.Array(np.asarray(v)) if isinstance(v, np.ndarray) else v
                for k, v in array.items()
            },
            depth_limit=1,
        )
    with atomic_path(path) as tmp:
        ak.to_parquet(array, tmp)
    return Path(path)


#: hepml's event collections and the branch prefixes of its own ROOT layout (the
#: ``hepml`` schema reads ``particle_px`` with counter ``nparticle``, ``met_pt``, ...).
_ROOT_PREFIX = {"particles": "particle", "partons": "parton", "jets": "jet", "fatjets": "fatjet",
                "muons": "muon", "electrons": "electron", "photons": "photon",
                "triggers": "trigger"}  # fmt: skip


def write(path: str | os.PathLike, array: ak.Array, *, tree: str = "events") -> Path:
    """Write by extension: ``.root`` (one tree) or ``.parquet``. Events as
    :func:`hepml.io.read_events` gives them go to ROOT in hepml's own layout
    (``particle_*``, ``jet_*``, ``met_*``, ``trigger_*``), which reads back with the
    ``hepml`` schema. The reader's ``entry`` column (the entry in the file read) is not
    written: the new file numbers its entries anew; join back on ``run``/``event``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".root":
        if isinstance(array, ak.Array) and any(f in array.fields for f in (*_ROOT_PREFIX, "met")):
            array = {_ROOT_PREFIX.get(f, f): ak.without_parameters(array[f])
                     for f in array.fields if f != "entry"}  # fmt: skip
        return write_root(path, {tree: array})
    if suffix in (".parquet", ".pq"):
        return write_parquet(path, array)
    raise InputError(f"{path}: unknown output type {suffix!r}; use .root or .parquet")
