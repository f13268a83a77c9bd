"""Ops MXNet 1.9.1 runs on GPUs only (``_contrib_fft``, ``_contrib_ifft``, ``_contrib_count_sketch``: its CPU
operator fails at binding, and the reference MXNet here is a CPU build): both targets against numpy's float64
result, with MXNet's CPU refusal checked so that a build with a CPU kernel brings these cases back to the MXNet
tests."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mxcases import GPU_ONLY_CASES, assert_close, mx
from mxconvert.checkpoint import attach_weights
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source


def _graph_and_data(case: str):
    sym, shape, exact, *weights = GPU_ONLY_CASES[case]
    graph = parse_symbol(sym.tojson())
    attach_weights(graph, {f"arg:{name}": value for name, value in (weights[0] if weights else {}).items()},
                   "<test weights>")
    data = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    return sym, graph, data, [exact(data)]


@pytest.mark.parametrize("case", sorted(GPU_ONLY_CASES))
def test_mxnet_cpu_has_no_kernel(case):
    sym, _, data, _ = _graph_and_data(case)
    with pytest.raises((mx.base.MXNetError, RuntimeError), match="only available for GPU"):  # at binding
        sym.simple_bind(mx.cpu(), data=data.shape, grad_req="null")


@pytest.mark.parametrize("opset", [11, 16, 17, 20, 21])
@pytest.mark.parametrize("case", sorted(GPU_ONLY_CASES))
def test_onnx_matches_numpy_float64(case, opset):
    _, graph, data, exact = _graph_and_data(case)
    model, _ = export_onnx(graph, ExportOptions(input_shape=data.shape, opset=opset))
    if case.startswith(("fft", "ifft")):
        assert any(node.op_type == ("DFT" if opset >= 17 else "MatMul") for node in model.graph.node)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert_close(exact, session.run(None, {session.get_inputs()[0].name: data}))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script still works; it is only deprecated
@pytest.mark.parametrize("case", sorted(GPU_ONLY_CASES))
def test_torch_matches_numpy_float64(case):
    _, graph, data, exact = _graph_and_data(case)
    source, state = emit_pytorch(graph, TorchOptions(data.shape))
    model = build_model(module_from_source(source, f"<kit_model {case}>"), state)
    with torch.no_grad():
        assert_close(exact, [model(torch.from_numpy(data)).numpy()])
        assert_close(exact, [torch.jit.script(model)(torch.from_numpy(data)).numpy()])
