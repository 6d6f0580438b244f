"""pT-hat-biased generation and pT-hat bins: weights, cross-sections, rates in pb."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
import uproot

from hepml.cli.main import build_parser, main
from hepml.errors import ConfigError, InputError
from hepml.io import read_events, read_runinfo
from hepml.io.generate import GenerateConfig, generate, pythia_settings
from hepml.io.runinfo import combine_runinfo, event_weights_pb

PTHAT_MIN = 200.0
EVENTS = 300


@pytest.fixture(scope="module")
def qcd(tmp_path_factory) -> dict:
    """QCD with pT-hat > 200 GeV: unbiased, biased ^4 (two jobs, one file each), and
    two unbiased pT-hat bins [200, 400) and [400, inf)."""
    out = tmp_path_factory.mktemp("bias")
    made: dict = {"unbiased": [out / "qcd.root"]}
    generate(
        GenerateConfig(process="qcd", events=EVENTS, seed=21, pthat_min=PTHAT_MIN),
        made["unbiased"][0],
    )
    biased = generate(
        GenerateConfig(
            process="qcd",
            events=EVENTS,
            seed=22,
            pthat_min=PTHAT_MIN,
            pthat_bias=4,
            jobs=2,
            merge=False,
        ),
        out / "qcd_biased.root",
    )
    made["biased"] = biased.outputs
    made["biased_result"] = biased
    made["bins"] = [out / "qcd_200_400.root", out / "qcd_400_inf.root"]
    for path, lo, hi, seed in zip(
        made["bins"], (200.0, 400.0), (400.0, None), (23, 24), strict=True
    ):
        generate(
            GenerateConfig(process="qcd", events=100, seed=seed, pthat_min=lo, pthat_max=hi), path
        )
    return made


def _pthat(events) -> np.ndarray:
    """pT-hat per event: the pT of the outgoing partons of the 2 -> 2 scattering (status 23)."""
    p = events.partons
    out = p[abs(p.status) == 23]
    return ak.to_numpy(ak.fill_none(ak.max(np.hypot(out.px, out.py), axis=1), 0.0))


def _ht(events) -> np.ndarray:
    """Scalar sum of final-state particle pT in |eta| < 2.5 (an offline-like observable)."""
    q = events.particles
    pt = np.hypot(q.px, q.py)
    central = abs(np.arcsinh(q.pz / pt)) < 2.5
    return ak.to_numpy(ak.sum(pt[central], axis=1))


def _fraction(passing: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted fraction sum(w pass)/sum(w) and its statistical error (ratio estimator)."""
    f = float(w[passing].sum() / w.sum())
    err = float(np.sqrt(np.sum(w**2 * (passing - f) ** 2)) / w.sum())
    return f, err


def test_biased_sample_has_compensating_weights_and_more_high_pthat_events(qcd):
    ub, bi = read_events(qcd["unbiased"]), read_events(qcd["biased"])
    assert len(ub) == len(bi) == EVENTS
    assert np.all(ak.to_numpy(ub.weight) == 1.0)
    w, pthat = ak.to_numpy(bi.weight), _pthat(bi)
    assert np.all((w > 0) & (w <= 1.0 + 1e-9))
    assert np.std(w) > 0.1 * np.mean(w)  # far from uniform
    # Pythia's compensating weight: (ref / pT-hat)^4 with ref = pT-hat min
    np.testing.assert_allclose(w, (PTHAT_MIN / pthat) ** 4, rtol=2e-3)
    # the point of the bias: many more events at high pT-hat
    n_ub, n_bi = (np.sum(_pthat(ub) > 500), np.sum(pthat > 500))
    assert n_bi > 5 * max(n_ub, 1)
    assert np.median(pthat) > np.median(_pthat(ub)) + 50


