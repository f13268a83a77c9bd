"""Aliases (``semantics.schema.alias``): another spelling of a family's canonical op, one line each, with an optional
normaliser of its attribute strings (NumPy's ``axis``/``keepdims``/``initial``, say) applied before the canonical
op's schema parses them. Checked by converting graphs that use the spellings and running the results."""
from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mxconvert.errors import MxConvertError
from mxconvert.mxnet_compat import import_mxnet
from mxconvert.semantics import schema
from mxconvert.semantics.schema import ALIASES, NORMALISERS, alias
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source

SHAPE = (2, 3, 4)


@pytest.fixture
def registries():
    """The alias registries as they were, restored after the test."""
    saved = dict(ALIASES), dict(NORMALISERS)
    yield
    ALIASES.clear(), ALIASES.update(saved[0])
    NORMALISERS.clear(), NORMALISERS.update(saved[1])


def numpy_reduction(attrs: dict[str, str]) -> dict[str, str]:
    """NumPy's reduction attributes onto MXNet's: an int or tuple ``axis`` (None: all), ``keepdims``, and
    ``initial`` only when None (a start value has no counterpart)."""
    attrs = dict(attrs)
    if attrs.pop("initial", "None") != "None":
        raise ValueError("initial other than None")
    axis = attrs.pop("axis", "None")
    if axis != "None":
        attrs["axis"] = axis if axis.startswith("(") else f"({axis},)"
    return attrs


def _symbol(*nodes: tuple[str, dict[str, str]]) -> str:
    """A chain of one-input ops over ``data``."""
    entries = [{"op": "null", "name": "data", "inputs": []}]
    for index, (op, attrs) in enumerate(nodes):
        entries.append({"op": op, "name": f"n{index}", "attrs": attrs, "inputs": [[index, 0, 0]]})
    return json.dumps({"nodes": entries, "arg_nodes": [0], "heads": [[len(nodes), 0, 0]]})


def _run_both(text: str, data: np.ndarray) -> list[np.ndarray]:
    graph = parse_symbol(text)
    model, _ = export_onnx(graph, ExportOptions({"data": data.shape}))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    source, state = emit_pytorch(parse_symbol(text), TorchOptions({"data": data.shape}))
    with torch.no_grad():
        torch_out = build_model(module_from_source(source), state)(torch.from_numpy(data)).numpy()
    return [session.run(None, {"data": data})[0], torch_out]


def test_an_alias_with_a_normaliser_converts_as_its_canonical_op(registries):
    alias("_test_np_sum", "sum", normalise=numpy_reduction)
    alias("_test_np_exp", "exp")
    data = np.random.default_rng(0).normal(size=SHAPE).astype(np.float32)
    text = _symbol(("_test_np_exp", {}), ("_test_np_sum", {"axis": "-1", "keepdims": "True", "initial": "None"}))
    graph = parse_symbol(text)
    assert [node.op for node in graph.nodes] == ["exp", "sum"]
    assert graph.nodes[1].attrs == {"axis": (-1,), "keepdims": True, "exclude": False}
    expected = np.exp(data).sum(axis=-1, keepdims=True)
    for got in _run_both(text, data):
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    every_axis = _symbol(("_test_np_sum", {"axis": "None"}))
    for got in _run_both(every_axis, data):
        np.testing.assert_allclose(got.reshape(()), data.sum(), rtol=1e-5)


def test_a_normaliser_refusing_attributes_names_the_node(registries):
    alias("_test_np_sum", "sum", normalise=numpy_reduction)
    with pytest.raises(MxConvertError, match=r"node 'n0' \(_test_np_sum\).*initial other than None"):
        parse_symbol(_symbol(("_test_np_sum", {"initial": "1.0"})))


def test_a_name_is_defined_once(registries):
    with pytest.raises(ValueError, match="already known"):
        alias("sum", "mean")  # a canonical op
    with pytest.raises(ValueError, match="already known"):
        alias("sum_axis", "sum")  # an alias already
    with pytest.raises(ValueError, match="itself an alias"):
        alias("_test_sum", "sum_axis")
    with pytest.raises(ValueError, match="defined twice"):
        schema.define({"sum": schema.OpDef()})


mx = import_mxnet()
_D = mx.sym.var("data")


@pytest.mark.parametrize("spelling, sym, shape", [
    ("choose_element_0index", mx.sym.pick(_D, mx.sym.floor(mx.sym.sum(_D, axis=1) * 3.0), axis=-1), (3, 4)),
    ("ravel_multi_index", mx.sym.ravel_multi_index(mx.sym.floor(_D * 5.0), shape=(3, 4)), (2, 5)),
    ("unravel_index", mx.sym.unravel_index(mx.sym.floor(_D * 20.0), shape=(3, 4)), (6,)),
])
def test_legacy_spellings_the_python_api_never_writes(spelling, sym, shape):
    """MXNet's other names of an op (older symbol files hold them; its Python API writes the canonical name) read as
    that op and convert to what MXNet computes for them."""
    doc = json.loads(sym.tojson())
    canonical, doc["nodes"][-1]["op"] = doc["nodes"][-1]["op"], spelling
    text = json.dumps(doc)
    graph = parse_symbol(text)
    assert (graph.nodes[-1].op, graph.nodes[-1].spelling) == (canonical, spelling)
    data = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    expected = mx.sym.load_json(text).eval(mx.cpu(), data=mx.nd.array(data))[0].asnumpy()
    for got in _run_both(text, data):
        np.testing.assert_array_equal(got, expected)
