"""Run an ONNX model in MXNet through MXNet 1.9.1's own importer (``mxnet.contrib.onnx`` onnx2mx).

That importer predates onnx 1.23 and the newer opsets. :func:`install_fixes` repairs it at run time, leaving the
installed package untouched (``patch_files/`` holds the same fixes as diffs):

* ``onnx.mapping`` (removed from onnx) is provided again, for the Cast and Random* translations;
* integer initializers keep their dtype (MXNet made them float32: Slice bounds became ``"4.0"`` and the
  int64-max "to the end" sentinel overflowed);
* the weights are sorted into arguments and auxiliary states once, not after every node (run time only:
  that was quadratic in the graph's size);
* translations replaced: MaxPool/AveragePool (``ceil_mode`` and ``count_include_pad`` were ignored),
  Slice (float bounds, clamped against the *graph input's* shape, first axis sliced twice), Split (output
  count taken from the *graph's* outputs; ``split`` as an input), Squeeze/Unsqueeze/Reduce* (``axes`` as an
  input, ONNX's ``keepdims=1`` default), Clip (crashed without min/max), Softmax (before opset 13 it
  flattens from ``axis``, default 1), Gemm (crashed without C; now FullyConnected where it is one),
  MatMul (N-D by 2-D), PRelu (slope broadcast as ONNX does, not per channel), BatchNormalization
  (``training_mode``);
* translations added: Resize (nearest, integer scales), Erf, Gelu; Sign, Sinh, Cosh, Asinh, Acosh, Atanh,
  LessOrEqual, GreaterOrEqual, Mod (fmod), Where, IsNaN, ReduceL1/L2 with newer-opset axes, and Max/Min
  broadcasting (run time only: ``patch_files/`` stops at Erf and Gelu).

:func:`prepare_for_import` adapts a copy of the model to what the importer reads: initializers listed as
graph inputs (it looks weights up among the inputs only), omitted optional inputs given a name, and every
Split node told its output count.
"""
from __future__ import annotations

import copy
import io
import os
import sys
import types
from typing import Any, Callable

import numpy as np
import onnx
from onnx import TensorProto, helper

from .errors import MxConvertError
from .mxnet_runner import native_stderr_silenced, mxnet_message  # importing it turns subgraph fusion off
from .mxnet_compat import import_mxnet
from .feeds import Given
from .onnx_runtime import OnnxInputs, load_onnx

mx = import_mxnet()
from mxnet import symbol  # noqa: E402
from mxnet.contrib.onnx.onnx2mx import _import_helper, import_model as onnx2mx_import  # noqa: E402
from mxnet.contrib.onnx.onnx2mx.import_onnx import GraphProto  # noqa: E402

Translation = Callable[[dict, list, Any], tuple]
ABSENT = "__mxconvert_absent__"  # stands for an omitted optional input (an empty tensor)
_INT64_MAX = np.iinfo(np.int64).max


# --- reading constant inputs ------------------------------------------------------------------------

def _const(inputs: list, index: int, proto_obj: Any) -> np.ndarray | None:
    """Input ``index`` as a numpy array if it is an initializer; ``None`` if absent or empty."""
    if index >= len(inputs):
        return None
    name = inputs[index].name
    if name not in proto_obj._params:
        raise NotImplementedError(f"input {index} ({name}) must be a constant initializer")
    value = proto_obj._params[name].asnumpy()
    return value if value.size else None


def _ints(inputs: list, index: int, proto_obj: Any) -> list[int] | None:
    value = _const(inputs, index, proto_obj)
    return None if value is None else [int(v) for v in value.reshape(-1)]


def _axes(attrs: dict, inputs: list, proto_obj: Any) -> list[int] | None:
    """``axes`` from the attribute (older opsets) or the second input (Squeeze/Unsqueeze 13+, Reduce* 18+)."""
    return list(attrs["axes"]) if "axes" in attrs else _ints(inputs, 1, proto_obj)


def _parse_array(self: GraphProto, tensor_proto: TensorProto) -> Any:
    """An initializer as an NDArray; floats become float32 as before, integers keep their type."""
    array = onnx.numpy_helper.to_array(tensor_proto).reshape(tuple(tensor_proto.dims))
    if array.ndim == 0:
        array = array.reshape(1)
    return mx.nd.array(array, dtype=array.dtype if array.dtype.kind in "iu" else np.float32)


