"""Control flow (``_foreach``, ``_while_loop``, ``_cond``) built with MXNet's own ``mx.sym.contrib`` functions and a
hybridized Gluon block, saved as users save them, converted to ONNX (run by onnxruntime) and to PyTorch (the
generated module, and it scripted), compared with MXNet 1.9.1's forward outputs."""
from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mxcases import S, assert_close, mx
from mxconvert.checkpoint import load_checkpoint
from mxconvert.errors import MxConvertError, UnsupportedOpsError
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source
from mxconvert.to_torch.runner import CompiledModel

BATCH, FEATURES, HIDDEN = 2, 3, 4


def _save(sym, weights: dict[str, np.ndarray], prefix: Path) -> str:
    mx.model.save_checkpoint(str(prefix), 0, sym, {k: mx.nd.array(v) for k, v in weights.items()}, {})
    return str(prefix)


def _mxnet(prefix: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    sym, args, aux = mx.model.load_checkpoint(prefix, 0)
    executor = sym.bind(mx.cpu(), {**args, **{k: mx.nd.array(v) for k, v in feeds.items()}}, aux_states=aux,
                        grad_req="null")
    return [out.asnumpy() for out in executor.forward(is_train=False)]


class Converted:
    """One checkpoint converted once to each target at ``shapes`` (``dynamic``: input -> symbolic axes)."""

    def __init__(self, prefix: str, shapes: dict[str, tuple], dynamic: dict[str, tuple] | None = None):
        graph = load_checkpoint(prefix, 0)
        model, _ = export_onnx(graph, ExportOptions(shapes, dynamic_axes=dynamic or {}))
        self.onnx = model
        self.session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        self.source, state = emit_pytorch(graph, TorchOptions(shapes, dynamic_axes=dynamic or {}))
        self.module = build_model(module_from_source(self.source), state)
        self.scripted = torch.jit.script(self.module)

    def outputs(self, feeds: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
        tensors = {name: torch.from_numpy(value) for name, value in feeds.items()}
        found = {"onnxruntime": self.session.run(None, feeds)}
        with torch.no_grad():
            for name, module in (("pytorch", self.module), ("torchscript", self.scripted)):
                result = module(**tensors)
                found[name] = [t.numpy() for t in (result if isinstance(result, tuple) else (result,))]
        return found

    def check(self, prefix: str, feeds: dict[str, np.ndarray], rows: dict[int, int] | None = None,
              compiled: CompiledModel | None = None) -> list:
        """Every target against MXNet (whose outputs it returns); ``rows``: output -> how many leading rows MXNet
        defines; ``compiled``: the module's ``--compile`` form too."""
        want = _mxnet(prefix, feeds)
        found = self.outputs(feeds)
        if compiled is not None:
            order = inspect.signature(self.module.forward).parameters
            with torch.no_grad():
                found["compiled"] = [t.numpy() for t in compiled(*(torch.from_numpy(feeds[name]) for name in order))]
        for target, got in found.items():
            assert len(got) == len(want), target
            for index, count in (rows or {}).items():
                assert not got[index][count:].any(), f"{target}: rows past the last step are not zero"
                want[index], got[index] = want[index][:count], got[index][:count]
            assert_close(want, got, rel=1e-5)
        return want


def _feeds(seed: int, **shapes: tuple) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.normal(size=shape).astype(np.float32) for name, shape in shapes.items()}


def _weights(seed: int, **shapes: tuple) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.normal(0, 0.5, size=shape).astype(np.float32) for name, shape in shapes.items()}


def _rnn_cell_foreach():
    """An Elman cell over ``data`` with one state; its weights (FullyConnected weight slots) closed over."""
    i2h_w, i2h_b, h2h_w = S.var("i2h_weight"), S.var("i2h_bias"), S.var("h2h_weight")

    def step(x, states):
        i2h = S.FullyConnected(x, weight=i2h_w, bias=i2h_b, num_hidden=HIDDEN, name="i2h")
        h2h = S.FullyConnected(states[0], weight=h2h_w, no_bias=True, num_hidden=HIDDEN, name="h2h")
        h = S.tanh(i2h + h2h)
        return h, [h]

    outs, states = S.contrib.foreach(step, S.var("data"), [S.var("begin_state")], name="cell")
    return S.Group([outs, states[0]])


