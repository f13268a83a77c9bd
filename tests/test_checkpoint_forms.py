"""Checkpoints as people store them, converted with no --input_shape: the shape comes from the checkpoint
(``__shape__``, a shapes file, the first layer's weight), archives and Gluon params files are read as they are;
every converted output is checked against MXNet's on the same checkpoint."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from conftest import ROOT
from mxcases import S, mx
from mxconvert import api
from mxconvert.errors import MxConvertError
from mxconvert.inputs import resolve_input_shape
from mxconvert.mxnet_runner import MxnetModel

gluon = mx.gluon
RNG = np.random.default_rng(0)


def save_module(prefix: Path, sym, shapes: dict) -> Path:
    executor = sym.simple_bind(mx.cpu(), grad_req="null", **shapes)
    arg = {k: mx.nd.array(RNG.normal(size=v.shape) * 0.5) for k, v in executor.arg_dict.items()
           if k not in shapes and not k.endswith("label")}
    aux = {k: mx.nd.array(RNG.uniform(0.5, 1.5, size=v.shape)) for k, v in executor.aux_dict.items()}
    mx.model.save_checkpoint(str(prefix), 0, sym, arg, aux)
    return prefix


def mlp():
    x = S.Activation(S.FullyConnected(S.var("data"), num_hidden=9, name="fc1"), act_type="relu")
    return S.LinearRegressionOutput(S.FullyConnected(x, num_hidden=2, name="fc2"), name="lro")


def convnet():
    x = S.BatchNorm(S.var("data"), fix_gamma=True, name="bn_data")
    x = S.Convolution(x, kernel=(3, 3), num_filter=4, pad=(1, 1), name="conv0")
    x = S.Pooling(S.Activation(x, act_type="relu"), kernel=(1, 1), global_pool=True, pool_type="avg")
    return S.SoftmaxOutput(S.FullyConnected(S.Flatten(x), num_hidden=5, name="fc1"), name="softmax")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("forms")


@pytest.fixture(scope="module")
def mlp_prefix(folder) -> Path:
    return save_module(folder / "mlp", mlp(), {"data": (1, 4)})


@pytest.fixture(scope="module")
def conv_prefix(folder) -> Path:
    return save_module(folder / "conv", convnet(), {"data": (1, 3, 8, 8)})


def onnx_matches_mxnet(checkpoint, graph, shape_lines_expected: str | None = None) -> tuple:
    """Convert with no input shape; run ONNX Runtime and MXNet on the same random input; the shape chosen."""
    shapes, lines = resolve_input_shape(graph, None)
    if shape_lines_expected is not None:
        assert any(shape_lines_expected in line for line in lines), lines
    model = api.to_onnx(graph)
    session = ort.InferenceSession(model.SerializeToString())
    feeds = {name: RNG.uniform(-1, 1, size=shape).astype(np.float32) for name, shape in shapes.items()}
    expected = MxnetModel(checkpoint)(feeds)
    got = session.run(None, feeds)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=1e-5 * np.abs(expected[0]).max())
    return shapes


def script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / name), *args], capture_output=True, text=True, timeout=180)


# --- item 3: the input shape from the checkpoint ---------------------------------------------------------------

def test_mlp_from_the_first_layer_by_script(mlp_prefix, tmp_path):
    """The issue's case: --prefix alone on an MLP regressor; the line says what was chosen and why."""
    out = tmp_path / "m.onnx"
    done = script("mxnet2onnx.py", "--prefix", str(mlp_prefix), "--onnx_model", str(out),
                  "--conversion_log", str(tmp_path / "log.txt"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == ("input 'data': shape (1, 4) from the first layer's weight "
                                          "(FullyConnected 'fc1' has 4 input features)")
    rows = RNG.normal(size=(1, 4)).astype(np.float32)
    got = ort.InferenceSession(str(out)).run(None, {"data": rows})[0]
    np.testing.assert_allclose(got, MxnetModel(str(mlp_prefix))(rows)[0], rtol=1e-5, atol=1e-6)


def test_convolution_channels_with_free_image_size(conv_prefix):
    graph = api.load(str(conv_prefix))
    shapes = onnx_matches_mxnet(str(conv_prefix), graph, "(Convolution 'conv0' takes 3 channels); height and "
                                                         "width free")
    assert shapes == {"data": (1, 3, 224, 224)}


def legacy_json(sym, shape: str) -> str:
    """``sym`` as MXNet 0.x wrote it: ``param`` for op attributes, ``attr`` for annotations (``__shape__``)."""
    doc = json.loads(sym.tojson())
    for node in doc["nodes"]:
        node["param"] = node.pop("attrs", {})
        node["inputs"] = [ref[:2] for ref in node["inputs"]]
        if node["name"] == "data":
            node["attr"] = {"__shape__": shape}
    doc.pop("attrs", None)
    doc["heads"] = [ref[:2] for ref in doc["heads"]]
    return json.dumps(doc)


def test_shape_attribute_of_mxnet_0x_json(conv_prefix, folder):
    """A 0.x symbol (``param``/``attr``) whose data variable states ``__shape__``: that shape, over any default."""
    prefix = folder / "legacy"
    Path(f"{prefix}-symbol.json").write_text(legacy_json(convnet(), "(2, 3, 10, 10)"))
    Path(f"{prefix}-0000.params").write_bytes(Path(f"{conv_prefix}-0000.params").read_bytes())
    graph = api.load(str(prefix))
    shapes = onnx_matches_mxnet(str(prefix), graph, "from the symbol's __shape__ attribute")
    assert shapes == {"data": (2, 3, 10, 10)}


def test_fixed_size_is_searched(folder):
    """Flatten into a FullyConnected fixes height and width: 12 and 13 fit, no multiple of 8 among them, so the
    smallest, said so."""
    x = S.Pooling(S.Convolution(S.var("data"), kernel=(3, 3), num_filter=2, name="conv0"), kernel=(2, 2),
                  stride=(2, 2), pool_type="max")
    prefix = save_module(folder / "fixed", S.FullyConnected(S.Flatten(x), num_hidden=3, name="fc"),
                         {"data": (1, 1, 12, 12)})
    graph = api.load(str(prefix))
    shapes = onnx_matches_mxnet(str(prefix), graph, "fixed by the graph: 12 to 13 fit (the default does not), "
                                                         "12 chosen, the smallest")
    assert shapes == {"data": (1, 1, 12, 12)}


def test_gluon_export_rnn_and_embedding(folder):
    """Gluon's exported LSTM (NTC: a swapaxes before the fused RNN, weights packed in the graph) and an
    Embedding: input features and token ids from the first layer."""
    class Net(gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            self.lstm = gluon.rnn.LSTM(6, layout="NTC", input_size=5)
            self.out = gluon.nn.Dense(2, flatten=False)

        def hybrid_forward(self, F, x):
            return self.out(self.lstm(x))

    for name, net, shape, expected in (
            ("lstm", Net(), (1, 7, 5), "(1, 32, 5)"),
            ("emb", gluon.nn.HybridSequential(), (1, 6), "(1, 32)")):
        if name == "emb":
            net.add(gluon.nn.Embedding(20, 4), gluon.nn.Dense(3, flatten=False))
        net.initialize(mx.init.Normal(0.5))
        net.hybridize()
        data = mx.nd.array(RNG.integers(0, 20, size=shape) if name == "emb" else RNG.normal(size=shape))
        net(data)
        net.export(str(folder / name))
        graph = api.load(str(folder / name))
        shapes, lines = resolve_input_shape(graph, None)
        assert expected in lines[0], lines
        feeds = {name_: (RNG.integers(0, 20, size=s) if name == "emb" else RNG.normal(size=s)).astype(np.float32)
                 for name_, s in shapes.items()}
        got = ort.InferenceSession(api.to_onnx(graph).SerializeToString()).run(None, feeds)[0]
        np.testing.assert_allclose(got, MxnetModel(str(folder / name))(feeds)[0], rtol=1e-5, atol=1e-5)


def test_nothing_decides_exits_2(folder, tmp_path):
    prefix = save_module(folder / "summed", S.FullyConnected(S.sum(S.var("data"), axis=1, name="total"), num_hidden=2, name="fc"),
                         {"data": (1, 3, 4)})
    done = script("mxnet2pytorch.py", "--prefix", str(prefix), "--kit_model", str(tmp_path / "k.py"),
                  "--pytorch_model", str(tmp_path / "m.pth"))
    assert done.returncode == 2 and not list(tmp_path.iterdir()), done.stderr
    assert done.stderr.strip() == ("mxnet2pytorch.py: error: input 'data': no --input_shape given and the checkpoint "
                                   "does not fix its shape (it feeds sum 'total'); give it with --input_shape "
                                   "data=SHAPE")


# --- item 4: archives, shapes files, Gluon params files ----------------------------------------------------------

def tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def mar(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def files_of(prefix: Path, name: str = "model") -> dict[str, bytes]:
    return {f"{name}-symbol.json": Path(f"{prefix}-symbol.json").read_bytes(),
            f"{name}-0000.params": Path(f"{prefix}-0000.params").read_bytes()}


def test_sagemaker_tar_gz_with_shapes_file(conv_prefix, folder, tmp_path):
    """A SageMaker model.tar.gz: the shapes file decides the input; MXNet and ONNX read the same archive."""
    shapes = json.dumps([{"name": "data", "shape": [1, 3, 16, 16]}]).encode()
    archive = tar_gz(folder / "model.tar.gz", {**files_of(conv_prefix), "model-shapes.json": shapes})
    graph = api.load(str(archive))
    assert onnx_matches_mxnet(str(archive), graph, "from model-shapes.json") == {"data": (1, 3, 16, 16)}
    out = tmp_path / "m.onnx"
    done = script("mxnet2onnx.py", "--prefix", str(archive), "--onnx_model", str(out), "--conversion_log",
                  str(tmp_path / "log.txt"))
    assert done.returncode == 0 and "model.tar.gz:model-symbol.json" in (tmp_path / "log.txt").read_text()


def test_model_server_mar_with_signature(mlp_prefix, folder):
    manifest = {"runtime": "python", "model": {"modelName": "mlp", "serializedFile": "mlp-0000.params",
                                               "handler": "mxnet_vision_service:handle"}}
    signature = {"inputs": [{"data_name": "data", "data_shape": [0, 4]}], "input_type": "application/json"}
    archive = mar(folder / "mlp.mar", {"MAR-INF/MANIFEST.json": json.dumps(manifest).encode(),
                                       **files_of(mlp_prefix, "mlp"), "signature.json": json.dumps(signature).encode(),
                                       "mxnet_vision_service.py": b"pass\n"})
    graph = api.load(str(archive))
    assert onnx_matches_mxnet(str(archive), graph, "from signature.json") == {"data": (1, 4)}


def gluon_net():
    net = gluon.nn.HybridSequential()
    with net.name_scope():  # the children's names start with the network's prefix, which save_params strips
        net.add(gluon.nn.Conv2D(4, 3, padding=1), gluon.nn.BatchNorm(), gluon.nn.Activation("relu"),
                gluon.nn.GlobalAvgPool2D(), gluon.nn.Dense(3))
    net.initialize(mx.init.Normal(0.5))
    net.hybridize()
    net(mx.nd.array(RNG.normal(size=(2, 3, 8, 8))))
    for name, param in net.collect_params().items():  # moving statistics away from their initial values
        if "running" in name:
            param.set_data(mx.nd.array(RNG.uniform(0.5, 1.5, size=param.shape)))
    return net


@pytest.mark.filterwarnings("ignore:save_params is deprecated")
@pytest.mark.parametrize("save", ["collect_params", "save_params", "save_parameters"])
def test_gluon_params_beside_an_exported_symbol(save, folder):
    net = gluon_net()
    prefix = folder / f"gluon-{save}"
    net.export(str(prefix))
    params = folder / f"{save}.params"
    {"collect_params": lambda: net.collect_params().save(str(params)),
     "save_params": lambda: net.save_params(str(params)),
     "save_parameters": lambda: net.save_parameters(str(params))}[save]()
    stored = mx.nd.load(str(params))
    assert not any(name.startswith(("arg:", "aux:")) for name in stored)
    assert any("." in name for name in stored) == (save == "save_parameters")
    files = api.CheckpointPaths(f"{prefix}-symbol.json", str(params))
    graph = api.load(*files)
    onnx_matches_mxnet(files, graph)
    exported = api.load(str(prefix))
    for name, array in exported.params.items():
        np.testing.assert_array_equal(graph.params[name], array)


def test_save_parameters_in_another_order_is_refused(folder):
    """Children registered in another order than the graph uses them: refused, naming the disagreement."""
    class Swapped(gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            self.second = gluon.nn.Dense(3, in_units=8)
            self.first = gluon.nn.Dense(8, in_units=4)

        def hybrid_forward(self, F, x):
            return self.second(self.first(x))

    net = Swapped()
    net.initialize()
    net.hybridize()
    net(mx.nd.ones((1, 4)))
    net.export(str(folder / "swapped"))
    net.save_parameters(str(folder / "swapped.params"))
    with pytest.raises(MxConvertError, match=r"swapped.params: Gluon save_parameters names matched to the symbol "
                                             r"by order give weights that do not fit it \(.*HybridBlock.export"):
        api.load(f"{folder / 'swapped'}-symbol.json", str(folder / "swapped.params"))


def test_gluonts_own_form_names_the_symbol_export(folder, tmp_path):
    predictor = folder / "predictor"
    predictor.mkdir()
    (predictor / "prediction_net-network.json").write_text(json.dumps(
        {"__kind__": "instance", "class": "gluonts.model.deepar._network.DeepARPredictionNetwork", "kwargs": {}}))
    (predictor / "prediction_net-0000.params").write_bytes(b"")
    (predictor / "type.txt").write_text("gluonts.model.predictor.RepresentableBlockPredictor")
    for flag in (str(predictor), str(predictor / "prediction_net")):
        done = script("mxnet2onnx.py", "--prefix", flag, "--onnx_model", str(tmp_path / "m.onnx"))
        assert done.returncode == 2 and not list(tmp_path.iterdir()), done.stderr
        line = done.stderr.strip()
        assert "\n" not in line and "GluonTS predictor serialized in GluonTS's own form" in line, line
        assert "as_symbol_block_predictor(dataset=...).serialize(path)" in line, line
    assert "(gluonts.model.deepar._network.DeepARPredictionNetwork)" in line
