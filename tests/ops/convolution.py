"""The convolution family's per-op cases (``mxconvert/semantics/convolution.py``): convolution, deconvolution,
deformable convolution and pooling (their legacy _v1 forms too).

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

from typing import Callable

from .common import S, d

CASES: dict[str, tuple] = {}
BOTH_REFUSE: dict[str, tuple] = {}
INDEX_IMPORTER_SKIPS: dict[str, str] = {}

def _conv(x, **kw):
    return S.Convolution(x, name="conv", **kw)


def _pool(**kw) -> Callable:
    return lambda x: S.Pooling(x, name="pool", **kw)


# id -> (symbol, input shape)
CASES.update({
    "conv_basic": (_conv(d, kernel=(3, 3), num_filter=4), (2, 3, 9, 9)),
    "conv_stride_pad_nobias": (_conv(d, kernel=(3, 3), num_filter=4, stride=(2, 2), pad=(1, 1), no_bias=True),
                               (1, 3, 10, 11)),
    "conv_groups_dilate": (_conv(d, kernel=(3, 3), num_filter=6, num_group=3, dilate=(2, 2), pad=(2, 2)),
                           (1, 6, 9, 9)),
    "conv_depthwise": (_conv(d, kernel=(3, 3), num_filter=4, num_group=4, pad=(1, 1)), (1, 4, 8, 8)),
    "conv_1x1_rect": (_conv(d, kernel=(1, 3), num_filter=5, stride=(1, 2)), (1, 2, 5, 9)),
    "conv1d": (_conv(d, kernel=(3,), num_filter=4, pad=(1,)), (2, 3, 10)),
    # one image: an MxnetPackedConv2d in PyTorch (to_torch.convolution.packed_convolution)
    "conv_dilate_one_image": (_conv(d, kernel=(3, 2), num_filter=4, dilate=(2, 3), pad=(2, 1), stride=(1, 2)),
                              (1, 3, 7, 9)),
    "pool_max_valid": (_pool(kernel=(3, 3), stride=(2, 2))(d), (1, 2, 9, 10)),
    "pool_max_valid_pad": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1))(d), (1, 2, 9, 10)),
    "pool_max_full_odd": (_pool(kernel=(3, 3), stride=(2, 2), pooling_convention="full")(d), (1, 2, 10, 11)),
    "pool_max_full_pad": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pooling_convention="full")(d),
                          (1, 2, 12, 13)),
    "pool_max_full_k2s2": (_pool(kernel=(2, 2), stride=(2, 2), pooling_convention="full")(d), (1, 2, 7, 9)),
    "pool_avg_valid": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg")(d), (1, 2, 9, 10)),
    "pool_avg_nopadcount": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                                  count_include_pad=False)(d), (1, 2, 9, 10)),
    "pool_avg_full": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                            pooling_convention="full")(d), (1, 2, 10, 11)),
    "pool_avg_full_nopadcount": (_pool(kernel=(3, 3), stride=(2, 2), pool_type="avg", count_include_pad=False,
                                       pooling_convention="full")(d), (1, 2, 10, 11)),
    "pool_sum": (_pool(kernel=(2, 2), stride=(2, 2), pool_type="sum")(d), (1, 2, 8, 8)),
    "pool_global_avg": (_pool(kernel=(7, 7), global_pool=True, pool_type="avg")(d), (2, 3, 5, 6)),
    "pool_global_max": (_pool(kernel=(1, 1), global_pool=True, pool_type="max")(d), (2, 3, 5, 6)),
    "pool_global_sum": (_pool(kernel=(1, 1), global_pool=True, pool_type="sum")(d), (2, 3, 5, 6)),
})


def _full(**kw):
    return _pool(pooling_convention="full", **kw)(d)


CASES.update({
    # windows that start in the padding or past the data: PyTorch's ceil_mode drops them, MXNet keeps them
    **{f"pool_full_edge_{kind}_{size}": (_full(kernel=(2, 2), stride=(2, 2), pad=(1, 1), pool_type=kind),
                                         (1, 2, size, size + 2))
       for kind in ("max", "avg", "sum") for size in (5, 6)},
    "pool_full_k1s3": (_full(kernel=(1, 1), stride=(3, 3), pool_type="max"), (1, 2, 6, 7)),
    "pool_full_avg_nopadcount_edge": (_full(kernel=(2, 2), stride=(2, 2), pad=(1, 1), pool_type="avg",
                                            count_include_pad=False), (1, 2, 7, 5)),
    "pool_full_sum_pad": (_full(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="sum"), (1, 2, 10, 11)),
    "pool_avg_valid_nopad_odd": (_pool(kernel=(3, 2), stride=(2, 3), pool_type="avg")(d), (2, 3, 11, 13)),
    "pool_1d_full": (_full(kernel=(2,), stride=(2,), pad=(1,), pool_type="max"), (2, 3, 9)),
    "pool_3d_avg": (_pool(kernel=(2, 2, 2), stride=(2, 2, 2), pool_type="avg")(d), (1, 2, 4, 5, 6)),
    "conv3d": (S.Convolution(d, kernel=(2, 3, 3), num_filter=3, pad=(0, 1, 1), name="conv"), (1, 2, 4, 5, 5)),
    # MXNet 0.x's convolution and pooling: avg divides every window by the whole kernel, even one overhanging
    "conv_v1_stride_pad": (S.Convolution_v1(d, kernel=(3, 3), num_filter=4, pad=(1, 1), stride=(2, 2), name="conv"),
                           (1, 3, 7, 8)),
    "conv_v1_groups_nobias": (S.Convolution_v1(d, kernel=(3, 2), num_filter=4, num_group=2, dilate=(2, 1),
                                               no_bias=True, name="conv"), (2, 4, 8, 6)),
    **{f"pool_v1_{kind}_{convention}": (S.Pooling_v1(d, kernel=(3, 3), stride=(2, 2), pad=pad, pool_type=kind,
                                                     pooling_convention=convention, name="pool"), (1, 2, 8, 7))
       for kind, pad in (("max", (0, 0)), ("avg", (1, 1)), ("sum", (1, 1))) for convention in ("valid", "full")},
    "pool_v1_avg_rect": (S.Pooling_v1(d, kernel=(2, 3), stride=(1, 2), pad=(1, 1), pool_type="avg", name="pool"),
                         (2, 3, 6, 7)),
    "pool_v1_global_avg": (S.Pooling_v1(d, kernel=(3, 3), global_pool=True, pool_type="avg", name="pool"),
                           (2, 3, 5, 7)),
    "pool_v1_global_max": (S.Pooling_v1(d, kernel=(1, 1), pad=(1, 1), global_pool=True, name="pool"), (1, 3, 5, 4)),
    # lp pooling: MXNet sums x^p (signed: p is 1, 2 or 3) over the same windows as sum pooling, then takes the root
    "pool_lp1_pad": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="lp", p_value=1)(d), (1, 2, 9, 10)),
    "pool_lp2": (_pool(kernel=(2, 2), stride=(2, 2), pool_type="lp", p_value=2)(d), (2, 3, 6, 8)),
    "pool_lp3_rect": (_pool(kernel=(2, 3), stride=(1, 2), pad=(1, 1), pool_type="lp", p_value=3)(d), (1, 2, 7, 9)),
    **{f"pool_lp{p}_full_edge": (_full(kernel=(2, 2), stride=(2, 2), pad=(1, 1), pool_type="lp", p_value=p),
                                 (1, 2, 5, 7)) for p in (1, 2, 3)},
    "pool_lp2_full_pad": (_full(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="lp", p_value=2), (1, 2, 10, 11)),
    **{f"pool_lp{p}_global": (_pool(kernel=(1, 1), global_pool=True, pool_type="lp", p_value=p)(d), (2, 3, 5, 6))
       for p in (1, 2, 3)},
    "pool_lp2_1d": (_pool(kernel=(3,), stride=(2,), pad=(1,), pool_type="lp", p_value=2)(d), (2, 3, 9)),
    "pool_lp3_3d": (_pool(kernel=(2, 2, 2), stride=(2, 2, 2), pool_type="lp", p_value=3)(d), (1, 2, 4, 5, 6)),
    # layouts given explicitly; channels last runs MXNet's own CPU kernels (not MKLDNN's)
    "pool_layout_ncw": (_pool(kernel=(3,), stride=(2,), layout="NCW")(d), (2, 3, 9)),
    "pool_layout_nchw": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg", layout="NCHW")(d),
                         (1, 2, 9, 10)),
    "pool_layout_ncdhw": (_pool(kernel=(2, 2, 2), stride=(2, 2, 2), layout="NCDHW")(d), (1, 2, 4, 5, 6)),
    "pool_nhwc_max": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), layout="NHWC")(d), (1, 9, 10, 2)),
    "pool_nhwc_avg_full": (_full(kernel=(2, 2), stride=(2, 2), pad=(1, 1), pool_type="avg", layout="NHWC"),
                           (1, 5, 7, 3)),
    "pool_nhwc_global_avg": (_pool(kernel=(1, 1), global_pool=True, pool_type="avg", layout="NHWC")(d), (2, 5, 6, 3)),
    "pool_nwc_sum": (_pool(kernel=(3,), stride=(2,), pad=(1,), pool_type="sum", layout="NWC")(d), (2, 9, 3)),
    "pool_ndhwc_lp2": (_pool(kernel=(2, 2, 2), stride=(2, 2, 2), pool_type="lp", p_value=2, layout="NDHWC")(d),
                       (1, 4, 5, 6, 2)),
    # a pad and a stride per axis
    "pool_max_asym": (_pool(kernel=(2, 3), stride=(1, 2), pad=(0, 1))(d), (1, 2, 7, 9)),
    "pool_avg_asym_nopadcount": (_pool(kernel=(2, 3), stride=(1, 2), pad=(0, 1), pool_type="avg",
                                       count_include_pad=False)(d), (1, 2, 7, 9)),
    "pool_sum_asym_full": (_full(kernel=(3, 2), stride=(2, 1), pad=(1, 0), pool_type="sum"), (1, 2, 8, 7)),
    # same: 1-D only; MXNet 1.9.1 runs it only with the pad spelled as three zeros, and only off MKLDNN (its max
    # and its avg where (size - kernel) % stride == 0 fail on MKLDNN): ceil(size / stride) windows from 0, clipped
    "pool_same_avg": (_pool(kernel=(3,), stride=(2,), pad=(0, 0, 0), pool_type="avg", pooling_convention="same")(d),
                      (2, 3, 10)),
    "pool_same_sum": (_pool(kernel=(4,), stride=(3,), pad=(0, 0, 0), pool_type="sum", pooling_convention="same")(d),
                      (2, 3, 10)),
    "pool_same_lp2": (_pool(kernel=(5,), stride=(2,), pad=(0, 0, 0), pool_type="lp", p_value=2,
                            pooling_convention="same")(d), (2, 3, 10)),
    **{f"pool_same_{kind}_nwc": (_pool(kernel=(5,), stride=(2,), pad=(0, 0, 0), pool_type=kind, layout="NWC",
                                       pooling_convention="same")(d), (2, 9, 3)) for kind in ("max", "avg")},
    "conv_dilate_rect": (_conv(d, kernel=(3, 3), num_filter=4, dilate=(1, 2), pad=(1, 2)), (1, 3, 8, 9)),
})


def _deformable(modulated: bool, kernel=(3, 3), groups: int = 1, deformable: int = 1, reach: float = 3.0, **kw):
    """A deformable convolution whose offsets (and mask) a convolution of the data computes, scaled by ``reach``
    so that many samples fall between pixels, past the last row and column, or outside the image."""
    taps = kernel[0] * kernel[1]
    out = dict(kernel=kernel, stride=kw.get("stride", (1, 1)), pad=kw.get("pad", (0, 0)),
               dilate=kw.get("dilate", (1, 1)))
    offset = S.Convolution(d, num_filter=2 * deformable * taps, name="offset_conv", **out) * reach
    if not modulated:
        return S.contrib.DeformableConvolution(d, offset, num_filter=4, num_group=groups,
                                               num_deformable_group=deformable, name="dcn", **kw, kernel=kernel)
    mask = S.sigmoid(S.Convolution(d, num_filter=deformable * taps, name="mask_conv", **out) * 2.0)
    return S.contrib.ModulatedDeformableConvolution(d, offset, mask, num_filter=4, num_group=groups,
                                                    num_deformable_group=deformable, name="dcn", **kw, kernel=kernel)


CASES.update({
    "dcn_v1_pad": (_deformable(False, pad=(1, 1)), (2, 4, 7, 6)),
    "dcn_v1_groups_stride_dilate_no_bias": (_deformable(False, groups=2, deformable=2, stride=(2, 2), dilate=(2, 1),
                                                        pad=(2, 1), no_bias=True), (1, 4, 9, 8)),
    "dcn_v1_rect_far": (_deformable(False, kernel=(2, 3), deformable=4, reach=8.0), (2, 4, 5, 6)),
    "dcn_v2_pad": (_deformable(True, pad=(1, 1)), (2, 4, 7, 6)),
    "dcn_v2_groups_stride_no_bias": (_deformable(True, groups=2, deformable=2, stride=(2, 2), pad=(1, 1),
                                                 no_bias=True), (1, 4, 9, 8)),
    "dcn_v2_rect_far": (_deformable(True, kernel=(3, 1), deformable=4, dilate=(2, 1), reach=8.0), (2, 4, 8, 5)),
})
# Graphs MXNet runs that neither target converts: symbol, input shape, the refusal (both targets say the same)
BOTH_REFUSE.update({
    "pool_v1_max_zero_padding": (S.Pooling_v1(d, kernel=(3, 3), pad=(1, 1), pool_type="max", name="pool"),
                                 (1, 2, 6, 7), r"Pooling_v1 \[max pooling over zero padding \(1, 1\)\] \(pool\)"),
})


def _deconv(x, **kw):
    return S.Deconvolution(x, name="deconv", **kw)


CASES.update({
    "nn_deconv2d": (_deconv(d, kernel=(3, 3), num_filter=4, no_bias=False), (2, 3, 4, 5)),
    "nn_deconv2d_stride_pad_adj": (_deconv(d, kernel=(3, 4), stride=(2, 3), pad=(1, 2), adj=(1, 2), num_filter=3),
                                   (1, 2, 4, 5)),
    "nn_deconv2d_groups_dilate": (_deconv(d, kernel=(3, 3), dilate=(2, 1), num_group=2, num_filter=4, pad=(1, 1),
                                          no_bias=False), (1, 4, 5, 4)),
    # MXNet's MKLDNN kernel runs target_shape only with the pad it implies given too
    "nn_deconv2d_target_shape": (_deconv(d, kernel=(4, 4), stride=(2, 2), target_shape=(10, 8), pad=(1, 2),
                                         num_filter=2), (1, 3, 5, 5)),
    "nn_deconv1d": (_deconv(d, kernel=(3,), stride=(2,), pad=(1,), adj=(1,), num_filter=3, no_bias=False), (2, 2, 7)),
    "nn_deconv1d_layout_ncw": (_deconv(d, kernel=(2,), stride=(3,), num_filter=2, layout="NCW"), (1, 3, 4)),
    "nn_deconv3d": (_deconv(d, kernel=(2, 3, 3), stride=(1, 2, 2), pad=(0, 1, 1), num_filter=2, no_bias=False),
                    (1, 2, 3, 4, 3)),
    "nn_conv1d_stride_dilate": (_conv(d, kernel=(3,), stride=(2,), dilate=(2,), pad=(2,), num_filter=3), (2, 4, 11)),
    "nn_conv3d_groups": (_conv(d, kernel=(3, 1, 3), stride=(2, 1, 1), num_group=2, num_filter=4, no_bias=True),
                         (1, 4, 5, 3, 5)),
})
CASES.update({  # im2col and col2im (2-D windows: MXNet 1.9.1's CPU kernels run no others); col2im sums overlaps
    "im2col_basic": (S.im2col(d, kernel=(2, 2), name="im2col"), (2, 3, 4, 5)),
    "im2col_stride_dilate_pad": (S.im2col(d, kernel=(3, 2), stride=(2, 1), dilate=(1, 2), pad=(1, 0), name="im2col"),
                                 (2, 2, 7, 6)),
    "col2im_overlaps": (S.col2im(d, output_size=(4, 5), kernel=(2, 3), name="col2im"), (2, 12, 9)),
    "col2im_stride_dilate_pad": (S.col2im(d, output_size=(7, 6), kernel=(3, 2), stride=(2, 1), dilate=(1, 2),
                                          pad=(1, 0), name="col2im"), (2, 12, 16)),
    "col2im_uneven_stride": (S.col2im(d, output_size=(6, 5), kernel=(2, 2), stride=(3, 2), pad=(1, 1),
                                      name="col2im"), (1, 4, 9)),
    "im2col_col2im": (S.col2im(S.im2col(d, kernel=(3, 3), pad=(1, 1), name="im2col"), output_size=(4, 4),
                               kernel=(3, 3), pad=(1, 1), name="col2im"), (1, 2, 4, 4)),
})
INDEX_IMPORTER_SKIPS.update({case: "MXNet's importer cannot run the decomposed deformable sampling (shape "
                                   "inference or Transpose fails there)" for case in CASES if case.startswith("dcn_")})
