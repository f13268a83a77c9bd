"""The per-target registry of MXNet-op converters that both emitters build on."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .ir import Node

Check = Callable[..., "str | None"]  # (node, *target context) -> why it cannot be converted, or None


@dataclass(frozen=True)
class Entry:
    convert: Callable[..., Any]
    check: Check | None = None


class ConverterRegistry:
    """MXNet op name -> converter, filled by the ``register`` decorator, one small function per op."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def register(self, *ops: str, check: Check | None = None) -> Callable:
        """Register the decorated converter for each op; ``check`` rejects attributes it cannot handle."""

        def decorate(convert: Callable) -> Callable:
            for op in ops:
                self.entries[op] = Entry(convert, check)
            return convert

        return decorate

    def unsupported(self, nodes: Iterable[Node], *context: Any, within: str = "") -> dict[str, list[str]]:
        """Every node that cannot be converted, grouped by op (with the reason), for one report; a node inside
        a control-flow body is named ``outer/inner`` (``within``: the path of the body ``nodes`` are in)."""
        offenders: dict[str, list[str]] = {}
        for node in nodes:
            entry = self.entries.get(node.op)
            reason = "no converter" if entry is None else entry.check(node, *context) if entry.check else None
            if reason:
                key = node.op if entry is None else f"{node.op} [{reason}]"
                offenders.setdefault(key, []).append(within + node.name)
            for body in node.subgraphs:
                for key, names in self.unsupported(body.nodes, *context, within=f"{within}{node.name}/").items():
                    offenders.setdefault(key, []).extend(names)
        return offenders
