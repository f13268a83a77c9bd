"""The elementwise family: unary math, arithmetic, comparisons and logic in their elementwise, broadcast and
scalar spellings (one table of names, ``BINARY_FORMS``, that the schemas, the shape rules and both emitters
read), ``hard_sigmoid``, ``smooth_l1``, ``_contrib_quadratic``, ``add_n``, ``clip``, ``_contrib_allclose``, ``_copy``,
the ops that are the identity at inference (``Dropout``, ``_contrib_gradientmultiplier``,
``IdentityAttachKLSparseReg``, ``_identity_with_attr_like_rhs``) and the densities of MXNet's random distributions at given samples
(``_random_pdf_*``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Node
from .rules import Shape, ShapeError, input_rule, same_shape, same_shape_inputs, shape_rule
from .schema import (BINARY, COUNT, OpDef, REQUIRED, SCALAR, SHAPE_EMPTY, UNARY, alias, choice, define, in_range,
                     optional, parse_bool, parse_float, parse_float32, parse_int)

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
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


# NumPy-interface binary ops without a legacy spelling (MXNet's np_elemwise_broadcast_op*.cc), canonical here
NUMPY_BINARY = ("arctan2", "copysign", "ldexp", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor")
REVERSIBLE = ("arctan2", "copysign", "ldexp")  # with a ``_npi_r<base>_scalar`` form
BITWISE = ("lcm", "bitwise_and", "bitwise_or", "bitwise_xor")  # defined on integer and bool types only


for _base in NUMPY_BINARY:
    BINARY_FORMS[f"_npi_{_base}"] = BinaryForm(_base, "broadcast")
    BINARY_FORMS[f"_npi_{_base}_scalar"] = BinaryForm(_base, "scalar")
    if _base in REVERSIBLE:
        BINARY_FORMS[f"_npi_r{_base}_scalar"] = BinaryForm(_base, "scalar", reverse=True)
# NumPy predicates: bool of each element
NUMPY_PREDICATES = ("_npi_isnan", "_npi_isinf", "_npi_isfinite", "_npi_isposinf", "_npi_isneginf")


define({
    "Dropout": OpDef(
        {
            "p": (in_range(parse_float32, 0, 1), 0.5),
            "mode": (choice("always", "training"), "training"),
            "axes": SHAPE_EMPTY,
            "cudnn_off": (optional(parse_bool), False),
        }
    ),
    "clip": OpDef({"a_min": (parse_float32, REQUIRED), "a_max": (parse_float32, REQUIRED)}),
    "_copy": UNARY,
    "hard_sigmoid": OpDef({"alpha": (parse_float, 0.2), "beta": (parse_float, 0.5)}),
    "add_n": OpDef({"num_args": (COUNT, REQUIRED)}),
    # sigma in ``scalar``: 0.5 (sigma x)^2 inside |x| < 1 / sigma^2, |x| - 0.5 / sigma^2 outside
    "smooth_l1": OpDef({"scalar": (parse_float, 1.0), "is_int": (parse_bool, True)}),
    "_contrib_quadratic": OpDef({name: (parse_float32, 0.0) for name in ("a", "b", "c")}),
    # 1 where every |a - b| <= atol + rtol |b| (NaNs equal where ``equal_nan``), else 0: a 0-d uint8
    "_contrib_allclose": OpDef({"rtol": (parse_float32, 1e-5), "atol": (parse_float32, 1e-8),
                                "equal_nan": (parse_bool, True)}),
})
# The identity at inference: they scale the gradient, or regularise it towards a sparse activation (whose running
# average is an auxiliary state)
IDENTITIES = ("_copy", "_contrib_gradientmultiplier", "IdentityAttachKLSparseReg")
define({
    "_contrib_gradientmultiplier": OpDef({"scalar": (parse_float, 1.0), "is_int": (parse_bool, True)}),
    "IdentityAttachKLSparseReg": OpDef({"sparseness_target": (in_range(parse_float32, 0, 1), 0.1),
                                        "penalty": (parse_float32, 0.001),
                                        "momentum": (in_range(parse_float32, 0, 1), 0.9)},
                                       aux_inputs=(1,), input_names=lambda a: ("data", "moving_avg")),
})


# lhs unchanged, its shape and type those of rhs (which MXNet's executor does not read): where MXNet's graph pass
# needs a value in another's place
LIKE_RHS = "_identity_with_attr_like_rhs"
define({LIKE_RHS: OpDef(input_names=lambda a: ("lhs", "rhs"))})


define({name: UNARY for name in (*UNARY_MATH, *NUMPY_PREDICATES, "_npi_bitwise_not")})


# NumPy's around (``decimals``: scaled by 10 that often, rounded half to even, scaled back) and where: condition,
# x and y broadcast together; a scalar x (``lscalar``), y (``rscalar``) or both (``scalar2``) in place of tensors
NUMPY_WHERE = ("_npi_where", "_npi_where_lscalar", "_npi_where_rscalar", "_npi_where_scalar2")
define({
    "_npi_around": OpDef({"decimals": (parse_int, 0)}),
    "_npi_where": BINARY,
    "_npi_where_lscalar": OpDef({"scalar": (parse_float, 0.0)}),
    "_npi_where_rscalar": OpDef({"scalar": (parse_float, 0.0)}),
    "_npi_where_scalar2": OpDef({"x": (parse_float, 0.0), "y": (parse_float, 0.0)}),
})


# NumPy's nan_to_num (NaN, then +inf, then -inf replaced in turn; an unset infinity becomes the type's largest
# finite value of its sign; integer data is copied) and polyval (coefficients p, highest power first, and x:
# Horner's rule from 0, in x's type)
define({
    "_npi_nan_to_num": OpDef({"copy": (parse_bool, True), "nan": (parse_float, 0.0),
                              "posinf": (optional(parse_float), None), "neginf": (optional(parse_float), None)}),
    "_npi_polyval": BINARY,
})


define({name: SCALAR if form.form == "scalar" else BINARY for name, form in BINARY_FORMS.items()})


alias("_Plus", "elemwise_add")
alias("_plus", "elemwise_add")
alias("_add", "elemwise_add")
alias("_Minus", "elemwise_sub")
alias("_minus", "elemwise_sub")
alias("_sub", "elemwise_sub")
alias("_Mul", "elemwise_mul")
alias("_mul", "elemwise_mul")
alias("_Div", "elemwise_div")
alias("_div", "elemwise_div")
alias("_PlusScalar", "_plus_scalar")
alias("_MinusScalar", "_minus_scalar")
alias("_MulScalar", "_mul_scalar")
alias("_DivScalar", "_div_scalar")
alias("_RMinusScalar", "_rminus_scalar")
alias("_RDivScalar", "_rdiv_scalar")
alias("_Maximum", "_maximum")
alias("_Minimum", "_minimum")
alias("_Power", "_power")
alias("_Hypot", "_hypot")
alias("_Mod", "_mod")
alias("_MaximumScalar", "_maximum_scalar")
alias("_MinimumScalar", "_minimum_scalar")
alias("_PowerScalar", "_power_scalar")
alias("_RPowerScalar", "_rpower_scalar")
alias("_HypotScalar", "_hypot_scalar")
alias("_ModScalar", "_mod_scalar")
alias("_RModScalar", "_rmod_scalar")
# MXNet's sparse forms compute only the stored values of a sparse input, and as these on a dense one
alias("_scatter_elemwise_div", "elemwise_div")
alias("_scatter_plus_scalar", "_plus_scalar")
alias("_scatter_minus_scalar", "_minus_scalar")
alias("_Equal", "_equal")
alias("_Not_Equal", "_not_equal")
alias("_Greater", "_greater")
alias("_Greater_Equal", "_greater_equal")
alias("_Lesser", "_lesser")
alias("_Lesser_Equal", "_lesser_equal")
alias("_EqualScalar", "_equal_scalar")
alias("_NotEqualScalar", "_not_equal_scalar")
alias("_GreaterScalar", "_greater_scalar")
alias("_GreaterEqualScalar", "_greater_equal_scalar")
alias("_LesserScalar", "_lesser_scalar")
alias("_LesserEqualScalar", "_lesser_equal_scalar")
alias("_Logical_And", "_logical_and")
alias("_Logical_Or", "_logical_or")
alias("_Logical_Xor", "_logical_xor")
alias("_LogicalAndScalar", "_logical_and_scalar")
alias("_LogicalOrScalar", "_logical_or_scalar")
alias("_LogicalXorScalar", "_logical_xor_scalar")
alias("broadcast_plus", "broadcast_add")
alias("broadcast_minus", "broadcast_sub")
alias("ElementWiseSum", "add_n")
alias("identity", "_copy")
# MXNet's NumPy interface: arithmetic and comparisons broadcast; scalar forms as the legacy ones (``is_int`` says
# whether the scalar was a Python int, which ``semantics.dtypes`` reads); results typed by ``semantics.dtypes``
for _name, _base in (("add", "add"), ("subtract", "sub"), ("multiply", "mul"), ("true_divide", "div"),
                     ("mod", "mod"), ("power", "power"), ("maximum", "maximum"), ("minimum", "minimum"),
                     ("hypot", "hypot"), ("equal", "equal"), ("not_equal", "not_equal"), ("greater", "greater"),
                     ("greater_equal", "greater_equal"), ("less", "lesser"), ("less_equal", "lesser_equal")):
    alias(f"_npi_{_name}", f"broadcast_{_base}")
for _name, _canonical in (("add", "_plus_scalar"), ("subtract", "_minus_scalar"), ("rsubtract", "_rminus_scalar"),
                          ("multiply", "_mul_scalar"), ("true_divide", "_div_scalar"),
                          ("rtrue_divide", "_rdiv_scalar"), ("mod", "_mod_scalar"), ("rmod", "_rmod_scalar"),
                          ("power", "_power_scalar"), ("rpower", "_rpower_scalar"),
                          ("maximum", "_maximum_scalar"), ("minimum", "_minimum_scalar"), ("hypot", "_hypot_scalar"),
                          ("equal", "_equal_scalar"), ("not_equal", "_not_equal_scalar"),
                          ("greater", "_greater_scalar"), ("greater_equal", "_greater_equal_scalar"),
                          ("less", "_lesser_scalar"), ("less_equal", "_lesser_equal_scalar")):
    alias(f"_npi_{_name}_scalar", _canonical)
for _name in ("negative", "reciprocal", "sign", "rint", "ceil", "floor", "trunc", "fix", "sqrt", "cbrt", "square",
              "exp", "expm1", "log", "log10", "log2", "log1p", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
              "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "degrees", "radians", "logical_not"):
    alias(f"_npi_{_name}", _name)
alias("_npi_absolute", "abs")
alias("_npi_abs", "abs")
for _name in ("relu", "sigmoid", "erf", "erfinv", "gamma", "gammaln"):
    alias(f"_npx_{_name}", _name)
alias("_np_copy", "_copy")
# the copy between devices MXNet places in a graph split across them (group2ctx): the identity on values
alias("_copyto", "_copy")
alias("_npi_copyto", "_copy")
alias("_npx_smooth_l1", "smooth_l1")
alias("_contrib_round_ste", "round")  # straight-through estimators: round and sign forward
alias("_contrib_sign_ste", "sign")
alias("_npx_dropout", "Dropout")
alias("_npi_clip", "clip")


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
# ops whose output has their (first) input's shape, and same-shape binary ops
ONE_TO_ONE = ("Dropout", *IDENTITIES, "clip", "hard_sigmoid", "smooth_l1", "_contrib_quadratic", *UNARY_MATH,
              *NUMPY_PREDICATES, "_npi_bitwise_not", "_npi_around", "_npi_where_scalar2", "_npi_nan_to_num",
              *(op for op, form in BINARY_FORMS.items() if form.form == "scalar"))
ELEMENTWISE = ("add_n", LIKE_RHS, *(op for op, form in BINARY_FORMS.items() if form.form == "elementwise"))
shape_rule(*ONE_TO_ONE)(same_shape)
input_rule(*(op for op in ONE_TO_ONE if op != "IdentityAttachKLSparseReg"), *ELEMENTWISE)(same_shape_inputs)


@shape_rule(*ELEMENTWISE)
def _elementwise(node: Node, shapes: list[Shape]) -> list[Shape]:
    if any(shape != shapes[0] for shape in shapes):
        raise ShapeError(f"operands have shapes {' and '.join(map(str, shapes))}")
    return [shapes[0]]


@shape_rule(*(op for op, form in BINARY_FORMS.items() if form.form == "broadcast"), *NUMPY_WHERE[:3])
def _broadcast(node: Node, shapes: list[Shape]) -> list[Shape]:
    rank = max(len(shape) for shape in shapes)
    out = []
    for sizes in zip(*((1,) * (rank - len(shape)) + shape for shape in shapes)):
        if len(set(sizes) - {1}) > 1:
            raise ShapeError(f"operands of shapes {' and '.join(map(str, shapes))} do not broadcast")
        out.append(0 if 0 in sizes else max(sizes))
    return [tuple(out)]


@shape_rule("_npi_polyval")
def _polyval(node: Node, shapes: list[Shape]) -> list[Shape]:
    if len(shapes[0]) != 1:
        raise ShapeError(f"polyval's coefficients have shape {shapes[0]}: p has to be a 1-D array")
    return [shapes[1]]


# --- densities of MXNet's random distributions at given samples (``_random_pdf_*``) ---------------------------
# distribution -> its parameters, in input order after the sample
PDF_PARAMETERS = {"normal": ("mu", "sigma"), "uniform": ("low", "high"), "gamma": ("alpha", "beta"),
                  "exponential": ("lam",), "poisson": ("lam",), "negative_binomial": ("k", "p"),
                  "generalized_negative_binomial": ("mu", "alpha"), "dirichlet": ("alpha",)}
define({f"_random_pdf_{kind}": OpDef({"is_log": (parse_bool, False)}) for kind in PDF_PARAMETERS})
for _kind in PDF_PARAMETERS:
    alias(f"random_pdf_{_kind}", f"_random_pdf_{_kind}")


def pdf_parameter_axes(node: Node, sample_rank: int, parameter_rank: int) -> list[int]:
    """The axes to insert in the parameters so that they broadcast against the sample: each parameter value
    applies to the samples its index prefixes (a Dirichlet's parameter vectors keep their last axis)."""
    vector = node.op == "_random_pdf_dirichlet"
    first = parameter_rank - 1 if vector else parameter_rank
    return list(range(first, first + sample_rank - parameter_rank))


@shape_rule(*(f"_random_pdf_{kind}" for kind in PDF_PARAMETERS))
def _pdf(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The sample's shape (a Dirichlet's less its last axis, one vector giving (1,)); the parameters share one
    shape, a leading part of the sample's (a Dirichlet's with the sample's last axis)."""
    sample, parameter = shapes[0], shapes[1]
    vector = node.op == "_random_pdf_dirichlet"
    prefix = parameter[:-1] if vector else parameter
    if any(shape != parameter for shape in shapes[2:]) or not parameter or len(parameter) > len(sample) \
            or sample[:len(prefix)] != prefix or (vector and parameter[-1] != sample[-1]):
        raise ShapeError(f"parameters of shapes {' and '.join(map(str, shapes[1:]))} do not fit samples of shape "
                         f"{sample}")
    return [(sample[:-1] or (1,)) if vector else sample]


@shape_rule("_contrib_allclose")
def _allclose(node: Node, shapes: list[Shape]) -> list[Shape]:
    if shapes[0] != shapes[1]:
        raise ShapeError(f"operands have shapes {' and '.join(map(str, shapes))}")
    return [()]


def smooth_l1_constants(sigma: float) -> tuple[float, float, float]:
    """smooth_l1's sigma^2, the bound 1 / sigma^2 of its quadratic part and half that bound, in float32 as MXNet
    computes them."""
    square = np.float32(sigma) * np.float32(sigma)
    bound = np.float32(1.0) / square
    return float(square), float(bound), float(np.float32(0.5) * bound)
