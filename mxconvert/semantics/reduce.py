"""Reductions: sum, mean, max, min, prod, nansum, nanprod, _square_sum, norm, argmax and argmin, moments (mean and
variance), _histogram, NumPy's all, any, std, var and cumsum (also spelled ``cumsum``). ``axis`` None or ()
reduces every axis; ``exclude`` reduces the axes not listed. Spelled in MXNet's NumPy interface (``_np_sum``...;
``schema.numpy_spelled``), ``axis`` () reduces none and every axis leaves a 0-d tensor."""
from __future__ import annotations

import numpy as np

from ..errors import NotExpressible
from ..ir import Node
from .rules import Shape, ShapeError, axis_index, shape_rule
from .schema import (COUNT, OpDef, alias, choice, define, in_range, numpy_spelled, optional, parse_bool,
                     parse_float32_tuple, parse_int, parse_shape)

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
REDUCTIONS = ("sum", "mean", "max", "min", "prod", "nansum", "nanprod", "_square_sum")


_REDUCE = OpDef({"axis": (optional(parse_shape), None), "keepdims": (parse_bool, False),
                 "exclude": (parse_bool, False)})


_ARG_REDUCE = OpDef({"axis": (optional(parse_int), None), "keepdims": (parse_bool, False)})


define({
    "norm": OpDef({"ord": (in_range(parse_int, 1, 2), 2), "axis": (optional(parse_shape), None),
                   "out_dtype": (optional(choice("float16", "float32", "float64", "int32", "int64", "int8")), None),
                   "keepdims": (parse_bool, False)}),
    "argmax": _ARG_REDUCE,
    "argmin": _ARG_REDUCE,
    # the mean and the (biased) variance over ``axes``, which MXNet requires
    # counts of the data in bin_cnt equal bins over range, or in the bins between the edges of a second input;
    # the edges follow the counts
    "_histogram": OpDef({"bin_cnt": (optional(COUNT), None), "range": (optional(parse_float32_tuple), None)},
                        outputs=lambda a: 2),
    "moments": OpDef({"axes": (optional(parse_shape), None), "keepdims": (parse_bool, False)}, outputs=lambda a: 2),
})


define({name: _REDUCE for name in REDUCTIONS})


# NumPy's reductions without a legacy op: all/any (bool), std/var (with ``ddof``), cumsum (a running sum)
NUMPY_REDUCTIONS = ("_np_all", "_np_any", "_npi_std", "_npi_var")
define({
    "_np_all": _REDUCE,
    "_np_any": _REDUCE,
    "_npi_std": OpDef({**_REDUCE.attrs, "ddof": (parse_int, 0)}),
    "_npi_var": OpDef({**_REDUCE.attrs, "ddof": (parse_int, 0)}),
    # ``dtype``: the accumulator's type (float16 and integer accumulators are not converted)
    "_np_cumsum": OpDef({"axis": (optional(parse_int), None),
                         "dtype": (optional(choice("float32", "float64")), None)}),
})


alias("sum_axis", "sum")
alias("max_axis", "max")
alias("min_axis", "min")


def numpy_reduction(attrs: dict[str, str]) -> dict[str, str]:
    """NumPy's reduction attributes onto MXNet's: an int or tuple ``axis`` (None: every axis), ``keepdims``;
    ``initial`` only None and ``dtype`` only None or float32 (a start value or another accumulation type has no
    counterpart)."""
    attrs = dict(attrs)
    if attrs.pop("initial", "None") != "None":
        raise ValueError("initial other than None")
    if attrs.pop("dtype", "None") not in ("None", "float32"):
        raise ValueError("dtype other than None or float32")
    axis = attrs.pop("axis", "None").strip()
    if axis != "None":
        attrs["axis"] = axis if axis.startswith(("(", "[")) else f"({axis},)"
    return attrs


def numpy_average(attrs: dict[str, str]) -> dict[str, str]:
    """``np.average`` without weights is ``mean``; weights or ``returned`` are refused."""
    attrs = dict(attrs)
    for name in ("weighted", "returned"):
        if attrs.pop(name, "False") not in ("False", "0"):
            raise ValueError(f"{name} other than False")
    return numpy_reduction(attrs)


for _name, _op in (("_np_sum", "sum"), ("_npi_mean", "mean"), ("_np_max", "max"), ("_np_amax", "max"),
                   ("_np_min", "min"), ("_np_amin", "min"), ("_np_prod", "prod"), ("_np_product", "prod")):
    alias(_name, _op, normalise=numpy_reduction)
alias("_np_sometrue", "_np_any")
alias("_npi_average", "mean", normalise=numpy_average)
alias("_npi_argmax", "argmax")
alias("_npi_argmin", "argmin")
alias("cumsum", "_np_cumsum")
alias("_npi_histogram", "_histogram")


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
def reduced_axes(attrs: dict, rank: int, numpy: bool = False) -> tuple[int, ...]:
    """The axes a sum/mean/max/... reduces, as MXNet reads ``axis`` and ``exclude`` (None or (): all; with
    ``numpy``, () is none)."""
    if attrs["axis"] is None or not attrs["axis"] and not numpy:
        return tuple(range(rank))
    axes = sorted(axis_index(axis, rank) for axis in attrs["axis"])
    if len(set(axes)) != len(axes):
        raise ShapeError(f"axis {attrs['axis']} has duplicates")
    return tuple(i for i in range(rank) if i not in axes) if attrs.get("exclude") else tuple(axes)


