"""MXNet's INT8 arithmetic, as ``quantize_net`` exports it for the CPU (oneDNN kernels, MXNet 1.9.1).

A quantized tensor holds integers ``q`` (uint8 or int8) that stand for ``q / scale``, where the scale of a range
[lo, hi] is ``255.5 / max(|lo|, |hi|)`` for uint8 and ``127.5 / max(|lo|, |hi|)`` for int8 (float32, as MXNet
computes it); a value is quantized as ``round(x * scale)`` (to nearest, ties to even) saturated to the type.
Every range in a calibrated export is a constant (the ``min_calib_range``/``max_calib_range`` attributes), so the
emitters learn each tensor's range and type here, at conversion (:func:`quantized_ranges`).

A fused convolution (``_sg_mkldnn_conv``) folds its BatchNorm into the float weights, quantizes them per output
channel, adds the bias quantized to int32, and requantizes the int32 sum: ``round(sat((float(acc) + float(bias))
* scale_c [+ sum_scale * sum]))`` with ReLU where it applies (:class:`AffinePlan`); with a residual sum it
writes into the summed tensor, saturating to that tensor's type, and MXNet reads the bytes as the output's type. oneDNN sums the u8 x s8 products
of two neighbouring input channels in 16 bits on CPUs without VNNI (AVX2, AVX-512 before Cascade Lake), saturating
them there: :data:`INT8_CPUS` names both arithmetics.

The older, non-fused flow (``quantize_model`` on a plain symbol) keeps each step its own node: a
``_contrib_quantized_fully_connected`` (or ``_contrib_quantized_conv``) sums int8 weights stored offline with their
range into int32 with its bias (:func:`sum_plan`) and gives the sum's nominal range (:func:`sum_range`);
uncalibrated ``_contrib_quantized_elemwise_add``/``_mul`` give int32 too; a ``_contrib_requantize`` maps an int32
tensor onto its calibrated int8 or uint8 range (:func:`requantize_scale`). ``quantize_net`` calibrates the adds and
products of layers it does not fuse (:func:`calibrated_add_factors`, :func:`product_scale`).

The older ``_contrib_quantize`` takes its range as two tensors (parameters, or the data's own ``min`` and ``max``
computed at run time) and quantizes over 255 or 127 levels, not 255.5 or 127.5; a tensor it quantizes over a
constant range has a :class:`QRange` like the others, one over a run-time range only a ``_contrib_dequantize``
reads (:func:`runtime_range_dtype`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import NotExpressible
from ..ir import Graph, Node, TensorRef
from .fused import CALIBRATED
from .rules import RULES, Shape, shape_rule
from .schema import OPS, OpDef, choice, define, parse_bool

f32 = np.float32
INT32_MAX = 2147483647
# which MXNet CPU's INT8 results the PyTorch code and ONNX's exact form reproduce: exact int32 sums (VNNI, AMX; also
# what ONNX Runtime's and TensorRT's integer kernels compute) or oneDNN's 16-bit saturated sums of u8 x s8 product
# pairs (CPUs without VNNI)
INT8_CPUS = ("vnni", "avx2")


def host_int8_cpu(cpuinfo: str = "/proc/cpuinfo") -> str:
    """Which of :data:`INT8_CPUS` MXNet's oneDNN computes on this machine: vnni where the CPU has AVX-512 VNNI or
    AMX, else avx2 (an unreadable ``cpuinfo`` counts as avx2)."""
    try:
        with open(cpuinfo) as handle:
            flags = set(handle.read().split())
    except OSError:
        return "avx2"
    return "vnni" if flags & {"avx512_vnni", "amx_int8"} else "avx2"


SUM_OPS = ("_contrib_quantized_fully_connected", "_contrib_quantized_conv")  # int32 out, requantized after
# int32 out uncalibrated; calibrated: int8 or uint8 out (a product int8, or float32 with enable_float_output)
ELEMWISE_OPS = ("_contrib_quantized_elemwise_add", "_contrib_quantized_elemwise_mul")
_PASS_RANGE = ("_contrib_quantized_pooling", "_contrib_quantized_flatten", "_contrib_quantized_act")
_BOUNDS = {"uint8": (0.0, 255.0), "int8": (-128.0, 127.0)}


# --- schemas: a quantized op gives its integers, then their range's min and max ---------------------------
def _three(attrs: dict[str, Any]) -> int:
    return 3


define({
    "_contrib_quantize_v2": OpDef({"out_type": (choice("auto", "int8", "uint8"), "int8"),
                                   "min_calib_range": CALIBRATED, "max_calib_range": CALIBRATED}, outputs=_three),
    "_contrib_dequantize": OpDef({"out_type": (choice("float32"), "float32")}),
    # the data, then the tensors holding its range's min and max
    "_contrib_quantize": OpDef({"out_type": (choice("int8", "uint8"), "uint8")}, outputs=_three),
    "_contrib_quantized_pooling": replace(OPS["Pooling"], outputs=_three),
    "_contrib_quantized_flatten": OpDef(outputs=_three),
    "_contrib_quantized_act": replace(OPS["Activation"], outputs=_three),
    # the data, then each input's min and max
    "_contrib_quantized_concat": replace(OPS["Concat"], outputs=_three),
    "_contrib_requantize": OpDef({"out_type": (choice("auto", "int8", "uint8"), "int8"),
                                  "min_calib_range": CALIBRATED, "max_calib_range": CALIBRATED}, outputs=_three),
    # the data, weight and bias, then each one's min and max (the weight's and bias's stored beside them)
    "_contrib_quantized_fully_connected": replace(OPS["FullyConnected"], outputs=_three, param_inputs=(1,),
                                                  input_names=None),
    "_contrib_quantized_conv": replace(OPS["Convolution"], outputs=_three, param_inputs=(1,), input_names=None),
    # the indices, the int8 weight, its min and max
    "_contrib_quantized_embedding": replace(OPS["Embedding"], outputs=_three, param_inputs=(1,), input_names=None),
    # the two operands, then each one's min and max
    "_contrib_quantized_elemwise_add": OpDef({"min_calib_range": CALIBRATED, "max_calib_range": CALIBRATED},
                                             outputs=_three),
    "_contrib_quantized_elemwise_mul": OpDef({"min_calib_range": CALIBRATED, "max_calib_range": CALIBRATED,
                                              "enable_float_output": (parse_bool, False)},
                                             outputs=lambda a: 1 if a["enable_float_output"] else 3),
    "_contrib_quantized_batch_norm": replace(
        OPS["BatchNorm"], outputs=_three,
        input_names=lambda a: ("data", "gamma", "beta", "moving_mean", "moving_var", "min_data", "max_data")),
})


# --- shape rules: the float op's, then two scalars ----------------------------------------------------------
@shape_rule("_contrib_quantize", "_contrib_quantize_v2", "_contrib_quantized_act", "_contrib_quantized_batch_norm",
            "_contrib_requantize", "_contrib_quantized_elemwise_add", "_contrib_quantized_elemwise_mul")
def _quantized_same(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [shapes[0], (1,), (1,)][:node.num_outputs]


@shape_rule("_contrib_dequantize")
def _dequantize(node: Node, shapes: list[Shape]) -> list[Shape]:
    return shapes[:1]


@shape_rule("_contrib_quantized_pooling", "_contrib_quantized_flatten")
def _quantized_float_twin(node: Node, shapes: list[Shape]) -> list[Shape]:
    twin = "Pooling" if node.op == "_contrib_quantized_pooling" else "Flatten"
    return [*RULES[twin](node, shapes[:1]), (1,), (1,)]


_FLOAT_TWINS = {"_contrib_quantized_fully_connected": "FullyConnected", "_contrib_quantized_conv": "Convolution",
                "_contrib_quantized_embedding": "Embedding"}


@shape_rule(*_FLOAT_TWINS)
def _quantized_weighted(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The float op's shapes, then two scalars (its inputs: a third data, weight and bias, the rest ranges; an
    embedding's first two)."""
    count = 2 if node.op == "_contrib_quantized_embedding" else len(shapes) // 3
    return [*RULES[_FLOAT_TWINS[node.op]](node, shapes[:count]), (1,), (1,)]


