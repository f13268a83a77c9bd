"""The per-target registry of MXNet-op converters that both emitters build on."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Collection, Iterable

from .ir import Node
from .semantics.schema import OPS

Check = Callable[..., "str | None"]  # (node, *target context) -> why it cannot be converted, or None


@dataclass(frozen=True)
class Entry:
    convert: Callable[..., Any]
    check: Check | None = None
    computed_weights: bool = False  # the converter takes any tensor in the op's weight slots, not only stored ones
    refuses: bool = False  # held only to refuse the op by name (``ConverterRegistry.refuse``)


def computed_weight_slots(node: Node, stored: Collection[str]) -> list[int]:
    """The node's weight and auxiliary-state slots fed by a tensor computed in the graph (not a stored weight)."""
    schema = OPS.get(node.op)
    slots = (*schema.param_inputs, *schema.aux_inputs) if schema is not None else ()
    return [slot for slot in slots if slot < len(node.inputs) and node.inputs[slot].node not in stored]


class ConverterRegistry:
    """MXNet op name -> converter, filled by the ``register`` decorator, one small function per op."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def register(self, *ops: str, check: Check | None = None, computed_weights: bool = False) -> Callable:
        """Register the decorated converter for each op; ``check`` rejects attributes it cannot handle;
        ``computed_weights``: it also takes weights computed in the graph (from the data)."""

        def decorate(convert: Callable) -> Callable:
            for op in ops:
                self.entries[op] = Entry(convert, check, computed_weights)
            return convert

        return decorate

    def refuse(self, *ops: str, reason: Check) -> None:
        """Hold ``ops`` only to refuse each by name, with the reason ``reason(node, *context)`` gives (a reason
        that depends on the op's name alone: the support table reads it too)."""
        for op in ops:
            self.entries[op] = Entry(_never_emitted, reason, refuses=True)

    def refusal(self, op: str) -> str | None:
        """The reason ``op`` is held only to be refused, or None."""
        entry = self.entries.get(op)
        return entry.check(Node(op, op, {}, [])) if entry is not None and entry.refuses else None

    def unsupported(self, nodes: Iterable[Node], *context: Any, stored: Collection[str] | None = None,
                    within: str = "") -> dict[str, list[str]]:
        """Every node that cannot be converted, grouped by op (with the reason), for one report. ``stored``: the
        names of the stored weights, where a node's weight slots must be checked against them; a node inside
        a control-flow body is named ``outer/inner`` (``within``: the path of the body ``nodes`` are in)."""
        offenders: dict[str, list[str]] = {}
        for node in nodes:
            entry = self.entries.get(node.op)
            reason = "no converter" if entry is None else entry.check(node, *context) if entry.check else None
            if not reason and stored is not None and not entry.computed_weights:
                computed = computed_weight_slots(node, stored)
                if computed:
                    reason = f"weight input {', '.join(map(str, computed))} computed in the graph, not stored"
            if reason:
                key = _unknown_op(node) if entry is None else f"{node.op} [{reason}]"
                offenders.setdefault(key, []).append(within + node.name)
            for body in node.subgraphs:
                for key, names in self.unsupported(body.nodes, *context, within=f"{within}{node.name}/").items():
                    offenders.setdefault(key, []).extend(names)
        return offenders


def _never_emitted(ctx: Any, node: Node) -> Any:
    """The converter of a refused op: its check refuses every such node before anything is emitted."""
    raise AssertionError(f"{node.op} is refused before emitting")


def _unknown_op(node: Node) -> str:
    """An op without a converter as the report names it: a ``Custom`` op (Python code MXNet calls back) with its
    ``op_type``."""
    op_type = node.attrs.get("op_type") if node.op == "Custom" else None
    return f"Custom [op_type {op_type}]" if isinstance(op_type, str) else node.op
