"""``hepml evaluate`` on several models at once: names, mismatched test jets, one-class
sets and output folders (in process, on substructure BDTs, which fit in seconds)."""

from __future__ import annotations

import json
import os

import awkward as ak
import pytest

from hepml.cli.main import main
from hepml.train import fit, load_config


@pytest.fixture(scope="module")
def bdts(jet_rows, tmp_path_factory):
    """Four BDT runs named alike (s0/bdt ... s3/bdt); s2 split with another seed, s3
    given the same files in the other order, one through a link."""
    root = tmp_path_factory.mktemp("bdts")
    link = root / "qcd_link.parquet"
    link.symlink_to(jet_rows["qcd"])
    same, swapped = [str(jet_rows["top"]), str(jet_rows["qcd"])], [str(link), str(jet_rows["top"])]
    for i, (files, split_seed) in enumerate(((same, 0), (same, 0), (same, 7), (swapped, 0))):
        data = {"files": files, "split_seed": split_seed}
        cfg = load_config(overrides={"data": data, "model": {"name": "substructure-bdt",
                          "max_iter": 20}, "output": str(root / f"s{i}" / "bdt")})  # fmt: skip
        fit(cfg)
    return root


def _evaluate(capsys, *args):
    code = main(["evaluate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_models_of_the_same_name_keep_their_own_results(bdts, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(bdts)
    code, _out, err = _evaluate(capsys, "s0/bdt", "s1/bdt/best.pt", "s2/bdt", "-o", tmp_path / "e")
    assert code == 0, err
    with open(tmp_path / "e" / "metrics.json") as f:
        metrics = json.load(f)
    names = ["substructure-bdt (s0/bdt)", "substructure-bdt (s1/bdt)",
             "substructure-bdt (s2/bdt)"]  # fmt: skip
    assert sorted(metrics["models"]) == sorted(names)  # none lost to a clash
    pngs = sorted(f for f in os.listdir(tmp_path / "e") if f.startswith("scores_"))
    assert len(pngs) == 3  # none overwritten
    # s2 was split with another seed: its test jets are others, which is said and recorded
    assert "scored on different jets" in err
    assert "split_seed 7" in err
    assert metrics["same_rows"] is False
    s0, s1 = metrics["models"][names[0]], metrics["models"][names[1]]
    assert s0["n"] == s1["n"]

    # the same jets for all (every row of the same files): no warning
    code, _out, err = _evaluate(capsys, "s0/bdt", "s2/bdt", "--data", *_files(bdts),
                               "--split", "all", "--no-plots", "-o", tmp_path / "all")  # fmt: skip
    assert code == 0, err
    assert "different jets" not in err
    with open(tmp_path / "all" / "metrics.json") as f:
        assert json.load(f)["same_rows"] is True

    # the same rows from the same files in another order, one through a link: no warning
    code, _out, err = _evaluate(capsys, "s0/bdt", "s3/bdt", "--split", "all", "--no-plots",
                                "-o", tmp_path / "swapped")  # fmt: skip
    assert code == 0, err
    assert "different jets" not in err
    with open(tmp_path / "swapped" / "metrics.json") as f:
        swapped = json.load(f)
    assert swapped["same_rows"] is True
    every = sum(len(ak.from_parquet(f)) for f in _files(bdts))
    assert [m["n"] for m in swapped["models"].values()] == [every, every]

    code, _out, err = _evaluate(capsys, "s0/bdt", "s0/bdt/best.pt", "-o", tmp_path / "twice")
    assert code == 2
    assert "is the same model as s0/bdt" in err


def _files(bdts):
    from hepml.train import load_checkpoint

    return load_checkpoint(bdts / "s0" / "bdt")["config"]["data"]["files"]


def test_rows_of_one_class_give_metrics_without_curves(bdts, tmp_path, capsys):
    top = _files(bdts)[0]
    out_dir = tmp_path / "top_only"
    out_dir.mkdir()
    (out_dir / "roc.png").write_bytes(b"an earlier run's curve")
    code, _out, err = _evaluate(capsys, bdts / "s0" / "bdt", "--data", top, "--split", "all",
                               "-o", out_dir)  # fmt: skip
    assert code == 0, err
    assert "no ROC or rejection curve" in err
    assert not (out_dir / "roc.png").exists()  # not the earlier run's, as if it were this one's
    assert not (out_dir / "rejection.png").exists()
    assert (out_dir / "scores_substructure-bdt.png").stat().st_size > 1000
    with open(out_dir / "metrics.json") as f:
        m = json.load(f)["models"]["substructure-bdt"]
    assert m["n"] == m["signal"] > 0


def test_an_output_that_is_a_file_is_refused_before_any_work(bdts, jet_rows, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    code, _out, err = _evaluate(capsys, bdts / "s0" / "bdt", "-o", taken)
    assert code == 2
    assert "is a file" in err
    assert "evaluating" not in err  # refused before the first model was scored
    for model in ("substructure-bdt", "pfn"):
        code = main(["train", "--data", str(jet_rows["top"]), str(jet_rows["qcd"]),
                     "--model", model, "-o", str(taken)])  # fmt: skip
        _out, err = capsys.readouterr()
        assert code == 2
        assert "is a file" in err
    assert taken.read_text() == "not a folder"


def test_a_rerun_into_the_same_folder_leaves_no_earlier_plots(bdts, tmp_path, capsys):
    """New metrics never sit beside an earlier run's plots: with --no-plots, or fewer
    models, the earlier plots go (the user's own files stay); --split is checked
    before the folder is made."""
    out = tmp_path / "e"
    code, _out, err = _evaluate(capsys, bdts / "s0" / "bdt", bdts / "s2" / "bdt", "-o", out)
    assert code == 0, err
    first = sorted(os.listdir(out))
    assert "roc.png" in first
    assert len([f for f in first if f.startswith("scores_")]) == 2
    (out / "mine.png").write_text("the user's")
    code, _out, err = _evaluate(capsys, bdts / "s0" / "bdt", "--no-plots", "-o", out)
    assert code == 0, err
    assert sorted(os.listdir(out)) == ["metrics.json", "mine.png"]
    with pytest.raises(SystemExit) as exit_:
        _evaluate(capsys, bdts / "s0" / "bdt", "--split", "bogus", "-o", tmp_path / "never")
    assert exit_.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_baseline_may_name_a_model_by_its_checkpoint(tmp_path, monkeypatch):
    """--baseline bdt/best.pt is the model given as bdt (a run folder means its best.pt)."""
    from hepml.cli.evaluate import _baseline_index
    from hepml.errors import InputError

    for run in ("pn", "bdt"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "best.pt").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert _baseline_index("bdt/best.pt", ["pn", "bdt"]) == 1
    assert _baseline_index("bdt", ["pn/best.pt", "bdt/best.pt"]) == 1
    assert _baseline_index(str(tmp_path / "pn"), ["pn", "bdt"]) == 0
    with pytest.raises(InputError, match="is not one of the models"):
        _baseline_index("other", ["pn", "bdt"])
