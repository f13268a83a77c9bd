"""Recurrent checkpoints built locally: Gluon's fused LSTM exported as people export it (``HybridBlock.export``:
packed weights behind ``_rnn_param_concat``; the layer called on its own, so its begin states are the inputs
``data1`` and ``data2``, where inside another block they would be ``_zeros``). ``python -m mxconvert.zoo.sequence``."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .named import build_by_name


@dataclass(frozen=True)
class SequenceModel:
    hidden: int
    layers: int
    bidirectional: bool
    features: int  # input size per step; the data is (steps, batch, features), MXNet's TNC


MODELS = {"lstm-2x256-bi": SequenceModel(hidden=256, layers=2, bidirectional=True, features=128)}


def build_sequence(name: str, out_dir: str, seed: int = 0) -> str:
    """Export ``MODELS[name]`` with weights uniform in +-1/sqrt(hidden) (Gluon's own initialisation scale)
    to ``out_dir/NAME``; returns the prefix."""
    # MXNet only where a model is built: the benchmarks import this module beside other runtimes
    from .common import atomic_checkpoint, mx

    spec = MODELS[name]
    net = mx.gluon.rnn.LSTM(spec.hidden, num_layers=spec.layers, bidirectional=spec.bidirectional,
                            input_size=spec.features)
    net.initialize()
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(spec.hidden)
    for param in net.collect_params().values():
        param.set_data(mx.nd.array(rng.uniform(-bound, bound, param.shape)))
    net.hybridize()
    net(mx.nd.zeros((4, 1, spec.features)))
    prefix = os.path.join(out_dir, name)
    with atomic_checkpoint(prefix, 0) as tmp_prefix:
        net.export(tmp_prefix)
    return prefix


def unrolled_lstm(steps: int, hidden: int, classes: int):
    """Per-step class scores (steps, N, classes) of an LSTM unrolled by hand over (N, steps, F) features, as
    MXNet's OCR and captcha examples build it: per step FullyConnected + SliceChannel + Activation, begin states
    ``l0_init_c``/``l0_init_h`` as inputs; about 13 nodes per step."""
    from ..mxnet_compat import import_mxnet

    S = import_mxnet().sym
    steps_in = S.SliceChannel(S.var("data"), num_outputs=steps, axis=1, squeeze_axis=True, name="slice")
    c, h = S.var("l0_init_c"), S.var("l0_init_h")
    weights = [S.var(f"l0_{n}") for n in ("i2h_weight", "i2h_bias", "h2h_weight", "h2h_bias")]
    states = []
    for t in range(steps):
        gates = S.FullyConnected(steps_in[t], weight=weights[0], bias=weights[1], num_hidden=4 * hidden,
                                 name=f"i2h{t}") \
            + S.FullyConnected(h, weight=weights[2], bias=weights[3], num_hidden=4 * hidden, name=f"h2h{t}")
        gate = S.SliceChannel(gates, num_outputs=4, name=f"gates{t}")
        c = S.Activation(gate[1], act_type="sigmoid") * c \
            + S.Activation(gate[0], act_type="sigmoid") * S.Activation(gate[2], act_type="tanh")
        h = S.Activation(gate[3], act_type="sigmoid") * S.Activation(c, act_type="tanh")
        states.append(h)
    logits = S.FullyConnected(S.Concat(*states, dim=0), num_hidden=classes, name="pred")
    return S.Reshape(logits, shape=(steps, -1, classes), name="scores")


def sample_sequence(name: str, batch: int, steps: int, seed: int = 0) -> np.ndarray:
    """A float32 (steps, batch, features) input for ``MODELS[name]``."""
    return np.random.default_rng(seed).normal(size=(steps, batch, MODELS[name].features)).astype(np.float32)


def main(argv: Sequence[str] | None = None) -> int:
    return build_by_name("python -m mxconvert.zoo.sequence", __doc__.split("\n")[0], MODELS, build_sequence, argv)


if __name__ == "__main__":
    raise SystemExit(main())
