#!/usr/bin/env python3
"""How far exact conversions sit from MXNet's float64 result, against MXNet float32's own distance: the
measurement behind ``--noise_factor`` (the ``k`` of ``--tolerance auto`` and of compare_layers.py).

For each deep ResNet built with plain He weights (``python -m mxconvert.zoo --full-branches``; residual branches
at full scale, so float32 rounding grows with depth as in the worst real networks), both targets are converted
and compared node by node with MXNet in float32 and float64. Printed per model, size and target: the output's
relative error against MXNet float32 and against float64, MXNet's own float32 rounding, their ratio, and the
largest ratio over all nodes past the 1e-5 tolerance (what a per-node noise factor must exceed to call the clean
conversion flat), with the first node that a fixed 1e-5 tolerance would wrongly blame.

    .venv/bin/python benchmarks/noise_floor.py                      # ~6 min on 2 cores
    .venv/bin/python benchmarks/noise_floor.py --models resnet-50 --sizes 112
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from prettytable import PrettyTable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mxconvert.checkpoint import load_checkpoint  # noqa: E402
from mxconvert.convert import convert_to_onnx, convert_to_pytorch  # noqa: E402
from mxconvert.layers.divergence import BACKENDS, checkpoint_report  # noqa: E402
from mxconvert.to_onnx import ExportOptions  # noqa: E402
from mxconvert.to_torch import TorchOptions  # noqa: E402
from mxconvert.zoo import common, resnet  # noqa: E402

MODELS = ("resnet-50", "resnet-152", "gluon-resnet50_v1")


def build(model: str, folder: Path) -> str:
    """The ``-he`` checkpoint of ``model`` in ``folder`` (built on first use)."""
    prefix = folder / f"{model}{common.FULL_BRANCH_SUFFIX}"
    if not Path(f"{prefix}-0000.params").exists():
        if model.startswith("gluon-"):
            resnet.build_gluon(model.removeprefix("gluon-"), str(folder), full_branches=True)
        else:
            resnet.build_classic(int(model.split("-")[1]), str(folder), full_branches=True)
    return str(prefix)


def measure(prefix: str, size: int, images: int, work: Path) -> list[list[str]]:
    """One row per target for ``prefix`` at ``size``."""
    data = common.sample_images(images, size, seed=7)
    if "gluon" in prefix:
        data = common.imagenet_normalise(data)
    shape = data.shape
    onnx_path, kit, pth = work / "m.onnx", work / "kit_model.py", work / "m.pth"
    graph = load_checkpoint(prefix, 0)
    convert_to_onnx(graph, ExportOptions(input_shape=shape), onnx_path)
    convert_to_pytorch(graph, TorchOptions(input_shape=shape), kit, pth)
    report = checkpoint_report(prefix, 0, data, str(onnx_path), str(kit), str(pth))
    rows = []
    for key, diffs in report.diffs.items():
        last = len(report.probes) - 1
        out, floor = diffs[last], report.floors[last]
        past = [(report.floor_ratio(i, d), i) for i, d in enumerate(diffs) if d is not None and d.rel_error > 1e-5]
        worst_ratio = max(past, default=(0.0, None))
        fixed_first = next((report.probes[i].label for _, i in sorted(past, key=lambda item: item[1])), "none")
        rows.append([Path(prefix).name, str(size), BACKENDS[key], f"{out.rel_error:.2e}",
                     f"{out.fp64_rel_error:.2e}", f"{floor:.2e}", f"{out.fp64_rel_error / floor:.2f}",
                     f"{worst_ratio[0]:.2f}", fixed_first])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--sizes", type=int, nargs="*", default=[112, 224])
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--models-dir", default=str(ROOT / "build" / "bench"))
    args = parser.parse_args()
    folder = Path(args.models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    table = PrettyTable(["model", "size", "target", "rel vs MXNet f32", "rel vs f64", "MXNet f32 vs f64",
                         "output ratio", "worst node ratio (past 1e-5)", "fixed 1e-5 first blames"])
    table.align = "l"
    with tempfile.TemporaryDirectory() as work:
        for model in args.models:
            prefix = build(model, folder)
            for size in args.sizes:
                table.add_rows(measure(prefix, size, args.images, Path(work)))
                print(f"done {model} at {size}", file=sys.stderr, flush=True)
    print(table)


if __name__ == "__main__":
    main()
