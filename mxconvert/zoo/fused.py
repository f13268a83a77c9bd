"""Models fused for MXNet's CPU backend the way its users deployed them: a Gluon network with realistic weights,
``net.optimize_for(x, backend='MKLDNN')``, ``export``. The export holds ``_sg_mkldnn_conv`` (Convolution with its
BatchNorm, activation and residual sum), ``_sg_mkldnn_fully_connected`` and, for BERT,
``_sg_mkldnn_selfatt_qk``/``_sg_mkldnn_selfatt_valatt``, each with its subgraph.

``python -m mxconvert.zoo.fused [NAME ...] --out DIR``.
"""
from __future__ import annotations

import os
import zlib
from typing import Callable, Sequence

import numpy as np

from . import nlp
from .common import (atomic_checkpoint, calibrate, exported_checkpoint, imagenet_normalise, mx, realistic_params,
                     sample_images)
from .named import build_by_name

SIDE = 32  # image side of the vision models (small: the fusion does not depend on it)
MLP_FEATURES = 20


def _vision(name: str) -> Callable[[int], "mx.gluon.HybridBlock"]:
    def build(seed: int) -> "mx.gluon.HybridBlock":
        from mxnet.gluon.model_zoo import vision

        net = vision.get_model(name, classes=10)
        sym, _, _ = exported_checkpoint(net, SIDE, mx.init.Xavier(magnitude=2))
        images = imagenet_normalise(sample_images(8, SIDE, seed))
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        arg, aux = realistic_params(sym, images.shape, rng)
        aux = calibrate(sym, arg, aux, images)
        params = net.collect_params()
        for key, value in {**arg, **aux}.items():
            params[key].set_data(value)
        return net
    return build


def _mlp(seed: int) -> "mx.gluon.HybridBlock":
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Dense(64, activation="relu"), mx.gluon.nn.Dense(32, activation="tanh"),
            mx.gluon.nn.Dense(10))
    net.initialize(mx.init.Xavier(magnitude=2))
    net.hybridize()
    net(mx.nd.zeros((1, MLP_FEATURES)))
    return net


MODELS: dict[str, Callable[[int], "mx.gluon.HybridBlock"]] = {  # name -> seed -> network with its weights
    "resnet18_v1": _vision("resnet18_v1"),
    "mobilenetv2_0.25": _vision("mobilenetv2_0.25"),
    "mlp": _mlp,
    "bert-classifier": lambda seed: nlp.hybridized("bert-classifier", seed),
}


def sample_inputs(name: str, batch: int, seed: int) -> dict[str, np.ndarray]:
    """Inputs of model ``name`` by input name: images of ``SIDE`` pixels, MLP features, BERT tokens of 8 steps."""
    if name == "bert-classifier":
        return nlp.sample_inputs(name, batch, 8, seed)
    if name == "mlp":
        return {"data": np.random.default_rng(seed).standard_normal((batch, MLP_FEATURES)).astype(np.float32)}
    return {"data": imagenet_normalise(sample_images(batch, SIDE, seed + 1))}


def build_fused(name: str, out_dir: str, seed: int = 0) -> str:
    """Export ``MODELS[name]`` fused by ``optimize_for(backend='MKLDNN')`` to ``out_dir/fused-NAME``; the
    prefix."""
    net = MODELS[name](seed)
    arrays = [mx.nd.array(value) for value in sample_inputs(name, 2, seed).values()]
    net.optimize_for(*arrays, backend="MKLDNN")
    net(*arrays)
    prefix = os.path.join(out_dir, f"fused-{name}")
    with atomic_checkpoint(prefix, 0) as tmp_prefix:
        net.export(tmp_prefix)
    return prefix


def main(argv: Sequence[str] | None = None) -> int:
    return build_by_name("python -m mxconvert.zoo.fused", __doc__.split("\n")[0], MODELS, build_fused, argv)


if __name__ == "__main__":
    raise SystemExit(main())
