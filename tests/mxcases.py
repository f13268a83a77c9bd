"""Tiny MXNet graphs, one per op and attribute combination, run in real MXNet as the reference."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from mxconvert.checkpoint import attach_weights
from mxconvert.ir import Graph
from mxconvert.mxnet_compat import import_mxnet
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
    graph = parse_symbol(sym.tojson())
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
    "slice_channel": (S.SliceChannel(d, num_outputs=3, axis=1, name="split"), (2, 6, 3)),
    "slice_squeeze": (S.SliceChannel(d, num_outputs=3, axis=2, squeeze_axis=True, name="split"), (2, 2, 3)),
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
    "slice_neg_axis": (S.SliceChannel(d, num_outputs=2, axis=-1, name="split"), (2, 3, 4)),
    "slice_neg_axis_squeeze": (S.SliceChannel(d, num_outputs=3, axis=-2, squeeze_axis=True, name="split"), (2, 3, 2)),
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

# Cases whose op no ONNX operator computes: refused by name, with the reason, before anything is written
ONNX_REFUSES = {"unary_erfinv": "erfinv", "unary_gamma": "gamma", "unary_gammaln": "gammaln"}

# Values of inputs beyond ``data`` (run_reference's ``inputs``), per case
CASE_INPUTS: dict[str, dict[str, np.ndarray]] = {
    "softmax_length_last": {"length": np.array([[1, 5, 3], [0, 2, 4]], np.int32)},
    "softmax_length_axis1": {"length": np.array([[4, 1, 2], [0, 3, 4]], np.int64)},
}

# --- nn layers, normalisation and matrix products (issue 13) --------------------------------------------------


def _deconv(x, **kw):
    return S.Deconvolution(x, name="deconv", **kw)


def _w(name: str, shape: tuple):
    return S.var(name, shape=shape)


_QKV = S.FullyConnected(d, num_hidden=24, flatten=False, name="proj")  # (sequence, batch, 2 heads x 3 x 4)
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
})
