"""MXNet's ``_linalg_*`` operators as ONNX nodes (MXNet's semantics from ``semantics.linalg``): products of the
triangle LAPACK reads, entries gathered from and placed in flattened matrices; Cholesky factors, triangular solves
and LQ factorisations, inverses and solves (pivoted elimination) unrolled for the matrix size fixed at conversion;
symmetric eigendecompositions and the singular value decomposition as Jacobi rotations in float64, unrolled
likewise; the general eigendecomposition refused."""
from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto, helper

from ..errors import NotExpressible
from ..ir import Node
from ..semantics.linalg import (UNCONVERTED_LINALG, diagonal_positions, extract_positions, linalg_refusal,
                                make_positions, placed_sources, triangular_alpha_refusal)
from .context import EmitContext
from .registry import refuse, register


def _flat(ctx: EmitContext, x: str, rank: int, n: int) -> str:
    """n x n matrices on the last two axes as vectors of n * n entries (the batch axes kept as they are)."""
    return ctx.reshape(x, [0] * (rank - 2) + [n * n])


def _scaled(ctx: EmitContext, x: str, alpha: float, out: str | None) -> str:
    if alpha == 1.0:
        return ctx.add("Identity", [x], out) if out else x
    return ctx.add("Mul", [x, ctx.const(alpha, "alpha")], out)


def _transposed(ctx: EmitContext, x: str, rank: int, out: str | None = None) -> str:
    return ctx.add("Transpose", [x], out, perm=[*range(rank - 2), rank - 1, rank - 2])


@register("_linalg_trmm", check=triangular_alpha_refusal)
def trmm(ctx: EmitContext, node: Node) -> None:
    """alpha * op(A) @ B (B @ op(A) where ``rightside``), op(A) A's triangle (the other is never read, so it is
    dropped by ``Where``), transposed where ``transpose``."""
    a = node.attrs
    rank, n = len(ctx.shape(0)), ctx.shape(0)[-1]
    kept = np.tril(np.ones((n, n), bool)) if a["lower"] else np.triu(np.ones((n, n), bool))
    triangle = ctx.add("Where", [ctx.const(kept, "triangle", dtype=bool), ctx.input(0), ctx.const(0.0, "zero")])
    if a["transpose"]:
        triangle = _transposed(ctx, triangle, rank)
    operands = [ctx.input(1), triangle] if a["rightside"] else [triangle, ctx.input(1)]
    _scaled(ctx, ctx.add("MatMul", operands), a["alpha"], ctx.output())


@register("_linalg_syrk")
def syrk(ctx: EmitContext, node: Node) -> None:
    """alpha * A @ A.T (A.T @ A where ``transpose``)."""
    x = ctx.input(0)
    xt = _transposed(ctx, x, len(ctx.shape(0)))
    operands = [xt, x] if node.attrs["transpose"] else [x, xt]
    _scaled(ctx, ctx.add("MatMul", operands), node.attrs["alpha"], ctx.output())


def _entries(ctx: EmitContext, positions: list[int], x: str | None = None) -> str:
    """The entries at flat ``positions`` of input 0's matrices (or of ``x``, of their shape), in order, on the
    last axis."""
    rank, n = len(ctx.shape(0)), ctx.shape(0)[-1]
    return ctx.add("Gather", [_flat(ctx, x or ctx.input(0), rank, n), ctx.ints(positions, "positions")],
                   axis=rank - 2)


@register("_linalg_sumlogdiag")
def sumlogdiag(ctx: EmitContext, node: Node) -> None:
    """The sum of the logs of the diagonal; one matrix gives shape (1,), as in MXNet."""
    logs = ctx.add("Log", [_entries(ctx, diagonal_positions(ctx.shape(0)[-1], 0))])
    rank = len(ctx.shape(0))
    if rank == 2:
        ctx.reduce_sum(logs, [0], ctx.output())
    else:
        ctx.reduce_sum(logs, [rank - 2], ctx.output(), keepdims=0)


@register("_linalg_extractdiag", "_linalg_extracttrian")
def extract(ctx: EmitContext, node: Node) -> None:
    positions = extract_positions(node, ctx.shape(0)[-1])
    ctx.add("Identity", [_entries(ctx, positions)], ctx.output())


