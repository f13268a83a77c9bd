"""The elementwise family: unary math, arithmetic, comparisons and logic in their elementwise, broadcast and
scalar spellings (one table of names, ``BINARY_FORMS``, that the schemas, the shape rules and both emitters
read), ``hard_sigmoid``, ``add_n``, ``clip``, ``_copy`` and ``Dropout`` (the identity at inference)."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Node
from .rules import Shape, ShapeError, input_rule, same_shape, same_shape_inputs, shape_rule
from .schema import (BINARY, COUNT, OpDef, REQUIRED, SCALAR, SHAPE_EMPTY, UNARY, alias, choice, define, in_range,
                     optional, parse_bool, parse_float, parse_float32)

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
})


define({name: UNARY for name in UNARY_MATH})


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


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
# ops whose output has their (first) input's shape, and same-shape binary ops
ONE_TO_ONE = ("Dropout", "_copy", "clip", "hard_sigmoid", *UNARY_MATH,
              *(op for op, form in BINARY_FORMS.items() if form.form == "scalar"))
ELEMENTWISE = ("add_n", *(op for op, form in BINARY_FORMS.items() if form.form == "elementwise"))
shape_rule(*ONE_TO_ONE)(same_shape)
input_rule(*ONE_TO_ONE, *ELEMENTWISE)(same_shape_inputs)


@shape_rule(*ELEMENTWISE)
def _elementwise(node: Node, shapes: list[Shape]) -> list[Shape]:
    if any(shape != shapes[0] for shape in shapes):
        raise ShapeError(f"operands have shapes {' and '.join(map(str, shapes))}")
    return [shapes[0]]


@shape_rule(*(op for op, form in BINARY_FORMS.items() if form.form == "broadcast"))
def _broadcast(node: Node, shapes: list[Shape]) -> list[Shape]:
    left, right = shapes
    rank = max(len(left), len(right))
    left, right = (1,) * (rank - len(left)) + left, (1,) * (rank - len(right)) + right
    out = []
    for a, b in zip(left, right):
        if a != b and 1 not in (a, b):
            raise ShapeError(f"operands of shapes {shapes[0]} and {shapes[1]} do not broadcast")
        out.append(max(a, b) if 0 not in (a, b) else 0)
    return [tuple(out)]
