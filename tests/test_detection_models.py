"""GluonCV's detectors (``zoo.detection``: random He weights, BatchNorm calibrated, prediction layers scaled to
small outputs) converted to both targets and run against MXNet, SSD and YOLOv3 at another size too. Their
post-processing ops are exact (the ``det_`` cases); the networks before them round in float32 as MXNet's own
float32 run does, and exponentiated box offsets carry that rounding into the boxes: MXNet float32's own boxes lie
up to 1.6e-2 pixels from its float64 ones (SSD 512 at 128 pixels). So detections are compared as a set: every
MXNet detection is reproduced (class equal, score within 1e-4, box within 1e-3 pixels, each widened to
NOISE_FACTOR times MXNet float32's own distance from float64: ``detections.rounding_tolerances``), whatever the
order among tied scores; only a detection whose score ties the last one kept may change.

The Deformable-ConvNets-style R-FCN head (``zoo.detection.build_rfcn``, built here in a temporary folder) takes its
rois as a second input and suppresses nothing: its class probabilities and box deltas are compared per roi with
MXNet's float64 run (``--tolerance auto``'s rule)."""
from __future__ import annotations

import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch
from mxcases import assert_near_exact

from mxconvert import detections
from mxconvert.checkpoint import load_checkpoint
from mxconvert.compare import NOISE_FACTOR
from mxconvert.mxnet_runner import MxnetModel
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, build_model, emit_pytorch
from mxconvert.to_torch.loader import module_from_source
from mxconvert.to_torch.runner import CompiledModel
from mxconvert.zoo.common import imagenet_normalise, sample_images
from mxconvert.zoo.detection import MODELS, SIDE, batch_size, build_rfcn, input_side, rfcn_rois

SLOW = {"det-faster_rcnn_resnet50_v1b_voc",  # ResNet-50's last stage on 300 proposals: about 90 s in all
        "det-mask_rcnn_resnet18_v1b_coco"}
# no smaller input: the R-CNNs' RPN keeps more anchors than a smaller image has; SSD 300's extra layers need 300
NO_SMALLER = SLOW | {"det-ssd_300_vgg16_atrous_voc"}


def mxnet_detections(prefix: str, data: np.ndarray) -> tuple[list[np.ndarray], tuple[float, float]]:
    """MXNet float32's outputs and the tolerances its own rounding calls for (its float64 run)."""
    expected = MxnetModel(prefix, 0)(data)
    exact = MxnetModel(prefix, 0, dtype="float64")(data.astype(np.float64))
    return expected, detections.rounding_tolerances(expected, exact, NOISE_FACTOR)


def assert_detections_match(expected: list[np.ndarray], actual: list[np.ndarray],
                            tolerances: tuple[float, float]) -> None:
    """Every MXNet detection reproduced (``mxconvert.detections.match``)."""
    score_tolerance, box_tolerance = tolerances
    result = detections.match(expected, actual, score_tolerance=score_tolerance, box_tolerance=box_tolerance)
    assert result.detections > 0 and result.missing == 0, result


def _outputs(out) -> list[np.ndarray]:
    return [o.numpy() for o in (out if isinstance(out, (tuple, list)) else [out])]


OTHER_SIDES = {"det-ssd_512_mobilenet1.0_voc": 160, "det-yolo3_mobilenet1.0_voc": 96}  # anchors follow the maps
DETECTOR_RUNS = [pytest.param(model, input_side(model), marks=[pytest.mark.slow] if model in SLOW else [])
                 for model in MODELS] \
    + [(model, side) for model, side in OTHER_SIDES.items()]


@pytest.mark.parametrize("model, side", DETECTOR_RUNS)
def test_detector_matches_mxnet_in_both_targets(zoo_model, model, side):
    prefix = zoo_model(model)
    data = imagenet_normalise(sample_images(batch_size(model) or 2, side, seed=3))
    expected, tolerances = mxnet_detections(prefix, data)
    graph = load_checkpoint(prefix, 0)
    onnx_model, _ = export_onnx(graph, ExportOptions(input_shape=data.shape, opset=13))
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    source, state = emit_pytorch(graph, TorchOptions(data.shape))
    with torch.no_grad():
        generated = _outputs(build_model(module_from_source(source), state)(torch.from_numpy(data)))
    for actual in (session.run(None, {"data": data}), generated):
        assert_detections_match(expected, actual, tolerances)


