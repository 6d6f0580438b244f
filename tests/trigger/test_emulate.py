"""Emulation against hand computations: rates, errors, overlaps, prescales, thresholds."""

from __future__ import annotations

import json
from contextlib import nullcontext

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from hepml.cli.main import main
from hepml.errors import ConfigError, InputError
from hepml.trigger import Sample, emulate, menu_from_dict
from hepml.trigger.emulate import prescale_phase
from hepml.trigger.rates import PB_TO_CM2, solve_threshold
from hepml.trigger.report import summary_lines

from .conftest import SIGMA_PB, make_objects_file

LUMI = 2.0e34

MENU = {
    "name": "hand",
    "luminosity": LUMI,
    "seeds": {"L1_Jet50": "jets.pt[0] > 50"},
    "paths": {
        "HLT_HT150": {"seed": "L1_Jet50", "cut": "ht(jets[jets.pt > 30]) > 150"},
        "HLT_Mu20": "any(muons.pt > 20)",
        "HLT_MET100_PS3": {"cut": "met.pt > 100", "prescale": 3},
    },
}


def _hand(events, phase=None):
    """The menu's decisions by hand (sample "bg", seed 0: the prescale counter's phase)."""
    if phase is None:
        phase = prescale_phase(0, "HLT_MET100_PS3", "bg", 3)
    jets = events["jet"]
    lead = ak.to_numpy(ak.fill_none(ak.firsts(jets.pt), 0.0))
    ht = ak.to_numpy(ak.sum(jets.pt[jets.pt > 30], axis=1))
    l1 = lead > 50
    hlt_ht = l1 & (ht > 150)
    mu = ak.to_numpy(ak.any(events["muon"].pt > 20, axis=1))
    met_raw = events["met_pt"] > 100
    met = np.zeros_like(met_raw)
    count = 0
    for i, passed in enumerate(met_raw):  # the prescale counter, one event at a time
        if passed:
            count += 1
            met[i] = (count - 1 + phase) % 3 == 0
    return {"L1_Jet50": l1, "HLT_HT150": hlt_ht, "HLT_Mu20": mu, "HLT_MET100_PS3": met}


def test_rates_equal_a_hand_computation(objects_file, signal_file):
    path, events = objects_file
    res = emulate(menu_from_dict(MENU), [Sample("bg", [str(path)]),
                                         Sample("sig", [str(signal_file[0])], "signal")])  # fmt: skip
    w = events["weight"]
    r_e = LUMI * PB_TO_CM2 * SIGMA_PB * w / w.sum()  # Hz per event
    hand = _hand(events)
    for name, passed in hand.items():
        got = res.paths[name]
        assert got.rate_hz == pytest.approx(r_e[passed].sum(), rel=1e-12)
        assert got.rate_err_hz == pytest.approx(np.sqrt((r_e[passed] ** 2).sum()), rel=1e-12)
        np.testing.assert_array_equal(res.samples["bg"].decision[name], passed)
        eff = res.paths[name].efficiency["bg"][0]
        assert eff == pytest.approx(w[passed].sum() / w.sum())
    hlt = ["HLT_HT150", "HLT_Mu20", "HLT_MET100_PS3"]
    anyhlt = np.logical_or.reduce([hand[n] for n in hlt])
    assert res.total_rate_hz["HLT"][0] == pytest.approx(r_e[anyhlt].sum())  # overlaps once
    only_mu = hand["HLT_Mu20"] & ~hand["HLT_HT150"] & ~hand["HLT_MET100_PS3"]
    assert res.paths["HLT_Mu20"].unique_rate_hz == pytest.approx(r_e[only_mu].sum())
    both = hand["HLT_HT150"] & hand["HLT_Mu20"]
    i, j = res.hlt_names.index("HLT_HT150"), res.hlt_names.index("HLT_Mu20")
    assert res.overlap_hz[i, j] == pytest.approx(r_e[both].sum())
    assert res.overlap_hz[i, i] == pytest.approx(res.paths["HLT_HT150"].rate_hz)
    # the prescale keeps every third passing event, from its phase: a third of them
    n_raw = int((events["met_pt"] > 100).sum())
    first = (3 - prescale_phase(0, "HLT_MET100_PS3", "bg", 3)) % 3  # (0-based)
    assert res.samples["bg"].decision["HLT_MET100_PS3"].sum() == (n_raw + 2 - first) // 3
    # signal samples: efficiencies only, no rate
    assert res.samples["sig"].rate_hz.sum() == 0
    sig = _hand(signal_file[1])["HLT_HT150"]
    assert res.paths["HLT_HT150"].efficiency["sig"][0] == pytest.approx(sig.mean())


