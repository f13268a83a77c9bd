"""Learned linear layers and matrix products: FullyConnected, Embedding, dot, batch_dot and ``_linalg_gemm(2)``
(MXNet's semantics from ``semantics.linear``)."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from ..ir import Node
from ..semantics.linear import dft_matrix, dot_axes, matrix_axes, product_equation
from .context import EmitContext
from .registry import register


@register("FullyConnected", computed_weights=True)
def fully_connected(ctx: EmitContext, node: Node) -> None:
    """``Gemm``, or ``MatMul`` on the last axis without ``flatten``; a stored weight is stored transposed there,
    a computed one transposed in the graph."""
    a = node.attrs
    weight = node.inputs[1].node
    bias = None if a["no_bias"] else ctx.input(2)
    x = ctx.input(0)
    if a["flatten"]:
        flat = ctx.add("Flatten", [x], axis=1) if len(ctx.shape(0)) != 2 else x
        ctx.add("Gemm", [flat, ctx.input(1)] + ([bias] if bias else []), ctx.output(), transB=1)
        return
    if ctx.stored(1):
        transposed = ctx.weight(f"{weight}_transposed", np.ascontiguousarray(ctx.graph.weight(weight).T))
    else:
        transposed = ctx.add("Transpose", [ctx.input(1)], perm=[1, 0])
    product = ctx.add("MatMul", [x, transposed], None if bias else ctx.output())
    if bias:
        ctx.add("Add", [product, bias], ctx.output())


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


def _as_matrix(ctx: EmitContext, x: str, shape: tuple, axis: int, last: bool) -> str:
    """``x`` as a matrix whose last (``last``) or first axis is ``axis``, the others flattened in order."""
    others = [i for i in range(len(shape)) if i != axis]
    perm = others + [axis] if last else [axis] + others
    if perm != sorted(perm):
        x = ctx.add("Transpose", [x], perm=perm)
    return ctx.reshape(x, [-1, shape[axis]] if last else [shape[axis], -1])


@register("dot")
def dot(ctx: EmitContext, node: Node) -> None:
    """Contract ``semantics.linear.dot_axes``: both operands as matrices, one MatMul, the free axes restored."""
    left, right = ctx.shape(0), ctx.shape(1)
    left_axis, right_axis = dot_axes(node.attrs, left, right)
    product = ctx.add("MatMul", [_as_matrix(ctx, ctx.input(0), left, left_axis, True),
                                 _as_matrix(ctx, ctx.input(1), right, right_axis, False)])
    target = ctx.batch_shape(ctx.out_shape(), left)
    if target[0] == 0:  # a dynamic batch: the product's rows hold it with a's other free axes
        target[0] = -1
    ctx.reshape(product, target, ctx.output())


def _matrix_product(ctx: EmitContext, node: Node, row_axis: int, alpha: float, out: str | None) -> str:
    """``alpha * op(A) @ op(B)`` of matrices on (``row_axis``, last axis), batched over the other axes."""
    perm = matrix_axes(len(ctx.shape(0)), row_axis)
    moved = perm != sorted(perm)
    operands = []
    for index, transposed in ((0, node.attrs["transpose_a"]), (1, node.attrs["transpose_b"])):
        order = perm[:-2] + perm[-2:][::-1] if transposed else perm
        x = ctx.input(index)
        operands.append(ctx.add("Transpose", [x], perm=order) if order != sorted(order) else x)
    product_is_output = not moved and alpha == 1.0
    value = ctx.add("MatMul", operands, out if product_is_output else None)
    if alpha != 1.0:
        value = ctx.add("Mul", [value, ctx.const(alpha, "alpha")], None if moved else out)
    if moved:
        value = ctx.add("Transpose", [value], out, perm=[perm.index(i) for i in range(len(perm))])
    return value


@register("batch_dot")
def batch_dot(ctx: EmitContext, node: Node) -> None:
    _matrix_product(ctx, node, -2, 1.0, ctx.output())


@register("_linalg_gemm2")
def gemm2(ctx: EmitContext, node: Node) -> None:
    _matrix_product(ctx, node, node.attrs["axis"], node.attrs["alpha"], ctx.output())


@register("_linalg_gemm")
def gemm(ctx: EmitContext, node: Node) -> None:
    """``_linalg_gemm2``'s product plus ``beta * C``."""
    product = _matrix_product(ctx, node, node.attrs["axis"], node.attrs["alpha"], None)
    c = ctx.input(2)
    if node.attrs["beta"] != 1.0:
        c = ctx.add("Mul", [c, ctx.const(node.attrs["beta"], "beta")])
    ctx.add("Add", [product, c], ctx.output())


