"""The detection table's matching: every MXNet detection paired with a converted one, ties at the cut allowed,
a missing or misplaced one reported (hand-made detections; real detectors are in test_detection_models)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from mxconvert import detections


def _gluoncv(rows: list[list[float]]) -> list[np.ndarray]:
    """One image's (class, score, x1, y1, x2, y2) rows as GluonCV's three outputs, padded with -1 rows."""
    table = np.full((1, 5, 6), -1.0, np.float32)
    table[0, :len(rows)] = rows
    return [table[..., :1], table[..., 1:2], table[..., 2:]]


MXNET = [[3, 0.9, 10, 10, 50, 60], [1, 0.5, 0, 0, 20, 20], [1, 0.5, 30, 30, 40, 45], [7, 0.2, 5, 5, 9, 9]]


def test_reordered_ties_match_and_misses_count():
    swapped = [MXNET[0], MXNET[2], MXNET[1], [7, 0.20004, 5, 5, 9, 9.0005]]  # tied scores in the other order
    result = detections.match(_gluoncv(MXNET), _gluoncv(swapped))
    assert (result.detections, result.matched, result.missing) == (4, 4, 0)
    assert result.max_score_diff < 5e-5 and abs(result.max_box_diff - 5e-4) < 1e-6 and result.min_iou > 0.99
    shifted = [MXNET[0], MXNET[1], [1, 0.5, 30, 30, 40, 46], MXNET[3]]  # one box a pixel off
    assert detections.match(_gluoncv(MXNET), _gluoncv(shifted)).missing == 1
    cut = [MXNET[0], MXNET[1], [2, 0.5, 30, 30, 40, 45]]  # the last tie went to another detection
    result = detections.match(_gluoncv(MXNET[:3]), _gluoncv(cut))
    assert (result.matched, result.tied_at_cut, result.missing) == (2, 1, 0)


def test_multibox_layout_and_the_script(tmp_path):
    multibox = np.full((1, 4, 6), -1.0, np.float32)
    multibox[0, :len(MXNET)] = MXNET
    assert detections.match([multibox], _gluoncv(MXNET)).matched == 4
    np.save(tmp_path / "mx.npy", multibox)
    worse = multibox.copy()
    worse[0, 0, 1] = 0.8
    np.save(tmp_path / "ort.npy", worse)
    (tmp_path / "onnx.txt").write_text("det mxnet=mx.npy onnxruntime=ort.npy\n")
    (tmp_path / "torch.txt").write_text("det mxnet=mx.npy pytorch=mx.npy\n")
    done = subprocess.run([sys.executable, "outputs_comparison/test_mxnet_detections.py", "--test_mx_onnx",
                           str(tmp_path / "onnx.txt"), "--test_mx_pytorch", str(tmp_path / "torch.txt")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "3 (75.0%)" in done.stdout and "4 (100.0%)" in done.stdout


def test_tolerances_widen_to_mxnet_own_rounding(tmp_path):
    """With MXNet's float64 outputs in the list, the tolerances widen to NOISE_FACTOR times MXNet float32's own
    distance from them: a box 5e-3 off passes where MXNet itself is 2e-3 off, and 1e-2 off does not."""
    exact = _gluoncv(MXNET)
    own = [exact[0], exact[1], exact[2] + np.float32(2e-3)]
    assert detections.rounding_tolerances(own, exact, 4.0) == pytest.approx((1e-4, 8e-3), rel=1e-3)
    for name, arrays in (("fp64.npy", exact), ("mx.npy", own)):
        np.save(tmp_path / name, np.concatenate(arrays, -1))
    rows = np.concatenate(own, -1)
    for name, shift in (("near.npy", 5e-3), ("far.npy", 1e-2)):
        moved = rows.copy()
        moved[0, :len(MXNET), 2:] += np.float32(shift)
        np.save(tmp_path / name, moved)
    for converted, code in (("near.npy", 0), ("far.npy", 1)):
        (tmp_path / "onnx.txt").write_text(f"det mxnet=mx.npy mxnet_fp64=fp64.npy onnxruntime={converted}\n")
        (tmp_path / "torch.txt").write_text("det mxnet=mx.npy pytorch=mx.npy\n")
        done = subprocess.run([sys.executable, "outputs_comparison/test_mxnet_detections.py", "--test_mx_onnx",
                               str(tmp_path / "onnx.txt"), "--test_mx_pytorch", str(tmp_path / "torch.txt")],
                              cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == code, done.stdout + done.stderr
        assert "1.0e-04, 8.0e-03" in done.stdout
