"""``hepml export``: a trained network to TorchScript or ONNX."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Export a trained network with its standardisation built in; the exported model
returns class probabilities. .pt/.ts (particlenet, particlenet-lite, pfn,
event-gnn): TorchScript of the variable-size model, forward(x (n,F), pos (n,2),
batch (n,), num_graphs=-1). .onnx (particlenet, particlenet-lite, pfn): the
equivalent padded, masked dense forward, inputs x (B,N,F), pos (B,N,2), mask
(B,N) with dynamic B and N, ONNX opset 12 or newer (see hepml.train.export).
A checkpoint is never overwritten.
"""

EPILOG = """examples:
  hepml export pn/best.pt -o pn.onnx
  hepml export pn/ -o pn_scripted.pt
"""


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "export",
        help="export a trained network to TorchScript or ONNX",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="run folder or .pt checkpoint")
    p.add_argument("-o", "--output", required=True, help="output .onnx, .pt or .ts")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset, 12 or newer (default 17)")
    p.set_defaults(run=run)
    return p


def run(args, ui) -> int:
    import warnings

    from hepml.train import load_checkpoint
    from hepml.train.export import export_checkpoint

    ckpt = load_checkpoint(args.model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' deprecation chatter
        path = export_checkpoint(ckpt, args.output, opset=args.opset)
    ui.print(f"wrote {path} ({ckpt['model_name']}, {len(ckpt['features'])} input features)")
    return 0
