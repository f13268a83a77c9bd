"""GluonCV's SiamRPN tracker (``siamrpn_alexnet_v2_otb15``, ``pretrained=False``) exported as its users export
it: the template and search branches through one AlexNet, the depthwise cross-correlation whose convolution
weight is the template branch's features, and the classification and box heads. Weights He-scaled, every
BatchNorm's moving statistics set to its batch statistics on natural-looking images (one training-mode pass with
momentum 0). ``python -m mxconvert.zoo.tracking``."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from .named import build_by_name

MODELS = ("siamrpn_alexnet_v2_otb15",)
TEMPLATE, SEARCH = 127, 287  # input sides the exported graph is fixed to (the tracker's crops)


def sample_inputs(seed: int = 0) -> dict[str, np.ndarray]:
    """The template and search crops (data0, data1), ImageNet-normalised natural-looking images."""
    from .common import imagenet_normalise, sample_images

    return {"data0": imagenet_normalise(sample_images(1, TEMPLATE, seed)),
            "data1": imagenet_normalise(sample_images(1, SEARCH, seed + 1))}


def build_tracker(name: str, out_dir: str, seed: int = 0) -> str:
    """Export ``name`` to ``out_dir/NAME`` (epoch 0); returns the prefix."""
    from .common import atomic_checkpoint, import_gluoncv, mx

    net = import_gluoncv().model_zoo.get_model(name, pretrained=False)
    net.initialize(mx.init.Xavier(magnitude=2), force_reinit=True)
    batchnorms = [block for block in _blocks(net) if isinstance(block, mx.gluon.nn.BatchNorm)]
    for block in batchnorms:
        block._kwargs["momentum"] = 0.0
    inputs = [mx.nd.array(value) for value in sample_inputs(seed).values()]
    with mx.autograd.record(train_mode=True):
        net(*inputs)
    for block in batchnorms:
        block._kwargs["momentum"] = 0.9
    net.hybridize()
    net(*inputs)
    prefix = os.path.join(out_dir, name)
    with atomic_checkpoint(prefix, 0) as tmp_prefix:
        net.export(tmp_prefix)
    return prefix


def _blocks(block):
    yield block
    for child in block._children.values():
        yield from _blocks(child)


def main(argv: Sequence[str] | None = None) -> int:
    return build_by_name("python -m mxconvert.zoo.tracking", __doc__.split("\n")[0], MODELS, build_tracker, argv)


if __name__ == "__main__":
    raise SystemExit(main())
