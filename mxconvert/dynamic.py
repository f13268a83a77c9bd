"""Symbolic input sizes (``--dynamic_batch``, ``--dynamic_axes``), checked rather than assumed.

A graph is converted twice: at the given sizes and at probe sizes where every dynamic axis is scaled by its
own prime factor. Shapes that change between the two are the symbolic ones, named after the input axis whose
factor they follow. A converter that writes a size into the model (a Reshape target, a resize's output size)
emits something different at the probe sizes: those nodes are refused by name, all at once, instead of
producing a model that is silently wrong at any other size.
"""
from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, TypeVar

import numpy as np

from .errors import MxConvertError, UnsupportedOpsError
from .ir import Graph, TensorRef
from .semantics.inference import infer_shapes, input_shapes_of, is_begin_state
from .semantics.rules import Shape, ShapeError

BATCH = "batch"
_FACTORS = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29)  # batch first, if dynamic; one per other dynamic axis
DRIFTS = "fixes a size that the dynamic axes leave free"
Emitted = TypeVar("Emitted")


@dataclass
class InputSizes:
    """The shape of every input (given or inferred), and which axes of the given ones are symbolic."""

    given: dict[str, Shape]
    axes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # input -> dynamic axes
    states: tuple[str, ...] = ()  # given begin states: at probe sizes their shapes follow the graph
    linked: bool = False  # dynamic axes of equal given size share one probe factor (a sequence axis of each input)

    @property
    def dynamic(self) -> bool:
        return any(self.axes.values())

    def batch_dynamic(self) -> bool:
        return any(0 in axes for axes in self.axes.values())

    def factors(self) -> dict[tuple[str, int], int]:
        """(input, axis) -> its probe factor: every batch axis shares the first one, each other axis gets the next
        prime (small probes: a graph may cap its sizes, as SSD's anchor table does); ``linked`` axes of one
        given size share theirs."""
        others = iter(_FACTORS[1:] if self.batch_dynamic() else _FACTORS)
        by_size: dict[int, int] = {}
        factors = {}
        for name, axes in self.axes.items():
            for axis in axes:
                size = self.given[name][axis]
                if axis == 0:
                    factors[(name, axis)] = _FACTORS[0]
                elif self.linked:
                    factors[(name, axis)] = by_size.setdefault(size, next(others))
                else:
                    factors[(name, axis)] = next(others)
        return factors

    def probe(self) -> dict[str, Shape]:
        """The given shapes with each dynamic axis scaled by its factor."""
        factors = self.factors()
        return {name: tuple(size * factors.get((name, axis), 1) for axis, size in enumerate(shape))
                for name, shape in self.given.items()}

    def dim_sources(self, shape: Shape, probe: Shape) -> list[int | tuple[str, int] | None]:
        """Each of ``shape``'s dims: its size where the probe kept it, the (input, axis) whose factor it
        follows, or None where it varies some other way."""
        by_factor: dict[int, tuple[str, int]] = {}
        for source, factor in self.factors().items():
            by_factor.setdefault(factor, source)
        return [size if size == scaled else by_factor.get(scaled // size if scaled % size == 0 else 0)
                for size, scaled in zip(shape, probe)]

    def dim_names(self, name: str, shape: Shape, probe: Shape) -> list[int | str]:
        """``shape``'s dims, symbolic where the probe changed them: named after the input axis whose factor
        they follow (``batch``, ``data_dim2``), else after the tensor (``prob_dim1``)."""
        return [dim if isinstance(dim, int) else f"{name}_dim{axis}" if dim is None
                else BATCH if dim[1] == 0 else f"{dim[0]}_dim{dim[1]}"
                for axis, dim in enumerate(self.dim_sources(shape, probe))]


def input_sizes(graph: Graph, input_shape: Shape | Mapping[str, Shape], dynamic_batch: bool = False,
                dynamic_axes: Mapping[str, Iterable[int]] | None = None) -> InputSizes:
    """The user's shapes and dynamic axes resolved against the graph's inputs (names checked, axes in range).
    ``dynamic_batch`` makes axis 0 of every given data input symbolic."""
    given = input_shapes_of(graph, dict(input_shape) if isinstance(input_shape, Mapping) else tuple(input_shape))
    states = tuple(name for name in given if is_begin_state(graph, name))
    axes: dict[str, set[int]] = {name: {0} for name in given if dynamic_batch and name not in states}
    for name, wanted in (dynamic_axes or {}).items():
        if name not in given:
            inputs = ", ".join(var.name for var in graph.inputs)
            raise MxConvertError(f"--dynamic_axes names {name!r}, which is no input with a given shape "
                                 f"(the graph's inputs: {inputs}; give its shape with --input_shape {name}=...)")
        rank = len(given[name])
        for axis in wanted:
            if not -rank <= axis < rank:
                raise MxConvertError(f"--dynamic_axes {name}: axis {axis} is out of range for its shape "
                                     f"{given[name]}")
            axes.setdefault(name, set()).add(axis % rank)
    return InputSizes(given, {name: tuple(sorted(values)) for name, values in axes.items()}, states)


INPUT_DTYPES = ("float16", "float64", "int8", "uint8", "int32", "int64")


def input_dtypes_of(graph: Graph, dtypes: Mapping[str, str] | None) -> dict[str, np.dtype]:
    """The element types the user chose for data inputs (``--input_dtype``), checked against the graph: the
    converted model takes them and casts to its float type inside, as MXNet computes on floats."""
    data = [var.name for var in graph.inputs if not is_begin_state(graph, var.name)]
    resolved = {}
    for name, dtype in (dtypes or {}).items():
        if name not in data:
            raise MxConvertError(f"--input_dtype names {name!r}, which is no data input (the graph's data inputs: "
                                 f"{', '.join(data)})")
        if dtype not in INPUT_DTYPES:
            raise MxConvertError(f"--input_dtype {name}: {dtype!r} is not one of {', '.join(INPUT_DTYPES)}")
        resolved[name] = np.dtype(dtype)
    return resolved


def probe_shapes(graph: Graph, sizes: InputSizes) -> dict[TensorRef, Shape]:
    """Every tensor's shape at the probe sizes (given begin states re-inferred where the graph fixes them: their
    batch axis follows the data's); a graph that cannot take them is refused with the reason. Where the inputs'
    dynamic axes must agree (BERT's tokens and token types share the sequence axis), axes of one given size are
    probed together: ``sizes.linked`` is set then."""
    probe = sizes.probe()
    if sizes.states:
        with contextlib.suppress(ShapeError):
            return infer_shapes(graph, {name: shape for name, shape in probe.items() if name not in sizes.states})
    try:
        return infer_shapes(graph, probe)
    except ShapeError as exc:
        if not sizes.linked:
            with contextlib.suppress(ShapeError):
                sizes.linked = True
                return infer_shapes(graph, sizes.probe())
            sizes.linked = False
            probe = sizes.probe()
        axes = " ".join(f"{name}={','.join(map(str, axes))}" for name, axes in sizes.axes.items())
        checked = " ".join(f"{name}={'x'.join(map(str, probe[name]))}" for name in sizes.axes)
        raise ShapeError(f"the graph does not take other sizes on the dynamic axes ({axes}; checked at {checked}): "
                         f"{exc}",
                         graph.source.params_file or None) from None


def digest(*parts: bytes | str) -> str:
    """A fingerprint of what a converter emitted for one node."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode() if isinstance(part, str) else part)
        hasher.update(b"\0")
    return hasher.hexdigest()


def refuse_drifting(graph: Graph, target: str, at_given: Mapping[str, str], at_probe: Mapping[str, str]) -> None:
    """Raise UnsupportedOpsError for every node whose emitted form (``node name -> digest``) depends on the
    sizes of the dynamic axes."""
    drifting: dict[str, list[str]] = {}
    for node in graph.nodes:
        if at_given.get(node.name) != at_probe.get(node.name):
            drifting.setdefault(f"{node.op} [{DRIFTS}]", []).append(node.name)
    if drifting:
        raise UnsupportedOpsError(f"{target} with dynamic axes", drifting)


LiveDims = Callable[[TensorRef], "list[int | tuple[str, int] | None]"]


def live_dims(sizes: InputSizes, shapes: dict[TensorRef, Shape], probe: dict[TensorRef, Shape] | None) -> LiveDims:
    """Each tensor's dims as a converted model computes them: a fixed size, the (input, axis) it follows at run
    time, or None where it varies some other way. The same for both conversions of ``emit_checked``."""
    if probe is None:
        return lambda ref: list(shapes[ref])
    return lambda ref: sizes.dim_sources(shapes[ref], probe[ref])


def all_fixed(dims: Iterable[int | tuple[str, int] | None]) -> bool:
    """Whether every one of ``dims`` (a ``LiveDims`` answer, or part of one) is a size fixed at conversion."""
    return all(isinstance(dim, int) for dim in dims)


def emit_checked(graph: Graph, target: str, shapes: dict[TensorRef, Shape], probe: dict[TensorRef, Shape] | None,
                 emit: Callable[[dict[TensorRef, Shape]], tuple[Emitted, dict[str, str]]]) -> Emitted:
    """``emit(shapes) -> (result, node digests)`` at the given sizes and, with ``probe`` shapes (some axis is
    dynamic), again at those: a node emitted differently is refused. Returns the result at the given sizes."""
    result, at_given = emit(shapes)
    if probe is not None:
        refuse_drifting(graph, target, at_given, emit(probe)[1])
    return result
