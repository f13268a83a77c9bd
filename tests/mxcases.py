"""Tiny MXNet graphs, one per op and attribute combination, run in real MXNet as the reference."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import numpy as np

from mxconvert.checkpoint import attach_weights
from mxconvert.compare import per_image_rel_error
from mxconvert.ir import Graph
from mxconvert.mxnet_compat import import_mxnet
from mxconvert.semantics.schema import numpy_spelled
from mxconvert.symbol import parse_symbol

mx = import_mxnet()
S = mx.sym


@dataclass
class Reference:
    graph: Graph
    data: np.ndarray
    outputs: list[np.ndarray]


def run_reference(sym, shape: tuple[int, ...], seed: int = 0, low: float = -1.0, high: float = 1.0,
                  inputs: dict[str, np.ndarray] | None = None) -> Reference:
    """Bind ``sym`` with random weights; MXNet inference outputs. BatchNorm variances are log-uniform over
    [1e-3, 1.5]: with variances near ``eps`` (MXNet's default 1e-3, the zoo's 2e-5), an ``eps`` off by 1e-5
    moves the output far past the tolerance. ``inputs``: given values of other variables (softmax's
    ``length``), stored with the weights."""
    graph = parse_symbol(sym.tojson())
    if any(numpy_spelled(node) for node in graph.nodes):  # NumPy's shapes (0-d tensors) and arrays
        with mx.util.np_shape(True), mx.util.np_array(True):
            return _run_reference(sym, graph, shape, seed, low, high, inputs)
    return _run_reference(sym, graph, shape, seed, low, high, inputs)


def _run_reference(sym, graph: Graph, shape: tuple[int, ...], seed: int, low: float, high: float,
                   inputs: dict[str, np.ndarray] | None) -> Reference:
    rng = np.random.default_rng(seed)
    inputs = inputs or {}
    types = {name: inputs[name].dtype if name in inputs else np.float32 for name in sym.list_arguments()}
    executor = sym.simple_bind(mx.cpu(), data=shape, grad_req="null", type_dict=types)
    weights: dict[str, np.ndarray] = {}
    for name, array in executor.arg_dict.items():
        if name == "data" or name.endswith("_label"):
            continue
        if name in inputs:
            array[:] = weights[f"arg:{name}"] = inputs[name]
            continue
        value = rng.normal(0, 0.5, size=array.shape).astype(np.float32)
        if name.endswith("_gamma"):
            value = rng.uniform(0.5, 1.5, size=array.shape).astype(np.float32)
        array[:] = value
        weights[f"arg:{name}"] = value
    for name, array in executor.aux_dict.items():
        value = (np.exp(rng.uniform(np.log(1e-3), np.log(1.5), size=array.shape)) if name.endswith("var")
                 else rng.normal(0, 0.3, size=array.shape)).astype(np.float32)
        array[:] = value
        weights[f"aux:{name}"] = value
    data = rng.uniform(low, high, size=shape).astype(np.float32)
    executor.arg_dict["data"][:] = data
    outputs = [o.asnumpy() for o in executor.forward(is_train=False)]
    attach_weights(graph, weights, "<test weights>")
    return Reference(graph, data, outputs)


def assert_close(reference: list[np.ndarray], actual: list[np.ndarray], rel: float = 1e-5) -> float:
    """max|diff| <= rel * max|reference| for every output, per image (each row of the leading axis) when the
    output has two or more axes, as the comparison tables do; returns the worst relative error."""
    assert len(reference) == len(actual)
    worst = 0.0
    for ref, out in zip(reference, actual):
        assert ref.shape == tuple(out.shape), (ref.shape, out.shape)
        rows = ref.shape[0] if ref.ndim >= 2 else 1
        ref_rows = ref.astype(np.float64).reshape(rows, -1)
        diff = np.abs(ref_rows - np.asarray(out, np.float64).reshape(rows, -1)).max(axis=1)
        scale = np.abs(ref_rows).max(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            errors = np.where(diff == 0, 0.0, diff / scale)  # an exact zero row matches; any diff on it is inf
        error = float(errors.max())
        assert error <= rel, f"relative error {error:.3g} > {rel} (image {int(errors.argmax())})"
        worst = max(worst, error)
    return worst


def assert_near_exact(reference: list[np.ndarray], exact: list[np.ndarray], actual: list[np.ndarray],
                      factor: float = 4.0) -> float:
    """``--tolerance auto``'s rule, per image: each output within max(1e-5, ``factor`` x MXNet float32's own
    distance) of MXNet's float64 result (``exact``); returns the worst ratio to that bound."""
    worst = 0.0
    for ref, ex, out in zip(reference, exact, actual, strict=True):
        assert ref.shape == tuple(out.shape), (ref.shape, out.shape)
        error = per_image_rel_error(ex, np.asarray(out))
        bound = np.maximum(1e-5, factor * per_image_rel_error(ex, ref))
        assert (error <= bound).all(), f"relative error {error.max():.3g} from float64 > {bound.min():.3g}"
        worst = max(worst, float((error / bound).max()))
    return worst


def _conv(x, **kw):
    return S.Convolution(x, name="conv", **kw)


def _pool(**kw) -> Callable:
    return lambda x: S.Pooling(x, name="pool", **kw)


d = S.var("data")
# id -> (symbol, input shape)
CASES: dict[str, tuple] = {
    "conv_basic": (_conv(d, kernel=(3, 3), num_filter=4), (2, 3, 9, 9)),
    "conv_stride_pad_nobias": (_conv(d, kernel=(3, 3), num_filter=4, stride=(2, 2), pad=(1, 1), no_bias=True),
                               (1, 3, 10, 11)),
    "conv_groups_dilate": (_conv(d, kernel=(3, 3), num_filter=6, num_group=3, dilate=(2, 2), pad=(2, 2)),
                           (1, 6, 9, 9)),
    "conv_depthwise": (_conv(d, kernel=(3, 3), num_filter=4, num_group=4, pad=(1, 1)), (1, 4, 8, 8)),
    "conv_1x1_rect": (_conv(d, kernel=(1, 3), num_filter=5, stride=(1, 2)), (1, 2, 5, 9)),
    "conv1d": (_conv(d, kernel=(3,), num_filter=4, pad=(1,)), (2, 3, 10)),
    "bn_fix_gamma": (S.BatchNorm(d, fix_gamma=True, name="bn"), (2, 4, 5, 5)),
    "bn_free_gamma": (S.BatchNorm(d, fix_gamma=False, eps=2e-5, name="bn"), (2, 4, 5, 5)),
    "bn_global_stats": (S.BatchNorm(d, fix_gamma=False, use_global_stats=True, name="bn"), (2, 4, 5, 5)),
    "bn_2d": (S.BatchNorm(d, fix_gamma=True, eps=2e-5, name="fc1"), (3, 8)),
    "bn_axis_last": (S.BatchNorm(d, fix_gamma=False, axis=-1, name="bn"), (2, 3, 4, 5)),
    "bn_output_mean_var": (S.BatchNorm(d, fix_gamma=False, output_mean_var=True, eps=1e-3, name="bn"),
                           (2, 4, 5, 5)),
    "bn_output_mean_var_axis_last": (S.BatchNorm(d, fix_gamma=True, output_mean_var=True, axis=-1, name="bn"),
                                     (2, 3, 4, 5)),
    **{f"act_{t}": (S.Activation(d, act_type=t, name="act"), (2, 3, 4, 4))
       for t in ("relu", "sigmoid", "tanh", "softrelu", "softsign")},
    "prelu_4d": (S.LeakyReLU(d, act_type="prelu", name="relu0"), (2, 5, 4, 4)),
    "prelu_2d": (S.LeakyReLU(d, act_type="prelu", name="relu0"), (3, 6)),
    "leaky": (S.LeakyReLU(d, act_type="leaky", slope=0.1, name="lr"), (2, 3, 4, 4)),
    "elu": (S.LeakyReLU(d, act_type="elu", slope=0.7, name="lr"), (2, 3, 4, 4)),
    "selu": (S.LeakyReLU(d, act_type="selu", name="lr"), (2, 3, 4, 4)),
    "gelu": (S.LeakyReLU(d, act_type="gelu", name="lr"), (2, 3, 4, 4)),
    "rrelu_inference": (S.LeakyReLU(d, act_type="rrelu", name="lr")[0], (2, 3, 4, 4)),  # [1], its mask, is not read
    "pool_max_valid": (_pool(kernel=(3, 3), stride=(2, 2))(d), (1, 2, 9, 10)),
    "pool_max_valid_pad": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1))(d), (1, 2, 9, 10)),
    "pool_max_full_odd": (_pool(kernel=(3, 3), stride=(2, 2), pooling_convention="full")(d), (1, 2, 10, 11)),
    "pool_max_full_pad": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pooling_convention="full")(d),
                          (1, 2, 12, 13)),
    "pool_max_full_k2s2": (_pool(kernel=(2, 2), stride=(2, 2), pooling_convention="full")(d), (1, 2, 7, 9)),
    "pool_avg_valid": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg")(d), (1, 2, 9, 10)),
    "pool_avg_nopadcount": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                                  count_include_pad=False)(d), (1, 2, 9, 10)),
    "pool_avg_full": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                            pooling_convention="full")(d), (1, 2, 10, 11)),
    "pool_avg_full_nopadcount": (_pool(kernel=(3, 3), stride=(2, 2), pool_type="avg", count_include_pad=False,
                                       pooling_convention="full")(d), (1, 2, 10, 11)),
    "pool_sum": (_pool(kernel=(2, 2), stride=(2, 2), pool_type="sum")(d), (1, 2, 8, 8)),
    "pool_global_avg": (_pool(kernel=(7, 7), global_pool=True, pool_type="avg")(d), (2, 3, 5, 6)),
    "pool_global_max": (_pool(kernel=(1, 1), global_pool=True, pool_type="max")(d), (2, 3, 5, 6)),
    "pool_global_sum": (_pool(kernel=(1, 1), global_pool=True, pool_type="sum")(d), (2, 3, 5, 6)),
    "fc_flatten": (S.FullyConnected(d, num_hidden=7, name="fc"), (2, 3, 4, 4)),
    "fc_no_bias": (S.FullyConnected(d, num_hidden=7, no_bias=True, name="fc"), (2, 12)),
    "fc_no_flatten": (S.FullyConnected(d, num_hidden=7, flatten=False, name="fc"), (2, 3, 5)),
    "flatten": (S.Flatten(d, name="flat"), (2, 3, 4, 4)),
    "elemwise": (S.elemwise_div(S.elemwise_sub(S.elemwise_mul(d, d), S.elemwise_add(d, d)), d * d + 1.0),
                 (2, 3, 4)),
    "broadcast": (S.broadcast_div(S.broadcast_sub(S.broadcast_add(d, S.var("w1", shape=(1, 3, 1))),
                                                  S.var("w2", shape=(1, 1, 4))),
                                  S.broadcast_mul(S.var("w3", shape=(1, 3, 1)), S.var("w4", shape=(1, 3, 1))) + 1.0),
                  (2, 3, 4)),
    "scalars": (((((d + 1.5) - 0.5) * 2.0) / 4.0), (2, 3)),
    "rscalars": ((3.0 - d) + 2.0 / (d * d + 1.0), (2, 3)),
    "copy": (S.identity(d) * S._internal._copy(d), (2, 3)),
    "dropout": (S.Dropout(d * 2.0, p=0.3), (2, 3)),
    "dropout_axes": (S.Dropout(d * 2.0, p=0.3, axes=(0,)), (2, 3, 4)),
    "concat": (S.Concat(d, d * 2, dim=1, name="cat"), (2, 3, 4, 4)),
    "concat_axis3": (S.Concat(d, d + 1, d * 3, dim=3, name="cat"), (2, 3, 4, 2)),
    "softmax_output": (S.SoftmaxOutput(d, name="softmax"), (3, 10)),
    "softmax_output_multi": (S.SoftmaxOutput(d, multi_output=True, name="softmax"), (2, 3, 4, 4)),
    "softmax_activation_instance": (S.SoftmaxActivation(d, mode="instance"), (2, 3, 2, 2)),
    "softmax_activation_channel": (S.SoftmaxActivation(d, mode="channel"), (2, 3, 4, 5)),
    "softmax_axis": (S.softmax(d, axis=1), (2, 3, 4)),
    "softmax_temperature": (S.softmax(d, axis=-1, temperature=2.0), (2, 3, 4)),
    "reshape_codes_0_m1": (S.Reshape(d, shape=(0, 2, -1, 0), name="rs"), (2, 4, 3, 5)),
    "reshape_m2": (S.Reshape(d, shape=(0, -2), name="rs"), (2, 4, 3)),
    "reshape_m3": (S.Reshape(d, shape=(-3, -2), name="rs"), (2, 4, 3, 5)),
    "reshape_m4": (S.Reshape(d, shape=(0, -4, 2, -1, -2), name="rs"), (2, 6, 3)),
    "reshape_reverse": (S.Reshape(d, shape=(-1, 0), reverse=True, name="rs"), (2, 3, 4)),
    "slice_channel": (S.SliceChannel(d, num_outputs=3, axis=1), (2, 6, 3)),
    "slice_squeeze": (S.SliceChannel(d, num_outputs=3, axis=2, squeeze_axis=True), (2, 2, 3)),
    "upsampling": (S.UpSampling(d, scale=2, sample_type="nearest", name="up"), (1, 2, 3, 5)),
    "upsampling_multi": (S.UpSampling(d, S.Pooling(d, kernel=(2, 2), stride=(2, 2)), scale=2,
                                      sample_type="nearest", num_args=2, name="up"), (1, 2, 4, 6)),
    "crop_ref": (S.Crop(S.UpSampling(d, scale=2, sample_type="nearest"), d, num_args=2, name="crop"),
                 (1, 2, 5, 7)),
    "crop_offset": (S.Crop(d, offset=(1, 2), h_w=(3, 3), num_args=1, name="crop"), (1, 2, 6, 7)),
    "crop_center": (S.Crop(d, h_w=(3, 4), center_crop=True, num_args=1, name="crop"), (1, 2, 6, 7)),
    "transpose": (S.transpose(d, axes=(0, 2, 3, 1)), (2, 3, 4, 5)),
    "transpose_default": (S.transpose(d), (2, 3, 4)),
    "clip": (S.clip(d, a_min=-0.3, a_max=0.5), (2, 3, 4)),
    **{f"l2norm_{m}": (S.L2Normalization(d, mode=m, name="l2"), (2, 3, 4, 5))
       for m in ("instance", "channel", "spatial")},
}


