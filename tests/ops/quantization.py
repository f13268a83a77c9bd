"""The quantization family's per-op cases (``mxconvert/semantics/quantization.py``): none here: the quantized ops are
tested in tests/test_quantized_models.py.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""

CASES: dict[str, tuple] = {}