def test_ssd_on_one_image_with_packed_convolutions(zoo_model):
    """SSD 512 on one image, as benchmarked: PyTorch computes its small convolutions from weights kept in oneDNN's
    layout (``to_torch.convolution.packed_convolution``) and reproduces every MXNet detection, eager and under
    ``--compile`` (whose oneDNN Graph fuser refuses this graph: inductor compiles it), there on a second image
    too (the suppression's steps are not those of the image it was compiled on)."""
    prefix = zoo_model("det-ssd_512_mobilenet1.0_voc")
    images = [imagenet_normalise(sample_images(1, SIDE, seed=seed)) for seed in (3, 4)]
    source, state = emit_pytorch(load_checkpoint(prefix, 0), TorchOptions(images[0].shape))
    assert source.count("MxnetPackedConv2d(") > 10
    model = build_model(module_from_source(source), state)
    compiled = CompiledModel(model)
    for index, data in enumerate(images):
        expected, tolerances = mxnet_detections(prefix, data)
        with torch.no_grad():
            generated = model(torch.from_numpy(data))
        if index == 0:
            assert_detections_match(expected, _outputs(generated), tolerances)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outputs = compiled(torch.from_numpy(data))
        assert not [w for w in caught if "--compile" in str(w.message)]
        assert_detections_match(expected, _outputs(outputs), tolerances)


@pytest.mark.parametrize("model", [pytest.param(m, marks=[pytest.mark.slow] if m in SLOW else [])
                                   for m in MODELS])
def test_detectors_with_dynamic_height_and_width(zoo_model, model):
    """One conversion with ``dynamic_axes data=2,3`` run at the conversion's size, a larger and (where the graph
    takes one) a smaller one, in both targets: the anchors and the box count follow the feature maps, so box_nms
    reads its count at run time (at the smaller size YOLOv3 has fewer boxes than box_nms's topk); CenterNet's
    deformable convolutions sample maps of the live size. SSD 300's anchor table covers maps up to 128 x 128,
    which the probe conversion (at 2 and 3 times the height and width) stays within."""
    prefix = zoo_model(model)
    graph = load_checkpoint(prefix, 0)
    side = input_side(model)
    shape, dynamic = (batch_size(model) or 1, 3, side, side), {"data": (2, 3)}
    source, state = emit_pytorch(graph, TorchOptions(shape, dynamic_axes=dynamic))
    module = build_model(module_from_source(source), state)
    onnx_model, _ = export_onnx(graph, ExportOptions(input_shape=shape, dynamic_axes=dynamic))
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    for other in (side, side + 32) if model in NO_SMALLER else (side, side + 32, side // 2):
        data = imagenet_normalise(sample_images(shape[0], other, seed=4))
        expected, tolerances = mxnet_detections(prefix, data)
        with torch.no_grad():
            assert_detections_match(expected, _outputs(module(torch.from_numpy(data))), tolerances)
        assert_detections_match(expected, session.run(None, {"data": data}), tolerances)


def test_rfcn_matches_mxnet_in_both_targets(tmp_path):
    """Two images and 16 rois of both, some past the image: DeformableConvolution, DeformablePSROIPooling with and
    without offsets, global average pooling, SoftmaxActivation."""
    prefix = build_rfcn(str(tmp_path))
    feeds = {"data": imagenet_normalise(sample_images(2, SIDE, seed=3)), "rois": rfcn_rois(2, 16, SIDE, seed=3)}
    expected = MxnetModel(prefix, 0)(feeds)
    exact = MxnetModel(prefix, 0, dtype="float64")({name: value.astype(np.float64) for name, value in feeds.items()})
    graph = load_checkpoint(prefix, 0)
    shapes = {name: value.shape for name, value in feeds.items()}
    onnx_model, _ = export_onnx(graph, ExportOptions(input_shape=shapes))
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    source, state = emit_pytorch(graph, TorchOptions(shapes))
    with torch.no_grad():
        generated = _outputs(build_model(module_from_source(source), state)(
            **{name: torch.from_numpy(value) for name, value in feeds.items()}))
    for actual in (session.run(None, feeds), generated):
        assert_near_exact(expected, exact, actual)
