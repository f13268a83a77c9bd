"""Indexing, creation and sorting: take, pick, one_hot, gather_nd, where, topk, sort, argsort, shape_array,
size_array, _arange, _contrib_arange_like, _zeros, _ones, _full, zeros_like, ones_like, and the random draws
_random_normal, _random_uniform, _random_uniform_like and _sample_multinomial; boolean_mask (Compress), nonzero
(NonZero), unique (Unique) and bincount, whose output sizes the data decides;
histogram and NumPy's boolean mask assignment.

Float indices become int64 as MXNet reads them (truncated towards zero); integer outputs (indices, shapes) are
carried in the model's float type, as everywhere in the converted graph."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from ..dynamic import all_fixed
from ..ir import Node
from ..semantics.indexing import (CREATED_OPS, MASK_ASSIGN_OPS, RANDOM_OPS, UNIQUE_EXTRAS, arange_range,
                                  created_values, dtype_value, fill_values, full_like_value, histogram_edges,
                                  histogram_range, index_array_axes, mask_assign_form, mask_assign_layout,
                                  multinomial_count, ndarray_function_refusal, pick_axis, random_refusal, range_values,
                                  ravel_sizes, share_memory_refusal, sort_axis, sorted_shape, unconvertible_values,
                                  unique_axis)
from ..semantics.rules import axis_index
from .context import EmitContext
from .registry import refuse, register


def _float(ctx: EmitContext, x: str, out: str | None = None) -> str:
    return ctx.add("Cast", [x], out, to=helper.np_dtype_to_tensor_dtype(ctx.float_type))


def _truncated(ctx: EmitContext, x: str) -> str:
    """Float indices truncated as MXNet's cast to int64 does, kept as floats (NaN and values past int64 become
    its lowest, as on x86)."""
    return _float(ctx, ctx.add("Cast", [x], to=TensorProto.INT64))


def _axis_size(ctx: EmitContext, data: str, axis: int) -> tuple[str, str]:
    """The size of ``data``'s axis and the largest index into it, as float scalars: constants (as MXNet's
    importer needs Clip's bounds), read at run time on the axis of a dynamic batch."""
    if not (ctx.batch_dynamic and axis == 0):
        size = ctx.shape(0)[axis]
        return ctx.const(float(size), "size"), ctx.const(float(size - 1), "last")
    size = _float(ctx, ctx.add("Gather", [ctx.add("Shape", [data]), ctx.const(0, "axis", dtype=np.int64)]))
    return size, ctx.add("Sub", [size, ctx.const(1.0, "one")])


def _index(ctx: EmitContext, x: str, bounds: tuple[str, str], mode: str) -> str:
    """MXNet's float indices as int64: truncated, then clipped into [0, size) or wrapped (``raise`` runs in-range
    indices, which wrapping keeps). Computed on floats, exactly (MXNet's importer binds int64 constants as floats).
    ``bounds``: the axis's size and last index (``_axis_size``)."""
    whole = _truncated(ctx, x)
    size, last = bounds
    if mode == "clip":
        index = ctx.add("Clip", [whole, ctx.const(0.0, "low"), last])
    else:  # fmod is exact; a negative remainder moves up by the size, as in MXNet
        remainder = ctx.add("Mod", [whole, size], fmod=1)
        raised = ctx.add("Add", [remainder, size])
        index = ctx.add("Where", [ctx.add("Less", [remainder, ctx.const(0.0, "zero")]), raised, remainder])
    return ctx.add("Cast", [index], to=TensorProto.INT64)


@register("take")
def take(ctx: EmitContext, node: Node) -> None:
    data = ctx.shape(0)
    axis = axis_index(node.attrs["axis"], len(data))
    index = _index(ctx, ctx.input(1), _axis_size(ctx, ctx.input(0), axis), node.attrs["mode"])
    ctx.add("Gather", [ctx.input(0), index], ctx.output(), axis=axis)


@register("pick")
def pick(ctx: EmitContext, node: Node) -> None:
    rank = len(ctx.shape(0))
    axis = pick_axis(node.attrs, rank)
    index = _index(ctx, ctx.input(1), _axis_size(ctx, ctx.input(0), axis), node.attrs["mode"])
    if rank > 1 and len(ctx.shape(1)) < rank:
        index = ctx.unsqueeze(index, [axis])
    squeeze = rank > 1 and not node.attrs["keepdims"]
    picked = ctx.add("GatherElements", [ctx.input(0), index], None if squeeze else ctx.output(), axis=axis)
    if squeeze:
        ctx.squeeze(picked, [axis], ctx.output())


