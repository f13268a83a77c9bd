"""Read and write MXNet ``.params`` files (a named NDArray list) with numpy alone.

File: uint64 list magic 0x112, uint64 reserved, uint64 array count, the array records,
uint64 name count, then each name as uint64 length + UTF-8 bytes. All little-endian.

Array record, by layout (the first field tells them apart):

- ``legacy``: uint32 ndim, uint32 dims, context, int32 dtype flag, raw data.
- ``v1``: uint32 0xF993FAC8, int32 ndim, int64 dims, context, dtype flag, data.
- ``v2``: uint32 0xF993FAC9, int32 storage type, then as ``v1`` after its magic.
- ``v3``: uint32 0xF993FACA, as ``v2`` with numpy shape semantics: ndim 0 is a scalar.

Context is int32 device type + int32 device id. Before ``v3``, ndim 0 marks an
uninitialised NDArray with nothing after the shape; ``v3`` marks it with ndim -1.
Sparse storage keeps extra shapes and aux arrays in ``v2``; it is rejected here.
"""
from __future__ import annotations

import math
import os
import struct
import sys
from typing import Mapping

import numpy as np

from .errors import MxConvertError
from .fileio import atomic_output

__all__ = ["LAYOUTS", "load_params", "parse_params", "save_params", "detect_layout"]

LAYOUTS = ("legacy", "v1", "v2", "v3")
LIST_MAGIC = 0x112
MAGICS = {"v1": 0xF993FAC8, "v2": 0xF993FAC9, "v3": 0xF993FACA}
MAX_NDIM = 32
CPU_CONTEXT = (1, 0)
STORAGE_NAMES = {1: "row_sparse", 2: "csr"}

DTYPES: dict[int, np.dtype] = {
    flag: np.dtype(name).newbyteorder("<")
    for flag, name in enumerate(["float32", "float64", "float16", "uint8", "int32", "int8", "int64",
                                 "bool", "int16", "uint16", "uint32", "uint64"])
}
FLAGS: dict[str, int] = {dtype.str: flag for flag, dtype in DTYPES.items()}
UNSUPPORTED_FLAGS = {12: "bfloat16"}

_LAYOUT_OF_MAGIC = {magic: layout for layout, magic in MAGICS.items()}
_U32, _I32, _U64, _I64 = (struct.Struct(f"<{code}") for code in "IiQq")
_HEADER_LIMIT = 3 * 8 + 4 * 3 + 8 * MAX_NDIM + 4 * 3  # list header + the longest record header


class _Reader:
    """A cursor over the file bytes whose every read is bounds-checked."""

    def __init__(self, data: memoryview, path: str):
        self.data = data
        self.pos = 0
        self.path = path

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def fail(self, message: str) -> MxConvertError:
        return MxConvertError(message, self.path)

    def take(self, size: int, what: str) -> memoryview:
        if size > self.remaining:
            raise self.fail(f"truncated at byte {len(self.data)} while reading {what} "
                            f"(needs {size} bytes at byte {self.pos})")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def scalar(self, codec: struct.Struct, what: str) -> int:
        return codec.unpack(self.take(codec.size, what))[0]

    def shape(self, ndim: int, codec: struct.Struct, what: str) -> tuple[int, ...]:
        return struct.unpack(f"<{ndim}{codec.format[-1]}", self.take(ndim * codec.size, what))


