"""Random ops against MXNet: draws cannot match bit for bit, so shapes and statistics (mean, spread, quantiles)
of ONNX Runtime's and PyTorch's draws are compared with MXNet's."""
import numpy as np
import onnxruntime as ort
import pytest
import torch

from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, module_from_source
from mxcases import RANDOM_CASES, run_reference

QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95]


def assert_same_distribution(reference: np.ndarray, draws: np.ndarray, what: str) -> None:
    """Same shape; mean, standard deviation and quantiles within 3% of the reference's 5-95% spread."""
    assert draws.shape == reference.shape, (what, draws.shape, reference.shape)
    spread = float(np.subtract(*np.quantile(reference, [0.95, 0.05])))
    tolerance = 0.03 * spread
    for statistic in (np.mean, np.std, lambda x: np.quantile(x, QUANTILES)):
        expected, actual = statistic(reference.astype(np.float64)), statistic(draws.astype(np.float64))
        assert np.allclose(actual, expected, rtol=0, atol=tolerance), (what, expected, actual)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script still works; it is only deprecated
@pytest.mark.parametrize("case", sorted(RANDOM_CASES))
def test_random_draws_follow_mxnets_distribution(case):
    sym, shape, inputs = RANDOM_CASES[case]
    ref = run_reference(sym, shape, low=0.0, high=0.0, inputs=inputs)
    outputs = {}
    for opset in (11, 21):
        model, _ = export_onnx(ref.graph, ExportOptions(input_shape=shape, opset=opset))
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        outputs[f"ONNX opset {opset}"] = session.run(None, {session.get_inputs()[0].name: ref.data})
    source, state = emit_pytorch(ref.graph, TorchOptions(shape))
    module = build_model(module_from_source(source, f"<kit_model {case}>"), state)
    data = torch.from_numpy(ref.data)
    with torch.no_grad():
        for what, run in (("PyTorch", module), ("TorchScript", torch.jit.script(module)),
                          ("torch.export", torch.export.export(module, (data,)).module())):
            out = run(data)
            outputs[what] = [t.numpy() for t in (out if isinstance(out, tuple) else [out])]
    for what, draws in outputs.items():
        assert len(draws) == len(ref.outputs), what
        for reference, drawn in zip(ref.outputs, draws):
            assert_same_distribution(reference, drawn, what)


def test_draws_no_target_reproduces_are_refused_by_name_at_once():
    """Exponential, Poisson, gamma and negative-binomial draws, randint and shuffle (their public spellings as
    MXNet writes them): both targets list every one with the reason before anything is written."""
    from mxconvert.errors import UnsupportedOpsError
    from mxconvert.symbol import parse_symbol
    from mxcases import S

    d = S.var("data")
    draws = [S.random_exponential(lam=2.0, shape=(2, 3), name="expo"), S.random_poisson(lam=3.0, shape=(2, 3),
             name="pois"), S.sample_gamma(S.abs(d) + 1, S.abs(d) + 1, name="gam"), S.shuffle(d, name="shuf"),
             S.random_randint(low=0, high=5, shape=(2, 3), name="rint"), S.random_negative_binomial(
             k=3, p=0.4, shape=(2, 3), name="negb")]
    graph = parse_symbol(S.Group([S.Cast(draw, dtype="float32") + 0 for draw in draws]).tojson())
    for convert in (lambda: export_onnx(graph, ExportOptions(input_shape=(2, 3))),
                    lambda: emit_pytorch(graph, TorchOptions((2, 3)))):
        with pytest.raises(UnsupportedOpsError) as raised:
            convert()
        message = str(raised.value)
        for op, node in (("_random_exponential", "expo"), ("_random_poisson", "pois"), ("_sample_gamma", "gam"),
                         ("_shuffle", "shuf"), ("_random_randint", "rint"), ("_random_negative_binomial", "negb")):
            assert f"{op} [random sampling: no deterministic conversion] ({node})" in message, message
