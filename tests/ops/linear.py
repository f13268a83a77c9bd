"""The linear family's per-op cases (``mxconvert/semantics/linear.py``): fully connected layers, embeddings, matrix
products (dot, batch_dot, gemm2, NumPy's matmul, tensordot, einsum) and linear algebra.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .common import S, d
from .np_helpers import N, NP_DATA, legacy

CASES: dict[str, tuple] = {}
ONNX_OPSET_FLOOR: dict[str, tuple] = {}

# id -> (symbol, input shape)
CASES.update({
    "fc_flatten": (S.FullyConnected(d, num_hidden=7, name="fc"), (2, 3, 4, 4)),
    "fc_no_bias": (S.FullyConnected(d, num_hidden=7, no_bias=True, name="fc"), (2, 12)),
    "fc_no_flatten": (S.FullyConnected(d, num_hidden=7, flatten=False, name="fc"), (2, 3, 5)),
})
# Ops MXNet 1.9.1 runs on GPUs only (no CPU kernel: its CPU operator fails at binding): symbol, input shape,
# numpy's float64 result from the data, which both targets are checked against instead (tests/test_gpu_only_ops.py),
# and any stored weights
_C = S.contrib


def _spectrum(x: np.ndarray) -> np.ndarray:
    """numpy.fft's unnormalised transform along the last axis, real and imaginary parts interleaved."""
    transformed = np.fft.fft(x.astype(np.float64), axis=-1)
    return np.stack([transformed.real, transformed.imag], axis=-1).reshape(*x.shape[:-1], -1)


def _inverse_real(x: np.ndarray) -> np.ndarray:
    """The real part of the unnormalised inverse transform (cuFFT's, not divided by n) of interleaved pairs."""
    pairs = x.astype(np.float64).reshape(*x.shape[:-1], -1, 2)
    return (np.fft.ifft(pairs[..., 0] + 1j * pairs[..., 1], axis=-1) * pairs.shape[-2]).real


GPU_ONLY_CASES: dict[str, tuple] = {
    "fft_2d": (_C.fft(d, name="fft"), (3, 8), _spectrum),
    "fft_4d_odd_length": (_C.fft(d, compute_size=2, name="fft"), (2, 1, 3, 5), _spectrum),
    "ifft_2d": (_C.ifft(d, name="ifft"), (3, 12), _inverse_real),
    "ifft_4d": (_C.ifft(d, compute_size=1, name="ifft"), (1, 2, 2, 8), _inverse_real),
    "fft_ifft": (_C.ifft(_C.fft(d, name="fft"), name="ifft"), (2, 7), lambda x: x.astype(np.float64) * x.shape[-1]),
}


def _count_sketch(h: list[float], s: list[float], out_dim: int) -> Callable[[np.ndarray], np.ndarray]:
    """out[..., int(h[i])] += s[i] x[..., i] along the last axis, in float64 (the first values of h and s)."""
    def exact(x: np.ndarray) -> np.ndarray:
        size = x.shape[-1]
        out = np.zeros((*x.shape[:-1], out_dim))
        for i, (column, sign) in enumerate(zip(h[:size], s[:size])):
            out[..., int(column)] += sign * x[..., i].astype(np.float64)
        return out
    return exact


# hashes that collide; h and s of two rows (the first row's values read), h fractional (truncated)
for _case, _shape, _h, _s, _out_dim in (
        ("count_sketch_2d", (3, 6), [[0, 3, 4, 3, 1, 0]], [[1, -1, 1, 1, -1, -1]], 5),
        ("count_sketch_4d_wide_hashes", (2, 2, 3, 4), [[2.7, 0, 1.2, 2], [1, 1, 1, 1]],
         [[-1, 1, 1, -1], [1, 1, 1, 1]], 3)):
    GPU_ONLY_CASES[_case] = (
        _C.count_sketch(d, S.var("h", shape=np.shape(_h)), S.var("s", shape=np.shape(_s)), out_dim=_out_dim,
                        processing_batch_size=2, name="sketch"), _shape,
        _count_sketch(np.ravel(_h).tolist(), np.ravel(_s).tolist(), _out_dim),
        {"h": np.array(_h, np.float32), "s": np.array(_s, np.float32)})
CASES.update({  # khatri_rao: one, two and three matrices (weights beside the data)
    "khatri_rao_one": (S.khatri_rao(d, name="krp"), (3, 4)),
    "khatri_rao_two": (S.khatri_rao(d, S.var("b", shape=(2, 4)), name="krp"), (3, 4)),
    "khatri_rao_three": (S.khatri_rao(S.var("a", shape=(2, 3)), d, S.var("c", shape=(4, 3)), name="krp"), (5, 3)),
})
_NW = S.var("w", shape=(4, 3, 5)).as_np_ndarray()
# cases ONNX expresses from an opset on (earlier ones are refused with the reason): Einsum
EINSUM_CASES = ("np_dot_nd", "np_dot_vector", "np_tensordot_axes", "np_tensordot_int", "np_einsum",
                "np_einsum_ellipsis_implicit")
