"""The fused family's per-op cases (``mxconvert/semantics/fused.py``): none here: the fused MKLDNN subgraphs are
tested in tests/test_fused_subgraphs.py.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""

CASES: dict[str, tuple] = {}
