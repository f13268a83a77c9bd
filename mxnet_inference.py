#!/usr/bin/env python3
"""Run an MXNet checkpoint on an image, a .npy NCHW tensor or a folder of images; save its outputs as .npy."""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import config  # noqa: E402
from mxconvert import cli  # noqa: E402
from mxconvert.errors import MxConvertError  # noqa: E402
from mxconvert.fileio import output_paths, save_outputs, write_text  # noqa: E402
from mxconvert.mxnet_runner import MxnetModel  # noqa: E402
from mxconvert.preprocess import iter_batches, list_images  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser(__doc__)
    p.add_argument("--prefix", default=config.PREFIX, help="checkpoint prefix (PREFIX-symbol.json)")
    p.add_argument("--epoch", type=int, default=config.EPOCH, help="checkpoint epoch (PREFIX-EPOCH.params)")
    p.add_argument("--input_image", default=config.INPUT_IMAGE,
                   help="an image file, a .npy NCHW tensor, or a folder of images")
    p.add_argument("--input_shape", type=cli.int_tuple, default=config.INPUT_SHAPE,
                   help="H,W that images are resized to")
    p.add_argument("--mxnet_model_output", default=config.MXNET_MODEL_OUTPUT,
                   help="output .npy (output i >= 1 goes to <stem>_<i>.npy)")
    p.add_argument("--batch_size", type=int, default=config.BATCH_SIZE,
                   help="images per forward pass (folder input)")
    return p


def files_list_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.files.txt")


def stack_batches(batches: list[list[np.ndarray]], rows: list[int]) -> list[np.ndarray]:
    """Concatenate each output over the batches; every output must lead with the batch axis."""
    if len(batches) == 1:
        return batches[0]
    for index, output in enumerate(batches[0]):
        if output.ndim == 0 or output.shape[0] != rows[0]:
            raise MxConvertError(f"output {index} (shape {output.shape}) has no leading batch axis, so the "
                                 "folder cannot be run in chunks; raise --batch_size")
    return [np.concatenate(parts) for parts in zip(*batches)]


def main(args: argparse.Namespace) -> None:
    if len(args.input_shape) != 2:
        raise MxConvertError(f"--input_shape takes H,W, got {args.input_shape}")
    if args.batch_size <= 0:
        raise MxConvertError(f"--batch_size must be positive, got {args.batch_size}")
    model = MxnetModel(args.prefix, args.epoch)
    source = Path(args.input_image)
    total = len(list_images(source)) if source.is_dir() else None
    results, rows, files = [], [], []
    for batch in iter_batches(source, args.input_shape, args.batch_size):
        results.append(model(batch.array))
        rows.append(len(batch.files))
        files += batch.files
        if total is not None:
            print(f"mxnet: {len(files)}/{total} images", file=sys.stderr)
    outputs = stack_batches(results, rows)

    target = Path(args.mxnet_model_output)
    listing = files_list_path(target)
    try:
        paths = save_outputs(target, outputs)
        if total is not None:
            write_text(listing, "".join(f"{name}\n" for name in files))
        else:
            listing.unlink(missing_ok=True)
    except BaseException:
        for path in output_paths(target, len(outputs)) + [listing]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise
    shapes = ", ".join(str(tuple(out.shape)) for out in outputs)
    print(f"mxnet: {len(files)} input(s) -> {len(outputs)} output(s) {shapes} saved to "
          f"{', '.join(str(p) for p in paths)}")


if __name__ == "__main__":
    cli.run(main, build_parser())
