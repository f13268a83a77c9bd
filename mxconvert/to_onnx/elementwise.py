"""The elementwise family: unary math, arithmetic, comparisons and logic in their elementwise, broadcast and
scalar spellings (``semantics.elementwise.BINARY_FORMS``), ``hard_sigmoid``, ``smooth_l1``, ``_contrib_quadratic``,
``add_n``, ``clip``, ``_contrib_allclose``, ``_copy`` and the other identities, and ``Dropout``."""
from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto, helper

from ..integers import integer_scalar
from ..ir import Node
from ..semantics.elementwise import (BINARY_FORMS, BITWISE, IDENTITIES, LIKE_RHS, NUMPY_PREDICATES, NUMPY_WHERE,
                                     UNARY_MATH, pdf_parameter_axes, smooth_l1_constants)
from .context import EmitContext
from .registry import register


_DIRECT = {"abs": "Abs", "arccos": "Acos", "arccosh": "Acosh", "arcsin": "Asin", "arcsinh": "Asinh",
           "arctan": "Atan", "arctanh": "Atanh", "ceil": "Ceil", "cos": "Cos", "cosh": "Cosh", "erf": "Erf",
           "exp": "Exp", "floor": "Floor", "log": "Log", "negative": "Neg", "reciprocal": "Reciprocal", "relu": "Relu",
           "sigmoid": "Sigmoid", "sign": "Sign", "sin": "Sin", "sinh": "Sinh", "softsign": "Softsign", "sqrt": "Sqrt",
           "tan": "Tan", "tanh": "Tanh"}


def _as_float(ctx: EmitContext, boolean: str, out: str | None = None) -> str:
    """A boolean tensor as MXNet's 1 or 0 in the model's float type."""
    return ctx.add("Cast", [boolean], out, to=helper.np_dtype_to_tensor_dtype(ctx.float_type))


def _compare(ctx: EmitContext, base: str, a: str, b: str) -> str:
    """The boolean of one comparison (``GreaterOrEqual``/``LessOrEqual`` need opset 12)."""
    if base == "not_equal":
        return ctx.add("Not", [ctx.add("Equal", [a, b])])
    if base in ("greater_equal", "lesser_equal") and ctx.opset < 12:
        strict = ctx.add("Greater" if base == "greater_equal" else "Less", [a, b])
        return ctx.add("Or", [strict, ctx.add("Equal", [a, b])])
    op_type = {"equal": "Equal", "greater": "Greater", "greater_equal": "GreaterOrEqual", "lesser": "Less",
               "lesser_equal": "LessOrEqual"}[base]
    return ctx.add(op_type, [a, b])


def _trunc(ctx: EmitContext, x: str, out: str | None = None) -> str:
    return ctx.add("Mul", [ctx.add("Sign", [x]), ctx.add("Floor", [ctx.add("Abs", [x])])], out)


def _cube_root(ctx: EmitContext, x: str, out: str | None = None) -> str:
    third = ctx.add("Pow", [ctx.add("Abs", [x]), ctx.const(1.0 / 3.0, "third")])
    return ctx.add("Mul", [ctx.add("Sign", [x]), third], out)


def _round_half_away(ctx: EmitContext, x: str, out: str) -> None:
    """C's round: |x| rounded half up (``|x| - floor(|x|)`` is exact), with x's sign."""
    magnitude = ctx.add("Abs", [x])
    floor = ctx.add("Floor", [magnitude])
    half_up = _as_float(ctx, _compare(ctx, "greater_equal", ctx.add("Sub", [magnitude, floor]), ctx.const(0.5)))
    ctx.add("Mul", [ctx.add("Sign", [x]), ctx.add("Add", [floor, half_up])], out)


def _rint(ctx: EmitContext, x: str, out: str) -> None:
    """MXNet's rint: the nearer of floor and ceil, the floor on ties."""
    floor, ceil = ctx.add("Floor", [x]), ctx.add("Ceil", [x])
    nearer_floor = _compare(ctx, "lesser_equal", ctx.add("Sub", [x, floor]), ctx.add("Sub", [ceil, x]))
    ctx.add("Where", [nearer_floor, floor, ceil], out)


def _accurate_near_zero(ctx: EmitContext, x: str, plain: str, kahan: str, out: str) -> None:
    """``kahan`` where |x| < 1 (where ``plain`` loses relative precision), else ``plain``."""
    ctx.add("Where", [ctx.add("Less", [ctx.add("Abs", [x]), ctx.const(1.0)]), kahan, plain], out)


