"""Small hand-made inputs for the trigger tests: hepml-layout files with jets, muons,
MET, generator weights and a runinfo tree, so every rate can be computed by hand."""

from __future__ import annotations

import itertools

import awkward as ak
import numpy as np
import pytest

from hepml.io.write import write_root

SIGMA_PB = 2.0e6  # cross-section written into runinfo


def make_objects_file(
    path, n=400, seed=3, weighted=True, sigma_pb=SIGMA_PB, runinfo=True, pthat=None, chunks=1,
    skimmed=1.0, nan_weight_at=None,
):  # fmt: skip
    """A file in hepml's layout holding reconstructed jets, muons and MET (no particles).

    ``pthat=(lo, hi)`` writes that pT-hat range into runinfo (hi -1: no upper
    limit); ``chunks`` writes the events in that many baskets; ``skimmed=f``
    writes a runinfo whose sum of weights is ``1/f`` times the events' (as if a
    skim had kept the fraction ``f``)."""
    rng = np.random.default_rng(seed)
    nj = rng.integers(0, 6, n)
    nm = rng.integers(0, 3, n)
    jet_pt = rng.exponential(60.0, nj.sum()) + 20.0
    jets = ak.unflatten(jet_pt, nj)
    jets = jets[ak.argsort(jets, axis=1, ascending=False)]
    k = int(nj.sum())
    muons_pt = rng.exponential(15.0, nm.sum())
    events = {
        "jet": ak.zip({"pt": jets, "eta": ak.unflatten(rng.normal(0, 1.5, k), nj),
                       "phi": ak.unflatten(rng.uniform(-3, 3, k), nj),
                       "mass": ak.unflatten(np.full(k, 5.0), nj)}),
        "muon": ak.zip({"pt": ak.unflatten(muons_pt, nm),
                        "eta": ak.unflatten(np.zeros(nm.sum()), nm),
                        "phi": ak.unflatten(np.zeros(nm.sum()), nm),
                        "mass": ak.unflatten(np.full(nm.sum(), 0.105), nm)}),
        # no particles: the objects above are what the trigger sees
        "particle": ak.zip({f: ak.unflatten(np.zeros(0), np.zeros(n, dtype=np.int64))
                            for f in ("px", "py", "pz", "E", "pid", "charge")}),
        "met_pt": rng.exponential(40.0, n),
        "met_phi": rng.uniform(-3, 3, n),
        "weight": rng.uniform(0.2, 3.0, n) if weighted else np.ones(n),
        "run": np.ones(n, dtype=np.int64),
        "event": np.arange(n, dtype=np.int64),
    }  # fmt: skip
    if nan_weight_at is not None:
        events["weight"][nan_weight_at] = np.nan
    trees = {"events": events}
    if chunks > 1:
        edges = np.linspace(0, n, chunks + 1).astype(int)
        trees["events"] = iter(
            [{k: v[a:b] for k, v in events.items()} for a, b in itertools.pairwise(edges)]
        )
    if runinfo:
        trees["runinfo"] = {
            "process": np.array(["qcd"]), "cross_section_pb": np.array([sigma_pb]),
            "cross_section_error_pb": np.array([0.01 * sigma_pb]),
            "events_tried": np.array([n]), "events_accepted": np.array([n]),
            "sum_weights": np.array([np.nansum(events["weight"]) / skimmed]), "seed": np.array([seed]),
            "generator": np.array(["hand-made"]),
        }  # fmt: skip
        if pthat is not None:
            trees["runinfo"]["pthat_min"] = np.array([float(pthat[0])])
            trees["runinfo"]["pthat_max"] = np.array([float(pthat[1])])
    write_root(path, trees)
    return events


@pytest.fixture(scope="session")
def objects_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("trigger") / "bg.root"
    events = make_objects_file(path)
    return path, events


@pytest.fixture(scope="session")
def signal_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("trigger") / "sig.root"
    events = make_objects_file(path, n=200, seed=9, weighted=False, runinfo=False)
    return path, events