def _full(**kw):
    return _pool(pooling_convention="full", **kw)(d)


# Cases beyond the shared ones: MXNet-only pooling edges, other ranks, more heads and codes.
CASES.update({
    # windows that start in the padding or past the data: PyTorch's ceil_mode drops them, MXNet keeps them
    **{f"pool_full_edge_{kind}_{size}": (_full(kernel=(2, 2), stride=(2, 2), pad=(1, 1), pool_type=kind),
                                         (1, 2, size, size + 2))
       for kind in ("max", "avg", "sum") for size in (5, 6)},
    "pool_full_k1s3": (_full(kernel=(1, 1), stride=(3, 3), pool_type="max"), (1, 2, 6, 7)),
    "pool_full_avg_nopadcount_edge": (_full(kernel=(2, 2), stride=(2, 2), pad=(1, 1), pool_type="avg",
                                            count_include_pad=False), (1, 2, 7, 5)),
    "pool_full_sum_pad": (_full(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="sum"), (1, 2, 10, 11)),
    "pool_avg_valid_nopad_odd": (_pool(kernel=(3, 2), stride=(2, 3), pool_type="avg")(d), (2, 3, 11, 13)),
    "pool_1d_full": (_full(kernel=(2,), stride=(2,), pad=(1,), pool_type="max"), (2, 3, 9)),
    "pool_3d_avg": (_pool(kernel=(2, 2, 2), stride=(2, 2, 2), pool_type="avg")(d), (1, 2, 4, 5, 6)),
    "conv3d": (S.Convolution(d, kernel=(2, 3, 3), num_filter=3, pad=(0, 1, 1), name="conv"), (1, 2, 4, 5, 5)),
    "bn_3d_input": (S.BatchNorm(d, fix_gamma=False, name="bn"), (2, 4, 6)),
    # the legacy, synchronised and ReLU-fused BatchNorms (their moving statistics auxiliary states as BatchNorm's)
    "bn_v1_mean_var": (S.BatchNorm_v1(d, fix_gamma=False, output_mean_var=True, name="bn"), (2, 3, 4, 5)),
    "bn_v1_2d_fix_gamma": (S.BatchNorm_v1(d, fix_gamma=True, eps=2e-5, name="bn"), (3, 6)),
    "bn_sync_3d": (S.contrib.SyncBatchNorm(d, key="bn_key", ndev=2, fix_gamma=False, eps=1e-5, name="bn"), (2, 3, 4)),
    "bn_sync_global_stats": (S.contrib.SyncBatchNorm(d, key="k", fix_gamma=True, use_global_stats=True, name="bn"),
                             (2, 4, 3, 3)),
    "bn_relu": (S.contrib.BatchNormWithReLU(d, fix_gamma=False, name="bn"), (2, 3, 4, 5)),
    "bn_relu_mean_var": (S.contrib.BatchNormWithReLU(d, fix_gamma=True, output_mean_var=True, eps=2e-5, name="bn"),
                         (2, 4, 3, 3)),
    # MXNet 0.x's convolution and pooling: avg divides every window by the whole kernel, even one overhanging
    "conv_v1_stride_pad": (S.Convolution_v1(d, kernel=(3, 3), num_filter=4, pad=(1, 1), stride=(2, 2), name="conv"),
                           (1, 3, 7, 8)),
    "conv_v1_groups_nobias": (S.Convolution_v1(d, kernel=(3, 2), num_filter=4, num_group=2, dilate=(2, 1),
                                               no_bias=True, name="conv"), (2, 4, 8, 6)),
    **{f"pool_v1_{kind}_{convention}": (S.Pooling_v1(d, kernel=(3, 3), stride=(2, 2), pad=pad, pool_type=kind,
                                                     pooling_convention=convention, name="pool"), (1, 2, 8, 7))
       for kind, pad in (("max", (0, 0)), ("avg", (1, 1)), ("sum", (1, 1))) for convention in ("valid", "full")},
    "pool_v1_avg_rect": (S.Pooling_v1(d, kernel=(2, 3), stride=(1, 2), pad=(1, 1), pool_type="avg", name="pool"),
                         (2, 3, 6, 7)),
    "pool_v1_global_avg": (S.Pooling_v1(d, kernel=(3, 3), global_pool=True, pool_type="avg", name="pool"),
                           (2, 3, 5, 7)),
    "pool_v1_global_max": (S.Pooling_v1(d, kernel=(1, 1), pad=(1, 1), global_pool=True, name="pool"), (1, 3, 5, 4)),
    # over all but the batch axis (MXNet's MKLDNN kernel alone takes the last axis of 4-D data instead)
    "softmax_output_3d": (S.SoftmaxOutput(d, name="softmax"), (2, 3, 4)),
    "softmax_output_preserve": (S.SoftmaxOutput(d, preserve_shape=True, name="softmax"), (2, 3, 4)),
    "softmax_output_multi_preserve": (S.SoftmaxOutput(d, multi_output=True, preserve_shape=True, name="softmax"),
                                      (2, 3, 4)),
    "reshape_m4_first_m1": (S.Reshape(d, shape=(0, -4, -1, 2, -2), name="rs"), (2, 6, 3)),
    "reshape_target_shape": (S.Reshape(d, target_shape=(0, 12), name="rs"), (2, 3, 4)),
    "upsampling_sum": (S.UpSampling(d, S.Pooling(d, kernel=(2, 2), stride=(2, 2)), scale=2, sample_type="nearest",
                                    num_args=2, multi_input_mode="sum", name="up"), (1, 2, 4, 6)),
    "multi_head_split": (S.Group([S.SliceChannel(d, num_outputs=2, name="split")[1], d * 2.0]), (2, 4, 3)),
    # face models: MTCNN R-Net's 2-way scores, RetinaFace's FPN crop of an upsampled odd-sized map
    "softmax_activation_2d": (S.SoftmaxActivation(d, name="prob1"), (3, 2)),
    "crop_fpn_odd": (S.Crop(S.UpSampling(S.Pooling(d, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max"),
                                         scale=2, sample_type="nearest", num_args=1), d, num_args=2, name="crop"),
                     (1, 2, 7, 9)),
    # lp pooling: MXNet sums x^p (signed: p is 1, 2 or 3) over the same windows as sum pooling, then takes the root
    "pool_lp1_pad": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="lp", p_value=1)(d), (1, 2, 9, 10)),
    "pool_lp2": (_pool(kernel=(2, 2), stride=(2, 2), pool_type="lp", p_value=2)(d), (2, 3, 6, 8)),
    "pool_lp3_rect": (_pool(kernel=(2, 3), stride=(1, 2), pad=(1, 1), pool_type="lp", p_value=3)(d), (1, 2, 7, 9)),
    **{f"pool_lp{p}_full_edge": (_full(kernel=(2, 2), stride=(2, 2), pad=(1, 1), pool_type="lp", p_value=p),
                                 (1, 2, 5, 7)) for p in (1, 2, 3)},
    "pool_lp2_full_pad": (_full(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="lp", p_value=2), (1, 2, 10, 11)),
    **{f"pool_lp{p}_global": (_pool(kernel=(1, 1), global_pool=True, pool_type="lp", p_value=p)(d), (2, 3, 5, 6))
       for p in (1, 2, 3)},
    "pool_lp2_1d": (_pool(kernel=(3,), stride=(2,), pad=(1,), pool_type="lp", p_value=2)(d), (2, 3, 9)),
    "pool_lp3_3d": (_pool(kernel=(2, 2, 2), stride=(2, 2, 2), pool_type="lp", p_value=3)(d), (1, 2, 4, 5, 6)),
    # layouts given explicitly; channels last runs MXNet's own CPU kernels (not MKLDNN's)
    "pool_layout_ncw": (_pool(kernel=(3,), stride=(2,), layout="NCW")(d), (2, 3, 9)),
    "pool_layout_nchw": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg", layout="NCHW")(d),
                         (1, 2, 9, 10)),
    "pool_layout_ncdhw": (_pool(kernel=(2, 2, 2), stride=(2, 2, 2), layout="NCDHW")(d), (1, 2, 4, 5, 6)),
    "pool_nhwc_max": (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), layout="NHWC")(d), (1, 9, 10, 2)),
    "pool_nhwc_avg_full": (_full(kernel=(2, 2), stride=(2, 2), pad=(1, 1), pool_type="avg", layout="NHWC"),
                           (1, 5, 7, 3)),
    "pool_nhwc_global_avg": (_pool(kernel=(1, 1), global_pool=True, pool_type="avg", layout="NHWC")(d), (2, 5, 6, 3)),
    "pool_nwc_sum": (_pool(kernel=(3,), stride=(2,), pad=(1,), pool_type="sum", layout="NWC")(d), (2, 9, 3)),
    "pool_ndhwc_lp2": (_pool(kernel=(2, 2, 2), stride=(2, 2, 2), pool_type="lp", p_value=2, layout="NDHWC")(d),
                       (1, 4, 5, 6, 2)),
    # a pad and a stride per axis
    "pool_max_asym": (_pool(kernel=(2, 3), stride=(1, 2), pad=(0, 1))(d), (1, 2, 7, 9)),
    "pool_avg_asym_nopadcount": (_pool(kernel=(2, 3), stride=(1, 2), pad=(0, 1), pool_type="avg",
                                       count_include_pad=False)(d), (1, 2, 7, 9)),
    "pool_sum_asym_full": (_full(kernel=(3, 2), stride=(2, 1), pad=(1, 0), pool_type="sum"), (1, 2, 8, 7)),
    # same: 1-D only; MXNet 1.9.1 runs it only with the pad spelled as three zeros, and only off MKLDNN (its max
    # and its avg where (size - kernel) % stride == 0 fail on MKLDNN): ceil(size / stride) windows from 0, clipped
    "pool_same_avg": (_pool(kernel=(3,), stride=(2,), pad=(0, 0, 0), pool_type="avg", pooling_convention="same")(d),
                      (2, 3, 10)),
    "pool_same_sum": (_pool(kernel=(4,), stride=(3,), pad=(0, 0, 0), pool_type="sum", pooling_convention="same")(d),
                      (2, 3, 10)),
    "pool_same_lp2": (_pool(kernel=(5,), stride=(2,), pad=(0, 0, 0), pool_type="lp", p_value=2,
                            pooling_convention="same")(d), (2, 3, 10)),
    **{f"pool_same_{kind}_nwc": (_pool(kernel=(5,), stride=(2,), pad=(0, 0, 0), pool_type=kind, layout="NWC",
                                       pooling_convention="same")(d), (2, 9, 3)) for kind in ("max", "avg")},
    "conv_dilate_rect": (_conv(d, kernel=(3, 3), num_filter=4, dilate=(1, 2), pad=(1, 2)), (1, 3, 8, 9)),
    "concat_neg_dim": (S.Concat(d, d * 2, dim=-1, name="cat"), (2, 3, 4)),
    "slice_neg_axis": (S.SliceChannel(d, num_outputs=2, axis=-1), (2, 3, 4)),
    "slice_neg_axis_squeeze": (S.SliceChannel(d, num_outputs=3, axis=-2, squeeze_axis=True), (2, 3, 2)),
    **{f"upsampling_scale{scale}": (S.UpSampling(d, scale=scale, sample_type="nearest", name="up"), (1, 2, 3, 4))
       for scale in (1, 3)},
    "upsampling_multi_scale3": (S.UpSampling(d, S.Pooling(d, kernel=(3, 3), stride=(3, 3)), scale=3,
                                             sample_type="nearest", num_args=2, name="up"), (1, 2, 3, 6)),
    # use_length: one length per row along the axis (the data's shape without it); 0 gives a row of zeros
    "softmax_length_last": (S.softmax(d, S.var("length"), axis=-1, use_length=True, name="sm"), (2, 3, 5)),
    "softmax_length_axis1": (S.softmax(d, S.var("length"), axis=1, use_length=True, temperature=2.0, name="sm"),
                             (2, 4, 3)),
})

# --- the elementwise family (data uniform in [-1, 1], mapped into each op's domain) ----------------------------
_SHAPE = (2, 3, 4, 5)


def _op(name: str) -> Callable:
    """An MXNet symbol op by name, public or internal (``_maximum``, ``_rpower_scalar``)."""
    return getattr(S, name, None) or getattr(S._internal, name)


_DOMAINS = {  # op -> the data transform that keeps it inside its domain (default: 3x the data)
    **{op: lambda x: x * 0.99 for op in ("arccos", "arcsin", "arctanh", "erfinv")},
    **{op: lambda x: x * 2.0 + 3.5 for op in ("log", "log10", "log2", "sqrt", "rsqrt", "gammaln")},
    "arccosh": lambda x: x * 2.0 + 3.5, "log1p": lambda x: x * 0.9, "expm1": lambda x: x * 1e-3,
    "logical_not": lambda x: S.floor(x * 2.0), "gamma": lambda x: x * 3.0 - 0.3, "tan": lambda x: x,
}
CASES.update({f"unary_{op}": (_op(op)(_DOMAINS.get(op, lambda x: x * 3.0)(d), name=op), _SHAPE)
              for op in ("abs", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "cbrt", "ceil", "cos",
                         "cosh", "degrees", "erf", "erfinv", "exp", "expm1", "fix", "floor", "gamma", "gammaln", "log",
                         "log10", "log1p", "log2", "logical_not", "negative", "radians", "rcbrt", "reciprocal",
                         "relu", "rint", "round", "rsqrt", "sigmoid", "sign", "sin", "sinh", "softsign", "sqrt",
                         "square", "tan", "tanh", "trunc")})