def _expm1(ctx: EmitContext, x: str, out: str) -> None:
    """exp(x) - 1, accurate near 0 by Kahan's (u - 1) * x / log(u) with u = exp(x) (x itself where u is 1)."""
    u = ctx.add("Exp", [x])
    less_one = ctx.add("Sub", [u, ctx.const(1.0)])
    ratio = ctx.add("Mul", [less_one, ctx.add("Div", [x, ctx.add("Log", [u])])])
    kahan = ctx.add("Where", [ctx.add("Equal", [less_one, ctx.const(0.0)]), x, ratio])
    _accurate_near_zero(ctx, x, less_one, kahan, out)


def _log1p(ctx: EmitContext, x: str, out: str) -> None:
    """log(1 + x), accurate near 0 by Kahan's log(u) * x / (u - 1) with u = 1 + x (x itself where u is 1)."""
    u = ctx.add("Add", [x, ctx.const(1.0)])
    log = ctx.add("Log", [u])
    less_one = ctx.add("Sub", [u, ctx.const(1.0)])
    ratio = ctx.add("Mul", [log, ctx.add("Div", [x, less_one])])
    kahan = ctx.add("Where", [ctx.add("Equal", [less_one, ctx.const(0.0)]), x, ratio])
    _accurate_near_zero(ctx, x, log, kahan, out)


def _scaled(factor: float):
    def emit(ctx: EmitContext, x: str, out: str) -> None:
        ctx.add("Mul", [x, ctx.const(factor)], out)

    return emit


def _log_base(base: float):
    def emit(ctx: EmitContext, x: str, out: str) -> None:
        ctx.add("Div", [ctx.add("Log", [x]), ctx.const(math.log(base))], out)

    return emit


def _polynomial(ctx: EmitContext, w: str, coefficients: tuple[float, ...]) -> str:
    """The polynomial of ``w`` with ``coefficients``, highest power first, by Horner's rule."""
    value = ctx.const(coefficients[0], "coefficient")
    for coefficient in coefficients[1:]:
        value = ctx.add("Add", [ctx.add("Mul", [value, w]), ctx.const(coefficient, "coefficient")])
    return value


# Giles' single-precision approximation of erfinv (2010): x times a polynomial of w = -log(1 - x^2), one for
# w < 5 (in w - 2.5) and one for the tails (in sqrt(w) - 3); relative error below 4e-7
_ERFINV_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                   -0.00417768164, 0.246640727, 1.50140941)
_ERFINV_TAILS = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                 0.00943887047, 1.00167406, 2.83297682)


def _erfinv(ctx: EmitContext, x: str, out: str) -> None:
    """The inverse of erf: +-inf at +-1, NaN past them."""
    one = ctx.const(1.0)
    w = ctx.add("Neg", [ctx.add("Log", [ctx.add("Mul", [ctx.add("Sub", [one, x]), ctx.add("Add", [one, x])])])])
    central = _polynomial(ctx, ctx.add("Sub", [w, ctx.const(2.5)]), _ERFINV_CENTRAL)
    tails = _polynomial(ctx, ctx.add("Sub", [ctx.add("Sqrt", [w]), ctx.const(3.0)]), _ERFINV_TAILS)
    value = ctx.add("Mul", [ctx.add("Where", [ctx.add("Less", [w, ctx.const(5.0)]), central, tails]), x])
    infinite = ctx.add("Mul", [x, ctx.const(math.inf, "inf")])
    ctx.add("Where", [ctx.add("Equal", [ctx.add("Abs", [x]), one]), infinite, value], out)


# Lanczos' series for gamma with gamma 5 and six terms (as in Numerical Recipes):
# Gamma(z) = sqrt(2 pi) (c0 + sum c_k / (z + k)) / z (z + 5.5)^(z + 0.5) exp(-(z + 5.5)), for z > 0
_LANCZOS = (1.000000000190015, 76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155,
            0.1208650973866179e-2, -0.5395239384953e-5)


