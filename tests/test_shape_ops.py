"""Shape and layout ops where a per-op case (tests/ops/shape.py) cannot hold them: casts of edge values compared
bit for bit, amp_casts refused, 1-D splits into scalars, and Reshapes whose output MXNet shortens (its forward
pass may crash the process, so MXNet's shapes are written down here)."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from mxcases import CASES, S, amp_cast_kept, assert_close, mx, run_reference

from mxconvert.checkpoint import attach_weights
from mxconvert.errors import UnsupportedOpsError
from mxconvert.ir import Graph
from mxconvert.semantics.shape import reshape_target
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source

EDGES = np.array([0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 127.9, 128.5, 255.9, 256.5, -129.5, -300.2, 70000.0, 65519.0,
                  2.0 ** 31 - 128, 2.0 ** 31, 3e9, -3e9, 1e19, -1e20, 1e-40, -3e-39, 3.4e38, np.inf, -np.inf, np.nan],
                 np.float32)


def _graph(sym) -> Graph:
    graph = parse_symbol(sym.tojson())
    attach_weights(graph, {}, "<test>")
    return graph


def _targets(graph: Graph, data: np.ndarray, opset: int = 13) -> list[np.ndarray]:
    """The ONNX Runtime and PyTorch outputs (eager, TorchScript, torch.export) of ``graph`` on ``data``."""
    model, _ = export_onnx(graph, ExportOptions(input_shape=data.shape, opset=opset))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"data": data})
    source, state = emit_pytorch(graph, TorchOptions(data.shape))
    module = build_model(module_from_source(source), state)
    with torch.no_grad():
        for run in (module, torch.jit.script(module), torch.export.export(module, (torch.from_numpy(data),)).module()):
            out = run(torch.from_numpy(data))
            outputs.extend(o.numpy() for o in (out if isinstance(out, (list, tuple)) else [out]))
    return outputs


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64", "bool", "float16"])
def test_cast_edge_values_match_mxnet_exactly(dtype):
    """Truncation, wrapping, the lowest value outside int32/int64 and for NaN and inf, float16 overflow."""
    want = mx.nd.Cast(mx.nd.array(EDGES), dtype=dtype).asnumpy().astype(np.float32)
    for out in _targets(_graph(S.Cast(S.var("data"), dtype=dtype, name="cast")), EDGES):
        np.testing.assert_array_equal(out, want)


def test_cast_to_bfloat16_truncates_in_pytorch_and_onnx_refuses():
    sym = S.Cast(S.Cast(S.var("data"), dtype="bfloat16", name="cast"), dtype="float32")
    finite = EDGES[np.isfinite(EDGES) & (np.abs(EDGES) < 1e38)]
    want = mx.nd.Cast(mx.nd.Cast(mx.nd.array(finite), dtype="bfloat16"), dtype="float32").asnumpy()
    source, _ = emit_pytorch(_graph(sym), TorchOptions(finite.shape))
    with torch.no_grad():
        np.testing.assert_array_equal(build_model(module_from_source(source), {})(torch.from_numpy(finite)), want)
    with pytest.raises(UnsupportedOpsError, match="MXNet truncates to bfloat16"):
        export_onnx(_graph(sym), ExportOptions(input_shape=finite.shape))


@pytest.mark.parametrize("dtype", ["bfloat16", "int8", "int32"])
def test_amp_cast_whose_result_follows_mxnets_backend_is_refused_by_name(dtype):
    """With MKLDNN MXNet rounds to bfloat16 and int8 (saturating), copies float bits for int32; without, it
    truncates like Cast."""
    graph = _graph(amp_cast_kept(S.var("data") * 3.0, dtype))
    for emit in (lambda: export_onnx(graph, ExportOptions(input_shape=(2, 3))), lambda: emit_pytorch(graph, TorchOptions((2, 3)))):
        with pytest.raises(UnsupportedOpsError, match=f"amp_cast to {dtype} \\(MXNet's result depends on its MKLDNN"):
            emit()


def test_split_of_1d_data_with_squeeze_gives_scalars():
    ref = run_reference(S.split_v2(S.var("data"), 2, axis=0, squeeze_axis=True), (2,))
    assert [o.shape for o in ref.outputs] == [(), ()]
    outputs = _targets(ref.graph, ref.data)
    for index in range(0, len(outputs), 2):
        np.testing.assert_array_equal(outputs[index:index + 2], ref.outputs)


# (shape attribute, data shape, MXNet 1.9.1's output shape): MXNet checks no sizes, rounds an inferred -1
# down and writes it at the -1's position among the codes; the output holds the data's leading elements
SHORTENED = {
    "m1_rounds_down": ((-1, 4), (2, 3, 5), (7, 4)),
    "m1_after_m2": ((-2, -1), (2, 3), (2, 1, 1)),
    "m1_after_m4": ((-4, 2, 3, -1, 0), (6, 4, 5), (2, 3, 1, 4)),
    "fewer": ((0, 2), (2, 3, 4), (2, 2)),
}


@pytest.mark.parametrize("case", sorted(SHORTENED))
def test_reshape_to_fewer_elements_keeps_the_leading_ones(case):
    shape, data_shape, mxnet_shape = SHORTENED[case]
    sym = S.Reshape(S.var("data"), shape=shape, name="rs")
    assert reshape_target(data_shape, _graph(sym).node("rs").attrs) == mxnet_shape
    data = np.random.default_rng(0).uniform(-1, 1, data_shape).astype(np.float32)
    want = data.reshape(-1)[:np.prod(mxnet_shape)].reshape(mxnet_shape)
    for out in _targets(_graph(sym), data):
        np.testing.assert_array_equal(out, want)


def test_reshape_past_the_data_is_refused_by_name():
    graph = _graph(S.Reshape(S.var("data"), shape=(0, 4), name="rs"))
    for emit in (lambda: export_onnx(graph, ExportOptions(input_shape=(2, 3))), lambda: emit_pytorch(graph, TorchOptions((2, 3)))):
        with pytest.raises(UnsupportedOpsError, match=r"reads past the data"):
            emit()


@pytest.mark.parametrize("case", ["shape_expand_dims_last_negative", "shape_slice_axis", "shape_repeat_axis",
                                  "shape_swapaxes_negative", "shape_space_to_depth", "shape_cast_int8",
                                  "shape_split_v2_indices", "shape_stack", "shape_reshape_like_tail", "shape_reverse"])
def test_dynamic_batch_runs_other_batch_sizes(case):
    """Ops that leave the batch axis alone (or reverse it) run any batch size from a dynamic-batch ONNX model."""
    ref = run_reference(*CASES[case])
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=ref.data.shape, dynamic_batch=True))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"data": np.concatenate([ref.data] * 3)})
    assert_close([np.concatenate([o] * 3) for o in ref.outputs], outputs)  # reversed: the same blocks


def test_dynamic_batch_refuses_cutting_the_batch_axis():
    graph = _graph(S.squeeze(S.slice_axis(S.var("data"), axis=0, begin=0, end=1), axis=0))
    with pytest.raises(UnsupportedOpsError, match="of a dynamic batch"):
        export_onnx(graph, ExportOptions(input_shape=(2, 3), dynamic_batch=True))


@pytest.mark.parametrize("axes", [{}, {"lhs_axes": (0, 1), "rhs_axes": (1, 0)}])
def test_broadcast_like_takes_dynamic_sizes_of_like_at_run_time(axes):
    """One conversion with ``like``'s first two axes dynamic runs at other sizes in both targets."""
    from mxconvert import api

    graph = _graph(S.broadcast_like(S.var("data"), S.var("like"), name="bl", **axes))
    shapes, dynamic = {"data": (1, 1, 4), "like": (2, 3, 4)}, {"like": (0, 1)}
    session = ort.InferenceSession(api.to_onnx(graph, shapes, dynamic_axes=dynamic).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    module = api.to_pytorch(graph, shapes, dynamic_axes=dynamic)
    rng = np.random.default_rng(0)
    data = rng.uniform(-1, 1, (1, 1, 4)).astype(np.float32)
    for like in (np.zeros((2, 3, 4), np.float32), np.zeros((5, 7, 4), np.float32)):
        want = mx.nd.broadcast_like(mx.nd.array(data), mx.nd.array(like), **axes).asnumpy()
        with torch.no_grad():
            out = module(*(torch.from_numpy({"data": data, "like": like}[v.name]) for v in graph.inputs)).numpy()
        for result in (session.run(None, {"data": data, "like": like})[0], out):
            np.testing.assert_array_equal(result, want)
