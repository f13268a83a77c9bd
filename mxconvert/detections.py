"""Detections compared as sets: every MXNet detection must be reproduced by the converted model (same class,
score and box within tolerance), whatever the order among scores that tie. Detector outputs come as GluonCV
writes them (class ids, scores, boxes: three outputs) or as MXNet's MultiBoxDetection does (one (N, K, 6) output
of class, score, x1, y1, x2, y2); rows of class -1 are padding."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from prettytable import PrettyTable, TableStyle

from .compare import NOISE_FACTOR, ONNX, PYTORCH, ModelEntry, Suite, parse_list_file
from .errors import EXIT_OK, EXIT_TOLERANCE, MxConvertError
from .fileio import load_outputs

SCORE_TOLERANCE = 1e-4
BOX_TOLERANCE = 1e-3  # pixels (or the boxes' own unit)
ROUNDING_SEARCH = 1e-2  # score, and share of the box scale, within which float32 and float64 detections pair up
Detection = tuple[int, float, np.ndarray]


def detection_columns(outputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A detector's class ids, scores and boxes, each image's in one row: GluonCV's three outputs ((N, K) or
    (N, K, 1) ids and scores, (N, K, 4) boxes) or one (N, K, 6) MultiBoxDetection array; None for other outputs."""
    if len(outputs) >= 3 and outputs[2].ndim == 3 and outputs[2].shape[-1] == 4:
        ids, scores, boxes = outputs[:3]
        if all(o.shape in (boxes.shape[:2], (*boxes.shape[:2], 1)) for o in (ids, scores)):
            return ids, scores, boxes
    if len(outputs) == 1 and outputs[0].ndim == 3 and outputs[0].shape[-1] == 6:
        return outputs[0][..., :1], outputs[0][..., 1:2], outputs[0][..., 2:]
    return None


def per_image(outputs: Sequence[np.ndarray]) -> list[list[Detection]]:
    """Each image's detections (class, score, corner box), padding rows dropped."""
    columns = detection_columns(outputs)
    if columns is None:
        shapes = ", ".join(str(o.shape) for o in outputs)
        raise MxConvertError(f"not detector outputs (want ids, scores, boxes or one (N, K, 6) array; got {shapes})")
    ids, scores, boxes = columns
    images = []
    for image in range(ids.shape[0]):
        rows = zip(ids[image].reshape(-1), scores[image].reshape(-1), boxes[image].reshape(-1, 4))
        images.append([(int(c), float(s), np.asarray(b, np.float64)) for c, s, b in rows if c >= 0])
    return images


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two corner boxes (1 when either has no positive area: nothing to overlap)."""
    if (a[2:] <= a[:2]).any() or (b[2:] <= b[:2]).any():
        return 1.0
    low, high = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(high - low, 0, None)))
    return inter / (float(np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2])) - inter)


@dataclass(frozen=True)
class DetectionMatch:
    """How one backend reproduces MXNet's detections."""

    model: str
    backend: str
    detections: int  # MXNet's, over every image
    matched: int
    tied_at_cut: int  # unmatched, but scored no higher than the lowest detection kept: a tie decided otherwise
    max_score_diff: float
    max_box_diff: float
    min_iou: float
    score_tolerance: float
    box_tolerance: float

    @property
    def missing(self) -> int:
        return self.detections - self.matched - self.tied_at_cut


def match(reference: Sequence[np.ndarray], actual: Sequence[np.ndarray], model: str = "", backend: str = "",
          score_tolerance: float = SCORE_TOLERANCE, box_tolerance: float = BOX_TOLERANCE) -> DetectionMatch:
    """Pair each MXNet detection with a distinct one of ``actual`` of its class, score and box within tolerance
    (the nearest score first), image by image."""
    theirs_all, ours_all = per_image(reference), per_image(actual)
    if len(theirs_all) != len(ours_all):
        raise MxConvertError(f"{len(ours_all)} images against MXNet's {len(theirs_all)}")
    total = matched = tied = 0
    worst_score = worst_box = 0.0
    worst_iou = 1.0
    for theirs, ours in zip(theirs_all, ours_all):
        free = list(range(len(ours)))
        lowest = min((score for _, score, _ in ours), default=-np.inf)
        for cls, score, box in sorted(theirs, key=lambda d: -d[1]):
            total += 1
            fits = [i for i in free if ours[i][0] == cls and abs(ours[i][1] - score) <= score_tolerance
                    and np.abs(ours[i][2] - box).max() <= box_tolerance]
            if not fits:
                tied += score <= lowest + score_tolerance
                continue
            best = min(fits, key=lambda i: abs(ours[i][1] - score))
            free.remove(best)
            matched += 1
            worst_score = max(worst_score, abs(ours[best][1] - score))
            worst_box = max(worst_box, float(np.abs(ours[best][2] - box).max()))
            worst_iou = min(worst_iou, iou(ours[best][2], box))
    return DetectionMatch(model, backend, total, matched, tied, worst_score, worst_box, worst_iou, score_tolerance,
                          box_tolerance)


