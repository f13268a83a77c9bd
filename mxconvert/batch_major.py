"""GluonNLP's time-major encoders computed batch-major: an IR pass every target runs before emitting.

GluonNLP's BERT family transposes its embeddings to (sequence, batch, units), runs its encoder there with
interleaved self-attention products (``_contrib_interleaved_matmul_selfatt_*`` reading one projection that
interleaves queries, keys and values per head) and a length softmax, and transposes back after a
``SequenceMask``. Between such a ``transpose(axes=(1, 0, 2))`` pair this pass computes the same values
batch-major (axes 0 and 1 swapped), and each interleaved self-attention as three projections with de-interleaved
stored weights and a scaled dot-product attention whose key mask is added to the scores: ``(1 - mask) * lowest``
of a (batch, keys) mask from the valid lengths. That is the layout and the op pattern of the BERT exports
runtimes and their optimizers recognise (ONNX Runtime's Attention fusion), in MXNet ops both emitters convert.

Exactness: a masked score plus the lowest float is (rounded to) the lowest float, whose exponent after the
row's maximum is 0, so the weights are MXNet's length softmax's; a sequence of length 0, whose weights MXNet sets
to 0, attends uniformly here, which only the encoder's closing ``SequenceMask`` (required) reads, and zeroes.
The nodes whose values changed layout are renamed (``<name>_batch_major``) so that nothing compares them with
MXNet's; the closing transpose keeps its name and value. A graph with no such region is returned unchanged.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .errors import MxConvertError
from .ir import Graph, Node, TensorRef, Variable, VarKind
from .semantics.attention import interleaved_heads
from .semantics.elementwise import BINARY_FORMS, UNARY_MATH
from .semantics.inference import inferred_shapes
from .semantics.rules import Shape
from .semantics.schema import OPS, REQUIRED
from .symbol import reachable

SUFFIX = "_batch_major"
_SWAP = (1, 0, 2)
_LAYOUT_FREE = {"_copy", "BlockGrad", "Activation", "zeros_like", "ones_like", *UNARY_MATH,
                *(op for op, form in BINARY_FORMS.items() if form.form == "scalar")}
_QK, _VALATT = "_contrib_interleaved_matmul_selfatt_qk", "_contrib_interleaved_matmul_selfatt_valatt"


def make_node(name: str, op: str, inputs: list[TensorRef], **attrs: Any) -> Node:
    """A node of ``op`` with its schema's defaults for the attributes not given."""
    typed = {key: attrs[key] if key in attrs else default for key, (_, default) in OPS[op].attrs.items()}
    missing = [key for key, value in typed.items() if value is REQUIRED]
    if missing:
        raise ValueError(f"{op} needs {', '.join(missing)}")
    return Node(name, op, typed, inputs)


@dataclasses.dataclass
class _Cell:
    """One interleaved self-attention: its projection, the nodes it replaces, its heads and the lengths."""

    projection: Node
    replaced: list[str]
    output: Node  # the valatt product, whose place the attention takes
    heads: int
    size: int
    lengths: TensorRef  # (batch, queries) valid lengths, equal along each row


@dataclasses.dataclass
class _Region:
    entry: Node
    actions: dict[str, str]  # node -> "rename", "axis" (the same value, batch-major axes), "exit", "cell"
    cells: dict[str, _Cell]  # by the valatt node's name
    expanded: set[str]  # expand_dims(axis=1) broadcast against time-major values: made expand_dims(axis=0)


