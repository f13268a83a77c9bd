"""INT8 models from MXNet's quantization flow (``quantize_net``, naive and entropy calibration; ``mxconvert.zoo.fused``):
PyTorch reproduces MXNet's integer arithmetic bit for bit in the mode of the CPU MXNet runs on here
(``host_int8_cpu``), every node; the ONNX file computes what the exact (VNNI) arithmetic computes, bit for bit
(its layers on their integers, MXNet's scales as Muls), and with ``int8_kernels`` in plain QDQ form, which ONNX
Runtime fuses into integer kernels, within single steps."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mxconvert import api
from mxconvert.errors import UnsupportedOpsError
from mxconvert.layers import checkpoint_report
from mxconvert.semantics.quantization import host_int8_cpu
from mxconvert.zoo import fused
from mxconvert.zoo.common import mx

MODELS = fused.QUANTIZED


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("int8")
    return {name: fused.build_quantized(name, str(out)) for name in MODELS}


def _inputs(name: str) -> dict[str, np.ndarray]:
    return fused.sample_inputs(name.removeprefix("int8-").rsplit("-", 1)[0], 2, seed=11)


def _torch(module, feeds) -> np.ndarray:
    with torch.no_grad():
        out = module(torch.from_numpy(feeds["data"]))
    return (out[0] if isinstance(out, tuple) else out).numpy()


def _reference_semantics(path, feeds) -> np.ndarray:
    """The ONNX file's output in ONNX Runtime with its graph optimizations off (op by op, as ONNX defines them)."""
    plain = ort.SessionOptions()
    plain.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), plain, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


@pytest.mark.parametrize("name", MODELS)
def test_pytorch_reproduces_mxnet_int8_bit_for_bit(exported, name):
    prefix, feeds = exported[name], _inputs(name)
    graph = api.load(prefix)
    assert any(node.op == "_contrib_quantize_v2" for node in graph.nodes)
    module = api.to_pytorch(graph, {"data": feeds["data"].shape}, int8_cpu=host_int8_cpu())
    np.testing.assert_array_equal(_torch(module, feeds), api.backend("mxnet", prefix)(feeds)[0])


@pytest.mark.parametrize("name", ["int8-resnet18_v1-naive", "int8-mlp-entropy", "int8-densenet_small-naive"])
def test_every_node_matches_mxnet(exported, name, tmp_path):
    """The layer report (``compare_layers.py``) on the generated module: every node output, the integers of each
    quantized tensor and their ranges, equal to MXNet's."""
    from mxconvert.to_torch import TorchOptions
    from mxconvert.convert import convert_to_pytorch

    prefix, feeds = exported[name], _inputs(name)
    kit, pth = tmp_path / "kit_model.py", tmp_path / "model.pth"
    options = TorchOptions(input_shape={"data": feeds["data"].shape}, int8_cpu=host_int8_cpu())
    convert_to_pytorch(api.load(prefix), options, kit, pth)
    report = checkpoint_report(prefix, 0, feeds["data"], kit_model=str(kit), pytorch_model=str(pth))
    pairs = [(probe, diff) for probe, diff in zip(report.probes, report.diffs["pytorch"]) if diff is not None]
    assert len(pairs) == len(report.probes) > 10
    integers = [diff for probe, diff in pairs if probe.outputs == 3 and probe.index == 0]
    assert len(integers) >= 3 and all(diff.max_abs_error == 0 for diff in integers)
    assert all(diff.rel_error <= 1e-6 for _, diff in pairs)  # the float ops between (tanh) round alike


@pytest.mark.parametrize("name", MODELS)
def test_onnx_computes_the_exact_integer_arithmetic(exported, name, tmp_path):
    """The default ONNX file: every quantized tensor the integers of the exact arithmetic, the logits equal to
    float32 rounding in ONNX's reference semantics (ONNX Runtime with its graph optimizations off); the quantize
    and requantize steps stay QuantizeLinear nodes (step 1)."""
    prefix, feeds = exported[name], _inputs(name)
    graph = api.load(prefix)
    shapes = {"data": feeds["data"].shape}
    model = api.to_onnx(graph, shapes, tmp_path / "m.onnx")
    assert "QuantizeLinear" in {node.op_type for node in model.graph.node}
    exact = _torch(api.to_pytorch(graph, shapes, int8_cpu="vnni"), feeds)
    out = _reference_semantics(tmp_path / "m.onnx", feeds)
    assert np.abs(out - exact).max() <= 1e-6 * np.abs(exact).max()


