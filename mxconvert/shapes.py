"""Static shape inference over the IR, one small rule per op; also checks weight shapes against the graph."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from .control_flow import body_slots, loop_var_slots, state_count
from .errors import MxConvertError, NotExpressible, UnsupportedOpsError
from .ir import Graph, Node, TensorRef, VarKind
from .opdefs import BINARY_FORMS, LOSS_HEADS, OPS, REDUCTIONS, UNARY_MATH

Shape = tuple[int, ...]
ShapeRule = Callable[[Node, list[Shape]], list[Shape]]
# op -> the shapes it fixes for its inputs (None where it fixes none), from its known input and output shapes
# (None where unknown): MXNet infers shapes backwards as well
InputRule = Callable[[Node, list["Shape | None"], list["Shape | None"]], list["Shape | None"]]
_RULES: dict[str, ShapeRule] = {}
_INPUT_RULES: dict[str, InputRule] = {}
# Creation ops whose ``shape`` may hold 0, MXNet's unknown size, completed from the op that reads them.
SIZED_BY_CONSUMER = ("_zeros", "_ones", "_full", "_random_normal", "_random_uniform")
MAX_ELEMENTS = 1 << 30  # 4 GiB of float32 in one tensor: a 64-channel 4096x4096 map still fits


class ShapeError(MxConvertError):
    """A node's inputs do not fit its op (wrong weight shape, mismatched operands)."""


def shape_rule(*ops: str) -> Callable[[ShapeRule], ShapeRule]:
    def register(rule: ShapeRule) -> ShapeRule:
        for op in ops:
            _RULES[op] = rule
        return rule

    return register


def input_rule(*ops: str) -> Callable[[InputRule], InputRule]:
    """Register the shapes an op fixes for its inputs (an LSTM's begin state from the data it meets, a
    ``_zeros`` begin state of shape (2, 0, 6) taking its batch size there)."""

    def register(rule: InputRule) -> InputRule:
        for op in ops:
            _INPUT_RULES[op] = rule
        return rule

    return register


def _fixed_inputs(node: Node, inputs: list[Shape | None], outputs: list[Shape | None]) -> list[Shape | None]:
    rule = _INPUT_RULES.get(node.op)
    return rule(node, inputs, outputs) if rule is not None else [None] * len(inputs)


def _complete_inputs(node: Node, partial: dict[TensorRef, Node], shapes: dict[TensorRef, Shape],
                     from_consumers: Callable[[TensorRef], Shape | None]) -> list[Shape]:
    """The shapes of ``node``'s inputs, the unknown (0) sizes of creation ops' outputs filled from its input rule,
    or from what the graph further on fixes (``from_consumers``: a ``_zeros`` begin state read by a
    FullyConnected whose output meets another tensor); an input left incomplete is refused as the empty output
    it would be in MXNet."""
    known = [None if ref in partial else shapes[ref] for ref in node.inputs]
    required = _fixed_inputs(node, known, [None] * node.num_outputs)
    for slot, ref in enumerate(node.inputs):
        if ref not in partial:
            continue
        shape, producer = shapes[ref], partial.pop(ref)
        want = required[slot] or from_consumers(ref)
        if want is None:
            raise ShapeError(f"node {producer.name!r}: empty output refused {shape} (nothing infers its 0 sizes)")
        if len(shape) != len(want) or any(size not in (0, wanted) for size, wanted in zip(shape, want)):
            raise ShapeError(f"node {node.name!r} ({node.op}): input {slot} from {producer.name!r} has shape "
                             f"{shape}, expected {want}")
        _check_output(producer, want)
        shapes[ref] = tuple(want)
    return [shapes[ref] for ref in node.inputs]


def _check_output(node: Node, shape: Shape) -> None:
    if any(d <= 0 for d in shape):  # an empty tensor inside a network is never meant
        what = "empty output refused" if min(shape) == 0 else "negative output size"
        raise ShapeError(f"node {node.name!r} ({node.op}): {what} {shape}")
    if math.prod(shape) > MAX_ELEMENTS:  # an UpSampling scale of 10**6 would make checks allocate TBs
        raise ShapeError(f"node {node.name!r} ({node.op}): output of shape {shape} has more than "
                         f"{MAX_ELEMENTS} elements")


def _sized_later(node: Node, shape: Shape) -> bool:
    """A creation op's output with an unknown (0) size, completed where it is read."""
    return node.op in SIZED_BY_CONSUMER and min(shape, default=1) == 0


def infer_shapes(graph: Graph, input_shapes: dict[str, Shape]) -> dict[TensorRef, Shape]:
    """Shape of every tensor for the given data-input shapes; raises ShapeError naming the node. Inputs not
    given (recurrent begin states) take the shape their consumers fix, as MXNet's own inference finds it."""
    missing = {}
    for node in graph.nodes:
        if node.op not in _RULES:
            missing.setdefault(node.op, []).append(node.name)
    if missing:
        raise UnsupportedOpsError("shape inference", missing)
    shapes: dict[TensorRef, Shape] = {}
    for var in graph.variables.values():
        shape = input_shapes.get(var.name, var.shape)
        if shape is not None and var.kind is VarKind.INPUT and any(d <= 0 for d in shape):
            raise ShapeError(f"input {var.name!r} of shape {tuple(shape)}: every size must be positive "
                             "(MXNet reads a 0 as 'unknown')")
        if shape is not None:
            shapes[TensorRef(var.name)] = tuple(shape)
    for label in graph.labels:  # a label's shape follows its loss head; it never affects outputs
        shapes.setdefault(TensorRef(label.name), ())
    if any(TensorRef(var.name) not in shapes for var in graph.inputs):
        shapes.update(_inputs_from_consumers(graph, shapes))
    partial: dict[TensorRef, Node] = {}  # outputs of creation ops with unknown (0) sizes -> their node
    fixed_further_on: list[dict[TensorRef, Shape]] = []  # computed once, when a creation op needs it

    def from_consumers(ref: TensorRef) -> Shape | None:
        if not fixed_further_on:
            fixed_further_on.append(_shapes_from_consumers(graph, {r: shapes[r] for r in shapes
                                                                   if r.node in graph.variables}))
        return fixed_further_on[0].get(ref)

    for node in graph.nodes:
        try:
            in_shapes = [shapes[ref] for ref in node.inputs]
        except KeyError as exc:
            raise ShapeError(f"node {node.name!r}: shape of input {exc.args[0]} is unknown; "
                             "give the data input's shape") from None
        if any(ref in partial for ref in node.inputs):
            in_shapes = _complete_inputs(node, partial, shapes, from_consumers)
        for index, shape in enumerate(_node_shapes(node, in_shapes)):
            if _sized_later(node, shape):
                partial[TensorRef(node.name, index)] = node
            else:
                _check_output(node, shape)
            shapes[TensorRef(node.name, index)] = shape
    for ref in graph.outputs:
        if ref in partial:
            raise ShapeError(f"node {ref.node!r}: empty output refused {shapes[ref]} (nothing infers its 0 sizes)")
    return shapes


def _node_shapes(node: Node, in_shapes: list[Shape]) -> list[Shape]:
    """The output shapes of one node (unchecked); errors name the node."""
    try:
        out_shapes = _RULES[node.op](node, in_shapes)
    except ShapeError as exc:
        raise ShapeError(f"node {node.name!r} ({node.op}): {exc}") from None
    except (ArithmeticError, IndexError, TypeError, ValueError) as exc:  # attributes no real model has
        raise ShapeError(f"node {node.name!r} ({node.op}): attributes do not fit inputs of shapes "
                         f"{in_shapes} ({type(exc).__name__}: {exc})") from None
    return [tuple(shape) for shape in out_shapes]


def _inputs_from_consumers(graph: Graph, known: dict[TensorRef, Shape]) -> dict[TensorRef, Shape]:
    """Shapes of the data inputs not given, from what their consumers fix (an LSTM's begin state from the
    weights it meets and the tensors it is added to). Raises ShapeError naming an input still unknown."""
    shapes = _shapes_from_consumers(graph, known)
    consumers = graph.consumers()
    for var in graph.inputs:
        ref = TensorRef(var.name)
        if ref not in shapes:
            uses = ", ".join(f"{n.name!r} ({n.op}, inputs of shapes "
                             f"{', '.join(str(shapes.get(r, '?')) for r in n.inputs)})" for n in consumers.get(ref, []))
            raise ShapeError(f"input {var.name!r}: its shape is neither given nor fixed by the graph (it feeds "
                             f"{uses or 'no node'}); give it as NAME=SHAPE")
    return {TensorRef(var.name): shapes[TensorRef(var.name)] for var in graph.inputs}


def _shapes_from_consumers(graph: Graph, known: dict[TensorRef, Shape]) -> dict[TensorRef, Shape]:
    """Every shape that ``known`` fixes, read both ways: forward rules where every input is known, input rules
    (``input_rule``) elsewhere, until nothing changes; creation ops' unknown (0) sizes left to their readers."""
    shapes = dict(known)
    pending = list(graph.nodes)
    changed = True
    while changed and pending:
        changed = False
        waiting = []
        for node in pending:
            in_shapes = [shapes.get(ref) for ref in node.inputs]
            if all(shape is not None for shape in in_shapes):
                for index, shape in enumerate(_node_shapes(node, in_shapes)):
                    if not _sized_later(node, shape):  # else its reader's input rule sizes it
                        shapes.setdefault(TensorRef(node.name, index), shape)
                changed = True
                continue
            waiting.append(node)
            out_shapes = [shapes.get(TensorRef(node.name, i)) for i in range(node.num_outputs)]
            for ref, shape in zip(node.inputs, _fixed_inputs(node, in_shapes, out_shapes)):
                if shape is not None and ref not in shapes:
                    shapes[ref] = tuple(shape)
                    changed = True
        pending = waiting
    return shapes


def inferred_shapes(graph: Graph, data_shape: Shape | dict[str, Shape]) -> dict[TensorRef, Shape]:
    """``infer_shapes`` for the shapes the user gives: one bare shape for the (first) data input, or a shape
    per input name. A mismatch is reported against the params file."""
    given = input_shapes_of(graph, data_shape)
    try:
        return infer_shapes(graph, given)
    except ShapeError as exc:
        described = ", ".join(f"{name} of shape {shape}" for name, shape in given.items())
        raise ShapeError(f"{exc} (input {described})", graph.source.params_file or None) from None


def input_shapes_of(graph: Graph, given: Shape | dict[str, Shape]) -> dict[str, Shape]:
    """``given`` keyed by input name: a bare shape belongs to the first data input that is no begin state;
    a name that is no input of the graph is an error listing the graph's inputs."""
    inputs = [var.name for var in graph.inputs]
    if not isinstance(given, dict):
        states = begin_states(graph)
        data = [name for name in inputs if name not in states] or inputs
        if not data:
            raise MxConvertError("the model has no data input (every argument is in the params file)")
        return {data[0]: tuple(given)}
    unknown = [name for name in given if name not in inputs]
    if unknown:
        raise MxConvertError(f"no input named {', '.join(map(repr, unknown))} (the graph's inputs: "
                             f"{', '.join(inputs) or 'none'})")
    return {name: tuple(shape) for name, shape in given.items()}


def begin_states(graph: Graph) -> list[str]:
    """The graph's inputs that are recurrent begin states (:func:`is_begin_state`), in input order."""
    return [var.name for var in graph.inputs if is_begin_state(graph, var.name)]


def is_begin_state(graph: Graph, name: str) -> bool:
    """A recurrent begin state: an input that a fused RNN reads as its state, or that MXNet's recurrent
    examples and Gluon name so (``l0_init_c``, ``begin_state_0``, ``init_h``...). It can be fed zeros."""
    var = graph.variables.get(name)
    if var is None or var.kind is not VarKind.INPUT:
        return False
    ref = TensorRef(name)
    if any(n.op == "RNN" and ref in n.inputs[2:4 if n.attrs["mode"] == "lstm" else 3] for n in graph.nodes):
        return True
    return named_like_begin_state(name)


def named_like_begin_state(name: str) -> bool:
    """``l0_init_c``, ``begin_state_0``, ``init_h``, ``rnn_state``...: how recurrent begin states are named."""
    return re.search(r"(^|_)(init|begin)(_|$)|(^|_)(begin_)?states?(_|\d|$)", name) is not None


def _expect(actual: Shape, expected: Shape, what: str) -> None:
    if tuple(actual) != tuple(expected):
        raise ShapeError(f"{what} has shape {tuple(actual)}, expected {tuple(expected)}")


def _spatial(attr: tuple, rank: int, default: int) -> tuple[int, ...]:
    return tuple(attr) if attr else (default,) * rank


def axis_index(axis: int, rank: int, what: str = "axis") -> int:
    """``axis`` (negative counts from the end) as an index into ``rank`` dimensions, as MXNet checks it."""
    if not -rank <= axis < rank:
        raise ShapeError(f"{what} {axis} is out of range for {rank}-D data")
    return axis % rank


