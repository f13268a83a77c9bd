"""MXNet's NumPy interface (prefix np_): the spellings ``mx.sym.np``/``mx.sym.npx`` write, with NumPy's axes,
and their conversion back to legacy symbols for grouping and binding (the shape, indexing, linear and resize
families' ``np_`` cases)."""
from __future__ import annotations

from .common import S, d, mx

# MXNet's NumPy interface (prefix np_): the spellings ``mx.sym.np``/``mx.sym.npx`` write, with NumPy's axes
_N, _NX = mx.sym.np, mx.sym.npx
_dn = d.as_np_ndarray()


def _nd(sym):
    """A NumPy-interface symbol (or the first of a list) as a legacy one, for grouping and binding."""
    return (sym[0] if isinstance(sym, (list, tuple)) else sym).as_nd_ndarray()


def _nd_all(parts):
    return S.Group([part.as_nd_ndarray() for part in parts])
