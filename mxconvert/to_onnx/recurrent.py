"""The fused RNN: one ONNX LSTM, GRU or RNN node per layer, both directions in one, its weights unpacked from
MXNet's packed vector (``semantics.recurrent.RnnLayout``) with the gates reordered to ONNX's. The sequence axis stays
symbolic: layers hand their outputs on through Transpose and a Reshape that copies the time and batch sizes."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto

from ..ir import Node
from ..semantics.recurrent import RnnWeights, rnn_data_layout, rnn_packed_parameters, rnn_refusal, zero_begin_states
from .context import EmitContext
from .registry import register

_ONNX_OPS = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN", "rnn_relu": "RNN"}
# MXNet's gate blocks in ONNX's order: LSTM i, f, g, o -> i, o, f, c; GRU r, z, n -> z, r, h
_GATE_ORDER = {"lstm": [0, 3, 1, 2], "gru": [1, 0, 2], "rnn_tanh": [0], "rnn_relu": [0]}


def _refusal(node: Node, opset: int) -> str | None:
    if node.attrs["projection_size"] is not None:
        return f"projection_size {node.attrs['projection_size']}: ONNX's LSTM has no projection"
    return rnn_refusal(node)


def _reordered(block: np.ndarray, mode: str) -> np.ndarray:
    """Rows of a weight or bias, gate blocks moved from MXNet's order to ONNX's."""
    order = _GATE_ORDER[mode]
    return block.reshape(len(order), -1, *block.shape[1:])[order].reshape(block.shape)


def _layer_weights(directions: list[RnnWeights], mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ONNX's W (directions, gates x hidden, inputs), R (directions, gates x hidden, hidden) and B (directions,
    2 x gates x hidden: the input biases, then the recurrent ones)."""
    w = np.stack([_reordered(d.w_ih, mode) for d in directions])
    r = np.stack([_reordered(d.w_hh, mode) for d in directions])
    b = np.stack([np.concatenate([_reordered(d.b_ih, mode), _reordered(d.b_hh, mode)]) for d in directions])
    return w, r, b


def _layer_states(ctx: EmitContext, state: str, layer: int, directions: int) -> str:
    """The begin states of one layer: rows ``layer * directions`` on of the stacked (layers x directions) states."""
    first = layer * directions
    return ctx.add("Slice", [state, ctx.ints([first], "starts"), ctx.ints([first + directions], "ends"),
                             ctx.ints([0], "axes")])


@register("RNN", check=_refusal)
def rnn(ctx: EmitContext, node: Node) -> None:
    """MXNet computes GRU's candidate with the reset gate applied after the recurrent product
    (``linear_before_reset``); sequence lengths pad each output with zeros past its length, as MXNet's cuDNN
    kernel does, and the reverse direction starts at each sequence's last step."""
    a = node.attrs
    zeros = zero_begin_states(ctx.graph, node)  # ONNX's default begin states: zeros of the live batch
    layout = rnn_data_layout(node, ctx.shape(0))
    count = layout.directions
    options = {"hidden_size": layout.hidden, "direction": "bidirectional" if count == 2 else "forward"}
    if layout.mode == "gru":
        options["linear_before_reset"] = 1
    if layout.mode.startswith("rnn_"):
        options["activations"] = ["Relu" if layout.mode == "rnn_relu" else "Tanh"] * count
    lengths = ""
    if a["use_sequence_length"]:
        lengths = ctx.add("Cast", [ctx.input(len(node.inputs) - 1)], to=TensorProto.INT32)
    is_lstm = layout.mode == "lstm"
    x, finals = ctx.input(0), []
    weights = layout.unpack(rnn_packed_parameters(ctx.graph, node))
    for layer, directions in enumerate(weights):
        w, r, b = (ctx.const(array, f"l{layer}_{key}")
                   for key, array in zip("WRB", _layer_weights(directions, layout.mode)))
        inputs = [x, w, r, b, lengths]
        if not zeros:
            inputs += [_layer_states(ctx, ctx.input(slot), layer, count) for slot in ((2, 3) if is_lstm else (2,))]
        outputs = [ctx.temp("y"), ctx.temp("y_h")] + ([ctx.temp("y_c")] if is_lstm else [])
        ctx.add(_ONNX_OPS[layout.mode], inputs, outputs, **options)
        finals.append(outputs[1:])
        last = layer == layout.layers - 1
        out = ctx.output() if last else None
        if count == 1:  # (time, 1, batch, hidden) -> (time, batch, hidden)
            x = ctx.squeeze(outputs[0], [1], out)
        else:  # (time, 2, batch, hidden) -> (time, batch, 2 x hidden)
            x = ctx.add("Reshape", [ctx.add("Transpose", [outputs[0]], perm=[0, 2, 1, 3]), ctx.ints([0, 0, -1])],
                        out)
    for index in range(1, node.num_outputs):
        ctx.add("Concat", [states[index - 1] for states in finals], ctx.output(index), axis=0)
