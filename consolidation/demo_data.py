"""Deterministic demo legacy set: six small SQLite databases with a real repository's mess.

Why this exists: pytest-assetdb consolidates a repository's legacy SQLite databases, and a
new user needs something to run it on before pointing it at their own files. The
repository commits this module's output under ``databases/``, and ``assetdb demo`` builds
a fresh copy of it to run every phase on.

The set is modelled on the gh_COPILOT databases the product was written for:

* ``enterprise_metadata`` in four files and ``integration_tracking`` in three, with
  drifting schemas (a key/value variant and an AUTOINCREMENT variant, so
  ``sqlite_sequence`` exists; an extra ``last_error`` column in one ``integration_tracking``);
* ``regeneration_patterns`` shared by three files and ``regeneration_templates`` by two,
  whose rows overlap as identical duplicates (same key, same values) and as colliding keys
  (same key, different values), with a ``review_status`` column added in one file only;
* ``documentation.db``, whose ``documentation`` table holds the same content under several
  paths and backup copies (``docs/guide_backup.md``, ``README.md.bak``, ``backup/setup.md``,
  ``notes.md~``, ``docs/api_20250716_151622.md``);
* a templates database with ``${name}`` placeholders and a learning-patterns database;
* one file in WAL journal mode, ``sqlite_stat1`` from ANALYZE, an index and a view, NULLs,
  a BLOB column (NULL, empty and small binary values), REAL columns, mixed timestamp
  formats, and a table and columns whose names need quoting.

Everything derives from a fixed seed and fixed base dates, never from the clock, so the
committed set can be checked against the generator by logical content (schema and rows).
File bytes may still differ between SQLite versions, which is why the check is logical.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import sqlite3
import string
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .errors import BadInput
from .fingerprint import quote_identifier

SEED = 20250716
BASE_TIME = datetime(2025, 7, 1, 8, 0, 0)
PAGE_SIZE = 4096

WAL_DATABASE = "learning_monitor.db"
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")

Row = dict[str, Any]


def _insert_rows(conn: sqlite3.Connection, table: str, rows: Iterable[Row]) -> None:
    """Insert dict rows; every row of one call has the same columns, in the same order."""
    rows = list(rows)
    columns = list(rows[0])
    column_list = ", ".join(map(quote_identifier, columns))
    placeholders = ", ".join("?" * len(columns))
    conn.executemany(
        f"INSERT INTO {quote_identifier(table)} ({column_list}) VALUES ({placeholders})",
        [tuple(row[column] for column in columns) for row in rows],
    )


def _rng(topic: str) -> random.Random:
    """One generator per topic, so changing one table's data never reshuffles another's."""
    return random.Random(f"{SEED}:{topic}")


def _moment(rng: random.Random, *, within_days: int) -> datetime:
    return BASE_TIME + timedelta(
        seconds=rng.randrange(within_days * 86_400), microseconds=rng.randrange(1_000_000)
    )


# --- tables shared across files, with drifting schemas ------------------------------------

ENTERPRISE_METADATA_KEY_VALUE = """
CREATE TABLE "enterprise_metadata" (
    "id" INTEGER PRIMARY KEY,
    "metadata_key" TEXT,
    "metadata_value" TEXT,
    "category" TEXT,
    "created_at" TEXT
)"""

# The DEFAULT CURRENT_TIMESTAMP is legacy schema kept for realism: every insert here
# supplies the column, so the clock never reaches the data.
ENTERPRISE_METADATA_INTEGRATION = """
CREATE TABLE "enterprise_metadata" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT,
    "database_name" TEXT NOT NULL,
    "integration_version" TEXT NOT NULL,
    "last_enhancement" DATETIME DEFAULT CURRENT_TIMESTAMP,
    "validation_score" REAL DEFAULT 0.0,
    "enterprise_features" TEXT,
    "session_id" TEXT
)"""

INTEGRATION_TRACKING_COLUMNS = """
    "id" INTEGER PRIMARY KEY AUTOINCREMENT,
    "script_name" TEXT NOT NULL,
    "last_access" DATETIME DEFAULT CURRENT_TIMESTAMP,
    "access_count" INTEGER DEFAULT 1,
    "integration_status" TEXT DEFAULT 'ACTIVE',
    "performance_score" REAL DEFAULT 100.0"""
INTEGRATION_TRACKING = f'CREATE TABLE "integration_tracking" ({INTEGRATION_TRACKING_COLUMNS}\n)'
INTEGRATION_TRACKING_WITH_LAST_ERROR = (
    f'CREATE TABLE "integration_tracking" ({INTEGRATION_TRACKING_COLUMNS},\n    "last_error" TEXT\n)'
)

REGENERATION_PATTERNS_COLUMNS = """
    "pattern_id" TEXT PRIMARY KEY,
    "pattern_type" TEXT NOT NULL,
    "source_code" TEXT NOT NULL,
    "template_code" TEXT NOT NULL,
    "dependencies" TEXT,
    "complexity_score" REAL,
    "regeneration_confidence" REAL,
    "last_updated" TIMESTAMP,
    "usage_frequency" INTEGER,
    "success_rate" REAL,
    "metadata" TEXT"""
REGENERATION_PATTERNS = f'CREATE TABLE "regeneration_patterns" ({REGENERATION_PATTERNS_COLUMNS}\n)'
REGENERATION_PATTERNS_WITH_REVIEW = (
    f'CREATE TABLE "regeneration_patterns" ({REGENERATION_PATTERNS_COLUMNS},\n'
    '    "review_status" TEXT\n)'
)

REGENERATION_TEMPLATES = """
CREATE TABLE "regeneration_templates" (
    "template_id" TEXT PRIMARY KEY,
    "template_type" TEXT NOT NULL,
    "template_content" TEXT NOT NULL,
    "variables" TEXT,
    "created_at" TIMESTAMP,
    "updated_at" TIMESTAMP,
    "version" INTEGER DEFAULT 1
)"""

LEGACY_SCRIPTS = (
    "unified_database_initializer.py",
    "size_compliance_checker.py",
    "cross_database_sync_logger.py",
    "documentation_ingestor.py",
    "template_asset_ingestor.py",
    "unified_database_migration.py",
    "database_cleanup_utility.py",
    "autonomous_backup_manager.py",
    "session_integrity_validator.py",
    "template_placeholder_analyzer.py",
)

PATTERN_TYPES = (
    "database_query",
    "file_operation",
    "logging_setup",
    "validation",
    "template_placeholders",
    "error_handling",
)
PATTERN_VERBS = ("load", "save", "validate", "archive", "count", "refresh", "export", "prune")
PATTERN_ENTITIES = (
    "session", "template", "metric", "backup", "script", "pattern",
    "report", "archive", "placeholder", "snapshot", "ledger", "manifest",
)  # fmt: skip
PATTERN_POOL_SIZE = 120

# Which pool indexes each copy holds. The shared ranges overlap development.db's (and
# 60-69 overlap all three); the revised indexes are rows edited in that copy, so their
# keys collide with different content, while the other shared rows are identical.
DEVELOPMENT_PATTERNS = range(0, 80)
MONITORING_SHARED_PATTERNS = range(40, 70)
MONITORING_REVISED_PATTERNS = frozenset(range(43, 70, 8))
MONITORING_OWN_PATTERNS = range(80, 100)
ANALYTICS_SHARED_PATTERNS = range(60, 80)
ANALYTICS_REVISED_PATTERNS = frozenset({68, 78})
ANALYTICS_OWN_PATTERNS = range(100, 120)

TEMPLATE_POOL_SIZE = 30
DEVELOPMENT_TEMPLATES = range(0, 20)
MONITORING_TEMPLATES = range(10, 30)
MONITORING_REVISED_TEMPLATES = frozenset({12, 17})


def _regeneration_pattern_pool() -> list[Row]:
    """The patterns every copy of ``regeneration_patterns`` draws its rows from."""
    rng = _rng("regeneration_patterns")
    pool = []
    for index in range(PATTERN_POOL_SIZE):
        verb = PATTERN_VERBS[index % len(PATTERN_VERBS)]
        entity = PATTERN_ENTITIES[(index // len(PATTERN_VERBS)) % len(PATTERN_ENTITIES)]
        pattern_type = rng.choice(PATTERN_TYPES)
        template_code = (
            f"def {verb}_{{ENTITY}}s(conn, limit={{LIMIT}}):\n"
            f'    """{verb.capitalize()} {{ENTITY}} rows from {{TABLE_NAME}}."""\n'
            "    rows = conn.execute(\n"
            '        "SELECT * FROM {TABLE_NAME} ORDER BY id LIMIT ?", (limit,)\n'
            "    ).fetchall()\n"
            f'    logger.info("{verb} %d {{ENTITY}} rows", len(rows))\n'
            "    return rows\n"
        )
        limit = rng.choice((50, 100, 500, 1000))
        source_code = (
            template_code.replace("{ENTITY}", entity)
            .replace("{TABLE_NAME}", f"{entity}_records")
            .replace("{LIMIT}", str(limit))
        )
        dependency_roll = index % 5
        dependencies = (
            None
            if dependency_roll == 0
            else "[]"
            if dependency_roll == 1
            else json.dumps(["sqlite3", "logging"][: dependency_roll - 1])
        )
        pool.append(
            {
                "pattern_id": f"pattern_{index:04d}",
                "pattern_type": pattern_type,
                "source_code": source_code,
                "template_code": template_code,
                "dependencies": dependencies,
                "complexity_score": round(rng.uniform(0.1, 1.0), 3),
                "regeneration_confidence": round(rng.uniform(0.6, 1.0), 3),
                "last_updated": str(_moment(rng, within_days=10)),
                "usage_frequency": rng.randrange(1, 200),
                "success_rate": round(rng.uniform(0.7, 1.0), 3),
                "metadata": json.dumps(
                    {"table": f"{entity}_records", "source": "pattern_extractor", "revision": 1}
                ),
            }
        )
    return pool


def _revised_pattern(pattern: Row) -> Row:
    """The same pattern edited in another copy of the database: its key collides, its row does not."""
    return {
        **pattern,
        "last_updated": str(datetime.fromisoformat(pattern["last_updated"]) + timedelta(days=3)),
        "usage_frequency": pattern["usage_frequency"] + 11,
        "success_rate": round(min(1.0, pattern["success_rate"] + 0.05), 3),
        "metadata": json.dumps({**json.loads(pattern["metadata"]), "revision": 2}),
    }


def _pattern_copy(pool: list[Row], indexes: range, revised: frozenset[int] = frozenset()) -> list[Row]:
    return [_revised_pattern(pool[i]) if i in revised else pool[i] for i in indexes]


def _regeneration_template_pool() -> list[Row]:
    """The master templates both copies of ``regeneration_templates`` draw their rows from."""
    rng = _rng("regeneration_templates")
    source_tables = (
        "template_intelligence", "autonomous_file_management", "pattern_matching_engine",
        "file_regeneration_metadata", "regeneration_history",
    )  # fmt: skip
    pool = []
    for index in range(TEMPLATE_POOL_SIZE):
        table = source_tables[index % len(source_tables)]
        created = _moment(rng, within_days=6)
        variables = [f"{table.upper()}_{n}" for n in range(index % 4)]
        pattern_count = rng.randrange(20, 200)
        pool.append(
            {
                "template_id": f"master_{table}_{1751838650 + index}",
                "template_type": table,
                "template_content": (
                    f"\n# Master Template: {table}\n# Generated from {pattern_count} patterns\n"
                    f"# Variables: {', '.join(variables)}\n\n"
                    + "".join(f"{{{name}}} = None\n" for name in variables)
                ),
                "variables": json.dumps(variables),
                "created_at": str(created),
                "updated_at": str(created),
                "version": 1,
            }
        )
    return pool


def _revised_template(template: Row) -> Row:
    return {
        **template,
        "template_content": f"{template['template_content']}# Revised: placeholders re-extracted\n",
        "updated_at": str(datetime.fromisoformat(template["updated_at"]) + timedelta(days=9)),
        "version": 2,
    }


def _integration_tracking_rows(topic: str, count: int) -> list[Row]:
    rng = _rng(topic)
    return [
        {
            "script_name": rng.choice(LEGACY_SCRIPTS),
            "last_access": _moment(rng, within_days=20).isoformat(sep=" ", timespec="seconds"),
            "access_count": rng.randrange(1, 60),
            "integration_status": rng.choice(("ACTIVE", "ACTIVE", "ACTIVE", "DEPRECATED", "FAILED")),
            "performance_score": round(rng.uniform(40.0, 100.0), 2),
        }
        for _ in range(count)
    ]


def _create(conn: sqlite3.Connection, *statements: str) -> None:
    for statement in statements:
        conn.execute(statement)


# --- the databases -------------------------------------------------------------------------


def _build_development(conn: sqlite3.Connection) -> None:
    """The oldest copy: key/value metadata, the base pattern set, and the only sqlite_stat1."""
    _create(
        conn,
        ENTERPRISE_METADATA_KEY_VALUE,
        INTEGRATION_TRACKING,
        REGENERATION_PATTERNS,
        REGENERATION_TEMPLATES,
        'CREATE INDEX "idx_pattern_type" ON "regeneration_patterns" ("pattern_type")',
    )
    _insert_rows(conn, "enterprise_metadata", _development_metadata())
    _insert_rows(conn, "integration_tracking", _integration_tracking_rows("development", 30))
    _insert_rows(conn, "regeneration_patterns", _pattern_copy(_regeneration_pattern_pool(), DEVELOPMENT_PATTERNS))
    templates = _regeneration_template_pool()
    _insert_rows(conn, "regeneration_templates", [templates[i] for i in DEVELOPMENT_TEMPLATES])
    conn.execute("ANALYZE")


def _development_metadata() -> list[Row]:
    entries = (
        ("database_purpose", "Script regeneration patterns and templates", "description"),
        ("schema_version", "1.4", "schema"),
        ("owner", "platform-team", None),
        ("last_migration", "2025-07-06", "schema"),
        ("retention_days", "90", "policy"),
        ("environment", "development", "deployment"),
        ("backup_policy", "nightly", "policy"),
        ("compliance_level", "enterprise", None),
    )
    return [
        {
            "id": number,
            "metadata_key": key,
            "metadata_value": value,
            "category": category,
            "created_at": (BASE_TIME + timedelta(hours=number)).isoformat(),
        }
        for number, (key, value, category) in enumerate(entries, start=1)
    ]


def _build_monitoring(conn: sqlite3.Connection) -> None:
    """A later copy: integration metadata, drifted columns, edited shared rows, an index and a view."""
    _create(
        conn,
        ENTERPRISE_METADATA_INTEGRATION,
        INTEGRATION_TRACKING_WITH_LAST_ERROR,
        REGENERATION_PATTERNS_WITH_REVIEW,
        REGENERATION_TEMPLATES,
        """
