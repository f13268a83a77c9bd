"""Tiny MXNet graphs, one per op and attribute combination, run in real MXNet as the reference.

The helpers that build and check them, and the assembly of the per-op cases: each op family's cases and its
entries of the side tables are in ``tests/ops/<family>.py``; this module gathers them in a fixed family order
(``ops.FAMILIES``), so that the tests import every table from here."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mxconvert.checkpoint import attach_weights
from mxconvert.compare import per_image_rel_error
from mxconvert.ir import Graph
from mxconvert.mxnet_compat import import_mxnet
from mxconvert.semantics.schema import numpy_spelled
from mxconvert.symbol import parse_symbol
from ops import FAMILIES
from ops.shape import amp_cast_kept, narrow_float  # noqa: F401  (the cast tests import them from here)

mx = import_mxnet()
S = mx.sym


@dataclass
class Reference:
    graph: Graph
    data: np.ndarray
    outputs: list[np.ndarray]


def run_reference(sym, shape: tuple[int, ...], seed: int = 0, low: float = -1.0, high: float = 1.0,
                  inputs: dict[str, np.ndarray] | None = None) -> Reference:
    """Bind ``sym`` with random weights; MXNet inference outputs. BatchNorm variances are log-uniform over
    [1e-3, 1.5]: with variances near ``eps`` (MXNet's default 1e-3, the zoo's 2e-5), an ``eps`` off by 1e-5
    moves the output far past the tolerance. ``inputs``: given values of other variables (softmax's
    ``length``), stored with the weights."""
    graph = parse_symbol(sym.tojson())
    if any(numpy_spelled(node) for node in graph.nodes):  # NumPy's shapes (0-d tensors) and arrays
        with mx.util.np_shape(True), mx.util.np_array(True):
            return _run_reference(sym, graph, shape, seed, low, high, inputs)
    return _run_reference(sym, graph, shape, seed, low, high, inputs)


def _run_reference(sym, graph: Graph, shape: tuple[int, ...], seed: int, low: float, high: float,
                   inputs: dict[str, np.ndarray] | None) -> Reference:
    rng = np.random.default_rng(seed)
    inputs = inputs or {}
    if not _shapes_decided(sym, shape):
        try:
            return _run_cached(sym, graph, rng.uniform(low, high, size=shape).astype(np.float32), inputs)
        except mx.MXNetError:  # CachedOp builds a gradient; an op without one (a 0-d allclose) binds instead
            rng = np.random.default_rng(seed)
    types = {name: inputs[name].dtype if name in inputs else np.float32 for name in sym.list_arguments()}
    executor = sym.simple_bind(mx.cpu(), data=shape, grad_req="null", type_dict=types)
    weights: dict[str, np.ndarray] = {}
    for name, array in executor.arg_dict.items():
        if name == "data" or name.endswith("_label"):
            continue
        if name in inputs:
            array[:] = weights[f"arg:{name}"] = inputs[name]
            continue
        value = rng.normal(0, 0.5, size=array.shape).astype(np.float32)
        if name.endswith("_gamma"):
            value = rng.uniform(0.5, 1.5, size=array.shape).astype(np.float32)
        array[:] = value
        weights[f"arg:{name}"] = value
    for name, array in executor.aux_dict.items():
        value = (np.exp(rng.uniform(np.log(1e-3), np.log(1.5), size=array.shape)) if name.endswith("var")
                 else rng.normal(0, 0.3, size=array.shape)).astype(np.float32)
        array[:] = value
        weights[f"aux:{name}"] = value
    data = rng.uniform(low, high, size=shape).astype(np.float32)
    executor.arg_dict["data"][:] = data
    outputs = [o.asnumpy() for o in executor.forward(is_train=False)]
    attach_weights(graph, weights, "<test weights>")
    return Reference(graph, data, outputs)


def _shapes_decided(sym, shape: tuple[int, ...]) -> bool:
    """Whether MXNet's shape inference sizes every output (not where the data decides a size: a boolean mask's
    rows), as binding needs."""
    _, outputs, _ = sym.infer_shape_partial(data=shape)
    return all(out is not None and (len(out) > 0 or mx.util.is_np_shape()) for out in outputs)


def _run_cached(sym, graph: Graph, data: np.ndarray, inputs: dict[str, np.ndarray]) -> Reference:
    """MXNet's imperative run of a graph whose output sizes the data decides (binding needs them first); every
    variable beyond ``data`` is given in ``inputs``."""
    arrays = [data if name == "data" else inputs[name] for name in sym.list_inputs()]
    array = mx.np.array if mx.util.is_np_array() else mx.nd.array
    outputs = mx.nd.CachedOp(sym)(*(array(a, dtype=a.dtype) for a in arrays))
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    attach_weights(graph, {f"arg:{name}": value for name, value in inputs.items()}, "<test weights>")
    return Reference(graph, data, [o.asnumpy() for o in outputs])


def assert_close(reference: list[np.ndarray], actual: list[np.ndarray], rel: float = 1e-5) -> float:
    """max|diff| <= rel * max|reference| for every output, per image (each row of the leading axis) when the
    output has two or more axes, as the comparison tables do; returns the worst relative error."""
    assert len(reference) == len(actual)
    worst = 0.0
    for ref, out in zip(reference, actual):
        assert ref.shape == tuple(out.shape), (ref.shape, out.shape)
        if ref.size == 0:  # empty (a mask that keeps no row): the shapes alone match
            continue
        rows = ref.shape[0] if ref.ndim >= 2 else 1
        ref_rows = ref.astype(np.float64).reshape(rows, -1)
        diff = np.abs(ref_rows - np.asarray(out, np.float64).reshape(rows, -1)).max(axis=1)
        scale = np.abs(ref_rows).max(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            errors = np.where(diff == 0, 0.0, diff / scale)  # an exact zero row matches; any diff on it is inf
        error = float(errors.max())
        assert error <= rel, f"relative error {error:.3g} > {rel} (image {int(errors.argmax())})"
        worst = max(worst, error)
    return worst


def assert_near_exact(reference: list[np.ndarray], exact: list[np.ndarray], actual: list[np.ndarray],
                      factor: float = 4.0) -> float:
    """``--tolerance auto``'s rule, per image: each output within max(1e-5, ``factor`` x MXNet float32's own
    distance) of MXNet's float64 result (``exact``); returns the worst ratio to that bound."""
    worst = 0.0
    for ref, ex, out in zip(reference, exact, actual, strict=True):
        assert ref.shape == tuple(out.shape), (ref.shape, out.shape)
        error = per_image_rel_error(ex, np.asarray(out))
        bound = np.maximum(1e-5, factor * per_image_rel_error(ex, ref))
        assert (error <= bound).all(), f"relative error {error.max():.3g} from float64 > {bound.min():.3g}"
        worst = max(worst, float((error / bound).max()))
    return worst


