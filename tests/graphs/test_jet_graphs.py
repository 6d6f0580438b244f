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


def test_entry_ranges_of_a_parquet_file_read_only_their_row_groups(rows, tmp_path, monkeypatch):
    """``read_rows(path, a, b)`` equals the whole file sliced ``[a:b]`` for ranges inside
    a row group, across several, empty and past the end — reading only the row groups
    the range touches (what each Ray inference unit does)."""
    from hepml.graphs.jets import parquet_row_groups, read_rows

    path = tmp_path / "rows.parquet"
    ak.to_parquet(rows, path, row_group_size=7)
    bounds = parquet_row_groups(path)
    n = len(rows)
    assert bounds[0] == 0
    assert bounds[-1] == n
    assert len(bounds) == -(-n // 7) + 1
    for a, b in ((0, 3), (5, 9), (7, 14), (3, 30), (n - 2, n), (n - 2, n + 50), (4, 4),
                 (n + 3, n + 9), (None, 5), (6, None)):  # fmt: skip
        got = read_rows(path, a, b)
        want = rows[a:b]
        assert len(got) == len(want), (a, b)
        assert got.fields == rows.fields
        assert ak.to_list(got.entry) == ak.to_list(want.entry)
        assert ak.to_list(got.part.deta) == ak.to_list(want.part.deta)
    with pytest.raises(InputError, match="not a parquet file"):
        parquet_row_groups(__file__)
    asked = []
    whole = ak.from_parquet
    monkeypatch.setattr(ak, "from_parquet", lambda *a, **k: asked.append(k) or whole(*a, **k))
    read_rows(path, 8, 20)
    assert asked == [{"row_groups": [1, 2]}]
