"""Symlinks in the archive, in the order the sqlite3 shell can restore them.

The shell's ``-Ax`` extracts rows in rowid order and stops at the first it cannot write;
setting a link's mtime follows the link, so a link whose target it has not written yet
fails, and every row after it is lost. So links come after every other row, a link to a
link after the link it points to, and the links nothing in the archive can satisfy
(dangling, in a loop, or pointing outside) last of all: when the shell stops there,
everything else is out. In a set of several files, the links are gathered into the last
shard: extracted after the primary and every other shard, each finds its target there,
whichever file holds it.
"""

from __future__ import annotations

import posixpath
import sqlite3

from ..store import ShardSet
from ..store.schema import ASSET_TABLES

LINK_MODE = "(mode & 61440) = 40960"  # S_IFMT bits equal to S_IFLNK


def links_last(connection: sqlite3.Connection, shards: ShardSet) -> None:
    """Gather the set's symlinks into its last shard and number them above its other rows,
    in the order :func:`extraction_order` gives against every file's other rows."""
    last = max(shards.numbers)
    for number in shards.numbers:
        if number != last:
            _move_links(connection, shards, number, last)
    schema = shards.schema(last)
    links = connection.execute(f"SELECT rowid, CAST(name AS BLOB), CAST(data AS BLOB) FROM {schema}.sqlar "
                               f"WHERE {LINK_MODE}").fetchall()
    if not links:
        return
    others = {row[0] for number in shards.numbers for row in connection.execute(
        f"SELECT CAST(name AS BLOB) FROM {shards.schema(number)}.sqlar WHERE NOT {LINK_MODE}")}
    # Every link out of the way first, at the negative of its rowid (stored rowids are
    # positive), then each at its place just above the other rows: no rowid is ever taken
    # twice, and the numbers stay as many as the rows however often they are renumbered.
    connection.execute(f"UPDATE {schema}.sqlar SET rowid = -rowid WHERE {LINK_MODE}")
    top = _top_of_other_rows(connection, schema, len(links))
    for rank, rowid in enumerate(extraction_order(links, others), start=1):
        connection.execute(f"UPDATE {schema}.sqlar SET rowid = ? WHERE rowid = ?", (top + rank, -rowid))


#: Rowids past this are renumbered: SQLite gives a new row the rowid after the largest,
#: and picks one at random once the largest is 2**63 - 1.
HIGHEST_ROWID = 2**62


def _top_of_other_rows(connection: sqlite3.Connection, schema: str, links: int) -> int:
    """The largest rowid of the rows that are not links (the links being at negative
    rowids), those rows numbered 1, 2, … again, in their order, when links above them would
    not fit (a set whose links an earlier version numbered ever higher)."""
    top = connection.execute(f"SELECT coalesce(max(rowid), 0) FROM {schema}.sqlar WHERE rowid > 0").fetchone()[0]
    if top + links <= HIGHEST_ROWID:
        return top
    ascending = [rowid for (rowid,) in connection.execute(f"SELECT rowid FROM {schema}.sqlar WHERE rowid > 0 ORDER BY rowid")]
    for number, rowid in enumerate(ascending, start=1):  # each number is free: the rows below it took the ones before
        if number != rowid:
            connection.execute(f"UPDATE {schema}.sqlar SET rowid = ? WHERE rowid = ?", (number, rowid))
    return len(ascending)


def _move_links(connection: sqlite3.Connection, shards: ShardSet, number: int, last: int) -> None:
    """The current symlinks of shard ``number`` into shard ``last``; the assets they are
    the bytes of say where they are now."""
    schema = shards.schema(number)
    if not connection.execute(f"SELECT 1 FROM {schema}.sqlar WHERE {LINK_MODE} LIMIT 1").fetchone():
        return
    connection.execute(f"INSERT INTO {shards.schema(last)}.sqlar (name, mode, mtime, sz, data) "
                       f"SELECT name, mode, mtime, sz, data FROM {schema}.sqlar WHERE {LINK_MODE}")
    for table in ASSET_TABLES.values():
        connection.execute(f'UPDATE main."{table}" SET shard = ? WHERE is_current AND shard = ? '
                           f"AND path IN (SELECT name FROM {schema}.sqlar WHERE {LINK_MODE})", (last, number))
    connection.execute(f"DELETE FROM {schema}.sqlar WHERE {LINK_MODE}")


def extraction_order(links: list[tuple[int, bytes, bytes]], others: set[bytes]) -> list[int]:
    """The rowids of ``links`` (rowid, name, target) so that each comes after what it points
    to, among ``others`` (the names of every other row) and the links before it; those
    whose target is never there come last, by name."""
    target_of = {name: _resolved(name, target) for _rowid, name, target in links}
    rowid_of = {name: rowid for rowid, name, _target in links}
    there, order, waiting = set(others) | _folders_of(others), [], sorted(rowid_of)
    while waiting:
        ready = [name for name in waiting if target_of[name] in there]
        if not ready:
            break
        for name in ready:
            order.append(rowid_of[name])
            there.add(name)
            there |= _folders_of([name])
        waiting = [name for name in waiting if name not in there]
    return order + [rowid_of[name] for name in waiting]


def _folders_of(names) -> set[bytes]:
    """Every folder the shell makes to write ``names`` (a link to one is satisfied by it)."""
    folders = set()
    for name in names:
        folder = posixpath.dirname(name)
        while folder and folder not in folders:
            folders.add(folder)
            folder = posixpath.dirname(folder)
    return folders


def _resolved(name: bytes, target: bytes | None) -> bytes | None:
    """The archive name a link's target means (relative to the link's folder), or None
    when it cannot be one (absolute, or leaving the archive)."""
    if not target or target.startswith(b"/"):
        return None
    path = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    return None if path == b".." or path.startswith(b"../") else path
