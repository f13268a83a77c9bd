"""Sequence ops: SequenceMask, SequenceReverse and SequenceLast over axis 0 (time, batch, ...) or axis 1
(batch, time, ...), with per-batch lengths."""
from __future__ import annotations

from ..ir import Node
from .rules import Shape, ShapeError, expect, shape_rule
from .schema import OpDef, alias, define, parse_bool, parse_float32, parse_int

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
_SEQUENCE_AXIS = {"use_sequence_length": (parse_bool, False), "axis": (parse_int, 0)}


define({
    "SequenceMask": OpDef({**_SEQUENCE_AXIS, "value": (parse_float32, 0.0)}),
    "SequenceReverse": OpDef(_SEQUENCE_AXIS),
    "SequenceLast": OpDef(_SEQUENCE_AXIS),
})


alias("_npx_sequence_mask", "SequenceMask")


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
def sequence_axes(node: Node, shapes: list[Shape]) -> tuple[int, int]:
    """The sequence and batch axes of a Sequence* op, checked as MXNet does (axis 0 or 1, Reverse 0 only;
    2-D data or more; a (batch,) length input exactly when ``use_sequence_length``)."""
    axis, data = node.attrs["axis"], shapes[0]
    allowed = (0,) if node.op == "SequenceReverse" else (0, 1)
    if axis not in allowed:
        raise ShapeError(f"axis {axis}: MXNet's {node.op} takes axis {' or '.join(map(str, allowed))}")
    if len(data) < 2:
        raise ShapeError(f"data has shape {data}: {node.op} takes 2-D data or more")
    use_length = node.attrs["use_sequence_length"]
    if len(shapes) != 1 + use_length:
        raise ShapeError(f"use_sequence_length={use_length} takes {1 + use_length} inputs, not {len(shapes)}")
    if use_length:
        expect(shapes[1], (data[1 - axis],), "sequence_length")
    return axis, 1 - axis


@shape_rule("SequenceMask", "SequenceReverse")
def _sequence_same(node: Node, shapes: list[Shape]) -> list[Shape]:
    sequence_axes(node, shapes)
    return [shapes[0]]


@shape_rule("SequenceLast")
def _sequence_last(node: Node, shapes: list[Shape]) -> list[Shape]:
    axis, _ = sequence_axes(node, shapes)
    return [tuple(size for i, size in enumerate(shapes[0]) if i != axis)]
