"""Learned linear layers and matrix products: FullyConnected, Embedding, dot, batch_dot, ``_linalg_gemm(2)`` and
the NumPy interface's matmul, dot, tensordot and einsum."""
from __future__ import annotations

import math

import numpy as np

from ..ir import Node
from .rules import Shape, ShapeError, axis_index, expect, input_rule, shape_rule
from .schema import (COUNT, OpDef, REQUIRED, alias, choice, define, parse_bool, parse_float, parse_int, parse_shape,
                     parse_str)

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
    "_linalg_gemm": OpDef({"transpose_a": (parse_bool, False), "transpose_b": (parse_bool, False),
                           "alpha": (parse_float, 1.0), "beta": (parse_float, 1.0), "axis": (parse_int, -2)}),
})


alias("_npx_embedding", "Embedding")
alias("_npx_batch_dot", "batch_dot")
alias("_npx_fully_connected", "FullyConnected")
alias("linalg_gemm2", "_linalg_gemm2")
alias("linalg_gemm", "_linalg_gemm")


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


@shape_rule("_linalg_gemm")
def _gemm(node: Node, shapes: list[Shape]) -> list[Shape]:
    """``_linalg_gemm2``'s product, to which C (of its shape) is added."""
    out = _matrix_product(node, shapes[:2], node.attrs["axis"], 2)
    expect(shapes[2], out, "C")
    return [out]


# --- MXNet's NumPy interface: matmul, dot, tensordot and einsum, each an einsum equation ----------------------
define({
    "_npi_matmul": OpDef(),
    "_np_dot": OpDef(),
    "_npi_tensordot": OpDef({"a_axes_summed": (parse_shape, REQUIRED), "b_axes_summed": (parse_shape, REQUIRED)}),
    "_npi_tensordot_int_axes": OpDef({"axes": (parse_int, REQUIRED)}),
    "_npi_einsum": OpDef({"subscripts": (parse_str, REQUIRED), "num_args": (COUNT, REQUIRED),
                          "optimize": (parse_int, 0)}),
})

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _axes_of(axes: tuple, rank: int, what: str) -> list[int]:
    indices = [axis_index(axis, rank, what) for axis in axes]
    if len(set(indices)) != len(indices):
        raise ShapeError(f"{what} {axes} has duplicates")
    return indices


def product_equation(node: Node, shapes: list[Shape]) -> str:
    """The einsum equation of a NumPy product: ``np.dot`` (a's last axis with b's second to last, or its only
    one), ``np.tensordot`` (listed axes, or a's last ``axes`` with b's first), ``np.matmul`` (batched, broadcast)
    and ``np.einsum``'s own subscripts."""
    if node.op == "_npi_einsum":
        return node.attrs["subscripts"].replace(" ", "")
    if len(shapes) != 2:
        raise ShapeError(f"{node.op} takes two operands, got {len(shapes)}")
    left, right = shapes
    a = list(_LETTERS[:len(left)])
    b = list(_LETTERS[len(left):len(left) + len(right)])
    if len(left) + len(right) > len(_LETTERS):
        raise ShapeError(f"operands of ranks {len(left)} and {len(right)} have too many axes")
    if node.op == "_npi_matmul":
        if not left or not right:
            raise ShapeError("matmul takes operands of 1 or more axes")
        return _matmul_equation(left, right)
    if node.op == "_np_dot":
        summed = ([len(left) - 1], [max(len(right) - 2, 0)]) if left and right else ([], [])
    elif node.op == "_npi_tensordot_int_axes":
        count = max(node.attrs["axes"], 0)  # MXNet sums over no axis for a negative count: the outer product
        if count > min(len(left), len(right)):
            raise ShapeError(f"axes {count} does not fit operands of shapes {left} and {right}")
        summed = (list(range(len(left) - count, len(left))), list(range(count)))
    else:
        summed = (_axes_of(node.attrs["a_axes_summed"], len(left), "a_axes_summed"),
                  _axes_of(node.attrs["b_axes_summed"], len(right), "b_axes_summed"))
        if len(summed[0]) != len(summed[1]):
            raise ShapeError(f"a_axes_summed and b_axes_summed differ in length")
    for i, j in zip(*summed):
        if left[i] != right[j]:
            raise ShapeError(f"operands of shapes {left} and {right}: axis {i} and axis {j} differ in size")
        b[j] = a[i]
    out = [x for i, x in enumerate(a) if i not in summed[0]] + [x for j, x in enumerate(b) if j not in summed[1]]
    return f"{''.join(a)},{''.join(b)}->{''.join(out)}"


def _matmul_equation(left: Shape, right: Shape) -> str:
    """``np.matmul``: a 1-D operand is a row (left) or column (right), leading axes broadcast."""
    batch = max(len(left), len(right)) - 2
    if batch > len(_LETTERS) - 3:
        raise ShapeError("matmul operands have too many axes")
    lead = _LETTERS[3:3 + max(batch, 0)]
    a = (lead[len(lead) - (len(left) - 2):] if len(left) > 2 else "") + ("ik" if len(left) >= 2 else "k")
    b = (lead[len(lead) - (len(right) - 2):] if len(right) > 2 else "") + ("kj" if len(right) >= 2 else "k")
    out = lead + ("i" if len(left) >= 2 else "") + ("j" if len(right) >= 2 else "")
    return f"{a},{b}->{out}"


