"""Models fused for MXNet's CPU backend the way its users deployed them: a Gluon network with realistic weights,
``net.optimize_for(x, backend='MKLDNN')``, ``export``. The export holds ``_sg_mkldnn_conv`` (Convolution with its
BatchNorm, activation and residual sum), ``_sg_mkldnn_fully_connected`` and, for BERT,
``_sg_mkldnn_selfatt_qk``/``_sg_mkldnn_selfatt_valatt``, each with its subgraph.

The INT8 models come from both of MXNet's quantization flows: ``int8-*`` from ``quantize_net`` (the fused
ops, quantized), ``int8sym-*`` from the older ``quantize_model`` on the plain symbol (each quantized op its own
node, int32 sums requantized by ``_contrib_requantize``).

``python -m mxconvert.zoo.fused [NAME ...] --out DIR``.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Callable, Sequence

import numpy as np

from . import nlp
from .common import atomic_checkpoint, calibrated_gluon_net, imagenet_normalise, mx, sample_images
from .named import build_by_name

SIDE = 32  # image side of the vision models (small: the fusion does not depend on it)
# Gluon's DenseNet with two short blocks: its final 7x7 average pooling needs 56-pixel images
DENSENET_SIDE = 56
MLP_FEATURES = 20


def _vision(name: str) -> Callable[[int], "mx.gluon.HybridBlock"]:
    def build(seed: int) -> "mx.gluon.HybridBlock":
        from mxnet.gluon.model_zoo import vision

        return calibrated_gluon_net(vision.get_model(name, classes=10), SIDE, seed, name)
    return build


def _densenet(seed: int) -> "mx.gluon.HybridBlock":
    """A small DenseNet from Gluon's class (concatenations, standalone BatchNorm and ReLU, average pooling)."""
    from mxnet.gluon.model_zoo.vision.densenet import DenseNet

    net = DenseNet(num_init_features=16, growth_rate=8, block_config=(2, 2), classes=10)
    return calibrated_gluon_net(net, DENSENET_SIDE, seed, "densenet_small")


def _mlp(seed: int) -> "mx.gluon.HybridBlock":
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Dense(64, activation="relu"), mx.gluon.nn.Dense(32, activation="tanh"),
            mx.gluon.nn.Dense(10))
    net.initialize(mx.init.Xavier(magnitude=2))
    net.hybridize()
    net(mx.nd.zeros((1, MLP_FEATURES)))
    return net


class _GatedResidualMLP(mx.gluon.HybridBlock):
    """A ReLU layer, a residual layer added to it, the sum gated by a third layer's product, a classifier."""

    def __init__(self) -> None:
        super().__init__()
        with self.name_scope():
            self.inner = mx.gluon.nn.Dense(32, activation="relu")
            self.residual = mx.gluon.nn.Dense(32)
            self.gate = mx.gluon.nn.Dense(32)
            self.classifier = mx.gluon.nn.Dense(10)

    def hybrid_forward(self, F, x):
        h = self.inner(x)
        return self.classifier((self.residual(h) + h) * self.gate(h))


def _gated_residual_mlp(seed: int) -> "mx.gluon.HybridBlock":
    net = _GatedResidualMLP()
    net.initialize(mx.init.Xavier(magnitude=2))
    net.hybridize()
    net(mx.nd.zeros((1, MLP_FEATURES)))
    return net


MODELS: dict[str, Callable[[int], "mx.gluon.HybridBlock"]] = {  # name -> seed -> network with its weights
    "resnet18_v1": _vision("resnet18_v1"),
    "mobilenetv2_0.25": _vision("mobilenetv2_0.25"),
    "resnet18_v2": _vision("resnet18_v2"),  # pre-activation: standalone BatchNorm and ReLU
    "densenet_small": _densenet,
    "mlp": _mlp,
    "resmlp": _gated_residual_mlp,  # quantized: calibrated adds (of uint8 and int8) and products
    "bert-classifier": lambda seed: nlp.hybridized("bert-classifier", seed),
}


def sample_inputs(name: str, batch: int, seed: int) -> dict[str, np.ndarray]:
    """Inputs of model ``name`` by input name: images of ``SIDE`` pixels, MLP features, BERT tokens of 8 steps."""
    if name == "bert-classifier":
        return nlp.sample_inputs(name, batch, 8, seed)
    if name in ("mlp", "resmlp"):
        return {"data": np.random.default_rng(seed).standard_normal((batch, MLP_FEATURES)).astype(np.float32)}
    side = DENSENET_SIDE if name == "densenet_small" else SIDE
    return {"data": imagenet_normalise(sample_images(batch, side, seed + 1))}


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


