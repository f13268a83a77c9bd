"""The activation family's per-op cases (``mxconvert/semantics/activation.py``): activations, LeakyReLU's modes,
softmax and its variants (SoftmaxOutput and SoftmaxActivation among them).

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

import json

import numpy as np

from .common import HEAD_DATA, S, d, mx

CASES: dict[str, tuple] = {}
HEADS: dict[str, tuple] = {}
CASE_INPUTS: dict[str, dict] = {}

# id -> (symbol, input shape)
CASES.update({
    **{f"act_{t}": (S.Activation(d, act_type=t, name="act"), (2, 3, 4, 4))
       for t in ("relu", "sigmoid", "tanh", "softrelu", "softsign")},
    "prelu_4d": (S.LeakyReLU(d, act_type="prelu", name="relu0"), (2, 5, 4, 4)),
    "prelu_2d": (S.LeakyReLU(d, act_type="prelu", name="relu0"), (3, 6)),
    "leaky": (S.LeakyReLU(d, act_type="leaky", slope=0.1, name="lr"), (2, 3, 4, 4)),
    "elu": (S.LeakyReLU(d, act_type="elu", slope=0.7, name="lr"), (2, 3, 4, 4)),
    "selu": (S.LeakyReLU(d, act_type="selu", name="lr"), (2, 3, 4, 4)),
    "gelu": (S.LeakyReLU(d, act_type="gelu", name="lr"), (2, 3, 4, 4)),
    "rrelu_inference": (S.LeakyReLU(d, act_type="rrelu", name="lr")[0], (2, 3, 4, 4)),  # [1], its mask, is not read
    "softmax_output": (S.SoftmaxOutput(d, name="softmax"), (3, 10)),
    "softmax_output_multi": (S.SoftmaxOutput(d, multi_output=True, name="softmax"), (2, 3, 4, 4)),
    "softmax_activation_instance": (S.SoftmaxActivation(d, mode="instance"), (2, 3, 2, 2)),
    "softmax_activation_channel": (S.SoftmaxActivation(d, mode="channel"), (2, 3, 4, 5)),
    "softmax_axis": (S.softmax(d, axis=1), (2, 3, 4)),
    "softmax_temperature": (S.softmax(d, axis=-1, temperature=2.0), (2, 3, 4)),
})
CASES.update({
    # over all but the batch axis (MXNet's MKLDNN kernel alone takes the last axis of 4-D data instead)
    "softmax_output_3d": (S.SoftmaxOutput(d, name="softmax"), (2, 3, 4)),
    "softmax_output_preserve": (S.SoftmaxOutput(d, preserve_shape=True, name="softmax"), (2, 3, 4)),
    "softmax_output_multi_preserve": (S.SoftmaxOutput(d, multi_output=True, preserve_shape=True, name="softmax"),
                                      (2, 3, 4)),
    # face models: MTCNN R-Net's 2-way scores, RetinaFace's FPN crop of an upsampled odd-sized map
    "softmax_activation_2d": (S.SoftmaxActivation(d, name="prob1"), (3, 2)),
    # use_length: one length per row along the axis (the data's shape without it); 0 gives a row of zeros
    "softmax_length_last": (S.softmax(d, S.var("length"), axis=-1, use_length=True, name="sm"), (2, 3, 5)),
    "softmax_length_axis1": (S.softmax(d, S.var("length"), axis=1, use_length=True, temperature=2.0, name="sm"),
                             (2, 4, 3)),
})


def _respelled(sym, spellings: dict[str, str]):
    """``sym`` with its ops renamed to other spellings MXNet registers for them (``_npx_convolution``...)."""
    graph = json.loads(sym.tojson())
    for node in graph["nodes"]:
        node["op"] = spellings.get(node["op"], node["op"])
    return mx.sym.load_json(json.dumps(graph))


CASES.update({
    "np_npx_layers": (_respelled(S.softmax(S.Dropout(S.FullyConnected(S.Flatten(S.LeakyReLU(S.Activation(S.Pooling(
        S.BatchNorm(S.Convolution(d, kernel=(3, 3), num_filter=4, name="conv"), fix_gamma=False, name="bn"),
        kernel=(2, 2), stride=(2, 2), name="pool"), act_type="relu"), act_type="leaky", slope=0.1)), num_hidden=5,
        name="fc"), p=0.2), axis=-1), {"Convolution": "_npx_convolution", "BatchNorm": "_npx_batch_norm",
                                       "Pooling": "_npx_pooling", "Activation": "_npx_activation",
                                       "LeakyReLU": "_npx_leaky_relu", "Flatten": "_npx_batch_flatten",
                                       "FullyConnected": "_npx_fully_connected", "Dropout": "_npx_dropout",
                                       "softmax": "_npx_softmax"}), (2, 3, 8, 8)),
})
# Values of inputs beyond ``data`` (run_reference's ``inputs``), per case
CASE_INPUTS.update({
    "softmax_length_last": {"length": np.array([[1, 5, 3], [0, 2, 4]], np.int32)},
    "softmax_length_axis1": {"length": np.array([[4, 1, 2], [0, 3, 4]], np.int64)},
})
HEADS.update({
    "head_softmax_output": (S.SoftmaxOutput(HEAD_DATA, name="head"), (3, 5)),
})
CASES.update(HEADS)
CASES.update({
    "nn_log_softmax": (S.log_softmax(d, name="ls"), (2, 3, 5)),
    "nn_log_softmax_axis_temperature": (S.log_softmax(d * 3.0, axis=0, temperature=0.5, name="ls"), (3, 4, 2)),
    "nn_softmin": (S.softmin(d * 3.0, axis=1, name="sm"), (2, 5, 3)),
    "nn_softmin_temperature": (S.softmin(d, axis=-2, temperature=3.0, name="sm"), (2, 4, 3)),
})
# labels in range, a row whose logit at its label is so low that its probability is floored at 1e-8
CASES["softmax_cross_entropy"] = (S.softmax_cross_entropy(S.concat(d, d * 40.0, dim=0), S.var("label", shape=(6,)),
                                                          name="sce"), (3, 5))
CASE_INPUTS["softmax_cross_entropy"] = {"label": np.array([0, 4, 2, 1, 3, 0], np.float32)}
