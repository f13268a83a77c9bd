"""The shape family's per-op cases (``mxconvert/semantics/shape.py``): shape and layout ops (prefix shape_): ranks 1
to 5, negative axes, None bounds, each mode; casts; NumPy's shape ops.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .common import S, d
from .np_helpers import N, NP_DATA, NX, legacy, legacy_group

CASES: dict[str, tuple] = {}
INDEX_IMPORTER_SKIPS: dict[str, str] = {}
ONNX_REFUSES: dict[str, str] = {}
CASE_INPUTS: dict[str, dict] = {}

# id -> (symbol, input shape)
CASES.update({
    "flatten": (S.Flatten(d, name="flat"), (2, 3, 4, 4)),
    "concat": (S.Concat(d, d * 2, dim=1, name="cat"), (2, 3, 4, 4)),
    "concat_axis3": (S.Concat(d, d + 1, d * 3, dim=3, name="cat"), (2, 3, 4, 2)),
    "reshape_codes_0_m1": (S.Reshape(d, shape=(0, 2, -1, 0), name="rs"), (2, 4, 3, 5)),
    "reshape_m2": (S.Reshape(d, shape=(0, -2), name="rs"), (2, 4, 3)),
    "reshape_m3": (S.Reshape(d, shape=(-3, -2), name="rs"), (2, 4, 3, 5)),
    "reshape_m4": (S.Reshape(d, shape=(0, -4, 2, -1, -2), name="rs"), (2, 6, 3)),
    "reshape_reverse": (S.Reshape(d, shape=(-1, 0), reverse=True, name="rs"), (2, 3, 4)),
    "slice_channel": (S.SliceChannel(d, num_outputs=3, axis=1), (2, 6, 3)),
    "slice_squeeze": (S.SliceChannel(d, num_outputs=3, axis=2, squeeze_axis=True), (2, 2, 3)),
    "transpose": (S.transpose(d, axes=(0, 2, 3, 1)), (2, 3, 4, 5)),
    "transpose_default": (S.transpose(d), (2, 3, 4)),
})
CASES.update({
    "reshape_m4_first_m1": (S.Reshape(d, shape=(0, -4, -1, 2, -2), name="rs"), (2, 6, 3)),
    "reshape_target_shape": (S.Reshape(d, target_shape=(0, 12), name="rs"), (2, 3, 4)),
    "multi_head_split": (S.Group([S.SliceChannel(d, num_outputs=2, name="split")[1], d * 2.0]), (2, 4, 3)),
    "concat_neg_dim": (S.Concat(d, d * 2, dim=-1, name="cat"), (2, 3, 4)),
    "concat_one_input": (S.Concat(d * 2, dim=1, name="cat"), (2, 3, 4)),  # Monodepth2's pose decoder: a copy
    "slice_neg_axis": (S.SliceChannel(d, num_outputs=2, axis=-1), (2, 3, 4)),
    "slice_neg_axis_squeeze": (S.SliceChannel(d, num_outputs=3, axis=-2, squeeze_axis=True), (2, 3, 2)),
})
_W = S.var("w", shape=(2, 1, 4))  # a weight as the second input of the *_like ops
CASES.update({
    "shape_expand_dims_first": (S.expand_dims(d, axis=0, name="ed"), (3,)),
    "shape_expand_dims_last_negative": (S.expand_dims(d, axis=-1, name="ed"), (2, 3, 4)),
    "shape_expand_dims_middle": (S.expand_dims(d, axis=2, name="ed"), (2, 1, 3, 2, 2)),
    "shape_squeeze_all": (S.squeeze(d, name="sq"), (1, 3, 1, 2)),
    "shape_squeeze_axes": (S.squeeze(d, axis=(0, -1), name="sq"), (1, 3, 1, 1)),
    "shape_squeeze_every_axis": (S.squeeze(d, name="sq"), (1, 1, 1)),
    "shape_slice_basic": (S.slice(d, begin=(0, 1), end=(2, 3), name="sl"), (3, 4, 5)),
    "shape_slice_none_negative": (S.slice(d, begin=(None, -3, 1), end=(-1, None, None), name="sl"), (3, 4, 5)),
    "shape_slice_steps": (S.slice(d, begin=(1, None, None), end=(None, None, 0), step=(2, -1, -2), name="sl"),
                          (5, 3, 6)),
    "shape_slice_clipped": (S.slice(d, begin=(-9, 7), end=(20, -9), step=(1, -3), name="sl"), (3, 8)),
    "shape_slice_1d_5d": (S.slice(S.slice(d, begin=(1,), end=(None,), name="a").reshape((2, 1, 3, 1, 2)),
                                  begin=(None, None, 2, None, None), end=(None, None, 0, None, None),
                                  step=(None, None, -1, 1, -1), name="sl"), (13,)),
    "shape_slice_alias_crop": (S.crop(d, begin=(0, 1), end=(1, 3), name="sl"), (2, 4)),
    "shape_slice_axis": (S.slice_axis(d, axis=1, begin=1, end=3, name="sa"), (2, 4, 3)),
    "shape_slice_axis_end_none": (S.slice_axis(d, axis=-1, begin=-2, end=None, name="sa"), (2, 3, 5)),
    "shape_slice_like_all": (S.slice_like(d, S.Pooling(d, kernel=(2, 2), stride=(2, 2)), name="sl"),
                             (1, 2, 5, 6)),
    "shape_slice_like_axes": (S.slice_like(d, _W, axes=(0, -1), name="sl"), (3, 2, 5)),
    "shape_reshape_like": (S.reshape_like(d, _W, name="rl"), (4, 2)),
    "shape_reshape_like_ranges": (S.reshape_like(d, S.var("w", shape=(5, 6, 2, 7)), lhs_begin=1, lhs_end=-1,
                                                 rhs_begin=1, rhs_end=3, name="rl"), (2, 12, 3)),
    "shape_reshape_like_tail": (S.reshape_like(d, S.var("w", shape=(3, 4)), lhs_begin=-2, rhs_begin=0,
                                               name="rl"), (2, 6, 2)),
    "shape_broadcast_to": (S.broadcast_to(d, shape=(3, 0, 4), name="bt"), (1, 2, 1)),
    "shape_broadcast_axis": (S.broadcast_axis(d, axis=(0, 2), size=(2, 3), name="ba"), (1, 4, 1)),
    "shape_broadcast_axes_alias": (S.broadcast_axes(d, axis=2, size=4, name="ba"), (2, 3, 1)),
    "shape_broadcast_like": (S.broadcast_like(d, S.var("w", shape=(2, 3, 4)), name="bl"), (1, 3, 1)),
    "shape_broadcast_like_axes": (S.broadcast_like(d, S.var("w", shape=(5, 4)), lhs_axes=(0, -1),
                                                   rhs_axes=(-1, 0), name="bl"), (1, 3, 1)),
    "shape_tile": (S.tile(d, reps=(2, 3), name="tile"), (2, 3)),
    "shape_tile_longer_reps": (S.tile(d, reps=(2, 1, 3), name="tile"), (2, 3)),
    "shape_tile_shorter_reps": (S.tile(d, reps=(2,), name="tile"), (2, 3, 2)),
    "shape_repeat_flat": (S.repeat(d, repeats=2, name="rep"), (2, 3)),
    "shape_repeat_axis": (S.repeat(d, repeats=3, axis=-2, name="rep"), (2, 3, 2)),
    "shape_stack": (S.stack(d, d * 2.0, d + 1.0, axis=1, name="stack"), (2, 3)),
    "shape_stack_last": (S.stack(d, S.exp(d), axis=-1, name="stack"), (2, 3)),
    "shape_split_v2_sections": (S.split_v2(d, 3, axis=1), (2, 7, 2)),
    "shape_split_v2_indices": (S.split_v2(d, (2, 3), axis=-1), (2, 3, 5)),
    "shape_split_v2_squeeze": (S.split_v2(d, 3, axis=0, squeeze_axis=True), (3, 2)),
    "shape_swapaxis": (S.SwapAxis(d, dim1=0, dim2=2, name="swap"), (2, 3, 4)),
    "shape_swapaxes_negative": (S.swapaxes(d, dim1=-1, dim2=1, name="swap"), (2, 3, 4, 5)),
    "shape_reverse": (S.reverse(d, axis=(0, 2), name="rev"), (2, 3, 4)),
    "shape_flip_twice": (S.flip(d, axis=(1, 1, 0), name="rev"), (2, 3)),
    "shape_depth_to_space": (S.depth_to_space(d, block_size=2, name="d2s"), (1, 8, 2, 3)),
    "shape_space_to_depth": (S.space_to_depth(d, block_size=2, name="s2d"), (2, 3, 4, 6)),
    "shape_space_depth_round_trip": (S.depth_to_space(S.space_to_depth(d, block_size=3), block_size=3,
                                                      name="d2s"), (1, 2, 3, 6)),
    "shape_block_grad": (S.BlockGrad(d * 2.0, name="bg") + S.stop_gradient(d, name="sg"), (2, 3)),
})


def _twice(sym):
    """``sym`` times two through MXNet's own op (the NumPy arithmetic is another family's)."""
    return (sym.as_nd_ndarray() * 2.0).as_np_ndarray()


CASES.update({
    "np_reshape": (legacy(N.reshape(NP_DATA, (3, -1, 2))), (2, 3, 4)),
    "np_reshape_flat": (legacy(N.reshape(NP_DATA, -1)), (2, 3, 4)),
    "npx_reshape_codes": (legacy(NX.reshape(NP_DATA, (-2, -5, -1))), (2, 3, 4, 5)),
    "npx_reshape_copy_rest_split": (legacy(NX.reshape(NP_DATA, (-6, 2, -1, -4))), (4, 3, 5)),
    "npx_reshape_reverse": (legacy(NX.reshape(NP_DATA, (-1, -2), reverse=True)), (2, 3, 4)),
    "np_transpose_default": (legacy(N.transpose(NP_DATA)), (2, 3, 4)),
    "np_transpose_negative": (legacy(N.transpose(NP_DATA, (-1, 0, -2))), (2, 3, 4)),
    "np_moveaxis": (legacy(N.moveaxis(NP_DATA, [0, 1], [-1, 0])), (2, 3, 4, 5)),
    "np_squeeze_axis": (legacy(N.squeeze(NP_DATA, axis=-1)), (2, 3, 1)),
    "np_squeeze_to_0d": (legacy(N.squeeze(NP_DATA)), (1, 1)),
    "np_atleast_3d": (legacy_group(N.atleast_3d(NP_DATA, N.reshape(NP_DATA, -1), S.sum(d, axis=(0, 1)).as_np_ndarray())), (2, 3)),
    "np_atleast_2d_1d": (legacy_group(N.atleast_2d(N.reshape(NP_DATA, -1), NP_DATA)), (2, 3)),
    "np_atleast_1d": (legacy(N.atleast_1d(NP_DATA)), (4,)),
    "np_concatenate_negative": (legacy(N.concatenate([NP_DATA, _twice(NP_DATA)], axis=-1)), (2, 3)),
    "np_stack": (legacy(N.stack([NP_DATA, _twice(NP_DATA)], axis=-1)), (2, 3)),
    "np_vstack_1d_2d": (legacy(N.vstack([N.reshape(NP_DATA, -1), N.reshape(NP_DATA, (1, 6))])), (2, 3)),
    "np_hsplit_2d": (legacy_group(N.hsplit(NP_DATA, [1, 3])), (2, 5)),
    "np_hsplit_1d": (legacy_group(N.hsplit(NP_DATA, 2)), (4,)),
    "np_dsplit": (legacy_group(N.dsplit(NP_DATA, 2)), (2, 3, 4)),
    "np_flip_axis": (legacy(N.flip(NP_DATA, 2)), (2, 3, 4)),
    "np_flip_every_axis": (legacy(N.flip(NP_DATA)), (2, 3)),
    "np_roll_flat": (legacy(N.roll(NP_DATA, 4)), (2, 3)),
    "np_roll_axes": (legacy(N.roll(NP_DATA, (7, -2), axis=(0, -1))), (3, 4, 5)),
    "np_rot90": (legacy(N.rot90(NP_DATA)), (2, 3, 4)),
    "np_rot90_k3_axes": (legacy(N.rot90(NP_DATA, 3, axes=(-1, 0))), (2, 3, 4)),
    "np_rot90_k2": (legacy(N.rot90(NP_DATA, -2, axes=(1, 2))), (2, 3, 4)),
    "np_broadcast_to": (legacy(N.broadcast_to(NP_DATA, (2, 3, 4))), (3, 1)),
})
CASES.update({  # NumPy's triangles and diagonals, and column_stack (Concat on axis 1)
    "np_tril": (legacy(N.tril(NP_DATA, -1)), (2, 3, 4)),
    "np_tril_1d": (legacy(N.tril(NP_DATA, 1)), (4,)),
    "np_diag_extract": (legacy(N.diag(NP_DATA, 1)), (3, 4)),
    "np_diag_make": (legacy(N.diag(NP_DATA, -2)), (3,)),
    "np_diagflat": (legacy(N.diagflat(NP_DATA, 1)), (2, 2)),
    "np_diagonal": (legacy(N.diagonal(NP_DATA, offset=-1, axis1=2, axis2=0)), (3, 4, 5)),
    "np_trace": (legacy(N.trace(NP_DATA, offset=1, axis1=1, axis2=-1)), (2, 3, 4)),
    "np_trace_2d": (legacy(N.trace(NP_DATA)), (3, 3)),
    "np_column_stack": (legacy(N.column_stack([NP_DATA, _twice(NP_DATA)])), (2, 3)),
})
CASES.update({  # MXNet's own diag: a matrix from a vector, else the diagonal of two axes (last in the output)
    "shape_diag_make": (S.diag(d, k=-1, name="diag"), (3,)),
    "shape_diag_make_above": (S.diag(d, k=2, name="diag"), (2,)),
    "shape_diag_2d": (S.diag(d, k=1, name="diag"), (3, 4)),
    "shape_diag_nd_negative_axes": (S.diag(d, k=-1, axis1=-1, axis2=0, name="diag"), (3, 4, 5)),
    "shape_diag_nd_below": (S.diag(d, k=-2, axis1=1, axis2=2, name="diag"), (2, 4, 3)),
})
_INTS = (NP_DATA * 5.0).astype("int32")
CASES.update({
    "np_diff": (S.Group([N.diff(NP_DATA), N.diff(NP_DATA, n=2, axis=0), N.diff(NP_DATA, n=3, axis=-2), N.diff(NP_DATA, n=0),
                         N.diff(_INTS, axis=1), N.diff(NP_DATA, n=4, axis=2)]), (3, 4, 5)),
})
_assign = S._internal
CASES.update({  # slice's region replaced: steps of either sign, None bounds, a scalar in integer data
    "shape_slice_assign": (_assign._slice_assign(d, S.var("w", shape=(2, 2, 3)), begin=(0, -1, None), end=(2, None, None),
                                                 step=(None, -2, 2), name="assign"), (3, 4, 5)),
    "shape_slice_assign_scalar": (S.Group([_assign._slice_assign_scalar(d, scalar=2.5, begin=(1,), end=(None,), step=(2,)),
                                           _assign._slice_assign_scalar(S.Cast(d * 5.0, dtype="int32"), scalar=-2.7,
                                                                        begin=(None, 3), end=(-1, 0), step=(1, -1))]),
                                  (4, 5)),
})
CASES.update({  # ediff1d: arrays (any shape, flattened) or scalars (truncated for integer data) around the differences
    "np_ediff1d": (S.Group([N.ediff1d(NP_DATA), N.ediff1d(NP_DATA, to_begin=1.5), N.ediff1d(NP_DATA, to_end=-2.0),
                            N.ediff1d(NP_DATA, to_begin=_twice(NP_DATA), to_end=N.reshape(NP_DATA, -1)),
                            N.ediff1d(_INTS, to_begin=2.7, to_end=_INTS)]), (2, 3)),
})
# Casts: data scaled past each integer type's range (wrapping, int32 and int64 overflow), exact halves; float16
# and bfloat16 results are cast back to float32 (NumPy has no bfloat16) and clipped (float16 overflows to inf)
_CAST_INPUTS = {"int8": d * 300.0, "uint8": d * 300.0, "int32": d * 4e9, "int64": d * 1e19, "bool": S.round(d * 2.0),
                "float64": d, "float32": d}


class _AmpCastKept(S.Symbol):
    """A symbol whose JSON keeps its amp_cast nodes (``tojson`` drops them by default, as checkpoints do)."""

    __slots__ = ()

    def tojson(self, remove_amp_cast: bool = False) -> str:
        return super().tojson(remove_amp_cast=remove_amp_cast)


def amp_cast_kept(source, dtype: str, name: str = "cast"):
    """``amp_cast`` that stays in the symbol's JSON."""
    cast = S.amp_cast(source, dtype=dtype, name=name)
    cast.__class__ = _AmpCastKept
    return cast


