"""Plugins (``mxconvert.plugins``): a graph's Python ``Custom`` op converted by the example plugin to both targets,
against MXNet running the CustomOp; a broken plugin reported on one line naming its file."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from mxcases import S, assert_near_exact, mx

from mxconvert import api
from mxconvert.plugins import PluginError
from mxconvert.to_torch.loader import build_model, module_from_source

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = str(ROOT / "docs" / "plugin_example.py")


class _ScaledSoftsign(mx.operator.CustomOp):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, is_train, req, in_data, out_data, aux):
        x = in_data[0].asnumpy()
        self.assign(out_data[0], req[0], mx.nd.array(self.scale * x / (1 + np.abs(x)), dtype=x.dtype))


@mx.operator.register("scaled_softsign")
class _ScaledSoftsignProp(mx.operator.CustomOpProp):
    def __init__(self, scale="1.0"):
        super().__init__(need_top_grad=False)
        self.scale = float(scale)

    def infer_shape(self, in_shape):
        return in_shape, [in_shape[0]], []

    def create_operator(self, ctx, shapes, dtypes):
        return _ScaledSoftsign(self.scale)


def _mxnet_outputs(sym, weights: dict, data: np.ndarray, dtype) -> list[np.ndarray]:
    types = {name: dtype for name in sym.list_arguments()}
    executor = sym.simple_bind(mx.cpu(), data=data.shape, grad_req="null", type_dict=types)
    for name, value in {**weights, "data": data}.items():
        executor.arg_dict[name][:] = value.astype(dtype)
    return [executor.forward(is_train=False)[0].asnumpy()]


def _saved(sym, prefix: Path, shape: tuple[int, ...]) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """``sym`` saved by MXNet with random weights: the data, MXNet's float32 and float64 outputs."""
    rng = np.random.default_rng(0)
    shapes = dict(zip(sym.list_arguments(), sym.infer_shape(data=shape)[0]))
    weights = {name: rng.normal(0, 1.5, size).astype(np.float32) for name, size in shapes.items() if name != "data"}
    mx.model.save_checkpoint(str(prefix), 0, sym, {k: mx.nd.array(v) for k, v in weights.items()}, {})
    data = rng.uniform(-2, 2, shape).astype(np.float32)
    return data, _mxnet_outputs(sym, weights, data, np.float32), _mxnet_outputs(sym, weights, data, np.float64)


def _onnx_outputs(graph, data: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(api.to_onnx(graph, data.shape).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"data": data})


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script still works; it is only deprecated
def test_custom_op_converted_by_the_example_plugin_matches_mxnet(tmp_path):
    """FullyConnected -> Custom scaled_softsign (scale 2.5) -> FullyConnected, saved by MXNet: both targets within
    MXNet float32's own distance from its float64 result."""
    x = S.FullyConnected(S.var("data"), num_hidden=6, name="fc1")
    x = S.Custom(x, op_type="scaled_softsign", scale=2.5, name="squash")
    data, reference, exact = _saved(S.FullyConnected(x, num_hidden=3, name="fc2"), tmp_path / "squash", (2, 5))
    graph = api.load(str(tmp_path / "squash"), plugins=[EXAMPLE])
    source, state = api.pytorch_source(graph, (2, 5))
    assert "def scaled_softsign(" in source  # the plugin's helper is written into kit_model.py
    model = build_model(module_from_source(source, "<kit_model plugin>"), state)
    with torch.no_grad():
        torch_out = model(torch.from_numpy(data)).numpy()
        scripted = torch.jit.script(model)(torch.from_numpy(data)).numpy()
    for outputs in (_onnx_outputs(graph, data), [torch_out], [scripted]):
        assert_near_exact(reference, exact, outputs)


FORK_PLUGIN = """
from mxconvert import plugins

plugins.define_op("fork_softsign")


@plugins.onnx_converter("fork_softsign")
def fork_softsign(ctx, node):
    ctx.add("Softsign", [ctx.input(0)], ctx.output())


@plugins.torch_lowering("fork_softsign")
def fork_softsign_torch(ctx, node):
    return plugins.Lowering(f"F.softsign({ctx.input(0)})")
"""


def test_an_op_of_a_fork_converted_by_a_plugin_module_and_by_the_scripts(tmp_path, monkeypatch):
    """A fork's ``fork_softsign`` (MXNet's softsign under another name, the reference): a plugin module through
    the API (both targets), its file through ``mxnet2pytorch.py --plugin``."""
    x = S.FullyConnected(S.var("data"), num_hidden=6, name="fc1")
    data, reference, exact = _saved(S.FullyConnected(S.softsign(x, name="squash"), num_hidden=3, name="fc2"),
                                    tmp_path / "fork", (2, 5))
    symbol = tmp_path / "fork-symbol.json"
    symbol.write_text(symbol.read_text().replace('"op": "softsign"', '"op": "fork_softsign"'))
    (tmp_path / "fork_ops.py").write_text(FORK_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = api.load(str(tmp_path / "fork"), plugins=["fork_ops"])
    assert [node.op for node in graph.nodes] == ["FullyConnected", "fork_softsign", "FullyConnected"]
    assert_near_exact(reference, exact, _onnx_outputs(graph, data))
    kit, weights = tmp_path / "kit_model.py", tmp_path / "model.pth"
    result = subprocess.run([sys.executable, str(ROOT / "mxnet2pytorch.py"), "--prefix", str(tmp_path / "fork"),
                             "--plugin", str(tmp_path / "fork_ops.py"), "--input_shape", "2,5",
                             "--kit_model", str(kit), "--pytorch_model", str(weights)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert_near_exact(reference, exact, api.backend("pytorch", str(kit), str(weights))(data))


@pytest.mark.parametrize("text, error", [("import math\n\nvalue = 1 / 0\n", "line 3: ZeroDivisionError: "
                                          "division by zero"),
                                         ("def broken(:\n", "line 1: SyntaxError: "),
                                         ("from mxconvert import plugins\nplugins.define_op('Convolution')\n",
                                          "line 2: ValueError: op 'Convolution' is defined twice")])
def test_a_broken_plugin_is_one_line_naming_its_file(tmp_path, text, error):
    plugin = tmp_path / "my_ops.py"
    plugin.write_text(text)
    with pytest.raises(PluginError) as raised:
        api.load(str(tmp_path / "missing"), plugins=[str(plugin)])
    assert str(raised.value).startswith(f"plugin {plugin}, {error}") and "\n" not in str(raised.value)


def test_the_scripts_report_a_broken_plugin_on_one_line(tmp_path):
    plugin = tmp_path / "bad_ops.py"
    plugin.write_text("raise RuntimeError('no converter here\\nsecond line')\n")
    result = subprocess.run([sys.executable, str(ROOT / "mxnet2onnx.py"), "--plugin", str(plugin), "--prefix",
                             str(tmp_path / "missing"), "--onnx_model", str(tmp_path / "m.onnx")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr == (f"mxnet2onnx.py: error: plugin {plugin}, line 1: RuntimeError: no converter here\n")
