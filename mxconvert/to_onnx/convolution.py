"""One converter per MXNet op. Each reads typed attributes and emits ONNX nodes through the context."""
from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto, helper

from ..errors import NotExpressible
from ..ir import Node
from ..semantics.convolution import (channels_first, is_channels_last, negative_pad, pooling_windows, window_geometry,
                                     window_output)
from ..semantics.normalization import l2_normalization_axes
from ..semantics.resize import crop_offsets
from ..semantics.shape import reshape_reads_leading, reshape_terms
from .context import EmitContext
from .registry import register


@register("Convolution", check=lambda n, opset: negative_pad(n) or (
    None if not n.attrs["layout"] or n.attrs["layout"].startswith("NC") else f"layout {n.attrs['layout']}"),
    computed_weights=True)
def convolution(ctx: EmitContext, node: Node) -> None:
    """``Conv``; a weight computed in the graph (a cross-correlation with another branch) is an input like any."""
    a = node.attrs
    stride, pad, dilate = window_geometry(a, len(a["kernel"]))
    inputs = [ctx.input(0), ctx.input(1)] + ([] if a["no_bias"] else [ctx.input(2)])
    ctx.add("Conv", inputs, ctx.output(), kernel_shape=list(a["kernel"]), strides=list(stride),
            dilations=list(dilate), pads=list(pad + pad), group=a["num_group"])


@register("BatchNorm")
def batch_norm(ctx: EmitContext, node: Node) -> None:
    a = node.attrs
    gamma_name, beta_name, mean_name, var_name = (ref.node for ref in node.inputs[1:5])
    gamma = ctx.graph.weight(gamma_name)
    if a["fix_gamma"]:  # MXNet multiplies by 1 whatever gamma is stored
        gamma = np.ones_like(gamma)
    rank = len(ctx.shape(0))
    axis = a["axis"] % rank
    if a["output_mean_var"]:  # at inference MXNet outputs the moving mean and 1 / sqrt(moving_var + eps)
        mean, var = (ctx.graph.weight(n).astype(np.float64) for n in (mean_name, var_name))
        ctx.add("Identity", [ctx.const(mean, "mean")], ctx.output(1))
        ctx.add("Identity", [ctx.const(1.0 / np.sqrt(var + a["eps"]), "invstd")], ctx.output(2))
    if axis == 1:
        inputs = [ctx.input(0), ctx.weight(gamma_name, gamma), ctx.weight(beta_name), ctx.weight(mean_name),
                  ctx.weight(var_name)]
        ctx.add("BatchNormalization", inputs, ctx.output(), epsilon=a["eps"])
        return
    # Other axes: the same arithmetic with statistics shaped to broadcast along ``axis``.
    bshape = [1] * rank
    bshape[axis] = -1
    mean, var = (ctx.graph.weight(n).astype(np.float64) for n in (mean_name, var_name))
    scale = gamma.astype(np.float64) / np.sqrt(var + a["eps"])
    shift = ctx.graph.weight(beta_name).astype(np.float64) - mean * scale
    scaled = ctx.add("Mul", [ctx.input(0), ctx.const(scale.reshape(bshape), "scale")])
    ctx.add("Add", [scaled, ctx.const(shift.reshape(bshape), "shift")], ctx.output())


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


@register("Pooling", check=lambda n, opset: negative_pad(n))
def pooling(ctx: EmitContext, node: Node) -> None:
    """MXNet's windows (``pooling_windows``) on channel-first data; channels-last layouts are transposed."""
    a = node.attrs
    x, out, shape = ctx.input(0), ctx.output(), ctx.shape(0)
    rank = len(shape)
    last = is_channels_last(a["layout"])
    if last:
        x = ctx.add("Transpose", [x], perm=[0, rank - 1, *range(1, rank - 1)])
        out = ctx.temp("pooled")
    windows = pooling_windows(a, channels_first(shape, a["layout"]))
    kind, full = a["pool_type"], a["pooling_convention"] == "full"
    if kind == "lp":
        _lp_pooling(ctx, x, windows, a["global_pool"], a["p_value"], out, full)
    elif a["global_pool"]:
        if kind == "sum":
            ctx.reduce_sum(x, list(range(2, rank)), out)
        else:
            ctx.add("GlobalMaxPool" if kind == "max" else "GlobalAveragePool", [x], out)
    else:
        _window_pooling(ctx, kind, a["count_include_pad"] is not False, x, windows, out, full)
    if last:
        ctx.add("Transpose", [out], ctx.output(), perm=[0, *range(2, rank), 1])


