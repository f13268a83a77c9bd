"""Convolution, Deconvolution and Pooling: the windowed ops, with MXNet's window arithmetic from
``semantics.convolution`` (PyTorch layers where they compute MXNet's windows exactly, helpers elsewhere)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir import Node
from ..semantics.convolution import (deconvolution_geometry, deconvolution_refusal, is_channels_last, negative_pad,
                                     pooling_params, pooling_v1_as_pooling, pooling_v1_divisor, pooling_v1_refusal,
                                     window_geometry)
from ..semantics.rules import ShapeError
from .registry import HELPERS, LOWEST_FLOAT32, Lowering, call_source, num, register

if TYPE_CHECKING:
    from .codegen import TorchContext


# --- layers with weights ------------------------------------------------------------------------------------


# --- activations --------------------------------------------------------------------------------------------


# --- pooling ------------------------------------------------------------------------------------------------


# --- element-wise and shape ops -----------------------------------------------------------------------------


HELPERS["mxnet_full_pool"] = '''
def mxnet_full_pool(
    y: torch.Tensor, x: torch.Tensor, kernel: List[int], stride: List[int], pad: List[int], fill: float
) -> torch.Tensor:
    """Restore the last window of MXNet's ``pooling_convention='full'`` that PyTorch's ceil_mode drops when it
    starts in the padding. It covers no data, so MXNet yields ``fill`` there (lowest float for max, else 0)."""
    missing: List[int] = []
    for i in range(len(kernel) - 1, -1, -1):
        span = x.shape[2 + i] + 2 * pad[i] - kernel[i]
        missing.extend([0, (span + stride[i] - 1) // stride[i] + 1 - y.shape[2 + i]])
    return F.pad(y, missing, value=fill)
'''


HELPERS["mxnet_pool1d"] = '''
def mxnet_pool1d(x: torch.Tensor, kernel: int, stride: int, pad: int, convention: str, kind: str) -> torch.Tensor:
    """1-D pooling over MXNet's windows (``semantics.convolution.pooling_windows``, counted from the live size) where PyTorch has
    no exact layer (sum pooling, ``pooling_convention`` ``same``): pad explicitly (lowest float32 for max, else 0),
    pool without padding; avg divides by the data each window covers (``same`` takes no padding)."""
    size = x.shape[2]
    if convention == "same":
        count = (size + stride - 1) // stride
    elif convention == "full":
        count = (size + 2 * pad - kernel + stride - 1) // stride + 1
    else:
        count = (size + 2 * pad - kernel) // stride + 1
    ends = [pad, max((count - 1) * stride + kernel - size - pad, 0)]
    if kind == "max":
        return F.max_pool1d(F.pad(x, ends, value=-3.4028234663852886e38), kernel, stride)
    total = F.avg_pool1d(F.pad(x, ends), kernel, stride) * kernel
    if kind == "avg":
        total = total / (F.avg_pool1d(F.pad(torch.ones_like(x[:1, :1]), ends), kernel, stride) * kernel)
    return total
'''


HELPERS["mxnet_cube_root"] = '''
def mxnet_cube_root(x: torch.Tensor) -> torch.Tensor:
    """The real cube root (negative for negative x), as MXNet's lp pooling with p_value=3 takes it."""
    return torch.sign(x) * torch.abs(x).pow(1.0 / 3.0)
