"""Which tensors MXNet holds in an integer type. The IR carries every tensor in the model's float type; the
emitters read this where integer arithmetic differs from float arithmetic: division truncates towards zero and
a scalar operand is first cast to the integer type (GluonCV's CenterNet divides top-k indices by the map size).
The types themselves come from ``semantics.dtypes.tensor_dtypes``."""
from __future__ import annotations

import math

from .ir import Graph, TensorRef
from .semantics.dtypes import INTEGER_DTYPES, tensor_dtypes


def integer_tensors(graph: Graph) -> set[TensorRef]:
    """The node outputs that are of an integer type in MXNet (inputs and weights are float)."""
    return {ref for ref, dtype in tensor_dtypes(graph).items() if dtype in INTEGER_DTYPES}


def integer_scalar(value: float) -> float:
    """A scalar operand as MXNet casts it to integer data: truncated towards zero (an infinity or NaN, whose cast
    C leaves undefined, is kept)."""
    return float(math.trunc(value)) if math.isfinite(value) else value