def window_geometry(attrs: dict, rank: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Stride, pad and dilation of a ``rank``-D window op, with MXNet's defaults and checks (one value per
    spatial axis; stride and dilation at least 1)."""
    values = []
    for key, default in (("stride", 1), ("pad", 0), ("dilate", 1)):
        given = attrs.get(key, ())
        if given and len(given) != rank:
            raise ShapeError(f"{key} {given} does not have {rank} values like the kernel")
        value = _spatial(given, rank, default)
        if key != "pad" and min(value) < 1:
            raise ShapeError(f"{key} {value} must be at least 1")
        values.append(value)
    return tuple(values)


def negative_pad(node: Node) -> str | None:
    """The reason a window op with a negative pad (MXNet crops there) is not converted, or None (global pooling
    ignores its pad)."""
    if node.attrs.get("global_pool") or not any(p < 0 for p in node.attrs["pad"]):
        return None
    return f"negative pad {node.attrs['pad']}"


def window_output(size: int, kernel: int, stride: int, pad: int, dilate: int = 1, ceil: bool = False) -> int:
    span = size + 2 * pad - dilate * (kernel - 1) - 1
    return (math.ceil(span / stride) if ceil else span // stride) + 1


@shape_rule("Convolution")
def _convolution(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    data = shapes[0]
    rank = len(a["kernel"])
    if len(data) != rank + 2:
        raise ShapeError(f"data has shape {data}, expected {rank + 2}-D for a {rank}-D kernel")
    groups = a["num_group"]
    if data[1] % groups or a["num_filter"] % groups:
        raise ShapeError(f"{data[1]} input channels do not split into {groups} groups")
    _expect(shapes[1], (a["num_filter"], data[1] // groups, *a["kernel"]), "weight")
    if not a["no_bias"]:
        _expect(shapes[2], (a["num_filter"],), "bias")
    stride, pad, dilate = window_geometry(a, rank)
    out = [window_output(data[2 + i], a["kernel"][i], stride[i], pad[i], dilate[i]) for i in range(rank)]
    return [(data[0], a["num_filter"], *out)]


@shape_rule("BatchNorm")
def _batch_norm(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axis = axis_index(node.attrs["axis"], len(data))
    for slot, what in enumerate(("gamma", "beta", "moving_mean", "moving_var"), start=1):
        _expect(shapes[slot], (data[axis],), what)
    extra = [(data[axis],)] * 2 if node.attrs["output_mean_var"] else []
    return [data, *extra]


@shape_rule("LeakyReLU")
def _leaky_relu(node: Node, shapes: list[Shape]) -> list[Shape]:
    if node.attrs["act_type"] == "prelu":
        channels = shapes[0][1] if len(shapes[0]) > 1 else 1
        if shapes[1] not in ((channels,), (1,)):
            raise ShapeError(f"gamma has shape {shapes[1]}, expected ({channels},)")
    return [shapes[0]]


# ops whose output has their (first) input's shape, and same-shape binary ops
ONE_TO_ONE = ("Activation", "Dropout", "_copy", "clip", "SoftmaxActivation", "hard_sigmoid", *UNARY_MATH,
              *(op for op, form in BINARY_FORMS.items() if form.form == "scalar"))
ELEMENTWISE = ("add_n", *(op for op, form in BINARY_FORMS.items() if form.form == "elementwise"))


@shape_rule(*ONE_TO_ONE)
def _same(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [shapes[0]]


@input_rule(*ONE_TO_ONE, *ELEMENTWISE, "BlockGrad", "LeakyReLU", "Cast", "amp_cast", "zeros_like", "ones_like")
def _same_shape_inputs(node: Node, inputs: list, outputs: list) -> list:
    """Operands of a same-shape op share the shape of any operand or output that is known (data only: a
    PReLU slope keeps its own)."""
    known = next((shape for shape in [*inputs, *outputs] if shape is not None), None)
    operands = 1 if node.op == "LeakyReLU" else len(inputs)
    return [known] * operands


@shape_rule("softmax")
def _softmax(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axis_index(node.attrs["axis"], len(data))
    use_length = bool(node.attrs["use_length"])  # None (unset) is False
    if len(shapes) != 1 + use_length:
        raise ShapeError(f"use_length={use_length} takes {1 + use_length} inputs, not {len(shapes)}")
    if use_length:
        _expect(shapes[1], _softmax_length_shape(data, node.attrs["axis"]), "length")
    return [data]


def _softmax_length_shape(data: Shape, axis: int) -> Shape:
    """The shape of softmax's ``length`` input: one length per row along ``axis`` (MXNet takes -1 or an axis
    from 0; 1-D data has one length)."""
    if axis < -1 or axis >= len(data):
        raise ShapeError(f"axis {axis} with use_length: MXNet takes -1 or 0..{len(data) - 1}")
    axis %= len(data)
    return tuple(d for i, d in enumerate(data) if i != axis) or (1,)


@shape_rule("SoftmaxOutput")
def _softmax_output(node: Node, shapes: list[Shape]) -> list[Shape]:
    if node.attrs["multi_output"] and len(shapes[0]) < 2:
        raise ShapeError(f"multi_output takes a softmax over axis 1: data of shape {shapes[0]} has none")
    return [shapes[0]]


@shape_rule("Pooling")
def _pooling(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    data = shapes[0]
    if not 3 <= len(data) <= 5:
        raise ShapeError(f"data has shape {data}, expected 3-D to 5-D")
    if a["layout"] and len(a["layout"]) != len(data):
        raise ShapeError(f"layout {a['layout']} does not fit {len(data)}-D data")
    if a["pool_type"] == "lp" and a["p_value"] not in LP_P_VALUES:
        raise ShapeError(f"lp pooling needs p_value 1, 2 or 3, not {a['p_value']}")
    first = channels_first(data, a["layout"])
    out = (*first[:2], *(count for *_, count in pooling_windows(a, first)))
    return [channels_last(out) if is_channels_last(a["layout"]) else out]


LP_P_VALUES = (1, 2, 3)  # the p of lp pooling MXNet runs


def is_channels_last(layout: str | None) -> bool:
    """Whether an op's ``layout`` (NWC, NHWC, NDHWC) puts channels last; unset means channels first."""
    return bool(layout) and layout.endswith("C")


def channels_first(shape: Shape, layout: str | None) -> Shape:
    """``shape`` in the channel-first order (NCW, NCHW, NCDHW) the window arithmetic is written in."""
    return (shape[0], shape[-1], *shape[1:-1]) if is_channels_last(layout) else tuple(shape)


def channels_last(shape: Shape) -> Shape:
    return (shape[0], *shape[2:], shape[1])


def pooling_params(attrs: dict, rank: int) -> tuple[list[int], list[int], list[int]]:
    """Kernel, stride and pad of a non-global Pooling per spatial axis (MXNet reads the first ``rank`` entries)."""
    if len(attrs["kernel"]) != rank:
        raise ShapeError(f"kernel {attrs['kernel']} does not fit {rank}-D pooling")
    stride, pad = (list(attrs[key][:rank]) if attrs[key] else [default] * rank
                   for key, default in (("stride", 1), ("pad", 0)))
    if len(stride) != rank or len(pad) != rank:
        raise ShapeError(f"stride {attrs['stride']} and pad {attrs['pad']} do not fit {rank}-D pooling")
    if min(stride) < 1 or min(attrs["kernel"]) < 1:
        raise ShapeError(f"kernel {attrs['kernel']} and stride {attrs['stride']} must be at least 1")
    return list(attrs["kernel"]), stride, pad


def pooling_windows(attrs: dict, data: Shape) -> list[tuple[int, int, int, int, int]]:
    """MXNet's pooling windows on channel-first ``data``: per spatial axis ``(size, kernel, stride, pad, count)``.

    Window ``i`` starts at ``i * stride - pad`` and is clipped to the data (max, sum, lp) or, for the divisor
    of avg, to the padded extent ``size + pad``. ``valid`` keeps windows inside the padded data, ``full``
    adds a last one that may overhang, ``same`` (1-D only, no padding) has ``ceil(size / stride)`` windows.
    """
    sizes = data[2:]
    convention = attrs["pooling_convention"]
    if convention == "same" and len(sizes) != 1:
        raise ShapeError("MXNet runs pooling_convention same only on 1-D data")
    if attrs["global_pool"]:
        return [(size, size, 1, 0, 1) for size in sizes]
    kernel, stride, pad = pooling_params(attrs, len(sizes))
    if convention == "same" and any(pad):
        raise ShapeError("pooling_convention same takes no padding")
    windows = []
    for size, k, s, p in zip(sizes, kernel, stride, pad):
        if k > size + 2 * p:
            raise ShapeError(f"kernel {k} exceeds the input size {size} padded by {p}")
        count = math.ceil(size / s) if convention == "same" else window_output(size, k, s, p,
                                                                                ceil=convention == "full")
        windows.append((size, k, s, p, count))
    return windows


