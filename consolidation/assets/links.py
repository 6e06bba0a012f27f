"""Symlinks in the archive, in the order the sqlite3 shell can restore them.

The shell's ``-Ax`` extracts rows in rowid order and stops at the first it cannot write;
setting a link's mtime follows the link, so a link whose target it has not written yet
fails, and every row after it is lost. So links come after every other row, a link to a
link after the link it points to, and the links nothing in the archive can satisfy
(dangling, in a loop, or pointing outside) last of all: when the shell stops there,
everything else is out.
"""

from __future__ import annotations

import posixpath
import sqlite3

from ..store import ShardSet

LINK_MODE = "(mode & 61440) = 40960"  # S_IFMT bits equal to S_IFLNK


def links_last(connection: sqlite3.Connection, shards: ShardSet) -> None:
    """Number the symlinks of every shard's ``sqlar`` above its other rows, in the order
    :func:`extraction_order` gives."""
    for number in shards.numbers:
        schema = shards.schema(number)
        links = connection.execute(f"SELECT rowid, CAST(name AS BLOB), CAST(data AS BLOB) FROM {schema}.sqlar "
                                   f"WHERE {LINK_MODE}").fetchall()
        if not links:
            continue
        others = {row[0] for row in connection.execute(
            f"SELECT CAST(name AS BLOB) FROM {schema}.sqlar WHERE NOT {LINK_MODE}")}
        top = connection.execute(f"SELECT max(rowid) FROM {schema}.sqlar").fetchone()[0]
        # every link above every row first, then each at its place: no rowid is ever taken twice
        connection.execute(f"UPDATE {schema}.sqlar SET rowid = rowid + ? WHERE {LINK_MODE}", (top,))
        for rank, rowid in enumerate(extraction_order(links, others), start=1):
            connection.execute(f"UPDATE {schema}.sqlar SET rowid = ? WHERE rowid = ?", (2 * top + rank, rowid + top))


def extraction_order(links: list[tuple[int, bytes, bytes]], others: set[bytes]) -> list[int]:
    """The rowids of ``links`` (rowid, name, target) so that each comes after what it points
    to, among ``others`` (the names of every other row) and the links before it; those
    whose target is never there come last, by name."""
    target_of = {name: _resolved(name, target) for _rowid, name, target in links}
    rowid_of = {name: rowid for rowid, name, _target in links}
    there, order, waiting = set(others), [], sorted(rowid_of)
    while waiting:
        ready = [name for name in waiting if target_of[name] in there]
        if not ready:
            break
        for name in ready:
            order.append(rowid_of[name])
            there.add(name)
        waiting = [name for name in waiting if name not in there]
    return order + [rowid_of[name] for name in waiting]


def _resolved(name: bytes, target: bytes | None) -> bytes | None:
    """The archive name a link's target means (relative to the link's folder), or None
    when it cannot be one (absolute, or leaving the archive)."""
    if not target or target.startswith(b"/"):
        return None
    path = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    return None if path == b".." or path.startswith(b"../") else path
