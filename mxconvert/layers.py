"""Where a conversion goes wrong: every intermediate tensor of the converted models against MXNet's.

Tensors are paired by MXNet node name (output ``i`` of a multi-output node as ``node:i``):

* MXNet runs its symbol's internals (``sym.get_internals()``);
* ONNX Runtime runs a copy of our file with ``<node>_output`` / ``<node>_output<i>`` made graph outputs;
* PyTorch runs the generated ``forward`` with a tap after each assignment (one line per MXNet node).

MXNet also runs in float64, the exact result: at each node, MXNet float32's own distance from it is the noise
floor. A node diverges when a target is past the tolerance against MXNet float32 and further from float64 than
``noise_factor`` times that floor, so float32 rounding that MXNet shares is never mistaken for a bug. Where MXNet
cannot run the graph in float64, the fixed tolerance alone decides (and the report says so).

Memory stays bounded: the probes (node outputs in graph order) are split into chunks of at most
``chunk_bytes`` per backend (float64 counted twice). Each chunk is one forward pass per backend, compared and
dropped before the next; every backend stops at the chunk's last node, so a pass costs only the graph up to there.
"""
from __future__ import annotations

import argparse
import ast
import inspect
import io
import json
import math
import sys
import textwrap
import tokenize
import types
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np
from prettytable import PrettyTable, TableStyle

from . import cli
from .api import labels
from .checkpoint import Checkpoint, CheckpointPaths
from .compare import NOISE_FACTOR, cosine_similarity, max_abs_error, max_rel_error
from .errors import EXIT_OK, EXIT_TOLERANCE, MxConvertError
from .feeds import FOLDED_INTO_KEY, Feeds, Given
from .fileio import write_bytes, write_text
from .inference import input_sources, load_named
from .ir import Graph
from .preprocess import load_input
from .symbol import read_symbol

CHUNK_BYTES = 64 << 20
PLOT_FLOOR = 1e-10  # exact agreement (0) is drawn here on the log axis
BACKENDS = labels("onnxruntime", "pytorch")


@dataclass(frozen=True)
class Probe:
    """Output ``index`` of MXNet node ``node``: one row of the report."""

    node: str
    index: int
    outputs: int  # how many outputs the node has
    op: str
    shape: tuple[int, ...]
    mxnet_slot: tuple[str, int] = ("", 0)  # (name in the symbol file, how many outputs of that name came before)

    @property
    def label(self) -> str:
        return self.node if self.outputs == 1 else f"{self.node}:{self.index}"

    @property
    def onnx_name(self) -> str:
        from .to_onnx.context import tensor_name

        return tensor_name(self.node, self.index, self.outputs)


@dataclass(frozen=True)
class Diff:
    """One backend's tensor against MXNet's (metrics as in :mod:`mxconvert.compare`)."""

    max_abs_error: float
    rel_error: float  # max |ref - out| / max |ref| per image, the largest over images
    cosine: float  # smallest per image
    fp64_rel_error: float | None = None  # the same relative error against MXNet's float64 tensor


@dataclass(frozen=True)
class Offender:
    """The first node past the tolerance and how far its inputs had already drifted."""

    position: int
    node: str
    op: str
    rel_error: float
    input_rel_error: float | None  # largest over its compared inputs; None when none was compared
    floor_ratio: float | None = None  # its distance from float64 over MXNet float32's; None without float64


class Backend(Protocol):
    def fetch(self, feeds: Feeds, probes: Sequence[Probe]) -> dict[str, np.ndarray]:
        """The tensors of ``probes`` it has, by label, from one forward pass."""

    def has(self, probe: Probe) -> bool: ...


# ---------------------------------------------------------------- backends