class _Matcher:
    def __init__(self, graph: Graph, shapes: dict[TensorRef, Shape]):
        self.graph, self.shapes = graph, shapes
        self.nodes = graph.nodes_by_name()
        self.uses = graph.consumers()
        self.heads = set(graph.outputs)

    def producer(self, ref: TensorRef) -> Node | None:
        return self.nodes.get(ref.node)

    def only_reader(self, ref: TensorRef) -> Node | None:
        readers = self.uses.get(ref, [])
        return readers[0] if len(readers) == 1 and ref not in self.heads else None

    def region(self, entry: Node) -> _Region | None:
        """The time-major region after ``entry``, or None where some node in it cannot be computed
        batch-major."""
        region = _Region(entry, {}, {}, set())
        time_major = {entry.output()}
        start = self.graph.nodes.index(entry) + 1
        for node in self.graph.nodes[start:]:
            if node.name in region.actions or not any(ref in time_major for ref in node.inputs):
                continue
            action = self.classify(node, time_major, region)
            if action is None:
                return None
            region.actions[node.name] = action
            if action == "rename":
                time_major.add(node.output())
        if time_major & self.heads or not region.cells or "exit" not in region.actions.values():
            return None
        return region

    def classify(self, node: Node, time_major: set[TensorRef], region: _Region) -> str | None:
        a, op = node.attrs, node.op
        first = node.inputs[0] in time_major
        if op == "transpose" and tuple(a["axes"]) == _SWAP:
            return "exit"
        if op == "_contrib_arange_like" and first and a["axis"] in (0, 1):
            return "axis"
        if op == "SequenceMask" and first and a["axis"] == 0 and not time_major.intersection(node.inputs[1:]):
            return "rename"
        if op in BINARY_FORMS and BINARY_FORMS[op].form in ("elementwise", "broadcast"):
            return self.binary(node, time_major, region)
        if not first or time_major.intersection(node.inputs[1:]):
            return None
        if op in _LAYOUT_FREE or op == "Dropout" and not a["axes"]:
            return "rename"
        if op == "LeakyReLU" and a["act_type"] != "prelu":
            return "rename"
        if op == "LayerNorm" and a["axis"] in (-1, 2) and not a["output_mean_var"]:
            return "rename"
        if op == "FullyConnected" and not a["flatten"]:
            cell = self.cell(node, time_major)
            if cell is None:
                return "rename"
            region.cells[cell.output.name] = cell
            region.actions.update(dict.fromkeys(cell.replaced, "cell"))
            time_major.add(cell.output.output())
            return "cell"
        return None

    def binary(self, node: Node, time_major: set[TensorRef], region: _Region) -> str | None:
        """Both operands time-major, or the other one without the batch and sequence axes or an
        ``expand_dims(axis=1)`` of (sequence, units) values, made ``expand_dims(axis=0)``."""
        other = [ref for ref in node.inputs if ref not in time_major]
        if not other:
            return "rename"
        if BINARY_FORMS[node.op].form != "broadcast" or len(other) != 1:
            return None
        shape, producer = self.shapes[other[0]], self.producer(other[0])
        if len(shape) <= 1:
            return "rename"
        if (producer is not None and producer.op == "expand_dims" and producer.attrs["axis"] == 1
                and len(shape) == 3 and shape[1] == 1):
            region.expanded.add(producer.name)
            return "rename"
        return None

    def cell(self, projection: Node, time_major: set[TensorRef]) -> _Cell | None:
        """The interleaved self-attention reading ``projection`` (stored weights), if it has the form of
        GluonNLP's: scores -> length softmax -> inference dropouts -> attended values."""
        out = projection.output()
        readers = self.uses.get(out, [])
        if out in self.heads or sorted(n.op for n in readers) != sorted((_QK, _VALATT)):
            return None
        qk, valatt = sorted(readers, key=lambda n: n.op != _QK)
        stored = [ref.node in self.graph.params for ref in projection.inputs[1:]]
        if not all(stored) or qk.attrs["heads"] != valatt.attrs["heads"] or valatt.inputs[0] != out:
            return None
        try:
            heads, size = interleaved_heads(qk, [self.shapes[out]])
        except MxConvertError:
            return None
        softmax = self.only_reader(qk.output())
        if (softmax is None or softmax.op != "softmax" or not softmax.attrs["use_length"]
                or softmax.attrs["axis"] not in (-1, 2) or softmax.attrs["temperature"] not in (None, 1.0)
                or softmax.attrs["dtype"] not in (None, "float32") or softmax.inputs[0] != qk.output()):
            return None
        replaced, probs = [qk.name, softmax.name], softmax.output()
        while (reader := self.only_reader(probs)) is not None and reader.op == "Dropout" \
                and reader.attrs["mode"] != "always":
            replaced.append(reader.name)
            probs = reader.output()
        if self.only_reader(probs) is not valatt or valatt.inputs[1] != probs:
            return None
        lengths = self.row_lengths(softmax.inputs[1], heads)
        return None if lengths is None else _Cell(projection, [*replaced, valatt.name], valatt, heads, size, lengths)

    def row_lengths(self, ref: TensorRef, heads: int) -> TensorRef | None:
        """The (batch, queries) lengths that GluonNLP repeats per head for the softmax (expand_dims(axis=1),
        broadcast_axis over the heads, reshaped to (batch * heads, queries)), where they are equal along each
        row: one length per sequence."""
        reshape = self.producer(ref)
        if reshape is None or reshape.op != "Reshape" or not (reshape.attrs["reverse"]
                                                               and tuple(reshape.attrs["shape"]) == (-1, 0)):
            return None
        repeat = self.producer(reshape.inputs[0])
        if repeat is None or repeat.op != "broadcast_axis" or tuple(repeat.attrs["axis"]) != (1,) \
                or tuple(repeat.attrs["size"]) != (heads,):
            return None
        expand = self.producer(repeat.inputs[0])
        if expand is None or expand.op != "expand_dims" or expand.attrs["axis"] != 1:
            return None
        lengths = expand.inputs[0]
        return lengths if len(self.shapes[lengths]) == 2 and self.rows_constant(lengths) else None

    def rows_constant(self, ref: TensorRef) -> bool:
        """Whether the 2-D ``ref`` is equal along its last axis, by how it is made."""
        if self.shapes[ref][-1] == 1 or self.uniform(ref):
            return True
        node = self.producer(ref)
        if node is None:
            return False
        if node.op in ("Cast", "_copy") or node.op in BINARY_FORMS and BINARY_FORMS[node.op].form == "scalar":
            return self.rows_constant(node.inputs[0])
        if node.op in BINARY_FORMS and BINARY_FORMS[node.op].form == "broadcast":
            return all(len(self.shapes[r]) == 2 and self.rows_constant(r) for r in node.inputs)
        return False

    def uniform(self, ref: TensorRef) -> bool:
        """Whether every element of ``ref`` is the same, by how it is made."""
        node = self.producer(ref)
        if node is None:
            return False
        return node.op in ("zeros_like", "ones_like") or node.op in ("Reshape", "Cast", "_copy") \
            and self.uniform(node.inputs[0])


