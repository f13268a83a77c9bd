"""The values of nodes inside control-flow bodies: MXNet's body symbols run step by step, and the ONNX model's
Loop and If nodes made to return their bodies' tensors.

A loop body node's value is every step's, stacked along a new axis 0 (the steps a ``_while_loop`` ran, not its
``max_iterations``); a ``_cond`` branch node's is its one value, and a branch not taken has none.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Sequence

import numpy as np

from ..ir import Node, TensorRef
from ..semantics.control_flow import body_slots, loop_var_slots, state_count
from .probes import Probe, node_slots

Values = dict[TensorRef, np.ndarray]
ONNX_SCOPES = {0: ("body", "cond"), 1: ("body", "then"), 2: ("else",)}  # by subgraph


def numbered(symbol: Any) -> dict[tuple[str, int], int]:
    """(name, how many outputs of that name came before) -> position among an MXNet symbol's outputs."""
    slots, seen = {}, {}
    for slot in range(len(symbol.list_outputs())):
        name = symbol[slot].name
        seen[name] = seen.get(name, -1) + 1
        slots[(name, seen[name])] = slot
    return slots


def flag_of(value: np.ndarray) -> bool:
    """A condition's one value: non-zero is true."""
    return bool(value.reshape(-1)[0])


class MxnetSteps:
    """A control-flow node's bodies in MXNet, each its own symbol bound once per step (in the outer run's dtype)
    on the values the step reads."""

    def __init__(self, mx: Any, ctx: Any, owner: Any, node: Node, inputs: list[np.ndarray]):
        """``owner``: the MXNet symbol whose head is ``node``; ``inputs``: the values of the node's inputs."""
        document = json.loads(owner.tojson())
        entry = document["nodes"][document["heads"][0][0]]
        self.mx, self.ctx, self.node, self.inputs = mx, ctx, node, inputs
        self.symbols = [mx.sym.load_json(json.dumps({**body, "attrs": document.get("attrs", {})})).get_internals()
                        for body in entry["subgraphs"]]

    def run(self, index: int, reads: dict[int, np.ndarray]) -> tuple[list[np.ndarray], Values]:
        """Subgraph ``index`` on ``reads`` (its inputs by position): its outputs, and every tensor it holds."""
        mx, body, internals = self.mx, self.node.subgraphs[index], self.symbols[index]
        arrays = {name: mx.nd.array(reads[position], dtype=reads[position].dtype)
                  for position, name in enumerate(body.variables)}
        executor = internals.bind(self.ctx, args={name: arrays[name] for name in internals.list_arguments()},
                                  aux_states={name: arrays[name] for name in internals.list_auxiliary_states()},
                                  grad_req="null")
        outputs = [out.asnumpy() for out in executor.forward(is_train=False)]
        positions = numbered(internals)
        values = {ref: outputs[positions[slot]] for ref, slot in node_slots(body).items() if slot in positions}
        return [values[ref] for ref in body.outputs], values

    def values(self, wanted: Sequence[Probe]) -> dict[str, np.ndarray]:
        """Each wanted body probe's value, by label."""
        steps: dict[str, list[np.ndarray]] = {p.label: [] for p in wanted}

        def record(index: int, values: Values) -> None:
            for probe in wanted:
                if probe.subgraph == index:
                    steps[probe.label].append(values[TensorRef(probe.inner, probe.index)])

        STEPPERS[self.node.op](self, record)
        return {p.label: np.stack(steps[p.label]) if p.stacked else steps[p.label][0]
                for p in wanted if steps[p.label]}

    def count(self) -> int:
        """How many steps a ``_while_loop`` runs."""
        ran: list[int] = []
        self.while_loop(lambda index, values: ran.append(index))
        return len(ran)

    def foreach(self, record: Callable[[int, Values], None]) -> None:
        """One step per row of the data inputs, the states carried; ``record`` sees each step's tensors."""
        inputs, a = self.inputs, self.node.attrs
        data, outputs, states = len(a["in_data_locs"]), a["num_out_data"], state_count(self.node)
        carried = inputs[data:data + states]
        for step in range(inputs[0].shape[0]):
            reads = {position: inputs[slot][step] if slot < data else carried[slot - data] if slot < data + states
                     else inputs[slot] for position, slot in enumerate(body_slots(self.node)[0])}
            results, values = self.run(0, reads)
            record(0, values)
            carried = results[outputs:]

    def while_loop(self, record: Callable[[int, Values], None]) -> None:
        """Steps while the condition holds, at most ``max_iterations``; ``record`` sees each step's func body."""
        inputs, node = self.inputs, self.node
        cond_slots, func_slots = body_slots(node)
        positions = loop_var_slots(node)
        carried = [inputs[func_slots[position]] for position in positions]
        for _ in range(node.attrs["max_iterations"]):
            state_of = {func_slots[position]: value for position, value in zip(positions, carried)}
            (flag,), _ = self.run(0, {position: state_of.get(slot, inputs[slot])
                                      for position, slot in enumerate(cond_slots)})
            if not flag_of(flag):
                break
            bound = dict(zip(positions, carried))
            results, values = self.run(1, {position: bound[position] if position in bound else inputs[slot]
                                           for position, slot in enumerate(func_slots)})
            record(1, values)
            carried = results[node.attrs["num_out_data"]:]

    def cond(self, record: Callable[[int, Values], None]) -> None:
        """The condition, then the branch it picks; ``record`` sees both."""
        inputs, slots = self.inputs, body_slots(self.node)
        (flag,), values = self.run(0, {position: inputs[slot] for position, slot in enumerate(slots[0])})
        record(0, values)
        branch = 1 if flag_of(flag) else 2
        record(branch, self.run(branch, {position: inputs[slot] for position, slot in enumerate(slots[branch])})[1])


