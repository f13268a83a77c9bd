"""GluonCV's SiamRPN tracker as its users export it (``mxconvert.zoo.tracking``): its depthwise cross-correlation
is a Convolution whose weight is the template branch's features, so both targets take that weight as a tensor.
Both outputs judged as ``--tolerance auto`` judges, against MXNet 1.9.1's float64 result."""
from __future__ import annotations

import torch

from mxcases import assert_near_exact
from mxconvert import api
from mxconvert.zoo import tracking


def test_siamrpn_both_outputs_match_mxnet(tmp_path):
    prefix = tracking.build_tracker(tracking.MODELS[0], str(tmp_path))
    graph = api.load(prefix)
    feeds = tracking.sample_inputs(seed=3)
    shapes = {name: value.shape for name, value in feeds.items()}
    expected, exact = api.backend("mxnet", prefix)(feeds), api.backend("mxnet_fp64", prefix)(feeds)
    model = api.to_onnx(graph, shapes, tmp_path / "siamrpn.onnx")
    stored = {init.name for init in model.graph.initializer}
    correlations = [node for node in model.graph.node if node.op_type == "Conv" and node.input[1] not in stored]
    assert len(correlations) == 2  # the classification and the box branch
    assert_near_exact(expected, exact, api.backend("onnxruntime", tmp_path / "siamrpn.onnx")(feeds))
    module = api.to_pytorch(graph, shapes)
    with torch.no_grad():
        out = module(*(torch.from_numpy(feeds[var.name]) for var in graph.inputs))
    assert len(out) == 2
    assert_near_exact(expected, exact, [tensor.numpy() for tensor in out])