def rounding_tolerances(float32: Sequence[np.ndarray], float64: Sequence[np.ndarray], noise_factor: float,
                        score_floor: float = SCORE_TOLERANCE, box_floor: float = BOX_TOLERANCE) -> tuple[float, float]:
    """Score and box tolerances for comparisons with MXNet float32: the floors, widened to ``noise_factor`` times
    MXNet float32's own largest distance from its float64 detections (exponentiated box offsets round to a few
    1e-5 of the box scale in MXNet itself)."""
    scale = max((float(np.abs(box).max()) for image in per_image(float64) for _, _, box in image), default=1.0)
    own = match(float64, float32, score_tolerance=ROUNDING_SEARCH, box_tolerance=ROUNDING_SEARCH * max(scale, 1.0))
    return max(score_floor, noise_factor * own.max_score_diff), max(box_floor, noise_factor * own.max_box_diff)


def render(results: Sequence[DetectionMatch]) -> str:
    table = PrettyTable(["Model", "Backend", "MXNet detections", "Matched", "Tied at the cut", "Max score diff",
                         "Max box diff", "Min IoU", "Tolerances (score, box)"])
    table.set_style(TableStyle.SINGLE_BORDER)
    for r in results:
        share = f"{r.matched / r.detections:.1%}" if r.detections else "n/a"
        table.add_row([r.model, r.backend, r.detections, f"{r.matched} ({share})", r.tied_at_cut,
                       f"{r.max_score_diff:.2e}", f"{r.max_box_diff:.2e}", f"{r.min_iou:.6f}",
                       f"{r.score_tolerance:.1e}, {r.box_tolerance:.1e}"])
    return table.get_string()


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--score_tolerance", type=float, default=SCORE_TOLERANCE,
                   help=f"largest score difference of a matched detection (default {SCORE_TOLERANCE:g})")
    p.add_argument("--box_tolerance", type=float, default=BOX_TOLERANCE,
                   help=f"largest box coordinate difference of a matched detection (default {BOX_TOLERANCE:g})")
    p.add_argument("--noise_factor", type=float, default=NOISE_FACTOR,
                   help="where the list names MXNet's float64 outputs, both tolerances widen to this many times "
                        f"MXNet float32's own distance from them (default {NOISE_FACTOR:g})")


def match_entries(entries: Sequence[ModelEntry], suite: Suite, score_floor: float, box_floor: float,
                  noise_factor: float) -> list[DetectionMatch]:
    """Every backend's detections of every entry against MXNet's (tolerances widened by MXNet's own rounding
    where its float64 outputs are listed)."""
    results = []
    for entry in entries:
        reference = load_outputs(entry.mxnet)
        tolerances = (score_floor, box_floor)
        if entry.mxnet_fp64 is not None:
            tolerances = rounding_tolerances(reference, load_outputs(entry.mxnet_fp64), noise_factor, *tolerances)
        for key, path in entry.outputs.items():
            try:
                results.append(match(reference, load_outputs(path), entry.name, suite.backends[key], *tolerances))
            except MxConvertError as exc:
                raise MxConvertError(f"{entry.name} {suite.backends[key]}: {exc}", str(path)) from None
    return results


def report(list_files: Sequence[str], args: argparse.Namespace) -> int:
    """The detection table of every model and backend the list files name; exit 1 when an MXNet detection is
    missing (not merely a tie at the cut decided otherwise)."""
    results = [result for listing, suite in zip(list_files, (ONNX, PYTORCH))
               for result in match_entries(parse_list_file(listing, suite), suite, args.score_tolerance,
                                           args.box_tolerance, args.noise_factor)]
    print(render(results))
    return EXIT_TOLERANCE if any(r.missing for r in results) else EXIT_OK
