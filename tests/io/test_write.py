"""Atomic writers: ROOT and parquet, nothing left under the final name on failure."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from hepml.errors import InputError
from hepml.io import read_events, write, write_parquet, write_root


def test_root_written_chunk_by_chunk_reads_back(tmp_path):
    def chunks():
        for i in range(3):
            yield {
                "particle": ak.zip(
                    {
                        "px": ak.Array([[1.0 + i, 2.0], [3.0]]),
                        "py": ak.Array([[0.0, 1.0], [1.0]]),
                        "pz": ak.Array([[0.0, 0.0], [2.0]]),
                        "E": ak.Array([[5.0, 5.0], [5.0]]),
                        "pid": ak.Array([[211, -211], [22]]),
                    }
                ),
                "weight": np.array([1.0, 2.0]),
            }

    path = write_root(tmp_path / "out.root", {"events": chunks()})
    ev = read_events(path)
    assert len(ev) == 6
    assert ak.to_list(ev.particles.px[::2, 0]) == [1.0, 2.0, 3.0]
    assert ak.to_list(ev.weight) == [1.0, 2.0] * 3
    assert (path.stat().st_mode & 0o777) != 0o600  # an ordinary file, not mkstemp's


def test_failure_mid_write_leaves_nothing(tmp_path):
    def broken():
        yield {"x": np.arange(3.0)}
        raise RuntimeError("generator crashed")

    with pytest.raises(RuntimeError, match="generator crashed"):
        write_root(tmp_path / "out.root", {"t": broken()})
    assert list(tmp_path.iterdir()) == []


def test_parquet_round_trip(tmp_path):
    arr = ak.Array([{"jet_pt": [1.0, 2.0], "event": 1}, {"jet_pt": [], "event": 2}])
    path = write_parquet(tmp_path / "a.parquet", arr)
    assert ak.to_list(ak.from_parquet(path)) == ak.to_list(arr)
    path2 = write(tmp_path / "b.parquet", arr)
    assert ak.to_list(ak.from_parquet(path2)) == ak.to_list(arr)


def test_unknown_output_type_and_missing_folder(tmp_path):
    arr = ak.Array([{"x": 1}])
    with pytest.raises(InputError, match=r"unknown output type '\.csv'"):
        write(tmp_path / "a.csv", arr)
    with pytest.raises(InputError, match="does not exist"):
        write(tmp_path / "no" / "a.parquet", arr)
    # a folder of that name: one line naming it (was a raw IsADirectoryError naming the
    # hidden temporary file); the folder and its content are untouched
    for name in ("out.root", "out.parquet"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "keep.txt").write_text("mine")
        with pytest.raises(InputError, match=rf"{name}: is a folder; give a file name"):
            write(folder, arr)
        assert [p.name for p in folder.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet", "out.root"]


@pytest.mark.parametrize("source", ["generated", "nanoaod"])
def test_events_written_to_root_read_back_equal(source, samples, shared_data, tmp_path):
    """read -> write -> read: hepml's layout (particle_*, jet_*, met_*, trigger_*), found by
    the hepml schema, every collection and field equal (partons, objects, triggers)."""
    from tests.conftest import NANOAOD

    path = samples["ttbar"] if source == "generated" else shared_data / NANOAOD
    before = read_events(path, entry_stop=40)
    out = write(tmp_path / "again.root", before)
    after = read_events(out, schema="auto")
    import uproot

    from hepml.io.schemas import detect_schema

    with uproot.open(out) as f:
        assert detect_schema(f["events"].keys()) == "hepml"
    assert after.fields == before.fields
    for name in before.fields:
        x, y = before[name], after[name]
        for field in x.fields or [None]:
            a, b = (x, y) if field is None else (x[field], y[field])
            assert ak.to_list(a) == ak.to_list(b), (name, field)


@pytest.mark.parametrize("keep", [["triggers"], ["met"], ["met", "triggers"]])
def test_a_skim_without_particles_reads_back(keep, shared_data, tmp_path):
    """Trigger bits or MET with weight and ids (a skim for hepml trigger compare) read
    back equal, by auto-detection too (they were refused: no particles, unknown schema)."""
    from tests.conftest import NANOAOD

    before = read_events(shared_data / NANOAOD, entry_stop=20)
    skim = before[[*keep, "weight", "run", "lumi", "event", "entry"]]
    out = write(tmp_path / "skim.root", skim)
    for schema in ("auto", "hepml"):
        after = read_events(out, schema=schema)
        for name in (*keep, "weight", "run", "event"):
            assert ak.to_list(after[name]) == ak.to_list(before[name]), (schema, name)


def test_a_flat_ntuple_with_lowercase_objects_stays_flat(tmp_path):
    """Only files that are all hepml's object layout are taken for it: a flat ntuple with
    jet_pt/eta/phi/mass beside muon_px/py/pz/e keeps its muons."""
    j = ak.Array([[1.0, 2.0], [3.0]])
    path = write_root(tmp_path / "flat.root", {"ntuple": {
        "jet": ak.zip({"pt": j, "eta": j, "phi": j, "mass": j}),
        "muon": ak.zip({"px": j, "py": j, "pz": j, "e": j})}})  # fmt: skip
    assert "muons" in read_events(path).fields


def test_an_output_folder_that_cannot_be_written_is_one_line(capsys):
    """(/proc: the tests run as root, so a read-only folder would not refuse them.)"""
    from hepml.cli.main import main
    from hepml.errors import InputError
    from hepml.io.write import atomic_path

    with (
        pytest.raises(InputError, match=r"/proc/x\.root: cannot write in /proc \("),
        atomic_path("/proc/x.root"),
    ):
        pass
    assert main(["generate", "--process", "qcd", "-n", "3", "-o", "/proc/x.root"]) != 0
    err = capsys.readouterr().err
    assert "cannot write in /proc" in err
    assert "Traceback" not in err
