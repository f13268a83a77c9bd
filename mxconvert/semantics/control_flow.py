"""MXNet's control-flow ops (``_foreach``, ``_while_loop``, ``_cond``): how their inputs reach their bodies.

Each body is a :class:`ir.Graph` whose variables, in order, are its inputs; the op's attributes say which of
the op's inputs feeds each of them. Both emitters and shape inference read these functions.
"""
from __future__ import annotations

import dataclasses

from ..ir import Graph, Node, VarKind
from .schema import SUBGRAPH_COUNTS

# op -> the attribute that lists, for each input of each subgraph, the op input feeding it
_LOCS = {"_while_loop": ("cond_input_locs", "func_input_locs"),
         "_cond": ("cond_input_locs", "then_input_locs", "else_input_locs")}


def body_slots(node: Node) -> list[tuple[int, ...]]:
    """For each subgraph of ``node``, the op input slot feeding each of the subgraph's inputs, in order."""
    a = node.attrs
    if node.op == "_foreach":  # the op's inputs: data, then states, then the rest, each placed by its locs
        locs = (*a["in_data_locs"], *a["in_state_locs"], *a["remain_locs"])
        slots = [0] * len(locs)
        for slot, loc in enumerate(locs):
            slots[loc] = slot
        return [tuple(slots)]
    return [a[key] for key in _LOCS[node.op]]


def state_count(node: Node) -> int:
    """How many loop states (``_foreach``, ``_while_loop``) follow the per-step outputs among the outputs."""
    return node.num_outputs - node.attrs["num_out_data"]


def loop_var_slots(node: Node) -> list[int]:
    """``_while_loop``: for each loop variable, the position among the func body's inputs it takes."""
    return list(node.attrs["func_var_locs"])


def check_control_flow(node: Node) -> str | None:
    """Why ``node``'s attributes do not fit its inputs and subgraphs, or None."""
    if len(node.subgraphs) != SUBGRAPH_COUNTS[node.op]:
        return f"holds {len(node.subgraphs)} subgraphs, expected {SUBGRAPH_COUNTS[node.op]}"
    extra = 1 + (node.op != "_foreach") + (node.op == "_cond")  # num_args counts the subgraphs
    if node.attrs["num_args"] != len(node.inputs) + extra:
        return f"num_args={node.attrs['num_args']} does not fit its {len(node.inputs)} inputs"
    for index, (body, slots) in enumerate(zip(node.subgraphs, body_slots(node))):
        if len(slots) != len(body.variables):
            return f"subgraph {index} has {len(body.variables)} inputs, its locations name {len(slots)}"
        if any(slot >= len(node.inputs) for slot in slots) or len(set(slots)) != len(slots):
            return f"subgraph {index}: input locations {slots} do not fit {len(node.inputs)} inputs"
    heads = [len(body.outputs) for body in node.subgraphs]
    if node.op == "_foreach":
        a = node.attrs
        if heads[0] != node.num_outputs or len(a["in_state_locs"]) != state_count(node) or not a["in_data_locs"]:
            return "its outputs, states and data inputs do not fit num_outputs and num_out_data"
    elif node.op == "_while_loop":
        if heads != [1, node.num_outputs] or len(loop_var_slots(node)) != state_count(node) \
                or any(loc >= len(node.subgraphs[1].variables) for loc in loop_var_slots(node)):
            return "its condition, outputs and loop variables do not fit num_outputs and num_out_data"
    elif heads != [1, node.num_outputs, node.num_outputs]:
        return "its condition or branches do not give one value and num_outputs outputs"
    return None


def bound_body(graph: Graph, node: Node, index: int) -> Graph:
    """Subgraph ``index`` of ``node`` with the stored weights it reads from ``graph`` (a parameter closed over
    from outside the body) attached to its variables, which become parameters or auxiliary states."""
    body = node.subgraphs[index]
    variables, params, aux = {}, {}, {}
    for var, slot in zip(body.variables.values(), body_slots(node)[index]):
        outer = graph.variables.get(node.inputs[slot].node)
        if outer is not None and outer.kind in (VarKind.PARAM, VarKind.AUX) and node.inputs[slot].index == 0:
            (aux if outer.kind is VarKind.AUX else params)[var.name] = graph.weight(outer.name)
            variables[var.name] = dataclasses.replace(var, kind=outer.kind, shape=outer.shape, dtype=outer.dtype)
        else:
            variables[var.name] = dataclasses.replace(var, kind=VarKind.INPUT)
    return dataclasses.replace(body, variables=variables, params=params, aux=aux)


def body_name(node: Node, inner: str) -> str:
    """A body node's name as reports give it: ``outer/inner``."""
    return f"{node.name}/{inner}"

