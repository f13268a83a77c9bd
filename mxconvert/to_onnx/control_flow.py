"""Control flow: ``_foreach`` and ``_while_loop`` as ONNX ``Loop``, ``_cond`` as ``If``; each body converted by
the same converters on a context of its own (``EmitContext.body``), reading what it closes over by name."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from ..semantics.control_flow import body_name, body_slots, bound_body, loop_var_slots, state_count
from ..errors import NotExpressible, UnsupportedOpsError
from ..ir import Node
from ..semantics.control_flow import body_shapes
from .context import EmitContext
from .registry import CONVERTERS, register


class _Bodies:
    """The subgraphs of one control-flow node, emitted under names of their own."""

    def __init__(self, ctx: EmitContext, node: Node):
        self.ctx, self.node = ctx, node
        self.shapes = body_shapes(node, [ctx.shape(slot) for slot in range(len(node.inputs))])
        self.slots = body_slots(node)
        self.float_type = helper.np_dtype_to_tensor_dtype(ctx.float_type)

    def emit(self, index: int, scope: str, names: dict[int, str]) -> tuple[EmitContext, list[str]]:
        """Convert subgraph ``index``; ``names``: body input position -> the tensor it reads where that is not the
        op's input (a loop's current state). Returns the body's context and its outputs' names."""
        ctx, node = self.ctx, self.node
        body = bound_body(ctx.graph, node, index)
        reads = {var: names[position] if position in names else ctx.input(slot)
                 for position, (var, slot) in enumerate(zip(body.variables, self.slots[index]))}
        child = ctx.body(body, self.shapes[index], f"{ctx.scope}{node.name}__{scope}__", reads)
        for inner in body.nodes:
            child.begin(inner)
            try:
                CONVERTERS[inner.op].convert(child, inner)
            except NotExpressible as exc:
                raise UnsupportedOpsError(f"ONNX opset {ctx.opset}",
                                          {f"{inner.op} [{exc}]": [body_name(node, inner.name)]}) from None
        return child, [child.name_of(ref) for ref in body.outputs]

    def flag(self, child: EmitContext, value: str) -> str:
        """A condition's one value as an ONNX bool scalar (MXNet reads it as a bool: non-zero is true)."""
        child.current = self.node
        scalar = child.add("Reshape", [value, child.ints([], "scalar")])
        return child.add("Cast", [scalar], to=TensorProto.BOOL)

    def value_info(self, name: str, dims: list[int | None]) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, self.float_type, dims)

    def graph(self, child: EmitContext, name: str, inputs: list[onnx.ValueInfoProto], outputs: list[str],
              dims: list[list[int | None]], flag: str | None = None) -> onnx.GraphProto:
        """A Loop's or If's body: ``child``'s nodes, each output copied (a body output may be an input or an
        outer tensor), after the loop's continue ``flag``."""
        child.current = self.node
        copies = [child.add("Identity", [value], f"{child.scope}result{index}") for index, value in enumerate(outputs)]
        infos = [self.value_info(copy, sizes) for copy, sizes in zip(copies, dims)]
        if flag is not None:
            infos.insert(0, helper.make_tensor_value_info(child.add("Identity", [flag], f"{child.scope}continue"),
                                                          TensorProto.BOOL, []))
        return helper.make_graph(child.nodes, name, inputs, infos)

    def loop_inputs(self, scope: str, states: list[str], dims: list[list[int | None]]) -> list[onnx.ValueInfoProto]:
        prefix = f"{self.ctx.scope}{self.node.name}__{scope}__"
        return [helper.make_tensor_value_info(f"{prefix}step", TensorProto.INT64, []),
                helper.make_tensor_value_info(f"{prefix}go", TensorProto.BOOL, []),
                *(self.value_info(state, sizes) for state, sizes in zip(states, dims))]


def _dims(ctx: EmitContext, outputs: range, drop: int = 0) -> list[list[int | None]]:
    """The sizes of the current node's ``outputs`` (without the first ``drop``: a stacked output's step), None
    where they follow a dynamic axis."""
    return [[dim if isinstance(dim, int) else None for dim in ctx.live(ctx.current.output(index))[drop:]]
            for index in outputs]


