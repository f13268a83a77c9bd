"""Reductions: sum, mean, max, min, prod, nansum, nanprod, norm, argmax and argmin. ``axis`` None or ()
reduces every axis; ``exclude`` reduces the axes not listed."""
from __future__ import annotations

from ..ir import Node
from .rules import Shape, ShapeError, axis_index, shape_rule
from .schema import OpDef, alias, choice, define, in_range, optional, parse_bool, parse_int, parse_shape

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
REDUCTIONS = ("sum", "mean", "max", "min", "prod", "nansum", "nanprod")


_REDUCE = OpDef({"axis": (optional(parse_shape), None), "keepdims": (parse_bool, False),
                 "exclude": (parse_bool, False)})


_ARG_REDUCE = OpDef({"axis": (optional(parse_int), None), "keepdims": (parse_bool, False)})


define({
    "norm": OpDef({"ord": (in_range(parse_int, 1, 2), 2), "axis": (optional(parse_shape), None),
                   "out_dtype": (optional(choice("float16", "float32", "float64", "int32", "int64", "int8")), None),
                   "keepdims": (parse_bool, False)}),
    "argmax": _ARG_REDUCE,
    "argmin": _ARG_REDUCE,
})


define({name: _REDUCE for name in REDUCTIONS})


alias("sum_axis", "sum")
alias("max_axis", "max")
alias("min_axis", "min")


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
def reduced_axes(attrs: dict, rank: int) -> tuple[int, ...]:
    """The axes a sum/mean/max/... reduces, as MXNet reads ``axis`` and ``exclude`` (None or (): all)."""
    if not attrs["axis"]:
        return tuple(range(rank))
    axes = sorted(axis_index(axis, rank) for axis in attrs["axis"])
    if len(set(axes)) != len(axes):
        raise ShapeError(f"axis {attrs['axis']} has duplicates")
    return tuple(i for i in range(rank) if i not in axes) if attrs.get("exclude") else tuple(axes)


def reduced_shape(shape: Shape, axes: tuple[int, ...], keepdims: bool) -> Shape:
    """The output of reducing ``axes``: size 1 there with ``keepdims``, else dropped (MXNet keeps one axis)."""
    if keepdims:
        return tuple(1 if i in axes else size for i, size in enumerate(shape))
    return tuple(size for i, size in enumerate(shape) if i not in axes) or (1,)


@shape_rule(*REDUCTIONS, "norm")
def _reduction(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    return [reduced_shape(data, reduced_axes(node.attrs, len(data)), node.attrs["keepdims"])]


@shape_rule("argmax", "argmin")
def _arg_reduction(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, axis = shapes[0], node.attrs["axis"]
    axes = tuple(range(len(data))) if axis is None else (axis_index(axis, len(data)),)
    return [reduced_shape(data, axes, node.attrs["keepdims"])]
