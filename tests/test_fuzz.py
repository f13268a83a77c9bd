"""Property-based fuzzing of what reads strangers' files: the params reader, the symbol reader, the attribute
parser, and everything a parsed symbol reaches (shape inference, both emitters, the generated module).

Every property runs a bounded number of examples without a deadline (``MXCONVERT_FUZZ_EXAMPLES`` scales them,
e.g. 20000 for a long local run). Inputs that once crashed are kept in ``fuzz_corpus/`` and replayed here; add
a new finding there (see its README) before fixing it. With ``atheris`` installed, a coverage-guided run of the
same targets is made too (``MXCONVERT_FUZZ_EXAMPLES`` sets its run count as well).
"""
from __future__ import annotations

import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch
from generated_code import assert_plain_identifiers
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from mxnet_oracle import MxnetOracle

from mxconvert.checkpoint import attach_weights
from mxconvert.errors import MxConvertError, UnsupportedOpsError
from mxconvert.semantics.schema import ALIASES, OPS, parse_bool, parse_float, parse_int, parse_shape
from mxconvert.params import LIST_MAGIC, MAGICS, load_params
from mxconvert.semantics.inference import inferred_shapes
from mxconvert.symbol import parse_symbol, read_symbol
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.convert import serialize_state, verify
from mxconvert.to_torch.loader import module_from_source

CORPUS = Path(__file__).parent / "fuzz_corpus"
EXAMPLES = int(os.environ.get("MXCONVERT_FUZZ_EXAMPLES", "0")) or None


def bounded(examples: int):
    """Hypothesis settings for one property: ``examples`` runs (or ``MXCONVERT_FUZZ_EXAMPLES``), no deadline."""
    return settings(max_examples=EXAMPLES or examples, deadline=None, derandomize=EXAMPLES is None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def clean(action, *args: Any) -> Any:
    """Run ``action``; our one-line error is the only acceptable failure (an InternalError is a bug)."""
    try:
        return action(*args)
    except MxConvertError:
        return None


# --- attribute parser -------------------------------------------------------------------------------------

NUMBERS = ["0", "-0", "1", "-1", "2", "7", "1.0", "1.5", "1e3", "1e400", "-1e400", "1e-400", "inf", "-inf",
           "nan", "NaN", "infinity", "0x10", "1_000", " 3 ", "9" * 5000, "1" * 4300, "True", "None", "", " "]
SHAPES = ["()", "[]", "(3,)", "(3, 3)", "[3,3]", "3", "(None, 2)", "(1L, 2L)", "((1,),)", "(1.5,)", "('a',)",
          "(-1,)", "(0, 0)", "(" * 300 + ")" * 300, "(" * 5000, "[" + "1," * 3000 + "]", "{1: 2}", "{1}",
          "(1, \x00)", "__import__('os')", "lambda: 0", "(1,)*9", "-" * 50 + "1", "(2**64,)", "(\"x\",)"]
attribute_text = st.one_of(st.sampled_from(NUMBERS + SHAPES), st.text(max_size=40),
                           st.from_regex(r"[\[(]?\s*(-?[0-9]{1,25}(\.[0-9]*)?(e-?[0-9]{1,4})?|None)"
                                         r"(\s*,\s*(-?[0-9]{1,25}|None))*\s*,?[\])]?", fullmatch=True))
OP_ATTRS = [(op, attr) for op, schema in sorted(OPS.items()) for attr in schema.attrs]


@bounded(400)
@given(st.sampled_from(OP_ATTRS), attribute_text)
def test_attribute_parser_types_or_rejects(op_attr: tuple[str, str], text: str) -> None:
    """Through the reader, any attribute text of any op is typed by its schema or is a clean error."""
    op, attr = op_attr
    node = {"op": op, "name": "n", "inputs": [[0, 0, 0]], "attrs": {attr: text}}
    doc = {"nodes": [{"op": "null", "name": "data", "inputs": []}, node], "heads": [[1, 0, 0]]}
    graph = clean(parse_symbol, json.dumps(doc))
    if graph is not None:
        value = graph.node("n").attrs[attr]
        assert value is None or isinstance(value, (bool, int, float, str, tuple)), (attr, value)
        assert not (isinstance(value, float) and math.isnan(value))


@bounded(200)
@given(st.one_of(st.integers(), st.booleans(), st.tuples(*[st.integers(-10**6, 10**6)] * 3),
                 st.lists(st.integers(0, 2**63), max_size=6).map(tuple), st.floats(allow_nan=False)))
def test_attribute_parsers_round_trip(value: Any) -> None:
    """What MXNet writes (``str`` of a Python value) parses back to that value."""
    if isinstance(value, bool):
        assert parse_bool(str(value)) is value
    elif isinstance(value, int):
        assert parse_int(str(value)) == value
    elif isinstance(value, tuple):
        assert parse_shape(str(value)) == value
    else:
        assert parse_float(repr(value)) == value


def test_float_texts_without_digits_read_as_mxnet_reads_them():
    """MXNet's parser reads a mantissa without digits as zero, whatever follows (fuzz seed 31 found ``E``)."""
    from mxcases import mx

    texts = ["E", "-E", ".E", "E5", "e", "-.e", ".", "-.", "+.5e", "5.e3", "1E"]
    for text in texts:
        want = mx.sym._internal._plus_scalar(mx.sym.var("data"), scalar=text).eval(data=mx.nd.zeros((1,)))[0]
        assert parse_float(text) == float(want.asnumpy()[0]), text
    for text in ("..5", "1.2.3", "1e5x"):  # MXNet refuses these too
        with pytest.raises(ValueError):
            parse_float(text)


# --- symbol reader ----------------------------------------------------------------------------------------

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4), max_leaves=20)
op_names = st.sampled_from(["null", *sorted(OPS), *sorted(ALIASES), "Deconvolution", ""]) | st.text(max_size=6)
node_names = st.text(max_size=12) | st.sampled_from(["data", "x\"); import os; os.system('id')#", "a\nb", "名前"])
refs = st.lists(st.integers(-2, 8), min_size=1, max_size=4)