CREATE TABLE "database_health_metrics" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT,
    "database_name" TEXT NOT NULL,
    "metric_name" TEXT NOT NULL,
    "metric_value" REAL,
    "status" TEXT,
    "checked_at" TEXT NOT NULL
)""",
        'CREATE INDEX "idx_health_database" ON "database_health_metrics" ("database_name", "checked_at")',
        """
CREATE VIEW "latest_health" AS
SELECT "database_name", "metric_name", "metric_value", MAX("checked_at") AS "checked_at"
FROM "database_health_metrics"
GROUP BY "database_name", "metric_name"
""",
    )
    _insert_rows(
        conn,
        "enterprise_metadata",
        [
            {
                "database_name": "monitoring.db",
                "integration_version": "2.0",
                "last_enhancement": "2025-07-17 08:16:06",
                "validation_score": 77.5,
                "enterprise_features": None,
                "session_id": "DB-INT-20250717-031602",
            },
            {
                "database_name": "monitoring.db",
                "integration_version": "2.1",
                "last_enhancement": "2025-07-18 10:02:44",
                "validation_score": 81.25,
                "enterprise_features": json.dumps(["size_checks", "sync_logging"]),
                "session_id": "DB-INT-20250718-050244",
            },
        ],
    )
    error_rng = _rng("monitoring:last_error")
    _insert_rows(
        conn,
        "integration_tracking",
        [
            {**row, "last_error": error_rng.choice((None, None, None, "database is locked"))}
            for row in _integration_tracking_rows("monitoring", 25)
        ],
    )
    pool = _regeneration_pattern_pool()
    shared = _pattern_copy(pool, MONITORING_SHARED_PATTERNS, MONITORING_REVISED_PATTERNS)
    own = [
        {**row, "review_status": "approved" if i % 3 else "pending"}
        for i, row in enumerate(_pattern_copy(pool, MONITORING_OWN_PATTERNS))
    ]
    _insert_rows(conn, "regeneration_patterns", [{**row, "review_status": None} for row in shared] + own)
    templates = _regeneration_template_pool()
    _insert_rows(
        conn,
        "regeneration_templates",
        [
            _revised_template(templates[i]) if i in MONITORING_REVISED_TEMPLATES else templates[i]
            for i in MONITORING_TEMPLATES
        ],
    )
    _insert_rows(conn, "database_health_metrics", _health_metrics())


# metric -> (low, high) of the values a health check records.
HEALTH_METRIC_RANGES = {
    "size_mb": (0.02, 0.2),
    "fragmentation_pct": (0.0, 35.0),
    "integrity_ok": (1.0, 1.0),
    "row_count": (10.0, 300.0),
}


def _health_metrics() -> list[Row]:
    """Three days of checks; a failed check recorded no value (NULL)."""
    rng = _rng("database_health_metrics")
    rows = []
    for day in range(3):
        for database in DEMO_DATABASES:
            for metric, (low, high) in HEALTH_METRIC_RANGES.items():
                failed = rng.random() < 0.08
                rows.append(
                    {
                        "database_name": database,
                        "metric_name": metric,
                        "metric_value": None if failed else round(rng.uniform(low, high), 3),
                        "status": "ERROR" if failed else "OK",
                        "checked_at": (BASE_TIME + timedelta(days=day, minutes=rng.randrange(60))).isoformat(),
                    }
                )
    return rows


def _build_analytics_collector(conn: sqlite3.Connection) -> None:
    """A third copy of the shared patterns, overlapping both other copies, plus analytics rows."""
    _create(
        conn,
        ENTERPRISE_METADATA_INTEGRATION,
        INTEGRATION_TRACKING,
        REGENERATION_PATTERNS,
        """
