"""Every public plot of :mod:`hepml.plotting`, rendered to PNG from small real inputs
(the session's Pythia samples and their jet rows) and checked as a file: size,
dimensions and that it is not blank."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("mplhep")

from hepml import plotting

pytestmark = pytest.mark.timeout(300)

PLOTS = (
    "efficiency_vs_rate",
    "event_display",
    "jet_images",
    "rate_vs_threshold",
    "rejection_curves",
    "roc_curves",
    "score_histograms",
    "training_history",
    "turn_on_curves",
)


def check_png(path, min_kb: float = 10.0, min_px: int = 400, max_px: int = 4000) -> np.ndarray:
    """A written PNG of sensible size whose pixels are not all alike."""
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    plt.close("all")
    assert path.exists(), f"{path} was not written"
    assert path.stat().st_size > min_kb * 1024, f"{path}: only {path.stat().st_size} bytes"
    img = mpimg.imread(path)
    h, w = img.shape[:2]
    assert min_px <= w <= max_px, f"{path}: {w}x{h} pixels"
    assert min_px <= h <= max_px, f"{path}: {w}x{h} pixels"
    assert 0.3 < w / h < 4.0, f"{path}: aspect {w}x{h}"
    rgb = img[..., :3]
    assert rgb.std() > 0.02, f"{path}: blank (pixel std {rgb.std():.4f})"
    assert (rgb.min(axis=-1) < 0.5).mean() > 0.005, f"{path}: almost no ink"
    return img


def test_every_public_function_is_covered():
    public = {n for n in plotting.__all__ if callable(getattr(plotting, n))}
    public -= {"binned_efficiency"}  # numbers, not a figure (used by turn_on_curves)
    assert public == set(PLOTS)


@pytest.fixture(scope="module")
def results(jet_rows):
    """Three models' scores on the real jets: jet mass, τ32 and a noisy mix of both."""
    from hepml.graphs.jets import load_rows
    from hepml.train.metrics import binary_metrics
    from hepml.train.predict import EvalResult

    rows = load_rows(jet_rows["top"], jet_rows["qcd"])
    y = ak.to_numpy(rows.label).astype(np.int64)
    w = ak.to_numpy(rows.weight).astype(np.float64)
    mass = np.clip(ak.to_numpy(rows.jet_msd) / 250.0, 0, 1)
    tau32 = 1.0 - np.clip(ak.to_numpy(rows.jet_tau3) / ak.to_numpy(rows.jet_tau2), 0, 1)
    rng = np.random.default_rng(1)
    mix = np.clip(0.5 * mass + 0.5 * tau32 + rng.normal(0, 0.1, len(y)), 0, 1)
    out = []
    for name, score in (("m_SD", mass), ("1 - tau32", tau32), ("mix", mix)):
        out.append(EvalResult(name, y, score, w, binary_metrics(y, score)))
    assert len(np.unique(y)) == 2
    return out


def test_roc_and_rejection_curves(results, tmp_path):
    plotting.roc_curves(results, tmp_path / "roc.png", title="session jets")
    plotting.rejection_curves(results, tmp_path / "rej.png", title="session jets")
    check_png(tmp_path / "roc.png")
    check_png(tmp_path / "rej.png")


def test_score_histograms(results, tmp_path):
    fig = plotting.score_histograms(results[2], tmp_path / "scores.png", class_names=("QCD", "top"))
    assert fig.axes[0].get_xlabel() == "mix score"
    check_png(tmp_path / "scores.png")


def test_training_history(tmp_path):
    history = [
        {"epoch": e, "loss": 0.7 / e, "val_loss": 0.75 / e**0.8, "val_auc": 1 - 0.3 / e}
        for e in range(1, 6)
    ]
    plotting.training_history(history, tmp_path / "history.png", title="a run")
    check_png(tmp_path / "history.png")
    # the BDT's one-row history (no loss), to a path without a suffix (PNG, as matplotlib)
    bdt = [{"epoch": 1, "val_auc": 0.95, "val_rej30": 120.0, "seconds": 0.4}]
    plotting.training_history(bdt, tmp_path / "bdt_history")
    assert (tmp_path / "bdt_history").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def qcd_trigger(samples):
    """Leading-jet pT offline (true particles) and online (smeared), per QCD event, with
    each event's rate in Hz at L = 2e34."""
    from hepml.io import event_weights_pb, read_events
    from hepml.reco import cluster, smear

    events = read_events(samples["qcd"])
    offline = cluster(events.particles, "antikt", 0.4, pt_min=20.0)
    online = cluster(smear(events.particles, seed=3), "antikt", 0.4, pt_min=20.0)

    def lead(jets):
        return ak.to_numpy(ak.fill_none(ak.firsts(jets.pt), 0.0))

    r_hz = 2e34 * 1e-36 * event_weights_pb(samples["qcd"])
    return lead(offline), lead(online), r_hz


