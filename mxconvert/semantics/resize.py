"""Padding, cropping and resizing: Pad, Crop, UpSampling, ``_contrib_BilinearResize2D``,
``_contrib_AdaptiveAvgPooling2D`` and ROIPooling, with MXNet's windows, sampling grids and sizes."""
from __future__ import annotations

import math
import re

import numpy as np

from ..ir import Node
from .rules import Shape, ShapeError, expect, shape_rule
from .schema import (COUNT, OpDef, REQUIRED, SHAPE_EMPTY, alias, choice, define, in_range, leading, none_as_unknown,
                     optional, parse_bool, parse_float, parse_float32, parse_float32_tuple, parse_int, parse_shape,
                     parse_str, positive_sizes)

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
RESIZE_MODES = ("size", "odd_scale", "like", "to_even_down", "to_even_up", "to_odd_down", "to_odd_up")


define({
    "UpSampling": OpDef(
        {
            "scale": (COUNT, REQUIRED),
            "num_filter": (parse_int, 0),
            "sample_type": (choice("bilinear", "nearest"), REQUIRED),
            "multi_input_mode": (choice("concat", "sum"), "concat"),
            "num_args": (COUNT, REQUIRED),
            "workspace": (parse_int, 512),
        }
    ),
    "Crop": OpDef(
        {
            "num_args": (in_range(parse_int, 1, 3), REQUIRED),
            "offset": (leading(parse_shape, 2), (0, 0)),
            "h_w": (leading(parse_shape, 2), (0, 0)),
            "center_crop": (parse_bool, False),
        }
    ),
    "Pad": OpDef({"mode": (choice("constant", "edge", "reflect"), REQUIRED),
                  "pad_width": (none_as_unknown(parse_shape), REQUIRED), "constant_value": (parse_float, 0.0)}),
    "_contrib_AdaptiveAvgPooling2D": OpDef({"output_size": (optional(none_as_unknown(parse_shape)), ())}),
    "_contrib_BilinearResize2D": OpDef({
        "height": (in_range(parse_int, 1), 1), "width": (in_range(parse_int, 1), 1),
        "scale_height": (optional(parse_float32), None), "scale_width": (optional(parse_float32), None),
        "mode": (choice(*RESIZE_MODES), "size"), "align_corners": (parse_bool, True)}),
    "ROIPooling": OpDef({"pooled_size": (positive_sizes(parse_shape), REQUIRED),
                         "spatial_scale": (in_range(parse_float32, 0.0, 1.0), REQUIRED)}),
})


def parse_pad_pairs(text: str) -> tuple[tuple[int, ...], ...]:
    """NumPy pad's ``pad_width`` as MXNet writes it, ``((1, 2), (0, 3))``: a tuple of tuples of sizes, none
    negative (MXNet would read its kernels' input out of bounds)."""
    stripped = text.strip()
    if stripped[:1] + stripped[-1:] not in ("()", "[]"):
        raise ValueError(f"not a tuple of tuples: {text[:80]!r}")
    rows = re.findall(r"[(\[]([^()\[\]]*)[)\]]", stripped[1:-1])
    pairs = tuple(parse_shape(f"({row})") for row in rows)
    if any(size is None or size < 0 for pair in pairs for size in pair):
        raise ValueError(f"pad_width {text[:80]!r}: only sizes of 0 and more are converted")
    return pairs


NUMPY_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "maximum", "minimum")
# reflect_type: any text, as MXNet's kernels never read it ("odd" too reflects NumPy's "even" way)
define({"_npi_pad": OpDef({"pad_width": (parse_pad_pairs, REQUIRED), "mode": (choice(*NUMPY_PAD_MODES), "constant"),
                           "constant_value": (parse_float, 0.0), "reflect_type": (parse_str, "even")})})
