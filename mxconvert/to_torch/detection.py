"""Detection post-processing: box_nms, box_iou, box_encode, box_decode, ROIAlign, MultiBoxPrior, MultiBoxDetection,
(Multi)Proposal, MultiBoxTarget and bipartite_matching, and the research detectors' (Deformable)PSROIPooling and
RROIAlign, as plain-torch helpers in the generated model (scriptable and exportable), with MXNet's formulas, float32
(and, in Proposal, double) arithmetic and comparison order; stable sorts give MXNet's order among tied scores, and
greedy suppression resolves blocks of candidates in score order with matrix products; ROIAlign samples with
separable weights applied by matrix products."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..ir import Node
from ..semantics.detection import (MINED_COUNT_OVERFLOW, bipartite_matching_steps, box_nms_rows_read,
                                   deformable_part_size, deformable_psroi_refusal, multibox_detection_limit,
                                   multibox_prior_shapes, nan_guarded_boxes, proposal_anchors, proposal_counts,
                                   ROI_ALIGN_STEP_VALUES, roi_align_grid_refusal, rroi_align_refusal)
from .registry import HELPERS, num
from .registry import Lowering, register

if TYPE_CHECKING:
    from .codegen import TorchContext

HELPERS["mxnet_box_overlap"] = '''
def mxnet_box_overlap(a: torch.Tensor, b: torch.Tensor, center: bool, empty_is_zero: bool) -> torch.Tensor:
    """MXNet's intersection over union of boxes ``a`` and ``b`` (..., 4) that broadcast against each other:
    intersect / (area a + area b - intersect), each side's overlap and each area 0 unless positive. box_iou gives 0
    where boxes do not intersect (``empty_is_zero``); box_nms divides there."""
    sides: List[torch.Tensor] = []
    for axis in range(2):
        a0, a1, b0, b1 = a[..., axis], a[..., axis + 2], b[..., axis], b[..., axis + 2]
        if center:
            a0, a1 = a0 - a1 / 2, a0 + a1 / 2
            b0, b1 = b0 - b1 / 2, b0 + b1 / 2
            left, right = torch.where(b0 > a0, b0, a0), torch.where(b1 < a1, b1, a1)
        else:
            left, right = torch.where(a0 > b0, a0, b0), torch.where(a1 < b1, a1, b1)
        side = right - left
        sides.append(torch.where(side > 0, side, torch.zeros_like(side)))
    intersect = sides[0] * sides[1]
    areas: List[torch.Tensor] = []
    for box in (a, b):
        width, height = box[..., 2], box[..., 3]
        if not center:
            width, height = width - box[..., 0], height - box[..., 1]
        areas.append(torch.where((width < 0) | (height < 0), torch.zeros_like(width), width * height))
    iou = intersect / (areas[0] + areas[1] - intersect)
    return torch.where(intersect > 0, iou, torch.zeros_like(iou)) if empty_is_zero else iou
'''
HELPERS["mxnet_nms_boxes"] = '''
def mxnet_nms_boxes(coords: torch.Tensor, center: bool,
                    guarded: str) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """box_nms's candidates (batch, count, 4) as its overlap test reads them: the edges (4: left, top, right,
    bottom; batch, count) of kept and of later candidates, NaN edges of the ``guarded`` side replaced by -inf (left,
    top) and +inf (right, bottom), so that NaN-propagating maximum / minimum decide as MXNet's selects; and MXNet's
    areas (batch, count)."""
    coords = coords.permute(2, 0, 1)
    if center:
        half = coords[2:] / 2
        edges = torch.cat([coords[:2] - half, coords[:2] + half], 0)
        width, height = coords[2], coords[3]
    else:
        edges = coords.contiguous()
        width, height = coords[2] - coords[0], coords[3] - coords[1]
    area = torch.where((width < 0) | (height < 0), torch.zeros_like(width), width * height)
    inf = float("inf")
    fill = torch.tensor([-inf, -inf, inf, inf], dtype=edges.dtype, device=edges.device).reshape(4, 1, 1)
    safe = torch.where(torch.isnan(edges), fill, edges)
    if guarded == "kept":
        return safe, edges, area
    return edges, safe, area
'''
HELPERS["mxnet_nms_overlap"] = '''
def mxnet_nms_overlap(coords: torch.Tensor, kept: torch.Tensor, later: torch.Tensor, area: torch.Tensor, start: int,
                      end: int, stop: int, center: bool, guarded: str) -> torch.Tensor:
    """Overlaps (batch, rows, columns) of candidates ``start:end`` kept with ``start:stop`` later ones (``coords``:
    batch, count, 4; their edges and areas from ``mxnet_nms_boxes``): MXNet's intersection over union, a NaN where
    its clamped 0 decides alike; its selects pair by pair where nothing is ``guarded`` (a negative threshold)."""
    if not guarded:
        return mxnet_box_overlap(coords[:, start:end].unsqueeze(2), coords[:, start:stop].unsqueeze(1), center, False)
    kept, later = kept[:, :, start:end].unsqueeze(3), later[:, :, start:stop].unsqueeze(2)
    width = (torch.minimum(kept[2], later[2]) - torch.maximum(kept[0], later[0])).clamp(min=0)
    height = (torch.minimum(kept[3], later[3]) - torch.maximum(kept[1], later[1])).clamp(min=0)
    intersect = width * height
    return intersect / (area[:, start:end].unsqueeze(2) + area[:, start:stop].unsqueeze(1) - intersect)
'''
NMS_ROWS = 256  # candidates whose overlaps with all others the suppression helpers compute at once
# box_nms's block under torch.jit.trace and torch.export, which record every settling step of a block (as many as its
# rows, each a product of rows x rows): smaller blocks, the same steps in all (per-class box_nms of 80 x 1,000
# candidates exported: 3.8 s a forward in blocks of 256, 0.36 s in blocks of 32)
NMS_TRACED_ROWS = 32
HELPERS["mxnet_tracing"] = '''
def mxnet_tracing() -> bool:
    """Whether torch.jit.trace or torch.export records the model: a recording keeps no loop that ends on a value,
    so such a loop runs all its steps there (else the recording would hold the step count of its example)."""
    if torch.jit.is_scripting():
        return False
    return torch.jit.is_tracing() or torch.compiler.is_exporting()
'''
HELPERS["mxnet_greedy_keep"] = f'''
def mxnet_greedy_keep(suppresses: torch.Tensor, keep: torch.Tensor, start: int) -> torch.Tensor:
    """Greedy suppression of candidates (batch, count) in score order, for the rows ``start`` onwards of
    ``suppresses`` (batch, rows, columns: the candidates from ``start`` on, to the last one a row may suppress),
    which mark the candidates each suppresses. Within the rows, greedy suppression is the fixed point of "kept
    unless a kept earlier one suppresses it": iterated from ``keep``, the first n rows are settled by step n, so the
    loop ends when nothing changes (at most ``rows`` steps; all of them under torch.jit.trace and torch.export). The
    rows kept then drop the later candidates they mark. The callers pass {NMS_ROWS} rows at a time, so memory grows
    with the candidate count, not with its square."""
    rows, columns = suppresses.shape[1], suppresses.shape[2]
    later = torch.arange(columns, device=keep.device).unsqueeze(0) > torch.arange(rows, device=keep.device).unsqueeze(1)
    hits = (suppresses & later).to(torch.float32)  # 0 or 1: the products below count exactly
    own = hits[:, :, :rows]
    initial = keep[:, start:start + rows]
    settled = initial
    for _ in range(rows):
        update = initial & ~(torch.matmul(settled.unsqueeze(1).to(torch.float32), own).squeeze(1) > 0)
        if not mxnet_tracing() and torch.equal(update, settled):
            break
        settled = update
    dropped = torch.matmul(settled.unsqueeze(1).to(torch.float32), hits).squeeze(1) > 0
    return torch.cat([keep[:, :start], keep[:, start:start + columns] & ~dropped, keep[:, start + columns:]], 1)
'''
HELPERS["mxnet_suppression_done"] = '''
def mxnet_suppression_done(keep: torch.Tensor, end: int, enough: int = -1) -> bool:
    """Whether greedy suppression of candidates (batch, count), settled before ``end``, has nothing left to do: no
    later candidate is still kept (invalid ones, sorted last, never are) or, where only the first ``enough``
    (positive) rows are read, every batch entry keeps that many before ``end``. Never under torch.jit.trace and
    torch.export, which run every block."""
    if mxnet_tracing():
        return False
    if not bool(keep[:, end:].any()):
        return True
    return enough > 0 and bool((keep[:, :end].sum(1) >= enough).all())
'''
HELPERS["mxnet_blocked_keep"] = f'''
def mxnet_blocked_keep(coords: torch.Tensor, ids: torch.Tensor, keep: torch.Tensor, center: bool, guarded: str,
                       overlap_thresh: float, by_id: bool) -> torch.Tensor:
    """box_nms's greedy suppression of candidates (batch, count; ``coords``: batch, count, 4; ``ids``: batch, count,
    compared where ``by_id``) in score order, ``keep`` marking the valid ones, as torch.jit.trace and torch.export
    record it (sizes fixed): blocks of {NMS_TRACED_ROWS} candidates of every batch entry compared with all later ones.
    ``guarded``: see ``mxnet_nms_boxes``; empty where the overlaps take MXNet's selects pair by pair (a negative
    threshold)."""
    kept_edges, later_edges, area = mxnet_nms_boxes(coords, center, guarded)
    count = keep.shape[1]
    for start in range(0, count, {NMS_TRACED_ROWS}):
        end = start + {NMS_TRACED_ROWS}
        overlap = mxnet_nms_overlap(coords, kept_edges, later_edges, area, start, end, count, center, guarded)
        suppresses = overlap > overlap_thresh
        if by_id:
            suppresses = suppresses & (ids[:, start:end].unsqueeze(2) == ids[:, start:].unsqueeze(1))
        keep = mxnet_greedy_keep(suppresses, keep, start)
    return keep
'''
HELPERS["mxnet_ragged_keep"] = f'''
def mxnet_ragged_keep(coords: torch.Tensor, ids: torch.Tensor, keep: torch.Tensor, center: bool, guarded: str,
                      overlap_thresh: float, by_id: bool, enough: int) -> torch.Tensor:
    """``mxnet_blocked_keep`` of the valid candidates only (they come first in each batch entry): laid end to end,
    entry after entry, blocks of {NMS_ROWS} are compared with the later candidates of their own entries only, so the
    work follows each entry's valid count, not the largest (R-CNN's per-class suppression: a few classes with many
    candidates, most with few). Sizes follow the data: not under torch.jit.trace and torch.export."""
    batch, count = keep.shape
    flat = keep.reshape(-1).nonzero().squeeze(1)
    total = flat.shape[0]
    entry = torch.div(flat, count, rounding_mode="floor")
    ends = torch.cumsum(keep.sum(1), 0)[entry]
    coords = coords.reshape(1, -1, 4)[:, flat]
    kept_edges, later_edges, area = mxnet_nms_boxes(coords, center, guarded)
    ids = ids.reshape(-1)[flat]
    settled = torch.ones(1, total, dtype=torch.bool, device=keep.device)
    for start in range(0, total, {NMS_ROWS}):
        end = min(start + {NMS_ROWS}, total)
        stop = int(ends[end - 1])
        overlap = mxnet_nms_overlap(coords, kept_edges, later_edges, area, start, end, stop, center, guarded)
        same = entry[start:end].unsqueeze(1) == entry[start:stop].unsqueeze(0)
        if by_id:
            same = same & (ids[start:end].unsqueeze(1) == ids[start:stop].unsqueeze(0))
        settled = mxnet_greedy_keep((overlap > overlap_thresh) & same.unsqueeze(0), settled, start)
        if mxnet_suppression_done(settled, end, enough if batch == 1 else -1):
            break
    return torch.zeros_like(keep).reshape(-1).scatter(0, flat, settled[0]).reshape(batch, count)
'''
HELPERS["mxnet_box_nms"] = f'''
def mxnet_box_nms(
    x: torch.Tensor, topk: int, overlap_thresh: float, valid_thresh: float, coord_start: int, score_index: int,
    id_index: int, background_id: float, force_suppress: bool, center: bool, guarded: str, enough: int = -1
) -> torch.Tensor:
    """MXNet's box_nms over rows (..., elements, width): per batch entry, the ``topk`` (all if negative) best valid
    rows (score above ``valid_thresh``, id not ``background_id``) in score order, ties by position, each suppressed
    where a kept earlier row (of the same id unless ``force_suppress``) overlaps it by more than ``overlap_thresh``;
    the kept rows first, the others -1. ``guarded``: the side ``mxnet_nms_boxes`` guards, empty where the overlaps
    take MXNet's selects pair by pair (a negative threshold). Suppression stops once nothing is left to decide
    (``mxnet_suppression_done``); ``enough`` (positive): how many first rows are read."""
    elements, width = x.shape[-2], x.shape[-1]
    topk = elements if topk < 0 else min(elements, topk)
    boxes = x.reshape(-1, elements, width)
    scores = boxes[:, :, score_index]
    valid = scores > valid_thresh
    if id_index >= 0:
        valid = valid & (boxes[:, :, id_index] != background_id)
    key = torch.where(valid, scores, torch.full_like(scores, -float("inf")))
    order = torch.sort(key, dim=1, descending=True, stable=True)[1][:, :topk]
    rows = torch.gather(boxes, 1, order.unsqueeze(2).expand(-1, -1, width))
    keep = torch.gather(valid, 1, order)
    coords = rows[:, :, coord_start:coord_start + 4]
    by_id = id_index >= 0 and not force_suppress
    ids = rows[:, :, id_index].to(torch.int64) if by_id else order
    if not mxnet_tracing():
        keep = mxnet_ragged_keep(coords, ids, keep, center, guarded, overlap_thresh, by_id, enough)
    else:
        keep = mxnet_blocked_keep(coords, ids, keep, center, guarded, overlap_thresh, by_id)
    rank = torch.where(keep, torch.arange(topk, 0, -1, device=x.device), torch.zeros_like(order))
    compacted = torch.sort(rank, dim=1, descending=True, stable=True)[1]
    kept = torch.gather(keep, 1, compacted).unsqueeze(2)
    rows = torch.gather(rows, 1, compacted.unsqueeze(2).expand(-1, -1, width))
    out = torch.where(kept, rows, torch.full_like(rows, -1.0))
    out = torch.cat([out, torch.full_like(boxes[:, topk:], -1.0)], 1)
    return out.reshape(x.shape)
'''
HELPERS["mxnet_convert_boxes"] = '''
def mxnet_convert_boxes(rows: torch.Tensor, start: int, to_center: bool) -> torch.Tensor:
    """MXNet's corner_to_center / center_to_corner on the 4 coordinates from ``start`` of each row whose first
    coordinate is not negative (-1 rows and boxes left of 0 are kept as they are)."""
    x0, x1, x2, x3 = rows[..., start], rows[..., start + 1], rows[..., start + 2], rows[..., start + 3]
    if to_center:
        new = torch.stack([(x0 + x2) / 2, (x1 + x3) / 2, x2 - x0, x3 - x1], -1)
    else:
        new = torch.stack([x0 - x2 / 2, x1 - x3 / 2, x0 + x2 / 2, x1 + x3 / 2], -1)
    old = rows[..., start:start + 4]
    return torch.cat([rows[..., :start], torch.where(x0.unsqueeze(-1) < 0, old, new), rows[..., start + 4:]], -1)
'''
HELPERS["mxnet_center_size"] = '''
def mxnet_center_size(corners: torch.Tensor) -> torch.Tensor:
    """Corner boxes (..., 4) as centre x, centre y, width, height (xmin + width * 0.5, as MXNet computes them)."""
    size = corners[..., 2:] - corners[..., :2]
    return torch.cat([corners[..., :2] + size * 0.5, size], -1)
'''
HELPERS["mxnet_box_decode"] = '''
def mxnet_box_decode(
    x: torch.Tensor, anchors: torch.Tensor, stds: List[float], clip: float, corner: bool
) -> torch.Tensor:
    """MXNet's box_decode: deltas (B, N, 4) scaled by ``stds`` applied to the anchors, log sizes capped at
    ``clip`` when positive; corner boxes out."""
    anchors = anchors.reshape(1, -1, 4)
    if corner:
        anchors = mxnet_center_size(anchors)
    scaled = x * torch.tensor(stds, dtype=x.dtype, device=x.device)
    center = scaled[..., :2] * anchors[..., 2:] + anchors[..., :2]
    sizes = scaled[..., 2:]
    if clip > 0:
        sizes = torch.where(sizes < clip, sizes, torch.full_like(sizes, clip))
    half = torch.exp(sizes) * anchors[..., 2:] * 0.5
    return torch.cat([center - half, center + half], -1)
'''
HELPERS["mxnet_box_encode"] = '''
def mxnet_box_encode(
    samples: torch.Tensor, matches: torch.Tensor, anchors: torch.Tensor, refs: torch.Tensor, means: torch.Tensor,
    stds: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    """MXNet's box_encode: targets of anchors whose sample is above 0.5 towards their matched reference, 0
    elsewhere; and the mask, 1 there, else 0. MXNet reads reference ``batch x refs + match`` (truncated) of all
    the batch's references (a negative match reads the previous entry's), clipped into the array here."""
    valid = (samples > 0.5).unsqueeze(2)
    first = torch.arange(refs.shape[0], device=refs.device).unsqueeze(1) * refs.shape[1]
    index = (matches.to(torch.int64) + first).clamp(0, refs.shape[0] * refs.shape[1] - 1)
    ref = mxnet_center_size(refs.reshape(-1, 4)[index])
    anchor = mxnet_center_size(anchors)
    shifts = (ref[..., :2] - anchor[..., :2]) / anchor[..., 2:]
    raw = torch.cat([shifts, torch.log(ref[..., 2:] / anchor[..., 2:])], -1)
    targets = torch.where(valid, (raw - means) / stds, torch.zeros_like(raw))
    return targets, valid.to(raw.dtype).expand_as(raw).contiguous()
'''
HELPERS["mxnet_bilinear_axis"] = '''
def mxnet_bilinear_axis(at: torch.Tensor, length: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The two neighbouring pixels of positions ``at`` along one axis and their bilinear weights, as MXNet's
    ROIAlign and RROIAlign place and clamp them (weights 0 outside [-1, length])."""
    outside = (at < -1.0) | (at > length)
    at = torch.where(at <= 0, torch.zeros_like(at), at)
    low = at.to(torch.int64)
    last = low >= length - 1
    low = torch.where(last, torch.full_like(low, length - 1), low)
    high = torch.where(last, low, low + 1)
    at = torch.where(last, low.to(at.dtype), at)
    high_weight = at - low
    low_weight = 1.0 - high_weight
    return low, high, low_weight.masked_fill(outside, 0.0), high_weight.masked_fill(outside, 0.0)
