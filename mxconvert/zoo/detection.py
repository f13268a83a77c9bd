"""GluonCV's detectors for the local zoo, built with real MXNet: SSD, YOLOv3, CenterNet, Faster and Mask R-CNN
from ``gluoncv.model_zoo`` (``pretrained=False, pretrained_base=False``), exported as ``HybridBlock.export``
writes them at a small input side, with realistic weights (He-scaled, BatchNorm calibrated on natural-looking
images by ``common.realistic_params`` and ``common.calibrate``, prediction layers scaled to small outputs by
``calibrate_heads``; anchors and other constants kept as exported) for ImageNet-normalised input. Built by
``python -m mxconvert.zoo --detection NAME ...`` (names ``det-<model>``).
"""
from __future__ import annotations

import json
import os
import zlib

import numpy as np

from .common import (Params, atomic_checkpoint, calibrate, exported_checkpoint, forward, imagenet_normalise,
                     import_gluoncv, mx, realistic_params, sample_images)

DETECTORS = ("ssd_512_mobilenet1.0_voc", "ssd_300_vgg16_atrous_voc", "yolo3_mobilenet1.0_voc", "yolo3_darknet53_voc",
             "center_net_resnet18_v1b_voc", "faster_rcnn_resnet50_v1b_voc", "mask_rcnn_resnet18_v1b_coco")
MODELS = tuple(f"det-{name}" for name in DETECTORS)
SIDE = 128  # pixels: small, so that tests stay fast; each detector sizes its anchors and maps from it
SIDES = {"det-ssd_300_vgg16_atrous_voc": 300,  # its last extra layers take 3 x 3 and 1 x 1 maps, as at 300
         "det-mask_rcnn_resnet18_v1b_coco": 160}  # its RPN keeps 1000 anchors a level before suppression
_LEARNED = ("weight", "bias", "gamma", "beta")  # what realistic_params draws; other args are constants
HEAD_STD = 0.5  # of a prediction layer's outputs: small class logits and box offsets, as a trained detector gives
_LEARNED_OPS = {"Convolution", "Deconvolution", "FullyConnected", "BatchNorm"}
_POOLS_REGIONS = {"_contrib_ROIAlign", "ROIPooling"}  # their boxes (input 1) select features, carry none


def batch_size(model: str) -> int | None:
    """The batch size ``model``'s exported graph is fixed to (Faster and Mask R-CNN reshape their proposals per
    image), or None where it takes any."""
    return 1 if "rcnn" in model else None


def input_side(model: str) -> int:
    """The input side ``model`` is built and tested at."""
    return SIDES.get(model, SIDE)


def detector_checkpoint(model: str, side: int | None = None) -> tuple[mx.sym.Symbol, Params, Params]:
    """``model``'s (``det-<name>``) symbol and params as ``HybridBlock.export`` writes them, run once at ``side``
    (``input_side``). Initialised uniformly: some GluonCV blocks give vectors initialisers that Xavier refuses."""
    net = import_gluoncv().model_zoo.get_model(model.removeprefix("det-"), pretrained=False, pretrained_base=False)
    return exported_checkpoint(net, side or input_side(model), mx.init.Uniform(0.07))


def build_detector(model: str, out_dir: str, seed: int = 0, calib_images: int = 8, side: int | None = None) -> str:
    """Write ``model`` (epoch 0) into ``out_dir`` with realistic weights for ``side`` x ``side`` input
    (``input_side``), BatchNorm calibrated and the prediction layers scaled (``calibrate_heads``) on
    ``calib_images`` images (one where the graph takes one at a time); return its prefix."""
    side = side or input_side(model)
    sym, exported, _ = detector_checkpoint(model, side)
    rng = np.random.default_rng([seed, zlib.crc32(model.encode())])
    images = imagenet_normalise(sample_images(batch_size(model) or calib_images, side, seed))
    constants = {name: value for name, value in exported.items() if not name.endswith(_LEARNED)}
    arg, aux = realistic_params(sym, images.shape, rng, constants=constants)
    aux = calibrate(sym, arg, aux, images)
    arg.update(calibrate_heads(sym, arg, aux, images))
    prefix = os.path.join(out_dir, model)
    with atomic_checkpoint(prefix, 0) as tmp_prefix:
        mx.model.save_checkpoint(tmp_prefix, 0, sym, arg, aux)
    return prefix


def calibrate_heads(sym: mx.sym.Symbol, arg_params: Params, aux_params: Params, images: np.ndarray,
                    target_std: float = HEAD_STD) -> Params:
    """New weights and biases for the prediction layers (convolutions and fully connected layers whose outputs
    reach no learned layer, other than as the regions a ROIAlign pools: R-CNN's proposals and boxes), scaled so that their outputs on ``images`` have a standard deviation of ``target_std``.
    Random weights elsewhere give these layers outputs of any scale: without BatchNorm (SSD's VGG) every score
    saturates at 1 and the exponentiated box offsets reach 1e12."""
    nodes = json.loads(sym.tojson())["nodes"]
    followed = [False] * len(nodes)  # a learned layer lies downstream, on a path that carries features
    for index in reversed(range(len(nodes))):  # nodes are in topological order: consumers come later
        node = nodes[index]
        feature_inputs = node["inputs"][:1] if node["op"] in _POOLS_REGIONS else node["inputs"]
        for source, *_ in feature_inputs:
            followed[source] |= followed[index] or node["op"] in _LEARNED_OPS
    heads = [node for node, after in zip(nodes, followed)
             if node["op"] in ("Convolution", "FullyConnected") and not after]
    internals = sym.get_internals()
    names = internals.list_outputs()
    taps = mx.sym.Group([internals[names.index(f"{node['name']}_output")] for node in heads])
    outputs = forward(taps, arg_params, aux_params, {"data": images})
    scaled = {}
    for node, output in zip(heads, outputs):
        factor = target_std / max(float(output.astype(np.float64).std()), 1e-12)
        for source, *_ in node["inputs"][1:]:
            name = nodes[source]["name"]
            scaled[name] = arg_params[name] * factor
    return scaled
