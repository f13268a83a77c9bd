"""A spatial-transformer classifier (Jaderberg et al., as MXNet's STN example and Gluon users write it): a
localisation network (convolutions, BatchNorm, a dense layer) regresses an affine matrix per image, initialised
near the identity as STN users do (small weights, bias [1, 0, 0, 0, 1, 0]); ``SpatialTransformer`` samples the
image at a smaller target shape; a convolutional classifier reads it. Realistic weights through
``common.build_checkpoint`` (He-scaled, BatchNorm calibrated, classifier fitted)."""
from __future__ import annotations

import os
import tempfile

import numpy as np

from ..mxnet_compat import import_mxnet
from .common import build_checkpoint, sample_images

mx = import_mxnet()
nn = mx.gluon.nn

MODELS = {"stn-classifier": (32, 28)}  # name -> (input side, side of the transformed image)
IDENTITY = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], np.float32)
THETA_SPREAD = 0.1  # the affine matrices' spread around the identity on natural images


class SpatialTransformerNet(nn.HybridBlock):
    """Localisation net -> SpatialTransformer -> convolutional classifier."""

    def __init__(self, target: int, classes: int = 10) -> None:
        super().__init__(prefix="stn_")
        self.target = target
        with self.name_scope():
            self.localisation = nn.HybridSequential(prefix="loc_")
            self.localisation.add(nn.Conv2D(8, 5, strides=2), nn.BatchNorm(), nn.Activation("relu"),
                                  nn.MaxPool2D(2), nn.Conv2D(16, 3), nn.BatchNorm(), nn.Activation("relu"),
                                  nn.Flatten(), nn.Dense(32, activation="relu"))
            self.theta = nn.Dense(6, prefix="theta_")
            self.classifier = nn.HybridSequential(prefix="cls_")
            self.classifier.add(nn.Conv2D(16, 3, padding=1), nn.BatchNorm(), nn.Activation("relu"), nn.MaxPool2D(2),
                                nn.Conv2D(32, 3, padding=1), nn.BatchNorm(), nn.Activation("relu"),
                                nn.GlobalAvgPool2D(), nn.Dense(classes))

    def hybrid_forward(self, F, x):
        theta = self.theta(self.localisation(x))
        warped = F.SpatialTransformer(x, theta, target_shape=(self.target, self.target), transform_type="affine",
                                      sampler_type="bilinear")
        return self.classifier(warped)


def spatial_symbol(model: str) -> mx.sym.Symbol:
    """``model``'s graph as ``HybridBlock.export`` writes it (run once, hybridized)."""
    side, target = MODELS[model]
    net = SpatialTransformerNet(target)
    net.initialize(mx.init.Xavier(magnitude=2))
    net.hybridize()
    net(mx.nd.zeros((1, 3, side, side)))
    with tempfile.TemporaryDirectory() as tmp:
        net.export(os.path.join(tmp, "net"))
        return mx.sym.load(os.path.join(tmp, "net-symbol.json"))


def near_identity(sym: mx.sym.Symbol, side: int, seed: int) -> dict[str, mx.nd.NDArray]:
    """The affine layer's weight and bias: the identity plus a small spread."""
    arg_shapes, _, _ = sym.infer_shape(data=(1, 3, side, side))
    shape = dict(zip(sym.list_arguments(), arg_shapes))["stn_theta_weight"]
    weight = np.random.default_rng(seed).normal(0, THETA_SPREAD / np.sqrt(shape[1]), shape)
    return {"stn_theta_weight": mx.nd.array(weight), "stn_theta_bias": mx.nd.array(IDENTITY)}


def sample_inputs(model: str, batch: int, seed: int) -> np.ndarray:
    """Natural-looking images standardised over the set, (batch, 3, side, side)."""
    images = sample_images(batch, MODELS[model][0], seed)
    return ((images - images.mean()) / images.std()).astype(np.float32)


def build_spatial_model(model: str, out_dir: str, seed: int = 0, calib_images: int = 16) -> str:
    """Write ``model`` (epoch 0) into ``out_dir`` with realistic weights; return its prefix."""
    sym = spatial_symbol(model)
    constants = near_identity(sym, MODELS[model][0], seed)
    return build_checkpoint(sym, model, out_dir, sample_inputs(model, 2 * calib_images, seed), seed,
                            constants=constants)
