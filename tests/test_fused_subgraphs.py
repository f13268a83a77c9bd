"""Models fused by ``optimize_for(backend='MKLDNN')`` (``mxconvert.zoo.fused``): the reader keeps each
``_sg_mkldnn_*`` node's subgraph and typed attributes, both targets compute what the fused graph computes, judged
as ``--tolerance auto`` judges against MXNet 1.9.1 (float32: MXNet's own fused kernels; float64: the ops of the
subgraphs, which MXNet's float32-only fused kernels cannot run). INT8 exports: ``test_quantized_models.py``."""
from __future__ import annotations

import onnxruntime as ort
import pytest
import torch

from mxcases import assert_near_exact
from mxconvert import api
from mxconvert.ir import VarKind
from mxconvert.zoo import fused, nlp


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("fused")
    return {name: fused.build_fused(name, str(out)) for name in fused.MODELS}


def test_reader_keeps_subgraphs_and_typed_attributes(exported):
    graph = api.load(exported["resnet18_v1"])
    convs = [node for node in graph.nodes if node.op == "_sg_mkldnn_conv"]
    assert len(convs) == 20 and all(len(node.subgraphs) == 1 for node in convs)
    with_sum = [node for node in convs if node.attrs["with_sum"]]
    assert len(with_sum) == 8 and all(node.attrs["with_bn"] and not node.attrs["quantized"] for node in with_sum)
    assert [n.op for n in with_sum[0].subgraphs[0].nodes] == ["Convolution", "BatchNorm", "elemwise_add", "Activation"]
    assert graph.vars_of(VarKind.AUX) and all(v.name.endswith(("_mean", "_var")) for v in graph.vars_of(VarKind.AUX))


@pytest.mark.parametrize("name", [name for name in fused.MODELS if name != "bert-classifier"])
def test_fused_model_matches_mxnet(exported, name, tmp_path):
    prefix = exported[name]
    graph = api.load(prefix)
    feeds = fused.sample_inputs(name, 2, seed=7)
    shapes = {key: value.shape for key, value in feeds.items()}
    api.to_onnx(graph, shapes, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    module = api.to_pytorch(graph, shapes)
    expected, reference = api.backend("mxnet", prefix)(feeds), api.backend("mxnet_fp64", prefix)(feeds)
    assert_near_exact(expected, reference, session.run(None, feeds))
    with torch.no_grad():
        assert_near_exact(expected, reference, [module(torch.from_numpy(feeds["data"])).numpy()])


def test_fused_bert_at_two_sequence_lengths(exported, tmp_path):
    """The fused attention products (``_sg_mkldnn_selfatt_*``) and FullyConnected+GELU, with dynamic axes."""
    prefix, axes = exported["bert-classifier"], nlp.dynamic_axes("bert-classifier")
    graph = api.load(prefix)
    assert {"_sg_mkldnn_selfatt_qk", "_sg_mkldnn_selfatt_valatt"} <= {node.op for node in graph.nodes}
    shapes = {key: value.shape for key, value in nlp.sample_inputs("bert-classifier", 2, 8).items()}
    api.to_onnx(graph, shapes, tmp_path / "model.onnx", dynamic_axes=axes)
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    module = api.to_pytorch(graph, shapes, dynamic_axes=axes)
    mxnet, exact = api.backend("mxnet", prefix), api.backend("mxnet_fp64", prefix)
    for batch, steps in ((2, 8), (3, 13)):
        feeds = nlp.sample_inputs("bert-classifier", batch, steps, seed=steps)
        expected, reference = mxnet(feeds), exact(feeds)
        assert_near_exact(expected, reference, session.run(None, feeds))
        with torch.no_grad():
            out = module(*(torch.from_numpy(feeds[var.name]) for var in graph.inputs))
        assert_near_exact(expected, reference, [out.numpy()])
