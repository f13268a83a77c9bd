"""MXNet's INT8 ops in QDQ form (``QuantizeLinear``/``DequantizeLinear`` around float ops), which ONNX Runtime,
OpenVINO and TensorRT run as integer kernels: a quantized tensor is the uint8 or int8 tensor MXNet holds, with the
step of its calibrated range (1 / MXNet's scale, ``semantics.quantization``); weights are stored as MXNet
quantizes them (int8, per output channel for a convolution) and the bias as int32.

The default exact form (``EmitContext.int8_exact``) computes each layer on its integers as floats (an int32 sum
holds its integers too), in the arithmetic of the CPU ``EmitContext.int8_cpu`` names: exact int32 sums (vnni) or
oneDNN's 16-bit saturated sums of product pairs (avx2, :func:`_pair_corrections`, :func:`_pair_linear_sums`)."""
from __future__ import annotations

import dataclasses

import numpy as np
from onnx import TensorProto

from ..ir import Node
from ..semantics.convolution import window_geometry
from ..semantics.normalization import batch_norm_axis
from ..semantics.quantization import (AffinePlan, QRange, add_scales, batch_norm_plan, calibrated_add_factors,
                                     check_operands, concat_data, concat_rescales, conv_plan, fc_plan, product_scale,
                                     range_levels, refusal, requantize_scale, runtime_range_dtype, sum_plan)
from .context import EmitContext
from .convolution import pooling
from .linear import embedding
from .registry import register

_TYPES = {"uint8": np.uint8, "int8": np.int8}
_ONNX_TYPES = {"uint8": TensorProto.UINT8, "int8": TensorProto.INT8}


def _check(node: Node, opset: int) -> str | None:
    return refusal(node) or (f"opset {opset} (per-channel QDQ needs 13)" if opset < 13 else None)


def _cpu(ctx: EmitContext) -> str:
    """Whose arithmetic the layers' plans follow: ``int8_cpu``'s in the exact form; QDQ kernels sum exactly."""
    return ctx.int8_cpu if ctx.int8_exact else "vnni"


def _step(scale) -> np.ndarray:
    """What one integer step stands for: 1 / MXNet's scale (float32)."""
    return (1.0 / np.asarray(scale, np.float32).astype(np.float64)).astype(np.float32)


def _dequantize(ctx: EmitContext, q: str, r: QRange, unit: bool = False) -> str:
    """The real values of ``q`` (``unit``: its integers, as floats: a Cast where the layers compute on integers,
    ``EmitContext.int8_exact``)."""
    if unit and ctx.int8_exact:
        return _integers(ctx, q)
    step = np.float32(1.0) if unit else _step(r.scale)
    return ctx.add("DequantizeLinear", [q, ctx.const(step, "step"), ctx.const(0, "zero", _TYPES[r.dtype])])


def _quantize(ctx: EmitContext, node: Node, x: str, r: QRange, written: str | None = None,
              unit: bool = False, step: np.float32 | None = None) -> None:
    """``x`` quantized into ``node``'s output 0 (saturated to ``written``'s type, then read as the range's), its
    min and max as constants; a graph output is given as float32. ``unit``: ``x`` holds the integers (step 1);
    ``step``: another step than the range's."""
    step = np.float32(1.0) if unit else _step(r.scale) if step is None else step
    _quantized_output(ctx, node, x, step, r.dtype, written or r.dtype)
    _range_outputs(ctx, r)


def _quantized_output(ctx: EmitContext, node: Node, x: str, step: np.float32, dtype: str, written: str) -> None:
    """QuantizeLinear of ``x`` by ``step`` into ``node``'s output 0: saturated to ``written``'s type, read as
    ``dtype`` (a graph output given as float32)."""
    out, is_output = ctx.output(0), node.output(0) in ctx.graph.outputs
    q = ctx.add("QuantizeLinear", [x, ctx.const(step, "step"), ctx.const(0, "zero", _TYPES[written])],
                ctx.temp("quantized") if written != dtype or is_output else out)
    if written != dtype:
        q = ctx.add("Cast", [q], ctx.temp("cast") if is_output else out, to=_ONNX_TYPES[dtype])
    if is_output:
        ctx.add("Cast", [q], out, to=TensorProto.FLOAT)


def _range_outputs(ctx: EmitContext, r: QRange) -> None:
    """The node's outputs 1 and 2: its range's min and max, as constants."""
    for index, value in ((1, r.lo), (2, r.hi)):
        ctx.add("Identity", [ctx.const(np.array([value], np.float32), "range")], ctx.output(index))


