"""The shape-rule registries the family modules fill: ``shape_rule`` (an op's output shapes from its input
shapes) and ``input_rule`` (the shapes an op fixes for its inputs, where MXNet infers backwards), the error
and ``stored_rule`` (what an op requires of the stored weights it reads, checked before anything runs), the error
they raise and the small checks every family uses."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import MxConvertError
from ..ir import Node

Shape = tuple[int, ...]  # a size of None: decided by the data when the model runs (a mask's kept rows)


ShapeRule = Callable[[Node, list[Shape]], list[Shape]]


# op -> the shapes it fixes for its inputs (None where it fixes none), from its known input and output shapes
# (None where unknown): MXNet infers shapes backwards as well
InputRule = Callable[[Node, list["Shape | None"], list["Shape | None"]], list["Shape | None"]]


RULES: dict[str, ShapeRule] = {}


INPUT_RULES: dict[str, InputRule] = {}


# op -> a check of the node against its input shapes and the stored weights it reads (None for a computed input),
# for what MXNet itself checks only when it runs and no input data can change
StoredRule = Callable[[Node, list[Shape], list["np.ndarray | None"]], None]
STORED_RULES: dict[str, StoredRule] = {}


class ShapeError(MxConvertError):
    """A node's inputs do not fit its op (wrong weight shape, mismatched operands)."""


def shape_rule(*ops: str) -> Callable[[ShapeRule], ShapeRule]:
    def register(rule: ShapeRule) -> ShapeRule:
        for op in ops:
            RULES[op] = rule
        return rule

    return register


def stored_rule(*ops: str) -> Callable[[StoredRule], StoredRule]:
    def register(rule: StoredRule) -> StoredRule:
        for op in ops:
            STORED_RULES[op] = rule
        return rule

    return register


def input_rule(*ops: str) -> Callable[[InputRule], InputRule]:
    """Register the shapes an op fixes for its inputs (an LSTM's begin state from the data it meets, a
    ``_zeros`` begin state of shape (2, 0, 6) taking its batch size there)."""

    def register(rule: InputRule) -> InputRule:
        for op in ops:
            INPUT_RULES[op] = rule
        return rule

    return register


def expect(actual: Shape, expected: Shape, what: str) -> None:
    if tuple(actual) != tuple(expected):
        raise ShapeError(f"{what} has shape {tuple(actual)}, expected {tuple(expected)}")


def axis_index(axis: int, rank: int, what: str = "axis") -> int:
    """``axis`` (negative counts from the end) as an index into ``rank`` dimensions, as MXNet checks it."""
    if not -rank <= axis < rank:
        raise ShapeError(f"{what} {axis} is out of range for {rank}-D data")
    return axis % rank


def data_dependent(shape: Shape) -> bool:
    """Whether ``shape`` has a size the data decides (None): known only when the model runs."""
    return None in shape


def same_shape(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The rule of ops whose output has their (first) input's shape (registered by each family for its ops)."""
    return [shapes[0]]


def same_shape_inputs(node: Node, inputs: list, outputs: list) -> list:
    """The input rule of same-shape ops: every operand takes the shape of any operand or output that is
    known."""
    known = next((shape for shape in [*inputs, *outputs] if shape is not None), None)
    return [known] * len(inputs)