class MxnetInternals:
    """The checkpoint in MXNet; each fetch binds the group of the requested internal outputs."""

    def __init__(self, checkpoint: Checkpoint, epoch: int, given: Given, dtype: str = "float32"):
        """``given``: the input(s), completed here as the MXNet backend completes them (:attr:`feeds`)."""
        from .mxnet_runner import MxnetModel, mxnet_message

        self.model = model = MxnetModel(checkpoint, epoch, dtype=dtype)
        self.mx = model.mx
        self.internals = model.symbol.get_internals()
        self.slots: dict[tuple[str, int], int] = {}  # (node, output index) -> position in the internals
        seen: dict[str, int] = {}
        for slot in range(len(self.internals.list_outputs())):
            name = self.internals[slot].name
            seen[name] = seen.get(name, -1) + 1
            self.slots[(name, seen[name])] = slot
        self.feeds = model.completed(given)
        known = {name: value.shape for name, value in model.arg_params.items()}
        known.update({name: array.shape for name, array in self.feeds.items()})
        try:
            args, outs, _ = self.internals.infer_shape_partial(**known)
        except self.mx.base.MXNetError as exc:
            shapes = ", ".join(f"{name} {array.shape}" for name, array in self.feeds.items())
            raise MxConvertError(f"cannot run with inputs {shapes}: {mxnet_message(exc)}",
                                 str(model.params_path)) from None
        self.arg_shapes = dict(zip(self.internals.list_arguments(), args))
        self.shapes = {key: tuple(outs[slot]) for key, slot in self.slots.items()}

    def has(self, probe: Probe) -> bool:
        return probe.mxnet_slot in self.slots

    def fetch(self, feeds: Feeds, probes: Sequence[Probe]) -> dict[str, np.ndarray]:
        from .mxnet_runner import native_stderr_silenced, mxnet_message

        mx, model = self.mx, self.model
        group = mx.sym.Group([self.internals[self.slots[p.mxnet_slot]] for p in probes])
        args = {}
        for name in group.list_arguments():
            if name in feeds:
                args[name] = mx.nd.array(feeds[name], dtype=model.dtype)
            elif name in model.arg_params:  # shared with the loaded checkpoint, not copied
                args[name] = model.arg_params[name]
            else:  # a loss head's label
                args[name] = mx.nd.zeros(self.arg_shapes[name], dtype=model.dtype)
        aux = {name: model.aux_params[name] for name in group.list_auxiliary_states()}
        try:
            with native_stderr_silenced():  # MXNet logs its subgraph setting at every bind
                executor = group.bind(model.ctx, args=args, aux_states=aux, grad_req="null")
            outputs = executor.forward(is_train=False)
            return {p.label: out.asnumpy() for p, out in zip(probes, outputs)}
        except self.mx.base.MXNetError as exc:
            raise MxConvertError(f"MXNet forward failed: {mxnet_message(exc)}", str(model.params_path)) from None


