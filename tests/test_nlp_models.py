"""GluonNLP's models as their users export them (``mxconvert.zoo.nlp``: the BERT family, the Transformer encoder
and NMT model, the LSTM language models, a text CNN): one conversion per target with batch and sequence length
dynamic on every input that has them, run at two sizes and judged as ``--tolerance auto`` judges: within
max(1e-5, 4 x MXNet float32's own distance) of MXNet 1.9.1's float64 result (its float32-only interleaved
attention kernels rewritten for that run)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch

from conftest import ROOT
from mxcases import assert_close, assert_near_exact
from mxconvert import api
from mxconvert.errors import MxConvertError
from mxconvert.to_torch import build_model, load_kit_module
from mxconvert.to_torch.runner import CompiledModel
from mxconvert.zoo import nlp

FAMILIES = ("bert", "bert-classifier", "roberta", "distilbert", "ernie", "transformer-encoder", "transformer-nmt",
            "standard-lstm", "awd-lstm", "text-cnn")
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
    axes = nlp.dynamic_axes(name)
    assert all(not i.type.tensor_type.shape.dim[axis].dim_value for i in model.graph.input for axis in axes[i.name])
    mxnet, exact = api.backend("mxnet", prefix), api.backend("mxnet_fp64", prefix)
    for batch, steps in SIZES:
        feeds = nlp.sample_inputs(name, batch, steps, seed=steps)
        expected, reference = mxnet(feeds), exact(feeds)
        assert_near_exact(expected, reference, session.run(None, feeds))
        with torch.no_grad():
            out = module(*(torch.from_numpy(feeds[var.name]) for var in graph.inputs))
        assert_near_exact(expected, reference, [t.numpy() for t in (out if isinstance(out, tuple) else (out,))])


def test_interleaved_weights_are_stored_apart_per_projection(exported):
    """The attention cells' query, key and value weights, interleaved per head in the graph, are stored as three
    de-interleaved projections per layer (computed batch-major); GluonNLP's separate ones are gone."""
    model = api.to_onnx(api.load(exported["distilbert"]), {"data0": (1, 5), "data1": (1,)})
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    for role in ("query", "key", "value"):
        projection = f"selfattentioncell0_fullyconnected0_{role}"
        weights = [name for name in shapes if name.endswith(f"{projection}_weight_transposed")]
        biases = [name for name in shapes if name.endswith(f"{projection}_bias")]
        assert len(weights) == len(biases) == 2
        assert {shapes[name] for name in weights} == {(64, 64)} and {shapes[name] for name in biases} == {(64,)}
    assert not [name for name in shapes if "reshape3" in name or "reshape7" in name]


def test_graphs_without_time_major_attention_are_unchanged(exported, tmp_path):
    """The batch-major rewrite leaves a Transformer NMT (batch-major attention of its own) and an image model
    as they are: the very same graph object."""
    from mxconvert.batch_major import batch_major_attention
    from mxconvert.inference_graph import inference_forward
    from mxconvert.zoo.common import mx

    for name in ("transformer-nmt", "awd-lstm"):
        graph = inference_forward(api.load(exported[name]))
        shapes = {key: value.shape for key, value in nlp.sample_inputs(name, *SIZES[0]).items()}
        assert batch_major_attention(graph, shapes) == (graph, {})
    net = mx.gluon.model_zoo.vision.get_model("resnet18_v1", classes=4)
    net.initialize()
    net.hybridize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    net.export(str(tmp_path / "resnet"))
    graph = inference_forward(api.load(str(tmp_path / "resnet")))
    assert batch_major_attention(graph, (1, 3, 32, 32)) == (graph, {})


def test_bert_onnx_after_ort_transformer_optimizer_fuses_attention_per_layer(exported, tmp_path):
    """ONNX Runtime's transformer optimizer (model type bert) finds one Attention per layer, the
    SkipLayerNormalizations and the Gelus in our dynamic-axes BERT, and the optimized model still matches MXNet
    at two sizes; MXNet's valid length 0 (zero attention weights) comes out as MXNet's, zeros."""
    from onnxruntime.transformers import optimizer

    name, spec = "bert", nlp.MODELS["bert"]
    prefix, path = exported[name], tmp_path / "bert.onnx"
    shapes = {key: value.shape for key, value in nlp.sample_inputs(name, *SIZES[0]).items()}
    api.to_onnx(api.load(prefix), shapes, path, dynamic_axes=nlp.dynamic_axes(name))
    optimized = optimizer.optimize_model(str(path), model_type="bert", num_heads=spec.heads, hidden_size=spec.units)
    counts = optimized.get_fused_operator_statistics()
    assert counts["Attention"] == spec.layers
    assert counts["SkipLayerNormalization"] == 2 * spec.layers + 1  # and the pretraining head's
    assert counts["Gelu"] + counts["BiasGelu"] == spec.layers + 1
    optimized.save_model_to_file(str(tmp_path / "optimized.onnx"))
    session = ort.InferenceSession(str(tmp_path / "optimized.onnx"), providers=["CPUExecutionProvider"])
    mxnet, exact = api.backend("mxnet", prefix), api.backend("mxnet_fp64", prefix)
    for batch, steps in SIZES:
        feeds = nlp.sample_inputs(name, batch, steps, seed=steps)
        feeds["data2"][-1] = 0.0
        assert_near_exact(mxnet(feeds), exact(feeds), session.run(None, feeds))


def test_bert_classifier_for_serving_takes_int64_token_ids(exported, tmp_path):
    """The README's recipe: token ids and types as int64, batch and sequence dynamic, from the command line."""
    prefix = exported["bert-classifier"]
    onnx_path, kit_path, pth_path = tmp_path / "bert.onnx", tmp_path / "kit_model.py", tmp_path / "model.pth"
    flags = ["--prefix", prefix, "--epoch", "0", "--input_shape", "data0=1,16", "data1=1,16", "data2=1",
             "--input_dtype", "data0=int64", "data1=int64", "--dynamic_axes", "data0=0,1", "data1=0,1", "data2=0"]
    for script, outputs in (("mxnet2onnx.py", ["--onnx_model", str(onnx_path)]),
                            ("mxnet2pytorch.py", ["--kit_model", str(kit_path), "--pytorch_model", str(pth_path)])):
        done = subprocess.run([sys.executable, str(ROOT / script), *flags, *outputs], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert [i.type for i in session.get_inputs()] == ["tensor(int64)", "tensor(int64)", "tensor(float)"]
    feeds = nlp.sample_inputs("bert-classifier", 4, 11, seed=3)
    typed = {name: value.astype(np.int64) if name != "data2" else value for name, value in feeds.items()}
    expected = api.backend("mxnet", prefix)(feeds)
    assert_close(expected, session.run(None, typed))
    assert_close(expected, api.backend("onnxruntime", onnx_path)(feeds))  # the runner casts float ids
    module = build_model(load_kit_module(str(kit_path)), torch.load(pth_path, weights_only=True))
    arguments = [torch.from_numpy(typed[k]) for k in sorted(typed)]
    with torch.no_grad():
        assert_close(expected, [module(*arguments).numpy()])
        assert_close(expected, [CompiledModel(module)(*arguments).numpy()])  # --compile takes several inputs
    with pytest.raises(MxConvertError, match="--input_dtype names 'tokens', which is no data input"):
        api.to_onnx(api.load(prefix), {"data0": (1, 4), "data1": (1, 4), "data2": (1,)},
                    input_dtypes={"tokens": "int64"})
