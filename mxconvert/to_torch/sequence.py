"""Sequence ops: SequenceMask, SequenceReverse and SequenceLast over axis 0 (time, batch, ...) or axis 1
(batch, time, ...), with per-batch lengths truncated to integers as MXNet reads them (``semantics.sequence.sequence_axes``).
MXNet reads outside the data for a length of 0 (Last, Reverse) or past the sequence (Reverse): lengths are clamped
to the sequence there. ``_contrib_hawkesll``: a loop over the time steps, as MXNet's kernel."""
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


HELPERS["mxnet_hawkesll"] = '''
def mxnet_hawkesll(lda: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor, state: torch.Tensor,
                   lags: torch.Tensor, marks: torch.Tensor, valid_length: torch.Tensor,
                   max_time: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MXNet's Hawkes log-likelihood: each valid event (step j < valid_length) adds the log-intensity of its
    process less that process's compensator since its last event, and excites it; then every process's
    compensator up to max_time. Returns the log-likelihood (N,) and the states at max_time (N, K)."""
    processes = torch.arange(lda.shape[1], device=lda.device)
    time = torch.zeros_like(max_time)
    last = torch.zeros_like(lda)
    loglike = torch.zeros_like(max_time)
    for step in range(lags.shape[1]):
        time = time + lags[:, step]
        hit = (marks[:, step:step + 1].to(torch.int64) == processes) & (step < valid_length).unsqueeze(1)
        elapsed = time.unsqueeze(1) - last
        decay = torch.exp(-beta * elapsed)
        intensity = lda + alpha * beta * state * decay
        compensator = lda * elapsed + alpha * state * (1 - decay)
        loglike = loglike + torch.where(hit, torch.log(intensity) - compensator, torch.zeros_like(lda)).sum(1)
        state = torch.where(hit, 1 + state * decay, state)
        last = torch.where(hit, time.unsqueeze(1), last)
    elapsed = max_time.unsqueeze(1) - last
    decay = torch.exp(-beta * elapsed)
    loglike = loglike - (lda * elapsed + alpha * state * (1 - decay)).sum(1)
    return loglike, decay * state
'''


@register("_contrib_hawkesll")
def hawkesll(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"{ctx.helper('mxnet_hawkesll')}({', '.join(ctx.input(i) for i in range(8))})")
