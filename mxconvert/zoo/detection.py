"""GluonCV's detectors for the local zoo, built with real MXNet: SSD, YOLOv3, CenterNet, Faster and Mask R-CNN
from ``gluoncv.model_zoo`` (``pretrained=False, pretrained_base=False``), exported as ``HybridBlock.export``
writes them at a small input side, with realistic weights (He-scaled, BatchNorm calibrated on natural-looking
images by ``common.realistic_params`` and ``common.calibrate``, prediction layers scaled to small outputs by
``calibrate_heads``; anchors and other constants kept as exported) for ImageNet-normalised input. Built by
``python -m mxconvert.zoo --detection NAME ...`` (names ``det-<model>``).

Also a Deformable-ConvNets-style R-FCN head written with the symbol API as that repository writes it
(``rfcn_symbol``, ``build_rfcn``): a small backbone, a deformable convolution, position-sensitive score maps
pooled by DeformablePSROIPooling with offsets from their own pooled branch, on rois given as a second input.
"""
from __future__ import annotations

import json
import os
import zlib

import numpy as np

from .common import (Params, atomic_checkpoint, calibrate, exported_checkpoint, forward, imagenet_normalise,
                     import_gluoncv, mx, realistic_params, sample_images)

DETECTORS = ("ssd_512_mobilenet1.0_voc", "ssd_300_vgg16_atrous_voc", "yolo3_mobilenet1.0_voc", "yolo3_darknet53_voc",
             "center_net_resnet18_v1b_voc", "center_net_resnet18_v1b_dcnv2_voc", "faster_rcnn_resnet50_v1b_voc",
             "mask_rcnn_resnet18_v1b_coco")
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
    return _calibrated_checkpoint(sym, arg, aux, images, os.path.join(out_dir, model))


def _calibrated_checkpoint(sym: mx.sym.Symbol, arg: Params, aux: Params, images: np.ndarray, prefix: str) -> str:
    """Write ``sym`` at ``prefix`` (epoch 0), its BatchNorm calibrated and its prediction layers scaled
    (``calibrate_heads``) on ``images``; return the prefix."""
    aux = calibrate(sym, arg, aux, images)
    arg.update(calibrate_heads(sym, arg, aux, images))
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


RFCN = "rfcn-dcn"
RFCN_CLASSES = 3  # background and two classes
RFCN_POOLED = 7  # bins a side, as Deformable-ConvNets pools them
RFCN_STRIDE = 16
DCN_OFFSET_SCALE = 0.1  # of the deformable convolution's offset layer's He weights: offsets of about a pixel


