"""Emulated paths against the HLT bits CMS recorded (2015 NanoAOD open data)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepml.errors import ConfigError, InputError
from hepml.trigger import load_menu, menu_from_dict
from hepml.trigger.compare import compare_recorded, write_comparison
from hepml.trigger.menu import BUILTIN_MENUS


def test_recorded_bits_against_the_emulation(shared_data, tmp_path):
    nano = shared_data / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
    comps = {c.path: c for c in compare_recorded(load_menu("nanoaod_2015"), [nano])}
    with uproot.open(nano) as f:
        t = f["Events"].arrays(["Jet_pt", "HLT_PFJet40", "HLT_PFJet80"])
    lead = ak.to_numpy(ak.fill_none(ak.max(t.Jet_pt, axis=1), 0.0))
    for name, bit, cut in (("HLT_PFJet40_emulated", "HLT_PFJet40", 40),
                           ("HLT_PFJet80_emulated", "HLT_PFJet80", 80)):  # fmt: skip
        c = comps[name]
        rec = ak.to_numpy(t[bit])
        emu = lead > cut
        assert c.events == len(rec) == 200
        assert c.matrix[1, 1] == np.sum(emu & rec)
        assert c.matrix[0, 1] == np.sum(~emu & rec)
        assert c.matrix[1, 0] == np.sum(emu & ~rec)
        assert c.agreement == pytest.approx(np.mean(emu == rec))
    # the recorded bit turns on with the offline leading-jet pT
    c = comps["HLT_PFJet40_emulated"]
    lo, hi = c.x < 30, c.x > 80
    assert c.recorded_bits[hi].mean() > c.recorded_bits[lo].mean()
    files = write_comparison(list(comps.values()), tmp_path)
    assert (tmp_path / "comparison.json").exists()
    assert any(str(p).endswith("turnon_recorded_HLT_PFJet40_emulated.png") for p in files)


def test_compare_needs_recorded_bits_and_fixed_thresholds(shared_data):
    nano = shared_data / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
    with pytest.raises(ConfigError, match="no path names a recorded bit"):
        compare_recorded(menu_from_dict({"paths": {"A": "jets.pt[0] > 1"}}), [nano])
    with pytest.raises(
        InputError, match=r"no recorded trigger bit 'HLT_Nope' \(path A\.recorded\)"
    ):
        compare_recorded(menu_from_dict({"paths": {"A": {
            "cut": "jets.pt[0] > 1", "recorded": "HLT_Nope"}}}), [nano])  # fmt: skip


def test_builtin_menus_load():
    assert {"demo", "nanoaod_2015"} <= set(BUILTIN_MENUS)
    demo = load_menu("demo")
    assert len(demo.level("HLT")) >= 8
    assert [p.name for p in demo.ml_paths] == ["HLT_AK8PFJet300_ParticleNetTop"]
    assert any(p.prescale > 1 for p in demo.paths.values())
