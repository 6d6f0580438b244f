"""Between awkward arrays and the kernels' flat buffers (content + offsets)."""

from __future__ import annotations

import awkward as ak
import numpy as np

from hepml.errors import InputError

__all__ = [
    "as_float64",
    "counts_to_offsets",
    "event_index",
    "flat",
    "jagged_record",
    "offsets_of",
    "unflatten2",
]


def _list_offsets(array: ak.Array) -> np.ndarray | None:
    """The offsets of a plain ``ListOffsetArray`` layout (as the kernels' outputs and
    hepml's readers give), or None for any other layout."""
    layout = array.layout if isinstance(array, ak.Array) else None
    if not isinstance(layout, ak.contents.ListOffsetArray):
        return None
    off = layout.offsets.data
    return off if isinstance(off, np.ndarray) else None


def offsets_of(array: ak.Array) -> np.ndarray:
    """int64 offsets ``(n + 1,)`` of a jagged array's first list dimension."""
    off = _list_offsets(array)
    if off is not None:  # (fast path: no awkward call, which costs ~0.1 ms per array)
        return (off - off[0]).astype(np.int64)
    counts = ak.to_numpy(ak.num(array, axis=1)).astype(np.int64)
    return counts_to_offsets(counts)


def counts_to_offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def event_index(offsets: np.ndarray) -> np.ndarray:
    """For each content element, the index of the list (event, jet) that holds it."""
    return np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))


def as_float64(x) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x, dtype=np.float64))


def flat(array: ak.Array, field: str, dtype=np.float64) -> np.ndarray:
    """A field (or vector property such as ``pt``) of a jagged record, flattened."""
    off = _list_offsets(array) if field in array.fields else None
    if off is not None and isinstance(array.layout.content, ak.contents.RecordArray):
        column = array.layout.content.content(field)
        if isinstance(column, ak.contents.NumpyArray) and isinstance(column.data, np.ndarray):
            data = column.data
            if data.ndim == 1 and len(data) >= off[-1]:  # (fast path, as offsets_of)
                return np.ascontiguousarray(data[off[0] : off[-1]].astype(dtype))
    values = getattr(array, field) if field not in array.fields else array[field]
    _refuse_missing(values, field)
    if values.ndim > 2:
        raise InputError(
            f"{field!r} has {values.ndim - 1} levels of lists ({values.type}); hepml.reco "
            "takes one list per event or per jet: flatten the outer one first, "
            "e.g. ak.flatten(constituents, axis=1)"
        )
    return np.ascontiguousarray(ak.to_numpy(ak.flatten(values, axis=None)).astype(dtype))


def _refuse_missing(values: ak.Array, field: str) -> None:
    """An :class:`InputError` naming the first event with a missing value (None): the
    kernels read flat buffers, where a None would leave a hole that shifts every later
    particle. Option types without a None (nullable parquet columns) pass."""
    kind = str(values.type)
    if "?" not in kind and "option" not in kind:
        return
    none = ak.to_numpy(ak.is_none(values, axis=0)).astype(bool)
    if values.ndim > 1 and not none.any():
        inner = ak.fill_none(ak.any(ak.is_none(values, axis=1), axis=1), False)
        none = ak.to_numpy(inner).astype(bool)
    if none.any():
        raise InputError(
            f"{field!r} has missing values (None) in {int(none.sum())} event(s), the first "
            f"event {int(np.flatnonzero(none)[0])}; hepml.reco needs every particle's "
            "values: drop the missing ones with ak.drop_none(...) or fill them with "
            "ak.fill_none(...) first"
        )


def jagged_record(
    columns: dict[str, np.ndarray], offsets: np.ndarray, name: str | None = None
) -> ak.Array:
    """A ``var * record`` array from flat columns and offsets, without copying."""
    n = int(offsets[-1])
    contents = []
    for v in columns.values():
        if isinstance(v, ak.contents.Content):
            contents.append(v)
        elif isinstance(v, ak.Array):
            contents.append(ak.to_layout(v))
        else:
            contents.append(ak.contents.NumpyArray(np.ascontiguousarray(v)))
    params = {"__record__": name} if name else None
    record = ak.contents.RecordArray(contents, list(columns), length=n, parameters=params)
    layout = ak.contents.ListOffsetArray(ak.index.Index64(offsets.astype(np.int64)), record)
    return ak.Array(layout)


def unflatten2(content: ak.Array | np.ndarray, inner: np.ndarray, outer: np.ndarray) -> ak.Array:
    """Two levels of lists: ``inner`` counts per middle item, ``outer`` per event."""
    return ak.unflatten(ak.unflatten(content, inner), outer)
