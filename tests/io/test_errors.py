"""Bad input: one clear error naming the file (tree, branch, entries) and what to do."""

from __future__ import annotations

import shutil

import awkward as ak
import numpy as np
import pytest
import uproot

from hepml.errors import InputError
from hepml.io import open_events, read_events
from tests.conftest import HZZ, NANOAOD


def _write(path, branches, tree="events"):
    with uproot.recreate(path) as f:
        f.mktree(tree, branches)
    return path


def test_path_that_does_not_exist(tmp_path):
    missing = tmp_path / "nope.root"
    with pytest.raises(InputError, match=r"nope\.root: no such file"):
        read_events(missing)
    with pytest.raises(InputError, match=r"no file matches"):
        read_events(str(tmp_path / "*.root"))


def test_file_name_with_glob_characters_is_that_file(tmp_path):
    from hepml.io.reader import expand_paths

    named, lookalike = tmp_path / "run[1].root", tmp_path / "run1.root"
    named.write_bytes(b"x")
    # alone: the file is found (it was "no file matches this pattern")
    assert expand_paths(str(named)) == [str(named)]
    # with a file the pattern matches: still the named file (run1.root was read instead)
    lookalike.write_bytes(b"y")
    assert expand_paths([named]) == [str(named)]
    # a pattern that is no file is still a pattern
    assert expand_paths(str(tmp_path / "run*.root")) == [str(lookalike), str(named)]


def test_file_that_is_not_root(tmp_path):
    bad = tmp_path / "notes.root"
    bad.write_text("these are not the bytes you are looking for\n" * 10)
    with pytest.raises(InputError, match=r"notes\.root: not a ROOT file"):
        read_events(bad)
    for text in ("hello\n", ""):  # (short: uproot took them for cut ROOT files)
        bad.write_text(text)
        with pytest.raises(InputError, match=r"notes\.root: not a ROOT file \(it does not"):
            read_events(bad)


def test_truncated_root_file(tmp_path, samples):
    cut = tmp_path / "cut.root"
    data = samples["ttbar"].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.root.*(truncated|corrupt)") as err:
        read_events(cut)
    assert "\n" not in str(err.value)


def test_missing_tree(samples):
    with pytest.raises(InputError, match=r"no tree 'Nope'.*it has: \['events', 'runinfo'\]"):
        read_events(samples["ttbar"], tree="Nope")


def test_required_branch_missing(tmp_path):
    path = _write(
        tmp_path / "partial.root",
        {"particle": ak.zip({"px": ak.Array([[1.0]])}), "weight": np.ones(1)},
    )
    with pytest.raises(
        InputError,
        match=r"partial\.root:events: schema 'hepml' needs collection 'particles'.*particle_py",
    ):
        read_events(path, schema="hepml")


def test_collection_asked_for_but_absent(shared_data):
    with pytest.raises(
        InputError,
        match=r"found no branches for collection\(s\) \['particles'\].*particle-level inputs are needed here",
    ):
        read_events(shared_data / NANOAOD, collections=["particles"])


def test_zero_entries_is_an_empty_result(tmp_path):
    path2 = _write(
        tmp_path / "empty2.root",
        {
            "particle": ak.zip({k: ak.Array([[1]])[:0] for k in ("px", "py", "pz", "E", "pid")}),
            "weight": np.ones(0),
        },
    )
    stream = open_events(path2)
    chunks = list(stream)
    assert len(chunks) == 1
    assert len(chunks[0]) == 0
    assert set(chunks[0].particles.fields) >= {"px", "py", "pz", "E", "pid", "charge"}
    assert stream.summary.files[0].status == "empty"
    assert stream.summary.events == 0


def test_files_of_different_schemas_in_one_call(shared_data):
    with pytest.raises(InputError, match=r"schema 'flat' differs from 'nanoaod'"):
        read_events([shared_data / NANOAOD, shared_data / HZZ])


