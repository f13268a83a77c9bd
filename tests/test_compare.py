"""Comparison metrics, list-file parsing and the two comparison scripts."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mxconvert import compare
from mxconvert.errors import MxConvertError
from mxconvert.fileio import save_outputs

ROOT = Path(__file__).resolve().parents[1]
ONNX_SCRIPT = ROOT / "outputs_comparison" / "test_mxnet_onnx_outputs.py"
PYTORCH_SCRIPT = ROOT / "outputs_comparison" / "test_mxnet_pytorch_outputs.py"


# ---------------------------------------------------------------- metrics

def test_abs_and_rel_error_known_values() -> None:
    ref = np.array([[1.0, -4.0, 2.0]])
    out = np.array([[1.5, -4.0, 1.0]])
    assert compare.max_abs_error(ref, out) == 1.0
    assert compare.max_rel_error(ref, out) == 0.25  # 1.0 / max|ref| = 1 / 4


def test_rel_error_is_per_image_scale() -> None:
    ref = np.array([[100.0, 0.0], [1.0, 0.0]])
    out = np.array([[100.0, 1.0], [1.0, 0.5]])
    np.testing.assert_allclose(compare.per_image_rel_error(ref, out), [0.01, 0.5])
    assert compare.max_rel_error(ref, out) == 0.5


def test_zero_reference_has_no_nan() -> None:
    zeros = np.zeros((2, 3))
    with np.errstate(all="raise"):
        assert compare.max_rel_error(zeros, zeros) == 0.0
        assert compare.max_rel_error(zeros, zeros + 1) == np.inf
        np.testing.assert_array_equal(compare.cosine_similarity(zeros, zeros), [1.0, 1.0])
        np.testing.assert_array_equal(compare.cosine_similarity(zeros, zeros + 1), [0.0, 0.0])
    metrics = compare.compare_outputs([zeros], [zeros])
    assert metrics.max_rel_error == 0.0 and metrics.min_cosine_similarity == 1.0


@pytest.mark.parametrize("out, expected", [([1.0, 0.0], 1.0), ([0.0, 3.0], 0.0), ([-2.0, 0.0], -1.0),
                                           ([1.0, 1.0], 2 ** -0.5)])
def test_cosine_similarity(out: list[float], expected: float) -> None:
    assert compare.cosine_similarity(np.array([1.0, 0.0]), np.array(out))[0] == pytest.approx(expected)


def test_cosine_similarity_per_row() -> None:
    ref = np.array([[1.0, 0.0], [0.0, 1.0]])
    out = np.array([[2.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(compare.cosine_similarity(ref, out), [1.0, 0.0])
    assert compare.compare_outputs([ref], [out]).min_cosine_similarity == 0.0


def test_topk_agreement() -> None:
    ref = np.array([[5.0, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5]])
    swapped = np.array([[4.0, 5, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5]])  # row 0 top-1 differs, top-2 same set
    assert compare.topk_agreement(ref, ref, 1) == 1.0
    assert compare.topk_agreement(ref, swapped, 1) == 0.5
    assert compare.topk_agreement(ref, swapped, 2) == 1.0
    shifted = np.array([[5.0, 4, 3, 2, 0, 1], [0, 1, 2, 3, 4, 5]])  # row 0 top-5 shares 4 of 5
    assert compare.topk_agreement(ref, shifted, 5) == pytest.approx((4 / 5 + 1) / 2)


def test_topk_only_for_class_scores() -> None:
    embedding = np.arange(4.0).reshape(1, 4)
    metrics = compare.compare_outputs([embedding], [embedding])
    assert metrics.top1_agreement is None and metrics.top5_agreement is None
    scores = np.arange(10.0).reshape(2, 5)
    assert compare.compare_outputs([scores], [scores]).top5_agreement == 1.0


def test_multi_output_worst_case() -> None:
    ref = [np.ones((1, 8)), np.full((1, 3), 2.0)]
    out = [np.ones((1, 8)) + 0.01, np.array([[2.0, 2.0, 3.0]])]
    metrics = compare.compare_outputs(ref, out)
    assert metrics.max_abs_error == 1.0
    assert metrics.max_rel_error == 0.5
    assert metrics.images == 1 and metrics.worst_image is None and metrics.mean_image_rel_error is None


def test_batch_worst_and_mean_image() -> None:
    ref = np.ones((4, 6))
    out = ref.copy()
    out[1, 0] += 0.1
    out[2, 3] += 0.3
    metrics = compare.compare_outputs([ref], [out])
    assert metrics.images == 4 and metrics.worst_image == 2
    assert metrics.max_rel_error == pytest.approx(0.3)
    assert metrics.mean_image_rel_error == pytest.approx(0.1)


def test_nan_output_fails_tolerance() -> None:
    ref = np.ones((1, 6))
    metrics = compare.compare_outputs([ref], [np.full((1, 6), np.nan)])
    result = compare.Result("m", "b", None, metrics, None, mxnet_rounding=1e-6, fp64_rel_error=float("nan"))
    assert not compare.judge(result, 1.0).passed and not compare.judge(result, compare.AUTO).passed


@pytest.mark.parametrize("ref, out, message", [
    ([np.ones(3)], [np.ones(3), np.ones(3)], "2 output(s), but the MXNet model has 1"),
    ([np.ones((1, 3))], [np.ones((1, 4))], "output 0 has shape (1, 4)"),
])
def test_mismatch_is_an_error(ref: list[np.ndarray], out: list[np.ndarray], message: str) -> None:
    with pytest.raises(MxConvertError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compare.compare_outputs(ref, out)


def test_fmt_number_like_the_original() -> None:
    assert compare.fmt_number(3.1292439e-07) == "3.1292439e-07"
    assert compare.fmt_number(0.09271766) == "0.09271766"
    assert compare.fmt_number(None) == "n/a"


# ---------------------------------------------------------------- list files

def _npy(path: Path, *arrays: np.ndarray) -> Path:
    save_outputs(path, list(arrays))
    return path


def test_parse_good_file(tmp_path: Path) -> None:
    for name in ("a/mx.npy", "a/ort.npy", "b c/mx.npy", "b c/onnx.npy"):
        _npy(tmp_path / name, np.zeros(2))
    (tmp_path / "lists").mkdir()
    list_file = tmp_path / "lists" / "onnx.txt"
    list_file.write_text("# header\n\n"
                         "R18  onnxruntime=../a/ort.npy mxnet=../a/mx.npy  # trailing\n"
                         "'My model' mxnet='../b c/mx.npy' onnx_mxnet=\"../b c/onnx.npy\"\n")
    entries = compare.parse_list_file(list_file, compare.ONNX)
    assert [(e.name, e.line) for e in entries] == [("R18", 3), ("My model", 4)]
    assert entries[0].mxnet.resolve() == (tmp_path / "a" / "mx.npy").resolve()
    assert list(entries[0].outputs) == ["onnxruntime"]
    assert entries[1].outputs["onnx_mxnet"].resolve() == (tmp_path / "b c" / "onnx.npy").resolve()


@pytest.mark.parametrize("line, message", [
    ("R18 mxnet=mx.npy foo=mx.npy", "unknown key 'foo'"),
    ("R18 pytorch=mx.npy", "model 'R18' has no mxnet=PATH"),
    ("R18 mxnet=mx.npy", "model 'R18' has no converted output"),
    ("R18 mxnet=mx.npy mxnet=mx.npy pytorch=mx.npy", "duplicate key 'mxnet'"),
    ("R18 mxnet=mx.npy pytorch=gone.npy", "missing file for pytorch=: .*gone.npy"),
    ("R18 mxnet=mx.npy pytorch", "expected KEY=PATH"),
    ("mxnet=mx.npy pytorch=mx.npy", "line must start with a model name"),
    ("R18 mxnet='mx.npy", "cannot split line"),
    ("R18 mxnet=mx.npy pytorch=", "empty path"),
])
def test_parse_bad_line(tmp_path: Path, line: str, message: str) -> None:
    _npy(tmp_path / "mx.npy", np.zeros(2))
    list_file = tmp_path / "list.txt"
    list_file.write_text(f"# comment\n{line}\n")
    with pytest.raises(MxConvertError, match=f"list.txt:2: {message}"):
        compare.parse_list_file(list_file, compare.PYTORCH)


def test_parse_duplicate_model(tmp_path: Path) -> None:
    _npy(tmp_path / "mx.npy", np.zeros(2))
    list_file = tmp_path / "list.txt"
    list_file.write_text("R18 mxnet=mx.npy pytorch=mx.npy\n\nR18 mxnet=mx.npy pytorch=mx.npy\n")
    with pytest.raises(MxConvertError, match=r"list.txt:3: duplicate model 'R18' \(first on line 1\)"):
        compare.parse_list_file(list_file, compare.PYTORCH)


def test_parse_empty_and_missing_list(tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text("# nothing\n")
    with pytest.raises(MxConvertError, match="no models listed"):
        compare.parse_list_file(tmp_path / "list.txt", compare.PYTORCH)
    with pytest.raises(MxConvertError, match="no such file"):
        compare.parse_list_file(tmp_path / "absent.txt", compare.PYTORCH)


# ---------------------------------------------------------------- scripts

@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """R18: a batch of 3 images with two outputs and file names; R34: one 1 x 512 embedding."""
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((3, 10))
    extra = rng.standard_normal((3, 4))
    _npy(tmp_path / "r18" / "mx.npy", scores, extra)
    _npy(tmp_path / "r18" / "ort.npy", scores + 1e-7, extra)
    bumped = extra.copy()
    bumped[1] *= 1.01
    _npy(tmp_path / "r18" / "onnx.npy", scores, bumped)
    (tmp_path / "r18" / "mx.files.txt").write_text("cat.jpg\ndog.jpg\nowl.jpg\n")
    embedding = rng.standard_normal((1, 512))
    _npy(tmp_path / "r34" / "mx.npy", embedding)
    _npy(tmp_path / "r34" / "ort.npy", embedding * (1 + 1e-9))
    (tmp_path / "onnx.txt").write_text(
        "R18 mxnet=r18/mx.npy onnx_mxnet=r18/onnx.npy onnxruntime=r18/ort.npy\n"
        "R34 mxnet=r34/mx.npy onnxruntime=r34/ort.npy\n")
    (tmp_path / "pytorch.txt").write_text("R18 mxnet=r18/mx.npy pytorch=r18/ort.npy\n"
                                          "R34 mxnet=r34/mx.npy pytorch=r34/ort.npy\n")
    return tmp_path


def _run(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_onnx_json_report_and_tolerance(workspace: Path) -> None:
    done = _run(ONNX_SCRIPT, "--test_mx_onnx", "onnx.txt", "--format", "json", "--tolerance", "1e-3",
                cwd=workspace)
    assert done.returncode == 1, done.stderr
    results = {(r["model"], r["backend"]): r for r in json.loads(done.stdout)["results"]}
    assert list(results) == [("R18", "ONNX (MXNet back)"), ("R18", "ONNX Runtime"), ("R34", "ONNX Runtime")]
    onnx = results["R18", "ONNX (MXNet back)"]
    assert onnx["worst_image"] == 1 and onnx["worst_image_file"] == "dog.jpg" and onnx["images"] == 3
    assert onnx["max_rel_error"] == pytest.approx(0.01)
    assert results["R34", "ONNX Runtime"]["top1_agreement"] == 1.0
    assert "R18 ONNX (MXNet back)" in done.stderr and "ONNX Runtime" not in done.stderr
    assert _run(ONNX_SCRIPT, "--test_mx_onnx", "onnx.txt", "--tolerance", "0.02", cwd=workspace).returncode == 0


def test_onnx_table_layout(workspace: Path) -> None:
    done = _run(ONNX_SCRIPT, "--test_mx_onnx", str(workspace / "onnx.txt"), "--format", "markdown", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    header, rule, *rows = done.stdout.splitlines()
    assert header.startswith("| MAX Errors to original <br/>MXNet model output | R18 ONNX (MXNet back) |")
    assert set(rule) == {"|", "-"}
    assert [row.split("|")[1].strip() for row in rows] == [*compare.ROWS, *compare.BATCH_ROWS]
    assert "1 (dog.jpg)" in rows[6] and "n/a" in rows[6]
    assert "+--" in _run(ONNX_SCRIPT, "--test_mx_onnx", "onnx.txt", cwd=workspace).stdout


def test_per_output(workspace: Path) -> None:
    done = _run(ONNX_SCRIPT, "--test_mx_onnx", "onnx.txt", "--per_output", "--format", "json", cwd=workspace)
    labels = [(r["model"], r["backend"], r["output"]) for r in json.loads(done.stdout)["results"]]
    assert labels[:2] == [("R18", "ONNX (MXNet back)", 0), ("R18", "ONNX (MXNet back)", 1)]
    assert len(labels) == 5


def test_pytorch_csv_and_markdown(workspace: Path) -> None:
    done = _run(PYTORCH_SCRIPT, "--test_mx_pytorch", "pytorch.txt", "--format", "csv", cwd=workspace)
    assert done.returncode == 0, done.stderr
    records = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["model"] for r in records] == ["R18", "R34"]
    assert float(records[0]["max_abs_error"]) == pytest.approx(1e-7)
    assert records[1]["worst_image"] == ""
    markdown = _run(PYTORCH_SCRIPT, "--test_mx_pytorch", "pytorch.txt", "--format", "markdown", cwd=workspace)
    header, _, first, second = markdown.stdout.splitlines()
    assert "| Max Absolute error | Max Relative error |" in header
    assert first.startswith("| R18 ") and second.startswith("| R34 ")


def test_script_errors_exit_2(workspace: Path) -> None:
    (workspace / "bad.txt").write_text("R18 mxnet=r18/mx.npy pytorch=r34/ort.npy\n")
    done = _run(PYTORCH_SCRIPT, "--test_mx_pytorch", "bad.txt", cwd=workspace)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "R18 PyTorch: 1 output(s), but the MXNet model has 2" in done.stderr
    missing = _run(PYTORCH_SCRIPT, "--test_mx_pytorch", "absent.txt", cwd=workspace)
    assert missing.returncode == 2 and "absent.txt: no such file" in missing.stderr


def test_mxnet_float64_reference_row(tmp_path: Path) -> None:
    """An optional mxnet_fp64= output shows MXNet's own float32 rounding beside each backend's error."""
    exact = np.array([[1.0, 2.0, 4.0, 0.5, 0.25]])
    _npy(tmp_path / "fp64.npy", exact)
    _npy(tmp_path / "mx.npy", exact + np.array([[0, 0, 4e-6, 0, 0]]))  # MXNet float32: 1e-6 of scale off
    _npy(tmp_path / "ort.npy", exact + np.array([[0, 8e-6, 0, 0, 0]]))
    list_file = tmp_path / "list.txt"
    list_file.write_text("net mxnet=mx.npy mxnet_fp64=fp64.npy onnxruntime=ort.npy\n")
    (result,) = compare.compare_entries(compare.parse_list_file(list_file, compare.ONNX), compare.ONNX, False)
    assert result.mxnet_rounding == pytest.approx(1e-6, rel=1e-6)
    assert result.metrics.max_rel_error == pytest.approx(8e-6 / 4.000004, rel=1e-6)  # against MXNet float32
    assert result.fp64_rel_error == pytest.approx(2e-6, rel=1e-6)  # against MXNet float64
    table = compare.render([result], compare.ONNX, "markdown")
    assert "| MXNet float32 vs float64 " in table and "1e-06" in table
    assert "| Max Relative error vs MXNet float64 " in table and "2e-06" in table
    list_file.write_text("net mxnet=mx.npy mxnet_fp64=fp64.npy\n")
    with pytest.raises(MxConvertError, match="no converted output"):
        compare.parse_list_file(list_file, compare.ONNX)


def _result(error_f32: float, error_f64: float | None, rounding: float | None) -> compare.Result:
    metrics = compare.compare_outputs([np.ones((1, 2))], [np.array([[1.0, 1.0 + error_f32]])])
    return compare.Result("net", "ONNX Runtime", None, metrics, None, rounding, error_f64)


@pytest.mark.parametrize("f32, f64, rounding, passes, reference", [
    (1.2e-4, 3.2e-5, 1.1e-4, True, "MXNet float64"),  # far from MXNet float32, yet nearer float64 than MXNet
    (1.2e-4, 4.5e-4, 1.1e-4, False, "MXNet float64"),  # more than 4x MXNet's own rounding from float64
    (9e-6, 9.5e-6, 1e-8, True, "MXNet float64"),  # tiny rounding: the 1e-5 floor applies
    (2e-5, 2e-5, 1e-8, False, "MXNet float64"),
    (9e-6, None, None, True, "MXNet float32"),  # no float64 result: fixed 1e-5 against MXNet float32
    (2e-5, None, None, False, "MXNet float32"),
])
def test_auto_tolerance_judges_against_float64(f32, f64, rounding, passes, reference) -> None:
    verdict = compare.judge(_result(f32, f64, rounding), compare.AUTO)
    assert verdict.passed is passes and verdict.reference == reference
    fixed = compare.judge(_result(f32, f64, rounding), 1e-5)
    assert fixed.reference == "MXNet" and fixed.error == pytest.approx(f32)


def test_auto_gate_messages(capsys) -> None:
    results = [_result(1.2e-4, 4.5e-4, 1.1e-4), _result(2e-6, None, None)]
    assert compare.gate(results, compare.AUTO) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "note: net has no MXNet float64 result: judged at the fixed 1e-05 against MXNet float32"
    assert err[1].startswith("over tolerance auto: net ONNX Runtime: Max Relative error 0.00045 against MXNet "
                             "float64, allowed 0.00044")
    assert compare.gate(results, compare.AUTO, noise_factor=5) == 0
    assert compare.gate(results, None) == 0


@pytest.mark.parametrize("text, value", [("auto", "auto"), ("1e-4", 1e-4), ("0", 0.0)])
def test_parse_tolerance(text, value) -> None:
    assert compare.parse_tolerance(text) == value


@pytest.mark.parametrize("text", ["-1", "nan", "loose"])
def test_parse_tolerance_rejects(text) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        compare.parse_tolerance(text)