@shape_rule("_contrib_quantized_concat")
def _quantized_concat(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [*RULES["Concat"](node, shapes[:len(shapes) // 3]), (1,), (1,)]


# --- the arithmetic ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QRange:
    """A quantized tensor's type and calibrated range."""

    dtype: str  # "uint8", "int8" or "int32" (a sum of products, with its nominal range)
    lo: float
    hi: float
    unit: np.float32 | None = None  # int32: the real value of one integer (1 / (data scale x weight scale))

    @property
    def scale(self) -> np.float32:
        return quantize_scale(self.dtype, self.lo, self.hi)

    @property
    def bounds(self) -> tuple[float, float]:
        return _BOUNDS[self.dtype]

    @property
    def step(self) -> np.float32:
        """The real value of one integer step, as MXNet's dequantize multiplies: range / 255.5 (or 127.5)."""
        return f32(_max_abs(self.lo, self.hi) / (f32(255.5) if self.dtype == "uint8" else f32(127.5)))


def _max_abs(lo: float, hi: float) -> np.float32:
    return max(abs(f32(lo)), abs(f32(hi)))


def quantize_scale(dtype: str, lo: float, hi: float) -> np.float32:
    """MXNet's ``GetQuantizeScale``: quantized range over real range (INT32_MAX for an empty range)."""
    real = _max_abs(lo, hi)
    quantized = f32(127.5) if dtype == "int8" else f32(255.5)
    return f32(quantized / real) if real else f32(INT32_MAX)


def quantize(x: np.ndarray, scale: float, dtype: str) -> np.ndarray:
    """``round(x * scale)`` saturated to ``dtype``'s integers (float32 arithmetic, ties to even)."""
    lo, hi = _BOUNDS[dtype]
    return np.clip(np.rint(x.astype(f32) * f32(scale)), lo, hi).astype(f32)


def output_dtype(node: Node) -> str:
    """uint8 where what the op computes last cannot be negative (MXNet's ``IsOutputUInt8``), else int8."""
    a = node.attrs
    if node.op in ("_contrib_quantize_v2", "_contrib_requantize"):
        if a["out_type"] == "auto":
            return "uint8" if a["min_calib_range"] >= 0 else "int8"
        return a["out_type"]
    last_act = _activation(node, after_sum=True) if a.get("with_postsum_act") else \
        _activation(node) if a.get("with_act") or a.get("with_eltwise") and not a.get("with_sum") else None
    return "uint8" if last_act in ("relu", "relu6", "sigmoid", "softrelu") else "int8"


def _activation(node: Node, after_sum: bool = False) -> str | None:
    """The activation a fused node applies (before or after its residual sum): relu, relu6, sigmoid, tanh..."""
    body = node.subgraphs[0].nodes if node.subgraphs else []
    adds = [i for i, inner in enumerate(body) if inner.op in ("elemwise_add", "_Plus", "broadcast_add")]
    pick = body[adds[0] + 1:] if after_sum and adds else body[:adds[0]] if adds else body
    for inner in pick:
        if inner.op == "Activation":
            return inner.attrs["act_type"]
        if inner.op == "clip" and inner.attrs["a_min"] == 0:
            return "relu6" if inner.attrs["a_max"] == 6 else "clip"
        if inner.op == "LeakyReLU":
            return inner.attrs["act_type"]
    return None


def refusal(node: Node) -> str | None:
    """Why a quantized node cannot be converted (the reason the unsupported-ops report shows), or None."""
    a = node.attrs
    if node.op in ("_contrib_quantize_v2", "_sg_mkldnn_conv", "_sg_mkldnn_fully_connected",
                   "_contrib_quantized_batch_norm", "_contrib_requantize") and (
            a["min_calib_range"] is None or a["max_calib_range"] is None) and not a.get("enable_float_output"):
        return "not calibrated (ranges computed at run time)"
    if node.op == "_sg_mkldnn_conv":
        before = _activation(node) if a["with_act"] else None
        after = _activation(node, True) if a["with_postsum_act"] else None
        if before not in (None, "relu", "relu6") or after not in (None, "relu") or a["with_sum"] and before == "relu6":
            return f"fused activation {before or ''}{'+' if before and after else ''}{after or ''}"
    if node.op == "_sg_mkldnn_fully_connected" and a["with_eltwise"] and _activation(node) != "relu":
        return f"fused activation {_activation(node)}"
    if node.op == "_contrib_quantized_conv" and len(a["kernel"]) != 2:
        return "not a 2-D kernel"
    if node.op == "_contrib_quantized_conv" and a["num_group"] != 1:
        return "num_group > 1 (MXNet's kernel takes one group only)"
    if node.op == "_contrib_quantized_act" and a["act_type"] != "relu":
        return f"act_type={a['act_type']}"
    return None


RUNTIME_RANGE = "quantized over a range computed at run time (only a dequantize reads it)"


class QRanges(dict):
    """The quantized tensors' ranges by tensor; a tensor without a constant range raises
    :class:`NotExpressible`."""

    def __missing__(self, ref: TensorRef) -> QRange:
        raise NotExpressible(RUNTIME_RANGE)


def quantized_ranges(graph: Graph) -> QRanges:
    """The type and range of every quantized tensor (output 0 of a quantized op), from the calibrated constants
    (and the parameters holding an older quantize's range)."""
    ranges = QRanges()
    for node in graph.nodes:
        a = node.attrs
        if node.op == "_contrib_quantize" and all(_is_stored(graph, ref) for ref in node.inputs[1:3]):
            lo, hi = (float(graph.weight(ref.node).reshape(-1)[0]) for ref in node.inputs[1:3])
            real = float(_max_abs(lo, hi))
            ranges[node.output()] = QRange("uint8", lo, hi) if a["out_type"] == "uint8" else \
                QRange("int8", -real, real)
        elif node.op == "_contrib_quantize_v2" and a["min_calib_range"] is not None:
            dtype = output_dtype(node)
            lo, hi = a["min_calib_range"], a["max_calib_range"]
            if dtype == "int8":
                lo, hi = -float(_max_abs(lo, hi)), float(_max_abs(lo, hi))
            ranges[node.output()] = QRange(dtype, lo, hi)
        elif node.op in ("_sg_mkldnn_conv", "_sg_mkldnn_fully_connected") and a["quantized"] \
                and not a.get("enable_float_output") and a["min_calib_range"] is not None:
            ranges[node.output()] = QRange(output_dtype(node), a["min_calib_range"], a["max_calib_range"])
        elif node.op == "_contrib_requantize" and a["min_calib_range"] is not None:
            dtype, real = output_dtype(node), float(_max_abs(a["min_calib_range"], a["max_calib_range"]))
            ranges[node.output()] = QRange(dtype, 0.0 if dtype == "uint8" else -real, real)
        elif node.op in ELEMWISE_OPS and not a.get("enable_float_output") and \
                all(ref in ranges for ref in node.inputs[:2]):
            left, right = ranges[node.inputs[0]], ranges[node.inputs[1]]
            if a["min_calib_range"] is None:
                ranges[node.output()] = elemwise_range(node, left, right)
            else:
                same = node.op == "_contrib_quantized_elemwise_add" and left.dtype == right.dtype
                ranges[node.output()] = QRange(left.dtype if same else "int8", a["min_calib_range"],
                                               a["max_calib_range"])
        elif node.op in SUM_OPS and node.inputs[0] in ranges:
            ranges[node.output()] = sum_range(graph, node, ranges[node.inputs[0]])
        elif node.op == "_contrib_quantized_embedding":
            lo, hi = (float(graph.weight(ref.node).reshape(-1)[0]) for ref in node.inputs[2:4])
            ranges[node.output()] = QRange("int8", lo, hi)
        elif node.op in _PASS_RANGE and node.inputs[0] in ranges:
            ranges[node.output()] = ranges[node.inputs[0]]
        elif node.op == "_contrib_quantized_concat" and all(ref in ranges for ref in concat_data(node)):
            parts = [ranges[ref] for ref in concat_data(node)]
            dtype = "int8" if any(part.dtype == "int8" for part in parts) else "uint8"
            ranges[node.output()] = QRange(dtype, min(0.0, *(part.lo for part in parts)),
                                           max(0.0, *(part.hi for part in parts)))
        elif node.op == "_contrib_quantized_batch_norm" and a["min_calib_range"] is not None:
            ranges[node.output()] = QRange("int8", a["min_calib_range"], a["max_calib_range"])
    return ranges


def concat_data(node: Node) -> list[TensorRef]:
    """The quantized tensors a ``_contrib_quantized_concat`` joins (its first third of inputs)."""
    return node.inputs[:len(node.inputs) // 3]


def concat_rescales(node: Node, ranges: dict[TensorRef, QRange]) -> list[np.float32 | None]:
    """Each joined tensor's factor onto the concatenation's scale (out scale / its scale; None where they are
    equal and oneDNN copies the integers): rounded to nearest and saturated to the output's type."""
    out = ranges[node.output()].scale
    return [None if ranges[ref].scale == out else f32(out / ranges[ref].scale) for ref in concat_data(node)]


@dataclass(frozen=True)
class BatchNormPlan:
    """``_contrib_quantized_batch_norm`` on oneDNN: uint8 data first requantized to int8 (``u8_to_s8``: times
    127.5 / 255.5, rounded), then ``round(scale_c * q + shift_c)`` (one rounding, a fused multiply-add) saturated
    to int8."""

    u8_to_s8: np.float32 | None
    scale: np.ndarray
    shift: np.ndarray


def batch_norm_plan(graph: Graph, node: Node, data: QRange) -> BatchNormPlan:
    """MXNet folds the moving statistics into per-channel float32 factors onto the output's int8 range, then runs
    oneDNN's BatchNorm with mean 0 and variance 1 (its ``1 / sqrt(1 + eps)`` stays in the scale)."""
    gamma, beta, mean, var = (graph.weight(ref.node).astype(f32) for ref in node.inputs[1:5])
    eps = node.attrs["eps"]
    out_max_abs = _max_abs(node.attrs["min_calib_range"], node.attrs["max_calib_range"])
    invstd = (1.0 / np.sqrt(var.astype(np.float64) + eps)).astype(f32)
    scale = (gamma * invstd * _max_abs(data.lo, data.hi) / out_max_abs).astype(f32)
    shift = ((beta - mean * gamma * invstd) * f32(127.5) / out_max_abs).astype(f32)
    scale = (scale / np.sqrt(f32(1.0) + f32(eps))).astype(f32)
    u8_to_s8 = f32(f32(127.5) / f32(255.5)) if data.dtype == "uint8" else None
    return BatchNormPlan(u8_to_s8, scale, shift)


@dataclass
class AffinePlan:
    """A quantized convolution or fully connected layer as integers and float32 scales: the int8 weights and
    int32 bias (as float32 arrays of integers), the per-channel requantization scale, the residual sum's scale and
    range, the ReLU before the sum, and the output type (None: float32 output)."""

    weight: np.ndarray
    bias: np.ndarray | None
    scales: np.ndarray
    out: QRange | None
    weight_scales: np.ndarray  # per output channel: 127.5 / max |w| (what one int8 weight step stands for)
    relu: bool = False  # applied to the scaled sum of products (before a residual sum)
    post_relu: bool = False  # applied after the residual sum
    post_scale: np.float32 = f32(1.0)  # multiplies after the ReLU (a fully connected layer's fused activation)
    sum_scale: np.float32 | None = None
    sum_range: QRange | None = None
    # oneDNN on CPUs without VNNI: a convolution shifts int8 data to uint8 and halves the weights (their scales
    # doubled, the bias halved where it is added) so that no 16-bit pair sum saturates, uint8 data keeps them and
    # the pair sums saturate; a fully connected layer (a GEMM) shifts int8 data by 128 and saturates the pairs
    weight_adjust: float = 1.0
    saturating_pairs: bool = False
    data_shift: float = 0.0  # a fully connected layer's int8 data, shifted to uint8 before its saturating pairs

    @property
    def written(self) -> str | None:
        """The type the integers are saturated to: a residual sum's, where oneDNN writes into the summed tensor
        (MXNet then reads those bytes as the output's type), else the output's."""
        return self.sum_range.dtype if self.sum_range else self.out.dtype if self.out else None

    @property
    def bounds(self) -> tuple[float, float] | None:
        return _BOUNDS[self.written] if self.written else None

    @property
    def wrap(self) -> float:
        """What reading the written bytes as the output's type adds to the values that change: 256 to negative
        int8 read as uint8, -256 to uint8 above 127 read as int8, else 0."""
        if not self.out or self.written == self.out.dtype:
            return 0.0
        return 256.0 if self.out.dtype == "uint8" else -256.0


def conv_plan(graph: Graph, node: Node, data: QRange, summed: QRange | None, cpu: str = "vnni") -> AffinePlan:
    """``_sg_mkldnn_conv`` (quantized): BatchNorm folded into the float weights, channel-wise int8 weights (a
    channel's scale lowered where its int32 bias would pass INT32_MAX / 2), int32 bias, requantization scales;
    ``cpu``: whose arithmetic (:data:`INT8_CPUS`)."""
    a = node.attrs
    conv = next(inner for inner in node.subgraphs[0].nodes if inner.op == "Convolution")
    weight = graph.weight(node.inputs[1].node).astype(f32)
    bias = None if conv.attrs["no_bias"] else graph.weight(node.inputs[2].node).astype(f32)
    if a["with_bn"]:
        bn = next(inner for inner in node.subgraphs[0].nodes if inner.op == "BatchNorm")
        first = 2 + (bias is not None)
        gamma, beta, mean, var = (graph.weight(ref.node).astype(f32) for ref in node.inputs[first:first + 4])
        weight, bias = fold_batch_norm(weight, bias, gamma, beta, mean, var, bn.attrs["eps"], bn.attrs["fix_gamma"])
    data_scale = data.scale
    weight_scales = channel_weight_scales(weight, bias, data_scale)
    out = QRange(output_dtype(node), a["min_calib_range"], a["max_calib_range"])
    out_scale = out.scale
    shape = (-1,) + (1,) * (weight.ndim - 1)
    adjust = f32(0.5) if cpu == "avx2" and data.dtype == "int8" else f32(1.0)
    weight_q = np.clip(np.rint((weight * weight_scales.reshape(shape)).astype(f32) * adjust), -128, 127).astype(f32)
    bias_q = None if bias is None else _round_int32(bias * (weight_scales * data_scale).astype(f32))
    scales = (out_scale / data_scale / weight_scales / adjust).astype(f32)
    relu = bool(a["with_act"])  # ReLU6 without a sum: the output range cuts it off, as MXNet leaves it
    post_relu = bool(a["with_sum"] and a["with_postsum_act"])
    sum_scale = f32(out_scale / summed.scale) if summed is not None else None
    return AffinePlan(weight_q, bias_q, scales, out, weight_scales, relu, post_relu, sum_scale=sum_scale, sum_range=summed,
                      weight_adjust=float(adjust), saturating_pairs=cpu == "avx2" and data.dtype == "uint8")


def fold_batch_norm(weight: np.ndarray, bias: np.ndarray | None, gamma: np.ndarray, beta: np.ndarray,
                    mean: np.ndarray, var: np.ndarray, eps: float, fix_gamma: bool) -> tuple[np.ndarray, np.ndarray]:
    """oneDNN's BatchNorm folding in float32: alpha = gamma / sqrt(var + eps) (computed in double)."""
    gamma = np.ones_like(gamma) if fix_gamma else gamma
    alpha = (gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)).astype(f32)
    folded = (weight * alpha.reshape((-1,) + (1,) * (weight.ndim - 1))).astype(f32)
    new_bias = beta + alpha * (bias - mean) if bias is not None else beta - alpha * mean
    return folded, new_bias.astype(f32)


def channel_weight_scales(weight: np.ndarray, bias: np.ndarray | None, data_scale: np.float32) -> np.ndarray:
    """MXNet's ``GetWeightScales`` (channel-wise): 127.5 / max |w_c|, lowered so the int32 bias stays within
    INT32_MAX / 2."""
    flat = weight.reshape(len(weight), -1)
    real = np.maximum(np.abs(flat.min(axis=1)), np.abs(flat.max(axis=1))).astype(f32)
    with np.errstate(divide="ignore"):
        scales = np.where(real != 0, f32(127.5) / real, f32(INT32_MAX)).astype(f32)
        if bias is not None:
            limit = np.where(bias > 0, f32(INT32_MAX), f32(-2147483648.0)).astype(f32)
            bound = (limit / f32(2) / bias / data_scale).astype(f32)
            scales = np.where(bias != 0, np.minimum(scales, bound), scales).astype(f32)
    return scales


def fc_plan(graph: Graph, node: Node, data: QRange, cpu: str = "vnni") -> AffinePlan:
    """``_sg_mkldnn_fully_connected`` (quantized) with its weight quantized offline (int8 with its range, the
    bias int8 with its own), tensor-wise scales, requantized or float output; ``cpu``: whose arithmetic."""
    a = node.attrs
    fc = next(inner for inner in node.subgraphs[0].nodes if inner.op == "FullyConnected")
    has_bias = not fc.attrs["no_bias"]
    # the inputs: data, weight, [bias], the data's min and max, the weight's, [the bias's]
    ranges = [float(graph.weight(ref.node).reshape(-1)[0]) for ref in node.inputs[4 + has_bias:]]
    weight = graph.weight(node.inputs[1].node).astype(f32)
    data_scale = data.scale
    weight_scale = quantize_scale("int8", ranges[0], ranges[1])
    bias_q = None
    if has_bias:
        bias_lo, bias_hi = ranges[2], ranges[3]
        bias_scale = quantize_scale("int8", bias_lo, bias_hi)
        rescale = f32(data_scale * weight_scale / bias_scale)
        with np.errstate(divide="ignore"):
            limit = f32(f32(INT32_MAX // 2) / _max_abs(bias_lo, bias_hi) / bias_scale)
        if rescale > limit:
            rescale = limit
            weight_rescale = f32(rescale * bias_scale / data_scale / weight_scale)
            weight = _round_half_away(weight * weight_rescale)
            weight_scale = f32(weight_scale * weight_rescale)
        bias_q = _round_half_away(graph.weight(node.inputs[2].node).astype(f32) * rescale)
    out, post_scale = None, f32(1.0)
    tmp = f32(1.0 / np.float64(data_scale))
    if not a["enable_float_output"]:
        out = QRange(output_dtype(node), a["min_calib_range"], a["max_calib_range"])
        if a["with_eltwise"]:
            post_scale = out.scale  # the activation's scale: applied after it
        else:
            tmp = f32(out.scale / data_scale)
    scales = np.full(len(weight), f32(tmp / weight_scale), dtype=f32)
    return AffinePlan(weight, bias_q, scales, out, np.full(len(weight), weight_scale, dtype=f32),
                      bool(a["with_eltwise"]), post_scale=post_scale,
                      saturating_pairs=cpu == "avx2", data_shift=128.0 if cpu == "avx2" and data.dtype == "int8" else 0.0)


def _round_int32(x: np.ndarray) -> np.ndarray:
    """float32 -> int32 as oneDNN's reorder converts: to nearest, ties to even, saturated (int64 values)."""
    return np.clip(np.rint(x.astype(np.float64)), -2147483648.0, INT32_MAX).astype(np.int64)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """``std::round``: to nearest, ties away from zero."""
    return (np.sign(x) * np.floor(np.abs(x.astype(np.float64)) + 0.5)).astype(np.int64)


def _stored_ranges(graph: Graph, node: Node) -> list[float]:
    """A non-fused quantized sum's stored ranges: the weight's min and max, then the bias's."""
    return [float(graph.weight(ref.node).reshape(-1)[0]) for ref in node.inputs[len(node.inputs) // 3 + 2:]]


def sum_range(graph: Graph, node: Node, data: QRange) -> QRange:
    """The int32 range MXNet gives a non-fused quantized sum: one data level times one weight level times 2^31,
    a level being range / 127 (a fully connected layer on uint8 data: data range / 127, weight range / 255)."""
    w_lo, w_hi = _stored_ranges(graph, node)[:2]
    uint8_fc = node.op == "_contrib_quantized_fully_connected" and data.dtype == "uint8"
    weight_levels = f32(255 if uint8_fc else 127)
    level = f32(f32(_max_abs(data.lo, data.hi) / f32(127)) * f32(_max_abs(w_lo, w_hi) / weight_levels))
    hi = float(f32(level * f32(INT32_MAX)))
    return QRange("int32", -hi, hi, f32(1.0 / np.float64(f32(data.scale * quantize_scale("int8", w_lo, w_hi)))))


def requantize_scale(node: Node, data: QRange) -> np.float32:
    """``_contrib_requantize``'s factor from the int32 integers to the output's: (int32 range / 2^31) x (127 or
    255 / calibrated range), in float32."""
    a = node.attrs
    levels = f32(255) if output_dtype(node) == "uint8" else f32(127)
    real = _max_abs(a["min_calib_range"], a["max_calib_range"])
    return f32(f32(f32(data.hi) / f32(INT32_MAX)) * f32(levels / real))


def sum_plan(graph: Graph, node: Node, data: QRange, cpu: str = "vnni") -> AffinePlan:
    """A non-fused ``_contrib_quantized_fully_connected`` or ``_contrib_quantized_conv``: the stored int8 weight
    (tensor-wise scale), the int8 bias (a fully connected layer's times data scale x weight scale x bias range /
    127.5 in float32, truncated to int32; a convolution's unscaled), and the float32 sum as oneDNN converts it for
    its int32 output; ``cpu``: whose arithmetic. Raises :class:`NotExpressible` for a convolution on int8 data,
    which MXNet's CPU kernel refuses."""
    if node.op == "_contrib_quantized_conv" and data.dtype == "int8":
        raise NotExpressible("int8 data (MXNet's CPU kernel reads uint8 only)")
    ranges = _stored_ranges(graph, node)
    weight = graph.weight(node.inputs[1].node).astype(f32)
    weight_scale = quantize_scale("int8", ranges[0], ranges[1])
    fc, bias_q = node.op == "_contrib_quantized_fully_connected", None
    if len(ranges) == 4:
        bias = graph.weight(node.inputs[2].node).astype(f32)
        rescale = f32(f32(f32(data.scale * weight_scale) * _max_abs(ranges[2], ranges[3])) / f32(127.5))
        # MXNet's CPU convolution hands oneDNN the stored int8 bias as it is, not brought onto the sum's scale
        bias_q = np.trunc(bias * rescale if fc else bias).astype(np.int64)
    # oneDNN's convolution on CPUs without VNNI saturates pairs where the input channels come in fours (its other
    # kernels sum exactly)
    return AffinePlan(weight, bias_q, np.ones(len(weight), f32), None, np.full(len(weight), weight_scale, f32),
                      saturating_pairs=cpu == "avx2" and (fc or weight.shape[1] % 4 == 0),
                      data_shift=128.0 if fc and cpu == "avx2" and data.dtype == "int8" else 0.0)


def check_operands(node: Node, ranges: dict[TensorRef, QRange]) -> None:
    """Raise :class:`NotExpressible` where MXNet's CPU kernel does not compute a quantized elementwise op on these
    operands' types: an uncalibrated add of uint8 and int8 saturates the uint8 operand's int32-scaled values to
    int8, a product reads int8 only."""
    kinds = {ranges[ref].dtype for ref in node.inputs[:2]}
    uncalibrated = node.attrs["min_calib_range"] is None
    if node.op == "_contrib_quantized_elemwise_add" and len(kinds) > 1 and uncalibrated:
        raise NotExpressible("uint8 and int8 operands")
    if node.op == "_contrib_quantized_elemwise_mul" and kinds != {"int8"}:
        raise NotExpressible("uint8 operands (int8 only)")


def elemwise_range(node: Node, left: QRange, right: QRange) -> QRange:
    """The int32 range of an uncalibrated quantized add (the operands' ranges summed) or product (one level of
    each, range / 127, times 2^31)."""
    a, b = _max_abs(left.lo, left.hi), _max_abs(right.lo, right.hi)
    if node.op == "_contrib_quantized_elemwise_add":
        hi = f32(a + b)
        unit = f32(np.float64(hi) / INT32_MAX)
    else:
        hi = f32(f32(f32(a / f32(127)) * f32(b / f32(127))) * f32(INT32_MAX))
        unit = f32(1.0 / (np.float64(left.scale) * np.float64(right.scale)))
    return QRange("int32", -float(hi), float(hi), unit)


def add_scales(left: QRange, right: QRange) -> tuple[np.float32, np.float32]:
    """An uncalibrated quantized add's factors onto its int32 range: range_i x 2^31 / ((range_a + range_b) x
    the first operand's levels), in float32 (oneDNN's sum then rounds to nearest, ties to even)."""
    a, b = _max_abs(left.lo, left.hi), _max_abs(right.lo, right.hi)
    levels = f32(127.5) if left.dtype == "int8" else f32(255.5)
    total = f32(f32(a + b) * levels)
    return f32(f32(a * f32(INT32_MAX)) / total), f32(f32(b * f32(INT32_MAX)) / total)


def _is_stored(graph: Graph, ref: TensorRef) -> bool:
    return ref.node in graph.params or ref.node in graph.aux


def range_levels(dtype: str) -> float:
    """The levels the older ``_contrib_quantize`` maps max(|min|, |max|) of its range tensors onto: 255 (uint8) or
    127 (int8)."""
    return 255.0 if dtype == "uint8" else 127.0


def calibrated_add_factors(out: QRange, left: QRange, right: QRange) -> tuple[list[np.float32], int | None]:
    """A calibrated quantized add's factor per operand onto the output's scale (out scale / its scale, float32),
    and, where one operand is uint8 and the other int8, the uint8 one's slot: oneDNN first brings it onto the
    output's scale rounded (ties to even) and saturated to int8, then adds it as it is."""
    factors = [f32(out.scale / left.scale), f32(out.scale / right.scale)]
    mixed = left.dtype != right.dtype
    return factors, (0 if left.dtype == "uint8" else 1) if mixed else None


def product_scale(node: Node, left: QRange, right: QRange) -> np.float32:
    """A calibrated quantized product's factor from the integers' product to the output's int8 (out scale / left
    scale / right scale, in float32), or with ``enable_float_output`` to real values (1 / left / right, in
    double); MXNet truncates the scaled product toward zero and keeps its low byte."""
    if node.attrs["enable_float_output"]:
        return f32(1.0 / np.float64(left.scale) / np.float64(right.scale))
    out = QRange("int8", node.attrs["min_calib_range"], node.attrs["max_calib_range"])
    return f32(f32(out.scale / left.scale) / right.scale)


def runtime_range_dtype(graph: Graph, ref: TensorRef) -> str:
    """The type of a quantized tensor whose range is computed at run time: a ``_contrib_quantize``'s output (raises
    :class:`NotExpressible` for any other tensor without a constant range)."""
    producer = graph.node(ref.node)
    if producer.op != "_contrib_quantize":
        raise NotExpressible(RUNTIME_RANGE)
    return producer.attrs["out_type"]
