"""Static shape inference over the IR with the families' rules (``rules.shape_rule``, ``rules.input_rule``);
also checks weight shapes against the graph, and finds the recurrent begin states among the inputs."""
from __future__ import annotations

import math
import re
from typing import Callable

from ..errors import MxConvertError, UnsupportedOpsError
from ..ir import Graph, Node, TensorRef, VarKind
from .indexing import SIZED_BY_CONSUMER
from .rules import INPUT_RULES, RULES, STORED_RULES, Shape, ShapeError, data_dependent, same_shape

MAX_ELEMENTS = 1 << 30  # 4 GiB of float32 in one tensor: a 64-channel 4096x4096 map still fits


def _fixed_inputs(node: Node, inputs: list[Shape | None], outputs: list[Shape | None]) -> list[Shape | None]:
    rule = INPUT_RULES.get(node.op)
    return rule(node, inputs, outputs) if rule is not None else [None] * len(inputs)


def _complete_inputs(node: Node, partial: dict[TensorRef, Node], shapes: dict[TensorRef, Shape],
                     from_consumers: Callable[[TensorRef], Shape | None]) -> list[Shape]:
    """The shapes of ``node``'s inputs, the unknown (0) sizes of creation ops' outputs filled from its input rule,
    or from what the graph further on fixes (``from_consumers``: a ``_zeros`` begin state read by a
    FullyConnected whose output meets another tensor); an input left incomplete is refused as the empty output
    it would be in MXNet."""
    known = [None if ref in partial else shapes[ref] for ref in node.inputs]
    required = _fixed_inputs(node, known, [None] * node.num_outputs)
    for slot, ref in enumerate(node.inputs):
        if ref not in partial:
            continue
        shape, producer = shapes[ref], partial.pop(ref)
        want = required[slot] or from_consumers(ref)
        if want is None:
            raise ShapeError(f"node {producer.name!r}: empty output refused {shape} (nothing infers its 0 sizes)")
        if len(shape) != len(want) or any(size not in (0, wanted) for size, wanted in zip(shape, want)):
            raise ShapeError(f"node {node.name!r} ({node.op}): input {slot} from {producer.name!r} has shape "
                             f"{shape}, expected {want}")
        _check_output(producer, want)
        shapes[ref] = tuple(want)
    return [shapes[ref] for ref in node.inputs]


def _check_output(node: Node, shape: Shape) -> None:
    if data_dependent(shape):  # its other sizes are checked; the data decides the rest
        shape = tuple(size for size in shape if size is not None)
    if any(d <= 0 for d in shape):  # an empty tensor inside a network is never meant
        what = "empty output refused" if min(shape) == 0 else "negative output size"
        raise ShapeError(f"node {node.name!r} ({node.op}): {what} {shape}")
    if math.prod(shape) > MAX_ELEMENTS:  # an UpSampling scale of 10**6 would make checks allocate TBs
        raise ShapeError(f"node {node.name!r} ({node.op}): output of shape {shape} has more than "
                         f"{MAX_ELEMENTS} elements")


def _sized_later(node: Node, shape: Shape) -> bool:
    """A creation op's output with an unknown (0) size, completed where it is read."""
    return node.op in SIZED_BY_CONSUMER and min(shape, default=1) == 0


