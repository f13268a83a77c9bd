"""nn layers and matrix products: Deconvolution, Embedding, log_softmax, softmin, dot, batch_dot, _linalg_gemm2,
_contrib_div_sqrt_dim and the interleaved attention products, self and encoder-decoder (MXNet's semantics from
``shapes``)."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto

from ..ir import Node
from ..semantics.activation import float16_output
from ..semantics.attention import INTERLEAVED_PARTS, INTERLEAVED_READS, interleaved_heads
from ..semantics.convolution import deconvolution_geometry, deconvolution_refusal
from ..semantics.linear import dot_axes, matrix_axes
from .context import EmitContext
from .registry import register


@register("Deconvolution", check=lambda n, opset: deconvolution_refusal(n))
def deconvolution(ctx: EmitContext, node: Node) -> None:
    """ConvTranspose: MXNet's pad crops both ends of the full output, adj extends its end (ONNX output_padding)."""
    a = node.attrs
    stride, pad, adj, dilate = deconvolution_geometry(a, ctx.shape(0)[2:])
    inputs = [ctx.input(0), ctx.input(1)] + ([] if a["no_bias"] else [ctx.input(2)])
    ctx.add("ConvTranspose", inputs, ctx.output(), kernel_shape=list(a["kernel"]), strides=list(stride),
            dilations=list(dilate), pads=list(pad + pad), output_padding=list(adj), group=a["num_group"])


@register("Embedding")
def embedding(ctx: EmitContext, node: Node) -> None:
    """Rows of the weight. MXNet truncates indices to int64, then clips them into [0, input_dim - 1]; NaN and
    values past int64 (which its cast turns into the lowest int64) take row 0."""
    x = ctx.input(0)
    representable = ctx.add("Less", [ctx.add("Abs", [x]), ctx.const(2.0**63, "int64_bound")])
    safe = ctx.add("Where", [representable, x, ctx.const(0.0, "row0")])
    last = float(node.attrs["input_dim"] - 1)
    clipped = ctx.add("Clip", [safe, ctx.const(0.0, "first"), ctx.const(last, "last")])
    indices = ctx.add("Cast", [clipped], to=TensorProto.INT64)
    ctx.add("Gather", [ctx.input(1), indices], ctx.output(), axis=0)


@register("log_softmax", "softmin", check=lambda n, opset: float16_output(n))
def softmax_variant(ctx: EmitContext, node: Node) -> None:
    """log_softmax(x / temperature), or softmin: softmax(-x / temperature)."""
    x, rank = ctx.input(0), len(ctx.shape(0))
    if node.op == "softmin":
        x = ctx.add("Neg", [x])
    temperature = node.attrs["temperature"]
    if temperature not in (None, 1.0):
        x = ctx.add("Div", [x, ctx.const(temperature, "temperature")])
    op_type = "LogSoftmax" if node.op == "log_softmax" else "Softmax"
    ctx.softmax(x, node.attrs["axis"], rank, ctx.output(), op_type)


def _as_matrix(ctx: EmitContext, x: str, shape: tuple, axis: int, last: bool) -> str:
    """``x`` as a matrix whose last (``last``) or first axis is ``axis``, the others flattened in order."""
    others = [i for i in range(len(shape)) if i != axis]
    perm = others + [axis] if last else [axis] + others
    if perm != sorted(perm):
        x = ctx.add("Transpose", [x], perm=perm)
    return ctx.reshape(x, [-1, shape[axis]] if last else [shape[axis], -1])


@register("dot")
def dot(ctx: EmitContext, node: Node) -> None:
    """Contract ``shapes.dot_axes``: both operands as matrices, one MatMul, the free axes restored."""
    left, right = ctx.shape(0), ctx.shape(1)
    left_axis, right_axis = dot_axes(node.attrs, left, right)
    product = ctx.add("MatMul", [_as_matrix(ctx, ctx.input(0), left, left_axis, True),
                                 _as_matrix(ctx, ctx.input(1), right, right_axis, False)])
    target = ctx.batch_shape(ctx.out_shape(), left)
    if target[0] == 0:  # a dynamic batch: the product's rows hold it with a's other free axes
        target[0] = -1
    ctx.reshape(product, target, ctx.output())


def _matrix_product(ctx: EmitContext, node: Node, row_axis: int, alpha: float) -> None:
    """``alpha * op(A) @ op(B)`` of matrices on (``row_axis``, last axis), batched over the other axes."""
    perm = matrix_axes(len(ctx.shape(0)), row_axis)
    moved = perm != sorted(perm)
    operands = []
    for index, transposed in ((0, node.attrs["transpose_a"]), (1, node.attrs["transpose_b"])):
        order = perm[:-2] + perm[-2:][::-1] if transposed else perm
        x = ctx.input(index)
        operands.append(ctx.add("Transpose", [x], perm=order) if order != sorted(order) else x)
    product_is_output = not moved and alpha == 1.0
    out = ctx.add("MatMul", operands, ctx.output() if product_is_output else None)
    if alpha != 1.0:
        out = ctx.add("Mul", [out, ctx.const(alpha, "alpha")], None if moved else ctx.output())
    if moved:
        ctx.add("Transpose", [out], ctx.output(), perm=[perm.index(i) for i in range(len(perm))])


@register("batch_dot")
def batch_dot(ctx: EmitContext, node: Node) -> None:
    _matrix_product(ctx, node, -2, 1.0)


@register("_linalg_gemm2")
def gemm2(ctx: EmitContext, node: Node) -> None:
    _matrix_product(ctx, node, node.attrs["axis"], node.attrs["alpha"])


@register("_contrib_div_sqrt_dim")
def div_sqrt_dim(ctx: EmitContext, node: Node) -> None:
    root = np.sqrt(np.float32(ctx.shape(0)[-1]))
    ctx.add("Div", [ctx.input(0), ctx.const(root, "sqrt_dim")], ctx.output())


def _projection_sizes(ctx: EmitContext, index: int) -> tuple:
    """Sequence length and batch of the ``(sequence, batch, projections)`` input ``index``: fixed sizes, or
    ``[1]``-shaped tensors read from it at run time where an axis is dynamic."""
    shape = ctx.shape(index)
    if all(isinstance(dim, int) for dim in ctx.live(ctx.current.inputs[index])[:2]):
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