def _from_onnx(self: GraphProto, graph: Any, opset_version: int) -> tuple[Any, dict, dict]:
    """onnx2mx's ``from_onnx`` with the weights sorted into arguments and auxiliary states once, by the whole
    graph's symbol: it sorted them after every node, copying each weight met so far (quadratic in the nodes:
    16 s of RetinaFace-R50's 17 s import)."""
    self.opset_version = opset_version
    self.model_metadata = self.get_graph_metadata(graph)
    for tensor in graph.initializer:
        if not tensor.name.strip():
            raise ValueError("Tensor's name is required.")
        self._params[tensor.name] = self._parse_array(tensor)
    for value in graph.input:
        shape = {"shape": self._params[value.name].shape} if value.name in self._params else {}
        self._nodes[value.name] = symbol.Variable(name=value.name, **shape)
    for node in graph.node:
        converted = self._convert_operator(node.name.strip() or None, node.op_type, self._parse_attr(node.attribute),
                                           [self._nodes[name] for name in node.input])
        for name, index in zip(node.output, range(len(converted.list_outputs()))):
            self._nodes[name] = converted[index]
    outputs = [self._nodes[value.name] for value in graph.output]
    out = symbol.Group(outputs) if len(outputs) > 1 else outputs[0]
    self.arg_dict.update({name: self._params[name] for name in out.list_arguments() if name in self._params})
    self.aux_dict.update({name: self._params[name] for name in out.list_auxiliary_states() if name in self._params})
    return out, self.arg_dict, self.aux_dict


# --- translations (signature of onnx2mx's: attrs, inputs, importer -> (op or symbol, attrs, inputs)) ----

