"""Padding and resizing: Pad, AdaptiveAvgPooling2D, BilinearResize2D, bilinear UpSampling and ROIPooling, with
MXNet's windows and sampling grids (``shapes``: pad_widths, adaptive_bins, resize_output_size)."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from ..ir import Node
from ..shapes import (adaptive_bins, adaptive_output_size, bilinear_upsampling_window, negative_pad_width,
                      pad_constant, pad_widths)
from .context import EmitContext
from .ops import upsampling as nearest_upsampling
from .registry import register


@register("Pad", check=lambda n, opset: negative_pad_width(n))
def pad(ctx: EmitContext, node: Node) -> None:
    pairs = pad_widths(node.attrs, ctx.shape(0))
    pads = ctx.ints([before for before, _ in pairs] + [after for _, after in pairs], "pads")
    mode = node.attrs["mode"]
    value = [ctx.const(pad_constant(node.attrs), "value")] if mode == "constant" else []
    ctx.add("Pad", [ctx.input(0), pads, *value], ctx.output(), mode=mode)


def _averaging_matrix(size: int, count: int) -> np.ndarray:
    """(size, count) weights: column i averages MXNet's adaptive bin i."""
    matrix = np.zeros((size, count))
    for i, (start, end) in enumerate(adaptive_bins(size, count)):
        matrix[start:end, i] = 1.0 / (end - start)
    return matrix


@register("_contrib_AdaptiveAvgPooling2D")
def adaptive_avg_pooling(ctx: EmitContext, node: Node) -> None:
    """1 x 1: GlobalAveragePool; else the bins' means as two matrix products (width, then height)."""
    (height, width), (out_h, out_w) = ctx.shape(0)[2:], adaptive_output_size(node.attrs)
    if (out_h, out_w) == (1, 1):
        ctx.add("GlobalAveragePool", [ctx.input(0)], ctx.output())
        return
    rows = ctx.add("MatMul", [ctx.input(0), ctx.const(_averaging_matrix(width, out_w), "width_bins")])
    swapped = ctx.add("Transpose", [rows], perm=[0, 1, 3, 2])
    pooled = ctx.add("MatMul", [swapped, ctx.const(_averaging_matrix(height, out_h), "height_bins")])
    ctx.add("Transpose", [pooled], ctx.output(), perm=[0, 1, 3, 2])


def _resize_sizes(ctx: EmitContext, x: str, size: tuple[int, int]) -> str:
    """Resize's ``sizes`` input: batch and channels kept (read at run time with a dynamic batch)."""
    if not ctx.batch_dynamic:
        return ctx.ints([*ctx.shape(0)[:2], *size], "sizes")
    leading = ctx.add("Slice", [ctx.add("Shape", [x]), ctx.ints([0], "starts"), ctx.ints([2], "ends")])
    return ctx.add("Concat", [leading, ctx.ints(size, "sizes")], axis=0)


@register("_contrib_BilinearResize2D")
def bilinear_resize(ctx: EmitContext, node: Node) -> None:
    """Resize (linear) to the output size. Without align_corners MXNet samples row 0 (column 0) where the
    output has one row (column), where ONNX's half_pixel samples the middle: that axis is sliced first."""
    x, size = ctx.input(0), ctx.out_shape()[2:]
    align = node.attrs["align_corners"]
    single = [axis for axis, out in zip((2, 3), size) if out == 1 and not align]
    if single:
        ones = [1] * len(single)
        x = ctx.add("Slice", [x, ctx.ints([0] * len(single), "starts"), ctx.ints(ones, "ends"),
                              ctx.ints(single, "axes")])
    empty = ctx.const(np.zeros(0, np.float32), "empty", dtype=np.float32)
    ctx.add("Resize", [x, empty, empty, _resize_sizes(ctx, x, size)], ctx.output(), mode="linear",
            coordinate_transformation_mode="align_corners" if align else "half_pixel")


@register("UpSampling")
def upsampling(ctx: EmitContext, node: Node) -> None:
    """Bilinear: MXNet's depthwise deconvolution with the weight input (``shapes.bilinear_upsampling_window``)."""
    if node.attrs["sample_type"] == "nearest":
        nearest_upsampling(ctx, node)
        return
    kernel, stride, pad_size = bilinear_upsampling_window(node.attrs["scale"])
    ctx.add("ConvTranspose", [ctx.input(0), ctx.input(1)], ctx.output(), group=ctx.shape(0)[1],
            kernel_shape=[kernel] * 2, strides=[stride] * 2, pads=[pad_size] * 4)


def _reduce_max(ctx: EmitContext, x: str, axis: int) -> str:
    if ctx.opset >= 18:
        return ctx.add("ReduceMax", [x, ctx.ints([axis], "axes")], keepdims=0)
    return ctx.add("ReduceMax", [x], axes=[axis], keepdims=0)


def _not_less(ctx: EmitContext, a: str, b: str) -> str:
    return ctx.add("Not", [ctx.add("Less", [a, b])])