def test_rate_vs_threshold(qcd_trigger, tmp_path):
    from hepml.trigger.rates import rate_curve, solve_threshold

    _, online, r_hz = qcd_trigger
    target = float(np.sum(r_hz[online > 600]))
    thr = solve_threshold(online, r_hz, target)
    plotting.rate_vs_threshold(
        {"leading jet (QCD)": rate_curve(online, r_hz)},
        tmp_path / "rate.png",
        xlabel="Leading jet $p_T$ [GeV]",
        target_hz=target,
        threshold=thr.value,
        title="rate",
    )
    check_png(tmp_path / "rate.png")


def test_efficiency_vs_rate(qcd_trigger, tmp_path):
    """Two 'paths' on the same QCD events (leading jet pT online and offline) as the
    signal efficiency of a harder subset against the rate of all events."""
    offline, online, r_hz = qcd_trigger
    signal = offline > 500
    curves = {}
    for name, v in (("online", online), ("offline", offline)):
        order = np.argsort(-v)
        curves[name] = (np.cumsum(r_hz[order]), np.cumsum(signal[order]) / signal.sum())
    plotting.efficiency_vs_rate(curves, tmp_path / "eff_rate.png", signal="hard QCD",
                                rates_hz=[1.0, 10.0], title="efficiency vs rate")  # fmt: skip
    check_png(tmp_path / "eff_rate.png")


def test_turn_on_curves(qcd_trigger, tmp_path):
    offline, online, _ = qcd_trigger
    plotting.turn_on_curves(
        {"online > 450 GeV": (offline, online > 450), "online > 550 GeV": (offline, online > 550)},
        tmp_path / "turnon.png",
        bins=np.linspace(300, 900, 13),
        xlabel="Offline leading jet $p_T$ [GeV]",
        title="turn-on",
    )
    check_png(tmp_path / "turnon.png")


def test_jet_images(jet_rows, tmp_path):
    from hepml.graphs.jets import load_rows

    top, qcd = load_rows(jet_rows["top"]), load_rows(jet_rows["qcd"])
    fig = plotting.jet_images({"top": top, "QCD": jet_rows["qcd"]}, tmp_path / "images.png")
    img = check_png(tmp_path / "images.png")
    assert img.shape[1] > 1.5 * img.shape[0]  # two panels side by side
    panels = [im for im in fig.axes[0].get_images()] + [im for im in fig.axes[1].get_images()]
    assert len(panels) == 2
    # each image is the average pT fraction per jet: summed over pixels, about one
    for im, rows in zip(panels, (top, qcd), strict=True):
        total = float(np.ma.filled(im.get_array(), 0.0).sum())
        in_window = ak.to_numpy(
            ak.sum(np.exp(rows.part.log_pt_rel) * (np.abs(rows.part.deta) < 0.8)
                   * (np.abs(rows.part.dphi) < 0.8), axis=1)
        )  # fmt: skip
        assert total == pytest.approx(in_window.mean(), rel=1e-4)
        assert 0.8 < total < 1.2


def test_event_display(samples, tmp_path):
    from hepml.io import read_events
    from hepml.reco import cluster

    events = read_events(samples["ttbar"], entry_stop=5)
    jets = cluster(events.particles, "antikt", 0.4, pt_min=30.0)
    fig = plotting.event_display(events.particles[0], jets[0], tmp_path / "event.png",
                                 radius=0.4, title="ttbar, event 0")  # fmt: skip
    check_png(tmp_path / "event.png")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(lab.startswith("charged hadron") for lab in labels)
    assert any(lab.startswith("jet axes, R = 0.4") for lab in labels)
    # the output of cluster for a one-event array is taken as well
    one = cluster(events.particles[1:2], "antikt", 0.4, pt_min=30.0)
    plotting.event_display(events.particles[1:2], one, tmp_path / "event1.png")
    check_png(tmp_path / "event1.png")
    with pytest.raises(ValueError, match="one event"):
        plotting.event_display(events.particles[0], jets)


def test_plots_leave_matplotlib_style_alone_and_name_their_unit(results, tmp_path):
    """The CMS style is for hepml's figures only (a notebook's own figures afterwards
    keep matplotlib's style); event-level scores are counted in events."""
    import matplotlib as mpl

    before = {k: mpl.rcParams[k] for k in ("font.size", "figure.figsize", "axes.labelsize")}
    plotting.roc_curves(results, tmp_path / "roc.png")
    fig = plotting.score_histograms(results[0], tmp_path / "s.png", unit="events")
    assert {k: mpl.rcParams[k] for k in before} == before
    assert fig.axes[0].get_ylabel() == "Fraction of events"
    assert all("events)" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert fig.get_size_inches().tolist() == [9.0, 8.0]  # (the figure itself: CMS style)
