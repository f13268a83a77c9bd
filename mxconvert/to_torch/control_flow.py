"""Control flow in ``forward``: ``_foreach`` and ``_while_loop`` as ``for`` loops, ``_cond`` as ``if``; each body's
lines lowered by the same converters on a context of its own (``TorchContext.body``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..semantics.control_flow import body_slots, bound_body, loop_var_slots, state_count
from ..ir import Node
from ..semantics.control_flow import body_shapes
from .registry import HELPERS, Lowering, register

if TYPE_CHECKING:
    from .codegen import TorchContext


HELPERS["mxnet_decision"] = '''
def mxnet_decision(flag: torch.Tensor) -> bool:
    """``bool(flag)``, for a branch or a loop's end taken on a value. torch.jit.trace would keep its example's
    choice for every input, so tracing stops here (torch.jit.script and eager calls decide on each input)."""
    if torch.jit.is_scripting():
        return bool(flag)
    if torch.jit.is_tracing():
        raise RuntimeError("the model branches on tensor values (_while_loop, _cond), which a trace would fix to "
                           "its example's path: script it (torch.jit.script) or run it eagerly")
    return bool(flag)
'''


def _lowered(ctx: TorchContext, node: Node, index: int, bound: dict[int, str], depth: int) -> tuple[list[str],
                                                                                                   list[str]]:
    """Subgraph ``index``'s lines, ``depth`` levels in, and its outputs' expressions; ``bound``: body input
    position -> what it reads where that is not the op's input (a loop's current state)."""
    body = bound_body(ctx.graph, node, index)
    shapes = body_shapes(node, [ctx.shape(slot) for slot in range(len(node.inputs))])[index]
    reads = {var: bound[position] if position in bound else ctx.input(slot)
             for position, (var, slot) in enumerate(zip(body.variables, body_slots(node)[index]))}
    child = ctx.body(body, shapes, reads, depth, node.name)
    for inner in body.nodes:
        child.lower(inner)
    return child.lines, [child.expr_of(ref) for ref in body.outputs]


def _assign(ctx: TorchContext, targets: list[str], values: list[str], depth: int) -> list[str]:
    """One (tuple) assignment, so that new states never read states already replaced."""
    return [ctx.statement(f"{', '.join(targets)} = {', '.join(values)}", depth)] if targets else []


def _result(values: list[str]) -> str:
    return values[0] if len(values) == 1 else f"({', '.join(values)})"


@register("_foreach")
def foreach(ctx: TorchContext, node: Node) -> Lowering:
    """A ``for`` over axis 0 of the data inputs: states carried, per-step outputs stacked along axis 0."""
    a = node.attrs
    data, outputs, states = len(a["in_data_locs"]), a["num_out_data"], state_count(node)
    step = ctx.namer(f"{ctx.name}_step")
    carried = [ctx.namer(f"{ctx.name}_state{index}") for index in range(states)]
    stacks = [ctx.namer(f"{ctx.name}_out{index}") for index in range(outputs)]
    rows = {slot: ctx.namer(f"{ctx.name}_row{slot}") for slot in range(data)}
    bound = {}
    for position, slot in enumerate(body_slots(node)[0]):
        if slot < data:
            bound[position] = rows[slot]
        elif slot < data + states:
            bound[position] = carried[slot - data]
    lines, results = _lowered(ctx, node, 0, bound, 1)
    statements = [ctx.statement(f"# {node.source_name}: one step per row of {ctx.input(0)}"),
                  *_assign(ctx, carried, [ctx.input(data + index) for index in range(states)], 0),
                  *(ctx.statement(f"{stack}: List[torch.Tensor] = []") for stack in stacks),
                  ctx.statement(f"for {step} in range({ctx.input(0)}.shape[0]):"),
                  *(ctx.statement(f"{row} = {ctx.input(slot)}[{step}]", 1) for slot, row in rows.items()),
                  *lines,
                  *(ctx.statement(f"{stack}.append({value})", 1) for stack, value in zip(stacks, results)),
                  *_assign(ctx, carried, results[outputs:], 1)]
    return Lowering(_result([f"torch.stack({stack})" for stack in stacks] + carried), statements=statements)


@register("_while_loop")
def while_loop(ctx: TorchContext, node: Node) -> Lowering:
    """A ``for`` of at most ``max_iterations`` steps that stops when the condition fails; each per-step output
    written into its row of a zero tensor of ``max_iterations`` rows (MXNet leaves the rows after the last step
    unwritten)."""
    a = node.attrs
    outputs, states = a["num_out_data"], state_count(node)
    step = ctx.namer(f"{ctx.name}_step")
    carried = [ctx.namer(f"{ctx.name}_state{index}") for index in range(states)]
    stacks = [ctx.namer(f"{ctx.name}_out{index}") for index in range(outputs)]
    cond_slots, func_slots = body_slots(node)
    var_slots = [func_slots[position] for position in loop_var_slots(node)]
    state_of = dict(zip(var_slots, carried))
    cond_lines, (flag,) = _lowered(ctx, node, 0, {position: state_of[slot] for position, slot
                                                  in enumerate(cond_slots) if slot in state_of}, 1)
    func_lines, results = _lowered(ctx, node, 1, dict(zip(loop_var_slots(node), carried)), 1)
    device = f"device={carried[0]}.device"
    statements = [ctx.statement(f"# {node.source_name}: at most {a['max_iterations']} steps while the condition "
                                "holds"),
                  *_assign(ctx, carried, [ctx.input(slot) for slot in var_slots], 0),
                  *(ctx.statement(f"{stack} = torch.zeros({ctx.live_shape(node.output(index))}, {device})")
                    for index, stack in enumerate(stacks)),
                  ctx.statement(f"for {step} in range({a['max_iterations']}):"),
                  *cond_lines,
                  ctx.statement(f"if not {ctx.helper('mxnet_decision')}({flag}):", 1),
                  ctx.statement("break", 2),
                  *func_lines,
                  *(ctx.statement(f"{stack}[{step}] = {value}", 1) for stack, value in zip(stacks, results)),
                  *_assign(ctx, carried, results[outputs:], 1)]
    return Lowering(_result(stacks + carried), statements=statements)


@register("_cond")
def cond(ctx: TorchContext, node: Node) -> Lowering:
    """``if`` on the condition's one value (non-zero is true), each branch assigning the outputs."""
    result = ctx.namer(f"{ctx.name}_result")
    cond_lines, (flag,) = _lowered(ctx, node, 0, {}, 0)
    statements = [*cond_lines, ctx.statement(f"if {ctx.helper('mxnet_decision')}({flag}):")]
    for index, keyword in ((1, None), (2, "else:")):
        lines, results = _lowered(ctx, node, index, {}, 1)
        statements += [ctx.statement(keyword)] if keyword else []
        statements += [*lines, ctx.statement(f"{result} = {_result(results)}", 1)]
    return Lowering(result, statements=statements)