'''
HELPERS["mxnet_roi_align_weights"] = '''
def mxnet_roi_align_weights(
    start: torch.Tensor, size: torch.Tensor, bins: int, samples: int, length: int
) -> torch.Tensor:
    """Along one axis, the weight of every pixel in every bin of every box (rois, bins, length): the bilinear
    weights (``mxnet_bilinear_axis``) of the bin's ``samples`` points, summed."""
    bin_size = (size / bins).unsqueeze(1)
    steps = torch.arange(bins, device=start.device).unsqueeze(0)
    pixels = torch.arange(length, device=start.device)
    weights = torch.zeros(start.shape[0], bins, length, dtype=start.dtype, device=start.device)
    for sample in range(samples):
        at = start.unsqueeze(1) + steps * bin_size + (sample + 0.5) * bin_size / samples
        low, high, low_weight, high_weight = mxnet_bilinear_axis(at, length)
        weights = weights + (low.unsqueeze(2) == pixels).to(start.dtype) * low_weight.unsqueeze(2) \\
            + (high.unsqueeze(2) == pixels).to(start.dtype) * high_weight.unsqueeze(2)
    return weights
'''
HELPERS["mxnet_rroi_align"] = '''
def mxnet_rroi_align(
    x: torch.Tensor, rois: torch.Tensor, pooled_h: int, pooled_w: int, scale: float, grid: int
) -> torch.Tensor:
    """MXNet's RROIAlign: each bin the mean of its grid x grid bilinear samples on a grid rotated about its box's
    centre (boxes [batch, x, y, width, height, degrees], scaled, at least a pixel a side; the angle made radians
    in double). Samples are (rois, bin y, bin x, sample y, sample x); the pixels, rows of channels, are
    gathered once for every channel."""
    channels, height, width = x.shape[1], x.shape[2], x.shape[3]
    center = rois[:, 1:3] * scale
    size = torch.clamp(rois[:, 3:5] * scale, min=1.0)
    theta = (rois[:, 5].to(torch.float64) * 3.141592653589793 / 180.0).to(x.dtype)[:, None, None, None, None]
    cos, sin = torch.cos(theta), torch.sin(theta)
    bin_size = size / torch.tensor([pooled_w, pooled_h], dtype=x.dtype, device=x.device)
    start = -size / 2.0
    centres = torch.arange(grid, dtype=x.dtype, device=x.device) + 0.5
    steps_x = torch.arange(pooled_w, dtype=x.dtype, device=x.device)[None, None, :, None, None]
    steps_y = torch.arange(pooled_h, dtype=x.dtype, device=x.device)[None, :, None, None, None]
    bin_x, bin_y = bin_size[:, 0, None, None, None, None], bin_size[:, 1, None, None, None, None]
    box_x = start[:, 0, None, None, None, None] + steps_x * bin_x + centres[None, None, None, None, :] * bin_x / grid
    box_y = start[:, 1, None, None, None, None] + steps_y * bin_y + centres[None, None, None, :, None] * bin_y / grid
    x_low, x_high, x_near, x_far = mxnet_bilinear_axis(
        box_x * cos + box_y * sin + center[:, 0, None, None, None, None], width)
    y_low, y_high, y_near, y_far = mxnet_bilinear_axis(
        box_y * cos - box_x * sin + center[:, 1, None, None, None, None], height)
    pixels = x.permute(0, 2, 3, 1).reshape(-1, channels)
    image = rois[:, 0].to(torch.int64)[:, None, None, None, None] * (height * width)
    value = (y_near * x_near)[..., None] * pixels[image + y_low * width + x_low] \\
        + (y_near * x_far)[..., None] * pixels[image + y_low * width + x_high] \\
        + (y_far * x_near)[..., None] * pixels[image + y_high * width + x_low] \\
        + (y_far * x_far)[..., None] * pixels[image + y_high * width + x_high]
    return (value.sum((3, 4)) / float(grid * grid)).permute(0, 3, 1, 2)