def test_onnx_runtime_optimized_keeps_the_exact_arithmetic(exported, tmp_path):
    """ONNX Runtime with its default graph optimizations on the default file of ResNet-18 (residual sums
    included): the same logits, bit for bit."""
    prefix, feeds = exported["int8-resnet18_v1-naive"], _inputs("int8-resnet18_v1-naive")
    graph = api.load(prefix)
    shapes = {"data": feeds["data"].shape}
    api.to_onnx(graph, shapes, tmp_path / "m.onnx")
    exact = _torch(api.to_pytorch(graph, shapes, int8_cpu="vnni"), feeds)
    out = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    np.testing.assert_array_equal(out, exact)


@pytest.mark.parametrize("name", MODELS)
def test_onnx_qdq_kernels_form_is_within_single_steps(exported, name, tmp_path):
    """``int8_kernels``: QuantizeLinear/DequantizeLinear around float Conv and Gemm. In float a sum of products
    rounds, and a value within that rounding of a half step may round to the other integer: one such flip early
    spreads as single steps. Measured: 1 of 32768 first-layer outputs, 2.8% of the output scale at ResNet-18's
    logits; none on the MLPs and the models without residual sums (concatenations, standalone BatchNorms and
    average pooling, its exact halves rounded to even, exact)."""
    prefix, feeds = exported[name], _inputs(name)
    graph = api.load(prefix)
    shapes = {"data": feeds["data"].shape}
    model = api.to_onnx(graph, shapes, tmp_path / "m.onnx", int8_kernels=True)
    assert {"QuantizeLinear", "DequantizeLinear"} <= {node.op_type for node in model.graph.node}
    exact = _torch(api.to_pytorch(graph, shapes, int8_cpu="vnni"), feeds)
    out = _reference_semantics(tmp_path / "m.onnx", feeds)
    summed = any(node.op == "_sg_mkldnn_conv" and node.attrs["with_sum"] for node in graph.nodes)
    assert np.abs(out - exact).max() <= (0.05 if summed else 1e-5) * np.abs(exact).max()
    cosine = (out * exact).sum() / np.sqrt((out * out).sum() * (exact * exact).sum())
    assert cosine >= 0.999


def test_onnx_runtime_runs_integer_kernels(exported, tmp_path):
    """``int8_kernels``: ONNX Runtime fuses the QDQ pairs around each convolution without a residual sum into
    QLinearConv (MXNet adds the sum before it rounds, so those stay float convolutions between QDQ pairs)."""
    prefix, feeds = exported["int8-resnet18_v1-naive"], _inputs("int8-resnet18_v1-naive")
    graph = api.load(prefix)
    plain = [n for n in graph.nodes if n.op == "_sg_mkldnn_conv" and not n.attrs["with_sum"]]
    api.to_onnx(graph, {"data": feeds["data"].shape}, tmp_path / "m.onnx", int8_kernels=True)
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(tmp_path / "m.onnx"), options, providers=["CPUExecutionProvider"]).run(None, feeds)
    import onnx

    ops = [node.op_type for node in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
    assert ops.count("QLinearConv") == len(plain) == 12, sorted(set(ops))


def test_uncalibrated_quantization_is_refused_by_name(tmp_path):
    from mxnet.contrib.quantization import quantize_net

    net = fused.MODELS["mlp"](0)
    data = fused.sample_inputs("mlp", 2, seed=3)["data"]
    quantized = quantize_net(net, quantized_dtype="auto", calib_mode="none", ctx=mx.cpu(), logger=None,
                             data_shapes=[mx.io.DataDesc("data", data.shape)])
    quantized(mx.nd.array(data))
    quantized.export(str(tmp_path / "mlp"))
    with pytest.raises(UnsupportedOpsError) as raised:
        api.to_onnx(api.load(str(tmp_path / "mlp")), {"data": data.shape})
    assert "not calibrated" in str(raised.value) and "data_quantize" in str(raised.value)
