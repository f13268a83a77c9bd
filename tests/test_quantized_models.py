"""INT8 models from MXNet's quantization flows (``quantize_net``, naive and entropy calibration, and the older,
non-fused ``quantize_model`` on a plain symbol; ``mxconvert.zoo.fused``): PyTorch reproduces MXNet's integer
arithmetic bit for bit in the mode of the CPU MXNet runs on here (``host_int8_cpu``), every node; the ONNX file
computes what the chosen CPU's arithmetic computes (``int8_cpu``, default the exact VNNI one), bit for bit (its
layers on their integers, MXNet's scales as Muls), and with ``int8_kernels`` in plain QDQ form, which ONNX Runtime
fuses into integer kernels, within single steps."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mxconvert import api
from mxconvert.errors import UnsupportedOpsError
from mxconvert.layers import checkpoint_report
from mxconvert.semantics.quantization import INT8_CPUS, host_int8_cpu
from mxconvert.zoo import fused
from mxconvert.zoo.common import mx
from conftest import ROOT

VNNI_HOST = host_int8_cpu() == "vnni"  # where MXNet's int8 arithmetic was seen to differ from the model (xfails)

MODELS = fused.QUANTIZED
BOTH_FLOWS = (*fused.QUANTIZED, *fused.SYMBOL_FLOW)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("int8")
    return {name: fused.build_quantized(name, str(out)) for name in MODELS}


@pytest.fixture(scope="module")
def symbol_exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("int8sym")
    return {name: fused.build_quantized_symbol(name, str(out)) for name in fused.SYMBOL_FLOW}


def _prefix(request, name: str) -> str:
    """Model ``name`` built by its flow (each flow's models built once, where a test asks for one)."""
    return request.getfixturevalue("symbol_exported" if name.startswith("int8sym-") else "exported")[name]


def _inputs(name: str) -> dict[str, np.ndarray]:
    return fused.sample_inputs(name.split("-", 1)[1].rsplit("-", 1)[0], 2, seed=11)


def _torch(module, feeds) -> np.ndarray:
    with torch.no_grad():
        out = module(torch.from_numpy(feeds["data"]))
    return (out[0] if isinstance(out, tuple) else out).numpy()


def _reference_semantics(path, feeds, level=ort.GraphOptimizationLevel.ORT_DISABLE_ALL) -> np.ndarray:
    """The ONNX file's output in ONNX Runtime with its graph optimizations off (op by op, as ONNX defines them), or
    at another ``level``."""
    plain = ort.SessionOptions()
    plain.graph_optimization_level = level
    return ort.InferenceSession(str(path), plain, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def _assert_onnx_equal_at_both_levels(path, feeds, expected: np.ndarray) -> None:
    """The file's output, op by op and with ONNX Runtime's default optimizations (its fusions), equal to
    ``expected``."""
    for level in (ort.GraphOptimizationLevel.ORT_DISABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
        np.testing.assert_array_equal(_reference_semantics(path, feeds, level), expected, err_msg=str(level))


@pytest.mark.parametrize("name", BOTH_FLOWS)
def test_pytorch_reproduces_mxnet_int8_bit_for_bit(request, name):
    prefix, feeds = _prefix(request, name), _inputs(name)
    graph = api.load(prefix)
    assert any(node.op == "_contrib_quantize_v2" for node in graph.nodes)
    module = api.to_pytorch(graph, {"data": feeds["data"].shape}, int8_cpu=host_int8_cpu())
    np.testing.assert_array_equal(_torch(module, feeds), api.backend("mxnet", prefix)(feeds)[0])


@pytest.mark.parametrize("name", BOTH_FLOWS)
def test_onnx_reproduces_mxnet_int8_bit_for_bit(request, name, tmp_path):
    """The exact ONNX file in this CPU's arithmetic (``int8_cpu=host_int8_cpu()``; batch axis symbolic, as
    ``run_all.py`` converts) equals MXNet's INT8 output, every element, op by op and as ONNX Runtime optimizes it."""
    prefix, feeds = _prefix(request, name), _inputs(name)
    api.to_onnx(api.load(prefix), {"data": feeds["data"].shape}, tmp_path / "m.onnx", dynamic_batch=True,
                int8_cpu=host_int8_cpu())
    _assert_onnx_equal_at_both_levels(tmp_path / "m.onnx", feeds, api.backend("mxnet", prefix)(feeds)[0])


def test_mxnet2onnx_takes_the_cpu_arithmetic(symbol_exported, tmp_path):
    """``mxnet2onnx.py --int8_cpu``: the file in this CPU's arithmetic equals MXNet, the other one differs (the
    MLP's fully connected layers saturate pairs without VNNI)."""
    prefix, feeds = symbol_exported["int8sym-mlp-naive"], _inputs("int8sym-mlp-naive")
    expected = api.backend("mxnet", prefix)(feeds)[0]
    for cpu in INT8_CPUS:
        out = tmp_path / f"{cpu}.onnx"
        subprocess.run([sys.executable, str(ROOT / "mxnet2onnx.py"), "--prefix", prefix, "--onnx_model", str(out),
                        "--input_shape", ",".join(map(str, feeds["data"].shape)), "--int8_cpu", cpu,
                        "--conversion_log", str(tmp_path / "log.txt")], check=True, capture_output=True, timeout=300)
        assert np.array_equal(_reference_semantics(out, feeds), expected) == (cpu == host_int8_cpu())


@pytest.mark.parametrize("name", ["int8-resnet18_v1-naive", "int8-mlp-entropy", "int8-densenet_small-naive",
                                  "int8-resmlp-naive", "int8sym-resmlp-naive"])
def test_every_node_matches_mxnet(request, name, tmp_path):
    """The layer report (``compare_layers.py``) on the generated module: every node output, the integers of each
    quantized tensor (int32 sums, adds and products too) and their ranges, equal to MXNet's."""
    from mxconvert.to_torch import TorchOptions
    from mxconvert.convert import convert_to_pytorch

    prefix, feeds = _prefix(request, name), _inputs(name)
    kit, pth = tmp_path / "kit_model.py", tmp_path / "model.pth"
    options = TorchOptions(input_shape={"data": feeds["data"].shape}, int8_cpu=host_int8_cpu())
    convert_to_pytorch(api.load(prefix), options, kit, pth)
    report = checkpoint_report(prefix, 0, feeds["data"], kit_model=str(kit), pytorch_model=str(pth))
    pairs = [(probe, diff) for probe, diff in zip(report.probes, report.diffs["pytorch"]) if diff is not None]
    assert len(pairs) == len(report.probes) > 10
    integers = [diff for probe, diff in pairs if probe.outputs == 3 and probe.index == 0]
    assert len(integers) >= 3 and all(diff.max_abs_error == 0 for diff in integers)
    assert all(diff.rel_error <= 1e-6 for _, diff in pairs)  # the float ops between (tanh) round alike


@pytest.mark.parametrize("name", BOTH_FLOWS)
def test_onnx_computes_the_exact_integer_arithmetic(request, name, tmp_path):
    """The default ONNX file: every quantized tensor the integers of the exact arithmetic, the logits equal to
    float32 rounding in ONNX's reference semantics (ONNX Runtime with its graph optimizations off); the quantize
    and requantize steps stay QuantizeLinear nodes."""
    prefix, feeds = _prefix(request, name), _inputs(name)
    graph = api.load(prefix)
    shapes = {"data": feeds["data"].shape}
    model = api.to_onnx(graph, shapes, tmp_path / "m.onnx")
    assert "QuantizeLinear" in {node.op_type for node in model.graph.node}
    exact = _torch(api.to_pytorch(graph, shapes, int8_cpu="vnni"), feeds)
    out = _reference_semantics(tmp_path / "m.onnx", feeds)
    assert np.abs(out - exact).max() <= 1e-6 * np.abs(exact).max()


@pytest.mark.parametrize("name", ["int8-resnet18_v1-naive", "int8-resnet18_v2-naive", "int8-resmlp-naive"])
def test_onnx_runtime_optimized_keeps_the_exact_arithmetic(exported, name, tmp_path):
    """ONNX Runtime with its default graph optimizations on the default file of the ResNet-18s (residual sums,
    convolutions without bias whose scale it would fold into their weights, standalone BatchNorms) and of the
    residual MLP (calibrated adds and products): the same logits, bit for bit."""
    prefix, feeds = exported[name], _inputs(name)
    graph = api.load(prefix)
    shapes = {"data": feeds["data"].shape}
    api.to_onnx(graph, shapes, tmp_path / "m.onnx")
    exact = _torch(api.to_pytorch(graph, shapes, int8_cpu="vnni"), feeds)
    out = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    np.testing.assert_array_equal(out, exact)


@pytest.mark.parametrize("name", BOTH_FLOWS)
def test_onnx_qdq_kernels_form_is_within_single_steps(request, name, tmp_path):
    """``int8_kernels``: QuantizeLinear/DequantizeLinear around float Conv and Gemm. In float a sum of products
    rounds, and a value within that rounding of a half step may round to the other integer: one such flip early
    spreads as single steps. Measured on an AVX2 CPU: 1 of 32768 first-layer outputs, 2.8% of the output scale at
    ResNet-18's logits; none on the MLPs, the non-fused flow's models and the models without residual sums; on an
    AVX-512 one (other float sums) also DenseNet's 3.2% and the non-fused ResNet-18's 0.8%."""
    prefix, feeds = _prefix(request, name), _inputs(name)
    graph = api.load(prefix)
    shapes = {"data": feeds["data"].shape}
    model = api.to_onnx(graph, shapes, tmp_path / "m.onnx", int8_kernels=True)
    assert {"QuantizeLinear", "DequantizeLinear"} <= {node.op_type for node in model.graph.node}
    exact = _torch(api.to_pytorch(graph, shapes, int8_cpu="vnni"), feeds)
    out = _reference_semantics(tmp_path / "m.onnx", feeds)
    assert np.abs(out - exact).max() <= 0.05 * np.abs(exact).max()
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


def test_symbol_flow_keeps_each_quantized_op_a_node(symbol_exported):
    """No fused op: int32 sums, products and adds, each requantized by its own node."""
    for name in fused.SYMBOL_FLOW:
        ops = {node.op for node in api.load(symbol_exported[name]).nodes}
        assert {"_contrib_quantized_fully_connected", "_contrib_requantize"} <= ops
        assert not any(op.startswith("_sg_") for op in ops)
    ops = {node.op for node in api.load(symbol_exported["int8sym-resmlp-naive"]).nodes}
    assert {"_contrib_quantized_elemwise_add", "_contrib_quantized_elemwise_mul", "_contrib_quantized_act"} <= ops


def test_resnet_convolutions_read_uint8(symbol_exported):
    """Left in float where MXNet's CPU cannot run them quantized, the ReLUs' outputs quantize to uint8 into every
    quantized convolution."""
    graph = api.load(symbol_exported["int8sym-resnet18_v1-naive"])
    assert sum(node.op == "_contrib_quantized_conv" for node in graph.nodes) == 19


def _symbol_quantized(symbol: "mx.sym.Symbol", arg: dict, data: np.ndarray, calib_mode: str = "naive",
                      quantize_mode: str = "smart"):
    from mxnet.contrib.quantization import quantize_model

    return quantize_model(symbol, arg, {}, ctx=mx.cpu(), calib_mode=calib_mode, quantize_mode=quantize_mode,
                          calib_data=mx.io.NDArrayIter(data, batch_size=len(data)), quantized_dtype="auto",
                          label_names=(), logger=None)


def _assert_converted_as_mxnet_computes(quantized, tmp_path, data: np.ndarray) -> None:
    """PyTorch equal to MXNet; the ONNX file, in ONNX's reference semantics, to the exact arithmetic."""
    mx.model.save_checkpoint(str(tmp_path / "q"), 0, *quantized)
    _assert_export_converted(str(tmp_path / "q"), tmp_path, data)


def _assert_export_converted(prefix: str, tmp_path, data: np.ndarray) -> None:
    graph, feeds, shapes = api.load(prefix), {"data": data}, {"data": data.shape}
    module = api.to_pytorch(graph, shapes, int8_cpu=host_int8_cpu())
    np.testing.assert_array_equal(_torch(module, feeds), api.backend("mxnet", prefix)(feeds)[0])
    exact = _torch(api.to_pytorch(graph, shapes, int8_cpu="vnni"), feeds)
    api.to_onnx(graph, shapes, tmp_path / "m.onnx")
    assert np.abs(_reference_semantics(tmp_path / "m.onnx", feeds) - exact).max() <= 1e-6 * np.abs(exact).max()


def _convert_refused(quantized, tmp_path, shape) -> str:
    mx.model.save_checkpoint(str(tmp_path / "q"), 0, *quantized)
    graph = api.load(str(tmp_path / "q"))
    reasons = []
    for convert in (lambda: api.to_onnx(graph, {"data": shape}), lambda: api.to_pytorch(graph, {"data": shape})):
        with pytest.raises(UnsupportedOpsError) as raised:
            convert()
        reasons.append(str(raised.value))
    assert reasons[0].split("unsupported ops:")[1] == reasons[1].split("unsupported ops:")[1]
    return reasons[0]


def _convolution(rng: np.random.Generator, no_bias: bool) -> tuple["mx.sym.Symbol", dict]:
    symbol = mx.sym.Convolution(mx.sym.var("data"), kernel=(3, 3), num_filter=4, pad=(2, 2), dilate=(2, 2),
                                no_bias=no_bias, name="conv")
    arg = {"conv_weight": mx.nd.array(rng.standard_normal((4, 3, 3, 3)))}
    return symbol, arg if no_bias else {**arg, "conv_bias": mx.nd.array(rng.random(4))}


def test_convolution_on_int8_data_is_refused_by_name(tmp_path):
    """MXNet's CPU kernel of ``_contrib_quantized_conv`` refuses int8 data (here: normal samples)."""
    rng = np.random.default_rng(0)
    data = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
    reason = _convert_refused(_symbol_quantized(*_convolution(rng, True), data), tmp_path, data.shape)
    assert "_contrib_quantized_conv [int8 data (MXNet's CPU kernel reads uint8 only)] (quantized_conv)" in reason


def test_grouped_convolution_is_refused_by_name(tmp_path):
    """MXNet's ``_contrib_quantized_conv`` fails its shape check past one group."""
    rng = np.random.default_rng(0)
    data = np.abs(rng.standard_normal((4, 4, 8, 8))).astype(np.float32)
    symbol = mx.sym.Convolution(mx.sym.var("data"), kernel=(3, 3), num_filter=4, num_group=2, no_bias=True,
                                name="conv")
    quantized = _symbol_quantized(symbol, {"conv_weight": mx.nd.array(rng.standard_normal((4, 2, 3, 3)))}, data)
    reason = _convert_refused(quantized, tmp_path, data.shape)
    assert "_contrib_quantized_conv [num_group > 1 (MXNet's kernel takes one group only)] (quantized_conv)" in reason


def test_convolution_adds_its_int8_bias_unscaled_as_mxnet_does(tmp_path):
    """Three input channels (dilated, padded): oneDNN's exact sums on CPUs without VNNI too (its 16-bit pairs take
    fours)."""
    rng = np.random.default_rng(0)
    data = np.abs(rng.standard_normal((4, 3, 8, 8))).astype(np.float32)
    _assert_converted_as_mxnet_computes(_symbol_quantized(*_convolution(rng, False), data), tmp_path, data)


def test_requantize_to_uint8_feeds_a_fully_connected_layer(tmp_path):
    """Data and a layer's output whose calibrated ranges are not negative are quantized and requantized to uint8
    (over 255 levels), and the layers' int32 ranges count uint8 data's levels as MXNet does (data range / 127,
    weight range / 255)."""
    rng = np.random.default_rng(0)
    first = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=12, name="first")
    symbol = mx.sym.FullyConnected(first, num_hidden=5, name="second")
    arg = {"first_weight": mx.nd.array(rng.random((12, 20))), "first_bias": mx.nd.array(rng.random(12)),
           "second_weight": mx.nd.array(rng.standard_normal((5, 12))), "second_bias": mx.nd.array(rng.random(5))}
    data = rng.random((8, 20)).astype(np.float32)
    quantized = _symbol_quantized(symbol, arg, data)
    nodes = {node["name"]: node for node in json.loads(quantized[0].tojson())["nodes"]}
    assert float(nodes["data_quantize"]["attrs"]["min_calib_range"]) >= 0  # uint8 data into the first layer
    assert float(nodes["requantize_first"]["attrs"]["min_calib_range"]) >= 0
    _assert_converted_as_mxnet_computes(quantized, tmp_path, rng.random((2, 20)).astype(np.float32))


@pytest.mark.parametrize("pool_type", ["avg", "max"])
def test_requantized_int8_through_concat_pooling_and_flatten(pool_type, tmp_path, request):
    """Two requantized convolutions joined (each brought onto the joined range), pooled and flattened as int8."""
    if pool_type == "avg" and VNNI_HOST:
        request.applymarker(pytest.mark.xfail(reason="on an AVX-512 VNNI EPYC MXNet's int8 average pooling gave 3 of "
                                              "12 outputs one step off in one run of two", strict=False))
    rng = np.random.default_rng(0)
    data = mx.sym.var("data")
    joined = mx.sym.Concat(
        mx.sym.Convolution(data, kernel=(3, 3), num_filter=4, pad=(1, 1), no_bias=True, name="a"),
        mx.sym.Convolution(data, kernel=(1, 1), num_filter=4, no_bias=True, name="b"), dim=1, name="cat")
    pooled = mx.sym.Pooling(joined, kernel=(2, 2), stride=(2, 2), pool_type=pool_type, name="pool")
    symbol = mx.sym.FullyConnected(mx.sym.Flatten(pooled, name="flat"), num_hidden=6, name="fc")
    arg = {"a_weight": mx.nd.array(rng.standard_normal((4, 4, 3, 3))),
           "b_weight": mx.nd.array(rng.standard_normal((4, 4, 1, 1))),
           "fc_weight": mx.nd.array(rng.standard_normal((6, 128))), "fc_bias": mx.nd.array(rng.random(6))}
    images = np.sqrt(np.abs(rng.standard_normal((10, 4, 8, 8)))).astype(np.float32)
    quantized = _symbol_quantized(symbol, arg, images[:8])
    ops = {node["op"] for node in json.loads(quantized[0].tojson())["nodes"]}
    assert {"_contrib_quantized_concat", "_contrib_quantized_pooling", "_contrib_quantized_flatten"} <= ops
    _assert_converted_as_mxnet_computes(quantized, tmp_path, images[8:])


def test_quantized_embedding_gathers_int8_rows(tmp_path):
    """``quantize_mode='full'`` quantizes the embedding's weight; indices past either end are clipped."""
    rng = np.random.default_rng(0)
    symbol = mx.sym.FullyConnected(mx.sym.Embedding(mx.sym.var("data"), input_dim=50, output_dim=8, name="embed"),
                                   num_hidden=10, name="fc")
    arg = {"embed_weight": mx.nd.array(rng.standard_normal((50, 8))),
           "fc_weight": mx.nd.array(rng.standard_normal((10, 48))), "fc_bias": mx.nd.array(rng.random(10))}
    calib = rng.integers(0, 50, (16, 6)).astype(np.float32)
    quantized = _symbol_quantized(symbol, arg, calib, quantize_mode="full")
    assert "_contrib_quantized_embedding" in quantized[0].tojson()
    _assert_converted_as_mxnet_computes(quantized, tmp_path, rng.integers(-3, 55, (2, 6)).astype(np.float32))


def test_uncalibrated_requantize_is_refused_by_name(tmp_path):
    data = np.random.default_rng(0).standard_normal((4, 20)).astype(np.float32)
    symbol = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=8, name="fc")
    rng = np.random.default_rng(1)
    arg = {"fc_weight": mx.nd.array(rng.standard_normal((8, 20))), "fc_bias": mx.nd.array(rng.random(8))}
    reason = _convert_refused(_symbol_quantized(symbol, arg, data, calib_mode="none"), tmp_path, data.shape)
    assert "not calibrated" in reason and "requantize_fc" in reason


def _older_quantize(ranges: str, out_type: str) -> tuple["mx.sym.Symbol", dict]:
    """``_contrib_quantize`` of the data over its own min and max (computed at run time) or over two parameters."""
    data = mx.sym.var("data")
    if ranges == "runtime":
        return mx.sym.contrib.quantize(data, mx.sym.min(data), mx.sym.max(data), out_type=out_type, name="q"), {}
    return (mx.sym.contrib.quantize(data, mx.sym.var("low"), mx.sym.var("high"), out_type=out_type, name="q"),
            {"low": mx.nd.array([-1.3]), "high": mx.nd.array([0.9])})


@pytest.mark.parametrize("out_type", ["uint8", "int8"])
@pytest.mark.parametrize("ranges", ["runtime", "params"])
def test_older_quantize_with_range_tensors(ranges, out_type, tmp_path):
    """The older quantize (255 or 127 levels over max(|min|, |max|)), its range tensors and a dequantize (255.5 or
    127.5 levels) as MXNet computes them; the data past a parameter range and negative data into uint8
    saturate."""
    quantized, arg = _older_quantize(ranges, out_type)
    symbol = mx.sym.Group([mx.sym.contrib.dequantize(*quantized, name="dequantize"), quantized[1], quantized[2]])
    mx.model.save_checkpoint(str(tmp_path / "q"), 0, symbol, arg, {})
    data = (np.random.default_rng(0).standard_normal((3, 7)) * 0.6).astype(np.float32)
    graph, feeds = api.load(str(tmp_path / "q")), {"data": data}
    expected = api.backend("mxnet", str(tmp_path / "q"))(feeds)
    module = api.to_pytorch(graph, {"data": data.shape})
    with torch.no_grad():
        outputs = [out.numpy() for out in module(torch.from_numpy(data))]
    api.to_onnx(graph, {"data": data.shape}, tmp_path / "m.onnx")
    plain = ort.SessionOptions()
    plain.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    onnx_outputs = ort.InferenceSession(str(tmp_path / "m.onnx"), plain,
                                        providers=["CPUExecutionProvider"]).run(None, feeds)
    for got in (outputs, onnx_outputs):
        for out, reference in zip(got, expected):
            np.testing.assert_array_equal(out, reference)


@pytest.mark.parametrize("out_type", ["uint8", "int8"])
def test_older_quantize_over_parameters_feeds_a_quantized_layer(out_type, tmp_path):
    """A hand-written non-fused layer: the older quantize over a parameter range, an int8 fully connected layer
    (weight and bias stored with their ranges), requantized to int8 and dequantized."""
    rng = np.random.default_rng(1)
    quantized, arg = _older_quantize("params", out_type)
    names = ("weight", "bias", "weight_min", "weight_max", "bias_min", "bias_max")
    fc = mx.sym.contrib.quantized_fully_connected(quantized[0], *(mx.sym.var(name) for name in names[:2]),
                                                  quantized[1], quantized[2], *(mx.sym.var(n) for n in names[2:]),
                                                  num_hidden=5, name="fc")
    symbol = mx.sym.contrib.dequantize(*mx.sym.contrib.requantize(*fc, min_calib_range=-4.0, max_calib_range=4.0,
                                                                  name="requantize"), name="dequantize")
    arg.update(weight=mx.nd.array(rng.integers(-127, 128, (5, 7)), dtype="int8"),
               bias=mx.nd.array(rng.integers(-127, 128, 5), dtype="int8"), weight_min=mx.nd.array([-0.5]),
               weight_max=mx.nd.array([0.5]), bias_min=mx.nd.array([-0.2]), bias_max=mx.nd.array([0.2]))
    data = (rng.standard_normal((2, 7)) * 0.6).astype(np.float32)
    _assert_converted_as_mxnet_computes((symbol, arg, {}), tmp_path, data)


def test_older_quantize_over_a_runtime_range_into_a_layer_is_refused_by_name(tmp_path):
    """A quantized layer needs its data's scale when converted: a range computed at run time is read by a
    dequantize only."""
    quantized, _ = _older_quantize("runtime", "int8")
    fc = mx.sym.contrib.quantized_fully_connected(quantized[0], mx.sym.var("weight"), mx.sym.var("bias"),
                                                  quantized[1], quantized[2],
                                                  *(mx.sym.var(n) for n in ("wmin", "wmax", "bmin", "bmax")),
                                                  num_hidden=5, name="fc")
    symbol = mx.sym.contrib.dequantize(*mx.sym.contrib.requantize(*fc, min_calib_range=-4.0, max_calib_range=4.0,
                                                                  name="requantize"), name="dequantize")
    arg = {"weight": mx.nd.zeros((5, 7), dtype="int8"), "bias": mx.nd.zeros(5, dtype="int8"),
           **{name: mx.nd.array([1.0]) for name in ("wmin", "wmax", "bmin", "bmax")}}
    reason = _convert_refused((symbol, arg, {}), tmp_path, (2, 7))
    assert "_contrib_quantized_fully_connected [quantized over a range computed at run time" in reason


def test_uncalibrated_add_of_uint8_and_int8_is_refused_by_name(tmp_path):
    """MXNet saturates the uint8 operand's int32-scaled values to int8 (what the symbol flow converts is an
    uncalibrated add of operands of one type, int32 out, requantized)."""
    symbol = _quantized_pair(mx.sym.contrib.quantized_elemwise_add, ("uint8", "int8"), {})
    message = _convert_refused((symbol, {}, {}), tmp_path, (2, 3))
    assert "_contrib_quantized_elemwise_add [uint8 and int8 operands] (op)" in message


def _quantized_pair(op, types: tuple[str, str], calib: dict) -> "mx.sym.Symbol":
    """``op`` on the data and -0.7 x the data, quantized over [0, 1] (uint8) or [-1, 1] (int8), requantized (the
    int32 result of an uncalibrated op) or not (a calibrated one), dequantized."""
    data = mx.sym.var("data")
    left, right = (mx.sym.contrib.quantize_v2(x, min_calib_range=0.0 if dtype == "uint8" else -1.0,
                                              max_calib_range=1.0, out_type="auto", name=name)
                   for x, dtype, name in ((data, types[0], "left"), (data * -0.7, types[1], "right")))
    out = op(left[0], right[0], left[1], left[2], right[1], right[2], name="op", **calib)
    if not calib:
        out = mx.sym.contrib.requantize(*out, min_calib_range=-3.0, max_calib_range=3.0, name="requantize")
    return mx.sym.contrib.dequantize(*out, name="dequantize")


@pytest.mark.parametrize("types", [("int8", "int8"), ("uint8", "uint8"), ("int8", "uint8"), ("uint8", "int8")])
def test_calibrated_add_of_uint8_and_int8_operands(types, tmp_path):
    """``quantize_net``'s calibrated add: both operands onto the output's scale (uint8 out where both are uint8,
    else int8); a uint8 operand beside an int8 one first saturated to int8 on that scale (here: past 0.8)."""
    symbol = _quantized_pair(mx.sym.contrib.quantized_elemwise_add, types,
                             {"min_calib_range": -0.8, "max_calib_range": 0.8})
    data = np.random.default_rng(0).uniform(-1.2, 1.2, (4, 9)).astype(np.float32)
    _assert_converted_as_mxnet_computes((symbol, {}, {}), tmp_path, data)


def test_calibrated_product_truncates_and_wraps_past_int8(tmp_path):
    """``quantize_net``'s calibrated product: the integers' product times MXNet's factor, truncated toward zero;
    past int8 (a range of 0.1 for products up to 0.7) MXNet keeps the low byte."""
    symbol = _quantized_pair(mx.sym.contrib.quantized_elemwise_mul, ("int8", "int8"),
                             {"min_calib_range": -0.1, "max_calib_range": 0.1})
    data = np.linspace(-1.1, 1.1, 45, dtype=np.float32).reshape(5, 9)
    _assert_converted_as_mxnet_computes((symbol, {}, {}), tmp_path, data)


class _Gated(mx.gluon.HybridBlock):
    """Two layers' product, the network's output."""

    def __init__(self) -> None:
        super().__init__()
        with self.name_scope():
            self.left, self.right = mx.gluon.nn.Dense(8), mx.gluon.nn.Dense(8)

    def hybrid_forward(self, F, x):
        return self.left(x) * self.right(x)


def test_quantize_net_product_with_float_output(tmp_path):
    """``quantize_net`` gives a product that ends the network ``enable_float_output``: the integers' product times
    1 / (left scale x right scale), float32 out."""
    from mxnet.contrib.quantization import quantize_net

    net = _Gated()
    net.initialize(mx.init.Xavier(magnitude=2))
    net.hybridize()
    data = np.random.default_rng(0).standard_normal((10, 6)).astype(np.float32)
    calib = mx.gluon.data.DataLoader(mx.gluon.data.ArrayDataset(data[:8], np.zeros(8, np.float32)), batch_size=8)
    quantized = quantize_net(net, quantized_dtype="auto", calib_mode="naive", calib_data=calib,
                             num_calib_examples=8, ctx=mx.cpu(), logger=None)
    quantized(mx.nd.array(data[8:]))
    quantized.export(str(tmp_path / "gated"))
    graph = api.load(str(tmp_path / "gated"))
    assert any(node.op == "_contrib_quantized_elemwise_mul" and node.attrs["enable_float_output"]
               for node in graph.nodes)
    _assert_export_converted(str(tmp_path / "gated"), tmp_path, data[8:])


def _overflowing_convolution(channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights near +-1 whose two neighbouring input channels share a sign (their pair sums of uint8 data near
    255 times weights near 127 pass int16), and data in [0.9, 1] (uint8 near 255): 8 calibration samples, 2
    compared."""
    rng = np.random.default_rng(channels)
    signs = rng.choice([-1.0, 1.0], (4, (channels + 1) // 2, 1, 3, 3)).repeat(2, axis=2).reshape(4, -1, 3, 3)
    weight = (signs[:, :channels] * (1.0 + 0.05 * rng.standard_normal((4, channels, 3, 3)))).astype(np.float32)
    return weight, rng.uniform(0.9, 1.0, (10, channels, 6, 6)).astype(np.float32)


@pytest.mark.parametrize("channels", [3, 4, 6, 8])
@pytest.mark.parametrize("flow", ["quantize_net", "quantize_model"])
def test_uint8_convolution_pair_saturation_by_input_channels(flow, channels, tmp_path, request):
    """oneDNN's 16-bit pair sums on CPUs without VNNI: the fused convolution saturates them at any input channel
    count, the non-fused one where the channels come in fours only (its other kernel sums exactly). The fused
    flow's outputs show the overflow is provoked at every count (its two arithmetics differ); PyTorch equals
    MXNet in the host's arithmetic, the ONNX file the PyTorch code in each arithmetic (op by op and optimized)."""
    if flow == "quantize_model" and channels % 4 == 0 and VNNI_HOST:
        request.applymarker(pytest.mark.xfail(reason="on an AVX-512 VNNI EPYC MXNet's non-fused convolution saturated "
                                              "the pairs here (its output equals the avx2 arithmetic), yet not in "
                                              "the non-fused ResNet-18", strict=True))
    weight, data = _overflowing_convolution(channels)
    if flow == "quantize_net":
        prefix = _quantize_net_convolution(weight, data, tmp_path)
    else:
        symbol = mx.sym.Convolution(mx.sym.var("data"), kernel=(3, 3), num_filter=4, no_bias=True, name="conv")
        mx.model.save_checkpoint(str(tmp_path / "q"), 0,
                                 *_symbol_quantized(symbol, {"conv_weight": mx.nd.array(weight)}, data[:8]))
        prefix = str(tmp_path / "q")
    arithmetics = _assert_arithmetics(prefix, data[8:], tmp_path)
    saturates = flow == "quantize_net" or channels % 4 == 0
    gap = np.abs(arithmetics["avx2"] - arithmetics["vnni"]).max()
    assert (gap > 0.1 * np.abs(arithmetics["vnni"]).max()) == saturates


@pytest.mark.xfail(condition=VNNI_HOST, strict=True, reason="on an AVX-512 VNNI EPYC MXNet's grouped convolution "
                   "matched neither arithmetic (vnni: 63% of outputs equal, avx2: 2%)")
def test_grouped_uint8_convolution_pair_saturation(tmp_path):
    """A fused, padded convolution of 2 groups of 4 input channels, its pair sums overflowing: PyTorch equals
    MXNet, the ONNX file the PyTorch code in each arithmetic."""
    weight, data = _overflowing_convolution(4)
    weight = np.concatenate([weight, -weight])
    data = np.concatenate([data, data[:, ::-1]], axis=1)
    arithmetics = _assert_arithmetics(_quantize_net_convolution(weight, data, tmp_path, groups=2, pad=1),
                                      data[8:], tmp_path)
    assert np.abs(arithmetics["avx2"] - arithmetics["vnni"]).max() > 0.1 * np.abs(arithmetics["vnni"]).max()


def _quantize_net_convolution(weight: np.ndarray, data: np.ndarray, tmp_path, groups: int = 1, pad: int = 0) -> str:
    """One 3x3 convolution with ``weight``, quantized by ``quantize_net`` on ``data[:8]``, exported; the prefix."""
    from mxnet.contrib.quantization import quantize_net

    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Conv2D(len(weight), 3, padding=pad, groups=groups, in_channels=data.shape[1],
                               use_bias=False))
    net.initialize()
    net[0].weight.set_data(mx.nd.array(weight))
    net.hybridize()
    calib = mx.gluon.data.DataLoader(mx.gluon.data.ArrayDataset(data[:8], np.zeros(8, np.float32)), batch_size=8)
    quantized = quantize_net(net, quantized_dtype="auto", calib_mode="naive", calib_data=calib,
                             num_calib_examples=8, ctx=mx.cpu(), logger=None)
    quantized(mx.nd.array(data[8:]))
    quantized.export(str(tmp_path / "q"))
    return str(tmp_path / "q")


def _assert_arithmetics(prefix: str, data: np.ndarray, tmp_path) -> dict[str, np.ndarray]:
    """The PyTorch code's output in each arithmetic (:data:`INT8_CPUS`), the host's equal to MXNet's, each equal
    to the ONNX file's in the same arithmetic; those outputs by arithmetic."""
    graph, feeds, shapes = api.load(prefix), {"data": data}, {"data": data.shape}
    arithmetics = {cpu: _torch(api.to_pytorch(graph, shapes, int8_cpu=cpu), feeds) for cpu in INT8_CPUS}
    np.testing.assert_array_equal(arithmetics[host_int8_cpu()], api.backend("mxnet", prefix)(feeds)[0])
    for cpu in INT8_CPUS:
        api.to_onnx(graph, shapes, tmp_path / f"{cpu}.onnx", int8_cpu=cpu)
        _assert_onnx_equal_at_both_levels(tmp_path / f"{cpu}.onnx", feeds, arithmetics[cpu])
    return arithmetics
