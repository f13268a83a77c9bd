"""The resize family's per-op cases (``mxconvert/semantics/resize.py``): padding, resizing, upsampling, cropping,
adaptive and ROI pooling, MXNet's image ops.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

import numpy as np

from .common import S, d, mx
from .np_helpers import N, NP_DATA, NX, legacy

CASES: dict[str, tuple] = {}
INDEX_IMPORTER_SKIPS: dict[str, str] = {}
CASE_INPUTS: dict[str, dict] = {}

# id -> (symbol, input shape)
CASES.update({
    "upsampling": (S.UpSampling(d, scale=2, sample_type="nearest", name="up"), (1, 2, 3, 5)),
    "upsampling_multi": (S.UpSampling(d, S.Pooling(d, kernel=(2, 2), stride=(2, 2)), scale=2,
                                      sample_type="nearest", num_args=2, name="up"), (1, 2, 4, 6)),
    "crop_ref": (S.Crop(S.UpSampling(d, scale=2, sample_type="nearest"), d, num_args=2, name="crop"),
                 (1, 2, 5, 7)),
    "crop_offset": (S.Crop(d, offset=(1, 2), h_w=(3, 3), num_args=1, name="crop"), (1, 2, 6, 7)),
    "crop_center": (S.Crop(d, h_w=(3, 4), center_crop=True, num_args=1, name="crop"), (1, 2, 6, 7)),
})
CASES.update({
    "upsampling_sum": (S.UpSampling(d, S.Pooling(d, kernel=(2, 2), stride=(2, 2)), scale=2, sample_type="nearest",
                                    num_args=2, multi_input_mode="sum", name="up"), (1, 2, 4, 6)),
    "crop_fpn_odd": (S.Crop(S.UpSampling(S.Pooling(d, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max"),
                                         scale=2, sample_type="nearest", num_args=1), d, num_args=2, name="crop"),
                     (1, 2, 7, 9)),
    **{f"upsampling_scale{scale}": (S.UpSampling(d, scale=scale, sample_type="nearest", name="up"), (1, 2, 3, 4))
       for scale in (1, 3)},
    "upsampling_multi_scale3": (S.UpSampling(d, S.Pooling(d, kernel=(3, 3), stride=(3, 3)), scale=3,
                                             sample_type="nearest", num_args=2, name="up"), (1, 2, 3, 6)),
})
_resize = S.contrib.BilinearResize2D
CASES.update({
    "resize_pad_constant": (S.Pad(d, mode="constant", pad_width=(0, 0, 0, 0, 1, 2, 0, 3), constant_value=0.5,
                                  name="pad"), (1, 2, 3, 4)),
    "resize_pad_edge": (S.Pad(d, mode="edge", pad_width=(0, 0, 0, 0, 2, 1, 1, 2), name="pad"), (1, 2, 3, 4)),
    "resize_pad_reflect": (S.Pad(d, mode="reflect", pad_width=(0, 0, 0, 0, 2, 1, 1, 3), name="pad"), (2, 1, 3, 4)),
    "resize_pad_reflect_5d": (S.Pad(d, mode="reflect", pad_width=(0, 0, 0, 0, 1, 2, 2, 1, 0, 4), name="pad"),
                              (1, 2, 3, 4, 5)),
    "resize_pad_edge_5d": (S.Pad(d, mode="edge", pad_width=(0, 0, 0, 0, 0, 1, 3, 0, 2, 2), name="pad"),
                           (1, 1, 2, 3, 4)),
    "resize_pad_constant_5d": (S.pad(d, mode="constant", pad_width=(0, 0, 0, 0, 1, 1, 0, 2, 1, 0), name="pad"),
                               (1, 2, 2, 3, 2)),
    "resize_adaptive_global": (S.contrib.AdaptiveAvgPooling2D(d, name="pool"), (2, 3, 5, 7)),
    "resize_adaptive_one_value": (S.contrib.AdaptiveAvgPooling2D(d, output_size=3, name="pool"), (1, 2, 7, 5)),
    "resize_adaptive_two_values": (S.contrib.AdaptiveAvgPooling2D(d, output_size=(2, 4), name="pool"), (1, 2, 5, 9)),
    "resize_adaptive_larger": (S.contrib.AdaptiveAvgPooling2D(d, output_size=(5, 7), name="pool"), (1, 2, 3, 4)),
    "resize_bilinear_size": (_resize(d, height=5, width=7, name="resize"), (1, 2, 4, 3)),
    "resize_bilinear_size_half_pixel": (_resize(d, height=7, width=4, align_corners=False, name="resize"),
                                        (1, 2, 4, 6)),
    "resize_bilinear_scales": (_resize(d, scale_height=1.5, scale_width=0.5, name="resize"), (1, 2, 5, 6)),
    "resize_bilinear_scale_width_only": (_resize(d, scale_width=2.0, height=3, width=2, name="resize"),
                                         (1, 2, 5, 6)),
    "resize_bilinear_odd_scale": (_resize(d, mode="odd_scale", scale_height=2.0, scale_width=0.5,
                                          align_corners=False, name="resize"), (1, 2, 5, 6)),
    "resize_bilinear_like": (_resize(d, S.UpSampling(d, scale=2, sample_type="nearest", num_args=1), mode="like",
                                     align_corners=False, name="resize"), (1, 2, 3, 4)),
    **{f"resize_bilinear_{mode}": (_resize(d, mode=mode, align_corners=mode.endswith("up"), name="resize"),
                                   (1, 2, 5, 6))
       for mode in ("to_even_down", "to_even_up", "to_odd_down", "to_odd_up")},
    "resize_bilinear_one_row_half_pixel": (_resize(d, height=1, width=5, align_corners=False, name="resize"),
                                           (1, 2, 4, 6)),
    "resize_bilinear_one_pixel_corners": (_resize(d, height=1, width=1, name="resize"), (1, 2, 4, 6)),
    "resize_upsampling_bilinear": (S.UpSampling(d, scale=2, sample_type="bilinear", num_filter=3, num_args=2,
                                                name="up"), (1, 3, 4, 5)),
    "resize_upsampling_bilinear_odd": (S.UpSampling(d, scale=3, sample_type="bilinear", num_filter=2, num_args=1,
                                                    name="up"), (2, 2, 3, 2)),
    "resize_roi_pooling": (S.ROIPooling(d, S.var("rois", shape=(7, 5)), pooled_size=(2, 3), spatial_scale=0.5,
                                        name="roi"), (2, 3, 8, 9)),
    "resize_roi_pooling_unit_scale": (S.ROIPooling(d, S.var("rois", shape=(2, 5)), pooled_size=(3, 2),
                                                   spatial_scale=1.0, name="roi"), (1, 2, 5, 6)),
})
CASE_INPUTS.update({  # boxes hanging off the image, malformed (x2 < x1), wholly outside, of a missing image
    "resize_roi_pooling": {"rois": np.array([[0, 0, 0, 15, 13], [1, 2.4, 3.6, 12.5, 9.1], [1, -5, -3, 20, 30],
                                             [0, 14, 12, 3, 1], [0, 40, 40, 60, 50], [2, 1, 1, 4, 4],
                                             [-1, 1, 1, 4, 4]], np.float32)},
    "resize_roi_pooling_unit_scale": {"rois": np.array([[0, 0.5, 1.5, 4.5, 3.49], [0, 3, 0, 5, 4]], np.float32)},
})
_IMAGE = mx.sym.image
CASES.update({  # MXNet's image ops on HWC images (NHWC batches but for the flips), as npx spells them
    "np_image_to_tensor": (legacy(NX.image.to_tensor(NP_DATA)), (4, 5, 3)),
    "np_image_to_tensor_batch": (legacy(NX.image.to_tensor(NP_DATA)), (2, 4, 5, 1)),
    "np_image_normalize": (legacy(NX.image.normalize(NP_DATA, mean=(0.1, -0.2, 0.3), std=(0.5, 2.0, 3.0))), (3, 4, 5)),
    "np_image_normalize_one_value": (legacy(NX.image.normalize(NP_DATA, mean=0.25, std=0.5)), (2, 3, 4, 5)),
    "np_image_flip_left_right": (legacy(NX.image.flip_left_right(NP_DATA)), (3, 4, 3)),
    "np_image_flip_top_bottom": (legacy(NX.image.flip_top_bottom(NP_DATA)), (4, 5, 3)),
    "np_image_crop": (legacy(NX.image.crop(NP_DATA, x=1, y=2, width=3, height=2)), (2, 5, 6, 3)),
    "image_crop_legacy": (_IMAGE.crop(d, x=0, y=1, width=4, height=3), (4, 5, 1)),
    "np_image_adjust_lighting": (legacy(NX.image.adjust_lighting(NP_DATA, alpha=(0.1, -0.2, 0.3))), (4, 5, 3)),
})
_npi_pad = mx.sym.np._internal.pad  # np.pad's constant mode returns no symbol in MXNet 1.9.1
_INTS = (NP_DATA * 5.0).astype("int32")
CASES.update({  # NumPy's pad: any rank, widths past the axis's size (reflections repeat), last axis padded first
    "np_pad_constant": (S.Group([legacy(_npi_pad(NP_DATA, ((1, 0), (0, 2), (2, 1)), mode="constant", constant_value=0.5)),
                                 legacy(_npi_pad(_INTS, ((0, 1), (1, 1), (0, 0)), mode="constant", constant_value=-2.7)),
                                 legacy(_npi_pad(NP_DATA > 0, ((1, 1), (0, 0), (1, 0)), constant_value=0.5))]), (2, 3, 4)),
    "np_pad_edge": (legacy(N.pad(NP_DATA, ((1, 2), (0, 3), (2, 0)), mode="edge")), (2, 3, 4)),
    "np_pad_reflect": (legacy(N.pad(NP_DATA, ((3, 2), (5, 1), (0, 7)), mode="reflect")), (2, 3, 4)),
    "np_pad_reflect_size_one": (legacy(N.pad(NP_DATA, ((2, 1), (1, 2)), mode="reflect")), (1, 3)),
    "np_pad_symmetric": (legacy(N.pad(NP_DATA, ((4, 1), (2, 5), (1, 9)), mode="symmetric")), (2, 3, 4)),
    "np_pad_maximum": (legacy(N.pad(NP_DATA, ((1, 2), (2, 1), (0, 1)), mode="maximum")), (2, 3, 4)),
    "np_pad_minimum": (legacy(N.pad(NP_DATA, ((0, 1), (1, 0)), mode="minimum")), (3, 4)),
    "np_pad_1d": (legacy(N.pad(NP_DATA, ((2,), (3,)), mode="symmetric")), (4,)),
    # MXNet's kernels never read reflect_type: "odd" and any other text reflect NumPy's "even" way
    "np_pad_reflect_type_ignored": (S.Group([legacy(_npi_pad(NP_DATA, ((2, 1), (1, 2)), mode=mode, reflect_type=kind))
                                             for mode, kind in (("reflect", "odd"), ("symmetric", "0"))]), (2, 3)),
})
INDEX_IMPORTER_SKIPS["np_pad_constant"] = "MXNet's importer reads ONNX's Pad as its own, of 4-D and 5-D data only"