@register("_contrib_requantize", check=_check)
def requantize(ctx: EmitContext, node: Node) -> None:
    """QuantizeLinear of the int32 sum's real values by its step over MXNet's requantization factor; exact: its
    integers times that factor (float32), step 1."""
    data = ctx.quantized_ranges[node.inputs[0]]
    scale, out = requantize_scale(node, data), ctx.quantized_ranges[node.output()]
    if ctx.int8_exact:
        _quantize(ctx, node, ctx.add("Mul", [ctx.input(0), ctx.const(scale, "scale")]), out, unit=True)
        return
    _quantize(ctx, node, ctx.input(0), out, step=np.float32(data.unit / scale))


@register("_contrib_quantize_v2", check=_check)
def quantize_v2(ctx: EmitContext, node: Node) -> None:
    """QuantizeLinear by the calibrated range (exact: the data times MXNet's scale, then rounded, as MXNet
    multiplies where QuantizeLinear divides)."""
    r = ctx.quantized_ranges[node.output()]
    if ctx.int8_exact:
        _quantize(ctx, node, ctx.add("Mul", [ctx.input(0), ctx.const(r.scale, "scale")]), r, unit=True)
    else:
        _quantize(ctx, node, ctx.input(0), r)


def _tensor_range(ctx: EmitContext) -> str:
    """max(|min|, |max|) of the range given as the node's inputs 1 and 2."""
    return ctx.add("Max", [ctx.add("Abs", [ctx.input(1)]), ctx.add("Abs", [ctx.input(2)])])


@register("_contrib_quantize", check=_check)
def quantize(ctx: EmitContext, node: Node) -> None:
    """The older quantize, its range read from its tensors in the graph (parameters, or computed from the data):
    the data times 255 or 127 / max(|min|, |max|), QuantizeLinear with step 1 (exact, both forms: its levels are
    not the 255.5 or 127.5 its consumers read); the range out as given (uint8) or +-max(|min|, |max|) (int8)."""
    dtype = node.attrs["out_type"]
    real = _tensor_range(ctx)
    scale = ctx.add("Div", [ctx.const(np.float32(range_levels(dtype)), "levels"), real])
    _quantized_output(ctx, node, ctx.add("Mul", [ctx.input(0), scale]), np.float32(1.0), dtype, dtype)
    low, high = (ctx.input(1), ctx.input(2)) if dtype == "uint8" else (ctx.add("Neg", [real]), real)
    ctx.add("Identity", [low], ctx.output(1))
    ctx.add("Identity", [high], ctx.output(2))


@register("_contrib_dequantize", check=_check)
def dequantize(ctx: EmitContext, node: Node) -> None:
    """DequantizeLinear by the range's step as MXNet computes it (range / 255.5 or 127.5); a range computed at run
    time: the integers times that step, computed from the range's tensors."""
    if node.inputs[0] in ctx.quantized_ranges:
        r = ctx.quantized_ranges[node.inputs[0]]
        ctx.add("DequantizeLinear", [ctx.input(0), ctx.const(r.step, "step"), ctx.const(0, "zero", _TYPES[r.dtype])],
                ctx.output())
        return
    levels = 255.5 if runtime_range_dtype(ctx.graph, node.inputs[0]) == "uint8" else 127.5
    step = ctx.add("Div", [_tensor_range(ctx), ctx.const(np.float32(levels), "levels")])
    ctx.add("Mul", [_integers(ctx, ctx.input(0)), step], ctx.output())


@register("_contrib_quantized_flatten", check=_check)
def quantized_flatten(ctx: EmitContext, node: Node) -> None:
    r, unit = ctx.quantized_ranges[node.output()], ctx.int8_exact
    _quantize(ctx, node, ctx.add("Flatten", [_dequantize(ctx, ctx.input(0), r, unit)], axis=1), r, unit=unit)


@register("_contrib_quantized_act", check=_check)
def quantized_act(ctx: EmitContext, node: Node) -> None:
    r, unit = ctx.quantized_ranges[node.output()], ctx.int8_exact
    _quantize(ctx, node, ctx.add("Relu", [_dequantize(ctx, ctx.input(0), r, unit)]), r, unit=unit)


