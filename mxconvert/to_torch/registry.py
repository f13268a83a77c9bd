"""The registry of MXNet-op -> PyTorch lowerings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from ..ir import Node
    from .codegen import TorchContext


@dataclass
class Lowering:
    """What one MXNet node becomes in ``kit_model.py``.

    ``layer``: constructor expression assigned to ``self.<name>`` in ``__init__`` (None: no layer);
    ``expr``: the forward expression (a tensor, or a sequence of tensors for a multi-output node);
    ``state``: state-dict entries of the layer, keyed relative to it (``"weight"`` -> ``"<name>.weight"``);
    ``setup``: extra ``__init__`` statements run after the layer is created.
    """

    expr: str
    layer: str | None = None
    state: dict[str, np.ndarray] = field(default_factory=dict)
    setup: list[str] = field(default_factory=list)


Converter = Callable[["TorchContext", "Node"], Lowering]
Check = Callable[["Node"], "str | None"]  # node -> why it cannot be converted, or None


@dataclass(frozen=True)
class Entry:
    convert: Converter
    check: Check | None = None


CONVERTERS: dict[str, Entry] = {}


def register(*ops: str, check: Check | None = None) -> Callable[[Converter], Converter]:
    """Register ``convert(ctx, node) -> Lowering`` for each MXNet op; ``check`` rejects unsupported attributes."""

    def decorate(convert: Converter) -> Converter:
        for op in ops:
            CONVERTERS[op] = Entry(convert, check)
        return convert

    return decorate


def unsupported(nodes: list[Node]) -> dict[str, list[str]]:
    """Every node the registry cannot convert, grouped by op (with the reason)."""
    offenders: dict[str, list[str]] = {}
    for node in nodes:
        entry = CONVERTERS.get(node.op)
        reason = None if entry is None or entry.check is None else entry.check(node)
        if entry is None or reason:
            key = node.op if entry is None else f"{node.op} [{reason}]"
            offenders.setdefault(key, []).append(node.name)
    return offenders
