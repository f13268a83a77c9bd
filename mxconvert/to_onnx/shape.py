"""Shape and layout ops: Reshape, Flatten, transpose, Concat, SliceChannel, expand_dims, squeeze, slices,
reshape_like, broadcasts, tile, repeat, stack, split_v2, SwapAxis, reverse, depth/space moves, Cast, amp_cast and
BlockGrad (MXNet's semantics from ``semantics.shape``)."""
from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto, helper

from ..dynamic import all_fixed
from ..errors import NotExpressible
from ..ir import Node
from ..semantics.indexing import dtype_value
from ..semantics.shape import (DIAGONAL_OPS, INSERT_OPS, UNRUNNABLE_OPS, InsertLayout, amp_cast_refusal,
                               assigned_positions, diagonal_positions, diff_terms, ediff1d_ends, unrunnable_refusal,
                               atleast_axes, broadcast_like_sources, cast_overflow_bound, expand_dims_axis,
                               flipped_axes, hsplit_attrs, insert_layout, insert_sources, moveaxis_permutation,
                               reshape_like_ranges, reshape_reads_leading, reshape_terms, roll_shifts, rot90_steps,
                               slice_axis_range, slice_like_axes, slice_ranges, split_bounds, squeezed_axes,
                               stack_overrun, stacked_parts, swapped_axes, tile_reps, whole_axes_but)
from .context import EmitContext
from .registry import refuse, register


THROUGH_START = np.iinfo(np.int64).min  # a Slice end that runs a negative step through index 0
REVERSED = (-1, None, -1)  # a whole axis backwards, at any size


def _slice(ctx: EmitContext, x: str, ranges: list[tuple[int, int | None, int]], out: str) -> None:
    """One ONNX Slice of every axis whose (start, stop, step) is not the whole axis. On a dynamic axis a stop at
    its end stays open (any other bound written here is checked at the probe sizes like every size)."""
    shape, live = ctx.shape(0), ctx.live(ctx.current.inputs[0])
    axes = [i for i, r in enumerate(ranges) if r != (0, shape[i], 1)]
    if not axes:
        ctx.add("Identity", [x], out)
        return
    starts = [ranges[i][0] for i in axes]
    ends = [THROUGH_START if ranges[i][1] is None else
            np.iinfo(np.int64).max if ranges[i][1] == shape[i] and not isinstance(live[i], int) else ranges[i][1]
            for i in axes]
    inputs = [x, ctx.ints(starts, "starts"), ctx.ints(ends, "ends"), ctx.ints(axes, "axes")]
    if any(ranges[i][2] != 1 for i in axes):
        inputs.append(ctx.ints([ranges[i][2] for i in axes], "steps"))
    ctx.add("Slice", inputs, out)


@register("expand_dims")
def expand_dims(ctx: EmitContext, node: Node) -> None:
    ctx.unsqueeze(ctx.input(0), [expand_dims_axis(node.attrs["axis"], len(ctx.shape(0)))], ctx.output())


@register("squeeze")
def squeeze(ctx: EmitContext, node: Node) -> None:
    """Squeezing every axis keeps one of size 1, as MXNet does."""
    axes = squeezed_axes(node.attrs["axis"], ctx.shape(0))
    if ctx.batch_dynamic and 0 in axes:
        raise NotExpressible("squeezing the batch axis of a dynamic batch")
    if len(axes) == len(ctx.shape(0)):
        ctx.reshape(ctx.input(0), [1] if node.attrs["keep_one"] else [], ctx.output())
    elif axes:
        ctx.squeeze(ctx.input(0), axes, ctx.output())
    else:
        ctx.add("Identity", [ctx.input(0)], ctx.output())


@register("slice")
def slice_(ctx: EmitContext, node: Node) -> None:
    a = node.attrs
    _slice(ctx, ctx.input(0), slice_ranges(ctx.shape(0), a["begin"], a["end"], a["step"]), ctx.output())


