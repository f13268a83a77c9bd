"""MXNet's ``_linalg_*`` operators on batches of matrices (the trailing two axes; leading axes are a batch):
determinants, inverses and solves, Cholesky factor and inverse, triangular products and solves, symmetric rank-k
update, log-diagonal sums, diagonal and triangle packing, LQ factorisation and symmetric eigendecomposition; the
NumPy interface's pseudo-inverse, eigendecompositions, eigenvalues and singular value decomposition, tensor
inverse and tensor solve."""
from __future__ import annotations

import math

from ..ir import Node
from .rules import Shape, ShapeError, shape_rule
from .schema import FLOAT32_MAX, OpDef, alias, define, parse_bool, parse_float, parse_int, optional, parse_shape

# --- schemas ----------------------------------------------------------------------------------------------
_LOWER = {"lower": (parse_bool, True)}
_TRIANGULAR = OpDef({"transpose": (parse_bool, False), "rightside": (parse_bool, False), **_LOWER,
                     "alpha": (parse_float, 1.0)})
_OFFSET = {"offset": (parse_int, 0)}


def parse_uplo(text: str) -> str:
    """NumPy's ``UPLO``, an MXNet ``char`` parameter: one character, whitespace around it ignored; "U" names the
    upper triangle and any other character the lower one ("L")."""
    stripped = text.strip()
    if len(stripped) != 1 or stripped == "\0":
        raise ValueError(f"not one character: {text[:40]!r}")
    return "U" if stripped == "U" else "L"


define({
    "_linalg_potrf": OpDef(_LOWER),
    "_linalg_potri": OpDef(_LOWER),
    "_linalg_trmm": _TRIANGULAR,
    "_linalg_trsm": _TRIANGULAR,
    "_linalg_syrk": OpDef({"transpose": (parse_bool, False), "alpha": (parse_float, 1.0)}),
    "_linalg_sumlogdiag": OpDef(),
    "_linalg_extractdiag": OpDef(_OFFSET),
    "_linalg_makediag": OpDef(_OFFSET),
    "_linalg_extracttrian": OpDef({**_OFFSET, **_LOWER}),
    "_linalg_maketrian": OpDef({**_OFFSET, **_LOWER}),
    "_linalg_gelqf": OpDef(outputs=lambda a: 2),
    "_linalg_syevd": OpDef(outputs=lambda a: 2),
})
for _op in ("potrf", "potri", "trmm", "trsm", "syrk", "sumlogdiag", "extractdiag", "makediag", "extracttrian",
            "maketrian", "gelqf", "syevd"):
    alias(f"linalg_{_op}", f"_linalg_{_op}")
alias("_npi_cholesky", "_linalg_potrf")

define({
    "_npi_pinv": OpDef({"hermitian": (parse_bool, False)}),  # rcond: a tensor input
    "_npi_pinv_scalar_rcond": OpDef({"rcond": (parse_float, 1e-15), "hermitian": (parse_bool, False)}),
    "_npi_eigvalsh": OpDef({"UPLO": (parse_uplo, "L")}),
    "_npi_tensorinv": OpDef({"ind": (parse_int, 2)}),
    "_npi_tensorsolve": OpDef({"a_axes": (optional(parse_shape), None)}),
})


# --- square matrices: determinants, inverses and solves; the decompositions no target converts exactly ------------
define({
    # MXNet keeps the LU factors and pivots as hidden outputs
    "_linalg_det": OpDef(outputs=lambda a: 3),
    "_linalg_slogdet": OpDef(outputs=lambda a: 4),
    "_linalg_inverse": OpDef(),
    "_npi_solve": OpDef(),
})
for _spelling, _op in (("linalg_det", "_linalg_det"), ("_npi_det", "_linalg_det"),
                       ("linalg_slogdet", "_linalg_slogdet"), ("_npi_slogdet", "_linalg_slogdet"),
                       ("linalg_inverse", "_linalg_inverse"), ("_npi_inv", "_linalg_inverse")):
    alias(_spelling, _op)

# NumPy's eigendecompositions and SVD (LAPACK's geev, syevd and gesvd): eigenvalues in geev's order (eig, eigvals;
# MXNet fails on complex ones) or ascending (eigh), singular values descending; eigh's and svd's vectors signed so that
# the first entry of largest magnitude of each eigenvector (each row of v) is positive
define({
    "_npi_eig": OpDef(outputs=lambda a: 2),
    "_npi_eigh": OpDef({"UPLO": (parse_uplo, "L")}, outputs=lambda a: 2),
    "_npi_eigvals": OpDef(),
    "_npi_svd": OpDef(outputs=lambda a: 3),
})
# decompositions read but converted by neither target: op -> why
UNCONVERTED_LINALG = {
    "_npi_eig": "eigenvectors' signs are LAPACK geev's, never normalised: MXNet's own float32 and float64 results "
                "differ in sign",
}


