"""Begin states created by ``_zeros`` with an unknown (0) batch that only later ops size, as GluonTS's DeepAR
holds them (``where(mask, zeros, zeros)`` read by an LSTM cell): shape inference completes them through the ops
MXNet 1.9.1 infers backwards (where, elementwise, Cast, zeros_like, expand_dims) and refuses the rest as it does;
MXNet is the reference."""
from __future__ import annotations

import numpy as np
import pytest
import onnxruntime as ort
import torch

from mxcases import S, assert_close, mx
from mxconvert.checkpoint import attach_weights
from mxconvert.semantics.inference import infer_shapes
from mxconvert.semantics.rules import ShapeError
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source

BATCH, HIDDEN = 3, 16


def _state() -> "mx.sym.Symbol":
    return S.zeros(shape=(0, HIDDEN), name="begin_state")


def _mask(data):
    return S.repeat(S.sum(data, axis=1, keepdims=True) > 0, repeats=HIDDEN, axis=1)


def _deepar_cell(data):
    """An LSTM-like step whose hidden state is ``where(mask, zeros, zeros)``: only the cell's sum sizes it."""
    state = _state()
    held = S.where(_mask(data), state, state, name="held")
    return S.tanh(S.FullyConnected(data, num_hidden=HIDDEN, name="i2h")
                  + S.FullyConnected(held, num_hidden=HIDDEN, name="h2h"))


CASES = {
    "where_read_by_a_cell": _deepar_cell,
    "where_with_data": lambda data: S.where(_mask(data), S.relu(data), _state()) * 2,
    "cast_then_add": lambda data: S.Cast(_state(), dtype="float32") + data,
    "zeros_like_then_where": lambda data: S.where(S.expand_dims(_mask(data), axis=0),
                                                  S.zeros_like(S.expand_dims(_state(), axis=0)),
                                                  S.expand_dims(data, axis=0)),
}


def _graph(sym, params: dict[str, np.ndarray]):
    graph = parse_symbol(sym.tojson())
    attach_weights(graph, {f"arg:{k}": v for k, v in params.items()}, "<test>")
    return graph


def _params(sym) -> dict[str, np.ndarray]:
    arg_shapes, _, _ = sym.infer_shape(data=(BATCH, HIDDEN))
    rng = np.random.default_rng(0)
    return {name: rng.normal(0, 0.4, shape).astype(np.float32)
            for name, shape in zip(sym.list_arguments(), arg_shapes) if name != "data"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_zeros_sized_by_later_ops_match_mxnet(case):
    sym = CASES[case](S.var("data"))
    params = _params(sym)
    data = np.random.default_rng(1).normal(size=(BATCH, HIDDEN)).astype(np.float32)
    executor = sym.simple_bind(mx.cpu(), grad_req="null", data=data.shape)
    for name, value in {**params, "data": data}.items():
        executor.arg_dict[name][:] = value
    want = [out.asnumpy() for out in executor.forward(is_train=False)]
    graph = _graph(sym, params)
    model, _ = export_onnx(graph, ExportOptions(input_shape={"data": data.shape}))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert_close(want, session.run(None, {"data": data}))
    source, state = emit_pytorch(graph, TorchOptions({"data": data.shape}))
    with torch.no_grad():
        out = build_model(module_from_source(source), state)(data=torch.from_numpy(data))
    assert_close(want, [out.numpy()])


UNSIZED = {  # what MXNet 1.9.1 does not infer backwards either
    "where_summed": lambda data: S.sum(S.where(_mask(data), _state(), _state()), axis=1) + S.sum(data, axis=1),
    "broadcast_add": lambda data: S.broadcast_add(_state(), data) + data,
    "sequence_mask": lambda data: S.SequenceMask(_state()) + data,
}


@pytest.mark.parametrize("case", sorted(UNSIZED))
def test_zeros_nothing_sizes_stay_refused(case):
    sym = UNSIZED[case](S.var("data"))
    with pytest.raises(RuntimeError, match="cannot decide shapes"):
        sym.simple_bind(mx.cpu(), grad_req="null", data=(BATCH, HIDDEN))
    with pytest.raises(ShapeError, match=r"empty output refused \(0, 16\) \(nothing infers its 0 sizes\)"):
        infer_shapes(_graph(sym, {}), {"data": (BATCH, HIDDEN)})
