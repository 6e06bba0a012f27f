"""Demo databases of what the legacy project ran: development, monitoring, analytics.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta, timezone

from .rows import (
    ANALYTICS_OWN_PATTERNS,
    ANALYTICS_REVISED_PATTERNS,
    ANALYTICS_SHARED_PATTERNS,
    BASE_TIME,
    DEMO_DATABASES,
    DEVELOPMENT_PATTERNS,
    DEVELOPMENT_TEMPLATES,
    ENTERPRISE_METADATA_INTEGRATION,
    ENTERPRISE_METADATA_KEY_VALUE,
    INTEGRATION_TRACKING,
    INTEGRATION_TRACKING_WITH_LAST_ERROR,
    MONITORING_OWN_PATTERNS,
    MONITORING_REVISED_PATTERNS,
    MONITORING_REVISED_TEMPLATES,
    MONITORING_SHARED_PATTERNS,
    MONITORING_TEMPLATES,
    REGENERATION_PATTERNS,
    REGENERATION_PATTERNS_WITH_REVIEW,
    REGENERATION_TEMPLATES,
    Row,
    create,
    insert_rows,
    integration_tracking_rows,
    pattern_copy,
    random_moment,
    regeneration_pattern_pool,
    regeneration_template_pool,
    revised_template,
    seeded_random,
)


def build_development(conn: sqlite3.Connection) -> None:
    """The oldest copy: key/value metadata, the base pattern set, and the only sqlite_stat1."""
    create(
        conn,
        ENTERPRISE_METADATA_KEY_VALUE,
        INTEGRATION_TRACKING,
        REGENERATION_PATTERNS,
        REGENERATION_TEMPLATES,
        'CREATE INDEX "idx_pattern_type" ON "regeneration_patterns" ("pattern_type")',
    )
    insert_rows(conn, "enterprise_metadata", development_metadata())
    insert_rows(conn, "integration_tracking", integration_tracking_rows("development", 30))
    insert_rows(conn, "regeneration_patterns", pattern_copy(regeneration_pattern_pool(), DEVELOPMENT_PATTERNS))
    templates = regeneration_template_pool()
    insert_rows(conn, "regeneration_templates", [templates[i] for i in DEVELOPMENT_TEMPLATES])
    conn.execute("ANALYZE")


def development_metadata() -> list[Row]:
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


def build_monitoring(conn: sqlite3.Connection) -> None:
    """A later copy: integration metadata, drifted columns, edited shared rows, an index and a view."""
    create(
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
    insert_rows(
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
    error_rng = seeded_random("monitoring:last_error")
    insert_rows(
        conn,
        "integration_tracking",
        [
            {**row, "last_error": error_rng.choice((None, None, None, "database is locked"))}
            for row in integration_tracking_rows("monitoring", 25)
        ],
    )
    pool = regeneration_pattern_pool()
    shared = pattern_copy(pool, MONITORING_SHARED_PATTERNS, MONITORING_REVISED_PATTERNS)
    own = [
        {**row, "review_status": "approved" if i % 3 else "pending"}
        for i, row in enumerate(pattern_copy(pool, MONITORING_OWN_PATTERNS))
    ]
    insert_rows(conn, "regeneration_patterns", [{**row, "review_status": None} for row in shared] + own)
    templates = regeneration_template_pool()
    insert_rows(
        conn,
        "regeneration_templates",
        [
            revised_template(templates[i]) if i in MONITORING_REVISED_TEMPLATES else templates[i]
            for i in MONITORING_TEMPLATES
        ],
    )
    insert_rows(conn, "database_health_metrics", health_metrics())


# metric -> (low, high) of the values a health check records.
HEALTH_METRIC_RANGES = {
    "size_mb": (0.02, 0.2),
    "fragmentation_pct": (0.0, 35.0),
    "integrity_ok": (1.0, 1.0),
    "row_count": (10.0, 300.0),
}


def health_metrics() -> list[Row]:
    """Three days of checks; a failed check recorded no value (NULL)."""
    rng = seeded_random("database_health_metrics")
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


def build_analytics_collector(conn: sqlite3.Connection) -> None:
    """A third copy of the shared patterns, overlapping both other copies, plus analytics rows."""
    create(
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
    insert_rows(
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
    insert_rows(conn, "integration_tracking", integration_tracking_rows("analytics_collector", 15))
    pool = regeneration_pattern_pool()
    insert_rows(
        conn,
        "regeneration_patterns",
        pattern_copy(pool, ANALYTICS_SHARED_PATTERNS, ANALYTICS_REVISED_PATTERNS)
        + pattern_copy(pool, ANALYTICS_OWN_PATTERNS),
    )
    insert_rows(conn, "analytics_data_points", analytics_data_points())


def analytics_data_points() -> list[Row]:
    rng = seeded_random("analytics_data_points")
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
                "timestamp": random_moment(rng, within_days=14).replace(tzinfo=timezone.utc).isoformat(),
                "source": rng.choice(("ci", "workstation", "scheduler")),
                "category": category,
                "metric_name": rng.choice(metrics[category]),
                "metric_value": None if rng.random() < 0.05 else str(round(rng.uniform(0, 5000), 2)),
                "quality_score": round(rng.uniform(0.5, 1.0), 4),
                "session_id": f"ANALYTICS_{BASE_TIME:%Y%m%d}_{rng.randrange(4)}",
            }
        )
    return rows
