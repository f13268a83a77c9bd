"""Shared plumbing of the command-line scripts: flag parsing helpers, one-line errors, exit codes."""
from __future__ import annotations

import argparse
import signal
import sys
import traceback
from typing import Callable, NoReturn

from .archives import is_archive
from .checkpoint import Checkpoint, CheckpointPaths
from .errors import EXIT_BAD_INPUT, EXIT_INTERNAL, MxConvertError


class _Parser(argparse.ArgumentParser):
    """Bad flags are bad input too: one line, exit 2 (argparse would print the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {one_line(message)} (see --help)\n")


def parser(description: str) -> argparse.ArgumentParser:
    p = _Parser(description=description)
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def one_line(text: str) -> str:
    """``text`` with line breaks and other unprintable characters escaped (names from a file may hold them)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def int_tuple(text: str) -> tuple[int, ...]:
    """``"1,3,112,112"`` or ``"112x112"`` -> tuple of ints (an argparse ``type``)."""
    try:
        values = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def named_int_tuple(text: str) -> tuple[str, tuple[int, ...]]:
    """``"NAME=24,24"`` -> ``("NAME", (24, 24))`` (an argparse ``type``)."""
    name, sep, values = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=H,W, got {text!r}")
    return name, int_tuple(values)


def input_shape_item(text: str) -> tuple[str | None, tuple[int, ...]]:
    """``"1,3,112,112"`` -> ``(None, (1, 3, 112, 112))``; ``"NAME=1,128"`` -> ``("NAME", (1, 128))``."""
    name, sep, values = text.rpartition("=")
    if sep and not name:
        raise argparse.ArgumentTypeError(f"expected SHAPE or NAME=SHAPE, got {text!r}")
    return (name if sep else None), int_tuple(values)


def dynamic_axes_item(text: str) -> tuple[str, tuple[int, ...]]:
    """``"data=0,2,3"`` -> ``("data", (0, 2, 3))`` (an argparse ``type``; axes may be negative)."""
    name, sep, values = text.partition("=")
    try:
        axes = tuple(int(part) for part in values.split(",") if part.strip())
    except ValueError:
        axes = ()
    if not sep or not name or not axes:
        raise argparse.ArgumentTypeError(f"expected NAME=AXES (e.g. data=0,2,3), got {text!r}")
    return name, axes


def input_dtype_item(text: str) -> tuple[str, str]:
    """``"data0=int64"`` -> ``("data0", "int64")`` (an argparse ``type``; the type is checked at conversion)."""
    name, sep, dtype = text.partition("=")
    if not sep or not name or not dtype:
        raise argparse.ArgumentTypeError(f"expected NAME=DTYPE (e.g. data0=int64), got {text!r}")
    return name, dtype.strip()


def add_shape_flags(p: argparse.ArgumentParser, default: tuple[int, ...] | None) -> None:
    """``--input_shape`` (one bare shape, or NAME=SHAPE per input; ``default`` None: from the checkpoint),
    ``--dynamic_batch``, ``--input_dtype`` and ``--dynamic_axes`` of the converters."""
    p.add_argument("--input_shape", type=input_shape_item, nargs="+",
                   default=None if default is None else [(None, tuple(default))], metavar="SHAPE|NAME=SHAPE",
                   help="the data input's shape (e.g. 1,3,112,112 or 1,4), or NAME=SHAPE per input for a model "
                        "with several (data=1,30,100 l0_init_c=1,128); begin states left out are inferred; "
                        "default: from the checkpoint (a __shape__ attribute, a shapes file beside it, the first "
                        "layer's weight), said on one line")
    p.add_argument("--dynamic_batch", action="store_true", help="make axis 0 of every data input symbolic")
    p.add_argument("--input_dtype", type=input_dtype_item, nargs="+", default=[], metavar="NAME=DTYPE",
                   help="the element type an input takes (e.g. data0=int64 for token ids): the converted model casts "
                        "it to float inside, as MXNet computes (default float32)")
    p.add_argument("--dynamic_axes", type=dynamic_axes_item, nargs="+", default=[], metavar="NAME=AXES",
                   help="make these axes of an input symbolic (e.g. data=0,2,3 for a fully convolutional model)")


def input_shapes(items: list[tuple[str | None, tuple[int, ...]]] | None
                 ) -> tuple[int, ...] | dict[str, tuple[int, ...]] | None:
    """The parsed ``--input_shape`` items: a bare shape, shapes by input name, or None when not given."""
    if items is None:
        return None
    if len(items) == 1 and items[0][0] is None:
        return items[0][1]
    if any(name is None for name, _ in items):
        raise MxConvertError("--input_shape: give every shape as NAME=SHAPE when there are several")
    names = [name for name, _ in items]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise MxConvertError(f"--input_shape names {', '.join(repeated)} more than once")
    return dict(items)


