"""``run_all.py --tolerance auto`` on whole graphs holding ops MXNet 1.9.1 runs in float32 only: RetinaFace-R50
(``Crop``, ``SoftmaxActivation``), MTCNN's P-Net (``SoftmaxActivation``), fused LSTMs (a Gluon tagger's
``_zeros`` begin states; the zoo's exported LSTM) and a CycleGAN-style generator (``InstanceNorm``, reflection
padding, a transposed convolution). Each gets MXNet's float64 result and every backend passes against it; one
converted weight nudged in both targets then fails every backend, and the layer report (``compare_layers.py``)
finds the nudged node against the same float64 floor."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from conftest import ROOT
from mxconvert.compare import FIXED_TOLERANCE, NOISE_FACTOR
from mxconvert.layers.divergence import checkpoint_report
from mxconvert.mxnet_compat import import_mxnet
from mxconvert.preprocess import load_input
from mxconvert.zoo.common import sample_images
from mxconvert.zoo.sequence import build_sequence, sample_sequence

mx = import_mxnet()
nn = mx.gluon.nn


class _Residual(nn.HybridBlock):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.HybridSequential()
        self.body.add(nn.ReflectionPad2D(1), nn.Conv2D(channels, 3), nn.InstanceNorm(), nn.Activation("relu"),
                      nn.ReflectionPad2D(1), nn.Conv2D(channels, 3), nn.InstanceNorm())

    def hybrid_forward(self, F, x):
        return x + self.body(x)


class _Generator(nn.HybridBlock):
    """CycleGAN's ResNet generator, narrow: 7x7 stem, a stride-2 convolution down, residual blocks, a
    transposed convolution up, a 7x7 tanh head; InstanceNorm after every inner convolution."""

    def __init__(self, width: int = 8, blocks: int = 2):
        super().__init__()
        self.net = nn.HybridSequential()
        self.net.add(nn.ReflectionPad2D(3), nn.Conv2D(width, 7), nn.InstanceNorm(), nn.Activation("relu"),
                     nn.Conv2D(2 * width, 3, strides=2, padding=1), nn.InstanceNorm(), nn.Activation("relu"))
        self.net.add(*(_Residual(2 * width) for _ in range(blocks)))
        self.net.add(nn.Conv2DTranspose(width, 3, strides=2, padding=1, output_padding=1), nn.InstanceNorm(),
                     nn.Activation("relu"), nn.ReflectionPad2D(3), nn.Conv2D(3, 7), nn.Activation("tanh"))

    def hybrid_forward(self, F, x):
        return self.net(x)


class _Tagger(nn.HybridBlock):
    """Per-step class scores from a two-layer bidirectional LSTM: inside a HybridBlock the LSTM's begin states are
    ``_zeros`` nodes of the exported graph."""

    def __init__(self):
        super().__init__()
        self.lstm = mx.gluon.rnn.LSTM(16, num_layers=2, bidirectional=True, input_size=8)
        self.out = nn.Dense(5, flatten=False)

    def hybrid_forward(self, F, x):
        return self.out(self.lstm(x))


def _exported(net: nn.HybridBlock, shape: tuple[int, ...], folder: Path, name: str) -> None:
    """Initialise ``net``, give its InstanceNorm gammas and betas and its biases trained-looking spreads, export."""
    mx.random.seed(0)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros(shape))
    rng = np.random.default_rng(0)
    for key, param in net.collect_params().items():
        if key.endswith("gamma"):
            param.set_data(mx.nd.array(rng.uniform(0.5, 1.5, param.shape)))
        elif key.endswith(("beta", "bias")):
            param.set_data(mx.nd.array(rng.normal(0, 0.1, param.shape)))
    net.hybridize()
    net(mx.nd.zeros(shape))
    net.export(str(folder / name))


def _zoo(name: str) -> Callable[[Path, Callable[[str], str]], None]:
    def link(models: Path, zoo_model: Callable[[str], str]) -> None:
        prefix = zoo_model(name)
        for suffix in ("-symbol.json", "-0000.params"):
            (models / f"{name}{suffix}").symlink_to(f"{prefix}{suffix}")
    return link


def _gluon(name: str, block: Callable[[], nn.HybridBlock], shape: tuple[int, ...]
           ) -> Callable[[Path, Callable[[str], str]], None]:
    def build(models: Path, zoo_model: Callable[[str], str]) -> None:
        with mx.name.NameManager():  # Gluon numbers blocks per process: a fresh count names them alike each time
            net = block()
        _exported(net, shape, models, name)
    return build


def _sequence(name: str) -> Callable[[Path, Callable[[str], str]], None]:
    def build(models: Path, zoo_model: Callable[[str], str]) -> None:
        with mx.name.NameManager():
            build_sequence(name, str(models))
    return build


@dataclass(frozen=True)
class Case:
    build: Callable[[Path, Callable[[str], str]], None]  # writes NAME-symbol.json and NAME-0000.params
    input: Callable[[Path], tuple[list[str], np.ndarray]]  # a folder -> run_all's input flags, the array they load
    node: str  # the node whose converted weight is nudged
    onnx_weight: str  # its name among the ONNX initializers
    torch_weight: str  # its name in model.pth
    nudge: float  # added to the weight's first element
    imported: bool = True  # MXNet's ONNX importer takes the ONNX file (it knows no LSTM)


def _photo(side: tuple[int, int]) -> Callable[[Path], tuple[list[str], np.ndarray]]:
    flags = ["--input_image", str(ROOT / "photo.bmp"), "--input_shape", ",".join(map(str, side))]
    return lambda folder: (flags, load_input(ROOT / "photo.bmp", side).array)


def _array(array: np.ndarray) -> Callable[[Path], tuple[list[str], np.ndarray]]:
    def saved(folder: Path) -> tuple[list[str], np.ndarray]:
        np.save(folder / "input.npy", array)
        return ["--input_image", str(folder / "input.npy")], array
    return saved


CASES = {
    "retinaface-r50": Case(_zoo("retinaface-r50"), _photo((160, 160)), "ssh_c2_aggr", "ssh_c2_aggr_bias",
                           "ssh_c2_aggr.bias", 3e-3),
    "mtcnn-pnet": Case(_zoo("mtcnn-pnet"), _photo((61, 47)), "conv3", "conv3_bias", "conv3.bias", 5e-4),
    "tagger": Case(_gluon("tagger", _Tagger, (5, 2, 8)),
                   _array(np.random.default_rng(1).normal(size=(5, 2, 8)).astype(np.float32)),
                   "lstm0_rnn0", "lstm0_rnn0__l0_B3", "lstm0_rnn0.bias_ih_l0", 2e-3, imported=False),
    "lstm-2x256-bi": Case(_sequence("lstm-2x256-bi"),
                          _array(sample_sequence("lstm-2x256-bi", 2, 5, seed=1)), "lstm0_rnn0",
                          "lstm0_rnn0__l0_B3", "lstm0_rnn0.bias_ih_l0", 1e-2, imported=False),
    "cyclegan": Case(_gluon("cyclegan", _Generator, (1, 3, 32, 32)),
                     _array((sample_images(1, 32, seed=2) / 127.5 - 1).astype(np.float32)),
                     "instancenorm3_fwd", "instancenorm3_beta", "instancenorm3_fwd.bias", 5e-4),
}


def _run_all(tmp_path: Path, flags: list[str], capsys: pytest.CaptureFixture) -> tuple[int, list[dict], str]:
    """run_all.py in this process: its exit code, its JSON records (ONNX suite, then PyTorch) and its stderr."""
    import run_all

    args = run_all.build_parser().parse_args([
        "--models_dir", str(tmp_path / "models"), "--onnx_dir", str(tmp_path / "onnx"),
        "--pytorch_dir", str(tmp_path / "torch"), "--result_dir", str(tmp_path / "result"),
        "--test_mx_onnx", str(tmp_path / "onnx.txt"), "--test_mx_pytorch", str(tmp_path / "torch.txt"),
        "--format", "json", "--tolerance", "auto", *flags])
    code = run_all.main(args)
    out, err = capsys.readouterr()
    records, text = [], out.strip()
    while text:
        report, end = json.JSONDecoder().raw_decode(text)
        records += report["results"]
        text = text[end:].strip()
    return code, records, err


def _nudge(onnx_path: Path, pth_path: Path, case: Case) -> None:
    """``case.nudge`` added to the first element of one weight in both converted files."""
    model = onnx.load(onnx_path)
    tensor = next(t for t in model.graph.initializer if t.name == case.onnx_weight)
    array = numpy_helper.to_array(tensor).copy()
    array.flat[0] += case.nudge
    tensor.CopyFrom(numpy_helper.from_array(array, case.onnx_weight))
    onnx.save(model, onnx_path)
    state = torch.load(pth_path)
    state[case.torch_weight].view(-1)[0] += case.nudge
    torch.save(state, pth_path)


def _bound(record: dict) -> float:
    return max(FIXED_TOLERANCE, NOISE_FACTOR * record["mxnet_rounding"])


@pytest.mark.parametrize("name", CASES)
def test_judged_against_float64_and_a_nudged_weight_fails(name, zoo_model, tmp_path, capsys):
    case = CASES[name]
    (tmp_path / "models").mkdir()
    case.build(tmp_path / "models", zoo_model)
    flags, given = case.input(tmp_path)

    code, records, err = _run_all(tmp_path, flags, capsys)
    assert code == 0, err
    assert "has no MXNet float64 result" not in err and "MXNet cannot run" not in err, err
    expected = {"ONNX Runtime", "PyTorch"} | ({"ONNX (MXNet back)"} if case.imported else set())
    assert {r["backend"] for r in records} == expected
    exact = np.load(tmp_path / "result" / name / "mxnet_fp64.npy")
    assert exact.dtype == np.float64
    for record in records:
        assert 0 < record["mxnet_rounding"] < 1e-4  # MXNet float32 is float64's result, rounded
        assert record["fp64_rel_error"] <= _bound(record), record

    _nudge(tmp_path / "onnx" / f"{name}.onnx", tmp_path / "torch" / name / "model.pth", case)
    code, nudged, err = _run_all(tmp_path, flags, capsys)
    assert code == 1
    assert "converted files are up to date" in err  # the nudged files ran, not fresh conversions
    assert {r["backend"] for r in nudged} == expected
    for record in nudged:
        assert _bound(record) < record["fp64_rel_error"] < 1e-3, record
        assert f"over tolerance auto: {name} {record['backend']}: Max Relative error" in err
    assert err.count("against MXNet float64") == len(nudged)
    report = checkpoint_report(str(tmp_path / "models" / name), 0, given, str(tmp_path / "onnx" / f"{name}.onnx"),
                               str(tmp_path / "torch" / name / "kit_model.py"),
                               str(tmp_path / "torch" / name / "model.pth"))
    assert report.float64_note is None and report.floors is not None
    for key in ("onnxruntime", "pytorch"):
        offender = report.first_offender(key)
        assert offender is not None and offender.node.split(":")[0] == case.node, (key, offender)
