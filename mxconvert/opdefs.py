"""MXNet operator schemas: attribute types and defaults, input roles, output counts.

The symbol reader parses every attribute string once through these schemas, so emitters only ever see
Python values (``tuple``/``bool``/``int``/``float``/``str``/``None``) with MXNet's defaults filled in.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable

Parser = Callable[[str], Any]
REQUIRED = object()  # marks an attribute MXNet requires


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true"):
        return True
    if lowered in ("0", "false"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_int(text: str) -> int:
    value = float(text.strip()) if "." in text or "e" in text.lower() else int(text.strip())
    if isinstance(value, float) and not value.is_integer():  # also rejects inf and nan ("1e400")
        raise ValueError(f"not an integer: {text!r}")
    return int(value)


def parse_float(text: str) -> float:
    """A ``double`` parameter. A lone sign or only whitespace reads as zero and an exponent without digits
    (``"4E"``, ``"2.5e+"``) as none, as in MXNet's parser; an empty value is refused."""
    if not text:
        raise ValueError("empty value")
    bare = re.fullmatch(r"\s*([+-]?)\.?([eE][+-]?\d*)?\s*", text)
    if bare:  # a mantissa without digits ("E", ".", "-.e5") reads as a zero of its sign, as in MXNet's parser
        return -0.0 if bare.group(1) == "-" else 0.0
    stripped = re.sub(r"(?<=[0-9.])[eE][+-]?$", "", text.strip())
    value = -0.0 if stripped == "-" else 0.0 if stripped in ("+", "") else float(stripped)
    if math.isnan(value):
        raise ValueError(f"not a number: {text!r}")
    if math.isinf(value) and "inf" not in text.lower():  # "1e400": MXNet's parser refuses it as out of range
        raise ValueError(f"out of range: {text[:40]!r}")
    return value


FLOAT32_MAX = 3.4028234663852886e38


def parse_float32(text: str) -> float:
    """A ``float`` parameter: finite values past float32's range are refused, as MXNet does."""
    value = parse_float(text)
    if not math.isinf(value) and abs(value) > FLOAT32_MAX:
        raise ValueError(f"out of range for float32: {text[:40]!r}")
    return value


INT64_MAX = 2**63 - 1


def parse_shape(text: str) -> tuple:
    """``"(3, 3)"``, ``"[3,3]"``, ``"(3,)"``, ``"3"``, ``"(None, 2)"`` -> tuple of ints (``None`` kept), read
    element by element at any length; a size past int64 is refused as MXNet's stream parser refuses it."""
    stripped = text.strip()
    if stripped[:1] + stripped[-1:] in ("()", "[]"):
        stripped = stripped[1:-1].strip()
        if stripped.endswith(","):  # "(3,)"
            stripped = stripped[:-1]
    if not stripped:
        return ()
    values = []
    for item in stripped.split(","):
        item = item.strip().removesuffix("L")
        if item == "None":
            values.append(None)
        elif re.fullmatch(r"[+-]?[0-9]+", item):
            value = int(item)
            if abs(value) > INT64_MAX:
                raise ValueError(f"out of range: {item[:40]!r}")
            values.append(value)
        else:
            raise ValueError(f"not a shape: {text[:80]!r}")
    return tuple(values)


def in_range(parser: Parser, low: float, high: float | None = None) -> Parser:
    """``parser`` restricted to ``low <= value`` and, when ``high`` is given, ``value <= high`` (MXNet's
    ``set_lower_bound`` and ``set_range`` on a parameter)."""

    def parse(text: str) -> Any:
        value = parser(text)
        if high is None and value < low:
            raise ValueError(f"{value} is below {low}")
        if high is not None and not low <= value <= high:
            raise ValueError(f"{value} is outside [{low}, {high}]")
        return value

    parse.__name__ = parser.__name__
    return parse


def positive_sizes(parser: Parser) -> Parser:
    """``parser`` of a shape restricted to sizes of at least 1: MXNet rejects a zero in a kernel, stride or
    dilation (Pooling when parsing, Convolution in shape inference). A negative size is refused too, although
    MXNet's Pooling runs a negative stride (its output size formula then yields one window or none)."""

    def parse(text: str) -> Any:
        shape = parser(text)
        if any(size is not None and size < 0 for size in shape):
            raise ValueError(f"negative size refused, got {shape}")
        if any(size is None or size < 1 for size in shape):
            raise ValueError(f"every size must be at least 1, got {shape}")
        return shape

    parse.__name__ = parser.__name__
    return parse


def none_as_unknown(parser: Parser) -> Parser:
    """``parser`` of a shape reading ``None`` as -1, MXNet's unknown size (a pad of ``(0, None)`` is (0, -1))."""

    def parse(text: str) -> Any:
        return tuple(-1 if size is None else size for size in parser(text))

    parse.__name__ = parser.__name__
    return parse


def leading(parser: Parser, count: int) -> Parser:
    """``parser`` of a shape keeping its first ``count`` values: MXNet reads no further (Crop's h_w, offset)."""

    def parse(text: str) -> Any:
        return parser(text)[:count]

    parse.__name__ = parser.__name__
    return parse


def parse_str(text: str) -> str:
    return text


def optional(parser: Parser) -> Parser:
    """Accept ``"None"`` (MXNet's spelling of an unset optional) as ``None``."""

    def parse(text: str) -> Any:
        return None if text.strip() == "None" else parser(text)

    parse.__name__ = f"optional_{parser.__name__}"
    return parse


def choice(*allowed: str | None) -> Parser:
    def parse(text: str) -> str | None:
        value = None if text == "None" and None in allowed else text
        if value not in allowed:
            raise ValueError(f"{text!r} is not one of {', '.join(map(str, allowed))}")
        return value

    return parse


