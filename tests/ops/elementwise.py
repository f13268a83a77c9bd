"""The elementwise family's per-op cases (``mxconvert/semantics/elementwise.py``): unary, binary, broadcast and
scalar arithmetic, comparisons and logic (data uniform in [-1, 1], mapped into each op's domain), NumPy-interface
arithmetic.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

from .common import N, _NP_SHAPE, NX, S, _SHAPE, d, _nd, _op, _steps

CASES: dict[str, tuple] = {}
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
CASES.update({f"unary_{op}": (_op(op)(_DOMAINS.get(op, lambda x: x * 3.0)(d), name=op), _SHAPE)
              for op in ("abs", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "cbrt", "ceil", "cos",
                         "cosh", "degrees", "erf", "erfinv", "exp", "expm1", "fix", "floor", "gamma", "gammaln", "log",
                         "log10", "log1p", "log2", "logical_not", "negative", "radians", "rcbrt", "reciprocal",
                         "relu", "rint", "round", "rsqrt", "sigmoid", "sign", "sin", "sinh", "softsign", "sqrt",
                         "square", "tan", "tanh", "trunc")})
CASES.update({  # exact halves: round takes them away from zero, rint to the floor, fix and trunc towards zero
    f"unary_{op}_ties": (_op(op)(S.floor(d * 4.0) + 0.5, name=op), _SHAPE) for op in ("round", "rint", "fix")})
_OPERANDS = {  # base -> (left, right) of the elementwise form, as functions of the data and a same-shape weight
    "power": lambda x, w: (x * 2.0 + 3.0, w), "mod": lambda x, w: (x * 5.0, w),
    **{op: lambda x, w: (S.floor(x * 2.0), S.floor(w * 2.0))
       for op in ("equal", "not_equal", "greater", "greater_equal", "lesser", "lesser_equal",
                  "logical_and", "logical_or", "logical_xor")},
}
for _base in ("maximum", "minimum", "power", "hypot", "mod", "equal", "not_equal", "greater", "greater_equal",
              "lesser", "lesser_equal", "logical_and", "logical_or", "logical_xor"):
    _left, _right = _OPERANDS.get(_base, lambda x, w: (x, w))(d, S.var("w", shape=_SHAPE))
    _bleft, _bright = _OPERANDS.get(_base, lambda x, w: (x, w))(d, S.var("w", shape=(1, 3, 1, 5)))
    CASES[f"binary_{_base}"] = (_op(f"_{_base}")(_left, _right, name=_base), _SHAPE)
    CASES[f"broadcast_{_base}"] = (_op(f"broadcast_{_base}")(_bleft, _bright, name=_base), _SHAPE)
    CASES[f"scalar_{_base}"] = (_op(f"_{_base}_scalar")(_left, scalar=0.5, name=_base), _SHAPE)
CASES.update({
    "scalar_rpower": (_op("_rpower_scalar")(d, scalar=2.5, name="rpower"), _SHAPE),
    "scalar_rmod": (_op("_rmod_scalar")(d, scalar=1.5, name="rmod"), _SHAPE),
    "scalar_mod_negative": (_op("_mod_scalar")(d * 5.0, scalar=-1.5, name="mod"), _SHAPE),
    "scalar_mod_zero": (_op("_mod_scalar")(d, scalar=0.0, name="mod"), _SHAPE),
    "scalar_rminus_rdiv": (_op("_rdiv_scalar")(_op("_rminus_scalar")(d, scalar=3.0), scalar=2.0, name="rdiv"), _SHAPE),
    "scalar_equal_zero": (_op("_equal_scalar")(S.floor(d * 2.0), scalar=0.0, name="eq"), _SHAPE),
    "hard_sigmoid": (S.hard_sigmoid(d * 4.0, alpha=0.3, beta=0.4, name="hs"), _SHAPE),
    "hard_sigmoid_default": (S.hard_sigmoid(d * 4.0, name="hs"), _SHAPE),
    "add_n": (S.add_n(d, d * 2.0, S.exp(d), name="sum"), _SHAPE),
})
_ints = N.floor(_nd * 5.0).astype("int32")
_positive_ints = (_ints * _ints + 1).astype("int32")


def _nw(shape: tuple, name: str = "w"):
    return S.var(name, shape=shape).as_np_ndarray()


_w31, _w4, _w14 = _nw((3, 1), "w31"), _nw((4,), "w4"), N.floor(_nw((1, 4), "w14"))
CASES.update({
    "np_arithmetic_broadcast": (S.Group([_nd + _w31, _nd - _w31, _nd * _w31, _nd / _w31, N.mod(_nd * 5.0, _w31),
                                         N.power(_nd + 2.0, _w31), N.maximum(_nd, _w31), N.minimum(_nd, _w31)]),
                                _NP_SHAPE),
    "np_math_binary": (S.Group([N.hypot(_nd, _w4), N.arctan2(_nd, _w4), N.copysign(_nd, _w4),
                                N.ldexp(_nd, N.floor(_w4 * 3.0)), N.arctan2(_steps, N.floor(_w4 * 2.0))]), _NP_SHAPE),
    "np_compare": (S.Group([_steps == _w14, _steps != _w14, _steps > _w14, _steps >= _w14, _steps < _w14,
                            _steps <= _w14]), _NP_SHAPE),
    "np_scalars": (S.Group([_nd + 1, _nd + 1.5, 1 - _nd, _nd * 2, _nd / 4, 2 / _nd, _nd % 0.7, 1.5 % _nd, _nd ** 2,
                            2 ** _nd, N.maximum(_nd, 0.2), N.minimum(_nd, 0.2), N.hypot(_nd, 0.5),
                            N.arctan2(_nd, 0.5), N.copysign(_nd, -1.0), N.ldexp(_nd, 2.0)]), _NP_SHAPE),
    "np_compare_scalar": (S.Group([_steps == 0, _steps != 0, _steps > 0.5, _steps >= 0, _steps < -0.5,
                                   _steps <= 0]), _NP_SHAPE),
    "np_integer_types": (S.Group([_ints + 1, _ints + 1.5, _ints / 2, _ints * 3, _ints % 3, _ints + _positive_ints,
                                  _ints / _positive_ints, _ints % _positive_ints, _ints ** 2, N.abs(_ints), -_ints,
                                  _ints + _nd, (_nd > 0) + _ints, (_nd > 0) + 1, N.sum(_nd > 0), N.mean(_ints),
                                  N.max(_ints, axis=1), N.sum(_ints, axis=0)]), _NP_SHAPE),
    "np_bitwise": (S.Group([N.bitwise_and(_ints, _positive_ints), N.bitwise_or(_ints, 3), N.bitwise_xor(_ints, -2),
                            N.bitwise_xor(_nd > 0, _nd > 0.5)]), _NP_SHAPE),
    "np_lcm": (N.lcm(_ints, _positive_ints), _NP_SHAPE),
    "np_unary_rounding": (S.Group([N.rint(N.floor(_nd * 4.0) + 0.5), N.fix(_nd * 3.0), N.trunc(_nd * 3.0),
                                   N.ceil(_nd * 3.0), N.floor(_nd * 3.0), N.sign(_steps), N.abs(_nd), N.absolute(_nd),
                                   N.negative(_nd), N.square(_nd), N.reciprocal(_nd), N.cbrt(_nd * 3.0)]), _NP_SHAPE),
    "np_unary_exp_log": (S.Group([N.exp(_nd), N.expm1(_nd * 1e-3), N.log(_nd + 1.5), N.log10(_nd + 1.5),
                                  N.log2(_nd + 1.5), N.log1p(_nd * 0.9), N.sqrt(_nd + 1.5),
                                  N.degrees(_nd), N.radians(_nd)]), _NP_SHAPE),
    "np_unary_trigonometry": (S.Group([N.sin(_nd), N.cos(_nd), N.tan(_nd), N.arcsin(_nd * 0.99),
                                       N.arccos(_nd * 0.99), N.arctan(_nd * 3.0), N.sinh(_nd), N.cosh(_nd),
                                       N.tanh(_nd), N.arcsinh(_nd * 3.0), N.arccosh(_nd + 2.5),
                                       N.arctanh(_nd * 0.99)]), _NP_SHAPE),
    "np_predicates": (S.Group([N.isnan(N.log(_steps + 1.0)), N.isinf(N.log(_steps + 1.0)),
                               N.isfinite(N.log(_steps + 1.0)), N.isposinf(1.0 / _steps), N.isneginf(1.0 / _steps),
                               N.logical_not(_steps)]), _NP_SHAPE),
    "np_around_where": (S.Group([N.around(_nd * 3.0), N.around(_nd, 2), N.around(N.floor(_nd * 8.0) / 4.0, 1),
                                 N.around(_nd * 300.0, -1), N.where(_steps, _nd, _w31), N.where(_steps > 0, _nd, 1.5),
                                 N.where(_steps > 0, 0.5, _nd), N.where(_steps, 1.0, -2.0)]), _NP_SHAPE),
    "np_npx_activations": (S.Group([NX.relu(_nd), NX.sigmoid(_nd), N.copy(_nd), N.clip(_nd, -0.3, 0.5)]),
                           _NP_SHAPE),
})
# Cases whose op no ONNX operator computes: refused by name, with the reason, before anything is written
ONNX_REFUSES.update({
    "unary_erfinv": "erfinv",
    "unary_gamma": "gamma",
    "unary_gammaln": "gammaln",
    "np_lcm": r"_npi_lcm \[no ONNX operator computes a least common multiple\]",
})
# MXNet's NumPy interface as the shape ops spell it: ``_nd`` is now the conversion to a legacy symbol
from .np_helpers import _N, _dn, _nd  # noqa: E402

CASES.update({
    "np_copy": (_nd(_N.copy(_dn)), (2, 3)),
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
