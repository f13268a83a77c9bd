#!/usr/bin/env python3
"""Run an MXNet checkpoint on an image, a .npy NCHW tensor or a folder of images; save its outputs as .npy."""
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
    cli.add_checkpoint_flags(p, config)
    add_input_flags(p, config)
    p.add_argument("--mxnet_model_output", default=config.MXNET_MODEL_OUTPUT,
                   help="output .npy (output i >= 1 goes to <stem>_<i>.npy)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="float64: weights and compute in double precision, the exact result that float32 "
                        "outputs (MXNet's own included) can be measured against")
    return p


def main(args: argparse.Namespace) -> None:
    from mxconvert.mxnet_runner import MxnetModel

    run_and_save("mxnet", MxnetModel(cli.checkpoint_of(args), args.epoch, dtype=args.dtype), args, args.mxnet_model_output)


def run() -> None:
    """Console entry point."""
    cli.run(main, build_parser())


if __name__ == "__main__":
    run()