def test_count_branch_disagrees_with_content(tmp_path):
    pt = ak.Array([[10.0, 20.0], [30.0], []])
    path = tmp_path / "counts.root"
    with uproot.recreate(path) as f:
        f.mktree(
            "Events",
            {
                "run": np.ones(3, np.int32),
                "luminosityBlock": np.ones(3, np.int32),
                "event": np.arange(3, dtype=np.int64),
                "nJet": np.array([2, 2, 0], np.int32),  # wrong at entry 1
                "Jet_pt": pt,
                "Jet_eta": pt * 0,
                "Jet_phi": pt * 0,
                "Jet_mass": pt * 0,
            },
        )
    with pytest.raises(
        InputError, match=r"counts\.root:Events.*'nJet' says 2 at entry 1 but 'Jet_pt' holds 1"
    ):
        read_events(path)


def test_fields_of_one_collection_disagree(tmp_path):
    path = tmp_path / "ragged.root"
    with uproot.recreate(path) as f:
        f.mktree(
            "events",
            {
                "Jet_Px": ak.Array([[1.0], [2.0]]),
                "Jet_Py": ak.Array([[1.0], [2.0, 3.0]]),
                "Jet_Pz": ak.Array([[1.0], [2.0]]),
                "Jet_E": ak.Array([[5.0], [9.0]]),
            },
        )
    with pytest.raises(InputError, match=r"ragged\.root:events.*'Jet_Py' has 2 values at entry 1"):
        read_events(path)


def test_skip_bad_files_goes_on_and_reports(tmp_path, shared_data):
    good1 = tmp_path / "a.root"
    shutil.copy(shared_data / HZZ, good1)
    bad = tmp_path / "b.root"
    bad.write_bytes(b"garbage" * 100)
    good2 = tmp_path / "c.root"
    shutil.copy(shared_data / HZZ, good2)
    missing = tmp_path / "d.root"
    stream = open_events([good1, bad, good2, missing], skip_bad_files=True, step_size=1000)
    total = sum(len(c) for c in stream)
    assert total == 2 * 2421
    s = stream.summary
    assert [f.status for f in s.files] == ["ok", "skipped", "ok", "skipped"]
    assert [f.events for f in s.files] == [2421, 0, 2421, 0]
    assert "not a ROOT file" in s.files[1].reason
    assert "no such file" in s.files[3].reason
    text = str(s)
    assert f"SKIPPED {bad}: not a ROOT file" in text
    assert "2 skipped" in text
    assert "skip_bad_files=True" not in text  # (no advice to skip what was skipped)


def test_without_skip_a_bad_file_stops_the_read(tmp_path, shared_data):
    bad = tmp_path / "b.root"
    bad.write_bytes(b"garbage" * 100)
    with pytest.raises(InputError, match=r"b\.root"):
        read_events([shared_data / HZZ, bad])


def test_unknown_schema_and_collection_names(shared_data):
    from hepml.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown schema 'cms'"):
        open_events(shared_data / HZZ, schema="cms")
    with pytest.raises(ConfigError, match=r"unknown collection\(s\) \['jetz'\]"):
        read_events(shared_data / HZZ, collections=["jetz"])


def test_a_file_named_twice_is_refused(shared_data, tmp_path):
    """Read twice, its events would count double against runinfo's cross-section."""
    hzz = shared_data / HZZ
    with pytest.raises(InputError, match=r"is given twice; each input file may be named once"):
        read_events([hzz, hzz])
    link = tmp_path / "same.root"
    link.symlink_to(hzz)
    with pytest.raises(InputError, match=r"are the same file"):
        read_events([hzz, link])


@pytest.mark.parametrize("step", ["100MBs", "5", 0.5, 0, "0 MB"])
def test_a_bad_step_size_is_the_call_s_error_not_the_file_s(shared_data, step):
    from hepml.errors import ConfigError

    with pytest.raises(ConfigError, match="step_size"):
        open_events(shared_data / HZZ, step_size=step, skip_bad_files=True)
