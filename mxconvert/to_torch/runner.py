"""Inference with a converted model: ``kit_model.py`` + state dict, as a NCHW numpy -> outputs callable."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import inspect
import os
import pickle
import sys
import warnings
from collections.abc import Callable

import numpy as np
import torch

from ..errors import MxConvertError, first_line
from ..feeds import Given, given_feeds
from .loader import build_model, load_kit_module


def load_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict saved by mxnet2pytorch, read with ``weights_only=True`` (no arbitrary unpickling)."""
    path = os.fspath(path)
    try:
        with warnings.catch_warnings():  # torch warns (on stderr) about the pickle protocol of foreign files
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise MxConvertError("no such file", path) from None
    except pickle.UnpicklingError as exc:  # torch's own text advises weights_only=False: not for this file
        reasons = [line.strip() for line in str(exc).splitlines()[1:]
                   if line.strip() and not line.startswith(("Check the documentation", "Please file an issue"))]
        raise MxConvertError(f"not a readable state dict (refused by torch.load(weights_only=True): "
                             f"{reasons[0] if reasons else 'not plain tensors'})", path) from None
    except Exception as exc:  # garbage makes the unpickler raise struct.error, EOFError, RuntimeError...
        raise MxConvertError(f"not a readable state dict ({first_line(exc)})", path) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise MxConvertError("not a state dict of tensors", path)
    return state


