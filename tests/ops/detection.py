"""The detection family's per-op cases (``mxconvert/semantics/detection.py``): detection post-processing (prefix
``det_``): boxes built from the data so that they overlap.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

import numpy as np

from .common import NX, S, d

CASES: dict[str, tuple] = {}
CASE_INPUTS: dict[str, dict] = {}
BOTH_REFUSE: dict[str, tuple] = {}
DETECTION_IMPORTER_SKIPS: dict[str, str] = {}

def _detections(x, classes: int = 4, tied: bool = False, malformed: bool = False, shift: float = 0.0):
    """Rows [id, score, x1, y1, x2, y2] from data in [-1, 1): ``classes`` ids, scores in [0, 1) (quarters when
    ``tied``), corners in [shift, 8 + shift) and sizes up to 6 (some negative when ``malformed``)."""
    u = (x + 1.0) * 0.5

    def column(i):
        return S.slice_axis(u, axis=-1, begin=i, end=i + 1)

    score = S.floor(column(1) * 4.0) * 0.25 if tied else column(1)
    low = S.concat(column(2), column(3), dim=-1) * 8.0 + shift
    size = (S.concat(column(4), column(5), dim=-1) - (0.2 if malformed else 0.0)) * 6.0
    return S.concat(S.floor(column(0) * float(classes)), score, low, low + size, dim=-1)


_nms = S.contrib.box_nms
_LAYOUT_ROWS = _detections(d, classes=3)
CASES.update({
    "det_box_nms_defaults_2d": (_nms(_detections(d), name="nms"), (20, 6)),
    "det_box_nms_classes": (_nms(_detections(d, classes=6), overlap_thresh=0.3, id_index=0, name="nms"), (2, 40, 6)),
    "det_box_nms_force_suppress": (_nms(_detections(d, classes=6), overlap_thresh=0.3, id_index=0,
                                        force_suppress=True, name="nms"), (2, 40, 6)),
    "det_box_nms_topk_valid_thresh": (_nms(_detections(d, classes=2), overlap_thresh=0.4, valid_thresh=0.4, topk=7,
                                           id_index=0, name="nms"), (2, 30, 6)),
    "det_box_nms_background": (_nms(_detections(d, classes=3), id_index=0, background_id=0, name="nms"), (2, 20, 6)),
    # more candidates than the generated module's 256 suppression rows a block
    "det_box_nms_blocks": (_nms(_detections(d, classes=3), overlap_thresh=0.3, id_index=0, name="nms"), (2, 600, 6)),
    # ties in score: MXNet's CPU sort is stable, so tied rows keep their order
    "det_box_nms_tied_scores": (_nms(_detections(d, classes=2, tied=True), overlap_thresh=0.2, id_index=0,
                                     name="nms"), (2, 30, 6)),
    "det_box_nms_batch_dims": (_nms(_detections(d, classes=3), overlap_thresh=0.3, id_index=0, topk=10, name="nms"),
                               (2, 3, 12, 6)),
    # negative widths (area 0) and a threshold of 0: any overlap suppresses
    "det_box_nms_malformed_zero_thresh": (_nms(_detections(d, malformed=True), overlap_thresh=0.0, name="nms"),
                                          (2, 20, 6)),
    # kept boxes left of 0 are not converted to the other format, as in MXNet
    "det_box_nms_center_in": (_nms(_detections(d, classes=2, shift=-3.0), in_format="center", id_index=0,
                                   name="nms"), (2, 20, 6)),
    "det_box_nms_center_out": (_nms(_detections(d, classes=2, shift=-3.0), out_format="center", id_index=0,
                                    overlap_thresh=0.3, name="nms"), (2, 20, 6)),
    "det_box_nms_none_valid": (_nms(_detections(d), valid_thresh=1.5, name="nms"), (2, 8, 6)),
    "det_box_nms_topk_zero_copies": (_nms(_detections(d), topk=0, name="nms"), (2, 8, 6)),
    # another row layout: corners first, then the score, the id and one more value
    "det_box_nms_layout": (_nms(S.concat(S.slice_axis(_LAYOUT_ROWS, axis=-1, begin=2, end=6),
                                         S.slice_axis(_LAYOUT_ROWS, axis=-1, begin=1, end=2),
                                         S.slice_axis(_LAYOUT_ROWS, axis=-1, begin=0, end=1),
                                         S.slice_axis(d, axis=-1, begin=0, end=1), dim=-1),
                                coord_start=0, score_index=4, id_index=5, overlap_thresh=0.3, name="nms"), (2, 15, 6)),
    "det_box_nms_alias": (S.contrib.box_non_maximum_suppression(_detections(d), overlap_thresh=0.3, topk=5,
                                                                name="nms"), (12, 6)),
})
_anchors = S.var("anchors", shape=(1, 4, 4))
_ANCHORS = np.array([[[0, 0, 4, 4], [1, 2, 6, 5], [2, 2, 3, 7], [3, 1, 3, 6]]], np.float32)  # the last 0 wide
_refs = S.var("refs", shape=(2, 3, 4))
_rois = S.var("rois", shape=(6, 5))
# boxes inside, hanging off the image, malformed (x2 < x1), wholly outside, smaller than a pixel, of image 1
_DET_ROIS = np.array([[0, 0, 0, 15, 13], [1, 2.4, 3.6, 12.5, 9.1], [0, -5, -3, 20, 30], [1, 14, 12, 3, 1],
                      [0, 40, 40, 60, 50], [1.7, 1, 1, 1.5, 1.2]], np.float32)
_encode = S.contrib.box_encode(d, S.var("matches", shape=(2, 4)), S.var("anchors", shape=(2, 4, 4)), _refs,
                               S.var("means", shape=(4,)), S.var("stds", shape=(4,)), name="enc")
CASES.update({
    "det_box_iou": (S.contrib.box_iou(S.slice_axis(_detections(d), axis=-1, begin=2, end=6), _anchors, name="iou"),
                    (2, 5, 6)),
    "det_box_iou_center": (S.contrib.box_iou(S.slice_axis(_detections(d), axis=-1, begin=2, end=6), _anchors,
                                             format="center", name="iou"), (7, 6)),
    "det_box_decode_center": (S.contrib.box_decode(d, _anchors + 1.0, name="dec"), (2, 4, 4)),
    "det_box_decode_corner_clip": (S.contrib.box_decode(d * 3.0, _anchors, std0=0.1, std1=0.1, std2=0.2, std3=0.3,
                                                        clip=0.5, format="corner", name="dec"), (2, 4, 4)),
    # samples above 0.5 are encoded; matches truncated, a negative one reads the previous entry's references
    "det_box_encode": (_encode, (2, 4)),
    "det_roi_align": (S.contrib.ROIAlign(d, _rois, pooled_size=(2, 3), spatial_scale=0.5, sample_ratio=2, name="roi"),
                      (2, 3, 8, 9)),
    "det_roi_align_position_sensitive": (S.contrib.ROIAlign(d, _rois, pooled_size=(2, 2), spatial_scale=0.25,
                                                            sample_ratio=3, position_sensitive=True, name="roi"),
                                         (2, 8, 5, 4)),
    "det_multibox_prior": (S.contrib.MultiBoxPrior(d, sizes=(0.3, 0.5), ratios=(1, 2, 0.5), clip=True, name="prior"),
                           (1, 2, 3, 5)),
    "det_multibox_prior_steps_offsets": (S.contrib.MultiBoxPrior(d, sizes=(0.2,), ratios=(1, 3), steps=(0.1, 0.2),
                                                                 offsets=(0.4, 0.6), name="prior"), (2, 2, 4, 3)),
})
CASE_INPUTS.update({
    "det_box_iou": {"anchors": _ANCHORS},
    "det_box_iou_center": {"anchors": _ANCHORS},
    "det_box_decode_center": {"anchors": _ANCHORS},
    "det_box_decode_corner_clip": {"anchors": _ANCHORS},
    "det_box_encode": {"matches": np.array([[0, 1, 2.7, -0.5], [-1, 2, 0, 1]], np.float32),
                       "anchors": np.array([[[0, 0, 4, 4], [1, 2, 6, 5], [2, 2, 3, 7], [3, 1, 4, 6]],
                                            [[1, 1, 2, 3], [0, 2, 5, 5], [2, 0, 6, 7], [1, 1, 4, 2]]], np.float32),
                       "refs": np.array([[[0, 0, 4, 4], [1, 2, 6, 5], [2, 1, 5, 3]],
                                         [[2, 2, 3, 7], [0, 1, 5, 5], [1, 1, 2, 2]]], np.float32),
                       "means": np.array([0, 0.1, 0, 0.2], np.float32),
                       "stds": np.array([0.1, 0.1, 0.2, 0.2], np.float32)},
    "det_roi_align": {"rois": _DET_ROIS},
    "det_roi_align_position_sensitive": {"rois": _DET_ROIS},
})

_psroi, _deformable = S.contrib.PSROIPooling, S.contrib.DeformablePSROIPooling
_offsets = S.var("trans", shape=(6, 2, 3, 3))
_class_offsets = S.var("trans", shape=(6, 4, 2, 2))
# rois with halves (rounded away from zero), negative corners and a far corner past the image
_PSROI_ROIS = np.array([[0, 0, 0, 15, 13], [1, 2.5, -3.5, 12.5, 9.1], [0, -5, -3, 20, 30], [1, 14, 12, 3, 1],
                        [0, 40, 40, 60, 50], [1.7, 1, 1, 1.5, 1.2]], np.float32)
CASES.update({
    "det_psroi_pooling": (_psroi(d, _rois, spatial_scale=0.5, output_dim=2, pooled_size=3, group_size=3,
                                 name="psroi"), (2, 18, 7, 8)),
    # fewer groups than bins, and channels past the groups (never read)
    "det_psroi_pooling_groups": (_psroi(d, _rois, spatial_scale=0.25, output_dim=3, pooled_size=4, group_size=2,
                                        name="psroi"), (2, 13, 5, 6)),
    "det_psroi_pooling_scale_one": (_psroi(d, _rois, spatial_scale=1.0, output_dim=1, pooled_size=2, group_size=2,
                                           name="psroi"), (2, 4, 16, 14)),
    "det_deformable_psroi_no_trans": (_deformable(d, _rois, spatial_scale=0.5, output_dim=2, pooled_size=3,
                                                  group_size=3, sample_per_part=2, no_trans=True, name="dpsroi"),
                                      (2, 18, 7, 8)),
    "det_deformable_psroi": (_deformable(d, _rois, _offsets, spatial_scale=0.5, output_dim=2, pooled_size=3,
                                         group_size=3, part_size=3, sample_per_part=3, trans_std=0.3, name="dpsroi"),
                             (2, 18, 7, 8)),
    # offsets per class (two classes of two channels), parts coarser than bins, groups coarser than parts
    "det_deformable_psroi_classes": (_deformable(d, _rois, _class_offsets, spatial_scale=0.25, output_dim=4,
                                                 pooled_size=3, group_size=2, part_size=2, sample_per_part=2,
                                                 trans_std=0.5, name="dpsroi"), (2, 17, 6, 5)),
    # part_size 0 (its default): as many parts as bins
    "det_deformable_psroi_part_zero": (_deformable(d, _rois, _offsets, spatial_scale=0.5, output_dim=2,
                                                   pooled_size=3, group_size=3, trans_std=0.2, name="dpsroi"),
                                       (2, 18, 7, 8)),
})
CASE_INPUTS.update({case: {"rois": _PSROI_ROIS} for case in CASES if "psroi" in case})

_rotated = S.var("rois", shape=(6, 6))
# rotated boxes [batch, centre x, y, width, height, degrees]: inside, about a corner, past the image, smaller than a
# pixel, of image 1 (index 1.7), turned by negative and large angles
_RROI_ROIS = np.array([[0, 8, 6, 10, 6, 0], [1, 3, 4, 12, 5, 30], [0, 0, 0, 20, 30, -45], [1, 30, 25, 8, 8, 90],
                       [0, 40, 40, 60, 50, 200], [1.7, 5, 5, 0.5, 0.3, -120]], np.float32)
CASES.update({
    "det_rroi_align": (S.contrib.RROIAlign(d, _rotated, pooled_size=(2, 3), spatial_scale=0.5, sampling_ratio=2,
                                           name="rroi"), (2, 3, 8, 9)),
    "det_rroi_align_scale_one": (S.contrib.RROIAlign(d, _rotated, pooled_size=(3, 3), spatial_scale=1.0,
                                                     sampling_ratio=1, name="rroi"), (2, 2, 12, 10)),
    "det_rroi_align_fine_grid": (S.contrib.RROIAlign(d, _rotated, pooled_size=(2, 2), spatial_scale=0.25,
                                                     sampling_ratio=3, name="rroi"), (2, 4, 6, 5)),
})
CASE_INPUTS.update({case: {"rois": _RROI_ROIS} for case in CASES if "rroi" in case})
BOTH_REFUSE.update({  # no sample a bin: MXNet's zeros
    "det_deformable_psroi_no_samples": (_deformable(d, _rois, spatial_scale=0.5, output_dim=2, pooled_size=3,
                                                    group_size=3, sample_per_part=0, no_trans=True, name="dpsroi"),
                                        (2, 18, 7, 8), "sample_per_part 0 outside 1 to 64"),
})
BOTH_REFUSE.update({  # MXNet's default: as many samples a bin as its size, read from each box at run time
    "det_rroi_align_adaptive_grid": (S.contrib.RROIAlign(d, _rotated, pooled_size=(2, 2), spatial_scale=0.5,
                                                         name="rroi"), (2, 3, 8, 9), "a grid sized by the box values"),
})

_match = S.contrib.bipartite_matching
_TIED = S.floor(d * 4.0) * 0.25  # scores in quarters: ties broken in index order
CASES.update({
    "det_bipartite_matching": (_match(d, threshold=0.1, name="match"), (2, 5, 4)),
    "det_bipartite_matching_ascend_ties": (_match(_TIED, is_ascend=True, threshold=0.3, name="match"), (2, 4, 6)),
    # topk 2 makes 3 matches, as MXNet counts them
    "det_bipartite_matching_topk": (_match(d, threshold=-0.5, topk=2, name="match"), (3, 6, 5)),
    "det_bipartite_matching_2d_ties": (_match(_TIED, threshold=-1.0, name="match"), (6, 7)),
    "det_bipartite_matching_batch_dims": (_match(d, threshold=0.0, topk=3, name="match"), (2, 2, 5, 6)),
})


def _multibox_detection(classes: int = 4, height: int = 4, width: int = 5, **kw):
    """MultiBoxDetection over (2, (classes + 4) x anchors) data: softmax probabilities, offsets and the anchors of
    MultiBoxPrior (3 a position) over a (height, width) map; with its input shape."""
    anchors = height * width * 3
    flat = S.reshape(d, shape=(2, -1))
    logits = S.reshape(S.slice_axis(flat, axis=1, begin=0, end=classes * anchors), shape=(2, classes, anchors))
    offsets = S.slice_axis(flat, axis=1, begin=classes * anchors, end=(classes + 4) * anchors)
    feature = S.reshape(S.slice_axis(flat, axis=1, begin=0, end=height * width), shape=(2, 1, height, width))
    priors = S.contrib.MultiBoxPrior(feature, sizes=(0.3, 0.6), ratios=(1, 2), name="prior")
    sym = S.contrib.MultiBoxDetection(S.softmax(logits * 3.0, axis=1), offsets, priors, name="det", **kw)
    return sym, (2, (classes + 4) * anchors)


CASES.update({
    "det_multibox_detection": _multibox_detection(),
    "det_multibox_detection_topk_threshold": _multibox_detection(nms_topk=7, threshold=0.3),
    "det_multibox_detection_force_no_clip": _multibox_detection(classes=6, force_suppress=True, nms_threshold=0.3,
                                                                clip=False),
    # nms_threshold outside (0, 1]: detections in anchor order, neither sorted nor suppressed
    "det_multibox_detection_no_nms": _multibox_detection(nms_threshold=0.0),
    "det_multibox_detection_variances": _multibox_detection(variances=(0.2, 0.1, 0.3, 0.25), threshold=0.5,
                                                            nms_threshold=1.0),
    "det_multibox_detection_background_only": _multibox_detection(classes=1),
    "det_multibox_detection_blocks": _multibox_detection(height=12, width=12),  # 432 anchors
})


def _proposal(batch: int = 1, height: int = 5, width: int = 6, **kw):
    """(Multi)Proposal over data (batch, 6 x anchors, height, width): softmax object scores and deltas, 6 anchors
    (scales 2 and 4 by 3 ratios) every 4 pixels; with its input shape."""
    anchors = 6
    scores = S.reshape(S.slice_axis(d, axis=1, begin=0, end=2 * anchors), shape=(batch, 2, anchors, height, width))
    scores = S.reshape(S.softmax(scores * 3.0, axis=1), shape=(batch, 2 * anchors, height, width))
    deltas = S.slice_axis(d, axis=1, begin=2 * anchors, end=6 * anchors) * 0.5
    op = S.contrib.MultiProposal if batch > 1 else S.contrib.Proposal
    sym = op(scores, deltas, S.var("im_info", shape=(batch, 3)), scales=(2, 4), ratios=(0.5, 1, 2), feature_stride=4,
             name="prop", **kw)
    return sym, (batch, 6 * anchors, height, width)


CASES.update({
    "det_proposal": _proposal(rpn_pre_nms_top_n=50, rpn_post_nms_top_n=20, rpn_min_size=2, threshold=0.5),
    # fewer proposals kept than rows: repeated from the first; small boxes widened and scored -1
    "det_proposal_repeats_min_size_scores": _proposal(rpn_pre_nms_top_n=50, rpn_post_nms_top_n=60, rpn_min_size=6,
                                                      threshold=0.3, output_score=True),
    "det_multi_proposal": _proposal(batch=2, rpn_pre_nms_top_n=-1, rpn_post_nms_top_n=30, rpn_min_size=3,
                                    threshold=0.6, output_score=True),
    "det_multi_proposal_blocks": _proposal(batch=2, height=10, width=8, rpn_pre_nms_top_n=-1, rpn_post_nms_top_n=50,
                                           rpn_min_size=2, threshold=0.6),  # 480 anchors
    "det_multi_proposal_iou_loss": _proposal(batch=2, height=4, width=4, rpn_pre_nms_top_n=40, rpn_post_nms_top_n=10,
                                             threshold=0.6, iou_loss=True),
})
CASE_INPUTS.update({  # image height, width and scale; the image smaller than the feature map in some
    "det_proposal": {"im_info": np.array([[20, 24, 1.0]], np.float32)},
    "det_proposal_repeats_min_size_scores": {"im_info": np.array([[15, 18, 0.5]], np.float32)},
    "det_multi_proposal": {"im_info": np.array([[20, 24, 1.0], [13, 21, 1.5]], np.float32)},
    "det_multi_proposal_blocks": {"im_info": np.array([[40, 32, 1.0], [29, 25, 1.0]], np.float32)},
    "det_multi_proposal_iou_loss": {"im_info": np.array([[16, 16, 1.0], [13, 11, 1.0]], np.float32)},
})
# SSD's training targets: given anchors and ground truths (a class of -1 ends a batch's rows; the third batch has
# none), the data as class predictions (3 classes)
_ANCHORS = np.array([[[0, 0, .5, .5], [.5, 0, 1, .5], [0, .5, .5, 1], [.5, .5, 1, 1], [.1, .1, .6, .6],
                      [.25, .25, .75, .75], [0, 0, 1, 1], [.6, .6, .9, .9]]], np.float32)
_TRUTHS = np.array([[[2, .05, .05, .55, .55], [0, .5, .5, 1, 1], [-1] * 5],
                    [[1, .2, .2, .8, .8], [-1] * 5, [-1] * 5], [[-1] * 5] * 3], np.float32)


def _multibox_target(**kw):
    target = S.contrib.MultiBoxTarget(S.var("anchors", shape=_ANCHORS.shape), S.var("truths", shape=_TRUTHS.shape), d,
                                      name="target", **kw)
    return target, (3, 3, 8)


_TARGET_CASES = {
    "det_multibox_target": {},
    "det_multibox_target_mining": {"overlap_threshold": 0.3, "negative_mining_ratio": 2.0,
                                   "negative_mining_thresh": 0.4, "ignore_label": -2.0},
    "det_multibox_target_matches_only": {"overlap_threshold": 0.0, "negative_mining_ratio": 1.5,
                                         "variances": (0.2, 0.1, 0.3, 0.4)},
    # matches * ratio past int32: MXNet's int conversion gives INT_MIN on x86, and no anchor is mined
    "det_multibox_target_mining_count_overflows": {"negative_mining_ratio": 1e9},
}
CASES.update({case: _multibox_target(**kw) for case, kw in _TARGET_CASES.items()})
CASES["np_multibox_target"] = (S.Group([part.as_nd_ndarray() for part in NX.multibox_target(
    S.var("anchors", shape=_ANCHORS.shape).as_np_ndarray(), S.var("truths", shape=_TRUTHS.shape).as_np_ndarray(),
    d.as_np_ndarray(), negative_mining_ratio=1.0, name="target")]), (3, 3, 8))
_TARGET_CASES["np_multibox_target"] = {}
CASE_INPUTS.update({case: {"anchors": _ANCHORS, "truths": _TRUTHS} for case in _TARGET_CASES})
# MXNet's own ONNX importer (tests/test_onnx_backends.py) cannot take these detection graphs back
_NO_LOOP = "MXNet's importer has no Loop (the greedy suppression or matching)"
_ZERO_D_GATHER = "MXNet's importer keeps the axis a 0-d Gather index removes"
_SUPPRESSING = ("det_box_nms", "det_multibox_detection", "det_proposal", "det_multi_proposal",
                "det_bipartite_matching")
DETECTION_IMPORTER_SKIPS.update({
    **{case: _NO_LOOP for case in CASES if case.startswith(_SUPPRESSING) and case != "det_box_nms_topk_zero_copies"},
    "det_multibox_detection_background_only": "MXNet's importer has no Expand",
    **{case: _ZERO_D_GATHER for case in ("det_box_decode_center", "det_box_decode_corner_clip", "det_box_encode")},
    **{case: "MXNet's importer has no Range (each roi's row of its image)"
       for case in ("det_roi_align", "det_roi_align_position_sensitive")},
    **{case: "MXNet's importer has no CumSum (the label rows before the first of class -1)" for case in _TARGET_CASES},
    **{case: "MXNet's importer's MatMul does not broadcast (the windows' row and column masks)"
       for case in CASES if case.startswith("det_psroi_pooling")},
    **{case: "MXNet's importer reads the int64 constants of the pixel indices as float32"
       for case in CASES if case.startswith("det_deformable_psroi")},
    **{case: "MXNet's importer reads the double constants of the angle's conversion as float32"
       for case in CASES if case.startswith("det_rroi_align")},
    **{case: "MXNet's importer has no Range (the anchors follow the live map size)"
       for case in ("det_multibox_prior", "det_multibox_prior_steps_offsets")},
})