def narrow_float(cast: Callable, dtype: str, scale: float):
    """``cast`` of the scaled data to float16 or bfloat16, read back as float32 and clipped to finite values."""
    clipped = S.clip(S.Cast(cast(d * scale, dtype=dtype), dtype="float32"), a_min=-1e5, a_max=1e5, name="clip")
    clipped.__class__ = _AmpCastKept
    return clipped


def _multicast_kept(*inputs, **attrs):
    """Every output of ``amp_multicast`` of ``inputs``, kept in the symbol's JSON."""
    group = S.Group(list(S.amp_multicast(*inputs, num_outputs=len(inputs), name="multicast", **attrs)))
    group.__class__ = _AmpCastKept
    return group


CASES.update({f"shape_cast_{dtype}": (S.Cast(source, dtype=dtype, name="cast"), (2, 3, 4))
              for dtype, source in _CAST_INPUTS.items()})
CASES.update({
    "shape_cast_float16": (narrow_float(S.Cast, "float16", 7e4), (2, 3, 4)),
    "shape_cast_bfloat16": (narrow_float(S.Cast, "bfloat16", 3.0), (2, 3, 4)),
    "shape_amp_cast_float16": (narrow_float(amp_cast_kept, "float16", 7e4), (2, 3, 4)),
    "shape_amp_cast_float32": (amp_cast_kept(d, "float32"), (2, 3, 4)),
    # float32, float64 and int32 inputs (MXNet's CPU kernel fails on float16 ones): float64 and int32 keep their types
    "shape_amp_multicast": (_multicast_kept(d, S.Cast(d * 2.0, dtype="float64"), S.exp(d),
                                            S.Cast(d * 5.0, dtype="int32")), (2, 3, 4)),
    "shape_amp_multicast_narrow": (_multicast_kept(S.Cast(d, dtype="float64"), d * 3.0, cast_narrow=True), (2, 3, 4)),
    "shape_cast_ties": (S.cast(S.floor(d * 4.0) + 0.5, dtype="int32", name="cast"), (2, 3, 4)),
})
CASES.update({  # Reshape codes beyond the reshape_* cases (test_shape_ops has those whose output MXNet shortens)
    "shape_reshape_reverse_m2_m3": (S.Reshape(d, shape=(-2, -3), reverse=True, name="rs"), (2, 3, 4, 5)),
    "shape_reshape_reverse_m4": (S.Reshape(d, shape=(0, -1, 2, -4), reverse=True, name="rs"), (6, 4)),
    "shape_reshape_keep_highest": (S.Reshape(d, target_shape=(5, 0), keep_highest=True, name="rs"), (2, 3, 4)),
})
ONNX_REFUSES.update({
    "shape_cast_bfloat16": r"Cast \[Cast to bfloat16 \(MXNet truncates.*\]",
})
CASES.update({  # a split into one part, as Faster R-CNN splits its batch of one image
    "det_split_one_part": (S.SliceChannel(d, num_outputs=1, axis=0, name="split") * 2.0, (1, 3, 4)),
    "det_split_one_part_squeezed": (S.SliceChannel(d, num_outputs=1, axis=1, squeeze_axis=True, name="split") * 2.0,
                                    (2, 1, 4)),
})
INDEX_IMPORTER_SKIPS.update({case: "MXNet's importer has no ScatterND"
                            for case in ("shape_slice_assign", "shape_slice_assign_scalar")})