def infer_shapes(graph: Graph, input_shapes: dict[str, Shape]) -> dict[TensorRef, Shape]:
    """Shape of every tensor for the given data-input shapes; raises ShapeError naming the node. Inputs not
    given (recurrent begin states) take the shape their consumers fix, as MXNet's own inference finds it."""
    missing = {}
    for node in graph.nodes:
        if node.op not in RULES:
            missing.setdefault(node.op, []).append(node.name)
    if missing:
        raise UnsupportedOpsError("shape inference", missing)
    shapes: dict[TensorRef, Shape] = {}
    for var in graph.variables.values():
        shape = input_shapes.get(var.name, var.shape)
        if shape is not None and var.kind is VarKind.INPUT and any(d <= 0 for d in shape):
            raise ShapeError(f"input {var.name!r} of shape {tuple(shape)}: every size must be positive "
                             "(MXNet reads a 0 as 'unknown')")
        if shape is not None:
            shapes[TensorRef(var.name)] = tuple(shape)
    for label in graph.labels:  # a label's shape follows its loss head; it never affects outputs
        shapes.setdefault(TensorRef(label.name), ())
    if any(TensorRef(var.name) not in shapes for var in graph.inputs):
        shapes.update(_inputs_from_consumers(graph, shapes))
    partial: dict[TensorRef, Node] = {}  # outputs of creation ops with unknown (0) sizes -> their node
    fixed_further_on: list[dict[TensorRef, Shape]] = []  # computed once, when a creation op needs it

    def from_consumers(ref: TensorRef) -> Shape | None:
        if not fixed_further_on:
            fixed_further_on.append(_shapes_from_consumers(graph, {r: shapes[r] for r in shapes
                                                                   if r.node in graph.variables}))
        return fixed_further_on[0].get(ref)

    for node in graph.nodes:
        try:
            in_shapes = [shapes[ref] for ref in node.inputs]
        except KeyError as exc:
            raise ShapeError(f"node {node.name!r}: shape of input {exc.args[0]} is unknown; "
                             "give the data input's shape") from None
        if any(ref in partial for ref in node.inputs):
            in_shapes = _complete_inputs(node, partial, shapes, from_consumers)
        _refuse_data_dependent(node, in_shapes)
        _check_stored(graph, node, in_shapes)
        for index, shape in enumerate(_node_shapes(node, in_shapes)):
            if _sized_later(node, shape):
                partial[TensorRef(node.name, index)] = node
            else:
                _check_output(node, shape)
            shapes[TensorRef(node.name, index)] = shape
    for ref in graph.outputs:
        if ref in partial:
            raise ShapeError(f"node {ref.node!r}: empty output refused {shapes[ref]} (nothing infers its 0 sizes)")
    return shapes


def _refuse_data_dependent(node: Node, in_shapes: list[Shape]) -> None:
    """Only ops of their input's shape (``same_shape``) read a size the data decides (None): every other rule,
    and the converters behind it, need their input sizes."""
    if RULES[node.op] is not same_shape and any(data_dependent(shape) for shape in in_shapes):
        raise ShapeError(f"node {node.name!r} ({node.op}): reads a tensor whose size the data decides "
                         f"(inputs of shapes {', '.join(map(str, in_shapes))}, None: known when the model "
                         "runs); only a graph output or an op of its input's shape can take it")


def _check_stored(graph: Graph, node: Node, in_shapes: list[Shape]) -> None:
    """The node's ``stored_rule`` against the stored weights it reads; errors name the node."""
    rule = STORED_RULES.get(node.op)
    if rule is None:
        return
    stored = [graph.params.get(ref.node, graph.aux.get(ref.node)) for ref in node.inputs]
    try:
        rule(node, in_shapes, stored)
    except ShapeError as exc:
        raise ShapeError(f"node {node.name!r} ({node.op}): {exc}") from None


def _node_shapes(node: Node, in_shapes: list[Shape]) -> list[Shape]:
    """The output shapes of one node (unchecked); errors name the node."""
    try:
        out_shapes = RULES[node.op](node, in_shapes)
    except ShapeError as exc:
        raise ShapeError(f"node {node.name!r} ({node.op}): {exc}") from None
    except (ArithmeticError, IndexError, TypeError, ValueError) as exc:  # attributes no real model has
        raise ShapeError(f"node {node.name!r} ({node.op}): attributes do not fit inputs of shapes "
                         f"{in_shapes} ({type(exc).__name__}: {exc})") from None
    return [tuple(shape) for shape in out_shapes]


def _inputs_from_consumers(graph: Graph, known: dict[TensorRef, Shape]) -> dict[TensorRef, Shape]:
    """Shapes of the data inputs not given, from what their consumers fix (an LSTM's begin state from the
    weights it meets and the tensors it is added to). Raises ShapeError naming an input still unknown."""
    shapes = _shapes_from_consumers(graph, known)
    consumers = graph.consumers()
    for var in graph.inputs:
        ref = TensorRef(var.name)
        if ref not in shapes:
            uses = ", ".join(f"{n.name!r} ({n.op}, inputs of shapes "
                             f"{', '.join(str(shapes.get(r, '?')) for r in n.inputs)})" for n in consumers.get(ref, []))
            raise ShapeError(f"input {var.name!r}: its shape is neither given nor fixed by the graph (it feeds "
                             f"{uses or 'no node'}); give it as NAME=SHAPE")
    return {TensorRef(var.name): shapes[TensorRef(var.name)] for var in graph.inputs}


