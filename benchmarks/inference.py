"""Inference latency and memory of one checkpoint through several runtimes: MXNet, ONNX Runtime and PyTorch.

Every backend of :data:`BACKENDS` is an entry of ``mxconvert.api.BACKENDS`` (or a timing variant of one) loaded
from the files a :class:`Model` (one checkpoint) makes for an input shape: a callable from a float32 numpy batch
to every output as numpy; latency is measured on that callable (host copies included), after warm-up runs; memory as the
peak over the warm-up and timed runs above what was in use before the first (:class:`PeakMemory`): a model's
working set in forward, freed blocks that the allocator keeps for reuse included. Each input shape runs in a
fresh process.
Each backend's output is compared with the first backend's on the same batch (probabilities; the MXNet
exporter's file outputs logits, see conversion.py, and gets a softmax for the comparison only); detectors'
outputs as sets of detections (``mxconvert.detections``).
Run ``python benchmarks/inference.py --help``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Callable

import numpy as np

from conversion import ROOT, ensure_models, machine_description, mxnet_export, ours_export, render
from mxconvert import api
from mxconvert.feeds import Runner
from mxconvert.zoo import nlp, sequence, video
from mxconvert.zoo.images import imagenet_normalise, sample_images

Batch = "np.ndarray | dict[str, np.ndarray]"  # one input, or inputs by name (the NLP models)


class Model:
    """One checkpoint; the files the backends load (ONNX exports, generated PyTorch) are made once per shape."""

    def __init__(self, prefix: str, device: str, threads: int, workdir: str):
        self.prefix, self.device, self.threads, self.workdir = prefix, device, threads, workdir

    def _path(self, kind: str, shape: tuple[int, ...] | dict, suffix: str) -> str:
        shapes = shape.values() if isinstance(shape, dict) else [shape]
        cell = "-".join("x".join(map(str, dims)) for dims in shapes)
        return os.path.join(self.workdir, f"{os.path.basename(self.prefix)}-{kind}-{cell}{suffix}")

    def onnx_file(self, exporter: str, shape: tuple[int, ...] | dict) -> str:
        """Our or MXNet's (``exporter`` = ours | mxnet) ONNX export for exactly ``shape`` (a shape per input
        name for several); ``ours-ort-transformers``: ours with the NLP model's batch and sequence dynamic (as
        served) after ONNX Runtime's transformer optimizer, its fusion counts written beside it
        (:func:`fusions_of`)."""
        path = self._path(exporter, shape, ".onnx")
        if not os.path.exists(path):
            if exporter == "mxnet":
                from conversion import prepare_mxnet_exporter

                mxnet_export(prepare_mxnet_exporter(), self.prefix, path, shape)
            elif exporter == "ours-ort-transformers":  # dynamic axes, as served: the optimizer fuses attention
                dynamic = self._path("ours-dynamic", shape, ".onnx")
                ours_export(self.prefix, dynamic, shape, dynamic_axes=nlp.dynamic_axes(os.path.basename(self.prefix)))
                transformer_optimized(self.prefix, dynamic, path)
            else:
                ours_export(self.prefix, path, shape)
        return path

    def pytorch_files(self, shape: tuple[int, ...] | dict, fuse_bn: bool) -> tuple[str, str]:
        """``kit_model.py`` and ``model.pth`` generated for ``shape`` (with ``fuse_bn``: BatchNorm folded)."""
        kind = "torch-fuse-bn" if fuse_bn else "torch"
        kit, weights = self._path(kind, shape, ".py"), self._path(kind, shape, ".pth")
        if not os.path.exists(kit):  # not run here (as convert_to_pytorch would): the heap stays as it was
            import torch

            source, state = api.pytorch_source(api.load(self.prefix, epoch=0), shape, fuse_bn=fuse_bn)
            torch.save(state, weights)
            with open(kit, "w") as handle:
                handle.write(source)
        return kit, weights


@dataclass(frozen=True)
class Backend:
    """A column of the tables: the ``api.BACKENDS`` entry ``key`` (its label, factory and what it needs) on the
    files :class:`Model` makes, or a timing variant of it: MXNet's exporter's file, BatchNorm folded, the loaded
    PyTorch module ``transform``-ed."""

    key: str
    note: str
    exporter: str = "ours"  # whose ONNX file the ONNX backends load
    fuse_bn: bool = False
    transform: Callable | None = None  # PyTorch: loaded module -> what TorchModel calls instead
    logits: bool = False  # outputs logits instead of probabilities

    @property
    def description(self) -> str:
        return f"{api.BACKENDS[self.key].label}: {self.note}"

    def missing(self) -> list[str]:
        """What the api entry needs that is not installed here."""
        return [package for package in api.BACKENDS[self.key].needs.split(", ") if find_spec(package) is None]

    def load(self, model: Model, shape: tuple[int, ...]) -> Runner:
        """The entry's factory on this model's files for ``shape``, transformed."""
        factory = api.BACKENDS[self.key].factory
        if self.key == "mxnet":
            return factory(model.prefix, 0)
        if self.key == "onnx_mxnet":
            return factory(model.onnx_file(self.exporter, shape))
        if self.key == "onnxruntime":
            return factory(model.onnx_file(self.exporter, shape), model.device, model.threads)
        runner = factory(*model.pytorch_files(shape, self.fuse_bn), model.device)
        if self.transform is not None:
            runner.model = self.transform(runner.model)
        return runner


def transformer_optimized(prefix: str, onnx_path: str, out_path: str) -> None:
    """``onnx_path`` through ``onnxruntime.transformers.optimizer`` (model type bert, the heads and hidden size
    of the zoo model), saved to ``out_path`` with its fusion counts in ``out_path.fusions.json``."""
    import json

    from onnxruntime.transformers import optimizer

    spec = nlp.MODELS[os.path.basename(prefix)]
    optimized = optimizer.optimize_model(onnx_path, model_type="bert", num_heads=spec.heads, hidden_size=spec.units)
    optimized.save_model_to_file(out_path)
    with open(f"{out_path}.fusions.json", "w") as handle:
        json.dump({op: count for op, count in optimized.get_fused_operator_statistics().items() if count}, handle)


def fusions_of(workdir: str) -> dict[str, dict[str, int]]:
    """The fusion counts ONNX Runtime's transformer optimizer reported, by optimized file name."""
    import glob
    import json

    found = {}
    for path in sorted(glob.glob(os.path.join(workdir, "*.fusions.json"))):
        with open(path) as handle:
            found[os.path.basename(path).removesuffix(".onnx.fusions.json")] = json.load(handle)
    return found


