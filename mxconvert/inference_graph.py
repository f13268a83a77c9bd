"""The read graph rewritten into what runs at inference, for every target: each loss head becomes its forward
pass (or, without ``keep_softmax``, its raw input) and the labels it read leave the graph; weights that stored
weights are reshaped and concatenated into (Gluon's packed RNN parameters) are computed once, here."""
from __future__ import annotations

import dataclasses

import numpy as np

from .errors import MxConvertError
from .ir import Graph, Node, TensorRef, Variable, VarKind
from .opdefs import LOSS_HEADS, OPS
from .shapes import reshape_target

# head -> (op, typed attributes) of its inference forward; the others forward their data unchanged
_FORWARD = {
    "LogisticRegressionOutput": ("sigmoid", {}),
    "WarpCTC": ("softmax", {"axis": -1, "temperature": None, "dtype": None, "use_length": False}),
}
_NORMALISING = ("SoftmaxOutput", "LogisticRegressionOutput", "WarpCTC")  # what --no_softmax takes off
IDENTITY = "_copy"


def _forward(node: Node, keep_softmax: bool) -> Node:
    data = node.inputs[:1]
    if node.op in _NORMALISING and not keep_softmax:
        return Node(node.name, IDENTITY, {}, data, 1, node.hints)
    if node.op == "SoftmaxOutput":
        return dataclasses.replace(node, inputs=data)
    op, attrs = _FORWARD.get(node.op, (IDENTITY, {}))
    return Node(node.name, op, dict(attrs), data, 1, node.hints)


def inference_forward(graph: Graph, keep_softmax: bool = True) -> Graph:
    """A copy of ``graph`` whose loss heads compute their inference forward; unused labels are dropped."""
    nodes = [_forward(n, keep_softmax) if n.op in LOSS_HEADS else n for n in graph.nodes]
    used = {ref.node for n in nodes for ref in n.inputs} | {ref.node for ref in graph.outputs}
    variables = {name: var for name, var in graph.variables.items() if var.kind is not VarKind.LABEL or name in used}
    return fold_stored_weights(dataclasses.replace(graph, variables=variables, nodes=nodes))


_FOLDABLE = ("Reshape", "Concat", "_rnn_param_concat")


def _stored_value(graph: Graph, producers: dict[str, Node], ref: TensorRef) -> np.ndarray | None:
    """The value of ``ref`` where it is stored weights reshaped and concatenated, else None."""
    if ref.node in graph.params:
        return graph.params[ref.node]
    node = producers.get(ref.node)
    if node is None or node.op not in _FOLDABLE:
        return None
    parts = [_stored_value(graph, producers, source) for source in node.inputs]
    if any(part is None for part in parts):
        return None
    try:
        if node.op == "Reshape":
            return parts[0].reshape(reshape_target(parts[0].shape, node.attrs))
        return np.concatenate(parts, axis=node.attrs["dim"])
    except (MxConvertError, ArithmeticError, IndexError, TypeError, ValueError):  # shape inference reports it
        return None


def fold_stored_weights(graph: Graph) -> Graph:
    """A copy of ``graph`` where a weight slot fed by stored weights through Reshape and Concat reads one stored
    array, named after the node that made it; the nodes only that value needed leave the graph."""
    producers = graph.nodes_by_name()
    folded: dict[TensorRef, np.ndarray] = {}
    for node in graph.nodes:
        for slot in OPS[node.op].param_inputs if node.op in OPS else ():
            ref = node.inputs[slot] if slot < len(node.inputs) else None
            if ref is None or ref.node in graph.variables or ref in graph.outputs:
                continue
            value = _stored_value(graph, producers, ref)
            if value is not None:
                folded[ref] = value
    if not folded:
        return graph
    nodes = [dataclasses.replace(n, inputs=[TensorRef(r.node) if r in folded else r for r in n.inputs])
             for n in graph.nodes]
    replaced = {ref.node for ref in folded}  # nodes whose name their stored value takes
    live = {ref.node for ref in graph.outputs}
    for node in reversed(nodes):
        if node.name in live and node.name not in replaced:
            live.update(ref.node for ref in node.inputs)
    variables = {name: var for name, var in graph.variables.items() if name in live}
    params = dict(graph.params)
    for ref, value in folded.items():
        variables[ref.node] = Variable(ref.node, VarKind.PARAM, tuple(value.shape), value.dtype)
        params[ref.node] = value
    return dataclasses.replace(graph, variables=variables, params=params,
                               nodes=[n for n in nodes if n.name in live and n.name not in replaced])
