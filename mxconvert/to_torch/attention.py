"""nn layers and matrix products: Deconvolution, Embedding, log_softmax, softmin, dot, batch_dot, _linalg_gemm2,
_contrib_div_sqrt_dim and the interleaved attention products, self and encoder-decoder (MXNet's semantics from
``shapes``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..ir import Node
from ..semantics.activation import float16_output
from ..semantics.attention import INTERLEAVED_PARTS, INTERLEAVED_READS, interleaved_heads
from ..semantics.convolution import deconvolution_geometry, deconvolution_refusal
from ..semantics.linear import dot_axes, matrix_axes
from .convolution import HELPERS, num
from .registry import Lowering, register

if TYPE_CHECKING:
    from .codegen import TorchContext


@register("Deconvolution", check=deconvolution_refusal)
def deconvolution(ctx: TorchContext, node: Node) -> Lowering:
    """``nn.ConvTranspose*d``: MXNet's pad crops both ends of the full output, adj (output_padding) extends its
    end; the weight is (in channels, out channels / groups, *kernel) in both."""
    a = node.attrs
    rank = len(a["kernel"])
    stride, pad, adj, dilate = deconvolution_geometry(a, ctx.shape(0)[2:])
    options = [f"kernel_size={tuple(a['kernel'])}"]
    for key, value, default in (("stride", stride, 1), ("padding", pad, 0), ("output_padding", adj, 0),
                                ("dilation", dilate, 1)):
        if any(v != default for v in value):
            options.append(f"{key}={tuple(value)}")
    if a["num_group"] != 1:
        options.append(f"groups={a['num_group']}")
    state = {"weight": ctx.weight(1)}
    if a["no_bias"]:
        options.append("bias=False")
    else:
        state["bias"] = ctx.weight(2)
    layer = f"nn.ConvTranspose{rank}d({ctx.shape(0)[1]}, {a['num_filter']}, {', '.join(options)})"
    return Lowering(f"{ctx.layer}({ctx.input(0)})", layer, state)


@register("Embedding")
def embedding(ctx: TorchContext, node: Node) -> Lowering:
    """``nn.Embedding`` on the indices MXNet reads: truncated, then clipped (as ``take`` reads them)."""
    a = node.attrs
    indices = f"{ctx.helper('mxnet_index')}({ctx.input(0)}, {a['input_dim']}, \"clip\")"
    return Lowering(f"{ctx.layer}({indices})", f"nn.Embedding({a['input_dim']}, {a['output_dim']})",
                    {"weight": ctx.weight(1)})


@register("log_softmax", "softmin", check=float16_output)
def softmax_variant(ctx: TorchContext, node: Node) -> Lowering:
    """log_softmax(x / temperature), or softmin: softmax(-x / temperature)."""
    x, temperature = ctx.input(0), node.attrs["temperature"]
    if temperature not in (None, 1.0):
        x = f"{x} / {num(temperature)}"
    func = "torch.log_softmax" if node.op == "log_softmax" else "F.softmin"
    return Lowering(f"{func}({x}, dim={node.attrs['axis']})")


@register("dot")
def dot(ctx: TorchContext, node: Node) -> Lowering:
    """``torch.tensordot`` over ``shapes.dot_axes``: a's free axes, then b's (two vectors give shape (1,))."""
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


@register("_contrib_div_sqrt_dim")
def div_sqrt_dim(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"{ctx.input(0)} / {num(np.sqrt(np.float32(ctx.shape(0)[-1])))}")


HELPERS["mxnet_interleaved_part"] = '''
def mxnet_interleaved_part(projections: torch.Tensor, heads: int, parts: int, index: int) -> torch.Tensor:
    """Projection ``index`` of MXNet's (sequence, batch, heads x parts x size) interleaving (queries, keys and
    values; keys and values; queries alone), as (batch * heads, sequence, size)."""
    length, batch = projections.shape[0], projections.shape[1]
    size = projections.shape[2] // parts // heads
    part = projections.reshape(length, batch, heads, parts, size)[:, :, :, index]
    return part.permute(1, 2, 0, 3).reshape(batch * heads, length, size)
'''

HELPERS["mxnet_attended_values"] = '''
def mxnet_attended_values(attention: torch.Tensor, values: torch.Tensor, heads: int) -> torch.Tensor:
    """Attention maps (batch * heads, queries, keys) applied to per-head values, heads concatenated as MXNet's
    interleaved valatt products return them: (queries, batch, heads * size)."""
    weighted = torch.matmul(attention, values)
    length, size = weighted.shape[1], weighted.shape[2]
    return weighted.reshape(-1, heads, length, size).permute(2, 0, 1, 3).reshape(length, -1, heads * size)
'''


def _part(ctx: TorchContext, node: Node, input_index: int, index: int) -> str:
    heads, _ = interleaved_heads(node, [ctx.shape(i) for i in range(len(node.inputs))])
    parts = INTERLEAVED_PARTS[node.op][input_index]
    return f"{ctx.helper('mxnet_interleaved_part')}({ctx.input(input_index)}, {heads}, {parts}, {index})"


def _scores(ctx: TorchContext, node: Node, queries: str, keys: str) -> Lowering:
    """``queries @ keys^T / sqrt(size)`` per batch and head (index ``batch * heads + head``)."""
    _, size = interleaved_heads(node, [ctx.shape(i) for i in range(len(node.inputs))])
    scale = num(np.float32(1.0 / np.sqrt(np.float32(size))))
    return Lowering(f"torch.matmul({queries}, {keys}.transpose(1, 2)) * {scale}")


def _values_attended(ctx: TorchContext, node: Node, values: str) -> Lowering:
    heads, _ = interleaved_heads(node, [ctx.shape(0), ctx.shape(1)])
    return Lowering(f"{ctx.helper('mxnet_attended_values')}({ctx.input(1)}, {values}, {heads})")


@register(*INTERLEAVED_READS)
def interleaved_attention(ctx: TorchContext, node: Node) -> Lowering:
    """Scores from queries and keys, or attended values, of the interleaved projections."""
    parts = [_part(ctx, node, index, part) for index, part in INTERLEAVED_READS[node.op]]
    return _scores(ctx, node, *parts) if len(parts) == 2 else _values_attended(ctx, node, *parts)