def _channels_last(net):
    """The model's 4-D weights and buffers in channels_last (a detector's anchors and other tensors kept)."""
    import torch

    for tensor in (*net.parameters(), *net.buffers()):
        if tensor.dim() == 4:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
    return net


def _half(net):
    """The module in float16, its inputs cast on the way in."""
    net = net.half()
    return lambda *inputs: net(*(None if x is None else x.half() for x in inputs))


def _compiled(net):
    from mxconvert.to_torch.runner import CompiledModel

    return CompiledModel(net)


def _inductor(net):
    from mxconvert.to_torch.runner import inductor_compile

    return inductor_compile(net)


def _fx(net):
    import torch

    return torch.fx.symbolic_trace(net)


BACKENDS: dict[str, Backend] = {
    "mxnet": Backend("mxnet", "MXNet 1.9.1 executor (MxnetModel), always on the CPU"),
    "onnxruntime": Backend("onnxruntime", "mxconvert's file (opset 13)"),
    "onnx_mxnet": Backend("onnx_mxnet", "mxconvert's file (opset 13) through MXNet's ONNX importer"),
    "pytorch": Backend("pytorch", "eager, generated KitModel (TorchModel)"),
    # timing variants of the entries above
    "onnxruntime-transformers": Backend("onnxruntime", "mxconvert's file after onnxruntime.transformers.optimizer "
                                        "(model type bert; NLP models)", exporter="ours-ort-transformers"),
    "onnxruntime-mxnet-exporter": Backend("onnxruntime", "mx.onnx.export_model's file (workarounds: conversion.py)",
                                          exporter="mxnet", logits=True),
    "torch-fuse-bn": Backend("pytorch", "eager, BatchNorm folded into the convolutions (--fuse_bn)", fuse_bn=True),
    "torch-channels-last": Backend("pytorch", "eager, --fuse_bn, model in channels_last", fuse_bn=True,
                                   transform=_channels_last),
    "torch-fp16": Backend("pytorch", "eager, --fuse_bn, weights and compute in float16 (GPU)", fuse_bn=True,
                          transform=_half),
    "torch-compile": Backend("pytorch", "--compile of the --fuse_bn model: TorchScript + oneDNN Graph (CPU; "
                             "inductor where oneDNN Graph refuses), inductor (CUDA)", fuse_bn=True,
                             transform=_compiled),
    "torch-fx": Backend("pytorch", "eager, torch.fx.symbolic_trace of the generated KitModel (torch.fx's forward)",
                        transform=_fx),
    "torch-inductor": Backend("pytorch", "torch.compile (inductor, frozen weights, static shapes) of the --fuse_bn "
                              "model", fuse_bn=True, transform=_inductor),
}


