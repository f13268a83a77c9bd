"""Static shape inference over the IR, one small rule per op; also checks weight shapes against the graph."""
from __future__ import annotations

import math
from typing import Callable

from .errors import MxConvertError, UnsupportedOpsError
from .ir import Graph, Node, TensorRef, VarKind
from .opdefs import BINARY_FORMS, REDUCTIONS, UNARY_MATH

Shape = tuple[int, ...]
ShapeRule = Callable[[Node, list[Shape]], list[Shape]]
_RULES: dict[str, ShapeRule] = {}
MAX_ELEMENTS = 1 << 30  # 4 GiB of float32 in one tensor: a 64-channel 4096x4096 map still fits


class ShapeError(MxConvertError):
    """A node's inputs do not fit its op (wrong weight shape, mismatched operands)."""


def shape_rule(*ops: str) -> Callable[[ShapeRule], ShapeRule]:
    def register(rule: ShapeRule) -> ShapeRule:
        for op in ops:
            _RULES[op] = rule
        return rule

    return register


def infer_shapes(graph: Graph, input_shapes: dict[str, Shape]) -> dict[TensorRef, Shape]:
    """Shape of every tensor for the given data-input shapes; raises ShapeError naming the node."""
    missing = {}
    for node in graph.nodes:
        if node.op not in _RULES:
            missing.setdefault(node.op, []).append(node.name)
    if missing:
        raise UnsupportedOpsError("shape inference", missing)
    shapes: dict[TensorRef, Shape] = {}
    for var in graph.variables.values():
        shape = input_shapes.get(var.name, var.shape)
        if shape is not None and var.kind is VarKind.INPUT and any(d <= 0 for d in shape):
            raise ShapeError(f"input {var.name!r} of shape {tuple(shape)}: every size must be positive "
                             "(MXNet reads a 0 as 'unknown')")
        if shape is not None:
            shapes[TensorRef(var.name)] = tuple(shape)
    for label in graph.labels:  # a label's shape follows its loss head; it never affects outputs
        shapes.setdefault(TensorRef(label.name), ())
    for node in graph.nodes:
        try:
            in_shapes = [shapes[ref] for ref in node.inputs]
        except KeyError as exc:
            raise ShapeError(f"node {node.name!r}: shape of input {exc.args[0]} is unknown; "
                             "give the data input's shape") from None
        try:
            out_shapes = _RULES[node.op](node, in_shapes)
        except ShapeError as exc:
            raise ShapeError(f"node {node.name!r} ({node.op}): {exc}") from None
        except (ArithmeticError, IndexError, TypeError, ValueError) as exc:  # attributes no real model has
            raise ShapeError(f"node {node.name!r} ({node.op}): attributes do not fit inputs of shapes "
                             f"{in_shapes} ({type(exc).__name__}: {exc})") from None
        for index, shape in enumerate(out_shapes):
            if any(d <= 0 for d in shape):  # an empty tensor inside a network is never meant
                raise ShapeError(f"node {node.name!r} ({node.op}): empty or negative output size {shape}")
            if math.prod(shape) > MAX_ELEMENTS:  # an UpSampling scale of 10**6 would make checks allocate TBs
                raise ShapeError(f"node {node.name!r} ({node.op}): output of shape {shape} has more than "
                                 f"{MAX_ELEMENTS} elements")
            shapes[TensorRef(node.name, index)] = tuple(shape)
    return shapes


def inferred_shapes(graph: Graph, data_shape: tuple[int, ...]) -> dict[TensorRef, Shape]:
    """``infer_shapes`` for a single-input graph; a mismatch is reported against the params file."""
    data = graph.inputs
    if len(data) != 1:
        names = ", ".join(v.name for v in data)
        raise MxConvertError(f"the model has {len(data)} data inputs ({names}); exactly one is supported")
    try:
        return infer_shapes(graph, {data[0].name: tuple(data_shape)})
    except ShapeError as exc:
        raise ShapeError(f"{exc} (input {data[0].name} of shape {tuple(data_shape)})",
                         graph.source.params_file or None) from None