def add_checkpoint_flags(p: argparse.ArgumentParser, config) -> None:
    """``--prefix``/``--epoch`` (``PREFIX-symbol.json`` + ``PREFIX-EPOCH.params``), or ``--symbol``/``--params``
    naming the two files, whatever they are called."""
    p.add_argument("--prefix", default=config.PREFIX,
                   help="checkpoint prefix (PREFIX-symbol.json), a folder holding one checkpoint, or an archive "
                        "(SageMaker model.tar.gz, Model Server .mar)")
    p.add_argument("--epoch", type=int, default=config.EPOCH, help="checkpoint epoch (PREFIX-EPOCH.params)")
    p.add_argument("--symbol", help="the symbol JSON file, whatever its name (with --params, instead of --prefix), "
                                    "or an archive (alone)")
    p.add_argument("--params", help="the params file, whatever its name (with --symbol, instead of --epoch)")


def checkpoint_of(args: argparse.Namespace) -> Checkpoint:
    """The checkpoint the flags of :func:`add_checkpoint_flags` name: two files, an archive, or a prefix."""
    if args.symbol is not None and args.params is None and is_archive(args.symbol):
        return args.symbol
    if (args.symbol is None) != (args.params is None):
        raise MxConvertError("--symbol and --params go together")
    if args.symbol is not None:
        return CheckpointPaths(args.symbol, args.params)
    return args.prefix


def add_plugin_flags(p: argparse.ArgumentParser, config) -> None:
    """``--plugin`` (repeatable): converters of ops mxconvert cannot know (``mxconvert.plugins``), loaded before the
    checkpoint is read."""
    p.add_argument("--plugin", action="append", default=list(config.PLUGINS), metavar="FILE.py|MODULE",
                   help="a Python file or module defining converters of a graph's Custom ops (by op_type) or of a "
                        "fork's ops through mxconvert.plugins (repeatable; see docs/plugin_example.py)")


def add_softmax_flags(p: argparse.ArgumentParser) -> None:
    """``--keep_softmax`` (default) / ``--no_softmax``: what the converted loss heads output."""
    p.add_argument("--keep_softmax", action=argparse.BooleanOptionalAction, default=True,
                   help="loss heads become their inference forward (SoftmaxOutput and WarpCTC a softmax, "
                        "LogisticRegressionOutput a sigmoid, regression heads and MakeLoss their data; default) or, "
                        "with --no-keep_softmax, the raw input of every head (the logits)")
    p.add_argument("--no_softmax", dest="keep_softmax", action="store_false", help="same as --no-keep_softmax")


def add_int8_cpu_flag(p: argparse.ArgumentParser, config, target: str = "") -> None:
    """``--int8_cpu``: whose MXNet INT8 arithmetic the converted code reproduces (``target``: what it applies to,
    said in the help)."""
    from .semantics.quantization import INT8_CPUS

    p.add_argument("--int8_cpu", choices=INT8_CPUS, default=config.INT8_CPU,
                   help=f"INT8 models{target}: whose MXNet arithmetic to reproduce: vnni (exact int32 sums, as on CPUs "
                        "with VNNI or AMX and in ONNX Runtime's integer kernels) or avx2 (CPUs without VNNI, where "
                        "oneDNN saturates the sum of each pair of u8 x s8 products at 16 bits)")


def run(main: Callable[[argparse.Namespace], int | None], arg_parser: argparse.ArgumentParser) -> None:
    """Parse flags, run ``main``, and exit: 0 ok, 1 over tolerance, 2 bad input (one line on stderr)."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up temporary files as on Ctrl-C
    args = arg_parser.parse_args()
    try:
        if getattr(args, "plugin", None):
            from .plugins import load_plugins

            load_plugins(args.plugin)
        code = main(args) or 0
    except MxConvertError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"{arg_parser.prog}: error: {one_line(str(exc))}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print(f"{arg_parser.prog}: interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:  # a bug in mxconvert (InternalError or unforeseen): still one line unless --debug
        if args.debug:
            traceback.print_exc()
        print(f"{arg_parser.prog}: internal error: {type(exc).__name__}: {one_line(str(exc))} "
              "(a bug in mxconvert: rerun with --debug and report it)", file=sys.stderr)
        code = EXIT_INTERNAL
    sys.exit(code)
