"""Indexing, creation and sorting: take, pick, one_hot, gather_nd, where, topk, sort, argsort, shape_array,
size_array, ``_arange``, ``_contrib_arange_like``, ``_zeros``, ``_ones``, ``_full``, zeros_like, ones_like, the
random draws, and the ops whose output size the data decides (None in a shape): boolean_mask, nonzero, unique,
bincount; histogram, NumPy's boolean mask assignment.

Index inputs arrive as floats; MXNet truncates them towards zero. Integer ``dtype`` outputs are carried in the
model's float type (the IR has no dtypes): exact for the small integers indices and shapes are."""
from __future__ import annotations

import math

import numpy as np

from ..errors import NotExpressible
from ..ir import Node
from .rules import (Shape, ShapeError, axis_index, input_rule, same_shape_inputs, shape_rule,
                    stored_rule)
from .schema import (BINARY, OpDef, REQUIRED, SHAPE_EMPTY, UNARY, alias, choice, define, optional, parse_bool,
                     parse_float, parse_float32, parse_float32_tuple, parse_int, parse_shape, parse_str)
from .shape import cast_overflow_bound

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
# Index inputs arrive as floats; MXNet truncates them towards zero. Integer ``dtype`` outputs are carried in the
# model's float type (the IR has no dtypes): exact for the small integers indices and shapes are.
INDEX_DTYPES = ("float16", "float32", "float64", "int32", "int64", "int8", "uint8")


_DTYPE = (choice("bfloat16", *INDEX_DTYPES), "float32")


_INDEX_DTYPE = (choice("float16", "float32", "float64", "int32", "int64", "uint8"), "float32")


_CREATION_DTYPE = (choice("bfloat16", "bool", *INDEX_DTYPES), "float32")


_RANDOM_DTYPE = (choice(None, "float16", "float32", "float64"), None)


_CTX = (parse_str, "")


_SORT_AXIS = (optional(parse_int), -1)


_TOPK_OUTPUTS = {"value": 2, "indices": 1, "mask": 1, "both": 2}  # value: the indices follow, hidden


define({
    "take": OpDef({"axis": (parse_int, 0), "mode": (choice("clip", "raise", "wrap"), "clip")}),
    "pick": OpDef({"axis": _SORT_AXIS, "keepdims": (parse_bool, False), "mode": (choice("clip", "wrap"), "clip")}),
    "one_hot": OpDef({"depth": (parse_int, REQUIRED), "on_value": (parse_float, 1.0), "off_value": (parse_float, 0.0),
                      "dtype": _DTYPE}),
    "gather_nd": BINARY,
    # lhs with rhs written where indices (M x ...) address its leading M axes; ``shape`` is lhs's
    "_scatter_set_nd": OpDef({"shape": (parse_shape, REQUIRED)}),
    "where": OpDef(),
    "topk": OpDef({"axis": _SORT_AXIS, "k": (parse_int, 1),
                   "ret_typ": (choice(*_TOPK_OUTPUTS), "indices"), "is_ascend": (parse_bool, False),
                   "dtype": _INDEX_DTYPE},
                  outputs=lambda a: _TOPK_OUTPUTS[a["ret_typ"]]),
    "sort": OpDef({"axis": _SORT_AXIS, "is_ascend": (parse_bool, True)}, outputs=lambda a: 2),  # indices hidden
    "argsort": OpDef({"axis": _SORT_AXIS, "is_ascend": (parse_bool, True), "dtype": _INDEX_DTYPE}),
    "shape_array": UNARY,
    "size_array": UNARY,
    "_npi_diag_indices_from": UNARY,  # (rank, n) int64: each row 0..n-1, of an n x ... x n array
    "_arange": OpDef({"start": (parse_float, REQUIRED), "stop": (optional(parse_float), None),
                      "step": (parse_float, 1.0), "repeat": (parse_int, 1), "infer_range": (parse_bool, False),
                      "ctx": _CTX, "dtype": _DTYPE}),
    "_contrib_arange_like": OpDef({"start": (parse_float, 0.0), "step": (parse_float, 1.0),
                                   "repeat": (parse_int, 1), "ctx": _CTX, "axis": (optional(parse_int), None)}),
    "_zeros": OpDef({"shape": SHAPE_EMPTY, "ctx": _CTX, "dtype": _CREATION_DTYPE}),
    "_ones": OpDef({"shape": SHAPE_EMPTY, "ctx": _CTX, "dtype": _CREATION_DTYPE}),
    "_full": OpDef({"shape": SHAPE_EMPTY, "ctx": _CTX, "dtype": _CREATION_DTYPE, "value": (parse_float, REQUIRED)}),
    # no parameters in MXNet 1.9, which ignores the ``dtype`` GluonCV's symbols carry (the output has the input's
    # type): read as any text and ignored
    "zeros_like": OpDef({"dtype": (parse_str, "")}),
    "ones_like": OpDef({"dtype": (parse_str, "")}),
    # random draws: statistics, not values, match MXNet's
    "_random_normal": OpDef({"loc": (parse_float32, 0.0), "scale": (parse_float32, 1.0), "shape": SHAPE_EMPTY,
                             "ctx": _CTX, "dtype": _RANDOM_DTYPE}),
    "_random_uniform": OpDef({"low": (parse_float32, 0.0), "high": (parse_float32, 1.0), "shape": SHAPE_EMPTY,
                              "ctx": _CTX, "dtype": _RANDOM_DTYPE}),
    "_random_uniform_like": OpDef({"low": (parse_float32, 0.0), "high": (parse_float32, 1.0)}),
    "_sample_multinomial": OpDef({"shape": SHAPE_EMPTY, "get_prob": (parse_bool, False),
                                  "dtype": (choice("float16", "float32", "float64", "int32", "uint8"), "int32")},
                                 outputs=lambda a: 2 if a["get_prob"] else 1),
})


