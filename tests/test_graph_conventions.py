"""Graphs as other people's checkpoints have them: node names that repeat (MXNet identifies nodes by position)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import torch

from conftest import ROOT
from mxcases import S, assert_close, mx, run_reference
from mxconvert.checkpoint import load_checkpoint
from mxconvert.convert import convert_to_onnx, convert_to_pytorch
from mxconvert.layers.divergence import checkpoint_report
from mxconvert.symbol import read_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source

SHAPE = (2, 3, 6, 6)


def _repeated_names():
    """Two convolutions called ``conv``, two additions called ``_plus0`` (as in the published RetinaFace-R50),
    a ReLU that repeats a variable's name, a BatchNorm twice called ``bn``."""
    d = S.var("data")
    a = S.Convolution(d, kernel=(3, 3), pad=(1, 1), num_filter=4, name="conv")
    b = S.Convolution(d, kernel=(1, 1), num_filter=4, weight=S.var("conv2_weight"), bias=S.var("conv2_bias"),
                      name="conv")
    x = S.elemwise_add(a, b, name="_plus0")
    x = S.BatchNorm(x, fix_gamma=False, name="bn")
    x = S.elemwise_add(S.relu(x, name="data"), a, name="_plus0")
    x = S.BatchNorm(x, fix_gamma=False, moving_mean=S.var("bn2_moving_mean"), moving_var=S.var("bn2_moving_var"),
                    gamma=S.var("bn2_gamma"), beta=S.var("bn2_beta"), name="bn")
    return S.FullyConnected(S.Flatten(x, name="flatten"), num_hidden=5, name="fc")


def test_repeated_node_names_convert_exactly():
    sym = _repeated_names()
    assert [n["name"] for n in json.loads(sym.tojson())["nodes"] if n["op"] != "null"].count("_plus0") == 2
    ref = run_reference(sym, SHAPE)
    names = [n.name for n in ref.graph.nodes]
    assert names == ["conv", "conv_dup1", "_plus0", "bn", "data_dup1", "_plus0_dup1", "bn_dup1", "flatten", "fc"]
    assert ref.graph.node("_plus0_dup1").source_name == "_plus0"
    model, log = export_onnx(ref.graph, ExportOptions(input_shape=SHAPE))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert_close(ref.outputs, session.run(None, {"data": ref.data}))
    assert "_plus0_dup1 (MXNet node '_plus0', elemwise_add) -> Add:_plus0_dup1" in log.lines
    metadata = {p.key: p.value for p in model.metadata_props}
    assert json.loads(metadata["mxnet_node_names"])["conv_dup1"] == "conv"
    source, state = emit_pytorch(ref.graph, TorchOptions(SHAPE))
    module = module_from_source(source)
    assert module.MXNET_NAMES["conv_dup1"] == "conv" and module.MXNET_NAMES["plus0_dup1"] == "_plus0"
    with torch.no_grad():
        out = build_model(module, state)(torch.from_numpy(ref.data))
    assert_close(ref.outputs, [out.numpy()])


def test_layer_report_pairs_repeated_names_by_position(tmp_path):
    """MXNet's internals of a repeated name are told apart by their order, as the probes are."""
    sym = _repeated_names()
    ref = run_reference(sym, SHAPE)
    prefix = str(tmp_path / "net")
    arg = {k.removeprefix("arg:"): mx.nd.array(v) for k, v in ref.graph.params.items()}
    aux = {k.removeprefix("aux:"): mx.nd.array(v) for k, v in ref.graph.aux.items()}
    mx.model.save_checkpoint(prefix, 0, sym, arg, aux)
    onnx_path, kit, pth = tmp_path / "m.onnx", tmp_path / "kit_model.py", tmp_path / "m.pth"
    graph = load_checkpoint(prefix, 0)
    convert_to_onnx(graph, ExportOptions(input_shape=SHAPE), onnx_path)
    convert_to_pytorch(graph, TorchOptions(input_shape=SHAPE), kit, pth)
    report = checkpoint_report(prefix, 0, ref.data, str(onnx_path), str(kit), str(pth))
    assert [p.label for p in report.probes] == [n.name for n in read_symbol(f"{prefix}-symbol.json").nodes]
    assert report.probes[5].mxnet_slot == ("_plus0", 1) and report.probes[4].mxnet_slot == ("data", 1)
    for key in ("onnxruntime", "pytorch"):
        assert report.first_offender(key) is None
        assert all(d is not None and d.rel_error <= 1e-5 for d in report.diffs[key])
    assert report.probes[6].shape == (2, 4, 6, 6)


def _script(name: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / name), *flags], capture_output=True, text=True, timeout=300)


