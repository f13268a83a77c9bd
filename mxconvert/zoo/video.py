"""GluonCV networks that read several frames: action recognition on clips (``video-``: C3D and I3D ResNet-50,
NCDHW input) and Monodepth2's pose net on a pair of frames stacked as 6 channels (``depth-``). Each is built
from GluonCV with ``pretrained=False``, its graph taken as the symbol its ``hybrid_forward`` writes (the pose
net's encoder holds an unused classifier whose shape Gluon cannot infer, so it cannot be exported), then given
realistic weights by ``common.build_checkpoint``. The frames are crops of one natural-looking image moving
one pixel per frame. Built by ``python -m mxconvert.zoo --video NAME ...``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Spec:
    """A GluonCV network (``gluoncv``: its ``get_model`` name) and one sample's input shape."""

    gluoncv: str
    shape: tuple[int, ...]  # (3, frames, height, width) for a clip; (6, height, width) for a frame pair
    options: tuple[tuple[str, object], ...] = ()  # further get_model arguments

    @property
    def frames(self) -> int:
        return self.shape[1] if len(self.shape) == 4 else self.shape[0] // 3


# C3D's classifier reads 8192 features: its clip is fixed at 16 frames of 112x112.
MODELS = {
    "video-c3d_kinetics400": Spec("c3d_kinetics400", (3, 16, 112, 112)),
    "video-i3d_resnet50_v1_kinetics400": Spec("i3d_resnet50_v1_kinetics400", (3, 8, 64, 64),
                                              (("pretrained_base", False),)),
    "depth-posenet_resnet18": Spec("monodepth2_resnet18_posenet_kitti_mono_stereo_640x192", (6, 96, 320),
                                   (("pretrained_base", False),)),
}


def video_symbol(model: str):
    """``model``'s graph: its outputs (a pose net has two) on a ``data`` variable."""
    # MXNet only where a model is built: the benchmarks import this module beside other runtimes
    from .common import import_gluoncv, mx

    spec = MODELS[model]
    net = import_gluoncv().model_zoo.get_model(spec.gluoncv, pretrained=False, **dict(spec.options))
    out = net(mx.sym.var("data"))
    return mx.sym.Group(list(out)) if isinstance(out, (list, tuple)) else out


def sample_inputs(model: str, batch: int, seed: int) -> np.ndarray:
    """``batch`` samples of ``model``'s input: consecutive crops of a natural-looking image drifting by one pixel
    per frame, ImageNet-normalised clips (N, 3, T, H, W) or frame pairs in 0..1 stacked on channels (N, 6, H, W),
    as Monodepth2 reads them."""
    from .common import imagenet_normalise, sample_images

    spec = MODELS[model]
    height, width = spec.shape[-2:]
    images = sample_images(batch, max(height, width) + spec.frames, seed)
    images = imagenet_normalise(images) if len(spec.shape) == 4 else images / 255
    frames = np.stack([images[:, :, t:t + height, t:t + width] for t in range(spec.frames)], axis=2)
    if len(spec.shape) == 4:
        return frames.astype(np.float32)
    return frames.transpose(0, 2, 1, 3, 4).reshape(batch, -1, height, width).astype(np.float32)


def build_video(model: str, out_dir: str, seed: int = 0, calib_images: int = 8) -> str:
    """Write ``model`` (epoch 0) into ``out_dir`` with realistic weights at its input shape; return its prefix."""
    from .common import build_checkpoint

    return build_checkpoint(video_symbol(model), model, out_dir, sample_inputs(model, 2 * calib_images, seed), seed)
