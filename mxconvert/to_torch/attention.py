"""Attention products: ``_contrib_div_sqrt_dim`` and the interleaved attention products, self and
encoder-decoder (MXNet's semantics from ``semantics.attention``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..ir import Node
from ..semantics.attention import INTERLEAVED_PARTS, INTERLEAVED_READS, interleaved_heads
from .registry import HELPERS, Lowering, num, register

if TYPE_CHECKING:
    from .codegen import TorchContext


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
