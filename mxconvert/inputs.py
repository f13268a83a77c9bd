"""Input shapes when none are given: from what the checkpoint knows, each choice stated on one line.

In order, per data input: the symbol's ``__shape__`` attribute, a shapes file beside the checkpoint
(SageMaker's ``model-shapes.json``, MXNet Model Server's ``signature.json``), and the first layer that reads it
(the features of a FullyConnected, the channels of a Convolution, an Embedding's token ids, a fused RNN's input
size), found through the ops that keep a tensor's layout (a split put back together on its axis included). Sizes nothing fixes (height and width, a sequence's
length) take a stated default; where the graph does not take it, a size it takes (the largest multiple of 8
that fits, else the smallest).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Mapping

from .errors import MxConvertError
from .ir import Graph, Node, TensorRef
from .semantics.elementwise import ELEMENTWISE, ONE_TO_ONE
from .semantics.normalization import BATCH_NORMS
from .semantics.inference import infer_shapes, input_shapes_of, is_begin_state
from .semantics.recurrent import RnnLayout
from .semantics.rules import Shape, ShapeError

IMAGE_SIZE = (224, 224)  # height and width where nothing fixes them
SEQUENCE_LENGTH = 32  # token ids, time steps, 1-D convolution lengths
MAX_SEARCHED = 1024  # the largest free size tried where the default does not fit
ROUND = 8  # of the sizes that fit, the largest multiple of this is chosen (sizes networks are designed at: 24, 112)
# ops whose data keeps its layout (a BatchNorm's, a mean subtraction's...): the first layer is further on
_KEEPS_LAYOUT = {*ONE_TO_ONE, *ELEMENTWISE, *BATCH_NORMS, "LeakyReLU", "Cast", "amp_cast", "BlockGrad", "LRN",
                 "InstanceNorm", "LayerNorm", "GroupNorm", "L2Normalization", "Pad", "Flatten",
                 "broadcast_add", "broadcast_sub", "broadcast_mul", "broadcast_div"}
_PERMUTES = {"SwapAxis", "transpose"}


class ShapesDoNotFit(MxConvertError):
    """The shapes the checkpoint suggests do not fit its graph (a weight of another shape than the graph needs)."""

    def __init__(self, message: str, problem: str):
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True)
class Template:
    """An input's shape with ``None`` where nothing fixes the size, and why."""

    dims: tuple[int | None, ...]
    why: str
    free: str = ""  # what the free sizes are ("height and width", "length"), "" when none
    other: Template | None = None  # the other reading of a layout the weights leave open (token ids' batch axis)

    def at(self, size: int | None, image_size: tuple[int, int]) -> Shape:
        """The shape with every free size at ``size``, or (None) at its default: ``image_size`` for height and
        width, ``SEQUENCE_LENGTH`` for a length, ``image_size[0]`` for others."""
        if size is None:
            fill = iter(image_size if self.free == "height and width" else ())
            size = SEQUENCE_LENGTH if self.free == "length" else image_size[0]
            return tuple(next(fill, size) if dim is None else dim for dim in self.dims)
        return tuple(size if dim is None else dim for dim in self.dims)


def resolve_input_shape(graph: Graph, given: Shape | Mapping[str, Shape] | None,
                        image_size: tuple[int, int] = IMAGE_SIZE) -> tuple[Shape | dict[str, Shape], list[str]]:
    """``given`` as it is, or (``None``) the data inputs' shapes from the checkpoint, with one line per input
    saying what was chosen and why. ``image_size``: the (height, width) chosen where nothing fixes them. Raises
    MxConvertError (exit 2) naming an input whose shape nothing decides, with what is known about it."""
    if given is not None:
        return (dict(given) if isinstance(given, Mapping) else tuple(given)), []
    data = [var.name for var in graph.inputs if not is_begin_state(graph, var.name)]
    templates = {}
    for name in data:
        template = declared(graph, name) or first_layer(graph, name)
        if template is None:
            raise MxConvertError(f"input {name!r}: no --input_shape given and the checkpoint does not fix its shape "
                                 f"({_known(graph, name)}); give it with --input_shape {name}=SHAPE")
        templates[name] = template
    try:
        size, note = _fitting_size(graph, templates, image_size)
    except ShapesDoNotFit as first:
        others = {name: template.other or template for name, template in templates.items()}
        if others == templates:
            raise
        try:
            size, note = _fitting_size(graph, others, image_size)
        except ShapesDoNotFit:
            raise first from None
        templates = others
    shapes = {name: template.at(size, image_size) for name, template in templates.items()}
    lines = [f"input {name!r}: shape {shapes[name]} from {template.why}"
             + (f"; {template.free} {note}" if template.free else "") for name, template in templates.items()]
    return shapes, lines


