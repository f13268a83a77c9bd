"""MXNet's float64 run (``MxnetModel(dtype="float64")``) of graphs holding ops whose MXNet 1.9.1 CPU kernels are
float32-only (rewritten by ``mxconvert.float64_graph``): the result exists, is MXNet float32's within float32
rounding, and is numpy's float64 value within 1e-12 where MXNet float32 is not."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from mxcases import CASE_INPUTS, CASES
from mxconvert.compare import per_image_rel_error
from mxconvert.layers.divergence import checkpoint_report
from mxconvert.mxnet_compat import import_mxnet
from mxconvert.mxnet_runner import MxnetModel

mx = import_mxnet()
S = mx.sym
d = S.var("data")


def _save(prefix: Path, sym, shape: tuple[int, ...], seed: int = 0, given: dict | None = None
          ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Random float32 weights (``given`` ones as they are) and data, the checkpoint saved as epoch 0."""
    rng = np.random.default_rng(seed)
    given = given or {}
    shapes = {name: value.shape for name, value in given.items()}
    arg_shapes, _, _ = sym.infer_shape(data=shape, **shapes)
    weights = {name: given.get(name, rng.normal(0, 0.5, size).astype(np.float32))
               for name, size in zip(sym.list_arguments(), arg_shapes) if name != "data"}
    weights = {name: rng.uniform(0.5, 1.5, value.shape).astype(np.float32) if name.endswith("gamma") else value
               for name, value in weights.items()}
    mx.model.save_checkpoint(str(prefix), 0, sym, {k: mx.nd.array(v, dtype=v.dtype) for k, v in weights.items()},
                             {})
    return weights, rng.uniform(-1, 1, shape).astype(np.float32)