@st.composite
def symbol_docs(draw) -> dict:
    """Mostly well-formed MXNet symbols with random ops, names, references and attributes."""
    nodes = []
    for _ in range(draw(st.integers(1, 7))):
        node: dict[str, Any] = {"op": draw(op_names), "name": draw(node_names),
                                "inputs": draw(st.lists(refs, max_size=3))}
        if draw(st.booleans()):
            key = draw(st.sampled_from(["attrs", "attr", "param"]))
            node[key] = draw(st.dictionaries(st.sampled_from([a for _, a in OP_ATTRS] + ["__shape__", "x"]),
                                             attribute_text, max_size=3))
        if draw(st.integers(0, 9)) == 0:
            node[draw(st.text(max_size=5))] = draw(json_values)
        nodes.append(node)
    doc: dict[str, Any] = {"nodes": nodes, "heads": draw(st.lists(refs, min_size=0, max_size=3))}
    if draw(st.booleans()):
        doc["attrs"] = {"mxnet_version": draw(st.lists(json_values, max_size=2))}
    return doc


@bounded(300)
@given(json_values)
def test_any_json_document_is_a_clean_error(value: Any) -> None:
    for doc in (value, {"nodes": [value], "heads": [[0, 0, 0]]}, {"nodes": [{"op": "null", "name": "d"}],
                                                                 "heads": value}):
        clean(parse_symbol, json.dumps(doc))


@bounded(300)
@given(symbol_docs())
def test_random_symbols_parse_to_a_valid_graph_or_a_clean_error(doc: dict) -> None:
    graph = clean(parse_symbol, json.dumps(doc))
    if graph is None:
        return
    known = set(graph.variables)
    for node in graph.nodes:  # topological, unique, no dangling references
        assert node.name not in known
        assert all(ref.node in known for ref in node.inputs)
        known.add(node.name)
    assert all(ref.node in known for ref in graph.outputs)


# --- the whole conversion on mutated real graphs -----------------------------------------------------------

FUZZ_MAX_ELEMENTS = 1 << 22  # per tensor, for the graphs these tests build and run


