"""hepml reconstruct: rows per selected jet, labels, accounting, ROOT and parquet, jobs."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepml.cli.main import main
from hepml.errors import ConfigError
from hepml.reco.pipeline import ReconstructConfig, reconstruct

LOOSE = {"pt_min": 150.0, "pt_max": 3000.0, "eta_max": 2.5}


@pytest.fixture(scope="module")
def top_rows(samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("reco") / "top.parquet"
    summary = reconstruct([samples["ttbar"]], out, ReconstructConfig(**LOOSE))
    return ak.from_parquet(out), summary


def test_top_sample_rows_and_accounting(top_rows, samples):
    rows, summary = top_rows
    assert summary.events_in == 120
    assert summary.balanced
    assert summary.events_with_jets + sum(summary.rejected.values()) == 120
    assert summary.rejected["no top-matched jet"] > 0
    assert len(rows) == summary.jets_out > 0
    assert ak.all(rows.label == 1)
    assert ak.all((rows.jet_pt > 150) & (abs(rows.jet_eta) < 2.5))
    assert 120 < np.median(ak.to_numpy(rows.jet_msd)) < 220
    # the jagged constituents: one row per particle, joinable by index
    assert ak.all(ak.num(rows.part) == rows.jet_n_constituents)
    assert {"deta", "dphi", "log_pt", "index"} <= set(rows.part.fields)
    assert set(rows.fields) >= {
        "entry",
        "event",
        "run",
        "jet_index",
        "weight",
        "jet_tau1",
        "jet_tau3",
    }


def test_qcd_sample_is_labelled_background_and_root_output(samples, tmp_path):
    out = tmp_path / "qcd.root"
    summary = reconstruct([samples["qcd"]], out, ReconstructConfig(**LOOSE))
    t = uproot.open(out)["jets"]
    assert t.num_entries == summary.jets_out > 0
    arr = t.arrays()
    assert ak.all(arr.label == 0)
    assert ak.all(arr.npart == arr.jet_n_constituents)
    assert summary.balanced


def test_jobs_give_the_same_rows(samples, tmp_path, top_rows):
    rows1, _ = top_rows
    out = tmp_path / "top2.parquet"
    summary = reconstruct([samples["ttbar"]], out, ReconstructConfig(**LOOSE), jobs=2)
    rows2 = ak.from_parquet(out)
    assert summary.jets_out == len(rows1)
    key = lambda r: np.lexsort((ak.to_numpy(r.jet_index), ak.to_numpy(r.entry)))  # noqa: E731
    for f in ("entry", "jet_index", "jet_pt", "jet_msd"):
        np.testing.assert_array_equal(
            ak.to_numpy(rows1[f])[key(rows1)], ak.to_numpy(rows2[f])[key(rows2)]
        )


def test_smearing_changes_jets_reproducibly(samples, tmp_path):
    outs = []
    for i, seed in enumerate((1, 1, 2)):
        out = tmp_path / f"s{i}.parquet"
        reconstruct([samples["qcd"]], out, ReconstructConfig(**LOOSE, smear=True, seed=seed))
        outs.append(ak.from_parquet(out))
    assert ak.array_equal(outs[0].jet_pt, outs[1].jet_pt)
    assert not ak.array_equal(outs[0].jet_pt, outs[2].jet_pt)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pt_min": 600, "pt_max": 500}, r"--pt-max \(500\) must exceed --pt-min \(600\)"),
        ({"algorithm": "siscone"}, "unknown --algorithm 'siscone'"),
        ({"label": "higgs"}, "--label must be one of"),
    ],
)
def test_bad_configs(kwargs, message, tmp_path, samples):
    with pytest.raises(ConfigError, match=message):
        reconstruct([samples["qcd"]], tmp_path / "x.parquet", ReconstructConfig(**kwargs))


def test_cli_reconstruct(samples, tmp_path, capsys):
    out = tmp_path / "cli.parquet"
    code = main(
        [
            "--quiet",
            "reconstruct",
            str(samples["qcd"]),
            "-o",
            str(out),
            "--pt-min",
            "150",
            "--pt-max",
            "3000",
            "--eta-max",
            "2.5",
            "--max-particles",
            "20",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "events in: 60" in text
    assert "jets out:" in text
    rows = ak.from_parquet(out)
    assert ak.max(ak.num(rows.part)) <= 20


def test_smear_config_from_yaml(tmp_path, samples, capsys):
    from hepml.reco import SmearConfig

    good = tmp_path / "det.yaml"
    good.write_text("track_eff: 0.8\necal_cell: 0.02\n")
    cfg = SmearConfig.from_yaml(good)
    assert cfg.track_eff == 0.8
    assert cfg.hcal_cell == SmearConfig().hcal_cell
    bad = tmp_path / "bad.yaml"
    bad.write_text("track_efficiency: 0.8\n")
    with pytest.raises(
        ConfigError, match=r"bad\.yaml: unknown smearing parameter\(s\) \['track_efficiency'\]"
    ):
        SmearConfig.from_yaml(bad)
    with pytest.raises(ConfigError, match="track_eff is an efficiency"):
        SmearConfig(track_eff=1.5)
    code = main(
        [
            "reconstruct",
            str(samples["qcd"]),
            "-o",
            str(tmp_path / "o.parquet"),
            "--smear-config",
            str(bad),
        ]
    )
    assert code == 2
    assert "unknown smearing parameter" in capsys.readouterr().err
