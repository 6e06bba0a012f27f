"""What a candidate database file really is, decided before anything is written.

A real repository's ``*.db`` files are not all databases: some are Git LFS pointer files
(about 130 bytes of text standing in for an object that was never fetched), some are
zero bytes, some are damaged, truncated, locked by a running application, not SQLite at
all, or symlinks that loop, dangle or point out of the folder. Every command that takes
databases classifies each candidate here first, so it can name every unusable file in
one line, with the way on, before the first write.

A zero-byte file is usable: SQLite reads it as an empty database, so it has nothing to
lose and is consolidated as a source with no tables.
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import AssetdbError, BadInput
from ..size import format_size
from .header import (
    HEADER_SIZE,
    SQLITE_MAGIC,
    EmptyDatabase,
    Header,
    NotADatabase,
    read_header,
)
from .locks import DatabaseLocked
from .readonly import open_readonly

#: Suffixes that make a file a database candidate wherever it is.
DATABASE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
#: Files SQLite keeps beside a database; they belong to it, never to anything else.
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")

LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/"
#: Git LFS pointer files are at most a few hundred bytes (the spec caps them at 1024).
LFS_POINTER_MAX_BYTES = 1024
_LFS_SIZE = re.compile(rb"^size (\d+)\s*$", re.MULTILINE)

USABLE = ("sqlite", "empty")
UNUSABLE = ("lfs-pointer", "not-sqlite", "truncated", "corrupt", "locked", "symlink", "unreadable", "unsupported",
            "consolidated")


@dataclass(frozen=True)
class Candidate:
    """One candidate file and what it turned out to be.

    ``status`` is ``sqlite`` or ``empty`` (both usable), or one of :data:`UNUSABLE`;
    ``reason`` is one line saying what is wrong (None when usable), ``way_on`` what to do.
    """

    path: Path
    status: str
    reason: str | None = None
    header: Header | None = None
    lfs_object_size: int | None = None

    @property
    def usable(self) -> bool:
        return self.status in USABLE

    @property
    def way_on(self) -> str:
        if self.status == "lfs-pointer":
            return "run `git lfs pull` to fetch it"
        if self.status == "locked":
            return "retry when its application is done"
        if self.status == "unsupported":
            return "it cannot be migrated losslessly as it is"
        if self.status == "consolidated":
            return "leave it out of the sources"
        return "repair or restore it"

    def describe(self) -> str:
        """``path (reason; way on)``, as refusals list each unusable file."""
        return f"{self.path} ({self.reason}; {self.way_on})"


def is_database_path(path: Path | str) -> bool:
    """Does the name make this file a database candidate (``.db``, ``.sqlite``, ``.sqlite3``)?"""
    return Path(path).suffix.lower() in DATABASE_SUFFIXES


def sidecar_of(path: Path | str) -> Path | None:
    """The database a ``-wal``/``-shm``/``-journal`` file belongs to, if it is one by name."""
    name = Path(path).name
    for suffix in SIDECAR_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return Path(path).with_name(name[: -len(suffix)])
    return None


def has_sqlite_header(path: Path | str) -> bool:
    """Do the file's first bytes say SQLite? (Its suffix says nothing.) Never follows a symlink."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return False
        return os.read(descriptor, len(SQLITE_MAGIC)) == SQLITE_MAGIC
    finally:
        os.close(descriptor)


def lfs_pointer_size(path: Path | str) -> int | None:
    """The size of the object a Git LFS pointer file stands for, or None if it is not one."""
    try:
        if os.stat(path).st_size > LFS_POINTER_MAX_BYTES:
            return None
        with open(path, "rb") as handle:
            text = handle.read(LFS_POINTER_MAX_BYTES)
    except OSError:
        return None
    if not text.startswith(LFS_POINTER_PREFIX):
        return None
    match = _LFS_SIZE.search(text)
    return int(match.group(1)) if match else 0


