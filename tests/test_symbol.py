"""The symbol reader against MXNet's own loader, across JSON generations, and on broken files."""
import json
import re

import pytest

from mxconvert.errors import MxConvertError
from mxconvert.ir import VarKind
from mxconvert.semantics.normalization import BATCH_NORMS
from mxconvert.semantics.schema import OPS, normalised
from mxconvert.symbol import parse_symbol, read_symbol
from mxcases import CASES, S, mx


def mxnet_view(sym):
    """What MXNet reports about a symbol: op nodes, arguments, aux states, outputs."""
    doc = json.loads(sym.tojson())
    ops = [(n["name"], n["op"]) for n in doc["nodes"] if n["op"] != "null"]
    return ops, sym.list_arguments(), sym.list_auxiliary_states(), sym.list_outputs()


# NumPy-interface ops whose output MXNet names otherwise (``_npi_average`` has a second, hidden output)
_NUMPY_OUTPUT_NAMES = {"_npi_concatenate": "out", "_npi_matmul": "out", "_npi_std": "std", "_npi_var": "var",
                       "_npi_average": "output0", "_npi_norm": "output0"}


def our_view(graph, spellings: dict[str, str] | None = None):
    """What the reader reports, named as MXNet names it; ``spellings``: each node's op as the file spells it."""
    spellings = spellings or {}
    variables = graph.variables
    ops = [(n.name, n.op) for n in graph.nodes]
    args = [name for name, var in variables.items() if var.kind is not VarKind.AUX]
    aux = [name for name, var in variables.items() if var.kind is VarKind.AUX]
    outputs = []
    for ref in graph.outputs:
        node = graph.node(ref.node)
        if node.op in BATCH_NORMS:  # MXNet names its outputs output, mean, var
            outputs.append(f"{ref.node}_{('output', 'mean', 'var')[ref.index]}")
        elif node.op in ("LayerNorm", "GroupNorm"):  # and these output, mean, std
            outputs.append(f"{ref.node}_{('output', 'mean', 'std')[ref.index]}")
        elif node.op == "RNN":  # and the RNN output, state_output, statecell_output
            outputs.append(f"{ref.node}_{('output', 'state_output', 'statecell_output')[ref.index]}")
        elif node.op == "_contrib_DeformablePSROIPooling":  # and this output, top_count
            outputs.append(f"{ref.node}_{('output', 'top_count')[ref.index]}")
        elif node.op == "_contrib_hawkesll":  # and this output, out_state
            outputs.append(f"{ref.node}_{('output', 'out_state')[ref.index]}")
        elif node.op == "make_loss":  # and this one loss
            outputs.append(f"{ref.node}_loss")
        elif node.op in ("_contrib_Proposal", "_contrib_MultiProposal"):  # and these output, score
            outputs.append(f"{ref.node}_{('output', 'score')[ref.index]}")
        elif node.op == "_contrib_MultiBoxTarget":
            outputs.append(f"{ref.node}_{('loc_target', 'loc_mask', 'cls_target')[ref.index]}")
        elif spellings.get(ref.node) in _NUMPY_OUTPUT_NAMES:  # NumPy spellings that name their output
            outputs.append(f"{ref.node}_{_NUMPY_OUTPUT_NAMES[spellings[ref.node]]}")
        else:
            outputs.append(f"{ref.node}_output" + (str(ref.index) if node.num_outputs > 1 else ""))
    return ops, args, aux, outputs


def assert_same_as_mxnet(sym, graph):
    mx_ops, mx_args, mx_aux, mx_outputs = mxnet_view(sym)
    ops, args, aux, outputs = our_view(graph, dict(mx_ops))
    canonical = {name: graph.node(name).op for name, _ in ops}
    assert [name for name, _ in ops] == [name for name, _ in mx_ops]
    for name, op in mx_ops:
        assert canonical[name] in OPS, op
    assert sorted(args) == sorted(mx_args) and sorted(aux) == sorted(mx_aux)
    assert outputs == mx_outputs
    for name, op in mx_ops:  # every attribute MXNet stored, normalised and parsed by the schema, equals ours
        stored = json.loads(sym.tojson())
        _, raw = normalised(op, next(n for n in stored["nodes"] if n["name"] == name).get("attrs", {}))
        node = graph.node(name)
        for key, text in raw.items():
            parse = OPS[node.op].attrs[key][0]
            assert node.attrs[key] == parse(text), (name, key)