@register("one_hot", check=unconvertible_values)
def one_hot(ctx: EmitContext, node: Node) -> None:
    """Positions equal to the truncated index are on; negative or too large indices leave a row all off."""
    a = node.attrs
    index = ctx.unsqueeze(_truncated(ctx, ctx.input(0)), [len(ctx.shape(0))])
    hit = ctx.add("Equal", [index, ctx.const(np.arange(a["depth"]), "positions")])
    on, off = (ctx.const(value, "value") for value in fill_values(a, ("on_value", "off_value")))
    ctx.add("Where", [hit, on, off], ctx.output())


@register("gather_nd")
def gather_nd(ctx: EmitContext, node: Node) -> None:
    """``indices[:, j]`` addresses ``data``'s leading axes; a negative index counts from the end (added to the
    size before truncation, as MXNet does)."""
    indices = ctx.shape(1)
    shape = ctx.add("Shape", [ctx.input(0)])
    leading = ctx.add("Slice", [shape, ctx.ints([0], "start"), ctx.ints([indices[0]], "end")])
    sizes = ctx.reshape(_float(ctx, leading), [-1] + [1] * (len(indices) - 1))  # live: the batch may vary
    x = ctx.input(1)
    shifted = ctx.add("Where", [ctx.add("Less", [x, ctx.const(0.0, "zero")]), ctx.add("Add", [x, sizes]), x])
    index = ctx.add("Cast", [shifted], to=TensorProto.INT64)
    last = ctx.add("Transpose", [index], perm=[*range(1, len(indices)), 0])
    ctx.add("GatherND", [ctx.input(0), last], ctx.output())


@register("_scatter_set_nd")
def scatter_set_nd(ctx: EmitContext, node: Node) -> None:
    """ScatterND of rhs into lhs at ``indices[:, j]``."""
    rank = len(ctx.shape(2))
    index = ctx.add("Transpose", [ctx.add("Cast", [ctx.input(2)], to=TensorProto.INT64)], perm=[*range(1, rank), 0])
    ctx.add("ScatterND", [ctx.input(0), index, ctx.input(1)], ctx.output())


@register("where")
def where(ctx: EmitContext, node: Node) -> None:
    """Non-zero conditions take x; a 1-D condition selects whole rows."""
    condition = ctx.add("Cast", [ctx.input(0)], to=TensorProto.BOOL)
    rank = len(ctx.shape(1))
    if len(ctx.shape(0)) < rank:
        condition = ctx.unsqueeze(condition, list(range(1, rank)))
    ctx.add("Where", [condition, ctx.input(1), ctx.input(2)], ctx.output())


def _top(ctx: EmitContext, node: Node, count: int | None, largest: bool) -> tuple[str, str, str, int]:
    """TopK (ties: the lower index first, as MXNet's sort leaves them) of ``count`` elements (None: all; read from
    the live data where the batch varies along the axis) along the axis, or along the flattened data without one;
    returns the values, the int64 indices, the data sorted and the axis."""
    axis = sort_axis(node.attrs, ctx.shape(0))
    x = ctx.input(0) if axis is not None else ctx.reshape(ctx.input(0), [-1])
    if count is None and ctx.batch_dynamic and not axis:
        k = ctx.add("Gather", [ctx.add("Shape", [x]), ctx.ints([0], "axis")], axis=0)
    else:
        k = ctx.ints([count or sorted_shape(node.attrs, ctx.shape(0))[axis or 0]], "k")
    axis = axis or 0
    outputs = [ctx.temp("values"), ctx.temp("indices")]
    ctx.add("TopK", [x, k], outputs, axis=axis, largest=int(largest), sorted=1)
    return outputs[0], outputs[1], x, axis


