"""Reference inference with real MXNet: load a ``PREFIX-symbol.json`` + ``PREFIX-EPOCH.params`` pair, run it.

The log line MXNet prints at bind time about its (disabled, see ``mxnet_compat``) subgraph backend is silenced.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .checkpoint import Checkpoint, CheckpointFiles, open_checkpoint
from .errors import MxConvertError
from .feeds import Given, complete_feeds
from .float64_graph import float32_made_double
from .ir import Graph, TensorRef
from .mxnet_compat import import_mxnet
from .semantics.loss import LOSS_HEADS
from .semantics.schema import OPS, canonical_op, numpy_spelled
from .semantics.inference import begin_states, infer_shapes, named_like_begin_state
from .symbol import parse_symbol
from .weight_names import canonical_names



def mxnet_message(exc: BaseException) -> str:
    """The one meaningful line of an MXNetError (its text carries a C++ traceback)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    tagged = [line.split("MXNetError:", 1)[1].strip() for line in lines if "MXNetError:" in line]
    return (tagged or lines or [type(exc).__name__])[-1]


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null (MXNet's C++ logging writes there directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _labels_cut(symbol_json: str) -> tuple[str, set[str]]:
    """The symbol with each loss head's label slot that reads a chain of ops (an OCR model's Reshape and Cast
    before WarpCTC) reading a variable of its own instead, and the labels (fed zeros, they change no output):
    those variables, arguments named ``*_label`` and every variable only loss heads' labels read. What fed only
    the labels leaves the symbol, and MXNet infers the new variables' shapes from their heads."""
    doc = json.loads(symbol_json)
    nodes = doc["nodes"]
    uses: list[list[tuple[int, int]]] = [[] for _ in nodes]
    for consumer, node in enumerate(nodes):
        for slot, (source, *_) in enumerate(node.get("inputs", [])):
            uses[source].append((consumer, slot))
    outputs = {source for source, *_ in doc["heads"]}
    only_labels = [False] * len(nodes)
    for index in reversed(range(len(nodes))):
        only_labels[index] = index not in outputs and bool(uses[index]) and all(
            only_labels[consumer] or slot in _label_slots(nodes[consumer]) for consumer, slot in uses[index])
    labels = {node["name"] for node in nodes if node["op"] == "null" and node["name"].endswith("_label")}
    taken = {node["name"] for node in nodes}
    for node in list(nodes):
        for slot in _label_slots(node):
            source = node["inputs"][slot][0] if slot < len(node["inputs"]) else None
            if source is None or not only_labels[source]:
                continue
            if nodes[source]["op"] == "null":
                labels.add(nodes[source]["name"])
                continue
            name = f"{node['name']}_label"
            while name in taken:
                name = f"_{name}"
            taken.add(name)
            labels.add(name)
            doc["arg_nodes"].append(len(nodes))
            node["inputs"][slot] = [len(nodes), 0, 0]
            nodes.append({"op": "null", "name": name, "inputs": []})
    return json.dumps(doc), labels


def _label_slots(node: dict) -> tuple[int, ...]:
    op = canonical_op(node["op"])
    return OPS[op].label_inputs if op in LOSS_HEADS else ()


class MxnetModel:
    """A loaded checkpoint; calling it runs an inference-mode forward pass (one executor per input shape)."""

    def __init__(self, checkpoint: Checkpoint, epoch: int = 0, ctx: str = "cpu", dtype: str = "float32"):
        """``dtype="float64"`` runs weights and compute in double precision: the exact result that float32
        runs (MXNet's own included) are measured against."""
        self.mx = import_mxnet()
        self.dtype = np.dtype(dtype)
        files = open_checkpoint(checkpoint, epoch)
        for path, data in ((files.symbol, files.symbol_data), (files.params, files.params_data)):
            if data is None and not Path(path).is_file():
                raise MxConvertError("no such file", path)
        try:
            loaded = (self.mx.sym.load(files.symbol) if files.symbol_data is None
                      else self.mx.sym.load_json(files.symbol_json()))
            symbol_json, labels = _labels_cut(loaded.tojson())
            self.symbol = self.mx.sym.load_json(float32_made_double(symbol_json) if self.dtype == np.float64
                                                else symbol_json)
        except self.mx.base.MXNetError as exc:
            raise MxConvertError(f"not a readable MXNet symbol file ({mxnet_message(exc)})", files.symbol) from None
        try:  # mxconvert's reading of the graph, for its begin states and their shapes
            self.graph: Graph | None = parse_symbol(symbol_json)
        except MxConvertError:  # an attribute mxconvert does not know: MXNet still runs the graph
            self.graph = None
        # a graph of MXNet's NumPy interface runs (and its params load) in NumPy's shape semantics (0-d tensors)
        self.numpy = self.graph is not None and any(numpy_spelled(node) for node in self.graph.nodes)
        with self._semantics():
            self.arg_params, self.aux_params = self._load_params(files)
        self.params_path = files.params
        self.ctx = self._context(ctx)
        arguments = self.symbol.list_arguments()
        self.label_names = [name for name in arguments if name in labels and name not in self.arg_params]
        self.input_names = [name for name in arguments if name not in self.arg_params and name not in labels]
        if not self.input_names:
            raise MxConvertError("the model has no data input (every argument is in the params file)", files.params)
        states = begin_states(self.graph) if self.graph is not None else list(filter(named_like_begin_state,
                                                                                     self.input_names))
        self.state_names = [name for name in self.input_names if name in states]
        missing_aux = [name for name in self.symbol.list_auxiliary_states() if name not in self.aux_params]
        if missing_aux:
            raise MxConvertError(f"params file lacks auxiliary states: {', '.join(missing_aux)}",
                                 files.params)
        self._executors: dict[tuple, Any] = {}  # input shapes -> executor
        self._state_shapes: dict[tuple, tuple[int, ...] | None] = {}  # (state, given shapes) -> its shape

    def _semantics(self) -> contextlib.AbstractContextManager:
        """MXNet's NumPy shapes and arrays for a NumPy-interface graph, else nothing."""
        if not self.numpy:
            return contextlib.nullcontext()
        stack = contextlib.ExitStack()
        stack.enter_context(self.mx.util.np_shape(True))
        stack.enter_context(self.mx.util.np_array(True))
        return stack

    def _load_params(self, files: CheckpointFiles) -> tuple[dict, dict]:
        """The stored arrays by argument and auxiliary state, Gluon's names matched as the conversion matches
        them (``weight_names``)."""
        try:
            saved = (self.mx.nd.load(files.params) if files.params_data is None
                     else self.mx.nd.load_frombuffer(files.params_data)) or {}  # no parameters loads as []
        except self.mx.base.MXNetError as exc:
            raise MxConvertError(f"not a readable MXNet params file ({mxnet_message(exc)})", files.params) from None
        if not isinstance(saved, dict):
            raise MxConvertError("not a checkpoint: its arrays have no names", files.params)
        if self.graph is not None:
            names, _ = canonical_names(self.graph, list(saved), files.params)
            arguments = set(self.symbol.list_arguments())
            saved = {(name if name.startswith(("arg:", "aux:")) else
                      f"{'arg' if name in arguments else 'aux'}:{name}"): value
                     for name, value in ((names[key], value) for key, value in saved.items())}
        if not all(k.startswith(("arg:", "aux:")) for k in saved):
            raise MxConvertError("not a Module checkpoint: parameter names lack the arg:/aux: prefixes "
                                 "(export Gluon models with HybridBlock.export)", files.params)
        saved = {k: v.astype(self.dtype, copy=False) if np.issubdtype(v.dtype, np.floating) else v
                 for k, v in saved.items()}  # integer arrays (softmax's lengths) keep their type
        arg = {k[4:]: v for k, v in saved.items() if k.startswith("arg:")}
        aux = {k[4:]: v for k, v in saved.items() if k.startswith("aux:")}
        return arg, aux

    def _context(self, ctx: str) -> Any:
        kind, _, index = ctx.partition(":")
        if kind not in ("cpu", "gpu") or (index and not index.isdigit()):
            raise MxConvertError(f"unknown MXNet context {ctx!r} (use cpu, gpu or gpu:N)")
        return getattr(self.mx, kind)(int(index or 0))

    def _known_shapes(self, inputs: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
        """MXNet's own shape inference from the weights and the given input shapes: every argument's shape it
        fixes."""
        arguments = set(self.symbol.list_arguments())
        shapes = {name: value.shape for name, value in self.arg_params.items() if name in arguments}
        shapes.update(inputs)
        try:
            known, _, _ = self.symbol.infer_shape_partial(**shapes)
        except (self.mx.base.MXNetError, RuntimeError) as exc:
            raise MxConvertError(f"cannot run with {_described(inputs)}: {mxnet_message(exc)}",
                                 str(self.params_path)) from None
        return {name: tuple(dims) for name, dims in zip(self.symbol.list_arguments(), known)
                if dims and 0 not in dims}

    def completed(self, given: Given) -> dict[str, np.ndarray]:
        """Every data input fed: ``given`` by name, begin states left out as zeros (``feeds.complete_feeds``)."""
        return complete_feeds(given, self.input_names, self.state_names, self._state_shape, "mxnet")

    def _state_shape(self, name: str, fed: dict[str, np.ndarray]) -> tuple[int, ...] | None:
        """A begin state's shape as MXNet infers it from the given inputs, else as mxconvert's inference does
        (it also reads a state's shape off the FullyConnected it feeds, where MXNet stops); worked out once per
        set of given shapes (a folder runs in many batches)."""
        given = _shapes(fed)
        key = (name, tuple(given.items()))
        if key not in self._state_shapes:
            shape = self._known_shapes(given).get(name)
            if shape is None and self.graph is not None:
                weights = {weight: value.shape for weight, value in {**self.arg_params, **self.aux_params}.items()}
                with contextlib.suppress(MxConvertError):
                    shape = infer_shapes(self.graph, {**weights, **given}).get(TensorRef(name))
            self._state_shapes[key] = shape
        return self._state_shapes[key]

    def _executor(self, shapes: dict[str, tuple[int, ...]]) -> Any:
        key = tuple(shapes.items())
        if key not in self._executors:
            problem = f"cannot run with {_described(shapes)}"
            known = self._known_shapes(shapes)
            unknown = [name for name in self.symbol.list_arguments() if name not in known]
            if unknown:
                raise MxConvertError(f"{problem}: cannot infer the shapes of {', '.join(unknown)}",
                                     str(self.params_path))
            arguments = set(self.symbol.list_arguments())
            bound = {name: value.shape for name, value in self.arg_params.items() if name in arguments}
            stored = {**self.arg_params, **self.aux_params}
            try:
                with native_stderr_silenced():
                    executor = self.symbol.simple_bind(self.ctx, grad_req="null", **bound, **shapes, type_dict={
                        name: stored[name].dtype if name in stored else self.dtype
                        for name in self.symbol.list_inputs()})
            except (self.mx.base.MXNetError, RuntimeError) as exc:  # simple_bind wraps MXNetError
                raise MxConvertError(f"{problem}: {mxnet_message(exc)}", str(self.params_path)) from None
            executor.copy_params_from(self.arg_params, self.aux_params, allow_extra_params=True)
            for name in self.label_names:
                executor.arg_dict[name][:] = 0
            self._executors[key] = executor
        return self._executors[key]

    def __call__(self, given: Given) -> list[np.ndarray]:
        """All outputs of the graph for one batch (an array for the data input, or arrays by input name; begin
        states not given are zeros), as numpy arrays of the model's dtype (integer and bool outputs keep theirs)."""
        with self._semantics():
            return self._run(given)

    def _outputs_sized(self, shapes: dict[str, tuple[int, ...]]) -> bool:
        """Whether MXNet's shape inference sizes every output, as binding needs: not where the data decides a
        size (boolean_mask, unique), which only an imperative run finds."""
        stored = {name: value.shape for name, value in self.arg_params.items()}
        arguments = set(self.symbol.list_arguments())
        try:
            _, outputs, _ = self.symbol.infer_shape_partial(**{name: shape for name, shape in stored.items()
                                                               if name in arguments}, **shapes)
        except (self.mx.base.MXNetError, RuntimeError):
            return True  # binding reports it
        return all(out is not None and (len(out) > 0 or self.numpy) for out in outputs)

    def _forward(self, feeds: dict[str, np.ndarray]) -> list[Any]:
        """The outputs of one forward pass: through a bound executor, or (sizes the data decides) MXNet's CachedOp
        over the inputs, weights and zero labels."""
        if self._outputs_sized(_shapes(feeds)):
            executor = self._executor(_shapes(feeds))
            for name, array in feeds.items():
                executor.arg_dict[name][:] = array
            return executor.forward(is_train=False)
        known = self._known_shapes(_shapes(feeds))
        stored = {**self.arg_params, **self.aux_params}
        array = self.mx.np.array if self.numpy else self.mx.nd.array
        fed = {**feeds, **{name: np.zeros(known[name], self.dtype) for name in self.label_names}}
        # float inputs in the run's dtype (a CachedOp computes in its inputs' types), integer ones as they are
        inputs = [stored[name].as_in_context(self.ctx) if name in stored
                  else array(fed[name], dtype=self.dtype if fed[name].dtype.kind == "f" else fed[name].dtype,
                             ctx=self.ctx) for name in self.symbol.list_inputs()]
        outputs = self.mx.nd.CachedOp(self.symbol)(*inputs)
        return outputs if isinstance(outputs, (list, tuple)) else [outputs]

    def _run(self, given: Given) -> list[np.ndarray]:
        feeds = self.completed(given)
        try:
            outputs = self._forward(feeds)
            arrays = [out.asnumpy() for out in outputs]
            return [np.asarray(a, dtype=self.dtype) if a.dtype.kind == "f" else a for a in arrays]
        except self.mx.base.MXNetError as exc:
            raise MxConvertError(f"MXNet forward failed: {mxnet_message(exc)}",
                                 str(self.params_path)) from None


def _shapes(feeds: dict[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    return {name: tuple(array.shape) for name, array in feeds.items()}


def _described(shapes: dict[str, tuple[int, ...]]) -> str:
    listed = ", ".join(f"{name} of shape {shape}" for name, shape in shapes.items())
    return f"input{'s' if len(shapes) > 1 else ''} {listed}"


def run_mxnet(checkpoint: Checkpoint, epoch: int, batch: Given, ctx: str = "cpu") -> list[np.ndarray]:
    """Load the checkpoint with MXNet and return every output of one inference-mode forward pass."""
    return MxnetModel(checkpoint, epoch, ctx)(batch)
