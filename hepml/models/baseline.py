r"""The classical baseline: a gradient-boosted classifier on jet substructure.

Inputs per jet (from ``hepml reconstruct`` rows): :math:`\tau_{32} = \tau_3/\tau_2`,
:math:`\tau_{21} = \tau_2/\tau_1` (N-subjettiness, arXiv:1011.2268), the soft-drop
mass (arXiv:1402.2657), the jet mass and :math:`p_T` — the variables of the
cut-based and BDT top taggers the ParticleNet paper compares against
(arXiv:1902.08570). The classifier is scikit-learn's
``HistGradientBoostingClassifier``.

A trained model is saved **without pickle**: :meth:`SubstructureBDT.state_dict`
holds its trees as plain arrays (feature, threshold, children, leaf values) that
load with ``torch.load(..., weights_only=True)``, and :meth:`predict` walks them
with numpy — the same scores as scikit-learn's ``predict_proba`` (tested).

Example::

    X = hepml.train.bdt.substructure_features(rows)            # (n_jets, 5) numpy
    bdt = SubstructureBDT(BDTConfig(max_iter=200)).fit(X, labels)
    score = bdt.predict(X_test)                                 # P(top) per jet
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hepml.errors import ConfigError, InputError

__all__ = ["SUBSTRUCTURE_FEATURES", "BDTConfig", "SubstructureBDT"]

#: the baseline's inputs, computed from reconstruct rows by
#: :func:`hepml.train.bdt.substructure_features`
SUBSTRUCTURE_FEATURES = ("tau32", "tau21", "jet_msd", "jet_mass", "jet_pt")
_TREE_FIELDS = ("feature_idx", "num_threshold", "missing_go_to_left", "left", "right", "is_leaf")


@dataclass
class BDTConfig:
    """Options of ``HistGradientBoostingClassifier`` (binary classification)."""

    features: list[str] = field(default_factory=lambda: list(SUBSTRUCTURE_FEATURES))
    max_iter: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0

    def __post_init__(self) -> None:
        for key in ("max_iter", "max_leaf_nodes", "min_samples_leaf"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"substructure-bdt: option {key!r} must be >= 1, got {v!r}")
        if not self.learning_rate > 0:
            raise ConfigError(
                f"substructure-bdt: option 'learning_rate' must be > 0, got {self.learning_rate}"
            )


class SubstructureBDT:
    """Gradient-boosted trees on :data:`SUBSTRUCTURE_FEATURES` (see the module docstring)."""

    def __init__(self, config: BDTConfig | None = None) -> None:
        self.config = config if config is not None else BDTConfig()
        self._trees: dict[str, np.ndarray] | None = None
        self._roots = np.zeros(0, np.int64)
        self._baseline = 0.0
        self._depth = 0

    def fit(self, X: np.ndarray, y, sample_weight=None, seed: int = 0) -> SubstructureBDT:
        """Train on ``X`` ``(n, F)`` and binary labels ``y``."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        y = np.asarray(y).astype(np.int64)
        if set(np.unique(y)) - {0, 1} or len(np.unique(y)) < 2:
            raise InputError("the substructure baseline needs labels 0 and 1, both present")
        c = self.config
        clf = HistGradientBoostingClassifier(
            max_iter=c.max_iter,
            learning_rate=c.learning_rate,
            max_leaf_nodes=c.max_leaf_nodes,
            min_samples_leaf=c.min_samples_leaf,
            l2_regularization=c.l2_regularization,
            early_stopping=False,
            random_state=seed,
        )
        clf.fit(np.asarray(X, dtype=np.float64), y, sample_weight=sample_weight)
        self._from_sklearn(clf)
        self.sklearn_model = clf  # kept for inspection; not saved
        return self

    def _from_sklearn(self, clf) -> None:
        parts = {f: [] for f in _TREE_FIELDS}
        values, roots, offset, depth = [], [], 0, 0
        for iteration in clf._predictors:
            (pred,) = iteration  # binary: one tree per iteration
            nodes = pred.nodes
            for f in _TREE_FIELDS:
                col = np.asarray(nodes[f])
                parts[f].append(col + offset if f in ("left", "right") else col)
            values.append(np.asarray(nodes["value"], dtype=np.float64))
            roots.append(offset)
            depth = max(depth, int(np.max(nodes["depth"])))
            offset += len(nodes)
        self._trees = {f: np.concatenate(v) for f, v in parts.items()}
        self._trees["value"] = np.concatenate(values)
        self._roots = np.asarray(roots, dtype=np.int64)
        self._baseline = float(np.ravel(clf._baseline_prediction)[0])
        self._depth = depth

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Raw log-odds per row of ``X``."""
        if self._trees is None:
            raise RuntimeError("SubstructureBDT: fit or load the model first")
        X = np.asarray(X, dtype=np.float64)
        t = self._trees
        out = np.full(len(X), self._baseline)
        rows = np.arange(len(X))[:, None]
        for lo in range(0, len(X), 65536):
            r = rows[lo : lo + 65536]
            node = np.broadcast_to(self._roots, (len(r), len(self._roots))).copy()
            for _ in range(self._depth):
                leaf = t["is_leaf"][node].astype(bool)
                if leaf.all():
                    break
                x = X[r, t["feature_idx"][node]]
                left = np.where(
                    np.isnan(x), t["missing_go_to_left"][node] != 0, x <= t["num_threshold"][node]
                )
                node = np.where(leaf, node, np.where(left, t["left"][node], t["right"][node]))
            out[lo : lo + len(r)] += t["value"][node].sum(axis=1)
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Signal probability per row of ``X`` (the logistic of the decision function,
        as scikit-learn's ``predict_proba``; no overflow for very confident rows)."""
        d = self.decision_function(X)
        out = np.empty_like(d)
        pos = d >= 0
        out[pos] = 1.0 / (1.0 + np.exp(-d[pos]))
        e = np.exp(d[~pos])
        out[~pos] = e / (1.0 + e)
        return out

    def state_dict(self) -> dict:
        """Plain arrays and numbers (loads with ``torch.load(weights_only=True)``)."""
        import torch

        if self._trees is None:
            raise RuntimeError("SubstructureBDT: nothing to save before fit")
        return {
            "trees": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self._trees.items()},
            "roots": torch.from_numpy(self._roots),
            "baseline": self._baseline,
            "depth": self._depth,
        }

    def load_state_dict(self, state: dict) -> SubstructureBDT:
        self._trees = {k: v.numpy() for k, v in state["trees"].items()}
        self._roots = state["roots"].numpy()
        self._baseline = float(state["baseline"])
        self._depth = int(state["depth"])
        return self