def _expect(actual: Shape, expected: Shape, what: str) -> None:
    if tuple(actual) != tuple(expected):
        raise ShapeError(f"{what} has shape {tuple(actual)}, expected {tuple(expected)}")


def _spatial(attr: tuple, rank: int, default: int) -> tuple[int, ...]:
    return tuple(attr) if attr else (default,) * rank


def axis_index(axis: int, rank: int, what: str = "axis") -> int:
    """``axis`` (negative counts from the end) as an index into ``rank`` dimensions, as MXNet checks it."""
    if not -rank <= axis < rank:
        raise ShapeError(f"{what} {axis} is out of range for {rank}-D data")
    return axis % rank


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
    _expect(shapes[1], (a["num_filter"], data[1] // groups, *a["kernel"]), "weight")
    if not a["no_bias"]:
        _expect(shapes[2], (a["num_filter"],), "bias")
    stride, pad, dilate = window_geometry(a, rank)
    out = [window_output(data[2 + i], a["kernel"][i], stride[i], pad[i], dilate[i]) for i in range(rank)]
    return [(data[0], a["num_filter"], *out)]


@shape_rule("BatchNorm")
def _batch_norm(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axis = axis_index(node.attrs["axis"], len(data))
    for slot, what in enumerate(("gamma", "beta", "moving_mean", "moving_var"), start=1):
        _expect(shapes[slot], (data[axis],), what)
    extra = [(data[axis],)] * 2 if node.attrs["output_mean_var"] else []
    return [data, *extra]


@shape_rule("LeakyReLU")
def _leaky_relu(node: Node, shapes: list[Shape]) -> list[Shape]:
    if node.attrs["act_type"] == "prelu":
        channels = shapes[0][1] if len(shapes[0]) > 1 else 1
        if shapes[1] not in ((channels,), (1,)):
            raise ShapeError(f"gamma has shape {shapes[1]}, expected ({channels},)")
    return [shapes[0]]


@shape_rule("Activation", "Dropout", "_copy", "clip", "SoftmaxActivation", "hard_sigmoid", *UNARY_MATH,
            *(op for op, form in BINARY_FORMS.items() if form.form == "scalar"))
def _same(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [shapes[0]]


@shape_rule("softmax")
def _softmax(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axis_index(node.attrs["axis"], len(data))
    use_length = bool(node.attrs["use_length"])  # None (unset) is False
    if len(shapes) != 1 + use_length:
        raise ShapeError(f"use_length={use_length} takes {1 + use_length} inputs, not {len(shapes)}")
    if use_length:
        _expect(shapes[1], _softmax_length_shape(data, node.attrs["axis"]), "length")
    return [data]


def _softmax_length_shape(data: Shape, axis: int) -> Shape:
    """The shape of softmax's ``length`` input: one length per row along ``axis`` (MXNet takes -1 or an axis
    from 0; 1-D data has one length)."""
    if axis < -1 or axis >= len(data):
        raise ShapeError(f"axis {axis} with use_length: MXNet takes -1 or 0..{len(data) - 1}")
    axis %= len(data)
    return tuple(d for i, d in enumerate(data) if i != axis) or (1,)


@shape_rule("SoftmaxOutput")
def _softmax_output(node: Node, shapes: list[Shape]) -> list[Shape]:
    if node.attrs["multi_output"] and len(shapes[0]) < 2:
        raise ShapeError(f"multi_output takes a softmax over axis 1: data of shape {shapes[0]} has none")
    return [shapes[0]]


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


@shape_rule("FullyConnected")
def _fully_connected(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    data = shapes[0]
    features = math.prod(data[1:]) if a["flatten"] else data[-1]
    _expect(shapes[1], (a["num_hidden"], features), "weight")
    if not a["no_bias"]:
        _expect(shapes[2], (a["num_hidden"],), "bias")
    return [(data[0], a["num_hidden"]) if a["flatten"] else (*data[:-1], a["num_hidden"])]


def reduced_axes(attrs: dict, rank: int) -> tuple[int, ...]:
    """The axes a sum/mean/max/... reduces, as MXNet reads ``axis`` and ``exclude`` (None or (): all)."""
    if not attrs["axis"]:
        return tuple(range(rank))
    axes = sorted(axis_index(axis, rank) for axis in attrs["axis"])
    if len(set(axes)) != len(axes):
        raise ShapeError(f"axis {attrs['axis']} has duplicates")
    return tuple(i for i in range(rank) if i not in axes) if attrs.get("exclude") else tuple(axes)


def reduced_shape(shape: Shape, axes: tuple[int, ...], keepdims: bool) -> Shape:
    """The output of reducing ``axes``: size 1 there with ``keepdims``, else dropped (MXNet keeps one axis)."""
    if keepdims:
        return tuple(1 if i in axes else size for i, size in enumerate(shape))
    return tuple(size for i, size in enumerate(shape) if i not in axes) or (1,)


@shape_rule(*REDUCTIONS, "norm")
def _reduction(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    return [reduced_shape(data, reduced_axes(node.attrs, len(data)), node.attrs["keepdims"])]


@shape_rule("argmax", "argmin")
def _arg_reduction(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, axis = shapes[0], node.attrs["axis"]
    axes = tuple(range(len(data))) if axis is None else (axis_index(axis, len(data)),)
    return [reduced_shape(data, axes, node.attrs["keepdims"])]


@shape_rule("Flatten")
def _flatten(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [(shapes[0][0], math.prod(shapes[0][1:]))]


@shape_rule("add_n", *(op for op, form in BINARY_FORMS.items() if form.form == "elementwise"))
def _elementwise(node: Node, shapes: list[Shape]) -> list[Shape]:
    if any(shape != shapes[0] for shape in shapes):
        raise ShapeError(f"operands have shapes {' and '.join(map(str, shapes))}")
    return [shapes[0]]


@shape_rule(*(op for op, form in BINARY_FORMS.items() if form.form == "broadcast"))
def _broadcast(node: Node, shapes: list[Shape]) -> list[Shape]:
    left, right = shapes
    rank = max(len(left), len(right))
    left, right = (1,) * (rank - len(left)) + left, (1,) * (rank - len(right)) + right
    out = []
    for a, b in zip(left, right):
        if a != b and 1 not in (a, b):
            raise ShapeError(f"operands of shapes {shapes[0]} and {shapes[1]} do not broadcast")
        out.append(max(a, b) if 0 not in (a, b) else 0)
    return [tuple(out)]


@shape_rule("Concat")
def _concat(node: Node, shapes: list[Shape]) -> list[Shape]:
    axis = axis_index(node.attrs["dim"], len(shapes[0]), "dim")
    for shape in shapes[1:]:
        if len(shape) != len(shapes[0]) or any(s != t for i, (s, t) in enumerate(zip(shape, shapes[0]))
                                               if i != axis):
            raise ShapeError(f"inputs of shapes {shapes} do not concatenate on axis {axis}")
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return [tuple(out)]


@shape_rule("Reshape")
def _reshape(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [reshape_target(shapes[0], node.attrs)]


def reshape_target(data: Shape, attrs: dict) -> Shape:
    """The output shape of MXNet's Reshape, special codes 0, -1, -2, -3, -4 and ``reverse`` included."""
    if not attrs["shape"] and attrs["target_shape"]:  # deprecated form: 0 means "infer"
        target = [d if d else -1 for d in attrs["target_shape"]]
        if attrs["keep_highest"]:
            target = [data[0], *target[1:]]
        return _resolve(data, target, tuple(target))
    spec = list(attrs["shape"])
    source = list(data)
    if attrs["reverse"]:
        spec, source = spec[::-1], source[::-1]
    out = _expand_codes(source, spec, attrs["shape"])
    out = _resolve(tuple(source), out, attrs["shape"])
    return tuple(reversed(out)) if attrs["reverse"] else out


def _expand_codes(source: list[int], spec: list, original: tuple) -> list[int]:
    out: list[int] = []
    src = 0
    i = 0
    while i < len(spec):
        code = spec[i]
        if code == 0:
            out.append(_dim(source, src, original))
            src += 1
        elif code == -1:
            out.append(-1)
            src += 1
        elif code == -2:
            out.extend(source[src:])
            src = len(source)
        elif code == -3:
            out.append(_dim(source, src, original) * _dim(source, src + 1, original))
            src += 2
        elif code == -4:
            if i + 2 >= len(spec):
                raise ShapeError(f"shape {original}: -4 must be followed by two sizes")
            whole = _dim(source, src, original)
            first, second = spec[i + 1], spec[i + 2]
            if first == -1:
                first = whole // second if second else 0
            if second == -1:
                second = whole // first if first else 0
            if first * second != whole:
                raise ShapeError(f"shape {original}: cannot split {whole} into {spec[i + 1]} x {spec[i + 2]}")
            out.extend((first, second))
            src += 1
            i += 2
        elif code is not None and code > 0:
            out.append(code)
            src += 1
        else:
            raise ShapeError(f"shape {original}: invalid code {code}")
        i += 1
    return out


def _dim(source: list[int], index: int, original: tuple) -> int:
    if index >= len(source):
        raise ShapeError(f"shape {original} refers past the input's {len(source)} dimensions")
    return source[index]


def _resolve(data: Shape, out: list[int], original: tuple) -> Shape:
    total = math.prod(data)
    if out.count(-1) > 1:
        raise ShapeError(f"shape {original} has more than one -1")
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        if known == 0 or total % known:
            raise ShapeError(f"cannot reshape {data} to {original}")
        out[out.index(-1)] = total // known
    if math.prod(out) != total:
        raise ShapeError(f"cannot reshape {data} ({total} elements) to {tuple(out)}")
    return tuple(out)


@shape_rule("SliceChannel")
def _slice_channel(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    data = shapes[0]
    axis = axis_index(a["axis"], len(data))
    parts = a["num_outputs"]
    if parts <= 0 or data[axis] % parts:
        raise ShapeError(f"axis {axis} of size {data[axis]} does not split into {parts} parts")
    piece = list(data)
    piece[axis] //= parts
    if a["squeeze_axis"]:
        if piece[axis] != 1:
            raise ShapeError("squeeze_axis needs the axis size to equal num_outputs")
        del piece[axis]
    return [tuple(piece)] * parts


@shape_rule("UpSampling")
def _upsampling(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    if a["sample_type"] != "nearest":
        raise ShapeError("only nearest upsampling is supported")
    if a["num_args"] != len(shapes):
        raise ShapeError(f"num_args={a['num_args']} with {len(shapes)} inputs")
    if any(len(shape) != 4 for shape in shapes):
        raise ShapeError(f"inputs of shapes {shapes}: UpSampling takes 4-D NCHW data")
    first = shapes[0]
    if a["multi_input_mode"] == "sum" and any(shape[1] != first[1] for shape in shapes):
        raise ShapeError(f"multi_input_mode sum needs the same channels in every input, not {shapes}")
    height, width = first[2] * a["scale"], first[3] * a["scale"]
    for shape in shapes[1:]:
        if height % shape[2] or width % shape[3]:
            raise ShapeError(f"input {shape} does not scale to {height}x{width}")
    if a["multi_input_mode"] == "sum" and len(shapes) > 1:
        return [(first[0], first[1], height, width)]
    return [(first[0], sum(s[1] for s in shapes), height, width)]


@shape_rule("Crop")
def _crop(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if node.attrs["num_args"] != len(shapes) or len(shapes) > 2:
        raise ShapeError(f"num_args={node.attrs['num_args']} with {len(shapes)} inputs: Crop takes the data and "
                         "h_w, or the data and a reference input")
    if any(len(shape) != 4 for shape in shapes):
        raise ShapeError(f"inputs of shapes {shapes}: Crop takes 4-D NCHW data")
    if len(shapes) == 1 and len(node.attrs["h_w"]) != 2:
        raise ShapeError(f"h_w {node.attrs['h_w']} needs a height and a width")
    if not node.attrs["center_crop"] and len(node.attrs["offset"]) != 2:
        raise ShapeError(f"offset {node.attrs['offset']} needs a top and a left")
    height, width = shapes[1][2:4] if len(shapes) > 1 else node.attrs["h_w"]
    top, left = crop_offsets(node, data, (height, width))
    if top + height > data[2] or left + width > data[3] or min(height, width) <= 0 or min(top, left) < 0:
        raise ShapeError(f"crop of {height}x{width} at ({top}, {left}) does not fit input {data}")
    return [(data[0], data[1], height, width)]


def crop_offsets(node: Node, data: Shape, size: tuple[int, int]) -> tuple[int, int]:
    """Top-left corner of MXNet's Crop: centred when ``center_crop``, else ``offset``."""
    if node.attrs["center_crop"]:
        return (data[2] - size[0]) // 2, (data[3] - size[1]) // 2
    return tuple(node.attrs["offset"])


@shape_rule("transpose")
def _transpose(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axes = node.attrs["axes"] or tuple(reversed(range(len(data))))
    if sorted(axes) != list(range(len(data))):  # MXNet 1.9.1 indexes the shape with each axis: none negative
        raise ShapeError(f"axes {axes} are not a permutation of 0..{len(data) - 1}")
    return [tuple(data[a] for a in axes)]


def l2_normalization_axes(mode: str, rank: int) -> list[int]:
    """The axes L2Normalization sums squares over: all but the batch axis (``instance``; none for 1-D data,
    where each value is divided by its own norm), the channel axis, or the spatial axes (3-D data or more)."""
    if mode != "instance" and rank < 3:
        raise ShapeError(f"mode {mode} needs at least 3-D data, got {rank}-D")
    return {"instance": list(range(1, rank)), "channel": [1], "spatial": list(range(2, rank))}[mode]


@shape_rule("L2Normalization")
def _l2_normalization(node: Node, shapes: list[Shape]) -> list[Shape]:
    l2_normalization_axes(node.attrs["mode"], len(shapes[0]))
    return [shapes[0]]


# === nn layers, normalisation and matrix products (issue 13) =================================================
from .errors import NotExpressible  # noqa: E402  (this section's own import, kept with it)


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
    _expect(shapes[1], channels_last(weight) if is_channels_last(a["layout"]) else weight, "weight")
    if not a["no_bias"]:
        _expect(shapes[2], (a["num_filter"],), "bias")
    out = (data[0], a["num_filter"], *deconvolution_output(a, data[2:]))
    return [channels_last(out) if is_channels_last(a["layout"]) else out]


@shape_rule("_contrib_div_sqrt_dim")
def _same_shape(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [shapes[0]]


@shape_rule("LRN")
def _lrn(node: Node, shapes: list[Shape]) -> list[Shape]:
    if len(shapes[0]) not in (2, 4):
        raise ShapeError(f"data of shape {shapes[0]}: MXNet's LRN runs on 4-D data (and 2-D, as 4-D)")
    return [shapes[0]]


def _affine_per(shapes: list[Shape], size: int, what: str) -> None:
    """gamma and beta of a normalisation: one value per ``what`` (``size`` of them)."""
    for slot, name in ((1, "gamma"), (2, "beta")):
        if shapes[slot] != (size,):
            raise ShapeError(f"{name} has shape {shapes[slot]}, expected ({size},): one per {what}")


@shape_rule("InstanceNorm")
def _instance_norm(node: Node, shapes: list[Shape]) -> list[Shape]:
    if len(shapes[0]) < 3:
        raise ShapeError(f"data of shape {shapes[0]}: InstanceNorm takes 3-D data or more")
    _affine_per(shapes, shapes[0][1], "channel")
    return [shapes[0]]


@shape_rule("GroupNorm")
def _group_norm(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, groups = shapes[0], node.attrs["num_groups"]
    if len(data) < 3 or data[1] % groups:
        raise ShapeError(f"data of shape {data}: GroupNorm takes 3-D data or more, channels split into {groups} "
                         "groups")
    _affine_per(shapes, groups, "group (MXNet 1.9.1's GroupNorm scales groups, not channels)")
    return [data] + [(data[0], groups)] * (2 if node.attrs["output_mean_var"] else 0)


@shape_rule("LayerNorm")
def _layer_norm(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axis = axis_index(node.attrs["axis"], len(data))
    _affine_per(shapes, data[axis], f"position along axis {axis}")
    stats = tuple(1 if i == axis else size for i, size in enumerate(data))
    return [data] + [stats] * (2 if node.attrs["output_mean_var"] else 0)


@shape_rule("Embedding")
def _embedding(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    _expect(shapes[1], (a["input_dim"], a["output_dim"]), "weight")
    return [(*shapes[0], a["output_dim"])]


@shape_rule("log_softmax", "softmin")
def _softmax_without_length(node: Node, shapes: list[Shape]) -> list[Shape]:
    axis_index(node.attrs["axis"], len(shapes[0]))
    if node.attrs["use_length"] or len(shapes) != 1:
        raise ShapeError(f"{node.op} takes one input and no use_length (MXNet 1.9.1 has no length input for it)")
    return [shapes[0]]


def dot_axes(attrs: dict, left: Shape, right: Shape) -> tuple[int, int]:
    """The axis of each ``dot`` operand that MXNet contracts: the last of ``left`` and the first of ``right``,
    swapped by ``transpose_a``/``transpose_b`` (a 1-D operand is contracted whole)."""
    if len(left) == len(right) == 1 and (attrs["transpose_a"] or attrs["transpose_b"]):
        raise ShapeError("MXNet's dot cannot transpose vectors")
    left_axis = 0 if len(left) == 1 or attrs["transpose_a"] else len(left) - 1
    right_axis = len(right) - 1 if len(right) > 1 and attrs["transpose_b"] else 0
    if left[left_axis] != right[right_axis]:
        raise ShapeError(f"dot of {left} and {right} contracts sizes {left[left_axis]} and {right[right_axis]}")
    return left_axis, right_axis


@shape_rule("dot")
def _dot(node: Node, shapes: list[Shape]) -> list[Shape]:
    left, right = shapes
    left_axis, right_axis = dot_axes(node.attrs, left, right)
    free = [s for i, s in enumerate(left) if i != left_axis] + [s for i, s in enumerate(right) if i != right_axis]
    return [tuple(free) or (1,)]


def matrix_axes(rank: int, row_axis: int = -2) -> list[int]:
    """The permutation that moves a batched matrix's ``row_axis`` next to its last (column) axis, as
    ``_linalg_gemm2``'s ``axis`` reads it (the identity for the default -2)."""
    row = row_axis + rank if row_axis < 0 else row_axis
    if not 0 <= row < rank - 1:
        raise ShapeError(f"invalid row axis {row_axis} for {rank}-D operands")
    return [i for i in range(rank - 1) if i != row] + [row, rank - 1]


def _matrix_product(node: Node, shapes: list[Shape], row_axis: int, min_rank: int) -> Shape:
    """The batched matrix product of two operands whose matrices lie on (``row_axis``, last axis)."""
    left, right = shapes
    if len(left) != len(right) or len(left) < min_rank:
        raise ShapeError(f"operands of shapes {left} and {right}: expected equal ranks of at least {min_rank}")
    perm = matrix_axes(len(left), row_axis)
    left, right = (tuple(shape[i] for i in perm) for shape in (left, right))
    (m, k), (k2, n) = (left[-2:][::-1] if node.attrs["transpose_a"] else left[-2:],
                       right[-2:][::-1] if node.attrs["transpose_b"] else right[-2:])
    if left[:-2] != right[:-2] or k != k2:
        raise ShapeError(f"operands of shapes {shapes[0]} and {shapes[1]} do not multiply as matrices")
    out = (*left[:-2], m, n)
    return tuple(out[perm.index(i)] for i in range(len(perm)))


@shape_rule("batch_dot")
def _batch_dot(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [_matrix_product(node, shapes, -2, 3)]


@shape_rule("_linalg_gemm2")
def _gemm2(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [_matrix_product(node, shapes, node.attrs["axis"], 2)]


def _interleaved_projections(qkv: Shape) -> None:
    if len(qkv) != 3:
        raise ShapeError(f"queries_keys_values of shape {qkv}: expected 3-D (sequence, batch, projections)")


@shape_rule("_contrib_interleaved_matmul_selfatt_qk")
def _selfatt_qk(node: Node, shapes: list[Shape]) -> list[Shape]:
    qkv = shapes[0]
    _interleaved_projections(qkv)
    return [(node.attrs["heads"] * qkv[1], qkv[0], qkv[0])]


@shape_rule("_contrib_interleaved_matmul_selfatt_valatt")
def _selfatt_valatt(node: Node, shapes: list[Shape]) -> list[Shape]:
    qkv, attention = shapes
    _interleaved_projections(qkv)
    if qkv[2] % 3 or len(attention) != 3 or attention[1:] != (qkv[0], qkv[0]):
        raise ShapeError(f"queries_keys_values of shape {qkv} and attention of shape {attention}: expected "
                         f"3 * projections and ({qkv[0]}, {qkv[0]}) attention maps")
    return [(qkv[0], qkv[1], qkv[2] // 3)]


def interleaved_heads(node: Node, shapes: list[Shape]) -> tuple[int, int]:
    """Heads and size per head of an interleaved ``(sequence, batch, heads x 3 x size)`` projection. MXNet
    strides its rows as ``3 * heads * size`` values, which is not the row length unless the projections split
    evenly into heads, and reads ``batch * heads`` attention maps whatever their number: other values are not
    converted."""
    qkv, heads = shapes[0], node.attrs["heads"]
    if heads < 1 or qkv[2] % (3 * heads):
        raise NotExpressible(f"{qkv[2]} projections do not split into 3 x {heads} heads")
    if len(shapes) > 1 and shapes[1][0] != qkv[1] * heads:
        raise NotExpressible(f"{shapes[1][0]} attention maps for {qkv[1]} sequences x {heads} heads")
    return heads, qkv[2] // 3 // heads


def deconvolution_refusal(node: Node) -> str | None:
    """Why a Deconvolution is not converted: channels-last layouts, or a negative pad (MXNet crops there)
    where no target_shape replaces it."""
    layout = node.attrs["layout"]
    if is_channels_last(layout):
        return f"layout {layout}"
    return None if any(node.attrs["target_shape"]) else negative_pad(node)


def even_lrn_window(node: Node) -> str | None:
    """Why an LRN is not converted: an even nsize, whose window MXNet's MKLDNN kernel places unlike ONNX's LRN."""
    return f"even nsize {node.attrs['nsize']}" if node.attrs["nsize"] % 2 == 0 else None


def float16_output(node: Node) -> str | None:
    """Why a log_softmax or softmin is not converted: ``dtype`` float16 rounds MXNet's output to half precision,
    which a float32 model does not reproduce within its tolerance."""
    return "dtype float16" if node.attrs["dtype"] == "float16" else None
