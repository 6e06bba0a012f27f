"""What an operating-system or SQLite failure means to the user, in one line and an exit code.

The library raises :class:`~consolidation.errors.AssetdbError` for everything it
foresees; what it cannot foresee at each call site is the file system failing under it:
a full disk, a read-only mount, a permission, a file SQLite cannot read. Those arrive as
``OSError`` or ``sqlite3.Error`` from anywhere. :func:`explain` maps each class of them to
the error the user should see, so the command line has one boundary with a map instead of
a blanket catch, and each kind keeps its own remedy:

* no space (``ENOSPC``, ``EDQUOT``, SQLite's "database or disk is full" with the disk
  truly full) is :class:`NoSpace`, exit 3: the write was rolled back, and the message
  names the file system, what is free and, when known, what was needed — never the cap,
  since the remedy (free space) is not the cap's (shards);
* a read-only file system or a permission is :class:`NotWritable`, exit 2, naming the path;
* a file SQLite cannot read is :class:`Unreadable`, exit 2: "cannot be read by SQLite
  (encrypted or damaged)";
* a missing file or a symlink loop met mid-run is bad input, exit 2, naming the path.

Anything else is a bug, and :func:`explain` says so by returning None.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from .errors import Aborted, AssetdbError, BadInput
from .size import format_size

NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
NOT_WRITABLE_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)
#: Below this much free space, SQLite's "database or disk is full" is the file system's.
DISK_FULL_MARGIN = 16 * 2**20


class NoSpace(Aborted):
    """The file system ran out of room; what was being written was rolled back."""


class NotWritable(BadInput):
    """A path the tool must write is on a read-only file system or not permitted."""


class Unreadable(BadInput):
    """A file looks like SQLite but SQLite cannot read it."""


def mount_point(path: Path | str) -> Path:
    """The mount point of the file system holding ``path`` (or its nearest existing parent)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path | str) -> int | None:
    """Bytes free to an unprivileged writer on ``path``'s file system, if measurable."""
    try:
        return shutil.disk_usage(mount_point(path)).free
    except OSError:
        return None


def disk_is_full(path: Path | str) -> bool:
    """Is ``path``'s file system (nearly) out of room? SQLite reports a cap it enforces
    (``max_page_count``) and a full disk with the same words; this tells them apart."""
    free = free_bytes(path)
    return free is not None and free < DISK_FULL_MARGIN


def no_space(path: Path | str, what: str = "writing", needed: int | None = None) -> NoSpace:
    """The one wording of a full file system: where, what is free, what was needed."""
    free = free_bytes(path)
    room = f"{format_size(free)} free" if free is not None else "no room"
    need = f", about {format_size(needed)} ({needed:,} bytes) needed" if needed else ""
    return NoSpace(f"{path}: no space left on the file system at {mount_point(path)} ({room}{need}) "
                   f"while {what}; rolled back, nothing was changed — free some space and rerun")


def _os_error(error: OSError) -> AssetdbError | None:
    path = os.fsdecode(error.filename) if error.filename is not None else "a file"  # a bytes name, as text
    reason = (error.strerror or str(error)).lower()
    if error.errno in NO_SPACE_ERRNOS:
        return no_space(path)
    if error.errno in NOT_WRITABLE_ERRNOS:
        return NotWritable(f"{path}: cannot write here ({reason}); nothing was changed")
    if error.errno == errno.ELOOP:
        return BadInput(f"{path}: symlink loop; nothing was changed")
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return BadInput(f"{path}: no such file or directory (it vanished while in use); nothing was changed")
    if error.errno == errno.EIO:
        return BadInput(f"{path}: input/output error from the device; nothing was changed")
    return None


def _sqlite_error(error: sqlite3.Error) -> AssetdbError | None:
    message = str(error)
    if "database or disk is full" in message:
        return NoSpace(f"the file system is full ({message}); rolled back, nothing was changed — "
                       "free some space and rerun")
    if "readonly database" in message or "read-only" in message:
        return NotWritable(f"cannot write: {message}; nothing was changed")
    if "unable to open database file" in message:
        return BadInput(f"a database file cannot be opened ({message}: its folder may be missing or "
                        "not writable); nothing was changed")
    if isinstance(error, sqlite3.DatabaseError) and any(
        words in message for words in ("file is not a database", "unable to open database", "malformed")
    ):
        return Unreadable(f"a database cannot be read by SQLite (encrypted or damaged: {message})")
    if "locked" in message or "busy" in message:
        return Aborted(f"a database is locked by another process ({message}); nothing was changed")
    return None


def explain(error: BaseException) -> AssetdbError | None:
    """The error the user should see for ``error``, or None when it is a bug."""
    if isinstance(error, AssetdbError):
        return error
    if isinstance(error, OSError):
        return _os_error(error)
    if isinstance(error, sqlite3.Error):
        return _sqlite_error(error)
    return None
