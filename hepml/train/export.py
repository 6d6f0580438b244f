r"""Export a trained tagger for deployment: TorchScript and ONNX.

Both exported forms take **raw** particle features (the standardisation saved
in the checkpoint is built in) and return class probabilities ``(B, n_classes)``.

* **TorchScript** (``.pt``/``.ts``): the variable-size model itself, scripted —
  ``forward(x (n, F), pos (n, 2), batch (n,), num_graphs=-1)`` with any number of
  jets and particles, exactly the scores of :func:`hepml.train.predict_rows`.
  ``B`` is ``batch.max() + 1`` unless ``num_graphs`` says more (jets without
  particles at the end of a batch have no entry in ``batch``).
* **ONNX** (``.onnx``): message passing with data-dependent edge lists (the
  dynamic kNN builds ``edge_index`` inside the network and ``index_add`` scatters
  over it) does not go through ``torch.onnx.export`` on torch 2.13 (both the
  TorchScript-based and the dynamo exporters fail on the variable-size graph).
  So the ONNX file holds an equivalent **padded, masked dense** forward that
  shares the trained weights — the form weaver-core exports:
  ``forward(x (B, N, F), pos (B, N, 2), mask (B, N))`` with dynamic ``B`` and
  ``N``. Padded slots are ignored exactly: they are never neighbours, carry no
  messages and are left out of the pooling, so the dense scores equal the
  variable-size ones (to float rounding; tested at 1e-5 with ONNX Runtime).

For ParticleNet the dense kNN inside the exported graph always takes ``k``
neighbours: the input is extended with ``k + 1`` masked slots so ``topk`` never
runs short, and neighbours that fall on masked slots (a jet with fewer than
``k + 1`` particles) are dropped from the mean, as in the variable-size model.

Example::

    export_checkpoint(load_checkpoint("pn/best.pt"), "pn.onnx")
    x, pos, mask = pad_jets(x_flat, pos_flat, batch)      # for ONNX Runtime
"""

from __future__ import annotations

import json
import os

import torch
from torch import Tensor, nn

from hepml.errors import ConfigError, InputError

__all__ = [
    "DensePFN",
    "DenseParticleNet",
    "Exported",
    "ExportedPFN",
    "OnnxTagger",
    "export_checkpoint",
    "pad_jets",
]


def _n_graphs(batch: Tensor, num_graphs: int) -> int:
    """``num_graphs`` when given (≥ 0; jets without particles at the end count), else
    ``batch.max() + 1``."""
    if num_graphs >= 0:
        return num_graphs
    return int(batch.max()) + 1 if batch.numel() > 0 else 0


