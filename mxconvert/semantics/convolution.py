"""Convolution, Deconvolution and Pooling (MXNet 0.x's Pooling_v1 too) and the deformable convolutions: the
windowed ops, with MXNet's window arithmetic (stride, pad, dilation, pooling conventions, channels-last layouts,
deformable sampling) that both emitters share."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..ir import Node
from .rules import Shape, ShapeError, expect, shape_rule
from .schema import (COUNT, CUDNN_OFF, LAYOUT, OpDef, PAD, REQUIRED, SHAPE_EMPTY, WINDOW, alias, choice, define,
                     optional, parse_bool, parse_int, parse_shape, parse_str, positive_sizes)

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
define({
    "Convolution": OpDef(
        {
            "kernel": (positive_sizes(parse_shape), REQUIRED),
            "stride": WINDOW,
            "dilate": WINDOW,
            "pad": PAD,
            "num_filter": (COUNT, REQUIRED),
            "num_group": (COUNT, 1),  # unbounded in MXNet, whose shape inference then divides by zero
            "workspace": (parse_int, 1024),
            "no_bias": (parse_bool, False),
            "cudnn_tune": (optional(parse_str), None),
            "cudnn_off": CUDNN_OFF,
            "layout": LAYOUT,
        },
        param_inputs=(1, 2),
        input_names=lambda a: ("data", "weight") + (() if a["no_bias"] else ("bias",)),
    ),
    "Pooling": OpDef(
        {
            "kernel": WINDOW,
            "pool_type": (choice("avg", "lp", "max", "sum"), "max"),
            "global_pool": (parse_bool, False),
            "cudnn_off": CUDNN_OFF,
            "pooling_convention": (choice("full", "same", "valid"), "valid"),
            "stride": WINDOW,
            "pad": PAD,
            "p_value": (optional(parse_int), None),
            "count_include_pad": (optional(parse_bool), None),
            "layout": LAYOUT,
        }
    ),
    "Deconvolution": OpDef(
        {
            "kernel": (positive_sizes(parse_shape), REQUIRED),
            "stride": WINDOW,
            "dilate": WINDOW,
            "pad": PAD,
            "adj": SHAPE_EMPTY,
            "target_shape": SHAPE_EMPTY,
            "num_filter": (COUNT, REQUIRED),
            "num_group": (COUNT, 1),
            "workspace": (parse_int, 512),  # unsigned in MXNet: "-1" wraps around
            "no_bias": (parse_bool, True),
            "cudnn_tune": (choice(None, "off", "limited_workspace", "fastest"), None),
            "cudnn_off": CUDNN_OFF,
            "layout": (choice(None, "NCW", "NCHW", "NCDHW", "NHWC", "NDHWC"), None),
        },
        param_inputs=(1, 2),
        input_names=lambda a: ("data", "weight") + (() if a["no_bias"] else ("bias",)),
    ),
})


define({
    # MXNet 0.x's pooling: 2-D, max and sum over zero-padded data, avg divided by the whole kernel
    "Pooling_v1": OpDef({
        "kernel": WINDOW,
        "pool_type": (choice("avg", "max", "sum"), "max"),
        "global_pool": (parse_bool, False),
        "pooling_convention": (choice("full", "valid"), "valid"),
        "stride": WINDOW,
        "pad": PAD,
    }),
})


_DEFORMABLE_ATTRS = {
    "kernel": (positive_sizes(parse_shape), REQUIRED),
    "stride": WINDOW,
    "dilate": WINDOW,
    "pad": PAD,
    "num_filter": (COUNT, REQUIRED),
    "num_group": (COUNT, 1),
    "num_deformable_group": (COUNT, 1),
    "workspace": (parse_int, 1024),
    "no_bias": (parse_bool, False),
    "layout": (choice(None, "NCW", "NCHW", "NCDHW"), None),
}
define({
    # Deformable ConvNets (v1): every kernel tap sampled bilinearly at its position moved by the offset input
    "_contrib_DeformableConvolution": OpDef(
        _DEFORMABLE_ATTRS, param_inputs=(2, 3),
        input_names=lambda a: ("data", "offset", "weight") + (() if a["no_bias"] else ("bias",))),
    # DCNv2: the samples also scaled by the mask input
    "_contrib_ModulatedDeformableConvolution": OpDef(
        {**_DEFORMABLE_ATTRS, "im2col_step": (parse_int, 64)}, param_inputs=(3, 4),
        input_names=lambda a: ("data", "offset", "mask", "weight") + (() if a["no_bias"] else ("bias",))),
})
DEFORMABLE_CONVOLUTIONS = ("_contrib_DeformableConvolution", "_contrib_ModulatedDeformableConvolution")


alias("Convolution_v1", "Convolution")  # the same attributes and arithmetic (im2col) as Convolution
alias("_npx_deconvolution", "Deconvolution")
alias("_npx_convolution", "Convolution")
alias("_npx_pooling", "Pooling")


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
def _spatial(attr: tuple, rank: int, default: int) -> tuple[int, ...]:
    return tuple(attr) if attr else (default,) * rank


def window_geometry(attrs: dict, rank: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Stride, pad and dilation of a ``rank``-D window op, with MXNet's defaults and checks (one value per
    spatial axis; stride and dilation at least 1)."""
    values = []
    for key, default in (("stride", 1), ("pad", 0), ("dilate", 1)):
        given = attrs.get(key, ())
        if given and len(given) != rank:
            raise ShapeError(f"{key} {given} does not have {rank} values like the kernel")
        value = _spatial(given, rank, default)
        if key != "pad" and min(value) < 1:
            raise ShapeError(f"{key} {value} must be at least 1")
        values.append(value)
    return tuple(values)