def _lanczos(ctx: EmitContext, x: str) -> tuple[str, str, str, str]:
    """The pieces of gamma both gamma and gammaln read, taken at z = x where x >= 0.5 and at 1 - x below (by the
    reflection Gamma(x) Gamma(1 - x) = pi / sin(pi x)): whether x reflects, z, sqrt(2 pi) times the series over z,
    and sin(pi x) (from x less its nearest integer, exact, with that integer's sign)."""
    reflects = ctx.add("Less", [x, ctx.const(0.5)])
    z = ctx.add("Where", [reflects, ctx.add("Sub", [ctx.const(1.0), x]), x])
    series = ctx.const(_LANCZOS[0], "lanczos")
    for k, coefficient in enumerate(_LANCZOS[1:], start=1):
        term = ctx.add("Div", [ctx.const(coefficient, "lanczos"), ctx.add("Add", [z, ctx.const(float(k))])])
        series = ctx.add("Add", [series, term])
    scaled = ctx.add("Div", [ctx.add("Mul", [series, ctx.const(math.sqrt(2.0 * math.pi), "root_two_pi")]), z])
    nearest = ctx.add("Floor", [ctx.add("Add", [x, ctx.const(0.5)])])
    parity = ctx.add("Sub", [nearest, ctx.add("Mul", [ctx.const(2.0), ctx.add("Floor", [ctx.add("Mul", [
        nearest, ctx.const(0.5)])])])])
    sign = ctx.add("Sub", [ctx.const(1.0), ctx.add("Mul", [ctx.const(2.0), parity])])
    sine = ctx.add("Mul", [sign, ctx.add("Sin", [ctx.add("Mul", [ctx.add("Sub", [x, nearest]), ctx.const(math.pi)])])])
    return reflects, z, scaled, sine


def _gammaln(ctx: EmitContext, x: str, out: str) -> None:
    """log |Gamma(x)|: (z + 0.5) log(z + 5.5) - (z + 5.5) + log(series), and log(pi / |sin(pi x)|) less that
    where x reflects; +inf at the poles."""
    reflects, z, scaled, sine = _lanczos(ctx, x)
    t = ctx.add("Add", [z, ctx.const(5.5)])
    power = ctx.add("Mul", [ctx.add("Add", [z, ctx.const(0.5)]), ctx.add("Log", [t])])
    direct = ctx.add("Add", [ctx.add("Sub", [power, t]), ctx.add("Log", [scaled])])
    reflection = ctx.add("Log", [ctx.add("Div", [ctx.const(math.pi), ctx.add("Abs", [sine])])])
    ctx.add("Where", [reflects, ctx.add("Sub", [reflection, direct]), direct], out)


def _gamma(ctx: EmitContext, x: str, out: str) -> None:
    """Gamma(x): the series times (z + 5.5)^(z + 0.5) exp(-(z + 5.5)) (the power taken in two halves, so that
    neither overflows before the product does), pi / (sin(pi x) Gamma(1 - x)) where x reflects; NaN at the
    negative integers, as C's tgamma."""
    reflects, z, scaled, sine = _lanczos(ctx, x)
    t = ctx.add("Add", [z, ctx.const(5.5)])
    half_power = ctx.add("Pow", [t, ctx.add("Mul", [ctx.add("Add", [z, ctx.const(0.5)]), ctx.const(0.5)])])
    direct = ctx.add("Mul", [ctx.add("Mul", [ctx.add("Mul", [half_power, ctx.add("Exp", [ctx.add("Neg", [t])])]),
                                             half_power]), scaled])
    reflection = ctx.add("Div", [ctx.const(math.pi), ctx.add("Mul", [sine, direct])])
    value = ctx.add("Where", [reflects, reflection, direct])
    negative_integer = ctx.add("And", [ctx.add("Less", [x, ctx.const(0.0)]),
                                       ctx.add("Equal", [x, ctx.add("Floor", [x])])])
    ctx.add("Where", [negative_integer, ctx.const(math.nan, "nan"), value], out)


_COMPOSED = {
    "cbrt": _cube_root,
    "degrees": _scaled(180.0 / math.pi),
    "erfinv": _erfinv,
    "expm1": _expm1,
    "fix": _trunc,
    "gamma": _gamma,
    "gammaln": _gammaln,
    "log10": _log_base(10.0),
    "log1p": _log1p,
    "log2": _log_base(2.0),
    "logical_not": lambda ctx, x, out: _as_float(ctx, ctx.add("Equal", [x, ctx.const(0.0)]), out),
    "radians": _scaled(math.pi / 180.0),
    "rcbrt": lambda ctx, x, out: ctx.add("Reciprocal", [_cube_root(ctx, x)], out),
    "rint": _rint,
    "round": _round_half_away,
    "rsqrt": lambda ctx, x, out: ctx.add("Reciprocal", [ctx.add("Sqrt", [x])], out),
    "square": lambda ctx, x, out: ctx.add("Mul", [x, x], out),
    "trunc": _trunc,
}