def pick_device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise MxConvertError(f"unknown device {name!r} (use cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise MxConvertError(f"device {name!r} requested but CUDA is not available")
        if (device.index or 0) >= torch.cuda.device_count():
            raise MxConvertError(f"device {name!r} does not exist ({torch.cuda.device_count()} CUDA device(s))")
        # TF32 convolutions and matmuls drift ~1e-3 from MXNet's float32; a comparison wants full float32.
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    return device


_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc's mallopt parameter numbers (malloc.h)


def retain_freed_memory() -> bool:
    """Keep freed blocks in the heap for reuse instead of returning them to the OS (glibc only).

    glibc serves large blocks with mmap and unmaps them on free, so every eager PyTorch op pays page faults
    on its fresh output: ResNet-50 at 16x3x224x224 runs 806 ms that way and 468 ms with the blocks reused,
    as MXNet's and ONNX Runtime's own memory pools do. Still worth it now that ``forward`` frees each tensor
    after its last use: there, 441k page faults and 0.69 s of system time per call without it, none and
    0.01 s with it (no difference at batch 1), for a heap kept at about one forward's peak (RSS 743 MB
    after the calls against 531 MB; 2.8 GB when every intermediate stayed alive). Process-wide; True where it
    took effect."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    except (OSError, AttributeError):  # no loadable C library with mallopt
        return False


@contextlib.contextmanager
def onednn_graph_fusion():
    """TorchScript's oneDNN Graph fuser switched on for the calls inside only (the switch is process-wide)."""
    was_enabled = torch.jit.onednn_fusion_enabled()
    torch.jit.enable_onednn_fusion(True)
    try:
        yield
    finally:
        torch.jit.enable_onednn_fusion(was_enabled)


class CompiledModel:
    """The model specialised for inference to each input shape it meets (inference only).

    On the CPU: traced and frozen TorchScript run with oneDNN Graph fusion, which compiles convolutions with
    their BatchNorm, ReLU and residual additions into fused partitions once per shape, weights prepacked.
    Inductor (``torch.compile`` with freezing) recreates a oneDNN primitive descriptor on every convolution
    call, which at batch 1 costs more than the arithmetic of a small ResNet layer; it takes the models that
    cannot be traced (those that branch on values, ``_while_loop`` and ``_cond``: a trace would keep its
    example's path, so the generated module refuses it) and those whose graph oneDNN Graph refuses. Where
    inductor cannot compile (no C++ compiler), these run eagerly or as the unfused trace, with a warning. On
    CUDA: inductor, static shapes."""

    def __init__(self, model: torch.nn.Module):
        self.model = model.eval()
        self.forms: dict[tuple, Callable] = {}  # per input shapes
        self.inductor = None

    def __call__(self, *inputs: torch.Tensor | None):
        """The model on its inputs, in ``forward``'s order (a begin state left to its default: None), without
        gradients."""
        given = tuple(x for x in inputs if x is not None)
        with torch.no_grad():
            if given[0].device.type != "cpu":
                return self._inductor()(*inputs)
            key = tuple((None if x is None else (tuple(x.shape), x.dtype)) for x in inputs)
            if key not in self.forms:
                self.forms[key] = self._specialise(inputs)
            return self.forms[key](*inputs)

    def _specialise(self, example: tuple[torch.Tensor | None, ...]) -> Callable:
        """The fastest form that computes the model for every input of ``example``'s shapes: the trace (live
        shape arithmetic becomes constants), frozen and fused by oneDNN Graph (run twice, so that the profiling
        executor has fused it before the first real call), or inductor where the trace does not fit."""
        given = tuple(x for x in example if x is not None)
        names = [name for name, x in zip(inspect.signature(self.model.forward).parameters, example) if x is not None]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shapes fixed on purpose
                warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript's; see the README's benchmarks
                traced = torch.jit.freeze(torch.jit.trace(self.model, example_kwarg_inputs=dict(zip(names, given))))
        except RuntimeError as exc:  # a model that branches on values refuses to be traced
            return self._inductor_or(self.model, example, f"it cannot be traced ({first_line(exc)})", "eagerly")

        def unfused(*inputs: torch.Tensor | None):
            return traced(*(x for x in inputs if x is not None))

        def fused(*inputs: torch.Tensor | None):
            with onednn_graph_fusion():
                return unfused(*inputs)

        try:
            for _ in range(2):
                fused(*example)
        except RuntimeError as exc:  # oneDNN Graph refuses a partition it formed
            return self._inductor_or(unfused, example, f"oneDNN Graph cannot fuse it ({first_line(exc)})",
                                     "as the unfused trace")
        return fused

    def _inductor_or(self, fallback: Callable, example: tuple[torch.Tensor | None, ...], why: str,
                     how: str) -> Callable:
        """Inductor's form, compiled on ``example``; ``fallback`` (with a warning) where inductor fails."""
        try:
            self._inductor()(*example)
        except Exception as exc:  # inductor's failures (a missing compiler, an unsupported op) share no type
            shapes = ", ".join(str(tuple(x.shape)) for x in example if x is not None)
            warnings.warn(f"--compile: at shapes {shapes} {why}, and inductor failed ({first_line(exc)}); "
                          f"running the model {how}")
            return fallback
        return self._inductor()

    def _inductor(self):
        if self.inductor is None:
            self.inductor = inductor_compile(self.model)
        return self.inductor


def inductor_compile(model: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile`` with inductor's freezing (weights become constants, prepacked for the device's
    kernels) and static shapes: one specialised graph per input shape. Inference only."""
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True
    return torch.compile(model.eval(), dynamic=False)


class TorchModel:
    """``model(batch) -> [outputs]`` in eval mode without gradients, optionally :class:`CompiledModel`."""

    def __init__(self, kit_path: str | os.PathLike, weights_path: str | os.PathLike, device: str = "cpu",
                 compile_model: bool = False):
        self.device = pick_device(device)
        if self.device.type == "cpu":
            retain_freed_memory()
        module = load_kit_module(kit_path)
        model = build_model(module, load_state(weights_path), weights_path).to(self.device)
        self.inputs, self.states = forward_inputs(module)
        if compile_model and len(self.inputs) > 1:
            raise MxConvertError("--compile takes models with one input only", os.fspath(kit_path))
        self.model = CompiledModel(model) if compile_model else model

    def __call__(self, given: Given) -> list[np.ndarray]:
        """Every output for one batch: an array for the data input, or arrays by input name (MXNet's names);
        begin states not given take ``forward``'s default (zeros)."""
        feeds = given_feeds(given, list(self.inputs), self.states)
        shapes = (f"an input of shape {tuple(next(iter(feeds.values())).shape)}" if len(feeds) == 1 else
                  "inputs " + ", ".join(f"{name} {tuple(array.shape)}" for name, array in feeds.items()))
        arguments = [None if name not in feeds else
                     torch.from_numpy(np.ascontiguousarray(feeds[name], dtype=np.float32)).to(self.device)
                     for name in self.inputs]  # None: the begin state's default
        try:
            with torch.no_grad():
                out = self.model(*arguments)
        except RuntimeError as exc:  # an input the model does not fit (check --input_shape)
            raise MxConvertError(f"PyTorch forward failed on {shapes}: {first_line(exc)}") from None
        outputs = out if isinstance(out, (tuple, list)) else (out,)
        return [o.detach().cpu().numpy() for o in outputs]


def forward_inputs(module) -> tuple[dict[str, str], set[str]]:
    """``KitModel.forward``'s inputs: MXNet name -> Python argument (``MXNET_NAMES`` maps those that differ),
    and the MXNet names of the begin states (arguments with a default)."""
    renamed = getattr(module, "MXNET_NAMES", {})
    parameters = list(inspect.signature(module.KitModel.forward).parameters.values())[1:]
    inputs = {renamed.get(p.name, p.name): p.name for p in parameters}
    states = {renamed.get(p.name, p.name) for p in parameters if p.default is not inspect.Parameter.empty}
    return inputs, states
