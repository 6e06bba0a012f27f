"""Symlinks in the archive, written so the sqlite3 shell restores every one of them.

The shell's ``-Ax`` sets each extracted file's mtime with ``utimes()``, which follows a
symlink: for a link it re-times the link's target (a file already extracted gets the
link's mtime), and for a link whose target is not there (dangling, not extracted yet, in
another shard) it fails, and the shell stops there, every later row lost. It skips the
call for an mtime below zero, so a link's row in ``sqlar`` carries mtime -1: the shell
then only makes the link, in whatever order the rows come. A link's own mtime is kept
with its asset record (regenerate restores it).
"""

from __future__ import annotations

import sqlite3
import stat

from ..store import ShardSet

LINK_MODE = "(mode & 61440) = 40960"  # S_IFMT bits equal to S_IFLNK

#: The mtime a link's ``sqlar`` row carries: the shell sets no time on it.
LINK_ARCHIVE_MTIME = -1


def archive_mtime(mode: int, mtime_ns: int) -> int:
    """The ``sqlar.mtime`` of a file of ``mode`` modified at ``mtime_ns``."""
    return LINK_ARCHIVE_MTIME if stat.S_ISLNK(mode) else mtime_ns // 1_000_000_000


def untime_links(connection: sqlite3.Connection, shards: ShardSet) -> None:
    """Give every link row of the set the archive mtime the shell needs (rows an earlier
    version wrote carry the link's own)."""
    for number in shards.numbers:
        connection.execute(f"UPDATE {shards.schema(number)}.sqlar SET mtime = {LINK_ARCHIVE_MTIME} "
                           f"WHERE {LINK_MODE} AND mtime IS NOT {LINK_ARCHIVE_MTIME}")