def einsum_shape(equation: str, shapes: list[Shape]) -> Shape:
    """The output shape of ``equation`` on operands of ``shapes`` (NumPy's rules), computed on zeros that take
    no memory."""
    operands = [np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape, [0] * len(shape))
                for shape in shapes]
    try:
        return tuple(np.einsum(equation, *operands).shape)
    except ValueError as exc:
        raise ShapeError(f"einsum {equation!r} on operands of shapes {shapes}: {exc}") from None


@shape_rule("_npi_matmul", "_np_dot", "_npi_tensordot", "_npi_tensordot_int_axes", "_npi_einsum")
def _numpy_product(node: Node, shapes: list[Shape]) -> list[Shape]:
    if node.op == "_npi_matmul":  # the broadcast batch axes
        left, right = shapes
        if not left or not right or left[-1] != right[-2 if len(right) > 1 else 0]:
            raise ShapeError(f"operands of shapes {left} and {right} do not multiply")
    return [einsum_shape(product_equation(node, shapes), shapes)]


# --- khatri_rao: the column-wise Kronecker product of matrices ------------------------------------------------
define({"khatri_rao": OpDef({"num_args": (COUNT, REQUIRED)})})


@shape_rule("khatri_rao")
def _khatri_rao(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Matrices of one column count N: (M1 x ... x Mn, N)."""
    if any(len(shape) != 2 or shape[1] != shapes[0][1] for shape in shapes):
        raise ShapeError(f"inputs of shapes {shapes}: khatri_rao takes matrices of one column count")
    return [(math.prod(shape[0] for shape in shapes), shapes[0][1])]


# --- _contrib_fft / _contrib_ifft: MXNet's GPU-only 1-D DFT along the last axis (no CPU kernel in MXNet 1.9.1) --
define({op: OpDef({"compute_size": (parse_int, 128)}) for op in ("_contrib_fft", "_contrib_ifft")})


@shape_rule("_contrib_fft", "_contrib_ifft")
def _fft(node: Node, shapes: list[Shape]) -> list[Shape]:
    """2-D or 4-D data; ``fft`` doubles the last axis (real, imaginary interleaved), ``ifft`` halves it (the real
    part of each result). ``compute_size`` only batches cuFFT's calls."""
    data = shapes[0]
    if len(data) not in (2, 4) or node.op == "_contrib_ifft" and data[-1] % 2:
        raise ShapeError(f"data of shape {data}: {node.op} takes 2-D or 4-D data" +
                         (", its last axis even" if node.op == "_contrib_ifft" else ""))
    last = data[-1] * 2 if node.op == "_contrib_fft" else data[-1] // 2
    return [(*data[:-1], last)]


def dft_matrix(op: str, size: int) -> np.ndarray:
    """The unnormalised DFT along the last axis as a matrix, computed in float64: ``fft``'s (n, 2n) maps real
    values onto interleaved ``(re, im)`` pairs (angle ``-2 pi j k / n``); ``ifft``'s (2n, n) maps interleaved pairs
    onto the real part of the inverse (angle ``+2 pi j k / n``, not divided by n, as cuFFT's)."""
    n = size if op == "_contrib_fft" else size // 2
    angle = 2 * np.pi * (np.outer(np.arange(n), np.arange(n)) % n) / n
    if op == "_contrib_fft":
        return np.stack([np.cos(angle), -np.sin(angle)], axis=-1).reshape(n, 2 * n)
    return np.stack([np.cos(angle), -np.sin(angle)], axis=1).reshape(2 * n, n)


# --- _contrib_count_sketch: MXNet's GPU-only sketch (no CPU kernel in MXNet 1.9.1) -----------------------------
# out[row, h[i]] += s[i] data[row, i] over each row of the data's last axis (d): h, the output column of each
# position (a float MXNet truncates, in [0, out_dim)), and s, its sign, are read flattened, their first d values;
# processing_batch_size only batches the GPU's kernel launches
define({"_contrib_count_sketch": OpDef({"out_dim": (parse_int, REQUIRED), "processing_batch_size": (parse_int, 32)},
                                       input_names=lambda a: ("data", "h", "s"))})


@shape_rule("_contrib_count_sketch")
def _count_sketch(node: Node, shapes: list[Shape]) -> list[Shape]:
    """2-D or 4-D data, h and s of two axes or more whose second is the data's last; the last axis becomes
    ``out_dim``."""
    data = shapes[0]
    if len(data) not in (2, 4):
        raise ShapeError(f"data of shape {data}: count_sketch takes 2-D or 4-D data")
    for name, shape in zip(("h", "s"), shapes[1:]):
        if len(shape) < 2 or shape[1] != data[-1]:
            raise ShapeError(f"{name} has shape {shape}: its second axis has to be the data's last, {data[-1]}")
    return [(*data[:-1], node.attrs["out_dim"])]
