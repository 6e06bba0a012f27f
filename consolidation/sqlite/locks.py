"""Who is writing a SQLite file right now, asked without taking a lock.

SQLite's unix VFS signals a writer by a lock on a known byte (``RESERVED_BYTE`` in
rollback mode, a slot of the ``-shm`` file in WAL mode). Readers that must not read a
file mid-write ask with ``F_GETLK``, which only reports; writers wait for each other
up to ``LOCK_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

from ..errors import Aborted

# Byte offsets SQLite's unix VFS locks (os_unix.c): a writer holds RESERVED_BYTE in
# rollback-journal mode, and the first lock slot of the -shm file in WAL mode.
RESERVED_BYTE = 0x40000001


WAL_WRITE_LOCK_BYTE = 120
#: Every connection that has a WAL database open holds a shared lock on this byte of its
#: -shm file, idle or not (os_unix.c: ``UNIX_SHM_DMS``).
WAL_OPEN_BYTE = 128


class DatabaseLocked(Aborted):
    """Another process is writing to the database right now."""


def _lock_holder(path: Path, offset: int) -> int | None:
    """PID of another process holding a lock on ``offset`` of ``path``, if any.

    Uses ``F_GETLK``, which only asks: it never takes or releases a lock. Platforms
    without POSIX record locks report no holder.
    """
    if sys.platform.startswith("win") or not path.exists():
        return None
    import fcntl  # POSIX only: imported here so the rest of the tool loads everywhere

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


def interrupted_journal(path: Path) -> Path | None:
    """The ``-journal`` a write cut short (a killed run) left beside ``path``, if any. In the
    rollback-journal mode SQLite uses by default, a journal lives only while a write is at
    work: one with no writer behind it is left over, still holding the transaction or (killed
    while committing across files) already spent. The next connection that may write rolls
    it back or removes it."""
    journal = Path(f"{path}-journal")
    try:
        left = journal.stat().st_size > 0
    except OSError:
        return None
    return journal if left and writer_lock_holder(path) is None else None


def opened_elsewhere(paths: list[Path]) -> dict[Path, int]:
    """``path -> pid`` for each of ``paths`` another process has open, idle or not. In WAL
    mode the -shm lock every connection holds says so; on Linux, ``/proc`` tells for either
    journal mode (a rollback-journal connection holds no lock between transactions). A
    process whose files may not be read (another user's) is not seen."""
    found = {path: pid for path in paths if (pid := _lock_holder(Path(f"{path}-shm"), WAL_OPEN_BYTE))}
    wanted = {os.path.realpath(path): path for path in paths if path not in found}
    if not wanted or not os.path.isdir("/proc"):
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            descriptors = os.listdir(f"/proc/{entry}/fd")
        except OSError:  # gone, or not ours to read
            continue
        for descriptor in descriptors:
            try:
                target = os.readlink(f"/proc/{entry}/fd/{descriptor}")
            except OSError:
                continue
            if target in wanted:
                found.setdefault(wanted[target], int(entry))
    return found


LOCK_TIMEOUT_SECONDS = 5.0
