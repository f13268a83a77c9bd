"""Errors that reach the user as one line and an exit code."""
from __future__ import annotations

EXIT_OK = 0
EXIT_TOLERANCE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


def first_line(exc: BaseException) -> str:
    """The first non-blank line of an exception's message (its type's name when there is none), for one-line
    errors built from a library's multi-line text."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


class MxConvertError(Exception):
    """A problem with the user's input: reported as one line, exit code 2."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class UnsupportedOpsError(MxConvertError):
    """The graph holds ops a target cannot convert; lists all of them at once."""

    def __init__(self, target: str, offenders: dict[str, list[str]], path: str | None = None):
        self.offenders = offenders
        parts = "; ".join(f"{op} ({', '.join(names)})" for op, names in sorted(offenders.items()))
        super().__init__(f"cannot convert to {target}: unsupported ops: {parts}", path)


class NotExpressible(ValueError):
    """Raised by a converter: this node's attribute values have no exact form in the target (a limit, not a bug).
    The emitters report it as ``UnsupportedOpsError``."""


class InternalError(Exception):
    """mxconvert failed on a graph it had accepted: a converter crashed, the emitted ONNX is invalid, or the
    generated PyTorch module does not run. A bug to report, not bad input: exit code 3."""

    exit_code = EXIT_INTERNAL
