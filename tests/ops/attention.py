"""The attention family's per-op cases (``mxconvert/semantics/attention.py``): the interleaved attention products of
MXNet's transformers.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

from .common import S, d

CASES: dict[str, tuple] = {}

_QKV = S.FullyConnected(d, num_hidden=24, flatten=False, name="proj")  # (sequence, batch, 2 heads x 3 x 4)
# 4 queries and 7 keys and values of 3 heads x 2: the decoder's queries, the encoder's keys and values interleaved
_QUERIES = S.FullyConnected(S.slice_axis(d, axis=0, begin=0, end=4), num_hidden=6, flatten=False, name="q_proj")
_KEYS_VALUES = S.FullyConnected(d, num_hidden=12, flatten=False, name="kv_proj")
CASES.update({
    "nn_div_sqrt_dim": (S.contrib.div_sqrt_dim(d, name="div"), (2, 3, 5)),
    "nn_selfatt_qk": (S.contrib.interleaved_matmul_selfatt_qk(_QKV, heads=2, name="qk"), (5, 3, 4)),
    "nn_selfatt_valatt": (S.contrib.interleaved_matmul_selfatt_valatt(
        _QKV, S.softmax(S.contrib.interleaved_matmul_selfatt_qk(_QKV, heads=2), axis=-1), heads=2, name="valatt"),
        (5, 3, 4)),
    "nn_encdec_qk": (S.contrib.interleaved_matmul_encdec_qk(_QUERIES, _KEYS_VALUES, heads=3, name="qk"), (7, 2, 6)),
    "nn_encdec_attention": (S.contrib.interleaved_matmul_encdec_valatt(_KEYS_VALUES, S.softmax(
        S.contrib.interleaved_matmul_encdec_qk(_QUERIES, _KEYS_VALUES, heads=3), axis=-1), heads=3, name="valatt"),
        (7, 2, 6)),
})
