"""The indexing family's per-op cases (``mxconvert/semantics/indexing.py``): indexing, creation and sorting: float
indices truncated, clipped or wrapped; ties; dtypes; random draws.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

import json

import numpy as np

from .common import NP_SHAPE, S, SHAPE, d
from .np_helpers import N, NP_DATA, NX, legacy, legacy_group

CASES: dict[str, tuple] = {}
CASE_INPUTS: dict[str, dict] = {}
BOTH_REFUSE: dict[str, tuple] = {}
INDEX_IMPORTER_SKIPS: dict[str, str] = {}
RANDOM_CASES: dict[str, tuple] = {}

CASES.update({  # NumPy's zeros, ones and arange (added to the data through MXNet's own op)
    "np_zeros_ones": (S.broadcast_add(S.broadcast_add(d, N.zeros((1, 3)).as_nd_ndarray()),
                                      N.ones((2, 1)).as_nd_ndarray()), (2, 3)),
    "np_arange": (S.broadcast_add(d, N.arange(2, 9, 2).as_nd_ndarray()), (3, 4)),
})


def _plus(sym):
    """A NumPy-interface creation op's values added to the data (through MXNet's own op)."""
    return S.broadcast_add(d, sym.as_nd_ndarray())


def _beside(sym):
    """A creation op's values (of any type) as an output beside the data's."""
    return S.Group([sym.as_nd_ndarray(), d * 1.0])


CASES.update({  # NumPy's creation ops: values from the attributes alone, in their dtype
    "np_eye": (_plus(N.eye(3, 4, k=1)), (3, 4)),
    "np_eye_square_lower": (_plus(N.eye(4, k=-2)), (2, 4, 4)),
    "np_identity": (_plus(N.identity(3)), (3, 3)),
    "np_linspace": (_plus(N.linspace(-1.0, 2.5, 7)), (2, 7)),
    "np_linspace_open_int": (_beside(N.linspace(0, 10, 4, endpoint=False, dtype="int32")), (2,)),
    "np_logspace": (_plus(N.logspace(0.5, 2.0, 5, base=2.0, endpoint=False)), (2, 5)),
    "np_indices": (_beside(N.indices((2, 3, 4))), (2,)),
    "np_hanning": (_plus(N.hanning(9)), (9,)),
    "np_hamming": (_plus(N.hamming(8)), (2, 8)),
    "np_blackman": (_plus(N.blackman(7)), (7,)),
    "np_blackman_one": (_plus(N.blackman(1)), (3,)),
    "np_full_like": (legacy(N.full_like(NP_DATA, 3.5)) + d, (2, 3)),
    "np_full_like_int": (_beside(N.full_like(NP_DATA, -2.7, dtype="int32")), (2, 3)),
})


def _index_var(name: str, values: list) -> tuple:
    """A variable holding exact index values (stored with the weights) and its CASE_INPUTS entry."""
    array = np.array(values, np.float32)
    return S.var(name, shape=array.shape), array


def _with_data(sym):
    """``sym`` grouped with an output of the data, for creation ops whose output type is no float32."""
    return S.Group([sym, d * 1.0])


def _as_written(sym, **attrs: str):
    """``sym`` with attribute strings of its last node that MXNet's Python API does not write (a type code)."""
    doc = json.loads(sym.tojson())
    doc["nodes"][-1].setdefault("attrs", {}).update(attrs)
    return S.load_json(json.dumps(doc))


