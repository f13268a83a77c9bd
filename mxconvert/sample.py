"""A deterministic synthetic 224x224 RGB test picture: ``python -m mxconvert.sample photo.bmp``.

A landscape (sky gradient, sun with glow, clouds, hills, textured grass, a tree and a shaded ball)
drawn with integer arithmetic only, so every numpy version and machine gives the same bytes.
"""
from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from . import cli
from .errors import MxConvertError
from .fileio import write_bytes

SIZE = 224


def _hash(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """A 32-bit integer hash of pixel coordinates (deterministic per-pixel noise, 0..2**32-1)."""
    mask = 0xFFFFFFFF
    h = (x * 374761393 + y * 668265263 + seed * 144665) & mask
    h = ((h ^ (h >> 13)) * 1274126177) & mask
    return h ^ (h >> 16)


def _blend(canvas: np.ndarray, weight: np.ndarray, color: np.ndarray) -> None:
    """``canvas = canvas * (256 - weight) / 256 + color * weight / 256``; weight is 0..256 per pixel."""
    weight = np.clip(weight, 0, 256)[..., None]
    canvas[...] = (canvas * (256 - weight) + color * weight) >> 8


def _disc(x: np.ndarray, y: np.ndarray, cx: int, cy: int, radius: int, edge: int = 2) -> np.ndarray:
    """Weight 256 inside a disc, falling to 0 over about ``edge`` pixels outside it."""
    d2 = (x - cx) ** 2 + (y - cy) ** 2
    return (radius * radius + edge * radius - d2) * 256 // (2 * edge * radius)


def render() -> np.ndarray:
    """The test picture as a (224, 224, 3) uint8 array."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.int64)
    canvas = np.zeros((SIZE, SIZE, 3), np.int64)
    canvas[..., 0] = 70 + y * 80 // SIZE
    canvas[..., 1] = 120 + y * 70 // SIZE
    canvas[..., 2] = 235 - y * 35 // SIZE

    glow = np.maximum(0, 1600 - ((x - 176) ** 2 + (y - 46) ** 2)) * 150 // 1600
    _blend(canvas, glow, np.array([255, 230, 170]))
    _blend(canvas, _disc(x, y, 176, 46, 18), np.array([255, 240, 190]))
    for cx, cy, rx in ((50, 40, 30), (75, 34, 24), (100, 44, 28), (130, 70, 20), (148, 66, 16)):
        puff = 256 - ((x - cx) ** 2 * 3 + (y - cy) ** 2 * 12) * 256 // (rx * rx * 3)
        _blend(canvas, np.minimum(puff * 2, 220), np.array([248, 250, 252]))

    hill = 118 + np.abs((x * 2 + 40) % 300 - 150) // 6 - np.abs(x % 70 - 35) // 5
    _blend(canvas, (y - hill) * 128, np.array([84, 126, 112]) - (y - 100)[..., None] // 4)

    ground = 150 + (x - 112) ** 2 // 900 - x // 20
    noise = (_hash(x, y, 1) % 41 - 20)[..., None]
    blades = ((x * 7 + y * 3 + (_hash(x // 3, y // 9, 2) % 5)) % 9 < 2)[..., None] * 18
    grass = np.stack([58 + y // 6, 120 + y // 5, 40 + y // 12], axis=-1) + noise + blades
    _blend(canvas, (y - ground) * 128, grass)

    _blend(canvas, ((x >= 152) & (x < 162) & (y >= 112) & (y < 170)) * 256,
           np.array([92, 62, 38]) + (_hash(x, y // 4, 3) % 15)[..., None])
    leaves = np.stack([30 + y // 10, 92 + (x - 157) // 3, np.full_like(x, 40)], axis=-1)
    leaves += (_hash(x // 2, y // 2, 4) % 31)[..., None]
    for cx, cy, radius in ((157, 96, 26), (140, 108, 16), (174, 110, 17)):
        _blend(canvas, _disc(x, y, cx, cy, radius), leaves)

    shade = 256 - ((x - 60) ** 2 + (y - 168) ** 2) * 160 // (2 * 26 * 26)
    ball = np.stack([60 + shade * 190 // 256, 18 + shade * 40 // 256, 22 + shade * 40 // 256], axis=-1)
    _blend(canvas, _disc(x, y, 70, 178, 26), ball)

    canvas += (_hash(x, y, 5) % 9 - 4)[..., None]
    return np.clip(canvas, 0, 255).astype(np.uint8)


def write_sample(path: str | os.PathLike) -> None:
    """Write the picture atomically; the format follows the file extension (BMP, PNG, ...)."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    Image.init()
    image_format = Image.registered_extensions().get(suffix)
    if image_format is None or image_format not in Image.SAVE:
        raise MxConvertError(f"cannot write images with extension {suffix!r}", os.fspath(path))
    buffer = io.BytesIO()
    Image.fromarray(render(), "RGB").save(buffer, format=image_format)
    write_bytes(path, buffer.getvalue())


def main() -> None:
    arg_parser = cli.parser("Write the deterministic synthetic 224x224 RGB test picture.")
    arg_parser.add_argument("output", help="image file to write, e.g. photo.bmp")
    cli.run(lambda args: write_sample(args.output), arg_parser)


if __name__ == "__main__":
    main()