def load_params(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Names exactly as stored (with 'arg:'/'aux:' prefixes, or none), in file order.

    Arrays are views of one buffer holding the whole file (copies only where unaligned).
    """
    return parse_params(_read_file(path), str(path))


def parse_params(data: memoryview, path: str) -> dict[str, np.ndarray]:
    """:func:`load_params` of a file's bytes (``path`` names it in errors); arrays are views of ``data``."""
    reader = _Reader(memoryview(data), path)
    count = _read_list_header(reader)
    if count > reader.remaining // _U32.size:
        raise reader.fail(f"claims {count} arrays but only {reader.remaining} bytes remain")
    arrays = [_read_array(reader, index) for index in range(count)]
    names = _read_names(reader, count)
    if reader.remaining:
        raise reader.fail(f"{reader.remaining} trailing bytes after the name list at byte {reader.pos}")
    return dict(zip(names, arrays))


def detect_layout(path: str | os.PathLike) -> str:
    """Which layout the first array record uses: one of ``LAYOUTS``."""
    reader = _Reader(_read_file(path, _HEADER_LIMIT), str(path))
    if not _read_list_header(reader):
        raise reader.fail("holds no arrays, so it has no layout")
    return _read_record_header(reader, 0)[0]


def save_params(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], layout: str = "v2") -> None:
    """Write ``arrays`` in ``layout`` (one of ``LAYOUTS``) atomically, on a cpu context."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    prepared = [(_encode_name(name, str(path)), _prepare(name, value, layout, str(path)))
                for name, value in arrays.items()]
    with atomic_output(path) as handle:
        handle.write(struct.pack("<QQQ", LIST_MAGIC, 0, len(prepared)))
        for _, array in prepared:
            handle.write(_record_header(array, layout))
            handle.write(array.reshape(-1).view(np.uint8).data)
        handle.write(_U64.pack(len(prepared)))
        for name, _ in prepared:
            handle.write(_U64.pack(len(name)) + name)


def _read_file(path: str | os.PathLike, limit: int | None = None) -> memoryview:
    """The file (its first ``limit`` bytes) in one writable buffer, read in a single pass."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            buffer = bytearray(size if limit is None else min(size, limit))
            filled = 0
            while filled < len(buffer):
                got = handle.readinto(memoryview(buffer)[filled:])
                if not got:
                    break
                filled += got
    except FileNotFoundError:
        raise MxConvertError("no such file", str(path)) from None
    except IsADirectoryError:
        raise MxConvertError("is a directory, not a params file", str(path)) from None
    except MemoryError:
        raise MxConvertError("file is too large to read into memory", str(path)) from None
    except OSError as exc:
        raise MxConvertError(f"cannot read params file: {exc.strerror or exc}", str(path)) from None
    return memoryview(buffer)[:filled]


def _read_list_header(reader: _Reader) -> int:
    if reader.remaining < _U64.size:
        raise reader.fail(f"not an MXNet params file (only {reader.remaining} bytes)")
    magic = reader.scalar(_U64, "list magic")
    if magic != LIST_MAGIC:
        raise reader.fail(f"not an MXNet params file (bad magic {magic:#x})")
    reader.scalar(_U64, "reserved header field")
    return reader.scalar(_U64, "array count")


def _read_array(reader: _Reader, index: int) -> np.ndarray:
    """Parse one record; its data is a view of the file buffer."""
    _, shape, dtype = _read_record_header(reader, index)
    extent = dtype.itemsize  # numpy refuses shapes whose nonzero dims overflow, even with a zero dim
    for dim in shape:
        extent *= max(dim, 1)
    if extent > sys.maxsize:
        raise reader.fail(f"array {index} shape {shape} is too large for any machine")
    nbytes = dtype.itemsize * math.prod(shape)
    if nbytes > reader.remaining:
        raise reader.fail(f"array {index} of shape {shape} claims {nbytes} bytes "
                          f"but only {reader.remaining} remain at byte {reader.pos}")
    array = np.frombuffer(reader.take(nbytes, f"array {index} data"), dtype=dtype).reshape(shape)
    return array if array.flags.aligned else array.copy()