@register("_linalg_makediag", "_linalg_maketrian")
def make(ctx: EmitContext, node: Node) -> None:
    """Each matrix's flat entries gathered from the vector, zero where no value is placed (``Where``: exact for
    every value)."""
    rank = len(ctx.shape(0))
    n, positions = make_positions(node, ctx.shape(0)[-1])
    sources = np.asarray(placed_sources(n, positions))
    gathered = ctx.add("Gather", [ctx.input(0), ctx.ints(np.maximum(sources, 0), "sources")], axis=rank - 1)
    placed = ctx.add("Where", [ctx.const(sources >= 0, "placed", dtype=bool), gathered, ctx.const(0.0, "zero")])
    ctx.reshape(placed, [0] * (rank - 1) + [n, n], ctx.output())


# ONNX has no factorisation or solve: they are unrolled for the matrix size fixed at conversion, one column or row
# a step, in the order LAPACK's unblocked kernels take
MAX_UNROLLED = 32


def _unrolled_size(ctx: EmitContext, n: int | None = None) -> int:
    """Input 0's number of columns (or ``n``), refused past ``MAX_UNROLLED``."""
    n = ctx.shape(0)[-1] if n is None else n
    if n > MAX_UNROLLED:
        raise NotExpressible(f"matrices of {n} columns: the ONNX form is unrolled for at most {MAX_UNROLLED}")
    return n


def _part(ctx: EmitContext, x: str, indices: list[int], axis: int) -> str:
    return ctx.add("Gather", [x, ctx.ints(indices, "indices")], axis=axis)


def _cholesky(ctx: EmitContext, a: str, rank: int, n: int) -> str:
    """The lower Cholesky factor of ``a``'s lower triangle, column by column as LAPACK's ``potrf``: column j is a's
    column j less the products of the columns before it with their row j, scaled by the reciprocal of the root of
    its diagonal entry, which it keeps (an infinite one too: OpenBLAS's scaling by its reciprocal, zero, gives
    zeros whatever the column holds), zero above."""
    columns: list[str] = []
    for j in range(n):
        column = _part(ctx, a, [j], rank - 1)
        if columns:
            before = columns[0] if j == 1 else ctx.add("Concat", columns, axis=rank - 1)
            products = ctx.add("Mul", [before, _part(ctx, before, [j], rank - 2)])
            column = ctx.add("Sub", [column, ctx.reduce_sum(products, [rank - 1])])
        root = ctx.add("Sqrt", [_part(ctx, column, [j], rank - 2)])
        below = ctx.const((np.arange(n) > j).reshape(n, 1), "below", dtype=bool)
        diagonal = ctx.const((np.arange(n) == j).reshape(n, 1), "diagonal", dtype=bool)
        placed = ctx.add("Where", [diagonal, root, ctx.const(0.0, "zero")])
        reciprocal = ctx.add("Reciprocal", [root])
        scaled = ctx.add("Where", [ctx.add("Equal", [reciprocal, ctx.const(0.0, "zero")]), ctx.const(0.0, "zero"),
                                   ctx.add("Mul", [column, reciprocal])])
        columns.append(ctx.add("Where", [below, scaled, placed]))
    return ctx.add("Concat", columns, axis=rank - 1)


def _substitution(ctx: EmitContext, t: str, b: str, lower: bool, rank: int, n: int) -> str:
    """X with T @ X = B for T's ``lower`` (else upper) triangle: row by row from the first (else the last) row, each
    B's row less T's known part times the rows found, divided by T's diagonal entry."""
    order = range(n) if lower else range(n - 1, -1, -1)
    found: dict[int, str] = {}
    for i in order:
        row = _part(ctx, b, [i], rank - 2)
        if found:
            known = list(found)
            rows = found[known[0]] if len(known) == 1 else ctx.add("Concat", list(found.values()), axis=rank - 2)
            coefficients = _part(ctx, _part(ctx, t, [i], rank - 2), known, rank - 1)
            row = ctx.add("Sub", [row, ctx.add("MatMul", [coefficients, rows])])
        diagonal = _part(ctx, _part(ctx, t, [i], rank - 2), [i], rank - 1)
        found[i] = ctx.add("Div", [row, diagonal])
    return ctx.add("Concat", [found[i] for i in range(n)], axis=rank - 2)


