"""compare_layers.py: per-node divergence from MXNet names the node where a planted conversion bug first shows."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mxconvert.checkpoint import load_checkpoint
from mxconvert.convert import convert_to_onnx, convert_to_pytorch
from mxconvert.errors import MxConvertError
from mxconvert.layers import divergence
from mxconvert.layers.divergence import LayerReport, checkpoint_report, compare_layers
from mxconvert.layers.probes import CHUNK_BYTES, probes_of
from mxconvert.layers.report import summary
from mxconvert.layers.taps import MxnetInternals, OrtInternals, TorchInternals
from mxconvert.preprocess import load_input
from mxconvert.symbol import read_symbol
from mxconvert.to_onnx import ExportOptions
from mxconvert.to_onnx.registry import CONVERTERS as ONNX_CONVERTERS
from mxconvert.to_torch import TorchOptions
from mxconvert.to_torch.registry import CONVERTERS as TORCH_CONVERTERS
from conftest import ROOT
from mxcases import S, mx, run_reference

SHAPE = (1, 3, 16, 16)


def _checkpoint(folder: Path) -> str:
    """conv-bn-relu, conv-bn(fix_gamma, stored gamma != 1), PReLU, conv, fc, softmax; random weights."""
    x = S.Activation(S.BatchNorm(S.Convolution(S.var("data"), kernel=(3, 3), pad=(1, 1), num_filter=8, name="conv0"),
                                 fix_gamma=False, name="bn0"), act_type="relu", name="relu0")
    x = S.BatchNorm(S.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=8, name="conv1"), fix_gamma=True,
                    name="bn_fixed")
    x = S.LeakyReLU(x, act_type="prelu", name="prelu0")
    x = S.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=8, name="conv2")
    sym = S.SoftmaxOutput(S.FullyConnected(S.Flatten(x), num_hidden=10, name="fc1"), name="softmax")
    executor = sym.simple_bind(mx.cpu(), data=SHAPE, grad_req="null")
    rng = np.random.default_rng(0)
    arg = {k: mx.nd.array(rng.normal(0, 0.5, size=v.shape)) for k, v in executor.arg_dict.items()
           if k != "data" and not k.endswith("label")}
    arg["bn_fixed_gamma"] = mx.nd.array(rng.uniform(2, 3, size=(8,)))  # MXNet ignores it
    arg["prelu0_gamma"] = mx.nd.array(np.linspace(0.05, 0.9, 8))  # a distinct slope per channel
    aux = {k: mx.nd.array(rng.uniform(0.5, 1.5, size=v.shape)) for k, v in executor.aux_dict.items()}
    prefix = str(folder / "net")
    mx.model.save_checkpoint(prefix, 0, sym, arg, aux)
    np.save(folder / "input.npy", rng.uniform(-1, 1, size=SHAPE).astype(np.float32))
    return prefix


def _convert(prefix: str, folder: Path, shape: tuple[int, ...] = SHAPE) -> dict[str, str]:
    onnx_path, kit, weights = folder / "model.onnx", folder / "kit_model.py", folder / "model.pth"
    graph = load_checkpoint(prefix, 0)
    convert_to_onnx(graph, ExportOptions(input_shape=shape), onnx_path)
    convert_to_pytorch(graph, TorchOptions(input_shape=shape), kit, weights)
    return {"onnx_model": str(onnx_path), "kit_model": str(kit), "pytorch_model": str(weights)}


def _planted_bugs(monkeypatch) -> None:
    """ONNX: BatchNorm reads the stored gamma despite fix_gamma. PyTorch: PReLU slopes rolled by one channel."""
    batch_norm = ONNX_CONVERTERS["BatchNorm"]

    def gamma_kept(ctx, node):
        batch_norm.convert(ctx, dataclasses.replace(node, attrs={**node.attrs, "fix_gamma": False}))

    leaky = TORCH_CONVERTERS["LeakyReLU"]

    def slope_rolled(ctx, node):
        lowering = leaky.convert(ctx, node)
        return dataclasses.replace(lowering, state={"weight": np.roll(lowering.state["weight"], 1)})

    monkeypatch.setitem(ONNX_CONVERTERS, "BatchNorm", dataclasses.replace(batch_norm, convert=gamma_kept))
    monkeypatch.setitem(TORCH_CONVERTERS, "LeakyReLU", dataclasses.replace(leaky, convert=slope_rolled))


def _report(prefix: str, files: dict[str, str], data: np.ndarray, chunk_bytes: int = CHUNK_BYTES
            ) -> LayerReport:
    graph = read_symbol(f"{prefix}-symbol.json")
    reference = MxnetInternals(prefix, 0, data)
    probes = probes_of(graph, reference.shapes)
    targets = {"onnxruntime": OrtInternals(files["onnx_model"], probes),
               "pytorch": TorchInternals(files["kit_model"], files["pytorch_model"], graph)}
    return compare_layers(reference, graph, targets, 1e-5, chunk_bytes, model=Path(prefix).name)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[str, dict[str, str], Path]:
    folder = tmp_path_factory.mktemp("planted")
    prefix = _checkpoint(folder)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _planted_bugs(monkeypatch)
        files = _convert(prefix, folder)
    return prefix, files, folder


def test_planted_bugs_are_named_at_their_node(planted):
    prefix, files, folder = planted
    report = _report(prefix, files, np.load(folder / "input.npy"))
    onnx_first, torch_first = report.first_offender("onnxruntime"), report.first_offender("pytorch")
    assert (onnx_first.node, onnx_first.op) == ("bn_fixed", "BatchNorm")
    assert (torch_first.node, torch_first.op) == ("prelu0", "LeakyReLU")
    assert onnx_first.input_rel_error <= 1e-5 and torch_first.input_rel_error <= 1e-5
    labels = [p.label for p in report.probes]
    for key, first in (("onnxruntime", "bn_fixed"), ("pytorch", "prelu0")):
        before = report.diffs[key][:labels.index(first)]
        assert all(d.rel_error <= 1e-5 for d in before)
    lines = summary(report)
    assert "node bn_fixed (BatchNorm)" in lines[0] and "node prelu0 (LeakyReLU)" in lines[1]


def test_chunked_runs_match_one_pass(planted):
    prefix, files, folder = planted
    data = np.load(folder / "input.npy")
    assert _report(prefix, files, data, chunk_bytes=1).diffs == _report(prefix, files, data).diffs


def test_resnet18_is_flat(zoo_model, tmp_path):
    prefix = zoo_model("resnet-18")
    data = load_input(ROOT / "photo.bmp", (112, 112)).array
    report = _report(prefix, _convert(prefix, tmp_path, data.shape), data)
    for key in ("onnxruntime", "pytorch"):
        assert report.first_offender(key) is None
        assert all(d is not None and d.rel_error <= 1e-5 and d.cosine > 0.99999 for d in report.diffs[key])
    assert [p.node for p in report.probes] == [n.name for n in read_symbol(f"{prefix}-symbol.json").nodes]


def _script(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "compare_layers.py"), *flags], capture_output=True, text=True,
                          timeout=300)


def test_script_end_to_end(planted, tmp_path):
    prefix, files, folder = planted
    common = ["--prefix", prefix, "--epoch", "0", "--input_image", str(folder / "input.npy")]
    targets = [f"--{flag}={path}" for flag, path in files.items()]
    out = tmp_path / "layers"
    result = _script(*common, *targets, "--report", str(out))
    assert result.returncode == 1, result.stderr
    criterion = "first divergent (over 1e-05 and over 4x MXNet's float32 rounding)"
    assert f"ONNX Runtime: {criterion}: node bn_fixed (BatchNorm)" in result.stdout
    assert f"PyTorch: {criterion}: node prelu0 (LeakyReLU)" in result.stdout
    assert "x MXNet's float32 rounding from float64; its inputs were at" in result.stdout
    assert "MXNet f32 vs f64" in result.stdout.splitlines()[1]
    document = json.loads((out / "report.json").read_text())
    assert document["targets"]["onnxruntime"]["first_divergent"]["node"] == "bn_fixed"
    assert document["targets"]["pytorch"]["first_divergent"]["node"] == "prelu0"
    assert document["noise_factor"] == 4 and document["float64_note"] is None
    assert [n["node"] for n in document["nodes"]][:3] == ["conv0", "bn0", "relu0"]
    assert all(n["mxnet_float32_vs_float64"] < 1e-6 for n in document["nodes"])
    assert document["nodes"][0]["onnxruntime"]["fp64_rel_error"] < 1e-6
    assert "bn_fixed" in (out / "report.md").read_text()
    assert (out / "divergence.png").read_bytes().startswith(b"\x89PNG")
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]

    loose = _script(*common, f"--onnx_model={files['onnx_model']}", "--tolerance", "10",
                    "--report", str(tmp_path / "loose"))
    assert loose.returncode == 0, loose.stderr
    assert "ONNX Runtime: flat" in loose.stdout and "PyTorch" not in loose.stdout


@pytest.mark.parametrize("flags, needle", [
    (["--onnx_model", "missing.onnx"], "missing.onnx: no such file"),
    ([], "nothing to compare"),
    (["--kit_model", "kit_model.py"], "go together"),
    (["--onnx_model", "model.onnx", "--input_shape", "1,3,16,16"], "--input_shape takes H,W"),
])
def test_script_bad_input(planted, tmp_path, flags, needle):
    prefix, files, folder = planted
    flags = [str(folder / f) if f.endswith((".onnx", ".py")) else f for f in flags]
    out = tmp_path / "layers"
    result = _script("--prefix", prefix, "--input_image", str(folder / "input.npy"), "--report", str(out), *flags)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert not out.exists()


# ---------------------------------------------------------------- deep nets against MXNet float64

def _he_report(reference_prefix: str, converted_prefix: str, folder: Path, size: int,
               edit_onnx=None) -> LayerReport:
    """Layer report of ``converted_prefix``'s conversions (a copy with a planted bug, or the checkpoint itself)
    against MXNet running ``reference_prefix``, with the float64 noise floor."""
    data = load_input(ROOT / "photo.bmp", (size, size)).array
    if "gluon" in reference_prefix:
        data = (data / 255 - 0.45) / 0.225
    files = _convert(converted_prefix, folder, data.shape)
    if edit_onnx is not None:
        import onnx

        model = onnx.load(files["onnx_model"])
        edit_onnx(model)
        onnx.save(model, files["onnx_model"])
    report = checkpoint_report(reference_prefix, 0, data, **files)
    assert report.float64_note is None
    return report


def _planted_copy(prefix: str, folder: Path, weights=None, node: str | None = None, **attrs: str) -> str:
    """A copy of the checkpoint with ``weights`` (name -> function of the array) changed and ``attrs`` set on
    ``node`` in its symbol."""
    from mxconvert.params import load_params, save_params

    arrays = dict(load_params(f"{prefix}-0000.params"))
    for name, change in (weights or {}).items():
        arrays[f"arg:{name}"] = change(arrays[f"arg:{name}"]).astype(np.float32)
    symbol = json.loads(Path(f"{prefix}-symbol.json").read_text())
    for entry in symbol["nodes"]:
        if entry["name"] == node:
            entry["attrs"].update(attrs)
    copy = folder / "planted"
    Path(f"{copy}-symbol.json").write_text(json.dumps(symbol))
    save_params(f"{copy}-0000.params", arrays)
    return str(copy)


@pytest.mark.parametrize("model, size", [
    ("resnet-50-he", 112), ("gluon-resnet50_v1-he", 112),
    pytest.param("resnet-50-he", 224, marks=pytest.mark.slow),
    pytest.param("gluon-resnet50_v1-he", 224, marks=pytest.mark.slow),
    pytest.param("resnet-152-he", 112, marks=pytest.mark.slow),
    pytest.param("resnet-152-he", 224, marks=pytest.mark.slow),
    pytest.param("gluon-resnet152_v1-he", 112, marks=pytest.mark.slow),
])
def test_clean_deep_conversion_is_flat_against_float64(zoo_model, tmp_path, model, size):
    """Full-scale residual branches: float32 rounding passes 1e-5 of scale deep in the net, in MXNet as in the
    targets; judged against MXNet's float64 result, no node diverges."""
    prefix = zoo_model(model)
    report = _he_report(prefix, prefix, tmp_path, size)
    assert max(report.floors) > 1e-5  # MXNet's own float32 rounding is past the fixed tolerance
    keys = ("onnxruntime", "pytorch")
    # a fixed tolerance would blame a node of one target at least (which one depends on the CPU's kernels)
    assert any(d.rel_error > 1e-5 for key in keys for d in report.diffs[key])
    for key in keys:
        assert report.first_offender(key) is None, summary(report)


