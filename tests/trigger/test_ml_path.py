"""An ML path on generated events: the trained tagger scores the leading fat jet exactly
as 'hepml predict' scores the same jet, thresholds for a target rate, latency."""

from __future__ import annotations

import itertools
import re
import time
import warnings

import awkward as ak
import numba
import numpy as np
import pytest

from hepml.trigger import Sample, emulate, menu_from_dict

pytestmark = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")


@pytest.fixture(scope="module")
def tagger(jet_rows, tmp_path_factory):
    from hepml.train import fit, load_config

    out = tmp_path_factory.mktemp("tagger")
    cfg = load_config(overrides={
        "data": {"files": [str(jet_rows["top"]), str(jet_rows["qcd"])]},
        "model": {"name": "particlenet-lite", "k": 4, "conv_params": [[8, 8], [16, 16]],
                  "fc_params": [[16, 0.1]]},
        "epochs": 1, "batch_size": 16, "device": "cpu", "output": str(out)})  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(cfg)
    return out / "best.pt"


def _menu(model, seed_cut="jets.pt[0] > 180", **ml):
    return menu_from_dict({
        "luminosity": 2e34, "objects": {"smear": False},
        "seeds": {"L1_Jet180": seed_cut},
        "paths": {
            "HLT_AK8_PNet": {"seed": "L1_Jet180", "cut": "fatjets.pt[0] > 200",
                             "model": str(model), **ml},
            "HLT_AK8_SD30": {"seed": "L1_Jet180", "cut": "fatjets.msd[0] > 30",
                             "variable": "fatjets.pt[0]", "threshold": 300},
        }})  # fmt: skip


def test_ml_path_scores_equal_hepml_predict(tagger, samples, jet_rows):
    from hepml.graphs.jets import load_rows
    from hepml.train import load_checkpoint, predict_rows

    menu = _menu(tagger, threshold=0.5)
    res = emulate(menu, [Sample("qcd", [str(samples["qcd"])]),
                         Sample("top", [str(samples["ttbar"])], "signal")])  # fmt: skip
    top = res.samples["top"]
    scores = top.value["HLT_AK8_PNet"]
    has = np.isfinite(scores)
    assert has.sum() > 20
    assert np.all((scores[has] >= 0) & (scores[has] <= 1))
    assert not np.any(has & ~top.cut["HLT_AK8_PNet"])  # scored only where the cut passed
    expected = top.pre["HLT_AK8_PNet"] & (np.nan_to_num(scores, nan=-1) > 0.5)
    np.testing.assert_array_equal(top.decision["HLT_AK8_PNet"], expected)
    # the same jets through 'hepml predict': rows of jet_index 0 (the leading jet)
    rows = load_rows(jet_rows["top"])
    lead = rows[rows.jet_index == 0]
    want = predict_rows(load_checkpoint(tagger), lead, device="cpu")
    entry = ak.to_numpy(lead.entry)
    got = scores[entry]
    same = np.isfinite(got)
    assert same.sum() > 10
    np.testing.assert_allclose(got[same], want[same], atol=1e-5)


