"""Every ONNX converter against real MXNet: one tiny graph per op and attribute combination."""
import numpy as np
import onnxruntime as ort
import pytest

from mxconvert.checkpoint import attach_weights
from mxconvert.errors import MxConvertError, UnsupportedOpsError
from mxconvert.semantics.rules import ShapeError
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxcases import (BOTH_REFUSE, CASE_INPUTS, CASES, HEADS, ONNX_OPSET_FLOOR, ONNX_REFUSES, S, assert_close,
                     assert_near_exact, mx, run_reference)


def run_onnx(model, data: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: data})


@pytest.fixture(scope="module", params=sorted(CASES))
def reference(request):
    sym, shape = CASES[request.param]
    return run_reference(sym, shape, inputs=CASE_INPUTS.get(request.param))


@pytest.mark.parametrize("opset", [11, 13, 18, 21])
def test_op_matches_mxnet(request, reference, opset):
    case = request.node.callspec.params["reference"]
    if case in ONNX_REFUSES:
        with pytest.raises(UnsupportedOpsError, match=rf"unsupported ops: {ONNX_REFUSES[case]} \("):
            export_onnx(reference.graph, ExportOptions(input_shape=reference.data.shape, opset=opset))
        return
    floor, reason = ONNX_OPSET_FLOOR.get(case, (0, ""))
    if opset < floor:
        with pytest.raises(UnsupportedOpsError, match=reason):
            export_onnx(reference.graph, ExportOptions(input_shape=reference.data.shape, opset=opset))
        return
    model, _ = export_onnx(reference.graph, ExportOptions(input_shape=reference.data.shape, opset=opset))
    outputs = run_onnx(model, reference.data)
    assert_close(reference.outputs, outputs)
    assert [o.dtype for o in outputs] == [o.dtype for o in reference.outputs]


@pytest.mark.parametrize("op, low, high", [("erfinv", -0.9999, 0.9999), ("gamma", -6.0, 30.0),
                                           ("gammaln", -20.0, 60.0)])
def test_special_functions_near_float64(op, low, high):
    """erfinv, gamma and gammaln, composed of ONNX operators: within MXNet float32's own distance of MXNet's
    float64 result (per row), over their domains (negative arguments near the poles, erfinv's tails)."""
    ref = run_reference(getattr(S, op)(S.var("data"), name=op), (8, 500), low=low, high=high)
    exact = [getattr(mx.nd, op)(mx.nd.array(ref.data, dtype="float64")).asnumpy()]
    for opset in (11, 21):
        model, _ = export_onnx(ref.graph, ExportOptions(input_shape=ref.data.shape, opset=opset))
        assert_near_exact(ref.outputs, exact, run_onnx(model, ref.data))


LOG_GAMMA_PDFS = ["pdf_gamma", "pdf_gamma_log", "pdf_poisson", "pdf_poisson_log", "pdf_negative_binomial",
                  "pdf_generalized_negative_binomial_log", "pdf_dirichlet", "pdf_dirichlet_log_one_vector"]


@pytest.mark.parametrize("case", ["smooth_l1", "quadratic", "moments", "cumsum", "softmax_cross_entropy",
                                  *LOG_GAMMA_PDFS, "hawkes_ll", "hawkes_ll_fractional_length"])
def test_math_tail_near_float64(case):
    """The math long tail's float results, the densities with log-gamma terms and the Hawkes log-likelihood, both
    targets: within MXNet float32's own distance of MXNet's float64 run of the same graph (data and float weights
    widened)."""
    import torch

    from mxconvert.to_torch.loader import build_model, module_from_source

    sym, shape = CASES[case]
    ref = run_reference(sym, shape, inputs=CASE_INPUTS.get(case))
    values = {**ref.graph.params, "data": ref.data}
    executor = sym.bind(mx.cpu(), {name: mx.nd.array(values[name], dtype="float64" if values[name].dtype.kind == "f"
                                                      else values[name].dtype) for name in sym.list_arguments()})
    exact = [output.asnumpy() for output in executor.forward()]
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=shape))
    assert_near_exact(ref.outputs, exact, run_onnx(model, ref.data))
    source, state = emit_pytorch(ref.graph, TorchOptions(shape))
    with torch.no_grad():
        outputs = build_model(module_from_source(source, case), state)(torch.from_numpy(ref.data))
    assert_near_exact(ref.outputs, exact, [o.numpy() for o in (outputs if isinstance(outputs, tuple) else [outputs])])


