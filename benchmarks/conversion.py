"""Conversion benchmark: mxconvert's ONNX exporter against MXNet 1.9.1's own (``mx.onnx.export_model``).

Each conversion runs in a fresh interpreter, so its time excludes start-up and imports and its peak memory is
its own: the child resets its peak-RSS mark after importing (``/proc/self/clear_refs``) and reports VmHWM,
both absolute and above the post-import RSS. Both sides read the checkpoint from disk and write the ``.onnx``.
The workarounds MXNet's exporter needs today are in :func:`mxnet_export` (and benchmarks/README.md).
Run ``python benchmarks/conversion.py --help``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the scripts run from a checkout, mxconvert need not be installed

from mxconvert.checkpoint import CheckpointPaths  # noqa: E402

INPUT_SHAPE = (1, 3, 224, 224)
TARGET_SPEEDUP = 8.0  # ResNet-152: ours at most 1/8 of MXNet's time
TARGET_PEAK_RATIO = 2.5  # ResNet-152: our peak (above the post-import baseline) at most 2.5x the params file


# --- models and MXNet's exporter (shared with inference.py) ---------------------------------------------

def ensure_models(depths: list[int], models_dir: str) -> dict[int, str]:
    """Build the missing ``resnet-N`` checkpoints with mxconvert.zoo; return each depth's prefix."""
    prefixes = {depth: os.path.join(os.path.abspath(models_dir), f"resnet-{depth}") for depth in depths}
    missing = [d for d, p in prefixes.items() if not all(map(os.path.exists, CheckpointPaths.of(p, 0)))]
    if missing:
        from mxconvert.zoo.resnet import build_classic

        for depth in missing:
            print(f"building resnet-{depth} in {models_dir} ...", file=sys.stderr, flush=True)
            build_classic(depth, models_dir)
    return prefixes


def prepare_mxnet_exporter():
    """MXNet with what its 1.9.1 exporter needs beside numpy 1.23+/onnx 1.16+: numpy aliases, ``onnx.mapping``."""
    import types

    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    from mxconvert.mxnet_compat import import_mxnet

    mx = import_mxnet()  # aliases np.bool/np.int/... that MXNet 1.9.1 still uses
    mapping = sys.modules.get("onnx.mapping") or types.ModuleType("onnx.mapping")
    to_np = {code: np.dtype(helper.tensor_dtype_to_np_dtype(code))
             for code in TensorProto.DataType.values() if code != TensorProto.UNDEFINED}
    if not hasattr(mapping, "TENSOR_TYPE_TO_NP_TYPE"):
        mapping.TENSOR_TYPE_TO_NP_TYPE = to_np
    if not hasattr(mapping, "NP_TYPE_TO_TENSOR_TYPE"):
        mapping.NP_TYPE_TO_TENSOR_TYPE = {}
        for code, dtype in to_np.items():  # lowest code wins, as in the removed module (FLOAT over others)
            mapping.NP_TYPE_TO_TENSOR_TYPE.setdefault(dtype, code)
    sys.modules["onnx.mapping"] = onnx.mapping = mapping
    return mx


def mxnet_export(mx, prefix: str, onnx_path: str, input_shape: tuple[int, ...], epoch: int = 0) -> None:
    """``mx.onnx.export_model`` on the checkpoint, worked around so that it runs and computes the right thing.

    * the ``SoftmaxOutput`` head is cut (its translation raises IndexError): the file outputs logits;
    * ``fix_gamma=True`` BatchNorms get gamma = 1 in the exported params, as MXNet computes them (the exporter
      copies the stored gamma, so the file would disagree with MXNet).
    """
    import numpy as np

    sym, arg, aux = mx.model.load_checkpoint(prefix, epoch)
    graph = json.loads(sym.tojson())
    nodes = graph["nodes"]
    params = {**arg, **aux}
    for node in nodes:
        if node["op"] == "BatchNorm" and node.get("attrs", {}).get("fix_gamma", "True") in ("True", "true", "1"):
            gamma = nodes[node["inputs"][1][0]]["name"]
            params[gamma] = mx.nd.ones_like(params[gamma])
    head = nodes[graph["heads"][0][0]]
    if head["op"] == "SoftmaxOutput":
        sym = sym.get_internals()[nodes[head["inputs"][0][0]]["name"] + "_output"]
    mx.onnx.export_model(sym, params, in_shapes=[input_shape], in_types=[np.float32], onnx_file_path=onnx_path)


def ours_export(prefix: str, onnx_path: str, input_shape: tuple[int, ...], epoch: int = 0,
                dynamic_axes: dict[str, tuple[int, ...]] | None = None) -> None:
    """mxconvert: read the checkpoint, convert (opset 13, checked; ``dynamic_axes`` symbolic), write."""
    from mxconvert.checkpoint import load_checkpoint
    from mxconvert.to_onnx import ExportOptions, build_onnx, save_onnx

    options = ExportOptions(input_shape=input_shape, opset=13, dynamic_axes=dynamic_axes or {})
    model, _ = build_onnx(load_checkpoint(prefix, epoch), options)
    save_onnx(model, onnx_path)


