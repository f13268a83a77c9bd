"""Every ONNX converter against real MXNet: one tiny graph per op and attribute combination."""
import numpy as np
import onnxruntime as ort
import pytest

from mxconvert.checkpoint import attach_weights
from mxconvert.errors import MxConvertError, UnsupportedOpsError
from mxconvert.shapes import ShapeError
from mxconvert.symbol import parse_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import emit_pytorch
from mxcases import CASE_INPUTS, CASES, S, assert_close, mx, run_reference


def run_onnx(model, data: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: data})


@pytest.fixture(scope="module", params=sorted(CASES))
def reference(request):
    sym, shape = CASES[request.param]
    return run_reference(sym, shape, inputs=CASE_INPUTS.get(request.param))


@pytest.mark.parametrize("opset", [11, 13, 18, 21])
def test_op_matches_mxnet(reference, opset):
    model, _ = export_onnx(reference.graph, ExportOptions(input_shape=reference.data.shape, opset=opset))
    assert_close(reference.outputs, run_onnx(model, reference.data))


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
    sym = S.Deconvolution(S.exp(S.UpSampling(S.exp(d, name="e1"), scale=2, sample_type="nearest", name="up")),
                          kernel=(2, 2), num_filter=2, name="deconv")
    ref = run_reference(sym, (1, 2, 3, 3))
    with pytest.raises(UnsupportedOpsError) as info:
        export_onnx(ref.graph, ExportOptions(input_shape=(1, 2, 3, 3)))
    message = str(info.value)
    assert "Deconvolution (deconv)" in message and "exp (" in message and "e1" in message


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
    # float16 keeps 11 significant bits: a few ulps over three layers stays well inside 1e-2 of the scale
    assert_close(ref.outputs, out, rel=1e-2)


REFUSED = {  # graphs MXNet 1.9.1 refuses to run: symbol (its node called "node"), input shape, our reason
    "lp_no_p_value": (S.Pooling(S.var("data"), kernel=(2, 2), pool_type="lp", name="node"), (1, 2, 6, 6),
                      r"Pooling\): lp pooling needs p_value 1, 2 or 3, not None"),
    "lp_p_value_4": (S.Pooling(S.var("data"), kernel=(2, 2), pool_type="lp", p_value=4, name="node"), (1, 2, 6, 6),
                     r"Pooling\): lp pooling needs p_value 1, 2 or 3, not 4"),
    "pool_same_2d": (S.Pooling(S.var("data"), kernel=(2, 2), pooling_convention="same", name="node"), (1, 2, 6, 6),
                     r"Pooling\): MXNet runs pooling_convention same only on 1-D data"),
    "transpose_negative_axes": (S.transpose(S.var("data"), axes=(0, -1, 1, 2), name="node"), (2, 3, 4, 5),
                                r"transpose\): axes \(0, -1, 1, 2\) are not a permutation of 0..3"),
    "softmax_length_axis_m2": (S.softmax(S.var("data"), S.var("length"), axis=-2, use_length=True, name="node"),
                               (2, 3, 4), r"softmax\): axis -2 with use_length: MXNet takes -1 or 0..2"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_mxnet_refuses_is_bad_input(case):
    """Attribute values MXNet refuses to run are rejected by both emitters, naming the node and the reason."""
    sym, shape, reason = REFUSED[case]
    with pytest.raises((mx.base.MXNetError, RuntimeError)):  # at binding or at the forward pass
        run_reference(sym, shape)
    graph = parse_symbol(sym.tojson())
    attach_weights(graph, {"arg:length": np.ones(3, np.int32)} if "length" in graph.variables else {}, "<test>")
    for emit in (lambda: export_onnx(graph, ExportOptions(input_shape=shape)), lambda: emit_pytorch(graph, shape)):
        with pytest.raises(ShapeError, match=rf"node 'node' \({reason}"):
            emit()