CREATE TABLE "analytics_data_points" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT,
    "timestamp" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "category" TEXT NOT NULL,
    "metric_name" TEXT NOT NULL,
    "metric_value" TEXT,
    "quality_score" REAL NOT NULL,
    "session_id" TEXT
)""",
    )
    _insert_rows(
        conn,
        "enterprise_metadata",
        [
            {
                "database_name": "analytics_collector.db",
                "integration_version": "2.0",
                "last_enhancement": "2025-07-17 08:16:09",
                "validation_score": 64.0,
                "enterprise_features": json.dumps(["dashboards"]),
                "session_id": "DB-INT-20250717-031602",
            }
        ],
    )
    _insert_rows(conn, "integration_tracking", _integration_tracking_rows("analytics_collector", 15))
    pool = _regeneration_pattern_pool()
    _insert_rows(
        conn,
        "regeneration_patterns",
        _pattern_copy(pool, ANALYTICS_SHARED_PATTERNS, ANALYTICS_REVISED_PATTERNS)
        + _pattern_copy(pool, ANALYTICS_OWN_PATTERNS),
    )
    _insert_rows(conn, "analytics_data_points", _analytics_data_points())


def _analytics_data_points() -> list[Row]:
    rng = _rng("analytics_data_points")
    metrics = {
        "performance": ("query_ms", "sync_seconds"),
        "storage": ("database_bytes", "wal_bytes"),
        "quality": ("lint_errors", "test_failures"),
    }
    rows = []
    for _ in range(120):
        category = rng.choice(sorted(metrics))
        rows.append(
            {
                "timestamp": _moment(rng, within_days=14).replace(tzinfo=timezone.utc).isoformat(),
                "source": rng.choice(("ci", "workstation", "scheduler")),
                "category": category,
                "metric_name": rng.choice(metrics[category]),
                "metric_value": None if rng.random() < 0.05 else str(round(rng.uniform(0, 5000), 2)),
                "quality_score": round(rng.uniform(0.5, 1.0), 4),
                "session_id": f"ANALYTICS_{BASE_TIME:%Y%m%d}_{rng.randrange(4)}",
            }
        )
    return rows


DOC_SENTENCES = (
    "Every database in the repository must stay under the 99.9 MB cap enforced by Git hosting.",
    "Run the size checker before committing any change under databases/.",
    "The consolidated database is the single source from which scripts are regenerated.",
    "Backups are taken with the SQLite online backup API and verified with integrity_check.",
    "Templates use placeholders that are filled in from the placeholder defaults table.",
    "Sync operations are logged with their counts, bytes and the size after the step.",
    "Legacy scripts read enterprise_metadata to decide which integration version applies.",
    "Keep documentation in Markdown so that it can be ingested and regenerated unchanged.",
    "A failed check prints what is wrong and which command fixes it.",
    "Archived databases can be rebuilt from the consolidated set with the same rowids.",
    "Open databases read-only when inspecting them, or WAL files appear beside them.",
    "The migration resumes after an interruption without duplicating rows.",
    "Use the inventory command to see every database, its size and its row counts.",
    "Duplicate documentation entries are removed after their content has been recorded.",
)

# path -> title; a None title is a legacy entry that never had one.
DOC_TOPICS: dict[str, str | None] = {
    "README.md": "Legacy workspace",
    "docs/setup.md": "Setup",
    "docs/guide.md": "User guide",
    "docs/api.md": "API reference",
    "notes.md": "Working notes",
    "docs/architecture.md": "Architecture",
    "docs/database_list.md": "Database list",
    "docs/size_compliance.md": "Size compliance",
    "docs/backups.md": "Backups and restore",
    "docs/sync.md": "Workspace sync",
    "docs/templates.md": "Templates",
    "docs/patterns.md": "Learned patterns",
    "docs/faq.md": None,
    "docs/changelog.md": "Changelog",
    "docs/troubleshooting.md": "Troubleshooting",
    "docs/ci.md": "Continuous integration",
    "docs/glossary.md": None,
    "CONTRIBUTING.md": "Contributing",
    **{f"docs/scripts/{script.removesuffix('.py')}.md": script for script in LEGACY_SCRIPTS},
}

# Entries that repeat another path's content: (path, original path, how the content relates).
IDENTICAL = "identical"
OLDER = "older"
EDITED = "edited"
DOC_COPIES = (
    ("docs/README.md", "README.md", IDENTICAL),
    ("guides/setup.md", "docs/setup.md", IDENTICAL),
    ("design/architecture.md", "docs/architecture.md", IDENTICAL),
    ("docs/guide_backup.md", "docs/guide.md", IDENTICAL),
    ("backup/setup.md", "docs/setup.md", IDENTICAL),
    ("README.md.bak", "README.md", OLDER),
    ("docs/api_20250716_151622.md", "docs/api.md", OLDER),
    ("notes.md~", "notes.md", EDITED),
)


def _build_documentation(conn: sqlite3.Connection) -> None:
    """Legacy documentation with the same content under several paths and backup copies."""
    _create(
        conn,
        """
