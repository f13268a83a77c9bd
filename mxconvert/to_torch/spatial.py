"""Spatial transformers and flow: GridGenerator, BilinearSampler, SpatialTransformer and Correlation in plain
torch, as MXNet computes them (``semantics.spatial``: affine_target_grid, correlation_windows). ``F.grid_sample``
samples the same points but computes the pixel positions in another order, so the sampler is written out."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir import Node
from ..semantics.spatial import affine_target_grid, correlation_windows
from .registry import HELPERS, Lowering, register

if TYPE_CHECKING:
    from .codegen import TorchContext


HELPERS["mxnet_affine_grid"] = '''
def mxnet_affine_grid(theta: torch.Tensor, target: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The sampling grid (batch, 2, height, width) of the affine matrices ``theta`` (batch, 6): each row of
    2 x 3 times the target grid's columns (x, y, 1)."""
    return torch.matmul(theta.reshape(-1, 2, 3), target.to(theta.dtype)).reshape(-1, 2, height, width)
'''
HELPERS["mxnet_warp_grid"] = '''
def mxnet_warp_grid(flow: torch.Tensor) -> torch.Tensor:
    """MXNet's warp grid: each pixel's position (x, y) plus the ``flow`` (batch, 2, height, width), divided by
    (size - 1) / 2, minus 1."""
    height, width = flow.shape[2], flow.shape[3]
    cols = torch.arange(width, dtype=flow.dtype, device=flow.device).expand(height, width)
    rows = torch.arange(height, dtype=flow.dtype, device=flow.device).unsqueeze(1).expand(height, width)
    scales = torch.tensor([(width - 1.0) / 2.0, (height - 1.0) / 2.0], dtype=flow.dtype, device=flow.device)
    return (flow + torch.stack([cols, rows])) / scales.reshape(2, 1, 1) - 1
'''
HELPERS["mxnet_pixels"] = '''
def mxnet_pixels(flat: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The pixels of ``flat`` (batch, channels, height * width) at whole-number ``rows`` and ``cols`` (batch,
    points), 0 where outside the image."""
    inside = (rows >= 0) & (rows <= height - 1) & (cols >= 0) & (cols <= width - 1)
    index = torch.where(inside, rows * width + cols, torch.zeros_like(rows)).to(torch.int64)
    values = flat.gather(2, index.unsqueeze(1).expand(-1, flat.shape[1], -1))
    return torch.where(inside.unsqueeze(1), values, torch.zeros_like(values))
'''
HELPERS["mxnet_bilinear_sample"] = '''
def mxnet_bilinear_sample(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """MXNet's BilinearSampler: NCHW ``x`` at ``grid`` (batch, 2, out height, out width; x then y, -1 and 1 the
    first and last pixels), the four neighbours weighted as MXNet weighs them, those outside the image 0."""
    height, width = x.shape[2], x.shape[3]
    cols = ((grid[:, 0] + 1) * (width - 1) / 2).flatten(1)
    rows = ((grid[:, 1] + 1) * (height - 1) / 2).flatten(1)
    left, top = torch.floor(cols), torch.floor(rows)
    left_w = (1 - (cols - left)).unsqueeze(1)
    top_w = (1 - (rows - top)).unsqueeze(1)
    flat = x.flatten(2)
    out = (mxnet_pixels(flat, top, left, height, width) * top_w * left_w
           + mxnet_pixels(flat, top, left + 1, height, width) * top_w * (1 - left_w)
           + mxnet_pixels(flat, top + 1, left, height, width) * (1 - top_w) * left_w
           + mxnet_pixels(flat, top + 1, left + 1, height, width) * (1 - top_w) * (1 - left_w))
    return out.reshape(x.shape[0], x.shape[1], grid.shape[2], grid.shape[3])
'''
HELPERS["mxnet_correlation"] = '''
def mxnet_correlation(first: torch.Tensor, second: torch.Tensor, kernel: int, start: int, stride1: int, pad: int,
                      offsets: List[Tuple[int, int]], multiply: bool) -> torch.Tensor:
    """MXNet's Correlation: the zero-padded inputs compared over k x k windows (from ``start``, every
    ``stride1``, as many as fit ``start`` + the kernel's radius from each edge), the second's window shifted by
    each offset (dy, dx); the sum of products (or of absolute differences) over the window and the channels,
    divided by their count."""
    first = F.pad(first, [pad, pad, pad, pad])
    second = F.pad(second, [pad, pad, pad, pad])
    border = start + (kernel - 1) // 2
    out_rows = (first.shape[2] - 2 * border + stride1 - 1) // stride1
    out_cols = (first.shape[3] - 2 * border + stride1 - 1) // stride1
    rows, cols = (out_rows - 1) * stride1 + kernel, (out_cols - 1) * stride1 + kernel
    window = first[:, :, start : start + rows, start : start + cols]
    maps: List[torch.Tensor] = []
    for dy, dx in offsets:
        shifted = second[:, :, start + dy : start + dy + rows, start + dx : start + dx + cols]
        maps.append((window * shifted if multiply else (window - shifted).abs()).sum(1))
    return F.avg_pool2d(torch.stack(maps, 1), kernel, stride1, divisor_override=kernel * kernel * first.shape[1])
'''


def _target_buffer(ctx: TorchContext, node: Node) -> tuple[str, dict, list[str]]:
    """The affine target grid as the node's buffer ``target``: its expression, state and setup."""
    target = affine_target_grid(node.attrs, node.op)
    return (f"self.{ctx.name}.target", {"target": target},
            [f"self.{ctx.name}.register_buffer('target', torch.empty({list(target.shape)}))"])


@register("GridGenerator")
def grid_generator(ctx: TorchContext, node: Node) -> Lowering:
    if node.attrs["transform_type"] == "warp":
        return Lowering(f"{ctx.helper('mxnet_warp_grid')}({ctx.input(0)})")
    target, state, setup = _target_buffer(ctx, node)
    height, width = node.attrs["target_shape"]
    return Lowering(f"{ctx.helper('mxnet_affine_grid')}({ctx.input(0)}, {target}, {height}, {width})",
                    "nn.Module()", state, setup)


@register("BilinearSampler")
def bilinear_sampler(ctx: TorchContext, node: Node) -> Lowering:
    ctx.helper("mxnet_pixels")
    return Lowering(f"{ctx.helper('mxnet_bilinear_sample')}({ctx.input(0)}, {ctx.input(1)})")


@register("SpatialTransformer")
def spatial_transformer(ctx: TorchContext, node: Node) -> Lowering:
    """The affine grid of the target shape, then the bilinear sampler."""
    ctx.helper("mxnet_pixels")
    target, state, setup = _target_buffer(ctx, node)
    height, width = node.attrs["target_shape"]
    grid = f"{ctx.helper('mxnet_affine_grid')}({ctx.input(1)}, {target}, {height}, {width})"
    return Lowering(f"{ctx.helper('mxnet_bilinear_sample')}({ctx.input(0)}, {grid})", "nn.Module()", state, setup)


@register("Correlation")
def correlation(ctx: TorchContext, node: Node) -> Lowering:
    w = correlation_windows(node.attrs, ctx.shape(0))
    return Lowering(f"{ctx.helper('mxnet_correlation')}({ctx.input(0)}, {ctx.input(1)}, {w.kernel}, {w.start}, "
                    f"{w.stride1}, {w.pad}, {list(w.offsets)}, "
                    f"{node.attrs['is_multiply']})")
