"""MXNet's interleaved attention products (GluonNLP's BERT and Transformer cells) converted once with the batch
and sequence axes dynamic, run at other lengths in both targets against MXNet 1.9.1."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mxcases import CASES, assert_close, mx, run_reference
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source


def _mxnet(sym, weights: dict[str, np.ndarray], data: np.ndarray) -> list[np.ndarray]:
    args = {name.removeprefix("arg:"): mx.nd.array(value) for name, value in weights.items()}
    args["data"] = mx.nd.array(data)
    return [out.asnumpy() for out in sym.bind(mx.cpu(), args).forward(is_train=False)]


@pytest.mark.parametrize("case", ["nn_selfatt_valatt", "nn_encdec_attention"])
def test_attention_follows_other_lengths_and_batches(case):
    sym, shape = CASES[case]
    ref = run_reference(sym, shape)
    axes = {"data": (0, 1)}
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=shape, dynamic_axes=axes))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    source, state = emit_pytorch(ref.graph, TorchOptions(shape, dynamic_axes=axes))
    module = build_model(module_from_source(source), state)
    weights = {f"arg:{name}": ref.graph.params[name] for name in ref.graph.params}
    for length, batch in ((shape[0] + 4, 1), (shape[0] + 1, 3)):
        data = np.random.default_rng(length).uniform(-1, 1, (length, batch, *shape[2:])).astype(np.float32)
        expected = _mxnet(sym, weights, data)
        assert_close(expected, session.run(None, {"data": data}))
        with torch.no_grad():
            assert_close(expected, [module(torch.from_numpy(data)).numpy()])
