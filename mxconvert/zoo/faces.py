"""Face models for the local zoo, built with real MXNet: InsightFace ArcFace LResNet-IR recognisers, a
RetinaFace-style detector on a ResNet-50 v2 backbone and an MTCNN-style cascade (P-Net, R-Net, O-Net).

The graphs follow the layouts (node names, ops, attributes) of the released MXNet models; weights come from
``common.realistic_params`` with PReLU slopes like trained ones, BatchNorm statistics calibrated with
``common.calibrate``. Built by ``python -m mxconvert.zoo --face NAME ...``.
"""
from __future__ import annotations

import json
import os
import zlib
from typing import Callable

import numpy as np

from .common import (BN_EPS, BN_MOMENTUM, CONV_WORKSPACE, Params, atomic_checkpoint, calibrate, forward, mx,
                     realistic_params, sample_images)
from .resnet import classic_resnet_symbol

ARCFACE_UNITS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 14, 3), 100: (3, 13, 30, 3)}
ARCFACE_FILTERS = (64, 64, 128, 256, 512)
EMBEDDING_SIZE = 512
ARCFACE_DROPOUT = 0.4
# InsightFace normalises inside the graph: (x - 127.5) * 0.0078125
PIXEL_MEAN, PIXEL_SCALE = 127.5, 0.0078125
FPN_FILTERS = 256
RETINAFACE_ANCHORS = 2
RETINAFACE_STRIDES = (32, 16, 8)
# The backbone's last feature at each stride (pre-activation ResNet: the ReLU that starts the next stage).
RETINAFACE_TAPS = {32: "relu1", 16: "stage4_unit1_relu1", 8: "stage3_unit1_relu1"}
PRELU_SLOPE = 0.25
# Canonical input side (pixels) each model is calibrated at; R-Net and O-Net take exactly this size.
INPUT_SIZES = {**{f"arcface-r{depth}": 112 for depth in ARCFACE_UNITS}, "retinaface-r50": 128,
               "mtcnn-pnet": 12, "mtcnn-rnet": 24, "mtcnn-onet": 48}
FACE_MODELS = tuple(INPUT_SIZES)
LAYER_OPS = ("Convolution", "BatchNorm", "LeakyReLU", "Activation", "FullyConnected")


# ---------------------------------------------------------------- ArcFace

def arcface_symbol(depth: int, dropout: float = ARCFACE_DROPOUT) -> mx.sym.Symbol:
    """InsightFace's LResNet<depth>E-IR (fresnet.py, unit v3, input v1, output "E"): a 512-d embedding."""
    if depth not in ARCFACE_UNITS:
        raise ValueError(f"depth must be one of {sorted(ARCFACE_UNITS)}, not {depth}")
    with mx.name.NameManager():
        body = _normalised_input(mx.sym.identity(data=mx.sym.Variable("data"), name="id"))
        body = _prelu(_bn(_conv(body, "conv0", ARCFACE_FILTERS[0], 3, 1, 1), "bn0"), "relu0")
        for stage, (units, width) in enumerate(zip(ARCFACE_UNITS[depth], ARCFACE_FILTERS[1:]), start=1):
            for unit in range(1, units + 1):
                body = _ir_unit(body, f"stage{stage}_unit{unit}", width, 2 if unit == 1 else 1, unit > 1)
        body = mx.sym.Dropout(data=_bn(body, "bn1"), p=dropout)
        body = mx.sym.FullyConnected(data=body, num_hidden=EMBEDDING_SIZE, name="pre_fc1")
        return _bn(body, "fc1", fix_gamma=True)


def _ir_unit(data: mx.sym.Symbol, name: str, num_filter: int, stride: int, dim_match: bool) -> mx.sym.Symbol:
    """BN -> conv3x3 -> BN -> PReLU -> conv3x3/stride -> BN, plus the identity or a conv1x1+BN shortcut."""
    body = _conv(_bn(data, f"{name}_bn1"), f"{name}_conv1", num_filter, 3, 1, 1)
    body = _prelu(_bn(body, f"{name}_bn2"), f"{name}_relu1")
    body = _bn(_conv(body, f"{name}_conv2", num_filter, 3, stride, 1), f"{name}_bn3")
    shortcut = data if dim_match else _bn(_conv(data, f"{name}_conv1sc", num_filter, 1, stride), f"{name}_sc")
    return body + shortcut