def test_dynamic_batch_reshape_and_softmax():
    sym = S.SoftmaxOutput(S.Reshape(S.var("data"), shape=(0, -1)), name="softmax")
    ref = run_reference(sym, (1, 3, 4, 4))
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=(1, 3, 4, 4), dynamic_batch=True))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    batch = np.concatenate([ref.data] * 5)
    out = run_onnx(model, batch)[0]
    assert out.shape == (5, 48)
    assert_close([np.concatenate(ref.outputs * 5)], [out])


def test_no_softmax_gives_logits():
    sym = S.SoftmaxOutput(S.FullyConnected(S.var("data"), num_hidden=5, name="fc"), name="softmax")
    ref = run_reference(sym, (2, 3))
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=(2, 3), keep_softmax=False))
    logits = run_onnx(model, ref.data)[0]
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    assert_close(ref.outputs, [exp / exp.sum(axis=1, keepdims=True)])
    assert not np.allclose(logits, ref.outputs[0])


def test_weights_are_initializers_not_inputs():
    ref = run_reference(CASES["conv_basic"][0], (1, 3, 9, 9))
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=(1, 3, 9, 9)))
    assert [i.name for i in model.graph.input] == ["data"]
    assert {i.name for i in model.graph.initializer} == {"conv_weight", "conv_bias"}
    assert model.opset_import[0].version == 13
    assert model.graph.node[0].name == "conv" and model.graph.output[0].name == "conv_output"


def test_every_unsupported_op_is_listed_at_once():
    d = S.var("data")
    grad_add = S._internal._grad_add  # MXNet's sum of gradients: no inference op
    up = S.UpSampling(grad_add(d, d, name="q1"), scale=2, sample_type="nearest", name="up")
    sym = S.LRN(grad_add(grad_add(up, up, name="inv"), up, name="q2"), nsize=4, name="lrn")
    ref = run_reference(sym, (1, 2, 3, 3))
    with pytest.raises(UnsupportedOpsError) as info:
        export_onnx(ref.graph, ExportOptions(input_shape=(1, 2, 3, 3)))
    message = str(info.value)
    assert "LRN [even nsize 4] (lrn)" in message and "_grad_add (" in message
    assert all(name in message for name in ("q1", "inv", "q2"))


@pytest.mark.parametrize("case", ["dcn_v1_pad", "dcn_v2_pad"])
def test_deform_conv_from_opset_19_for_dcnv2_only(case):
    """ONNX's DeformConv samples as DCNv2 does (zeros past the edges), not as DCNv1 (its last row read alone)."""
    sym, shape = CASES[case]
    ref = run_reference(sym, shape)
    for opset in (18, 19):
        model, _ = export_onnx(ref.graph, ExportOptions(input_shape=shape, opset=opset))
        assert_close(ref.outputs, run_onnx(model, ref.data))
        uses = any(node.op_type == "DeformConv" for node in model.graph.node)
        assert uses == (opset == 19 and case == "dcn_v2_pad")


@pytest.mark.parametrize("case", sorted(BOTH_REFUSE))
def test_refused_by_name_with_the_reason(case):
    sym, shape, reason = BOTH_REFUSE[case]
    ref = run_reference(sym, shape)
    with pytest.raises(UnsupportedOpsError, match=reason):
        export_onnx(ref.graph, ExportOptions(input_shape=shape))


@pytest.mark.parametrize("opset", [10, 22])
def test_opset_out_of_range(opset):
    ref = run_reference(CASES["act_relu"][0], (1, 3, 4, 4))
    with pytest.raises(MxConvertError, match="opset"):
        export_onnx(ref.graph, ExportOptions(input_shape=(1, 3, 4, 4), opset=opset))


def test_inconsistent_shapes_are_reported():
    ref = run_reference(CASES["conv_basic"][0], (2, 3, 9, 9))
    with pytest.raises(MxConvertError, match="conv.*weight has shape"):
        export_onnx(ref.graph, ExportOptions(input_shape=(2, 5, 9, 9)))