class Exported(nn.Module):
    """Variable-size ParticleNet with the standardisation and softmax built in (TorchScript)."""

    def __init__(self, model: nn.Module, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def forward(self, x: Tensor, pos: Tensor, batch: Tensor, num_graphs: int = -1) -> Tensor:
        n_graphs = _n_graphs(batch, num_graphs)
        logits = self.model((x - self.mean) / self.std, pos, batch, n_graphs)
        return torch.softmax(logits, dim=1)


class ExportedPFN(Exported):
    """Variable-size PFN with the standardisation and softmax built in (TorchScript);
    ``pos`` is accepted for a uniform signature and unused."""

    def forward(self, x: Tensor, pos: Tensor, batch: Tensor, num_graphs: int = -1) -> Tensor:
        n_graphs = _n_graphs(batch, num_graphs)
        logits = self.model((x - self.mean) / self.std, batch, n_graphs)
        return torch.softmax(logits, dim=1)


class ExportedEventGNN(Exported):
    """Event GNN over an event's objects with the standardisation and softmax built in
    (TorchScript); ``pos`` is accepted for a uniform signature and unused."""

    def forward(self, x: Tensor, pos: Tensor, batch: Tensor, num_graphs: int = -1) -> Tensor:
        n_graphs = _n_graphs(batch, num_graphs)
        logits = self.model((x - self.mean) / self.std, batch, None, n_graphs)
        return torch.softmax(logits, dim=1)


def _bn(bn: nn.Module, h: Tensor) -> Tensor:
    """A BatchNorm1d (eval) or Identity applied over the last dimension of any shape."""
    shape = h.shape
    return bn(h.reshape(-1, shape[-1])).reshape(shape)


def _seq(seq: nn.Sequential, h: Tensor) -> Tensor:
    for mod in seq:
        h = _bn(mod, h) if isinstance(mod, nn.BatchNorm1d) else mod(h)
    return h


class DenseParticleNet(nn.Module):
    """ParticleNet on padded jets, sharing a trained :class:`hepml.models.ParticleNet`'s
    weights (eval mode only): ``(x (B,N,F), pos (B,N,2), mask (B,N))`` → probabilities."""

    def __init__(self, model: nn.Module, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        self.net = model
        self.k = int(model.k)
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def _knn(self, points: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Neighbour indices (B, N, k) and their validity, as hepml.models.knn picks them
        once exported (ONNX Runtime's TopK takes the lower index at a tie, as
        hepml.models.knn does; run eagerly, torch.topk may take another)."""
        fmask = mask.unsqueeze(-1)
        n = points.size(1)
        ar = torch.arange(n, device=points.device)
        eye = (ar.unsqueeze(1) == ar.unsqueeze(0)).unsqueeze(0)
        pair = fmask & mask.unsqueeze(1) & ~eye
        p = torch.where(fmask, points, torch.zeros_like(points))
        if p.size(2) <= 4:
            dist = (p[:, :, None, 0] - p[:, None, :, 0]).square()
            for f in range(1, p.size(2)):
                dist = dist + (p[:, :, None, f] - p[:, None, :, f]).square()
        else:
            w = fmask.to(p.dtype)
            count = w.sum(1, keepdim=True).clamp_min(1.0)
            p = (p - p.sum(1, keepdim=True) / count) * w
            sq = (p * p).sum(-1)
            dist = torch.baddbmm(
                sq.unsqueeze(2) + sq.unsqueeze(1), p, p.transpose(1, 2), alpha=-2.0
            )
            dist = dist.clamp_min(0.0)
        dist = torch.where(pair, dist, torch.full_like(dist, float("inf")))
        d, idx = torch.topk(dist, self.k, dim=-1, largest=False, sorted=True)
        return idx, torch.isfinite(d)

    def forward(self, x: Tensor, pos: Tensor, mask: Tensor) -> Tensor:
        net = self.net
        b, f = x.size(0), x.size(2)
        pad = self.k + 1  # topk always has k candidates; padded slots are never valid
        x = torch.cat([x, x.new_zeros((b, pad, f))], 1)
        pos = torch.cat([pos, pos.new_zeros((b, pad, pos.size(2)))], 1)
        mask = torch.cat([mask.to(torch.bool), mask.new_zeros((b, pad), dtype=torch.bool)], 1)
        fmask = mask.unsqueeze(-1)
        h = _bn(net.fts_bn, (x - self.mean) / self.std) if isinstance(net.fts_bn, nn.BatchNorm1d) \
            else (x - self.mean) / self.std  # fmt: skip
        h = torch.where(fmask, h, torch.zeros_like(h))
        outputs = []
        for i, block in enumerate(net.blocks):
            idx, valid = self._knn(pos if i == 0 else h, mask)
            c, n1 = h.size(2), h.size(1)
            # neighbours' features by flat indices: (B*N*k, C), not the (B, N, N, C) an
            # expand-and-gather makes ONNX Runtime hold in memory
            offsets = (torch.arange(b, device=h.device) * n1).view(b, 1, 1)
            nb = h.reshape(b * n1, c).index_select(0, (idx + offsets).reshape(-1))
            nb = nb.view(b, n1, self.k, c)
            center = h.unsqueeze(2).expand_as(nb)
            msg = _seq(block.mlp, torch.cat([center, nb - center], dim=-1))
            msg = torch.where(valid.unsqueeze(-1), msg, torch.zeros_like(msg))
            agg = msg.sum(2) / valid.sum(2, keepdim=True).clamp_min(1).to(msg.dtype)
            h = torch.relu(agg + _seq(block.shortcut, h))
            h = torch.where(fmask, h, torch.zeros_like(h))
            outputs.append(h)
        if net.use_fusion:
            h = _seq(net.fusion, torch.cat(outputs, dim=-1))
        w = fmask.to(h.dtype)
        pooled = (h * w).sum(1) / w.sum(1).clamp_min(1.0)
        return torch.softmax(net.out(net.fc(pooled)), dim=1)


class DensePFN(nn.Module):
    """PFN on padded jets sharing a trained :class:`hepml.models.PFN`'s weights."""

    def __init__(self, model: nn.Module, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        self.net = model
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def forward(self, x: Tensor, pos: Tensor, mask: Tensor) -> Tensor:
        h = self.net.phi((x - self.mean) / self.std)
        h = torch.where(mask.to(torch.bool).unsqueeze(-1), h, torch.zeros_like(h))
        return torch.softmax(self.net.out(self.net.f(h.sum(1))), dim=1)


def pad_jets(
    x: Tensor, pos: Tensor, batch: Tensor, num_graphs: int = -1
) -> tuple[Tensor, Tensor, Tensor]:
    """Flat ``(n, F)`` features, ``(n, 2)`` coordinates and jet ids → the ONNX model's
    padded ``(B, N, F)``, ``(B, N, 2)`` and boolean ``(B, N)`` mask. ``B`` is
    ``num_graphs`` when given (jets without particles at the end count), else
    ``batch.max() + 1``."""
    from hepml.models.knn import to_dense

    dense_x, mask, _ = to_dense(x, batch, num_graphs)
    dense_pos, _, _ = to_dense(pos, batch, num_graphs)
    return dense_x, dense_pos, mask


def _wrapped(ckpt: dict, dense: bool) -> nn.Module:
    from hepml.models import PFN, EventGNN, ParticleNet
    from hepml.train.checkpoint import model_from_checkpoint

    if ckpt["kind"] != "torch":
        raise ConfigError(
            f"{ckpt['model_name']} is not a network; it is used from its checkpoint (no export)"
        )
    model = model_from_checkpoint(ckpt)
    mean = torch.tensor(ckpt["standardizer"]["mean"], dtype=torch.float32)
    std = torch.tensor(ckpt["standardizer"]["std"], dtype=torch.float32)
    if not dense:
        cls = Exported
        if isinstance(model, PFN):
            cls = ExportedPFN
        elif isinstance(model, EventGNN):
            cls = ExportedEventGNN
        return cls(model, mean, std).eval()
    if isinstance(model, ParticleNet):
        return DenseParticleNet(model, mean, std).eval()
    if isinstance(model, PFN):
        return DensePFN(model, mean, std).eval()
    raise ConfigError(f"ONNX export supports particlenet and pfn, not {ckpt['model_name']!r}")


#: the lowest ONNX opset the dense taggers export to and run from (ascending TopK for
#: the kNN needs 11, Clip on int64 neighbour counts 12)
MIN_OPSET = 12


def _max_opset() -> int:
    try:
        from torch.onnx import _constants

        return int(_constants.ONNX_MAX_OPSET)
    except (ImportError, AttributeError):  # (a torch without the constant: let it decide)
        return 10**6


def export_checkpoint(ckpt: dict, path: str | os.PathLike, opset: int = 17) -> str:
    """Write ``ckpt``'s model to ``path``: ``.onnx`` → ONNX (dense form), ``.pt``/``.ts``
    → TorchScript (variable size). Written atomically; returns the path. A checkpoint
    file is never overwritten (TorchScript files share its ``.pt`` suffix)."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".onnx", ".pt", ".ts"):
        raise InputError(f"{path}: export to .onnx (ONNX) or .pt/.ts (TorchScript)")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InputError(f"{path}: output folder {parent} does not exist")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a folder; give a file name to write")
    if os.path.isfile(path) and _is_checkpoint(path):
        raise InputError(
            f"{path}: is a hepml checkpoint; exporting over it would destroy it, choose "
            "another output name"
        )
    if ext == ".onnx" and not MIN_OPSET <= opset <= _max_opset():
        top = _max_opset()
        raise ConfigError(
            f"--opset {opset}: the exported taggers need ONNX opset {MIN_OPSET} to "
            f"{top if top < 10**6 else 'the newest your torch knows'} (default 17)"
        )
    tmp = f"{path}.tmp-{os.getpid()}{ext}"
    try:
        if ext == ".onnx":
            from hepml.extras import require

            require("onnx", extra="onnx", purpose="ONNX export")
            module = _wrapped(ckpt, dense=True)
            f = len(ckpt["features"])
            example = (
                torch.randn(2, 20, f),
                torch.randn(2, 20, 2),
                torch.ones(2, 20, dtype=torch.bool),
            )
            torch.onnx.export(
                module,
                example,
                tmp,
                input_names=["x", "pos", "mask"],
                output_names=["scores"],
                dynamic_axes={"x": {0: "jets", 1: "particles"}, "pos": {0: "jets", 1: "particles"},
                              "mask": {0: "jets", 1: "particles"}, "scores": {0: "jets"}},
                opset_version=opset,
                dynamo=False,
            )  # fmt: skip
            import onnx

            model = onnx.load(tmp)
            for key, value in export_metadata(ckpt).items():
                entry = model.metadata_props.add()
                entry.key, entry.value = key, value
            onnx.save(model, tmp)
        else:
            scripted = torch.jit.script(_wrapped(ckpt, dense=False))
            meta = json.dumps(export_metadata(ckpt), indent=1)
            torch.jit.save(scripted, tmp, _extra_files={"hepml.json": meta})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def export_metadata(ckpt: dict) -> dict[str, str]:
    """What a deployer needs beside the graph, stored in the exported file (ONNX
    ``metadata_props``; TorchScript extra file ``hepml.json``, read with
    ``torch.jit.load(path, _extra_files={"hepml.json": ""})``): the input features in
    their order, the kNN coordinates, the class order, the model and hepml's version.
    The standardisation is inside the graph."""
    from hepml import __version__

    return {
        "hepml_version": __version__,
        "model_name": str(ckpt["model_name"]),
        "features": json.dumps(list(ckpt["features"])),
        "pos": json.dumps(["deta", "dphi"]),
        "scores": "probability of each label, column i for label i (1: signal, 0: background)",
        "inputs": "x: per particle the features in this order, as hepml reconstruct writes "
        "them (the standardisation is inside); pos: (deta, dphi); mask: real particles",
    }


def _is_checkpoint(path: str) -> bool:
    """Whether ``path`` holds a hepml checkpoint (rather than an exported model)."""
    from hepml.train.checkpoint import load_checkpoint

    try:
        load_checkpoint(path)
    except Exception:  # (anything else: not a checkpoint)
        return False
    return True


class OnnxTagger:
    """An exported ``.onnx`` tagger in ONNX Runtime, called like the TorchScript one:
    ``tagger(x (n, F), pos (n, 2), batch (n,)[, num_graphs])`` → probabilities
    ``(B, n_classes)`` (numpy).

    (A PFN's ONNX graph has no ``pos`` input; it is passed only where the graph names it.)
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        from hepml.extras import require

        ort = require("onnxruntime", extra="onnx", purpose="ONNX inference")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            os.fspath(path), opts, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    def run_dense(self, x, pos, mask):
        feed = {"x": x, "pos": pos, "mask": mask}
        return self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]

    def __call__(self, x: Tensor, pos: Tensor, batch: Tensor, num_graphs: int = -1):
        dx, dp, m = pad_jets(x, pos, batch, num_graphs)
        return self.run_dense(dx.numpy(), dp.numpy(), m.numpy())
