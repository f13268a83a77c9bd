"""Models written in MXNet's NumPy interface, d2l.ai style (``mxconvert.zoo.numpy_style``: LeNet and ResNet;
``mxconvert.zoo.numpy_text``: GRU and LSTM encoder-decoders, a Transformer encoder with valid lengths), each
converted once with dynamic axes and run at two input sizes in both targets against MXNet float32 and float64."""
from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
import pytest
import torch
from mxcases import assert_near_exact

from mxconvert import api
from mxconvert.to_onnx.exporter import MAX_OPSET, MIN_OPSET
from mxconvert.zoo import cli, numpy_text
from mxconvert.zoo.numpy_style import NUMPY_MODELS, build_numpy_model

# model -> (dynamic axes of its input, the two input shapes it runs at)
SIZES = {"np-lenet": ((0,), [(2, 1, 28, 28), (5, 1, 28, 28)]),
         "np-resnet": ((0, 2, 3), [(2, 3, 32, 32), (3, 3, 40, 48)])}
TEXT_SIZES = ((3, 8), (5, 13))  # (batch, source length); the conversion is made at the first


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


@pytest.fixture(scope="module")
def text_models(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("numpy_text"))
    return {model: numpy_text.build_text_model(model, out) for model in numpy_text.MODELS}


@pytest.mark.parametrize("model", sorted(numpy_text.MODELS))
def test_numpy_text_model_matches_mxnet_at_two_sizes(text_models, model):
    """Source and target tokens (or tokens and valid lengths, 0 and full among them) with batch and sequence
    length dynamic: one conversion per target (ONNX at the lowest and highest opset), run at two sizes; every
    output (the seq2seq decoders' final states too) near MXNet's float64 result, in MXNet's dtypes."""
    prefix = text_models[model]
    graph = api.load(prefix)
    spellings = {node.spelling or node.op for node in graph.nodes}
    assert {"_npi_zeros", "RNN"} <= spellings if model.startswith("np-seq2seq") else \
        {"SequenceMask", "_npx_reshape"} <= spellings
    shapes = {name: array.shape for name, array in numpy_text.sample_inputs(model, *TEXT_SIZES[0]).items()}
    axes = numpy_text.dynamic_axes(model)
    sessions = [ort.InferenceSession(api.to_onnx(graph, shapes, dynamic_axes=axes, opset=opset).SerializeToString(),
                                     providers=["CPUExecutionProvider"]) for opset in (MIN_OPSET, MAX_OPSET)]
    module = api.to_pytorch(api.load(prefix), shapes, dynamic_axes=axes)
    mxnet, exact = api.backend("mxnet", prefix), api.backend("mxnet_fp64", prefix)
    for batch, steps in TEXT_SIZES:
        feeds = numpy_text.sample_inputs(model, batch, steps, seed=steps)
        reference, float64 = mxnet(feeds), exact(feeds)
        with torch.no_grad():
            torch_out = module(**{name: torch.from_numpy(array) for name, array in feeds.items()})
        torch_out = torch_out if isinstance(torch_out, tuple) else (torch_out,)
        for outputs in (*(session.run(None, feeds) for session in sessions), [t.numpy() for t in torch_out]):
            assert_near_exact(reference, float64, outputs)
            assert [o.dtype for o in outputs] == [o.dtype for o in reference]


def test_zoo_cli_builds_numpy_interface_models(tmp_path, capsys):
    arguments = ["--numpy", "np-lenet", "np-transformer-encoder", "--out", str(tmp_path)]
    assert cli.main(arguments) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["np-lenet", "np-transformer-encoder"]
    assert cli.main(arguments) == 0
    assert all("skipped" in line for line in capsys.readouterr().out.splitlines())
    assert sorted(os.listdir(tmp_path)) == sorted(f"{name}{suffix}" for name in ("np-lenet", "np-transformer-encoder")
                                                  for suffix in ("-0000.params", "-symbol.json"))