CASES.update({  # exact halves: round takes them away from zero, rint to the floor, fix and trunc towards zero
    f"unary_{op}_ties": (_op(op)(S.floor(d * 4.0) + 0.5, name=op), _SHAPE) for op in ("round", "rint", "fix")})
_OPERANDS = {  # base -> (left, right) of the elementwise form, as functions of the data and a same-shape weight
    "power": lambda x, w: (x * 2.0 + 3.0, w), "mod": lambda x, w: (x * 5.0, w),
    **{op: lambda x, w: (S.floor(x * 2.0), S.floor(w * 2.0))
       for op in ("equal", "not_equal", "greater", "greater_equal", "lesser", "lesser_equal",
                  "logical_and", "logical_or", "logical_xor")},
}
for _base in ("maximum", "minimum", "power", "hypot", "mod", "equal", "not_equal", "greater", "greater_equal",
              "lesser", "lesser_equal", "logical_and", "logical_or", "logical_xor"):
    _left, _right = _OPERANDS.get(_base, lambda x, w: (x, w))(d, S.var("w", shape=_SHAPE))
    _bleft, _bright = _OPERANDS.get(_base, lambda x, w: (x, w))(d, S.var("w", shape=(1, 3, 1, 5)))
    CASES[f"binary_{_base}"] = (_op(f"_{_base}")(_left, _right, name=_base), _SHAPE)
    CASES[f"broadcast_{_base}"] = (_op(f"broadcast_{_base}")(_bleft, _bright, name=_base), _SHAPE)
    CASES[f"scalar_{_base}"] = (_op(f"_{_base}_scalar")(_left, scalar=0.5, name=_base), _SHAPE)
CASES.update({
    "scalar_rpower": (_op("_rpower_scalar")(d, scalar=2.5, name="rpower"), _SHAPE),
    "scalar_rmod": (_op("_rmod_scalar")(d, scalar=1.5, name="rmod"), _SHAPE),
    "scalar_mod_negative": (_op("_mod_scalar")(d * 5.0, scalar=-1.5, name="mod"), _SHAPE),
    "scalar_mod_zero": (_op("_mod_scalar")(d, scalar=0.0, name="mod"), _SHAPE),
    "scalar_rminus_rdiv": (_op("_rdiv_scalar")(_op("_rminus_scalar")(d, scalar=3.0), scalar=2.0, name="rdiv"), _SHAPE),
    "scalar_equal_zero": (_op("_equal_scalar")(S.floor(d * 2.0), scalar=0.0, name="eq"), _SHAPE),
    "hard_sigmoid": (S.hard_sigmoid(d * 4.0, alpha=0.3, beta=0.4, name="hs"), _SHAPE),
    "hard_sigmoid_default": (S.hard_sigmoid(d * 4.0, name="hs"), _SHAPE),
    "add_n": (S.add_n(d, d * 2.0, S.exp(d), name="sum"), _SHAPE),
})

# --- reductions: axis lists with negatives, exclude, keepdims, every axis (MXNet keeps one), ties ----------------
_REDUCE_ATTRS = {"all": {}, "axis": {"axis": (1, -1)}, "keepdims": {"axis": (0, 2), "keepdims": True},
                 "exclude": {"axis": (1,), "exclude": True}, "exclude_keepdims": {"axis": (0, 3), "exclude": True,
                                                                                    "keepdims": True}}
for _op_name in ("sum", "mean", "max", "min", "prod", "nansum", "nanprod"):
    for _variant, _attrs in _REDUCE_ATTRS.items():
        CASES[f"reduce_{_op_name}_{_variant}"] = (_op(_op_name)(d, name=_op_name, **_attrs), _SHAPE)
CASES.update({
    "reduce_sum_every_axis_keepdims": (S.sum(d, axis=(0, 1, 2, 3), keepdims=True, name="sum"), _SHAPE),
    "reduce_sum_exclude_every_axis": (S.sum(d, axis=(0, 1, 2, 3), exclude=True, name="sum"), _SHAPE),
    "reduce_sum_axis_alias": (S.sum_axis(d, axis=2, name="sum"), _SHAPE),
    "reduce_nansum_nan": (S.nansum(S.sqrt(d), axis=(2, 3), name="nansum"), _SHAPE),
    "reduce_nanprod_nan": (S.nanprod(S.sqrt(d + 1.5) - 0.5 * S.sqrt(d), axis=-1, name="nanprod"), _SHAPE),
    "norm_l2_all": (S.norm(d, name="norm"), _SHAPE),
    "norm_l2_axis": (S.norm(d, axis=1, name="norm"), _SHAPE),
    "norm_l1_keepdims": (S.norm(d, ord=1, axis=(1, 3), keepdims=True, name="norm"), _SHAPE),
    "argmax_axis": (S.argmax(S.floor(d * 2.0), axis=1, name="argmax"), _SHAPE),  # ties: the first index
    "argmax_keepdims": (S.argmax(d, axis=-1, keepdims=True, name="argmax"), _SHAPE),
    "argmax_flat": (S.argmax(d, name="argmax"), _SHAPE),
    "argmin_flat_keepdims": (S.argmin(d, keepdims=True, name="argmin"), _SHAPE),
    "argmin_axis_ties": (S.argmin(S.floor(d * 2.0), axis=0, name="argmin"), _SHAPE),
    "argmax_1d": (S.argmax(d, axis=0, name="argmax"), (7,)),
})

# --- MXNet's NumPy interface (prefix np_): broadcasting, 0-d results, NumPy's types (bool, int64, promotion) ------
N, NX = mx.sym.np, mx.sym.npx
_nd = d.as_np_ndarray()
_steps = N.floor(_nd * 2.0)  # -2, -1, 0 or 1: ties and zeros
_ints = N.floor(_nd * 5.0).astype("int32")
_positive_ints = (_ints * _ints + 1).astype("int32")


def _nw(shape: tuple, name: str = "w"):
    return S.var(name, shape=shape).as_np_ndarray()


def _respelled(sym, spellings: dict[str, str]):
    """``sym`` with its ops renamed to other spellings MXNet registers for them (``_npx_convolution``...)."""
    graph = json.loads(sym.tojson())
    for node in graph["nodes"]:
        node["op"] = spellings.get(node["op"], node["op"])
    return mx.sym.load_json(json.dumps(graph))


_NP_SHAPE = (2, 3, 4)
_w31, _w4, _w14 = _nw((3, 1), "w31"), _nw((4,), "w4"), N.floor(_nw((1, 4), "w14"))
_NP_REDUCE = {op: getattr(N, op) for op in ("sum", "mean", "max", "min", "prod", "amax", "amin")}
CASES.update({
    "np_arithmetic_broadcast": (S.Group([_nd + _w31, _nd - _w31, _nd * _w31, _nd / _w31, N.mod(_nd * 5.0, _w31),
                                         N.power(_nd + 2.0, _w31), N.maximum(_nd, _w31), N.minimum(_nd, _w31)]),
                                _NP_SHAPE),
    "np_math_binary": (S.Group([N.hypot(_nd, _w4), N.arctan2(_nd, _w4), N.copysign(_nd, _w4),
                                N.ldexp(_nd, N.floor(_w4 * 3.0)), N.arctan2(_steps, N.floor(_w4 * 2.0))]), _NP_SHAPE),
    "np_compare": (S.Group([_steps == _w14, _steps != _w14, _steps > _w14, _steps >= _w14, _steps < _w14,
                            _steps <= _w14]), _NP_SHAPE),
    "np_scalars": (S.Group([_nd + 1, _nd + 1.5, 1 - _nd, _nd * 2, _nd / 4, 2 / _nd, _nd % 0.7, 1.5 % _nd, _nd ** 2,
                            2 ** _nd, N.maximum(_nd, 0.2), N.minimum(_nd, 0.2), N.hypot(_nd, 0.5),
                            N.arctan2(_nd, 0.5), N.copysign(_nd, -1.0), N.ldexp(_nd, 2.0)]), _NP_SHAPE),
    "np_compare_scalar": (S.Group([_steps == 0, _steps != 0, _steps > 0.5, _steps >= 0, _steps < -0.5,
                                   _steps <= 0]), _NP_SHAPE),
    "np_integer_types": (S.Group([_ints + 1, _ints + 1.5, _ints / 2, _ints * 3, _ints % 3, _ints + _positive_ints,
                                  _ints / _positive_ints, _ints % _positive_ints, _ints ** 2, N.abs(_ints), -_ints,
                                  _ints + _nd, (_nd > 0) + _ints, (_nd > 0) + 1, N.sum(_nd > 0), N.mean(_ints),
                                  N.max(_ints, axis=1), N.sum(_ints, axis=0)]), _NP_SHAPE),
    "np_bitwise": (S.Group([N.bitwise_and(_ints, _positive_ints), N.bitwise_or(_ints, 3), N.bitwise_xor(_ints, -2),
                            N.bitwise_xor(_nd > 0, _nd > 0.5)]), _NP_SHAPE),
    "np_lcm": (N.lcm(_ints, _positive_ints), _NP_SHAPE),
    "np_unary_rounding": (S.Group([N.rint(N.floor(_nd * 4.0) + 0.5), N.fix(_nd * 3.0), N.trunc(_nd * 3.0),
                                   N.ceil(_nd * 3.0), N.floor(_nd * 3.0), N.sign(_steps), N.abs(_nd), N.absolute(_nd),
                                   N.negative(_nd), N.square(_nd), N.reciprocal(_nd), N.cbrt(_nd * 3.0)]), _NP_SHAPE),
    "np_unary_exp_log": (S.Group([N.exp(_nd), N.expm1(_nd * 1e-3), N.log(_nd + 1.5), N.log10(_nd + 1.5),
                                  N.log2(_nd + 1.5), N.log1p(_nd * 0.9), N.sqrt(_nd + 1.5),
                                  N.degrees(_nd), N.radians(_nd)]), _NP_SHAPE),
    "np_unary_trigonometry": (S.Group([N.sin(_nd), N.cos(_nd), N.tan(_nd), N.arcsin(_nd * 0.99),
                                       N.arccos(_nd * 0.99), N.arctan(_nd * 3.0), N.sinh(_nd), N.cosh(_nd),
                                       N.tanh(_nd), N.arcsinh(_nd * 3.0), N.arccosh(_nd + 2.5),
                                       N.arctanh(_nd * 0.99)]), _NP_SHAPE),
    "np_predicates": (S.Group([N.isnan(N.log(_steps + 1.0)), N.isinf(N.log(_steps + 1.0)),
                               N.isfinite(N.log(_steps + 1.0)), N.isposinf(1.0 / _steps), N.isneginf(1.0 / _steps),
                               N.logical_not(_steps)]), _NP_SHAPE),
    **{f"np_reduce_{name}": (S.Group([op(_nd), op(_nd, axis=1), op(_nd, axis=(0, -1), keepdims=True),
                                      op(_nd, axis=-2, keepdims=True)]), _NP_SHAPE)
       for name, op in _NP_REDUCE.items()},
    "np_all_any": (S.Group([N.all(_steps), N.any(_steps, axis=1), N.all(_steps, axis=(0, 2), keepdims=True),
                            N.any(_steps + 2.0)]), _NP_SHAPE),
    "np_argmax_argmin": (S.Group([N.argmax(_steps), N.argmax(_nd, axis=1), N.argmin(_steps, axis=-1),
                                  N.argmin(_nd)]), _NP_SHAPE),
    "np_std_var": (S.Group([N.std(_nd), N.var(_nd, axis=1), N.std(_nd, axis=(0, 2), ddof=1, keepdims=True),
                            N.var(_nd, axis=-1, ddof=2)]), _NP_SHAPE),
    "np_average_cumsum": (S.Group([N.average(_nd, axis=1), N.average(_nd), N.cumsum(_nd), N.cumsum(_nd, axis=1),
                                   N.cumsum(_nd > 0, axis=2)]), _NP_SHAPE),
    "np_zero_d_chain": (N.sqrt(N.abs(N.mean(_nd) * 2.0 - N.max(_nd))) + N.sum(_nd, axis=(0, 1, 2)), _NP_SHAPE),
    "np_around_where": (S.Group([N.around(_nd * 3.0), N.around(_nd, 2), N.around(N.floor(_nd * 8.0) / 4.0, 1),
                                 N.around(_nd * 300.0, -1), N.where(_steps, _nd, _w31), N.where(_steps > 0, _nd, 1.5),
                                 N.where(_steps > 0, 0.5, _nd), N.where(_steps, 1.0, -2.0)]), _NP_SHAPE),
    "np_npx_activations": (S.Group([NX.relu(_nd), NX.sigmoid(_nd), N.copy(_nd), N.clip(_nd, -0.3, 0.5)]),
                           _NP_SHAPE),
    "np_npx_layers": (_respelled(S.softmax(S.Dropout(S.FullyConnected(S.Flatten(S.LeakyReLU(S.Activation(S.Pooling(
        S.BatchNorm(S.Convolution(d, kernel=(3, 3), num_filter=4, name="conv"), fix_gamma=False, name="bn"),
        kernel=(2, 2), stride=(2, 2), name="pool"), act_type="relu"), act_type="leaky", slope=0.1)), num_hidden=5,
        name="fc"), p=0.2), axis=-1), {"Convolution": "_npx_convolution", "BatchNorm": "_npx_batch_norm",
                                       "Pooling": "_npx_pooling", "Activation": "_npx_activation",
                                       "LeakyReLU": "_npx_leaky_relu", "Flatten": "_npx_batch_flatten",
                                       "FullyConnected": "_npx_fully_connected", "Dropout": "_npx_dropout",
                                       "softmax": "_npx_softmax"}), (2, 3, 8, 8)),
})
# the opset a case's ops need in ONNX (refused by name below it)