def test_fp16_error_is_bounded():
    sym = S.FullyConnected(S.Activation(S.BatchNorm(S.Convolution(S.var("data"), kernel=(3, 3), num_filter=8),
                                                    fix_gamma=False), act_type="relu"), num_hidden=10)
    ref = run_reference(sym, (2, 3, 8, 8))
    model, log = export_onnx(ref.graph, ExportOptions(input_shape=(2, 3, 8, 8), fp16=True))
    assert any("fp16" in w for w in log.warnings)
    out = run_onnx(model, ref.data)
    assert out[0].dtype == np.float32
    # float16 keeps 11 significant bits: a few ulps over three layers, measured 1.2e-3 of the scale
    assert_close(ref.outputs, out, rel=4e-3)


REFUSED = {  # graphs MXNet 1.9.1 refuses to run: symbol (its node called "node"), input shape, our reason
    "lp_no_p_value": (S.Pooling(S.var("data"), kernel=(2, 2), pool_type="lp", name="node"), (1, 2, 6, 6),
                      r"Pooling\): lp pooling needs p_value 1, 2 or 3, not None"),
    "lp_p_value_4": (S.Pooling(S.var("data"), kernel=(2, 2), pool_type="lp", p_value=4, name="node"), (1, 2, 6, 6),
                     r"Pooling\): lp pooling needs p_value 1, 2 or 3, not 4"),
    "pool_same_2d": (S.Pooling(S.var("data"), kernel=(2, 2), pooling_convention="same", name="node"), (1, 2, 6, 6),
                     r"Pooling\): MXNet runs pooling_convention same only on 1-D data"),
    "transpose_negative_axes": (S.transpose(S.var("data"), axes=(0, -1, 1, 2), name="node"), (2, 3, 4, 5),
                                r"transpose\): axes \(0, -1, 1, 2\) are not a permutation of 0..3"),
    "cumsum_negative_axis": (S.cumsum(S.var("data"), axis=-1, name="node"), (2, 3),
                             r"_np_cumsum\): axis -1: MXNet's cumsum takes 0..1"),
    "moments_no_axes": (S.moments(S.var("data"), name="node")[0], (2, 3),
                        r"moments\): moments needs axes"),
    "softmax_length_axis_m2": (S.softmax(S.var("data"), S.var("length"), axis=-2, use_length=True, name="node"),
                               (2, 3, 4), r"softmax\): axis -2 with use_length: MXNet takes -1 or 0..2"),
}


REFUSED.update({  # the resize family
    "resize_pad_3d": (S.Pad(S.var("data"), mode="constant", pad_width=(0, 0, 0, 0, 1, 1), name="node"), (2, 3, 4),
                      r"Pad\): data has shape \(2, 3, 4\): MXNet's Pad takes 4-D or 5-D data"),
    "resize_pad_channels": (S.Pad(S.var("data"), mode="edge", pad_width=(0, 0, 1, 0, 1, 1, 0, 0), name="node"),
                            (1, 2, 3, 4), r"Pad\): pad_width .* pads neither the batch nor the channel axis"),
    "resize_pad_reflect_wide": (S.Pad(S.var("data"), mode="reflect", pad_width=(0, 0, 0, 0, 3, 0, 0, 0), name="node"),
                                (1, 2, 3, 4), r"Pad\): pad_width .* reflect pads by less than the size of each axis"),
    "resize_scale_height_alone": (S.contrib.BilinearResize2D(S.var("data"), scale_height=2.0, name="node"),
                                  (1, 2, 3, 4), r"_contrib_BilinearResize2D\): the mode needs both scales"),
    "resize_sequence_reverse_axis1": (S.SequenceReverse(S.var("data"), axis=1, name="node"), (2, 3, 4),
                                      r"SequenceReverse\): axis 1: MXNet's SequenceReverse takes axis 0"),
    "resize_sequence_last_1d": (S.SequenceLast(S.var("data"), name="node"), (5,),
                                r"SequenceLast\): data has shape \(5,\): SequenceLast takes 2-D data or more"),
})


