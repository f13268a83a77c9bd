"""Weights computed in the graph: from stored weights alone (folded into stored weights at conversion, one
evaluator per op, each checked here against MXNet) or from the data (a cross-correlation with another branch:
the functional forms). MXNet 1.9.1 is the reference, in both targets."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mxcases import S, assert_close, mx
from mxconvert.checkpoint import attach_weights
from mxconvert.errors import UnsupportedOpsError
from mxconvert.folding import EVALUATORS, fold_constants
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source

data, other = S.var("data"), S.var("other")
w, v, g = S.var("w"), S.var("v"), S.var("g")


def _reference(sym, shapes: dict[str, tuple], weight_shapes: dict[str, tuple] | None = None, seed: int = 0):
    """MXNet's outputs for ``sym`` with random weights (``weight_shapes`` where MXNet cannot infer them); the
    graph with those weights and the data fed (inputs named in ``shapes``)."""
    rng = np.random.default_rng(seed)
    arg_shapes, _, _ = sym.infer_shape(**shapes, **(weight_shapes or {}))
    feeds, weights, args = {}, {}, {}
    for name, shape in zip(sym.list_arguments(), arg_shapes):
        value = rng.uniform(0.5, 1.5, shape).astype(np.float32) if name in shapes or name.startswith("g") \
            else rng.normal(0, 0.5, shape).astype(np.float32)
        (feeds if name in shapes else weights)[name] = value
        args[name] = mx.nd.array(value)
    outputs = [out.asnumpy() for out in sym.bind(mx.cpu(), args).forward(is_train=False)]
    graph = parse_symbol(sym.tojson())
    attach_weights(graph, {f"arg:{k}": a for k, a in weights.items()}, "<test weights>")
    return graph, feeds, outputs


def _onnx(graph, feeds, **options):
    model, _ = export_onnx(graph, ExportOptions(input_shape={k: a.shape for k, a in feeds.items()}, **options))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return model, session.run(None, feeds)


def _torch(graph, feeds):
    source, state = emit_pytorch(graph, TorchOptions(input_shape={k: a.shape for k, a in feeds.items()}))
    model = build_model(module_from_source(source), state)
    with torch.no_grad():
        out = model(*(torch.from_numpy(feeds[var.name]) for var in graph.inputs))
    return source, [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def _both(sym, shapes, weight_shapes=None, rel=1e-5):
    graph, feeds, expected = _reference(sym, shapes, weight_shapes)
    model, onnx_out = _onnx(graph, feeds)
    source, torch_out = _torch(graph, feeds)
    assert_close(expected, onnx_out, rel)
    assert_close(expected, torch_out, rel)
    return model, source


def _interleaved_projection(heads: int = 2):
    """GluonNLP's self-attention projection: query, key and value weights interleaved per head in the graph."""
    parts = [S.var(f"{k}_weight").reshape(shape=(heads, -1, 0), reverse=True) for k in "qkv"]
    weight = S.concat(*parts, dim=-2).reshape(shape=(-1, 0), reverse=True)
    biases = [S.var(f"{k}_bias").reshape(shape=(heads, -1), reverse=True) for k in "qkv"]
    bias = S.stack(*biases, axis=1).reshape(-1)
    return S.FullyConnected(data, weight=weight, bias=bias, num_hidden=24, flatten=False, name="proj")


def test_interleaved_attention_weights_fold_into_one_stored_weight():
    sym = _interleaved_projection()
    shapes = {"data": (5, 2, 8), "q_weight": (8, 8), "k_weight": (8, 8), "v_weight": (8, 8),
              "q_bias": (8,), "k_bias": (8,), "v_bias": (8,)}
    weights = {k: s for k, s in shapes.items() if k != "data"}
    graph, feeds, expected = _reference(sym, {"data": shapes["data"]}, weights)
    folded = fold_constants(graph)
    assert [n.op for n in folded.nodes] == ["FullyConnected"]
    assert folded.params[folded.nodes[0].inputs[1].node].shape == (24, 8)
    assert not {"q_weight", "k_bias"} & set(folded.variables)
    model, source = _both(sym, {"data": shapes["data"]}, weights)
    assert {n.op_type for n in model.graph.node} == {"MatMul", "Add"}
    assert "nn.Linear(8, 24)" in source


