"""Delphes layout, user YAML mappings and schema detection."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot
import vector

from hepml.errors import ConfigError
from hepml.io import detect_schema, load_mapping, read_events
from tests.conftest import HZZ


@pytest.fixture
def delphes_file(tmp_path):
    """A tree laid out as Delphes writes it: ``Name.Field`` branches, ``Name_size`` counters."""
    rng = np.random.default_rng(3)

    def coll(n_per_event, fields):
        counts = np.asarray(n_per_event)
        return {
            f: ak.unflatten(rng.uniform(lo, hi, counts.sum()), counts)
            for f, (lo, hi) in fields.items()
        }

    kin = {"PT": (1, 50), "Eta": (-2, 2), "Phi": (-3, 3)}
    data = {
        "Event": ak.zip({"Number": ak.Array([[1], [2]]), "Weight": ak.Array([[0.5], [1.5]])}),
        "EFlowTrack": ak.zip(
            {
                **coll([3, 1], kin),
                "Charge": ak.Array([[1, -1, 1], [-1]]),
                "PID": ak.Array([[211, -211, 321], [-11]]),
            }
        ),
        "EFlowPhoton": ak.zip(
            coll([2, 0], {"ET": (1, 10), "Eta": (-2, 2), "Phi": (-3, 3), "E": (20, 30)})
        ),
        "EFlowNeutralHadron": ak.zip(
            coll([1, 1], {"ET": (1, 10), "Eta": (-2, 2), "Phi": (-3, 3), "E": (20, 30)})
        ),
        "Jet": ak.zip(
            {
                **coll([2, 1], kin),
                "Mass": ak.Array([[5.0, 6.0], [7.0]]),
                "BTag": ak.Array([[1, 0], [0]]),
                # not one number per jet in real files (here a stand-in of each name):
                # a fixed-size array, whose "[" uproot would read as a glob pattern,
                # and ROOT's TObject members
                "FracPt[5]": ak.Array([[0.5, 0.4], [0.3]]),
                "fUniqueID": ak.Array([[0, 0], [0]]),
            }
        ),
        "Muon": ak.zip(
            {
                **coll([0, 1], kin),
                "Charge": ak.Array([[], [1]]),
                "IsolationVar": ak.Array([[], [0.1]]),
            }
        ),
        "MissingET": ak.zip(coll([1, 1], {"MET": (10, 20), "Phi": (-3, 3)})),
    }
    path = tmp_path / "delphes.root"
    with uproot.recreate(path) as f:
        f.mktree(
            "Delphes",
            data,
            counter_name=lambda name: f"{name}_size",
            field_name=lambda outer, inner: f"{outer}.{inner}",
        )
    return path, data


def test_delphes_particles_merge_tracks_photons_and_neutral_hadrons(delphes_file):
    path, data = delphes_file
    assert detect_schema(uproot.open(path)["Delphes"].keys()) == "delphes"
    events = read_events(path)
    assert ak.to_list(ak.num(events.particles)) == [6, 2]
    # tracks first, then photons, then neutral hadrons; pT preserved
    pt = ak.to_numpy(ak.flatten(events.particles.pt))
    ref = np.concatenate(
        [
            ak.to_numpy(
                ak.flatten(
                    ak.concatenate(
                        [
                            data["EFlowTrack"].PT,
                            data["EFlowPhoton"].ET,
                            data["EFlowNeutralHadron"].ET,
                        ],
                        axis=1,
                    )
                )
            )
        ]
    )
    np.testing.assert_allclose(pt, ref, rtol=1e-9)
    assert ak.to_list(events.particles.pid) == [[211, -211, 321, 22, 22, 130], [-11, 130]]
    assert ak.to_list(events.particles.charge) == [[1, -1, 1, 0, 0, 0], [-1, 0]]
    # towers keep their energy
    np.testing.assert_allclose(
        ak.to_numpy(events.particles.E[0][3:5]), ak.to_numpy(data["EFlowPhoton"].E[0])
    )
    assert ak.to_list(events.jets.mass) == [[5.0, 6.0], [7.0]]
    assert ak.to_list(events.jets.bTag) == [[1, 0], [0]]
    assert events.jets.fields == ["pt", "eta", "phi", "mass", "bTag"]
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(events.muons.mass)), [0.1056583755])
    assert ak.to_list(events.weight) == [0.5, 1.5]
    assert ak.to_list(events.event) == [1, 2]
    assert len(events.met.pt) == 2


def test_delphes_generator_particles_keep_the_final_state(tmp_path):
    """A Delphes file without EFlow gives its generator record, which lists every
    particle of the decay chains (a top, its W, the quarks and the hadrons): only
    status 1 is the final state; the rest counted each chain twice (a 523 GeV top
    made a fat jet of 1047 GeV)."""
    data = {
        "Event": ak.zip({"Number": ak.Array([[1], [2]])}),
        "Particle": ak.zip({
            "PID": ak.Array([[6, 211, -211, 22], [2212, 13]]),
            "Status": ak.Array([[62, 1, 1, 1], [4, 1]]),
            "Charge": ak.Array([[1, 1, -1, 0], [1, -1]]),
            "Px": ak.Array([[100.0, 50.0, 30.0, 20.0], [0.0, 5.0]]),
            "Py": ak.Array([[0.0, 1.0, -1.0, 0.0], [0.0, 1.0]]),
            "Pz": ak.Array([[10.0, 5.0, 3.0, 2.0], [6500.0, 1.0]]),
            "E": ak.Array([[210.0, 51.0, 31.0, 21.0], [6500.0, 5.2]]),
        }),
    }  # fmt: skip
    path = tmp_path / "delphes_gen.root"
    with uproot.recreate(path) as f:
        f.mktree("Delphes", data, counter_name=lambda name: f"{name}_size",
                 field_name=lambda outer, inner: f"{outer}.{inner}")  # fmt: skip
    events = read_events(path)
    assert ak.to_list(events.particles.pid) == [[211, -211, 22], [13]]
    assert ak.to_list(ak.num(events.particles)) == [3, 1]
    np.testing.assert_allclose(ak.to_numpy(ak.sum(events.particles.px, axis=1)), [100.0, 5.0])


def test_yaml_mapping_reads_like_the_builtin_flat_schema(tmp_path, shared_data):
    spec = tmp_path / "hzz.yaml"
    spec.write_text(
        """
