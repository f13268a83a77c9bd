"""The linalg family and the densities against MXNet's float64 result: each target within MXNet float32's own
distance from it (``--tolerance auto``'s rule), where the op cases (``test_onnx_ops``, ``test_torch_ops``) judge
against MXNet float32; and the ONNX form's size bound."""
from __future__ import annotations

import contextlib
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch
from mxcases import CASE_INPUTS, CASES, ONNX_REFUSES, S, assert_near_exact, mx, run_reference
from ops import linalg

from mxconvert.errors import MxConvertError, UnsupportedOpsError
from mxconvert.float64_graph import float32_made_double
from mxconvert.semantics.schema import numpy_spelled
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_onnx.linalg import MAX_JACOBI, MAX_UNROLLED
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source

FLOAT64_CASES = sorted([*linalg.CASES, *(case for case in CASES if case.startswith("pdf_"))])


def _mxnet_float64(sym, graph, data: np.ndarray) -> list[np.ndarray]:
    """MXNet's outputs with every input, weight and constant in float64."""
    sym = mx.sym.load_json(float32_made_double(sym.tojson()))
    numpy_mode = any(numpy_spelled(node) for node in graph.nodes)
    modes = (mx.util.np_shape(True), mx.util.np_array(True)) if numpy_mode else ()
    with contextlib.ExitStack() as stack:
        for mode in modes:
            stack.enter_context(mode)
        types = {name: np.float64 for name in sym.list_arguments()}
        executor = sym.simple_bind(mx.cpu(), data=data.shape, grad_req="null", type_dict=types)
        for name, array in executor.arg_dict.items():
            array[:] = data if name == "data" else graph.params[name]
        return [out.asnumpy() for out in executor.forward(is_train=False)]


@pytest.mark.parametrize("case", FLOAT64_CASES)
def test_near_mxnet_float64(case):
    sym, shape = CASES[case]
    ref = run_reference(sym, shape, inputs=CASE_INPUTS.get(case))
    exact = _mxnet_float64(sym, ref.graph, ref.data.astype(np.float64))
    _assert_both_near_exact(case, ref, exact)


def _assert_both_near_exact(case: str, ref, exact: list[np.ndarray]) -> None:
    """Each target's outputs (ONNX's where it converts the case) within MXNet float32's distance from ``exact``."""
    if case not in ONNX_REFUSES:
        model, _ = export_onnx(ref.graph, ExportOptions(input_shape=ref.data.shape))
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        assert_near_exact(ref.outputs, exact, session.run(None, {"data": ref.data}))
    assert_near_exact(ref.outputs, exact, _torch_outputs(ref, case))


def _torch_outputs(ref, case: str) -> list[np.ndarray]:
    source, state = emit_pytorch(ref.graph, TorchOptions(ref.data.shape))
    module = build_model(module_from_source(source, f"<kit_model {case}>"), state)
    with torch.no_grad():
        out = module(torch.from_numpy(ref.data))
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


@pytest.mark.parametrize("case", ["la_syevd", "np_linalg_eigh", "np_linalg_eigh_upper_2d", "np_linalg_eigvalsh",
                                  "np_linalg_svd", "np_linalg_eigvals"])
def test_vectors_signs_and_values_order_follow_mxnet_on_50_random_matrices(case):
    """The case's graph on a batch of 50 random matrices: each eigenvector and singular vector with MXNet's sign,
    the eigenvalues in its order, within MXNet float32's own distance from its float64 result."""
    sym, shape = CASES[case]
    ref = run_reference(sym, (50, *shape[-2:]), seed=1)
    _assert_both_near_exact(case, ref, _mxnet_float64(sym, ref.graph, ref.data.astype(np.float64)))


def test_onnx_refuses_factorisations_past_the_unrolled_size():
    n = MAX_UNROLLED + 1
    ref = run_reference(S.linalg.potrf(S.broadcast_add(S.linalg.syrk(S.var("data")), n * S.eye(n))), (n, n))
    with pytest.raises(UnsupportedOpsError, match=rf"_linalg_potrf \[matrices of {n} columns: the ONNX form is "):
        export_onnx(ref.graph, ExportOptions(input_shape=(n, n)))


