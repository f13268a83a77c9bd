"""INT8 inference: MXNet's quantized export and mxconvert's QDQ ONNX file beside the float32 model.

For each ResNet (Gluon ``resnet18_v1`` / ``resnet50_v1``, 1000 classes, 224x224, realistic weights and BatchNorm
calibrated on sample images as ``mxconvert.zoo.fused`` builds its models) the script exports the float32 model,
quantizes it with ``mxnet.contrib.quantization.quantize_net`` (``quantized_dtype='auto'``, ``calib_mode='naive'``,
32 calibration images) and exports the INT8 model; it converts both with ``mxconvert.api.to_onnx`` for each batch
size. Columns: MXNet float32 (the float export, ``MXNET_SUBGRAPH_BACKEND=NONE``), MXNet int8 (the INT8 export,
already partitioned into ``_sg_mkldnn_*`` ops, oneDNN kernels), ONNX Runtime on mxconvert's float32 file, on its
INT8 QDQ file (``int8_kernels``: integer kernels) and on its default INT8 file (MXNet's exact integer arithmetic
computed in float kernels, in the arithmetic ``--int8_cpu`` names: vnni's exact int32 sums or avx2's saturated
int16 pair sums). Each (backend, model, batch) runs in a fresh process (``inference.time_runner``: warm-up runs, then
timed runs); the outputs (logits) are compared with MXNet float32's on the same images: max abs difference / max
|float32|, and top-1 agreement. The number of ``QLinearConv`` nodes in ONNX Runtime's optimized graph of the QDQ
file (``SessionOptions.optimized_model_filepath``) is printed below the table.
Run ``python benchmarks/int8.py --help``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time
import statistics
import subprocess
import sys
import tempfile
from collections import Counter

import numpy as np

from conversion import ROOT, machine_description, render
from mxconvert.semantics.quantization import INT8_CPUS
from inference import time_runner

MODELS = {"resnet-18": "resnet18_v1", "resnet-50": "resnet50_v1"}
SIDE = 224
CALIBRATION_IMAGES = 32
EVAL_SEED = 1000  # images compared (not among the calibration images)
BACKENDS = {  # name -> (column header, file kind, precision)
    "mxnet-f32": ("MXNet float32", "mxnet", "float32"),
    "mxnet-int8": ("MXNet int8", "mxnet", "int8"),
    "ort-f32": ("ORT float32", "onnx", "float32"),
    "ort-int8": ("ORT int8 (QDQ)", "onnx", "int8"),
    "ort-int8-exact": ("ORT int8 (exact)", "onnx-exact", "int8"),
}


def build(label: str, out_dir: str, seed: int = 0) -> dict[str, str]:
    """The float32 and the INT8 (naive calibration) export of ``MODELS[label]`` at 224x224 in ``out_dir``;
    prefixes by precision. Built once, reused while both files exist."""
    prefixes = {"float32": os.path.join(out_dir, f"{label}-{SIDE}-float32"),
                "int8": os.path.join(out_dir, f"{label}-{SIDE}-int8-naive")}
    if all(os.path.exists(f"{prefix}-symbol.json") for prefix in prefixes.values()):
        return prefixes
    from mxnet.contrib.quantization import quantize_net
    from mxnet.gluon.model_zoo import vision

    from mxconvert.zoo.common import atomic_checkpoint, calibrated_gluon_net, imagenet_normalise, mx, sample_images

    net = calibrated_gluon_net(vision.get_model(MODELS[label], classes=1000), SIDE, seed, MODELS[label])
    with atomic_checkpoint(prefixes["float32"], 0) as tmp_prefix:
        net.export(tmp_prefix)
    data = imagenet_normalise(sample_images(CALIBRATION_IMAGES, SIDE, seed + 1))
    calib = mx.gluon.data.DataLoader(mx.gluon.data.ArrayDataset(data, np.zeros(len(data), np.float32)),
                                     batch_size=8)
    quantized = quantize_net(net, quantized_dtype="auto", calib_mode="naive", calib_data=calib,
                             num_calib_examples=len(data), ctx=mx.cpu(), logger=None)
    quantized(mx.nd.array(data[:2]))
    with atomic_checkpoint(prefixes["int8"], 0) as tmp_prefix:
        quantized.export(tmp_prefix)
    return prefixes


def eval_images(batch: int) -> np.ndarray:
    """The first ``batch`` of the 16 (or more) compared images, ImageNet-normalised NCHW float32."""
    from mxconvert.zoo.common import imagenet_normalise, sample_images

    return np.ascontiguousarray(imagenet_normalise(sample_images(max(batch, 16), SIDE, EVAL_SEED))[:batch])


def onnx_file(prefix: str, batch: int, workdir: str, int8_kernels: bool = True, int8_cpu: str = "vnni") -> str:
    """The ONNX file of ``prefix`` at ``batch``: the QDQ form ONNX Runtime runs as integer kernels, or (without
    ``int8_kernels``) mxconvert's default form, which computes MXNet's exact integer arithmetic of ``int8_cpu``'s
    CPU in float kernels."""
    from mxconvert import api

    form = "qdq" if int8_kernels else f"exact-{int8_cpu}"
    path = os.path.join(workdir, f"{os.path.basename(prefix)}-b{batch}-{form}.onnx")
    if not os.path.exists(path):
        api.to_onnx(api.load(prefix), {"data": (batch, 3, SIDE, SIDE)}, path, int8_kernels=int8_kernels,
                    int8_cpu=int8_cpu)
    return path


def qlinear_counts(onnx_path: str, threads: int, workdir: str) -> Counter:
    """Op types of ONNX Runtime's optimized graph of ``onnx_path`` (default optimization level, CPU)."""
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.optimized_model_filepath = os.path.join(workdir, os.path.basename(onnx_path) + ".optimized.onnx")
    ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    return Counter(node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node)