@register("topk")
def topk(ctx: EmitContext, node: Node) -> None:
    a = node.attrs
    count = a["k"] if a["k"] >= 1 else None
    values, indices, x, axis = _top(ctx, node, count, not a["is_ascend"])
    kind = a["ret_typ"]
    if kind == "mask":
        zeros = ctx.add("Expand", [ctx.const(0.0, "zero"), ctx.add("Shape", [x])])
        ones = ctx.add("Expand", [ctx.const(1.0, "one"), ctx.add("Shape", [indices])])
        mask = ctx.add("ScatterElements", [zeros, indices, ones], axis=axis)
        ctx.add("Reshape", [mask, ctx.add("Shape", [ctx.input(0)])], ctx.output())
        return
    if kind in ("value", "both"):
        ctx.add("Identity", [values], ctx.output())
    if kind in ("indices", "both"):
        _float(ctx, indices, ctx.output(1 if kind == "both" else 0))


@register("sort", "argsort")
def sort(ctx: EmitContext, node: Node) -> None:
    values, indices, _, _ = _top(ctx, node, None, not node.attrs["is_ascend"])
    if node.op == "sort":
        ctx.add("Identity", [values], ctx.output())
    else:
        _float(ctx, indices, ctx.output())


@register("shape_array")
def shape_array(ctx: EmitContext, node: Node) -> None:
    _float(ctx, ctx.add("Shape", [ctx.input(0)]), ctx.output())


@register("_npi_diag_indices_from")
def diag_indices_from(ctx: EmitContext, node: Node) -> None:
    """0, 1, ... n - 1 (as many as axis 0 has at run time) in each of the rank rows."""
    positions = ctx.positions(0, 0, [1, -1], ctx.float_type)
    ctx.add("Expand", [positions, ctx.ints([len(ctx.shape(0)), 1])], ctx.output())


@register("size_array")
def size_array(ctx: EmitContext, node: Node) -> None:
    _float(ctx, ctx.reshape(ctx.add("Size", [ctx.input(0)]), [1]), ctx.output())


@register("_arange", check=unconvertible_values)
def arange(ctx: EmitContext, node: Node) -> None:
    start, step, count = arange_range(node.attrs)
    values = range_values(start, step, node.attrs["repeat"], count, node.attrs["dtype"])
    ctx.add("Identity", [ctx.const(values, "range")], ctx.output())


@register("_contrib_arange_like")
def arange_like(ctx: EmitContext, node: Node) -> None:
    """``start + (i / repeat) * step`` (C division) over the live size of the data or of one axis."""
    a, x = node.attrs, ctx.input(0)
    if a["axis"] is None:
        count = ctx.add("Size", [x])
    else:
        axis = axis_index(a["axis"], len(ctx.shape(0)))
        index = ctx.const(np.int64(axis), "axis", dtype=np.int64)  # a scalar: ORT's shape inference reads it
        count = ctx.add("Gather", [ctx.add("Shape", [x]), index], axis=0)
    positions = ctx.add("Range", [ctx.const(0, "zero", np.int64), count, ctx.const(1, "one", np.int64)])
    blocks = _float(ctx, ctx.add("Div", [positions, ctx.const(a["repeat"], "repeat", np.int64)]))
    step, start = (ctx.const(dtype_value(a[key], "float32"), key) for key in ("step", "start"))
    values = ctx.add("Add", [ctx.add("Mul", [blocks, step]), start])
    ctx.add("Reshape", [values, ctx.add("Shape", [x])] if a["axis"] is None else [values, ctx.ints([-1])],
            ctx.output())


@register("_zeros", "_ones", "_full", check=unconvertible_values)
def filled(ctx: EmitContext, node: Node) -> None:
    value = fill_values(node.attrs, ("value",))[0] if node.op == "_full" else float(node.op == "_ones")
    if all_fixed(ctx.live(node.output())):
        array = np.full(ctx.out_shape(), value)  # the shape attribute with its unknown (0) sizes inferred
        ctx.add("Identity", [ctx.const(array, "filled")], ctx.output())
    else:  # sizes that follow a dynamic input axis are read at run time
        ctx.add("Expand", [ctx.const(value, "value"), ctx.live_shape(node.output())], ctx.output())


@register("zeros_like", "ones_like")
def filled_like(ctx: EmitContext, node: Node) -> None:
    value = ctx.const(0.0 if node.op == "zeros_like" else 1.0, "value")
    ctx.add("Expand", [value, ctx.add("Shape", [ctx.input(0)])], ctx.output())


