"""Import MXNet 1.9.1 beside a modern stack; only the reference runners and fixture builders need it."""
from __future__ import annotations

import importlib
import os
import warnings

import numpy as np

from .errors import MxConvertError


def import_mxnet():
    """Return the ``mxnet`` module, aliasing numpy names MXNet 1.9.1 still uses (removed in numpy 1.24).

    MXNet's subgraph fusion (MKLDNN conv+bn+relu folding, which changes the low bits) is switched off unless
    ``MXNET_SUBGRAPH_BACKEND`` is set, so the reference computes the graph op by op, as converted models do.
    """
    os.environ.setdefault("MXNET_SUBGRAPH_BACKEND", "NONE")
    for alias, target in (("bool", bool), ("int", int), ("float", float), ("object", object)):
        if alias not in np.__dict__:
            setattr(np, alias, target)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module("mxnet")
    except ImportError as exc:
        raise MxConvertError(f"MXNet is needed for this step but cannot be imported ({exc}); "
                             "install the pinned requirements.txt") from None
