"""Ray: the same training loop on many workers, ROOT files in Ray Data, inference on
actors (extra ``ray``).

* :func:`fit` — Ray Train ``TorchTrainer`` around :class:`hepml.train.Trainer`:
  data-parallel (DDP, gloo on CPU, NCCL on GPU), each worker its own shard of the
  training jets, checkpoints in hepml's format through ``ray.train.Checkpoint``,
  ``FailureConfig(max_failures)``, and a rerun with the same ``name`` and
  ``storage_path`` continues an interrupted run from its last checkpoint.
* :func:`read_root` — ROOT files (TTree/RNTuple, any hepml schema) as a
  ``ray.data.Dataset`` of events, one read task per file and entry range, through
  hepml's own reader (:class:`RootDatasource`); :func:`to_events` turns a
  ``map_batches`` batch back into hepml's awkward events, so the Numba kernels of
  :mod:`hepml.reco` run distributed.
* :func:`predict` — a pool of Ray actors scoring jet rows, exactly once per row.

Example::

    from hepml.distributed import fit, read_root, to_events
    history = fit(cfg, num_workers=2, storage_path="/shared/runs")
    ds = read_root("data/*.root", step_size=100_000)
"""

from __future__ import annotations

from hepml.distributed.datasource import RootDatasource, read_root, to_arrow, to_events
from hepml.distributed.predict import PredictSummary, predict
from hepml.distributed.train import connect, fit

__all__ = [
    "PredictSummary",
    "RootDatasource",
    "connect",
    "fit",
    "predict",
    "read_root",
    "to_arrow",
    "to_events",
]