def rfcn_symbol(num_classes: int = RFCN_CLASSES) -> mx.sym.Symbol:
    """Deformable-ConvNets' R-FCN test head (class-aware cls offsets, class-agnostic boxes) over a backbone of four
    stride-2 convolutions and one deformable (4 offset groups, dilation 2), as that repository's symbols write
    them: inputs ``data`` and ``rois`` (rois, 5) [image, x1, y1, x2, y2]; outputs the class probabilities and box
    deltas of every roi, (1, rois, classes) and (1, rois, 8)."""
    sym = mx.sym
    rois = sym.var("rois")
    body = sym.var("data")
    for i, filters in enumerate((16, 32, 48, 64), 1):
        body = sym.Convolution(body, kernel=(3, 3), stride=(2, 2), pad=(1, 1), num_filter=filters, no_bias=True,
                               name=f"conv{i}")
        body = sym.BatchNorm(body, use_global_stats=True, fix_gamma=False, eps=1e-5, name=f"bn{i}")
        body = sym.Activation(body, act_type="relu", name=f"conv{i}_relu")
    offset = sym.Convolution(body, kernel=(3, 3), pad=(2, 2), dilate=(2, 2), num_filter=72, cudnn_off=True,
                             name="res5a_branch2b_offset")
    body = sym.contrib.DeformableConvolution(body, offset, kernel=(3, 3), pad=(2, 2), dilate=(2, 2), num_filter=64,
                                             num_deformable_group=4, no_bias=True, name="res5a_branch2b")
    body = sym.BatchNorm(body, use_global_stats=True, fix_gamma=False, eps=1e-5, name="bn5a_branch2b")
    body = sym.Activation(body, act_type="relu", name="res5a_branch2b_relu")
    relu_new_1 = sym.Activation(sym.Convolution(body, kernel=(1, 1), num_filter=64, name="conv_new_1"),
                                act_type="relu", name="conv_new_1_relu")
    bins = RFCN_POOLED * RFCN_POOLED
    rfcn_cls = sym.Convolution(relu_new_1, kernel=(1, 1), num_filter=bins * num_classes, name="rfcn_cls")
    rfcn_bbox = sym.Convolution(relu_new_1, kernel=(1, 1), num_filter=bins * 4 * 2, name="rfcn_bbox")
    rfcn_cls_offset_t = sym.Convolution(relu_new_1, kernel=(1, 1), num_filter=2 * bins * num_classes,
                                        name="rfcn_cls_offset_t")
    rfcn_bbox_offset_t = sym.Convolution(relu_new_1, kernel=(1, 1), num_filter=bins * 2, name="rfcn_bbox_offset_t")
    pooling = dict(rois=rois, group_size=RFCN_POOLED, pooled_size=RFCN_POOLED, sample_per_part=4,
                   part_size=RFCN_POOLED, spatial_scale=1.0 / RFCN_STRIDE)
    rfcn_cls_offset = sym.contrib.DeformablePSROIPooling(data=rfcn_cls_offset_t, no_trans=True,
                                                         output_dim=2 * num_classes, name="rfcn_cls_offset", **pooling)
    rfcn_bbox_offset = sym.contrib.DeformablePSROIPooling(data=rfcn_bbox_offset_t, no_trans=True, output_dim=2,
                                                          name="rfcn_bbox_offset", **pooling)
    psroipooled_cls_rois = sym.contrib.DeformablePSROIPooling(data=rfcn_cls, trans=rfcn_cls_offset, trans_std=0.1,
                                                              output_dim=num_classes, name="psroipooled_cls_rois",
                                                              **pooling)
    psroipooled_loc_rois = sym.contrib.DeformablePSROIPooling(data=rfcn_bbox, trans=rfcn_bbox_offset, trans_std=0.1,
                                                              output_dim=8, name="psroipooled_loc_rois", **pooling)
    cls_score = sym.Pooling(psroipooled_cls_rois, pool_type="avg", global_pool=True, kernel=(RFCN_POOLED,) * 2,
                            name="ave_cls_scors_rois")
    bbox_pred = sym.Pooling(psroipooled_loc_rois, pool_type="avg", global_pool=True, kernel=(RFCN_POOLED,) * 2,
                            name="ave_bbox_pred_rois")
    cls_score = sym.Reshape(cls_score, shape=(-1, num_classes), name="cls_score_reshape")
    bbox_pred = sym.Reshape(bbox_pred, shape=(-1, 8), name="bbox_pred_reshape")
    cls_prob = sym.SoftmaxActivation(cls_score, name="cls_prob")
    return sym.Group([sym.Reshape(cls_prob, shape=(1, -1, num_classes), name="cls_prob_reshape"),
                      sym.Reshape(bbox_pred, shape=(1, -1, 8), name="bbox_pred_reshape_test")])


def rfcn_rois(batch: int, count: int, side: int, seed: int) -> np.ndarray:
    """``count`` region proposals [image, x1, y1, x2, y2] over ``batch`` images of ``side`` pixels: 8 pixels to
    the whole image a side, some hanging past its edges."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(8, side, (count, 2))
    corner = rng.uniform(-side / 8, side - size / 2)
    image = rng.integers(0, batch, (count, 1))
    return np.concatenate([image, corner, corner + size], axis=1).astype(np.float32)


def build_rfcn(out_dir: str, seed: int = 0, side: int = SIDE, calib_images: int = 8) -> str:
    """Write the R-FCN (``rfcn_symbol``, epoch 0) into ``out_dir`` with realistic weights: He weights, BatchNorm
    calibrated on ``calib_images`` images of ``side`` pixels, the score map and offset layers scaled to small
    outputs (``calibrate_heads``), the deformable convolution's offsets to about a pixel; return its prefix."""
    sym = rfcn_symbol()
    rng = np.random.default_rng([seed, zlib.crc32(RFCN.encode())])
    images = imagenet_normalise(sample_images(calib_images, side, seed))
    arg, aux = realistic_params(sym, images.shape, rng, other_inputs={"rois": (16, 5)})
    for name in ("res5a_branch2b_offset_weight", "res5a_branch2b_offset_bias"):
        arg[name] = arg[name] * DCN_OFFSET_SCALE
    return _calibrated_checkpoint(sym, arg, aux, images, os.path.join(out_dir, RFCN))
