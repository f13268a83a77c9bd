"""Build realistic MXNet test checkpoints offline: classic model-zoo ResNets, Gluon exports, 0.x-format copies.

``python -m mxconvert.zoo --help``; each model is printed with its size, build time and health on fresh images.
The recurrent family has its own command, ``python -m mxconvert.zoo.sequence``.
"""
from __future__ import annotations

import argparse
import functools
import os
import time
from typing import Callable, Sequence

import numpy as np

from ..checkpoint import CheckpointPaths
from . import detection, faces, numpy_style, numpy_text, spatial, video, vision
from .common import FULL_BRANCH_SUFFIX, health, imagenet_normalise, mx, sample_images, save_legacy_checkpoint
from .resnet import CLASSIC_UNITS, GLUON_MODELS, build_classic, build_gluon


NUMPY_MODELS = (*numpy_style.NUMPY_MODELS, *numpy_text.MODELS)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    options = {"seed": args.seed, "calib_size": args.calib_size, "calib_images": args.calib_images,
               "full_branches": args.full_branches}
    suffix = FULL_BRANCH_SUFFIX if args.full_branches else ""
    jobs = [(f"resnet-{depth}{suffix}", False, functools.partial(build_classic, depth, args.out, **options))
            for depth in args.depth]
    jobs += [(f"gluon-{name}{suffix}", True, functools.partial(build_gluon, name, args.out, **options))
             for name in args.gluon]
    for name, normalised, build in jobs:
        prefix = os.path.join(args.out, name)
        if _needs_build(prefix, args.force):
            seconds = _timed(build)
            images = sample_images(args.calib_images, args.calib_size, args.seed + 1)
            _print_health(prefix, seconds, imagenet_normalise(images) if normalised else images)
        if args.legacy and _needs_build(f"{prefix}-legacy", args.force):
            seconds = _timed(functools.partial(save_legacy_checkpoint, prefix, 0, f"{prefix}-legacy"))
            print(_size_line(f"{prefix}-legacy", seconds), flush=True)
    for name in args.face:
        prefix = os.path.join(args.out, name)
        if _needs_build(prefix, args.force):
            seconds = _timed(functools.partial(faces.build_face, name, args.out, args.seed, args.calib_images))
            images = sample_images(args.calib_images, faces.INPUT_SIZES[name], args.seed + 1)
            print(f"{_size_line(prefix, seconds)}   max activation std "
                  f"{faces.largest_activation_std(prefix, images):6.2f} (fresh images)", flush=True)
    for name in args.vision:
        prefix = os.path.join(args.out, name)
        if _needs_build(prefix, args.force):
            seconds = _timed(functools.partial(vision.build_vision, name, args.out, args.seed, args.calib_images))
            side = vision.input_side(name)  # health() holds every tensor: few images at 224 and 299 pixels
            images = imagenet_normalise(sample_images(args.calib_images if side < 224 else 2, side, args.seed + 1))
            _print_health(prefix, seconds, images)
    for name in args.video:
        prefix = os.path.join(args.out, name)
        if _needs_build(prefix, args.force):
            seconds = _timed(functools.partial(video.build_video, name, args.out, args.seed, args.calib_images // 2))
            _print_health(prefix, seconds, video.sample_inputs(name, 2, args.seed + 1))
    for name in args.detection:
        prefix = os.path.join(args.out, name)
        if _needs_build(prefix, args.force):
            seconds = _timed(functools.partial(detection.build_detector, name, args.out, args.seed,
                                               args.calib_images))
            print(_size_line(prefix, seconds), flush=True)
    if args.rfcn and _needs_build(os.path.join(args.out, detection.RFCN), args.force):
        seconds = _timed(functools.partial(detection.build_rfcn, args.out, args.seed,
                                           calib_images=args.calib_images))
        print(_size_line(os.path.join(args.out, detection.RFCN), seconds), flush=True)
    for name in args.numpy:
        prefix = os.path.join(args.out, name)
        if _needs_build(prefix, args.force):
            build = numpy_style.build_numpy_model if name in numpy_style.NUMPY_MODELS else numpy_text.build_text_model
            print(_size_line(prefix, _timed(functools.partial(build, name, args.out, args.seed))), flush=True)
    for name in args.spatial:
        prefix = os.path.join(args.out, name)
        if _needs_build(prefix, args.force):
            seconds = _timed(functools.partial(spatial.build_spatial_model, name, args.out, args.seed,
                                               args.calib_images))
            _print_health(prefix, seconds, spatial.sample_inputs(name, args.calib_images, args.seed + 1))
    return 0


def _print_health(prefix: str, seconds: float, images: np.ndarray) -> None:
    """The size line of a freshly built classifier with its ``health`` on ``images``."""
    largest_std, top1 = health(*mx.model.load_checkpoint(prefix, 0), images)
    print(f"{_size_line(prefix, seconds)}   max activation std {largest_std:6.2f}"
          f"   mean top-1 prob {top1:.3f} (fresh images)", flush=True)


def _needs_build(prefix: str, force: bool) -> bool:
    """True unless both files of ``prefix`` exist and ``force`` is off (then says it skips it)."""
    if force or not all(os.path.exists(path) for path in CheckpointPaths.of(prefix, 0)):
        return True
    print(f"{os.path.basename(prefix):<24} exists, skipped (--force rebuilds)", flush=True)
    return False


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _size_line(prefix: str, seconds: float) -> str:
    size = os.path.getsize(CheckpointPaths.of(prefix, 0).params) / 2 ** 20
    return f"{os.path.basename(prefix):<24} {size:8.1f} MB {seconds:7.1f} s"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mxconvert.zoo", description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, nargs="*", default=[], choices=sorted(CLASSIC_UNITS),
                        help="classic model-zoo ResNets to build (resnet-N)")
    parser.add_argument("--gluon", nargs="*", default=[], choices=GLUON_MODELS, metavar="NAME",
                        help=f"Gluon model-zoo exports to build (gluon-NAME); one of {', '.join(GLUON_MODELS)}")
    parser.add_argument("--face", nargs="*", default=[], choices=faces.FACE_MODELS, metavar="NAME",
                        help=f"face models to build (at their own input size); one of "
                             f"{', '.join(faces.FACE_MODELS)}")
    parser.add_argument("--vision", nargs="*", default=[], choices=vision.MODELS, metavar="NAME",
                        help="Gluon model-zoo networks (vision-NAME) and GluonCV classifiers (gluoncv-NAME) to build, "
                             f"at their own input size; one of {', '.join(vision.MODELS)}")
    parser.add_argument("--video", nargs="*", default=[], choices=list(video.MODELS), metavar="NAME",
                        help="GluonCV networks on several frames, at their own input shape: action recognition on "
                             f"clips (video-) and Monodepth2's pose net (depth-); one of {', '.join(video.MODELS)}")
    parser.add_argument("--detection", nargs="*", default=[], choices=detection.MODELS, metavar="NAME",
                        help=f"GluonCV detectors to build (at {detection.SIDE} pixels unless their graphs need more); "
                             f"one of {', '.join(detection.MODELS)}")
    parser.add_argument("--rfcn", action="store_true",
                        help=f"a Deformable-ConvNets-style R-FCN head ({detection.RFCN}: inputs data and rois)")
    parser.add_argument("--numpy", nargs="*", default=[], choices=NUMPY_MODELS, metavar="NAME",
                        help="models written in MXNet's NumPy interface, d2l.ai style; one of "
                             f"{', '.join(NUMPY_MODELS)}")
    parser.add_argument("--spatial", nargs="*", default=[], choices=spatial.MODELS, metavar="NAME",
                        help="spatial-transformer networks (a localisation net, SpatialTransformer, a classifier); "
                             f"one of {', '.join(spatial.MODELS)}")
    parser.add_argument("--legacy", action="store_true", help="also write an MXNet 0.x-format copy, PREFIX-legacy")
    parser.add_argument("--full-branches", action="store_true",
                        help="plain He weights: residual branches unscaled (names end in -he); MXNet's own float32 "
                             "rounding then grows with depth as in the deep-net float64 tests")
    parser.add_argument("--out", default="model_mxnet", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calib-size", type=int, default=112, help="calibration image side in pixels")
    parser.add_argument("--calib-images", type=int, default=16, help="images calibrating BatchNorm (as many again fit the classifier)")
    parser.add_argument("--force", action="store_true", help="rebuild models whose files already exist")
    return parser