@dataclass(frozen=True)
class OpDef:
    """What the reader needs to know about one op."""

    attrs: dict[str, tuple[Parser, Any]] = field(default_factory=dict)
    param_inputs: tuple[int, ...] = ()  # input slots that hold learned weights
    aux_inputs: tuple[int, ...] = ()  # input slots that hold auxiliary states
    label_inputs: tuple[int, ...] = ()  # input slots that hold labels of a loss head
    outputs: Callable[[dict[str, Any]], int] = lambda attrs: 1
    # Named input slots of fixed-arity ops; MXNet 0.x JSON may leave trailing ones (aux states) implicit,
    # to be re-created as variables called ``<node>_<slot>``.
    input_names: Callable[[dict[str, Any]], tuple[str, ...]] | None = None


_SHAPE_EMPTY = (parse_shape, ())
_WINDOW = (positive_sizes(parse_shape), ())  # a kernel, stride or dilation; () means MXNet's default
_PAD = (none_as_unknown(parse_shape), ())
_COUNT = in_range(parse_int, 1)  # a count MXNet bounds below by 1
_CUDNN_OFF = (parse_bool, False)
_LAYOUT = (optional(parse_str), None)

_SCALAR = OpDef({"scalar": (parse_float, REQUIRED), "is_int": (parse_bool, False)})
_BINARY = OpDef()
_UNARY = OpDef()

OPS: dict[str, OpDef] = {
    "Convolution": OpDef(
        {
            "kernel": (positive_sizes(parse_shape), REQUIRED),
            "stride": _WINDOW,
            "dilate": _WINDOW,
            "pad": _PAD,
            "num_filter": (_COUNT, REQUIRED),
            "num_group": (_COUNT, 1),  # unbounded in MXNet, whose shape inference then divides by zero
            "workspace": (parse_int, 1024),
            "no_bias": (parse_bool, False),
            "cudnn_tune": (optional(parse_str), None),
            "cudnn_off": _CUDNN_OFF,
            "layout": _LAYOUT,
        },
        param_inputs=(1, 2),
        input_names=lambda a: ("data", "weight") + (() if a["no_bias"] else ("bias",)),
    ),
    "BatchNorm": OpDef(
        {
            "eps": (parse_float, 1e-3),
            "momentum": (parse_float32, 0.9),
            "fix_gamma": (parse_bool, True),
            "use_global_stats": (parse_bool, False),
            "output_mean_var": (parse_bool, False),
            "axis": (parse_int, 1),
            "cudnn_off": _CUDNN_OFF,
            "min_calib_range": (optional(parse_float32), None),
            "max_calib_range": (optional(parse_float32), None),
        },
        param_inputs=(1, 2),
        aux_inputs=(3, 4),
        outputs=lambda a: 3 if a["output_mean_var"] else 1,
        input_names=lambda a: ("data", "gamma", "beta", "moving_mean", "moving_var"),
    ),
    "Activation": OpDef(
        {"act_type": (choice("relu", "sigmoid", "softrelu", "softsign", "tanh"), REQUIRED)}
    ),
    "LeakyReLU": OpDef(
        {
            "act_type": (choice("elu", "gelu", "leaky", "prelu", "rrelu", "selu"), "leaky"),
            "slope": (parse_float32, 0.25),
            "lower_bound": (parse_float32, 0.125),
            "upper_bound": (parse_float32, 0.334),
        },
        param_inputs=(1,),
        input_names=lambda a: ("data", "gamma") if a["act_type"] == "prelu" else ("data",),
    ),
    "Pooling": OpDef(
        {
            "kernel": _WINDOW,
            "pool_type": (choice("avg", "lp", "max", "sum"), "max"),
            "global_pool": (parse_bool, False),
            "cudnn_off": _CUDNN_OFF,
            "pooling_convention": (choice("full", "same", "valid"), "valid"),
            "stride": _WINDOW,
            "pad": _PAD,
            "p_value": (optional(parse_int), None),
            "count_include_pad": (optional(parse_bool), None),
            "layout": _LAYOUT,
        }
    ),
    "FullyConnected": OpDef(
        {
            "num_hidden": (_COUNT, REQUIRED),
            "no_bias": (parse_bool, False),
            "flatten": (parse_bool, True),
        },
        param_inputs=(1, 2),
        input_names=lambda a: ("data", "weight") + (() if a["no_bias"] else ("bias",)),
    ),
    "Flatten": _UNARY,
    "Dropout": OpDef(
        {
            "p": (in_range(parse_float32, 0, 1), 0.5),
            "mode": (choice("always", "training"), "training"),
            "axes": _SHAPE_EMPTY,
            "cudnn_off": (optional(parse_bool), False),
        }
    ),
    "Concat": OpDef({"dim": (parse_int, 1), "num_args": (optional(_COUNT), None)}),
    "SoftmaxOutput": OpDef(
        {
            "grad_scale": (parse_float32, 1.0),
            "ignore_label": (parse_float32, -1.0),
            "multi_output": (parse_bool, False),
            "use_ignore": (parse_bool, False),
            "preserve_shape": (parse_bool, False),
            "normalization": (choice("batch", "null", "valid"), "null"),
            "out_grad": (parse_bool, False),
            "smooth_alpha": (in_range(parse_float32, 0, 1), 0.0),
        },
        label_inputs=(1,),
        input_names=lambda a: ("data", "label"),
    ),
    "SoftmaxActivation": OpDef({"mode": (choice("channel", "instance"), "instance")}),
    "softmax": OpDef(
        {
            "axis": (parse_int, -1),
            "temperature": (optional(parse_float), None),
            "dtype": (choice(None, "float16", "float32", "float64"), None),
            "use_length": (optional(parse_bool), False),
        }
    ),
    "Reshape": OpDef(
        {
            "shape": _SHAPE_EMPTY,
            "reverse": (parse_bool, False),
            "target_shape": _SHAPE_EMPTY,
            "keep_highest": (parse_bool, False),
        }
    ),
    "SliceChannel": OpDef(
        {
            "num_outputs": (_COUNT, REQUIRED),
            "axis": (parse_int, 1),
            "squeeze_axis": (parse_bool, False),
        },
        outputs=lambda a: a["num_outputs"],
    ),
    "UpSampling": OpDef(
        {
            "scale": (_COUNT, REQUIRED),
            "num_filter": (parse_int, 0),
            "sample_type": (choice("bilinear", "nearest"), REQUIRED),
            "multi_input_mode": (choice("concat", "sum"), "concat"),
            "num_args": (_COUNT, REQUIRED),
            "workspace": (parse_int, 512),
        }
    ),
    "Crop": OpDef(
        {
            "num_args": (in_range(parse_int, 1, 3), REQUIRED),
            "offset": (leading(parse_shape, 2), (0, 0)),
            "h_w": (leading(parse_shape, 2), (0, 0)),
            "center_crop": (parse_bool, False),
        }
    ),
    "transpose": OpDef({"axes": _SHAPE_EMPTY}),
    "clip": OpDef({"a_min": (parse_float32, REQUIRED), "a_max": (parse_float32, REQUIRED)}),
    "L2Normalization": OpDef(
        {
            "eps": (parse_float32, 1e-10),
            "mode": (choice("channel", "instance", "spatial"), "instance"),
        }
    ),
    "_copy": _UNARY,
    "hard_sigmoid": OpDef({"alpha": (parse_float, 0.2), "beta": (parse_float, 0.5)}),
    "add_n": OpDef({"num_args": (_COUNT, REQUIRED)}),
}

