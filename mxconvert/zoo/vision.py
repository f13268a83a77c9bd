"""Gluon's vision model zoo and GluonCV's classifiers for the local zoo, built with real MXNet: each network
from its library with ``pretrained=False``, exported as ``HybridBlock.export`` writes it, then given realistic
weights by ``common.build_checkpoint`` (He-scaled, BatchNorm calibrated, classifier fitted) for ImageNet-normalised
input. Also a super-resolution network (``sr-espcn``). Built by ``python -m mxconvert.zoo --vision NAME ...``
(names ``vision-<model>``, ``gluoncv-<model>``, ``sr-espcn``).
"""
from __future__ import annotations

from .common import build_checkpoint, exported_symbol, imagenet_normalise, import_gluoncv, mx, sample_images

# Gluon's model zoo (mxnet.gluon.model_zoo.vision); ResNets are the zoo's own ``gluon-`` family.
GLUON_VISION = ("alexnet", "densenet121", "densenet161", "densenet169", "densenet201", "inceptionv3",
                "mobilenet0.25", "mobilenet0.5", "mobilenet0.75", "mobilenet1.0", "mobilenetv2_0.25",
                "mobilenetv2_0.5", "mobilenetv2_0.75", "mobilenetv2_1.0", "squeezenet1.0", "squeezenet1.1",
                "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn")
# GluonCV's classifiers beyond Gluon's zoo (gluoncv.model_zoo), one or two of each family, and ResNet-18 v1b
# channel-pruned to 0.89 GFLOPs (uneven channel counts; GluonCV builds it from its stored shapes, offline).
GLUONCV_CLASSIFIERS = ("resnet18_v1b", "resnet50_v1c", "resnet50_v1d", "se_resnet18_v1", "se_resnet18_v2",
                       "senet_154", "resnest14", "mobilenetv3_small", "mobilenetv3_large", "xception",
                       "residualattentionnet56", "resnet18_v1b_0.89")
# The input side each network is built and tested at: the smallest its fixed pooling windows take (the pruned
# ResNet: the side it is benchmarked at).
_FIXED_POOL_SIDES = {"densenet": 224, "squeezenet": 224, "inceptionv3": 299, "xception": 299,
                     "residualattentionnet": 224, "senet_154": 224, "espcn": 32, "resnet18_v1b_0.89": 224}
# A super-resolution network in the style of ESPCN with a transposed-convolution skip: reflect padding,
# depth_to_space (pixel shuffle) and Deconvolution, as image-restoration checkpoints use them.
SUPER_RESOLUTION = "sr-espcn"
SR_SCALE = 3
MODELS = (tuple(f"vision-{name}" for name in GLUON_VISION) + tuple(f"gluoncv-{name}" for name in GLUONCV_CLASSIFIERS)
          + (SUPER_RESOLUTION,))


def input_side(model: str) -> int:
    """The side (pixels) of the square input ``model`` (``vision-...``/``gluoncv-...``/``sr-...``) is built for."""
    name = model.split("-", 1)[1]
    return next((side for prefix, side in _FIXED_POOL_SIDES.items() if name.startswith(prefix)), 64)


def _network(model: str) -> mx.gluon.HybridBlock:
    family, name = model.split("-", 1)
    if family == "vision":
        return mx.gluon.model_zoo.vision.get_model(name, pretrained=False)
    return import_gluoncv().model_zoo.get_model(name, pretrained=False)


def superres_symbol() -> mx.sym.Symbol:
    """ESPCN-style x3 super-resolution: reflect-padded convolutions, a pixel shuffle (depth_to_space) of 27
    channels, plus the input upsampled by a learned 3x3 stride-3 Deconvolution."""
    data = mx.sym.var("data")

    def conv(x: mx.sym.Symbol, name: str, filters: int, kernel: int) -> mx.sym.Symbol:
        pad = (kernel - 1) // 2
        padded = mx.sym.Pad(x, mode="reflect", pad_width=(0, 0, 0, 0, pad, pad, pad, pad), name=f"{name}_pad")
        return mx.sym.Convolution(padded, kernel=(kernel, kernel), num_filter=filters, name=name)

    body = mx.sym.Activation(conv(data, "conv1", 32, 5), act_type="tanh", name="tanh1")
    body = mx.sym.Activation(conv(body, "conv2", 16, 3), act_type="tanh", name="tanh2")
    body = mx.sym.depth_to_space(conv(body, "conv3", 3 * SR_SCALE ** 2, 3), block_size=SR_SCALE, name="shuffle")
    skip = mx.sym.Deconvolution(data, kernel=(SR_SCALE, SR_SCALE), stride=(SR_SCALE, SR_SCALE), num_filter=3,
                                name="upsample")
    return mx.sym.elemwise_add(body, skip, name="residual")


def vision_symbol(model: str) -> mx.sym.Symbol:
    """``model``'s graph as ``HybridBlock.export`` writes it (run once at its input size, hybridized)."""
    if model == SUPER_RESOLUTION:
        return superres_symbol()
    return exported_symbol(_network(model), input_side(model))


def build_vision(model: str, out_dir: str, seed: int = 0, calib_images: int = 16) -> str:
    """Write ``model`` (epoch 0) into ``out_dir`` with realistic weights at its input size; return its prefix."""
    images = imagenet_normalise(sample_images(2 * calib_images, input_side(model), seed))
    return build_checkpoint(vision_symbol(model), model, out_dir, images, seed)
