"""run_all.py end to end: a folder of images through all four backends, both tables, list files, exit codes."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import ROOT
from mxconvert.zoo.common import sample_images


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "run_all.py"), "--models_dir", str(tmp_path / "models"),
               "--onnx_dir", str(tmp_path / "onnx"), "--pytorch_dir", str(tmp_path / "torch"),
               "--result_dir", str(tmp_path / "result"), "--test_mx_onnx", str(tmp_path / "lists" / "onnx.txt"),
               "--test_mx_pytorch", str(tmp_path / "lists" / "torch.txt"), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def _json_reports(stdout: str) -> list[dict]:
    """The ONNX report, then the PyTorch report."""
    reports, text = [], stdout.strip()
    while text:
        report, end = json.JSONDecoder().raw_decode(text)
        reports.append(report)
        text = text[end:].strip()
    return reports


def test_folder_through_every_backend(zoo_model, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    prefix = Path(zoo_model("resnet-18"))
    for suffix in ("-symbol.json", "-0000.params"):
        shutil.copy(f"{prefix}{suffix}", models / f"resnet-18{suffix}")
    images = tmp_path / "images"
    images.mkdir()
    pictures = sample_images(3, 72, seed=5)  # natural-looking: noise images push logits far out of range
    for index, picture in enumerate(pictures):
        Image.fromarray(picture.transpose(1, 2, 0).clip(0, 255).astype(np.uint8)).save(images / f"img{index}.png")
    (images / "notes.txt").write_text("not an image")

    result = _run(tmp_path, "--input_image", str(images), "--input_shape", "64,64", "--batch_size", "2",
                  "--format", "json")
    assert result.returncode == 0, result.stderr
    reports = _json_reports(result.stdout)
    backends = {r["backend"] for report in reports for r in report["results"]}
    assert backends == {"ONNX (MXNet back)", "ONNX Runtime", "PyTorch"}
    for report in reports:
        for record in report["results"]:
            assert record["max_rel_error"] <= 1e-5 and record["images"] == 3
    outputs = np.load(tmp_path / "result" / "resnet-18" / "mxnet.npy")
    assert outputs.shape == (3, 1000)
    listing = (tmp_path / "result" / "resnet-18" / "mxnet.files.txt").read_text().split()
    assert listing == ["img0.png", "img1.png", "img2.png"]
    assert "resnet-18" in (tmp_path / "lists" / "onnx.txt").read_text()
    assert "[  8/8]" in result.stderr and result.stderr.count("read the checkpoint") == 1  # once for both targets

    again = _run(tmp_path, "--input_image", str(images), "--input_shape", "64,64", "--tolerance", "0")
    assert again.returncode == 1 and "over tolerance" in again.stderr
    assert "ONNX file is up to date" in again.stderr and "PyTorch files are up to date" in again.stderr
    assert "checkpoint not read" in again.stderr


def test_auto_tolerance_is_the_default_and_judges_against_float64(zoo_model, tmp_path):
    """A deep ResNet with full-scale residual branches: both targets sit past 1e-5 of MXNet float32's output
    (float32 rounding that MXNet has too), yet no further from MXNet's float64 result than MXNet itself, so
    the default --tolerance auto passes what a fixed 1e-5 fails."""
    models = tmp_path / "models"
    models.mkdir()
    prefix = Path(zoo_model("resnet-50-he"))
    for suffix in ("-symbol.json", "-0000.params"):
        shutil.copy(f"{prefix}{suffix}", models / f"resnet-50-he{suffix}")
    result = _run(tmp_path, "--input_image", str(ROOT / "photo.bmp"), "--input_shape", "112,112", "--format", "json")
    assert result.returncode == 0, result.stderr
    records = [r for report in _json_reports(result.stdout) for r in report["results"]]
    assert {r["backend"] for r in records} == {"ONNX (MXNet back)", "ONNX Runtime", "PyTorch"}
    converted = [r for r in records if r["backend"] != "ONNX (MXNet back)"]
    assert all(r["max_rel_error"] > 1e-5 for r in converted)  # a fixed 1e-5 against MXNet float32 fails them
    assert all(r["fp64_rel_error"] <= 4 * r["mxnet_rounding"] for r in records)
    assert np.load(tmp_path / "result" / "resnet-50-he" / "mxnet_fp64.npy").dtype == np.float64  # all its digits
    fixed = subprocess.run([sys.executable, str(ROOT / "outputs_comparison" / "test_mxnet_onnx_outputs.py"),
                            "--test_mx_onnx", str(tmp_path / "lists" / "onnx.txt"), "--tolerance", "1e-5"],
                           capture_output=True, text=True, timeout=120)
    assert fixed.returncode == 1 and "over tolerance 1e-05: resnet-50-he ONNX Runtime" in fixed.stderr


def test_detector_is_judged_as_detections_and_importer_refusal_is_reported(zoo_model, tmp_path):
    """A GluonCV detector: its tensors are tabulated, but it is judged by the detection table (every MXNet
    detection matched); MXNet's ONNX importer cannot take its file, which the run and the table say per model
    instead of stopping."""
    from mxconvert.zoo.common import imagenet_normalise

    models = tmp_path / "models"
    models.mkdir()
    prefix = Path(zoo_model("det-yolo3_mobilenet1.0_voc"))
    for suffix in ("-symbol.json", "-0000.params"):
        (models / f"yolo{suffix}").symlink_to(f"{prefix}{suffix}")
    np.save(tmp_path / "images.npy", imagenet_normalise(sample_images(2, 128, seed=3)))
    result = _run(tmp_path, "--input_image", str(tmp_path / "images.npy"))
    assert result.returncode == 0, result.stderr
    assert "ONNX (MXNet back) did not run yolo: " in result.stdout and "importer" in result.stdout
    assert "# yolo: onnx_mxnet did not run:" in (tmp_path / "lists" / "onnx.txt").read_text()
    rows = [line.split("│") for line in result.stdout.splitlines() if line.startswith("│")]
    detected = [[cell.strip() for cell in row] for row in rows if row[1].strip() == "yolo"]
    assert [row[2] for row in detected] == ["ONNX Runtime", "PyTorch"], result.stdout
    assert all(row[3] == "200" and row[4] == "200 (100.0%)" for row in detected), result.stdout