# --- reductions: ``axis`` None or () reduces every axis; ``exclude`` reduces the axes not listed ---------------
REDUCTIONS = ("sum", "mean", "max", "min", "prod", "nansum", "nanprod")
_REDUCE = OpDef({"axis": (optional(parse_shape), None), "keepdims": (parse_bool, False),
                 "exclude": (parse_bool, False)})
_ARG_REDUCE = OpDef({"axis": (optional(parse_int), None), "keepdims": (parse_bool, False)})
OPS.update({name: _REDUCE for name in REDUCTIONS})
OPS.update({
    "norm": OpDef({"ord": (in_range(parse_int, 1, 2), 2), "axis": (optional(parse_shape), None),
                   "out_dtype": (optional(choice("float16", "float32", "float64", "int32", "int64", "int8")), None),
                   "keepdims": (parse_bool, False)}),
    "argmax": _ARG_REDUCE,
    "argmin": _ARG_REDUCE,
})

# --- the elementwise family: one table of names that the schemas, the shape rules and both emitters read ---

# Unary math ops without attributes (MXNet's elemwise_unary_op_*.cc), computed as their C math namesakes;
# round is C's round (half away from zero), rint takes the floor on ties, fix rounds towards zero.
UNARY_MATH = ("abs", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "cbrt", "ceil", "cos", "cosh",
              "degrees", "erf", "erfinv", "exp", "expm1", "fix", "floor", "gamma", "gammaln", "log", "log10",
              "log1p", "log2", "logical_not", "negative", "radians", "rcbrt", "reciprocal", "relu", "rint", "round",
              "rsqrt", "sigmoid", "sign", "sin", "sinh", "softsign", "sqrt", "square", "tan", "tanh", "trunc")


@dataclass(frozen=True)
class BinaryForm:
    """One spelling of a binary op: ``base`` (``add``, ``power``, ``greater``, ...) applied ``elementwise``
    (equal shapes), ``broadcast`` or with a ``scalar`` attribute (``reverse``: ``scalar op x``)."""

    base: str
    form: str
    reverse: bool = False


# Comparisons and logical ops output 1 or 0 in the data's type.
COMPARISONS = ("equal", "not_equal", "greater", "greater_equal", "lesser", "lesser_equal")
LOGICAL = ("logical_and", "logical_or", "logical_xor")
BINARY_FORMS: dict[str, BinaryForm] = {}
for _base, _scalar_name in (("add", "plus"), ("sub", "minus"), ("mul", "mul"), ("div", "div")):
    BINARY_FORMS[f"elemwise_{_base}"] = BinaryForm(_base, "elementwise")
    BINARY_FORMS[f"broadcast_{_base}"] = BinaryForm(_base, "broadcast")
    BINARY_FORMS[f"_{_scalar_name}_scalar"] = BinaryForm(_base, "scalar")
for _base in ("maximum", "minimum", "power", "hypot", "mod", *COMPARISONS, *LOGICAL):
    BINARY_FORMS[f"_{_base}"] = BinaryForm(_base, "elementwise")
    BINARY_FORMS[f"broadcast_{_base}"] = BinaryForm(_base, "broadcast")
    BINARY_FORMS[f"_{_base}_scalar"] = BinaryForm(_base, "scalar")
for _base, _scalar_name in (("sub", "minus"), ("div", "div"), ("power", "power"), ("mod", "mod")):
    BINARY_FORMS[f"_r{_scalar_name}_scalar"] = BinaryForm(_base, "scalar", reverse=True)
OPS.update({name: _UNARY for name in UNARY_MATH})
OPS.update({name: _SCALAR if form.form == "scalar" else _BINARY for name, form in BINARY_FORMS.items()})

