"""Shared fixtures: zoo checkpoints are built once per run (across xdist workers) and reused."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

FIXTURES = Path(os.environ.get("MXCONVERT_FIXTURES", ROOT / "build" / "fixtures"))
CALIB = {"seed": 0, "calib_size": 112, "calib_images": 16}


def build_once(name: str) -> str:
    """Prefix of zoo model ``name`` (``resnet-18``, ``gluon-resnet18_v1``, ``resnet-18-legacy``,
    ``arcface-r50``), built if missing."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with open(FIXTURES / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(name)


def _build(name: str) -> str:
    """Build in a child process: calibration's memory (GBs for ResNet-152) is never held by a test worker."""
    from mxconvert.zoo_faces import FACE_MODELS

    prefix = FIXTURES / name
    if Path(f"{prefix}-symbol.json").exists() and Path(f"{prefix}-0000.params").exists():
        return str(prefix)
    base = name.removesuffix("-legacy")
    legacy = ["--legacy"] if base != name else []
    if base in FACE_MODELS:
        flags = ["--face", base]
    elif base.startswith("gluon-"):
        flags = ["--gluon", base.removeprefix("gluon-"), *legacy]
    else:
        flags = ["--depth", base.removeprefix("resnet-"), *legacy]
    options = ["--seed", str(CALIB["seed"]), "--calib-size", str(CALIB["calib_size"]),
               "--calib-images", str(CALIB["calib_images"])]
    done = subprocess.run([sys.executable, "-m", "mxconvert.zoo", *flags, "--out", str(FIXTURES), *options],
                          cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building fixture {name} failed:\n{done.stderr[-3000:]}")
    return str(prefix)


@pytest.fixture(scope="session")
def zoo_model():
    return build_once