alias("_npi_take", "take")
alias("_npx_one_hot", "one_hot")
alias("_npx_pick", "pick")
alias("_npi_gather_nd", "gather_nd")
alias("_npx_gather_nd", "gather_nd")
alias("_npi_scatter_set_nd", "_scatter_set_nd")
alias("_npx_topk", "topk")
alias("_npi_sort", "sort")
alias("_npi_argsort", "argsort")
alias("_npx_shape_array", "shape_array")
alias("_npi_full", "_full")
alias("_npx_arange_like", "_contrib_arange_like")
alias("normal", "_random_normal")
alias("random_normal", "_random_normal")
alias("uniform", "_random_uniform")
alias("random_uniform", "_random_uniform")
alias("sample_multinomial", "_sample_multinomial")
alias("_npi_zeros", "_zeros")
alias("_npi_ones", "_ones")
alias("_npi_arange", "_arange")
alias("choose_element_0index", "pick")

# mshadow's type codes, as ``_zeros_without_dtype`` takes its ``dtype`` (-1: unset)
_TYPE_CODES = {"0": "float32", "1": "float64", "2": "float16", "3": "uint8", "4": "int32", "5": "int8", "6": "int64",
               "7": "bool", "12": "bfloat16"}


def zeros_type_code(attrs: dict[str, str]) -> dict[str, str]:
    """``_zeros_without_dtype``'s ``dtype``, a type code, as ``_zeros``'s type name; unset (-1) is float32, the
    type MXNet gives it beside float32 data."""
    attrs = dict(attrs)
    code = attrs.pop("dtype", "-1").strip()
    if code != "-1":
        if code not in _TYPE_CODES:
            raise ValueError(f"dtype code {code}")
        attrs["dtype"] = _TYPE_CODES[code]
    return attrs


alias("_zeros_without_dtype", "_zeros", normalise=zeros_type_code)

# Draws no target reproduces (the NumPy interface's, the random image augmentations of both interfaces, DGL's
# neighbour sampling, and the legacy samplers beyond the uniform and normal draws and the multinomial above):
# refused by name in both targets
_LEGACY_DRAWS = ("exponential", "gamma", "generalized_negative_binomial", "negative_binomial", "poisson")
RANDOM_OPS = (
    "_npi_bernoulli", "_npi_choice", "_npi_exponential", "_npi_gamma", "_npi_gumbel", "_npi_logistic",
    "_npi_multinomial", "_npi_normal", "_npi_normal_n", "_npi_pareto", "_npi_powerd", "_npi_random_randint",
    "_npi_rayleigh", "_npi_shuffle", "_npi_uniform", "_npi_uniform_n", "_npi_weibull",
    *(f"{prefix}_image_random_{kind}" for prefix in ("", "_npx_")
      for kind in ("brightness", "color_jitter", "contrast", "flip_left_right", "flip_top_bottom", "hue", "lighting",
                   "saturation")),
    "_contrib_dgl_csr_neighbor_uniform_sample", "_contrib_dgl_csr_neighbor_non_uniform_sample",
    *(f"_random_{kind}" for kind in _LEGACY_DRAWS), *(f"_random_{kind}_like" for kind in _LEGACY_DRAWS),
    "_random_normal_like", "_random_randint", "_shuffle", "_sample_unique_zipfian",
    *(f"_sample_{kind}" for kind in (*_LEGACY_DRAWS, "normal", "uniform")))
for _name in RANDOM_OPS:
    if _name.startswith(("_random_", "_sample_", "_shuffle")) and not _name.endswith("_like") \
            and _name != "_sample_unique_zipfian":
        alias(_name[1:], _name)  # random_gamma, sample_poisson, shuffle: the public spellings


RANDOM_REASON = "random sampling: no deterministic conversion"

# np.shares_memory / may_share_memory: whether two arrays overlap in MXNet's memory, which its memory planning
# decides when the graph runs
define({"_npi_share_memory": BINARY})


def share_memory_refusal(node: Node, *context: object) -> str:
    """Why ``_npi_share_memory`` is not converted (a registry ``check``)."""
    return "whether two arrays share memory is decided by MXNet's memory planning when it runs"