@register(*UNARY_MATH)
def unary(ctx: EmitContext, node: Node) -> None:
    if node.op in _DIRECT:
        ctx.add(_DIRECT[node.op], [ctx.input(0)], ctx.output())
    else:
        _COMPOSED[node.op](ctx, ctx.input(0), ctx.output())


def _mod(ctx: EmitContext, a: str, b: str, out: str) -> None:
    """MXNet's mod: the remainder takes the divisor's sign (C's fmod, plus b where the signs differ), 0 for b=0."""
    zero = ctx.const(0.0)
    remainder = ctx.add("Mod", [a, b], fmod=1)
    signs_differ = ctx.add("Xor", [ctx.add("Less", [remainder, zero]), ctx.add("Less", [b, zero])])
    shift = ctx.add("And", [ctx.add("Not", [ctx.add("Equal", [remainder, zero])]), signs_differ])
    shifted = ctx.add("Where", [shift, ctx.add("Add", [remainder, b]), remainder])
    ctx.add("Where", [ctx.add("Equal", [b, zero]), zero, shifted], out)


def _logical(ctx: EmitContext, base: str, a: str, b: str, out: str) -> None:
    zero = ctx.const(0.0)
    truths = [ctx.add("Not", [ctx.add("Equal", [v, zero])]) for v in (a, b)]
    _as_float(ctx, ctx.add({"logical_and": "And", "logical_or": "Or", "logical_xor": "Xor"}[base], truths), out)


_ARITHMETIC = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "maximum": "Max", "minimum": "Min",
               "power": "Pow"}


def _arctan2(ctx: EmitContext, a: str, b: str, out: str) -> None:
    """atan(a / b), moved by pi into the half plane of a negative b; 0 where both are 0."""
    zero, pi = ctx.const(0.0), ctx.const(math.pi)
    base = ctx.add("Atan", [ctx.add("Div", [a, b])])
    turned = ctx.add("Where", [_compare(ctx, "greater_equal", a, zero), ctx.add("Add", [base, pi]),
                               ctx.add("Sub", [base, pi])])
    angle = ctx.add("Where", [ctx.add("Less", [b, zero]), turned, base])
    both_zero = ctx.add("And", [ctx.add("Equal", [a, zero]), ctx.add("Equal", [b, zero])])
    ctx.add("Where", [both_zero, ctx.add("Mul", [a, zero]), angle], out)


def _copysign(ctx: EmitContext, a: str, b: str, out: str) -> None:
    """MXNet's copysign: ``a`` where a and b are both >= 0 or both < 0, else ``-a``."""
    zero = ctx.const(0.0)
    same = ctx.add("Equal", [_compare(ctx, "greater_equal", a, zero), _compare(ctx, "greater_equal", b, zero)])
    either_nan = ctx.add("Or", [ctx.add("IsNaN", [a]), ctx.add("IsNaN", [b])])
    keep = ctx.add("And", [same, ctx.add("Not", [either_nan])])
    ctx.add("Where", [keep, a, ctx.add("Neg", [a])], out)


def _binary(ctx: EmitContext, base: str, a: str, b: str, out: str) -> None:
    if base == "arctan2":
        _arctan2(ctx, a, b, out)
    elif base == "copysign":
        _copysign(ctx, a, b, out)
    elif base == "ldexp":
        ctx.add("Mul", [a, ctx.add("Pow", [ctx.const(2.0), b])], out)
    elif base in _ARITHMETIC:
        ctx.add(_ARITHMETIC[base], [a, b], out)
    elif base == "hypot":  # in double, as C's hypotf: squares past float32's range do not overflow
        wide_a, wide_b = (ctx.add("Cast", [x], to=TensorProto.DOUBLE) for x in (a, b))
        root = ctx.add("Sqrt", [ctx.add("Add", [ctx.add("Mul", [wide_a, wide_a]), ctx.add("Mul", [wide_b, wide_b])])])
        ctx.add("Cast", [root], out, to=helper.np_dtype_to_tensor_dtype(ctx.float_type))
    elif base == "mod":
        _mod(ctx, a, b, out)
    elif base.startswith("logical_"):
        _logical(ctx, base, a, b, out)
    else:
        _as_float(ctx, _compare(ctx, base, a, b), out)


