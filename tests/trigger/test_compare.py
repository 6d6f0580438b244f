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
    # the turn-on numbers are in the JSON too, every event in a bin (none past the last)
    import json

    saved = {d["path"]: d for d in json.loads((tmp_path / "comparison.json").read_text())}
    on = saved["HLT_PFJet40_emulated"]["turn_on"]
    edges = np.asarray(on["edges"])
    assert edges[0] <= np.nanmin(c.x)
    assert edges[-1] > np.nanmax(c.x)
    k = int(np.argmax(np.asarray([e if e is not None else -1 for e in on["recorded"]["efficiency"]])
                      > 0))  # fmt: skip
    inside = (c.x >= edges[k]) & (c.x < edges[k + 1])
    assert on["recorded"]["efficiency"][k] == pytest.approx(c.recorded_bits[inside].mean())
    assert on["recorded"]["low"][k] <= on["recorded"]["efficiency"][k] <= on["recorded"]["high"][k]


def test_compare_needs_recorded_bits_and_fixed_thresholds(shared_data):
    nano = shared_data / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
    with pytest.raises(ConfigError, match="no path names a recorded bit"):
        compare_recorded(menu_from_dict({"paths": {"A": "jets.pt[0] > 1"}}), [nano])
    with pytest.raises(
        InputError, match=r"no recorded trigger bit 'HLT_Nope' \(path A\.recorded\)"
    ):
        compare_recorded(menu_from_dict({"paths": {"A": {
            "cut": "jets.pt[0] > 1", "recorded": "HLT_Nope"}}}), [nano])  # fmt: skip


def _two_basket_copy(nano, dst):
    """``nano`` rewritten with every branch in two baskets (events 0-99, 100-199), the
    last ``Jet_pt`` basket then overwritten with garbage: the file breaks part-way."""
    with uproot.open(nano) as f:
        t = f["Events"]
        names = set(t.keys())
        arrays = t.arrays()
        jagged = {k for k in names if type(t[k].interpretation).__name__ == "AsJagged"}
    out, used = {}, set()
    for c in sorted(k[1:] for k in names if k.startswith("n")):
        fields = sorted(k for k in jagged if k.startswith(c + "_"))
        if fields:
            out[c] = ak.zip({k[len(c) + 1 :]: arrays[k] for k in fields})
            used |= {*fields, "n" + c}
    out.update({k: arrays[k] for k in sorted(names - used - jagged)})
    with uproot.recreate(dst) as f:
        f.mktree("Events", {k: v.type.content for k, v in out.items()})
        f["Events"].extend({k: v[:100] for k, v in out.items()})
        f["Events"].extend({k: v[100:] for k, v in out.items()})
    data = bytearray(dst.read_bytes())
    with uproot.open(dst) as f:
        seeks = f["Events"]["Jet_pt"].member("fBasketSeek")[:2]
    data[int(seeks[1]) + 100 : int(seeks[1]) + 400] = b"\xff" * 300
    dst.write_bytes(bytes(data))


def test_compare_keeps_the_events_read_before_a_file_breaks(shared_data, tmp_path):
    nano = shared_data / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
    broken = tmp_path / "broken.root"
    _two_basket_copy(nano, broken)
    menu = load_menu("nanoaod_2015")
    with pytest.raises(InputError, match=r"broken\.root.*--skip-bad-files"):
        compare_recorded(menu, [nano, broken], step_size=50)
    comps = compare_recorded(menu, [nano, broken], step_size=50, skip_bad_files=True)
    whole = {c.path: c for c in compare_recorded(menu, [nano])}
    for c in comps:
        assert list(c.skipped) == [str(broken)]
        assert "(100 events read from it were kept)" in c.skipped[str(broken)]
        assert c.events == 300  # the good file, and the broken one's first basket
        # its first 100 events are the good file's first 100: the same decisions
        np.testing.assert_array_equal(c.emulated[200:], whole[c.path].emulated[:100])
        np.testing.assert_array_equal(c.recorded_bits[200:], whole[c.path].recorded_bits[:100])


def test_builtin_menus_load():
    assert {"demo", "nanoaod_2015"} <= set(BUILTIN_MENUS)
    demo = load_menu("demo")
    assert len(demo.level("HLT")) >= 8
    assert [p.name for p in demo.ml_paths] == ["HLT_AK8PFJet300_ParticleNetTop"]
    assert any(p.prescale > 1 for p in demo.paths.values())