def _lp_pooling(ctx: EmitContext, x: str, windows: list, global_pool: bool, p: int, out: str, full: bool) -> None:
    """MXNet's lp pooling: the p-th root of the window sum of ``x ** p`` (signed for odd p: p=1 is a plain sum)."""
    powered = x
    for _ in range(p - 1):
        powered = ctx.add("Mul", [powered, x])
    sum_out = out if p == 1 else None
    if global_pool:
        summed = ctx.reduce_sum(powered, list(range(2, 2 + len(windows))), sum_out)
    else:
        summed = _window_pooling(ctx, "sum", True, powered, windows, sum_out, full)
    if p == 2:
        ctx.add("Sqrt", [summed], out)
    elif p == 3:  # the real cube root: max(s, 0) ** (1/3) - max(-s, 0) ** (1/3)
        third = ctx.const(1.0 / 3.0, "third")
        positive = ctx.add("Pow", [ctx.add("Relu", [summed]), third])
        negative = ctx.add("Pow", [ctx.add("Relu", [ctx.add("Neg", [summed])]), third])
        ctx.add("Sub", [positive, negative], out)


def _window_pooling(ctx: EmitContext, kind: str, counted: bool, x: str, windows: list, out: str | None,
                    full: bool) -> str:
    """max, avg (its divisor counting the padding when ``counted``) or sum over MXNet's windows. ONNX's ceil mode
    is tried first for MXNet's ``full`` convention: where floor and ceil both fit one size, the choice then does
    not change with the size (a dynamic axis)."""
    kernel, strides, pads = ([w[i] for w in windows] for i in (1, 2, 3))
    modes = (True, False) if full else (False, True)
    ceil = next((c for c in modes if all(_onnx_pool_is_exact(kind, c, *w) for w in windows)), None)
    if ceil is None:
        return _explicit_pooling(ctx, kind, counted, x, windows, out)
    attrs = dict(kernel_shape=kernel, strides=strides, pads=pads + pads, ceil_mode=int(ceil))
    if kind == "max":
        return ctx.add("MaxPool", [x], out, **attrs)
    averaged = ctx.add("AveragePool", [x], out if kind == "avg" else None,
                       count_include_pad=int(counted or kind == "sum"), **attrs)
    if kind == "avg":
        return averaged
    return ctx.add("Mul", [averaged, ctx.const(float(math.prod(kernel)))], out)


def _onnx_pool_is_exact(kind: str, ceil: bool, size: int, kernel: int, stride: int, pad: int, count: int) -> bool:
    """Whether ONNX's own padding and ``ceil`` mode give MXNet's windows along one axis (ONNX takes pads smaller
    than the kernel only)."""
    if pad >= kernel:
        return False
    onnx_count = window_output(size, kernel, stride, pad, ceil=ceil)
    if ceil and (onnx_count - 1) * stride >= size + pad:  # ONNX drops a last window starting in the padding
        onnx_count -= 1
    # sum is computed as average x kernel size: wrong where a window overhangs the padding (smaller divisor)
    return onnx_count == count and not (kind == "sum" and (count - 1) * stride + kernel > size + 2 * pad)


