"""Reader of MXNet symbol JSON, every generation from 0.x (``param``/``attr``, 2-element refs) to 1.x."""
from __future__ import annotations

import json
import os
from typing import Any

from .errors import MxConvertError
from .fileio import read_input
from .ir import Graph, Node, SourceInfo, TensorRef, Variable, VarKind, unique_name
from .semantics.control_flow import SUBGRAPH_COUNTS, check_control_flow
from .semantics.fused import FUSED, check_fused
from .semantics.schema import OPS, REQUIRED, normalised

_NODE_KEYS = {"op", "name", "inputs", "attrs", "attr", "param", "backward_source_id", "control_deps",
              "subgraphs"}
_TOP_KEYS = {"nodes", "arg_nodes", "node_row_ptr", "heads", "attrs"}
MAX_NESTING = 8  # subgraphs inside subgraphs
# Annotations that MXNet 0.x stored without underscores; they never change inference.
_ANNOTATIONS = {"ctx_group", "lr_mult", "wd_mult", "force_mirroring", "mirror_stage"}
MAX_SYMBOL_BYTES = 256 << 20
MAX_ATTR_CHARS = 1 << 16
MAX_NAME_CHARS = 1 << 10


def read_symbol(path: str | os.PathLike) -> Graph:
    """Parse ``path`` into a :class:`Graph` without weights (variables classified by op schema)."""
    path = os.fspath(path)
    data = read_input(path, "a symbol JSON file", MAX_SYMBOL_BYTES)
    return parse_symbol(symbol_text(data, path), path)