def _bitwise(ctx: EmitContext, base: str, a: str, b: str, boolean: bool) -> None:
    """Bitwise and/or/xor on int64 (And/Or/Xor on bools), back in the float type."""
    if boolean:
        truths = [ctx.add("Not", [ctx.add("Equal", [v, ctx.const(0.0)])]) for v in (a, b)]
        _as_float(ctx, ctx.add(base.removeprefix("bitwise_").capitalize(), truths), ctx.output())
        return
    operands = [ctx.add("Cast", [v], to=TensorProto.INT64) for v in (a, b)]
    op_type = {"bitwise_and": "BitwiseAnd", "bitwise_or": "BitwiseOr", "bitwise_xor": "BitwiseXor"}[base]
    _as_float(ctx, ctx.add(op_type, operands), ctx.output())


def _binary_check(node: Node, opset: int) -> str | None:
    base = BINARY_FORMS[node.op].base
    if base == "lcm":
        return "no ONNX operator computes a least common multiple"
    if base.startswith("bitwise_") and opset < 18:
        return "bitwise operators need opset 18"
    return None


@register(*BINARY_FORMS, check=_binary_check)
def binary(ctx: EmitContext, node: Node) -> None:
    """ONNX broadcasts as MXNet's broadcast_ ops do; a scalar is stored in the model's float type, as MXNet
    casts it to the data's type (truncated for integer data). Integer division truncates towards zero."""
    form = BINARY_FORMS[node.op]
    integer = node.output() in ctx.integers
    if form.form == "scalar":
        scalar = integer_scalar(node.attrs["scalar"]) if integer else node.attrs["scalar"]
        operands = [ctx.input(0), ctx.const(scalar, "scalar")]
        a, b = operands[::-1] if form.reverse else operands
    else:
        a, b = ctx.input(0), ctx.input(1)
    if form.base == "div" and integer:
        quotient = ctx.add("Cast", [ctx.add("Div", [a, b])], to=TensorProto.INT64)
        ctx.add("Cast", [quotient], ctx.output(), to=helper.np_dtype_to_tensor_dtype(ctx.float_type))
        return
    if form.base in BITWISE:
        _bitwise(ctx, form.base, a, b, ctx.dtypes[node.output()] == "bool")
        return
    _binary(ctx, form.base, a, b, ctx.output())


@register(*NUMPY_PREDICATES, "_npi_bitwise_not")
def predicate(ctx: EmitContext, node: Node) -> None:
    """NumPy's isnan/isinf/isfinite/isposinf/isneginf as 1 or 0; bitwise_not of integers (~x is -x - 1) and of
    bools."""
    x = ctx.input(0)
    if node.op == "_npi_bitwise_not":
        if ctx.dtypes[node.output()] == "bool":
            _as_float(ctx, ctx.add("Equal", [x, ctx.const(0.0)]), ctx.output())
        else:
            ctx.add("Sub", [ctx.add("Neg", [x]), ctx.const(1.0)], ctx.output())
        return
    if node.op == "_npi_isfinite":
        infinite = ctx.add("Or", [ctx.add("IsNaN", [x]), ctx.add("IsInf", [x])])
        _as_float(ctx, ctx.add("Not", [infinite]), ctx.output())
        return
    if node.op == "_npi_isnan":
        _as_float(ctx, ctx.add("IsNaN", [x]), ctx.output())
        return
    signs = {"_npi_isinf": (1, 1), "_npi_isposinf": (1, 0), "_npi_isneginf": (0, 1)}[node.op]
    _as_float(ctx, ctx.add("IsInf", [x], detect_positive=signs[0], detect_negative=signs[1]), ctx.output())


@register("_npi_around")
def around(ctx: EmitContext, node: Node) -> None:
    """MXNet's around: times 10 ``decimals`` times (or divided), rounded half to even, scaled back step by step."""
    decimals, x = node.attrs["decimals"], ctx.input(0)
    ten = ctx.const(10.0)
    for _ in range(abs(decimals)):
        x = ctx.add("Mul" if decimals > 0 else "Div", [x, ten])
    x = ctx.add("Round", [x])
    for _ in range(abs(decimals)):
        x = ctx.add("Div" if decimals > 0 else "Mul", [x, ten])
    ctx.add("Identity", [x], ctx.output())


