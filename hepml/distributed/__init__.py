"""Ray: the same training loop on many workers (extra ``ray``).

* :func:`fit` — Ray Train ``TorchTrainer`` around :class:`hepml.train.Trainer`:
  data-parallel (DDP, gloo on CPU, NCCL on GPU), each worker its own shard of the
  training jets, checkpoints in hepml's format through ``ray.train.Checkpoint``,
  ``FailureConfig(max_failures)``, and a rerun with the same ``name`` and
  ``storage_path`` continues an interrupted run from its last checkpoint.

Example::

    from hepml.distributed import fit
    history = fit(cfg, num_workers=2, storage_path="/shared/runs")
"""

from __future__ import annotations

from hepml.distributed.predict import PredictSummary, predict
from hepml.distributed.train import connect, fit

__all__ = ["PredictSummary", "connect", "fit", "predict"]
