"""Detection post-processing: box_nms, box_iou, box_encode, box_decode, ROIAlign, MultiBoxPrior,
MultiBoxDetection, (Multi)Proposal, MultiBoxTarget (SSD's training targets) and bipartite_matching; the research
detectors' PSROIPooling, DeformablePSROIPooling and RROIAlign: schemas, output shapes and the anchors, limits and bin
layouts both emitters share."""
from __future__ import annotations

import math

import numpy as np

from ..ir import Graph, Node, TensorRef
from .rules import Shape, ShapeError, expect, shape_rule
from .schema import (OpDef, REQUIRED, alias, choice, define, in_range, parse_bool, parse_float32, parse_float32_tuple,
                     parse_int, parse_shape, positive_sizes)

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
BOX_FORMATS = ("corner", "center")


_BOX_FORMAT_CORNER = (choice(*BOX_FORMATS), "corner")


_PROPOSAL = OpDef({"rpn_pre_nms_top_n": (parse_int, 6000), "rpn_post_nms_top_n": (parse_int, 300),
                   "threshold": (parse_float32, 0.7), "rpn_min_size": (parse_int, 16),
                   "scales": (parse_float32_tuple, (4.0, 8.0, 16.0, 32.0)),
                   "ratios": (parse_float32_tuple, (0.5, 1.0, 2.0)), "feature_stride": (parse_int, 16),
                   "output_score": (parse_bool, False), "iou_loss": (parse_bool, False)},
                  outputs=lambda a: 2 if a["output_score"] else 1)


define({
    "_contrib_box_nms": OpDef({
        "overlap_thresh": (parse_float32, 0.5), "valid_thresh": (parse_float32, 0.0), "topk": (parse_int, -1),
        "coord_start": (parse_int, 2), "score_index": (parse_int, 1), "id_index": (parse_int, -1),
        "background_id": (parse_int, -1), "force_suppress": (parse_bool, False),
        "in_format": _BOX_FORMAT_CORNER, "out_format": _BOX_FORMAT_CORNER},
        outputs=lambda a: 2),  # the kept rows' input positions follow, hidden (MXNet keeps them for backward)
    "_contrib_box_iou": OpDef({"format": _BOX_FORMAT_CORNER}),
    "_contrib_box_encode": OpDef(outputs=lambda a: 2),
    "_contrib_box_decode": OpDef({**{f"std{i}": (parse_float32, 1.0) for i in range(4)},
                                  "clip": (parse_float32, -1.0), "format": (choice(*BOX_FORMATS), "center")}),
    "_contrib_ROIAlign": OpDef({"pooled_size": (positive_sizes(parse_shape), REQUIRED),
                                "spatial_scale": (in_range(parse_float32, 0.0, 1.0), REQUIRED),
                                "sample_ratio": (parse_int, -1), "position_sensitive": (parse_bool, False),
                                "aligned": (parse_bool, False)}),
    "_contrib_MultiBoxPrior": OpDef({"sizes": (parse_float32_tuple, (1.0,)), "ratios": (parse_float32_tuple, (1.0,)),
                                     "clip": (parse_bool, False), "steps": (parse_float32_tuple, (-1.0, -1.0)),
                                     "offsets": (parse_float32_tuple, (0.5, 0.5))}),
    "_contrib_MultiBoxDetection": OpDef({"clip": (parse_bool, True), "threshold": (parse_float32, 0.01),
                                         "background_id": (parse_int, 0), "nms_threshold": (parse_float32, 0.5),
                                         "force_suppress": (parse_bool, False),
                                         "variances": (parse_float32_tuple, (0.1, 0.1, 0.2, 0.2)),
                                         "nms_topk": (parse_int, -1)}),
    "_contrib_Proposal": _PROPOSAL,
    "_contrib_MultiProposal": _PROPOSAL,
    "_contrib_PSROIPooling": OpDef({"spatial_scale": (in_range(parse_float32, 0.0, 1.0), REQUIRED),
                                    "output_dim": (parse_int, REQUIRED), "pooled_size": (parse_int, REQUIRED),
                                    "group_size": (parse_int, 0)}),
    "_contrib_DeformablePSROIPooling": OpDef({
        "spatial_scale": (in_range(parse_float32, 0.0, 1.0), REQUIRED), "output_dim": (parse_int, REQUIRED),
        "group_size": (parse_int, REQUIRED), "pooled_size": (parse_int, REQUIRED), "part_size": (parse_int, 0),
        "sample_per_part": (parse_int, 1), "trans_std": (in_range(parse_float32, 0.0, 1.0), 0.0),
        "no_trans": (parse_bool, False)},
        outputs=lambda a: 2),  # each bin's sample count follows, hidden (MXNet keeps it for backward)
    "_contrib_bipartite_matching": OpDef({"is_ascend": (parse_bool, False), "threshold": (parse_float32, REQUIRED),
                                          "topk": (parse_int, -1)}, outputs=lambda a: 2),
    "_contrib_RROIAlign": OpDef({"pooled_size": (positive_sizes(parse_shape), REQUIRED),
                                 "spatial_scale": (in_range(parse_float32, 0.0, 1.0), REQUIRED),
                                 "sampling_ratio": (parse_int, -1)}),
})


