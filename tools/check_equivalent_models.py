"""Check that a change to the PyTorch generator keeps every model's state dict and outputs bit-identical, whatever
``kit_model.py`` now reads like: convert zoo models, run each ``KitModel`` on fixed inputs in ``eval()`` and for
one seeded ``train()`` step, and compare sha256 hashes with a manifest.

    python tools/check_equivalent_models.py --record   # on the reference commit: write the manifest
    python tools/check_equivalent_models.py            # after the change: exit 1 on any difference

Hashed per model: the state dict (keys, types, values), the eval outputs, and the train-mode outputs with the
state dict after that step (BatchNorm's running statistics, Dropout's masks under ``torch.manual_seed(0)``).
The checkpoints are those of ``check_identical_outputs.py`` (built into ``--work``) plus Gluon's ResNet-18.
"""
from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
from manifests import Hashes, run_check  # noqa: E402

MANIFEST = ROOT / "tools" / "equivalent_models.json"
GLUON_RESNET = "gluon-resnet18_v1"


def _gluon_resnet(work: Path, fixtures: Path | None):
    """Gluon's ResNet-18 v1 as the tests build it (``tests/conftest.py``), taken from ``fixtures``."""
    prefix = work / GLUON_RESNET
    for suffix in ("-symbol.json", "-0000.params"):
        if not Path(f"{prefix}{suffix}").exists():
            if fixtures is None or not (fixtures / f"{GLUON_RESNET}{suffix}").exists():
                raise SystemExit(f"{GLUON_RESNET}{suffix} not in --fixtures: build the test fixtures first")
            shutil.copyfile(fixtures / f"{GLUON_RESNET}{suffix}", f"{prefix}{suffix}")
    return GLUON_RESNET, str(prefix), {"data": (1, 3, 224, 224)}, {}


def _inputs(shapes: dict[str, tuple], name: str) -> dict[str, np.ndarray]:
    """Fixed inputs: the zoo's samples where it has them (token ids, begin states), else seeded normals."""
    from mxconvert.zoo import nlp, tracking

    if name in nlp.MODELS:
        return {key: value for key, value in nlp.sample_inputs(name, 2, 8).items() if key in shapes}
    if name in ("siamrpn_alexnet_v2_otb15",):
        return tracking.sample_inputs()
    rng = np.random.default_rng(0)
    return {key: rng.normal(size=shape).astype(np.float32) for key, shape in shapes.items()}


def _digest(*arrays) -> str:
    sha = hashlib.sha256()
    for array in arrays:
        sha.update(f"{array.dtype}{array.shape}".encode() + np.ascontiguousarray(array).tobytes())
    return sha.hexdigest()


def _outputs(out) -> list[np.ndarray]:
    return [o.detach().numpy() for o in (out if isinstance(out, (tuple, list)) else [out])]


def _state(model_or_state) -> str:
    state = model_or_state if isinstance(model_or_state, dict) else model_or_state.state_dict()
    sha = hashlib.sha256()
    for key in sorted(state):
        sha.update(key.encode() + _digest(state[key].detach().numpy()).encode())
    return sha.hexdigest()


def hashes(work: Path, fixtures: Path | None, only: set[str]) -> Hashes:
    import torch

    from check_identical_outputs import cases
    from mxconvert import api
    from mxconvert.to_torch.loader import build_model, module_from_source

    found = {}
    gluon = [_gluon_resnet(work, fixtures)] if not only or GLUON_RESNET in only else []
    for name, prefix, shapes, dynamic in [*gluon, *cases(work, fixtures, only)]:
        graph = api.load(prefix)
        source, state = api.pytorch_source(graph, shapes, dynamic_axes=dynamic)
        model = build_model(module_from_source(source), state)
        feeds = _inputs(shapes, name)
        args = [torch.from_numpy(feeds[var.name]) for var in graph.inputs if var.name in feeds]
        entry = {"state_dict": _state(state)}
        with torch.no_grad():
            entry["eval"] = _digest(*_outputs(model.eval()(*args)))
        torch.manual_seed(0)
        try:
            with torch.no_grad():
                entry["train"] = _digest(*_outputs(model.train()(*args)))
            entry["state_after_train"] = _state(model)
        except Exception as exc:  # a model MXNet cannot train either (batch statistics of one value)
            entry["train"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        found[name] = entry
        print(f"{name}: eval {entry['eval'][:12]} train {entry['train'][:12]}", flush=True)
    return found


def differences(expected: Hashes, found: Hashes) -> list[str]:
    return [f"{name}: {kind} differs" for name in sorted(found) for kind in sorted(set(expected.get(name, {}))
            | set(found[name])) if expected.get(name, {}).get(kind) != found[name].get(kind)]


def main(argv=None) -> int:
    return run_check(argv, __doc__.split("\n")[0], MANIFEST, hashes, differences,
                     "equivalent: {} models, state dicts and outputs (eval, train) alike")


if __name__ == "__main__":
    sys.exit(main())