@register("_contrib_quantized_pooling", check=_check)
def quantized_pooling(ctx: EmitContext, node: Node) -> None:
    """The float Pooling between DequantizeLinear and QuantizeLinear of the same range; an average of the integers
    themselves (step 1), so that its exact halves round to even as MXNet's do."""
    r = ctx.quantized_ranges[node.output()]
    unit = node.attrs["pool_type"] != "max" or ctx.int8_exact
    data, pooled = _dequantize(ctx, ctx.input(0), r, unit), ctx.temp("pooled")
    twin = dataclasses.replace(node, op="Pooling", inputs=node.inputs[:1], num_outputs=1)
    with ctx.as_node(twin, {node.inputs[0]: data, node.output(0): pooled}):
        pooling(ctx, twin)
    _quantize(ctx, node, pooled, r, unit=unit)


@register("_contrib_quantized_concat", check=_check)
def quantized_concat(ctx: EmitContext, node: Node) -> None:
    """Concat of the dequantized inputs, quantized by the joined range (each input's largest bound); exact: each
    input's integers times MXNet's factor onto the joined scale, rounded once."""
    ranges = ctx.quantized_ranges
    axis = node.attrs["dim"] % len(ctx.shape(0))
    if ctx.int8_exact:
        parts = [_integers(ctx, ctx.input(slot)) if factor is None else
                 ctx.add("Mul", [_integers(ctx, ctx.input(slot)), ctx.const(factor, "factor")])
                 for slot, factor in enumerate(concat_rescales(node, ranges))]
        _quantize(ctx, node, ctx.add("Concat", parts, axis=axis), ranges[node.output()], unit=True)
        return
    parts = [_dequantize(ctx, ctx.input(slot), ranges[ref]) for slot, ref in enumerate(concat_data(node))]
    _quantize(ctx, node, ctx.add("Concat", parts, axis=axis), ranges[node.output()])


@register("_contrib_quantized_batch_norm", check=_check)
def quantized_batch_norm(ctx: EmitContext, node: Node) -> None:
    """uint8 data requantized to int8 first (as oneDNN does), then MXNet's folded per-channel scale and shift
    (carried from its integer steps to real values), int8 out."""
    data = ctx.quantized_ranges[node.inputs[0]]
    plan = batch_norm_plan(ctx.graph, node, data)
    rank = len(ctx.shape(0))
    shape = (-1,) + (1,) * (rank - 1 - batch_norm_axis(node, rank))
    if ctx.int8_exact:
        x = _integers(ctx, ctx.input(0))
        if plan.u8_to_s8 is not None:
            x = ctx.add("Round", [ctx.add("Mul", [x, ctx.const(plan.u8_to_s8, "u8_to_s8")])])
        wide = ctx.add("Cast", [x], to=TensorProto.DOUBLE)
        scale, shift = (ctx.const(value.astype(np.float64).reshape(shape), name, np.float64)
                        for value, name in ((plan.scale, "bn_scale"), (plan.shift, "bn_shift")))
        y = ctx.add("Cast", [ctx.add("Add", [ctx.add("Mul", [wide, scale]), shift])], to=TensorProto.FLOAT)
        _quantize(ctx, node, y, ctx.quantized_ranges[node.output()], unit=True)
        return
    x = _dequantize(ctx, ctx.input(0), data)
    if plan.u8_to_s8 is not None:
        bound = max(abs(data.lo), abs(data.hi))
        data = QRange("int8", -bound, bound)
        x = _dequantize(ctx, ctx.add("QuantizeLinear", [x, ctx.const(_step(data.scale), "step"),
                                                        ctx.const(0, "zero", np.int8)]), data)
    out = ctx.quantized_ranges[node.output()]
    out_step = _step(out.scale).astype(np.float64)
    scale = (plan.scale * out_step * np.float64(data.scale)).astype(np.float32).reshape(shape)
    shift = (plan.shift * out_step).astype(np.float32).reshape(shape)
    y = ctx.add("Add", [ctx.add("Mul", [x, ctx.const(scale, "bn_scale")]), ctx.const(shift, "bn_shift")])
    _quantize(ctx, node, y, out)