# Older spellings found in checkpoints of MXNet 0.x and in the Python front end, mapped to the names above.
ALIASES: dict[str, str] = {
    "_Plus": "elemwise_add",
    "_plus": "elemwise_add",
    "_add": "elemwise_add",
    "_Minus": "elemwise_sub",
    "_minus": "elemwise_sub",
    "_sub": "elemwise_sub",
    "_Mul": "elemwise_mul",
    "_mul": "elemwise_mul",
    "_Div": "elemwise_div",
    "_div": "elemwise_div",
    "_PlusScalar": "_plus_scalar",
    "_MinusScalar": "_minus_scalar",
    "_MulScalar": "_mul_scalar",
    "_DivScalar": "_div_scalar",
    "_RMinusScalar": "_rminus_scalar",
    "_RDivScalar": "_rdiv_scalar",
    "_Maximum": "_maximum",
    "_Minimum": "_minimum",
    "_Power": "_power",
    "_Hypot": "_hypot",
    "_Mod": "_mod",
    "_MaximumScalar": "_maximum_scalar",
    "_MinimumScalar": "_minimum_scalar",
    "_PowerScalar": "_power_scalar",
    "_RPowerScalar": "_rpower_scalar",
    "_HypotScalar": "_hypot_scalar",
    "_ModScalar": "_mod_scalar",
    "_RModScalar": "_rmod_scalar",
    "_Equal": "_equal",
    "_Not_Equal": "_not_equal",
    "_Greater": "_greater",
    "_Greater_Equal": "_greater_equal",
    "_Lesser": "_lesser",
    "_Lesser_Equal": "_lesser_equal",
    "_EqualScalar": "_equal_scalar",
    "_NotEqualScalar": "_not_equal_scalar",
    "_GreaterScalar": "_greater_scalar",
    "_GreaterEqualScalar": "_greater_equal_scalar",
    "_LesserScalar": "_lesser_scalar",
    "_LesserEqualScalar": "_lesser_equal_scalar",
    "_Logical_And": "_logical_and",
    "_Logical_Or": "_logical_or",
    "_Logical_Xor": "_logical_xor",
    "_LogicalAndScalar": "_logical_and_scalar",
    "_LogicalOrScalar": "_logical_or_scalar",
    "_LogicalXorScalar": "_logical_xor_scalar",
    "sum_axis": "sum",
    "max_axis": "max",
    "min_axis": "min",
    "broadcast_plus": "broadcast_add",
    "broadcast_minus": "broadcast_sub",
    "ElementWiseSum": "add_n",
    "identity": "_copy",
    "flatten": "Flatten",
    "split": "SliceChannel",
    "concat": "Concat",
    "reshape": "Reshape",
    "Softmax": "SoftmaxOutput",
}


def canonical_op(op: str) -> str:
    return ALIASES.get(op, op)

# --- loss heads (inference_graph.inference_forward rewrites each into its inference forward) ---------------------
_GRAD_SCALE = (parse_float32, 1.0)
_LABELLED = {"label_inputs": (1,), "input_names": lambda a: ("data", "label")}
_REGRESSION = OpDef({"grad_scale": (parse_str, "1")}, **_LABELLED)  # read by MXNet in backward only: any text
OPS.update({
    "LinearRegressionOutput": _REGRESSION,
    "MAERegressionOutput": _REGRESSION,
    "LogisticRegressionOutput": _REGRESSION,
    "SVMOutput": OpDef({"margin": (parse_float32, 1.0), "regularization_coefficient": (parse_float32, 1.0),
                        "use_linear": (parse_bool, False)}, **_LABELLED),
    "WarpCTC": OpDef({"label_length": (parse_int, 0), "input_length": (parse_int, 0)}, **_LABELLED),
    "MakeLoss": OpDef({"grad_scale": _GRAD_SCALE, "valid_thresh": (parse_float32, 0.0),
                       "normalization": (choice("batch", "null", "valid"), "null")}),
    # its forward is the loss; at inference the head yields its data, the per-step class scores
    "CTCLoss": OpDef({"use_data_lengths": (parse_bool, False), "use_label_lengths": (parse_bool, False),
                      "blank_label": (choice("first", "last"), "first")}, label_inputs=(1, 2, 3),
                     input_names=lambda a: ("data", "label") + ("data_lengths",) * a["use_data_lengths"]
                     + ("label_lengths",) * a["use_label_lengths"]),
})
ALIASES.update({"ctc_loss": "CTCLoss", "_contrib_CTCLoss": "CTCLoss", "_contrib_ctc_loss": "CTCLoss"})
LOSS_HEADS = ("SoftmaxOutput", "LinearRegressionOutput", "MAERegressionOutput", "LogisticRegressionOutput",
              "SVMOutput", "WarpCTC", "MakeLoss", "CTCLoss")


# --- padding, resizing, adaptive/ROI pooling and sequence ops (family ``resize``) -----------------------------------
RESIZE_MODES = ("size", "odd_scale", "like", "to_even_down", "to_even_up", "to_odd_down", "to_odd_up")
_SEQUENCE_AXIS = {"use_sequence_length": (parse_bool, False), "axis": (parse_int, 0)}
OPS.update({
    "Pad": OpDef({"mode": (choice("constant", "edge", "reflect"), REQUIRED),
                  "pad_width": (none_as_unknown(parse_shape), REQUIRED), "constant_value": (parse_float, 0.0)}),
    "_contrib_AdaptiveAvgPooling2D": OpDef({"output_size": (none_as_unknown(parse_shape), ())}),
    "_contrib_BilinearResize2D": OpDef({
        "height": (in_range(parse_int, 1), 1), "width": (in_range(parse_int, 1), 1),
        "scale_height": (optional(parse_float32), None), "scale_width": (optional(parse_float32), None),
        "mode": (choice(*RESIZE_MODES), "size"), "align_corners": (parse_bool, True)}),
    "ROIPooling": OpDef({"pooled_size": (positive_sizes(parse_shape), REQUIRED),
                         "spatial_scale": (in_range(parse_float32, 0.0, 1.0), REQUIRED)}),
    "SequenceMask": OpDef({**_SEQUENCE_AXIS, "value": (parse_float32, 0.0)}),
    "SequenceReverse": OpDef(_SEQUENCE_AXIS),
    "SequenceLast": OpDef(_SEQUENCE_AXIS),
})
ALIASES.update({"pad": "Pad", "_npx_roi_pooling": "ROIPooling", "_npx_sequence_mask": "SequenceMask"})


