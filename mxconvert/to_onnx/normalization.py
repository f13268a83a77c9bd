"""Normalisation layers: BatchNorm (legacy, synchronised and ReLU-fused forms too), LRN, InstanceNorm, GroupNorm
(gamma and beta per group), LayerNorm on any axis and L2Normalization."""
from __future__ import annotations

import numpy as np

from ..ir import Node
from ..semantics.normalization import (BATCH_NORMS, batch_norm_axis, batch_norm_refusal, batch_norm_relu,
                                       batch_norm_statistics, even_lrn_window, l2_normalization_axes)
from .context import EmitContext
from .registry import register


@register("LRN", check=lambda n, opset: even_lrn_window(n))
def lrn(ctx: EmitContext, node: Node) -> None:
    """MXNet's ``x / (knorm + alpha / nsize * sum of squares over nsize channels) ** beta``, spelled out: ONNX
    Runtime's LRN takes positive alpha and beta only, and its running window sum turns overflowing squares into
    NaN where MXNet yields 0. The window's mean of squares is an average pool over (N, 1, C, rest)."""
    a, shape, x = node.attrs, ctx.shape(0), ctx.input(0)
    squares = ctx.add("Mul", [x, x])
    columns = ctx.reshape(squares, ctx.batch_shape([shape[0], 1, shape[1], -1], shape))
    half = a["nsize"] // 2
    window = ctx.add("AveragePool", [columns], kernel_shape=[a["nsize"], 1], pads=[half, 0, half, 0],
                     count_include_pad=1)
    mean = ctx.reshape(window, ctx.batch_shape(shape, shape))
    scaled = ctx.add("Add", [ctx.add("Mul", [mean, ctx.const(a["alpha"], "alpha")]), ctx.const(a["knorm"], "knorm")])
    ctx.add("Div", [x, ctx.add("Pow", [scaled, ctx.const(a["beta"], "beta")])], ctx.output())


@register("InstanceNorm")
def instance_norm(ctx: EmitContext, node: Node) -> None:
    ctx.add("InstanceNormalization", [ctx.input(0), ctx.input(1), ctx.input(2)], ctx.output(),
            epsilon=node.attrs["eps"])


def _mean(ctx: EmitContext, x: str, axes: list[int], keepdims: int = 1) -> str:
    if ctx.opset >= 18:
        return ctx.add("ReduceMean", [x, ctx.ints(axes, "axes")], keepdims=keepdims)
    return ctx.add("ReduceMean", [x], axes=axes, keepdims=keepdims)


def _mean_and_std(ctx: EmitContext, x: str, axis: int, eps: float, outputs: tuple[str, str]) -> str:
    """MXNet's ``output_mean_var`` statistics along ``axis`` (kept): the mean and sqrt(biased variance + eps);
    returns the centred data. Spelled as exporters of layer normalisation spell it (ReduceMean, Sub, Pow 2,
    ReduceMean, Add, Sqrt), which runtimes' fusions recognise."""
    mean = _mean(ctx, x, [axis])
    centred = ctx.add("Sub", [x, mean])
    variance = _mean(ctx, ctx.add("Pow", [centred, ctx.const(2.0, "two")]), [axis])
    ctx.add("Identity", [mean], outputs[0])
    ctx.add("Sqrt", [ctx.add("Add", [variance, ctx.const(eps, "eps")])], outputs[1])
    return centred


def _per_axis(ctx: EmitContext, values: np.ndarray, axis: int, rank: int, suffix: str) -> str:
    """``values`` shaped to broadcast along ``axis`` of ``rank``-D data."""
    shape = [1] * rank
    shape[axis] = -1
    return ctx.const(values.reshape(shape), suffix)


