"""Stored asset rows, read as hostile input: which versions a reader takes (current ones,
or the tree as of a version or a date), each row's fields judged before use.

A consolidated database is a file anyone can edit and commit: a row whose field is not
what assetdb writes is kept with its ``defect`` named, and refused by whoever would use it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from ..sqlite.introspect import quote_identifier as q
from ..store import ASSET_TABLES
from ..store.oplog import parse_moment

SHA256_HEX = re.compile(rb"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredAsset:
    kind: str
    path: bytes
    version: int
    sha256: str
    size: int
    mode: int
    mtime_ns: int
    current: bool
    shard: int = 1
    row_id: int = 0
    defect: str | None = None  # a field of the row is not what assetdb writes: the row is refused

    @property
    def name(self) -> str:
        return os.fsdecode(self.path)

    @property
    def row(self) -> str:
        """How messages name the row, so a poisoned one can be found and removed."""
        return f"{ASSET_TABLES[self.kind]} row {self.row_id} ({self.name!r})"

    @property
    def is_link(self) -> bool:
        return self.mode & 0o170000 == stat.S_IFLNK  # not stat.S_ISLNK: a hostile mode may not fit a C int


@contextmanager
def hostile_reads(database: Path | str) -> Iterator[None]:
    """A database whose tables are not what assetdb writes (a view for ``sqlar``, a
    dropped column, a corrupt page) is bad input, named in one line, not a traceback."""
    try:
        yield
    except sqlite3.DatabaseError as error:
        raise BadInput(f"{database}: its asset tables are not as assetdb writes them ({error}); nothing was written") from None


_ROW_COLUMNS = "id, path, version, sha256, size, mode, mtime_ns, is_current, shard"


def _asset_from_row(kind: str, row: tuple) -> StoredAsset:
    """A row as a StoredAsset, with ``defect`` naming the first field that is not what
    assetdb writes (SQLite lets any column hold any type unless the table is STRICT)."""
    row_id, path, version, sha, size, mode, mtime_ns, current, shard = row
    defect = None
    integers = {"id": row_id, "version": version, "size": size, "mode": mode, "mtime_ns": mtime_ns,
                "is_current": current, "shard": shard}
    for column, value in integers.items():
        if type(value) is not int:
            defect = f"{column} is {_sql_type(value)}, not an integer"
            break
    if not isinstance(path, bytes):
        defect, path = f"path is {_sql_type(path)}, not text", os.fsencode(repr(path))
    if defect is None and not (isinstance(sha, bytes) and SHA256_HEX.fullmatch(sha)):
        defect = "sha256 is not 64 lowercase hex digits"
    if defect is None and size < 0:
        defect = f"negative size {size}"
    if defect is None and not 0 <= mode <= 0o177777:
        defect = f"mode {mode} is not a file mode"
    return StoredAsset(
        kind, path, _int_or(version, 0), sha.decode("ascii", "replace") if isinstance(sha, bytes) else "",
        _int_or(size, 0), _int_or(mode, 0), _int_or(mtime_ns, 0), bool(_int_or(current, 0)),
        _int_or(shard, 1), _int_or(row_id, 0), defect,
    )


def _sql_type(value: object) -> str:
    """The SQLite storage class a value was read from (text arrives as bytes here)."""
    return {bytes: "text", float: "real", type(None): "null"}.get(type(value), type(value).__name__)


def _int_or(value: object, default: int) -> int:
    return value if type(value) is int else default


def select_assets(
    connection: sqlite3.Connection, kinds: tuple[str, ...] = (), path_glob: str | None = None, at: str | None = None
) -> list[StoredAsset]:
    """The assets to regenerate: current ones, or each path as of version N or a date.

    A path that moved between kinds has rows in two tables; as of a version or a date,
    the one changed last is the path's version then. As of a date, a path whose version
    then had been deleted by then is not in the tree.
    """
    for kind in kinds:
        if kind not in ASSET_TABLES:
            raise BadInput(f"unknown asset kind {kind!r} (kinds: {', '.join(ASSET_TABLES)})")
    version, moment = _parse_at(at)
    previous_factory = connection.text_factory
    connection.text_factory = bytes
    try:
        selected: list[tuple[bytes, bytes, StoredAsset]] = []  # (last changed, deleted at, the row)
        for kind, table in ASSET_TABLES.items():
            if kinds and kind not in kinds:
                continue
            if version is not None:
                condition, parameters = "version = ?", (version,)
            elif moment is not None:
                condition = (
                    f"id IN (SELECT id FROM {q(table)} AS a WHERE a.last_changed <= ? AND a.version = "
                    f"(SELECT max(version) FROM {q(table)} AS b WHERE b.path = a.path AND b.last_changed <= ?))"
                )
                parameters = (moment, moment)
            else:
                condition, parameters = "is_current AND deleted_at IS NULL", ()
            if path_glob is not None:  # an empty glob matches no path (a typo), never "all"
                condition += " AND path GLOB CAST(? AS TEXT)"
                parameters += (os.fsencode(path_glob),)
            for row in connection.execute(
                f"SELECT {_ROW_COLUMNS}, last_changed, deleted_at FROM {q(table)} WHERE {condition} ORDER BY path",
                parameters,
            ):
                changed, deleted = (value if isinstance(value, bytes) else b"" for value in row[-2:])
                selected.append((changed, deleted, _asset_from_row(kind, row[:-2])))
    finally:
        connection.text_factory = previous_factory
    if version is None and moment is None:
        return sorted((asset for _, _, asset in selected), key=lambda asset: asset.path)
    latest: dict[bytes, tuple[bytes, bytes, StoredAsset]] = {}
    for changed, deleted, asset in selected:
        if asset.path not in latest or changed > latest[asset.path][0]:
            latest[asset.path] = (changed, deleted, asset)
    # as of version N, each path is as it was then, deleted since or not; as of a date, not if gone by then
    return [asset for _, deleted, asset in (latest[path] for path in sorted(latest))
            if moment is None or not deleted or deleted > moment.encode()]


def select_history(connection: sqlite3.Connection, kinds: tuple[str, ...] = ()) -> list[StoredAsset]:
    """Every superseded or deleted version (what ``regenerate --at`` can write)."""
    previous_factory = connection.text_factory
    connection.text_factory = bytes
    try:
        return [
            _asset_from_row(kind, row)
            for kind, table in ASSET_TABLES.items() if not kinds or kind in kinds
            for row in connection.execute(
                f"SELECT {_ROW_COLUMNS} FROM {q(table)} WHERE NOT (is_current AND deleted_at IS NULL) ORDER BY path, version"
            )
        ]
    finally:
        connection.text_factory = previous_factory


def find_asset(connection: sqlite3.Connection, kind: str, name: str) -> list[StoredAsset]:
    """The current assets of ``kind`` whose usage name or path is ``name``."""
    previous_factory = connection.text_factory
    connection.text_factory = bytes
    try:
        return [
            _asset_from_row(kind, row)
            for row in connection.execute(
                f"SELECT {_ROW_COLUMNS} FROM {q(ASSET_TABLES[kind])} "
                "WHERE is_current AND deleted_at IS NULL AND (name = ? OR path = ?)",
                (name, name),
            )
        ]
    finally:
        connection.text_factory = previous_factory


def _parse_at(at: str | None) -> tuple[int | None, str | None]:
    """``--at``: a version number, else a moment (a date meaning the end of that day)."""
    if at is None:
        return None, None
    if at.isdigit():
        if int(at) >= 2**63:
            raise BadInput(f"--at {at}: no version can be that large (versions count from 1)")
        return int(at), None
    return None, parse_moment(at, "--at", end_of_day=True)
