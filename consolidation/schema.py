"""The unified schema of ``enterprise_assets.db`` and its idempotent initializer.

Design (PRODUCT.md §4):

* The four per-kind tables (``script_assets``, ``documentation_assets``,
  ``template_assets``, ``pattern_assets``) hold one row per path *version*: SHA-256,
  size, mode, mtime, timestamps, and the shard whose ``sqlar``/``asset_blobs`` holds its
  bytes, so history is kept and assets can grow past one file's cap.
* The bytes of every *current* asset live in a real ``sqlar`` table, the SQLite Archive
  format, so the stock shell restores the workspace with ``sqlite3 DB -Ax`` and no
  Python (invariant 5). It must be a table: the shell checks for it with
  ``sqlite3_table_column_metadata``, which rejects views.
* Bytes of superseded and deleted versions live once per SHA-256 in ``asset_blobs``.
  Both stores follow the archive's compression rule: zlib only when smaller, and
  ``length(data) < size`` means compressed.
* ``enterprise_metadata`` and ``integration_tracking`` are the unified homes of the
  legacy tables of those names; ``cross_database_sync_operations`` is the operation log.
* Ledger tables record migrated sources and their fingerprints, per-table accounting,
  key conflicts and the shard manifest (invariants 1–3).

The file is marked with ``PRAGMA application_id`` (so an assetdb database is recognised
without guessing from table names) and versioned with ``PRAGMA user_version``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import Aborted, BadInput
from .readonly import EmptyDatabase, read_header, uri_for
from .size import format_size
from .synclog import LOG_TABLE, Operation, allocated_size

#: ``PRAGMA application_id`` of an assetdb database: the ASCII bytes ``ASDB``.
APPLICATION_ID = 0x41534442
SCHEMA_VERSION = 1

#: Asset kind -> table. Templates and patterns also track usage.
ASSET_TABLES = {
    "script": "script_assets",
    "documentation": "documentation_assets",
    "template": "template_assets",
    "pattern": "pattern_assets",
}
USAGE_TRACKING_KINDS = ("template", "pattern")

BLOB_TABLE = "asset_blobs"
LOCK_TIMEOUT_SECONDS = 5.0


def _asset_table(kind: str) -> list[str]:
    table = ASSET_TABLES[kind]
    usage = (
        "    name TEXT,\n"
        "    usage_count INTEGER NOT NULL DEFAULT 0 CHECK (usage_count >= 0),\n"
        "    last_used TEXT,\n"
        if kind in USAGE_TRACKING_KINDS
        else ""
    )
    return [
        f"""CREATE TABLE IF NOT EXISTS "{table}" (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL CHECK (path <> '' AND substr(path, 1, 1) <> '/'),
    version INTEGER NOT NULL CHECK (version >= 1),
    is_current INTEGER NOT NULL DEFAULT 1 CHECK (is_current IN (0, 1)),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    size INTEGER NOT NULL CHECK (size >= 0),
    mode INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_changed TEXT NOT NULL,
    deleted_at TEXT,
    shard INTEGER NOT NULL DEFAULT 1,
{usage}    UNIQUE (path, version)
)""",
        f'CREATE UNIQUE INDEX IF NOT EXISTS "{table}_current_path" '
        f'ON "{table}" (path) WHERE is_current',
    ]


#: Where asset bytes live, in the primary and in every shard: exactly the SQLite Archive
#: table the sqlite3 shell creates for ``-Ac``, and the history store.
CONTENT_STATEMENTS: list[str] = [
    """CREATE TABLE IF NOT EXISTS sqlar (
    name TEXT PRIMARY KEY,
    mode INT,
    mtime INT,
    sz INT,
    data BLOB
)""",
    f"""CREATE TABLE IF NOT EXISTS "{BLOB_TABLE}" (
    sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    size INTEGER NOT NULL CHECK (size >= 0),
    data BLOB NOT NULL
)""",
]

SCHEMA_STATEMENTS: list[str] = [
    *CONTENT_STATEMENTS,
    *[statement for kind in ASSET_TABLES for statement in _asset_table(kind)],
    """CREATE TABLE IF NOT EXISTS enterprise_metadata (
    id INTEGER PRIMARY KEY,
    metadata_key TEXT,
    metadata_value TEXT,
    category TEXT,
    database_name TEXT,
    integration_version TEXT,
    validation_score REAL,
    enterprise_features TEXT,
    session_id TEXT,
    created_at TEXT,
    updated_at TEXT
)""",
    """CREATE TABLE IF NOT EXISTS integration_tracking (
    id INTEGER PRIMARY KEY,
    script_name TEXT,
    integration_status TEXT,
    access_count INTEGER,
    performance_score REAL,
    last_access TEXT
)""",
    f"""CREATE TABLE IF NOT EXISTS "{LOG_TABLE}" (
    id INTEGER PRIMARY KEY,
    operation TEXT NOT NULL,
    subject TEXT,
    status TEXT NOT NULL
        CHECK (status IN ('running', 'ok', 'failed', 'aborted', 'interrupted')),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    counts TEXT NOT NULL DEFAULT '{{}}' CHECK (json_valid(counts)),
    bytes INTEGER,
    size_after INTEGER,
    details TEXT NOT NULL DEFAULT '{{}}' CHECK (json_valid(details))
)""",
    f'CREATE INDEX IF NOT EXISTS "{LOG_TABLE}_started_at" ON "{LOG_TABLE}" (started_at)',
    # The ledger of migrated sources: enough to prove each source is accounted for
    # and to rebuild it exactly (schema, header fields, internal tables' rows).
    """CREATE TABLE IF NOT EXISTS migration_sources (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    original_path TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    schema_objects TEXT NOT NULL CHECK (json_valid(schema_objects)),
    internal_rows TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(internal_rows)),
    header TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(header)),
    status TEXT NOT NULL CHECK (status IN ('migrated', 'archived')),
    migrated_at TEXT NOT NULL,
    archived_path TEXT
)""",
    # One row per (source, table): where its rows went and how they were accounted.
    """CREATE TABLE IF NOT EXISTS migration_table_accounting (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES migration_sources (id) ON DELETE CASCADE,
    source_table TEXT NOT NULL,
    target_table TEXT NOT NULL,
    conflicts_table TEXT NOT NULL,
    key_columns TEXT NOT NULL CHECK (json_valid(key_columns)),
    columns TEXT NOT NULL CHECK (json_valid(columns)),
    row_identity TEXT NOT NULL CHECK (row_identity IN ('rowid', 'ordinal')),
    note TEXT,
    rows_read INTEGER NOT NULL,
    rows_stored INTEGER NOT NULL,
    duplicates_folded INTEGER NOT NULL,
    conflicts_kept INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    UNIQUE (source_id, source_table),
    CHECK (rows_read = rows_stored + duplicates_folded + conflicts_kept)
)""",
    # Provenance: every source row points at the row holding its values, in the merged
    # table or (``in_conflicts``) in the table's conflicts table, in shard ``shard``.
    """CREATE TABLE IF NOT EXISTS migration_row_links (
    table_id INTEGER NOT NULL REFERENCES migration_table_accounting (id) ON DELETE CASCADE,
    source_rowid INTEGER NOT NULL,
    shard INTEGER NOT NULL DEFAULT 1 CHECK (shard >= 1),
    target_rowid INTEGER NOT NULL,
    in_conflicts INTEGER NOT NULL CHECK (in_conflicts IN (0, 1)),
    PRIMARY KEY (table_id, source_rowid)
) WITHOUT ROWID""",
    """CREATE INDEX IF NOT EXISTS migration_row_links_target
    ON migration_row_links (target_rowid, shard, in_conflicts)""",
    """CREATE TABLE IF NOT EXISTS migration_conflicts (
    id INTEGER PRIMARY KEY,
    target_table TEXT NOT NULL,
    row_key TEXT NOT NULL CHECK (json_valid(row_key)),
    shown_source_id INTEGER REFERENCES migration_sources (id),
    kept_source_id INTEGER NOT NULL REFERENCES migration_sources (id) ON DELETE CASCADE,
    kept_table TEXT NOT NULL,
    kept_shard INTEGER NOT NULL DEFAULT 1,
    kept_rowid INTEGER NOT NULL,
    policy TEXT NOT NULL,
    recorded_at TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS shard_manifest (
    shard INTEGER PRIMARY KEY CHECK (shard >= 1),
    file_name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    bytes INTEGER
)""",
]

#: Every table the schema defines, for "is it complete?" checks.
EXPECTED_TABLES = frozenset(
    {
        "sqlar",
        BLOB_TABLE,
        *ASSET_TABLES.values(),
        "enterprise_metadata",
        "integration_tracking",
        LOG_TABLE,
        "migration_sources",
        "migration_table_accounting",
        "migration_row_links",
        "migration_conflicts",
        "shard_manifest",
    }
)


@dataclass(frozen=True)
class InitResult:
    """What ``initialize`` did: ``action`` is ``created``, ``repaired`` or ``unchanged``."""

    path: Path
    action: str
    size: int


def missing_tables(connection: sqlite3.Connection) -> list[str]:
    """Tables of the current schema version that the database lacks."""
    present = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    return sorted(EXPECTED_TABLES - present)


def _user_objects(connection: sqlite3.Connection) -> int:
    return connection.execute(
        "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    ).fetchone()[0]


def _classify_target(connection: sqlite3.Connection, path: Path) -> str:
    """``fresh``, ``current`` or raise: never initialize over somebody else's database."""
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if application_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise BadInput(
                f"{path}: schema version {version} is newer than this assetdb "
                f"understands ({SCHEMA_VERSION}); upgrade pytest-assetdb"
            )
        if version < 1:
            raise BadInput(f"{path}: assetdb database with invalid schema version {version}")
        return "current"
    if application_id == 0 and version == 0 and _user_objects(connection) == 0:
        return "fresh"
    raise BadInput(
        f"{path}: is another application's database ({_user_objects(connection)} schema "
        f"objects, application_id {application_id}); refusing to initialize over it"
    )


def begin_write(connection: sqlite3.Connection, path: Path) -> None:
    """Start a write transaction, translating a held lock into ``Aborted`` (exit 3)."""
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise Aborted(f"{path}: locked by another process; nothing was changed") from None
        raise BadInput(f"{path}: cannot write ({error})") from None


@contextmanager
def write_transaction(connection: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error."""
    begin_write(connection, path)
    try:
        yield connection
    except BaseException:
        if connection.in_transaction:  # SQLite may already have rolled back (a full disk, a full cap)
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def connect_for_write(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode: callers open their own explicit transactions.

    Opened by URI, so that sources can be ATTACHed by URI (read-only, immutable).
    """
    try:
        return sqlite3.connect(uri_for(path), uri=True, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None)
    except sqlite3.Error as error:
        raise BadInput(f"{path}: cannot open for writing ({error})") from None


def initialize(path: Path | str, limit: int) -> InitResult:
    """Create or complete the unified schema in ``path``; a no-op when it is complete.

    Refuses (``BadInput``) a file that is not SQLite or is another application's
    database, and rolls back (``Aborted``) if the result would exceed ``limit`` bytes.
    A new database is built under a temporary name and renamed into place, so a kill
    can never leave a half-made (or zero-byte) database under its real name.
    """
    path = Path(path)
    if path.exists():
        if path.is_dir():
            raise BadInput(f"{path}: is a directory, not a database file")
        try:
            read_header(path)
        except EmptyDatabase:
            pass  # SQLite treats a zero-byte file as an empty database: ours to fill.
        return _initialize_at(path, path, limit)
    if not path.parent.is_dir():
        raise BadInput(f"{path.parent}: no such directory")
    building = path.with_name(f".{path.name}.initializing")
    for leftover in (building, Path(f"{building}-journal")):
        leftover.unlink(missing_ok=True)  # an earlier run killed while building
    try:
        result = _initialize_at(building, path, limit)
        os.replace(building, path)
    finally:
        building.unlink(missing_ok=True)
    return result


def _initialize_at(file: Path, path: Path, limit: int) -> InitResult:
    """Initialize ``file``, naming ``path`` in messages and the log."""
    connection = connect_for_write(file)
    try:
        return _initialize(connection, path, limit)
    finally:
        connection.close()


def _initialize(connection: sqlite3.Connection, path: Path, limit: int) -> InitResult:
    with write_transaction(connection, path):
        try:
            state = _classify_target(connection, path)
        except sqlite3.DatabaseError as error:
            raise BadInput(f"{path}: not a usable SQLite database ({error})") from None
        missing = missing_tables(connection)
        if state == "current" and not missing:
            return InitResult(path, "unchanged", allocated_size(connection))
        for statement in SCHEMA_STATEMENTS:
            connection.execute(statement)
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        action = "created" if state == "fresh" else "repaired"
        Operation(
            "init",
            subject=path.name,
            counts={"tables_created": len(missing)},
            details={"action": action, "schema_version": SCHEMA_VERSION, "created": missing},
        ).record(connection, "ok")
        size = allocated_size(connection)
        if size > limit:
            raise Aborted(
                f"{path}: schema would make the file {format_size(size)} ({size} bytes), "
                f"over the cap of {format_size(limit)}; rolled back"
            )
        return InitResult(path, action, size)


@contextmanager
def writing(path: Path | str) -> Iterator[sqlite3.Connection]:
    """An assetdb database opened for one write transaction, and closed after it."""
    path = Path(path)
    connection = connect_assetdb(path)
    try:
        with write_transaction(connection, path):
            yield connection
    finally:
        connection.close()


def record_operation(database: Path | str, operation: Operation, status: str = "ok") -> int:
    """Log one finished operation in ``database`` (its own transaction)."""
    with writing(database) as connection:
        return operation.record(connection, status)


def connect_assetdb(path: Path | str) -> sqlite3.Connection:
    """Open an existing assetdb database for writing, refusing anything else."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such database (create it with: assetdb init {path})")
    read_header(path)
    connection = connect_for_write(path)
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as error:
        connection.close()
        raise BadInput(f"{path}: not a usable SQLite database ({error})") from None
    if application_id != APPLICATION_ID or not 1 <= version <= SCHEMA_VERSION:
        connection.close()
        raise BadInput(f"{path}: not an assetdb database (create one with: assetdb init PATH)")
    return connection