@register("_linalg_potrf")
def potrf(ctx: EmitContext, node: Node) -> None:
    """The lower factor of the lower triangle; the upper one as the transposed lower factor of the transpose."""
    rank, n = len(ctx.shape(0)), _unrolled_size(ctx)
    if node.attrs["lower"]:
        ctx.add("Identity", [_cholesky(ctx, ctx.input(0), rank, n)], ctx.output())
    else:
        factor = _cholesky(ctx, _transposed(ctx, ctx.input(0), rank), rank, n)
        _transposed(ctx, factor, rank, ctx.output())


@register("_linalg_potri")
def potri(ctx: EmitContext, node: Node) -> None:
    """inv(L @ L.T) = inv(L).T @ inv(L), inv(L) solved from L's triangle (L = U.T for an upper factor U)."""
    rank, n = len(ctx.shape(0)), _unrolled_size(ctx)
    factor = ctx.input(0) if node.attrs["lower"] else _transposed(ctx, ctx.input(0), rank)
    identity = ctx.const(np.eye(n).reshape((1,) * (rank - 2) + (n, n)), "identity")  # broadcast over the batch
    inverse = _substitution(ctx, factor, identity, True, rank, n)
    ctx.add("MatMul", [_transposed(ctx, inverse, rank), inverse], ctx.output())


@register("_linalg_trsm", check=triangular_alpha_refusal)
def trsm(ctx: EmitContext, node: Node) -> None:
    """X with op(A) @ X = alpha * B; X @ op(A) = alpha * B (``rightside``) as op(A).T @ X.T = alpha * B.T."""
    a = node.attrs
    rank, n = len(ctx.shape(0)), _unrolled_size(ctx)
    transposed = a["transpose"] != a["rightside"]
    t = _transposed(ctx, ctx.input(0), rank) if transposed else ctx.input(0)
    b = _scaled(ctx, ctx.input(1), a["alpha"], None)
    if a["rightside"]:
        b = _transposed(ctx, b, rank)
    x = _substitution(ctx, t, b, a["lower"] != transposed, rank, n)
    if a["rightside"]:
        _transposed(ctx, x, rank, ctx.output())
    else:
        ctx.add("Identity", [x], ctx.output())


def _reflected(ctx: EmitContext, x: str, tau: str, v: str) -> str:
    """(I - tau v v.T) @ x."""
    projected = ctx.add("MatMul", [_transposed(ctx, v, len(ctx.shape(0))), x])
    return ctx.add("Sub", [x, ctx.add("Mul", [tau, ctx.add("MatMul", [v, projected])])])


@register("_linalg_gelqf")
def gelqf(ctx: EmitContext, node: Node) -> None:
    """A = L @ Q as LAPACK computes it: the Householder QR of A.T (each reflection's sign from its pivot, none
    where the column below it is zero), Q.T and R.T; unrolled for the size fixed at conversion."""
    rank, (m, n) = len(ctx.shape(0)), ctx.shape(0)[-2:]
    _unrolled_size(ctx)
    x = _transposed(ctx, ctx.input(0), rank)  # n x m: its columns are A's rows
    zero, one = ctx.const(0.0, "zero"), ctx.const(1.0, "one")
    reflections, betas = [], []
    for j in range(m):
        column = _part(ctx, x, [j], rank - 1)
        alpha = _part(ctx, column, [j], rank - 2)
        after = ctx.const((np.arange(n) > j).reshape(n, 1), "after", dtype=bool)
        below = ctx.add("Where", [after, column, zero])
        below_norm2 = ctx.reduce_sum(ctx.add("Mul", [below, below]), [rank - 2])
        norm = ctx.add("Sqrt", [ctx.add("Add", [ctx.add("Mul", [alpha, alpha]), below_norm2])])
        signed = ctx.add("Where", [ctx.add("Less", [alpha, zero]), norm, ctx.add("Neg", [norm])])
        reflects = ctx.add("Greater", [below_norm2, zero])
        beta = ctx.add("Where", [reflects, signed, alpha])
        tau = ctx.add("Where", [reflects, ctx.add("Div", [ctx.add("Sub", [beta, alpha]), beta]), zero])
        scale = ctx.add("Where", [reflects, ctx.add("Sub", [alpha, beta]), one])
        pivot = ctx.const((np.arange(n) == j).reshape(n, 1), "pivot")
        v = ctx.add("Add", [ctx.add("Div", [below, scale]), pivot])
        x = _reflected(ctx, x, tau, v)
        reflections.append((tau, v))
        betas.append(beta)
    top = _part(ctx, x, list(range(m)), rank - 2)
    diagonal = ctx.add("Where", [ctx.const(np.eye(m, dtype=bool), "diagonal", dtype=bool),
                                 ctx.add("Concat", betas, axis=rank - 1) if m > 1 else betas[0], zero])
    r = ctx.add("Where", [ctx.const(np.triu(np.ones((m, m), bool), 1), "above", dtype=bool), top, diagonal])
    q = ctx.const(np.eye(n, m).reshape((1,) * (rank - 2) + (n, m)), "identity")
    for tau, v in reversed(reflections):
        q = _reflected(ctx, q, tau, v)
    _transposed(ctx, q, rank, ctx.output(0))
    _transposed(ctx, r, rank, ctx.output(1))


