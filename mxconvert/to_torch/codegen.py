"""Drive the lowerings over a graph and assemble ``kit_model.py`` source plus its state dict."""
from __future__ import annotations

import builtins
import functools
import keyword
import re
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..dynamic import LiveDims, digest, emit_checked, input_dtypes_of, input_sizes, live_dims, probe_shapes
from ..errors import InternalError, NotExpressible, UnsupportedOpsError, first_line
from ..batch_major import batch_major_attention
from ..inference_graph import inference_forward
from ..semantics.dtypes import INTEGER_DTYPES, tensor_dtypes
from ..ir import Graph, Node, TensorRef, VarKind
from ..liveness import Liveness, liveness
from ..semantics.schema import OPS
from ..passes import fold_batch_norms
from ..registry import computed_weight_slots
from ..semantics.indexing import dtype_value
from ..semantics.inference import begin_states, inferred_shapes
from ..semantics.quantization import QRange, quantized_ranges
from ..semantics.rules import Shape
# the family modules register their lowerings
from . import (activation, attention, control_flow, convolution, detection, elementwise, indexing,  # noqa: F401
               linalg, linear, normalization, quantization, recurrent, reduce, resize, sequence, shape, spatial)
from .registry import CONVERTERS, HELPERS, REGISTRY, Lowering

WIDTH = 119
_MAX_IDENT = 60
_GENERATED = {"self", "torch", "nn", "F", "List", "Optional", "Tuple", "KitModel", "MXNET_NAMES", "FOLDED_INTO",
              *HELPERS}
RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) \
    | frozenset(dir(nn.Module)) | frozenset(vars(nn.Module())) | frozenset(_GENERATED)


class Namer:
    """MXNet names -> unique Python identifiers ([A-Za-z0-9_], no leading digit or underscore, not reserved)."""

    def __init__(self) -> None:
        self.used: set[str] = set(RESERVED)

    def __call__(self, raw: str) -> str:
        base = re.sub(r"[^A-Za-z0-9]+", "_", raw).strip("_")[:_MAX_IDENT].rstrip("_") or "node"
        if base[0].isdigit():
            base = f"n{base}"
        name, suffix = base, 1
        while name in self.used:
            name, suffix = f"{base}_{suffix}", suffix + 1
        self.used.add(name)
        return name


class ForwardVariables:
    """Which local variable of ``forward`` holds each node's value, and which to ``del`` after each line.

    Names say what they hold: ``x`` the running value, ``branch`` (``branch_1``...) the running value of a side
    branch beside it, a node's identifier that node's value alone. A value takes over a running variable whose
    value dies at its node (``x`` first), else ``x`` when free; else a value one node reads starts a branch (a free
    branch variable or a new one), and a value kept for several keeps its node's name. Multi-output values and the
    graph's outputs keep their node's name. A variable is deleted after the line that reads it last unless that
    line reassigns it, so each value lives no longer than the liveness says; the inputs stay (the caller holds them).
    """

    def __init__(self, life: Liveness, namer: Namer):
        self.life, self.namer = life, namer
        self.trunk = namer("x")
        self.branches: list[str] = []  # branch variables made so far
        self.holder: dict[str, str] = {}  # live value -> its variable

    def assign(self, node: Node, ident: str) -> tuple[str, list[str]]:
        """The variable ``node``'s line assigns, and the variables to delete after it."""
        life = self.life
        position = life.born[node.name]
        read = dict.fromkeys(ref.node for ref in node.inputs if ref.node in life.born)
        dying = [value for value in read if life.last_use(value) == position]
        readers = life.readers[node.name]
        target = ident
        if node.num_outputs == 1 and readers and not life.is_output(node.name):
            running = [self.trunk, *self.branches]
            busy = {variable for value, variable in self.holder.items() if value not in dying}
            passed_on = [self.holder[value] for value in dying if self.holder[value] in running]
            if passed_on:
                target = self.trunk if self.trunk in passed_on else passed_on[0]
            elif self.trunk not in busy:
                target = self.trunk
            elif len(readers) == 1:
                target = next((b for b in self.branches if b not in busy), None) or self._new_branch()
        dead = [variable for variable in (self.holder.pop(value) for value in dying) if variable != target]
        if readers:
            self.holder[node.name] = target
        else:  # nothing reads it
            dead.append(target)
        return target, dead

    def _new_branch(self) -> str:
        self.branches.append(self.namer("branch"))
        return self.branches[-1]