@register("_random_normal", "_random_uniform", check=unconvertible_values)
def random_draw(ctx: EmitContext, node: Node) -> None:
    a, dtype = node.attrs, helper.np_dtype_to_tensor_dtype(ctx.float_type)
    if node.op == "_random_normal":
        ctx.add("RandomNormal", [], ctx.output(), shape=list(ctx.out_shape()), mean=a["loc"], scale=a["scale"],
                dtype=dtype)
    else:
        ctx.add("RandomUniform", [], ctx.output(), shape=list(ctx.out_shape()), low=a["low"], high=a["high"],
                dtype=dtype)


@register("_random_uniform_like")
def random_uniform_like(ctx: EmitContext, node: Node) -> None:
    ctx.add("RandomUniformLike", [ctx.input(0)], ctx.output(), low=node.attrs["low"], high=node.attrs["high"])


@register("_sample_multinomial", check=unconvertible_values)
def sample_multinomial(ctx: EmitContext, node: Node) -> None:
    """Draws from each distribution along the last axis (Multinomial takes their logs); ``get_prob`` adds the
    log-probability of each draw."""
    probabilities = ctx.reshape(ctx.input(0), [-1, ctx.shape(0)[-1]])
    draws = ctx.add("Multinomial", [ctx.add("Log", [probabilities])], sample_size=multinomial_count(node.attrs),
                    dtype=TensorProto.INT64)
    drawn = node.attrs["shape"]
    if len(ctx.shape(0)) > 1:  # the live leading axes (the batch may vary), then the draws
        shape = ctx.add("Shape", [ctx.input(0)])
        leading = ctx.add("Slice", [shape, ctx.ints([0], "start"), ctx.ints([-1], "end")])
        shape = ctx.add("Concat", [leading, ctx.ints(drawn)], axis=0) if drawn else leading
    else:
        shape = ctx.ints(ctx.out_shape())
    _float(ctx, ctx.add("Reshape", [draws, shape]), ctx.output(0))
    if node.attrs["get_prob"]:
        picked = ctx.add("GatherElements", [probabilities, draws], axis=1)
        ctx.add("Reshape", [ctx.add("Log", [picked]), shape], ctx.output(1))


refuse(*RANDOM_OPS, reason=random_refusal)
refuse("_npi_share_memory", reason=share_memory_refusal)
refuse("fill_element_0index", reason=ndarray_function_refusal)


@register(*CREATED_OPS, check=unconvertible_values)
def created(ctx: EmitContext, node: Node) -> None:
    ctx.add("Identity", [ctx.const(created_values(node), "values")], ctx.output())


@register("_npi_full_like", check=unconvertible_values)
def full_like(ctx: EmitContext, node: Node) -> None:
    """A constant where the input's sizes are fixed, else the value expanded to its live shape."""
    value = full_like_value(node.attrs)
    if all_fixed(ctx.live(node.output())):
        ctx.add("Identity", [ctx.const(np.full(ctx.out_shape(), value), "filled")], ctx.output())
    else:
        ctx.add("Expand", [ctx.const(value, "value"), ctx.add("Shape", [ctx.input(0)])], ctx.output())


@register("batch_take")
def batch_take(ctx: EmitContext, node: Node) -> None:
    """One element per row, its index clipped into the row."""
    index = _index(ctx, ctx.reshape(ctx.input(1), [-1, 1]), _axis_size(ctx, ctx.input(0), 1), "clip")
    picked = ctx.add("GatherElements", [ctx.input(0), index], axis=1)
    ctx.reshape(picked, [-1, *ctx.out_shape()[1:]], ctx.output())  # the leading axis follows a dynamic batch


@register("scatter_nd")
def scatter_nd(ctx: EmitContext, node: Node) -> None:
    """The data written into zeros at ``indices[:, j]`` (truncated; MXNet defines in-range indices only)."""
    rank = len(ctx.shape(1))
    index = ctx.add("Transpose", [ctx.add("Cast", [ctx.input(1)], to=TensorProto.INT64)],
                    perm=[*range(1, rank), 0])
    zeros = ctx.const(np.zeros(ctx.out_shape()), "zeros")
    ctx.add("ScatterND", [zeros, index, ctx.input(0)], ctx.output())