@shape_rule("FullyConnected")
def _fully_connected(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    data = shapes[0]
    features = math.prod(data[1:]) if a["flatten"] else data[-1]
    _expect(shapes[1], (a["num_hidden"], features), "weight")
    if not a["no_bias"]:
        _expect(shapes[2], (a["num_hidden"],), "bias")
    return [(data[0], a["num_hidden"]) if a["flatten"] else (*data[:-1], a["num_hidden"])]


@input_rule("FullyConnected")
def _fully_connected_data(node: Node, inputs: list, outputs: list) -> list:
    """The data of a FullyConnected from its output and weight (a 2-D data when flattening)."""
    if inputs[0] is not None or inputs[1] is None or outputs[0] is None:
        return [None]
    return [(outputs[0][0], inputs[1][1]) if node.attrs["flatten"] else (*outputs[0][:-1], inputs[1][1])]


def reduced_axes(attrs: dict, rank: int) -> tuple[int, ...]:
    """The axes a sum/mean/max/... reduces, as MXNet reads ``axis`` and ``exclude`` (None or (): all)."""
    if not attrs["axis"]:
        return tuple(range(rank))
    axes = sorted(axis_index(axis, rank) for axis in attrs["axis"])
    if len(set(axes)) != len(axes):
        raise ShapeError(f"axis {attrs['axis']} has duplicates")
    return tuple(i for i in range(rank) if i not in axes) if attrs.get("exclude") else tuple(axes)


def reduced_shape(shape: Shape, axes: tuple[int, ...], keepdims: bool) -> Shape:
    """The output of reducing ``axes``: size 1 there with ``keepdims``, else dropped (MXNet keeps one axis)."""
    if keepdims:
        return tuple(1 if i in axes else size for i, size in enumerate(shape))
    return tuple(size for i, size in enumerate(shape) if i not in axes) or (1,)


@shape_rule(*REDUCTIONS, "norm")
def _reduction(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    return [reduced_shape(data, reduced_axes(node.attrs, len(data)), node.attrs["keepdims"])]


@shape_rule("argmax", "argmin")
def _arg_reduction(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, axis = shapes[0], node.attrs["axis"]
    axes = tuple(range(len(data))) if axis is None else (axis_index(axis, len(data)),)
    return [reduced_shape(data, axes, node.attrs["keepdims"])]


@shape_rule("Flatten")
def _flatten(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [(shapes[0][0], math.prod(shapes[0][1:]))]


@shape_rule(*ELEMENTWISE)
def _elementwise(node: Node, shapes: list[Shape]) -> list[Shape]:
    if any(shape != shapes[0] for shape in shapes):
        raise ShapeError(f"operands have shapes {' and '.join(map(str, shapes))}")
    return [shapes[0]]


@shape_rule(*(op for op, form in BINARY_FORMS.items() if form.form == "broadcast"))
def _broadcast(node: Node, shapes: list[Shape]) -> list[Shape]:
    left, right = shapes
    rank = max(len(left), len(right))
    left, right = (1,) * (rank - len(left)) + left, (1,) * (rank - len(right)) + right
    out = []
    for a, b in zip(left, right):
        if a != b and 1 not in (a, b):
            raise ShapeError(f"operands of shapes {shapes[0]} and {shapes[1]} do not broadcast")
        out.append(max(a, b) if 0 not in (a, b) else 0)
    return [tuple(out)]


@shape_rule("Concat", "_rnn_param_concat")
def _concat(node: Node, shapes: list[Shape]) -> list[Shape]:
    axis = axis_index(node.attrs["dim"], len(shapes[0]), "dim")
    for shape in shapes[1:]:
        if len(shape) != len(shapes[0]) or any(s != t for i, (s, t) in enumerate(zip(shape, shapes[0]))
                                               if i != axis):
            raise ShapeError(f"inputs of shapes {shapes} do not concatenate on axis {axis}")
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return [tuple(out)]


@shape_rule("Reshape")
def _reshape(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [reshape_target(shapes[0], node.attrs)]


ReshapeTerm = int | tuple[tuple[int, ...], int]


def reshape_terms(rank: int, attrs: dict) -> list[ReshapeTerm]:
    """MXNet's Reshape ``shape`` codes (``attrs["shape"]`` given) as one term per output axis, for targets that
    compute the target from the input's live shape: an int is kept (-1: inferred), ``(axes, divisor)`` is the
    product of those input axes' sizes floor-divided by ``divisor`` (0 copies, -2 copies the rest, -3 merges two
    axes, -4 splits one)."""
    spec, source = list(attrs["shape"]), list(range(rank))
    if attrs["reverse"]:
        spec, source = spec[::-1], source[::-1]
    out: list[ReshapeTerm] = []
    src = i = 0
    while i < len(spec):
        code = spec[i]
        if code == -2:
            out.extend(((axis,), 1) for axis in source[src:])
            src = len(source)
        elif code == -3:
            out.append(((source[src], source[src + 1]), 1))
            src += 2
        elif code == -4:
            first, second = spec[i + 1], spec[i + 2]
            out += [((source[src],), second) if first == -1 else first,
                    ((source[src],), first) if second == -1 else second]
            src, i = src + 1, i + 2
        else:  # 0 copies, -1 is inferred, a positive size is kept
            out.append(((source[src],), 1) if code == 0 else code)
            src += 1
        i += 1
    return out[::-1] if attrs["reverse"] else out


def reshape_target(data: Shape, attrs: dict) -> Shape:
    """The output shape of MXNet's Reshape, special codes 0, -1, -2, -3, -4 and ``reverse`` included."""
    if not attrs["shape"] and attrs["target_shape"]:  # deprecated form: 0 means "infer"
        target = [d if d else -1 for d in attrs["target_shape"]]
        if attrs["keep_highest"]:
            target = [data[0], *target[1:]]
        return _resolve(data, target, tuple(target))
    source, out, inferred = _reshape_codes(data, attrs)
    out = _resolve(tuple(source), out, attrs["shape"], inferred)
    return tuple(reversed(out)) if attrs["reverse"] else out


def _reshape_codes(data: Shape, attrs: dict) -> tuple[list[int], list[int], int | None]:
    """The data's sizes and the codes' expansion (``-1`` still to infer) in MXNet's reading order (reversed
    with ``reverse``), and the position of the ``-1`` among the codes."""
    spec, source = list(attrs["shape"]), list(data)
    if attrs["reverse"]:
        spec, source = spec[::-1], source[::-1]
    return source, *_expand_codes(source, spec, attrs["shape"])


def reshape_moves_inferred(data: Shape, attrs: dict) -> bool:
    """Whether MXNet writes the size inferred for ``-1`` at another axis than the -1's own: it indexes its
    output by the -1's position among the codes, which a -2 or -4 before it shifts."""
    if not attrs["shape"]:
        return False
    _, out, inferred = _reshape_codes(data, attrs)
    return inferred is not None and out.index(-1) != inferred


def _expand_codes(source: list[int], spec: list, original: tuple) -> tuple[list[int], int | None]:
    out: list[int] = []
    inferred = None
    src = 0
    i = 0
    while i < len(spec):
        code = spec[i]
        if code == 0:
            out.append(_dim(source, src, original))
            src += 1
        elif code == -1:
            out.append(-1)
            inferred = i
            src += 1
        elif code == -2:
            out.extend(source[src:])
            src = len(source)
        elif code == -3:
            out.append(_dim(source, src, original) * _dim(source, src + 1, original))
            src += 2
        elif code == -4:
            if i + 2 >= len(spec):
                raise ShapeError(f"shape {original}: -4 must be followed by two sizes")
            whole = _dim(source, src, original)
            first, second = spec[i + 1], spec[i + 2]
            if first == -1:
                first = whole // second if second else 0
            if second == -1:
                second = whole // first if first else 0
            if first * second != whole:
                raise ShapeError(f"shape {original}: cannot split {whole} into {spec[i + 1]} x {spec[i + 2]}")
            out.extend((first, second))
            src += 1
            i += 2
        elif code is not None and code > 0:
            out.append(code)
            src += 1
        else:
            raise ShapeError(f"shape {original}: invalid code {code}")
        i += 1
    return out, inferred


def _dim(source: list[int], index: int, original: tuple) -> int:
    if index >= len(source):
        raise ShapeError(f"shape {original} refers past the input's {len(source)} dimensions")
    return source[index]


def _resolve(data: Shape, out: list[int], original: tuple, inferred: int | None = None) -> Shape:
    """``out`` with its -1 inferred as MXNet does: the -1 counts as 1 and the size, rounded down, goes to axis
    ``inferred`` (the -1's own by default, see ``reshape_moves_inferred``). MXNet checks no sizes: an output
    with fewer elements holds the data's leading ones (``reshape_reads_leading``)."""
    total = math.prod(data)
    if out.count(-1) > 1:
        raise ShapeError(f"shape {original} has more than one -1")
    if -1 in out:
        at = out.index(-1)
        out[at] = 1
        inferred = at if inferred is None else inferred
        if inferred >= len(out):
            raise ShapeError(f"shape {original}: MXNet writes the inferred size past its output's axes")
        known = math.prod(out)
        if known == 0:
            raise ShapeError(f"cannot reshape {data} to {original}")
        out[inferred] = total // known
    return tuple(out)


def reshape_reads_leading(data: Shape, out: Shape) -> bool:
    """Whether a Reshape output takes only the data's leading elements (MXNet checks no sizes); one with more
    elements than the data reads past it in MXNet (undefined values): the emitters refuse it."""
    if math.prod(out) > math.prod(data):
        raise NotExpressible(f"reshape of {data} to {out} reads past the data in MXNet")
    return math.prod(out) < math.prod(data)


@shape_rule("SliceChannel")
def _slice_channel(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    data = shapes[0]
    axis = axis_index(a["axis"], len(data))
    parts = a["num_outputs"]
    if parts <= 0 or data[axis] % parts:
        raise ShapeError(f"axis {axis} of size {data[axis]} does not split into {parts} parts")
    piece = list(data)
    piece[axis] //= parts
    if a["squeeze_axis"]:
        if piece[axis] != 1:
            raise ShapeError("squeeze_axis needs the axis size to equal num_outputs")
        del piece[axis]
    return [tuple(piece)] * parts


@input_rule("SliceChannel")
def _slice_channel_data(node: Node, inputs: list, outputs: list) -> list:
    """The data of a split from any of its equal parts."""
    piece = next((shape for shape in outputs if shape is not None), None)
    if piece is None:
        return [None]
    a = node.attrs
    data = list(piece)
    if a["squeeze_axis"]:
        data.insert(axis_index(a["axis"], len(piece) + 1), a["num_outputs"])
    else:
        axis = axis_index(a["axis"], len(piece))
        data[axis] *= a["num_outputs"]
    return [tuple(data)]


@shape_rule("UpSampling")
def _upsampling(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    if a["sample_type"] != "nearest":
        raise ShapeError("only nearest upsampling is supported")
    if a["num_args"] != len(shapes):
        raise ShapeError(f"num_args={a['num_args']} with {len(shapes)} inputs")
    if any(len(shape) != 4 for shape in shapes):
        raise ShapeError(f"inputs of shapes {shapes}: UpSampling takes 4-D NCHW data")
    first = shapes[0]
    if a["multi_input_mode"] == "sum" and any(shape[1] != first[1] for shape in shapes):
        raise ShapeError(f"multi_input_mode sum needs the same channels in every input, not {shapes}")
    height, width = first[2] * a["scale"], first[3] * a["scale"]
    for shape in shapes[1:]:
        if height % shape[2] or width % shape[3]:
            raise ShapeError(f"input {shape} does not scale to {height}x{width}")
    if a["multi_input_mode"] == "sum" and len(shapes) > 1:
        return [(first[0], first[1], height, width)]
    return [(first[0], sum(s[1] for s in shapes), height, width)]


def upsampling_factors(shapes: list[Shape], out: Shape) -> list[tuple[int, int]]:
    """Nearest UpSampling's integer height and width factors for each input: each is scaled to the output's
    size."""
    return [(out[2] // shape[2], out[3] // shape[3]) for shape in shapes]


@shape_rule("Crop")
def _crop(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if node.attrs["num_args"] != len(shapes) or len(shapes) > 2:
        raise ShapeError(f"num_args={node.attrs['num_args']} with {len(shapes)} inputs: Crop takes the data and "
                         "h_w, or the data and a reference input")
    if any(len(shape) != 4 for shape in shapes):
        raise ShapeError(f"inputs of shapes {shapes}: Crop takes 4-D NCHW data")
    if len(shapes) == 1 and len(node.attrs["h_w"]) != 2:
        raise ShapeError(f"h_w {node.attrs['h_w']} needs a height and a width")
    if not node.attrs["center_crop"] and len(node.attrs["offset"]) != 2:
        raise ShapeError(f"offset {node.attrs['offset']} needs a top and a left")
    height, width = shapes[1][2:4] if len(shapes) > 1 else node.attrs["h_w"]
    top, left = crop_offsets(node, data, (height, width))
    if top + height > data[2] or left + width > data[3] or min(height, width) <= 0 or min(top, left) < 0:
        raise ShapeError(f"crop of {height}x{width} at ({top}, {left}) does not fit input {data}")
    return [(data[0], data[1], height, width)]


def crop_offsets(node: Node, data: Shape, size: tuple[int, int]) -> tuple[int, int]:
    """Top-left corner of MXNet's Crop: centred when ``center_crop``, else ``offset``."""
    if node.attrs["center_crop"]:
        return (data[2] - size[0]) // 2, (data[3] - size[1]) // 2
    return tuple(node.attrs["offset"])


@shape_rule("transpose")
def _transpose(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axes = node.attrs["axes"] or tuple(reversed(range(len(data))))
    if sorted(axes) != list(range(len(data))):  # MXNet 1.9.1 indexes the shape with each axis: none negative
        raise ShapeError(f"axes {axes} are not a permutation of 0..{len(data) - 1}")
    return [tuple(data[a] for a in axes)]


def l2_normalization_axes(mode: str, rank: int) -> list[int]:
    """The axes L2Normalization sums squares over: all but the batch axis (``instance``; none for 1-D data,
    where each value is divided by its own norm), the channel axis, or the spatial axes (3-D data or more)."""
    if mode != "instance" and rank < 3:
        raise ShapeError(f"mode {mode} needs at least 3-D data, got {rank}-D")
    return {"instance": list(range(1, rank)), "channel": [1], "spatial": list(range(2, rank))}[mode]


@shape_rule("L2Normalization")
def _l2_normalization(node: Node, shapes: list[Shape]) -> list[Shape]:
    l2_normalization_axes(node.attrs["mode"], len(shapes[0]))
    return [shapes[0]]


@shape_rule(*(head for head in LOSS_HEADS if head != "SoftmaxOutput"))
def _loss_head(node: Node, shapes: list[Shape]) -> list[Shape]:
    """A loss head's forward keeps its data's shape (before ``inference_forward`` rewrites it)."""
    return [shapes[0]]


# --- padding, resizing, adaptive/ROI pooling and sequence ops (family ``resize``) -----------------------------------


def pad_widths(attrs: dict, shape: Shape) -> list[tuple[int, int]]:
    """Pad's ``pad_width`` as (before, after) per axis: MXNet pads 4-D and 5-D data on the spatial axes only,
    and reflects only by less than the size of the axis."""
    widths = attrs["pad_width"]
    if len(shape) not in (4, 5):
        raise ShapeError(f"data has shape {shape}: MXNet's Pad takes 4-D or 5-D data")
    if len(widths) != 2 * len(shape):
        raise ShapeError(f"pad_width {widths} does not have two values for each of the {len(shape)} axes")
    pairs = list(zip(widths[::2], widths[1::2]))
    if any(pairs[0] + pairs[1]):
        raise ShapeError(f"pad_width {widths}: MXNet pads neither the batch nor the channel axis")
    if attrs["mode"] == "reflect" and any(max(pair) >= size for pair, size in zip(pairs, shape)):
        raise ShapeError(f"pad_width {widths}: reflect pads by less than the size of each axis {shape}")
    return pairs


def pad_constant(attrs: dict) -> float:
    """Pad's ``constant_value`` (a double) as MXNet writes it into float32 data: past float32's range, infinite."""
    with np.errstate(over="ignore"):
        return float(np.float32(attrs["constant_value"]))


def negative_pad_width(node: Node) -> str | None:
    """The reason a Pad with a negative width (MXNet crops there) is not converted, or None."""
    return f"negative pad_width {node.attrs['pad_width']}" if min(node.attrs["pad_width"]) < 0 else None


@shape_rule("Pad")
def _pad(node: Node, shapes: list[Shape]) -> list[Shape]:
    pairs = pad_widths(node.attrs, shapes[0])
    return [tuple(size + before + after for size, (before, after) in zip(shapes[0], pairs))]


def adaptive_output_size(attrs: dict) -> tuple[int, int]:
    """AdaptiveAvgPooling2D's output height and width: one value for both, two, or 1 x 1 for any other count."""
    size = attrs["output_size"]
    return (size[0], size[0]) if len(size) == 1 else tuple(size) if len(size) == 2 else (1, 1)


def adaptive_bins(size: int, count: int) -> list[tuple[int, int]]:
    """MXNet's adaptive pooling bins over ``size`` positions: bin i spans floor(i * size / count) to
    ceil((i + 1) * size / count), so bins overlap where ``count`` does not divide ``size``."""
    return [(i * size // count, -(-(i + 1) * size // count)) for i in range(count)]


@shape_rule("_contrib_AdaptiveAvgPooling2D")
def _adaptive_avg_pooling(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if len(data) != 4:
        raise ShapeError(f"data has shape {data}: AdaptiveAvgPooling2D takes 4-D NCHW data")
    return [(*data[:2], *adaptive_output_size(node.attrs))]


def _int16(value: int) -> int:
    """``value`` stored in MXNet's int16 output sizes of BilinearResize2D (wrapping as C++ does)."""
    return (value + 2**15) % 2**16 - 2**15


def _scaled(scale: float | None, size: int) -> int:
    """``int(scale * size)`` in float32, as MXNet computes a scaled output size (a product past int32, infinite
    included, converts to int32's lowest value on x86); a missing scale is refused (MXNet fails on it: 'bad
    optional access')."""
    if scale is None:
        raise ShapeError("the mode needs both scales, scale_height and scale_width")
    with np.errstate(over="ignore", invalid="ignore"):
        product = np.float32(scale) * np.float32(size)
    return int(product) if abs(product) < 2**31 else -2**31


def resize_output_size(attrs: dict, data: Shape, like: Shape | None) -> tuple[int, int]:
    """BilinearResize2D's output height and width for ``mode``. MXNet reads ``scale_height`` to decide both
    sizes of mode ``size`` (with it, both scales are needed; without it, height and width are used)."""
    mode, height, width = attrs["mode"], data[2], data[3]
    if mode == "size":
        scaled = attrs["scale_height"] is not None
        sizes = ((_scaled(attrs["scale_height"], height), _scaled(attrs["scale_width"], width)) if scaled
                 else (attrs["height"], attrs["width"]))
    elif mode == "odd_scale":
        sizes = tuple(_scaled(scale, size) if size % 2 == 0 else _int16(_scaled(scale, size - 1)) + 1
                      for scale, size in ((attrs["scale_height"], height), (attrs["scale_width"], width)))
    elif mode == "like":
        sizes = like[2:4]
    else:
        parity = 0 if mode.startswith("to_even") else 1
        step = -1 if mode.endswith("down") else 1
        sizes = tuple(size if size % 2 == parity else size + step for size in (height, width))
    return _int16(sizes[0]), _int16(sizes[1])


@shape_rule("_contrib_BilinearResize2D")
def _bilinear_resize(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, like = shapes[0], shapes[1] if len(shapes) > 1 else None
    expected = 2 if node.attrs["mode"] == "like" else 1
    if len(shapes) != expected:
        raise ShapeError(f"mode {node.attrs['mode']} takes {expected} inputs, not {len(shapes)}")
    if len(data) != 4 or like is not None and len(like) < 4:
        raise ShapeError(f"inputs of shapes {shapes}: BilinearResize2D takes 4-D NCHW data")
    return [(*data[:2], *resize_output_size(node.attrs, data, like))]


def bilinear_upsampling_window(scale: int) -> tuple[int, int, int]:
    """Kernel, stride and pad of the depthwise deconvolution MXNet runs for bilinear UpSampling."""
    return 2 * scale - scale % 2, scale, math.ceil((scale - 1) / 2)


@shape_rule("UpSampling")
def _upsampling_any(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Nearest as before; bilinear takes the data and a (channels, 1, kernel, kernel) weight, whatever
    ``num_args`` says, and ``num_filter`` equal to the channels (its deconvolution's groups)."""
    if node.attrs["sample_type"] == "nearest":
        return _upsampling(node, shapes)
    if len(shapes) != 2 or len(shapes[0]) != 4:
        raise ShapeError(f"inputs of shapes {shapes}: bilinear UpSampling takes 4-D data and a weight")
    data, scale = shapes[0], node.attrs["scale"]
    kernel = bilinear_upsampling_window(scale)[0]
    _expect(shapes[1], (data[1], 1, kernel, kernel), "weight")
    if node.attrs["num_filter"] != data[1]:
        raise ShapeError(f"num_filter {node.attrs['num_filter']} differs from the {data[1]} channels")
    return [(*data[:2], data[2] * scale, data[3] * scale)]


@shape_rule("ROIPooling")
def _roi_pooling(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, rois = shapes
    if len(data) != 4 or len(rois) != 2 or rois[1] != 5:
        raise ShapeError(f"inputs of shapes {shapes}: ROIPooling takes 4-D data and (rois, 5) boxes")
    if len(node.attrs["pooled_size"]) != 2:
        raise ShapeError(f"pooled_size {node.attrs['pooled_size']} needs a height and a width")
    return [(rois[0], data[1], *node.attrs["pooled_size"])]


def sequence_axes(node: Node, shapes: list[Shape]) -> tuple[int, int]:
    """The sequence and batch axes of a Sequence* op, checked as MXNet does (axis 0 or 1, Reverse 0 only;
    2-D data or more; a (batch,) length input exactly when ``use_sequence_length``)."""
    axis, data = node.attrs["axis"], shapes[0]
    allowed = (0,) if node.op == "SequenceReverse" else (0, 1)
    if axis not in allowed:
        raise ShapeError(f"axis {axis}: MXNet's {node.op} takes axis {' or '.join(map(str, allowed))}")
    if len(data) < 2:
        raise ShapeError(f"data has shape {data}: {node.op} takes 2-D data or more")
    use_length = node.attrs["use_sequence_length"]
    if len(shapes) != 1 + use_length:
        raise ShapeError(f"use_sequence_length={use_length} takes {1 + use_length} inputs, not {len(shapes)}")
    if use_length:
        _expect(shapes[1], (data[1 - axis],), "sequence_length")
    return axis, 1 - axis


@shape_rule("SequenceMask", "SequenceReverse")
def _sequence_same(node: Node, shapes: list[Shape]) -> list[Shape]:
    sequence_axes(node, shapes)
    return [shapes[0]]


@shape_rule("SequenceLast")
def _sequence_last(node: Node, shapes: list[Shape]) -> list[Shape]:
    axis, _ = sequence_axes(node, shapes)
    return [tuple(size for i, size in enumerate(shapes[0]) if i != axis)]


# --- shape and layout ops (prefix shape_): MXNet's attribute normalisation, read by both emitters -------------------

def _axes_within(axes, rank: int, what: str = "axis") -> list[int]:
    """``axes`` as indices into ``rank`` dimensions, without duplicates."""
    indices = [axis_index(axis, rank, what) for axis in axes]
    if len(set(indices)) != len(indices):
        raise ShapeError(f"{what} {tuple(axes)} has duplicates")
    return indices


def expand_dims_axis(axis: int, rank: int) -> int:
    """Where ``expand_dims`` inserts the new axis: -rank-1..rank, negative counting from the end."""
    return axis_index(axis, rank + 1)


@shape_rule("expand_dims")
def _expand_dims(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = list(shapes[0])
    data.insert(expand_dims_axis(node.attrs["axis"], len(data)), 1)
    return [tuple(data)]


@input_rule("expand_dims")
def _expand_dims_data(node: Node, inputs: list, outputs: list) -> list:
    """The data of an expand_dims: its output without the inserted axis."""
    if outputs[0] is None:
        return [None]
    axis = expand_dims_axis(node.attrs["axis"], len(outputs[0]) - 1)
    return [tuple(size for i, size in enumerate(outputs[0]) if i != axis)]


def squeezed_axes(axis: tuple | None, data: Shape) -> list[int]:
    """The axes ``squeeze`` drops: the listed ones (each of size 1) or, for None, every axis of size 1."""
    if axis is None:
        return [i for i, size in enumerate(data) if size == 1]
    axes = _axes_within(axis, len(data))
    if any(data[i] != 1 for i in axes):
        raise ShapeError(f"axis {axis}: squeeze takes axes of size 1 only, data has shape {data}")
    return sorted(axes)


@shape_rule("squeeze")
def _squeeze(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    dropped = squeezed_axes(node.attrs["axis"], data)
    return [tuple(size for i, size in enumerate(data) if i not in dropped) or (1,)]  # MXNet keeps one axis


def slice_ranges(data: Shape, begin: tuple, end: tuple, step: tuple | None) -> list[tuple[int, int, int]]:
    """MXNet's ``slice``: per axis of ``data`` ``(start, stop, step)`` as Python slices take them (a stop of
    None runs to the start of a negative step). None entries take the defaults of the step's direction; begin
    and end count from the end when negative and are clipped to the axis."""
    if len(begin) != len(end) or len(begin) > len(data) or step and len(step) != len(begin):
        raise ShapeError(f"begin {begin}, end {end} and step {step} do not fit {len(data)}-D data")
    ranges = []
    for axis, size in enumerate(data):
        if axis >= len(begin):
            ranges.append((0, size, 1))
            continue
        s = step[axis] if step and step[axis] is not None else 1
        if s == 0:
            raise ShapeError(f"step {step} has a zero")
        b = begin[axis] if begin[axis] is not None else (size - 1 if s < 0 else 0)
        e = end[axis] if end[axis] is not None else (-1 if s < 0 else size)
        b += size if b < 0 else 0
        e += size if e < 0 and end[axis] is not None else 0
        b = 0 if b < 0 and s > 0 else size - 1 if b > size - 1 and s < 0 else b
        if not 0 <= b < size:  # MXNet's output is empty
            ranges.append((0, 0, 1))
            continue
        e = min(max(e, -1), size)
        ranges.append((b, e if e >= 0 else None if s < 0 else 0, s))
    return ranges


def slice_length(size: int, start: int, stop: int | None, step: int) -> int:
    return len(range(size)[start:stop:step])


@shape_rule("slice")
def _slice(node: Node, shapes: list[Shape]) -> list[Shape]:
    a, data = node.attrs, shapes[0]
    ranges = slice_ranges(data, a["begin"], a["end"], a["step"])
    return [tuple(slice_length(size, *r) for size, r in zip(data, ranges))]


def slice_axis_range(attrs: dict, data: Shape) -> tuple[int, int, int]:
    """``slice_axis``: (axis, begin, end) with negative values counted from the end, end None the axis size."""
    axis = axis_index(attrs["axis"], len(data))
    size = data[axis]
    begin = attrs["begin"] + size if attrs["begin"] < 0 else attrs["begin"]
    end = size if attrs["end"] is None else attrs["end"] + size if attrs["end"] < 0 else attrs["end"]
    if not 0 <= begin < end <= size:
        raise ShapeError(f"begin {attrs['begin']} and end {attrs['end']} do not fit an axis of size {size}")
    return axis, begin, end


def whole_axes_but(data: Shape, cuts: dict[int, tuple[int, int]]) -> list[tuple[int, int, int]]:
    """``slice_ranges``-style (start, stop, step) per axis: ``cuts`` maps an axis to its (start, stop)."""
    return [(*cuts[axis], 1) if axis in cuts else (0, size, 1) for axis, size in enumerate(data)]


@shape_rule("slice_axis")
def _slice_axis(node: Node, shapes: list[Shape]) -> list[Shape]:
    axis, begin, end = slice_axis_range(node.attrs, shapes[0])
    out = list(shapes[0])
    out[axis] = end - begin
    return [tuple(out)]


def slice_like_axes(axes: tuple, data: Shape, like: Shape) -> list[int]:
    """The axes ``slice_like`` cuts to the second input's size (every axis when ``axes`` is empty)."""
    if not axes:
        if len(data) != len(like):
            raise ShapeError(f"inputs of shapes {data} and {like}: slice_like on every axis needs equal ranks")
        indices = list(range(len(data)))
    else:
        indices = [axis_index(axis, len(data)) for axis in axes]
        if any(i >= len(like) for i in indices):
            raise ShapeError(f"axes {axes} exceed the second input's shape {like}")
    if any(like[i] > data[i] for i in indices):
        raise ShapeError(f"shape {like} exceeds the data's {data} on axes {axes}")
    return indices


@shape_rule("slice_like")
def _slice_like(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, like = shapes
    out = list(data)
    for i in slice_like_axes(node.attrs["axes"], data, like):
        out[i] = like[i]
    return [tuple(out)]


def _reshape_like_range(begin: int | None, end: int | None, rank: int, side: str) -> tuple[int, int]:
    start = 0 if begin is None else begin + rank if begin < 0 else begin
    stop = rank if end is None else end + rank if end < 0 else end
    if not 0 <= start < stop <= rank:
        raise ShapeError(f"{side}_begin {begin} and {side}_end {end} do not fit {rank}-D input")
    return start, stop


def reshape_like_ranges(attrs: dict, lhs: Shape, rhs: Shape) -> tuple[tuple[int, int], tuple[int, int]]:
    """``reshape_like``'s (begin, end) of the lhs axes replaced and of the rhs axes whose sizes they take."""
    return (_reshape_like_range(attrs["lhs_begin"], attrs["lhs_end"], len(lhs), "lhs"),
            _reshape_like_range(attrs["rhs_begin"], attrs["rhs_end"], len(rhs), "rhs"))


@shape_rule("reshape_like")
def _reshape_like(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The lhs axes lhs_begin..lhs_end take the sizes of the rhs axes rhs_begin..rhs_end."""
    lhs, rhs = shapes
    (lb, le), (rb, re) = reshape_like_ranges(node.attrs, lhs, rhs)
    out = (*lhs[:lb], *rhs[rb:re], *lhs[le:])
    if math.prod(out) != math.prod(lhs):
        raise ShapeError(f"cannot reshape {lhs} to {out}")
    return [out]


def _broadcast_sizes(data: Shape, target: list[int], what: str) -> Shape:
    """``data`` broadcast to ``target`` of equal rank (only axes of size 1 change)."""
    if any(size != want and size != 1 for size, want in zip(data, target)):
        raise ShapeError(f"data of shape {data} does not broadcast to {tuple(target)} ({what})")
    return tuple(target)


@shape_rule("broadcast_to")
def _broadcast_to(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, shape = shapes[0], node.attrs["shape"]
    if len(shape) != len(data) or any(size is None or size < 0 for size in shape):
        raise ShapeError(f"shape {shape} does not fit {len(data)}-D data")
    return [_broadcast_sizes(data, [size or old for size, old in zip(shape, data)], f"shape {shape}")]


@shape_rule("broadcast_axis")
def _broadcast_axis(node: Node, shapes: list[Shape]) -> list[Shape]:
    a, data = node.attrs, shapes[0]
    if len(a["axis"]) != len(a["size"]) or any(size is None or size < 0 for size in a["size"]):
        raise ShapeError(f"axis {a['axis']} and size {a['size']} do not pair up")
    target = list(data)
    for axis, size in zip(_axes_within(a["axis"], len(data)), a["size"]):
        target[axis] = size
    return [_broadcast_sizes(data, target, f"axis {a['axis']}")]


def broadcast_like_sources(attrs: dict, lhs: Shape, rhs: Shape) -> dict[int, int]:
    """``broadcast_like``'s lhs axes -> the rhs axes whose sizes they take (every axis without ``lhs_axes``)."""
    if attrs["lhs_axes"] is None or attrs["rhs_axes"] is None:
        if len(lhs) != len(rhs):
            raise ShapeError(f"inputs of shapes {lhs} and {rhs}: broadcast_like needs equal ranks")
        return {axis: axis for axis in range(len(lhs))}
    if len(attrs["lhs_axes"]) != len(attrs["rhs_axes"]) or not attrs["lhs_axes"]:
        raise ShapeError(f"lhs_axes {attrs['lhs_axes']} and rhs_axes {attrs['rhs_axes']} do not pair up")
    sources = dict(zip([axis_index(i, len(lhs), "lhs_axes") for i in attrs["lhs_axes"]],
                       [axis_index(i, len(rhs), "rhs_axes") for i in attrs["rhs_axes"]]))
    for to in sources:
        if lhs[to] != 1:
            raise ShapeError(f"lhs axis {to} of size {lhs[to]} cannot broadcast")
    return sources


@shape_rule("broadcast_like")
def _broadcast_like(node: Node, shapes: list[Shape]) -> list[Shape]:
    lhs, rhs = shapes
    target = list(lhs)
    for to, source in broadcast_like_sources(node.attrs, lhs, rhs).items():
        target[to] = rhs[source]
    return [_broadcast_sizes(lhs, target, f"like {rhs}")]


def tile_reps(reps: tuple, rank: int) -> tuple[list[int], list[int]]:
    """``tile``'s data shape prefix and repetitions of one length: the shorter is padded with leading 1s."""
    if any(r is None or r < 0 for r in reps):
        raise ShapeError(f"reps {reps} must be sizes")
    length = max(len(reps), rank)
    return [1] * (length - rank), [1] * (length - len(reps)) + list(reps)


@shape_rule("tile")
def _tile(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    ones, reps = tile_reps(node.attrs["reps"], len(data))
    return [tuple(size * r for size, r in zip((*ones, *data), reps))]


@shape_rule("repeat")
def _repeat(node: Node, shapes: list[Shape]) -> list[Shape]:
    a, data = node.attrs, shapes[0]
    if a["repeats"] < 0:
        raise ShapeError(f"repeats {a['repeats']} must be at least 0")
    if a["repeats"] == 0:  # MXNet returns an empty tensor
        return [(0,)]
    if a["axis"] is None:
        return [(math.prod(data) * a["repeats"],)]
    out = list(data)
    out[axis_index(a["axis"], len(data))] *= a["repeats"]
    return [tuple(out)]


def stack_overrun(node: Node) -> str | None:
    """Why a stack is not converted: MXNet stacks ``num_args`` inputs, reading past the given ones (undefined
    values) where there are fewer; of more it takes the first ``num_args``."""
    if node.attrs["num_args"] <= len(node.inputs):
        return None
    return f"num_args={node.attrs['num_args']} with {len(node.inputs)} inputs (MXNet reads past them)"


@shape_rule("stack")
def _stack(node: Node, shapes: list[Shape]) -> list[Shape]:
    count = node.attrs["num_args"]
    if any(shape != shapes[0] for shape in shapes[:count]):
        raise ShapeError(f"inputs of shapes {shapes[:count]} differ")
    out = list(shapes[0])
    out.insert(expand_dims_axis(node.attrs["axis"], len(out)), count)
    return [tuple(out)]


def split_bounds(attrs: dict, data: Shape) -> tuple[int, list[tuple[int, int]]]:
    """``_split_v2``: the axis and each output's (start, stop) on it; ``sections`` makes the first
    ``size % sections`` parts one longer, ``indices`` start each part (what lies before the first is dropped)."""
    axis = axis_index(attrs["axis"], len(data))
    size = data[axis]
    if attrs["sections"] > 0:
        small, extra = divmod(size, attrs["sections"])
        starts = [i * small + min(i, extra) for i in range(attrs["sections"])]
    elif attrs["indices"] and attrs["indices"][0] == 0:  # MXNet's shape inference refuses another start
        starts = list(attrs["indices"])
    else:
        raise ShapeError(f"sections {attrs['sections']} and indices {attrs['indices']} split nothing")
    bounds = list(zip(starts, starts[1:] + [size]))
    if any(start is None or not 0 <= start <= stop <= size for start, stop in bounds):  # MXNet: empty parts
        raise ShapeError(f"indices {tuple(starts)} do not split an axis of size {size}")
    if attrs["squeeze_axis"] and any(stop - start != 1 for start, stop in bounds):
        raise ShapeError("squeeze_axis needs parts of size 1")
    return axis, bounds


@shape_rule("_split_v2")
def _split_v2(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axis, bounds = split_bounds(node.attrs, data)
    outs = []
    for start, stop in bounds:
        part = [*data[:axis], stop - start, *data[axis + 1:]]
        if node.attrs["squeeze_axis"]:  # 1-D data splits into scalars
            del part[axis]
        outs.append(tuple(part))
    return outs


def swapped_axes(attrs: dict, rank: int) -> list[int]:
    """``SwapAxis``' permutation of ``rank`` axes."""
    perm = list(range(rank))
    first, second = axis_index(attrs["dim1"], rank, "dim1"), axis_index(attrs["dim2"], rank, "dim2")
    perm[first], perm[second] = second, first
    return perm


@shape_rule("SwapAxis")
def _swap_axis(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [tuple(shapes[0][i] for i in swapped_axes(node.attrs, len(shapes[0])))]


def reversed_axes(axis: tuple, rank: int) -> list[int]:
    """The axes ``reverse`` flips: an axis listed twice flips back (MXNet refuses negative axes)."""
    if any(i is None or not 0 <= i < rank for i in axis):
        raise ShapeError(f"axis {axis} is out of range for {rank}-D data")
    return [i for i in range(rank) if axis.count(i) % 2]


@shape_rule("reverse")
def _reverse(node: Node, shapes: list[Shape]) -> list[Shape]:
    reversed_axes(node.attrs["axis"], len(shapes[0]))
    return [shapes[0]]


@shape_rule("depth_to_space", "space_to_depth")
def _depth_space(node: Node, shapes: list[Shape]) -> list[Shape]:
    """NCHW data; depth_to_space moves channel blocks into block x block patches (MXNet's DCR order)."""
    data, block = shapes[0], node.attrs["block_size"]
    if len(data) != 4:
        raise ShapeError(f"data of shape {data}: {node.op} takes 4-D NCHW data")
    n, c, h, w = data
    if node.op == "depth_to_space":
        if c % (block * block):
            raise ShapeError(f"{c} channels do not split into blocks of {block}x{block}")
        return [(n, c // (block * block), h * block, w * block)]
    if h % block or w % block:
        raise ShapeError(f"height {h} and width {w} are not multiples of block_size {block}")
    return [(n, c * block * block, h // block, w // block)]


def cast_overflow_bound(dtype: str) -> float:
    """MXNet's Cast of floats to an integer type converts as C does on x86: values of at least this magnitude,
    and NaN, become its negative (int32's for int8, uint8 and int32, whose low bits narrower types keep)."""
    return 2.0 ** 63 if dtype == "int64" else 2.0 ** 31


def amp_cast_refusal(node: Node) -> str | None:
    """Why an amp_cast is not converted: MXNet's result for bfloat16 and integer types follows its backend (with
    MKLDNN, the CPU default, it rounds to nearest and saturates, copies the float bits for int32 after another op
    or fails; without, it truncates like Cast). None for float16, float32 and float64."""
    dtype = node.attrs["dtype"]
    if node.op != "amp_cast" or dtype in ("float16", "float32", "float64"):
        return None
    return f"amp_cast to {dtype} (MXNet's result depends on its MKLDNN backend)"


@shape_rule("Cast", "amp_cast", "BlockGrad", "_contrib_div_sqrt_dim")
def _same_shape(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [shapes[0]]


# --- indexing, creation and sorting (prefix index_) -----------------------------------------------------------------

@shape_rule("take")
def _take(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, indices = shapes
    axis = axis_index(node.attrs["axis"], len(data))
    return [(*data[:axis], *indices, *data[axis + 1:])]


def pick_axis(attrs: dict, rank: int) -> int:
    """pick's axis as an index; MXNet 1.9.1 refuses ``axis=None``."""
    if attrs["axis"] is None:
        raise ShapeError("pick needs an axis (MXNet does not support axis=None)")
    return axis_index(attrs["axis"], rank)


@shape_rule("pick")
def _pick(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, index = shapes
    axis = pick_axis(node.attrs, len(data))
    kept = (*data[:axis], 1, *data[axis + 1:])
    dropped = tuple(size for i, size in enumerate(data) if i != axis) or (1,)
    if index not in (kept, dropped):
        raise ShapeError(f"index has shape {index}, expected {dropped}")
    return [kept if node.attrs["keepdims"] else dropped]


@shape_rule("one_hot")
def _one_hot(node: Node, shapes: list[Shape]) -> list[Shape]:
    fill_values(node.attrs, ("on_value", "off_value"))
    return [refuse_empty((*shapes[0], node.attrs["depth"]), "depth 0")]


@shape_rule("gather_nd")
def _gather_nd(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, indices = shapes
    if len(indices) < 2 or indices[0] > len(data):
        raise ShapeError(f"indices of shape {indices} do not index {len(data)}-D data (M x ..., M <= {len(data)})")
    return [(*indices[1:], *data[indices[0]:])]


@shape_rule("where")
def _where(node: Node, shapes: list[Shape]) -> list[Shape]:
    condition, x, y = shapes
    if x != y or condition != x and condition != (x[0],):
        raise ShapeError(f"condition {condition}, x {x} and y {y}: x and y need one shape, the condition that "
                         "shape or the length of their first axis")
    return [x]


@input_rule("where")
def _where_inputs(node: Node, inputs: list, outputs: list) -> list:
    """x and y share the shape of whichever of them or the output is known; as in MXNet, the condition fixes
    neither (``where(mask, zeros, zeros)`` takes its size from its reader)."""
    known = next((shape for shape in [*inputs[1:], *outputs] if shape is not None), None)
    return [None, known, known]


def sort_axis(attrs: dict, shape: Shape) -> int | None:
    """The axis topk/sort/argsort work along, or None: along the flattened data."""
    return None if attrs["axis"] is None else axis_index(attrs["axis"], len(shape))


def sorted_shape(attrs: dict, shape: Shape) -> Shape:
    """The data's shape as a sort sees it: flattened without an axis."""
    return shape if attrs["axis"] is not None else (math.prod(shape),)


def topk_count(attrs: dict, shape: Shape) -> int:
    """How many elements topk keeps: ``k``, or all along the axis where ``k < 1``, as MXNet checks it."""
    size = sorted_shape(attrs, shape)[sort_axis(attrs, shape) or 0]
    if attrs["k"] > size:
        raise ShapeError(f"k {attrs['k']} is more than the {size} elements along the axis")
    return size if attrs["k"] < 1 else attrs["k"]


@shape_rule("topk")
def _topk(node: Node, shapes: list[Shape]) -> list[Shape]:
    a, data = node.attrs, shapes[0]
    flat = sorted_shape(a, data)
    axis = sort_axis(a, data) or 0
    picked = (*flat[:axis], topk_count(a, data), *flat[axis + 1:])
    return {"value": [picked, picked], "indices": [picked], "both": [picked, picked], "mask": [data]}[a["ret_typ"]]


@shape_rule("sort", "argsort")
def _sort(node: Node, shapes: list[Shape]) -> list[Shape]:
    sort_axis(node.attrs, shapes[0])
    return [sorted_shape(node.attrs, shapes[0])] * node.num_outputs  # sort's indices follow, hidden


@shape_rule("shape_array")
def _shape_array(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [(len(shapes[0]),)]


@shape_rule("size_array")
def _size_array(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [(1,)]


def unconvertible_values(node: Node, *target) -> str | None:
    """Why an op is not converted (either target), or None: bfloat16 values are not reproduced."""
    return "dtype bfloat16" if node.attrs.get("dtype") == "bfloat16" else None


def refuse_empty(shape: Shape, what: str) -> Shape:
    """``shape``, unless a zero size makes it empty: MXNet returns an empty tensor, which no converted graph holds."""
    if 0 in shape:
        raise ShapeError(f"{what} makes an empty output of shape {shape}: empty output refused")
    return shape


def dtype_value(value: float, dtype: str) -> float:
    """``value`` stored in MXNet's ``dtype``, read back as a float: bool is 0 or 1; integers truncate, convert as
    C does on x86 past the range (``cast_overflow_bound``) and wrap to narrower types."""
    if dtype == "bool":
        return float(value != 0)
    if np.dtype(dtype).kind in "iu":
        bound = cast_overflow_bound(dtype)
        whole = math.trunc(value) if abs(value) < bound else -int(bound)
        return float(np.array(whole, dtype=np.int64).astype(dtype))
    with np.errstate(all="ignore"):
        return float(np.array(value).astype(dtype))


def fill_values(attrs: dict, keys: tuple[str, ...]) -> list[float]:
    """The attributes ``keys`` stored in the op's dtype (bfloat16, which neither target converts, as given)."""
    dtype = attrs["dtype"]
    return [attrs[key] if dtype == "bfloat16" else dtype_value(attrs[key], dtype) for key in keys]


def arange_range(attrs: dict) -> tuple[float, float, int]:
    """Start, step (each in the op's dtype) and element count of ``_arange``, as MXNet reads them; a missing
    ``stop`` counts from 0 to ``start``. float16 and uint8 ranges start and step at whole numbers, as in MXNet."""
    a = attrs
    start, stop = (0.0, a["start"]) if a["stop"] is None else (a["start"], a["stop"])
    if a["step"] == 0 or a["repeat"] < 1:
        raise ShapeError(f"step {a['step']} and repeat {a['repeat']}: MXNet needs a non-zero step, repeat >= 1")
    if not (start < stop if a["step"] > 0 else start > stop):
        raise ShapeError(f"empty range from {start} to {stop} by {a['step']}")
    steps = math.ceil((stop - start) / a["step"])
    step = a["step"]
    if a["dtype"] in ("float16", "uint8"):  # MXNet truncates both for types std::is_signed does not call signed
        start, step = math.trunc(start), math.trunc(step)
    return dtype_value(start, a["dtype"]), dtype_value(step, a["dtype"]), steps * a["repeat"]


def range_values(start: float, step: float, repeat: int, count: int, dtype: str) -> np.ndarray:
    """MXNet's range kernel: ``start + (i / repeat) * step`` computed in ``dtype`` (wrapping for integers), as
    float32."""
    blocks = np.arange(count, dtype=np.int64) // repeat
    with np.errstate(all="ignore"):
        values = np.asarray(start).astype(dtype) + blocks.astype(dtype) * np.asarray(step).astype(dtype)
    return values.astype(np.float32)


@shape_rule("_arange")
def _arange(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [(arange_range(node.attrs)[2],)]


@shape_rule("_contrib_arange_like")
def _arange_like(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, axis = shapes[0], node.attrs["axis"]
    if node.attrs["repeat"] == 0:
        raise ShapeError("repeat 0 divides by zero")
    return [data if axis is None else (data[axis_index(axis, len(data))],)]


@shape_rule(*SIZED_BY_CONSUMER)
def _filled(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The ``shape`` attribute; a 0 in it is an unknown size the consumer's ``input_rule`` fills."""
    shape = node.attrs["shape"]
    if not shape or any(size is None for size in shape):
        raise ShapeError(f"shape {shape} is not a full shape")
    if node.op == "_full":
        fill_values(node.attrs, ("value",))
    return [shape]


@shape_rule("zeros_like", "ones_like", "_random_uniform_like")
def _filled_like(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [shapes[0]]


def multinomial_count(attrs: dict) -> int:
    """How many draws ``_sample_multinomial`` makes per distribution."""
    return math.prod(attrs["shape"])


@shape_rule("_sample_multinomial")
def _sample_multinomial(node: Node, shapes: list[Shape]) -> list[Shape]:
    drawn = refuse_empty((*shapes[0][:-1], *node.attrs["shape"]) or (1,), "a zero size")
    return [drawn] * node.num_outputs


# === nn layers, normalisation and matrix products ===================================================================


def deconvolution_geometry(attrs: dict, sizes: Shape) -> tuple[tuple[int, ...], ...]:
    """Stride, pad, adj and dilation of a Deconvolution on channel-first spatial ``sizes``, as MXNet's own kernel
    infers them: a ``target_shape`` with any non-zero size replaces pad and adj (the crop of the full output split
    evenly, its odd unit as adj; a zero there empties the output)."""
    rank = len(attrs["kernel"])
    stride, pad, dilate = window_geometry(attrs, rank)
    adj = _spatial(attrs["adj"], rank, 0)
    target = attrs["target_shape"]
    if any(target):  # MXNet reads its first ``rank`` values
        if len(target) < rank:
            raise ShapeError(f"target_shape {target} has fewer than {rank} values like the kernel")
        target = target[:rank]
        full = _uncropped_deconvolution(attrs, sizes, stride, dilate)
        if any(f < t for f, t in zip(full, target)):
            raise ShapeError(f"target_shape {target} is larger than the full output {tuple(full)}")
        pad = tuple((f - t + 1) // 2 for f, t in zip(full, target))
        adj = tuple((f - t) % 2 for f, t in zip(full, target))
    if len(adj) != rank or any(a < 0 or a >= s for a, s in zip(adj, stride)):
        raise ShapeError(f"adj {adj} must be at least 0 and smaller than the stride {stride}")
    return stride, pad, adj, dilate


def _uncropped_deconvolution(attrs: dict, sizes: Shape, stride: tuple, dilate: tuple) -> list[int]:
    """The spatial sizes of a Deconvolution's output before pad crops it and adj extends it."""
    return [s * (size - 1) + d * (k - 1) + 1 for size, k, s, d in zip(sizes, attrs["kernel"], stride, dilate)]


def deconvolution_output(attrs: dict, sizes: Shape) -> tuple[int, ...]:
    stride, pad, adj, dilate = deconvolution_geometry(attrs, sizes)
    full = _uncropped_deconvolution(attrs, sizes, stride, dilate)
    return tuple(f - 2 * p + a for f, p, a in zip(full, pad, adj))


@shape_rule("Deconvolution")
def _deconvolution(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    rank = len(a["kernel"])
    if len(shapes[0]) != rank + 2 or not 1 <= rank <= 3:
        raise ShapeError(f"data has shape {shapes[0]}, expected {rank + 2}-D for a {rank}-D kernel (1-D to 3-D)")
    if a["layout"] and len(a["layout"]) != rank + 2:
        raise ShapeError(f"layout {a['layout']} does not fit a {rank}-D kernel")
    data = channels_first(shapes[0], a["layout"])
    groups = a["num_group"]
    if data[1] % groups or a["num_filter"] % groups:
        raise ShapeError(f"{data[1]} input and {a['num_filter']} output channels do not split into {groups} groups")
    weight = (data[1], a["num_filter"] // groups, *a["kernel"])
    _expect(shapes[1], channels_last(weight) if is_channels_last(a["layout"]) else weight, "weight")
    if not a["no_bias"]:
        _expect(shapes[2], (a["num_filter"],), "bias")
    out = (data[0], a["num_filter"], *deconvolution_output(a, data[2:]))
    return [channels_last(out) if is_channels_last(a["layout"]) else out]


@shape_rule("LRN")
def _lrn(node: Node, shapes: list[Shape]) -> list[Shape]:
    if len(shapes[0]) not in (2, 4):
        raise ShapeError(f"data of shape {shapes[0]}: MXNet's LRN runs on 4-D data (and 2-D, as 4-D)")
    return [shapes[0]]


def _affine_per(shapes: list[Shape], size: int, what: str) -> None:
    """gamma and beta of a normalisation: one value per ``what`` (``size`` of them)."""
    for slot, name in ((1, "gamma"), (2, "beta")):
        if shapes[slot] != (size,):
            raise ShapeError(f"{name} has shape {shapes[slot]}, expected ({size},): one per {what}")


@shape_rule("InstanceNorm")
def _instance_norm(node: Node, shapes: list[Shape]) -> list[Shape]:
    if len(shapes[0]) < 3:
        raise ShapeError(f"data of shape {shapes[0]}: InstanceNorm takes 3-D data or more")
    _affine_per(shapes, shapes[0][1], "channel")
    return [shapes[0]]


@shape_rule("GroupNorm")
def _group_norm(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, groups = shapes[0], node.attrs["num_groups"]
    if len(data) < 3 or data[1] % groups:
        raise ShapeError(f"data of shape {data}: GroupNorm takes 3-D data or more, channels split into {groups} "
                         "groups")
    _affine_per(shapes, groups, "group (MXNet 1.9.1's GroupNorm scales groups, not channels)")
    return [data] + [(data[0], groups)] * (2 if node.attrs["output_mean_var"] else 0)


@shape_rule("LayerNorm")
def _layer_norm(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axis = axis_index(node.attrs["axis"], len(data))
    _affine_per(shapes, data[axis], f"position along axis {axis}")
    stats = tuple(1 if i == axis else size for i, size in enumerate(data))
    return [data] + [stats] * (2 if node.attrs["output_mean_var"] else 0)


@shape_rule("Embedding")
def _embedding(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    _expect(shapes[1], (a["input_dim"], a["output_dim"]), "weight")
    return [(*shapes[0], a["output_dim"])]


@shape_rule("log_softmax", "softmin")
def _softmax_without_length(node: Node, shapes: list[Shape]) -> list[Shape]:
    axis_index(node.attrs["axis"], len(shapes[0]))
    if node.attrs["use_length"] or len(shapes) != 1:
        raise ShapeError(f"{node.op} takes one input and no use_length (MXNet 1.9.1 has no length input for it)")
    return [shapes[0]]


def dot_axes(attrs: dict, left: Shape, right: Shape) -> tuple[int, int]:
    """The axis of each ``dot`` operand that MXNet contracts: the last of ``left`` and the first of ``right``,
    swapped by ``transpose_a``/``transpose_b`` (a 1-D operand is contracted whole)."""
    if len(left) == len(right) == 1 and (attrs["transpose_a"] or attrs["transpose_b"]):
        raise ShapeError("MXNet's dot cannot transpose vectors")
    left_axis = 0 if len(left) == 1 or attrs["transpose_a"] else len(left) - 1
    right_axis = len(right) - 1 if len(right) > 1 and attrs["transpose_b"] else 0
    if left[left_axis] != right[right_axis]:
        raise ShapeError(f"dot of {left} and {right} contracts sizes {left[left_axis]} and {right[right_axis]}")
    return left_axis, right_axis


@shape_rule("dot")
def _dot(node: Node, shapes: list[Shape]) -> list[Shape]:
    left, right = shapes
    left_axis, right_axis = dot_axes(node.attrs, left, right)
    free = [s for i, s in enumerate(left) if i != left_axis] + [s for i, s in enumerate(right) if i != right_axis]
    return [tuple(free) or (1,)]


def matrix_axes(rank: int, row_axis: int = -2) -> list[int]:
    """The permutation that moves a batched matrix's ``row_axis`` next to its last (column) axis, as
    ``_linalg_gemm2``'s ``axis`` reads it (the identity for the default -2)."""
    row = row_axis + rank if row_axis < 0 else row_axis
    if not 0 <= row < rank - 1:
        raise ShapeError(f"invalid row axis {row_axis} for {rank}-D operands")
    return [i for i in range(rank - 1) if i != row] + [row, rank - 1]


def _matrix_product(node: Node, shapes: list[Shape], row_axis: int, min_rank: int) -> Shape:
    """The batched matrix product of two operands whose matrices lie on (``row_axis``, last axis)."""
    left, right = shapes
    if len(left) != len(right) or len(left) < min_rank:
        raise ShapeError(f"operands of shapes {left} and {right}: expected equal ranks of at least {min_rank}")
    perm = matrix_axes(len(left), row_axis)
    left, right = (tuple(shape[i] for i in perm) for shape in (left, right))
    (m, k), (k2, n) = (left[-2:][::-1] if node.attrs["transpose_a"] else left[-2:],
                       right[-2:][::-1] if node.attrs["transpose_b"] else right[-2:])
    if left[:-2] != right[:-2] or k != k2:
        raise ShapeError(f"operands of shapes {shapes[0]} and {shapes[1]} do not multiply as matrices")
    out = (*left[:-2], m, n)
    return tuple(out[perm.index(i)] for i in range(len(perm)))


@shape_rule("batch_dot")
def _batch_dot(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [_matrix_product(node, shapes, -2, 3)]


@shape_rule("_linalg_gemm2")
def _gemm2(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [_matrix_product(node, shapes, node.attrs["axis"], 2)]


def _interleaved_projections(*projections: Shape) -> None:
    for shape in projections:
        if len(shape) != 3:
            raise ShapeError(f"projections of shape {shape}: expected 3-D (sequence, batch, projections)")


@shape_rule("_contrib_interleaved_matmul_selfatt_qk")
def _selfatt_qk(node: Node, shapes: list[Shape]) -> list[Shape]:
    qkv = shapes[0]
    _interleaved_projections(qkv)
    return [(node.attrs["heads"] * qkv[1], qkv[0], qkv[0])]


@shape_rule("_contrib_interleaved_matmul_selfatt_valatt")
def _selfatt_valatt(node: Node, shapes: list[Shape]) -> list[Shape]:
    qkv, attention = shapes
    _interleaved_projections(qkv)
    if qkv[2] % 3 or len(attention) != 3 or attention[1:] != (qkv[0], qkv[0]):
        raise ShapeError(f"queries_keys_values of shape {qkv} and attention of shape {attention}: expected "
                         f"3 * projections and ({qkv[0]}, {qkv[0]}) attention maps")
    return [(qkv[0], qkv[1], qkv[2] // 3)]


@shape_rule("_contrib_interleaved_matmul_encdec_qk")
def _encdec_qk(node: Node, shapes: list[Shape]) -> list[Shape]:
    queries, keys_values = shapes
    _interleaved_projections(queries, keys_values)
    if keys_values[2] != 2 * queries[2] or keys_values[1] != queries[1]:
        raise ShapeError(f"queries of shape {queries} and keys_values of shape {keys_values}: expected the same "
                         "batch and twice the projections")
    return [(node.attrs["heads"] * queries[1], queries[0], keys_values[0])]


@shape_rule("_contrib_interleaved_matmul_encdec_valatt")
def _encdec_valatt(node: Node, shapes: list[Shape]) -> list[Shape]:
    keys_values, attention = shapes
    _interleaved_projections(keys_values)
    if len(attention) != 3 or attention[2] != keys_values[0] or attention[0] != keys_values[1] * node.attrs["heads"]:
        raise ShapeError(f"keys_values of shape {keys_values} and attention of shape {attention}: expected "
                         f"(batch * heads, queries, {keys_values[0]}) attention maps")
    return [(attention[1], keys_values[1], keys_values[2] // 2)]


# how many projections each input interleaves per head: queries, keys and values (3), keys and values (2), queries
INTERLEAVED_PARTS = {"_contrib_interleaved_matmul_selfatt_qk": (3,),
                     "_contrib_interleaved_matmul_selfatt_valatt": (3,),
                     "_contrib_interleaved_matmul_encdec_qk": (1, 2),
                     "_contrib_interleaved_matmul_encdec_valatt": (2,)}
# the (input, part) projections each reads: queries and keys for the scores, the values for the attended values
INTERLEAVED_READS = {"_contrib_interleaved_matmul_selfatt_qk": ((0, 0), (0, 1)),
                     "_contrib_interleaved_matmul_selfatt_valatt": ((0, 2),),
                     "_contrib_interleaved_matmul_encdec_qk": ((0, 0), (1, 0)),
                     "_contrib_interleaved_matmul_encdec_valatt": ((0, 1),)}


def interleaved_heads(node: Node, shapes: list[Shape]) -> tuple[int, int]:
    """Heads and size per head of interleaved ``(sequence, batch, heads x parts x size)`` projections
    (:data:`INTERLEAVED_PARTS`). MXNet strides its rows as ``parts * heads * size`` values, which is not the row
    length unless the projections split evenly into heads, and reads ``batch * heads`` attention maps whatever
    their number: other values are not converted."""
    heads, parts = node.attrs["heads"], INTERLEAVED_PARTS[node.op]
    sizes = {shape[2] // part // heads for shape, part in zip(shapes, parts)} if heads >= 1 else set()
    if heads < 1 or any(shape[2] % (part * heads) for shape, part in zip(shapes, parts)) or len(sizes) != 1:
        sizes_read = " and ".join(str(shape[2]) for shape in shapes[:len(parts)])
        raise NotExpressible(f"{sizes_read} projections do not split into {' and '.join(map(str, parts))} x {heads} "
                             "heads")
    batch = shapes[0][1]
    if node.op.endswith("valatt") and shapes[1][0] != batch * heads:
        raise NotExpressible(f"{shapes[1][0]} attention maps for {batch} sequences x {heads} heads")
    return heads, sizes.pop()


def deconvolution_refusal(node: Node) -> str | None:
    """Why a Deconvolution is not converted: channels-last layouts, or a negative pad (MXNet crops there)
    where no target_shape replaces it."""
    layout = node.attrs["layout"]
    if is_channels_last(layout):
        return f"layout {layout}"
    return None if any(node.attrs["target_shape"]) else negative_pad(node)


def even_lrn_window(node: Node) -> str | None:
    """Why an LRN is not converted: an even nsize, whose window MXNet's MKLDNN kernel places unlike ONNX's LRN."""
    return f"even nsize {node.attrs['nsize']}" if node.attrs["nsize"] % 2 == 0 else None


def float16_output(node: Node) -> str | None:
    """Why a log_softmax or softmin is not converted: ``dtype`` float16 rounds MXNet's output to half precision,
    which a float32 model does not reproduce within its tolerance."""
    return "dtype float16" if node.attrs["dtype"] == "float16" else None


# === the fused RNN op ===============================================================================================


RNN_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}  # MXNet's order: LSTM i, f, g, o; GRU r, z, n


class RnnWeights(NamedTuple):
    """One layer and direction of a fused RNN, gates in MXNet's order: input-to-hidden (gates x hidden, inputs),
    hidden-to-hidden (gates x hidden, recurrent size), the LSTM projection (projection, hidden) or None, and the
    two biases (gates x hidden)."""

    w_ih: np.ndarray
    w_hh: np.ndarray
    w_hr: np.ndarray | None
    b_ih: np.ndarray
    b_hh: np.ndarray


@dataclass(frozen=True)
class RnnLayout:
    """Sizes of a fused RNN and the layout of its packed parameter vector: every layer's weights by layer and
    direction (i2h, h2h, then the projection h2r), then every bias in the same order (i2h, h2h)."""

    mode: str
    layers: int
    directions: int
    input_size: int
    hidden: int
    projection: int | None

    @property
    def gates(self) -> int:
        return RNN_GATES[self.mode]

    @property
    def state_size(self) -> int:
        """The size of the recurrent state h (and of each direction's output): the projection, if any."""
        return self.projection or self.hidden

    def layer_input(self, layer: int) -> int:
        return self.input_size if layer == 0 else self.directions * self.state_size

    def _weight_shapes(self, layer: int) -> list[tuple[int, int]]:
        rows = self.gates * self.hidden
        shapes = [(rows, self.layer_input(layer)), (rows, self.state_size)]
        return shapes + [(self.projection, self.hidden)] if self.projection else shapes

    @property
    def param_size(self) -> int:
        weights = sum(math.prod(shape) for layer in range(self.layers) for shape in self._weight_shapes(layer))
        return self.directions * weights + 2 * self.layers * self.directions * self.gates * self.hidden

    def describe(self) -> str:
        extra = f", projection {self.projection}" if self.projection else ""
        direction = "bidirectional" if self.directions == 2 else "unidirectional"
        return (f"{self.mode}, {self.layers} layer(s) {direction}, input size {self.input_size}, state size "
                f"{self.hidden}{extra}")

    def unpack(self, packed: np.ndarray) -> list[list[RnnWeights]]:
        """The packed vector as weights per layer, then per direction (forward, reverse)."""
        flat = np.asarray(packed).reshape(-1)
        if flat.size != self.param_size:
            raise ShapeError(f"the packed parameters have {flat.size} values, expected {self.param_size} "
                             f"({self.describe()})")
        offset = 0

        def take(shape: tuple[int, ...]) -> np.ndarray:
            nonlocal offset
            size = math.prod(shape)
            offset += size
            return flat[offset - size:offset].reshape(shape)

        weights = [[[take(shape) for shape in self._weight_shapes(layer)] for _ in range(self.directions)]
                   for layer in range(self.layers)]
        bias = (self.gates * self.hidden,)
        return [[RnnWeights(w[0], w[1], w[2] if self.projection else None, take(bias), take(bias))
                 for w in per_layer] for per_layer in weights]


def rnn_data_layout(node: Node, data: Shape) -> RnnLayout:
    """The layout of an RNN node's parameters for its (sequence, batch, features) data, checked as MXNet does
    (a projection is an LSTM's only, and no larger than its state)."""
    if len(data) != 3:
        raise ShapeError(f"data has shape {data}, expected 3-D (sequence, batch, features)")
    a = node.attrs
    projection = a["projection_size"]
    if projection is not None and (a["mode"] != "lstm" or projection > a["state_size"]):
        raise ShapeError(f"projection_size {projection}: MXNet projects only LSTM states, to at most state_size "
                         f"{a['state_size']}")
    return RnnLayout(a["mode"], a["num_layers"], 2 if a["bidirectional"] else 1, data[2], a["state_size"], projection)


@input_rule("RNN")
def _rnn_inputs(node: Node, inputs: list, outputs: list) -> list:
    """The begin states (layers x directions, batch, state) and the (batch,) sequence lengths, from the data."""
    fixed: list = [None] * len(inputs)
    if inputs[0] is None:
        return fixed
    layout = rnn_data_layout(node, inputs[0])
    batch, stacked = inputs[0][1], layout.layers * layout.directions
    fixed[2] = (stacked, batch, layout.state_size)
    if layout.mode == "lstm":
        fixed[3] = (stacked, batch, layout.hidden)
    if node.attrs["use_sequence_length"]:
        fixed[-1] = (batch,)
    return fixed


@shape_rule("RNN")
def _rnn(node: Node, shapes: list[Shape]) -> list[Shape]:
    layout = rnn_data_layout(node, shapes[0])
    if shapes[1] != (layout.param_size,):
        raise ShapeError(f"the packed parameters have shape {shapes[1]}, expected ({layout.param_size},) "
                         f"({layout.describe()})")
    names = OPS["RNN"].input_names(node.attrs)
    for slot, shape in enumerate(_rnn_inputs(node, shapes, [])):
        if shape is not None:
            _expect(shapes[slot], shape, names[slot])
    length, batch = shapes[0][:2]
    states = [(layout.layers * layout.directions, batch, size) for size in (layout.state_size, layout.hidden)]
    outputs = [(length, batch, layout.directions * layout.state_size), *states]
    return outputs[:node.num_outputs]


def rnn_refusal(node: Node) -> str | None:
    """Why an RNN is not converted: state clipping, which MXNet runs only on cuDNN (its CPU kernel refuses it),
    clamps the LSTM cell state inside the recurrence, which neither ONNX's LSTM (its ``clip`` bounds the gates'
    inputs) nor nn.LSTM can express."""
    if node.attrs["lstm_state_clip_min"] is not None or node.attrs["lstm_state_clip_max"] is not None:
        return "lstm_state_clip_min/max: clipping the cell state inside the recurrence"
    return None


def zero_begin_states(graph: Graph, node: Node) -> bool:
    """Whether every begin state of an RNN is made by ``_zeros`` (as in Gluon's exports): the targets then start
    from zeros of the live batch size rather than of the size the states were inferred at."""
    producers = graph.nodes_by_name()
    slots = (2, 3) if node.attrs["mode"] == "lstm" else (2,)
    return all(getattr(producers.get(node.inputs[slot].node), "op", None) == "_zeros" for slot in slots)


def rnn_packed_parameters(graph: Graph, node: Node) -> np.ndarray:
    """The stored packed parameter vector of an RNN node (the registries refuse one computed from the data)."""
    return graph.params[node.inputs[1].node]

# --- detection post-processing (family ``detection``) ---------------------------------------------------------------
@shape_rule("_contrib_box_nms")
def _box_nms(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Boxes ``(..., elements, width)``: the output has their shape. The score, the id and the four
    coordinates must lie inside a row and apart, as MXNet checks."""
    (boxes,) = shapes
    a = node.attrs
    if len(boxes) < 2:
        raise ShapeError(f"boxes of shape {boxes}: box_nms takes (..., boxes, width)")
    width, coords = boxes[-1], range(a["coord_start"], a["coord_start"] + 4)
    if width < 5 + (a["id_index"] >= 0):
        raise ShapeError(f"rows of {width} values are too short for a score, an id and 4 coordinates")
    indices = [a["score_index"]] + ([a["id_index"]] if a["id_index"] >= 0 else [])
    if not (0 <= a["coord_start"] and coords[-1] < width) or any(not 0 <= i < width or i in coords for i in indices) \
            or len(set(indices)) < len(indices):
        raise ShapeError(f"score_index {a['score_index']}, id_index {a['id_index']} and coordinates from "
                         f"{a['coord_start']} do not fit rows of {width} values apart")
    return [boxes, (*boxes[:-1], 1)]


@shape_rule("_contrib_box_iou")
def _box_iou(node: Node, shapes: list[Shape]) -> list[Shape]:
    lhs, rhs = shapes
    if len(lhs) < 2 or len(rhs) < 2 or lhs[-1] != 4 or rhs[-1] != 4:
        raise ShapeError(f"inputs of shapes {shapes}: box_iou takes (..., 4) boxes on both sides")
    return [lhs[:-1] + rhs[:-1]]


@shape_rule("_contrib_box_encode")
def _box_encode(node: Node, shapes: list[Shape]) -> list[Shape]:
    """samples (B, N), matches (B, N), anchors (B, N, 4), refs (B, M, 4), means (4,), stds (4,)."""
    samples, matches, anchors, refs, means, stds = shapes
    if len(anchors) != 3 or anchors[2] != 4 or len(refs) != 3 or refs[2] != 4 or refs[0] != anchors[0]:
        raise ShapeError(f"inputs of shapes {shapes}: box_encode takes (B, N, 4) anchors and (B, M, 4) refs")
    _expect(samples, anchors[:2], "samples")
    _expect(matches, anchors[:2], "matches")
    _expect(means, (4,), "means")
    _expect(stds, (4,), "stds")
    return [anchors, anchors]


@shape_rule("_contrib_box_decode")
def _box_decode(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Deltas (B, N, 4) and anchors whose last N x 4 values are read for every batch entry."""
    data, anchors = shapes
    if len(data) != 3 or data[2] != 4 or len(anchors) < 3 or anchors[-2:] != data[1:] or math.prod(anchors[:-2]) != 1:
        raise ShapeError(f"inputs of shapes {shapes}: box_decode takes (B, N, 4) deltas and (1, N, 4) anchors")
    return [data]


@shape_rule("_contrib_ROIAlign")
def _roi_align(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, rois = shapes
    pooled = node.attrs["pooled_size"]
    if len(data) != 4 or len(rois) != 2 or rois[1] != 5 or len(pooled) != 2:
        raise ShapeError(f"inputs of shapes {shapes}: ROIAlign takes 4-D data, (rois, 5) boxes and a 2-D size")
    channels = data[1]
    if node.attrs["position_sensitive"]:
        if channels % (pooled[0] * pooled[1]):
            raise ShapeError(f"{channels} channels do not split into {pooled[0]} x {pooled[1]} bins")
        channels //= pooled[0] * pooled[1]
    return [(rois[0], channels, *pooled)]


ROI_ALIGN_MAX_GRID = 64  # sample_ratio: real models take 0 to 4; MXNet allocates the whole grid of every bin


def roi_align_grid_refusal(node: Node) -> str | None:
    """Why a ROIAlign is not converted: a sample_ratio past ``ROI_ALIGN_MAX_GRID`` (both targets visit each of its
    sample_ratio x sample_ratio points a bin; MXNet runs out of memory for the largest)."""
    ratio = node.attrs["sample_ratio"]
    return f"sample_ratio {ratio} above {ROI_ALIGN_MAX_GRID}" if ratio > ROI_ALIGN_MAX_GRID else None


@shape_rule("_contrib_MultiBoxPrior")
def _multibox_prior(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if len(data) < 4:
        raise ShapeError(f"data of shape {data}: MultiBoxPrior takes (batch, channels, height, width)")
    return [(1, data[2] * data[3] * len(multibox_prior_shapes(node.attrs)[0]), 4)]


@shape_rule("_contrib_MultiBoxDetection")
def _multibox_detection(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Class probabilities (B, classes, anchors), offsets (B, anchors x 4), anchors (1, anchors, 4) -> rows
    [class, score, xmin, ymin, xmax, ymax] per anchor."""
    probs, offsets, anchors = shapes
    if len(probs) != 3 or len(offsets) != 2 or len(anchors) != 3 or anchors[2] != 4 or probs[2] != anchors[1] \
            or offsets != (probs[0], probs[2] * 4):
        raise ShapeError(f"inputs of shapes {shapes}: MultiBoxDetection takes (B, classes, anchors) probabilities, "
                         "(B, anchors x 4) offsets and (1, anchors, 4) anchors")
    if len(node.attrs["variances"]) != 4:
        raise ShapeError(f"variances {node.attrs['variances']} are not 4 values")
    return [(probs[0], probs[2], 6)]


def multibox_detection_limit(node: Node) -> int:
    """How many of the best detections MultiBoxDetection suppresses among, given its anchor count ``n`` only at run
    time: ``min(n, limit)``, every one for a negative limit, none (it neither sorts nor suppresses) for 0, which
    an nms_threshold outside (0, 1] gives."""
    a = node.attrs
    if not 0 < a["nms_threshold"] <= 1:
        return 0
    return -1 if a["nms_topk"] <= 0 else a["nms_topk"]


def multibox_prior_shapes(attrs: dict) -> tuple[np.ndarray, np.ndarray]:
    """MultiBoxPrior's anchors at each position, as float32 sizes and square roots of ratios (anchors,): every size
    at the first ratio, then every further ratio at the first size. An anchor is ``size x height / width x root``
    wide and ``size / root`` high (fractions of the image), in MXNet's float32 order of operations."""
    f32 = np.float32
    sizes, ratios, steps, offsets = (np.asarray(attrs[k], f32) for k in ("sizes", "ratios", "steps", "offsets"))
    if len(sizes) < 1 or len(steps) != 2 or len(offsets) != 2 or steps[0] * steps[1] < 0:
        raise ShapeError(f"sizes {attrs['sizes']}, steps {attrs['steps']}, offsets {attrs['offsets']}")
    with np.errstate(invalid="ignore"):  # a negative ratio gives NaN anchors, as MXNet's sqrtf does
        roots = np.sqrt(ratios) if len(ratios) else np.ones(1, f32)
    return (np.concatenate([sizes, np.repeat(sizes[:1], len(roots) - 1)]),
            np.concatenate([np.repeat(roots[:1], len(sizes)), roots[1:]]))


@shape_rule("_contrib_Proposal", "_contrib_MultiProposal")
def _proposal(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Scores (B, 2 x anchors, H, W) (background, then object), deltas (B, 4 x anchors, H, W), im_info (B, 3) ->
    ``rpn_post_nms_top_n`` rows [image, x1, y1, x2, y2] per image and their scores. Proposal takes one image."""
    scores, deltas, info = shapes
    a = node.attrs
    anchors = len(a["scales"]) * len(a["ratios"])
    if len(scores) != 4 or scores[1] != 2 * anchors or deltas != (scores[0], 4 * anchors, *scores[2:]) \
            or info != (scores[0], 3):
        raise ShapeError(f"inputs of shapes {shapes}: {node.op} takes (B, 2 x {anchors} anchors, H, W) scores, "
                         f"(B, 4 x {anchors}, H, W) deltas and (B, 3) image sizes")
    if node.op == "_contrib_Proposal" and scores[0] != 1:
        raise ShapeError(f"a batch of {scores[0]}: MXNet's Proposal takes one image (MultiProposal takes more)")
    rows = scores[0] * a["rpn_post_nms_top_n"]
    return [(rows, 5), (rows, 1)][:node.num_outputs]


def proposal_counts(node: Node, shape: Shape) -> tuple[int, int]:
    """How many of the best-scoring proposals of an image (Multi)Proposal suppresses among, and at most keeps."""
    total = shape[1] // 2 * shape[2] * shape[3]
    first = node.attrs["rpn_pre_nms_top_n"]
    first = min(first if first > 0 else total, total)
    return first, min(node.attrs["rpn_post_nms_top_n"], first)


def proposal_anchors(attrs: dict, height: int, width: int) -> np.ndarray:
    """(Multi)Proposal's (height x width x anchors, 4) corner anchors in float32 as MXNet builds them: per ratio
    and scale a box about the centre of a feature_stride square (sizes rounded as MXNet rounds them), shifted by
    the stride to every position (row-major, anchors fastest). Where MXNet mixes in doubles, so does this."""
    f32 = np.float32
    stride = attrs["feature_stride"]
    side = f32(stride - 1.0) - f32(0) + f32(1)  # the base box [0, 0, stride - 1, stride - 1]
    center = f32(0.5 * float(side - f32(1)))
    base = []
    with np.errstate(all="ignore"):  # a ratio or scale <= 0 gives NaN or infinite anchors, as in MXNet
        for ratio in map(f32, attrs["ratios"]):
            for scale in map(f32, attrs["scales"]):
                new_w = f32(np.floor(np.sqrt(f32(np.floor(side * side / ratio))) + f32(0.5))) * scale
                new_h = f32(np.floor(new_w / scale * ratio + f32(0.5))) * scale
                half_w, half_h = f32(0.5) * (new_w - f32(1)), f32(0.5) * (new_h - f32(1))
                base.append([center - half_w, center - half_h, center + half_w, center + half_h])
    shift_x = (np.arange(width) * stride).astype(f32)
    shift_y = (np.arange(height) * stride).astype(f32)
    shifts = np.stack(np.broadcast_arrays(shift_x[None, :], shift_y[:, None], shift_x[None, :], shift_y[:, None]), -1)
    return (np.asarray(base, f32)[None, None] + shifts[:, :, None]).reshape(-1, 4).astype(f32)


# --- control flow: a body's shapes, inferred from the op's inputs ---------------------------------------------------
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
        _expect(new, state, f"the body's new value of loop state {index}")


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
        _expect(b, a, f"output {index} of the else branch")
    return then


# --- fused subgraph ops (quantized: their subgraph's shapes) and the INT8 ops, whose min and max are scalars --
def _with_range(shapes: list[Shape]) -> list[Shape]:
    return [*shapes, (1,), (1,)]


@shape_rule("_sg_mkldnn_conv", "_sg_mkldnn_fully_connected", "_sg_mkldnn_selfatt_qk", "_sg_mkldnn_selfatt_valatt")
def _fused_subgraph(node: Node, shapes: list[Shape]) -> list[Shape]:
    body = node.subgraphs[0]
    try:
        found = infer_shapes(body, dict(zip(body.variables, shapes)))
    except ShapeError as exc:
        raise ShapeError(f"in the subgraph of {node.name!r}: {exc}") from None
    outputs = [found[ref] for ref in body.outputs]
    return _with_range(outputs) if node.num_outputs == 3 else outputs


@shape_rule("_contrib_quantize_v2")
def _quantize(node: Node, shapes: list[Shape]) -> list[Shape]:
    return _with_range(shapes[:1])


@shape_rule("_contrib_dequantize")
def _dequantize(node: Node, shapes: list[Shape]) -> list[Shape]:
    return shapes[:1]


@shape_rule("_contrib_quantized_pooling")
def _quantized_pooling(node: Node, shapes: list[Shape]) -> list[Shape]:
    return _with_range(_pooling(node, shapes[:1]))


@shape_rule("_contrib_quantized_flatten")
def _quantized_flatten(node: Node, shapes: list[Shape]) -> list[Shape]:
    return _with_range(_flatten(node, shapes[:1]))


@shape_rule("_contrib_quantized_act")
def _quantized_act(node: Node, shapes: list[Shape]) -> list[Shape]:
    return _with_range(shapes[:1])
