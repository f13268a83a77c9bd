"""Models with several inputs and symbolic sizes: inputs named and shaped on the command line, begin
states inferred from the graph and fed zeros when left out, ONNX inputs in MXNet's order, ``KitModel.forward``
arguments by name, dynamic axes checked at two sizes, float16 params. MXNet 1.9.1 is the reference."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from conftest import ROOT
from mxcases import S, assert_close, mx, run_reference
from mxconvert.zoo import sequence
from mxconvert.checkpoint import attach_weights, load_checkpoint
from mxconvert.errors import MxConvertError, UnsupportedOpsError
from mxconvert.mxnet_runner import MxnetModel
from mxconvert.onnx_mxnet_backend import OnnxMxnetModel
from mxconvert.onnx_runtime import OrtModel
from mxconvert.semantics.rules import ShapeError
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source
from mxconvert.to_torch.runner import TorchModel

HIDDEN, FEATURES, STEPS, BATCH = 6, 5, 4, 2
STATES = ("l0_init_h", "l0_init_c")


def unrolled_lstm():
    """An LSTM unrolled by hand as MXNet's old examples build it (``zoo.sequence.unrolled_lstm``: begin states
    ``l0_init_c``/``l0_init_h`` as inputs), its (steps x batch, 7) scores under a SoftmaxOutput head."""
    scores = sequence.unrolled_lstm(STEPS, HIDDEN, 7)
    return S.SoftmaxOutput(S.Reshape(scores, shape=(-1, 7)), name="softmax")


def _save(sym, params: dict[str, np.ndarray], prefix: Path, dtype=np.float32) -> str:
    mx.model.save_checkpoint(str(prefix), 0, sym, {k: mx.nd.array(v, dtype=dtype) for k, v in params.items()}, {})
    return str(prefix)


@pytest.fixture(scope="module")
def lstm(tmp_path_factory) -> str:
    sym = unrolled_lstm()
    shapes, _, _ = sym.infer_shape_partial(data=(BATCH, STEPS, FEATURES))
    rng = np.random.default_rng(0)
    params = {name: rng.normal(0, 0.5, shape).astype(np.float32) for name, shape in zip(sym.list_arguments(), shapes)
              if name.startswith(("l0_i2h", "l0_h2h", "pred"))}
    return _save(sym, params, tmp_path_factory.mktemp("lstm") / "lstm")


def _feeds(batch: int = BATCH, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {"data": rng.normal(size=(batch, STEPS, FEATURES)).astype(np.float32)}
    feeds.update({name: rng.normal(size=(batch, HIDDEN)).astype(np.float32) for name in STATES})
    return feeds


def test_begin_states_are_inferred_named_and_default_to_zeros(lstm):
    graph = load_checkpoint(lstm, 0)
    feeds = _feeds()
    mxnet = MxnetModel(lstm, 0)
    want = mxnet(feeds)
    # MXNet's own inference fixes l0_init_c (it meets an elementwise product) but not l0_init_h; ours does both
    want_zeros = mxnet({"data": feeds["data"], "l0_init_h": np.zeros((BATCH, HIDDEN), np.float32)})
    model, _ = export_onnx(graph, ExportOptions(input_shape={"data": feeds["data"].shape}))
    arguments = mx.sym.load(f"{lstm}-symbol.json").list_arguments()
    assert [i.name for i in model.graph.input] == [n for n in arguments if n in ("data", *STATES)]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert_close(want, session.run(None, feeds))
    source, state = emit_pytorch(graph, TorchOptions(feeds["data"].shape))
    assert "l0_init_h: Optional[torch.Tensor] = None" in source
    module = build_model(module_from_source(source), state)
    tensors = {name: torch.from_numpy(array) for name, array in feeds.items()}
    with torch.no_grad():
        assert_close(want, [module(**tensors).numpy()])
        assert_close(want_zeros, [module(tensors["data"]).numpy()])
        assert_close(want_zeros, [torch.jit.script(module)(tensors["data"]).numpy()])


def test_backends_feed_named_inputs_and_zeros(lstm, tmp_path, capfd):
    feeds = _feeds()
    onnx_path, kit, pth = tmp_path / "lstm.onnx", tmp_path / "kit_model.py", tmp_path / "model.pth"
    for script, flags in (("mxnet2onnx.py", ["--onnx_model", onnx_path]),
                          ("mxnet2pytorch.py", ["--kit_model", kit, "--pytorch_model", pth])):
        done = subprocess.run([sys.executable, script, "--prefix", lstm, "--input_shape", f"data={BATCH},{STEPS},"
                               f"{FEATURES}", *map(str, flags)], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    given = {"data": feeds["data"], "l0_init_h": feeds["l0_init_h"]}
    want = MxnetModel(lstm, 0)(given)
    backends = {"onnxruntime": OrtModel(onnx_path), "onnx_mxnet": OnnxMxnetModel(onnx_path),
                "pytorch": TorchModel(kit, pth)}
    for name, run in backends.items():
        assert_close(want, run(given))
        assert f"note: {name}: input l0_init_c not given, fed zeros of shape ({BATCH}, {HIDDEN})" in \
            capfd.readouterr().err or name == "pytorch"
        with pytest.raises(MxConvertError, match="data input 'data' not given"):
            run({"l0_init_h": feeds["l0_init_h"]})
    with pytest.raises(MxConvertError, match=r"no input named 'nope' \(the model's inputs: data, l0_init_h"):
        backends["onnxruntime"]({"data": feeds["data"], "nope": feeds["data"]})


def test_inference_scripts_take_name_equals_path(lstm, tmp_path):
    feeds = _feeds(seed=2)
    for name, array in feeds.items():
        np.save(tmp_path / f"{name}.npy", array)
    onnx_path = tmp_path / "lstm.onnx"
    subprocess.run([sys.executable, "mxnet2onnx.py", "--prefix", lstm, "--onnx_model", str(onnx_path),
                    "--input_shape", f"data={BATCH},{STEPS},{FEATURES}", "l0_init_h=2,6", "--dynamic_batch"],
                   cwd=ROOT, check=True, capture_output=True)
    inputs = [f"{name}={tmp_path / name}.npy" for name in feeds]
    for script, flag in (("mxnet_inference.py", "--mxnet_model_output"),
                         ("onnxruntime_inference.py", "--onnxruntime_model_output")):
        extra = ["--onnx_model", str(onnx_path)] if "onnx" in script else ["--prefix", lstm]
        done = subprocess.run([sys.executable, script, *extra, "--input_image", *inputs, flag,
                               str(tmp_path / f"{script}.npy")], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    want = np.load(tmp_path / "mxnet_inference.py.npy")
    assert_close([want], [np.load(tmp_path / "onnxruntime_inference.py.npy")])
    assert_close(MxnetModel(lstm, 0)(feeds), [want])


def test_three_inputs_of_different_ranks():
    """Inputs given by name in any order; ONNX keeps MXNet's argument order; KitModel takes them by name."""
    fc = S.FullyConnected(S.var("b"), num_hidden=4, flatten=False, name="fc")
    sym = S.broadcast_add(S.broadcast_mul(S.expand_dims(S.var("a"), axis=2), fc), S.var("c"), name="out")
    rng = np.random.default_rng(3)
    values = {"a": rng.normal(size=(2, 3)), "b": rng.normal(size=(2, 3, 5)), "c": rng.normal(size=(4,))}
    values = {k: v.astype(np.float32) for k, v in values.items()}
    weights = {"fc_weight": rng.normal(size=(4, 5)).astype(np.float32), "fc_bias": rng.normal(size=4).astype(np.float32)}
    executor = sym.simple_bind(mx.cpu(), grad_req="null", **{k: v.shape for k, v in values.items()})
    for name, value in {**values, **weights}.items():
        executor.arg_dict[name][:] = value
    want = [executor.forward(is_train=False)[0].asnumpy()]
    graph = parse_symbol(sym.tojson())
    attach_weights(graph, {f"arg:{k}": v for k, v in weights.items()}, "<test>")
    shapes = {"c": (4,), "b": (2, 3, 5), "a": (2, 3)}
    model, _ = export_onnx(graph, ExportOptions(input_shape=shapes))
    assert [i.name for i in model.graph.input] == [n for n in sym.list_arguments() if n in values] == ["a", "b", "c"]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert_close(want, session.run(None, values))
    source, state = emit_pytorch(graph, TorchOptions(shapes))
    with torch.no_grad():
        out = build_model(module_from_source(source), state)(**{k: torch.from_numpy(v) for k, v in values.items()})
    assert_close(want, [out.numpy()])


