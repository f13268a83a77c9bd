"""End-to-end conversions as the scripts run them: read, convert, write atomically; the scripts print the
lines these return."""
from __future__ import annotations

import time

from .checkpoint import Checkpoint, CheckpointPaths, load_checkpoint
from .fileio import write_text
from .ir import Graph
from .to_onnx import ExportOptions, build_onnx, save_onnx


def precision_notice(graph: Graph, computes_in: str = "float32") -> list[str]:
    """One line when the stored weights are not in the precision the converted model computes in."""
    stored = sorted({str(a.dtype) for a in [*graph.params.values(), *graph.aux.values()] if a.dtype.kind == "f"})
    if not stored or stored == [computes_in]:
        return []
    return [f"note: the params file stores {' and '.join(stored)} weights; the converted model computes in "
            f"{computes_in}" + (" (--dtype float16 keeps half precision)" if computes_in == "float32" else "")]


def convert_to_onnx(checkpoint: Checkpoint, epoch: int, onnx_path: str, log_path: str | None,
                    **options) -> list[str]:
    """Write ``onnx_path`` (and the log); returns a one-line summary followed by notices and warnings.
    ``options``: the fields of :class:`ExportOptions`."""
    started = time.perf_counter()
    graph = load_checkpoint(checkpoint, epoch)
    read_seconds = time.perf_counter() - started
    export = ExportOptions(**options)
    model, log = build_onnx(graph, export)
    log.timings = {"read checkpoint": read_seconds, **log.timings}
    save_onnx(model, onnx_path)
    log.timings["total"] = time.perf_counter() - started
    if log_path:
        paths = CheckpointPaths.of(checkpoint, epoch)
        write_text(log_path, f"mxconvert: {paths.symbol} + {paths.params} -> {onnx_path}\n{log.text()}")
    summary = (f"{onnx_path}: {len(model.skeleton.graph.node)} ONNX nodes from {len(graph.nodes)} MXNet nodes, "
               f"opset {export.opset}, {log.timings['total']:.2f} s")
    notices = precision_notice(graph, "float16" if export.fp16 else "float32")
    return [summary, *notices, *(f"warning: {warning}" for warning in log.warnings)]

