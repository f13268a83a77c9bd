"""Learned linear layers and matrix products: FullyConnected, Embedding, dot, batch_dot and ``_linalg_gemm2``."""
from __future__ import annotations

import math

from ..ir import Node
from .rules import Shape, ShapeError, expect, input_rule, shape_rule
from .schema import COUNT, OpDef, REQUIRED, alias, choice, define, parse_bool, parse_float, parse_int

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
_MATMUL = OpDef({"transpose_a": (parse_bool, False), "transpose_b": (parse_bool, False),
                 "forward_stype": (choice(None, "default", "row_sparse", "csr"), None)})


define({
    "FullyConnected": OpDef(
        {
            "num_hidden": (COUNT, REQUIRED),
            "no_bias": (parse_bool, False),
            "flatten": (parse_bool, True),
        },
        param_inputs=(1, 2),
        input_names=lambda a: ("data", "weight") + (() if a["no_bias"] else ("bias",)),
    ),
    "Embedding": OpDef(
        {
            "input_dim": (COUNT, REQUIRED),
            "output_dim": (COUNT, REQUIRED),
            "dtype": (choice("bfloat16", "float16", "float32", "float64", "int32", "int64", "int8", "uint8"),
                      "float32"),
            "sparse_grad": (parse_bool, False),
        },
        param_inputs=(1,),
        input_names=lambda a: ("data", "weight"),
    ),
    "dot": _MATMUL,
    "batch_dot": _MATMUL,
    "_linalg_gemm2": OpDef({"transpose_a": (parse_bool, False), "transpose_b": (parse_bool, False),
                            "alpha": (parse_float, 1.0), "axis": (parse_int, -2)}),
})


alias("_npx_embedding", "Embedding")
alias("_npx_batch_dot", "batch_dot")
alias("linalg_gemm2", "_linalg_gemm2")


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
@shape_rule("FullyConnected")
def _fully_connected(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    data = shapes[0]
    features = math.prod(data[1:]) if a["flatten"] else data[-1]
    expect(shapes[1], (a["num_hidden"], features), "weight")
    if not a["no_bias"]:
        expect(shapes[2], (a["num_hidden"],), "bias")
    return [(data[0], a["num_hidden"]) if a["flatten"] else (*data[:-1], a["num_hidden"])]


@input_rule("FullyConnected")
def _fully_connected_data(node: Node, inputs: list, outputs: list) -> list:
    """The data of a FullyConnected from its output and weight (a 2-D data when flattening)."""
    if inputs[0] is not None or inputs[1] is None or outputs[0] is None:
        return [None]
    return [(outputs[0][0], inputs[1][1]) if node.attrs["flatten"] else (*outputs[0][:-1], inputs[1][1])]


@shape_rule("Embedding")
def _embedding(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = node.attrs
    expect(shapes[1], (a["input_dim"], a["output_dim"]), "weight")
    return [(*shapes[0], a["output_dim"])]


def dot_axes(attrs: dict, left: Shape, right: Shape) -> tuple[int, int]:
    """The axis of each ``dot`` operand that MXNet contracts: the last of ``left`` and the first of ``right``,
    swapped by ``transpose_a``/``transpose_b`` (a 1-D operand is contracted whole)."""
    if len(left) == len(right) == 1 and (attrs["transpose_a"] or attrs["transpose_b"]):
        raise ShapeError("MXNet's dot cannot transpose vectors")
    left_axis = 0 if len(left) == 1 or attrs["transpose_a"] else len(left) - 1
    right_axis = len(right) - 1 if len(right) > 1 and attrs["transpose_b"] else 0
    if left[left_axis] != right[right_axis]:
        raise ShapeError(f"dot of {left} and {right} contracts sizes {left[left_axis]} and {right[right_axis]}")
    return left_axis, right_axis


@shape_rule("dot")
def _dot(node: Node, shapes: list[Shape]) -> list[Shape]:
    left, right = shapes
    left_axis, right_axis = dot_axes(node.attrs, left, right)
    free = [s for i, s in enumerate(left) if i != left_axis] + [s for i, s in enumerate(right) if i != right_axis]
    return [tuple(free) or (1,)]


def matrix_axes(rank: int, row_axis: int = -2) -> list[int]:
    """The permutation that moves a batched matrix's ``row_axis`` next to its last (column) axis, as
    ``_linalg_gemm2``'s ``axis`` reads it (the identity for the default -2)."""
    row = row_axis + rank if row_axis < 0 else row_axis
    if not 0 <= row < rank - 1:
        raise ShapeError(f"invalid row axis {row_axis} for {rank}-D operands")
    return [i for i in range(rank - 1) if i != row] + [row, rank - 1]


def _matrix_product(node: Node, shapes: list[Shape], row_axis: int, min_rank: int) -> Shape:
    """The batched matrix product of two operands whose matrices lie on (``row_axis``, last axis)."""
    left, right = shapes
    if len(left) != len(right) or len(left) < min_rank:
        raise ShapeError(f"operands of shapes {left} and {right}: expected equal ranks of at least {min_rank}")
    perm = matrix_axes(len(left), row_axis)
    left, right = (tuple(shape[i] for i in perm) for shape in (left, right))
    (m, k), (k2, n) = (left[-2:][::-1] if node.attrs["transpose_a"] else left[-2:],
                       right[-2:][::-1] if node.attrs["transpose_b"] else right[-2:])
    if left[:-2] != right[:-2] or k != k2:
        raise ShapeError(f"operands of shapes {shapes[0]} and {shapes[1]} do not multiply as matrices")
    out = (*left[:-2], m, n)
    return tuple(out[perm.index(i)] for i in range(len(perm)))


@shape_rule("batch_dot")
def _batch_dot(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [_matrix_product(node, shapes, -2, 3)]


@shape_rule("_linalg_gemm2")
def _gemm2(node: Node, shapes: list[Shape]) -> list[Shape]:
    return [_matrix_product(node, shapes, node.attrs["axis"], 2)]
