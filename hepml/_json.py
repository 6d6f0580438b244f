"""Strict JSON for hepml's reports: no ``NaN``/``Infinity`` tokens, which Python
writes by default but strict readers (``jq``, JavaScript, most other languages)
reject."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["strict"]


def strict(x: Any) -> Any:
    """``x`` with every non-finite float replaced: NaN by ``None``, ±inf by ``"inf"``
    / ``"-inf"`` (dicts, lists and tuples walked; numpy scalars taken as numbers)."""
    if isinstance(x, dict):
        return {k: strict(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [strict(v) for v in x]
    if hasattr(x, "item") and getattr(x, "ndim", None) == 0:  # a numpy scalar
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x
