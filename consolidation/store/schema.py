"""The unified schema of ``enterprise_assets.db`` and its idempotent initializer.

Design:

* The four per-kind tables (``script_assets``, ``documentation_assets``,
  ``template_assets``, ``pattern_assets``) hold one row per path *version*: SHA-256,
  size, mode, mtime, timestamps, and the shard whose ``sqlar``/``asset_blobs`` holds its
  bytes, so history is kept and assets can grow past one file's cap.
* The bytes of every *current* asset live in a real ``sqlar`` table, the SQLite Archive
  format, so the stock shell restores the workspace with ``sqlite3 DB -Ax`` and no
  Python. It must be a table: the shell checks for it with
  ``sqlite3_table_column_metadata``, which rejects views.
* Bytes of superseded and deleted versions live once per SHA-256 in ``asset_blobs``.
  Both stores follow the archive's compression rule: zlib only when smaller, and
  ``length(data) < size`` means compressed.
* ``enterprise_metadata`` and ``integration_tracking`` are the unified homes of the
  legacy tables of those names; ``cross_database_sync_operations`` is the operation log.
* Ledger tables record migrated sources and their fingerprints, per-table accounting,
  key conflicts and the shard manifest: what proves nothing was lost, every source
  rebuilds, and every file stays under the cap.

The file is marked with ``PRAGMA application_id`` (so an assetdb database is recognised
without guessing from table names) and versioned with ``PRAGMA user_version``.
"""

from __future__ import annotations

import sqlite3

from .oplog import LOG_TABLE
from .provenance import MAX_SPAN

#: ``PRAGMA application_id`` of an assetdb database: the ASCII bytes ``ASDB``.
APPLICATION_ID = 0x41534442
SCHEMA_VERSION = 4

#: The oldest version read and written as it is. Version 4 only lets a link to kept
#: conflicting versions cover a run of them, which a version-3 file (whose CHECK forbids
#: it) never holds: such a file keeps one link per version kept until ``assetdb init``
#: upgrades it.
COMPATIBLE_SINCE = 3
KEPT_RUNS_SINCE = 4

#: Asset kind -> table. Templates and patterns also track usage.
ASSET_TABLES = {
    "script": "script_assets",
    "documentation": "documentation_assets",
    "template": "template_assets",
    "pattern": "pattern_assets",
}
USAGE_TRACKING_KINDS = ("template", "pattern")

BLOB_TABLE = "asset_blobs"
SET_FILES_TABLE = "database_set_files"


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

#: ``row_key`` is always written by ``json_array`` (see ``merge.plan.key_json``), so it has
#: no ``json_valid`` CHECK: that would parse every key again as it is written, which cost
#: a third of the time of listing a conflict (files of earlier versions keep theirs).
CONFLICT_ENTRIES = """CREATE TABLE IF NOT EXISTS migration_conflict_entries (
    id INTEGER PRIMARY KEY,
    kept_table_id INTEGER NOT NULL REFERENCES migration_table_accounting (id) ON DELETE CASCADE,
    row_key TEXT NOT NULL,
    shown_source_id INTEGER REFERENCES migration_sources (id),
    kept_shard INTEGER NOT NULL DEFAULT 1,
    kept_rowid INTEGER NOT NULL,
    policy TEXT NOT NULL
)"""

#: The conflicts list as people read it, every name spelled out.
CONFLICTS_VIEW = """CREATE VIEW IF NOT EXISTS migration_conflicts AS
SELECT e.id AS id, a.target_table AS target_table, e.row_key AS row_key, e.shown_source_id AS shown_source_id,
       a.source_id AS kept_source_id, a.conflicts_table AS kept_table, e.kept_shard AS kept_shard,
       e.kept_rowid AS kept_rowid, e.policy AS policy, s.migrated_at AS recorded_at
FROM migration_conflict_entries AS e
JOIN migration_table_accounting AS a ON a.id = e.kept_table_id
JOIN migration_sources AS s ON s.id = a.source_id"""

#: Conflicts-list entries by key: when an incoming version takes a key over, the entries
#: of that key's other kept versions are found by it, not by reading the whole list. Only
#: a displacement looks entries up by key, so the index is made by the first one (see
#: ``merge.displacement``), not kept up by every conflict listed in a set that has none.
ENTRIES_KEY_INDEX = """CREATE INDEX IF NOT EXISTS migration_conflict_entries_key
    ON migration_conflict_entries (row_key)"""

#: Spans by where they start in their shard: the span holding a merged row is the one
#: starting nearest at or below its rowid (spans of one table never overlap), so "whose
#: row is this?" is an index seek, not a scan.
SPAN_INDEX = [
    """CREATE INDEX IF NOT EXISTS migration_row_spans
    ON migration_row_links (shard, target_rowid) WHERE span > 1 AND in_conflicts = 0""",
]

#: Provenance: every source row points at the row holding its values, in the merged table
#: or (``in_conflicts``) in the table's conflicts table, in shard ``shard``. A link of
#: ``span`` n covers n source rows with consecutive identities, stored at n consecutive
#: rowids from ``target_rowid``: rows copied as they are, and the losing versions a chunk
#: keeps (numbered in a row), cost one link per run, not one per row. A table's links never
#: overlap in source identity.
ROW_LINKS = """CREATE TABLE IF NOT EXISTS {name} (
    table_id INTEGER NOT NULL REFERENCES migration_table_accounting (id) ON DELETE CASCADE,
    source_rowid INTEGER NOT NULL,
    shard INTEGER NOT NULL DEFAULT 1 CHECK (shard >= 1),
    target_rowid INTEGER NOT NULL,
    in_conflicts INTEGER NOT NULL CHECK (in_conflicts IN (0, 1)),
    span INTEGER NOT NULL DEFAULT 1 CHECK (span >= 1),
    PRIMARY KEY (table_id, source_rowid)
) WITHOUT ROWID"""