def _deformable(modulated: bool, kernel=(3, 3), groups: int = 1, deformable: int = 1, reach: float = 3.0, **kw):
    """A deformable convolution whose offsets (and mask) a convolution of the data computes, scaled by ``reach``
    so that many samples fall between pixels, past the last row and column, or outside the image."""
    taps = kernel[0] * kernel[1]
    out = dict(kernel=kernel, stride=kw.get("stride", (1, 1)), pad=kw.get("pad", (0, 0)),
               dilate=kw.get("dilate", (1, 1)))
    offset = S.Convolution(d, num_filter=2 * deformable * taps, name="offset_conv", **out) * reach
    if not modulated:
        return S.contrib.DeformableConvolution(d, offset, num_filter=4, num_group=groups,
                                               num_deformable_group=deformable, name="dcn", **kw, kernel=kernel)
    mask = S.sigmoid(S.Convolution(d, num_filter=deformable * taps, name="mask_conv", **out) * 2.0)
    return S.contrib.ModulatedDeformableConvolution(d, offset, mask, num_filter=4, num_group=groups,
                                                    num_deformable_group=deformable, name="dcn", **kw, kernel=kernel)


CASES.update({
    "dcn_v1_pad": (_deformable(False, pad=(1, 1)), (2, 4, 7, 6)),
    "dcn_v1_groups_stride_dilate_no_bias": (_deformable(False, groups=2, deformable=2, stride=(2, 2), dilate=(2, 1),
                                                        pad=(2, 1), no_bias=True), (1, 4, 9, 8)),
    "dcn_v1_rect_far": (_deformable(False, kernel=(2, 3), deformable=4, reach=8.0), (2, 4, 5, 6)),
    "dcn_v2_pad": (_deformable(True, pad=(1, 1)), (2, 4, 7, 6)),
    "dcn_v2_groups_stride_no_bias": (_deformable(True, groups=2, deformable=2, stride=(2, 2), pad=(1, 1),
                                                 no_bias=True), (1, 4, 9, 8)),
    "dcn_v2_rect_far": (_deformable(True, kernel=(3, 1), deformable=4, dilate=(2, 1), reach=8.0), (2, 4, 8, 5)),
})


# Graphs MXNet runs that neither target converts: symbol, input shape, the refusal (both targets say the same)
BOTH_REFUSE = {
    "pool_v1_max_zero_padding": (S.Pooling_v1(d, kernel=(3, 3), pad=(1, 1), pool_type="max", name="pool"),
                                 (1, 2, 6, 7), r"Pooling_v1 \[max pooling over zero padding \(1, 1\)\] \(pool\)"),
    "bn_sync_mean_var": (S.contrib.SyncBatchNorm(d, key="k", output_mean_var=True, name="bn"), (2, 3, 4, 4),
                         r"_contrib_SyncBatchNorm \[output_mean_var: MXNet leaves the mean and var outputs unwritten "
                         r"at inference\] \(bn\)"),
}

# Cases whose op no ONNX operator computes: refused by name, with the reason, before anything is written
ONNX_REFUSES = {"unary_erfinv": "erfinv", "unary_gamma": "gamma", "unary_gammaln": "gammaln",
                "np_lcm": r"_npi_lcm \[no ONNX operator computes a least common multiple\]"}

# Values of inputs beyond ``data`` (run_reference's ``inputs``), per case
CASE_INPUTS: dict[str, dict[str, np.ndarray]] = {
    "softmax_length_last": {"length": np.array([[1, 5, 3], [0, 2, 4]], np.int32)},
    "softmax_length_axis1": {"length": np.array([[4, 1, 2], [0, 3, 4]], np.int64)},
}

# --- loss heads: their inference forward (labels fed zeros by MXNet, dropped by the conversion) -----------------
_HEAD_DATA = S.FullyConnected(d, num_hidden=4, name="fc")
HEADS = {
    "head_linear_regression": (S.LinearRegressionOutput(_HEAD_DATA, name="head", grad_scale=0.5), (3, 5)),
    "head_mae_regression": (S.MAERegressionOutput(_HEAD_DATA, name="head"), (3, 5)),
    "head_logistic_regression": (S.LogisticRegressionOutput(_HEAD_DATA * 3.0, name="head"), (3, 5)),
    "head_logistic_4d": (S.LogisticRegressionOutput(d * 3.0, name="head"), (2, 3, 4, 5)),
    "head_svm": (S.SVMOutput(_HEAD_DATA, name="head", margin=0.5, use_linear=True), (3, 5)),
    "head_make_loss": (S.MakeLoss(S.square(d), name="head", normalization="batch"), (2, 3, 4)),
    "head_softmax_output": (S.SoftmaxOutput(_HEAD_DATA, name="head"), (3, 5)),
}
CASES.update(HEADS)


# --- padding, resizing, adaptive/ROI pooling and sequence ops (prefix ``resize_``) -------------------
_resize = S.contrib.BilinearResize2D
_seq_length = S.var("seq_length")
CASES.update({
    "resize_pad_constant": (S.Pad(d, mode="constant", pad_width=(0, 0, 0, 0, 1, 2, 0, 3), constant_value=0.5,
                                  name="pad"), (1, 2, 3, 4)),
    "resize_pad_edge": (S.Pad(d, mode="edge", pad_width=(0, 0, 0, 0, 2, 1, 1, 2), name="pad"), (1, 2, 3, 4)),
    "resize_pad_reflect": (S.Pad(d, mode="reflect", pad_width=(0, 0, 0, 0, 2, 1, 1, 3), name="pad"), (2, 1, 3, 4)),
    "resize_pad_reflect_5d": (S.Pad(d, mode="reflect", pad_width=(0, 0, 0, 0, 1, 2, 2, 1, 0, 4), name="pad"),
                              (1, 2, 3, 4, 5)),
    "resize_pad_edge_5d": (S.Pad(d, mode="edge", pad_width=(0, 0, 0, 0, 0, 1, 3, 0, 2, 2), name="pad"),
                           (1, 1, 2, 3, 4)),
    "resize_pad_constant_5d": (S.pad(d, mode="constant", pad_width=(0, 0, 0, 0, 1, 1, 0, 2, 1, 0), name="pad"),
                               (1, 2, 2, 3, 2)),
    "resize_adaptive_global": (S.contrib.AdaptiveAvgPooling2D(d, name="pool"), (2, 3, 5, 7)),
    "resize_adaptive_one_value": (S.contrib.AdaptiveAvgPooling2D(d, output_size=3, name="pool"), (1, 2, 7, 5)),
    "resize_adaptive_two_values": (S.contrib.AdaptiveAvgPooling2D(d, output_size=(2, 4), name="pool"), (1, 2, 5, 9)),
    "resize_adaptive_larger": (S.contrib.AdaptiveAvgPooling2D(d, output_size=(5, 7), name="pool"), (1, 2, 3, 4)),
    "resize_bilinear_size": (_resize(d, height=5, width=7, name="resize"), (1, 2, 4, 3)),
    "resize_bilinear_size_half_pixel": (_resize(d, height=7, width=4, align_corners=False, name="resize"),
                                        (1, 2, 4, 6)),
    "resize_bilinear_scales": (_resize(d, scale_height=1.5, scale_width=0.5, name="resize"), (1, 2, 5, 6)),
    "resize_bilinear_scale_width_only": (_resize(d, scale_width=2.0, height=3, width=2, name="resize"),
                                         (1, 2, 5, 6)),
    "resize_bilinear_odd_scale": (_resize(d, mode="odd_scale", scale_height=2.0, scale_width=0.5,
                                          align_corners=False, name="resize"), (1, 2, 5, 6)),
    "resize_bilinear_like": (_resize(d, S.UpSampling(d, scale=2, sample_type="nearest", num_args=1), mode="like",
                                     align_corners=False, name="resize"), (1, 2, 3, 4)),
    **{f"resize_bilinear_{mode}": (_resize(d, mode=mode, align_corners=mode.endswith("up"), name="resize"),
                                   (1, 2, 5, 6))
       for mode in ("to_even_down", "to_even_up", "to_odd_down", "to_odd_up")},
    "resize_bilinear_one_row_half_pixel": (_resize(d, height=1, width=5, align_corners=False, name="resize"),
                                           (1, 2, 4, 6)),
    "resize_bilinear_one_pixel_corners": (_resize(d, height=1, width=1, name="resize"), (1, 2, 4, 6)),
    "resize_upsampling_bilinear": (S.UpSampling(d, scale=2, sample_type="bilinear", num_filter=3, num_args=2,
                                                name="up"), (1, 3, 4, 5)),
    "resize_upsampling_bilinear_odd": (S.UpSampling(d, scale=3, sample_type="bilinear", num_filter=2, num_args=1,
                                                    name="up"), (2, 2, 3, 2)),
    "resize_roi_pooling": (S.ROIPooling(d, S.var("rois", shape=(7, 5)), pooled_size=(2, 3), spatial_scale=0.5,
                                        name="roi"), (2, 3, 8, 9)),
    "resize_roi_pooling_unit_scale": (S.ROIPooling(d, S.var("rois", shape=(2, 5)), pooled_size=(3, 2),
                                                   spatial_scale=1.0, name="roi"), (1, 2, 5, 6)),
    "resize_sequence_mask": (S.SequenceMask(d, _seq_length, use_sequence_length=True, value=-2.0, name="mask"),
                             (4, 3, 2)),
    "resize_sequence_mask_axis1": (S.SequenceMask(d, _seq_length, use_sequence_length=True, axis=1, name="mask"),
                                   (3, 5, 2)),
    "resize_sequence_mask_no_length": (S.SequenceMask(d, value=3.0, name="mask"), (4, 3)),
    "resize_sequence_reverse": (S.SequenceReverse(d, _seq_length, use_sequence_length=True, name="rev"),
                                (4, 3, 2)),
    "resize_sequence_reverse_no_length": (S.SequenceReverse(d, name="rev"), (4, 3, 2)),
    "resize_sequence_last": (S.SequenceLast(d, _seq_length, use_sequence_length=True, name="last"), (4, 3, 2)),
    "resize_sequence_last_axis1": (S.SequenceLast(d, _seq_length, use_sequence_length=True, axis=1, name="last"),
                                   (3, 5, 2)),
    "resize_sequence_last_2d": (S.SequenceLast(d, _seq_length, use_sequence_length=True, name="last"), (4, 3)),
    "resize_sequence_last_no_length_axis1": (S.SequenceLast(d, axis=1, name="last"), (3, 4)),
})
CASE_INPUTS.update({  # boxes hanging off the image, malformed (x2 < x1), wholly outside, of a missing image
    "resize_roi_pooling": {"rois": np.array([[0, 0, 0, 15, 13], [1, 2.4, 3.6, 12.5, 9.1], [1, -5, -3, 20, 30],
                                             [0, 14, 12, 3, 1], [0, 40, 40, 60, 50], [2, 1, 1, 4, 4],
                                             [-1, 1, 1, 4, 4]], np.float32)},
    "resize_roi_pooling_unit_scale": {"rois": np.array([[0, 0.5, 1.5, 4.5, 3.49], [0, 3, 0, 5, 4]], np.float32)},
    "resize_sequence_mask": {"seq_length": np.array([2, 0, 3.7], np.float32)},  # truncated as MXNet does
    "resize_sequence_mask_axis1": {"seq_length": np.array([1, 5, 3], np.float32)},
    "resize_sequence_reverse": {"seq_length": np.array([2, 1, 4.5], np.float32)},
    "resize_sequence_last": {"seq_length": np.array([2, 4, 1.9], np.float32)},
    "resize_sequence_last_axis1": {"seq_length": np.array([5, 1, 3], np.float32)},
    "resize_sequence_last_2d": {"seq_length": np.array([3, 1, 4], np.float32)},
})


