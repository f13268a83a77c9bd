"""Convolution, Deconvolution and Pooling: the windowed ops, with MXNet's window arithmetic from
``semantics.convolution`` (explicit pads, ``full`` and ``same`` conventions, lp pooling, the divisors
of avg pooling)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from onnx import helper

from ..ir import Node
from ..semantics.convolution import (DEFORMABLE_CONVOLUTIONS, channels_first, deconvolution_geometry,
                                     deconvolution_refusal, deformable_taps, is_channels_last,
                                     is_modulated, negative_pad, one_hot_kernels, pooling_v1_as_pooling,
                                     pooling_v1_divisor, pooling_v1_refusal, pooling_windows, sliding_geometry,
                                     window_geometry, window_output)
from .context import EmitContext
from .registry import register


@register("Convolution", check=lambda n, opset: negative_pad(n) or (
    None if not n.attrs["layout"] or n.attrs["layout"].startswith("NC") else f"layout {n.attrs['layout']}"),
    computed_weights=True)
def convolution(ctx: EmitContext, node: Node) -> None:
    """``Conv``; a weight computed in the graph (a cross-correlation with another branch) is an input like any."""
    a = node.attrs
    stride, pad, dilate = window_geometry(a, len(a["kernel"]))
    inputs = [ctx.input(0), ctx.input(1)] + ([] if a["no_bias"] else [ctx.input(2)])
    ctx.add("Conv", inputs, ctx.output(), kernel_shape=list(a["kernel"]), strides=list(stride),
            dilations=list(dilate), pads=list(pad + pad), group=a["num_group"])


@register("Pooling", check=lambda n, opset: negative_pad(n))
def pooling(ctx: EmitContext, node: Node) -> None:
    """MXNet's windows (``pooling_windows``) on channel-first data; channels-last layouts are transposed."""
    a = node.attrs
    x, out, shape = ctx.input(0), ctx.output(), ctx.shape(0)
    rank = len(shape)
    last = is_channels_last(a["layout"])
    if last:
        x = ctx.add("Transpose", [x], perm=[0, rank - 1, *range(1, rank - 1)])
        out = ctx.temp("pooled")
    windows = pooling_windows(a, channels_first(shape, a["layout"]))
    kind, full = a["pool_type"], a["pooling_convention"] == "full"
    if kind == "lp":
        _lp_pooling(ctx, x, windows, a["global_pool"], a["p_value"], out, full)
    elif a["global_pool"]:
        if kind == "sum":
            ctx.reduce_sum(x, list(range(2, rank)), out)
        else:
            ctx.add("GlobalMaxPool" if kind == "max" else "GlobalAveragePool", [x], out)
    else:
        _window_pooling(ctx, kind, a["count_include_pad"] is not False, x, windows, out, full)
    if last:
        ctx.add("Transpose", [out], ctx.output(), perm=[0, *range(2, rank), 1])


@register("Pooling_v1", check=lambda n, opset: pooling_v1_refusal(n))
def pooling_v1(ctx: EmitContext, node: Node) -> None:
    """MXNet 0.x's pooling: its windows' pooling, avg sums divided by the whole kernel."""
    divisor = pooling_v1_divisor(node)
    if divisor == 1:
        pooling(ctx, pooling_v1_as_pooling(node))
        return
    windows = pooling_windows(pooling_v1_as_pooling(node).attrs, ctx.shape(0))
    summed = _window_pooling(ctx, "sum", True, ctx.input(0), windows, None,
                             node.attrs["pooling_convention"] == "full")
    ctx.add("Mul", [summed, ctx.const(1.0 / divisor, "inverse_area")], ctx.output())