class OrtInternals:
    """Our ONNX file in onnxruntime (CPU); each fetch builds a session for just the requested tensors.

    The float weights are taken out of the model once and fed to every run as inputs (zero-copy OrtValues),
    so a chunk's session holds only the nodes its tensors need and builds in milliseconds. ONNX Runtime then
    runs the graph op by op, without constant folding or fusions across the exposed tensors.
    """

    def __init__(self, path: str, probes: Sequence[Probe]):
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, numpy_helper

        from .onnx_runtime import OnnxInputs, load_onnx

        self.path = path
        model = load_onnx(path)
        self.inputs = OnnxInputs(model, path)
        self.input_info = [value for value in model.graph.input if value.name in self.inputs.names]
        produced = {name for node in model.graph.node for name in node.output}
        self.names = {p.label: p.onnx_name for p in probes if p.onnx_name in produced}
        meta = {prop.key: prop.value for prop in model.metadata_props}
        for bn, conv in json.loads(meta.get(FOLDED_INTO_KEY, "{}")).items():  # --fuse_bn: conv's tensor is bn's
            if conv in self.names:
                self.names[bn] = self.names.pop(conv)
        self.types = {v.name: v.type.tensor_type.elem_type for v in (*model.graph.value_info, *model.graph.output)}
        if any(name not in self.types for name in self.names.values()):
            inferred = onnx.shape_inference.infer_shapes(model).graph.value_info
            self.types.update((v.name, v.type.tensor_type.elem_type) for v in inferred)
        float_types = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}
        floats = [t for t in model.graph.initializer if t.data_type in float_types]
        self.weights = {t.name: ort.OrtValue.ortvalue_from_numpy(numpy_helper.to_array(t)) for t in floats}
        self.weight_info = {t.name: onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                            for t in floats}
        kept = [t for t in model.graph.initializer if t.data_type not in float_types]
        model.graph.ClearField("initializer")
        model.graph.initializer.extend(kept)
        self.skeleton = onnx.ModelProto()
        self.skeleton.CopyFrom(model)  # a fresh, small message: the loaded one's weights are released

    def has(self, probe: Probe) -> bool:
        return probe.label in self.names

    def _session(self, fetches: list[str]) -> tuple[Any, list[str]]:
        """A session computing ``fetches`` from the data input and the weights it names as inputs."""
        from onnx import TensorProto, helper

        graph = self.skeleton.graph
        needed, nodes = set(fetches), []
        for node in reversed(graph.node):
            if needed.intersection(node.output):
                nodes.append(node)
                needed.update(node.input)
        weights = [name for name in self.weights if name in needed]
        constants = [t for t in graph.initializer if t.name in needed]
        outputs = [helper.make_tensor_value_info(n, self.types.get(n, TensorProto.FLOAT), None) for n in fetches]
        sub = helper.make_graph(nodes[::-1], graph.name, [*self.input_info, *(self.weight_info[w] for w in weights)],
                                outputs, initializer=constants)
        model = helper.make_model(sub, opset_imports=self.skeleton.opset_import, ir_version=self.skeleton.ir_version)
        from .onnx_runtime import cpu_session

        return cpu_session(model, self.path, memory_arena=False), weights  # no arena: chunks give memory back

    def fetch(self, feeds: Feeds, probes: Sequence[Probe]) -> dict[str, np.ndarray]:
        from .onnx_runtime import run_session

        wanted = [p.label for p in probes if self.has(p)]
        if not wanted:
            return {}
        fetches = [self.names[label] for label in wanted]
        session, weights = self._session(fetches)
        stored = {name: self.weights[name] for name in weights}

        def run(inputs: Feeds) -> list[np.ndarray]:
            return run_session(session, fetches, {**inputs, **stored}, self.path)

        return dict(zip(wanted, self.inputs.run(run, {n: a for n, a in feeds.items() if n in self.inputs.names},
                                                "onnxruntime")))


class _Done(Exception):
    """Raised by the PyTorch tap once a chunk's last tensor is captured."""