_DATA = S.var("data")
REFUSED.update({  # the spatial family
    "spatial_correlation_even_kernel": (S.Correlation(_DATA, S.flip(_DATA, axis=3), kernel_size=2, name="node"),
                                        (1, 2, 6, 6), r"Correlation\): kernel_size 2: MXNet's Correlation takes an"),
    "spatial_correlation_no_output": (S.Correlation(_DATA, S.flip(_DATA, axis=3), max_displacement=3, name="node"),
                                      (1, 2, 6, 9),
                                      r"Correlation\): data of shape \(1, 2, 6, 9\): the neighbourhood"),
    "spatial_transformer_no_target": (S.SpatialTransformer(_DATA, S.Reshape(_DATA, shape=(0, -1)),
                                                           transform_type="affine", sampler_type="bilinear",
                                                           name="node"),
                                      (1, 6, 1, 1), r"SpatialTransformer\): target_shape \(0, 0\) needs a positive"),
})


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_mxnet_refuses_is_bad_input(case):
    """Attribute values MXNet refuses to run are rejected by both emitters, naming the node and the reason."""
    sym, shape, reason = REFUSED[case]
    with pytest.raises((mx.base.MXNetError, RuntimeError)):  # at binding or at the forward pass
        run_reference(sym, shape)
    graph = parse_symbol(sym.tojson())
    attach_weights(graph, {"arg:length": np.ones(3, np.int32)} if "length" in graph.variables else {}, "<test>")
    for emit in (lambda: export_onnx(graph, ExportOptions(input_shape=shape)), lambda: emit_pytorch(graph, TorchOptions(shape))):
        with pytest.raises(ShapeError, match=rf"node 'node' \({reason}"):
            emit()


def test_softmax_output_on_4d_data_follows_mxnets_own_kernel_and_warns():
    """Without multi_output, SoftmaxOutput on 4-D data is a softmax over all but the batch axis in MXNet's own
    kernel; its MKLDNN kernel (the CPU default) takes the last axis. Both targets follow the former and the
    conversion log says so."""
    import json

    import torch
    from mxnet_oracle import MxnetOracle

    from mxconvert.to_torch import emit_pytorch
    from mxconvert.to_torch.loader import build_model, module_from_source

    sym = S.SoftmaxOutput(S.var("data"), name="softmax")
    with_mkldnn = run_reference(sym, (2, 3, 4, 5))
    own_kernel = MxnetOracle()(json.loads(sym.tojson()), {}, with_mkldnn.data)
    assert not np.allclose(own_kernel[0], with_mkldnn.outputs[0], atol=1e-3)  # the two MXNet kernels differ
    model, log = export_onnx(with_mkldnn.graph, ExportOptions(input_shape=with_mkldnn.data.shape))
    assert_close(own_kernel, run_onnx(model, with_mkldnn.data))
    assert any("SoftmaxOutput 'softmax' on 4-D data without multi_output" in w for w in log.warnings)
    source, state = emit_pytorch(with_mkldnn.graph, TorchOptions(with_mkldnn.data.shape))
    with torch.no_grad():
        out = build_model(module_from_source(source), state)(torch.from_numpy(with_mkldnn.data))
    assert_close(own_kernel, [out.numpy()])


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_dropout_always_drops_at_inference_like_mxnet(p):
    """``mode="always"`` drops at inference in MXNet: both targets keep each value with probability 1 - p,
    scaled by 1 / (1 - p) (random masks, so the statistics are compared)."""
    import torch

    from mxconvert.to_torch import emit_pytorch
    from mxconvert.to_torch.loader import build_model, module_from_source

    sym = S.Dropout(S.var("data"), p=p, mode="always", name="drop")
    ref = run_reference(sym, (4, 50000), low=1.0, high=1.0)
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=ref.data.shape, opset=13))
    source, state = emit_pytorch(ref.graph, TorchOptions(ref.data.shape))
    with torch.no_grad():
        torch_out = build_model(module_from_source(source), state)(torch.from_numpy(ref.data)).numpy()
    for out in (ref.outputs[0], run_onnx(model, ref.data)[0], torch_out):
        kept = out != 0
        assert np.allclose(out[kept], 1 / (1 - p), rtol=1e-6)
        assert abs(kept.mean() - (1 - p)) < 0.01, kept.mean()
    with pytest.raises(UnsupportedOpsError, match="mode always needs opset 12"):
        export_onnx(ref.graph, ExportOptions(input_shape=ref.data.shape, opset=11))