_take_idx, _take_values = _index_var("idx", [[-1.5, 0.3], [2.9, 7.0]])
_wrap_idx, _wrap_values = _index_var("idx", [-7.5, -1.0, 4.2, 12.0])
_raise_idx, _raise_values = _index_var("idx", [0.0, 2.0, 1.5])
_pick_idx, _pick_values = _index_var("idx", [[-1.0, 5.0, 1.7, 0.2], [2.0, 2.9, -0.5, 1.0]])
_pick_kept_idx, _pick_kept_values = _index_var("idx", [[-1.0], [-5.5], [6.0]])
_onehot_idx, _onehot_values = _index_var("idx", [[-1.0, 0.0, 2.7], [3.0, 4.0, -0.5]])
_gather_idx, _gather_values = _index_var("idx", [[-1.0, 0.5, 2.0], [3.0, -4.0, -0.5]])
_gather_all_idx, _gather_all_values = _index_var("idx", [[1.0, -2.0], [2.0, 0.0], [-1.0, 2.5]])
_cond, _cond_values = _index_var("cond", [1.0, 0.0, -0.5])
CASES.update({
    "index_take_axis0_clip": (S.take(d, _take_idx, name="take"), (4, 3)),
    "index_take_neg_axis_wrap": (S.take(d, _wrap_idx, axis=-1, mode="wrap", name="take"), (2, 3, 5)),
    "index_take_raise_in_range": (S.take(d, _raise_idx, axis=1, mode="raise", name="take"), (2, 3, 4)),
    "index_take_computed_wrap": (S.take(d, S.floor(d * 4.0), axis=1, mode="wrap", name="take"), (2, 3)),
    # infinite and NaN indices become int64's lowest (x86): clipped to 0, wrapped to its remainder
    "index_take_infinite_clip": (S.take(d, S.reciprocal(S.floor(d * 2.0)), axis=-1, name="take"), (2, 5)),
    "index_take_nan_wrap": (S.take(d, S.sqrt(S.floor(d * 2.0)), axis=0, mode="wrap", name="take"), (3, 4)),
    "index_pick_nan_clip": (S.pick(d, S.sqrt(S.floor(S.sum(d, axis=0) * 2.0)), axis=0, name="pick"), (3, 4)),
    "index_pick_clip": (S.pick(d, _pick_idx, axis=1, name="pick"), (2, 3, 4)),
    "index_pick_wrap_keepdims": (S.pick(d, _pick_kept_idx, axis=-1, keepdims=True, mode="wrap", name="pick"), (3, 4)),
    "index_pick_argmax": (S.pick(d, S.argmax(d, axis=0), axis=0, name="pick"), (3, 4)),
    "index_one_hot_computed": (S.one_hot(S.floor(d * 3.0), depth=4, name="one_hot"), (2, 3)),
    "index_one_hot_int32": (S.one_hot(_onehot_idx + d * 0.0, depth=4, on_value=2.7, off_value=-1.0, dtype="int32",
                                      name="one_hot"), (2, 3)),
    "index_one_hot_float16": (S.one_hot(_onehot_idx + d * 0.0, depth=3, on_value=0.1, dtype="float16",
                                        name="one_hot"), (2, 3)),
    "index_gather_nd_leading": (S.gather_nd(d, _gather_idx, name="gather_nd"), (3, 4, 2)),
    "index_gather_nd_every_axis": (S.gather_nd(d, _gather_all_idx, name="gather_nd"), (2, 3, 4)),
    "index_where_same_shape": (S.where(S.floor(d * 2.0), d, d * 3.0, name="where"), (2, 3, 4)),
    "index_where_rows": (S.where(_cond, d, -d, name="where"), (3, 4)),
    "index_topk_indices": (S.topk(d, k=2, name="topk"), (2, 3, 5)),
    "index_topk_value_axis1_ascend": (S.topk(d, axis=1, k=2, ret_typ="value", is_ascend=True, name="topk"), (2, 4, 3)),
    # ties: MXNet's std::sort keeps the lower index first on up to 16 elements (beyond, its order is libstdc++'s)
    "index_topk_both_ties": (S.topk(S.floor(d * 2.0), k=3, ret_typ="both", name="topk"), (2, 6)),
    "index_topk_both_ties_ascend": (S.topk(S.floor(d * 2.0), k=4, ret_typ="both", is_ascend=True, name="topk"),
                                    (2, 6)),
    "index_topk_mask_axis0": (S.topk(d, axis=0, k=2, ret_typ="mask", name="topk"), (3, 4)),
    "index_topk_flat": (S.topk(d, axis=None, k=3, ret_typ="both", name="topk"), (2, 3, 2)),
    "index_topk_flat_mask": (S.topk(d, axis=None, k=4, ret_typ="mask", name="topk"), (2, 3)),
    "index_topk_every_k0": (S.topk(d, axis=-2, k=0, ret_typ="value", name="topk"), (2, 3, 2)),
    "index_topk_int32": (S.topk(d, k=2, dtype="int32", name="topk"), (3, 4)),
    "index_sort": (S.sort(d, name="sort"), (2, 3, 5)),
    "index_sort_descend_axis0": (S.sort(d, axis=0, is_ascend=False, name="sort"), (3, 4)),
    "index_sort_flat": (S.sort(d, axis=None, name="sort"), (2, 3)),
    "index_argsort_ties": (S.argsort(S.floor(d * 2.0), name="argsort"), (3, 5)),
    "index_argsort_ties_descend": (S.argsort(S.floor(d * 2.0), axis=1, is_ascend=False, name="argsort"), (2, 4, 2)),
    "index_argsort_flat_int32": (S.argsort(d, axis=None, dtype="int32", name="argsort"), (2, 3)),
    "index_shape_array": (S.shape_array(d, name="shape"), (2, 3, 4)),
    "index_size_array": (S.size_array(d, name="size"), (2, 3, 4)),
    "index_arange_repeat": (S.broadcast_add(d, S.arange(2, 7.5, 1.5, repeat=2, name="arange")), (3, 8)),
    "index_arange_no_stop": (S.broadcast_add(d, S.arange(5, name="arange")), (2, 5)),
    "index_arange_negative_step": (S.broadcast_add(d, S.arange(3, -1, -0.7, name="arange")), (1, 6)),
    "index_arange_int32": (_with_data(S.arange(-1.5, 4, 1.2, dtype="int32", name="arange")), (2, 3)),
    "index_arange_uint8_wraps": (_with_data(S.arange(-3.5, 5, 1.5, dtype="uint8", name="arange")), (2, 3)),
    "index_arange_float16": (_with_data(S.arange(0.1, 2, 0.3, dtype="float16", name="arange")), (2, 3)),  # zeros
    "index_arange_float16_whole": (_with_data(S.arange(-2.5, 9, 1.7, repeat=3, dtype="float16", name="arange")),
                                   (2, 3)),
    "index_arange_like": (S.contrib.arange_like(d, start=1, step=0.5, repeat=2, name="arange") + d, (3, 3)),
    "index_arange_like_axis": (S.broadcast_add(d, S.contrib.arange_like(d, axis=-1, start=-2, step=1.5,
                                                                        name="arange")), (2, 4)),
    "index_arange_like_negative_repeat": (S.contrib.arange_like(d, repeat=-2, step=0.7, name="arange"), (2, 3)),
    "index_zeros": (S.broadcast_add(d, S.zeros(shape=(1, 3), name="zeros")), (2, 3)),
    "index_zeros_without_dtype": (S.broadcast_add(d, S._internal._zeros_without_dtype(shape=(2, 1), name="zeros")),
                                  (2, 3)),
    "index_zeros_without_dtype_int32": (_with_data(_as_written(S._internal._zeros_without_dtype(shape=(3, 2),
                                                                                               name="zeros"), dtype="4")),
                                        (2, 3)),
    "index_ones": (S.broadcast_add(d, S.ones(shape=(2, 3), name="ones")), (2, 3)),
    "index_full": (S.broadcast_add(d, S.full(shape=(2, 1), val=2.5, name="full")), (2, 3)),
    "index_full_int32": (_with_data(S.full(shape=(2, 2), val=2.7, dtype="int32", name="full")), (2, 3)),
    "index_zeros_like": (S.zeros_like(d, name="zeros"), (2, 3)),
    "index_eye": (S.broadcast_add(d, S.eye(3, 4, k=2, name="eye")), (3, 4)),
    "index_eye_square_below_int32": (_with_data(S.eye(4, k=-1, dtype="int32", name="eye")), (2, 3)),
    "index_linspace": (S.broadcast_add(d, S.linspace(-2.0, 1.5, 6, name="linspace")), (2, 6)),
    "index_linspace_open_uint8": (_with_data(S.linspace(-1.0, 9.0, 4, endpoint=False, dtype="uint8",
                                                        name="linspace")), (2, 3)),
    "index_ones_like": (S.ones_like(d, name="ones") * 2.0 + d, (2, 3)),
})
CASE_INPUTS.update({
    "index_take_axis0_clip": {"idx": _take_values},
    "index_take_neg_axis_wrap": {"idx": _wrap_values},
    "index_take_raise_in_range": {"idx": _raise_values},
    "index_pick_clip": {"idx": _pick_values},
    "index_pick_wrap_keepdims": {"idx": _pick_kept_values},
    "index_one_hot_int32": {"idx": _onehot_values},
    "index_one_hot_float16": {"idx": _onehot_values},
    "index_gather_nd_leading": {"idx": _gather_values},
    "index_gather_nd_every_axis": {"idx": _gather_all_values},
    "index_where_rows": {"cond": _cond_values},
})
# MXNet's legacy and contrib index ops: indices as MXNet takes them (batch_take's int32, the others' floats),
# truncated; out-of-range indices where MXNet defines them (batch_take clips; (un)ravelling is arithmetic)
_batch_idx = S.var("idx", shape=(2, 3), dtype="int32")
_scatter_idx, _scatter_values = _index_var("idx", [[2.7, 0.0, 4.0]])
_scatter_cells, _scatter_cell_values = _index_var("idx", [[0.0, 2.0], [1.9, 0.0]])
_copy_idx, _copy_values = _index_var("idx", [2.9, 0.0])
CASES.update({
    "index_batch_take": (S.batch_take(d, _batch_idx, name="batch_take"), (6, 4)),
    "index_batch_take_2d": (S.batch_take(d, S.var("idx", shape=(3,), dtype="int32"), name="batch_take"), (3, 4)),
    "index_scatter_nd_rows": (S.scatter_nd(d, _scatter_idx, shape=(5, 4), name="scatter"), (3, 4)),
    "index_scatter_nd_cells": (S.scatter_nd(d, _scatter_cells, shape=(3, 2), name="scatter"), (2,)),
    "index_ravel_multi_index": (S.ravel_multi_index(S.floor(d * 4.0), shape=(3, 4), name="ravel"), (2, 5)),
    "index_ravel_multi_index_fractions": (S.ravel_multi_index(d * 4.0, shape=(2, 3, 5), name="ravel"), (3, 6)),
    "index_unravel_index": (S.unravel_index(S.floor(d * 20.0), shape=(2, 2, 3), name="unravel"), (8,)),
    "index_unravel_index_fractions": (S.unravel_index(d * 9.0, shape=(5, 3), name="unravel"), (6,)),
    "index_index_array": (S.contrib.index_array(d, name="index_array"), (2, 3, 4)),
    "index_index_array_axes": (S.contrib.index_array(d, axes=(-1, 0, -5), name="index_array"), (2, 3, 4)),
    "index_index_copy": (S.contrib.index_copy(d, _copy_idx, S.var("new", shape=(2, 3)), name="index_copy"),
                         (4, 3)),
})
CASE_INPUTS.update({
    "index_batch_take": {"idx": np.array([[0, 3, 1], [-2, 2, 9]], np.int32)},
    "index_batch_take_2d": {"idx": np.array([3, -1, 1], np.int32)},
    "index_scatter_nd_rows": {"idx": _scatter_values},
    "index_scatter_nd_cells": {"idx": _scatter_cell_values},
    "index_index_copy": {"idx": _copy_values},
})

