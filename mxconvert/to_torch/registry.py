"""The registry of MXNet-op -> PyTorch lowerings."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..registry import ConverterRegistry


@dataclass
class Lowering:
    """What one MXNet node becomes in ``kit_model.py``.

    ``layer``: constructor expression assigned to ``self.<name>`` in ``__init__`` (None: no layer);
    ``expr``: the forward expression (a tensor, or a sequence of tensors for a multi-output node);
    ``state``: state-dict entries of the layer, keyed relative to it (``"weight"`` -> ``"<name>.weight"``);
    ``setup``: extra ``__init__`` statements run after the layer is created;
    ``statements``: ``forward`` lines (indented, wrapped) run before the expression (a control-flow op's loop).
    """

    expr: str
    layer: str | None = None
    state: dict[str, np.ndarray] = field(default_factory=dict)
    setup: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)


REGISTRY = ConverterRegistry()  # convert(ctx, node) -> Lowering; check(node)
CONVERTERS = REGISTRY.entries
register = REGISTRY.register
refuse = REGISTRY.refuse


# Module-level functions a generated file includes when a lowering asks for them (TorchScript-compatible),
# filled by the family modules.
HELPERS: dict[str, str] = {}


LOWEST_FLOAT32 = float(np.finfo(np.float32).min)


def num(value: float) -> str:
    """A float as Python source (``float("inf")`` for infinities, ``float("nan")``)."""
    value = float(value)
    if math.isnan(value):
        return 'float("nan")'
    if math.isinf(value):
        return 'float("inf")' if value > 0 else '-float("inf")'
    return repr(value)


def call_source(func: str, *args: str, **kwargs: object) -> str:
    parts = list(args) + [f"{key}={value}" for key, value in kwargs.items()]
    return f"{func}({', '.join(parts)})"
