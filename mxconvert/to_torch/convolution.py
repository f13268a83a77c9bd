"""One lowering per MXNet op: each reads typed attributes and returns the layer, forward expression and state."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..errors import NotExpressible
from ..ir import Node
from ..semantics.convolution import is_channels_last, negative_pad, pooling_params, window_geometry
from ..semantics.normalization import l2_normalization_axes
from ..semantics.rules import ShapeError
from ..semantics.shape import reshape_moves_inferred, reshape_reads_leading, reshape_terms
from .registry import Lowering, register

if TYPE_CHECKING:
    from .codegen import TorchContext

# Module-level functions a generated file includes when a lowering asks for them (TorchScript-compatible).
HELPERS: dict[str, str] = {
    "mxnet_full_pool": '''
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
''',
    "mxnet_pool1d": '''
def mxnet_pool1d(x: torch.Tensor, kernel: int, stride: int, pad: int, convention: str, kind: str) -> torch.Tensor:
    """1-D pooling over MXNet's windows (``shapes.pooling_windows``, counted from the live size) where PyTorch has
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
''',
    "mxnet_cube_root": '''
def mxnet_cube_root(x: torch.Tensor) -> torch.Tensor:
    """The real cube root (negative for negative x), as MXNet's lp pooling with p_value=3 takes it."""
    return torch.sign(x) * torch.abs(x).pow(1.0 / 3.0)
''',
    "mxnet_length_softmax": '''
def mxnet_length_softmax(x: torch.Tensor, length: torch.Tensor, axis: int) -> torch.Tensor:
    """MXNet's ``softmax(use_length=True)``: softmax over the first ``length`` positions along ``axis`` (one
    length per row: ``length`` has ``x``'s shape without ``axis``), 0 at the positions beyond."""
    positions = torch.arange(x.shape[axis], device=x.device).reshape([-1] + [1] * (x.dim() - 1 - axis))
    mask = positions < length.unsqueeze(axis)
    return torch.softmax(x.masked_fill(~mask, -3.4028234663852886e38), dim=axis) * mask
''',
    "mxnet_shared_dropout": '''
def mxnet_shared_dropout(x: torch.Tensor, p: float, axes: List[int], training: bool) -> torch.Tensor:
    """MXNet's ``Dropout`` with ``axes``: one keep mask (probability 1 - p, kept values scaled by 1 / (1 - p)) of
    ``x``'s shape with size 1 along ``axes``, broadcast over them; the identity unless ``training``."""
    if not training or p == 0.0:
        return x
    shape = list(x.shape)
    for axis in axes:
        shape[axis] = 1
    keep = torch.rand(shape, dtype=x.dtype, device=x.device) < 1.0 - p
    return x * keep.to(x.dtype) / (1.0 - p)
''',
    "mxnet_center_crop": '''
def mxnet_center_crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """MXNet's ``Crop(center_crop=True)``: the centred ``height`` x ``width`` window of NCHW ``x``."""
    top = (x.shape[2] - height) // 2
    left = (x.shape[3] - width) // 2
    return x[:, :, top : top + height, left : left + width]
