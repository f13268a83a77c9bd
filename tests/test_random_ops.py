"""Random ops against MXNet: draws cannot match bit for bit, so shapes and statistics (mean, spread, quantiles)
of ONNX Runtime's and PyTorch's draws are compared with MXNet's."""
import re

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


SAMPLING = re.compile(r"_?(random|sample)_(?!pdf_)|_?shuffle$|(_npx_)?_image_random_|_contrib_dgl_csr_neighbor_")
# the NumPy interface's draws by name (its other ops share their names with deterministic functions: gamma)
NUMPY_DRAWS = ("bernoulli", "choice", "exponential", "gamma", "gumbel", "logistic", "multinomial", "normal",
               "normal_n", "pareto", "powerd", "random_randint", "rayleigh", "shuffle", "uniform", "uniform_n",
               "weibull")
CONVERTED_DRAWS = ("_random_normal", "_random_uniform", "_random_uniform_like", "_sample_multinomial")


def test_every_draw_of_mxnets_registry_is_converted_as_a_draw_or_refused_as_one():
    """MXNet 1.9.1's samplers (every spelling: ``_random_*``, ``_sample_*``, ``random_*``, ``sample_*``, the NumPy
    interface's, the image augmentations, shuffles, DGL's neighbour sampling): the uniform and normal draws and
    the multinomial are converted (their statistics above), every other one refused by both targets as a draw."""
    from mxconvert.semantics.schema import ALIASES
    from mxconvert.semantics.indexing import RANDOM_REASON
    from mxconvert.support_table import ONNX, TORCH, mxnet_registry

    draws = [op for op in mxnet_registry()
             if SAMPLING.match(op) or op in {f"_npi_{name}" for name in NUMPY_DRAWS}]
    assert {"_npi_gamma", "_image_random_hue", "sample_poisson", "shuffle", "random_randint"} <= set(draws)
    assert "gamma" not in draws and not [op for op in draws if "_pdf_" in op]
    for op in draws:
        canonical = ALIASES.get(op, op)
        if canonical not in CONVERTED_DRAWS:
            assert all(registry.refusal(canonical) == RANDOM_REASON for registry in (ONNX, TORCH)), op


def test_draws_of_both_interfaces_are_refused_by_name_with_the_other_unsupported_ops():
    """NumPy-interface draws, random image augmentations and an op neither target converts, one graph: both
    targets name every one at once, the draws with the reason."""
    from mxconvert.errors import UnsupportedOpsError
    from mxconvert.symbol import parse_symbol
    from mxcases import S, mx

    d = S.var("data")
    legacy = [S.image.random_brightness(d, min_factor=0.5, max_factor=1.5, name="bright"),
              S.image.random_flip_left_right(d, name="flip"),
              S._internal._grad_add(d, S.ones_like(d), name="grad_add")]
    numpy_draws = [mx.sym.np.random.normal(0, 1, size=(2, 3)), mx.sym.np.random.gamma(2.0, 1.0, size=(2, 3)),
                   mx.sym.npx.random.bernoulli(prob=0.5, size=(2, 3))]
    data = d.as_np_ndarray()
    graph = parse_symbol(mx.sym.Group([data + draw for draw in numpy_draws]
                                      + [sym.as_np_ndarray() for sym in legacy]).tojson())
    names = {node.op: node.name for node in graph.nodes}
    for convert in (lambda: export_onnx(graph, ExportOptions(input_shape=(2, 3))),
                    lambda: emit_pytorch(graph, TorchOptions((2, 3)))):
        with pytest.raises(UnsupportedOpsError) as raised:
            convert()
        message = str(raised.value)
        for op in ("_npi_normal", "_npi_gamma", "_npi_bernoulli", "_image_random_brightness",
                   "_image_random_flip_left_right"):
            assert f"{op} [random sampling: no deterministic conversion] ({names[op]})" in message, message
        assert "_grad_add (grad_add)" in message