STEPPERS = {"_foreach": MxnetSteps.foreach, "_while_loop": MxnetSteps.while_loop, "_cond": MxnetSteps.cond}


def onnx_candidates(probe: Probe) -> list[str]:
    """The names a body probe's tensor may have in our ONNX file: the converters scope a body's tensors by the
    subgraph's role (a ``_foreach``'s or ``_while_loop``'s step ``body``, a ``_cond``'s ``cond``, ``then`` or
    ``else``)."""
    from ..to_onnx.context import tensor_name

    inner = tensor_name(probe.inner, probe.index, probe.outputs)
    return [f"{probe.owner}__{scope}__{inner}" for scope in ONNX_SCOPES[probe.subgraph]]


def _produced(graph: Any) -> set[str]:
    return {name for node in graph.node for name in node.output}


def tap_bodies(model: Any, wanted: dict[str, list[str]], types: dict[str, int]
               ) -> tuple[dict[str, str], dict[str, tuple[str, bool]]]:
    """Make the body tensors ``wanted`` (label -> candidate names) outputs of the Loop or If holding them, in
    place: a Loop's as scan outputs (stacked steps), an If's from the branch computing it (the other branch
    returns an empty tensor); ``types`` (tensor -> element type) gains the new outputs'. Returns label -> graph
    tensor, and for an If's: label -> (its condition, whether the then branch computes it)."""
    from onnx import TensorProto, helper

    outer = _produced(model.graph)  # a _cond's condition is computed in the outer graph
    names = {label: name for label, candidates in wanted.items() for name in candidates if name in outer}
    branches = {}
    for node in model.graph.node:
        graphs = {a.name: a.g for a in node.attribute if a.type == a.GRAPH}
        inside = {key: _produced(g) for key, g in graphs.items()}
        for label, candidates in wanted.items():
            name = next((n for n in candidates for key in graphs if n in inside[key]), None)
            if label in names or name is None:
                continue
            elem = types.get(name, TensorProto.FLOAT)
            for key, body in graphs.items():
                value = name
                if name not in inside[key]:  # the other branch
                    value = f"{name}__none"
                    body.node.append(helper.make_node("Constant", [], [value],
                                                      value=helper.make_tensor(value, elem, [0], [])))
                body.output.append(helper.make_tensor_value_info(value, elem, None))
            names[label] = f"{name}__tapped"
            types[names[label]] = elem
            node.output.append(names[label])
            if node.op_type == "If":
                branches[label] = (node.input[0], name in inside["then_branch"])
    return names, branches


def value_types(model: Any) -> dict[str, int]:
    """Every tensor's element type that ONNX shape inference finds, bodies' included."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    types, graphs = {}, [inferred.graph]
    while graphs:
        graph = graphs.pop()
        types.update((v.name, v.type.tensor_type.elem_type) for v in (*graph.value_info, *graph.output))
        graphs += [a.g for node in graph.node for a in node.attribute if a.type == a.GRAPH]
    return types
