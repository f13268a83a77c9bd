"""The read graph rewritten into what runs at inference, for every target: each loss head becomes its forward
pass (or, without ``keep_softmax``, its raw input) and what fed only its labels leaves the graph (the label and
any ops between, such as the Reshape and Cast before an OCR model's WarpCTC); values computed from stored weights
alone are computed once (``folding.fold_constants``); float fused subgraph ops are replaced by the ops they fuse
(``fused.inline_fused``)."""
from __future__ import annotations

import dataclasses

from .folding import fold_constants
from .ir import Graph, Node, VarKind
from .semantics.fused import inline_fused
from .semantics.loss import LOSS_HEADS
from .symbol import reachable

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
    """A copy of ``graph`` whose loss heads compute their inference forward; the variables and nodes that only
    their labels read (directly or through other ops) are dropped."""
    graph = inline_fused(graph)
    forwards = [_forward(n, keep_softmax) if n.op in LOSS_HEADS else n for n in graph.nodes]
    read_before = reachable({**graph.variables, **graph.nodes_by_name()}, graph.outputs)
    read = reachable({**graph.variables, **{n.name: n for n in forwards}}, graph.outputs)
    nodes = [n for n in forwards if n.name in read]
    variables = {name: var for name, var in graph.variables.items()
                 if name in read or name not in read_before and var.kind is not VarKind.LABEL}
    params = {name: array for name, array in graph.params.items() if name in variables}
    aux = {name: array for name, array in graph.aux.items() if name in variables}
    return fold_constants(dataclasses.replace(graph, variables=variables, nodes=nodes, params=params, aux=aux))
