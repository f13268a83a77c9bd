"""The loop every inference script shares: read the input in batches, run a backend, save its outputs."""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np

from . import cli
from .errors import MxConvertError
from .feeds import Runner
from .fileio import output_paths, save_outputs, write_text
from .preprocess import iter_batches, list_images, load_input

def add_input_flags(parser: argparse.ArgumentParser, config) -> None:
    """``--input_image``, ``--input_shape`` and ``--batch_size``, defaulting to ``config``."""
    parser.add_argument("--input_image", nargs="+", default=[config.INPUT_IMAGE], metavar="PATH|NAME=PATH",
                        help="an image file, a .npy tensor of any rank, or a folder of images; or NAME=PATH per "
                             "input of a model with several (begin states and labels left out are fed zeros)")
    parser.add_argument("--input_shape", type=cli.int_tuple, default=config.INPUT_SHAPE,
                        help="H,W that images are resized to")
    parser.add_argument("--batch_size", type=int, default=config.BATCH_SIZE,
                        help="images per forward pass (folder input)")


def input_sources(items: list[str]) -> str | dict[str, str]:
    """``--input_image``: one path, or paths by input name (``NAME=PATH``; a path that exists is a path)."""
    named = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or "/" in name or Path(item).exists():
            if len(items) > 1:
                raise MxConvertError(f"--input_image: give NAME=PATH for each of several inputs, got {item!r}")
            return item
        if name in named:
            raise MxConvertError(f"--input_image names {name} more than once")
        named[name] = path
    return named


def conversion_shapes(items: list[str], input_shape_hw: tuple[int, int]) -> tuple[int, ...] | dict[str, tuple[int, ...]]:
    """The input shapes a model is converted for, read off ``--input_image``: a ``.npy`` file's own shape, an
    image's or a folder's (1, 3, H, W) at ``--input_shape``; by input name for ``NAME=PATH`` pairs."""
    def shape_of(path: str) -> tuple[int, ...]:
        if Path(path).suffix.lower() == ".npy" and not Path(path).is_dir():
            return tuple(load_input(path, input_shape_hw).array.shape)
        return (1, 3, *input_shape_hw)

    sources = input_sources(items)
    if isinstance(sources, str):
        return shape_of(sources)
    return {name: shape_of(path) for name, path in sources.items()}


def load_named(sources: dict[str, str], input_shape_hw: tuple[int, int]) -> tuple[dict[str, np.ndarray], list[str]]:
    """One array per named input (an image file or a ``.npy`` of any rank; no folders) and the files read."""
    arrays = {}
    for name, path in sources.items():
        if Path(path).is_dir():
            raise MxConvertError(f"input {name}: a folder feeds a single-input model only", path)
        arrays[name] = load_input(path, input_shape_hw).array
    return arrays, list(sources.values())


def files_list_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.files.txt")


def run_and_save(backend: str, run: Runner, args: argparse.Namespace, output: str) -> list[Path]:
    """Run ``run`` over the input named by ``args`` and save every output (``<stem>_<i>.npy`` for i >= 1).

    A folder is processed in ``--batch_size`` chunks with a progress line, its outputs stacked in sorted file
    order and the file list saved beside them as ``<stem>.files.txt``.
    """
    if len(args.input_shape) != 2:
        raise MxConvertError(f"--input_shape takes H,W, got {args.input_shape}")
    if args.batch_size <= 0:
        raise MxConvertError(f"--batch_size must be positive, got {args.batch_size}")
    sources = input_sources(args.input_image)
    total = len(list_images(sources)) if isinstance(sources, str) and Path(sources).is_dir() else None
    if isinstance(sources, dict):
        feeds, files = load_named(sources, args.input_shape)
        outputs = [_saved(out) for out in run(feeds)]
    else:
        results, rows, files = [], [], []
        for batch in iter_batches(sources, args.input_shape, args.batch_size):
            results.append([_saved(out) for out in run(batch.array)])
            rows.append(len(batch.files))
            files += batch.files
            if total is not None:
                print(f"{backend}: {len(files)}/{total} images", file=sys.stderr)
        outputs = _stack(results, rows)
    target = Path(output)
    listing = files_list_path(target)
    before = {path: _identity(path) for path in output_paths(target, len(outputs)) + [listing]}
    try:
        paths = save_outputs(target, outputs)
        if total is not None:
            write_text(listing, "".join(f"{name}\n" for name in files))
        else:
            listing.unlink(missing_ok=True)
    except BaseException:  # outputs of one run belong together: never leave a mix of old and new
        if any(_identity(path) != seen for path, seen in before.items()):  # else the previous run stays
            for path in before:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        raise
    shapes = ", ".join(str(tuple(out.shape)) for out in outputs)
    print(f"{backend}: {len(files)} input(s) -> {len(outputs)} output(s) {shapes} saved to "
          f"{', '.join(str(p) for p in paths)}")
    return paths


def _saved(output: np.ndarray) -> np.ndarray:
    """Outputs are saved in float32, except float64 ones (MXNet's exact reference run) which keep their digits."""
    array = np.asarray(output)
    return array if array.dtype == np.float64 else array.astype(np.float32, copy=False)


def _identity(path: Path) -> tuple[int, int] | None:
    """Inode and mtime: a file replaced by ``atomic_output`` gets a new inode."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def _stack(batches: list[list[np.ndarray]], rows: list[int]) -> list[np.ndarray]:
    """Concatenate each output over the batches; every output must lead with the batch axis."""
    if len(batches) == 1:
        return batches[0]
    for index, output in enumerate(batches[0]):
        if output.ndim == 0 or output.shape[0] != rows[0]:
            raise MxConvertError(f"output {index} (shape {output.shape}) has no leading batch axis, so the "
                                 "folder cannot be run in chunks; raise --batch_size")
    return [np.concatenate(parts) for parts in zip(*batches)]