CREATE TABLE "documentation" (
    "id" INTEGER PRIMARY KEY,
    "path" TEXT,
    "title" TEXT,
    "content" TEXT,
    "updated_at" TEXT
)""",
    )
    rng = _rng("documentation")
    originals: dict[str, Row] = {}
    for path, title in DOC_TOPICS.items():
        paragraphs = [" ".join(rng.sample(DOC_SENTENCES, rng.randrange(2, 5))) for _ in range(rng.randrange(2, 5))]
        heading = title or path.rsplit("/", 1)[-1].removesuffix(".md").replace("_", " ").title()
        originals[path] = {
            "path": path,
            "title": title,
            "content": f"# {heading}\n\n" + "\n\n".join(paragraphs) + "\n",
            "updated_at": str(_moment(rng, within_days=15)),
        }
    copies = []
    for path, original_path, relation in DOC_COPIES:
        original = originals[original_path]
        content = original["content"]
        updated_at = datetime.fromisoformat(original["updated_at"])
        if relation == OLDER:
            content = content.rsplit("\n\n", 1)[0] + "\n"
            updated_at -= timedelta(days=4)
        elif relation == EDITED:
            content += "\nTODO: move these notes into the guide.\n"
            updated_at += timedelta(minutes=7)
        copies.append(
            {
                "path": path,
                "title": None if relation == EDITED else original["title"],
                "content": content,
                "updated_at": str(updated_at),
            }
        )
    _insert_rows(
        conn,
        "documentation",
        [{"id": number, **entry} for number, entry in enumerate([*originals.values(), *copies], start=1)],
    )


LEARNED_PATTERN_KINDS = ("naming", "import_order", "sql_query", "error_handling", "docstring")


def _build_learning_monitor(conn: sqlite3.Connection) -> None:
    """Learned patterns with binary fingerprints; the set's WAL-mode file."""
    _create(
        conn,
        ENTERPRISE_METADATA_KEY_VALUE,
        """
CREATE TABLE "learned_patterns" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT,
    "pattern_name" TEXT NOT NULL,
    "pattern_kind" TEXT,
    "pattern_body" TEXT,
    "confidence" REAL,
    "fingerprint" BLOB,
    "learned_at" TEXT
)""",
    )
    development = {row["id"]: row for row in _development_metadata()}
    _insert_rows(
        conn,
        "enterprise_metadata",
        [
            {**development[1], "metadata_value": "Learned code patterns and their confidence"},
            development[2],
            development[3],
            {**development[4], "metadata_key": "environment", "metadata_value": "learning", "category": None},
        ],
    )
    rng = _rng("learned_patterns")
    rows = []
    for number in range(80):
        kind = rng.choice(LEARNED_PATTERN_KINDS)
        entity = rng.choice(PATTERN_ENTITIES)
        if number == 40:
            fingerprint: bytes | None = b""
        elif number % 16 == 0:
            fingerprint = rng.randbytes(8 + number % 9)
        else:
            fingerprint = None
        rows.append(
            {
                "pattern_name": f"{kind}:{entity}",
                "pattern_kind": None if number % 23 == 5 else kind,
                "pattern_body": f"^(?:get|load|save)_{entity}s?\\(conn(?:, \\w+)*\\)$",
                "confidence": round(rng.uniform(0.2, 1.0), 4),
                "fingerprint": fingerprint,
                "learned_at": _moment(rng, within_days=12).isoformat(timespec="milliseconds"),
            }
        )
    _insert_rows(conn, "learned_patterns", rows)