def negative_pad(node: Node) -> str | None:
    """The reason a window op with a negative pad (MXNet crops there) is not converted, or None (global pooling
    ignores its pad)."""
    if node.attrs.get("global_pool") or not any(p < 0 for p in node.attrs["pad"]):
        return None
    return f"negative pad {node.attrs['pad']}"


def window_output(size: int, kernel: int, stride: int, pad: int, dilate: int = 1, ceil: bool = False) -> int:
    span = size + 2 * pad - dilate * (kernel - 1) - 1
    return (math.ceil(span / stride) if ceil else span // stride) + 1


@shape_rule("Convolution")
def _convolution(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    data = shapes[0]
    rank = len(a["kernel"])
    if len(data) != rank + 2:
        raise ShapeError(f"data has shape {data}, expected {rank + 2}-D for a {rank}-D kernel")
    groups = a["num_group"]
    if data[1] % groups or a["num_filter"] % groups:
        raise ShapeError(f"{data[1]} input channels do not split into {groups} groups")
    expect(shapes[1], (a["num_filter"], data[1] // groups, *a["kernel"]), "weight")
    if not a["no_bias"]:
        expect(shapes[2], (a["num_filter"],), "bias")
    stride, pad, dilate = window_geometry(a, rank)
    out = [window_output(data[2 + i], a["kernel"][i], stride[i], pad[i], dilate[i]) for i in range(rank)]
    return [(data[0], a["num_filter"], *out)]


def is_modulated(node: Node) -> bool:
    """Whether a deformable convolution scales its samples by a mask (DCNv2): its weight is input 3, else 2."""
    return node.op == "_contrib_ModulatedDeformableConvolution"


def deformable_taps(node: Node) -> tuple[np.ndarray, np.ndarray]:
    """MXNet's sampling of a 2-D deformable convolution: the row and the column of each kernel tap (``kh * kw``,
    row-major) from its window's first, the tap's index times the dilation; output position (i, j)'s window
    starts at (i * stride - pad, j * stride - pad), and each tap samples there moved by its offset. DCNv1 (not
    ``is_modulated``) samples where 0 <= y < H and 0 <= x < W, its last row and column read alone (y clamped to
    H - 1); DCNv2 samples where -1 < y < H and -1 < x < W, reading zeros past the edges. Elsewhere both read 0."""
    dilate = window_geometry(node.attrs, 2)[2]
    taps_y, taps_x = np.meshgrid(np.arange(node.attrs["kernel"][0]) * dilate[0],
                                 np.arange(node.attrs["kernel"][1]) * dilate[1], indexing="ij")
    return taps_y.reshape(-1), taps_x.reshape(-1)


@shape_rule(*DEFORMABLE_CONVOLUTIONS)
def _deformable_convolution(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    data = shapes[0]
    if len(a["kernel"]) != 2 or len(data) != 4:
        raise ShapeError(f"data of shape {data}, kernel {a['kernel']}: MXNet runs deformable convolutions in 2-D only")
    groups, deformable = a["num_group"], a["num_deformable_group"]
    if data[1] % groups or a["num_filter"] % groups or data[1] % deformable:
        raise ShapeError(f"{data[1]} input channels do not split into {groups} groups and {deformable} "
                         "deformable groups")
    stride, pad, dilate = window_geometry(a, 2)
    out = [window_output(data[2 + i], a["kernel"][i], stride[i], pad[i], dilate[i]) for i in range(2)]
    taps = a["kernel"][0] * a["kernel"][1]
    expect(shapes[1], (data[0], 2 * deformable * taps, *out), "offset")
    weight_slot = 3 if is_modulated(node) else 2
    if is_modulated(node):
        expect(shapes[2], (data[0], deformable * taps, *out), "mask")
    expect(shapes[weight_slot], (a["num_filter"], data[1] // groups, *a["kernel"]), "weight")
    if not a["no_bias"]:
        expect(shapes[weight_slot + 1], (a["num_filter"],), "bias")
    return [(data[0], a["num_filter"], *out)]


@shape_rule("Pooling")
def _pooling(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    data = shapes[0]
    if not 3 <= len(data) <= 5:
        raise ShapeError(f"data has shape {data}, expected 3-D to 5-D")
    if a["layout"] and len(a["layout"]) != len(data):
        raise ShapeError(f"layout {a['layout']} does not fit {len(data)}-D data")
    if a["pool_type"] == "lp" and a["p_value"] not in LP_P_VALUES:
        raise ShapeError(f"lp pooling needs p_value 1, 2 or 3, not {a['p_value']}")
    first = channels_first(data, a["layout"])
    out = (*first[:2], *(count for *_, count in pooling_windows(a, first)))
    return [channels_last(out) if is_channels_last(a["layout"]) else out]


def pooling_v1_as_pooling(node: Node) -> Node:
    """The Pooling a ``Pooling_v1`` node's windows are: its avg windows as sum ones (MXNet's legacy avg pooling
    divides every window's sum by the whole kernel, :func:`pooling_v1_divisor`)."""
    attrs = {**node.attrs, "cudnn_off": False, "p_value": None, "count_include_pad": True, "layout": None}
    if attrs["pool_type"] == "avg" and not attrs["global_pool"]:
        attrs["pool_type"] = "sum"
    return dataclasses.replace(node, op="Pooling", attrs=attrs)


def pooling_v1_divisor(node: Node) -> int:
    """What a ``Pooling_v1``'s sums are divided by: the kernel's size for non-global avg pooling, else 1."""
    a = node.attrs
    return math.prod(a["kernel"]) if a["pool_type"] == "avg" and not a["global_pool"] else 1


def pooling_v1_refusal(node: Node) -> str | None:
    """Why a ``Pooling_v1`` is not converted: max pooling over its padding, which MXNet's legacy pooling fills
    with zeros."""
    a = node.attrs
    if a["pool_type"] == "max" and not a["global_pool"] and any(a["pad"]):
        return f"max pooling over zero padding {a['pad']}"
    return negative_pad(node)


@shape_rule("Pooling_v1")
def _pooling_v1(node: Node, shapes: list[Shape]) -> list[Shape]:
    if len(shapes[0]) != 4:
        raise ShapeError(f"data has shape {shapes[0]}: MXNet's Pooling_v1 runs on 4-D data")
    return _pooling(pooling_v1_as_pooling(node), shapes)


LP_P_VALUES = (1, 2, 3)  # the p of lp pooling MXNet runs


def is_channels_last(layout: str | None) -> bool:
    """Whether an op's ``layout`` (NWC, NHWC, NDHWC) puts channels last; unset means channels first."""
    return bool(layout) and layout.endswith("C")


def channels_first(shape: Shape, layout: str | None) -> Shape:
    """``shape`` in the channel-first order (NCW, NCHW, NCDHW) the window arithmetic is written in."""
    return (shape[0], shape[-1], *shape[1:-1]) if is_channels_last(layout) else tuple(shape)


def channels_last(shape: Shape) -> Shape:
    return (shape[0], *shape[2:], shape[1])


def pooling_params(attrs: dict, rank: int) -> tuple[list[int], list[int], list[int]]:
    """Kernel, stride and pad of a non-global Pooling per spatial axis (MXNet reads the first ``rank`` entries)."""
    if len(attrs["kernel"]) != rank:
        raise ShapeError(f"kernel {attrs['kernel']} does not fit {rank}-D pooling")
    stride, pad = (list(attrs[key][:rank]) if attrs[key] else [default] * rank
                   for key, default in (("stride", 1), ("pad", 0)))
    if len(stride) != rank or len(pad) != rank:
        raise ShapeError(f"stride {attrs['stride']} and pad {attrs['pad']} do not fit {rank}-D pooling")
    if min(stride) < 1 or min(attrs["kernel"]) < 1:
        raise ShapeError(f"kernel {attrs['kernel']} and stride {attrs['stride']} must be at least 1")
    return list(attrs["kernel"]), stride, pad


def pooling_windows(attrs: dict, data: Shape) -> list[tuple[int, int, int, int, int]]:
    """MXNet's pooling windows on channel-first ``data``: per spatial axis ``(size, kernel, stride, pad, count)``.

    Window ``i`` starts at ``i * stride - pad`` and is clipped to the data (max, sum, lp) or, for the divisor
    of avg, to the padded extent ``size + pad``. ``valid`` keeps windows inside the padded data, ``full``
    adds a last one that may overhang, ``same`` (1-D only, no padding) has ``ceil(size / stride)`` windows.
    """
    sizes = data[2:]
    convention = attrs["pooling_convention"]
    if convention == "same" and len(sizes) != 1:
        raise ShapeError("MXNet runs pooling_convention same only on 1-D data")
    if attrs["global_pool"]:
        return [(size, size, 1, 0, 1) for size in sizes]
    kernel, stride, pad = pooling_params(attrs, len(sizes))
    if convention == "same" and any(pad):
        raise ShapeError("pooling_convention same takes no padding")
    windows = []
    for size, k, s, p in zip(sizes, kernel, stride, pad):
        if k > size + 2 * p:
            raise ShapeError(f"kernel {k} exceeds the input size {size} padded by {p}")
        count = math.ceil(size / s) if convention == "same" else window_output(size, k, s, p,
                                                                                ceil=convention == "full")
        windows.append((size, k, s, p, count))
    return windows


def deconvolution_geometry(attrs: dict, sizes: Shape) -> tuple[tuple[int, ...], ...]:
    """Stride, pad, adj and dilation of a Deconvolution on channel-first spatial ``sizes``, as MXNet's own kernel
    infers them: a ``target_shape`` with any non-zero size replaces pad and adj (the crop of the full output split
    evenly, its odd unit as adj; a zero there empties the output)."""
    rank = len(attrs["kernel"])
    stride, pad, dilate = window_geometry(attrs, rank)
    adj = _spatial(attrs["adj"], rank, 0)
    target = attrs["target_shape"]
    if any(target):  # MXNet reads its first ``rank`` values
        if len(target) < rank:
            raise ShapeError(f"target_shape {target} has fewer than {rank} values like the kernel")
        target = target[:rank]
        full = _uncropped_deconvolution(attrs, sizes, stride, dilate)
        if any(f < t for f, t in zip(full, target)):
            raise ShapeError(f"target_shape {target} is larger than the full output {tuple(full)}")
        pad = tuple((f - t + 1) // 2 for f, t in zip(full, target))
        adj = tuple((f - t) % 2 for f, t in zip(full, target))
    if len(adj) != rank or any(a < 0 or a >= s for a, s in zip(adj, stride)):
        raise ShapeError(f"adj {adj} must be at least 0 and smaller than the stride {stride}")
    return stride, pad, adj, dilate


def _uncropped_deconvolution(attrs: dict, sizes: Shape, stride: tuple, dilate: tuple) -> list[int]:
    """The spatial sizes of a Deconvolution's output before pad crops it and adj extends it."""
    return [s * (size - 1) + d * (k - 1) + 1 for size, k, s, d in zip(sizes, attrs["kernel"], stride, dilate)]


def deconvolution_output(attrs: dict, sizes: Shape) -> tuple[int, ...]:
    stride, pad, adj, dilate = deconvolution_geometry(attrs, sizes)
    full = _uncropped_deconvolution(attrs, sizes, stride, dilate)
    return tuple(f - 2 * p + a for f, p, a in zip(full, pad, adj))


@shape_rule("Deconvolution")
def _deconvolution(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    rank = len(a["kernel"])
    if len(shapes[0]) != rank + 2 or not 1 <= rank <= 3:
        raise ShapeError(f"data has shape {shapes[0]}, expected {rank + 2}-D for a {rank}-D kernel (1-D to 3-D)")
    if a["layout"] and len(a["layout"]) != rank + 2:
        raise ShapeError(f"layout {a['layout']} does not fit a {rank}-D kernel")
    data = channels_first(shapes[0], a["layout"])
    groups = a["num_group"]
    if data[1] % groups or a["num_filter"] % groups:
        raise ShapeError(f"{data[1]} input and {a['num_filter']} output channels do not split into {groups} groups")
    weight = (data[1], a["num_filter"] // groups, *a["kernel"])
    expect(shapes[1], channels_last(weight) if is_channels_last(a["layout"]) else weight, "weight")
    if not a["no_bias"]:
        expect(shapes[2], (a["num_filter"],), "bias")
    out = (data[0], a["num_filter"], *deconvolution_output(a, data[2:]))
    return [channels_last(out) if is_channels_last(a["layout"]) else out]


def deconvolution_refusal(node: Node) -> str | None:
    """Why a Deconvolution is not converted: channels-last layouts, or a negative pad (MXNet crops there)
    where no target_shape replaces it."""
    layout = node.attrs["layout"]
    if is_channels_last(layout):
        return f"layout {layout}"
    return None if any(node.attrs["target_shape"]) else negative_pad(node)


# --- im2col and col2im: the sliding windows as columns, and back (overlaps summed) ---------------------------
_SLIDING = {"kernel": (positive_sizes(parse_shape), REQUIRED), "stride": WINDOW, "dilate": WINDOW, "pad": PAD}
define({
    "im2col": OpDef(_SLIDING),
    "col2im": OpDef({"output_size": (positive_sizes(parse_shape), REQUIRED), **_SLIDING}),
})


def sliding_geometry(attrs: dict) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Kernel, stride, pad and dilation of ``im2col``/``col2im``: MXNet 1.9.1's CPU kernels run 2-D windows only
    (1-D and 3-D ones fail there), with a pad of 0 or more."""
    kernel = attrs["kernel"]
    if len(kernel) != 2:
        raise ShapeError(f"kernel {kernel}: MXNet 1.9.1 runs 2-D windows only")
    stride, pad, dilate = window_geometry(attrs, 2)
    if min(pad) < 0:
        raise ShapeError(f"negative pad {pad}")
    return kernel, stride, pad, dilate


def _blocks(attrs: dict, sizes: Shape) -> tuple[int, int]:
    """How many windows fit along each axis of an image of ``sizes``."""
    kernel, stride, pad, dilate = sliding_geometry(attrs)
    blocks = tuple(window_output(sizes[i], kernel[i], stride[i], pad[i], dilate[i]) for i in range(2))
    if min(blocks) < 1:
        raise ShapeError(f"the dilated kernel {kernel} is larger than the padded image {sizes}")
    return blocks


@shape_rule("im2col")
def _im2col(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if len(data) != 4:
        raise ShapeError(f"data has shape {data}: im2col takes 4-D data")
    blocks = _blocks(node.attrs, data[2:])
    return [(data[0], data[1] * math.prod(node.attrs["kernel"]), math.prod(blocks))]


@shape_rule("col2im")
def _col2im(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, size, window = shapes[0], node.attrs["output_size"], math.prod(node.attrs["kernel"])
    if len(size) != 2 or len(data) != 3 or data[1] % window or data[2] != math.prod(_blocks(node.attrs, size)):
        raise ShapeError(f"data of shape {data}: col2im takes (N, C x {window}, the windows of {size}) columns "
                         "and a 2-D output_size")
    return [(data[0], data[1] // window, *size)]


def one_hot_kernels(channels: int, kernel: Shape) -> np.ndarray:
    """A grouped convolution's weight, one group per channel, that copies each kernel position to its own output
    channel (``channel * kernel size + position``), as im2col lists them."""
    window = math.prod(kernel)
    return np.tile(np.eye(window).reshape(window, 1, *kernel), (channels, 1, 1, 1))