def test_foreach_one_state_two_lengths_from_one_conversion(tmp_path):
    weights = _weights(0, i2h_weight=(HIDDEN, FEATURES), i2h_bias=(HIDDEN,), h2h_weight=(HIDDEN, HIDDEN))
    prefix = _save(_rnn_cell_foreach(), weights, tmp_path / "cell")
    converted = Converted(prefix, {"data": (5, BATCH, FEATURES), "begin_state": (BATCH, HIDDEN)}, {"data": (0,)})
    assert re.search(r"for \w+_step in range\(data\.shape\[0\]\):", converted.source)
    assert [n.op_type for n in converted.onnx.graph.node if n.op_type == "Loop"] == ["Loop"]
    for seed, steps in ((1, 5), (2, 9)):  # the length the model was converted at, and another
        converted.check(prefix, _feeds(seed, data=(steps, BATCH, FEATURES), begin_state=(BATCH, HIDDEN)))
    half, _ = export_onnx(load_checkpoint(prefix, 0), ExportOptions({"data": (5, BATCH, FEATURES),
                                                                     "begin_state": (BATCH, HIDDEN)}, fp16=True))
    feeds = _feeds(3, data=(5, BATCH, FEATURES), begin_state=(BATCH, HIDDEN))
    session = ort.InferenceSession(half.SerializeToString(), providers=["CPUExecutionProvider"])
    assert_close(_mxnet(prefix, feeds), session.run(None, feeds), rel=3e-3)  # the body computes in float16


def test_foreach_two_states_two_data_inputs_and_outer_values(tmp_path):
    """An LSTM-like body over two data inputs (one with its own row shape) with two states and two per-step
    outputs; it closes over a weight read as data (dot) and a value the outer graph computes (exp)."""
    w, u, v = S.var("w"), S.var("u"), S.var("v")
    scale = S.exp(S.var("log_scale"), name="scale")

    def step(rows, states):
        x, y = rows
        h, c = states
        gates = S.dot(x, w) + S.dot(h, u) + S.broadcast_mul(S.sum(y, axis=1, keepdims=True), v)
        i, f, o, g = S.split(gates, num_outputs=4, axis=1)
        c_new = S.sigmoid(f) * c + S.sigmoid(i) * S.tanh(g)
        h_new = S.sigmoid(o) * S.tanh(c_new)
        return [h_new, S.broadcast_mul(c_new, scale)], [h_new, c_new]

    outs, states = S.contrib.foreach(step, [S.var("x"), S.var("y")], [S.var("h0"), S.var("c0")])
    sym = S.Group([*outs, *states])
    weights = _weights(3, w=(FEATURES, 4 * HIDDEN), u=(HIDDEN, 4 * HIDDEN), v=(1, 4 * HIDDEN), log_scale=(HIDDEN,))
    prefix = _save(sym, weights, tmp_path / "lstm")
    shapes = {"x": (4, BATCH, FEATURES), "y": (4, BATCH, 7), "h0": (BATCH, HIDDEN), "c0": (BATCH, HIDDEN)}
    converted = Converted(prefix, shapes, {"x": (0,), "y": (0,)})
    for seed, steps in ((4, 4), (5, 6)):
        converted.check(prefix, _feeds(seed, **{**shapes, "x": (steps, BATCH, FEATURES), "y": (steps, BATCH, 7)}))


class _GluonCell(mx.gluon.HybridBlock):
    """A Gluon block stepping a Dense-like cell with ``F.contrib.foreach`` over axis 0."""

    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.weight = self.params.get("weight", shape=(HIDDEN, FEATURES))
            self.recurrent = self.params.get("recurrent", shape=(HIDDEN, HIDDEN))
            self.bias = self.params.get("bias", shape=(HIDDEN,))

    def hybrid_forward(self, F, data, state, weight, recurrent, bias):
        def step(x, states):
            h = F.FullyConnected(x, weight, bias, num_hidden=HIDDEN)
            h = F.relu(h + F.FullyConnected(states[0], recurrent, no_bias=True, num_hidden=HIDDEN))
            return h * 0.5, [h]

        outs, states = F.contrib.foreach(step, data, [state])
        return outs, states[0]


