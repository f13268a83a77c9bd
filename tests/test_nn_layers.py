"""nn layers, normalisation and matrix products beyond the per-op cases: other batch sizes, deformable
convolutions at other sizes, the modules the PyTorch model trains, and what MXNet itself refuses or a target
cannot express, refused by name."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from mxcases import CASES, S, assert_close, assert_near_exact, mx, run_reference

from mxconvert.checkpoint import attach_weights
from mxconvert.errors import UnsupportedOpsError
from mxconvert.mxnet_runner import MxnetModel
from mxconvert.semantics.rules import ShapeError
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source

d = S.var("data")
# Cases whose every output row depends on its own input row only: a batch of three copies gives three copies.
PER_ROW = ("nn_deconv2d_stride_pad_adj", "nn_dot_nd", "nn_dot_transpose_b_nd", "nn_group_norm_output_mean_var",
           "nn_layer_norm_axis1", "nn_lrn_3", "nn_embedding", "nn_instance_norm_1d", "dcn_v1_pad", "dcn_v2_pad")


@pytest.mark.parametrize("case", PER_ROW)
def test_other_batch_sizes_follow_mxnet(case):
    """ONNX with a dynamic batch and the generated PyTorch module, converted at one batch size, run at three times
    it."""
    sym, shape = CASES[case]
    ref = run_reference(sym, shape)
    data = np.concatenate([ref.data] * 3)
    expected = [np.concatenate([out] * 3) for out in ref.outputs]
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=shape, dynamic_batch=True))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert_close(expected, session.run(None, {session.get_inputs()[0].name: data}))
    source, state = emit_pytorch(ref.graph, TorchOptions(shape))
    module = build_model(module_from_source(source), state)
    with torch.no_grad():
        out = module(torch.from_numpy(data))
    assert_close(expected, [o.numpy() for o in (out if isinstance(out, tuple) else [out])])


# deformable convolutions converted at the case's shape, run at two others (torch.export traces the first)
DEFORMABLE_SIZES = {"dcn_v1_groups_stride_dilate_no_bias": [(2, 4, 13, 6), (1, 4, 5, 11)],
                    "dcn_v1_rect_far": [(3, 4, 3, 9), (1, 4, 8, 4)],
                    "dcn_v2_groups_stride_no_bias": [(2, 4, 6, 11), (1, 4, 13, 7)],
                    "dcn_v2_rect_far": [(3, 4, 6, 3), (1, 4, 11, 7)]}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script still works; it is only deprecated
@pytest.mark.parametrize("case", sorted(DEFORMABLE_SIZES))
def test_deformable_convolutions_at_other_sizes(case, tmp_path):
    """One conversion with batch, height and width dynamic: the sampling grid, the data's bounds and the output's
    size follow the live shapes in ONNX (opset 13's decomposition; 19: DeformConv for DCNv2) and PyTorch (eager,
    TorchScript, torch.export with its sizes dynamic), within MXNet float32's own distance of its float64 run at
    each size."""
    sym, shape = CASES[case]
    ref = run_reference(sym, shape)
    prefix = str(tmp_path / "m")
    mx.model.save_checkpoint(prefix, 0, sym, {name: mx.nd.array(value) for name, value in ref.graph.params.items()}, {})
    dynamic = {"data": (0, 2, 3)}
    sessions = [ort.InferenceSession(export_onnx(ref.graph, ExportOptions(input_shape=shape, dynamic_axes=dynamic,
                                                                          opset=opset))[0].SerializeToString(),
                                     providers=["CPUExecutionProvider"]) for opset in (13, 19)]
    source, state = emit_pytorch(ref.graph, TorchOptions(shape, dynamic_axes=dynamic))
    module = build_model(module_from_source(source), state)
    inputs = [np.random.default_rng(5).uniform(-1, 1, other).astype(np.float32) for other in DEFORMABLE_SIZES[case]]
    auto = torch.export.Dim.AUTO
    runs = (module, torch.jit.script(module), torch.export.export(
        module, (torch.from_numpy(inputs[0]),), dynamic_shapes=({0: auto, 2: auto, 3: auto},)).module())
    expected, exact = MxnetModel(prefix, 0), MxnetModel(prefix, 0, dtype="float64")
    for data in inputs:
        outputs = [session.run(None, {"data": data}) for session in sessions]
        with torch.no_grad():
            outputs.extend([run(torch.from_numpy(data)).numpy()] for run in runs)
        for actual in outputs:
            assert_near_exact(expected(data), exact(data.astype(np.float64)), actual)


@pytest.mark.parametrize("case, layer", [("nn_deconv3d", "nn.ConvTranspose3d"), ("nn_group_norm", "nn.GroupNorm"),
                                         ("nn_layer_norm_axis1", "nn.LayerNorm"), ("nn_embedding", "nn.Embedding"),
                                         ("nn_instance_norm", "nn.InstanceNorm2d")])
def test_layers_are_torch_modules_with_their_weights(case, layer):
    """The converted model trains: each layer is a module holding its MXNet weights (GroupNorm's per-group gamma
    and beta repeated per channel)."""
    sym, shape = CASES[case]
    ref = run_reference(sym, shape)
    source, state = emit_pytorch(ref.graph, TorchOptions(shape))
    assert f"= {layer}(" in source
    module = build_model(module_from_source(source), state)
    parameters = dict(module.named_parameters())
    assert any(name.endswith(".weight") for name in parameters), parameters.keys()
    if case == "nn_group_norm":
        gamma = ref.graph.weight("gn_gamma")
        assert np.array_equal(parameters["gn.weight"].detach().numpy(), np.repeat(gamma, 2))


ONES = {"w": (3, 2), "node_gamma": (3,), "node_beta": (3,)}  # weights of the refused graphs (all ones)
REFUSED = {  # graphs MXNet 1.9.1 refuses to run: symbol (its node called "node"), input shape, our reason
    "log_softmax_use_length": (S.log_softmax(d, axis=-1, use_length=True, name="node"), (2, 3),
                               r"log_softmax\): log_softmax takes one input and no use_length"),
    "instance_norm_2d": (S.InstanceNorm(d, name="node"), (2, 3), r"InstanceNorm\): data of shape"),
    "lrn_3d": (S.LRN(d, nsize=3, name="node"), (2, 3, 4), r"LRN\): data of shape \(2, 3, 4\)"),
    "batch_dot_2d": (S.batch_dot(d, S.var("w", shape=(3, 2)), name="node"), (2, 3),
                     r"batch_dot\): operands of shapes"),
    "dot_transposed_vectors": (S.dot(d, d * 2.0, transpose_a=True, name="node"), (3,),
                               r"dot\): MXNet's dot cannot transpose vectors"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_mxnet_refuses_is_bad_input(case):
    sym, shape, reason = REFUSED[case]
    with pytest.raises((mx.base.MXNetError, RuntimeError)):
        run_reference(sym, shape)
    graph = parse_symbol(sym.tojson())
    weights = {f"arg:{name}": np.ones(size, np.float32) for name, size in ONES.items() if name in graph.variables}
    attach_weights(graph, weights, "<test>")
    for emit in (lambda: export_onnx(graph, ExportOptions(input_shape=shape)), lambda: emit_pytorch(graph, TorchOptions(shape))):
        with pytest.raises(ShapeError, match=rf"node 'node' \({reason}"):
            emit()


NOT_EXPRESSIBLE = {  # graphs MXNet runs that a target does not reproduce: symbol, input shape, the reason given
    "lrn_even_nsize": (S.LRN(d, nsize=4, name="node"), (1, 5, 2, 2), r"LRN \[even nsize 4\] \(node\)"),
    "selfatt_uneven_heads": (S.contrib.interleaved_matmul_selfatt_qk(d, heads=4, name="node"), (3, 2, 18),
                             r"\[18 projections do not split into 3 x 4 heads\] \(node\)"),
    "softmin_float16": (S.softmin(d, dtype="float16", name="node"), (2, 3),
                        r"softmin \[dtype float16\] \(node\)"),
}


@pytest.mark.parametrize("case", sorted(NOT_EXPRESSIBLE))
def test_what_a_target_cannot_express_is_refused_by_name(case):
    sym, shape, reason = NOT_EXPRESSIBLE[case]
    run_reference(sym, shape)  # MXNet runs it
    graph = parse_symbol(sym.tojson())
    for emit in (lambda: export_onnx(graph, ExportOptions(input_shape=shape)), lambda: emit_pytorch(graph, TorchOptions(shape))):
        with pytest.raises(UnsupportedOpsError, match=reason):
            emit()
