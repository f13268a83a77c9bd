"""Convolution, Deconvolution and Pooling: the windowed ops, with MXNet's window arithmetic from
``semantics.convolution`` (PyTorch layers where they compute MXNet's windows exactly, helpers elsewhere)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..dynamic import all_fixed
from ..ir import Node
from ..semantics.convolution import (DEFORMABLE_CONVOLUTIONS, deconvolution_geometry, deconvolution_refusal,
                                     is_channels_last, is_modulated, negative_pad, pooling_params,
                                     pooling_v1_as_pooling, pooling_v1_divisor, pooling_v1_refusal, sliding_geometry,
                                     window_geometry)
from ..semantics.rules import ShapeError
from .registry import HELPERS, LOWEST_FLOAT32, Lowering, call_source, num, register

if TYPE_CHECKING:
    from .codegen import TorchContext


# --- layers with weights ------------------------------------------------------------------------------------


# --- activations --------------------------------------------------------------------------------------------


# --- pooling ------------------------------------------------------------------------------------------------


# --- element-wise and shape ops -----------------------------------------------------------------------------


HELPERS["mxnet_full_pool"] = '''
def mxnet_full_pool(
    y: torch.Tensor, x: torch.Tensor, kernel: List[int], stride: List[int], pad: List[int], fill: float
) -> torch.Tensor:
    """Restore the last window of MXNet's ``pooling_convention='full'`` that PyTorch's ceil_mode drops when it
    starts in the padding. It covers no data, so MXNet yields ``fill`` there (lowest float for max, else 0)."""
    missing: List[int] = []
    for i in range(len(kernel) - 1, -1, -1):
        span = x.shape[2 + i] + 2 * pad[i] - kernel[i]
        missing.extend([0, (span + stride[i] - 1) // stride[i] + 1 - y.shape[2 + i]])
    return F.pad(y, missing, value=fill)
'''


HELPERS["mxnet_pool1d"] = '''
def mxnet_pool1d(x: torch.Tensor, kernel: int, stride: int, pad: int, convention: str, kind: str) -> torch.Tensor:
    """1-D pooling over MXNet's windows (``semantics.convolution.pooling_windows``, counted from the live size) where PyTorch has
    no exact layer (sum pooling, ``pooling_convention`` ``same``): pad explicitly (lowest float32 for max, else 0),
    pool without padding; avg divides by the data each window covers (``same`` takes no padding)."""
    size = x.shape[2]
    if convention == "same":
        count = (size + stride - 1) // stride
    elif convention == "full":
        count = (size + 2 * pad - kernel + stride - 1) // stride + 1
    else:
        count = (size + 2 * pad - kernel) // stride + 1
    ends = [pad, max((count - 1) * stride + kernel - size - pad, 0)]
    if kind == "max":
        return F.max_pool1d(F.pad(x, ends, value=-3.4028234663852886e38), kernel, stride)
    total = F.avg_pool1d(F.pad(x, ends), kernel, stride) * kernel
    if kind == "avg":
        total = total / (F.avg_pool1d(F.pad(torch.ones_like(x[:1, :1]), ends), kernel, stride) * kernel)
    return total
'''


HELPERS["mxnet_cube_root"] = '''
def mxnet_cube_root(x: torch.Tensor) -> torch.Tensor:
    """The real cube root (negative for negative x), as MXNet's lp pooling with p_value=3 takes it."""
    return torch.sign(x) * torch.abs(x).pow(1.0 / 3.0)