tree: events
collections:
  muons:
    kind: xyze
    counter: NMuon
    fields: {px: Muon_Px, py: Muon_Py, pz: Muon_Pz, E: Muon_E, charge: Muon_Charge}
met: {kind: xy, fields: {px: MET_px, py: MET_py}}
weight: EventWeight
triggers: {IsoMu24: triggerIsoMu24}
"""
    )
    mine = read_events(shared_data / HZZ, schema=spec)
    builtin = read_events(shared_data / HZZ, collections=["muons", "met", "weight", "triggers"])
    assert set(mine.fields) == {"muons", "met", "weight", "triggers", "entry"}
    for f in ("pt", "eta", "phi", "charge"):
        assert ak.array_equal(mine.muons[f], builtin.muons[f])
    assert ak.array_equal(mine.met.pt, builtin.met.pt)
    assert ak.array_equal(mine.weight, builtin.weight)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("collections: {}", "needs a top-level 'tree'"),
        ("tree: t\ncolections: {}", "unknown key"),
        (
            "tree: t\ncollections: {jets: {kind: xyze, fields: {px: a}}}",
            r"lacks \['py', 'pz', 'E'\]",
        ),
        ("tree: t\ncollections: {jets: {kind: cartesian, fields: {}}}", "kind is 'cartesian'"),
        # a collection's transverse-only kind, MET's four-momentum kind (bare KeyErrors)
        (
            "tree: t\ncollections: {jets: {kind: ptphi, fields: {pt: a, phi: b}}}",
            r"collections.jets.kind is 'ptphi'; use one of \['xyze', 'ptetaphim', 'ptetaphie'\]",
        ),
        (
            "tree: t\nmet: {kind: xyze, fields: {px: a, py: b, pz: c, E: d}}",
            r"met.kind is 'xyze'; use one of \['ptphi', 'xy'\]",
        ),
        (
            "tree: t\ncollections: {cars: {kind: xyze, fields: {}}}",
            "collections.cars is not one of",
        ),
        ("tree: [unclosed", "not valid YAML"),
    ],
)
def test_bad_yaml_mappings_name_the_key(tmp_path, text, message):
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_mapping(spec)
    assert "bad.yaml" in str(err.value)


def test_detection_signatures():
    assert detect_schema(["particle_px", "particle_pid", "nparticle"]) == "hepml"
    assert detect_schema(["run", "luminosityBlock", "event", "nJet", "Jet_pt"]) == "nanoaod"
    assert detect_schema(["Event.Number", "Particle.PT"]) == "delphes"
    assert detect_schema(["Jet_Px", "Jet_Py", "Jet_Pz", "Jet_E"]) == "flat"
    assert detect_schema(["x", "y"]) is None


def test_pfnano_candidates_become_particles(tmp_path):
    rng = np.random.default_rng(1)
    counts = np.array([3, 0, 2])
    n = counts.sum()
    pf = {
        "pt": rng.uniform(1, 20, n),
        "eta": rng.uniform(-2, 2, n),
        "phi": rng.uniform(-3, 3, n),
        "mass": np.array([0.1396, 0.0, 0.4937, 0.1396, 0.0]),
        "pdgId": np.array([211, 22, -321, -211, 130], dtype=np.int32),
        "charge": np.array([1, 0, -1, -1, 0], dtype=np.int32),
    }
    path = tmp_path / "pfnano.root"
    with uproot.recreate(path) as f:
        f.mktree(
            "Events",
            {
                "run": np.ones(3, np.int32),
                "luminosityBlock": np.ones(3, np.int32),
                "event": np.arange(3, dtype=np.int64),
                "PFCands": ak.zip({k: ak.unflatten(v, counts) for k, v in pf.items()}),
            },
            counter_name=lambda name: f"n{name}",
        )
    events = read_events(path)
    assert ak.to_list(ak.num(events.particles)) == [3, 0, 2]
    ref = vector.array({"pt": pf["pt"], "eta": pf["eta"], "phi": pf["phi"], "mass": pf["mass"]})
    p = ak.flatten(events.particles)
    np.testing.assert_allclose(ak.to_numpy(p.px), ref.px, rtol=1e-12)
    np.testing.assert_allclose(ak.to_numpy(p.pz), ref.pz, rtol=1e-12)
    np.testing.assert_allclose(ak.to_numpy(p.E), ref.E, rtol=1e-12)
    assert ak.to_list(p.pid) == [211, 22, -321, -211, 130]
    assert ak.to_list(p.charge) == [1, 0, -1, -1, 0]
