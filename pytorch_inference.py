#!/usr/bin/env python3
"""Run a converted PyTorch model (kit_model.py + state dict) on an image, a .npy NCHW tensor or a folder."""
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
    p.add_argument("--pytorch_model", default=config.PYTORCH_MODEL, help="state dict (.pth)")
    p.add_argument("--kit_model", default=config.KIT_MODEL, help="generated model source (kit_model.py)")
    add_input_flags(p, config)
    p.add_argument("--pytorch_model_output", default=config.PYTORCH_MODEL_OUTPUT,
                   help="output .npy (output i >= 1 goes to <stem>_<i>.npy)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--compile", action="store_true",
                   help="specialise the model to each input shape, weights frozen (CPU: TorchScript with oneDNN "
                        "Graph fusion; CUDA: torch.compile)")
    return p


def main(args: argparse.Namespace) -> None:
    from mxconvert.to_torch.runner import TorchModel

    model = TorchModel(args.kit_model, args.pytorch_model, args.device, compile_model=args.compile)
    run_and_save("pytorch", model, args, args.pytorch_model_output)


def run() -> None:
    """Console entry point."""
    cli.run(main, build_parser())


if __name__ == "__main__":
    run()
