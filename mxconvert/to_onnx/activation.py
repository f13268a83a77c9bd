"""Activations and softmaxes: Activation, LeakyReLU, softmax (with ``use_length``), log_softmax, softmin,
SoftmaxActivation and SoftmaxOutput, emitted as ONNX nodes."""
from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto, helper

from ..ir import Node
from ..semantics.activation import SOFTMAX_CROSS_ENTROPY_FLOOR, float16_output
from .context import EmitContext
from .registry import register


_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softrelu": "Softplus",
                "softsign": "Softsign"}


@register("Activation")
def activation(ctx: EmitContext, node: Node) -> None:
    ctx.add(_ACTIVATIONS[node.attrs["act_type"]], [ctx.input(0)], ctx.output())


@register("LeakyReLU")
def leaky_relu(ctx: EmitContext, node: Node) -> None:
    a = node.attrs
    kind = a["act_type"]
    x, out = ctx.input(0), ctx.output()
    if kind == "prelu":
        slope = ctx.graph.weight(node.inputs[1].node)
        rank = len(ctx.shape(0))
        shaped = slope.reshape((-1,) + (1,) * max(rank - 2, 0)) if rank > 1 else slope
        ctx.add("PRelu", [x, ctx.weight(node.inputs[1].node, shaped)], out)
    elif kind in ("leaky", "rrelu"):  # rrelu at inference uses the mean of its slope range
        alpha = a["slope"] if kind == "leaky" else (a["lower_bound"] + a["upper_bound"]) / 2
        ctx.add("LeakyRelu", [x], out, alpha=alpha)
    elif kind == "elu":
        ctx.add("Elu", [x], out, alpha=a["slope"])
    elif kind == "selu":
        ctx.add("Selu", [x], out)
    elif ctx.opset >= 20:
        ctx.add("Gelu", [x], out)
    else:  # MXNet's order: (x / 2) * (1 + erf(x / sqrt(2))), the form runtimes' Gelu fusions match
        erf = ctx.add("Erf", [ctx.add("Div", [x, ctx.const(math.sqrt(2))])])
        half = ctx.add("Mul", [x, ctx.const(0.5)])
        ctx.add("Mul", [half, ctx.add("Add", [erf, ctx.const(1.0)])], out)


def _softmax_flat(ctx: EmitContext, x: str, shape: tuple, out: str) -> None:
    """Softmax over everything but the batch axis (SoftmaxOutput and SoftmaxActivation ``instance``); over the
    only axis of 1-D data."""
    if len(shape) <= 2:
        ctx.add("Softmax", [x], out, axis=len(shape) - 1)
        return
    flat = ctx.add("Flatten", [x], axis=1)
    ctx.reshape(ctx.add("Softmax", [flat], axis=1), ctx.batch_shape(shape, shape), out)


@register("SoftmaxOutput")
def softmax_output(ctx: EmitContext, node: Node) -> None:
    a = node.attrs
    x, out, shape = ctx.input(0), ctx.output(), ctx.shape(0)
    if a["multi_output"]:  # MXNet reads multi_output before preserve_shape
        ctx.softmax(x, 1, len(shape), out)
    elif a["preserve_shape"]:
        ctx.softmax(x, -1, len(shape), out)
    else:
        if len(shape) == 4:
            ctx.warnings.append(f"SoftmaxOutput {node.name!r} on 4-D data without multi_output: softmax over all "
                                "but the batch axis, as MXNet's own kernel computes it (its MKLDNN kernel, on by "
                                "default on the CPU, takes the last axis; set multi_output=True for per-pixel classes)")
        _softmax_flat(ctx, x, shape, out)


@register("SoftmaxActivation")
def softmax_activation(ctx: EmitContext, node: Node) -> None:
    """``channel``: over axis 1; ``instance``: over the last axis (MXNet flattens all leading axes)."""
    axis = 1 if node.attrs["mode"] == "channel" else -1
    ctx.softmax(ctx.input(0), axis, len(ctx.shape(0)), ctx.output())


@register("softmax")
def softmax(ctx: EmitContext, node: Node) -> None:
    x, shape = ctx.input(0), ctx.shape(0)
    rank, axis = len(shape), node.attrs["axis"] % len(shape)
    temperature = node.attrs["temperature"]
    if temperature not in (None, 1.0):
        x = ctx.add("Div", [x, ctx.const(temperature, "temperature")])
    if not node.attrs["use_length"]:
        ctx.softmax(x, axis, rank, ctx.output())
        return
    # use_length: softmax over the first length[row] positions along the axis, 0 beyond them; positions and
    # lengths compare as float32 (exact below 2 ** 24), which MXNet's own ONNX importer also runs
    positions = ctx.positions(0, axis, [-1] + [1] * (rank - 1 - axis), np.float32)
    length = ctx.unsqueeze(ctx.add("Cast", [ctx.input(1)], to=TensorProto.FLOAT), [axis])
    mask = ctx.add("Cast", [ctx.add("Less", [positions, length])], to=helper.np_dtype_to_tensor_dtype(ctx.float_type))
    # masked positions become the lowest float, whose exp is 0 (x * 1 + 0 keeps the others exact)
    lowest = ctx.const(np.finfo(ctx.float_type).min, "lowest")
    penalty = ctx.add("Mul", [ctx.add("Sub", [ctx.const(1.0, "one"), mask]), lowest])
    masked = ctx.add("Add", [ctx.add("Mul", [x, mask]), penalty])
    ctx.add("Mul", [ctx.softmax(masked, axis, rank), mask], ctx.output())  # a length of 0 gives zeros


@register("log_softmax", "softmin", check=lambda n, opset: float16_output(n))
def softmax_variant(ctx: EmitContext, node: Node) -> None:
    """log_softmax(x / temperature), or softmin: softmax(-x / temperature)."""
    x, rank = ctx.input(0), len(ctx.shape(0))
    if node.op == "softmin":
        x = ctx.add("Neg", [x])
    temperature = node.attrs["temperature"]
    if temperature not in (None, 1.0):
        x = ctx.add("Div", [x, ctx.const(temperature, "temperature")])
    op_type = "LogSoftmax" if node.op == "log_softmax" else "Softmax"
    ctx.softmax(x, node.attrs["axis"], rank, ctx.output(), op_type)


@register("softmax_cross_entropy")
def softmax_cross_entropy(ctx: EmitContext, node: Node) -> None:
    """-log of each row's softmax at its label (at least 1e-8), summed over the rows into one element."""
    label = ctx.unsqueeze(ctx.add("Cast", [ctx.input(1)], to=TensorProto.INT64), [1])
    chosen = ctx.add("GatherElements", [ctx.softmax(ctx.input(0), 1, 2), label], axis=1)
    floored = ctx.add("Max", [chosen, ctx.const(SOFTMAX_CROSS_ENTROPY_FLOOR, "floor")])
    ctx.reshape(ctx.reduce_sum(ctx.add("Neg", [ctx.add("Log", [floored])]), [0, 1]), [1], ctx.output())
