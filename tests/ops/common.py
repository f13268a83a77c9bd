"""Helpers the per-op case modules share: MXNet, the data variable and the builders several families use."""
from __future__ import annotations

from typing import Callable

from mxconvert.mxnet_compat import import_mxnet

mx = import_mxnet()
S = mx.sym

d = S.var("data")
SHAPE = (2, 3, 4, 5)


def op_named(name: str) -> Callable:
    """An MXNet symbol op by name, public or internal (``_maximum``, ``_rpower_scalar``)."""
    return getattr(S, name, None) or getattr(S._internal, name)


N, NX = mx.sym.np, mx.sym.npx
NP_DATA = d.as_np_ndarray()
STEPS = N.floor(NP_DATA * 2.0)  # -2, -1, 0 or 1: ties and zeros
NP_SHAPE = (2, 3, 4)
HEAD_DATA = S.FullyConnected(d, num_hidden=4, name="fc")