# --- shape and layout ops (prefix shape_) ---------------------------------------------------------------------------
def refusing_negative(parser: Parser) -> Parser:
    """``parser`` of a count that refuses negative values by name (``_split_v2`` takes a negative ``sections``
    and then writes outside its outputs)."""

    def parse(text: str) -> Any:
        value = parser(text)
        if value < 0:
            raise ValueError(f"negative size refused, got {value}")
        return value

    parse.__name__ = parser.__name__
    return parse


CAST_DTYPES = ("float32", "float64", "float16", "bfloat16", "uint8", "int8", "int32", "int64")
_BLOCK_SIZE = (_COUNT, REQUIRED)
_RESHAPE_LIKE_BOUND = (optional(parse_int), None)
OPS.update({
    "expand_dims": OpDef({"axis": (parse_int, REQUIRED)}),
    "squeeze": OpDef({"axis": (optional(parse_shape), None)}),
    # a bare None is an unset step in MXNet (every step 1); begin and end need values
    "slice": OpDef({"begin": (parse_shape, REQUIRED), "end": (parse_shape, REQUIRED),
                    "step": (optional(parse_shape), ())}),
    "slice_axis": OpDef({"axis": (parse_int, REQUIRED), "begin": (parse_int, REQUIRED),
                         "end": (optional(parse_int), REQUIRED)}),
    "slice_like": OpDef({"axes": _SHAPE_EMPTY}),
    "reshape_like": OpDef({"lhs_begin": _RESHAPE_LIKE_BOUND, "lhs_end": _RESHAPE_LIKE_BOUND,
                           "rhs_begin": _RESHAPE_LIKE_BOUND, "rhs_end": _RESHAPE_LIKE_BOUND}),
    "broadcast_to": OpDef({"shape": _SHAPE_EMPTY}),
    "broadcast_axis": OpDef({"axis": _SHAPE_EMPTY, "size": _SHAPE_EMPTY}),
    "broadcast_like": OpDef({"lhs_axes": (optional(parse_shape), None), "rhs_axes": (optional(parse_shape), None)}),
    "tile": OpDef({"reps": (parse_shape, REQUIRED)}),
    "repeat": OpDef({"repeats": (parse_int, REQUIRED), "axis": (optional(parse_int), None)}),
    "stack": OpDef({"axis": (parse_int, 0), "num_args": (_COUNT, REQUIRED)}),
    "_split_v2": OpDef({"indices": (parse_shape, REQUIRED), "axis": (parse_int, 1),
                        "squeeze_axis": (parse_bool, False), "sections": (refusing_negative(parse_int), 0)},
                       outputs=lambda a: a["sections"] if a["sections"] > 0 else len(a["indices"])),
    "SwapAxis": OpDef({"dim1": (parse_int, 0), "dim2": (parse_int, 0)}),
    "reverse": OpDef({"axis": (parse_shape, REQUIRED)}),
    "depth_to_space": OpDef({"block_size": _BLOCK_SIZE}),
    "space_to_depth": OpDef({"block_size": _BLOCK_SIZE}),
    "Cast": OpDef({"dtype": (choice(*CAST_DTYPES, "bool"), REQUIRED)}),
    "amp_cast": OpDef({"dtype": (choice(*CAST_DTYPES), REQUIRED)}),
    "BlockGrad": _UNARY,
})
ALIASES.update({
    "stop_gradient": "BlockGrad",
    "broadcast_axes": "broadcast_axis",
    "swapaxes": "SwapAxis",
    "flip": "reverse",
    "cast": "Cast",
    "crop": "slice",
    # the NumPy front end's spellings of the same operators
    "_npi_expand_dims": "expand_dims",
    "_npi_slice": "slice",
    "_npx_slice": "slice",
    "_npx_reshape_like": "reshape_like",
    "_npi_tile": "tile",
    "_np_repeat": "repeat",
    "_npi_split": "_split_v2",
    "_npi_swapaxes": "SwapAxis",
    "_npi_cast": "Cast",
    "_npx_cast": "Cast",
})


