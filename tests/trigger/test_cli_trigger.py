"""``hepml trigger run`` and ``hepml trigger compare`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from hepml.cli.main import main

MENU = {
    "name": "cli",
    "luminosity": "2e34",
    "seeds": {"L1_Jet50": "jets.pt[0] > 50"},
    "paths": {
        "HLT_HT150": {"seed": "L1_Jet50", "cut": "ht(jets[jets.pt > 30]) > 150",
                      "turn_on": "ht(jets[jets.pt > 30])"},
        "HLT_Jet_10kHz": {"variable": "jets.pt[0]", "target_rate_hz": 1.0e4},
        "HLT_Mu20": "any(muons.pt > 20)",
    },
}  # fmt: skip


@pytest.fixture
def menu_file(tmp_path):
    path = tmp_path / "menu.yaml"
    path.write_text(yaml.safe_dump(MENU))
    return path


def test_trigger_run_writes_the_report(menu_file, objects_file, signal_file, tmp_path, capsys):
    out = tmp_path / "report"
    code = main(["trigger", "run", "--menu", str(menu_file), "--sample",
                 f"bg={objects_file[0]}", "--sample", f"sig={signal_file[0]}", "--signal", "sig",
                 "-o", str(out), "--latency-events", "5", "--latency-budget-ms", "1000", "-q"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    for name in ("HLT_HT150", "HLT_Jet_10kHz", "HLT_Mu20", "eff sig", "HLT total rate"):
        assert name in text
    rep = json.loads((out / "report.json").read_text())
    assert rep["paths"]["HLT_Jet_10kHz"]["solved"]["reached"] is True
    assert (
        abs(rep["paths"]["HLT_Jet_10kHz"]["rate_hz"] - 1e4)
        <= rep["paths"]["HLT_Jet_10kHz"]["rate_err_hz"]
    )
    lat = json.loads((out / "latency.json").read_text())
    assert lat["HLT_HT150"]["p99_ms"] > 0
    for png in ("rate_HLT_Jet_10kHz.png", "turnon_HLT_HT150.png"):
        assert (out / "plots" / png).stat().st_size > 10_000
    assert (out / "decisions" / "bg.root").exists()
    assert (out / "decisions" / "sig.root").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sample", "bg"], "write NAME=FILES"),
        (["--sample", "bg=/nonexistent/*.root"], "no file matches"),
        (["--signal", "nope"], "--signal nope: no --sample"),
        (["--set", "paths.HLT_Mu20.cut=muons.__class__"], "no names starting with _"),
        (["--set", "paths.HLT_Nope.cut=1"], "no 'HLT_Nope' in the menu"),
        (["--model", "pn.pt"], "has no ML path that scores fat jets"),
        (["--set", "paths.HLT_Mu20.cut=@muons"], "the value is not valid YAML"),
        (["-o", "/proc/no-such-report"], "cannot make this folder"),
    ],
)
def test_bad_arguments_are_one_line(menu_file, objects_file, extra, message, capsys):
    argv = ["trigger", "run", "--menu", str(menu_file), "--latency-events", "0"]
    if not any(e.startswith("bg") for e in extra):
        argv += ["--sample", f"bg={objects_file[0]}"]
    code = main(argv + extra)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_set_switches_a_path_between_threshold_and_target_rate(tmp_path):
    from hepml.errors import ConfigError
    from hepml.trigger import load_menu

    menu = tmp_path / "m.yaml"
    menu.write_text(
        "luminosity: 1.0e+34\npaths:\n"
        "  HLT_Rate: {variable: met.pt, target_rate_hz: 10, description: x}\n"
        "  HLT_Fixed: {variable: met.pt, threshold: 50}\n"
    )
    m = load_menu(menu, {"paths.HLT_Rate.threshold": 80, "paths.HLT_Fixed.target_rate_hz": 5})
    assert (m.paths["HLT_Rate"].threshold, m.paths["HLT_Rate"].target_rate_hz) == (80.0, None)
    assert (m.paths["HLT_Fixed"].threshold, m.paths["HLT_Fixed"].target_rate_hz) == (None, 5.0)
    # null removes a key
    assert load_menu(menu, {"paths.HLT_Rate.description": None}).paths["HLT_Rate"].description == ""
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="a menu is a mapping"):
        load_menu(empty, {"luminosity": 1e34})


def test_help_examples_use_the_built_in_menus(capsys):
    from hepml.cli.ui import parse_set
    from hepml.trigger import load_menu

    with pytest.raises(SystemExit):
        main(["trigger", "run", "--help"])
    text = capsys.readouterr().out
    assert "--menu demo " in text
    sets = [w for w in text.split() if w.startswith("paths.HLT_AK8") and "=" in w]
    assert sets
    load_menu("demo", dict(parse_set(sets, "x")))  # the example's path exists


def test_help_has_examples(capsys):
    for argv in (["trigger", "--help"], ["trigger", "run", "--help"],
                 ["trigger", "compare", "--help"]):  # fmt: skip
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert "example" in out
        assert "hepml trigger" in out


def test_compare_command_on_nanoaod(shared_data, tmp_path):
    nano = shared_data / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
    proc = subprocess.run(
        [sys.executable, "-m", "hepml.cli.main", "trigger", "compare", "--menu", "nanoaod_2015",
         str(nano), "-o", str(tmp_path / "cmp")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "HLT_PFJet40_emulated" in proc.stdout
    assert "agreement" in proc.stdout
    rows = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert {r["recorded"] for r in rows} >= {"HLT_PFJet40", "HLT_IsoMu20"}


def test_compare_skips_bad_files_when_asked(shared_data, tmp_path, capsys):
    """A truncated copy among the inputs: by default the run stops and names the file
    and the way on; with --skip-bad-files the good file's events are compared."""
    nano = shared_data / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
    cut = tmp_path / "cut.root"
    cut.write_bytes(nano.read_bytes()[:5000])
    args = ["trigger", "compare", "--menu", "nanoaod_2015", str(nano), str(cut), "-q"]
    code = main([*args, "-o", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert code == 2
    assert "cut.root" in err
    assert "--skip-bad-files for" in err
    assert "hepml trigger compare" in err
    assert not (tmp_path / "a" / "comparison.json").exists()
    code = main([*args, "--skip-bad-files", "-o", str(tmp_path / "b")])
    out = capsys.readouterr().out
    assert code == 0
    assert "files skipped: 1 of 2" in out
    assert "cut.root" in out
    rows = json.loads((tmp_path / "b" / "comparison.json").read_text())
    assert all(r["events"] == 200 for r in rows)
    assert all(list(r["skipped_files"]) == [str(cut)] for r in rows)
    # nothing readable at all: a clear error, not an empty comparison
    code = main(["trigger", "compare", "--menu", "nanoaod_2015", str(cut), "-q",
                 "--skip-bad-files", "-o", str(tmp_path / "c")])  # fmt: skip
    assert code == 2
    assert "none of its 1 file(s) could be read (cut.root" in capsys.readouterr().err


def test_output_folder_is_checked_before_the_work(menu_file, objects_file, tmp_path, capsys):
    """-o naming a file, or a report whose decisions file would overwrite an input: one
    line before any event is read, and the input is untouched."""
    bg = tmp_path / "out" / "decisions" / "bg.root"
    bg.parent.mkdir(parents=True)
    bg.write_bytes(objects_file[0].read_bytes())
    before = bg.read_bytes()
    argv = ["trigger", "run", "--menu", str(menu_file), "--latency-events", "0", "--no-plots"]
    for extra, message in (
        (["--sample", f"bg={bg}", "-o", str(tmp_path / "out")], "would destroy the input"),
        (["--sample", f"bg={objects_file[0]}", "-o", str(bg)], "is a file; give a folder"),
    ):
        assert main(argv + extra) == 2
        err = capsys.readouterr().err
        assert message in err
        assert "Traceback" not in err
    assert bg.read_bytes() == before
    assert main(["trigger", "compare", str(bg), "--menu", "nanoaod_2015", "-o", str(bg)]) == 2
    assert "is a file; give a folder" in capsys.readouterr().err


def test_a_failed_run_leaves_no_empty_folder_and_fails_early(menu_file, objects_file, tmp_path,
                                                             capsys):  # fmt: skip
    """A run that fails after -o was made (a sample without cross-section, a target
    rate without background) removes the folder it made; a target rate without any
    background sample is refused before any event is read; --latency-events < 0 too."""
    import time

    from hepml.io.write import write_root

    bare = tmp_path / "bare.root"  # (no runinfo: no cross-section)
    write_root(bare, {"events": {"met_pt": [1.0, 2.0], "weight": [1.0, 1.0]}})
    argv = ["trigger", "run", "--menu", str(menu_file), "--latency-events", "0", "--no-plots"]
    for extra, message in (
        (["--sample", f"bg={bare}"], "no cross-section"),
        (["--sample", f"bg={objects_file[0]}", "--signal", "bg"], "needs a background"),
        (["--sample", f"bg={objects_file[0]}", "--latency-events", "-1"], "--latency-events"),
    ):
        out = tmp_path / "report"
        t0 = time.monotonic()
        assert main([*argv, *extra, "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err, err
        assert not out.exists()
        assert time.monotonic() - t0 < 10
    kept = tmp_path / "kept"
    kept.mkdir()
    assert main([*argv, "--sample", f"bg={bare}", "-o", str(kept)]) == 2
    assert kept.is_dir()  # (a folder the user made stays)
