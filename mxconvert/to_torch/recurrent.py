"""The fused RNN as one ``nn.LSTM``/``nn.GRU``/``nn.RNN`` layer with PyTorch's named weights (``weight_ih_l0``,
``weight_hh_l0_reverse``, ``weight_hr_l0`` for a projection, ...), unpacked from MXNet's packed vector
(``semantics.recurrent.RnnLayout``); both share the gate order (LSTM i, f, g, o; GRU r, z, n) and GRU's reset gate applied
after the recurrent product, so the weights load unchanged and the model trains."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir import Node
from ..semantics.recurrent import rnn_data_layout, rnn_packed_parameters, rnn_refusal, zero_begin_states
from .registry import HELPERS, num
from .registry import Lowering, register

if TYPE_CHECKING:
    from .codegen import TorchContext

_MODULES = {"lstm": "nn.LSTM", "gru": "nn.GRU", "rnn_tanh": "nn.RNN", "rnn_relu": "nn.RNN"}

HELPERS["mxnet_lstm_outputs"] = '''
def mxnet_lstm_outputs(result: Tuple[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]
                       ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """nn.LSTM's (output, (h, c)) as MXNet's three outputs."""
    output, (h, c) = result
    return output, h, c
'''
HELPERS["mxnet_packed"] = '''
def mxnet_packed(x: torch.Tensor, lengths: torch.Tensor) -> nn.utils.rnn.PackedSequence:
    """The sequences of ``x`` (time, batch, features), each cut to its length (truncated to an integer)."""
    return nn.utils.rnn.pack_padded_sequence(x, lengths.to(torch.int64).cpu(), enforce_sorted=False)
'''
HELPERS["mxnet_padded_lstm"] = '''
def mxnet_padded_lstm(result: Tuple[nn.utils.rnn.PackedSequence, Tuple[torch.Tensor, torch.Tensor]], steps: int
                      ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An LSTM's packed result as MXNet's outputs: zeros past each sequence's length, as its cuDNN kernel pads."""
    output, (h, c) = result
    return nn.utils.rnn.pad_packed_sequence(output, total_length=steps)[0], h, c
'''
HELPERS["mxnet_padded_rnn"] = '''
def mxnet_padded_rnn(result: Tuple[nn.utils.rnn.PackedSequence, torch.Tensor], steps: int
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """A GRU's or RNN's packed result as MXNet's outputs: zeros past each sequence's length."""
    output, h = result
    return nn.utils.rnn.pad_packed_sequence(output, total_length=steps)[0], h
'''


@register("RNN", check=rnn_refusal)
def rnn(ctx: TorchContext, node: Node) -> Lowering:
    """MXNet's dropout ``p`` acts between layers in training, as nn.LSTM's ``dropout`` does; with sequence lengths
    the data runs packed, each direction over its sequence's own steps."""
    a = node.attrs
    layout = rnn_data_layout(node, ctx.shape(0))
    options = [str(layout.input_size), str(layout.hidden), f"num_layers={layout.layers}"]
    if layout.mode == "rnn_relu":
        options.append('nonlinearity="relu"')
    if layout.directions == 2:
        options.append("bidirectional=True")
    if layout.projection:
        options.append(f"proj_size={layout.projection}")
    if a["p"] and layout.layers > 1:
        options.append(f"dropout={num(a['p'])}")
    state = {}
    for layer, directions in enumerate(layout.unpack(rnn_packed_parameters(ctx.graph, node))):
        for direction, weights in enumerate(directions):
            suffix = f"l{layer}_reverse" if direction else f"l{layer}"
            for key, array in zip(("weight_ih", "weight_hh", "weight_hr", "bias_ih", "bias_hh"), weights):
                if array is not None:
                    state[f"{key}_{suffix}"] = array
    is_lstm = layout.mode == "lstm"
    begin = "" if zero_begin_states(ctx.graph, node) else (  # no states: zeros of the live batch
        f", ({ctx.input(2)}, {ctx.input(3)})" if is_lstm else f", {ctx.input(2)}")
    x = ctx.input(0)
    if a["use_sequence_length"]:
        packed = f"{ctx.helper('mxnet_packed')}({x}, {ctx.input(len(node.inputs) - 1)})"
        padded = ctx.helper("mxnet_padded_lstm" if is_lstm else "mxnet_padded_rnn")
        expr = f"{padded}({ctx.layer}({packed}{begin}), {x}.shape[0])"
    elif is_lstm and node.num_outputs > 1:
        expr = f"{ctx.helper('mxnet_lstm_outputs')}({ctx.layer}({x}{begin}))"
    else:
        expr = f"{ctx.layer}({x}{begin})"
    return Lowering(expr if node.num_outputs > 1 else f"{expr}[0]", f"{_MODULES[layout.mode]}({', '.join(options)})",
                    state)