# entropy calibration (minutes on two cores for the larger graphs) on the first three, naive on every vision model
QUANTIZED = tuple(f"int8-{name}-{calib}" for name in MODELS if name != "bert-classifier"
                  for calib in ("naive", "entropy") if calib == "naive" or name in ("resnet18_v1", "mobilenetv2_0.25", "mlp"))
CALIBRATION_BATCHES = 4  # of 8 samples


def build_quantized(name: str, out_dir: str, seed: int = 0) -> str:
    """``int8-MODEL-CALIB``: ``MODELS[MODEL]`` quantized by ``quantize_net`` (uint8/int8 chosen by MXNet,
    ``calib_mode`` naive or entropy on 32 samples), exported to ``out_dir/NAME``; the prefix."""
    from mxnet.contrib.quantization import quantize_net

    model, calib_mode = name.removeprefix("int8-").rsplit("-", 1)
    net = MODELS[model](seed)
    data = sample_inputs(model, 8 * CALIBRATION_BATCHES, seed + 1)["data"]
    calib = mx.gluon.data.DataLoader(mx.gluon.data.ArrayDataset(data, np.zeros(len(data), np.float32)),
                                     batch_size=8)
    quantized = quantize_net(net, quantized_dtype="auto", calib_mode=calib_mode, calib_data=calib,
                             num_calib_examples=len(data), ctx=mx.cpu(), logger=None)
    quantized(mx.nd.array(data[:2]))
    prefix = os.path.join(out_dir, name)
    with atomic_checkpoint(prefix, 0) as tmp_prefix:
        quantized.export(tmp_prefix)
    return prefix


SYMBOL_FLOW = ("int8sym-mlp-naive", "int8sym-mlp-entropy", "int8sym-resmlp-naive", "int8sym-resnet18_v1-naive")
SYMBOL_FLOW_MODELS = {name: MODELS[name] for name in ("mlp", "resmlp", "resnet18_v1")}


def cpu_unquantizable(symbol: "mx.sym.Symbol") -> list[str]:
    """The nodes to leave in float so that MXNet's CPU kernels run the quantized symbol (a quantized convolution
    reads uint8 data only): the first convolution (its data, normalised images, would be int8) and every
    activation (their outputs, int8 where quantized, then quantize to uint8 from float); none without
    convolutions."""
    nodes = json.loads(symbol.tojson())["nodes"]
    convs = [node["name"] for node in nodes if node["op"] == "Convolution"]
    return convs[:1] + [node["name"] for node in nodes if node["op"] == "Activation"] if convs else []


def build_quantized_symbol(name: str, out_dir: str, seed: int = 0) -> str:
    """``int8sym-MODEL-CALIB``: ``SYMBOL_FLOW_MODELS[MODEL]`` exported, its symbol quantized by ``quantize_model``
    (uint8/int8 chosen by MXNet, ``calib_mode`` naive or entropy on 32 samples, :func:`cpu_unquantizable` left in
    float), saved to ``out_dir/NAME``; the prefix."""
    from mxnet.contrib.quantization import quantize_model

    model, calib_mode = name.removeprefix("int8sym-").rsplit("-", 1)
    net = SYMBOL_FLOW_MODELS[model](seed)
    with tempfile.TemporaryDirectory() as tmp:
        net.export(os.path.join(tmp, "net"))
        symbol, arg, aux = mx.model.load_checkpoint(os.path.join(tmp, "net"), 0)
    data = sample_inputs(model, 8 * CALIBRATION_BATCHES, seed + 1)["data"]
    quantized = quantize_model(symbol, arg, aux, ctx=mx.cpu(), excluded_sym_names=cpu_unquantizable(symbol),
                               calib_mode=calib_mode, calib_data=mx.io.NDArrayIter(data, batch_size=8),
                               num_calib_examples=len(data), quantized_dtype="auto", label_names=(), logger=None)
    prefix = os.path.join(out_dir, name)
    with atomic_checkpoint(prefix, 0) as tmp_prefix:
        mx.model.save_checkpoint(tmp_prefix, 0, *quantized)
    return prefix


def build_any(name: str, out_dir: str, seed: int = 0) -> str:
    """Build ``name`` (``fused-``, ``int8-`` or ``int8sym-`` model) into ``out_dir``; its prefix."""
    if name.startswith("int8sym-"):
        return build_quantized_symbol(name, out_dir, seed)
    return build_quantized(name, out_dir, seed) if name.startswith("int8-") else build_fused(name, out_dir, seed)


def main(argv: Sequence[str] | None = None) -> int:
    return build_by_name("python -m mxconvert.zoo.fused", __doc__.split("\n")[0],
                         (*MODELS, *QUANTIZED, *SYMBOL_FLOW), build_any, argv)


if __name__ == "__main__":
    raise SystemExit(main())