#: Each version's changes to a file of the version before, in place, by the table they
#: change (a file without that table gets it whole from the schema): version 2 gives the
#: links their span (an existing link covers one row), and keeps the conflicts list as
#: entries that name their source table instead of spelling out its names and dates;
#: version 3 cuts spans longer than MAX_SPAN into pieces, so lookups may stop there, and
#: indexes the conflicts list by key; version 4 lets a link to kept versions cover a run
#: (the links are copied into a table without the CHECK that forbade it, and the span
#: index, made again after, leaves those runs out: it answers "whose merged row is this?").
UPGRADES: dict[int, list[tuple[str, list[str]]]] = {
    2: [
        ("migration_row_links", [
            "ALTER TABLE migration_row_links ADD COLUMN span INTEGER NOT NULL DEFAULT 1 "
            "CHECK (span >= 1 AND (span = 1 OR in_conflicts = 0))",  # as version 2 made it
            *SPAN_INDEX,
        ]),
        ("migration_conflicts", [
            CONFLICT_ENTRIES,
            "INSERT INTO migration_conflict_entries (id, kept_table_id, row_key, shown_source_id, kept_shard, "
            "kept_rowid, policy) SELECT c.id, (SELECT min(a.id) FROM migration_table_accounting AS a "
            "WHERE a.source_id = c.kept_source_id AND a.target_table = c.target_table), c.row_key, "
            "c.shown_source_id, c.kept_shard, c.kept_rowid, c.policy FROM migration_conflicts AS c",
            "DROP TABLE migration_conflicts",
            CONFLICTS_VIEW,
        ]),
    ],
    3: [
        ("migration_row_links", [
            "WITH RECURSIVE piece(table_id, source_rowid, shard, target_rowid, span, k) AS ("
            "SELECT table_id, source_rowid, shard, target_rowid, span, 1 FROM migration_row_links "
            f"WHERE span > {MAX_SPAN} UNION ALL SELECT table_id, source_rowid, shard, target_rowid, span, k + 1 "
            f"FROM piece WHERE (k + 1) * {MAX_SPAN} < span) "
            "INSERT INTO migration_row_links (table_id, source_rowid, shard, target_rowid, in_conflicts, span) "
            f"SELECT table_id, source_rowid + k * {MAX_SPAN}, shard, target_rowid + k * {MAX_SPAN}, 0, "
            f"min({MAX_SPAN}, span - k * {MAX_SPAN}) FROM piece",
            f"UPDATE migration_row_links SET span = {MAX_SPAN} WHERE span > {MAX_SPAN}",
        ]),
        ("migration_conflict_entries", [ENTRIES_KEY_INDEX]),
    ],
    4: [
        ("migration_row_links", [  # SQLite cannot change a CHECK: the table is copied anew
            ROW_LINKS.format(name="migration_row_links_v4"),
            "INSERT INTO migration_row_links_v4 (table_id, source_rowid, shard, target_rowid, in_conflicts, span) "
            "SELECT table_id, source_rowid, shard, target_rowid, in_conflicts, span FROM migration_row_links",
            "DROP TABLE migration_row_links",
            "ALTER TABLE migration_row_links_v4 RENAME TO migration_row_links",
        ]),
    ],
}

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
    ROW_LINKS.format(name="migration_row_links"),
    """CREATE INDEX IF NOT EXISTS migration_row_links_target
    ON migration_row_links (target_rowid, shard, in_conflicts)""",
    *SPAN_INDEX,
    # One entry per version kept as the losing side of a key conflict: which source table
    # it came from (so its source, target and conflicts table, and when, are the ledger's
    # already), its key, the source whose version is shown, and where the kept row is.
    CONFLICT_ENTRIES,
    CONFLICTS_VIEW,
    """CREATE TABLE IF NOT EXISTS shard_manifest (
    shard INTEGER PRIMARY KEY CHECK (shard >= 1),
    file_name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    bytes INTEGER
)""",
    # Files the database set knows of that are not sources: legacy files left out (with
    # what they are and why) and the database list it keeps. Paths are relative to the
    # primary's folder, so they mean the same in every clone.
    f"""CREATE TABLE IF NOT EXISTS "{SET_FILES_TABLE}" (
    path TEXT PRIMARY KEY CHECK (path <> '' AND substr(path, 1, 1) <> '/'),
    role TEXT NOT NULL CHECK (role IN ('skipped', 'database-list')),
    status TEXT,
    reason TEXT,
    recorded_at TEXT NOT NULL
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
        "migration_conflict_entries",
        "shard_manifest",
        SET_FILES_TABLE,
    }
)


#: Every view the schema defines.
EXPECTED_VIEWS = frozenset({"migration_conflicts"})


def missing_tables(connection: sqlite3.Connection) -> list[str]:
    """Tables (and views) of the current schema version that the database lacks."""
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    views = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema WHERE type = 'view'")}
    return sorted((EXPECTED_TABLES - tables) | (EXPECTED_VIEWS - views))