def test_prescaled_rates_are_right_on_average(tmp_path):
    """A counter that kept each sample's first passing event biased every prescaled
    rate high (PS 100 on three samples: 1.34x). From a phase drawn from the seed the
    counter keeps each passing event for exactly one phase in PS: right on average."""
    from hepml.trigger.emulate import _prescaled

    raw = np.random.default_rng(5).random(1000) < 0.3
    kept = np.sum([_prescaled(raw, 7, phase) for phase in range(7)], axis=0)
    np.testing.assert_array_equal(kept, raw.astype(int))  # (each passing event once)
    samples = []
    for k in range(3):
        make_objects_file(tmp_path / f"bg{k}.root", n=400, seed=40 + k)
        samples.append(Sample(f"bg{k}", [str(tmp_path / f"bg{k}.root")]))
    menu = menu_from_dict({"luminosity": LUMI, "paths": {
        "HLT_Jet": "jets.pt[0] > 30", "HLT_Jet_PS10": {"cut": "jets.pt[0] > 30", "prescale": 10}}})  # fmt: skip
    rates = [emulate(menu, samples, seed=seed).paths for seed in range(60)]
    full = rates[0]["HLT_Jet"].rate_hz
    mean = np.mean([r["HLT_Jet_PS10"].rate_hz for r in rates])
    assert mean == pytest.approx(full / 10, rel=0.12)
    again = emulate(menu, samples, seed=7).paths["HLT_Jet_PS10"].rate_hz
    assert again == rates[7]["HLT_Jet_PS10"].rate_hz  # (the same seed, the same counters)


def test_input_rate_mode(objects_file):
    path, events = objects_file
    menu = menu_from_dict({**MENU, "luminosity": None, "input_rate_hz": 1.0e5})
    res = emulate(menu, [Sample("data", [str(path)])])
    w = events["weight"]
    passed = _hand(events)["HLT_Mu20"]
    assert res.mode == "input rate"
    assert res.paths["HLT_Mu20"].rate_hz == pytest.approx(1e5 * w[passed].sum() / w.sum())


def test_target_rate_threshold_lands_within_the_statistical_error(tmp_path):
    path = tmp_path / "big.root"
    events = make_objects_file(path, n=20000, seed=5)
    menu = menu_from_dict({"luminosity": LUMI, "paths": {
        "HLT_Jet": {"variable": "jets.pt[0]", "target_rate_hz": 2000.0},
        "HLT_Jet_unreachable": {"cut": "jets.pt[0] > 300", "variable": "jets.pt[0]",
                                "target_rate_hz": 1.0e6},
        "HLT_Jet_tiny": {"variable": "jets.pt[0]", "target_rate_hz": 1.0e-3}}})  # fmt: skip
    res = emulate(menu, [Sample("bg", [str(path)])])
    p = res.paths["HLT_Jet"]
    assert p.solved.reached
    assert abs(p.rate_hz - 2000.0) <= p.rate_err_hz  # within the statistical error
    assert p.solved.low <= p.threshold <= p.solved.high
    assert p.solved.error > 0
    # a hand check of the threshold: the rate of events strictly above it
    w = events["weight"]
    r_e = LUMI * PB_TO_CM2 * SIGMA_PB * w / w.sum()
    lead = ak.to_numpy(ak.fill_none(ak.firsts(events["jet"].pt), np.nan))
    assert r_e[lead > p.threshold].sum() == pytest.approx(p.rate_hz)
    assert r_e[lead >= p.threshold].sum() > 2000.0  # one step looser is above the target
    # reported, not silently clipped
    u = res.paths["HLT_Jet_unreachable"].solved
    assert not u.reached
    assert "not reachable" in u.note
    t = res.paths["HLT_Jet_tiny"].solved
    assert not t.reached
    assert "below one background event" in t.note


def test_solve_threshold_on_ties_and_nans():
    values = np.array([5.0, 4.0, 3.0, 3.0, 2.0, np.nan])
    th = solve_threshold(values, np.ones(6), 2.5)
    assert th.value == 3.0
    assert th.rate_hz == 2.0
    assert solve_threshold(np.full(3, np.nan), np.ones(3), 1.0).note
    # a variable of few values (a count): the tie is named, not the sample size
    tied = solve_threshold(np.array([1.0, 1.0, 1.0]), np.ones(3), 2.0)
    assert not tied.reached
    assert "the highest value, 1, is shared by 3 background events (3 Hz" in tied.note
    # one event above every other: its own rate is named, not the largest of any event
    one = solve_threshold(np.array([10.0, 5.0]), np.array([3.0, 100.0]), 2.0)
    assert "below one background event's rate (3 Hz, the one with the highest value)" in one.note
    # every candidate at +inf and a target above them all: a threshold that takes them
    every = solve_threshold(np.array([np.inf, np.inf, np.nan]), np.ones(3), 5.0)
    assert np.isfinite(every.value)
    assert every.rate_hz == 2.0


def test_solved_threshold_counts_infinite_values_as_the_decision_does():
    # +inf passes every threshold (met.pt / ht(jets) of an event without jets), -inf none
    values = np.array([np.inf, 5.0, 4.0, 3.0, -np.inf, np.nan])
    for target in (1.0, 2.0, 3.0, 10.0):
        th = solve_threshold(values, np.ones(6), target)
        with np.errstate(invalid="ignore"):
            decided = np.count_nonzero(values > th.value)
        assert th.rate_hz == decided <= target
    assert solve_threshold(values, np.ones(6), 1.0).value == 5.0
    exact = solve_threshold(values, np.ones(6), 4.0)  # every candidate, exactly the target
    assert exact.reached
    assert exact.rate_hz == 4.0
    assert not solve_threshold(values, np.ones(6), 10.0).reached  # 4 events can pass


