"""Which tensors MXNet holds in an integer type. The IR carries every tensor in the model's float type; the
emitters read this where integer arithmetic differs from float arithmetic: division truncates towards zero and
a scalar operand is first cast to the integer type (GluonCV's CenterNet divides top-k indices by the map size)."""
from __future__ import annotations

import math

from .ir import Graph, TensorRef
from .semantics.elementwise import BINARY_FORMS
from .semantics.indexing import INDEX_DTYPES
from .semantics.shape import CAST_DTYPES

INTEGER_DTYPES = frozenset(dtype for dtype in (*CAST_DTYPES, *INDEX_DTYPES) if "int" in dtype)
# ops whose outputs take the type of their data (the first input; where's second): moves, elementwise arithmetic
_SAME_AS_DATA = frozenset({"where", 
    "zeros_like", "ones_like", "Reshape", "reshape_like", "Flatten", "transpose", "expand_dims", "squeeze",
    "slice", "slice_axis", "slice_like", "SliceChannel", "_split_v2", "Concat", "stack", "tile", "repeat",
    "broadcast_to", "broadcast_axis", "broadcast_like", "take", "gather_nd", "pick", "reverse", "SwapAxis",
    "clip", "_copy", "BlockGrad", "abs", "negative", "floor", "ceil", "round", "rint", "fix", "trunc",
    *BINARY_FORMS})
_ALWAYS = frozenset({"shape_array", "size_array"})  # int64 in MXNet 1.9


def integer_tensors(graph: Graph) -> set[TensorRef]:
    """The node outputs that are of an integer type in MXNet (inputs and weights are float)."""
    integers: set[TensorRef] = set()
    for node in graph.nodes:
        dtype = node.attrs.get("dtype")
        if node.op in _ALWAYS or (node.op in ("Cast", "amp_cast", "_arange", "_zeros", "_ones", "_full", "one_hot",
                                              "argsort") and dtype in INTEGER_DTYPES):
            outputs = range(node.num_outputs)
        elif node.op == "topk" and dtype in INTEGER_DTYPES:  # the indices, after the values where both are given
            outputs = [node.num_outputs - 1] if node.attrs["ret_typ"] in ("indices", "both") else []
        elif node.op in _SAME_AS_DATA:
            data = node.inputs[1] if node.op == "where" else node.inputs[0] if node.inputs else None
            outputs = range(node.num_outputs) if data in integers else []
        else:
            outputs = []
        integers.update(node.output(i) for i in outputs)
    return integers


def integer_scalar(value: float) -> float:
    """A scalar operand as MXNet casts it to integer data: truncated towards zero (an infinity or NaN, whose cast
    C leaves undefined, is kept)."""
    return float(math.trunc(value)) if math.isfinite(value) else value