# --- indexing, creation and sorting (prefix index_) -----------------------------------------------------------------
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
OPS.update({
    "take": OpDef({"axis": (parse_int, 0), "mode": (choice("clip", "raise", "wrap"), "clip")}),
    "pick": OpDef({"axis": _SORT_AXIS, "keepdims": (parse_bool, False), "mode": (choice("clip", "wrap"), "clip")}),
    "one_hot": OpDef({"depth": (parse_int, REQUIRED), "on_value": (parse_float, 1.0), "off_value": (parse_float, 0.0),
                      "dtype": _DTYPE}),
    "gather_nd": _BINARY,
    "where": OpDef(),
    "topk": OpDef({"axis": _SORT_AXIS, "k": (parse_int, 1),
                   "ret_typ": (choice(*_TOPK_OUTPUTS), "indices"), "is_ascend": (parse_bool, False),
                   "dtype": _INDEX_DTYPE},
                  outputs=lambda a: _TOPK_OUTPUTS[a["ret_typ"]]),
    "sort": OpDef({"axis": _SORT_AXIS, "is_ascend": (parse_bool, True)}, outputs=lambda a: 2),  # indices hidden
    "argsort": OpDef({"axis": _SORT_AXIS, "is_ascend": (parse_bool, True), "dtype": _INDEX_DTYPE}),
    "shape_array": _UNARY,
    "size_array": _UNARY,
    "_arange": OpDef({"start": (parse_float, REQUIRED), "stop": (optional(parse_float), None),
                      "step": (parse_float, 1.0), "repeat": (parse_int, 1), "infer_range": (parse_bool, False),
                      "ctx": _CTX, "dtype": _DTYPE}),
    "_contrib_arange_like": OpDef({"start": (parse_float, 0.0), "step": (parse_float, 1.0),
                                   "repeat": (parse_int, 1), "ctx": _CTX, "axis": (optional(parse_int), None)}),
    "_zeros": OpDef({"shape": _SHAPE_EMPTY, "ctx": _CTX, "dtype": _CREATION_DTYPE}),
    "_ones": OpDef({"shape": _SHAPE_EMPTY, "ctx": _CTX, "dtype": _CREATION_DTYPE}),
    "_full": OpDef({"shape": _SHAPE_EMPTY, "ctx": _CTX, "dtype": _CREATION_DTYPE, "value": (parse_float, REQUIRED)}),
    # no parameters in MXNet 1.9, which ignores the ``dtype`` GluonCV's symbols carry (the output has the input's
    # type): read as any text and ignored
    "zeros_like": OpDef({"dtype": (parse_str, "")}),
    "ones_like": OpDef({"dtype": (parse_str, "")}),
    # random draws: statistics, not values, match MXNet's
    "_random_normal": OpDef({"loc": (parse_float32, 0.0), "scale": (parse_float32, 1.0), "shape": _SHAPE_EMPTY,
                             "ctx": _CTX, "dtype": _RANDOM_DTYPE}),
    "_random_uniform": OpDef({"low": (parse_float32, 0.0), "high": (parse_float32, 1.0), "shape": _SHAPE_EMPTY,
                              "ctx": _CTX, "dtype": _RANDOM_DTYPE}),
    "_random_uniform_like": OpDef({"low": (parse_float32, 0.0), "high": (parse_float32, 1.0)}),
    "_sample_multinomial": OpDef({"shape": _SHAPE_EMPTY, "get_prob": (parse_bool, False),
                                  "dtype": (choice("float16", "float32", "float64", "int32", "uint8"), "int32")},
                                 outputs=lambda a: 2 if a["get_prob"] else 1),
})
ALIASES.update({
    "_npi_take": "take", "_npx_one_hot": "one_hot", "_npi_gather_nd": "gather_nd", "_npx_gather_nd": "gather_nd",
    "_npx_topk": "topk", "_npi_sort": "sort", "_npi_argsort": "argsort", "_npx_shape_array": "shape_array",
    "_npi_full": "_full", "_npx_arange_like": "_contrib_arange_like", "normal": "_random_normal",
    "random_normal": "_random_normal", "uniform": "_random_uniform", "random_uniform": "_random_uniform",
    "sample_multinomial": "_sample_multinomial",
})


# === nn layers, normalisation and matrix products ===================================================================
_SOFTMAX_LIKE = OpDef({
    "axis": (parse_int, -1),
    "temperature": (optional(parse_float), None),
    "dtype": (choice(None, "float16", "float32", "float64"), None),
    "use_length": (optional(parse_bool), False),
})
_MATMUL = OpDef({"transpose_a": (parse_bool, False), "transpose_b": (parse_bool, False),
                 "forward_stype": (choice(None, "default", "row_sparse", "csr"), None)})
_NORM_OUTPUTS = (lambda a: 3 if a["output_mean_var"] else 1)
OPS.update({
    "Deconvolution": OpDef(
        {
            "kernel": (positive_sizes(parse_shape), REQUIRED),
            "stride": _WINDOW,
            "dilate": _WINDOW,
            "pad": _PAD,
            "adj": _SHAPE_EMPTY,
            "target_shape": _SHAPE_EMPTY,
            "num_filter": (_COUNT, REQUIRED),
            "num_group": (_COUNT, 1),
            "workspace": (parse_int, 512),  # unsigned in MXNet: "-1" wraps around
            "no_bias": (parse_bool, True),
            "cudnn_tune": (choice(None, "off", "limited_workspace", "fastest"), None),
            "cudnn_off": _CUDNN_OFF,
            "layout": (choice(None, "NCW", "NCHW", "NCDHW", "NHWC", "NDHWC"), None),
        },
        param_inputs=(1, 2),
        input_names=lambda a: ("data", "weight") + (() if a["no_bias"] else ("bias",)),
    ),
    "LRN": OpDef({"alpha": (parse_float32, 1e-4), "beta": (parse_float32, 0.75), "knorm": (parse_float32, 2.0),
                  "nsize": (_COUNT, REQUIRED)}),
    "InstanceNorm": OpDef({"eps": (parse_float32, 1e-3)}, param_inputs=(1, 2),
                          input_names=lambda a: ("data", "gamma", "beta")),
    "GroupNorm": OpDef({"num_groups": (_COUNT, 1), "eps": (parse_float32, 1e-5),
                        "output_mean_var": (parse_bool, False)},
                       param_inputs=(1, 2), outputs=_NORM_OUTPUTS, input_names=lambda a: ("data", "gamma", "beta")),
    "LayerNorm": OpDef({"axis": (parse_int, -1), "eps": (parse_float32, 1e-5), "output_mean_var": (parse_bool, False)},
                       param_inputs=(1, 2), outputs=_NORM_OUTPUTS, input_names=lambda a: ("data", "gamma", "beta")),
    "Embedding": OpDef(
        {
            "input_dim": (_COUNT, REQUIRED),
            "output_dim": (_COUNT, REQUIRED),
            "dtype": (choice("bfloat16", "float16", "float32", "float64", "int32", "int64", "int8", "uint8"),
                      "float32"),
            "sparse_grad": (parse_bool, False),
        },
        param_inputs=(1,),
        input_names=lambda a: ("data", "weight"),
    ),
    "log_softmax": _SOFTMAX_LIKE,
    "softmin": _SOFTMAX_LIKE,
    "dot": _MATMUL,
    "batch_dot": _MATMUL,
    "_linalg_gemm2": OpDef({"transpose_a": (parse_bool, False), "transpose_b": (parse_bool, False),
                            "alpha": (parse_float, 1.0), "axis": (parse_int, -2)}),
    "_contrib_div_sqrt_dim": _UNARY,
    "_contrib_interleaved_matmul_selfatt_qk": OpDef({"heads": (parse_int, REQUIRED)}),
    "_contrib_interleaved_matmul_selfatt_valatt": OpDef({"heads": (parse_int, REQUIRED)}),
    "_contrib_interleaved_matmul_encdec_qk": OpDef({"heads": (parse_int, REQUIRED)}),
    "_contrib_interleaved_matmul_encdec_valatt": OpDef({"heads": (parse_int, REQUIRED)}),
})
ALIASES.update({
    "_npx_deconvolution": "Deconvolution",
    "_npx_layer_norm": "LayerNorm",
    "_npx_embedding": "Embedding",
    "_npx_log_softmax": "log_softmax",
    "_npx_batch_dot": "batch_dot",
    "linalg_gemm2": "_linalg_gemm2",
})


