"""The one input pipeline of every inference script: an image, a ``.npy`` tensor, or a folder of images.

Images become raw 0-255 float32 NCHW (models normalise inside their graph):

* decoded with Pillow (first frame of multi-frame files), EXIF orientation applied;
* converted to 8-bit RGB: alpha is dropped, not composited (``RGBA``, ``LA``, ``P`` with transparency),
  palettes are expanded, grey is replicated to three channels, 16/32-bit integer grey (``I;16``, ``I``)
  keeps its high byte (``value >> 8``, as Pillow does for 16-bit RGB) and float grey (``F``) is clipped
  to 0-255;
* resized to (H, W) with ``PIL.Image.Resampling.BILINEAR`` (Pillow's bilinear filter, which widens its
  support to antialias when downscaling; a same-size resize is the identity);
* HWC -> CHW.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps

from .errors import MxConvertError
from .fileio import load_npy


@dataclass(frozen=True)
class InputBatch:
    """A float32 C-contiguous NCHW batch and the file name behind each row."""

    array: np.ndarray
    files: list[str]


def _image_suffixes() -> frozenset[str]:
    Image.init()
    return frozenset(Image.registered_extensions())


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in ``folder`` (by extension; hidden files skipped), sorted by name."""
    root = Path(folder)
    try:
        entries = list(root.iterdir())
    except OSError as exc:
        raise MxConvertError(f"cannot list folder: {exc.strerror or exc}", str(root)) from None
    suffixes = _image_suffixes()
    images = sorted((p for p in entries if p.suffix.lower() in suffixes and not p.name.startswith(".")
                     and p.is_file()), key=lambda p: p.name)
    if not images:
        raise MxConvertError("folder holds no image files", str(root))
    return images


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "I" or image.mode.startswith("I;16"):
        grey = np.asarray(image).astype(np.int64) >> 8
        image = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        image = Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), "L")
    return image.convert("RGB")


def load_image(path: str | os.PathLike, input_shape_hw: tuple[int, int]) -> np.ndarray:
    """One image file as float32 CHW of shape (3, H, W), values 0-255 (see the module docstring)."""
    height, width = input_shape_hw
    try:
        with Image.open(path) as image:
            image.seek(0)
            rgb = _to_rgb(ImageOps.exif_transpose(image))
            resized = rgb.resize((width, height), Image.Resampling.BILINEAR)
    except FileNotFoundError:
        raise MxConvertError("no such file", str(path)) from None
    except Image.UnidentifiedImageError:
        raise MxConvertError("not an image file Pillow can read", str(path)) from None
    except PermissionError as exc:
        raise MxConvertError(f"cannot read: {exc.strerror}", str(path)) from None
    except Exception as exc:  # Pillow's decoders raise many types (OSError, SyntaxError, struct.error...)
        raise MxConvertError(f"cannot decode image ({type(exc).__name__}: {exc})", str(path)) from None
    return np.asarray(resized, dtype=np.float32).transpose(2, 0, 1)


def _stack(paths: list[Path], input_shape_hw: tuple[int, int]) -> InputBatch:
    array = np.stack([load_image(p, input_shape_hw) for p in paths])
    return InputBatch(np.ascontiguousarray(array), [p.name for p in paths])


def _load_tensor(path: Path) -> InputBatch:
    array = load_npy(path)
    if array.ndim == 0:
        raise MxConvertError("expected a tensor with a batch axis, got a scalar", str(path))
    if array.dtype.kind not in "biuf":
        raise MxConvertError(f"expected a real-valued tensor, got dtype {array.dtype}", str(path))
    if array.size == 0:
        raise MxConvertError(f"tensor is empty (shape {array.shape})", str(path))
    rows = [f"{path.name}[{i}]" for i in range(array.shape[0])]
    return InputBatch(np.ascontiguousarray(array, dtype=np.float32), rows)


def load_input(path: str | os.PathLike, input_shape_hw: tuple[int, int]) -> InputBatch:
    """An image file (batch of 1), a ``.npy`` tensor of any rank (used as is: NCHW images, (N, 4) features,
    sequences), or a folder of images (one batch).

    ``input_shape_hw`` is the (H, W) images are resized to; a ``.npy`` tensor keeps its own shape.
    """
    source = Path(path)
    if source.is_dir():
        return _stack(list_images(source), input_shape_hw)
    if source.suffix.lower() == ".npy":
        return _load_tensor(source)
    return _stack([source], input_shape_hw)


def iter_batches(path: str | os.PathLike, input_shape_hw: tuple[int, int],
                 batch_size: int) -> Iterator[InputBatch]:
    """A folder's images in chunks of ``batch_size``, decoded lazily; a file input is one batch."""
    if batch_size <= 0:
        raise MxConvertError(f"batch size must be positive, got {batch_size}")
    source = Path(path)
    if not source.is_dir():
        yield load_input(source, input_shape_hw)
        return
    images = list_images(source)
    for start in range(0, len(images), batch_size):
        yield _stack(images[start:start + batch_size], input_shape_hw)
