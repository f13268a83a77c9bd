"""Sequence ops: SequenceMask, SequenceReverse and SequenceLast over axis 0 (time, batch, ...) or axis 1
(batch, time, ...), with per-batch lengths truncated to integers as MXNet reads them (``semantics.sequence.sequence_axes``).
MXNet reads outside the data for a length of 0 (Last, Reverse) or past the sequence (Reverse): lengths are clamped
to the sequence there. ``_contrib_hawkesll``: MXNet's loop over the time steps, unrolled."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from ..errors import NotExpressible
from ..ir import Node
from ..semantics.sequence import sequence_axes
from .context import EmitContext
from .registry import register


def _positions_and_lengths(ctx: EmitContext, node: Node) -> tuple[str, str, str]:
    """Positions along the sequence axis and whole lengths along the batch axis (floats, exact below 2 ** 24;
    a negative length floors to -1 where MXNet truncates to 0: either masks every step and is clamped to 0
    where indexed), shaped to broadcast against the data; and the last step's position. A dynamic sequence axis
    is read from the data at run time."""
    shape = ctx.shape(0)
    axis, batch_axis = sequence_axes(node, [shape, ctx.shape(1)])
    if ctx.batch_dynamic and node.inputs[1].node in ctx.graph.params:
        raise NotExpressible("a dynamic batch with lengths stored in the model")
    along = [1] * len(shape)
    along[axis] = -1
    positions = ctx.positions(0, axis, along, ctx.float_type)
    steps = ctx.axis_size(0, axis, ctx.float_type)
    last = ctx.const(float(steps - 1), "last") if isinstance(steps, int) else \
        ctx.add("Sub", [steps, ctx.const(1.0, "one")])
    across = [1] * len(shape)
    across[batch_axis] = -1
    lengths = ctx.add("Floor", [ctx.add("Cast", [ctx.input(1)], to=helper.np_dtype_to_tensor_dtype(ctx.float_type))])
    return positions, ctx.reshape(lengths, across), last


@register("SequenceMask")
def sequence_mask(ctx: EmitContext, node: Node) -> None:
    if not node.attrs["use_sequence_length"]:
        ctx.add("Identity", [ctx.input(0)], ctx.output())
        return
    positions, lengths, _ = _positions_and_lengths(ctx, node)
    keep = ctx.add("Less", [positions, lengths])
    ctx.add("Where", [keep, ctx.input(0), ctx.const(node.attrs["value"], "value")], ctx.output())


@register("SequenceReverse")
def sequence_reverse(ctx: EmitContext, node: Node) -> None:
    """Each sequence's first ``length`` steps reversed, the others kept."""
    if not node.attrs["use_sequence_length"]:  # a step of -1 from the last step to before the first
        ends = ctx.ints([np.iinfo(np.int64).min], "ends")
        ctx.add("Slice", [ctx.input(0), ctx.ints([-1], "starts"), ends, ctx.ints([0], "axes"), ctx.ints([-1], "steps")],
                ctx.output())
        return
    positions, lengths, last = _positions_and_lengths(ctx, node)
    mirrored = ctx.add("Sub", [ctx.add("Sub", [lengths, ctx.const(1.0, "one")]), positions])
    index = ctx.add("Where", [ctx.add("Less", [positions, lengths]), mirrored, positions])
    index = ctx.add("Cast", [ctx.add("Clip", [index, ctx.const(0.0, "low"), last])],
                    to=TensorProto.INT64)
    x = ctx.input(0)
    ctx.add("GatherElements", [x, ctx.add("Expand", [index, ctx.add("Shape", [x])])], ctx.output(), axis=0)


