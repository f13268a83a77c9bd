"""GluonCV's detectors for the local zoo, built with real MXNet: SSD, YOLOv3, CenterNet and Faster R-CNN from
``gluoncv.model_zoo`` (``pretrained=False, pretrained_base=False``), exported as ``HybridBlock.export`` writes
them at a small input side, with realistic weights (He-scaled, BatchNorm calibrated on natural-looking images by
``common.realistic_params`` and ``common.calibrate``; anchors and other constants kept as exported) for
ImageNet-normalised input. Built by ``python -m mxconvert.zoo --detection NAME ...`` (names ``det-<model>``).
"""
from __future__ import annotations

import os
import zlib

import numpy as np

from .common import (Params, atomic_checkpoint, calibrate, exported_checkpoint, imagenet_normalise, import_gluoncv, mx,
                     realistic_params, sample_images)

DETECTORS = ("ssd_512_mobilenet1.0_voc", "yolo3_mobilenet1.0_voc", "center_net_resnet18_v1b_voc",
             "faster_rcnn_resnet50_v1b_voc")
MODELS = tuple(f"det-{name}" for name in DETECTORS)
SIDE = 128  # pixels: small, so that tests stay fast; each detector sizes its anchors and maps from it
_LEARNED = ("weight", "bias", "gamma", "beta")  # what realistic_params draws; other args are constants


def batch_size(model: str) -> int | None:
    """The batch size ``model``'s exported graph is fixed to (Faster and Mask R-CNN reshape their proposals per
    image), or None where it takes any."""
    return 1 if "rcnn" in model else None


def detector_checkpoint(model: str, side: int = SIDE) -> tuple[mx.sym.Symbol, Params, Params]:
    """``model``'s (``det-<name>``) symbol and params as ``HybridBlock.export`` writes them, run once at ``side``.
    Initialised uniformly: some GluonCV blocks give vectors initialisers that Xavier refuses."""
    net = import_gluoncv().model_zoo.get_model(model.removeprefix("det-"), pretrained=False, pretrained_base=False)
    return exported_checkpoint(net, side, mx.init.Uniform(0.07))


def build_detector(model: str, out_dir: str, seed: int = 0, calib_images: int = 8, side: int = SIDE) -> str:
    """Write ``model`` (epoch 0) into ``out_dir`` with realistic weights for ``side`` x ``side`` input, BatchNorm
    calibrated on ``calib_images`` images (one where the graph takes one at a time); return its prefix."""
    sym, exported, _ = detector_checkpoint(model, side)
    rng = np.random.default_rng([seed, zlib.crc32(model.encode())])
    images = imagenet_normalise(sample_images(batch_size(model) or calib_images, side, seed))
    constants = {name: value for name, value in exported.items() if not name.endswith(_LEARNED)}
    arg, aux = realistic_params(sym, images.shape, rng, constants=constants)
    aux = calibrate(sym, arg, aux, images)
    prefix = os.path.join(out_dir, model)
    with atomic_checkpoint(prefix, 0) as tmp_prefix:
        mx.model.save_checkpoint(tmp_prefix, 0, sym, arg, aux)
    return prefix
