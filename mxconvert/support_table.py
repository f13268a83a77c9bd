"""Print the README's tables of supported model families and MXNet ops (markdown), generated from the zoo's
model families and the ONNX and PyTorch converter registries: ``python -m mxconvert.support_table``.

A family counts as supported by a target when the registry converts every node of its graphs, attributes
included (the graphs are the zoo's symbols read by mxconvert's own symbol reader); for ONNX, the opsets where
that holds. Needs MXNet (to build the symbols).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .zoo import detection, faces, fused, nlp, numpy_style, numpy_text, resnet, spatial, video, vision
from .zoo.common import implicit_aux, legacy_graph
from .folding import EVALUATORS
from .ir import Node
from .semantics.fused import FUSED, inline_fused
from .semantics.indexing import RANDOM_REASON
from .semantics.loss import LOSS_HEADS
from .semantics.schema import ALIASES
from .registry import ConverterRegistry
from .symbol import parse_symbol
from .to_onnx.exporter import MAX_OPSET, MIN_OPSET  # the exporter and the code generator import every family
from .to_onnx.registry import REGISTRY as ONNX
from .to_torch.codegen import emit_pytorch  # noqa: F401
from .to_torch.registry import REGISTRY as TORCH

YES, NO, LIMITED = "yes", "no", "yes¹"
# The op names MXNet 1.9.1's own ONNX exporter registers (read from python/mxnet/onnx/mx2onnx/_op_translations/
# of MXNet v1.9.x), to count mxconvert's coverage against.
MXNET_EXPORTER_OPS = frozenset((
    "Activation", "BatchNorm", "BlockGrad", "Cast", "Concat", "Convolution", "Crop", "Deconvolution", "Dropout",
    "Embedding", "Flatten", "FullyConnected", "InstanceNorm", "L2Normalization", "LRN", "LayerNorm", "LeakyReLU",
    "LogisticRegressionOutput", "MakeLoss", "Pad", "Pooling", "RNN", "ROIPooling", "Reshape", "SequenceMask",
    "SequenceReverse", "SliceChannel", "SoftmaxOutput", "SwapAxis", "UpSampling", "_arange",
    "_contrib_AdaptiveAvgPooling2D", "_contrib_BilinearResize2D", "_contrib_ROIAlign", "_contrib_arange_like",
    "_contrib_box_decode", "_contrib_box_nms", "_contrib_div_sqrt_dim", "_contrib_interleaved_matmul_selfatt_qk",
    "_contrib_interleaved_matmul_selfatt_valatt", "_copy", "_div_scalar", "_equal_scalar", "_greater_scalar",
    "_lesser_scalar", "_linalg_gemm2", "_maximum", "_maximum_scalar", "_minimum", "_minimum_scalar", "_minus_scalar",
    "_mul_scalar", "_ones", "_plus_scalar", "_power", "_power_scalar", "_random_normal", "_random_uniform",
    "_random_uniform_like", "_rdiv_scalar", "_rminus_scalar", "_rnn_param_concat", "_sample_multinomial", "_split_v2",
    "_zeros", "abs", "add_n", "arccos", "arcsin", "arctan", "argmax", "argmin", "argsort", "batch_dot",
    "broadcast_add", "broadcast_axis", "broadcast_div", "broadcast_equal", "broadcast_greater",
    "broadcast_greater_equal", "broadcast_lesser", "broadcast_lesser_equal", "broadcast_like",
    "broadcast_logical_and", "broadcast_logical_or", "broadcast_logical_xor", "broadcast_minimum", "broadcast_mod",
    "broadcast_mul", "broadcast_not_equal", "broadcast_power", "broadcast_sub", "broadcast_to", "ceil", "clip", "cos",
    "depth_to_space", "dot", "elemwise_add", "elemwise_div", "elemwise_mul", "elemwise_sub", "exp", "expand_dims",
    "floor", "gather_nd", "hard_sigmoid", "identity", "log", "log2", "log_softmax", "logical_not", "max", "mean",
    "min", "negative", "norm", "null", "one_hot", "ones_like", "prod", "reciprocal", "relu", "repeat", "reshape_like",
    "reverse", "shape_array", "sigmoid", "sin", "size_array", "slice", "slice_axis", "slice_like", "softmax",
    "space_to_depth", "sqrt", "square", "squeeze", "stack", "sum", "sum_axis", "take", "tan", "tanh", "tile", "topk",
    "transpose", "where", "zeros_like",
))


@dataclass(frozen=True)
class Family:
    name: str
    short: str
    models: tuple[str, ...]
    symbol_json: Callable[[str], str]
    note: str = ""


def _face_json(name: str) -> str:
    return faces.face_symbol(name).tojson()


def _vision_json(name: str) -> str:
    return vision.vision_symbol(name).tojson()


def _fused_json(name: str) -> str:
    with tempfile.TemporaryDirectory() as folder:
        with open(f"{fused.build_any(name.removeprefix('fused-'), folder)}-symbol.json") as handle:
            return handle.read()


def _numpy_json(name: str) -> str:
    if name in numpy_style.NUMPY_MODELS:
        return numpy_style.numpy_symbol(name).tojson()
    with tempfile.TemporaryDirectory() as folder:
        with open(f"{numpy_text.build_text_model(name, folder)}-symbol.json") as handle:
            return handle.read()


def _spatial_json(name: str) -> str:
    return spatial.spatial_symbol(name).tojson()


def _classic_json(name: str) -> str:
    return resnet.classic_resnet_symbol(int(name.split("-")[1])).tojson()


def _legacy_json(name: str) -> str:
    """A classic ResNet in MXNet 0.x form (0.x op names, ``param`` keys, implicit BatchNorm aux inputs)."""
    sym = resnet.classic_resnet_symbol(int(name.split("-")[1]))
    graph = json.loads(sym.tojson())
    return json.dumps(legacy_graph(graph, implicit_aux(graph, set(sym.list_auxiliary_states()))))


FAMILIES = (
    Family("Classic MXNet model-zoo ResNet (v2, pre-activation)", "Classic ResNet",
           tuple(f"resnet-{d}" for d in resnet.CLASSIC_UNITS), _classic_json, "SoftmaxOutput head"),
    Family("Classic ResNet saved by MXNet 0.x", "MXNet 0.x", tuple(f"resnet-{d}-legacy" for d in resnet.CLASSIC_UNITS),
           _legacy_json, "`param` keys, `_Plus`, implicit aux inputs, magic-less params"),
    Family("Gluon model-zoo ResNet v1 / v2 exports", "Gluon ResNet", tuple(f"gluon-{m}" for m in resnet.GLUON_MODELS),
           lambda name: resnet.gluon_symbol(name.removeprefix("gluon-")).tojson(), "`HybridBlock.export`"),
    Family("InsightFace ArcFace LResNet-IR", "ArcFace", tuple(f"arcface-r{d}" for d in faces.ARCFACE_UNITS),
           _face_json, "PReLU, fix_gamma BatchNorm on the 512-d embedding"),
    Family("RetinaFace (ResNet-50 v2 backbone, FPN, SSH)", "RetinaFace", ("retinaface-r50",),
           _face_json, "UpSampling + Crop, SoftmaxActivation (channel), 9 outputs"),
    Family("MTCNN P-Net / R-Net / O-Net", "MTCNN", ("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet"),
           _face_json, "`full` pooling, SliceChannel + Concat, several outputs"),
    Family("Gluon model-zoo vision networks", "Gluon vision",
           tuple(m for m in vision.MODELS if m.startswith("vision-")), _vision_json,
           "AlexNet, DenseNet, Inception v3, MobileNet v1/v2, SqueezeNet, VGG"),
    Family("GluonCV classifiers", "GluonCV", tuple(m for m in vision.MODELS if m.startswith("gluoncv-")),
           _vision_json, "ResNet v1b/c/d, SE-ResNet, SENet, ResNeSt, MobileNetV3, Xception, ResidualAttentionNet"),
    Family("GluonCV detectors", "GluonCV detection", detection.MODELS,
           lambda name: detection.detector_checkpoint(name)[0].tojson(),
           "SSD, YOLOv3, CenterNet (also with DCNv2), Faster and Mask R-CNN: box_nms, box_decode, ROIAlign, integer "
           "index arithmetic, modulated deformable convolution"),
    Family("GluonCV video and pose networks", "GluonCV video", tuple(video.MODELS),
           lambda name: video.video_symbol(name).tojson(),
           "C3D and I3D ResNet-50 on NCDHW clips (3-D convolution and pooling), Monodepth2's pose net on a frame pair"),
    Family("Deformable-ConvNets R-FCN head (symbol API)", "R-FCN", (detection.RFCN,),
           lambda name: detection.rfcn_symbol().tojson(),
           "DeformableConvolution, DeformablePSROIPooling with offsets pooled by another, rois as a second input"),
    Family("GluonNLP models", "GluonNLP", tuple(name for name in nlp.MODELS if name != "bert-base"),
           nlp.nlp_symbol_json, "BERT (pooler, classifier, masked-position decoder), RoBERTa, DistilBERT, ERNIE "
           "(attention weights interleaved in the graph, folded), Transformer encoder and NMT, LSTM and AWD-LSTM "
           "language models (begin states as inputs), text CNN: dynamic batch and sequence"),
    Family("Gluon exports fused by `optimize_for(backend='MKLDNN')`", "MKLDNN-fused",
           tuple(f"fused-{name}" for name in fused.MODELS), _fused_json,
           "`_sg_mkldnn_conv` (BatchNorm, ReLU/ReLU6, residual sum), `_sg_mkldnn_fully_connected`, "
           "`_sg_mkldnn_selfatt_*` (BERT)"),
    Family("INT8 exports of MXNet's quantization flows", "INT8", (*fused.QUANTIZED, *fused.SYMBOL_FLOW),
           _fused_json, "`quantize_net` (`_contrib_quantize_v2`, quantized `_sg_mkldnn_*`, naive and entropy "
           "calibration) and `quantize_model` (`_contrib_quantized_*`, `_contrib_requantize`)"),
    Family("Models written in MXNet's NumPy interface (d2l.ai style)", "NumPy interface",
           (*numpy_style.NUMPY_MODELS, *numpy_text.MODELS), _numpy_json,
           "`npx.set_np()` Gluon blocks: LeNet, ResNet, GRU/LSTM encoder-decoder, Transformer encoder (masked "
           "softmax over valid lengths, 0 included): dynamic batch and sequence"),
    Family("Spatial-transformer networks", "Spatial transformer", tuple(spatial.MODELS),
           _spatial_json,
           "localisation net (BatchNorm, Dense) -> affine `SpatialTransformer` (near identity, sampling past the "
           "edges) -> convolutional classifier"),
)


def family_nodes(family: Family) -> list[Node]:
    """Every node of every model of ``family``, as the converters see it (float fused subgraphs inlined)."""
    return [node for model in family.models
            for node in inline_fused(parse_symbol(family.symbol_json(model), model)).nodes]


def _onnx_support(nodes: list[Node]) -> str:
    opsets = [opset for opset in range(MIN_OPSET, MAX_OPSET + 1) if not ONNX.unsupported(nodes, opset)]
    if not opsets:
        return f"{NO} ({', '.join(sorted(ONNX.unsupported(nodes, MAX_OPSET)))})"
    return f"{YES} (opsets {opsets[0]}–{opsets[-1]})" if len(opsets) == opsets[-1] - opsets[0] + 1 else \
        f"{YES} (opsets {', '.join(map(str, opsets))})"


def _torch_support(nodes: list[Node]) -> str:
    offenders = TORCH.unsupported(nodes)
    return f"{NO} ({', '.join(sorted(offenders))})" if offenders else YES


def markdown(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def families_table(nodes: dict[Family, list[Node]]) -> str:
    """One row per family of ``nodes`` (family -> its graphs' nodes): its models and support per target."""
    rows = [(family.name, ", ".join(f"`{model}`" for model in family.models), family.note,
             _onnx_support(family_nodes), _torch_support(family_nodes)) for family, family_nodes in nodes.items()]
    return markdown(("Family", "Zoo models", "Notable", "ONNX", "PyTorch"), rows)


def _cell(op: str, registry: ConverterRegistry) -> str:
    """Whether ``registry`` converts ``op``: loss heads through ``inference_graph`` (their forward)."""
    if op in LOSS_HEADS and op not in registry.entries:
        return YES
    if op in FUSED:
        return LIMITED
    entry = registry.entries.get(op)
    if entry is not None and entry.refuses:
        return f"{NO} ({registry.refusal(op)})"
    return NO if entry is None else LIMITED if entry.check else YES


def _spellings() -> dict[str, list[str]]:
    """Canonical op -> its other names (``ALIASES``), and every name MXNet's exporter knows or a target converts."""
    names: dict[str, list[str]] = {}
    for op in sorted(ONNX.entries.keys() | TORCH.entries.keys() | set(LOSS_HEADS) | set(FUSED)
                     | {ALIASES.get(op, op) for op in MXNET_EXPORTER_OPS} - {"null"}):
        names[op] = sorted(alias for alias, target in ALIASES.items() if target == op)
    return names


def ops_table(nodes: dict[Family, list[Node]]) -> str:
    """One row per op that MXNet's exporter or either target knows (other spellings beside it), with the families
    of ``nodes`` that use it."""
    rows = []
    for op, aliases in sorted(_spellings().items(), key=lambda item: (item[0].lstrip("_").lower(), item[0])):
        users = [family.short for family, family_nodes in nodes.items() if any(node.op == op for node in family_nodes)]
        exporter = YES if MXNET_EXPORTER_OPS & {op, *aliases} else NO
        names = f"`{op}`" + (f" ({', '.join(f'`{a}`' for a in aliases)})" if aliases else "")
        rows.append((names, _cell(op, ONNX), _cell(op, TORCH), exporter, "; ".join(users)))
    return markdown(("MXNet op (other names)", "ONNX", "PyTorch", "MXNet 1.9.1 exporter", "Used by"), rows)


def coverage() -> str:
    """The counts against MXNet 1.9.1's exporter, by the op names it registers."""
    known = sorted(MXNET_EXPORTER_OPS - {"null"})
    converted = {target: {op for op in known if not _cell(ALIASES.get(op, op), registry).startswith(NO)}
                 for target, registry in (("ONNX", ONNX), ("PyTorch", TORCH))}
    ours = {target: sum(not _cell(op, registry).startswith(NO) for op in _spellings())
            for target, registry in (("ONNX", ONNX), ("PyTorch", TORCH))}
    lines = [f"{target}: mxconvert {ours[target]} ops, MXNet 1.9.1 exporter {len(known)}, both {len(done)}"
             for target, done in converted.items()]
    missing = sorted(set(known) - converted["ONNX"] - converted["PyTorch"])
    lines.append(f"Exporter ops mxconvert converts to neither: {', '.join(f'`{op}`' for op in missing) or 'none'}.")
    return "\n\n".join(lines)


# --- MXNet 1.9.1's whole registry of forward ops: converted, rewritten or refused -----------------------------
MXNET_OPS_FILE = Path(__file__).with_name("mxnet_ops.txt")
CONVERTED, REWRITTEN, REFUSED = "converted", "rewritten", "refused"
PLUGIN_OPS = ("Custom", "_npi_Custom", "_NDArray", "_Native")  # Python code MXNet calls back
SPARSE_OPS = ("cast_storage", "_square_sum", "_contrib_SparseEmbedding", "_contrib_getnnz", "_contrib_dgl_adjacency",
              "_contrib_dgl_graph_compact", "_contrib_dgl_subgraph", "_contrib_edge_id")
OPTIMIZER_OPS = ("all_finite", "multi_all_finite", "multi_lars", "multi_sum_sq", "reset_arrays")
# what MXNet's NDArray calls and executor run, never an op of a saved graph
IMPERATIVE_OPS = ("_CachedOp", "_CachedOpThreadSafe", "_CrossDeviceCopy", "_CustomFunction", "_NoGradient", "_copyto",
                  "_npi_copyto", "_set_value", "_onehot_encode", "_grad_add", "_npi_share_memory", "_imdecode",
                  "_cvimdecode", "_cvimread", "_cvimresize", "_npi_cvimdecode", "_npi_cvimread", "_npi_cvimresize")


def mxnet_registry() -> list[str]:
    """The forward ops MXNet 1.9.1 registers, every spelling a name (``mxnet_ops.txt``)."""
    return [line.strip() for line in MXNET_OPS_FILE.read_text().splitlines() if line.strip()
            and not line.startswith("#")]


def _converts(registry: ConverterRegistry, op: str) -> bool:
    entry = registry.entries.get(op)
    return entry is not None and not entry.refuses


def registry_status(op: str) -> str:
    """``op``'s status: ``converted`` (by which targets where not both), ``rewritten: where`` or
    ``refused: reason``."""
    canonical = ALIASES.get(op, op)
    if canonical in LOSS_HEADS:
        return f"{REWRITTEN}: its inference forward (`inference_graph.inference_forward`)"
    if canonical in FUSED:
        return (f"{REWRITTEN}: float, as the ops of its subgraph (`semantics/fused.py`); INT8 converted or refused "
                "by name")
    targets = [target for target, registry in (("ONNX", ONNX), ("PyTorch", TORCH)) if _converts(registry, canonical)]
    if targets:
        return CONVERTED if len(targets) == 2 else f"{CONVERTED} ({targets[0]} only)"
    return f"{REFUSED}: {_refusal(op, canonical)}"


def _refusal(op: str, canonical: str) -> str:
    named = TORCH.refusal(canonical) or ONNX.refusal(canonical)
    if named:
        return named
    if op in PLUGIN_OPS:
        return "Python code MXNet calls back: converted by a plugin (`--plugin`, `mxconvert.plugins`)"
    if op.startswith("_sparse_") or op in SPARSE_OPS:
        return "sparse storage (both targets compute dense tensors)"
    if op.endswith("_update") or "_update_phase" in op or op in OPTIMIZER_OPS:
        return "optimizer step (training, no part of a forward pass)"
    if "quantize" in op or op.startswith("_contrib_calibrate"):
        return ("quantized outside the INT8 forms converted (`_contrib_quantize_v2` with the fused `_sg_mkldnn_*` "
                "or the non-fused `_contrib_quantized_*` ops of `quantize_model`)")
    if op in IMPERATIVE_OPS:
        return "imperative or internal (NDArray calls, executors), not an op of a saved graph"
    return "no converter"


def registry_statuses() -> dict[str, str]:
    """Every forward op of MXNet 1.9.1's registry -> :func:`registry_status`."""
    return {op: registry_status(op) for op in mxnet_registry()}


def registry_counts(statuses: dict[str, str]) -> str:
    """The counts in one line."""
    count = {kind: sum(status.startswith(kind) for status in statuses.values())
             for kind in (CONVERTED, REWRITTEN, REFUSED)}
    return (f"MXNet 1.9.1 registry: {len(statuses)} forward ops: {count[CONVERTED]} converted, "
            f"{count[REWRITTEN]} rewritten, {count[REFUSED]} refused")


def numpy_counts(statuses: dict[str, str]) -> str:
    """The NumPy interface's share (``_np_*``, ``_npi_*``, ``_npx_*``) in one line: converted of the deterministic."""
    numpy_ops = {op: status for op, status in statuses.items() if op.startswith(("_np_", "_npi_", "_npx_"))}
    draws = [op for op in numpy_ops if (TORCH.refusal(ALIASES.get(op, op)) or "") == RANDOM_REASON]
    converted = sum(status.startswith(CONVERTED) for status in numpy_ops.values())
    return (f"MXNet 1.9.1 NumPy-interface ops: {converted} converted of {len(numpy_ops) - len(draws)} deterministic "
            f"({len(draws)} random draws refused)")


def registry_table(statuses: dict[str, str]) -> str:
    """One row per status (the ops that have it), converted first, then rewritten, then refused."""
    groups: dict[str, list[str]] = {}
    for op, status in statuses.items():
        groups.setdefault(status, []).append(op)
    order = {CONVERTED: 0, REWRITTEN: 1, REFUSED: 2}
    rows = [(status, str(len(ops)), ", ".join(f"`{op}`" for op in ops))
            for status, ops in sorted(groups.items(), key=lambda item: (order[item[0].split(":")[0].split(" ")[0]],
                                                                        item[0]))]
    return markdown(("Status", "Ops", "MXNet 1.9.1 forward ops"), rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mxconvert.support_table", description=__doc__.split("\n")[0])
    parser.parse_args(argv)
    nodes = {family: family_nodes(family) for family in FAMILIES}
    print(families_table(nodes))
    print()
    print(coverage())
    print()
    print(ops_table(nodes))
    print()
    print(f"{LIMITED[-1]} Some attribute values are rejected before conversion, with the reason "
          "(e.g. a `layout` other than NC.., an even `LRN` nsize).")
    print()
    print(folding_line())
    print()
    print(fused_line())
    print()
    statuses = registry_statuses()
    print(registry_counts(statuses))
    print()
    print(numpy_counts(statuses))
    print()
    print(registry_table(statuses))
    return 0


def folding_line() -> str:
    """What the folding pass computes at conversion, for the README."""
    ops = ", ".join(f"`{op}`" for op in sorted(EVALUATORS))
    return ("Weights computed from stored weights alone are folded into stored weights before either target "
            f"converts (`mxconvert/folding.py`), through these ops: {ops}. "
            "A weight computed from the data is taken as a tensor by `Convolution` and `FullyConnected` and refused "
            "by name elsewhere.")


def fused_line() -> str:
    """What becomes of MXNet's fused subgraph ops, for the README."""
    ops = ", ".join(f"`{op}`" for op in FUSED)
    return (f"Fused subgraph ops ({ops}) in float are replaced by the ops of their subgraph before either target "
            "converts (`mxconvert/semantics/fused.py`); quantized ones (INT8) convert as MXNet's integer arithmetic "
            "(`mxconvert/semantics/quantization.py`).")


if __name__ == "__main__":
    sys.exit(main())