@register("SequenceLast")
def sequence_last(ctx: EmitContext, node: Node) -> None:
    """The step at ``length - 1`` of each sequence (the last step without lengths); the axis is dropped. With
    lengths, the selected step is summed with zeros along the axis (exact, and never reads past the data)."""
    axis = node.attrs["axis"]
    if not node.attrs["use_sequence_length"]:  # the last step, however many there are
        ends = ctx.ints([np.iinfo(np.int64).max], "ends")
        step = ctx.add("Slice", [ctx.input(0), ctx.ints([-1], "starts"), ends, ctx.ints([axis], "axes")])
        ctx.squeeze(step, [axis], ctx.output())
        return
    positions, lengths, final = _positions_and_lengths(ctx, node)
    last = ctx.add("Clip", [ctx.add("Sub", [lengths, ctx.const(1.0, "one")]), ctx.const(0.0, "low"), final])
    selected = ctx.add("Where", [ctx.add("Equal", [positions, last]), ctx.input(0), ctx.const(0.0, "zero")])
    ctx.reduce_sum(selected, [axis], ctx.output(), keepdims=0)


@register("_contrib_hawkesll")
def hawkesll(ctx: EmitContext, node: Node) -> None:
    """MXNet's loop over the time steps, unrolled over the T fixed at conversion: each valid event adds the
    log-intensity of its process less that process's compensator since its last event, and excites it (a mask
    over the K processes picks the event's one; the sum over them adds zeros only, exactly); then every process's
    compensator up to max_time."""
    lda, alpha, beta, state, lags, marks, valid_length, max_time = (ctx.input(i) for i in range(8))
    one, zero = ctx.const(1.0, "one"), ctx.const(0.0, "zero")
    processes = ctx.const(np.arange(ctx.shape(0)[1], dtype=float), "processes")  # exact below 2 ** 24
    marks = ctx.add("Cast", [marks], to=helper.np_dtype_to_tensor_dtype(ctx.float_type))
    valid_length = ctx.unsqueeze(valid_length, [1])
    negative_beta, excitation = ctx.add("Neg", [beta]), ctx.add("Mul", [alpha, beta])

    def column(x: str, step: int) -> str:
        return ctx.add("Slice", [x, ctx.ints([step], "starts"), ctx.ints([step + 1], "ends"), ctx.ints([1], "axes")])

    def compensator(elapsed: str, state: str, decay: str) -> str:
        return ctx.add("Add", [ctx.add("Mul", [lda, elapsed]),
                               ctx.add("Mul", [ctx.add("Mul", [alpha, state]), ctx.add("Sub", [one, decay])])])

    time = last = loglike = zero  # broadcast against (N, 1), (N, K) and (N,) from the first step on
    for step in range(ctx.shape(4)[1]):
        time = ctx.add("Add", [time, column(lags, step)])
        hit = ctx.add("And", [ctx.add("Equal", [column(marks, step), processes]),
                              ctx.add("Less", [ctx.const(float(step), "step"), valid_length])])
        elapsed = ctx.add("Sub", [time, last])
        decay = ctx.add("Exp", [ctx.add("Mul", [negative_beta, elapsed])])
        intensity = ctx.add("Add", [lda, ctx.add("Mul", [ctx.add("Mul", [excitation, state]), decay])])
        term = ctx.add("Sub", [ctx.add("Log", [intensity]), compensator(elapsed, state, decay)])
        loglike = ctx.add("Add", [loglike, ctx.reduce_sum(ctx.add("Where", [hit, term, zero]), [1], keepdims=0)])
        state = ctx.add("Where", [hit, ctx.add("Add", [one, ctx.add("Mul", [state, decay])]), state])
        last = ctx.add("Where", [hit, time, last])
    elapsed = ctx.add("Sub", [ctx.unsqueeze(max_time, [1]), last])
    decay = ctx.add("Exp", [ctx.add("Mul", [negative_beta, elapsed])])
    remaining = ctx.reduce_sum(compensator(elapsed, state, decay), [1], keepdims=0)
    ctx.add("Sub", [loglike, remaining], ctx.output(0))
    ctx.add("Mul", [decay, state], ctx.output(1))