@register("_ravel_multi_index")
def ravel_multi_index(ctx: EmitContext, node: Node) -> None:
    """``r = trunc(r * size + index)`` axis by axis, as MXNet's integer accumulator reads float indices."""
    rows = [ctx.add("Gather", [ctx.input(0), ctx.const(np.int64(axis), "axis", np.int64)], axis=0)
            for axis in range(ctx.shape(0)[0])]
    flat = _truncated(ctx, rows[0])
    for row, size in zip(rows[1:], ravel_sizes(node)[1:]):
        flat = _truncated(ctx, ctx.add("Add", [ctx.add("Mul", [flat, ctx.const(float(size), "size")]), row]))
    ctx.add("Identity", [flat], ctx.output())


@register("_unravel_index")
def unravel_index(ctx: EmitContext, node: Node) -> None:
    """The truncated index divided by each size from the last (C division, the remainder's sign the index's); the
    first axis keeps the rest unwrapped. An index past int32 (or NaN) reads as int32's lowest, as MXNet's int32
    index reads it on x86."""
    flat = ctx.reshape(ctx.input(0), [-1]) if len(ctx.shape(0)) > 1 else ctx.input(0)  # trailing sizes of 1
    lowest = ctx.const(-2.0**31, "int32_lowest")  # past it: below -2**31 - 1 (int32's lowest itself where float32)
    inside = ctx.add("And", [ctx.add("Greater", [flat, ctx.const(-2.0**31 - 1, "int32_before")]),
                             ctx.add("Less", [flat, ctx.const(2.0**31, "int32_end")])])
    rest = ctx.add("Cast", [ctx.add("Where", [inside, flat, lowest])], to=TensorProto.INT64)
    rows = []
    for size in reversed(ravel_sizes(node)[1:]):
        size = ctx.const(np.int64(size), "size", np.int64)
        quotient = ctx.add("Div", [rest, size])
        rows.append(ctx.add("Sub", [rest, ctx.add("Mul", [quotient, size])]))
        rest = quotient
    rows = [ctx.unsqueeze(row, [0]) for row in [rest, *reversed(rows)]]
    _float(ctx, ctx.add("Concat", rows, axis=0) if len(rows) > 1 else rows[0], ctx.output())


@register("_contrib_index_array")
def index_array(ctx: EmitContext, node: Node) -> None:
    """Each element's position along the axes, a constant of the data's sizes."""
    shape = ctx.shape(0)
    positions = np.indices(shape)[index_array_axes(node.attrs, len(shape))]
    ctx.add("Identity", [ctx.const(np.moveaxis(positions, 0, -1), "positions")], ctx.output())


@register("_contrib_index_copy")
def index_copy(ctx: EmitContext, node: Node) -> None:
    """The old tensor with its rows at the (truncated) indices replaced (MXNet defines in-range indices only)."""
    index = ctx.unsqueeze(ctx.add("Cast", [ctx.input(1)], to=TensorProto.INT64), [1])
    ctx.add("ScatterND", [ctx.input(0), index, ctx.input(2)], ctx.output())


def _nonzero(ctx: EmitContext, x: str) -> str:
    """Where ``x`` is non-zero (NaN included, as MXNet's C truth test), as a bool tensor."""
    return ctx.add("Not", [ctx.add("Equal", [x, ctx.const(0.0, "zero")])])


@register("_contrib_boolean_mask")
def boolean_mask(ctx: EmitContext, node: Node) -> None:
    """The rows whose index is non-zero: Compress along axis 0 (no row left: an empty tensor)."""
    ctx.add("Compress", [ctx.input(0), _nonzero(ctx, ctx.input(1))], ctx.output(), axis=0)


@register("_npx_nonzero")
def nonzero(ctx: EmitContext, node: Node) -> None:
    """NonZero's (ndim, N) coordinates transposed to MXNet's (N, ndim); 0-d data read as one element."""
    x = ctx.input(0) if ctx.shape(0) else ctx.reshape(ctx.input(0), [1])
    _float(ctx, ctx.add("Transpose", [ctx.add("NonZero", [_nonzero(ctx, x)])], perm=[1, 0]), ctx.output())