def declared(graph: Graph, name: str) -> Template | None:
    """The shape the symbol's ``__shape__`` or a shapes file beside the checkpoint gives ``name`` (a 0 is a free
    size: a leading one is the batch, 1 here)."""
    var = graph.variables[name]
    if var.shape is not None:
        return Template(tuple(var.shape), "the symbol's __shape__ attribute")
    shape = graph.source.declared_shapes.get(name)
    if shape is None:
        return None
    dims = tuple(None if dim == 0 else dim for dim in ((shape[0] or 1), *shape[1:])) if shape else ()
    free = "" if None not in dims else "height and width" if len(dims) == 4 else "length"
    return Template(dims, graph.source.shapes_file, free)


def first_layer(graph: Graph, name: str) -> Template | None:
    """``name``'s shape as the first layer with a stored weight that reads it fixes it (through the ops that keep
    a tensor's layout and axis swaps), or None."""
    consumers = graph.consumers()
    queue: list[tuple[TensorRef, dict[int, int]]] = [(TensorRef(name), {})]  # axis here -> axis of the input
    seen = set()
    while queue:
        ref, axes = queue.pop(0)
        for node in consumers.get(ref, []):
            if node.name in seen:
                continue
            seen.add(node.name)
            slot = node.inputs.index(ref)
            template = _fixed_by(graph, node, slot)
            if template is not None:
                return _permuted(template, axes)
            if node.op in _KEEPS_LAYOUT:
                queue.append((node.output(0), axes))
            elif node.op == "SliceChannel" and slot == 0:
                queue += [(joined.output(0), axes) for joined in _rejoined(node, consumers)]
            elif node.op in _PERMUTES and slot == 0:
                moved = _moved_axes(node)
                if moved is not None:
                    queue.append((node.output(0), {axis: axes.get(src, src) for axis, src in moved.items()}
                                  | {a: s for a, s in axes.items() if a not in moved}))
    return None


def _rejoined(split: Node, consumers: dict[TensorRef, list[Node]]) -> list[Node]:
    """The Concats that put every part of ``split`` back together on its axis, in any order (a BGR to RGB swap):
    their outputs keep the split input's layout."""
    a = split.attrs
    parts = {split.output(i) for i in range(a["num_outputs"])}
    if a["squeeze_axis"] or a["axis"] < 0:
        return []
    return [node for node in consumers.get(split.output(0), [])
            if node.op == "Concat" and node.attrs["dim"] == a["axis"] and len(node.inputs) == len(parts)
            and set(node.inputs) == parts]


def _fixed_by(graph: Graph, node: Node, slot: int) -> Template | None:
    """What ``node`` fixes of its input at ``slot`` through a stored weight, or None."""
    weight = _stored_shape(graph, node.inputs[1]) if len(node.inputs) > 1 and slot == 0 else None
    what = f"{node.op} {node.source_name!r}"
    if node.op == "FullyConnected" and weight is not None and len(weight) == 2:
        return Template((1, weight[1]), f"the first layer's weight ({what} has {weight[1]} input features)")
    if node.op in ("Convolution", "Deconvolution") and weight is not None and len(weight) >= 3:
        layout = node.attrs.get("layout") or "NC"
        if not layout.startswith("NC"):
            return None
        channels = weight[1] * node.attrs["num_group"] if node.op == "Convolution" else weight[0]
        spatial = len(weight) - 2
        free = "height and width" if spatial == 2 else "length" if spatial == 1 else "sizes"
        return Template((1, channels, *(None,) * spatial),
                        f"the first layer's weight ({what} takes {channels} channels)", free)
    if node.op == "Embedding" and slot == 0:
        batch = Template((1, None), f"the first layer ({what} takes token ids)", "length")
        time = Template((None, 1), f"the first layer ({what} takes token ids, time-major)", "length")
        return replace(time, other=batch) if _feeds_rnn(graph, node) else replace(batch, other=time)
    if node.op == "RNN" and slot == 0 and node.attrs["projection_size"] is None:
        size = _stored_size(graph, node.inputs[1])
        a = node.attrs
        if size is None:
            return None
        empty = RnnLayout(a["mode"], a["num_layers"], 2 if a["bidirectional"] else 1, 0, a["state_size"], None)
        per_feature = empty.directions * empty.gates * empty.hidden
        features, rest = divmod(size - empty.param_size, per_feature)
        if rest or features <= 0:
            return None
        return Template((None, 1, features), f"the first layer's weights ({what} takes {features} input features, "
                                             "time-major)", "length")
    return None


