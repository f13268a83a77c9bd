"""State shared by the ONNX converters while one graph is emitted."""
from __future__ import annotations

import contextlib
import functools
from typing import Iterator, Sequence

import numpy as np
import onnx
from onnx import helper

from ..dynamic import LiveDims
from ..errors import NotExpressible
from ..semantics.dtypes import INTEGER_DTYPES, tensor_dtypes
from ..semantics.quantization import QRange, quantized_ranges
from ..ir import Graph, Node, TensorRef, VarKind


def tensor_name(node: str, index: int, outputs: int) -> str:
    """The ONNX name of output ``index`` of MXNet node ``node`` (of ``outputs`` outputs): ``conv0_output``."""
    return f"{node}_output" if outputs == 1 else f"{node}_output{index}"


def tensors_read(proto: onnx.NodeProto) -> set[str]:
    """The tensors a node reads: its inputs and what the subgraphs of a Loop or If take from outside."""
    names = set(proto.input)
    for attribute in proto.attribute:
        for graph in [attribute.g, *attribute.graphs]:
            for inner in graph.node:
                names |= tensors_read(inner)
    return names


class EmitContext:
    """Collects ONNX nodes and initializers; gives converters typed helpers that hide opset differences."""

    def __init__(self, graph: Graph, shapes: dict[TensorRef, tuple], opset: int, float_type: np.dtype,
                 batch_dynamic: bool, live: LiveDims | None = None, scope: str = ""):
        """``live``: a tensor's dims, a size or the (input, axis) it follows at run time (``dynamic.live_dims``);
        ``scope``: what every name this context makes starts with (a control-flow body's, kept apart)."""
        self.graph = graph
        self.shapes = shapes
        self.opset = opset
        self.float_type = np.dtype(float_type)
        self.batch_dynamic = batch_dynamic
        self.live = live or (lambda ref: list(shapes[ref]))
        self.dtypes = tensor_dtypes(graph)  # MXNet's element type of each node output
        self.integers = {ref for ref, dtype in self.dtypes.items() if dtype in INTEGER_DTYPES}
        self.aliases: dict[str, str] = {}  # graph input -> the tensor converters read (fp16 cast)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.current: Node | None = None  # set by ``begin``
        self.emitted: dict[str, list[str]] = {}  # MXNet node -> ONNX node names, for the log
        self.warnings: list[str] = []
        self._counter = 0
        self._node_index = graph.nodes_by_name()
        self.scope = scope
        self.redirects: dict[TensorRef, str] = {}  # tensors another converter reads or writes under other names
        self.int8_exact = True  # not ExportOptions.int8_kernels
        self.int8_cpu = "vnni"  # ExportOptions.int8_cpu

    @functools.cached_property
    def quantized_ranges(self) -> dict[TensorRef, QRange]:
        """The type and range of each quantized tensor of the graph, found once."""
        return quantized_ranges(self.graph)

    def body(self, graph: Graph, shapes: dict[TensorRef, tuple], scope: str, names: dict[str, str]) -> EmitContext:
        """A context for a control-flow body: nodes of its own, this context's initializers and warnings;
        ``names``: each body input -> the tensor it reads (a weight's initializer, for a stored weight)."""
        child = EmitContext(graph, shapes, self.opset, self.float_type, False, scope=scope)
        child.initializers, child.warnings, child.aliases = self.initializers, self.warnings, dict(names)
        child.int8_exact, child.int8_cpu = self.int8_exact, self.int8_cpu
        return child

    @contextlib.contextmanager
    def as_node(self, node: Node, names: dict[TensorRef, str]) -> Iterator[None]:
        """Convert as ``node`` (a float twin of the current node) with ``names`` in place of some of its tensors:
        a quantized op runs its float op's converter between dequantize and quantize."""
        current, self.current = self.current, node
        self.redirects.update(names)
        try:
            yield
        finally:
            self.current = current
            for ref in names:
                del self.redirects[ref]

    @contextlib.contextmanager
    def computing_in(self, dtype) -> Iterator[int]:
        """Emit constants in ``dtype`` (float64: a decomposition computed wider than the model and rounded once);
        yields the model's ONNX float type, to cast the result back to. Read the node's inputs before: a stored
        weight read inside would be stored in ``dtype``."""
        narrow, self.float_type = self.float_type, np.dtype(dtype)
        try:
            yield helper.np_dtype_to_tensor_dtype(narrow)
        finally:
            self.float_type = narrow

    def begin(self, node: Node) -> None:
        """Start converting ``node``: its temporaries are numbered from 1, so a node's emitted form does not
        depend on what the nodes before it emitted."""
        self.current = node
        self._counter = 0

    # --- naming -----------------------------------------------------------------------------------
    def input(self, index: int) -> str:
        """The tensor feeding input ``index``; a stored weight read as data becomes an initializer."""
        ref = self.current.inputs[index]
        var = self.graph.variables.get(ref.node)
        if var is not None and var.kind in (VarKind.PARAM, VarKind.AUX):
            return self.weight(var.name)
        return self.name_of(ref)

    def stored(self, index: int) -> bool:
        """Whether input ``index`` is a stored weight (not a tensor computed in the graph)."""
        var = self.graph.variables.get(self.current.inputs[index].node)
        return var is not None and var.kind in (VarKind.PARAM, VarKind.AUX)

    def name_of(self, ref: TensorRef) -> str:
        if ref in self.redirects:
            return self.redirects[ref]
        if ref.node in self.graph.variables:
            return self.aliases.get(ref.node, ref.node)
        return self.scope + tensor_name(ref.node, ref.index, self._node_index[ref.node].num_outputs)

    def output(self, index: int = 0) -> str:
        return self.name_of(self.current.output(index))

    def shape(self, ref_or_index: TensorRef | int) -> tuple[int, ...]:
        ref = self.current.inputs[ref_or_index] if isinstance(ref_or_index, int) else ref_or_index
        return self.shapes[ref]

    def out_shape(self, index: int = 0) -> tuple[int, ...]:
        return self.shapes[self.current.output(index)]

    def temp(self, suffix: str) -> str:
        self._counter += 1
        return f"{self.scope}{self.current.name}__{suffix}{self._counter}"

    # --- emission ---------------------------------------------------------------------------------
    def add(self, op_type: str, inputs: Sequence[str], outputs: Sequence[str] | str | None = None,
            **attrs) -> str:
        """Append one ONNX node; returns its (first) output name."""
        if outputs is None:
            outputs = [self.temp(op_type.lower())]
        elif isinstance(outputs, str):
            outputs = [outputs]
        name = self.scope + self.current.name if not self.emitted.get(self.current.name) else self.temp(op_type)
        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs), name=name, **attrs))
        self.emitted.setdefault(self.current.name, []).append(f"{op_type}:{name}")
        return outputs[0]

    def weight(self, var_name: str, array: np.ndarray | None = None, float_cast: bool = True) -> str:
        """Initializer for an MXNet parameter (the stored array, or ``array`` in its place); a body's weight read
        from outside it is the graph's initializer."""
        if array is None and var_name in self.aliases:
            return self.aliases[var_name]
        value = self.graph.weight(var_name) if array is None else array
        self._initializer(self.scope + var_name, value, float_cast)
        return self.scope + var_name

    def const(self, value, suffix: str = "const", dtype=None) -> str:
        """A fresh initializer holding ``value`` (floats in the model's float type unless ``dtype``)."""
        array = np.asarray(value, dtype=dtype if dtype is not None else self.float_type)
        name = self.temp(suffix)
        self._initializer(name, array, float_cast=dtype is None)
        return name

    def ints(self, values: Sequence[int], suffix: str = "shape") -> str:
        return self.const(np.asarray(values, dtype=np.int64), suffix, dtype=np.int64)

    def drop_unread(self, outputs: Sequence[str]) -> None:
        """Drop the nodes and initializers no output depends on: values converters made that nothing reads (an
        RNN's final states nobody uses, begin states left to ONNX's default zeros)."""
        needed, kept = set(outputs), []
        for proto in reversed(self.nodes):
            if needed.intersection(proto.output):
                kept.append(proto)
                needed.update(tensors_read(proto))
        self.nodes = kept[::-1]
        self.initializers = {name: array for name, array in self.initializers.items() if name in needed}

    def _initializer(self, name: str, array: np.ndarray, float_cast: bool) -> None:
        if float_cast and array.dtype.kind == "f":
            array = array.astype(self.float_type, copy=False)
        self.initializers.setdefault(name, array)

    # --- helpers across opsets --------------------------------------------------------------------
    def reduce_sum(self, x: str, axes: Sequence[int], out: str | None = None, keepdims: int = 1) -> str:
        if self.opset >= 13:
            return self.add("ReduceSum", [x, self.ints(axes, "axes")], out, keepdims=keepdims)
        return self.add("ReduceSum", [x], out, axes=list(axes), keepdims=keepdims)

    def squeeze(self, x: str, axes: Sequence[int], out: str | None = None) -> str:
        if self.opset >= 13:
            return self.add("Squeeze", [x, self.ints(axes, "axes")], out)
        return self.add("Squeeze", [x], out, axes=list(axes))

    def unsqueeze(self, x: str, axes: Sequence[int], out: str | None = None) -> str:
        if self.opset >= 13:
            return self.add("Unsqueeze", [x, self.ints(axes, "axes")], out)
        return self.add("Unsqueeze", [x], out, axes=list(axes))

    def softmax(self, x: str, axis: int, rank: int, out: str | None = None, op_type: str = "Softmax") -> str:
        """Softmax (or ``op_type`` LogSoftmax) along one axis (opsets before 13 flatten from ``axis``, so move it
        last first)."""
        axis %= rank
        if self.opset >= 13 or axis == rank - 1:
            return self.add(op_type, [x], out, axis=axis)
        perm = [d for d in range(rank) if d != axis] + [axis]
        moved = self.add("Transpose", [x], perm=perm)
        soft = self.add(op_type, [moved], axis=rank - 1)
        return self.add("Transpose", [soft], out, perm=list(np.argsort(perm)))

    def live_shape(self, ref: TensorRef) -> str:
        """``ref``'s shape as an int64 tensor: fixed sizes, or an input's size read at run time where it follows
        one."""
        dims = self.live(ref)
        if not any(isinstance(dim, tuple) for dim in dims):
            return self.ints(self.shapes[ref])
        parts = [self.ints([self.shapes[ref][i]]) if not isinstance(dim, tuple) else
                 self.add("Gather", [self.add("Shape", [self.name_of(TensorRef(dim[0]))]), self.ints([dim[1]], "axis")])
                 for i, dim in enumerate(dims)]
        return self.add("Concat", parts, axis=0)

    def axis_size(self, index: int, axis: int, dtype: np.dtype) -> str | int:
        """The size of ``axis`` of input ``index``: fixed, or a scalar of ``dtype`` read at run time where the axis
        is dynamic."""
        size = self.live(self.current.inputs[index])[axis]
        if isinstance(size, int):
            return size
        dims = self.add("Shape", [self.input(index)])
        scalar = self.squeeze(self.add("Gather", [dims, self.ints([axis], "axis")]), [0])
        return self.add("Cast", [scalar], to=helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))

    def positions(self, index: int, axis: int, along: Sequence[int], dtype: np.dtype) -> str:
        """0, 1, ... over ``axis`` of input ``index`` in ``dtype``, shaped ``along`` (its -1 holds them); as many as
        the axis has at run time where it is dynamic."""
        size = self.axis_size(index, axis, dtype)
        if isinstance(size, int):
            return self.const(np.arange(size).reshape(along), "positions", dtype=dtype)
        zero, one = (self.const(value, "range", dtype=dtype) for value in (0, 1))
        return self.reshape(self.add("Range", [zero, size, one]), along)

    def reshape(self, x: str, shape: Sequence[int], out: str | None = None) -> str:
        return self.add("Reshape", [x, self.ints(shape)], out)

    def batch_shape(self, shape: Sequence[int], source: Sequence[int]) -> list[int]:
        """A Reshape target; with a dynamic batch, dimension 0 is copied from the input (code 0)."""
        target = list(shape)
        if self.batch_dynamic:
            if not target or target[0] != source[0]:
                raise NotExpressible(f"reshape {tuple(source)} -> {tuple(shape)} mixes the batch axis")
            target[0] = 0
        return target