def triangular_alpha_refusal(node: Node, *context: object) -> str | None:
    """Why a trmm or trsm is not converted: an ``alpha`` infinite in float32, whose products MXNet's BLAS forms in
    its own blocked order, zeros of the triangle it does not read included (NaN where no formula has 0 * inf)."""
    alpha = node.attrs["alpha"]
    if math.isfinite(alpha) and abs(alpha) <= FLOAT32_MAX:
        return None
    return f"alpha {alpha}: MXNet's result is its BLAS kernel's blocking"


def linalg_refusal(node: Node, *context: object) -> str:
    """Why a decomposition of ``UNCONVERTED_LINALG`` is not converted (a registry ``check``)."""
    return UNCONVERTED_LINALG[node.op]


# --- shape rules, and the MXNet semantics both emitters share -----------------------------------------------
def _square(shape: Shape, what: str = "data") -> int:
    """The size of the square matrices on the trailing two axes."""
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ShapeError(f"{what} of shape {shape}: square matrices on the last two axes are needed")
    return shape[-1]


@shape_rule("_linalg_det", "_linalg_slogdet")
def _determinant(node: Node, shapes: list[Shape]) -> list[Shape]:
    """One value per matrix (one matrix: shape (1,), as in MXNet), then the hidden LU factors and pivots."""
    _square(shapes[0])
    values = [shapes[0][:-2] or (1,)] * (node.num_outputs - 2)
    return [*values, shapes[0], shapes[0][:-1]]


@shape_rule("_npi_solve")
def _solve(node: Node, shapes: list[Shape]) -> list[Shape]:
    """b holds vectors (a's rank less one) or matrices (a's rank), on a's batch axes."""
    a, b = shapes
    _square(a, "a")
    batch = a[:-2]
    vectors = len(b) == len(a) - 1
    if not (vectors or len(b) == len(a)) or b[:len(batch)] != batch or b[len(batch)] != a[-1]:
        raise ShapeError(f"a of shape {a} and b of shape {b} do not solve")
    return [b]


@shape_rule("_linalg_potrf", "_linalg_potri", "_linalg_inverse")
def _same_square(node: Node, shapes: list[Shape]) -> list[Shape]:
    _square(shapes[0])
    return [shapes[0]]


@shape_rule("_linalg_trmm", "_linalg_trsm")
def _triangular(node: Node, shapes: list[Shape]) -> list[Shape]:
    """B's shape: the triangular A multiplies (or divides) it from the left, or from the right."""
    a, b = shapes
    n = _square(a, "A")
    side = -1 if node.attrs["rightside"] else -2
    if len(a) != len(b) or a[:-2] != b[:-2] or b[side] != n:
        raise ShapeError(f"A of shape {a} and B of shape {b} do not multiply")
    return [b]


