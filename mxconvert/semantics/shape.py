"""Shape and layout ops: Reshape, Flatten, transpose, Concat, SliceChannel, expand_dims, squeeze, slices,
reshape_like, broadcasts, tile, repeat, stack, ``_split_v2``, SwapAxis, reverse, depth/space moves, Cast,
amp_cast and BlockGrad, and their NumPy-interface spellings and siblings (``_np_reshape``, ``_npx_reshape``,
flip, roll, rot90, moveaxis, atleast_nd, stacks and splits, tril, diag, diagonal, trace, insert): their schemas,
shape rules and MXNet's attribute normalisation, read by both emitters.

Longer than the 600 lines the other modules keep to: its ops share one body of MXNet semantics (axes, negative
and None bounds, Reshape's special codes and the NumPy spellings' normalisers onto them) that both emitters and
``folding`` read; split by op, that semantics would be scattered or imported across families."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import NotExpressible
from ..ir import Node
from .rules import Shape, ShapeError, axis_index, expect, input_rule, same_shape, same_shape_inputs, shape_rule
from .schema import (COUNT, OpDef, REQUIRED, SHAPE_EMPTY, UNARY, alias, choice, define, in_range, optional, parse_bool,
                     parse_float, parse_int, parse_shape, refusing_negative)

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
CAST_DTYPES = ("float32", "float64", "float16", "bfloat16", "uint8", "int8", "int32", "int64")


_BLOCK_SIZE = (COUNT, REQUIRED)


OPS_SPLIT_ATTRS = {"indices": (parse_shape, REQUIRED), "axis": (parse_int, 1), "squeeze_axis": (parse_bool, False),
                   "sections": (refusing_negative(parse_int), 0)}


_RESHAPE_LIKE_BOUND = (optional(parse_int), None)


define({
    "Flatten": UNARY,
    "Concat": OpDef({"dim": (parse_int, 1), "num_args": (optional(COUNT), None)}),
    "Reshape": OpDef(
        {
            "shape": SHAPE_EMPTY,
            "reverse": (parse_bool, False),
            "target_shape": SHAPE_EMPTY,
            "keep_highest": (parse_bool, False),
        }
    ),
    "SliceChannel": OpDef(
        {
            "num_outputs": (COUNT, REQUIRED),
            "axis": (parse_int, 1),
            "squeeze_axis": (parse_bool, False),
        },
        outputs=lambda a: a["num_outputs"],
    ),
    "transpose": OpDef({"axes": SHAPE_EMPTY}),
    "expand_dims": OpDef({"axis": (parse_int, REQUIRED)}),
    # keep_one: MXNet's squeeze keeps one axis of size 1 where it drops all (its NumPy spelling does not)
    "squeeze": OpDef({"axis": (optional(parse_shape), None), "keep_one": (parse_bool, True)}),
    # a bare None is an unset step in MXNet (every step 1); begin and end need values
    "slice": OpDef({"begin": (parse_shape, REQUIRED), "end": (parse_shape, REQUIRED),
                    "step": (optional(parse_shape), ())}),
    "slice_axis": OpDef({"axis": (parse_int, REQUIRED), "begin": (parse_int, REQUIRED),
                         "end": (optional(parse_int), REQUIRED)}),
    "slice_like": OpDef({"axes": (optional(parse_shape), ())}),  # None: no axis, as MXNet reads it
    "reshape_like": OpDef({"lhs_begin": _RESHAPE_LIKE_BOUND, "lhs_end": _RESHAPE_LIKE_BOUND,
                           "rhs_begin": _RESHAPE_LIKE_BOUND, "rhs_end": _RESHAPE_LIKE_BOUND}),
    "broadcast_to": OpDef({"shape": SHAPE_EMPTY}),
    "broadcast_axis": OpDef({"axis": SHAPE_EMPTY, "size": SHAPE_EMPTY}),
    "broadcast_like": OpDef({"lhs_axes": (optional(parse_shape), None), "rhs_axes": (optional(parse_shape), None)}),
    "tile": OpDef({"reps": (optional(parse_shape), REQUIRED)}),  # None: no repetition, as MXNet reads it
    "repeat": OpDef({"repeats": (parse_int, REQUIRED), "axis": (optional(parse_int), None)}),
    "stack": OpDef({"axis": (parse_int, 0), "num_args": (COUNT, REQUIRED)}),
    "_split_v2": OpDef(OPS_SPLIT_ATTRS, outputs=lambda a: a["sections"] if a["sections"] > 0 else len(a["indices"])),
    "SwapAxis": OpDef({"dim1": (parse_int, 0), "dim2": (parse_int, 0)}),
    "reverse": OpDef({"axis": (parse_shape, REQUIRED)}),
    "depth_to_space": OpDef({"block_size": _BLOCK_SIZE}),
    "space_to_depth": OpDef({"block_size": _BLOCK_SIZE}),
    "Cast": OpDef({"dtype": (choice(*CAST_DTYPES, "bool"), REQUIRED)}),
    "amp_cast": OpDef({"dtype": (choice(*CAST_DTYPES), REQUIRED)}),
    # casts its inputs to one float type (``multicast_dtypes``), one output each
    "amp_multicast": OpDef({"num_outputs": (COUNT, REQUIRED), "cast_narrow": (parse_bool, False)},
                           outputs=lambda a: a["num_outputs"]),
    "BlockGrad": UNARY,
    # slice's region of the first input replaced by the second input (its shape) or by a scalar
    "_slice_assign": OpDef({"begin": (parse_shape, REQUIRED), "end": (parse_shape, REQUIRED),
                            "step": (optional(parse_shape), ())}),
    "_slice_assign_scalar": OpDef({"begin": (parse_shape, REQUIRED), "end": (parse_shape, REQUIRED),
                                   "step": (optional(parse_shape), ()), "scalar": (parse_float, 0.0)}),
    # Gluon's rnn layers pack their weights with it: a Concat whose shape inference also fills unknown sizes
    "_rnn_param_concat": OpDef({"dim": (parse_int, 1), "num_args": (COUNT, REQUIRED)}),
})


alias("flatten", "Flatten")
alias("split", "SliceChannel")
alias("concat", "Concat")
alias("reshape", "Reshape")
alias("stop_gradient", "BlockGrad")
alias("broadcast_axes", "broadcast_axis")
alias("swapaxes", "SwapAxis")
alias("flip", "reverse")
alias("cast", "Cast")
alias("crop", "slice")
alias("_npi_expand_dims", "expand_dims")
alias("_npi_slice", "slice")
for _prefix in ("_crop", "_npi_slice"):
    alias(f"{_prefix}_assign", "_slice_assign")
    alias(f"{_prefix}_assign_scalar", "_slice_assign_scalar")
alias("_npx_slice", "slice")
alias("_npx_reshape_like", "reshape_like")
alias("_npi_tile", "tile")
alias("_np_repeat", "repeat")
alias("_npi_split", "_split_v2")
alias("_npi_swapaxes", "SwapAxis")
alias("_npi_cast", "Cast")
alias("_npx_cast", "Cast")
alias("_npx_batch_flatten", "Flatten")
alias("_npi_rnn_param_concat", "_rnn_param_concat")


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
shape_rule("Cast", "amp_cast", "BlockGrad")(same_shape)
input_rule("BlockGrad", "Cast", "amp_cast")(same_shape_inputs)


@shape_rule("amp_multicast")
def _multicast(node: Node, shapes: list[Shape]) -> list[Shape]:
    return list(shapes)


@shape_rule("Flatten")
def _flatten(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [(shapes[0][0], math.prod(shapes[0][1:]))]


@shape_rule("Concat", "_rnn_param_concat")
def _concat(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [_concatenated(shapes, axis_index(node.attrs["dim"], len(shapes[0]), "dim"))]


def _concatenated(shapes: list[Shape], axis: int) -> Shape:
    """The shape of ``shapes`` joined on ``axis``; every other axis must agree."""
    for shape in shapes[1:]:
        if len(shape) != len(shapes[0]) or any(s != t for i, (s, t) in enumerate(zip(shape, shapes[0]))
                                               if i != axis):
            raise ShapeError(f"inputs of shapes {shapes} do not concatenate on axis {axis}")
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return tuple(out)


@shape_rule("Reshape")
def _reshape(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [reshape_target(shapes[0], node.attrs)]


ReshapeTerm = int | tuple[tuple[int, ...], int]


def reshape_terms(rank: int, attrs: dict) -> list[ReshapeTerm]:
    """MXNet's Reshape ``shape`` codes (``attrs["shape"]`` given) as one term per output axis, for targets that
    compute the target from the input's live shape: an int is kept (-1: inferred), ``(axes, divisor)`` is the
    product of those input axes' sizes floor-divided by ``divisor`` (0 copies, -2 copies the rest, -3 merges two
    axes, -4 splits one)."""
    spec, source = list(attrs["shape"]), list(range(rank))
    if attrs["reverse"]:
        spec, source = spec[::-1], source[::-1]
    out: list[ReshapeTerm] = []
    src = i = 0
    while i < len(spec):
        code = spec[i]
        if code == -2:
            out.extend(((axis,), 1) for axis in source[src:])
            src = len(source)
        elif code == -3:
            out.append(((source[src], source[src + 1]), 1))
            src += 2
        elif code == -4:
            first, second = spec[i + 1], spec[i + 2]
            out += [((source[src],), second) if first == -1 else first,
                    ((source[src],), first) if second == -1 else second]
            src, i = src + 1, i + 2
        else:  # 0 copies, -1 is inferred, a positive size is kept
            out.append(((source[src],), 1) if code == 0 else code)
            src += 1
        i += 1
    return out[::-1] if attrs["reverse"] else out


def reshape_target(data: Shape, attrs: dict) -> Shape:
    """The output shape of MXNet's Reshape, special codes 0, -1, -2, -3, -4 and ``reverse`` included."""
    if not attrs["shape"] and attrs["target_shape"]:  # deprecated form: 0 means "infer"
        target = [d if d else -1 for d in attrs["target_shape"]]
        if attrs["keep_highest"]:
            target = [data[0], *target[1:]]
        return _resolve(data, target, tuple(target))
    source, out, inferred = _reshape_codes(data, attrs)
    out = _resolve(tuple(source), out, attrs["shape"], inferred)
    return tuple(reversed(out)) if attrs["reverse"] else out


