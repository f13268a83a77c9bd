"""MXNet's NumPy interface beyond the per-op cases (``np_*`` in ``mxcases``): what is refused, and why."""
import json

import numpy as np
import onnxruntime as ort
import pytest

from mxconvert.checkpoint import attach_weights
from mxconvert.errors import MxConvertError, UnsupportedOpsError
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxcases import S, mx, run_reference

N = mx.sym.np
DATA = S.var("data")


def _graph(sym):
    return _graph_of(sym.tojson())


def _graph_of(text: str):
    graph = parse_symbol(text)
    attach_weights(graph, {}, "<test>")
    return graph


def test_random_draws_are_refused_by_name_all_at_once_in_both_targets():
    normal = N.random.normal(0.0, 1.0, size=(2, 3)).as_nd_ndarray()
    uniform = N.random.uniform(-1.0, 1.0, size=(2, 3)).as_nd_ndarray()
    graph = _graph(S.Group([DATA + normal, DATA * uniform]))
    drawn = [node.op for node in graph.nodes if node.op.startswith("_npi_")]
    assert drawn == ["_npi_normal", "_npi_uniform"]
    for emit in (lambda: export_onnx(graph, ExportOptions(input_shape=(2, 3))),
                 lambda: emit_pytorch(graph, TorchOptions((2, 3)))):
        with pytest.raises(UnsupportedOpsError) as info:
            emit()
        message = str(info.value)
        for op in drawn:
            assert f"{op} [random sampling: no deterministic conversion]" in message


@pytest.mark.parametrize("sym, reason", [
    (mx.sym.npx.reshape(DATA.as_np_ndarray(), (-3, -1)), r"code -3 is not converted"),
    (mx.sym.npx.reshape(DATA.as_np_ndarray(), (-6, 2, -1, -1)), r"a -1 after a -6 is not converted"),
    (N.reshape(DATA.as_np_ndarray(), (0, -1)), r"only sizes above 0 and -1 are converted"),
    (N.concatenate([DATA.as_np_ndarray()] * 2, axis=None), r"axis None: MXNet 1.9.1 infers its inputs as 1-D"),
    (N.linalg.norm(DATA.as_np_ndarray(), "nuc"), r"the nuclear or spectral norm of a matrix"),
    (N.linalg.norm(DATA.as_np_ndarray(), 3, axis=(0, 1)), r"ord 3 over the matrices of axes"),
])
def test_numpy_spellings_their_canonical_op_cannot_take_are_refused_naming_the_node(sym, reason):
    with pytest.raises(MxConvertError, match=rf"node '\w+' \(_np[ix]?_\w+\): attributes .*{reason}"):
        parse_symbol(sym.as_nd_ndarray().tojson())


def test_npx_reshape_codes_match_mxnet_on_the_reversed_reading():
    """-6 splits and -5 merges read right to left with ``reverse``, as MXNet reads them."""
    sym = mx.sym.npx.reshape(DATA.as_np_ndarray(), (2, -1, -6, -5), reverse=True).as_nd_ndarray()
    ref = run_reference(sym, (4, 3, 5))
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=(4, 3, 5)))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    out = session.run(None, {"data": ref.data})[0]
    assert out.shape == ref.outputs[0].shape == (2, 2, 15)
    np.testing.assert_array_equal(out, ref.outputs[0])


def test_decompositions_are_refused_by_name_with_the_reason_all_at_once():
    """eig in both targets, eigvals in ONNX alone, in the same message; eigh, svd and eigvalsh in neither."""
    square = DATA.as_np_ndarray()
    parts = [N.linalg.eig(square)[0], N.linalg.svd(square)[1], N.linalg.eigvals(square), N.linalg.eigh(square)[0],
             N.linalg.eigvalsh(square)]
    graph = _graph(S.Group([part.as_nd_ndarray() for part in parts]))
    with pytest.raises(UnsupportedOpsError) as info:
        export_onnx(graph, ExportOptions(input_shape=(3, 3)))
    message = str(info.value)
    for op, reason in (("_npi_eig", "eigenvectors' signs are LAPACK geev's, never normalised"),
                       ("_npi_eigvals", "ONNX has no eigendecomposition operator")):
        assert f"{op} [{reason}" in message
    assert not any(f"{op} [" in message for op in ("_npi_eigh", "_npi_svd", "_npi_eigvalsh"))
    with pytest.raises(UnsupportedOpsError) as info:
        emit_pytorch(graph, TorchOptions((3, 3)))
    assert "_npi_eig [" in str(info.value)
    assert not any(f"{op} [" in str(info.value) for op in ("_npi_eigh", "_npi_svd", "_npi_eigvals", "_npi_eigvalsh"))


