"""Files the database set knows of that are not its sources: skipped files, its database list.

Consolidating with ``--skip-unusable`` (or ``--exclude``) leaves some legacy files out;
each is recorded here with what it is and why, so the database list names it and the gate
shows it as skipped with that reason instead of failing on it or passing silently. The
database list's location is recorded too, so ingest and sync know it is the set's own
file, never a workspace asset. Paths are relative to the primary's folder and are only
ever compared with files found on disk, never used to open or write anything.

Where each source was migrated from is recorded the same way (relative, with symlinks
resolved), so a clone of the repository elsewhere finds its own copy of each source.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .oplog import utc_now
from .schema import SET_FILES_TABLE


def _relative(primary: Path, path: Path) -> str:
    return os.path.relpath(os.path.abspath(path), os.path.abspath(primary.parent)).replace(os.sep, "/")


def source_location(primary: Path, source: Path) -> str:
    """How the ledger records where ``source`` was migrated from: relative to the
    primary's folder, both resolved."""
    return os.path.relpath(source.resolve(), primary.resolve().parent).replace(os.sep, "/")


def recorded_source(primary: Path, recorded: str) -> Path:
    """The file a ledger's source location names in this checkout (an absolute one, as
    earlier versions recorded, as it is)."""
    return primary.resolve().parent / recorded


def record_skipped(connection: sqlite3.Connection, primary: Path, skipped: list[tuple[Path, str, str]]) -> None:
    """Record ``(file, status, reason)`` for each file left out, in the caller's transaction."""
    now = utc_now()
    connection.executemany(
        f'INSERT OR REPLACE INTO main."{SET_FILES_TABLE}" (path, role, status, reason, recorded_at) '
        "VALUES (?, 'skipped', ?, ?, ?)",
        [(_relative(primary, path), status, reason, now) for path, status, reason in skipped],
    )


def already_recorded(connection: sqlite3.Connection, primary: Path, skipped: list[tuple[Path, str, str]]) -> bool:
    """Is every ``(file, status, reason)`` recorded as left out already, as it is now?"""
    recorded = set(_rows(connection, "skipped"))
    return all((_relative(primary, path), status, reason) in recorded for path, status, reason in skipped)


def forget_skipped(connection: sqlite3.Connection, primary: Path, migrated: list[Path]) -> None:
    """Files once left out that are sources now (fetched, repaired, no longer excluded)."""
    connection.executemany(
        f'DELETE FROM main."{SET_FILES_TABLE}" WHERE role = \'skipped\' AND path = ?',
        [(_relative(primary, path),) for path in migrated],
    )


def has_left_out(connection: sqlite3.Connection, primary: Path, paths: list[Path]) -> bool:
    """Is any of ``paths`` recorded as left out?"""
    recorded = {path for path, _status, _reason in _rows(connection, "skipped")}
    return any(_relative(primary, path) in recorded for path in paths)


def record_database_list(connection: sqlite3.Connection, primary: Path, list_path: Path) -> None:
    connection.execute(f'DELETE FROM main."{SET_FILES_TABLE}" WHERE role = \'database-list\'')
    connection.execute(
        f'INSERT OR REPLACE INTO main."{SET_FILES_TABLE}" (path, role, recorded_at) VALUES (?, \'database-list\', ?)',
        (_relative(primary, list_path), utc_now()),
    )


def _rows(connection: sqlite3.Connection, role: str, schema: str = "main") -> list[tuple]:
    try:
        return connection.execute(
            f'SELECT path, status, reason FROM {schema}."{SET_FILES_TABLE}" WHERE role = ? ORDER BY path', (role,)
        ).fetchall()
    except sqlite3.OperationalError:  # a database from before the table existed
        return []


def skipped_files(connection: sqlite3.Connection, primary: Path) -> list[tuple[Path, str, str]]:
    """``(file, status, reason)`` of every file the set recorded as left out."""
    return [(primary.parent / path, status, reason) for path, status, reason in _rows(connection, "skipped")]


def database_list_path(connection: sqlite3.Connection, primary: Path) -> Path | None:
    rows = _rows(connection, "database-list")
    return primary.parent / rows[0][0] if rows else None
