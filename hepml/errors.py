"""Errors a user can act on.

Every :class:`HepmlError` carries a one-line message that says what was wrong,
where (file, tree, branch, entry range) and what to do. The command line prints
that line without a traceback and exits with a non-zero status.
"""

from __future__ import annotations

__all__ = ["ConfigError", "HepmlError", "InputError", "MissingExtraError", "Terminated"]


class HepmlError(Exception):
    """Base class of the errors hepml raises for bad input or configuration."""

    exit_code = 2


class InputError(HepmlError, ValueError):
    """An input file, tree, branch or entry range cannot be used as asked."""


class ConfigError(HepmlError, ValueError):
    """A configuration file or option is invalid."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a batch system's time limit, a pod stopped) turned into an
    exception by the command line, so that cleanup runs as for Ctrl-C: temporary files
    removed, worker processes stopped."""


class MissingExtraError(HepmlError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""

    exit_code = 3