@pytest.mark.parametrize("case", sorted(CASES))
def test_reader_matches_mxnet(case):
    sym, _ = CASES[case]
    assert_same_as_mxnet(sym, parse_symbol(sym.tojson()))


def _small_net():
    data = S.var("data")
    x = S.Convolution(data, kernel=(3, 3), num_filter=4, pad=(1, 1), no_bias=True, name="conv0")
    x = S.BatchNorm(x, fix_gamma=False, eps=2e-5, name="bn0")
    parts = S.SliceChannel(S.Activation(x, act_type="relu", name="relu0"), num_outputs=2, name="split")
    x = S.Concat(parts[1], parts[0], dim=1, name="cat")
    x = S.FullyConnected(S.Flatten(x), num_hidden=3, name="fc1")
    return S.SoftmaxOutput(x, name="softmax")


def to_legacy_json(sym) -> str:
    """Rewrite 1.x JSON the way MXNet 0.x wrote it: ``param``/``attr``, 2-element refs, no row pointers."""
    doc = json.loads(sym.tojson())
    nodes = []
    for node in doc["nodes"]:
        attrs = node.get("attrs", {})
        nodes.append({"op": node["op"], "param": {k: v for k, v in attrs.items() if not k.startswith("__")},
                      "name": node["name"], "inputs": [ref[:2] for ref in node["inputs"]],
                      "backward_source_id": -1,
                      **({"attr": {k: v for k, v in attrs.items() if k.startswith("__")}}
                         if any(k.startswith("__") for k in attrs) else {})})
    return json.dumps({"nodes": nodes, "arg_nodes": doc["arg_nodes"], "heads": [h[:2] for h in doc["heads"]]})


def test_legacy_json_matches_mxnet(tmp_path):
    sym = _small_net()
    path = tmp_path / "legacy-symbol.json"
    path.write_text(to_legacy_json(sym))
    legacy = read_symbol(path)
    assert_same_as_mxnet(mx.sym.load(str(path)), legacy)
    modern = parse_symbol(sym.tojson())
    assert [(n.name, n.op, n.attrs, n.inputs) for n in legacy.nodes] == \
           [(n.name, n.op, n.attrs, n.inputs) for n in modern.nodes]
    assert modern.source.mxnet_version == "1.9.1" and legacy.source.mxnet_version is None


def test_attributes_are_typed_once():
    graph = parse_symbol(_small_net().tojson())
    conv = graph.node("conv0")
    assert conv.attrs["kernel"] == (3, 3) and conv.attrs["no_bias"] is True and conv.attrs["num_group"] == 1
    bn = graph.node("bn0")
    assert bn.attrs["fix_gamma"] is False and bn.attrs["eps"] == 2e-5 and bn.attrs["momentum"] == 0.9
    assert graph.node("split").num_outputs == 2
    assert graph.variables["softmax_label"].kind is VarKind.LABEL
    assert graph.variables["bn0_moving_var"].kind is VarKind.AUX
    assert graph.variables["conv0_weight"].kind is VarKind.PARAM


def _doc(nodes, heads=None):
    return {"nodes": nodes, "arg_nodes": [0], "heads": heads or [[len(nodes) - 1, 0, 0]]}