def _explicit_pooling(ctx: EmitContext, kind: str, counted: bool, x: str, windows: list, out: str | None) -> str:
    """MXNet's windows exactly: pad explicitly, pool without padding, rescale each output by MXNet's divisor."""
    # padding at the end to hold the last window (none where the windows stop short of the data's end)
    pad_end = [max((count - 1) * stride + kernel - size - pad, 0) for size, kernel, stride, pad, count in windows]
    pad_value = np.finfo(ctx.float_type).min if kind == "max" else 0.0
    pads = ctx.ints([0, 0, *(w[3] for w in windows), 0, 0, *pad_end], "pads")
    padded = ctx.add("Pad", [x, pads, ctx.const(pad_value, "pad_value")], mode="constant")
    attrs = dict(kernel_shape=[w[1] for w in windows], strides=[w[2] for w in windows])
    if kind == "max":
        return ctx.add("MaxPool", [padded], out, **attrs)
    averaged = ctx.add("AveragePool", [padded], **attrs)
    divisors = [np.asarray(_mxnet_divisors(*w, kind == "avg" and counted)) for w in windows]
    divisor = divisors[0]
    for extra in divisors[1:]:
        divisor = np.multiply.outer(divisor, extra)
    window = math.prod(w[1] for w in windows)
    scale = window / np.where(divisor > 0, divisor, np.inf) if kind == "avg" else np.full(divisor.shape, window)
    return ctx.add("Mul", [averaged, ctx.const(scale.reshape(1, 1, *divisor.shape), "divisor")], out)


def _mxnet_divisors(size: int, kernel: int, stride: int, pad: int, count: int, counted: bool) -> list[int]:
    """MXNet's average divisor per window: clipped to the padded extent, or to the data without padding."""
    divisors = []
    for index in range(count):
        start = index * stride - pad
        end = min(start + kernel, size + pad)
        divisors.append(end - start if counted else max(min(end, size) - max(start, 0), 0))
    return divisors


@register("FullyConnected", computed_weights=True)
def fully_connected(ctx: EmitContext, node: Node) -> None:
    """``Gemm``, or ``MatMul`` on the last axis without ``flatten``; a stored weight is stored transposed there,
    a computed one transposed in the graph."""
    a = node.attrs
    weight = node.inputs[1].node
    bias = None if a["no_bias"] else ctx.input(2)
    x = ctx.input(0)
    if a["flatten"]:
        flat = ctx.add("Flatten", [x], axis=1) if len(ctx.shape(0)) != 2 else x
        ctx.add("Gemm", [flat, ctx.input(1)] + ([bias] if bias else []), ctx.output(), transB=1)
        return
    if ctx.stored(1):
        transposed = ctx.weight(f"{weight}_transposed", np.ascontiguousarray(ctx.graph.weight(weight).T))
    else:
        transposed = ctx.add("Transpose", [ctx.input(1)], perm=[1, 0])
    product = ctx.add("MatMul", [x, transposed], None if bias else ctx.output())
    if bias:
        ctx.add("Add", [product, bias], ctx.output())


@register("Flatten")
def flatten(ctx: EmitContext, node: Node) -> None:
    ctx.add("Flatten", [ctx.input(0)], ctx.output(), axis=1)


@register("_copy")
def identity(ctx: EmitContext, node: Node) -> None:
    ctx.add("Identity", [ctx.input(0)], ctx.output())


def _dropout_check(node: Node, opset: int) -> str | None:
    if node.attrs["mode"] != "always":
        return None
    if node.attrs["axes"]:
        return f"mode always with axes {node.attrs['axes']}"
    return "mode always needs opset 12 (Dropout's training_mode)" if opset < 12 else None


@register("Dropout", check=_dropout_check)
def dropout(ctx: EmitContext, node: Node) -> None:
    """An identity at inference; ``mode="always"`` drops at inference too, as MXNet does."""
    if node.attrs["mode"] != "always":
        ctx.add("Identity", [ctx.input(0)], ctx.output())
        return
    ratio = ctx.const(node.attrs["p"], "ratio")
    training = ctx.const(np.array(True), "training_mode", dtype=np.bool_)
    ctx.add("Dropout", [ctx.input(0), ratio, training], ctx.output())


@register("Concat", "_rnn_param_concat")
def concat(ctx: EmitContext, node: Node) -> None:
    ctx.add("Concat", [ctx.input(i) for i in range(len(node.inputs))], ctx.output(), axis=node.attrs["dim"])


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


