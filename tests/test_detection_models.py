"""GluonCV's detectors (``zoo_detection``: random He weights, BatchNorm calibrated) converted to both targets and
run against MXNet at 128 pixels, SSD and YOLOv3 at another size too. Their post-processing ops are exact (the
``det_`` cases); the networks before them round in float32 as MXNet's own float32 run does: the heads' outputs
are 4.2e-5 (SSD) and 6.6e-5 (YOLOv3) of scale from float64 in MXNet itself, 4.7e-5 and 4.5e-5 in ONNX Runtime,
and random weights amplify that into scores and boxes (YOLOv3's box sizes are exponentials). So detections are
compared as a set: every MXNet detection is reproduced (class equal, score within 5e-4, box within 5e-4 of the
image's box scale), whatever the order among scores that tie within that tolerance; only a detection whose score
ties the last one kept may change."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mxconvert.checkpoint import load_checkpoint
from mxconvert.mxnet_runner import MxnetModel
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import build_model, emit_pytorch
from mxconvert.to_torch.loader import module_from_source
from mxconvert.zoo import imagenet_normalise, sample_images
from mxconvert.zoo_detection import MODELS, SIDE, batch_size

SCORE_TOLERANCE = 5e-4
BOX_TOLERANCE = 5e-4  # of the largest box coordinate MXNet gives the image
SLOW = {"det-faster_rcnn_resnet50_v1b_voc"}  # ResNet-50's last stage on 300 proposals: about 90 s in all


def detections(ids: np.ndarray, scores: np.ndarray, boxes: np.ndarray) -> list[tuple[int, float, np.ndarray]]:
    """One image's detections (class, score, box) where the class is not -1."""
    ids, scores, boxes = ids.reshape(-1), scores.reshape(-1), boxes.reshape(-1, 4)
    return [(int(c), float(s), b) for c, s, b in zip(ids, scores, boxes) if c >= 0]


def match_detections(reference: list[np.ndarray], actual: list[np.ndarray]) -> dict[str, float]:
    """Per image, each MXNet detection paired with a distinct one of ``actual`` of its class, score and box
    within tolerance (the nearest score first); raises unless every one is paired or ties the lowest score
    ``actual`` keeps. Returns the share matched, the largest score and box differences and the smallest IoU of
    a matched pair."""
    matched = total = 0
    worst = {"score": 0.0, "box": 0.0, "iou": 1.0}
    for image in range(reference[0].shape[0]):
        ours = detections(*(a[image] for a in actual))
        theirs = detections(*(r[image] for r in reference))
        scale = max([float(np.abs(b).max()) for _, _, b in theirs] + [1.0])
        free = list(range(len(ours)))
        for cls, score, box in theirs:
            total += 1
            fits = [i for i in free if ours[i][0] == cls and abs(ours[i][1] - score) <= SCORE_TOLERANCE
                    and np.abs(ours[i][2] - box).max() <= BOX_TOLERANCE * scale]
            if not fits:
                lowest = min((s for _, s, _ in ours), default=-np.inf)
                assert score <= lowest + SCORE_TOLERANCE, f"image {image}: MXNet's {(cls, score, box)} not found"
                continue
            best = min(fits, key=lambda i: abs(ours[i][1] - score))
            free.remove(best)
            matched += 1
            worst["score"] = max(worst["score"], abs(ours[best][1] - score))
            worst["box"] = max(worst["box"], float(np.abs(ours[best][2] - box).max()))
            worst["iou"] = min(worst["iou"], _iou(ours[best][2], box))
    return {"matched": matched / max(total, 1), **worst}


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two corner boxes; 1 unless both have a positive size (random weights give
    CenterNet negative sizes)."""
    if (a[2:] <= a[:2]).any() or (b[2:] <= b[:2]).any():
        return 1.0
    low, high = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(high - low, 0, None)))
    return inter / (float(np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2])) - inter)


def _outputs(out) -> list[np.ndarray]:
    return [o.numpy() for o in (out if isinstance(out, (tuple, list)) else [out])]


OTHER_SIDES = {"det-ssd_512_mobilenet1.0_voc": 160, "det-yolo3_mobilenet1.0_voc": 96}  # anchors follow the maps
DETECTOR_RUNS = [pytest.param(model, SIDE, marks=[pytest.mark.slow] if model in SLOW else []) for model in MODELS] \
    + [(model, side) for model, side in OTHER_SIDES.items()]


@pytest.mark.parametrize("model, side", DETECTOR_RUNS)
def test_detector_matches_mxnet_in_both_targets(zoo_model, model, side):
    prefix = zoo_model(model)
    data = imagenet_normalise(sample_images(batch_size(model) or 2, side, seed=3))
    expected = MxnetModel(prefix, 0)(data)
    graph = load_checkpoint(prefix, 0)
    onnx_model, _ = export_onnx(graph, ExportOptions(input_shape=data.shape, opset=13))
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    source, state = emit_pytorch(graph, data.shape)
    with torch.no_grad():
        generated = _outputs(build_model(module_from_source(source), state)(torch.from_numpy(data)))
    for actual in (session.run(None, {"data": data}), generated):
        assert match_detections(expected, actual)["matched"] > 0.95
    assert (expected[0] >= 0).sum() > 0
