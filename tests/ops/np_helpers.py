"""MXNet's NumPy interface (prefix np_): the spellings ``mx.sym.np``/``mx.sym.npx`` write, with NumPy's axes,
and their conversion back to legacy symbols for grouping and binding (the shape, indexing, linear and resize
families' ``np_`` cases)."""
from __future__ import annotations

from .common import N, NP_DATA, NX, S  # noqa: F401  (the families' np_ cases take them from here)


def legacy(sym):
    """A NumPy-interface symbol (or the first of a list) as a legacy one, for grouping and binding."""
    return (sym[0] if isinstance(sym, (list, tuple)) else sym).as_nd_ndarray()


def legacy_group(parts):
    return S.Group([part.as_nd_ndarray() for part in parts])
