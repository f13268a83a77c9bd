"""The rows of the layer report: one probe per output of each op node, in graph order, and their split into
chunks of bounded memory."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ..ir import Graph, Node, TensorRef
from ..semantics.control_flow import body_shapes, body_slots

CHUNK_BYTES = 64 << 20
# the subgraphs whose nodes get rows, per control-flow op (a ``_while_loop``'s condition is left out: the targets
# evaluate it in more places than MXNet's loop does)
TAPPED_BODIES = {"_foreach": (0,), "_while_loop": (1,), "_cond": (0, 1, 2)}


@dataclass(frozen=True)
class Probe:
    """Output ``index`` of MXNet node ``node``: one row of the report."""

    node: str
    index: int
    outputs: int  # how many outputs the node has
    op: str
    shape: tuple[int, ...]
    mxnet_slot: tuple[str, int] = ("", 0)  # (name in the symbol file, how many outputs of that name came before)
    owner: str = ""  # a body node's: the control-flow node (``node`` is ``owner/inner``)
    subgraph: int = 0  # a body node's: which subgraph of the owner holds it
    stacked: bool = False  # a loop body node's: its value is every step's, stacked along a new axis 0

    @property
    def inner(self) -> str:
        """A body node's name within its subgraph."""
        return self.node[len(self.owner) + 1:]

    @property
    def label(self) -> str:
        return self.node if self.outputs == 1 else f"{self.node}:{self.index}"

    @property
    def onnx_name(self) -> str:
        from ..to_onnx.context import tensor_name

        return tensor_name(self.node, self.index, self.outputs)


def node_slots(graph: Graph) -> dict[TensorRef, tuple[str, int]]:
    """Each variable's and node output's slot in MXNet's internals: (name in the symbol file, how many outputs of
    that name came before; nodes may repeat a name)."""
    seen = dict.fromkeys(graph.variables, 1)
    slots = {TensorRef(name): (name, 0) for name in graph.variables}
    for node in graph.nodes:
        first = seen.get(node.source_name, 0)
        seen[node.source_name] = first + node.num_outputs
        slots.update((node.output(index), (node.source_name, first + index)) for index in range(node.num_outputs))
    return slots


def probes_of(graph: Graph, shapes: dict[tuple[str, int], tuple[int, ...]]) -> list[Probe]:
    """Every op node's outputs in graph order, with MXNet's inferred shapes (keyed by their internals' slots),
    a control-flow node's body nodes before it."""
    slots = node_slots(graph)
    probes = []
    for node in graph.nodes:
        if node.op in TAPPED_BODIES and all(slots[ref] in shapes for ref in node.inputs):
            probes += body_probes(node, [shapes[slots[ref]] for ref in node.inputs])
        for index in range(node.num_outputs):
            slot = slots[node.output(index)]
            if slot in shapes:
                probes.append(Probe(node.name, index, node.num_outputs, node.op, shapes[slot], slot))
    return probes


def body_probes(node: Node, in_shapes: list[tuple[int, ...]]) -> list[Probe]:
    """The rows of a control-flow node's body nodes (``owner/inner``), before the node's own: a loop's with the
    steps on a new axis 0 (``_foreach``: as many as its data rows; ``_while_loop``: at most ``max_iterations``)."""
    lead = (in_shapes[0][:1] if node.op == "_foreach" else (node.attrs["max_iterations"],)
            if node.op == "_while_loop" else ())
    shapes = body_shapes(node, in_shapes)
    return [Probe(f"{node.name}/{inner.name}", index, inner.num_outputs, inner.op,
                  (*lead, *shapes[sub][inner.output(index)]), owner=node.name, subgraph=sub, stacked=bool(lead))
            for sub in TAPPED_BODIES[node.op] for inner in node.subgraphs[sub].nodes
            for index in range(inner.num_outputs) if inner.output(index) in shapes[sub]]


def probe_inputs(graph: Graph, probes: Sequence[Probe]) -> dict[int, list[int]]:
    """Probe position -> positions of the probes it reads; a body node's reads of the body's inputs are its
    owner's inputs."""
    position = {(p.node, p.index): i for i, p in enumerate(probes)}
    reads: dict[tuple[str, int], list[TensorRef]] = {}
    for node in graph.nodes:
        for index in range(node.num_outputs):
            reads[(node.name, index)] = node.inputs
        for sub in TAPPED_BODIES.get(node.op, ()):
            outer = dict(zip(node.subgraphs[sub].variables, (node.inputs[slot] for slot in body_slots(node)[sub])))
            for inner in node.subgraphs[sub].nodes:
                refs = [outer.get(ref.node) or TensorRef(f"{node.name}/{ref.node}", ref.index) for ref in inner.inputs]
                for index in range(inner.num_outputs):
                    reads[(f"{node.name}/{inner.name}", index)] = refs
    return {i: [position[(r.node, r.index)] for r in reads.get((p.node, p.index), []) if (r.node, r.index) in position]
            for i, p in enumerate(probes)}


def chunks(probes: Sequence[Probe], rows: int, budget: int) -> list[list[Probe]]:
    """Consecutive probes whose float32 tensors (``rows`` images) total at most ``budget`` bytes each."""
    out: list[list[Probe]] = [[]]
    used = 0
    for probe in probes:
        size = 4 * rows * math.prod(probe.shape[1:])
        if out[-1] and used + size > budget:
            out.append([])
            used = 0
        out[-1].append(probe)
        used += size
    return [chunk for chunk in out if chunk]
