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
    """Execute generated source as a module, as Python imports the file (this module's ``__future__`` imports
    not inherited: TorchScript reads the class attributes' annotations); the text is registered with
    ``linecache`` for tracebacks."""
    module = types.ModuleType("kit_model")
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)  # noqa: S102  (our own generated code)
    return module


def build_model(module: types.ModuleType, state: dict[str, torch.Tensor],
                weights_path: str | os.PathLike | None = None) -> nn.Module:
    """``KitModel()`` with ``state`` loaded strictly, in eval mode; a mismatch names the tensors that differ
    (torch's own message puts them on lines after the first)."""
    model = module.KitModel()
    expected = {name: tuple(value.shape) for name, value in model.state_dict().items()}
    problems = [f"{kind} {listing(names)}" for kind, names in
                (("missing", [n for n in expected if n not in state]),
                 ("unexpected", [n for n in state if n not in expected])) if names]
    misshapen = [f"{name} has shape {tuple(state[name].shape)}, expected {shape}"
                 for name, shape in expected.items() if name in state and tuple(state[name].shape) != shape]
    if misshapen:
        problems.append(listing(misshapen, limit=1))
    location = os.fspath(weights_path) if weights_path is not None else None
    if problems:
        raise MxConvertError(f"the weights do not fit the model: {'; '.join(problems)}", location)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise MxConvertError(f"the weights do not fit the model: {first_line(exc)}", location) from None
    return model.eval()


def listing(items: list[str], limit: int = 3) -> str:
    """The first ``limit`` items, comma-separated, and how many more there are."""
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