@register(*NUMPY_WHERE)
def where(ctx: EmitContext, node: Node) -> None:
    """x where the condition is non-zero, else y, all three broadcast; scalars in the model's float type."""
    condition = ctx.add("Not", [ctx.add("Equal", [ctx.input(0), ctx.const(0.0)])])
    a = node.attrs
    x, y = {"_npi_where": lambda: (ctx.input(1), ctx.input(2)),
            "_npi_where_lscalar": lambda: (ctx.const(a.get("scalar"), "x"), ctx.input(1)),
            "_npi_where_rscalar": lambda: (ctx.input(1), ctx.const(a.get("scalar"), "y")),
            "_npi_where_scalar2": lambda: (ctx.const(a.get("x"), "x"), ctx.const(a.get("y"), "y"))}[node.op]()
    if node.op == "_npi_where_scalar2":  # the condition's shape
        y = ctx.add("Add", [ctx.add("Mul", [ctx.input(0), ctx.const(0.0)]), y])
    ctx.add("Where", [condition, x, y], ctx.output())


@register("_npi_nan_to_num")
def nan_to_num(ctx: EmitContext, node: Node) -> None:
    """NaN, then +inf, then -inf replaced in turn (an unset infinity by the largest finite value of its sign);
    integer data, computed as floats, has none of them."""
    x = ctx.input(0)
    largest = float(np.finfo(ctx.float_type).max)
    a = node.attrs
    x = ctx.add("Where", [ctx.add("IsNaN", [x]), ctx.const(a["nan"], "nan"), x])
    x = ctx.add("Where", [ctx.add("IsInf", [x], detect_negative=0), ctx.const(
        largest if a["posinf"] is None else a["posinf"], "posinf"), x])
    ctx.add("Where", [ctx.add("IsInf", [x], detect_positive=0), ctx.const(
        -largest if a["neginf"] is None else a["neginf"], "neginf"), x], ctx.output())


@register("_npi_polyval")
def polyval(ctx: EmitContext, node: Node) -> None:
    """Horner's rule from 0 over the coefficients, highest power first."""
    p, x = ctx.input(0), ctx.input(1)
    value = ctx.add("Mul", [x, ctx.const(0.0)])
    for j in range(ctx.shape(0)[0]):
        coefficient = ctx.add("Gather", [p, ctx.ints(j, "index")], axis=0)
        value = ctx.add("Add", [ctx.add("Mul", [value, x]) if j else value, coefficient])
    ctx.add("Identity", [value], ctx.output())


@register("hard_sigmoid")
def hard_sigmoid(ctx: EmitContext, node: Node) -> None:
    ctx.add("HardSigmoid", [ctx.input(0)], ctx.output(), alpha=node.attrs["alpha"], beta=node.attrs["beta"])


@register("smooth_l1")
def smooth_l1(ctx: EmitContext, node: Node) -> None:
    """|x| - 0.5 / sigma^2 past the bound 1 / sigma^2, else 0.5 x x sigma^2 (MXNet's order of products)."""
    square, bound, half_bound = smooth_l1_constants(node.attrs["scalar"])
    x = ctx.input(0)
    magnitude = ctx.add("Abs", [x])
    linear = ctx.add("Sub", [magnitude, ctx.const(half_bound, "half_bound")])
    quadratic = ctx.add("Mul", [ctx.add("Mul", [ctx.add("Mul", [x, ctx.const(0.5)]), x]), ctx.const(square, "square")])
    ctx.add("Where", [ctx.add("Greater", [magnitude, ctx.const(bound, "bound")]), linear, quadratic], ctx.output())


@register("_contrib_quadratic")
def quadratic(ctx: EmitContext, node: Node) -> None:
    """x (a x + b) + c, as MXNet orders it."""
    a, x = node.attrs, ctx.input(0)
    inner = ctx.add("Add", [ctx.add("Mul", [x, ctx.const(a["a"], "a")]), ctx.const(a["b"], "b")])
    ctx.add("Add", [ctx.add("Mul", [x, inner]), ctx.const(a["c"], "c")], ctx.output())


