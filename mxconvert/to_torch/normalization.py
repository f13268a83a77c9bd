"""Normalisation layers as PyTorch modules with their weights: BatchNorm (legacy, synchronised and ReLU-fused forms
too), LRN, InstanceNorm, GroupNorm (MXNet's
gamma and beta per group, repeated per channel), LayerNorm on any axis and L2Normalization."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import NotExpressible
from ..ir import Node
from ..semantics.normalization import (BATCH_NORMS, batch_norm_axis, batch_norm_refusal, batch_norm_relu,
                                       batch_norm_statistics, even_lrn_window, l2_normalization_axes)
from .registry import HELPERS, Lowering, call_source, num, register

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


def _batch_norm_class(dims: int) -> str:
    return f'''
class MxnetBatchNorm{dims}d(nn.BatchNorm{dims}d):
    """``nn.BatchNorm{dims}d`` trained as MXNet trains its BatchNorm: the batch statistics move the running ones by
    ``momentum`` (PyTorch's convention, 1 - MXNet's) towards the batch mean and the biased batch variance (PyTorch's
    layer takes the unbiased one). ``fix_gamma``: the weight stays 1 (frozen); ``use_global_stats``: the running
    statistics normalise in training too."""

    def __init__(self, num_features: int, eps: float, momentum: float, fix_gamma: bool = False,
                 use_global_stats: bool = False) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.weight.requires_grad_(not fix_gamma)
        self.use_global_stats = use_global_stats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.use_global_stats:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        momentum = self.momentum
        assert momentum is not None
        with torch.no_grad():
            batch_var, batch_mean = torch.var_mean(x, [0] + list(range(2, x.dim())), correction=0)
            self.running_mean.lerp_(batch_mean, momentum)
            self.running_var.lerp_(batch_var, momentum)
            self.num_batches_tracked.add_(1)
        return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
'''


def _negative_eps_batch_norm_class(dims: int) -> str:
    return f'''
class MxnetBatchNormNegativeEps{dims}d(MxnetBatchNorm{dims}d):
    """``MxnetBatchNorm{dims}d`` with a negative ``eps``, which MXNet runs (NaN where var + eps < 0) and
    ``F.batch_norm`` refuses: the same statistics, normalised as MXNet writes it out."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.use_global_stats:
            mean, var = self.running_mean, self.running_var
        else:
            var, mean = torch.var_mean(x, [0] + list(range(2, x.dim())), correction=0)
            momentum = self.momentum
            assert momentum is not None
            with torch.no_grad():
                self.running_mean.lerp_(mean, momentum)
                self.running_var.lerp_(var, momentum)
                self.num_batches_tracked.add_(1)
        shape = [1, -1] + [1] * (x.dim() - 2)
        scale = torch.rsqrt(var + self.eps) * self.weight
        return (x - mean.reshape(shape)) * scale.reshape(shape) + self.bias.reshape(shape)
'''


for _dims in (1, 2, 3):
    HELPERS[f"MxnetBatchNorm{_dims}d"] = _batch_norm_class(_dims)
    HELPERS[f"MxnetBatchNormNegativeEps{_dims}d"] = _negative_eps_batch_norm_class(_dims)


HELPERS["mxnet_batch_norm_outputs"] = '''
def mxnet_batch_norm_outputs(
    y: torch.Tensor, x: torch.Tensor, running_mean: torch.Tensor, running_var: torch.Tensor, batch_stats: bool,
    eps: float, variance: bool = False
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BatchNorm's output ``y`` with the mean and the inverse standard deviation 1 / sqrt(var + eps) (``variance``:
    the variance itself, as BatchNorm_v1) that MXNet adds with ``output_mean_var``: of the batch ``x`` (biased
    variance) in training, else the running ones."""
    if batch_stats:
        running_var, running_mean = torch.var_mean(x, [0] + list(range(2, x.dim())), correction=0)
    return y, running_mean, running_var if variance else torch.rsqrt(running_var + eps)
'''


@register(*BATCH_NORMS, check=lambda n, *_: batch_norm_refusal(n))
def batch_norm(ctx: TorchContext, node: Node) -> Lowering:
    """An ``MxnetBatchNorm*d`` layer (MXNet's training statistics, ``fix_gamma``, ``use_global_stats``), over axis
    1 (another axis moved there and back); then ReLU for BatchNormWithReLU."""
    a = node.attrs
    shape = ctx.shape(0)
    if not 2 <= len(shape) <= 5:
        raise NotExpressible(f"BatchNorm on {len(shape)}-D data")
    axis = batch_norm_axis(node, len(shape))
    flags = {key: "True" for key in ("fix_gamma", "use_global_stats") if a[key]}
    dims = max(len(shape) - 2, 1)
    if a["eps"] < 0:
        ctx.helper(f"MxnetBatchNorm{dims}d")
    kind = "NegativeEps" if a["eps"] < 0 else ""
    layer = call_source(ctx.helper(f"MxnetBatchNorm{kind}{dims}d"), str(shape[axis]),
                        eps=num(a["eps"]), momentum=num(round(1.0 - a["momentum"], 12)), **flags)
    gamma = np.ones_like(ctx.weight(1)) if a["fix_gamma"] else ctx.weight(1)
    state = {"weight": gamma, "bias": ctx.weight(2), "running_mean": ctx.weight(3), "running_var": ctx.weight(4),
             "num_batches_tracked": np.array(0, dtype=np.int64)}
    x = ctx.input(0) if axis == 1 else f"{ctx.input(0)}.movedim({axis}, 1)"
    bn = ctx.layer
    expr = f"{bn}({x})" if axis == 1 else f"{bn}({x}).movedim(1, {axis})"
    if batch_norm_relu(node):
        expr = f"F.relu({expr})"
    if a["output_mean_var"]:
        batch_stats = "False" if a["use_global_stats"] else "self.training"
        variance = ("True",) if batch_norm_statistics(node) == "var" else ()
        expr = call_source(ctx.helper("mxnet_batch_norm_outputs"), expr, x, f"{bn}.running_mean", f"{bn}.running_var",
                           batch_stats, f"{bn}.eps", *variance)
    return Lowering(expr, layer, state)


@register("L2Normalization")
def l2_normalization(ctx: TorchContext, node: Node) -> Lowering:
    """``x / sqrt(sum(x^2) + eps)`` over all but the batch axis, the channel axis, or the spatial axes."""
    x = ctx.input(0)
    dims = l2_normalization_axes(node.attrs["mode"], len(ctx.shape(0)))
    total = call_source("torch.sum", f"{x} * {x}", dim=dims, keepdim=True) if dims else f"{x} * {x}"
    return Lowering(f"{x} / torch.sqrt({total} + {num(node.attrs['eps'])})")
