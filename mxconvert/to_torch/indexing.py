"""Indexing, creation and sorting: take, pick, one_hot, gather_nd, where, topk, sort, argsort, shape_array,
size_array, _arange, _contrib_arange_like, _zeros, _ones, _full, zeros_like, ones_like, and the random draws
_random_normal, _random_uniform, _random_uniform_like and _sample_multinomial; boolean_mask (boolean indexing),
nonzero (torch.nonzero), unique (torch.unique) and bincount, whose output sizes the data
decides; histogram and NumPy's boolean mask assignment.

Float indices become int64 as MXNet reads them (truncated towards zero); integer outputs (indices, shapes) are
carried as floats, as everywhere in the generated module. Sizes are read from the live tensors."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir import Node, TensorRef
from ..semantics.indexing import (CREATED_OPS, MASK_ASSIGN_OPS, RANDOM_OPS, UNIQUE_EXTRAS, arange_range,
                                  created_values, dtype_value, fill_values, full_like_value, histogram_edges,
                                  histogram_range, index_array_axes, mask_assign_form, mask_assign_layout,
                                  multinomial_count, ndarray_function_refusal, pick_axis, random_refusal, ravel_sizes,
                                  share_memory_refusal, sort_axis, unconvertible_values, unique_axis)
from ..semantics.rules import axis_index
from .registry import HELPERS, num, refuse
from .registry import Lowering, register

if TYPE_CHECKING:
    from .codegen import TorchContext

HELPERS.update({
    "mxnet_index": '''
def mxnet_index(index: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """MXNet's float indices as int64: truncated towards zero (NaN and values past int64 become its lowest value,
    as MXNet's cast gives on x86), then clipped into [0, size) or wrapped (``raise`` runs in-range indices only,
    which wrapping keeps)."""
    lowest = torch.full_like(index, -9.223372036854775808e18)
    index = torch.where(index.abs() < 9.223372036854775808e18, index, lowest).to(torch.int64)
    return index.clamp(0, size - 1) if mode == "clip" else torch.remainder(index, size)
''',
    "mxnet_take": '''
def mxnet_take(x: torch.Tensor, index: torch.Tensor, axis: int, mode: str) -> torch.Tensor:
    """MXNet's ``take``: the slices of ``x`` along ``axis`` at ``index``, which takes that axis' place."""
    picked = torch.index_select(x, axis, mxnet_index(index.reshape(-1), x.shape[axis], mode))
    return picked.reshape(x.shape[:axis] + index.shape + x.shape[axis + 1:])
''',
    "mxnet_gather_nd": '''
def mxnet_gather_nd(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """MXNet's ``gather_nd``: ``index[:, j]`` addresses the leading axes of ``x``; a negative index counts from the
    end (added to the size before truncation)."""
    count = index.shape[0]
    flat = torch.zeros(index.shape[1:], dtype=torch.int64, device=x.device)
    for axis in range(count):
        position = torch.where(index[axis] < 0, index[axis] + x.shape[axis], index[axis])
        flat = flat * x.shape[axis] + position.to(torch.int64)
    return x.reshape([-1] + list(x.shape[count:]))[flat]
''',
    "mxnet_topk": '''
def mxnet_topk(x: torch.Tensor, axis: int, k: int, ascending: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """The first ``k`` values along ``axis`` in MXNet's order (ties: the lower index first) and their indices, as
    floats."""
    values, indices = torch.sort(x, dim=axis, descending=not ascending, stable=True)
    return values.narrow(axis, 0, k), indices.narrow(axis, 0, k).to(x.dtype)
''',
})


def _data_device(ctx: TorchContext) -> str:
    """The device of the model's data input, where tensors made from nothing are placed."""
    return f"{ctx.expr_of(TensorRef(ctx.graph.inputs[0].name))}.device"


@register("take")
def take(ctx: TorchContext, node: Node) -> Lowering:
    axis = axis_index(node.attrs["axis"], len(ctx.shape(0)))
    ctx.helper("mxnet_index")
    return Lowering(f"{ctx.helper('mxnet_take')}({ctx.input(0)}, {ctx.input(1)}, {axis}, {node.attrs['mode']!r})")


