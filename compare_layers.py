#!/usr/bin/env python3
"""Find where a conversion goes wrong: every node's output in ONNX Runtime and/or PyTorch against MXNet's."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import config  # noqa: E402
from mxconvert import cli  # noqa: E402
from mxconvert.compare import NOISE_FACTOR, parse_fixed_tolerance  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser(__doc__)
    cli.add_checkpoint_flags(p, config)
    p.add_argument("--onnx_model", help="the .onnx file converted from the checkpoint (omit: no ONNX Runtime)")
    p.add_argument("--kit_model", help="generated kit_model.py (omit: no PyTorch)")
    p.add_argument("--pytorch_model", help="its state dict (.pth), with --kit_model")
    p.add_argument("--input_image", nargs="+", default=[config.INPUT_IMAGE], metavar="PATH|NAME=PATH",
                   help="an image file, a .npy tensor of any rank, or a folder of images (one batch); or NAME=PATH "
                        "per input of a model with several (begin states left out are zeros)")
    p.add_argument("--input_shape", type=cli.int_tuple, default=config.INPUT_SHAPE,
                   help="H,W that images are resized to")
    p.add_argument("--tolerance", type=parse_fixed_tolerance, default=1e-5,
                   help="largest error relative to a tensor's scale against MXNet (default 1e-5)")
    p.add_argument("--noise_factor", type=float, default=NOISE_FACTOR,
                   help="a node past the tolerance diverges only when further from MXNet's float64 result than this "
                        f"many times MXNet float32's own distance from it; exit 1 when one does (default {NOISE_FACTOR:g})")
    p.add_argument("--report", default="result/layers",
                   help="folder for report.md, report.json and divergence.png")
    return p


def main(args: argparse.Namespace) -> int:
    from mxconvert.layers import main as compare_layers

    return compare_layers(args)


def run() -> None:
    """Console entry point."""
    cli.run(main, build_parser())


if __name__ == "__main__":
    run()
