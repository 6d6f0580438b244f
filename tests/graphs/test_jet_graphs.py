"""Jet graphs built from hepml reconstruct rows."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import torch

from hepml.errors import InputError
from hepml.graphs import JetGraphs, Standardizer, load_rows
from hepml.reco import FEATURE_NAMES


@pytest.fixture(scope="module")
def rows(jet_rows):
    return load_rows(jet_rows["top"], jet_rows["qcd"])


def test_graphs_hold_the_rows_features(rows):
    data = JetGraphs(rows)
    assert len(data) == len(rows)
    assert data.x.shape == (int(ak.sum(ak.num(rows.part))), len(FEATURE_NAMES))
    g = data[3]
    np.testing.assert_allclose(g.x[:, 0].numpy(), ak.to_numpy(rows.part.deta[3]), rtol=1e-6)
    np.testing.assert_allclose(g.pos[:, 1].numpy(), ak.to_numpy(rows.part.dphi[3]), rtol=1e-6)
    assert int(g.y) == rows.label[3]
    assert set(np.unique(data.y.numpy())) == {0, 1}


def test_batch_equals_the_items_and_standardises(rows):
    data = JetGraphs(rows)
    order = [5, 0, 2]
    b = data.batch(order)
    assert b.num_graphs == 3
    for k, i in enumerate(order):
        item = data[i]
        torch.testing.assert_close(b.x[b.batch == k], item.x)
        assert int(b.y[k]) == int(item.y)
        assert b.ids[k].tolist() == item.ids[0].tolist()
    train = list(range(0, len(data), 2))
    std = Standardizer.fit(data.x[data.node_mask(train)])
    z = data.batch(train, standardizer=std).x
    torch.testing.assert_close(z.mean(0), torch.zeros(z.shape[1]), atol=1e-4, rtol=0)
    varying = data.x[data.node_mask(train)].std(0) > 0  # constant one-hots stay at 0
    assert varying.sum() >= 8
    torch.testing.assert_close(
        z.std(0, unbiased=False)[varying], torch.ones(int(varying.sum())), atol=1e-3, rtol=0
    )
    again = Standardizer.from_state_dict(std.state_dict())
    torch.testing.assert_close(again(data.x[:10]), std(data.x[:10]))


def test_bad_inputs(rows, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_rows(tmp_path / "missing.parquet")
    ak.to_parquet(ak.Array([{"a": 1}]), tmp_path / "other.parquet")
    with pytest.raises(InputError, match="not a file of jet rows"):
        load_rows(tmp_path / "other.parquet")
    with pytest.raises(InputError, match=r"unknown particle feature\(s\) \['mass'\]"):
        JetGraphs(rows, features=["deta", "mass"])