@register("Reshape")
def reshape(ctx: EmitContext, node: Node) -> None:
    target = ctx.out_shape()
    if reshape_reads_leading(ctx.shape(0), target):  # MXNet's output holds the leading elements
        if ctx.batch_dynamic:
            raise NotExpressible(f"reshape to {target} keeps part of the batch")
        flat = ctx.reshape(ctx.input(0), [-1])
        ctx.reshape(ctx.add("Slice", [flat, ctx.ints([0]), ctx.ints([math.prod(target)])]), target, ctx.output())
        return
    spec = node.attrs["shape"]
    if spec and not node.attrs["reverse"] and all(code >= -1 for code in spec) and list(spec).count(-1) <= 1:
        ctx.reshape(ctx.input(0), list(spec), ctx.output())  # 0 copies and -1 infers as in ONNX: sizes stay live
        return
    if spec and (ctx.batch_dynamic or not all(isinstance(dim, int) for dim in ctx.live(node.inputs[0]))):
        ctx.add("Reshape", [ctx.input(0), _live_target(ctx, reshape_terms(len(ctx.shape(0)), node.attrs))],
                ctx.output())
        return
    ctx.reshape(ctx.input(0), ctx.batch_shape(target, ctx.shape(0)), ctx.output())


def _live_target(ctx: EmitContext, terms: list) -> str:
    """A Reshape target computed from the input's shape at run time (``shapes.reshape_terms``)."""
    shape = ctx.add("Shape", [ctx.input(0)])
    parts = []
    for term in terms:
        if isinstance(term, int):
            parts.append(ctx.ints([term]))
            continue
        axes, divisor = term
        size = ctx.add("Gather", [shape, ctx.ints([axes[0]], "axis")])
        for axis in axes[1:]:
            size = ctx.add("Mul", [size, ctx.add("Gather", [shape, ctx.ints([axis], "axis")])])
        parts.append(size if divisor == 1 else ctx.add("Div", [size, ctx.ints([divisor], "divisor")]))
    return ctx.add("Concat", parts, axis=0)


@register("SliceChannel")
def slice_channel(ctx: EmitContext, node: Node) -> None:
    a = node.attrs
    axis = a["axis"] % len(ctx.shape(0))
    parts = a["num_outputs"]
    outs = [ctx.output(i) if not a["squeeze_axis"] else ctx.temp("part") for i in range(parts)]
    extra = {"num_outputs": parts} if ctx.opset >= 18 else {}
    ctx.add("Split", [ctx.input(0)], outs, axis=axis, **extra)
    if a["squeeze_axis"]:
        for i, part in enumerate(outs):
            ctx.squeeze(part, [axis], ctx.output(i))


@register("Crop")
def crop(ctx: EmitContext, node: Node) -> None:
    in_shape, out_shape = ctx.shape(0), ctx.out_shape()
    top, left = crop_offsets(node, in_shape, out_shape[2:4])
    starts = ctx.ints([top, left], "starts")
    ends = ctx.ints([top + out_shape[2], left + out_shape[3]], "ends")
    ctx.add("Slice", [ctx.input(0), starts, ends, ctx.ints([2, 3], "axes")], ctx.output())


@register("transpose")
def transpose(ctx: EmitContext, node: Node) -> None:
    rank = len(ctx.shape(0))
    axes = node.attrs["axes"] or tuple(reversed(range(rank)))
    ctx.add("Transpose", [ctx.input(0)], ctx.output(), perm=list(axes))


@register("clip")
def clip(ctx: EmitContext, node: Node) -> None:
    """MXNet tests ``x > a_max`` first, then ``x < a_min``: with ``a_min > a_max`` that is not ONNX's Clip."""
    low, high = ctx.const(node.attrs["a_min"], "min"), ctx.const(node.attrs["a_max"], "max")
    if node.attrs["a_min"] <= node.attrs["a_max"]:
        ctx.add("Clip", [ctx.input(0), low, high], ctx.output())
        return
    x = ctx.input(0)
    ctx.add("Where", [ctx.add("Greater", [x, high]), high, ctx.add("Max", [x, low])], ctx.output())


@register("L2Normalization")
def l2_normalization(ctx: EmitContext, node: Node) -> None:
    axes = l2_normalization_axes(node.attrs["mode"], len(ctx.shape(0)))
    x = ctx.input(0)
    squares = ctx.add("Mul", [x, x])
    if axes:
        squares = ctx.reduce_sum(squares, axes)
    norm = ctx.add("Sqrt", [ctx.add("Add", [squares, ctx.const(node.attrs["eps"], "eps")])])
    ctx.add("Div", [x, norm], ctx.output())
