"""Reductions: sum, mean, max, min, prod, nansum, nanprod, norm (``semantics.reduce.reduced_axes``), argmax and argmin."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir import Node
from ..semantics.reduce import REDUCTIONS
from ..semantics.reduce import reduced_axes
from ..semantics.rules import axis_index
from .registry import Lowering, register

if TYPE_CHECKING:
    from .codegen import TorchContext

_TORCH_REDUCE = {"sum": "torch.sum", "nansum": "torch.nansum", "mean": "torch.mean", "max": "torch.amax",
                 "min": "torch.amin"}


def _every_axis_kept_one(expr: str, axes: tuple[int, ...], rank: int, keepdims: bool) -> str:
    """MXNet keeps one axis of size 1 where a reduction takes every axis."""
    return f"{expr}.reshape(1)" if len(axes) == rank and not keepdims else expr


def _product(x: str, axes: tuple[int, ...], keepdims: bool) -> str:
    """torch.prod takes one axis at a time: reduce each, keeping it, then drop them together."""
    expr = x
    for axis in axes:
        expr = f"torch.prod({expr}, {axis}, keepdim=True)"
    return expr if keepdims else f"torch.squeeze({expr}, {list(axes)})"


@register(*REDUCTIONS)
def reduction(ctx: TorchContext, node: Node) -> Lowering:
    x, rank, keepdims = ctx.input(0), len(ctx.shape(0)), node.attrs["keepdims"]
    axes = reduced_axes(node.attrs, rank)
    if not axes:  # exclude listed every axis: nothing is reduced
        return Lowering(x)
    if node.op in ("prod", "nanprod"):
        source = x if node.op == "prod" else f"torch.where(torch.isnan({x}), torch.ones_like({x}), {x})"
        expr = _product(source, axes, keepdims)
    else:
        expr = f"{_TORCH_REDUCE[node.op]}({x}, {list(axes)}, keepdim={keepdims})"
    return Lowering(_every_axis_kept_one(expr, axes, rank, keepdims))


@register("norm")
def norm(ctx: TorchContext, node: Node) -> Lowering:
    x, rank, a = ctx.input(0), len(ctx.shape(0)), node.attrs
    axes = reduced_axes(a, rank)
    expr = f"torch.linalg.vector_norm({x}, {a['ord']}, {list(axes)}, keepdim={a['keepdims']})"
    return Lowering(_every_axis_kept_one(expr, axes, rank, a["keepdims"]))


@register("argmax", "argmin")
def arg_reduction(ctx: TorchContext, node: Node) -> Lowering:
    """The first index of the extreme value, as a float (MXNet's output type); no axis: of the flattened data."""
    a, x, rank = node.attrs, ctx.input(0), len(ctx.shape(0))
    func = f"torch.{node.op}"
    if a["axis"] is None:
        expr = f"{func}({x}.reshape(-1), 0, keepdim=True)"
        if a["keepdims"]:
            expr = f"{expr}.reshape({[1] * rank})"
    else:
        expr = f"{func}({x}, {axis_index(a['axis'], rank)}, keepdim={a['keepdims']})"
        if rank == 1 and not a["keepdims"]:
            expr = f"{expr}.reshape(1)"
    return Lowering(f"{expr}.to({x}.dtype)")
