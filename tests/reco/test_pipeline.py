"""hepml reconstruct: rows per selected jet, labels, accounting, ROOT and parquet, jobs."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepml.cli.main import main
from hepml.errors import ConfigError, InputError
from hepml.graphs.jets import read_rows
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


def test_smeared_jets_do_not_depend_on_jobs_or_chunks(samples, tmp_path):
    # each event's smearing is seeded by (seed, file, entry), not by its chunk
    outs = []
    for jobs, step in ((1, "50 MB"), (2, "50 MB"), (1, 17)):
        out = tmp_path / f"j{jobs}_{step}.parquet".replace(" ", "")
        cfg = ReconstructConfig(**LOOSE, smear=True, seed=5, step_size=step)
        reconstruct([samples["qcd"]], out, cfg, jobs=jobs)
        rows = ak.from_parquet(out)
        order = np.lexsort((ak.to_numpy(rows.jet_index), ak.to_numpy(rows.entry)))
        outs.append({f: ak.to_numpy(rows[f])[order] for f in ("entry", "jet_pt", "jet_msd")})
    assert len(outs[0]["entry"]) > 0
    for other in outs[1:]:
        for f, v in outs[0].items():
            np.testing.assert_array_equal(v, other[f])


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
        ({"top_match": "most"}, "--top-match must be one of"),
        ({"top_match": "partial", "label": "qcd"}, "--top-match partial with --label qcd"),
        ({"top_match": "partial", "label": "none"}, "give --label top"),
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


def test_cli_top_match_partial_keeps_partly_merged_tops(samples, tmp_path, top_rows, capsys):
    """--top-match partial: every fully matched jet, and more (the partly merged tops);
    recorded in the output's provenance; refused with --level events."""
    from hepml.reco.pipeline import read_provenance

    out = tmp_path / "partial.parquet"
    argv = ["--quiet", "reconstruct", str(samples["ttbar"]), "-o", str(out), "--pt-min", "150",
            "--pt-max", "3000", "--eta-max", "2.5", "--label", "top"]  # fmt: skip
    assert main([*argv, "--top-match", "partial"]) == 0
    part = ak.from_parquet(out)
    key = lambda r: set(zip(ak.to_list(r.entry), ak.to_list(r.jet_index), strict=True))  # noqa: E731
    assert key(top_rows[0]) < key(part)  # (top_rows: the same jets, --top-match full)
    assert ak.all(part.label == 1)
    assert read_provenance(out)["config"]["top_match"] == "partial"
    capsys.readouterr()
    bad = ["reconstruct", str(samples["ttbar"]), "-o", str(tmp_path / "e.parquet"),
           "--level", "events", "--top-match", "partial"]  # fmt: skip
    assert main(bad) == 2
    assert "--top-match: options of the jet rows" in capsys.readouterr().err


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
    with pytest.raises(ConfigError, match=r"nofile\.yaml: no such smearing config"):
        SmearConfig.from_yaml(tmp_path / "nofile.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        SmearConfig.from_yaml(broken)
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


def _corrupt_last_basket(src, dst):
    """A copy of ``src`` whose events tree opens but whose last particle_px basket is
    garbage, so that reading fails part-way through the file."""
    data = bytearray(src.read_bytes())
    with uproot.open(src) as f:
        branch = f["events"]["particle_px"]
        seeks = branch.member("fBasketSeek")[: branch.num_baskets]
        assert len(seeks) > 1  # (the samples are written in several chunks)
        pos = int(seeks[-1]) + 100  # (inside the compressed data)
    data[pos : pos + 2000] = b"\xff" * 2000
    dst.write_bytes(bytes(data))


def test_skip_bad_files(samples, tmp_path, capsys):
    good = samples["qcd"]
    cut = tmp_path / "cut.root"
    cut.write_bytes(good.read_bytes()[:5000])
    broken = tmp_path / "broken.root"
    _corrupt_last_basket(samples["ttbar"], broken)
    inputs = [good, cut, broken]
    # by default the first unreadable file stops the run, naming the file and the way on
    with pytest.raises(InputError, match=r"cut\.root.*--skip-bad-files"):
        reconstruct(inputs, tmp_path / "x.parquet", ReconstructConfig(**LOOSE))
    assert not (tmp_path / "x.parquet").exists()
    with pytest.raises(InputError, match=r"broken\.root:events: entries \d+-\d+ could not"):
        reconstruct([broken], tmp_path / "x.parquet", ReconstructConfig(**LOOSE, step_size=20))
    # with skip_bad_files the good events are reconstructed and the rest is reported
    out = tmp_path / "skip.parquet"
    summary = reconstruct(
        inputs, out, ReconstructConfig(**LOOSE, step_size=20, skip_bad_files=True)
    )
    alone = reconstruct([good], tmp_path / "alone.parquet", ReconstructConfig(**LOOSE))
    assert set(summary.skipped) == {str(cut), str(broken)}
    assert "truncated or corrupt" in summary.skipped[str(cut)]
    # broken.root's second basket (entries 60-119) is bad: chunks of 20 stop there, and
    # the 60 events read before are kept
    assert "(60 events read from it were kept)" in summary.skipped[str(broken)]
    assert summary.events_in == 60 + 60
    assert summary.balanced
    # the same with the broken file cut in two pieces (--jobs 2): the first piece is whole
    two = reconstruct(
        [broken], tmp_path / "two.parquet", ReconstructConfig(**LOOSE, skip_bad_files=True), jobs=2
    )
    assert two.events_in == 60
    assert "(60 events read from it were kept)" in two.skipped[str(broken)]
    # a file that breaks in its first chunk leaves nothing: an error, not an empty output
    with pytest.raises(InputError, match=r"no events could be read from the 1 input file.*broken"):
        reconstruct([broken], tmp_path / "z.parquet", ReconstructConfig(skip_bad_files=True))
    assert not (tmp_path / "z.parquet").exists()
    rows = ak.from_parquet(out)
    assert len(rows) == summary.jets_out
    assert ak.sum(rows.file_index == 0) == alone.jets_out  # the good file, whole
    assert "files skipped: 2 of 3" in str(summary)
    # the command line: --skip-bad-files, and the summary names the files
    code = main(
        ["--quiet", "reconstruct", str(good), str(cut), "-o", str(tmp_path / "cli.parquet"),
         "--pt-min", "150", "--pt-max", "3000", "--eta-max", "2.5", "--skip-bad-files"]
    )  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "files skipped: 1 of 2" in text
    assert "cut.root: " in text
    assert "truncated or corrupt\n" in text  # (no advice to skip what was skipped)
    # nothing readable at all is an error, not an empty output
    with pytest.raises(InputError, match="none of the 1 input files could be read"):
        reconstruct([cut], tmp_path / "y.parquet", ReconstructConfig(skip_bad_files=True))


def test_inputs_without_events(samples, tmp_path):
    """A valid file with no events gives an empty output with the usual columns."""
    with uproot.open(samples["qcd"]) as f:
        none = f["events"].arrays(entry_stop=0)
    empty = tmp_path / "empty.root"
    with uproot.recreate(empty) as f:
        f.mktree("events", {name: none[name].type.content for name in none.fields})
    summary = reconstruct([empty], tmp_path / "e.parquet", ReconstructConfig(**LOOSE))
    assert summary.events_in == 0
    assert summary.jets_out == 0
    rows = ak.from_parquet(tmp_path / "e.parquet")
    assert len(rows) == 0
    assert {"jet_pt", "label", "part"} <= set(rows.fields)


def _copy_events(src, dst, n, *, rntuple=False, partons=True, nan_entry=None, drop=()):
    """The first ``n`` events of a hepml generator file, as a TTree or an RNTuple, maybe
    without partons, maybe with a NaN momentum in one entry."""
    with uproot.open(src) as f:
        ev = f["events"].arrays(entry_stop=n)
    if nan_entry is not None:
        px = ak.to_list(ev.particle_px)
        px[nan_entry][3] = float("nan")
        ev["particle_px"] = ak.Array(px)
    keep = [k for k in ev.fields if k not in ("nparticle", "nparton", *drop)]
    if not partons:
        keep = [k for k in keep if not k.startswith("parton_")]
    with uproot.recreate(dst) as f:
        if rntuple:
            f.mkrntuple("events", ak.Array({k: ev[k] for k in keep}))
        else:
            tree = {}
            for prefix in ("particle", "parton"):
                cols = [k for k in keep if k.startswith(prefix + "_")]
                if cols:
                    tree[prefix] = ak.zip({k[len(prefix) + 1 :]: ev[k] for k in cols})
            tree.update(
                {k: ak.to_numpy(ev[k]) for k in keep if "_" not in k or k.startswith("met")}
            )
            f.mktree("events", tree)
    return dst


def test_an_rntuple_file_keeps_its_partons(samples, tmp_path):
    rows = {}
    for rn in (False, True):
        src = _copy_events(samples["ttbar"], tmp_path / f"tt{rn}.root", 30, rntuple=rn)
        out = tmp_path / f"o{rn}.parquet"
        reconstruct([src], out, ReconstructConfig(**LOOSE, label="top"))
        rows[rn] = ak.from_parquet(out)
    assert len(rows[False]) > 0
    assert ak.all(rows[False].label == 1)
    for f in ("entry", "label", "jet_pt"):
        np.testing.assert_array_equal(ak.to_numpy(rows[True][f]), ak.to_numpy(rows[False][f]))


def test_label_top_without_partons_names_the_file(samples, tmp_path):
    src = _copy_events(samples["ttbar"], tmp_path / "bare.root", 10, partons=False)
    with pytest.raises(ConfigError, match=r"bare\.root: --label top needs the generator's partons"):
        reconstruct([src], tmp_path / "o.parquet", ReconstructConfig(**LOOSE, label="top"))


@pytest.mark.parametrize("level", ["jets", "events"])
def test_nonfinite_momenta_name_the_entry_or_are_dropped_and_counted(samples, tmp_path, level):
    src = _copy_events(samples["qcd"], tmp_path / "nan.root", 20, nan_entry=13)
    out = tmp_path / f"o.{'parquet'}"
    cfg = dict(LOOSE, level=level, step_size=5)
    with pytest.raises(InputError) as err:
        reconstruct([src], out, ReconstructConfig(**cfg))
    msg = str(err.value)
    assert "nan.root: entry 13 (particle 3) has a NaN" in msg
    assert "--drop-nonfinite" in msg
    summary = reconstruct([src], out, ReconstructConfig(**cfg, drop_nonfinite=True))
    assert summary.events_in == 20
    assert summary.rejected["non-finite momenta"] == 1
    assert summary.balanced
    assert "rejected (non-finite momenta): 1" in str(summary)
    rows = ak.from_parquet(out)
    assert 13 not in set(ak.to_numpy(rows.entry).tolist())


def test_a_dropped_event_does_not_shift_the_smearing_of_the_others(samples, tmp_path):
    """--smear --drop-nonfinite: every other event is smeared as in the file without
    the bad one, whatever the chunks (each draws from its own entry, not its place)."""
    src = _copy_events(samples["qcd"], tmp_path / "nan.root", 20, nan_entry=5)
    clean = _copy_events(samples["qcd"], tmp_path / "clean.root", 20)
    got = {}
    for name, path, step in (("clean", clean, 20), ("nan", src, 20), ("nan_chunks", src, 7)):
        out = tmp_path / f"{name}.parquet"
        cfg = ReconstructConfig(**LOOSE, smear=True, seed=3, step_size=step, drop_nonfinite=True)
        reconstruct([path], out, cfg)
        rows = ak.from_parquet(out)
        got[name] = {f: ak.to_numpy(rows[f]) for f in ("entry", "jet_index", "jet_pt")}
    keep = got["clean"]["entry"] != 5
    assert keep.sum() > 10
    for name in ("nan", "nan_chunks"):
        for f, v in got["clean"].items():
            np.testing.assert_array_equal(got[name][f], v[keep], err_msg=f"{name}: {f}")
    for seed in (-1, 2**32):
        with pytest.raises(ConfigError, match=r"--seed must be between 0 and 2\*\*32 - 1"):
            reconstruct([clean], tmp_path / "x.parquet", ReconstructConfig(smear=True, seed=seed))


@pytest.mark.parametrize("suffix", ["parquet", "root"])
def test_files_with_different_event_ids_merge_with_minus_one(samples, tmp_path, suffix):
    """One input without a run number (as files of different kinds: hepml's have run
    and event, NanoAOD run, lumi and event): one output, -1 where a file had no id."""
    full = _copy_events(samples["qcd"], tmp_path / "full.root", 12)
    norun = _copy_events(samples["qcd"], tmp_path / "norun.root", 12, drop=("run",))
    out = tmp_path / f"o.{suffix}"
    summary = reconstruct([full, norun], out, ReconstructConfig(**LOOSE))
    rows = read_rows(out) if suffix == "root" else ak.from_parquet(out)
    assert summary.jets_out == len(rows) > 0
    fi = ak.to_numpy(rows.file_index)
    run, event = ak.to_numpy(rows.run), ak.to_numpy(rows.event)
    assert set(fi.tolist()) == {0, 1}
    assert (run[fi == 1] == -1).all()
    assert (run[fi == 0] >= 0).all()
    np.testing.assert_array_equal(event[fi == 0], event[fi == 1])  # same events, twice
    assert rows.fields.index("run") == rows.fields.index("entry") + 1


@pytest.mark.parametrize("suffix", ["parquet", "root"])
def test_the_output_records_its_config_seed_and_inputs(samples, tmp_path, suffix):
    from hepml.reco.pipeline import read_provenance

    out = tmp_path / f"o.{suffix}"
    cfg = ReconstructConfig(**LOOSE, smear=True, seed=7)
    reconstruct([samples["qcd"], samples["ttbar"]], out, cfg, jobs=2)  # (merged pieces)
    meta = read_provenance(out)
    assert meta["tool"] == "hepml reconstruct"
    assert meta["config"]["seed"] == 7
    assert meta["config"]["smear"] is True
    assert meta["config"]["pt_min"] == LOOSE["pt_min"]
    assert meta["inputs"] == [str(samples["qcd"]), str(samples["ttbar"])]
    single = tmp_path / f"s.{suffix}"
    reconstruct([samples["qcd"]], single, ReconstructConfig(**LOOSE))  # (one piece)
    assert read_provenance(single)["config"]["seed"] == 0
    if suffix == "root":
        with uproot.open(out) as f:
            assert f.classnames()["provenance;1"] == "TTree"
            rows = f["jets"].arrays()
    else:
        rows = ak.from_parquet(out)
    assert len(rows) > 0  # (the rows themselves read as before)


def test_a_damaged_runinfo_names_the_file_and_can_be_skipped(samples, tmp_path):
    """The labels come from runinfo's process: damaged bytes there are the file's
    error (one line), and --skip-bad-files goes on past it."""
    src = samples["ttbar"]
    data = bytearray(src.read_bytes())
    with uproot.open(src) as f:
        branch = f["runinfo"]["process"]
        pos = int(branch.member("fBasketSeek")[0]) + 40  # (inside the basket's data)
    data[pos : pos + 60] = b"\xff" * 60
    bad = tmp_path / "bad_runinfo.root"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"bad_runinfo\.root:runinfo .*truncated or corrupt"):
        reconstruct([bad], tmp_path / "x.parquet", ReconstructConfig(**LOOSE))
    summary = reconstruct(
        [samples["qcd"], bad],
        tmp_path / "y.parquet",
        ReconstructConfig(**LOOSE, skip_bad_files=True),
    )
    assert list(summary.skipped) == [str(bad)]
    assert "runinfo" in summary.skipped[str(bad)]
    assert summary.balanced


def test_merged_root_output_without_rows_keeps_its_jets_tree(samples, tmp_path):
    """Two inputs (pieces merged) and no jet in the window: an empty jets tree with the
    usual branches, not a file without it."""
    out = tmp_path / "none.root"
    cfg = ReconstructConfig(**{**LOOSE, "pt_min": 5000.0, "pt_max": 6000.0})
    parts = [_copy_events(samples[s], tmp_path / f"{s}.root", 15) for s in ("qcd", "ttbar")]
    summary = reconstruct(parts, out, cfg)
    assert summary.jets_out == 0
    with uproot.open(out) as f:
        assert f["jets"].num_entries == 0
        assert {"jet_pt", "label", "part_deta", "npart"} <= set(f["jets"].keys())


def test_runinfo_without_process_asks_for_a_label(samples, tmp_path):
    src = _copy_events(samples["qcd"], tmp_path / "np.root", 10)
    with uproot.update(src) as f:
        f["runinfo"] = {"sigma_pb": np.array([1.0])}
    with pytest.raises(
        ConfigError, match=r"np\.root: its runinfo has no 'process' branch.*--label"
    ):
        reconstruct([src], tmp_path / "o.parquet", ReconstructConfig(**LOOSE))
