"""Cases of the ``linalg`` family (``mxconvert/semantics/linalg.py``): MXNet's ``_linalg_*`` operators on
well-conditioned matrices, single and batched."""
from __future__ import annotations

import numpy as np

from .common import NP_DATA, S, d, mx
from .np_helpers import N, legacy, legacy_group

L = S.linalg


def _w(name: str, shape: tuple):
    return S.var(name, shape=shape)


def _eye(n: int, scale: float):
    return scale * N.eye(n).as_nd_ndarray()


def _spd(x=d, n: int = 3):
    """Symmetric positive definite matrices from the data: x @ x.T + I / 2."""
    return S.broadcast_add(L.syrk(x), _eye(n, 0.5))


_DOMINANT = S.broadcast_add(d, _eye(3, 4.0))  # triangles far from singular
_NP_DOMINANT_6 = S.broadcast_add(d, _eye(6, 4.0)).as_np_ndarray()
_NP_DOMINANT = _DOMINANT.as_np_ndarray()
CASES = {
    "la_gemm": (L.gemm(d, _w("w", (2, 5, 3)), _w("c", (2, 4, 3)), alpha=0.5, beta=2.0, name="gemm"), (2, 4, 5)),
    "la_gemm_transposed_axis": (L.gemm(d, _w("w", (2, 2, 3, 4)), _w("c", (2, 5, 3, 2)), transpose_a=True,
                                       transpose_b=True, axis=-3, name="gemm"), (2, 4, 3, 5)),
    "la_potrf": (L.potrf(_spd()), (2, 3, 3)),
    "la_potrf_upper_2d": (L.potrf(_spd(n=4), lower=False), (4, 4)),
    "la_potri": (L.potri(L.potrf(_spd())), (2, 3, 3)),
    "la_potri_upper": (L.potri(L.potrf(_spd(), lower=False), lower=False), (2, 3, 3)),
    "la_potri_reads_its_triangle": (L.potri(_DOMINANT, lower=False), (2, 3, 3)),
    # A's other triangle holds data: it is never read
    "la_trmm": (L.trmm(d, _w("w", (2, 3, 4)), name="trmm"), (2, 3, 3)),
    "la_trmm_right_transposed_upper": (L.trmm(d, _w("w", (2, 4, 3)), rightside=True, transpose=True, lower=False,
                                              alpha=-0.5, name="trmm"), (2, 3, 3)),
    "la_trsm": (L.trsm(_DOMINANT, _w("w", (2, 3, 4)), name="trsm"), (2, 3, 3)),
    "la_trsm_right_transposed": (L.trsm(_DOMINANT, _w("w", (2, 4, 3)), rightside=True, transpose=True, alpha=2.0,
                                        name="trsm"), (2, 3, 3)),
    "la_trsm_upper_transposed": (L.trsm(_DOMINANT, _w("w", (2, 3, 2)), lower=False, transpose=True, name="trsm"),
                                 (2, 3, 3)),
    "la_syrk": (L.syrk(d, alpha=0.5), (2, 3, 4)),
    "la_syrk_transposed_2d": (L.syrk(d, transpose=True), (3, 4)),
    "la_sumlogdiag": (L.sumlogdiag(_spd()), (2, 3, 3)),
    "la_sumlogdiag_2d": (L.sumlogdiag(_spd()), (3, 3)),
    "la_extractdiag": (L.extractdiag(d), (2, 4, 4)),
    "la_extractdiag_above": (L.extractdiag(d, offset=1), (2, 4, 4)),
    "la_extractdiag_below_2d": (L.extractdiag(d, offset=-2), (4, 4)),
    "la_makediag": (L.makediag(d), (2, 3)),
    "la_makediag_above": (L.makediag(d, offset=2), (2, 3)),
    "la_makediag_below_1d": (L.makediag(d, offset=-1), (3,)),
    "la_extracttrian": (L.extracttrian(d), (2, 4, 4)),
    "la_extracttrian_upper": (L.extracttrian(d, lower=False), (2, 4, 4)),
    "la_extracttrian_above": (L.extracttrian(d, offset=1), (2, 4, 4)),
    "la_extracttrian_below_2d": (L.extracttrian(d, offset=-2), (4, 4)),
    "la_maketrian": (L.maketrian(d), (2, 6)),
    "la_maketrian_upper": (L.maketrian(d, lower=False), (2, 6)),
    "la_maketrian_above": (L.maketrian(d, offset=1), (2, 6)),
    "la_maketrian_below_1d": (L.maketrian(d, offset=-2), (3,)),
    "la_gelqf": (L.gelqf(d), (2, 3, 5)),
    "la_gelqf_square_2d": (L.gelqf(d), (4, 4)),
    # rows already zero past the diagonal: no reflection, L keeps the data's signs
    "la_gelqf_triangular": (L.gelqf(L.maketrian(d)), (2, 6)),
    "la_syevd": (L.syevd(_spd()), (2, 3, 3)),
    "la_syevd_2d": (L.syevd(_spd(n=4)), (4, 4)),
    # NumPy's spelling of potrf (its ``lower`` is internal to the NumPy interface)
    "np_linalg_cholesky": (legacy(N.linalg.cholesky(_spd().as_np_ndarray())), (2, 3, 3)),
    "np_linalg_cholesky_upper": (legacy(mx.symbol.numpy._internal.cholesky(_spd().as_np_ndarray(), lower=False)),
                                 (2, 3, 3)),
    "np_linalg_det": (legacy(N.linalg.det(NP_DATA)), (2, 3, 3)),
    "np_linalg_det_2d": (legacy(N.linalg.det(NP_DATA)), (4, 4)),
    "np_linalg_slogdet": (legacy_group(N.linalg.slogdet(NP_DATA)), (2, 3, 3)),
    "np_linalg_inv": (legacy(N.linalg.inv(_NP_DOMINANT)), (2, 3, 3)),
    # the largest entries off the diagonal: the elimination swaps rows
    "np_linalg_inv_pivoted": (legacy(N.linalg.inv(N.flip(_NP_DOMINANT_6, 1))), (6, 6)),
    "np_linalg_solve_pivoted_2d": (legacy(N.linalg.solve(N.flip(_NP_DOMINANT_6, 0), _w("w", (6,)).as_np_ndarray())),
                                   (6, 6)),
    "np_linalg_solve_vectors": (legacy(N.linalg.solve(_NP_DOMINANT, _w("w", (2, 3)).as_np_ndarray())), (2, 3, 3)),
    "np_linalg_solve_matrices": (legacy(N.linalg.solve(_NP_DOMINANT, _w("w", (2, 3, 4)).as_np_ndarray())),
                                 (2, 3, 3)),
    "np_linalg_pinv": (legacy(N.linalg.pinv(NP_DATA)), (2, 3, 4)),
    # a cutoff per matrix: half the largest singular value drops some
    "np_linalg_pinv_rcond_tensor": (legacy(N.linalg.pinv(NP_DATA, rcond=_w("rcond", (2,)).as_np_ndarray())),
                                    (2, 4, 3)),
    "np_linalg_pinv_scalar_cutoff_2d": (legacy(N.linalg.pinv(NP_DATA, rcond=0.3)), (3, 5)),
    "np_linalg_eigvalsh": (legacy(N.linalg.eigvalsh(_spd().as_np_ndarray())), (2, 3, 3)),
    # the upper triangle of data that is not symmetric
    "np_linalg_eigvalsh_upper": (legacy(N.linalg.eigvalsh(NP_DATA, UPLO="U")), (2, 4, 4)),
    # eigenvectors and singular vectors signed as MXNet signs them (the first entry of largest magnitude positive)
    "np_linalg_eigh": (legacy_group(N.linalg.eigh(_spd().as_np_ndarray())), (2, 3, 3)),
    "np_linalg_eigh_upper_2d": (legacy_group(N.linalg.eigh(NP_DATA, UPLO="U")), (4, 4)),
    "np_linalg_svd": (legacy_group(N.linalg.svd(NP_DATA)), (2, 3, 5)),
    "np_linalg_svd_square_2d": (legacy_group(N.linalg.svd(NP_DATA)), (4, 4)),
    # a product of two symmetric positive definite matrices: real eigenvalues (MXNet fails on complex ones)
    "np_linalg_eigvals": (legacy(N.linalg.eigvals(N.matmul(_spd().as_np_ndarray(),
                                                           _spd(L.syrk(d, transpose=True)).as_np_ndarray()))),
                          (2, 3, 3)),
    "np_linalg_tensorinv": (legacy(N.linalg.tensorinv(N.reshape(_NP_DOMINANT_6, (6, 2, 3)), ind=1)), (6, 6)),
    "np_linalg_tensorsolve": (legacy(N.linalg.tensorsolve(N.reshape(_NP_DOMINANT_6, (2, 3, 6)),
                                                          _w("b", (2, 3)).as_np_ndarray())), (6, 6)),
    "np_linalg_tensorsolve_axes": (legacy(N.linalg.tensorsolve(N.reshape(_NP_DOMINANT_6, (6, 2, 3)),
                                                               _w("b", (2, 3)).as_np_ndarray(), axes=(0,))), (6, 6)),
}
CASE_INPUTS = {"np_linalg_pinv_rcond_tensor": {"rcond": np.array([1e-3, 0.5], np.float32)}}

