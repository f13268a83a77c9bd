"""The elementwise family's per-op cases (``mxconvert/semantics/elementwise.py``): unary, binary, broadcast and
scalar arithmetic, comparisons and logic (data uniform in [-1, 1], mapped into each op's domain), NumPy-interface
arithmetic.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

import numpy as np

from .common import N, NP_DATA, NP_SHAPE, NX, S, SHAPE, STEPS, d, op_named
from .np_helpers import legacy

CASES: dict[str, tuple] = {}
INDEX_IMPORTER_SKIPS: dict[str, str] = {}
ONNX_REFUSES: dict[str, str] = {}
ONNX_OPSET_FLOOR: dict[str, tuple] = {}

# id -> (symbol, input shape)
CASES.update({
    "elemwise": (S.elemwise_div(S.elemwise_sub(S.elemwise_mul(d, d), S.elemwise_add(d, d)), d * d + 1.0),
                 (2, 3, 4)),
    "broadcast": (S.broadcast_div(S.broadcast_sub(S.broadcast_add(d, S.var("w1", shape=(1, 3, 1))),
                                                  S.var("w2", shape=(1, 1, 4))),
                                  S.broadcast_mul(S.var("w3", shape=(1, 3, 1)), S.var("w4", shape=(1, 3, 1))) + 1.0),
                  (2, 3, 4)),
    "scalars": (((((d + 1.5) - 0.5) * 2.0) / 4.0), (2, 3)),
    "rscalars": ((3.0 - d) + 2.0 / (d * d + 1.0), (2, 3)),
    "copy": (S.identity(d) * S._internal._copy(d), (2, 3)),
    "dropout": (S.Dropout(d * 2.0, p=0.3), (2, 3)),
    "dropout_axes": (S.Dropout(d * 2.0, p=0.3, axes=(0,)), (2, 3, 4)),
    "clip": (S.clip(d, a_min=-0.3, a_max=0.5), (2, 3, 4)),
})
_DOMAINS = {  # op -> the data transform that keeps it inside its domain (default: 3x the data)
    **{op: lambda x: x * 0.99 for op in ("arccos", "arcsin", "arctanh", "erfinv")},
    **{op: lambda x: x * 2.0 + 3.5 for op in ("log", "log10", "log2", "sqrt", "rsqrt", "gammaln")},
    "arccosh": lambda x: x * 2.0 + 3.5, "log1p": lambda x: x * 0.9, "expm1": lambda x: x * 1e-3,
    "logical_not": lambda x: S.floor(x * 2.0), "gamma": lambda x: x * 3.0 - 0.3, "tan": lambda x: x,
}
CASES.update({f"unary_{op}": (op_named(op)(_DOMAINS.get(op, lambda x: x * 3.0)(d), name=op), SHAPE)
              for op in ("abs", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "cbrt", "ceil", "cos",
                         "cosh", "degrees", "erf", "erfinv", "exp", "expm1", "fix", "floor", "gamma", "gammaln", "log",
                         "log10", "log1p", "log2", "logical_not", "negative", "radians", "rcbrt", "reciprocal",
                         "relu", "rint", "round", "rsqrt", "sigmoid", "sign", "sin", "sinh", "softsign", "sqrt",
                         "square", "tan", "tanh", "trunc")})
CASES.update({  # exact halves: round takes them away from zero, rint to the floor, fix and trunc towards zero
    f"unary_{op}_ties": (op_named(op)(S.floor(d * 4.0) + 0.5, name=op), SHAPE) for op in ("round", "rint", "fix")})
_OPERANDS = {  # base -> (left, right) of the elementwise form, as functions of the data and a same-shape weight
    "power": lambda x, w: (x * 2.0 + 3.0, w), "mod": lambda x, w: (x * 5.0, w),
    **{op: lambda x, w: (S.floor(x * 2.0), S.floor(w * 2.0))
       for op in ("equal", "not_equal", "greater", "greater_equal", "lesser", "lesser_equal",
                  "logical_and", "logical_or", "logical_xor")},
}
for _base in ("maximum", "minimum", "power", "hypot", "mod", "equal", "not_equal", "greater", "greater_equal",
              "lesser", "lesser_equal", "logical_and", "logical_or", "logical_xor"):
    _left, _right = _OPERANDS.get(_base, lambda x, w: (x, w))(d, S.var("w", shape=SHAPE))
    _bleft, _bright = _OPERANDS.get(_base, lambda x, w: (x, w))(d, S.var("w", shape=(1, 3, 1, 5)))
    CASES[f"binary_{_base}"] = (op_named(f"_{_base}")(_left, _right, name=_base), SHAPE)
    CASES[f"broadcast_{_base}"] = (op_named(f"broadcast_{_base}")(_bleft, _bright, name=_base), SHAPE)
    CASES[f"scalar_{_base}"] = (op_named(f"_{_base}_scalar")(_left, scalar=0.5, name=_base), SHAPE)
CASES.update({
    "scalar_rpower": (op_named("_rpower_scalar")(d, scalar=2.5, name="rpower"), SHAPE),
    "scalar_rmod": (op_named("_rmod_scalar")(d, scalar=1.5, name="rmod"), SHAPE),
    "scalar_mod_negative": (op_named("_mod_scalar")(d * 5.0, scalar=-1.5, name="mod"), SHAPE),
    "scalar_mod_zero": (op_named("_mod_scalar")(d, scalar=0.0, name="mod"), SHAPE),
    "scalar_rminus_rdiv": (op_named("_rdiv_scalar")(op_named("_rminus_scalar")(d, scalar=3.0), scalar=2.0, name="rdiv"), SHAPE),
    "scalar_equal_zero": (op_named("_equal_scalar")(S.floor(d * 2.0), scalar=0.0, name="eq"), SHAPE),
    "hard_sigmoid": (S.hard_sigmoid(d * 4.0, alpha=0.3, beta=0.4, name="hs"), SHAPE),
    "hard_sigmoid_default": (S.hard_sigmoid(d * 4.0, name="hs"), SHAPE),
    "add_n": (S.add_n(d, d * 2.0, S.exp(d), name="sum"), SHAPE),
    # sigma 1 (the default), 1.5 and 0.7: the bound 1 / sigma^2 inside and outside the data's range
    "smooth_l1": (S.Group([S.smooth_l1(d * 3.0), S.smooth_l1(d * 3.0, scalar=1.5), S.smooth_l1(d, scalar=0.7)]),
                  SHAPE),
    "np_smooth_l1": (NX.smooth_l1(NP_DATA * 3.0, scalar=2.0), NP_SHAPE),
    "quadratic": (S.Group([S.contrib.quadratic(d, a=1.5, b=-0.5, c=0.25), S.contrib.quadratic(d)]), SHAPE),
    "straight_through": (S.Group([S.contrib.round_ste(S.floor(d * 4.0) + 0.5), S.contrib.round_ste(d * 3.0),
                                  S.contrib.sign_ste(S.floor(d * 2.0))]), SHAPE),
    "identities": (S.Group([S.contrib.gradientmultiplier(d * 2.0, scalar=0.5),
                            S.IdentityAttachKLSparseReg(d, sparseness_target=0.2, name="kl")]), SHAPE),
    "scatter_forms_dense": (S.Group([S._internal._scatter_elemwise_div(d, d * 2.0 + 3.0),
                                     S._internal._scatter_plus_scalar(d, scalar=1.5),
                                     S._internal._scatter_minus_scalar(d, scalar=0.25)]), SHAPE),
    "identity_like_rhs": (S._internal._identity_with_attr_like_rhs(d * 2.0, S.var("rhs", shape=SHAPE)), SHAPE),
    # equal, within rtol and atol, past them, NaNs with and without equal_nan
    "allclose": (S.Group([S.contrib.allclose(d, d * 1.0), S.contrib.allclose(d, d * (1.0 + 1e-6)),
                          S.contrib.allclose(d, d + 1e-3),
                          S.contrib.allclose(d + 0.5, d + 0.5001, rtol=1e-3, atol=2e-4),
                          S.contrib.allclose(S.log(d), S.log(d)),
                          S.contrib.allclose(S.log(d), S.log(d), equal_nan=False),
                          S.contrib.allclose(S.Cast(d * 5.0, dtype="int32"), S.Cast(d * 5.0 + 0.5, dtype="int32"))]),
                 SHAPE),
})
_ints = N.floor(NP_DATA * 5.0).astype("int32")
_positive_ints = (_ints * _ints + 1).astype("int32")


def _nw(shape: tuple, name: str = "w"):
    return S.var(name, shape=shape).as_np_ndarray()


_w31, _w4, _w14 = _nw((3, 1), "w31"), _nw((4,), "w4"), N.floor(_nw((1, 4), "w14"))
CASES.update({
    "np_arithmetic_broadcast": (S.Group([NP_DATA + _w31, NP_DATA - _w31, NP_DATA * _w31, NP_DATA / _w31, N.mod(NP_DATA * 5.0, _w31),
                                         N.power(NP_DATA + 2.0, _w31), N.maximum(NP_DATA, _w31), N.minimum(NP_DATA, _w31)]),
                                NP_SHAPE),
    "np_math_binary": (S.Group([N.hypot(NP_DATA, _w4), N.arctan2(NP_DATA, _w4), N.copysign(NP_DATA, _w4),
                                N.ldexp(NP_DATA, N.floor(_w4 * 3.0)), N.arctan2(STEPS, N.floor(_w4 * 2.0))]), NP_SHAPE),
    "np_compare": (S.Group([STEPS == _w14, STEPS != _w14, STEPS > _w14, STEPS >= _w14, STEPS < _w14,
                            STEPS <= _w14]), NP_SHAPE),
    "np_scalars": (S.Group([NP_DATA + 1, NP_DATA + 1.5, 1 - NP_DATA, NP_DATA * 2, NP_DATA / 4, 2 / NP_DATA, NP_DATA % 0.7, 1.5 % NP_DATA, NP_DATA ** 2,
                            2 ** NP_DATA, N.maximum(NP_DATA, 0.2), N.minimum(NP_DATA, 0.2), N.hypot(NP_DATA, 0.5),
                            N.arctan2(NP_DATA, 0.5), N.copysign(NP_DATA, -1.0), N.ldexp(NP_DATA, 2.0)]), NP_SHAPE),
    "np_compare_scalar": (S.Group([STEPS == 0, STEPS != 0, STEPS > 0.5, STEPS >= 0, STEPS < -0.5,
                                   STEPS <= 0]), NP_SHAPE),
    "np_integer_types": (S.Group([_ints + 1, _ints + 1.5, _ints / 2, _ints * 3, _ints % 3, _ints + _positive_ints,
                                  _ints / _positive_ints, _ints % _positive_ints, _ints ** 2, N.abs(_ints), -_ints,
                                  _ints + NP_DATA, (NP_DATA > 0) + _ints, (NP_DATA > 0) + 1, N.sum(NP_DATA > 0), N.mean(_ints),
                                  N.max(_ints, axis=1), N.sum(_ints, axis=0)]), NP_SHAPE),
    "np_bitwise": (S.Group([N.bitwise_and(_ints, _positive_ints), N.bitwise_or(_ints, 3), N.bitwise_xor(_ints, -2),
                            N.bitwise_xor(NP_DATA > 0, NP_DATA > 0.5)]), NP_SHAPE),
    "np_lcm": (N.lcm(_ints, _positive_ints), NP_SHAPE),
    "np_unary_rounding": (S.Group([N.rint(N.floor(NP_DATA * 4.0) + 0.5), N.fix(NP_DATA * 3.0), N.trunc(NP_DATA * 3.0),
                                   N.ceil(NP_DATA * 3.0), N.floor(NP_DATA * 3.0), N.sign(STEPS), N.abs(NP_DATA), N.absolute(NP_DATA),
                                   N.negative(NP_DATA), N.square(NP_DATA), N.reciprocal(NP_DATA), N.cbrt(NP_DATA * 3.0)]), NP_SHAPE),
    "np_unary_exp_log": (S.Group([N.exp(NP_DATA), N.expm1(NP_DATA * 1e-3), N.log(NP_DATA + 1.5), N.log10(NP_DATA + 1.5),
                                  N.log2(NP_DATA + 1.5), N.log1p(NP_DATA * 0.9), N.sqrt(NP_DATA + 1.5),
                                  N.degrees(NP_DATA), N.radians(NP_DATA)]), NP_SHAPE),
    "np_unary_trigonometry": (S.Group([N.sin(NP_DATA), N.cos(NP_DATA), N.tan(NP_DATA), N.arcsin(NP_DATA * 0.99),
                                       N.arccos(NP_DATA * 0.99), N.arctan(NP_DATA * 3.0), N.sinh(NP_DATA), N.cosh(NP_DATA),
                                       N.tanh(NP_DATA), N.arcsinh(NP_DATA * 3.0), N.arccosh(NP_DATA + 2.5),
                                       N.arctanh(NP_DATA * 0.99)]), NP_SHAPE),
    "np_predicates": (S.Group([N.isnan(N.log(STEPS + 1.0)), N.isinf(N.log(STEPS + 1.0)),
                               N.isfinite(N.log(STEPS + 1.0)), N.isposinf(1.0 / STEPS), N.isneginf(1.0 / STEPS),
                               N.logical_not(STEPS)]), NP_SHAPE),
    "np_around_where": (S.Group([N.around(NP_DATA * 3.0), N.around(NP_DATA, 2), N.around(N.floor(NP_DATA * 8.0) / 4.0, 1),
                                 N.around(NP_DATA * 300.0, -1), N.where(STEPS, NP_DATA, _w31), N.where(STEPS > 0, NP_DATA, 1.5),
                                 N.where(STEPS > 0, 0.5, NP_DATA), N.where(STEPS, 1.0, -2.0)]), NP_SHAPE),
    "np_npx_activations": (S.Group([NX.relu(NP_DATA), NX.sigmoid(NP_DATA), N.copy(NP_DATA), N.clip(NP_DATA, -0.3, 0.5)]),
                           NP_SHAPE),
})
_SPECIALS = N.log(STEPS + 1.0) * (STEPS - 0.5)  # NaN, +inf, 0 and a finite value
CASES.update({
    "np_nan_to_num": (S.Group([N.nan_to_num(_SPECIALS, nan=0.5, posinf=2.0, neginf=-3.0), N.nan_to_num(_SPECIALS),
                               N.nan_to_num(-_SPECIALS, nan=float("inf"), posinf=7.0), N.nan_to_num(_ints)]), NP_SHAPE),
    "np_polyval": (S.Group([N.polyval(_nw((4,), "p"), NP_DATA), N.polyval(_nw((1,), "p1"), NP_DATA * 2.0)]), NP_SHAPE),
})
# Cases whose op no ONNX operator computes: refused by name, with the reason, before anything is written
ONNX_REFUSES.update({
    "np_lcm": r"_npi_lcm \[no ONNX operator computes a least common multiple\]",
})
CASES.update({
    "np_copy": (legacy(N.copy(NP_DATA)), (2, 3)),
})
ONNX_OPSET_FLOOR["np_bitwise"] = (18, "unsupported ops: _npi_bitwise")
# Integer arithmetic as CenterNet's decoder does it: division of integer tensors truncates, scalars are truncated
_int64 = S.Cast(d * 9.0, dtype="int64")
_positive = S.Cast(S.abs(d) * 4.0 + 1.0, dtype="int64")
_top_indices = S.Cast(S.topk(S.reshape(d, shape=(0, -1)), k=6), dtype="int64")
_width = S.slice_axis(S.shape_array(d), axis=0, begin=3, end=4)
CASES.update({
    "det_integer_division": (S.Cast(S.broadcast_div(_int64, _positive), dtype="float32", name="out"), (2, 3, 4)),
    "det_integer_scalars": (S.Cast(S.Cast(d * 9.0, dtype="int32") / 2.7 + 1.9
                                   + 20.5 / S.Cast(_positive, dtype="int32"), dtype="float32", name="out"), (2, 3, 4)),
    "det_integer_index_arithmetic": (S.Group([S.Cast(S.broadcast_div(_top_indices, _width), dtype="float32"),
                                              S.Cast(S.broadcast_mod(_top_indices, _width), dtype="float32")]),
                                     (2, 1, 3, 5)),
})
INDEX_IMPORTER_SKIPS["np_nan_to_num"] = "MXNet's importer has no IsInf"

# densities at given samples: each parameter value applies to the samples its index prefixes


def _values(**parameters) -> dict:
    return {name: np.array(value, np.float32) for name, value in parameters.items()}


_POSITIVE, _COUNTS, _SIMPLEX = d + 1.5, S.floor((d + 1.0) * 3.0), S.softmax(d)  # counts 0 to 5
_PDFS = {  # case -> distribution, sample, its shape, parameters (in input order), is_log
    "pdf_normal": ("normal", d, (2, 3, 4), _values(mu=[0.5, -0.25], sigma=[0.5, 2.0]), False),
    "pdf_normal_log": ("normal", d, (2, 3), _values(mu=[[0.5, -0.25, 0.0], [1.0, 0.1, -0.6]],
                                                    sigma=[[0.5, 2.0, 1.0], [0.3, 1.5, 0.8]]), True),
    "pdf_uniform": ("uniform", d, (2, 5), _values(low=[-1.0, 0.25], high=[1.0, 3.0]), False),
    "pdf_uniform_log": ("uniform", d, (2, 3, 2), _values(low=[-1.0, 0.25], high=[1.0, 3.0]), True),
    "pdf_exponential": ("exponential", _POSITIVE, (2, 4), _values(lam=[0.5, 3.0]), False),
    "pdf_exponential_log": ("exponential", _POSITIVE, (2, 4), _values(lam=[0.5, 3.0]), True),
    "pdf_gamma": ("gamma", _POSITIVE, (2, 4), _values(alpha=[0.75, 2.5], beta=[1.5, 0.5]), False),
    "pdf_gamma_log": ("gamma", _POSITIVE, (2, 3, 2), _values(alpha=[0.75, 2.5], beta=[1.5, 0.5]), True),
    "pdf_poisson": ("poisson", _COUNTS, (2, 6), _values(lam=[0.5, 3.0]), False),
    "pdf_poisson_log": ("poisson", _COUNTS, (2, 6), _values(lam=[0.5, 3.0]), True),
    "pdf_negative_binomial": ("negative_binomial", _COUNTS, (2, 6), _values(k=[2.0, 4.5], p=[0.3, 0.8]), False),
    "pdf_generalized_negative_binomial_log": ("generalized_negative_binomial", _COUNTS, (2, 6),
                                              _values(mu=[1.5, 4.0], alpha=[0.75, 0.2]), True),
    "pdf_dirichlet": ("dirichlet", _SIMPLEX, (2, 3, 4), _values(alpha=[[0.5, 1.5, 2.0, 3.0], [1.0, 4.0, 0.75, 2.0]]),
                      False),
    "pdf_dirichlet_log_one_vector": ("dirichlet", _SIMPLEX, (4,), _values(alpha=[0.5, 1.5, 2.0, 3.0]), True),
}
CASES.update({case: (op_named(f"random_pdf_{kind}")(sample, *(S.var(name, shape=value.shape)
                                                                for name, value in parameters.items()),
                                                     is_log=is_log), shape)
              for case, (kind, sample, shape, parameters, is_log) in _PDFS.items()})
CASE_INPUTS = {case: parameters for case, (_, _, _, parameters, _) in _PDFS.items()}
INDEX_IMPORTER_SKIPS.update({case: "the uniform density reads only the sample's shape, fixed at conversion: the graph "
                                   "has no use of its input, which MXNet's importer then drops"
                             for case in ("pdf_uniform", "pdf_uniform_log")})
INDEX_IMPORTER_SKIPS.update({case: "the log-gamma terms are computed in float64, whose constants MXNet's importer "
                                   "reads as float32" for case, (kind, *_) in _PDFS.items()
                             if kind not in ("normal", "uniform", "exponential")})
