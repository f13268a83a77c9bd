"""What every backend is fed: one array for a single-input model, or arrays by input name; begin states and
labels left out are zeros (with a one-line notice), a data input left out is an error naming it."""
from __future__ import annotations

import sys
from typing import Callable, Collection, Mapping, Sequence

import numpy as np

from .errors import MxConvertError

BEGIN_STATES_KEY = "mxconvert_begin_states"  # ONNX metadata: JSON list of the inputs that default to zeros
FOLDED_INTO_KEY = "mxconvert_folded_into"  # ONNX metadata: JSON {BatchNorm: the Convolution it was folded into}
Feeds = dict[str, np.ndarray]
Given = np.ndarray | Mapping[str, np.ndarray]
Runner = Callable[[Given], list[np.ndarray]]  # a loaded model of any backend: its inputs -> every output
_NOTICED: set[tuple[str, str]] = set()  # (backend, input) already announced: a folder runs in many batches


def given_feeds(given: Given, inputs: Sequence[str], optional: Collection[str]) -> Feeds:
    """``given`` by input name: a bare array is the first data input's (an input not ``optional``); a name that
    is no input, or a data input not given, is an error naming it with the model's inputs."""
    data = [name for name in inputs if name not in optional]
    if not isinstance(given, Mapping):
        if not data:
            raise MxConvertError("the model has no data input to feed")
        given = {data[0]: given}
    unknown = [name for name in given if name not in inputs]
    if unknown:
        raise MxConvertError(f"no input named {', '.join(map(repr, unknown))} (the model's inputs: "
                             f"{', '.join(inputs)})")
    missing = [name for name in data if name not in given]
    if missing:
        raise MxConvertError(f"data input {', '.join(map(repr, missing))} not given (give NAME=PATH for each "
                             f"of the model's inputs: {', '.join(inputs)})")
    return dict(given)


def complete_feeds(given: Given, inputs: Sequence[str], optional: Collection[str],
                   shape_of: Callable[[str, Feeds], tuple[int, ...] | None], backend: str) -> Feeds:
    """Every input of ``inputs`` (in order) fed (:func:`given_feeds`): ``optional`` ones not given are zeros of
    ``shape_of(name, given feeds)`` with a notice on stderr; one of unknown shape is an error naming it."""
    feeds = given_feeds(given, inputs, optional)
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