PLANTED = {  # a bug at a mid-network node: (fixture, node, the copy's changes, targets that carry it)
    "gamma_x1.5": ("resnet-50-he", "stage3_unit2_bn2", {"weights": {"stage3_unit2_bn2_gamma": lambda g: g * 1.5}},
                   ("onnxruntime", "pytorch")),
    "eps_1e-3": ("resnet-50-he", "stage3_unit3_bn2", {"node": "stage3_unit3_bn2", "eps": "0.001"},
                 ("onnxruntime", "pytorch")),
    "prelu_slope_rolled": ("arcface-r18", "stage3_unit2_relu1",
                           {"weights": {"stage3_unit2_relu1_gamma": lambda g: np.roll(g, 1)}},
                           ("onnxruntime", "pytorch")),
}


@pytest.mark.parametrize("case", sorted(PLANTED))
def test_planted_bug_is_named_at_its_node_against_float64(zoo_model, tmp_path, case):
    model, node, changes, keys = PLANTED[case]
    prefix = zoo_model(model)
    report = _he_report(prefix, _planted_copy(prefix, tmp_path, **changes), tmp_path, 112)
    for key in keys:
        offender = report.first_offender(key)
        assert offender is not None and offender.node == node, summary(report)
        assert offender.floor_ratio > report.noise_factor


