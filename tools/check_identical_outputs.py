"""Check that a refactoring changes no generated file: convert a fixed set of zoo models (and one control-flow
checkpoint) to ONNX and to ``kit_model.py`` and compare the files' sha256 with a manifest.

    python tools/check_identical_outputs.py --record   # on the commit taken as the reference: write the manifest
    python tools/check_identical_outputs.py            # after the change: exit 1 on any difference

The checkpoints are built once into ``--work`` (default ``build/identical``; an existing checkpoint there is
reused) and their own hashes are in the manifest too, so that a difference in a checkpoint is told apart from a
difference in a conversion. Image models come from the zoo's command line as the tests build them (same seed and
calibration as ``tests/conftest.py``); ``--fixtures`` names a folder of checkpoints already built that way.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
from manifests import Hashes, run_check  # noqa: E402

MANIFEST = ROOT / "tools" / "identical_outputs.json"
CALIB = ["--seed", "0", "--calib-size", "112", "--calib-images", "16"]

# name -> (zoo command line flags or builder, input shapes, dynamic axes)
IMAGE_MODELS = {
    "resnet-18": ["--depth", "18"],
    "gluoncv-mobilenetv3_small": ["--vision", "gluoncv-mobilenetv3_small"],
    "sr-espcn": ["--vision", "sr-espcn"],
    "det-ssd_512_mobilenet1.0_voc": ["--detection", "det-ssd_512_mobilenet1.0_voc"],
    "det-yolo3_mobilenet1.0_voc": ["--detection", "det-yolo3_mobilenet1.0_voc"],
}
NLP_MODELS = ("bert", "transformer-nmt", "awd-lstm")
SEQUENCE_MODELS = ("lstm-2x256-bi",)
TRACKING_MODELS = ("siamrpn_alexnet_v2_otb15",)
CONTROL_FLOW = "foreach-cell"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checkpoint_hash(prefix: str) -> str:
    return _sha(Path(f"{prefix}-symbol.json").read_bytes() + Path(f"{prefix}-0000.params").read_bytes())


def _exists(prefix: Path) -> bool:
    return Path(f"{prefix}-symbol.json").exists() and Path(f"{prefix}-0000.params").exists()


def _image_checkpoint(name: str, work: Path, fixtures: Path | None) -> str:
    prefix = work / name
    if not _exists(prefix) and fixtures is not None and _exists(fixtures / name):
        for suffix in ("-symbol.json", "-0000.params"):
            shutil.copyfile(f"{fixtures / name}{suffix}", f"{prefix}{suffix}")
    if not _exists(prefix):
        subprocess.run([sys.executable, "-m", "mxconvert.zoo", *IMAGE_MODELS[name], "--out", str(work), *CALIB],
                       cwd=ROOT, check=True, capture_output=True)
    return str(prefix)


def _control_flow_checkpoint(work: Path) -> str:
    """An Elman cell stepped by ``_foreach`` over ``data``, its weights closed over."""
    import mxnet as mx
    import numpy as np

    prefix = work / CONTROL_FLOW
    if _exists(prefix):
        return str(prefix)
    S = mx.sym
    i2h_w, i2h_b, h2h_w = S.var("i2h_weight"), S.var("i2h_bias"), S.var("h2h_weight")

    def step(x, states):
        i2h = S.FullyConnected(x, weight=i2h_w, bias=i2h_b, num_hidden=4, name="i2h")
        h2h = S.FullyConnected(states[0], weight=h2h_w, no_bias=True, num_hidden=4, name="h2h")
        h = S.tanh(i2h + h2h)
        return h, [h]

    outs, states = S.contrib.foreach(step, S.var("data"), [S.var("begin_state")], name="cell")
    rng = np.random.default_rng(0)
    weights = {name: mx.nd.array(rng.normal(0, 0.5, size=shape).astype(np.float32))
               for name, shape in (("i2h_weight", (4, 3)), ("i2h_bias", (4,)), ("h2h_weight", (4, 4)))}
    mx.model.save_checkpoint(str(prefix), 0, S.Group([outs, states[0]]), weights, {})
    return str(prefix)


def cases(work: Path, fixtures: Path | None, only: set[str]):
    """(name, checkpoint prefix, input shapes, dynamic axes) of every model checked (of ``only``, if given)."""
    from mxconvert.zoo import nlp, sequence, tracking, vision
    from mxconvert.zoo.detection import batch_size, input_side

    def wanted(names):
        return [name for name in names if not only or name in only]

    for name in wanted(IMAGE_MODELS):
        prefix = _image_checkpoint(name, work, fixtures)
        if name.startswith("det-"):
            side = input_side(name)
            shape = (batch_size(name) or 1, 3, side, side)
        else:
            shape = (1, 3, 224, 224) if name.startswith("resnet-") else (1, 3, vision.input_side(name),
                                                                           vision.input_side(name))
        yield name, prefix, {"data": shape}, {}
    for name in wanted(NLP_MODELS):
        prefix = work / name
        if not _exists(prefix):
            nlp.build_nlp(name, str(work))
        shapes = {key: value.shape for key, value in nlp.sample_inputs(name, 2, 8).items()}
        yield name, str(prefix), shapes, nlp.dynamic_axes(name)
    for name in wanted(SEQUENCE_MODELS):
        prefix = work / name
        if not _exists(prefix):
            sequence.build_sequence(name, str(work))
        spec = sequence.MODELS[name]
        state = (spec.layers * (2 if spec.bidirectional else 1), 2, spec.hidden)
        yield (name, str(prefix), {"data0": sequence.sample_sequence(name, 2, 10).shape, "data1": state,
                                   "data2": state}, {"data0": (0, 1), "data1": (1,), "data2": (1,)})
    for name in wanted(TRACKING_MODELS):
        prefix = work / name
        if not _exists(prefix):
            tracking.build_tracker(name, str(work))
        yield name, str(prefix), {key: value.shape for key, value in tracking.sample_inputs().items()}, {}
    if wanted([CONTROL_FLOW]):
        yield (CONTROL_FLOW, _control_flow_checkpoint(work), {"data": (5, 2, 3), "begin_state": (2, 4)},
               {"data": (0,)})


def hashes(work: Path, fixtures: Path | None, only: set[str]) -> Hashes:
    from mxconvert import api

    found = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, prefix, shapes, dynamic in cases(work, fixtures, only):
            graph = api.load(prefix)
            onnx_path = Path(scratch) / f"{name}.onnx"
            api.to_onnx(graph, shapes, onnx_path, dynamic_axes=dynamic)
            source, state = api.pytorch_source(graph, shapes, dynamic_axes=dynamic)
            weights = hashlib.sha256()
            for key in sorted(state):
                weights.update(key.encode() + state[key].detach().cpu().numpy().tobytes())
            found[name] = {"checkpoint": _checkpoint_hash(prefix), "onnx": _sha(onnx_path.read_bytes()),
                           "kit_model.py": _sha(source.encode()), "state_dict": weights.hexdigest()}
            print(f"{name}: {found[name]['onnx'][:12]} {found[name]['kit_model.py'][:12]}", flush=True)
    return found


def differences(expected: Hashes, found: Hashes) -> list[str]:
    """What differs per model; a checkpoint that differs is named alone (its conversions cannot be compared)."""
    differ = []
    for name in sorted(set(expected) | set(found)):
        want, got = expected.get(name, {}), found.get(name, {})
        if want.get("checkpoint") != got.get("checkpoint"):
            differ.append(f"{name}: the checkpoint itself differs (rebuild it as the manifest's was built)")
            continue
        differ += [f"{name}: {kind} differs" for kind in ("onnx", "kit_model.py", "state_dict")
                   if want.get(kind) != got.get(kind)]
    return differ


def main(argv=None) -> int:
    return run_check(argv, __doc__.split("\n")[0], MANIFEST, hashes, differences,
                     "identical: {} models, ONNX, kit_model.py and state dict alike")


if __name__ == "__main__":
    sys.exit(main())
