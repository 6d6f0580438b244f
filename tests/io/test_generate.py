"""Pythia 8 generation into hepml's layout, read back with open_events."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepml.errors import ConfigError, InputError
from hepml.io import read_events, read_runinfo
from hepml.io.generate import GenerateConfig, generate, pythia_seed, pythia_settings


def _decaying_tops(partons):
    """Tops per event that decay (t -> W q) in the stored parton record."""
    mother_pid = partons.pid[ak.where(partons.mother >= 0, partons.mother, 0)]
    return ak.sum((abs(partons.pid) == 24) & (abs(mother_pid) == 6) & (partons.mother >= 0), axis=1)


def test_ttbar_sample_has_tops_and_their_decay_products(samples):
    ev = read_events(samples["ttbar"])
    assert len(ev) == 120
    partons = ev.partons
    assert ak.all(_decaying_tops(partons) == 2)
    ak.local_index(partons.pid)
    mother_pid = partons.pid[ak.where(partons.mother >= 0, partons.mother, 0)]
    w_from_top = (abs(partons.pid) == 24) & (abs(mother_pid) == 6) & (partons.mother >= 0)
    top_idx = partons.mother[w_from_top]
    for e in range(5):  # follow the decay chain in a few events
        pid = ak.to_numpy(partons.pid[e])
        mother = ak.to_numpy(partons.mother[e])
        for t in ak.to_numpy(top_idx[e]):
            daughters = set(pid[mother == t])
            assert np.sign(pid[t]) * 24 in daughters
            assert daughters & {np.sign(pid[t]) * q for q in (1, 3, 5)}
            # the W (through its copies) ends in two fermions
            w = np.flatnonzero((mother == t) & (abs(pid) == 24))[0]
            while (kids := np.flatnonzero(mother == w)).size == 1 and abs(pid[kids[0]]) == 24:
                w = kids[0]
            kids = np.flatnonzero(mother == w)
            assert len(kids) == 2
            assert all(abs(pid[k]) <= 16 for k in kids)
    # final-state particles: no neutrinos, integer charges, physical energies
    p = ev.particles
    assert not ak.any((abs(p.pid) == 12) | (abs(p.pid) == 14) | (abs(p.pid) == 16))
    assert ak.all(p.E > 0)
    assert 200 < ak.mean(ak.num(p)) < 2000
    assert ak.all(ev.event == np.arange(120))
    # two jobs merged; run is each job's Pythia seed, so (run, event) is unique across
    # generate calls of other seeds too
    assert set(np.unique(ak.to_numpy(ev.run))) == {pythia_seed(11, 0), pythia_seed(11, 1)}


def test_runinfo_has_cross_sections(samples):
    tt = read_runinfo(samples["ttbar"])
    assert tt.process == "ttbar"
    assert 2 < tt.cross_section_pb < 30  # LO ttbar at 13 TeV with pT-hat > 400 GeV: ~8 pb
    assert 0 < tt.cross_section_error_pb < 0.3 * tt.cross_section_pb
    assert tt.events_accepted == 120
    assert tt.events_tried >= 120
    assert tt.seeds == [12, 13]
    assert tt.generator.startswith("pythia8mc 8.3")
    qcd = read_runinfo(samples["qcd"])
    assert qcd.process == "qcd"
    assert qcd.cross_section_pb > tt.cross_section_pb


def test_inclusive_ttbar_cross_section(tmp_path):
    generate(GenerateConfig(process="ttbar", events=40, seed=9), tmp_path / "tt.root")
    info = read_runinfo(tmp_path / "tt.root")
    assert 350 < info.cross_section_pb < 750  # LO ttbar at 13 TeV: about 500 pb


def test_charge_and_momentum_are_conserved(tmp_path):
    path = tmp_path / "nu.root"
    generate(GenerateConfig(process="zjets", events=10, seed=5, keep_neutrinos=True), path)
    ev = read_events(path)
    # two protons in, so the final state carries charge +2 and the beams' momentum
    assert ak.all(ak.sum(ev.particles.charge, axis=1) == 2)
    np.testing.assert_allclose(ak.to_numpy(ak.sum(ev.particles.E, axis=1)), 13000.0, rtol=1e-4)
    np.testing.assert_allclose(ak.to_numpy(ak.sum(ev.particles.px, axis=1)), 0.0, atol=0.05)


def test_same_seed_reproduces_and_another_seed_differs(tmp_path):
    a, b, c = (tmp_path / f"{x}.root" for x in "abc")
    for path, seed in ((a, 7), (b, 7), (c, 8)):
        generate(GenerateConfig(process="wjets", events=8, seed=seed), path)
    ea, eb, ec = (read_events(p) for p in (a, b, c))
    assert ak.array_equal(ea.particles, eb.particles)
    assert ak.array_equal(ea.partons, eb.partons)
    assert not ak.array_equal(ea.particles, ec.particles)


def test_jobs_without_merge_write_one_file_per_job(tmp_path):
    result = generate(
        GenerateConfig(process="zprime_ttbar", events=6, seed=2, jobs=2, merge=False, mass=1500),
        tmp_path / "zp.root",
    )
    assert [p.name for p in result.outputs] == ["zp_job0.root", "zp_job1.root"]
    assert not (tmp_path / "zp.root").exists()
    info = read_runinfo(tmp_path / "zp_job*.root")
    assert info.events_accepted == 6
    assert info.seeds == [3, 4]
    ev = read_events(result.outputs)
    assert ak.to_list(ev.event) == list(range(6))
    # the Z' decays to a top pair
    assert ak.all(_decaying_tops(ev.partons) == 2)
    assert ak.any(ev.partons.pid == 32)
    # the partons' fields are the file's: no made-up integer charge for quarks
    assert "charge" not in ev.partons.fields
    assert "charge" in ev.particles.fields
    assert not list(tmp_path.glob(".*.part"))
    # runinfo records the mass and the extra settings (and mixing masses is refused)
    with uproot.open(result.outputs[0]) as f:
        row = f["runinfo"].arrays()
    assert row.mass_gev[0] == 1500.0
    assert row.keep_neutrinos[0] == 0
    assert row.settings[0] == ""
    other = generate(GenerateConfig(process="zprime_ttbar", events=2, seed=9, mass=1000),
                     tmp_path / "zp1000.root")  # fmt: skip
    with pytest.raises(InputError, match="mixes Z' masses"):
        read_runinfo([*result.outputs, other.outputs[0]])


def test_a_failed_run_keeps_an_earlier_runs_files(tmp_path, monkeypatch):
    import hepml.io.generate as G

    first = generate(GenerateConfig(process="ttbar", events=4, jobs=2, merge=False),
                     tmp_path / "x.root")  # fmt: skip
    before = {p.name: p.read_bytes() for p in first.outputs}

    def boom(*args, **kwargs):
        raise RuntimeError("job died")

    monkeypatch.setattr(G, "_merge", boom)  # (fails after the jobs, before anything is kept)
    with pytest.raises(RuntimeError):
        generate(GenerateConfig(process="ttbar", events=4, jobs=2, merge=True, seed=5),
                 tmp_path / "x.root")  # fmt: skip
    assert {p.name: p.read_bytes() for p in tmp_path.glob("x_job*.root")} == before
    assert not list(tmp_path.glob(".x*"))  # (the merge's hidden job files are gone)


def _generator_workers(parent: int | None = None) -> list[int]:
    """Processes of hepml generate's jobs (multiprocessing spawn children), optionally
    of one parent."""
    import psutil

    out = []
    for proc in psutil.process_iter(["pid", "ppid", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "multiprocessing.spawn" in cmd and (parent is None or proc.info["ppid"] == parent):
            out.append(proc.info["pid"])
    return out


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_a_killed_run_leaves_no_files_and_no_workers(tmp_path, how):
    """``kill`` (SIGTERM: a batch system's time limit) stops hepml generate --jobs 2 as
    Ctrl-C does: exit 143, the jobs stopped, no temporary file left; a parent killed
    outright (SIGKILL) leaves jobs that notice and stop, removing their files."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    cmd = [sys.executable, "-c", "import sys; from hepml.cli.main import main; sys.exit(main())",
           "generate", "--process", "qcd", "--pthat-min", "200", "-n", "100000", "-j", "2",
           "-o", str(tmp_path / "out.root")]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".*part")) and time.monotonic() < deadline:
            time.sleep(0.2)  # (until the jobs write: Pythia has started)
        assert list(tmp_path.glob(".*part")), "the jobs never started writing"
        workers = _generator_workers(proc.pid)
        assert len(workers) == 2
        proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
        if how == "sigterm":
            assert proc.returncode == 143
            assert b"error: terminated" in out
        deadline = time.monotonic() + 60
        while any(psutil.pid_exists(w) and psutil.Process(w).status() != "zombie"
                  for w in workers) and time.monotonic() < deadline:  # fmt: skip
            time.sleep(0.2)
        assert not [w for w in workers if psutil.pid_exists(w)
                    and psutil.Process(w).status() != "zombie"]  # fmt: skip
        assert not list(tmp_path.iterdir())
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in _generator_workers(proc.pid):
            os.kill(w, signal.SIGKILL)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"process": "susy"}, "unknown process 'susy'"),
        ({"events": 0}, "--events must be at least 1"),
        ({"jobs": 3, "events": 2}, r"--jobs \(3\) exceeds --events \(2\)"),
        (
            {"pthat_min": 500, "pthat_max": 400},
            r"--pthat-max \(400\) must exceed --pthat-min \(500\)",
        ),
        ({"settings": ["HardQCD:all on"]}, "not of the form 'Key = value'"),
        ({"settings": ["Random:seed = 42"]}, r"set it with seed \(--seed"),
        ({"settings": ["Beams:eCM = 8000"]}, r"set it with ecm \(--ecm\)"),
        # (runinfo records the Z' mass: a mass set behind its back would mix masses)
        ({"process": "zprime_ttbar", "settings": ["32:m0 = 3000"]}, r"set it with mass \(--mass"),
        ({"process": "zprime_ttbar", "settings": ["32:mMax = 3000"]}, r"set it with mass"),
        ({"process": "ttbar", "mass": 3000}, "--mass .* is the Z' mass of zprime_ttbar"),
        ({"process": "zprime_ttbar", "mass": -5}, "--mass must be a positive mass"),
    ],
)
def test_bad_generator_configs(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GenerateConfig(**kwargs).validate()


def test_settings_carry_pthat_and_seed():
    s = pythia_settings(GenerateConfig(process="qcd", pthat_min=400, pthat_max=800, seed=41), job=1)
    assert "PhaseSpace:pTHatMin = 400" in s
    assert "PhaseSpace:pTHatMax = 800" in s
    assert "Random:seed = 43" in s
    assert "HardQCD:all = on" in s


def test_pythia_rejecting_a_setting_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="Pythia rejected the setting 'NoSuch:thing = 3'"):
        generate(
            GenerateConfig(process="ttbar", events=1, settings=["NoSuch:thing = 3"]),
            tmp_path / "x.root",
        )
    assert not (tmp_path / "x.root").exists()