TEMPLATE_SKELETONS = {
    "python_script": (
        "#!/usr/bin/env python3\n"
        '"""${script_title}\n\n${description}\n"""\n'
        "import sqlite3\n\n"
        'DATABASE = "${database_name}"\n\n\n'
        "def main() -> None:\n"
        "    with sqlite3.connect(DATABASE) as conn:\n"
        '        count = conn.execute("SELECT COUNT(*) FROM ${table_name}").fetchone()[0]\n'
        '    print(f"${table_name}: {count} rows")\n\n\n'
        'if __name__ == "__main__":\n'
        "    main()\n"
    ),
    "shell_script": (
        "#!/bin/sh\n# ${script_title}\nset -eu\n\n"
        'sqlite3 "${database_name}" "PRAGMA integrity_check;"\n'
        'cp "${database_name}" "${backup_dir}/"\n'
    ),
    "readme": (
        "# ${project_title}\n\n${description}\n\n## Usage\n\n"
        "```sh\nassetdb inventory ${database_dir}\n```\n\nMaintained by ${owner}.\n"
    ),
    "sql_query": "SELECT ${columns}\nFROM ${table_name}\nWHERE ${condition}\nORDER BY ${order_column};\n",
    "config": (
        "[tool.assetdb]\nsize_limit = \"${size_limit}\"\n"
        'database_dir = "${database_dir}"\nbackup_dir = "${backup_dir}"\n'
    ),
    "pytest_test": (
        "import sqlite3\n\n\n"
        "def test_${table_name}_is_not_empty():\n"
        '    conn = sqlite3.connect("${database_name}")\n'
        '    assert conn.execute("SELECT COUNT(*) FROM ${table_name}").fetchone()[0] > 0\n'
    ),
}