def _feeds_rnn(graph: Graph, node: Node) -> bool:
    """Whether ``node``'s output reaches a fused RNN's data (time-major) through ops that keep its layout."""
    consumers = graph.consumers()
    queue, seen = [node.output(0)], set()
    while queue:
        ref = queue.pop(0)
        for reader in consumers.get(ref, []):
            if reader.name in seen:
                continue
            seen.add(reader.name)
            if reader.op == "RNN" and reader.inputs[0] == ref:
                return True
            if reader.op in _KEEPS_LAYOUT:
                queue.append(reader.output(0))
    return False


def _stored_shape(graph: Graph, ref: TensorRef) -> Shape | None:
    array = graph.params.get(ref.node) if ref.index == 0 else None
    return None if array is None else tuple(array.shape)


def _stored_size(graph: Graph, ref: TensorRef) -> int | None:
    """How many values ``ref`` holds where it is a stored weight, or Gluon's packing of stored weights (Reshape,
    Concat), else None."""
    shape = _stored_shape(graph, ref)
    if shape is not None:
        return math.prod(shape)
    node = graph.nodes_by_name().get(ref.node)
    if node is None:
        return None
    if node.op in ("Reshape", "Flatten", "_copy"):
        return _stored_size(graph, node.inputs[0])
    if node.op in ("Concat", "_rnn_param_concat"):
        sizes = [_stored_size(graph, part) for part in node.inputs]
        return None if None in sizes else sum(sizes)
    return None


def _moved_axes(node: Node) -> dict[int, int] | None:
    """Axis of the output -> axis of the input, for the axes a swap or an explicit transpose moves."""
    if node.op == "SwapAxis":
        one, two = node.attrs["dim1"], node.attrs["dim2"]
        return None if one < 0 or two < 0 else {one: two, two: one}
    axes = node.attrs["axes"]
    return {axis: source for axis, source in enumerate(axes)} if axes and min(axes) >= 0 else None


def _permuted(template: Template, axes: dict[int, int]) -> Template:
    """``template`` (of the consumer's input) in the input's own axes."""
    if not axes:
        return template
    dims: list[int | None] = list(template.dims)
    if max(max(axes), max(axes.values())) >= len(dims):
        return template
    for axis, source in axes.items():
        dims[source] = template.dims[axis]
    return Template(tuple(dims), template.why, template.free)


def _fitting_size(graph: Graph, templates: dict[str, Template], image_size: tuple[int, int]
                  ) -> tuple[int | None, str]:
    """The size of every free dim: None (the defaults) where the graph takes them, else, of the first run of
    sizes it takes, the largest multiple of ``ROUND`` or the smallest; and how it was chosen. Raises
    MxConvertError when nothing fits."""
    problem = _problem(graph, templates, None, image_size)
    if problem is None:
        if not any(template.free for template in templates.values()):
            return None, ""
        free = _problem(graph, templates, 2 * max(image_size) + 1, image_size) is None
        return None, "free: the default chosen (give --input_shape for another)" if free else "fixed by the graph"
    if any(template.free for template in templates.values()):
        fits = (size for size in range(1, MAX_SEARCHED + 1) if _problem(graph, templates, size, image_size) is None)
        low = next(fits, None)
        if low is not None:
            high = low
            while high < MAX_SEARCHED and _problem(graph, templates, high + 1, image_size) is None:
                high += 1
            if low == high:
                return low, f"fixed by the graph: only {low} fits (the default does not)"
            round_sizes = [size for size in range(low, high + 1) if size % ROUND == 0]
            size = round_sizes[-1] if round_sizes else low
            return size, (f"fixed by the graph: {low} to {high} fit (the default does not), {size} chosen, "
                          + (f"the largest multiple of {ROUND}" if round_sizes else "the smallest"))
    chosen = ", ".join(f"{name} {template.at(None, image_size)} from {template.why}"
                       for name, template in templates.items())
    raise ShapesDoNotFit(f"no --input_shape given, and the shapes the checkpoint suggests do not fit the graph "
                         f"({chosen}: {problem}); give them with --input_shape", problem)


def _problem(graph: Graph, templates: dict[str, Template], size: int | None, image_size: tuple[int, int]
             ) -> str | None:
    """Why the graph does not take the templates at ``size``, or None when it does."""
    try:
        infer_shapes(graph, input_shapes_of(graph, {name: t.at(size, image_size) for name, t in templates.items()}))
    except ShapeError as exc:
        return str(exc)
    return None


def _known(graph: Graph, name: str) -> str:
    """What the graph says about an input nothing sizes: the nodes that read it."""
    readers = [f"{node.op} {node.source_name!r}" for node in graph.consumers().get(TensorRef(name), [])]
    return f"it feeds {', '.join(readers[:4])}{' ...' if len(readers) > 4 else ''}" if readers else "no node reads it"