@register("_slice_assign", "_slice_assign_scalar")
def slice_assign(ctx: EmitContext, node: Node) -> None:
    """A ScatterND of the value (or the scalar, in the data's type) at the crossing of each axis's positions."""
    positions = assigned_positions(node.attrs, ctx.shape(0))
    region = [len(along) for along in positions]
    if not all(region):
        ctx.add("Identity", [ctx.input(0)], ctx.output())
        return
    indices = np.stack(np.meshgrid(*positions, indexing="ij"), axis=-1)
    if node.op == "_slice_assign":
        value = ctx.input(1)
    else:
        scalar = node.attrs["scalar"]
        value = ctx.const(np.full(region, math.trunc(scalar) if node.output() in ctx.integers else scalar), "value")
    ctx.add("ScatterND", [ctx.input(0), ctx.const(indices, "indices", dtype=np.int64), value], ctx.output())


@register("slice_axis")
def slice_axis(ctx: EmitContext, node: Node) -> None:
    axis, begin, end = slice_axis_range(node.attrs, ctx.shape(0))
    _slice(ctx, ctx.input(0), whole_axes_but(ctx.shape(0), {axis: (begin, end)}), ctx.output())


@register("slice_like")
def slice_like(ctx: EmitContext, node: Node) -> None:
    data, like = ctx.shape(0), ctx.shape(1)
    axes = slice_like_axes(node.attrs["axes"], data, like)
    if any(not isinstance(ctx.live(node.inputs[1])[axis], int) for axis in axes):  # sizes read at run time
        ends = ctx.add("Gather", [ctx.add("Shape", [ctx.input(1)]), ctx.ints(axes, "axes")])
        ctx.add("Slice", [ctx.input(0), ctx.ints([0] * len(axes), "starts"), ends, ctx.ints(axes, "axes")],
                ctx.output())
        return
    cuts = {axis: (0, like[axis]) for axis in axes}
    _slice(ctx, ctx.input(0), whole_axes_but(data, cuts), ctx.output())


@register("reshape_like")
def reshape_like(ctx: EmitContext, node: Node) -> None:
    """A fixed target, or one read from both inputs' shapes at run time where an axis is dynamic."""
    if all(isinstance(dim, int) for ref in node.inputs for dim in ctx.live(ref)):
        ctx.reshape(ctx.input(0), ctx.out_shape(), ctx.output())
        return
    (lb, le), (rb, re) = reshape_like_ranges(node.attrs, ctx.shape(0), ctx.shape(1))
    lhs, rhs = (ctx.add("Shape", [ctx.input(i)]) for i in (0, 1))
    pieces = [(lhs, 0, lb), (rhs, rb, re), (lhs, le, len(ctx.shape(0)))]
    parts = [ctx.add("Slice", [dims, ctx.ints([start], "starts"), ctx.ints([stop], "ends")])
             for dims, start, stop in pieces if stop > start]
    ctx.add("Reshape", [ctx.input(0), ctx.add("Concat", parts, axis=0)], ctx.output())


@register("broadcast_to", "broadcast_axis")
def broadcast(ctx: EmitContext, node: Node) -> None:
    """Expand the axes that grow (1 elsewhere keeps the input's size, a dynamic batch included)."""
    grown = [new if new != old else 1 for old, new in zip(ctx.shape(0), ctx.out_shape())]
    ctx.add("Expand", [ctx.input(0), ctx.ints(grown)], ctx.output())


@register("broadcast_like")
def broadcast_like(ctx: EmitContext, node: Node) -> None:
    """Fixed sizes, or the sizes of ``like``'s axes read at run time where one is dynamic."""
    sources = broadcast_like_sources(node.attrs, ctx.shape(0), ctx.shape(1))
    if all(isinstance(ctx.live(node.inputs[1])[axis], int) for axis in sources.values()):
        broadcast(ctx, node)
        return
    dims = ctx.add("Concat", [ctx.add("Shape", [ctx.input(1)]), ctx.ints([1])], axis=0)  # 1 keeps an lhs size
    index = [sources.get(axis, len(ctx.shape(1))) for axis in range(len(ctx.shape(0)))]
    ctx.add("Expand", [ctx.input(0), ctx.add("Gather", [dims, ctx.ints(index, "axes")])], ctx.output())