def test_bad_inputs_have_clear_errors(objects_file, shared_data, tmp_path):
    path, _ = objects_file
    with pytest.raises(ConfigError, match=r"HLT_A\.seed: no seed or path named 'L1_Nope'"):
        menu_from_dict({"paths": {"HLT_A": {"seed": "L1_Nope", "cut": "met.pt > 1"}}})
    with pytest.raises(ConfigError, match=r"<dict>: paths\.HLT_A\.seed: no seed"):
        menu_from_dict({"paths": {"HLT_A": {"seed": "L1_Nope", "cut": "met.pt > 1"}}})
    with pytest.raises(ConfigError, match=r"cycle of seeds: HLT_A -> HLT_B -> HLT_A "
                                          r"\(paths\.HLT_A\.seed, paths\.HLT_B\.seed\)"):  # fmt: skip
        menu_from_dict({"paths": {"HLT_A": {"seed": "HLT_B", "cut": "met.pt > 1"},
                                  "HLT_B": {"seed": "HLT_A", "cut": "met.pt > 1"}}})  # fmt: skip
    with pytest.raises(ConfigError, match=r"L1_A\.seed: HLT_B is an HLT path; a Level-1"):
        menu_from_dict({"seeds": {"L1_A": {"seed": "HLT_B", "cut": "met.pt > 1"}},
                        "paths": {"HLT_B": "met.pt > 2"}})  # fmt: skip
    with pytest.raises(ConfigError, match=r"HLT_A\.compare_with: a path cannot compare with"):
        menu_from_dict({"paths": {"HLT_A": {"variable": "met.pt", "threshold": 1,
                                            "compare_with": ["HLT_A"]}}})  # fmt: skip
    with pytest.raises(ConfigError, match=r"HLT_A: target_rate_hz with prescale 4: .* 1/4"):
        menu_from_dict({"paths": {"HLT_A": {"variable": "met.pt", "target_rate_hz": 5,
                                            "prescale": 4}}})  # fmt: skip
    for objects in (5, [1], "smear"):
        with pytest.raises(ConfigError, match=r"objects: must be a mapping of settings"):
            menu_from_dict({"objects": objects, "paths": {"HLT_A": "met.pt > 1"}})
    with pytest.raises(ConfigError, match=r"fatjet_pt_min: must be a finite non-negative"):
        menu_from_dict(
            {"objects": {"fatjet_pt_min": float("inf")}, "paths": {"HLT_A": "met.pt > 1"}}
        )
    with pytest.raises(ConfigError, match=r"paths.HLT_A.cut: in 'met.pt >> 1'"):
        menu_from_dict({"paths": {"HLT_A": "met.pt >> 1"}})
    with pytest.raises(ConfigError, match=r"HLT_A: unknown key\(s\) \['cutt'\]"):
        menu_from_dict({"paths": {"HLT_A": {"cutt": "met.pt > 1"}}})
    with pytest.raises(ConfigError, match="exactly one of threshold and target_rate_hz"):
        menu_from_dict({"paths": {"HLT_A": {"variable": "met.pt"}}})
    with pytest.raises(ConfigError, match="prescale: must be an integer >= 1"):
        menu_from_dict({"paths": {"HLT_A": {"cut": "met.pt > 1", "prescale": 0}}})
    for key, value in (("threshold", float("nan")), ("target_rate_hz", float("inf"))):
        with pytest.raises(ConfigError, match=rf"HLT_A\.{key}: must be a finite number"):
            menu_from_dict({"paths": {"HLT_A": {"variable": "met.pt", key: value}}})
    # names of the decision files' own columns
    for name in ("weight", "entry", "event", "score_HLT_A"):
        with pytest.raises(ConfigError, match=rf"paths\.{name}: the name is taken"):
            menu_from_dict({"paths": {name: "met.pt > 1"}})
    # a model file that is not a hepml model
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    menu = menu_from_dict({"luminosity": LUMI, "paths": {"HLT_ML": {
        "cut": "met.pt > 1", "model": str(junk), "threshold": 0.5}}})  # fmt: skip
    with pytest.raises(ConfigError, match=r"junk\.pt"):
        emulate(menu, [Sample("bg", [str(path)])])
    # a sample without a cross-section and no input rate
    nano = str(shared_data / "nanoAOD_2015_CMS_Open_Data_ttbar.root")
    menu = menu_from_dict({"luminosity": LUMI, "paths": {"HLT_J": "jets.pt[0] > 40"}})
    with pytest.raises(InputError, match=r"sample nano: no cross-section.*input_rate_hz"):
        emulate(menu, [Sample("nano", [nano])])
    # the cut refers to a field the files do not have: path, file and entries named
    menu = menu_from_dict({"luminosity": LUMI, "paths": {"HLT_J": "jets.ptt[0] > 40"}})
    with pytest.raises(ConfigError, match=r"HLT_J on .*bg.root entries 0-400: .*no field 'ptt'"):
        emulate(menu, [Sample("bg", [str(path)])])