# ---------------------------------------------------------------- RetinaFace

def retinaface_symbol() -> mx.sym.Symbol:
    """RetinaFace-R50 as released: MXNet's ResNet-50 v2, an FPN (nearest 2x upsampling cropped to the lateral
    feature), SSH context modules and per-stride heads; outputs (class probabilities, boxes, landmarks) for
    strides 32, 16 and 8."""
    backbone = classic_resnet_symbol(50).get_internals()
    with mx.name.NameManager():
        lateral = {stride: _conv_bn(backbone[f"{tap}_output"], f"ssh_c{level}_lateral", FPN_FILTERS, 1, "relu")
                   for level, (stride, tap) in zip((3, 2, 1), RETINAFACE_TAPS.items())}
        features = {32: lateral[32]}
        for crop, (level, stride) in enumerate(((2, 16), (1, 8))):
            up = mx.sym.UpSampling(features[2 * stride], scale=2, sample_type="nearest", workspace=512,
                                   num_args=1, name=f"ssh_c{level + 1}_up")
            up = mx.sym.Crop(up, lateral[stride], num_args=2, name=f"crop{crop}")
            # named: the backbone's own NameManager already used the automatic _plus names
            aggr = mx.sym.elemwise_add(lateral[stride], up, name=f"ssh_c{level}_plus")
            features[stride] = _conv_bn(aggr, f"ssh_c{level}_aggr", FPN_FILTERS, 3, "relu")
        outputs = []
        for level, stride in zip((3, 2, 1), RETINAFACE_STRIDES):
            head = _ssh_detection(features[stride], f"ssh_m{level}_det")
            outputs += _retinaface_head(head, stride)
        return mx.sym.Group(outputs)