@register("tile")
def tile(ctx: EmitContext, node: Node) -> None:
    """Reps longer than the rank add leading axes; shorter reps repeat the trailing axes."""
    ones, reps = tile_reps(node.attrs["reps"], len(ctx.shape(0)))
    x = ctx.unsqueeze(ctx.input(0), list(range(len(ones)))) if ones else ctx.input(0)
    ctx.add("Tile", [x, ctx.ints(reps, "reps")], ctx.output())


@register("repeat")
def repeat(ctx: EmitContext, node: Node) -> None:
    """Each element ``repeats`` times along ``axis`` (of the flattened data without one): a new axis after it,
    expanded, then merged."""
    a = node.attrs
    x = ctx.reshape(ctx.input(0), [-1]) if a["axis"] is None else ctx.input(0)
    rank = 1 if a["axis"] is None else len(ctx.shape(0))
    axis = 0 if a["axis"] is None else a["axis"] % rank
    grown = [1] * (axis + 1) + [a["repeats"]] + [1] * (rank - axis - 1)
    expanded = ctx.add("Expand", [ctx.unsqueeze(x, [axis + 1]), ctx.ints(grown)])
    if a["axis"] is None:
        ctx.reshape(expanded, [-1], ctx.output())
    elif all_fixed(ctx.live(node.inputs[0])):
        ctx.reshape(expanded, ctx.batch_shape(ctx.out_shape(), ctx.shape(0)), ctx.output())
    else:  # the other axes' sizes read at run time
        shape = ctx.add("Shape", [x])
        parts = [ctx.add("Slice", [shape, ctx.ints([start]), ctx.ints([stop])]) for start, stop in
                 ((0, axis), (axis + 1, rank)) if stop > start]
        parts.insert(1 if axis else 0, ctx.ints([-1]))
        ctx.add("Reshape", [expanded, ctx.add("Concat", parts, axis=0)], ctx.output())


@register("stack", check=lambda n, opset: stack_overrun(n))
def stack(ctx: EmitContext, node: Node) -> None:
    axis = expand_dims_axis(node.attrs["axis"], len(ctx.shape(0)))
    parts = [ctx.unsqueeze(ctx.input(i), [axis]) for i in range(node.attrs["num_args"])]
    ctx.add("Concat", parts, ctx.output(), axis=axis)


@register("_split_v2", "_npi_hsplit")
def split_v2(ctx: EmitContext, node: Node) -> None:
    attrs = hsplit_attrs(node.attrs, len(ctx.shape(0))) if node.op == "_npi_hsplit" else node.attrs
    axis, bounds = split_bounds(attrs, ctx.shape(0))
    if ctx.batch_dynamic and axis == 0:
        raise NotExpressible("splitting the batch axis of a dynamic batch")
    squeeze_axis = node.attrs["squeeze_axis"]
    outs = [ctx.temp("part") if squeeze_axis else ctx.output(i) for i in range(len(bounds))]
    sizes = [stop - start for start, stop in bounds]
    if len(bounds) == 1:
        ctx.add("Identity", [ctx.input(0)], outs)
    elif ctx.opset >= 13:
        ctx.add("Split", [ctx.input(0), ctx.ints(sizes, "split")], outs, axis=axis)
    else:
        ctx.add("Split", [ctx.input(0)], outs, axis=axis, split=sizes)
    if squeeze_axis:  # every part has size 1 there; a 1-D part becomes a scalar, as in MXNet
        for i, part in enumerate(outs):
            ctx.squeeze(part, [axis], ctx.output(i))


