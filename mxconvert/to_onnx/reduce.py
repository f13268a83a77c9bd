"""Reductions: sum, mean, max, min, prod, nansum, nanprod, _square_sum, norm (``semantics.reduce.node_axes``), argmax
and argmin, moments, NumPy's all, any, std, var and cumsum."""
from __future__ import annotations

import numpy as np
from onnx import helper

from ..ir import Node
from ..semantics.reduce import (REDUCTIONS, moments_axes, node_axes,
                                percentile_taps, square_sum_refusal)
from ..semantics.schema import numpy_spelled
from ..semantics.rules import axis_index
from .context import EmitContext
from .registry import register

_ONNX_REDUCE = {"sum": "ReduceSum", "nansum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax",
                "min": "ReduceMin", "prod": "ReduceProd", "nanprod": "ReduceProd", "_square_sum": "ReduceSum",
                1: "ReduceL1", 2: "ReduceL2"}


def _reduce(ctx: EmitContext, op_type: str, x: str, axes: tuple[int, ...], keepdims: bool,
            out: str | None = None) -> str:
    """``op_type`` over ``axes`` into ``out`` (the node's output); MXNet keeps one axis where every axis goes
    (NumPy's spellings none)."""
    rank = len(ctx.shape(0))
    out = out or ctx.output()
    if not axes:  # exclude listed every axis: nothing is reduced
        return ctx.add("Identity", [x], out)
    every = len(axes) == rank and not keepdims and not numpy_spelled(ctx.current)
    target = ctx.temp("reduced") if every else out
    if op_type == "ReduceSum" and ctx.opset >= 13 or ctx.opset >= 18:
        ctx.add(op_type, [x, ctx.ints(axes, "axes")], target, keepdims=int(keepdims))
    else:
        ctx.add(op_type, [x], target, axes=list(axes), keepdims=int(keepdims))
    if every:
        ctx.reshape(target, [1], out)
    return out


@register(*REDUCTIONS, check=square_sum_refusal)
def reduction(ctx: EmitContext, node: Node) -> None:
    x = ctx.input(0)
    if node.op in ("nansum", "nanprod"):  # NaN counts as the identity of the reduction
        identity = ctx.const(0.0 if node.op == "nansum" else 1.0, "identity")
        x = ctx.add("Where", [ctx.add("IsNaN", [x]), identity, x])
    elif node.op == "_square_sum":
        x = ctx.add("Mul", [x, x])
    _reduce(ctx, _ONNX_REDUCE[node.op], x, node_axes(node, len(ctx.shape(0))), node.attrs["keepdims"])


@register("_np_all", "_np_any")
def truth(ctx: EmitContext, node: Node) -> None:
    """Whether every (any) element is non-zero: the minimum (maximum) of 1 or 0 per element."""
    truths = ctx.add("Cast", [ctx.add("Not", [ctx.add("Equal", [ctx.input(0), ctx.const(0.0)])])],
                     to=helper.np_dtype_to_tensor_dtype(ctx.float_type))
    op_type = "ReduceMin" if node.op == "_np_all" else "ReduceMax"
    _reduce(ctx, op_type, truths, node_axes(node, len(ctx.shape(0))), node.attrs["keepdims"])


@register("_npi_std", "_npi_var")
def spread(ctx: EmitContext, node: Node) -> None:
    """The mean squared deviation from the mean over ``n - ddof`` elements; std its square root."""
    x, shape = ctx.input(0), ctx.shape(0)
    axes = node_axes(node, len(shape))
    count = int(np.prod([shape[axis] for axis in axes])) - node.attrs["ddof"]
    mean = _reduce(ctx, "ReduceMean", x, axes, True, ctx.temp("mean"))  # NumPy's axis=(): each value its own
    deviation = ctx.add("Sub", [x, mean])
    squares = _reduce(ctx, "ReduceSum", ctx.add("Mul", [deviation, deviation]), axes, node.attrs["keepdims"],
                      ctx.temp("squares"))
    if node.op == "_npi_var":
        ctx.add("Div", [squares, ctx.const(float(count))], ctx.output())
    else:
        ctx.add("Sqrt", [ctx.add("Div", [squares, ctx.const(float(count))])], ctx.output())


@register("moments")
def moments(ctx: EmitContext, node: Node) -> None:
    """The mean over ``axes`` and the mean squared deviation from it."""
    x, keepdims = ctx.input(0), node.attrs["keepdims"]
    axes = moments_axes(node, len(ctx.shape(0)))
    mean = _reduce(ctx, "ReduceMean", x, axes, True, ctx.output(0) if keepdims else ctx.temp("mean"))
    if not keepdims:
        ctx.reshape(mean, list(ctx.out_shape(0)), ctx.output(0))
    deviation = ctx.add("Sub", [x, mean])
    _reduce(ctx, "ReduceMean", ctx.add("Mul", [deviation, deviation]), axes, keepdims, ctx.output(1))