def _np_var(name: str, shape: tuple[int, ...]):
    return S.var(name, shape=shape).as_np_ndarray()


_INDEX = _np_var("obj", (4,))  # int64 indices, stored with the weights
# indices read from the data as it runs: -3..2 (three, one 0-d)
_ROW_INDEX, _ONE_INDEX = N.floor(N.sum(NP_DATA, axis=0)).astype("int64"), N.floor(N.mean(NP_DATA) * 3.0).astype("int64")
_insert_tensor = N._internal.insert_tensor  # np.insert's index tensor with a scalar (the frontend cannot pass one)
CASES.update({  # NumPy's insert, MXNet's shapes: an int index moves the values' first axis to the axis
    "np_insert_int_moved": (legacy_group([N.insert(NP_DATA, 3, _np_var("v", (4, 2, 3)), axis=2),
                                          N.insert(NP_DATA, -2, _np_var("w", (1, 1, 3)), axis=-2)]), (2, 3, 3)),
    # axis None: the data flattened (MXNet infers a variable fed straight in as flat, hence an op before)
    "np_insert_int_flat": (legacy_group([N.insert(_twice(NP_DATA), -1, _np_var("v", (2,))),
                                         N.insert(_twice(NP_DATA), 6, 2.5)]), (2, 3)),
    "np_insert_slices": (legacy_group([N.insert(NP_DATA, slice(None, None, -1), _np_var("v", (3,)), axis=-1),
                                       N.insert(NP_DATA, slice(0, 3, 2), _np_var("w", (2, 1)), axis=1),
                                       N.insert(NP_DATA, slice(1, 2), _np_var("u", (2, 2)), axis=1),
                                       N.insert(_twice(NP_DATA), slice(-9, 1), -1.5),
                                       N.insert(NP_DATA, slice(3, 1), _np_var("e", (3,)), axis=0)]), (2, 3)),
    "np_insert_tensor_stored": (legacy(N.insert(NP_DATA, _INDEX, _np_var("v", (4, 2)), axis=0)), (3, 2)),
    "np_insert_tensor_from_data": (legacy_group([N.insert(NP_DATA, _ROW_INDEX, _np_var("v", (1, 1)), axis=1),
                                                 N.insert(NP_DATA, _ONE_INDEX, _np_var("w", (2, 3)), axis=0),
                                                 N.insert(NP_DATA, N.reshape(_ONE_INDEX, (1,)), _np_var("u", (3, 2)),
                                                          axis=1),
                                                 _insert_tensor(N.reshape(NP_DATA, -1), obj=_ONE_INDEX, val=4.5,
                                                                axis=0)]), (3, 3)),
    "np_insert_integers": (legacy(N.insert((NP_DATA * 5.0).astype("int32"), slice(0, 2), _np_var("v", (2,)) * 3.0,
                                           axis=0)), (3, 2)),
})
CASE_INPUTS["np_insert_tensor_stored"] = {"obj": np.array([3, -1, 0, -1], np.int64)}
INDEX_IMPORTER_SKIPS.update({case: "MXNet's importer binds int64 constants as float32 (the index tensor's arithmetic)"
                             for case in ("np_insert_tensor_stored", "np_insert_tensor_from_data")})
