"""Drive the converters over a graph and produce a checked ONNX model plus a conversion log."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .. import DEFAULT_OPSET, __version__
from ..errors import InternalError, MxConvertError, NotExpressible, UnsupportedOpsError, first_line
from ..feeds import BEGIN_STATES_KEY, FOLDED_INTO_KEY
from ..fileio import atomic_output
from ..inference_graph import inference_forward
from ..batch_major import batch_major_attention
from ..dynamic import (InputSizes, LiveDims, digest, emit_checked, input_dtypes_of, input_sizes, live_dims,
                       probe_shapes)
from ..ir import Graph, TensorRef
from ..passes import fold_batch_norms
from ..semantics.inference import begin_states, inferred_shapes
from ..semantics.normalization import BATCH_NORMS
from ..semantics.quantization import INT8_CPUS
from ..semantics.rules import Shape
# the family modules register their converters
from . import (activation, attention, control_flow, convolution, detection, elementwise, indexing,  # noqa: F401
               linalg, linear, normalization, quantization, recurrent, reduce, resize, sequence, shape, spatial)
from .context import EmitContext
from .registry import CONVERTERS, REGISTRY
from .stream import StreamedModel

MIN_OPSET, MAX_OPSET = 11, 21
# The newest IR version each opset range needs; older consumers reject files stamped newer than they know.
SMALL_CONSTANT = 4096  # elements; smaller initializers (shapes, scales, biases) stay in the graph skeleton
_IR_VERSION = {11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}


@dataclass
class ExportOptions:
    input_shape: Shape | dict[str, Shape]  # one bare shape for the data input, or a shape per input name
    opset: int = DEFAULT_OPSET
    dynamic_batch: bool = False  # axis 0 of every data input symbolic
    keep_softmax: bool = True
    fp16: bool = False
    fuse_bn: bool = False  # BatchNorms folded into the Convolutions before them (passes.fold_batch_norms)
    batch_major: bool = True  # GluonNLP's time-major encoders run batch-major (batch_major.batch_major_attention)
    dynamic_axes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # input -> symbolic axes
    input_dtypes: dict[str, str] = field(default_factory=dict)  # input -> element type it takes (float32 if absent)
    # INT8 convolutions and fully connected layers in plain QDQ form, which ONNX Runtime fuses into integer kernels
    # (its float roundings differ from MXNet's by single steps); default: on their integers (Cast), with MXNet's
    # scales as a Mul, MXNet's exact arithmetic in any runtime
    int8_kernels: bool = False
    # the exact form: whose MXNet INT8 arithmetic it computes (semantics.quantization.INT8_CPUS; QDQ ignores it)
    int8_cpu: str = "vnni"


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
    if options.int8_cpu not in INT8_CPUS:
        raise MxConvertError(f"int8_cpu {options.int8_cpu!r} is not known (choose {', '.join(INT8_CPUS)})")
    target = f"ONNX opset {options.opset}"
    graph, folded_into = fold_batch_norms(graph) if options.fuse_bn else (graph, {})
    offenders = REGISTRY.unsupported(graph.nodes, options.opset, stored=graph.params.keys() | graph.aux.keys())
    if offenders:
        raise UnsupportedOpsError(target, offenders)
    sizes = input_sizes(graph, options.input_shape, options.dynamic_batch, options.dynamic_axes)
    if options.batch_major:
        lowest = float(np.finfo(np.float16 if options.fp16 else np.float32).min)
        graph, _ = batch_major_attention(graph, sizes.given, lowest)
    dtypes = input_dtypes_of(graph, options.input_dtypes)
    shapes = inferred_shapes(graph, sizes.given)
    probe = probe_shapes(graph, sizes) if sizes.dynamic else None
    log.timings["shape inference"] = time.perf_counter() - started

    started = time.perf_counter()
    live = live_dims(sizes, shapes, probe)
    ctx = emit_checked(graph, target, shapes, probe,
                       lambda at: _emit(graph, at, options, sizes.batch_dynamic(), live, probe is not None, dtypes))
    log.lines.extend(f"{node.name} ({f'MXNet node {node.mxnet_name!r}, ' if node.mxnet_name else ''}{node.op}) -> "
                     f"{', '.join(ctx.emitted.get(node.name, []))}" for node in graph.nodes)
    log.timings["emit nodes"] = time.perf_counter() - started
    model = _assemble(ctx, options, sizes, probe or shapes, folded_into, dtypes)
    started = time.perf_counter()
    _check(model)
    log.timings["shape inference and check_model(full_check=True)"] = time.perf_counter() - started
    log.warnings.extend(ctx.warnings)
    if options.fp16:
        log.warnings.append("fp16: weights and compute in float16; expect errors near 1e-3 of the output scale")
    fixed = [n.name for n in graph.nodes if n.op in BATCH_NORMS and n.attrs["fix_gamma"]]
    if fixed:
        log.warnings.append(f"fix_gamma=True: stored gamma replaced by 1 (as MXNet does) in {', '.join(fixed)}")
    return model, log


def _emit(graph: Graph, shapes: dict[TensorRef, Shape], options: ExportOptions, batch_dynamic: bool,
          live: LiveDims, fingerprint: bool, dtypes: dict[str, np.dtype]) -> tuple[EmitContext, dict[str, str]]:
    """Run every node's converter and drop what no output reads; the context and (``fingerprint``: with dynamic
    axes) a digest of what each node emitted that is kept. An input of another type than the graph's float type
    (``dtypes``, or float32 under ``fp16``) is cast to it first."""
    float_type = np.float16 if options.fp16 else np.float32
    ctx = EmitContext(graph, shapes, options.opset, float_type, batch_dynamic, live)
    ctx.int8_exact = not options.int8_kernels
    ctx.int8_cpu = options.int8_cpu
    for var in graph.inputs:
        if dtypes.get(var.name, np.float32) != float_type:
            ctx.aliases[var.name] = f"{var.name}__fp16" if options.fp16 else f"{var.name}__float"
            ctx.nodes.append(helper.make_node("Cast", [var.name], [ctx.aliases[var.name]], name=f"{var.name}__cast",
                                              to=helper.np_dtype_to_tensor_dtype(np.dtype(float_type))))
    made: dict[str, tuple[list[onnx.NodeProto], list[str]]] = {}  # MXNet node -> its ONNX nodes, initializers
    for node in graph.nodes:
        ctx.begin(node)
        first_node, known = len(ctx.nodes), set(ctx.initializers) if fingerprint else set()
        try:
            CONVERTERS[node.op].convert(ctx, node)
        except NotExpressible as exc:
            raise UnsupportedOpsError(f"ONNX opset {options.opset}", {f"{node.op} [{exc}]": [node.name]}) from None
        except (UnsupportedOpsError, InternalError):  # from a control-flow body, naming its node
            raise
        except Exception as exc:
            raise InternalError(f"converting node {node.name!r} ({node.op}) to ONNX failed: "
                                f"{type(exc).__name__}: {first_line(exc)}") from exc
        if fingerprint:
            made[node.name] = ctx.nodes[first_node:], [name for name in ctx.initializers if name not in known]
    ctx.drop_unread([ctx.name_of(ref) for ref in graph.outputs])
    kept = {id(proto) for proto in ctx.nodes}
    digests = {name: digest(*(p.SerializeToString() for p in protos if id(p) in kept),
                            *(_fingerprint(name, ctx.initializers[name]) for name in initializers
                              if name in ctx.initializers))
               for name, (protos, initializers) in made.items()}
    return ctx, digests


def _fingerprint(name: str, array: np.ndarray) -> bytes:
    """An initializer's name, type and shape, and its values where small (sizes live in small constants; a
    weight's values do not depend on the input's size)."""
    head = f"{name}{array.dtype}{array.shape}".encode()
    return head + np.ascontiguousarray(array).tobytes() if array.size <= SMALL_CONSTANT else head


def _assemble(ctx: EmitContext, options: ExportOptions, sizes: InputSizes, probe: dict[TensorRef, Shape],
              folded_into: dict[str, str], dtypes: dict[str, np.dtype]) -> StreamedModel:
    graph = ctx.graph

    def value_info(name: str, ref: TensorRef, dtype: np.dtype | None = None) -> onnx.ValueInfoProto:
        element = helper.np_dtype_to_tensor_dtype(dtype or dtypes.get(name, np.dtype(np.float32)))
        return helper.make_tensor_value_info(name, element, sizes.dim_names(name, ctx.shapes[ref], probe[ref]))

    outputs = []
    for ref in graph.outputs:
        name = ctx.name_of(ref)
        dtype = _numpy_type(ctx.dtypes.get(ref, "float32"))  # MXNet's type of the output; computed in float
        if options.fp16 or dtype != np.float32:
            computed = f"{name}__fp16" if options.fp16 else f"{name}__computed"
            for proto in ctx.nodes:
                proto.output[:] = [computed if o == name else o for o in proto.output]
                proto.input[:] = [computed if i == name else i for i in proto.input]
            ctx.nodes.append(helper.make_node("Cast", [computed], [name], name=f"{name}__cast",
                                              to=helper.np_dtype_to_tensor_dtype(dtype)))
        outputs.append(value_info(name, ref, dtype))
    small = {name: array for name, array in ctx.initializers.items() if array.size <= SMALL_CONSTANT}
    onnx_graph = helper.make_graph(
        ctx.nodes, os.path.basename(graph.source.symbol_file).removesuffix("-symbol.json") or "mxnet_model",
        [value_info(var.name, TensorRef(var.name)) for var in graph.inputs], outputs,
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
    states = begin_states(graph)
    if states:  # inputs that runners feed zeros when not given
        meta[BEGIN_STATES_KEY] = json.dumps(states)
    if folded_into:
        meta[FOLDED_INTO_KEY] = json.dumps(folded_into)
    helper.set_model_props(model, meta)
    return StreamedModel(model, {name: a for name, a in ctx.initializers.items() if name not in small})


def _numpy_type(name: str) -> np.dtype:
    """MXNet's type ``name`` as NumPy's (bfloat16, which NumPy lacks, as float32)."""
    return np.dtype(np.float32) if name == "bfloat16" else np.dtype(name)


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
