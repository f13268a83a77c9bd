"""The rows of the layer report: one probe per output of each op node, in graph order, and their split into
chunks of bounded memory."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ..ir import Graph

CHUNK_BYTES = 64 << 20


@dataclass(frozen=True)
class Probe:
    """Output ``index`` of MXNet node ``node``: one row of the report."""

    node: str
    index: int
    outputs: int  # how many outputs the node has
    op: str
    shape: tuple[int, ...]
    mxnet_slot: tuple[str, int] = ("", 0)  # (name in the symbol file, how many outputs of that name came before)

    @property
    def label(self) -> str:
        return self.node if self.outputs == 1 else f"{self.node}:{self.index}"

    @property
    def onnx_name(self) -> str:
        from ..to_onnx.context import tensor_name

        return tensor_name(self.node, self.index, self.outputs)


def probes_of(graph: Graph, shapes: dict[tuple[str, int], tuple[int, ...]]) -> list[Probe]:
    """Every op node's outputs in graph order, with MXNet's inferred shapes (keyed by name and the output's
    number among those of that name: nodes may repeat a name)."""
    seen = dict.fromkeys(graph.variables, 1)  # outputs per symbol-file name, as MXNet numbers its internals
    probes = []
    for node in graph.nodes:
        first = seen.get(node.source_name, 0)
        seen[node.source_name] = first + node.num_outputs
        for index in range(node.num_outputs):
            slot = (node.source_name, first + index)
            if slot in shapes:
                probes.append(Probe(node.name, index, node.num_outputs, node.op, shapes[slot], slot))
    return probes


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
