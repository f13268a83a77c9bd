"""The per-op cases, one module per op family (``mxconvert/semantics/<family>.py``): each defines ``CASES`` and
its family's entries of the side tables (``CASE_INPUTS``, ``ONNX_REFUSES``...); ``tests/mxcases.py`` assembles
them in ``FAMILIES`` order. Shared builders are in ``common.py`` and ``np_helpers.py``."""
from . import (activation, attention, control_flow, convolution, detection, elementwise, fused, indexing, linalg,
               linear, loss, normalization, quantization, recurrent, reduce, resize, sequence, shape, spatial)

FAMILIES = (activation, attention, control_flow, convolution, detection, elementwise, fused, indexing, linalg, linear,
            loss, normalization, quantization, recurrent, reduce, resize, sequence, shape, spatial)