# Symmetric eigendecompositions: cyclic Jacobi rotations in float64, unrolled for the size fixed at conversion (a
# sweep per pair of rows; float64 converges past float32's rounding in fewer than the sweeps given)
MAX_JACOBI = 8
JACOBI_SWEEPS = 12


def _jacobi_size(size: int, what: str) -> None:
    if size > MAX_JACOBI:
        raise NotExpressible(f"matrices of {size} {what}: the ONNX form is unrolled for at most {MAX_JACOBI}")


def _symmetric_eigen(ctx: EmitContext, lower: bool, vectors: bool) -> tuple[str, str | None]:
    """The eigenvalues in ascending order and, where ``vectors``, the eigenvectors (columns, each signed so that its
    first entry of largest magnitude is positive) of the symmetric matrices input 0's triangle (``lower`` or
    upper) holds, computed in float64 and rounded once to the model's type."""
    rank, n = len(ctx.shape(0)), ctx.shape(0)[-1]
    _jacobi_size(n, "columns")
    a = ctx.add("Cast", [ctx.input(0)], to=TensorProto.DOUBLE)
    with ctx.computing_in(np.float64) as model_type:
        kept = np.tril(np.ones((n, n), bool)) if lower else np.triu(np.ones((n, n), bool))
        a = ctx.add("Where", [ctx.const(kept, "triangle", dtype=bool), a, ctx.const(0.0, "zero")])
        mirrored = ctx.add("Where", [ctx.const(np.eye(n, dtype=bool), "diagonal", dtype=bool), ctx.const(0.0, "zero"),
                                     a])
        a = ctx.add("Add", [a, _transposed(ctx, mirrored, rank)])
        v = ctx.const(np.eye(n), "identity")
        for _ in range(JACOBI_SWEEPS):
            for p, q in ((p, q) for p in range(n) for q in range(p + 1, n)):
                j = _rotation(ctx, a, p, q, rank, n)
                a = ctx.add("MatMul", [ctx.add("MatMul", [_transposed(ctx, j, rank), a]), j])
                v = ctx.add("MatMul", [v, j]) if vectors else v
        values = _entries(ctx, diagonal_positions(n, 0), a)
        sorted_values, order = ctx.temp("sorted"), ctx.temp("order")
        ctx.add("TopK", [values, ctx.ints([n], "k")], [sorted_values, order], axis=-1, largest=0, sorted=1)
        values = ctx.add("Cast", [sorted_values], to=model_type)
        if not vectors:
            return values, None
        v = _columns_in_order(ctx, v, order, a, rank)
        signs = _vector_signs(ctx, _transposed(ctx, v, rank), rank)
        return values, ctx.add("Cast", [ctx.add("Mul", [v, _transposed(ctx, signs, rank)])], to=model_type)