_DATA = {"op": "null", "name": "data", "inputs": []}
BAD = {
    "not json": "{nodes: ",
    "top level is a list": json.dumps([_DATA]),
    "no nodes": json.dumps({"heads": []}),
    "unknown top key": json.dumps({**_doc([_DATA]), "extra": 1}),
    "unknown node key": json.dumps(_doc([{**_DATA, "weird": 1}])),
    "cycle": json.dumps(_doc([_DATA, {"op": "relu", "name": "a", "inputs": [[2, 0, 0]]},
                              {"op": "relu", "name": "b", "inputs": [[1, 0, 0]]}])),
    "dangling input": json.dumps(_doc([_DATA, {"op": "Flatten", "name": "f", "inputs": [[7, 0, 0]]}])),
    "missing output": json.dumps(_doc([_DATA, {"op": "Flatten", "name": "f", "inputs": [[0, 3, 0]]}])),
    "head out of range": json.dumps(_doc([_DATA], heads=[[5, 0, 0]])),
    "bad attribute": json.dumps(_doc([_DATA, {"op": "Convolution", "name": "c", "inputs": [[0, 0, 0]],
                                              "attrs": {"kernel": "(3,x)", "num_filter": "2"}}])),
    "missing required attribute": json.dumps(_doc([_DATA, {"op": "Convolution", "name": "c",
                                                           "inputs": [[0, 0, 0]], "attrs": {"num_filter": "2"}}])),
    "unknown attribute": json.dumps(_doc([_DATA, {"op": "Flatten", "name": "f", "inputs": [[0, 0, 0]],
                                                  "attrs": {"bogus": "1"}}])),
    "huge attribute": json.dumps(_doc([_DATA, {"op": "Flatten", "name": "f", "inputs": [[0, 0, 0]],
                                               "attrs": {"__doc__": "x" * (100 << 20)}}])),
    "non-string attribute": json.dumps(_doc([_DATA, {"op": "Flatten", "name": "f", "inputs": [[0, 0, 0]],
                                                     "attrs": {"x": 1}}])),
    "bad reference": json.dumps(_doc([_DATA, {"op": "Flatten", "name": "f", "inputs": [["0", 0]]}])),
    "empty": "",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_symbol_gives_clean_error(tmp_path, case):
    path = tmp_path / "bad-symbol.json"
    path.write_text(BAD[case])
    with pytest.raises(MxConvertError) as info:
        read_symbol(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(MxConvertError, match="no such file"):
        read_symbol(tmp_path / "nope-symbol.json")
    binary = tmp_path / "bin-symbol.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(MxConvertError, match="not UTF-8"):
        read_symbol(binary)


def one_op_json(op, attrs, weights=()):
    """``data`` (and variables named after ``weights``) into one ``op`` node with ``attrs``, as symbol JSON."""
    nodes = [{"op": "null", "name": name, "inputs": []} for name in ("data", *weights)]
    nodes.append({"op": op, "name": "node", "attrs": attrs, "inputs": [[i, 0, 0] for i in range(len(nodes))]})
    return json.dumps({"nodes": nodes, "arg_nodes": list(range(len(nodes) - 1)), "heads": [[len(nodes) - 1, 0, 0]],
                       "attrs": {"mxnet_version": ["int", 10901]}})


CONV = ("Convolution", {"kernel": "(3, 3)", "num_filter": "2"}, ("weight", "bias"))
UPSAMPLING = ("UpSampling", {"scale": "2", "sample_type": "nearest", "num_args": "1"}, ())
# (op, valid attributes, weights) and the one attribute changed to a value just past MXNet 1.9.1's bound
PAST_BOUND = {
    "Convolution num_filter=0": (CONV, "num_filter", "0"),
    "Convolution kernel=(0, 3)": (CONV, "kernel", "(0, 3)"),
    "Convolution stride=(1, 0)": (CONV, "stride", "(1, 0)"),
    "Convolution dilate=(0, 1)": (CONV, "dilate", "(0, 1)"),
    "Pooling kernel=(0, 0)": (("Pooling", {"kernel": "(2, 2)", "global_pool": "True"}, ()), "kernel", "(0, 0)"),
    "Pooling stride=(0, 2)": (("Pooling", {"kernel": "(2, 2)"}, ()), "stride", "(0, 2)"),
    "FullyConnected num_hidden=0": (("FullyConnected", {"num_hidden": "3"}, ("weight", "bias")), "num_hidden", "0"),
    "Concat num_args=0": (("Concat", {"num_args": "1"}, ()), "num_args", "0"),
    "SoftmaxOutput smooth_alpha=1.5": (("SoftmaxOutput", {}, ("label",)), "smooth_alpha", "1.5"),
    "SliceChannel num_outputs=0": (("SliceChannel", {"num_outputs": "1"}, ()), "num_outputs", "0"),
    "UpSampling scale=0": (UPSAMPLING, "scale", "0"),
    "UpSampling num_args=0": (UPSAMPLING, "num_args", "0"),
    "Crop num_args=4": (("Crop", {"num_args": "1", "h_w": "(2, 2)"}, ()), "num_args", "4"),
    "Dropout p=1.5": (("Dropout", {"p": "0.5"}, ()), "p", "1.5"),
    "Dropout p=-0.5": (("Dropout", {"p": "0.5"}, ()), "p", "-0.5"),
}
# The bounds themselves, which MXNet accepts
AT_BOUND = {
    "Convolution num_filter=1": (CONV, "num_filter", "1"),
    "FullyConnected num_hidden=1": (("FullyConnected", {"num_hidden": "3"}, ("weight", "bias")), "num_hidden", "1"),
    "SoftmaxOutput smooth_alpha=1": (("SoftmaxOutput", {}, ("label",)), "smooth_alpha", "1"),
    "SliceChannel num_outputs=1": (("SliceChannel", {"num_outputs": "2"}, ()), "num_outputs", "1"),
    "UpSampling scale=1": (UPSAMPLING, "scale", "1"),
    "Dropout p=0": (("Dropout", {"p": "0.5"}, ()), "p", "0"),
    "Dropout p=1": (("Dropout", {"p": "0.5"}, ()), "p", "1"),
}


def mxnet_accepts(text):
    """Whether MXNet loads the symbol and infers its shapes for a 1x4x8x8 input."""
    try:
        mx.sym.load_json(text).infer_shape(data=(1, 4, 8, 8))
    except mx.base.MXNetError:
        return False
    return True


# Attributes MXNet 1.9.1 requires (no default): a symbol without one does not load
WITHOUT_REQUIRED = {
    "UpSampling num_args": (UPSAMPLING, "num_args"),
    "UpSampling sample_type": (UPSAMPLING, "sample_type"),
    "Crop num_args": (("Crop", {"num_args": "1", "h_w": "(2, 2)"}, ()), "num_args"),
}


@pytest.mark.parametrize("case", sorted(WITHOUT_REQUIRED))
def test_missing_required_attribute_is_rejected_like_mxnet(case):
    (op, attrs, weights), attr = WITHOUT_REQUIRED[case]
    text = one_op_json(op, {k: v for k, v in attrs.items() if k != attr}, weights)
    assert not mxnet_accepts(text)
    with pytest.raises(MxConvertError, match=rf"\({op}\): missing required attribute '{attr}'"):
        parse_symbol(text)


@pytest.mark.parametrize("case", sorted(PAST_BOUND))
def test_attribute_past_mxnets_bound_is_rejected_like_mxnet(case):
    (op, attrs, weights), attr, value = PAST_BOUND[case]
    text = one_op_json(op, {**attrs, attr: value}, weights)
    assert not mxnet_accepts(text)
    with pytest.raises(MxConvertError, match=rf"\({op}\): bad attribute {attr}='{re.escape(value)}': "):
        parse_symbol(text)


@pytest.mark.parametrize("case", sorted(AT_BOUND))
def test_attribute_at_mxnets_bound_is_accepted_like_mxnet(case):
    (op, attrs, weights), attr, value = AT_BOUND[case]
    text = one_op_json(op, {**attrs, attr: value}, weights)
    assert mxnet_accepts(text)
    assert parse_symbol(text).node("node").attrs[attr] == float(value)