def _weights(ctx: EmitContext, plan: AffinePlan, data: QRange, axis: int) -> tuple[str, str | None]:
    """The int8 weight and the int32 bias, dequantized by their steps (the bias's: data step x weight step)."""
    steps = _step(plan.weight_scales)
    per_channel = len(set(steps.tolist())) > 1
    step = ctx.const(steps if per_channel else steps[0], "weight_step")
    zero = ctx.const(np.zeros(len(steps), np.int8) if per_channel else 0, "zero", np.int8)
    attrs = {"axis": axis} if per_channel else {}
    weight = ctx.add("DequantizeLinear", [ctx.const(plan.weight.astype(np.int8), "weight", np.int8), step, zero],
                     **attrs)
    if plan.bias is None:
        return weight, None
    bias_steps = (_step(data.scale) * steps).astype(np.float32)
    bias_zero = ctx.const(np.zeros(len(steps), np.int32) if per_channel else 0, "zero", np.int32)
    bias = ctx.add("DequantizeLinear", [ctx.const(plan.bias.astype(np.int32), "bias", np.int32),
                                        ctx.const(bias_steps if per_channel else bias_steps[0], "bias_step"),
                                        bias_zero], **({"axis": 0} if per_channel else {}))
    return weight, bias


def _epilogue(ctx: EmitContext, node: Node, plan: AffinePlan, y: str, summed: str | None) -> None:
    """ReLU, the residual sum, ReLU; quantized to the output's range (or float32 out)."""
    if plan.relu:
        y = ctx.add("Relu", [y])
    if summed is not None:
        y = ctx.add("Add", [y, _dequantize(ctx, summed, plan.sum_range)])
    if plan.post_relu:
        y = ctx.add("Relu", [y])
    if plan.out is None:
        ctx.add("Identity", [y], ctx.output())
    else:
        _quantize(ctx, node, y, plan.out, plan.written)


def _integers(ctx: EmitContext, q: str, to: int = TensorProto.FLOAT) -> str:
    """A quantized tensor's integers as floats (``to``): a Cast, which no runtime fuses into an integer kernel."""
    return ctx.add("Cast", [q], to=to)


def _unit_weight(ctx: EmitContext, plan: AffinePlan, to: int = TensorProto.FLOAT) -> str:
    """The int8 weight as its integers."""
    return _integers(ctx, ctx.const(plan.weight.astype(np.int8), "weight", np.int8), to)


def _exact_epilogue(ctx: EmitContext, node: Node, plan: AffinePlan, sums: str, rank: int, summed: str | None) -> None:
    """MXNet's requantization of the integer ``sums`` (float32, as MXNet converts them) in its order: + bias
    (times the weights' adjustment), x scale per channel (each in float64, rounded to float32 once as float32's
    own operation is, and out of reach of the runtimes' fusions into the product), ReLU (and its scale), the
    residual sum in one rounding, ReLU, quantized with step 1 (a non-fused sum: float32 out); ``rank``: the
    sums' (channels on axis 1)."""
    shape = (-1,) + (1,) * (rank - 2)
    y = sums
    if plan.bias is not None:
        bias = (plan.bias.astype(np.float32) * np.float32(plan.weight_adjust)).astype(np.float64)
        bias = ctx.const(bias.reshape(shape), "bias", np.float64)
        y = ctx.add("Cast", [ctx.add("Add", [ctx.add("Cast", [y], to=TensorProto.DOUBLE), bias])],
                    to=TensorProto.FLOAT)
    scales = ctx.const(plan.scales.astype(np.float64).reshape(shape), "scales", np.float64)
    y = ctx.add("Cast", [ctx.add("Mul", [ctx.add("Cast", [y], to=TensorProto.DOUBLE), scales])], to=TensorProto.FLOAT)
    if plan.relu:
        y = ctx.add("Relu", [y])
    if plan.post_scale != 1.0:
        y = ctx.add("Mul", [y, ctx.const(np.float32(plan.post_scale), "post_scale")])
    if summed is not None:
        wide = [ctx.add("Cast", [value], to=TensorProto.DOUBLE)
                for value in (y, summed)]
        shifted = ctx.add("Mul", [wide[1], ctx.const(np.float64(plan.sum_scale), "sum_scale", np.float64)])
        y = ctx.add("Cast", [ctx.add("Add", [wide[0], shifted])], to=TensorProto.FLOAT)
    if plan.post_relu:
        y = ctx.add("Relu", [y])
    if plan.out is None:
        ctx.add("Identity", [y], ctx.output())
    else:
        _quantize(ctx, node, y, plan.out, plan.written, unit=True)


@register("_sg_mkldnn_conv", check=lambda n, opset: _check(n, opset) or (
    None if len(next(i for i in n.subgraphs[0].nodes if i.op == "Convolution").attrs["kernel"]) == 2
    else "not a 2-D kernel"))