# --- the fused RNN op -----------------------------------------------------------------------------------------------
RNN_MODES = ("lstm", "gru", "rnn_tanh", "rnn_relu")


def _rnn_inputs(attrs: dict[str, Any]) -> tuple[str, ...]:
    """The RNN's input slots: data, the packed parameters, the begin state (and cell state of an LSTM), and the
    sequence lengths with ``use_sequence_length``."""
    cell = ("state_cell",) if attrs["mode"] == "lstm" else ()
    lengths = ("sequence_length",) if attrs["use_sequence_length"] else ()
    return ("data", "parameters", "state", *cell, *lengths)


OPS.update({
    "RNN": OpDef(
        {
            "state_size": (_COUNT, REQUIRED),
            "num_layers": (_COUNT, REQUIRED),
            "bidirectional": (parse_bool, False),
            "mode": (choice(*RNN_MODES), REQUIRED),
            "p": (in_range(parse_float32, 0, 1), 0.0),
            "state_outputs": (parse_bool, False),
            "projection_size": (optional(_COUNT), None),
            "lstm_state_clip_min": (optional(parse_float), None),
            "lstm_state_clip_max": (optional(parse_float), None),
            "lstm_state_clip_nan": (parse_bool, False),
            "use_sequence_length": (parse_bool, False),
        },
        param_inputs=(1,),
        outputs=lambda a: 1 + (1 + (a["mode"] == "lstm")) * a["state_outputs"],
        input_names=_rnn_inputs,
    ),
    # Gluon's rnn layers pack their weights with it: a Concat whose shape inference also fills unknown sizes
    "_rnn_param_concat": OpDef({"dim": (parse_int, 1), "num_args": (_COUNT, REQUIRED)}),
})
ALIASES.update({"_npx_rnn": "RNN", "_npi_rnn_param_concat": "_rnn_param_concat"})


# --- detection post-processing (family ``detection``, prefix det_) --------------------------------------------------
BOX_FORMATS = ("corner", "center")
_BOX_FORMAT_CORNER = (choice(*BOX_FORMATS), "corner")


def parse_float32_tuple(text: str) -> tuple[float, ...]:
    """``"(0.2, 0.27)"``, ``"[1]"`` or ``"0.5"`` -> a tuple of float32 values (MXNet's ``Tuple<float>``)."""
    stripped = text.strip()
    if stripped[:1] + stripped[-1:] in ("()", "[]"):
        stripped = stripped[1:-1]
    return tuple(parse_float32(item) for item in stripped.split(",") if item.strip())


OPS.update({
    "_contrib_box_nms": OpDef({
        "overlap_thresh": (parse_float32, 0.5), "valid_thresh": (parse_float32, 0.0), "topk": (parse_int, -1),
        "coord_start": (parse_int, 2), "score_index": (parse_int, 1), "id_index": (parse_int, -1),
        "background_id": (parse_int, -1), "force_suppress": (parse_bool, False),
        "in_format": _BOX_FORMAT_CORNER, "out_format": _BOX_FORMAT_CORNER},
        outputs=lambda a: 2),  # the kept rows' input positions follow, hidden (MXNet keeps them for backward)
    "_contrib_box_iou": OpDef({"format": _BOX_FORMAT_CORNER}),
    "_contrib_box_encode": OpDef(outputs=lambda a: 2),
    "_contrib_box_decode": OpDef({**{f"std{i}": (parse_float32, 1.0) for i in range(4)},
                                  "clip": (parse_float32, -1.0), "format": (choice(*BOX_FORMATS), "center")}),
    "_contrib_ROIAlign": OpDef({"pooled_size": (positive_sizes(parse_shape), REQUIRED),
                                "spatial_scale": (in_range(parse_float32, 0.0, 1.0), REQUIRED),
                                "sample_ratio": (parse_int, -1), "position_sensitive": (parse_bool, False),
                                "aligned": (parse_bool, False)}),
    "_contrib_MultiBoxPrior": OpDef({"sizes": (parse_float32_tuple, (1.0,)), "ratios": (parse_float32_tuple, (1.0,)),
                                     "clip": (parse_bool, False), "steps": (parse_float32_tuple, (-1.0, -1.0)),
                                     "offsets": (parse_float32_tuple, (0.5, 0.5))}),
    "_contrib_MultiBoxDetection": OpDef({"clip": (parse_bool, True), "threshold": (parse_float32, 0.01),
                                         "background_id": (parse_int, 0), "nms_threshold": (parse_float32, 0.5),
                                         "force_suppress": (parse_bool, False),
                                         "variances": (parse_float32_tuple, (0.1, 0.1, 0.2, 0.2)),
                                         "nms_topk": (parse_int, -1)}),
})
_PROPOSAL = OpDef({"rpn_pre_nms_top_n": (parse_int, 6000), "rpn_post_nms_top_n": (parse_int, 300),
                   "threshold": (parse_float32, 0.7), "rpn_min_size": (parse_int, 16),
                   "scales": (parse_float32_tuple, (4.0, 8.0, 16.0, 32.0)),
                   "ratios": (parse_float32_tuple, (0.5, 1.0, 2.0)), "feature_stride": (parse_int, 16),
                   "output_score": (parse_bool, False), "iou_loss": (parse_bool, False)},
                  outputs=lambda a: 2 if a["output_score"] else 1)
