"""Every ONNX converter against real MXNet: one tiny graph per op and attribute combination."""
import numpy as np
import onnxruntime as ort
import pytest

from mxconvert.errors import MxConvertError, UnsupportedOpsError
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxcases import CASES, S, assert_close, run_reference


def run_onnx(model, data: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: data})


@pytest.fixture(scope="module", params=sorted(CASES))
def reference(request):
    sym, shape = CASES[request.param]
    return run_reference(sym, shape)


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
    # float16 keeps 11 significant bits: a few ulps over three layers, measured 1.2e-3 of the scale
    assert_close(ref.outputs, out, rel=4e-3)