@pytest.mark.parametrize("case", sorted(HEADS))
def test_no_softmax_gives_every_heads_raw_input(case):
    """``keep_softmax=False`` (``--no_softmax``): each loss head outputs its data input, in both targets, and
    neither keeps a label input."""
    import torch

    from mxconvert.to_torch.loader import build_model, module_from_source

    sym, shape = HEADS[case]
    ref = run_reference(sym, shape)
    raw = run_reference(sym.get_children()[0], shape)  # the head's data input, same weights (same seed)
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=shape, keep_softmax=False))
    assert [i.name for i in model.graph.input] == ["data"]
    assert_close(raw.outputs, run_onnx(model, ref.data))
    source, state = emit_pytorch(ref.graph, TorchOptions(shape, keep_softmax=False))
    with torch.no_grad():
        out = build_model(module_from_source(source), state)(torch.from_numpy(ref.data))
    assert_close(raw.outputs, [out.numpy()])


def test_warpctc_is_a_softmax_over_the_last_axis():
    """WarpCTC (MXNet's plugin, absent from its pip builds) computes a softmax over the last axis of its data
    (FlatTo2D, then Softmax): checked against that formula, and --no_softmax gives the data."""
    import json

    import torch

    from mxconvert.to_torch.loader import build_model, module_from_source

    fc = S.FullyConnected(S.Reshape(S.var("data"), shape=(-1, 6)), num_hidden=5, flatten=False, name="fc")
    doc = json.loads(fc.tojson())
    doc["nodes"] += [{"op": "null", "name": "label", "inputs": []},
                     {"op": "WarpCTC", "name": "ctc", "attrs": {"label_length": "2", "input_length": "4"},
                      "inputs": [[len(doc["nodes"]) - 1, 0, 0], [len(doc["nodes"]), 0, 0]]}]
    doc["heads"] = [[len(doc["nodes"]) - 1, 0, 0]]
    logits = run_reference(fc, (4, 2, 6))
    graph = parse_symbol(json.dumps(doc))
    attach_weights(graph, {f"arg:{k}": v for k, v in logits.graph.params.items()}, "<test>")
    expected = np.exp(logits.outputs[0] - logits.outputs[0].max(axis=-1, keepdims=True))
    expected /= expected.sum(axis=-1, keepdims=True)
    for keep, want in ((True, expected), (False, logits.outputs[0])):
        model, _ = export_onnx(graph, ExportOptions(input_shape=(4, 2, 6), keep_softmax=keep))
        assert [i.name for i in model.graph.input] == ["data"]
        assert_close([want], run_onnx(model, logits.data))
        source, state = emit_pytorch(graph, TorchOptions((4, 2, 6), keep_softmax=keep))
        with torch.no_grad():
            out = build_model(module_from_source(source), state)(torch.from_numpy(logits.data))
        assert_close([want], [out.numpy()])


@pytest.mark.parametrize("case", ["resize_roi_pooling", "resize_bilinear_size_half_pixel",
                                  "resize_sequence_reverse_no_length", "resize_sequence_mask"])
def test_resize_family_follows_a_dynamic_batch(case):
    """Sizes read at run time: ROIPooling's batch count, Resize's batch, the number of steps of a reversal; stored
    sequence lengths fix the batch, so those ops are refused by name."""
    sym, shape = CASES[case]
    ref = run_reference(sym, shape, inputs=CASE_INPUTS.get(case))
    options = ExportOptions(input_shape=shape, dynamic_batch=True)
    if case == "resize_sequence_mask":
        with pytest.raises(UnsupportedOpsError, match=r"SequenceMask \[a dynamic batch with lengths stored"):
            export_onnx(ref.graph, options)
        return
    batch = np.concatenate([ref.data, ref.data[::-1] * 0.5, ref.data])
    executor = sym.simple_bind(mx.cpu(), data=batch.shape, grad_req="null")
    for name, value in ref.graph.params.items():
        executor.arg_dict[name][:] = value
    executor.arg_dict["data"][:] = batch
    expected = [out.asnumpy() for out in executor.forward(is_train=False)]
    assert_close(expected, run_onnx(export_onnx(ref.graph, options)[0], batch))
