"""The hepml command line: help, version, errors as one line, inspect and generate."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hepml import __version__
from hepml.cli.main import COMMANDS, main
from tests.conftest import HZZ, NANOAOD, RNTUPLE


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"hepml {__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in COMMANDS:
        assert cmd in out


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_command_has_help_with_an_example(cmd, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([cmd, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out
    assert f"hepml {cmd}" in out


def test_user_error_is_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "hepml.cli.main", "inspect", str(tmp_path / "missing.root")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "missing.root: no such file" in lines[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "--process", "ttbar", "--events", "0"], "--events must be at least 1"),
        (["generate", "--process", "higgs"], "invalid choice: 'higgs'"),
        # (a folder named like the output: refused before generating, not after)
        (
            ["generate", "--process", "qcd", "-n", "5", "-o", "tests"],
            "hepml generate writes ROOT files",
        ),
        (
            ["generate", "--process", "qcd", "-n", "5", "-o", "folder.root"],
            "folder.root: is a folder",
        ),
        (["inspect"], "the following arguments are required: FILE"),
        (
            [
                "reconstruct",
                "x.root",
                "-o",
                "y.parquet",
                "--level",
                "events",
                "--radius",
                "1.5",
                "--pt-max",
                "200",
            ],
            "--radius, --pt-max: options of the jet rows; --level events",
        ),
        (["inspect", "x.root", "--fields", "-2"], "--fields must be 0 or more, got -2"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["demo", "--zprime-mass", "100"], "--zprime-mass 100: give a Z' mass between"),
        # the BDT has no epochs or learning rate: said, not silently ignored
        (
            [
                "train",
                "--data",
                "a.parquet",
                "b.parquet",
                "--model",
                "substructure-bdt",
                "--epochs",
                "30",
                "--lr",
                "0.01",
            ],
            "--epochs, --lr: not an option of substructure-bdt",
        ),
        (
            ["train", "--data", "a.parquet", "--model", "event-bdt", "--ray"],
            "--ray: not an option of event-bdt",
        ),
        (
            ["train", "--data", "a.parquet", "--model", "pfn", "--ray", "--resume"],
            "--resume is for runs in one process",
        ),
        (
            ["predict", "m.pt", "a.parquet", "-o", "out", "--ray", "--device", "cuda"],
            "--device cuda with --ray: the actors score on CPUs",
        ),
        # (the workers trained on CPU without a word; -o x.parquet made a folder x.parquet)
        (
            ["train", "--data", "a.parquet", "--model", "pfn", "--ray", "--device", "cuda"],
            "device 'cuda' with --ray: the workers train on CPUs as --use-gpu says",
        ),
        (
            ["predict", "m.pt", "a.parquet", "-o", "s.parquet", "--ray"],
            "-o s.parquet with --ray: give a folder",
        ),
    ],
)
def test_bad_arguments_exit_nonzero_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.root").mkdir()
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    assert code != 0
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_inspect_real_files(shared_data, capsys):
    files = [str(shared_data / n) for n in (NANOAOD, RNTUPLE, HZZ)]
    assert main(["inspect", *files]) == 0
    out = capsys.readouterr().out
    assert out.count("schema: nanoaod") == 2
    assert "schema: flat" in out
    assert "ROOT::RNTuple, 10 entries" in out
    assert "TTree, 200 entries" in out
    assert "jets" in out
    assert "HLT_" in out


def test_inspect_describes_the_good_files_past_a_bad_one(shared_data, tmp_path, capsys):
    bad = tmp_path / "cut.root"
    bad.write_bytes((shared_data / HZZ).read_bytes()[:3000])
    assert main(["inspect", str(bad), str(shared_data / HZZ)]) == 2
    out, err = capsys.readouterr()
    assert "cut.root" in err
    assert "schema: flat" in out  # (the good file after it is still described)


def test_inspect_reports_missing_branches(tmp_path, capsys):
    import numpy as np
    import uproot

    path = tmp_path / "partial_nano.root"
    with uproot.recreate(path) as f:
        f.mktree(
            "Events",
            {
                "run": np.ones(2, np.int32),
                "luminosityBlock": np.ones(2, np.int32),
                "event": np.arange(2),
                "nJet": np.zeros(2, np.int32),
                "Jet_pt": np.zeros(2),
            },
        )
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "expected but not found" in out
    assert "Jet_eta" in out
    assert "MET_pt" in out


def test_generate_writes_a_readable_file(tmp_path, capsys):
    out = tmp_path / "q.root"
    code = main(
        [
            "--quiet",
            "generate",
            "--process",
            "qcd",
            "--events",
            "6",
            "--pthat-min",
            "300",
            "--seed",
            "4",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text
    assert "events/s" in text
    assert "cross-section" in text
    from hepml.io import read_events, read_runinfo

    assert len(read_events(out)) == 6
    assert read_runinfo(out).cross_section_pb > 0


def test_messages_are_printed_as_written(tmp_path, capsys):
    """Square brackets in messages (cut expressions, extras, paths) are text, not rich
    markup: 'jets[jets.pt > 30]' and "hepml[plot]" used to lose their brackets' content."""
    from hepml.cli.ui import UI

    ui = UI()
    ui.error("install it with: pip install 'hepml[plot]' [/]")
    ui.info("path A: any(jets[jets.pt > 30])")
    ui.print("[bold]not bold[/]")
    captured = capsys.readouterr()
    assert "install it with: pip install 'hepml[plot]' [/]" in captured.err
    assert "any(jets[jets.pt > 30])" in captured.err
    assert "[bold]not bold[/]" in captured.out
    menu = tmp_path / "menu.yaml"
    menu.write_text('paths:\n  A: "frob(jets[jets.pt > 30]) > 1"\n')
    code = main(["trigger", "run", "--menu", str(menu), "--sample", f"q={tmp_path / 'x.root'}"])
    assert code == 2
    assert "in 'frob(jets[jets.pt > 30]) > 1' at column 1: unknown function" in (
        capsys.readouterr().err
    )