# --- shape and layout ops (prefix shape_): ranks 1 to 5, negative axes, None bounds, each mode ---------------
_W = S.var("w", shape=(2, 1, 4))  # a weight as the second input of the *_like ops
CASES.update({
    "shape_expand_dims_first": (S.expand_dims(d, axis=0, name="ed"), (3,)),
    "shape_expand_dims_last_negative": (S.expand_dims(d, axis=-1, name="ed"), (2, 3, 4)),
    "shape_expand_dims_middle": (S.expand_dims(d, axis=2, name="ed"), (2, 1, 3, 2, 2)),
    "shape_squeeze_all": (S.squeeze(d, name="sq"), (1, 3, 1, 2)),
    "shape_squeeze_axes": (S.squeeze(d, axis=(0, -1), name="sq"), (1, 3, 1, 1)),
    "shape_squeeze_every_axis": (S.squeeze(d, name="sq"), (1, 1, 1)),
    "shape_slice_basic": (S.slice(d, begin=(0, 1), end=(2, 3), name="sl"), (3, 4, 5)),
    "shape_slice_none_negative": (S.slice(d, begin=(None, -3, 1), end=(-1, None, None), name="sl"), (3, 4, 5)),
    "shape_slice_steps": (S.slice(d, begin=(1, None, None), end=(None, None, 0), step=(2, -1, -2), name="sl"),
                          (5, 3, 6)),
    "shape_slice_clipped": (S.slice(d, begin=(-9, 7), end=(20, -9), step=(1, -3), name="sl"), (3, 8)),
    "shape_slice_1d_5d": (S.slice(S.slice(d, begin=(1,), end=(None,), name="a").reshape((2, 1, 3, 1, 2)),
                                  begin=(None, None, 2, None, None), end=(None, None, 0, None, None),
                                  step=(None, None, -1, 1, -1), name="sl"), (13,)),
    "shape_slice_alias_crop": (S.crop(d, begin=(0, 1), end=(1, 3), name="sl"), (2, 4)),
    "shape_slice_axis": (S.slice_axis(d, axis=1, begin=1, end=3, name="sa"), (2, 4, 3)),
    "shape_slice_axis_end_none": (S.slice_axis(d, axis=-1, begin=-2, end=None, name="sa"), (2, 3, 5)),
    "shape_slice_like_all": (S.slice_like(d, S.Pooling(d, kernel=(2, 2), stride=(2, 2)), name="sl"),
                             (1, 2, 5, 6)),
    "shape_slice_like_axes": (S.slice_like(d, _W, axes=(0, -1), name="sl"), (3, 2, 5)),
    "shape_reshape_like": (S.reshape_like(d, _W, name="rl"), (4, 2)),
    "shape_reshape_like_ranges": (S.reshape_like(d, S.var("w", shape=(5, 6, 2, 7)), lhs_begin=1, lhs_end=-1,
                                                 rhs_begin=1, rhs_end=3, name="rl"), (2, 12, 3)),
    "shape_reshape_like_tail": (S.reshape_like(d, S.var("w", shape=(3, 4)), lhs_begin=-2, rhs_begin=0,
                                               name="rl"), (2, 6, 2)),
    "shape_broadcast_to": (S.broadcast_to(d, shape=(3, 0, 4), name="bt"), (1, 2, 1)),
    "shape_broadcast_axis": (S.broadcast_axis(d, axis=(0, 2), size=(2, 3), name="ba"), (1, 4, 1)),
    "shape_broadcast_axes_alias": (S.broadcast_axes(d, axis=2, size=4, name="ba"), (2, 3, 1)),
    "shape_broadcast_like": (S.broadcast_like(d, S.var("w", shape=(2, 3, 4)), name="bl"), (1, 3, 1)),
    "shape_broadcast_like_axes": (S.broadcast_like(d, S.var("w", shape=(5, 4)), lhs_axes=(0, -1),
                                                   rhs_axes=(-1, 0), name="bl"), (1, 3, 1)),
    "shape_tile": (S.tile(d, reps=(2, 3), name="tile"), (2, 3)),
    "shape_tile_longer_reps": (S.tile(d, reps=(2, 1, 3), name="tile"), (2, 3)),
    "shape_tile_shorter_reps": (S.tile(d, reps=(2,), name="tile"), (2, 3, 2)),
    "shape_repeat_flat": (S.repeat(d, repeats=2, name="rep"), (2, 3)),
    "shape_repeat_axis": (S.repeat(d, repeats=3, axis=-2, name="rep"), (2, 3, 2)),
    "shape_stack": (S.stack(d, d * 2.0, d + 1.0, axis=1, name="stack"), (2, 3)),
    "shape_stack_last": (S.stack(d, S.exp(d), axis=-1, name="stack"), (2, 3)),
    "shape_split_v2_sections": (S.split_v2(d, 3, axis=1), (2, 7, 2)),
    "shape_split_v2_indices": (S.split_v2(d, (2, 3), axis=-1), (2, 3, 5)),
    "shape_split_v2_squeeze": (S.split_v2(d, 3, axis=0, squeeze_axis=True), (3, 2)),
    "shape_swapaxis": (S.SwapAxis(d, dim1=0, dim2=2, name="swap"), (2, 3, 4)),
    "shape_swapaxes_negative": (S.swapaxes(d, dim1=-1, dim2=1, name="swap"), (2, 3, 4, 5)),
    "shape_reverse": (S.reverse(d, axis=(0, 2), name="rev"), (2, 3, 4)),
    "shape_flip_twice": (S.flip(d, axis=(1, 1, 0), name="rev"), (2, 3)),
    "shape_depth_to_space": (S.depth_to_space(d, block_size=2, name="d2s"), (1, 8, 2, 3)),
    "shape_space_to_depth": (S.space_to_depth(d, block_size=2, name="s2d"), (2, 3, 4, 6)),
    "shape_space_depth_round_trip": (S.depth_to_space(S.space_to_depth(d, block_size=3), block_size=3,
                                                      name="d2s"), (1, 2, 3, 6)),
    "shape_block_grad": (S.BlockGrad(d * 2.0, name="bg") + S.stop_gradient(d, name="sg"), (2, 3)),
})
# MXNet's NumPy interface (prefix np_): the spellings ``mx.sym.np``/``mx.sym.npx`` write, with NumPy's axes
_N, _NX = mx.sym.np, mx.sym.npx
_dn = d.as_np_ndarray()


def _nd(sym):
    """A NumPy-interface symbol (or the first of a list) as a legacy one, for grouping and binding."""
    return (sym[0] if isinstance(sym, (list, tuple)) else sym).as_nd_ndarray()


def _nd_all(parts):
    return S.Group([part.as_nd_ndarray() for part in parts])


def _twice(sym):
    """``sym`` times two through MXNet's own op (the NumPy arithmetic is another family's)."""
    return (sym.as_nd_ndarray() * 2.0).as_np_ndarray()


CASES.update({
    "np_reshape": (_nd(_N.reshape(_dn, (3, -1, 2))), (2, 3, 4)),
    "np_reshape_flat": (_nd(_N.reshape(_dn, -1)), (2, 3, 4)),
    "npx_reshape_codes": (_nd(_NX.reshape(_dn, (-2, -5, -1))), (2, 3, 4, 5)),
    "npx_reshape_copy_rest_split": (_nd(_NX.reshape(_dn, (-6, 2, -1, -4))), (4, 3, 5)),
    "npx_reshape_reverse": (_nd(_NX.reshape(_dn, (-1, -2), reverse=True)), (2, 3, 4)),
    "np_transpose_default": (_nd(_N.transpose(_dn)), (2, 3, 4)),
    "np_transpose_negative": (_nd(_N.transpose(_dn, (-1, 0, -2))), (2, 3, 4)),
    "np_moveaxis": (_nd(_N.moveaxis(_dn, [0, 1], [-1, 0])), (2, 3, 4, 5)),
    "np_squeeze_axis": (_nd(_N.squeeze(_dn, axis=-1)), (2, 3, 1)),
    "np_squeeze_to_0d": (_nd(_N.squeeze(_dn)), (1, 1)),
    "np_atleast_3d": (_nd_all(_N.atleast_3d(_dn, _N.reshape(_dn, -1), S.sum(d, axis=(0, 1)).as_np_ndarray())), (2, 3)),
    "np_atleast_2d_1d": (_nd_all(_N.atleast_2d(_N.reshape(_dn, -1), _dn)), (2, 3)),
    "np_atleast_1d": (_nd(_N.atleast_1d(_dn)), (4,)),
    "np_concatenate_negative": (_nd(_N.concatenate([_dn, _twice(_dn)], axis=-1)), (2, 3)),
    "np_stack": (_nd(_N.stack([_dn, _twice(_dn)], axis=-1)), (2, 3)),
    "np_vstack_1d_2d": (_nd(_N.vstack([_N.reshape(_dn, -1), _N.reshape(_dn, (1, 6))])), (2, 3)),
    "np_hsplit_2d": (_nd_all(_N.hsplit(_dn, [1, 3])), (2, 5)),
    "np_hsplit_1d": (_nd_all(_N.hsplit(_dn, 2)), (4,)),
    "np_dsplit": (_nd_all(_N.dsplit(_dn, 2)), (2, 3, 4)),
    "np_flip_axis": (_nd(_N.flip(_dn, 2)), (2, 3, 4)),
    "np_flip_every_axis": (_nd(_N.flip(_dn)), (2, 3)),
    "np_roll_flat": (_nd(_N.roll(_dn, 4)), (2, 3)),
    "np_roll_axes": (_nd(_N.roll(_dn, (7, -2), axis=(0, -1))), (3, 4, 5)),
    "np_rot90": (_nd(_N.rot90(_dn)), (2, 3, 4)),
    "np_rot90_k3_axes": (_nd(_N.rot90(_dn, 3, axes=(-1, 0))), (2, 3, 4)),
    "np_rot90_k2": (_nd(_N.rot90(_dn, -2, axes=(1, 2))), (2, 3, 4)),
    "np_broadcast_to": (_nd(_N.broadcast_to(_dn, (2, 3, 4))), (3, 1)),
    "np_copy": (_nd(_N.copy(_dn)), (2, 3)),
})
_NW = S.var("w", shape=(4, 3, 5)).as_np_ndarray()
# cases ONNX expresses from an opset on (earlier ones are refused with the reason): Einsum
EINSUM_CASES = ("np_dot_nd", "np_dot_vector", "np_tensordot_axes", "np_tensordot_int", "np_einsum",
                "np_einsum_ellipsis_implicit")
# Cases ONNX takes from an opset on, refused below it: (that opset, what the refusal says)
ONNX_OPSET_FLOOR = {case: (12, r"\[ONNX has Einsum from opset 12\]") for case in EINSUM_CASES}
ONNX_OPSET_FLOOR["np_bitwise"] = (18, "unsupported ops: _npi_bitwise")
CASES.update({  # NumPy's products: matmul broadcasts, dot sums b's second to last axis, tensordot, einsum
    "np_matmul_broadcast": (_nd(_N.matmul(_dn, _NW)), (2, 1, 3, 3)),
    "np_matmul_vector": (_nd(_N.matmul(_N.reshape(_dn, -1), _N.reshape(_NW, (3, 20)))), (1, 3)),
    "np_dot_nd": (_nd(_N.dot(_dn, _NW)), (2, 3)),
    "np_dot_vector": (_nd(_N.dot(_dn, _N.reshape(_NW, (-1,)))), (3, 60)),
    "np_tensordot_axes": (_nd(_N.tensordot(_dn, _NW, axes=([0, -1], [1, 0]))), (3, 2, 4)),
    "np_tensordot_int": (_nd(_N.tensordot(_dn, _NW, axes=2)), (2, 4, 3)),
    "np_einsum": (_nd(_N.einsum("bij,jkl->bkil", _dn, _NW)), (2, 3, 4)),
    "np_einsum_ellipsis_implicit": (_nd(_N.einsum("...j,kjl", _dn, _NW)), (2, 3)),
    "np_zeros_ones": (S.broadcast_add(S.broadcast_add(d, _N.zeros((1, 3)).as_nd_ndarray()),
                                      _N.ones((2, 1)).as_nd_ndarray()), (2, 3)),
    "np_arange": (S.broadcast_add(d, _N.arange(2, 9, 2).as_nd_ndarray()), (3, 4)),
})
def _plus(sym):
    """A NumPy-interface creation op's values added to the data (through MXNet's own op)."""
    return S.broadcast_add(d, sym.as_nd_ndarray())


def _beside(sym):
    """A creation op's values (of any type) as an output beside the data's."""
    return S.Group([sym.as_nd_ndarray(), d * 1.0])


CASES.update({  # NumPy's creation ops: values from the attributes alone, in their dtype
    "np_eye": (_plus(_N.eye(3, 4, k=1)), (3, 4)),
    "np_eye_square_lower": (_plus(_N.eye(4, k=-2)), (2, 4, 4)),
    "np_identity": (_plus(_N.identity(3)), (3, 3)),
    "np_linspace": (_plus(_N.linspace(-1.0, 2.5, 7)), (2, 7)),
    "np_linspace_open_int": (_beside(_N.linspace(0, 10, 4, endpoint=False, dtype="int32")), (2,)),
    "np_logspace": (_plus(_N.logspace(0.5, 2.0, 5, base=2.0, endpoint=False)), (2, 5)),
    "np_indices": (_beside(_N.indices((2, 3, 4))), (2,)),
    "np_hanning": (_plus(_N.hanning(9)), (9,)),
    "np_hamming": (_plus(_N.hamming(8)), (2, 8)),
    "np_blackman": (_plus(_N.blackman(7)), (7,)),
    "np_blackman_one": (_plus(_N.blackman(1)), (3,)),
    "np_full_like": (_nd(_N.full_like(_dn, 3.5)) + d, (2, 3)),
    "np_full_like_int": (_beside(_N.full_like(_dn, -2.7, dtype="int32")), (2, 3)),
})
CASES.update({  # NumPy's triangles and diagonals, and column_stack (Concat on axis 1)
    "np_tril": (_nd(_N.tril(_dn, -1)), (2, 3, 4)),
    "np_tril_1d": (_nd(_N.tril(_dn, 1)), (4,)),
    "np_diag_extract": (_nd(_N.diag(_dn, 1)), (3, 4)),
    "np_diag_make": (_nd(_N.diag(_dn, -2)), (3,)),
    "np_diagflat": (_nd(_N.diagflat(_dn, 1)), (2, 2)),
    "np_diagonal": (_nd(_N.diagonal(_dn, offset=-1, axis1=2, axis2=0)), (3, 4, 5)),
    "np_trace": (_nd(_N.trace(_dn, offset=1, axis1=1, axis2=-1)), (2, 3, 4)),
    "np_trace_2d": (_nd(_N.trace(_dn)), (3, 3)),
    "np_column_stack": (_nd(_N.column_stack([_dn, _twice(_dn)])), (2, 3)),
})
_IMAGE = mx.sym.image
CASES.update({  # MXNet's image ops on HWC images (NHWC batches but for the flips), as npx spells them
    "np_image_to_tensor": (_nd(_NX.image.to_tensor(_dn)), (4, 5, 3)),
    "np_image_to_tensor_batch": (_nd(_NX.image.to_tensor(_dn)), (2, 4, 5, 1)),
    "np_image_normalize": (_nd(_NX.image.normalize(_dn, mean=(0.1, -0.2, 0.3), std=(0.5, 2.0, 3.0))), (3, 4, 5)),
    "np_image_normalize_one_value": (_nd(_NX.image.normalize(_dn, mean=0.25, std=0.5)), (2, 3, 4, 5)),
    "np_image_flip_left_right": (_nd(_NX.image.flip_left_right(_dn)), (3, 4, 3)),
    "np_image_flip_top_bottom": (_nd(_NX.image.flip_top_bottom(_dn)), (4, 5, 3)),
    "np_image_crop": (_nd(_NX.image.crop(_dn, x=1, y=2, width=3, height=2)), (2, 5, 6, 3)),
    "image_crop_legacy": (_IMAGE.crop(d, x=0, y=1, width=4, height=3), (4, 5, 1)),
})
_SQUARE = S.broadcast_add(d, 4.0 * _N.eye(3).as_nd_ndarray()).as_np_ndarray()  # diagonally dominant
_GRAM = S.broadcast_add(S.batch_dot(d, d, transpose_b=True), 0.5 * _N.eye(3).as_nd_ndarray()).as_np_ndarray()
_L = _N.linalg
_NI = mx.symbol.numpy._internal  # the spellings the NumPy interface does not export (cholesky's lower)
CASES.update({  # NumPy's linear algebra on the trailing two axes of well-conditioned matrices
    "np_linalg_det": (_nd(_L.det(_dn)), (2, 3, 3)),
    "np_linalg_det_2d": (_nd(_L.det(_dn)), (4, 4)),
    "np_linalg_slogdet": (_nd_all(_L.slogdet(_dn)), (2, 3, 3)),
    "np_linalg_inv": (_nd(_L.inv(_SQUARE)), (2, 3, 3)),
    "np_linalg_cholesky": (_nd(_L.cholesky(_GRAM)), (2, 3, 3)),
    "np_linalg_cholesky_upper": (_nd(_NI.cholesky(_GRAM, lower=False)), (2, 3, 3)),
    "np_linalg_solve_vectors": (_nd(_L.solve(_SQUARE, S.var("w", shape=(2, 3)).as_np_ndarray())), (2, 3, 3)),
    "np_linalg_solve_matrices": (_nd(_L.solve(_SQUARE, S.var("w", shape=(2, 3, 4)).as_np_ndarray())), (2, 3, 3)),
})
ONNX_REFUSES.update({"np_linalg_inv": r"_linalg_inverse \[ONNX has no matrix inverse operator\]",
                     **{case: r"_npi_cholesky \[ONNX has no Cholesky decomposition operator\]"
                        for case in ("np_linalg_cholesky", "np_linalg_cholesky_upper")},
                     **{case: r"_npi_solve \[ONNX has no linear solve operator\]"
                        for case in ("np_linalg_solve_vectors", "np_linalg_solve_matrices")}})