def quantized_conv(ctx: EmitContext, node: Node) -> None:
    """Conv on the dequantized data, int8 weights (per output channel) and int32 bias; the residual sum and
    ReLUs; QuantizeLinear."""
    ranges = ctx.quantized_ranges
    a = node.attrs
    conv = next(inner for inner in node.subgraphs[0].nodes if inner.op == "Convolution")
    sum_slot = 2 + (not conv.attrs["no_bias"]) + 4 * a["with_bn"]
    summed = node.inputs[sum_slot] if a["with_sum"] else None
    data = ranges[node.inputs[0]]
    plan = conv_plan(ctx.graph, node, data, ranges[summed] if summed else None, _cpu(ctx))
    if ctx.int8_exact:
        sums = _conv_sums(ctx, _integers(ctx, ctx.input(0)), plan, conv.attrs)
        _exact_epilogue(ctx, node, plan, sums, 4, ctx.input(sum_slot) if summed else None)
        return
    weight, bias = _weights(ctx, plan, data, axis=0)
    y = ctx.add("Conv", [_dequantize(ctx, ctx.input(0), data), weight, *([bias] if bias else [])],
                **_conv_geometry(conv.attrs))
    _epilogue(ctx, node, plan, y, ctx.input(sum_slot) if summed else None)


def _conv_geometry(attrs: dict) -> dict:
    """The ONNX Conv attributes of a 2-D convolution with the MXNet op's ``attrs``."""
    stride, pad, dilate = window_geometry(attrs, 2)
    return dict(kernel_shape=list(attrs["kernel"]), strides=list(stride), dilations=list(dilate),
                pads=list(pad + pad), group=attrs["num_group"])


def _conv_sums(ctx: EmitContext, x: str, plan: AffinePlan, attrs: dict) -> str:
    """The integer sums (float32) of a quantized 2-D convolution of the integers ``x`` with the float op's
    ``attrs``: a Conv (exact below 2^24), corrected for oneDNN's saturated pairs where the plan has them
    (:func:`_pair_corrections`)."""
    sums = ctx.add("Conv", [x, _unit_weight(ctx, plan)], **_conv_geometry(attrs))
    if not plan.saturating_pairs:
        return sums
    corrections = _pair_corrections(ctx, x, plan.weight, attrs)
    if corrections is None:
        return sums
    return ctx.add("Add", [sums, ctx.add("Reshape", [corrections, ctx.add("Shape", [sums])])])


_INT16 = (-32768.0, 32767.0)
_UINT8_MAX = 255.0
_EXACT_FLOAT = 2.0 ** 24  # float32 holds every integer up to this


def _saturable_pairs(weight: np.ndarray, groups: int) -> list[tuple[np.ndarray, ...]]:
    """Per kernel tap (row-major), the pairs of neighbouring input channels of a group whose u8 x s8 product sum
    can pass int16 for some output (255 x the sum of their positive, or of their negative, weights), as arrays:
    the output channel, the pair's first input channel, its two weights. A group's odd last channel has no
    pair (its one product fits)."""
    out_channels, per_group, kh, kw = weight.shape
    first, second = weight[:, 0:per_group - 1:2], weight[:, 1:per_group:2]
    high = _UINT8_MAX * (np.maximum(first, 0) + np.maximum(second, 0))
    low = _UINT8_MAX * (np.minimum(first, 0) + np.minimum(second, 0))
    saturable = (high > _INT16[1]) | (low < _INT16[0])
    found = []
    for i in range(kh):
        for j in range(kw):
            out, pair = np.nonzero(saturable[:, :, i, j])
            channel = out // (out_channels // groups) * per_group + 2 * pair
            found.append((out, channel, first[out, pair, i, j], second[out, pair, i, j]))
    return found


