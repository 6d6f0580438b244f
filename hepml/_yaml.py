"""Reading a user's YAML file with one-line errors (the file, and what is wrong)."""

from __future__ import annotations

import os
from typing import Any

from hepml.errors import ConfigError


def load_yaml(path: str | os.PathLike, what: str = "YAML file") -> Any:
    """``yaml.safe_load`` of ``path``; a missing file, a folder or bad YAML is a
    :class:`ConfigError` that names the file (``what`` says what it should hold)."""
    import yaml

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such {what}; check the path")
    if os.path.isdir(path):
        raise ConfigError(f"{path}: is a folder, not a {what}")
    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"{path}: not valid YAML ({first})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read as a {what} ({err})") from None