# Casts: data scaled past each integer type's range (wrapping, int32 and int64 overflow), exact halves; float16
# and bfloat16 results are cast back to float32 (NumPy has no bfloat16) and clipped (float16 overflows to inf)
_CAST_INPUTS = {"int8": d * 300.0, "uint8": d * 300.0, "int32": d * 4e9, "int64": d * 1e19, "bool": S.round(d * 2.0),
                "float64": d, "float32": d}


class _AmpCastKept(S.Symbol):
    """A symbol whose JSON keeps its amp_cast nodes (``tojson`` drops them by default, as checkpoints do)."""

    __slots__ = ()

    def tojson(self, remove_amp_cast: bool = False) -> str:
        return super().tojson(remove_amp_cast=remove_amp_cast)


def amp_cast_kept(source, dtype: str, name: str = "cast"):
    """``amp_cast`` that stays in the symbol's JSON."""
    cast = S.amp_cast(source, dtype=dtype, name=name)
    cast.__class__ = _AmpCastKept
    return cast


def narrow_float(cast: Callable, dtype: str, scale: float):
    """``cast`` of the scaled data to float16 or bfloat16, read back as float32 and clipped to finite values."""
    clipped = S.clip(S.Cast(cast(d * scale, dtype=dtype), dtype="float32"), a_min=-1e5, a_max=1e5, name="clip")
    clipped.__class__ = _AmpCastKept
    return clipped


CASES.update({f"shape_cast_{dtype}": (S.Cast(source, dtype=dtype, name="cast"), (2, 3, 4))
              for dtype, source in _CAST_INPUTS.items()})
CASES.update({
    "shape_cast_float16": (narrow_float(S.Cast, "float16", 7e4), (2, 3, 4)),
    "shape_cast_bfloat16": (narrow_float(S.Cast, "bfloat16", 3.0), (2, 3, 4)),
    "shape_amp_cast_float16": (narrow_float(amp_cast_kept, "float16", 7e4), (2, 3, 4)),
    "shape_amp_cast_float32": (amp_cast_kept(d, "float32"), (2, 3, 4)),
    "shape_cast_ties": (S.cast(S.floor(d * 4.0) + 0.5, dtype="int32", name="cast"), (2, 3, 4)),
})
CASES.update({  # Reshape codes beyond the reshape_* cases (test_shape_ops has those whose output MXNet shortens)
    "shape_reshape_reverse_m2_m3": (S.Reshape(d, shape=(-2, -3), reverse=True, name="rs"), (2, 3, 4, 5)),
    "shape_reshape_reverse_m4": (S.Reshape(d, shape=(0, -1, 2, -4), reverse=True, name="rs"), (6, 4)),
    "shape_reshape_keep_highest": (S.Reshape(d, target_shape=(5, 0), keep_highest=True, name="rs"), (2, 3, 4)),
})
ONNX_REFUSES.update({"shape_cast_bfloat16": r"Cast \[Cast to bfloat16 \(MXNet truncates.*\]"})


# --- indexing, creation and sorting: float indices truncated, clipped or wrapped; ties; dtypes --------
def _index_var(name: str, values: list) -> tuple:
    """A variable holding exact index values (stored with the weights) and its CASE_INPUTS entry."""
    array = np.array(values, np.float32)
    return S.var(name, shape=array.shape), array


def _with_data(sym):
    """``sym`` grouped with an output of the data, for creation ops whose output type is no float32."""
    return S.Group([sym, d * 1.0])


_take_idx, _take_values = _index_var("idx", [[-1.5, 0.3], [2.9, 7.0]])
_wrap_idx, _wrap_values = _index_var("idx", [-7.5, -1.0, 4.2, 12.0])
_raise_idx, _raise_values = _index_var("idx", [0.0, 2.0, 1.5])
_pick_idx, _pick_values = _index_var("idx", [[-1.0, 5.0, 1.7, 0.2], [2.0, 2.9, -0.5, 1.0]])
_pick_kept_idx, _pick_kept_values = _index_var("idx", [[-1.0], [-5.5], [6.0]])
_onehot_idx, _onehot_values = _index_var("idx", [[-1.0, 0.0, 2.7], [3.0, 4.0, -0.5]])
_gather_idx, _gather_values = _index_var("idx", [[-1.0, 0.5, 2.0], [3.0, -4.0, -0.5]])
_gather_all_idx, _gather_all_values = _index_var("idx", [[1.0, -2.0], [2.0, 0.0], [-1.0, 2.5]])
_cond, _cond_values = _index_var("cond", [1.0, 0.0, -0.5])
CASES.update({
    "index_take_axis0_clip": (S.take(d, _take_idx, name="take"), (4, 3)),
    "index_take_neg_axis_wrap": (S.take(d, _wrap_idx, axis=-1, mode="wrap", name="take"), (2, 3, 5)),
    "index_take_raise_in_range": (S.take(d, _raise_idx, axis=1, mode="raise", name="take"), (2, 3, 4)),
    "index_take_computed_wrap": (S.take(d, S.floor(d * 4.0), axis=1, mode="wrap", name="take"), (2, 3)),
    # infinite and NaN indices become int64's lowest (x86): clipped to 0, wrapped to its remainder
    "index_take_infinite_clip": (S.take(d, S.reciprocal(S.floor(d * 2.0)), axis=-1, name="take"), (2, 5)),
    "index_take_nan_wrap": (S.take(d, S.sqrt(S.floor(d * 2.0)), axis=0, mode="wrap", name="take"), (3, 4)),
    "index_pick_nan_clip": (S.pick(d, S.sqrt(S.floor(S.sum(d, axis=0) * 2.0)), axis=0, name="pick"), (3, 4)),
    "index_pick_clip": (S.pick(d, _pick_idx, axis=1, name="pick"), (2, 3, 4)),
    "index_pick_wrap_keepdims": (S.pick(d, _pick_kept_idx, axis=-1, keepdims=True, mode="wrap", name="pick"), (3, 4)),
    "index_pick_argmax": (S.pick(d, S.argmax(d, axis=0), axis=0, name="pick"), (3, 4)),
    "index_one_hot_computed": (S.one_hot(S.floor(d * 3.0), depth=4, name="one_hot"), (2, 3)),
    "index_one_hot_int32": (S.one_hot(_onehot_idx + d * 0.0, depth=4, on_value=2.7, off_value=-1.0, dtype="int32",
                                      name="one_hot"), (2, 3)),
    "index_one_hot_float16": (S.one_hot(_onehot_idx + d * 0.0, depth=3, on_value=0.1, dtype="float16",
                                        name="one_hot"), (2, 3)),
    "index_gather_nd_leading": (S.gather_nd(d, _gather_idx, name="gather_nd"), (3, 4, 2)),
    "index_gather_nd_every_axis": (S.gather_nd(d, _gather_all_idx, name="gather_nd"), (2, 3, 4)),
    "index_where_same_shape": (S.where(S.floor(d * 2.0), d, d * 3.0, name="where"), (2, 3, 4)),
    "index_where_rows": (S.where(_cond, d, -d, name="where"), (3, 4)),
    "index_topk_indices": (S.topk(d, k=2, name="topk"), (2, 3, 5)),
    "index_topk_value_axis1_ascend": (S.topk(d, axis=1, k=2, ret_typ="value", is_ascend=True, name="topk"), (2, 4, 3)),
    # ties: MXNet's std::sort keeps the lower index first on up to 16 elements (beyond, its order is libstdc++'s)
    "index_topk_both_ties": (S.topk(S.floor(d * 2.0), k=3, ret_typ="both", name="topk"), (2, 6)),
    "index_topk_both_ties_ascend": (S.topk(S.floor(d * 2.0), k=4, ret_typ="both", is_ascend=True, name="topk"),
                                    (2, 6)),
    "index_topk_mask_axis0": (S.topk(d, axis=0, k=2, ret_typ="mask", name="topk"), (3, 4)),
    "index_topk_flat": (S.topk(d, axis=None, k=3, ret_typ="both", name="topk"), (2, 3, 2)),
    "index_topk_flat_mask": (S.topk(d, axis=None, k=4, ret_typ="mask", name="topk"), (2, 3)),
    "index_topk_every_k0": (S.topk(d, axis=-2, k=0, ret_typ="value", name="topk"), (2, 3, 2)),
    "index_topk_int32": (S.topk(d, k=2, dtype="int32", name="topk"), (3, 4)),
    "index_sort": (S.sort(d, name="sort"), (2, 3, 5)),
    "index_sort_descend_axis0": (S.sort(d, axis=0, is_ascend=False, name="sort"), (3, 4)),
    "index_sort_flat": (S.sort(d, axis=None, name="sort"), (2, 3)),
    "index_argsort_ties": (S.argsort(S.floor(d * 2.0), name="argsort"), (3, 5)),
    "index_argsort_ties_descend": (S.argsort(S.floor(d * 2.0), axis=1, is_ascend=False, name="argsort"), (2, 4, 2)),
    "index_argsort_flat_int32": (S.argsort(d, axis=None, dtype="int32", name="argsort"), (2, 3)),
    "index_shape_array": (S.shape_array(d, name="shape"), (2, 3, 4)),
    "index_size_array": (S.size_array(d, name="size"), (2, 3, 4)),
    "index_arange_repeat": (S.broadcast_add(d, S.arange(2, 7.5, 1.5, repeat=2, name="arange")), (3, 8)),
    "index_arange_no_stop": (S.broadcast_add(d, S.arange(5, name="arange")), (2, 5)),
    "index_arange_negative_step": (S.broadcast_add(d, S.arange(3, -1, -0.7, name="arange")), (1, 6)),
    "index_arange_int32": (_with_data(S.arange(-1.5, 4, 1.2, dtype="int32", name="arange")), (2, 3)),
    "index_arange_uint8_wraps": (_with_data(S.arange(-3.5, 5, 1.5, dtype="uint8", name="arange")), (2, 3)),
    "index_arange_float16": (_with_data(S.arange(0.1, 2, 0.3, dtype="float16", name="arange")), (2, 3)),  # zeros
    "index_arange_float16_whole": (_with_data(S.arange(-2.5, 9, 1.7, repeat=3, dtype="float16", name="arange")),
                                   (2, 3)),
    "index_arange_like": (S.contrib.arange_like(d, start=1, step=0.5, repeat=2, name="arange") + d, (3, 3)),
    "index_arange_like_axis": (S.broadcast_add(d, S.contrib.arange_like(d, axis=-1, start=-2, step=1.5,
                                                                        name="arange")), (2, 4)),
    "index_arange_like_negative_repeat": (S.contrib.arange_like(d, repeat=-2, step=0.7, name="arange"), (2, 3)),
    "index_zeros": (S.broadcast_add(d, S.zeros(shape=(1, 3), name="zeros")), (2, 3)),
    "index_ones": (S.broadcast_add(d, S.ones(shape=(2, 3), name="ones")), (2, 3)),
    "index_full": (S.broadcast_add(d, S.full(shape=(2, 1), val=2.5, name="full")), (2, 3)),
    "index_full_int32": (_with_data(S.full(shape=(2, 2), val=2.7, dtype="int32", name="full")), (2, 3)),
    "index_zeros_like": (S.zeros_like(d, name="zeros"), (2, 3)),
    "index_ones_like": (S.ones_like(d, name="ones") * 2.0 + d, (2, 3)),
})
CASE_INPUTS.update({
    "index_take_axis0_clip": {"idx": _take_values},
    "index_take_neg_axis_wrap": {"idx": _wrap_values},
    "index_take_raise_in_range": {"idx": _raise_values},
    "index_pick_clip": {"idx": _pick_values},
    "index_pick_wrap_keepdims": {"idx": _pick_kept_values},
    "index_one_hot_int32": {"idx": _onehot_values},
    "index_one_hot_float16": {"idx": _onehot_values},
    "index_gather_nd_leading": {"idx": _gather_values},
    "index_gather_nd_every_axis": {"idx": _gather_all_values},
    "index_where_rows": {"cond": _cond_values},
})
# ONNX operators MXNet's importer lacks, per case: the importer test skips these
INDEX_IMPORTER_SKIPS: dict[str, str] = {
    **{f"index_arange_like{v}": "MXNet's importer has no Range" for v in ("", "_axis", "_negative_repeat")},
    **{f"index_gather_nd_{v}": "MXNet's importer has no GatherND" for v in ("leading", "every_axis")},
    **{f"index_{v}_like": "MXNet's importer has no Expand" for v in ("zeros", "ones")},
    **{f"index_topk_{v}": "MXNet's importer has no Expand or ScatterElements" for v in ("mask_axis0", "flat_mask")},
}