def _pair_corrections(ctx: EmitContext, x: str, weight: np.ndarray, attrs: dict) -> str | None:
    """What oneDNN's saturation on CPUs without VNNI (uint8 data) takes off the exact sums, as (N, O, oh x ow),
    or None where no pair's sum can pass int16 (:func:`_saturable_pairs`): per kernel tap, those pairs' channels
    gathered from a strided Slice of the zero-padded integers, each pair's sum by a grouped 1x1 Conv (exact in
    float32: at most 2 x 255 x 128), Clip minus it; the differences of all taps gathered by output (each output's
    count made up by a first difference that is always 0: a zero-weighted pair) and summed per output."""
    stride, pad, dilate = window_geometry(attrs, 2)
    kh, kw = attrs["kernel"]
    taps = _saturable_pairs(weight, attrs["num_group"])
    if not sum(len(out) for out, *_ in taps):
        return None
    # first, the always-0 difference: output 0, channels 0 and 1 weighted 0
    taps[0] = tuple(np.concatenate([[0], values]) for values in taps[0])
    if any(pad):
        x = ctx.add("Pad", [x, ctx.ints([0, 0, *pad, 0, 0, *pad], "pads")], mode="constant")
    bounds = [ctx.const(np.float32(bound), "int16") for bound in _INT16]
    differences, outputs = [], []
    for tap, (out, channel, first, second) in enumerate(taps):
        if not len(out):
            continue
        i, j = divmod(tap, kw)
        ends = [-(kh - 1 - i) * dilate[0] or np.iinfo(np.int64).max,
                -(kw - 1 - j) * dilate[1] or np.iinfo(np.int64).max]
        window = ctx.add("Slice", [x, ctx.ints([i * dilate[0], j * dilate[1]], "starts"), ctx.ints(ends, "ends"),
                                   ctx.ints([2, 3], "axes"), ctx.ints(list(stride), "steps")])
        pairs = ctx.add("Gather", [window, ctx.ints(np.stack([channel, channel + 1], 1).reshape(-1), "channels")],
                        axis=1)
        pair_weight = np.stack([first, second], 1).reshape(-1, 2, 1, 1).astype(np.float32)
        summed = ctx.add("Conv", [pairs, ctx.const(pair_weight, "pair_weight")], kernel_shape=[1, 1],
                         group=len(out))
        differences.append(ctx.add("Sub", [ctx.add("Clip", [summed, *bounds]), summed]))
        outputs.append(out)
    outputs = np.concatenate(outputs)
    counts = np.bincount(outputs[1:], minlength=len(weight))
    # slot k of output o: its k-th difference, or the always-0 one (index 0)
    slots = np.zeros((len(weight), counts.max()), np.int64)
    order = np.argsort(outputs[1:], kind="stable") + 1
    slots[np.arange(counts.max()) < counts[:, None]] = order
    joined = ctx.add("Concat", differences, axis=1) if len(differences) > 1 else differences[0]
    by_output = ctx.add("Gather", [joined, ctx.ints(slots.reshape(-1), "slots")], axis=1)
    by_output = ctx.add("Reshape", [by_output, ctx.ints([0, len(weight), counts.max(), -1])])
    if -_INT16[0] * counts.max() <= _EXACT_FLOAT:
        return ctx.reduce_sum(by_output, [2], keepdims=0)
    total = ctx.reduce_sum(ctx.add("Cast", [by_output], to=TensorProto.DOUBLE), [2], keepdims=0)
    return ctx.add("Cast", [total], to=TensorProto.FLOAT)


def _pair_linear_sums(ctx: EmitContext, x: str, weight: np.ndarray, shift: float) -> str:
    """oneDNN's fully connected sums on CPUs without VNNI, of the integers ``x`` (N, F) shifted by ``shift``
    (int8 data made uint8): the products of neighbouring features paired, ((F/2, N, 2) x (F/2, 2, O), exact in
    float32), saturated to int16, summed over the pairs in float64, the shift's share (shift x the weight row's
    sum) taken off; float32 out. An odd feature is paired with a zero feature."""
    if shift:
        x = ctx.add("Add", [x, ctx.const(np.float32(shift), "shift")])
    if weight.shape[1] % 2:
        x = ctx.add("Pad", [x, ctx.ints([0, 0, 0, 1], "pads")], mode="constant")
        weight = np.pad(weight, ((0, 0), (0, 1)))
    pairs = weight.shape[1] // 2
    columns = ctx.add("Transpose", [ctx.add("Reshape", [x, ctx.ints([0, pairs, 2])])], perm=[1, 0, 2])
    taps = weight.reshape(len(weight), pairs, 2).transpose(1, 2, 0).astype(np.float32)
    summed = ctx.add("Clip", [ctx.add("MatMul", [columns, ctx.const(taps, "pair_weight")]),
                              *(ctx.const(np.float32(bound), "int16") for bound in _INT16)])
    total = ctx.reduce_sum(ctx.add("Cast", [summed], to=TensorProto.DOUBLE), [0], keepdims=0)
    if shift:
        share = ctx.const(shift * weight.astype(np.float64).sum(1), "shift_share", np.float64)
        total = ctx.add("Sub", [total, share])
    return ctx.add("Cast", [total], to=TensorProto.FLOAT)