@register("_contrib_allclose")
def allclose(ctx: EmitContext, node: Node) -> None:
    """1 where every pair is equal or |a - b| <= atol + rtol |b| (a NaN matches a NaN where ``equal_nan``),
    else 0, as a 0-d tensor."""
    a, b = ctx.input(0), ctx.input(1)
    bound = ctx.add("Add", [ctx.const(node.attrs["atol"], "atol"),
                            ctx.add("Mul", [ctx.const(node.attrs["rtol"], "rtol"), ctx.add("Abs", [b])])])
    near = _compare(ctx, "lesser_equal", ctx.add("Abs", [ctx.add("Sub", [a, b])]), bound)
    close = ctx.add("Or", [ctx.add("Equal", [a, b]), near])  # false where either is NaN
    if node.attrs["equal_nan"]:
        close = ctx.add("Or", [close, ctx.add("And", [ctx.add("IsNaN", [a]), ctx.add("IsNaN", [b])])])
    ctx.add("ReduceMin", [_as_float(ctx, close)], ctx.output(), keepdims=0)


@register("add_n")
def add_n(ctx: EmitContext, node: Node) -> None:
    ctx.add("Sum", [ctx.input(i) for i in range(len(node.inputs))], ctx.output())


@register(*IDENTITIES, LIKE_RHS)
def identity(ctx: EmitContext, node: Node) -> None:
    ctx.add("Identity", [ctx.input(0)], ctx.output())


def _dropout_check(node: Node, opset: int) -> str | None:
    if node.attrs["mode"] != "always":
        return None
    if node.attrs["axes"]:
        return f"mode always with axes {node.attrs['axes']}"
    return "mode always needs opset 12 (Dropout's training_mode)" if opset < 12 else None


@register("Dropout", check=_dropout_check)
def dropout(ctx: EmitContext, node: Node) -> None:
    """An identity at inference; ``mode="always"`` drops at inference too, as MXNet does."""
    if node.attrs["mode"] != "always":
        ctx.add("Identity", [ctx.input(0)], ctx.output())
        return
    ratio = ctx.const(node.attrs["p"], "ratio")
    training = ctx.const(np.array(True), "training_mode", dtype=np.bool_)
    ctx.add("Dropout", [ctx.input(0), ratio, training], ctx.output())


@register("clip")
def clip(ctx: EmitContext, node: Node) -> None:
    """MXNet tests ``x > a_max`` first, then ``x < a_min``: with ``a_min > a_max`` that is not ONNX's Clip."""
    low, high = ctx.const(node.attrs["a_min"], "min"), ctx.const(node.attrs["a_max"], "max")
    if node.attrs["a_min"] <= node.attrs["a_max"]:
        ctx.add("Clip", [ctx.input(0), low, high], ctx.output())
        return
    x = ctx.input(0)
    ctx.add("Where", [ctx.add("Greater", [x, high]), high, ctx.add("Max", [x, low])], ctx.output())


# --- densities (``_random_pdf_*``), each as MXNet's kernel computes it --------------------------------------------
def _pdf_parameter(ctx: EmitContext, node: Node, index: int) -> str:
    axes = pdf_parameter_axes(node, len(ctx.shape(0)), len(ctx.shape(index)))
    return ctx.unsqueeze(ctx.input(index), axes) if axes else ctx.input(index)


@register("_random_pdf_normal", "_random_pdf_uniform", "_random_pdf_exponential")
def pdf(ctx: EmitContext, node: Node) -> None:
    """The parameters, unsqueezed to broadcast against the samples they apply to, in MXNet's formulas."""
    x, is_log = ctx.input(0), node.attrs["is_log"]
    first, second = (_pdf_parameter(ctx, node, index) for index in (1, len(node.inputs) - 1))
    out = ctx.output()
    if node.op == "_random_pdf_exponential":  # log(lam) - lam x, or lam exp(-lam x)
        scaled = ctx.add("Mul", [first, x])
        if is_log:
            ctx.add("Sub", [ctx.add("Log", [first]), scaled], out)
        else:
            ctx.add("Mul", [first, ctx.add("Exp", [ctx.add("Neg", [scaled])])], out)
    elif node.op == "_random_pdf_uniform":  # -log(high - low), or 1 / (high - low), at every sample
        width = ctx.add("Sub", [second, first])
        density = ctx.add("Neg", [ctx.add("Log", [width])]) if is_log else ctx.add("Reciprocal", [width])
        ctx.add("Expand", [density, ctx.live_shape(node.inputs[0])], out)
    else:  # -(x - mu)^2 / 2 sigma^2 less log(sqrt(2 pi) sigma), or exp(that) / (sqrt(2 pi) sigma)
        centred = ctx.add("Sub", [x, first])
        squared = ctx.add("Mul", [ctx.add("Mul", [ctx.const(-0.5, "half"), centred]), centred])
        exponent = ctx.add("Div", [squared, ctx.add("Mul", [second, second])])
        normalizer = ctx.add("Mul", [ctx.const(math.sqrt(2 * math.pi), "root_two_pi"), second])
        if is_log:
            ctx.add("Sub", [exponent, ctx.add("Log", [normalizer])], out)
        else:
            ctx.add("Div", [ctx.add("Exp", [exponent]), normalizer], out)