def _lp_pooling(ctx: EmitContext, x: str, windows: list, global_pool: bool, p: int, out: str, full: bool) -> None:
    """MXNet's lp pooling: the p-th root of the window sum of ``x ** p`` (signed for odd p: p=1 is a plain sum)."""
    powered = x
    for _ in range(p - 1):
        powered = ctx.add("Mul", [powered, x])
    sum_out = out if p == 1 else None
    if global_pool:
        summed = ctx.reduce_sum(powered, list(range(2, 2 + len(windows))), sum_out)
    else:
        summed = _window_pooling(ctx, "sum", True, powered, windows, sum_out, full)
    if p == 2:
        ctx.add("Sqrt", [summed], out)
    elif p == 3:  # the real cube root: max(s, 0) ** (1/3) - max(-s, 0) ** (1/3)
        third = ctx.const(1.0 / 3.0, "third")
        positive = ctx.add("Pow", [ctx.add("Relu", [summed]), third])
        negative = ctx.add("Pow", [ctx.add("Relu", [ctx.add("Neg", [summed])]), third])
        ctx.add("Sub", [positive, negative], out)


def _window_pooling(ctx: EmitContext, kind: str, counted: bool, x: str, windows: list, out: str | None,
                    full: bool) -> str:
    """max, avg (its divisor counting the padding when ``counted``) or sum over MXNet's windows. ONNX's ceil mode
    is tried first for MXNet's ``full`` convention: where floor and ceil both fit one size, the choice then does
    not change with the size (a dynamic axis)."""
    kernel, strides, pads = ([w[i] for w in windows] for i in (1, 2, 3))
    modes = (True, False) if full else (False, True)
    ceil = next((c for c in modes if all(_onnx_pool_is_exact(kind, c, *w) for w in windows)), None)
    if ceil is None:
        return _explicit_pooling(ctx, kind, counted, x, windows, out)
    attrs = dict(kernel_shape=kernel, strides=strides, pads=pads + pads, ceil_mode=int(ceil))
    if kind == "max":
        return ctx.add("MaxPool", [x], out, **attrs)
    averaged = ctx.add("AveragePool", [x], out if kind == "avg" else None,
                       count_include_pad=int(counted or kind == "sum"), **attrs)
    if kind == "avg":
        return averaged
    return ctx.add("Mul", [averaged, ctx.const(float(math.prod(kernel)))], out)


def _onnx_pool_is_exact(kind: str, ceil: bool, size: int, kernel: int, stride: int, pad: int, count: int) -> bool:
    """Whether ONNX's own padding and ``ceil`` mode give MXNet's windows along one axis (ONNX takes pads smaller
    than the kernel only)."""
    if pad >= kernel:
        return False
    onnx_count = window_output(size, kernel, stride, pad, ceil=ceil)
    if ceil and (onnx_count - 1) * stride >= size + pad:  # ONNX drops a last window starting in the padding
        onnx_count -= 1
    # sum is computed as average x kernel size: wrong where a window overhangs the padding (smaller divisor)
    return onnx_count == count and not (kind == "sum" and (count - 1) * stride + kernel > size + 2 * pad)


def _explicit_pooling(ctx: EmitContext, kind: str, counted: bool, x: str, windows: list, out: str | None) -> str:
    """MXNet's windows exactly: pad explicitly, pool without padding, rescale each output by MXNet's divisor."""
    # padding at the end to hold the last window (none where the windows stop short of the data's end)
    pad_end = [max((count - 1) * stride + kernel - size - pad, 0) for size, kernel, stride, pad, count in windows]
    pad_value = np.finfo(ctx.float_type).min if kind == "max" else 0.0
    pads = ctx.ints([0, 0, *(w[3] for w in windows), 0, 0, *pad_end], "pads")
    padded = ctx.add("Pad", [x, pads, ctx.const(pad_value, "pad_value")], mode="constant")
    attrs = dict(kernel_shape=[w[1] for w in windows], strides=[w[2] for w in windows])
    if kind == "max":
        return ctx.add("MaxPool", [padded], out, **attrs)
    averaged = ctx.add("AveragePool", [padded], **attrs)
    divisors = [np.asarray(_mxnet_divisors(*w, kind == "avg" and counted)) for w in windows]
    divisor = divisors[0]
    for extra in divisors[1:]:
        divisor = np.multiply.outer(divisor, extra)
    window = math.prod(w[1] for w in windows)
    scale = window / np.where(divisor > 0, divisor, np.inf) if kind == "avg" else np.full(divisor.shape, window)
    return ctx.add("Mul", [averaged, ctx.const(scale.reshape(1, 1, *divisor.shape), "divisor")], out)