def _reshape_codes(data: Shape, attrs: dict) -> tuple[list[int], list[int], int | None]:
    """The data's sizes and the codes' expansion (``-1`` still to infer) in MXNet's reading order (reversed
    with ``reverse``), and the position of the ``-1`` among the codes."""
    spec, source = list(attrs["shape"]), list(data)
    if attrs["reverse"]:
        spec, source = spec[::-1], source[::-1]
    return source, *_expand_codes(source, spec, attrs["shape"])


def reshape_moves_inferred(data: Shape, attrs: dict) -> bool:
    """Whether MXNet writes the size inferred for ``-1`` at another axis than the -1's own: it indexes its
    output by the -1's position among the codes, which a -2 or -4 before it shifts."""
    if not attrs["shape"]:
        return False
    _, out, inferred = _reshape_codes(data, attrs)
    return inferred is not None and out.index(-1) != inferred


def _expand_codes(source: list[int], spec: list, original: tuple) -> tuple[list[int], int | None]:
    out: list[int] = []
    inferred = None
    src = 0
    i = 0
    while i < len(spec):
        code = spec[i]
        if code == 0:
            out.append(_dim(source, src, original))
            src += 1
        elif code == -1:
            out.append(-1)
            inferred = i
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
    return out, inferred


def _dim(source: list[int], index: int, original: tuple) -> int:
    if index >= len(source):
        raise ShapeError(f"shape {original} refers past the input's {len(source)} dimensions")
    return source[index]


def _resolve(data: Shape, out: list[int], original: tuple, inferred: int | None = None) -> Shape:
    """``out`` with its -1 inferred as MXNet does: the -1 counts as 1 and the size, rounded down, goes to axis
    ``inferred`` (the -1's own by default, see ``reshape_moves_inferred``). MXNet checks no sizes: an output
    with fewer elements holds the data's leading ones (``reshape_reads_leading``)."""
    total = math.prod(data)
    if out.count(-1) > 1:
        raise ShapeError(f"shape {original} has more than one -1")
    if -1 in out:
        at = out.index(-1)
        out[at] = 1
        inferred = at if inferred is None else inferred
        if inferred >= len(out):
            raise ShapeError(f"shape {original}: MXNet writes the inferred size past its output's axes")
        known = math.prod(out)
        if known == 0:
            raise ShapeError(f"cannot reshape {data} to {original}")
        out[inferred] = total // known
    return tuple(out)


def reshape_reads_leading(data: Shape, out: Shape) -> bool:
    """Whether a Reshape output takes only the data's leading elements (MXNet checks no sizes); one with more
    elements than the data reads past it in MXNet (undefined values): the emitters refuse it."""
    if math.prod(out) > math.prod(data):
        raise NotExpressible(f"reshape of {data} to {out} reads past the data in MXNet")
    return math.prod(out) < math.prod(data)


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


@input_rule("SliceChannel")
def _slice_channel_data(node: Node, inputs: list, outputs: list) -> list:
    """The data of a split from any of its equal parts."""
    piece = next((shape for shape in outputs if shape is not None), None)
    if piece is None:
        return [None]
    a = node.attrs
    data = list(piece)
    if a["squeeze_axis"]:
        data.insert(axis_index(a["axis"], len(piece) + 1), a["num_outputs"])
    else:
        axis = axis_index(a["axis"], len(piece))
        data[axis] *= a["num_outputs"]
    return [tuple(data)]


