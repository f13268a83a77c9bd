"""Our checkpoint reader against MXNet's own loaders on every zoo fixture and params layout."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mxconvert.checkpoint import load_checkpoint
from mxconvert.ir import VarKind
from mxconvert.params import detect_layout, load_params, save_params
from mxconvert.symbol import read_symbol
from mxcases import mx

FIXTURES = ["resnet-18", "resnet-50", "gluon-resnet18_v1", "gluon-resnet18_v2", "resnet-18-legacy",
            "gluon-resnet18_v2-legacy"]


@pytest.mark.parametrize("name", FIXTURES)
def test_params_equal_mx_nd_load(zoo_model, name):
    path = f"{zoo_model(name)}-0000.params"
    ours = load_params(path)
    theirs = mx.nd.load(path)
    assert list(ours) == list(theirs)
    for key, array in theirs.items():
        expected = array.asnumpy()
        assert ours[key].dtype == expected.dtype and ours[key].shape == expected.shape
        assert ours[key].tobytes() == expected.tobytes()
    assert detect_layout(path) == ("legacy" if name.endswith("-legacy") else "v2")


@pytest.mark.parametrize("layout", ["legacy", "v1", "v3"])
def test_every_layout_of_a_zoo_checkpoint(zoo_model, tmp_path, layout):
    arrays = load_params(f"{zoo_model('resnet-18')}-0000.params")
    path = str(tmp_path / f"{layout}.params")
    save_params(path, arrays, layout=layout)
    if layout == "v3":
        with mx.util.np_shape(True):
            theirs = mx.nd.load(path)
    else:
        theirs = mx.nd.load(path)
    ours = load_params(path)
    assert list(ours) == list(theirs)
    assert all(ours[k].tobytes() == v.asnumpy().tobytes() for k, v in theirs.items())


@pytest.mark.parametrize("name", FIXTURES)
def test_symbol_equals_mx_sym_load(zoo_model, name):
    prefix = zoo_model(name)
    sym = mx.sym.load(f"{prefix}-symbol.json")
    graph = read_symbol(f"{prefix}-symbol.json")
    mx_nodes = [n for n in json.loads(sym.tojson())["nodes"] if n["op"] != "null"]
    assert [n.name for n in graph.nodes] == [n["name"] for n in mx_nodes]
    mx_inputs = {n["name"]: len(n["inputs"]) for n in mx_nodes}
    assert {n.name: len(n.inputs) for n in graph.nodes} == mx_inputs
    aux = sorted(v.name for v in graph.variables.values() if v.kind is VarKind.AUX)
    assert aux == sorted(sym.list_auxiliary_states())
    args = sorted(v.name for v in graph.variables.values() if v.kind is not VarKind.AUX)
    assert args == sorted(sym.list_arguments())


@pytest.mark.parametrize("name", FIXTURES)
def test_checkpoint_weights_attach(zoo_model, name):
    prefix = zoo_model(name)
    graph = load_checkpoint(prefix, 0)
    _, arg, aux = mx.model.load_checkpoint(prefix, 0)
    assert set(graph.params) == set(arg) and set(graph.aux) == set(aux)
    assert all(np.array_equal(graph.params[k], v.asnumpy()) for k, v in arg.items())
    assert [v.name for v in graph.inputs] == ["data"]
