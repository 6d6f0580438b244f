"""The substructure BDT: pickle-free trees give scikit-learn's scores."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from hepml.errors import ConfigError, InputError
from hepml.models.baseline import BDTConfig, SubstructureBDT


def test_saved_trees_predict_like_sklearn(tmp_path):
    rng = np.random.default_rng(3)
    n = 3000
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 5)) + y[:, None] * np.array([0.8, -0.5, 0.3, 0.0, 0.2])
    X[rng.random(n) < 0.05, 2] = np.nan  # missing values take the learnt side
    bdt = SubstructureBDT(BDTConfig(max_iter=40, max_leaf_nodes=15)).fit(X, y, seed=1)
    X_test = rng.normal(size=(1000, 5))
    X_test[::17, 2] = np.nan
    expected = bdt.sklearn_model.predict_proba(X_test)[:, 1]
    np.testing.assert_allclose(bdt.predict(X_test), expected, rtol=1e-10, atol=1e-12)

    torch.save(bdt.state_dict(), tmp_path / "bdt.pt")
    state = torch.load(tmp_path / "bdt.pt", weights_only=True)
    again = SubstructureBDT(bdt.config).load_state_dict(state)
    np.testing.assert_allclose(again.predict(X_test), expected, rtol=1e-10, atol=1e-12)


def test_bad_inputs():
    with pytest.raises(ConfigError, match="max_iter"):
        BDTConfig(max_iter=0)
    with pytest.raises(InputError, match="labels 0 and 1"):
        SubstructureBDT().fit(np.zeros((4, 2)), [1, 1, 1, 1])
    with pytest.raises(RuntimeError, match="fit or load"):
        SubstructureBDT().predict(np.zeros((2, 5)))


def test_bdt_probability_is_stable_for_confident_rows():
    """The logistic of very large |decision| values: no overflow warning, exact 0/1 limits,
    equal to scipy's expit."""
    from scipy.special import expit

    d = np.array([-1000.0, -30.0, -1e-3, 0.0, 2.5, 30.0, 1000.0])

    class Fixed(SubstructureBDT):
        def decision_function(self, X):
            return d

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = Fixed.__new__(Fixed).predict(np.zeros((len(d), 5)))
    np.testing.assert_allclose(p, expit(d), rtol=1e-15, atol=0)
