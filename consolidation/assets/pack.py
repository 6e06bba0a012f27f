"""Reading a workspace file once: its SHA-256 and the bytes to store, from the same read.

Bytes are zlib-compressed only when that is smaller (the SQLite Archive rule). Files
larger than a few megabytes are streamed through temporary files, never held whole in
memory, and a file that changes while it is read is read again, then refused.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import Aborted, BadInput
from .confine import stored_mode
from .walk import WorkspaceFile

STREAM_THRESHOLD = 8 * 2**20  # larger files go through temporary files, never whole in memory


CHUNK = 2**20


READ_ATTEMPTS = 3


COMPRESSION_LEVEL = 6  # zlib's default, as the sqlite3 shell's -Ac uses (9 was 5x slower, 0.5 % smaller)


@dataclass
class Packed:
    """One file read once: its hash, and the bytes to store (compressed when smaller)."""

    path: bytes  # relative, POSIX separators
    sha256: str
    size: int
    mode: int
    mtime_ns: int
    data: bytes | None = None  # small files
    spool: Path | None = None  # large files: the bytes to store, in a temporary file
    stored_size: int = 0

    @property
    def name(self) -> str:
        return os.fsdecode(self.path)

    def discard(self) -> None:
        if self.spool is not None:
            self.spool.unlink(missing_ok=True)


def _pack_link(file: WorkspaceFile, full: bytes) -> Packed:
    target = os.readlink(full)
    return pack_bytes(file.path, target, file.stat.st_mode, file.stat.st_mtime_ns)


def pack_bytes(path: bytes, content: bytes, mode: int, mtime_ns: int) -> Packed:
    """Bytes that are not read from a file (a link target, a rendered template)."""
    compressed = zlib.compress(content, COMPRESSION_LEVEL)
    data = compressed if len(compressed) < len(content) and not stat.S_ISLNK(mode) else content
    return Packed(path, hashlib.sha256(content).hexdigest(), len(content), stored_mode(mode), mtime_ns, data=data,
                  stored_size=len(data))


def pack_file(workspace: bytes, file: WorkspaceFile, scratch: Path) -> Packed | None:
    """Read ``file`` once, hashing and compressing the same bytes; refuse a file that
    changes while it is read (after a few attempts). None: it vanished since listing."""
    full = os.path.join(workspace, file.path)
    if stat.S_ISLNK(file.stat.st_mode):
        try:
            return _pack_link(file, full)
        except FileNotFoundError:
            return None
    for _ in range(READ_ATTEMPTS):
        try:
            packed = _read_regular(full, file, scratch)
        except FileNotFoundError:
            return None
        except PermissionError:
            raise BadInput(f"{file.name}: cannot be read (permission denied); nothing was stored") from None
        except OSError as error:
            raise BadInput(f"{file.name}: cannot be read ({error.strerror}); nothing was stored") from None
        try:
            after = os.lstat(full)
        except FileNotFoundError:
            packed.discard()
            return None
        if (after.st_size, after.st_mtime_ns) == (packed.size, packed.mtime_ns):
            return packed
        packed.discard()
        file = WorkspaceFile(file.path, after)
    raise Aborted(f"{file.name}: kept changing while it was read (something is writing it); nothing was stored — "
                  "run again once it is done")


def _read_regular(full: bytes, file: WorkspaceFile, scratch: Path) -> Packed:
    with open(full, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if opened.st_size <= STREAM_THRESHOLD:
            raw = handle.read()
            return pack_bytes(file.path, raw, opened.st_mode, opened.st_mtime_ns)
        return _spool(handle, file, opened, scratch)


def _spool(handle, file: WorkspaceFile, opened: os.stat_result, scratch: Path) -> Packed:
    """Stream a large file into two temporary files, raw and compressed, keeping the smaller."""
    hasher = hashlib.sha256()
    compressor = zlib.compressobj(COMPRESSION_LEVEL)
    raw_file = tempfile.NamedTemporaryFile(dir=scratch, delete=False)
    zipped_file = tempfile.NamedTemporaryFile(dir=scratch, delete=False)
    size = compressed = 0
    with raw_file, zipped_file:
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)
            raw_file.write(chunk)
            size += len(chunk)
            out = compressor.compress(chunk)
            zipped_file.write(out)
            compressed += len(out)
        tail = compressor.flush()
        zipped_file.write(tail)
        compressed += len(tail)
    keep, drop = (zipped_file.name, raw_file.name) if compressed < size else (raw_file.name, zipped_file.name)
    os.unlink(drop)
    return Packed(file.path, hasher.hexdigest(), size, stored_mode(opened.st_mode), opened.st_mtime_ns,
                  spool=Path(keep), stored_size=min(size, compressed))
