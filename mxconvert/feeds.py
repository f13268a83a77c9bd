"""What every backend is fed: one array for a single-input model, or arrays by input name; begin states and
labels left out are zeros (with a one-line notice), a data input left out is an error naming it."""
from __future__ import annotations

import sys
from typing import Callable, Mapping, Sequence

import numpy as np

from .errors import MxConvertError

BEGIN_STATES_KEY = "mxconvert_begin_states"  # ONNX metadata: JSON list of the inputs that default to zeros
FOLDED_INTO_KEY = "mxconvert_folded_into"  # ONNX metadata: JSON {BatchNorm: the Convolution it was folded into}
Feeds = dict[str, np.ndarray]
Given = np.ndarray | Mapping[str, np.ndarray]
_NOTICED: set[tuple[str, str]] = set()  # (backend, input) already announced: a folder runs in many batches


def given_feeds(given: Given, data_inputs: Sequence[str], inputs: Sequence[str]) -> Feeds:
    """``given`` by input name: a bare array is the first data input's; a name that is no input is an error
    listing the model's inputs."""
    if not isinstance(given, Mapping):
        if not data_inputs:
            raise MxConvertError("the model has no data input to feed")
        return {data_inputs[0]: given}
    unknown = [name for name in given if name not in inputs]
    if unknown:
        raise MxConvertError(f"no input named {', '.join(map(repr, unknown))} (the model's inputs: "
                             f"{', '.join(inputs)})")
    return dict(given)


def complete_feeds(given: Given, inputs: Sequence[str], optional: Sequence[str],
                   shape_of: Callable[[str, Feeds], tuple[int, ...] | None], backend: str) -> Feeds:
    """Every input of ``inputs`` (in order) fed: ``optional`` ones not given are zeros of ``shape_of(name,
    given feeds)`` with a notice on stderr; a data input not given, or an optional one of unknown shape, is an
    error naming it."""
    feeds = given_feeds(given, [name for name in inputs if name not in optional], inputs)
    missing = [name for name in inputs if name not in feeds and name not in optional]
    if missing:
        raise MxConvertError(f"data input {', '.join(map(repr, missing))} not given (give NAME=PATH for each "
                             f"of the model's inputs: {', '.join(inputs)})")
    for name in inputs:
        if name in feeds:
            continue
        shape = shape_of(name, feeds)
        if shape is None:
            raise MxConvertError(f"input {name!r} not given and its shape is not known; give it as NAME=PATH")
        if (backend, name) not in _NOTICED:
            _NOTICED.add((backend, name))
            print(f"note: {backend}: input {name} not given, fed zeros of shape {tuple(shape)}", file=sys.stderr)
        feeds[name] = np.zeros(shape, np.float32)
    return {name: feeds[name] for name in inputs}