@register("SwapAxis")
def swap_axis(ctx: EmitContext, node: Node) -> None:
    ctx.add("Transpose", [ctx.input(0)], ctx.output(), perm=swapped_axes(node.attrs, len(ctx.shape(0))))


@register("reverse", "_npi_flip")
def reverse(ctx: EmitContext, node: Node) -> None:
    _flip(ctx, ctx.input(0), flipped_axes(node, len(ctx.shape(0))), ctx.output())


def _flip(ctx: EmitContext, x: str, axes: list[int], out: str | None = None) -> str:
    out = out or ctx.temp("flip")
    _slice(ctx, x, [REVERSED if i in axes else (0, size, 1) for i, size in enumerate(ctx.shape(0))], out)
    return out


@register("_np_moveaxis")
def moveaxis(ctx: EmitContext, node: Node) -> None:
    ctx.add("Transpose", [ctx.input(0)], ctx.output(), perm=moveaxis_permutation(node.attrs, len(ctx.shape(0))))


@register("_npi_broadcast_to")
def numpy_broadcast_to(ctx: EmitContext, node: Node) -> None:
    """ONNX's Expand broadcasts as NumPy does (leading axes added)."""
    lead = len(ctx.out_shape()) - len(ctx.shape(0))
    grown = [new if i < lead or ctx.shape(0)[i - lead] != new else 1 for i, new in enumerate(ctx.out_shape())]
    ctx.add("Expand", [ctx.input(0), ctx.ints(grown)], ctx.output())


@register("_np_roll")
def roll(ctx: EmitContext, node: Node) -> None:
    """Each rolled axis as its last ``shift`` elements followed by the others (the flattened data without
    ``axis``)."""
    shape = ctx.shape(0)
    flat = node.attrs["axis"] is None
    x = ctx.reshape(ctx.input(0), [-1]) if flat else ctx.input(0)
    for axis, shift in roll_shifts(node.attrs, shape):
        axis = axis % (1 if flat else len(shape))
        size = math.prod(shape) if flat else shape[axis]
        tail = ctx.add("Slice", [x, ctx.ints([size - shift]), ctx.ints([size]), ctx.ints([axis], "axes")])
        head = ctx.add("Slice", [x, ctx.ints([0]), ctx.ints([size - shift]), ctx.ints([axis], "axes")])
        x = ctx.add("Concat", [tail, head], axis=axis)
    if flat:
        ctx.reshape(x, list(shape), ctx.output())
    else:
        ctx.add("Identity", [x], ctx.output())


@register("_npi_diff")
def diff(ctx: EmitContext, node: Node) -> None:
    """The shifted slices times their binomial coefficients, summed in MXNet's order."""
    axis, length, terms = diff_terms(node.attrs, ctx.shape(0))
    total = None
    for start, coefficient in terms:
        part = ctx.add("Slice", [ctx.input(0), ctx.ints([start]), ctx.ints([start + length]), ctx.ints([axis], "axes")])
        part = ctx.add("Mul", [part, ctx.const(float(coefficient), "coefficient")]) if coefficient != 1 else part
        total = part if total is None else ctx.add("Add", [total, part])
    ctx.add("Identity", [total], ctx.output())


@register("_npi_ediff1d")
def ediff1d(ctx: EmitContext, node: Node) -> None:
    """The flattened data's differences, after and before what the attributes add (flattened inputs, scalars in
    the data's type)."""
    flat, size = ctx.reshape(ctx.input(0), [-1]), math.prod(ctx.shape(0))
    ahead = ctx.add("Slice", [flat, ctx.ints([1]), ctx.ints([size]), ctx.ints([0], "axes")])
    behind = ctx.add("Slice", [flat, ctx.ints([0]), ctx.ints([size - 1]), ctx.ints([0], "axes")])
    integer = node.output() in ctx.integers
    begin, end = (None if addition is None else ctx.reshape(ctx.input(int(addition[1])), [-1])
                  if addition[0] == "input" else ctx.const([math.trunc(addition[1]) if integer else addition[1]],
                                                           "scalar") for addition in ediff1d_ends(node.attrs))
    parts = [part for part in (begin, ctx.add("Sub", [ahead, behind]), end) if part is not None]
    ctx.add("Concat", parts, ctx.output(), axis=0)


