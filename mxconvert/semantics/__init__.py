"""MXNet's op semantics, one module per op family: each holds its ops' schemas (``schema.define``), other
spellings (``schema.alias``), shape rules (``rules.shape_rule``) and the MXNet semantics both emitters share.
Importing the package registers every family; ``inference`` runs the rules over a graph."""
from . import (activation, attention, control_flow, convolution, detection, elementwise, fused,  # noqa: F401
               indexing, linalg, linear, loss, normalization, quantization, recurrent, reduce, resize, sequence,
               shape, spatial)
