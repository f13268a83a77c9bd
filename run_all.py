#!/usr/bin/env python3
"""The whole job in one command: for each MXNet checkpoint, convert to ONNX and PyTorch, run MXNet, ONNX on
MXNet, ONNX Runtime and PyTorch on the input, and print both error tables."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import config  # noqa: E402
from mxconvert import cli  # noqa: E402
from mxconvert.compare import AUTO, FORMATS, add_tolerance_flags  # noqa: E402
from mxconvert.inference import add_input_flags  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser(__doc__)
    p.add_argument("--models_dir", default="model_mxnet", help="folder of MXNet checkpoints")
    p.add_argument("--depths", type=int, nargs="*", default=[], choices=[18, 34, 50, 101, 152],
                   help="run (and build, if missing) these classic ResNets; default: every checkpoint there")
    add_input_flags(p, config)
    # no --input_shape: each model's own size, from its checkpoint (free sizes at config.INPUT_SHAPE)
    p.set_defaults(input_shape=None, image_size=config.INPUT_SHAPE)
    p.add_argument("--model_input_shape", type=cli.named_int_tuple, nargs="*", default=[], metavar="NAME=H,W",
                   help="input size for one checkpoint, overriding --input_shape (e.g. mtcnn-rnet=24,24); with "
                        "neither, each model's size comes from its checkpoint (free sizes "
                        f"{config.INPUT_SHAPE[0]}x{config.INPUT_SHAPE[1]}), said on one line")
    p.add_argument("--opset", type=int, default=config.OPSET, help="ONNX opset")
    cli.add_int8_cpu_flag(p, config, " (both targets)")
    cli.add_plugin_flags(p, config)
    p.add_argument("--onnx_dir", default="model_onnx", help="where converted ONNX files go")
    p.add_argument("--pytorch_dir", default="model_pytorch", help="where kit_model.py and model.pth go")
    p.add_argument("--result_dir", default="result", help="where the .npy outputs go")
    p.add_argument("--test_mx_onnx", default=config.TEST_MX_ONNX, help="ONNX list file to write")
    p.add_argument("--test_mx_pytorch", default=config.TEST_MX_PYTORCH, help="PyTorch list file to write")
    p.add_argument("--format", choices=FORMATS, default="table", help="table, markdown, json or csv")
    add_tolerance_flags(p, AUTO, "default: auto")
    p.add_argument("--update_readme", metavar="README", help="write the tables into README's results section")
    return p


def main(args: argparse.Namespace) -> int:
    from mxconvert.pipeline import run_all

    return run_all(args)


def run() -> None:
    """Console entry point."""
    cli.run(main, build_parser())


if __name__ == "__main__":
    run()
