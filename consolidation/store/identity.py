"""Is this file one of ours? Asked one way everywhere.

An assetdb database says so in its header (``PRAGMA application_id`` is the ASCII bytes
``ASDB``) and versions its schema in ``PRAGMA user_version``; a shard also holds a one-row
``assetdb_shard`` table naming its primary. Nothing is guessed from file or table names.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import AssetdbError, BadInput
from ..sqlite import open_readonly, read_header
from .schema import APPLICATION_ID, COMPATIBLE_SINCE, SCHEMA_VERSION

SHARD_MARKER = "assetdb_shard"
PRIMARY, SHARD = "primary", "shard"


def claims_assetdb(path: Path) -> bool:
    """Does the file's header say assetdb? (One read of 100 bytes; no SQLite.)"""
    try:
        return read_header(path).application_id == APPLICATION_ID
    except (AssetdbError, OSError):
        return False


def connection_role(connection: sqlite3.Connection, schema: str = "main") -> str | None:
    """``primary``, ``shard`` or None for the database open as ``schema``."""
    application_id = connection.execute(f"PRAGMA {schema}.application_id").fetchone()[0]
    version = connection.execute(f"PRAGMA {schema}.user_version").fetchone()[0]
    if application_id != APPLICATION_ID or not 1 <= version <= SCHEMA_VERSION:
        return None
    marker = connection.execute(
        f"SELECT 1 FROM {schema}.sqlite_schema WHERE type = 'table' AND name = ?", (SHARD_MARKER,)
    ).fetchone()
    return SHARD if marker else PRIMARY


def shard_mismatch(connection: sqlite3.Connection, schema: str, primary_name: str, number: int) -> str | None:
    """What the file attached as ``schema`` holds instead of shard ``number`` of the primary
    ``primary_name`` (None when it is that shard): a file emptied or overwritten under a
    shard's name is never read or written as the shard."""
    if connection_role(connection, schema) != SHARD:
        return "a database that is no shard"
    found = connection.execute(f"SELECT primary_name, shard FROM {schema}.{SHARD_MARKER}").fetchone()
    if found is None:
        return "a shard whose marker row is gone"
    return None if found == (primary_name, number) else f"shard {found[1]} of {found[0]}"


def role(path: Path) -> str | None:
    """``primary``, ``shard``, or None for any other file (a legacy database, a text file)."""
    if not claims_assetdb(path):
        return None
    try:
        with open_readonly(path) as connection:
            return connection_role(connection)
    except (AssetdbError, sqlite3.DatabaseError):
        return None


def refuse_a_set_beside(database: Path, command: str) -> None:
    """``database`` does not exist yet, but its folder holds another consolidated set: a
    mistyped ``--db`` would start a second set beside it, silently. Refused, naming it."""
    if database.exists() or database.is_symlink() or not database.parent.is_dir():
        return
    others = sorted(path for path in database.parent.iterdir()
                    if path.suffix == database.suffix and path.is_file() and role(path) == PRIMARY)
    if others:
        raise BadInput(f"{database}: no such database, and {database.parent} holds the consolidated set "
                       f"{others[0].name}: give that one (a second set beside it starts with: assetdb init "
                       f"{database}, then {command})")


def newer_schema(path: Path, version: int) -> BadInput:
    """The refusal of a set written by a later assetdb: its schema is not this one's to read or write."""
    return BadInput(f"{path}: schema version {version} is newer than this assetdb understands ({SCHEMA_VERSION}); "
                    "upgrade pytest-assetdb")


def require_primary(connection: sqlite3.Connection, path: Path, schema: str = "main") -> None:
    """Refuse, in one line, a database that is not a consolidated set's primary file."""
    found = connection_role(connection, schema)
    version = connection.execute(f"PRAGMA {schema}.user_version").fetchone()[0]
    if found == PRIMARY and version < COMPATIBLE_SINCE:
        raise BadInput(f"{path}: schema version {version} is older than this assetdb writes ({SCHEMA_VERSION}); "
                       f"run: assetdb init {path} (it upgrades the file in place, rows untouched)")
    if found == SHARD:
        raise BadInput(f"{path}: is a shard of a consolidated set; give its primary file")
    if found is None:
        application_id = connection.execute(f"PRAGMA {schema}.application_id").fetchone()[0]
        if application_id == APPLICATION_ID and version > SCHEMA_VERSION:
            raise newer_schema(path, version)
        raise BadInput(f"{path}: not an assetdb database, so not a consolidated set; make one in a new file "
                       "with assetdb migrate (or assetdb init)")