OPS.update({"_contrib_Proposal": _PROPOSAL, "_contrib_MultiProposal": _PROPOSAL})
ALIASES.update({"_contrib_box_non_maximum_suppression": "_contrib_box_nms",
                "_npx_multibox_prior": "_contrib_MultiBoxPrior",
                "_npx_multibox_detection": "_contrib_MultiBoxDetection"})


# --- control flow: ops holding subgraphs (``Node.subgraphs``), their inputs mapped by position ------------------
def parse_locs(text: str) -> tuple[int, ...]:
    """A tuple of input positions (``"[0, 2]"``); every position at least 0."""
    locs = parse_shape(text)
    if any(loc is None or loc < 0 for loc in locs):
        raise ValueError(f"not a list of positions: {text[:80]!r}")
    return locs


_LOCS = (parse_locs, REQUIRED)
_NUM_OUTPUTS = (_COUNT, REQUIRED)
_CONTROL_FLOW_OUTPUTS = (lambda a: a["num_outputs"])
OPS.update({
    "_foreach": OpDef({"num_args": (_COUNT, REQUIRED), "num_outputs": _NUM_OUTPUTS,
                       "num_out_data": (in_range(parse_int, 0), REQUIRED), "in_state_locs": _LOCS,
                       "in_data_locs": _LOCS, "remain_locs": _LOCS}, outputs=_CONTROL_FLOW_OUTPUTS),
    "_while_loop": OpDef({"num_args": (in_range(parse_int, 2), REQUIRED), "num_outputs": _NUM_OUTPUTS,
                          "num_out_data": (in_range(parse_int, 0), REQUIRED),
                          "max_iterations": (_COUNT, REQUIRED), "cond_input_locs": _LOCS,
                          "func_input_locs": _LOCS, "func_var_locs": _LOCS}, outputs=_CONTROL_FLOW_OUTPUTS),
    "_cond": OpDef({"num_args": (in_range(parse_int, 3), REQUIRED), "num_outputs": _NUM_OUTPUTS,
                    "cond_input_locs": _LOCS, "then_input_locs": _LOCS, "else_input_locs": _LOCS},
                   outputs=_CONTROL_FLOW_OUTPUTS),
})
CONTROL_FLOW = ("_foreach", "_while_loop", "_cond")


# --- fused subgraph ops: what ``optimize_for(backend='MKLDNN')`` and MXNet's quantization flow export, one ------
# subgraph holding the original ops (``fused.inline_fused`` puts a float one's ops back in the graph) -----------
_CALIBRATED = (optional(parse_float32), None)
_QUANTIZED = {"quantized": (parse_bool, False), "min_calib_range": _CALIBRATED, "max_calib_range": _CALIBRATED}
_FLOAT_OUTPUT = {"enable_float_output": (parse_bool, False)}


def _quantized_outputs(attrs: dict[str, Any]) -> int:
    """A quantized op gives its data and the data's min and max, unless it outputs float32."""
    return 3 if attrs["quantized"] and not attrs.get("enable_float_output", False) else 1


OPS.update({
    "_sg_mkldnn_conv": OpDef({"with_bn": (parse_bool, False), "with_act": (parse_bool, False),
                              "with_sum": (parse_bool, False), "with_postsum_act": (parse_bool, False),
                              **_QUANTIZED}, outputs=_quantized_outputs),
    "_sg_mkldnn_fully_connected": OpDef({"with_eltwise": (parse_bool, False),
                                         "channel_wise_quantize": (optional(parse_bool), None),
                                         **_QUANTIZED, **_FLOAT_OUTPUT}, outputs=_quantized_outputs),
    "_sg_mkldnn_selfatt_qk": OpDef({"heads": (_COUNT, REQUIRED), **_QUANTIZED, **_FLOAT_OUTPUT},
                                   outputs=_quantized_outputs),
    "_sg_mkldnn_selfatt_valatt": OpDef({"heads": (_COUNT, REQUIRED), **_QUANTIZED, **_FLOAT_OUTPUT},
                                       outputs=_quantized_outputs),
})
FUSED = ("_sg_mkldnn_conv", "_sg_mkldnn_fully_connected", "_sg_mkldnn_selfatt_qk", "_sg_mkldnn_selfatt_valatt")


# --- INT8 ops of MXNet's quantization flow (``quantization``): a quantized tensor, then its min and max ----------
def _three(attrs: dict[str, Any]) -> int:
    return 3


OPS.update({
    "_contrib_quantize_v2": OpDef({"out_type": (choice("auto", "int8", "uint8"), "int8"),
                                   "min_calib_range": _CALIBRATED, "max_calib_range": _CALIBRATED}, outputs=_three),
    "_contrib_dequantize": OpDef({"out_type": (choice("float32"), "float32")}),
    "_contrib_quantized_pooling": replace(OPS["Pooling"], outputs=_three),
    "_contrib_quantized_flatten": OpDef(outputs=_three),
    "_contrib_quantized_act": replace(OPS["Activation"], outputs=_three),
})
# op -> how many subgraphs it holds
SUBGRAPH_COUNTS = {"_foreach": 1, "_while_loop": 2, "_cond": 3, **{op: 1 for op in FUSED}}
