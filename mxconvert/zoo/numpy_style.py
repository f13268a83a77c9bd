"""Models written in MXNet's NumPy interface (``from mxnet import np, npx; npx.set_np()``, the style of d2l.ai):
Gluon blocks whose forward uses ``np``/``npx`` ops, hybridized and exported, so the symbol holds ``_npi_*``,
``_np_*`` and ``_npx_*`` ops. Realistic weights through ``common.build_checkpoint`` (He-scaled, BatchNorm
calibrated, classifier fitted). Built only inside ``numpy_mode``, which restores MXNet's legacy mode after."""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator

import numpy as np

from ..mxnet_compat import import_mxnet
from .common import build_checkpoint, sample_images

mx = import_mxnet()
nn = mx.gluon.nn

NUMPY_MODELS = {"np-lenet": (1, 28), "np-resnet": (3, 32)}  # name -> (channels, side it is built at)


@contextlib.contextmanager
def numpy_mode() -> Iterator[None]:
    """MXNet's NumPy shapes and arrays (``npx.set_np()``) inside the block only."""
    with mx.util.np_shape(True), mx.util.np_array(True):
        yield


class LeNet(nn.HybridBlock):
    """d2l.ai's LeNet: sigmoid convolutions, average pooling, three dense layers; the input standardised per
    image with ``np.mean``/``np.std`` and scalar arithmetic."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2D(6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2D(16, kernel_size=5)
        self.pool = nn.AvgPool2D(pool_size=2, strides=2)
        self.fc1, self.fc2, self.fc3 = nn.Dense(120), nn.Dense(84), nn.Dense(10)

    def hybrid_forward(self, F, x):
        x = (x - F.np.mean(x, axis=(1, 2, 3), keepdims=True)) / (F.np.std(x, axis=(1, 2, 3), keepdims=True) + 1e-5)
        x = self.pool(F.npx.sigmoid(self.conv1(x)))
        x = self.pool(F.npx.sigmoid(self.conv2(x)))
        x = F.npx.sigmoid(self.fc1(x))
        return self.fc3(F.npx.sigmoid(self.fc2(x)))


class Residual(nn.HybridBlock):
    """d2l.ai's residual block: two 3x3 convolutions with BatchNorm, a 1x1 projection where the shape changes."""

    def __init__(self, channels: int, strides: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2D(channels, kernel_size=3, padding=1, strides=strides)
        self.conv2 = nn.Conv2D(channels, kernel_size=3, padding=1)
        self.bn1, self.bn2 = nn.BatchNorm(), nn.BatchNorm()
        self.conv3 = nn.Conv2D(channels, kernel_size=1, strides=strides) if strides != 1 else None

    def hybrid_forward(self, F, x):
        y = F.npx.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.npx.relu(y + (self.conv3(x) if self.conv3 is not None else x))


class ResNet(nn.HybridBlock):
    """A small d2l-style ResNet; its head pools with ``np.mean``, rescales the features by their largest
    ``np.abs`` (``np.max``) and a ``np.sqrt`` of their mean square, and ends in ``npx.softmax``."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2D(16, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm()
        self.blocks = nn.HybridSequential()
        self.blocks.add(Residual(16), Residual(32, strides=2), Residual(32), Residual(64, strides=2))
        self.fc = nn.Dense(classes)

    def hybrid_forward(self, F, x):
        x = self.blocks(F.npx.relu(self.bn(self.stem(x))))
        features = F.np.mean(x, axis=(2, 3))
        scale = F.np.max(F.np.abs(features)) * 0.5 + F.np.sqrt(F.np.mean(features * features) + 1e-6)
        return F.npx.softmax(self.fc(features / scale) * 2.0, axis=-1)


def numpy_symbol(model: str) -> mx.sym.Symbol:
    """``model``'s graph as ``HybridBlock.export`` writes it in NumPy mode (run once, hybridized)."""
    channels, side = NUMPY_MODELS[model]
    with numpy_mode():  # Gluon's layers pick their ops' spellings when made
        net = LeNet() if model == "np-lenet" else ResNet()
        net.initialize(mx.init.Xavier(magnitude=2))
        net.hybridize()
        net(mx.np.zeros((1, channels, side, side)))
        with tempfile.TemporaryDirectory() as tmp:
            net.export(os.path.join(tmp, "net"))
            return mx.sym.load(os.path.join(tmp, "net-symbol.json"))


def build_numpy_model(model: str, out_dir: str, seed: int = 0, calib_images: int = 16) -> str:
    """Write ``model`` (epoch 0) into ``out_dir`` with realistic weights; return its prefix."""
    channels, side = NUMPY_MODELS[model]
    images = sample_images(2 * calib_images, side, seed)[:, :channels].astype(np.float32)
    images = (images - images.mean()) / images.std()
    sym = numpy_symbol(model)
    with numpy_mode():
        return build_checkpoint(sym, model, out_dir, images, seed)