def _columns_in_order(ctx: EmitContext, x: str, order: str, like: str, rank: int) -> str:
    """x's columns (batches of square matrices of ``like``'s shape) in ``order`` (per matrix)."""
    shape = ctx.add("Shape", [like])
    return ctx.add("GatherElements", [ctx.add("Expand", [x, shape]),
                                      ctx.add("Expand", [ctx.unsqueeze(order, [rank - 2]), shape])], axis=rank - 1)


def _vector_signs(ctx: EmitContext, rows: str, rank: int) -> str:
    """-1 for each row whose first entry of largest magnitude is negative, else 1 (shape (..., rows, 1)): how MXNet
    signs eigenvectors and singular vectors."""
    largest = ctx.add("GatherElements", [rows, ctx.add("ArgMax", [ctx.add("Abs", [rows])], axis=rank - 1,
                                                              keepdims=1)], axis=rank - 1)
    return ctx.add("Where", [ctx.add("Less", [largest, ctx.const(0.0, "zero")]), ctx.const(-1.0, "minus_one"),
                             ctx.const(1.0, "one")])


def _rotation(ctx: EmitContext, a: str, p: int, q: int, rank: int, n: int) -> str:
    """The rotation J in the plane (p, q) for which J.T @ a @ J has a zero at (p, q) (a: symmetric n x n): the
    tangent of its angle the root of t^2 + 2 tau t - 1 nearer 0, tau = (a_qq - a_pp) / (2 a_pq); none where a_pq
    is 0."""
    flat = _flat(ctx, a, rank, n)
    app, aqq, apq = (ctx.add("Gather", [flat, ctx.ints([i * n + j], "position")], axis=rank - 2)
                     for i, j in ((p, p), (q, q), (p, q)))
    zero, one = ctx.const(0.0, "zero"), ctx.const(1.0, "one")
    tau = ctx.add("Div", [ctx.add("Sub", [aqq, app]), ctx.add("Mul", [apq, ctx.const(2.0, "two")])])
    magnitude = ctx.add("Add", [ctx.add("Abs", [tau]), ctx.add("Sqrt", [ctx.add("Add", [ctx.add("Mul", [tau, tau]),
                                                                                      one])])])
    sign = ctx.add("Where", [ctx.add("Less", [tau, zero]), ctx.const(-1.0, "minus_one"), one])
    t = ctx.add("Where", [ctx.add("Equal", [apq, zero]), zero, ctx.add("Div", [sign, magnitude])])
    c = ctx.add("Div", [one, ctx.add("Sqrt", [ctx.add("Add", [ctx.add("Mul", [t, t]), one])])])
    s = ctx.unsqueeze(ctx.add("Mul", [t, c]), [rank - 1])
    plane = np.zeros((n, n))
    plane[p, p] = plane[q, q] = 1.0
    turn = np.zeros((n, n))
    turn[p, q], turn[q, p] = 1.0, -1.0
    j = ctx.add("Add", [ctx.add("Add", [ctx.const(np.eye(n), "identity"),
                                        ctx.add("Mul", [ctx.unsqueeze(ctx.add("Sub", [c, one]), [rank - 1]),
                                                        ctx.const(plane, "plane")])]),
                        ctx.add("Mul", [s, ctx.const(turn, "turn")])])
    return j


@register("_linalg_syevd", "_npi_eigh", "_npi_eigvalsh")
def symmetric_eigen(ctx: EmitContext, node: Node) -> None:
    """syevd: the eigenvectors as rows, then the eigenvalues (the lower triangle read); NumPy's eigh: the
    eigenvalues, then the eigenvectors as columns; eigvalsh: the eigenvalues (the triangle ``UPLO`` names)."""
    values, vectors = _symmetric_eigen(ctx, node.op == "_linalg_syevd" or node.attrs["UPLO"] == "L",
                                       node.op != "_npi_eigvalsh")
    if node.op == "_linalg_syevd":
        _transposed(ctx, vectors, len(ctx.shape(0)), ctx.output(0))
        ctx.add("Identity", [values], ctx.output(1))
        return
    ctx.add("Identity", [values], ctx.output(0))
    if node.op == "_npi_eigh":
        ctx.add("Identity", [vectors], ctx.output(1))