ONNX_REFUSES = {
    "np_linalg_eigvals": r"_npi_eigvals \[ONNX has no eigendecomposition operator, and no iteration gives LAPACK "
                         r"geev's order exactly\]",
    "np_linalg_pinv": r"_npi_pinv_scalar_rcond \[ONNX has no singular value decomposition operator\]",
    "np_linalg_pinv_rcond_tensor": r"_npi_pinv \[ONNX has no singular value decomposition operator\]",
    "np_linalg_pinv_scalar_cutoff_2d": r"_npi_pinv_scalar_rcond \[ONNX has no singular value decomposition operator\]",
}
INDEX_IMPORTER_SKIPS = {case: "the importer's MatMul does not broadcast batch axes (one identity for every matrix)"
                        for case in ("la_gelqf", "la_gelqf_triangular", "np_linalg_inv")}
INDEX_IMPORTER_SKIPS.update({case: "the importer computes no float64 (the Jacobi rotations) and takes no shape read "
                                   "as it runs" for case in ("la_syevd", "la_syevd_2d", "np_linalg_eigh",
                                                             "np_linalg_eigh_upper_2d", "np_linalg_eigvalsh",
                                                             "np_linalg_eigvalsh_upper", "np_linalg_svd",
                                                             "np_linalg_svd_square_2d")})
# Graphs MXNet runs that neither target converts: symbol, input shape, the refusal
BOTH_REFUSE = {
    "np_linalg_eig": (legacy_group(N.linalg.eig(N.matmul(_spd().as_np_ndarray(),
                                                         _spd(L.syrk(d, transpose=True)).as_np_ndarray()))),
                      (2, 3, 3), r"_npi_eig \[eigenvectors' signs are LAPACK geev's, never normalised: MXNet's own "
                                 r"float32 and float64 results differ in sign\]"),
}