# Later variants of a skeleton end with a comment in the template's own syntax.
TEMPLATE_VARIANT_TRAILERS = {
    "python_script": "# variant {variant}, maintained by ${{owner}}\n",
    "shell_script": "# variant {variant}, maintained by ${{owner}}\n",
    "readme": "<!-- variant {variant} -->\n",
    "sql_query": "-- variant {variant}, maintained by ${{owner}}\n",
    "config": "# variant {variant}, maintained by ${{owner}}\n",
    "pytest_test": "# variant {variant}, maintained by ${{owner}}\n",
}

PLACEHOLDER_DEFAULTS = {
    "backup_dir": ("../assetdb-backups", "paths"),
    "columns": ("*", "sql"),
    "condition": ("1 = 1", "sql"),
    "database_dir": ("databases/", "paths"),
    "database_name": ("enterprise_assets.db", "paths"),
    "description": (None, "text"),
    "order_column": ("id", "sql"),
    "owner": ("platform-team", "text"),
    "project_title": (None, "text"),
    "script_title": (None, "text"),
    "size_limit": ("99.9MB", "config"),
    "table_name": ("script_assets", "sql"),
}


def _build_template_completion(conn: sqlite3.Connection) -> None:
    """``${name}`` templates and their defaults, in a table and columns that need quoting."""
    _create(
        conn,
        """
CREATE TABLE "templates" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT,
    "template_id" TEXT UNIQUE,
    "name" TEXT,
    "template_content" TEXT,
    "placeholder_count" INTEGER DEFAULT 0,
    "usage_count" INTEGER DEFAULT 0,
    "completion_status" TEXT DEFAULT 'pending',
    "expansion_level" TEXT DEFAULT 'basic',
    "last_updated" TEXT,
    "created_at" TEXT DEFAULT CURRENT_TIMESTAMP
)""",
        """
CREATE TABLE "placeholder defaults" (
    "placeholder name" TEXT PRIMARY KEY,
    "default value" TEXT,
    "group" TEXT
)""",
    )
    rng = _rng("templates")
    rows = []
    for variant in range(4):
        for kind, skeleton in TEMPLATE_SKELETONS.items():
            content = skeleton + (TEMPLATE_VARIANT_TRAILERS[kind].format(variant=variant + 1) if variant else "")
            created = _moment(rng, within_days=8)
            complete = rng.random() < 0.7
            rows.append(
                {
                    "template_id": f"tmpl_{len(rows) + 1:03d}",
                    "name": f"{kind.replace('_', ' ').title()} Template" + (f" v{variant + 1}" if variant else ""),
                    "template_content": content,
                    "placeholder_count": len(set(string.Template(content).get_identifiers())),
                    "usage_count": rng.randrange(0, 40),
                    "completion_status": "complete" if complete else "pending",
                    "expansion_level": rng.choice(("basic", "basic", "advanced")),
                    "last_updated": created.isoformat() if complete else None,
                    "created_at": created.isoformat(sep=" ", timespec="seconds"),
                }
            )
    _insert_rows(conn, "templates", rows)
    _insert_rows(
        conn,
        "placeholder defaults",
        [
            {"placeholder name": name, "default value": default, "group": group}
            for name, (default, group) in PLACEHOLDER_DEFAULTS.items()
        ],
    )