class TorchInternals:
    """The generated ``KitModel`` with its ``forward`` recompiled to report the value of every node's line.

    A line names its MXNet node (through ``MXNET_NAMES`` where the identifier differs) in a trailing comment
    (``x = F.relu(x)  # relu0``), else as the layer it calls (``x = self.conv0(x)``), else as the variable it
    assigns (``plus0 = x + sc``).
    """

    TAP = "__mxconvert_tap__"

    def __init__(self, kit_path: str, weights_path: str, graph: Graph):
        from .to_torch.loader import build_model, load_kit_module
        from .to_torch.runner import forward_inputs, load_state

        module = load_kit_module(kit_path)
        self.model = build_model(module, load_state(weights_path), weights_path)
        source = textwrap.dedent(inspect.getsource(module.KitModel.forward))
        tree = ast.parse(source)
        function = tree.body[0]
        mxnet_names = getattr(module, "MXNET_NAMES", {})
        node_names = {n.source_name for n in graph.nodes}
        comments = {token.start[0]: token.string.lstrip("#").strip()
                    for token in tokenize.generate_tokens(io.StringIO(source).readline)
                    if token.type == tokenize.COMMENT}
        lines = {stmt: self._node_line(stmt, comments, mxnet_names, node_names) for stmt in function.body
                 if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)}
        self.sources = self._node_of(list(lines.values()), mxnet_names, getattr(module, "FOLDED_INTO", {}), graph)
        self.present = set(self.sources.values())
        function.body = self._instrumented(function.body, lines)
        namespace = {**vars(module), self.TAP: self._tap}
        exec(compile(ast.fix_missing_locations(tree), inspect.getsourcefile(module.KitModel), "exec"), namespace)
        self.forward = types.MethodType(namespace[function.name], self.model)
        self.wanted: dict[str, list[Probe]] = {}
        self.captured: dict[str, np.ndarray] = {}
        self.inputs = list(forward_inputs(module)[0])

    @staticmethod
    def _node_line(stmt: ast.Assign, comments: dict[int, str], mxnet_names: dict[str, str],
                   node_names: set[str]) -> str:
        """The identifier of the node whose line ``stmt`` is (see the class's docstring)."""
        comment = comments.get(stmt.end_lineno, "")
        if mxnet_names.get(comment, comment) in node_names:
            return comment
        for node in ast.walk(stmt.value):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
                    and mxnet_names.get(node.attr, node.attr) in node_names):
                return node.attr
        return stmt.targets[0].id

    @staticmethod
    def _node_of(assigned: list[str], mxnet_names: dict[str, str], folded_into: dict[str, str],
                 graph: Graph) -> dict[str, str]:
        """Identifier of a node's line -> the MXNet node whose output its value is. ``MXNET_NAMES`` holds the
        names of the symbol file, which may repeat: the k-th line of a name is the k-th node of that name.

        With ``--fuse_bn`` a folded BatchNorm has no line: its Convolution's line makes the BatchNorm's
        output (``FOLDED_INTO`` in the source records it), and the Convolution's own output exists nowhere.
        """
        queues: dict[str, list[str]] = {}
        for node in reversed(graph.nodes):
            queues.setdefault(node.source_name, []).append(node.name)
        sources = {}
        for ident in assigned:
            waiting = queues.get(mxnet_names.get(ident, ident))
            sources[ident] = waiting.pop() if waiting else mxnet_names.get(ident, ident)
        by_node = {node: ident for ident, node in sources.items()}
        for bn, conv in folded_into.items():
            if conv in by_node:
                sources[by_node[conv]] = bn
        return sources

    def _instrumented(self, body: list[ast.stmt], lines: dict[ast.stmt, str]) -> list[ast.stmt]:
        """After each node's line a tap call with its node's identifier and the value it assigned."""
        out: list[ast.stmt] = []
        for stmt in body:
            out.append(stmt)
            if stmt in lines:
                out.append(ast.Expr(ast.Call(ast.Name(self.TAP, ast.Load()), [
                    ast.Constant(lines[stmt]), ast.Name(stmt.targets[0].id, ast.Load())], [])))
        return out

    def _tap(self, ident: str, value: Any) -> None:
        for probe in self.wanted.pop(self.sources.get(ident, ""), []):
            tensor = value[probe.index] if isinstance(value, (tuple, list)) else value
            self.captured[probe.label] = tensor.detach().cpu().numpy()
        if not self.wanted:
            raise _Done

    def has(self, probe: Probe) -> bool:
        return probe.node in self.present

    def fetch(self, feeds: Feeds, probes: Sequence[Probe]) -> dict[str, np.ndarray]:
        import torch

        self.wanted, self.captured = {}, {}
        for probe in probes:
            if self.has(probe):
                self.wanted.setdefault(probe.node, []).append(probe)
        if not self.wanted:
            return {}
        try:
            with torch.no_grad():
                self.forward(*(torch.from_numpy(np.ascontiguousarray(feeds[name], dtype=np.float32))
                               for name in self.inputs))
        except _Done:
            pass
        except Exception as exc:
            raise MxConvertError(f"the PyTorch model fails: {type(exc).__name__}: {exc}") from None
        captured, self.captured = self.captured, {}
        return captured


# ---------------------------------------------------------------- comparison

