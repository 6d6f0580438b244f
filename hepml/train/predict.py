"""Scores of a trained model (network or baseline) on jet rows, and evaluation on a split.

Example::

    ckpt = load_checkpoint("run/best.pt")
    scores = predict_rows(ckpt, load_rows("top_jets.parquet"))        # P(signal) per jet
    result = evaluate_checkpoint(ckpt, split="test")                   # same split as training
    result.metrics    # {'auc': ..., 'accuracy': ..., 'rej30': ..., 'rej50': ...}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import awkward as ak
import numpy as np
import torch

from hepml.errors import InputError
from hepml.train.checkpoint import model_from_checkpoint
from hepml.train.data import SPLITS, load_jet_rows, split_indices, split_keys
from hepml.train.loop import autocast_dtype, predict_batches, resolve_device
from hepml.train.metrics import binary_metrics

__all__ = ["EvalResult", "evaluate_checkpoint", "predict_rows"]


def predict_rows(
    ckpt: dict,
    rows: ak.Array,
    device: str = "auto",
    batch_size: int = 1024,
    model=None,
) -> np.ndarray:
    """Signal score (probability of the last class) of each jet row, in row order."""
    _check_kind(ckpt, rows)
    if model is None:
        model = model_from_checkpoint(ckpt, resolve_device(device))
    if ckpt["kind"] == "bdt":
        from hepml.train.bdt import substructure_features

        return model.predict(substructure_features(rows, ckpt["features"]))
    from hepml.graphs.jets import Standardizer
    from hepml.train.data import graphs_of

    dev = next(model.parameters()).device
    data = graphs_of(rows, ckpt["features"])
    std = Standardizer.from_state_dict(ckpt["standardizer"])
    amp = autocast_dtype(ckpt["config"].get("precision", "auto"), dev)
    batches = (
        data.batch(torch.arange(lo, min(lo + batch_size, len(data))), std)
        for lo in range(0, len(data), batch_size)
    )
    out = predict_batches(model, batches, dev, amp)
    return np.ascontiguousarray(out["scores"][:, -1], dtype=np.float64)


@dataclass
class EvalResult:
    """Scores and metrics of one model on one split."""

    name: str
    y: np.ndarray
    score: np.ndarray
    weight: np.ndarray
    metrics: dict[str, float] = field(default_factory=dict)
    #: metrics (and plots) use the rows' event weights, see :func:`class_normalised`
    weighted: bool = False
    #: which rows were scored (files, entries, jet indices; not their order): models
    #: compared on different rows have results of different samples
    rows_id: str = ""

    @property
    def metric_weight(self) -> np.ndarray | None:
        """The weights the metrics use: ``None`` (every jet counts once), or with
        ``weighted`` the rows' weights scaled so that each class sums to its count."""
        return class_normalised(self.y, self.weight) if self.weighted else None