def _fully_convolutional():
    d = S.var("data")
    c1 = S.Activation(S.BatchNorm(S.Convolution(d, kernel=(3, 3), pad=(1, 1), num_filter=4, name="c1"), name="bn1"),
                      act_type="relu")
    c2 = S.Convolution(S.Pooling(c1, kernel=(2, 2), stride=(2, 2), pool_type="max"), kernel=(3, 3), pad=(1, 1),
                       num_filter=4, name="c2")
    merged = S.Concat(c1, S.UpSampling(c2, scale=2, sample_type="nearest"), dim=1)
    up = S.Deconvolution(merged, kernel=(4, 4), stride=(2, 2), pad=(1, 1), num_filter=3, name="dc")
    return S.softmax(up + S.UpSampling(d, scale=2, sample_type="nearest"), axis=1, name="prob")


def test_dynamic_axes_run_at_other_sizes_in_both_targets():
    sym = _fully_convolutional()
    ref = run_reference(sym, (1, 3, 8, 10))
    dynamic = {"data": (0, 2, 3)}
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=(1, 3, 8, 10), dynamic_axes=dynamic))
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "data_dim2", "data_dim3"]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    source, state = emit_pytorch(ref.graph, TorchOptions((1, 3, 8, 10), dynamic_axes=dynamic))
    module = build_model(module_from_source(source), state)
    for shape in ((1, 3, 8, 10), (2, 3, 12, 6)):
        data = np.random.default_rng(4).uniform(-1, 1, shape).astype(np.float32)
        executor = sym.simple_bind(mx.cpu(), data=shape, grad_req="null")
        for name, value in {**ref.graph.params, **ref.graph.aux}.items():
            (executor.aux_dict if name in ref.graph.aux else executor.arg_dict)[name][:] = value
        executor.arg_dict["data"][:] = data
        want = [executor.forward(is_train=False)[0].asnumpy()]
        assert_close(want, session.run(None, {"data": data}))
        with torch.no_grad():
            assert_close(want, [module(torch.from_numpy(data)).numpy()])


