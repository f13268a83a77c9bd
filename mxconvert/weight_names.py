"""Params files saved by Gluon beside an exported symbol, their names matched to the symbol's variables.

- ``export()`` and Module checkpoints: ``arg:NAME`` / ``aux:NAME``; ``collect_params().save()``: the full names
  alone. Both match by name.
- ``save_params()`` (Gluon's older form): the names without the block's prefix (``dense0_weight`` for
  ``hybridsequential0_dense0_weight``): matched where exactly one prefix fits every name.
- ``save_parameters()``: structural names (``features.0.weight``): matched to the symbol's parameters by order,
  only where every pair agrees in kind (``weight`` with ``..._weight``) and every node's stored inputs come from
  one block; otherwise refused with the first disagreement.
"""
from __future__ import annotations

from .errors import MxConvertError
from .ir import Graph, TensorRef, VarKind

EXPORT_HINT = "save the network with HybridBlock.export() (or collect_params().save()) instead"


def canonical_names(graph: Graph, names: list[str], path: str) -> tuple[dict[str, str], list[str]]:
    """Stored name -> the name :func:`checkpoint.attach_weights` takes, and a note on how they were matched
    (none where the names are the symbol's own)."""
    variables = graph.variables
    if all(name.startswith(("arg:", "aux:")) or name in variables for name in names):
        return {name: name for name in names}, []
    weights = [var.name for var in variables.values() if var.kind in (VarKind.PARAM, VarKind.AUX)]
    if names and all("." in name for name in names) and not any(name in variables for name in names):
        return _by_order(graph, names, weights, path), [
            f"note: {path}: Gluon save_parameters names matched to the symbol's {len(weights)} parameters by order "
            "(each name's kind and block agree)"]
    prefix = _common_prefix(names, weights, variables, path)
    if prefix is None:
        return {name: name for name in names}, []  # attach_weights names what is missing
    return {name: name if name in variables else prefix + name for name in names}, [
        f"note: {path}: names saved without the block's prefix (Gluon's save_params) matched with prefix {prefix!r}"]


def _common_prefix(names: list[str], weights: list[str], variables: dict, path: str) -> str | None:
    """The one prefix that makes every stored name a variable of the symbol, if any."""
    unmatched = [name for name in names if not name.startswith(("arg:", "aux:")) and name not in variables]
    candidates = {weight[:-len(unmatched[0])] for weight in weights if weight.endswith(unmatched[0])}
    fitting = sorted(prefix for prefix in candidates if all(prefix + name in variables for name in unmatched))
    if len(fitting) > 1:
        raise MxConvertError(f"names without the block's prefix (Gluon's save_params) fit the symbol with several "
                             f"prefixes ({', '.join(map(repr, fitting))}); {EXPORT_HINT}", path)
    return fitting[0] if fitting else None


def _by_order(graph: Graph, names: list[str], weights: list[str], path: str) -> dict[str, str]:
    if len(names) != len(weights):
        raise MxConvertError(f"Gluon save_parameters names ({names[0]!r}, ...) cannot be matched to the symbol: the "
                             f"file holds {len(names)} arrays, the symbol has {len(weights)} parameters; "
                             f"{EXPORT_HINT}", path)
    for name, weight in zip(names, weights):
        kind = name.rsplit(".", 1)[1]
        if weight != kind and not weight.endswith(f"_{kind}"):
            raise MxConvertError(f"Gluon save_parameters names cannot be matched to the symbol by order: {name!r} "
                                 f"would be {weight!r}; {EXPORT_HINT}", path)
    block_of = {weight: name.rsplit(".", 1)[0] for name, weight in zip(names, weights)}
    for node in graph.nodes:
        blocks = {block_of[ref.node] for ref in node.inputs if ref.node in block_of and ref == TensorRef(ref.node)}
        if len(blocks) > 1:
            raise MxConvertError(f"Gluon save_parameters names cannot be matched to the symbol by order: node "
                                 f"{node.source_name!r} would read weights of blocks {', '.join(sorted(blocks))}; "
                                 f"{EXPORT_HINT}", path)
    kinds = {VarKind.AUX: "aux"}
    return {name: f"{kinds.get(graph.variables[weight].kind, 'arg')}:{weight}" for name, weight in zip(names, weights)}