@register("pick")
def pick(ctx: TorchContext, node: Node) -> Lowering:
    x, rank = ctx.input(0), len(ctx.shape(0))
    axis = pick_axis(node.attrs, rank)
    ctx.helper("mxnet_index")
    index = f"mxnet_index({ctx.input(1)}, {x}.shape[{axis}], {node.attrs['mode']!r})"
    if rank > 1 and len(ctx.shape(1)) < rank:
        index = f"{index}.unsqueeze({axis})"
    picked = f"torch.gather({x}, {axis}, {index})"
    return Lowering(f"{picked}.squeeze({axis})" if rank > 1 and not node.attrs["keepdims"] else picked)


@register("one_hot", check=unconvertible_values)
def one_hot(ctx: TorchContext, node: Node) -> Lowering:
    """Positions equal to the truncated index are on; negative or too large indices leave a row all off."""
    a, index = node.attrs, ctx.input(0)
    hit = f"{index}.to(torch.int64).unsqueeze(-1) == torch.arange({a['depth']}, device={index}.device)"
    on, off = (num(value) for value in fill_values(a, ("on_value", "off_value")))
    return Lowering(f"torch.where({hit}, {on}, {off}).to({index}.dtype)")


@register("gather_nd")
def gather_nd(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"{ctx.helper('mxnet_gather_nd')}({ctx.input(0)}, {ctx.input(1)})")


HELPERS["mxnet_scatter_set_nd"] = '''
def mxnet_scatter_set_nd(x: torch.Tensor, value: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """x with value written where indices (M x ...) address its leading M axes."""
    index: List[Optional[torch.Tensor]] = [row.long() for row in indices.unbind(0)]
    return x.index_put(index, value)
'''


@register("_scatter_set_nd")
def scatter_set_nd(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"{ctx.helper('mxnet_scatter_set_nd')}({ctx.input(0)}, {ctx.input(1)}, {ctx.input(2)})")


@register("where")
def where(ctx: TorchContext, node: Node) -> Lowering:
    """Non-zero conditions take x; a 1-D condition selects whole rows."""
    condition, rank = ctx.input(0), len(ctx.shape(1))
    if len(ctx.shape(0)) < rank:
        condition = f"{condition}.reshape([-1] + [1] * {rank - 1})"
    return Lowering(f"torch.where({condition} != 0, {ctx.input(1)}, {ctx.input(2)})")


def _top(ctx: TorchContext, node: Node, every: bool) -> tuple[str, str]:
    """``mxnet_topk`` along the axis, or along the flattened data without one, of ``k`` elements or (``every``)
    all the live data has; returns it and the data it sorts."""
    a = node.attrs
    axis = sort_axis(a, ctx.shape(0)) or 0
    x = ctx.input(0) if a["axis"] is not None else f"{ctx.input(0)}.reshape(-1)"
    count = f"{x}.shape[{axis}]" if every else a["k"]
    return f"{ctx.helper('mxnet_topk')}({x}, {axis}, {count}, {a['is_ascend']})", x


