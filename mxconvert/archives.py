"""Checkpoints packed as people ship them: a SageMaker ``model.tar.gz``, an MXNet Model Server ``.mar`` (zip).

Members are read into memory, never extracted. An archive is refused, whole, when a member's path is absolute
or climbs out with ``..``, when it holds a link or a device, a name twice, more than ``MAX_MEMBERS`` members, or
decompresses to more than ``MAX_TOTAL`` bytes or ``MAX_RATIO`` times its own size (past ``RATIO_ALLOWANCE``).
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from .errors import MxConvertError

SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz", ".mar", ".zip", ".model")
MAX_MEMBERS = 10_000
MAX_TOTAL = 4 << 30
MAX_RATIO = 100
RATIO_ALLOWANCE = 64 << 20  # small archives of JSON compress far better than weights
_READ = (".json", ".params")  # the members a checkpoint needs; others are skipped unread
_BOMB = (f"refused as a possible archive bomb (at most {MAX_RATIO} times its size past {RATIO_ALLOWANCE >> 20} MiB, "
         f"{MAX_TOTAL >> 30} GiB in all)")
_COMPRESSED = {b"\x1f\x8b": gzip.GzipFile, b"BZh": bz2.BZ2File, b"\xfd7zXZ": lzma.LZMAFile}


@dataclass(frozen=True)
class Archive:
    """An archive's member names (regular files, in order) and the bytes of its JSON and params members."""

    path: str
    names: list[str]
    data: dict[str, bytes]

    def where(self, member: str) -> str:
        """How errors name a member: ``archive:member``."""
        return f"{self.path}:{member}"


def is_archive(path: str) -> bool:
    """A file named like an archive, or starting like a zip or a compressed or plain tar."""
    if not os.path.isfile(path):
        return False
    if path.lower().endswith(SUFFIXES):
        return True
    with open(path, "rb") as handle:
        head = handle.read(262)
    return head.startswith((b"PK\x03\x04", b"PK\x05\x06", *_COMPRESSED)) or head[257:262] == b"ustar"


def read_archive(path: str) -> Archive:
    """The members of a zip or (compressed) tar archive that a checkpoint needs, checked as the module says."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            head = handle.read(6)
        limit = min(MAX_TOTAL, max(RATIO_ALLOWANCE, MAX_RATIO * size))
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            return _read_zip(path, limit)
        return _read_tar(path, head, limit)
    except MxConvertError:
        raise
    except FileNotFoundError:
        raise MxConvertError("no such file", path) from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError, RuntimeError,
            ValueError) as exc:  # RuntimeError: an encrypted zip member
        raise MxConvertError(f"not a readable archive ({type(exc).__name__}: {exc})", path) from None


def _checked_name(path: str, name: str, seen: set[str]) -> str:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (parts and parts[0].endswith(":")) or ".." in parts:
        raise MxConvertError(f"member {name!r} points outside the archive (absolute path or '..')", path)
    clean = "/".join(part for part in parts if part != ".")
    if clean in seen:
        raise MxConvertError(f"member {clean!r} appears twice", path)
    if len(seen) >= MAX_MEMBERS:
        raise MxConvertError(f"holds more than {MAX_MEMBERS} members", path)
    seen.add(clean)
    return clean


class _Counted(io.RawIOBase):
    """A decompressed stream that refuses to yield more than ``limit`` bytes in all."""

    def __init__(self, inner, limit: int, path: str):
        self.inner, self.limit, self.left, self.path = inner, limit, limit, path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self.inner.read(min(len(buffer), self.left + 1))
        self.left -= len(chunk)
        if self.left < 0:
            raise MxConvertError(f"decompresses to more than {self.limit} bytes: {_BOMB}", self.path)
        buffer[:len(chunk)] = chunk
        return len(chunk)


def _read_tar(path: str, head: bytes, limit: int) -> Archive:
    opener = next((open_ for magic, open_ in _COMPRESSED.items() if head.startswith(magic)), None)
    with open(path, "rb") as raw:
        stream = opener(fileobj=raw) if opener is not None else raw
        counted = io.BufferedReader(_Counted(stream, limit, path), 1 << 20)
        names: list[str] = []
        data: dict[str, bytes] = {}
        seen: set[str] = set()
        with tarfile.open(fileobj=counted, mode="r|") as tar:
            for member in tar:
                name = _checked_name(path, member.name, seen)
                if member.issym() or member.islnk():
                    raise MxConvertError(f"member {name!r} is a link (to {member.linkname!r}); a checkpoint "
                                         "archive holds plain files", path)
                if member.isdir():
                    continue
                if not member.isfile():
                    raise MxConvertError(f"member {name!r} is a device, pipe or other special file", path)
                names.append(name)
                if name.lower().endswith(_READ):
                    data[name] = tar.extractfile(member).read()
    return Archive(path, names, data)


def _read_zip(path: str, limit: int) -> Archive:
    names: list[str] = []
    data: dict[str, bytes] = {}
    seen: set[str] = set()
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise MxConvertError(f"holds more than {MAX_MEMBERS} members", path)
        total = sum(info.file_size for info in infos)
        if total > limit:
            raise MxConvertError(f"decompresses to {total} bytes, more than {limit}: {_BOMB}", path)
        for info in infos:
            name = _checked_name(path, info.filename, seen)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise MxConvertError(f"member {name!r} is a link; a checkpoint archive holds plain files", path)
            if info.is_dir():
                continue
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                raise MxConvertError(f"member {name!r} is a device, pipe or other special file", path)
            names.append(name)
            if name.lower().endswith(_READ):
                data[name] = archive.read(info)
    return Archive(path, names, data)
