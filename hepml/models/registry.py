"""Models by name: :func:`build` a network from its name and keyword options.

=====================  ===========================  =====================================
name                   model                        config (defaults)
=====================  ===========================  =====================================
``particlenet``        :class:`ParticleNet`         :class:`ParticleNetConfig`
``particlenet-lite``   :class:`ParticleNet`         :func:`particlenet_lite_config`
``pfn``                :class:`PFN`                 :class:`PFNConfig`
``event-gnn``          :class:`EventGNN`            :class:`EventGNNConfig`
=====================  ===========================  =====================================

Options override the named model's defaults; a mistyped name or option raises
:class:`hepml.errors.ConfigError` listing the valid ones. The config used is kept
as ``model.config`` (a dataclass; ``dataclasses.asdict`` gives what to save with a
checkpoint and pass back to :func:`build`).

Example::

    model = build("particlenet-lite", input_dims=13, n_classes=2)
    cfg = default_config("pfn")            # PFNConfig(...)
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from typing import Any

from torch import nn

from hepml.errors import ConfigError
from hepml.models.event_gnn import EventGNN, EventGNNConfig
from hepml.models.particlenet import ParticleNet, ParticleNetConfig, particlenet_lite_config
from hepml.models.pfn import PFN, PFNConfig

__all__ = ["build", "default_config", "list_models"]

# name -> (config factory taking keyword overrides, model class)
_MODELS: dict[str, tuple[Callable[..., Any], type[nn.Module]]] = {
    "particlenet": (ParticleNetConfig, ParticleNet),
    "particlenet-lite": (particlenet_lite_config, ParticleNet),
    "pfn": (PFNConfig, PFN),
    "event-gnn": (EventGNNConfig, EventGNN),
}
_HIDDEN_FIELDS = {"name"}  # set by the registry, not an option


def list_models() -> list[str]:
    """The names :func:`build` accepts, sorted."""
    return sorted(_MODELS)


def _lookup(name: str) -> tuple[Callable[..., Any], type[nn.Module]]:
    if name not in _MODELS:
        close = difflib.get_close_matches(str(name), _MODELS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown model {name!r}{hint}; available models: {', '.join(list_models())}"
        )
    return _MODELS[name]


def _options(name: str) -> list[str]:
    factory, _ = _lookup(name)
    cfg = factory()
    return [f.name for f in dataclasses.fields(cfg) if f.name not in _HIDDEN_FIELDS]


def default_config(name: str, /, **config: Any):
    """The config dataclass of model ``name`` with ``config`` overrides (validated)."""
    factory, _ = _lookup(name)
    valid = _options(name)
    if config.get("name") == name:  # from dataclasses.asdict(model.config)
        config = {k: v for k, v in config.items() if k != "name"}
    for key in config:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"model {name!r}: unknown option {key!r}{hint}; valid options: {', '.join(valid)}"
            )
    return factory(**config)


def build(name: str, /, **config: Any) -> nn.Module:
    """Model ``name`` (see :func:`list_models`) with its defaults overridden by ``config``.

    Raises :class:`hepml.errors.ConfigError` for an unknown name, an unknown option or
    an invalid value.
    """
    _, cls = _lookup(name)
    return cls(default_config(name, **config))