def test_explicit_files_of_any_name(tmp_path):
    """--symbol/--params name checkpoint files that do not follow PREFIX-symbol.json / PREFIX-NNNN.params, in
    every script that reads a checkpoint."""
    sym = _repeated_names()
    ref = run_reference(sym, SHAPE)
    symbol, params = tmp_path / "train_net.json", tmp_path / "train_net_iter_800000.params"
    symbol.write_text(sym.tojson())
    mx.nd.save(str(params), {f"arg:{k}": mx.nd.array(v) for k, v in ref.graph.params.items()}
               | {f"aux:{k}": mx.nd.array(v) for k, v in ref.graph.aux.items()})
    np.save(tmp_path / "input.npy", ref.data)
    files = ["--symbol", str(symbol), "--params", str(params)]
    shape = ",".join(map(str, SHAPE))
    onnx_path, kit, pth = tmp_path / "m.onnx", tmp_path / "kit_model.py", tmp_path / "m.pth"
    for script, flags in (
            ("mxnet2onnx.py", ["--onnx_model", str(onnx_path), "--input_shape", shape,
                               "--conversion_log", str(tmp_path / "log.txt")]),
            ("mxnet2pytorch.py", ["--input_shape", shape, "--pytorch_model", str(pth), "--kit_model", str(kit)]),
            ("mxnet_inference.py", ["--input_image", str(tmp_path / "input.npy"),
                                    "--mxnet_model_output", str(tmp_path / "mx.npy")]),
            ("compare_layers.py", ["--input_image", str(tmp_path / "input.npy"), "--onnx_model", str(onnx_path),
                                   "--kit_model", str(kit), "--pytorch_model", str(pth),
                                   "--report", str(tmp_path / "layers")])):
        done = _script(script, *files, *flags)
        assert done.returncode == 0, (script, done.stderr)
    assert "train_net_iter_800000.params" in (tmp_path / "log.txt").read_text().splitlines()[0]
    assert_close(ref.outputs, [np.load(tmp_path / "mx.npy")])
    assert "# Layer-by-layer divergence from MXNet: train_net" in (tmp_path / "layers" / "report.md").read_text()
    half = _script("mxnet2onnx.py", "--symbol", str(symbol), "--onnx_model", str(tmp_path / "x.onnx"))
    assert half.returncode == 2 and half.stderr.strip().endswith("--symbol and --params go together")
    assert not (tmp_path / "x.onnx").exists()


def test_mlp_regressor_through_every_script(tmp_path):
    """A 2-D input (N x 4 features) and a regression head: converted and run by all four inference scripts."""
    hidden = S.Activation(S.FullyConnected(S.var("data"), num_hidden=8, name="fc1"), act_type="tanh", name="act")
    sym = S.LinearRegressionOutput(S.FullyConnected(hidden, num_hidden=2, name="fc2"), name="head")
    ref = run_reference(sym, (5, 4))
    prefix = str(tmp_path / "mlp")
    mx.model.save_checkpoint(prefix, 0, sym, {k: mx.nd.array(v) for k, v in ref.graph.params.items()}, {})
    np.save(tmp_path / "x.npy", ref.data)
    onnx_path, kit, pth = str(tmp_path / "m.onnx"), str(tmp_path / "kit_model.py"), str(tmp_path / "m.pth")
    common = ["--input_image", str(tmp_path / "x.npy")]
    for script, flags in (
            ("mxnet2onnx.py", ["--prefix", prefix, "--onnx_model", onnx_path, "--input_shape", "1,4",
                               "--dynamic_batch", "--conversion_log", str(tmp_path / "log.txt")]),
            ("mxnet2pytorch.py", ["--prefix", prefix, "--input_shape", "1,4", "--pytorch_model", pth,
                                  "--kit_model", kit]),
            ("mxnet_inference.py", ["--prefix", prefix, *common, "--mxnet_model_output", str(tmp_path / "mx.npy")]),
            ("onnxruntime_inference.py", ["--onnx_model", onnx_path, *common,
                                          "--onnxruntime_model_output", str(tmp_path / "ort.npy")]),
            ("onnx_inference_mxnet_back.py", ["--onnx_model", onnx_path, *common,
                                              "--onnx_mx_model_output", str(tmp_path / "onnx_mx.npy")]),
            ("pytorch_inference.py", ["--pytorch_model", pth, "--kit_model", kit, *common,
                                      "--pytorch_model_output", str(tmp_path / "torch.npy")])):
        done = _script(script, *flags)
        assert done.returncode == 0, (script, done.stderr)
    for output in ("mx", "ort", "onnx_mx", "torch"):
        assert_close(ref.outputs, [np.load(tmp_path / f"{output}.npy")])