# --- one backend, one model, one batch in its own process ------------------------------------------------

def _child(args: argparse.Namespace) -> None:
    from mxconvert import api

    name, path, batch, out = args.child
    x = eval_images(int(batch))
    if BACKENDS[name][1] == "mxnet":
        run = api.BACKENDS["mxnet"].factory(path, 0)
    else:
        run = api.BACKENDS["onnxruntime"].factory(path, "cpu", args.threads)
    times, outputs = time_runner(run, x, args.warmup, args.repeat, args.budget, args.min_runs)
    np.save(out, outputs[0])
    print(json.dumps(times))


def _measure(name: str, path: str, batch: int, out: str, args: argparse.Namespace) -> list[float]:
    env = dict(os.environ, PYTHONWARNINGS="ignore", MXNET_SUBGRAPH_BACKEND="NONE")
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[variable] = str(args.threads)
    if BACKENDS[name][1] == "mxnet":  # as inference.py: the threaded engine stalls on 2 cores
        env.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")
    options = ["--repeat", str(args.repeat), "--budget", str(args.budget), "--min-runs", str(args.min_runs),
               "--warmup", str(args.warmup), "--threads", str(args.threads)]
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", name, path, str(batch), out,
                           *options], capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{name} on {path} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _busy_s() -> float:
    """CPU seconds the whole machine has spent busy (``/proc/stat``: all but idle and iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _own_s() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def difference(out: np.ndarray, reference: np.ndarray) -> str:
    """max |out - ref| / max |ref|, and how many top-1 classes agree."""
    rel = float(np.abs(out - reference).max() / np.abs(reference).max())
    agree = int((out.argmax(axis=1) == reference.argmax(axis=1)).sum())
    return f"{rel:.3f} / {agree}/{len(reference)}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        _child(args)
        return 0
    os.makedirs(args.models_dir, exist_ok=True)
    rows, notes, others = [], [], []
    with tempfile.TemporaryDirectory(prefix="mxconvert-int8-") as workdir:
        for label in args.models:
            prefixes = build(label, args.models_dir)
            counts = qlinear_counts(onnx_file(prefixes["int8"], 1, workdir), args.threads, workdir)
            notes.append(f"{label}: ONNX Runtime's optimized graph of the QDQ file holds {counts['QLinearConv']} "
                         f"QLinearConv, {counts['Conv'] + counts['FusedConv']} float Conv/FusedConv, "
                         f"{counts['QuantizeLinear']} QuantizeLinear, {counts['DequantizeLinear']} DequantizeLinear")
            for batch in args.batch:
                outputs, times = {}, {}
                for name, (_, kind, precision) in BACKENDS.items():
                    path = (prefixes[precision] if kind == "mxnet"
                            else onnx_file(prefixes[precision], batch, workdir, int8_kernels=kind == "onnx",
                                           int8_cpu=args.int8_cpu))
                    out = os.path.join(workdir, f"{label}-{name}-b{batch}.npy")
                    busy, own, wall = _busy_s(), _own_s(), time.perf_counter()
                    times[name] = _measure(name, path, batch, out, args)
                    outputs[name] = np.load(out)
                    other = (_busy_s() - busy) - (_own_s() - own)  # CPU seconds of other processes
                    others.append(max(other, 0.0) / ((time.perf_counter() - wall) * os.cpu_count()))
                    print(f"{label} batch {batch} {name}: done", file=sys.stderr, flush=True)
                reference = outputs["mxnet-f32"]
                counts_run = sorted({len(t) for t in times.values()})
                rows.append([label, f"{batch}x3x{SIDE}x{SIDE}",
                             *[f"{statistics.median(t):.1f} / {np.percentile(t, 90):.1f}" for t in times.values()],
                             difference(outputs["mxnet-int8"], reference), difference(outputs["ort-int8"], reference),
                             difference(outputs["ort-int8"], outputs["mxnet-int8"]),
                             difference(outputs["ort-int8-exact"], outputs["mxnet-int8"]),
                             f"{float(np.abs(outputs['ort-f32'] - reference).max() / np.abs(reference).max()):.1e}",
                             "-".join(map(str, (counts_run[0], counts_run[-1]) if len(counts_run) > 1 else counts_run))])
    headers = ["model", "input", *[header for header, _, _ in BACKENDS.values()], "MXNet int8 vs f32",
               "ORT int8 vs f32", "ORT int8 vs MXNet int8", "ORT exact vs MXNet int8", "ORT f32 vs f32", "runs"]
    print(f"INT8 inference latency in ms, median / p90 (after {args.warmup} warm-up runs; up to {args.repeat} timed "
          f"runs, fewer once a cell passed {args.budget:g} s, never under {args.min_runs}); {args.threads} threads per "
          f"runtime; each backend in its own process. Differences: max abs(logits - reference) / max abs(reference) "
          f"/ top-1 agreement, reference the MXNet float32 model (or MXNet int8) on the same images; the exact file "
          f"computes the {args.int8_cpu} arithmetic")
    print(f"machine: {machine_description()}")
    print()
    print(render(headers, rows, args.format))
    print()
    for note in notes:
        print(note)
    print(f"other processes' share of the {os.cpu_count()} cores while a cell's process ran: {min(others):.0%} to "
          f"{max(others):.0%}, median {statistics.median(others):.0%} (/proc/stat busy time less this run's own)")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batch", nargs="+", type=int, default=[1, 16])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds of timed runs per cell before stopping")
    parser.add_argument("--min-runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--int8_cpu", choices=INT8_CPUS, default="vnni",
                        help="whose MXNet arithmetic the default (exact) INT8 file computes")
    parser.add_argument("--format", choices=("table", "markdown"), default="table")
    parser.add_argument("--models-dir", default=os.path.join(ROOT, "build", "bench-int8"))
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
