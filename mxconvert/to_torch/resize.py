"""Padding, cropping and resizing: Pad, Crop, AdaptiveAvgPooling2D, BilinearResize2D, UpSampling and ROIPooling,
with MXNet's windows and sampling grids (``semantics.resize``: pad_widths, adaptive_output_size,
resize_output_size)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir import Node
from ..semantics.resize import (IMAGE_FLIP_AXIS, OPENCV_OPS, adaptive_output_size, bilinear_upsampling_window,
                                image_crop_ranges, lighting_shift, negative_pad_width, normalize_terms, numpy_pad_fill,
                                numpy_pad_sources, numpy_pad_widths, opencv_refusal, pad_constant, pad_widths,
                                upsampling_factors)
from .registry import HELPERS, LOWEST_FLOAT32, Lowering, call_source, num, refuse, register

if TYPE_CHECKING:
    from .codegen import TorchContext


_TORCH_PAD_MODE = {"constant": "constant", "edge": "replicate", "reflect": "reflect"}


@register("Pad", check=negative_pad_width)
def pad(ctx: TorchContext, node: Node) -> Lowering:
    """F.pad over the spatial axes (MXNet pads no others), last axis first."""
    pairs = pad_widths(node.attrs, ctx.shape(0))[2:]
    widths = [width for pair in reversed(pairs) for width in pair]
    mode = node.attrs["mode"]
    value = f", value={num(pad_constant(node.attrs))}" if mode == "constant" else ""
    return Lowering(f'F.pad({ctx.input(0)}, {widths}, mode="{_TORCH_PAD_MODE[mode]}"{value})')


HELPERS["mxnet_numpy_pad_axis"] = '''
def mxnet_numpy_pad_axis(x: torch.Tensor, axis: int, sources: List[int], mode: str) -> torch.Tensor:
    """x padded along one axis: each element taken from its source position (for maximum and minimum, the
    axis's extreme appended after the data)."""
    if mode == "maximum":
        x = torch.cat([x, x.amax(axis, keepdim=True)], axis)
    elif mode == "minimum":
        x = torch.cat([x, x.amin(axis, keepdim=True)], axis)
    return torch.index_select(x, axis, torch.tensor(sources, device=x.device))
'''


@register("_npi_pad")
def numpy_pad(ctx: TorchContext, node: Node) -> Lowering:
    """constant: F.pad. Else axis by axis from the last, as MXNet's kernels pad."""
    pairs, mode = numpy_pad_widths(node.attrs, ctx.shape(0)), node.attrs["mode"]
    x = ctx.input(0)
    if mode == "constant":
        widths = [width for pair in reversed(pairs) for width in pair]
        fill = numpy_pad_fill(node.attrs["constant_value"], ctx.dtypes[node.output()])
        return Lowering(f"F.pad({x}, {widths}, value={num(fill)})")
    for axis in reversed(range(len(pairs))):
        (before, after), size = pairs[axis], ctx.shape(0)[axis]
        if before + after:
            sources = numpy_pad_sources(mode, before, after, size)
            x = call_source(ctx.helper("mxnet_numpy_pad_axis"), x, str(axis), str(sources), f'"{mode}"')
    return Lowering(x)


@register("_contrib_AdaptiveAvgPooling2D")
def adaptive_avg_pooling(ctx: TorchContext, node: Node) -> Lowering:
    """PyTorch's adaptive bins are MXNet's: floor(i * size / out) to ceil((i + 1) * size / out)."""
    return Lowering(f"F.adaptive_avg_pool2d({ctx.input(0)}, {adaptive_output_size(node.attrs)})")


@register("_contrib_BilinearResize2D")
def bilinear_resize(ctx: TorchContext, node: Node) -> Lowering:
    """F.interpolate samples MXNet's grid, except where the output has one row (column) without align_corners:
    MXNet samples row 0 (column 0) there, so that row (column) is taken first."""
    x, (height, width) = ctx.input(0), ctx.out_shape()[2:]
    align = node.attrs["align_corners"]
    if not align and (height == 1 or width == 1):
        x = f"{x}[:, :, {':1' if height == 1 else ':'}, {':1' if width == 1 else ':'}]"
    return Lowering(f'F.interpolate({x}, size={(height, width)}, mode="bilinear", align_corners={align})')


@register("UpSampling")
def upsampling(ctx: TorchContext, node: Node) -> Lowering:
    """Nearest: each input interpolated by its integer factors, then summed or concatenated. Bilinear: MXNet's
    depthwise transposed convolution with the weight input (a trainable parameter)."""
    if node.attrs["sample_type"] == "nearest":
        factors = upsampling_factors([ctx.shape(i) for i in range(len(node.inputs))], ctx.out_shape())
        scales = [float(f[0]) if f[0] == f[1] else tuple(map(float, f)) for f in factors]
        scaled = [x if f == (1, 1) else f'F.interpolate({x}, scale_factor={scale}, mode="nearest")'
                  for x, f, scale in zip(map(ctx.input, range(len(factors))), factors, scales)]
        if len(scaled) == 1:
            return Lowering(scaled[0])
        if node.attrs["multi_input_mode"] == "sum":
            return Lowering(" + ".join(scaled))
        return Lowering(f"torch.cat([{', '.join(scaled)}], dim=1)")
    _, stride, padding = bilinear_upsampling_window(node.attrs["scale"])
    return Lowering(f"F.conv_transpose2d({ctx.input(0)}, {ctx.input(1)}, stride={stride}, padding={padding}, "
                    f"groups={ctx.shape(0)[1]})")


HELPERS["mxnet_roi_bins"] = '''
def mxnet_roi_bins(start: torch.Tensor, end: torch.Tensor, pooled: int, size: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """MXNet's ROI pooling bins along one axis for boxes from ``start`` to ``end`` (rounded, one per box): which
    of ``size`` positions each of ``pooled`` bins covers, (boxes, pooled, size), and which bins are empty. Bin p
    spans floor(p * step) to ceil((p + 1) * step) from the start, step = max(end - start + 1, 1) / pooled,
    clipped to the data."""
    step = torch.clamp(end - start + 1, min=1.0).unsqueeze(1) / pooled
    bins = torch.arange(pooled, device=start.device, dtype=start.dtype)
    low = torch.clamp(torch.floor(bins * step) + start.unsqueeze(1), 0.0, float(size))
    high = torch.clamp(torch.ceil((bins + 1) * step) + start.unsqueeze(1), 0.0, float(size))
    positions = torch.arange(size, device=start.device, dtype=start.dtype)
    covers = (positions >= low.unsqueeze(2)) & (positions < high.unsqueeze(2))
    return covers, high <= low
'''
HELPERS["mxnet_roi_pool"] = f'''
def mxnet_roi_pool(x: torch.Tensor, rois: torch.Tensor, pooled_h: int, pooled_w: int, scale: float) -> torch.Tensor:
    """MXNet's ROIPooling: the max over each bin of each box (rows [batch, x1, y1, x2, y2] scaled and rounded half
    away from zero), 0 for an empty bin or a batch index outside ``x``; over each column of bins, then the rows."""
    batch = rois[:, 0].to(torch.int64)
    valid = (batch >= 0) & (batch < x.shape[0])
    boxes = rois[:, 1:5] * scale
    boxes = torch.sign(boxes) * torch.floor(torch.abs(boxes) + 0.5)
    cols, cols_empty = mxnet_roi_bins(boxes[:, 0], boxes[:, 2], pooled_w, x.shape[3])
    rows, rows_empty = mxnet_roi_bins(boxes[:, 1], boxes[:, 3], pooled_h, x.shape[2])
    data = x[torch.where(valid, batch, torch.zeros_like(batch))]
    lowest = torch.full_like(data[:1, :1, :1, :1], {LOWEST_FLOAT32!r})
    by_column = [torch.where(cols[:, None, None, column], data, lowest).amax(3) for column in range(pooled_w)]
    by_width = torch.stack(by_column, 3)
    pooled = torch.where(rows[:, None, :, :, None], by_width.unsqueeze(2), lowest.unsqueeze(4)).amax(3)
    empty = ~valid[:, None, None, None] | rows_empty[:, None, :, None] | cols_empty[:, None, None, :]
    return pooled.masked_fill(empty, 0.0)
'''


@register("ROIPooling")
def roi_pooling(ctx: TorchContext, node: Node) -> Lowering:
    ctx.helper("mxnet_roi_bins")
    pooled_h, pooled_w = node.attrs["pooled_size"]
    return Lowering(f"{ctx.helper('mxnet_roi_pool')}({ctx.input(0)}, {ctx.input(1)}, {pooled_h}, {pooled_w}, "
                    f"{num(node.attrs['spatial_scale'])})")


HELPERS["mxnet_center_crop"] = '''
def mxnet_center_crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """MXNet's ``Crop(center_crop=True)``: the centred ``height`` x ``width`` window of NCHW ``x``."""
    top = (x.shape[2] - height) // 2
    left = (x.shape[3] - width) // 2
    return x[:, :, top : top + height, left : left + width]
'''


@register("Crop")
def crop(ctx: TorchContext, node: Node) -> Lowering:
    x = ctx.input(0)
    if len(node.inputs) > 1:  # the size of the reference input, read at run time
        ref = ctx.input(1)
        height, width = f"{ref}.shape[2]", f"{ref}.shape[3]"
    else:
        height, width = map(str, node.attrs["h_w"])
    if node.attrs["center_crop"]:
        return Lowering(call_source(ctx.helper("mxnet_center_crop"), x, height, width))
    top, left = node.attrs["offset"]
    rows = f"{top}:{top} + {height}" if top else f":{height}"
    cols = f"{left}:{left} + {width}" if left else f":{width}"
    return Lowering(f"{x}[:, :, {rows}, {cols}]")


@register("_image_to_tensor")
def image_to_tensor(ctx: TorchContext, node: Node) -> Lowering:
    """HWC to CHW (each image of a batch), divided by 255 as MXNet divides."""
    lead = list(range(len(ctx.shape(0)) - 3))
    return Lowering(f"{ctx.input(0)}.permute({[*lead, len(lead) + 2, len(lead), len(lead) + 1]}) / 255.0")


@register("_image_normalize")
def image_normalize(ctx: TorchContext, node: Node) -> Lowering:
    mean, std = normalize_terms(node.attrs, ctx.shape(0))
    x = ctx.input(0)
    terms = [f"torch.tensor({values}, dtype={x}.dtype, device={x}.device).reshape(-1, 1, 1)" for values in (mean, std)]
    return Lowering(f"({x} - {terms[0]}) / {terms[1]}")


@register("_image_flip_left_right", "_image_flip_top_bottom")
def image_flip(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"torch.flip({ctx.input(0)}, [{IMAGE_FLIP_AXIS[node.op]}])")


@register("_image_adjust_lighting")
def adjust_lighting(ctx: TorchContext, node: Node) -> Lowering:
    x = ctx.input(0)
    return Lowering(f"{x} + torch.tensor({lighting_shift(node.attrs)}, dtype={x}.dtype)")


@register("_image_crop")
def image_crop(ctx: TorchContext, node: Node) -> Lowering:
    ranges = image_crop_ranges(node.attrs, ctx.shape(0))
    return Lowering(f"{ctx.input(0)}[{', '.join(f'{begin}:{end}' for begin, end in ranges)}]")


refuse(*OPENCV_OPS, reason=opencv_refusal)