# --- measuring ---------------------------------------------------------------------------------------

def sample_input(prefix: str, batch: int, size: int) -> Batch:
    """The input of one cell: images of ``size`` pixels, for a recurrent model (``--sequence``) a sequence of
    ``size`` steps, for an NLP model (``--nlp``) its inputs by name for sequences of ``size`` tokens, for a
    network on several frames (``--zoo video-... depth-...``) uniform noise in 0..1 of its own input shape, for a
    detector (``det-``) natural-looking ImageNet-normalised images, as its tests feed it."""
    name = os.path.basename(prefix)
    if name.startswith("det-"):
        return imagenet_normalise(sample_images(batch, size, seed=size))
    if name in video.MODELS:
        return np.random.default_rng(batch).uniform(0, 1, (batch, *video.MODELS[name].shape)).astype(np.float32)
    if name in sequence.MODELS:
        return sequence.sample_sequence(name, batch, steps=size)
    if name in nlp.MODELS:
        return nlp.sample_inputs(name, batch, steps=size)
    return sample_batch(batch, size)


def input_shape(batch: Batch) -> tuple[int, ...] | dict[str, tuple[int, ...]]:
    return {name: array.shape for name, array in batch.items()} if isinstance(batch, dict) else batch.shape


def input_label(prefix: str, batch: int, size: int) -> str:
    name = os.path.basename(prefix)
    if name in sequence.MODELS:
        return f"{size}x{batch}x{sequence.MODELS[name].features} (TNC)"
    if name in nlp.MODELS:
        return f"{batch}x{size} tokens"
    if name in video.MODELS:
        return "x".join(map(str, (batch, *video.MODELS[name].shape)))
    return f"{batch}x3x{size}x{size}"


def sizes_of(prefix: str, sizes: list[int]) -> list[int]:
    """The ``--size`` values a model is measured at: its own width alone for a network of a fixed input shape."""
    name = os.path.basename(prefix)
    return [video.MODELS[name].shape[-1]] if name in video.MODELS else sizes


def sample_batch(batch: int, size: int) -> np.ndarray:
    """Deterministic float32 NCHW images in 0..255 (smooth gradients plus noise), as the zoo models expect."""
    rng = np.random.default_rng([batch, size])
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    base = rng.uniform(0, 255, (batch, 3, 1, 1)) * ramp[None, None, :, None] * ramp[None, None, None, :]
    return np.clip(base + rng.normal(0, 40, (batch, 3, size, size)), 0, 255).astype(np.float32)


def time_runner(run: Runner, batch: Batch, warmup: int, repeat: int, budget_s: float,
                min_runs: int) -> tuple[list[float], list[np.ndarray]]:
    """Latencies in ms: ``repeat`` runs, or fewer (not under ``min_runs``) once ``budget_s`` is spent."""
    for _ in range(warmup):
        out = run(batch)
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < repeat and (len(times) < min_runs or time.perf_counter() - started < budget_s):
        tick = time.perf_counter()
        out = run(batch)
        times.append((time.perf_counter() - tick) * 1000)
    return times, out


