"""Models written in MXNet's NumPy interface (``mxconvert.zoo.numpy_style``: d2l-style LeNet and ResNet), each
converted once with dynamic axes and run at two input sizes in both targets against MXNet float32 and float64."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from mxcases import assert_near_exact

from mxconvert import api
from mxconvert.zoo.numpy_style import NUMPY_MODELS, build_numpy_model

# model -> (dynamic axes of its input, the two input shapes it runs at)
SIZES = {"np-lenet": ((0,), [(2, 1, 28, 28), (5, 1, 28, 28)]),
         "np-resnet": ((0, 2, 3), [(2, 3, 32, 32), (3, 3, 40, 48)])}


@pytest.fixture(scope="module", params=sorted(NUMPY_MODELS))
def built(request, tmp_path_factory):
    return request.param, build_numpy_model(request.param, str(tmp_path_factory.mktemp("numpy_zoo")))


def test_numpy_style_model_matches_mxnet_at_two_sizes(built):
    model, prefix = built
    axes, shapes = SIZES[model]
    graph = api.load(prefix)
    assert any(node.spelling.startswith(("_np", "_npi", "_npx")) for node in graph.nodes)
    onnx_model = api.to_onnx(graph, shapes[0], dynamic_axes={"data": axes})
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    module = api.to_pytorch(api.load(prefix), shapes[0], dynamic_axes={"data": axes})
    mxnet, exact = api.backend("mxnet", prefix), api.backend("mxnet_fp64", prefix)
    rng = np.random.default_rng(0)
    for shape in shapes:
        data = rng.normal(size=shape).astype(np.float32)
        reference, float64 = mxnet(data), exact(data)
        with torch.no_grad():
            torch_out = module(torch.from_numpy(data))
        for outputs in (session.run(None, {"data": data}), [torch_out.numpy()]):
            assert_near_exact(reference, float64, outputs)
            assert [o.dtype for o in outputs] == [o.dtype for o in reference]