def _projection_weights(graph: Graph, cell: _Cell) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """The query, key and value weights and biases of the interleaved projection: its rows are
    (heads, 3, size) blocks."""
    fc, heads, size = cell.projection, cell.heads, cell.size
    weight = graph.params[fc.inputs[1].node]
    split = weight.reshape(heads, 3, size, weight.shape[-1])
    bias = None if fc.attrs["no_bias"] else graph.params[fc.inputs[2].node].reshape(heads, 3, size)
    return [(np.ascontiguousarray(split[:, part].reshape(heads * size, -1)),
             None if bias is None else np.ascontiguousarray(bias[:, part].reshape(-1))) for part in range(3)]


class _Builder:
    """The rewritten graph, node by node."""

    def __init__(self, graph: Graph, lowest: float):
        self.graph, self.lowest = graph, lowest
        self.nodes: list[Node] = []
        self.renamed: dict[TensorRef, TensorRef] = {}
        self.params: dict[str, np.ndarray] = {}
        self.masks: dict[TensorRef, TensorRef] = {}  # row lengths -> additive key mask
        self.expansions: dict[str, TensorRef] = {}  # expand_dims(axis=1) -> its expand_dims(axis=0)
        self.taken = set(graph.variables) | {n.name for n in graph.nodes}

    def name(self, wanted: str) -> str:
        name, count = wanted, 0
        while name in self.taken:
            count += 1
            name = f"{wanted}{count}"
        self.taken.add(name)
        return name

    def ref(self, ref: TensorRef) -> TensorRef:
        return self.renamed.get(ref, ref)

    def add(self, wanted: str, op: str, inputs: list[TensorRef], **attrs: Any) -> TensorRef:
        node = make_node(self.name(wanted), op, [self.ref(r) for r in inputs], **attrs)
        self.nodes.append(node)
        return node.output()

    def weight(self, wanted: str, array: np.ndarray) -> TensorRef:
        name = self.name(wanted)
        self.params[name] = array
        return TensorRef(name)

    def key_mask(self, entry: Node, lengths: TensorRef) -> TensorRef:
        """``(1 - (position < length)) * lowest``, (batch, 1, 1, keys), in the form ONNX Runtime's Attention
        fusion reads as a 2-D mask: Mul(Sub(1, Unsqueeze(Unsqueeze(mask))), lowest)."""
        if lengths not in self.masks:
            base = entry.name
            positions = self.add(f"{base}_positions", "_contrib_arange_like", [entry.inputs[0]], axis=1)
            row = self.add(f"{base}_key_positions", "Reshape", [positions], shape=(1, -1))
            limits = self.add(f"{lengths.node}_float", "Cast", [lengths], dtype="float32")
            mask = self.add(f"{lengths.node}_key_mask", "broadcast_lesser", [row, limits])
            heads = self.add(f"{lengths.node}_key_mask_heads", "expand_dims", [mask], axis=1)
            queries = self.add(f"{lengths.node}_key_mask_queries", "expand_dims", [heads], axis=1)
            masked = self.add(f"{lengths.node}_key_masked", "_rminus_scalar", [queries], scalar=1.0)
            self.masks[lengths] = self.add(f"{lengths.node}_key_penalty", "_mul_scalar", [masked],
                                           scalar=self.lowest)
        return self.masks[lengths]

    def attention(self, entry: Node, cell: _Cell) -> None:
        """Queries, keys and values projected apart, split into heads (batch, heads, sequence, size), the
        scaled and masked scores' softmax applied to the values, heads joined back: (batch, sequence, units)."""
        fc, heads, size = cell.projection, cell.heads, cell.size
        data = fc.inputs[0]
        parts = []
        for role, (weight, bias), order in zip(("query", "key", "value"), _projection_weights(self.graph, cell),
                                               ((0, 2, 1, 3), (0, 2, 3, 1), (0, 2, 1, 3))):
            stored = [self.weight(f"{fc.name}_{role}_weight", weight)]
            if bias is not None:
                stored.append(self.weight(f"{fc.name}_{role}_bias", bias))
            projected = self.add(f"{fc.name}_{role}", "FullyConnected", [data, *stored], num_hidden=heads * size,
                                 no_bias=bias is None, flatten=False)
            split = self.add(f"{fc.name}_{role}_heads", "Reshape", [projected], shape=(0, 0, heads, size))
            parts.append(self.add(f"{fc.name}_{role}_transposed", "transpose", [split], axes=order))
        qk, softmax = (self.graph.node(name) for name in cell.replaced[:2])
        scores = self.add(f"{qk.name}{SUFFIX}", "batch_dot", parts[:2])
        root = float(np.sqrt(np.float32(size)))
        scaled = self.add(f"{qk.name}_scaled", "_div_scalar", [scores], scalar=root)
        masked = self.add(f"{softmax.name}_masked", "broadcast_add", [scaled, self.key_mask(entry, cell.lengths)])
        weights = self.add(f"{softmax.name}{SUFFIX}", "softmax", [masked], axis=-1)
        attended = self.add(f"{cell.output.name}_heads", "batch_dot", [weights, parts[2]])
        joined = self.add(f"{cell.output.name}_transposed", "transpose", [attended], axes=(0, 2, 1, 3))
        self.renamed[cell.output.output()] = self.add(f"{cell.output.name}{SUFFIX}", "Reshape", [joined],
                                                      shape=(0, 0, -1))

    def expanded(self, node: Node) -> TensorRef:
        """``expand_dims(axis=0)`` in place of ``node``'s ``expand_dims(axis=1)`` of (sequence, units)."""
        if node.name not in self.expansions:
            self.expansions[node.name] = self.add(f"{node.name}{SUFFIX}", "expand_dims", node.inputs, axis=0)
        return self.expansions[node.name]

    def region(self, node: Node, region: _Region) -> None:
        """``node``'s place in the rewritten graph."""
        action = region.actions.get(node.name)
        if node is region.entry:
            self.renamed[node.output()] = node.inputs[0]
        elif action == "cell":
            if node.name in region.cells:
                self.attention(region.entry, region.cells[node.name])
        elif action == "exit":
            self.nodes.append(Node(node.name, "_copy", {}, [self.ref(node.inputs[0])], 1, node.hints,
                                   node.mxnet_name))
        elif action == "axis":
            self.nodes.append(dataclasses.replace(node, inputs=[self.ref(r) for r in node.inputs],
                                                  attrs={**node.attrs, "axis": 1 - node.attrs["axis"]}))
        elif action == "rename":
            attrs = {**node.attrs, "axis": 1} if node.op == "SequenceMask" else node.attrs
            inputs = [self.expanded(self.graph.node(r.node)) if r.node in region.expanded else self.ref(r)
                      for r in node.inputs]
            renamed = dataclasses.replace(node, name=self.name(f"{node.name}{SUFFIX}"), mxnet_name="", attrs=attrs,
                                          inputs=inputs)
            self.nodes.append(renamed)
            self.renamed[node.output()] = renamed.output()
        else:
            self.nodes.append(dataclasses.replace(node, inputs=[self.ref(r) for r in node.inputs]))