@register("_foreach")
def foreach(ctx: EmitContext, node: Node) -> None:
    """A Loop over axis 0 of the data inputs, as long as they are at run time: states carried, outputs stacked."""
    a, bodies = node.attrs, _Bodies(ctx, node)
    data, outputs, states = len(a["in_data_locs"]), a["num_out_data"], state_count(node)
    prefix = f"{ctx.scope}{node.name}__body__"
    state_names = [f"{prefix}state{index}" for index in range(states)]
    step = f"{prefix}step"
    names = {}
    for position, slot in enumerate(bodies.slots[0]):
        if slot < data:
            names[position] = f"{prefix}slice{slot}"
        elif slot < data + states:
            names[position] = state_names[slot - data]
    child, results = bodies.emit(0, "body", names)
    zero = ctx.const(np.int64(0), "index", dtype=np.int64)
    child.nodes[:0] = [helper.make_node("Gather", [ctx.input(slot), step], [f"{prefix}slice{slot}"],
                                        name=f"{prefix}slice{slot}", axis=0) for slot in range(data)]
    state_dims = _dims(ctx, range(outputs, outputs + states))
    body = bodies.graph(child, f"{node.name}_body", bodies.loop_inputs("body", state_names, state_dims),
                        results[outputs:] + results[:outputs],
                        state_dims + _dims(ctx, range(outputs), 1), f"{prefix}go")
    length = ctx.add("Gather", [ctx.add("Shape", [ctx.input(0)]), zero])
    ctx.add("Loop", [length, "", *(ctx.input(data + index) for index in range(states))],
            [ctx.output(index) for index in (*range(outputs, outputs + states), *range(outputs))], body=body)


@register("_while_loop")
def while_loop(ctx: EmitContext, node: Node) -> None:
    """A Loop of at most ``max_iterations`` steps while the condition holds; the stacked outputs padded with zeros
    to ``max_iterations`` rows (MXNet leaves the rows after the last step unwritten)."""
    a, bodies = node.attrs, _Bodies(ctx, node)
    outputs, states = a["num_out_data"], state_count(node)
    func_slots, cond_slots = bodies.slots[1], bodies.slots[0]
    var_slots = [func_slots[position] for position in loop_var_slots(node)]
    prefix = f"{ctx.scope}{node.name}__body__"
    state_names = [f"{prefix}state{index}" for index in range(states)]
    first, (first_value,) = bodies.emit(0, "cond", {})
    go = bodies.flag(first, first_value)
    ctx.nodes.extend(first.nodes)
    child, results = bodies.emit(1, "body", {position: state_names[index]
                                             for index, position in enumerate(loop_var_slots(node))})
    new_values = dict(zip(var_slots, results[outputs:]))
    check, (next_flag,) = bodies.emit(0, "next", {position: new_values[slot] for position, slot in
                                                  enumerate(cond_slots) if slot in new_values})
    continues = bodies.flag(check, next_flag)
    child.nodes.extend(check.nodes)
    state_dims = _dims(ctx, range(outputs, outputs + states))
    step_dims = _dims(ctx, range(outputs), 1)
    body = bodies.graph(child, f"{node.name}_body", bodies.loop_inputs("body", state_names, state_dims),
                        results[outputs:] + results[:outputs], state_dims + step_dims, continues)
    limit = a["max_iterations"]
    stacked = [ctx.temp("stacked") for _ in range(outputs)]
    ctx.add("Loop", [ctx.const(np.int64(limit), "limit", dtype=np.int64), go,
                     *(ctx.input(slot) for slot in var_slots)],
            [*(ctx.output(index) for index in range(outputs, outputs + states)), *stacked], body=body)
    for index, (value, sizes) in enumerate(zip(stacked, step_dims)):
        rank = len(sizes)
        steps = ctx.add("Shape", [value], start=0, end=1) if ctx.opset >= 15 else \
            ctx.add("Slice", [ctx.add("Shape", [value]), ctx.ints([0]), ctx.ints([1])])
        missing = ctx.add("Sub", [ctx.ints([limit]), steps])
        pads = ctx.add("Concat", [ctx.ints([0] * (rank + 1)), missing, ctx.ints([0] * rank)], axis=0)
        ctx.add("Pad", [value, pads], ctx.output(index))


@register("_cond")
def cond(ctx: EmitContext, node: Node) -> None:
    """``If`` on the condition's one value, each branch a subgraph reading the op's inputs by name."""
    bodies = _Bodies(ctx, node)
    condition, (value,) = bodies.emit(0, "cond", {})
    flag = bodies.flag(condition, value)
    ctx.nodes.extend(condition.nodes)
    dims = _dims(ctx, range(node.num_outputs))
    branches = {}
    for index, key in ((1, "then_branch"), (2, "else_branch")):
        child, results = bodies.emit(index, key.split("_")[0], {})
        branches[key] = bodies.graph(child, f"{node.name}_{key}", [], results, dims)
    ctx.add("If", [flag], [ctx.output(index) for index in range(node.num_outputs)], **branches)
