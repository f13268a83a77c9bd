"""Weights computed from stored weights alone, folded into stored weights: an IR pass every target shares.

GluonNLP's attention cells interleave their query, key and value weights inside the graph, Gluon's packed RNN
parameters are reshaped and concatenated there, weight normalisation divides a stored direction by its norm.
Each such value is computed here once, in the stored weights' own dtype with MXNet's semantics, and stored under
the name of the node that made it; the ops only those values needed leave the graph. A value that would be
much larger than the weights it comes from (a broadcast) stays computed at run time.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from .errors import MxConvertError
from .ir import Graph, Node, TensorRef, Variable, VarKind
from .semantics.linalg import extract_positions, make_positions
from .semantics.reduce import node_axes
from .semantics.rules import axis_index
from .semantics.shape import (diagonal_positions, expand_dims_axis, reshape_target, reversed_axes, slice_axis_range,
                              slice_ranges, split_bounds, squeezed_axes, swapped_axes, tile_reps)

Evaluator = Callable[[Node, list[np.ndarray]], list[np.ndarray]]
EVALUATORS: dict[str, Evaluator] = {}
GROWTH_ALLOWANCE = 1 << 16  # elements a folded value may exceed the stored weights it is computed from by


def evaluator(*ops: str) -> Callable[[Evaluator], Evaluator]:
    def register(evaluate: Evaluator) -> Evaluator:
        for op in ops:
            EVALUATORS[op] = evaluate
        return evaluate

    return register


def _one(function: Callable[..., np.ndarray]) -> Evaluator:
    """An evaluator of ``function(node, *inputs)`` with one output."""
    return lambda node, values: [np.asarray(function(node, *values))]


def _scalar(node: Node, x: np.ndarray) -> np.ndarray:
    """The op's ``scalar`` in the tensor's dtype, as MXNet casts it before computing."""
    return np.asarray(node.attrs["scalar"]).astype(x.dtype)


_UNARY = {
    "_copy": lambda x: x, "BlockGrad": lambda x: x, "_contrib_gradientmultiplier": lambda x: x,
    "negative": np.negative, "abs": np.abs, "sqrt": np.sqrt,
    "rsqrt": lambda x: np.ones_like(x) / np.sqrt(x), "square": np.square, "exp": np.exp, "log": np.log,
    "reciprocal": lambda x: np.ones_like(x) / x, "relu": lambda x: np.maximum(x, np.zeros_like(x)),
    "sigmoid": lambda x: np.ones_like(x) / (np.ones_like(x) + np.exp(-x)), "tanh": np.tanh, "sign": np.sign,
    "zeros_like": np.zeros_like, "ones_like": np.ones_like,
}
_BINARY = {
    "elemwise_add": np.add, "elemwise_sub": np.subtract, "elemwise_mul": np.multiply, "elemwise_div": np.divide,
    "broadcast_add": np.add, "broadcast_sub": np.subtract, "broadcast_mul": np.multiply,
    "broadcast_div": np.divide, "broadcast_maximum": np.maximum, "broadcast_minimum": np.minimum,
    "_maximum": np.maximum, "_minimum": np.minimum, "broadcast_power": np.power, "_power": np.power,
}
_SCALAR = {
    "_plus_scalar": np.add, "_minus_scalar": np.subtract, "_mul_scalar": np.multiply, "_div_scalar": np.divide,
    "_power_scalar": np.power, "_maximum_scalar": np.maximum, "_minimum_scalar": np.minimum,
}
_REVERSED_SCALAR = {"_rminus_scalar": np.subtract, "_rdiv_scalar": np.divide, "_rpower_scalar": np.power}

for _op, _function in _UNARY.items():
    EVALUATORS[_op] = _one(lambda node, x, f=_function: f(x))
for _op, _function in _BINARY.items():
    EVALUATORS[_op] = _one(lambda node, a, b, f=_function: f(a, b))
for _op, _function in _SCALAR.items():
    EVALUATORS[_op] = _one(lambda node, x, f=_function: f(x, _scalar(node, x)))
for _op, _function in _REVERSED_SCALAR.items():
    EVALUATORS[_op] = _one(lambda node, x, f=_function: f(_scalar(node, x), x))


@evaluator("add_n")
def _add_n(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    total = values[0]
    for value in values[1:]:
        total = total + value
    return [total]


@evaluator("Reshape")
def _reshape(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    return [values[0].reshape(reshape_target(values[0].shape, node.attrs))]


@evaluator("Flatten")
def _flatten(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    return [values[0].reshape(values[0].shape[0], -1) if values[0].ndim else values[0].reshape(1, 1)]


@evaluator("Concat", "_rnn_param_concat")
def _concat(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    return [np.concatenate(values, axis=axis_index(node.attrs["dim"], values[0].ndim))]


@evaluator("stack")
def _stack(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    return [np.stack(values, axis=axis_index(node.attrs["axis"], values[0].ndim + 1))]


@evaluator("transpose")
def _transpose(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    axes = node.attrs["axes"]
    return [np.transpose(values[0], [axis_index(a, values[0].ndim) for a in axes] if axes else None)]


@evaluator("SwapAxis")
def _swap_axis(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    return [np.transpose(values[0], swapped_axes(node.attrs, values[0].ndim))]


@evaluator("expand_dims")
def _expand_dims(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    return [np.expand_dims(values[0], expand_dims_axis(node.attrs["axis"], values[0].ndim))]


@evaluator("squeeze")
def _squeeze(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    return [np.squeeze(values[0], tuple(squeezed_axes(node.attrs["axis"], values[0].shape)))]


@evaluator("slice")
def _slice(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    a = node.attrs
    ranges = slice_ranges(values[0].shape, a["begin"], a["end"], a["step"])
    return [values[0][tuple(slice(start, stop, step) for start, stop, step in ranges)]]


@evaluator("slice_axis")
def _slice_axis(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    axis, begin, end = slice_axis_range(node.attrs, values[0].shape)
    return [np.take(values[0], range(begin, end), axis=axis)]


@evaluator("SliceChannel", "_split_v2")
def _split(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    a = node.attrs
    if node.op == "SliceChannel":
        a = {**a, "sections": a["num_outputs"], "indices": ()}
    axis, bounds = split_bounds(a, values[0].shape)
    parts = [np.take(values[0], range(start, stop), axis=axis) for start, stop in bounds]
    return [np.squeeze(part, axis) for part in parts] if a["squeeze_axis"] else parts


@evaluator("tile")
def _tile(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    prefix, reps = tile_reps(node.attrs["reps"], values[0].ndim)
    return [np.tile(values[0].reshape(prefix + list(values[0].shape)), reps)]


@evaluator("repeat")
def _repeat(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    axis = node.attrs["axis"]
    return [np.repeat(values[0], node.attrs["repeats"], None if axis is None else axis_index(axis, values[0].ndim))]


@evaluator("reverse")
def _reverse(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    return [np.flip(values[0], tuple(reversed_axes(node.attrs["axis"], values[0].ndim)))]


@evaluator("Cast")
def _cast(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    return [values[0].astype(node.attrs["dtype"])]


@evaluator("sum", "mean")
def _reduce(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    reduce = np.sum if node.op == "sum" else np.mean
    axes = node_axes(node, values[0].ndim)
    return [reduce(values[0], axis=axes, keepdims=node.attrs["keepdims"], dtype=values[0].dtype)]


@evaluator("_contrib_quadratic")
def _quadratic(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    x = values[0]
    a, b, c = (np.asarray(node.attrs[name]).astype(x.dtype) for name in ("a", "b", "c"))
    return [x * (a * x + b) + c]


@evaluator("clip")
def _clip(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    x = values[0]
    return [np.clip(x, np.asarray(node.attrs["a_min"]).astype(x.dtype), np.asarray(node.attrs["a_max"]).astype(x.dtype))]


@evaluator("diag")
def _diag(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    x = values[0]
    flat = np.concatenate([x.reshape(-1), np.zeros(1, x.dtype)])  # the position past the data reads a zero
    return [flat[diagonal_positions(node, x.shape)]]


@evaluator("khatri_rao")
def _khatri_rao(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    product = values[0]
    for matrix in values[1:]:  # multiplied in from the first, as MXNet does
        product = (product[:, None, :] * matrix[None, :, :]).reshape(-1, product.shape[1])
    return [product]


@evaluator("_linalg_extractdiag", "_linalg_extracttrian")
def _extract_entries(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    x = values[0]
    n = x.shape[-1]
    return [x.reshape(*x.shape[:-2], n * n)[..., extract_positions(node, n)]]


@evaluator("_linalg_makediag", "_linalg_maketrian")
def _place_entries(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    x = values[0]
    n, positions = make_positions(node, x.shape[-1])
    out = np.zeros((*x.shape[:-1], n * n), x.dtype)
    out[..., positions] = x
    return [out.reshape(*x.shape[:-1], n, n)]


@evaluator("_linalg_syrk")
def _syrk(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    x = values[0]
    xt = np.swapaxes(x, -1, -2)
    product = xt @ x if node.attrs["transpose"] else x @ xt
    return [np.asarray(node.attrs["alpha"]).astype(x.dtype) * product]


@evaluator("_linalg_potrf")
def _potrf(node: Node, values: list[np.ndarray]) -> list[np.ndarray]:
    """The lower factor of the lower triangle (LAPACK's, in the weights' type); the upper one through the
    transpose."""
    if node.attrs["lower"]:
        return [np.linalg.cholesky(values[0])]
    return [np.swapaxes(np.linalg.cholesky(np.swapaxes(values[0], -1, -2)), -1, -2)]


def _evaluate(node: Node, values: list[np.ndarray]) -> list[np.ndarray] | None:
    """The node's outputs computed from ``values``, or None where its attributes do not fit (shape inference
    reports that against the node)."""
    try:
        outputs = EVALUATORS[node.op](node, values)
    except (MxConvertError, ArithmeticError, IndexError, TypeError, ValueError):
        return None
    return outputs if len(outputs) == node.num_outputs else None


def _constant_values(graph: Graph) -> tuple[dict[TensorRef, np.ndarray], dict[str, int]]:
    """Every tensor computed from stored weights alone, and for each such node the stored elements it reads."""
    values: dict[TensorRef, np.ndarray] = {TensorRef(name): array for name, array in graph.params.items()}
    stored: dict[str, int] = {name: array.size for name, array in graph.params.items()}
    for node in graph.nodes:
        if node.op not in EVALUATORS or not node.inputs or any(ref not in values for ref in node.inputs):
            continue
        outputs = _evaluate(node, [values[ref] for ref in node.inputs])
        if outputs is None:
            continue
        for index, output in enumerate(outputs):
            values[node.output(index)] = output
        stored[node.name] = sum(stored[ref.node] for ref in dict.fromkeys(node.inputs))
    return values, stored


def _folded_name(node: Node, index: int) -> str:
    return node.name if node.num_outputs == 1 else f"{node.name}_output{index}"


def fold_constants(graph: Graph) -> Graph:
    """A copy of ``graph`` where every tensor that nodes computing at run time read, and that depends on stored
    weights alone, is one stored weight (named after the node that made it); the nodes that only such values
    needed leave the graph."""
    values, stored = _constant_values(graph)
    folded_nodes = {node.name for node in graph.nodes if node.output() in values}
    if not folded_nodes:
        return graph
    runs: set[str] = set()  # folded nodes that still run: their value is too large to store
    needed: set[TensorRef] = {ref for ref in graph.outputs if ref.node in folded_nodes}
    for node in reversed(graph.nodes):
        if node.name in folded_nodes:
            too_large = any(values[ref].size > stored[node.name] + GROWTH_ALLOWANCE
                            for ref in needed if ref.node == node.name)
            if not (too_large or any(ref.node == node.name for ref in graph.outputs)):
                continue
            runs.add(node.name)
        needed.update(ref for ref in node.inputs if ref.node in folded_nodes)
    nodes_by_name = graph.nodes_by_name()
    renamed = {ref: TensorRef(_folded_name(nodes_by_name[ref.node], ref.index))
               for ref in needed if ref.node not in runs}
    nodes = [dataclasses.replace(node, inputs=[renamed.get(ref, ref) for ref in node.inputs])
             for node in graph.nodes if node.name not in folded_nodes or node.name in runs]
    read = {ref.node for node in nodes for ref in node.inputs} | {ref.node for ref in graph.outputs}
    released = {ref.node for node in graph.nodes if node.name in folded_nodes and node.name not in runs
                for ref in node.inputs} - read  # stored weights only folded values read
    variables = {name: var for name, var in graph.variables.items() if name not in released}
    params = {name: array for name, array in graph.params.items() if name in variables}
    for ref, new in renamed.items():
        value = values[ref]
        variables[new.node] = Variable(new.node, VarKind.PARAM, tuple(value.shape), value.dtype)
        params[new.node] = value
    return dataclasses.replace(graph, variables=variables, params=params, nodes=nodes)
