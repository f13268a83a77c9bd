"""Spatial transformers and flow: GridGenerator, BilinearSampler, SpatialTransformer and Correlation, as MXNet
computes them (``semantics.spatial``: affine_target_grid, warp_scales, correlation_windows). The sampler is
GatherElements of the four neighbours at every opset: GridSample (opset 16) samples the same points but computes
the pixel positions in another order."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto

from ..ir import Node
from ..semantics.spatial import affine_target_grid, correlation_windows, warp_scales
from .context import EmitContext
from .registry import register


def _affine_grid(ctx: EmitContext, node: Node, theta: str, out: str | None = None) -> str:
    """(batch, 2, height, width): each affine matrix (2 x 3) times the target grid's columns (x, y, 1)."""
    height, width = node.attrs["target_shape"]
    target = ctx.const(affine_target_grid(node.attrs, node.op), "target")
    moved = ctx.add("MatMul", [ctx.reshape(theta, [0, 2, 3]), target])
    return ctx.reshape(moved, [0, 2, height, width], out)


@register("GridGenerator")
def grid_generator(ctx: EmitContext, node: Node) -> None:
    if node.attrs["transform_type"] == "affine":
        _affine_grid(ctx, node, ctx.input(0), ctx.output())
        return
    shape = ctx.shape(0)
    cols, rows = np.meshgrid(np.arange(shape[3]), np.arange(shape[2]))
    moved = ctx.add("Add", [ctx.input(0), ctx.const(np.stack([cols, rows]), "pixels")])
    scaled = ctx.add("Div", [moved, ctx.const(np.reshape(warp_scales(shape), (2, 1, 1)), "scales")])
    ctx.add("Sub", [scaled, ctx.const(1.0, "one")], ctx.output())


def _pixels(ctx: EmitContext, flat: str, rows: str, cols: str, size: tuple[int, int, int]) -> str:
    """The pixels of ``flat`` (batch, channels, height * width) at whole-number ``rows`` and ``cols`` (batch, 1,
    points), 0 outside the image."""
    channels, height, width = size
    zero = ctx.const(0.0, "zero")
    inside = None
    for at, last in ((rows, height - 1), (cols, width - 1)):
        within = ctx.add("And", [ctx.add("Not", [ctx.add("Less", [at, zero])]),
                                 ctx.add("Not", [ctx.add("Greater", [at, ctx.const(float(last), "last")])])])
        inside = within if inside is None else ctx.add("And", [inside, within])
    position = ctx.add("Add", [ctx.add("Mul", [rows, ctx.const(float(width), "width")]), cols])
    index = ctx.add("Cast", [ctx.add("Where", [inside, position, zero])], to=TensorProto.INT64)
    index = ctx.add("Expand", [index, ctx.ints([1, channels, 1])])
    values = ctx.add("GatherElements", [flat, index], axis=2)
    return ctx.add("Where", [inside, values, zero])


def _sample(ctx: EmitContext, x: str, grid: str, out_size: tuple[int, int], out: str) -> None:
    """MXNet's bilinear sampling of NCHW ``x`` (input 0) at ``grid`` (batch, 2, out height, out width)."""
    channels, height, width = ctx.shape(0)[1:]
    points = ctx.reshape(grid, [0, 2, out_size[0] * out_size[1]])
    one = ctx.const(1.0, "one")
    corners, weights = [], []
    for axis, size in ((1, height), (0, width)):  # rows (y), then columns (x)
        coords = ctx.add("Gather", [points, ctx.ints([axis], "axis")], axis=1)
        scaled = ctx.add("Div", [ctx.add("Mul", [ctx.add("Add", [coords, one]), ctx.const(float(size - 1), "size")]),
                                 ctx.const(2.0, "two")])
        low = ctx.add("Floor", [scaled])
        corners.append((low, ctx.add("Add", [low, one])))
        low_w = ctx.add("Sub", [one, ctx.add("Sub", [scaled, low])])
        weights.append((low_w, ctx.add("Sub", [one, low_w])))
    flat = ctx.reshape(x, [0, channels, height * width])
    total = None
    for row, row_w in zip(corners[0], weights[0]):
        for col, col_w in zip(corners[1], weights[1]):
            value = _pixels(ctx, flat, row, col, (channels, height, width))
            term = ctx.add("Mul", [ctx.add("Mul", [value, row_w]), col_w])
            total = term if total is None else ctx.add("Add", [total, term])
    ctx.reshape(total, [0, channels, *out_size], out)


@register("BilinearSampler")
def bilinear_sampler(ctx: EmitContext, node: Node) -> None:
    _sample(ctx, ctx.input(0), ctx.input(1), ctx.out_shape()[2:], ctx.output())


@register("SpatialTransformer")
def spatial_transformer(ctx: EmitContext, node: Node) -> None:
    """The affine grid of the target shape, then the bilinear sampler."""
    _sample(ctx, ctx.input(0), _affine_grid(ctx, node, ctx.input(1)), ctx.out_shape()[2:], ctx.output())


@register("Correlation")
def correlation(ctx: EmitContext, node: Node) -> None:
    """Per offset, the channel sum of the products (absolute differences) of the padded inputs' windows; then the
    k x k window sums, every stride1 (strided slices added), divided by the count."""
    w = correlation_windows(node.attrs, ctx.shape(0))
    pads = ctx.ints([0, 0, w.pad, w.pad] * 2, "pads")
    first, second = (ctx.add("Pad", [ctx.input(i), pads], mode="constant") for i in (0, 1))
    rows, cols = w.span(w.height), w.span(w.width)
    axes = ctx.ints([2, 3], "axes")

    def window(x: str, top: int, left: int, height: int, width: int, steps: str | None = None) -> str:
        extra = [axes, steps] if steps else [axes]
        return ctx.add("Slice", [x, ctx.ints([top, left], "starts"), ctx.ints([top + height, left + width], "ends"),
                                 *extra])

    base = window(first, w.start, w.start, rows, cols)
    maps = []
    for dy, dx in w.offsets:
        shifted = window(second, w.start + dy, w.start + dx, rows, cols)
        term = (ctx.add("Mul", [base, shifted]) if node.attrs["is_multiply"]
                else ctx.add("Abs", [ctx.add("Sub", [base, shifted])]))
        maps.append(ctx.reduce_sum(term, [1]))
    stacked = ctx.add("Concat", maps, axis=1) if len(maps) > 1 else maps[0]
    steps = ctx.ints([w.stride1] * 2, "steps")
    span = ((w.height - 1) * w.stride1 + 1, (w.width - 1) * w.stride1 + 1)
    sums = [window(stacked, h, x, *span, steps) for h in range(w.kernel) for x in range(w.kernel)]
    summed = ctx.add("Sum", sums) if len(sums) > 1 else sums[0]
    ctx.add("Div", [summed, ctx.const(float(w.kernel * w.kernel * ctx.shape(0)[1]), "count")], ctx.output())