class PeakMemory:
    """Peak memory in MB (``.mb``) over a ``with`` block above what was in use when it began: PyTorch's CUDA
    allocator (``torch.cuda.max_memory_allocated``) when the block runs PyTorch on a GPU, else the resident
    set's high-water mark (Linux: reset through ``/proc/self/clear_refs``, ``VmHWM``) above ``VmRSS``."""

    def __init__(self, device: str):
        torch = sys.modules.get("torch")
        on_gpu = device.startswith("cuda") and torch is not None and torch.cuda.is_initialized()
        self.cuda = torch.cuda if on_gpu else None
        self.mb = 0.0

    def __enter__(self) -> "PeakMemory":
        if self.cuda:
            self.cuda.synchronize()
            self.cuda.reset_peak_memory_stats()
            self.before = self.cuda.memory_allocated()
        else:
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")  # VmHWM := VmRSS
            self.before = _status_kb("VmRSS") * 1000
        return self

    def __exit__(self, *exc) -> None:
        if self.cuda:
            self.cuda.synchronize()
            self.mb = (self.cuda.max_memory_allocated() - self.before) / 1e6
        else:
            self.mb = (_status_kb("VmHWM") * 1000 - self.before) / 1e6


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))


def _saved_outputs(path: str) -> list[np.ndarray]:
    with np.load(path) as saved:
        return [saved[f"arr_{index}"] for index in range(len(saved.files))]


def _distance(label: str, reference: list[np.ndarray], out: list[np.ndarray]) -> float:
    """Max relative difference of the first output; for a detector (``det-``) the largest score difference
    of matched detections, infinite when an MXNet detection is missing (``mxconvert.detections``)."""
    if label.startswith("det-"):
        from mxconvert import detections

        scale = max(float(np.abs(reference[2]).max()), 1.0)
        result = detections.match(reference, out, score_tolerance=5e-4, box_tolerance=5e-4 * scale)
        return float("inf") if result.missing else result.max_score_diff
    return float(np.abs(out[0] - reference[0]).max() / np.abs(reference[0]).max())


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _child(args: argparse.Namespace) -> None:
    """Time one backend on one model at every input shape and take its forward peak; latencies and peaks as
    JSON, outputs as .npy in the workdir."""
    import json

    name, prefix, workdir = args.child
    if BACKENDS[name].key == "pytorch":
        import torch

        torch.set_num_threads(args.threads)
    model, cells = Model(prefix, args.device, args.threads, workdir), {}
    for size in sizes_of(prefix, args.size):
        for batch_size in args.batch:
            batch = sample_input(prefix, batch_size, size)
            run = BACKENDS[name].load(model, input_shape(batch))
            with PeakMemory(args.device) as peak:
                times, out = time_runner(run, batch, args.warmup, args.repeat, args.budget, args.min_runs)
            cell = f"{batch_size}x{size}"
            first = softmax(out[0]) if BACKENDS[name].logits else out[0]
            np.savez(os.path.join(workdir, f"{os.path.basename(prefix)}-{name}-{cell}.npz"), first, *out[1:])
            cells[cell] = {"times": times, "peak_mb": peak.mb}
    print(json.dumps(cells))