def test_biased_runinfo_keeps_the_unbiased_cross_section_and_records_the_bias(qcd):
    ub, bi = read_runinfo(qcd["unbiased"]), read_runinfo(qcd["biased"])
    assert (ub.pthat_bias, bi.pthat_bias) == (0.0, 4.0)
    assert len(bi.bins) == 1
    assert bi.bins[0].pthat_bias_ref == PTHAT_MIN
    assert bi.seeds == [23, 24]
    assert bi.events_accepted == EVENTS
    pull = (bi.cross_section_pb - ub.cross_section_pb) / math.hypot(
        bi.cross_section_error_pb, ub.cross_section_error_pb
    )
    assert abs(pull) < 3, (bi.cross_section_pb, ub.cross_section_pb, pull)
    # the jobs' weights are pooled: sum_weights is the sum of the files' weights
    w = np.concatenate(
        [uproot.open(p)["events"]["weight"].array(library="np") for p in qcd["biased"]]
    )
    assert bi.sum_weights == pytest.approx(w.sum(), rel=1e-9)
    assert qcd["biased_result"].runinfo.cross_section_pb == pytest.approx(bi.cross_section_pb)
    # the columns are in every job's row
    rows = uproot.open(qcd["biased"][0])["runinfo"].arrays(library="np")
    assert rows["pthat_bias"].tolist() == [4.0]
    assert rows["pthat_bias_ref"].tolist() == [PTHAT_MIN]
    assert uproot.open(qcd["unbiased"][0])["runinfo"]["pthat_bias"].array().tolist() == [0.0]


@pytest.mark.parametrize(("observable", "threshold"), [(_pthat, 300.0), (_ht, 800.0)])
def test_biased_and_unbiased_rates_agree(qcd, observable, threshold):
    """The weighted fraction above a threshold, and the rate in pb, agree within errors."""
    ub, bi = read_events(qcd["unbiased"]), read_events(qcd["biased"])
    pass_ub, pass_bi = observable(ub) > threshold, observable(bi) > threshold
    assert pass_ub.sum() >= 30  # enough unbiased events for a meaningful comparison
    f_ub, e_ub = _fraction(pass_ub, ak.to_numpy(ub.weight))
    f_bi, e_bi = _fraction(pass_bi, ak.to_numpy(bi.weight))
    assert abs(f_ub - f_bi) < 3 * math.hypot(e_ub, e_bi), (f_ub, e_ub, f_bi, e_bi)
    # the same in pb, through the per-event weights (cross-section errors included)
    rates = []
    for paths, passing, f, e in (
        (qcd["unbiased"], pass_ub, f_ub, e_ub),
        (qcd["biased"], pass_bi, f_bi, e_bi),
    ):
        info = read_runinfo(paths)
        w_pb = event_weights_pb(paths)
        assert w_pb.sum() == pytest.approx(info.cross_section_pb, rel=1e-9)
        rate = w_pb[passing].sum()
        assert rate == pytest.approx(info.cross_section_pb * f, rel=1e-9)
        rel = math.hypot(e / f, info.cross_section_error_pb / info.cross_section_pb)
        rates.append((rate, rate * rel))
    (r1, s1), (r2, s2) = rates
    assert abs(r1 - r2) < 3 * math.hypot(s1, s2)


def test_pthat_bins_add_cross_sections_and_weight_events_in_pb(qcd):
    lo_file, hi_file = qcd["bins"]
    lo, hi = read_runinfo(lo_file), read_runinfo(hi_file)
    both = read_runinfo(qcd["bins"])
    # hand computation on the files' own runinfo numbers
    assert both.cross_section_pb == pytest.approx(lo.cross_section_pb + hi.cross_section_pb)
    assert both.cross_section_error_pb == pytest.approx(
        math.hypot(lo.cross_section_error_pb, hi.cross_section_error_pb)
    )
    assert lo.cross_section_pb > hi.cross_section_pb
    assert [(b.pthat_min, b.pthat_max) for b in both.bins] == [(200.0, 400.0), (400.0, None)]
    assert both.events_accepted == 200
    assert both.pb_per_weight(lo_file) == pytest.approx(lo.cross_section_pb / lo.sum_weights)
    assert both.pb_per_weight(str(hi_file)) == pytest.approx(hi.cross_section_pb / hi.sum_weights)
    w_pb = event_weights_pb(qcd["bins"])
    expected = np.concatenate(
        [np.full(100, lo.cross_section_pb / 100), np.full(100, hi.cross_section_pb / 100)]
    )
    np.testing.assert_allclose(w_pb, expected, rtol=1e-12)
    assert w_pb.sum() == pytest.approx(both.cross_section_pb)
    with pytest.raises(InputError, match="2 pT-hat bins"):
        both.weight_per_event()
    # each bin holds its own pT-hat range, and the merged bins give the inclusive rate
    ev = read_events(qcd["bins"])
    pthat = _pthat(ev)
    assert np.all(pthat[:100] < 400)
    assert np.all(pthat[100:] >= 400)
    ub = read_events(qcd["unbiased"])
    ub_info = read_runinfo(qcd["unbiased"])
    f, e = _fraction(_pthat(ub) > 300, np.ones(len(ub)))
    rate_ub = ub_info.cross_section_pb * f
    err_ub = rate_ub * math.hypot(e / f, ub_info.cross_section_error_pb / ub_info.cross_section_pb)
    passing = pthat > 300
    rate_bins = w_pb[passing].sum()
    in_lo = np.arange(200) < 100
    err_bins = math.hypot(
        math.sqrt(np.sum(w_pb[passing] ** 2)),  # statistical (Poisson, per bin)
        lo.cross_section_error_pb / lo.cross_section_pb * w_pb[passing & in_lo].sum(),
        hi.cross_section_error_pb / hi.cross_section_pb * w_pb[passing & ~in_lo].sum(),
    )
    assert abs(rate_bins - rate_ub) < 3 * math.hypot(err_bins, err_ub), (rate_bins, rate_ub)


