"""The control_flow family's per-op cases (``mxconvert/semantics/control_flow.py``): none here: the control-flow ops
(foreach, while_loop, cond) are tested in tests/test_control_flow.py.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""

CASES: dict[str, tuple] = {}
