"""MXNet's symbol JSON made to run in float64, the exact reference, on MXNet 1.9.1's CPU kernels.

Every float32 ``dtype`` becomes float64, and the ops whose CPU kernels have no float64 form are rewritten into
float64-capable MXNet ops computing the same values in double, in control-flow bodies as in the graph (the
rewrite's last node keeps the node's name, so the layer report finds it):

* ``Crop``: ``slice`` (``slice_like`` for a second input's size); ``center_crop`` as ``take`` at
  floor((size - cropped size) / 2), the offset MXNet computes, read off the live shapes;
* ``SoftmaxActivation``: ``softmax`` over axis 1 (``channel``) or the last axis (``instance``: MXNet flattens
  all leading axes into rows);
* ``InstanceNorm``: mean and biased variance over the spatial axes, gamma * (x - mean) / sqrt(var + eps) + beta,
  with eps as the float32 value MXNet adds;
* ``LRN`` of an odd window: the channel sum of squares as a sum-pooling, x * (knorm + alpha / nsize * sum) **
  -beta;
* the interleaved attention products of GluonNLP (``_contrib_interleaved_matmul_{selfatt,encdec}_{qk,valatt}``):
  reshape, transpose and ``batch_dot``, the queries scaled by 1 / sqrt(head size) in the ``qk`` forms;
* ``amp_cast`` to float64: ``Cast`` (MKLDNN's amp_cast knows no float64).
* a ``_cond``'s condition: its value cast to float32, the type MXNet's ``_cond`` gives it.
* the float fused subgraph ops of ``optimize_for(backend='MKLDNN')`` (``_sg_mkldnn_*``): the ops of their subgraph.

``MultiBoxPrior``, ``MultiBoxDetection``, ``MultiBoxTarget``, ``Proposal``, ``MultiProposal``, ``GridGenerator``,
3-D ``Deconvolution``
and ``LRN`` of an even window run on float32 copies of their inputs, their outputs cast back to float64.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import numpy as np

from .semantics.fused import FUSED
from .semantics.schema import OPS, canonical_op

Ref = list  # [node index, output index, version], as the symbol JSON refers to an output

def float32_made_double(symbol_json: str) -> str:
    """The graph with every float32 ``dtype`` attribute made float64, given or left to its float32 default
    (``_arange``, ``Cast``, ``argsort``'s indices...), and every float32-only op rewritten (see the module), so
    that a float64 run computes in double throughout: the exact reference (GluonCV creates its anchor grids and
    sort indices in float32, and MXNet refuses to mix them with float64 data)."""
    return json.dumps(_made_double(json.loads(symbol_json)))  # as MXNet's ``tojson`` writes it: "attrs"


def _made_double(graph: dict) -> dict:
    """:func:`float32_made_double` on a parsed graph, control-flow bodies (``subgraphs``) included."""
    for node in graph["nodes"]:
        attrs = node.setdefault("attrs", {})
        schema = OPS.get(canonical_op(node["op"]))
        default = schema.attrs.get("dtype", (None, None))[1] if schema is not None else None
        if str(attrs.get("dtype", default)).strip("'\"") == "float32":
            attrs["dtype"] = "float64"
        if node.get("subgraphs"):
            node["subgraphs"] = [_made_double(body) for body in node["subgraphs"]]
        if node["op"] == "_cond":
            node["subgraphs"][0] = _condition_float32(node["subgraphs"][0])
    return _rewritten(graph)


def _condition_float32(body: dict) -> dict:
    """A ``_cond``'s condition ending in a cast to float32: MXNet types the condition's value float32 whatever
    the graph computes in."""
    (head,) = body["heads"]
    name = f"{body['nodes'][head[0]]['name']}_float32"
    body["nodes"].append({"op": "Cast", "name": name, "attrs": {"dtype": "float32"}, "inputs": [head]})
    body["heads"] = [[len(body["nodes"]) - 1, 0, 0]]
    return body


class _Builder:
    """The new node list; each added node refers to earlier ones by :data:`Ref`."""

    def __init__(self) -> None:
        self.nodes: list[dict] = []

    def add(self, op: str, name: str, inputs: list[Ref], **attrs: Any) -> Ref:
        self.nodes.append({"op": op, "name": name, "inputs": inputs,
                           "attrs": {key: str(value) for key, value in attrs.items()}})
        return [len(self.nodes) - 1, 0, 0]

    def copy(self, node: dict, inputs: list[Ref]) -> Ref:
        self.nodes.append({**node, "inputs": inputs})
        return [len(self.nodes) - 1, 0, 0]


Rewrite = Callable[[_Builder, dict, list[Ref]], Callable[[int], Ref]]


def _rewritten(graph: dict) -> dict:
    """The graph with each float32-only node replaced by its rewrite (:func:`_rewrite_of`)."""
    built = _Builder()
    heads = _added(built, graph, {})
    graph = {key: value for key, value in graph.items() if key != "node_row_ptr"}  # MXNet recomputes it
    graph["heads"] = heads
    graph["nodes"] = built.nodes
    graph["arg_nodes"] = [i for i, node in enumerate(built.nodes) if node["op"] == "null"]
    return graph


def _added(built: _Builder, graph: dict, bound: dict[int, Ref]) -> list[Ref]:
    """Add ``graph``'s nodes to ``built``, each float32-only one rewritten, its variables at ``bound`` (by node
    index) taken from there; its heads in the new graph."""
    outputs: list[Callable[[int], Ref]] = []  # old node index -> its outputs in the new graph
    for index, node in enumerate(graph["nodes"]):
        if index in bound:
            outputs.append(_single(bound[index]))
            continue
        inputs = [outputs[ref[0]](ref[1]) for ref in node.get("inputs", [])]
        rewrite = _rewrite_of(node)
        if rewrite is None:
            at = built.copy(node, inputs)[0]
            outputs.append(lambda index, at=at: [at, index, 0])
        else:
            outputs.append(rewrite(built, node, inputs))
    return [outputs[ref[0]](ref[1]) for ref in graph["heads"]]


def _fused(built: _Builder, node: dict, inputs: list[Ref]) -> Callable[[int], Ref]:
    """A float fused subgraph op (``_sg_mkldnn_*``, MKLDNN's float32 only): the ops of its subgraph."""
    body = node["subgraphs"][0]
    variables = [i for i, inner in enumerate(body["nodes"]) if inner["op"] == "null"]
    heads = _added(built, body, dict(zip(variables, inputs)))
    return lambda index: heads[index]


def _attrs(node: dict) -> dict[str, Any]:
    """The node's attributes parsed through its schema, defaults filled."""
    given = node.get("attrs", {})
    schema = OPS[canonical_op(node["op"])].attrs
    return {key: parser(given[key]) if key in given else default for key, (parser, default) in schema.items()}


def _single(at: Ref) -> Callable[[int], Ref]:
    return lambda index: at


def _step(built: _Builder, node: dict, label: str, op: str, inputs: list[Ref], **attrs: Any) -> Ref:
    """An intermediate node of ``node``'s rewrite, named after it."""
    return built.add(op, f"{node['name']}_double_{label}", inputs, **attrs)


def _crop(built: _Builder, node: dict, inputs: list[Ref]) -> Callable[[int], Ref]:
    attrs = _attrs(node)
    data, like = inputs[0], inputs[1] if len(inputs) > 1 else None
    if attrs["center_crop"]:
        return _single(_center_crop(built, node, data, like, attrs["h_w"]))
    (top, left), (height, width) = attrs["offset"], attrs["h_w"]
    if like is None:
        return _single(built.add("slice", node["name"], [data], begin=(None, None, top, left),
                                 end=(None, None, top + height, left + width)))
    cut = _step(built, node, "offset", "slice", [data], begin=(None, None, top, left), end=(None,) * 4)
    return _single(built.add("slice_like", node["name"], [cut, like], axes=(2, 3)))


def _center_crop(built: _Builder, node: dict, data: Ref, like: Ref | None, h_w: tuple[int, int]) -> Ref:
    """Rows, then columns, taken from floor((size - cropped size) / 2) on."""
    for axis, size in ((2, h_w[0]), (3, h_w[1])):
        def dim(source: Ref, label: str) -> Ref:
            shape = _step(built, node, f"shape_{label}{axis}", "shape_array", [source])
            return _step(built, node, f"size_{label}{axis}", "Cast",
                         [_step(built, node, f"dim_{label}{axis}", "slice_axis", [shape], axis=0, begin=axis,
                                end=axis + 1)], dtype="float64")
        if like is None:
            positions = _step(built, node, f"range{axis}", "_arange", [], start=0, stop=size, dtype="float64")
            spare = _step(built, node, f"spare{axis}", "_minus_scalar", [dim(data, "data")], scalar=size)
        else:
            positions = _step(built, node, f"range{axis}", "_contrib_arange_like", [like], axis=axis)
            spare = _step(built, node, f"spare{axis}", "elemwise_sub", [dim(data, "data"), dim(like, "like")])
        half = _step(built, node, f"offset{axis}", "floor",
                     [_step(built, node, f"half{axis}", "_mul_scalar", [spare], scalar=0.5)])
        indices = _step(built, node, f"indices{axis}", "broadcast_add", [positions, half])
        name = node["name"] if axis == 3 else f"{node['name']}_double_rows"
        data = built.add("take", name, [data, indices], axis=axis)
    return data


def _softmax_activation(built: _Builder, node: dict, inputs: list[Ref]) -> Callable[[int], Ref]:
    axis = 1 if _attrs(node)["mode"] == "channel" else -1
    return _single(built.add("softmax", node["name"], inputs[:1], axis=axis))


def _instance_norm(built: _Builder, node: dict, inputs: list[Ref]) -> Callable[[int], Ref]:
    data, gamma, beta = inputs
    eps = float(np.float32(_attrs(node)["eps"]))  # MXNet's parameter is a float
    rows = _step(built, node, "rows", "Reshape", [data], shape=(0, 0, -1))
    mean = _step(built, node, "mean", "mean", [rows], axis=2, keepdims=True)
    centred = _step(built, node, "centred", "broadcast_sub", [rows, mean])
    var = _step(built, node, "var", "mean", [_step(built, node, "square", "square", [centred])], axis=2,
                keepdims=True)
    std = _step(built, node, "std", "sqrt", [_step(built, node, "var_eps", "_plus_scalar", [var], scalar=eps)])
    scale, shift = (_step(built, node, label, "Reshape", [ref], shape=(1, -1, 1))
                    for label, ref in (("gamma", gamma), ("beta", beta)))
    normed = _step(built, node, "normed", "broadcast_div", [centred, std])
    out = _step(built, node, "shifted", "broadcast_add",
                [_step(built, node, "scaled", "broadcast_mul", [normed, scale]), shift])
    return _single(built.add("reshape_like", node["name"], [out, data]))


def _lrn(built: _Builder, node: dict, inputs: list[Ref]) -> Callable[[int], Ref]:
    attrs = _attrs(node)
    size = attrs["nsize"]
    if size % 2 == 0:
        return _in_float32(built, node, inputs)
    alpha, beta, knorm = (float(np.float32(attrs[key])) for key in ("alpha", "beta", "knorm"))
    square = _step(built, node, "square", "square", inputs[:1])
    rows = _step(built, node, "channels", "expand_dims",
                 [_step(built, node, "rows", "Reshape", [square], shape=(0, 0, -1))], axis=1)
    window = _step(built, node, "window", "Pooling", [rows], kernel=(size, 1), stride=(1, 1),
                   pad=(size // 2, 0), pool_type="sum")
    summed = _step(built, node, "sum", "reshape_like", [window, inputs[0]])
    norm = _step(built, node, "norm", "_plus_scalar",
                 [_step(built, node, "scaled", "_mul_scalar", [summed], scalar=alpha / size)], scalar=knorm)
    power = _step(built, node, "power", "_power_scalar", [norm], scalar=-beta)
    return _single(built.add("elemwise_mul", node["name"], [inputs[0], power]))


def _parts(built: _Builder, node: dict, label: str, packed: Ref, heads: int, count: int) -> Ref:
    """(sequence, batch, heads x count x size) -> SliceChannel of ``count`` (batch x heads, sequence, size)."""
    split = _step(built, node, f"{label}_heads", "Reshape", [packed], shape=(0, 0, heads, count, -1))
    moved = _step(built, node, f"{label}_moved", "transpose", [split], axes=(1, 2, 3, 0, 4))
    batches = _step(built, node, f"{label}_batches", "Reshape", [moved], shape=(-3, -2))
    return _step(built, node, label, "SliceChannel", [batches], num_outputs=count, axis=1, squeeze_axis=True)


def _scores(built: _Builder, node: dict, queries: Ref, keys: Ref) -> Callable[[int], Ref]:
    scaled = _step(built, node, "scaled", "_contrib_div_sqrt_dim", [queries])
    return _single(built.add("batch_dot", node["name"], [scaled, keys], transpose_b=True))


def _weighted(built: _Builder, node: dict, attention: Ref, values: Ref, heads: int) -> Callable[[int], Ref]:
    """Attention maps applied to the values, back to (sequence, batch, heads x size)."""
    out = _step(built, node, "weighted", "batch_dot", [attention, values])
    split = _step(built, node, "split", "Reshape", [out], shape=(-4, -1, heads, -2))
    moved = _step(built, node, "moved", "transpose", [split], axes=(2, 0, 1, 3))
    return _single(built.add("Reshape", node["name"], [moved], shape=(0, 0, -1)))


def _heads(node: dict) -> int:
    return int(node["attrs"]["heads"])


def _selfatt_qk(built: _Builder, node: dict, inputs: list[Ref]) -> Callable[[int], Ref]:
    qkv = _parts(built, node, "qkv", inputs[0], _heads(node), 3)
    return _scores(built, node, [qkv[0], 0, 0], [qkv[0], 1, 0])


def _selfatt_valatt(built: _Builder, node: dict, inputs: list[Ref]) -> Callable[[int], Ref]:
    qkv = _parts(built, node, "qkv", inputs[0], _heads(node), 3)
    return _weighted(built, node, inputs[1], [qkv[0], 2, 0], _heads(node))


def _encdec_qk(built: _Builder, node: dict, inputs: list[Ref]) -> Callable[[int], Ref]:
    queries = _parts(built, node, "q", inputs[0], _heads(node), 1)
    kv = _parts(built, node, "kv", inputs[1], _heads(node), 2)
    return _scores(built, node, queries, [kv[0], 0, 0])


def _encdec_valatt(built: _Builder, node: dict, inputs: list[Ref]) -> Callable[[int], Ref]:
    kv = _parts(built, node, "kv", inputs[0], _heads(node), 2)
    return _weighted(built, node, inputs[1], [kv[0], 1, 0], _heads(node))


def _in_float32(built: _Builder, node: dict, inputs: list[Ref]) -> Callable[[int], Ref]:
    """The node on float32 copies of its inputs; each output read is cast back to float64."""
    copies = [_step(built, node, f"float32_{i}", "Cast", [ref], dtype="float32") for i, ref in enumerate(inputs)]
    at = built.copy(node, copies)[0]
    cast: dict[int, Ref] = {}

    def output(index: int) -> Ref:
        if index not in cast:
            cast[index] = _step(built, node, f"float64_{index}", "Cast", [[at, index, 0]], dtype="float64")
        return cast[index]
    return output


REWRITES: dict[str, Rewrite] = {
    "Crop": _crop,
    "SoftmaxActivation": _softmax_activation,
    "InstanceNorm": _instance_norm,
    "LRN": _lrn,
    "_contrib_interleaved_matmul_selfatt_qk": _selfatt_qk,
    "_contrib_interleaved_matmul_selfatt_valatt": _selfatt_valatt,
    "_contrib_interleaved_matmul_encdec_qk": _encdec_qk,
    "_contrib_interleaved_matmul_encdec_valatt": _encdec_valatt,
    "_contrib_MultiBoxPrior": _in_float32,
    "_contrib_MultiBoxDetection": _in_float32,
    "_contrib_MultiBoxTarget": _in_float32,
    "_contrib_Proposal": _in_float32,
    "_contrib_MultiProposal": _in_float32,
    "GridGenerator": _in_float32,
}


def _rewrite_of(node: dict) -> Rewrite | None:
    """How ``node`` runs in float64 where MXNet's CPU kernel cannot; None where it can."""
    op = canonical_op(node["op"])
    if op in FUSED and node.get("subgraphs") and not _attrs(node)["quantized"]:
        return _fused
    if op == "amp_cast" and node["attrs"].get("dtype") == "float64":
        return lambda built, node, inputs: _single(built.copy({**node, "op": "Cast"}, inputs))
    if op == "Deconvolution":
        return _in_float32 if len(_attrs(node)["kernel"]) == 3 else None
    return REWRITES.get(op)