def test_hstack_dstack_and_delete_are_refused_because_mxnet_cannot_run_them_in_a_graph():
    x = DATA.as_np_ndarray()
    sym = S.Group([N.hstack([x, x]).as_nd_ndarray(), N.dstack([x, x]).as_nd_ndarray(),
                   N.delete(x, 1, axis=0).as_nd_ndarray(), N.delete(x, slice(0, 3, 2), axis=-1).as_nd_ndarray()])
    for part in (sym, sym[2], sym[3]):
        with pytest.raises(RuntimeError, match=r"InferShape pass cannot decide shapes|Incompatible output shape"):
            part.simple_bind(mx.cpu(), data=(2, 3), grad_req="null")
    graph = _graph(sym)
    for emit in (lambda: export_onnx(graph, ExportOptions(input_shape=(2, 3))),
                 lambda: emit_pytorch(graph, TorchOptions((2, 3)))):
        with pytest.raises(UnsupportedOpsError) as info:
            emit()
        for op in ("_npi_hstack", "_npi_dstack", "_npi_delete"):
            assert f"{op} [MXNet 1.9.1 cannot infer its shapes in a graph" in str(info.value)


_ROWS = DATA.as_np_ndarray()  # (4, 3) below
_ZERO_D_INDEX = N.floor(N.mean(_ROWS)).astype("int64")


@pytest.mark.parametrize("sym, reason, mxnet_fails", [
    (N.insert(_ROWS, 1, 5.0, axis=1), "a scalar val inserted into data of 2 or more axes: MXNet 1.9.1 fails", True),
    (N.insert(N.reshape(_ROWS, -1), slice(0, 2), 5.0, axis=0), "a scalar val inserted at several indices: MXNet 1.9.1 "
     "fails", True),
    # MXNet runs these, reading past the values
    (N.insert(_ROWS, _ZERO_D_INDEX, N.reshape(_ROWS, (3, 4)), axis=1), r"at a 0-d index: MXNet 1.9.1 sizes the output "
     "by their axis 1 and fills it by their axis 0", False),
    (N.insert(_ROWS, 1, N.reshape(_ROWS, (2, 6)), axis=1), r"values of shape \(2, 6\) do not broadcast to the inserted "
     r"\(4, 2\)", False),
])
def test_inserts_mxnet_cannot_run_or_fills_past_its_values_are_refused(sym, reason, mxnet_fails):
    legacy = sym.as_nd_ndarray()
    if mxnet_fails:
        with mx.util.np_shape(True), mx.util.np_array(True), pytest.raises(mx.MXNetError):
            legacy.bind(mx.cpu(), {"data": mx.nd.ones((4, 3))}, grad_req="null").forward()[0].asnumpy()
    graph = _graph(legacy)
    for emit in (lambda: export_onnx(graph, ExportOptions(input_shape=(4, 3))),
                 lambda: emit_pytorch(graph, TorchOptions((4, 3)))):
        with pytest.raises(MxConvertError, match=reason):
            emit()


def test_image_flip_of_an_odd_size_is_refused_because_mxnet_leaves_the_middle_unwritten():
    sym = mx.sym.npx.image.flip_left_right(DATA.as_np_ndarray()).as_nd_ndarray()
    graph = _graph(sym)
    with pytest.raises(MxConvertError, match="middle row or column of its output unwritten"):
        export_onnx(graph, ExportOptions(input_shape=(4, 5, 3)))