@register("_npi_svd")
def svd(ctx: EmitContext, node: Node) -> None:
    """a = ut @ diag(l) @ v as MXNet computes it, in float64 rounded once: a's rows rotated in pairs (one-sided
    Jacobi, unrolled for the size fixed at conversion) until orthogonal; l their norms in descending order, v the
    rows normalised (a zero row kept), ut the rotations; each row of v signed so that its first entry of largest
    magnitude is positive, the matching column of ut with it."""
    rank, m = len(ctx.shape(0)), ctx.shape(0)[-2]
    _jacobi_size(m, "rows")
    x = ctx.add("Cast", [ctx.input(0)], to=TensorProto.DOUBLE)
    with ctx.computing_in(np.float64) as model_type:
        ut = ctx.const(np.eye(m), "identity")
        for _ in range(JACOBI_SWEEPS):
            for p, q in ((p, q) for p in range(m) for q in range(p + 1, m)):
                j = _rotation(ctx, ctx.add("MatMul", [x, _transposed(ctx, x, rank)]), p, q, rank, m)
                x = ctx.add("MatMul", [_transposed(ctx, j, rank), x])
                ut = ctx.add("MatMul", [ut, j])
        norms = ctx.add("Sqrt", [ctx.reduce_sum(ctx.add("Mul", [x, x]), [rank - 1], keepdims=0)])
        values, order = ctx.temp("sorted"), ctx.temp("order")
        ctx.add("TopK", [norms, ctx.ints([m], "k")], [values, order], axis=-1, largest=1, sorted=1)
        gram = ctx.add("MatMul", [x, _transposed(ctx, x, rank)])
        ut = _columns_in_order(ctx, ut, order, gram, rank)
        rows = ctx.add("GatherElements", [x, ctx.add("Expand", [ctx.unsqueeze(order, [rank - 1]),
                                                                ctx.add("Shape", [x])])], axis=rank - 2)
        zero = ctx.const(0.0, "zero")
        divisor = ctx.add("Where", [ctx.add("Equal", [values, zero]), ctx.const(1.0, "one"), values])
        v = ctx.add("Div", [rows, ctx.unsqueeze(divisor, [rank - 1])])
        signs = _vector_signs(ctx, v, rank)
        ctx.add("Cast", [ctx.add("Mul", [ut, _transposed(ctx, signs, rank)])], ctx.output(0), to=model_type)
        ctx.add("Cast", [values], ctx.output(1), to=model_type)
        ctx.add("Cast", [ctx.add("Mul", [v, signs])], ctx.output(2), to=model_type)


@register("_linalg_det")
def det(ctx: EmitContext, node: Node) -> None:
    ctx.add("Identity", [_det(ctx)], ctx.output())


def _det(ctx: EmitContext) -> str:
    """``Det``, its 0-d value of one matrix as MXNet's (1,)."""
    value = ctx.add("Det", [ctx.input(0)])
    return ctx.reshape(value, [1]) if len(ctx.shape(0)) == 2 else value


@register("_linalg_slogdet")
def slogdet(ctx: EmitContext, node: Node) -> None:
    """The sign and the log of the absolute value of ``Det``."""
    value = _det(ctx)
    ctx.add("Sign", [value], ctx.output(0))
    ctx.add("Log", [ctx.add("Abs", [value])], ctx.output(1))


