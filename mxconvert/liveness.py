"""Liveness of a graph's node values in node order: who reads each value, its last read, how many live at once.

A value is everything one node produces (the outputs of a multi-output node together). The graph's outputs are
read once more after the last node, at position ``len(graph.nodes)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from .ir import Graph


@dataclass(frozen=True)
class Liveness:
    born: dict[str, int]  # value (the node making it) -> its position in the graph's nodes
    readers: dict[str, tuple[int, ...]]  # value -> positions of the nodes reading it, each once, ascending
    end: int  # the position where the graph's outputs are read

    def last_use(self, value: str) -> int:
        """Position of the last read (its birth if nothing reads it)."""
        return max(self.readers[value], default=self.born[value])

    def is_output(self, value: str) -> bool:
        return self.end in self.readers[value]

    def live_at(self, position: int) -> list[str]:
        """Values made at or before ``position`` and read at or after it."""
        return [v for v, born in self.born.items() if born <= position <= self.last_use(v)]

    def width(self) -> int:
        """The most values live at one node: what memory a forward that frees each value after its last
        read holds at once (in values, not bytes)."""
        return max((len(self.live_at(position)) for position in range(self.end)), default=0)


def liveness(graph: Graph) -> Liveness:
    born = {n.name: position for position, n in enumerate(graph.nodes)}
    readers: dict[str, set[int]] = {value: set() for value in born}
    for position, node in enumerate(graph.nodes):
        for ref in node.inputs:
            if ref.node in readers and ref.node != node.name:
                readers[ref.node].add(position)
    for ref in graph.outputs:
        if ref.node in readers:
            readers[ref.node].add(len(graph.nodes))
    return Liveness(born, {value: tuple(sorted(at)) for value, at in readers.items()}, len(graph.nodes))
