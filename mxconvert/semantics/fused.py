"""MXNet's fused subgraph ops (``_sg_mkldnn_conv``, ``_sg_mkldnn_fully_connected``, ``_sg_mkldnn_selfatt_qk``,
``_sg_mkldnn_selfatt_valatt``): what ``net.optimize_for(x, backend='MKLDNN')`` and the quantization flow export.

Each holds one subgraph with the ops it fuses (Convolution, BatchNorm, Activation, the residual ``elemwise_add``;
FullyConnected and its activation; an interleaved attention product); its inputs feed the subgraph's variables
by position. A float one computes what its subgraph computes (MKLDNN folds the BatchNorm into the weights, a
float32 rounding apart), so :func:`inline_fused` puts the subgraph's ops back in the graph for every target.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from ..ir import Graph, Node, TensorRef, unique_name
from .inference import infer_shapes
from .rules import Shape, ShapeError, shape_rule
from .schema import COUNT, OpDef, REQUIRED, define, optional, parse_bool, parse_float32

# --- schemas: attributes (types, defaults), outputs -------------------------------------------------
CALIBRATED = (optional(parse_float32), None)  # a range calibrated for INT8 (unset: computed at run time)
_QUANTIZED = {"quantized": (parse_bool, False), "min_calib_range": CALIBRATED, "max_calib_range": CALIBRATED}
_FLOAT_OUTPUT = {"enable_float_output": (parse_bool, False)}


def quantized_outputs(attrs: dict[str, Any]) -> int:
    """A quantized op gives its data and the data's min and max, unless it outputs float32."""
    return 3 if attrs["quantized"] and not attrs.get("enable_float_output", False) else 1


define({
    "_sg_mkldnn_conv": OpDef({"with_bn": (parse_bool, False), "with_act": (parse_bool, False),
                              "with_sum": (parse_bool, False), "with_postsum_act": (parse_bool, False),
                              **_QUANTIZED}, outputs=quantized_outputs),
    "_sg_mkldnn_fully_connected": OpDef({"with_eltwise": (parse_bool, False),
                                         "channel_wise_quantize": (optional(parse_bool), None),
                                         **_QUANTIZED, **_FLOAT_OUTPUT}, outputs=quantized_outputs),
    "_sg_mkldnn_selfatt_qk": OpDef({"heads": (COUNT, REQUIRED), **_QUANTIZED, **_FLOAT_OUTPUT},
                                   outputs=quantized_outputs),
    "_sg_mkldnn_selfatt_valatt": OpDef({"heads": (COUNT, REQUIRED), **_QUANTIZED, **_FLOAT_OUTPUT},
                                       outputs=quantized_outputs),
})
FUSED = ("_sg_mkldnn_conv", "_sg_mkldnn_fully_connected", "_sg_mkldnn_selfatt_qk", "_sg_mkldnn_selfatt_valatt")


# --- shape rules (a quantized one's: its subgraph's, then the min and max), and the inlining pass ---------
@shape_rule(*FUSED)
def _fused_subgraph(node: Node, shapes: list[Shape]) -> list[Shape]:
    body = node.subgraphs[0]
    try:
        found = infer_shapes(body, dict(zip(body.variables, shapes)))
    except ShapeError as exc:
        raise ShapeError(f"in the subgraph of {node.name!r}: {exc}") from None
    outputs = [found[ref] for ref in body.outputs]
    return [*outputs, (1,), (1,)] if node.num_outputs == 3 else outputs


def check_fused(node: Node) -> str | None:
    """Why ``node``'s subgraph does not fit its inputs and outputs, or None."""
    if len(node.subgraphs) != 1:
        return f"holds {len(node.subgraphs)} subgraphs, expected 1"
    body = node.subgraphs[0]
    quantized = node.attrs["quantized"]  # the inputs go on with the data's and the weights' ranges
    if len(body.variables) > len(node.inputs) or not quantized and len(body.variables) < len(node.inputs):
        return f"its subgraph has {len(body.variables)} inputs, the node {len(node.inputs)}"
    if not quantized and len(body.outputs) != node.num_outputs:
        return f"its subgraph has {len(body.outputs)} outputs, the node {node.num_outputs}"
    return None


def is_float_fused(node: Node) -> bool:
    return node.op in FUSED and not node.attrs["quantized"]


def inline_fused(graph: Graph) -> Graph:
    """``graph`` with every float fused node replaced by the ops of its subgraph (within control-flow bodies
    too). The op writing the node's output takes the node's name, so the layer report still finds MXNet's
    fused output there; the other ops keep their names from the subgraph, made unique where taken."""
    if not any(is_float_fused(n) or n.subgraphs for n in graph.nodes):
        return graph
    taken = set(graph.variables) | {n.name for n in graph.nodes}
    renamed: dict[TensorRef, TensorRef] = {}
    nodes: list[Node] = []
    for node in graph.nodes:
        node = dataclasses.replace(node, inputs=[renamed.get(ref, ref) for ref in node.inputs])
        if is_float_fused(node):
            nodes.extend(_inlined(node, taken, renamed))
        elif node.subgraphs:
            nodes.append(dataclasses.replace(node, subgraphs=[inline_fused(body) for body in node.subgraphs]))
        else:
            nodes.append(node)
    outputs = [renamed.get(ref, ref) for ref in graph.outputs]
    return dataclasses.replace(graph, nodes=nodes, outputs=outputs)


def _inlined(node: Node, taken: set[str], renamed: dict[TensorRef, TensorRef]) -> list[Node]:
    """The ops of ``node``'s subgraph wired to its inputs; ``renamed`` learns where its outputs now are."""
    body = inline_fused(node.subgraphs[0])
    inner: dict[TensorRef, TensorRef] = {TensorRef(name): ref for name, ref in zip(body.variables, node.inputs)}
    writer = body.outputs[0].node if len(body.outputs) == 1 and body.outputs[0].index == 0 else None
    nodes = []
    for op in body.nodes:
        if op.name == writer:
            name, mxnet_name = node.name, node.mxnet_name
        else:
            name = unique_name(op.name, taken) if op.name in taken else op.name
            mxnet_name = op.source_name if name != op.name else op.mxnet_name
        taken.add(name)
        for index in range(op.num_outputs):
            inner[TensorRef(op.name, index)] = TensorRef(name, index)
        nodes.append(dataclasses.replace(op, name=name, mxnet_name=mxnet_name, inputs=[inner[ref] for ref in op.inputs]))
    for index, ref in enumerate(body.outputs):
        renamed[TensorRef(node.name, index)] = inner[ref]
    return nodes

