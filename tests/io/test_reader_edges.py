"""Reader edge cases: empty entry ranges, mappings that read no branch, trees in
subdirectories, scalar "collections", mixed schemas with skip_bad_files, iterating a
stream twice and inspecting with a YAML mapping."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepml.cli.main import main
from hepml.errors import ConfigError, InputError
from hepml.io import inspect_file, open_events, read_events
from tests.conftest import HZZ

N = 5


def _flat_jets(n=N):
    """Jagged ``Jet_Px/Py/Pz/E`` with a ``nJet`` counter: a flat ntuple, no weight branch."""
    counts = np.arange(n) % 3
    rng = np.random.default_rng(1)
    px, py, pz = (rng.normal(size=int(counts.sum())) * 50 for _ in range(3))
    E = np.sqrt(px**2 + py**2 + pz**2) + 10.0
    jets = {k: ak.unflatten(v, counts) for k, v in zip(("Px", "Py", "Pz", "E"), (px, py, pz, E))}
    return {"Jet": ak.zip(jets)}


def _write(path, branches, tree="events", kind="ttree"):
    with uproot.recreate(path) as f:
        if kind == "ttree":
            f.mktree(tree, branches)
        else:
            f[tree] = branches  # (uproot 5.7 writes an RNTuple)
    return path


@pytest.fixture(params=["ttree", "rntuple"])
def flat(tmp_path, request):
    return _write(tmp_path / "flat.root", _flat_jets(), kind=request.param)


# ------------------------------------------------------------------ 1: empty ranges


def test_empty_entry_range_gives_empty_array_with_the_fields(flat):
    full = read_events(flat)
    for kwargs in ({"entry_stop": 0}, {"entry_start": 3, "entry_stop": 3}):
        empty = read_events(flat, **kwargs)
        assert len(empty) == 0
        assert empty.type.content == full.type.content


def test_bad_entry_stop_is_a_config_error(flat):
    with pytest.raises(ConfigError, match=r"entry_stop must be >= 0, got -1"):
        read_events(flat, entry_stop=-1)
    with pytest.raises(ConfigError, match=r"entry_stop \(2\) is before entry_start \(4\)"):
        read_events(flat, entry_start=4, entry_stop=2)


def test_every_file_skipped_is_an_input_error(tmp_path):
    bad = tmp_path / "notes.root"
    bad.write_text("not a ROOT file\n" * 10)
    with pytest.raises(InputError, match=r"no readable input file: .*notes\.root"):
        read_events(bad, skip_bad_files=True)


# ------------------------------------------------------------------ 2: no branch read


def test_mapping_that_reads_no_branch_keeps_every_entry(flat):
    stream = open_events(flat, collections=["ids"], step_size=2)
    chunks = list(stream)
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert ak.to_list(ak.concatenate(chunks).entry) == list(range(N))
    assert stream.summary.events == N
    weights = read_events(flat, collections=["weight"])  # no weight branch: ones
    assert ak.to_list(weights.weight) == [1.0] * N
    assert set(read_events(flat, collections=[]).fields) == {"entry"}
    assert len(read_events(flat, collections=["ids"], entry_start=1, entry_stop=4)) == 3


# ------------------------------------------------------------------ 3: subdirectories


def test_tree_in_a_subdirectory_is_found_and_listed(tmp_path, capsys):
    path = _write(tmp_path / "sub.root", _flat_jets(), tree="ana/events")
    assert len(read_events(path, tree="ana/events")) == N
    assert len(read_events(path)) == N  # the only tree
    d = inspect_file(path)
    assert d.trees == {"ana/events": ("TTree", N)}
    assert d.tree == "ana/events"
    assert main(["inspect", str(path)]) == 0
    assert "ana/events [TTree, 5 entries]" in capsys.readouterr().out


# ------------------------------------------------------------------ 4: scalar branches


def test_scalar_kinematic_branches_read_as_one_object_per_entry(tmp_path):
    px, py, pz = np.array([30.0, -40.0]), np.array([40.0, 30.0]), np.array([0.0, 10.0])
    E = np.sqrt(px**2 + py**2 + pz**2) + 5.0
    path = _write(tmp_path / "scalar.root", {"Jet_Px": px, "Jet_Py": py, "Jet_Pz": pz, "Jet_E": E})
    events = read_events(path)
    assert ak.to_list(ak.num(events.jets)) == [1, 1]
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(events.jets.pt)), [50.0, 50.0])


def test_scalar_and_jagged_branches_mixed_name_the_branch(tmp_path):
    branches = {
        "Jet_Px": np.array([1.0, 2.0]),
        "Jet_Py": ak.Array([[1.0, 2.0], []]),
        "Jet_Pz": ak.Array([[1.0, 2.0], []]),
        "Jet_E": ak.Array([[5.0, 5.0], []]),
    }
    path = _write(tmp_path / "mixed.root", branches)
    with pytest.raises(
        InputError,
        match=r"mixed\.root:events entries 0-2: branch 'Jet_Px' holds one value per entry but 'Jet_E'",
    ):
        read_events(path)
    stream = open_events(path, skip_bad_files=True)
    assert list(stream) == []
    assert stream.summary.skipped[0].reason.startswith(
        f"{path}:events entries 0-2: branch 'Jet_Px'"
    )


# ------------------------------------------------------------------ 5: skip, then other schema


def _inconsistent_flat(path):
    """A flat file whose Jet_Py has fewer values than Jet_Px from entry 3 on."""
    good = ak.Array([[1.0], [2.0], [3.0], [4.0, 5.0]])
    short = ak.Array([[1.0], [2.0], [3.0], [4.0]])
    return _write(path, {"Jet_Px": good, "Jet_Py": short, "Jet_Pz": good, "Jet_E": good * 9})


def _nano(path, n=3):
    jets = ak.zip({k: ak.Array([[10.0]] * n) for k in ("pt", "eta", "phi", "mass")})
    ids = {"run": np.ones(n, np.int32), "luminosityBlock": np.ones(n, np.int32)}
    return _write(path, {**ids, "event": np.arange(n), "Jet": jets}, tree="Events")


def test_skipped_first_file_does_not_fix_the_schema(tmp_path):
    bad, nano = _inconsistent_flat(tmp_path / "bad.root"), _nano(tmp_path / "nano.root")
    stream = open_events([bad, nano], skip_bad_files=True)
    assert sum(len(c) for c in stream) == 3
    assert [f.status for f in stream.summary.files] == ["skipped", "ok"]
    assert stream.mapping.schema == "nanoaod"


def test_schema_of_a_partly_read_skipped_file_is_named(tmp_path):
    bad, nano = _inconsistent_flat(tmp_path / "bad.root"), _nano(tmp_path / "nano.root")
    stream = open_events([bad, nano], step_size=2, skip_bad_files=True)
    assert sum(len(c) for c in stream) == 2  # entries 0-1 of bad.root, then it fails
    reason = stream.summary.files[1].reason
    assert "schema 'nanoaod' differs from 'flat' of" in reason
    assert "bad.root" in reason
    # the file that broke part-way: the events handed out before are said to be kept
    assert "SKIPPED" in str(stream.summary)
    assert "(2 events read before the break were kept)" in str(stream.summary)


def test_nothing_read_after_a_damaged_file_gives_the_good_files_fields(shared_data, tmp_path):
    """An entry range inside a skipped (damaged) file reads no event: the empty result
    has the good file's fields (it was "no readable input file", blaming the good one)."""
    data = bytearray((shared_data / HZZ).read_bytes())
    data[len(data) // 3 : len(data) // 3 + 5000] = bytes(5000)  # damaged baskets
    bad = tmp_path / "damaged.root"
    bad.write_bytes(bytes(data))
    good = _write(tmp_path / "good.root", _flat_jets())
    stream = open_events([bad, good], skip_bad_files=True, entry_start=50, entry_stop=150)
    assert sum(len(c) for c in stream) == 0
    assert [f.status for f in stream.summary.files] == ["skipped", "ok"]
    ev = read_events([bad, good], skip_bad_files=True, entry_start=50, entry_stop=150)
    assert len(ev) == 0
    assert "jets" in ev.fields


# ------------------------------------------------------------------ 6: iterate twice


def test_iterating_twice_counts_each_event_once(flat):
    stream = open_events(flat, step_size=2)
    assert sum(len(c) for c in stream) == N
    assert sum(len(c) for c in stream) == N
    assert stream.summary.events == N
    assert stream.summary.files[0].chunks == 3


# ------------------------------------------------------------------ 7: inspect with YAML


YAML = """\
tree: second
collections:
  jets:
    kind: xyze
    fields: {px: Jet_Px, py: Jet_Py, pz: Jet_Pz, E: Jet_E}
weight: EventWeight
"""


def test_inspect_takes_a_yaml_mapping(tmp_path, capsys):
    path = tmp_path / "two.root"
    with uproot.recreate(path) as f:
        f.mktree("first", {"x": np.zeros(2)})
        f.mktree("second", _flat_jets())
    mapping = tmp_path / "m.yaml"
    mapping.write_text(YAML)
    d = inspect_file(path, schema=str(mapping))
    assert d.tree == "second"
    assert d.collections["jets"][:4] == ["pt", "eta", "phi", "mass"]
    assert d.missing == ["EventWeight"]
    assert main(["inspect", "--schema", str(mapping), str(path)]) == 0
    out = capsys.readouterr().out
    assert "reading tree 'second'" in out
    assert "expected but not found: EventWeight" in out


def test_inspect_lists_the_fields_reading_gives(tmp_path):
    """particles and partons as read_events builds them (inspect listed a parton charge)."""
    from hepml.io import write_root

    counts = np.array([2, 1, 3])
    n = int(counts.sum())

    def coll(**extra):
        four = {k: ak.unflatten(np.arange(n, dtype=float) + 1, counts) for k in ("px", "py", "pz")}
        four["E"] = ak.unflatten(np.full(n, 10.0), counts)
        return ak.zip(four | {k: ak.unflatten(v, counts) for k, v in extra.items()})

    path = write_root(tmp_path / "h.root", {"events": {
        "particle": coll(pid=np.full(n, 211, np.int32), charge=np.ones(n, np.int8)),
        "parton": coll(pid=np.full(n, 6, np.int32), status=np.full(n, 22, np.int32),
                       mother=np.full(n, -1, np.int32)),
        "weight": np.ones(3),
    }})  # fmt: skip
    listed = inspect_file(path).collections
    ev = read_events(path)
    for name in ("particles", "partons"):
        assert sorted(listed[name]) == sorted(ev[name].fields), name


def test_inspect_yaml_on_real_file(shared_data, tmp_path):
    mapping = tmp_path / "hzz.yml"
    mapping.write_text(YAML.replace("second", "events"))
    d = inspect_file(shared_data / HZZ, schema=mapping)
    assert "jets" in d.collections
    assert d.missing == []


def test_a_later_file_with_branches_the_first_lacks_is_an_error(tmp_path):
    """Every file of a call is read with the first one's branches: a later file's
    weights would read as 1 without a word. An error names both files; read alone,
    the weights are there. A step size of numpy integer type counts entries."""
    jets = _flat_jets(n=250)
    first = _write(tmp_path / "first.root", jets)
    later = _write(tmp_path / "later.root", {**jets, "EventWeight": np.arange(250.0)})
    with pytest.raises(InputError, match=r"later\.root: has branch\(es\) \['EventWeight'\] "
                                         r"that .*first\.root \(read first\) has not"):  # fmt: skip
        read_events([first, later])
    assert read_events(later).weight.tolist()[:3] == [0.0, 1.0, 2.0]
    with pytest.raises(
        InputError, match=r"first\.root:events: branch\(es\) \['EventWeight'\] missing"
    ):
        read_events([later, first])  # (the other way round, as before)
    chunks = list(open_events(first, collections=["ids"], step_size=np.int64(100)))
    assert [len(c) for c in chunks] == [100, 100, 50]


def test_a_branch_named_like_a_trigger_that_is_not_one_names_itself(tmp_path):
    """Flat ntuples: ``trigger*`` branches are taken for decisions by their name; one
    that holds a list per entry (trigger objects) is an error naming it, not a bare
    awkward traceback, and reading without the triggers works."""
    jets = _flat_jets(n=4)
    objs = {"triggerObj": ak.zip({"pt": ak.Array([[30.0, 20.0], [], [5.0], []])})}
    path = _write(tmp_path / "trigobj.root", {**jets, **objs})
    with pytest.raises(InputError, match=r"trigobj\.root:events entries 0-4: branch "
                                         r"'triggerObj_pt' was taken for a trigger decision"):  # fmt: skip
        read_events(path)
    assert len(read_events(path, collections=["jets"])) == 4
