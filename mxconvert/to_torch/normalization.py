"""Normalisation layers as PyTorch modules with their weights: LRN, InstanceNorm, GroupNorm (MXNet's gamma and
beta per group, repeated per channel) and LayerNorm on any axis."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..ir import Node
from ..semantics.normalization import even_lrn_window
from .convolution import HELPERS, num
from .registry import Lowering, register

if TYPE_CHECKING:
    from .codegen import TorchContext

HELPERS["mxnet_mean_std"] = '''
def mxnet_mean_std(
    y: torch.Tensor, x: torch.Tensor, dim: int, keepdim: bool, eps: float
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A normalisation's output ``y`` with MXNet's ``output_mean_var`` statistics of ``x`` along ``dim``: the mean
    and sqrt(biased variance + eps)."""
    variance, mean = torch.var_mean(x, dim, keepdim=keepdim, correction=0)
    return y, mean, torch.sqrt(variance + eps)
'''


@register("LRN", check=even_lrn_window)
def lrn(ctx: TorchContext, node: Node) -> Lowering:
    """MXNet's ``x / (knorm + alpha / nsize * sum of squares over nsize channels) ** beta``."""
    a = node.attrs
    layer = f"nn.LocalResponseNorm({a['nsize']}, alpha={num(a['alpha'])}, beta={num(a['beta'])}, k={num(a['knorm'])})"
    if len(ctx.shape(0)) == 2:  # (N, C) runs as (N, C, 1, 1) in MXNet
        return Lowering(f"{ctx.layer}({ctx.input(0)}.unsqueeze(2)).squeeze(2)", layer)
    return Lowering(f"{ctx.layer}({ctx.input(0)})", layer)


@register("InstanceNorm")
def instance_norm(ctx: TorchContext, node: Node) -> Lowering:
    """``nn.InstanceNorm*d`` with affine weights (past 3 spatial axes: 1-D over the flattened ones)."""
    shape, x = ctx.shape(0), ctx.input(0)
    spatial = len(shape) - 2
    layer = f"nn.InstanceNorm{spatial if spatial <= 3 else 1}d({shape[1]}, eps={num(node.attrs['eps'])}, affine=True)"
    expr = f"{ctx.layer}({x})" if spatial <= 3 else f"{ctx.layer}(torch.flatten({x}, 2)).reshape({x}.shape)"
    return Lowering(expr, layer, {"weight": ctx.weight(1), "bias": ctx.weight(2)})


@register("GroupNorm")
def group_norm(ctx: TorchContext, node: Node) -> Lowering:
    """``nn.GroupNorm``; MXNet's gamma and beta hold one value per group, repeated for each of its channels."""
    a, shape, x = node.attrs, ctx.shape(0), ctx.input(0)
    groups, channels = a["num_groups"], shape[1]
    state = {key: np.repeat(ctx.weight(slot), channels // groups) for key, slot in (("weight", 1), ("bias", 2))}
    layer = f"nn.GroupNorm({groups}, {channels}, eps={num(a['eps'])})"
    expr = f"{ctx.layer}({x})"
    if a["output_mean_var"]:
        grouped = f"{x}.reshape({x}.shape[0], {groups}, -1)"
        expr = f"{ctx.helper('mxnet_mean_std')}({expr}, {grouped}, 2, False, {ctx.layer}.eps)"
    return Lowering(expr, layer, state)


@register("LayerNorm")
def layer_norm(ctx: TorchContext, node: Node) -> Lowering:
    """``nn.LayerNorm`` over MXNet's axis (moved last and back where it is another)."""
    a, shape, x = node.attrs, ctx.shape(0), ctx.input(0)
    axis = a["axis"] % len(shape)
    last = axis == len(shape) - 1
    expr = f"{ctx.layer}({x})" if last else f"{ctx.layer}({x}.movedim({axis}, -1)).movedim(-1, {axis})"
    if a["output_mean_var"]:
        expr = f"{ctx.helper('mxnet_mean_std')}({expr}, {x}, {axis}, True, {ctx.layer}.eps)"
    layer = f"nn.LayerNorm({shape[axis]}, eps={num(a['eps'])})"
    return Lowering(expr, layer, {"weight": ctx.weight(1), "bias": ctx.weight(2)})
