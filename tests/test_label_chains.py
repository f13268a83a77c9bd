"""Labels that reach their loss head through other ops (Reshape + Cast, Flatten, slice chains), as MXNet 0.9's OCR
checkpoints feed WarpCTC: both targets and the MXNet backend run without them; MXNet 1.9.1 is the reference."""
from __future__ import annotations

import inspect
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mxcases import S, assert_close, mx
from mxconvert.checkpoint import load_checkpoint
from mxconvert.mxnet_runner import MxnetModel
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source
from mxconvert.zoo.common import legacy_graph
from mxconvert.zoo.sequence import unrolled_lstm

ROWS, FEATURES, CLASSES = 6, 4, 5
CHAINS = {  # name -> (what the head's label slot reads, the label's columns for a SoftmaxOutput of ROWS rows)
    "reshape_cast": (lambda label: S.Cast(S.Reshape(label, shape=(-1,)), dtype="float32"), 1),
    "flatten": (lambda label: S.Reshape(S.Flatten(label), shape=(-1,)), 1),
    "slice_chain": (lambda label: S.slice_axis(S.Reshape(S.SliceChannel(label, num_outputs=2, axis=1)[1],
                                                         shape=(-1,)), axis=0, begin=0, end=None), 2),
}


def _write(tmp_path, doc: dict, params: dict[str, np.ndarray], legacy: bool) -> str:
    prefix = str(tmp_path / "model")
    with open(f"{prefix}-symbol.json", "w") as f:
        json.dump(legacy_graph(doc) if legacy else doc, f)
    mx.nd.save(f"{prefix}-0000.params", {f"arg:{k}": mx.nd.array(v) for k, v in params.items()})
    return prefix


def _params(sym, shapes: dict[str, tuple], seed: int) -> dict[str, np.ndarray]:
    arg_shapes, _, _ = sym.infer_shape_partial(**shapes)
    rng = np.random.default_rng(seed)
    return {name: rng.normal(0, 0.4, shape).astype(np.float32) for name, shape in zip(sym.list_arguments(), arg_shapes)
            if name not in shapes and shape and "label" not in name}


def _mxnet(sym, params: dict[str, np.ndarray], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    executor = sym.simple_bind(mx.cpu(), grad_req="null", **{k: v.shape for k, v in feeds.items()})
    for name, value in {**params, **feeds}.items():
        executor.arg_dict[name][:] = value
    return [out.asnumpy() for out in executor.forward(is_train=False)]


def _targets(prefix: str, feeds: dict[str, np.ndarray]) -> list[list[np.ndarray]]:
    """ONNX Runtime's and PyTorch's outputs of the checkpoint on ``feeds``, checking that both take exactly the
    inputs fed (begin states aside)."""
    graph = load_checkpoint(prefix, 0)
    shapes = {name: array.shape for name, array in feeds.items()}
    model, _ = export_onnx(graph, ExportOptions(input_shape=shapes))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    assert [i.name for i in inputs if "init" not in i.name] == list(feeds)
    onnx_out = session.run(None, {i.name: feeds.get(i.name, np.zeros(i.shape, np.float32)) for i in inputs})
    source, state = emit_pytorch(graph, TorchOptions(shapes))
    module = build_model(module_from_source(source), state)
    assert [p for p in inspect.signature(module.forward).parameters if "init" not in p] == list(feeds)
    with torch.no_grad():
        out = module(**{k: torch.from_numpy(v) for k, v in feeds.items()})
    return [onnx_out, [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]]


def _data(seed: int, shape: tuple[int, ...] = (ROWS, FEATURES)) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("legacy", [False, True], ids=["symbol_json", "mxnet_0x_json"])
@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_softmax_output_label_through_a_chain(chain, legacy, tmp_path):
    scores = S.FullyConnected(S.var("data"), num_hidden=CLASSES, name="fc")
    labelled, columns = CHAINS[chain]
    head = S.SoftmaxOutput(scores, labelled(S.var("label")), name="sm")
    params = _params(head, {"data": (ROWS, FEATURES)}, seed=1)
    prefix = _write(tmp_path, json.loads(head.tojson()), params, legacy)
    feeds = {"data": _data(2)}
    want = _mxnet(head, params, {**feeds, "label": np.zeros((ROWS, columns), np.float32)})
    for outputs in _targets(prefix, feeds):
        assert_close(want, outputs)
    model = MxnetModel(prefix, 0)
    assert model.input_names == ["data"]
    assert_close(want, model(feeds["data"]))


@pytest.mark.parametrize("legacy", [False, True], ids=["symbol_json", "mxnet_0x_json"])
@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_warpctc_label_through_a_chain(chain, legacy, tmp_path):
    scores = S.FullyConnected(S.var("data"), num_hidden=CLASSES, name="fc")
    params = _params(scores, {"data": (ROWS, FEATURES)}, seed=3)
    doc = json.loads(S.SoftmaxOutput(scores, CHAINS[chain][0](S.var("label")), name="ctc").tojson())
    doc["nodes"][-1].update(op="WarpCTC", attrs={"label_length": "2", "input_length": "3"})
    prefix = _write(tmp_path, doc, params, legacy)
    feeds = {"data": _data(4)}
    want = _mxnet(S.softmax(scores, axis=-1), params, feeds)  # WarpCTC's forward (MXNet lacks the plugin)
    for outputs in _targets(prefix, feeds):
        assert_close(want, outputs)


def test_ocr_lstm_with_warpctc_label_reshaped_and_cast_in_mxnet_0x_json(tmp_path):
    steps, batch, features, hidden = 6, 2, 5, 7
    scores = unrolled_lstm(steps, hidden, CLASSES)
    states = {name: (batch, hidden) for name in ("l0_init_c", "l0_init_h")}
    params = _params(scores, {"data": (batch, steps, features), **states}, seed=5)
    doc = json.loads(S.SoftmaxOutput(scores, CHAINS["reshape_cast"][0](S.var("label")), name="ctc").tojson())
    doc["nodes"][-1].update(op="WarpCTC", attrs={"label_length": "4", "input_length": str(steps)})
    prefix = _write(tmp_path, doc, params, legacy=True)
    feeds = {"data": _data(6, (batch, steps, features))}
    zeros = {name: np.zeros(shape, np.float32) for name, shape in states.items()}
    want = _mxnet(S.softmax(scores, axis=-1), params, {**feeds, **zeros})
    for outputs in _targets(prefix, feeds):
        assert_close(want, outputs)


def test_label_that_also_feeds_another_op_stays_an_input(tmp_path):
    label = S.var("label")
    scores = S.FullyConnected(S.var("data"), num_hidden=CLASSES, name="fc")
    head = S.SoftmaxOutput(scores, CHAINS["reshape_cast"][0](label), name="sm")
    both = S.Group([head, S.sum(label * 2, axis=1, name="total")])
    params = _params(both, {"data": (ROWS, FEATURES), "label": (ROWS, 1)}, seed=7)
    prefix = _write(tmp_path, json.loads(both.tojson()), params, legacy=False)
    feeds = {"data": _data(8), "label": np.arange(ROWS, dtype=np.float32).reshape(ROWS, 1)}
    want = _mxnet(both, params, feeds)
    for outputs in _targets(prefix, feeds):
        assert_close(want, outputs)
    model = MxnetModel(prefix, 0)
    assert model.input_names == ["data", "label"]
    assert_close(want, model(feeds))