def test_what_would_be_lost_silently_is_an_error(tmp_path):
    """A path defined twice in the YAML (plain YAML keeps the last), keys that are not
    names, and a NaN event weight (every rate NaN) are errors that say where."""
    from hepml.trigger.emulate import _ratio
    from hepml.trigger.menu import load_menu

    menu = tmp_path / "menu.yaml"
    menu.write_text(f"luminosity: {LUMI}\npaths:\n  HLT_A: jets.pt[0] > 30\n"
                    "  HLT_B: met.pt > 50\n  HLT_A: jets.pt[0] > 300\n")  # fmt: skip
    with pytest.raises(ConfigError, match=r"menu\.yaml: .*the key 'HLT_A' twice at line 5"):
        load_menu(menu)
    with pytest.raises(ConfigError, match=r"HLT_A: unknown key\(s\) \[1, 'bad'\]"):
        menu_from_dict({"paths": {"HLT_A": {1: 2, "bad": 3}}})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \[7\]"):
        menu_from_dict({7: 1, "paths": {"HLT_A": "met.pt > 1"}})
    bad = tmp_path / "nan_weight.root"
    make_objects_file(bad, n=50, nan_weight_at=17)
    ok = menu_from_dict({"luminosity": LUMI, "paths": {"HLT_A": "met.pt > 1"}})
    with pytest.raises(InputError, match=r"nan_weight\.root: entry 17: event weight nan "
                                         r"\(sample bg\)"):  # fmt: skip
        emulate(ok, [Sample("bg", [str(bad)])])
    with pytest.raises(ConfigError, match=r"--seed must be an integer between 0 and 2\*\*32"):
        emulate(ok, [Sample("bg", [str(bad)])], seed=-1)
    assert _ratio(0.3, 0.2) == pytest.approx(1.5)
    assert _ratio(0.3, 0.0) == float("inf")
    assert np.isnan(_ratio(0.0, 0.0))  # neither path keeps signal: no ratio


def test_report_is_reproducible_and_decisions_are_written(objects_file, tmp_path):
    import uproot

    from hepml.trigger.report import write_report

    path, events = objects_file
    outs = []
    for k in range(2):
        res = emulate(menu_from_dict(MENU), [Sample("bg", [str(path)])], seed=4)
        write_report(res, tmp_path / f"r{k}", plots=k == 0)
        outs.append((tmp_path / f"r{k}" / "report.json").read_text())
    assert outs[0] == outs[1]
    rep = json.loads(outs[0])
    assert rep["paths"]["HLT_Mu20"]["rate_hz"] == pytest.approx(res.paths["HLT_Mu20"].rate_hz)
    with uproot.open(tmp_path / "r0" / "decisions" / "bg.root") as f:
        t = f["decisions"].arrays(library="np")
    np.testing.assert_array_equal(t["event"], events["event"])
    np.testing.assert_array_equal(t["HLT_HT150"], _hand(events)["HLT_HT150"])
    assert (tmp_path / "r0" / "plots").exists()


def test_a_reused_report_folder_holds_only_the_new_report(objects_file, signal_file, tmp_path):
    """Files an earlier report wrote and this one does not (a sample, a path or the
    timings no longer there) are removed; the user's own files and inputs stay."""
    from hepml.trigger.latency import measure_latency
    from hepml.trigger.report import MANIFEST, write_report

    path, _ = objects_file
    sig_path, _ = signal_file
    out = tmp_path / "report"
    jet = {"variable": "jets.pt[0]", "threshold": 100.0, "turn_on": "jets.pt[0]"}
    menu = menu_from_dict(dict(MENU, paths={**MENU["paths"], "HLT_Jet": jet}))
    samples = [Sample("bg", [str(path)]), Sample("sig", [str(sig_path)], "signal")]
    res = emulate(menu, samples)
    write_report(res, out, latency=measure_latency(menu, samples[0], events=3, batch_events=50))
    first = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert {"latency.json", "decisions/sig.root", "plots/rate_HLT_Jet.png"} <= set(first)
    (out / "plots" / "mine.png").write_bytes(b"the user's own")
    # the input itself inside the folder, listed by the earlier report: kept
    (out / "decisions" / "old.root").write_bytes(path.read_bytes())
    with open(out / MANIFEST, "a") as f:
        f.write(f"decisions/old.root\n../outside.txt\n{tmp_path / 'absolute.txt'}\nlink.txt\n")
    (tmp_path / "outside.txt").write_text("not the report's")
    (tmp_path / "absolute.txt").write_text("not the report's either")
    (out / "link.txt").symlink_to(tmp_path / "absolute.txt")
    res = emulate(menu_from_dict(MENU), [Sample("bg", [str(out / "decisions" / "old.root")])])
    files = write_report(res, out)
    now = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    wrote = sorted(p.relative_to(out).as_posix() for p in files)
    assert now == sorted([*wrote, MANIFEST, "plots/mine.png", "decisions/old.root", "link.txt"])
    assert "latency.json" not in now
    assert "decisions/sig.root" not in now
    assert not any("HLT_Jet" in n for n in now)
    assert (tmp_path / "outside.txt").exists()
    assert (tmp_path / "absolute.txt").exists()  # an absolute entry, and through a link
    assert (out / MANIFEST).read_text().splitlines() == wrote


