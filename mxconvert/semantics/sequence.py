"""Sequence ops: SequenceMask, SequenceReverse and SequenceLast over axis 0 (time, batch, ...) or axis 1
(batch, time, ...), with per-batch lengths; ``_contrib_hawkesll``, the log-likelihood of sequences of marked events
(batch, time) under Hawkes processes."""
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
HAWKES_INPUTS = ("lda", "alpha", "beta", "state", "lags", "marks", "valid_length", "max_time")
# K processes: background intensities lda (N, K), branching ratios alpha and decays beta (K,), their states (N, K);
# N sequences of T events: times since the previous event (lags) and their processes (marks, int32), the first
# valid_length of each read; max_time (N,) ends each observation. Outputs: the log-likelihood (N,) and the states
# at max_time (N, K)
define({"_contrib_hawkesll": OpDef(input_names=lambda a: HAWKES_INPUTS, outputs=lambda a: 2)})


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


@shape_rule("_contrib_hawkesll")
def _hawkesll(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The ranks and sizes MXNet checks: lda, state (N, K); alpha, beta (K,); lags, marks (N, T); valid_length,
    max_time (N,)."""
    if len(shapes[4]) != 2 or len(shapes[0]) != 2:
        raise ShapeError(f"lda has shape {shapes[0]} and lags {shapes[4]}: both take two axes")
    (n, t), k = shapes[4], shapes[0][1]
    expected = {"lda": (n, k), "alpha": (k,), "beta": (k,), "state": (n, k), "marks": (n, t), "valid_length": (n,),
                "max_time": (n,)}
    for name, shape in zip(HAWKES_INPUTS, shapes):
        if name in expected:
            expect(shape, expected[name], name)
    return [(n,), (n, k)]
