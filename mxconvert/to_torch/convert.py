"""Checkpoint -> ``kit_model.py`` + ``model.pth``: emit, verify in memory, then write both files atomically."""
from __future__ import annotations

import io
import os

import torch

from ..checkpoint import Checkpoint, load_checkpoint
from ..errors import InternalError, MxConvertError, first_line
from ..fileio import atomic_output
from .codegen import emit_pytorch
from .loader import build_model, module_from_source


def serialize_state(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def verify(source: str, state_bytes: bytes, input_shape: tuple[int, ...]) -> torch.nn.Module:
    """Import the source, load the serialised weights strictly (``weights_only``) and run zeros through it."""
    state = torch.load(io.BytesIO(state_bytes), weights_only=True)
    try:  # torch's layers validate what the symbol's attributes give them (a Dropout p of -1...)
        model = build_model(module_from_source(source), state)
        with torch.no_grad():
            model(torch.zeros(input_shape))
    except MxConvertError:
        raise
    except Exception as exc:
        raise InternalError(f"the generated model fails on an input of shape {tuple(input_shape)}: "
                            f"{type(exc).__name__}: {first_line(exc)}") from exc
    return model


def convert_to_pytorch(checkpoint: Checkpoint, epoch: int, model_path: str | os.PathLike, kit_path: str | os.PathLike,
                       input_shape: tuple[int, ...], fuse_bn: bool = False, keep_softmax: bool = True
                       ) -> torch.nn.Module:
    """Write ``kit_path`` and ``model_path`` only after the generated model has loaded and run."""
    graph = load_checkpoint(checkpoint, epoch)
    source, state = emit_pytorch(graph, input_shape, fuse_bn=fuse_bn, keep_softmax=keep_softmax)
    state_bytes = serialize_state(state)
    model = verify(source, state_bytes, input_shape)
    with atomic_output(kit_path, "w") as kit, atomic_output(model_path) as weights:
        kit.write(source)
        weights.write(state_bytes)
    return model
