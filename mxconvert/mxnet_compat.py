"""Import MXNet 1.9.1 beside a modern stack; only the reference runners and fixture builders need it."""
from __future__ import annotations

import importlib
import warnings

import numpy as np

from .errors import MxConvertError


def import_mxnet():
    """Return the ``mxnet`` module, aliasing numpy names MXNet 1.9.1 still uses (removed in numpy 1.24)."""
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
