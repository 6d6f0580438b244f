"""Reading ROOT files that hepml did not write (../shared/data)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot
import vector

from hepml.io import inspect_file, open_events, read_events
from tests.conftest import HZZ, HZZ_ZSTD, NANOAOD, RNTUPLE

pytestmark = pytest.mark.realdata


@pytest.mark.parametrize(
    ("name", "step"), [(NANOAOD, 37), (RNTUPLE, 3), (HZZ, 500), (HZZ_ZSTD, 500)]
)
def test_chunks_concatenate_to_whole_file(shared_data, name, step):
    path = shared_data / name
    whole = read_events(path, step_size=10**9)
    chunks = list(open_events(path, step_size=step))
    assert len(chunks) == -(-len(whole) // step)
    joined = ak.concatenate(chunks)
    assert ak.array_equal(joined, whole, equal_nan=True)
    assert ak.to_list(joined.entry) == list(range(len(whole)))


@pytest.mark.parametrize("name", [NANOAOD, RNTUPLE])
def test_nanoaod_collections_match_raw_branches(shared_data, name):
    path = shared_data / name
    events = read_events(path)
    raw = uproot.open(path)["Events"].arrays(
        filter_name=["Jet_pt", "Muon_eta", "MET_pt", "event", "HLT_IsoMu20"]
    )
    assert ak.to_list(events.jets.pt) == ak.to_list(raw.Jet_pt)
    assert ak.to_list(events.muons.eta) == ak.to_list(raw.Muon_eta)
    assert ak.to_list(events.met.pt) == ak.to_list(raw.MET_pt)
    assert ak.to_list(events.event) == ak.to_list(raw.event)
    assert ak.to_list(events.triggers.HLT_IsoMu20) == ak.to_list(raw.HLT_IsoMu20)
    # vector behaviours: px from (pt, phi)
    np.testing.assert_allclose(
        ak.to_numpy(ak.flatten(events.jets.px)),
        ak.to_numpy(ak.flatten(raw.Jet_pt * np.cos(events.jets.phi))),
        rtol=1e-6,
    )
    assert events.fatjets.fields[:4] == ["pt", "eta", "phi", "mass"]
    assert {"tau1", "tau2", "tau3"} <= set(events.fatjets.fields)


def test_rntuple_agrees_with_ttree_content_types(shared_data):
    tt = read_events(shared_data / NANOAOD, collections=["jets", "met"])
    rn = read_events(shared_data / RNTUPLE, collections=["jets", "met"])
    assert tt.fields == rn.fields
    assert set(tt.jets.fields) == set(rn.jets.fields)


def test_flat_ntuple_kinematics_against_vector(shared_data):
    events = read_events(shared_data / HZZ)
    raw = uproot.open(shared_data / HZZ)["events"].arrays(
        filter_name=["Muon_Px", "Muon_Py", "Muon_Pz", "Muon_E", "MET_px", "MET_py"]
    )
    ref = vector.zip({"px": raw.Muon_Px, "py": raw.Muon_Py, "pz": raw.Muon_Pz, "E": raw.Muon_E})
    for ours, theirs in (
        (events.muons.pt, ref.pt),
        (events.muons.eta, ref.eta),
        (events.muons.phi, ref.phi),
    ):
        np.testing.assert_allclose(
            ak.to_numpy(ak.flatten(ours)), ak.to_numpy(ak.flatten(theirs)), rtol=1e-6
        )
    np.testing.assert_allclose(
        ak.to_numpy(ak.flatten(events.muons.mass)),
        ak.to_numpy(ak.flatten(np.maximum(ref.tau, 0))),
        rtol=1e-4,
        atol=1e-3,
    )
    np.testing.assert_allclose(
        ak.to_numpy(events.met.pt), np.hypot(raw.MET_px, raw.MET_py), rtol=1e-6
    )
    assert events.triggers.fields == ["IsoMu24"]
    assert float(ak.sum(events.weight)) > 0


def test_zstd_and_zlib_files_read_the_same(shared_data):
    a = read_events(shared_data / HZZ)
    b = read_events(shared_data / HZZ_ZSTD)
    assert ak.to_list(a) == ak.to_list(b)


def test_many_files_stream_in_order_with_provenance(shared_data):
    paths = [shared_data / HZZ, shared_data / HZZ_ZSTD]
    stream = open_events(paths, step_size=1000)
    infos = [info for _, info in stream.with_info()]
    assert [i.file for i in infos] == [str(paths[0])] * 3 + [str(paths[1])] * 3
    assert [(i.entry_start, i.entry_stop) for i in infos[:3]] == [
        (0, 1000),
        (1000, 2000),
        (2000, 2421),
    ]
    assert stream.summary.events == 2 * 2421
    # a global entry range spans the two files
    part = read_events(paths, entry_start=2400, entry_stop=2450)
    assert len(part) == 50
    assert ak.to_list(part.entry[:21]) == list(range(2400, 2421))
    assert ak.to_list(part.entry[21:]) == list(range(0, 29))


def test_only_needed_branches_are_read(shared_data):
    stream = open_events(shared_data / NANOAOD, collections=["met"], extras=False)
    events = next(iter(stream))
    assert set(events.fields) == {"met", "entry"}
    assert stream.mapping.branches() == ["MET_pt", "MET_phi"]
    with_ids = read_events(shared_data / NANOAOD, collections=["jets", "ids"], extras=False)
    assert set(with_ids.jets.fields) == {"pt", "eta", "phi", "mass"}
    assert {"run", "lumi", "event", "entry"} <= set(with_ids.fields)


@pytest.mark.parametrize("name", [NANOAOD, RNTUPLE, HZZ, HZZ_ZSTD])
def test_inspect_describes_every_real_file(shared_data, name):
    d = inspect_file(shared_data / name)
    assert d.schema == ("flat" if "HZZ" in name else "nanoaod")
    assert d.entries == (2421 if "HZZ" in name else (10 if name == RNTUPLE else 200))
    assert "jets" in d.collections
    assert d.collections["jets"][:4] == ["pt", "eta", "phi", "mass"]
    # (the RNTuple file's pages are zstd though the file's own setting says zlib)
    assert d.compression.startswith("ZSTD" if "zstd" in name or name == RNTUPLE else "ZLIB")