def _linear_sums(ctx: EmitContext, x: str, plan: AffinePlan, attrs: dict, rank: int) -> str:
    """The integer sums (float32) of a quantized fully connected layer on the integers ``x`` (of ``rank``) with
    the float op's ``attrs``: a Gemm in float64 (exact at any length), or oneDNN's saturated pairs where the plan
    has them."""
    if attrs["flatten"] and rank != 2:
        x = ctx.add("Flatten", [x], axis=1)
    if plan.saturating_pairs:
        return _pair_linear_sums(ctx, x, plan.weight, plan.data_shift)
    wide = ctx.add("Cast", [x], to=TensorProto.DOUBLE)
    sums = ctx.add("Gemm", [wide, _unit_weight(ctx, plan, TensorProto.DOUBLE)], transB=1)
    return ctx.add("Cast", [sums], to=TensorProto.FLOAT)


@register("_sg_mkldnn_fully_connected", check=_check)
def quantized_fully_connected(ctx: EmitContext, node: Node) -> None:
    """Gemm on the dequantized data, int8 weight and int32 bias; ReLU; QuantizeLinear or float32 out."""
    fc = next(inner for inner in node.subgraphs[0].nodes if inner.op == "FullyConnected")
    data = ctx.quantized_ranges[node.inputs[0]]
    plan = fc_plan(ctx.graph, node, data, _cpu(ctx))
    if ctx.int8_exact:
        sums = _linear_sums(ctx, _integers(ctx, ctx.input(0)), plan, fc.attrs, len(ctx.shape(0)))
        _exact_epilogue(ctx, node, plan, sums, 2, None)
        return
    x = _dequantize(ctx, ctx.input(0), data)
    if fc.attrs["flatten"] and len(ctx.shape(0)) != 2:
        x = ctx.add("Flatten", [x], axis=1)
    weight, bias = _weights(ctx, plan, data, axis=0)
    y = ctx.add("Gemm", [x, weight, *([bias] if bias else [])], transB=1)
    _epilogue(ctx, node, plan, y, None)


@register("_contrib_quantized_fully_connected", "_contrib_quantized_conv", check=_check)
def quantized_sum(ctx: EmitContext, node: Node) -> None:
    """The non-fused int8 FullyConnected or Convolution: Gemm or Conv on the dequantized data, int8 weight and
    int32 bias, its real values out (what the int32 sums stand for) with their nominal range; exact: the int32
    sums themselves (bias added, as float32)."""
    data, a = ctx.quantized_ranges[node.inputs[0]], node.attrs
    plan = sum_plan(ctx.graph, node, data, _cpu(ctx))
    if ctx.int8_exact:
        x, rank = _integers(ctx, ctx.input(0)), len(ctx.shape(0))
        conv = node.op == "_contrib_quantized_conv"
        sums = _conv_sums(ctx, x, plan, a) if conv else _linear_sums(ctx, x, plan, a, rank)
        _exact_epilogue(ctx, node, plan, sums, 4 if conv else 2, None)
        _range_outputs(ctx, ctx.quantized_ranges[node.output()])
        return
    weight, bias = _weights(ctx, plan, data, axis=0)
    x = _dequantize(ctx, ctx.input(0), data)
    if node.op == "_contrib_quantized_conv":
        ctx.add("Conv", [x, weight, *([bias] if bias else [])], ctx.output(0), **_conv_geometry(a))
    else:
        if a["flatten"] and len(ctx.shape(0)) != 2:
            x = ctx.add("Flatten", [x], axis=1)
        ctx.add("Gemm", [x, weight, *([bias] if bias else [])], ctx.output(0), transB=1)
    _range_outputs(ctx, ctx.quantized_ranges[node.output()])