def _log_gamma(ctx: EmitContext, x: str) -> str:
    """gammaln's decomposition evaluated in float64 and rounded once to the model's float type: a log-gamma term
    as near as MXNet's float32 lgamma, whose value the log-densities take differences of."""
    with ctx.computing_in(np.float64) as model_type:
        wide = ctx.temp("gammaln")
        _gammaln(ctx, ctx.add("Cast", [x], to=TensorProto.DOUBLE), wide)
    return ctx.add("Cast", [wide], to=model_type)


def _negative_binomial(ctx: EmitContext, x: str, k: str, p: str) -> str:
    """The log-density of ``x`` failures before the ``k``-th success of probability ``p``."""
    one = ctx.const(1.0)
    ratio = ctx.add("Sub", [ctx.add("Sub", [_log_gamma(ctx, ctx.add("Add", [x, k])),
                                            _log_gamma(ctx, ctx.add("Add", [x, one]))]), _log_gamma(ctx, k)])
    successes = ctx.add("Add", [ratio, ctx.add("Mul", [k, ctx.add("Log", [p])])])
    return ctx.add("Add", [successes, ctx.add("Mul", [x, ctx.add("Log", [ctx.add("Sub", [one, p])])])])


@register(*(f"_random_pdf_{kind}" for kind in ("gamma", "poisson", "negative_binomial",
                                               "generalized_negative_binomial", "dirichlet")))
def log_gamma_pdf(ctx: EmitContext, node: Node) -> None:
    """The densities with log-gamma terms (gammaln's decomposition): the log-density, exponentiated unless
    ``is_log``."""
    x, one = ctx.input(0), ctx.const(1.0)
    first, second = (_pdf_parameter(ctx, node, index) for index in (1, len(node.inputs) - 1))
    if node.op == "_random_pdf_gamma":  # shape alpha, rate beta
        power = ctx.add("Add", [ctx.add("Mul", [first, ctx.add("Log", [second])]),
                                ctx.add("Mul", [ctx.add("Sub", [first, one]), ctx.add("Log", [x])])])
        log_density = ctx.add("Sub", [ctx.add("Sub", [power, ctx.add("Mul", [second, x])]), _log_gamma(ctx, first)])
    elif node.op == "_random_pdf_poisson":
        counted = ctx.add("Sub", [ctx.add("Mul", [x, ctx.add("Log", [first])]),
                                  _log_gamma(ctx, ctx.add("Add", [x, one]))])
        log_density = ctx.add("Sub", [counted, first])
    elif node.op == "_random_pdf_negative_binomial":
        log_density = _negative_binomial(ctx, x, first, second)
    elif node.op == "_random_pdf_generalized_negative_binomial":  # mean mu, dispersion alpha
        p = ctx.add("Reciprocal", [ctx.add("Add", [ctx.add("Mul", [first, second]), one])])
        log_density = _negative_binomial(ctx, x, ctx.add("Reciprocal", [second]), p)
    else:  # Dirichlet: each vector on the last axis (one vector: shape (1,))
        last = len(ctx.shape(0)) - 1
        powers = ctx.reduce_sum(ctx.add("Mul", [ctx.add("Sub", [first, one]), ctx.add("Log", [x])]), [last],
                                keepdims=0)
        normalizer = ctx.add("Sub", [_log_gamma(ctx, ctx.reduce_sum(first, [last], keepdims=0)),
                                     ctx.reduce_sum(_log_gamma(ctx, first), [last], keepdims=0)])
        log_density = ctx.add("Add", [powers, normalizer])
        if last == 0:
            log_density = ctx.reshape(log_density, [1])
    ctx.add("Identity" if node.attrs["is_log"] else "Exp", [log_density], ctx.output())
