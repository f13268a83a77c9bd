"""A graph -> a verified ``KitModel``: emit the source, load the state dict strictly, run it on zeros."""
from __future__ import annotations

import io

import torch

from ..errors import InternalError, MxConvertError, first_line
from ..ir import Graph
from ..semantics.inference import input_shapes_of
from ..semantics.rules import Shape
from .codegen import TorchOptions, emit_pytorch
from .loader import build_model, module_from_source


def serialize_state(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def verify(source: str, state_bytes: bytes, inputs: list[Shape | None]) -> torch.nn.Module:
    """Import the source, load the serialised weights strictly (``weights_only``) and run zeros of the input
    shapes (``forward``'s order) through it; None leaves a begin state to its default."""
    state = torch.load(io.BytesIO(state_bytes), weights_only=True)
    described = ", ".join(str(tuple(shape)) for shape in inputs if shape is not None)
    try:  # torch's layers validate what the symbol's attributes give them (a Dropout p of -1...)
        model = build_model(module_from_source(source), state)
        with torch.no_grad():
            model(*(None if shape is None else torch.zeros(shape) for shape in inputs))
    except MxConvertError:
        raise
    except Exception as exc:
        raise InternalError(f"the generated model fails on inputs {described}: "
                            f"{type(exc).__name__}: {first_line(exc)}") from exc
    return model


def to_module(graph: Graph, options: TorchOptions) -> tuple[torch.nn.Module, str, bytes]:
    """The ready ``KitModel`` (weights loaded, verified on zeros), its source and its serialised state dict."""
    source, state = emit_pytorch(graph, options)
    state_bytes = serialize_state(state)
    shape = options.input_shape
    given = input_shapes_of(graph, shape if isinstance(shape, dict) else tuple(shape))
    return verify(source, state_bytes, [given.get(var.name) for var in graph.inputs]), source, state_bytes