def test_dynamic_axes_refuse_a_size_written_into_the_model():
    sym = S.Reshape(S.Convolution(S.var("data"), kernel=(1, 1), num_filter=2, name="c"), shape=(1, 2, 80), name="flat")
    ref = run_reference(sym, (1, 3, 8, 10))
    with pytest.raises(UnsupportedOpsError, match=r"ONNX opset 13 with dynamic axes.*Reshape \[fixes a size.*\(flat\)"):
        export_onnx(ref.graph, ExportOptions(input_shape=(1, 3, 8, 10), dynamic_axes={"data": (2, 3)}))
    with pytest.raises(UnsupportedOpsError, match=r"PyTorch with dynamic axes.*Reshape \[fixes a size.*\(flat\)"):
        emit_pytorch(ref.graph, TorchOptions((1, 3, 8, 10), dynamic_axes={"data": (2, 3)}))
    flat = run_reference(S.Reshape(S.var("data"), shape=(0, -1), name="flat"), (1, 3, 8, 10))  # sizes from live shapes
    export_onnx(flat.graph, ExportOptions(input_shape=(1, 3, 8, 10), dynamic_axes={"data": (0, 2, 3)}))
    emit_pytorch(flat.graph, TorchOptions((1, 3, 8, 10), dynamic_axes={"data": (0, 2, 3)}))