@pytest.mark.parametrize("sym, written, spelling", [
    (N.reshape(DATA.as_np_ndarray(), (3, -1)), "_np_reshape", "_npi_reshape"),
    (S._internal._slice_assign_scalar(DATA, scalar=2.0, begin=(1,), end=(None,)), "_slice_assign_scalar",
     "_npi_slice_assign_scalar"),
    (S._internal._slice_assign(DATA, DATA * 3.0, begin=(0,), end=(None,)), "_slice_assign", "_npi_slice_assign"),
    (S.identity(DATA * 2.0), "_copy", "_npi_copyto"),
])
def test_spellings_mxnet_writes_under_another_name_convert_as_that_op(sym, written, spelling):
    """MXNet registers these as aliases and writes the op's own name; a symbol file may hold the alias."""
    ref = run_reference(sym.as_nd_ndarray(), (2, 3, 4))
    text = sym.as_nd_ndarray().tojson()
    assert f'"{written}"' in text
    graph = parse_symbol(text.replace(f'"{written}"', f'"{spelling}"'))
    attach_weights(graph, {}, "<test>")
    assert spelling in [node.spelling for node in graph.nodes]
    model, _ = export_onnx(graph, ExportOptions(input_shape=(2, 3, 4)))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(session.run(None, {"data": ref.data})[0], ref.outputs[0])


def test_opencv_calls_and_share_memory_are_refused_by_name_with_the_reason_in_both_targets():
    """imread reads a file, OpenCV resamples and pads by its own rules, shares_memory asks MXNet's memory plan."""
    nodes = [{"op": "null", "name": "data", "inputs": []},
             {"op": "_npi_cvimread", "name": "read", "attrs": {"filename": "photo.jpg"}, "inputs": []},
             {"op": "_npi_cvimresize", "name": "resize", "attrs": {"w": "4", "h": "3"}, "inputs": [[0, 0, 0]]},
             {"op": "_cvcopyMakeBorder", "name": "border", "attrs": {"top": "1", "bot": "1", "left": "2", "right": "0"},
              "inputs": [[0, 0, 0]]},
             {"op": "_npi_share_memory", "name": "shares", "inputs": [[0, 0, 0], [2, 0, 0]]},
             {"op": "_npx__image_resize", "name": "image_resize", "attrs": {"size": "(4, 3)"}, "inputs": [[0, 0, 0]]}]
    text = json.dumps({"nodes": nodes, "arg_nodes": [0], "heads": [[i, 0, 0] for i in range(1, 6)]})
    for emit in (lambda graph: export_onnx(graph, ExportOptions(input_shape=(5, 6, 3))),
                 lambda graph: emit_pytorch(graph, TorchOptions((5, 6, 3)))):
        with pytest.raises(UnsupportedOpsError) as info:
            emit(_graph_of(text))
        message = str(info.value)
        for op, reason in (("_cvimread", "it reads an image file when run"), ("_cvimresize", "OpenCV's resampling"),
                           ("_image_resize", "OpenCV's resampling"),
                           ("_cvcopyMakeBorder", "OpenCV's border modes"),
                           ("_npi_share_memory", "whether two arrays share memory")):
            assert f"{op} [{reason}" in message


@pytest.mark.parametrize("order", [2, 3])
def test_an_order_without_an_axis_is_converted_for_vectors_and_refused_for_matrices(order):
    """``np.linalg.norm(x, ord)`` without an axis: a vector norm of 1-D data, converted and equal to MXNet's; of data
    of two or more axes, MXNet's matrix norm of the last two (ord 2: the spectral norm), refused naming the node
    (ord 2 had been taken for L2 of every element). ``np.linalg.norm(x)``, without ord, is that L2 on any data."""
    vector = run_reference(N.linalg.norm(DATA.as_np_ndarray(), order).as_nd_ndarray(), (6,))
    model, _ = export_onnx(vector.graph, ExportOptions(input_shape=(6,)))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"data": vector.data})[0], vector.outputs[0], rtol=1e-6)
    matrix = _graph(N.linalg.norm(DATA.as_np_ndarray(), order).as_nd_ndarray())
    for convert in (lambda: export_onnx(matrix, ExportOptions(input_shape=(3, 4))),
                    lambda: emit_pytorch(matrix, TorchOptions((3, 4)))):
        with pytest.raises(MxConvertError, match=rf"node .\w+. \(norm\): ord {order} without an axis: MXNet.s matrix"):
            convert()
    whole = run_reference(N.linalg.norm(DATA.as_np_ndarray()).as_nd_ndarray(), (3, 4))
    model, _ = export_onnx(whole.graph, ExportOptions(input_shape=(3, 4)))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"data": whole.data})[0], whole.outputs[0], rtol=1e-6)
