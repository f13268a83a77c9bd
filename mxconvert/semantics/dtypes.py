"""MXNet's element type of every tensor in a graph (``tensor_dtypes``). The IR computes every tensor in the model's
float type; the emitters read these types where integer or boolean arithmetic differs from float arithmetic
(``integers.integer_tensors``) and cast each graph output to its MXNet type.

Legacy ops keep their data's type (or take their ``dtype`` attribute); ops spelled in MXNet's NumPy interface
(``_np_*``, ``_npi_*``, ``_npx_*``: ``Node.spelling``) follow MXNet 1.9's NumPy rules: comparisons, ``isnan`` and
``all``/``any`` give bool, ``argmax``/``argmin`` int64, ``true_divide`` of integers float32, ``mean`` of integers
float32, ``sum``/``prod``/``cumsum`` of bools int64, two tensors promote (``promoted``), and a tensor meets a
scalar as ``scalar_result`` says."""
from __future__ import annotations

from ..ir import Graph, Node, TensorRef
from .elementwise import BINARY_FORMS, COMPARISONS, NUMPY_PREDICATES, UNARY_MATH
from .indexing import CREATED_OPS, INDEX_DTYPES, MASK_ASSIGN_OPS
from .schema import numpy_spelled
from .shape import CAST_DTYPES, multicast_dtypes

FLOAT = "float32"
INTEGER_DTYPES = frozenset(dtype for dtype in (*CAST_DTYPES, *INDEX_DTYPES) if "int" in dtype)
# legacy ops whose outputs take the type of their data (the first input; where's second): moves, arithmetic
_SAME_AS_DATA = frozenset({
    "where", "zeros_like", "ones_like", "Reshape", "reshape_like", "Flatten", "transpose", "expand_dims", "squeeze",
    "slice", "slice_axis", "slice_like", "SliceChannel", "_split_v2", "Concat", "stack", "tile", "repeat",
    "broadcast_to", "broadcast_axis", "broadcast_like", "take", "gather_nd", "pick", "reverse", "SwapAxis",
    "clip", "_copy", "BlockGrad", "abs", "negative", "floor", "ceil", "round", "rint", "fix", "trunc", "diag",
    "batch_take", "scatter_nd", "_contrib_index_copy", "_ravel_multi_index", "_unravel_index", "_slice_assign",
    "_slice_assign_scalar", "_scatter_set_nd", "_contrib_boolean_mask", *MASK_ASSIGN_OPS, *BINARY_FORMS})
_CREATION = ("Cast", "amp_cast", "_arange", "_zeros", "_ones", "_full", "one_hot", "argsort")
_NUMPY_BOOL = frozenset({"logical_not", "_np_all", "_np_any", *NUMPY_PREDICATES})
_NUMPY_WIDENED = frozenset({"sum", "prod"})  # bool data sums to int64
_NUMPY_FLOAT_OF_INTEGERS = frozenset({"mean"})
# NumPy-interface ops whose output takes their data's type (others follow the legacy rules)
_NUMPY_SAME_AS_DATA = frozenset({*UNARY_MATH, "_npi_bitwise_not", "_copy", "clip", "Dropout", "max", "min", "norm",
                                 "_npi_std", "_npi_var", "_npi_around",
                                 "_npi_nan_to_num", "_npi_polyval", "_npi_diff", "_npi_pad",
                                 "_npi_ediff1d", "_npi_insert_scalar", "_npi_insert_slice", "_npi_insert_tensor"})
_FLOAT_ORDER = ("float64", "float32", "float16")
_INTEGER_ORDER = ("int64", "int32", "uint8", "int8")


