"""The demo set's shared pieces: seeded randomness, table schemas and row pools.

Tables that several demo databases share (``enterprise_metadata``,
``integration_tracking``, ``regeneration_patterns``, ``regeneration_templates``) are
defined here with their drifting variants, and their rows are drawn from pools, so the
overlaps between files (identical duplicates, colliding keys) are deliberate.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from ..sqlite import quote_identifier

SEED = 20250716


BASE_TIME = datetime(2025, 7, 1, 8, 0, 0)


PAGE_SIZE = 4096
#: The demo databases by file name (each has a builder in legacy.DATABASE_BUILDERS).
DEMO_DATABASES = (
    "analytics_collector.db",
    "development.db",
    "documentation.db",
    "learning_monitor.db",
    "monitoring.db",
    "template_completion.db",
)


Row = dict[str, Any]


def insert_rows(conn: sqlite3.Connection, table: str, rows: Iterable[Row]) -> None:
    """Insert dict rows; every row of one call has the same columns, in the same order."""
    rows = list(rows)
    columns = list(rows[0])
    column_list = ", ".join(map(quote_identifier, columns))
    placeholders = ", ".join("?" * len(columns))
    conn.executemany(
        f"INSERT INTO {quote_identifier(table)} ({column_list}) VALUES ({placeholders})",
        [tuple(row[column] for column in columns) for row in rows],
    )


def seeded_random(topic: str) -> random.Random:
    """One generator per topic, so changing one table's data never reshuffles another's."""
    return random.Random(f"{SEED}:{topic}")


def random_moment(rng: random.Random, *, within_days: int) -> datetime:
    return BASE_TIME + timedelta(
        seconds=rng.randrange(within_days * 86_400), microseconds=rng.randrange(1_000_000)
    )


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


def regeneration_pattern_pool() -> list[Row]:
    """The patterns every copy of ``regeneration_patterns`` draws its rows from."""
    rng = seeded_random("regeneration_patterns")
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
                "last_updated": str(random_moment(rng, within_days=10)),
                "usage_frequency": rng.randrange(1, 200),
                "success_rate": round(rng.uniform(0.7, 1.0), 3),
                "metadata": json.dumps(
                    {"table": f"{entity}_records", "source": "pattern_extractor", "revision": 1}
                ),
            }
        )
    return pool


def revised_pattern(pattern: Row) -> Row:
    """The same pattern edited in another copy of the database: its key collides, its row does not."""
    return {
        **pattern,
        "last_updated": str(datetime.fromisoformat(pattern["last_updated"]) + timedelta(days=3)),
        "usage_frequency": pattern["usage_frequency"] + 11,
        "success_rate": round(min(1.0, pattern["success_rate"] + 0.05), 3),
        "metadata": json.dumps({**json.loads(pattern["metadata"]), "revision": 2}),
    }


def pattern_copy(pool: list[Row], indexes: range, revised: frozenset[int] = frozenset()) -> list[Row]:
    return [revised_pattern(pool[i]) if i in revised else pool[i] for i in indexes]


def regeneration_template_pool() -> list[Row]:
    """The master templates both copies of ``regeneration_templates`` draw their rows from."""
    rng = seeded_random("regeneration_templates")
    source_tables = (
        "template_intelligence", "autonomous_file_management", "pattern_matching_engine",
        "file_regeneration_metadata", "regeneration_history",
    )  # fmt: skip
    pool = []
    for index in range(TEMPLATE_POOL_SIZE):
        table = source_tables[index % len(source_tables)]
        created = random_moment(rng, within_days=6)
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


def revised_template(template: Row) -> Row:
    return {
        **template,
        "template_content": f"{template['template_content']}# Revised: placeholders re-extracted\n",
        "updated_at": str(datetime.fromisoformat(template["updated_at"]) + timedelta(days=9)),
        "version": 2,
    }


def integration_tracking_rows(topic: str, count: int) -> list[Row]:
    rng = seeded_random(topic)
    return [
        {
            "script_name": rng.choice(LEGACY_SCRIPTS),
            "last_access": random_moment(rng, within_days=20).isoformat(sep=" ", timespec="seconds"),
            "access_count": rng.randrange(1, 60),
            "integration_status": rng.choice(("ACTIVE", "ACTIVE", "ACTIVE", "DEPRECATED", "FAILED")),
            "performance_score": round(rng.uniform(40.0, 100.0), 2),
        }
        for _ in range(count)
    ]


def create(conn: sqlite3.Connection, *statements: str) -> None:
    for statement in statements:
        conn.execute(statement)