@register("_npi_unique")
def unique(ctx: EmitContext, node: Node) -> None:
    """Unique (sorted; the first occurrence's index, as MXNet's stable sort finds it), its int64 outputs as
    floats; 0-d data read as one element."""
    a = node.attrs
    axis = unique_axis(a, ctx.shape(0))
    x = ctx.input(0) if ctx.shape(0) else ctx.reshape(ctx.input(0), [1])
    extras = {key: ctx.temp(key.removeprefix("return_")) for key in UNIQUE_EXTRAS}
    ctx.add("Unique", [x], [ctx.output(0), *extras.values()], sorted=1, **({} if axis is None else {"axis": axis}))
    for index, key in enumerate((key for key in UNIQUE_EXTRAS if a[key]), 1):
        _float(ctx, extras[key], ctx.output(index))


@register("_npi_bincount")
def bincount(ctx: EmitContext, node: Node) -> None:
    """Each of max(data) + 1 (at least ``minlength``) bins compared with every element (one row each), the ones
    (or weights) of the matches summed down the rows."""
    x = ctx.reshape(ctx.input(0), [-1])
    last = ctx.add("Add", [ctx.add("ReduceMax", [x], keepdims=0), ctx.const(1.0, "one")])
    count = ctx.add("Max", [last, ctx.const(float(node.attrs["minlength"]), "minlength")])
    bins = ctx.add("Range", [ctx.const(0.0, "zero"), count, ctx.const(1.0, "one")])
    hits = ctx.add("Equal", [ctx.unsqueeze(x, [1]), bins])
    weights = ctx.unsqueeze(ctx.reshape(ctx.input(1), [-1]), [1]) if node.attrs["has_weights"] else \
        ctx.const(1.0, "one")
    ctx.reduce_sum(ctx.add("Where", [hits, weights, ctx.const(0.0, "zero")]), [0], ctx.output(), keepdims=0)


def _bin_counts(ctx: EmitContext, target: str, count: int, out: str) -> None:
    """How many elements each of ``count`` bins holds, from every element's bin (float; -1: none)."""
    hits = ctx.add("Equal", [ctx.unsqueeze(target, [1]), ctx.const(np.arange(count), "bins")])
    ones = ctx.add("Where", [hits, ctx.const(1.0, "one"), ctx.const(0.0, "zero")])
    ctx.reduce_sum(ones, [0], out, keepdims=0)


def _within(ctx: EmitContext, x: str, low: str, high: str) -> str:
    """``low <= x <= high`` as MXNet's kernel tests it, NaN outside (in every opset: not below, not above and
    equal to itself)."""
    bounded = ctx.add("And", [ctx.add("Not", [ctx.add("Less", [x, low])]),
                              ctx.add("Not", [ctx.add("Greater", [x, high])])])
    return ctx.add("And", [bounded, ctx.add("Equal", [x, x])])


def _equal_bins(ctx: EmitContext, x: str, node: Node) -> str:
    """MXNet's bin of each element among ``bin_cnt`` equal bins (-1: outside the range): its position scaled in
    double and truncated, then moved down or up one where the float32 edges say so."""
    count, (low, high), edges = node.attrs["bin_cnt"], histogram_range(node.attrs), histogram_edges(node.attrs)
    wide = ctx.add("Cast", [x], to=TensorProto.DOUBLE)
    low_, high_ = ctx.const(low, "low", dtype=np.float64), ctx.const(high, "high", dtype=np.float64)
    inside = _within(ctx, wide, low_, high_)
    scaled = ctx.add("Div", [ctx.add("Mul", [ctx.add("Sub", [wide, low_]), ctx.const(float(count), "count",
                                                                                        dtype=np.float64)]),
                             ctx.const(high - low, "width", dtype=np.float64)])
    first, last = ctx.const(0.0, "first", dtype=np.float64), ctx.const(count - 1.0, "last", dtype=np.float64)
    clipped = ctx.add("Max", [ctx.add("Min", [ctx.add("Floor", [scaled]), last]), first])
    bins = ctx.add("Cast", [ctx.add("Where", [inside, clipped, first])], to=TensorProto.INT64)  # outside: dropped
    edge_values = ctx.const(edges, "edges")
    below = ctx.add("Less", [x, ctx.add("Gather", [edge_values, bins])])
    bins = ctx.add("Sub", [bins, ctx.add("Cast", [below], to=TensorProto.INT64)])
    upper = ctx.add("Gather", [edge_values, ctx.add("Add", [bins, ctx.ints([1], "one")])])
    not_last = ctx.add("Not", [ctx.add("Equal", [bins, ctx.ints([count - 1], "last")])])
    above = ctx.add("And", [ctx.add("Not", [ctx.add("Less", [x, upper])]), not_last])
    bins = ctx.add("Add", [bins, ctx.add("Cast", [above], to=TensorProto.INT64)])
    return ctx.add("Where", [inside, _float(ctx, bins), ctx.const(-1.0, "none")])