def is_float(dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat"))


def promoted(left: str, right: str) -> str:
    """The type of a NumPy-interface op of two tensors (MXNet's ``np_binary_out_infer_type``): the wider float,
    else a float, else the wider integer (uint8 with int8: int32), bool the narrowest."""
    if {left, right} == {"uint8", "int8"}:
        return "int32"
    if left == right:
        return left
    for order in (_FLOAT_ORDER, _INTEGER_ORDER):
        for dtype in order:
            if dtype in (left, right):
                return dtype
    return left if is_float(left) else right


def scalar_result(data: str, scalar_is_int: bool) -> str:
    """The type of a NumPy-interface op of a tensor and a Python scalar (MXNet's ``NumpyBinaryScalarType``):
    integer data and a float scalar give float64, bool data int64 (an int scalar) or float64, else the data's."""
    if data == "bool":
        return "int64" if scalar_is_int else "float64"
    if not is_float(data) and not scalar_is_int:
        return "float64"
    return data


def true_division(left: str, right: str) -> str:
    """``true_divide``'s type: float32 where neither operand is a float, else the wider float."""
    floats = [dtype for dtype in (left, right) if is_float(dtype)]
    return promoted(*floats) if len(floats) == 2 else floats[0] if floats else FLOAT


def _numpy_dtype(node: Node, types: list[str]) -> str | None:
    op, data = node.op, types[0] if types else FLOAT
    form = BINARY_FORMS.get(op)
    if form is not None:
        if form.base in COMPARISONS or form.base.startswith("logical_"):
            return "bool"
        if form.form == "scalar":
            return true_division(data, data) if form.base == "div" else scalar_result(data, node.attrs["is_int"])
        return true_division(*types) if form.base == "div" else promoted(*types)
    if op in _NUMPY_BOOL:
        return "bool"
    if op in ("argmax", "argmin"):
        return "int64"
    if op == "_npi_percentile":
        return "float64" if data == "float64" else FLOAT
    if op == "_npi_where":
        return promoted(types[1], types[2])
    if op in ("_npi_where_lscalar", "_npi_where_rscalar"):
        return types[1]
    dtype = node.attrs.get("dtype")
    if isinstance(dtype, str) and op in (*_NUMPY_WIDENED, *_NUMPY_FLOAT_OF_INTEGERS):
        return dtype
    if op in _NUMPY_WIDENED and data == "bool":
        return "int64"
    if op in _NUMPY_FLOAT_OF_INTEGERS and not is_float(data) and node.spelling != "_npi_average":
        return FLOAT
    return data if op in (*_NUMPY_SAME_AS_DATA, *_NUMPY_WIDENED, *_NUMPY_FLOAT_OF_INTEGERS) else None


def tensor_dtypes(graph: Graph) -> dict[TensorRef, str]:
    """MXNet's element type (a NumPy type name) of every node output of ``graph``, its variables float32.

    A NumPy-interface op follows the legacy rules (its data's type for the moves and arithmetic, float32 for the
    rest) unless ``_numpy_dtype`` names it: an op with other rules joins by a case there."""
    dtypes: dict[TensorRef, str] = {}
    for node in graph.nodes:
        types = [dtypes.get(ref, FLOAT) for ref in node.inputs]
        dtype = node.attrs.get("dtype")
        if node.op in ("shape_array", "size_array", "_contrib_index_array", "_npi_diag_indices_from",
                       "_npx_nonzero"):  # int64 in MXNet 1.9
            outputs = ["int64"] * node.num_outputs
        elif (node.op in _CREATION or node.op in CREATED_OPS) and isinstance(dtype, str):
            outputs = [dtype] * node.num_outputs
        elif node.op == "_npi_unique":  # the values, then int64 positions and counts
            outputs = [types[0]] + ["int64"] * (node.num_outputs - 1)
        elif node.op == "_npi_bincount":  # the data's (integer) type, or the weights'
            outputs = [types[-1]]
        elif node.op == "_histogram":  # int64 counts, then the edges in the data's type
            outputs = ["int64", types[0]]
        elif node.op == "_np_cumsum":  # either spelling: its dtype, else its data's (bools sum to int64)
            outputs = [dtype if isinstance(dtype, str) else "int64" if types[0] == "bool" else types[0]]
        elif node.op == "amp_multicast":
            outputs = multicast_dtypes(types, node.attrs["cast_narrow"])
        elif node.op == "_contrib_allclose":
            outputs = ["uint8"]
        elif node.op == "_npi_full_like":  # its data's type unless dtype names one
            outputs = [dtype if isinstance(dtype, str) else types[0]] * node.num_outputs
        elif node.op == "topk" and isinstance(dtype, str):  # the indices, after the values where both are given
            outputs = [types[0]] * node.num_outputs
            if node.attrs["ret_typ"] in ("indices", "both"):
                outputs[-1] = dtype
        elif numpy_spelled(node) and _numpy_dtype(node, types) is not None:
            outputs = [_numpy_dtype(node, types)] * node.num_outputs
        elif node.op in _SAME_AS_DATA and types:
            outputs = [types[1] if node.op == "where" else types[0]] * node.num_outputs
        else:
            outputs = [FLOAT] * node.num_outputs
        dtypes.update((node.output(i), dtype) for i, dtype in enumerate(outputs))
    return dtypes
