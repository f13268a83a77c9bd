"""GluonNLP's BERT family as its users export it (``mxconvert.zoo.nlp``): one conversion per target with batch
and sequence length dynamic on every input, run at two sizes against MXNet 1.9.1."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mxcases import assert_close
from mxconvert import api
from mxconvert.zoo import nlp

FAMILIES = ("bert", "bert-classifier", "roberta", "distilbert", "ernie")
SIZES = ((2, 8), (3, 13))  # (batch, sequence length); the conversion is made at the first


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("nlp")
    return {name: nlp.build_nlp(name, str(out)) for name in FAMILIES}


@pytest.mark.parametrize("name", FAMILIES)
def test_family_matches_mxnet_at_two_sequence_lengths_from_one_conversion(exported, name, tmp_path):
    prefix = exported[name]
    graph = api.load(prefix)
    shapes = {key: value.shape for key, value in nlp.sample_inputs(name, *SIZES[0]).items()}
    onnx_path = tmp_path / "model.onnx"
    model = api.to_onnx(graph, shapes, onnx_path, dynamic_axes=nlp.dynamic_axes(name))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    module = api.to_pytorch(graph, shapes, dynamic_axes=nlp.dynamic_axes(name))
    assert all(not dim.dim_value for i in model.graph.input for dim in i.type.tensor_type.shape.dim[:1])
    mxnet = api.backend("mxnet", prefix)
    for batch, steps in SIZES:
        feeds = nlp.sample_inputs(name, batch, steps, seed=steps)
        expected = mxnet(feeds)
        assert_close(expected, session.run(None, feeds))
        with torch.no_grad():
            out = module(*(torch.from_numpy(feeds[var.name]) for var in graph.inputs))
        assert_close(expected, [t.numpy() for t in (out if isinstance(out, tuple) else (out,))])


def test_interleaved_weights_are_stored_folded(exported):
    """The attention cells' query, key and value weights and biases, interleaved in the graph, are stored as one
    projection weight and one bias per layer; the separate ones are gone."""
    model = api.to_onnx(api.load(exported["distilbert"]), {"data0": (1, 5), "data1": (1,)})
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    weights = [name for name in shapes if name.endswith("selfattentioncell0_reshape3_transposed")]
    biases = [name for name in shapes if name.endswith("selfattentioncell0_reshape7")]
    assert len(weights) == len(biases) == 2
    assert {shapes[name] for name in weights} == {(64, 3 * 64)} and {shapes[name] for name in biases} == {(3 * 64,)}
    assert not [name for name in shapes if any(part in name for part in ("query", "key_", "value_"))]
