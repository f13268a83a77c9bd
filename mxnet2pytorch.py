#!/usr/bin/env python3
"""Convert an MXNet checkpoint to a PyTorch model: kit_model.py (KitModel) + a state dict (no MXNet needed)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import config  # noqa: E402
from mxconvert import cli  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser(__doc__)
    cli.add_checkpoint_flags(p, config)
    cli.add_plugin_flags(p, config)
    cli.add_shape_flags(p, config.ONNX_INPUT_SHAPE)
    p.add_argument("--pytorch_model", default=config.PYTORCH_MODEL, help="state dict (.pth) to write")
    p.add_argument("--kit_model", default=config.KIT_MODEL, help="generated model source (.py) to write")
    p.add_argument("--fuse_bn", action="store_true",
                   help="deployment variant: fold each BatchNorm into the Convolution before it")
    cli.add_int8_cpu_flag(p, config)
    cli.add_softmax_flags(p)
    return p


def main(args: argparse.Namespace) -> None:
    from mxconvert.checkpoint import load_checkpoint
    from mxconvert.convert import convert_to_pytorch
    from mxconvert.inputs import resolve_input_shape
    from mxconvert.to_torch import TorchOptions

    given = cli.input_shapes(args.input_shape)
    graph = load_checkpoint(cli.checkpoint_of(args), args.epoch)
    shape, lines = resolve_input_shape(graph, given, config.INPUT_SHAPE)
    options = TorchOptions(input_shape=shape, fuse_bn=args.fuse_bn,
                           keep_softmax=args.keep_softmax, dynamic_batch=args.dynamic_batch,
                           dynamic_axes=dict(args.dynamic_axes), input_dtypes=dict(args.input_dtype),
                           int8_cpu=args.int8_cpu)
    print("\n".join([*lines, *convert_to_pytorch(graph, options, args.kit_model, args.pytorch_model)[1]]))


def run() -> None:
    """Console entry point."""
    cli.run(main, build_parser())


if __name__ == "__main__":
    run()
