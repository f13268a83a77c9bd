"""Checkpoint -> ``kit_model.py`` + ``model.pth``: emit, verify in memory, then write both files atomically."""
from __future__ import annotations

import io
import os

import torch

from ..checkpoint import Checkpoint, load_checkpoint
from ..convert import precision_notice
from ..errors import InternalError, MxConvertError, first_line
from ..fileio import atomic_output
from ..ir import Graph
from ..shapes import Shape, input_shapes_of
from .codegen import emit_pytorch
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


def to_module(graph: Graph, input_shape: Shape | dict[str, Shape], **options) -> tuple[torch.nn.Module, str, bytes]:
    """The ready ``KitModel`` (weights loaded, verified on zeros), its source and its serialised state dict.
    ``options``: those of :func:`emit_pytorch`."""
    source, state = emit_pytorch(graph, input_shape, **options)
    state_bytes = serialize_state(state)
    given = input_shapes_of(graph, input_shape if isinstance(input_shape, dict) else tuple(input_shape))
    return verify(source, state_bytes, [given.get(var.name) for var in graph.inputs]), source, state_bytes


def convert_to_pytorch(checkpoint: Checkpoint, epoch: int, model_path: str | os.PathLike, kit_path: str | os.PathLike,
                       input_shape: Shape | dict[str, Shape], **options) -> tuple[torch.nn.Module, list[str]]:
    """Write ``kit_path`` and ``model_path`` only after the generated model has loaded and run; returns the
    model and the notices to print. ``options``: those of :func:`emit_pytorch`."""
    graph = load_checkpoint(checkpoint, epoch)
    model, source, state_bytes = to_module(graph, input_shape, **options)
    with atomic_output(kit_path, "w") as kit, atomic_output(model_path) as weights:
        kit.write(source)
        weights.write(state_bytes)
    return model, precision_notice(graph)
