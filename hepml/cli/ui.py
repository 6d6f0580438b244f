"""Terminal output for the CLI: messages, tables and progress bars (rich), or quiet."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["UI", "parse_set"]


def parse_set(items: list[str], example: str) -> list[tuple[str, object]]:
    """``--set KEY=VALUE`` options as ``(key, value)`` pairs, values read as YAML
    (numbers, booleans, lists); a malformed one is a one-line error naming ``example``."""
    from hepml.errors import ConfigError

    out = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. {example}")
        key, value = item.split("=", 1)
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as err:
            from hepml._yaml import yaml_problem

            problem = yaml_problem(err)
            raise ConfigError(
                f"--set {item!r}: the value is not valid YAML ({problem}); quote it, "
                f"e.g. --set 'KEY=\"{value}\"'"
            ) from None
        out.append((key.strip(), parsed))
    return out


class _Console(Console):
    """rich's console, except that a closed pipe (``hepml inspect ... | head``) ends the
    command quietly with status 0, as the command line promises, not rich's status 1."""

    def on_broken_pipe(self) -> None:
        import os
        import sys

        self.quiet = True
        stream = sys.stderr if self.stderr else sys.stdout
        with contextlib.suppress(OSError, ValueError):  # (no more output to a closed pipe)
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        raise BrokenPipeError


class UI:
    """Where the CLI prints; ``quiet`` keeps only results and errors."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        # no markup in what is printed: messages hold cut expressions, extras and paths
        # such as jets[jets.pt > 30] or hepml[plot], which rich would take for tags
        self.out = _Console(highlight=False, soft_wrap=True, markup=False)
        self.err = _Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

    def info(self, msg: str) -> None:
        if not self.quiet:
            self.err.print(msg)

    def print(self, *objs, markup: bool = False) -> None:
        """Print ``objs``; ``markup=True`` reads rich tags (escape what is data)."""
        self.out.print(*objs, markup=markup)

    def table(self, table, min_width: int = 150) -> None:
        """Print a rich table at least ``min_width`` wide (names are never cut)."""
        old = self.out.width
        self.out.width = max(old, min_width)
        try:
            self.out.print(table)
        finally:
            self.out.width = old

    def warn(self, msg: str) -> None:
        """A warning on stderr, printed even when quiet (it may change what results mean)."""
        self.err.print(f"[bold yellow]warning:[/] {escape(msg)}", markup=True, highlight=False)

    def error(self, msg: str) -> None:
        self.err.print(f"[bold red]error:[/] {escape(msg)}", markup=True, highlight=False)

    @contextlib.contextmanager
    def progress(self, description: str, total: int | None) -> Iterator:
        """A progress bar on stderr; yields ``advance(n)``. Nothing when quiet."""
        if self.quiet:
            yield lambda n=1: None
            return
        columns = [
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=self.err) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task, n)