@dataclass
class LayerReport:
    """Per-node differences of every target from MXNet, in graph order."""

    model: str
    input: str
    input_shape: tuple[int, ...]
    tolerance: float
    probes: list[Probe]
    diffs: dict[str, list[Diff | None]]  # backend key -> one entry per probe (None: not in that model)
    inputs: dict[int, list[int]]  # probe position -> positions of the probes it reads
    floors: list[float] | None = None  # MXNet float32's relative error against float64 per probe
    noise_factor: float = NOISE_FACTOR
    float64_note: str | None = None  # why MXNet could not run in float64, when it could not

    def diverges(self, position: int, diff: Diff) -> bool:
        """Past the tolerance, and (with float64) further from it than ``noise_factor`` x MXNet's own floor."""
        if diff.rel_error <= self.tolerance:  # NaN is past it
            return False
        if self.floors is None or diff.fp64_rel_error is None:
            return True
        return not diff.fp64_rel_error <= self.noise_factor * self.floors[position]

    def floor_ratio(self, position: int, diff: Diff) -> float | None:
        if self.floors is None or diff.fp64_rel_error is None:
            return None
        floor = self.floors[position]
        return diff.fp64_rel_error / floor if floor else math.inf if diff.fp64_rel_error else 0.0

    def first_offender(self, key: str) -> Offender | None:
        """The first node in graph order that diverges (see :meth:`diverges`)."""
        diffs = self.diffs[key]
        for position, diff in enumerate(diffs):
            if diff is not None and self.diverges(position, diff):
                upstream = [diffs[i].rel_error for i in self.inputs[position] if diffs[i] is not None]
                probe = self.probes[position]
                return Offender(position, probe.label, probe.op, diff.rel_error,
                                max(upstream) if upstream else None, self.floor_ratio(position, diff))
        return None

    def worst(self, key: str) -> tuple[Probe, Diff]:
        position, diff = max(((i, d) for i, d in enumerate(self.diffs[key]) if d is not None),
                             key=lambda item: item[1].rel_error if not math.isnan(item[1].rel_error) else math.inf)
        return self.probes[position], diff

    @property
    def criterion(self) -> str:
        """What makes a node divergent, in words."""
        if self.floors is None:
            return f"over tolerance {self.tolerance:g}"
        return f"divergent (over {self.tolerance:g} and over {self.noise_factor:g}x MXNet's float32 rounding)"


def tensor_diff(ref: np.ndarray, out: np.ndarray, exact: np.ndarray | None = None) -> Diff:
    """Max abs error, error relative to the reference's scale and cosine (float64), and with ``exact`` the
    relative error against it; a shape mismatch is inf."""
    if ref.shape != out.shape:
        return Diff(math.inf, math.inf, 0.0, None if exact is None else math.inf)
    if ref.size == 0:
        return Diff(0.0, 0.0, 1.0, None if exact is None else 0.0)
    r, o = ref.astype(np.float64), out.astype(np.float64)
    fp64 = None if exact is None else max_rel_error(exact, o)
    return Diff(max_abs_error(r, o), max_rel_error(r, o), float(cosine_similarity(r, o).min()), fp64)


def probes_of(graph: Graph, shapes: dict[tuple[str, int], tuple[int, ...]]) -> list[Probe]:
    """Every op node's outputs in graph order, with MXNet's inferred shapes (keyed by name and the output's
    number among those of that name: nodes may repeat a name)."""
    seen = dict.fromkeys(graph.variables, 1)  # outputs per symbol-file name, as MXNet numbers its internals
    probes = []
    for node in graph.nodes:
        first = seen.get(node.source_name, 0)
        seen[node.source_name] = first + node.num_outputs
        for index in range(node.num_outputs):
            slot = (node.source_name, first + index)
            if slot in shapes:
                probes.append(Probe(node.name, index, node.num_outputs, node.op, shapes[slot], slot))
    return probes


def chunks(probes: Sequence[Probe], rows: int, budget: int) -> list[list[Probe]]:
    """Consecutive probes whose float32 tensors (``rows`` images) total at most ``budget`` bytes each."""
    out: list[list[Probe]] = [[]]
    used = 0
    for probe in probes:
        size = 4 * rows * math.prod(probe.shape[1:])
        if out[-1] and used + size > budget:
            out.append([])
            used = 0
        out[-1].append(probe)
        used += size
    return [chunk for chunk in out if chunk]