def _solved(ctx: EmitContext, a: str, b: str, rank: int, n: int) -> str:
    """X with A @ X = B: Gaussian elimination with partial pivoting as LAPACK's getrf pivots (the first row of the
    largest magnitude in the column, swapped in by a permutation matrix), then back substitution."""
    rows = np.arange(n).reshape(n, 1)
    zero, one = ctx.const(0.0, "zero"), ctx.const(1.0, "one")
    for k in range(n - 1):
        column = _part(ctx, a, [k], rank - 1)
        candidates = ctx.add("Where", [ctx.const(rows >= k, "candidates", dtype=bool), ctx.add("Abs", [column]),
                                       ctx.const(-1.0, "excluded")])
        index = ctx.add("ArgMax", [candidates], axis=rank - 2, keepdims=1)
        pivot_row = ctx.add("Cast", [index], to=helper.np_dtype_to_tensor_dtype(np.dtype(ctx.float_type)))
        row_numbers = ctx.const(rows, "rows")  # row numbers as floats: exact, and what MXNet's importer compares
        source = ctx.add("Where", [ctx.const(rows == k, "at_k", dtype=bool), pivot_row, ctx.add("Where", [
            ctx.add("Equal", [row_numbers, pivot_row]), ctx.const(float(k), "k"), row_numbers])])
        swap = ctx.add("Where", [ctx.add("Equal", [source, ctx.const(rows.reshape(1, n), "columns")]), one, zero])
        a, b = (ctx.add("MatMul", [swap, x]) for x in (a, b))
        below = ctx.const(rows > k, "below", dtype=bool)
        factors = ctx.add("Where", [below, ctx.add("Div", [_part(ctx, a, [k], rank - 1),
                                                           _part(ctx, _part(ctx, a, [k], rank - 2), [k], rank - 1)]),
                                    zero])
        a, b = (ctx.add("Sub", [x, ctx.add("MatMul", [factors, _part(ctx, x, [k], rank - 2)])]) for x in (a, b))
    return _substitution(ctx, a, b, False, rank, n)


@register("_linalg_inverse")
def inverse(ctx: EmitContext, node: Node) -> None:
    rank, n = len(ctx.shape(0)), _unrolled_size(ctx)
    identity = ctx.const(np.eye(n).reshape((1,) * (rank - 2) + (n, n)), "identity")  # broadcast over the batch
    ctx.add("Identity", [_solved(ctx, ctx.input(0), identity, rank, n)], ctx.output())


@register("_npi_solve")
def solve(ctx: EmitContext, node: Node) -> None:
    """b of vectors (a's rank less one) is solved as matrices of one column."""
    rank, n = len(ctx.shape(0)), _unrolled_size(ctx)
    vectors = len(ctx.shape(1)) == rank - 1
    b = ctx.unsqueeze(ctx.input(1), [rank - 1]) if vectors else ctx.input(1)
    x = _solved(ctx, ctx.input(0), b, rank, n)
    ctx.add("Identity", [ctx.squeeze(x, [rank - 1]) if vectors else x], ctx.output())


@register("_npi_tensorinv")
def tensorinv(ctx: EmitContext, node: Node) -> None:
    """NumPy's: a as a matrix of its first ``ind`` axes by the others, inverted, its axes swapped back."""
    shape, ind = ctx.shape(0), node.attrs["ind"]
    n = _unrolled_size(ctx, math.prod(shape[:ind]))
    inverse = _solved(ctx, ctx.reshape(ctx.input(0), [n, n]), ctx.const(np.eye(n), "identity"), 2, n)
    ctx.reshape(inverse, ctx.out_shape(), ctx.output())


@register("_npi_tensorsolve")
def tensorsolve(ctx: EmitContext, node: Node) -> None:
    """NumPy's: a with ``a_axes`` moved last, as a matrix of b's values by x's; b as one column."""
    a = ctx.input(0)
    rank = len(ctx.shape(0))
    moved = [axis % rank for axis in node.attrs["a_axes"] or ()]
    order = [axis for axis in range(rank) if axis not in moved] + moved
    if order != sorted(order):
        a = ctx.add("Transpose", [a], perm=order)
    n = _unrolled_size(ctx, math.prod(ctx.shape(1)))
    x = _solved(ctx, ctx.reshape(a, [n, n]), ctx.reshape(ctx.input(1), [n, 1]), 2, n)
    ctx.reshape(x, ctx.out_shape(), ctx.output())


_NO_OPERATOR = {
    "_npi_eigvals": "ONNX has no eigendecomposition operator, and no iteration gives LAPACK geev's order exactly",
    "_npi_pinv": "ONNX has no singular value decomposition operator",
    "_npi_pinv_scalar_rcond": "ONNX has no singular value decomposition operator",
}


def _no_operator(node: Node, *context: object) -> str:
    return _NO_OPERATOR.get(node.op) or linalg_refusal(node)


refuse(*_NO_OPERATOR, *UNCONVERTED_LINALG, reason=_no_operator)
