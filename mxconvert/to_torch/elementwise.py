"""The elementwise family: unary math, arithmetic, comparisons and logic in their elementwise, broadcast and
scalar spellings (``semantics.elementwise.BINARY_FORMS``), ``hard_sigmoid``, ``add_n``, ``clip``, ``_copy`` and
``Dropout``."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..integers import integer_scalar
from ..ir import Node
from ..semantics.elementwise import BINARY_FORMS, UNARY_MATH
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
_FUNCTIONS = {"maximum": "torch.maximum", "minimum": "torch.minimum", "power": "torch.pow", "hypot": "torch.hypot"}


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
        if form.base in ("mod", "maximum", "minimum", "hypot"):  # functions of two tensors
            scalar = f"torch.full_like({x}, {scalar})"
        a, b = (scalar, x) if form.reverse else (x, scalar)
    if form.base == "div" and integer:  # integer division truncates
        return Lowering(f"torch.trunc({a} / {b})")
    return Lowering(_binary(ctx, form.base, a, b, x))


@register("hard_sigmoid")
def hard_sigmoid(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    return Lowering(f"torch.clamp({ctx.input(0)} * {num(a['alpha'])} + {num(a['beta'])}, 0.0, 1.0)")


@register("add_n")
def add_n(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(" + ".join(ctx.input(i) for i in range(len(node.inputs))))


HELPERS["mxnet_shared_dropout"] = '''
def mxnet_shared_dropout(x: torch.Tensor, p: float, axes: List[int], training: bool) -> torch.Tensor:
    """MXNet's ``Dropout`` with ``axes``: one keep mask (probability 1 - p, kept values scaled by 1 / (1 - p)) of
    ``x``'s shape with size 1 along ``axes``, broadcast over them; the identity unless ``training``."""
    if not training or p == 0.0:
        return x
    shape = list(x.shape)
    for axis in axes:
        shape[axis] = 1
    keep = torch.rand(shape, dtype=x.dtype, device=x.device) < 1.0 - p
    return x * keep.to(x.dtype) / (1.0 - p)
'''


@register("_copy")
def copy(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(ctx.input(0))


@register("Dropout")
def dropout(ctx: TorchContext, node: Node) -> Lowering:
    """Drops in ``train()`` (and always with ``mode="always"``, as MXNet does at inference); ``axes`` share one
    mask along them."""
    p = num(node.attrs["p"])
    training = "True" if node.attrs["mode"] == "always" else "self.training"
    if node.attrs["axes"]:
        axes = str(list(node.attrs["axes"]))
        return Lowering(call_source(ctx.helper("mxnet_shared_dropout"), ctx.input(0), p, axes, training))
    if node.attrs["mode"] == "always":
        return Lowering(call_source("F.dropout", ctx.input(0), p=p, training=training))
    return Lowering(f"{ctx.layer}({ctx.input(0)})", call_source("nn.Dropout", p=p))


@register("clip")
def clip(ctx: TorchContext, node: Node) -> Lowering:
    """MXNet tests ``x > a_max`` first, then ``x < a_min``: with ``a_min > a_max`` that is not ``clamp``."""
    x, low, high = ctx.input(0), num(node.attrs["a_min"]), num(node.attrs["a_max"])
    if node.attrs["a_min"] <= node.attrs["a_max"]:
        return Lowering(call_source("torch.clamp", x, min=low, max=high))
    return Lowering(f"torch.where({x} > {high}, {high}, torch.clamp({x}, min={low}))")
