"""MXNet's INT8 ops as float code that computes MXNet's integer arithmetic (``quantization``): a quantized tensor
is a float32 tensor of integers; sums of products run in float64, where they are exact."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..ir import Node
from ..semantics.normalization import batch_norm_axis
from ..semantics.quantization import (AffinePlan, QRange, add_scales, batch_norm_plan, calibrated_add_factors,
                                     concat_rescales, conv_plan, check_operands, fc_plan, product_scale,
                                     range_levels, refusal, requantize_scale, runtime_range_dtype, sum_plan)
from ..semantics.convolution import window_geometry
from .convolution import pooling
from .linear import embedding
from .registry import HELPERS, Lowering, register

if TYPE_CHECKING:
    from .codegen import TorchContext

HELPERS["mxnet_quantize"] = '''
def mxnet_quantize(
    x: torch.Tensor, low: torch.Tensor, high: torch.Tensor, levels: float, bounds: List[float]
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MXNet's older quantize, its range given as tensors: round(x * (levels / max(|low|, |high|))) (ties to even)
    saturated to ``bounds``; the range out as given (uint8, 255 levels) or +-max(|low|, |high|) (int8, 127)."""
    real = torch.maximum(low.abs(), high.abs())
    q = torch.round(x * (levels / real)).clamp(bounds[0], bounds[1])
    return (q, low, high) if bounds[0] == 0.0 else (q, -real, real)
'''
HELPERS["mxnet_int8_product"] = '''
def mxnet_int8_product(left: torch.Tensor, right: torch.Tensor, scale: float) -> torch.Tensor:
    """MXNet's calibrated int8 product: float(a * b) * scale truncated toward zero, its low byte kept (wrapping
    past int8)."""
    scaled = torch.trunc(left * right * scale).double()
    return (torch.remainder(scaled + 128.0, 256.0) - 128.0).float()