''',
}

LOWEST_FLOAT32 = float(np.finfo(np.float32).min)


def num(value: float) -> str:
    """A float as Python source (``float("inf")`` for infinities, ``float("nan")``)."""
    value = float(value)
    if math.isnan(value):
        return 'float("nan")'
    if math.isinf(value):
        return 'float("inf")' if value > 0 else '-float("inf")'
    return repr(value)


def _call(func: str, *args: str, **kwargs: object) -> str:
    parts = list(args) + [f"{key}={value}" for key, value in kwargs.items()]
    return f"{func}({', '.join(parts)})"


def _layout_check(node: Node) -> str | None:
    layout = node.attrs["layout"]
    return None if not layout or layout.startswith("NC") else f"layout {layout}"


# --- layers with weights ------------------------------------------------------------------------------------
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
        return Lowering(_call(f"F.conv{rank}d", ctx.input(0), ctx.input(1), bias, **options))
    weight = ctx.weight(1)
    bias = None if a["no_bias"] else ctx.weight(2)
    options = {"kernel_size": tuple(a["kernel"]), **options}
    if bias is None:
        options["bias"] = False
    layer = _call(f"nn.Conv{rank}d", str(weight.shape[1] * a["num_group"]), str(a["num_filter"]), **options)
    state = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
    return Lowering(f"{ctx.layer}({ctx.input(0)})", layer, state)


HELPERS["mxnet_batch_norm"] = '''
def mxnet_batch_norm(
    x: torch.Tensor, running_mean: torch.Tensor, running_var: torch.Tensor, batches: torch.Tensor,
    weight: torch.Tensor, bias: torch.Tensor, training: bool, momentum: float, eps: float
) -> torch.Tensor:
    """MXNet's BatchNorm over axis 1. In training it normalises with the batch statistics and moves the running
    ones by ``momentum`` (PyTorch's convention, 1 - MXNet's) towards the batch mean and the biased batch variance,
    as MXNet does; PyTorch's layers would move towards the unbiased one."""
    if not training:
        return F.batch_norm(x, running_mean, running_var, weight, bias, False, 0.0, eps)
    with torch.no_grad():
        batch_var, batch_mean = torch.var_mean(x, [0] + list(range(2, x.dim())), correction=0)
        running_mean.lerp_(batch_mean, momentum)
        running_var.lerp_(batch_var, momentum)
        batches.add_(1)
    return F.batch_norm(x, None, None, weight, bias, True, 0.0, eps)
