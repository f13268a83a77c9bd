"""Run an ONNX model with onnxruntime, plus what both ONNX inference scripts share.

A model exported with a fixed batch size only accepts that many rows; :func:`run_fixed_batch` feeds a larger
or smaller batch in chunks of the model's size (the last chunk padded by repeating its last row, the padding
dropped from the outputs) and stacks the results.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import onnx

from .errors import MxConvertError, first_line
from .feeds import BEGIN_STATES_KEY, Feeds, Given, complete_feeds


def load_onnx(path: str | os.PathLike) -> onnx.ModelProto:
    """Read an ``.onnx`` file (external data beside it is loaded too); bad files are a one-line error."""
    source = Path(path)
    if not source.is_file():
        raise MxConvertError("no such file", str(source))
    try:
        model = onnx.load_model(str(source))
    except Exception as exc:  # protobuf's DecodeError, OSError for missing external data...
        raise MxConvertError(f"not a readable ONNX model ({type(exc).__name__}: {exc})", str(source)) from None
    if not model.graph.node or not model.graph.output:
        raise MxConvertError("not an ONNX model (no graph nodes or outputs)", str(source))
    return model


def check_input(batch: np.ndarray, shape: Sequence[int | None], name: str) -> None:
    """The batch must match the model's fixed dimensions, except the batch axis (see run_fixed_batch)."""
    if batch.ndim != len(shape) or any(want not in (None, got) for want, got in zip(shape[1:], batch.shape[1:])):
        wanted = "x".join("?" if d is None else str(d) for d in shape)
        raise MxConvertError(f"input of shape {'x'.join(map(str, batch.shape))} does not fit the model's "
                             f"input {name!r} of shape {wanted} (check --input_shape)")


class OnnxInputs:
    """A model's graph inputs (initializers excluded) in order, their declared dims (a size, a symbolic name or
    None), and the begin states that are fed zeros when not given (listed in the model's metadata)."""

    def __init__(self, model: onnx.ModelProto, path: str):
        weights = {t.name for t in model.graph.initializer}
        values = [i for i in model.graph.input if i.name not in weights]
        if not values:
            raise MxConvertError("the model has no data input", path)
        self.names = [value.name for value in values]
        self.dims = {value.name: [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else d.dim_param or None
                                  for d in value.type.tensor_type.shape.dim] for value in values}
        self.dtypes = {value.name: onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
                       for value in values}  # what each input takes (token ids may be int64)
        meta = {prop.key: prop.value for prop in model.metadata_props}
        try:
            states = json.loads(meta.get(BEGIN_STATES_KEY, "[]"))
        except json.JSONDecodeError:
            states = []
        self.states = [name for name in self.names if name in states]

    def declared(self, name: str) -> tuple[int | None, ...]:
        return tuple(d if isinstance(d, int) else None for d in self.dims[name])

    def _state_shape(self, name: str, fed: Feeds) -> tuple[int, ...] | None:
        """A begin state's declared shape, its symbolic dims read off the given inputs that share them."""
        sizes = {dim: size for given, array in fed.items()
                 for dim, size in zip(self.dims[given], array.shape) if isinstance(dim, str)}
        dims = [sizes.get(dim) if isinstance(dim, str) else dim for dim in self.dims[name]]
        return None if None in dims else tuple(dims)

    def run(self, run: Callable[[Feeds], list[np.ndarray]], given: Given, backend: str) -> list[np.ndarray]:
        """``run`` on every input fed (checked against the declared dims); a single input is chunked to the
        model's fixed batch size (see :func:`run_fixed_batch`)."""
        feeds = complete_feeds(given, self.names, self.states, self._state_shape, backend)
        for name, array in feeds.items():
            check_input(array, self.declared(name), name)
        feeds = {name: np.ascontiguousarray(array, dtype=self.dtypes[name]) for name, array in feeds.items()}
        if len(feeds) > 1:
            return run(feeds)
        (name, batch), = feeds.items()
        return run_fixed_batch(lambda chunk: run({name: chunk}), batch, self.declared(name)[0])


def run_fixed_batch(run: Callable[[np.ndarray], list[np.ndarray]], batch: np.ndarray,
                    model_batch: int | None) -> list[np.ndarray]:
    """``run`` on ``batch``, chunked to ``model_batch`` rows when the model fixes its batch size."""
    rows = batch.shape[0]
    if model_batch is None or rows == model_batch:
        return run(batch)
    parts = []
    for start in range(0, rows, model_batch):
        chunk = batch[start:start + model_batch]
        used = chunk.shape[0]
        if used < model_batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], model_batch - used, axis=0)])
        outputs = run(np.ascontiguousarray(chunk))
        for index, out in enumerate(outputs):
            if out.ndim == 0 or out.shape[0] != model_batch:
                raise MxConvertError(f"the model has a fixed batch size of {model_batch} and output {index} "
                                     f"(shape {out.shape}) has no batch axis, so {rows} inputs cannot be run "
                                     "in chunks; export the model for this batch size")
        parts.append([out[:used] for out in outputs])
    return [np.concatenate(chunks) for chunks in zip(*parts)]


def inference_session(model: onnx.ModelProto, path: str, memory_arena: bool = True, device: str = "cpu",
                      threads: int | None = None):
    """An onnxruntime session on the CPU, with the CUDA provider first for a ``cuda[:N]`` ``device`` where the
    installed onnxruntime has it; ``threads``: intra-op threads (default onnxruntime's). A model it rejects is a
    one-line error naming ``path``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = memory_arena
    if threads is not None:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(model.SerializeToString(), options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/NotImplemented types
        raise MxConvertError(f"onnxruntime cannot load the model: {first_line(exc)}", path) from None


def run_session(session, fetches: list[str] | None, feeds: dict[str, np.ndarray], path: str) -> list[np.ndarray]:
    try:
        return session.run(fetches, feeds)
    except Exception as exc:
        raise MxConvertError(f"onnxruntime inference failed: {first_line(exc)}", path) from None


class OrtModel:
    """An ONNX model in an onnxruntime session (see :func:`inference_session` for ``device`` and ``threads``);
    calling it returns every output as float32 numpy."""

    def __init__(self, path: str | os.PathLike, device: str = "cpu", threads: int | None = None):
        model = load_onnx(path)
        self.path = str(path)
        self.session = inference_session(model, self.path, device=device, threads=threads)
        self.inputs = OnnxInputs(model, self.path)

    def _run(self, feeds: Feeds) -> list[np.ndarray]:
        outputs = run_session(self.session, None, feeds, self.path)
        return [np.asarray(out, dtype=np.float32) for out in outputs]

    def __call__(self, given: Given) -> list[np.ndarray]:
        """Every output for one batch: an array for the data input, or arrays by input name."""
        return self.inputs.run(self._run, given, "onnxruntime")
