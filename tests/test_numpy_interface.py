"""MXNet's NumPy interface beyond the per-op cases (``np_*`` in ``mxcases``): what is refused, and why."""
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
    graph = parse_symbol(sym.tojson())
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
    """eigh and svd in both targets; eigvalsh in ONNX alone, in the same message."""
    square = DATA.as_np_ndarray()
    eigenvalues = N.linalg.eigh(square)[0].as_nd_ndarray()
    singular = N.linalg.svd(square)[1].as_nd_ndarray()
    symmetric = N.linalg.eigvalsh(square).as_nd_ndarray()
    graph = _graph(S.Group([eigenvalues, singular, symmetric]))
    with pytest.raises(UnsupportedOpsError) as info:
        export_onnx(graph, ExportOptions(input_shape=(3, 3)))
    message = str(info.value)
    for op, reason in (("_npi_eigh", "eigenvectors' signs are LAPACK's"), ("_npi_svd", "singular vectors' signs"),
                       ("_npi_eigvalsh", "ONNX has no eigendecomposition operator")):
        assert f"{op} [{reason}" in message
    with pytest.raises(UnsupportedOpsError) as info:
        emit_pytorch(graph, TorchOptions((3, 3)))
    assert "_npi_eigh [" in str(info.value) and "_npi_svd [" in str(info.value)
    assert "_npi_eigvalsh" not in str(info.value)


def test_hstack_and_dstack_are_refused_because_mxnet_cannot_run_them_in_a_graph():
    x = DATA.as_np_ndarray()
    sym = S.Group([N.hstack([x, x]).as_nd_ndarray(), N.dstack([x, x]).as_nd_ndarray()])
    with pytest.raises(RuntimeError, match=r"InferShape pass cannot decide shapes|Incompatible output shape"):
        sym.simple_bind(mx.cpu(), data=(2, 3), grad_req="null")
    graph = _graph(sym)
    for emit in (lambda: export_onnx(graph, ExportOptions(input_shape=(2, 3))),
                 lambda: emit_pytorch(graph, TorchOptions((2, 3)))):
        with pytest.raises(UnsupportedOpsError) as info:
            emit()
        for op in ("_npi_hstack", "_npi_dstack"):
            assert f"{op} [MXNet 1.9.1 cannot infer its shapes in a graph" in str(info.value)


def test_image_flip_of_an_odd_size_is_refused_because_mxnet_leaves_the_middle_unwritten():
    sym = mx.sym.npx.image.flip_left_right(DATA.as_np_ndarray()).as_nd_ndarray()
    graph = _graph(sym)
    with pytest.raises(MxConvertError, match="middle row or column of its output unwritten"):
        export_onnx(graph, ExportOptions(input_shape=(4, 5, 3)))
