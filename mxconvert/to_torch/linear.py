"""Learned linear layers and matrix products: FullyConnected, Embedding, dot, batch_dot and ``_linalg_gemm(2)``
as PyTorch layers and expressions (MXNet's semantics from ``semantics.linear``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..ir import Node
from ..semantics.linear import dft_matrix, dot_axes, matrix_axes, product_equation
from .registry import HELPERS, Lowering, call_source, num, register

if TYPE_CHECKING:
    from .codegen import TorchContext


@register("FullyConnected", computed_weights=True)
def fully_connected(ctx: TorchContext, node: Node) -> Lowering:
    """``nn.Linear``; ``F.linear`` where a weight is computed in the graph."""
    a = node.attrs
    x = ctx.input(0)
    if a["flatten"] and len(ctx.shape(0)) > 2:
        x = f"torch.flatten({x}, 1)"
    if not ctx.all_weights_stored():
        return Lowering(call_source("F.linear", x, ctx.input(1), *([] if a["no_bias"] else [ctx.input(2)])))
    weight = ctx.weight(1)
    options = {"bias": False} if a["no_bias"] else {}
    layer = call_source("nn.Linear", str(weight.shape[1]), str(weight.shape[0]), **options)
    state = {"weight": weight} if a["no_bias"] else {"weight": weight, "bias": ctx.weight(2)}
    return Lowering(f"{ctx.layer}({x})", layer, state)


@register("Embedding")
def embedding(ctx: TorchContext, node: Node) -> Lowering:
    """``nn.Embedding`` on the indices MXNet reads: truncated, then clipped (as ``take`` reads them)."""
    a = node.attrs
    indices = f"{ctx.helper('mxnet_index')}({ctx.input(0)}, {a['input_dim']}, \"clip\")"
    return Lowering(f"{ctx.layer}({indices})", f"nn.Embedding({a['input_dim']}, {a['output_dim']})",
                    {"weight": ctx.weight(1)})


@register("dot")
def dot(ctx: TorchContext, node: Node) -> Lowering:
    """``torch.tensordot`` over ``semantics.linear.dot_axes``: a's free axes, then b's (two vectors give shape (1,))."""
    left_axis, right_axis = dot_axes(node.attrs, ctx.shape(0), ctx.shape(1))
    expr = f"torch.tensordot({ctx.input(0)}, {ctx.input(1)}, [[{left_axis}], [{right_axis}]])"
    vectors = len(ctx.shape(0)) == len(ctx.shape(1)) == 1
    return Lowering(f"{expr}.reshape(1)" if vectors else expr)


def _matrix_product(ctx: TorchContext, node: Node, row_axis: int, alpha: float) -> Lowering:
    """``alpha * op(A) @ op(B)`` of matrices on (``row_axis``, last axis), batched over the other axes."""
    rank = len(ctx.shape(0))
    row = matrix_axes(rank, row_axis)[-2]
    operands = []
    for index, transposed in ((0, node.attrs["transpose_a"]), (1, node.attrs["transpose_b"])):
        x = ctx.input(index) if row == rank - 2 else f"{ctx.input(index)}.movedim({row}, -2)"
        operands.append(f"{x}.transpose(-1, -2)" if transposed else x)
    expr = f"torch.matmul({operands[0]}, {operands[1]})"
    if alpha != 1.0:
        expr = f"{num(alpha)} * {expr}"
    return Lowering(expr if row == rank - 2 else f"({expr}).movedim(-2, {row})")


@register("batch_dot")
def batch_dot(ctx: TorchContext, node: Node) -> Lowering:
    return _matrix_product(ctx, node, -2, 1.0)


@register("_linalg_gemm2")
def gemm2(ctx: TorchContext, node: Node) -> Lowering:
    return _matrix_product(ctx, node, node.attrs["axis"], node.attrs["alpha"])


@register("_linalg_gemm")
def gemm(ctx: TorchContext, node: Node) -> Lowering:
    """``_linalg_gemm2``'s product plus ``beta * C``."""
    product = _matrix_product(ctx, node, node.attrs["axis"], node.attrs["alpha"]).expr
    beta = node.attrs["beta"]
    return Lowering(f"{product} + {ctx.input(2) if beta == 1.0 else f'{num(beta)} * {ctx.input(2)}'}")


@register("_npi_matmul")
def numpy_matmul(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"torch.matmul({ctx.input(0)}, {ctx.input(1)})")


@register("_np_dot", "_npi_tensordot", "_npi_tensordot_int_axes", "_npi_einsum")
def numpy_product(ctx: TorchContext, node: Node) -> Lowering:
    shapes = [ctx.shape(i) for i in range(len(node.inputs))]
    operands = ", ".join(ctx.input(i) for i in range(len(node.inputs)))
    return Lowering(f"torch.einsum({product_equation(node, shapes)!r}, [{operands}])")


@register("khatri_rao")
def khatri_rao(ctx: TorchContext, node: Node) -> Lowering:
    """Each column the outer product of the inputs' columns, multiplied in from the first as MXNet does."""
    product = ctx.input(0)
    for index in range(1, len(node.inputs)):
        product = f"({product}.unsqueeze(1) * {ctx.input(index)}.unsqueeze(0)).flatten(0, 1)"
    return Lowering(product)


@register("_contrib_fft", "_contrib_ifft")
def fft(ctx: TorchContext, node: Node) -> Lowering:
    """A product with the DFT matrix, computed in float64 and stored as a buffer."""
    matrix = dft_matrix(node.op, ctx.shape(0)[-1]).astype(np.float32)
    return Lowering(f"torch.matmul({ctx.input(0)}, self.{ctx.name}.dft)", "nn.Module()", {"dft": matrix},
                    [f"self.{ctx.name}.register_buffer('dft', torch.empty({list(matrix.shape)}))"])


HELPERS["mxnet_count_sketch"] = '''
def mxnet_count_sketch(x: torch.Tensor, h: torch.Tensor, s: torch.Tensor, out_dim: int) -> torch.Tensor:
    """MXNet's count sketch: out[..., h[i]] += s[i] x[..., i] along the last axis (h truncated to integers; the
    first values of h and s flattened)."""
    size = x.shape[-1]
    shape = list(x.shape)
    shape[-1] = out_dim
    out = torch.zeros(shape, dtype=x.dtype, device=x.device)
    return out.index_add_(x.dim() - 1, h.reshape(-1)[:size].to(torch.int64), x * s.reshape(-1)[:size])
'''


@register("_contrib_count_sketch")
def count_sketch(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(call_source(ctx.helper("mxnet_count_sketch"), ctx.input(0), ctx.input(1), ctx.input(2),
                                str(node.attrs["out_dim"])))
