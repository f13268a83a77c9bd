"""The elementwise family: unary math, arithmetic, comparisons and logic in their elementwise, broadcast and
scalar spellings (``semantics.elementwise.BINARY_FORMS``), ``hard_sigmoid``, ``smooth_l1``, ``_contrib_quadratic``,
``add_n``, ``clip``, ``_contrib_allclose``, ``_copy`` and the other identities, and ``Dropout``."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..integers import integer_scalar
from ..ir import Node
from ..semantics.elementwise import (BINARY_FORMS, BITWISE, IDENTITIES, LIKE_RHS, NUMPY_PREDICATES, NUMPY_WHERE,
                                     PDF_PARAMETERS, UNARY_MATH, pdf_parameter_axes, smooth_l1_constants)
from .registry import HELPERS, Lowering, call_source, num, register

if TYPE_CHECKING:
    from .codegen import TorchContext


HELPERS["mxnet_round"] = '''
def mxnet_round(x: torch.Tensor) -> torch.Tensor:
    """C's round, as MXNet's: halves away from zero (torch.round takes them to even)."""
    magnitude = torch.abs(x)
    floor = torch.floor(magnitude)
    return torch.sign(x) * (floor + (magnitude - floor >= 0.5).to(x.dtype))
'''

HELPERS["mxnet_rint"] = '''
def mxnet_rint(x: torch.Tensor) -> torch.Tensor:
    """MXNet's rint: the nearer of floor and ceil, the floor on ties (torch.round takes them to even)."""
    floor, ceil = torch.floor(x), torch.ceil(x)
    return torch.where(x - floor <= ceil - x, floor, ceil)
'''

HELPERS["mxnet_gamma"] = '''
def mxnet_gamma(x: torch.Tensor) -> torch.Tensor:
    """The gamma function: exp(lgamma(x)) with the sign it has on negative non-integers."""
    magnitude = torch.exp(torch.lgamma(x))
    return torch.where((x < 0) & (torch.remainder(torch.floor(x), 2) == 1), -magnitude, magnitude)