def batch_major_attention(graph: Graph, input_shapes: Shape | dict[str, Shape],
                          lowest: float = float(np.finfo(np.float32).min)) -> tuple[Graph, dict[str, str]]:
    """A copy of ``graph`` whose GluonNLP time-major encoders run batch-major with standard attention (see the
    module), and the record ``interleaved projection -> its attention's output node``. ``input_shapes``: as
    ``inferred_shapes`` takes them; ``lowest``: the masked scores' penalty (the model's lowest float)."""
    if not any(n.op == _QK for n in graph.nodes):
        return graph, {}
    matcher = _Matcher(graph, inferred_shapes(graph, input_shapes))
    regions: list[_Region] = []
    claimed: set[str] = set()
    for node in graph.nodes:
        if node.op == "transpose" and tuple(node.attrs["axes"]) == _SWAP and node.name not in claimed:
            found = matcher.region(node)
            if found is not None and not claimed & set(found.actions):
                regions.append(found)
                claimed.update(found.actions, [node.name])
    if not regions:
        return graph, {}
    builder = _Builder(graph, lowest)
    owner = {name: region for region in regions for name in (*region.actions, region.entry.name)}
    for node in graph.nodes:
        region = owner.get(node.name)
        if region is None:
            builder.nodes.append(dataclasses.replace(node, inputs=[builder.ref(r) for r in node.inputs]))
        else:
            builder.region(node, region)
    outputs = [builder.ref(r) for r in graph.outputs]
    variables = dict(graph.variables)
    params = {**graph.params, **builder.params}
    for name, array in builder.params.items():
        variables[name] = Variable(name, VarKind.PARAM, array.shape, array.dtype)
    live = reachable({**variables, **{n.name: n for n in builder.nodes}}, outputs)
    variables = {name: var for name, var in variables.items()
                 if name in live or var.kind in (VarKind.INPUT, VarKind.LABEL)}
    record = {cell.projection.name: builder.ref(cell.output.output()).node
              for region in regions for cell in region.cells.values()}
    rewritten = dataclasses.replace(graph, variables=variables, nodes=[n for n in builder.nodes if n.name in live],
                                    outputs=outputs, params={k: v for k, v in params.items() if k in variables},
                                    aux={k: v for k, v in graph.aux.items() if k in variables})
    return rewritten, record