def _roi_bins(ctx: EmitContext, start: str, end: str, pooled: int, size: int) -> tuple[str, str]:
    """For boxes spanning ``start``..``end`` (rounded, (R, 1)): which of ``size`` positions each of ``pooled``
    bins covers, (R, pooled, size), and which bins are empty, (R, pooled). Bin p spans floor(p * bin) to
    ceil((p + 1) * bin) from the start, bin = max(end - start + 1, 1) / pooled, clipped to the data."""
    one = ctx.const(1.0, "one")
    extent = ctx.add("Max", [ctx.add("Add", [ctx.add("Sub", [end, start]), one]), one])
    step = ctx.add("Div", [extent, ctx.const(float(pooled), "pooled")])
    bins = ctx.const(np.arange(pooled).reshape(1, -1), "bins")
    low, high = ctx.const(0.0, "zero"), ctx.const(float(size), "size")
    lo = ctx.add("Clip", [ctx.add("Add", [ctx.add("Floor", [ctx.add("Mul", [bins, step])]), start]), low, high])
    hi = ctx.add("Clip", [ctx.add("Add", [ctx.add("Ceil", [ctx.add("Mul", [ctx.add("Add", [bins, one]), step])]),
                                          start]), low, high])
    positions = ctx.const(np.arange(size).reshape(1, 1, -1), "positions")
    lo3, hi3 = ctx.unsqueeze(lo, [2]), ctx.unsqueeze(hi, [2])
    covers = ctx.add("And", [_not_less(ctx, positions, lo3), ctx.add("Less", [positions, hi3])])
    return covers, _not_less(ctx, lo, hi)


@register("ROIPooling")
def roi_pooling(ctx: EmitContext, node: Node) -> None:
    """MXNet's max over each bin of each box (rows [batch, x1, y1, x2, y2] scaled and rounded half away from
    zero); an empty bin or a batch index outside the data gives 0. The maximum is taken over the width, then
    over the height, through masks of the bins."""
    x, rois = ctx.input(0), ctx.input(1)
    batch_size, _, height, width = ctx.shape(0)
    pooled_h, pooled_w = node.attrs["pooled_size"]
    column = ctx.add("Gather", [rois, ctx.ints([0], "column")], axis=1)  # (R, 1)
    batch = ctx.add("Mul", [ctx.add("Sign", [column]), ctx.add("Floor", [ctx.add("Abs", [column])])])  # truncated
    zero = ctx.const(0.0, "zero")
    if ctx.batch_dynamic:
        batch_size = ctx.add("Cast", [ctx.add("Gather", [ctx.add("Shape", [x]), ctx.ints([0], "batch_axis")])],
                             to=helper.np_dtype_to_tensor_dtype(ctx.float_type))
    else:
        batch_size = ctx.const([float(batch_size)], "batch_size")
    valid = ctx.add("And", [_not_less(ctx, batch, zero), ctx.add("Less", [batch, batch_size])])
    safe = ctx.add("Cast", [ctx.add("Where", [valid, batch, zero])], to=TensorProto.INT64)
    boxes = ctx.add("Mul", [ctx.add("Slice", [rois, ctx.ints([1], "starts"), ctx.ints([5], "ends"),
                                              ctx.ints([1], "axes")]),
                            ctx.const(node.attrs["spatial_scale"], "scale")])
    rounded = ctx.add("Mul", [ctx.add("Sign", [boxes]),
                              ctx.add("Floor", [ctx.add("Add", [ctx.add("Abs", [boxes]), ctx.const(0.5, "half")])])])
    x1, y1, x2, y2 = (ctx.add("Gather", [rounded, ctx.ints([i], "column")], axis=1) for i in range(4))
    cols, cols_empty = _roi_bins(ctx, x1, x2, pooled_w, width)
    rows, rows_empty = _roi_bins(ctx, y1, y2, pooled_h, height)
    data = ctx.add("Gather", [x, ctx.reshape(safe, [-1])], axis=0)  # (R, C, H, W)
    lowest = ctx.const(np.finfo(ctx.float_type).min, "lowest")
    over_width = ctx.add("Where", [ctx.unsqueeze(cols, [1, 2]), ctx.unsqueeze(data, [3]), lowest])
    by_width = _reduce_max(ctx, over_width, 4)  # (R, C, H, PW)
    over_height = ctx.add("Where", [ctx.unsqueeze(rows, [1, 4]), ctx.unsqueeze(by_width, [2]), lowest])
    pooled = _reduce_max(ctx, over_height, 3)  # (R, C, PH, PW)
    empty = ctx.add("Or", [ctx.add("Or", [ctx.unsqueeze(ctx.add("Not", [valid]), [2, 3]),
                                          ctx.unsqueeze(rows_empty, [1, 3])]), ctx.unsqueeze(cols_empty, [1, 2])])
    ctx.add("Where", [empty, zero, pooled], ctx.output())