def test_ml_target_rate_and_same_rate_comparison(tagger, samples, monkeypatch):
    from hepml.trigger.latency import OBJECTS, TOTAL, _one_thread, measure_latency

    menu = _menu(tagger, target_rate_hz=50.0, compare_with=["HLT_AK8_SD30"])
    sig = Sample("top", [str(samples["ttbar"])], "signal")
    res = emulate(menu, [Sample("qcd", [str(samples["qcd"])]), sig])
    p = res.paths["HLT_AK8_PNet"]
    assert p.solved is not None
    assert p.threshold == p.solved.value
    assert p.backend in ("onnx", "torchscript")
    (comp,) = res.comparisons
    assert comp["path"] == "HLT_AK8_PNet"
    assert comp["signal"] == "top"
    (row,) = comp["against"]
    assert row["rate_hz"] <= p.rate_hz + 1e-9  # the cut path set to the same (or lower) rate
    assert comp["ratio"] == pytest.approx(comp["efficiency"] / row["efficiency"])
    threads = numba.get_num_threads()
    lat = measure_latency(menu, sig, events=5, batch_events=20, scorers=res.scorers,
                          budget_ms=1e-6)  # fmt: skip
    assert {OBJECTS, TOTAL, "HLT_AK8_PNet", "L1_Jet180"} <= set(lat)
    assert lat["HLT_AK8_PNet"].p99_ms >= lat["HLT_AK8_PNet"].p50_ms > 0
    assert lat[TOTAL].over_budget
    # the menu total counts a path only on the events its seed let through (it summed
    # every path on every event); each path's share is reported
    fired = res.samples["top"].cut["L1_Jet180"][:5]
    assert lat["HLT_AK8_PNet"].ran_fraction == pytest.approx(fired.mean())
    assert lat["L1_Jet180"].ran_fraction == lat[TOTAL].ran_fraction == 1.0
    never = _menu(tagger, seed_cut="jets.pt[0] > 1e9", threshold=0.5)
    lat = measure_latency(never, sig, events=5, batch_events=20, scorers=res.scorers)
    assert lat["HLT_AK8_PNet"].ran_fraction == lat["HLT_AK8_SD30"].ran_fraction == 0.0
    # ... and costs the total nothing: HLT paths made to take 30 ms, the total stays below
    import hepml.trigger.latency as latency_module

    real = latency_module._path_time

    def slow_hlt(p, objs, scorers):
        if p.level == "HLT":
            time.sleep(0.03)
        return real(p, objs, scorers)

    monkeypatch.setattr(latency_module, "_path_time", slow_hlt)
    lat = measure_latency(never, sig, events=3, batch_events=5, scorers=res.scorers, warmup=0)
    assert lat["HLT_AK8_SD30"].p50_ms >= 30.0
    assert lat[TOTAL].p99_ms < 30.0
    monkeypatch.undo()
    # events one by one run Numba's kernels on one thread; the setting is given back
    assert numba.get_num_threads() == threads
    with _one_thread():
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == threads


def test_best_of_two_leading_jets(tagger, samples):
    from hepml.io import read_events
    from hepml.trigger.ml import MLScorer
    from hepml.trigger.objects import ObjectsConfig, trigger_objects

    events = read_events(samples["ttbar"], entry_stop=40)
    objs = trigger_objects(events, ObjectsConfig(smear=False), need={"fatjets"},
                           keep_particles=True)  # fmt: skip
    s0, s1, best = (MLScorer(tagger, o, backend="torchscript").score(objs)
                    for o in ("fatjets[0]", "fatjets[1]", "fatjets[:2]"))  # fmt: skip
    np.testing.assert_allclose(best, np.fmax(s0, s1), atol=1e-6)
    two = ak.to_numpy(ak.num(objs.fatjets)) >= 2
    assert two.sum() > 5
    assert np.all(np.isfinite(best[two]))


def test_onnx_batches_bound_padded_size_and_keep_scores(tagger, samples):
    """ONNX runs the padded form: batches are cut so that jets x longest jet stays under
    max_padded (ONNX Runtime's arena kept 4 GB per path with 512-jet batches); the scores
    do not depend on how the jets are batched."""
    pytest.importorskip("onnxruntime")
    from hepml.io import read_events
    from hepml.trigger.ml import MLScorer
    from hepml.trigger.objects import ObjectsConfig, trigger_objects

    events = read_events(samples["ttbar"], entry_stop=60)
    objs = trigger_objects(events, ObjectsConfig(smear=False), need={"fatjets"},
                           keep_particles=True)  # fmt: skip
    small = MLScorer(tagger, "fatjets[0]", backend="onnx", max_padded=300)
    counts = np.array([120, 30, 90, 10, 200, 5, 5, 5])
    batches = small._batches(counts)
    assert batches[0][0] == 0 and batches[-1][1] == len(counts)  # noqa: PT018
    assert all(a[1] == b[0] for a, b in itertools.pairwise(batches))  # consecutive, no gaps
    for lo, hi in batches:
        assert (hi - lo) * counts[lo:hi].max() <= 300 or hi - lo == 1
    big = MLScorer(tagger, "fatjets[0]", backend="onnx", max_padded=10**7)
    ts = MLScorer(tagger, "fatjets[0]", backend="torchscript")
    got, want, ref = small.score(objs), big.score(objs), ts.score(objs)
    assert np.isfinite(got).sum() > 20
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_inputs_equal_jet_particle_features_of_that_jet(tagger, samples):
    """The flat-buffer inputs are the training features of fatjets[i], event by event
    (events without an i-th jet get none), also for one event at a time and none."""
    import torch

    from hepml.io import read_events
    from hepml.reco.features import jet_particle_features
    from hepml.trigger.ml import MLScorer
    from hepml.trigger.objects import ObjectsConfig, trigger_objects

    events = read_events(samples["ttbar"], entry_stop=40)
    objs = trigger_objects(events, ObjectsConfig(), need={"fatjets"}, keep_particles=True)
    scorer = MLScorer(tagger, "fatjets[0]", backend="torchscript")
    for index, limit in ((0, None), (1, None), (1, 20)):
        scorer.max_particles = limit
        x, pos, counts = scorer.inputs(objs, index)
        jets = objs.fatjets[:, index : index + 1]
        ref = jet_particle_features(objs.particles, jets, limit)
        want_counts = ak.to_numpy(ak.sum(ak.num(ref, axis=2), axis=1))
        np.testing.assert_array_equal(counts, want_counts)
        assert (counts > 0).sum() > 10
        flat = ak.flatten(ak.flatten(ref, axis=1), axis=1)
        want = np.stack([ak.to_numpy(flat[f]) for f in scorer.features], 1).astype(np.float32)
        np.testing.assert_array_equal(x.numpy(), want)
        np.testing.assert_array_equal(pos.numpy()[:, 0], ak.to_numpy(flat.deta).astype(np.float32))
        np.testing.assert_array_equal(pos.numpy()[:, 1], ak.to_numpy(flat.dphi).astype(np.float32))
    scorer.max_particles = None
    x0, _, c0 = scorer.inputs(objs, 0)
    one = [scorer.inputs(objs[i : i + 1], 0) for i in range(len(objs))]
    assert torch.equal(torch.cat([o[0] for o in one]), x0)
    assert np.array_equal(np.concatenate([o[2] for o in one]), c0)
    x, pos, counts = scorer.inputs(objs[:0], 0)
    assert x.shape == (0, len(scorer.features))
    assert counts.shape == (0,)