def _both(prefix: Path, data: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    return MxnetModel(str(prefix))(data), MxnetModel(str(prefix), dtype="float64")(data)


# --- numpy in float64 -------------------------------------------------------------------------------------------
def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _f32(value: float) -> float:
    """A float parameter as MXNet holds it."""
    return float(np.float32(value))


def _crop(x: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    return x[:, :, top:top + height, left:left + width]


def _instance_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    rows = x.reshape(*x.shape[:2], -1)
    mean = rows.mean(axis=2, keepdims=True)
    var = ((rows - mean) ** 2).mean(axis=2, keepdims=True)
    out = (rows - mean) / np.sqrt(var + _f32(eps)) * gamma[:, None] + beta[:, None]
    return out.reshape(x.shape)


def _lrn(x: np.ndarray, size: int, alpha: float, beta: float, knorm: float) -> np.ndarray:
    half = size // 2
    square = np.pad(x ** 2, [(0, 0), (half, half)] + [(0, 0)] * (x.ndim - 2))
    window = sum(square[:, i:i + x.shape[1]] for i in range(size))
    return x * (_f32(knorm) + _f32(alpha) / size * window) ** -_f32(beta)


def _fc(x: np.ndarray, w: dict, name: str) -> np.ndarray:
    return x @ w[f"{name}_weight"].T + w[f"{name}_bias"]


def _heads(packed: np.ndarray, heads: int, count: int) -> list[np.ndarray]:
    """(sequence, batch, heads x count x size) -> ``count`` arrays (batch x heads, sequence, size)."""
    seq, batch = packed.shape[:2]
    split = packed.reshape(seq, batch, heads, count, -1).transpose(3, 1, 2, 0, 4)
    return list(split.reshape(count, batch * heads, seq, -1))


def _scores(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    return q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])


def _weighted(att: np.ndarray, v: np.ndarray, heads: int) -> np.ndarray:
    out = att @ v
    batch = out.shape[0] // heads
    return out.reshape(batch, heads, *out.shape[1:]).transpose(2, 0, 1, 3).reshape(out.shape[1], batch, -1)


def _rnn(x: np.ndarray, params: np.ndarray, mode: str, hidden: int) -> np.ndarray:
    """One unidirectional layer from zero states, MXNet's packed layout: i2h and h2h weights, then biases;
    gates i, f, g, o (LSTM) and r, z, n (GRU)."""
    gates = {"lstm": 4, "gru": 3, "rnn_tanh": 1}[mode]
    rows, features = gates * hidden, x.shape[2]
    w_x = params[:rows * features].reshape(rows, features)
    w_h = params[rows * features:rows * (features + hidden)].reshape(rows, hidden)
    b_x, b_h = params[rows * (features + hidden):].reshape(2, rows)
    h = c = np.zeros((x.shape[1], hidden))
    outputs = []
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for step in x:
        gx, gh = step @ w_x.T + b_x, h @ w_h.T + b_h
        if mode == "lstm":
            i, f, g, o = np.split(gx + gh, 4, axis=1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
        elif mode == "gru":
            (rx, zx, nx), (rh, zh, nh) = np.split(gx, 3, axis=1), np.split(gh, 3, axis=1)
            r, z = sigmoid(rx + rh), sigmoid(zx + zh)
            h = (1 - z) * np.tanh(nx + r * nh) + z * h
        else:
            h = np.tanh(gx + gh)
        outputs.append(h)
    return np.stack(outputs)


# --- the graphs: symbol, data shape, numpy of (data, weights) ---------------------------------------------------
_THIRD = d / 3.0  # a value float32 rounds: a crop of it shows whether the copy is float32's or float64's
_HALF = S.Pooling(d, kernel=(2, 2), stride=(2, 2), name="pool")  # the size a two-input Crop takes


def _pooled(x: np.ndarray) -> tuple[int, int]:
    return x.shape[2] // 2, x.shape[3] // 2


def _selfatt(heads: int, size: int):
    return S.FullyConnected(d, num_hidden=heads * 3 * size, flatten=False, name="proj")


def _encdec(heads: int, size: int):
    queries = S.FullyConnected(d, num_hidden=heads * size, flatten=False, name="q")
    memory = S.slice_axis(d, axis=0, begin=0, end=3)  # a shorter sequence than the queries
    return queries, S.FullyConnected(memory, num_hidden=heads * 2 * size, flatten=False, name="kv")


def _selfatt_valatt(heads: int, size: int):
    qkv = _selfatt(heads, size)
    att = S.softmax(S.contrib.interleaved_matmul_selfatt_qk(qkv, heads=heads), axis=-1)
    return S.contrib.interleaved_matmul_selfatt_valatt(qkv, att, heads=heads, name="valatt")


def _encdec_valatt(heads: int, size: int):
    queries, kv = _encdec(heads, size)
    att = S.softmax(S.contrib.interleaved_matmul_encdec_qk(queries, kv, heads=heads), axis=-1)
    return S.contrib.interleaved_matmul_encdec_valatt(kv, att, heads=heads, name="valatt")


def _np_selfatt_qk(x, w, heads):
    q, k, _ = _heads(_fc(x, w, "proj"), heads, 3)
    return _scores(q, k)


def _np_selfatt_valatt(x, w, heads):
    q, k, v = _heads(_fc(x, w, "proj"), heads, 3)
    return _weighted(_softmax(_scores(q, k), -1), v, heads)


def _np_encdec_qk(x, w, heads):
    (q,), (k, _) = _heads(_fc(x, w, "q"), heads, 1), _heads(_fc(x[:3], w, "kv"), heads, 2)
    return _scores(q, k)


def _np_encdec_valatt(x, w, heads):
    (q,), (k, v) = _heads(_fc(x, w, "q"), heads, 1), _heads(_fc(x[:3], w, "kv"), heads, 2)
    return _weighted(_softmax(_scores(q, k), -1), v, heads)


def _zeros_rnn(mode: str):
    state = {"state": S.zeros(shape=(1, 0, 5), name="h0")}
    if mode == "lstm":
        state["state_cell"] = S.zeros(shape=(1, 0, 5), name="c0")
    return S.RNN(data=d, parameters=S.var("rnn_parameters"), **state, state_size=5, num_layers=1, mode=mode,
                 name="rnn")


REWRITTEN = {
    "crop_offset": (S.Crop(_THIRD, offset=(1, 2), h_w=(3, 3), num_args=1, name="crop"), (2, 2, 6, 7),
                    lambda x, w: _crop(x / 3, 1, 2, 3, 3)),
    "crop_offset_whole_width": (S.Crop(_THIRD, offset=(2, 0), h_w=(4, 7), num_args=1, name="crop"), (1, 3, 6, 7),
                                lambda x, w: _crop(x / 3, 2, 0, 4, 7)),
    "crop_center_odd_spare": (S.Crop(_THIRD, h_w=(3, 4), center_crop=True, num_args=1, name="crop"), (2, 2, 6, 7),
                              lambda x, w: _crop(x / 3, 1, 1, 3, 4)),
    "crop_center_even_spare": (S.Crop(_THIRD, h_w=(2, 2), center_crop=True, num_args=1, name="crop"), (1, 2, 8, 5),
                               lambda x, w: _crop(x / 3, 3, 1, 2, 2)),
    "crop_like": (S.Crop(_THIRD, _HALF, offset=(2, 1), num_args=2, name="crop"), (1, 2, 7, 9),
                  lambda x, w: _crop(x / 3, 2, 1, *_pooled(x))),
    "crop_like_center": (S.Crop(_THIRD, _HALF, center_crop=True, num_args=2, name="crop"), (2, 2, 9, 6),
                         lambda x, w: _crop(x / 3, 2, 1, *_pooled(x))),
    "softmax_activation_instance_4d": (S.SoftmaxActivation(d * 4.0, mode="instance", name="sm"), (2, 3, 4, 5),
                                       lambda x, w: _softmax(4 * x, -1)),
    "softmax_activation_instance_2d": (S.SoftmaxActivation(d * 4.0, name="sm"), (3, 7),
                                       lambda x, w: _softmax(4 * x, -1)),
    "softmax_activation_channel_4d": (S.SoftmaxActivation(d * 4.0, mode="channel", name="sm"), (2, 5, 3, 4),
                                      lambda x, w: _softmax(4 * x, 1)),
    "softmax_activation_channel_3d": (S.SoftmaxActivation(d * 4.0, mode="channel", name="sm"), (2, 4, 6),
                                      lambda x, w: _softmax(4 * x, 1)),
    "instance_norm_eps": (S.InstanceNorm(d, eps=0.01, name="in"), (2, 3, 5, 7),
                          lambda x, w: _instance_norm(x, w["in_gamma"], w["in_beta"], 0.01)),
    "instance_norm_default_eps_1d": (S.InstanceNorm(d, name="in"), (2, 3, 7),
                                     lambda x, w: _instance_norm(x, w["in_gamma"], w["in_beta"], 1e-3)),
    "instance_norm_3d_small_eps": (S.InstanceNorm(d * 0.01, eps=1e-7, name="in"), (1, 3, 3, 4, 5),
                                   lambda x, w: _instance_norm(x * 0.01, w["in_gamma"], w["in_beta"], 1e-7)),
    "lrn_3": (S.LRN(d * 3.0, nsize=3, alpha=0.3, beta=0.6, knorm=1.5, name="lrn"), (2, 7, 3, 4),
              lambda x, w: _lrn(3 * x, 3, 0.3, 0.6, 1.5)),
    "lrn_5_2d": (S.LRN(d * 30.0, nsize=5, name="lrn"), (2, 6),
                 lambda x, w: _lrn(30 * x, 5, 1e-4, 0.75, 2.0)),
    "lrn_1_negative_alpha": (S.LRN(d, nsize=1, alpha=-0.5, beta=1.5, knorm=2.0, name="lrn"), (2, 4, 3, 2),
                             lambda x, w: _lrn(x, 1, -0.5, 1.5, 2.0)),
    **{f"selfatt_qk_{h}x{s}": (S.contrib.interleaved_matmul_selfatt_qk(_selfatt(h, s), heads=h, name="qk"),
                               (5, 3, 4), lambda x, w, h=h: _np_selfatt_qk(x, w, h)) for h, s in ((2, 4), (3, 5))},
    **{f"selfatt_valatt_{h}x{s}": (_selfatt_valatt(h, s), (5, 2, 4), lambda x, w, h=h: _np_selfatt_valatt(x, w, h))
       for h, s in ((2, 4), (1, 6))},
    **{f"encdec_qk_{h}x{s}": (S.contrib.interleaved_matmul_encdec_qk(*_encdec(h, s), heads=h, name="qk"), (5, 2, 4),
                              lambda x, w, h=h: _np_encdec_qk(x, w, h)) for h, s in ((2, 3), (4, 2))},
    **{f"encdec_valatt_{h}x{s}": (_encdec_valatt(h, s), (5, 2, 4), lambda x, w, h=h: _np_encdec_valatt(x, w, h))
       for h, s in ((2, 3), (3, 4))},
    **{f"rnn_zeros_{mode}": (_zeros_rnn(mode), (6, 2, 3),
                             lambda x, w, mode=mode: _rnn(x, w["rnn_parameters"].astype(np.float64), mode, 5))
       for mode in ("lstm", "gru", "rnn_tanh")},
}


@pytest.mark.parametrize("case", REWRITTEN)
def test_float64_run_is_exact(case: str, tmp_path: Path) -> None:
    sym, shape, exact_of = REWRITTEN[case]
    weights, data = _save(tmp_path / "m", sym, shape)
    (f32,), (f64,) = _both(tmp_path / "m", data)
    exact = exact_of(data.astype(np.float64), {k: v.astype(np.float64) for k, v in weights.items()})
    assert f64.dtype == np.float64 and f64.shape == exact.shape == f32.shape
    scale = np.abs(exact).max()
    assert np.abs(f64 - f32).max() <= 1e-5 * scale  # MXNet float32 is this result, rounded
    error64, error32 = (np.abs(out - exact).max() / scale for out in (f64, f32))
    assert error64 <= 1e-12, f"float64 run {error64:.3g} of scale from numpy's float64"
    assert error32 > 1e-10, f"float32 {error32:.3g}: the case cannot tell float32 from float64"


def test_float64_run_rewrites_control_flow_bodies(tmp_path: Path) -> None:
    """A ``_foreach`` body holding ``SoftmaxActivation`` and an ``_arange`` of float32 default dtype runs in
    double as the outer graph does."""
    def step(x, states):
        h = S.broadcast_add(S.SoftmaxActivation(x + states[0], name="sm"), S.arange(start=0, stop=4, name="offsets"))
        return h, [h]

    out, _ = S.contrib.foreach(step, d * 4.0, [S.sum(d, axis=0) * 0.1])
    _, data = _save(tmp_path / "m", out, (3, 2, 4))
    (f32,), (f64,) = _both(tmp_path / "m", data)
    x, exact = data.astype(np.float64), []
    h = 0.1 * x.sum(axis=0)
    for row in 4 * x:
        h = _softmax(row + h, -1) + np.arange(4)
        exact.append(h)
    exact = np.stack(exact)
    assert f64.dtype == np.float64 and f64.shape == exact.shape
    error64, error32 = (np.abs(out - exact).max() / np.abs(exact).max() for out in (f64, f32))
    assert error64 <= 1e-12 and error32 > 1e-10, (error64, error32)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_float64_run_of_a_cond(tmp_path: Path, sign: float) -> None:
    """MXNet types a ``_cond``'s condition float32 whatever the graph's type: cast there, both branches run in
    double."""
    out = S.contrib.cond(S.sum(d) * sign > 0, lambda: S.exp(d) / 3, lambda: S.sin(d) * 7)
    mx.model.save_checkpoint(str(tmp_path / "m"), 0, out, {}, {})  # no weights (MXNet infers no cond's shapes)
    data = np.random.default_rng(0).normal(size=(2, 5)).astype(np.float32)
    (f32,), (f64,) = _both(tmp_path / "m", data)
    x = data.astype(np.float64)
    exact = np.exp(x) / 3 if x.sum() * sign > 0 else np.sin(x) * 7
    assert f64.dtype == np.float64
    error64, error32 = (np.abs(out - exact).max() / np.abs(exact).max() for out in (f64, f32))
    assert error64 <= 1e-12 and error32 > 1e-10, (error64, error32)


# --- ops still run in float32 inside the float64 run, and integer inputs ---------------------------------------
@pytest.mark.parametrize("case", ["det_multibox_detection", "det_proposal_repeats_min_size_scores",
                                  "det_multi_proposal", "nn_deconv3d", "shape_amp_cast_float32",
                                  "softmax_length_axis1", "spatial_sampler_affine_grid", "spatial_grid_warp"])
def test_float64_run_of_the_remaining_float32_kernels(case: str, tmp_path: Path) -> None:
    """Every output exists in float64 and is MXNet float32's within its rounding."""
    sym, shape = CASES[case]
    weights, data = _save(tmp_path / "m", sym, shape, given=CASE_INPUTS.get(case))
    f32, f64 = _both(tmp_path / "m", data)
    assert [out.dtype for out in f64] == [np.float64] * len(f32)
    for single, double in zip(f32, f64):
        assert (per_image_rel_error(double, single) <= 1e-5).all()


def test_layer_report_has_a_float64_floor_at_every_node(tmp_path: Path) -> None:
    """The rewrites keep the nodes' names: the layer report finds every node in the float64 run."""
    features = S.Convolution(d, kernel=(3, 3), num_filter=4, pad=(1, 1), name="conv")
    normed = S.InstanceNorm(features, name="in")
    cropped = S.Crop(normed, h_w=(5, 6), center_crop=True, num_args=1, name="crop")
    sym = S.SoftmaxActivation(S.LRN(cropped, nsize=3, name="lrn"), mode="channel", name="prob")
    _, data = _save(tmp_path / "m", sym, (2, 3, 8, 9))
    report = checkpoint_report(str(tmp_path / "m"), 0, data)
    assert report.float64_note is None
    assert [p.node for p in report.probes] == ["conv", "in", "crop", "lrn", "prob"]
    assert all(0 < floor <= 1e-5 for floor in report.floors), report.floors


# --- run_all and the comparison script ------------------------------------------------------------------------
def _face_like():
    """MTCNN's head: convolutions, SoftmaxActivation over channels, a centre Crop."""
    conv = S.Convolution(d, kernel=(3, 3), num_filter=4, name="conv")
    prob = S.SoftmaxActivation(S.LeakyReLU(conv, act_type="prelu", name="prelu"), mode="channel", name="prob")
    return S.Crop(S.InstanceNorm(prob, name="in"), h_w=(20, 18), center_crop=True, num_args=1, name="crop")


def test_run_all_judges_against_float64_and_fails_a_planted_error(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    _save(models / "face", _face_like(), (1, 3, 24, 24))
    lists = tmp_path / "lists"
    command = [sys.executable, str(ROOT / "run_all.py"), "--models_dir", str(models), "--onnx_dir",
               str(tmp_path / "onnx"), "--pytorch_dir", str(tmp_path / "torch"), "--result_dir",
               str(tmp_path / "result"), "--test_mx_onnx", str(lists / "onnx.txt"), "--test_mx_pytorch",
               str(lists / "torch.txt"), "--input_image", str(ROOT / "photo.bmp"), "--input_shape", "24,24"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "has no MXNet float64 result" not in done.stderr + done.stdout
    assert "cannot run" not in done.stderr + done.stdout
    result = tmp_path / "result" / "face"
    assert np.load(result / "mxnet_fp64.npy").dtype == np.float64

    planted = np.load(result / "onnxruntime.npy")
    planted.flat[7] += 2e-4 * np.abs(planted).max()  # 2e-4 of scale: far past MXNet's own float32 rounding
    shutil.copy(result / "onnxruntime.npy", tmp_path / "kept.npy")
    np.save(result / "onnxruntime.npy", planted)
    judged = subprocess.run([sys.executable, str(ROOT / "outputs_comparison" / "test_mxnet_onnx_outputs.py"),
                             "--test_mx_onnx", str(lists / "onnx.txt"), "--tolerance", "auto"],
                            capture_output=True, text=True, timeout=120)
    assert judged.returncode == 1, judged.stderr
    assert re.search(r"over tolerance auto: face ONNX Runtime.* against MXNet float64", judged.stderr), judged.stderr
    assert "has no MXNet float64 result" not in judged.stderr
