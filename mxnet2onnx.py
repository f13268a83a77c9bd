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
    cli.add_plugin_flags(p, config)
    p.add_argument("--onnx_model", default=config.ONNX_MODEL, help="ONNX file to write")
    cli.add_shape_flags(p, config.ONNX_INPUT_SHAPE)
    p.add_argument("--conversion_log", default=config.CONVERSION_LOG, help="text log of the conversion")
    p.add_argument("--opset", type=int, default=config.OPSET, help="ONNX opset, 11..21")
    cli.add_softmax_flags(p)
    p.add_argument("--fuse_bn", action="store_true",
                   help="fold each BatchNorm into the Convolution before it (ONNX Runtime fuses them anyway)")
    p.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                   help="what the converted model computes in (float16: weights and compute in half precision "
                        "behind a float32 interface), whatever the params file stores")
    p.add_argument("--fp16", dest="dtype", action="store_const", const="float16", help="same as --dtype float16")
    p.add_argument("--int8_kernels", action="store_true", default=config.INT8_KERNELS,
                   help="INT8 models: convolutions and fully connected layers in plain QDQ form, which ONNX Runtime "
                        "fuses into integer kernels (faster; single-step differences from MXNet; ignores --int8_cpu); "
                        "default: on their integers with MXNet's scales, the exact arithmetic of --int8_cpu's CPU in "
                        "any runtime")
    cli.add_int8_cpu_flag(p, config, " (the default exact form)")
    return p


def main(args: argparse.Namespace) -> None:
    from mxconvert.checkpoint import load_checkpoint
    from mxconvert.convert import convert_to_onnx
    from mxconvert.inputs import resolve_input_shape
    from mxconvert.to_onnx import ExportOptions

    given = cli.input_shapes(args.input_shape)
    graph = load_checkpoint(cli.checkpoint_of(args), args.epoch)
    shape, lines = resolve_input_shape(graph, given, config.INPUT_SHAPE)
    options = ExportOptions(input_shape=shape, opset=args.opset,
                            dynamic_batch=args.dynamic_batch, dynamic_axes=dict(args.dynamic_axes),
                            input_dtypes=dict(args.input_dtype), keep_softmax=args.keep_softmax, fp16=args.dtype == "float16", fuse_bn=args.fuse_bn,
                            int8_kernels=args.int8_kernels, int8_cpu=args.int8_cpu)
    print("\n".join([*lines, *convert_to_onnx(graph, options, args.onnx_model, args.conversion_log)]))


def run() -> None:
    """Console entry point."""
    cli.run(main, build_parser())


if __name__ == "__main__":
    run()