def _mxnet_divisors(size: int, kernel: int, stride: int, pad: int, count: int, counted: bool) -> list[int]:
    """MXNet's average divisor per window: clipped to the padded extent, or to the data without padding."""
    divisors = []
    for index in range(count):
        start = index * stride - pad
        end = min(start + kernel, size + pad)
        divisors.append(end - start if counted else max(min(end, size) - max(start, 0), 0))
    return divisors


@register("Deconvolution", check=lambda n, opset: deconvolution_refusal(n))
def deconvolution(ctx: EmitContext, node: Node) -> None:
    """ConvTranspose: MXNet's pad crops both ends of the full output, adj extends its end (ONNX output_padding)."""
    a = node.attrs
    stride, pad, adj, dilate = deconvolution_geometry(a, ctx.shape(0)[2:])
    inputs = [ctx.input(0), ctx.input(1)] + ([] if a["no_bias"] else [ctx.input(2)])
    ctx.add("ConvTranspose", inputs, ctx.output(), kernel_shape=list(a["kernel"]), strides=list(stride),
            dilations=list(dilate), pads=list(pad + pad), output_padding=list(adj), group=a["num_group"])


@dataclasses.dataclass
class _Sampling:
    """The sizes a deformable convolution's sampling reads, as ONNX tensors: the undeformed row and column of
    each tap at each output position (taps, positions), the data's height and width and their last row and
    column, the span of a padded data row, the padded position of each (image, deformable group)'s first data
    element (N, G, 1, 1), the int64 steps from a sample's first corner to its other three, and the output's shape."""

    rows: str
    cols: str
    height: str
    width: str
    last_row: str
    last_col: str
    span: str
    blocks: str
    steps: list[str]
    out_shape: str


def _sampling(ctx: EmitContext, node: Node) -> _Sampling:
    """The sizes read at run time from the data's and the offset's shapes, so that a dynamic axis needs no other
    form (as fast as constants: a few scalar ops per convolution); counted in int64 (ONNX Runtime infers a float
    Range over a size it knows at load time as mixing types)."""
    a = node.attrs
    stride, pad, _ = window_geometry(a, 2)
    deformable, float_type = a["num_deformable_group"], helper.np_dtype_to_tensor_dtype(ctx.float_type)
    data_dims = ctx.add("Shape", [ctx.input(0)])
    out_hw = ctx.add("Slice", [ctx.add("Shape", [ctx.input(1)]), ctx.ints([2]), ctx.ints([4])])

    def size(dims: str, axis: int) -> str:
        return ctx.add("Gather", [dims, ctx.const(axis, "axis", dtype=np.int64)])

    def count(dims: str, axis: int, along: list[int]) -> str:
        """0, 1, ... up to axis ``axis`` of ``dims``, shaped ``along``, in the float type."""
        zero, one = (ctx.const(value, "range", dtype=np.int64) for value in (0, 1))
        return ctx.add("Cast", [ctx.reshape(ctx.add("Range", [zero, size(dims, axis), one]), along)], to=float_type)

    one, two = ctx.const(1.0, "one"), ctx.const(2.0, "two")
    h, w = (ctx.add("Cast", [size(data_dims, axis)], to=float_type) for axis in (2, 3))
    taps = deformable_taps(node)
    grid = ctx.add("Concat", [ctx.ints([len(taps[0])]), out_hw], axis=0)
    grids = []
    for axis, along in ((0, [1, -1, 1]), (1, [1, 1, -1])):
        start = ctx.add("Mul", [count(out_hw, axis, along), ctx.const(float(stride[axis]), "stride")])
        moved = ctx.add("Add", [ctx.const(taps[axis].reshape(-1, 1, 1) - pad[axis], "taps"), start])
        grids.append(ctx.reshape(ctx.add("Expand", [moved, grid]), [len(taps[0]), -1]))
    span = ctx.add("Add", [w, two])
    image = ctx.add("Mul", [count(data_dims, 0, [-1, 1, 1, 1]), ctx.const(float(deformable), "groups")])
    block = ctx.add("Add", [image, ctx.const(np.arange(deformable).reshape(1, -1, 1, 1), "group")])
    area = ctx.add("Mul", [ctx.add("Add", [h, two]), span])
    blocks = ctx.add("Add", [ctx.add("Mul", [block, area]), ctx.add("Add", [span, one])])
    steps = [ctx.ints(1, "step"), ctx.add("Cast", [span], to=7)]  # int64
    steps.append(ctx.add("Add", [steps[1], steps[0]]))
    return _Sampling(*grids, h, w, ctx.add("Sub", [h, one]), ctx.add("Sub", [w, one]), span, blocks, steps,
                     ctx.add("Concat", [ctx.ints([0, a["num_filter"]]), out_hw], axis=0))


