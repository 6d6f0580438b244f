"""The streaming dataset: every jet once per epoch, reproducible, sharded, ROOT or parquet."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import torch

from hepml.errors import InputError
from hepml.graphs import JetGraphs, StreamingJetGraphs, load_rows
from hepml.io import write_root


@pytest.fixture(scope="module")
def files(jet_rows, tmp_path_factory):
    """The session's jets re-written in small row groups (parquet) and as a ROOT tree."""
    out = tmp_path_factory.mktemp("stream")
    rows = load_rows(jet_rows["top"], jet_rows["qcd"])
    half = len(rows) // 2
    ak.to_parquet(rows[:half], out / "a.parquet", row_group_size=13)
    ak.to_parquet(rows[half:], out / "b.parquet", row_group_size=13)
    flat = {f: rows[f] for f in rows.fields if f != "part"}
    flat["part"] = rows.part
    write_root(out / "c.root", {"jets": ak.zip(flat, depth_limit=1)})
    return {"parquet": [out / "a.parquet", out / "b.parquet"], "root": out / "c.root",
            "rows": rows}  # fmt: skip


def _keys(batches):
    return [tuple(r) for b in batches for r in b.ids.tolist()]


def test_each_jet_once_and_same_order_for_same_seed(files):
    ds = StreamingJetGraphs(files["parquet"], batch_size=8, shuffle_buffer=30, seed=3)
    first = list(ds)
    again = list(ds)
    keys = _keys(first)
    n = len(files["rows"])
    # ids (file_index, entry, jet_index) repeat across the top and QCD files: count them
    assert len(keys) == n
    assert sorted(keys) == sorted(_keys([JetGraphs(files["rows"]).batch(range(n))]))
    assert keys == _keys(again)
    for a, b in zip(first, again):
        torch.testing.assert_close(a.x, b.x)
    assert all(b.num_graphs == 8 for b in first[:-1])
    ds.set_epoch(1)
    assert _keys(list(ds)) != keys  # another epoch, another order
    assert sorted(_keys(list(ds))) == sorted(keys)
    ordered = StreamingJetGraphs(files["parquet"], batch_size=8, shuffle=False)
    assert _keys(list(ordered)) == _keys([JetGraphs(files["rows"]).batch(range(n))])


def test_shards_over_ranks_and_workers_cover_everything_once(files):
    n = len(files["rows"])
    seen = []
    for rank in range(2):
        ds = StreamingJetGraphs(files["parquet"], batch_size=5, shuffle_buffer=20, seed=1,
                                rank=rank, world_size=2)  # fmt: skip
        loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
        seen.append(_keys(list(loader)))
    assert len(seen[0]) + len(seen[1]) == n
    assert sorted(seen[0] + seen[1]) == sorted(_keys([JetGraphs(files["rows"]).batch(range(n))]))
    assert len(seen[0]) > 0
    assert len(seen[1]) > 0


def test_shards_hold_about_equal_rows_whatever_the_order():
    """Ranks go in lockstep and stop when the smallest shard runs out: shards are
    balanced by rows, not by counts of units (each file ends in a short row group)."""
    from hepml.graphs.stream import shards

    units = [(i // 2, "f", "parquet", i % 2, 8192 if i % 2 == 0 else 1808) for i in range(4)]
    rng = np.random.default_rng(0)
    for _ in range(20):
        order = rng.permutation(4).tolist()
        parts = shards(units, order, 2)
        assert sorted(i for p in parts for i in p) == [0, 1, 2, 3]
        assert [sum(units[i][4] for i in p) for p in parts] == [10_000, 10_000]
        for p in parts:  # each shard reads its units in the epoch's order
            assert p == [i for i in order if i in p]
    sizes = rng.integers(1, 8192, 57)
    units = [(0, "f", "root", 0, int(n)) for n in sizes]
    for total in (2, 3, 8):
        loads = [sum(sizes[i] for i in p) for p in shards(units, list(range(57)), total)]
        assert max(loads) - min(loads) <= sizes.max()
        assert sum(loads) == sizes.sum()


def test_root_files_stream_like_parquet(files):
    ds = StreamingJetGraphs([files["root"]], batch_size=16, shuffle=False, root_step=7)
    batches = list(ds)
    ref = JetGraphs(files["rows"]).batch(range(len(files["rows"])))
    torch.testing.assert_close(torch.cat([b.x for b in batches]), ref.x)
    assert torch.equal(torch.cat([b.y for b in batches]), ref.y)
    assert np.array_equal(
        ak.to_numpy(load_rows(files["root"]).jet_pt), ak.to_numpy(files["rows"].jet_pt)
    )


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        StreamingJetGraphs([tmp_path / "missing.parquet"])
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="not a parquet file"):
        StreamingJetGraphs([tmp_path / "x.parquet"])