def _rows(**over) -> dict:
    rows = {
        "process": ["qcd", "qcd", "qcd"],
        "cross_section_pb": [1000.0, 1200.0, 50.0],
        "cross_section_error_pb": [30.0, 40.0, 2.0],
        "events_tried": [100, 300, 80],
        "events_accepted": [10, 30, 20],
        "sum_weights": [10.0, 30.0, 20.0],
        "seed": [1, 2, 3],
        "generator": ["pythia8mc 8.317"] * 3,
        "ecm_gev": [13000.0] * 3,
        "pthat_min": [200.0, 200.0, 400.0],
        "pthat_max": [400.0, 400.0, -1.0],
        "pthat_bias": [0.0, 0.0, 0.0],
        "pthat_bias_ref": [0.0, 0.0, 0.0],
    }
    rows.update(over)
    return {k: np.asarray(v) for k, v in rows.items()}


def test_combination_by_hand():
    """Jobs of one bin average by events tried; bins add; each file gets its bin's factor."""
    info = combine_runinfo(_rows(), ["a.root", "b.root"], ["a.root", "a.root", "b.root"])
    sigma_lo = (100 * 1000.0 + 300 * 1200.0) / 400  # 1150 pb
    err_lo = math.sqrt((100 * 30.0) ** 2 + (300 * 40.0) ** 2) / 400
    assert info.bins[0].cross_section_pb == pytest.approx(sigma_lo)
    assert info.bins[0].cross_section_error_pb == pytest.approx(err_lo)
    assert info.cross_section_pb == pytest.approx(sigma_lo + 50.0)
    assert info.cross_section_error_pb == pytest.approx(math.hypot(err_lo, 2.0))
    assert info.pb_per_weight("a.root") == pytest.approx(sigma_lo / 40.0)
    assert info.pb_per_weight("b.root") == pytest.approx(50.0 / 20.0)
    assert (info.events_tried, info.events_accepted, info.sum_weights) == (480, 60, 60.0)
    with pytest.raises(InputError, match="not one of the files"):
        info.pb_per_weight("c.root")
    # one bin: unchanged behaviour, every file maps to it without row_files
    one = combine_runinfo(_rows(pthat_min=[200.0] * 3, pthat_max=[-1.0] * 3), ["x.root"])
    # the same seed in other pT-hat ranges is other events: allowed
    combine_runinfo(_rows(seed=[1, 2, 1]), ["a.root", "b.root"], ["a.root", "a.root", "b.root"])
    assert one.cross_section_pb == pytest.approx((1e5 + 3.6e5 + 80 * 50.0) / 480)
    assert one.weight_per_event() == pytest.approx(one.cross_section_pb / 60.0)
    assert one.pb_per_weight("x.root") == pytest.approx(one.weight_per_event())


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"pthat_max": [-1.0, -1.0, -1.0]}, r"\[200, inf\) GeV and \[400, inf\) GeV overlap"),
        ({"pthat_max": [500.0, 500.0, -1.0]}, r"\[200, 500\) GeV and \[400, inf\) GeV overlap"),
        ({"pthat_bias": [4.0, 0.0, 0.0], "pthat_bias_ref": [200.0, 0.0, 0.0]}, "different biases"),
        ({"ecm_gev": [13000.0, 13600.0, 13000.0]}, "centre-of-mass energies"),
        ({"process": ["qcd", "ttbar", "qcd"]}, "mixes processes"),
        ({"seed": [2, 2, 3]}, "share the Pythia seed 2, so they hold the same events"),
        ({"mass_gev": [1000.0, 1500.0, 1000.0]}, "mixes Z' masses"),
        # another hard process (gg -> bb only) is another cross-section, not a pT-hat bin
        (
            {"settings": ["", "", "HardQCD:all = off; HardQCD:gg2bbbar = on"]},
            "mixes extra Pythia settings",
        ),
    ],
)
def test_combinations_that_would_double_count_are_refused(over, message):
    with pytest.raises(InputError, match=message):
        combine_runinfo(_rows(**over), ["a.root", "b.root"], ["a.root", "a.root", "b.root"])


