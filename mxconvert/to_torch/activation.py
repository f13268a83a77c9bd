"""Activations and softmaxes: Activation, LeakyReLU, softmax (with ``use_length``), log_softmax, softmin,
SoftmaxActivation and SoftmaxOutput, as PyTorch expressions and layers."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..ir import Node
from ..semantics.activation import SOFTMAX_CROSS_ENTROPY_FLOOR, float16_output
from .registry import HELPERS, Lowering, call_source, num, register

if TYPE_CHECKING:
    from .codegen import TorchContext


HELPERS["mxnet_length_softmax"] = '''
def mxnet_length_softmax(x: torch.Tensor, length: torch.Tensor, axis: int) -> torch.Tensor:
    """MXNet's ``softmax(use_length=True)``: softmax over the first ``length`` positions along ``axis`` (one
    length per row: ``length`` has ``x``'s shape without ``axis``), 0 at the positions beyond."""
    positions = torch.arange(x.shape[axis], device=x.device).reshape([-1] + [1] * (x.dim() - 1 - axis))
    mask = positions < length.unsqueeze(axis)
    return torch.softmax(x.masked_fill(~mask, -3.4028234663852886e38), dim=axis) * mask
'''


_ACTIVATIONS = {"relu": "F.relu", "sigmoid": "torch.sigmoid", "tanh": "torch.tanh", "softrelu": "F.softplus",
                "softsign": "F.softsign"}


@register("Activation")
def activation(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"{_ACTIVATIONS[node.attrs['act_type']]}({ctx.input(0)})")


def _rrelu_check(node: Node) -> str | None:
    bounds = (node.attrs["lower_bound"], node.attrs["upper_bound"])
    finite = node.attrs["act_type"] != "rrelu" or all(math.isfinite(b) for b in bounds)
    return None if finite else f"rrelu bounds {bounds} (PyTorch needs finite ones)"


@register("LeakyReLU", check=_rrelu_check)
def leaky_relu(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    kind, x = a["act_type"], ctx.input(0)
    if kind == "prelu":  # slope per channel (axis 1), or one shared slope
        slope = ctx.weight(1).reshape(-1)
        return Lowering(f"{ctx.layer}({x})", f"nn.PReLU({slope.size})", {"weight": slope})
    if kind == "leaky":
        return Lowering(call_source("F.leaky_relu", x, negative_slope=num(a["slope"])))
    if kind == "rrelu":  # random slope in training, the mean slope at inference (as MXNet, whatever the bounds' order)
        low, high = sorted((a["lower_bound"], a["upper_bound"]))
        return Lowering(call_source("F.rrelu", x, lower=num(low), upper=num(high), training="self.training"))
    if kind == "elu":
        return Lowering(call_source("F.elu", x, alpha=num(a["slope"])))
    return Lowering(f"F.{kind}({x})")  # selu, gelu (erf form, as MXNet)


def _softmax_flat(x: str, rank: int) -> str:
    """Softmax over all but the batch axis (MXNet's own kernel; its MKLDNN kernel uses the last axis of 4-D data);
    over the only axis of 1-D data."""
    if rank <= 2:
        return f"torch.softmax({x}, dim={rank - 1})"
    return f"torch.softmax(torch.flatten({x}, 1), dim=1).reshape({x}.shape)"


@register("SoftmaxOutput")
def softmax_output(ctx: TorchContext, node: Node) -> Lowering:
    a, x = node.attrs, ctx.input(0)
    if a["multi_output"]:  # MXNet reads multi_output before preserve_shape
        return Lowering(f"torch.softmax({x}, dim=1)")
    if a["preserve_shape"]:
        return Lowering(f"torch.softmax({x}, dim=-1)")
    return Lowering(_softmax_flat(x, len(ctx.shape(0))))


@register("SoftmaxActivation")
def softmax_activation(ctx: TorchContext, node: Node) -> Lowering:
    """``channel``: over axis 1; ``instance``: over the last axis (MXNet flattens all leading axes)."""
    return Lowering(f"torch.softmax({ctx.input(0)}, dim={1 if node.attrs['mode'] == 'channel' else -1})")


@register("softmax")
def softmax(ctx: TorchContext, node: Node) -> Lowering:
    x, temperature = ctx.input(0), node.attrs["temperature"]
    if temperature not in (None, 1.0):
        x = f"{x} / {num(temperature)}"
    if node.attrs["use_length"]:
        axis = node.attrs["axis"] % len(ctx.shape(0))
        return Lowering(call_source(ctx.helper("mxnet_length_softmax"), x, ctx.input(1), str(axis)))
    return Lowering(f"torch.softmax({x}, dim={node.attrs['axis']})")


@register("log_softmax", "softmin", check=float16_output)
def softmax_variant(ctx: TorchContext, node: Node) -> Lowering:
    """log_softmax(x / temperature), or softmin: softmax(-x / temperature)."""
    x, temperature = ctx.input(0), node.attrs["temperature"]
    if temperature not in (None, 1.0):
        x = f"{x} / {num(temperature)}"
    func = "torch.log_softmax" if node.op == "log_softmax" else "F.softmin"
    return Lowering(f"{func}({x}, dim={node.attrs['axis']})")


@register("softmax_cross_entropy")
def softmax_cross_entropy(ctx: TorchContext, node: Node) -> Lowering:
    """-log of each row's softmax at its label (at least 1e-8), summed over the rows into one element."""
    chosen = f"torch.gather(torch.softmax({ctx.input(0)}, 1), 1, {ctx.input(1)}.long().unsqueeze(1))"
    return Lowering(f"-torch.log(torch.clamp({chosen}, min={num(SOFTMAX_CROSS_ENTROPY_FLOOR)})).sum().reshape(1)")
