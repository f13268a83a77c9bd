"""Load a checkpoint into a validated IR graph: ``PREFIX-symbol.json`` + ``PREFIX-EPOCH.params``, the two files
by name, a folder holding one checkpoint, or an archive (SageMaker ``model.tar.gz``, MXNet Model Server ``.mar``),
with any shapes file beside the symbol (``PREFIX-shapes.json``, ``signature.json``)."""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import time
from dataclasses import dataclass, field
from typing import NamedTuple, Union

import numpy as np

from .archives import Archive, is_archive, read_archive
from .errors import MxConvertError
from .fileio import read_input, sha256_of
from .ir import Graph, VarKind
from .params import load_params, parse_params
from .semantics.schema import OPS
from .symbol import MAX_SYMBOL_BYTES, parse_symbol, read_symbol, symbol_text
from .inputs import ShapesDoNotFit, resolve_input_shape
from .weight_names import EXPORT_HINT, canonical_names

MANIFESTS = ("MAR-INF/MANIFEST.json", "MANIFEST.json")  # MXNet Model Server 1.x, 0.x
GLUONTS_NETWORK = "-network.json"
_MAX_SIDECAR_BYTES = 1 << 20


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


Checkpoint = Union[str, CheckpointPaths]  # a prefix (with an epoch beside it), a folder, an archive, or two files


@dataclass
class CheckpointFiles:
    """Where a checkpoint's files are, named as errors name them (``archive:member`` inside an archive), with the
    bytes of those read from an archive, and the input shapes a shapes file declares (0: a free size)."""

    symbol: str
    params: str
    symbol_data: bytes | None = None
    params_data: bytes | None = None
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    shapes_file: str = ""

    def symbol_json(self) -> str:
        """The symbol's text."""
        if self.symbol_data is None:
            return symbol_text(read_input(self.symbol, "a symbol JSON file", MAX_SYMBOL_BYTES), self.symbol)
        return symbol_text(self.symbol_data, self.symbol)


def open_checkpoint(checkpoint: Checkpoint, epoch: int = 0) -> CheckpointFiles:
    """Find a checkpoint's files: an archive's members are read (never extracted), a folder's one checkpoint is
    found, a GluonTS predictor in its own form is refused with the symbol export to use instead."""
    if isinstance(checkpoint, CheckpointPaths):
        return _with_sidecar(CheckpointFiles(*checkpoint), _listing(os.path.dirname(checkpoint.symbol)))
    checkpoint = os.fspath(checkpoint)
    if is_archive(checkpoint):
        archive = read_archive(checkpoint)
        symbol, params, shapes = _pick(archive.names, epoch, checkpoint, _manifest(archive))
        files = CheckpointFiles(archive.where(symbol), archive.where(params), archive.data[symbol],
                                archive.data[params])
        if shapes:
            files.shapes, files.shapes_file = _shapes_file(archive.data[shapes], archive.where(shapes)), shapes
        return files
    if os.path.isdir(checkpoint):
        names = sorted(os.listdir(checkpoint))
        symbol, params, shapes = _pick(names, epoch, checkpoint, None)
        files = CheckpointFiles(os.path.join(checkpoint, symbol), os.path.join(checkpoint, params))
        return _with_sidecar(files, names)
    if not os.path.exists(f"{checkpoint}-symbol.json") and os.path.exists(checkpoint + GLUONTS_NETWORK):
        network = checkpoint + GLUONTS_NETWORK
        raise _gluonts_form(network, read_input(network, "a GluonTS network file", _MAX_SIDECAR_BYTES))
    paths = CheckpointPaths.of(checkpoint, epoch)
    return _with_sidecar(CheckpointFiles(*paths), _listing(os.path.dirname(paths.symbol)))


def _listing(folder: str) -> list[str]:
    try:
        return os.listdir(folder or ".")
    except OSError:
        return []  # the symbol's own reading names the problem


def _with_sidecar(files: CheckpointFiles, names: list[str]) -> CheckpointFiles:
    """``files`` with the shapes file beside their symbol, if there is one."""
    folder, base = os.path.split(files.symbol)
    for name in (base.removesuffix("-symbol.json") + "-shapes.json", "signature.json"):
        if name in names:
            path = os.path.join(folder, name)
            files.shapes, files.shapes_file = _shapes_file(read_input(path, "a shapes file", _MAX_SIDECAR_BYTES), path), name
            break
    return files


