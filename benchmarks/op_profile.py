"""Where one checkpoint's forward spends its time, per operator type, in MXNet, ONNX Runtime and PyTorch.

Each runtime runs in its own interpreter (``--threads`` intra-op threads, MXNet on its NaiveEngine as in
inference.py, no bulk execution) on the same input: ``--warmup`` untimed calls, then ``--runs`` timed ones under its profiler, which
sums each operator's time over them. MXNet: ``mx.profiler`` aggregate statistics (operator names of the symbol);
ONNX Runtime: ``SessionOptions.enable_profiling``, the per-node kernel times of mxconvert's file (opset 13) after
ONNX Runtime's graph optimizations (their node types: FusedConv is a Conv with its activation, Conv on NCHWc
blocks the 2-D ones it reorders); PyTorch: ``torch.profiler`` self CPU time per aten operator of the generated
``kit_model.py`` (``--fuse_bn``). Also the median wall time of the same calls without a profiler.
Run ``python benchmarks/op_profile.py --help``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

import numpy as np

from conversion import ROOT, machine_description, ours_export, render
from mxconvert import api
from mxconvert.zoo import video

RUNTIMES = ("mxnet", "onnxruntime", "pytorch")


def sample(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 1, shape).astype(np.float32)


def wall_ms(call, data: np.ndarray, runs: int) -> float:
    times = []
    for _ in range(runs):
        tick = time.perf_counter()
        call(data)
        times.append((time.perf_counter() - tick) * 1000)
    return statistics.median(times)


def profile_mxnet(prefix: str, data: np.ndarray, args: argparse.Namespace, workdir: str) -> tuple[dict, float]:
    from mxconvert.mxnet_runner import MxnetModel

    model = MxnetModel(prefix, 0)
    for _ in range(args.warmup):
        model(data)
    wall = wall_ms(model, data, args.runs)
    mx = model.mx
    mx.profiler.set_config(profile_symbolic=True, profile_imperative=False, profile_api=False, aggregate_stats=True,
                           filename=os.path.join(workdir, "mxnet-profile.json"))  # the executor's operators once each
    mx.profiler.set_state("run")
    for _ in range(args.runs):
        model(data)
    mx.nd.waitall()
    mx.profiler.set_state("stop")
    operators = json.loads(mx.profiler.dumps(format="json"))["Time"]["operator"]
    return {op: row["Total"] for op, row in operators.items()}, wall


def profile_onnxruntime(prefix: str, data: np.ndarray, args: argparse.Namespace, workdir: str) -> tuple[dict, float]:
    import onnxruntime as ort

    path = os.path.join(workdir, "model.onnx")
    ours_export(prefix, path, data.shape)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
    plain = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    call = lambda x: plain.run(None, {plain.get_inputs()[0].name: x})
    for _ in range(args.warmup):
        call(data)
    wall = wall_ms(call, data, args.runs)
    options.enable_profiling, options.profile_file_prefix = True, os.path.join(workdir, "ort")
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    for _ in range(args.warmup + args.runs):
        session.run(None, {session.get_inputs()[0].name: data})
    with open(session.end_profiling()) as handle:
        events = json.load(handle)
    per_node = defaultdict(list)  # (type, node) -> its kernel times in ms, in call order
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_node[(event["args"]["op_name"], event["name"])].append(event["dur"] / 1000)
    totals: dict[str, float] = defaultdict(float)
    for (op, _), times in per_node.items():  # the timed runs: each node's last ones
        totals[op] += sum(times[-args.runs:])
    return dict(totals), wall


def profile_pytorch(prefix: str, data: np.ndarray, args: argparse.Namespace, workdir: str) -> tuple[dict, float]:
    import torch

    from mxconvert.to_torch.runner import TorchModel

    torch.set_num_threads(args.threads)
    source, state = api.pytorch_source(api.load(prefix, epoch=0), data.shape, fuse_bn=True)
    kit, weights = os.path.join(workdir, "kit_model.py"), os.path.join(workdir, "model.pth")
    torch.save(state, weights)
    with open(kit, "w") as handle:
        handle.write(source)
    model = TorchModel(kit, weights)
    for _ in range(args.warmup):
        model(data)
    wall = wall_ms(model, data, args.runs)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        for _ in range(args.runs):
            model(data)
    return {row.key: row.self_cpu_time_total / 1000 for row in profiler.key_averages()}, wall


def _child(args: argparse.Namespace) -> None:
    runtime, prefix = args.child
    with tempfile.TemporaryDirectory(prefix="mxconvert-profile-") as workdir:
        profile = {"mxnet": profile_mxnet, "onnxruntime": profile_onnxruntime, "pytorch": profile_pytorch}[runtime]
        totals, wall = profile(prefix, sample(input_shape(prefix, args.shape)), args, workdir)
    print(json.dumps({"ops": {op: ms / args.runs for op, ms in totals.items() if ms > 0}, "wall": wall}))


def input_shape(prefix: str, shape: str | None) -> tuple[int, ...]:
    """``--shape`` (``1x3x224x224``), else a zoo model's own input shape, else one 224-pixel image."""
    if shape:
        return tuple(int(dim) for dim in shape.split("x"))
    name = os.path.basename(prefix)
    return (1, *video.MODELS[name].shape) if name in video.MODELS else (1, 3, 224, 224)


def measure(runtime: str, prefix: str, args: argparse.Namespace) -> dict:
    env = dict(os.environ, PYTHONWARNINGS="ignore", MXNET_SUBGRAPH_BACKEND="NONE")
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[variable] = str(args.threads)
    env.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")
    env["MXNET_EXEC_BULK_EXEC_INFERENCE"] = "0"  # each operator on its own, so the profiler times each
    options = ["--runs", str(args.runs), "--warmup", str(args.warmup), "--threads", str(args.threads)]
    options += ["--shape", args.shape] if args.shape else []
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", runtime, prefix, *options],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{runtime} on {prefix} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        _child(args)
        return 0
    print(f"Per-operator time in ms per forward, summed over {args.runs} profiled runs after {args.warmup} "
          f"warm-up runs; {args.threads} threads; each runtime in its own process")
    print(f"machine: {machine_description()}\n")
    for prefix in map(os.path.abspath, args.prefixes):
        shape = input_shape(prefix, args.shape)
        for runtime in args.runtimes:
            measured = measure(runtime, prefix, args)
            ops = sorted(measured["ops"].items(), key=lambda item: -item[1])
            total = sum(ms for _, ms in ops)
            rows = [[op, f"{ms:.2f}", f"{100 * ms / total:.1f}"] for op, ms in ops[:args.top]]
            print(f"{os.path.basename(prefix)} {'x'.join(map(str, shape))}, {runtime}: wall {measured['wall']:.1f} ms "
                  f"(median, unprofiled); operators {total:.1f} ms\n")
            print(render(["operator", "ms", "%"], rows, args.format))
            print()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("prefixes", nargs="*", metavar="PREFIX", help="checkpoints (PREFIX-symbol.json, -0000.params)")
    parser.add_argument("--shape", help="input shape, e.g. 1x3x224x224 (default: a zoo model's own, else that)")
    parser.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=RUNTIMES)
    parser.add_argument("--runs", type=int, default=10, help="profiled runs (and as many timed ones)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=8, help="operators listed per runtime")
    parser.add_argument("--format", choices=["table", "markdown"], default="table")
    parser.add_argument("--child", nargs=2, metavar=("RUNTIME", "PREFIX"), help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    sys.exit(main())
