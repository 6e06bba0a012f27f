"""Listing key conflicts side by side: the version shown and each version kept."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput
from .fingerprint import quote_identifier as q
from .readonly import open_readonly


@dataclass(frozen=True)
class Conflict:
    table: str
    key: list
    shown_source: str | None
    kept_source: str
    kept_table: str
    kept_rowid: int
    policy: str
    differences: list[tuple[str, object, object]]  # (column, shown value, kept value)


def list_conflicts(database: Path | str, table: str | None = None) -> list[Conflict]:
    with open_readonly(database) as connection:
        try:
            rows = connection.execute(
                "SELECT c.target_table, c.row_key, shown.name, kept.name, c.kept_table, c.kept_rowid, c.policy "
                "FROM migration_conflicts AS c "
                "LEFT JOIN migration_sources AS shown ON shown.id = c.shown_source_id "
                "JOIN migration_sources AS kept ON kept.id = c.kept_source_id "
                "WHERE ? IS NULL OR c.target_table = ? ORDER BY c.target_table, c.id",
                (table, table),
            ).fetchall()
        except sqlite3.OperationalError:
            raise BadInput(f"{database}: not a consolidated assetdb database (no migration ledger)") from None
        return [_with_differences(connection, *row) for row in rows]


def _with_differences(connection, target, key_json, shown, kept, kept_table, kept_rowid, policy) -> Conflict:
    key = json.loads(key_json)
    columns = [row[1] for row in connection.execute(f"PRAGMA table_info({q(target)})")]
    key_columns = [row[1] for row in sorted(
        (r for r in connection.execute(f"PRAGMA table_info({q(target)})") if r[5]), key=lambda r: r[5]
    )]
    kept_values = connection.execute(
        f"SELECT {', '.join(q(c) for c in columns)} FROM {q(kept_table)} WHERE rowid = ?", (kept_rowid,)
    ).fetchone()
    shown_values = connection.execute(
        f"SELECT {', '.join(q(c) for c in columns)} FROM {q(target)} WHERE "
        + " AND ".join(f"{q(k)} = ?" for k in key_columns),
        [kept_values[columns.index(k)] for k in key_columns],
    ).fetchone()
    differences = [
        (column, shown_values[i] if shown_values else None, kept_values[i])
        for i, column in enumerate(columns)
        if shown_values is None or shown_values[i] != kept_values[i] or type(shown_values[i]) is not type(kept_values[i])
    ]
    return Conflict(target, key, shown, kept, kept_table, kept_rowid, policy, differences)
