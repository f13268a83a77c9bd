"""MXNet's control-flow ops (``_foreach``, ``_while_loop``, ``_cond``): their schemas, how their inputs reach
their bodies and the bodies' shapes.

Each body is a :class:`ir.Graph` whose variables, in order, are its inputs; the op's attributes say which of
the op's inputs feeds each of them. Both emitters and shape inference read these functions."""
from __future__ import annotations

import dataclasses
import math

from ..ir import Graph, Node, TensorRef, VarKind
from .inference import infer_shapes
from .rules import Shape, ShapeError, expect, shape_rule
from .schema import COUNT, OpDef, REQUIRED, alias, define, in_range, parse_int, parse_shape

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
def parse_locs(text: str) -> tuple[int, ...]:
    """A tuple of input positions (``"[0, 2]"``); every position at least 0."""
    locs = parse_shape(text)
    if any(loc is None or loc < 0 for loc in locs):
        raise ValueError(f"not a list of positions: {text[:80]!r}")
    return locs


_LOCS_ATTR = (parse_locs, REQUIRED)


_NUM_OUTPUTS = (COUNT, REQUIRED)


_CONTROL_FLOW_OUTPUTS = (lambda a: a["num_outputs"])


SUBGRAPH_COUNTS = {"_foreach": 1, "_while_loop": 2, "_cond": 3}  # op -> how many subgraphs it holds


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


define({
    "_foreach": OpDef({"num_args": (COUNT, REQUIRED), "num_outputs": _NUM_OUTPUTS,
                       "num_out_data": (in_range(parse_int, 0), REQUIRED), "in_state_locs": _LOCS_ATTR,
                       "in_data_locs": _LOCS_ATTR, "remain_locs": _LOCS_ATTR}, outputs=_CONTROL_FLOW_OUTPUTS),
    "_while_loop": OpDef({"num_args": (in_range(parse_int, 2), REQUIRED), "num_outputs": _NUM_OUTPUTS,
                          "num_out_data": (in_range(parse_int, 0), REQUIRED),
                          "max_iterations": (COUNT, REQUIRED), "cond_input_locs": _LOCS_ATTR,
                          "func_input_locs": _LOCS_ATTR, "func_var_locs": _LOCS_ATTR}, outputs=_CONTROL_FLOW_OUTPUTS),
    "_cond": OpDef({"num_args": (in_range(parse_int, 3), REQUIRED), "num_outputs": _NUM_OUTPUTS,
                    "cond_input_locs": _LOCS_ATTR, "then_input_locs": _LOCS_ATTR, "else_input_locs": _LOCS_ATTR},
                   outputs=_CONTROL_FLOW_OUTPUTS),
})
# MXNet's ``Custom`` op runs Python code the graph does not hold: it has no schema, and both targets refuse it by
# its ``op_type``, under either name
alias("_npi_Custom", "Custom")


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
def body_shapes(node: Node, in_shapes: list[Shape]) -> list[dict[TensorRef, Shape]]:
    """Every tensor's shape in each subgraph of a control-flow node, one step of a loop (a ``_foreach`` data
    input without its axis 0, the step axis)."""
    stepped = range(len(node.attrs["in_data_locs"])) if node.op == "_foreach" else ()
    found = []
    for body, slots in zip(node.subgraphs, body_slots(node)):
        given = {var: in_shapes[slot][1:] if slot in stepped else in_shapes[slot]
                 for var, slot in zip(body.variables, slots)}
        try:
            found.append(infer_shapes(body, given))
        except ShapeError as exc:
            raise ShapeError(f"in the subgraph of {node.name!r}: {exc}") from None
    return found


def _body_outputs(body_index: int, node: Node, shapes: list[dict[TensorRef, Shape]]) -> list[Shape]:
    return [shapes[body_index][ref] for ref in node.subgraphs[body_index].outputs]


def _loop_states(states: list[Shape], returned: list[Shape]) -> None:
    for index, (state, new) in enumerate(zip(states, returned)):
        expect(new, state, f"the body's new value of loop state {index}")


@shape_rule("_foreach")
def _foreach(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = len(node.attrs["in_data_locs"])
    steps = {shape[0] if shape else 0 for shape in shapes[:data]}
    if len(steps) != 1 or 0 in steps:
        raise ShapeError(f"its data inputs of shapes {shapes[:data]} have no common step axis 0")
    (length,) = steps
    returned = _body_outputs(0, node, body_shapes(node, shapes))
    outputs = node.attrs["num_out_data"]
    _loop_states(shapes[data:data + state_count(node)], returned[outputs:])
    return [(length, *shape) for shape in returned[:outputs]] + returned[outputs:]


def _condition(node: Node, shapes: list[dict[TensorRef, Shape]]) -> None:
    condition = _body_outputs(0, node, shapes)[0]
    if math.prod(condition) != 1:
        raise ShapeError(f"its condition has shape {condition}, expected one value")


@shape_rule("_while_loop")
def _while_loop(node: Node, shapes: list[Shape]) -> list[Shape]:
    bodies = body_shapes(node, shapes)
    _condition(node, bodies)
    returned = _body_outputs(1, node, bodies)
    outputs = node.attrs["num_out_data"]
    func_slots = body_slots(node)[1]
    _loop_states([shapes[func_slots[loc]] for loc in loop_var_slots(node)], returned[outputs:])
    return [(node.attrs["max_iterations"], *shape) for shape in returned[:outputs]] + returned[outputs:]


@shape_rule("_cond")
def _cond(node: Node, shapes: list[Shape]) -> list[Shape]:
    bodies = body_shapes(node, shapes)
    _condition(node, bodies)
    then, otherwise = _body_outputs(1, node, bodies), _body_outputs(2, node, bodies)
    for index, (a, b) in enumerate(zip(then, otherwise)):
        expect(b, a, f"output {index} of the else branch")
    return then