def test_same_rate_comparison_at_several_rates_and_efficiency_vs_rate(
    objects_file, signal_file, tmp_path
):
    """compare_rates_hz: both paths' thresholds are solved for each rate and the
    efficiencies equal a brute-force count; the efficiency-vs-rate curve equals, at every
    threshold, the rate and signal fraction strictly above it."""
    from hepml.trigger.emulate import efficiency_vs_rate
    from hepml.trigger.report import summary_lines, write_report

    path, events = objects_file
    sig_path, sig_events = signal_file
    menu = menu_from_dict({"luminosity": LUMI, "paths": {
        "HLT_HT": {"variable": "ht(jets[jets.pt > 30])", "target_rate_hz": 2.0e4,
                   "compare_with": ["HLT_Jet", "HLT_Never"],
                   "compare_rates_hz": [5.0e3, 2.0e4, 1.0e9]},
        "HLT_Jet": {"variable": "jets.pt[0]", "threshold": 100.0},
        # (keeps nothing: infinite thresholds and ratios, which report.json must hold
        # as strict JSON)
        "HLT_Never": {"cut": "met.pt > 1e9", "variable": "jets.pt[0]", "threshold": 1.0}}})  # fmt: skip
    res = emulate(menu, [Sample("bg", [str(path)]), Sample("sig", [str(sig_path)], "signal")])
    w = events["weight"]
    r_e = LUMI * PB_TO_CM2 * SIGMA_PB * w / w.sum()

    def values(ev):
        jets = ev["jet"]
        ht = ak.to_numpy(ak.sum(jets.pt[jets.pt > 30], axis=1))
        lead = ak.to_numpy(ak.fill_none(ak.firsts(jets.pt), np.nan))
        return {"HLT_HT": ht, "HLT_Jet": lead}

    bg, sig = values(events), values(sig_events)
    (comp,) = res.comparisons
    assert [row["target_hz"] for row in comp["scan"]] == [5.0e3, 2.0e4, 1.0e9]
    for row in comp["scan"]:
        for name, got in [("HLT_HT", row), ("HLT_Jet", row["against"]["HLT_Jet"])]:
            t = got["threshold"]
            rate_above = r_e[bg[name] > t].sum()
            assert got["rate_hz"] == pytest.approx(rate_above)
            assert rate_above <= row["target_hz"] * (1 + 1e-12)
            if got["reached"]:  # one step looser would exceed the target
                assert r_e[bg[name] >= t].sum() > row["target_hz"]
            assert got["efficiency"] == pytest.approx(np.mean(sig[name] > t))
        assert row["ratio"] == pytest.approx(
            row["efficiency"] / row["against"]["HLT_Jet"]["efficiency"]
        )
    assert not comp["scan"][-1]["reached"]  # 1 GHz: more than the whole sample
    # the curve, every point against a brute-force count
    rate, eff = efficiency_vs_rate(res, "HLT_HT", "sig")
    ht_sorted = np.sort(np.unique(bg["HLT_HT"][np.isfinite(bg["HLT_HT"])]))[::-1]
    assert len(rate) >= len(ht_sorted)
    for t in ht_sorted[:: max(1, len(ht_sorted) // 25)]:
        i = np.flatnonzero(np.isclose(rate, r_e[bg["HLT_HT"] > t].sum(), rtol=1e-12))
        assert len(i) >= 1
        assert eff[i[0]] == pytest.approx(np.mean(sig["HLT_HT"] > t))
    assert np.all(np.diff(rate) >= 0)  # looser thresholds: more rate, more signal
    assert np.all(np.diff(eff) >= -1e-15)
    # the report: one line with the ratio at each rate, and the plot
    line = next(s for s in summary_lines(res) if "best cut-based path on sig" in s)
    assert "5e+03 Hz" in line or "5000 Hz" in line
    assert "(target not reached)" in line
    files = write_report(res, tmp_path / "rep")
    png = tmp_path / "rep" / "plots" / "efficiency_vs_rate_HLT_HT_sig.png"
    assert png in files
    assert png.stat().st_size > 10_000
    text = (tmp_path / "rep" / "report.json").read_text()
    rep = json.loads(text, parse_constant=lambda c: pytest.fail(f"report.json holds {c}"))
    assert len(rep["comparisons"][0]["scan"]) == 3
    assert rep["comparisons"][0]["scan"][0]["against"]["HLT_Never"]["threshold"] == "inf"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"compare_rates_hz": [5, -1]}, r"compare_rates_hz: must be a list of positive rates"),
        ({"compare_rates_hz": "fast"}, r"compare_rates_hz: must be a list of positive rates"),
        ({"compare_rates_hz": [1, True]}, r"compare_rates_hz: must be a list of positive rates"),
        ({"compare_rates_hz": []}, r"compare_rates_hz: must be a list of positive rates"),
        ({"compare_with": [], "compare_rates_hz": [5]}, r"compare_rates_hz: needs compare_with"),
    ],
)
def test_bad_compare_rates(extra, message):
    spec = {"variable": "jets.pt[0]", "threshold": 50.0, "compare_with": ["HLT_B"], **extra}
    with pytest.raises(ConfigError, match=r"paths\.HLT_A\." + message):
        menu_from_dict({"paths": {"HLT_A": spec,
                                  "HLT_B": {"variable": "met.pt", "threshold": 1.0}}})  # fmt: skip