# fill_element_0index (lhs with lhs[i, rhs[i]] = mhs[i]) is one of MXNet's NDArray functions: registered as an op
# without shape inference, it runs on NDArrays only, and a symbol graph holding it does not bind
define({"fill_element_0index": OpDef(input_names=lambda a: ("lhs", "mhs", "rhs"))})


def ndarray_function_refusal(node: Node, *context: object) -> str:
    """Why ``fill_element_0index`` is not converted (a registry ``check``)."""
    return "an NDArray function: MXNet 1.9.1 cannot infer its shapes in a graph (no reference to convert)"


def random_refusal(node: Node, *context: object) -> str:
    """Why a draw is not converted (a registry ``check``)."""
    return RANDOM_REASON


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
input_rule("zeros_like", "ones_like")(same_shape_inputs)


# Creation ops whose ``shape`` may hold 0, MXNet's unknown size, completed from the op that reads them.
SIZED_BY_CONSUMER = ("_zeros", "_ones", "_full", "_random_normal", "_random_uniform")


@shape_rule("take")
def _take(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, indices = shapes
    axis = axis_index(node.attrs["axis"], len(data))
    return [(*data[:axis], *indices, *data[axis + 1:])]


def pick_axis(attrs: dict, rank: int) -> int:
    """pick's axis as an index; MXNet 1.9.1 refuses ``axis=None``."""
    if attrs["axis"] is None:
        raise ShapeError("pick needs an axis (MXNet does not support axis=None)")
    return axis_index(attrs["axis"], rank)


@shape_rule("pick")
def _pick(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, index = shapes
    axis = pick_axis(node.attrs, len(data))
    kept = (*data[:axis], 1, *data[axis + 1:])
    dropped = tuple(size for i, size in enumerate(data) if i != axis) or (1,)
    if index not in (kept, dropped):
        raise ShapeError(f"index has shape {index}, expected {dropped}")
    return [kept if node.attrs["keepdims"] else dropped]


@shape_rule("one_hot")
def _one_hot(node: Node, shapes: list[Shape]) -> list[Shape]:
    fill_values(node.attrs, ("on_value", "off_value"))
    return [refuse_empty((*shapes[0], node.attrs["depth"]), "depth 0")]


@shape_rule("gather_nd")
def _gather_nd(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, indices = shapes
    if len(indices) < 2 or indices[0] > len(data):
        raise ShapeError(f"indices of shape {indices} do not index {len(data)}-D data (M x ..., M <= {len(data)})")
    return [(*indices[1:], *data[indices[0]:])]


@shape_rule("_scatter_set_nd")
def _scatter_set_nd(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, value, indices = shapes
    if len(indices) < 2 or indices[0] > len(data) or tuple(value) != (*indices[1:], *data[indices[0]:]):
        raise ShapeError(f"lhs {data}, rhs {value} and indices {indices}: indices (M x ...) address lhs's leading "
                         "M axes, rhs holds a value for each index")
    return [data]


@shape_rule("where")
def _where(node: Node, shapes: list[Shape]) -> list[Shape]:
    condition, x, y = shapes
    if x != y or condition != x and condition != (x[0],):
        raise ShapeError(f"condition {condition}, x {x} and y {y}: x and y need one shape, the condition that "
                         "shape or the length of their first axis")
    return [x]


@input_rule("where")
def _where_inputs(node: Node, inputs: list, outputs: list) -> list:
    """x and y share the shape of whichever of them or the output is known; as in MXNet, the condition fixes
    neither (``where(mask, zeros, zeros)`` takes its size from its reader)."""
    known = next((shape for shape in [*inputs[1:], *outputs] if shape is not None), None)
    return [None, known, known]


def sort_axis(attrs: dict, shape: Shape) -> int | None:
    """The axis topk/sort/argsort work along, or None: along the flattened data."""
    return None if attrs["axis"] is None else axis_index(attrs["axis"], len(shape))


def sorted_shape(attrs: dict, shape: Shape) -> Shape:
    """The data's shape as a sort sees it: flattened without an axis."""
    return shape if attrs["axis"] is not None else (math.prod(shape),)


def topk_count(attrs: dict, shape: Shape) -> int:
    """How many elements topk keeps: ``k``, or all along the axis where ``k < 1``, as MXNet checks it."""
    size = sorted_shape(attrs, shape)[sort_axis(attrs, shape) or 0]
    if attrs["k"] > size:
        raise ShapeError(f"k {attrs['k']} is more than the {size} elements along the axis")
    return size if attrs["k"] < 1 else attrs["k"]


@shape_rule("topk")
def _topk(node: Node, shapes: list[Shape]) -> list[Shape]:
    a, data = node.attrs, shapes[0]
    flat = sorted_shape(a, data)
    axis = sort_axis(a, data) or 0
    picked = (*flat[:axis], topk_count(a, data), *flat[axis + 1:])
    return {"value": [picked, picked], "indices": [picked], "both": [picked, picked], "mask": [data]}[a["ret_typ"]]


@shape_rule("sort", "argsort")
def _sort(node: Node, shapes: list[Shape]) -> list[Shape]:
    sort_axis(node.attrs, shapes[0])
    return [sorted_shape(node.attrs, shapes[0])] * node.num_outputs  # sort's indices follow, hidden


@shape_rule("shape_array")
def _shape_array(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [(len(shapes[0]),)]


@shape_rule("_npi_diag_indices_from")
def _diag_indices_from(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if len(data) < 2 or len(set(data)) != 1:
        raise ShapeError(f"diag_indices_from takes an array of 2 or more axes of one length, not of shape {data}")
    return [(len(data), data[0])]


@shape_rule("size_array")
def _size_array(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [(1,)]


def unconvertible_values(node: Node, *target) -> str | None:
    """Why an op is not converted (either target), or None: bfloat16 values are not reproduced."""
    return "dtype bfloat16" if node.attrs.get("dtype") == "bfloat16" else None


def refuse_empty(shape: Shape, what: str) -> Shape:
    """``shape``, unless a zero size makes it empty: MXNet returns an empty tensor, which no converted graph holds."""
    if 0 in shape:
        raise ShapeError(f"{what} makes an empty output of shape {shape}: empty output refused")
    return shape


def dtype_value(value: float, dtype: str) -> float:
    """``value`` stored in MXNet's ``dtype``, read back as a float: bool is 0 or 1; integers truncate, convert as
    C does on x86 past the range (``cast_overflow_bound``) and wrap to narrower types."""
    if dtype == "bool":
        return float(value != 0)
    if np.dtype(dtype).kind in "iu":
        bound = cast_overflow_bound(dtype)
        whole = math.trunc(value) if abs(value) < bound else -int(bound)
        return float(np.array(whole, dtype=np.int64).astype(dtype))
    with np.errstate(all="ignore"):
        return float(np.array(value).astype(dtype))


def fill_values(attrs: dict, keys: tuple[str, ...]) -> list[float]:
    """The attributes ``keys`` stored in the op's dtype (bfloat16, which neither target converts, as given)."""
    dtype = attrs["dtype"]
    return [attrs[key] if dtype == "bfloat16" else dtype_value(attrs[key], dtype) for key in keys]


def arange_range(attrs: dict) -> tuple[float, float, int]:
    """Start, step (each in the op's dtype) and element count of ``_arange``, as MXNet reads them; a missing
    ``stop`` counts from 0 to ``start``. float16 and uint8 ranges start and step at whole numbers, as in MXNet."""
    a = attrs
    start, stop = (0.0, a["start"]) if a["stop"] is None else (a["start"], a["stop"])
    if a["step"] == 0 or a["repeat"] < 1:
        raise ShapeError(f"step {a['step']} and repeat {a['repeat']}: MXNet needs a non-zero step, repeat >= 1")
    if not (start < stop if a["step"] > 0 else start > stop):
        raise ShapeError(f"empty range from {start} to {stop} by {a['step']}")
    steps = refuse_empty((math.ceil((stop - start) / a["step"]),), f"step {a['step']}")[0]  # an infinite step: 0
    step = a["step"]
    if a["dtype"] in ("float16", "uint8"):  # MXNet truncates both for types std::is_signed does not call signed
        start, step = math.trunc(start), math.trunc(step)
    return dtype_value(start, a["dtype"]), dtype_value(step, a["dtype"]), steps * a["repeat"]


def range_values(start: float, step: float, repeat: int, count: int, dtype: str) -> np.ndarray:
    """MXNet's range kernel: ``start + (i / repeat) * step`` computed in ``dtype`` (wrapping for integers), as
    float32."""
    blocks = np.arange(count, dtype=np.int64) // repeat
    with np.errstate(all="ignore"):
        values = np.asarray(start).astype(dtype) + blocks.astype(dtype) * np.asarray(step).astype(dtype)
    return values.astype(np.float32)


@shape_rule("_arange")
def _arange(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [(arange_range(node.attrs)[2],)]


@shape_rule("_contrib_arange_like")
def _arange_like(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, axis = shapes[0], node.attrs["axis"]
    if node.attrs["repeat"] == 0:
        raise ShapeError("repeat 0 divides by zero")
    return [data if axis is None else (data[axis_index(axis, len(data))],)]


@shape_rule(*SIZED_BY_CONSUMER)
def _filled(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The ``shape`` attribute; a 0 in it is an unknown size the consumer's ``input_rule`` fills."""
    shape = node.attrs["shape"]
    if not shape or any(size is None for size in shape):
        raise ShapeError(f"shape {shape} is not a full shape")
    if node.op == "_full":
        fill_values(node.attrs, ("value",))
    return [shape]


@shape_rule("zeros_like", "ones_like", "_random_uniform_like")
def _filled_like(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [shapes[0]]


def multinomial_count(attrs: dict) -> int:
    """How many draws ``_sample_multinomial`` makes per distribution."""
    return math.prod(attrs["shape"])


@shape_rule("_sample_multinomial")
def _sample_multinomial(node: Node, shapes: list[Shape]) -> list[Shape]:
    drawn = refuse_empty((*shapes[0][:-1], *node.attrs["shape"]) or (1,), "a zero size")
    return [drawn] * node.num_outputs


# --- MXNet's NumPy-interface creation ops: values fixed by the attributes alone (``full_like`` reads a shape) --
_OPTIONAL_DTYPE = (optional(choice("bfloat16", "bool", *INDEX_DTYPES)), None)
_WINDOW_OPS = ("_npi_hanning", "_npi_hamming", "_npi_blackman")
define({
    "_npi_eye": OpDef({"N": (parse_int, REQUIRED), "M": (optional(parse_int), None), "k": (parse_int, 0),
                       "ctx": _CTX, "dtype": _CREATION_DTYPE}),
    "_eye": OpDef({"N": (parse_int, REQUIRED), "M": (parse_int, 0), "k": (parse_int, 0), "ctx": _CTX,
                   "dtype": _CREATION_DTYPE}),
    "_npi_identity": OpDef({"shape": SHAPE_EMPTY, "ctx": _CTX, "dtype": _CREATION_DTYPE}),
    "_linspace": OpDef({"start": (parse_float, REQUIRED), "stop": (parse_float, REQUIRED),
                        "num": (parse_int, REQUIRED), "endpoint": (parse_bool, True), "ctx": _CTX,
                        "dtype": _CREATION_DTYPE}),
    "_npi_logspace": OpDef({"start": (parse_float, REQUIRED), "stop": (parse_float, REQUIRED),
                            "num": (parse_int, REQUIRED), "endpoint": (parse_bool, True),
                            "base": (parse_float, 10.0), "ctx": _CTX, "dtype": _CREATION_DTYPE}),
    "_npi_indices": OpDef({"dimensions": (parse_shape, REQUIRED), "dtype": (_CREATION_DTYPE[0], "int32"),
                           "ctx": _CTX}),
    **{op: OpDef({"M": (optional(parse_int), None), "ctx": _CTX, "dtype": _CREATION_DTYPE}) for op in _WINDOW_OPS},
    "_npi_full_like": OpDef({"fill_value": (parse_float, REQUIRED), "ctx": _CTX, "dtype": _OPTIONAL_DTYPE}),
})
alias("_npi_linspace", "_linspace")
CREATED_OPS = ("_npi_eye", "_eye", "_npi_identity", "_linspace", "_npi_logspace", "_npi_indices", *_WINDOW_OPS)

_WINDOW_TERMS = {"_npi_hanning": ((0.5, 1), (-0.5, 2)), "_npi_hamming": ((0.54, 1), (-0.46, 2)),
                 "_npi_blackman": ((0.42, 1), (-0.5, 2), (0.08, 4))}  # (weight, multiple of pi) per term


def _window(op: str, count: int, dtype: str) -> np.ndarray:
    """MXNet's window kernel: the angle ``k * PI * i / (M - 1)`` in float32 (its PI is a float), then
    ``a - b cos(...) [+ c cos(...)]`` in ``dtype``; M = 1 gives one 1."""
    if count == 1:
        return np.ones(1, dtype)
    i = np.arange(count, dtype=np.float32)
    terms = []
    for weight, multiple in _WINDOW_TERMS[op]:
        if multiple == 1:
            terms.append(np.asarray(weight, dtype))
            continue
        angle = np.float32(multiple) * np.float32(np.pi) * i / np.float32(count - 1)
        terms.append(np.asarray(weight, dtype) * np.cos(angle.astype(dtype)))
    out = terms[0] + terms[1]
    return out + terms[2] if len(terms) > 2 else out


def _eye(rows: int, columns: int, k: int) -> np.ndarray:
    return np.eye(rows, columns, k, dtype=np.float64)


def _spaced(attrs: dict) -> np.ndarray:
    """``start + step * i`` in double (``linspace``; ``base`` to that power for ``logspace``)."""
    steps = attrs["num"] - 1 if attrs["endpoint"] else attrs["num"]
    step = (attrs["stop"] - attrs["start"]) / steps if steps > 0 else 0.0
    exponents = attrs["start"] + step * np.arange(attrs["num"], dtype=np.float64)
    return np.power(attrs["base"], exponents) if "base" in attrs else exponents


def created_values(node: Node) -> np.ndarray:
    """The values a creation op of ``CREATED_OPS`` makes, as MXNet computes them in its ``dtype``, as float32
    (integer and bool values are exact; bfloat16, which ``unconvertible_values`` refuses, as float32)."""
    a, dtype = node.attrs, node.attrs["dtype"].replace("bfloat16", "float32")
    if node.op in _WINDOW_OPS:
        if a["M"] is None:
            raise ShapeError("a window needs M")
        if np.dtype(dtype).kind not in "f":
            raise ShapeError(f"dtype {dtype}: windows are computed in floating point only")
        values = _window(node.op, refuse_empty((max(a["M"], 0),), "M")[0], dtype)
    elif node.op in ("_npi_eye", "_eye"):
        columns = a["M"] if a["M"] else a["N"]  # None (NumPy) or 0 (MXNet's own op): square
        values = _eye(*refuse_empty((a["N"], columns), "N or M"), a["k"])
    elif node.op == "_npi_identity":
        shape = a["shape"]
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ShapeError(f"identity of shape {shape}: a square matrix is needed")
        values = _eye(*refuse_empty(shape, "shape"), 0)
    elif node.op == "_npi_indices":
        dimensions = refuse_empty(tuple(a["dimensions"]), "dimensions")
        values = np.indices(dimensions, dtype=np.float64) if dimensions else np.zeros((0,))
        refuse_empty(values.shape, "dimensions ()")
    else:
        values = _spaced(a)
        refuse_empty(values.shape, "num 0")
    if dtype == "bool":
        return (values != 0).astype(np.float32)
    if np.dtype(dtype).kind in "iu":
        return np.vectorize(lambda v: dtype_value(v, dtype), otypes=[np.float32])(values).reshape(values.shape)
    with np.errstate(all="ignore"):
        return np.asarray(values).astype(dtype).astype(np.float32)


@shape_rule(*CREATED_OPS)
def _created(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [created_values(node).shape]


def full_like_value(attrs: dict) -> float:
    """``full_like``'s value in its ``dtype`` (the input's type, float32 here, where it has none)."""
    return dtype_value(attrs["fill_value"], attrs["dtype"] or "float32")


@shape_rule("_npi_full_like")
def _full_like(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [shapes[0]]


input_rule("_npi_full_like")(same_shape_inputs)


# --- MXNet's legacy and contrib index ops: batch_take, scatter_nd, (un)ravelled indices, index_array, index_copy --
define({
    "batch_take": BINARY,
    "scatter_nd": OpDef({"shape": (parse_shape, REQUIRED)}),
    "_ravel_multi_index": OpDef({"shape": SHAPE_EMPTY}),
    "_unravel_index": OpDef({"shape": SHAPE_EMPTY}),
    "_contrib_index_array": OpDef({"axes": (optional(parse_shape), None)}),
    "_contrib_index_copy": OpDef(),
})
alias("ravel_multi_index", "_ravel_multi_index")
alias("unravel_index", "_unravel_index")


@shape_rule("batch_take")
def _batch_take(node: Node, shapes: list[Shape]) -> list[Shape]:
    """``a[i, indices[i]]``: one index per row of 2-D data (MXNet reads rows of all but the first axis, past the
    data's end for more axes)."""
    data, indices = shapes
    if len(data) != 2 or data[0] != math.prod(indices):
        raise ShapeError(f"data {data} and indices {indices}: one index per row of 2-D data")
    return [indices]


@shape_rule("scatter_nd")
def _scatter_nd(node: Node, shapes: list[Shape]) -> list[Shape]:
    """``indices[:, j]`` addresses the leading axes of the output (``shape``); the data gives their values."""
    data, indices = shapes
    out = node.attrs["shape"]
    if len(indices) < 2 or indices[0] > len(out) or data != (*indices[1:], *out[indices[0]:]):
        raise ShapeError(f"data {data}, indices {indices} and shape {out} do not match (data: indices' trailing "
                         "axes, then the output's axes past the ones indexed)")
    return [out]


def ravel_sizes(node: Node) -> tuple[int, ...]:
    """The ``shape`` the (un)ravelled indices address; MXNet refuses an empty one."""
    if not node.attrs["shape"]:
        raise ShapeError("an empty shape")
    return node.attrs["shape"]


@shape_rule("_ravel_multi_index")
def _ravel(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if len(data) != 2 or data[0] != len(ravel_sizes(node)):
        raise ShapeError(f"data {data}: one row of indices per axis of shape {node.attrs['shape']}")
    return [(data[1],)]


@shape_rule("_unravel_index")
def _unravel(node: Node, shapes: list[Shape]) -> list[Shape]:
    """One column per index of the first axis: MXNet's kernel reads the data flat, so trailing sizes of 1 read as
    1-D data; past them it leaves part of its output unwritten, refused."""
    if not shapes[0] or math.prod(shapes[0][1:]) != 1:
        raise ShapeError(f"data {shapes[0]}: unravel_index takes 1-D data (or trailing sizes of 1)")
    if 0 in ravel_sizes(node)[1:]:
        raise ShapeError(f"shape {node.attrs['shape']}: a size 0 past the first divides by zero")
    return [(len(ravel_sizes(node)), shapes[0][0])]


def index_array_axes(attrs: dict, rank: int) -> list[int]:
    """The axes whose positions ``_contrib_index_array`` lists (all without ``axes``; negative ones count from the
    end, any multiple of the rank away, as MXNet reads them)."""
    if rank == 0:
        raise ShapeError("0-d data makes an empty index array: empty output refused")
    return list(range(rank)) if attrs["axes"] is None else [axis % rank for axis in attrs["axes"]]


@shape_rule("_contrib_index_array")
def _index_array(node: Node, shapes: list[Shape]) -> list[Shape]:
    axes = index_array_axes(node.attrs, len(shapes[0]))
    return [refuse_empty((*shapes[0], len(axes)), "axes ()")]


@shape_rule("_contrib_index_copy")
def _index_copy(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The old tensor with rows ``index[i]`` of its first axis replaced by the new tensor's rows."""
    old, index, new = shapes
    if len(index) != 1 or len(old) != len(new) or not old or new[0] > old[0] or new[1:] != old[1:] \
            or index[0] != new[0]:
        raise ShapeError(f"old {old}, index {index} and new {new}: a 1-D index per row of new, new's other axes "
                         "the old tensor's")
    return [old]



# --- sizes the data decides (None in a shape): the rows a mask keeps, the positions of non-zeros ------------
define({
    "_contrib_boolean_mask": OpDef({"axis": (parse_int, 0)}),
    "_npx_nonzero": UNARY,
})
alias("_npi_boolean_mask", "_contrib_boolean_mask")
alias("_npi_nonzero", "_npx_nonzero")
NONZERO_MAX_RANK = 5  # MXNet's nonzero takes data of up to 5 axes


@shape_rule("_contrib_boolean_mask")
def _boolean_mask(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The rows of ``data`` whose ``index`` is non-zero (NaN included): how many, the data decides."""
    data, index = shapes
    if node.attrs["axis"] != 0:
        raise ShapeError(f"axis {node.attrs['axis']}: MXNet masks axis 0 only")
    if len(index) != 1 or not data or index[0] != data[0]:
        raise ShapeError(f"index of shape {index} does not mask data of shape {data} (1-D, one value per row)")
    return [(None, *data[1:])]


@shape_rule("_npx_nonzero")
def _nonzero(node: Node, shapes: list[Shape]) -> list[Shape]:
    """One row of coordinates per non-zero element (NaN included); 0-d data has one coordinate, 0."""
    if len(shapes[0]) > NONZERO_MAX_RANK:
        raise ShapeError(f"data of {len(shapes[0])} axes: MXNet's nonzero takes at most {NONZERO_MAX_RANK}")
    return [(None, max(len(shapes[0]), 1))]


UNIQUE_EXTRAS = ("return_index", "return_inverse", "return_counts")  # the outputs after the values, in order
define({"_npi_unique": OpDef({**{key: (parse_bool, False) for key in UNIQUE_EXTRAS},
                              "axis": (optional(parse_int), None)},
                             outputs=lambda a: 1 + sum(a[key] for key in UNIQUE_EXTRAS))})


def unique_axis(attrs: dict, shape: Shape) -> int | None:
    """The axis ``unique`` compares slices along, or None: the flattened data (0-d data, one element, too)."""
    if not shape:
        if attrs["axis"] not in (None, 0, -1):
            raise ShapeError(f"axis {attrs['axis']}: 0-d data takes axis None, 0 or -1")
        return None
    return None if attrs["axis"] is None else axis_index(attrs["axis"], len(shape))


@shape_rule("_npi_unique")
def _unique(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The distinct values (slices along the axis), sorted; then, as asked, where each first occurs, every
    element's (slice's) position among them, and their counts. How many, the data decides."""
    data = shapes[0]
    axis = unique_axis(node.attrs, data)
    values = (None,) if axis is None else (*data[:axis], None, *data[axis + 1:])
    extras = {"return_index": (None,), "return_counts": (None,),
              "return_inverse": (math.prod(data),) if axis is None else (data[axis],)}
    return [values, *(extras[key] for key in UNIQUE_EXTRAS if node.attrs[key])]


define({"_npi_bincount": OpDef({"minlength": (parse_int, 0), "has_weights": (parse_bool, False)})})


@shape_rule("_npi_bincount")
def _bincount(node: Node, shapes: list[Shape]) -> list[Shape]:
    """How often each whole number occurs in the (integer, non-negative) data, or the sum of its weights: max(data)
    + 1 or ``minlength`` bins, whichever is more; the data decides."""
    if len(shapes[0]) > 1 or node.attrs["minlength"] < 0:
        raise ShapeError(f"data of shape {shapes[0]}, minlength {node.attrs['minlength']}: MXNet counts 1-D data "
                         "into at least 0 bins")
    if node.attrs["has_weights"] and shapes[1] != shapes[0]:
        raise ShapeError(f"weights of shape {shapes[1]} do not weigh data of shape {shapes[0]}")
    return [(None,)]


# histogram: counts (int64) of the data in bins, and the bins' edges: ``bin_cnt`` equal bins over ``range``, or the
# edges given as a second input
define({"_histogram": OpDef({"bin_cnt": (optional(parse_int), None), "range": (optional(parse_float32_tuple), None)},
                            outputs=lambda a: 2)})
alias("_npi_histogram", "_histogram")


def histogram_range(attrs: dict) -> tuple[float, float]:
    """The (double) range of ``bin_cnt`` equal bins; an empty one widened by 0.5 each way, as MXNet does."""
    low, high = attrs["range"]
    return (low - 0.5, high + 0.5) if low == high else (low, high)


def histogram_edges(attrs: dict, dtype: str = "float32") -> np.ndarray:
    """The ``bin_cnt`` + 1 edges of equal bins, ``(high * i + (count - i) * low) / count`` in double, as float32.
    Edges that repeat in the data's integer ``dtype`` have no exact form: MXNet moves its first guess of a value's
    bin by one bin at most, which past a repeated edge is not the bin the edges give."""
    low, high = histogram_range(attrs)
    count, i = attrs["bin_cnt"], np.arange(attrs["bin_cnt"] + 1, dtype=np.float64)
    edges = (high * i + (count - i) * low) / count
    if not np.issubdtype(np.dtype(dtype), np.floating) and (np.diff(edges.astype(dtype)) <= 0).any():
        raise NotExpressible(f"bin edges {edges.astype(dtype).tolist()} repeat in {dtype}")
    return edges.astype(np.float32)


@shape_rule("_histogram")
def _histogram(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    if (a["bin_cnt"] is None) != (a["range"] is None):
        raise ShapeError("bin_cnt and range: MXNet takes both or neither (then the edges as an input)")
    if a["bin_cnt"] is None:
        edges = shapes[1]
        if len(edges) != 1 or edges[0] < 2:
            raise ShapeError(f"bins of shape {edges}: MXNet takes a vector of at least 2 edges")
        return [(edges[0] - 1,), edges]
    if len(a["range"]) != 2 or a["range"][0] > a["range"][1]:
        raise ShapeError(f"range {a['range']}: MXNet takes (low, high) with low <= high")
    return [refuse_empty((a["bin_cnt"],), "bin_cnt"), (a["bin_cnt"] + 1,)]


# NumPy's ``data[mask] = value``: the mask covers the data's axes from ``start_axis``; the data keeps its shape
define({"_npi_boolean_mask_assign_scalar": OpDef({"value": (parse_float, REQUIRED), "start_axis": (parse_int, 0)}),
        "_npi_boolean_mask_assign_tensor": OpDef({"start_axis": (parse_int, 0)})})
MASK_ASSIGN_OPS = ("_npi_boolean_mask_assign_scalar", "_npi_boolean_mask_assign_tensor")


def mask_assign_layout(node: Node, data: Shape, mask: Shape) -> tuple[Shape, Shape, int, int, int]:
    """The mask's shape broadcast against the data and a slice's (the data's, ones along the masked axes), and the
    data's size before, along and after the masked axes."""
    start = node.attrs["start_axis"]
    if start < 0 or start + len(mask) > len(data) or data[start:start + len(mask)] != mask:
        raise ShapeError(f"mask of shape {mask} does not cover data of shape {data} from axis {start}")
    after, ones = start + len(mask), (1,) * len(mask)
    return ((*(1,) * start, *mask, *(1,) * (len(data) - after)), (*data[:start], *ones, *data[after:]),
            math.prod(data[:start]), math.prod(mask), math.prod(data[after:]))


def mask_assign_form(node: Node, data: Shape, mask: Shape, value: Shape | None) -> str:
    """How the masked positions are filled: ``one`` value (a scalar, or a tensor of one element), ``broadcast``
    (one slice of the data's other axes for every position), or ``ordered`` (the k-th masked position takes slice
    k along ``start_axis``: as many as the mask keeps, which the data decides and MXNet checks when it runs)."""
    _, _, leading, _, trailing = mask_assign_layout(node, data, mask)
    if value is None or math.prod(value) == 1:
        return "one"
    start, slots = node.attrs["start_axis"], len(data) - len(mask) + 1
    if len(value) == slots and value[start] != 1:
        if value[:start] != data[:start] or value[start + 1:] != data[start + len(mask):]:
            raise ShapeError(f"value of shape {value} does not fill data of shape {data} along axis {start}")
        return "ordered"
    if len(value) > slots or math.prod(value) != leading * trailing:
        raise ShapeError(f"value of shape {value} does not broadcast over the masked positions of data of shape "
                         f"{data}")
    return "broadcast"


@shape_rule(*MASK_ASSIGN_OPS)
def _mask_assign(node: Node, shapes: list[Shape]) -> list[Shape]:
    mask_assign_form(node, shapes[0], shapes[1], shapes[2] if len(shapes) > 2 else None)
    return [shapes[0]]


@stored_rule(*MASK_ASSIGN_OPS)
def _stored_mask(node: Node, shapes: list[Shape], stored: list[np.ndarray | None]) -> None:
    """A stored mask of the ``ordered`` form sets as many positions as the value has slices, or none (MXNet
    checks it when it runs, and the data cannot change it)."""
    mask, value = stored[1], shapes[2] if len(shapes) > 2 else None
    if mask is None or mask_assign_form(node, shapes[0], shapes[1], value) != "ordered":
        return
    kept, slices = int(np.count_nonzero(mask)), value[node.attrs["start_axis"]]
    if kept not in (0, slices):
        raise ShapeError(f"the stored mask sets {kept} positions but the value has {slices} slices for them")
