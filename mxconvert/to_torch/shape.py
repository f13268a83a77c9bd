"""Shape and layout ops: Reshape, Flatten, transpose, Concat, SliceChannel, expand_dims, squeeze, slices,
reshape_like, broadcasts, tile, repeat, stack, split_v2, SwapAxis, reverse, depth/space moves, Cast, amp_cast and
BlockGrad (MXNet's semantics from ``semantics.shape``)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..ir import Node
from ..semantics.rules import axis_index
from ..semantics.shape import (DIAGONAL_OPS, INSERT_OPS, UNRUNNABLE_OPS, InsertLayout, amp_cast_refusal,
                               assigned_positions, diagonal_positions, diff_terms, ediff1d_ends, unrunnable_refusal,
                               atleast_axes, broadcast_like_sources, cast_overflow_bound, expand_dims_axis,
                               flipped_axes, hsplit_attrs, insert_layout, insert_sources, moveaxis_permutation,
                               reshape_like_ranges, reshape_moves_inferred, reshape_reads_leading, reshape_terms,
                               roll_shifts, rot90_steps, slice_axis_range, slice_like_axes, slice_ranges, split_bounds,
                               squeezed_axes, stack_overrun, stacked_parts, swapped_axes, tile_reps, whole_axes_but)
from .registry import HELPERS, Lowering, call_source, num, refuse, register

if TYPE_CHECKING:
    from .codegen import TorchContext


HELPERS["mxnet_cast_integer"] = '''
def mxnet_cast_integer(x: torch.Tensor, dtype: torch.dtype, bound: float) -> torch.Tensor:
    """MXNet's Cast of floats to an integer type, in x's type: truncated towards zero, values outside
    (-bound, bound) and NaN read as -bound (as C's conversion gives on x86), narrower types keep the low bits."""
    kept = torch.where(x.abs() < bound, x, torch.full_like(x, -bound))
    return kept.to(torch.int64).to(dtype).to(x.dtype)
'''

HELPERS["mxnet_truncate_bfloat16"] = '''
def mxnet_truncate_bfloat16(x: torch.Tensor) -> torch.Tensor:
    """MXNet's Cast to bfloat16: a float32's low 16 bits dropped, i.e. truncated to 8 significant bits (to a
    multiple of 2 ** -133 below float32's normal range), computed exactly in float64."""
    wide = x.double()
    step = torch.pow(2.0, torch.clamp(torch.frexp(wide)[1] - 8, min=-133).double())
    return torch.where(torch.isfinite(wide), torch.trunc(wide / step) * step, wide).to(x.dtype)
'''


def _sliced(x: str, ranges: list[tuple[int, int | None, int]], shape: tuple[int, ...]) -> str:
    """``x`` indexed by per-axis (start, stop, step); axes with a negative step are flipped first."""
    flipped = [axis for axis, (_, _, step) in enumerate(ranges) if step < 0]
    parts = []
    for size, (start, stop, step) in zip(shape, ranges):
        if step < 0:  # the same elements, counted from the flipped end
            start, stop, step = size - 1 - start, size if stop is None else size - 1 - stop, -step
        text = f"{start or ''}:{'' if stop == size else stop}{'' if step == 1 else f':{step}'}"
        parts.append(text)
    while parts and parts[-1] == ":":
        parts.pop()
    source = f"torch.flip({x}, {flipped})" if flipped else x
    return f"{source}[{', '.join(parts)}]" if parts else source


@register("expand_dims")
def expand_dims(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"torch.unsqueeze({ctx.input(0)}, {expand_dims_axis(node.attrs['axis'], len(ctx.shape(0)))})")


@register("squeeze")
def squeeze(ctx: TorchContext, node: Node) -> Lowering:
    """Squeezing every axis keeps one of size 1, as MXNet does."""
    x, axes = ctx.input(0), squeezed_axes(node.attrs["axis"], ctx.shape(0))
    if len(axes) == len(ctx.shape(0)):
        return Lowering(f"{x}.reshape({'1' if node.attrs['keep_one'] else '()'})")
    return Lowering(f"torch.squeeze({x}, {axes})" if axes else x)


@register("slice")
def slice_(ctx: TorchContext, node: Node) -> Lowering:
    a, shape = node.attrs, ctx.shape(0)
    return Lowering(_sliced(ctx.input(0), slice_ranges(shape, a["begin"], a["end"], a["step"]), shape))


HELPERS["mxnet_slice_assign"] = '''
def mxnet_slice_assign(x: torch.Tensor, value: torch.Tensor, positions: List[List[int]]) -> torch.Tensor:
    """x with value written at the crossing of each axis's positions (value's i-th element along an axis at
    that axis's i-th position)."""
    index: List[Optional[torch.Tensor]] = []
    for axis, along in enumerate(positions):
        shape = [1] * len(positions)
        shape[axis] = -1
        index.append(torch.tensor(along, device=x.device).view(shape))
    return x.index_put(index, value)
'''


@register("_slice_assign", "_slice_assign_scalar")
def slice_assign(ctx: TorchContext, node: Node) -> Lowering:
    x, positions = ctx.input(0), assigned_positions(node.attrs, ctx.shape(0))
    if not all(positions):
        return Lowering(x)
    if node.op == "_slice_assign":
        value = ctx.input(1)
    else:
        value = f"torch.full([], {num(ctx.in_output_type(node.attrs['scalar']))}, dtype={x}.dtype)"
    return Lowering(call_source(ctx.helper("mxnet_slice_assign"), x, value, str(positions)))


@register("slice_axis")
def slice_axis(ctx: TorchContext, node: Node) -> Lowering:
    shape = ctx.shape(0)
    axis, begin, end = slice_axis_range(node.attrs, shape)
    return Lowering(_sliced(ctx.input(0), whole_axes_but(shape, {axis: (begin, end)}), shape))


@register("slice_like")
def slice_like(ctx: TorchContext, node: Node) -> Lowering:
    shape, like = ctx.shape(0), ctx.shape(1)
    axes = slice_like_axes(node.attrs["axes"], shape, like)
    if any(not isinstance(ctx.live(node.inputs[1])[axis], int) for axis in axes):  # sizes read at run time
        parts = [f":{ctx.input(1)}.shape[{axis}]" if axis in axes else ":" for axis in range(max(axes) + 1)]
        return Lowering(f"{ctx.input(0)}[{', '.join(parts)}]")
    cuts = {axis: (0, like[axis]) for axis in axes}
    return Lowering(_sliced(ctx.input(0), whole_axes_but(shape, cuts), shape))


@register("reshape_like")
def reshape_like(ctx: TorchContext, node: Node) -> Lowering:
    """A fixed shape, or one read from both inputs' shapes where an axis is dynamic."""
    if all(isinstance(dim, int) for ref in node.inputs for dim in ctx.live(ref)):
        return Lowering(f"{ctx.input(0)}.reshape({list(ctx.out_shape())})")
    (lb, le), (rb, re) = reshape_like_ranges(node.attrs, ctx.shape(0), ctx.shape(1))
    lhs, rhs = ctx.input(0), ctx.input(1)
    dims = [f"{lhs}.shape[{i}]" for i in range(lb)] + [f"{rhs}.shape[{i}]" for i in range(rb, re)] + \
        [f"{lhs}.shape[{i}]" for i in range(le, len(ctx.shape(0)))]
    return Lowering(f"{lhs}.reshape([{', '.join(dims)}])")


@register("broadcast_to", "broadcast_axis")
def broadcast(ctx: TorchContext, node: Node) -> Lowering:
    """Expand the axes that grow (-1 keeps the others, a different batch size included)."""
    grown = [new if new != old else -1 for old, new in zip(ctx.shape(0), ctx.out_shape())]
    return Lowering(f"{ctx.input(0)}.expand({grown})")


@register("broadcast_like")
def broadcast_like(ctx: TorchContext, node: Node) -> Lowering:
    """Fixed sizes, or the sizes of ``like``'s axes read at run time where one is dynamic."""
    sources = broadcast_like_sources(node.attrs, ctx.shape(0), ctx.shape(1))
    if all(isinstance(ctx.live(node.inputs[1])[axis], int) for axis in sources.values()):
        return broadcast(ctx, node)
    like = ctx.input(1)
    sizes = [f"{like}.shape[{sources[axis]}]" if axis in sources else "-1" for axis in range(len(ctx.shape(0)))]
    return Lowering(f"{ctx.input(0)}.expand([{', '.join(sizes)}])")


@register("tile")
def tile(ctx: TorchContext, node: Node) -> Lowering:
    """``torch.tile`` pads short reps with leading 1s and adds leading axes for long ones, as MXNet does."""
    _, reps = tile_reps(node.attrs["reps"], len(ctx.shape(0)))
    return Lowering(f"torch.tile({ctx.input(0)}, {reps})")


@register("repeat")
def repeat(ctx: TorchContext, node: Node) -> Lowering:
    """Each element ``repeats`` times along ``axis``; without one, of the flattened data."""
    a, x = node.attrs, ctx.input(0)
    if a["axis"] is None:
        return Lowering(f"torch.repeat_interleave({x}.reshape(-1), {a['repeats']})")
    return Lowering(f"torch.repeat_interleave({x}, {a['repeats']}, {a['axis'] % len(ctx.shape(0))})")


@register("stack", check=stack_overrun)
def stack(ctx: TorchContext, node: Node) -> Lowering:
    parts = ", ".join(ctx.input(i) for i in range(node.attrs["num_args"]))
    return Lowering(f"torch.stack([{parts}], {expand_dims_axis(node.attrs['axis'], len(ctx.shape(0)))})")


@register("_split_v2", "_npi_hsplit")
def split_v2(ctx: TorchContext, node: Node) -> Lowering:
    """With ``squeeze_axis`` every part has size 1: one per index, the axis dropped."""
    attrs = hsplit_attrs(node.attrs, len(ctx.shape(0))) if node.op == "_npi_hsplit" else node.attrs
    axis, bounds = split_bounds(attrs, ctx.shape(0))
    if node.attrs["squeeze_axis"]:
        return Lowering(f"torch.unbind({ctx.input(0)}, {axis})")
    return Lowering(f"torch.split({ctx.input(0)}, {[stop - start for start, stop in bounds]}, {axis})")


@register("SwapAxis")
def swap_axis(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"{ctx.input(0)}.permute({swapped_axes(node.attrs, len(ctx.shape(0)))})")


@register("reverse", "_npi_flip")
def reverse(ctx: TorchContext, node: Node) -> Lowering:
    axes = flipped_axes(node, len(ctx.shape(0)))
    return Lowering(f"torch.flip({ctx.input(0)}, {axes})" if axes else ctx.input(0))


@register("_np_moveaxis")
def moveaxis(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"{ctx.input(0)}.permute({moveaxis_permutation(node.attrs, len(ctx.shape(0)))})")


@register("_npi_broadcast_to")
def numpy_broadcast_to(ctx: TorchContext, node: Node) -> Lowering:
    """``expand`` adds leading axes as NumPy does; -1 keeps an axis' own size."""
    lead = len(ctx.out_shape()) - len(ctx.shape(0))
    grown = [new if i < lead or ctx.shape(0)[i - lead] != new else -1 for i, new in enumerate(ctx.out_shape())]
    return Lowering(f"{ctx.input(0)}.expand({grown})")


@register("_np_roll")
def roll(ctx: TorchContext, node: Node) -> Lowering:
    shifts = roll_shifts(node.attrs, ctx.shape(0))
    x = ctx.input(0)
    if node.attrs["axis"] is None:
        shift = shifts[0][1] if shifts else 0
        return Lowering(f"torch.roll({x}.reshape(-1), {shift}).reshape({list(ctx.shape(0))})")
    if not shifts:
        return Lowering(x)
    return Lowering(f"torch.roll({x}, {[s for _, s in shifts]}, {[a for a, _ in shifts]})")


@register("_npi_diff")
def diff(ctx: TorchContext, node: Node) -> Lowering:
    """The shifted slices times their binomial coefficients, summed in MXNet's order."""
    axis, length, terms = diff_terms(node.attrs, ctx.shape(0))
    parts = [f"torch.narrow({ctx.input(0)}, {axis}, {start}, {length})" + ("" if c == 1 else f" * {float(c)!r}")
             for start, c in terms]
    return Lowering(" + ".join(parts))


@register("_npi_ediff1d")
def ediff1d(ctx: TorchContext, node: Node) -> Lowering:
    """The flattened data's differences, after and before what the attributes add (flattened inputs, scalars in
    the data's type)."""
    x = ctx.input(0)
    begin, end = (None if addition is None else f"{ctx.input(int(addition[1]))}.reshape(-1)"
                  if addition[0] == "input" else
                  f"torch.full([1], {num(ctx.in_output_type(addition[1]))}, dtype={x}.dtype)"
                  for addition in ediff1d_ends(node.attrs))
    parts = [part for part in (begin, f"{x}.reshape(-1)[1:] - {x}.reshape(-1)[:-1]", end) if part is not None]
    return Lowering(f"torch.cat([{', '.join(parts)}])")


HELPERS["mxnet_insert_positions"] = '''
def mxnet_insert_positions(obj: torch.Tensor, n: int, count: int, single: bool) -> torch.Tensor:
    """Where NumPy's insert puts the inserted rows, from its index tensor: negative indices count from the end;
    one index puts a block of ``count`` rows before it, several put each row before its index, shifted by the
    rows sorted before it (ties in order)."""
    index = obj.reshape(-1).long()
    index = torch.where(index < 0, index + n, index)
    if single:
        return index + torch.arange(count, device=obj.device)
    ranks = torch.empty_like(index)
    ranks[torch.sort(index, stable=True)[1]] = torch.arange(count, device=obj.device)
    return index + ranks
'''

HELPERS["mxnet_insert_sources"] = '''
def mxnet_insert_sources(positions: torch.Tensor, n: int) -> torch.Tensor:
    """For each output row, its row in the data and the inserted block joined: the block's row landing there,
    else the data's rows in order."""
    rows = torch.arange(n + positions.numel(), device=positions.device)
    landed = rows.unsqueeze(1) == positions
    block_rows = n + (landed * torch.arange(positions.numel(), device=positions.device)).sum(1)
    return torch.where(landed.any(1), block_rows, rows - (positions < rows.unsqueeze(1)).sum(1))
'''


@register(*INSERT_OPS)
def insert(ctx: TorchContext, node: Node) -> Lowering:
    """NumPy's insert as MXNet computes it (``semantics.shape.insert_layout``): the data and the inserted block
    joined along the axis, then the rows taken in output order (from an index tensor: computed as it runs)."""
    layout = insert_layout(node, [ctx.shape(i) for i in range(len(node.inputs))])
    x = f"{ctx.input(0)}.reshape(-1)" if node.attrs["axis"] is None else ctx.input(0)
    n, axis = layout.data[layout.axis], layout.axis
    if not layout.block[axis]:
        return Lowering(x)
    joined = f"torch.cat([{x}, {_inserted_block(ctx, node, layout)}], {axis})"
    if layout.positions is None:
        positions = (f"{ctx.helper('mxnet_insert_positions')}({ctx.input(len(node.inputs) - 1)}, {n}, "
                     f"{layout.block[axis]}, {layout.single})")
        sources = f"{ctx.helper('mxnet_insert_sources')}({positions}, {n})"
    else:
        sources = f"torch.tensor({insert_sources(layout.positions, n)}, device={ctx.input(0)}.device)"
    return Lowering(f"torch.index_select({joined}, {axis}, {sources})")


def _inserted_block(ctx: TorchContext, node: Node, layout: InsertLayout) -> str:
    """The values (or ``val``) in the data's type, their first axis moved where NumPy's int index moves it,
    broadcast to the inserted block."""
    integer = node.output() in ctx.integers
    if layout.values is None:
        value = ctx.in_output_type(node.attrs["val"])
        x = ctx.input(0)
        return f"torch.full({list(layout.block)}, {num(value)}, dtype={x}.dtype, device={x}.device)"
    values, shape = ctx.input(1), layout.values
    if tuple(ctx.shape(1)) != shape:
        values = f"{values}.reshape({list(shape)})"
    if layout.moved:
        values = f"{values}.permute({layout.moved})"
        shape = tuple(shape[i] for i in layout.moved)
    if integer and node.inputs[1] not in ctx.integers:
        values = f"torch.trunc({values})"
    return values if shape == layout.block else f"{values}.expand({list(layout.block)})"


@register("_npi_rot90")
def rot90(ctx: TorchContext, node: Node) -> Lowering:
    flips, swap = rot90_steps(node.attrs, len(ctx.shape(0)))
    x = f"torch.flip({ctx.input(0)}, {flips})" if flips else ctx.input(0)
    return Lowering(f"{x}.permute({swap})" if swap else x)


@register("_np_atleast_1d", "_np_atleast_2d", "_np_atleast_3d")
def atleast(ctx: TorchContext, node: Node) -> Lowering:
    parts = [_unsqueezed(ctx.input(i), atleast_axes(node.op, len(ctx.shape(i)))) for i in range(len(node.inputs))]
    return Lowering(parts[0] if len(parts) == 1 else f"({', '.join(parts)},)")


def _unsqueezed(x: str, axes: list[int]) -> str:
    for axis in axes:
        x = f"{x}.unsqueeze({axis})"
    return x


@register("_npi_vstack")
def numpy_stack(ctx: TorchContext, node: Node) -> Lowering:
    inserted, axis = stacked_parts(node.op, [ctx.shape(i) for i in range(len(node.inputs))])
    parts = ", ".join(_unsqueezed(ctx.input(i), axes) for i, axes in enumerate(inserted))
    return Lowering(f"torch.cat([{parts}], {axis})")


@register("depth_to_space")
def depth_to_space(ctx: TorchContext, node: Node) -> Lowering:
    """MXNet's DCR order: depth is read as (block row, block column, channel), unlike ``nn.PixelShuffle``."""
    _, channels, height, width = ctx.shape(0)
    b = node.attrs["block_size"]
    out = channels // (b * b)
    return Lowering(f"{ctx.input(0)}.reshape(-1, {b}, {b}, {out}, {height}, {width}).permute(0, 3, 4, 1, 5, 2)"
                    f".reshape(-1, {out}, {height * b}, {width * b})")


@register("space_to_depth")
def space_to_depth(ctx: TorchContext, node: Node) -> Lowering:
    """The inverse of depth_to_space: each block x block patch becomes (block row, block column, channel)."""
    _, channels, height, width = ctx.shape(0)
    b = node.attrs["block_size"]
    return Lowering(f"{ctx.input(0)}.reshape(-1, {channels}, {height // b}, {b}, {width // b}, {b})"
                    f".permute(0, 3, 5, 1, 2, 4).reshape(-1, {channels * b * b}, {height // b}, {width // b})")


@register("BlockGrad")
def block_grad(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"{ctx.input(0)}.detach()")


_TORCH_INTEGERS = {"uint8": "torch.uint8", "int8": "torch.int8", "int32": "torch.int32", "int64": "torch.int64"}


@register("Cast", "amp_cast", check=amp_cast_refusal)
def cast(ctx: TorchContext, node: Node) -> Lowering:
    """The tensor stays in the model's float type holding the values MXNet's cast gives: float16 rounded,
    bfloat16 truncated; Cast to an integer truncates towards zero and keeps the
    low bits; bool is x != 0."""
    x, dtype = ctx.input(0), node.attrs["dtype"]
    if dtype in ("float32", "float64"):
        return Lowering(x)
    if dtype == "bfloat16":
        return Lowering(f"{ctx.helper('mxnet_truncate_bfloat16')}({x})")
    if dtype == "float16":
        return Lowering(f"{x}.to(torch.float16).to({x}.dtype)")
    if dtype == "bool":
        return Lowering(f"({x} != 0).to({x}.dtype)")
    bound = cast_overflow_bound(dtype)
    return Lowering(f"{ctx.helper('mxnet_cast_integer')}({x}, {_TORCH_INTEGERS[dtype]}, {bound!r})")


@register("Flatten")
def flatten(ctx: TorchContext, node: Node) -> Lowering:
    x = ctx.input(0)
    return Lowering(f"torch.flatten({x}, 1)" if len(ctx.shape(0)) > 1 else f"{x}.reshape(-1, 1)")


@register("Concat", "_rnn_param_concat")
def concat(ctx: TorchContext, node: Node) -> Lowering:
    if len(node.inputs) == 1:  # torch.cat would copy
        return Lowering(ctx.input(0))
    parts = ", ".join(ctx.input(i) for i in range(len(node.inputs)))
    return Lowering(call_source("torch.cat", f"[{parts}]", dim=node.attrs["dim"]))


@register("Reshape")
def reshape(ctx: TorchContext, node: Node) -> Lowering:
    x, target = ctx.input(0), ctx.out_shape()
    if reshape_reads_leading(ctx.shape(0), target):  # MXNet's output holds the leading elements
        return Lowering(f"{x}.reshape(-1)[:{math.prod(target)}].reshape({list(target)})")
    if reshape_moves_inferred(ctx.shape(0), node.attrs):
        return Lowering(f"{x}.reshape({list(target)})")
    return Lowering(f"{x}.reshape({', '.join(reshape_dims(x, len(ctx.shape(0)), node.attrs, ctx.out_shape()))})")


def reshape_dims(x: str, rank: int, attrs: dict, static: tuple[int, ...]) -> list[str]:
    """MXNet's Reshape target as expressions over ``x.shape``, so other input sizes reshape as MXNet would."""
    if not attrs["shape"]:  # deprecated ``target_shape``: the size found at conversion
        return [str(d) for d in static]
    return [str(term) if isinstance(term, int) else
            " * ".join(f"{x}.shape[{axis}]" for axis in term[0]) + (f" // {term[1]}" if term[1] != 1 else "")
            for term in reshape_terms(rank, attrs)]


@register("SliceChannel")
def slice_channel(ctx: TorchContext, node: Node) -> Lowering:
    a, x = node.attrs, ctx.input(0)
    axis = a["axis"] % len(ctx.shape(0))
    if a["num_outputs"] == 1:  # the one part is the tensor itself (read without an index)
        return Lowering(f"{x}.squeeze({axis})" if a["squeeze_axis"] else x)
    if a["squeeze_axis"]:  # each part has size 1 along ``axis``
        return Lowering(f"torch.unbind({x}, dim={axis})")
    return Lowering(f"torch.chunk({x}, {a['num_outputs']}, dim={axis})")


@register("amp_multicast")
def multicast(ctx: TorchContext, node: Node) -> Lowering:
    """Each input as it is, rounded to float16 where it becomes float16 (``semantics.shape.multicast_dtypes``)."""
    parts = []
    for index, ref in enumerate(node.inputs):
        x = ctx.input(index)
        rounded = ctx.dtypes[node.output(index)] == "float16" != ctx.dtypes.get(ref, "float32")
        parts.append(f"{x}.to(torch.float16).to({x}.dtype)" if rounded else x)
    return Lowering(f"({', '.join(parts)})")


@register("transpose")
def transpose(ctx: TorchContext, node: Node) -> Lowering:
    rank = len(ctx.shape(0))
    axes = node.attrs["axes"] or tuple(reversed(range(rank)))
    return Lowering(f"{ctx.input(0)}.permute({', '.join(map(str, axes))})")


@register(*DIAGONAL_OPS)
def diagonal(ctx: TorchContext, node: Node) -> Lowering:
    """PyTorch's tril, diag, diagflat and diagonal take NumPy's arguments."""
    a, x = node.attrs, ctx.input(0)
    diagonal_positions(node, ctx.shape(0))
    if node.op == "_npi_tril":
        square = f"{x}.unsqueeze(0).expand({ctx.shape(0)[0]}, -1)" if len(ctx.shape(0)) == 1 else x
        return Lowering(f"torch.tril({square}, {a['k']})")
    rank = len(ctx.shape(0))
    if node.op in ("_np_diag", "_np_diagflat") or node.op == "diag" and rank == 1:
        return Lowering(f"torch.{node.op.removeprefix('_np_')}({x}, {a['k']})")
    axes = [axis_index(a[key], rank) for key in ("axis1", "axis2")]
    picked = f"torch.diagonal({x}, {a['k'] if node.op == 'diag' else a['offset']}, {axes[0]}, {axes[1]})"
    return Lowering(f"{picked}.sum(-1)" if node.op == "_np_trace" else picked)


refuse(*UNRUNNABLE_OPS, reason=unrunnable_refusal)
