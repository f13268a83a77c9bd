"""The recurrent family's per-op cases (``mxconvert/semantics/recurrent.py``): the fused RNN (tests/test_rnn_ops.py
has every mode, layer count and direction): packed parameters and non-zero begin states stored with the weights,
input, hidden and projection sizes all different.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

from .common import S, d

CASES: dict[str, tuple] = {}
INDEX_IMPORTER_SKIPS: dict[str, str] = {}

def _rnn(mode: str, **attrs):
    cell = {"state_cell": S.var("rnn_state_cell")} if mode == "lstm" else {}
    return S.RNN(data=d, parameters=S.var("rnn_parameters"), state=S.var("rnn_state"), **cell, state_size=6,
                 mode=mode, name="rnn", **attrs)


CASES.update({
    "rnn_lstm_bidirectional_2layers_states": (_rnn("lstm", num_layers=2, bidirectional=True, state_outputs=True),
                                              (5, 3, 4)),
    "rnn_gru_3layers": (_rnn("gru", num_layers=3), (5, 3, 4)),
    "rnn_relu_bidirectional_states": (_rnn("rnn_relu", num_layers=1, bidirectional=True, state_outputs=True),
                                      (5, 3, 4)),
})
INDEX_IMPORTER_SKIPS.update({case: "MXNet's importer has no LSTM, GRU or RNN" for case in CASES if case.startswith("rnn_")})
