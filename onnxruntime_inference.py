#!/usr/bin/env python3
"""Run an ONNX model with onnxruntime (CPU) on an image, a .npy NCHW tensor or a folder; save every output as .npy."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import config  # noqa: E402
from mxconvert import cli  # noqa: E402
from mxconvert.inference import add_input_flags, run_and_save  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser(__doc__)
    p.add_argument("--onnx_model", default=config.ONNX_MODEL, help="the .onnx file")
    add_input_flags(p, config)
    p.add_argument("--onnxruntime_model_output", default=config.ONNXRUNTIME_MODEL_OUTPUT,
                   help="output .npy (output i >= 1 goes to <stem>_<i>.npy)")
    return p


def main(args: argparse.Namespace) -> None:
    from mxconvert.onnx_runtime import OrtModel

    run_and_save("onnxruntime", OrtModel(args.onnx_model), args, args.onnxruntime_model_output)


def run() -> None:
    """Console entry point."""
    cli.run(main, build_parser())


if __name__ == "__main__":
    run()
