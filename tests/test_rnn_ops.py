"""The fused RNN op against real MXNet 1.9.1 in both targets: every mode, layer count and direction at sizes where
input, hidden and projection sizes differ (a wrong slice of the packed parameters cannot pass), sequence lengths,
Gluon's exported rnn layers, and the refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mxcases import S, assert_close, mx, run_reference
from test_onnx_ops import run_onnx

from mxconvert.checkpoint import attach_weights, load_checkpoint
from mxconvert.errors import MxConvertError, UnsupportedOpsError
from mxconvert.params import save_params
from mxconvert.semantics.recurrent import RnnLayout
from mxconvert.semantics.rules import ShapeError
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source

# torch.export notes that nn.RNNBase keeps its weights in a list; nn.LSTM with proj_size skips oneDNN
pytestmark = [pytest.mark.filterwarnings("ignore:The tensor attributes self.rnn._flat_weights"),
              pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")]
T, N, I, H, P = 5, 3, 4, 6, 3  # steps, batch, input, hidden and projection sizes: all different
MODES = ("lstm", "gru", "rnn_tanh", "rnn_relu")
RECURRENT_ONNX_OPS = ("LSTM", "GRU", "RNN")
LENGTHS = np.array([5, 2, 4], np.float32)  # one full sequence, two shorter


def rnn_symbol(mode: str, layers: int, bidirectional: bool, sequence_length: bool = False, **attrs):
    """An RNN reading its packed parameters and (non-zero) begin states from stored variables."""
    inputs = {name: S.var(f"rnn_{name}") for name, wanted in
              (("state_cell", mode == "lstm"), ("sequence_length", sequence_length)) if wanted}
    return S.RNN(data=S.var("data"), parameters=S.var("rnn_parameters"), state=S.var("rnn_state"), **inputs,
                 state_size=H, num_layers=layers, bidirectional=bidirectional, mode=mode,
                 use_sequence_length=sequence_length, name="rnn", **attrs)


def onnx_outputs(graph, data: np.ndarray, opset: int = 13) -> tuple[list[np.ndarray], object]:
    model, _ = export_onnx(graph, ExportOptions(input_shape=data.shape, opset=opset))
    return run_onnx(model, data), model


def torch_model(graph, shape: tuple[int, ...]) -> torch.nn.Module:
    source, state = emit_pytorch(graph, TorchOptions(shape))
    return build_model(module_from_source(source), state)


def torch_outputs(model: torch.nn.Module, data: np.ndarray) -> list[np.ndarray]:
    with torch.no_grad():
        out = model(torch.from_numpy(data))
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def recurrent_nodes(model) -> list[str]:
    return [node.op_type for node in model.graph.node if node.op_type in RECURRENT_ONNX_OPS]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script still works; it is only deprecated
@pytest.mark.parametrize("bidirectional", [False, True], ids=["forward", "bidirectional"])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_layer_count_and_direction(mode, layers, bidirectional):
    """Output and final states (state_outputs) of MXNet's CPU kernel from non-zero begin states: ONNX with one
    recurrent node per layer; nn.LSTM/GRU/RNN eagerly, scripted and (two layers) exported."""
    ref = run_reference(rnn_symbol(mode, layers, bidirectional, state_outputs=True), (T, N, I))
    onnx_out, model = onnx_outputs(ref.graph, ref.data)
    assert recurrent_nodes(model) == [{"lstm": "LSTM", "gru": "GRU"}.get(mode, "RNN")] * layers
    net = torch_model(ref.graph, (T, N, I))
    eager = torch_outputs(net, ref.data)
    assert_close(ref.outputs, onnx_out)
    assert_close(ref.outputs, eager)
    data = torch.from_numpy(ref.data)
    runs = [torch.jit.script(net)] + ([torch.export.export(net, (data,)).module()] if layers == 2 else [])
    for run in runs:
        with torch.no_grad():
            assert all(np.allclose(a, b.numpy(), rtol=1e-6, atol=1e-7) for a, b in zip(eager, run(data), strict=True))


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_output_alone_at_other_opsets(mode):
    """Without state_outputs the RNN has one output; opsets 11 and 21 emit the same nodes."""
    ref = run_reference(rnn_symbol(mode, 2, True), (T, N, I))
    assert len(ref.outputs) == 1
    for opset in (11, 21):
        assert_close(ref.outputs, onnx_outputs(ref.graph, ref.data, opset)[0])
    assert_close(ref.outputs, torch_outputs(torch_model(ref.graph, (T, N, I)), ref.data))


def test_onnx_sequence_axis_is_not_baked_in():
    """The converted ONNX model runs other sequence lengths than the converted one (MXNet computes the reference)."""
    ref = run_reference(rnn_symbol("lstm", 2, True), (T, N, I))
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=(T, N, I)))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "steps"
    model.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "steps"
    longer = np.random.default_rng(3).uniform(-1, 1, (T + 4, N, I)).astype(np.float32)
    executor = rnn_symbol("lstm", 2, True).simple_bind(mx.cpu(), data=longer.shape, grad_req="null")
    for name, value in ref.graph.params.items():
        executor.arg_dict[name][:] = value
    executor.arg_dict["data"][:] = longer
    assert_close([executor.forward(is_train=False)[0].asnumpy()], run_onnx(model, longer))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_lstm_projection_in_pytorch(layers):
    """projection_size: nn.LSTM's proj_size with weight_hr; the projected state feeds the recurrence and the next
    layer, as in MXNet's CPU kernel. ONNX's LSTM has no projection: refused with the reason."""
    ref = run_reference(rnn_symbol("lstm", layers, True, state_outputs=True, projection_size=P), (T, N, I))
    assert ref.outputs[0].shape == (T, N, 2 * P) and ref.outputs[1].shape == (2 * layers, N, P)
    net = torch_model(ref.graph, (T, N, I))
    assert net.rnn.proj_size == P and net.rnn.weight_hr_l0_reverse.shape == (P, H)
    assert_close(ref.outputs, torch_outputs(net, ref.data))
    with torch.no_grad():
        scripted = torch.jit.script(net)(torch.from_numpy(ref.data))
    assert all(np.allclose(a, b.numpy(), rtol=1e-6, atol=1e-7) for a, b in zip(ref.outputs, scripted))
    with pytest.raises(UnsupportedOpsError, match=r"RNN \[projection_size 3: ONNX's LSTM has no projection\] \(rnn\)"):
        export_onnx(ref.graph, ExportOptions(input_shape=(T, N, I)))


def mxnet_per_sequence(sym_args: dict, weights: dict[str, np.ndarray], data: np.ndarray,
                       lengths: np.ndarray) -> list[np.ndarray]:
    """What MXNet's cuDNN kernel outputs with sequence lengths (its CPU kernel refuses them): each sequence run
    alone over its own steps by MXNet's CPU kernel, outputs padded with zeros (cuDNN's padding fill, 0 in MXNet)
    past its length, final states taken at its last step."""
    per_sequence = []
    for b, length in enumerate(lengths.astype(int)):
        states = [mx.nd.array(weights[name][:, b:b + 1]) for name in ("rnn_state", "rnn_state_cell")
                  if name in weights]
        out = mx.nd.RNN(mx.nd.array(data[:length, b:b + 1]), mx.nd.array(weights["rnn_parameters"]), *states,
                        state_outputs=True, **sym_args)
        per_sequence.append([o.asnumpy() for o in out])
    output = np.zeros((data.shape[0], data.shape[1], per_sequence[0][0].shape[2]), np.float32)
    for b, (out, *_) in enumerate(per_sequence):
        output[:out.shape[0], b] = out[:, 0]
    finals = [np.concatenate([seq[k] for seq in per_sequence], axis=1) for k in range(1, len(per_sequence[0]))]
    return [output, *finals]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("bidirectional", [False, True], ids=["forward", "bidirectional"])
@pytest.mark.parametrize("mode", MODES)
def test_sequence_lengths(mode, bidirectional):
    """use_sequence_length: zeros past each length, states at each sequence's last step, the reverse direction
    starting there: ONNX's sequence_lens and PyTorch's packed sequences (eager and scripted)."""
    layers = 2
    sym_args = dict(state_size=H, num_layers=layers, bidirectional=bidirectional, mode=mode)
    sym = rnn_symbol(mode, layers, bidirectional, sequence_length=True, state_outputs=True)
    rng = np.random.default_rng(7)
    shapes = dict(zip(sym.list_arguments(), sym.infer_shape(data=(T, N, I), rnn_sequence_length=(N,))[0]))
    weights = {name: rng.normal(0, 0.5, shape).astype(np.float32) for name, shape in shapes.items()
               if name not in ("data", "rnn_sequence_length")}
    data = rng.uniform(-1, 1, (T, N, I)).astype(np.float32)
    expected = mxnet_per_sequence(sym_args, weights, data, LENGTHS)
    graph = parse_symbol(sym.tojson())
    attach_weights(graph, {**weights, "rnn_sequence_length": LENGTHS}, "<test weights>")
    net = torch_model(graph, data.shape)
    eager = torch_outputs(net, data)
    assert_close(expected, onnx_outputs(graph, data)[0])
    assert_close(expected, eager)
    with torch.no_grad():
        scripted = torch.jit.script(net)(torch.from_numpy(data))
    assert all(np.allclose(a, b.numpy(), rtol=1e-6, atol=1e-7) for a, b in zip(eager, scripted))


def gluon_layer_export(layer: mx.gluon.HybridBlock, layout: str, tmp_path) -> tuple:
    """``layer`` inside a hybridized block (so its begin states are ``_zeros`` of unknown batch size), exported
    with non-zero biases: the checkpoint read back, the block, data and MXNet's output."""
    net = mx.gluon.nn.HybridSequential()
    net.add(layer)
    net.initialize(mx.init.Uniform(0.5))
    rng = np.random.default_rng(11)
    for param in net.collect_params().values():
        param.set_data(mx.nd.array(rng.uniform(-0.5, 0.5, param.shape)))
    net.hybridize()
    data = rng.uniform(-1, 1, (T, N, I) if layout == "TNC" else (N, T, I)).astype(np.float32)
    expected = net(mx.nd.array(data)).asnumpy()
    net.export(str(tmp_path / "net"))
    return load_checkpoint(str(tmp_path / "net"), 0), net, data, expected


