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
from typing import Any, Protocol, Sequence

import numpy as np

from ..checkpoint import Checkpoint
from ..errors import MxConvertError
from ..feeds import FOLDED_INTO_KEY, Feeds, Given
from ..ir import Graph
from .probes import Probe


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
        from ..mxnet_runner import native_stderr_silenced, mxnet_message

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