@register("_npi_matmul")
def numpy_matmul(ctx: EmitContext, node: Node) -> None:
    """ONNX's MatMul is NumPy's."""
    ctx.add("MatMul", [ctx.input(0), ctx.input(1)], ctx.output())


def _einsum_check(node: Node, opset: int) -> str | None:
    return "ONNX has Einsum from opset 12" if opset < 12 else None


@register("_np_dot", "_npi_tensordot", "_npi_tensordot_int_axes", "_npi_einsum", check=_einsum_check)
def numpy_product(ctx: EmitContext, node: Node) -> None:
    shapes = [ctx.shape(i) for i in range(len(node.inputs))]
    ctx.add("Einsum", [ctx.input(i) for i in range(len(node.inputs))], ctx.output(),
            equation=product_equation(node, shapes))


@register("khatri_rao")
def khatri_rao(ctx: EmitContext, node: Node) -> None:
    """Each column the outer product of the inputs' columns, multiplied in from the first as MXNet does."""
    product = ctx.input(0)
    for index in range(1, len(node.inputs)):
        outer = ctx.add("Mul", [ctx.unsqueeze(product, [1]), ctx.unsqueeze(ctx.input(index), [0])])
        product = ctx.reshape(outer, [-1, ctx.shape(0)[1]])
    ctx.add("Identity", [product], ctx.output())


@register("_contrib_fft", "_contrib_ifft")
def fft(ctx: EmitContext, node: Node) -> None:
    """``DFT`` from opset 17 (``ifft``: the forward transform of the conjugate, whose real part is the unnormalised
    inverse's); before it, a MatMul with the DFT matrix computed in float64."""
    rank, size = len(ctx.shape(0)), ctx.shape(0)[-1]
    if ctx.opset < 17:
        ctx.add("MatMul", [ctx.input(0), ctx.const(dft_matrix(node.op, size), "dft")], ctx.output())
        return
    if node.op == "_contrib_fft":
        signal = ctx.unsqueeze(ctx.input(0), [rank])
    else:
        pairs = ctx.reshape(ctx.input(0), [0] * (rank - 1) + [size // 2, 2])
        signal = ctx.add("Mul", [pairs, ctx.const(np.array([1.0, -1.0]), "conjugate")])
    if ctx.opset < 20:
        spectrum = ctx.add("DFT", [signal], axis=rank - 1)
    else:
        spectrum = ctx.add("DFT", [signal, "", ctx.const(np.int64(rank - 1), "axis", np.int64)])
    if node.op == "_contrib_fft":
        ctx.reshape(spectrum, [0] * (rank - 1) + [-1], ctx.output())
    else:
        ctx.add("Gather", [spectrum, ctx.const(np.int64(0), "real", np.int64)], ctx.output(), axis=rank)


@register("_contrib_count_sketch")
def count_sketch(ctx: EmitContext, node: Node) -> None:
    """A product with the (d, out_dim) matrix of s[i] at row i, column h[i] (zeros elsewhere, which add nothing
    to finite sums)."""
    size = ctx.shape(0)[-1]

    def first(index: int) -> str:
        flat = ctx.reshape(ctx.input(index), [-1])
        return ctx.unsqueeze(ctx.add("Slice", [flat, ctx.ints([0], "starts"), ctx.ints([size], "ends")]), [1])

    columns = ctx.add("Cast", [ctx.add("Cast", [first(1)], to=TensorProto.INT64)],
                      to=helper.np_dtype_to_tensor_dtype(ctx.float_type))  # truncated, as MXNet's index
    hit = ctx.add("Equal", [columns, ctx.const(np.arange(node.attrs["out_dim"], dtype=float), "columns")])
    sketch = ctx.add("Where", [hit, first(2), ctx.const(0.0, "zero")])
    ctx.add("MatMul", [ctx.input(0), sketch], ctx.output())
