"""Shared plumbing of the command-line scripts: flag parsing helpers, one-line errors, exit codes."""
from __future__ import annotations

import argparse
import sys
import traceback
from typing import Callable

from .errors import EXIT_BAD_INPUT, MxConvertError


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def int_tuple(text: str) -> tuple[int, ...]:
    """``"1,3,112,112"`` or ``"112x112"`` -> tuple of ints (an argparse ``type``)."""
    try:
        values = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def run(main: Callable[[argparse.Namespace], int | None], arg_parser: argparse.ArgumentParser) -> None:
    """Parse flags, run ``main``, and exit: 0 ok, 1 over tolerance, 2 bad input (one line on stderr)."""
    args = arg_parser.parse_args()
    try:
        code = main(args) or 0
    except MxConvertError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"{arg_parser.prog}: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print(f"{arg_parser.prog}: interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:  # an unexpected failure is still one line unless --debug
        if args.debug:
            traceback.print_exc()
        print(f"{arg_parser.prog}: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
              file=sys.stderr)
        code = EXIT_BAD_INPUT
    sys.exit(code)
