"""The ``hepml`` command line: thin commands over the library.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args, ui)``; :mod:`hepml.cli.main` dispatches and turns
:class:`~hepml.errors.HepmlError` into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    from hepml.cli.main import main as _main

    return _main(argv)
