"""Reductions: sum, mean, max, min, prod, nansum, nanprod, _square_sum, norm, argmax and argmin, moments (mean and
variance), NumPy's all, any, std, var and cumsum (also spelled ``cumsum``). ``axis`` None or ()
reduces every axis; ``exclude`` reduces the axes not listed. Spelled in MXNet's NumPy interface (``_np_sum``...;
``schema.numpy_spelled``), ``axis`` () reduces none and every axis leaves a 0-d tensor."""
from __future__ import annotations

import math

import numpy as np

from ..ir import Node
from .rules import Shape, ShapeError, axis_index, shape_rule
from .schema import (OpDef, alias, choice, define, numpy_spelled, optional, parse_bool, parse_float, parse_int,
                     parse_shape)

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
REDUCTIONS = ("sum", "mean", "max", "min", "prod", "nansum", "nanprod", "_square_sum")


_REDUCE = OpDef({"axis": (optional(parse_shape), None), "keepdims": (parse_bool, False),
                 "exclude": (parse_bool, False)})


_ARG_REDUCE = OpDef({"axis": (optional(parse_int), None), "keepdims": (parse_bool, False)})


define({
    # ``ord`` other than 1 and 2 comes from ``_npi_norm`` alone: MXNet's legacy ``norm`` refuses it (shape rule)
    # ``flag``: np.linalg.norm's kind, as ``_npi_norm`` carries it (-1: ``ord``'s norm, which without an axis is a
    # matrix norm of data of two or more axes; 1, -2: L2), refused in the shape rule where it is a matrix norm
    "norm": OpDef({"ord": (parse_float, 2.0), "axis": (optional(parse_shape), None),
                   "out_dtype": (optional(choice("float16", "float32", "float64", "int32", "int64", "int8")), None),
                   "keepdims": (parse_bool, False), "flag": (parse_int, -1)}),
    "argmax": _ARG_REDUCE,
    "argmin": _ARG_REDUCE,
    # the mean and the (biased) variance over ``axes``, which MXNet requires
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


# NumPy's percentile of a scalar q: the sorted values over the reduced axes, at q% of the way through them
define({"_npi_percentile": OpDef({"axis": (optional(parse_shape), None),
                                  "interpolation": (choice("linear", "lower", "higher", "midpoint", "nearest"),
                                                    "linear"),
                                  "keepdims": (parse_bool, False), "q_scalar": (optional(parse_float), None)})})


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
def numpy_norm(attrs: dict[str, str]) -> dict[str, str]:
    """``np.linalg.norm``'s reductions onto ``norm``: a vector norm of any finite order over one axis or every axis
    (``flag`` -1); the Frobenius norm (``flag`` 1: L2 over the axes) and ``flag`` -2 (``axis`` None: L2 over every
    axis) whatever ``ord`` is, as MXNet computes them; the infinite orders (MXNet's kernel refuses them) and the
    matrix norms (singular values, column and row sums) are refused."""
    attrs = dict(attrs)
    flag, order = parse_int(attrs.pop("flag", "-1")), parse_float(attrs.get("ord", "2"))
    axis = attrs.get("axis", "None").strip()
    if flag in (0, 2):
        raise ValueError("the nuclear or spectral norm of a matrix (its singular values)")
    if flag in (1, -2):
        return {**attrs, "ord": "2", "axis": axis, "flag": str(flag)}
    if not math.isfinite(order):
        raise ValueError(f"ord {attrs.get('ord')}: only finite orders of vector norms are converted")
    if axis != "None" and len(parse_shape(axis)) > 1:
        raise ValueError(f"ord {attrs.get('ord')} over the matrices of axes {axis}")
    return {**attrs, "ord": repr(order), "axis": axis, "flag": str(flag)}


alias("_npi_norm", "norm", normalise=numpy_norm)
alias("_np_sometrue", "_np_any")
# npx.constraint_check: whether every element is true, where MXNet raises (with ``msg``) on a false one; the
# converted model gives False there instead
alias("_npx_constraint_check", "_np_all", normalise=lambda attrs: {})
alias("_npi_average", "mean", normalise=numpy_average)
alias("_npi_argmax", "argmax")
alias("_npi_argmin", "argmin")
alias("cumsum", "_np_cumsum")


def channel_axis(attrs: dict[str, str]) -> dict[str, str]:
    """``argmax_channel``: argmax along axis 1, dropped; MXNet reads none of the attributes a file gives it."""
    return {"axis": "1"}


alias("argmax_channel", "argmax", normalise=channel_axis)


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
    if node.op == "norm" and not numpy_spelled(node) and node.attrs["ord"] not in (1, 2):
        raise ShapeError(f"norm takes ord 1 or 2, not {node.attrs['ord']:g} (as MXNet's legacy norm)")
    if node.op == "norm" and numpy_spelled(node) and node.attrs["axis"] is None and len(data) > 1 \
            and node.attrs["flag"] == -1:
        raise ShapeError(f"ord {node.attrs['ord']:g} without an axis: MXNet's matrix norm of the last two axes "
                         "is not converted")
    return [reduced_shape(data, node_axes(node, len(data)), node.attrs["keepdims"], numpy_spelled(node))]


def square_sum_refusal(node: Node, *_: object) -> str | None:
    """Why a reduction is not converted: MXNet's _square_sum (row_sparse data only) ignores ``exclude``."""
    if node.op == "_square_sum" and node.attrs["exclude"]:
        return "exclude (MXNet's kernel ignores it)"
    return None


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


def percentile_taps(attrs: dict, count: int) -> list[tuple[int, float]]:
    """Where ``_npi_percentile`` reads among ``count`` sorted values, as MXNet's kernel does: one position (lower,
    higher, nearest: C's round) or two with their float32 weights (linear, and midpoint between floor and ceil);
    the position q * (count - 1) / 100 is a float32."""
    position = np.float32(attrs["q_scalar"] * (count - 1) / 100.0)
    mode = attrs["interpolation"]
    if mode in ("lower", "higher", "nearest"):  # the position is not negative: C's round is floor(p + 0.5)
        rounded = {"lower": math.floor, "higher": math.ceil, "nearest": lambda p: math.floor(p + 0.5)}[mode]
        return [(rounded(float(position)), 1.0)]
    if mode == "midpoint":
        position = np.float32((math.floor(position) + math.ceil(position)) / np.float32(2))
    below = math.floor(position)
    above_weight = np.float32(position - np.float32(below))
    return [(below, float(np.float32(1) - above_weight)), (min(below + 1, count - 1), float(above_weight))]


@shape_rule("_npi_percentile")
def _percentile(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if node.attrs["q_scalar"] is None or len(shapes) != 1:
        raise ShapeError("percentile of a q given as a tensor is not converted (only a scalar q)")
    if not 0 <= node.attrs["q_scalar"] <= 100:
        raise ShapeError(f"percentile {node.attrs['q_scalar']} is outside [0, 100]")
    return [reduced_shape(data, node_axes(node, len(data)), node.attrs["keepdims"], numpy=True)]
