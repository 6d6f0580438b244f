"""The benchmarks' references (FastJet, ONNX Runtime) are optional packages: a missing
one ends the benchmark with one line naming what to install, not a traceback."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

from hepml.errors import MissingExtraError
from hepml.extras import require


def need(module: str, extra: str, purpose: str) -> ModuleType:
    """``module`` imported, or exit with the line that says how to install it."""
    try:
        return require(module, extra=extra, purpose=purpose)
    except MissingExtraError as err:
        sys.exit(f"{Path(sys.argv[0]).name}: {err}")
