"""The sequence family's per-op cases (``mxconvert/semantics/sequence.py``): the sequence ops (mask, reverse, last)
with and without lengths.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

import numpy as np

from .common import S, d

CASES: dict[str, tuple] = {}
CASE_INPUTS: dict[str, dict] = {}

_seq_length = S.var("seq_length")
CASES.update({
    "resize_sequence_mask": (S.SequenceMask(d, _seq_length, use_sequence_length=True, value=-2.0, name="mask"),
                             (4, 3, 2)),
    "resize_sequence_mask_axis1": (S.SequenceMask(d, _seq_length, use_sequence_length=True, axis=1, name="mask"),
                                   (3, 5, 2)),
    "resize_sequence_mask_no_length": (S.SequenceMask(d, value=3.0, name="mask"), (4, 3)),
    "resize_sequence_reverse": (S.SequenceReverse(d, _seq_length, use_sequence_length=True, name="rev"),
                                (4, 3, 2)),
    "resize_sequence_reverse_no_length": (S.SequenceReverse(d, name="rev"), (4, 3, 2)),
    "resize_sequence_last": (S.SequenceLast(d, _seq_length, use_sequence_length=True, name="last"), (4, 3, 2)),
    "resize_sequence_last_axis1": (S.SequenceLast(d, _seq_length, use_sequence_length=True, axis=1, name="last"),
                                   (3, 5, 2)),
    "resize_sequence_last_2d": (S.SequenceLast(d, _seq_length, use_sequence_length=True, name="last"), (4, 3)),
    "resize_sequence_last_no_length_axis1": (S.SequenceLast(d, axis=1, name="last"), (3, 4)),
})
CASE_INPUTS.update({  # boxes hanging off the image, malformed (x2 < x1), wholly outside, of a missing image
    "resize_sequence_mask": {"seq_length": np.array([2, 0, 3.7], np.float32)},  # truncated as MXNet does
    "resize_sequence_mask_axis1": {"seq_length": np.array([1, 5, 3], np.float32)},
    "resize_sequence_reverse": {"seq_length": np.array([2, 1, 4.5], np.float32)},
    "resize_sequence_last": {"seq_length": np.array([2, 4, 1.9], np.float32)},
    "resize_sequence_last_axis1": {"seq_length": np.array([5, 1, 3], np.float32)},
    "resize_sequence_last_2d": {"seq_length": np.array([3, 1, 4], np.float32)},
})

# Hawkes log-likelihood: the data are the lags (N, T); every event of a sequence, some, a fractional length (read
# up to its ceiling, as MXNet's loop compares), none; a process no event marks
_HAWKES = {
    "hawkes_ll": {"lda": [[1.5, 0.5], [0.8, 1.2], [2.0, 0.3]], "alpha": [0.2, 0.6], "beta": [1.0, 2.5],
                  "state": [[0.0, 0.0], [0.5, 1.2], [0.1, 0.0]], "marks": [[0, 1, 1, 0, 1], [1, 1, 0, 0, 1],
                                                                          [0, 0, 0, 1, 1]],
                  "valid_length": [5, 3, 0], "max_time": [12.0, 8.0, 4.0]},
    "hawkes_ll_fractional_length": {"lda": [[0.4, 1.0, 2.5], [1.1, 0.2, 0.7]], "alpha": [0.5, 0.1, 0.9],
                                    "beta": [0.3, 4.0, 1.5], "state": [[0.2, 0.0, 1.5], [0.0, 0.3, 0.0]],
                                    "marks": [[2, 0, 2, 2, 0, 0], [0, 2, 2, 0, 2, 0]], "valid_length": [2.5, 6],
                                    "max_time": [9.0, 15.0]},
}
CASES.update({case: (S.contrib.hawkesll(*(S.var(name, shape=np.shape(values[name]))
                                          for name in ("lda", "alpha", "beta", "state")), d + 1.25,
                                        *(S.var(name, shape=np.shape(values[name]))
                                          for name in ("marks", "valid_length", "max_time")), name="hawkes"),
                     np.shape(values["marks"]))
              for case, values in _HAWKES.items()})
CASE_INPUTS.update({case: {name: np.array(value, np.int32 if name == "marks" else np.float32)
                           for name, value in values.items()} for case, values in _HAWKES.items()})
