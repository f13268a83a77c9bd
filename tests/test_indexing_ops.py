"""Indexing and sorting on batch sizes other than the converted one: sizes along the batch axis (a sort over it,
negative gather_nd indices, flattened top-k, multinomial draws' shape) are read from the live input."""
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mxconvert.checkpoint import attach_weights
from mxconvert.errors import UnsupportedOpsError
from mxconvert.mxnet_runner import MxnetModel
from mxconvert.semantics.rules import ShapeError
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source
from mxcases import CASE_INPUTS, CASES, S, assert_close, mx, run_reference

LIVE_BATCH_CASES = ["index_sort_descend_axis0", "index_argsort_flat_int32", "index_topk_every_k0",
                    "index_gather_nd_leading", "index_topk_flat_mask", "index_pick_argmax", "index_where_same_shape",
                    "index_boolean_mask_computed", "np_nonzero", "np_unique_counts_axis0", "np_bincount",
                    "np_histogram"]


@pytest.mark.parametrize("case", LIVE_BATCH_CASES)
def test_other_batch_sizes_follow_mxnet(case):
    sym, shape = CASES[case]
    converted = run_reference(sym, shape, inputs=CASE_INPUTS.get(case))
    other = run_reference(sym, (shape[0] + 2, *shape[1:]), seed=1, inputs=CASE_INPUTS.get(case))
    model, _ = export_onnx(converted.graph, ExportOptions(input_shape=shape, dynamic_batch=True))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert_close(other.outputs, session.run(None, {session.get_inputs()[0].name: other.data}))
    source, state = emit_pytorch(converted.graph, TorchOptions(shape))
    module = build_model(module_from_source(source), state)
    with torch.no_grad():
        out = module(torch.from_numpy(other.data))
    assert_close(other.outputs, [np.asarray(o) for o in (out if isinstance(out, tuple) else [out])])


def test_sizes_the_data_decides_are_refused_where_a_size_is_needed():
    """A Reshape needs the rows a mask keeps, which only the data decides: both targets refuse it by name."""
    masked = S.contrib.boolean_mask(S.var("data"), S.floor(S.sum(S.var("data"), axis=1)), name="mask_rows")
    graph = parse_symbol(S.Reshape(masked, shape=(-1,), name="flat").tojson())
    for convert in (lambda: export_onnx(graph, ExportOptions(input_shape=(6, 3))),
                    lambda: emit_pytorch(graph, TorchOptions((6, 3)))):
        with pytest.raises(ShapeError, match=r"node 'flat' \(Reshape\): reads a tensor whose size the data decides"):
            convert()


@pytest.mark.parametrize("case", ["index_boolean_mask_mixed", "np_unique_every_output"])
def test_mxnet_runner_runs_sizes_the_data_decides(tmp_path, case):
    """MXNet binds no graph whose output sizes the data decides: the runner runs it imperatively, in float32 and
    float64."""
    sym, shape = CASES[case]
    ref = run_reference(sym, shape, inputs=CASE_INPUTS.get(case))
    sym.save(str(tmp_path / "m-symbol.json"))
    mx.nd.save(str(tmp_path / "m-0000.params"), {f"arg:{name}": mx.nd.array(value)
                                                 for name, value in CASE_INPUTS.get(case, {}).items()})
    for dtype in ("float32", "float64"):
        assert_close(ref.outputs, MxnetModel(str(tmp_path / "m"), 0, dtype=dtype)(ref.data))


def test_fill_element_0index_is_refused_because_mxnet_runs_it_on_ndarrays_only():
    """An NDArray function registered as an op without shape inference: it fills NDArrays, no graph binds it."""
    filled = mx.nd.fill_element_0index(mx.nd.zeros((2, 3)), mx.nd.array([5, 6]), mx.nd.array([1, 2]))
    np.testing.assert_array_equal(filled.asnumpy(), [[0, 5, 0], [0, 0, 6]])
    nodes = [{"op": "null", "name": name, "inputs": []} for name in ("data", "value", "index")]
    nodes.append({"op": "fill_element_0index", "name": "fill", "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]})
    text = json.dumps({"nodes": nodes, "arg_nodes": [0, 1, 2], "heads": [[3, 0, 0]]})
    with pytest.raises(RuntimeError, match="InferShape pass cannot decide shapes"):
        mx.sym.load_json(text).simple_bind(mx.cpu(), data=(2, 3), value=(2,), index=(2,), grad_req="null")
    for emit in (lambda graph: export_onnx(graph, ExportOptions(input_shape=(2, 3))),
                 lambda graph: emit_pytorch(graph, TorchOptions((2, 3)))):
        graph = parse_symbol(text)
        attach_weights(graph, {}, "<test>")
        with pytest.raises(UnsupportedOpsError, match=r"fill_element_0index \[an NDArray function: MXNet 1\.9\.1 "
                                                      r"cannot infer its shapes in a graph"):
            emit(graph)


@pytest.mark.parametrize("case", ["np_mask_assign_ordered", "np_mask_assign_ordered_axis1"])
def test_a_stored_mask_setting_other_than_the_values_slices_is_refused_as_mxnet_does(case):
    """``data[mask] = value`` with a stored mask: MXNet refuses a mask setting more (or fewer) positions than the
    value has slices when it runs, whatever the data; the conversion refuses it up front, naming the node. A mask
    setting none leaves the data as it is, in MXNet and both targets."""
    sym, shape = CASES[case]
    keep = CASE_INPUTS[case]["keep"]
    more = np.where(keep == 0, 1.0, keep).astype(np.float32)  # every position set: 5 against 3 slices
    with pytest.raises(mx.MXNetError, match="output values where the mask is true"):
        run_reference(sym, shape, inputs={"keep": more})
    graph = parse_symbol(sym.tojson())
    attach_weights(graph, {"arg:keep": more}, "<test>")
    for convert in (lambda: export_onnx(graph, ExportOptions(input_shape=shape)),
                    lambda: emit_pytorch(graph, TorchOptions(shape))):
        with pytest.raises(ShapeError, match=r"\(_npi_boolean_mask_assign_tensor\): the stored mask sets 5 "
                                             r"positions but the value has 3 slices"):
            convert()
    none = run_reference(sym, shape, inputs={"keep": np.zeros_like(keep)})
    model, _ = export_onnx(none.graph, ExportOptions(input_shape=shape))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert_close(none.outputs, session.run(None, {session.get_inputs()[0].name: none.data}))
    source, state = emit_pytorch(none.graph, TorchOptions(shape))
    with torch.no_grad():
        out = build_model(module_from_source(source), state)(torch.from_numpy(none.data))
    assert_close(none.outputs, [out.numpy()])