@pytest.fixture(scope="module")
def event_model(samples, tmp_path_factory):
    """A small event GNN trained on the session's ttbar and QCD events (event rows)."""
    from hepml.reco.pipeline import ReconstructConfig, reconstruct
    from hepml.train import fit, load_config

    out = tmp_path_factory.mktemp("event_model")
    cfg = ReconstructConfig(level="events")
    files = []
    for name in ("ttbar", "qcd"):
        files.append(str(out / f"{name}.parquet"))
        reconstruct([samples[name]], files[-1], cfg)
    train = load_config(overrides={
        "data": {"files": files}, "epochs": 1, "batch_size": 16, "device": "cpu",
        "model": {"name": "event-gnn", "conv_params": [[8, 8]], "fc_params": [[8, 0.1]]},
        "output": str(out / "run")})  # fmt: skip
    fit(train)
    return {"model": out / "run" / "best.pt", "rows": files}


def test_event_path_scores_equal_hepml_predict_on_event_rows(event_model, samples):
    """object: event scores the graph of all the event's objects exactly as 'hepml
    predict' scores that event's row of 'hepml reconstruct --level events': batched,
    under a cut, and one event at a time."""
    from hepml.graphs.jets import load_rows
    from hepml.io import read_events
    from hepml.train import load_checkpoint, predict_rows
    from hepml.trigger.ml import EventScorer, scorer
    from hepml.trigger.objects import ObjectsConfig, trigger_objects

    rows = load_rows(event_model["rows"][0])  # the ttbar events, unsmeared
    want = predict_rows(load_checkpoint(event_model["model"]), rows, device="cpu")
    events = read_events(samples["ttbar"])
    assert np.array_equal(ak.to_numpy(rows.entry), ak.to_numpy(events.entry))
    need = {"jets", "electrons", "muons", "photons", "met"}
    objs = trigger_objects(events, ObjectsConfig(smear=False), need=need)
    s = scorer(event_model["model"], "event")
    assert isinstance(s, EventScorer)
    assert s.backend == "torchscript"  # the event GNN has no ONNX form
    got = s.score(objs)
    np.testing.assert_allclose(got, want, atol=1e-6)
    _, counts = s.inputs(objs)
    assert np.array_equal(counts, ak.to_numpy(ak.num(rows.objects)))
    mask = np.arange(len(events)) % 3 == 1
    part = s.score(objs, mask)
    assert np.all(np.isnan(part[~mask]))
    np.testing.assert_allclose(part[mask], want[mask], atol=1e-6)
    for i in (0, 7):
        one = trigger_objects(events[i : i + 1], ObjectsConfig(smear=False), need=need)
        np.testing.assert_allclose(s.score(one), want[i : i + 1], atol=1e-6)
    assert np.all(np.isnan(s.score(objs, np.zeros(len(events), bool))))