def symbol_text(data: bytes, path: str) -> str:
    """A symbol file's bytes as text, refused when larger than any real network's or not UTF-8."""
    if len(data) > MAX_SYMBOL_BYTES:
        raise MxConvertError(f"is {len(data)} bytes, more than any symbol JSON file", path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise MxConvertError("not a symbol JSON file (not UTF-8 text)", path) from None


def parse_symbol(text: str, path: str = "<symbol>") -> Graph:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: JSONDecodeError, or an int of > 4300 digits
        raise MxConvertError(f"not a symbol JSON file ({exc})", path) from None
    return _SymbolParser(doc, path).parse()


class _SymbolParser:
    def __init__(self, doc: Any, path: str, within: str = ""):
        """``within``: the control-flow node whose subgraph ``doc`` is ("" for the whole symbol)."""
        self.doc = doc
        self.path = path
        self.within = within

    def fail(self, message: str) -> MxConvertError:
        where = f"in the subgraph of {self.within!r}: " if self.within else ""
        return MxConvertError(where + message, self.path)

    def parse(self) -> Graph:
        doc = self.doc
        if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list):
            raise self.fail("not an MXNet symbol: expected a JSON object with a 'nodes' list")
        unknown = set(doc) - _TOP_KEYS
        if unknown:
            raise self.fail(f"not an MXNet symbol: unknown top-level keys {sorted(unknown)}")
        raw_nodes = doc["nodes"]
        if not raw_nodes:
            raise self.fail("symbol has no nodes")
        names: list[str] = []
        entries: list[Node | Variable] = []
        named = [raw for raw in raw_nodes if isinstance(raw, dict) and isinstance(raw.get("name"), str)]
        taken = {raw["name"] for raw in named}
        variables = {raw["name"] for raw in named if raw.get("op") == "null"}
        ops: set[str] = set()
        for index, raw in enumerate(raw_nodes):
            entry = self.parse_node(index, raw, names)
            # MXNet identifies nodes by position: a repeated op name is made unique here (variables of one name
            # are one argument in MXNet, one weight here)
            if isinstance(entry, Node):
                if entry.name in variables or entry.name in ops:
                    entry.mxnet_name = entry.name
                    entry.name = unique_name(entry.name, taken)
                ops.add(entry.name)
            entries.append(entry)
            names.append(entry.name)
        heads = self.parse_refs(doc.get("heads"), "heads", len(entries), entries, names)
        if not heads:
            raise self.fail("symbol has no outputs ('heads' is empty)")
        graph = self.build_graph(entries, heads)
        if self.within:
            return graph
        graph.source = SourceInfo(symbol_file=self.path, mxnet_version=self.version())
        return graph

    def version(self) -> str | None:
        attrs = self.doc.get("attrs")
        if isinstance(attrs, dict) and isinstance(attrs.get("mxnet_version"), list) and attrs["mxnet_version"]:
            code = attrs["mxnet_version"][-1]
            if isinstance(code, int):
                return f"{code // 10000}.{code // 100 % 100}.{code % 100}"
        return None

    def parse_node(self, index: int, raw: Any, names: list[str]) -> Node | Variable:
        where = f"node {index}"
        if not isinstance(raw, dict):
            raise self.fail(f"{where} is not a JSON object")
        unknown = set(raw) - _NODE_KEYS
        if unknown:
            raise self.fail(f"{where}: unknown keys {sorted(unknown)}")
        name, op = raw.get("name"), raw.get("op")
        if not isinstance(name, str) or not name:
            raise self.fail(f"{where} has no name")
        if not isinstance(op, str) or not op:
            raise self.fail(f"{where} ({name[:80]!r}) has no op")
        for what, text in (("name", name), ("op", op)):  # both reach error messages and generated files
            if len(text) > MAX_NAME_CHARS:
                raise self.fail(f"{where}: its {what} is {len(text)} characters long (at most {MAX_NAME_CHARS})")
        raw_attrs = self.merged_attrs(raw, name)
        hints = {k: v for k, v in raw_attrs.items() if k.startswith("__") or k in _ANNOTATIONS}
        if op == "null":
            return Variable(name, VarKind.INPUT, shape=_shape_hint(hints.get("__shape__")))
        spelling = op
        try:
            op, op_attrs = normalised(op, {k: v for k, v in raw_attrs.items() if k not in hints})
        except (ValueError, KeyError) as exc:
            raise self.fail(f"node {name!r} ({op}): attributes its canonical op cannot take: {exc}")
        inputs = self.parse_refs(raw.get("inputs", []), f"inputs of {name!r}", index, None, names)
        attrs = self.typed_attrs(op, name, op_attrs)
        schema = OPS.get(op)
        num_outputs = schema.outputs(attrs) if schema else 1
        subgraphs = self.parse_subgraphs(raw.get("subgraphs", []), name, op)
        if schema and schema.input_names:
            slots = schema.input_names(attrs)
            if len(inputs) > len(slots):
                raise self.fail(f"node {name!r} ({op}) has {len(inputs)} inputs, expected {len(slots)}")
            inputs += [TensorRef(f"{name}_{slot}") for slot in slots[len(inputs):]]
        node = Node(name, op, attrs, inputs, num_outputs, hints, subgraphs=subgraphs,
                    spelling=spelling if spelling != op else "")
        if op in SUBGRAPH_COUNTS or op in FUSED:
            reason = check_fused(node) if op in FUSED else check_control_flow(node)
            if reason:
                raise self.fail(f"node {name!r} ({op}): {reason}")
        return node

    def parse_subgraphs(self, raw: Any, name: str, op: str) -> list[Graph]:
        """The bodies of a control-flow node, each parsed as a symbol of its own."""
        if not isinstance(raw, list):
            raise self.fail(f"node {name!r}: 'subgraphs' is not a list")
        if raw and op not in SUBGRAPH_COUNTS and op not in FUSED:
            raise self.fail(f"node {name!r} ({op}) holds subgraphs, which only control-flow and fused ops have")
        if raw and self.within.count("/") + 1 >= MAX_NESTING:
            raise self.fail(f"node {name!r}: subgraphs nested more than {MAX_NESTING} deep")
        within = f"{self.within}/{name}" if self.within else name
        return [_SymbolParser(doc, self.path, within).parse() for doc in raw]

    def merged_attrs(self, raw: dict, name: str) -> dict[str, str]:
        merged: dict[str, str] = {}
        for key in ("param", "attr", "attrs"):
            block = raw.get(key)
            if block is None:
                continue
            if not isinstance(block, dict):
                raise self.fail(f"node {name!r}: '{key}' is not an object")
            for attr, value in block.items():
                if len(attr) > MAX_NAME_CHARS:
                    raise self.fail(f"node {name!r}: an attribute name is {len(attr)} characters long")
                if not isinstance(value, str):
                    raise self.fail(f"node {name!r}: attribute {attr!r} is not a string")
                if len(value) > MAX_ATTR_CHARS:
                    raise self.fail(f"node {name!r}: attribute {attr!r} is {len(value)} characters long")
                merged[attr] = value
        return merged

    def typed_attrs(self, op: str, name: str, raw: dict[str, str]) -> dict[str, Any]:
        schema = OPS.get(op)
        if schema is None:  # unsupported op: kept verbatim, reported by the emitter with the others
            return dict(raw)
        typed: dict[str, Any] = {}
        for attr, (parse, default) in schema.attrs.items():
            if attr in raw:
                try:
                    typed[attr] = parse(raw[attr])
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
                    raise self.fail(f"node {name!r} ({op}): bad attribute {attr}={raw[attr][:80]!r}: {exc}")
            elif default is REQUIRED:
                raise self.fail(f"node {name!r} ({op}): missing required attribute {attr!r}")
            else:
                typed[attr] = default
        unknown = sorted(set(raw) - set(schema.attrs))
        if unknown:
            raise self.fail(f"node {name!r} ({op}): unknown attributes {unknown}")
        return typed

    def parse_refs(self, raw: Any, where: str, limit: int, entries: list | None,
                   names: list[str]) -> list[TensorRef]:
        if not isinstance(raw, list):
            raise self.fail(f"{where} is not a list")
        refs = []
        for ref in raw:
            if not (isinstance(ref, list) and len(ref) in (2, 3) and all(type(v) is int for v in ref)):
                raise self.fail(f"{where}: bad reference {str(ref)[:60]} (expected [node, output(, version)])")
            source, out_index = ref[0], ref[1]
            if not 0 <= source < limit:
                if source == limit < len(self.doc["nodes"]):
                    problem = "the node itself (cycle)"
                elif limit < source < len(self.doc["nodes"]):
                    problem = "a later node (cycle)"
                else:
                    problem = "a node that does not exist"
                raise self.fail(f"{where}: reference to node {source}, {problem}")
            if out_index < 0 or (entries is not None and not _has_output(entries[source], out_index)):
                raise self.fail(f"{where}: node {names[source]!r} has no output {out_index}")
            refs.append(TensorRef(names[source], out_index))
        return refs

    def build_graph(self, entries: list[Node | Variable], heads: list[TensorRef]) -> Graph:
        by_name = {e.name: e for e in entries}
        for entry in entries:  # variables an MXNet 0.x file left implicit
            if isinstance(entry, Node):
                for ref in entry.inputs:
                    by_name.setdefault(ref.node, Variable(ref.node, VarKind.INPUT))
        for entry in entries:
            if isinstance(entry, Node):
                for ref in entry.inputs:
                    if not _has_output(by_name[ref.node], ref.index):
                        raise self.fail(f"inputs of {entry.name!r}: node {ref.node!r} has no output {ref.index}")
        live = reachable(by_name, heads)
        # a subgraph's variables are its inputs, by position: every one is kept
        variables = {e.name: e for e in by_name.values()
                     if isinstance(e, Variable) and (self.within or e.name in live)}
        nodes = [e for e in entries if isinstance(e, Node) and e.name in live]
        _classify(variables, nodes)
        return Graph(variables, nodes, heads)