alias("pad", "Pad")
alias("_npx_roi_pooling", "ROIPooling")


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
@shape_rule("UpSampling")
def _upsampling(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    if a["sample_type"] != "nearest":
        raise ShapeError("only nearest upsampling is supported")
    if a["num_args"] != len(shapes):
        raise ShapeError(f"num_args={a['num_args']} with {len(shapes)} inputs")
    if any(len(shape) != 4 for shape in shapes):
        raise ShapeError(f"inputs of shapes {shapes}: UpSampling takes 4-D NCHW data")
    first = shapes[0]
    if a["multi_input_mode"] == "sum" and any(shape[1] != first[1] for shape in shapes):
        raise ShapeError(f"multi_input_mode sum needs the same channels in every input, not {shapes}")
    height, width = first[2] * a["scale"], first[3] * a["scale"]
    for shape in shapes[1:]:
        if height % shape[2] or width % shape[3]:
            raise ShapeError(f"input {shape} does not scale to {height}x{width}")
    if a["multi_input_mode"] == "sum" and len(shapes) > 1:
        return [(first[0], first[1], height, width)]
    return [(first[0], sum(s[1] for s in shapes), height, width)]


def upsampling_factors(shapes: list[Shape], out: Shape) -> list[tuple[int, int]]:
    """Nearest UpSampling's integer height and width factors for each input: each is scaled to the output's
    size."""
    return [(out[2] // shape[2], out[3] // shape[3]) for shape in shapes]


@shape_rule("Crop")
def _crop(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if node.attrs["num_args"] != len(shapes) or len(shapes) > 2:
        raise ShapeError(f"num_args={node.attrs['num_args']} with {len(shapes)} inputs: Crop takes the data and "
                         "h_w, or the data and a reference input")
    if any(len(shape) != 4 for shape in shapes):
        raise ShapeError(f"inputs of shapes {shapes}: Crop takes 4-D NCHW data")
    if len(shapes) == 1 and len(node.attrs["h_w"]) != 2:
        raise ShapeError(f"h_w {node.attrs['h_w']} needs a height and a width")
    if not node.attrs["center_crop"] and len(node.attrs["offset"]) != 2:
        raise ShapeError(f"offset {node.attrs['offset']} needs a top and a left")
    height, width = shapes[1][2:4] if len(shapes) > 1 else node.attrs["h_w"]
    top, left = crop_offsets(node, data, (height, width))
    if top + height > data[2] or left + width > data[3] or min(height, width) <= 0 or min(top, left) < 0:
        raise ShapeError(f"crop of {height}x{width} at ({top}, {left}) does not fit input {data}")
    return [(data[0], data[1], height, width)]


def crop_offsets(node: Node, data: Shape, size: tuple[int, int]) -> tuple[int, int]:
    """Top-left corner of MXNet's Crop: centred when ``center_crop``, else ``offset``."""
    if node.attrs["center_crop"]:
        return (data[2] - size[0]) // 2, (data[3] - size[1]) // 2
    return tuple(node.attrs["offset"])


def pad_widths(attrs: dict, shape: Shape) -> list[tuple[int, int]]:
    """Pad's ``pad_width`` as (before, after) per axis: MXNet pads 4-D and 5-D data on the spatial axes only,
    and reflects only by less than the size of the axis."""
    widths = attrs["pad_width"]
    if len(shape) not in (4, 5):
        raise ShapeError(f"data has shape {shape}: MXNet's Pad takes 4-D or 5-D data")
    if len(widths) != 2 * len(shape):
        raise ShapeError(f"pad_width {widths} does not have two values for each of the {len(shape)} axes")
    pairs = list(zip(widths[::2], widths[1::2]))
    if any(pairs[0] + pairs[1]):
        raise ShapeError(f"pad_width {widths}: MXNet pads neither the batch nor the channel axis")
    if attrs["mode"] == "reflect" and any(max(pair) >= size for pair, size in zip(pairs, shape)):
        raise ShapeError(f"pad_width {widths}: reflect pads by less than the size of each axis {shape}")
    return pairs


def pad_constant(attrs: dict) -> float:
    """Pad's ``constant_value`` (a double) as MXNet writes it into float32 data: past float32's range, infinite."""
    with np.errstate(over="ignore"):
        return float(np.float32(attrs["constant_value"]))


def negative_pad_width(node: Node) -> str | None:
    """The reason a Pad with a negative width (MXNet crops there) is not converted, or None."""
    return f"negative pad_width {node.attrs['pad_width']}" if min(node.attrs["pad_width"]) < 0 else None


@shape_rule("Pad")
def _pad(node: Node, shapes: list[Shape]) -> list[Shape]:
    pairs = pad_widths(node.attrs, shapes[0])
    return [tuple(size + before + after for size, (before, after) in zip(shapes[0], pairs))]


def numpy_pad_widths(attrs: dict, shape: Shape) -> list[tuple[int, int]]:
    """``np.pad``'s (before, after) per axis as MXNet reads ``pad_width``: row i for axis i, but 1-D data takes
    its widths from the first value of rows 0 and 1; a missing row (MXNet reads past the tuple) is refused."""
    rows = attrs["pad_width"]
    if len(shape) == 1 and len(rows) >= 2 and all(rows[:2]):
        return [(rows[0][0], rows[1][0])]
    if len(shape) > 1 and len(rows) >= len(shape) and all(len(row) >= 2 for row in rows[:len(shape)]):
        return [(row[0], row[1]) for row in rows[:len(shape)]]
    raise ShapeError(f"pad_width {rows} gives no (before, after) widths MXNet reads for data of shape {shape}")


def numpy_pad_sources(mode: str, before: int, after: int, size: int) -> list[int]:
    """The position along one axis of each padded element's source among the ``size`` original ones, as
    MXNet's kernels find it (``edge``, ``reflect`` and ``symmetric`` repeat the reflection past one period); for
    ``maximum``/``minimum`` index ``size`` is the axis's extreme, appended after the data."""
    def source(distance: int, leading: bool) -> int:
        if mode in ("maximum", "minimum"):
            return size
        if mode == "edge" or size == 1:
            return 0 if leading or mode != "edge" else size - 1
        period = size - 1 if mode == "reflect" else size
        turn = (distance - 1) // period
        position = (distance + turn) % size if mode == "reflect" else (distance % size or size) - 1
        return position if (turn % 2 == 0) == leading else size - 1 - position

    return [source(before - p, True) for p in range(before)] + list(range(size)) + \
        [source(p + 1, False) for p in range(after)]


def numpy_pad_fill(value: float, dtype: str) -> float:
    """``constant_value`` as MXNet writes it into data of ``dtype``: nonzero as True, truncated for integers."""
    if dtype == "bool":
        return float(value != 0)
    return float(math.trunc(value)) if "int" in dtype else value


@shape_rule("_npi_pad")
def _numpy_pad(node: Node, shapes: list[Shape]) -> list[Shape]:
    pairs = numpy_pad_widths(node.attrs, shapes[0])
    return [tuple(size + before + after for size, (before, after) in zip(shapes[0], pairs))]


def adaptive_output_size(attrs: dict) -> tuple[int, int]:
    """AdaptiveAvgPooling2D's output height and width: one value for both, two, or 1 x 1 for any other count
    (``None``, as MXNet reads it, none)."""
    size = attrs["output_size"] or ()
    return (size[0], size[0]) if len(size) == 1 else tuple(size) if len(size) == 2 else (1, 1)


def adaptive_bins(size: int, count: int) -> list[tuple[int, int]]:
    """MXNet's adaptive pooling bins over ``size`` positions: bin i spans floor(i * size / count) to
    ceil((i + 1) * size / count), so bins overlap where ``count`` does not divide ``size``."""
    return [(i * size // count, -(-(i + 1) * size // count)) for i in range(count)]


@shape_rule("_contrib_AdaptiveAvgPooling2D")
def _adaptive_avg_pooling(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if len(data) != 4:
        raise ShapeError(f"data has shape {data}: AdaptiveAvgPooling2D takes 4-D NCHW data")
    return [(*data[:2], *adaptive_output_size(node.attrs))]


def _int16(value: int) -> int:
    """``value`` stored in MXNet's int16 output sizes of BilinearResize2D (wrapping as C++ does)."""
    return (value + 2**15) % 2**16 - 2**15


def _scaled(scale: float | None, size: int) -> int:
    """``int(scale * size)`` in float32, as MXNet computes a scaled output size (a product past int32, infinite
    included, converts to int32's lowest value on x86); a missing scale is refused (MXNet fails on it: 'bad
    optional access')."""
    if scale is None:
        raise ShapeError("the mode needs both scales, scale_height and scale_width")
    with np.errstate(over="ignore", invalid="ignore"):
        product = np.float32(scale) * np.float32(size)
    return int(product) if abs(product) < 2**31 else -2**31


def resize_output_size(attrs: dict, data: Shape, like: Shape | None) -> tuple[int, int]:
    """BilinearResize2D's output height and width for ``mode``. MXNet reads ``scale_height`` to decide both
    sizes of mode ``size`` (with it, both scales are needed; without it, height and width are used)."""
    mode, height, width = attrs["mode"], data[2], data[3]
    if mode == "size":
        scaled = attrs["scale_height"] is not None
        sizes = ((_scaled(attrs["scale_height"], height), _scaled(attrs["scale_width"], width)) if scaled
                 else (attrs["height"], attrs["width"]))
    elif mode == "odd_scale":
        sizes = tuple(_scaled(scale, size) if size % 2 == 0 else _int16(_scaled(scale, size - 1)) + 1
                      for scale, size in ((attrs["scale_height"], height), (attrs["scale_width"], width)))
    elif mode == "like":
        sizes = like[2:4]
    else:
        parity = 0 if mode.startswith("to_even") else 1
        step = -1 if mode.endswith("down") else 1
        sizes = tuple(size if size % 2 == parity else size + step for size in (height, width))
    return _int16(sizes[0]), _int16(sizes[1])


@shape_rule("_contrib_BilinearResize2D")
def _bilinear_resize(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, like = shapes[0], shapes[1] if len(shapes) > 1 else None
    expected = 2 if node.attrs["mode"] == "like" else 1
    if len(shapes) != expected:
        raise ShapeError(f"mode {node.attrs['mode']} takes {expected} inputs, not {len(shapes)}")
    if len(data) != 4 or like is not None and len(like) < 4:
        raise ShapeError(f"inputs of shapes {shapes}: BilinearResize2D takes 4-D NCHW data")
    return [(*data[:2], *resize_output_size(node.attrs, data, like))]


def bilinear_upsampling_window(scale: int) -> tuple[int, int, int]:
    """Kernel, stride and pad of the depthwise deconvolution MXNet runs for bilinear UpSampling."""
    return 2 * scale - scale % 2, scale, math.ceil((scale - 1) / 2)


@shape_rule("UpSampling")
def _upsampling_any(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Nearest as before; bilinear takes the data and a (channels, 1, kernel, kernel) weight, whatever
    ``num_args`` says, and ``num_filter`` equal to the channels (its deconvolution's groups)."""
    if node.attrs["sample_type"] == "nearest":
        return _upsampling(node, shapes)
    if len(shapes) != 2 or len(shapes[0]) != 4:
        raise ShapeError(f"inputs of shapes {shapes}: bilinear UpSampling takes 4-D data and a weight")
    data, scale = shapes[0], node.attrs["scale"]
    kernel = bilinear_upsampling_window(scale)[0]
    expect(shapes[1], (data[1], 1, kernel, kernel), "weight")
    if node.attrs["num_filter"] != data[1]:
        raise ShapeError(f"num_filter {node.attrs['num_filter']} differs from the {data[1]} channels")
    return [(*data[:2], data[2] * scale, data[3] * scale)]


@shape_rule("ROIPooling")
def _roi_pooling(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, rois = shapes
    if len(data) != 4 or len(rois) != 2 or rois[1] != 5:
        raise ShapeError(f"inputs of shapes {shapes}: ROIPooling takes 4-D data and (rois, 5) boxes")
    if len(node.attrs["pooled_size"]) != 2:
        raise ShapeError(f"pooled_size {node.attrs['pooled_size']} needs a height and a width")
    return [(rois[0], data[1], *node.attrs["pooled_size"])]


# --- MXNet's image ops (``mx.image``/``npx.image``): HWC images, alone or in a batch (NHWC) ----------------
define({
    "_image_to_tensor": OpDef(),
    "_image_normalize": OpDef({"mean": (parse_float32_tuple, (0.0, 0.0, 0.0, 0.0)),
                               "std": (parse_float32_tuple, (1.0, 1.0, 1.0, 1.0))}),
    "_image_flip_left_right": OpDef(),
    "_image_flip_top_bottom": OpDef(),
    "_image_crop": OpDef({"x": (parse_int, REQUIRED), "y": (parse_int, REQUIRED), "width": (parse_int, REQUIRED),
                          "height": (parse_int, REQUIRED)}),
    "_image_adjust_lighting": OpDef({"alpha": (parse_float32_tuple, REQUIRED)}),
})
for _kind in ("to_tensor", "normalize", "flip_left_right", "flip_top_bottom", "crop", "adjust_lighting"):
    alias(f"_npx__image_{_kind}", f"_image_{_kind}")

# MXNet's OpenCV calls (``mx.image``'s imread, imdecode, imresize, copyMakeBorder, and the image resize op that
# runs cv::resize): read, and refused in both targets with the reason
_SIZE = (parse_int, REQUIRED)
define({
    "_cvimread": OpDef({"filename": (parse_str, REQUIRED), "flag": (parse_int, 1), "to_rgb": (parse_bool, True)}),
    "_cvimdecode": OpDef({"flag": (parse_int, 1), "to_rgb": (parse_bool, True)}),
    "_cvimresize": OpDef({"w": _SIZE, "h": _SIZE, "interp": (parse_int, 1)}),
    "_cvcopyMakeBorder": OpDef({"top": _SIZE, "bot": _SIZE, "left": _SIZE, "right": _SIZE, "type": (parse_int, 0),
                                "value": (parse_float, 0.0), "values": (parse_float32_tuple, ())}),
})
for _name in ("_cvimread", "_cvimdecode", "_cvimresize"):
    alias(f"_npi_{_name[1:]}", _name)
define({"_image_resize": OpDef({"size": SHAPE_EMPTY, "keep_ratio": (parse_bool, False), "interp": (parse_int, 1)})})
alias("_npx__image_resize", "_image_resize")
_OPENCV_REASONS = {"_cvimread": "it reads an image file when run: no input of the graph holds the image",
                   "_cvimdecode": "it decodes an encoded image buffer with OpenCV",
                   "_cvimresize": "OpenCV's resampling (its fixed-point bilinear weights) is not reproduced",
                   "_image_resize": "OpenCV's resampling (its fixed-point bilinear weights) is not reproduced",
                   "_cvcopyMakeBorder": "OpenCV's border modes are not converted"}
OPENCV_OPS = tuple(_OPENCV_REASONS)


def opencv_refusal(node: Node, *context: object) -> str:
    """Why an OpenCV op is not converted (a registry ``check``)."""
    return _OPENCV_REASONS[node.op]


# the axis each flip reverses in the one HWC image it takes
IMAGE_FLIP_AXIS = {"_image_flip_left_right": 1, "_image_flip_top_bottom": 0}


def _image_rank(shape: Shape, what: str, channels_axis: int) -> None:
    if len(shape) not in (3, 4) or shape[channels_axis] not in (1, 3):
        raise ShapeError(f"{what} takes (N,) H, W, C images of 1 or 3 channels, not of shape {shape}")


def normalize_terms(attrs: dict, shape: Shape) -> tuple[list[float], list[float]]:
    """Per channel (axis -3) mean and std, one value repeated for every channel."""
    if len(shape) not in (3, 4) or shape[-3] not in (1, 3):
        raise ShapeError(f"normalize takes (N,) C, H, W tensors of 1 or 3 channels, not of shape {shape}")
    channels = shape[-3]
    terms = []
    for key in ("mean", "std"):
        values = attrs[key]
        if len(values) not in (1, channels):
            raise ShapeError(f"{key} {values}: one value or one per channel ({channels})")
        terms.append(list(values) * channels if len(values) == 1 else list(values))
    return terms[0], terms[1]


def image_crop_ranges(attrs: dict, shape: Shape) -> list[tuple[int, int]]:
    """(begin, end) on every axis of the cropped HWC or NHWC images."""
    _image_rank(shape, "crop", -1)
    a = attrs
    if a["width"] <= 0 or a["height"] <= 0 or a["x"] < 0 or a["y"] < 0 or a["x"] + a["width"] > shape[-2] \
            or a["y"] + a["height"] > shape[-3]:
        raise ShapeError(f"crop x {a['x']}, y {a['y']}, {a['width']} x {a['height']} reaches outside the image "
                         f"{shape}")
    lead = [(0, size) for size in shape[:-3]]
    return [*lead, (a["y"], a["y"] + a["height"]), (a["x"], a["x"] + a["width"]), (0, shape[-1])]


# AlexNet's PCA lighting: the eigenvectors of ImageNet's RGB covariance scaled by their eigenvalues (float32)
_LIGHTING_EIGEN = np.array([[55.46 * -0.5675, 4.794 * 0.7192, 1.148 * 0.4009],
                            [55.46 * -0.5808, 4.794 * -0.0045, 1.148 * -0.8140],
                            [55.46 * -0.5836, 4.794 * -0.6948, 1.148 * 0.4203]], np.float32)


def lighting_shift(attrs: dict) -> list[float]:
    """What ``adjust_lighting`` adds to each of R, G and B, summed in float32 as MXNet does."""
    alpha = np.asarray(attrs["alpha"][:3], np.float32)
    return [float(row[0] * alpha[0] + row[1] * alpha[1] + row[2] * alpha[2]) for row in _LIGHTING_EIGEN]


@shape_rule("_image_adjust_lighting")
def _adjust_lighting(node: Node, shapes: list[Shape]) -> list[Shape]:
    """One H, W, 3 image: MXNet's kernel shifts H x W pixels of 3 values (a batch would be read as rows) and
    leaves a 1-channel output unwritten."""
    if len(shapes[0]) != 3 or shapes[0][2] != 3:
        raise ShapeError(f"adjust_lighting takes one H, W, 3 image, not data of shape {shapes[0]}")
    if len(node.attrs["alpha"]) < 3:
        raise ShapeError(f"alpha {node.attrs['alpha']}: one value for each of R, G and B")
    return [shapes[0]]


@shape_rule("_image_to_tensor")
def _to_tensor(node: Node, shapes: list[Shape]) -> list[Shape]:
    shape = shapes[0]
    _image_rank(shape, "to_tensor", -1)
    return [(*shape[:-3], shape[-1], shape[-3], shape[-2])]


@shape_rule("_image_normalize")
def _normalize(node: Node, shapes: list[Shape]) -> list[Shape]:
    normalize_terms(node.attrs, shapes[0])
    return [shapes[0]]


@shape_rule("_image_flip_left_right", "_image_flip_top_bottom")
def _image_flip(node: Node, shapes: list[Shape]) -> list[Shape]:
    if len(shapes[0]) != 3:
        raise ShapeError(f"{node.op} takes one H, W, C image, not data of shape {shapes[0]}")
    if shapes[0][IMAGE_FLIP_AXIS[node.op]] % 2:
        raise ShapeError(f"{node.op} of an odd size (shape {shapes[0]}): MXNet 1.9.1 swaps pairs and leaves the "
                         "middle row or column of its output unwritten")
    return [shapes[0]]


@shape_rule("_image_crop")
def _image_crop(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [tuple(end - begin for begin, end in image_crop_ranges(node.attrs, shapes[0]))]
