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
