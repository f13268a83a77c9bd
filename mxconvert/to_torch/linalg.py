"""MXNet's ``_linalg_*`` operators as ``torch.linalg`` expressions (MXNet's semantics from
``semantics.linalg``): triangles read as LAPACK reads them, MXNet's shapes and sign conventions."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..ir import Node
from ..semantics.linalg import (UNCONVERTED_LINALG, extract_positions, linalg_refusal, make_positions, placed_sources,
                                triangular_alpha_refusal)
from .registry import HELPERS, Lowering, num, refuse, register

if TYPE_CHECKING:
    from .codegen import TorchContext


HELPERS["mxnet_matrix_entries"] = '''
def mxnet_matrix_entries(x: torch.Tensor, positions: List[int]) -> torch.Tensor:
    """The entries at flat ``positions`` (row * n + column) of each matrix on the last two axes, in order."""
    return torch.index_select(x.flatten(-2), -1, torch.tensor(positions, device=x.device))
'''

HELPERS["mxnet_place_entries"] = '''
def mxnet_place_entries(x: torch.Tensor, sources: List[int], n: int) -> torch.Tensor:
    """n x n matrices whose flat position i holds ``x[..., sources[i]]`` (0 where ``sources[i]`` is -1)."""
    padded = F.pad(x, [1, 0])
    placed = torch.index_select(padded, -1, torch.tensor(sources, device=x.device) + 1)
    return placed.reshape(list(x.shape[:-1]) + [n, n])
'''

HELPERS["mxnet_failed_as_nan"] = '''
def mxnet_failed_as_nan(x: torch.Tensor, info: torch.Tensor) -> torch.Tensor:
    """``x`` with NaN in each matrix whose LAPACK ``info`` is not 0 (singular, or not positive-definite): MXNet fails
    on those, the generated model computes on."""
    failed = (info != 0).reshape(list(info.shape) + [1] * (x.dim() - info.dim()))
    return torch.where(failed, torch.full_like(x, float("nan")), x)
'''

HELPERS["mxnet_cholesky"] = '''
def mxnet_cholesky(x: torch.Tensor, upper: bool) -> torch.Tensor:
    """The lower Cholesky factor of x's lower triangle (``upper``: the transposed factor of its upper triangle).
    Each matrix ``potrf`` stops on (not positive-definite, or infinite) column by column as MXNet's LAPACK carries
    on: column j less the products of the columns before it with their row j, scaled by the reciprocal of the root
    of its diagonal entry, which it keeps (NaN past a negative one, an infinite one kept; OpenBLAS's scaling by
    zero, an infinite root's reciprocal, gives zeros whatever the column holds). A recording (``mxnet_tracing``)
    takes that path for every input."""
    lower = x.transpose(-1, -2) if upper else x
    factor, info = torch.linalg.cholesky_ex(lower)
    if mxnet_tracing() or bool((info != 0).any()):
        n = x.shape[-1]
        rows = torch.arange(n, device=x.device)
        columns: List[torch.Tensor] = []
        for j in range(n):
            column = lower[..., j]
            if j > 0:
                before = torch.stack(columns, -1)
                column = column - (before * before[..., j:j + 1, :]).sum(-1)
            root = torch.sqrt(column[..., j:j + 1])
            scaled = torch.where(root.isinf(), torch.zeros_like(column), column * (1.0 / root))
            placed = torch.where(rows == j, root.expand_as(column), torch.zeros_like(column))
            columns.append(torch.where(rows > j, scaled, placed))
        factor = torch.where((info == 0).reshape(list(info.shape) + [1, 1]), factor, torch.stack(columns, -1))
    return factor.transpose(-1, -2) if upper else factor
'''

HELPERS["mxnet_cholesky_inverse"] = '''
def mxnet_cholesky_inverse(factor: torch.Tensor, upper: bool) -> torch.Tensor:
    """The inverse of L @ L.T (U.T @ U) from the factor's triangle, through the triangle's inverse: infinities and
    NaN for a zero on its diagonal (where MXNet fails), not an error."""
    identity = torch.eye(factor.shape[-1], dtype=factor.dtype, device=factor.device).expand_as(factor)
    inverse = torch.linalg.solve_triangular(factor, identity, upper=upper)
    if upper:
        return torch.matmul(inverse, inverse.transpose(-1, -2))
    return torch.matmul(inverse.transpose(-1, -2), inverse)
'''

HELPERS["mxnet_lq"] = '''
def mxnet_lq(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """MXNet's ``gelqf``: x = L @ Q with orthonormal rows in Q, LAPACK's Householder signs (the QR of x's
    transpose, transposed)."""
    q, r = torch.linalg.qr(x.transpose(-1, -2))
    return q.transpose(-1, -2), r.transpose(-1, -2)
'''

HELPERS["mxnet_vector_signs"] = '''
def mxnet_vector_signs(rows: torch.Tensor) -> torch.Tensor:
    """-1 for each row (last axis) whose first entry of largest magnitude is negative, else 1 (shape
    (..., rows, 1)): how MXNet signs eigenvectors and singular vectors."""
    largest = torch.gather(rows, -1, rows.abs().argmax(-1, keepdim=True))
    return torch.where(largest < 0, -torch.ones_like(largest), torch.ones_like(largest))
'''

HELPERS["mxnet_finite_matrices"] = '''
def mxnet_finite_matrices(x: torch.Tensor, read: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """x with zeros for each matrix whose entries ``read`` (x, or the triangle a solver reads) are not all finite,
    and which matrices those are (the batch's shape): LAPACK's eigen and singular value solvers fail on them (in
    MXNet too, or give NaN), torch's raise or crash; ``mxnet_failed_as_nan`` then marks their results."""
    bad = ~torch.isfinite(read).all(-1).all(-1)
    return torch.where(bad.unsqueeze(-1).unsqueeze(-1), torch.zeros_like(x), x), bad
'''

HELPERS["mxnet_syevd"] = '''
def mxnet_syevd(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """MXNet's ``syevd``: eigenvectors as rows, each signed so that its first entry of largest magnitude is
    positive, and the eigenvalues in ascending order (NaN for a lower triangle not all finite)."""
    x, bad = mxnet_finite_matrices(x, torch.tril(x))
    values, vectors = torch.linalg.eigh(x)
    rows = vectors.transpose(-1, -2)
    return mxnet_failed_as_nan(rows * mxnet_vector_signs(rows), bad), mxnet_failed_as_nan(values, bad)
'''

HELPERS["mxnet_eigh"] = '''
def mxnet_eigh(x: torch.Tensor, uplo: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """NumPy's ``eigh`` as MXNet computes it: the eigenvalues in ascending order, the eigenvectors as columns,
    each signed so that its first entry of largest magnitude is positive (NaN for a triangle not all finite)."""
    x, bad = mxnet_finite_matrices(x, torch.tril(x) if uplo == "L" else torch.triu(x))
    values, vectors = torch.linalg.eigh(x, UPLO=uplo)
    vectors = vectors * mxnet_vector_signs(vectors.transpose(-1, -2)).transpose(-1, -2)
    return mxnet_failed_as_nan(values, bad), mxnet_failed_as_nan(vectors, bad)
'''

HELPERS["mxnet_eigvalsh"] = '''
def mxnet_eigvalsh(x: torch.Tensor, uplo: str) -> torch.Tensor:
    """The eigenvalues in ascending order (NaN for a triangle not all finite)."""
    x, bad = mxnet_finite_matrices(x, torch.tril(x) if uplo == "L" else torch.triu(x))
    return mxnet_failed_as_nan(torch.linalg.eigvalsh(x, UPLO=uplo), bad)
'''

HELPERS["mxnet_eigvals"] = '''
def mxnet_eigvals(x: torch.Tensor) -> torch.Tensor:
    """LAPACK's geev, as MXNet's: the eigenvalues in its order; their real parts (MXNet fails on complex ones);
    NaN for a matrix not all finite."""
    x, bad = mxnet_finite_matrices(x, x)
    return mxnet_failed_as_nan(torch.linalg.eigvals(x).real, bad)
'''

HELPERS["mxnet_pinv"] = '''
def mxnet_pinv(x: torch.Tensor, rcond: torch.Tensor) -> torch.Tensor:
    """The pseudo-inverse, singular values up to ``rcond`` times the largest dropped (NaN for a matrix not all
    finite)."""
    x, bad = mxnet_finite_matrices(x, x)
    return mxnet_failed_as_nan(torch.linalg.pinv(x, rtol=rcond), bad)
'''

HELPERS["mxnet_svd"] = '''
def mxnet_svd(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """NumPy's ``svd`` as MXNet computes it: x = ut @ diag(l) @ v, l descending, each row of v signed so that its
    first entry of largest magnitude is positive, and the matching column of ut with it (NaN for a matrix not all
    finite)."""
    x, bad = mxnet_finite_matrices(x, x)
    ut, l, v = torch.linalg.svd(x, full_matrices=False)
    signs = mxnet_vector_signs(v)
    return (mxnet_failed_as_nan(ut * signs.transpose(-1, -2), bad), mxnet_failed_as_nan(l, bad),
            mxnet_failed_as_nan(v * signs, bad))
'''


def _one_per_matrix(ctx: TorchContext, expr: str) -> str:
    """One matrix gives one value of shape (1,), as in MXNet."""
    return f"{expr}.reshape(1)" if len(ctx.shape(0)) == 2 else expr


def _scaled(alpha: float, expr: str) -> str:
    return expr if alpha == 1.0 else f"{num(alpha)} * {expr}"


def _unless_failed(ctx: TorchContext, call: str) -> str:
    """A ``torch.linalg.*_ex`` call's result, NaN in each matrix it failed on (``mxnet_failed_as_nan``)."""
    return f"{ctx.helper('mxnet_failed_as_nan')}(*{call})"


@register("_linalg_potrf")
def potrf(ctx: TorchContext, node: Node) -> Lowering:
    """The Cholesky factor of the triangle ``lower`` names, the other triangle zero (``mxnet_cholesky``)."""
    ctx.helper("mxnet_tracing")
    return Lowering(f"{ctx.helper('mxnet_cholesky')}({ctx.input(0)}, {not node.attrs['lower']})")


@register("_linalg_potri")
def potri(ctx: TorchContext, node: Node) -> Lowering:
    """The inverse of L @ L.T (U.T @ U) from the factor's triangle, whole."""
    return Lowering(f"{ctx.helper('mxnet_cholesky_inverse')}({ctx.input(0)}, {not node.attrs['lower']})")


def _triangle(ctx: TorchContext, node: Node) -> str:
    """A's triangle (the other one is never read), transposed where ``transpose``."""
    triangle = f"torch.{'tril' if node.attrs['lower'] else 'triu'}({ctx.input(0)})"
    return f"{triangle}.transpose(-1, -2)" if node.attrs["transpose"] else triangle


@register("_linalg_trmm", check=triangular_alpha_refusal)
def trmm(ctx: TorchContext, node: Node) -> Lowering:
    a = node.attrs
    left, right = (ctx.input(1), _triangle(ctx, node)) if a["rightside"] else (_triangle(ctx, node), ctx.input(1))
    return Lowering(_scaled(a["alpha"], f"torch.matmul({left}, {right})"))


@register("_linalg_trsm", check=triangular_alpha_refusal)
def trsm(ctx: TorchContext, node: Node) -> Lowering:
    """X with op(A) @ X = alpha * B (X @ op(A) where ``rightside``), op(A) A's triangle, transposed where
    ``transpose``."""
    a = node.attrs
    matrix = f"{ctx.input(0)}.transpose(-1, -2)" if a["transpose"] else ctx.input(0)
    upper = a["lower"] == a["transpose"]
    return Lowering(f"torch.linalg.solve_triangular({matrix}, {_scaled(a['alpha'], ctx.input(1))}, upper={upper}, "
                    f"left={not a['rightside']})")


@register("_linalg_syrk")
def syrk(ctx: TorchContext, node: Node) -> Lowering:
    """alpha * A @ A.T (A.T @ A where ``transpose``)."""
    x, xt = ctx.input(0), f"{ctx.input(0)}.transpose(-1, -2)"
    left, right = (xt, x) if node.attrs["transpose"] else (x, xt)
    return Lowering(_scaled(node.attrs["alpha"], f"torch.matmul({left}, {right})"))


@register("_linalg_sumlogdiag")
def sumlogdiag(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(_one_per_matrix(ctx, f"torch.log(torch.diagonal({ctx.input(0)}, 0, -2, -1)).sum(-1)"))


@register("_linalg_extractdiag", "_linalg_makediag")
def diagonal(ctx: TorchContext, node: Node) -> Lowering:
    """``torch.diagonal`` and ``torch.diag_embed`` take MXNet's ``offset`` as it is."""
    call = "torch.diagonal" if node.op == "_linalg_extractdiag" else "torch.diag_embed"
    axes = ", -2, -1" if node.op == "_linalg_extractdiag" else ""
    return Lowering(f"{call}({ctx.input(0)}, {node.attrs['offset']}{axes})")


@register("_linalg_extracttrian")
def extracttrian(ctx: TorchContext, node: Node) -> Lowering:
    positions = extract_positions(node, ctx.shape(0)[-1])
    return Lowering(f"{ctx.helper('mxnet_matrix_entries')}({ctx.input(0)}, {positions})")


@register("_linalg_maketrian")
def maketrian(ctx: TorchContext, node: Node) -> Lowering:
    n, positions = make_positions(node, ctx.shape(0)[-1])
    sources = placed_sources(n, positions)
    return Lowering(f"{ctx.helper('mxnet_place_entries')}({ctx.input(0)}, {sources}, {n})")


_FACTORISATIONS = {"_linalg_gelqf": "mxnet_lq", "_linalg_syevd": "mxnet_syevd", "_npi_eigh": "mxnet_eigh",
                   "_npi_svd": "mxnet_svd"}


def _finite_helper(ctx: TorchContext, name: str) -> str:
    """A solver's helper that gives NaN for matrices not all finite, with those it calls."""
    for helper in ("mxnet_finite_matrices", "mxnet_failed_as_nan"):
        ctx.helper(helper)
    return ctx.helper(name)


@register(*_FACTORISATIONS)
def factorisation(ctx: TorchContext, node: Node) -> Lowering:
    """LQ; eigendecompositions and SVD through ``torch.linalg`` with MXNet's signs (``mxnet_vector_signs``), eigh
    reading the triangle ``UPLO`` names."""
    if node.op == "_linalg_gelqf":
        return Lowering(f"{ctx.helper('mxnet_lq')}({ctx.input(0)})")
    ctx.helper("mxnet_vector_signs")
    uplo = f", {node.attrs['UPLO']!r}" if node.op == "_npi_eigh" else ""
    return Lowering(f"{_finite_helper(ctx, _FACTORISATIONS[node.op])}({ctx.input(0)}{uplo})")


@register("_npi_pinv", "_npi_pinv_scalar_rcond")
def pinv(ctx: TorchContext, node: Node) -> Lowering:
    """Singular values up to ``rcond`` times the largest are dropped (a tensor ``rcond``: one per matrix); MXNet's
    kernel takes the singular values whatever ``hermitian`` says, and so does this."""
    rcond = ctx.input(1) if node.op == "_npi_pinv" else f"torch.tensor({num(node.attrs['rcond'])})"
    return Lowering(f"{_finite_helper(ctx, 'mxnet_pinv')}({ctx.input(0)}, {rcond})")


@register("_npi_eigvalsh")
def eigvalsh(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(f"{_finite_helper(ctx, 'mxnet_eigvalsh')}({ctx.input(0)}, {node.attrs['UPLO']!r})")


@register("_npi_eigvals")
def eigvals(ctx: TorchContext, node: Node) -> Lowering:
    """LAPACK's geev, as MXNet's: the eigenvalues in its order; their real parts (MXNet fails on complex ones)."""
    return Lowering(f"{_finite_helper(ctx, 'mxnet_eigvals')}({ctx.input(0)})")


@register("_npi_tensorinv")
def tensorinv(ctx: TorchContext, node: Node) -> Lowering:
    """The inverse of a's first ``ind`` axes against its others, as one square matrix."""
    n = math.prod(ctx.out_shape()[-node.attrs["ind"]:])
    inverse = _unless_failed(ctx, f"torch.linalg.inv_ex({ctx.input(0)}.reshape({n}, {n}))")
    return Lowering(f"{inverse}.reshape({list(ctx.out_shape())})")


@register("_npi_tensorsolve")
def tensorsolve(ctx: TorchContext, node: Node) -> Lowering:
    """x with tensordot(a, x) = b: a's axes ``a_axes`` moved to the end, a as one square matrix and b as a vector."""
    rank = len(ctx.shape(0))
    moved = [axis % rank for axis in node.attrs["a_axes"] or ()]
    order = [axis for axis in range(rank) if axis not in moved] + moved
    n = math.prod(ctx.shape(1))
    a = f"{ctx.input(0)}.permute({order}).reshape({n}, {n})"
    solved = _unless_failed(ctx, f"torch.linalg.solve_ex({a}, {ctx.input(1)}.reshape({n}))")
    return Lowering(f"{solved}.reshape({list(ctx.out_shape())})")


@register("_linalg_det")
def det(ctx: TorchContext, node: Node) -> Lowering:
    """One matrix gives one value of shape (1,), as in MXNet; the hidden LU outputs are not computed."""
    value = f"torch.linalg.det({ctx.input(0)})"
    return Lowering(f"({value}.reshape(1),)" if len(ctx.shape(0)) == 2 else f"({value},)")


@register("_linalg_slogdet")
def slogdet(ctx: TorchContext, node: Node) -> Lowering:
    sign, log = (f"torch.linalg.slogdet({ctx.input(0)})[{i}]" for i in range(2))
    if len(ctx.shape(0)) == 2:
        return Lowering(f"({sign}.reshape(1), {log}.reshape(1))")
    return Lowering(f"({sign}, {log})")


@register("_linalg_inverse")
def inverse(ctx: TorchContext, node: Node) -> Lowering:
    return Lowering(_unless_failed(ctx, f"torch.linalg.inv_ex({ctx.input(0)})"))


@register("_npi_solve")
def solve(ctx: TorchContext, node: Node) -> Lowering:
    """``torch.linalg.solve_ex`` reads b as vectors where it has a's rank less one, as MXNet does."""
    return Lowering(_unless_failed(ctx, f"torch.linalg.solve_ex({ctx.input(0)}, {ctx.input(1)})"))


refuse(*UNCONVERTED_LINALG, reason=linalg_refusal)