DATABASE_BUILDERS: dict[str, Callable[[sqlite3.Connection], None]] = {
    "analytics_collector.db": _build_analytics_collector,
    "development.db": _build_development,
    "documentation.db": _build_documentation,
    WAL_DATABASE: _build_learning_monitor,
    "monitoring.db": _build_monitoring,
    "template_completion.db": _build_template_completion,
}
DEMO_DATABASES: tuple[str, ...] = tuple(sorted(DATABASE_BUILDERS))


# --- writing -------------------------------------------------------------------------------


def build_legacy_set(directory: Path) -> list[Path]:
    """Write the demo legacy databases into `directory` (created if missing) and return their paths, sorted.

    Refuses with BadInput, before writing anything, when a target or a journal
    beside it already exists: the set is never overwritten, and a stray ``-wal`` next to
    a fresh file would be replayed into it on first open.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    targets = [directory / name for name in DEMO_DATABASES]
    for target in targets:
        for candidate in (target, *_sidecars(target)):
            if os.path.lexists(candidate):
                raise BadInput(
                    f"{candidate}: already exists; the demo set is only written into a clean directory"
                )
    for target in targets:
        _write_atomically(target, DATABASE_BUILDERS[target.name], wal=target.name == WAL_DATABASE)
    return targets


def _sidecars(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in SIDECAR_SUFFIXES]


def _write_atomically(target: Path, build: Callable[[sqlite3.Connection], None], *, wal: bool) -> None:
    """Build under a temporary name beside `target`, then rename: `target` is complete or absent."""
    temporary = _create_temporary_beside(target)
    try:
        _populate(temporary, build, wal=wal)
        if wal:
            _check_closed_wal_database(temporary)
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    except BaseException:
        for leftover in (temporary, *_sidecars(temporary)):
            leftover.unlink(missing_ok=True)
        raise


def _create_temporary_beside(target: Path) -> Path:
    """An empty new file next to `target`, created like any other file (umask applies, unlike mkstemp's 0600)."""
    while True:
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate


def _populate(path: Path, build: Callable[[sqlite3.Connection], None], *, wal: bool) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # page_size must be set before the first table, and before WAL mode fixes it.
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        if wal:
            (journal_mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if journal_mode != "wal":
                raise RuntimeError(f"{path}: SQLite refused WAL mode (got {journal_mode!r})")
        conn.execute("BEGIN")
        build(conn)
        conn.execute("COMMIT")
        conn.execute("VACUUM")
        if wal:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _check_closed_wal_database(path: Path) -> None:
    """A WAL file must reach its final name with no -wal/-shm beside it and WAL in its header."""
    leftovers = [sidecar.name for sidecar in _sidecars(path) if sidecar.exists()]
    if leftovers:
        raise RuntimeError(f"{path}: closing did not checkpoint and remove {', '.join(leftovers)}")
    with path.open("rb") as database:
        header = database.read(20)
    if header[18:20] != b"\x02\x02":
        raise RuntimeError(f"{path}: header read/write versions are {tuple(header[18:20])}, expected WAL (2, 2)")


#: A small workspace of the kinds of files the legacy project kept: scripts, docs,
#: templates with ${placeholders}, learned patterns.
DEMO_WORKSPACE = {
    "README.md": "# Legacy workspace\n\nScripts, docs, templates and patterns that `assetdb` consolidates.\n",
    "docs/setup.md": "# Setup\n\nRun `make demo`.\n",
    "scripts/size_compliance_checker.py": "import sys\n\nprint('checking sizes', sys.argv[1:])\n",
    "scripts/cross_database_sync_logger.py": "def log(operation):\n    print('sync', operation)\n",
    "templates/script.py.tmpl": "#!/usr/bin/env python3\n# ${description}\nprint('${greeting}, ${name}')\n",
    "patterns/retry.pattern": "retry ${times} times with exponential backoff\n",
}


def build_demo_workspace(directory: Path) -> list[Path]:
    """Write the demo workspace into ``directory`` (refusing to overwrite), deterministically."""
    directory = Path(directory)
    paths = []
    for relative, text in sorted(DEMO_WORKSPACE.items()):
        path = directory / relative
        if path.exists():
            raise BadInput(f"{path}: already exists; the demo workspace is only written into a clean directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        os.utime(path, (BASE_TIME.timestamp(), BASE_TIME.timestamp()))
        paths.append(path)
    return paths