def _given_bins(ctx: EmitContext, x: str, edges: str, count: int) -> str:
    """MXNet's bin of each element among the edges given (-1: outside them): before the first edge it does not
    reach (``x - edge >= 0`` fails), the last bin at most."""
    diff = ctx.add("Sub", [ctx.unsqueeze(x, [1]), ctx.unsqueeze(edges, [0])])
    reached = ctx.add("Or", [ctx.add("Greater", [diff, ctx.const(0.0, "zero")]),
                             ctx.add("Equal", [diff, ctx.const(0.0, "zero")])])
    stops = ctx.add("Cast", [ctx.add("Not", [reached])], to=TensorProto.INT32)
    padded = ctx.add("Pad", [stops, ctx.ints([0, 0, 0, 1], "pads"), ctx.const(1, "one", dtype=np.int32)])
    first = _float(ctx, ctx.add("ArgMax", [padded], axis=1, keepdims=0))
    bins = ctx.add("Min", [ctx.add("Sub", [first, ctx.const(1.0, "one")]), ctx.const(count - 1.0, "last")])
    inside = _within(ctx, x, ctx.add("Gather", [edges, ctx.ints([0])]), ctx.add("Gather", [edges, ctx.ints([count])]))
    return ctx.add("Where", [inside, bins, ctx.const(-1.0, "none")])


@register("_histogram")
def histogram(ctx: EmitContext, node: Node) -> None:
    """Each element's bin as MXNet's kernel finds it, counted per bin (as floats); the edges beside."""
    x = ctx.reshape(ctx.input(0), [-1])
    if node.attrs["bin_cnt"] is None:
        count = ctx.shape(1)[0] - 1
        target = _given_bins(ctx, x, ctx.input(1), count)
        ctx.add("Identity", [ctx.input(1)], ctx.output(1))
    else:
        count = node.attrs["bin_cnt"]
        target = _equal_bins(ctx, x, node)
        edges = histogram_edges(node.attrs, ctx.dtypes.get(node.inputs[0], "float32"))
        ctx.add("Identity", [ctx.const(edges, "edges")], ctx.output(1))
    _bin_counts(ctx, target, count, ctx.output(0))


@register(*MASK_ASSIGN_OPS)
def boolean_mask_assign(ctx: EmitContext, node: Node) -> None:
    """The value where the mask (broadcast over the data's other axes) is non-zero: one value, a slice broadcast,
    or (``ordered``) the slice the running count of masked positions picks."""
    data, mask = ctx.shape(0), ctx.shape(1)
    value = ctx.shape(2) if len(node.inputs) > 2 else None
    form = mask_assign_form(node, data, mask, value)
    broadcast, piece, leading, middle, trailing = mask_assign_layout(node, data, mask)
    if form != "ordered":
        hit = ctx.reshape(_nonzero(ctx, ctx.input(1)), broadcast)
        if value is None:
            fill = ctx.const(dtype_value(node.attrs["value"], "float32"), "value")
        elif form == "one":
            fill = ctx.reshape(ctx.input(2), [])
        else:
            fill = ctx.reshape(ctx.input(2), piece)
        ctx.add("Where", [hit, fill, ctx.input(0)], ctx.output())
        return
    hit = ctx.reshape(_nonzero(ctx, ctx.input(1)), [middle])
    counted = ctx.add("CumSum", [_float(ctx, hit), ctx.const(0, "axis", dtype=np.int64)])
    order = ctx.add("Cast", [ctx.add("Max", [ctx.add("Sub", [counted, ctx.const(1.0, "one")]),
                                             ctx.const(0.0, "zero")])], to=TensorProto.INT64)
    slices = ctx.add("Gather", [ctx.reshape(ctx.input(2), [leading, -1, trailing]), order], axis=1)
    filled = ctx.add("Where", [ctx.reshape(hit, [1, middle, 1]), slices,
                               ctx.reshape(ctx.input(0), [leading, middle, trailing])])
    ctx.reshape(filled, data, ctx.output())
