"""Trigger objects built from particles on flat buffers, against the same objects
composed from hepml.reco's awkward functions, in batches and one event at a time."""

from __future__ import annotations

import awkward as ak

from hepml.io import read_events
from hepml.reco.cluster import cluster, constituent_particles
from hepml.reco.smear import smear
from hepml.reco.substructure import soft_drop, substructure
from hepml.trigger.objects import ObjectsConfig, fatjets_from_particles, trigger_objects, visible


def _reference_fatjets(particles, cfg):
    jets = cluster(particles, "antikt", cfg.fatjet_radius, pt_min=cfg.fatjet_pt_min)
    jets = jets[abs(jets.eta) < cfg.fatjet_eta_max]
    members = ak.flatten(constituent_particles(particles, jets), axis=1)
    sd = soft_drop(members, radius=cfg.fatjet_radius)
    taus = substructure(members, radius=cfg.fatjet_radius)
    n = ak.num(jets)
    return jets, ak.unflatten(sd.mass, n), ak.unflatten(taus.tau21, n), ak.unflatten(taus.tau32, n)


def test_fatjets_and_visible_particles_match_the_awkward_composition(samples):
    events = read_events(samples["ttbar"])
    p = events.particles
    vis = visible(p)
    apid = abs(p.pid)
    ref_vis = p[(apid != 12) & (apid != 14) & (apid != 16)]
    assert ak.to_list(vis) == ak.to_list(ref_vis)
    assert vis.type == ref_vis.type  # same fields, dtypes and record name
    cfg = ObjectsConfig(fatjet_eta_max=1.5)  # (some jets fail the |eta| cut)
    parts = smear(vis, seed=2)
    got = fatjets_from_particles(parts, cfg)
    jets, msd, tau21, tau32 = _reference_fatjets(parts, cfg)
    assert ak.to_list(ak.num(got)) == ak.to_list(ak.num(jets))
    assert ak.sum(ak.num(got)) > 50
    for f in ("pt", "eta", "phi", "mass", "n_constituents", "constituents"):
        assert ak.to_list(got[f]) == ak.to_list(jets[f]), f
    for mine, ref in ((got.msd, msd), (got.tau21, tau21), (got.tau32, tau32)):
        assert ak.to_list(mine) == ak.to_list(ref)
    # one event at a time: the same jets as in the batch
    for ev in range(4):
        one = fatjets_from_particles(parts[ev : ev + 1], cfg)
        assert ak.to_list(one[0]) == ak.to_list(got[ev])


def test_trigger_objects_one_event_equals_the_batch(samples):
    # (unsmeared: the smearing's random stream depends on the chunk)
    events = read_events(samples["ttbar"], entry_stop=6)
    need = {"jets", "fatjets", "muons", "electrons", "photons", "met"}
    cfg = ObjectsConfig(smear=False)
    batch = trigger_objects(events, cfg, need=need, keep_particles=True)
    assert ak.sum(ak.num(batch.fatjets)) > 0
    assert ak.sum(ak.num(batch.jets)) > 0
    for ev in range(len(events)):
        one = trigger_objects(events[ev : ev + 1], cfg, need=need, keep_particles=True)
        for c in [*sorted(need), "particles"]:
            assert ak.to_list(one[c][0]) == ak.to_list(batch[c][ev]), (ev, c)


def test_trigger_leptons_include_non_isolated_ones_and_jets_stay_the_same(samples):
    """A trigger's muon seed has no isolation: the trigger lists every lepton
    candidate with ``iso`` and ``isolated`` (it listed isolated ones only, so
    ``muons.iso > 0.15`` could never pass), while the jets still lose only the
    isolated leptons; ``all_leptons: false`` gives the analysis leptons."""
    from hepml.reco.objects import ObjectConfig, reconstruct_objects

    events = read_events(samples["ttbar"])
    need = {"jets", "muons", "electrons"}
    trig = trigger_objects(events, ObjectsConfig(smear=False), need=need)
    iso_only = trigger_objects(events, ObjectsConfig.from_dict({"smear": False,
                                                                "all_leptons": False}), need=need)  # fmt: skip
    analysis = reconstruct_objects(visible(events.particles), ObjectConfig())
    for lep in ("muons", "electrons"):
        mine = trig[lep]
        assert ak.to_list(mine[mine.isolated]) == ak.to_list(analysis[lep])
        assert ak.to_list(iso_only[lep]) == ak.to_list(analysis[lep])
        assert ak.all(mine.isolated == (mine.iso < 0.15))
    assert ak.sum(~trig.muons.isolated) > 0  # (muons of b decays in ttbar)
    assert ak.to_list(trig.jets) == ak.to_list(analysis.jets)


def test_collections_read_from_files_are_sorted_by_pt(shared_data):
    """``[0]`` is the leading object: files that store objects in another order (the
    HZZ ntuple's electrons) are sorted, stably, when the trigger reads them."""
    import numpy as np

    events = read_events(shared_data / "uproot-HZZ.root")
    objs = trigger_objects(events, ObjectsConfig(), need={"electrons", "muons", "jets"})
    raw = events.electrons.pt
    assert ak.any(ak.any(raw[:, :-1] < raw[:, 1:], axis=1))  # (the file is not sorted)
    for c in ("electrons", "muons", "jets"):
        pt = objs[c].pt
        assert not ak.any(ak.any(pt[:, :-1] < pt[:, 1:], axis=1)), c
        np.testing.assert_array_equal(ak.to_numpy(ak.sort(ak.flatten(pt))),
                                      ak.to_numpy(ak.sort(ak.flatten(events[c].pt))))  # fmt: skip
    first = ak.to_numpy(ak.fill_none(ak.firsts(objs.electrons.pt), -1.0))
    want = ak.to_numpy(ak.fill_none(ak.max(events.electrons.pt, axis=1), -1.0))
    np.testing.assert_array_equal(first, want)
