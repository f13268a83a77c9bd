"""Every intermediate tensor of one backend, by probe: MXNet's symbol internals, a copy of our ONNX file with the
tensors made outputs in ONNX Runtime, and the generated PyTorch ``forward`` with a tap after each node's line."""
from __future__ import annotations

import ast
import inspect
import io
import json
import textwrap
import tokenize
import types
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from ..checkpoint import Checkpoint
from ..errors import MxConvertError
from ..feeds import FOLDED_INTO_KEY, Feeds, Given
from ..ir import Graph, Node
from .bodies import MxnetSteps, flag_of, numbered, onnx_candidates, tap_bodies, value_types
from .probes import TAPPED_BODIES, Probe, node_slots


class Backend(Protocol):
    def fetch(self, feeds: Feeds, probes: Sequence[Probe]) -> dict[str, np.ndarray]:
        """The tensors of ``probes`` it has, by label, from one forward pass."""

    def has(self, probe: Probe) -> bool: ...




class MxnetInternals:
    """The checkpoint in MXNet; each fetch binds the group of the requested internal outputs."""

    def __init__(self, checkpoint: Checkpoint, epoch: int, given: Given, dtype: str = "float32"):
        """``given``: the input(s), completed here as the MXNet backend completes them (:attr:`feeds`)."""
        from ..mxnet_runner import MxnetModel, mxnet_message

        self.model = model = MxnetModel(checkpoint, epoch, dtype=dtype)
        self.mx = model.mx
        self.internals = model.symbol.get_internals()
        self.slots = numbered(self.internals)  # (node, output index) -> position in the internals
        # control-flow nodes by name, for their bodies' probes
        self.owners = {n.name: n for n in (model.graph.nodes if model.graph else []) if n.op in TAPPED_BODIES}
        self.node_slots = node_slots(model.graph) if model.graph else {}
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
        return probe.owner in self.owners if probe.owner else probe.mxnet_slot in self.slots

    def fetch(self, feeds: Feeds, probes: Sequence[Probe]) -> dict[str, np.ndarray]:
        """Node outputs from one bind of their group; a body node's from its owner's bodies run step by step
        (:class:`bodies.MxnetSteps`) on the owner's inputs."""
        flat = [p for p in probes if not p.owner]
        found = dict(zip((p.label for p in flat), self._forward(feeds, [p.mxnet_slot for p in flat])))
        for owner in dict.fromkeys(p.owner for p in probes if p.owner):
            steps = self._steps(feeds, owner)
            found.update(self._guarded(lambda: steps.values([p for p in probes if p.owner == owner])))
        for node in (self.owners[name] for name in dict.fromkeys(p.node for p in flat) if name in self.owners):
            stacked = [p for p in flat if p.node == node.name and p.index < node.attrs.get("num_out_data", 0)]
            if node.op == "_while_loop" and stacked:  # MXNet leaves the rows after the last step unwritten
                ran = self._guarded(self._steps(feeds, node.name).count)
                for probe in stacked:
                    found[probe.label][ran:] = 0  # as the targets write them
        return found

    def _steps(self, feeds: Feeds, owner: str) -> MxnetSteps:
        """The bodies of control-flow node ``owner`` on the values its inputs take."""
        node = self.owners[owner]
        inputs = self._forward(feeds, [self.node_slots[ref] for ref in node.inputs])
        symbol = self.internals[self.slots[self.node_slots[node.output(0)]]]
        return MxnetSteps(self.mx, self.model.ctx, symbol, node, inputs)

    def _forward(self, feeds: Feeds, slots: Sequence[tuple[str, int]]) -> list[np.ndarray]:
        """The internals at ``slots`` from one bind of their group."""
        if not slots:
            return []
        mx, model = self.mx, self.model
        group = mx.sym.Group([self.internals[self.slots[slot]] for slot in slots])
        args = {}
        for name in group.list_arguments():
            if name in feeds:
                args[name] = mx.nd.array(feeds[name], dtype=model.dtype)
            elif name in model.arg_params:  # shared with the loaded checkpoint, not copied
                args[name] = model.arg_params[name]
            else:  # a loss head's label
                args[name] = mx.nd.zeros(self.arg_shapes[name], dtype=model.dtype)
        aux = {name: model.aux_params[name] for name in group.list_auxiliary_states()}

        def run() -> list[np.ndarray]:
            executor = group.bind(model.ctx, args=args, aux_states=aux, grad_req="null")
            return [out.asnumpy() for out in executor.forward(is_train=False)]

        return self._guarded(run)

    def _guarded(self, run: Callable[[], Any]) -> Any:
        """``run``'s result, MXNet's binds silenced (it logs its subgraph setting at every bind) and its errors
        reported."""
        from ..mxnet_runner import mxnet_message, native_stderr_silenced

        try:
            with native_stderr_silenced():
                return run()
        except self.mx.base.MXNetError as exc:
            raise MxConvertError(f"MXNet forward failed: {mxnet_message(exc)}", str(self.model.params_path)) from None


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

        from ..onnx_runtime import OnnxInputs, load_onnx

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
        self.branches: dict[str, tuple[str, bool]] = {}  # an If's body probe -> (its condition, in then?)
        body = {p.label: onnx_candidates(p) for p in probes if p.owner}
        if body:
            self.types.update(value_types(model))
            tapped, self.branches = tap_bodies(model, body, self.types)
            self.names.update(tapped)
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

        from ..to_onnx.context import tensors_read

        graph = self.skeleton.graph
        needed, nodes = set(fetches), []
        for node in reversed(graph.node):
            if needed.intersection(node.output):
                nodes.append(node)
                needed.update(tensors_read(node))  # a Loop's or If's body reads outer tensors too
        weights = [name for name in self.weights if name in needed]
        constants = [t for t in graph.initializer if t.name in needed]
        outputs = [helper.make_tensor_value_info(n, self.types.get(n, TensorProto.FLOAT), None) for n in fetches]
        sub = helper.make_graph(nodes[::-1], graph.name, [*self.input_info, *(self.weight_info[w] for w in weights)],
                                outputs, initializer=constants)
        model = helper.make_model(sub, opset_imports=self.skeleton.opset_import, ir_version=self.skeleton.ir_version)
        from ..onnx_runtime import inference_session

        return inference_session(model, self.path, memory_arena=False), weights  # no arena: chunks give memory back

    def fetch(self, feeds: Feeds, probes: Sequence[Probe]) -> dict[str, np.ndarray]:
        from ..onnx_runtime import run_session

        wanted = [p.label for p in probes if self.has(p)]
        if not wanted:
            return {}
        conditions = list(dict.fromkeys(self.branches[label][0] for label in wanted if label in self.branches))
        fetches = [self.names[label] for label in wanted] + conditions
        session, weights = self._session(fetches)
        stored = {name: self.weights[name] for name in weights}

        def run(inputs: Feeds) -> list[np.ndarray]:
            return run_session(session, fetches, {**inputs, **stored}, self.path)

        values = self.inputs.run(run, {n: a for n, a in feeds.items() if n in self.inputs.names}, "onnxruntime")
        taken = {name: flag_of(value) for name, value in zip(conditions, values[len(wanted):])}
        return {label: value for label, value in zip(wanted, values) if label not in self.branches
                or taken[self.branches[label][0]] == self.branches[label][1]}  # an If's branch not taken: none


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
        from ..to_torch.loader import build_model, load_kit_module
        from ..to_torch.runner import forward_inputs, load_state

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
        lines = {stmt: self._node_line(stmt, comments, mxnet_names, node_names) for stmt in _assigns(function.body)}
        self.sources = self._node_of(list(lines.values()), mxnet_names, getattr(module, "FOLDED_INTO", {}),
                                     graph.nodes)
        owners = {n.name: n for n in graph.nodes if n.op in TAPPED_BODIES}
        outer = {n.name for n in graph.nodes}
        taps: dict[ast.stmt, str] = dict(lines)
        pending: list[ast.Assign] = []  # lines of the next control-flow node's bodies (a _cond's condition's too)
        for stmt in function.body:
            node = self.sources.get(lines.get(stmt, ""))
            if node in owners:
                taps.update(self._body_lines(owners[node], pending, comments, mxnet_names))
                pending = []
            elif stmt in lines and node not in outer:
                pending.append(stmt)
            elif isinstance(stmt, (ast.For, ast.If)):
                pending += _assigns([*stmt.body, *stmt.orelse])
        self.sources.update((key, key) for key in taps.values() if "/" in key)
        self.present = set(self.sources.values())
        function.body = self._instrumented(function.body, taps)
        namespace = {**vars(module), self.TAP: self._tap}
        exec(compile(ast.fix_missing_locations(tree), inspect.getsourcefile(module.KitModel), "exec"), namespace)
        self.forward = types.MethodType(namespace[function.name], self.model)
        self.wanted: dict[str, list[Probe]] = {}
        self.captured: dict[str, np.ndarray] = {}
        self.stepping: dict[str, list[Probe]] = {}  # body probes by node, and their values so far
        self.steps: dict[str, list[np.ndarray]] = {}
        self.open: set[str] = set()  # control-flow nodes whose bodies are still to run
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

    def _body_lines(self, owner: Node, stmts: list[ast.Assign], comments: dict[int, str],
                    mxnet_names: dict[str, str]) -> dict[ast.stmt, str]:
        """The lines among ``stmts`` that compute nodes of ``owner``'s tapped bodies -> ``owner/inner``."""
        inner = [n for index in TAPPED_BODIES[owner.op] for n in owner.subgraphs[index].nodes]
        names = {n.source_name for n in inner}
        idents = {stmt: self._node_line(stmt, comments, mxnet_names, names) for stmt in stmts}
        nodes = self._node_of(list(idents.values()), mxnet_names, {}, inner)
        known = {n.name for n in inner}
        return {stmt: f"{owner.name}/{nodes[ident]}" for stmt, ident in idents.items() if nodes[ident] in known}

    @staticmethod
    def _node_of(assigned: list[str], mxnet_names: dict[str, str], folded_into: dict[str, str],
                 nodes: list[Node]) -> dict[str, str]:
        """Identifier of a node's line -> the MXNet node whose output its value is. ``MXNET_NAMES`` holds the
        names of the symbol file, which may repeat: the k-th line of a name is the k-th node of that name.

        With ``--fuse_bn`` a folded BatchNorm has no line: its Convolution's line makes the BatchNorm's
        output (``FOLDED_INTO`` in the source records it), and the Convolution's own output exists nowhere.
        """
        queues: dict[str, list[str]] = {}
        for node in reversed(nodes):
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

    def _instrumented(self, body: list[ast.stmt], taps: dict[ast.stmt, str]) -> list[ast.stmt]:
        """After each node's line (in loops and branches too) a tap call with its key and the value it
        assigned."""
        out: list[ast.stmt] = []
        for stmt in body:
            if isinstance(stmt, (ast.For, ast.If)):
                stmt.body, stmt.orelse = self._instrumented(stmt.body, taps), self._instrumented(stmt.orelse, taps)
            out.append(stmt)
            if stmt in taps:
                out.append(ast.Expr(ast.Call(ast.Name(self.TAP, ast.Load()), [
                    ast.Constant(taps[stmt]), ast.Name(stmt.targets[0].id, ast.Load())], [])))
        return out

    def _tap(self, ident: str, value: Any) -> None:
        node = self.sources.get(ident, "")
        for probe in self.wanted.pop(node, []):
            self.captured[probe.label] = _tensor(probe, value).detach().cpu().numpy()
        for probe in self.stepping.get(node, []):  # a body node's: every step's value
            self.steps.setdefault(probe.label, []).append(_tensor(probe, value).detach().cpu().numpy().copy())
        self.open.discard(node)  # a control-flow node's line: its bodies are done
        if not self.wanted and not self.open:
            raise _Done

    def has(self, probe: Probe) -> bool:
        return probe.node in self.present

    def fetch(self, feeds: Feeds, probes: Sequence[Probe]) -> dict[str, np.ndarray]:
        import torch

        self.wanted, self.captured, self.stepping, self.steps = {}, {}, {}, {}
        for probe in probes:
            if self.has(probe):
                (self.stepping if probe.owner else self.wanted).setdefault(probe.node, []).append(probe)
        self.open = {probe.owner for found in self.stepping.values() for probe in found}
        if not self.wanted and not self.open:
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
        for probe in (probe for found in self.stepping.values() for probe in found if probe.label in self.steps):
            steps = self.steps[probe.label]
            captured[probe.label] = np.stack(steps) if probe.stacked else steps[0]
        return captured


def _assigns(body: list[ast.stmt]) -> list[ast.Assign]:
    """The statements of ``body`` that assign one name."""
    return [stmt for stmt in body if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)]


def _tensor(probe: Probe, value: Any) -> Any:
    """Output ``probe.index`` of a line's value (a tuple where the node has several outputs)."""
    return value[probe.index] if isinstance(value, (tuple, list)) else value