def _garble_basket(src, dst, which):
    """A copy of ``src`` whose events tree opens but whose basket ``which`` of
    ``event`` is garbage: reading fails from that basket's first entry on."""
    data = bytearray(src.read_bytes())
    with uproot.open(src) as f:
        branch = f["events"]["event"]  # (event numbers compress: the basket is zstd data)
        seek = int(branch.member("fBasketSeek")[which])
    keylen = int.from_bytes(data[seek + 14 : seek + 16], "big")  # (TKey's fKeylen)
    pos = seek + keylen + 9 + 4  # past the compression header and zstd's magic number
    assert data[seek + keylen : seek + keylen + 2] == b"ZS"
    data[pos : pos + 8] = b"\xff" * 8
    dst.write_bytes(bytes(data))


def _joined(*parts):
    """Events of several hand-made files (or their first entries) as one sample."""
    out = {k: ak.concatenate([p[k] for p in parts]) for k in ("jet", "muon")}
    out.update({k: np.concatenate([p[k] for p in parts]) for k in ("met_pt", "weight")})
    return out


def test_skip_bad_files(tmp_path, capsys):
    a, b = tmp_path / "a.root", tmp_path / "b.root"
    ev_a = make_objects_file(a, n=400, seed=11, chunks=4)
    ev_b = make_objects_file(b, n=400, seed=12, chunks=4)
    cut = tmp_path / "cut.root"
    cut.write_bytes(a.read_bytes()[:3000])
    broken = tmp_path / "broken.root"
    _garble_basket(b, broken, 2)  # entries 200-299 cannot be read
    menu = menu_from_dict(MENU)
    # by default the first unreadable file stops the run, naming the file and the way on
    with pytest.raises(InputError, match=r"cut\.root.*--skip-bad-files for .*hepml trigger run"):
        emulate(menu, [Sample("bg", [str(a), str(cut)])])
    with pytest.raises(InputError, match=r"broken\.root:events: entries 200-400 could not be read"):
        emulate(menu, [Sample("bg", [str(broken)])], step_size=100)
    # with skip_bad_files: each file keeps its share of the cross-section, W_f / W;
    # the events read from broken.root (its first 200) stand for the whole file
    files = [str(a), str(cut), str(broken)]
    res = emulate(menu, [Sample("bg", files)], step_size=100, skip_bad_files=True)
    s = res.samples["bg"]
    assert set(s.skipped) == {str(cut), str(broken)}
    assert "truncated or corrupt" in s.skipped[str(cut)]
    assert "skip_bad_files=True" not in s.skipped[str(cut)]  # (no advice to skip it)
    assert (s.n, s.events_from(str(a)), s.events_from(str(broken))) == (600, 400, 200)
    assert s.files_read == [str(a), str(broken)]
    read = {k: v[:200] for k, v in ev_b.items() if k in ("jet", "muon", "met_pt", "weight")}
    events = _joined(ev_a, read)
    w_a, w_b = ev_a["weight"].sum(), ev_b["weight"].sum()  # (runinfo's sums of weights)
    scaled = np.concatenate([ev_a["weight"], read["weight"] * (w_b / read["weight"].sum())])
    r_e = LUMI * PB_TO_CM2 * SIGMA_PB * scaled / (w_a + w_b)
    for name, passed in _hand(events).items():
        assert res.paths[name].rate_hz == pytest.approx(r_e[passed].sum(), rel=1e-12)
        assert res.paths[name].rate_err_hz == pytest.approx(np.sqrt((r_e[passed] ** 2).sum()))
        np.testing.assert_array_equal(s.decision[name], passed)
    assert s.rate_hz.sum() == pytest.approx(LUMI * PB_TO_CM2 * SIGMA_PB, rel=1e-12)
    # broken.root's bin is known (its runinfo reads) and has events; cut.root's is not
    assert len(s.notes) == 1
    assert "pT-hat range of cut.root cannot be told" in s.notes[0]
    # a file skipped whole changes nothing: the same rates as without it
    alone = emulate(menu, [Sample("bg", [str(a)])])
    again = emulate(menu, [Sample("bg", [str(a), str(cut)])], skip_bad_files=True)
    for name, p in alone.paths.items():
        assert again.paths[name].rate_hz == pytest.approx(p.rate_hz, rel=1e-12)
    # a file without run information cannot make rates: skipped, its events left out
    norun = tmp_path / "norun.root"
    make_objects_file(norun, n=100, seed=15, runinfo=False)
    bars = []  # refused before any event is read: no progress bar was opened

    def progress(desc, total):
        bars.append(desc)
        return nullcontext(lambda n=1: None)

    with pytest.raises(InputError, match=r"sample bg: no cross-section.*norun\.root: no 'run"):
        emulate(menu, [Sample("bg", [str(a), str(norun)])], progress=progress)
    assert bars == []
    res = emulate(menu, [Sample("bg", [str(a), str(norun)])], skip_bad_files=True)
    assert res.samples["bg"].n == 400
    why = res.samples["bg"].skipped[str(norun)]
    assert why.startswith(f"{norun}: no 'runinfo' tree")
    assert why.endswith("the 100 events read from it are left out")
    for name, p in alone.paths.items():
        assert res.paths[name].rate_hz == pytest.approx(p.rate_hz, rel=1e-12)
        assert res.paths[name].efficiency["bg"][0] == pytest.approx(p.efficiency["bg"][0])
    # a pT-hat bin none of whose events can be read is reported, not silently lost
    lo, hi, hi_bad = (tmp_path / f"{x}.root" for x in ("lo", "hi", "hi_bad"))
    make_objects_file(lo, n=400, seed=13, pthat=(100, 300))
    make_objects_file(hi, n=400, seed=14, sigma_pb=1.0e5, pthat=(300, -1), chunks=4)
    _garble_basket(hi, hi_bad, 0)
    res = emulate(menu, [Sample("bg", [str(lo), str(hi_bad)])], skip_bad_files=True)
    s = res.samples["bg"]
    assert s.n == 400
    assert len(s.notes) == 1
    assert (
        "no events of pT-hat bin [300, inf) GeV were read; its 1e+05 pb are missing" in (s.notes[0])
    )
    assert s.rate_hz.sum() == pytest.approx(LUMI * PB_TO_CM2 * SIGMA_PB, rel=1e-12)
    # nothing readable is an error naming the files, not an empty report
    with pytest.raises(InputError, match=r"sample bg: none of its 2 file\(s\) could be read"):
        emulate(menu, [Sample("bg", [str(cut), str(hi_bad)])], skip_bad_files=True)
    # the command line: --skip-bad-files, the skipped files in the summary and the report
    path = tmp_path / "menu.yaml"
    path.write_text(yaml.safe_dump({**MENU, "luminosity": float(LUMI)}))
    out = tmp_path / "report"
    code = main(["--quiet", "trigger", "run", "--menu", str(path), "--sample",
                 "bg=" + ",".join(files), "-o", str(out), "--skip-bad-files", "--no-plots",
                 "--latency-events", "5"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "sample bg: files skipped: 2 of 3" in text
    assert f"{cut}: " in text
    report = json.loads((out / "report.json").read_text())
    assert set(report["samples"]["bg"]["skipped"]) == {"cut.root", "broken.root"}
    assert report["samples"]["bg"]["events"] == 400  # (chunks of 2000: broken.root gave none)


def test_max_events_rates_per_pthat_bin(tmp_path):
    """With max_events the events read from each pT-hat bin stand for that bin; a bin
    none of whose events were read is reported."""
    lo, hi = tmp_path / "lo.root", tmp_path / "hi.root"
    ev_lo = make_objects_file(lo, n=400, seed=21, pthat=(100, 300))
    ev_hi = make_objects_file(hi, n=400, seed=22, sigma_pb=1.0e5, pthat=(300, -1))
    menu = menu_from_dict(MENU)
    sample = Sample("bg", [str(lo), str(hi)])
    res = emulate(menu, [sample], max_events=600)
    s = res.samples["bg"]
    assert (s.n, s.notes) == (600, [])
    w_lo, w_hi = ev_lo["weight"], ev_hi["weight"][:200]
    sigma = np.concatenate([SIGMA_PB * w_lo / w_lo.sum(), 1.0e5 * w_hi / w_hi.sum()])
    r_e = LUMI * PB_TO_CM2 * sigma
    first = {k: v[:200] for k, v in ev_hi.items() if k in ("jet", "muon", "met_pt", "weight")}
    for name, passed in _hand(_joined(ev_lo, first)).items():
        assert res.paths[name].rate_hz == pytest.approx(r_e[passed].sum(), rel=1e-12)
    # every event read: the same rates as without max_events
    full = emulate(menu, [sample])
    again = emulate(menu, [sample], max_events=800)
    for name, p in full.paths.items():
        assert again.paths[name].rate_hz == pytest.approx(p.rate_hz, rel=1e-12)
    # the high bin not reached: its cross-section is missing, and the report says so
    res = emulate(menu, [sample], max_events=300)
    (note,) = res.samples["bg"].notes
    assert "no events of pT-hat bin [300, inf) GeV were read; its 1e+05 pb are missing" in note
    assert res.samples["bg"].rate_hz.sum() == pytest.approx(LUMI * PB_TO_CM2 * SIGMA_PB)
    assert f"sample bg: {note}" in summary_lines(res)
    # a skim read whole keeps sigma * w / W of its runinfo: what the skim removed stays out
    skim = tmp_path / "skim.root"
    ev_skim = make_objects_file(skim, n=400, seed=21, pthat=(100, 300), skimmed=0.5)
    res = emulate(menu, [Sample("bg", [str(skim), str(hi)])], max_events=600)
    w_skim = ev_skim["weight"]
    r_e = (
        LUMI
        * PB_TO_CM2
        * np.concatenate([SIGMA_PB * w_skim / (2 * w_skim.sum()), 1.0e5 * w_hi / w_hi.sum()])
    )
    for name, passed in _hand(_joined(ev_skim, first)).items():
        assert res.paths[name].rate_hz == pytest.approx(r_e[passed].sum(), rel=1e-12)
    # a skim read in part: its events stand for the skim's stored events (their weights'
    # sum), not for the events generated before the skim (the runinfo's sum: rates 1/f)
    whole = emulate(menu, [Sample("bg", [str(skim)])])
    part = emulate(menu, [Sample("bg", [str(skim)])], max_events=200)
    w_part = w_skim[:200]
    r_e = LUMI * PB_TO_CM2 * SIGMA_PB * w_part / (2 * w_part.sum())
    half = {k: v[:200] for k, v in ev_skim.items() if k in ("jet", "muon", "met_pt", "weight")}
    for name, passed in _hand(half).items():
        assert part.paths[name].rate_hz == pytest.approx(r_e[passed].sum(), rel=1e-12)
    total = LUMI * PB_TO_CM2 * SIGMA_PB / 2
    assert part.samples["bg"].rate_hz.sum() == pytest.approx(total, rel=1e-12)
    assert whole.samples["bg"].rate_hz.sum() == pytest.approx(total, rel=1e-12)


def test_efficiencies_of_pthat_bins_and_samples_given_as_globs(tmp_path):
    """An efficiency on a sample of pT-hat bins weighs each bin by its cross-section,
    as its rate does (the generator weights alone counted a bin of 10^3 pb as much as
    one of 10^6 pb), and so do its efficiency-vs-rate curve and turn-on weights; a
    library Sample given a glob expands it, so that each file keeps its own index (its
    smearing seed, its share of the cross-section with max_events)."""
    from hepml.trigger.emulate import efficiency_vs_rate

    lo, hi = tmp_path / "lo.root", tmp_path / "hi.root"
    ev_lo = make_objects_file(lo, n=300, seed=31, sigma_pb=1.0e6, pthat=(100, 300))
    ev_hi = make_objects_file(hi, n=300, seed=32, sigma_pb=1.0e3, pthat=(300, -1))
    menu = menu_from_dict(MENU)
    listed = Sample("bg", [str(hi), str(lo)])
    globbed = Sample("bg", [str(tmp_path / "[hl][io].root")])
    assert globbed.files == listed.files
    for sample, max_events in ((listed, None), (globbed, None), (globbed, 450)):
        res = emulate(menu, [sample], max_events=max_events)
        s = res.samples["bg"]
        assert sorted(set(s.ids["file_index"].tolist())) == [0, 1]
        for name, p in res.paths.items():
            eff = p.efficiency["bg"][0]
            assert eff == pytest.approx(s.rate_hz[s.decision[name]].sum() / s.rate_hz.sum())
            assert eff == pytest.approx(p.rate_hz / s.rate_hz.sum(), rel=1e-12)
    # the hand computation, both files read whole
    res = emulate(menu, [listed])
    r_e = np.concatenate(
        [
            1.0e3 * ev_hi["weight"] / ev_hi["weight"].sum(),
            1.0e6 * ev_lo["weight"] / ev_lo["weight"].sum(),
        ]
    )
    for name, passed in _hand(_joined(ev_hi, ev_lo)).items():
        assert res.paths[name].efficiency["bg"][0] == pytest.approx(r_e[passed].sum() / r_e.sum())
    # a signal sample of two bins: the same cross-section weights in its efficiencies
    with_var = {
        **MENU,
        "paths": {**MENU["paths"], "HLT_MET": {"variable": "met.pt", "threshold": 50}},
    }
    both = [Sample("bg", [str(hi), str(lo)]), Sample("sg", [str(hi), str(lo)], "signal")]
    sig = emulate(menu_from_dict(with_var), both)
    for p in sig.paths.values():
        if p.path.prescale == 1:  # (a prescale counts from each sample's own phase)
            assert p.efficiency["sg"][0] == pytest.approx(p.efficiency["bg"][0], rel=1e-12)
    rate, eff = efficiency_vs_rate(sig, "HLT_MET", "sg")
    assert eff == pytest.approx(rate / sig.samples["bg"].rate_hz.sum(), rel=1e-9)
    assert eff[-1] > 0.5 > eff[0]


def test_smeared_objects_do_not_depend_on_the_chunk_size(samples):
    """Smearing is seeded per (seed, file, entry): the same decisions and values
    whatever the step size (it was seeded per chunk)."""
    menu = menu_from_dict({"luminosity": LUMI, "objects": {"smear": True}, "paths": {
        "HLT_Jet": {"variable": "jets.pt[0]", "threshold": 450.0},
        "HLT_HT": "ht(jets[jets.pt > 30]) > 900"}})  # fmt: skip
    runs = [
        emulate(menu, [Sample("qcd", [str(samples["qcd"])])], seed=3, step_size=step)
        for step in (2000, 7)
    ]
    a, b = (r.samples["qcd"] for r in runs)
    np.testing.assert_array_equal(a.value["HLT_Jet"], b.value["HLT_Jet"])
    for name in ("HLT_Jet", "HLT_HT"):
        np.testing.assert_array_equal(a.decision[name], b.decision[name])
    other = emulate(menu, [Sample("qcd", [str(samples["qcd"])])], seed=4, step_size=7)
    assert not np.array_equal(a.value["HLT_Jet"], other.samples["qcd"].value["HLT_Jet"])