def test_gluon_hybridblock_foreach_exported(tmp_path):
    net = _GluonCell()
    net.initialize(mx.init.Normal(0.5))
    net.hybridize()
    feeds = _feeds(6, data0=(3, BATCH, FEATURES), data1=(BATCH, HIDDEN))
    net(mx.nd.array(feeds["data0"]), mx.nd.array(feeds["data1"]))
    net.export(str(tmp_path / "gluon"))
    prefix = str(tmp_path / "gluon")
    converted = Converted(prefix, {"data0": (3, BATCH, FEATURES), "data1": (BATCH, HIDDEN)}, {"data0": (0,)})
    converted.check(prefix, feeds)
    converted.check(prefix, _feeds(7, data0=(8, BATCH, FEATURES), data1=(BATCH, HIDDEN)))


def _while_loop_symbol():
    """Steps while the counter's sum stays below 3.5 (at most 6): a state scaled by a closed-over weight."""
    w = S.var("w")

    def condition(i, s):
        return S.sum(i) < 3.5

    def func(i, s):
        s_new = S.tanh(S.broadcast_add(S.broadcast_mul(s, w), i))
        return [s_new * 2, i + 1], [i + 1, s_new]

    outs, states = S.contrib.while_loop(condition, func, [S.var("i0"), S.var("data")], max_iterations=6)
    return S.Group([*outs, *states])


def test_while_loop_stops_on_its_condition(tmp_path):
    prefix = _save(_while_loop_symbol(), _weights(8, w=(BATCH, FEATURES)), tmp_path / "loop")
    converted = Converted(prefix, {"i0": (1,), "data": (BATCH, FEATURES)})
    feeds = _feeds(9, data=(BATCH, FEATURES))
    compiled = CompiledModel(converted.module)  # specialised on the first input: the step count is not kept
    for start, steps in ((0.0, 4), (2.0, 2), (-2.5, 6)):  # MXNet leaves the rows after the last step unwritten
        converted.check(prefix, {**feeds, "i0": np.array([start], np.float32)}, rows={0: steps, 1: steps},
                        compiled=compiled)


def test_cond_takes_either_branch(tmp_path):
    w = S.var("w")
    x = S.var("data")
    sym = S.contrib.cond(S.sum(x) > 0, lambda: S.broadcast_add(x * 2, w), lambda: S.relu(x) - 1)
    prefix = _save(S.Group([sym, S.sigmoid(x)]), _weights(10, w=(1, FEATURES)), tmp_path / "cond")
    converted = Converted(prefix, {"data": (BATCH, FEATURES)})
    assert "if mxnet_decision(" in converted.source and "else:" in converted.source
    compiled = CompiledModel(converted.module)  # specialised on the first input: the branch taken is not kept
    for sign in (1.0, -1.0):
        feeds = {"data": sign * np.abs(_feeds(11, data=(BATCH, FEATURES))["data"])}
        converted.check(prefix, feeds, compiled=compiled)


def test_unsupported_ops_inside_bodies_are_listed_by_name():
    def step(x, states):
        h = S._internal._grad_add(x + states[0], x, name="odd")
        return h, [S.sin(h)]

    outs, states = S.contrib.foreach(step, S.var("data"), [S.var("h")])
    graph = parse_symbol(S.Group([S._internal._square_sum(outs, axis=0, exclude=True, name="outside"),
                                  states[0]]).tojson())
    for convert in (lambda: export_onnx(graph, ExportOptions({"data": (2, 3), "h": (3,)})),
                    lambda: emit_pytorch(graph, TorchOptions({"data": (2, 3), "h": (3,)}))):
        with pytest.raises(UnsupportedOpsError) as raised:
            convert()
        assert re.search(r"unsupported ops: _grad_add \(_foreach\d+/odd\); _square_sum \[exclude \(MXNet's kernel "
                         r"ignores it\)\] \(outside\)$", str(raised.value))


def test_reader_keeps_bodies_and_checks_their_locations():
    graph = parse_symbol(_rnn_cell_foreach().tojson())
    (node,) = graph.nodes
    assert node.num_outputs == 2 and node.attrs["in_data_locs"] == (0,)
    body = node.subgraphs[0]
    assert list(body.variables)[:2] == ["data-0", "i2h_weight"] and len(body.outputs) == 2
    text = _rnn_cell_foreach().tojson().replace('"remain_locs": "[1, 2, 4]"', '"remain_locs": "[1, 2]"')
    with pytest.raises(MxConvertError, match="in_data_locs|num_args|locations"):
        parse_symbol(text)