def test_event_path_in_a_menu_and_wrong_models(event_model, tagger, samples):
    """A menu path with object: event reads the objects (not the particles), solves its
    threshold and is timed; a jet tagger cannot score events nor an event model jets."""
    from hepml.errors import ConfigError
    from hepml.trigger.latency import measure_latency
    from hepml.trigger.ml import MLScorer, scorer

    menu = _menu(event_model["model"], object="event", target_rate_hz=50.0)
    assert menu.paths["HLT_AK8_PNet"].object == "event"
    assert {"jets", "electrons", "muons", "photons", "met"} <= menu.collections()
    assert not menu.needs_particles
    sig = Sample("top", [str(samples["ttbar"])], "signal")
    res = emulate(menu, [Sample("qcd", [str(samples["qcd"])]), sig])
    p = res.paths["HLT_AK8_PNet"]
    assert p.backend == "torchscript"
    assert p.solved is not None
    top = res.samples["top"]
    scores = top.value["HLT_AK8_PNet"]
    np.testing.assert_array_equal(np.isfinite(scores), top.cut["HLT_AK8_PNet"])
    lat = measure_latency(menu, sig, events=3, batch_events=10, scorers=res.scorers)
    assert lat["HLT_AK8_PNet"].p50_ms > 0
    with pytest.raises(ConfigError, match=r"jet tagger .* object: event needs an event-level"):
        scorer(tagger, "event")
    with pytest.raises(ConfigError, match="event-level model, not a jet tagger"):
        MLScorer(event_model["model"], "fatjets[0]")
    with pytest.raises(ConfigError, match=r"object: 'events' is not supported"):
        _menu(event_model["model"], object="events", threshold=0.5)
    for wrong in ("jets[0]", "muons[0]", "fatjets[-1]"):  # (the library's own check)
        with pytest.raises(ConfigError, match=f"object '{re.escape(wrong)}': a jet tagger"):
            MLScorer(tagger, wrong)


def test_ml_path_builds_inputs_as_the_training_rows_were_built(samples, tmp_path):
    """The particle cap of the training rows (hepml reconstruct --max-particles) comes
    with the model, so the trigger cuts its jets alike (it was looked up in a config key
    that never exists: every constituent went in); a menu whose fat jets are made
    otherwise than the training jets (smeared, another radius) gets a note."""
    from hepml.io import read_events
    from hepml.reco.pipeline import ReconstructConfig, reconstruct
    from hepml.train import fit, load_checkpoint, load_config
    from hepml.trigger.ml import MLScorer, training_reconstruction
    from hepml.trigger.objects import ObjectsConfig, trigger_objects

    cfg = ReconstructConfig(pt_min=150.0, pt_max=3000.0, eta_max=2.5, max_particles=10)
    files = [str(tmp_path / "top.parquet"), str(tmp_path / "qcd.parquet")]
    reconstruct([samples["ttbar"]], files[0], cfg)
    reconstruct([samples["qcd"]], files[1], cfg)
    train = load_config(overrides={
        "data": {"files": files}, "epochs": 1, "batch_size": 16, "device": "cpu",
        "model": {"name": "pfn", "phi_sizes": [8], "f_sizes": [8]},
        "output": str(tmp_path / "run")})  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(train)
    model = tmp_path / "run" / "best.pt"
    ckpt = load_checkpoint(model)
    assert ckpt["reco"]["max_particles"] == 10
    assert ckpt["reco"]["smear"] is False
    scorer = MLScorer(model, "fatjets[0]", backend="torchscript")
    assert scorer.max_particles == 10
    events = read_events(samples["ttbar"], entry_stop=20)
    objs = trigger_objects(events, ObjectsConfig(smear=False), need={"fatjets"},
                           keep_particles=True)  # fmt: skip
    _, _, counts = scorer.inputs(objs, 0)
    assert counts.max() == 10
    # a checkpoint from before the settings were stored: read from the training files
    old = {k: v for k, v in ckpt.items() if k != "reco"}
    assert training_reconstruction(old)["max_particles"] == 10
    # fat jets made otherwise than the training jets: said, not silently scored
    menu = _menu(model, threshold=0.5)
    quiet = emulate(menu, [Sample("qcd", [str(samples["qcd"])])], max_events=20)
    assert quiet.notes == []
    menu.objects.smear = True
    menu.objects.fatjet_radius = 1.0
    loud = emulate(menu, [Sample("qcd", [str(samples["qcd"])])], max_events=20)
    assert any("trained on jets with smear = False" in n for n in loud.notes)
    assert any("radius = 0.8, the menu's fat jets have radius = 1.0" in n for n in loud.notes)