def _pooling(kind: str) -> Translation:
    def translate(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
        kernel = tuple(attrs["kernel_shape"])
        rank = len(kernel)
        if attrs.get("auto_pad", "NOTSET") != "NOTSET":
            raise NotImplementedError(f"{kind} pooling with auto_pad {attrs['auto_pad']}")
        if any(d != 1 for d in attrs.get("dilations", ())):
            raise NotImplementedError(f"{kind} pooling with dilations")
        pads = tuple(attrs.get("pads", (0,) * 2 * rank))
        params = dict(kernel=kernel, stride=tuple(attrs.get("strides", (1,) * rank)), pool_type=kind,
                      pooling_convention="full" if attrs.get("ceil_mode", 0) else "valid")
        if kind == "avg":
            params["count_include_pad"] = bool(attrs.get("count_include_pad", 0))
        data = inputs[0]
        if pads[:rank] == pads[rank:]:
            params["pad"] = pads[:rank]
        elif kind == "max" or params["count_include_pad"]:  # MXNet pads symmetrically only: pad first
            width = (0, 0, 0, 0) + tuple(v for pair in zip(pads[:rank], pads[rank:]) for v in pair)
            data = symbol.pad(data, mode="edge" if kind == "max" else "constant", pad_width=width)
        else:
            raise NotImplementedError("AveragePool with asymmetric pads and count_include_pad=0")
        return symbol.Pooling(data, **params), attrs, inputs
    return translate


def _slice(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    if proto_obj.opset_version >= 10:
        starts, ends = _ints(inputs, 1, proto_obj), _ints(inputs, 2, proto_obj)
        axes, steps = _ints(inputs, 3, proto_obj), _ints(inputs, 4, proto_obj)
    else:
        starts, ends, axes, steps = list(attrs["starts"]), list(attrs["ends"]), attrs.get("axes"), None
    if steps and any(s != 1 for s in steps):
        raise NotImplementedError("Slice with steps other than 1")
    out = inputs[0]
    for axis, begin, end in zip(axes or range(len(starts)), starts, ends):
        out = symbol.slice_axis(out, axis=axis, begin=begin, end=None if end >= _INT64_MAX // 2 else end)
    return out, attrs, inputs


def _split(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    axis = attrs.get("axis", 0)
    sizes = list(attrs["split"]) if "split" in attrs else _ints(inputs, 1, proto_obj)
    if not sizes or len(set(sizes)) == 1:
        count = len(sizes) if sizes else attrs["num_outputs"]
        return symbol.split(inputs[0], axis=axis, num_outputs=count), attrs, inputs
    offsets = np.cumsum([0] + sizes)
    parts = [symbol.slice_axis(inputs[0], axis=axis, begin=int(b), end=int(e)) for b, e in
             zip(offsets[:-1], offsets[1:])]
    return symbol.Group(parts), attrs, inputs


def _squeeze(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    axes = _axes(attrs, inputs, proto_obj)
    return symbol.squeeze(inputs[0], axis=tuple(axes) if axes else None), attrs, inputs


def _unsqueeze(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    out = inputs[0]
    for axis in sorted(_axes(attrs, inputs, proto_obj)):  # ascending: each axis indexes the output
        out = symbol.expand_dims(out, axis=axis)
    return out, attrs, inputs


def _reduce(op: str, **options: Any) -> Translation:
    def translate(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
        axes = _axes(attrs, inputs, proto_obj)
        if not axes and attrs.get("noop_with_empty_axes", 0):
            return symbol.identity(inputs[0]), attrs, inputs
        keepdims = bool(attrs.get("keepdims", 1))
        out = getattr(symbol, op)(inputs[0], axis=tuple(axes) if axes else None, keepdims=keepdims, **options)
        return out, attrs, inputs
    return translate


def _clip(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    if proto_obj.opset_version >= 11:
        low, high = _const(inputs, 1, proto_obj), _const(inputs, 2, proto_obj)
        low, high = (None if v is None else float(v.reshape(-1)[0]) for v in (low, high))
    else:
        low, high = attrs.get("min"), attrs.get("max")
    low = -np.inf if low is None else low
    high = np.inf if high is None else high
    return symbol.clip(inputs[0], a_min=low, a_max=high), attrs, inputs


def _softmax(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    if proto_obj.opset_version >= 13:
        return symbol.softmax(inputs[0], axis=attrs.get("axis", -1)), attrs, inputs
    axis = attrs.get("axis", 1)  # before 13: softmax of the input flattened to 2-D at ``axis``
    if axis == -1:
        return symbol.softmax(inputs[0], axis=-1), attrs, inputs
    if axis < 0:
        raise NotImplementedError(f"Softmax before opset 13 with axis {axis}")
    flat = symbol.reshape(inputs[0], shape=(0,) * axis + (-1,) if axis else (1, -1))
    return symbol.reshape_like(symbol.softmax(flat, axis=-1), inputs[0]), attrs, inputs


def _gemm(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    trans_a, trans_b = attrs.get("transA", 0), attrs.get("transB", 0)
    weight = proto_obj._params.get(inputs[1].name)
    if (alpha, beta, trans_a, trans_b) == (1.0, 1.0, 0, 1) and weight is not None and len(inputs) <= 3:
        no_bias = len(inputs) < 3
        return symbol.FullyConnected(*inputs, num_hidden=weight.shape[0], no_bias=no_bias), attrs, inputs
    out = symbol.linalg_gemm2(inputs[0], inputs[1], transpose_a=trans_a, transpose_b=trans_b, alpha=alpha)
    if len(inputs) == 3:
        out = symbol.broadcast_add(out, inputs[2] * beta if beta != 1.0 else inputs[2])
    return out, attrs, inputs


def _matmul(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    weight = proto_obj._params.get(inputs[1].name)
    if weight is not None and len(weight.shape) == 2:  # dot contracts A's last axis with B's first
        return symbol.dot(inputs[0], inputs[1]), attrs, inputs
    return symbol.linalg_gemm2(inputs[0], inputs[1]), attrs, inputs


def _prelu(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    # x if x > 0 else slope * x, with the slope broadcast from the right (ONNX rules; exact in float)
    data, slope = inputs
    return symbol.broadcast_add(symbol.relu(data), symbol.broadcast_mul(slope, symbol.minimum(data, 0.0))), \
        attrs, inputs


def _batch_norm(original: Translation) -> Translation:
    def translate(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
        if attrs.pop("training_mode", 0):
            raise NotImplementedError("BatchNormalization with training_mode=1")
        return original(attrs, inputs, proto_obj)
    return translate


def _resize(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    mode = attrs.get("mode", "nearest")
    transform = attrs.get("coordinate_transformation_mode", "half_pixel")
    rounding = attrs.get("nearest_mode", "round_prefer_floor")
    scales = _const(inputs, 2 if proto_obj.opset_version >= 11 else 1, proto_obj)
    if scales is None:
        raise NotImplementedError("Resize given output sizes instead of scales")
    factors = [float(s) for s in scales.reshape(-1)]
    # For integer scales these coordinate rules all pick source pixel floor(x / scale).
    exact = (transform == "asymmetric" and rounding == "floor") or (
        transform in ("half_pixel", "pytorch_half_pixel") and rounding.startswith("round_prefer"))
    if mode != "nearest" or not exact or any(f < 1 or f != int(f) for f in factors):
        raise NotImplementedError(f"Resize mode={mode} coordinate_transformation_mode={transform} "
                                  f"nearest_mode={rounding} scales={factors} (only nearest upsampling by "
                                  "integer factors is supported)")
    out = inputs[0]
    for axis, factor in enumerate(factors):
        if factor > 1:
            out = symbol.repeat(out, repeats=int(factor), axis=axis)
    return out, attrs, inputs


def _gelu(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    if attrs.get("approximate", "none") != "none":
        raise NotImplementedError(f"Gelu with approximate={attrs['approximate']}")
    return symbol.LeakyReLU(inputs[0], act_type="gelu"), attrs, inputs


def _erf(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    return "erf", {}, inputs


def _renamed(mxnet_op: str) -> Translation:
    """An ONNX op that is one MXNet op of the same arity, broadcasting as ONNX does."""
    def translate(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
        return mxnet_op, {}, inputs
    return translate


def _variadic(mxnet_op: str) -> Translation:
    """Max/Min of any number of inputs, broadcast (the importer's version wants equal shapes)."""
    def translate(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
        out = inputs[0]
        for other in inputs[1:]:
            out = getattr(symbol, mxnet_op)(out, other)
        return out, attrs, inputs
    return translate


def _mod(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    if not attrs.get("fmod", 0):
        raise NotImplementedError("Mod with fmod=0 (integer remainder)")
    # C's fmod takes the dividend's sign; MXNet's mod of magnitudes is fmod of magnitudes (exact)
    a, b = inputs
    return symbol.broadcast_mul(symbol.sign(a), symbol.broadcast_mod(symbol.abs(a), symbol.abs(b))), attrs, inputs


def _is_nan(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    return symbol.broadcast_not_equal(inputs[0], inputs[0]), attrs, inputs  # only NaN differs from itself


def _where(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    # MXNet's where wants equal shapes: broadcast all three to their common shape first (adding zeros)
    zeros = symbol.broadcast_add(symbol.broadcast_add(symbol.zeros_like(inputs[1]), symbol.zeros_like(inputs[2])),
                                 symbol.zeros_like(inputs[0]))
    cond, x, y = (symbol.broadcast_add(v, zeros) for v in inputs)
    return symbol.where(cond, x, y), attrs, inputs


# --- installing the fixes ---------------------------------------------------------------------------

def _onnx_mapping_shim() -> None:
    """Provide ``onnx.mapping.TENSOR_TYPE_TO_NP_TYPE`` (removed in onnx 1.16) if onnx lacks it."""
    if "onnx.mapping" in sys.modules or hasattr(onnx, "mapping"):
        return
    shim = types.ModuleType("onnx.mapping")
    shim.TENSOR_TYPE_TO_NP_TYPE = {code: helper.tensor_dtype_to_np_dtype(code) for code in
                                   TensorProto.DataType.values() if code != TensorProto.UNDEFINED}
    sys.modules["onnx.mapping"] = shim
    onnx.mapping = shim


_ORIGINAL_BATCH_NORM = _import_helper._convert_map["BatchNormalization"]
FIXES: dict[str, Translation] = {
    "MaxPool": _pooling("max"), "AveragePool": _pooling("avg"), "Slice": _slice, "Split": _split,
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "ReduceSum": _reduce("sum"), "ReduceMean": _reduce("mean"),
    "ReduceMax": _reduce("max"), "ReduceMin": _reduce("min"), "ReduceProd": _reduce("prod"),
    "ReduceL1": _reduce("norm", ord=1), "ReduceL2": _reduce("norm", ord=2), "Clip": _clip,
    "Softmax": _softmax, "Gemm": _gemm, "MatMul": _matmul, "PRelu": _prelu,
    "BatchNormalization": _batch_norm(_ORIGINAL_BATCH_NORM), "Resize": _resize, "Gelu": _gelu, "Erf": _erf,
    "Sign": _renamed("sign"), "Sinh": _renamed("sinh"), "Cosh": _renamed("cosh"), "Asinh": _renamed("arcsinh"),
    "Acosh": _renamed("arccosh"), "Atanh": _renamed("arctanh"), "LessOrEqual": _renamed("broadcast_lesser_equal"),
    "GreaterOrEqual": _renamed("broadcast_greater_equal"), "Max": _variadic("broadcast_maximum"),
    "Min": _variadic("broadcast_minimum"), "Mod": _mod, "Where": _where, "IsNaN": _is_nan,
}


def install_fixes() -> None:
    """Repair onnx2mx in this process (idempotent): the onnx shim, the array parser, the graph walk, the
    translations."""
    _onnx_mapping_shim()
    GraphProto._parse_array = _parse_array
    GraphProto.from_onnx = _from_onnx
    _import_helper._convert_map.update(FIXES)  # the dict import_onnx looks translations up in


def prepare_for_import(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy the importer can read: weights as graph inputs, no empty input names, Split output counts."""
    prepared = copy.deepcopy(model)
    graph = prepared.graph
    listed = {value.name for value in graph.input}
    graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, t.dims)
                       for t in graph.initializer if t.name not in listed)
    absent_used = False
    for node in graph.node:
        names = list(node.input)
        while names and not names[-1]:
            names.pop()
        absent_used |= "" in names
        node.input[:] = [name or ABSENT for name in names]
        if node.op_type == "Split" and not any(a.name == "num_outputs" for a in node.attribute):
            node.attribute.append(helper.make_attribute("num_outputs", len(node.output)))
    if absent_used:
        graph.initializer.append(helper.make_tensor(ABSENT, TensorProto.FLOAT, [0], []))
        graph.input.append(helper.make_tensor_value_info(ABSENT, TensorProto.FLOAT, [0]))
    return prepared


def import_onnx(model: onnx.ModelProto, path: str = "<model>") -> tuple[Any, dict, dict]:
    """MXNet's ``import_model`` on the model (fixed as above): (symbol, arg_params, aux_params)."""
    install_fixes()
    try:
        return onnx2mx_import.import_model(io.BytesIO(prepare_for_import(model).SerializeToString()))
    except NotImplementedError as exc:
        raise MxConvertError(f"MXNet's ONNX importer cannot import the model: {exc}", path) from None
    except (mx.base.MXNetError, KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise MxConvertError(f"MXNet's ONNX importer failed: {type(exc).__name__}: {mxnet_message(exc)}",
                             path) from None


class OnnxMxnetModel:
    """An ONNX model imported into MXNet; calling it runs an inference-mode forward (all outputs, float32)."""

    def __init__(self, path: str | os.PathLike, ctx: Any = None):
        model = load_onnx(path)
        self.path = str(path)
        self.inputs = OnnxInputs(model, self.path)
        self.symbol, self.arg_params, self.aux_params = import_onnx(model, self.path)
        self.ctx = ctx or mx.cpu()
        self._executors: dict[tuple, Any] = {}

    def _executor(self, shapes: dict[str, tuple[int, ...]]) -> Any:
        key = tuple(shapes.items())
        if key not in self._executors:
            bound = {name: value.shape for name, value in self.arg_params.items()}
            try:
                with native_stderr_silenced():
                    executor = self.symbol.simple_bind(self.ctx, grad_req="null", **bound, **shapes)
            except (mx.base.MXNetError, RuntimeError) as exc:  # simple_bind wraps MXNetError
                described = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
                raise MxConvertError(f"MXNet cannot run the imported model on inputs {described}: "
                                     f"{mxnet_message(exc)}", self.path) from None
            executor.copy_params_from(self.arg_params, self.aux_params)
            self._executors[key] = executor
        return self._executors[key]

    def _run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        executor = self._executor({name: tuple(array.shape) for name, array in feeds.items()})
        for name, array in feeds.items():
            executor.arg_dict[name][:] = array
        try:
            return [np.asarray(out.asnumpy(), dtype=np.float32) for out in executor.forward(is_train=False)]
        except mx.base.MXNetError as exc:
            raise MxConvertError(f"MXNet forward failed: {mxnet_message(exc)}", self.path) from None

    def __call__(self, given: Given) -> list[np.ndarray]:
        """Every output for one batch: an array for the data input, or arrays by input name."""
        return self.inputs.run(self._run, given, "onnx_mxnet")


# --- padding, resizing, adaptive/ROI pooling and sequence ops (family ``resize``) -----------------------------------

def _resize_linear_or_nearest(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    """Resize: linear to constant ``sizes`` is MXNet's BilinearResize2D (align_corners, or half_pixel where no
    output axis has one value: ONNX samples the middle there, MXNet the first row); nearest as before."""
    if attrs.get("mode", "nearest") != "linear":
        return _resize(attrs, inputs, proto_obj)
    transform = attrs.get("coordinate_transformation_mode", "half_pixel")
    sizes = _ints(inputs, 3, proto_obj) if proto_obj.opset_version >= 11 else None
    if sizes is None or len(sizes) != 4 or transform not in ("align_corners", "half_pixel") or (
            transform == "half_pixel" and 1 in sizes[2:]):
        raise NotImplementedError(f"Resize mode=linear coordinate_transformation_mode={transform} sizes={sizes} "
                                  "(only 4-D linear resizing to constant sizes is supported)")
    resized = symbol.contrib.BilinearResize2D(inputs[0], height=sizes[2], width=sizes[3],
                                              align_corners=transform == "align_corners")
    return resized, attrs, inputs


def _conv_transpose(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    """ConvTranspose as MXNet's Deconvolution: output channels are the weight's second axis times ``group``
    (the stock translation dropped the factor) and ``pads`` crop the output (it padded the input instead)."""
    pads = list(attrs.get("pads", []))
    if pads[:len(pads) // 2] != pads[len(pads) // 2:] or "output_padding" in attrs or "output_shape" in attrs:
        raise NotImplementedError(f"ConvTranspose with pads {pads}, output_padding or output_shape")
    weight = proto_obj._params[inputs[1].name].shape
    group = attrs.get("group", 1)
    kernel = tuple(attrs.get("kernel_shape", weight[2:]))
    options = {"stride": tuple(attrs.get("strides", (1,) * len(kernel))), "pad": tuple(pads[:len(kernel)]) or None,
               "dilate": tuple(attrs.get("dilations", (1,) * len(kernel)))}
    deconv = symbol.Deconvolution(*inputs[:3], kernel=kernel, num_filter=weight[1] * group, num_group=group,
                                  no_bias=len(inputs) < 3, **{k: v for k, v in options.items() if v})
    return deconv, attrs, inputs


def _slice_or_reverse(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    """Slice; one that steps by -1 from the last element past the first of each axis is MXNet's reverse."""
    if proto_obj.opset_version >= 10 and len(inputs) > 4:
        starts, ends, axes, steps = (_ints(inputs, index, proto_obj) for index in range(1, 5))
        if steps and set(steps) == {-1} and set(starts) == {-1} and max(ends) <= -_INT64_MAX // 2:
            return symbol.reverse(inputs[0], axis=tuple(axes or range(len(starts)))), attrs, inputs
    return _stepped_slice(attrs, inputs, proto_obj)


FIXES.update({"Resize": _resize_linear_or_nearest, "ConvTranspose": _conv_transpose, "Slice": _slice_or_reverse})


# --- shape and layout ops (prefix shape_): Slice with steps, Expand, Tile -------------------------------------------

def _stepped_slice(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    """Slice with steps as MXNet's ``slice`` (None for the int64 sentinels that run to either end)."""
    steps = _ints(inputs, 4, proto_obj) if proto_obj.opset_version >= 10 else None
    if not steps or all(step == 1 for step in steps):
        return _slice(attrs, inputs, proto_obj)
    starts, ends, axes = (_ints(inputs, index, proto_obj) for index in (1, 2, 3))
    axes = axes or list(range(len(starts)))
    if min(axes) < 0:
        raise NotImplementedError("Slice with steps on negative axes")
    begin, end, step = ([None] * (max(axes) + 1) for _ in range(3))
    for axis, start, stop, stride in zip(axes, starts, ends, steps):
        begin[axis], step[axis] = start, stride
        end[axis] = None if abs(stop) >= _INT64_MAX // 2 else stop
    return symbol.slice(inputs[0], begin=tuple(begin), end=tuple(end), step=tuple(step)), attrs, inputs


def _expand(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    """Expand to a shape of the data's rank: MXNet's broadcast_to, where 0 keeps a size (ONNX's 1)."""
    shape = tuple(0 if size == 1 else size for size in _ints(inputs, 1, proto_obj))
    return symbol.broadcast_to(inputs[0], shape=shape), attrs, inputs


def _tile(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    return symbol.tile(inputs[0], reps=tuple(_ints(inputs, 1, proto_obj))), attrs, inputs


FIXES.update({"Expand": _expand, "Tile": _tile})  # Slice: _slice_or_reverse, which falls back on _stepped_slice


# --- indexing and sorting: TopK, GatherElements of one index per row, Cast to bool ----------------------------------

def _top_k(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    k = _ints(inputs, 1, proto_obj)[0]
    top = symbol.topk(inputs[0], axis=attrs.get("axis", -1), k=k, ret_typ="both",
                      is_ascend=not attrs.get("largest", 1), dtype="int64")
    return top, attrs, inputs


def _cast(original: Translation) -> Translation:
    """Cast to bool as MXNet reads a condition (non-zero: 1, in the data type); other types as before."""
    def translate(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
        if attrs.get("to") != TensorProto.BOOL:
            return original(attrs, inputs, proto_obj)
        return symbol._internal._not_equal_scalar(inputs[0], scalar=0.0), attrs, inputs
    return translate


def _gather_elements(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    """GatherElements whose index has size 1 along the axis (one element per row, as the converters emit it) is
    MXNet's pick; other index shapes are not translated correctly."""
    return symbol.pick(inputs[0], inputs[1], axis=attrs.get("axis", 0), keepdims=True), attrs, inputs


FIXES.update({"TopK": _top_k, "GatherElements": _gather_elements,
              "Cast": _cast(_import_helper._convert_map["Cast"])})


# === nn layers and normalisation: ConvTranspose (the importer's pads the input instead of cropping the
# output and drops output_padding) and LayerNormalization over the last axis ===================================

def _conv_transpose(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    weight = proto_obj._params.get(inputs[1].name)
    if weight is None:
        raise NotImplementedError("ConvTranspose with a computed weight")
    rank = len(weight.shape) - 2
    pads = tuple(attrs.get("pads", (0,) * 2 * rank))
    if pads[:rank] != pads[rank:] or attrs.get("auto_pad", "NOTSET") != "NOTSET" or "output_shape" in attrs:
        raise NotImplementedError("ConvTranspose with asymmetric pads, auto_pad or output_shape")
    group = attrs.get("group", 1)
    out = symbol.Deconvolution(*inputs, kernel=tuple(weight.shape[2:]), stride=tuple(attrs.get("strides", (1,) * rank)),
                               dilate=tuple(attrs.get("dilations", (1,) * rank)), pad=pads[:rank],
                               adj=tuple(attrs.get("output_padding", (0,) * rank)), num_filter=weight.shape[1] * group,
                               num_group=group, no_bias=len(inputs) < 3)
    return out, attrs, inputs


def _layer_normalization(attrs: dict, inputs: list, proto_obj: Any) -> tuple:
    if attrs.get("axis", -1) != -1:
        raise NotImplementedError(f"LayerNormalization from axis {attrs['axis']} (MXNet normalises one axis)")
    return symbol.LayerNorm(*inputs, axis=-1, eps=attrs.get("epsilon", 1e-5)), attrs, inputs


FIXES.update({"ConvTranspose": _conv_transpose, "LayerNormalization": _layer_normalization})