@register(*INSERT_OPS)
def insert(ctx: EmitContext, node: Node) -> None:
    """NumPy's insert as MXNet computes it (``semantics.shape.insert_layout``): the data and the inserted block
    joined along the axis, then the rows gathered in output order (from an index tensor: computed as it runs)."""
    layout = insert_layout(node, [ctx.shape(i) for i in range(len(node.inputs))])
    x = ctx.reshape(ctx.input(0), list(layout.data)) if node.attrs["axis"] is None else ctx.input(0)
    n, axis = layout.data[layout.axis], layout.axis
    if not layout.block[axis]:
        ctx.add("Identity", [x], ctx.output())
        return
    joined = ctx.add("Concat", [x, _inserted_block(ctx, node, layout)], axis=axis)
    if layout.positions is None:
        sources = _sources_at_run(ctx, _positions_at_run(ctx, layout, n), n, layout.block[axis])
    else:
        sources = ctx.ints(insert_sources(layout.positions, n), "sources")
    ctx.add("Gather", [joined, sources], ctx.output(), axis=axis)


def _inserted_block(ctx: EmitContext, node: Node, layout: InsertLayout) -> str:
    """The values (or ``val``) in the data's type, their first axis moved where NumPy's int index moves it,
    broadcast to the inserted block."""
    integer = node.output() in ctx.integers
    if layout.values is None:
        value = dtype_value(node.attrs["val"], ctx.dtypes.get(node.output(), "float32"))
        return ctx.const(np.full(layout.block, value), "val")
    values = ctx.input(1)
    if tuple(ctx.shape(1)) != layout.values:
        values = ctx.reshape(values, list(layout.values))
    shape = layout.values
    if layout.moved:
        values = ctx.add("Transpose", [values], perm=layout.moved)
        shape = tuple(shape[i] for i in layout.moved)
    if integer and ctx.current.inputs[1] not in ctx.integers:
        values = ctx.add("Cast", [ctx.add("Cast", [values], to=TensorProto.INT64)],
                         to=helper.np_dtype_to_tensor_dtype(ctx.float_type))
    return values if shape == layout.block else ctx.add("Expand", [values, ctx.ints(list(layout.block))])


def _positions_at_run(ctx: EmitContext, layout: InsertLayout, n: int) -> str:
    """Where an index tensor puts the inserted rows: negative indices count from the end; one index puts the
    block before it, several put each row before its index, shifted by the rows sorted before it (ties in
    order)."""
    index = ctx.reshape(ctx.add("Cast", [ctx.input(len(ctx.current.inputs) - 1)], to=TensorProto.INT64), [-1])
    index = ctx.add("Where", [ctx.add("Less", [index, ctx.ints([0], "zero")]),
                              ctx.add("Add", [index, ctx.ints([n], "size")]), index])
    count = layout.block[layout.axis]
    if layout.single:
        return ctx.add("Add", [index, ctx.ints(list(range(count)), "rows")])
    row, other = ctx.unsqueeze(index, [1]), ctx.unsqueeze(index, [0])
    earlier_rows = ctx.const(np.tri(count, k=-1, dtype=bool), "earlier_rows", dtype=bool)
    tie = ctx.add("And", [ctx.add("Equal", [other, row]), earlier_rows])
    before = ctx.add("Or", [ctx.add("Less", [other, row]), tie])
    ranks = ctx.reduce_sum(ctx.add("Cast", [before], to=TensorProto.INT64), [1], keepdims=0)
    return ctx.add("Add", [index, ranks])