'''
HELPERS["mxnet_roi_align"] = '''
def mxnet_roi_align(
    x: torch.Tensor, rois: torch.Tensor, pooled_h: int, pooled_w: int, scale: float, samples: int, aligned: bool,
    position_sensitive: bool, step_values: int
) -> torch.Tensor:
    """MXNet's ROIAlign with ``samples`` x ``samples`` points a bin: each bin the mean of bilinear samples of its
    box's image (boxes [batch, x1, y1, x2, y2], scaled, less 0.5 when ``aligned``, else at least 1 pixel wide).
    The sampling is separable: each box's weights along x, then along y, applied as two matrix products over
    all channels and as many rois at a time as keep their x-weighted maps within ``step_values`` values.
    Position-sensitive: bin (i, j) of channel c reads channel c x bins + i x pooled_w + j."""
    images = rois[:, 0].to(torch.int64)
    boxes = rois[:, 1:5]
    offset = 0.5 if aligned else 0.0
    start = boxes[:, :2] * scale - offset
    size = boxes[:, 2:] * scale - offset - start
    if not aligned:
        size = torch.where(size < 1.0, torch.ones_like(size), size)
    rois_count, batch, channels, height, width = rois.shape[0], x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    along_y = mxnet_roi_align_weights(start[:, 1], size[:, 1], pooled_h, samples, height)
    along_x = mxnet_roi_align_weights(start[:, 0], size[:, 0], pooled_w, samples, width).transpose(1, 2)
    rows = x.reshape(batch, 1, channels * height, width)
    step = max(1, step_values // (batch * channels * height * pooled_w))
    pooled = torch.empty(rois_count, channels, pooled_h, pooled_w, dtype=x.dtype, device=x.device)
    for first in range(0, rois_count, step):
        last = min(first + step, rois_count)
        columns = torch.matmul(rows, along_x[first:last].unsqueeze(0))
        if batch > 1:  # each roi's rows of its own image
            columns = columns[images[first:last], torch.arange(last - first, device=x.device)]
        columns = columns.reshape(last - first, channels, height, pooled_w)
        pooled[first:last] = torch.matmul(along_y[first:last].unsqueeze(1), columns) / float(samples * samples)
    if not position_sensitive:
        return pooled
    bins = pooled_h * pooled_w
    own = torch.diagonal(pooled.reshape(rois_count, channels // bins, bins, bins), 0, 2, 3)
    return own.reshape(rois_count, channels // bins, pooled_h, pooled_w)
'''
HELPERS["mxnet_multibox_prior"] = '''
def mxnet_multibox_prior(
    x: torch.Tensor, sizes: List[float], roots: List[float], steps: List[float], offsets: List[float], clip: bool
) -> torch.Tensor:
    """MXNet's MultiBoxPrior for the live height and width of ``x``: (1, positions x anchors, 4) corner boxes, per
    position (row-major) one box an anchor, ``sizes[a] x height / width x roots[a]`` wide, ``sizes[a] / roots[a]``
    high."""
    height, width = x.shape[2], x.shape[3]
    size = torch.tensor(sizes, dtype=torch.float32, device=x.device)
    root = torch.tensor(roots, dtype=torch.float32, device=x.device)
    half = torch.stack([size * height / width * root / 2, size / root / 2], -1)
    step = torch.tensor(steps, dtype=torch.float32, device=x.device)
    if steps[0] <= 0 or steps[1] <= 0:
        step = 1.0 / torch.tensor([height, width], dtype=torch.float32, device=x.device)
    center_y = (torch.arange(height, dtype=torch.float32, device=x.device) + offsets[0]) * step[0]
    center_x = (torch.arange(width, dtype=torch.float32, device=x.device) + offsets[1]) * step[1]
    centers = torch.stack([center_x.unsqueeze(0).expand(height, -1), center_y.unsqueeze(1).expand(-1, width)], -1)
    centers = centers.reshape(-1, 1, 2)
    boxes = torch.cat([centers - half, centers + half], -1).reshape(1, -1, 4)
    return boxes.clamp(0.0, 1.0) if clip else boxes
'''
HELPERS["mxnet_multibox_boxes"] = '''
def mxnet_multibox_boxes(
    offsets: torch.Tensor, anchors: torch.Tensor, variances: List[float], clip: bool
) -> torch.Tensor:
    """MultiBoxDetection's boxes: offsets (..., 4) scaled by ``variances`` applied to corner anchors, clipped
    to [0, 1] with ``clip``."""
    size = anchors[..., 2:] - anchors[..., :2]
    center = (anchors[..., :2] + anchors[..., 2:]) / 2
    scaled = offsets * torch.tensor(variances, dtype=offsets.dtype, device=offsets.device)
    middle = scaled[..., :2] * size + center
    half = torch.exp(scaled[..., 2:]) * size / 2
    boxes = torch.cat([middle - half, middle + half], -1)
    if clip:
        boxes = torch.where(boxes < 1, boxes, torch.ones_like(boxes))
        boxes = torch.where(boxes > 0, boxes, torch.zeros_like(boxes))
    return boxes
'''
HELPERS["mxnet_detection_overlap"] = '''
def mxnet_detection_overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MultiBoxDetection's IoU of corner boxes that broadcast: intersect / (area a + area b - intersect), areas as
    the corners give them, 0 where that union is not positive."""
    low = torch.where(a[..., :2] > b[..., :2], a[..., :2], b[..., :2])
    high = torch.where(a[..., 2:] < b[..., 2:], a[..., 2:], b[..., 2:])
    sides = high - low
    sides = torch.where(sides > 0, sides, torch.zeros_like(sides))
    intersect = sides[..., 0] * sides[..., 1]
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = union - intersect
    return torch.where(union > 0, intersect / union, torch.zeros_like(union))
'''
HELPERS["mxnet_multibox_detection"] = f'''
def mxnet_multibox_detection(
    probs: torch.Tensor, offsets: torch.Tensor, anchors: torch.Tensor, threshold: float, clip: bool,
    variances: List[float], limit: int, nms_threshold: float, force_suppress: bool
) -> torch.Tensor:
    """MXNet's MultiBoxDetection: per anchor the first most probable class after the background (-1 for none
    above -1 or below ``threshold``), rows [class, score, box]; the detections moved to the front in anchor order.
    Unless ``limit`` is 0, the best ``limit`` (all if negative) sorted by score (stable) and suppressed greedily
    where IoU >= nms_threshold (same class unless ``force_suppress``): suppressed rows keep their place with class
    -1, and so do the rows past the limit, unsorted."""
    batch, classes, anchor_count = probs.shape[0], probs.shape[1], probs.shape[2]
    count = anchor_count if limit < 0 else min(anchor_count, limit)
    empty = torch.full((batch, anchor_count, 6), -1.0, dtype=probs.dtype, device=probs.device)
    if classes < 2:
        return empty
    foreground = probs[:, 1:]
    best = torch.argmax(foreground, 1, keepdim=True)
    score = torch.gather(foreground, 1, best).squeeze(1)
    found = score > -1.0
    score = torch.where(found, score, torch.full_like(score, -1.0))
    valid = found & ~(score < threshold)
    label = torch.where(valid, best.squeeze(1).to(probs.dtype), torch.full_like(score, -1.0))
    boxes = mxnet_multibox_boxes(offsets.reshape(batch, -1, 4), anchors.reshape(1, -1, 4), variances, clip)
    rows = torch.cat([label.unsqueeze(2), score.unsqueeze(2), boxes], 2)
    positions = torch.arange(anchor_count, 0, -1, device=probs.device)
    rank = torch.where(valid, positions, torch.zeros_like(positions))
    in_place = torch.sort(rank, dim=1, descending=True, stable=True)[1]
    moved = torch.gather(rows, 1, in_place.unsqueeze(2).expand(-1, -1, 6))
    compacted = torch.where(torch.gather(valid, 1, in_place).unsqueeze(2), moved, empty)
    if count == 0:
        return compacted
    key = torch.where(valid, score, torch.full_like(score, -float("inf")))
    order = torch.sort(key, dim=1, descending=True, stable=True)[1][:, :count]
    best_rows = torch.gather(rows, 1, order.unsqueeze(2).expand(-1, -1, 6))
    candidates = torch.gather(valid, 1, order)
    keep = candidates
    for start in range(0, count, {NMS_ROWS}):
        block = best_rows[:, start:start + {NMS_ROWS}]
        later = best_rows[:, None, start:]
        suppresses = mxnet_detection_overlap(block[:, :, None, 2:], later[..., 2:]) >= nms_threshold
        if not force_suppress:
            suppresses = suppresses & (block[:, :, None, 0] == later[..., 0])
        keep = mxnet_greedy_keep(suppresses, keep, start)
        if mxnet_suppression_done(keep, start + {NMS_ROWS}):
            break
    labels = torch.where(keep, best_rows[:, :, 0], torch.full_like(best_rows[:, :, 0], -1.0)).unsqueeze(2)
    head = torch.where(candidates.unsqueeze(2), torch.cat([labels, best_rows[:, :, 1:]], 2), empty[:, :count])
    tail = torch.cat([empty[:, count:, :1], compacted[:, count:, 1:]], 2)
    return torch.cat([head, tail], 1)
'''
HELPERS["mxnet_proposal_overlap"] = '''
def mxnet_proposal_overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(Multi)Proposal's IoU of corner boxes that broadcast, pixels inclusive: inter / (area a + area b - inter),
    each side max(0, x2 - x1 + 1)."""
    low = torch.where(a[..., :2] < b[..., :2], b[..., :2], a[..., :2])
    high = torch.where(b[..., 2:] < a[..., 2:], b[..., 2:], a[..., 2:])
    sides = high - low + 1
    sides = torch.where(0 < sides, sides, torch.zeros_like(sides))
    inter = sides[..., 0] * sides[..., 1]
    areas = [(box[..., 2] - box[..., 0] + 1) * (box[..., 3] - box[..., 1] + 1) for box in (a, b)]
    return inter / (areas[0] + areas[1] - inter)
'''
HELPERS["mxnet_proposal"] = f'''
def mxnet_proposal(
    probs: torch.Tensor, deltas: torch.Tensor, image: torch.Tensor, anchors: torch.Tensor, stride: int, first: int,
    at_most: int, rows: int, threshold: float, min_size: float, iou_loss: bool
) -> Tuple[torch.Tensor, torch.Tensor]:
    """MXNet's (Multi)Proposal: per image the object scores and the ``anchors`` (H x W x anchors, 4) moved by
    the deltas (centre and log size, in MXNet's mix of float and double, or corner offsets with ``iou_loss``),
    clipped to the image; scores -1 past the image's feature size (``image``: height, width, scale), and for
    boxes below ``min_size`` x scale, which widen by half of it; the best ``first`` by score (stable), greedy
    suppression where IoU > ``threshold``; at most ``at_most`` kept, in order, repeated from the first to fill
    ``rows`` rows [image, x1, y1, x2, y2]; and their scores."""
    batch, anchor_count, height, width = probs.shape[0], probs.shape[1] // 2, probs.shape[2], probs.shape[3]
    scores = probs[:, anchor_count:].permute(0, 2, 3, 1).reshape(batch, -1)
    deltas = deltas.reshape(batch, anchor_count, 4, height, width).permute(0, 3, 4, 1, 2).reshape(batch, -1, 4)
    anchors = anchors.unsqueeze(0)
    if iou_loss:
        boxes = anchors + deltas
    else:
        size = anchors[..., 2:] - anchors[..., :2] + 1.0
        center = (anchors[..., :2].double() + 0.5 * (size.double() - 1.0)).float()
        center = deltas[..., :2] * size + center
        extent = 0.5 * ((torch.exp(deltas[..., 2:]) * size).double() - 1.0)
        boxes = torch.cat([(center.double() - extent).float(), (center.double() + extent).float()], -1)
    limits = (image[:, [1, 0, 1, 0]] - 1.0).unsqueeze(1)
    boxes = torch.where(limits < boxes, limits, boxes)
    boxes = torch.where(boxes < 0, torch.zeros_like(boxes), boxes)
    index = torch.arange(scores.shape[1], device=probs.device)
    real_height = (image[:, :1] / stride).to(torch.int64)
    real_width = (image[:, 1:2] / stride).to(torch.int64)
    outside = (index // (width * anchor_count) >= real_height) | (index // anchor_count % width >= real_width)
    scores = torch.where(outside, torch.full_like(scores, -1.0), scores)
    smallest = min_size * image[:, 2:3]
    sizes = boxes[..., 2:] - boxes[..., :2] + 1.0
    small = (sizes[..., 0] < smallest) | (sizes[..., 1] < smallest)
    half = (smallest / 2).unsqueeze(2)
    widened = torch.cat([boxes[..., :2] - half, boxes[..., 2:] + half], -1)
    boxes = torch.where(small.unsqueeze(2), widened, boxes)
    scores = torch.where(small, torch.full_like(scores, -1.0), scores)
    proposals = torch.cat([boxes, scores.unsqueeze(2)], 2)
    order = torch.sort(scores, dim=1, descending=True, stable=True)[1][:, :first]
    best = torch.gather(proposals, 1, order.unsqueeze(2).expand(-1, -1, 5))
    keep = torch.ones_like(order, dtype=torch.bool)
    for start in range(0, first, {NMS_ROWS}):
        overlap = mxnet_proposal_overlap(best[:, start:start + {NMS_ROWS}, None, :4], best[:, None, start:, :4])
        keep = mxnet_greedy_keep(overlap > threshold, keep, start)
        if mxnet_suppression_done(keep, start + {NMS_ROWS}):
            break
    positions = torch.arange(first, 0, -1, device=probs.device)
    in_order = torch.sort(torch.where(keep, positions, torch.zeros_like(positions)), dim=1, descending=True,
                          stable=True)[1]
    kept = torch.clamp(keep.sum(1, keepdim=True), max=at_most)
    slots = torch.remainder(torch.arange(rows, device=probs.device).unsqueeze(0), kept)
    chosen = torch.gather(best, 1, torch.gather(in_order, 1, slots).unsqueeze(2).expand(-1, -1, 5))
    images = torch.arange(batch, dtype=probs.dtype, device=probs.device)[:, None, None].expand(-1, rows, 1)
    return torch.cat([images, chosen[..., :4]], 2).reshape(-1, 5), chosen[..., 4].reshape(-1, 1)
'''

HELPERS["mxnet_round"] = '''
def mxnet_round(x: torch.Tensor) -> torch.Tensor:
    """C's round: halves away from zero (torch.round takes them to even)."""
    size = x.abs()
    whole = torch.floor(size)
    return torch.sign(x) * (whole + (size - whole >= 0.5).to(x.dtype))
'''
HELPERS["mxnet_psroi_boxes"] = '''
def mxnet_psroi_boxes(rois: torch.Tensor, scale: float, shift: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """(Deformable)PSROIPooling's roi starts and sizes (rois, 2) [x, y]: corners rounded, the far one a pixel
    further, scaled, less ``shift``; sizes at least 0.1."""
    start = mxnet_round(rois[:, 1:3]) * scale - shift
    end = (mxnet_round(rois[:, 3:5]) + 1.0) * scale - shift
    return start, torch.clamp(end - start, min=0.1)
'''
HELPERS["mxnet_psroi_channels"] = '''
def mxnet_psroi_channels(output_dim: int, pooled: int, groups: int, device: torch.device) -> torch.Tensor:
    """The channel each (output channel, bin row, bin column) reads: its bin's group of groups x groups."""
    steps = torch.arange(pooled, dtype=torch.float32, device=device)
    group = torch.floor(steps * groups / pooled).to(torch.int64).clamp(0, groups - 1)
    top = torch.arange(output_dim, device=device)[:, None, None]
    return (top * groups + group[None, :, None]) * groups + group[None, None, :]
'''
HELPERS["mxnet_psroi_pooling"] = '''
def mxnet_psroi_pooling(
    x: torch.Tensor, rois: torch.Tensor, scale: float, output_dim: int, pooled: int, groups: int
) -> torch.Tensor:
    """MXNet's PSROIPooling: each bin the mean of the whole pixels within its edges (floored and ceiled, clipped
    to the image), in its group's channel; 0 for an empty bin. The sums are products with 0/1 row and column
    masks."""
    start, size = mxnet_psroi_boxes(rois, scale, 0.0)
    steps = torch.arange(pooled, dtype=x.dtype, device=x.device)[None, :, None]
    bin_size = (size / pooled)[:, None, :]
    limit = torch.tensor([x.shape[3], x.shape[2]], dtype=x.dtype, device=x.device)
    low = torch.minimum(torch.floor(steps * bin_size + start[:, None, :]).clamp(min=0.0), limit)
    high = torch.minimum(torch.ceil((steps + 1.0) * bin_size + start[:, None, :]).clamp(min=0.0), limit)
    columns = torch.arange(x.shape[3], dtype=x.dtype, device=x.device)
    rows = torch.arange(x.shape[2], dtype=x.dtype, device=x.device)
    in_x = ((columns >= low[..., 0:1]) & (columns < high[..., 0:1])).to(x.dtype)  # (rois, pooled, width)
    in_y = ((rows >= low[..., 1:2]) & (rows < high[..., 1:2])).to(x.dtype)
    sums = in_y[:, None] @ x[rois[:, 0].to(torch.int64)] @ in_x[:, None].transpose(2, 3)
    bins = pooled * pooled
    own = mxnet_psroi_channels(output_dim, pooled, groups, x.device) * bins \\
        + torch.arange(bins, device=x.device).reshape(pooled, pooled)
    picked = sums.reshape(sums.shape[0], -1)[:, own]
    extent = high - low
    area = (extent[:, :, None, 1] * extent[:, None, :, 0])[:, None]
    return torch.where(area > 0, picked / area, torch.zeros_like(picked))
'''
HELPERS["mxnet_psroi_sample_axis"] = '''
def mxnet_psroi_sample_axis(
    at: torch.Tensor, length: int
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """DeformablePSROIPooling's samples along one axis: the pixels either side, the far one's weight and whether
    the sample lies in [-0.5, length - 0.5]."""
    inside = ~((at < -0.5) | (at > length - 0.5))
    at = at.clamp(0.0, float(length - 1))
    low = torch.floor(at)
    return low.to(torch.int64), torch.ceil(at).to(torch.int64), at - low, inside
'''
HELPERS["mxnet_deformable_psroi_pooling"] = '''
def mxnet_deformable_psroi_pooling(
    x: torch.Tensor, rois: torch.Tensor, trans: torch.Tensor, scale: float, output_dim: int, pooled: int,
    groups: int, parts: int, samples: int, trans_std: float, no_trans: bool
) -> torch.Tensor:
    """MXNet's DeformablePSROIPooling: each bin the mean of its samples x samples bilinear samples inside the
    image (0 where none is), moved by its part's offsets x trans_std x the roi's size, in its group's channel."""
    count, channels, height, width = rois.shape[0], x.shape[1], x.shape[2], x.shape[3]
    start, size = mxnet_psroi_boxes(rois, scale, 0.5)
    steps = torch.arange(pooled, dtype=x.dtype, device=x.device)
    bin_size = size / pooled
    begin = steps[None, :, None] * bin_size[:, None, :] + start[:, None, :]  # (rois, pooled, 2)
    shape = [count, output_dim, pooled, pooled]
    begin_x = begin[:, None, None, :, 0].expand(shape)
    begin_y = begin[:, None, :, None, 1].expand(shape)
    if not no_trans:
        classes = trans.shape[1] // 2
        part = torch.floor(steps / pooled * parts).to(torch.int64)
        klass = torch.arange(output_dim, device=x.device) // (output_dim // classes)
        roi = torch.arange(count, device=x.device)[:, None, None, None]
        at = roi * (classes * 2 * parts * parts) \\
            + ((klass[None, :, None, None] * 2) * parts + part[None, None, :, None]) * parts + part[None, None, None, :]
        offsets = trans.reshape(-1)
        begin_x = begin_x + offsets[at] * trans_std * size[:, 0, None, None, None]
        begin_y = begin_y + offsets[at + parts * parts] * trans_std * size[:, 1, None, None, None]
    sample_steps = torch.arange(samples, dtype=x.dtype, device=x.device)
    sub_bin = bin_size / samples
    x_low, x_high, x_far, x_in = mxnet_psroi_sample_axis(
        begin_x[..., None, None] + sample_steps[None, :] * sub_bin[:, 0, None, None, None, None, None], width)
    y_low, y_high, y_far, y_in = mxnet_psroi_sample_axis(
        begin_y[..., None, None] + sample_steps[:, None] * sub_bin[:, 1, None, None, None, None, None], height)
    channel = mxnet_psroi_channels(output_dim, pooled, groups, x.device)
    plane = ((rois[:, 0].to(torch.int64)[:, None, None, None] * channels + channel) * (height * width))[..., None, None]
    flat = x.reshape(-1)
    value = (1 - x_far) * (1 - y_far) * flat[plane + y_low * width + x_low] \\
        + (1 - x_far) * y_far * flat[plane + y_high * width + x_low] \\
        + x_far * (1 - y_far) * flat[plane + y_low * width + x_high] \\
        + x_far * y_far * flat[plane + y_high * width + x_high]
    inside = x_in & y_in
    total = torch.where(inside, value, torch.zeros_like(value)).sum((4, 5))
    counts = inside.to(x.dtype).sum((4, 5))
    return torch.where(counts > 0, total / counts, torch.zeros_like(total))
'''

HELPERS["mxnet_bipartite_matching"] = '''
def mxnet_bipartite_matching(
    scores: torch.Tensor, threshold: float, ascending: bool, steps: int
) -> Tuple[torch.Tensor, torch.Tensor]:
    """MXNet's bipartite_matching of scores (..., rows, columns): greedily in score order (ties in index order),
    the best pair of a free row and a free column whose score passes the threshold, ``steps`` times at most;
    each row's matched column and each column's matched row, -1 where none."""
    rows, columns = scores.shape[-2], scores.shape[-1]
    lead = list(scores.shape[:-2])
    flat = scores.reshape(-1, rows * columns)
    batch = flat.shape[0]
    passing = flat < threshold if ascending else flat > threshold
    key = -flat if ascending else flat
    row_match = torch.full((batch, rows), -1.0, dtype=scores.dtype, device=scores.device)
    column_match = torch.full((batch, columns), -1.0, dtype=scores.dtype, device=scores.device)
    row_at = torch.arange(rows, device=scores.device)[None, :]
    column_at = torch.arange(columns, device=scores.device)[None, :]
    for _ in range(steps):
        free = ((row_match == -1)[:, :, None] & (column_match == -1)[:, None, :]).reshape(batch, -1)
        candidate = free & passing
        best = torch.where(candidate, key, torch.full_like(key, -float("inf"))).argmax(1, keepdim=True)
        found = candidate.gather(1, best)
        row, column = best // columns, best % columns
        row_match = torch.where(found & (row_at == row), column.to(scores.dtype), row_match)
        column_match = torch.where(found & (column_at == column), row.to(scores.dtype), column_match)
    return row_match.reshape(lead + [rows]), column_match.reshape(lead + [columns])
'''


def _float32(value: float) -> str:
    """A float attribute as MXNet holds it (float32), written exactly."""
    return num(float(np.float32(value)))


@register("_contrib_box_nms")
def box_nms(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    if a["topk"] == 0:  # MXNet copies its input
        return Lowering(f"({ctx.input(0)},)")
    for helper in ("mxnet_box_overlap", "mxnet_nms_boxes", "mxnet_nms_overlap", "mxnet_tracing", "mxnet_greedy_keep",
                   "mxnet_suppression_done", "mxnet_blocked_keep", "mxnet_ragged_keep"):
        ctx.helper(helper)
    enough = box_nms_rows_read(ctx.graph, node, len(ctx.shape(0)))
    guarded = nan_guarded_boxes(a["in_format"], a["overlap_thresh"]) or ""
    out = (f"{ctx.helper('mxnet_box_nms')}({ctx.input(0)}, {a['topk']}, {_float32(a['overlap_thresh'])}, "
           f"{_float32(a['valid_thresh'])}, {a['coord_start']}, {a['score_index']}, {a['id_index']}, "
           f"{_float32(a['background_id'])}, {a['force_suppress']}, {a['in_format'] == 'center'}, {guarded!r}"
           f"{'' if enough is None else f', {enough}'})")
    if a["in_format"] != a["out_format"]:
        out = f"{ctx.helper('mxnet_convert_boxes')}({out}, {a['coord_start']}, {a['out_format'] == 'center'})"
    return Lowering(f"({out},)")  # the second output, hidden, is not computed


@register("_contrib_box_iou")
def box_iou(ctx: TorchContext, node: Node) -> Lowering:
    lhs, rhs = f"{ctx.input(0)}.reshape(-1, 1, 4)", f"{ctx.input(1)}.reshape(1, -1, 4)"
    overlap = f"{ctx.helper('mxnet_box_overlap')}({lhs}, {rhs}, {node.attrs['format'] == 'center'}, True)"
    return Lowering(f"{overlap}.reshape({list(ctx.out_shape())})")


@register("_contrib_box_decode")
def box_decode(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    ctx.helper("mxnet_center_size")
    stds = ", ".join(_float32(a[f"std{i}"]) for i in range(4))
    return Lowering(f"{ctx.helper('mxnet_box_decode')}({ctx.input(0)}, {ctx.input(1)}, [{stds}], "
                    f"{_float32(a['clip'])}, {a['format'] == 'corner'})")


@register("_contrib_box_encode")
def box_encode(ctx: TorchContext, node: Node) -> Lowering:
    ctx.helper("mxnet_center_size")
    return Lowering(f"{ctx.helper('mxnet_box_encode')}({', '.join(ctx.input(i) for i in range(6))})")


def roi_align_refusal(node: Node) -> str | None:
    """Why a ROIAlign is not lowered: with sample_ratio <= 0 its sampling grid depends on each box's size; a huge
    grid."""
    if node.attrs["sample_ratio"] <= 0:
        return f"sample_ratio {node.attrs['sample_ratio']} (a grid sized by the box values)"
    return roi_align_grid_refusal(node)


@register("_contrib_ROIAlign", check=roi_align_refusal)
def roi_align(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    ctx.helper("mxnet_bilinear_axis")
    ctx.helper("mxnet_roi_align_weights")
    pooled_h, pooled_w = a["pooled_size"]
    return Lowering(f"{ctx.helper('mxnet_roi_align')}({ctx.input(0)}, {ctx.input(1)}, {pooled_h}, {pooled_w}, "
                    f"{_float32(a['spatial_scale'])}, {a['sample_ratio']}, {a['aligned']}, "
                    f"{a['position_sensitive']}, {ROI_ALIGN_STEP_VALUES})")


@register("_contrib_MultiBoxPrior")
def multibox_prior(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    lists = (*multibox_prior_shapes(a), a["steps"], a["offsets"])
    text = ", ".join(f"[{', '.join(_float32(v) for v in values)}]" for values in lists)
    return Lowering(f"{ctx.helper('mxnet_multibox_prior')}({ctx.input(0)}, {text}, {a['clip']})")


@register("_contrib_MultiBoxDetection")
def multibox_detection(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    for helper in ("mxnet_multibox_boxes", "mxnet_detection_overlap", "mxnet_tracing", "mxnet_greedy_keep",
                   "mxnet_suppression_done"):
        ctx.helper(helper)
    variances = ", ".join(_float32(v) for v in a["variances"])
    return Lowering(f"{ctx.helper('mxnet_multibox_detection')}({ctx.input(0)}, {ctx.input(1)}, {ctx.input(2)}, "
                    f"{_float32(a['threshold'])}, {a['clip']}, [{variances}], {multibox_detection_limit(node)}, "
                    f"{_float32(a['nms_threshold'])}, {a['force_suppress']})")


@register("_contrib_Proposal", "_contrib_MultiProposal")
def proposal(ctx: TorchContext, node: Node) -> Lowering:
    """The anchors are constants of the feature map's size (``semantics.detection.proposal_anchors``)."""
    a = node.attrs
    ctx.helper("mxnet_proposal_overlap")
    ctx.helper("mxnet_tracing")
    ctx.helper("mxnet_greedy_keep")
    ctx.helper("mxnet_suppression_done")
    height, width = ctx.shape(0)[2:]
    first, at_most = proposal_counts(node, ctx.shape(0))
    anchors = proposal_anchors(a, height, width)
    call = (f"{ctx.helper('mxnet_proposal')}({ctx.input(0)}, {ctx.input(1)}, {ctx.input(2)}, self.{ctx.name}.anchors, "
            f"{a['feature_stride']}, {first}, {at_most}, {a['rpn_post_nms_top_n']}, {_float32(a['threshold'])}, "
            f"{_float32(a['rpn_min_size'])}, {a['iou_loss']})")
    return Lowering(call if node.num_outputs > 1 else f"{call}[0]", "nn.Module()", {"anchors": anchors},
                    [f"self.{ctx.name}.register_buffer('anchors', torch.empty({list(anchors.shape)}))"])


HELPERS["mxnet_multibox_target"] = '''
def mxnet_multibox_target(anchors: torch.Tensor, labels: torch.Tensor, preds: torch.Tensor, overlap_threshold: float,
                          ignore_label: float, mining_ratio: float, mining_thresh: float, mining_overflow: float,
                          variances: List[float]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MXNet's MultiBoxTarget. The ground truths are a batch's label rows before the first of class -1. Each is
    matched to a free anchor, the best overlap left first (ties: the first anchor, then the first ground truth);
    then every other anchor to its best ground truth where that overlap passes ``overlap_threshold``. The rest are
    background: all, or (``mining_ratio`` > 0) that many per match (none where that count, a float, reaches
    ``mining_overflow``) of those overlapping less than ``mining_thresh``, the least likely background first; others
    take ``ignore_label``. Returns the box targets
    (offsets over ``variances``), their mask and the class targets (a match's class + 1, background 0)."""
    boxes = anchors.reshape(1, -1, 1, 4)
    truths = labels[:, :, 1:5].unsqueeze(1)
    batch, count, rows = labels.shape[0], boxes.shape[1], labels.shape[1]
    width = torch.minimum(boxes[..., 2], truths[..., 2]) - torch.maximum(boxes[..., 0], truths[..., 0])
    height = torch.minimum(boxes[..., 3], truths[..., 3]) - torch.maximum(boxes[..., 1], truths[..., 1])
    inter = width.clamp(min=0.0) * height.clamp(min=0.0)
    union = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1]) \\
        + (truths[..., 2] - truths[..., 0]) * (truths[..., 3] - truths[..., 1]) - inter
    iou = torch.where(union == 0, torch.zeros_like(inter), inter / union)
    valid = (labels[:, :, 0] != -1).to(torch.int64).cumprod(1) > 0
    iou = torch.where(valid.unsqueeze(1), iou, torch.full_like(iou, -2.0))
    positive = torch.zeros([batch, count], dtype=torch.bool, device=labels.device)
    matched = torch.zeros([batch, count], dtype=torch.int64, device=labels.device)
    free_truths = valid
    anchor_ids = torch.arange(count, device=labels.device)
    truth_ids = torch.arange(rows, device=labels.device)
    for _ in range(rows):
        free = (~positive).unsqueeze(2) & free_truths.unsqueeze(1)
        scores = torch.where(free, iou, torch.full_like(iou, -1.0)).reshape(batch, -1)
        best = torch.argmax(scores, dim=1)
        found = (scores.gather(1, best.unsqueeze(1)) > 1e-6).squeeze(1)
        anchor = (anchor_ids == torch.div(best, rows, rounding_mode="floor").unsqueeze(1)) & found.unsqueeze(1)
        truth = (truth_ids == (best % rows).unsqueeze(1)) & found.unsqueeze(1)
        matched = torch.where(anchor, (best % rows).unsqueeze(1), matched)
        positive = positive | anchor
        free_truths = free_truths & ~truth
    best_truth = torch.argmax(iou, dim=2)
    best_iou = iou.gather(2, best_truth.unsqueeze(2)).squeeze(2)
    if overlap_threshold > 0:
        more = ~positive & (best_iou > overlap_threshold)
        matched = torch.where(more, best_truth, matched)
        positive = positive | more
    if mining_ratio > 0:
        matches = positive.sum(1)
        mined = matches.to(torch.float32) * mining_ratio
        wanted = torch.where(mined < mining_overflow, torch.minimum(mined.to(torch.int64), count - matches),
                             torch.zeros_like(matches))
        candidate = ~positive & (best_iou < mining_thresh)
        background = torch.softmax(preds, 1)[:, 0]
        background = torch.where(candidate, background, torch.full_like(background, float("inf")))
        other, this = background.unsqueeze(1), background.unsqueeze(2)
        ahead = (other < this) | ((other == this) & (anchor_ids.unsqueeze(0) < anchor_ids.unsqueeze(1)))
        negative = candidate & (ahead.sum(2) < wanted.unsqueeze(1))  # the least likely background first
    else:
        negative = ~positive
    negative = negative & valid.any(1, keepdim=True)
    classes = labels[:, :, 0].gather(1, matched) + 1
    cls_target = torch.where(positive, classes, torch.where(negative, torch.zeros_like(classes),
                                                            torch.full_like(classes, ignore_label)))
    truth = labels[:, :, 1:5].gather(1, matched.unsqueeze(2).expand(batch, count, 4))
    box = anchors.reshape(1, -1, 4)
    box_width, box_height = box[..., 2] - box[..., 0], box[..., 3] - box[..., 1]
    targets = torch.stack([
        ((truth[..., 0] + truth[..., 2]) * 0.5 - (box[..., 0] + box[..., 2]) * 0.5) / box_width / variances[0],
        ((truth[..., 1] + truth[..., 3]) * 0.5 - (box[..., 1] + box[..., 3]) * 0.5) / box_height / variances[1],
        torch.log((truth[..., 2] - truth[..., 0]) / box_width) / variances[2],
        torch.log((truth[..., 3] - truth[..., 1]) / box_height) / variances[3]], -1)
    mask = positive.unsqueeze(2).expand(batch, count, 4)
    loc_target = torch.where(mask, targets, torch.zeros_like(targets)).reshape(batch, -1)
    return loc_target, mask.to(labels.dtype).reshape(batch, -1), cls_target
'''


@register("_contrib_MultiBoxTarget")
def multibox_target(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    settings = ", ".join(num(a[key]) for key in ("overlap_threshold", "ignore_label", "negative_mining_ratio",
                                                  "negative_mining_thresh"))
    inputs = ", ".join(ctx.input(i) for i in range(3))
    return Lowering(f"{ctx.helper('mxnet_multibox_target')}({inputs}, {settings}, {num(MINED_COUNT_OVERFLOW)}, "
                    f"{list(a['variances'])})")


@register("_contrib_PSROIPooling")
def psroi_pooling(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    for helper in ("mxnet_round", "mxnet_psroi_boxes", "mxnet_psroi_channels"):
        ctx.helper(helper)
    return Lowering(f"{ctx.helper('mxnet_psroi_pooling')}({ctx.input(0)}, {ctx.input(1)}, "
                    f"{_float32(a['spatial_scale'])}, {a['output_dim']}, {a['pooled_size']}, {a['group_size']})")


@register("_contrib_DeformablePSROIPooling", check=deformable_psroi_refusal)
def deformable_psroi_pooling(ctx: TorchContext, node: Node) -> Lowering:
    """Without offsets the helper reads an empty tensor in their place. The sample counts, hidden, are not
    computed: a one-element list (which the generated code wraps where long) holds the output."""
    a = node.attrs
    for helper in ("mxnet_round", "mxnet_psroi_boxes", "mxnet_psroi_channels", "mxnet_psroi_sample_axis"):
        ctx.helper(helper)
    trans = f"{ctx.input(0)}.new_zeros(0)" if a["no_trans"] else ctx.input(2)
    call = (f"{ctx.helper('mxnet_deformable_psroi_pooling')}({ctx.input(0)}, {ctx.input(1)}, {trans}, "
            f"{_float32(a['spatial_scale'])}, {a['output_dim']}, {a['pooled_size']}, {a['group_size']}, "
            f"{deformable_part_size(a)}, {a['sample_per_part']}, {_float32(a['trans_std'])}, {a['no_trans']})")
    return Lowering(f"[{call}]")


@register("_contrib_RROIAlign", check=rroi_align_refusal)
def rroi_align(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    ctx.helper("mxnet_bilinear_axis")
    pooled_h, pooled_w = a["pooled_size"]
    return Lowering(f"{ctx.helper('mxnet_rroi_align')}({ctx.input(0)}, {ctx.input(1)}, {pooled_h}, {pooled_w}, "
                    f"{_float32(a['spatial_scale'])}, {a['sampling_ratio']})")


@register("_contrib_bipartite_matching")
def bipartite_matching(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    rows, columns = ctx.shape(0)[-2:]
    return Lowering(f"{ctx.helper('mxnet_bipartite_matching')}({ctx.input(0)}, {_float32(a['threshold'])}, "
                    f"{a['is_ascend']}, {bipartite_matching_steps(node, rows, columns)})")
