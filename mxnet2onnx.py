#!/usr/bin/env python3
"""Convert an MXNet checkpoint to ONNX (no MXNet needed)."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import config  # noqa: E402
from mxconvert import cli  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser(__doc__)
    cli.add_checkpoint_flags(p, config)
    p.add_argument("--onnx_model", default=config.ONNX_MODEL, help="ONNX file to write")
    p.add_argument("--input_shape", type=cli.int_tuple, default=config.ONNX_INPUT_SHAPE, help="N,C,H,W")
    p.add_argument("--conversion_log", default=config.CONVERSION_LOG, help="text log of the conversion")
    p.add_argument("--opset", type=int, default=config.OPSET, help="ONNX opset, 11..21")
    p.add_argument("--dynamic_batch", action="store_true", help="make the batch axis symbolic")
    cli.add_softmax_flags(p)
    p.add_argument("--fp16", action="store_true", help="float16 weights and compute, float32 interface")
    return p


def main(args: argparse.Namespace) -> None:
    from mxconvert.convert import convert_to_onnx

    convert_to_onnx(cli.checkpoint_of(args), args.epoch, args.onnx_model, args.conversion_log, input_shape=args.input_shape,
                    opset=args.opset, dynamic_batch=args.dynamic_batch, keep_softmax=args.keep_softmax,
                    fp16=args.fp16)


def run() -> None:
    """Console entry point."""
    cli.run(main, build_parser())


if __name__ == "__main__":
    run()