def test_weight_normalisation_folds_in_the_weights_dtype():
    norm = S.sqrt(S.sum(S.square(v), axis=(1, 2, 3), keepdims=True))
    weight = S.broadcast_mul(g, S.broadcast_div(v, norm))
    sym = S.Convolution(data, weight=weight, kernel=(3, 3), num_filter=4, pad=(1, 1), no_bias=True, name="conv")
    weights = {"v": (4, 3, 3, 3), "g": (4, 1, 1, 1)}
    graph, feeds, expected = _reference(sym, {"data": (2, 3, 6, 6)}, weights)
    folded = fold_constants(graph)
    assert [n.op for n in folded.nodes] == ["Convolution"]
    assert folded.params[folded.nodes[0].inputs[1].node].dtype == np.float32
    _both(sym, {"data": (2, 3, 6, 6)}, weights)


# one weight expression per evaluator, each feeding a FullyConnected of 3 inputs (so MXNet checks the result)
_TO_3 = dict(shape=(-1, 3))
_EXPRESSIONS = {
    "_copy": lambda: S.identity(w), "BlockGrad": lambda: S.BlockGrad(w), "negative": lambda: -w,
    "abs": lambda: S.abs(w), "sqrt": lambda: S.sqrt(S.abs(w)), "rsqrt": lambda: S.rsqrt(S.abs(w) + 0.5),
    "square": lambda: S.square(w), "exp": lambda: S.exp(w), "log": lambda: S.log(S.abs(w) + 0.1),
    "reciprocal": lambda: S.reciprocal(w + 3), "relu": lambda: S.relu(w), "sigmoid": lambda: S.sigmoid(w),
    "tanh": lambda: S.tanh(w), "sign": lambda: S.sign(w), "zeros_like": lambda: w + S.zeros_like(w),
    "ones_like": lambda: w * S.ones_like(w),
    "elemwise_add": lambda: S.elemwise_add(w, v), "elemwise_sub": lambda: S.elemwise_sub(w, v),
    "elemwise_mul": lambda: S.elemwise_mul(w, v), "elemwise_div": lambda: S.elemwise_div(w, S.abs(v) + 1),
    "broadcast_add": lambda: S.broadcast_add(w, g), "broadcast_sub": lambda: S.broadcast_sub(w, g),
    "broadcast_mul": lambda: S.broadcast_mul(w, g), "broadcast_div": lambda: S.broadcast_div(w, g),
    "broadcast_maximum": lambda: S.broadcast_maximum(w, g), "broadcast_minimum": lambda: S.broadcast_minimum(w, g),
    "_maximum": lambda: S.maximum(w, v), "_minimum": lambda: S.minimum(w, v),
    "broadcast_power": lambda: S.broadcast_power(S.abs(w), g), "_power": lambda: S.abs(w) ** S.abs(v),
    "_plus_scalar": lambda: w + 0.3, "_minus_scalar": lambda: w - 0.3, "_mul_scalar": lambda: w * 1.7,
    "_div_scalar": lambda: w / 3.0, "_power_scalar": lambda: S.abs(w) ** 1.5, "_maximum_scalar": lambda: S.maximum(w, 0.1),
    "_minimum_scalar": lambda: S.minimum(w, 0.1), "_rminus_scalar": lambda: 1 - w, "_rdiv_scalar": lambda: 1 / (w + 3),
    "_rpower_scalar": lambda: 2.0 ** w, "add_n": lambda: S.add_n(w, v, w),
    "Reshape": lambda: S.Reshape(S.Reshape(w, shape=(-1,)), shape=(4, -1)),
    "Flatten": lambda: S.Flatten(S.Reshape(w, shape=(4, 1, 3))),
    "Concat": lambda: S.concat(S.slice_axis(w, axis=0, begin=0, end=2), S.slice_axis(v, axis=0, begin=2, end=4), dim=0),
    "_rnn_param_concat": lambda: S.slice_axis(S._internal._rnn_param_concat(w, v, dim=0, num_args=2), axis=0,
                                              begin=2, end=6),
    "stack": lambda: S.sum(S.stack(w, v, axis=1), axis=1),
    "transpose": lambda: S.transpose(S.transpose(w, axes=(1, 0))),
    "SwapAxis": lambda: S.Reshape(S.SwapAxis(S.Reshape(w, shape=(2, 2, 3)), dim1=0, dim2=2), **_TO_3),
    "expand_dims": lambda: S.Reshape(S.expand_dims(w, axis=-1), **_TO_3),
    "squeeze": lambda: S.squeeze(S.Reshape(w, shape=(4, 1, 3)), axis=1),
    "slice": lambda: S.slice(S.concat(w, v, dim=0), begin=(None, None), end=(None, None), step=(-2, 1)),
    "slice_axis": lambda: S.slice_axis(S.concat(w, v, dim=0), axis=0, begin=-4, end=None),
    "SliceChannel": lambda: S.concat(*reversed(list(S.SliceChannel(w, num_outputs=2, axis=0))), dim=0),
    "_split_v2": lambda: S.concat(*reversed(list(S.split_v2(w, (0, 1), axis=0))), dim=0),
    "tile": lambda: S.Reshape(S.tile(S.slice_axis(w, axis=0, begin=0, end=2), reps=(2, 1)), **_TO_3),
    "repeat": lambda: S.repeat(S.slice_axis(w, axis=0, begin=0, end=2), repeats=2, axis=0),
    "reverse": lambda: S.reverse(w, axis=(0, 1)),
    "Cast": lambda: S.Cast(S.Cast(w * 10, dtype="int32"), dtype="float32"),
    "sum": lambda: S.broadcast_add(w, S.sum(v, axis=0, keepdims=True)),
    "mean": lambda: S.broadcast_add(w, S.mean(v, axis=1, keepdims=True, exclude=True)),
    "clip": lambda: S.clip(w, -0.2, 0.3),
    "diag": lambda: S.concat(S.diag(S.Reshape(S.slice_axis(w, axis=0, begin=0, end=1), shape=(-1,)), k=0),
                             S.Reshape(S.diag(S.Reshape(v, shape=(2, 2, 3)), k=-1, axis1=1, axis2=0), shape=(1, 3)),
                             dim=0),
    "khatri_rao": lambda: S.khatri_rao(S.slice_axis(w, axis=0, begin=0, end=2),
                                       S.slice_axis(v, axis=0, begin=1, end=3)),
    "_linalg_extractdiag": lambda: S.linalg.extractdiag(S.Reshape(S.concat(w, v, w, dim=1), shape=(4, 3, 3))),
    "_linalg_extracttrian": lambda: S.linalg.extracttrian(S.Reshape(S.concat(w, v, w, dim=1), shape=(4, 3, 3)),
                                                          offset=1),
    "_linalg_makediag": lambda: S.slice_axis(S.sum(S.linalg.makediag(w, offset=1), axis=1), axis=1, begin=0, end=3),
    "_linalg_maketrian": lambda: S.slice_axis(S.Reshape(S.linalg.maketrian(w, lower=False), shape=(4, 4)), axis=1,
                                              begin=0, end=3),
    "_linalg_syrk": lambda: S.slice_axis(S.linalg.syrk(w, alpha=0.5), axis=1, begin=0, end=3),
    "_linalg_potrf": lambda: S.concat(S.linalg.potrf(S.linalg.syrk(S.concat(w, v, dim=0), transpose=True),
                                                     lower=False), S.slice_axis(w, axis=0, begin=0, end=1), dim=0),
    "_contrib_gradientmultiplier": lambda: S.contrib.gradientmultiplier(w, scalar=0.1),
    "_contrib_quadratic": lambda: S.contrib.quadratic(w, a=0.7, b=-1.5, c=0.25),
}


