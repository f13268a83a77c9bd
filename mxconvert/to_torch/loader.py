"""Load a generated ``kit_model.py`` (from a file or from source text) into a ready ``KitModel``."""
from __future__ import annotations

import hashlib
import importlib.util
import linecache
import os
import sys
import types

import torch
from torch import nn

from ..errors import MxConvertError, first_line


def load_kit_module(path: str | os.PathLike) -> types.ModuleType:
    """Import the generated file at ``path`` under a private module name."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MxConvertError("no such file", path)
    name = f"mxconvert_kit_{hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:16]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # TorchScript and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise MxConvertError(f"cannot import the generated model: {type(exc).__name__}: {exc}", path) from None
    if not isinstance(getattr(module, "KitModel", None), type):
        raise MxConvertError("defines no KitModel class (not a generated kit_model.py)", path)
    return module


def module_from_source(source: str, filename: str = "<kit_model.py>") -> types.ModuleType:
    """Execute generated source as a module; the text is registered with ``linecache`` for tracebacks."""
    module = types.ModuleType("kit_model")
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102  (our own generated code)
    return module


def build_model(module: types.ModuleType, state: dict[str, torch.Tensor]) -> nn.Module:
    """``KitModel()`` with ``state`` loaded strictly, in eval mode."""
    model = module.KitModel()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise MxConvertError(f"the weights do not fit the model: {first_line(exc)}") from None
    return model.eval()
