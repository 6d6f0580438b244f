"""Checks shared by the model configs: each raises :class:`hepml.errors.ConfigError`
naming the model, the option and the value, and normalises YAML lists to tuples."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from hepml.errors import ConfigError

__all__ = ["channels", "choice", "fc_layers", "positive_int", "probability"]


def positive_int(model: str, key: str, value: Any) -> int:
    """``value`` as an int ≥ 1 (numpy integers too; bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{model}: option {key!r} must be an integer >= 1, got {value!r}")
    return int(value)


def probability(model: str, key: str, value: Any) -> float:
    """``value`` as a float in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigError(f"{model}: option {key!r} must be a number in [0, 1), got {value!r}")
    return float(value)


def choice(model: str, key: str, value: Any, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(
            f"{model}: option {key!r} must be one of {', '.join(map(repr, allowed))}, got {value!r}"
        )
    return str(value)


def channels(model: str, key: str, value: Any, nested: bool = False) -> tuple:
    """A non-empty sequence of positive widths, or (``nested``) of such sequences."""
    bad = ConfigError(
        f"{model}: option {key!r} must be a non-empty list of "
        + ("non-empty lists of " if nested else "")
        + f"integers >= 1, got {value!r}"
    )
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
        raise bad
    try:
        if nested:
            return tuple(channels(model, key, v) for v in value)
        return tuple(positive_int(model, key, v) for v in value)
    except ConfigError:
        raise bad from None


def fc_layers(model: str, key: str, value: Any) -> tuple[tuple[int, float], ...]:
    """A sequence of ``(units, dropout)`` pairs (may be empty: no hidden layer)."""
    bad = ConfigError(
        f"{model}: option {key!r} must be a list of [units, dropout] pairs, e.g. "
        f"[[256, 0.1]], got {value!r}"
    )
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise bad
    out = []
    for pair in value:
        if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise bad
        try:
            out.append((positive_int(model, key, pair[0]), probability(model, key, pair[1])))
        except ConfigError:
            raise bad from None
    return tuple(out)
