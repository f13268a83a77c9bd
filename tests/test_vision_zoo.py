"""Whole networks of Gluon's vision model zoo, GluonCV's classifiers, GluonCV's networks on several frames (clips,
frame pairs) and a super-resolution net, built locally with real MXNet (random weights, BatchNorm calibrated),
converted to both targets and run against MXNet at their own input size. Judged
as ``--tolerance auto`` judges: against MXNet's float64 result, within max(1e-5, 4x MXNet float32's own
distance from it) (MobileNet 0.25's float32 output is 2.3e-5 of scale from float64 in MXNet itself)."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mxcases import assert_near_exact
from mxconvert.checkpoint import load_checkpoint
from mxconvert.mxnet_runner import MxnetModel
from mxconvert.passes import foldable_batch_norms
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, build_model, emit_pytorch
from mxconvert.to_torch.loader import module_from_source
from mxconvert.zoo import video
from mxconvert.zoo.common import imagenet_normalise, sample_images
from mxconvert.zoo.vision import MODELS, input_side

# One network of each family in make test; every other one behind the slow marker.
QUICK = {"vision-alexnet", "vision-densenet121", "vision-mobilenet0.25", "vision-mobilenetv2_0.25",
         "vision-squeezenet1.1", "vision-vgg11_bn", "gluoncv-resnet50_v1d", "gluoncv-se_resnet18_v1",
         "gluoncv-resnest14", "gluoncv-mobilenetv3_small", "gluoncv-resnet18_v1b_0.89", "sr-espcn",
         "video-i3d_resnet50_v1_kinetics400", "depth-posenet_resnet18"}
# Checked with their BatchNorms folded too (fuse_bn).
FOLDED = {"video-i3d_resnet50_v1_kinetics400", "gluoncv-resnet18_v1b_0.89", "depth-posenet_resnet18"}


def sample_input(model: str) -> np.ndarray:
    """Two images at the model's side; one clip or two frame pairs for a network on several frames."""
    if model in video.MODELS:
        return video.sample_inputs(model, 1 if model.startswith("video-") else 2, seed=3)
    return imagenet_normalise(sample_images(2, input_side(model), seed=3))


@pytest.mark.parametrize("model", [model if model in QUICK else pytest.param(model, marks=pytest.mark.slow)
                                   for model in (*MODELS, *video.MODELS)])
def test_network_matches_mxnet_in_both_targets(zoo_model, model):
    """Both targets near MXNet's float64 result; for the 3-D and pruned networks also ``kit_model.py`` with every
    BatchNorm folded into the convolution before it (``fuse_bn``: 3-D kernels, uneven channel counts)."""
    prefix = zoo_model(model)
    data = sample_input(model)
    expected = MxnetModel(prefix, 0)(data)
    exact = MxnetModel(prefix, 0, dtype="float64")(data)
    graph = load_checkpoint(prefix, 0)
    onnx_model, _ = export_onnx(graph, ExportOptions(input_shape=data.shape, opset=13))
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert_near_exact(expected, exact, session.run(None, {"data": data}))
    if model in FOLDED:
        assert len(foldable_batch_norms(graph)) == sum(node.op == "BatchNorm" for node in graph.nodes) > 0
    for fuse_bn in (False, True) if model in FOLDED else (False,):
        source, state = emit_pytorch(graph, TorchOptions(data.shape, fuse_bn=fuse_bn))
        assert not fuse_bn or "nn.BatchNorm" not in source
        with torch.no_grad():
            out = build_model(module_from_source(source), state)(torch.from_numpy(data))
        assert_near_exact(expected, exact, [o.numpy() for o in (out if isinstance(out, (tuple, list)) else [out])])
    assert np.abs(expected[0]).max() > 0
