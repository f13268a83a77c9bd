"""Atomic output files and the multi-output ``.npy`` naming rule."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator, Sequence

import numpy as np

from .errors import MxConvertError


_UMASK = os.umask(0)
os.umask(_UMASK)


def read_input(path: str, expected: str, limit: int) -> bytes:
    """The bytes of input file ``path``, ``expected`` to be e.g. "a symbol JSON file"; refused, naming the file,
    when missing, a directory, unreadable or larger than ``limit`` bytes (more than any such file)."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise MxConvertError(f"is {size} bytes, more than any {expected.split(' ', 1)[1]}", path)
            return handle.read()
    except FileNotFoundError:
        raise MxConvertError("no such file", path) from None
    except IsADirectoryError:
        raise MxConvertError(f"is a directory, expected {expected}", path) from None
    except OSError as exc:
        raise MxConvertError(f"cannot read: {exc.strerror}", path) from None


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block completes."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise MxConvertError(f"cannot write output: {exc.strerror or exc}", str(target)) from None
    try:
        os.chmod(tmp_name, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs get the usual permissions
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError):
            raise MxConvertError(f"cannot write output: {exc.strerror or exc}", str(target)) from None
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_output(path) as handle:
        handle.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_output(path, "w") as handle:
        handle.write(text)


def output_paths(path: str | os.PathLike, count: int) -> list[Path]:
    """Output 0 goes to ``path``; output i >= 1 to ``<stem>_<i>.npy`` beside it."""
    first = Path(path)
    return [first] + [first.with_name(f"{first.stem}_{i}{first.suffix}") for i in range(1, count)]


def save_outputs(path: str | os.PathLike, outputs: Sequence[np.ndarray]) -> list[Path]:
    """Write every output atomically, then drop ``<stem>_<i>.npy`` files left by a model with more outputs."""
    paths = output_paths(path, len(outputs))
    for target, array in zip(paths, outputs):
        with atomic_output(target) as handle:
            np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
    index = len(outputs)
    while (stale := output_paths(path, index + 1)[-1]).exists():
        stale.unlink()
        index += 1
    return paths


def load_outputs(path: str | os.PathLike) -> list[np.ndarray]:
    """Read output 0 at ``path`` and every ``<stem>_<i>.npy`` that follows it."""
    arrays = []
    for index in range(1 << 20):
        candidate = output_paths(path, index + 1)[-1]
        if not candidate.exists():
            break
        arrays.append(load_npy(candidate))
    if not arrays:
        raise MxConvertError("no such file", str(path))
    return arrays


def load_npy(path: str | os.PathLike) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise MxConvertError("no such file", str(path)) from None
    except (ValueError, OSError, EOFError) as exc:
        raise MxConvertError(f"not a readable .npy file ({exc})", str(path)) from None


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