@register("GroupNorm")
def group_norm(ctx: EmitContext, node: Node) -> None:
    """Each group normalised as one instance (InstanceNormalization of the data viewed as (N, groups, -1)),
    then scaled and shifted per channel by its group's gamma and beta."""
    a, shape = node.attrs, ctx.shape(0)
    groups = a["num_groups"]
    grouped = ctx.reshape(ctx.input(0), ctx.batch_shape([shape[0], groups, -1], shape))
    ones, zeros = ctx.const(np.ones(groups), "ones"), ctx.const(np.zeros(groups), "zeros")
    normalised = ctx.add("InstanceNormalization", [grouped, ones, zeros], epsilon=a["eps"])
    restored = ctx.reshape(normalised, ctx.batch_shape(shape, shape))
    gamma, beta = (np.repeat(ctx.graph.weight(ref.node), shape[1] // groups) for ref in node.inputs[1:3])
    scaled = ctx.add("Mul", [restored, _per_axis(ctx, gamma, 1, len(shape), "gamma")])
    ctx.add("Add", [scaled, _per_axis(ctx, beta, 1, len(shape), "beta")], ctx.output())
    if a["output_mean_var"]:
        statistics = (ctx.temp("mean"), ctx.temp("std"))
        _mean_and_std(ctx, grouped, 2, a["eps"], statistics)
        for index, statistic in enumerate(statistics, start=1):
            ctx.squeeze(statistic, [2], ctx.output(index))


@register("LayerNorm")
def layer_norm(ctx: EmitContext, node: Node) -> None:
    """LayerNormalization where it normalises MXNet's axis (the last one, opset 17 on); else spelled out."""
    a, rank = node.attrs, len(ctx.shape(0))
    axis = a["axis"] % rank
    x = ctx.input(0)
    if ctx.opset >= 17 and axis == rank - 1 and not a["output_mean_var"]:
        ctx.add("LayerNormalization", [x, ctx.input(1), ctx.input(2)], ctx.output(), axis=-1, epsilon=a["eps"])
        return
    statistics = (ctx.output(1), ctx.output(2)) if a["output_mean_var"] else (ctx.temp("mean"), ctx.temp("std"))
    last = -1 if axis == rank - 1 else axis  # the last axis as -1: runtimes' layer-norm fusions match only that
    normalised = ctx.add("Div", [_mean_and_std(ctx, x, last, a["eps"], statistics), statistics[1]])
    if last == -1:  # 1-D gamma and beta broadcast along the last axis as they are
        gamma, beta = ctx.input(1), ctx.input(2)
    else:
        weights = (ctx.graph.weight(ref.node) for ref in node.inputs[1:3])
        gamma, beta = (_per_axis(ctx, w, axis, rank, name) for w, name in zip(weights, ("gamma", "beta")))
    ctx.add("Add", [ctx.add("Mul", [normalised, gamma]), beta], ctx.output())


@register(*BATCH_NORMS, check=lambda n, opset: batch_norm_refusal(n))
def batch_norm(ctx: EmitContext, node: Node) -> None:
    """BatchNormalization of the moving statistics (then Relu for ``_contrib_BatchNormWithReLU``)."""
    a = node.attrs
    gamma_name, beta_name, mean_name, var_name = (ref.node for ref in node.inputs[1:5])
    gamma = ctx.graph.weight(gamma_name)
    if a["fix_gamma"]:  # MXNet multiplies by 1 whatever gamma is stored
        gamma = np.ones_like(gamma)
    rank = len(ctx.shape(0))
    axis = batch_norm_axis(node, rank)
    if a["output_mean_var"]:  # at inference MXNet outputs the moving mean and 1 / sqrt(moving_var + eps) or var
        mean, var = (ctx.graph.weight(n).astype(np.float64) for n in (mean_name, var_name))
        ctx.add("Identity", [ctx.const(mean, "mean")], ctx.output(1))
        if batch_norm_statistics(node) == "var":
            ctx.add("Identity", [ctx.const(var, "var")], ctx.output(2))
        else:
            ctx.add("Identity", [ctx.const(1.0 / np.sqrt(var + a["eps"]), "invstd")], ctx.output(2))
    relu = batch_norm_relu(node)
    out = ctx.temp("normalised") if relu else ctx.output()
    if axis == 1:
        inputs = [ctx.input(0), ctx.weight(gamma_name, gamma), ctx.weight(beta_name), ctx.weight(mean_name),
                  ctx.weight(var_name)]
        ctx.add("BatchNormalization", inputs, out, epsilon=a["eps"])
    else:  # the same arithmetic with statistics shaped to broadcast along ``axis``
        bshape = [1] * rank
        bshape[axis] = -1
        mean, var = (ctx.graph.weight(n).astype(np.float64) for n in (mean_name, var_name))
        scale = gamma.astype(np.float64) / np.sqrt(var + a["eps"])
        shift = ctx.graph.weight(beta_name).astype(np.float64) - mean * scale
        scaled = ctx.add("Mul", [ctx.input(0), ctx.const(scale.reshape(bshape), "scale")])
        ctx.add("Add", [scaled, ctx.const(shift.reshape(bshape), "shift")], out)
    if relu:
        ctx.add("Relu", [out], ctx.output())


@register("L2Normalization")
def l2_normalization(ctx: EmitContext, node: Node) -> None:
    axes = l2_normalization_axes(node.attrs["mode"], len(ctx.shape(0)))
    x = ctx.input(0)
    squares = ctx.add("Mul", [x, x])
    if axes:
        squares = ctx.reduce_sum(squares, axes)
    norm = ctx.add("Sqrt", [ctx.add("Add", [squares, ctx.const(node.attrs["eps"], "eps")])])
    ctx.add("Div", [x, norm], ctx.output())