def test_foreach_inside_foreach(tmp_path):
    """A body holding a loop of its own, over the rows of its step, closing over a weight from two levels out."""
    w = S.var("w")

    def outer(x, states):
        def inner(row, inner_states):
            h = S.tanh(row * w + inner_states[0])
            return h, [h]

        rows, last = S.contrib.foreach(inner, x, [states[0]])
        return rows, [S.sigmoid(last[0])]

    outs, states = S.contrib.foreach(outer, S.var("data"), [S.var("h0")])
    prefix = _save(S.Group([outs, states[0]]), _weights(12, w=(FEATURES,)), tmp_path / "nested")
    converted = Converted(prefix, {"data": (4, 5, FEATURES), "h0": (FEATURES,)}, {"data": (0,)})
    for seed, steps in ((13, 4), (14, 6)):
        converted.check(prefix, _feeds(seed, data=(steps, 5, FEATURES), h0=(FEATURES,)))


def _tiny_elmo(folder: Path):
    """GluonNLP's ELMo, tiny and untrained, exported by Gluon: its prefix, and feeds of a given length (random
    characters, non-zero begin states)."""
    from gluonnlp.model.elmo import ELMoBiLM

    net = ELMoBiLM(rnn_type="lstmpc", output_size=16, filters=[[1, 4], [2, 8]], char_embed_size=4,
                   char_vocab_size=262, num_highway=1, conv_layer_activation="relu", max_chars_per_token=6,
                   input_size=16, hidden_size=12, proj_size=8, num_layers=2, cell_clip=3, proj_clip=3)
    net.initialize(mx.init.Normal(0.3))
    net.hybridize()
    rng = np.random.default_rng(15)
    begin = net.begin_state(mx.nd.zeros, batch_size=BATCH)
    net(mx.nd.array(rng.integers(1, 262, size=(BATCH, 5, 6)).astype(np.float32)), begin)
    states = [state for direction in begin for layer in direction for state in layer]
    net.export(str(folder / "elmo"))

    def feeds(steps: int) -> dict[str, np.ndarray]:
        chars = rng.integers(1, 262, size=(BATCH, steps, 6)).astype(np.float32)
        return {"data0": chars, **{f"data{index + 1}": rng.normal(0, 0.3, size=s.shape).astype(np.float32)
                                   for index, s in enumerate(states)}}

    return str(folder / "elmo"), feeds


def test_tiny_elmo(tmp_path):
    """GluonNLP's ELMo (character CNN, highway, two bidirectional LSTMP layers stepped by ``_foreach``), tiny and
    untrained, exported by Gluon; converted once with its sequence axis dynamic and run at two lengths with
    non-zero begin states, all 11 outputs against MXNet."""
    prefix, feeds = _tiny_elmo(tmp_path)
    shapes = {name: value.shape for name, value in feeds(5).items()}
    assert sum(n.op == "_foreach" for n in load_checkpoint(prefix, 0).nodes) == 4
    converted = Converted(prefix, shapes, {"data0": (1,)})
    for steps in (5, 8):
        assert len(converted.check(prefix, feeds(steps))) == 11


def _layer_report(prefix: str, feeds: dict[str, np.ndarray], folder: Path, edit_onnx=None, edit_source=None):
    """compare_layers on the checkpoint's conversions (``edit_onnx``/``edit_source``: a bug planted in one)."""
    import onnx

    from mxconvert.layers.divergence import checkpoint_report
    from mxconvert.to_onnx import save_onnx
    from mxconvert.to_onnx.exporter import build_onnx

    shapes = {name: value.shape for name, value in feeds.items()}
    graph = load_checkpoint(prefix, 0)
    save_onnx(build_onnx(graph, ExportOptions(shapes))[0], str(folder / "model.onnx"))
    if edit_onnx is not None:
        model = onnx.load(folder / "model.onnx")
        edit_onnx(model)
        onnx.checker.check_model(model)
        onnx.save(model, folder / "model.onnx")
    source, state = emit_pytorch(graph, TorchOptions(shapes))
    (folder / "kit_model.py").write_text(source if edit_source is None else edit_source(source))
    torch.save(state, folder / "model.pth")
    return graph, checkpoint_report(prefix, 0, feeds, onnx_model=str(folder / "model.onnx"),
                                    kit_model=str(folder / "kit_model.py"), pytorch_model=str(folder / "model.pth"))


