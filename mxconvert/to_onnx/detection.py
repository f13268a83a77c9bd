"""Detection post-processing: box_nms, box_iou, box_encode, box_decode, ROIAlign, MultiBoxPrior, MultiBoxDetection,
(Multi)Proposal, MultiBoxTarget and bipartite_matching, and the research detectors' (Deformable)PSROIPooling and
RROIAlign, computed with MXNet's formulas, in its float32 (and, in Proposal, double) arithmetic and comparison order
(``semantics.detection``: multibox_prior_shapes, proposal_anchors, ...).

Suppression is built from primitives rather than NonMaxSuppression, which orders corners, keeps only one class per
call and computes overlaps of degenerate boxes unlike MXNet: the best candidates per batch entry are taken by TopK
(ties in index order, as MXNet's stable sort), and a Loop over blocks of them in score order compares each block
with the candidates from it on and resolves greedy suppression within the block in a few matrix products
(``_greedy_keep``; box_nms lays the valid candidates of all batch entries end to end first, and compares a block
with those of its own entries only); the rows are then laid out as each op lays them out. ROIAlign samples with
separable weights applied by MatMul, a few rois a step of a Scan where the maps weighted for all rois at once would
be large.
MultiBoxTarget's greedy matching is unrolled once per label row. The deformable pooling and RROIAlign gather the
pixels they read from the flattened data at indices computed from the rois."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper

from ..dynamic import all_fixed
from ..errors import NotExpressible
from ..ir import Node
from ..semantics.detection import (MINED_COUNT_OVERFLOW, bipartite_matching_steps, box_nms_rows_read,
                                   deformable_offset_index, deformable_psroi_refusal, multibox_detection_limit,
                                   multibox_prior_shapes, nan_guarded_boxes, position_sensitive_channels,
                                   proposal_anchors, proposal_counts, roi_align_grid_refusal, roi_align_step,
                                   rroi_align_refusal)
from .context import EmitContext
from .registry import register


def _column(ctx: EmitContext, x: str, index: int) -> str:
    """Entry ``index`` of the last axis of ``x`` (that axis dropped)."""
    return ctx.add("Gather", [x, ctx.const(np.int64(index), "column", dtype=np.int64)], axis=-1)


def _select(ctx: EmitContext, condition: str, x: str, y: str) -> str:
    return ctx.add("Where", [condition, x, y])


def _box_area(ctx: EmitContext, coords: list[str], box_format: str) -> str:
    """MXNet's BoxArea: width x height, 0 where either is negative."""
    if box_format == "corner":
        width, height = ctx.add("Sub", [coords[2], coords[0]]), ctx.add("Sub", [coords[3], coords[1]])
    else:
        width, height = coords[2], coords[3]
    zero = ctx.const(0.0, "zero")
    negative = ctx.add("Or", [ctx.add("Less", [width, zero]), ctx.add("Less", [height, zero])])
    return _select(ctx, negative, zero, ctx.add("Mul", [width, height]))


def _overlap_1d(ctx: EmitContext, a: tuple[str, str], b: tuple[str, str], box_format: str) -> str:
    """MXNet's Intersect along one axis: the overlap of [a0, a1] and [b0, b1] (centre and size for ``center``),
    0 unless positive."""
    if box_format == "center":
        half_a, half_b = (ctx.add("Div", [size, ctx.const(2.0, "two")]) for _, size in (a, b))
        a = ctx.add("Sub", [a[0], half_a]), ctx.add("Add", [a[0], half_a])
        b = ctx.add("Sub", [b[0], half_b]), ctx.add("Add", [b[0], half_b])
        left = _select(ctx, ctx.add("Greater", [b[0], a[0]]), b[0], a[0])
        right = _select(ctx, ctx.add("Less", [b[1], a[1]]), b[1], a[1])
    else:
        left = _select(ctx, ctx.add("Greater", [a[0], b[0]]), a[0], b[0])
        right = _select(ctx, ctx.add("Less", [a[1], b[1]]), a[1], b[1])
    width = ctx.add("Sub", [right, left])
    zero = ctx.const(0.0, "zero")
    return _select(ctx, ctx.add("Greater", [width, zero]), width, zero)


def _raw_area(ctx: EmitContext, coords: list[str]) -> str:
    return ctx.add("Mul", [ctx.add("Sub", [coords[2], coords[0]]), ctx.add("Sub", [coords[3], coords[1]])])


def _pairwise_iou(ctx: EmitContext, a: list[str], b: list[str], box_format: str, empty_is_zero: bool) -> str:
    """Intersection over union of boxes ``a`` and ``b`` (coordinate tensors that broadcast against each other):
    intersect / (area_a + area_b - intersect). box_iou gives 0 where boxes do not intersect; box_nms divides
    (0 / 0 is NaN there, which suppresses nothing)."""
    intersect = ctx.add("Mul", [_overlap_1d(ctx, (a[0], a[2]), (b[0], b[2]), box_format),
                                _overlap_1d(ctx, (a[1], a[3]), (b[1], b[3]), box_format)])
    union = ctx.add("Sub", [ctx.add("Add", [_box_area(ctx, a, box_format), _box_area(ctx, b, box_format)]),
                            intersect])
    iou = ctx.add("Div", [intersect, union])
    if not empty_is_zero:
        return iou
    zero = ctx.const(0.0, "zero")
    return _select(ctx, ctx.add("Not", [ctx.add("Greater", [intersect, zero])]), zero, iou)


def _rows_read_alone(ctx: EmitContext, rows_read: int | None, boxes: str, entries: int | None) -> int | str | None:
    """box_nms's ``rows_read`` where its candidates, laid end to end, are one batch entry's (``entries``, the number
    of entries, known or None): the count itself for one entry, for entries known at run time only a float32 tensor
    that is the count for one entry and infinite (never reached) for more; None for more entries or no such count."""
    if rows_read is None or (entries or 1) > 1:
        return None
    if entries == 1:
        return rows_read
    alone = ctx.add("Equal", [_dims(ctx, ctx.add("Shape", [boxes]), 0, 1), ctx.ints([1], "one")])
    return _select(ctx, alone, ctx.const([float(rows_read)], "enough"), ctx.const([np.inf], "never"))


class _EndToEnd:
    """The candidates ``keep`` marks (batch, count; a prefix of each batch entry) laid end to end, entry after entry
    (``flat``: their indices in the flattened batch, ``total`` of them), so that suppression works on each entry's
    valid candidates only; ``ends``: the end of each one's entry there."""

    def __init__(self, ctx: EmitContext, keep: str, count: int | str):
        self.ctx = ctx
        self.count = ctx.ints([count], "count") if isinstance(count, int) else count
        self.flat = ctx.squeeze(ctx.add("NonZero", [ctx.reshape(keep, [-1])]), [0])
        self.total = ctx.add("Shape", [self.flat])
        self.per_entry = ctx.reduce_sum(ctx.add("Cast", [keep], to=TensorProto.INT64), [1], keepdims=0)
        self.cumulative = ctx.add("CumSum", [self.per_entry, ctx.const(np.int64(0), "axis", dtype=np.int64)])
        self.entry = ctx.add("Div", [self.flat, self.count])
        self.ends = ctx.add("Gather", [self.cumulative, self.entry])

    def gather(self, x: str) -> str:
        """Values (batch, count) of the candidates laid end to end: (1, total)."""
        return self.ctx.unsqueeze(self.ctx.add("Gather", [self.ctx.reshape(x, [-1]), self.flat]), [0])

    def entries(self) -> str:
        """The batch entry of each candidate laid end to end: (1, total)."""
        return self.ctx.unsqueeze(self.entry, [0])

    def spread(self, flags: str) -> str:
        """Flags (1, total) of the candidates laid end to end back at their places (batch, count), False elsewhere."""
        ctx = self.ctx
        positions = ctx.unsqueeze(_range(ctx, 0, ctx.squeeze(self.count, [0]), 1), [0])
        inside = ctx.add("Less", [positions, ctx.unsqueeze(self.per_entry, [1])])
        starts = ctx.unsqueeze(ctx.add("Sub", [self.cumulative, self.per_entry]), [1])
        index = _select(ctx, inside, ctx.add("Add", [starts, positions]), self.total)
        padded = ctx.add("Concat", [ctx.squeeze(flags, [0]), ctx.const(np.array([False]), "none", dtype=bool)], axis=0)
        return ctx.add("Gather", [padded, index])


def _nms_overlap(ctx: EmitContext, coords: list[str], box_format: str,
                 overlap_thresh: float) -> Callable[[Callable[[str], str], Callable[[str], str]], str]:
    """box_nms's overlaps of kept candidates ``rows(x)`` with later ones ``columns(x)`` (``coords``: the four
    coordinates of every candidate), as its test against ``overlap_thresh`` reads them. The edges and areas are
    computed once per candidate and the pairs take Max / Min of edges (NaN edges guarded as
    ``nan_guarded_boxes`` says), several times faster than selects; a negative or NaN threshold takes MXNet's
    selects pair by pair."""
    guarded = nan_guarded_boxes(box_format, overlap_thresh)
    if guarded is None:
        return lambda rows, columns: _pairwise_iou(ctx, [rows(c) for c in coords], [columns(c) for c in coords],
                                                   box_format, empty_is_zero=False)
    if box_format == "center":
        halves = [ctx.add("Div", [size, ctx.const(2.0, "two")]) for size in coords[2:]]
        edges = [ctx.add("Sub", [coords[0], halves[0]]), ctx.add("Sub", [coords[1], halves[1]]),
                 ctx.add("Add", [coords[0], halves[0]]), ctx.add("Add", [coords[1], halves[1]])]
    else:
        edges = coords
    fills = [-np.inf, -np.inf, np.inf, np.inf]
    safe = [_select(ctx, ctx.add("IsNaN", [edge]), ctx.const(fill, "edge_fill"), edge)
            for edge, fill in zip(edges, fills)]
    kept, later = (safe, edges) if guarded == "kept" else (edges, safe)
    area = _box_area(ctx, coords, box_format)
    zero = ctx.const(0.0, "zero")

    def overlap(rows: Callable[[str], str], columns: Callable[[str], str]) -> str:
        sides = [ctx.add("Max", [ctx.add("Sub", [ctx.add("Min", [rows(kept[axis + 2]), columns(later[axis + 2])]),
                                                 ctx.add("Max", [rows(kept[axis]), columns(later[axis])])]), zero])
                 for axis in range(2)]
        intersect = ctx.add("Mul", sides)
        union = ctx.add("Sub", [ctx.add("Add", [rows(area), columns(area)]), intersect])
        return ctx.add("Div", [intersect, union])

    return overlap


def _gather_rows(ctx: EmitContext, x: str, order: str, width: int) -> str:
    """Rows ``order`` (batch, k) of ``x`` (batch, n, width)."""
    index = ctx.add("Expand", [ctx.unsqueeze(order, [2]), ctx.ints([1, 1, width])])
    return ctx.add("GatherElements", [x, index], axis=1)