def test_onnx_refuses_symmetric_eigendecompositions_past_the_unrolled_size():
    n = MAX_JACOBI + 1
    ref = run_reference(S.linalg.syevd(S.var("data")), (n, n))
    with pytest.raises(UnsupportedOpsError, match=rf"_linalg_syevd \[matrices of {n} columns: the ONNX form is "
                                                  rf"unrolled for at most {MAX_JACOBI}\]"):
        export_onnx(ref.graph, ExportOptions(input_shape=(n, n)))


@pytest.mark.parametrize("op", ["potrf", "potri", "inverse"])
def test_generated_model_computes_on_singular_matrices(op):
    """MXNet fails on a matrix that is singular (potrf: not positive-definite); the generated model gives
    non-finite values for that matrix only, as ONNX's unrolled elimination does, and raises nothing."""
    graph = parse_symbol(getattr(S.linalg, op)(S.var("data")).tojson())
    source, state = emit_pytorch(graph, TorchOptions((2, 3, 3)))
    module = build_model(module_from_source(source, f"<kit_model {op}>"), state)
    with torch.no_grad():
        out = module(torch.stack([torch.zeros(3, 3), torch.eye(3)]))
    assert not out[0].isfinite().all() and torch.equal(out[1], torch.eye(3))


@pytest.mark.parametrize("case", ["la_syevd", "np_linalg_eigh", "np_linalg_eigvalsh", "np_linalg_svd",
                                  "np_linalg_eigvals", "np_linalg_pinv"])
def test_generated_model_gives_nan_for_matrices_not_all_finite(case):
    """LAPACK's eigen and singular value solvers fail on NaN and infinities (in MXNet too), torch's raise or crash:
    the generated model gives NaN for such a matrix only."""
    sym, shape = CASES[case]
    graph = parse_symbol(sym.tojson())
    source, state = emit_pytorch(graph, TorchOptions(shape))
    module = build_model(module_from_source(source, f"<kit_model {case}>"), state)
    data = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32))
    data[0] = float("nan")
    with torch.no_grad():
        out = module(data)
    for value in out if isinstance(out, tuple) else (out,):
        assert value[0].isnan().all() and value[1].isfinite().all()


@pytest.mark.parametrize(("text", "triangle"), [("U", "U"), (" U\t", "U"), ("L", "L"), ("0", "L"), ("u", "L"),
                                                ("x", "L"), ("UU", None), ("", None), ("None", None)])
def test_uplo_is_one_character_and_only_u_reads_the_upper_triangle(text, triangle):
    """MXNet's ``char`` parameter, as MXNet 1.9.1 runs eigh and eigvalsh: any other character reads the lower
    triangle; text of more or fewer characters is refused."""
    for op in ("_npi_eigh", "_npi_eigvalsh"):
        doc = {"nodes": [{"op": "null", "name": "data", "inputs": []},
                         {"op": op, "name": "e", "attrs": {"UPLO": text}, "inputs": [[0, 0, 0]]}],
               "heads": [[1, 0, 0]]}
        if triangle is None:
            with pytest.raises(MxConvertError, match="bad attribute UPLO"):
                parse_symbol(json.dumps(doc))
        else:
            assert parse_symbol(json.dumps(doc)).node("e").attrs["UPLO"] == triangle


@pytest.mark.parametrize("op", ["trmm", "trsm"])
def test_infinite_alpha_of_triangular_products_is_refused_by_name(op):
    """MXNet's NaN for an infinite alpha follow its BLAS kernel's blocking (zeros of the unread triangle times
    infinities): both targets refuse the node by name."""
    graph = parse_symbol(getattr(S.linalg, op)(S.var("data"), S.var("b"), alpha=float("inf"), name="t").tojson())
    with pytest.raises(UnsupportedOpsError, match=rf"_linalg_{op} \[alpha inf: MXNet's result is its BLAS kernel"):
        export_onnx(graph, ExportOptions(input_shape=(3, 3)))
    with pytest.raises(UnsupportedOpsError, match=rf"_linalg_{op} \[alpha inf"):
        emit_pytorch(graph, TorchOptions((3, 3)))