def test_files_written_before_the_bias_columns_still_read(tmp_path):
    old = tmp_path / "old.root"
    cols = {k: v for k, v in _rows().items() if not k.startswith("pthat_bias")}
    with uproot.recreate(old) as f:
        f["events"] = {"weight": np.ones(3)}
        f["runinfo"] = {
            k: (ak.Array(v[:1].tolist()) if v.dtype.kind == "U" else v[:1]) for k, v in cols.items()
        }
    info = read_runinfo(old)
    assert info.pthat_bias == 0.0
    assert info.cross_section_pb == 1000.0
    np.testing.assert_allclose(event_weights_pb(old), [100.0, 100.0, 100.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"process": "qcd", "pthat_bias": 0}, "--pthat-bias must be a power > 0"),
        ({"process": "qcd", "pthat_bias": -2}, "--pthat-bias must be a power > 0"),
        ({"process": "qcd", "pthat_bias": 12}, "<= 10"),
        ({"process": "qcd", "pthat_bias": float("nan")}, "--pthat-bias must be a power > 0"),
        ({"process": "zprime_ttbar", "pthat_bias": 4}, "needs a 2 -> 2 process with a pT-hat"),
        ({"process": "zprime_ttbar", "pthat_min": 500}, "a 2 -> 1 process: Pythia applies no"),
        ({"process": "zprime_ttbar", "pthat_max": 500}, "a 2 -> 1 process: Pythia applies no"),
        ({"process": "ttbar", "pthat_bias": 4}, "needs --pthat-min > 0 for 'ttbar'"),
        ({"process": "qcd", "pthat_bias": 4, "pthat_bias_ref": 0.5}, "at least 1 GeV"),
        ({"process": "qcd", "pthat_bias_ref": 100}, "only used with --pthat-bias"),
        ({"process": "qcd", "pthat_max": 150}, r"--pthat-max \(150\) must exceed"),
        ({"settings": ["PhaseSpace:bias2Selection = on"]}, r"pthat_bias \(--pthat-bias\)"),
        ({"settings": ["phasespace:pTHatMin=50"]}, r"pthat_min \(--pthat-min\)"),
    ],
)
def test_bad_bias_configs(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GenerateConfig(**kwargs).validate()


def test_bias_settings_and_cli_flags(capsys, tmp_path):
    s = pythia_settings(GenerateConfig(process="qcd", pthat_min=150, pthat_bias=4))
    assert "PhaseSpace:bias2Selection = on" in s
    assert "PhaseSpace:bias2SelectionPow = 4" in s
    assert "PhaseSpace:bias2SelectionRef = 150.0" in s  # the pT-hat minimum by default
    s = pythia_settings(GenerateConfig(process="wjets", pthat_bias=3, pthat_bias_ref=100))
    assert "PhaseSpace:bias2SelectionRef = 100.0" in s
    assert not any("bias" in x for x in pythia_settings(GenerateConfig(process="qcd")))
    GenerateConfig(process="ttbar", pthat_min=300, pthat_bias=4).validate()  # 2 -> 2 too
    from hepml.cli.generate import config_from_args

    args = build_parser().parse_args(
        ["generate", "--process", "qcd", "--pthat-bias", "4", "--pthat-bias-ref", "120"]
    )
    cfg = config_from_args(args)
    assert (cfg.pthat_bias, cfg.pthat_bias_ref, cfg.effective_pthat_bias_ref) == (4.0, 120.0, 120.0)
    out = str(tmp_path / "zp.root")
    code = main(
        ["generate", "--process", "zprime_ttbar", "--pthat-bias", "4", "-n", "5", "-o", out]
    )
    assert code == 2
    captured = capsys.readouterr()
    assert "needs a 2 -> 2 process with a pT-hat" in captured.out + captured.err
    assert not list(tmp_path.iterdir())