# Random draws, compared by statistics (tests/test_random_ops.py): symbol, input shape (the data is zeros), inputs
_PROBABILITIES = np.log(np.array([[0.1, 0.2, 0.3, 0.4]], np.float32))
RANDOM_CASES = {
    "index_random_normal": (S.broadcast_add(d, S.random.normal(loc=1.0, scale=2.0, shape=(200, 500), name="normal")),
                            (1, 500), {}),
    "index_random_uniform": (S.broadcast_add(d, S.random.uniform(low=-1.0, high=3.0, shape=(200, 500),
                                                                 name="uniform")), (1, 500), {}),
    "index_random_uniform_like": (S.random.uniform_like(d, low=2.0, high=5.0, name="uniform"),
                                  (200, 500), {}),
    **{f"index_sample_multinomial{'_prob' if prob else ''}": (
        S.sample_multinomial(S.softmax(S.broadcast_add(d, S.var("logits", shape=(1, 4)))), shape=(50,),
                             get_prob=prob, name="multinomial"), (400, 4), {"logits": _PROBABILITIES})
       for prob in (False, True)},
}


# --- nn layers, normalisation and matrix products --------------------------------------------------


def _deconv(x, **kw):
    return S.Deconvolution(x, name="deconv", **kw)


def _w(name: str, shape: tuple):
    return S.var(name, shape=shape)


_QKV = S.FullyConnected(d, num_hidden=24, flatten=False, name="proj")  # (sequence, batch, 2 heads x 3 x 4)
# 4 queries and 7 keys and values of 3 heads x 2: the decoder's queries, the encoder's keys and values interleaved
_QUERIES = S.FullyConnected(S.slice_axis(d, axis=0, begin=0, end=4), num_hidden=6, flatten=False, name="q_proj")
_KEYS_VALUES = S.FullyConnected(d, num_hidden=12, flatten=False, name="kv_proj")
CASES.update({
    "nn_deconv2d": (_deconv(d, kernel=(3, 3), num_filter=4, no_bias=False), (2, 3, 4, 5)),
    "nn_deconv2d_stride_pad_adj": (_deconv(d, kernel=(3, 4), stride=(2, 3), pad=(1, 2), adj=(1, 2), num_filter=3),
                                   (1, 2, 4, 5)),
    "nn_deconv2d_groups_dilate": (_deconv(d, kernel=(3, 3), dilate=(2, 1), num_group=2, num_filter=4, pad=(1, 1),
                                          no_bias=False), (1, 4, 5, 4)),
    # MXNet's MKLDNN kernel runs target_shape only with the pad it implies given too
    "nn_deconv2d_target_shape": (_deconv(d, kernel=(4, 4), stride=(2, 2), target_shape=(10, 8), pad=(1, 2),
                                         num_filter=2), (1, 3, 5, 5)),
    "nn_deconv1d": (_deconv(d, kernel=(3,), stride=(2,), pad=(1,), adj=(1,), num_filter=3, no_bias=False), (2, 2, 7)),
    "nn_deconv1d_layout_ncw": (_deconv(d, kernel=(2,), stride=(3,), num_filter=2, layout="NCW"), (1, 3, 4)),
    "nn_deconv3d": (_deconv(d, kernel=(2, 3, 3), stride=(1, 2, 2), pad=(0, 1, 1), num_filter=2, no_bias=False),
                    (1, 2, 3, 4, 3)),
    "nn_conv1d_stride_dilate": (_conv(d, kernel=(3,), stride=(2,), dilate=(2,), pad=(2,), num_filter=3), (2, 4, 11)),
    "nn_conv3d_groups": (_conv(d, kernel=(3, 1, 3), stride=(2, 1, 1), num_group=2, num_filter=4, no_bias=True),
                         (1, 4, 5, 3, 5)),
    "nn_fc_no_flatten_4d": (S.FullyConnected(d, num_hidden=3, flatten=False, name="fc"), (2, 3, 2, 5)),
    **{f"nn_lrn_{n}": (S.LRN(d * 3.0, nsize=n, alpha=0.3, beta=0.6, knorm=1.5, name="lrn"), (2, 7, 3, 4))
       for n in (1, 3, 5)},
    "nn_lrn_defaults_2d": (S.LRN(d * 30.0, nsize=3, name="lrn"), (2, 5)),
    # alpha and beta that ONNX Runtime's LRN refuses
    "nn_lrn_negative_alpha": (S.LRN(d, nsize=3, alpha=-0.5, beta=1.5, knorm=2.0, name="lrn"), (2, 4, 3, 2)),
    "nn_lrn_zero_beta_2d": (S.LRN(d, nsize=5, alpha=0.5, beta=0.0, name="lrn"), (3, 6)),
    "nn_instance_norm": (S.InstanceNorm(d, eps=0.01, name="in"), (2, 3, 5, 7)),
    "nn_instance_norm_1d": (S.InstanceNorm(d, name="in"), (2, 3, 7)),
    "nn_instance_norm_3d": (S.InstanceNorm(d, name="in"), (1, 3, 3, 4, 5)),
    "nn_instance_norm_4_spatial_axes": (S.InstanceNorm(d, name="in"), (2, 3, 2, 3, 2, 3)),
    "nn_group_norm": (S.GroupNorm(d, num_groups=3, eps=0.01, name="gn"), (2, 6, 3, 5)),
    "nn_group_norm_one_group_3d": (S.GroupNorm(d, name="gn"), (2, 5, 7)),
    "nn_group_norm_output_mean_var": (S.GroupNorm(d, num_groups=2, output_mean_var=True, name="gn"), (3, 4, 5)),
    "nn_layer_norm": (S.LayerNorm(d, name="ln"), (2, 3, 7)),
    "nn_layer_norm_axis1": (S.LayerNorm(d, axis=1, eps=0.01, name="ln"), (2, 5, 3, 2)),
    "nn_layer_norm_axis_m2": (S.LayerNorm(d, axis=-2, name="ln"), (2, 5, 3)),
    "nn_layer_norm_output_mean_var": (S.LayerNorm(d, output_mean_var=True, name="ln"), (3, 5)),
    "nn_layer_norm_output_mean_var_axis0": (S.LayerNorm(d, axis=0, output_mean_var=True, name="ln"), (3, 4)),
    # indices from -1 to 7 into 5 rows: MXNet clips them into [0, 4] and truncates fractions
    "nn_embedding": (S.Embedding(d * 4.0 + 3.0, input_dim=5, output_dim=3, name="emb"), (2, 7)),
    # NaN and values past int64 take row 0 (MXNet's cast to int64 makes them its lowest value)
    "nn_embedding_nan_past_int64": (S.Embedding(S.log(d) * -1e20, input_dim=4, output_dim=3, name="emb"), (3, 5)),
    "nn_embedding_3d_sparse_grad": (S.Embedding(d * 2.0 + 2.0, input_dim=4, output_dim=2, sparse_grad=True,
                                                name="emb"), (2, 3, 4)),
    "nn_log_softmax": (S.log_softmax(d, name="ls"), (2, 3, 5)),
    "nn_log_softmax_axis_temperature": (S.log_softmax(d * 3.0, axis=0, temperature=0.5, name="ls"), (3, 4, 2)),
    "nn_softmin": (S.softmin(d * 3.0, axis=1, name="sm"), (2, 5, 3)),
    "nn_softmin_temperature": (S.softmin(d, axis=-2, temperature=3.0, name="sm"), (2, 4, 3)),
    "nn_dot_2d": (S.dot(d, _w("w", (5, 3)), name="dot"), (4, 5)),
    "nn_dot_nd": (S.dot(d, _w("w", (5, 3, 2)), name="dot"), (2, 3, 5)),
    "nn_dot_transpose_a": (S.dot(d, _w("w", (2, 3)), transpose_a=True, name="dot"), (2, 4, 3)),
    "nn_dot_transpose_b_nd": (S.dot(d, _w("w", (3, 2, 5)), transpose_b=True, name="dot"), (2, 4, 5)),
    "nn_dot_transpose_both": (S.dot(d, _w("w", (4, 2)), transpose_a=True, transpose_b=True, name="dot"), (2, 3)),
    "nn_dot_vectors": (S.dot(d, d * 2.0, name="dot"), (6,)),
    "nn_dot_vector_matrix": (S.dot(d, _w("w", (3, 4)), name="dot"), (3,)),
    "nn_batch_dot": (S.batch_dot(d, _w("w", (2, 5, 3)), name="bd"), (2, 4, 5)),
    "nn_batch_dot_transposed": (S.batch_dot(d, _w("w", (2, 3, 4, 5)), transpose_a=True, transpose_b=True,
                                            name="bd"), (2, 3, 5, 2)),
    "nn_gemm2": (S.linalg.gemm2(d, _w("w", (2, 5, 3)), alpha=0.5, name="gemm"), (2, 4, 5)),
    "nn_gemm2_transposed_2d": (S.linalg.gemm2(d, _w("w", (4, 3)), transpose_a=True, transpose_b=True, name="gemm"),
                               (3, 5)),
    "nn_gemm2_axis": (S.linalg.gemm2(d, _w("w", (2, 5, 3, 2)), axis=-3, alpha=-2.0, name="gemm"), (2, 4, 3, 5)),
    "nn_gemm2_axis0_transpose_b": (S.linalg.gemm2(d, _w("w", (3, 2, 5)), axis=0, transpose_b=True, name="gemm"),
                                   (4, 2, 5)),
    "nn_div_sqrt_dim": (S.contrib.div_sqrt_dim(d, name="div"), (2, 3, 5)),
    "nn_selfatt_qk": (S.contrib.interleaved_matmul_selfatt_qk(_QKV, heads=2, name="qk"), (5, 3, 4)),
    "nn_selfatt_valatt": (S.contrib.interleaved_matmul_selfatt_valatt(
        _QKV, S.softmax(S.contrib.interleaved_matmul_selfatt_qk(_QKV, heads=2), axis=-1), heads=2, name="valatt"),
        (5, 3, 4)),
    "nn_encdec_qk": (S.contrib.interleaved_matmul_encdec_qk(_QUERIES, _KEYS_VALUES, heads=3, name="qk"), (7, 2, 6)),
    "nn_encdec_attention": (S.contrib.interleaved_matmul_encdec_valatt(_KEYS_VALUES, S.softmax(
        S.contrib.interleaved_matmul_encdec_qk(_QUERIES, _KEYS_VALUES, heads=3), axis=-1), heads=3, name="valatt"),
        (7, 2, 6)),
})


# --- the fused RNN (tests/test_rnn_ops.py has every mode, layer count and direction): packed parameters
# and non-zero begin states stored with the weights, input, hidden and projection sizes all different --------------
def _rnn(mode: str, **attrs):
    cell = {"state_cell": S.var("rnn_state_cell")} if mode == "lstm" else {}
    return S.RNN(data=d, parameters=S.var("rnn_parameters"), state=S.var("rnn_state"), **cell, state_size=6,
                 mode=mode, name="rnn", **attrs)


CASES.update({
    "rnn_lstm_bidirectional_2layers_states": (_rnn("lstm", num_layers=2, bidirectional=True, state_outputs=True),
                                              (5, 3, 4)),
    "rnn_gru_3layers": (_rnn("gru", num_layers=3), (5, 3, 4)),
    "rnn_relu_bidirectional_states": (_rnn("rnn_relu", num_layers=1, bidirectional=True, state_outputs=True),
                                      (5, 3, 4)),
})
INDEX_IMPORTER_SKIPS.update({case: "MXNet's importer has no LSTM, GRU or RNN" for case in CASES if case.startswith("rnn_")})


# --- detection post-processing (prefix ``det_``): boxes built from the data so that they overlap -------
def _detections(x, classes: int = 4, tied: bool = False, malformed: bool = False, shift: float = 0.0):
    """Rows [id, score, x1, y1, x2, y2] from data in [-1, 1): ``classes`` ids, scores in [0, 1) (quarters when
    ``tied``), corners in [shift, 8 + shift) and sizes up to 6 (some negative when ``malformed``)."""
    u = (x + 1.0) * 0.5

    def column(i):
        return S.slice_axis(u, axis=-1, begin=i, end=i + 1)

    score = S.floor(column(1) * 4.0) * 0.25 if tied else column(1)
    low = S.concat(column(2), column(3), dim=-1) * 8.0 + shift
    size = (S.concat(column(4), column(5), dim=-1) - (0.2 if malformed else 0.0)) * 6.0
    return S.concat(S.floor(column(0) * float(classes)), score, low, low + size, dim=-1)


