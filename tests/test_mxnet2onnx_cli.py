"""mxnet2onnx.py end to end: a valid file with provenance, and every kind of bad input exits 2 cleanly."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest

from mxconvert.fileio import sha256_of
from mxconvert.params import load_params, save_params
from mxcases import S, mx
from conftest import ROOT


def _checkpoint(tmp_path, sym, shape=(1, 3, 8, 8)) -> str:
    prefix = str(tmp_path / "net")
    executor = sym.simple_bind(mx.cpu(), data=shape, grad_req="null")
    rng = np.random.default_rng(0)
    arg = {k: mx.nd.array(rng.normal(size=v.shape)) for k, v in executor.arg_dict.items()
           if k != "data" and not k.endswith("label")}
    aux = {k: mx.nd.array(rng.uniform(0.5, 1.5, size=v.shape)) for k, v in executor.aux_dict.items()}
    mx.model.save_checkpoint(prefix, 0, sym, arg, aux)
    return prefix


def _net():
    x = S.Convolution(S.var("data"), kernel=(3, 3), num_filter=4, name="conv0")
    x = S.BatchNorm(x, name="bn0")
    return S.SoftmaxOutput(S.FullyConnected(S.Flatten(x), num_hidden=5, name="fc1"), name="softmax")


def convert(prefix: str, out, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "mxnet2onnx.py"), "--prefix", prefix, "--epoch", "0",
               "--onnx_model", str(out), "--input_shape", "1,3,8,8",
               "--conversion_log", str(out.with_suffix(".log")), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def assert_clean_failure(result: subprocess.CompletedProcess, out, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


def test_converts_with_provenance(tmp_path):
    prefix = _checkpoint(tmp_path, _net())
    out = tmp_path / "out" / "model.onnx"
    result = convert(prefix, out, "--opset", "17")
    assert result.returncode == 0, result.stderr
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["source_params_sha256"] == sha256_of(f"{prefix}-0000.params")
    assert meta["source_symbol"] == "net-symbol.json"
    assert model.producer_name == "mxconvert" and model.opset_import[0].version == 17
    log = out.with_suffix(".log").read_text()
    assert "conv0 (Convolution) -> Conv:conv0" in log and "fix_gamma" in log and "timings" in log


def test_unsupported_ops_listed_at_once(tmp_path):
    lrn = S.LRN(S.var("data"), nsize=2, name="up1")
    sym = S.SoftmaxOutput(S._internal._grad_add(lrn, lrn, name="e1"), name="softmax")
    out = tmp_path / "model.onnx"
    assert_clean_failure(convert(_checkpoint(tmp_path, sym), out), out, "LRN [even nsize 2] (up1)",
                         "_grad_add (e1)")


def test_inconsistent_input_shape(tmp_path):
    out = tmp_path / "model.onnx"
    result = convert(_checkpoint(tmp_path, _net()), out, "--input_shape", "1,5,8,8")
    assert_clean_failure(result, out, "net-0000.params", "conv0", "weight has shape")


@pytest.mark.parametrize("opset", ["10", "22"])
def test_opset_outside_range(tmp_path, opset):
    out = tmp_path / "model.onnx"
    assert_clean_failure(convert(_checkpoint(tmp_path, _net()), out, "--opset", opset), out, "opset")


def test_missing_and_misshapen_weights(tmp_path):
    prefix = _checkpoint(tmp_path, _net())
    params = f"{prefix}-0000.params"
    arrays = load_params(params)
    out = tmp_path / "model.onnx"
    save_params(params, {k: v for k, v in arrays.items() if k != "arg:fc1_weight"})
    assert_clean_failure(convert(prefix, out), out, "net-0000.params", "missing weights", "fc1_weight")
    save_params(params, {**arrays, "arg:fc1_weight": np.zeros((5, 7), np.float32)})
    assert_clean_failure(convert(prefix, out), out, "net-0000.params", "fc1", "weight has shape (5, 7)")


@pytest.mark.parametrize("damage", ["truncate", "magic", "missing"])
def test_damaged_params(tmp_path, damage):
    prefix = _checkpoint(tmp_path, _net())
    params = tmp_path / "net-0000.params"
    data = params.read_bytes()
    if damage == "missing":
        params.unlink()
    else:
        params.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00" * 8 + data[8:])
    out = tmp_path / "model.onnx"
    assert_clean_failure(convert(prefix, out), out, "net-0000.params")


def test_unwritable_output_keeps_nothing(tmp_path):
    prefix = _checkpoint(tmp_path, _net())
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = convert(prefix, blocker / "model.onnx")
    assert result.returncode == 2 and "cannot write output" in result.stderr


def test_failure_keeps_previous_output(tmp_path):
    prefix = _checkpoint(tmp_path, _net())
    out = tmp_path / "model.onnx"
    out.write_bytes(b"previous")
    result = convert(prefix, out, "--opset", "9")
    assert result.returncode == 2 and out.read_bytes() == b"previous"


def test_symbol_that_is_not_a_symbol(tmp_path):
    prefix = _checkpoint(tmp_path, _net())
    (tmp_path / "net-symbol.json").write_text('{"hello": "world"}')
    out = tmp_path / "model.onnx"
    assert_clean_failure(convert(prefix, out), out, "net-symbol.json", "not an MXNet symbol")


def test_conversion_never_imports_mxnet(tmp_path):
    """Conversion runs on our own readers: neither MXNet nor a runtime is imported."""
    prefix = _checkpoint(tmp_path, _net())
    code = ("import sys; sys.path.insert(0, sys.argv[1]);"
            "from mxconvert.checkpoint import load_checkpoint;"
            "from mxconvert.convert import convert_to_onnx, convert_to_pytorch;"
            "from mxconvert.to_onnx import ExportOptions; from mxconvert.to_torch import TorchOptions;"
            "graph = load_checkpoint(sys.argv[2], 0);"
            "convert_to_onnx(graph, ExportOptions(input_shape=(1, 3, 8, 8)), sys.argv[3]);"
            "convert_to_pytorch(graph, TorchOptions(input_shape=(1, 3, 8, 8)), sys.argv[3] + '.py',"
            "                   sys.argv[3] + '.pth');"
            "loaded = [m for m in ('mxnet', 'onnxruntime') if m in sys.modules];"
            "assert not loaded, loaded")
    result = subprocess.run([sys.executable, "-c", code, str(ROOT), prefix, str(tmp_path / "m.onnx")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