def _ssh_detection(data: mx.sym.Symbol, name: str) -> mx.sym.Symbol:
    """SSH detection module: a 3x3 branch and two context branches (5x5- and 7x7-like), concatenated."""
    conv3x3 = _conv_bn(data, f"{name}_conv1", FPN_FILTERS // 2, 3, "")
    context = _conv_bn(data, f"{name}_context_conv1", FPN_FILTERS // 4, 3, "relu")
    conv5x5 = _conv_bn(context, f"{name}_context_conv2", FPN_FILTERS // 4, 3, "")
    conv7x7 = _conv_bn(_conv_bn(context, f"{name}_context_conv3_1", FPN_FILTERS // 4, 3, "relu"),
                       f"{name}_context_conv3_2", FPN_FILTERS // 4, 3, "")
    body = mx.sym.concat(conv3x3, conv5x5, conv7x7, dim=1, name=f"{name}_concat")
    return mx.sym.Activation(data=body, act_type="relu", name=f"{name}_concat_relu")


def _retinaface_head(data: mx.sym.Symbol, stride: int) -> list[mx.sym.Symbol]:
    """Deploy-form outputs of one stride: 2-way softmax per anchor over the channel axis, boxes, landmarks."""
    def conv(name: str, channels: int) -> mx.sym.Symbol:
        return mx.sym.Convolution(data=data, num_filter=channels, kernel=(1, 1), name=f"face_rpn_{name}_stride{stride}")

    score = mx.sym.Reshape(conv("cls_score", 2 * RETINAFACE_ANCHORS), shape=(0, 2, -1, 0),
                           name=f"face_rpn_cls_score_reshape_stride{stride}")
    prob = mx.sym.SoftmaxActivation(score, mode="channel", name=f"face_rpn_cls_prob_stride{stride}")
    prob = mx.sym.Reshape(prob, shape=(0, 2 * RETINAFACE_ANCHORS, -1, 0),
                          name=f"face_rpn_cls_prob_reshape_stride{stride}")
    return [prob, conv("bbox_pred", 4 * RETINAFACE_ANCHORS), conv("landmark_pred", 10 * RETINAFACE_ANCHORS)]


def _conv_bn(data: mx.sym.Symbol, name: str, num_filter: int, kernel: int, act_type: str) -> mx.sym.Symbol:
    """RetinaFace's conv_act_layer: convolution with bias, BatchNorm ``<name>_bn``, optional activation."""
    body = mx.sym.Convolution(data=data, num_filter=num_filter, kernel=(kernel, kernel),
                              pad=((kernel - 1) // 2,) * 2, name=name)
    body = _bn(body, f"{name}_bn")
    return mx.sym.Activation(data=body, act_type=act_type, name=f"{name}_{act_type}") if act_type else body


# ---------------------------------------------------------------- MTCNN

def mtcnn_symbol(stage: str) -> mx.sym.Symbol:
    """MTCNN's P-Net (fully convolutional), R-Net (24x24) or O-Net (48x48) with a BGR-to-RGB swap
    (SliceChannel + Concat) and InsightFace's normalisation in front; max pooling uses the "full" convention."""
    with mx.name.NameManager():
        return _mtcnn_symbol(stage)


def _mtcnn_symbol(stage: str) -> mx.sym.Symbol:
    data = mx.sym.SliceChannel(mx.sym.Variable("data"), num_outputs=3, axis=1, name="slice_bgr")
    body = _normalised_input(mx.sym.Concat(data[2], data[1], data[0], dim=1, name="rgb"))
    if stage == "pnet":
        body = _mtcnn_conv(body, 1, 10, 3, pool=(2, 2))
        body = _mtcnn_conv(_mtcnn_conv(body, 2, 16, 3), 3, 32, 3)
        prob = mx.sym.Convolution(data=body, num_filter=2, kernel=(1, 1), name="conv4_1")
        box = mx.sym.Convolution(data=body, num_filter=4, kernel=(1, 1), name="conv4_2")
        return mx.sym.Group([mx.sym.SoftmaxActivation(prob, mode="channel", name="prob1"), box])
    if stage == "rnet":
        body = _mtcnn_conv(_mtcnn_conv(body, 1, 28, 3, pool=(3, 2)), 2, 48, 3, pool=(3, 2))
        body = _mtcnn_fc(_mtcnn_conv(body, 3, 64, 2), "conv4", "prelu4", 128)
        heads = {"conv5_1": 2, "conv5_2": 4}
    elif stage == "onet":
        body = _mtcnn_conv(_mtcnn_conv(body, 1, 32, 3, pool=(3, 2)), 2, 64, 3, pool=(3, 2))
        body = _mtcnn_conv(_mtcnn_conv(body, 3, 64, 3, pool=(2, 2)), 4, 128, 2)
        body = _mtcnn_fc(body, "conv5", "prelu5", 256)
        heads = {"conv6_1": 2, "conv6_2": 4, "conv6_3": 10}
    else:
        raise ValueError(f"stage must be pnet, rnet or onet, not {stage!r}")
    scores, *regressions = (mx.sym.FullyConnected(data=body, num_hidden=size, name=name)
                            for name, size in heads.items())
    return mx.sym.Group([mx.sym.SoftmaxActivation(scores, name="prob1"), *regressions])


def _mtcnn_conv(data: mx.sym.Symbol, index: int, num_filter: int, kernel: int,
                pool: tuple[int, int] | None = None) -> mx.sym.Symbol:
    """conv<index> -> prelu<index>, then a "full"-convention max pool<index> of (kernel, stride) if given."""
    body = mx.sym.Convolution(data=data, num_filter=num_filter, kernel=(kernel, kernel), name=f"conv{index}")
    body = _prelu(body, f"prelu{index}")
    if pool is None:
        return body
    return mx.sym.Pooling(data=body, kernel=(pool[0],) * 2, stride=(pool[1],) * 2, pool_type="max",
                          pooling_convention="full", name=f"pool{index}")


def _mtcnn_fc(data: mx.sym.Symbol, name: str, act_name: str, num_hidden: int) -> mx.sym.Symbol:
    return _prelu(mx.sym.FullyConnected(data=data, num_hidden=num_hidden, name=name), act_name)


# ---------------------------------------------------------------- shared pieces

def _normalised_input(data: mx.sym.Symbol) -> mx.sym.Symbol:
    return (data - PIXEL_MEAN) * PIXEL_SCALE


def _bn(data: mx.sym.Symbol, name: str, fix_gamma: bool = False) -> mx.sym.Symbol:
    return mx.sym.BatchNorm(data=data, fix_gamma=fix_gamma, eps=BN_EPS, momentum=BN_MOMENTUM, name=name)


def _prelu(data: mx.sym.Symbol, name: str) -> mx.sym.Symbol:
    return mx.sym.LeakyReLU(data=data, act_type="prelu", name=name)


def _conv(data: mx.sym.Symbol, name: str, num_filter: int, kernel: int, stride: int,
          pad: int = 0) -> mx.sym.Symbol:
    return mx.sym.Convolution(data=data, num_filter=num_filter, kernel=(kernel, kernel), stride=(stride, stride),
                              pad=(pad, pad), no_bias=True, workspace=CONV_WORKSPACE, name=name)


# ---------------------------------------------------------------- builders

def face_symbol(name: str, dropout: float = ARCFACE_DROPOUT) -> mx.sym.Symbol:
    """The symbol of zoo face model ``name`` (one of ``FACE_MODELS``)."""
    builders: dict[str, Callable[[], mx.sym.Symbol]] = {
        **{f"arcface-r{depth}": lambda depth=depth: arcface_symbol(depth, dropout) for depth in ARCFACE_UNITS},
        "retinaface-r50": retinaface_symbol,
        **{f"mtcnn-{stage}": lambda stage=stage: mtcnn_symbol(stage) for stage in ("pnet", "rnet", "onet")},
    }
    if name not in builders:
        raise ValueError(f"name must be one of {FACE_MODELS}, not {name!r}")
    return builders[name]()


def build_face(name: str, out_dir: str, seed: int = 0, calib_images: int = 16) -> str:
    """Write face model ``name`` (epoch 0) into ``out_dir``, calibrated for raw 0..255 input at its
    canonical size; return its prefix."""
    sym = face_symbol(name)
    images = sample_images(calib_images, INPUT_SIZES[name], seed)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    arg, aux = realistic_params(sym, images.shape, rng)
    arg.update(_prelu_slopes(sym, arg, rng))
    if any(node["op"] == "BatchNorm" for node in json.loads(sym.tojson())["nodes"]):
        # Dropout is active in training mode; calibrating without it gives the inference-mode statistics.
        aux = calibrate(face_symbol(name, dropout=0.0), arg, aux, images)
    prefix = os.path.join(out_dir, name)
    with atomic_checkpoint(prefix, 0) as tmp_prefix:
        mx.model.save_checkpoint(tmp_prefix, 0, sym, arg, aux)
    return prefix


def _prelu_slopes(sym: mx.sym.Symbol, arg: Params, rng: np.random.Generator) -> Params:
    """PReLU slopes spread around 0.25, as trained ones are (``realistic_params`` treats them as gammas)."""
    nodes = json.loads(sym.tojson())["nodes"]
    names = [nodes[node["inputs"][1][0]]["name"] for node in nodes
             if node["op"] == "LeakyReLU" and node.get("attrs", {}).get("act_type") == "prelu"]
    return {name: mx.nd.array(PRELU_SLOPE + 0.1 * rng.standard_normal(arg[name].shape)) for name in names}


def largest_activation_std(prefix: str, images: np.ndarray) -> float:
    """The largest standard deviation of any layer output (convolution, BatchNorm, activation, fully
    connected) on ``images``: of order 1 in a healthy network."""
    sym, arg, aux = mx.model.load_checkpoint(prefix, 0)
    layers = [f"{node['name']}_output" for node in json.loads(sym.tojson())["nodes"] if node["op"] in LAYER_OPS]
    taps = mx.sym.Group([sym.get_internals()[name] for name in layers])
    return max(float(value.std()) for value in forward(taps, arg, aux, {"data": images}))
