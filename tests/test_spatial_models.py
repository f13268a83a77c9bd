"""The spatial family against MXNet's float64 result: the zoo's spatial-transformer classifier
(``mxconvert.zoo.spatial``, built in a temporary folder) converted once with a dynamic batch and run at two batch
sizes in both targets, and the op cases whose MXNet CPU kernel runs in float64 (BilinearSampler,
SpatialTransformer, Correlation; GridGenerator's is float32 only); then PyTorch's flow warp and correlation at
sizes other than the converted one."""
from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
import pytest
import torch
from mxcases import CASE_INPUTS, CASES, assert_close, assert_near_exact, mx, run_reference

from mxconvert import api
from mxconvert.errors import UnsupportedOpsError
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_onnx.exporter import MAX_OPSET, MIN_OPSET
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source
from mxconvert.zoo import cli, spatial

BATCHES = (2, 5)  # the conversion is made at the first
FLOAT64_CASES = sorted(case for case in CASES if case.startswith("spatial_") and "grid" not in case)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return spatial.build_spatial_model("stn-classifier", str(tmp_path_factory.mktemp("spatial_zoo")))


def test_spatial_transformer_classifier_matches_mxnet_float64(built):
    """Natural images whose affine matrices (near the identity) sample past the image's edges."""
    graph = api.load(built)
    assert "SpatialTransformer" in {node.op for node in graph.nodes}
    side = spatial.MODELS["stn-classifier"][0]
    shape, axes = (BATCHES[0], 3, side, side), {"data": (0,)}
    sessions = [ort.InferenceSession(api.to_onnx(graph, shape, dynamic_axes=axes, opset=opset).SerializeToString(),
                                     providers=["CPUExecutionProvider"]) for opset in (MIN_OPSET, MAX_OPSET)]
    module = api.to_pytorch(api.load(built), shape, dynamic_axes=axes)
    mxnet, exact = api.backend("mxnet", built), api.backend("mxnet_fp64", built)
    for batch in BATCHES:
        data = spatial.sample_inputs("stn-classifier", batch, seed=batch)
        reference, float64 = mxnet(data), exact(data)
        with torch.no_grad():
            torch_out = module(torch.from_numpy(data))
        for outputs in (*(session.run(None, {"data": data}) for session in sessions), [torch_out.numpy()]):
            assert_near_exact(reference, float64, outputs)
            assert [o.dtype for o in outputs] == [o.dtype for o in reference]


def _mxnet_float64(sym, ref) -> list[np.ndarray]:
    """``sym`` run by MXNet in float64 on the reference's data and weights."""
    arguments = {name: ref.data if name == "data" else ref.graph.params[name] for name in sym.list_arguments()}
    executor = sym.bind(mx.cpu(), {name: mx.nd.array(value, dtype=np.float64) for name, value in arguments.items()},
                        grad_req="null")
    return [output.asnumpy() for output in executor.forward(is_train=False)]


@pytest.mark.parametrize("case", FLOAT64_CASES)
def test_spatial_op_near_float64(case):
    sym, shape = CASES[case]
    ref = run_reference(sym, shape, inputs=CASE_INPUTS.get(case))
    exact = _mxnet_float64(sym, ref)
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=shape))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    source, state = emit_pytorch(ref.graph, TorchOptions(shape))
    with torch.no_grad():
        torch_out = build_model(module_from_source(source), state)(torch.from_numpy(ref.data))
    for outputs in (session.run(None, {"data": ref.data}), [torch_out.numpy()]):
        assert_near_exact(ref.outputs, exact, outputs)


def test_zoo_cli_builds_spatial_models(tmp_path, capsys):
    assert cli.main(["--spatial", "stn-classifier", "--out", str(tmp_path)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("stn-classifier") and "mean top-1 prob" in line
    assert sorted(os.listdir(tmp_path)) == ["stn-classifier-0000.params", "stn-classifier-symbol.json"]


def test_flow_warp_and_correlation_follow_the_live_size_in_pytorch():
    """A warp grid from a flow computed from the data, sampled, correlated with the data: converted once with
    dynamic batch, height and width, run at other sizes. ONNX writes the sizes into the graph: refused by name."""
    d = mx.sym.var("data")
    flow = mx.sym.Convolution(d, kernel=(3, 3), pad=(1, 1), num_filter=2, name="flow")
    warped = mx.sym.BilinearSampler(d, mx.sym.GridGenerator(flow, transform_type="warp", name="grid"), name="sampler")
    sym = mx.sym.Correlation(warped, d, kernel_size=3, max_displacement=2, stride1=2, pad_size=2, name="corr")
    ref = run_reference(sym, (2, 3, 6, 7))
    axes = {"data": (0, 2, 3)}
    with pytest.raises(UnsupportedOpsError, match=r"BilinearSampler \[fixes a size .*Correlation .*GridGenerator"):
        api.to_onnx(ref.graph, (2, 3, 6, 7), dynamic_axes=axes)
    module = api.to_pytorch(ref.graph, (2, 3, 6, 7), dynamic_axes=axes)
    for shape in ((3, 3, 6, 7), (1, 3, 9, 5)):
        data = np.random.default_rng(shape[2]).uniform(-1, 1, shape).astype(np.float32)
        executor = sym.simple_bind(mx.cpu(), data=shape, grad_req="null")
        for name, value in ref.graph.params.items():
            executor.arg_dict[name][:] = value
        executor.arg_dict["data"][:] = data
        with torch.no_grad():
            assert_close([executor.forward()[0].asnumpy()], [module(torch.from_numpy(data)).numpy()])