@shape_rule("transpose")
def _transpose(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axes = node.attrs["axes"] or tuple(reversed(range(len(data))))
    if sorted(axes) != list(range(len(data))):  # MXNet 1.9.1 indexes the shape with each axis: none negative
        raise ShapeError(f"axes {axes} are not a permutation of 0..{len(data) - 1}")
    return [tuple(data[a] for a in axes)]


def _axes_within(axes, rank: int, what: str = "axis") -> list[int]:
    """``axes`` as indices into ``rank`` dimensions, without duplicates."""
    indices = [axis_index(axis, rank, what) for axis in axes]
    if len(set(indices)) != len(indices):
        raise ShapeError(f"{what} {tuple(axes)} has duplicates")
    return indices


def expand_dims_axis(axis: int, rank: int) -> int:
    """Where ``expand_dims`` inserts the new axis: -rank-1..rank, negative counting from the end."""
    return axis_index(axis, rank + 1)


@shape_rule("expand_dims")
def _expand_dims(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = list(shapes[0])
    data.insert(expand_dims_axis(node.attrs["axis"], len(data)), 1)
    return [tuple(data)]


@input_rule("expand_dims")
def _expand_dims_data(node: Node, inputs: list, outputs: list) -> list:
    """The data of an expand_dims: its output without the inserted axis."""
    if outputs[0] is None:
        return [None]
    axis = expand_dims_axis(node.attrs["axis"], len(outputs[0]) - 1)
    return [tuple(size for i, size in enumerate(outputs[0]) if i != axis)]


def squeezed_axes(axis: tuple | None, data: Shape) -> list[int]:
    """The axes ``squeeze`` drops: the listed ones (each of size 1) or, for None, every axis of size 1."""
    if axis is None:
        return [i for i, size in enumerate(data) if size == 1]
    axes = _axes_within(axis, len(data))
    if any(data[i] != 1 for i in axes):
        raise ShapeError(f"axis {axis}: squeeze takes axes of size 1 only, data has shape {data}")
    return sorted(axes)


@shape_rule("squeeze")
def _squeeze(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    dropped = squeezed_axes(node.attrs["axis"], data)
    kept = tuple(size for i, size in enumerate(data) if i not in dropped)
    return [kept or (1,) if node.attrs["keep_one"] else kept]


def slice_ranges(data: Shape, begin: tuple, end: tuple, step: tuple | None) -> list[tuple[int, int, int]]:
    """MXNet's ``slice``: per axis of ``data`` ``(start, stop, step)`` as Python slices take them (a stop of
    None runs to the start of a negative step). None entries take the defaults of the step's direction; begin
    and end count from the end when negative and are clipped to the axis."""
    if len(begin) != len(end) or len(begin) > len(data) or step and len(step) != len(begin):
        raise ShapeError(f"begin {begin}, end {end} and step {step} do not fit {len(data)}-D data")
    ranges = []
    for axis, size in enumerate(data):
        if axis >= len(begin):
            ranges.append((0, size, 1))
            continue
        s = step[axis] if step and step[axis] is not None else 1
        if s == 0:
            raise ShapeError(f"step {step} has a zero")
        b = begin[axis] if begin[axis] is not None else (size - 1 if s < 0 else 0)
        e = end[axis] if end[axis] is not None else (-1 if s < 0 else size)
        b += size if b < 0 else 0
        e += size if e < 0 and end[axis] is not None else 0
        b = 0 if b < 0 and s > 0 else size - 1 if b > size - 1 and s < 0 else b
        if not 0 <= b < size:  # MXNet's output is empty
            ranges.append((0, 0, 1))
            continue
        e = min(max(e, -1), size)
        ranges.append((b, e if e >= 0 else None if s < 0 else 0, s))
    return ranges


def slice_length(size: int, start: int, stop: int | None, step: int) -> int:
    return len(range(size)[start:stop:step])


@shape_rule("slice")
def _slice(node: Node, shapes: list[Shape]) -> list[Shape]:
    a, data = node.attrs, shapes[0]
    ranges = slice_ranges(data, a["begin"], a["end"], a["step"])
    return [tuple(slice_length(size, *r) for size, r in zip(data, ranges))]


def assigned_positions(attrs: dict, data: Shape) -> list[list[int]]:
    """The positions ``_slice_assign`` writes on each axis, in the order of the value's elements there (a
    negative step writes backwards)."""
    ranges = slice_ranges(data, attrs["begin"], attrs["end"], attrs["step"])
    return [list(range(size))[start:stop:step] for size, (start, stop, step) in zip(data, ranges)]


@shape_rule("_slice_assign", "_slice_assign_scalar")
def _slice_assign(node: Node, shapes: list[Shape]) -> list[Shape]:
    region = tuple(len(along) for along in assigned_positions(node.attrs, shapes[0]))
    if node.op == "_slice_assign":
        expect(shapes[1], region, "the value assigned")
    return [shapes[0]]


def slice_axis_range(attrs: dict, data: Shape) -> tuple[int, int, int]:
    """``slice_axis``: (axis, begin, end) with negative values counted from the end, end None the axis size."""
    axis = axis_index(attrs["axis"], len(data))
    size = data[axis]
    begin = attrs["begin"] + size if attrs["begin"] < 0 else attrs["begin"]
    end = size if attrs["end"] is None else attrs["end"] + size if attrs["end"] < 0 else attrs["end"]
    if not 0 <= begin < end <= size:
        raise ShapeError(f"begin {attrs['begin']} and end {attrs['end']} do not fit an axis of size {size}")
    return axis, begin, end


def whole_axes_but(data: Shape, cuts: dict[int, tuple[int, int]]) -> list[tuple[int, int, int]]:
    """``slice_ranges``-style (start, stop, step) per axis: ``cuts`` maps an axis to its (start, stop)."""
    return [(*cuts[axis], 1) if axis in cuts else (0, size, 1) for axis, size in enumerate(data)]


@shape_rule("slice_axis")
def _slice_axis(node: Node, shapes: list[Shape]) -> list[Shape]:
    axis, begin, end = slice_axis_range(node.attrs, shapes[0])
    out = list(shapes[0])
    out[axis] = end - begin
    return [tuple(out)]


def slice_like_axes(axes: tuple | None, data: Shape, like: Shape) -> list[int]:
    """The axes ``slice_like`` cuts to the second input's size (every axis when ``axes`` is empty, none when it is
    None)."""
    if axes is None:
        return []
    if not axes:
        if len(data) != len(like):
            raise ShapeError(f"inputs of shapes {data} and {like}: slice_like on every axis needs equal ranks")
        indices = list(range(len(data)))
    else:
        indices = [axis_index(axis, len(data)) for axis in axes]
        if any(i >= len(like) for i in indices):
            raise ShapeError(f"axes {axes} exceed the second input's shape {like}")
    if any(like[i] > data[i] for i in indices):
        raise ShapeError(f"shape {like} exceeds the data's {data} on axes {axes}")
    return indices


@shape_rule("slice_like")
def _slice_like(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, like = shapes
    out = list(data)
    for i in slice_like_axes(node.attrs["axes"], data, like):
        out[i] = like[i]
    return [tuple(out)]


def _reshape_like_range(begin: int | None, end: int | None, rank: int, side: str) -> tuple[int, int]:
    start = 0 if begin is None else begin + rank if begin < 0 else begin
    stop = rank if end is None else end + rank if end < 0 else end
    if not 0 <= start < stop <= rank:
        raise ShapeError(f"{side}_begin {begin} and {side}_end {end} do not fit {rank}-D input")
    return start, stop


def reshape_like_ranges(attrs: dict, lhs: Shape, rhs: Shape) -> tuple[tuple[int, int], tuple[int, int]]:
    """``reshape_like``'s (begin, end) of the lhs axes replaced and of the rhs axes whose sizes they take."""
    return (_reshape_like_range(attrs["lhs_begin"], attrs["lhs_end"], len(lhs), "lhs"),
            _reshape_like_range(attrs["rhs_begin"], attrs["rhs_end"], len(rhs), "rhs"))


@shape_rule("reshape_like")
def _reshape_like(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The lhs axes lhs_begin..lhs_end take the sizes of the rhs axes rhs_begin..rhs_end."""
    lhs, rhs = shapes
    (lb, le), (rb, re) = reshape_like_ranges(node.attrs, lhs, rhs)
    out = (*lhs[:lb], *rhs[rb:re], *lhs[le:])
    if math.prod(out) != math.prod(lhs):
        raise ShapeError(f"cannot reshape {lhs} to {out}")
    return [out]


def _broadcast_sizes(data: Shape, target: list[int], what: str) -> Shape:
    """``data`` broadcast to ``target`` of equal rank (only axes of size 1 change)."""
    if any(size != want and size != 1 for size, want in zip(data, target)):
        raise ShapeError(f"data of shape {data} does not broadcast to {tuple(target)} ({what})")
    return tuple(target)


@shape_rule("broadcast_to")
def _broadcast_to(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, shape = shapes[0], node.attrs["shape"]
    if len(shape) != len(data) or any(size is None or size < 0 for size in shape):
        raise ShapeError(f"shape {shape} does not fit {len(data)}-D data")
    return [_broadcast_sizes(data, [size or old for size, old in zip(shape, data)], f"shape {shape}")]


@shape_rule("broadcast_axis")
def _broadcast_axis(node: Node, shapes: list[Shape]) -> list[Shape]:
    a, data = node.attrs, shapes[0]
    if len(a["axis"]) != len(a["size"]) or any(size is None or size < 0 for size in a["size"]):
        raise ShapeError(f"axis {a['axis']} and size {a['size']} do not pair up")
    target = list(data)
    for axis, size in zip(_axes_within(a["axis"], len(data)), a["size"]):
        target[axis] = size
    return [_broadcast_sizes(data, target, f"axis {a['axis']}")]


def broadcast_like_sources(attrs: dict, lhs: Shape, rhs: Shape) -> dict[int, int]:
    """``broadcast_like``'s lhs axes -> the rhs axes whose sizes they take (every axis without ``lhs_axes``)."""
    if attrs["lhs_axes"] is None or attrs["rhs_axes"] is None:
        if len(lhs) != len(rhs):
            raise ShapeError(f"inputs of shapes {lhs} and {rhs}: broadcast_like needs equal ranks")
        return {axis: axis for axis in range(len(lhs))}
    if len(attrs["lhs_axes"]) != len(attrs["rhs_axes"]) or not attrs["lhs_axes"]:
        raise ShapeError(f"lhs_axes {attrs['lhs_axes']} and rhs_axes {attrs['rhs_axes']} do not pair up")
    sources = dict(zip([axis_index(i, len(lhs), "lhs_axes") for i in attrs["lhs_axes"]],
                       [axis_index(i, len(rhs), "rhs_axes") for i in attrs["rhs_axes"]]))
    for to in sources:
        if lhs[to] != 1:
            raise ShapeError(f"lhs axis {to} of size {lhs[to]} cannot broadcast")
    return sources


@shape_rule("broadcast_like")
def _broadcast_like(node: Node, shapes: list[Shape]) -> list[Shape]:
    lhs, rhs = shapes
    target = list(lhs)
    for to, source in broadcast_like_sources(node.attrs, lhs, rhs).items():
        target[to] = rhs[source]
    return [_broadcast_sizes(lhs, target, f"like {rhs}")]


def tile_reps(reps: tuple | None, rank: int) -> tuple[list[int], list[int]]:
    """``tile``'s data shape prefix and repetitions of one length: the shorter is padded with leading 1s (``reps``
    None: none)."""
    reps = reps or ()
    if any(r is None or r < 0 for r in reps):
        raise ShapeError(f"reps {reps} must be sizes")
    length = max(len(reps), rank)
    return [1] * (length - rank), [1] * (length - len(reps)) + list(reps)


@shape_rule("tile")
def _tile(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    ones, reps = tile_reps(node.attrs["reps"], len(data))
    return [tuple(size * r for size, r in zip((*ones, *data), reps))]


@shape_rule("repeat")
def _repeat(node: Node, shapes: list[Shape]) -> list[Shape]:
    a, data = node.attrs, shapes[0]
    if a["repeats"] < 0:
        raise ShapeError(f"repeats {a['repeats']} must be at least 0")
    if a["repeats"] == 0:  # MXNet returns an empty tensor
        return [(0,)]
    if a["axis"] is None:
        return [(math.prod(data) * a["repeats"],)]
    out = list(data)
    out[axis_index(a["axis"], len(data))] *= a["repeats"]
    return [tuple(out)]


def stack_overrun(node: Node) -> str | None:
    """Why a stack is not converted: MXNet stacks ``num_args`` inputs, reading past the given ones (undefined
    values) where there are fewer; of more it takes the first ``num_args``."""
    if node.attrs["num_args"] <= len(node.inputs):
        return None
    return f"num_args={node.attrs['num_args']} with {len(node.inputs)} inputs (MXNet reads past them)"


@shape_rule("stack")
def _stack(node: Node, shapes: list[Shape]) -> list[Shape]:
    count = node.attrs["num_args"]
    if any(shape != shapes[0] for shape in shapes[:count]):
        raise ShapeError(f"inputs of shapes {shapes[:count]} differ")
    out = list(shapes[0])
    out.insert(expand_dims_axis(node.attrs["axis"], len(out)), count)
    return [tuple(out)]


def split_bounds(attrs: dict, data: Shape) -> tuple[int, list[tuple[int, int]]]:
    """``_split_v2``: the axis and each output's (start, stop) on it; ``sections`` makes the first
    ``size % sections`` parts one longer, ``indices`` start each part (what lies before the first is dropped)."""
    axis = axis_index(attrs["axis"], len(data))
    size = data[axis]
    if attrs["sections"] > 0:
        small, extra = divmod(size, attrs["sections"])
        starts = [i * small + min(i, extra) for i in range(attrs["sections"])]
    elif attrs["indices"] and attrs["indices"][0] == 0:  # MXNet's shape inference refuses another start
        starts = list(attrs["indices"])
    else:
        raise ShapeError(f"sections {attrs['sections']} and indices {attrs['indices']} split nothing")
    bounds = list(zip(starts, starts[1:] + [size]))
    if any(start is None or not 0 <= start <= stop <= size for start, stop in bounds):  # MXNet: empty parts
        raise ShapeError(f"indices {tuple(starts)} do not split an axis of size {size}")
    if attrs["squeeze_axis"] and any(stop - start != 1 for start, stop in bounds):
        raise ShapeError("squeeze_axis needs parts of size 1")
    return axis, bounds


@shape_rule("_split_v2")
def _split_v2(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axis, bounds = split_bounds(node.attrs, data)
    if node.spelling == "_npi_dsplit" and (len(data) < 3 or axis != 2):
        # MXNet shapes the parts as splits of axis 2 and its kernel splits ``axis`` into them: garbage, or writes
        # past the parts where their sizes differ
        raise ShapeError(f"dsplit along axis {axis} of {len(data)}: MXNet's shape (of axis 2) and kernel disagree")
    outs = []
    for start, stop in bounds:
        part = [*data[:axis], stop - start, *data[axis + 1:]]
        if node.attrs["squeeze_axis"]:  # 1-D data splits into scalars
            del part[axis]
        outs.append(tuple(part))
    return outs


def swapped_axes(attrs: dict, rank: int) -> list[int]:
    """``SwapAxis``' permutation of ``rank`` axes."""
    perm = list(range(rank))
    first, second = axis_index(attrs["dim1"], rank, "dim1"), axis_index(attrs["dim2"], rank, "dim2")
    perm[first], perm[second] = second, first
    return perm


@shape_rule("SwapAxis")
def _swap_axis(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [tuple(shapes[0][i] for i in swapped_axes(node.attrs, len(shapes[0])))]


def reversed_axes(axis: tuple, rank: int) -> list[int]:
    """The axes ``reverse`` flips: an axis listed twice flips back (MXNet refuses negative axes)."""
    if any(i is None or not 0 <= i < rank for i in axis):
        raise ShapeError(f"axis {axis} is out of range for {rank}-D data")
    return [i for i in range(rank) if axis.count(i) % 2]


@shape_rule("reverse")
def _reverse(node: Node, shapes: list[Shape]) -> list[Shape]:
    reversed_axes(node.attrs["axis"], len(shapes[0]))
    return [shapes[0]]


@shape_rule("depth_to_space", "space_to_depth")
def _depth_space(node: Node, shapes: list[Shape]) -> list[Shape]:
    """NCHW data; depth_to_space moves channel blocks into block x block patches (MXNet's DCR order)."""
    data, block = shapes[0], node.attrs["block_size"]
    if len(data) != 4:
        raise ShapeError(f"data of shape {data}: {node.op} takes 4-D NCHW data")
    n, c, h, w = data
    if node.op == "depth_to_space":
        if c % (block * block):
            raise ShapeError(f"{c} channels do not split into blocks of {block}x{block}")
        return [(n, c // (block * block), h * block, w * block)]
    if h % block or w % block:
        raise ShapeError(f"height {h} and width {w} are not multiples of block_size {block}")
    return [(n, c * block * block, h // block, w // block)]


def cast_overflow_bound(dtype: str) -> float:
    """MXNet's Cast of floats to an integer type converts as C does on x86: values of at least this magnitude,
    and NaN, become its negative (int32's for int8, uint8 and int32, whose low bits narrower types keep)."""
    return 2.0 ** 63 if dtype == "int64" else 2.0 ** 31


def amp_cast_refusal(node: Node) -> str | None:
    """Why an amp_cast is not converted: MXNet's result for bfloat16 and integer types follows its backend (with
    MKLDNN, the CPU default, it rounds to nearest and saturates, copies the float bits for int32 after another op
    or fails; without, it truncates like Cast). None for float16, float32 and float64."""
    dtype = node.attrs["dtype"]
    if node.op != "amp_cast" or dtype in ("float16", "float32", "float64"):
        return None
    return f"amp_cast to {dtype} (MXNet's result depends on its MKLDNN backend)"


def multicast_dtypes(types: list[str], cast_narrow: bool) -> list[str]:
    """amp_multicast's output types: its float16, float32 and bfloat16 inputs take one type (float32 where one is
    float32, else the first input's; with ``cast_narrow`` the last of float16 and bfloat16 among them, else
    float32), the others keep theirs."""
    amp = ("float16", "float32", "bfloat16")
    target = "float32" if cast_narrow else types[0]
    for dtype in types:
        if cast_narrow and dtype in ("float16", "bfloat16") or not cast_narrow and dtype == "float32":
            target = dtype
    return [target if dtype in amp else dtype for dtype in types]


# --- MXNet's NumPy interface (``mx.np``/``mx.npx``): spellings of the ops above, and the NumPy moves they lack --
def _numpy_axes(text: str) -> str:
    """A NumPy ``axis`` string (``"1"``, ``"(0, -1)"``, ``"None"``) as a shape string; None stays ``"None"``."""
    text = text.strip()
    return text if text == "None" or text[:1] in "([" else f"({text},)"


def numpy_reshape(attrs: dict[str, str]) -> dict[str, str]:
    """``np.reshape``'s ``newshape`` onto Reshape's ``shape``: sizes and one -1 (a 0 is a zero-size axis in
    NumPy, a copied one in Reshape: refused)."""
    if attrs.pop("order", "C") != "C":
        raise ValueError("order other than 'C'")
    shape = parse_shape(attrs.pop("newshape"))
    if any(size is None or size == 0 or size < -1 for size in shape):
        raise ValueError(f"newshape {shape}: only sizes above 0 and -1 are converted")
    return {**attrs, "shape": str(shape)}


_NPX_CODES = {-2: 0, -4: -2, -5: -3, -6: -4}  # npx.reshape's special codes -> Reshape's


def numpyx_reshape(attrs: dict[str, str]) -> dict[str, str]:
    """``npx.reshape``'s codes onto Reshape's (-2 copies, -4 copies the rest, -5 merges two axes, -6 splits one,
    -1 infers); -3 (drop an axis of size 1) and a -1 after a -6 (MXNet places the inferred size by output
    axis, Reshape by code) are refused."""
    if attrs.pop("order", "C") != "C":
        raise ValueError("order other than 'C'")
    shape = parse_shape(attrs.pop("newshape"))
    reading = shape[::-1] if parse_bool(attrs.get("reverse", "False")) else shape
    codes, i = [], 0
    while i < len(reading):
        code = reading[i]
        if code is None or code == -3 or code < -6 or code == 0:
            raise ValueError(f"newshape {shape}: code {code} is not converted")
        if code == -6:
            if -1 in reading[i + 3:]:
                raise ValueError(f"newshape {shape}: a -1 after a -6 is not converted")
            codes += [-4, *reading[i + 1:i + 3]]
            i += 3
            continue
        codes.append(_NPX_CODES.get(code, code))
        i += 1
    if parse_bool(attrs.get("reverse", "False")):
        codes = codes[::-1]
    return {**attrs, "shape": str(tuple(codes))}


def numpy_transpose(attrs: dict[str, str]) -> dict[str, str]:
    """``np.transpose``'s ``axes`` (None: reversed; negative axes count from the end of the full permutation)."""
    axes = attrs.pop("axes", "None")
    if axes.strip() == "None":
        return attrs
    values = parse_shape(axes)
    if any(axis is None for axis in values):
        raise ValueError(f"axes {values}")
    return {**attrs, "axes": str(tuple(axis % len(values) if axis < 0 else axis for axis in values))}


def numpy_squeeze(attrs: dict[str, str]) -> dict[str, str]:
    """``np.squeeze``'s int or tuple ``axis``; every axis squeezed gives a 0-d tensor (``keep_one`` False)."""
    return {**attrs, "axis": _numpy_axes(attrs.get("axis", "None")), "keep_one": "False"}


def numpy_concatenate(attrs: dict[str, str]) -> dict[str, str]:
    """``np.concatenate``'s ``axis`` onto Concat's ``dim``; None (every input flattened first) is refused."""
    if attrs.get("axis", "0").strip() == "None":
        raise ValueError("axis None: MXNet 1.9.1 infers its inputs as 1-D in a graph and runs no other")
    return {"num_args": attrs["num_args"], "dim": attrs.get("axis", "0")}


alias("_np_reshape", "Reshape", normalise=numpy_reshape)
alias("_npi_reshape", "Reshape", normalise=numpy_reshape)
alias("_npx_reshape", "Reshape", normalise=numpyx_reshape)
alias("_np_transpose", "transpose", normalise=numpy_transpose)
alias("_np_squeeze", "squeeze", normalise=numpy_squeeze)
alias("_npi_stack", "stack")
alias("_npi_dsplit", "_split_v2")
alias("_npi_concatenate", "Concat", normalise=numpy_concatenate)
# column_stack: axis 1; MXNet 1.9.1 fails on the 1-D inputs it would make columns of, as Concat does
alias("_npi_column_stack", "Concat", normalise=lambda attrs: {"num_args": attrs["num_args"], "dim": "1"})

_AXES = (optional(parse_shape), None)
_NUM_ARGS = (COUNT, REQUIRED)
define({
    "_npi_flip": OpDef({"axis": _AXES}),
    "_np_moveaxis": OpDef({"source": (parse_shape, REQUIRED), "destination": (parse_shape, REQUIRED)}),
    "_npi_broadcast_to": OpDef({"shape": SHAPE_EMPTY}),
    "_np_roll": OpDef({"shift": _AXES, "axis": _AXES}),
    "_npi_rot90": OpDef({"k": (parse_int, 1), "axes": (parse_shape, (0, 1))}),
    **{f"_np_atleast_{n}d": OpDef({"num_args": _NUM_ARGS}, outputs=lambda a: a["num_args"]) for n in (1, 2, 3)},
    "_npi_vstack": OpDef({"num_args": _NUM_ARGS}),
    # read, and refused in both targets: MXNet 1.9.1 cannot infer their shapes in a graph
    "_npi_hstack": OpDef({"num_args": _NUM_ARGS}),
    "_npi_dstack": OpDef({"num_args": _NUM_ARGS}),
    "_npi_hsplit": OpDef(OPS_SPLIT_ATTRS, outputs=lambda a: a["sections"] if a["sections"] > 0 else len(a["indices"])),
    "_npi_diff": OpDef({"n": (in_range(parse_int, 0), 1), "axis": (parse_int, -1)}),
    "_npi_ediff1d": OpDef({"to_begin_arr_given": (parse_bool, False), "to_end_arr_given": (parse_bool, False),
                           "to_begin_scalar": (optional(parse_float), None), "to_end_scalar": (optional(parse_float), None)}),
    # read, and refused in both targets: MXNet 1.9.1 binds no graph holding it (its output is sized when it runs)
    "_npi_delete": OpDef({key: (optional(parse_int), None) for key in ("start", "stop", "step", "int_ind", "axis")}),
})


UNRUNNABLE_OPS = ("_npi_hstack", "_npi_dstack", "_npi_delete")


def unrunnable_refusal(node: Node, *context: object) -> str:
    """Why ``hstack``, ``dstack`` and ``delete`` are not converted (a registry ``check``)."""
    return "MXNet 1.9.1 cannot infer its shapes in a graph (no reference to convert)"


def flipped_axes(node: Node, rank: int) -> list[int]:
    """The axes a NumPy ``flip`` reverses (every axis for None); ``reverse``'s for MXNet's own op."""
    if node.op == "reverse":
        return reversed_axes(node.attrs["axis"], rank)
    axis = node.attrs["axis"]
    return list(range(rank)) if axis is None else reversed_axes(axis, rank)  # no negative axes, as in MXNet


def moveaxis_permutation(attrs: dict, rank: int) -> list[int]:
    """``np.moveaxis``: the permutation that puts each ``source`` axis at its ``destination``."""
    source, destination = _axes_within(attrs["source"], rank, "source"), \
        _axes_within(attrs["destination"], rank, "destination")
    if len(source) != len(destination):
        raise ShapeError(f"source {attrs['source']} and destination {attrs['destination']} differ in length")
    order = [axis for axis in range(rank) if axis not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return order


def numpy_broadcast_shape(data: Shape, shape: tuple) -> Shape:
    """``np.broadcast_to``: ``data`` aligned on the trailing axes of ``shape`` (leading axes added), sizes 1
    stretched; a -1 keeps the data's size (MXNet's NumPy reading of an unknown size)."""
    if len(shape) < len(data) or any(size is None or size < -1 for size in shape):
        raise ShapeError(f"data of shape {data} does not broadcast to {shape}")
    lead = len(shape) - len(data)
    target = [old if size == -1 and i >= lead else size for i, (size, old) in
              enumerate(zip(shape, (None,) * lead + tuple(data)))]
    if any(size < 0 for size in target) or any(old not in (1, new) for old, new in zip(data, target[lead:])):
        raise ShapeError(f"data of shape {data} does not broadcast to {shape}")
    return tuple(target)


def roll_shifts(attrs: dict, data: Shape) -> list[tuple[int, int]]:
    """``np.roll``: (axis, shift in 0..size-1) per rolled axis; without ``axis`` the flattened data's (axis -1)."""
    shift, axis = attrs["shift"], attrs["axis"]
    if shift is None or any(value is None for value in shift):
        raise ShapeError("roll needs a shift")
    if axis is None:
        if len(shift) != 1:
            raise ShapeError(f"shift {shift} without axis: one shift rolls the flattened data")
        return [(-1, shift[0] % max(math.prod(data), 1))]
    if len(shift) not in (1, len(axis)):
        raise ShapeError(f"shift {shift} and axis {axis} differ in length")
    shifts = shift * len(axis) if len(shift) == 1 else shift
    return [(index, value % data[index]) for index, value in zip(_axes_within(axis, len(data)), shifts)
            if value % data[index]]


def rot90_steps(attrs: dict, rank: int) -> tuple[list[int], list[int] | None]:
    """``np.rot90`` as the axes flipped first and the permutation applied after (None: none): k = 1 flips the
    second axis and swaps the two, k = 3 flips the first and swaps, k = 2 flips both."""
    axes = attrs["axes"]
    if len(axes) != 2:
        raise ShapeError(f"axes {axes} must name two axes")
    first, second = (axis_index(axis, rank, "axes") for axis in axes)
    if first == second:
        raise ShapeError(f"axes {axes} name one axis twice")
    k = attrs["k"] % 4
    swap = list(range(rank))
    swap[first], swap[second] = second, first
    if k == 0:
        return [], None
    if k == 2:
        return [first, second], None
    return [second if k == 1 else first], swap


def atleast_axes(op: str, rank: int) -> list[int]:
    """The axes ``np.atleast_<n>d`` inserts into data of ``rank`` axes: 0-d gains every axis, 1-D data a leading
    one (and a trailing one for 3-D), 2-D a trailing one."""
    ndim = int(op[len("_np_atleast_")])
    inserted = {0: list(range(ndim)), 1: [0, 2][:ndim - 1], 2: [2][:ndim - 2]}
    return inserted.get(rank, [])


def stacked_parts(op: str, shapes: list[Shape]) -> tuple[list[list[int]], int]:
    """``vstack``: the axes each input gains (``atleast_2d``'s) and the axis they are concatenated on."""
    return [atleast_axes("_np_atleast_2d", len(shape)) for shape in shapes], 0


def hsplit_attrs(attrs: dict, rank: int) -> dict:
    """``np.hsplit`` splits axis 1, or axis 0 of 1-D data: ``_split_v2``'s attributes for that."""
    return {**attrs, "axis": 1 if rank > 1 else 0}


def _inserted(shape: Shape, axes: list[int]) -> Shape:
    out = list(shape)
    for axis in axes:
        out.insert(axis, 1)
    return tuple(out)


@shape_rule("_npi_flip")
def _flip(node: Node, shapes: list[Shape]) -> list[Shape]:
    flipped_axes(node, len(shapes[0]))
    return [shapes[0]]


@shape_rule("_np_moveaxis")
def _moveaxis(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [tuple(shapes[0][i] for i in moveaxis_permutation(node.attrs, len(shapes[0])))]


@shape_rule("_npi_broadcast_to")
def _numpy_broadcast_to(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [numpy_broadcast_shape(shapes[0], node.attrs["shape"])]


@shape_rule("_np_roll")
def _roll(node: Node, shapes: list[Shape]) -> list[Shape]:
    roll_shifts(node.attrs, shapes[0])
    return [shapes[0]]


@shape_rule("_npi_rot90")
def _rot90(node: Node, shapes: list[Shape]) -> list[Shape]:
    _, swap = rot90_steps(node.attrs, len(shapes[0]))
    return [tuple(shapes[0][i] for i in swap) if swap else shapes[0]]


@shape_rule("_np_atleast_1d", "_np_atleast_2d", "_np_atleast_3d")
def _atleast(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [_inserted(shape, atleast_axes(node.op, len(shape))) for shape in shapes]


@shape_rule("_npi_vstack")
def _numpy_stack(node: Node, shapes: list[Shape]) -> list[Shape]:
    inserted, axis = stacked_parts(node.op, shapes)
    return [_concatenated([_inserted(shape, axes) for shape, axes in zip(shapes, inserted)], axis)]


@shape_rule("_npi_hsplit")
def _hsplit(node: Node, shapes: list[Shape]) -> list[Shape]:
    if not shapes[0]:
        raise ShapeError("hsplit takes data of 1 or more axes")
    return _split_v2(Node(node.name, "_split_v2", hsplit_attrs(node.attrs, len(shapes[0])), node.inputs,
                          node.num_outputs), shapes)


# NumPy's triangles and diagonals: values moved, or zeros
_DIAGONAL_AXES = {"offset": (parse_int, 0), "axis1": (parse_int, 0), "axis2": (parse_int, 1)}
define({
    "_npi_tril": OpDef({"k": (parse_int, 0)}),
    "_np_diag": OpDef({"k": (parse_int, 0)}),
    "_np_diagflat": OpDef({"k": (parse_int, 0)}),
    "_np_diagonal": OpDef(_DIAGONAL_AXES),
    "_np_trace": OpDef(_DIAGONAL_AXES),
    "diag": OpDef({"k": (parse_int, 0), "axis1": (parse_int, 0), "axis2": (parse_int, 1)}),
})
DIAGONAL_OPS = ("_npi_tril", "_np_diag", "_np_diagflat", "_np_diagonal", "_np_trace", "diag")


def diagonal_positions(node: Node, data: Shape) -> np.ndarray:
    """Where each output value of a triangle or diagonal op is read in the flattened data; the data's size
    marks a zero. ``trace`` sums the last axis of its positions (the diagonal's)."""
    a = node.attrs
    size = math.prod(data)
    source = np.arange(1, size + 1, dtype=np.int64).reshape(data)
    if node.op == "_npi_tril":
        if not data:
            raise ShapeError("tril takes data of 1 or more axes")
        picked = np.tril(source, a["k"])
    elif node.op == "_np_diag":
        if len(data) not in (1, 2):
            raise ShapeError(f"diag takes 1-D or 2-D data, not of shape {data}")
        picked = np.diag(source, a["k"])
    elif node.op == "_np_diagflat":
        picked = np.diagflat(source, a["k"])
    elif node.op == "diag" and len(data) == 1:  # MXNet's own diag: NumPy's diag of a vector, else its diagonal
        picked = np.diag(source, a["k"])
    else:
        if len(data) < 2:
            raise ShapeError(f"{node.op} takes data of 2 or more axes, not of shape {data}")
        axes = [axis_index(a[key], len(data), key) for key in ("axis1", "axis2")]
        if axes[0] == axes[1]:
            raise ShapeError(f"axis1 and axis2 name one axis ({axes[0]})")
        picked = np.diagonal(source, a["k"] if node.op == "diag" else a["offset"], *axes)
    if 0 in picked.shape:
        raise ShapeError(f"{node.op} of data of shape {data} is empty: empty output refused")
    return np.where(picked == 0, size, picked - 1)


@shape_rule(*DIAGONAL_OPS)
def _diagonal(node: Node, shapes: list[Shape]) -> list[Shape]:
    positions = diagonal_positions(node, shapes[0])
    return [positions.shape[:-1] if node.op == "_np_trace" else positions.shape]


def diff_terms(attrs: dict, data: Shape) -> tuple[int, int, list[tuple[int, int]]]:
    """NumPy's ``diff`` as MXNet computes it: the axis, the output's length along it (0 where ``n`` reaches the
    axis's size) and, from the ``n``-th shifted slice down to the first, each slice's start and its binomial
    coefficient of alternating sign, summed in that order."""
    axis = axis_index(attrs["axis"], len(data))
    n, length = attrs["n"], max(data[axis] - attrs["n"], 0)
    return axis, length, [(k, (-1) ** (n - k) * math.comb(n, k)) for k in range(n, -1, -1)]


@shape_rule("_npi_diff")
def _diff(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axis, length, _ = diff_terms(node.attrs, data)
    return [(*data[:axis], length, *data[axis + 1:])]


Addition = tuple[str, float]  # ("input", its index) or ("scalar", its value)


def ediff1d_ends(attrs: dict) -> tuple[Addition | None, Addition | None]:
    """What ``ediff1d`` puts before and after the differences of the flattened data: an input (flattened), a
    scalar (in the data's type) or nothing; an array given wins over a scalar, as in MXNet."""
    ends, index = [], 1
    for side in ("to_begin", "to_end"):
        if attrs[f"{side}_arr_given"]:
            ends.append(("input", index))
            index += 1
        else:
            ends.append(None if attrs[f"{side}_scalar"] is None else ("scalar", attrs[f"{side}_scalar"]))
    return ends[0], ends[1]


@shape_rule("_npi_ediff1d")
def _ediff1d(node: Node, shapes: list[Shape]) -> list[Shape]:
    ends = ediff1d_ends(node.attrs)
    if len(shapes) != 1 + sum(end is not None and end[0] == "input" for end in ends):
        raise ShapeError(f"ediff1d with {len(shapes)} inputs: its attributes give another count of arrays")
    added = sum(math.prod(shapes[int(end[1])]) if end[0] == "input" else 1 for end in ends if end is not None)
    return [(max(math.prod(shapes[0]) - 1, 0) + added,)]


# NumPy's insert: an int index (``_scalar``), a slice's indices (``_slice``) or an index tensor (``_tensor``, int64,
# read when the model runs); values as an input, or a ``val`` attribute
define({f"_npi_insert_{form}": OpDef({"val": (optional(parse_float), None),
                                      **{key: (optional(parse_int), None)
                                         for key in ("start", "stop", "step", "int_ind", "axis")}})
        for form in ("scalar", "slice", "tensor")})
INSERT_OPS = ("_npi_insert_scalar", "_npi_insert_slice", "_npi_insert_tensor")


@dataclass(frozen=True)
class InsertLayout:
    """How MXNet inserts: into ``data`` (the data's shape, flattened where ``axis`` is None) along ``axis``, the
    values (``values``: their shape with the data's rank; None for the ``val`` scalar) with their first axis
    moved to ``axis`` where ``moved`` (NumPy's int index) and broadcast to ``block`` (the data's shape with the
    inserted count along ``axis``); ``positions``: where the block's rows land in the output, known before the
    model runs (None for an index tensor); ``single``: one index, the whole block inserted before it."""

    data: Shape
    axis: int
    values: Shape | None
    moved: list[int] | None
    block: Shape
    positions: list[int] | None
    single: bool


def _values_with_rank(values: Shape, rank: int) -> Shape:
    """The values' shape with the data's rank, as MXNet aligns it: leading 1s added, or leading 1s dropped."""
    extra = len(values) - rank
    if extra > 0 and any(size != 1 for size in values[:extra]):
        raise ShapeError(f"values of shape {values} have more axes than the data's {rank} that are not 1")
    return (1,) * -extra + tuple(values[max(extra, 0):])


def _slice_indices(attrs: dict, n: int) -> list[int]:
    """The indices of an insert's slice along an axis of ``n``, bounds clipped as MXNet clips them."""
    step = attrs["step"] if attrs["step"] is not None else 1
    if step == 0:
        raise ShapeError("slice step 0")
    bounds = []
    for key, default in (("start", 0 if step > 0 else n - 1), ("stop", n if step > 0 else -1)):
        value = attrs[key]
        if value is None:
            bounds.append(default)
            continue
        value += n if value < 0 else 0
        value = (-1 if step < 0 else 0) if value < 0 else value
        bounds.append((n - 1 if step < 0 else n) if value >= n else value)
    return list(range(bounds[0], bounds[1], step))


def insert_layout(node: Node, shapes: list[Shape]) -> InsertLayout:
    """MXNet's insert of the node's inputs; ShapeError where MXNet 1.9.1 fails or writes what it did not size."""
    a = node.attrs
    if a["axis"] is None:
        data, axis = (math.prod(shapes[0]),), 0
    elif not shapes[0]:
        raise ShapeError("insert into 0-d data along an axis: not converted")
    else:
        data, axis = tuple(shapes[0]), axis_index(a["axis"], len(shapes[0]))
    values = None if a["val"] is not None else _values_with_rank(shapes[1], len(data))
    n, positions = data[axis], None
    if node.op == "_npi_insert_scalar":
        index = a["int_ind"] or 0
        if not -n <= index <= n:
            raise ShapeError(f"index {index} is out of range for an axis of {n}")
        indices, moved = [index + n if index < 0 else index], True
    elif node.op == "_npi_insert_slice":
        indices, moved = _slice_indices(a, n), False
    else:
        obj = shapes[-1]
        if len(obj) > 1:
            raise ShapeError(f"an index tensor of shape {obj}: one axis at most")
        indices, moved = None, not obj
    count = len(indices) if indices is not None else math.prod(shapes[-1])
    single = moved or count == 1
    if a["val"] is not None and not (single and len(data) == 1):
        raise ShapeError("a scalar val inserted " + ("into data of 2 or more axes" if single else "at several indices")
                         + ": MXNet 1.9.1 fails on it")
    aligned = values or (1,) * len(data)
    if moved and node.op == "_npi_insert_tensor" and aligned[0] != aligned[axis]:
        raise ShapeError(f"values of shape {aligned} at a 0-d index: MXNet 1.9.1 sizes the output by their axis "
                         f"{axis} and fills it by their axis 0")
    numnew = (aligned[0] if moved else aligned[axis]) if single else count
    block = (*data[:axis], numnew, *data[axis + 1:])
    order = [*range(1, axis + 1), 0, *range(axis + 1, len(data))] if moved else list(range(len(data)))
    if any(aligned[i] not in (1, size) for i, size in zip(order, block)):
        raise ShapeError(f"values of shape {aligned} do not broadcast to the inserted {block}")
    if indices is not None:
        positions = insert_positions(np.array(indices, np.int64), numnew, single).tolist()
    return InsertLayout(data, axis, values, order if moved and order != sorted(order) else None, block,
                        positions, single)


def insert_positions(indices: np.ndarray, numnew: int, single: bool) -> np.ndarray:
    """Where the inserted rows land in the output: a block of ``numnew`` before the one index, or each row
    before its index, shifted by the rows before it (ties in the given order)."""
    if single:
        return indices[0] + np.arange(numnew)
    ranks = np.empty(len(indices), np.int64)
    ranks[np.argsort(indices, kind="stable")] = np.arange(len(indices))
    return indices + ranks


def insert_sources(positions: list[int], n: int) -> list[int]:
    """For each output row, its row in the data and the inserted block joined (the block's rows after the
    data's ``n``)."""
    sources = [-1] * (n + len(positions))
    for row, position in enumerate(positions):
        sources[position] = n + row
    kept = iter(range(n))
    return [source if source >= 0 else next(kept) for source in sources]


@shape_rule(*INSERT_OPS)
def _insert(node: Node, shapes: list[Shape]) -> list[Shape]:
    layout = insert_layout(node, shapes)
    data, axis = layout.data, layout.axis
    return [(*data[:axis], data[axis] + layout.block[axis], *data[axis + 1:])]