def test_planted_pad_off_by_one_is_named_at_its_node(zoo_model, tmp_path):
    """ONNX: one 3x3 convolution padded (2, 0) instead of (1, 1) per axis: same shape, values shifted."""
    def shifted(model):
        (conv,) = [n for n in model.graph.node if n.name == "stage3_unit4_conv2"]
        (pads,) = [a for a in conv.attribute if a.name == "pads"]
        assert list(pads.ints) == [1, 1, 1, 1]
        pads.ints[:] = [2, 2, 0, 0]

    prefix = zoo_model("resnet-50-he")
    report = _he_report(prefix, prefix, tmp_path, 112, edit_onnx=shifted)
    assert report.first_offender("onnxruntime").node == "stage3_unit4_conv2", summary(report)
    assert report.first_offender("pytorch") is None


def test_mtcnn_has_a_float64_floor(zoo_model, tmp_path):
    """MTCNN's P-Net holds SoftmaxActivation, whose MXNet kernel is float32 only: the float64 run computes it as
    softmax (mxconvert.float64_graph), so every node has MXNet's float32 rounding as its floor."""
    prefix = zoo_model("mtcnn-pnet")
    files = _convert(prefix, tmp_path, (1, 3, 12, 12))
    result = _script("--prefix", prefix, "--onnx_model", files["onnx_model"], "--input_image", str(ROOT / "photo.bmp"),
                     "--input_shape", "12,12", "--report", str(tmp_path / "layers"))
    assert result.returncode == 0, result.stderr
    assert "note:" not in result.stdout and "MXNet f32 vs f64" in result.stdout
    document = json.loads((tmp_path / "layers" / "report.json").read_text())
    assert document["float64_note"] is None and document["noise_factor"] == 4