class TorchContext:
    """Per-graph state the lowerings read: shapes, identifiers, weights, helpers and folded BatchNorms."""

    def __init__(self, graph: Graph, shapes: dict[TensorRef, tuple], live: LiveDims | None = None,
                 folded_into: dict[str, str] | None = None, parent: TorchContext | None = None,
                 bound: dict[str, str] | None = None, indent: int = 8, within: str = "",
                 cast_inputs: Iterable[str] = (), int8_cpu: str = "vnni"):
        """``live``: a tensor's dims, a size or the (input, axis) it follows at run time (``dynamic.live_dims``);
        ``folded_into``: the BatchNorms ``passes.fold_batch_norms`` folded, recorded in the source. A control-flow
        body's context (``body``) shares its ``parent``'s identifiers, layers and weights; ``bound``: each body
        input -> the expression it reads; ``indent``: of its lines; ``within``: its path, for errors;
        ``cast_inputs``: inputs given in another type (token ids as int64), cast to float32 first; ``int8_cpu``:
        whose INT8 arithmetic quantized ops reproduce (``quantization.INT8_CPUS``)."""
        self.cast_inputs = tuple(cast_inputs)
        self.int8_cpu = parent.int8_cpu if parent else int8_cpu
        self.graph = graph
        self.shapes = shapes
        self.live = live or (lambda ref: list(shapes[ref]))
        self.states = begin_states(graph)
        self.digests: dict[str, str] = {}  # node -> fingerprint of its lowering (``dynamic.emit_checked``)
        self.dtypes = tensor_dtypes(graph)  # MXNet's element type of each node output
        self.integers = {ref for ref, dtype in self.dtypes.items() if dtype in INTEGER_DTYPES}
        self.current: Node | None = None
        self.nodes = graph.nodes_by_name()
        self.parent, self.indent, self.within = parent, indent, within
        self.namer = parent.namer if parent else Namer()
        self.idents: dict[str, str] = {}  # MXNet node/variable name -> identifier
        self.exprs: dict[str, str] = dict(bound or {})  # MXNet node/variable name -> expression of its output(s)
        self.helpers: list[str] = parent.helpers if parent else []
        self.folded_into = folded_into or {}
        self.inits: list[str] = parent.inits if parent else []
        self.lines: list[str] = []
        self.state: dict[str, np.ndarray] = parent.state if parent else {}
        # id of a stored array (kept alive in state) -> first entry holding it
        self.owners: dict[int, str] = parent.owners if parent else {}
        self.bodies: list[TorchContext] = parent.bodies if parent else []  # every body's context, for MXNET_NAMES
        if parent:
            self.bodies.append(self)
        for var in graph.inputs:
            if var.name not in self.exprs:
                self.exprs[var.name] = self.ident(var.name)
        self._constant_params()
        for node in graph.nodes:
            self.ident(node.name)
        self.variables = ForwardVariables(liveness(graph), self.namer)

    @functools.cached_property
    def quantized_ranges(self) -> dict[TensorRef, QRange]:
        """The type and range of each quantized tensor of the graph, found once."""
        return quantized_ranges(self.graph)

    def body(self, graph: Graph, shapes: dict[TensorRef, tuple], bound: dict[str, str], depth: int,
             within: str) -> TorchContext:
        """The context of a control-flow body whose lines sit ``depth`` levels inside this context's."""
        return TorchContext(graph, shapes, parent=self, bound=bound, indent=self.indent + 4 * depth,
                            within=f"{self.within}{within}/")

    def statement(self, line: str, depth: int = 0) -> str:
        """``line`` indented ``depth`` levels inside this context's lines, wrapped."""
        return _wrap(line, self.indent + 4 * depth)

    # --- what lowerings use -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.idents[self.current.name]

    @property
    def layer(self) -> str:
        return f"self.{self.name}"

    def input(self, index: int) -> str:
        return self.expr_of(self.current.inputs[index])

    def shape(self, index: int) -> tuple[int, ...]:
        return self.shapes[self.current.inputs[index]]

    def out_shape(self, index: int = 0) -> tuple[int, ...]:
        return self.shapes[self.current.output(index)]

    def in_output_type(self, value: float) -> float:
        """A double attribute as MXNet's kernel casts it to the current node's output type (``dtype_value``: past
        float32's range an infinity, which torch would refuse to fill a float32 tensor with)."""
        return dtype_value(value, self.dtypes.get(self.current.output(), "float32"))

    def weight(self, index: int) -> np.ndarray:
        return self.graph.weight(self.current.inputs[index].node)

    def all_weights_stored(self) -> bool:
        """Whether every weight slot of the current node reads a stored weight (else the lowering takes them as
        tensors: ``input`` gives each)."""
        return not computed_weight_slots(self.current, self.graph.params.keys() | self.graph.aux.keys())

    def helper(self, name: str) -> str:
        """Include a module-level helper function of :data:`registry.HELPERS`; returns its name."""
        if name not in self.helpers:
            self.helpers.append(name)
        return name

    # --- driving ------------------------------------------------------------------------------------
    def ident(self, mxnet_name: str) -> str:
        if mxnet_name not in self.idents:
            self.idents[mxnet_name] = self.namer(mxnet_name)
        return self.idents[mxnet_name]

    def lower(self, node: Node) -> None:
        self.current = node
        name = self.ident(node.name)
        try:
            lowering: Lowering = CONVERTERS[node.op].convert(self, node)
        except NotExpressible as exc:
            raise UnsupportedOpsError("PyTorch", {f"{node.op} [{exc}]": [self.within + node.name]}) from None
        except (UnsupportedOpsError, InternalError):  # from a body
            raise
        except Exception as exc:
            raise InternalError(f"converting node {self.within + node.name!r} ({node.op}) to PyTorch failed: "
                                f"{type(exc).__name__}: {first_line(exc)}") from exc
        self.digests[node.name] = digest(str(lowering.layer), *lowering.setup, *lowering.statements, lowering.expr,
                                         *(f"{key}{array.shape}" for key, array in lowering.state.items()))
        if lowering.layer is not None:
            self.inits.append(f"self.{name} = {lowering.layer}")
        self.inits.extend(lowering.setup)
        for key, array in lowering.state.items():
            entry = f"{name}.{key}"
            owner = self.owners.setdefault(id(array), entry)
            if owner != entry:  # an MXNet variable several nodes read: one tensor, so training keeps it shared
                self.inits.append(f"self.{entry} = self.{owner}")
            self.state[entry] = array
        target, dead = self.variables.assign(node, name)
        line = f"{target} = {lowering.expr}"
        if target != name and not re.search(rf"\bself\.{name}\b", lowering.expr):
            line += f"  # {name}"  # the line names its MXNet node
        self.lines.extend(lowering.statements)
        self.lines.append(self.statement(line))
        self.exprs[node.name] = target
        if dead and self.parent is None:  # a body's values live one step
            self.lines.append(self.statement(f"del {', '.join(dead)}"))

    def expr_of(self, ref: TensorRef) -> str:
        """The forward expression of one tensor: a local variable, ``self.<param>``, or ``name[i]``."""
        node = self.nodes.get(ref.node)
        base = self.exprs[ref.node]
        return f"{base}[{ref.index}]" if node is not None and node.num_outputs > 1 else base

    def _constant_params(self) -> None:
        """Stored weights that ops read as data (not through a weight slot) become ``nn.Parameter`` s."""
        stored = self.graph.params.keys() | self.graph.aux.keys()
        for node in self.graph.nodes:
            schema = OPS[node.op]
            weight_slots = set(schema.label_inputs)
            if not computed_weight_slots(node, stored):  # else its lowering reads every weight as a tensor
                weight_slots |= set(schema.param_inputs) | set(schema.aux_inputs)
            for slot, ref in enumerate(node.inputs):
                var = self.graph.variables.get(ref.node)
                if slot in weight_slots or var is None or var.kind is not VarKind.PARAM or ref.node in self.exprs:
                    continue
                name = self.ident(var.name)
                array = self.graph.weight(var.name)
                self.inits.append(f"self.{name} = nn.Parameter(torch.empty({list(array.shape)}))")
                self.state[name] = array
                self.exprs[var.name] = f"self.{name}"

    def _parameters_only(self) -> set[str]:
        """The parameters read as data and the nodes computed from them alone, no graph input: an identity or an
        inference Dropout passes the ``nn.Parameter`` itself, which an output never is (under ``no_grad`` it would
        still require grad)."""
        parameters = {name for name, expr in self.exprs.items() if expr.startswith("self.")}
        reached = {var.name for var in self.graph.inputs}
        for node in self.graph.nodes:
            sources = {ref.node for ref in node.inputs}
            if sources & reached:
                reached.add(node.name)
            elif sources & parameters:
                parameters.add(node.name)
        return parameters

    # --- assembly -----------------------------------------------------------------------------------
    def source(self) -> str:
        graph = self.graph
        from_parameters = self._parameters_only()
        heads = [f"{self._typed(ref)}.clone()" if ref.node in from_parameters else self._typed(ref)
                 for ref in graph.outputs]
        returns = "torch.Tensor" if len(heads) == 1 else f"Tuple[{', '.join(['torch.Tensor'] * len(heads))}]"
        arguments, defaults = self._arguments()
        signature = f"def forward(self, {', '.join(arguments)}) -> {returns}:"
        parts = [_header(graph), "from typing import List, Optional, Tuple\n\nimport torch\nimport torch.nn.functional as F"
                 "\nfrom torch import nn\n"]
        renamed = {ident: original for ctx in (self, *self.bodies) for raw, ident in ctx.idents.items()
                   if ident != (original := ctx.nodes[raw].source_name if raw in ctx.nodes else raw)}
        if renamed:
            entries = "".join(f"    {ident!r}: {raw!r},\n" for ident, raw in sorted(renamed.items()))
            parts.append(f"# Python name -> MXNet name, where they differ.\nMXNET_NAMES = {{\n{entries}}}\n")
        if self.folded_into:
            entries = "".join(f"    {bn!r}: {conv!r},\n" for bn, conv in self.folded_into.items())
            parts.append("# BatchNorm -> the Convolution it was folded into (--fuse_bn): that line's value is the "
                         f"BatchNorm's output.\nFOLDED_INTO = {{\n{entries}}}\n")
        parts.extend(f"\n{HELPERS[name].strip()}\n" for name in self.helpers)
        body = [f"class KitModel(nn.Module):\n    {_CLASS_DOC}\n", "    def __init__(self) -> None:",
                "        super().__init__()"]
        body += [_wrap(line, 8) for line in self.inits]
        body += ["", _wrap(signature, 4), *defaults]
        lines = list(self.lines)
        while lines and lines[-1].lstrip().startswith("del "):  # returning frees them as well
            lines.pop()
        body += lines
        body.append(_wrap(f"return {', '.join(heads)}", 8))
        parts.append("\n" + "\n".join(body))
        return "\n".join(parts) + "\n"

    def _typed(self, ref: TensorRef) -> str:
        """An output's expression in MXNet's type of it (the graph computes in float32)."""
        dtype = self.dtypes.get(ref, "float32")
        expr = self.expr_of(ref)
        return expr if dtype == "float32" else f"{expr}.to(torch.{dtype})"

    def live_shape(self, ref: TensorRef) -> str:
        """``ref``'s shape as a list expression: fixed sizes, or an input's live size where it follows one."""
        dims = self.live(ref)
        sizes = ", ".join(str(self.shapes[ref][i]) if not isinstance(dim, tuple) else
                          f"{self.idents[dim[0]]}.shape[{dim[1]}]" for i, dim in enumerate(dims))
        return f"[{sizes}]"

    def _arguments(self) -> tuple[list[str], list[str]]:
        """``forward``'s parameters in the graph's input order (begin states default to zeros, made on the
        first data input's device at its live sizes), and the lines that fill the defaults."""
        data = [v.name for v in self.graph.inputs if v.name not in self.states]
        device = f", device={self.idents[data[0]]}.device" if data else ""
        arguments, defaults = [], []
        for var in self.graph.inputs:
            ident = self.idents[var.name]
            if var.name not in self.states:
                arguments.append(f"{ident}: torch.Tensor")
                if var.name in self.cast_inputs:
                    defaults.append(f"        {ident} = {ident}.to(torch.float32)  # taken as given, computed on floats")
                continue
            arguments.append(f"{ident}: Optional[torch.Tensor] = None")
            dims = self.live_shape(TensorRef(var.name))
            defaults += [f"        if {ident} is None:  # a begin state not given starts at zeros",
                         _wrap(f"{ident} = torch.zeros({dims}{device})", 12)]
        return arguments, defaults

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Plain tensors (floats as float32, as the generated layers are) that ``torch.load`` reads weights-only."""
        return {key: torch.tensor(value.astype(np.float32) if value.dtype.kind == "f" else value)
                for key, value in self.state.items()}


_CLASS_DOC = '''"""The MXNet network as a PyTorch module: ``eval()`` reproduces MXNet inference, ``train()`` trains.

    Layers that MXNet trains otherwise than PyTorch (``Mxnet*`` classes above: BatchNorm's statistics and
    ``fix_gamma``, Dropout's shared axes) keep PyTorch's state dict keys and say how they differ.
    """'''


def _header(graph: Graph) -> str:
    source = graph.source
    lines = [f"# Generated by mxconvert {__version__} from an MXNet checkpoint; regenerate rather than edit."]
    for what, name, sha256 in (("symbol", source.symbol_file, source.symbol_sha256),
                               ("params", source.params_file, source.params_sha256)):
        if name:
            checked = sha256 if re.fullmatch(r"[0-9a-f]{64}", sha256 or "") else "unknown"
            lines.append(f"# {what}: {name!r} (sha256 {checked})")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class TorchOptions:
    """What the generated ``KitModel`` is made for (the PyTorch twin of ``to_onnx.ExportOptions``)."""

    input_shape: Shape | dict[str, Shape]  # one bare shape for the data input, or a shape per input name
    fuse_bn: bool = False  # BatchNorms folded into the Convolutions before them (passes.fold_batch_norms)
    batch_major: bool = True  # GluonNLP's time-major encoders run batch-major (batch_major.batch_major_attention)
    keep_softmax: bool = True  # loss heads become their forward, else their raw input
    dynamic_batch: bool = False  # axis 0 of every data input symbolic
    dynamic_axes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # input -> symbolic axes
    input_dtypes: dict[str, str] = field(default_factory=dict)  # input -> element type it takes (float32 if absent)
    int8_cpu: str = "vnni"  # whose INT8 arithmetic quantized ops reproduce (quantization.INT8_CPUS)


def emit_pytorch(graph: Graph, options: TorchOptions) -> tuple[str, dict[str, torch.Tensor]]:
    """``kit_model.py`` source and the state dict of its ``KitModel``; nothing is written here. With dynamic axes
    the code must compute every size from live shapes: a node whose code depends on those sizes is refused
    (``dynamic.emit_checked``)."""
    graph = inference_forward(graph, options.keep_softmax)
    offenders = REGISTRY.unsupported(graph.nodes, stored=graph.params.keys() | graph.aux.keys())
    if offenders:
        raise UnsupportedOpsError("PyTorch", offenders)
    graph, folded_into = fold_batch_norms(graph) if options.fuse_bn else (graph, {})
    sizes = input_sizes(graph, options.input_shape, options.dynamic_batch, options.dynamic_axes)
    if options.batch_major:
        graph, _ = batch_major_attention(graph, sizes.given)
    shapes = inferred_shapes(graph, sizes.given)
    probe = probe_shapes(graph, sizes) if sizes.dynamic else None
    live = live_dims(sizes, shapes, probe)

    def lowered(at: dict[TensorRef, Shape]) -> tuple[TorchContext, dict[str, str]]:
        ctx = TorchContext(graph, at, live, folded_into, cast_inputs=input_dtypes_of(graph, options.input_dtypes),
                           int8_cpu=options.int8_cpu)
        for node in graph.nodes:
            ctx.lower(node)
        return ctx, ctx.digests

    ctx = emit_checked(graph, "PyTorch", shapes, probe, lowered)
    return ctx.source(), ctx.state_dict()


# --- formatting ---------------------------------------------------------------------------------------
def _wrap(line: str, indent: int) -> str:
    """Indent ``line``; if too long, break it black-style at its first top-level bracket, recursively."""
    pad = " " * indent
    if indent + len(line) <= WIDTH:
        return pad + line
    span = _splittable_bracket(line)
    if span is None:
        return pad + line
    start, end = span
    items = _split_top_level(line[start + 1:end])
    if not items:
        return pad + line
    hugged = ", ".join(items)
    if indent + 4 + len(hugged) <= WIDTH:  # black first tries all arguments on one indented line
        inner = f"{pad}    {hugged}"
    else:
        inner = "\n".join(_wrap(f"{item},", indent + 4) for item in items)
    return f"{pad}{line[:start + 1]}\n{inner}\n{pad}{line[end:]}"


def _scan(text: str):
    """Yield ``(index, char, depth)`` for characters outside string literals."""
    depth, quote, escaped = 0, "", False
    for index, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
            continue
        if char in "([{":
            depth += 1
        yield index, char, depth
        if char in ")]}":
            depth -= 1


def _splittable_bracket(text: str) -> tuple[int, int] | None:
    """The first top-level call's parentheses or list/dict brackets (never a subscript or a bare tuple)."""
    start = None
    for index, char, depth in _scan(text):
        if char in "([{" and depth == 1:
            before = text[:index].rstrip()[-1:]
            call_or_index = before.isalnum() or before in ("_", ")", "]")
            start = index if (char == "(") == call_or_index else None
        elif char in ")]}" and depth == 1 and start is not None:
            return start, index
    return None


def _split_top_level(text: str) -> list[str]:
    items, last = [], 0
    for index, char, depth in _scan(text):
        if char == "," and depth == 0:
            items.append(text[last:index].strip())
            last = index + 1
    items.append(text[last:].strip())
    return [item for item in items if item]