def class_normalised(y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``weight`` scaled per class to sum to the class's number of rows: efficiencies,
    the ROC curve and rejections are those of the weighted spectra, while the accuracy
    keeps the classes' balance of the evaluated set (the raw weights of two samples,
    e.g. cross-section over events, would let one class outweigh the other by orders
    of magnitude)."""
    w = np.array(weight, dtype=np.float64)
    for c in np.unique(y):
        mine = y == c
        w[mine] *= mine.sum() / w[mine].sum()
    return w


def _check_kind(ckpt: dict, rows: ak.Array) -> None:
    """Jet taggers score jet rows, event models event rows: said plainly, not as a
    missing feature deep inside."""
    name = ckpt["model_name"]
    jets, events = "part" in rows.fields, "objects" in rows.fields
    if name.startswith("event") and jets and not events:
        raise InputError(
            f"{name} scores event rows (hepml reconstruct --level events); these are jet rows"
        )
    if not name.startswith("event") and events and not jets:
        raise InputError(
            f"{name} is a jet tagger: it scores jet rows (hepml reconstruct, --level jets); "
            "these are event rows (--level events)"
        )


def _check_independent(add: Sequence[str | os.PathLike], used: Sequence[str | os.PathLike]):
    """``add`` files must be none of the split files: their training jets would count."""
    seen = {os.path.realpath(f): str(f) for f in used}
    for f in add:
        if not os.path.exists(f):
            raise InputError(f"{f}: no such file (--add takes jet rows from `hepml reconstruct`)")
        if os.path.realpath(f) in seen:
            raise InputError(
                f"{f} is one of the split files ({seen[os.path.realpath(f)]}): its training "
                "jets would be scored as test jets; --add takes independent samples only"
            )
    if len({os.path.realpath(f) for f in add}) < len(add):
        raise InputError(f"a file is given twice in {[str(f) for f in add]}")


def evaluate_checkpoint(
    ckpt: dict,
    split: str = "test",
    files: Sequence[str | os.PathLike] | None = None,
    name: str | None = None,
    device: str = "auto",
    add: Sequence[str | os.PathLike] | None = None,
    weighted: bool = False,
) -> EvalResult:
    """Metrics of ``ckpt`` on ``split`` of its training files (or of ``files``, split
    the same way; ``split="all"`` takes every jet).

    ``weighted``: the metrics count each jet with its row's event ``weight`` (for
    pT-hat-biased samples, whose weights undo the bias), normalised per class by
    :func:`class_normalised`. Weights must be finite and non-negative, with a positive
    sum in each class.

    ``add``: more jet files whose every jet joins the evaluated set, unsplit, e.g. an
    independent background sample that measures a high rejection better. They must
    not be split files (a file the model trained on would put training jets in).
    """
    if split not in (*SPLITS, "all"):
        raise InputError(f"unknown split {split!r}; use one of {', '.join(SPLITS)} or all")
    data_cfg = ckpt["config"]["data"]
    trained_on = list(data_cfg["files"])
    given = bool(files)
    files = list(files) if given else trained_on
    if add:
        _check_independent(add, [*files, *trained_on])
    keys = (
        split_keys(files, trained_on, ckpt.get("data_fingerprints"), split)
        if given
        else list(range(len(files)))
    )
    if given:  # (every jet of them; each file keeps its training split, in any order)
        rows, sample = load_jet_rows(files, None, keys)
    else:
        missing = [f for f in files if not os.path.exists(f)]
        if missing:
            raise InputError(
                f"{missing[0]}: the model's training file is not there (the checkpoint "
                "records where it was); give the jet files with --data"
            )
        rows, sample = load_jet_rows(files, data_cfg.get("max_jets"))
    lookup = np.zeros(max(keys) + 1, dtype=np.int64)
    lookup[keys] = np.arange(len(keys))
    origin = lookup[sample]  # each row's position in files (then add)
    if split != "all":
        idx = split_indices(rows, sample, data_cfg["split"], data_cfg["split_seed"])[split]
        rows, origin = rows[idx], origin[idx]
    if add:
        extra = []
        for f in add:
            more, _ = load_jet_rows([f])
            missing = sorted(set(rows.fields) - set(more.fields))
            if missing:
                raise InputError(
                    f"{f}: its rows lack {', '.join(missing)}, which {files[0]} has; --add "
                    "takes rows written by the same `hepml reconstruct` level (jets or events)"
                )
            extra.append(more[rows.fields])
            origin = np.concatenate([origin, np.full(len(more), len(files) + len(extra) - 1)])
        rows = ak.concatenate([rows[rows.fields], *extra])
    if len(rows) == 0:
        raise InputError(f"the {split} split of {files} has no jets")
    y = ak.to_numpy(rows.label).astype(np.int64)
    if "weight" in rows.fields:
        weight = ak.to_numpy(rows.weight).astype(np.float64)
    elif weighted:
        raise InputError(f"--weighted: the rows of {files} have no weight column")
    else:
        weight = np.ones(len(rows))
    if weighted:  # (before any scoring)
        _check_weights(y, weight, rows, [*map(str, files), *map(str, add or ())], origin)
    score = predict_rows(ckpt, rows, device)
    result = EvalResult(name or ckpt["model_name"], y, score, weight, weighted=weighted,
                        rows_id=rows_fingerprint(rows, origin, [*files, *(add or ())]))  # fmt: skip
    if len(np.unique(y)) == 2:
        result.metrics = binary_metrics(y, score, result.metric_weight)
    return result


def rows_fingerprint(rows: ak.Array, origin: np.ndarray, files: Sequence) -> str:
    """A digest of the set of rows: each row's file (by real path), generator file
    index, entry and jet index, sorted, so the same rows given in another order, or
    their files in another order or through links, digest the same."""
    import hashlib

    paths = [os.path.realpath(f) for f in files]
    rank = np.argsort(np.argsort(paths, kind="stable"), kind="stable")
    keys = [rank[origin].astype(np.int64)]
    for f in ("file_index", "entry", "jet_index"):
        if f in rows.fields:
            keys.append(ak.to_numpy(rows[f]).astype(np.int64))
    table = np.stack(keys, axis=1)
    table = table[np.lexsort(table.T[::-1])]
    digest = hashlib.sha1("\n".join(sorted(set(paths))).encode())
    digest.update(np.ascontiguousarray(table).tobytes())
    return digest.hexdigest()[:16]


def _check_weights(y, weight, rows: ak.Array, names: list[str], origin: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(weight) | (weight < 0))
    if len(bad):
        first = rows[int(bad[0])]
        where = f"entry {first.entry}" + (
            f", jet {first.jet_index}" if "jet_index" in rows.fields else ""
        )
        raise InputError(
            f"{names[origin[bad[0]]]}: {where} has the weight {weight[bad[0]]} ({len(bad)} "
            "row(s) of the evaluated set have a negative or non-finite weight); evaluate "
            "without --weighted, or fix the weights"
        )
    for c in np.unique(y):
        if not weight[y == c].sum() > 0:
            raise InputError(
                f"weighted metrics: the rows of label {c} in {', '.join(names)} have weights "
                "summing to 0"
            )