'''


def _layout_check(node: Node) -> str | None:
    layout = node.attrs["layout"]
    return None if not layout or layout.startswith("NC") else f"layout {layout}"


@register("Convolution", check=lambda n: negative_pad(n) or _layout_check(n) or (None if 1 <= len(n.attrs["kernel"]) <= 3
                                                               else f"{len(n.attrs['kernel'])}-D kernel"),
          computed_weights=True)
def convolution(ctx: TorchContext, node: Node) -> Lowering:
    """``nn.Conv{1,2,3}d``; ``F.conv{1,2,3}d`` where a weight is computed in the graph."""
    a = node.attrs
    rank = len(a["kernel"])
    options: dict[str, object] = {}
    geometry = window_geometry(a, rank)
    for key, value, default in zip(("stride", "padding", "dilation"), geometry, (1, 0, 1)):
        if any(v != default for v in value):
            options[key] = value
    if a["num_group"] != 1:
        options["groups"] = a["num_group"]
    if not ctx.all_weights_stored():
        bias = "None" if a["no_bias"] else ctx.input(2)
        return Lowering(call_source(f"F.conv{rank}d", ctx.input(0), ctx.input(1), bias, **options))
    weight = ctx.weight(1)
    bias = None if a["no_bias"] else ctx.weight(2)
    options = {"kernel_size": tuple(a["kernel"]), **options}
    if bias is None:
        options["bias"] = False
    layer = call_source(f"nn.Conv{rank}d", str(weight.shape[1] * a["num_group"]), str(a["num_filter"]), **options)
    state = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
    return Lowering(f"{ctx.layer}({ctx.input(0)})", layer, state)


def _pooling_check(node: Node) -> str | None:
    a = node.attrs
    if negative_pad(node):
        return negative_pad(node)
    if a["global_pool"]:
        return None
    rank = len(a["kernel"])
    if not 1 <= rank <= 3:
        return f"{rank}-D kernel"
    try:
        kernel, _, pad = pooling_params(a, rank)
    except ShapeError:
        return None  # shape inference reports it, naming the node
    if not _pads_explicitly(a) and any(p > k // 2 for p, k in zip(pad, kernel)):
        return "pad larger than half the kernel"
    return None


def _pads_explicitly(attrs: dict) -> bool:
    """1-D pooling PyTorch's layers cannot do exactly (sum, lp, ``same``): the ``mxnet_pool1d`` helper instead."""
    return len(attrs["kernel"]) == 1 and (attrs["pool_type"] in ("sum", "lp") or attrs["pooling_convention"] == "same")


_ROOTS = {1: "{}", 2: "torch.sqrt({})"}


@register("Pooling", check=_pooling_check)
def pooling(ctx: TorchContext, node: Node) -> Lowering:
    """MXNet's windows (``pooling_windows``) on channel-first data; lp pools ``x ** p`` as sum, then the root."""
    a = node.attrs
    x, kind = ctx.input(0), a["pool_type"]
    last = is_channels_last(a["layout"])
    if last:
        x = f"{x}.movedim(-1, 1)"
    if kind == "lp" and a["p_value"] > 1:
        x = f"{x}.pow({a['p_value']})"
    lowering = _global_pooling(x, kind, len(ctx.shape(0))) if a["global_pool"] else _window_pooling(ctx, x, a)
    if kind == "lp":
        root = _ROOTS.get(a["p_value"]) or ctx.helper("mxnet_cube_root") + "({})"
        lowering.expr = root.format(lowering.expr)
    if last:
        lowering.expr = f"{lowering.expr}.movedim(1, -1)"
    return lowering


@register("Pooling_v1", check=lambda n: pooling_v1_refusal(n) or _pooling_check(pooling_v1_as_pooling(n)))
def pooling_v1(ctx: TorchContext, node: Node) -> Lowering:
    """MXNet 0.x's pooling: its windows' pooling, avg sums divided by the whole kernel."""
    lowering = pooling(ctx, pooling_v1_as_pooling(node))
    divisor = pooling_v1_divisor(node)
    if divisor != 1:
        lowering.expr = f"{lowering.expr} * {num(1.0 / divisor)}"
    return lowering


def _global_pooling(x: str, kind: str, rank: int) -> Lowering:
    reduce = {"max": "torch.amax", "avg": "torch.mean"}.get(kind, "torch.sum")
    return Lowering(call_source(reduce, x, dim=list(range(2, rank)), keepdim=True))


def _window_pooling(ctx: TorchContext, x: str, a: dict) -> Lowering:
    """max, avg or sum (also for lp) pooling of channel-first ``x``: a PyTorch layer where one is exact."""
    kind = "sum" if a["pool_type"] == "lp" else a["pool_type"]
    rank = len(a["kernel"])
    kernel, stride, pad = pooling_params(a, rank)
    convention = a["pooling_convention"]
    if _pads_explicitly(a):
        return Lowering(call_source(ctx.helper("mxnet_pool1d"), x, str(kernel[0]), str(stride[0]), str(pad[0]),
                              repr(convention), repr(kind)))
    full = convention == "full"
    options: dict[str, object] = {"kernel_size": tuple(kernel), "stride": tuple(stride)}
    if any(pad):
        options["padding"] = tuple(pad)
    if full:
        options["ceil_mode"] = True
    if kind == "avg" and a["count_include_pad"] is False:
        options["count_include_pad"] = False
    if kind == "sum":
        options["divisor_override"] = 1
    layer = call_source(f"nn.{'MaxPool' if kind == 'max' else 'AvgPool'}{rank}d", **options)
    expr = f"{ctx.layer}({x})"
    # PyTorch drops a last window starting in the padding only if it can start there: stride > kernel - pad.
    if full and any(s >= k - p + 1 for k, s, p in zip(kernel, stride, pad)):
        fill = num(LOWEST_FLOAT32) if kind == "max" else "0.0"
        expr = call_source(ctx.helper("mxnet_full_pool"), expr, x, str(kernel), str(stride), str(pad), fill)
    return Lowering(expr, layer)


@register("Deconvolution", check=deconvolution_refusal)
def deconvolution(ctx: TorchContext, node: Node) -> Lowering:
    """``nn.ConvTranspose*d``: MXNet's pad crops both ends of the full output, adj (output_padding) extends its
    end; the weight is (in channels, out channels / groups, *kernel) in both."""
    a = node.attrs
    rank = len(a["kernel"])
    stride, pad, adj, dilate = deconvolution_geometry(a, ctx.shape(0)[2:])
    options = [f"kernel_size={tuple(a['kernel'])}"]
    for key, value, default in (("stride", stride, 1), ("padding", pad, 0), ("output_padding", adj, 0),
                                ("dilation", dilate, 1)):
        if any(v != default for v in value):
            options.append(f"{key}={tuple(value)}")
    if a["num_group"] != 1:
        options.append(f"groups={a['num_group']}")
    state = {"weight": ctx.weight(1)}
    if a["no_bias"]:
        options.append("bias=False")
    else:
        state["bias"] = ctx.weight(2)
    layer = f"nn.ConvTranspose{rank}d({ctx.shape(0)[1]}, {a['num_filter']}, {', '.join(options)})"
    return Lowering(f"{ctx.layer}({ctx.input(0)})", layer, state)