def _output_count(entry: Node | Variable) -> int:
    return entry.num_outputs if isinstance(entry, Node) else 1


def _has_output(entry: Node | Variable, index: int) -> bool:
    """Whether ``entry`` has output ``index``. A normalisation's mean and variance (or std) are computed whether
    or not ``output_mean_var`` shows them, and MXNet runs a graph that reads them: such a reference shows them.
    An op without a schema has the outputs its readers read (it is refused later with the other unsupported ops)."""
    if index < _output_count(entry):
        return True
    schema = OPS.get(entry.op) if isinstance(entry, Node) else None
    if schema is None and isinstance(entry, Node):
        entry.num_outputs = index + 1
        return True
    if schema is None or "output_mean_var" not in schema.attrs or entry.attrs["output_mean_var"]:
        return False
    entry.attrs["output_mean_var"] = True
    entry.num_outputs = schema.outputs(entry.attrs)
    return index < entry.num_outputs


def _shape_hint(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        dims = tuple(int(d) for d in text.strip("()[] ").split(",") if d.strip())
    except ValueError:
        return None
    return dims if dims and all(d > 0 for d in dims) else None


def reachable(by_name: dict[str, Node | Variable], heads: list[TensorRef]) -> set[str]:
    """The names of the nodes and variables of ``by_name`` that ``heads`` depend on."""
    live: set[str] = set()
    stack = [ref.node for ref in heads]
    while stack:
        name = stack.pop()
        if name in live:
            continue
        live.add(name)
        entry = by_name[name]
        if isinstance(entry, Node):
            stack.extend(ref.node for ref in entry.inputs)
    return live


def _classify(variables: dict[str, Variable], nodes: list[Node]) -> None:
    """Set each variable's role from the input slots it feeds (aux, label, or weight slot)."""
    for node in nodes:
        if node.op in FUSED:
            _classify_by_body(variables, node)
        schema = OPS.get(node.op)
        if schema is None:
            continue
        for slot, ref in enumerate(node.inputs):
            var = variables.get(ref.node)
            if var is None:
                continue
            if slot in schema.aux_inputs:
                var.kind = VarKind.AUX
            elif slot in schema.label_inputs and var.kind is VarKind.INPUT:
                var.kind = VarKind.LABEL
            elif slot in schema.param_inputs and var.kind is VarKind.INPUT:
                var.kind = VarKind.PARAM


def _classify_by_body(variables: dict[str, Variable], node: Node) -> None:
    """A fused node's leading inputs feed its subgraph's variables in order: each takes the role its subgraph
    variable has there (a BatchNorm's moving statistics are auxiliary states)."""
    for ref, inner in zip(node.inputs, node.subgraphs[0].variables.values() if node.subgraphs else ()):
        var = variables.get(ref.node)
        if var is not None and var.kind is VarKind.INPUT:
            var.kind = inner.kind
