"""The generated ``forward`` frees each value after its last use: live tensors are bounded by the graph's
liveness width, not its node count, on every path that runs the code, and the layer report still taps every
node."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from mxcases import S, assert_close, mx, run_reference

from generated_code import forward_variables

from mxconvert import api
from mxconvert.layers.probes import Probe
from mxconvert.layers.taps import TorchInternals
from mxconvert.liveness import liveness
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source

d = S.var("data")
SHAPE = (2, 4, 6, 6)
CHAIN = 12


def _branchy_net():
    """A long chain, a residual join, two parallel chains into a concat, a multi-output split read at two
    places, one value read twice by one node, a shared weight, and a head that later nodes read too."""
    shared = S.var("shared_weight")
    x = S.Convolution(d, weight=shared, kernel=(3, 3), pad=(1, 1), num_filter=4, no_bias=True, name="conv_a")
    for index in range(CHAIN):
        x = S.Activation(x, act_type="tanh" if index % 2 else "relu", name=f"chain{index}")
    branch = x
    x = S.BatchNorm(S.Convolution(x, kernel=(1, 1), num_filter=4, name="res_conv"), fix_gamma=False, name="res_bn")
    joined = S.elemwise_add(x, branch, name="join")
    left = S.Activation(S.Convolution(joined, weight=shared, kernel=(3, 3), pad=(1, 1), num_filter=4, no_bias=True,
                                      name="conv_b"), act_type="relu", name="left_relu")
    right = S.sigmoid(S.Pooling(joined, kernel=(3, 3), pad=(1, 1), pool_type="max", name="right_pool"),
                      name="right_sigmoid")
    cat = S.Concat(left, right, dim=1, name="cat")
    parts = S.SliceChannel(cat, num_outputs=2, axis=1, name="split")
    squared = S.elemwise_mul(parts[0], parts[0], name="square")
    head = S.tanh(squared + 1, name="head")
    tail = S.Pooling(S.elemwise_add(head, parts[1], name="mix"), global_pool=True, kernel=(1, 1), pool_type="avg",
                     name="gap")
    return S.Group([head, tail])


@pytest.fixture(scope="module")
def symbol():
    return _branchy_net()  # once: MXNet numbers unnamed nodes across calls


@pytest.fixture(scope="module")
def branchy(symbol):
    return run_reference(symbol, SHAPE)


def _live_locals(model: torch.nn.Module, data: torch.Tensor) -> tuple[int, object]:
    """Most tensor-holding locals of ``forward`` at any of its lines or its return (the input and ``self``
    not counted), and its output."""
    counts: list[int] = []

    def holding(frame) -> int:
        return sum(isinstance(value, (torch.Tensor, tuple, list)) for name, value in frame.f_locals.items()
                   if name not in ("self", "data"))

    def trace(frame, event, arg):
        if frame.f_code is not type(model).forward.__code__:
            return None

        def local(frame, event, arg):
            counts.append(holding(frame))
            return local
        return local

    sys.settrace(trace)
    try:
        with torch.no_grad():
            out = model(data)
    finally:
        sys.settrace(None)
    return max(counts), out


def test_liveness_reads_each_value_once_per_node(branchy):
    graph = branchy.graph
    position = {n.name: i for i, n in enumerate(graph.nodes)}
    life = liveness(graph)
    assert life.readers["chain11"] == (position["res_conv"], position["join"])
    assert life.readers["split"] == (position["square"], position["mix"])  # square reads split:0 twice
    assert life.readers["head"] == (position["mix"], life.end) and life.is_output("head")
    assert life.last_use("right_pool") == position["right_sigmoid"]
    assert life.width() == 3


@pytest.mark.parametrize("fuse_bn", [False, True], ids=["plain", "fuse_bn"])
def test_live_tensors_bounded_by_liveness_width(branchy, fuse_bn):
    """Fails on code that binds every node to its own variable for the whole call (node count ~ 25)."""
    graph = branchy.graph
    source, state = emit_pytorch(graph, TorchOptions(SHAPE, fuse_bn=fuse_bn))
    model = build_model(module_from_source(source), state)
    peak, out = _live_locals(model, torch.from_numpy(branchy.data))
    assert_close(branchy.outputs, [o.numpy() for o in out], rel=1e-4 if fuse_bn else 1e-5)
    width = liveness(graph).width()
    assert width <= 5 < len(graph.nodes) - 15
    assert peak <= width


def test_variables_name_what_they_hold(branchy):
    """``x`` runs through the graph, a side chain is ``branch``, a node's name holds that node's value only."""
    source, _ = emit_pytorch(branchy.graph, TorchOptions(SHAPE))
    forward = source[source.index("def forward"):]
    assert "        x = self.conv_a(data)\n        x = F.relu(x)  # chain0\n" in forward
    assert "        x = torch.tanh(x)  # chain11\n        branch = self.res_conv(x)\n" in forward  # kept in x
    assert "        x = branch + x  # join\n        del branch\n" in forward
    assert "        x = self.right_pool(x)\n        x = torch.sigmoid(x)  # right_sigmoid\n" in forward
    assert "        x = torch.cat([branch, x], dim=1)  # cat\n        del branch\n" in forward
    assert "        split = torch.chunk(x, 2, dim=1)\n        del x\n" in forward  # multi-output: named
    assert "        head = torch.tanh(x)\n        del x\n" in forward and "return head, gap" in forward
    assert "self.conv_b.weight = self.conv_a.weight" in source  # the shared weight stays one tensor
    # del only where the line reading a value last assigns another variable: join, cat, split, head, mix
    assert forward_variables(source) == (len(branchy.graph.nodes) + 5 + 2, 5)


def test_resnet_block_reads_like_a_residual_block(zoo_model):
    """Gluon's ResNet-18: one line per node, the skip tensor in ``x``, each residual body or shortcut in
    ``branch``, one ``del`` per residual join."""
    graph = api.load(zoo_model("gluon-resnet18_v1"))
    source, _ = emit_pytorch(graph, TorchOptions((1, 3, 224, 224)))
    assert forward_variables(source) == (len(graph.nodes) + 8 + 2, 8)  # + the dels, the signature and return
    assert len(source.splitlines()) == 184
    assert "        x = self.resnetv10_stage2_batchnorm1_fwd(x)\n        x = branch + x  # resnetv10_stage2_plus0\n" \
        in source
    assert source.count("MxnetBatchNorm2d(") == 20 + 1 and "mxnet_batch_norm" not in source


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script still works; it is only deprecated
@pytest.mark.parametrize("fuse_bn", [False, True], ids=["plain", "fuse_bn"])
def test_script_export_trace_and_channels_last_match_eager(branchy, fuse_bn):
    source, state = emit_pytorch(branchy.graph, TorchOptions(SHAPE, fuse_bn=fuse_bn))
    model = build_model(module_from_source(source), state)
    data = torch.from_numpy(branchy.data)
    with torch.no_grad():
        eager = model(data)
        runs = [torch.jit.script(model)(data), torch.export.export(model, (data,)).module()(data),
                torch.jit.freeze(torch.jit.trace(model, data))(data),
                model.to(memory_format=torch.channels_last)(data.contiguous(memory_format=torch.channels_last))]
    for out in runs:
        assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(out, eager, strict=True))


def _mxnet_internals(symbol, branchy) -> dict[str, np.ndarray]:
    internals = symbol.get_internals()
    executor = internals.simple_bind(mx.cpu(), data=SHAPE, grad_req="null")
    for name, value in {**branchy.graph.params, **branchy.graph.aux}.items():
        (executor.aux_dict if name in branchy.graph.aux else executor.arg_dict)[name][:] = value
    executor.arg_dict["data"][:] = branchy.data
    return dict(zip(internals.list_outputs(), (o.asnumpy() for o in executor.forward(is_train=False))))


@pytest.mark.parametrize("fuse_bn", [False, True], ids=["plain", "fuse_bn"])
def test_layer_taps_see_every_node_output(symbol, branchy, tmp_path, fuse_bn):
    graph = branchy.graph
    source, state = emit_pytorch(graph, TorchOptions(SHAPE, fuse_bn=fuse_bn))
    (tmp_path / "kit_model.py").write_text(source)
    torch.save(state, tmp_path / "model.pth")
    taps = TorchInternals(str(tmp_path / "kit_model.py"), str(tmp_path / "model.pth"), graph)
    probes = [Probe(n.name, i, n.num_outputs, n.op, ()) for n in graph.nodes for i in range(n.num_outputs)]
    captured = taps.fetch({"data": branchy.data}, probes)
    folded = {"res_conv"} if fuse_bn else set()
    assert set(captured) == {p.label for p in probes if p.node not in folded}
    expected = _mxnet_internals(symbol, branchy)
    for probe in probes:
        if probe.node not in folded:
            name = f"{probe.node}_output" if probe.outputs == 1 else f"{probe.node}_output{probe.index}"
            assert_close([expected[name]], [captured[probe.label]], rel=1e-4)