def _read_record_header(reader: _Reader, index: int) -> tuple[str, tuple[int, ...], np.dtype]:
    """Everything before the data of one record: its layout, shape and dtype."""
    what = f"array {index}"
    first = reader.scalar(_U32, f"{what} magic")
    layout = _LAYOUT_OF_MAGIC.get(first, "legacy")
    if layout == "legacy":
        if first > MAX_NDIM:
            raise reader.fail(f"{what}: unknown record magic {first:#x}")
        ndim = first
    else:
        if layout != "v1":
            _check_storage(reader, reader.scalar(_I32, f"{what} storage type"), what)
        ndim = reader.scalar(_I32, f"{what} ndim")
    if ndim == -1 or (ndim == 0 and layout != "v3"):
        raise reader.fail(f"{what} is an uninitialised NDArray (no shape, no data)")
    if not 0 <= ndim <= MAX_NDIM:
        raise reader.fail(f"{what}: invalid ndim {ndim} (allowed 0..{MAX_NDIM})")
    shape = reader.shape(ndim, _U32 if layout == "legacy" else _I64, f"{what} shape")
    if any(dim < 0 for dim in shape):
        raise reader.fail(f"{what}: negative dimension in shape {shape}")
    reader.take(8, f"{what} context")
    return layout, shape, _dtype_of(reader, reader.scalar(_I32, f"{what} dtype flag"), what)


def _check_storage(reader: _Reader, stype: int, what: str) -> None:
    if stype in STORAGE_NAMES:
        raise reader.fail(f"{what}: sparse storage ({STORAGE_NAMES[stype]}) is not supported")
    if stype != 0:
        raise reader.fail(f"{what}: unknown storage type {stype}")


def _dtype_of(reader: _Reader, flag: int, what: str) -> np.dtype:
    if flag in DTYPES:
        return DTYPES[flag]
    if flag in UNSUPPORTED_FLAGS:
        raise reader.fail(f"{what}: dtype {UNSUPPORTED_FLAGS[flag]} (flag {flag}) is not supported")
    raise reader.fail(f"{what}: unknown dtype flag {flag}")


def _read_names(reader: _Reader, count: int) -> list[str]:
    name_count = reader.scalar(_U64, "name count")
    if name_count == 0 and count:
        raise reader.fail(f"holds {count} unnamed arrays; a checkpoint names every array")
    if name_count != count:
        raise reader.fail(f"holds {count} arrays but {name_count} names")
    names: list[str] = []
    seen: set[str] = set()  # not `names`: a list lookup is quadratic in a file of many tiny arrays
    for index in range(count):
        length = reader.scalar(_U64, f"name {index} length")
        raw = reader.take(length, f"name {index} ({length} bytes)")
        try:
            name = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise reader.fail(f"name {index} is not valid UTF-8") from None
        if name in seen:
            raise reader.fail(f"duplicate array name {name!r}")
        seen.add(name)
        names.append(name)
    return names


def _encode_name(name: str, path: str) -> bytes:
    try:
        return name.encode("utf-8")
    except (AttributeError, UnicodeEncodeError):
        raise MxConvertError(f"array name {name!r} is not a UTF-8 encodable string", path) from None


def _prepare(name: str, value: np.ndarray, layout: str, path: str) -> np.ndarray:
    """``value`` as a C-contiguous little-endian array that ``layout`` can represent."""
    array = np.asarray(value)
    flag = FLAGS.get(array.dtype.newbyteorder("<").str)
    if flag is None:
        raise MxConvertError(f"array {name!r}: dtype {array.dtype} cannot be stored in a params file", path)
    if array.ndim > MAX_NDIM or (array.ndim == 0 and layout != "v3"):
        raise MxConvertError(f"array {name!r}: {array.ndim}-d arrays cannot be stored in layout {layout}", path)
    if layout == "legacy" and any(dim >= 1 << 32 for dim in array.shape):
        raise MxConvertError(f"array {name!r}: shape {array.shape} does not fit the legacy layout", path)
    return array.astype(DTYPES[flag], order="C", copy=False)


def _record_header(array: np.ndarray, layout: str) -> bytes:
    flag = FLAGS[array.dtype.str]
    tail = struct.pack("<iii", *CPU_CONTEXT, flag)
    if layout == "legacy":
        return struct.pack(f"<I{array.ndim}I", array.ndim, *array.shape) + tail
    storage = b"" if layout == "v1" else _I32.pack(0)
    shape = struct.pack(f"<i{array.ndim}q", array.ndim, *array.shape)
    return _U32.pack(MAGICS[layout]) + storage + shape + tail
