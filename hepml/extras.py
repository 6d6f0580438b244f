"""Optional dependencies, imported lazily with an error that names the extra.

Example::

    pythia8 = hepml.extras.require("pythia8mc", extra="generate")
"""

from __future__ import annotations

import importlib
from types import ModuleType

from hepml.errors import MissingExtraError

__all__ = ["require"]


def require(module: str, *, extra: str, purpose: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra.

    Parameters
    ----------
    module : the importable name, for example ``"pythia8mc"``.
    extra : the hepml extra that installs it, for example ``"generate"``.
    purpose : what it is needed for, shown in the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        why = f" for {purpose}" if purpose else ""
        raise MissingExtraError(
            f"{module} is needed{why} but is not installed ({err}); "
            f"install it with: pip install 'hepml[{extra}]'"
        ) from err