# Sizes the data decides: masks keeping every row, none, some (NaN and -0.0 among them), and computed ones
_EDGES, _EDGE_VALUES = _index_var("edges", [-0.6, -0.2, 0.0, 0.1, 0.75])
CASE_INPUTS["np_histogram_given_edges"] = {"edges": _EDGE_VALUES}
_ASSIGN = N._internal  # NumPy's data[mask] = value
_ROWS = N.floor(N.sum(NP_DATA, axis=2) + 0.5)  # a (3, 4) mask of the (3, 4, 2) data, mixed
_KEEP3, _KEEP3_VALUES = _index_var("keep", [1.0, 0.0, -2.0, 0.5, 0.0])
CASE_INPUTS.update({case: {"keep": _KEEP3_VALUES} for case in ("np_mask_assign_ordered",
                                                               "np_mask_assign_ordered_axis1")})
_WHOLE = N.floor(NP_DATA * 3.0 + 3.0).astype("int32")  # 0..5
_MASKS = {"mixed": [0.0, 1.0, np.nan, -0.0, -2.5], "none": [0.0] * 5, "all": [1.0, -1.0, 0.5, 2.0, 3.0]}
for _kind, _values in _MASKS.items():
    _mask, _mask_values = _index_var("mask", _values)
    CASE_INPUTS[f"index_boolean_mask_{_kind}"] = {"mask": _mask_values}
    CASES[f"index_boolean_mask_{_kind}"] = (S.contrib.boolean_mask(d, _mask, name="mask_rows"), (5, 2, 3))