# --- reporting (shared with inference.py) ------------------------------------------------------------

def render(headers: list[str], rows: list[list[str]], fmt: str) -> str:
    """A plain aligned table or a markdown one; the first column is left-aligned, the others right."""
    if fmt == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def machine_description() -> str:
    """CPU model, core count and the versions that matter to these numbers."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = []
    for package in ("mxnet", "numpy", "onnx", "onnxruntime", "torch"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} absent")
    return f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, " + ", ".join(versions)


# --- one measured conversion (the child process) ----------------------------------------------------

def _status_kb(field: str) -> int:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(field + ":"))


def _child(kind: str, prefix: str, onnx_path: str) -> None:
    """Import what ``kind`` needs, reset the peak-RSS mark, convert once, print a JSON result line."""
    import gc

    if kind == "mxnet":
        mx = prepare_mxnet_exporter()
        convert = lambda: mxnet_export(mx, prefix, onnx_path, INPUT_SHAPE)
    else:
        import mxconvert.checkpoint  # noqa: F401  (imports outside the measurement)
        import mxconvert.to_onnx  # noqa: F401
        convert = lambda: ours_export(prefix, onnx_path, INPUT_SHAPE)
    gc.collect()
    baseline = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # VmHWM := current RSS
    started = time.perf_counter()
    convert()
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM")
    print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "delta_mb": (peak - baseline) / 1024,
                      "onnx_mb": os.path.getsize(onnx_path) / 2 ** 20}))


def measure(kind: str, prefix: str, workdir: str) -> dict:
    """One conversion in a fresh interpreter."""
    onnx_path = os.path.join(workdir, f"{os.path.basename(prefix)}-{kind}.onnx")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", kind, prefix, onnx_path],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} conversion of {prefix} failed:\n{done.stderr[-3000:]}")
    os.remove(onnx_path)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    prefixes = ensure_models(args.depths, args.models_dir)
    rows, verdicts = [], []
    with tempfile.TemporaryDirectory(prefix="mxconvert-bench-") as workdir:
        for depth, prefix in prefixes.items():
            runs = {kind: [measure(kind, prefix, workdir) for _ in range(args.repeat)] for kind in ("ours", "mxnet")}
            params_mb = os.path.getsize(CheckpointPaths.of(prefix, 0).params) / 2 ** 20
            seconds = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
            peak = {k: max(r["peak_mb"] for r in v) for k, v in runs.items()}
            delta = {k: max(r["delta_mb"] for r in v) for k, v in runs.items()}
            speedup, ratio = seconds["mxnet"] / seconds["ours"], delta["ours"] / params_mb
            rows.append([f"resnet-{depth}", f"{params_mb:.1f}", f"{seconds['ours']:.2f}", f"{seconds['mxnet']:.2f}",
                         f"{speedup:.1f}x", f"{delta['ours']:.0f} / {peak['ours']:.0f}",
                         f"{delta['mxnet']:.0f} / {peak['mxnet']:.0f}", f"{ratio:.2f}"])
            print(f"resnet-{depth}: done", file=sys.stderr, flush=True)
            if depth == 152:
                verdicts = [f"speed-up {speedup:.1f}x (target >= {TARGET_SPEEDUP:g}x): "
                            f"{'met' if speedup >= TARGET_SPEEDUP else 'MISSED'}",
                            f"peak above baseline {ratio:.2f}x the params file, absolute "
                            f"{peak['ours'] / params_mb:.2f}x (target <= {TARGET_PEAK_RATIO:g}x): "
                            f"{'met' if ratio <= TARGET_PEAK_RATIO else 'MISSED'}"]
    headers = ["model", "params MB", "ours s", "MXNet s", "speed-up", "ours peak MB (+/abs)",
               "MXNet peak MB (+/abs)", "ours +peak / params"]
    print(f"Conversion to ONNX, input {'x'.join(map(str, INPUT_SHAPE))}, median time of {args.repeat} runs, "
          f"max peak RSS (+: above the post-import baseline; abs: whole process)")
    print(f"machine: {machine_description()}\n")
    print(render(headers, rows, args.format))
    if verdicts:
        print("\nResNet-152: " + "; ".join(verdicts))
    print("\nMXNet = mx.onnx.export_model with workarounds (SoftmaxOutput head cut: exports fc1_output logits; "
          "fix_gamma gammas set to 1; onnx.mapping shim; numpy aliases)")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[18, 34, 50, 101, 152],
                        choices=[18, 34, 50, 101, 152])
    parser.add_argument("--models-dir", default=os.path.join(ROOT, "build", "bench"),
                        help="where the zoo checkpoints are (built if missing)")
    parser.add_argument("--repeat", type=int, default=3, help="conversions per model and converter")
    parser.add_argument("--format", choices=["table", "markdown"], default="table")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "PREFIX", "ONNX"), help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    sys.exit(main())
