"""Build realistic MXNet test checkpoints offline: classic model-zoo ResNets, Gluon exports, 0.x-format copies.

Weights are random but shaped like trained ones: He-scaled convolutions, BatchNorm gamma near 1 and small
beta, moving statistics calibrated on synthetic natural-looking images, and a classifier scaled so the
softmax is spread. A fix_gamma BatchNorm stores a gamma far from 1, which MXNet ignores, so a converter
that reads it is caught. Run ``python -m mxconvert.zoo --help``.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import sys
import tempfile
import time
import zlib
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from .checkpoint import CheckpointPaths
from .mxnet_compat import import_mxnet
from .params import save_params

mx = import_mxnet()

CLASSIC_UNITS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
GLUON_MODELS = tuple(f"resnet{depth}_v{version}" for depth in CLASSIC_UNITS for version in (1, 2))
BN_EPS = 2e-5
BN_MOMENTUM = 0.9
CONV_WORKSPACE = 256
FIXED_GAMMA_CENTER = 1.5
TARGET_TOP1_PROB = 0.2
# Trained residual networks keep each residual branch small against the identity path (their last-BN gammas
# are small). Random branches at full scale would make the residual stream a sum of unit-variance noise whose
# float32 rounding grows with depth far beyond a trained network's, so the last layer of a branch is scaled.
RESIDUAL_BRANCH_SCALE = 0.1
# Photos have amplitude ~ 1/f; a steeper slope stands in for lens blur and antialiased downscaling.
SPECTRUM_EXPONENT = 1.5
IMAGENET_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32).reshape(1, 3, 1, 1)
IMAGENET_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32).reshape(1, 3, 1, 1)
# MXNet 0.8 files list no aux-state inputs; its loader re-creates them as <op name>_<input name>.
IMPLICIT_AUX_INPUTS = ("moving_mean", "moving_var")
LEGACY_OP_NAMES = {"elemwise_add": "_Plus"}
SUBGRAPH_BACKEND_VARIABLE = "MXNET_SUBGRAPH_BACKEND"

Params = dict[str, "mx.nd.NDArray"]


# ---------------------------------------------------------------- classic symbol

def classic_resnet_symbol(depth: int, num_classes: int = 1000) -> mx.sym.Symbol:
    """The pre-activation ResNet of MXNet's example/image-classification/symbols/resnet.py (ImageNet layout)."""
    if depth not in CLASSIC_UNITS:
        raise ValueError(f"depth must be one of {sorted(CLASSIC_UNITS)}, not {depth}")
    bottleneck = depth >= 50
    filters = [64, 256, 512, 1024, 2048] if bottleneck else [64, 64, 128, 256, 512]
    with mx.name.NameManager():
        body = _bn(mx.sym.Variable("data"), "bn_data", fix_gamma=True)
        body = _conv(body, "conv0", filters[0], kernel=7, stride=2, pad=3)
        body = _bn_relu(body, "bn0", "relu0")
        body = mx.sym.Pooling(data=body, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max")
        for stage, (units, width) in enumerate(zip(CLASSIC_UNITS[depth], filters[1:]), start=1):
            for unit in range(1, units + 1):
                stride = 2 if stage > 1 and unit == 1 else 1
                body = _residual_unit(body, f"stage{stage}_unit{unit}", width, stride, unit > 1, bottleneck)
        body = _bn_relu(body, "bn1", "relu1")
        body = mx.sym.Pooling(data=body, global_pool=True, kernel=(7, 7), pool_type="avg", name="pool1")
        body = mx.sym.FullyConnected(data=mx.sym.Flatten(data=body), num_hidden=num_classes, name="fc1")
        return mx.sym.SoftmaxOutput(data=body, name="softmax")


def _residual_unit(data: mx.sym.Symbol, name: str, num_filter: int, stride: int, dim_match: bool,
                   bottleneck: bool) -> mx.sym.Symbol:
    """One pre-activation unit; the projection shortcut, if any, starts from the first ReLU."""
    act1 = _bn_relu(data, f"{name}_bn1", f"{name}_relu1")
    if bottleneck:
        body = _conv(act1, f"{name}_conv1", num_filter // 4, kernel=1, stride=1, pad=0)
        body = _conv(_bn_relu(body, f"{name}_bn2", f"{name}_relu2"), f"{name}_conv2", num_filter // 4,
                     kernel=3, stride=stride, pad=1)
        body = _conv(_bn_relu(body, f"{name}_bn3", f"{name}_relu3"), f"{name}_conv3", num_filter,
                     kernel=1, stride=1, pad=0)
    else:
        body = _conv(act1, f"{name}_conv1", num_filter, kernel=3, stride=stride, pad=1)
        body = _conv(_bn_relu(body, f"{name}_bn2", f"{name}_relu2"), f"{name}_conv2", num_filter,
                     kernel=3, stride=1, pad=1)
    shortcut = data if dim_match else _conv(act1, f"{name}_sc", num_filter, kernel=1, stride=stride)
    return body + shortcut


def _bn(data: mx.sym.Symbol, name: str, fix_gamma: bool = False) -> mx.sym.Symbol:
    return mx.sym.BatchNorm(data=data, fix_gamma=fix_gamma, eps=BN_EPS, momentum=BN_MOMENTUM, name=name)


def _bn_relu(data: mx.sym.Symbol, bn_name: str, relu_name: str) -> mx.sym.Symbol:
    return mx.sym.Activation(data=_bn(data, bn_name), act_type="relu", name=relu_name)


def _conv(data: mx.sym.Symbol, name: str, num_filter: int, kernel: int, stride: int,
          pad: int | None = None) -> mx.sym.Symbol:
    """A bias-free square convolution; ``pad=None`` leaves the attribute out, as the zoo's shortcuts did."""
    padding = {} if pad is None else {"pad": (pad, pad)}
    return mx.sym.Convolution(data=data, num_filter=num_filter, kernel=(kernel, kernel), stride=(stride, stride),
                              no_bias=True, workspace=CONV_WORKSPACE, name=name, **padding)


# ---------------------------------------------------------------- gluon symbol

def gluon_symbol(name: str) -> mx.sym.Symbol:
    """The symbol ``HybridBlock.export`` writes for Gluon model-zoo network ``name`` (e.g. ``resnet50_v2``)."""
    if name not in GLUON_MODELS:
        raise ValueError(f"name must be one of {GLUON_MODELS}, not {name!r}")
    version = name.rsplit("_v", 1)[1]
    # An explicit prefix keeps the names the same however many networks this process has built.
    return exported_symbol(mx.gluon.model_zoo.vision.get_model(name, pretrained=False, prefix=f"resnetv{version}0_"),
                           32)


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


# ---------------------------------------------------------------- images

def sample_images(n: int, size: int, seed: int) -> np.ndarray:
    """``n`` natural-looking RGB images, float32 NCHW with values in 0..255: 1/f noise, a gradient, blobs."""
    rng = np.random.default_rng(seed)
    return np.stack([_natural_image(size, rng) for _ in range(n)]).astype(np.float32)


def imagenet_normalise(images: np.ndarray) -> np.ndarray:
    """0..255 images standardised with the ImageNet channel mean and std, as Gluon models expect."""
    return (images - IMAGENET_MEAN) / IMAGENET_STD


def _natural_image(size: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    fields = _pink_noise(3, size, rng)
    image = fields[0] + 0.4 * np.einsum("ck,khw->chw", rng.normal(size=(3, 2)), fields[1:])
    angle = rng.uniform(0, 2 * np.pi)
    image += rng.normal(size=(3, 1, 1)) * 2 * (np.cos(angle) * xx + np.sin(angle) * yy)
    for _ in range(rng.integers(1, 5)):
        cy, cx = rng.uniform(size=2)
        radius = rng.uniform(0.05, 0.3)
        image += rng.normal(0, 1.5, size=(3, 1, 1)) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius ** 2))
    low, high = np.percentile(image, [1, 99])
    black, white = rng.uniform(0, 60), rng.uniform(190, 255)
    return np.clip((image - low) / (high - low) * (white - black) + black, 0, 255)


def _pink_noise(count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` unit-variance fields with a natural-image-like power-law amplitude spectrum."""
    frequency = np.hypot(np.fft.fftfreq(size)[:, None], np.fft.rfftfreq(size)[None, :])
    amplitude = np.maximum(frequency, 1 / size) ** -SPECTRUM_EXPONENT
    shape = (count, size, size // 2 + 1)
    fields = np.fft.irfft2((rng.normal(size=shape) + 1j * rng.normal(size=shape)) * amplitude, s=(size, size))
    fields -= fields.mean(axis=(1, 2), keepdims=True)
    return fields / fields.std(axis=(1, 2), keepdims=True)


# ---------------------------------------------------------------- weights

def realistic_params(sym: mx.sym.Symbol, data_shape: Sequence[int], rng: np.random.Generator,
                     data_name: str = "data", branch_scale: float = RESIDUAL_BRANCH_SCALE,
                     constants: Mapping[str, mx.nd.NDArray] | None = None) -> tuple[Params, Params]:
    """Random arg and aux params for ``sym``; moving statistics start at 0 and 1 (see ``calibrate``); the last
    layer of each residual branch is scaled by ``branch_scale`` (1: plain He weights). ``constants``: args kept as
    given (a detector's anchors)."""
    arg_shapes, _, aux_shapes = sym.infer_shape(**{data_name: tuple(data_shape)})
    fixed = _fixed_gammas(sym)
    constants = constants or {}
    arg = {name: constants[name] if name in constants else mx.nd.array(_random_arg(name, shape, name in fixed, rng))
           for name, shape in zip(sym.list_arguments(), arg_shapes) if name != data_name and not _is_label(name)}
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

FULL_BRANCH_SUFFIX = "-he"  # names a model built with full-scale residual branches (plain He weights)


def build_classic(depth: int, out_dir: str, seed: int = 0, calib_size: int = 112, calib_images: int = 16,
                  full_branches: bool = False) -> str:
    """Write ``resnet-<depth>`` (epoch 0; ``resnet-<depth>-he`` with ``full_branches``) into ``out_dir``,
    calibrated for raw 0..255 input; return its prefix."""
    images = sample_images(2 * calib_images, calib_size, seed)
    return build_checkpoint(classic_resnet_symbol(depth), f"resnet-{depth}", out_dir, images, seed, full_branches)


def build_gluon(name: str, out_dir: str, seed: int = 0, calib_size: int = 112, calib_images: int = 16,
                full_branches: bool = False) -> str:
    """Write ``gluon-<name>`` (``-he`` with ``full_branches``) into ``out_dir``, calibrated for
    ImageNet-normalised input."""
    images = imagenet_normalise(sample_images(2 * calib_images, calib_size, seed))
    return build_checkpoint(gluon_symbol(name), f"gluon-{name}", out_dir, images, seed, full_branches)


def build_checkpoint(sym: mx.sym.Symbol, name: str, out_dir: str, images: np.ndarray, seed: int,
                     full_branches: bool = False) -> str:
    """Write ``sym`` as checkpoint ``name`` with realistic weights: BatchNorm calibrated on the first half of
    ``images``, the classifier fitted on the unseen second half."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    name += FULL_BRANCH_SUFFIX if full_branches else ""
    batchnorm_images, classifier_images = np.split(images, 2)
    arg, aux = realistic_params(sym, batchnorm_images.shape, rng,
                                branch_scale=1.0 if full_branches else RESIDUAL_BRANCH_SCALE)
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


# ---------------------------------------------------------------- command line

def main(argv: Sequence[str] | None = None) -> int:
    from . import zoo_detection, zoo_faces, zoo_vision  # they build on this module

    args = _parser().parse_args(argv)
    options = {"seed": args.seed, "calib_size": args.calib_size, "calib_images": args.calib_images,
               "full_branches": args.full_branches}
    suffix = FULL_BRANCH_SUFFIX if args.full_branches else ""
    jobs = [(f"resnet-{depth}{suffix}", False, functools.partial(build_classic, depth, args.out, **options))
            for depth in args.depth]
    jobs += [(f"gluon-{name}{suffix}", True, functools.partial(build_gluon, name, args.out, **options))
             for name in args.gluon]
    for name, normalised, build in jobs:
        prefix = os.path.join(args.out, name)
        if _needs_build(prefix, args.force):
            seconds = _timed(build)
            images = sample_images(args.calib_images, args.calib_size, args.seed + 1)
            _print_health(prefix, seconds, imagenet_normalise(images) if normalised else images)
        if args.legacy and _needs_build(f"{prefix}-legacy", args.force):
            seconds = _timed(functools.partial(save_legacy_checkpoint, prefix, 0, f"{prefix}-legacy"))
            print(_size_line(f"{prefix}-legacy", seconds), flush=True)
    for name in args.face:
        prefix = os.path.join(args.out, name)
        if _needs_build(prefix, args.force):
            seconds = _timed(functools.partial(zoo_faces.build_face, name, args.out, args.seed, args.calib_images))
            images = sample_images(args.calib_images, zoo_faces.INPUT_SIZES[name], args.seed + 1)
            print(f"{_size_line(prefix, seconds)}   max activation std "
                  f"{zoo_faces.largest_activation_std(prefix, images):6.2f} (fresh images)", flush=True)
    for name in args.vision:
        prefix = os.path.join(args.out, name)
        if _needs_build(prefix, args.force):
            seconds = _timed(functools.partial(zoo_vision.build_vision, name, args.out, args.seed, args.calib_images))
            side = zoo_vision.input_side(name)  # health() holds every tensor: few images at 224 and 299 pixels
            images = imagenet_normalise(sample_images(args.calib_images if side < 224 else 2, side, args.seed + 1))
            _print_health(prefix, seconds, images)
    for name in args.detection:
        prefix = os.path.join(args.out, name)
        if _needs_build(prefix, args.force):
            seconds = _timed(functools.partial(zoo_detection.build_detector, name, args.out, args.seed,
                                               args.calib_images))
            print(_size_line(prefix, seconds), flush=True)
    return 0


def _print_health(prefix: str, seconds: float, images: np.ndarray) -> None:
    """The size line of a freshly built classifier with its ``health`` on ``images``."""
    largest_std, top1 = health(*mx.model.load_checkpoint(prefix, 0), images)
    print(f"{_size_line(prefix, seconds)}   max activation std {largest_std:6.2f}"
          f"   mean top-1 prob {top1:.3f} (fresh images)", flush=True)


def _needs_build(prefix: str, force: bool) -> bool:
    """True unless both files of ``prefix`` exist and ``force`` is off (then says it skips it)."""
    if force or not all(os.path.exists(path) for path in CheckpointPaths.of(prefix, 0)):
        return True
    print(f"{os.path.basename(prefix):<24} exists, skipped (--force rebuilds)", flush=True)
    return False


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _size_line(prefix: str, seconds: float) -> str:
    size = os.path.getsize(CheckpointPaths.of(prefix, 0).params) / 2 ** 20
    return f"{os.path.basename(prefix):<24} {size:8.1f} MB {seconds:7.1f} s"


def _parser() -> argparse.ArgumentParser:
    from . import zoo_detection, zoo_faces, zoo_vision

    parser = argparse.ArgumentParser(prog="python -m mxconvert.zoo", description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, nargs="*", default=[], choices=sorted(CLASSIC_UNITS),
                        help="classic model-zoo ResNets to build (resnet-N)")
    parser.add_argument("--gluon", nargs="*", default=[], choices=GLUON_MODELS, metavar="NAME",
                        help=f"Gluon model-zoo exports to build (gluon-NAME); one of {', '.join(GLUON_MODELS)}")
    parser.add_argument("--face", nargs="*", default=[], choices=zoo_faces.FACE_MODELS, metavar="NAME",
                        help=f"face models to build (at their own input size); one of "
                             f"{', '.join(zoo_faces.FACE_MODELS)}")
    parser.add_argument("--vision", nargs="*", default=[], choices=zoo_vision.MODELS, metavar="NAME",
                        help="Gluon model-zoo networks (vision-NAME) and GluonCV classifiers (gluoncv-NAME) to build, "
                             f"at their own input size; one of {', '.join(zoo_vision.MODELS)}")
    parser.add_argument("--detection", nargs="*", default=[], choices=zoo_detection.MODELS, metavar="NAME",
                        help=f"GluonCV detectors to build (at {zoo_detection.SIDE} pixels); one of "
                             f"{', '.join(zoo_detection.MODELS)}")
    parser.add_argument("--legacy", action="store_true", help="also write an MXNet 0.x-format copy, PREFIX-legacy")
    parser.add_argument("--full-branches", action="store_true",
                        help="plain He weights: residual branches unscaled (names end in -he); MXNet's own float32 "
                             "rounding then grows with depth as in the deep-net float64 tests")
    parser.add_argument("--out", default="model_mxnet", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calib-size", type=int, default=112, help="calibration image side in pixels")
    parser.add_argument("--calib-images", type=int, default=16, help="images calibrating BatchNorm (as many again fit the classifier)")
    parser.add_argument("--force", action="store_true", help="rebuild models whose files already exist")
    return parser


if __name__ == "__main__":
    sys.exit(main())
