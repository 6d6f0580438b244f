"""Numba kernels on flat numpy buffers (installed as :mod:`hepml.kernels`).

A kernel never sees an awkward array, a torch tensor or a file: it takes
``content`` arrays and ``offsets`` (event ``i`` owns ``content[offsets[i]:offsets[i+1]]``)
and returns numpy arrays. The awkward glue lives in :mod:`hepml.reco`.
"""

from __future__ import annotations

from . import cluster, fourvec

__all__: list[str] = ["cluster", "fourvec"]