# Cases ONNX takes from an opset on, refused below it: (that opset, what the refusal says)
ONNX_OPSET_FLOOR.update({case: (12, r"\[ONNX has Einsum from opset 12\]") for case in EINSUM_CASES})
CASES.update({  # NumPy's products: matmul broadcasts, dot sums b's second to last axis, tensordot, einsum
    "np_matmul_broadcast": (legacy(N.matmul(NP_DATA, _NW)), (2, 1, 3, 3)),
    "np_matmul_vector": (legacy(N.matmul(N.reshape(NP_DATA, -1), N.reshape(_NW, (3, 20)))), (1, 3)),
    "np_dot_nd": (legacy(N.dot(NP_DATA, _NW)), (2, 3)),
    "np_dot_vector": (legacy(N.dot(NP_DATA, N.reshape(_NW, (-1,)))), (3, 60)),
    "np_tensordot_axes": (legacy(N.tensordot(NP_DATA, _NW, axes=([0, -1], [1, 0]))), (3, 2, 4)),
    "np_tensordot_int": (legacy(N.tensordot(NP_DATA, _NW, axes=2)), (2, 4, 3)),
    "np_einsum": (legacy(N.einsum("bij,jkl->bkil", NP_DATA, _NW)), (2, 3, 4)),
    "np_einsum_ellipsis_implicit": (legacy(N.einsum("...j,kjl", NP_DATA, _NW)), (2, 3)),
})
def _w(name: str, shape: tuple):
    return S.var(name, shape=shape)


CASES.update({
    "nn_fc_no_flatten_4d": (S.FullyConnected(d, num_hidden=3, flatten=False, name="fc"), (2, 3, 2, 5)),
    # indices from -1 to 7 into 5 rows: MXNet clips them into [0, 4] and truncates fractions
    "nn_embedding": (S.Embedding(d * 4.0 + 3.0, input_dim=5, output_dim=3, name="emb"), (2, 7)),
    # NaN and values past int64 take row 0 (MXNet's cast to int64 makes them its lowest value)
    "nn_embedding_nan_past_int64": (S.Embedding(S.log(d) * -1e20, input_dim=4, output_dim=3, name="emb"), (3, 5)),
    "nn_embedding_3d_sparse_grad": (S.Embedding(d * 2.0 + 2.0, input_dim=4, output_dim=2, sparse_grad=True,
                                                name="emb"), (2, 3, 4)),
    "nn_dot_2d": (S.dot(d, _w("w", (5, 3)), name="dot"), (4, 5)),
    "nn_dot_nd": (S.dot(d, _w("w", (5, 3, 2)), name="dot"), (2, 3, 5)),
    "nn_dot_transpose_a": (S.dot(d, _w("w", (2, 3)), transpose_a=True, name="dot"), (2, 4, 3)),
    "nn_dot_transpose_b_nd": (S.dot(d, _w("w", (3, 2, 5)), transpose_b=True, name="dot"), (2, 4, 5)),
    "nn_dot_transpose_both": (S.dot(d, _w("w", (4, 2)), transpose_a=True, transpose_b=True, name="dot"), (2, 3)),
    "nn_dot_vectors": (S.dot(d, d * 2.0, name="dot"), (6,)),
    "nn_dot_vector_matrix": (S.dot(d, _w("w", (3, 4)), name="dot"), (3,)),
    "nn_batch_dot": (S.batch_dot(d, _w("w", (2, 5, 3)), name="bd"), (2, 4, 5)),
    "nn_batch_dot_transposed": (S.batch_dot(d, _w("w", (2, 3, 4, 5)), transpose_a=True, transpose_b=True,
                                            name="bd"), (2, 3, 5, 2)),
    "nn_gemm2": (S.linalg.gemm2(d, _w("w", (2, 5, 3)), alpha=0.5, name="gemm"), (2, 4, 5)),
    "nn_gemm2_transposed_2d": (S.linalg.gemm2(d, _w("w", (4, 3)), transpose_a=True, transpose_b=True, name="gemm"),
                               (3, 5)),
    "nn_gemm2_axis": (S.linalg.gemm2(d, _w("w", (2, 5, 3, 2)), axis=-3, alpha=-2.0, name="gemm"), (2, 4, 3, 5)),
    "nn_gemm2_axis0_transpose_b": (S.linalg.gemm2(d, _w("w", (3, 2, 5)), axis=0, transpose_b=True, name="gemm"),
                                   (4, 2, 5)),
})
