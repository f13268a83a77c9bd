"""Sequence ops: SequenceMask, SequenceReverse and SequenceLast over axis 0 (time, batch, ...) or axis 1
(batch, time, ...), with per-batch lengths truncated to integers as MXNet reads them (``semantics.sequence.sequence_axes``).
MXNet reads outside the data for a length of 0 (Last, Reverse) or past the sequence (Reverse): lengths are clamped
to the sequence there."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir import Node
from .registry import HELPERS, num
from .registry import Lowering, register

if TYPE_CHECKING:
    from .codegen import TorchContext

HELPERS["mxnet_sequence_mask"] = '''
def mxnet_sequence_mask(x: torch.Tensor, length: torch.Tensor, axis: int, value: float) -> torch.Tensor:
    """MXNet's SequenceMask: ``value`` from step ``length`` on (one length per batch entry, truncated)."""
    steps = [1] * x.dim()
    steps[axis] = -1
    batch = [1] * x.dim()
    batch[1 - axis] = -1
    positions = torch.arange(x.shape[axis], device=x.device).reshape(steps)
    return x.masked_fill(positions >= length.to(torch.int64).reshape(batch), value)
'''
HELPERS["mxnet_sequence_reverse"] = '''
def mxnet_sequence_reverse(x: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """MXNet's SequenceReverse over axis 0: the first ``length`` steps of each sequence reversed."""
    positions = torch.arange(x.shape[0], device=x.device).reshape([-1] + [1] * (x.dim() - 1))
    lengths = torch.clamp(length.to(torch.int64), 0, x.shape[0]).reshape([1, -1] + [1] * (x.dim() - 2))
    index = torch.where(positions < lengths, lengths - 1 - positions, positions)
    return torch.gather(x, 0, index.expand(x.shape))
'''
HELPERS["mxnet_sequence_last"] = '''
def mxnet_sequence_last(x: torch.Tensor, length: torch.Tensor, axis: int) -> torch.Tensor:
    """MXNet's SequenceLast: step ``length - 1`` of each sequence (truncated), the axis dropped."""
    batch = [1] * x.dim()
    batch[1 - axis] = -1
    index = torch.clamp(length.to(torch.int64) - 1, 0, x.shape[axis] - 1).reshape(batch)
    size = list(x.shape)
    size[axis] = 1
    return torch.gather(x, axis, index.expand(size)).squeeze(axis)
'''


@register("SequenceMask")
def sequence_mask(ctx: TorchContext, node: Node) -> Lowering:
    if not node.attrs["use_sequence_length"]:
        return Lowering(ctx.input(0))
    helper = ctx.helper("mxnet_sequence_mask")
    return Lowering(f"{helper}({ctx.input(0)}, {ctx.input(1)}, {node.attrs['axis']}, {num(node.attrs['value'])})")


@register("SequenceReverse")
def sequence_reverse(ctx: TorchContext, node: Node) -> Lowering:
    if not node.attrs["use_sequence_length"]:
        return Lowering(f"torch.flip({ctx.input(0)}, [0])")
    return Lowering(f"{ctx.helper('mxnet_sequence_reverse')}({ctx.input(0)}, {ctx.input(1)})")


@register("SequenceLast")
def sequence_last(ctx: TorchContext, node: Node) -> Lowering:
    axis = node.attrs["axis"]
    if not node.attrs["use_sequence_length"]:
        return Lowering(f"{ctx.input(0)}[{':, ' * axis}-1]")
    return Lowering(f"{ctx.helper('mxnet_sequence_last')}({ctx.input(0)}, {ctx.input(1)}, {axis})")
