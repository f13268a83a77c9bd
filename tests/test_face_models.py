"""Face models (ArcFace LResNet-IR, RetinaFace-R50, MTCNN): every output of every converted form matches
real MXNet within 1e-5 x max|output|, on input sizes that are not multiples of the strides."""
from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mxconvert.checkpoint import load_checkpoint
from mxconvert.mxnet_runner import run_mxnet
from mxconvert.onnx_mxnet_backend import OnnxMxnetModel
from mxconvert.zoo.common import sample_images
from conftest import ROOT
from mxcases import assert_close
from test_zoo_parity import onnx_model, onnx_outputs, torch_model, torch_outputs

ARCFACE = ["arcface-r18", "arcface-r34", "arcface-r50", "arcface-r100"]
MTCNN = ["mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet"]
# ArcFace: any side in 97..112 gives the 7x7 map pre_fc1 is built for. RetinaFace at 83x75 crops the
# upsampled map at stride 8 (rows) and stride 16 (columns). P-Net at odd sizes exercises "full" pooling's
# last window; R-Net and O-Net take fixed sizes whose inner maps are odd.
SHAPES = {**{name: (2, 3, 107, 101) for name in ARCFACE}, "retinaface-r50": (1, 3, 83, 75),
          "mtcnn-pnet": (2, 3, 37, 45), "mtcnn-rnet": (2, 3, 24, 24), "mtcnn-onet": (2, 3, 48, 48)}
MIN_COSINE = 0.99999