_nms = S.contrib.box_nms
_LAYOUT_ROWS = _detections(d, classes=3)
CASES.update({
    "det_box_nms_defaults_2d": (_nms(_detections(d), name="nms"), (20, 6)),
    "det_box_nms_classes": (_nms(_detections(d, classes=6), overlap_thresh=0.3, id_index=0, name="nms"), (2, 40, 6)),
    "det_box_nms_force_suppress": (_nms(_detections(d, classes=6), overlap_thresh=0.3, id_index=0,
                                        force_suppress=True, name="nms"), (2, 40, 6)),
    "det_box_nms_topk_valid_thresh": (_nms(_detections(d, classes=2), overlap_thresh=0.4, valid_thresh=0.4, topk=7,
                                           id_index=0, name="nms"), (2, 30, 6)),
    "det_box_nms_background": (_nms(_detections(d, classes=3), id_index=0, background_id=0, name="nms"), (2, 20, 6)),
    # more candidates than the generated module's 256 suppression rows a block
    "det_box_nms_blocks": (_nms(_detections(d, classes=3), overlap_thresh=0.3, id_index=0, name="nms"), (2, 600, 6)),
    # ties in score: MXNet's CPU sort is stable, so tied rows keep their order
    "det_box_nms_tied_scores": (_nms(_detections(d, classes=2, tied=True), overlap_thresh=0.2, id_index=0,
                                     name="nms"), (2, 30, 6)),
    "det_box_nms_batch_dims": (_nms(_detections(d, classes=3), overlap_thresh=0.3, id_index=0, topk=10, name="nms"),
                               (2, 3, 12, 6)),
    # negative widths (area 0) and a threshold of 0: any overlap suppresses
    "det_box_nms_malformed_zero_thresh": (_nms(_detections(d, malformed=True), overlap_thresh=0.0, name="nms"),
                                          (2, 20, 6)),
    # kept boxes left of 0 are not converted to the other format, as in MXNet
    "det_box_nms_center_in": (_nms(_detections(d, classes=2, shift=-3.0), in_format="center", id_index=0,
                                   name="nms"), (2, 20, 6)),
    "det_box_nms_center_out": (_nms(_detections(d, classes=2, shift=-3.0), out_format="center", id_index=0,
                                    overlap_thresh=0.3, name="nms"), (2, 20, 6)),
    "det_box_nms_none_valid": (_nms(_detections(d), valid_thresh=1.5, name="nms"), (2, 8, 6)),
    "det_box_nms_topk_zero_copies": (_nms(_detections(d), topk=0, name="nms"), (2, 8, 6)),
    # another row layout: corners first, then the score, the id and one more value
    "det_box_nms_layout": (_nms(S.concat(S.slice_axis(_LAYOUT_ROWS, axis=-1, begin=2, end=6),
                                         S.slice_axis(_LAYOUT_ROWS, axis=-1, begin=1, end=2),
                                         S.slice_axis(_LAYOUT_ROWS, axis=-1, begin=0, end=1),
                                         S.slice_axis(d, axis=-1, begin=0, end=1), dim=-1),
                                coord_start=0, score_index=4, id_index=5, overlap_thresh=0.3, name="nms"), (2, 15, 6)),
    "det_box_nms_alias": (S.contrib.box_non_maximum_suppression(_detections(d), overlap_thresh=0.3, topk=5,
                                                                name="nms"), (12, 6)),
})

_anchors = S.var("anchors", shape=(1, 4, 4))
_ANCHORS = np.array([[[0, 0, 4, 4], [1, 2, 6, 5], [2, 2, 3, 7], [3, 1, 3, 6]]], np.float32)  # the last 0 wide
_refs = S.var("refs", shape=(2, 3, 4))
_rois = S.var("rois", shape=(6, 5))
# boxes inside, hanging off the image, malformed (x2 < x1), wholly outside, smaller than a pixel, of image 1
_DET_ROIS = np.array([[0, 0, 0, 15, 13], [1, 2.4, 3.6, 12.5, 9.1], [0, -5, -3, 20, 30], [1, 14, 12, 3, 1],
                      [0, 40, 40, 60, 50], [1.7, 1, 1, 1.5, 1.2]], np.float32)
_encode = S.contrib.box_encode(d, S.var("matches", shape=(2, 4)), S.var("anchors", shape=(2, 4, 4)), _refs,
                               S.var("means", shape=(4,)), S.var("stds", shape=(4,)), name="enc")
CASES.update({
    "det_box_iou": (S.contrib.box_iou(S.slice_axis(_detections(d), axis=-1, begin=2, end=6), _anchors, name="iou"),
                    (2, 5, 6)),
    "det_box_iou_center": (S.contrib.box_iou(S.slice_axis(_detections(d), axis=-1, begin=2, end=6), _anchors,
                                             format="center", name="iou"), (7, 6)),
    "det_box_decode_center": (S.contrib.box_decode(d, _anchors + 1.0, name="dec"), (2, 4, 4)),
    "det_box_decode_corner_clip": (S.contrib.box_decode(d * 3.0, _anchors, std0=0.1, std1=0.1, std2=0.2, std3=0.3,
                                                        clip=0.5, format="corner", name="dec"), (2, 4, 4)),
    # samples above 0.5 are encoded; matches truncated, a negative one reads the previous entry's references
    "det_box_encode": (_encode, (2, 4)),
    "det_roi_align": (S.contrib.ROIAlign(d, _rois, pooled_size=(2, 3), spatial_scale=0.5, sample_ratio=2, name="roi"),
                      (2, 3, 8, 9)),
    "det_roi_align_position_sensitive": (S.contrib.ROIAlign(d, _rois, pooled_size=(2, 2), spatial_scale=0.25,
                                                            sample_ratio=3, position_sensitive=True, name="roi"),
                                         (2, 8, 5, 4)),
    "det_multibox_prior": (S.contrib.MultiBoxPrior(d, sizes=(0.3, 0.5), ratios=(1, 2, 0.5), clip=True, name="prior"),
                           (1, 2, 3, 5)),
    "det_multibox_prior_steps_offsets": (S.contrib.MultiBoxPrior(d, sizes=(0.2,), ratios=(1, 3), steps=(0.1, 0.2),
                                                                 offsets=(0.4, 0.6), name="prior"), (2, 2, 4, 3)),
})
CASE_INPUTS.update({
    "det_box_iou": {"anchors": _ANCHORS},
    "det_box_iou_center": {"anchors": _ANCHORS},
    "det_box_decode_center": {"anchors": _ANCHORS},
    "det_box_decode_corner_clip": {"anchors": _ANCHORS},
    "det_box_encode": {"matches": np.array([[0, 1, 2.7, -0.5], [-1, 2, 0, 1]], np.float32),
                       "anchors": np.array([[[0, 0, 4, 4], [1, 2, 6, 5], [2, 2, 3, 7], [3, 1, 4, 6]],
                                            [[1, 1, 2, 3], [0, 2, 5, 5], [2, 0, 6, 7], [1, 1, 4, 2]]], np.float32),
                       "refs": np.array([[[0, 0, 4, 4], [1, 2, 6, 5], [2, 1, 5, 3]],
                                         [[2, 2, 3, 7], [0, 1, 5, 5], [1, 1, 2, 2]]], np.float32),
                       "means": np.array([0, 0.1, 0, 0.2], np.float32),
                       "stds": np.array([0.1, 0.1, 0.2, 0.2], np.float32)},
    "det_roi_align": {"rois": _DET_ROIS},
    "det_roi_align_position_sensitive": {"rois": _DET_ROIS},
})


def _multibox_detection(classes: int = 4, height: int = 4, width: int = 5, **kw):
    """MultiBoxDetection over (2, (classes + 4) x anchors) data: softmax probabilities, offsets and the anchors of
    MultiBoxPrior (3 a position) over a (height, width) map; with its input shape."""
    anchors = height * width * 3
    flat = S.reshape(d, shape=(2, -1))
    logits = S.reshape(S.slice_axis(flat, axis=1, begin=0, end=classes * anchors), shape=(2, classes, anchors))
    offsets = S.slice_axis(flat, axis=1, begin=classes * anchors, end=(classes + 4) * anchors)
    feature = S.reshape(S.slice_axis(flat, axis=1, begin=0, end=height * width), shape=(2, 1, height, width))
    priors = S.contrib.MultiBoxPrior(feature, sizes=(0.3, 0.6), ratios=(1, 2), name="prior")
    sym = S.contrib.MultiBoxDetection(S.softmax(logits * 3.0, axis=1), offsets, priors, name="det", **kw)
    return sym, (2, (classes + 4) * anchors)


CASES.update({
    "det_multibox_detection": _multibox_detection(),
    "det_multibox_detection_topk_threshold": _multibox_detection(nms_topk=7, threshold=0.3),
    "det_multibox_detection_force_no_clip": _multibox_detection(classes=6, force_suppress=True, nms_threshold=0.3,
                                                                clip=False),
    # nms_threshold outside (0, 1]: detections in anchor order, neither sorted nor suppressed
    "det_multibox_detection_no_nms": _multibox_detection(nms_threshold=0.0),
    "det_multibox_detection_variances": _multibox_detection(variances=(0.2, 0.1, 0.3, 0.25), threshold=0.5,
                                                            nms_threshold=1.0),
    "det_multibox_detection_background_only": _multibox_detection(classes=1),
    "det_multibox_detection_blocks": _multibox_detection(height=12, width=12),  # 432 anchors
})


def _proposal(batch: int = 1, height: int = 5, width: int = 6, **kw):
    """(Multi)Proposal over data (batch, 6 x anchors, height, width): softmax object scores and deltas, 6 anchors
    (scales 2 and 4 by 3 ratios) every 4 pixels; with its input shape."""
    anchors = 6
    scores = S.reshape(S.slice_axis(d, axis=1, begin=0, end=2 * anchors), shape=(batch, 2, anchors, height, width))
    scores = S.reshape(S.softmax(scores * 3.0, axis=1), shape=(batch, 2 * anchors, height, width))
    deltas = S.slice_axis(d, axis=1, begin=2 * anchors, end=6 * anchors) * 0.5
    op = S.contrib.MultiProposal if batch > 1 else S.contrib.Proposal
    sym = op(scores, deltas, S.var("im_info", shape=(batch, 3)), scales=(2, 4), ratios=(0.5, 1, 2), feature_stride=4,
             name="prop", **kw)
    return sym, (batch, 6 * anchors, height, width)


CASES.update({
    "det_proposal": _proposal(rpn_pre_nms_top_n=50, rpn_post_nms_top_n=20, rpn_min_size=2, threshold=0.5),
    # fewer proposals kept than rows: repeated from the first; small boxes widened and scored -1
    "det_proposal_repeats_min_size_scores": _proposal(rpn_pre_nms_top_n=50, rpn_post_nms_top_n=60, rpn_min_size=6,
                                                      threshold=0.3, output_score=True),
    "det_multi_proposal": _proposal(batch=2, rpn_pre_nms_top_n=-1, rpn_post_nms_top_n=30, rpn_min_size=3,
                                    threshold=0.6, output_score=True),
    "det_multi_proposal_blocks": _proposal(batch=2, height=10, width=8, rpn_pre_nms_top_n=-1, rpn_post_nms_top_n=50,
                                           rpn_min_size=2, threshold=0.6),  # 480 anchors
    "det_multi_proposal_iou_loss": _proposal(batch=2, height=4, width=4, rpn_pre_nms_top_n=40, rpn_post_nms_top_n=10,
                                             threshold=0.6, iou_loss=True),
})
CASE_INPUTS.update({  # image height, width and scale; the image smaller than the feature map in some
    "det_proposal": {"im_info": np.array([[20, 24, 1.0]], np.float32)},
    "det_proposal_repeats_min_size_scores": {"im_info": np.array([[15, 18, 0.5]], np.float32)},
    "det_multi_proposal": {"im_info": np.array([[20, 24, 1.0], [13, 21, 1.5]], np.float32)},
    "det_multi_proposal_blocks": {"im_info": np.array([[40, 32, 1.0], [29, 25, 1.0]], np.float32)},
    "det_multi_proposal_iou_loss": {"im_info": np.array([[16, 16, 1.0], [13, 11, 1.0]], np.float32)},
})

# Integer arithmetic as CenterNet's decoder does it: division of integer tensors truncates, scalars are truncated
_int64 = S.Cast(d * 9.0, dtype="int64")
_positive = S.Cast(S.abs(d) * 4.0 + 1.0, dtype="int64")
_top_indices = S.Cast(S.topk(S.reshape(d, shape=(0, -1)), k=6), dtype="int64")
_width = S.slice_axis(S.shape_array(d), axis=0, begin=3, end=4)
CASES.update({
    "det_integer_division": (S.Cast(S.broadcast_div(_int64, _positive), dtype="float32", name="out"), (2, 3, 4)),
    "det_integer_scalars": (S.Cast(S.Cast(d * 9.0, dtype="int32") / 2.7 + 1.9
                                   + 20.5 / S.Cast(_positive, dtype="int32"), dtype="float32", name="out"), (2, 3, 4)),
    "det_integer_index_arithmetic": (S.Group([S.Cast(S.broadcast_div(_top_indices, _width), dtype="float32"),
                                              S.Cast(S.broadcast_mod(_top_indices, _width), dtype="float32")]),
                                     (2, 1, 3, 5)),
})
CASES.update({  # a split into one part, as Faster R-CNN splits its batch of one image
    "det_split_one_part": (S.SliceChannel(d, num_outputs=1, axis=0, name="split") * 2.0, (1, 3, 4)),
    "det_split_one_part_squeezed": (S.SliceChannel(d, num_outputs=1, axis=1, squeeze_axis=True, name="split") * 2.0,
                                    (2, 1, 4)),
})

# MXNet's own ONNX importer (tests/test_onnx_backends.py) cannot take these detection graphs back
_NO_LOOP = "MXNet's importer has no Loop (the greedy suppression)"
_ZERO_D_GATHER = "MXNet's importer keeps the axis a 0-d Gather index removes"
_SUPPRESSING = ("det_box_nms", "det_multibox_detection", "det_proposal", "det_multi_proposal")
DETECTION_IMPORTER_SKIPS: dict[str, str] = {
    **{case: _NO_LOOP for case in CASES if case.startswith(_SUPPRESSING) and case != "det_box_nms_topk_zero_copies"},
    "det_multibox_detection_background_only": "MXNet's importer has no Expand",
    **{case: _ZERO_D_GATHER for case in ("det_box_decode_center", "det_box_decode_corner_clip", "det_box_encode")},
    **{case: "MXNet's importer has no RoiAlign" for case in ("det_roi_align", "det_roi_align_position_sensitive")},
    **{case: "MXNet's importer has no Range (the anchors follow the live map size)"
       for case in ("det_multibox_prior", "det_multibox_prior_steps_offsets")},
}
INDEX_IMPORTER_SKIPS.update({case: "MXNet's importer cannot run the decomposed deformable sampling (shape "
                                   "inference or Transpose fails there)" for case in CASES if case.startswith("dcn_")})