@register(*DEFORMABLE_CONVOLUTIONS)
def deformable_convolution(ctx: EmitContext, node: Node) -> None:
    """DCNv2 from opset 19: ``DeformConv``, whose sampling is MXNet's (zeros past the edges). Else MXNet's sampling
    (``deformable_taps``) spelled out: the four corners of each sample gathered from the data padded by one zero
    row and column on each side, weighted, then one MatMul per group (DCNv1 reads its last row alone, where
    DeformConv reads zeros past it). The grid and the data's sizes are read at run time (``_sampling``)."""
    a = node.attrs
    modulated = is_modulated(node)
    slot = 3 if modulated else 2
    if modulated and ctx.opset >= 19:
        stride, pad, dilate = window_geometry(a, 2)
        bias = "" if a["no_bias"] else ctx.input(slot + 1)
        ctx.add("DeformConv", [ctx.input(0), ctx.input(slot), ctx.input(1), bias, ctx.input(2)], ctx.output(),
                kernel_shape=list(a["kernel"]), strides=list(stride), pads=list(pad + pad), dilations=list(dilate),
                group=a["num_group"], offset_group=a["num_deformable_group"])
        return
    sizes = _sampling(ctx, node)
    c = ctx.shape(0)[1]
    groups, deformable = a["num_group"], a["num_deformable_group"]
    taps, grouped = a["kernel"][0] * a["kernel"][1], c // deformable
    moved = ctx.reshape(ctx.input(1), [0, deformable, taps, 2, -1])
    y, x = (ctx.add("Add", [grid, ctx.reshape(
        ctx.add("Slice", [moved, ctx.ints([i]), ctx.ints([i + 1]), ctx.ints([3])]), [0, deformable, taps, -1])])
        for i, grid in enumerate((sizes.rows, sizes.cols)))
    low, zero = ctx.const(-1.0 if modulated else 0.0, "low"), ctx.const(0.0, "zero")
    if modulated:  # -1 < y < H, -1 < x < W
        above = [ctx.add("Greater", [y, low]), ctx.add("Greater", [x, low])]
    else:  # 0 <= y < H, 0 <= x < W
        above = [ctx.add("Not", [ctx.add("Less", [y, low])]), ctx.add("Not", [ctx.add("Less", [x, low])])]
    below = [ctx.add("Less", [y, sizes.height]), ctx.add("Less", [x, sizes.width])]
    inside = ctx.add("And", [ctx.add("And", above), ctx.add("And", below)])
    if not modulated:  # the last row and column are read alone
        y = ctx.add("Min", [y, sizes.last_row])
        x = ctx.add("Min", [x, sizes.last_col])
    y, x = (ctx.add("Where", [inside, v, zero]) for v in (y, x))
    y0, x0 = ctx.add("Floor", [y]), ctx.add("Floor", [x])
    ly, lx = ctx.add("Sub", [y, y0]), ctx.add("Sub", [x, x0])
    one = ctx.const(1.0, "one")
    hy, hx = ctx.add("Sub", [one, ly]), ctx.add("Sub", [one, lx])
    # row-major positions in the padded data, offset to each (image, deformable group)'s block of rows
    flat = ctx.add("Add", [ctx.add("Add", [ctx.add("Mul", [y0, sizes.span]), x0]), sizes.blocks])
    corner = ctx.add("Cast", [flat], to=7)  # int64
    padded = ctx.add("Pad", [ctx.input(0), ctx.ints([0, 0, 1, 1, 0, 0, 1, 1], "pads")], mode="constant")
    table = ctx.add("Transpose", [ctx.reshape(padded, [0, deformable, grouped, -1])], perm=[0, 1, 3, 2])
    table = ctx.reshape(table, [-1, grouped])
    value = None
    for factor, step in zip((("hy", "hx"), ("hy", "lx"), ("ly", "hx"), ("ly", "lx")), [None, *sizes.steps]):
        index = corner if step is None else ctx.add("Add", [corner, step])
        sampled = ctx.add("Gather", [table, index], axis=0)  # (N, G, taps, positions, channels of the group)
        scale = ctx.add("Mul", [{"hy": hy, "ly": ly}[factor[0]], {"hx": hx, "lx": lx}[factor[1]]])
        term = ctx.add("Mul", [ctx.reshape(scale, [0, deformable, taps, -1, 1]), sampled])
        value = term if value is None else ctx.add("Add", [value, term])
    value = ctx.add("Where", [ctx.reshape(inside, [0, deformable, taps, -1, 1]), value, zero])
    if modulated:
        value = ctx.add("Mul", [value, ctx.reshape(ctx.input(2), [0, deformable, taps, -1, 1])])
    columns = ctx.add("Transpose", [value], perm=[0, 1, 4, 2, 3])  # (N, G, channels, taps, positions)
    columns = ctx.reshape(columns, [0, groups, c // groups * taps, -1])
    weight = ctx.graph.weight(node.inputs[slot].node)
    product = ctx.add("MatMul", [ctx.const(weight.reshape(groups, -1, c // groups * taps), "weight"), columns])
    if a["no_bias"]:
        ctx.add("Reshape", [product, sizes.out_shape], ctx.output())
        return
    bias = ctx.const(ctx.graph.weight(node.inputs[slot + 1].node).reshape(-1, 1, 1), "bias")
    ctx.add("Add", [ctx.add("Reshape", [product, sizes.out_shape]), bias], ctx.output())


@register("im2col")
def im2col(ctx: EmitContext, node: Node) -> None:
    """A grouped ``Conv`` whose one-hot kernels copy each window position to its own channel (exact: one product
    by 1, the rest by 0), its windows then flattened."""
    kernel, stride, pad, dilate = sliding_geometry(node.attrs)
    out = ctx.out_shape()
    weight = ctx.const(one_hot_kernels(ctx.shape(0)[1], kernel), "kernels")
    columns = ctx.add("Conv", [ctx.input(0), weight], kernel_shape=list(kernel), strides=list(stride),
                      pads=[*pad, *pad], dilations=list(dilate), group=ctx.shape(0)[1])
    ctx.add("Reshape", [columns, ctx.ints([0, out[1], out[2]])], ctx.output())


@register("col2im")
def col2im(ctx: EmitContext, node: Node) -> None:
    """A grouped ``ConvTranspose`` with im2col's one-hot kernels: each column back at its window, overlaps summed;
    ``output_padding`` restores the rows and columns no window reaches."""
    kernel, stride, pad, dilate = sliding_geometry(node.attrs)
    size, channels = node.attrs["output_size"], ctx.out_shape()[1]
    blocks = [window_output(size[i], kernel[i], stride[i], pad[i], dilate[i]) for i in range(2)]
    images = ctx.reshape(ctx.input(0), [0, ctx.shape(0)[1], *blocks])
    reached = [stride[i] * (blocks[i] - 1) + dilate[i] * (kernel[i] - 1) + 1 - 2 * pad[i] for i in range(2)]
    weight = ctx.const(one_hot_kernels(channels, kernel), "kernels")
    ctx.add("ConvTranspose", [images, weight], ctx.output(), kernel_shape=list(kernel), strides=list(stride),
            pads=[*pad, *pad], dilations=list(dilate), group=channels,
            output_padding=[size[i] - reached[i] for i in range(2)])