def _json(data: bytes, where: str, what: str):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MxConvertError(f"not a {what} ({exc})", where) from None


def _manifest(archive: Archive) -> dict:
    """The Model Server manifest's model entry (``serializedFile``, ``modelName``; 0.x: ``Parameters``,
    ``Symbol``, ``Signature``), or {}."""
    for name in MANIFESTS:
        if name in archive.data:
            doc = _json(archive.data[name], archive.where(name), "Model Server manifest (JSON)")
            model = doc.get("model", doc.get("Model")) if isinstance(doc, dict) else None
            return model if isinstance(model, dict) else {}
    return {}


def _pick(names: list[str], epoch: int, where: str, manifest: dict | None) -> tuple[str, str, str | None]:
    """The symbol, params and shapes file (or None) among a folder's or archive's ``names``."""
    manifest = manifest or {}
    visible = [name for name in names if not name.startswith("__MACOSX/") and not posixpath.basename(name).startswith(".")]
    symbols = [name for name in visible if name.endswith("-symbol.json")]
    wanted = manifest.get("Symbol") or (f"{manifest['modelName']}-symbol.json" if manifest.get("modelName") else None)
    if wanted and any(name == wanted or name.endswith("/" + wanted) for name in symbols):
        symbols = [name for name in symbols if name == wanted or name.endswith("/" + wanted)]
    if not symbols:
        network = [name for name in visible if name.endswith(GLUONTS_NETWORK)]
        if network:
            raise _gluonts_form(f"{where}: {network[0]}", None)
        raise MxConvertError(f"holds no MXNet symbol (*-symbol.json) among {_listed(visible)}", where)
    if len(symbols) > 1:
        raise MxConvertError(f"holds several symbols ({_listed(symbols)}); name one with --symbol and --params",
                             where)
    symbol = symbols[0]
    prefix = symbol.removesuffix("-symbol.json")
    epochs = {int(m.group(1)): name for name in visible
              if (m := re.fullmatch(re.escape(prefix) + r"-(\d{4})\.params", name))}
    named = manifest.get("serializedFile") or manifest.get("Parameters")
    folder = posixpath.dirname(symbol)
    if named and posixpath.join(folder, named) in visible:
        params = posixpath.join(folder, named)
    elif epoch in epochs or len(epochs) == 1:
        params = epochs.get(epoch) or next(iter(epochs.values()))
    elif epochs:
        raise MxConvertError(f"holds no epoch {epoch} of {posixpath.basename(prefix)} (it holds "
                             f"{', '.join(map(str, sorted(epochs)))}); choose one with --epoch", where)
    else:
        others = [name for name in visible if name.endswith(".params")]
        if len(others) != 1:
            raise MxConvertError(f"holds {'no' if not others else 'several'} params files for {symbol} "
                                 f"({_listed(others) if others else 'none'}); name them with --symbol and --params",
                                 where)
        params = others[0]
    shapes = next((name for name in (f"{prefix}-shapes.json", posixpath.join(folder, manifest.get("Signature") or
                                                                               "signature.json")) if name in visible),
                  None)
    return symbol, params, shapes


def _listed(names: list[str]) -> str:
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "") if names else "nothing"


def _gluonts_form(where: str, data: bytes | None) -> MxConvertError:
    """GluonTS's own serialization names a Python class and its arguments: there is no graph to read."""
    named = ""
    if data is not None:
        try:
            doc = json.loads(data.decode("utf-8"))
            named = f" ({doc['class']})" if isinstance(doc, dict) and isinstance(doc.get("class"), str) else ""
        except (UnicodeDecodeError, ValueError, RecursionError):
            pass
    return MxConvertError(f"a GluonTS predictor serialized in GluonTS's own form: it names a Python class{named} and "
                          "its arguments, not an MXNet symbol; serialize the symbol export GluonTS offers instead: "
                          "predictor.as_symbol_block_predictor(dataset=...).serialize(path), then --prefix "
                          "path/prediction_net", where)