def _measure(name: str, prefix: str, workdir: str, batch: int, size: int,
             args: argparse.Namespace) -> dict[str, dict]:
    """One backend on one model at one input shape in a fresh interpreter (no other runtime's threads or
    memory beside it)."""
    import json
    import subprocess

    env = dict(os.environ, PYTHONWARNINGS="ignore")
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[variable] = str(args.threads)
    if "mxnet" in api.BACKENDS[BACKENDS[name].key].needs:  # see README: the threaded engine stalls on 2 cores
        env.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")
    options = ["--batch", str(batch), "--size", str(size), "--repeat", str(args.repeat),
               "--budget", str(args.budget), "--min-runs", str(args.min_runs), "--warmup", str(args.warmup),
               "--threads", str(args.threads), "--device", args.device]
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", name, prefix, workdir, *options],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{name} on {prefix} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def zoo_model(name: str, models_dir: str) -> str:
    """The prefix of local zoo model ``name`` in ``models_dir``, built by ``python -m mxconvert.zoo`` if missing
    (in a child: this process stays free of MXNet)."""
    import subprocess

    prefix = os.path.abspath(os.path.join(models_dir, name))
    if not os.path.exists(f"{prefix}-symbol.json"):
        flag = "--video" if name in video.MODELS else "--vision"
        subprocess.run([sys.executable, "-m", "mxconvert.zoo", flag, name, "--out", models_dir], check=True, cwd=ROOT)
    return prefix


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        _child(args)
        return 0
    unknown = [name for name in args.backends if name not in BACKENDS]
    if unknown:
        sys.exit(f"unknown backends: {', '.join(unknown)} (choose from {', '.join(BACKENDS)})")
    skipped = {name: f"needs {', '.join(missing)}" for name in args.backends if (missing := BACKENDS[name].missing())}
    backends = [name for name in args.backends if name not in skipped]
    prefixes = {f"resnet-{depth}": prefix for depth, prefix in ensure_models(args.depths, args.models_dir).items()}
    prefixes.update({os.path.basename(prefix): prefix for prefix in args.checkpoints})
    for name in args.detection:
        prefix = os.path.abspath(os.path.join(args.models_dir, name))
        if not os.path.exists(f"{prefix}-symbol.json"):
            from mxconvert.zoo.detection import build_detector

            build_detector(name, args.models_dir)
        prefixes[name] = prefix
    for name in args.zoo:
        prefixes[name] = zoo_model(name, args.models_dir)
    for names, family in ((args.sequence, sequence.build_sequence), (args.nlp, nlp.build_nlp)):
        for name in names:
            prefix = os.path.abspath(os.path.join(args.models_dir, name))
            if not os.path.exists(f"{prefix}-symbol.json"):
                family(name, args.models_dir)
            prefixes[name] = prefix

    rows, ratios, peaks, worst = [], [], [], {name: 0.0 for name in backends[1:]}
    with tempfile.TemporaryDirectory(prefix="mxconvert-bench-") as workdir:
        for label, prefix in prefixes.items():
            results: dict[str, dict[str, list[float]]] = {name: {} for name in backends}
            peak_mb: dict[str, dict[str, float]] = {name: {} for name in backends}
            for round_index in range(args.rounds):  # backends take turns, so slow spells hit them alike
                for name in backends:
                    for size in sizes_of(prefix, args.size):
                        for batch_size in args.batch:
                            for cell, measured in _measure(name, prefix, workdir, batch_size, size, args).items():
                                results[name].setdefault(cell, []).extend(measured["times"])
                                peak_mb[name][cell] = max(peak_mb[name].get(cell, 0.0), measured["peak_mb"])
                    print(f"{label} {name}: round {round_index + 1}/{args.rounds} done", file=sys.stderr,
                          flush=True)
            for size in sizes_of(prefix, args.size):
                for batch_size in args.batch:
                    cell = f"{batch_size}x{size}"
                    out = {name: _saved_outputs(os.path.join(workdir, f"{os.path.basename(prefix)}-{name}-{cell}.npz"))
                           for name in backends}
                    reference = out[backends[0]]
                    for name in backends[1:]:
                        worst[name] = max(worst[name], _distance(label, reference, out[name]))
                    times = [results[name][cell] for name in backends]
                    counts = sorted({len(t) for t in times})
                    row = [label, input_label(prefix, batch_size, size)]
                    rows.append([*row, *[f"{statistics.median(t):.1f} / {np.percentile(t, 90):.1f}" for t in times],
                                 "-".join(map(str, (counts[0], counts[-1]) if len(counts) > 1 else counts))])
                    peaks.append([*row, *[f"{peak_mb[name][cell]:.0f}" for name in backends]])
                    if args.ratio_to in backends:
                        base = statistics.median(results[args.ratio_to][cell])
                        ratios.append([*row, *[f"{statistics.median(t) / base:.2f}" for t in times]])
        fusions = fusions_of(workdir)

    print(f"Inference latency in ms, median / p90 (after {args.warmup} warm-up runs; up to {args.repeat} timed "
          f"runs, fewer once a cell passed {args.budget:g} s, never under {args.min_runs}); "
          f"{args.threads} threads per runtime; each backend in its own process"
          + (f", backends taking turns over {args.rounds} rounds (runs pooled)" if args.rounds > 1 else "")
          + f"; device {args.device}")
    print(f"machine: {machine_description()}\n")
    print(render(["model", "input", *backends, "runs"], rows, args.format))
    print()
    print(f"Forward peak memory in MB over the warm-up and timed runs above what was in use before them "
          f"({'torch.cuda.max_memory_allocated for PyTorch on the GPU, ' if args.device.startswith('cuda') else ''}"
          f"resident set{', largest of the rounds' if args.rounds > 1 else ''}):\n")
    print(render(["model", "input", *backends], peaks, args.format))
    print()
    if ratios:
        print(f"Median latency relative to {args.ratio_to}:\n")
        print(render(["model", "input", *backends], ratios, args.format))
        print()
    for file, counts in fusions.items():
        found = ", ".join(f"{op} {count}" for op, count in counts.items()) or "none"
        print(f"onnxruntime.transformers.optimizer fused in {file}: {found}")
    if fusions:
        print()
    legend = [[name, BACKENDS[name].description,
               "reference" if i == 0 else f"{worst[name]:.1e}"] for i, name in enumerate(backends)]
    legend += [[name, BACKENDS[name].description, f"skipped: {why}"] for name, why in skipped.items()]
    print(render(["backend", "what", f"difference from {backends[0]}: max abs(p - p_ref) / max p_ref; detectors: "
                  "largest score difference of matched detections (inf: one missing)"], legend, args.format))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depths", type=int, nargs="*", default=[18, 50, 152], choices=[18, 34, 50, 101, 152])
    parser.add_argument("--checkpoints", nargs="*", default=[], metavar="PREFIX",
                        help="other checkpoints (PREFIX-symbol.json, PREFIX-0000.params) measured after the ResNets")
    parser.add_argument("--detection", nargs="*", default=[], metavar="NAME",
                        help="GluonCV detectors (built if missing), e.g. det-ssd_512_mobilenet1.0_voc "
                             "det-yolo3_mobilenet1.0_voc; outputs compared as sets of detections")
    parser.add_argument("--zoo", nargs="*", default=[], metavar="NAME",
                        help="local zoo models (built if missing) measured after the ResNets: "
                             "gluoncv-resnet18_v1b_0.89 (and any other vision-/gluoncv- name, at --size), "
                             f"and at their own input shape {', '.join(video.MODELS)}")
    parser.add_argument("--sequence", nargs="*", default=[], choices=list(sequence.MODELS), metavar="NAME",
                        help=f"recurrent models (built if missing; --size is then the number of steps): "
                             f"{', '.join(sequence.MODELS)}")
    parser.add_argument("--nlp", nargs="*", default=[], choices=list(nlp.MODELS), metavar="NAME",
                        help=f"GluonNLP models (built if missing; --size is then the sequence length): "
                             f"{', '.join(nlp.MODELS)}")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--size", type=int, nargs="+", default=[112, 224], help="input height and width")
    parser.add_argument("--backends", nargs="+", metavar="NAME",
                        default=["mxnet", "onnxruntime", "onnxruntime-mxnet-exporter", "pytorch", "torch-fuse-bn",
                                 "torch-channels-last", "torch-inductor", "torch-compile"],
                        help=f"first one is the reference for the output check; any of: {', '.join(BACKENDS)}")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per cell at most")
    parser.add_argument("--budget", type=float, default=3.0,
                        help="seconds of timed runs after which a cell stops early (default 3)")
    parser.add_argument("--min-runs", type=int, default=5, help="timed runs per cell at least")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per cell first")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every backend this many times in turn, pooling the runs (noisy machines)")
    parser.add_argument("--ratio-to", default="onnxruntime",
                        help="a table of median latencies relative to this backend, when it is measured")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads for every runtime")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N], for the PyTorch backends and "
                        "ONNX Runtime (when it has the CUDA provider); MXNet stays on the CPU")
    parser.add_argument("--models-dir", default=os.path.join(ROOT, "build", "bench"),
                        help="where the zoo checkpoints are (built if missing)")
    parser.add_argument("--format", choices=["table", "markdown"], default="table")
    parser.add_argument("--child", nargs=3, metavar=("BACKEND", "PREFIX", "WORKDIR"), help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    sys.exit(main())
