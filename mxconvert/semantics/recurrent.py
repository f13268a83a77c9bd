"""The fused RNN op (LSTM, GRU, vanilla RNN): its schema, MXNet's packed-parameter layout (``RnnLayout``), the
begin states and the refusals both emitters share."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..ir import Graph, Node
from .rules import Shape, ShapeError, expect, input_rule, shape_rule
from .schema import (COUNT, OPS, OpDef, REQUIRED, alias, choice, define, in_range, optional, parse_bool, parse_float,
                     parse_float32)

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
RNN_MODES = ("lstm", "gru", "rnn_tanh", "rnn_relu")


def _rnn_input_names(attrs: dict[str, Any]) -> tuple[str, ...]:
    """The RNN's input slots: data, the packed parameters, the begin state (and cell state of an LSTM), and the
    sequence lengths with ``use_sequence_length``."""
    cell = ("state_cell",) if attrs["mode"] == "lstm" else ()
    lengths = ("sequence_length",) if attrs["use_sequence_length"] else ()
    return ("data", "parameters", "state", *cell, *lengths)


define({
    "RNN": OpDef(
        {
            "state_size": (COUNT, REQUIRED),
            "num_layers": (COUNT, REQUIRED),
            "bidirectional": (parse_bool, False),
            "mode": (choice(*RNN_MODES), REQUIRED),
            "p": (in_range(parse_float32, 0, 1), 0.0),
            "state_outputs": (parse_bool, False),
            "projection_size": (optional(COUNT), None),
            "lstm_state_clip_min": (optional(parse_float), None),
            "lstm_state_clip_max": (optional(parse_float), None),
            "lstm_state_clip_nan": (parse_bool, False),
            "use_sequence_length": (parse_bool, False),
        },
        param_inputs=(1,),
        outputs=lambda a: 1 + (1 + (a["mode"] == "lstm")) * a["state_outputs"],
        input_names=_rnn_input_names,
    ),
})


alias("_npx_rnn", "RNN")


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
RNN_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}  # MXNet's order: LSTM i, f, g, o; GRU r, z, n


class RnnWeights(NamedTuple):
    """One layer and direction of a fused RNN, gates in MXNet's order: input-to-hidden (gates x hidden, inputs),
    hidden-to-hidden (gates x hidden, recurrent size), the LSTM projection (projection, hidden) or None, and the
    two biases (gates x hidden)."""

    w_ih: np.ndarray
    w_hh: np.ndarray
    w_hr: np.ndarray | None
    b_ih: np.ndarray
    b_hh: np.ndarray


@dataclass(frozen=True)
class RnnLayout:
    """Sizes of a fused RNN and the layout of its packed parameter vector: every layer's weights by layer and
    direction (i2h, h2h, then the projection h2r), then every bias in the same order (i2h, h2h)."""

    mode: str
    layers: int
    directions: int
    input_size: int
    hidden: int
    projection: int | None

    @property
    def gates(self) -> int:
        return RNN_GATES[self.mode]

    @property
    def state_size(self) -> int:
        """The size of the recurrent state h (and of each direction's output): the projection, if any."""
        return self.projection or self.hidden

    def layer_input(self, layer: int) -> int:
        return self.input_size if layer == 0 else self.directions * self.state_size

    def _weight_shapes(self, layer: int) -> list[tuple[int, int]]:
        rows = self.gates * self.hidden
        shapes = [(rows, self.layer_input(layer)), (rows, self.state_size)]
        return shapes + [(self.projection, self.hidden)] if self.projection else shapes

    @property
    def param_size(self) -> int:
        weights = sum(math.prod(shape) for layer in range(self.layers) for shape in self._weight_shapes(layer))
        return self.directions * weights + 2 * self.layers * self.directions * self.gates * self.hidden

    def describe(self) -> str:
        extra = f", projection {self.projection}" if self.projection else ""
        direction = "bidirectional" if self.directions == 2 else "unidirectional"
        return (f"{self.mode}, {self.layers} layer(s) {direction}, input size {self.input_size}, state size "
                f"{self.hidden}{extra}")

    def unpack(self, packed: np.ndarray) -> list[list[RnnWeights]]:
        """The packed vector as weights per layer, then per direction (forward, reverse)."""
        flat = np.asarray(packed).reshape(-1)
        if flat.size != self.param_size:
            raise ShapeError(f"the packed parameters have {flat.size} values, expected {self.param_size} "
                             f"({self.describe()})")
        offset = 0

        def take(shape: tuple[int, ...]) -> np.ndarray:
            nonlocal offset
            size = math.prod(shape)
            offset += size
            return flat[offset - size:offset].reshape(shape)

        weights = [[[take(shape) for shape in self._weight_shapes(layer)] for _ in range(self.directions)]
                   for layer in range(self.layers)]
        bias = (self.gates * self.hidden,)
        return [[RnnWeights(w[0], w[1], w[2] if self.projection else None, take(bias), take(bias))
                 for w in per_layer] for per_layer in weights]


def rnn_data_layout(node: Node, data: Shape) -> RnnLayout:
    """The layout of an RNN node's parameters for its (sequence, batch, features) data, checked as MXNet does
    (a projection is an LSTM's only, and no larger than its state)."""
    if len(data) != 3:
        raise ShapeError(f"data has shape {data}, expected 3-D (sequence, batch, features)")
    a = node.attrs
    projection = a["projection_size"]
    if projection is not None and (a["mode"] != "lstm" or projection > a["state_size"]):
        raise ShapeError(f"projection_size {projection}: MXNet projects only LSTM states, to at most state_size "
                         f"{a['state_size']}")
    return RnnLayout(a["mode"], a["num_layers"], 2 if a["bidirectional"] else 1, data[2], a["state_size"], projection)


@input_rule("RNN")
def _rnn_inputs(node: Node, inputs: list, outputs: list) -> list:
    """The begin states (layers x directions, batch, state) and the (batch,) sequence lengths, from the data."""
    fixed: list = [None] * len(inputs)
    if inputs[0] is None:
        return fixed
    layout = rnn_data_layout(node, inputs[0])
    batch, stacked = inputs[0][1], layout.layers * layout.directions
    fixed[2] = (stacked, batch, layout.state_size)
    if layout.mode == "lstm":
        fixed[3] = (stacked, batch, layout.hidden)
    if node.attrs["use_sequence_length"]:
        fixed[-1] = (batch,)
    return fixed


@shape_rule("RNN")
def _rnn(node: Node, shapes: list[Shape]) -> list[Shape]:
    layout = rnn_data_layout(node, shapes[0])
    if shapes[1] != (layout.param_size,):
        raise ShapeError(f"the packed parameters have shape {shapes[1]}, expected ({layout.param_size},) "
                         f"({layout.describe()})")
    names = OPS["RNN"].input_names(node.attrs)
    for slot, shape in enumerate(_rnn_inputs(node, shapes, [])):
        if shape is not None:
            expect(shapes[slot], shape, names[slot])
    length, batch = shapes[0][:2]
    states = [(layout.layers * layout.directions, batch, size) for size in (layout.state_size, layout.hidden)]
    outputs = [(length, batch, layout.directions * layout.state_size), *states]
    return outputs[:node.num_outputs]


def rnn_refusal(node: Node) -> str | None:
    """Why an RNN is not converted: state clipping, which MXNet runs only on cuDNN (its CPU kernel refuses it),
    clamps the LSTM cell state inside the recurrence, which neither ONNX's LSTM (its ``clip`` bounds the gates'
    inputs) nor nn.LSTM can express."""
    if node.attrs["lstm_state_clip_min"] is not None or node.attrs["lstm_state_clip_max"] is not None:
        return "lstm_state_clip_min/max: clipping the cell state inside the recurrence"
    return None


def zero_begin_states(graph: Graph, node: Node) -> bool:
    """Whether every begin state of an RNN is made by ``_zeros`` (as in Gluon's exports): the targets then start
    from zeros of the live batch size rather than of the size the states were inferred at."""
    producers = graph.nodes_by_name()
    slots = (2, 3) if node.attrs["mode"] == "lstm" else (2,)
    return all(getattr(producers.get(node.inputs[slot].node), "op", None) == "_zeros" for slot in slots)


def rnn_packed_parameters(graph: Graph, node: Node) -> np.ndarray:
    """The stored packed parameter vector of an RNN node (the registries refuse one computed from the data)."""
    return graph.params[node.inputs[1].node]