@pytest.mark.parametrize("layout", ["TNC", "NTC"])
@pytest.mark.parametrize("layer", ["LSTM", "GRU", "RNN"])
def test_gluon_exported_layers(layer, layout, tmp_path):
    """Gluon's rnn layers, bidirectional with two layers: weights packed by Reshape and _rnn_param_concat,
    begin states ``_zeros`` whose batch size MXNet infers from the RNN; NTC swaps axes around it. Zero begin
    states follow the live batch: the converted models run another batch size."""
    block = getattr(mx.gluon.rnn, layer)(H, num_layers=2, bidirectional=True, layout=layout, input_size=I)
    graph, gluon_net, data, expected = gluon_layer_export(block, layout, tmp_path)
    assert {"_rnn_param_concat", "_zeros"} <= {node.op for node in graph.nodes}
    onnx_out, model = onnx_outputs(graph, data)
    assert len(recurrent_nodes(model)) == 2
    assert not [init.name for init in model.graph.initializer if "_weight" in init.name or "_bias" in init.name]
    read = {name for node in model.graph.node for name in node.input} | {out.name for out in model.graph.output}
    assert all(read.intersection(node.output) for node in model.graph.node)  # neither begin nor final states left
    net = torch_model(graph, data.shape)
    rnn_layer = next(module for module in net.modules() if isinstance(module, torch.nn.RNNBase))
    assert type(rnn_layer) is getattr(torch.nn, layer)
    assert {name for name, _ in rnn_layer.named_parameters()} == {
        f"{kind}_l{layer}{reverse}" for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") for layer in (0, 1)
        for reverse in ("", "_reverse")}
    assert len(net.state_dict()) == 16  # Gluon's separate weights are in the layer's, not beside it
    assert_close([expected], onnx_out)
    assert_close([expected], torch_outputs(net, data))
    other = np.random.default_rng(5).uniform(-1, 1, (T, 5, I) if layout == "TNC" else (5, T, I)).astype(np.float32)
    other_expected = [gluon_net(mx.nd.array(other)).asnumpy()]
    assert_close(other_expected, torch_outputs(net, other))
    if layout == "NTC":  # ONNX's dynamic batch is the input's first axis
        model, _ = export_onnx(graph, ExportOptions(input_shape=data.shape, dynamic_batch=True))
        assert_close(other_expected, run_onnx(model, other))


