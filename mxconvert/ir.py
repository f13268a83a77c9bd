"""The typed graph IR: what the checkpoint reader produces and every emitter consumes."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np


class VarKind(str, Enum):
    """Role of an MXNet variable (op ``null``)."""

    INPUT = "input"  # data fed by the user
    LABEL = "label"  # label of a loss head (e.g. ``softmax_label``); fed with zeros at inference
    PARAM = "param"  # learned weight, stored as ``arg:NAME``
    AUX = "aux"  # auxiliary state (BatchNorm moving statistics), stored as ``aux:NAME``


@dataclass(frozen=True)
class TensorRef:
    """Output ``index`` of the node or variable called ``node``."""

    node: str
    index: int = 0

    def __str__(self) -> str:
        return self.node if self.index == 0 else f"{self.node}:{self.index}"


@dataclass
class Variable:
    name: str
    kind: VarKind
    shape: tuple[int, ...] | None = None  # from the weights, or ``__shape__`` for inputs
    dtype: np.dtype | None = None


@dataclass
class Node:
    """One operator. ``attrs`` hold typed values with the op's defaults filled in."""

    name: str
    op: str
    attrs: dict[str, Any]
    inputs: list[TensorRef]
    num_outputs: int = 1
    hints: dict[str, str] = field(default_factory=dict)  # ``__dunder__`` annotations, kept verbatim
    mxnet_name: str = ""  # the name in the symbol file, where ``name`` had to be made unique ("" if the same)
    spelling: str = ""  # the op's name in the symbol file, where it is an alias of ``op`` ("" if the same)
    # the bodies of a control-flow op (``_foreach``, ``_while_loop``, ``_cond``), each a graph of its own whose
    # variables, in order, are the body's inputs (``control_flow.body_slots`` maps them onto ``inputs``)
    subgraphs: list[Graph] = field(default_factory=list)

    @property
    def source_name(self) -> str:
        """The node's name in the symbol file (MXNet identifies nodes by position; names may repeat)."""
        return self.mxnet_name or self.name

    def output(self, index: int = 0) -> TensorRef:
        return TensorRef(self.name, index)


@dataclass
class SourceInfo:
    """Where a graph came from, for metadata and generated-file headers."""

    symbol_file: str = ""  # paths as given by the user
    symbol_sha256: str = ""
    params_file: str = ""
    params_sha256: str = ""
    mxnet_version: str | None = None  # ``attrs.mxnet_version`` of the symbol JSON, when present
    read_seconds: float = 0.0  # reading and checking both files
    declared_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # a shapes file's, 0 where free
    shapes_file: str = ""  # the file they come from
    notes: list[str] = field(default_factory=list)  # what reading decided that the user should know


@dataclass
class Graph:
    """An MXNet network: variables, op nodes in topological order, heads, and weights."""

    variables: dict[str, Variable]
    nodes: list[Node]
    outputs: list[TensorRef]
    params: dict[str, np.ndarray] = field(default_factory=dict)
    aux: dict[str, np.ndarray] = field(default_factory=dict)
    source: SourceInfo = field(default_factory=SourceInfo)

    def node(self, name: str) -> Node:
        return self.nodes_by_name()[name]

    def nodes_by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def vars_of(self, kind: VarKind) -> list[Variable]:
        return [v for v in self.variables.values() if v.kind is kind]

    @property
    def inputs(self) -> list[Variable]:
        return self.vars_of(VarKind.INPUT)

    @property
    def labels(self) -> list[Variable]:
        return self.vars_of(VarKind.LABEL)

    def weight(self, name: str) -> np.ndarray:
        """The stored array of a parameter or auxiliary state."""
        if name in self.params:
            return self.params[name]
        return self.aux[name]

    def consumers(self) -> dict[TensorRef, list[Node]]:
        uses: dict[TensorRef, list[Node]] = {}
        for n in self.nodes:
            for ref in n.inputs:
                uses.setdefault(ref, []).append(n)
        return uses


def unique_name(name: str, taken: set[str]) -> str:
    """``name_dupN`` for the smallest N not ``taken`` (which it joins): a repeated node name made unique."""
    number = 1
    while f"{name}_dup{number}" in taken:
        number += 1
    unique = f"{name}_dup{number}"
    taken.add(unique)
    return unique
