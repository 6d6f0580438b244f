"""Checks of the flat buffers a kernel is given (content arrays and ``offsets``).

A kernel reads ``content[offsets[i]:offsets[i+1]]`` without bounds checks, so
offsets that point past the content, or content arrays of different lengths,
would read (or write) outside the buffers: every batch kernel checks them first,
in O(number of groups), and raises ``ValueError``.

Example::

    check_offsets(offsets, px.shape[0], (py.shape[0], pz.shape[0], e.shape[0]))
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["check_offsets"]


@numba.njit(cache=True)
def check_offsets(offsets: np.ndarray, n: int, lengths: tuple) -> None:
    """``offsets`` (``(n_groups + 1,)``) start at 0 or later, never decrease and end
    within ``n``, the content's length; every other content array's length in
    ``lengths`` (a tuple of ints) equals ``n``."""
    for m in lengths:
        if m != n:
            raise ValueError("the content arrays differ in length")
    if offsets.shape[0] < 1:
        raise ValueError("offsets must have at least one entry (n_groups + 1)")
    if offsets[0] < 0 or offsets[offsets.shape[0] - 1] > n:
        raise ValueError("offsets point outside the content arrays")
    for j in range(offsets.shape[0] - 1):
        if offsets[j + 1] < offsets[j]:
            raise ValueError("offsets must be non-decreasing")
