"""Spatial transformers and flow: GridGenerator, BilinearSampler, SpatialTransformer and Correlation (FlowNet),
with MXNet's sampling grids, its zero padding outside the image and its correlation windows."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Node
from .rules import Shape, ShapeError, shape_rule
from .schema import REQUIRED, OpDef, choice, define, in_range, optional, parse_bool, parse_int, parse_shape

# --- schemas: attributes (types, defaults) --------------------------------------------------------------------
_CUDNN = (optional(parse_bool), None)  # GPU only: no effect on the values

define({
    "GridGenerator": OpDef({"transform_type": (choice("affine", "warp"), REQUIRED),
                            "target_shape": (parse_shape, (0, 0))}),
    "BilinearSampler": OpDef({"cudnn_off": _CUDNN}),
    "SpatialTransformer": OpDef({"target_shape": (parse_shape, (0, 0)),
                                 "transform_type": (choice("affine"), REQUIRED),
                                 "sampler_type": (choice("bilinear"), REQUIRED), "cudnn_off": _CUDNN}),
    "Correlation": OpDef({"kernel_size": (in_range(parse_int, 1), 1), "max_displacement": (in_range(parse_int, 0), 1),
                          "stride1": (in_range(parse_int, 1), 1), "stride2": (in_range(parse_int, 1), 1),
                          "pad_size": (in_range(parse_int, 0), 0), "is_multiply": (parse_bool, True)}),
})


# --- shape rules, and the MXNet semantics both emitters share -------------------------------------------------
def _target(attrs: dict) -> tuple[int, int]:
    target = attrs["target_shape"]
    if len(target) != 2 or min(target) <= 0:
        raise ShapeError(f"target_shape {target} needs a positive height and width")
    return target


def affine_target_grid(attrs: dict, op: str) -> np.ndarray:
    """The (3, height * width) float32 target grid, rows x, y and 1, both from -1 to 1, that the affine matrix
    (batch, 6) multiplies. GridGenerator steps by float32(2 / (size - 1)) in float32; SpatialTransformer
    computes each coordinate in double, then rounds it."""
    height, width = _target(attrs)
    positions = np.arange(height * width)
    with np.errstate(divide="ignore", invalid="ignore"):
        if op == "GridGenerator":  # a size of 1 steps by infinity (NaN coordinates, as in MXNet)
            x_step, y_step = (np.float32(2.0 / (size - 1) if size > 1 else np.inf) for size in (width, height))
            x = np.float32(-1) + (positions % width).astype(np.float32) * x_step
            y = np.float32(-1) + (positions // width).astype(np.float32) * y_step
        else:
            x = (-1.0 + (positions % width) * 2.0 / np.float64(width - 1)).astype(np.float32)
            y = (-1.0 + (positions // width) * 2.0 / np.float64(height - 1)).astype(np.float32)
    return np.stack([x, y, np.ones_like(x)])


def warp_scales(shape: Shape) -> tuple[float, float]:
    """The float32 divisors (width - 1) / 2 and (height - 1) / 2 that turn warp's pixel positions into -1..1."""
    return float(np.float32((shape[3] - 1.0) / 2.0)), float(np.float32((shape[2] - 1.0) / 2.0))


@shape_rule("GridGenerator")
def _grid_generator(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if node.attrs["transform_type"] == "warp":
        if len(data) != 4 or data[1] != 2:
            raise ShapeError(f"data has shape {data}: warp takes a (batch, 2, height, width) flow")
        return [data]
    if len(data) != 2 or data[1] != 6:
        raise ShapeError(f"data has shape {data}: affine takes a (batch, 6) matrix")
    return [(data[0], 2, *_target(node.attrs))]


@shape_rule("BilinearSampler")
def _bilinear_sampler(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, grid = shapes
    if len(data) != 4 or len(grid) != 4 or grid[1] != 2 or grid[0] != data[0]:
        raise ShapeError(f"inputs of shapes {shapes}: BilinearSampler takes 4-D data and a (batch, 2, height, "
                         "width) grid of the same batch")
    return [(*data[:2], *grid[2:])]


@shape_rule("SpatialTransformer")
def _spatial_transformer(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, loc = shapes
    if len(data) != 4 or loc != (data[0], 6):
        raise ShapeError(f"inputs of shapes {shapes}: SpatialTransformer takes 4-D data and a (batch, 6) "
                         "affine matrix")
    return [(*data[:2], *_target(node.attrs))]


@dataclass(frozen=True)
class CorrelationWindows:
    """Where MXNet's Correlation reads: the first input's k x k windows start at ``start`` + ``stride1`` * i of
    the padded inputs (``height`` x ``width`` of them); the second's are shifted by each of ``offsets``, (dy, dx)
    in output channel order."""

    kernel: int
    start: int
    stride1: int
    pad: int
    height: int
    width: int
    offsets: tuple[tuple[int, int], ...]

    def span(self, count: int) -> int:
        """Rows (columns) of the padded input the windows of ``count`` outputs cover."""
        return (count - 1) * self.stride1 + self.kernel


def correlation_windows(attrs: dict, shape: Shape) -> CorrelationWindows:
    a = attrs
    if a["kernel_size"] % 2 == 0:
        raise ShapeError(f"kernel_size {a['kernel_size']}: MXNet's Correlation takes an odd kernel")
    border = a["max_displacement"] + (a["kernel_size"] - 1) // 2
    inner = [size + 2 * a["pad_size"] - 2 * border for size in shape[2:]]
    if min(inner) <= 0:
        raise ShapeError(f"data of shape {shape}: the neighbourhood ({border} on each side, pad {a['pad_size']}) "
                         "leaves no output")
    radius = a["max_displacement"] // a["stride2"]
    steps = [step * a["stride2"] for step in range(-radius, radius + 1)]
    height, width = (-(-size // a["stride1"]) for size in inner)
    return CorrelationWindows(a["kernel_size"], a["max_displacement"], a["stride1"], a["pad_size"], height, width,
                              tuple((dy, dx) for dy in steps for dx in steps))


@shape_rule("Correlation")
def _correlation(node: Node, shapes: list[Shape]) -> list[Shape]:
    first, second = shapes
    if len(first) != 4 or first != second:
        raise ShapeError(f"inputs of shapes {shapes}: Correlation takes two 4-D inputs of one shape")
    windows = correlation_windows(node.attrs, first)
    return [(first[0], len(windows.offsets), windows.height, windows.width)]
