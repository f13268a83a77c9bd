"""Padding, cropping and resizing: Pad, Crop, AdaptiveAvgPooling2D, BilinearResize2D, UpSampling and ROIPooling,
with MXNet's windows and sampling grids (``semantics.resize``: pad_widths, adaptive_bins, resize_output_size)."""
from __future__ import annotations

import numpy as np
from onnx import helper

from ..ir import Node
from ..semantics.resize import (IMAGE_FLIP_AXIS, OPENCV_OPS, adaptive_bins, adaptive_output_size,
                                bilinear_upsampling_window, crop_offsets, image_crop_ranges, lighting_shift,
                                negative_pad_width, normalize_terms, numpy_pad_fill, numpy_pad_sources,
                                numpy_pad_widths, opencv_refusal, pad_constant, pad_widths, upsampling_factors)
from .context import EmitContext
from .registry import refuse, register


@register("Pad", check=lambda n, opset: negative_pad_width(n))
def pad(ctx: EmitContext, node: Node) -> None:
    pairs = pad_widths(node.attrs, ctx.shape(0))
    pads = ctx.ints([before for before, _ in pairs] + [after for _, after in pairs], "pads")
    mode = node.attrs["mode"]
    value = [ctx.const(pad_constant(node.attrs), "value")] if mode == "constant" else []
    ctx.add("Pad", [ctx.input(0), pads, *value], ctx.output(), mode=mode)