def fuzz_weights(weights: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """Seeded weights of the given shapes (variances positive, as a trained BatchNorm's are; sequence lengths
    1, which every sequence has, and boxes of image 0, which every batch has: MXNet reads outside the data for a
    length of 0 or past the sequence, and for a box's batch index outside the batch). A spatial transformer's
    localisation weights are a tenth as large, its affine matrices near the bias, as a trained one's: the full
    scale gives matrices whose grid cancels terms of 6 to values below 1, amplifying float32 rounding in the
    localisation layer to 1e-5 of the output (MXNet with and without MKL-DNN differs by as much)."""
    rng = np.random.default_rng(len(weights))
    arrays = {name: (np.ones(shape) if name.endswith("seq_length") else rng.uniform(1e-3, 1.5, shape)
                     if name.endswith("_var") else rng.normal(0, 0.5, shape))
              .astype(np.float32) for name, shape in weights.items()}
    for name, array in arrays.items():
        if name.endswith("rois") and array.ndim == 2:
            array[:, 0] = 0.0
        if name.endswith("loc_weight"):
            array *= 0.1
    return arrays


mxnet_outputs = MxnetOracle()


def run_pipeline(symbol: dict, weights: dict[str, list[int]], input_shape: tuple[int, ...], opset: int = 13,
                 data: np.ndarray | None = None) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """Parse, attach weights of the given shapes, emit ONNX and PyTorch, build and run the generated module;
    with ``data``, the outputs of ONNX Runtime and of the PyTorch module on it (None for a huge graph)."""
    graph = parse_symbol(json.dumps(symbol))
    attach_weights(graph, fuzz_weights(weights), "<fuzz>")
    shapes = inferred_shapes(graph, input_shape)  # a hostile shape is a clean error here
    if max(math.prod(shape) for shape in shapes.values()) > FUZZ_MAX_ELEMENTS:
        return None  # valid but huge (e.g. UpSampling by 5000): running it would only test this machine's memory
    model, _ = export_onnx(graph, ExportOptions(input_shape=input_shape, opset=opset))
    source, state = emit_pytorch(graph, TorchOptions(input_shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = verify(source, serialize_state(state), [input_shape])
        if data is None:
            return None
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        onnx_out = session.run(None, {session.get_inputs()[0].name: data})
        with torch.no_grad():
            torch_out = module(torch.from_numpy(data))
    torch_out = [torch_out] if isinstance(torch_out, torch.Tensor) else list(torch_out)
    return onnx_out, [t.numpy() for t in torch_out]


def assert_matches_mxnet(reference: list[np.ndarray], actual: list[np.ndarray], what: str) -> None:
    """Same shapes, same non-finite values, finite values within 1e-5 of the output's finite scale."""
    assert len(reference) == len(actual), (what, len(reference), len(actual))
    for index, (ref, out) in enumerate(zip(reference, actual)):
        assert ref.shape == out.shape, (what, index, ref.shape, out.shape)
        finite = np.isfinite(ref)
        assert np.array_equal(np.where(finite, 0, ref), np.where(finite, 0, out), equal_nan=True), (what, index)
        scale = max(float(np.abs(ref[finite]).max(initial=0)), 1e-30)
        error = float(np.abs(ref[finite].astype(np.float64) - out[finite]).max(initial=0)) / scale
        assert error <= 1e-5, f"{what} output {index}: relative error {error:.3g} against MXNet"


# Attribute text the reader refuses although some MXNet parsers take it: NaN, which MXNet turns into NaN
# outputs, numbers past the float range, which MXNet refuses for some ops and wraps for others, and negative
# window sizes and counts, which MXNet's Pooling turns into a single window or an empty output and its RNN into
# garbage; and empty outputs, which
# MXNet returns but no network means (slices, splits and repeats of zero size, one_hot's depth 0, a creation op's
# zero shape, AdaptiveAvgPooling2D's output_size 0, BilinearResize2D's scales below 1 / size, a zero in
# Deconvolution's target_shape); transpose axes that repeat an axis, which MXNet runs where the repeated
# sizes happen to fit the data's element count; image crops reaching outside the image, which MXNet reads from
# the neighbouring row or outside the data; and dsplit along an axis other than 2, which MXNet's shape inference
# splits as axis 2 and its kernel splits along the axis given (garbage, or writes past the outputs).
DELIBERATE_REFUSALS = ("not a number", "out of range", "negative size refused", "empty output refused",
                       "not a permutation", "reaches outside the image", "shape (of axis 2) and kernel disagree")


INT32_EDGE = 2.0**31 - 2.0**24  # an int32 result this large comes from overflow in any graph the corpus mutates


def integer_overflow(symbol: dict, reference: list[np.ndarray]) -> bool:
    """Whether MXNet's result comes from int32 overflow: a wrapped sum, or an integer division by zero, which C
    leaves undefined (MXNet on x86 gives INT_MIN). mxconvert computes integer tensors in the float type, exact
    within 2**24, and does not reproduce it (a division by zero gives an infinity)."""
    integer = any("int" in str(node.get("attrs", {}).get("dtype", "")) for node in symbol["nodes"])
    return integer and any(float(np.abs(out[np.isfinite(out)].astype(np.float64)).max(initial=0)) >= INT32_EDGE
                           for out in reference)  # in float64: int32's lowest value has no int32 absolute value


def convert_like_mxnet(symbol: dict, weights: dict[str, list[int]], input_shape: tuple[int, ...],
                       opset: int = 13) -> None:
    """The oracle: where MXNet runs the graph, both targets convert and match it (or reject the node as
    unsupported); where MXNet rejects it, the conversion fails with a clean error. Never an InternalError."""
    data = np.random.default_rng(1).uniform(-1, 1, input_shape).astype(np.float32) if all(input_shape) else None
    reference = None if data is None else mxnet_outputs(symbol, fuzz_weights(weights), data)
    if reference is None or max(r.size for r in reference) > FUZZ_MAX_ELEMENTS:
        clean(run_pipeline, symbol, weights, input_shape, opset)
        return
    if integer_overflow(symbol, reference):
        clean(run_pipeline, symbol, weights, input_shape, opset)
        return
    try:
        result = run_pipeline(symbol, weights, input_shape, opset, data)
    except UnsupportedOpsError:
        return  # a value the target cannot express, rejected by name before anything is written
    except MxConvertError as exc:
        if not any(reason in str(exc) for reason in DELIBERATE_REFUSALS):
            raise
        return
    if result is not None:
        for what, outputs in zip(("ONNX Runtime", "PyTorch"), result):
            assert_matches_mxnet(reference, outputs, what)


def _bases() -> dict[str, tuple[dict, dict[str, list[int]], tuple[int, ...]]]:
    """Every per-op test graph as symbol JSON, its weights' shapes and its input shape (shapes from MXNet)."""
    from mxcases import CASES

    bases = {}
    for case, (sym, shape) in sorted(CASES.items()):
        args, _, aux = sym.infer_shape(data=shape)
        if args is None:  # a size the data decides (boolean_mask): MXNet binds no such graph
            continue
        weights = {f"arg:{n}": list(s) for n, s in zip(sym.list_arguments(), args)
                   if n != "data" and not n.endswith("label")}
        weights |= {f"aux:{n}": list(s) for n, s in zip(sym.list_auxiliary_states(), aux)}
        bases[case] = (json.loads(sym.tojson()), weights, shape)
    return bases


BASES = _bases()
TYPED = {"parse_int": st.sampled_from(["0", "-1", "1", "2", "3", "7", "64", "10000000", "1e400", "-5"]),
         "parse_float": st.sampled_from(["0", "-1", "1e-30", "1e30", "inf", "-inf", "1e308", "-0.0", "nan", "-"]),
         "parse_float32": st.sampled_from(["0", "-1", "1e-30", "1e30", "3.5e38", "inf", "-inf", "-0.0", "nan", "-"]),
         "parse_shape": st.lists(st.sampled_from([-4, -3, -2, -1, 0, 1, 2, 3, 5, 10**9, None]), max_size=5)
         .map(lambda dims: str(tuple(dims)))}


@st.composite
def mutated_cases(draw) -> tuple[dict, dict[str, list[int]], tuple[int, ...], int]:
    symbol, weights, shape = BASES[draw(st.sampled_from(sorted(BASES)))]
    symbol = json.loads(json.dumps(symbol))
    ops = [node for node in symbol["nodes"] if node["op"] != "null"]
    for _ in range(draw(st.integers(1, 2))):
        node = draw(st.sampled_from(ops))
        schema = OPS.get(node["op"]) or OPS[ALIASES.get(node["op"], "Flatten")]
        if not schema.attrs:
            continue
        attr = draw(st.sampled_from(sorted(schema.attrs)))
        kind = schema.attrs[attr][0].__name__.removeprefix("optional_")
        node.setdefault("attrs", {})[attr] = draw(TYPED.get(kind, attribute_text) | attribute_text)
    if draw(st.integers(0, 3)) == 0:
        shape = tuple(draw(st.lists(st.sampled_from([0, 1, 2, 3, 5]), min_size=1, max_size=5)))
    return symbol, weights, shape, draw(st.sampled_from([11, 13, 18, 21]))


@bounded(150)
@given(mutated_cases())
def test_mutated_real_graphs_convert_like_mxnet(case: tuple) -> None:
    convert_like_mxnet(*case)


# The fixed corpus above runs derandomized; this run draws new cases each time from a seed it prints
# (MXCONVERT_FUZZ_SEED=N replays one).
RANDOM_SEED = int(os.environ.get("MXCONVERT_FUZZ_SEED") or random.SystemRandom().randrange(2**32))


@seed(RANDOM_SEED)
@settings(max_examples=EXAMPLES or 60, deadline=None, derandomize=False, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_cases())
def test_mutated_real_graphs_seeded_random_run(case: tuple) -> None:
    print(f"fuzz seed {RANDOM_SEED} (replay: MXCONVERT_FUZZ_SEED={RANDOM_SEED})")
    try:
        convert_like_mxnet(*case)
    except Exception as exc:
        raise AssertionError(f"MXCONVERT_FUZZ_SEED={RANDOM_SEED} replays this failure") from exc


# --- generated code ---------------------------------------------------------------------------------------

def _named_net(data: str, weight: str, conv: str) -> str:
    return json.dumps({"nodes": [
        {"op": "null", "name": data, "inputs": []}, {"op": "null", "name": weight, "inputs": []},
        {"op": "Convolution", "name": conv, "inputs": [[0, 0, 0], [1, 0, 0]],
         "attrs": {"kernel": "(1,1)", "num_filter": "2", "no_bias": "True"}}], "heads": [[2, 0, 0]]})


hostile_names = st.text(min_size=1, max_size=30) | st.sampled_from(
    ["x\"); import os; os.system('touch PWNED')#", "y'''\n__import__('os')", "a\\", "\r\n", "self", "F"])


@bounded(150)
@given(st.lists(hostile_names, min_size=3, max_size=3, unique=True))
def test_any_name_becomes_an_identifier_and_an_escaped_string(raw_names: list[str]) -> None:
    graph = parse_symbol(_named_net(*raw_names))
    attach_weights(graph, {raw_names[1]: np.ones((2, 3, 1, 1), np.float32)}, "<fuzz>")
    source, _ = emit_pytorch(graph, TorchOptions((1, 3, 2, 2)))
    assert_plain_identifiers(source)
    renamed = getattr(module_from_source(source), "MXNET_NAMES", {})  # executing it runs no payload either
    assert set(renamed.values()) <= set(raw_names)
    assert all(name in renamed.values() or f"self.{name} " in source or f"{name}: torch.Tensor" in source
               or f"{name}: Optional[torch.Tensor]" in source  # named like a begin state ("A_begin")
               for name in (raw_names[0], raw_names[2]))


# --- params reader ----------------------------------------------------------------------------------------

u32 = st.integers(0, 2**32 - 1) | st.sampled_from([*MAGICS.values(), 0, 1, 4, 32, 33, 2**31])
i64 = st.integers(-2**63, 2**63 - 1) | st.sampled_from([0, 1, 2, -1, 2**31, 2**32, 2**62, 2**63 - 1])


@st.composite
def params_headers(draw) -> bytes:
    """Files whose every header field may be absurd: counts, magics, ndim, dims, storage and dtype flags."""
    records = []
    for _ in range(draw(st.integers(0, 3))):
        magic = draw(u32)
        ndim = draw(st.integers(-2, 40) | st.sampled_from([2**31 - 1, -2**31]))
        dims = draw(st.lists(i64, max_size=6))
        body = struct.pack("<I", magic)
        if magic in MAGICS.values():
            if magic != MAGICS["v1"]:
                body += struct.pack("<i", draw(st.integers(-1, 3)))
            body += struct.pack(f"<i{len(dims)}q", ndim, *dims)
        else:
            body += struct.pack(f"<{len(dims)}I", *(d % 2**32 for d in dims))
        body += struct.pack("<iii", 1, 0, draw(st.integers(-1, 14))) + draw(st.binary(max_size=64))
        records.append(body)
    count = draw(st.sampled_from([len(records), 2**64 - 1, 2**62, 2**31]) | st.integers(0, 2**64 - 1))
    name_list = draw(st.lists(st.binary(max_size=8), max_size=4))
    raw_names = struct.pack("<Q", draw(st.sampled_from([len(name_list), 2**63])))
    raw_names += b"".join(struct.pack("<Q", draw(st.sampled_from([len(n), 2**64 - 1]))) + n for n in name_list)
    return struct.pack("<QQQ", LIST_MAGIC, 0, count) + b"".join(records) + raw_names


@bounded(400)
@given(params_headers())
def test_absurd_params_headers_are_rejected_before_allocating(data: bytes) -> None:
    with tempfile.NamedTemporaryFile(suffix=".params") as handle:
        handle.write(data)
        handle.flush()
        tracemalloc.start()
        try:
            clean(load_params, handle.name)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 64 * len(data) + (256 << 10), f"{peak} bytes allocated for a {len(data)}-byte file"


# --- corpus of inputs that once crashed --------------------------------------------------------------------

def replay(path: Path) -> None:
    if path.name.endswith(".case.json"):
        case = json.loads(path.read_text())
        if "expect" in case:  # the error must come from the check that fixed it, not from a later failure
            with pytest.raises(MxConvertError, match=case["expect"]):
                run_pipeline(case["symbol"], case["weights"], tuple(case["input_shape"]), case.get("opset", 13))
        else:  # judged by MXNet: converted and matching where MXNet runs it, else a clean error
            convert_like_mxnet(case["symbol"], case["weights"], tuple(case["input_shape"]), case.get("opset", 13))
    elif path.name.endswith("-symbol.json"):
        clean(read_symbol, path)
    elif path.suffix == ".params":
        clean(load_params, path)
    else:
        raise AssertionError(f"{path.name}: unknown corpus entry (see fuzz_corpus/README.md)")


@pytest.mark.parametrize("path", sorted(p for p in CORPUS.iterdir() if p.name != "README.md"), ids=lambda p: p.name)
def test_corpus_replays_cleanly(path: Path) -> None:
    replay(path)


# --- atheris (coverage-guided), when installed -------------------------------------------------------------

ATHERIS_HARNESS = """
import json, struct, sys, tempfile
import atheris
with atheris.instrument_imports(include=["mxconvert"]):
    from mxconvert.errors import MxConvertError
    from mxconvert.params import LIST_MAGIC, load_params
    from mxconvert.symbol import parse_symbol

def one_input(data):
    target, body = (data[0] % 3, data[1:]) if data else (0, b"")
    try:
        if target == 0:
            with tempfile.NamedTemporaryFile(suffix=".params") as handle:
                handle.write(struct.pack("<QQ", LIST_MAGIC, 0) + body)
                handle.flush()
                load_params(handle.name)
        elif target == 1:
            parse_symbol(body.decode("utf-8", "replace"))
        else:
            text = body.decode("utf-8", "replace")
            for op, attr in (("Convolution", "kernel"), ("Convolution", "num_filter"), ("Pooling", "global_pool"),
                             ("BatchNorm", "eps"), ("Pooling", "pool_type")):
                node = {"op": op, "name": "n", "inputs": [[0, 0, 0]], "attrs": {"kernel": "(1,1)", attr: text}}
                if op == "Convolution":
                    node["attrs"].setdefault("num_filter", "1")
                parse_symbol(json.dumps({"nodes": [{"op": "null", "name": "d", "inputs": []}, node],
                                         "heads": [[1, 0, 0]]}))
    except MxConvertError:
        pass
    peak = peak_rss_mb()
    if peak > 1024:  # no reader may need this much for a few kilobytes of input
        raise MemoryError(f"peak RSS {peak} MB")

def peak_rss_mb():  # this process image's own peak: VmHWM starts afresh at exec, unlike ru_maxrss
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmHWM:"))

atheris.Setup(sys.argv, one_input)
atheris.Fuzz()
"""


def test_atheris_bounded_run(tmp_path: Path) -> None:
    """A coverage-guided run of the three readers; a crash leaves its input in tmp_path for fuzz_corpus/."""
    pytest.importorskip("atheris")
    runs = EXAMPLES or 5000
    # -rss_limit_mb=0: libFuzzer reads ru_maxrss, which Linux carries across exec from the forking pytest worker
    # (2.5 GB with its models), and reported an "oom" on tiny inputs; the harness checks its own VmHWM instead.
    result = subprocess.run([sys.executable, "-c", ATHERIS_HARNESS, f"-runs={runs}", "-max_total_time=60",
                             "-rss_limit_mb=0", f"-artifact_prefix={tmp_path}/", "-print_final_stats=1"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    found = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-")))
    assert result.returncode == 0 and not found, (found, result.stderr[-3000:])
    print(next((line for line in result.stderr.splitlines() if "number_of_executed_units" in line), ""))
