"""Reductions: sum, mean, max, min, prod, nansum, nanprod, _square_sum, norm (``semantics.reduce.node_axes``), argmax
and argmin, moments, NumPy's all, any, std, var and cumsum."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir import Node
import numpy as np

from ..semantics.reduce import (REDUCTIONS, moments_axes, node_axes,
                                percentile_taps, square_sum_refusal)
from ..semantics.schema import numpy_spelled
from ..semantics.rules import axis_index
from .registry import HELPERS, Lowering, call_source, register

if TYPE_CHECKING:
    from .codegen import TorchContext

_TORCH_REDUCE = {"sum": "torch.sum", "nansum": "torch.nansum", "mean": "torch.mean", "max": "torch.amax",
                 "min": "torch.amin"}


def _every_axis_kept_one(expr: str, axes: tuple[int, ...], rank: int, keepdims: bool, numpy: bool = False) -> str:
    """MXNet keeps one axis of size 1 where a reduction takes every axis (NumPy's spellings none)."""
    return f"{expr}.reshape(1)" if len(axes) == rank and not keepdims and not numpy else expr


def _product(x: str, axes: tuple[int, ...], keepdims: bool) -> str:
    """torch.prod takes one axis at a time: reduce each, keeping it, then drop them together."""
    expr = x
    for axis in axes:
        expr = f"torch.prod({expr}, {axis}, keepdim=True)"
    return expr if keepdims else f"torch.squeeze({expr}, {list(axes)})"


@register(*REDUCTIONS, check=square_sum_refusal)
def reduction(ctx: TorchContext, node: Node) -> Lowering:
    x, rank, keepdims = ctx.input(0), len(ctx.shape(0)), node.attrs["keepdims"]
    axes = node_axes(node, rank)
    if not axes:  # exclude listed every axis: nothing is reduced
        return Lowering(x)
    if node.op in ("prod", "nanprod"):
        source = x if node.op == "prod" else f"torch.where(torch.isnan({x}), torch.ones_like({x}), {x})"
        expr = _product(source, axes, keepdims)
    elif node.op == "_square_sum":
        expr = f"torch.sum({x} * {x}, {list(axes)}, keepdim={keepdims})"
    else:
        expr = f"{_TORCH_REDUCE[node.op]}({x}, {list(axes)}, keepdim={keepdims})"
    return Lowering(_every_axis_kept_one(expr, axes, rank, keepdims, numpy_spelled(node)))


@register("_np_all", "_np_any")
def truth(ctx: TorchContext, node: Node) -> Lowering:
    """Whether every (any) element is non-zero, as 1 or 0 in the data's type."""
    x, keepdims = ctx.input(0), node.attrs["keepdims"]
    axes = node_axes(node, len(ctx.shape(0)))
    if not axes:
        return Lowering(f"({x} != 0).to({x}.dtype)")
    func = "torch.all" if node.op == "_np_all" else "torch.any"
    expr = f"{x} != 0"
    for axis in sorted(axes, reverse=True):
        expr = f"{func}({expr}, {axis}, keepdim={keepdims})"
    return Lowering(f"({expr}).to({x}.dtype)")


@register("_npi_std", "_npi_var")
def spread(ctx: TorchContext, node: Node) -> Lowering:
    """The mean squared deviation from the mean over ``n - ddof`` elements; std its square root."""
    x, shape, keepdims = ctx.input(0), ctx.shape(0), node.attrs["keepdims"]
    axes = node_axes(node, len(shape))
    count = int(np.prod([shape[axis] for axis in axes])) - node.attrs["ddof"]
    if axes:
        deviation = f"({x} - torch.mean({x}, {list(axes)}, keepdim=True))"
        squares = f"torch.sum({deviation} * {deviation}, {list(axes)}, keepdim={keepdims})"
    else:  # NumPy's axis=(): each value its own mean (torch would reduce every axis)
        squares = f"({x} - {x}) * ({x} - {x})"
    expr = f"{squares} / {float(count)!r}"
    return Lowering(expr if node.op == "_npi_var" else f"torch.sqrt({expr})")


@register("moments")
def moments(ctx: TorchContext, node: Node) -> Lowering:
    """The mean over ``axes`` and the mean squared deviation from it."""
    x, rank, keepdims = ctx.input(0), len(ctx.shape(0)), node.attrs["keepdims"]
    axes = moments_axes(node, rank)
    deviation = f"({x} - torch.mean({x}, {list(axes)}, keepdim=True))"
    mean = f"torch.mean({x}, {list(axes)}, keepdim={keepdims})"
    variance = f"torch.mean({deviation} * {deviation}, {list(axes)}, keepdim={keepdims})"
    return Lowering(f"({_every_axis_kept_one(mean, axes, rank, keepdims)}, "
                    f"{_every_axis_kept_one(variance, axes, rank, keepdims)})")


@register("_np_cumsum")
def cumsum(ctx: TorchContext, node: Node) -> Lowering:
    """A running sum along ``axis`` (no axis: of the flattened data)."""
    x, axis = ctx.input(0), node.attrs["axis"]
    if axis is None:
        return Lowering(f"torch.cumsum({x}.reshape(-1), 0)")
    return Lowering(f"torch.cumsum({x}, {axis_index(axis, len(ctx.shape(0)))})")


@register("norm")
def norm(ctx: TorchContext, node: Node) -> Lowering:
    """torch's vector norm, which reads ord 0 as MXNet does (the count of non-zero elements); negative orders as
    MXNet's kernel computes them, over the non-zero elements (0 where none is), where torch's are 0 past a zero."""
    x, rank, a = ctx.input(0), len(ctx.shape(0)), node.attrs
    axes = node_axes(node, rank)
    if a["ord"] < 0:
        powers = f"torch.where({x} == 0, 0.0, {x}.abs().pow({a['ord']!r}))"
        total = f"{powers}.sum({list(axes)}, keepdim={a['keepdims']})"
        expr = f"{total}.pow({1 / a['ord']!r}).nan_to_num(nan=float('nan'), posinf=0.0)"
    else:
        expr = f"torch.linalg.vector_norm({x}, {a['ord']!r}, {list(axes)}, keepdim={a['keepdims']})"
    return Lowering(_every_axis_kept_one(expr, axes, rank, a["keepdims"], numpy_spelled(node)))


@register("argmax", "argmin")
def arg_reduction(ctx: TorchContext, node: Node) -> Lowering:
    """The first index of the extreme value, as a float (MXNet's output type); no axis: of the flattened data."""
    a, x, rank = node.attrs, ctx.input(0), len(ctx.shape(0))
    func, numpy = f"torch.{node.op}", numpy_spelled(node)
    if a["axis"] is None:
        expr = f"{func}({x}.reshape(-1), 0, keepdim=True)"
        if a["keepdims"] or numpy:
            expr = f"{expr}.reshape({[1] * rank if a['keepdims'] else []})"
    else:
        expr = f"{func}({x}, {axis_index(a['axis'], rank)}, keepdim={a['keepdims']})"
        if rank == 1 and not a["keepdims"] and not numpy:
            expr = f"{expr}.reshape(1)"
    return Lowering(f"{expr}.to({x}.dtype)")


HELPERS["mxnet_percentile"] = '''
def mxnet_percentile(flat: torch.Tensor, positions: List[int], weights: List[float], shape: List[int]) -> torch.Tensor:
    """The values along flat's last axis sorted ascending, read at ``positions`` and summed with their
    ``weights``."""
    ordered = torch.sort(flat, dim=-1).values
    total = ordered[..., positions[0]] if weights[0] == 1.0 else ordered[..., positions[0]] * weights[0]
    for position, weight in zip(positions[1:], weights[1:]):
        total = total + ordered[..., position] * weight
    return total.reshape(shape)
'''


@register("_npi_percentile")
def percentile(ctx: TorchContext, node: Node) -> Lowering:
    """The reduced axes moved last and joined, then MXNet's positions among their sorted values."""
    shape = ctx.shape(0)
    axes = list(node_axes(node, len(shape)))
    kept = [axis for axis in range(len(shape)) if axis not in axes]
    moved = ctx.input(0) if kept + axes == sorted(axes + kept) else f"{ctx.input(0)}.permute({kept + axes})"
    flat = f"{moved}.reshape({[shape[axis] for axis in kept] + [-1]})"
    taps = percentile_taps(node.attrs, int(np.prod([shape[axis] for axis in axes])))
    return Lowering(call_source(ctx.helper("mxnet_percentile"), flat, str([position for position, _ in taps]),
                                str([weight for _, weight in taps]), str(list(ctx.out_shape()))))