@functools.lru_cache(maxsize=2)
def reference(prefix: str, shape: tuple[int, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
    data = np.ascontiguousarray(sample_images(shape[0], max(shape[2:]), seed=11)[:, :, :shape[2], :shape[3]])
    return data, run_mxnet(prefix, 0, data)


def check(name: str, expected: list[np.ndarray], actual: list[np.ndarray]) -> None:
    """Every output within 1e-5 of its scale; ArcFace embeddings also point the same way per image."""
    assert_close(expected, actual)
    if name in ARCFACE:
        ref, out = expected[0].astype(np.float64), np.asarray(actual[0], dtype=np.float64)
        cosine = (ref * out).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(out, axis=1)
        assert cosine.min() >= MIN_COSINE, cosine


@pytest.mark.parametrize("name", list(SHAPES))
def test_onnxruntime_matches_mxnet(zoo_model, name):
    prefix = zoo_model(name)
    data, expected = reference(prefix, SHAPES[name])
    check(name, expected, onnx_outputs(prefix, data))


@pytest.mark.parametrize("name", list(SHAPES))
def test_pytorch_matches_mxnet(zoo_model, name):
    prefix = zoo_model(name)
    data, expected = reference(prefix, SHAPES[name])
    check(name, expected, torch_outputs(torch_model(prefix, SHAPES[name]), data))


@pytest.mark.parametrize("name", ["arcface-r18", "retinaface-r50", "mtcnn-pnet", "mtcnn-onet"])
def test_compiled_pytorch_matches_mxnet(zoo_model, name):
    """``--compile``: PReLU, odd-size crops, several outputs and MTCNN's "full" pooling edge, traced per shape."""
    from mxconvert.to_torch.runner import CompiledModel

    prefix = zoo_model(name)
    data, expected = reference(prefix, SHAPES[name])
    check(name, expected, torch_outputs(CompiledModel(torch_model(prefix, SHAPES[name])), data))


@pytest.mark.parametrize("name", ["arcface-r18", "arcface-r100", "retinaface-r50", *MTCNN])
def test_onnx_on_mxnet_matches_mxnet(zoo_model, tmp_path, name):
    prefix = zoo_model(name)
    data, expected = reference(prefix, SHAPES[name])
    path = tmp_path / "model.onnx"
    path.write_bytes(onnx_model(prefix, data).SerializeToString())
    check(name, expected, OnnxMxnetModel(path)(data))


def _nodes(prefix: str) -> list[dict]:
    return json.loads(Path(f"{prefix}-symbol.json").read_text())["nodes"]


def test_arcface_layout_is_insightface(zoo_model):
    """data -> _copy(id) -> -127.5 -> x0.0078125 -> conv0, ..., pre_fc1 -> fc1 (fix_gamma, gamma stored != 1)."""
    prefix = zoo_model("arcface-r18")
    nodes = _nodes(prefix)
    ops = [(node["op"], node["name"]) for node in nodes if node["op"] != "null"]
    assert [op for op, _ in ops[:4]] == ["_copy", "_minus_scalar", "_mul_scalar", "Convolution"]
    assert ops[0][1] == "id" and ops[3][1] == "conv0"
    assert [name for _, name in ops[-4:-1]] == ["bn1", "dropout0", "pre_fc1"] and ops[-1] == ("BatchNorm", "fc1")
    assert nodes[-1]["attrs"]["fix_gamma"] == "True"
    graph = load_checkpoint(prefix, 0)
    assert not np.allclose(graph.params["fc1_gamma"], 1.0)
    assert graph.params["relu0_gamma"].shape == (64,) and abs(graph.params["relu0_gamma"].mean() - 0.25) < 0.05
    assert sum(op == "elemwise_add" for op, _ in ops) == 8
    assert sum(name.endswith("_conv1sc") for _, name in ops) == 4


def test_detector_layouts(zoo_model):
    retina = _nodes(zoo_model("retinaface-r50"))
    ops = {node["name"]: node for node in retina}
    assert {ops[name]["op"] for name in ("ssh_c3_up", "ssh_c2_up")} == {"UpSampling"}
    assert {ops[name]["op"] for name in ("crop0", "crop1")} == {"Crop"}
    assert ops["face_rpn_cls_prob_stride8"]["attrs"]["mode"] == "channel"
    assert ops["face_rpn_cls_score_reshape_stride8"]["attrs"]["shape"] == "(0, 2, -1, 0)"
    pnet = {node["name"]: node for node in _nodes(zoo_model("mtcnn-pnet"))}
    assert pnet["pool1"]["attrs"]["pooling_convention"] == "full"
    assert pnet["slice_bgr"]["op"] == "SliceChannel" and pnet["rgb"]["op"] == "Concat"
    assert len(run_mxnet(zoo_model("mtcnn-onet"), 0, np.zeros((1, 3, 48, 48), np.float32))) == 3


def test_support_table_is_generated_from_the_registries():
    from mxconvert import support_table as table

    faces = {family: table.family_nodes(family) for family in table.FAMILIES if family.short in ("ArcFace", "MTCNN")}
    families = table.families_table(faces).splitlines()
    assert len(families) == 4 and all(row.endswith("| yes (opsets 11–21) | yes |") for row in families[2:])
    ops = table.ops_table(faces)
    assert all(f"| `{op}`" in ops for op in table.ONNX.entries.keys() | table.TORCH.entries.keys())
    assert "| `LeakyReLU` (`_npx_leaky_relu`) | yes | yes¹ | yes | ArcFace; MTCNN |" in ops  # PyTorch's rrelu takes finite bounds only
    assert "| `SliceChannel` (`split`) | yes | yes | yes | MTCNN |" in ops  # the exporter knows it as split
    assert "| `WarpCTC` | yes | yes | no |  |" in ops  # a loss head, converted to its forward
    coverage = table.coverage()
    assert "MXNet 1.9.1 exporter 148, both" in coverage and "`_contrib_box_nms`" not in coverage


def test_run_all_takes_each_model_at_its_own_size(zoo_model, tmp_path):
    """R-Net's fully connected layers fix its input at 24x24; P-Net runs at the shared --input_shape."""
    models = tmp_path / "models"
    models.mkdir()
    for name in ("mtcnn-pnet", "mtcnn-rnet"):
        for suffix in ("-symbol.json", "-0000.params"):
            (models / f"{name}{suffix}").symlink_to(f"{zoo_model(name)}{suffix}")
    command = [sys.executable, str(ROOT / "run_all.py"), "--models_dir", str(models), "--input_shape", "61,47",
               "--model_input_shape", "mtcnn-rnet=24,24", "--format", "json",
               *(f"--{flag}={tmp_path / flag}" for flag in ("onnx_dir", "pytorch_dir", "result_dir")),
               f"--test_mx_onnx={tmp_path / 'onnx.txt'}", f"--test_mx_pytorch={tmp_path / 'torch.txt'}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "result_dir" / "mtcnn-rnet" / "pytorch_1.npy").shape == (1, 4)
    assert np.load(tmp_path / "result_dir" / "mtcnn-pnet" / "onnxruntime.npy").shape == (1, 2, 26, 19)
    assert "from the first layer" not in result.stderr  # the flags win over the checkpoint


def test_run_all_with_no_size_flags_takes_each_size_from_the_checkpoint(zoo_model, tmp_path):
    """No --input_shape, no --model_input_shape: R-Net and O-Net at 24 and 48 (their fully connected layers fix
    them), P-Net at the default, each said on one line; every backend agrees with MXNet."""
    models = tmp_path / "models"
    models.mkdir()
    for name in ("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet"):
        for suffix in ("-symbol.json", "-0000.params"):
            (models / f"{name}{suffix}").symlink_to(f"{zoo_model(name)}{suffix}")
    command = [sys.executable, str(ROOT / "run_all.py"), "--models_dir", str(models), "--format", "json",
               *(f"--{flag}={tmp_path / flag}" for flag in ("onnx_dir", "pytorch_dir", "result_dir")),
               f"--test_mx_onnx={tmp_path / 'onnx.txt'}", f"--test_mx_pytorch={tmp_path / 'torch.txt'}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "from the first layer's weight" in line]
    assert [line.split(" from ")[0] for line in lines] == [
        "mtcnn-onet: input 'data': shape (1, 3, 48, 48)", "mtcnn-pnet: input 'data': shape (1, 3, 112, 112)",
        "mtcnn-rnet: input 'data': shape (1, 3, 24, 24)"]
    assert lines[2].endswith("height and width fixed by the graph: 22 to 25 fit (the default does not), 24 chosen, "
                             "the largest multiple of 8")
    results = tmp_path / "result_dir"
    assert np.load(results / "mtcnn-pnet" / "mxnet.npy").shape == (1, 2, 51, 51)
    for name in ("mtcnn-rnet", "mtcnn-onet"):
        expected = np.load(results / name / "mxnet_1.npy")
        assert expected.shape == (1, 4)
        for backend in ("onnxruntime", "pytorch"):
            np.testing.assert_allclose(np.load(results / name / f"{backend}_1.npy"), expected, rtol=1e-4,
                                       atol=1e-5 * np.abs(expected).max())
