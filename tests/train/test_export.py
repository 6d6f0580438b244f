"""Export: TorchScript gives the model's scores exactly; ONNX Runtime (dense padded
form sharing the weights) gives them to 1e-5 on jets of varied sizes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from hepml.errors import ConfigError, InputError
from hepml.train import fit, load_checkpoint
from hepml.train.export import OnnxTagger, _wrapped, export_checkpoint, pad_jets

onnxruntime = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def checkpoints(jet_rows, tmp_path_factory):
    from hepml.train import load_config

    out = tmp_path_factory.mktemp("export")
    made = {}
    for name, options in (
        ("particlenet-lite", {}),  # the real configuration, k = 7
        ("pfn", {"phi_sizes": [32, 32], "f_sizes": [32]}),
    ):
        cfg = load_config(overrides={
            "data": {"files": [str(jet_rows["top"]), str(jet_rows["qcd"])]},
            "model": {"name": name, **options}, "epochs": 1, "batch_size": 32,
            "device": "cpu", "output": str(out / name)})  # fmt: skip
        fit(cfg)
        made[name] = load_checkpoint(out / name)
    return made


def _jets(sizes, seed=0, cells=False):
    """Random jets; ``cells``: half the particles share (Δη, Δφ) cells and features, so
    kNN distances tie exactly (as on smeared events)."""
    g = torch.Generator().manual_seed(seed)
    sizes = torch.as_tensor(sizes)
    n = int(sizes.sum())
    x = torch.randn(n, 13, generator=g) * 2
    pos = (torch.rand(n, 2, generator=g) * 2 - 1) * 0.8
    if cells:
        dup = torch.rand(n, generator=g) < 0.5
        pos[dup] = (torch.randint(-8, 9, (n, 2), generator=g) * 0.1).float()[dup]
        x[dup] = x[dup][:, :1].round()
    return x, pos, torch.repeat_interleave(torch.arange(len(sizes)), sizes)


@pytest.mark.parametrize("name", ["particlenet-lite", "pfn"])
def test_onnx_and_torchscript_match_the_model(checkpoints, name, tmp_path):
    ckpt = checkpoints[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_path = export_checkpoint(ckpt, tmp_path / "m.onnx")
        ts_path = export_checkpoint(ckpt, tmp_path / "m.pt")
    reference = _wrapped(ckpt, dense=False)
    onnx = OnnxTagger(onnx_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.load(ts_path)
    # k = 7: sizes below, at and above k + 1, a single particle, and large jets;
    # then other batch sizes and maximum lengths (dynamic axes)
    # and jets with exact kNN ties (lower index first everywhere)
    for sizes, cells in (([1, 2, 5, 7, 8, 9, 40, 120], False), ([3], False), ([60, 1], False),
                         ([8] * 33, False), ([1, 2, 5, 7, 8, 9, 40, 120], True)):  # fmt: skip
        x, pos, batch = _jets(sizes, seed=len(sizes), cells=cells)
        with torch.no_grad():
            ref = reference(x, pos, batch).numpy()
            ts = scripted(x, pos, batch).numpy()
        got = onnx(x, pos, batch)
        assert got.shape == (len(sizes), 2)
        np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
        if cells:  # same neighbour sets; among tied neighbours the summing order may differ
            np.testing.assert_allclose(ts, ref, atol=1e-6, rtol=0)
        else:
            np.testing.assert_array_equal(ts, ref)
        np.testing.assert_allclose(ref.sum(1), 1.0, rtol=1e-6)
    # jets without particles at the end of a batch (absent from `batch`) keep their rows
    sizes = [5, 0, 3, 0, 0]
    x, pos, batch = _jets(sizes)
    with torch.no_grad():
        ref = reference(x, pos, batch, len(sizes)).numpy()
        ts = scripted(x, pos, batch, len(sizes)).numpy()
    assert ref.shape == ts.shape == (5, 2)
    np.testing.assert_array_equal(ts, ref)
    np.testing.assert_allclose(onnx(x, pos, batch, len(sizes)), ref, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(ref[3], ref[1])  # every empty jet scores alike
    # what a deployer needs is in the files: the features in order, the model, hepml
    import json

    import onnx as onnx_lib

    props = {p.key: p.value for p in onnx_lib.load(str(onnx_path)).metadata_props}
    extra = {"hepml.json": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.load(ts_path, _extra_files=extra)
    for meta in (props, json.loads(extra["hepml.json"])):
        assert json.loads(meta["features"]) == list(ckpt["features"])
        assert meta["model_name"] == ckpt["model_name"]
        assert json.loads(meta["pos"]) == ["deta", "dphi"]


def test_dense_form_ignores_padding(checkpoints):
    """Extra padded slots (larger N) change nothing."""
    module = _wrapped(checkpoints["particlenet-lite"], dense=True)
    x, pos, batch = _jets([4, 9, 2])
    dx, dp, m = pad_jets(x, pos, batch)
    extra = 11
    dx2 = torch.cat([dx, torch.randn(3, extra, 13)], 1)  # garbage in the padding
    dp2 = torch.cat([dp, torch.randn(3, extra, 2)], 1)
    m2 = torch.cat([m, torch.zeros(3, extra, dtype=torch.bool)], 1)
    with torch.no_grad():
        torch.testing.assert_close(module(dx2, dp2, m2), module(dx, dp, m), atol=1e-6, rtol=0)


def test_export_errors(checkpoints, tmp_path):
    with pytest.raises(InputError, match=r"\.onnx"):
        export_checkpoint(checkpoints["pfn"], tmp_path / "m.txt")
    with pytest.raises(InputError, match="does not exist"):
        export_checkpoint(checkpoints["pfn"], tmp_path / "no" / "m.onnx")
    for opset in (11, 1000):  # (11 wrote a ParticleNet graph ONNX Runtime cannot load)
        with pytest.raises(ConfigError, match=f"--opset {opset}: .*opset 12 to"):
            export_checkpoint(checkpoints["pfn"], tmp_path / "m.onnx", opset=opset)
    (tmp_path / "folder.pt").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        export_checkpoint(checkpoints["pfn"], tmp_path / "folder.pt")
    # a checkpoint is never overwritten by its export (both end in .pt)
    from hepml.train.checkpoint import save_checkpoint

    save_checkpoint(checkpoints["pfn"], tmp_path / "best.pt")
    before = (tmp_path / "best.pt").read_bytes()
    with pytest.raises(InputError, match="is a hepml checkpoint"):
        export_checkpoint(checkpoints["pfn"], tmp_path / "best.pt")
    assert (tmp_path / "best.pt").read_bytes() == before
    bdt = {"kind": "bdt", "model_name": "substructure-bdt"}
    with pytest.raises(ConfigError, match="not a network"):
        export_checkpoint(bdt, tmp_path / "m.onnx")
    # an exported model given where a checkpoint is needed: said so, no torch essay
    from hepml.train.checkpoint import load_checkpoint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = export_checkpoint(checkpoints["pfn"], tmp_path / "pfn_ts.pt")
        onnx_file = export_checkpoint(checkpoints["pfn"], tmp_path / "pfn.onnx")
    for path, kind in ((ts, "TorchScript"), (onnx_file, "ONNX")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (no warning printed before the error either)
            with pytest.raises(InputError, match=f"exported by hepml export \\({kind}\\), not a"):
                load_checkpoint(path)
    assert load_checkpoint(tmp_path / "best.pt")["model_name"] == "pfn"


@pytest.mark.parametrize("name", ["particlenet-lite", "pfn"])
def test_the_lowest_accepted_opset_runs(checkpoints, name, tmp_path):
    """The lowest opset export_checkpoint accepts gives a graph ONNX Runtime loads and
    that scores as the model does (opset 11 wrote one it refused, for ParticleNet)."""
    from hepml.train.export import MIN_OPSET

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = export_checkpoint(checkpoints[name], tmp_path / "low.onnx", opset=MIN_OPSET)
    x, pos, batch = _jets([1, 5, 9, 30])
    with torch.no_grad():
        ref = _wrapped(checkpoints[name], dense=False)(x, pos, batch).numpy()
    np.testing.assert_allclose(OnnxTagger(path)(x, pos, batch), ref, atol=1e-5, rtol=0)