def test_no_float64_falls_back_to_the_fixed_tolerance(zoo_model, tmp_path, monkeypatch):
    """Where MXNet cannot run the graph in float64, the report says so in one line and judges by the fixed
    tolerance."""
    def float32_only(checkpoint, epoch, given, dtype="float32"):
        if dtype == "float64":
            raise MxConvertError("MXNet forward failed: float32 only", "model.params")
        return MxnetInternals(checkpoint, epoch, given, dtype)

    monkeypatch.setattr(divergence, "MxnetInternals", float32_only)
    prefix = zoo_model("mtcnn-pnet")
    files = _convert(prefix, tmp_path, (1, 3, 12, 12))
    report = checkpoint_report(prefix, 0, load_input(str(ROOT / "photo.bmp"), (12, 12)).array,
                               onnx_model=files["onnx_model"])
    notes = [line for line in summary(report) if line.startswith("note:")]
    assert len(notes) == 1 and "MXNet cannot run this graph in float64 (MXNet forward failed: float32 only)" in notes[0]
    assert "judged by the fixed tolerance 1e-05 alone" in notes[0]
    assert report.floors is None and report.first_offender("onnxruntime") is None


def test_fused_batch_norms_pair_with_their_mxnet_nodes(tmp_path):
    """--fuse_bn in both targets: the folding pass records BatchNorm -> Convolution (FOLDED_INTO in the source,
    metadata in the ONNX file) and the layer report compares each folded line with the BatchNorm's output."""
    d = S.var("data")
    x = S.BatchNorm(S.Convolution(d, kernel=(3, 3), pad=(1, 1), num_filter=4, name="conv"), fix_gamma=False, name="bn")
    x = S.BatchNorm(S.Convolution(S.relu(x), kernel=(1, 1), num_filter=3, no_bias=True, name="conv2"), name="bn2")
    ref = run_reference(S.Flatten(x, name="flat"), (2, 3, 6, 6))
    prefix = str(tmp_path / "net")
    mx.model.save_checkpoint(prefix, 0, S.Flatten(x, name="flat"),
                             {k: mx.nd.array(v) for k, v in ref.graph.params.items()},
                             {k: mx.nd.array(v) for k, v in ref.graph.aux.items()})
    files = {"onnx_model": str(tmp_path / "m.onnx"), "kit_model": str(tmp_path / "kit_model.py"),
             "pytorch_model": str(tmp_path / "m.pth")}
    graph = load_checkpoint(prefix, 0)
    convert_to_onnx(graph, ExportOptions(input_shape=ref.data.shape, fuse_bn=True), files["onnx_model"])
    convert_to_pytorch(graph, TorchOptions(input_shape=ref.data.shape, fuse_bn=True), files["kit_model"],
                       files["pytorch_model"])
    source = Path(files["kit_model"]).read_text()
    assert "FOLDED_INTO = {\n    'bn': 'conv',\n    'bn2': 'conv2',\n}" in source and "self.bn " not in source
    report = checkpoint_report(prefix, 0, ref.data, **files)
    for key in ("onnxruntime", "pytorch"):
        compared = {probe.node for probe, diff in zip(report.probes, report.diffs[key]) if diff is not None}
        assert {"bn", "bn2", "flat"} <= compared and not {"conv", "conv2"} & compared
        assert report.first_offender(key) is None