alias("_contrib_box_non_maximum_suppression", "_contrib_box_nms")
alias("_npx_multibox_prior", "_contrib_MultiBoxPrior")
alias("_npx_multibox_detection", "_contrib_MultiBoxDetection")
# the training targets of SSD: (minimum_negative_samples is read, and unused, by MXNet's CPU kernel)
define({"_contrib_MultiBoxTarget": OpDef({
    "overlap_threshold": (parse_float32, 0.5), "ignore_label": (parse_float32, -1.0),
    "negative_mining_ratio": (parse_float32, -1.0), "negative_mining_thresh": (parse_float32, 0.5),
    "minimum_negative_samples": (parse_int, 0), "variances": (parse_float32_tuple, (0.1, 0.1, 0.2, 0.2))},
    outputs=lambda a: 3)})
alias("_npx_multibox_target", "_contrib_MultiBoxTarget")
# MXNet's kernel converts the float num_positive * negative_mining_ratio to int: from 2**31 on, x86 gives INT_MIN
# and no anchor is mined
MINED_COUNT_OVERFLOW = 2.0**31


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
@shape_rule("_contrib_box_nms")
def _box_nms(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Boxes ``(..., elements, width)``: the output has their shape. The score, the id and the four
    coordinates must lie inside a row and apart, as MXNet checks."""
    (boxes,) = shapes
    a = node.attrs
    if len(boxes) < 2:
        raise ShapeError(f"boxes of shape {boxes}: box_nms takes (..., boxes, width)")
    width, coords = boxes[-1], range(a["coord_start"], a["coord_start"] + 4)
    if width < 5 + (a["id_index"] >= 0):
        raise ShapeError(f"rows of {width} values are too short for a score, an id and 4 coordinates")
    indices = [a["score_index"]] + ([a["id_index"]] if a["id_index"] >= 0 else [])
    if not (0 <= a["coord_start"] and coords[-1] < width) or any(not 0 <= i < width or i in coords for i in indices) \
            or len(set(indices)) < len(indices):
        raise ShapeError(f"score_index {a['score_index']}, id_index {a['id_index']} and coordinates from "
                         f"{a['coord_start']} do not fit rows of {width} values apart")
    return [boxes, (*boxes[:-1], 1)]


def box_nms_rows_read(graph: Graph, node: Node, rank: int) -> int | None:
    """How many leading rows of box_nms's output its readers take, where every reader is a ``slice_axis`` of the
    box axis from row 0 (GluonCV's RPN keeps 300 of 6,000 candidates, its SSD 100 of 400): suppression may stop
    once that many are kept, the rows after them being read by no one. None where the output is read otherwise."""
    ends, uses = [], graph.consumers()
    for ref in (TensorRef(node.name, 0), TensorRef(node.name, 1)):
        if ref in graph.outputs:
            return None
        for reader in uses.get(ref, []):
            a = reader.attrs
            if (ref.index or reader.op != "slice_axis" or a["axis"] % rank != rank - 2 or a["begin"] != 0
                    or a["end"] is None or a["end"] <= 0):
                return None
            ends.append(a["end"])
    return max(ends) if ends else None


def nan_guarded_boxes(box_format: str, overlap_thresh: float) -> str | None:
    """Which side of box_nms's test ``iou(kept, later) > overlap_thresh`` has its NaN edges replaced (left and top by
    -inf, right and bottom by +inf) so that NaN-propagating max / min and a clamp at 0 decide as MXNet's selects:
    its Intersect takes the later box's edge where a comparison meets NaN in corner format (so ``kept``), the kept
    box's in centre format (so ``later``); a NaN left in the other side's edge leaves a NaN overlap, which
    suppresses nothing where MXNet's clamped 0 suppresses nothing either. None for a negative or NaN threshold,
    where that 0 suppresses and MXNet's selects are needed."""
    if not overlap_thresh >= 0:
        return None
    return "kept" if box_format == "corner" else "later"


@shape_rule("_contrib_box_iou")
def _box_iou(node: Node, shapes: list[Shape]) -> list[Shape]:
    lhs, rhs = shapes
    if len(lhs) < 2 or len(rhs) < 2 or lhs[-1] != 4 or rhs[-1] != 4:
        raise ShapeError(f"inputs of shapes {shapes}: box_iou takes (..., 4) boxes on both sides")
    return [lhs[:-1] + rhs[:-1]]


@shape_rule("_contrib_box_encode")
def _box_encode(node: Node, shapes: list[Shape]) -> list[Shape]:
    """samples (B, N), matches (B, N), anchors (B, N, 4), refs (B, M, 4), means (4,), stds (4,)."""
    samples, matches, anchors, refs, means, stds = shapes
    if len(anchors) != 3 or anchors[2] != 4 or len(refs) != 3 or refs[2] != 4 or refs[0] != anchors[0]:
        raise ShapeError(f"inputs of shapes {shapes}: box_encode takes (B, N, 4) anchors and (B, M, 4) refs")
    expect(samples, anchors[:2], "samples")
    expect(matches, anchors[:2], "matches")
    expect(means, (4,), "means")
    expect(stds, (4,), "stds")
    return [anchors, anchors]


@shape_rule("_contrib_box_decode")
def _box_decode(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Deltas (B, N, 4) and anchors whose last N x 4 values are read for every batch entry."""
    data, anchors = shapes
    if len(data) != 3 or data[2] != 4 or len(anchors) < 3 or anchors[-2:] != data[1:] or math.prod(anchors[:-2]) != 1:
        raise ShapeError(f"inputs of shapes {shapes}: box_decode takes (B, N, 4) deltas and (1, N, 4) anchors")
    return [data]


@shape_rule("_contrib_ROIAlign")
def _roi_align(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, rois = shapes
    pooled = node.attrs["pooled_size"]
    if len(data) != 4 or len(rois) != 2 or rois[1] != 5 or len(pooled) != 2:
        raise ShapeError(f"inputs of shapes {shapes}: ROIAlign takes 4-D data, (rois, 5) boxes and a 2-D size")
    channels = data[1]
    if node.attrs["position_sensitive"]:
        if channels % (pooled[0] * pooled[1]):
            raise ShapeError(f"{channels} channels do not split into {pooled[0]} x {pooled[1]} bins")
        channels //= pooled[0] * pooled[1]
    return [(rois[0], channels, *pooled)]


ROI_ALIGN_MAX_GRID = 64  # sample_ratio: real models take 0 to 4; MXNet allocates the whole grid of every bin


def roi_align_grid_refusal(node: Node) -> str | None:
    """Why a ROIAlign is not converted: a sample_ratio past ``ROI_ALIGN_MAX_GRID`` (both targets visit each of its
    sample_ratio x sample_ratio points a bin; MXNet runs out of memory for the largest)."""
    ratio = node.attrs["sample_ratio"]
    return f"sample_ratio {ratio} above {ROI_ALIGN_MAX_GRID}" if ratio > ROI_ALIGN_MAX_GRID else None


ROI_ALIGN_STEP_VALUES = 1 << 22  # the x-weighted map a ROIAlign computes at once: 16 MB in float32


def roi_align_step(rois: int, per_roi: int) -> int:
    """How many rois a ROIAlign pools at once so that their x-weighted maps (``per_roi`` values each) stay within
    ``ROI_ALIGN_STEP_VALUES``: all of them where they fit, else the largest such count that divides ``rois`` (0
    where that would take over four times the steps of the best split)."""
    step = max(1, ROI_ALIGN_STEP_VALUES // per_roi)
    if step >= rois:
        return rois
    exact = max(count for count in range(1, step + 1) if rois % count == 0)
    return exact if 4 * exact > step else 0


@shape_rule("_contrib_MultiBoxPrior")
def _multibox_prior(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if len(data) < 4:
        raise ShapeError(f"data of shape {data}: MultiBoxPrior takes (batch, channels, height, width)")
    return [(1, data[2] * data[3] * len(multibox_prior_shapes(node.attrs)[0]), 4)]


@shape_rule("_contrib_MultiBoxDetection")
def _multibox_detection(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Class probabilities (B, classes, anchors), offsets (B, anchors x 4), anchors (1, anchors, 4) -> rows
    [class, score, xmin, ymin, xmax, ymax] per anchor."""
    probs, offsets, anchors = shapes
    if len(probs) != 3 or len(offsets) != 2 or len(anchors) != 3 or anchors[2] != 4 or probs[2] != anchors[1] \
            or offsets != (probs[0], probs[2] * 4):
        raise ShapeError(f"inputs of shapes {shapes}: MultiBoxDetection takes (B, classes, anchors) probabilities, "
                         "(B, anchors x 4) offsets and (1, anchors, 4) anchors")
    if len(node.attrs["variances"]) != 4:
        raise ShapeError(f"variances {node.attrs['variances']} are not 4 values")
    return [(probs[0], probs[2], 6)]


def multibox_detection_limit(node: Node) -> int:
    """How many of the best detections MultiBoxDetection suppresses among, given its anchor count ``n`` only at run
    time: ``min(n, limit)``, every one for a negative limit, none (it neither sorts nor suppresses) for 0, which
    an nms_threshold outside (0, 1] gives."""
    a = node.attrs
    if not 0 < a["nms_threshold"] <= 1:
        return 0
    return -1 if a["nms_topk"] <= 0 else a["nms_topk"]


def multibox_prior_shapes(attrs: dict) -> tuple[np.ndarray, np.ndarray]:
    """MultiBoxPrior's anchors at each position, as float32 sizes and square roots of ratios (anchors,): every size
    at the first ratio, then every further ratio at the first size. An anchor is ``size x height / width x root``
    wide and ``size / root`` high (fractions of the image), in MXNet's float32 order of operations."""
    f32 = np.float32
    sizes, ratios, steps, offsets = (np.asarray(attrs[k], f32) for k in ("sizes", "ratios", "steps", "offsets"))
    if len(sizes) < 1 or len(steps) != 2 or len(offsets) != 2 or steps[0] * steps[1] < 0:
        raise ShapeError(f"sizes {attrs['sizes']}, steps {attrs['steps']}, offsets {attrs['offsets']}")
    with np.errstate(invalid="ignore"):  # a negative ratio gives NaN anchors, as MXNet's sqrtf does
        roots = np.sqrt(ratios) if len(ratios) else np.ones(1, f32)
    return (np.concatenate([sizes, np.repeat(sizes[:1], len(roots) - 1)]),
            np.concatenate([np.repeat(roots[:1], len(sizes)), roots[1:]]))


@shape_rule("_contrib_Proposal", "_contrib_MultiProposal")
def _proposal(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Scores (B, 2 x anchors, H, W) (background, then object), deltas (B, 4 x anchors, H, W), im_info (B, 3) ->
    ``rpn_post_nms_top_n`` rows [image, x1, y1, x2, y2] per image and their scores. Proposal takes one image."""
    scores, deltas, info = shapes
    a = node.attrs
    anchors = len(a["scales"]) * len(a["ratios"])
    if len(scores) != 4 or scores[1] != 2 * anchors or deltas != (scores[0], 4 * anchors, *scores[2:]) \
            or info != (scores[0], 3):
        raise ShapeError(f"inputs of shapes {shapes}: {node.op} takes (B, 2 x {anchors} anchors, H, W) scores, "
                         f"(B, 4 x {anchors}, H, W) deltas and (B, 3) image sizes")
    if node.op == "_contrib_Proposal" and scores[0] != 1:
        raise ShapeError(f"a batch of {scores[0]}: MXNet's Proposal takes one image (MultiProposal takes more)")
    rows = scores[0] * a["rpn_post_nms_top_n"]
    return [(rows, 5), (rows, 1)][:node.num_outputs]


def proposal_counts(node: Node, shape: Shape) -> tuple[int, int]:
    """How many of the best-scoring proposals of an image (Multi)Proposal suppresses among, and at most keeps."""
    total = shape[1] // 2 * shape[2] * shape[3]
    first = node.attrs["rpn_pre_nms_top_n"]
    first = min(first if first > 0 else total, total)
    return first, min(node.attrs["rpn_post_nms_top_n"], first)


def proposal_anchors(attrs: dict, height: int, width: int) -> np.ndarray:
    """(Multi)Proposal's (height x width x anchors, 4) corner anchors in float32 as MXNet builds them: per ratio
    and scale a box about the centre of a feature_stride square (sizes rounded as MXNet rounds them), shifted by
    the stride to every position (row-major, anchors fastest). Where MXNet mixes in doubles, so does this."""
    f32 = np.float32
    stride = attrs["feature_stride"]
    side = f32(stride - 1.0) - f32(0) + f32(1)  # the base box [0, 0, stride - 1, stride - 1]
    center = f32(0.5 * float(side - f32(1)))
    base = []
    with np.errstate(all="ignore"):  # a ratio or scale <= 0 gives NaN or infinite anchors, as in MXNet
        for ratio in map(f32, attrs["ratios"]):
            for scale in map(f32, attrs["scales"]):
                new_w = f32(np.floor(np.sqrt(f32(np.floor(side * side / ratio))) + f32(0.5))) * scale
                new_h = f32(np.floor(new_w / scale * ratio + f32(0.5))) * scale
                half_w, half_h = f32(0.5) * (new_w - f32(1)), f32(0.5) * (new_h - f32(1))
                base.append([center - half_w, center - half_h, center + half_w, center + half_h])
    shift_x = (np.arange(width) * stride).astype(f32)
    shift_y = (np.arange(height) * stride).astype(f32)
    shifts = np.stack(np.broadcast_arrays(shift_x[None, :], shift_y[:, None], shift_x[None, :], shift_y[:, None]), -1)
    return (np.asarray(base, f32)[None, None] + shifts[:, :, None]).reshape(-1, 4).astype(f32)


@shape_rule("_contrib_MultiBoxTarget")
def _multibox_target(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Anchors (1, anchors, 4), ground truths (B, rows, [class, xmin, ymin, xmax, ymax, ...]; a class of -1 ends
    them) and class predictions (B, classes, anchors) -> box targets and their mask (B, anchors x 4) and class
    targets (B, anchors)."""
    anchors, labels, preds = shapes
    if len(anchors) != 3 or anchors[0] != 1 or anchors[2] != 4 or len(labels) != 3 or labels[2] < 5 \
            or len(preds) != 3 or preds[2] != anchors[1] or preds[0] != labels[0]:
        raise ShapeError(f"inputs of shapes {shapes}: MultiBoxTarget takes (1, anchors, 4) anchors, (B, rows, 5 or "
                         "more) labels and (B, classes, anchors) predictions")
    a = node.attrs
    if len(a["variances"]) != 4:
        raise ShapeError(f"variances {a['variances']} are not 4 values")
    if a["negative_mining_ratio"] > 0 and a["negative_mining_thresh"] <= 0:
        raise ShapeError(f"negative_mining_thresh {a['negative_mining_thresh']}: MXNet mines below a positive one")
    return [(labels[0], anchors[1] * 4), (labels[0], anchors[1] * 4), (labels[0], anchors[1])]


@shape_rule("_contrib_PSROIPooling", "_contrib_DeformablePSROIPooling")
def _psroi_pooling(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Data (B, C, H, W), rois (R, 5) [and offsets (R, 2 x classes, parts, parts)] -> (R, output_dim, pooled,
    pooled). Every bin reads a channel below ``output_dim x group_size**2`` and, deformable, an offset inside
    its roi's (MXNet checks neither and reads past the arrays)."""
    a = node.attrs
    pooled, groups, dim = a["pooled_size"], a["group_size"], a["output_dim"]
    deformable = node.op == "_contrib_DeformablePSROIPooling"
    if len(shapes) != (2 if not deformable or a["no_trans"] else 3):
        raise ShapeError(f"{len(shapes)} inputs: {node.op} takes data, rois and, unless no_trans, offsets")
    data, rois = shapes[:2]
    if len(data) != 4 or len(rois) != 2 or rois[1] != 5:
        raise ShapeError(f"inputs of shapes {shapes}: {node.op} takes 4-D data and (rois, 5) boxes")
    if pooled < 1 or dim < 1:
        raise ShapeError(f"pooled_size {pooled}, output_dim {dim}: empty output refused")
    if groups < 1 or dim * groups * groups > data[1]:
        raise ShapeError(f"output_dim {dim} and group_size {groups} read channels out of range of {data[1]}")
    out = (rois[0], dim, pooled, pooled)
    if not deformable:
        return [out]
    if not a["no_trans"]:
        trans, parts = shapes[2], deformable_part_size(a)
        classes = trans[1] // 2 if len(trans) == 4 else 0
        if not classes or trans[0] != rois[0] or trans[1] % 2 or parts < 0 or trans[2] * trans[3] < parts ** 2 \
                or dim < classes or (dim - 1) // (dim // classes) >= classes:
            raise ShapeError(f"offsets of shape {trans}, not (rois, 2 x classes, {parts}, {parts}) for {dim} output "
                             "channels: reads out of range")
    return [out, out]


def position_sensitive_channels(attrs: dict) -> np.ndarray:
    """The channel each (output channel, bin row, bin column) of a (Deformable)PSROIPooling reads: its group of
    ``group_size`` x ``group_size`` bins, placed in float32 as MXNet places it."""
    pooled, groups = attrs["pooled_size"], attrs["group_size"]
    steps = np.arange(pooled, dtype=np.float32)
    group = np.clip(np.floor(steps * np.float32(groups) / np.float32(pooled)).astype(np.int64), 0, groups - 1)
    top = np.arange(attrs["output_dim"])[:, None, None]
    return (top * groups + group[None, :, None]) * groups + group[None, None, :]


def deformable_psroi_refusal(node: Node) -> str | None:
    """Why a DeformablePSROIPooling is not converted: no sample a bin (MXNet's zeros), or more than
    ``ROI_ALIGN_MAX_GRID`` a side (both targets hold every sample of every bin at once)."""
    samples = node.attrs["sample_per_part"]
    if samples < 1 or samples > ROI_ALIGN_MAX_GRID:
        return f"sample_per_part {samples} outside 1 to {ROI_ALIGN_MAX_GRID}"
    return None


def deformable_part_size(attrs: dict) -> int:
    """DeformablePSROIPooling's parts a side: part_size, pooled_size where it is 0 (its default)."""
    return attrs["part_size"] or attrs["pooled_size"]


def deformable_offset_index(attrs: dict, trans_shape: Shape) -> tuple[np.ndarray, int]:
    """Where DeformablePSROIPooling reads each bin's offsets in its offsets flattened: the positions
    (2, output_dim, pooled, pooled) of the x and y offsets within the first roi's, and the stride between rois."""
    pooled, parts = attrs["pooled_size"], deformable_part_size(attrs)
    classes = trans_shape[1] // 2
    steps = np.arange(pooled, dtype=np.float32)
    part = np.floor(steps / np.float32(pooled) * np.float32(parts)).astype(np.int64)
    klass = np.arange(attrs["output_dim"]) // (attrs["output_dim"] // classes)
    axis = np.arange(2)[:, None, None, None]
    index = ((klass[None, :, None, None] * 2 + axis) * parts + part[None, None, :, None]) * parts \
        + part[None, None, None, :]
    return index, classes * 2 * parts * parts


@shape_rule("_contrib_RROIAlign")
def _rroi_align(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, rois = shapes
    pooled = node.attrs["pooled_size"]
    if len(data) != 4 or len(rois) != 2 or rois[1] != 6 or len(pooled) != 2:
        raise ShapeError(f"inputs of shapes {shapes}: RROIAlign takes 4-D data, (rois, 6) rotated boxes "
                         "[batch, x, y, w, h, degrees] and a 2-D size")
    return [(rois[0], data[1], *pooled)]


def rroi_align_refusal(node: Node) -> str | None:
    """Why a RROIAlign is not converted: with sampling_ratio <= 0 its sampling grid depends on each box's size; a
    grid past ``ROI_ALIGN_MAX_GRID``."""
    ratio = node.attrs["sampling_ratio"]
    if ratio <= 0:
        return f"sampling_ratio {ratio} (a grid sized by the box values)"
    return f"sampling_ratio {ratio} above {ROI_ALIGN_MAX_GRID}" if ratio > ROI_ALIGN_MAX_GRID else None


@shape_rule("_contrib_bipartite_matching")
def _bipartite_matching(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Scores (..., rows, columns) -> each row's matched column and each column's matched row (-1: none)."""
    (scores,) = shapes
    if len(scores) < 2:
        raise ShapeError(f"scores of shape {scores}: bipartite_matching takes (..., rows, columns)")
    return [scores[:-1], (*scores[:-2], scores[-1])]


def bipartite_matching_steps(node: Node, rows: int, columns: int) -> int:
    """How many matches bipartite_matching makes at most: one a row and a column, and topk + 1 for a positive
    topk (MXNet stops only once the count passes it)."""
    steps = min(rows, columns)
    return min(steps, node.attrs["topk"] + 1) if node.attrs["topk"] > 0 else steps