def test_every_evaluator_has_a_case():
    assert set(EVALUATORS) == set(_EXPRESSIONS)


@pytest.mark.parametrize("op", sorted(_EXPRESSIONS))
def test_folded_value_matches_mxnet(op):
    weight = _EXPRESSIONS[op]()
    sym = S.FullyConnected(data, weight=weight, bias=S.var("bias"), num_hidden=4, name="fc")
    known = {"w": (4, 3), "v": (4, 3), "g": (4, 1), "bias": (4,)}
    graph, feeds, expected = _reference(sym, {"data": (2, 3)},
                                        {k: s for k, s in known.items() if k in sym.list_arguments()})
    folded = fold_constants(graph)
    assert [n.op for n in folded.nodes] == ["FullyConnected"], [n.op for n in folded.nodes]
    _, onnx_out = _onnx(graph, feeds)
    assert_close(expected, onnx_out, 1e-6)
    _, torch_out = _torch(graph, feeds)
    assert_close(expected, torch_out, 1e-6)


def _depthwise_xcorr(channels: int):
    """SiamRPN's depthwise cross-correlation: the template branch's features are the convolution's weight, the
    batch folded into the channels as GluonCV does."""
    kernel = S.Convolution(other, kernel=(3, 3), num_filter=channels, name="template_conv")
    search = S.Convolution(data, kernel=(3, 3), num_filter=channels, name="search_conv")
    weight = S.Reshape(kernel, shape=(-1, 1, 0, 0), reverse=False)
    flat = S.Reshape(search, shape=(1, -1, 0, 0))
    corr = S.Convolution(flat, weight=weight, kernel=(4, 4), num_filter=2 * channels, num_group=2 * channels,
                         no_bias=True, name="xcorr")
    return S.Group([S.Reshape(corr, shape=(2, channels, 0, 0), name="cls"),
                    S.FullyConnected(S.slice(search, begin=(None, None, 0, 0), end=(None, None, 4, 4)),
                                     weight=S.Flatten(kernel), bias=S.var("fc_bias"), num_hidden=2, name="match")])


