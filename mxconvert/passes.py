"""Graph rewrites that any target can apply before emitting: IR in, IR out, and a record of what they did."""
from __future__ import annotations

import dataclasses

import numpy as np

from .ir import Graph, Node, TensorRef, Variable, VarKind
from .semantics.convolution import is_channels_last


def foldable_batch_norms(graph: Graph) -> dict[str, Node]:
    """Convolution name -> the inference BatchNorm over its channels that is its only reader (the convolution's
    output no graph output, the weights of both stored)."""
    uses = graph.consumers()
    heads = set(graph.outputs)
    nodes = graph.nodes_by_name()
    folded: dict[str, Node] = {}
    for node in graph.nodes:
        if node.op != "BatchNorm" or node.attrs["output_mean_var"]:
            continue
        source = node.inputs[0]
        producer = nodes.get(source.node)
        if (producer is None or producer.op != "Convolution" or source in heads
                or is_channels_last(producer.attrs["layout"])):
            continue
        rank = len(producer.attrs["kernel"]) + 2
        stored = all(ref.node in graph.params for ref in producer.inputs[1:]) and all(
            ref.node in graph.params or ref.node in graph.aux for ref in node.inputs[1:5])
        if stored and node.attrs["axis"] % rank == 1 and [n.name for n in uses[source]] == [node.name]:
            folded[producer.name] = node
    return folded


def folded_weights(graph: Graph, conv: Node, bn: Node) -> tuple[np.ndarray, np.ndarray]:
    """The convolution's weight and bias with the BatchNorm after it folded in (float64, then float32):
    ``gamma / sqrt(var + eps)`` scales each output channel, ``fix_gamma`` reads gamma as 1 as MXNet does."""
    weight = graph.weight(conv.inputs[1].node)
    bias = None if conv.attrs["no_bias"] else graph.weight(conv.inputs[2].node)
    gamma, beta, mean, var = (graph.weight(ref.node).astype(np.float64) for ref in bn.inputs[1:5])
    if bn.attrs["fix_gamma"]:
        gamma = np.ones_like(gamma)
    scale = gamma / np.sqrt(var + bn.attrs["eps"])
    folded = weight.astype(np.float64) * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    shift = (0.0 if bias is None else bias.astype(np.float64)) - mean
    return folded.astype(np.float32), (shift * scale + beta).astype(np.float32)


def fold_batch_norms(graph: Graph) -> tuple[Graph, dict[str, str]]:
    """A copy of ``graph`` with each foldable BatchNorm (:func:`foldable_batch_norms`) folded into the
    Convolution before it, which takes the BatchNorm's place for its readers; and the record ``BatchNorm name
    -> Convolution name`` (the convolution's output now is the BatchNorm's). The folded weights are new
    parameters ``<conv>_folded_weight`` / ``_bias``: a weight other nodes share stays as it was for them."""
    pairs = foldable_batch_norms(graph)
    if not pairs:
        return graph, {}
    into = {bn.name: conv for conv, bn in pairs.items()}
    variables, params = dict(graph.variables), dict(graph.params)

    def moved(ref: TensorRef) -> TensorRef:
        return TensorRef(into[ref.node], ref.index) if ref.node in into else ref

    nodes = []
    for node in graph.nodes:
        if node.name in into:
            continue
        if node.name in pairs:
            weight, bias = folded_weights(graph, node, pairs[node.name])
            names = [f"{node.name}_folded_weight", f"{node.name}_folded_bias"]
            for name, array in zip(names, (weight, bias)):
                variables[name] = Variable(name, VarKind.PARAM, array.shape, array.dtype)
                params[name] = array
            node = dataclasses.replace(node, attrs={**node.attrs, "no_bias": False},
                                       inputs=[node.inputs[0], *(TensorRef(name) for name in names)])
        nodes.append(dataclasses.replace(node, inputs=[moved(ref) for ref in node.inputs]))
    used = {ref.node for node in nodes for ref in node.inputs}
    variables = {name: var for name, var in variables.items() if name in used}
    folded = dataclasses.replace(graph, variables=variables, nodes=nodes, outputs=[moved(r) for r in graph.outputs],
                                 params={k: v for k, v in params.items() if k in variables},
                                 aux={k: v for k, v in graph.aux.items() if k in variables})
    return folded, into
