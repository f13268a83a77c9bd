"""The ResNets of the local zoo: MXNet's classic model-zoo symbols (``resnet-N``) and Gluon's model-zoo exports
(``gluon-resnetN_vK``), with realistic weights from ``common.build_checkpoint``. Built by
``python -m mxconvert.zoo --depth N ... --gluon NAME ...``.
"""
from __future__ import annotations

from .common import (BN_EPS, BN_MOMENTUM, CONV_WORKSPACE, build_checkpoint, exported_symbol, imagenet_normalise, mx,
                     sample_images)

CLASSIC_UNITS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
GLUON_MODELS = tuple(f"resnet{depth}_v{version}" for depth in CLASSIC_UNITS for version in (1, 2))


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


# ---------------------------------------------------------------- builders

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