def compare_layers(reference: MxnetInternals, graph: Graph, targets: dict[str, Backend], tolerance: float, chunk_bytes: int = CHUNK_BYTES, model: str = "", source: str = "",
                   exact: MxnetInternals | None = None, noise_factor: float = NOISE_FACTOR) -> LayerReport:
    """Run MXNet (and with ``exact``, MXNet in float64) and each target chunk by chunk and compare every probe;
    nothing is kept but the metrics. The inputs are the reference's (:attr:`MxnetInternals.feeds`)."""
    feeds = reference.feeds
    batch = next(iter(feeds.values()))
    probes = probes_of(graph, reference.shapes)
    for key, target in targets.items():
        if not any(target.has(p) for p in probes):
            raise MxConvertError(f"the {BACKENDS[key]} model holds none of the checkpoint's node outputs "
                                 "(was it converted from this checkpoint?)")
    position = {(p.node, p.index): i for i, p in enumerate(probes)}
    inputs = {position[(n.name, i)]: [position[(r.node, r.index)] for r in n.inputs if (r.node, r.index) in position]
              for n in graph.nodes for i in range(n.num_outputs) if (n.name, i) in position}
    diffs: dict[str, list[Diff | None]] = {key: [] for key in targets}
    floors: list[float] | None = None if exact is None else []
    budget = chunk_bytes if exact is None else chunk_bytes // 2  # a float64 tensor counts twice
    for chunk in chunks(probes, batch.shape[0], budget):
        ref = reference.fetch(feeds, chunk)
        ref64 = {} if exact is None else exact.fetch(feeds, chunk)
        if floors is not None:
            floors += [tensor_diff(ref64[p.label], ref[p.label]).rel_error for p in chunk]
        for key, target in targets.items():
            out = target.fetch(feeds, chunk)
            diffs[key] += [tensor_diff(ref[p.label], out[p.label], ref64.get(p.label)) if p.label in out else None
                           for p in chunk]
            del out
        del ref, ref64
    return LayerReport(model, source, tuple(batch.shape), tolerance, probes, diffs, inputs, floors, noise_factor)


# ---------------------------------------------------------------- reports

def _num(value: float) -> str:
    return format(value, ".2e")


def table(report: LayerReport, style: TableStyle = TableStyle.DEFAULT) -> str:
    """Node, op, shape, MXNet's float32 rounding (with float64) and per target max abs error, relative error
    (against MXNet and against float64) and cosine; first divergent nodes marked."""
    header = ["#", "node", "op", "shape"] + (["MXNet f32 vs f64"] if report.floors is not None else [])
    for key in report.diffs:
        label = BACKENDS[key]
        header += [f"{label} max abs", f"{label} rel"]
        header += [f"{label} vs f64"] if report.floors is not None else []
        header.append(f"{label} cosine")
    header.append("first divergent")
    firsts: dict[int, list[str]] = {}
    for key in report.diffs:
        if (offender := report.first_offender(key)) is not None:
            firsts.setdefault(offender.position, []).append(BACKENDS[key])
    grid = PrettyTable(header)
    grid.align = "l"
    for i, probe in enumerate(report.probes):
        row = [str(i), probe.label, probe.op, "x".join(map(str, probe.shape))]
        if report.floors is not None:
            row.append(_num(report.floors[i]))
        for key in report.diffs:
            diff = report.diffs[key][i]
            width = 4 if report.floors is not None else 3
            if diff is None:
                row += ["n/a"] * width
                continue
            row += [_num(diff.max_abs_error), _num(diff.rel_error)]
            row += [_num(diff.fp64_rel_error)] if report.floors is not None else []
            row.append(format(diff.cosine, ".7f"))
        row.append(("<< " + ", ".join(firsts[i])) if i in firsts else "")
        grid.add_row(row)
    grid.set_style(style)
    return grid.get_string()


def summary(report: LayerReport) -> list[str]:
    """One line per target: flat (with its worst node), or the first divergent node; a note first when MXNet
    could not run in float64."""
    lines = [] if report.float64_note is None else [
        f"note: MXNet cannot run this graph in float64 ({report.float64_note}): nodes are judged by the fixed "
        f"tolerance {report.tolerance:g} alone"]
    within = (f"within {report.tolerance:g} of their scale" if report.floors is None else
              f"within {report.tolerance:g} of their scale or {report.noise_factor:g}x MXNet's float32 rounding "
              "of float64")
    for key in report.diffs:
        label = BACKENDS[key]
        compared = sum(d is not None for d in report.diffs[key])
        missing = len(report.probes) - compared
        absent = f"; {missing} node output(s) not in the model" if missing else ""
        offender = report.first_offender(key)
        if offender is None:
            probe, diff = report.worst(key)
            lines.append(f"{label}: flat: all {compared} node outputs {within} (worst {diff.rel_error:.2e} at "
                         f"{probe.label}, {probe.op}){absent}")
            continue
        before = ("its inputs were not compared" if offender.input_rel_error is None
                  else f"its inputs were at {offender.input_rel_error:.2e}")
        ratio = "" if offender.floor_ratio is None else \
            f", {offender.floor_ratio:.3g}x MXNet's float32 rounding from float64"
        lines.append(f"{label}: first {report.criterion}: node {offender.node} ({offender.op}), relative error "
                     f"{offender.rel_error:.2e}{ratio}; {before}, so the {offender.op} introduced the jump{absent}")
    return lines