def _top_indices(ctx: EmitContext, key: str, count: int | str) -> str:
    """Indices of the ``count`` (a size, or a one-element int64 tensor) largest of each row of ``key``, ties in
    index order (TopK's rule, and the order of MXNet's stable sort)."""
    k = ctx.ints([count], "k") if isinstance(count, int) else count
    order = ctx.temp("order")
    ctx.add("TopK", [key, k], [ctx.temp("values"), order], axis=1, largest=1, sorted=1)
    return order


def _float_of(ctx: EmitContext, x: str) -> str:
    return ctx.add("Cast", [x], to=helper.np_dtype_to_tensor_dtype(ctx.float_type))


def _range(ctx: EmitContext, start: int | str, limit: int | str, delta: int) -> str:
    """ONNX Range over int64 scalars: ``start`` and ``limit`` a number or a scalar tensor."""
    start, limit = (ctx.const(np.int64(v), "bound", dtype=np.int64) if isinstance(v, int) else v
                    for v in (start, limit))
    return ctx.add("Range", [start, limit, ctx.const(np.int64(delta), "delta", dtype=np.int64)])


def _countdown(ctx: EmitContext, count: int | str) -> str:
    """count, count - 1, ..., 1 in the float type: a rank that puts earlier rows first."""
    if isinstance(count, int):
        return ctx.const(np.arange(count, 0, -1), "rank")
    return _float_of(ctx, _range(ctx, ctx.squeeze(count, [0]), 0, -1))


def _at_most(ctx: EmitContext, count: str, limit: int | str) -> str:
    """min(``count``, ``limit``) of a one-element int64 tensor and a size or another such tensor, ``count`` itself
    for a negative size (Min takes no integers before opset 12)."""
    if isinstance(limit, int) and limit < 0:
        return count
    bound = ctx.ints([limit], "limit") if isinstance(limit, int) else limit
    return _select(ctx, ctx.add("Less", [count, bound]), count, bound)


def _dims(ctx: EmitContext, shape: str, start: int, end: int) -> str:
    """Dims ``start:end`` of a live ``shape`` (int64)."""
    return ctx.add("Slice", [shape, ctx.ints([start], "starts"), ctx.ints([end], "ends"), ctx.ints([0], "axes")])


NMS_ROWS = 256  # candidates a step of the suppression Loop resolves together
NMS_STEP_VALUES = 1 << 23  # overlaps a step holds at once: 32 MB in float32


def _nms_block_size(candidates: int) -> int:
    """Candidates a suppression step resolves together: NMS_ROWS, halved (to 32 at least) while their overlaps with
    ``candidates`` (those of one batch entry, the most a step compares a block with beyond itself) exceed
    NMS_STEP_VALUES."""
    size = NMS_ROWS
    while size > 32 and size * candidates > NMS_STEP_VALUES:
        size //= 2
    return size