def _assembled(name: str) -> dict:
    """Table ``name`` of every family module, in ``FAMILIES`` order; a key in two families is an error."""
    table: dict = {}
    for family in FAMILIES:
        part = getattr(family, name, {})
        clash = table.keys() & part.keys()
        assert not clash, f"{name}: {sorted(clash)} defined by two families (the second: {family.__name__})"
        table.update(part)
    return table


# id -> (symbol, input shape)
CASES: dict[str, tuple] = _assembled("CASES")
# the loss heads (their inference forward: labels fed zeros by MXNet, dropped by the conversion), also in CASES
HEADS: dict[str, tuple] = _assembled("HEADS")
# Values of inputs beyond ``data`` (run_reference's ``inputs``), per case
CASE_INPUTS: dict[str, dict[str, np.ndarray]] = _assembled("CASE_INPUTS")
# Graphs MXNet runs that neither target converts: symbol, input shape, the refusal (both targets say the same)
BOTH_REFUSE: dict[str, tuple] = _assembled("BOTH_REFUSE")
# Cases whose op no ONNX operator computes: refused by name, with the reason, before anything is written
ONNX_REFUSES: dict[str, str] = _assembled("ONNX_REFUSES")
# cases ONNX expresses from an opset on (earlier ones are refused with the reason): Einsum
EINSUM_CASES: tuple[str, ...] = tuple(case for family in FAMILIES for case in getattr(family, "EINSUM_CASES", ()))
# Cases ONNX takes from an opset on, refused below it: (that opset, what the refusal says)
ONNX_OPSET_FLOOR: dict[str, tuple] = _assembled("ONNX_OPSET_FLOOR")
# ONNX operators MXNet's importer lacks, per case: the importer test skips these
INDEX_IMPORTER_SKIPS: dict[str, str] = _assembled("INDEX_IMPORTER_SKIPS")
# MXNet's own ONNX importer (tests/test_onnx_backends.py) cannot take these detection graphs back
DETECTION_IMPORTER_SKIPS: dict[str, str] = _assembled("DETECTION_IMPORTER_SKIPS")
# Ops MXNet 1.9.1 runs on GPUs only: symbol, input shape, numpy's float64 result from the data
GPU_ONLY_CASES: dict[str, tuple] = _assembled("GPU_ONLY_CASES")
# Random draws, compared by statistics (tests/test_random_ops.py): symbol, input shape (the data is zeros), inputs
RANDOM_CASES: dict[str, tuple] = _assembled("RANDOM_CASES")