def _body_labels(node, *subgraphs: int) -> list[str]:
    return [f"{node.name}/{inner.name}" for index in subgraphs for inner in node.subgraphs[index].nodes]


def _flat(report, compared: int) -> None:
    """Every target within the criterion at every row MXNet computed, ``compared`` rows in all."""
    for target in ("onnxruntime", "pytorch"):
        diffs = report.diffs[target]
        assert sum(diff is not None for diff in diffs) == compared
        assert report.first_offender(target) is None
        assert all(diff is None or not report.diverges(i, diff) for i, diff in enumerate(diffs))


def _cell(folder: Path) -> str:
    return _save(_rnn_cell_foreach(), _weights(3, i2h_weight=(HIDDEN, FEATURES), i2h_bias=(HIDDEN,),
                                               h2h_weight=(HIDDEN, HIDDEN)), folder / "cell")


def test_layer_report_taps_the_foreach_body_step_by_step(tmp_path):
    """compare_layers on an RNN cell's ``_foreach``: a row per body node (``loop/inner``), its 5 steps stacked on
    a new axis 0 in MXNet (the body symbol bound per step), ONNX Runtime (Loop scan outputs) and PyTorch (the
    loop's lines), before the loop's own rows; all flat against MXNet's float64 result."""
    from mxconvert.layers.divergence import compare_layers, float64_reference
    from mxconvert.layers.taps import MxnetInternals, OrtInternals, TorchInternals

    feeds = _feeds(4, data=(5, 2, FEATURES), begin_state=(2, HIDDEN))
    prefix = _cell(tmp_path)
    graph, report = _layer_report(prefix, feeds, tmp_path)
    (loop,) = graph.nodes
    assert [probe.label for probe in report.probes] == [*_body_labels(loop, 0), f"{loop.name}:0", f"{loop.name}:1"]
    assert all(probe.shape == (5, 2, HIDDEN) for probe in report.probes[:-1])
    assert report.floors is not None and max(report.floors) < 1e-6
    _flat(report, len(report.probes))
    # one row a chunk: each backend runs the loop once per body row, to the same values
    reference = MxnetInternals(prefix, 0, feeds)
    exact, _ = float64_reference(prefix, 0, reference.feeds, graph, report.probes)
    targets = {"onnxruntime": OrtInternals(str(tmp_path / "model.onnx"), report.probes),
               "pytorch": TorchInternals(str(tmp_path / "kit_model.py"), str(tmp_path / "model.pth"), graph)}
    chunked = compare_layers(reference, graph, targets, 1e-5, chunk_bytes=1, exact=exact)
    assert chunked.diffs == report.diffs and chunked.floors == report.floors


def test_layer_report_taps_the_while_loop_body_for_the_steps_run(tmp_path):
    """The func body's nodes, stacked over the steps the loop ran (4 of at most 6), alike in every backend; the
    loop's stacked outputs compared with MXNet's rows after the last step (left unwritten) as zeros."""
    from mxconvert.layers.taps import MxnetInternals, OrtInternals, TorchInternals

    prefix = _save(_while_loop_symbol(), _weights(8, w=(BATCH, FEATURES)), tmp_path / "loop")
    feeds = {**_feeds(9, data=(BATCH, FEATURES)), "i0": np.array([0.0], np.float32)}
    graph, report = _layer_report(prefix, feeds, tmp_path)
    (loop,) = graph.nodes
    body = [probe for probe in report.probes if probe.owner]
    assert [probe.label for probe in body] == _body_labels(loop, 1)
    _flat(report, len(report.probes))
    reference = MxnetInternals(prefix, 0, feeds)
    backends = {"mxnet": reference, "onnxruntime": OrtInternals(str(tmp_path / "model.onnx"), body),
                "pytorch": TorchInternals(str(tmp_path / "kit_model.py"), str(tmp_path / "model.pth"), graph)}
    for name, backend in backends.items():
        values = backend.fetch(reference.feeds, body)
        assert {value.shape[0] for value in values.values()} == {4}, name
    counter = reference.fetch(reference.feeds, body)[f"{loop.name}/{loop.subgraphs[1].nodes[-1].name}"]
    assert counter.ravel().tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("sign, taken", [(1.0, 1), (-1.0, 2)])