def test_outputs_never_overwrite_inputs(tmp_path, capsys):
    """`-o` naming an input file (or a folder) is one line, and the input is untouched."""
    src = tmp_path / "events.root"
    src.write_bytes(b"root" + bytes(range(256)))  # (refused before it is read)
    before = src.read_bytes()
    for argv, message in (
        (["reconstruct", str(src), "-o", str(src)], "is also an input"),
        (["predict", "m.pt", str(src), "-o", str(tmp_path / "." / "events.root")],
         "is also an input"),
        (["reconstruct", str(src), "-o", str(tmp_path)], "write .root or .parquet"),
    ):  # fmt: skip
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err, err
        assert src.read_bytes() == before
    (tmp_path / "out.parquet").mkdir()
    assert main(["reconstruct", str(src), "-o", str(tmp_path / "out.parquet")]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_output_into_a_closed_pipe_ends_quietly(shared_data):
    """`hepml inspect FILES | head -1`: status 0 and no traceback when head has read
    its line (rich's console turned a closed pipe into status 1)."""
    files = [str(shared_data / n) for n in (NANOAOD, RNTUPLE, HZZ)]
    proc = subprocess.Popen([sys.executable, "-m", "hepml.cli.main", "inspect", *files],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    with proc.stderr:
        proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err
    assert "Exception ignored" not in err


def test_missing_packages_and_os_errors_are_one_line(monkeypatch, capsys):
    """A package of an extra that is not installed, or an OSError (a full disk, a folder
    without permission) in any command: one line and an exit code, no traceback."""
    import hepml.cli.inspect as cmd
    from hepml.cli.main import main

    def no_torch(args, ui):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    def full_disk(args, ui):
        raise OSError(28, "No space left on device", "/data/out.parquet")

    for run, code, message in ((no_torch, 3, "needs the Python package 'torch'"),
                               (full_disk, 2, "/data/out.parquet: No space left on device")):  # fmt: skip
        monkeypatch.setattr(cmd, "run", run)
        assert main(["inspect", "x.root"]) == code
        err = capsys.readouterr().err
        assert message in err
        assert "Traceback" not in err