def _json_float(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def to_json(report: LayerReport) -> str:
    targets = {}
    for key in report.diffs:
        offender = report.first_offender(key)
        targets[key] = {"label": BACKENDS[key], "first_divergent": None if offender is None else
                        {k: _json_float(v) if isinstance(v, float) else v for k, v in asdict(offender).items()}}
    nodes = []
    for i, probe in enumerate(report.probes):
        entry: dict[str, Any] = {"position": i, "node": probe.node, "output": probe.index, "op": probe.op,
                                 "shape": list(probe.shape),
                                 "mxnet_float32_vs_float64": None if report.floors is None else
                                 _json_float(report.floors[i])}
        for key in report.diffs:
            diff = report.diffs[key][i]
            entry[key] = None if diff is None else {k: v if v is None else _json_float(v)
                                                    for k, v in asdict(diff).items()}
        nodes.append(entry)
    document = {"reference": "MXNet", "model": report.model, "input": report.input,
                "input_shape": list(report.input_shape), "tolerance": report.tolerance,
                "noise_factor": report.noise_factor if report.floors is not None else None,
                "float64_note": report.float64_note, "targets": targets, "nodes": nodes}
    return json.dumps(document, indent=1, allow_nan=False) + "\n"


def to_markdown(report: LayerReport) -> str:
    shape = "x".join(map(str, report.input_shape))
    lines = [f"# Layer-by-layer divergence from MXNet: {report.model}", "",
             f"Input `{report.input}` ({shape}); tolerance {report.tolerance:g} of each tensor's scale "
             "(max |MXNet - target| / max |MXNet|, per image)"
             + ("." if report.floors is None else
                f"; a node diverges only when also further from MXNet's float64 result than "
                f"{report.noise_factor:g}x MXNet float32's own distance from it (column MXNet f32 vs f64)."), "",
             *(f"* {line}" for line in summary(report)), "", "![divergence](divergence.png)", "",
             table(report, TableStyle.MARKDOWN), ""]
    return "\n".join(lines)


def plot(report: LayerReport) -> bytes:
    """PNG: relative error per node along the graph, log scale, one line per target, first offenders marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(12, 5.5), dpi=100)
    positions = np.arange(len(report.probes))
    for key, diffs in report.diffs.items():
        rel = np.array([np.nan if d is None else d.rel_error for d in diffs], dtype=np.float64)
        line, = axes.plot(positions, np.maximum(rel, PLOT_FLOOR), linewidth=1.2, label=BACKENDS[key])
        offender = report.first_offender(key)
        if offender is not None:
            color = line.get_color()
            y = max(offender.rel_error, PLOT_FLOOR) if math.isfinite(offender.rel_error) else 1.0
            axes.axvline(offender.position, color=color, linestyle=":", linewidth=1)
            axes.plot([offender.position], [y], "o", color=color, markersize=9, markerfacecolor="none",
                      markeredgewidth=2, label=f"{BACKENDS[key]}: first divergent at "
                                              f"#{offender.position} {offender.node} ({offender.op})")
            axes.annotate(offender.node, (offender.position, y), xytext=(8, -14), textcoords="offset points",
                          color=color, fontsize=10, fontweight="bold")
    axes.axhline(report.tolerance, color="red", linestyle="--", linewidth=1,
                 label=f"tolerance {report.tolerance:g}")
    if report.floors is not None:
        floors = report.noise_factor * np.array(report.floors, dtype=np.float64)
        axes.plot(positions, np.maximum(floors, PLOT_FLOOR), color="gray", linestyle=":", linewidth=1.2,
                  label=f"{report.noise_factor:g}x MXNet float32 vs float64 (noise floor)")
    axes.set_yscale("log")
    axes.set_xlim(-0.5, max(len(report.probes) - 0.5, 0.5))
    if len(report.probes) <= 40:
        axes.set_xticks(positions, [p.label for p in report.probes], rotation=45, ha="right")
    axes.set_xlabel("node in graph order (depth)")
    axes.set_ylabel("max |MXNet - target| / max |MXNet|")
    shape = "x".join(map(str, report.input_shape))
    exact = any(d is not None and d.rel_error == 0 for diffs in report.diffs.values() for d in diffs)
    axes.set_title(f"{report.model}: relative error per node against MXNet (input {shape})"
                   + (f"; exact agreement drawn at {PLOT_FLOOR:g}" if exact else ""))
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(0, -0.12 if len(report.probes) > 40 else -0.25), ncol=2,
                frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def write_report(report: LayerReport, folder: str | Path) -> list[Path]:
    """``report.md``, ``report.json`` and ``divergence.png`` in ``folder``, each written atomically."""
    root = Path(folder)
    paths = [root / "report.md", root / "report.json", root / "divergence.png"]
    write_text(paths[0], to_markdown(report))
    write_text(paths[1], to_json(report))
    write_bytes(paths[2], plot(report))
    return paths


# ---------------------------------------------------------------- script

def float64_reference(checkpoint: Checkpoint, epoch: int, feeds: Feeds, graph: Graph, probes: Sequence[Probe]
                      ) -> tuple[MxnetInternals | None, str | None]:
    """MXNet in float64 for the noise floor, tried on the graph's outputs first; else None and why not."""
    heads = {(ref.node, ref.index) for ref in graph.outputs}
    try:
        exact = MxnetInternals(checkpoint, epoch, feeds, dtype="float64")
        exact.fetch(feeds, [p for p in probes if (p.node, p.index) in heads])
    except MxConvertError as exc:
        return None, str(exc).split(": ", 1)[-1]
    return exact, None


def checkpoint_report(checkpoint: Checkpoint, epoch: int, given: Given, onnx_model: str | None = None,
                      kit_model: str | None = None, pytorch_model: str | None = None, tolerance: float = 1e-5,
                      noise_factor: float = NOISE_FACTOR, source: str = "") -> LayerReport:
    """The layer report of a checkpoint's converted files on ``given`` (an array for the data input, or arrays
    by input name): MXNet in float32 and in float64 (where it can run it) against each target given."""
    paths = CheckpointPaths.of(checkpoint, epoch)
    reference = MxnetInternals(paths, epoch, given)
    graph = read_symbol(paths.symbol)
    probes = probes_of(graph, reference.shapes)
    exact, float64_note = float64_reference(paths, epoch, reference.feeds, graph, probes)
    targets: dict[str, Backend] = {}
    if onnx_model is not None:
        targets["onnxruntime"] = OrtInternals(onnx_model, probes)
    if kit_model is not None:
        targets["pytorch"] = TorchInternals(kit_model, pytorch_model, graph)
    report = compare_layers(reference, graph, targets, tolerance, model=paths.name, source=source,
                            exact=exact, noise_factor=noise_factor)
    report.float64_note = float64_note
    return report


def main(args: argparse.Namespace) -> int:
    """``compare_layers.py``: print the table and summary, write the report; exit 1 when a node is over."""
    if len(args.input_shape) != 2:
        raise MxConvertError(f"--input_shape takes H,W, got {args.input_shape}")
    if (args.kit_model is None) != (args.pytorch_model is None):
        raise MxConvertError("--kit_model and --pytorch_model go together")
    if args.onnx_model is None and args.kit_model is None:
        raise MxConvertError("nothing to compare: give --onnx_model and/or --kit_model with --pytorch_model")
    sources = input_sources(args.input_image)
    given = (load_input(sources, args.input_shape).array if isinstance(sources, str)
             else load_named(sources, args.input_shape)[0])
    report = checkpoint_report(cli.checkpoint_of(args), args.epoch, given, args.onnx_model, args.kit_model,
                               args.pytorch_model, args.tolerance, args.noise_factor, source=" ".join(args.input_image))
    print(table(report))
    for line in summary(report):
        print(line)
    paths = write_report(report, args.report)
    print(f"report: {', '.join(map(str, paths))}")
    over = [key for key in report.diffs if report.first_offender(key) is not None]
    if over:
        print(f"{report.criterion}: {', '.join(BACKENDS[k] for k in over)}", file=sys.stderr)
    return EXIT_TOLERANCE if over else EXIT_OK
