"""Attention products: ``_contrib_div_sqrt_dim`` and the interleaved attention products, self and
encoder-decoder (MXNet's semantics from ``semantics.attention``)."""
from __future__ import annotations

import numpy as np

from ..dynamic import all_fixed
from ..ir import Node
from ..semantics.attention import INTERLEAVED_PARTS, INTERLEAVED_READS, interleaved_heads
from .context import EmitContext
from .registry import register


@register("_contrib_div_sqrt_dim")
def div_sqrt_dim(ctx: EmitContext, node: Node) -> None:
    root = np.sqrt(np.float32(ctx.shape(0)[-1]))
    ctx.add("Div", [ctx.input(0), ctx.const(root, "sqrt_dim")], ctx.output())


def _projection_sizes(ctx: EmitContext, index: int) -> tuple:
    """Sequence length and batch of the ``(sequence, batch, projections)`` input ``index``: fixed sizes, or
    ``[1]``-shaped tensors read from it at run time where an axis is dynamic."""
    shape = ctx.shape(index)
    if all_fixed(ctx.live(ctx.current.inputs[index])[:2]):
        return shape[0], shape[1]
    dims = ctx.add("Shape", [ctx.input(index)])
    return tuple(ctx.add("Gather", [dims, ctx.ints([axis], "axis")]) for axis in (0, 1))


def _target(ctx: EmitContext, *parts) -> str:
    """A Reshape target of fixed sizes and run-time sizes (a tuple of parts is their product)."""
    def part(item) -> str | int:
        if not isinstance(item, tuple):
            return item
        fixed = int(np.prod([p for p in item if isinstance(p, int)]))
        live = [p for p in item if not isinstance(p, int)]
        if not live:
            return fixed
        product = live[0]
        for other in live[1:]:
            product = ctx.add("Mul", [product, other])
        return product if fixed == 1 else ctx.add("Mul", [product, ctx.ints([fixed], "size")])

    items = [part(item) for item in parts]
    if all(isinstance(item, int) for item in items):
        return ctx.ints(items)
    return ctx.add("Concat", [item if isinstance(item, str) else ctx.ints([item]) for item in items], axis=0)


def _interleaved_part(ctx: EmitContext, node: Node, index: int, part: int) -> str:
    """Projection ``part`` (queries, keys, values as they are interleaved per head) of input ``index``,
    ``(sequence, batch, heads x parts x size)``, as ``(batch * heads, sequence, size)``."""
    heads, size = interleaved_heads(node, [ctx.shape(i) for i in range(len(node.inputs))])
    parts = INTERLEAVED_PARTS[node.op][index]
    length, batch = _projection_sizes(ctx, index)
    split = ctx.add("Reshape", [ctx.input(index), _target(ctx, length, batch, heads, parts, size)])
    if parts > 1:
        bounds = [ctx.ints([part], "starts"), ctx.ints([part + 1], "ends"), ctx.ints([3], "axes")]
        split = ctx.add("Slice", [split, *bounds])
    per_head = ctx.add("Transpose", [split], perm=[1, 2, 0, 3, 4])
    return ctx.add("Reshape", [per_head, _target(ctx, (batch, heads), length, size)])


def _scores(ctx: EmitContext, node: Node, queries: str, keys: str) -> None:
    """``queries @ keys^T / sqrt(size)`` per batch and head (index ``batch * heads + head``)."""
    _, size = interleaved_heads(node, [ctx.shape(i) for i in range(len(node.inputs))])
    scores = ctx.add("MatMul", [queries, ctx.add("Transpose", [keys], perm=[0, 2, 1])])
    ctx.add("Mul", [scores, ctx.const(np.float32(1.0 / np.sqrt(np.float32(size))), "scale")], ctx.output())


def _values_attended(ctx: EmitContext, node: Node, values: str) -> None:
    """The attention maps (input 1) applied to ``values``, heads concatenated: ``(queries, batch, heads * size)``."""
    heads, size = interleaved_heads(node, [ctx.shape(0), ctx.shape(1)])
    _, batch = _projection_sizes(ctx, 0)
    length = ctx.out_shape()[0] if isinstance(ctx.live(node.output())[0], int) else \
        ctx.add("Gather", [ctx.add("Shape", [ctx.input(1)]), ctx.ints([1], "axis")])
    weighted = ctx.add("MatMul", [ctx.input(1), values])
    per_head = ctx.add("Reshape", [weighted, _target(ctx, batch, heads, length, size)])
    heads_last = ctx.add("Transpose", [per_head], perm=[2, 0, 1, 3])
    ctx.add("Reshape", [heads_last, _target(ctx, length, batch, heads * size)], ctx.output())


@register(*INTERLEAVED_READS)
def interleaved_attention(ctx: EmitContext, node: Node) -> None:
    """Scores from queries and keys, or attended values, of the interleaved projections."""
    parts = [_interleaved_part(ctx, node, index, part) for index, part in INTERLEAVED_READS[node.op]]
    if len(parts) == 2:
        _scores(ctx, node, *parts)
    else:
        _values_attended(ctx, node, *parts)
