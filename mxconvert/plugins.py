"""Converters for ops mxconvert cannot know: a graph's Python ``Custom`` ops and the ops of a fork of MXNet.

A plugin is a Python file or module, loaded before the checkpoint is read (``--plugin my_ops.py`` or ``--plugin
my.module`` on the scripts, ``api.load(..., plugins=[...])``). It defines each op's schema and one converter per
target through this module, which writes into the same registries as mxconvert's own op families:

    from mxconvert import plugins

    OP = plugins.custom_op("scaled_softsign")  # a Custom op, by its op_type; a fork's op by its name
    plugins.define_op(OP, {"scale": (plugins.parse_float, 1.0)})

    @plugins.onnx_converter(OP)
    def to_onnx(ctx, node):  # ctx: to_onnx.context.EmitContext
        ctx.add("Mul", [ctx.add("Softsign", [ctx.input(0)]), ctx.const(node.attrs["scale"])], ctx.output())

    @plugins.torch_lowering(OP)
    def to_torch(ctx, node):  # ctx: to_torch.codegen.TorchContext
        return plugins.Lowering(f"{node.attrs['scale']!r} * torch.nn.functional.softsign({ctx.input(0)})")

``docs/plugin_example.py`` is a complete one.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from typing import Any, Callable, Iterable

from .errors import MxConvertError, first_line
from .registry import Check
from .semantics.rules import InputRule, ShapeRule, input_rule, same_shape, same_shape_inputs, shape_rule
from .semantics.schema import (REQUIRED, OpDef, Parser, custom_op, define, parse_bool, parse_float, parse_int,
                               parse_shape, parse_str)
from .to_onnx.registry import register as register_onnx

__all__ = ["PluginError", "REQUIRED", "custom_op", "define_op", "load_plugin", "load_plugins", "onnx_converter",
           "parse_bool", "parse_float", "parse_int", "parse_shape", "parse_str", "torch_lowering"]


class PluginError(MxConvertError):
    """A plugin that cannot be loaded: one line naming its file or module."""


def define_op(op: str, attrs: dict[str, tuple[Parser, Any]] | None = None, *,
              outputs: int | Callable[[dict[str, Any]], int] = 1, weights: tuple[int, ...] = (),
              aux: tuple[int, ...] = (), shape: ShapeRule | None = None, inputs_from: InputRule | None = None) -> None:
    """Define ``op``'s schema and shape rule, as an op family does.

    ``attrs``: attribute -> (parser, default), ``REQUIRED`` for a required one (``parse_str`` keeps the string
    MXNet wrote); ``outputs``: the number of outputs, or a function of the typed attributes; ``weights``/``aux``:
    the input slots holding stored weights and auxiliary states; ``shape``: ``rule(node, input_shapes) ->
    output_shapes`` (default: one output of the first input's shape); ``inputs_from``: the shapes the op fixes for
    its inputs, where MXNet infers them backwards (default with the default ``shape``: every input the same)."""
    count = outputs if callable(outputs) else (lambda _attrs, n=outputs: n)
    define({op: OpDef(dict(attrs or {}), param_inputs=weights, aux_inputs=aux, outputs=count)})
    shape_rule(op)(shape or same_shape)
    if inputs_from is not None or shape is None:
        input_rule(op)(inputs_from or same_shape_inputs)


def onnx_converter(op: str, check: Check | None = None) -> Callable:
    """Decorate ``convert(ctx, node)``, writing ``op``'s ONNX nodes; ``check(node, opset)`` returns why a node
    cannot be converted (or None): every such node is reported at once, before anything is written."""
    return register_onnx(op, check=check)


def torch_lowering(op: str, check: Check | None = None, helpers: dict[str, str] | None = None) -> Callable:
    """Decorate ``lower(ctx, node) -> Lowering``, the code ``op`` becomes in ``kit_model.py``; ``helpers``: name ->
    source of module-level functions a lowering includes with ``ctx.helper(name)`` (written into
    ``kit_model.py``, which stays self-contained; TorchScript-compatible)."""
    from .to_torch.registry import HELPERS, register

    for name, source in (helpers or {}).items():
        if HELPERS.get(name, source) != source:
            raise ValueError(f"helper {name!r} is already defined")
        HELPERS[name] = source
    return register(op, check=check)


def __getattr__(name: str) -> Any:
    """``Lowering`` and ``num`` (a float as source text) of ``to_torch.registry``, imported (with torch) only
    when a plugin asks for them: an ONNX-only plugin needs no torch."""
    if name in ("Lowering", "num"):
        from .to_torch import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_LOADED: set[str] = set()  # the resolved paths and the module names of the plugins loaded


def load_plugins(specs: Iterable[str]) -> None:
    """Load each plugin, a path to a ``.py`` file or a module name, once per process."""
    for spec in specs:
        load_plugin(spec)


def load_plugin(spec: str) -> None:
    """Load one plugin (a ``.py`` path or a module name); a plugin that fails raises :class:`PluginError`."""
    is_file = spec.endswith(".py") or os.sep in spec or "/" in spec
    key = os.path.realpath(spec) if is_file else spec
    if key in _LOADED:
        return
    try:
        if not is_file:
            importlib.import_module(spec)
        else:
            if not os.path.isfile(spec):
                raise FileNotFoundError("no such file")
            name = f"mxconvert_plugin_{hashlib.sha1(key.encode()).hexdigest()[:12]}"
            module_spec = importlib.util.spec_from_file_location(name, spec)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            try:
                module_spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
    except Exception as exc:  # the plugin's own error, whatever it is: one line naming the plugin
        where = _failing_line(exc, key) if is_file else ""
        raise PluginError(f"plugin {spec}{where}: {type(exc).__name__}: {first_line(exc)}") from exc
    _LOADED.add(key)


def _failing_line(exc: BaseException, path: str) -> str:
    """``, line N`` of the plugin file's line the error was raised from (or its syntax error's line)."""
    if isinstance(exc, SyntaxError) and exc.lineno and os.path.realpath(exc.filename or "") == path:
        return f", line {exc.lineno}"
    lines = [frame.tb_lineno for frame in _frames(exc.__traceback__)
             if os.path.realpath(frame.tb_frame.f_code.co_filename) == path]
    return f", line {lines[-1]}" if lines else ""


def _frames(traceback):
    while traceback is not None:
        yield traceback
        traceback = traceback.tb_next
