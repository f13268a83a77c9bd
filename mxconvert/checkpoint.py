"""Load a checkpoint (``PREFIX-symbol.json`` + ``PREFIX-EPOCH.params``) into a validated IR graph."""
from __future__ import annotations

import os
import time
from typing import NamedTuple, Union

import numpy as np

from .errors import MxConvertError
from .fileio import sha256_of
from .ir import Graph, VarKind
from .params import load_params
from .symbol import read_symbol


class CheckpointPaths(NamedTuple):
    """The two files of an MXNet checkpoint."""

    symbol: str
    params: str

    @classmethod
    def of(cls, checkpoint: "str | CheckpointPaths", epoch: int = 0) -> "CheckpointPaths":
        """``PREFIX-symbol.json`` and ``PREFIX-EPOCH.params`` of a prefix; explicit files as they are."""
        if isinstance(checkpoint, CheckpointPaths):
            return checkpoint
        return cls(f"{checkpoint}-symbol.json", f"{checkpoint}-{epoch:04d}.params")

    @property
    def name(self) -> str:
        """The model's name: its symbol file's name without ``-symbol.json`` (or ``.json``)."""
        file = os.path.basename(self.symbol)
        return file.removesuffix("-symbol.json") if file.endswith("-symbol.json") else file.removesuffix(".json")


Checkpoint = Union[str, CheckpointPaths]  # a prefix (with an epoch beside it), or the two files by name


def load_checkpoint(checkpoint: Checkpoint, epoch: int = 0) -> Graph:
    """Read and cross-check symbol and weights; the graph's variables carry the weights' shapes."""
    started = time.perf_counter()
    paths = CheckpointPaths.of(checkpoint, epoch)
    graph = read_symbol(paths.symbol)
    attach_weights(graph, load_params(paths.params), paths.params)
    graph.source.params_file = paths.params
    graph.source.symbol_sha256 = sha256_of(paths.symbol)
    graph.source.params_sha256 = sha256_of(paths.params)
    graph.source.read_seconds = time.perf_counter() - started
    return graph


def attach_weights(graph: Graph, arrays: dict[str, np.ndarray], params_path: str) -> None:
    """Split stored arrays into params and aux states by the graph's variables; report every missing one."""
    stored: dict[str, tuple[str, np.ndarray]] = {}
    for key, array in arrays.items():
        kind, _, name = key.partition(":") if key.startswith(("arg:", "aux:")) else ("", "", key)
        stored[name] = (kind, array)
    missing = []
    for var in graph.variables.values():
        if var.name not in stored:
            if var.kind in (VarKind.PARAM, VarKind.AUX):
                missing.append(var.name)
            continue
        kind, array = stored[var.name]
        if var.kind is VarKind.LABEL:
            continue
        if kind == "aux" and var.kind is not VarKind.AUX or kind == "arg" and var.kind is VarKind.AUX:
            raise MxConvertError(f"'{kind}:{var.name}' is stored as {kind} but the symbol uses it as "
                                 f"{var.kind.value}", params_path)
        if var.kind is VarKind.INPUT:
            var.kind = VarKind.PARAM  # a stored constant fed to an op, not user data
        (graph.aux if var.kind is VarKind.AUX else graph.params)[var.name] = array
        var.shape, var.dtype = tuple(array.shape), array.dtype
    if missing:
        raise MxConvertError(f"missing weights the symbol needs: {', '.join(missing)}", params_path)
    if not graph.inputs:
        raise MxConvertError("the symbol has no data input (every variable is a stored weight)", params_path)
