"""Reductions: sum, mean, max, min, prod, nansum, nanprod, norm (``semantics.reduce.reduced_axes``), argmax and argmin."""
from __future__ import annotations

from onnx import helper

from ..ir import Node
from ..semantics.reduce import REDUCTIONS
from ..semantics.reduce import reduced_axes
from ..semantics.rules import axis_index
from .context import EmitContext
from .registry import register

_ONNX_REDUCE = {"sum": "ReduceSum", "nansum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax",
                "min": "ReduceMin", "prod": "ReduceProd", "nanprod": "ReduceProd", 1: "ReduceL1", 2: "ReduceL2"}


def _reduce(ctx: EmitContext, op_type: str, x: str, axes: tuple[int, ...], keepdims: bool) -> None:
    """``op_type`` over ``axes`` into the node's output; MXNet keeps one axis where every axis goes."""
    rank = len(ctx.shape(0))
    out = ctx.output()
    if not axes:  # exclude listed every axis: nothing is reduced
        ctx.add("Identity", [x], out)
        return
    every = len(axes) == rank and not keepdims
    target = ctx.temp("reduced") if every else out
    if op_type == "ReduceSum" and ctx.opset >= 13 or ctx.opset >= 18:
        ctx.add(op_type, [x, ctx.ints(axes, "axes")], target, keepdims=int(keepdims))
    else:
        ctx.add(op_type, [x], target, axes=list(axes), keepdims=int(keepdims))
    if every:
        ctx.reshape(target, [1], out)


@register(*REDUCTIONS)
def reduction(ctx: EmitContext, node: Node) -> None:
    x = ctx.input(0)
    if node.op in ("nansum", "nanprod"):  # NaN counts as the identity of the reduction
        identity = ctx.const(0.0 if node.op == "nansum" else 1.0, "identity")
        x = ctx.add("Where", [ctx.add("IsNaN", [x]), identity, x])
    _reduce(ctx, _ONNX_REDUCE[node.op], x, reduced_axes(node.attrs, len(ctx.shape(0))), node.attrs["keepdims"])


@register("norm")
def norm(ctx: EmitContext, node: Node) -> None:
    axes = reduced_axes(node.attrs, len(ctx.shape(0)))
    _reduce(ctx, _ONNX_REDUCE[node.attrs["ord"]], ctx.input(0), axes, node.attrs["keepdims"])


@register("argmax", "argmin")
def arg_reduction(ctx: EmitContext, node: Node) -> None:
    """The first index of the extreme value, as a float (MXNet's output type); no axis: of the flattened data."""
    a, x, rank = node.attrs, ctx.input(0), len(ctx.shape(0))
    op_type = "ArgMax" if node.op == "argmax" else "ArgMin"
    if a["axis"] is None:
        index = ctx.add(op_type, [ctx.reshape(x, [-1])], axis=0, keepdims=1)
        if a["keepdims"]:
            index = ctx.reshape(index, [1] * rank)
    else:
        index = ctx.add(op_type, [x], axis=axis_index(a["axis"], rank), keepdims=int(a["keepdims"]))
        if not a["keepdims"] and rank == 1:
            index = ctx.reshape(index, [1])
    ctx.add("Cast", [index], ctx.output(), to=helper.np_dtype_to_tensor_dtype(ctx.float_type))