def refuse_broken_symlink(path: Path) -> None:
    """A database path that is a symlink to nothing (dangling, a loop) is bad input: a
    database made there would replace the link, and removing a failed one would remove it."""
    if path.is_symlink() and not path.exists():
        raise BadInput(f"{path}: is a {symlink_problem(path)}, not a database file; give the database's own path")


def symlink_problem(path: Path, root: Path | None = None) -> str | None:
    """Why a symlink cannot be a source (a loop, dangling, leaving ``root``), or None."""
    try:
        resolved = path.resolve(strict=True)
    except RuntimeError:
        return "symlink loop"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symlink loop"
        return f"dangling symlink (to {os.readlink(path)})"
    if root is not None:
        base = root.resolve()
        if resolved != base and base not in resolved.parents:
            return f"symlink pointing outside {root} (to {resolved})"
    return None


def _not_sqlite_reason(path: Path, size: int) -> str:
    with open(path, "rb") as handle:
        start = handle.read(HEADER_SIZE)
    if start.startswith(SQLITE_MAGIC[:-1]):
        return f"not a SQLite database (SQLite header cut short: {size} bytes)"
    printable = all(32 <= byte < 127 or byte in (9, 10, 13) for byte in start)
    kind = "text" if printable else "binary data"
    return f"not a SQLite database ({kind}, {format_size(size)}, no SQLite header)"


def folder_holding(path: Path, folders) -> Path | None:
    """The given folder ``path`` was found in (a symlink must stay inside it)."""
    path = Path(os.path.abspath(path))
    for folder in folders:
        absolute = Path(os.path.abspath(folder))
        if absolute.is_dir() and (absolute == path.parent or absolute in path.parents):
            return folder
    return None


def classify(path: Path | str, root: Path | None = None, deep: bool = False) -> Candidate:
    """What ``path`` is, reading nothing but its header and schema (and, when ``deep``,
    every page, with ``PRAGMA quick_check``); never raises for a bad file.

    ``root``, when given, is the folder a symlink must stay inside.
    """
    path = Path(path)
    if path.is_symlink():
        problem = symlink_problem(path, root)
        if problem:
            return Candidate(path, "symlink", problem)
    try:
        info = path.stat()
    except OSError as error:
        return Candidate(path, "unreadable", f"cannot be read ({error.strerror})")
    if not stat.S_ISREG(info.st_mode):
        return Candidate(path, "not-sqlite", "not a regular file")
    if info.st_size == 0:
        return Candidate(path, "empty", None)
    if not os.access(path, os.R_OK):
        return Candidate(path, "unreadable", "cannot be read (permission denied)")
    pointer = lfs_pointer_size(path)
    if pointer is not None:
        return Candidate(
            path, "lfs-pointer", f"Git LFS pointer to a {format_size(pointer)} object that was never fetched",
            lfs_object_size=pointer,
        )
    try:
        header = read_header(path)
    except EmptyDatabase:  # emptied since the stat above
        return Candidate(path, "empty", None)
    except NotADatabase as error:
        if "no SQLite header" in str(error):
            return Candidate(path, "not-sqlite", _not_sqlite_reason(path, info.st_size))
        return Candidate(path, "corrupt", str(error).split(": ", 1)[-1])
    try:
        with open_readonly(path) as connection:  # opening reads the schema: an encrypted file fails here
            problems = [row[0] for row in connection.execute("PRAGMA quick_check")] if deep else ["ok"]
        if problems != ["ok"]:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            return Candidate(path, "corrupt", f"damaged pages (quick_check: {problems[0]}{more})", header)
    except DatabaseLocked as error:
        return Candidate(path, "locked", str(error).split(": ", 1)[-1].split(";")[0], header)
    except NotADatabase as error:
        message = str(error).split(": ", 1)[-1]
        if message.startswith("truncated"):
            return Candidate(path, "truncated", message, header)
        return Candidate(path, "corrupt", f"cannot be read by SQLite (encrypted or damaged: {message})", header)
    except (AssetdbError, sqlite3.Error, OSError) as error:
        return Candidate(path, "corrupt", f"cannot be read by SQLite (encrypted or damaged: {error})", header)
    return Candidate(path, "sqlite", None, header)
