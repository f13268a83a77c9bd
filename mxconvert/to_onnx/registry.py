"""The registry of MXNet-op -> ONNX converters."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..ir import Node
    from .context import EmitContext

Converter = Callable[["EmitContext", "Node"], None]
Check = Callable[["Node", int], "str | None"]  # (node, opset) -> reason it cannot be converted, or None


@dataclass(frozen=True)
class Entry:
    convert: Converter
    check: Check | None = None


CONVERTERS: dict[str, Entry] = {}


def register(*ops: str, check: Check | None = None) -> Callable[[Converter], Converter]:
    """Register ``convert(ctx, node)`` for each MXNet op name; ``check`` rejects unsupported attributes."""

    def decorate(convert: Converter) -> Converter:
        for op in ops:
            CONVERTERS[op] = Entry(convert, check)
        return convert

    return decorate


def unsupported(nodes, opset: int) -> dict[str, list[str]]:
    """Every node the registry cannot convert at ``opset``, grouped by op (with the reason)."""
    offenders: dict[str, list[str]] = {}
    for node in nodes:
        entry = CONVERTERS.get(node.op)
        reason = "no converter" if entry is None else entry.check(node, opset) if entry.check else None
        if reason:
            key = node.op if entry is None else f"{node.op} [{reason}]"
            offenders.setdefault(key, []).append(node.name)
    return offenders
