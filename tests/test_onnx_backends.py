"""The two ONNX backends (onnxruntime, MXNet's own importer fixed at run time) against direct MXNet forward.

MXNet 1.9.1's onnx2mx, with mxconvert's run-time fixes, imports every op our exporter emits at opsets 11-21:
every case of tests/mxcases.py is checked at opsets 11 and 21 (all of 11-21 pass when run by hand); the two
models here run at opsets 11, 13, 17, 18 and 21.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mxcases import (CASE_INPUTS, CASES, DETECTION_IMPORTER_SKIPS, EINSUM_CASES, INDEX_IMPORTER_SKIPS, ONNX_REFUSES, S, assert_close,
                     mx, run_reference)
from mxconvert.errors import MxConvertError
from mxconvert.fileio import load_outputs
from mxconvert.onnx_mxnet_backend import OnnxMxnetModel
from mxconvert.onnx_runtime import OrtModel
from mxconvert.to_onnx import ExportOptions, build_onnx, save_onnx

REPO = Path(__file__).resolve().parents[1]
OPSETS = (11, 13, 17, 18, 21)


def classifier():
    """conv + BatchNorm(fix_gamma) + relu + max pool + fc + SoftmaxOutput."""
    x = S.Convolution(S.var("data"), kernel=(3, 3), num_filter=6, pad=(1, 1), name="conv")
    x = S.BatchNorm(x, fix_gamma=True, name="bn")
    x = S.Activation(x, act_type="relu", name="relu")
    x = S.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", pooling_convention="full", name="pool")
    return S.SoftmaxOutput(S.FullyConnected(x, num_hidden=7, name="fc"), name="softmax")


def multi_output():
    """PReLU, upsampling, crop, a 2-way SliceChannel, concat and reshape; three outputs."""
    x = S.Convolution(S.var("data"), kernel=(3, 3), num_filter=6, pad=(1, 1), name="conv")
    x = S.LeakyReLU(x, act_type="prelu", name="prelu")
    pooled = S.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool")
    up = S.UpSampling(pooled, scale=2, sample_type="nearest", num_args=1, name="up")
    crop = S.Crop(up, h_w=(5, 6), offset=(1, 2), num_args=1, name="crop")
    parts = S.SliceChannel(x, num_outputs=2, axis=1, name="split")
    flat = S.Reshape(S.Concat(parts[1], parts[0], dim=1, name="cat"), shape=(0, -1), name="flat")
    return S.Group([flat, crop, parts[1]])


MODELS = {"classifier": classifier, "multi_output": multi_output}


@pytest.fixture(scope="module", params=sorted(MODELS))
def reference(request):
    if request.param == "multi_output":
        return run_reference(multi_output(), (2, 3, 10, 10), low=0.0, high=255.0)
    # inputs in [0, 1] and a small fc weight keep the softmax far from one-hot: a wrong logit cannot hide
    fc_weight = np.random.default_rng(3).normal(0, 0.005, (7, 150)).astype(np.float32)
    ref = run_reference(classifier(), (2, 3, 10, 10), low=0.0, high=1.0, inputs={"fc_weight": fc_weight})
    assert ref.outputs[0].max() < 0.9, f"saturated softmax: {ref.outputs[0].max()}"
    return ref


def _export(reference, path: Path, opset: int = 13, batch: int | None = None) -> Path:
    shape = (batch or reference.data.shape[0],) + reference.data.shape[1:]
    save_onnx(build_onnx(reference.graph, ExportOptions(input_shape=shape, opset=opset))[0], str(path))
    return path


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("backend", [OrtModel, OnnxMxnetModel])
def test_backend_matches_mxnet(reference, tmp_path, opset, backend):
    model = backend(_export(reference, tmp_path / "m.onnx", opset))
    assert_close(reference.outputs, model(reference.data))


@pytest.mark.parametrize("backend", [OrtModel, OnnxMxnetModel])
def test_fixed_batch_runs_in_chunks(reference, tmp_path, backend):
    model = backend(_export(reference, tmp_path / "m.onnx", batch=1))  # 2 rows through a batch-1 model
    assert_close(reference.outputs, model(reference.data))
    with pytest.raises(MxConvertError, match="does not fit"):
        model(reference.data[:, :, :8])


def _single_node(op: str, inputs: list[str], initializers: dict[str, np.ndarray], in_shape, out_shapes,
                 opset: int, **attrs) -> onnx.ModelProto:
    outputs = [f"y{i}" for i in range(len(out_shapes))]
    graph = helper.make_graph(
        [helper.make_node(op, inputs, outputs, **attrs)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in zip(outputs, out_shapes)],
        [numpy_helper.from_array(value, name) for name, value in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


I64 = np.int64
EDGE_CASES = {
    "clip_without_min": ("Clip", ["x", "", "hi"], {"hi": np.array(0.5, np.float32)}, [(2, 3, 4, 4)], 13, {}),
    "resize_empty_roi": ("Resize", ["x", "", "s"], {"s": np.array([1, 1, 2, 3], np.float32)}, [(2, 3, 8, 12)],
                         13, dict(mode="nearest")),
    "split_uneven": ("Split", ["x", "sizes"], {"sizes": np.array([1, 2], I64)}, [(2, 1, 4, 4), (2, 2, 4, 4)], 13,
                     dict(axis=1)),
    "slice_to_end_two_axes": ("Slice", ["x", "b", "e", "a"], {"b": np.array([1, 1], I64),
                              "e": np.array([np.iinfo(I64).max, 3], I64), "a": np.array([2, 3], I64)},
                              [(2, 3, 3, 2)], 13, {}),
    "softmax_opset11_axis1": ("Softmax", ["x"], {}, [(2, 3, 4, 4)], 11, dict(axis=1)),
    "reduce_mean_default_keepdims": ("ReduceMean", ["x", "axes"], {"axes": np.array([2, 3], I64)},
                                     [(2, 3, 1, 1)], 18, {}),
    "unsqueeze_axes_input": ("Unsqueeze", ["x", "axes"], {"axes": np.array([0, 5], I64)},
                             [(1, 2, 3, 4, 4, 1)], 13, {}),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_importer_fixes_match_onnxruntime(tmp_path, case):
    op, inputs, initializers, out_shapes, opset, attrs = EDGE_CASES[case]
    model = _single_node(op, inputs, initializers, (2, 3, 4, 4), out_shapes, opset, **attrs)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, tmp_path / "m.onnx")
    data = np.random.default_rng(1).normal(size=(2, 3, 4, 4)).astype(np.float32)
    assert_close(OrtModel(tmp_path / "m.onnx")(data), OnnxMxnetModel(tmp_path / "m.onnx")(data), rel=1e-6)


def test_unsupported_resize_is_one_line_error(tmp_path):
    model = _single_node("Resize", ["x", "", "s"], {"s": np.array([1, 1, 1.5, 1.5], np.float32)}, (1, 1, 4, 4),
                         [(1, 1, 6, 6)], 13, mode="linear")
    onnx.save(model, tmp_path / "m.onnx")
    with pytest.raises(MxConvertError, match="cannot import the model: Resize mode=linear"):
        OnnxMxnetModel(tmp_path / "m.onnx")


SCRIPTS = {"onnxruntime_inference.py": "--onnxruntime_model_output",
           "onnx_inference_mxnet_back.py": "--onnx_mx_model_output"}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_script_end_to_end(tmp_path, script):
    reference = run_reference(multi_output(), (2, 3, 10, 10), low=0.0, high=255.0)
    model = _export(reference, tmp_path / "m.onnx")
    np.save(tmp_path / "x.npy", reference.data)
    run = [sys.executable, str(REPO / script), "--input_image", str(tmp_path / "x.npy"), "--input_shape", "10,10"]
    done = subprocess.run(run + ["--onnx_model", str(model), SCRIPTS[script], str(tmp_path / "out.npy")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert_close(reference.outputs, load_outputs(tmp_path / "out.npy"))

    done = subprocess.run(run + ["--onnx_model", str(tmp_path / "missing.onnx"), SCRIPTS[script],
                                 str(tmp_path / "bad.npy")], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "missing.onnx: no such file" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "bad.npy").exists()


PATCHES = sorted((REPO / "patch_files" / "onnx2mx").glob("*.patch"))


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs the patch tool")
@pytest.mark.parametrize("patch", PATCHES, ids=[p.name for p in PATCHES])
def test_patch_applies_to_pristine_mxnet(tmp_path, patch):
    target = tmp_path / "contrib" / "onnx" / "onnx2mx"
    shutil.copytree(Path(os.path.dirname(mx.__file__)) / "contrib" / "onnx" / "onnx2mx", target,
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(patch, "rb") as diff:
        done = subprocess.run(["patch", "--dry-run", "--batch", "-p1", "-d", str(tmp_path)], stdin=diff,
                              capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAILED" not in done.stdout and "offset" not in done.stdout and "fuzz" not in done.stdout


# Cases whose ONNX operators MXNet's importer cannot express (case -> reason)
IMPORTER_SKIPS = {
    "resize_sequence_reverse": "the importer has neither Expand nor GatherElements (per-sequence reversal)",
    **{case: "MXNet's importer has no Einsum" for case in EINSUM_CASES},
    "np_matmul_broadcast": "the importer's MatMul does not broadcast batch axes",
    **{case: "MXNet's importer has no Det" for case in ("np_linalg_det", "np_linalg_det_2d", "np_linalg_slogdet")},
    "np_broadcast_to": "the importer's broadcast_to keeps the rank (NumPy's adds leading axes)",
    "np_squeeze_to_0d": "MXNet's MKLDNN kernels refuse the imported 0-d tensor",
    "np_trace_2d": "the importer's ReduceSum to 0-d gives shape (1,)",
    **{case: "the importer's reductions to 0-d give shape (1,)" for case in (
        "np_all_any", "np_integer_types", "np_reduce_amax", "np_reduce_amin", "np_reduce_max", "np_reduce_mean",
        "np_reduce_min", "np_reduce_prod", "np_reduce_sum", "np_std_var", "np_zero_d_chain")},
    "np_predicates": "the importer has no IsInf",
    "np_around_where": "the importer has no Round",
    **{case: "the importer has no CumSum" for case in (
        "np_average_cumsum", "cumsum", "np_cumsum_float64", "histogram", "histogram_bins", "np_histogram")},
    "allclose": "the importer's reductions to 0-d give shape (1,)",
    "np_bitwise": "the importer has no BitwiseAnd (and ONNX has it from opset 18)",
    "resize_bilinear_one_row_half_pixel": "an output axis of one value with half_pixel samples the middle in ONNX "
                                          "and the first row in MXNet's BilinearResize2D",
}


@pytest.mark.parametrize("opset", [11, 21])
@pytest.mark.parametrize("case", sorted(CASES))
def test_mxnet_importer_covers_every_exporter_case(tmp_path, case, opset):
    if case in IMPORTER_SKIPS:
        pytest.skip(IMPORTER_SKIPS[case])
    if case in ("pool_1d_full", "pool_same_sum", "pool_same_lp2", "pool_same_max_nwc", "pool_same_avg_nwc"):
        pytest.skip("MXNet's Pad runs on 4-D and 5-D data only; exact 1-D full or same pooling pads explicitly")
    if case in ONNX_REFUSES:
        pytest.skip("no ONNX operator computes it (test_onnx_ops asserts that it is refused)")
    if case in INDEX_IMPORTER_SKIPS:
        pytest.skip(INDEX_IMPORTER_SKIPS[case])
    if case in DETECTION_IMPORTER_SKIPS:
        pytest.skip(DETECTION_IMPORTER_SKIPS[case])
    sym, shape = CASES[case]
    reference = run_reference(sym, shape, inputs=CASE_INPUTS.get(case))
    model = OnnxMxnetModel(_export(reference, tmp_path / "m.onnx", opset))
    assert_close(reference.outputs, model(reference.data))
