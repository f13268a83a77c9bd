"""The read graph rewritten into what runs at inference, for every target: each loss head becomes its forward
pass (or, without ``keep_softmax``, its raw input) and the labels it read leave the graph; values computed from
stored weights alone are computed once (``folding.fold_constants``)."""
from __future__ import annotations

import dataclasses


from .folding import fold_constants
from .ir import Graph, Node, VarKind
from .opdefs import LOSS_HEADS

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
    return fold_constants(dataclasses.replace(graph, variables=variables, nodes=nodes))