@register("_np_cumsum")
def cumsum(ctx: EmitContext, node: Node) -> None:
    """A running sum along ``axis`` (no axis: of the flattened data)."""
    x, axis = ctx.input(0), node.attrs["axis"]
    if axis is None:
        x, axis = ctx.reshape(x, [-1]), 0
    ctx.add("CumSum", [x, ctx.const(np.array(axis_index(axis, max(len(ctx.shape(0)), 1))), "axis", dtype=np.int64)],
            ctx.output())


@register("norm")
def norm(ctx: EmitContext, node: Node) -> None:
    """L1 and L2 as ONNX's reductions; NumPy's other orders as MXNet's kernel computes them, over the non-zero
    elements: their count for ord 0, else the sum of their ``|x| ** ord`` to the power ``1 / ord`` (0 where none)."""
    x, order, keepdims = ctx.input(0), node.attrs["ord"], node.attrs["keepdims"]
    axes = node_axes(node, len(ctx.shape(0)))
    if order in (1, 2):
        _reduce(ctx, _ONNX_REDUCE[order], x, axes, keepdims)
        return
    zero = ctx.const(0.0, "zero")
    nonzero = ctx.add("Not", [ctx.add("Equal", [x, zero])])
    if order == 0:
        count = ctx.add("Cast", [nonzero], to=helper.np_dtype_to_tensor_dtype(ctx.float_type))
        _reduce(ctx, "ReduceSum", count, axes, keepdims)
        return
    powers = ctx.add("Where", [nonzero, ctx.add("Pow", [ctx.add("Abs", [x]), ctx.const(order, "order")]), zero])
    total = _reduce(ctx, "ReduceSum", powers, axes, keepdims, ctx.temp("powers_sum"))
    root = ctx.add("Pow", [total, ctx.const(1 / order, "inverse_order")])
    ctx.add("Where", [ctx.add("Equal", [total, zero]), zero, root], ctx.output())


@register("argmax", "argmin")
def arg_reduction(ctx: EmitContext, node: Node) -> None:
    """The first index of the extreme value, as a float (MXNet's output type); no axis: of the flattened data."""
    a, x, rank = node.attrs, ctx.input(0), len(ctx.shape(0))
    op_type = "ArgMax" if node.op == "argmax" else "ArgMin"
    numpy = numpy_spelled(node)
    if a["axis"] is None:
        index = ctx.add(op_type, [ctx.reshape(x, [-1])], axis=0, keepdims=1)
        if a["keepdims"] or numpy:
            index = ctx.reshape(index, [1] * rank if a["keepdims"] else [])
    else:
        index = ctx.add(op_type, [x], axis=axis_index(a["axis"], rank), keepdims=int(a["keepdims"]))
        if not a["keepdims"] and rank == 1 and not numpy:
            index = ctx.reshape(index, [1])
    ctx.add("Cast", [index], ctx.output(), to=helper.np_dtype_to_tensor_dtype(ctx.float_type))


@register("_npi_percentile")
def percentile(ctx: EmitContext, node: Node) -> None:
    """The reduced axes moved last and joined, sorted ascending (TopK of every value), read at MXNet's positions
    and weighted in float32."""
    shape, axes = ctx.shape(0), node_axes(node, len(ctx.shape(0)))
    kept = [axis for axis in range(len(shape)) if axis not in axes]
    order = [*kept, *axes]
    moved = ctx.input(0) if order == sorted(order) else ctx.add("Transpose", [ctx.input(0)], perm=order)
    count = int(np.prod([shape[axis] for axis in axes]))
    flat = ctx.reshape(moved, [*(shape[axis] for axis in kept), count])
    values = ctx.add("TopK", [flat, ctx.ints([count], "k")], [ctx.temp("sorted"), ctx.temp("order")], axis=-1,
                     largest=0, sorted=1)
    total = None
    for position, weight in percentile_taps(node.attrs, count):
        tap = ctx.add("Gather", [values, ctx.ints(position, "position")], axis=-1)
        tap = ctx.add("Mul", [tap, ctx.const(weight, "weight")]) if weight != 1.0 else tap
        total = tap if total is None else ctx.add("Add", [total, tap])
    ctx.reshape(total, ctx.out_shape(), ctx.output())