CASES.update({
    "index_boolean_mask_computed": (S.contrib.boolean_mask(d, S.floor(S.sum(d, axis=1)), name="mask_rows"),
                                    (6, 3)),
    "index_boolean_mask_then_relu": (S.relu(S.contrib.boolean_mask(d, S.floor(d * 2.0).reshape(-1)), name="relu"),
                                     (7, 1)),
    "np_boolean_mask": (legacy(N._internal.boolean_mask(NP_DATA, N.floor(N.sum(NP_DATA, axis=1)))), (6, 3)),
    "np_nonzero": (legacy(NX.nonzero(N.floor(NP_DATA * 2.0))), (3, 2, 4)),
    "np_nonzero_none": (legacy(NX.nonzero(N.floor(NP_DATA * 0.5 + 0.5))), (2, 3)),  # floor of [0, 1): 0
    "np_nonzero_all": (legacy(NX.nonzero(NP_DATA + 2.0)), (4,)),
    "np_nonzero_0d": (legacy(NX.nonzero(N.sum(N.floor(NP_DATA * 2.0)))), (3,)),
    # unique values of a few steps (ties), with every extra output, along an axis (rows of repeated steps), 0-d
    "np_unique": (legacy(N.unique(N.floor(NP_DATA * 2.0))), (3, 4)),
    "np_unique_every_output": (legacy_group(N.unique(N.floor(NP_DATA * 3.0), return_index=True, return_inverse=True,
                                                     return_counts=True)), (2, 3, 4)),
    "np_unique_counts_axis0": (legacy_group(N.unique(N.floor(NP_DATA + 0.5), axis=0, return_counts=True)), (8, 2)),
    "np_unique_index_axis_neg": (legacy_group(N.unique(N.floor(NP_DATA * 1.5), axis=-1, return_index=True,
                                                       return_inverse=True)), (2, 9)),
    "np_unique_0d": (legacy_group(N.unique(N.sum(NP_DATA), return_index=True, return_counts=True)), (3,)),
    # counts of whole numbers 0..5 (an int32 type), weighted; minlength above and below max + 1
    "np_bincount": (legacy(N.bincount(_WHOLE)), (7,)),
    "np_bincount_weights_minlength": (legacy(N.bincount(_WHOLE, weights=NP_DATA, minlength=9)), (7,)),
    "np_bincount_short_minlength": (legacy(N.bincount(_WHOLE, minlength=2)), (12,)),
    # histograms: equal bins (data on the edges: multiples of 0.2; an empty range widened), edges given (uneven)
    "index_histogram_edges_hit": (S.Group(list(S.histogram(S.floor(d * 5.0) / 5.0, bins=10, range=(-1.0, 1.0)))),
                                  (3, 8)),
    "np_histogram": (legacy_group(N.histogram(NP_DATA, bins=5, range=(-0.5, 0.7))), (4, 6)),
    "np_histogram_empty_range": (legacy_group(N.histogram(N.floor(NP_DATA * 2.0) / 4.0, bins=3, range=(0.0, 0.0))),
                                 (5, 2)),
    "np_histogram_given_edges": (legacy_group(N.histogram(NP_DATA, bins=_EDGES.as_np_ndarray())), (4, 5)),
    # data[mask] = value (MXNet writes in place: onto a copy of the data); masks from the data, all, none, mixed
    "np_mask_assign_scalar_rows": (legacy(_ASSIGN.boolean_mask_assign_scalar(NP_DATA * 1.0, _ROWS, value=2.5)),
                                   (3, 4, 2)),
    "np_mask_assign_scalar_axis1": (legacy(_ASSIGN.boolean_mask_assign_scalar(
        NP_DATA * 1.0, N.floor(N.sum(NP_DATA, axis=0) + 0.5), value=-0.1, start_axis=1)), (3, 4, 2)),
    "np_mask_assign_scalar_none": (legacy(_ASSIGN.boolean_mask_assign_scalar(
        NP_DATA * 1.0, N.floor(NP_DATA * 0.5 + 0.5), value=7.0)), (2, 3)),
    "np_mask_assign_scalar_all": (legacy(_ASSIGN.boolean_mask_assign_scalar(NP_DATA * 1.0, NP_DATA + 2.0, value=7.0)),
                                  (2, 3)),
    "np_mask_assign_one_value": (legacy(_ASSIGN.boolean_mask_assign_tensor(
        NP_DATA * 1.0, _ROWS, N.sum(NP_DATA, axis=(0, 1, 2), keepdims=True))), (3, 4, 2)),
    "np_mask_assign_broadcast": (legacy(_ASSIGN.boolean_mask_assign_tensor(
        NP_DATA * 1.0, N.floor(N.sum(NP_DATA, axis=(0, 2)) + 0.5), N.max(NP_DATA, axis=1), start_axis=1)), (3, 4, 2)),
    "np_mask_assign_row_broadcast": (legacy(_ASSIGN.boolean_mask_assign_tensor(
        NP_DATA * 1.0, N.floor(N.max(NP_DATA, axis=1) + 0.3), NP_DATA[:1] * 10.0)), (5, 3)),
    # the k-th masked position takes the k-th slice: as many slices as the (given) mask keeps
    "np_mask_assign_ordered": (legacy(_ASSIGN.boolean_mask_assign_tensor(
        NP_DATA * 1.0, _KEEP3.as_np_ndarray(), NP_DATA[:3] * 10.0)), (5, 3)),
    "np_mask_assign_ordered_axis1": (legacy(_ASSIGN.boolean_mask_assign_tensor(
        NP_DATA * 1.0, _KEEP3.as_np_ndarray(), NP_DATA[:, :3] * 10.0, start_axis=1)), (2, 5, 3)),
})
# ONNX operators MXNet's importer lacks, per case: the importer test skips these
INDEX_IMPORTER_SKIPS.update({
    **{f"index_arange_like{v}": "MXNet's importer has no Range" for v in ("", "_axis", "_negative_repeat")},
    **{f"index_gather_nd_{v}": "MXNet's importer has no GatherND" for v in ("leading", "every_axis")},
    **{f"index_{v}_like": "MXNet's importer has no Expand" for v in ("zeros", "ones")},
    **{f"index_topk_{v}": "MXNet's importer has no Expand or ScatterElements" for v in ("mask_axis0", "flat_mask")},
    **{f"index_{v}": "MXNet's importer has no ScatterND" for v in ("scatter_nd_rows", "scatter_nd_cells",
                                                                    "index_copy")},
    **{f"index_ravel_multi_index{v}": "MXNet's importer keeps the axis a Gather of a scalar index drops"
       for v in ("", "_fractions")},
    **{f"index_unravel_index{v}": "MXNet's importer binds int64 constants as floats (its int64 Div refuses them)"
       for v in ("", "_fractions")},
    **{f"index_index_array{v}": "MXNet's importer needs the data read (the positions are a constant of its sizes)"
       for v in ("", "_axes")},
    **{f"index_boolean_mask_{v}": "MXNet's importer has no Compress" for v in (*_MASKS, "computed", "then_relu")},
    "np_boolean_mask": "MXNet's importer has no Compress",
    **{f"np_nonzero{v}": "MXNet's importer has no NonZero" for v in ("", "_none", "_all", "_0d")},
    **{f"np_unique{v}": "MXNet's importer has no Unique"
       for v in ("", "_every_output", "_counts_axis0", "_index_axis_neg", "_0d")},
    **{f"np_bincount{v}": "MXNet's importer has no Range" for v in ("", "_weights_minlength", "_short_minlength")},
    **{case: "MXNet's importer mixes the double bin positions with float32" for case in (
        "index_histogram_edges_hit", "np_histogram", "np_histogram_empty_range")},
    "np_histogram_given_edges": "MXNet's importer pads 4-D and 5-D data only",
    **{f"np_mask_assign_ordered{v}": "MXNet's importer has no CumSum" for v in ("", "_axis1")},
})
# Random draws, compared by statistics (tests/test_random_ops.py): symbol, input shape (the data is zeros), inputs
_PROBABILITIES = np.log(np.array([[0.1, 0.2, 0.3, 0.4]], np.float32))
RANDOM_CASES.update({
    "index_random_normal": (S.broadcast_add(d, S.random.normal(loc=1.0, scale=2.0, shape=(200, 500), name="normal")),
                            (1, 500), {}),
    "index_random_uniform": (S.broadcast_add(d, S.random.uniform(low=-1.0, high=3.0, shape=(200, 500),
                                                                 name="uniform")), (1, 500), {}),
    "index_random_uniform_like": (S.random.uniform_like(d, low=2.0, high=5.0, name="uniform"),
                                  (200, 500), {}),
    **{f"index_sample_multinomial{'_prob' if prob else ''}": (
        S.sample_multinomial(S.softmax(S.broadcast_add(d, S.var("logits", shape=(1, 4)))), shape=(50,),
                             get_prob=prob, name="multinomial"), (400, 4), {"logits": _PROBABILITIES})
       for prob in (False, True)},
})
CASES.update({
    "np_diag_indices_from": (S.Group([legacy(N.diag_indices_from(NP_DATA)), d * 2.0]), (3, 3, 3)),
})
_set_idx, _set_values = _index_var("idx", [[0.0, 2.0, 1.7], [3.0, 0.0, 1.0]])
CASES.update({  # rows of the data replaced at (row, column) pairs, indices truncated
    "index_scatter_set_nd": (S._internal._scatter_set_nd(d * 2.0, S.var("value", shape=(3, 2)), _set_idx,
                                                         shape=(3, 4, 2), name="scatter"), (3, 4, 2)),
})
CASE_INPUTS["index_scatter_set_nd"] = {"idx": _set_values}
INDEX_IMPORTER_SKIPS["index_scatter_set_nd"] = "MXNet's importer has no ScatterND"

