"""``hepml demo`` end to end on tiny sizes: every stage runs and the summary is printed."""

from __future__ import annotations

import json

import pytest

from hepml.cli.main import main

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--events", "250", "--trigger-events", "400", "--signal-events", "200",
                 "--epochs", "1", "--seed", "3", "--output-dir", str(out), "-q"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    for needle in ("particlenet-lite", "pfn", "substructure-bdt", "AUC", "HLT_PFHT1050",
                   "HLT_AK8PFJet300_ParticleNetTop", "HLT total rate", "eff zprime"):  # fmt: skip
        assert needle in text
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == {"particlenet-lite", "pfn", "substructure-bdt"}
    # the trigger's own tagger: jets of 300-1000 GeV, partly merged tops counted as tops,
    # more top jets than the benchmark rule finds in the same events
    from hepml.reco.pipeline import read_provenance

    tm = summary["trigger_model"]
    assert tm["top_match"] == "partial"
    assert tm["jets"] == "300-1000 GeV"
    made = read_provenance(out / "jets" / "top_jets_trigger.parquet")
    assert made["config"]["top_match"] == "partial"
    assert made["config"]["pt_min"] == 300
    assert made["inputs"][0].endswith("ttbar_trigger.root")  # (pT-hat > 300, as its QCD)
    assert read_provenance(out / "jets" / "top_jets.parquet")["config"]["top_match"] == "full"
    assert tm["path"].endswith("particlenet-lite-trigger/best.pt")
    assert summary["jets"]["trigger_top"] > summary["jets"]["top"]
    assert "the trigger's ParticleNet-Lite:" in text
    for m in summary["models"].values():
        assert 0.0 <= m["auc"] <= 1.0
    # a few hundred jets and one epoch: only the BDT is sure to have learned much
    assert summary["models"]["substructure-bdt"]["auc"] > 0.6
    paths = summary["trigger"]["paths"]
    assert len([p for p in paths.values() if p["level"] == "HLT"]) >= 8
    assert paths["HLT_PFHT1050"]["rate_hz"] > 0
    assert 0 < paths["HLT_AK8PFJet300_ParticleNetTop"]["eff_zprime"] <= 1
    for png in ("evaluation/roc.png", "evaluation/rejection.png",
                "trigger/plots/rate_HLT_AK8PFJet300_ParticleNetTop.png",
                "trigger/plots/turnon_HLT_PFHT1050.png"):  # fmt: skip
        assert (out / png).stat().st_size > 10_000
    assert (out / "trigger" / "decisions" / "qcd.root").exists()
    # a second run into the same folder starts afresh (it failed: the trainers refuse
    # a folder holding a run); a folder holding anything else, or a file, is refused
    from hepml.demo import _fresh_folder
    from hepml.errors import ConfigError

    (out / ".DS_Store").write_text("")  # (hidden files of the desktop do not count)
    _fresh_folder(out)
    assert out.is_dir()
    assert sorted(p.name for p in out.iterdir()) == [".DS_Store", ".hepml-demo"]
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"holds notes\.txt, which no earlier demo run wrote"):
        _fresh_folder(out)
    assert (out / "notes.txt").read_text() == "mine"
    assert main(["demo", "--output-dir", str(out / "notes.txt"), "-q"]) == 2
    assert "is a file" in capsys.readouterr().err
    # a user's own events/ and models/ are never taken for a demo run's
    mine = tmp_path / "analysis"
    (mine / "events").mkdir(parents=True)
    (mine / "events" / "run2018.root").write_text("data")
    with pytest.raises(ConfigError, match="holds events, which no earlier demo run wrote"):
        _fresh_folder(mine)
    assert (mine / "events" / "run2018.root").read_text() == "data"


def test_bad_demo_options_are_refused_before_the_earlier_run_is_removed(tmp_path, capsys):
    """Every option is checked (the generators' too) before the previous demo's folder
    is emptied: a bad --seed or too many --jobs for a small sample lose nothing."""
    from hepml.demo import DemoConfig, run_demo
    from hepml.errors import ConfigError

    out = tmp_path / "demo"
    out.mkdir()
    (out / ".hepml-demo").write_text("")
    (out / "summary.json").write_text("{}")  # (an earlier run's)
    cases = [({"seed": -1}, r"--seed must be >= 0"),
             ({"signal_events": 1}, r"--jobs \(2\) exceeds --signal-events \(1\)"),
             ({"trigger_events": 1, "jobs": 2}, r"--jobs \(2\) exceeds --trigger-events \(1\)")]  # fmt: skip
    for kwargs, message in cases:
        with pytest.raises(ConfigError, match=message):
            run_demo(DemoConfig(**kwargs), out)
        assert (out / "summary.json").exists()
    assert main(["demo", "--seed", "-3", "--output-dir", str(out), "-q"]) == 2
    assert "--seed must be >= 0" in capsys.readouterr().err
    assert (out / "summary.json").exists()
