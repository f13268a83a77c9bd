"""What every family of the local zoo builds with: realistic weights, BatchNorm calibration, atomic and MXNet
0.x-format checkpoint writing, the shared constants.

Weights are random but shaped like trained ones: He-scaled convolutions, BatchNorm gamma near 1 and small
beta, moving statistics calibrated on synthetic natural-looking images, and a classifier scaled so the
softmax is spread. A fix_gamma BatchNorm stores a gamma far from 1, which MXNet ignores, so a converter
that reads it is caught.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import zlib
from typing import Iterator, Mapping, Sequence

import numpy as np

from ..checkpoint import CheckpointPaths
from ..mxnet_compat import import_mxnet
from ..params import save_params
from .images import imagenet_normalise, sample_images  # noqa: F401  (the zoo builders' images, re-exported)

mx = import_mxnet()

BN_EPS = 2e-5
BN_MOMENTUM = 0.9
CONV_WORKSPACE = 256
FIXED_GAMMA_CENTER = 1.5
TARGET_TOP1_PROB = 0.2
# Trained residual networks keep each residual branch small against the identity path (their last-BN gammas
# are small). Random branches at full scale would make the residual stream a sum of unit-variance noise whose
# float32 rounding grows with depth far beyond a trained network's, so the last layer of a branch is scaled.
RESIDUAL_BRANCH_SCALE = 0.1
# MXNet 0.8 files list no aux-state inputs; its loader re-creates them as <op name>_<input name>.
IMPLICIT_AUX_INPUTS = ("moving_mean", "moving_var")
LEGACY_OP_NAMES = {"elemwise_add": "_Plus"}
SUBGRAPH_BACKEND_VARIABLE = "MXNET_SUBGRAPH_BACKEND"
FULL_BRANCH_SUFFIX = "-he"  # names a model built with full-scale residual branches (plain He weights)

Params = dict[str, "mx.nd.NDArray"]


# ---------------------------------------------------------------- Gluon exports

def exported_symbol(net: mx.gluon.HybridBlock, side: int) -> mx.sym.Symbol:
    """The symbol ``HybridBlock.export`` writes for ``net``, run once (hybridized) on a ``side`` x ``side`` image."""
    return exported_checkpoint(net, side, mx.init.Xavier(magnitude=2))[0]


def exported_checkpoint(net: mx.gluon.HybridBlock, side: int, initializer: mx.init.Initializer
                        ) -> tuple[mx.sym.Symbol, Params, Params]:
    """The symbol and the arg and aux params ``HybridBlock.export`` writes for ``net``, initialised with
    ``initializer`` and run once (hybridized) on a ``side`` x ``side`` image."""
    net.initialize(initializer)
    net.hybridize()
    net(mx.nd.zeros((1, 3, side, side)))
    with tempfile.TemporaryDirectory() as tmp:
        net.export(os.path.join(tmp, "net"))
        return mx.model.load_checkpoint(os.path.join(tmp, "net"), 0)


def calibrated_gluon_net(net: mx.gluon.HybridBlock, side: int, seed: int, tag: str) -> mx.gluon.HybridBlock:
    """``net`` hybridized with realistic weights (drawn from ``seed`` and ``tag``) and its BatchNorm statistics
    calibrated on 8 synthetic ``side`` x ``side`` images."""
    sym, _, _ = exported_checkpoint(net, side, mx.init.Xavier(magnitude=2))
    images = imagenet_normalise(sample_images(8, side, seed))
    arg, aux = realistic_params(sym, images.shape, np.random.default_rng([seed, zlib.crc32(tag.encode())]))
    aux = calibrate(sym, arg, aux, images)
    params = net.collect_params()
    for key, value in {**arg, **aux}.items():
        params[key].set_data(value)
    return net


@contextlib.contextmanager
def _torch_hidden() -> Iterator[None]:
    """While ``import torch`` fails."""
    saved = sys.modules.get("torch")
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if saved is None:
            del sys.modules["torch"]
        else:
            sys.modules["torch"] = saved


def import_gluoncv():
    """GluonCV 0.10.5, which refuses to import beside torch 2 (a version check on import; its MXNet models never
    use torch): imported while ``import torch`` fails."""
    with _torch_hidden():
        import gluoncv
    return gluoncv


# ---------------------------------------------------------------- weights

def realistic_params(sym: mx.sym.Symbol, data_shape: Sequence[int], rng: np.random.Generator,
                     data_name: str = "data", branch_scale: float = RESIDUAL_BRANCH_SCALE,
                     constants: Mapping[str, mx.nd.NDArray] | None = None,
                     other_inputs: Mapping[str, Sequence[int]] | None = None) -> tuple[Params, Params]:
    """Random arg and aux params for ``sym``; moving statistics start at 0 and 1 (see ``calibrate``); the last
    layer of each residual branch is scaled by ``branch_scale`` (1: plain He weights). ``constants``: args kept as
    given (a detector's anchors); ``other_inputs``: the shapes of inputs besides the data (an R-FCN's rois)."""
    other_inputs = dict(other_inputs or {})
    arg_shapes, _, aux_shapes = sym.infer_shape(**{data_name: tuple(data_shape)}, **other_inputs)
    fixed = _fixed_gammas(sym)
    constants = constants or {}
    arg = {name: constants[name] if name in constants else mx.nd.array(_random_arg(name, shape, name in fixed, rng))
           for name, shape in zip(sym.list_arguments(), arg_shapes)
           if name != data_name and name not in other_inputs and not _is_label(name)}
    aux = {name: mx.nd.zeros(shape) if name.endswith("mean") else mx.nd.ones(shape)
           for name, shape in zip(sym.list_auxiliary_states(), aux_shapes)}
    for name in _residual_branch_scales(sym, fixed):
        arg[name] = arg[name] * branch_scale
    return arg, aux


def _residual_branch_scales(sym: mx.sym.Symbol, fixed_gammas: set[str]) -> list[str]:
    """Per residual add, the weight (conv) or gamma (BatchNorm) ending its deeper input, the branch."""
    nodes = _nodes(sym)
    depth: list[int] = []
    for node in nodes:
        depth.append(1 + max((depth[ref[0]] for ref in node["inputs"]), default=-1))
    scaled = []
    for node in nodes:
        if node["op"] not in ("elemwise_add", "_Plus", "_plus") or len(node["inputs"]) != 2:
            continue
        branch = nodes[max((ref[0] for ref in node["inputs"]), key=lambda index: depth[index])]
        if branch["op"] in ("Convolution", "BatchNorm"):
            name = nodes[branch["inputs"][1][0]]["name"]
            if name not in fixed_gammas:
                scaled.append(name)
    return scaled


def _random_arg(name: str, shape: tuple[int, ...], fixed_gamma: bool, rng: np.random.Generator) -> np.ndarray:
    if name.endswith("_gamma"):
        return (FIXED_GAMMA_CENTER if fixed_gamma else 1.0) + 0.1 * rng.standard_normal(shape)
    if name.endswith("_beta"):
        return 0.1 * rng.standard_normal(shape)
    if name.endswith("_bias"):
        return 0.01 * rng.standard_normal(shape)
    if name.endswith("_weight"):
        return np.sqrt(2 / np.prod(shape[1:])) * rng.standard_normal(shape, dtype=np.float32)
    raise ValueError(f"no initialisation rule for parameter {name!r}")


def _is_label(name: str) -> bool:
    return name.endswith("_label")


def _nodes(sym: mx.sym.Symbol) -> list[dict]:
    return json.loads(sym.tojson())["nodes"]


def _last_fully_connected(nodes: list[dict]) -> dict | None:
    """The classifier of most networks (SqueezeNet and Gluon's MobileNetV2 end in a convolution instead)."""
    layers = [node for node in nodes if node["op"] == "FullyConnected"]
    return layers[-1] if layers else None


def _fixed_gammas(sym: mx.sym.Symbol) -> set[str]:
    """Gamma names of the BatchNorms whose gamma MXNet replaces by 1 (fix_gamma defaults to True)."""
    nodes = _nodes(sym)
    return {nodes[node["inputs"][1][0]]["name"] for node in nodes
            if node["op"] == "BatchNorm" and node.get("attrs", {}).get("fix_gamma", "True") == "True"}


# ---------------------------------------------------------------- calibration

def calibrate(sym: mx.sym.Symbol, arg_params: Mapping, aux_params: Mapping, images: np.ndarray,
              data_name: str = "data") -> Params:
    """New aux params whose BatchNorm moving statistics equal the batch statistics on ``images``.

    In training mode every BatchNorm normalises with its batch statistics, so one training-mode forward
    pass yields each BatchNorm's input as it is in a network whose moving statistics equal those statistics.
    """
    nodes = _nodes(sym)
    batchnorms = [node for node in nodes if node["op"] == "BatchNorm"]
    if not batchnorms:
        return dict(aux_params)
    internals = sym.get_internals()
    positions: dict[str, list[int]] = {}  # output name -> its positions (a block applied twice repeats names)
    for position, name in enumerate(internals.list_outputs()):
        positions.setdefault(name, []).append(position)
    taps = mx.sym.Group([internals[positions[f"{node['name']}_output"].pop(0)].get_children()[0]
                         for node in batchnorms])
    aux = dict(aux_params)
    inputs = forward(taps, arg_params, aux_params, {data_name: images}, is_train=True)
    for node, value in zip(batchnorms, inputs):
        channel_axis = int(node.get("attrs", {}).get("axis", 1)) % value.ndim
        axes = tuple(axis for axis in range(value.ndim) if axis != channel_axis)
        value = value.astype(np.float64)
        aux[nodes[node["inputs"][3][0]]["name"]] = mx.nd.array(value.mean(axis=axes))
        aux[nodes[node["inputs"][4][0]]["name"]] = mx.nd.array(value.var(axis=axes))
    return aux


def fit_classifier(sym: mx.sym.Symbol, arg_params: Mapping, aux_params: Mapping, images: np.ndarray,
                   rng: np.random.Generator, data_name: str = "data",
                   top1_prob: float = TARGET_TOP1_PROB) -> Params:
    """New weight and bias for the last FullyConnected layer, giving a mean top-1 softmax probability of
    ``top1_prob`` on ``images``; the bias cancels the mean feature, so the top class varies between images."""
    nodes = _nodes(sym)
    fc = _last_fully_connected(nodes)
    weight_name, bias_name = (nodes[ref[0]]["name"] for ref in fc["inputs"][1:3])
    features_sym = sym.get_internals()[f"{fc['name']}_output"].get_children()[0]
    features = forward(features_sym, arg_params, aux_params, {data_name: images})[0]
    features = features.reshape(len(images), -1).astype(np.float64)
    mean = features.mean(axis=0)
    direction = rng.standard_normal((arg_params[weight_name].shape[0], features.shape[1]))
    weight = _temperature((features - mean) @ direction.T, top1_prob) * direction
    return {weight_name: mx.nd.array(weight), bias_name: mx.nd.array(-weight @ mean)}


def _temperature(logits: np.ndarray, top1_prob: float) -> float:
    """The factor by which ``logits`` must be scaled for a mean top-1 softmax probability of ``top1_prob``."""
    low, high = 1e-4, 1e4
    for _ in range(60):
        middle = np.sqrt(low * high)
        low, high = (middle, high) if top1_probability(middle * logits).mean() < top1_prob else (low, middle)
    return float(np.sqrt(low * high))


def top1_probability(logits: np.ndarray) -> np.ndarray:
    """Per-row largest softmax probability."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return 1 / np.exp(shifted).sum(axis=1)


def forward(sym: mx.sym.Symbol, arg_params: Mapping, aux_params: Mapping, inputs: Mapping[str, np.ndarray],
            is_train: bool = False) -> list[np.ndarray]:
    """Outputs of ``sym`` on CPU; label arguments are bound to zeros."""
    shapes, _, _ = sym.infer_shape(**{name: value.shape for name, value in inputs.items()})
    args = {}
    for name, shape in zip(sym.list_arguments(), shapes):
        if name in inputs:
            args[name] = mx.nd.array(inputs[name])
        else:
            args[name] = mx.nd.zeros(shape) if _is_label(name) and name not in arg_params else arg_params[name]
    aux = {name: aux_params[name].copy() for name in sym.list_auxiliary_states()}
    with _subgraph_backend_off():
        executor = sym.bind(mx.cpu(), args, aux_states=aux, grad_req="null")
    return [output.asnumpy() for output in executor.forward(is_train=is_train)]


@contextlib.contextmanager
def _subgraph_backend_off() -> Iterator[None]:
    """Bind without MXNet's MKLDNN subgraph pass, which fails on graphs that output a BatchNorm's input."""
    previous = os.environ.get(SUBGRAPH_BACKEND_VARIABLE)
    os.environ[SUBGRAPH_BACKEND_VARIABLE] = "NONE"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[SUBGRAPH_BACKEND_VARIABLE]
        else:
            os.environ[SUBGRAPH_BACKEND_VARIABLE] = previous


def health(sym: mx.sym.Symbol, arg_params: Mapping, aux_params: Mapping, images: np.ndarray,
           data_name: str = "data") -> tuple[float, float]:
    """On ``images``: the largest std of any op output but the logits of the last FullyConnected (spread on
    purpose) and the model outputs, and the mean top-1 softmax probability of those logits."""
    internals = sym.get_internals()
    outputs = dict(zip(internals.list_outputs(), forward(internals, arg_params, aux_params, {data_name: images})))
    classifier = _last_fully_connected(_nodes(sym))
    logits = f"{classifier['name']}_output" if classifier else sym.list_outputs()[0]
    skipped = {logits, *sym.list_outputs(), *sym.list_arguments(), *sym.list_auxiliary_states()}
    largest_std = max(float(value.std()) for name, value in outputs.items() if name not in skipped)
    return largest_std, float(top1_probability(outputs[logits].astype(np.float64)).mean())


# ---------------------------------------------------------------- builders

def build_checkpoint(sym: mx.sym.Symbol, name: str, out_dir: str, images: np.ndarray, seed: int,
                     full_branches: bool = False, constants: Mapping[str, mx.nd.NDArray] | None = None) -> str:
    """Write ``sym`` as checkpoint ``name`` with realistic weights: BatchNorm calibrated on the first half of
    ``images``, the classifier fitted on the unseen second half. ``constants``: args the model sets, kept as
    given."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    name += FULL_BRANCH_SUFFIX if full_branches else ""
    batchnorm_images, classifier_images = np.split(images, 2)
    arg, aux = realistic_params(sym, batchnorm_images.shape, rng,
                                branch_scale=1.0 if full_branches else RESIDUAL_BRANCH_SCALE,
                                constants=constants)
    aux = calibrate(sym, arg, aux, batchnorm_images)
    if _last_fully_connected(_nodes(sym)):
        arg.update(fit_classifier(sym, arg, aux, classifier_images, rng))
    prefix = os.path.join(out_dir, name)
    with atomic_checkpoint(prefix, 0) as tmp_prefix:
        mx.model.save_checkpoint(tmp_prefix, 0, sym, arg, aux)
    return prefix


@contextlib.contextmanager
def atomic_checkpoint(prefix: str, epoch: int) -> Iterator[str]:
    """Yield a prefix in a temporary folder beside ``prefix``; move both files into place after the block."""
    folder, name = os.path.split(os.path.abspath(prefix))
    os.makedirs(folder, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{name}.", dir=folder)
    try:
        yield os.path.join(tmp, name)
        # params first: a checkpoint counts as present only once its symbol file is there too
        for built, final in reversed(list(zip(CheckpointPaths.of(os.path.join(tmp, name), epoch),
                                              CheckpointPaths.of(prefix, epoch)))):
            os.replace(built, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- MXNet 0.x format

def save_legacy_checkpoint(src_prefix: str, src_epoch: int, dst_prefix: str) -> str:
    """Copy a checkpoint in MXNet 0.x form: 0.x symbol JSON (BatchNorm aux inputs left implicit where MXNet
    re-creates them under the same names) and magic-less params records; return ``dst_prefix``."""
    sym, arg, aux = mx.model.load_checkpoint(src_prefix, src_epoch)
    graph = json.loads(sym.tojson())
    text = json.dumps(legacy_graph(graph, implicit_aux(graph, set(sym.list_auxiliary_states()))), indent=2)
    arrays = {f"arg:{name}": value.asnumpy() for name, value in arg.items()}
    arrays.update({f"aux:{name}": value.asnumpy() for name, value in aux.items()})
    with atomic_checkpoint(dst_prefix, src_epoch) as tmp_prefix:
        symbol_path, params_path = CheckpointPaths.of(tmp_prefix, src_epoch)
        with open(symbol_path, "w") as handle:
            handle.write(text)
        loaded = mx.sym.load(symbol_path)
        if (loaded.list_arguments(), loaded.list_auxiliary_states()) != (sym.list_arguments(),
                                                                          sym.list_auxiliary_states()):
            raise RuntimeError(f"MXNet reads the 0.x form of {src_prefix} with different inputs")
        save_params(params_path, arrays, layout="legacy")
    return dst_prefix


def legacy_graph(graph: Mapping, implicit: set[str] = frozenset()) -> dict:
    """``graph`` (MXNet >= 0.9 symbol JSON) in MXNet 0.x form, leaving out the variables named in ``implicit``."""
    nodes = graph["nodes"]
    new_id: dict[int, int] = {}
    for old, node in enumerate(nodes):
        if not (node["op"] == "null" and node["name"] in implicit):
            new_id[old] = len(new_id)
    return {"nodes": [_legacy_node(nodes[old], new_id) for old in new_id],
            "arg_nodes": [new_id[old] for old in graph["arg_nodes"] if old in new_id],
            "heads": [[new_id[old], index] for old, index, *_ in graph["heads"]]}


def _legacy_node(node: Mapping, new_id: Mapping[int, int]) -> dict:
    attrs = node.get("attrs", {})
    params = {} if node["op"] == "null" else {key: value for key, value in attrs.items() if not _is_dunder(key)}
    legacy = {"op": LEGACY_OP_NAMES.get(node["op"], node["op"]), "param": params, "name": node["name"],
              "inputs": [[new_id[old], index] for old, index, *_ in node["inputs"] if old in new_id],
              "backward_source_id": -1}
    annotations = {key: value for key, value in attrs.items() if _is_dunder(key)}
    if annotations:
        legacy["attr"] = annotations
    return legacy


def _is_dunder(key: str) -> bool:
    return key.startswith("__") and key.endswith("__")


def implicit_aux(graph: Mapping, aux_names: set[str]) -> set[str]:
    """Aux variables that are trailing inputs of their op and carry the name MXNet 0.9 would re-create."""
    nodes = graph["nodes"]
    implicit = set()
    for node in nodes:
        defaults = {f"{node['name']}_{suffix}" for suffix in IMPLICIT_AUX_INPUTS}
        for old, *_ in reversed(node["inputs"]):
            name = nodes[old]["name"]
            if name not in aux_names or name not in defaults:
                break
            implicit.add(name)
    return implicit


