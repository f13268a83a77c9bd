"""Conversion time of LSTMs unrolled by hand (MXNet's OCR examples: ~13 nodes per step), read to ONNX and to
PyTorch, by graph size. ``python benchmarks/unrolled_lstm.py [--steps 20 80 200] [--repeat 3]``."""
from __future__ import annotations

import argparse
import time

import numpy as np

from conversion import machine_description, render
from mxconvert.checkpoint import attach_weights
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, build_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.zoo.sequence import unrolled_lstm

FEATURES, HIDDEN, CLASSES, BATCH = 32, 128, 40, 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[20, 80, 200])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--format", choices=["table", "markdown"], default="table")
    args = parser.parse_args()
    rows = []
    for steps in args.steps:
        sym = unrolled_lstm(steps, HIDDEN, CLASSES)
        shape = {"data": (BATCH, steps, FEATURES)}
        arg_shapes, _, _ = sym.infer_shape_partial(**shape, l0_init_c=(BATCH, HIDDEN), l0_init_h=(BATCH, HIDDEN))
        rng = np.random.default_rng(0)
        weights = {f"arg:{name}": rng.normal(0, 0.1, dims).astype(np.float32)
                   for name, dims in zip(sym.list_arguments(), arg_shapes) if name.startswith(("l0_i2h", "l0_h2h", "pred"))}
        text = sym.tojson()
        best = {"read": [], "onnx": [], "pytorch": []}
        for _ in range(args.repeat):
            started = time.perf_counter()
            graph = parse_symbol(text)
            attach_weights(graph, weights, "<benchmark>")
            best["read"].append(time.perf_counter() - started)
            started = time.perf_counter()
            build_onnx(graph, ExportOptions(input_shape=shape))
            best["onnx"].append(time.perf_counter() - started)
            started = time.perf_counter()
            emit_pytorch(graph, TorchOptions(shape))
            best["pytorch"].append(time.perf_counter() - started)
        rows.append([str(steps), str(len(graph.nodes)), *(f"{min(times) * 1000:.0f}" for times in best.values())])
    print(f"Conversion of hand-unrolled LSTMs (best of {args.repeat}; ONNX includes check_model(full_check=True))")
    print(f"machine: {machine_description()}\n")
    print(render(["steps", "MXNet nodes", "read ms", "to ONNX ms", "to PyTorch ms"], rows, args.format))


if __name__ == "__main__":
    main()
