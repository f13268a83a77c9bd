"""Shared fixtures: zoo checkpoints are built once per run (across xdist workers) and reused."""
from __future__ import annotations

import fcntl
import hashlib
import json
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
ZOO_BUILDERS = tuple(ROOT / "mxconvert" / "zoo" / f"{name}.py"
                     for name in ("common", "images", "resnet", "faces", "vision", "video", "detection", "cli"))


def build_once(name: str) -> str:
    """Prefix of zoo model ``name`` (``resnet-18``, ``gluon-resnet18_v1``, ``resnet-18-legacy``,
    ``arcface-r50``, ``vision-densenet121``, ``gluoncv-resnest14``, ``video-c3d_kinetics400``,
    ``depth-posenet_resnet18``, ``det-yolo3_mobilenet1.0_voc``; ``resnet-50-he``: residual branches at full
    scale), built if missing or stale."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with open(FIXTURES / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(name)


def builder_stamp(flags: list[str]) -> str:
    """sha256 of the zoo builders' source and the settings one checkpoint is built with."""
    digest = hashlib.sha256(json.dumps({"flags": flags, "calib": CALIB}, sort_keys=True).encode())
    for builder in ZOO_BUILDERS:
        digest.update(builder.read_bytes())
    return digest.hexdigest()


def _build(name: str) -> str:
    """Build in a child process: calibration's memory (GBs for ResNet-152) is never held by a test worker.
    A checkpoint is reused only while ``<prefix>.stamp`` holds the :func:`builder_stamp` it was built with."""
    from mxconvert.zoo.common import FULL_BRANCH_SUFFIX
    from mxconvert.zoo.faces import FACE_MODELS

    prefix = FIXTURES / name
    base = name.removesuffix("-legacy")
    model = base.removesuffix(FULL_BRANCH_SUFFIX)
    if model in FACE_MODELS:
        flags = ["--face", model]
    elif model.startswith(("vision-", "gluoncv-", "sr-")):
        flags = ["--vision", model]
    elif model.startswith(("video-", "depth-")):
        flags = ["--video", model]
    elif model.startswith("det-"):
        flags = ["--detection", model]
    elif model.startswith("gluon-"):
        flags = ["--gluon", model.removeprefix("gluon-")]
    else:
        flags = ["--depth", model.removeprefix("resnet-")]
    if model != base:
        flags.append("--full-branches")
    # --legacy rebuilds the base checkpoint as well as its 0.x copy: both get their stamps
    stamps = {prefix: builder_stamp(flags)} if base == name else \
        {FIXTURES / base: builder_stamp(flags), prefix: builder_stamp([*flags, "--legacy"])}
    stale = [built for built, stamp in stamps.items() if not _current(built, stamp)]
    if prefix not in stale:
        return str(prefix)
    for built in stale:  # the builder skips existing files; an up-to-date base stays untouched
        for path in (f"{built}-symbol.json", f"{built}-0000.params", f"{built}.stamp"):
            Path(path).unlink(missing_ok=True)
    legacy = ["--legacy"] if base != name else []
    options = ["--seed", str(CALIB["seed"]), "--calib-size", str(CALIB["calib_size"]),
               "--calib-images", str(CALIB["calib_images"])]
    done = subprocess.run([sys.executable, "-m", "mxconvert.zoo", *flags, *legacy, "--out", str(FIXTURES),
                           *options], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building fixture {name} failed:\n{done.stderr[-3000:]}")
    for built in stale:
        Path(f"{built}.stamp").write_text(stamps[built])
    return str(prefix)


def _current(prefix: Path, stamp: str) -> bool:
    """Both checkpoint files of ``prefix`` exist and were built with ``stamp``."""
    stamp_path = Path(f"{prefix}.stamp")
    return (Path(f"{prefix}-symbol.json").exists() and Path(f"{prefix}-0000.params").exists()
            and stamp_path.exists() and stamp_path.read_text() == stamp)


@pytest.fixture(scope="session")
def zoo_model():
    return build_once