def test_parameters_concatenated_from_stored_weights_are_computed_once():
    """A Concat of stored vectors as the packed parameters: one constant per layer in ONNX, no Concat left."""
    size = RnnLayout("lstm", 1, 2, I, H, None).param_size
    parts = S.Concat(S.var("first", shape=(100,)), S.var("second", shape=(size - 100,)), dim=0, name="packed")
    sym = S.RNN(data=S.var("data"), parameters=parts, state=S.var("rnn_state"), state_cell=S.var("rnn_state_cell"),
                state_size=H, num_layers=1, bidirectional=True, mode="lstm", name="rnn")
    ref = run_reference(sym, (T, N, I))
    onnx_out, model = onnx_outputs(ref.graph, ref.data)
    assert [node.op_type for node in model.graph.node if node.op_type in ("Concat", "LSTM")] == ["LSTM"]
    assert_close(ref.outputs, onnx_out)
    assert_close(ref.outputs, torch_outputs(torch_model(ref.graph, (T, N, I)), ref.data))


def test_converted_lstm_trains():
    """The generated nn.LSTM's weights are parameters: a few SGD steps lower a regression loss."""
    ref = run_reference(rnn_symbol("lstm", 2, True), (T, N, I))
    net = torch_model(ref.graph, (T, N, I)).train()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    data, target = torch.from_numpy(ref.data), torch.zeros(T, N, 2 * H)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(net(data), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert net.rnn.weight_ih_l0.grad is not None


def test_wrong_packed_parameter_size_names_the_params_file_and_the_size(tmp_path):
    ref = run_reference(rnn_symbol("gru", 2, True), (T, N, I))
    expected = ref.graph.params["rnn_parameters"].size
    (tmp_path / "net-symbol.json").write_text(rnn_symbol("gru", 2, True).tojson())
    weights = {f"arg:{name}": value for name, value in ref.graph.params.items()}
    weights["arg:rnn_parameters"] = weights["arg:rnn_parameters"][:-5]
    save_params(tmp_path / "net-0000.params", weights)
    graph = load_checkpoint(str(tmp_path / "net"), 0)
    for convert in (lambda: export_onnx(graph, ExportOptions(input_shape=(T, N, I))),
                    lambda: emit_pytorch(graph, TorchOptions((T, N, I)))):
        with pytest.raises(MxConvertError, match=rf"net-0000.params: node 'rnn' \(RNN\): the packed parameters have "
                                                 rf"shape \({expected - 5},\), expected \({expected},\)"):
            convert()


UNSUPPORTED = {  # the mode of the symbol, attributes set in its file, what the reader or a target says
    "clipping": ("lstm", {"lstm_state_clip_min": "-1", "lstm_state_clip_max": "1"},
                 r"unsupported ops: RNN \[lstm_state_clip_min/max: clipping the cell state inside the recurrence\] "
                 r"\(rnn\)"),
    "gru_projection": ("gru", {"projection_size": "3"},
                       r"node 'rnn' \(RNN\): projection_size 3: MXNet projects only LSTM states"),
    "projection_past_state": ("lstm", {"projection_size": "7"},
                              r"node 'rnn' \(RNN\): projection_size 7: MXNet projects only LSTM states, to at most "
                              r"state_size 6"),
    "unknown_mode": ("lstm", {"mode": "lstm2"}, r"node 'rnn' \(RNN\): bad attribute mode='lstm2'"),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_unsupported_attributes_are_named_with_the_node(case):
    mode, attrs, message = UNSUPPORTED[case]
    ref = run_reference(rnn_symbol(mode, 1, False), (T, N, I))
    doc = json.loads(rnn_symbol(mode, 1, False).tojson())
    next(node for node in doc["nodes"] if node["op"] == "RNN")["attrs"].update(attrs)
    targets = [lambda graph: emit_pytorch(graph, TorchOptions((T, N, I)))]
    if case in ("clipping", "unknown_mode"):  # ONNX refuses any projection before reading its size
        targets.append(lambda graph: export_onnx(graph, ExportOptions(input_shape=(T, N, I))))
    for convert in targets:
        with pytest.raises(MxConvertError, match=message):
            graph = parse_symbol(json.dumps(doc))
            attach_weights(graph, ref.graph.params, "<test weights>")
            convert(graph)


def test_parameters_computed_from_weights_fold_and_from_the_data_are_refused():
    size = RnnLayout("gru", 1, 1, I, H, None).param_size
    doubled = S._internal._mul_scalar(S.var("rnn_parameters", shape=(size,)), scalar=2.0, name="doubled")
    sym = S.RNN(data=S.var("data"), parameters=doubled, state=S.var("rnn_state"), state_size=H, num_layers=1,
                mode="gru", name="rnn")
    ref = run_reference(sym, (T, N, I))
    assert_close(ref.outputs, run_onnx(export_onnx(ref.graph, ExportOptions(input_shape=(T, N, I)))[0], ref.data))
    data = S.var("data")
    scaled = S.broadcast_mul(S.var("rnn_parameters", shape=(size,)), S.reshape(S.mean(data), shape=(1,)),
                             name="scaled")
    sym = S.RNN(data=data, parameters=scaled, state=S.var("rnn_state"), state_size=H, num_layers=1,
                mode="gru", name="rnn")
    ref = run_reference(sym, (T, N, I))
    message = r"RNN \[weight input 1 computed in the graph, not stored\] \(rnn\)"
    for convert in (lambda: export_onnx(ref.graph, ExportOptions(input_shape=(T, N, I))),
                    lambda: emit_pytorch(ref.graph, TorchOptions((T, N, I)))):
        with pytest.raises(UnsupportedOpsError, match=message):
            convert()
    stored = run_reference(rnn_symbol("gru", 1, False), (T, N, I))  # begin states stored: their batch is fixed
    with pytest.raises(ShapeError, match=r"does not take other sizes on the dynamic axes \(data=1; checked at data="):
        export_onnx(stored.graph, ExportOptions(input_shape=(T, N, I), dynamic_axes={"data": (1,)}))
    longer = run_reference(rnn_symbol("gru", 1, False), (T + 3, N, I), inputs=dict(stored.graph.params))
    model, _ = export_onnx(stored.graph, ExportOptions(input_shape=(T, N, I), dynamic_axes={"data": (0,)}))
    assert_close(longer.outputs, run_onnx(model, longer.data))


def test_zeros_of_unknown_size_read_by_an_op_without_input_rule_is_refused():
    """A 0 in a creation op's shape is filled only by an op that infers it (the RNN); elsewhere it stays the empty
    output MXNet would make, and is refused."""
    graph = parse_symbol(S.broadcast_add(S.var("data"), S.zeros(shape=(0, 3), name="zeros")).tojson())
    attach_weights(graph, {}, "<test weights>")
    with pytest.raises(MxConvertError, match=r"node 'zeros': empty output refused \(0, 3\)"):
        emit_pytorch(graph, TorchOptions((2, 3)))