'''


HELPERS["mxnet_batch_norm_outputs"] = '''
def mxnet_batch_norm_outputs(
    y: torch.Tensor, x: torch.Tensor, running_mean: torch.Tensor, running_var: torch.Tensor, batch_stats: bool,
    eps: float
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BatchNorm's output ``y`` with the mean and the inverse standard deviation 1 / sqrt(var + eps) that MXNet
    adds with ``output_mean_var``: of the batch ``x`` (biased variance) in training, else the running ones."""
    if not batch_stats:
        return y, running_mean, torch.rsqrt(running_var + eps)
    batch_var, batch_mean = torch.var_mean(x, [0] + list(range(2, x.dim())), correction=0)
    return y, batch_mean, torch.rsqrt(batch_var + eps)
'''


@register("BatchNorm")
def batch_norm(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    shape = ctx.shape(0)
    if not 2 <= len(shape) <= 5:
        raise NotExpressible(f"BatchNorm on {len(shape)}-D data")
    axis = a["axis"] % len(shape)
    momentum = num(round(1.0 - a["momentum"], 12))
    layer = _call(f"nn.BatchNorm{max(len(shape) - 2, 1)}d", str(shape[axis]), eps=num(a["eps"]), momentum=momentum)
    gamma = np.ones_like(ctx.weight(1)) if a["fix_gamma"] else ctx.weight(1)
    state = {"weight": gamma, "bias": ctx.weight(2), "running_mean": ctx.weight(3), "running_var": ctx.weight(4),
             "num_batches_tracked": np.array(0, dtype=np.int64)}
    setup = [f"{ctx.layer}.weight.requires_grad_(False)"] if a["fix_gamma"] else []
    x = ctx.input(0) if axis == 1 else f"{ctx.input(0)}.movedim({axis}, 1)"
    bn = ctx.layer
    if a["use_global_stats"]:  # moving statistics in training too
        expr = _call("F.batch_norm", x, f"{bn}.running_mean", f"{bn}.running_var", f"{bn}.weight", f"{bn}.bias",
                     "False", "0.0", f"{bn}.eps")
    else:
        expr = _call(ctx.helper("mxnet_batch_norm"), x, f"{bn}.running_mean", f"{bn}.running_var",
                     f"{bn}.num_batches_tracked", f"{bn}.weight", f"{bn}.bias", "self.training", momentum, f"{bn}.eps")
    if axis != 1:
        expr = f"{expr}.movedim(1, {axis})"
    if a["output_mean_var"]:
        batch_stats = "False" if a["use_global_stats"] else "self.training"
        expr = _call(ctx.helper("mxnet_batch_norm_outputs"), expr, x, f"{bn}.running_mean", f"{bn}.running_var",
                     batch_stats, f"{bn}.eps")
    return Lowering(expr, layer, state, setup)


@register("FullyConnected", computed_weights=True)
def fully_connected(ctx: TorchContext, node: Node) -> Lowering:
    """``nn.Linear``; ``F.linear`` where a weight is computed in the graph."""
    a = node.attrs
    x = ctx.input(0)
    if a["flatten"] and len(ctx.shape(0)) > 2:
        x = f"torch.flatten({x}, 1)"
    if not ctx.all_weights_stored():
        return Lowering(_call("F.linear", x, ctx.input(1), *([] if a["no_bias"] else [ctx.input(2)])))
    weight = ctx.weight(1)
    options = {"bias": False} if a["no_bias"] else {}
    layer = _call("nn.Linear", str(weight.shape[1]), str(weight.shape[0]), **options)
    state = {"weight": weight} if a["no_bias"] else {"weight": weight, "bias": ctx.weight(2)}
    return Lowering(f"{ctx.layer}({x})", layer, state)


# --- activations --------------------------------------------------------------------------------------------
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
        return Lowering(_call("F.leaky_relu", x, negative_slope=num(a["slope"])))
    if kind == "rrelu":  # random slope in training, the mean slope at inference (as MXNet, whatever the bounds' order)
        low, high = sorted((a["lower_bound"], a["upper_bound"]))
        return Lowering(_call("F.rrelu", x, lower=num(low), upper=num(high), training="self.training"))
    if kind == "elu":
        return Lowering(_call("F.elu", x, alpha=num(a["slope"])))
    return Lowering(f"F.{kind}({x})")  # selu, gelu (erf form, as MXNet)


# --- pooling ------------------------------------------------------------------------------------------------
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


def _global_pooling(x: str, kind: str, rank: int) -> Lowering:
    reduce = {"max": "torch.amax", "avg": "torch.mean"}.get(kind, "torch.sum")
    return Lowering(_call(reduce, x, dim=list(range(2, rank)), keepdim=True))


def _window_pooling(ctx: TorchContext, x: str, a: dict) -> Lowering:
    """max, avg or sum (also for lp) pooling of channel-first ``x``: a PyTorch layer where one is exact."""
    kind = "sum" if a["pool_type"] == "lp" else a["pool_type"]
    rank = len(a["kernel"])
    kernel, stride, pad = pooling_params(a, rank)
    convention = a["pooling_convention"]
    if _pads_explicitly(a):
        return Lowering(_call(ctx.helper("mxnet_pool1d"), x, str(kernel[0]), str(stride[0]), str(pad[0]),
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
    layer = _call(f"nn.{'MaxPool' if kind == 'max' else 'AvgPool'}{rank}d", **options)
    expr = f"{ctx.layer}({x})"
    # PyTorch drops a last window starting in the padding only if it can start there: stride > kernel - pad.
    if full and any(s >= k - p + 1 for k, s, p in zip(kernel, stride, pad)):
        fill = num(LOWEST_FLOAT32) if kind == "max" else "0.0"
        expr = _call(ctx.helper("mxnet_full_pool"), expr, x, str(kernel), str(stride), str(pad), fill)
    return Lowering(expr, layer)


# --- element-wise and shape ops -----------------------------------------------------------------------------
@register("_copy")
def copy(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(ctx.input(0))


@register("Dropout")
def dropout(ctx: TorchContext, node: Node) -> Lowering:
    """Drops in ``train()`` (and always with ``mode="always"``, as MXNet does at inference); ``axes`` share one
    mask along them."""
    p = num(node.attrs["p"])
    training = "True" if node.attrs["mode"] == "always" else "self.training"
    if node.attrs["axes"]:
        axes = str(list(node.attrs["axes"]))
        return Lowering(_call(ctx.helper("mxnet_shared_dropout"), ctx.input(0), p, axes, training))
    if node.attrs["mode"] == "always":
        return Lowering(_call("F.dropout", ctx.input(0), p=p, training=training))
    return Lowering(f"{ctx.layer}({ctx.input(0)})", _call("nn.Dropout", p=p))


@register("Flatten")
def flatten(ctx: TorchContext, node: Node) -> Lowering:
    x = ctx.input(0)
    return Lowering(f"torch.flatten({x}, 1)" if len(ctx.shape(0)) > 1 else f"{x}.reshape(-1, 1)")


@register("Concat", "_rnn_param_concat")
def concat(ctx: TorchContext, node: Node) -> Lowering:
    parts = ", ".join(ctx.input(i) for i in range(len(node.inputs)))
    return Lowering(_call("torch.cat", f"[{parts}]", dim=node.attrs["dim"]))


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
        return Lowering(_call(ctx.helper("mxnet_length_softmax"), x, ctx.input(1), str(axis)))
    return Lowering(f"torch.softmax({x}, dim={node.attrs['axis']})")


@register("Reshape")
def reshape(ctx: TorchContext, node: Node) -> Lowering:
    x, target = ctx.input(0), ctx.out_shape()
    if reshape_reads_leading(ctx.shape(0), target):  # MXNet's output holds the leading elements
        return Lowering(f"{x}.reshape(-1)[:{math.prod(target)}].reshape({list(target)})")
    if reshape_moves_inferred(ctx.shape(0), node.attrs):
        return Lowering(f"{x}.reshape({list(target)})")
    return Lowering(f"{x}.reshape({', '.join(reshape_dims(x, len(ctx.shape(0)), node.attrs, ctx.out_shape()))})")


def reshape_dims(x: str, rank: int, attrs: dict, static: tuple[int, ...]) -> list[str]:
    """MXNet's Reshape target as expressions over ``x.shape``, so other input sizes reshape as MXNet would."""
    if not attrs["shape"]:  # deprecated ``target_shape``: the size found at conversion
        return [str(d) for d in static]
    return [str(term) if isinstance(term, int) else
            " * ".join(f"{x}.shape[{axis}]" for axis in term[0]) + (f" // {term[1]}" if term[1] != 1 else "")
            for term in reshape_terms(rank, attrs)]


@register("SliceChannel")
def slice_channel(ctx: TorchContext, node: Node) -> Lowering:
    a, x = node.attrs, ctx.input(0)
    axis = a["axis"] % len(ctx.shape(0))
    if a["num_outputs"] == 1:  # the one part is the tensor itself (read without an index)
        return Lowering(f"{x}.squeeze({axis})" if a["squeeze_axis"] else x)
    if a["squeeze_axis"]:  # each part has size 1 along ``axis``
        return Lowering(f"torch.unbind({x}, dim={axis})")
    return Lowering(f"torch.chunk({x}, {a['num_outputs']}, dim={axis})")


@register("Crop")
def crop(ctx: TorchContext, node: Node) -> Lowering:
    x = ctx.input(0)
    if len(node.inputs) > 1:  # the size of the reference input, read at run time
        ref = ctx.input(1)
        height, width = f"{ref}.shape[2]", f"{ref}.shape[3]"
    else:
        height, width = map(str, node.attrs["h_w"])
    if node.attrs["center_crop"]:
        return Lowering(_call(ctx.helper("mxnet_center_crop"), x, height, width))
    top, left = node.attrs["offset"]
    rows = f"{top}:{top} + {height}" if top else f":{height}"
    cols = f"{left}:{left} + {width}" if left else f":{width}"
    return Lowering(f"{x}[:, :, {rows}, {cols}]")


@register("transpose")
def transpose(ctx: TorchContext, node: Node) -> Lowering:
    rank = len(ctx.shape(0))
    axes = node.attrs["axes"] or tuple(reversed(range(rank)))
    return Lowering(f"{ctx.input(0)}.permute({', '.join(map(str, axes))})")


@register("clip")
def clip(ctx: TorchContext, node: Node) -> Lowering:
    """MXNet tests ``x > a_max`` first, then ``x < a_min``: with ``a_min > a_max`` that is not ``clamp``."""
    x, low, high = ctx.input(0), num(node.attrs["a_min"]), num(node.attrs["a_max"])
    if node.attrs["a_min"] <= node.attrs["a_max"]:
        return Lowering(_call("torch.clamp", x, min=low, max=high))
    return Lowering(f"torch.where({x} > {high}, {high}, torch.clamp({x}, min={low}))")


@register("L2Normalization")
def l2_normalization(ctx: TorchContext, node: Node) -> Lowering:
    """``x / sqrt(sum(x^2) + eps)`` over all but the batch axis, the channel axis, or the spatial axes."""
    x = ctx.input(0)
    dims = l2_normalization_axes(node.attrs["mode"], len(ctx.shape(0)))
    total = _call("torch.sum", f"{x} * {x}", dim=dims, keepdim=True) if dims else f"{x} * {x}"
    return Lowering(f"{x} / torch.sqrt({total} + {num(node.attrs['eps'])})")