def _shapes_from_consumers(graph: Graph, known: dict[TensorRef, Shape]) -> dict[TensorRef, Shape]:
    """Every shape that ``known`` fixes, read both ways: forward rules where every input is known, input rules
    (``input_rule``) elsewhere, until nothing changes; creation ops' unknown (0) sizes left to their readers."""
    shapes = dict(known)
    pending = list(graph.nodes)
    changed = True
    while changed and pending:
        changed = False
        waiting = []
        for node in pending:
            in_shapes = [shapes.get(ref) for ref in node.inputs]
            if all(shape is not None for shape in in_shapes):
                for index, shape in enumerate(_node_shapes(node, in_shapes)):
                    if not _sized_later(node, shape):  # else its reader's input rule sizes it
                        shapes.setdefault(TensorRef(node.name, index), shape)
                changed = True
                continue
            waiting.append(node)
            out_shapes = [shapes.get(TensorRef(node.name, i)) for i in range(node.num_outputs)]
            for ref, shape in zip(node.inputs, _fixed_inputs(node, in_shapes, out_shapes)):
                if shape is not None and ref not in shapes:
                    shapes[ref] = tuple(shape)
                    changed = True
        pending = waiting
    return shapes


def inferred_shapes(graph: Graph, data_shape: Shape | dict[str, Shape]) -> dict[TensorRef, Shape]:
    """``infer_shapes`` for the shapes the user gives: one bare shape for the (first) data input, or a shape
    per input name. A mismatch is reported against the params file."""
    given = input_shapes_of(graph, data_shape)
    try:
        return infer_shapes(graph, given)
    except ShapeError as exc:
        described = ", ".join(f"{name} of shape {shape}" for name, shape in given.items())
        raise ShapeError(f"{exc} (input {described})", graph.source.params_file or None) from None


def input_shapes_of(graph: Graph, given: Shape | dict[str, Shape]) -> dict[str, Shape]:
    """``given`` keyed by input name: a bare shape belongs to the first data input that is no begin state;
    a name that is no input of the graph is an error listing the graph's inputs."""
    inputs = [var.name for var in graph.inputs]
    if not isinstance(given, dict):
        states = begin_states(graph)
        data = [name for name in inputs if name not in states] or inputs
        if not data:
            raise MxConvertError("the model has no data input (every argument is in the params file)")
        return {data[0]: tuple(given)}
    unknown = [name for name in given if name not in inputs]
    if unknown:
        raise MxConvertError(f"no input named {', '.join(map(repr, unknown))} (the graph's inputs: "
                             f"{', '.join(inputs) or 'none'})")
    return {name: tuple(shape) for name, shape in given.items()}


def begin_states(graph: Graph) -> list[str]:
    """The graph's inputs that are recurrent begin states (:func:`is_begin_state`), in input order."""
    return [var.name for var in graph.inputs if is_begin_state(graph, var.name)]


def is_begin_state(graph: Graph, name: str) -> bool:
    """A recurrent begin state: an input that a fused RNN reads as its state, or that MXNet's recurrent
    examples and Gluon name so (``l0_init_c``, ``begin_state_0``, ``init_h``...). It can be fed zeros."""
    var = graph.variables.get(name)
    if var is None or var.kind is not VarKind.INPUT:
        return False
    ref = TensorRef(name)
    if any(n.op == "RNN" and ref in n.inputs[2:4 if n.attrs["mode"] == "lstm" else 3] for n in graph.nodes):
        return True
    return named_like_begin_state(name)


def named_like_begin_state(name: str) -> bool:
    """``l0_init_c``, ``begin_state_0``, ``init_h``, ``rnn_state``...: how recurrent begin states are named."""
    return re.search(r"(^|_)(init|begin)(_|$)|(^|_)(begin_)?states?(_|\d|$)", name) is not None