def reduced_shape(shape: Shape, axes: tuple[int, ...], keepdims: bool, numpy: bool = False) -> Shape:
    """The output of reducing ``axes``: size 1 there with ``keepdims``, else dropped (MXNet keeps one axis,
    NumPy none)."""
    if keepdims:
        return tuple(1 if i in axes else size for i, size in enumerate(shape))
    kept = tuple(size for i, size in enumerate(shape) if i not in axes)
    return kept if numpy else kept or (1,)


def node_axes(node: Node, rank: int) -> tuple[int, ...]:
    """The axes ``node`` (a reduction of ``REDUCTIONS``, ``norm`` or ``NUMPY_REDUCTIONS``) reduces."""
    return reduced_axes(node.attrs, rank, numpy_spelled(node))


@shape_rule(*REDUCTIONS, *NUMPY_REDUCTIONS, "norm")
def _reduction(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    return [reduced_shape(data, node_axes(node, len(data)), node.attrs["keepdims"], numpy_spelled(node))]


def square_sum_refusal(node: Node, *_: object) -> str | None:
    """Why a reduction is not converted: MXNet's _square_sum (row_sparse data only) ignores ``exclude``."""
    if node.op == "_square_sum" and node.attrs["exclude"]:
        return "exclude (MXNet's kernel ignores it)"
    return None


def histogram_edges(attrs: dict, dtype: str) -> np.ndarray:
    """The bin_cnt + 1 edges of a histogram over ``range``, computed in float64 and stored in the data's type, as
    MXNet does. Edges that repeat in that type (integer data) are not expressible: MXNet moves its first guess of
    a value's bin by one bin at most, which past a repeated edge is not the bin the edges give."""
    count, (low, high) = attrs["bin_cnt"], attrs["range"]
    steps = np.arange(count + 1, dtype=np.float64)
    edges = ((high * steps + (count - steps) * low) / count).astype(dtype)
    if (np.diff(edges) <= 0).any():
        raise NotExpressible(f"bin edges {edges.tolist()} repeat in {dtype}")
    return edges


def histogram_bounds(attrs: dict, dtype: str) -> tuple[float, float]:
    """The least and the greatest value of ``dtype`` that a histogram over ``range`` counts: MXNet compares the data
    with the range in float64."""
    if not np.issubdtype(np.dtype(dtype), np.floating):
        return float(np.ceil(attrs["range"][0])), float(np.floor(attrs["range"][1]))
    low, high = (np.asarray(bound, dtype) for bound in attrs["range"])
    if low < attrs["range"][0]:
        low = np.nextafter(low, np.asarray(np.inf, dtype))
    if high > attrs["range"][1]:
        high = np.nextafter(high, np.asarray(-np.inf, dtype))
    return float(low), float(high)


@shape_rule("_histogram")
def _histogram(node: Node, shapes: list[Shape]) -> list[Shape]:
    count, bounds = node.attrs["bin_cnt"], node.attrs["range"]
    if (count is None) != (bounds is None):
        raise ShapeError("bin_cnt and range go together")
    if count is not None:
        if len(shapes) != 1 or len(bounds) != 2 or bounds[0] == bounds[1]:
            raise ShapeError(f"bin_cnt takes the data alone and a range of two different bounds, not {bounds}")
        return [(count,), (count + 1,)]
    if len(shapes) != 2 or len(shapes[1]) != 1 or shapes[1][0] < 2:
        raise ShapeError(f"the bins are a 1-D tensor of at least two edges, not of shape {shapes[1:]}")
    return [(shapes[1][0] - 1,), shapes[1]]


def moments_axes(node: Node, rank: int) -> tuple[int, ...]:
    """The axes ``moments`` reduces: MXNet refuses none."""
    if not node.attrs["axes"]:
        raise ShapeError("moments needs axes (MXNet refuses none; list every axis for global moments)")
    return reduced_axes({"axis": node.attrs["axes"]}, rank)


@shape_rule("moments")
def _moments(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    return [reduced_shape(data, moments_axes(node, len(data)), node.attrs["keepdims"])] * 2


@shape_rule("argmax", "argmin")
def _arg_reduction(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, axis = shapes[0], node.attrs["axis"]
    axes = tuple(range(len(data))) if axis is None else (axis_index(axis, len(data)),)
    return [reduced_shape(data, axes, node.attrs["keepdims"], numpy_spelled(node))]


@shape_rule("_np_cumsum")
def _cumsum(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The data's shape, flattened where no axis is given. MXNet 1.9.1 fails on a negative axis."""
    data, axis = shapes[0], node.attrs["axis"]
    if axis is None:
        return [(int(np.prod(data)),)]
    if axis < 0:
        raise ShapeError(f"axis {axis}: MXNet's cumsum takes 0..{len(data) - 1}")
    axis_index(axis, len(data))
    return [data]
