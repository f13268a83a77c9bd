"""Whole zoo networks: converted forms against real MXNet, max|diff| <= 1e-5 x max|MXNet output|."""
from __future__ import annotations

import functools

import numpy as np
import onnxruntime as ort
import pytest

from mxconvert.checkpoint import load_checkpoint
from mxconvert.mxnet_runner import run_mxnet
from mxconvert.onnx_mxnet_backend import OnnxMxnetModel
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.zoo import imagenet_normalise, sample_images
from mxcases import assert_close

CLASSIC = [f"resnet-{d}" for d in (18, 34, 50, 101, 152)]
GLUON = ["gluon-resnet18_v1", "gluon-resnet50_v1", "gluon-resnet18_v2", "gluon-resnet50_v2"]
SHAPES = [(1, 3, 112, 112), (4, 3, 224, 224)]


@functools.lru_cache(maxsize=4)
def reference(prefix: str, shape: tuple[int, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
    images = sample_images(shape[0], shape[2], seed=11)
    data = imagenet_normalise(images) if "gluon-" in prefix else images
    return data, run_mxnet(prefix, 0, data)


def onnx_model(prefix: str, data: np.ndarray, **options):
    return export_onnx(load_checkpoint(prefix, 0), ExportOptions(input_shape=data.shape, **options))[0]


def onnx_outputs(prefix: str, data: np.ndarray, **options) -> list[np.ndarray]:
    model = onnx_model(prefix, data, **options)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"data": data})


@pytest.mark.parametrize("shape", SHAPES, ids=["112", "224x4"])
@pytest.mark.parametrize("name", CLASSIC + GLUON + ["resnet-18-legacy"])
def test_onnxruntime_matches_mxnet(zoo_model, name, shape):
    prefix = zoo_model(name)
    data, expected = reference(prefix, shape)
    assert_close(expected, onnx_outputs(prefix, data))


@pytest.mark.parametrize("shape", SHAPES, ids=["112", "224x4"])
@pytest.mark.parametrize("name", CLASSIC + ["gluon-resnet50_v1", "gluon-resnet50_v2"])
def test_onnx_on_mxnet_matches_mxnet(zoo_model, tmp_path, name, shape):
    prefix = zoo_model(name)
    data, expected = reference(prefix, shape)
    path = tmp_path / "model.onnx"
    path.write_bytes(onnx_model(prefix, data).SerializeToString())
    assert_close(expected, OnnxMxnetModel(path)(data))


@pytest.mark.parametrize("opset", range(11, 22))
def test_every_opset(zoo_model, opset):
    prefix = zoo_model("resnet-18")
    data, expected = reference(prefix, SHAPES[0])
    assert_close(expected, onnx_outputs(prefix, data, opset=opset))


@pytest.mark.parametrize("batch", [1, 8])
def test_dynamic_batch(zoo_model, batch):
    prefix = zoo_model("resnet-50")
    data, expected = reference(prefix, (batch, 3, 112, 112))
    assert_close(expected, onnx_outputs(prefix, data[:1] if batch == 1 else data, dynamic_batch=True)
                 if batch == 1 else _dynamic(prefix, data))


def _dynamic(prefix: str, data: np.ndarray) -> list[np.ndarray]:
    """Export at batch 1 with a symbolic batch axis, run at the data's batch."""
    model, _ = export_onnx(load_checkpoint(prefix, 0),
                           ExportOptions(input_shape=(1, *data.shape[1:]), dynamic_batch=True))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"data": data})


def test_fix_gamma_fixture_stores_gamma_not_one(zoo_model):
    """The fixture must be able to catch a converter that reads a fixed gamma."""
    graph = load_checkpoint(zoo_model("resnet-18"), 0)
    assert graph.node("bn_data").attrs["fix_gamma"]
    assert not np.allclose(graph.params["bn_data_gamma"], 1.0)


def test_fp16_error(zoo_model):
    """float16 keeps 11 significant bits; over 18 layers the error stays near 1e-3 of the output scale."""
    prefix = zoo_model("resnet-18")
    data, expected = reference(prefix, SHAPES[0])
    assert_close(expected, onnx_outputs(prefix, data, fp16=True), rel=2e-2)