'''
HELPERS["mxnet_int8_pairs"] = '''
def mxnet_int8_pairs(cols: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Sums of u8 x s8 products as oneDNN makes them on CPUs without VNNI: the products of two neighbouring
    input channels (or features) added in 16 bits, saturated, then summed. ``cols``: (N, G, C, K, L),
    ``weight``: (G, O, C, K) with C even; returns (N, G, O, L)."""
    n, g, c, k, l = cols.shape
    pairs = cols.reshape(n, g, c // 2, 2, k, l)
    taps = weight.reshape(g, weight.shape[1], c // 2, 2, k)
    total = torch.zeros(n, g, weight.shape[1], l, dtype=cols.dtype)
    for p in range(c // 2):
        summed = torch.einsum("ngikl,goik->ngokl", pairs[:, :, p], taps[:, :, p])
        total = total + summed.clamp(-32768.0, 32767.0).sum(3)
    return total
'''
HELPERS["mxnet_int8_conv2d"] = '''
def mxnet_int8_conv2d(
    x: torch.Tensor, weight: torch.Tensor, stride: List[int], padding: List[int], dilation: List[int], groups: int,
    saturate: bool
) -> torch.Tensor:
    """The int32 sums of a quantized 2-D convolution (exact in float64); ``saturate``: oneDNN's 16-bit pairs
    (``mxnet_int8_pairs``) where a group has more than one input channel."""
    if not saturate or weight.shape[1] == 1:
        return F.conv2d(x.double(), weight.double(), None, stride, padding, dilation, groups)
    n, c, h, w = x.shape
    kh, kw = weight.shape[2], weight.shape[3]
    out_h = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    out_w = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    cols = F.unfold(x.double(), [kh, kw], dilation, padding, stride).reshape(n, groups, c // groups, kh * kw, -1)
    taps = weight.double().reshape(groups, weight.shape[0] // groups, weight.shape[1], kh * kw)
    if taps.shape[2] % 2 == 1:
        cols = F.pad(cols, [0, 0, 0, 0, 0, 1])
        taps = F.pad(taps, [0, 0, 0, 1])
    return mxnet_int8_pairs(cols, taps).reshape(n, weight.shape[0], out_h, out_w)
'''
HELPERS["mxnet_int8_linear"] = '''
def mxnet_int8_linear(x: torch.Tensor, weight: torch.Tensor, saturate: bool, shift: float) -> torch.Tensor:
    """The int32 sums of a quantized fully connected layer (exact in float64); ``saturate``: oneDNN's 16-bit
    pairs of neighbouring features (``mxnet_int8_pairs``), of the data shifted by ``shift`` (int8 data made
    uint8), the shift's share taken off after."""
    if not saturate:
        return x.double() @ weight.double().t()
    cols, taps = x.double() + shift, weight.double()
    if cols.shape[1] % 2 == 1:
        cols, taps = F.pad(cols, [0, 1]), F.pad(taps, [0, 1])
    pairs = mxnet_int8_pairs(cols.reshape(cols.shape[0], 1, cols.shape[1], 1, 1),
                             taps.reshape(1, taps.shape[0], taps.shape[1], 1))
    return pairs.reshape(cols.shape[0], taps.shape[0]) - shift * taps.sum(1)
'''
HELPERS["mxnet_int8_requantize"] = '''
def mxnet_int8_requantize(
    acc: torch.Tensor, bias: Optional[torch.Tensor], scales: torch.Tensor, summed: Optional[torch.Tensor],
    sum_scale: float, relu: bool, post_scale: float, post_relu: bool, bounds: Optional[List[float]], wrap: float
) -> torch.Tensor:
    """oneDNN's int8 epilogue in float32: (float(sums) + float(bias)) * scale per channel, ReLU (and its scale),
    the residual sum (one rounding, as its fused multiply-add), ReLU, then to nearest (ties to even) and saturated;
    float32 out without ``bounds``; ``wrap``: the written int8 bytes read as uint8 (256) or uint8 as int8 (-256)."""
    shape = [1, -1] + [1] * (acc.dim() - 2)
    y = acc.float()
    if bias is not None:
        y = y + bias.reshape(shape)
    y = y * scales.reshape(shape)
    if relu:
        y = torch.relu(y)
    if post_scale != 1.0:
        y = y * post_scale
    if summed is not None:
        y = (y.double() + summed.double() * sum_scale).float()
    if post_relu:
        y = torch.relu(y)
    if bounds is None:
        return y
    y = torch.round(y).clamp(bounds[0], bounds[1])
    if wrap > 0.0:
        y = torch.where(y < 0.0, y + wrap, y)
    elif wrap < 0.0:
        y = torch.where(y > 127.0, y + wrap, y)
    return y
'''


def _range_outputs(q: str, r: QRange) -> str:
    """The quantized tensor with its range, as MXNet's three outputs."""
    return f"({q}, torch.full([1], {float(r.lo)!r}), torch.full([1], {float(r.hi)!r}))"


@register("_contrib_quantize_v2", check=refusal)
def quantize_v2(ctx: TorchContext, node: Node) -> Lowering:
    """round(x * scale), saturated to uint8 or int8."""
    r = ctx.quantized_ranges[node.output()]
    lo, hi = r.bounds
    q = f"torch.round({ctx.input(0)} * {float(r.scale)!r}).clamp({lo}, {hi})"
    return Lowering(_range_outputs(q, r))


@register("_contrib_requantize", check=refusal)
def requantize(ctx: TorchContext, node: Node) -> Lowering:
    """The int32 integers times MXNet's requantization factor, rounded (ties to even) and saturated."""
    r = ctx.quantized_ranges[node.output()]
    lo, hi = r.bounds
    scale = requantize_scale(node, ctx.quantized_ranges[node.inputs[0]])
    return Lowering(_range_outputs(f"torch.round({ctx.input(0)} * {float(scale)!r}).clamp({lo}, {hi})", r))


@register("_contrib_quantize")
def quantize(ctx: TorchContext, node: Node) -> Lowering:
    """The older quantize: its range read from its tensors (parameters, or computed from the data)."""
    dtype = node.attrs["out_type"]
    bounds = [0.0, 255.0] if dtype == "uint8" else [-128.0, 127.0]
    return Lowering(f"{ctx.helper('mxnet_quantize')}({ctx.input(0)}, {ctx.input(1)}, {ctx.input(2)}, "
                    f"{range_levels(dtype)}, {bounds})")


@register("_contrib_dequantize")
def dequantize(ctx: TorchContext, node: Node) -> Lowering:
    """q * (range / 255.5 or 127.5); a range computed at run time read from its tensors."""
    if node.inputs[0] in ctx.quantized_ranges:
        return Lowering(f"{ctx.input(0)} * {float(ctx.quantized_ranges[node.inputs[0]].step)!r}")
    levels = 255.5 if runtime_range_dtype(ctx.graph, node.inputs[0]) == "uint8" else 127.5
    return Lowering(f"{ctx.input(0)} * (torch.maximum({ctx.input(1)}.abs(), {ctx.input(2)}.abs()) / {levels})")


@register("_contrib_quantized_flatten")
def quantized_flatten(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(_range_outputs(f"torch.flatten({ctx.input(0)}, 1)", ctx.quantized_ranges[node.output()]))


@register("_contrib_quantized_act", check=refusal)
def quantized_act(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(_range_outputs(f"torch.relu({ctx.input(0)})", ctx.quantized_ranges[node.output()]))


@register("_contrib_quantized_pooling")
def quantized_pooling(ctx: TorchContext, node: Node) -> Lowering:
    """Max pooling of the integers; average pooling rounded to the nearest integer (ties to even)."""
    lowering = pooling(ctx, node)
    if node.attrs["pool_type"] != "max":
        lowering.expr = f"torch.round({lowering.expr})"
    lowering.expr = _range_outputs(lowering.expr, ctx.quantized_ranges[node.output()])
    return lowering


@register("_contrib_quantized_concat")
def quantized_concat(ctx: TorchContext, node: Node) -> Lowering:
    """The integers of each input brought onto the joined range's scale (rounded, saturated), then joined."""
    r = ctx.quantized_ranges[node.output()]
    lo, hi = r.bounds
    parts = [ctx.input(slot) if factor is None else f"torch.round({ctx.input(slot)} * {float(factor)!r}).clamp({lo}, {hi})"
             for slot, factor in enumerate(concat_rescales(node, ctx.quantized_ranges))]
    axis = node.attrs["dim"] % len(ctx.shape(0))
    return Lowering(_range_outputs(f"torch.cat([{', '.join(parts)}], {axis})", r))


@register("_contrib_quantized_batch_norm", check=refusal)
def quantized_batch_norm(ctx: TorchContext, node: Node) -> Lowering:
    """oneDNN's int8 BatchNorm: uint8 data requantized to int8 first; one multiply-add per channel (rounded once:
    in float64, then float32), rounded to the nearest integer and saturated to int8."""
    plan = batch_norm_plan(ctx.graph, node, ctx.quantized_ranges[node.inputs[0]])
    rank = len(ctx.shape(0))
    shape = [-1 if axis == batch_norm_axis(node, rank) else 1 for axis in range(rank)]
    x = ctx.input(0)
    if plan.u8_to_s8 is not None:
        x = f"torch.round({x} * {float(plan.u8_to_s8)!r}).clamp(-128.0, 127.0)"
    y = (f"torch.round(({ctx.layer}.scale.reshape({shape}).double() * {x}.double() + "
         f"{ctx.layer}.shift.reshape({shape}).double()).float()).clamp(-128.0, 127.0)")
    return _with_buffers(ctx, _range_outputs(y, ctx.quantized_ranges[node.output()]),
                         {"scale": plan.scale, "shift": plan.shift})


def _with_buffers(ctx: TorchContext, expr: str, state: dict[str, np.ndarray]) -> Lowering:
    """A layer holding ``state`` as buffers, and the expression that reads them."""
    setup = [f"{ctx.layer}.register_buffer({key!r}, torch.empty({list(value.shape)}))" for key, value in state.items()]
    return Lowering(expr, "nn.Module()", state, setup)


def _affine(ctx: TorchContext, plan: AffinePlan, acc: str, summed: str | None, out: QRange | None = None
            ) -> Lowering:
    """The layer holding the plan's integers and scales, and the requantized (or float) output; ``out``: the
    range given beside a float32 output (a non-fused int32 sum's)."""
    state = {"weight": plan.weight.astype(np.float32), "scales": plan.scales}
    if plan.bias is not None:
        state["bias"] = plan.bias.astype(np.float32) * np.float32(plan.weight_adjust)
    bias = f"{ctx.layer}.bias" if plan.bias is not None else "None"
    bounds = list(plan.bounds) if plan.bounds else None
    call = (f"{ctx.helper('mxnet_int8_requantize')}({acc}, {bias}, {ctx.layer}.scales, {summed or 'None'}, "
            f"{float(plan.sum_scale or 0.0)!r}, {plan.relu}, {float(plan.post_scale)!r}, {plan.post_relu}, {bounds}, {plan.wrap})")
    out = plan.out or out
    return _with_buffers(ctx, _range_outputs(call, out) if out else call, state)


@register("_sg_mkldnn_conv", check=lambda n: refusal(n) or (None if len(n.subgraphs[0].nodes) and len(
    next(i for i in n.subgraphs[0].nodes if i.op == "Convolution").attrs["kernel"]) == 2 else "not a 2-D kernel"))
def quantized_conv(ctx: TorchContext, node: Node) -> Lowering:
    """Convolution (BatchNorm folded), ReLU and residual sum on int8 data: MXNet's requantized output."""
    ranges = ctx.quantized_ranges
    a = node.attrs
    conv = next(inner for inner in node.subgraphs[0].nodes if inner.op == "Convolution")
    sum_slot = 2 + (not conv.attrs["no_bias"]) + 4 * a["with_bn"]
    summed = node.inputs[sum_slot] if a["with_sum"] else None
    plan = conv_plan(ctx.graph, node, ranges[node.inputs[0]], ranges[summed] if summed else None, ctx.int8_cpu)
    return _affine(ctx, plan, _conv_sums(ctx, conv.attrs, plan), ctx.input(sum_slot) if summed else None)


@register("_sg_mkldnn_fully_connected", check=refusal)
def quantized_fully_connected(ctx: TorchContext, node: Node) -> Lowering:
    """FullyConnected (and its ReLU) on int8 data: MXNet's requantized or float32 output."""
    fc = next(inner for inner in node.subgraphs[0].nodes if inner.op == "FullyConnected")
    plan = fc_plan(ctx.graph, node, ctx.quantized_ranges[node.inputs[0]], ctx.int8_cpu)
    return _affine(ctx, plan, _linear_sums(ctx, fc.attrs, plan), None)


@register("_contrib_quantized_fully_connected", "_contrib_quantized_conv", check=refusal)
def quantized_sum(ctx: TorchContext, node: Node) -> Lowering:
    """The non-fused int8 FullyConnected or Convolution: its int32 sums (bias added) as float32, with their
    nominal range."""
    plan = sum_plan(ctx.graph, node, ctx.quantized_ranges[node.inputs[0]], ctx.int8_cpu)
    sums = _conv_sums if node.op == "_contrib_quantized_conv" else _linear_sums
    return _affine(ctx, plan, sums(ctx, node.attrs, plan), None, ctx.quantized_ranges[node.output()])


def _conv_sums(ctx: TorchContext, attrs: dict, plan: AffinePlan) -> str:
    """The int32 sums of a quantized 2-D convolution with the float op's ``attrs``."""
    stride, pad, dilate = window_geometry(attrs, 2)
    ctx.helper("mxnet_int8_pairs")
    return (f"{ctx.helper('mxnet_int8_conv2d')}({ctx.input(0)}, {ctx.layer}.weight, {list(stride)}, {list(pad)}, "
            f"{list(dilate)}, {attrs['num_group']}, {plan.saturating_pairs})")


def _linear_sums(ctx: TorchContext, attrs: dict, plan: AffinePlan) -> str:
    """The int32 sums of a quantized fully connected layer with the float op's ``attrs``."""
    x = ctx.input(0)
    if attrs["flatten"] and len(ctx.shape(0)) > 2:
        x = f"torch.flatten({x}, 1)"
    ctx.helper("mxnet_int8_pairs")
    return f"{ctx.helper('mxnet_int8_linear')}({x}, {ctx.layer}.weight, {plan.saturating_pairs}, {plan.data_shift})"


@register("_contrib_quantized_elemwise_add", "_contrib_quantized_elemwise_mul", check=refusal)
def quantized_elemwise(ctx: TorchContext, node: Node) -> Lowering:
    """An uncalibrated quantized add's int32 result (each operand times its factor onto the summed range, in
    float32, rounded to nearest, ties to even) or product's (of the integers, exact); a calibrated add's int8 or
    uint8 (each operand times its factor onto the output's scale, the uint8 operand beside an int8 one first
    rounded and saturated to int8, then rounded and saturated), a calibrated product's int8
    (``mxnet_int8_product``) or float32."""
    ranges = ctx.quantized_ranges
    check_operands(node, ranges)
    operands = [ranges[ref] for ref in node.inputs[:2]]
    x = [ctx.input(0), ctx.input(1)]
    if node.op == "_contrib_quantized_elemwise_mul":
        if node.attrs["min_calib_range"] is None and not node.attrs["enable_float_output"]:
            return Lowering(_range_outputs(f"{x[0]} * {x[1]}", ranges[node.output()]))
        scale = float(product_scale(node, *operands))
        if node.attrs["enable_float_output"]:
            return Lowering(f"{x[0]} * {x[1]} * {scale!r}")
        y = f"{ctx.helper('mxnet_int8_product')}({x[0]}, {x[1]}, {scale!r})"
        return Lowering(_range_outputs(y, ranges[node.output()]))
    out = ranges[node.output()]
    if node.attrs["min_calib_range"] is None:
        factors, bounds = add_scales(*operands), None
    else:
        factors, reordered = calibrated_add_factors(out, *operands)
        bounds = out.bounds
        if reordered is not None:
            x[reordered] = f"torch.round({x[reordered]} * {float(factors[reordered])!r}).clamp(-128.0, 127.0)"
            factors[reordered] = None
    terms = [value if factor is None else f"{value} * {float(factor)!r}" for value, factor in zip(x, factors)]
    y = f"torch.round({terms[0]} + {terms[1]})"
    return Lowering(_range_outputs(f"{y}.clamp({bounds[0]}, {bounds[1]})" if bounds else y, out))


@register("_contrib_quantized_embedding")
def quantized_embedding(ctx: TorchContext, node: Node) -> Lowering:
    """Rows of the int8 weight (held as floats), with the weight's stored range."""
    lowering = embedding(ctx, node)
    lowering.state = {key: value.astype(np.float32) for key, value in lowering.state.items()}
    lowering.expr = _range_outputs(lowering.expr, ctx.quantized_ranges[node.output()])
    return lowering