def test_weights_computed_from_the_data_use_the_functional_forms():
    model, source = _both(_depthwise_xcorr(3), {"data": (2, 3, 9, 9), "other": (2, 3, 6, 6)})
    xcorr = next(n for n in model.graph.node if n.name == "xcorr")
    assert xcorr.input[1] not in {init.name for init in model.graph.initializer}
    assert "F.conv2d(" in source and "groups=6" in source and "F.linear(" in source
    assert "nn.Conv2d(3, 3" in source  # the branches' own convolutions keep their layers


def test_fully_connected_without_flatten_takes_a_computed_weight_and_bias():
    weight = S.Reshape(S.slice_axis(other, axis=0, begin=0, end=1), shape=(-1, 4))
    bias = S.Reshape(S.slice(other, begin=(1, 0), end=(2, 3)), shape=(-1,)) * S.var("scale")
    sym = S.FullyConnected(data, weight=weight, bias=bias, num_hidden=3, flatten=False, name="fc")
    _both(sym, {"data": (2, 5, 4), "other": (2, 12)}, {"scale": (3,)})


def test_a_weight_computed_from_the_data_where_a_converter_needs_it_stored_is_refused_by_name():
    gamma = S.Reshape(S.slice_axis(data, axis=0, begin=0, end=1), shape=(-1,))
    sym = S.LeakyReLU(data, gamma=gamma, act_type="prelu", name="prelu")
    graph, feeds, _ = _reference(sym, {"data": (1, 4)})
    for convert in (lambda: _onnx(graph, feeds), lambda: _torch(graph, feeds)):
        with pytest.raises(UnsupportedOpsError) as caught:
            convert()
        assert "LeakyReLU [weight input 1 computed in the graph, not stored] (prelu)" in str(caught.value)
