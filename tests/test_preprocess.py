"""The input pipeline: image modes and formats, .npy passthrough, folders, errors; the sample picture."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mxconvert.errors import MxConvertError
from mxconvert.preprocess import iter_batches, load_image, load_input
from mxconvert.sample import render, write_sample

REPO = Path(__file__).resolve().parents[1]
HW = (10, 12)


def _picture(mode: str, size: tuple[int, int] = (20, 16)) -> Image.Image:
    """A non-flat picture in ``mode`` (size is W, H)."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, (x * y) % 256], axis=-1).astype(np.uint8)
    image = Image.fromarray(rgb, "RGB")
    if mode == "RGBA":
        image.putalpha(Image.fromarray((x * 12 % 256).astype(np.uint8), "L"))
        return image
    if mode == "LA":
        return image.convert("RGBA").convert("LA")
    if mode == "I;16":
        return Image.fromarray((x * 3000 + y * 7).astype(np.uint16))
    return image.convert(mode)


@pytest.mark.parametrize("fmt, mode", [
    ("BMP", "L"), ("BMP", "RGB"), ("BMP", "P"),
    ("PNG", "L"), ("PNG", "RGB"), ("PNG", "RGBA"), ("PNG", "P"), ("PNG", "LA"), ("PNG", "I;16"),
    ("JPEG", "L"), ("JPEG", "RGB"),
])
def test_modes_and_formats(tmp_path: Path, fmt: str, mode: str) -> None:
    path = tmp_path / f"picture.{fmt.lower()}"
    _picture(mode).save(path, fmt)
    batch = load_input(path, HW)
    assert batch.array.shape == (1, 3, *HW)
    assert batch.array.dtype == np.float32 and batch.array.flags.c_contiguous
    assert 0 <= batch.array.min() < batch.array.max() <= 255
    assert batch.files == [path.name]


def test_exact_values_when_resize_is_identity(tmp_path: Path) -> None:
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 13
    Image.fromarray(pixels, "RGB").save(tmp_path / "rgb.png")
    chw = pixels.transpose(2, 0, 1)
    np.testing.assert_array_equal(load_input(tmp_path / "rgb.png", (2, 3)).array[0], chw)

    rgba = np.concatenate([pixels, np.zeros((2, 3, 1), np.uint8)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(load_input(tmp_path / "rgba.png", (2, 3)).array[0], chw)

    grey = pixels[..., 0]
    Image.fromarray(grey, "L").save(tmp_path / "grey.bmp")
    np.testing.assert_array_equal(load_input(tmp_path / "grey.bmp", (2, 3)).array[0], np.stack([grey] * 3))

    deep = np.array([[0, 255, 256], [1000, 40000, 65535]], np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    high_byte = np.stack([deep >> 8] * 3)
    np.testing.assert_array_equal(load_input(tmp_path / "deep.png", (2, 3)).array[0], high_byte)


def test_resize_is_pillow_bilinear(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    _picture("RGB", (40, 30)).save(path)
    expected = np.asarray(Image.open(path).resize((12, 10), Image.Resampling.BILINEAR), np.float32)
    np.testing.assert_array_equal(load_image(path, HW), expected.transpose(2, 0, 1))


def test_npy_passthrough(tmp_path: Path) -> None:
    tensor = np.random.default_rng(0).normal(size=(2, 3, 5, 7))
    np.save(tmp_path / "x.npy", tensor)
    batch = load_input(tmp_path / "x.npy", HW)
    assert batch.array.dtype == np.float32 and batch.array.flags.c_contiguous
    np.testing.assert_array_equal(batch.array, tensor.astype(np.float32))
    assert batch.files == ["x.npy[0]", "x.npy[1]"]


def test_folder_order_and_skipping(tmp_path: Path) -> None:
    for name in ("b.png", "a.bmp", "c.jpg", ".hidden.png"):
        _picture("RGB").save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    np.save(tmp_path / "tensor.npy", np.zeros((1, 3, 2, 2)))
    (tmp_path / "sub.png").mkdir()
    batch = load_input(tmp_path, HW)
    assert batch.files == ["a.bmp", "b.png", "c.jpg"]
    assert batch.array.shape == (3, 3, *HW) and batch.array.flags.c_contiguous
    np.testing.assert_array_equal(batch.array[2], load_image(tmp_path / "c.jpg", HW))

    chunks = list(iter_batches(tmp_path, HW, 2))
    assert [c.files for c in chunks] == [["a.bmp", "b.png"], ["c.jpg"]]
    np.testing.assert_array_equal(np.concatenate([c.array for c in chunks]), batch.array)
    assert [c.files for c in iter_batches(tmp_path / "a.bmp", HW, 2)] == [["a.bmp"]]


def _truncated_png(path: Path) -> None:
    _picture("RGB", (64, 64)).save(path)
    path.write_bytes(path.read_bytes()[:200])


@pytest.mark.parametrize("make, name", [
    (lambda p: None, "missing.png"),
    (lambda p: p.write_bytes(b"definitely not an image"), "junk.png"),
    (_truncated_png, "truncated.png"),
    (lambda p: None, "missing.npy"),
    (lambda p: p.write_bytes(b"\x93NUMPY garbage"), "corrupt.npy"),
    (lambda p: np.save(p, np.float32(2.0)), "scalar.npy"),
    (lambda p: np.save(p, np.zeros((1, 3, 2, 2), complex)), "complex.npy"),
    (lambda p: np.save(p, np.zeros((0, 3, 2, 2))), "empty.npy"),
    (lambda p: p.mkdir(), "empty_folder"),
    (lambda p: (p.mkdir(), (p / "readme.txt").write_text("x")), "no_images"),
])
def test_errors(tmp_path: Path, make, name: str) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(MxConvertError) as info:
        load_input(path, HW)
    assert info.value.path == str(path)
    assert "\n" not in str(info.value)


def test_sample_picture_is_deterministic_and_committed(tmp_path: Path) -> None:
    picture = render()
    assert picture.shape == (224, 224, 3) and picture.dtype == np.uint8
    assert picture.std() > 30
    write_sample(tmp_path / "photo.bmp")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "photo.bmp")), picture)
    assert (tmp_path / "photo.bmp").read_bytes() == (REPO / "photo.bmp").read_bytes()
    with pytest.raises(MxConvertError):
        write_sample(tmp_path / "photo.unknown")


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 28, 28), (1, 3, 2, 2, 2)])
def test_npy_of_any_rank_is_used_as_is(tmp_path: Path, shape: tuple[int, ...]) -> None:
    array = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    np.save(tmp_path / "x.npy", array)
    batch = load_input(tmp_path / "x.npy", (8, 8))
    assert batch.array.dtype == np.float32 and batch.array.shape == shape
    np.testing.assert_array_equal(batch.array, array)
    assert batch.files == [f"x.npy[{i}]" for i in range(shape[0])]
