"""hepml: classify collision events and jets with graph neural networks.

The package is layered; dependencies point one way (``../shared/DESIGN.md``):

* :mod:`hepml.io` — open ROOT files (TTree and RNTuple) with uproot into hepml's
  event model, chunk by chunk; write ROOT/parquet atomically; generate events
  with Pythia 8 (:mod:`hepml.io.generate`, extra ``generate``).
* :mod:`hepml.kernels` — Numba kernels on flat numpy buffers.
* :mod:`hepml.cli` — the ``hepml`` command line, thin over the library.

Example::

    import hepml.io
    for events in hepml.io.open_events("nano_*.root", step_size="100 MB"):
        print(len(events), events.jets.pt)
"""

from __future__ import annotations

from hepml._version import __version__
from hepml.errors import HepmlError

__all__ = ["HepmlError", "__version__"]
