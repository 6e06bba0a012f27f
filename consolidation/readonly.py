"""Open a SQLite database for reading without changing a byte of it or its folder.

Every read-only path of the project (inventory, size checks, backups, the pytest gate)
opens databases through :func:`open_readonly`. A plain ``sqlite3.connect`` is not
enough: even ``mode=ro`` on a WAL-mode file creates ``-wal`` and ``-shm`` files beside
it, which dirties ``git status`` and can fail on a read-only checkout.

The rule used here:

* No sidecar holds data: open with ``immutable=1``. SQLite then takes no locks and
  creates no file, and reads exactly the bytes on disk.
* A ``-wal`` or ``-journal`` holds data: committed rows may live only in the WAL, and a
  hot journal must be rolled back before the file is consistent. Copy the database and
  its sidecars into a private temporary folder and open the copy normally, so SQLite
  recovers there. The original is never opened by SQLite at all.
* Another process holds a write lock: refuse with :class:`DatabaseLocked` rather than
  read a file that is changing under us.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .errors import Aborted, BadInput
from .size import sidecar_paths

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100

# Byte offsets SQLite's unix VFS locks (os_unix.c): a writer holds RESERVED_BYTE in
# rollback-journal mode, and the first lock slot of the -shm file in WAL mode.
RESERVED_BYTE = 0x40000001
WAL_WRITE_LOCK_BYTE = 120

SNAPSHOT_ATTEMPTS = 3


class EmptyDatabase(BadInput):
    """A zero-byte file where a database was expected."""


class NotADatabase(BadInput):
    """A file SQLite cannot read as a database (wrong header, truncated, corrupt)."""


class DatabaseLocked(Aborted):
    """Another process is writing to the database right now."""


@dataclass(frozen=True)
class Header:
    """The fields of the 100-byte database header this project needs."""

    page_size: int
    page_count: int | None  # None when the header's own count is not trustworthy
    wal_mode: bool
    application_id: int

    @property
    def journal_mode(self) -> str:
        """``wal`` or ``rollback``: the only journal mode a file records persistently."""
        return "wal" if self.wal_mode else "rollback"


def read_header(path: Path) -> Header:
    """Parse the database header, raising a precise error for non-databases."""
    with open(path, "rb") as handle:
        raw = handle.read(HEADER_SIZE)
    if not raw:
        raise EmptyDatabase(f"{path}: empty file (0 bytes), not a database")
    if len(raw) < HEADER_SIZE or not raw.startswith(SQLITE_MAGIC):
        raise NotADatabase(f"{path}: not a SQLite database (no SQLite header)")
    page_size = int.from_bytes(raw[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise NotADatabase(f"{path}: corrupt SQLite header (page size {page_size})")
    change_counter = int.from_bytes(raw[24:28], "big")
    version_valid_for = int.from_bytes(raw[92:96], "big")
    declared_pages = int.from_bytes(raw[28:32], "big")
    trusted = declared_pages > 0 and change_counter == version_valid_for
    return Header(
        page_size=page_size,
        page_count=declared_pages if trusted else None,
        wal_mode=raw[18] == 2 or raw[19] == 2,
        application_id=int.from_bytes(raw[68:72], "big", signed=True),
    )


def check_not_truncated(path: Path, header: Header) -> None:
    """Refuse a file shorter than its header says, unless a sidecar may complete it."""
    if header.page_count is None or sidecar_paths(path):
        return
    expected = header.page_count * header.page_size
    actual = os.stat(path).st_size
    if actual < expected:
        raise NotADatabase(
            f"{path}: truncated database ({actual} bytes, header says "
            f"{header.page_count} pages of {header.page_size} bytes = {expected})"
        )


def _lock_holder(path: Path, offset: int) -> int | None:
    """PID of another process holding a lock on ``offset`` of ``path``, if any.

    Uses ``F_GETLK``, which only asks: it never takes or releases a lock. Platforms
    without POSIX record locks report no holder.
    """
    if sys.platform.startswith("win") or not path.exists():
        return None
    import fcntl

    if sys.platform == "darwin":  # struct flock: off_t start, off_t len, pid, type, whence
        layout, order = "qqihh", ("start", "len", "pid", "type", "whence")
    else:  # Linux and most others: type, whence, start, len, pid
        layout, order = "hhqqi", ("type", "whence", "start", "len", "pid")
    request = dict(type=fcntl.F_WRLCK, whence=os.SEEK_SET, start=offset, len=1, pid=0)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        packed = struct.pack(layout, *(request[name] for name in order))
        answer = dict(zip(order, struct.unpack(layout, fcntl.fcntl(fd, fcntl.F_GETLK, packed))))
    except OSError:
        return None
    finally:
        os.close(fd)
    return None if answer["type"] == fcntl.F_UNLCK else answer["pid"]


def writer_lock_holder(path: Path) -> int | None:
    """PID of a process in a write transaction on ``path`` (either journal mode)."""
    return _lock_holder(path, RESERVED_BYTE) or _lock_holder(
        Path(f"{path}-shm"), WAL_WRITE_LOCK_BYTE
    )


def _refuse_if_locked(path: Path) -> None:
    holder = writer_lock_holder(path)
    if holder:
        raise DatabaseLocked(f"{path}: locked by another writer (pid {holder}); retry when it is done")


def _file_state(paths: list[Path]) -> list[tuple[int, int]]:
    return [(os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths]


def uri_for(path: Path, immutable: bool = False) -> str:
    """A ``file:`` URI for ``path`` with every special character escaped."""
    return "file:" + quote(str(Path(path).resolve())) + ("?mode=ro&immutable=1" if immutable else "")


@contextmanager
def _snapshot(path: Path, sidecars: list[Path]) -> Iterator[str]:
    """Copy ``path`` and its sidecars to a private folder, so SQLite may recover the copy."""
    workdir = Path(tempfile.mkdtemp(prefix="assetdb-snapshot-"))
    try:
        copy = workdir / "snapshot.db"
        for _ in range(SNAPSHOT_ATTEMPTS):
            before = _file_state([path, *sidecars])
            shutil.copyfile(path, copy)
            for side in sidecars:
                shutil.copyfile(side, f"{copy}{side.name[len(path.name):]}")
            if _file_state([path, *sidecars]) == before:
                break
        else:
            raise DatabaseLocked(f"{path}: kept changing while being read; retry when it is idle")
        yield uri_for(copy)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def readonly_uri(path: Path | str) -> Iterator[str]:
    """A URI that reads ``path``'s committed content without touching it (for ATTACH too).

    Raises :class:`EmptyDatabase`, :class:`NotADatabase` or :class:`DatabaseLocked`;
    a missing path is :class:`~consolidation.errors.BadInput`.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such database file")
    header = read_header(path)
    check_not_truncated(path, header)
    _refuse_if_locked(path)
    live_sidecars = [side for side in sidecar_paths(path) if side.stat().st_size > 0]
    if live_sidecars:
        with _snapshot(path, live_sidecars) as uri:
            yield uri
    else:
        yield uri_for(path, immutable=True)


@contextmanager
def open_readonly(path: Path | str) -> Iterator[sqlite3.Connection]:
    """Yield a read-only connection to ``path`` that leaves the file and its folder as they were."""
    with readonly_uri(path) as uri:
        connection = sqlite3.connect(uri, uri=True)
        try:
            connection.execute("PRAGMA query_only = 1")
            try:
                connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            except sqlite3.DatabaseError as error:
                raise NotADatabase(f"{path}: unreadable database ({error})") from None
            yield connection
        finally:
            connection.close()
