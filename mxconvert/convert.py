"""The conversions as the scripts run them, symmetric per target: a loaded graph and typed options in, files
written atomically, the lines to print returned (nothing is printed here)."""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from .fileio import atomic_output, write_text
from .ir import Graph
from .to_onnx import ExportOptions, build_onnx, save_onnx

if TYPE_CHECKING:  # torch is imported only where a PyTorch model is made
    import torch

    from .to_torch import TorchOptions


def precision_notice(graph: Graph, computes_in: str = "float32") -> list[str]:
    """One line when the stored weights are not in the precision the converted model computes in."""
    stored = sorted({str(a.dtype) for a in [*graph.params.values(), *graph.aux.values()] if a.dtype.kind == "f"})
    if not stored or stored == [computes_in]:
        return []
    return [f"note: the params file stores {' and '.join(stored)} weights; the converted model computes in "
            f"{computes_in}" + (" (--dtype float16 keeps half precision)" if computes_in == "float32" else "")]


def convert_to_onnx(graph: Graph, options: ExportOptions, onnx_path: str | os.PathLike,
                    log_path: str | os.PathLike | None = None) -> list[str]:
    """Write ``onnx_path`` (and the conversion log); returns a one-line summary followed by notices and
    warnings."""
    started = time.perf_counter()
    model, log = build_onnx(graph, options)
    log.timings = {"read checkpoint": graph.source.read_seconds, **log.timings}
    save_onnx(model, os.fspath(onnx_path))
    log.timings["total"] = graph.source.read_seconds + time.perf_counter() - started
    if log_path:
        write_text(log_path, f"mxconvert: {graph.source.symbol_file} + {graph.source.params_file} -> {onnx_path}\n"
                             f"{log.text()}")
    summary = (f"{onnx_path}: {len(model.skeleton.graph.node)} ONNX nodes from {len(graph.nodes)} MXNet nodes, "
               f"opset {options.opset}, {log.timings['total']:.2f} s")
    notices = [*graph.source.notes, *precision_notice(graph, "float16" if options.fp16 else "float32")]
    return [summary, *notices, *(f"warning: {warning}" for warning in log.warnings)]


def convert_to_pytorch(graph: Graph, options: TorchOptions, kit_path: str | os.PathLike,
                       model_path: str | os.PathLike) -> tuple[torch.nn.Module, list[str]]:
    """Write ``kit_path`` and ``model_path`` only after the generated model has loaded and run; returns the
    model and a one-line summary followed by notices."""
    from .to_torch.convert import to_module

    model, source, state_bytes = to_module(graph, options)
    with atomic_output(kit_path, "w") as kit, atomic_output(model_path) as weights:
        kit.write(source)
        weights.write(state_bytes)
    count = sum(p.numel() for p in model.parameters())
    return model, [f"pytorch: {count} parameters -> {kit_path}, {model_path}", *graph.source.notes,
                   *precision_notice(graph)]