def _sources_at_run(ctx: EmitContext, positions: str, n: int, count: int) -> str:
    """For each output row, its row in the data and block joined: the block's row landing there, else the
    data's rows in order."""
    output_rows = ctx.ints([[row] for row in range(n + count)], "output_rows")
    landed = ctx.add("Cast", [ctx.add("Equal", [output_rows, ctx.unsqueeze(positions, [0])])], to=TensorProto.INT64)
    block_row = ctx.reduce_sum(ctx.add("Mul", [landed, ctx.ints(list(range(n, n + count)), "block_rows")]), [1],
                               keepdims=0)
    earlier = ctx.add("Cast", [ctx.add("Less", [ctx.unsqueeze(positions, [0]), output_rows])], to=TensorProto.INT64)
    data_row = ctx.add("Sub", [ctx.ints(list(range(n + count)), "rows"), ctx.reduce_sum(earlier, [1], keepdims=0)])
    inserted = ctx.add("Cast", [ctx.reduce_sum(landed, [1], keepdims=0)], to=TensorProto.BOOL)
    return ctx.add("Where", [inserted, block_row, data_row])


@register("_npi_rot90")
def rot90(ctx: EmitContext, node: Node) -> None:
    flips, swap = rot90_steps(node.attrs, len(ctx.shape(0)))
    x = _flip(ctx, ctx.input(0), flips) if flips else ctx.input(0)
    if swap:
        ctx.add("Transpose", [x], ctx.output(), perm=swap)
    else:
        ctx.add("Identity", [x], ctx.output())


@register("_np_atleast_1d", "_np_atleast_2d", "_np_atleast_3d")
def atleast(ctx: EmitContext, node: Node) -> None:
    for i in range(len(node.inputs)):
        axes = atleast_axes(node.op, len(ctx.shape(i)))
        if axes:
            ctx.unsqueeze(ctx.input(i), axes, ctx.output(i))
        else:
            ctx.add("Identity", [ctx.input(i)], ctx.output(i))


@register("_npi_vstack")
def numpy_stack(ctx: EmitContext, node: Node) -> None:
    inserted, axis = stacked_parts(node.op, [ctx.shape(i) for i in range(len(node.inputs))])
    parts = [ctx.unsqueeze(ctx.input(i), axes) if axes else ctx.input(i) for i, axes in enumerate(inserted)]
    ctx.add("Concat", parts, ctx.output(), axis=axis)


@register("depth_to_space", "space_to_depth")
def depth_space(ctx: EmitContext, node: Node) -> None:
    """ONNX's DCR order is MXNet's."""
    op_type = "DepthToSpace" if node.op == "depth_to_space" else "SpaceToDepth"
    ctx.add(op_type, [ctx.input(0)], ctx.output(), blocksize=node.attrs["block_size"])


@register("BlockGrad")
def block_grad(ctx: EmitContext, node: Node) -> None:
    ctx.add("Identity", [ctx.input(0)], ctx.output())


def _back_to_float(ctx: EmitContext, x: str) -> str:
    return ctx.add("Cast", [x], ctx.output(), to=helper.np_dtype_to_tensor_dtype(ctx.float_type))


def _cast_check(node: Node, opset: int) -> str | None:
    if node.op == "Cast" and node.attrs["dtype"] == "bfloat16":
        return "Cast to bfloat16 (MXNet truncates to bfloat16; ONNX's Cast rounds to nearest)"
    return amp_cast_refusal(node)


_ONNX_INTEGERS = {"uint8": TensorProto.UINT8, "int8": TensorProto.INT8}


