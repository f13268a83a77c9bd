"""Drive the converters over a graph and produce a checked ONNX model plus a conversion log."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import __version__
from ..errors import InternalError, MxConvertError, NotExpressible, UnsupportedOpsError, first_line
from ..fileio import atomic_output
from ..inference_graph import inference_forward
from ..ir import Graph
from ..shapes import inferred_shapes
# the family modules register their converters
from . import detection, elementwise, indexing, nn, normalization, ops, reduce, resize, sequence, shape  # noqa: F401
from .context import EmitContext
from .registry import CONVERTERS, REGISTRY
from .stream import StreamedModel

MIN_OPSET, MAX_OPSET = 11, 21
# The newest IR version each opset range needs; older consumers reject files stamped newer than they know.
SMALL_CONSTANT = 4096  # elements; smaller initializers (shapes, scales, biases) stay in the graph skeleton
_IR_VERSION = {11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}


@dataclass
class ExportOptions:
    input_shape: tuple[int, ...]
    opset: int = 13
    dynamic_batch: bool = False
    keep_softmax: bool = True
    fp16: bool = False


@dataclass
class ConversionLog:
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def text(self) -> str:
        timing = [f"{step}: {seconds * 1000:.1f} ms" for step, seconds in self.timings.items()]
        sections = [("node mapping (MXNet node -> ONNX nodes)", self.lines), ("warnings", self.warnings or ["none"]),
                    ("timings", timing)]
        return "\n".join(f"== {title} ==\n" + "\n".join(body) for title, body in sections) + "\n"


def export_onnx(graph: Graph, options: ExportOptions) -> tuple[onnx.ModelProto, ConversionLog]:
    """``build_onnx`` as one in-memory ModelProto (for small models and tests; files use ``save_onnx``)."""
    streamed, log = build_onnx(graph, options)
    return streamed.to_model(), log


def build_onnx(graph: Graph, options: ExportOptions) -> tuple[StreamedModel, ConversionLog]:
    """Convert ``graph`` (with weights) to a checked ONNX model whose weights stay numpy arrays."""
    log = ConversionLog()
    started = time.perf_counter()
    graph = inference_forward(graph, options.keep_softmax)
    if not MIN_OPSET <= options.opset <= MAX_OPSET:
        raise MxConvertError(f"opset {options.opset} is not supported (choose {MIN_OPSET}..{MAX_OPSET})")
    offenders = REGISTRY.unsupported(graph.nodes, options.opset)
    if offenders:
        raise UnsupportedOpsError(f"ONNX opset {options.opset}", offenders)
    shapes = inferred_shapes(graph, tuple(options.input_shape))
    log.timings["shape inference"] = time.perf_counter() - started

    float_type = np.float16 if options.fp16 else np.float32
    ctx = EmitContext(graph, shapes, options.opset, float_type, options.dynamic_batch)
    input_name = graph.inputs[0].name
    if options.fp16:  # the graph computes in float16 behind a float32 interface
        ctx.aliases[input_name] = f"{input_name}__fp16"
        ctx.nodes.append(helper.make_node("Cast", [input_name], [ctx.aliases[input_name]],
                                          name=f"{input_name}__cast", to=TensorProto.FLOAT16))
    started = time.perf_counter()
    for node in graph.nodes:
        ctx.current = node
        try:
            CONVERTERS[node.op].convert(ctx, node)
        except NotExpressible as exc:
            raise UnsupportedOpsError(f"ONNX opset {options.opset}", {f"{node.op} [{exc}]": [node.name]}) from None
        except Exception as exc:
            raise InternalError(f"converting node {node.name!r} ({node.op}) to ONNX failed: "
                                f"{type(exc).__name__}: {first_line(exc)}") from exc
        source = f"MXNet node {node.mxnet_name!r}, " if node.mxnet_name else ""
        log.lines.append(f"{node.name} ({source}{node.op}) -> {', '.join(ctx.emitted.get(node.name, []))}")
    log.timings["emit nodes"] = time.perf_counter() - started
    model = _assemble(ctx, options, input_name)
    started = time.perf_counter()
    _check(model)
    log.timings["shape inference and check_model(full_check=True)"] = time.perf_counter() - started
    log.warnings.extend(ctx.warnings)
    if options.fp16:
        log.warnings.append("fp16: weights and compute in float16; expect errors near 1e-3 of the output scale")
    fixed = [n.name for n in graph.nodes if n.op == "BatchNorm" and n.attrs["fix_gamma"]]
    if fixed:
        log.warnings.append(f"fix_gamma=True: stored gamma replaced by 1 (as MXNet does) in {', '.join(fixed)}")
    return model, log


def _assemble(ctx: EmitContext, options: ExportOptions, input_name: str) -> StreamedModel:
    graph = ctx.graph
    batch = "batch" if options.dynamic_batch else None

    def value_info(name: str, shape: tuple) -> onnx.ValueInfoProto:
        dims = [batch or shape[0], *shape[1:]] if shape else []
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)

    outputs = []
    for ref in graph.outputs:
        name = ctx.name_of(ref)
        if options.fp16:
            half = f"{name}__fp16"
            for proto in ctx.nodes:
                proto.output[:] = [half if o == name else o for o in proto.output]
                proto.input[:] = [half if i == name else i for i in proto.input]
            ctx.nodes.append(helper.make_node("Cast", [half], [name], name=f"{name}__cast", to=TensorProto.FLOAT))
        outputs.append(value_info(name, ctx.shapes[ref]))
    small = {name: array for name, array in ctx.initializers.items() if array.size <= SMALL_CONSTANT}
    onnx_graph = helper.make_graph(
        ctx.nodes, os.path.basename(graph.source.symbol_file).removesuffix("-symbol.json") or "mxnet_model",
        [value_info(input_name, tuple(options.input_shape))], outputs,
        initializer=[numpy_helper.from_array(np.asarray(a, order="C"), name) for name, a in small.items()])
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", options.opset)],
                              producer_name="mxconvert", producer_version=__version__)
    model.ir_version = _IR_VERSION[options.opset]
    source = graph.source
    meta = {"source_symbol": os.path.basename(source.symbol_file), "source_symbol_sha256": source.symbol_sha256,
            "source_params": os.path.basename(source.params_file), "source_params_sha256": source.params_sha256,
            "source_mxnet_version": source.mxnet_version or "unknown"}
    renamed = {n.name: n.mxnet_name for n in graph.nodes if n.mxnet_name}
    if renamed:  # node names the symbol file repeats, made unique here
        meta["mxnet_node_names"] = json.dumps(renamed)
    helper.set_model_props(model, meta)
    return StreamedModel(model, {name: a for name, a in ctx.initializers.items() if name not in small})


def _check(model: StreamedModel) -> None:
    """Shape inference (strict) and ``check_model(full_check=True)`` over the whole graph, the large weights
    standing in as typed inputs; the inferred shapes are kept in the model for its consumers."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model.checkable(), check_type=True, strict_mode=True)
        onnx.checker.check_model(inferred, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise InternalError(f"the emitted ONNX model is invalid: {first_line(exc)}") from None
    model.skeleton.graph.value_info.extend(inferred.graph.value_info)


def save_onnx(model: StreamedModel, path: str) -> None:
    """Stream to a temporary file beside ``path`` and rename it into place."""
    with atomic_output(path) as handle:
        model.write(handle)