_quarters = S.floor(d * 4.0) / 4.0  # values on the edges, the range's bounds among them
CASES.update({
    "index_histogram_quarters_ints": (
        S.Group([*S._internal._histogram(_quarters, bin_cnt=4, range=(-1.0, 0.5)),
                 *S._internal._histogram(d, bin_cnt=3, range=(-0.3, 0.7)),
                 *S._internal._histogram(S.Cast(d * 4.0, dtype="int32"), bin_cnt=3, range=(-3.0, 3.0)),
                 *S._internal._histogram(S.Cast(d * 4.0, dtype="int32"), bin_cnt=2, range=(-2.5, 1.5))]), SHAPE),
    # sorted edges, and unsorted ones (MXNet searches from the first edge for the first above the value)
    "index_histogram_bins_unsorted": (S.Group([*S._internal._histogram(_quarters, S.var("bins", shape=(5,))),
                                               *S._internal._histogram(d, S.var("unsorted", shape=(4,)))]), SHAPE),
    "np_histogram_range": (S.Group(list(N.histogram(NP_DATA, bins=3, range=(-0.5, 0.75)))), NP_SHAPE),
})
CASE_INPUTS["index_histogram_bins_unsorted"] = {"bins": np.array([-0.75, -0.1, 0.0, 0.25, 0.5], np.float32),
                                                "unsorted": np.array([-0.5, 0.3, 0.0, 0.6], np.float32)}
INDEX_IMPORTER_SKIPS.update({case: "MXNet's importer mixes the double bin positions with float32" for case in (
    "index_histogram_quarters_ints", "index_histogram_bins_unsorted", "np_histogram_range")})
# integer data whose equal bins' edges repeat in int32: MXNet's first guess of a bin, moved by one at most
BOTH_REFUSE["index_histogram_repeated_edges_int"] = (
    S._internal._histogram(S.Cast(d * 2.0, dtype="int32"), bin_cnt=3, range=(0.0, 1.0), name="hist"), (3, 4),
    r"_histogram \[bin edges \[0, 0, 0, 1\] repeat in int32\] \(hist\)")
