"""The test harness itself: per-image tolerances, and fixture checkpoints rebuilt when their builder changes."""
from __future__ import annotations

import subprocess
from pathlib import Path

import conftest
import numpy as np
import pytest
from mxcases import assert_close


def test_assert_close_scales_each_image_by_its_own_maximum():
    """An error of 1e-6 on an image whose values are 1e-3 is 1e-3 of its scale, even beside a larger image."""
    reference = np.stack([np.ones((3, 4), np.float32), np.full((3, 4), 1e-3, np.float32)])
    actual = reference.copy()
    actual[1, 2, 3] += 1e-6
    with pytest.raises(AssertionError, match="image 1"):
        assert_close([reference], [actual])
    assert assert_close([reference], [actual], rel=2e-3) == pytest.approx(1e-3, rel=1e-3)


def test_assert_close_whole_array_without_batch_axis():
    reference = np.array([1.0, 1e-3], np.float32)
    assert assert_close([reference], [reference + np.float32(1e-6)]) == pytest.approx(1e-6, rel=1e-2)


def test_assert_close_zero_image_must_match_exactly():
    reference = np.zeros((2, 3), np.float32)
    reference[0] = 1.0
    assert assert_close([reference], [reference.copy()]) == 0.0
    actual = reference.copy()
    actual[1, 0] = 1e-20
    with pytest.raises(AssertionError, match="inf"):
        assert_close([reference], [actual])


class FakeZoo:
    """Stands in for ``python -m mxconvert.zoo``: writes the files it is asked for unless they exist."""

    def __init__(self) -> None:
        self.runs: list[list[str]] = []

    def __call__(self, command: list[str], **_: object) -> subprocess.CompletedProcess:
        self.runs.append(command)
        out = Path(command[command.index("--out") + 1])
        name = f"resnet-{command[command.index('--depth') + 1]}"
        for prefix in [name, f"{name}-legacy"] if "--legacy" in command else [name]:
            for suffix in ("-symbol.json", "-0000.params"):
                path = out / f"{prefix}{suffix}"
                if not path.exists():
                    path.write_text(f"build {len(self.runs)}")
        return subprocess.CompletedProcess(command, 0, "", "")


@pytest.fixture
def fake_zoo(tmp_path, monkeypatch) -> FakeZoo:
    builders = []
    for source in conftest.ZOO_BUILDERS:
        copy = tmp_path / source.name
        copy.write_bytes(source.read_bytes())
        builders.append(copy)
    monkeypatch.setattr(conftest, "ZOO_BUILDERS", tuple(builders))
    monkeypatch.setattr(conftest, "FIXTURES", tmp_path / "fixtures")
    zoo = FakeZoo()
    monkeypatch.setattr(conftest.subprocess, "run", zoo)
    return zoo


def params_text(name: str) -> str:
    return (conftest.FIXTURES / f"{name}-0000.params").read_text()


def test_fixture_is_reused_while_its_builder_is_unchanged(fake_zoo):
    prefix = conftest.build_once("resnet-18")
    assert conftest.build_once("resnet-18") == prefix and len(fake_zoo.runs) == 1
    assert Path(f"{prefix}.stamp").read_text() == conftest.builder_stamp(["--depth", "18"])


def test_fixture_is_rebuilt_when_builder_source_changes(fake_zoo):
    conftest.build_once("resnet-18")
    with conftest.ZOO_BUILDERS[1].open("a") as source:
        source.write("\n# changed\n")
    conftest.build_once("resnet-18")
    assert len(fake_zoo.runs) == 2 and params_text("resnet-18") == "build 2"


def test_fixture_is_rebuilt_when_calibration_changes(fake_zoo, monkeypatch):
    conftest.build_once("resnet-18")
    monkeypatch.setitem(conftest.CALIB, "calib_images", 8)
    conftest.build_once("resnet-18")
    assert len(fake_zoo.runs) == 2 and "8" in fake_zoo.runs[1]


def test_fixture_without_stamp_is_rebuilt(fake_zoo):
    prefix = conftest.build_once("resnet-18")
    Path(f"{prefix}.stamp").unlink()
    conftest.build_once("resnet-18")
    assert len(fake_zoo.runs) == 2 and params_text("resnet-18") == "build 2"


def test_legacy_copy_keeps_an_up_to_date_base(fake_zoo):
    conftest.build_once("resnet-18")
    conftest.build_once("resnet-18-legacy")
    assert params_text("resnet-18") == "build 1" and params_text("resnet-18-legacy") == "build 2"
    conftest.build_once("resnet-18")
    assert len(fake_zoo.runs) == 2
