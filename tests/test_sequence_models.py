"""Whole sequence models as people trained them: an OCR LSTM unrolled by hand in MXNet 0.x JSON with
a WarpCTC head, a CTCLoss head, an Embedding + LSTM language model and a bidirectional GRU encoder from Gluon.
MXNet 1.9.1 is the reference (for WarpCTC, whose plugin it cannot load, with the head replaced by its forward)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import onnxruntime as ort
import torch

from mxcases import S, assert_close, mx
from mxconvert.checkpoint import attach_weights, load_checkpoint
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source
from mxconvert.zoo.common import legacy_graph
from mxconvert.zoo.sequence import unrolled_lstm

STEPS, BATCH, FEATURES, HIDDEN, CLASSES = 6, 2, 5, 7, 11


def _targets(graph, feeds: dict[str, np.ndarray]) -> list[list[np.ndarray]]:
    """ONNX Runtime's and PyTorch's outputs of ``graph`` on ``feeds`` (begin states left to zeros)."""
    shapes = {name: array.shape for name, array in feeds.items()}
    model, _ = export_onnx(graph, ExportOptions(input_shape=shapes))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    onnx_out = session.run(None, {n: feeds.get(n, np.zeros([d for d in i.shape], np.float32))
                                  for n, i in zip(names, session.get_inputs())})
    source, state = emit_pytorch(graph, TorchOptions(shapes))
    with torch.no_grad():
        out = build_model(module_from_source(source), state)(**{k: torch.from_numpy(v) for k, v in feeds.items()})
    return [onnx_out, [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]]


def _ocr_scores():
    return unrolled_lstm(STEPS, HIDDEN, CLASSES)


def _random_params(sym, shapes: dict[str, tuple], seed: int) -> dict[str, np.ndarray]:
    arg_shapes, _, _ = sym.infer_shape_partial(**shapes)
    rng = np.random.default_rng(seed)
    return {name: rng.normal(0, 0.4, shape).astype(np.float32) for name, shape in zip(sym.list_arguments(), arg_shapes)
            if name not in shapes and shape and not name.endswith("label")}


def _mxnet(sym, params: dict[str, np.ndarray], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    executor = sym.simple_bind(mx.cpu(), grad_req="null", **{k: v.shape for k, v in feeds.items()})
    for name, value in {**params, **feeds}.items():
        executor.arg_dict[name][:] = value
    return [out.asnumpy() for out in executor.forward(is_train=False)]


def test_ocr_lstm_with_warpctc_head_in_mxnet_0x_json(tmp_path):
    scores = _ocr_scores()
    states = {name: (BATCH, HIDDEN) for name in ("l0_init_c", "l0_init_h")}
    params = _random_params(scores, {"data": (BATCH, STEPS, FEATURES), **states}, seed=1)
    reference = S.softmax(scores, axis=-1, name="ctc")  # WarpCTC's forward
    doc = json.loads(reference.tojson())
    label = {"op": "null", "name": "label", "inputs": []}
    doc["nodes"].insert(len(doc["nodes"]) - 1, label)
    head = doc["nodes"][-1]
    head.update(op="WarpCTC", attrs={"label_length": "4", "input_length": str(STEPS)})
    head["inputs"] = [head["inputs"][0], [len(doc["nodes"]) - 2, 0, 0]]
    doc["arg_nodes"].append(len(doc["nodes"]) - 2)
    doc["heads"] = [[len(doc["nodes"]) - 1, 0, 0]]
    (tmp_path / "ocr-symbol.json").write_text(json.dumps(legacy_graph(doc)))
    mx.nd.save(str(tmp_path / "ocr-0000.params"), {f"arg:{k}": mx.nd.array(v) for k, v in params.items()})
    graph = load_checkpoint(str(tmp_path / "ocr"), 0)
    assert "WarpCTC" in {node.op for node in graph.nodes} and len(graph.nodes) > 80
    rng = np.random.default_rng(2)
    feeds = {"data": rng.normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)}
    zeros = {name: np.zeros(shape, np.float32) for name, shape in states.items()}
    want = _mxnet(reference, params, {**feeds, **zeros})
    for outputs in _targets(graph, feeds):
        assert_close(want, outputs)


def test_ctc_loss_head_yields_the_per_step_scores():
    scores = _ocr_scores()
    states = {name: (BATCH, HIDDEN) for name in ("l0_init_c", "l0_init_h")}
    shapes = {"data": (BATCH, STEPS, FEATURES), **states}
    params = _random_params(scores, shapes, seed=3)
    training = S.MakeLoss(S.contrib.CTCLoss(scores, S.var("label"), name="ctc"), name="loss")
    graph = parse_symbol(training.tojson())
    attach_weights(graph, {f"arg:{k}": v for k, v in params.items()}, "<test>")
    rng = np.random.default_rng(4)
    feeds = {name: rng.normal(size=shape).astype(np.float32) for name, shape in shapes.items()}
    want = _mxnet(scores, params, feeds)
    for outputs in _targets(graph, feeds):
        assert_close(want, outputs)


def _gluon_export(net: mx.gluon.HybridBlock, data: np.ndarray, tmp_path, seed: int):
    net.initialize(mx.init.Uniform(0.4))
    net(mx.nd.array(data))  # shapes the deferred parameters
    rng = np.random.default_rng(seed)
    for param in net.collect_params().values():
        param.set_data(mx.nd.array(rng.uniform(-0.4, 0.4, param.shape)))
    net.hybridize()
    expected = net(mx.nd.array(data)).asnumpy()
    net.export(str(tmp_path / "net"))
    return load_checkpoint(str(tmp_path / "net"), 0), [expected]


def test_embedding_lstm_language_model(tmp_path):
    """Token ids (N, T) -> Embedding -> 2-layer LSTM (NTC) -> Dense over the vocabulary at every step."""
    vocabulary = 23
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Embedding(vocabulary, 9), mx.gluon.rnn.LSTM(HIDDEN, num_layers=2, layout="NTC", input_size=9),
            mx.gluon.nn.Dense(vocabulary, flatten=False))
    tokens = np.random.default_rng(5).integers(0, vocabulary, (BATCH, STEPS)).astype(np.float32)
    graph, want = _gluon_export(net, tokens, tmp_path, seed=6)
    assert {"Embedding", "RNN"} <= {node.op for node in graph.nodes}
    for outputs in _targets(graph, {"data": tokens}):
        assert_close(want, outputs)


def test_bidirectional_gru_encoder(tmp_path):
    """A bidirectional GRU encoder over (T, N, F) features, its last step projected: the classic seq2seq encoder."""

    class Encoder(mx.gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            self.gru = mx.gluon.rnn.GRU(HIDDEN, num_layers=1, bidirectional=True, input_size=FEATURES)
            self.project = mx.gluon.nn.Dense(4)

        def hybrid_forward(self, F, x):
            return self.project(F.SequenceLast(self.gru(x)))

    data = np.random.default_rng(7).normal(size=(STEPS, BATCH, FEATURES)).astype(np.float32)
    graph, want = _gluon_export(Encoder(), data, tmp_path, seed=8)
    for outputs in _targets(graph, {"data": data}):
        assert_close(want, outputs)


@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell", "RNNCell"])
def test_gluon_cells_unrolled_run_other_batch_sizes(cell, tmp_path):
    """``cell.unroll`` hybridized and exported: FullyConnected + SliceChannel per step and ``_zeros`` begin states of
    unknown batch, which MXNet sizes from the FullyConnected that reads them. With a dynamic batch the zeros follow
    the live batch in both targets."""

    class Unrolled(mx.gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            self.cell = getattr(mx.gluon.rnn, cell)(HIDDEN, input_size=FEATURES)

        def hybrid_forward(self, F, x):
            return self.cell.unroll(STEPS, x, layout="NTC", merge_outputs=True)[0]

    data = np.random.default_rng(9).normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)
    net = Unrolled()
    graph, _ = _gluon_export(net, data, tmp_path, seed=10)
    assert "_zeros" in {node.op for node in graph.nodes}
    model, _ = export_onnx(graph, ExportOptions(input_shape=data.shape, dynamic_batch=True))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    source, state = emit_pytorch(graph, TorchOptions(data.shape, dynamic_batch=True))
    module = build_model(module_from_source(source), state)
    for batch in (BATCH, BATCH + 3):
        other = np.random.default_rng(batch).normal(size=(batch, STEPS, FEATURES)).astype(np.float32)
        want = [net(mx.nd.array(other)).asnumpy()]
        assert_close(want, session.run(None, {"data": other}))
        with torch.no_grad():
            assert_close(want, [module(torch.from_numpy(other)).numpy()])
