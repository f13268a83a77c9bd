"""The loss family's per-op cases (``mxconvert/semantics/loss.py``): loss heads: their inference forward (labels fed
zeros by MXNet, dropped by the conversion).

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

from .common import HEAD_DATA, S, d

CASES: dict[str, tuple] = {}
HEADS: dict[str, tuple] = {}

HEADS.update({
    "head_linear_regression": (S.LinearRegressionOutput(HEAD_DATA, name="head", grad_scale=0.5), (3, 5)),
    "head_mae_regression": (S.MAERegressionOutput(HEAD_DATA, name="head"), (3, 5)),
    "head_logistic_regression": (S.LogisticRegressionOutput(HEAD_DATA * 3.0, name="head"), (3, 5)),
    "head_logistic_4d": (S.LogisticRegressionOutput(d * 3.0, name="head"), (2, 3, 4, 5)),
    "head_svm": (S.SVMOutput(HEAD_DATA, name="head", margin=0.5, use_linear=True), (3, 5)),
    "head_make_loss": (S.MakeLoss(S.square(d), name="head", normalization="batch"), (2, 3, 4)),
    "head_make_loss_unary": (S.make_loss(S.square(d) * 0.5, name="head"), (2, 3, 4)),
})
CASES.update(HEADS)