@register("_contrib_quantized_elemwise_add", "_contrib_quantized_elemwise_mul", check=_check)
def quantized_elemwise(ctx: EmitContext, node: Node) -> None:
    """Uncalibrated: Add or Mul of the dequantized operands, the real values the int32 result stands for, with
    its range. Calibrated: an add onto the output's range (:func:`_calibrated_add`), a product as MXNet computes
    it (:func:`_calibrated_product`)."""
    ranges = ctx.quantized_ranges
    check_operands(node, ranges)
    a = node.attrs
    if a["min_calib_range"] is not None or a.get("enable_float_output"):
        (_calibrated_add if node.op == "_contrib_quantized_elemwise_add" else _calibrated_product)(ctx, node)
        return
    if ctx.int8_exact:
        _uncalibrated_integers(ctx, node)
        return
    operands = [_dequantize(ctx, ctx.input(slot), ranges[ref]) for slot, ref in enumerate(node.inputs[:2])]
    ctx.add("Add" if node.op == "_contrib_quantized_elemwise_add" else "Mul", operands, ctx.output(0))
    _range_outputs(ctx, ranges[node.output()])


def _uncalibrated_integers(ctx: EmitContext, node: Node) -> None:
    """An uncalibrated add's or product's int32 integers (as floats): each operand times its factor onto the
    summed range, added and rounded (ties to even), all in float32; the integers' product (exact)."""
    ranges = ctx.quantized_ranges
    x = [_integers(ctx, ctx.input(slot)) for slot in range(2)]
    if node.op == "_contrib_quantized_elemwise_mul":
        ctx.add("Mul", x, ctx.output(0))
    else:
        factors = add_scales(*(ranges[ref] for ref in node.inputs[:2]))
        terms = [ctx.add("Mul", [value, ctx.const(factor, "factor")]) for value, factor in zip(x, factors)]
        ctx.add("Round", [ctx.add("Add", terms)], ctx.output(0))
    _range_outputs(ctx, ranges[node.output()])


def _calibrated_add(ctx: EmitContext, node: Node) -> None:
    """Each operand times its factor onto the output's scale (exact: on the integers, MXNet's float32 factors;
    ``int8_kernels``: dequantized, QDQ), a uint8 operand beside an int8 one first quantized to int8 on the
    output's scale; the sum quantized to the output's range."""
    ranges = ctx.quantized_ranges
    out = ranges[node.output()]
    operands = [ranges[ref] for ref in node.inputs[:2]]
    factors, reordered = calibrated_add_factors(out, *operands)
    unit, terms = ctx.int8_exact, []
    for slot, (operand, factor) in enumerate(zip(operands, factors)):
        if unit:
            term = ctx.add("Mul", [_integers(ctx, ctx.input(slot)), ctx.const(factor, "factor")])
        else:
            term = _dequantize(ctx, ctx.input(slot), operand)
        if slot == reordered:
            step = np.float32(1.0) if unit else _step(out.scale)
            term = ctx.add("QuantizeLinear", [term, ctx.const(step, "step"), ctx.const(0, "zero", np.int8)])
            term = _integers(ctx, term) if unit else ctx.add(
                "DequantizeLinear", [term, ctx.const(step, "step"), ctx.const(0, "zero", np.int8)])
        terms.append(term)
    _quantize(ctx, node, ctx.add("Add", terms), out, unit=unit)


def _calibrated_product(ctx: EmitContext, node: Node) -> None:
    """The integers' product times MXNet's factor (float32, in both forms: no QDQ form truncates); float32 out, or
    truncated toward zero and wrapped onto int8 as MXNet's conversion keeps the low byte."""
    ranges = ctx.quantized_ranges
    scale = product_scale(node, *(ranges[ref] for ref in node.inputs[:2]))
    product = ctx.add("Mul", [_integers(ctx, ctx.input(0)), _integers(ctx, ctx.input(1))])
    y = ctx.add("Mul", [product, ctx.const(scale, "scale")], ctx.output(0) if node.num_outputs == 1 else None)
    if node.num_outputs == 1:
        return
    truncated = ctx.add("Cast", [ctx.add("Mul", [ctx.add("Sign", [y]), ctx.add("Floor", [ctx.add("Abs", [y])])])],
                        to=TensorProto.INT32)
    shift, byte = ctx.const(np.int32(128), "shift", np.int32), ctx.const(np.int32(256), "byte", np.int32)
    wrapped = ctx.add("Sub", [ctx.add("Mod", [ctx.add("Add", [truncated, shift]), byte]), shift])
    _quantize(ctx, node, ctx.add("Cast", [wrapped], to=TensorProto.FLOAT), ranges[node.output()], unit=True)


@register("_contrib_quantized_embedding")
def quantized_embedding(ctx: EmitContext, node: Node) -> None:
    """Gather of the int8 weight's rows (int8 out), with the weight's stored range."""
    embedding(ctx, node)
    _range_outputs(ctx, ctx.quantized_ranges[node.output()])