'''

HELPERS["mxnet_mod"] = '''
def mxnet_mod(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MXNet's mod: the remainder takes the divisor's sign (C's fmod, plus b where the signs differ), 0 for b=0."""
    remainder = torch.fmod(a, b)
    shifted = torch.where((remainder != 0) & ((remainder < 0) != (b < 0)), remainder + b, remainder)
    return torch.where(b == 0, torch.zeros_like(shifted), shifted)
'''

_UNARY = {
    "abs": "torch.abs({})", "arccos": "torch.acos({})", "arccosh": "torch.acosh({})", "arcsin": "torch.asin({})",
    "arcsinh": "torch.asinh({})", "arctan": "torch.atan({})", "arctanh": "torch.atanh({})",
    "ceil": "torch.ceil({})", "cos": "torch.cos({})", "cosh": "torch.cosh({})",
    "degrees": f"{{}} * {180.0 / math.pi!r}", "erf": "torch.erf({})", "erfinv": "torch.erfinv({})",
    "exp": "torch.exp({})", "expm1": "torch.expm1({})", "fix": "torch.trunc({})", "floor": "torch.floor({})",
    "gammaln": "torch.lgamma({})", "log": "torch.log({})", "log10": "torch.log10({})", "log1p": "torch.log1p({})",
    "log2": "torch.log2({})", "logical_not": "({0} == 0).to({0}.dtype)", "negative": "-{}",
    "radians": f"{{}} * {math.pi / 180.0!r}", "reciprocal": "torch.reciprocal({})", "relu": "torch.relu({})",
    "rsqrt": "torch.rsqrt({})", "sigmoid": "torch.sigmoid({})", "sign": "torch.sign({})", "sin": "torch.sin({})",
    "sinh": "torch.sinh({})", "softsign": "F.softsign({})", "sqrt": "torch.sqrt({})", "square": "torch.square({})",
    "tan": "torch.tan({})", "tanh": "torch.tanh({})", "trunc": "torch.trunc({})",
}
_UNARY_HELPERS = {"cbrt": ("mxnet_cube_root", "{}({})"), "rcbrt": ("mxnet_cube_root", "1.0 / {}({})"),
                  "gamma": ("mxnet_gamma", "{}({})"), "rint": ("mxnet_rint", "{}({})"),
                  "round": ("mxnet_round", "{}({})")}


@register(*UNARY_MATH)
def unary(ctx: TorchContext, node: Node) -> Lowering:
    x = ctx.input(0)
    if node.op in _UNARY_HELPERS:
        helper, template = _UNARY_HELPERS[node.op]
        return Lowering(template.format(ctx.helper(helper), x))
    return Lowering(_UNARY[node.op].format(x))


_OPERATORS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "equal": "==", "not_equal": "!=", "greater": ">",
              "greater_equal": ">=", "lesser": "<", "lesser_equal": "<="}
_LOGICAL = {"logical_and": "&", "logical_or": "|", "logical_xor": "^"}
_FUNCTIONS = {"maximum": "torch.maximum", "minimum": "torch.minimum", "power": "torch.pow", "hypot": "torch.hypot",
              "arctan2": "torch.atan2"}
_BITWISE = {"lcm": "torch.lcm", "bitwise_and": "torch.bitwise_and", "bitwise_or": "torch.bitwise_or",
            "bitwise_xor": "torch.bitwise_xor"}


def _binary(ctx: TorchContext, base: str, a: str, b: str, like: str) -> str:
    """``a <base> b`` where each is a tensor expression; ``like``: the data input, whose type results take."""
    if base in ("add", "sub", "mul", "div"):
        return f"{a} {_OPERATORS[base]} {b}"
    if base in _OPERATORS:
        return f"({a} {_OPERATORS[base]} {b}).to({like}.dtype)"
    if base in _LOGICAL:
        return f"(({a} != 0) {_LOGICAL[base]} ({b} != 0)).to({like}.dtype)"
    if base == "mod":
        return f"{ctx.helper('mxnet_mod')}({a}, {b})"
    if base == "copysign":
        return f"torch.where(((({a}) >= 0) & (({b}) >= 0)) | ((({a}) < 0) & (({b}) < 0)), {a}, -({a}))"
    if base == "ldexp":
        return f"{a} * torch.pow(torch.full_like({like}, 2.0), {b})"
    if base in _BITWISE:  # on int64 (bools: their 0 or 1), back in the data's type
        return f"{_BITWISE[base]}(({a}).to(torch.int64), ({b}).to(torch.int64)).to({like}.dtype)"
    return f"{_FUNCTIONS[base]}({a}, {b})"


def _as_float32(value: float) -> float:
    """A scalar as float32 data meets it in MXNet: past float32's range, infinite (torch refuses to fill a
    float32 tensor with it)."""
    with np.errstate(over="ignore"):
        return float(np.float32(value)) if math.isinf(np.float32(value)) else value


@register(*BINARY_FORMS)
def binary(ctx: TorchContext, node: Node) -> Lowering:
    """Tensor operands broadcast as MXNet's broadcast_ ops do; a scalar becomes a tensor of the data's type
    where the function needs one (a Python number otherwise, which torch casts to the data's type as MXNet does;
    truncated for integer data). Integer division truncates towards zero."""
    form = BINARY_FORMS[node.op]
    x = ctx.input(0)
    integer = node.output() in ctx.integers
    if form.form != "scalar":
        a, b = x, ctx.input(1)
    else:
        scalar = num(_as_float32(integer_scalar(node.attrs["scalar"]) if integer else node.attrs["scalar"]))
        if form.base in ("mod", "maximum", "minimum", "hypot", "arctan2", "copysign", *BITWISE):  # of two tensors
            scalar = f"torch.full_like({x}, {scalar})"
        a, b = (scalar, x) if form.reverse else (x, scalar)
    if form.base == "div" and integer:  # integer division truncates
        return Lowering(f"torch.trunc({a} / {b})")
    return Lowering(_binary(ctx, form.base, a, b, x))


_PREDICATES = {"_npi_isnan": "torch.isnan({})", "_npi_isinf": "torch.isinf({})", "_npi_isfinite": "torch.isfinite({})",
               "_npi_isposinf": "torch.isposinf({})", "_npi_isneginf": "torch.isneginf({})"}


@register(*NUMPY_PREDICATES, "_npi_bitwise_not")
def predicate(ctx: TorchContext, node: Node) -> Lowering:
    """NumPy's isnan/isinf/isfinite/isposinf/isneginf as 1 or 0; bitwise_not of integers (~x) and of bools."""
    x = ctx.input(0)
    if node.op == "_npi_bitwise_not":
        if ctx.dtypes[node.output()] == "bool":
            return Lowering(f"({x} == 0).to({x}.dtype)")
        return Lowering(f"torch.bitwise_not({x}.to(torch.int64)).to({x}.dtype)")
    return Lowering(f"{_PREDICATES[node.op].format(x)}.to({x}.dtype)")


@register("_npi_around")
def around(ctx: TorchContext, node: Node) -> Lowering:
    """MXNet's around: times 10 ``decimals`` times (or divided), rounded half to even, scaled back step by step."""
    decimals, expr = node.attrs["decimals"], ctx.input(0)
    for _ in range(abs(decimals)):
        expr = f"({expr} {'*' if decimals > 0 else '/'} 10.0)"
    expr = f"torch.round({expr})"
    for _ in range(abs(decimals)):
        expr = f"({expr} {'/' if decimals > 0 else '*'} 10.0)"
    return Lowering(expr)


@register(*NUMPY_WHERE)
def where(ctx: TorchContext, node: Node) -> Lowering:
    """x where the condition is non-zero, else y, all three broadcast."""
    condition, a = ctx.input(0), node.attrs
    if node.op == "_npi_where":
        x, y = ctx.input(1), ctx.input(2)
    elif node.op == "_npi_where_lscalar":
        x, y = f"torch.full_like({ctx.input(1)}, {num(ctx.in_output_type(a['scalar']))})", ctx.input(1)
    elif node.op == "_npi_where_rscalar":
        x, y = ctx.input(1), f"torch.full_like({ctx.input(1)}, {num(ctx.in_output_type(a['scalar']))})"
    else:
        x, y = (f"torch.full_like({condition}, {num(ctx.in_output_type(a[key]))})" for key in ("x", "y"))
    return Lowering(f"torch.where({condition} != 0, {x}, {y})")


HELPERS["mxnet_nan_to_num"] = '''
def mxnet_nan_to_num(x: torch.Tensor, nan: float, posinf: Optional[float], neginf: Optional[float]) -> torch.Tensor:
    """NaN, then +inf, then -inf replaced in turn (torch.nan_to_num replaces all three at once); an infinity
    left None becomes the largest finite value of its sign."""
    largest = torch.nan_to_num(torch.full_like(x, float("inf")))
    x = torch.where(torch.isnan(x), torch.full_like(x, nan), x)
    x = torch.where(torch.isposinf(x), largest if posinf is None else torch.full_like(x, posinf), x)
    return torch.where(torch.isneginf(x), -largest if neginf is None else torch.full_like(x, neginf), x)
'''


@register("_npi_nan_to_num")
def nan_to_num(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    values = [num(ctx.in_output_type(a["nan"])),
              *("None" if a[key] is None else num(ctx.in_output_type(a[key])) for key in ("posinf", "neginf"))]
    return Lowering(call_source(ctx.helper("mxnet_nan_to_num"), ctx.input(0), *values))


@register("_npi_polyval")
def polyval(ctx: TorchContext, node: Node) -> Lowering:
    """Horner's rule from 0 over the coefficients, highest power first."""
    p, x = ctx.input(0), ctx.input(1)
    expr = f"{x} * 0.0"
    for j in range(ctx.shape(0)[0]):
        expr = f"({expr}{f' * {x}' if j else ''} + {p}[{j}])"
    return Lowering(expr)


@register("hard_sigmoid")
def hard_sigmoid(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    return Lowering(f"torch.clamp({ctx.input(0)} * {num(a['alpha'])} + {num(a['beta'])}, 0.0, 1.0)")


@register("smooth_l1")
def smooth_l1(ctx: TorchContext, node: Node) -> Lowering:
    """|x| - 0.5 / sigma^2 past the bound 1 / sigma^2, else 0.5 x x sigma^2 (MXNet's order of products)."""
    square, bound, half_bound = smooth_l1_constants(node.attrs["scalar"])
    x = ctx.input(0)
    return Lowering(f"torch.where(torch.abs({x}) > {num(bound)}, torch.abs({x}) - {num(half_bound)}, "
                    f"{x} * 0.5 * {x} * {num(square)})")


@register("_contrib_quadratic")
def quadratic(ctx: TorchContext, node: Node) -> Lowering:
    """x (a x + b) + c, as MXNet orders it."""
    a, x = node.attrs, ctx.input(0)
    return Lowering(f"{x} * ({x} * {num(a['a'])} + {num(a['b'])}) + {num(a['c'])}")


@register("_contrib_allclose")
def allclose(ctx: TorchContext, node: Node) -> Lowering:
    """1 where every pair is equal or |a - b| <= atol + rtol |b| (a NaN matches a NaN where ``equal_nan``),
    else 0, as a 0-d tensor."""
    a, b, attrs = ctx.input(0), ctx.input(1), node.attrs
    close = f"({a} == {b}) | (torch.abs({a} - {b}) <= {num(attrs['atol'])} + {num(attrs['rtol'])} * torch.abs({b}))"
    if attrs["equal_nan"]:  # a comparison with NaN is false
        close = f"{close} | (torch.isnan({a}) & torch.isnan({b}))"
    return Lowering(f"torch.all({close}).to({a}.dtype)")


@register("add_n")
def add_n(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(" + ".join(ctx.input(i) for i in range(len(node.inputs))))


HELPERS["MxnetDropout"] = '''
class MxnetDropout(nn.Dropout):
    """``nn.Dropout`` as MXNet's: ``axes`` share one keep mask (kept values scaled by 1 / (1 - p)) along them;
    ``always`` drops at inference too."""

    axes: List[int]

    def __init__(self, p: float, axes: List[int], always: bool = False) -> None:
        super().__init__(p)
        self.axes = axes
        self.always = always

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        training = self.training or self.always
        if not self.axes:
            return F.dropout(x, p=self.p, training=training)
        if not training or self.p == 0.0:
            return x
        shape = list(x.shape)
        for axis in self.axes:
            shape[axis] = 1
        keep = torch.rand(shape, dtype=x.dtype, device=x.device) < 1.0 - self.p
        return x * keep.to(x.dtype) / (1.0 - self.p)
'''


@register(*IDENTITIES, LIKE_RHS)
def copy(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(ctx.input(0))


@register("Dropout")
def dropout(ctx: TorchContext, node: Node) -> Lowering:
    """Drops in ``train()`` (and always with ``mode="always"``, as MXNet does at inference); ``axes`` share one
    mask along them."""
    p, axes, always = num(node.attrs["p"]), list(node.attrs["axes"]), node.attrs["mode"] == "always"
    if axes or always:
        flags = {"always": "True"} if always else {}
        return Lowering(f"{ctx.layer}({ctx.input(0)})", call_source(ctx.helper("MxnetDropout"), p=p, axes=axes,
                                                                       **flags))
    return Lowering(f"{ctx.layer}({ctx.input(0)})", call_source("nn.Dropout", p=p))


@register("clip")
def clip(ctx: TorchContext, node: Node) -> Lowering:
    """MXNet tests ``x > a_max`` first, then ``x < a_min``: with ``a_min > a_max`` that is not ``clamp``."""
    x, low, high = ctx.input(0), num(node.attrs["a_min"]), num(node.attrs["a_max"])
    if node.attrs["a_min"] <= node.attrs["a_max"]:
        return Lowering(call_source("torch.clamp", x, min=low, max=high))
    return Lowering(f"torch.where({x} > {high}, {high}, torch.clamp({x}, min={low}))")


# --- densities (``_random_pdf_*``), each as MXNet's kernel computes it --------------------------------------------
HELPERS["mxnet_pdf_normal"] = '''
def mxnet_pdf_normal(x: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor, is_log: bool) -> torch.Tensor:
    exponent = -0.5 * (x - mu) * (x - mu) / (sigma * sigma)
    normalizer = 2.5066282746310002 * sigma  # sqrt(2 pi) sigma
    return exponent - torch.log(normalizer) if is_log else torch.exp(exponent) / normalizer
'''

HELPERS["mxnet_pdf_uniform"] = '''
def mxnet_pdf_uniform(x: torch.Tensor, low: torch.Tensor, high: torch.Tensor, is_log: bool) -> torch.Tensor:
    """The density inside [low, high] at every sample, as MXNet's kernel gives it (the sample is not read)."""
    density = -torch.log(high - low) if is_log else 1.0 / (high - low)
    return density.expand(x.shape)
'''

HELPERS["mxnet_pdf_exponential"] = '''
def mxnet_pdf_exponential(x: torch.Tensor, lam: torch.Tensor, is_log: bool) -> torch.Tensor:
    return torch.log(lam) - lam * x if is_log else lam * torch.exp(-lam * x)
'''

HELPERS["mxnet_pdf_gamma"] = '''
def mxnet_pdf_gamma(x: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor, is_log: bool) -> torch.Tensor:
    """Shape ``alpha``, rate ``beta``."""
    log_density = alpha * torch.log(beta) + (alpha - 1) * torch.log(x) - beta * x - torch.lgamma(alpha)
    return log_density if is_log else torch.exp(log_density)
'''

HELPERS["mxnet_pdf_poisson"] = '''
def mxnet_pdf_poisson(x: torch.Tensor, lam: torch.Tensor, is_log: bool) -> torch.Tensor:
    log_density = x * torch.log(lam) - torch.lgamma(x + 1) - lam
    return log_density if is_log else torch.exp(log_density)
'''

HELPERS["mxnet_pdf_negative_binomial"] = '''
def mxnet_pdf_negative_binomial(x: torch.Tensor, k: torch.Tensor, p: torch.Tensor, is_log: bool) -> torch.Tensor:
    """``x`` failures before the ``k``-th success of probability ``p``."""
    log_density = (torch.lgamma(x + k) - torch.lgamma(x + 1) - torch.lgamma(k)) + k * torch.log(p) \\
        + x * torch.log(1 - p)
    return log_density if is_log else torch.exp(log_density)
'''

HELPERS["mxnet_pdf_generalized_negative_binomial"] = '''
def mxnet_pdf_generalized_negative_binomial(x: torch.Tensor, mu: torch.Tensor, alpha: torch.Tensor,
                                            is_log: bool) -> torch.Tensor:
    """The negative binomial of mean ``mu`` and dispersion ``alpha``."""
    return mxnet_pdf_negative_binomial(x, 1.0 / alpha, 1.0 / (mu * alpha + 1.0), is_log)
'''

HELPERS["mxnet_pdf_dirichlet"] = '''
def mxnet_pdf_dirichlet(x: torch.Tensor, alpha: torch.Tensor, is_log: bool) -> torch.Tensor:
    """The density of each vector on the last axis of ``x`` (one vector: shape (1,))."""
    log_density = ((alpha - 1) * torch.log(x)).sum(-1) + (torch.lgamma(alpha.sum(-1)) - torch.lgamma(alpha).sum(-1))
    density = log_density if is_log else torch.exp(log_density)
    return density.reshape([1]) if x.dim() == 1 else density
'''


@register(*(f"_random_pdf_{kind}" for kind in PDF_PARAMETERS))
def pdf(ctx: TorchContext, node: Node) -> Lowering:
    """The parameters reshaped to broadcast against the samples they apply to."""
    kind = node.op.removeprefix("_random_pdf_")
    if kind == "generalized_negative_binomial":
        ctx.helper("mxnet_pdf_negative_binomial")
    parameters = []
    for index in range(1, len(node.inputs)):
        shape = list(ctx.shape(index))
        axes = pdf_parameter_axes(node, len(ctx.shape(0)), len(shape))
        for axis in axes:
            shape.insert(axis, 1)
        parameters.append(f"{ctx.input(index)}.reshape({shape})" if axes else ctx.input(index))
    return Lowering(call_source(ctx.helper(f"mxnet_pdf_{kind}"), ctx.input(0), *parameters,
                                str(node.attrs["is_log"])))
