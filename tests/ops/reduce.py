"""The reduce family's per-op cases (``mxconvert/semantics/reduce.py``): reductions: axis lists with negatives,
exclude, keepdims, every axis (MXNet keeps one), ties; NumPy's reductions.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations


from .common import N, NP_DATA, NP_SHAPE, NX, S, SHAPE, STEPS, d, op_named

CASES: dict[str, tuple] = {}
INDEX_IMPORTER_SKIPS: dict[str, str] = {}
BOTH_REFUSE: dict[str, tuple] = {}
CASE_INPUTS: dict[str, dict] = {}
_sparse = S.var("data", stype="row_sparse")

_REDUCE_ATTRS = {"all": {}, "axis": {"axis": (1, -1)}, "keepdims": {"axis": (0, 2), "keepdims": True},
                 "exclude": {"axis": (1,), "exclude": True}, "exclude_keepdims": {"axis": (0, 3), "exclude": True,
                                                                                    "keepdims": True}}
for _op_name in ("sum", "mean", "max", "min", "prod", "nansum", "nanprod"):
    for _variant, _attrs in _REDUCE_ATTRS.items():
        CASES[f"reduce_{_op_name}_{_variant}"] = (op_named(_op_name)(d, name=_op_name, **_attrs), SHAPE)
CASES.update({
    "reduce_sum_every_axis_keepdims": (S.sum(d, axis=(0, 1, 2, 3), keepdims=True, name="sum"), SHAPE),
    "reduce_sum_exclude_every_axis": (S.sum(d, axis=(0, 1, 2, 3), exclude=True, name="sum"), SHAPE),
    "reduce_sum_axis_alias": (S.sum_axis(d, axis=2, name="sum"), SHAPE),
    "reduce_nansum_nan": (S.nansum(S.sqrt(d), axis=(2, 3), name="nansum"), SHAPE),
    "reduce_nanprod_nan": (S.nanprod(S.sqrt(d + 1.5) - 0.5 * S.sqrt(d), axis=-1, name="nanprod"), SHAPE),
    "norm_l2_all": (S.norm(d, name="norm"), SHAPE),
    "norm_l2_axis": (S.norm(d, axis=1, name="norm"), SHAPE),
    "norm_l1_keepdims": (S.norm(d, ord=1, axis=(1, 3), keepdims=True, name="norm"), SHAPE),
    "argmax_axis": (S.argmax(S.floor(d * 2.0), axis=1, name="argmax"), SHAPE),  # ties: the first index
    "argmax_keepdims": (S.argmax(d, axis=-1, keepdims=True, name="argmax"), SHAPE),
    "argmax_flat": (S.argmax(d, name="argmax"), SHAPE),
    "argmin_flat_keepdims": (S.argmin(d, keepdims=True, name="argmin"), SHAPE),
    "argmin_axis_ties": (S.argmin(S.floor(d * 2.0), axis=0, name="argmin"), SHAPE),
    "argmax_channel_ties": (S.argmax_channel(S.floor(d * 2.0), name="argmax"), SHAPE),  # axis 1, dropped
    "argmax_channel_2d": (S.argmax_channel(d, name="argmax"), (3, 5)),
    "argmax_1d": (S.argmax(d, axis=0, name="argmax"), (7,)),
    # MXNet runs _square_sum on 2-D row_sparse data only, over axis 0 or 1
    "square_sum": (S.Group([S._internal._square_sum(_sparse, axis=1),
                            S._internal._square_sum(_sparse, axis=0, keepdims=True),
                            S._internal._square_sum(_sparse, axis=0)]), (3, 4)),
    "moments": (S.Group([*S.moments(d, axes=(1, -1)), *S.moments(d, axes=(0, 2), keepdims=True),
                         *S.moments(d, axes=(0, 1, 2, 3)), *S.moments(d, axes=(-2,), keepdims=True)]), SHAPE),
    # the legacy spelling of NumPy's cumsum: float64 accumulators, integer data (its type kept)
    "cumsum": (S.Group([S.cumsum(d, axis=1), S.cumsum(d, axis=3, dtype="float64"), S.cumsum(d),
                        S.cumsum(S.Cast(S.floor(d * 5.0), dtype="int32"), axis=0)]), SHAPE),
})
_ints = N.floor(NP_DATA * 5.0).astype("int32")
_NP_REDUCE = {op: getattr(N, op) for op in ("sum", "mean", "max", "min", "prod", "amax", "amin")}
CASES.update({
    **{f"np_reduce_{name}": (S.Group([op(NP_DATA), op(NP_DATA, axis=1), op(NP_DATA, axis=(0, -1), keepdims=True),
                                      op(NP_DATA, axis=-2, keepdims=True)]), NP_SHAPE)
       for name, op in _NP_REDUCE.items()},
    "np_all_any": (S.Group([N.all(STEPS), N.any(STEPS, axis=1), N.all(STEPS, axis=(0, 2), keepdims=True),
                            N.any(STEPS + 2.0)]), NP_SHAPE),
    "np_argmax_argmin": (S.Group([N.argmax(STEPS), N.argmax(NP_DATA, axis=1), N.argmin(STEPS, axis=-1),
                                  N.argmin(NP_DATA)]), NP_SHAPE),
    "np_std_var": (S.Group([N.std(NP_DATA), N.var(NP_DATA, axis=1), N.std(NP_DATA, axis=(0, 2), ddof=1, keepdims=True),
                            N.var(NP_DATA, axis=-1, ddof=2)]), NP_SHAPE),
    # axis=(): no axis reduced, zeros
    "np_std_var_no_axis": (S.Group([N.std(NP_DATA, axis=()), N.var(NP_DATA, axis=(), keepdims=True)]), NP_SHAPE),
    "np_average_cumsum": (S.Group([N.average(NP_DATA, axis=1), N.average(NP_DATA), N.cumsum(NP_DATA), N.cumsum(NP_DATA, axis=1),
                                   N.cumsum(NP_DATA > 0, axis=2)]), NP_SHAPE),
    "np_cumsum_float64": (S.Group([N.cumsum(NP_DATA, axis=1, dtype="float64"), N.cumsum(_ints, axis=0)]), NP_SHAPE),
    "np_zero_d_chain": (N.sqrt(N.abs(N.mean(NP_DATA) * 2.0 - N.max(NP_DATA))) + N.sum(NP_DATA, axis=(0, 1, 2)), NP_SHAPE),
})
CASES.update({
    "np_constraint_check": (S.Group([NX.constraint_check(NP_DATA > -2.0, msg="out of range"), NP_DATA * 2.0]), NP_SHAPE),
})
INDEX_IMPORTER_SKIPS.update({case: "the importer's reductions to 0-d give shape (1,)"
                            for case in ("np_constraint_check", "np_norm")})
CASES.update({  # each interpolation, ties (STEPS), q at the ends, several axes, every axis, keepdims
    "np_percentile": (S.Group([N.percentile(NP_DATA, 30, axis=1), N.percentile(NP_DATA, 37.5, axis=(0, -1), keepdims=True),
                               N.percentile(NP_DATA, 100), N.percentile(STEPS, 0, axis=-2),
                               N.percentile(NP_DATA, 45, axis=2, interpolation="lower"),
                               N.percentile(NP_DATA, 45, axis=2, interpolation="higher"),
                               N.percentile(NP_DATA, 50, axis=0, interpolation="midpoint"),
                               N.percentile(NP_DATA, 50, axis=2, interpolation="nearest"),
                               N.percentile(STEPS, 62.5, axis=(1, 2), interpolation="nearest")]), NP_SHAPE),
    # axis=(): no axis reduced, each value its own percentile
    "np_percentile_no_axis": (N.percentile(NP_DATA, 30, axis=()), NP_SHAPE),
})
_norm = N.linalg.norm
CASES.update({  # np.linalg.norm's L1 and L2 reductions: flattened, one axis, Frobenius over two, keepdims, integers
    "np_norm": (S.Group([_norm(NP_DATA), _norm(NP_DATA, axis=1), _norm(NP_DATA, 1, axis=-1, keepdims=True),
                         _norm(NP_DATA, "fro", axis=(0, 2)), _norm(N.reshape(NP_DATA, (6, 4)), "fro"),
                         _norm(N.reshape(NP_DATA, -1), 1), _norm(STEPS, 2, axis=0)]), NP_SHAPE),
    # other finite orders as MXNet's kernel computes them, over the non-zero elements (ord 0: their count)
    "np_norm_orders": (S.Group([_norm(NP_DATA, 0, axis=1), _norm(NP_DATA, -1, axis=2), _norm(STEPS, -2, axis=0),
                                _norm(NP_DATA, 3, axis=0, keepdims=True), _norm(STEPS, 0.5, axis=-1)]), NP_SHAPE),
})
BOTH_REFUSE["square_sum_exclude"] = (S._internal._square_sum(_sparse, axis=1, exclude=True, name="sq"), (3, 4),
                                     r"_square_sum \[exclude \(MXNet's kernel ignores it\)\] \(sq\)")
