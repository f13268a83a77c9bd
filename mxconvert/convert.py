"""End-to-end conversions as the scripts run them: read, convert, write atomically, report."""
from __future__ import annotations

import time

from .checkpoint import Checkpoint, CheckpointPaths, load_checkpoint
from .fileio import write_text
from .to_onnx import ExportOptions, build_onnx, save_onnx


def convert_to_onnx(checkpoint: Checkpoint, epoch: int, onnx_path: str, log_path: str | None, **options) -> str:
    """Write ``onnx_path`` (and the log); returns a one-line summary that the script prints."""
    started = time.perf_counter()
    graph = load_checkpoint(checkpoint, epoch)
    read_seconds = time.perf_counter() - started
    model, log = build_onnx(graph, ExportOptions(**options))
    log.timings = {"read checkpoint": read_seconds, **log.timings}
    save_onnx(model, onnx_path)
    log.timings["total"] = time.perf_counter() - started
    if log_path:
        paths = CheckpointPaths.of(checkpoint, epoch)
        write_text(log_path, f"mxconvert: {paths.symbol} + {paths.params} -> {onnx_path}\n{log.text()}")
    summary = (f"{onnx_path}: {len(model.skeleton.graph.node)} ONNX nodes from {len(graph.nodes)} MXNet nodes, "
               f"opset {options.get('opset', 13)}, {log.timings['total']:.2f} s")
    print(summary)
    for warning in log.warnings:
        print(f"warning: {warning}")
    return summary