def test_layer_report_taps_the_branch_taken(tmp_path, sign, taken):
    """A ``_cond``'s condition nodes and the taken branch's nodes compared; the other branch's rows not run."""
    from mxconvert.layers.report import summary, to_json

    w = S.var("w")
    x = S.var("data")
    sym = S.contrib.cond(S.sum(x) > 0, lambda: S.broadcast_add(x * 2, w), lambda: S.relu(x) - 1)
    prefix = _save(S.Group([sym, S.sigmoid(x)]), _weights(10, w=(1, FEATURES)), tmp_path / "cond")
    feeds = {"data": sign * np.abs(_feeds(11, data=(BATCH, FEATURES))["data"])}
    graph, report = _layer_report(prefix, feeds, tmp_path)
    node = next(node for node in graph.nodes if node.op == "_cond")
    labels = [probe.label for probe in report.probes]
    assert [label for label in labels if "/" in label] == _body_labels(node, 0, 1, 2)
    skipped = set(_body_labels(node, 3 - taken))
    assert report.float64_note is None  # the condition cast to float32 (mxconvert.float64_graph)
    assert {labels[i] for i in report.not_run} == skipped
    _flat(report, len(labels) - len(skipped))
    for target in ("onnxruntime", "pytorch"):
        compared = {labels[i] for i, diff in enumerate(report.diffs[target]) if diff is not None}
        assert set(_body_labels(node, 0, taken)) <= compared and not compared & skipped
    rows = {row["node"]: row for row in json.loads(to_json(report))["nodes"]}
    assert all(rows[label]["onnxruntime"] is None and rows[label]["pytorch"] is None for label in skipped)
    assert all(f"{len(skipped)} body node output(s) not run" in line for line in summary(report)[-2:])


def test_layer_report_names_a_planted_body_bug_at_its_step(tmp_path):
    """ONNX: the cell's sum subtracts; PyTorch: its tanh is a sigmoid. The state carries each error round the
    loop, so from step 1 on the h2h product, ahead of both in the body, is off too: the first divergent node is
    the one that diverges at the earliest step, the planted one at step 0."""
    from mxconvert.layers.report import summary

    feeds = _feeds(4, data=(5, 2, FEATURES), begin_state=(2, HIDDEN))
    prefix = _cell(tmp_path)
    (loop,) = load_checkpoint(prefix, 0).nodes
    plus, tanh = (inner.name for inner in loop.subgraphs[0].nodes if inner.op in ("elemwise_add", "tanh"))

    def subtracting(model):
        (body,) = [a.g for a in model.graph.node[-1].attribute if a.name == "body"]
        (add,) = [n for n in body.node if n.op_type == "Add"]
        add.op_type = "Sub"

    def sigmoid(source):
        assert source.count("torch.tanh(") == 1
        return source.replace("torch.tanh(", "torch.sigmoid(")

    _, report = _layer_report(prefix, feeds, tmp_path, subtracting, sigmoid)
    labels = [probe.label for probe in report.probes]
    for key, node, op in (("onnxruntime", plus, "elemwise_add"), ("pytorch", tanh, "tanh")):
        offender = report.first_offender(key)
        assert (offender.node, offender.op, offender.step) == (f"{loop.name}/{node}", op, 0), summary(report)
        h2h = report.diffs[key][labels.index(f"{loop.name}/h2h")]
        assert report.diverges(labels.index(f"{loop.name}/h2h"), h2h) and h2h.first_step == 1
    lines = summary(report)
    assert f"node {loop.name}/{plus} (elemwise_add) at step 0" in lines[0]
    assert f"node {loop.name}/{tanh} (tanh) at step 0" in lines[1]


def test_layer_report_taps_tiny_elmos_four_loops(tmp_path):
    """Every body node of ELMo's four LSTMP ``_foreach`` loops (Gluon's names) is a row compared in both targets,
    all flat against MXNet's float64 result."""
    prefix, feeds = _tiny_elmo(tmp_path)
    graph, report = _layer_report(prefix, feeds(5), tmp_path)
    loops = [node for node in graph.nodes if node.op == "_foreach"]
    body = [probe.node for probe in report.probes if probe.owner]
    assert list(dict.fromkeys(body)) == [label for loop in loops for label in _body_labels(loop, 0)]
    assert len(body) == 80  # node outputs: a slice has four
    for target in ("onnxruntime", "pytorch"):
        assert all(diff is not None for probe, diff in zip(report.probes, report.diffs[target]) if probe.owner)
        assert report.first_offender(target) is None