@register("topk")
def topk(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    top, x = _top(ctx, node, a["k"] < 1)
    if a["ret_typ"] == "mask":
        mask = f"torch.zeros_like({x}).scatter({sort_axis(a, ctx.shape(0)) or 0}, {top}[1].to(torch.int64), 1.0)"
        return Lowering(f"{mask}.reshape({ctx.input(0)}.shape)")
    return Lowering(f"{top}[1]" if a["ret_typ"] == "indices" else top)  # value: the indices follow, hidden


@register("sort", "argsort")
def sort(ctx: TorchContext, node: Node) -> Lowering:
    top, _ = _top(ctx, node, True)
    return Lowering(top if node.op == "sort" else f"{top}[1]")  # sort: the indices follow, hidden


@register("shape_array")
def shape_array(ctx: TorchContext, node: Node) -> Lowering:
    x = ctx.input(0)
    return Lowering(f"torch.tensor({x}.shape, dtype={x}.dtype, device={x}.device)")


@register("_npi_diag_indices_from")
def diag_indices_from(ctx: TorchContext, node: Node) -> Lowering:
    x = ctx.input(0)
    rows = len(ctx.shape(0))
    return Lowering(f"torch.arange({x}.shape[0], dtype={x}.dtype, device={x}.device).expand({rows}, -1)")


@register("size_array")
def size_array(ctx: TorchContext, node: Node) -> Lowering:
    x = ctx.input(0)
    return Lowering(f"torch.tensor([{x}.numel()], dtype={x}.dtype, device={x}.device)")


_TORCH_DTYPES = {"float16": "torch.float16", "float32": "torch.float32", "float64": "torch.float64",
                 "int32": "torch.int32", "int64": "torch.int64", "int8": "torch.int8", "uint8": "torch.uint8"}


def _range(positions: str, repeat: int, start: float, step: float, dtype: str) -> str:
    """MXNet's range kernel, ``start + (i / repeat) * step`` (C division) computed in ``dtype``, as float32."""
    blocks = f"torch.div({positions}, {repeat}, rounding_mode='trunc')" if repeat != 1 else positions
    integral = dtype.startswith(("int", "uint"))
    start, step = (str(int(v)) if integral else num(v) for v in (start, step))
    values = f"{blocks}.to({_TORCH_DTYPES[dtype]}) * {step} + {start}"
    return values if dtype == "float32" else f"({values}).to(torch.float32)"


@register("_arange", check=unconvertible_values)
def arange(ctx: TorchContext, node: Node) -> Lowering:
    start, step, count = arange_range(node.attrs)
    positions = f"torch.arange({count}, device={_data_device(ctx)})"
    return Lowering(_range(positions, node.attrs["repeat"], start, step, node.attrs["dtype"]))


@register("_contrib_arange_like")
def arange_like(ctx: TorchContext, node: Node) -> Lowering:
    a, x = node.attrs, ctx.input(0)
    if a["axis"] is None:
        count, shape = f"{x}.numel()", f"{x}.shape"
    else:
        count, shape = f"{x}.shape[{axis_index(a['axis'], len(ctx.shape(0)))}]", None
    start, step = (dtype_value(a[key], "float32") for key in ("start", "step"))
    values = _range(f"torch.arange({count}, device={x}.device)", a["repeat"], start, step, "float32")
    return Lowering(f"({values}).reshape({shape})" if shape else values)


@register("_zeros", "_ones", "_full", check=unconvertible_values)
def filled(ctx: TorchContext, node: Node) -> Lowering:
    value = fill_values(node.attrs, ("value",))[0] if node.op == "_full" else float(node.op == "_ones")
    fill = num(value)
    # the shape attribute with its unknown (0) sizes inferred
    return Lowering(f"torch.full({ctx.live_shape(node.output())}, {fill}, device={_data_device(ctx)})")


@register("zeros_like", "ones_like")
def filled_like(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"torch.{node.op}({ctx.input(0)})")


HELPERS["mxnet_sample_multinomial"] = '''
def mxnet_sample_multinomial(x: torch.Tensor, count: int, shape: List[int]) -> Tuple[torch.Tensor, torch.Tensor]:
    """``count`` draws from each distribution along the last axis of ``x``, as floats of the given shape, and
    the log-probability of each draw."""
    probabilities = x.reshape(-1, x.shape[-1])
    draws = torch.multinomial(probabilities, count, replacement=True)
    return draws.reshape(shape).to(x.dtype), torch.gather(probabilities, 1, draws).log().reshape(shape)
'''


@register("_random_normal", "_random_uniform", check=unconvertible_values)
def random_draw(ctx: TorchContext, node: Node) -> Lowering:
    a, shape, device = node.attrs, list(ctx.out_shape()), _data_device(ctx)
    if node.op == "_random_normal":
        return Lowering(f"torch.randn({shape}, device={device}) * {num(a['scale'])} + {num(a['loc'])}")
    return Lowering(f"torch.rand({shape}, device={device}) * {num(a['high'] - a['low'])} + {num(a['low'])}")


@register("_random_uniform_like")
def random_uniform_like(ctx: TorchContext, node: Node) -> Lowering:
    low, high = node.attrs["low"], node.attrs["high"]
    return Lowering(f"torch.rand_like({ctx.input(0)}) * {num(high - low)} + {num(low)}")


@register("_sample_multinomial", check=unconvertible_values)
def sample_multinomial(ctx: TorchContext, node: Node) -> Lowering:
    x, count, shape = ctx.input(0), multinomial_count(node.attrs), list(node.attrs["shape"])
    shape = f"list({x}.shape[:-1]) + {shape}" if len(ctx.shape(0)) > 1 else list(ctx.out_shape())  # live leading axes
    drawn = f"{ctx.helper('mxnet_sample_multinomial')}({x}, {count}, {shape})"
    return Lowering(drawn if node.attrs["get_prob"] else f"{drawn}[0]")


refuse(*RANDOM_OPS, reason=random_refusal)
refuse("_npi_share_memory", reason=share_memory_refusal)
refuse("fill_element_0index", reason=ndarray_function_refusal)


@register(*CREATED_OPS, check=unconvertible_values)
def created(ctx: TorchContext, node: Node) -> Lowering:
    """The values, computed once, as a buffer."""
    values = created_values(node)
    return Lowering(f"self.{ctx.name}.values", "nn.Module()", {"values": values},
                    [f"self.{ctx.name}.register_buffer('values', torch.empty({list(values.shape)}))"])


@register("_npi_full_like", check=unconvertible_values)
def full_like(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"torch.full_like({ctx.input(0)}, {num(full_like_value(node.attrs))})")


HELPERS.update({
    "mxnet_scatter_nd": '''
def mxnet_scatter_nd(x: torch.Tensor, index: torch.Tensor, shape: List[int]) -> torch.Tensor:
    """MXNet's ``scatter_nd``: zeros of ``shape`` with ``x`` written where ``index[:, j]`` (truncated) addresses
    their leading axes."""
    count, rows = index.shape[0], 1
    row = torch.zeros(index.shape[1:], dtype=torch.int64, device=x.device)
    for axis in range(count):
        row = row * shape[axis] + index[axis].to(torch.int64)
        rows *= shape[axis]
    out = x.new_zeros([rows] + shape[count:])
    out[row.reshape(-1)] = x.reshape([-1] + shape[count:])
    return out.reshape(shape)
''',
    "mxnet_ravel_multi_index": '''
def mxnet_ravel_multi_index(x: torch.Tensor, shape: List[int]) -> torch.Tensor:
    """MXNet's ``ravel_multi_index``: row ``j`` of ``x`` indexes axis ``j`` of ``shape``; ``r = trunc(r * size +
    index)`` axis by axis, as its integer accumulator reads float indices."""
    flat = x[0].trunc()
    for axis in range(1, len(shape)):
        flat = (flat * shape[axis] + x[axis]).trunc()
    return flat
''',
    "mxnet_unravel_index": '''
def mxnet_unravel_index(x: torch.Tensor, shape: List[int]) -> torch.Tensor:
    """MXNet's ``unravel_index``: the truncated index divided by each size from the last (C division, the
    remainder's sign the index's); the first axis keeps the rest unwrapped. An index past int32 (or NaN) reads as
    int32's lowest, as MXNet's int32 index reads it on x86."""
    inside = (x >= -2.0**31) & (x < 2.0**31)
    rest = torch.where(inside, x, torch.full_like(x, -2.0**31)).to(torch.int64)
    rows: List[torch.Tensor] = []
    for axis in range(len(shape) - 1, 0, -1):
        quotient = torch.div(rest, shape[axis], rounding_mode="trunc")
        rows.insert(0, rest - quotient * shape[axis])
        rest = quotient
    rows.insert(0, rest)
    return torch.stack(rows).to(x.dtype)
''',
    "mxnet_index_array": '''
def mxnet_index_array(x: torch.Tensor, axes: List[int]) -> torch.Tensor:
    """MXNet's ``index_array``: each element's position along ``axes``, last, as floats."""
    grids = torch.meshgrid([torch.arange(size, device=x.device) for size in x.shape], indexing="ij")
    return torch.stack([grids[axis] for axis in axes], -1).to(x.dtype)
''',
})


@register("_contrib_boolean_mask")
def boolean_mask(ctx: TorchContext, node: Node) -> Lowering:
    """The rows whose index is non-zero (NaN included, as MXNet's C truth test)."""
    return Lowering(f"{ctx.input(0)}[{ctx.input(1)} != 0]")


@register("_npx_nonzero")
def nonzero(ctx: TorchContext, node: Node) -> Lowering:
    """The coordinates of the non-zero elements, one row each (0-d data: read as one element), as floats."""
    x = ctx.input(0) if ctx.shape(0) else f"{ctx.input(0)}.reshape(1)"
    return Lowering(f"torch.nonzero({x} != 0).to({ctx.input(0)}.dtype)")


HELPERS["mxnet_unique"] = '''
def mxnet_unique(found: Tuple[torch.Tensor, torch.Tensor, torch.Tensor], length: int, first: bool, inverse: bool,
                 counts: bool) -> List[torch.Tensor]:
    """MXNet's ``unique`` from ``torch.unique``'s (values, inverse, counts) over ``length`` elements (slices): the
    values, then as asked where each first occurs, every element's position among them and their counts, as
    floats."""
    values, where, count = found
    outputs = [values]
    if first:
        positions = torch.arange(length, device=where.device)
        outputs.append(torch.full_like(count, length).scatter_reduce(0, where, positions, "amin").to(values.dtype))
    if inverse:
        outputs.append(where.to(values.dtype))
    if counts:
        outputs.append(count.to(values.dtype))
    return outputs
'''


@register("_npi_unique")
def unique(ctx: TorchContext, node: Node) -> Lowering:
    """torch.unique, sorted (slices compared in order along ``axis``); 0-d data read as one element."""
    a, x = node.attrs, ctx.input(0)
    axis = unique_axis(a, ctx.shape(0))
    data, dim = (f"{x}.reshape(-1)", "") if axis is None else (x, f", dim={axis}")
    if node.num_outputs == 1:
        return Lowering(f"torch.unique({data}, sorted=True{dim})")
    found = f"torch.unique({data}, sorted=True, return_inverse=True, return_counts=True{dim})"
    length = f"{x}.numel()" if axis is None else f"{x}.shape[{axis}]"
    flags = ", ".join(str(a[key]) for key in UNIQUE_EXTRAS)
    return Lowering(f"{ctx.helper('mxnet_unique')}({found}, {length}, {flags})")


@register("_npi_bincount")
def bincount(ctx: TorchContext, node: Node) -> Lowering:
    """torch.bincount of the (whole, carried as float) data; its counts or weight sums in MXNet's type."""
    weights = f"{ctx.input(1)}.reshape(-1)" if node.attrs["has_weights"] else "None"
    counted = f"torch.bincount({ctx.input(0)}.reshape(-1).to(torch.int64), {weights}, {node.attrs['minlength']})"
    return Lowering(f"{counted}.to({ctx.input(0)}.dtype)")


HELPERS.update({
    "mxnet_equal_bins": '''
def mxnet_equal_bins(x: torch.Tensor, edges: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """MXNet's bin of each element among equal bins over [low, high] (-1: outside): its position scaled in double
    and truncated, then moved down or up one where the (float32) ``edges`` say so."""
    count = edges.shape[0] - 1
    wide = x.to(torch.float64)
    inside = (wide >= low) & (wide <= high)
    scaled = ((wide - low) * count / (high - low)).floor().clamp(0, count - 1)
    bins = torch.where(inside, scaled, torch.zeros_like(scaled)).to(torch.int64)
    bins = bins - (x < edges[bins]).to(torch.int64)
    bins = bins + ((x >= edges[bins + 1]) & (bins != count - 1)).to(torch.int64)
    return torch.where(inside, bins, torch.full_like(bins, -1))
''',
    "mxnet_given_bins": '''
def mxnet_given_bins(x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """MXNet's bin of each element among the ``edges`` given (-1: outside them): before the first edge it does not
    reach (``x - edge >= 0`` fails), the last bin at most."""
    count = edges.shape[0] - 1
    stops = (~(x.unsqueeze(1) - edges.unsqueeze(0) >= 0)).to(torch.int32)
    first = torch.argmax(torch.cat([stops, torch.ones_like(stops[:, :1])], 1), dim=1)
    inside = (x >= edges[0]) & (x <= edges[count])
    return torch.where(inside, (first - 1).clamp(max=count - 1), torch.full_like(first, -1))
''',
    "mxnet_bin_counts": '''
def mxnet_bin_counts(bins: torch.Tensor, count: int, like: torch.Tensor) -> torch.Tensor:
    """How many elements each of ``count`` bins holds, from every element's bin (-1: none), in ``like``'s type."""
    return (bins.unsqueeze(1) == torch.arange(count, device=bins.device)).sum(0).to(like.dtype)
''',
})


@register("batch_take")
def batch_take(ctx: TorchContext, node: Node) -> Lowering:
    """One element per row, its index clipped into the row."""
    x, index = ctx.input(0), ctx.input(1)
    ctx.helper("mxnet_index")
    picked = f"torch.gather({x}, 1, mxnet_index({index}.reshape(-1, 1), {x}.shape[1], 'clip'))"
    return Lowering(f"{picked}.reshape({index}.shape)")


@register("scatter_nd")
def scatter_nd(ctx: TorchContext, node: Node) -> Lowering:
    shape = list(node.attrs["shape"])
    return Lowering(f"{ctx.helper('mxnet_scatter_nd')}({ctx.input(0)}, {ctx.input(1)}, {shape})")


@register("_ravel_multi_index", "_unravel_index")
def ravel(ctx: TorchContext, node: Node) -> Lowering:
    helper = "mxnet_ravel_multi_index" if node.op == "_ravel_multi_index" else "mxnet_unravel_index"
    x = f"{ctx.input(0)}.reshape(-1)" if node.op == "_unravel_index" and len(ctx.shape(0)) > 1 else ctx.input(0)
    return Lowering(f"{ctx.helper(helper)}({x}, {list(ravel_sizes(node))})")


@register("_contrib_index_array")
def index_array(ctx: TorchContext, node: Node) -> Lowering:
    axes = index_array_axes(node.attrs, len(ctx.shape(0)))
    return Lowering(f"{ctx.helper('mxnet_index_array')}({ctx.input(0)}, {axes})")


@register("_contrib_index_copy")
def index_copy(ctx: TorchContext, node: Node) -> Lowering:
    """The old tensor with its rows at the (truncated) indices replaced (MXNet defines in-range indices only)."""
    return Lowering(f"{ctx.input(0)}.index_copy(0, {ctx.input(1)}.to(torch.int64), {ctx.input(2)})")


@register("_histogram")
def histogram(ctx: TorchContext, node: Node) -> Lowering:
    """Each element's bin as MXNet's kernel finds it, counted per bin (as floats); the edges beside (equal bins':
    computed once, as a buffer; given ones detached, as MXNet has no gradient for histogram)."""
    x = f"{ctx.input(0)}.reshape(-1)"
    counts = ctx.helper("mxnet_bin_counts")
    if node.attrs["bin_cnt"] is None:
        bins = f"{ctx.helper('mxnet_given_bins')}({x}, {ctx.input(1)})"
        return Lowering(f"({counts}({bins}, {ctx.shape(1)[0] - 1}, {ctx.input(0)}), {ctx.input(1)}.detach())")
    edges = histogram_edges(node.attrs, ctx.dtypes.get(node.inputs[0], "float32"))
    low, high = histogram_range(node.attrs)
    bins = f"{ctx.helper('mxnet_equal_bins')}({x}, self.{ctx.name}.edges, {num(low)}, {num(high)})"
    return Lowering(f"({counts}({bins}, {node.attrs['bin_cnt']}, {ctx.input(0)}), self.{ctx.name}.edges)",
                    "nn.Module()", {"edges": edges},
                    [f"self.{ctx.name}.register_buffer('edges', torch.empty({list(edges.shape)}))"])


HELPERS["mxnet_mask_assign_ordered"] = '''
def mxnet_mask_assign_ordered(x: torch.Tensor, hit: torch.Tensor, value: torch.Tensor, leading: int,
                              trailing: int) -> torch.Tensor:
    """``x`` (as (leading, masked, trailing)) where the flat mask ``hit`` is set takes the slice of ``value`` along
    its middle axis that the running count of set positions picks."""
    order = (torch.cumsum(hit.to(torch.int64), 0) - 1).clamp(min=0)
    slices = value.reshape(leading, -1, trailing).index_select(1, order)
    return torch.where(hit.reshape(1, -1, 1), slices, x.reshape(leading, -1, trailing)).reshape(x.shape)
'''


@register(*MASK_ASSIGN_OPS)
def boolean_mask_assign(ctx: TorchContext, node: Node) -> Lowering:
    """The value where the mask (broadcast over the data's other axes) is non-zero: one value, a slice broadcast,
    or (``ordered``) the slice the running count of masked positions picks."""
    x, data, mask = ctx.input(0), ctx.shape(0), ctx.shape(1)
    value = ctx.shape(2) if len(node.inputs) > 2 else None
    form = mask_assign_form(node, data, mask, value)
    broadcast, piece, leading, _, trailing = mask_assign_layout(node, data, mask)
    hit = f"({ctx.input(1)} != 0)"
    if form == "ordered":
        helper = ctx.helper("mxnet_mask_assign_ordered")
        return Lowering(f"{helper}({x}, {hit}.reshape(-1), {ctx.input(2)}, {leading}, {trailing})")
    if value is None:
        fill = f"torch.full_like({x}, {num(dtype_value(node.attrs['value'], 'float32'))})"
    elif form == "one":
        fill = f"{ctx.input(2)}.reshape(())"
    else:
        fill = f"{ctx.input(2)}.reshape({list(piece)})"
    return Lowering(f"torch.where({hit}.reshape({list(broadcast)}), {fill}, {x})")