'''


HELPERS["MxnetPackedConv2d"] = '''
class MxnetPackedConv2d(nn.Conv2d):
    """``nn.Conv2d`` for a small convolution of one image, which PyTorch would give its slow native kernel on the
    CPU: there, without gradients, oneDNN computes it from a copy of the weight in its own blocked layout (as
    MXNet keeps its weights), made again when the weight or the input size changes and never saved or copied.
    Elsewhere (gradients, other devices and types, torch.jit, torch.compile, torch.export) it is ``nn.Conv2d``."""

    __jit_ignored_attributes__ = ["packed"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return self._conv_forward(x, self.weight, self.bias)
        if not self.packs():
            return self._conv_forward(x, self.weight, self.bias)
        return self.packed_forward(x)

    @torch.jit.unused
    def packs(self) -> bool:
        return not (torch.is_grad_enabled() or torch.jit.is_tracing() or torch.compiler.is_compiling()
                    or self.weight.device.type != "cpu" or self.weight.dtype != torch.float32
                    or not torch.backends.mkldnn.is_available())

    @torch.jit.unused
    def packed_forward(self, x: torch.Tensor) -> torch.Tensor:
        key = (tuple(x.shape), self.weight.data_ptr(), self.weight._version)
        packed = self.__dict__.get("packed")
        if packed is None or packed[0] != key:
            weight = self.weight.contiguous().to_mkldnn()
            packed = self.packed = (key, torch._C._nn.mkldnn_reorder_conv2d_weight(
                weight, self.padding, self.stride, self.dilation, self.groups, list(x.shape)))
        return torch.ops.mkldnn._convolution_pointwise(x.contiguous(), packed[1], self.bias, self.padding,
                                                       self.stride, self.dilation, self.groups, "none", [],
                                                       "").contiguous()

    def __getstate__(self):
        return {key: value for key, value in self.__dict__.items() if key != "packed"}
'''
NATIVE_CONV_VALUES = 20480  # ATen's most input values for which it takes its native kernel at batch 1


def packed_convolution(ctx: TorchContext, node: Node) -> bool:
    """Whether a 2-D convolution of fixed sizes is an ``MxnetPackedConv2d``: one PyTorch would compute with its
    native kernel on the CPU (ATen's choice for float32 at batch 1, one group, no kernel side past 3 on both axes
    and at most ``NATIVE_CONV_VALUES`` input values; else oneDNN), but for a 1x1 kernel (a matrix product, where
    oneDNN is not faster on all sizes)."""
    shape, kernel = ctx.shape(0), node.attrs["kernel"]
    fixed = all_fixed(ctx.live(node.inputs[0]))
    return (fixed and len(kernel) == 2 and shape[0] == 1 and node.attrs["num_group"] == 1
            and not (kernel[0] > 3 and kernel[1] > 3) and math.prod(shape) <= NATIVE_CONV_VALUES
            and tuple(kernel) != (1, 1))


def _layout_check(node: Node) -> str | None:
    layout = node.attrs["layout"]
    return None if not layout or layout.startswith("NC") else f"layout {layout}"


@register("Convolution", check=lambda n: negative_pad(n) or _layout_check(n) or (None if 1 <= len(n.attrs["kernel"]) <= 3
                                                               else f"{len(n.attrs['kernel'])}-D kernel"),
          computed_weights=True)
def convolution(ctx: TorchContext, node: Node) -> Lowering:
    """``nn.Conv{1,2,3}d``; ``F.conv{1,2,3}d`` where a weight is computed in the graph; ``MxnetPackedConv2d`` for a
    small 2-D one of one image (:func:`packed_convolution`)."""
    a = node.attrs
    rank = len(a["kernel"])
    options: dict[str, object] = {}
    geometry = window_geometry(a, rank)
    for key, value, default in zip(("stride", "padding", "dilation"), geometry, (1, 0, 1)):
        if any(v != default for v in value):
            options[key] = value
    if a["num_group"] != 1:
        options["groups"] = a["num_group"]
    if not ctx.all_weights_stored():
        bias = "None" if a["no_bias"] else ctx.input(2)
        return Lowering(call_source(f"F.conv{rank}d", ctx.input(0), ctx.input(1), bias, **options))
    weight = ctx.weight(1)
    bias = None if a["no_bias"] else ctx.weight(2)
    options = {"kernel_size": tuple(a["kernel"]), **options}
    if bias is None:
        options["bias"] = False
    kind = ctx.helper("MxnetPackedConv2d") if packed_convolution(ctx, node) else f"nn.Conv{rank}d"
    layer = call_source(kind, str(weight.shape[1] * a["num_group"]), str(a["num_filter"]), **options)
    state = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
    return Lowering(f"{ctx.layer}({ctx.input(0)})", layer, state)


def _pooling_check(node: Node) -> str | None:
    a = node.attrs
    if negative_pad(node):
        return negative_pad(node)
    if a["global_pool"]:
        return None
    rank = len(a["kernel"])
    if not 1 <= rank <= 3:
        return f"{rank}-D kernel"
    try:
        kernel, _, pad = pooling_params(a, rank)
    except ShapeError:
        return None  # shape inference reports it, naming the node
    if not _pads_explicitly(a) and any(p > k // 2 for p, k in zip(pad, kernel)):
        return "pad larger than half the kernel"
    return None


def _pads_explicitly(attrs: dict) -> bool:
    """1-D pooling PyTorch's layers cannot do exactly (sum, lp, ``same``): the ``mxnet_pool1d`` helper instead."""
    return len(attrs["kernel"]) == 1 and (attrs["pool_type"] in ("sum", "lp") or attrs["pooling_convention"] == "same")


_ROOTS = {1: "{}", 2: "torch.sqrt({})"}


@register("Pooling", check=_pooling_check)
def pooling(ctx: TorchContext, node: Node) -> Lowering:
    """MXNet's windows (``pooling_windows``) on channel-first data; lp pools ``x ** p`` as sum, then the root."""
    a = node.attrs
    x, kind = ctx.input(0), a["pool_type"]
    last = is_channels_last(a["layout"])
    if last:
        x = f"{x}.movedim(-1, 1)"
    if kind == "lp" and a["p_value"] > 1:
        x = f"{x}.pow({a['p_value']})"
    lowering = _global_pooling(x, kind, len(ctx.shape(0))) if a["global_pool"] else _window_pooling(ctx, x, a)
    if kind == "lp":
        root = _ROOTS.get(a["p_value"]) or ctx.helper("mxnet_cube_root") + "({})"
        lowering.expr = root.format(lowering.expr)
    if last:
        lowering.expr = f"{lowering.expr}.movedim(1, -1)"
    return lowering


@register("Pooling_v1", check=lambda n: pooling_v1_refusal(n) or _pooling_check(pooling_v1_as_pooling(n)))
def pooling_v1(ctx: TorchContext, node: Node) -> Lowering:
    """MXNet 0.x's pooling: its windows' pooling, avg sums divided by the whole kernel."""
    lowering = pooling(ctx, pooling_v1_as_pooling(node))
    divisor = pooling_v1_divisor(node)
    if divisor != 1:
        lowering.expr = f"{lowering.expr} * {num(1.0 / divisor)}"
    return lowering


def _global_pooling(x: str, kind: str, rank: int) -> Lowering:
    reduce = {"max": "torch.amax", "avg": "torch.mean"}.get(kind, "torch.sum")
    return Lowering(call_source(reduce, x, dim=list(range(2, rank)), keepdim=True))


def _window_pooling(ctx: TorchContext, x: str, a: dict) -> Lowering:
    """max, avg or sum (also for lp) pooling of channel-first ``x``: a PyTorch layer where one is exact."""
    kind = "sum" if a["pool_type"] == "lp" else a["pool_type"]
    rank = len(a["kernel"])
    kernel, stride, pad = pooling_params(a, rank)
    convention = a["pooling_convention"]
    if _pads_explicitly(a):
        return Lowering(call_source(ctx.helper("mxnet_pool1d"), x, str(kernel[0]), str(stride[0]), str(pad[0]),
                              repr(convention), repr(kind)))
    full = convention == "full"
    options: dict[str, object] = {"kernel_size": tuple(kernel), "stride": tuple(stride)}
    if any(pad):
        options["padding"] = tuple(pad)
    if full:
        options["ceil_mode"] = True
    if kind == "avg" and a["count_include_pad"] is False:
        options["count_include_pad"] = False
    if kind == "sum":
        options["divisor_override"] = 1
    layer = call_source(f"nn.{'MaxPool' if kind == 'max' else 'AvgPool'}{rank}d", **options)
    expr = f"{ctx.layer}({x})"
    # PyTorch drops a last window starting in the padding only if it can start there: stride > kernel - pad.
    if full and any(s >= k - p + 1 for k, s, p in zip(kernel, stride, pad)):
        fill = num(LOWEST_FLOAT32) if kind == "max" else "0.0"
        expr = call_source(ctx.helper("mxnet_full_pool"), expr, x, str(kernel), str(stride), str(pad), fill)
    return Lowering(expr, layer)


@register("Deconvolution", check=deconvolution_refusal)
def deconvolution(ctx: TorchContext, node: Node) -> Lowering:
    """``nn.ConvTranspose*d``: MXNet's pad crops both ends of the full output, adj (output_padding) extends its
    end; the weight is (in channels, out channels / groups, *kernel) in both."""
    a = node.attrs
    rank = len(a["kernel"])
    stride, pad, adj, dilate = deconvolution_geometry(a, ctx.shape(0)[2:])
    options = [f"kernel_size={tuple(a['kernel'])}"]
    for key, value, default in (("stride", stride, 1), ("padding", pad, 0), ("output_padding", adj, 0),
                                ("dilation", dilate, 1)):
        if any(v != default for v in value):
            options.append(f"{key}={tuple(value)}")
    if a["num_group"] != 1:
        options.append(f"groups={a['num_group']}")
    state = {"weight": ctx.weight(1)}
    if a["no_bias"]:
        options.append("bias=False")
    else:
        state["bias"] = ctx.weight(2)
    layer = f"nn.ConvTranspose{rank}d({ctx.shape(0)[1]}, {a['num_filter']}, {', '.join(options)})"
    return Lowering(f"{ctx.layer}({ctx.input(0)})", layer, state)


HELPERS["mxnet_deformable_conv"] = '''
def mxnet_deformable_conv(
    x: torch.Tensor, offset: torch.Tensor, mask: Optional[torch.Tensor], weight: torch.Tensor,
    bias: Optional[torch.Tensor], stride: List[int], pad: List[int], dilate: List[int], groups: int,
    deformable_groups: int
) -> torch.Tensor:
    """MXNet's 2-D deformable convolution: each kernel tap sampled bilinearly at its position moved by ``offset``
    (and scaled by ``mask``, DCNv2), then one matrix product per group. DCNv1 samples where 0 <= y < H and
    0 <= x < W, its last row and column read alone; DCNv2 where -1 < y < H and -1 < x < W, zeros past the edges;
    elsewhere both read 0. The output has the offset's height and width."""
    n, c, h, w = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    out_h, out_w = offset.shape[2], offset.shape[3]
    kh, kw = weight.shape[2], weight.shape[3]
    taps, positions = kh * kw, out_h * out_w
    ky = torch.arange(kh, device=x.device) * dilate[0]
    kx = torch.arange(kw, device=x.device) * dilate[1]
    oy = torch.arange(out_h, device=x.device) * stride[0] - pad[0]
    ox = torch.arange(out_w, device=x.device) * stride[1] - pad[1]
    rows = (ky.view(kh, 1, 1, 1) + oy.view(1, 1, out_h, 1)).expand(kh, kw, out_h, out_w).reshape(taps, positions)
    cols = (kx.view(1, kw, 1, 1) + ox.view(1, 1, 1, out_w)).expand(kh, kw, out_h, out_w).reshape(taps, positions)
    moved = offset.reshape(n, deformable_groups, taps, 2, positions)
    y = rows.to(x.dtype) + moved[:, :, :, 0]
    x_ = cols.to(x.dtype) + moved[:, :, :, 1]
    if mask is None:
        inside = (y >= 0) & (x_ >= 0) & (y < h) & (x_ < w)
        y = torch.clamp(y, max=h - 1)
        x_ = torch.clamp(x_, max=w - 1)
    else:
        inside = (y > -1) & (x_ > -1) & (y < h) & (x_ < w)
    y = torch.where(inside, y, torch.zeros_like(y))
    x_ = torch.where(inside, x_, torch.zeros_like(x_))
    y0, x0 = torch.floor(y), torch.floor(x_)
    ly, lx = y - y0, x_ - x0
    hy, hx = 1 - ly, 1 - lx
    span = w + 2
    corner = ((y0.long() + 1) * span + x0.long() + 1).reshape(n, deformable_groups, 1, taps * positions)
    grouped = c // deformable_groups
    corner = corner.expand(n, deformable_groups, grouped, taps * positions)
    padded = F.pad(x, [1, 1, 1, 1]).reshape(n, deformable_groups, grouped, (h + 2) * span)
    shape = [n, deformable_groups, 1, taps * positions]
    value = (torch.reshape(hy * hx, shape) * torch.gather(padded, 3, corner)
             + torch.reshape(hy * lx, shape) * torch.gather(padded, 3, corner + 1)
             + torch.reshape(ly * hx, shape) * torch.gather(padded, 3, corner + span)
             + torch.reshape(ly * lx, shape) * torch.gather(padded, 3, corner + span + 1))
    value = torch.where(inside.reshape(shape), value, torch.zeros_like(value))
    if mask is not None:
        value = value * mask.reshape(shape)
    columns = value.reshape(n, groups, c // groups * taps, positions)
    out = torch.matmul(weight.reshape(groups, -1, c // groups * taps), columns).reshape(n, -1, out_h, out_w)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
'''


@register(*DEFORMABLE_CONVOLUTIONS)
def deformable_convolution(ctx: TorchContext, node: Node) -> Lowering:
    """The ``mxnet_deformable_conv`` helper, its weight and bias parameters of an ``nn.Module``."""
    a = node.attrs
    stride, pad, dilate = window_geometry(a, 2)
    slot = 3 if is_modulated(node) else 2
    state = {"weight": ctx.weight(slot)}
    setup = [f"{ctx.layer}.weight = nn.Parameter(torch.empty({list(state['weight'].shape)}))"]
    if not a["no_bias"]:
        state["bias"] = ctx.weight(slot + 1)
        setup.append(f"{ctx.layer}.bias = nn.Parameter(torch.empty({list(state['bias'].shape)}))")
    mask = ctx.input(2) if is_modulated(node) else "None"
    bias = "None" if a["no_bias"] else f"{ctx.layer}.bias"
    expr = call_source(ctx.helper("mxnet_deformable_conv"), ctx.input(0), ctx.input(1), mask, f"{ctx.layer}.weight",
                       bias, str(list(stride)), str(list(pad)), str(list(dilate)), str(a["num_group"]),
                       str(a["num_deformable_group"]))
    return Lowering(expr, "nn.Module()", state, setup)


@register("im2col", "col2im")
def sliding_columns(ctx: TorchContext, node: Node) -> Lowering:
    """``F.unfold`` and ``F.fold``: MXNet's column layout and its summed overlaps."""
    kernel, stride, pad, dilate = sliding_geometry(node.attrs)
    options = f"{kernel}, dilation={dilate}, padding={pad}, stride={stride}"
    if node.op == "im2col":
        return Lowering(f"F.unfold({ctx.input(0)}, {options})")
    return Lowering(f"F.fold({ctx.input(0)}, {tuple(node.attrs['output_size'])}, {options})")