@register("Cast", "amp_cast", check=_cast_check)
def cast(ctx: EmitContext, node: Node) -> None:
    """The tensor stays in the model's float type holding the values MXNet's cast gives: float16 rounded; an
    integer type truncates towards zero (outside the int32 range, int64's for int64, and NaN: the lowest
    value) and keeps the low bits; bool is x != 0."""
    x, dtype = ctx.input(0), node.attrs["dtype"]
    if dtype in ("float32", "float64"):
        ctx.add("Identity", [x], ctx.output())
    elif dtype == "float16":
        _back_to_float(ctx, ctx.add("Cast", [x], to=TensorProto.FLOAT16))
    elif dtype == "bool":
        _back_to_float(ctx, ctx.add("Not", [ctx.add("Equal", [x, ctx.const(0.0, "zero")])]))
    else:
        wide = TensorProto.INT64 if dtype == "int64" else TensorProto.INT32
        bound = cast_overflow_bound(dtype)
        inside = ctx.add("Less", [ctx.add("Abs", [x]), ctx.const(bound, "bound")])
        kept = ctx.add("Where", [inside, x, ctx.const(-bound, "lowest")])
        integer = ctx.add("Cast", [kept], to=wide)
        if dtype in ("int8", "uint8"):
            integer = ctx.add("Cast", [integer], to=_ONNX_INTEGERS[dtype])
        _back_to_float(ctx, integer)


@register("amp_multicast")
def multicast(ctx: EmitContext, node: Node) -> None:
    """Each input as it is, rounded to float16 where it becomes float16 (``semantics.shape.multicast_dtypes``)."""
    for index, ref in enumerate(node.inputs):
        x = ctx.input(index)
        if ctx.dtypes[node.output(index)] == "float16" != ctx.dtypes.get(ref, "float32"):
            x = ctx.add("Cast", [x], to=TensorProto.FLOAT16)
        ctx.add("Cast", [x], ctx.output(index), to=helper.np_dtype_to_tensor_dtype(ctx.float_type))


@register("Flatten")
def flatten(ctx: EmitContext, node: Node) -> None:
    ctx.add("Flatten", [ctx.input(0)], ctx.output(), axis=1)


@register("Concat", "_rnn_param_concat")
def concat(ctx: EmitContext, node: Node) -> None:
    if len(node.inputs) == 1:  # no copy
        ctx.add("Identity", [ctx.input(0)], ctx.output())
        return
    ctx.add("Concat", [ctx.input(i) for i in range(len(node.inputs))], ctx.output(), axis=node.attrs["dim"])


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
    if spec and (ctx.batch_dynamic or not all_fixed(ctx.live(node.inputs[0]))):
        ctx.add("Reshape", [ctx.input(0), _live_target(ctx, reshape_terms(len(ctx.shape(0)), node.attrs))],
                ctx.output())
        return
    ctx.reshape(ctx.input(0), ctx.batch_shape(target, ctx.shape(0)), ctx.output())


def _live_target(ctx: EmitContext, terms: list) -> str:
    """A Reshape target computed from the input's shape at run time (``semantics.shape.reshape_terms``)."""
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


@register("transpose")
def transpose(ctx: EmitContext, node: Node) -> None:
    rank = len(ctx.shape(0))
    axes = node.attrs["axes"] or tuple(reversed(range(rank)))
    ctx.add("Transpose", [ctx.input(0)], ctx.output(), perm=list(axes))


@register(*DIAGONAL_OPS)
def diagonal(ctx: EmitContext, node: Node) -> None:
    """Each output value gathered from the flattened data with a zero appended (the positions past it)."""
    positions = diagonal_positions(node, ctx.shape(0))
    flat = ctx.add("Concat", [ctx.reshape(ctx.input(0), [-1]), ctx.const(np.zeros(1), "zero")], axis=0)
    if node.op != "_np_trace":
        ctx.add("Gather", [flat, ctx.const(positions, "positions", np.int64)], ctx.output(), axis=0)
        return
    picked = ctx.add("Gather", [flat, ctx.const(positions, "positions", np.int64)], axis=0)
    ctx.reduce_sum(picked, [-1], ctx.output(), keepdims=0)


refuse(*UNRUNNABLE_OPS, reason=unrunnable_refusal)
