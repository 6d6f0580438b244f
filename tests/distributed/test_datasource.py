"""ROOT files as a Ray Data dataset (``hepml.distributed.read_root``), on a local Ray:
the same events as hepml's single-process reader, one read task and one block per
entry range, errors before any task runs, and reconstruction with the Numba kernels
in ``map_batches`` equal to the single-process result."""

from __future__ import annotations

import math
import re

import awkward as ak
import numpy as np
import pytest

from hepml.errors import ConfigError, InputError
from hepml.io import read_events

ray = pytest.importorskip("ray")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

NANOAOD = "nanoAOD_2015_CMS_Open_Data_ttbar.root"
RNTUPLE = "cmsopendata2015_ttbar_19980_NANOAOD_RNTupleImporter_rntuple_v1-0-0-1.root"


@pytest.fixture(scope="module")
def local_ray():
    from hepml.distributed import connect

    ray_mod = connect(None, num_cpus=2)
    yield ray_mod
    ray_mod.shutdown()


def _collect(ds, paths: list[str]) -> ak.Array:
    """Every row of ``ds`` (read with ``include_paths=True``) as hepml events, in file
    and entry order (Ray Data does not keep the order of the blocks)."""
    import pyarrow as pa

    from hepml.distributed import to_events

    tables = ray.get(ds.to_arrow_refs())
    events = to_events(pa.concat_tables(tables))
    file_index = np.array([paths.index(p) for p in ak.to_list(events.path)])
    order = np.lexsort((ak.to_numpy(events.entry), file_index))
    return events[order]


def _same(got: ak.Array, want: ak.Array) -> None:
    """Equal values, dtypes and vector behaviours (record names); the files hold no NaN."""
    got = got[[f for f in got.fields if f != "path"]]
    assert got.fields == want.fields
    assert str(got.type) == str(want.type)
    assert ak.almost_equal(got, want, rtol=0, atol=0, dtype_exact=True, check_parameters=True)


def test_rows_blocks_and_tasks_match_the_entry_ranges(local_ray, samples):
    from hepml.distributed import RootDatasource, read_root

    paths = [str(samples["ttbar"]), str(samples["qcd"])]
    want = read_events(paths)
    n = {p: len(read_events(p)) for p in paths}
    source = RootDatasource(paths, step_size=50)
    assert [(r.path, r.start, r.stop) for r in source.ranges] == [
        (p, lo, min(lo + 50, n[p])) for p in paths for lo in range(0, n[p], 50)
    ]
    n_ranges = sum(math.ceil(k / 50) for k in n.values())
    assert len(source.get_read_tasks(1)) == n_ranges  # whatever parallelism asks
    assert len(source.get_read_tasks(200)) == n_ranges
    assert source.mapping.schema == "hepml"
    assert source.num_entries == len(want)

    ds = read_root(paths, step_size=50, include_paths=True).materialize()
    assert ds.num_blocks() == n_ranges
    assert ds.count() == len(want)
    sizes = sorted(t.num_rows for t in ray.get(ds.to_arrow_refs()))
    assert sizes == sorted(r.entries for r in source.ranges)  # one block per range
    got = _collect(ds, paths)
    assert ak.to_list(got.path) == [p for p in paths for _ in range(n[p])]
    _same(got, want)
    assert got.particles.pt[0, 0] == pytest.approx(want.particles.pt[0, 0])  # Momentum4D


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "step"), [(NANOAOD, 64), (RNTUPLE, 5)])
def test_real_nanoaod_equals_the_single_process_reader(local_ray, shared_data, name, step):
    """CMS NanoAOD as a TTree (200 events, 4 ranges) and as an RNTuple (10 events, 2
    ranges: uproot takes seconds to open its ~1,500 fields, whatever the range)."""
    from hepml.distributed import read_root

    path = str(shared_data / name)
    want = read_events(path)
    ds = read_root(path, step_size=step, include_paths=True).materialize()
    assert ds.num_blocks() == math.ceil(len(want) / step)
    _same(_collect(ds, [path]), want)
    if name == RNTUPLE:
        return
    # only the collections asked for (only their branches are read)
    part = read_root(path, step_size=step, collections=["jets", "ids"], include_paths=True)
    got = _collect(part.materialize(), [path])
    assert set(got.fields) == {"jets", "run", "lumi", "event", "entry", "path"}
    _same(got, read_events(path, collections=["jets", "ids"]))


def test_reconstruction_in_map_batches_equals_the_single_process_one(local_ray, samples):
    """anti-kt R = 0.8 jets (hepml.reco.cluster, Numba) on every event, distributed."""
    from hepml.distributed import read_root, to_events
    from hepml.reco import cluster, leading

    def jets_of(batch):
        events = to_events(batch)
        jets = cluster(events.particles, "antikt", 0.8, pt_min=50.0)
        return {
            "path": np.asarray(ak.to_list(events.path), dtype=object),
            "entry": ak.to_numpy(events.entry),
            "n_jets": ak.to_numpy(ak.num(jets)),
            "lead_pt": np.asarray(leading(jets, "pt")),
        }

    paths = [str(samples["ttbar"]), str(samples["qcd"])]
    ds = read_root(paths, collections=["particles", "ids"], step_size=40, include_paths=True)
    rows = ds.map_batches(jets_of, batch_format="pyarrow", batch_size=None).to_pandas()
    rows["file"] = [paths.index(p) for p in rows["path"]]
    rows = rows.sort_values(["file", "entry"]).reset_index(drop=True)

    events = read_events(paths, collections=["particles", "ids"])
    jets = cluster(events.particles, "antikt", 0.8, pt_min=50.0)
    assert len(rows) == len(events)
    np.testing.assert_array_equal(rows["entry"], ak.to_numpy(events.entry))
    np.testing.assert_array_equal(rows["n_jets"], ak.to_numpy(ak.num(jets)))
    np.testing.assert_array_equal(rows["lead_pt"], np.asarray(leading(jets, "pt")))
    assert rows["n_jets"].sum() > len(events)  # boosted samples: jets were found


def test_bad_inputs_fail_before_any_task_naming_the_file(local_ray, samples, tmp_path):
    from hepml.distributed import read_root

    good = str(samples["qcd"])
    missing = str(tmp_path / "missing.root")
    with pytest.raises(InputError, match=re.escape(f"{missing}: no such file")):
        read_root([good, missing])
    text = tmp_path / "notes.root"
    text.write_text("not a ROOT file")
    with pytest.raises(InputError, match=re.escape(f"{text}: ") + ".*ROOT"):
        read_root([good, str(text)])
    with pytest.raises(InputError, match=re.escape(f"{good}: no tree 'nope'")):
        read_root(good, tree="nope")
    with pytest.raises(InputError, match="found no branches for collection"):
        read_root(good, collections=["jets"])  # hepml's own files hold particles
    with pytest.raises(ConfigError, match="step_size"):
        read_root(good, step_size=0)
    with pytest.raises(ConfigError, match="step_size"):
        read_root(good, step_size="lots")

    skipped: list[str] = []
    ds = read_root([str(text), good], skip_bad_files=True, log=skipped.append)
    assert ds.count() == len(read_events(good))
    assert len(skipped) == 1
    assert str(text) in skipped[0]
