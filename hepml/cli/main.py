"""Entry point of the ``hepml`` command (console script)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from importlib import import_module

from hepml._version import __version__
from hepml.cli.ui import UI
from hepml.errors import HepmlError, MissingExtraError, Terminated

__all__ = ["build_parser", "main"]

#: subcommand -> module in hepml.cli
COMMANDS = (
    "inspect",
    "generate",
    "reconstruct",
    "train",
    "evaluate",
    "predict",
    "export",
    "trigger",
    "demo",
)

EPILOG = """examples:
  hepml inspect ../shared/data/*.root
  hepml generate --process ttbar --events 2000 --jobs 2 -o ttbar.root
  hepml demo
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hepml",
        description="Classify collision events and jets with graph neural networks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hepml {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        p = import_module(f"hepml.cli.{name}").add_parser(sub)
        # also accepted after the subcommand: hepml generate ... --quiet
        p.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            default=argparse.SUPPRESS,
            help="no progress bars or notes",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    try:  # (the commands' modules import for about a second: Ctrl-C may come here)
        parser = build_parser()
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        UI(quiet=False).error("interrupted")
        return 130
    if args.command is None:
        parser.print_help()
        return 2
    ui = UI(quiet=args.quiet)
    previous = _on_sigterm()
    try:
        return int(args.run(args, ui) or 0)
    except HepmlError as err:
        ui.error(str(err))
        return err.exit_code
    except KeyboardInterrupt as err:  # (Ctrl-C, or SIGTERM: Terminated)
        ui.error("terminated" if isinstance(err, Terminated) else "interrupted")
        return 143 if isinstance(err, Terminated) else 130
    except BrokenPipeError:
        return 0
    except ModuleNotFoundError as err:  # (a package of an extra that is not installed)
        if not err.name or err.name.partition(".")[0] == "hepml":
            raise
        ui.error(
            f"this command needs the Python package {err.name!r}, which is not installed; "
            "install hepml with its extras: pip install 'hepml[all]'"
        )
        return MissingExtraError.exit_code
    except OSError as err:  # (a full disk, a folder without write permission)
        where = f"{err.filename}: " if err.filename else ""
        ui.error(f"{where}{err.strerror or err}")
        return HepmlError.exit_code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _on_sigterm():
    """SIGTERM raises :class:`~hepml.errors.Terminated` in the main thread while a command
    runs (its ``finally`` blocks then clean up, as for Ctrl-C); returns the handler
    to put back, or None where none can be set (not the main thread)."""

    def terminated(signum, frame):
        raise Terminated()

    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.signal(signal.SIGTERM, terminated)
    return signal.SIG_DFL if previous is None else previous


if __name__ == "__main__":
    sys.exit(main())
