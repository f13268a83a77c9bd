"""GluonCV's detectors (``zoo.detection``: random He weights, BatchNorm calibrated) converted to both targets and
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

from mxconvert import detections
from mxconvert.checkpoint import load_checkpoint
from mxconvert.errors import UnsupportedOpsError
from mxconvert.mxnet_runner import MxnetModel
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import build_model, emit_pytorch
from mxconvert.to_torch.loader import module_from_source
from mxconvert.zoo.common import imagenet_normalise, sample_images
from mxconvert.zoo.detection import MODELS, SIDE, batch_size

SCORE_TOLERANCE = 5e-4
BOX_TOLERANCE = 5e-4  # of the largest box coordinate MXNet gives the image
SLOW = {"det-faster_rcnn_resnet50_v1b_voc"}  # ResNet-50's last stage on 300 proposals: about 90 s in all


def assert_detections_match(expected: list[np.ndarray], actual: list[np.ndarray]) -> None:
    """Every MXNet detection reproduced (``mxconvert.detections.match``), boxes within BOX_TOLERANCE of the
    largest box coordinate MXNet gives."""
    scale = max(float(np.abs(expected[2]).max()), 1.0)
    result = detections.match(expected, actual, score_tolerance=SCORE_TOLERANCE, box_tolerance=BOX_TOLERANCE * scale)
    assert result.detections > 0 and result.missing == 0, result


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
        assert_detections_match(expected, actual)


@pytest.mark.parametrize("model", [m for m in MODELS if m not in SLOW])
def test_detectors_with_dynamic_height_and_width(zoo_model, model):
    """One conversion with ``dynamic_axes data=2,3`` run at two sizes: PyTorch for every detector; ONNX where
    no op fixes a size (box_nms's ONNX form fixes its box count and is refused by name)."""
    prefix = zoo_model(model)
    graph = load_checkpoint(prefix, 0)
    shape, dynamic = (batch_size(model) or 1, 3, SIDE, SIDE), {"data": (2, 3)}
    source, state = emit_pytorch(graph, shape, dynamic_axes=dynamic)
    module = build_model(module_from_source(source), state)
    try:
        onnx_model, _ = export_onnx(graph, ExportOptions(input_shape=shape, dynamic_axes=dynamic))
        session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    except UnsupportedOpsError as exc:
        assert "_contrib_box_nms [fixes a size that the dynamic axes leave free]" in str(exc)
        session = None
    for side in (SIDE, SIDE + 32):
        data = imagenet_normalise(sample_images(shape[0], side, seed=4))
        expected = MxnetModel(prefix, 0)(data)
        with torch.no_grad():
            assert_detections_match(expected, _outputs(module(torch.from_numpy(data))))
        if session is not None:
            assert_detections_match(expected, session.run(None, {"data": data}))
