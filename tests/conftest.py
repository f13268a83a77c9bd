"""Shared fixtures: zoo checkpoints are built once per run (across xdist workers) and reused."""
from __future__ import annotations

import fcntl
import os
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
    from mxconvert import zoo, zoo_faces

    prefix = FIXTURES / name
    if Path(f"{prefix}-symbol.json").exists() and Path(f"{prefix}-0000.params").exists():
        return str(prefix)
    if name.endswith("-legacy"):
        zoo.save_legacy_checkpoint(_build(name.removesuffix("-legacy")), 0, str(prefix))
    elif name in zoo_faces.FACE_MODELS:
        zoo_faces.build_face(name, str(FIXTURES), seed=CALIB["seed"], calib_images=CALIB["calib_images"])
    elif name.startswith("gluon-"):
        zoo.build_gluon(name.removeprefix("gluon-"), str(FIXTURES), **CALIB)
    else:
        zoo.build_classic(int(name.removeprefix("resnet-")), str(FIXTURES), **CALIB)
    return str(prefix)


@pytest.fixture(scope="session")
def zoo_model():
    return build_once