@shape_rule("_linalg_syrk")
def _syrk(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = shapes[0]
    if len(a) < 2:
        raise ShapeError(f"A of shape {a}: matrices on the last two axes are needed")
    n = a[-1] if node.attrs["transpose"] else a[-2]
    return [(*a[:-2], n, n)]


@shape_rule("_linalg_sumlogdiag")
def _sumlogdiag(node: Node, shapes: list[Shape]) -> list[Shape]:
    """One value per matrix (one matrix: shape (1,), as in MXNet)."""
    _square(shapes[0])
    return [shapes[0][:-2] or (1,)]


def _offset_size(n: int, offset: int) -> int:
    size = n - abs(offset)
    if size <= 0:
        raise ShapeError(f"offset {offset} leaves nothing of a {n}x{n} matrix")
    return size


@shape_rule("_linalg_extractdiag", "_linalg_extracttrian")
def _extract(node: Node, shapes: list[Shape]) -> list[Shape]:
    size = _offset_size(_square(shapes[0]), node.attrs["offset"])
    return [(*shapes[0][:-2], size if node.op == "_linalg_extractdiag" else size * (size + 1) // 2)]


def packed_side(length: int) -> int:
    """The side of the triangle ``maketrian`` unpacks from ``length`` values."""
    side = math.floor(0.5 + (math.sqrt(8 * length + 1) - 1.0) * 0.5)
    if side * (side + 1) // 2 != length:
        raise ShapeError(f"{length} values do not fill a triangle")
    return side


@shape_rule("_linalg_makediag", "_linalg_maketrian")
def _make(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if not data:
        raise ShapeError("a 0-d tensor has no vectors to place")
    side = data[-1] if node.op == "_linalg_makediag" else packed_side(data[-1])
    n = side + abs(node.attrs["offset"])
    return [(*data[:-1], n, n)]


@shape_rule("_linalg_gelqf")
def _gelqf(node: Node, shapes: list[Shape]) -> list[Shape]:
    """Q of A's shape and the square L of its rows."""
    a = shapes[0]
    if len(a) < 2 or a[-2] > a[-1]:
        raise ShapeError(f"A of shape {a}: matrices with no more rows than columns are needed")
    return [a, (*a[:-1], a[-2])]


@shape_rule("_linalg_syevd")
def _syevd(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The eigenvectors (rows) and the eigenvalues."""
    _square(shapes[0])
    return [shapes[0], shapes[0][:-1]]


@shape_rule("_npi_pinv", "_npi_pinv_scalar_rcond")
def _pinv(node: Node, shapes: list[Shape]) -> list[Shape]:
    a = shapes[0]
    if len(a) < 2:
        raise ShapeError(f"a of shape {a}: matrices on the last two axes are needed")
    return [(*a[:-2], a[-1], a[-2])]


@shape_rule("_npi_eigvalsh", "_npi_eigvals")
def _eigvalsh(node: Node, shapes: list[Shape]) -> list[Shape]:
    _square(shapes[0])
    return [shapes[0][:-1]]


@shape_rule("_npi_eig", "_npi_eigh")
def _eig(node: Node, shapes: list[Shape]) -> list[Shape]:
    """The eigenvalues, then the eigenvectors (columns)."""
    _square(shapes[0])
    return [shapes[0][:-1], shapes[0]]


@shape_rule("_npi_svd")
def _svd(node: Node, shapes: list[Shape]) -> list[Shape]:
    """a = ut @ diag(l) @ v for matrices a of m <= n: ut (m x m), l (m values), v (m x n)."""
    a = shapes[0]
    if len(a) < 2 or a[-2] > a[-1]:
        raise ShapeError(f"a of shape {a}: matrices with no more rows than columns are needed")
    return [(*a[:-1], a[-2]), a[:-1], a]


@shape_rule("_npi_tensorinv")
def _tensorinv(node: Node, shapes: list[Shape]) -> list[Shape]:
    """NumPy's: a's first ``ind`` axes and its others, swapped; both must hold as many values."""
    a, ind = shapes[0], node.attrs["ind"]
    if not 0 < ind < len(a) or math.prod(a[:ind]) != math.prod(a[ind:]):
        raise ShapeError(f"a of shape {a} has no inverse over its first {ind} axes")
    return [(*a[ind:], *a[:ind])]


@shape_rule("_npi_tensorsolve")
def _tensorsolve(node: Node, shapes: list[Shape]) -> list[Shape]:
    """NumPy's: a's axes with ``a_axes`` moved to the end, b's shape first; x's shape the rest, as many values."""
    a, b = shapes
    moved = [axis % len(a) for axis in node.attrs["a_axes"] or ()]
    ordered = tuple(a[axis] for axis in range(len(a)) if axis not in moved) + tuple(a[axis] for axis in moved)
    if ordered[:len(b)] != tuple(b) or math.prod(ordered[len(b):]) != math.prod(b):
        raise ShapeError(f"a of shape {a} and b of shape {b} do not solve")
    return [ordered[len(b):]]


def diagonal_positions(n: int, offset: int) -> list[int]:
    """The flat positions (row * n + column) in an n x n matrix of diagonal ``offset``, first row first."""
    return [(i - min(offset, 0)) * n + i + max(offset, 0) for i in range(_offset_size(n, offset))]


def triangle_positions(n: int, offset: int, lower: bool) -> list[int]:
    """The flat positions in an n x n matrix of the triangle MXNet packs, in its packed order: the lower triangle
    below diagonal ``offset`` < 0 (``offset`` 0: the lower one where ``lower``) row by row, else the upper triangle
    above it column by column."""
    transposed = offset > 0 or (offset == 0 and not lower)
    size = _offset_size(n, offset)
    positions = [0] * (size * (size + 1) // 2)
    for flat in range(n * n):
        row, col = divmod(flat, n)
        if transposed:
            row, col = col, row
        row -= abs(offset)
        if row >= col:
            positions[row * (row + 1) // 2 + col] = flat
    return positions


def placed_sources(n: int, positions: list[int]) -> list[int]:
    """For each flat position of an n x n matrix, the index of the packed value placed there, or -1 (zero)."""
    sources = [-1] * (n * n)
    for index, flat in enumerate(positions):
        sources[flat] = index
    return sources


def make_positions(node: Node, length: int) -> tuple[int, list[int]]:
    """``makediag``/``maketrian`` of vectors of ``length``: the matrices' side and where each value goes."""
    a = node.attrs
    side = length if node.op == "_linalg_makediag" else packed_side(length)
    n = side + abs(a["offset"])
    if node.op == "_linalg_makediag":
        return n, diagonal_positions(n, a["offset"])
    return n, triangle_positions(n, a["offset"], a["lower"])


def extract_positions(node: Node, n: int) -> list[int]:
    """``extractdiag``/``extracttrian`` of n x n matrices: the flat positions read, in output order."""
    a = node.attrs
    if node.op == "_linalg_extractdiag":
        return diagonal_positions(n, a["offset"])
    return triangle_positions(n, a["offset"], a["lower"])
