"""The Python API: load a checkpoint into the IR, convert it, run any backend on arrays.

    from mxconvert import api

    graph = api.load("model-symbol.json", "model-0000.params")  # or api.load("model", epoch=0)
    graph = api.load("model", plugins=["my_ops.py"])  # converters of its Custom ops (mxconvert.plugins)
    onnx_model = api.to_onnx(graph, (1, 3, 224, 224), path="model.onnx", dynamic_axes={"data": (0, 2, 3)})
    module = api.to_pytorch(graph, (1, 3, 224, 224))  # the generated KitModel, weights loaded, eval mode
    source, state = api.pytorch_source(graph, (1, 3, 224, 224))  # kit_model.py text and its state dict
    outputs = api.backend("onnxruntime", "model.onnx")(array)  # or {"data": array, "l0_init_c": ...}

Input shapes are one bare shape for a single data input, a dict by input name, or left out: then the checkpoint
fixes them (``input_shape_of``). The scripts and
``run_all.py`` run the backends through :data:`BACKENDS`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterable

from .checkpoint import CheckpointPaths, load_checkpoint
from .feeds import Runner
from .inputs import resolve_input_shape
from .ir import Graph
from .semantics.rules import Shape

InputShape = Shape | dict[str, Shape]


def load(symbol_or_prefix: str | os.PathLike, params: str | os.PathLike | None = None, epoch: int = 0,
         plugins: Iterable[str] = ()) -> Graph:
    """A checkpoint as the typed IR, weights attached: ``load(symbol, params)`` names the two files,
    ``load(prefix, epoch=N)`` reads ``PREFIX-symbol.json`` + ``PREFIX-NNNN.params``, ``load("model.tar.gz")`` an
    archive's (a SageMaker ``model.tar.gz``, a Model Server ``.mar``) or a folder's one checkpoint. ``plugins``:
    Python files or modules loaded first, converting ops mxconvert cannot know (``mxconvert.plugins``)."""
    from .plugins import load_plugins

    load_plugins(plugins)
    if params is not None:
        return load_checkpoint(CheckpointPaths(os.fspath(symbol_or_prefix), os.fspath(params)))
    return load_checkpoint(os.fspath(symbol_or_prefix), epoch)


def input_shape_of(graph: Graph, input_shape: InputShape | None = None) -> InputShape:
    """``input_shape``, or (None) the one the checkpoint fixes (``inputs.resolve_input_shape``: a ``__shape__``
    attribute, a shapes file beside the files, the first layer's weight; free image sizes 224 x 224)."""
    return resolve_input_shape(graph, input_shape)[0]


def to_onnx(graph: Graph, input_shape: InputShape | None = None, path: str | os.PathLike | None = None, **options):
    """The checked ``onnx.ModelProto`` (written atomically to ``path`` when given, large weights streamed).
    ``options``: opset, dynamic_batch, dynamic_axes, keep_softmax, fp16, int8_kernels, int8_cpu (see
    ``to_onnx.ExportOptions``)."""
    from .to_onnx import ExportOptions, build_onnx, save_onnx

    model, _ = build_onnx(graph, ExportOptions(input_shape=input_shape_of(graph, input_shape), **options))
    if path is not None:
        save_onnx(model, os.fspath(path))
    return model.to_model()


def pytorch_source(graph: Graph, input_shape: InputShape | None = None, **options) -> tuple[str, dict]:
    """``kit_model.py`` source and its state dict. ``options``: fuse_bn, keep_softmax, dynamic_batch,
    dynamic_axes, int8_cpu (see ``to_torch.TorchOptions``)."""
    from .to_torch import TorchOptions, emit_pytorch

    return emit_pytorch(graph, TorchOptions(input_shape=input_shape_of(graph, input_shape), **options))


def to_pytorch(graph: Graph, input_shape: InputShape | None = None, **options):
    """The generated ``KitModel`` as a ready ``nn.Module`` (weights loaded, checked on zeros, eval mode)."""
    from .to_torch import TorchOptions
    from .to_torch.convert import to_module

    return to_module(graph, TorchOptions(input_shape=input_shape_of(graph, input_shape), **options))[0]


@dataclass(frozen=True)
class Backend:
    """One way to run a model: what it is called in tables, what it loads, what it needs installed."""

    label: str
    files: str
    needs: str
    factory: Callable[..., Runner]


def _mxnet(prefix, epoch: int = 0, dtype: str = "float32") -> Runner:
    from .mxnet_runner import MxnetModel

    return MxnetModel(prefix, epoch, dtype=dtype)


def _onnx_mxnet(path) -> Runner:
    from .onnx_mxnet_backend import OnnxMxnetModel

    return OnnxMxnetModel(path)


def _onnxruntime(path, device: str = "cpu", threads: int | None = None) -> Runner:
    from .onnx_runtime import OrtModel

    return OrtModel(path, device, threads)


def _pytorch(kit_path, weights_path, device: str = "cpu") -> Runner:
    from .to_torch.runner import TorchModel

    return TorchModel(kit_path, weights_path, device)


BACKENDS: dict[str, Backend] = {
    "mxnet": Backend("MXNet", "checkpoint prefix (or CheckpointPaths), epoch", "mxnet", _mxnet),
    "mxnet_fp64": Backend("MXNet float64", "checkpoint prefix, epoch", "mxnet",
                          lambda prefix, epoch=0: _mxnet(prefix, epoch, "float64")),
    "onnx_mxnet": Backend("ONNX (MXNet back)", "ONNX file", "mxnet, onnx", _onnx_mxnet),
    "onnxruntime": Backend("ONNX Runtime", "ONNX file", "onnxruntime", _onnxruntime),
    "pytorch": Backend("PyTorch", "kit_model.py, model.pth", "torch", _pytorch),
}


def labels(*names: str) -> dict[str, str]:
    """Backend key -> its label in the tables, for ``names``."""
    return {name: BACKENDS[name].label for name in names}


def backend(name: str, *files, **options) -> Runner:
    """A loaded model of backend ``name`` (:data:`BACKENDS`); calling it on an array, or on arrays by input
    name, returns every output as numpy arrays."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})")
    return BACKENDS[name].factory(*files, **options)
