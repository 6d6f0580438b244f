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
            return yaml.load(f, Loader=_unique_key_loader())  # (a SafeLoader subclass)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({yaml_problem(err)})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read as a {what} ({err})") from None


def _unique_key_loader():
    """PyYAML's SafeLoader, except that a key given twice in one mapping is an error
    (plain YAML keeps the last one silently: a menu path or a config value defined
    twice would lose the first without a word). Keys brought in by a merge (``<<``) may
    still be overridden."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        duplicate = key in seen
                        seen.add(key)
                    except TypeError:  # unhashable: PyYAML's own error follows
                        continue
                    if duplicate:
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            f"found the key {key!r} twice",
                            key_node.start_mark,
                        )
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def yaml_problem(err: Exception) -> str:
    """PyYAML's error on one line: what is wrong and where (``line 2, column 9``)."""
    problem = getattr(err, "problem", None) or getattr(err, "context", None)
    if not problem:
        lines = str(err).splitlines()
        return lines[0] if lines else type(err).__name__
    mark = getattr(err, "problem_mark", None)
    return problem + (f" at line {mark.line + 1}, column {mark.column + 1}" if mark else "")