@register("_npi_pad")
def numpy_pad(ctx: EmitContext, node: Node) -> None:
    """constant: one Pad. Else axis by axis from the last, as MXNet's kernels pad: a Gather of each element's
    source along the axis (for maximum and minimum, the axis's extreme appended after the data)."""
    pairs, mode = numpy_pad_widths(node.attrs, ctx.shape(0)), node.attrs["mode"]
    x = ctx.input(0)
    if mode == "constant":
        pads = ctx.ints([before for before, _ in pairs] + [after for _, after in pairs], "pads")
        fill = numpy_pad_fill(node.attrs["constant_value"], ctx.dtypes[node.output()])
        ctx.add("Pad", [x, pads, ctx.const(fill, "value")], ctx.output(), mode="constant")
        return
    for axis in reversed(range(len(pairs))):
        (before, after), size = pairs[axis], ctx.shape(0)[axis]
        if not before + after:
            continue
        if mode in ("maximum", "minimum"):
            reduce = "ReduceMax" if mode == "maximum" else "ReduceMin"
            extreme = (ctx.add(reduce, [x, ctx.ints([axis], "axes")]) if ctx.opset >= 18 else
                       ctx.add(reduce, [x], axes=[axis]))
            x = ctx.add("Concat", [x, extreme], axis=axis)
        x = ctx.add("Gather", [x, ctx.ints(numpy_pad_sources(mode, before, after, size), "sources")], axis=axis)
    ctx.add("Identity", [x], ctx.output())


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
    """Nearest: each input resized by its integer factors, then summed or concatenated. Bilinear: MXNet's
    depthwise deconvolution with the weight input (``semantics.resize.bilinear_upsampling_window``)."""
    if node.attrs["sample_type"] == "nearest":
        factors = upsampling_factors([ctx.shape(i) for i in range(len(node.inputs))], ctx.out_shape())
        roi = ctx.const(np.zeros(0, np.float32), "roi", dtype=np.float32)
        outputs = [ctx.output()] if len(factors) == 1 else [None] * len(factors)
        scaled = [ctx.add("Resize", [ctx.input(i), roi, ctx.const(np.array([1, 1, *f], np.float32), "scales",
                                                                  dtype=np.float32)],
                          out, mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
                  for i, (f, out) in enumerate(zip(factors, outputs))]
        if len(scaled) > 1:
            if node.attrs["multi_input_mode"] == "sum":
                ctx.add("Sum", scaled, ctx.output())
            else:
                ctx.add("Concat", scaled, ctx.output(), axis=1)
        return
    kernel, stride, pad_size = bilinear_upsampling_window(node.attrs["scale"])
    ctx.add("ConvTranspose", [ctx.input(0), ctx.input(1)], ctx.output(), group=ctx.shape(0)[1],
            kernel_shape=[kernel] * 2, strides=[stride] * 2, pads=[pad_size] * 4)


@register("ROIPooling")
def roi_pooling(ctx: EmitContext, node: Node) -> None:
    """MaxRoiPool, which rounds, bins and clips boxes as MXNet does (empty bins give 0); a box whose batch index
    (truncated) is outside the data gives 0 in MXNet: it is pooled from image 0 and zeroed."""
    x, rois = ctx.input(0), ctx.input(1)
    column = ctx.add("Gather", [rois, ctx.ints([0], "column")], axis=1)  # (R, 1)
    batch = ctx.add("Mul", [ctx.add("Sign", [column]), ctx.add("Floor", [ctx.add("Abs", [column])])])
    if ctx.batch_dynamic:
        batch_size = ctx.add("Cast", [ctx.add("Gather", [ctx.add("Shape", [x]), ctx.ints([0], "batch_axis")])],
                             to=helper.np_dtype_to_tensor_dtype(ctx.float_type))
    else:
        batch_size = ctx.const([float(ctx.shape(0)[0])], "batch_size")
    zero = ctx.const(0.0, "zero")
    valid = ctx.add("And", [ctx.add("Not", [ctx.add("Less", [batch, zero])]), ctx.add("Less", [batch, batch_size])])
    boxes = ctx.add("Slice", [rois, ctx.ints([1], "starts"), ctx.ints([5], "ends"), ctx.ints([1], "axes")])
    scale = node.attrs["spatial_scale"]
    if scale == 0:  # every box scales to pixel 0; MaxRoiPool takes positive scales only
        boxes, scale = ctx.add("Mul", [boxes, zero]), 1.0
    safe = ctx.add("Concat", [ctx.add("Where", [valid, batch, zero]), boxes], axis=1)
    pooled = ctx.add("MaxRoiPool", [x, safe], pooled_shape=list(node.attrs["pooled_size"]), spatial_scale=scale)
    ctx.add("Where", [ctx.unsqueeze(valid, [2, 3]), pooled, zero], ctx.output())


@register("Crop")
def crop(ctx: EmitContext, node: Node) -> None:
    in_shape, out_shape = ctx.shape(0), ctx.out_shape()
    top, left = crop_offsets(node, in_shape, out_shape[2:4])
    starts = ctx.ints([top, left], "starts")
    ends = ctx.ints([top + out_shape[2], left + out_shape[3]], "ends")
    ctx.add("Slice", [ctx.input(0), starts, ends, ctx.ints([2, 3], "axes")], ctx.output())


@register("_image_to_tensor")
def image_to_tensor(ctx: EmitContext, node: Node) -> None:
    """HWC to CHW (each image of a batch), divided by 255 as MXNet divides."""
    lead = list(range(len(ctx.shape(0)) - 3))
    moved = ctx.add("Transpose", [ctx.input(0)], perm=[*lead, len(lead) + 2, len(lead), len(lead) + 1])
    ctx.add("Div", [moved, ctx.const(255.0, "scale")], ctx.output())


@register("_image_normalize")
def image_normalize(ctx: EmitContext, node: Node) -> None:
    mean, std = normalize_terms(node.attrs, ctx.shape(0))
    column = (len(mean), 1, 1)
    centred = ctx.add("Sub", [ctx.input(0), ctx.const(np.reshape(mean, column), "mean")])
    ctx.add("Div", [centred, ctx.const(np.reshape(std, column), "std")], ctx.output())


@register("_image_flip_left_right", "_image_flip_top_bottom")
def image_flip(ctx: EmitContext, node: Node) -> None:
    axis = IMAGE_FLIP_AXIS[node.op]
    size = ctx.shape(0)[axis]
    ctx.add("Slice", [ctx.input(0), ctx.ints([size - 1]), ctx.ints([-size - 1]), ctx.ints([axis], "axes"),
                      ctx.ints([-1], "steps")], ctx.output())


@register("_image_adjust_lighting")
def adjust_lighting(ctx: EmitContext, node: Node) -> None:
    ctx.add("Add", [ctx.input(0), ctx.const(lighting_shift(node.attrs), "shift")], ctx.output())


@register("_image_crop")
def image_crop(ctx: EmitContext, node: Node) -> None:
    ranges = image_crop_ranges(node.attrs, ctx.shape(0))
    ctx.add("Slice", [ctx.input(0), ctx.ints([begin for begin, _ in ranges]), ctx.ints([end for _, end in ranges])],
            ctx.output())


refuse(*OPENCV_OPS, reason=opencv_refusal)