def _shapes_file(data: bytes, where: str) -> dict[str, tuple[int, ...]]:
    """Input shapes by name from SageMaker's ``[{"name", "shape"}]`` or Model Server's ``signature.json``
    (``{"inputs": [{"data_name", "data_shape"}]}``)."""
    doc = _json(data, where, "shapes file (JSON)")
    entries = doc.get("inputs") if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        raise MxConvertError("not a shapes file: expected a list of inputs (or a signature's 'inputs')", where)
    shapes = {}
    for entry in entries:
        name = entry.get("name", entry.get("data_name")) if isinstance(entry, dict) else None
        shape = entry.get("shape", entry.get("data_shape")) if isinstance(entry, dict) else None
        if not isinstance(name, str) or not isinstance(shape, list) or not 0 < len(shape) <= 8 or not all(
                isinstance(dim, int) and not isinstance(dim, bool) and 0 <= dim < 1 << 31 for dim in shape):
            raise MxConvertError(f"not a shapes file: entry {json.dumps(entry)[:200]} is not a name with a shape of "
                                 "1 to 8 sizes", where)
        shapes[name] = tuple(shape)
    return shapes


def load_checkpoint(checkpoint: Checkpoint, epoch: int = 0) -> Graph:
    """Read and cross-check symbol and weights; the graph's variables carry the weights' shapes."""
    started = time.perf_counter()
    files = open_checkpoint(checkpoint, epoch)
    graph = read_symbol(files.symbol) if files.symbol_data is None else parse_symbol(files.symbol_json(),
                                                                                     files.symbol)
    if files.params_data is None:
        arrays = load_params(files.params)
    else:
        arrays = parse_params(memoryview(bytearray(files.params_data)), files.params)
    names, notes = canonical_names(graph, list(arrays), files.params)
    attach_weights(graph, {names[name]: array for name, array in arrays.items()}, files.params)
    graph.source.params_file = files.params
    graph.source.symbol_sha256 = _sha256(files.symbol, files.symbol_data)
    graph.source.params_sha256 = _sha256(files.params, files.params_data)
    graph.source.declared_shapes, graph.source.shapes_file = files.shapes, files.shapes_file
    graph.source.notes = notes
    if notes and "by order" in notes[0]:
        _check_order_match(graph, files.params)
    graph.source.read_seconds = time.perf_counter() - started
    return graph


def _check_order_match(graph: Graph, params: str) -> None:
    """Weights matched by order must fit the graph at the input shape its first layer fixes."""
    try:
        resolve_input_shape(graph, None)
    except ShapesDoNotFit as exc:
        raise MxConvertError(f"Gluon save_parameters names matched to the symbol by order give weights that do not "
                             f"fit it ({exc.problem}); {EXPORT_HINT}", params) from None
    except MxConvertError:
        pass  # nothing fixes the input: the conversion's own shapes check the weights


def _sha256(path: str, data: bytes | None) -> str:
    return sha256_of(path) if data is None else hashlib.sha256(data).hexdigest()


def _read_by_unknown_ops_only(graph: Graph) -> set[str]:
    """The variables that only ops without a schema read (ops refused later, by name, with the others)."""
    known: set[str] = set()
    unknown: set[str] = set()
    for node in graph.nodes:
        (known if node.op in OPS else unknown).update(ref.node for ref in node.inputs)
    return unknown - known


def attach_weights(graph: Graph, arrays: dict[str, np.ndarray], params_path: str) -> None:
    """Split stored arrays into params and aux states by the graph's variables; report every missing one."""
    stored: dict[str, tuple[str, np.ndarray]] = {}
    for key, array in arrays.items():
        kind, _, name = key.partition(":") if key.startswith(("arg:", "aux:")) else ("", "", key)
        stored[name] = (kind, array)
    missing = []
    unknown_roles = _read_by_unknown_ops_only(graph)
    for var in graph.variables.values():
        if var.name in unknown_roles and stored.get(var.name, ("",))[0] == "aux":
            var.kind = VarKind.AUX  # no schema says which inputs an unknown op mutates: the file does
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