def _greedy_keep(ctx: EmitContext, keep: str, count: int | str,
                 suppressed_by: Callable[[Callable[[str], str], Callable[[str], str]], str],
                 block_size: int = NMS_ROWS, enough: int | str | None = None, ends: str | None = None) -> str:
    """Greedy suppression of the ``count`` candidates (``keep``: batch, count) in score order: a candidate still
    kept drops every later one it suppresses. ``suppressed_by(rows, columns)`` (batch, rows, columns) compares
    candidates ``rows(x)`` (batch, rows, 1) with ``columns(x)`` (batch, 1, columns) of values x (batch, count).
    A Loop takes ``block_size`` candidates a step and their overlaps with every candidate from the first of them on
    (memory grows with ``count``, not its square): within the block, greedy suppression is the fixed point of
    "kept unless a kept earlier one suppresses it", reached by an inner Loop in as many steps as the longest chain
    of suppressions needs (at most the block's size); the block's kept candidates then drop the later ones.
    ``count``: a size, or a one-element int64 tensor where it is known at run time only. The Loop stops where no
    later candidate is still kept (the invalid ones, sorted last, never are) and, given ``enough``, once every
    batch entry keeps that many candidates (only those are read; a size, or a one-element float32 tensor).
    ``ends`` (count,): where given, the end of the
    candidates each one may suppress; a block is compared with those up to its last candidate's end only."""
    block = ctx.const(np.int64(block_size), "block", dtype=np.int64)
    if isinstance(count, int):
        trips = ctx.const(np.int64(-(-count // block_size)), "trips", dtype=np.int64)
        positions = ctx.const(np.arange(count), "positions", dtype=np.int64)
    else:
        size = ctx.squeeze(count, [0])
        trips = ctx.add("Div", [ctx.add("Add", [size, ctx.const(np.int64(block_size - 1), "round_up", dtype=np.int64)]),
                                block])
        positions = _range(ctx, 0, size, 1)
    prefix = ctx.temp("nms")
    step, carried, kept = f"{prefix}_step", f"{prefix}_keep", f"{prefix}_kept"
    block_end = ctx.ints([block_size], "block_end")

    def build() -> str | None:
        first = ctx.unsqueeze(ctx.add("Mul", [step, block]), [0])
        last = ctx.add("Add", [first, block])
        end = ctx.ints([np.iinfo(np.int64).max], "end")
        stop = end if ends is None else ctx.add("Gather", [ends, ctx.add("Sub", [
            _at_most(ctx, last, count), ctx.ints([1], "one")])])

        def part(x: str, begin: str, stop: str, axis: int) -> str:
            return ctx.add("Slice", [x, begin, stop, ctx.ints([axis], "axes")])

        def rows(x: str) -> str:
            return ctx.unsqueeze(part(x, first, last, 1), [2])

        def columns(x: str) -> str:
            return ctx.unsqueeze(part(x, first, stop, 1), [1])

        later = ctx.add("Greater", [part(positions, first, stop, 0),
                                    ctx.unsqueeze(part(positions, first, last, 0), [1])])
        hits = ctx.add("Cast", [ctx.add("And", [suppressed_by(rows, columns), later])], to=TensorProto.FLOAT)
        own = part(hits, ctx.ints([0], "starts"), block_end, 2)
        current = part(carried, first, stop, 1)
        initial = part(current, ctx.ints([0], "starts"), block_end, 1)
        settled = _fixed_point(ctx, initial, own, block_size)
        zero = ctx.const(0.0, "zero", dtype=np.float32)

        def tally(flags: str, axes: list[int]) -> str:
            return ctx.reduce_sum(ctx.add("Cast", [flags], to=TensorProto.FLOAT), axes, keepdims=0)

        dropped = ctx.add("Greater", [_kept_hits(ctx, settled, hits), zero])
        tail = [] if ends is None else [part(carried, stop, end, 1)]
        ctx.add("Concat", [part(carried, ctx.ints([0], "starts"), first, 1),
                           ctx.add("And", [current, ctx.add("Not", [dropped])]), *tail], kept, axis=1)
        going = ctx.add("Greater", [tally(part(kept, last, end, 1), [0, 1]), zero])  # a later candidate kept
        if enough is None:
            return going
        short = ctx.add("Less", [tally(part(kept, ctx.ints([0], "starts"), last, 1), [1]),
                                 ctx.const(float(enough), "enough", dtype=np.float32) if isinstance(enough, int)
                                 else enough])
        return ctx.add("And", [going, ctx.add("Greater", [tally(short, [0]), zero])])

    body = _loop_body(ctx, prefix, build, [(carried, kept, TensorProto.BOOL)])
    return ctx.add("Loop", [trips, ctx.const(True, "go", dtype=bool), keep], body=body)


def _kept_hits(ctx: EmitContext, kept: str, hits: str) -> str:
    """How many of the ``kept`` candidates (batch, rows) mark each column of ``hits`` (batch, rows, columns; 0 or
    1 in float32, so the sums are exact): (batch, columns)."""
    marks = ctx.unsqueeze(ctx.add("Cast", [kept], to=TensorProto.FLOAT), [1])
    return ctx.squeeze(ctx.add("MatMul", [marks, hits]), [1])


def _fixed_point(ctx: EmitContext, initial: str, own: str, block_size: int) -> str:
    """Greedy suppression within one block: the candidates of ``initial`` (batch, rows) not suppressed by a kept
    earlier one (``own``: batch, rows, rows, later ones marked). Iterating "initial and not hit by the kept" from
    ``initial`` settles the first n candidates by step n, so a Loop runs until nothing changes (at most rows
    steps)."""
    prefix = ctx.temp("settle")
    carried, settled = f"{prefix}_keep", f"{prefix}_kept"

    def build() -> str:
        hit = ctx.add("Greater", [_kept_hits(ctx, carried, own), ctx.const(0.0, "zero", dtype=np.float32)])
        ctx.add("And", [initial, ctx.add("Not", [hit])], settled)
        changes = ctx.add("Cast", [ctx.add("Xor", [settled, carried])], to=TensorProto.FLOAT)
        return ctx.add("Greater", [ctx.reduce_sum(changes, [0, 1], keepdims=0),
                                   ctx.const(0.0, "zero", dtype=np.float32)])

    body = _loop_body(ctx, prefix, build, [(carried, settled, TensorProto.BOOL)])
    trips = ctx.const(np.int64(block_size), "trips", dtype=np.int64)
    return ctx.add("Loop", [trips, ctx.const(True, "go", dtype=bool), initial], body=body)


def _loop_body(ctx: EmitContext, prefix: str, build: Callable[[], str | None],
               carried: list[tuple[str, str, int]]) -> onnx.GraphProto:
    """A Loop body of the nodes ``build`` adds, reading the step ``{prefix}_step`` and the ``carried`` values (name
    in, name out, element type); the condition is the one ``build`` returns, else passed on."""
    def body() -> None:
        condition = build() or f"{prefix}_cond"
        ctx.add("Identity", [condition], f"{prefix}_cond_out")

    return _subgraph(ctx, f"{prefix}_body", body,
                     [(f"{prefix}_step", TensorProto.INT64, []), (f"{prefix}_cond", TensorProto.BOOL, []),
                      *((name, kind, None) for name, _, kind in carried)],
                     [(f"{prefix}_cond_out", TensorProto.BOOL, []), *((name, kind, None) for _, name, kind in carried)])


def _subgraph(ctx: EmitContext, name: str, build: Callable[[], None], inputs: list[tuple[str, int, list | None]],
              outputs: list[tuple[str, int, list | None]]) -> onnx.GraphProto:
    """A control-flow body of the nodes ``build`` adds (initializers stay outside, in scope), with ``inputs`` and
    ``outputs`` (name, element type, shape or None)."""
    outer, ctx.nodes = ctx.nodes, []
    try:
        build()
        nodes = ctx.nodes
    finally:
        ctx.nodes = outer
    value = helper.make_tensor_value_info
    return helper.make_graph(nodes, name, [value(*spec) for spec in inputs], [value(*spec) for spec in outputs])


def _convert_format(ctx: EmitContext, rows: str, start: int, width: int, to_center: bool) -> str:
    """MXNet's corner_to_center / center_to_corner on the four coordinates from ``start`` of every row whose
    first coordinate is not negative (-1 rows and boxes left of 0 stay as they are)."""
    x = [_column(ctx, rows, start + i) for i in range(4)]
    two = ctx.const(2.0, "two")
    if to_center:
        new = [ctx.add("Div", [ctx.add("Add", [x[0], x[2]]), two]),
               ctx.add("Div", [ctx.add("Add", [x[1], x[3]]), two]),
               ctx.add("Sub", [x[2], x[0]]), ctx.add("Sub", [x[3], x[1]])]
    else:
        half_w, half_h = ctx.add("Div", [x[2], two]), ctx.add("Div", [x[3], two])
        new = [ctx.add("Sub", [x[0], half_w]), ctx.add("Sub", [x[1], half_h]),
               ctx.add("Add", [x[0], half_w]), ctx.add("Add", [x[1], half_h])]
    skip = ctx.add("Less", [x[0], ctx.const(0.0, "zero")])
    parts = [ctx.unsqueeze(_select(ctx, skip, old, value), [2]) for old, value in zip(x, new)]
    before = ctx.add("Slice", [rows, ctx.ints([0], "starts"), ctx.ints([start], "ends"), ctx.ints([2], "axes")])
    after = ctx.add("Slice", [rows, ctx.ints([start + 4], "starts"), ctx.ints([width], "ends"), ctx.ints([2], "axes")])
    return ctx.add("Concat", [before, *parts, after], axis=2)


@register("_contrib_box_nms")
def box_nms(ctx: EmitContext, node: Node) -> None:
    """The box count is read from the input at run time (it follows the image size in SSD and YOLOv3), and with
    it the number of candidates, ``min(topk, count)``. Many candidates of many batch entries (R-CNN's classes) are
    suppressed in smaller blocks (``_nms_block_size``); suppression stops where no later candidate is left to keep
    and, where the readers take only the first rows (``box_nms_rows_read``), once that many are kept."""
    a = node.attrs
    width = ctx.shape(0)[-1]
    if a["topk"] == 0:  # MXNet copies its input
        ctx.add("Identity", [ctx.input(0)], ctx.output())
        return
    shape = ctx.add("Shape", [ctx.input(0)])
    elements = _dims(ctx, shape, -2, -1)
    boxes = ctx.add("Reshape", [ctx.input(0), ctx.add("Concat", [ctx.ints([-1]), elements, ctx.ints([width])], axis=0)])
    count = _at_most(ctx, elements, a["topk"])
    zero = ctx.const(0.0, "zero")
    valid = ctx.add("Greater", [_column(ctx, boxes, a["score_index"]), ctx.const(a["valid_thresh"], "valid_thresh")])
    if a["id_index"] >= 0:
        background = ctx.add("Equal", [_column(ctx, boxes, a["id_index"]), ctx.const(float(a["background_id"]))])
        valid = ctx.add("And", [valid, ctx.add("Not", [background])])
    key = _select(ctx, valid, _column(ctx, boxes, a["score_index"]), ctx.const(-np.inf, "lowest"))
    order = _top_indices(ctx, key, count)
    rows = _gather_rows(ctx, boxes, order, width)
    keep = ctx.add("GatherElements", [valid, order], axis=1)
    coords = [_column(ctx, rows, a["coord_start"] + i) for i in range(4)]
    by_class = a["id_index"] >= 0 and not a["force_suppress"]
    ids = ctx.add("Cast", [_column(ctx, rows, a["id_index"])], to=TensorProto.INT64) if by_class else None
    ragged = _EndToEnd(ctx, keep, count)
    overlap = _nms_overlap(ctx, [ragged.gather(c) for c in coords], a["in_format"], a["overlap_thresh"])
    same = [ragged.entries(), ragged.gather(ids)] if by_class else [ragged.entries()]

    def suppressed_by(rows: Callable[[str], str], columns: Callable[[str], str]) -> str:
        over = ctx.add("Greater", [overlap(rows, columns), ctx.const(a["overlap_thresh"], "overlap_thresh")])
        for group in same:
            over = ctx.add("And", [over, ctx.add("Equal", [rows(group), columns(group)])])
        return over

    live = ctx.live(node.inputs[0])[:-1]
    static = all_fixed(live)
    per_entry = (min(live[-1], a["topk"]) if a["topk"] > 0 else live[-1]) if static else 0
    enough = _rows_read_alone(ctx, box_nms_rows_read(ctx.graph, node, len(ctx.shape(0))), boxes,
                              math.prod(live[:-1]) if static else None)
    settled = _greedy_keep(ctx, ragged.gather(keep), ragged.total, suppressed_by, _nms_block_size(per_entry), enough,
                           ragged.ends)
    keep = ragged.spread(settled)
    rank = _select(ctx, keep, _countdown(ctx, count), zero)  # kept rows first, in order
    compacted = _top_indices(ctx, rank, count)
    kept = ctx.unsqueeze(ctx.add("GatherElements", [keep, compacted], axis=1), [2])
    out = _select(ctx, kept, _gather_rows(ctx, rows, compacted, width), ctx.const(-1.0, "minus_one"))
    if a["topk"] > 0:  # the rows past the candidates
        pads = ctx.add("Concat", [ctx.ints([0, 0, 0, 0]), ctx.add("Sub", [elements, count]), ctx.ints([0])], axis=0)
        out = ctx.add("Pad", [out, pads, ctx.const(-1.0, "fill")])
    if a["in_format"] != a["out_format"]:
        out = _convert_format(ctx, out, a["coord_start"], width, a["out_format"] == "center")
    ctx.add("Reshape", [out, shape], ctx.output())


@register("_contrib_box_iou")
def box_iou(ctx: EmitContext, node: Node) -> None:
    lhs, rhs = (ctx.reshape(ctx.input(i), [-1, 4]) for i in (0, 1))
    a = [ctx.unsqueeze(_column(ctx, lhs, i), [1]) for i in range(4)]
    b = [ctx.unsqueeze(_column(ctx, rhs, i), [0]) for i in range(4)]
    iou = _pairwise_iou(ctx, a, b, node.attrs["format"], empty_is_zero=True)
    ctx.reshape(iou, ctx.out_shape(), ctx.output())


def _center_size(ctx: EmitContext, corners: list[str]) -> list[str]:
    """Corner boxes as centre x, centre y, width and height: xmin + width * 0.5 as MXNet computes them."""
    half = ctx.const(0.5, "half")
    width, height = ctx.add("Sub", [corners[2], corners[0]]), ctx.add("Sub", [corners[3], corners[1]])
    return [ctx.add("Add", [corners[0], ctx.add("Mul", [width, half])]),
            ctx.add("Add", [corners[1], ctx.add("Mul", [height, half])]), width, height]


@register("_contrib_box_decode")
def box_decode(ctx: EmitContext, node: Node) -> None:
    a = node.attrs
    deltas = [_column(ctx, ctx.input(0), i) for i in range(4)]
    anchors = ctx.reshape(ctx.input(1), [1, -1, 4])
    anchor = [_column(ctx, anchors, i) for i in range(4)]
    if a["format"] == "corner":
        anchor = _center_size(ctx, anchor)
    scaled = [ctx.add("Mul", [delta, ctx.const(a[f"std{i}"], "std")]) for i, delta in enumerate(deltas)]
    x, y = (ctx.add("Add", [ctx.add("Mul", [scaled[i], anchor[i + 2]]), anchor[i]]) for i in (0, 1))
    sizes = scaled[2:]
    if a["clip"] > 0:
        clip = ctx.const(a["clip"], "clip")
        sizes = [_select(ctx, ctx.add("Less", [size, clip]), size, clip) for size in sizes]
    half = ctx.const(0.5, "half")
    half_w, half_h = (ctx.add("Mul", [ctx.add("Mul", [ctx.add("Exp", [size]), anchor[i + 2]]), half])
                      for i, size in enumerate(sizes))
    corners = [ctx.add("Sub", [x, half_w]), ctx.add("Sub", [y, half_h]), ctx.add("Add", [x, half_w]),
               ctx.add("Add", [y, half_h])]
    ctx.add("Concat", [ctx.unsqueeze(c, [2]) for c in corners], ctx.output(), axis=2)


@register("_contrib_box_encode")
def box_encode(ctx: EmitContext, node: Node) -> None:
    """Targets of the anchors whose sample is above 0.5 towards their matched reference box, 0 elsewhere; the mask
    is 1 there, else 0. MXNet reads reference ``batch x refs + match`` (truncated) of all the batch's references,
    so a negative match reads the previous entry's; it is clipped into the array here."""
    samples, matches, anchors, refs, means, stds = (ctx.input(i) for i in range(6))
    batch, references = ctx.shape(3)[:2]
    valid = ctx.unsqueeze(ctx.add("Greater", [samples, ctx.const(0.5, "half")]), [2])
    whole = ctx.add("Cast", [ctx.add("Cast", [matches], to=TensorProto.INT64)],
                    to=helper.np_dtype_to_tensor_dtype(ctx.float_type))
    flat = ctx.add("Add", [whole, ctx.const(np.arange(batch).reshape(batch, 1) * references, "first")])
    clipped = ctx.add("Clip", [flat, ctx.const(0.0, "low"), ctx.const(batch * references - 1.0, "high")])
    index = ctx.add("Cast", [clipped], to=TensorProto.INT64)
    matched = ctx.add("Gather", [ctx.reshape(refs, [-1, 4]), index], axis=0)
    ref = _center_size(ctx, [_column(ctx, matched, i) for i in range(4)])
    anchor = _center_size(ctx, [_column(ctx, anchors, i) for i in range(4)])
    raw = [ctx.add("Div", [ctx.add("Sub", [ref[i], anchor[i]]), anchor[i + 2]]) for i in (0, 1)]
    raw += [ctx.add("Log", [ctx.add("Div", [ref[i], anchor[i]])]) for i in (2, 3)]
    targets = [ctx.unsqueeze(ctx.add("Div", [ctx.add("Sub", [value, _column(ctx, means, i)]), _column(ctx, stds, i)]),
                             [2]) for i, value in enumerate(raw)]
    zero, one = ctx.const(0.0, "zero"), ctx.const(1.0, "one")
    ctx.add("Where", [valid, ctx.add("Concat", targets, axis=2), zero], ctx.output(0))
    ctx.add("Expand", [_select(ctx, valid, one, zero), ctx.ints([1, 1, 4])], ctx.output(1))


def roi_align_refusal(node: Node, opset: int) -> str | None:
    """Why a ROIAlign is not converted: ``aligned`` with a grid sized by each box needs RoiAlign's half_pixel mode
    (opset 16); a huge grid."""
    if node.attrs["aligned"] and node.attrs["sample_ratio"] <= 0 and opset < 16:
        return "aligned needs opset 16"
    return roi_align_grid_refusal(node)


def _roi_align_weights(ctx: EmitContext, start: str, size: str, bins: int, samples: int, length: int) -> str:
    """Along one axis, the weight of every pixel in every bin of every box (rois, bins, length): the bilinear
    weights of the bin's ``samples`` points (MXNet's placement: 0 outside [-1, length], clamped to the last pixel),
    summed."""
    bin_size = ctx.unsqueeze(ctx.add("Div", [size, ctx.const(float(bins), "bins")]), [1])
    at_bins = ctx.add("Add", [ctx.unsqueeze(start, [1]),
                              ctx.add("Mul", [ctx.const(np.arange(bins)[None], "steps"), bin_size])])
    pixels = ctx.const(np.arange(length), "pixels", dtype=np.int64)
    zero, one = ctx.const(0.0, "zero"), ctx.const(1.0, "one")
    weights = None
    for sample in range(samples):
        offset = ctx.add("Div", [ctx.add("Mul", [ctx.const(sample + 0.5, "sample"), bin_size]),
                                 ctx.const(float(samples), "samples")])
        at = ctx.add("Add", [at_bins, offset])
        outside = ctx.add("Or", [ctx.add("Less", [at, ctx.const(-1.0, "minus_one")]),
                                 ctx.add("Greater", [at, ctx.const(float(length), "length")])])
        at = _select(ctx, ctx.add("Greater", [at, zero]), at, zero)
        low = ctx.add("Cast", [at], to=TensorProto.INT64)
        last = ctx.add("Not", [ctx.add("Less", [low, ctx.const(np.int64(length - 1), "last", dtype=np.int64)])])
        low = _select(ctx, last, ctx.const(np.int64(length - 1), "last", dtype=np.int64), low)
        high = _select(ctx, last, low, ctx.add("Add", [low, ctx.const(np.int64(1), "next", dtype=np.int64)]))
        at = _select(ctx, last, _float_of(ctx, low), at)
        high_weight = ctx.add("Sub", [at, _float_of(ctx, low)])
        low_weight = ctx.add("Sub", [one, high_weight])
        for pixel, weight in ((low, low_weight), (high, high_weight)):
            hit = _float_of(ctx, ctx.add("Equal", [ctx.unsqueeze(pixel, [2]), pixels]))
            term = ctx.add("Mul", [hit, ctx.unsqueeze(_select(ctx, outside, zero, weight), [2])])
            weights = term if weights is None else ctx.add("Add", [weights, term])
    return weights


def _roi_align_pool(ctx: EmitContext, rows: str, along_x: str, along_y: str, batch: str, shape: tuple[int, ...],
                    pooled_w: int, samples: int, out: str | None = None) -> str:
    """The bins of some rois: the map's rows (images, 1, channels x height, width) times each roi's x weights
    (rois, width, pooled_w), of its own image, then its y weights (rois, pooled_h, height) times those columns,
    over the samples a bin."""
    images, channels, height, _ = shape
    columns = ctx.add("MatMul", [rows, ctx.unsqueeze(along_x, [0])])
    columns = ctx.reshape(columns, [-1, channels, height, pooled_w])
    if images > 1:  # each roi's rows of its own image
        count = ctx.add("Shape", [batch])
        own = ctx.add("Add", [ctx.add("Mul", [batch, count]), _range(ctx, 0, ctx.squeeze(count, [0]), 1)])
        columns = ctx.add("Gather", [columns, own], axis=0)
    total = ctx.add("MatMul", [ctx.unsqueeze(along_y, [1]), columns])
    return ctx.add("Div", [total, ctx.const(float(samples * samples), "points")], out)


def _roi_align_steps(ctx: EmitContext, rows: str, along_x: str, along_y: str, batch: str, shape: tuple[int, ...],
                     pooled: tuple[int, int], samples: int, step: int, out: str | None) -> str:
    """``_roi_align_pool`` over ``step`` rois at a time in a Scan, each step's bins written in place into the
    result: only one step's x-weighted map is held at once."""
    prefix = ctx.temp("roi_step")
    x_step, y_step, image_step, bins = (f"{prefix}_{part}" for part in ("x", "y", "image", "bins"))
    float_type = helper.np_dtype_to_tensor_dtype(ctx.float_type)
    scanned = [ctx.reshape(along_x, [-1, step, shape[3], pooled[1]]),
               ctx.reshape(along_y, [-1, step, pooled[0], shape[2]])]
    inputs = [(x_step, float_type, [step, shape[3], pooled[1]]), (y_step, float_type, [step, pooled[0], shape[2]])]
    if shape[0] > 1:
        scanned.append(ctx.reshape(batch, [-1, step]))
        inputs.append((image_step, TensorProto.INT64, [step]))
    body = _subgraph(ctx, f"{prefix}_body",
                     lambda: _roi_align_pool(ctx, rows, x_step, y_step, image_step, shape, pooled[1], samples, bins),
                     inputs, [(bins, float_type, [step, shape[1], *pooled])])
    scanned = ctx.add("Scan", scanned, body=body, num_scan_inputs=len(scanned))
    return ctx.reshape(scanned, [-1, shape[1], *pooled], out)


@register("_contrib_ROIAlign", check=roi_align_refusal)
def roi_align(ctx: EmitContext, node: Node) -> None:
    """With a fixed sample_ratio on a map of fixed size, MXNet's sampling is separable: each box's weights along x,
    then along y (``_roi_align_weights``), applied as two MatMuls over all rois and channels at once, or where the
    x-weighted maps of all rois would be large, over a few rois a step of a Scan (``_roi_align_steps``). Otherwise
    (a grid sized by each box, a map whose size follows the dynamic axes): RoiAlign, which samples and averages
    each bin as MXNet does (sample_ratio points a side, or ceil(bin size)), batch indices truncated.
    Position-sensitive: every bin is pooled from every channel group and the group of its own bin is picked."""
    a = node.attrs
    rois = ctx.input(1)
    pooled_h, pooled_w = a["pooled_size"]
    batch = ctx.add("Cast", [_column(ctx, rois, 0)], to=TensorProto.INT64)
    out = ctx.output() if not a["position_sensitive"] else None
    if a["sample_ratio"] > 0 and all_fixed(ctx.live(node.inputs[0])):
        samples = a["sample_ratio"]
        shape = images, channels, height, width = ctx.shape(0)
        offset = ctx.const(0.5 if a["aligned"] else 0.0, "offset")
        scale = ctx.const(a["spatial_scale"], "spatial_scale")
        start, end = ([ctx.add("Sub", [ctx.add("Mul", [_column(ctx, rois, i), scale]), offset]) for i in (1, 2)],
                      [ctx.add("Sub", [ctx.add("Mul", [_column(ctx, rois, i), scale]), offset]) for i in (3, 4)])
        size = [ctx.add("Sub", [e, s]) for s, e in zip(start, end)]
        if not a["aligned"]:
            one = ctx.const(1.0, "one")
            size = [_select(ctx, ctx.add("Less", [side, one]), one, side) for side in size]
        along_x = ctx.add("Transpose", [_roi_align_weights(ctx, start[0], size[0], pooled_w, samples, width)],
                          perm=[0, 2, 1])
        along_y = _roi_align_weights(ctx, start[1], size[1], pooled_h, samples, height)
        rows = ctx.reshape(ctx.input(0), [images, 1, channels * height, width])
        count = ctx.live(node.inputs[1])[0]
        step = roi_align_step(count, images * channels * height * pooled_w) if isinstance(count, int) else 0
        if 0 < step < count:
            pooled = _roi_align_steps(ctx, rows, along_x, along_y, batch, shape, (pooled_h, pooled_w), samples,
                                      step, out)
        else:
            pooled = _roi_align_pool(ctx, rows, along_x, along_y, batch, shape, pooled_w, samples, out)
    else:
        if a["aligned"] and ctx.opset < 16:
            raise NotExpressible("aligned on a map whose size follows the dynamic axes needs opset 16")
        boxes = ctx.add("Slice", [rois, ctx.ints([1], "starts"), ctx.ints([5], "ends"), ctx.ints([1], "axes")])
        mode = {"coordinate_transformation_mode": "half_pixel" if a["aligned"] else "output_half_pixel"} \
            if ctx.opset >= 16 else {}
        pooled = ctx.add("RoiAlign", [ctx.input(0), boxes, batch], out, mode="avg", output_height=pooled_h,
                         output_width=pooled_w, sampling_ratio=max(0, a["sample_ratio"]),
                         spatial_scale=a["spatial_scale"], **mode)
    if a["position_sensitive"]:
        bins = pooled_h * pooled_w
        channels = ctx.out_shape()[1]
        grouped = ctx.reshape(pooled, [-1, channels, bins, bins])
        own_bin = np.broadcast_to(np.arange(bins), (ctx.out_shape()[0], channels, 1, bins))
        own = ctx.add("GatherElements", [grouped, ctx.const(own_bin, "own_bin", dtype=np.int64)], axis=2)
        ctx.reshape(own, [-1, channels, pooled_h, pooled_w], ctx.output())


@register("_contrib_MultiBoxPrior")
def multibox_prior(ctx: EmitContext, node: Node) -> None:
    """The anchors of the data's live height and width (``semantics.detection.multibox_prior_shapes``), in MXNet's float32
    order of operations."""
    a = node.attrs
    sizes, roots = (ctx.const(values, "anchor") for values in multibox_prior_shapes(a))
    shape = ctx.add("Shape", [ctx.input(0)])
    height, width = _dims(ctx, shape, 2, 3), _dims(ctx, shape, 3, 4)
    extents = [_float_of(ctx, height), _float_of(ctx, width)]
    two = ctx.const(2.0, "two")
    half_width = ctx.add("Div", [ctx.add("Mul", [ctx.add("Div", [ctx.add("Mul", [sizes, extents[0]]), extents[1]]),
                                                 roots]), two])
    half_height = ctx.add("Div", [ctx.add("Div", [sizes, roots]), two])
    half = ctx.add("Concat", [ctx.unsqueeze(half_width, [1]), ctx.unsqueeze(half_height, [1])], axis=1)
    centers = []
    for axis, extent in enumerate([height, width]):  # y, then x
        if a["steps"][0] > 0 and a["steps"][1] > 0:
            step = ctx.const(a["steps"][axis], "step")
        else:
            step = ctx.add("Div", [ctx.const(1.0, "one"), extents[axis]])
        positions = _range(ctx, 0, ctx.squeeze(extent, [0]), 1)
        centers.append(ctx.add("Mul", [ctx.add("Add", [_float_of(ctx, positions), ctx.const(a["offsets"][axis])]),
                                       step]))
    grid = ctx.add("Concat", [height, width], axis=0)
    center_x = ctx.add("Expand", [ctx.unsqueeze(centers[1], [0]), grid])
    center_y = ctx.add("Expand", [ctx.unsqueeze(centers[0], [1]), grid])
    center = ctx.reshape(ctx.add("Concat", [ctx.unsqueeze(c, [2]) for c in (center_x, center_y)], axis=2), [-1, 1, 2])
    boxes = ctx.reshape(ctx.add("Concat", [ctx.add("Sub", [center, half]), ctx.add("Add", [center, half])], axis=2),
                        [1, -1, 4])
    if a["clip"]:
        boxes = ctx.add("Clip", [boxes, ctx.const(0.0, "zero"), ctx.const(1.0, "one")])
    ctx.add("Identity", [boxes], ctx.output())


def _clip_unit(ctx: EmitContext, x: str) -> str:
    """max(0, min(1, x)) in MXNet's order."""
    one, zero = ctx.const(1.0, "one"), ctx.const(0.0, "zero")
    low = _select(ctx, ctx.add("Less", [x, one]), x, one)
    return _select(ctx, ctx.add("Greater", [low, zero]), low, zero)


def _multibox_boxes(ctx: EmitContext, node: Node) -> list[str]:
    """MultiBoxDetection's boxes: offsets (scaled by the variances) applied to the corner anchors, clipped to
    [0, 1] with ``clip``; four (batch, anchors) coordinates."""
    a = node.attrs
    offsets = ctx.reshape(ctx.input(1), [0, -1, 4])
    anchors = ctx.reshape(ctx.input(2), [1, -1, 4])
    p = [_column(ctx, offsets, i) for i in range(4)]
    left, top, right, bottom = (_column(ctx, anchors, i) for i in range(4))
    two = ctx.const(2.0, "two")
    sizes = [ctx.add("Sub", [right, left]), ctx.add("Sub", [bottom, top])]
    centers = [ctx.add("Div", [ctx.add("Add", [left, right]), two]),
               ctx.add("Div", [ctx.add("Add", [top, bottom]), two])]
    variances = [ctx.const(v, "variance") for v in a["variances"]]
    corners = []
    for i in (0, 1):
        center = ctx.add("Add", [ctx.add("Mul", [ctx.add("Mul", [p[i], variances[i]]), sizes[i]]), centers[i]])
        half = ctx.add("Div", [ctx.add("Mul", [ctx.add("Exp", [ctx.add("Mul", [p[i + 2], variances[i + 2]])]),
                                               sizes[i]]), two])
        corners.append((ctx.add("Sub", [center, half]), ctx.add("Add", [center, half])))
    boxes = [corners[0][0], corners[1][0], corners[0][1], corners[1][1]]
    return [_clip_unit(ctx, box) for box in boxes] if a["clip"] else boxes


@register("_contrib_MultiBoxDetection")
def multibox_detection(ctx: EmitContext, node: Node) -> None:
    """Per anchor the first most probable class after the background (-1 for none above -1 or below
    ``threshold``); the detections moved to the front in anchor order; unless nms_threshold is outside (0, 1],
    the best ``nms_topk`` sorted by score (stable) and suppressed greedily where IoU >= nms_threshold (same class
    unless ``force_suppress``): suppressed rows stay in place with class -1, and the rows past nms_topk keep their
    unsorted place with class -1, as MXNet leaves them. The anchor count is read at run time."""
    a = node.attrs
    classes = ctx.shape(0)[1]
    shape = ctx.add("Shape", [ctx.input(0)])
    anchors = _dims(ctx, shape, 2, 3)
    minus_one = ctx.const(-1.0, "minus_one")
    if classes < 2:  # no foreground class: nothing is detected
        out_shape = ctx.add("Concat", [_dims(ctx, shape, 0, 1), anchors, ctx.ints([6])], axis=0)
        ctx.add("Expand", [minus_one, out_shape], ctx.output())
        return
    foreground = ctx.add("Slice", [ctx.input(0), ctx.ints([1], "starts"), ctx.ints([classes], "ends"),
                                   ctx.ints([1], "axes")])
    best = ctx.add("ArgMax", [foreground], axis=1, keepdims=1)
    score = ctx.squeeze(ctx.add("GatherElements", [foreground, best], axis=1), [1])
    found = ctx.add("Greater", [score, minus_one])
    score = _select(ctx, found, score, minus_one)
    best = _float_of(ctx, ctx.squeeze(best, [1]))  # the class less the background
    below = ctx.add("Less", [score, ctx.const(a["threshold"], "threshold")])
    valid = ctx.add("And", [found, ctx.add("Not", [below])])
    label = _select(ctx, valid, best, minus_one)
    rows = ctx.add("Concat", [ctx.unsqueeze(c, [2]) for c in [label, score, *_multibox_boxes(ctx, node)]], axis=2)
    zero = ctx.const(0.0, "zero")
    in_place = _top_indices(ctx, _select(ctx, valid, _countdown(ctx, anchors), zero), anchors)
    compacted = _select(ctx, ctx.unsqueeze(ctx.add("GatherElements", [valid, in_place], axis=1), [2]),
                        _gather_rows(ctx, rows, in_place, 6), minus_one)
    limit = multibox_detection_limit(node)
    if limit == 0:
        ctx.add("Identity", [compacted], ctx.output())
        return
    count = _at_most(ctx, anchors, limit)
    order = _top_indices(ctx, _select(ctx, valid, score, ctx.const(-np.inf, "lowest")), count)
    best_rows = _gather_rows(ctx, rows, order, 6)
    candidates = ctx.add("GatherElements", [valid, order], axis=1)
    coords = [_column(ctx, best_rows, 2 + i) for i in range(4)]
    labels = _column(ctx, best_rows, 0)

    def suppressed_by(rows: Callable[[str], str], columns: Callable[[str], str]) -> str:
        iou = _detection_overlap(ctx, [rows(c) for c in coords], [columns(c) for c in coords])
        threshold = ctx.const(a["nms_threshold"], "nms_threshold")
        over = ctx.add("Or", [ctx.add("Greater", [iou, threshold]), ctx.add("Equal", [iou, threshold])])
        return over if a["force_suppress"] else ctx.add("And", [over, ctx.add("Equal", [rows(labels),
                                                                                         columns(labels)])])

    keep = _greedy_keep(ctx, candidates, count, suppressed_by)
    labels = ctx.unsqueeze(_select(ctx, keep, _column(ctx, best_rows, 0), minus_one), [2])
    rest = ctx.add("Slice", [best_rows, ctx.ints([1], "starts"), ctx.ints([6], "ends"), ctx.ints([2], "axes")])
    head = _select(ctx, ctx.unsqueeze(candidates, [2]), ctx.add("Concat", [labels, rest], axis=2), minus_one)
    if limit < 0:  # every anchor was a candidate
        ctx.add("Identity", [head], ctx.output())
        return
    tail = ctx.add("Slice", [compacted, count, anchors, ctx.ints([1], "axes")])
    labels_shape = ctx.add("Shape", [_column(ctx, tail, 0)])
    tail_labels = ctx.unsqueeze(ctx.add("Expand", [minus_one, labels_shape]), [2])
    rest = ctx.add("Slice", [tail, ctx.ints([1], "starts"), ctx.ints([6], "ends"), ctx.ints([2], "axes")])
    ctx.add("Concat", [head, ctx.add("Concat", [tail_labels, rest], axis=2)], ctx.output(), axis=1)


def _detection_overlap(ctx: EmitContext, a: list[str], b: list[str]) -> str:
    """MultiBoxDetection's IoU: intersect / (area a + area b - intersect) with areas as the corners give them,
    0 where that union is not positive."""
    intersect = ctx.add("Mul", [_overlap_1d(ctx, (a[0], a[2]), (b[0], b[2]), "corner"),
                                _overlap_1d(ctx, (a[1], a[3]), (b[1], b[3]), "corner")])
    union = ctx.add("Sub", [ctx.add("Add", [_raw_area(ctx, a), _raw_area(ctx, b)]), intersect])
    zero = ctx.const(0.0, "zero")
    return _select(ctx, ctx.add("Greater", [union, zero]), ctx.add("Div", [intersect, union]), zero)


def _in_double(ctx: EmitContext, x: str) -> str:
    return ctx.add("Cast", [x], to=TensorProto.DOUBLE)


def _half_extent(ctx: EmitContext, size: str) -> str:
    """0.5 x (size - 1.0) in double, as MXNet's proposal code computes it."""
    return ctx.add("Mul", [ctx.add("Sub", [_in_double(ctx, size), ctx.const(1.0, "one", dtype=np.float64)]),
                           ctx.const(0.5, "half", dtype=np.float64)])


def _min_max(ctx: EmitContext, x: str, high: str) -> str:
    """std::max(std::min(x, high), 0)."""
    low = _select(ctx, ctx.add("Less", [high, x]), high, x)
    zero = ctx.const(0.0, "zero")
    return _select(ctx, ctx.add("Less", [low, zero]), zero, low)


def _proposal_boxes(ctx: EmitContext, node: Node, anchors: str, deltas: list[str], image: list[str]) -> list[str]:
    """Proposals (x1, y1, x2, y2), each (batch, count): the anchors moved by the deltas (centre and log size, or
    corner offsets with ``iou_loss``), clipped into the image."""
    one = ctx.const(1.0, "one")
    corners = [_column(ctx, anchors, i) for i in range(4)]
    if node.attrs["iou_loss"]:
        boxes = [ctx.add("Add", [corner, delta]) for corner, delta in zip(corners, deltas)]
    else:
        boxes = [None] * 4
        for axis in (0, 1):
            size = ctx.add("Add", [ctx.add("Sub", [corners[axis + 2], corners[axis]]), one])
            center = _float_of(ctx, ctx.add("Add", [_in_double(ctx, corners[axis]), _half_extent(ctx, size)]))
            center = ctx.add("Add", [ctx.add("Mul", [deltas[axis], size]), center])
            extent = _half_extent(ctx, ctx.add("Mul", [ctx.add("Exp", [deltas[axis + 2]]), size]))
            boxes[axis] = _float_of(ctx, ctx.add("Sub", [_in_double(ctx, center), extent]))
            boxes[axis + 2] = _float_of(ctx, ctx.add("Add", [_in_double(ctx, center), extent]))
    limits = [ctx.add("Sub", [image[1 - axis % 2], one]) for axis in range(4)]  # width - 1, height - 1, ...
    return [_min_max(ctx, box, limit) for box, limit in zip(boxes, limits)]


def _proposal_overlap(ctx: EmitContext, a: list[str], b: list[str]) -> str:
    """The proposals' IoU, pixels inclusive: inter / (area a + area b - inter), sides max(0, x2 - x1 + 1)."""
    one, zero = ctx.const(1.0, "one"), ctx.const(0.0, "zero")
    sides = []
    for axis in (0, 1):
        low = _select(ctx, ctx.add("Less", [a[axis], b[axis]]), b[axis], a[axis])
        high = _select(ctx, ctx.add("Less", [b[axis + 2], a[axis + 2]]), b[axis + 2], a[axis + 2])
        side = ctx.add("Add", [ctx.add("Sub", [high, low]), one])
        sides.append(_select(ctx, ctx.add("Less", [zero, side]), side, zero))
    inter = ctx.add("Mul", sides)
    areas = [ctx.add("Mul", [ctx.add("Add", [ctx.add("Sub", [box[2], box[0]]), one]),
                             ctx.add("Add", [ctx.add("Sub", [box[3], box[1]]), one])]) for box in (a, b)]
    return ctx.add("Div", [inter, ctx.add("Sub", [ctx.add("Add", areas), inter])])


@register("_contrib_Proposal", "_contrib_MultiProposal")
def proposal(ctx: EmitContext, node: Node) -> None:
    """Per image: the object scores and the anchors moved by the deltas (clipped to the image; scores -1 past the
    image's feature size; boxes below rpn_min_size x scale widened by half of it, scores -1), the best
    ``rpn_pre_nms_top_n`` by score (stable), greedy suppression where IoU > threshold; the kept proposals in
    order, repeated from the first to fill ``rpn_post_nms_top_n`` rows [image, x1, y1, x2, y2]."""
    if ctx.batch_dynamic:
        raise NotExpressible("a dynamic batch: each proposal carries its image's index")
    a = node.attrs
    batch, channels, height, width = ctx.shape(0)
    anchor_count = channels // 2
    count = anchor_count * height * width
    first, kept_at_most = proposal_counts(node, ctx.shape(0))
    rows = a["rpn_post_nms_top_n"]
    scores = ctx.add("Slice", [ctx.input(0), ctx.ints([anchor_count], "starts"), ctx.ints([channels], "ends"),
                               ctx.ints([1], "axes")])
    scores = ctx.reshape(ctx.add("Transpose", [scores], perm=[0, 2, 3, 1]), [batch, count])
    deltas = ctx.reshape(ctx.input(1), [batch, anchor_count, 4, height, width])
    deltas = ctx.reshape(ctx.add("Transpose", [deltas], perm=[0, 3, 4, 1, 2]), [batch, count, 4])
    image = [ctx.unsqueeze(_column(ctx, ctx.input(2), i), [1]) for i in range(3)]  # height, width, scale
    anchors = ctx.const(proposal_anchors(a, height, width)[None], "anchors")
    boxes = _proposal_boxes(ctx, node, anchors, [_column(ctx, deltas, i) for i in range(4)], image)
    stride = ctx.const(float(a["feature_stride"]), "stride")
    float_type = helper.np_dtype_to_tensor_dtype(ctx.float_type)
    outside = []
    for axis, size in ((0, height), (1, width)):  # feature rows (columns) past the image's, truncated
        real = ctx.add("Cast", [ctx.add("Cast", [ctx.add("Div", [image[axis], stride])], to=TensorProto.INT64)],
                       to=float_type)
        index = np.arange(count)
        position = index // (width * anchor_count) if axis == 0 else index // anchor_count % width
        outside.append(ctx.add("Not", [ctx.add("Less", [ctx.const(position[None], "position"), real])]))
    minus_one, one = ctx.const(-1.0, "minus_one"), ctx.const(1.0, "one")
    scores = _select(ctx, ctx.add("Or", outside), minus_one, scores)
    min_size = ctx.add("Mul", [ctx.const(float(a["rpn_min_size"]), "min_size"), image[2]])
    small = ctx.add("Or", [ctx.add("Less", [ctx.add("Add", [ctx.add("Sub", [boxes[2 + i], boxes[i]]), one]), min_size])
                           for i in (0, 1)])
    half = ctx.add("Div", [min_size, ctx.const(2.0, "two")])
    boxes = [_select(ctx, small, ctx.add("Sub" if i < 2 else "Add", [box, half]), box) for i, box in enumerate(boxes)]
    scores = _select(ctx, small, minus_one, scores)
    proposals = ctx.add("Concat", [ctx.unsqueeze(x, [2]) for x in [*boxes, scores]], axis=2)  # (batch, count, 5)
    order = _top_indices(ctx, scores, first)
    best = _gather_rows(ctx, proposals, order, 5)
    coords = [_column(ctx, best, i) for i in range(4)]

    def suppressed_by(rows: Callable[[str], str], columns: Callable[[str], str]) -> str:
        iou = _proposal_overlap(ctx, [rows(c) for c in coords], [columns(c) for c in coords])
        return ctx.add("Greater", [iou, ctx.const(a["threshold"], "threshold")])

    candidates = ctx.const(np.ones((batch, first), bool), "candidates", dtype=bool)
    keep = _greedy_keep(ctx, candidates, first, suppressed_by)
    rank = _select(ctx, keep, _countdown(ctx, first), ctx.const(0.0, "zero"))
    in_order = _top_indices(ctx, rank, first)
    kept = ctx.add("Min", [ctx.reduce_sum(ctx.add("Cast", [keep], to=float_type), [1]),
                           ctx.const([float(kept_at_most)], "at_most")])
    kept = ctx.add("Cast", [kept], to=TensorProto.INT64)
    slots = ctx.add("Mod", [ctx.const(np.arange(rows)[None], "slots", dtype=np.int64), kept])
    chosen = _gather_rows(ctx, best, ctx.add("GatherElements", [in_order, slots], axis=1), 5)  # (batch, rows, 5)
    images = ctx.const(np.repeat(np.arange(batch, dtype=np.float32), rows).reshape(batch, rows, 1), "images")
    box_part = ctx.add("Slice", [chosen, ctx.ints([0], "starts"), ctx.ints([4], "ends"), ctx.ints([2], "axes")])
    ctx.reshape(ctx.add("Concat", [images, box_part], axis=2), [batch * rows, 5], ctx.output(0))
    if node.num_outputs > 1:
        ctx.reshape(_column(ctx, chosen, 4), [batch * rows, 1], ctx.output(1))


def _target_overlaps(ctx: EmitContext, anchors: str, truths: str) -> str:
    """MultiBoxTarget's intersection over union of every anchor (1, A, 1, 4) with every ground truth (B, 1, L, 4):
    sides' overlaps clamped at 0, areas as they are, 0 where the union is 0."""
    a, t = [_column(ctx, anchors, i) for i in range(4)], [_column(ctx, truths, i) for i in range(4)]
    zero = ctx.const(0.0, "zero")
    sides = [ctx.add("Max", [ctx.add("Sub", [ctx.add("Min", [a[i + 2], t[i + 2]]), ctx.add("Max", [a[i], t[i]])]),
                             zero]) for i in range(2)]
    inter = ctx.add("Mul", sides)
    areas = [ctx.add("Mul", [ctx.add("Sub", [box[2], box[0]]), ctx.add("Sub", [box[3], box[1]])]) for box in (a, t)]
    union = ctx.add("Sub", [ctx.add("Add", areas), inter])
    return ctx.add("Where", [ctx.add("Equal", [union, zero]), zero, ctx.add("Div", [inter, union])])


def _greedy_matches(ctx: EmitContext, iou: str, batch: int, count: int, rows: int, valid: str) -> tuple[str, str]:
    """MXNet's first matching, unrolled once per label row: the best overlap (above 1e-6) of a free anchor and a
    free ground truth, the first anchor then the first ground truth on ties, matches them. Returns which anchors
    matched (bool) and the ground truth of each (int64)."""
    positive = ctx.const(np.zeros((batch, count), bool), "positive", dtype=bool)
    matched = ctx.const(np.zeros((batch, count), np.int64), "matched", dtype=np.int64)
    anchor_ids, truth_ids = ctx.ints(np.arange(count), "anchors"), ctx.ints(np.arange(rows), "rows")
    free_truths = valid
    for _ in range(rows):
        free = ctx.add("And", [ctx.unsqueeze(ctx.add("Not", [positive]), [2]), ctx.unsqueeze(free_truths, [1])])
        scores = ctx.reshape(ctx.add("Where", [free, iou, ctx.const(-1.0, "taken")]), [batch, count * rows])
        best = ctx.add("ArgMax", [scores], axis=1, keepdims=1)
        found = ctx.add("Greater", [ctx.add("GatherElements", [scores, best], axis=1), ctx.const(1e-6, "least")])
        truth = ctx.add("Mod", [best, ctx.ints([rows], "rows")])
        anchor = ctx.add("And", [ctx.add("Equal", [anchor_ids, ctx.add("Div", [best, ctx.ints([rows], "rows")])]),
                                 found])
        matched = ctx.add("Where", [anchor, truth, matched])
        positive = ctx.add("Or", [positive, anchor])
        free_truths = ctx.add("And", [free_truths, ctx.add("Not", [ctx.add("And", [
            ctx.add("Equal", [truth_ids, truth]), found])])])
    return positive, matched


def _mined_negatives(ctx: EmitContext, node: Node, positive: str, best_iou: str, count: int) -> str:
    """Background anchors by negative mining: ``negative_mining_ratio`` per match (at most every other anchor;
    none where that count overflows int32, ``MINED_COUNT_OVERFLOW``) of the unmatched ones overlapping less than
    ``negative_mining_thresh``, the least likely background first (ties: the first anchor), as MXNet's stable sort
    takes them."""
    a = node.attrs
    matches = ctx.reduce_sum(_float_of(ctx, positive), [1], keepdims=1)
    mined = ctx.add("Mul", [matches, ctx.const(a["negative_mining_ratio"], "ratio")])
    wanted = ctx.add("Where", [ctx.add("Less", [mined, ctx.const(MINED_COUNT_OVERFLOW, "overflow")]),
                               ctx.add("Min", [ctx.add("Floor", [mined]),
                                               ctx.add("Sub", [ctx.const(float(count), "count"), matches])]),
                               ctx.const(0.0, "none")])
    candidate = ctx.add("And", [ctx.add("Not", [positive]),
                                ctx.add("Less", [best_iou, ctx.const(a["negative_mining_thresh"], "thresh")])])
    probs = ctx.softmax(ctx.input(2), 1, 3)
    background = ctx.add("Gather", [probs, ctx.const(np.int64(0), "background", dtype=np.int64)], axis=1)
    background = ctx.add("Where", [candidate, background, ctx.const(np.inf, "last")])
    other, this = ctx.unsqueeze(background, [1]), ctx.unsqueeze(background, [2])
    earlier = ctx.const(np.arange(count)[None, :] < np.arange(count)[:, None], "earlier", dtype=bool)
    ahead = ctx.add("Or", [ctx.add("Less", [other, this]), ctx.add("And", [ctx.add("Equal", [other, this]), earlier])])
    rank = ctx.reduce_sum(_float_of(ctx, ahead), [2], keepdims=0)
    return ctx.add("And", [candidate, ctx.add("Less", [rank, wanted])])


@register("_contrib_MultiBoxTarget")
def multibox_target(ctx: EmitContext, node: Node) -> None:
    """MXNet's MultiBoxTarget: ground truths (the label rows before the first of class -1) matched greedily, then
    every other anchor whose best overlap passes ``overlap_threshold``; background all the rest or the mined
    ones, ``ignore_label`` elsewhere. Box targets are the matches' offsets over ``variances``."""
    a = node.attrs
    count, (batch, rows) = ctx.shape(0)[1], ctx.shape(1)[:2]
    labels = ctx.input(1)
    boxes = ctx.add("Slice", [labels, ctx.ints([1], "start"), ctx.ints([5], "end"), ctx.ints([2], "axis")])
    iou = _target_overlaps(ctx, ctx.reshape(ctx.input(0), [1, count, 1, 4]), ctx.unsqueeze(boxes, [1]))
    classes = _column(ctx, labels, 0)
    ended = _float_of(ctx, ctx.add("Equal", [classes, ctx.const(-1.0, "end")]))
    valid = ctx.add("Equal", [ctx.add("CumSum", [ended, ctx.const(np.int64(1), "axis", dtype=np.int64)]),
                              ctx.const(0.0, "zero")])
    iou = ctx.add("Where", [ctx.unsqueeze(valid, [1]), iou, ctx.const(-2.0, "none")])
    positive, matched = _greedy_matches(ctx, iou, batch, count, rows, valid)
    best = ctx.add("ArgMax", [iou], axis=2, keepdims=1)
    best_iou = ctx.squeeze(ctx.add("GatherElements", [iou, best], axis=2), [2])
    if a["overlap_threshold"] > 0:
        more = ctx.add("And", [ctx.add("Not", [positive]),
                               ctx.add("Greater", [best_iou, ctx.const(a["overlap_threshold"], "overlap")])])
        matched = ctx.add("Where", [more, ctx.squeeze(best, [2]), matched])
        positive = ctx.add("Or", [positive, more])
    if a["negative_mining_ratio"] > 0:
        negative = _mined_negatives(ctx, node, positive, best_iou, count)
    else:
        negative = ctx.add("Not", [positive])
    any_truth = ctx.add("Slice", [valid, ctx.ints([0], "start"), ctx.ints([1], "end"), ctx.ints([1], "axis")])
    negative = ctx.add("And", [negative, any_truth])
    matched_class = ctx.add("Add", [ctx.add("GatherElements", [classes, matched], axis=1), ctx.const(1.0, "one")])
    rest = ctx.add("Where", [negative, ctx.const(0.0, "zero"), ctx.const(a["ignore_label"], "ignore")])
    ctx.add("Where", [positive, matched_class, rest], ctx.output(2))
    full = ctx.ints([batch, count, 4], "shape")
    truth = ctx.add("GatherElements", [boxes, ctx.add("Expand", [ctx.unsqueeze(matched, [2]), full])], axis=1)
    t, b = [_column(ctx, truth, i) for i in range(4)], [_column(ctx, ctx.reshape(ctx.input(0), [1, count, 4]), i)
                                                          for i in range(4)]
    half = ctx.const(0.5, "half")
    targets = []
    for i, variance in enumerate(a["variances"]):
        side = (b[i % 2], b[i % 2 + 2])
        size = ctx.add("Sub", [side[1], side[0]])
        if i < 2:
            centre = ctx.add("Mul", [ctx.add("Add", [t[i], t[i + 2]]), half])
            moved = ctx.add("Div", [ctx.add("Sub", [centre, ctx.add("Mul", [ctx.add("Add", list(side)), half])]),
                                    size])
        else:
            moved = ctx.add("Log", [ctx.add("Div", [ctx.add("Sub", [t[i], t[i - 2]]), size])])
        targets.append(ctx.unsqueeze(ctx.add("Div", [moved, ctx.const(variance, "variance")]), [2]))
    mask = ctx.add("Expand", [ctx.unsqueeze(positive, [2]), full])
    located = ctx.add("Where", [mask, ctx.add("Concat", targets, axis=2), ctx.const(0.0, "zero")])
    ctx.reshape(located, [batch, count * 4], ctx.output(0))
    ctx.reshape(_float_of(ctx, mask), [batch, count * 4], ctx.output(1))


def _round_half_away(ctx: EmitContext, x: str) -> str:
    """C's round: halves away from zero (ONNX's Round takes them to even)."""
    size = ctx.add("Abs", [x])
    whole = ctx.add("Floor", [size])
    up = ctx.add("Not", [ctx.add("Less", [ctx.add("Sub", [size, whole]), ctx.const(0.5, "half")])])
    return ctx.add("Mul", [ctx.add("Sign", [x]), ctx.add("Add", [whole, _float_of(ctx, up)])])


def _psroi_boxes(ctx: EmitContext, node: Node, shift: float) -> tuple[str, list[str], list[str]]:
    """The rois' batch indices (rois, 1, 1, 1) and, per axis (x, y), their start and size (rois, 1, 1, 1): corners
    rounded, the far one a pixel further, scaled, less ``shift``, sizes at least 0.1."""
    rois = ctx.input(1)
    batch = ctx.reshape(ctx.add("Cast", [_column(ctx, rois, 0)], to=TensorProto.INT64), [-1, 1, 1, 1])
    scale, one = ctx.const(node.attrs["spatial_scale"], "scale"), ctx.const(1.0, "one")
    starts, sizes = [], []
    for axis in (0, 1):
        start = ctx.add("Mul", [_round_half_away(ctx, _column(ctx, rois, 1 + axis)), scale])
        end = ctx.add("Mul", [ctx.add("Add", [_round_half_away(ctx, _column(ctx, rois, 3 + axis)), one]), scale])
        if shift:
            start, end = (ctx.add("Sub", [v, ctx.const(shift, "shift")]) for v in (start, end))
        size = ctx.add("Max", [ctx.add("Sub", [end, start]), ctx.const(0.1, "least")])
        starts.append(ctx.reshape(start, [-1, 1, 1, 1]))
        sizes.append(ctx.reshape(size, [-1, 1, 1, 1]))
    return batch, starts, sizes


def _bin_steps(ctx: EmitContext, count: int, axis: int, rank: int) -> str:
    """0, 1, ... ``count`` - 1 in the float type along ``axis`` of ``rank`` axes."""
    shape = [1] * rank
    shape[axis] = count
    return ctx.const(np.arange(count).reshape(shape), "steps")


def _clamped(ctx: EmitContext, x: str, low: float, high: float) -> str:
    return ctx.add("Min", [ctx.add("Max", [x, ctx.const(low, "low")]), ctx.const(high, "high")])


@register("_contrib_PSROIPooling")
def psroi_pooling(ctx: EmitContext, node: Node) -> None:
    """Each bin the mean of the pixels of its whole-pixel window (floor and ceil of its edges, clipped to the
    image; 0 where empty) in its group's channel: every window's sums over every channel as two MatMuls with 0/1
    masks of the rows and columns, then each bin's channel picked."""
    a = node.attrs
    pooled = a["pooled_size"]
    channels, height, width = ctx.shape(0)[1:]
    batch, starts, sizes = _psroi_boxes(ctx, node, 0.0)
    steps = _bin_steps(ctx, pooled, 2, 4)
    masks, extents = [], []
    for start, size, length in zip(starts, sizes, (width, height)):
        bin_size = ctx.add("Div", [size, ctx.const(float(pooled), "pooled")])
        low = ctx.add("Floor", [ctx.add("Add", [ctx.add("Mul", [steps, bin_size]), start])])
        one = ctx.const(1.0, "one")
        high = ctx.add("Ceil", [ctx.add("Add", [ctx.add("Mul", [ctx.add("Add", [steps, one]), bin_size]), start])])
        low, high = (_clamped(ctx, v, 0.0, float(length)) for v in (low, high))  # (rois, 1, pooled, 1)
        pixels = _bin_steps(ctx, length, 3, 4)
        inside = ctx.add("And", [ctx.add("Not", [ctx.add("Less", [pixels, low])]), ctx.add("Less", [pixels, high])])
        masks.append(_float_of(ctx, inside))  # (rois, 1, pooled, length)
        extents.append(ctx.add("Sub", [high, low]))
    rows = ctx.add("MatMul", [masks[1], ctx.add("Gather", [ctx.input(0), ctx.squeeze(batch, [1, 2, 3])], axis=0)])
    sums = ctx.add("MatMul", [rows, ctx.add("Transpose", [masks[0]], perm=[0, 1, 3, 2])])  # (rois, C, bin y, bin x)
    bins = pooled * pooled
    own = position_sensitive_channels(a) * bins + np.arange(bins).reshape(pooled, pooled)
    picked = ctx.add("Gather", [ctx.reshape(sums, [-1, channels * bins]), ctx.const(own, "own_bin", dtype=np.int64)],
                     axis=1)
    area = ctx.add("Mul", [extents[1], ctx.add("Transpose", [extents[0]], perm=[0, 1, 3, 2])])  # (rois, 1, y, x)
    zero = ctx.const(0.0, "zero")
    ctx.add("Where", [ctx.add("Greater", [area, zero]), ctx.add("Div", [picked, area]), zero], ctx.output())


def _sample_grid(ctx: EmitContext, start: str, size: str, shift: str | None, axis: int,
                 length: int) -> tuple[str, str, str, str]:
    """DeformablePSROIPooling's samples along one axis ((rois, output_dim, pooled, pooled, samples, samples),
    ``axis`` 4 for y, 5 for x): the two pixels either side, the far pixel's weight and whether it is inside
    [-0.5, length - 0.5]."""
    a = ctx.current.attrs
    pooled, samples = a["pooled_size"], a["sample_per_part"]
    bin_size = ctx.add("Div", [size, ctx.const(float(pooled), "pooled")])
    sub_bin = ctx.unsqueeze(ctx.add("Div", [bin_size, ctx.const(float(samples), "samples")]), [4, 5])
    begin = ctx.add("Add", [ctx.add("Mul", [_bin_steps(ctx, pooled, axis - 2, 4), bin_size]), start])
    if shift is not None:
        begin = ctx.add("Add", [begin, ctx.add("Mul", [shift, size])])
    at = ctx.add("Add", [ctx.unsqueeze(begin, [4, 5]), ctx.add("Mul", [_bin_steps(ctx, samples, axis, 6), sub_bin])])
    outside = ctx.add("Or", [ctx.add("Less", [at, ctx.const(-0.5, "edge")]),
                             ctx.add("Greater", [at, ctx.const(length - 0.5, "edge")])])
    at = _clamped(ctx, at, 0.0, float(length - 1))
    low, high = ctx.add("Floor", [at]), ctx.add("Ceil", [at])
    return low, high, ctx.add("Sub", [at, low]), ctx.add("Not", [outside])


@register("_contrib_DeformablePSROIPooling", check=lambda node, *context: deformable_psroi_refusal(node))
def deformable_psroi_pooling(ctx: EmitContext, node: Node) -> None:
    """Each bin the mean of its sample_per_part x sample_per_part bilinear samples inside the image (0 where
    none is), moved by the bin's part's offset times trans_std and the roi's size, in its group's channel: the
    four pixels of every sample gathered from the flattened data."""
    a = node.attrs
    channels, height, width = ctx.shape(0)[1:]
    batch, starts, sizes = _psroi_boxes(ctx, node, 0.5)
    shifts: list[str | None] = [None, None]
    if not a["no_trans"]:
        index, stride = deformable_offset_index(a, ctx.shape(2))
        rois = ctx.positions(1, 0, [-1, 1, 1, 1, 1], np.int64)
        at = ctx.add("Add", [ctx.add("Mul", [rois, ctx.const(np.int64(stride), "stride", dtype=np.int64)]),
                             ctx.const(index[None], "offset_at", dtype=np.int64)])
        offsets = ctx.add("Mul", [ctx.add("Gather", [ctx.reshape(ctx.input(2), [-1]), at]),
                                  ctx.const(a["trans_std"], "trans_std")])
        shifts = [ctx.add("Gather", [offsets, ctx.const(np.int64(i), "axis", dtype=np.int64)], axis=1) for i in (0, 1)]
    x_low, x_high, x_far, x_in = _sample_grid(ctx, starts[0], sizes[0], shifts[0], 5, width)
    y_low, y_high, y_far, y_in = _sample_grid(ctx, starts[1], sizes[1], shifts[1], 4, height)
    first_channel = ctx.add("Mul", [batch, ctx.const(np.int64(channels), "channels", dtype=np.int64)])
    channel = ctx.add("Add", [first_channel, ctx.const(position_sensitive_channels(a), "channel", dtype=np.int64)])
    plane = ctx.unsqueeze(ctx.add("Mul", [channel, ctx.const(np.int64(height * width), "plane", dtype=np.int64)]),
                          [4, 5])
    flat = ctx.reshape(ctx.input(0), [-1])
    row_width = ctx.const(np.int64(width), "width", dtype=np.int64)

    def pixel(y: str, x: str) -> str:
        y, x = (ctx.add("Cast", [v], to=TensorProto.INT64) for v in (y, x))
        return ctx.add("Gather", [flat, ctx.add("Add", [plane, ctx.add("Add", [ctx.add("Mul", [y, row_width]), x])])])

    one = ctx.const(1.0, "one")
    x_near, y_near = ctx.add("Sub", [one, x_far]), ctx.add("Sub", [one, y_far])
    terms = [ctx.add("Mul", [ctx.add("Mul", [wx, wy]), pixel(y, x)])
             for (wx, x), (wy, y) in (((x_near, x_low), (y_near, y_low)), ((x_near, x_low), (y_far, y_high)),
                                      ((x_far, x_high), (y_near, y_low)), ((x_far, x_high), (y_far, y_high)))]
    value = terms[0]
    for term in terms[1:]:
        value = ctx.add("Add", [value, term])
    inside = ctx.add("And", [x_in, y_in])
    zero = ctx.const(0.0, "zero")
    total = ctx.reduce_sum(ctx.add("Where", [inside, value, zero]), [4, 5], keepdims=0)
    count = ctx.reduce_sum(_float_of(ctx, inside), [4, 5], keepdims=0)
    ctx.add("Where", [ctx.add("Greater", [count, zero]), ctx.add("Div", [total, count]), zero], ctx.output())


def _rroi_axis(ctx: EmitContext, at: str, length: int) -> tuple[str, str, str, str]:
    """RROIAlign's bilinear neighbours along one axis: the near and far pixels (int64) and their weights, both 0
    outside [-1, length] (MXNet then drops the sample), the last pixel taken for positions past it."""
    zero = ctx.const(0.0, "zero")
    outside = ctx.add("Or", [ctx.add("Less", [at, ctx.const(-1.0, "edge")]),
                             ctx.add("Greater", [at, ctx.const(float(length), "edge")])])
    at = _select(ctx, ctx.add("Not", [ctx.add("Greater", [at, zero])]), zero, at)
    last = ctx.const(float(length - 1), "last")
    past = ctx.add("Not", [ctx.add("Less", [ctx.add("Floor", [at]), last])])
    at = _select(ctx, past, last, at)
    low = ctx.add("Floor", [at])
    far = _select(ctx, outside, zero, ctx.add("Sub", [at, low]))
    near = _select(ctx, outside, zero, ctx.add("Sub", [ctx.const(1.0, "one"), ctx.add("Sub", [at, low])]))
    high = _select(ctx, past, low, ctx.add("Add", [low, ctx.const(1.0, "one")]))
    return (ctx.add("Cast", [low], to=TensorProto.INT64), ctx.add("Cast", [high], to=TensorProto.INT64), near, far)


@register("_contrib_RROIAlign", check=lambda node, *context: rroi_align_refusal(node))
def rroi_align(ctx: EmitContext, node: Node) -> None:
    """Each bin the mean of its sampling_ratio x sampling_ratio bilinear samples on a grid rotated about the box's
    centre (angle in degrees, made radians in double as MXNet does); the pixels, (batch x height x width,
    channels) rows of the data, gathered once for every channel."""
    a = node.attrs
    pooled_h, pooled_w = a["pooled_size"]
    grid = a["sampling_ratio"]
    channels, height, width = ctx.shape(0)[1:]
    rois = ctx.input(1)
    scale = ctx.const(a["spatial_scale"], "scale")

    def column(index: int) -> str:  # (rois, 1, 1, 1, 1)
        return ctx.reshape(_column(ctx, rois, index), [-1, 1, 1, 1, 1])

    center_x, center_y = (ctx.add("Mul", [column(i), scale]) for i in (1, 2))
    size_x, size_y = (ctx.add("Max", [ctx.add("Mul", [column(i), scale]), ctx.const(1.0, "least")]) for i in (3, 4))
    double = helper.np_dtype_to_tensor_dtype(np.dtype(np.float64))
    radians = ctx.add("Div", [ctx.add("Mul", [ctx.add("Cast", [column(5)], to=double),
                                               ctx.const(np.pi, "pi", dtype=np.float64)]),
                              ctx.const(180.0, "degrees", dtype=np.float64)])
    theta = ctx.add("Cast", [radians], to=helper.np_dtype_to_tensor_dtype(ctx.float_type))
    cos, sin = ctx.add("Cos", [theta]), ctx.add("Sin", [theta])
    two, cells = ctx.const(2.0, "two"), ctx.const(float(grid), "grid")

    def along(size: str, bins: int, bin_axis: int, sample_axis: int) -> str:
        """Sample positions about the centre along one box axis, (rois, bin y, bin x, sample y, sample x)."""
        bin_size = ctx.add("Div", [size, ctx.const(float(bins), "bins")])
        start = ctx.add("Neg", [ctx.add("Div", [size, two])])
        centres = ctx.add("Add", [_bin_steps(ctx, grid, sample_axis, 5), ctx.const(0.5, "half")])
        offset = ctx.add("Div", [ctx.add("Mul", [centres, bin_size]), cells])
        first = ctx.add("Add", [start, ctx.add("Mul", [_bin_steps(ctx, bins, bin_axis, 5), bin_size])])
        return ctx.add("Add", [first, offset])

    box_x = along(size_x, pooled_w, 2, 4)
    box_y = along(size_y, pooled_h, 1, 3)
    x = ctx.add("Add", [ctx.add("Add", [ctx.add("Mul", [box_x, cos]), ctx.add("Mul", [box_y, sin])]), center_x])
    y = ctx.add("Add", [ctx.add("Sub", [ctx.add("Mul", [box_y, cos]), ctx.add("Mul", [box_x, sin])]), center_y])
    x_low, x_high, x_near, x_far = _rroi_axis(ctx, x, width)
    y_low, y_high, y_near, y_far = _rroi_axis(ctx, y, height)
    image = ctx.add("Mul", [ctx.add("Cast", [column(0)], to=TensorProto.INT64),
                            ctx.const(np.int64(height * width), "image", dtype=np.int64)])
    row_width = ctx.const(np.int64(width), "width", dtype=np.int64)
    pixels = ctx.reshape(ctx.add("Transpose", [ctx.input(0)], perm=[0, 2, 3, 1]), [-1, channels])

    def term(weight_y: str, weight_x: str, at_y: str, at_x: str) -> str:
        index = ctx.add("Add", [image, ctx.add("Add", [ctx.add("Mul", [at_y, row_width]), at_x])])
        weight = ctx.unsqueeze(ctx.add("Mul", [weight_y, weight_x]), [5])
        return ctx.add("Mul", [weight, ctx.add("Gather", [pixels, index], axis=0)])

    value = ctx.add("Add", [ctx.add("Add", [ctx.add("Add", [term(y_near, x_near, y_low, x_low),
                                                           term(y_near, x_far, y_low, x_high)]),
                                           term(y_far, x_near, y_high, x_low)]),
                            term(y_far, x_far, y_high, x_high)])
    total = ctx.reduce_sum(value, [3, 4], keepdims=0)  # (rois, bin y, bin x, channels)
    mean = ctx.add("Div", [total, ctx.const(float(grid * grid), "points")])
    ctx.add("Transpose", [mean], ctx.output(), perm=[0, 3, 1, 2])


@register("_contrib_bipartite_matching")
def bipartite_matching(ctx: EmitContext, node: Node) -> None:
    """Greedy matching in score order (descending, or ascending for is_ascend; ties in index order, as MXNet's
    stable sort): a Loop whose every step matches the best pair of a free row and a free column whose score
    passes the threshold, if any."""
    a = node.attrs
    shape = ctx.shape(0)
    rows, columns = shape[-2:]
    scores = ctx.reshape(ctx.input(0), [-1, rows * columns])
    threshold = ctx.const(a["threshold"], "threshold")
    passing = ctx.add("Less" if a["is_ascend"] else "Greater", [scores, threshold])
    key = ctx.add("Neg", [scores]) if a["is_ascend"] else scores
    free = ctx.const(-1.0, "free")
    prefix = ctx.temp("match")
    row_in, column_in, row_out, column_out = (f"{prefix}_{n}" for n in ("rows", "columns", "rows_out", "columns_out"))

    def build() -> None:
        open_rows = ctx.unsqueeze(ctx.add("Equal", [row_in, free]), [2])
        open_columns = ctx.unsqueeze(ctx.add("Equal", [column_in, free]), [1])
        open_pairs = ctx.reshape(ctx.add("And", [open_rows, open_columns]), [-1, rows * columns])
        candidate = ctx.add("And", [open_pairs, passing])
        best = ctx.add("ArgMax", [_select(ctx, candidate, key, ctx.const(-np.inf, "lowest"))], axis=1, keepdims=1)
        found = ctx.add("GatherElements", [candidate, best], axis=1)
        width = ctx.const(np.int64(columns), "columns", dtype=np.int64)
        row, column = ctx.add("Div", [best, width]), ctx.add("Mod", [best, width])
        for marks, size, at, value, out in ((row_in, rows, row, column, row_out),
                                            (column_in, columns, column, row, column_out)):
            hit = ctx.add("And", [found, ctx.add("Equal", [ctx.const(np.arange(size)[None], "at", dtype=np.int64),
                                                           at])])
            ctx.add("Where", [hit, _float_of(ctx, value), marks], out)

    float_type = helper.np_dtype_to_tensor_dtype(ctx.float_type)
    body = _loop_body(ctx, prefix, build, [(row_in, row_out, float_type), (column_in, column_out, float_type)])
    batch = math.prod(shape[:-2])
    unmatched = [ctx.const(np.full((batch, n), -1.0), "unmatched") for n in (rows, columns)]
    trips = ctx.const(np.int64(bipartite_matching_steps(node, rows, columns)), "trips", dtype=np.int64)
    matched = [ctx.temp("rows"), ctx.temp("columns")]
    ctx.add("Loop", [trips, "", *unmatched], matched, body=body)
    ctx.reshape(matched[0], [*shape[:-1]], ctx.output(0))
    ctx.reshape(matched[1], [*shape[:-2], columns], ctx.output(1))
