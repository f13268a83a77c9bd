"""The MXNet reference runner against a direct MXNet forward, and the mxnet_inference.py script end to end."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mxconvert.errors import MxConvertError
from mxconvert.mxnet_compat import import_mxnet
from mxconvert.mxnet_runner import MxnetModel, run_mxnet
from mxconvert.preprocess import load_input

mx = import_mxnet()
REPO = Path(__file__).resolve().parents[1]
HW = (16, 16)


def _features():
    data = mx.sym.var("data")
    conv = mx.sym.Convolution(data, num_filter=4, kernel=(3, 3), pad=(1, 1), name="conv")
    bn = mx.sym.BatchNorm(conv, fix_gamma=False, name="bn")
    relu = mx.sym.Activation(bn, act_type="relu", name="relu")
    return mx.sym.Pooling(relu, global_pool=True, kernel=(1, 1), pool_type="avg", name="pool")


def _save(prefix: Path, symbol) -> tuple[dict, dict]:
    """Random parameters for ``symbol`` (labels excluded), saved as checkpoint epoch 0."""
    rng = np.random.RandomState(0)
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1, 3, *HW))
    arg = {name: mx.nd.array(rng.normal(0, 0.05, shape))
           for name, shape in zip(symbol.list_arguments(), arg_shapes)
           if name != "data" and not name.endswith("_label")}
    aux = {name: mx.nd.array(rng.uniform(0.5, 1.5, shape))
           for name, shape in zip(symbol.list_auxiliary_states(), aux_shapes)}
    mx.model.save_checkpoint(str(prefix), 0, symbol, arg, aux)
    return arg, aux


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, tuple[Path, object, dict, dict]]:
    """``classifier``: conv+bn+relu+fc+SoftmaxOutput; ``split``: two outputs from SliceChannel."""
    root = tmp_path_factory.mktemp("models")
    fc = mx.sym.FullyConnected(_features(), num_hidden=5, name="fc")
    split_fc = mx.sym.FullyConnected(_features(), num_hidden=6, name="fc")
    symbols = {"classifier": mx.sym.SoftmaxOutput(fc, name="softmax"),
               "split": mx.sym.SliceChannel(split_fc, num_outputs=2, axis=1, name="slice")}
    return {name: (root / name, symbol, *_save(root / name, symbol)) for name, symbol in symbols.items()}


def _direct_forward(symbol, arg: dict, aux: dict, batch: np.ndarray) -> list[np.ndarray]:
    labels = [name for name in symbol.list_arguments() if name.endswith("_label")]
    module = mx.mod.Module(symbol, data_names=["data"], label_names=labels, context=mx.cpu())
    label_shapes = [(name, batch.shape[:1]) for name in labels] or None
    module.bind(data_shapes=[("data", batch.shape)], label_shapes=label_shapes, for_training=False)
    module.set_params(arg, aux)
    module.forward(mx.io.DataBatch([mx.nd.array(batch)]), is_train=False)
    return [out.asnumpy() for out in module.get_outputs()]


@pytest.mark.parametrize("name, count", [("classifier", 1), ("split", 2)])
def test_run_mxnet_matches_direct_forward(models, name: str, count: int) -> None:
    prefix, symbol, arg, aux = models[name]
    batch = np.random.default_rng(1).uniform(0, 255, (3, 3, *HW)).astype(np.float32)
    outputs = run_mxnet(str(prefix), 0, batch)
    expected = _direct_forward(symbol, arg, aux, batch)
    assert len(outputs) == count
    for got, want in zip(outputs, expected):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)


def test_run_mxnet_errors(models, tmp_path: Path) -> None:
    prefix = str(models["classifier"][0])
    with pytest.raises(MxConvertError, match="cannot run with input data of shape"):
        run_mxnet(prefix, 0, np.zeros((1, 3, 8), np.float32))
    with pytest.raises(MxConvertError, match="no such file"):
        run_mxnet(prefix, 7, np.zeros((1, 3, *HW), np.float32))
    two_inputs = mx.sym.broadcast_add(mx.sym.var("data"), mx.sym.var("extra"))
    mx.model.save_checkpoint(str(tmp_path / "two"), 0, two_inputs, {}, {})
    with pytest.raises(MxConvertError, match="data input 'extra' not given .*inputs: data, extra"):
        run_mxnet(str(tmp_path / "two"), 0, np.zeros((1, 3, *HW), np.float32))
    with pytest.raises(MxConvertError, match="no input named 'other' .*inputs: data, extra"):
        run_mxnet(str(tmp_path / "two"), 0, {"other": np.zeros((1, 3), np.float32)})
    data, extra = np.arange(6, dtype=np.float32).reshape(2, 3), np.array([[10.0], [20.0]], np.float32)
    np.testing.assert_array_equal(run_mxnet(str(tmp_path / "two"), 0, {"data": data, "extra": extra})[0],
                                  data + extra)


def _script(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "mxnet_inference.py", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def _flags(prefix: Path, image: str | Path, output: Path) -> list[str | Path]:
    return ["--prefix", prefix, "--epoch", "0", "--input_image", image,
            "--input_shape", f"{HW[0]},{HW[1]}", "--mxnet_model_output", output]


def test_script_writes_every_output(models, tmp_path: Path) -> None:
    prefix = models["split"][0]
    output = tmp_path / "result" / "mx.npy"
    output.parent.mkdir()
    np.save(output.with_name("mx_2.npy"), np.zeros(1))  # stale file of an earlier three-output model
    done = _script(*_flags(prefix, "photo.bmp", output))
    assert done.returncode == 0, done.stderr
    assert str(output) in done.stdout and done.stdout.count("\n") == 1
    expected = run_mxnet(str(prefix), 0, load_input(REPO / "photo.bmp", HW).array)
    np.testing.assert_array_equal(np.load(output), expected[0])
    np.testing.assert_array_equal(np.load(output.with_name("mx_1.npy")), expected[1])
    assert sorted(p.name for p in output.parent.iterdir()) == ["mx.npy", "mx_1.npy"]


def test_script_folder_in_batches(models, tmp_path: Path) -> None:
    prefix = models["classifier"][0]
    images = tmp_path / "images"
    images.mkdir()
    for name in ("c.bmp", "a.bmp", "b.bmp"):
        (images / name).write_bytes((REPO / "photo.bmp").read_bytes())
    (images / "notes.txt").write_text("skipped")
    output = tmp_path / "mx.npy"
    done = _script(*_flags(prefix, images, output), "--batch_size", "2")
    assert done.returncode == 0, done.stderr
    assert "3/3" in done.stderr
    expected = run_mxnet(str(prefix), 0, load_input(images, HW).array)[0]
    np.testing.assert_allclose(np.load(output), expected, rtol=1e-6)  # MXNet kernels vary with batch size
    assert (tmp_path / "mx.files.txt").read_text() == "a.bmp\nb.bmp\nc.bmp\n"


def _truncate(prefix: Path, tmp_path: Path) -> Path:
    broken = tmp_path / "broken"
    Path(f"{broken}-symbol.json").write_bytes(Path(f"{prefix}-symbol.json").read_bytes())
    Path(f"{broken}-0000.params").write_bytes(Path(f"{prefix}-0000.params").read_bytes()[:100])
    return broken


@pytest.mark.parametrize("case", ["missing params", "truncated params", "unreadable image"])
def test_script_bad_input(models, tmp_path: Path, case: str) -> None:
    prefix = models["classifier"][0]
    image: str | Path = "photo.bmp"
    if case == "missing params":
        prefix = tmp_path / "absent"
        Path(f"{prefix}-symbol.json").write_bytes(Path(f"{models['classifier'][0]}-symbol.json").read_bytes())
    elif case == "truncated params":
        prefix = _truncate(prefix, tmp_path)
    else:
        image = tmp_path / "photo.png"
        image.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    output = tmp_path / "out" / "mx.npy"
    done = _script(*_flags(prefix, image, output))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("mxnet_inference.py: error: ")
    assert not output.exists()


def test_mxnet_float64_reference_computes_float32_creations_in_double(tmp_path):
    """A graph that creates float32 values (``_arange``, ``Cast`` to float32, as GluonCV's anchor grids do) runs
    in float64 with them in double: the result is numpy's float64 one, not one rounded to float32."""
    mx = import_mxnet()
    data = mx.sym.var("data")
    sym = mx.sym.broadcast_add(mx.sym.Cast(data / 3.0, dtype="float32"),
                               mx.sym.arange(start=0, stop=5, dtype="float32") / 7.0)
    mx.model.save_checkpoint(str(tmp_path / "grid"), 0, sym, {}, {})
    x = np.random.default_rng(0).uniform(-1, 1, (2, 5))
    exact = MxnetModel(str(tmp_path / "grid"), 0, dtype="float64")(x)[0]
    assert exact.dtype == np.float64
    assert np.abs(exact - (x / 3.0 + np.arange(5) / 7.0)).max() < 1e-15
    rounded = MxnetModel(str(tmp_path / "grid"), 0)(x.astype(np.float32))[0]
    assert np.abs(rounded - exact).max() > 1e-9  # float32 does round here