def test_float16_params_convert_to_float32_with_a_notice(tmp_path):
    sym = S.FullyConnected(S.Activation(S.FullyConnected(S.var("data"), num_hidden=8, name="fc1"), act_type="tanh"),
                           num_hidden=3, name="fc2")
    rng = np.random.default_rng(5)
    params = {"fc1_weight": rng.normal(size=(8, 4)), "fc1_bias": rng.normal(size=8), "fc2_weight": rng.normal(size=(3, 8)),
              "fc2_bias": rng.normal(size=3)}
    prefix = _save(sym, params, tmp_path / "half", dtype=np.float16)
    done = subprocess.run([sys.executable, "mxnet2onnx.py", "--prefix", prefix, "--input_shape", "2,4",
                           "--onnx_model", str(tmp_path / "half.onnx")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "note: the params file stores float16 weights; the converted model computes in float32" in done.stdout
    data = rng.normal(size=(2, 4)).astype(np.float32)
    want = MxnetModel(prefix, 0)(data)  # MXNet with the float16 weights widened to float32
    assert_close(want, OrtModel(tmp_path / "half.onnx")(data))
    source, state = emit_pytorch(load_checkpoint(prefix, 0), TorchOptions((2, 4)))
    with torch.no_grad():
        assert_close(want, [build_model(module_from_source(source), state)(torch.from_numpy(data)).numpy()])


@pytest.mark.parametrize("flags, needle", [
    (["--input_shape", "nope=1,2"], "no input named 'nope' (the graph's inputs: data, other)"),
    (["--input_shape", "data=1,3"], "input 'other': its shape is neither given nor fixed by the graph (it feeds "
                                    "'out' (broadcast_add, inputs of shapes (1, 3), ?)); give it as NAME=SHAPE"),
    (["--input_shape", "data=1,3", "--dynamic_axes", "other=0"], "--dynamic_axes names 'other', which is no input "
                                                                 "with a given shape"),
])
def test_bad_input_names_and_shapes(tmp_path, flags, needle):
    prefix = _save(S.broadcast_add(S.var("data"), S.var("other"), name="out"), {}, tmp_path / "two")
    output = tmp_path / "two.onnx"
    done = subprocess.run([sys.executable, "mxnet2onnx.py", "--prefix", prefix, "--onnx_model", str(output), *flags],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert needle in done.stderr, done.stderr
    assert not output.exists()


def test_unknown_begin_state_shape_is_named():
    sym = S.broadcast_add(S.var("data"), S.FullyConnected(S.var("l0_init_h"), num_hidden=3, name="h2h"), name="out")
    graph = parse_symbol(sym.tojson())
    attach_weights(graph, {"arg:h2h_weight": np.ones((3, 4), np.float32), "arg:h2h_bias": np.zeros(3, np.float32)},
                   "<test>")
    with pytest.raises(ShapeError, match="input 'l0_init_h': its shape is neither given nor fixed"):
        export_onnx(graph, ExportOptions(input_shape=(2, 3)))


def test_mxnet_backend_infers_begin_states_mxnet_cannot(lstm):
    """MXNet's own inference leaves ``l0_init_h`` unknown; the reference run takes it from mxconvert's."""
    data = _feeds()["data"]
    zeros = np.zeros((BATCH, HIDDEN), np.float32)
    model = MxnetModel(lstm, 0)
    np.testing.assert_array_equal(model(data)[0], model({"data": data, "l0_init_h": zeros, "l0_init_c": zeros})[0])


def test_run_all_takes_a_recurrent_model_and_a_npy_input(lstm, tmp_path):
    """run_all converts for the .npy's own shape, leaves the begin states to zeros and compares all four."""
    models = tmp_path / "models"
    models.mkdir()
    for suffix in ("-symbol.json", "-0000.params"):
        (models / f"lstm{suffix}").write_bytes(Path(f"{lstm}{suffix}").read_bytes())
    np.save(tmp_path / "seq.npy", _feeds(seed=3)["data"])
    command = [sys.executable, str(ROOT / "run_all.py"), "--models_dir", str(models), "--input_image",
               str(tmp_path / "seq.npy"), "--format", "json", *(f"--{flag}={tmp_path / flag}" for flag in (
                   "onnx_dir", "pytorch_dir", "result_dir")), f"--test_mx_onnx={tmp_path / 'onnx.txt'}",
               f"--test_mx_pytorch={tmp_path / 'torch.txt'}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "input l0_init_c not given, fed zeros" in done.stderr
    want = MxnetModel(str(models / "lstm"), 0)(_feeds(seed=3)["data"])[0]
    np.testing.assert_array_equal(np.load(tmp_path / "result_dir" / "lstm" / "mxnet.npy"), want)
    for backend in ("onnxruntime", "onnx_mxnet", "pytorch"):
        assert_close([want], [np.load(tmp_path / "result_dir" / "lstm" / f"{backend}.npy")])


def test_layer_report_runs_on_named_inputs(lstm, tmp_path):
    """compare_layers.py on the recurrent graph: NAME=PATH inputs, a begin state left to zeros, every node within
    tolerance in both targets."""
    feeds = _feeds(seed=4)
    np.save(tmp_path / "data.npy", feeds["data"])
    np.save(tmp_path / "h.npy", feeds["l0_init_h"])
    files = {"onnx_model": tmp_path / "lstm.onnx", "kit_model": tmp_path / "kit_model.py",
             "pytorch_model": tmp_path / "model.pth"}
    shape = ["--input_shape", f"data={BATCH},{STEPS},{FEATURES}"]
    for script, flags in (("mxnet2onnx.py", ["--onnx_model", files["onnx_model"]]),
                          ("mxnet2pytorch.py", ["--kit_model", files["kit_model"], "--pytorch_model", files["pytorch_model"]])):
        subprocess.run([sys.executable, script, "--prefix", lstm, *shape, *map(str, flags)], cwd=ROOT, check=True,
                       capture_output=True)
    done = subprocess.run([sys.executable, "compare_layers.py", "--prefix", lstm, "--input_image",
                           f"data={tmp_path / 'data.npy'}", f"l0_init_h={tmp_path / 'h.npy'}", "--report",
                           str(tmp_path / "report"), *(f"--{k}={v}" for k, v in files.items())],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "note: mxnet: input l0_init_c not given, fed zeros" in done.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["input_shape"] == [BATCH, STEPS, FEATURES]
    assert {target["first_divergent"] for target in report["targets"].values()} == {None}


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_fused_rnn_begin_states_as_inputs(mode):
    """A fused RNN whose begin states are graph inputs: shapes inferred from the data, fed by name or left to
    zeros, in both targets, against MXNet."""
    states = {"state": S.var("rnn_state")} | ({"state_cell": S.var("rnn_state_cell")} if mode == "lstm" else {})
    sym = S.RNN(data=S.var("data"), parameters=S.var("rnn_parameters"), state_size=HIDDEN, num_layers=2,
                bidirectional=True, mode=mode, name="rnn", **states)
    shapes, _, _ = sym.infer_shape_partial(data=(STEPS, BATCH, FEATURES))
    shapes = dict(zip(sym.list_arguments(), shapes))
    rng = np.random.default_rng(8)
    weights = {"rnn_parameters": rng.normal(0, 0.4, shapes["rnn_parameters"]).astype(np.float32)}
    feeds = {"data": rng.normal(size=(STEPS, BATCH, FEATURES)).astype(np.float32)}
    feeds.update({v.name: rng.normal(size=shapes[v.name]).astype(np.float32) for v in states.values()})
    executor = sym.simple_bind(mx.cpu(), grad_req="null", **{k: v.shape for k, v in feeds.items()})
    graph = parse_symbol(sym.tojson())
    attach_weights(graph, {f"arg:{k}": v for k, v in weights.items()}, "<test>")
    model, _ = export_onnx(graph, ExportOptions(input_shape=feeds["data"].shape))
    assert [i.name for i in model.graph.input] == [n for n in sym.list_arguments() if n in feeds]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    source, state = emit_pytorch(graph, TorchOptions(feeds["data"].shape))
    module = build_model(module_from_source(source), state)
    for given in (feeds, {"data": feeds["data"]}):
        full = {name: given.get(name, np.zeros_like(array)) for name, array in feeds.items()}
        for name, array in {**full, **weights}.items():
            executor.arg_dict[name][:] = array
        want = [executor.forward(is_train=False)[0].asnumpy()]
        assert_close(want, session.run(None, full))
        with torch.no_grad():
            assert_close(want, [module(**{k: torch.from_numpy(v) for k, v in given.items()}).numpy()])


@pytest.mark.parametrize("spec", [(-3, 0), (0, -4, -1, 2, 0), (-2,), (0, -3)])
def test_reshape_codes_follow_live_sizes(spec):
    """Reshape's merge and split codes on dynamic axes: the target is computed from the input's live shape in
    both targets (ONNX had refused them), checked against MXNet at a second size."""
    sym = S.Reshape(S.relu(S.var("data")), shape=spec, name="reshaped")
    ref = run_reference(sym, (6, 4, 3))
    dynamic = {"data": (0, 1)}
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=(6, 4, 3), dynamic_axes=dynamic))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    source, state = emit_pytorch(ref.graph, TorchOptions((6, 4, 3), dynamic_axes=dynamic))
    module = build_model(module_from_source(source), state)
    other = run_reference(sym, (10, 8, 3), seed=1)
    assert_close(other.outputs, session.run(None, {"data": other.data}))
    with torch.no_grad():
        assert_close(other.outputs, [module(torch.from_numpy(other.data)).numpy()])
