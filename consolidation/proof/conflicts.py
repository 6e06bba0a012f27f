"""Listing key conflicts side by side: the version shown and each version kept."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from ..sqlite import has_table
from ..sqlite.introspect import quote_identifier as q
from ..store import read_consolidated


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


def _same(shown, kept) -> bool:
    """The same value in the same storage class, the sign of a zero included (the merge
    keeps 0.0 and -0.0 apart; Python's ``==`` does not)."""
    if type(shown) is not type(kept) or shown != kept:
        return False
    return not isinstance(shown, float) or math.copysign(1.0, shown) == math.copysign(1.0, kept)


def _readable(text: bytes) -> str:
    """A text as Python can hold it whatever its bytes (SQLite stores a text that is not
    UTF-8 as it is given): stray bytes become lone surrogates, so texts that differ still
    differ, and the report escapes them when it prints."""
    return text.decode("utf-8", "surrogateescape")


def list_conflicts(database: Path | str, table: str | None = None) -> list[Conflict]:
    with read_consolidated(database) as (connection, shards):
        merged = {name for (name,) in connection.execute(
            "SELECT DISTINCT target_table FROM main.migration_table_accounting")}
        if table is not None and table not in merged:  # a typo listed "0 conflicts", as a table without any does
            known = ", ".join(sorted(merged)[:10]) or "none"
            raise BadInput(f"--table {table!r}: no table of the consolidated set holds migrated rows under that "
                           f"name (known: {known})")
        connection.text_factory = _readable
        rows = connection.execute(
            "SELECT c.target_table, c.row_key, shown.name, kept.name, c.kept_table, c.kept_shard, "
            "c.kept_rowid, c.policy FROM migration_conflicts AS c "
            "LEFT JOIN migration_sources AS shown ON shown.id = c.shown_source_id "
            "JOIN migration_sources AS kept ON kept.id = c.kept_source_id "
            "WHERE ? IS NULL OR c.target_table = ? ORDER BY c.target_table, c.id",
            (table, table),
        ).fetchall()
        return [_side_by_side(connection, shards, *row) for row in rows]


def _side_by_side(connection, shards, target, key_json, shown, kept, kept_table, kept_shard, kept_rowid, policy):
    info = connection.execute(f"PRAGMA main.table_info({q(target)})").fetchall()
    columns = [row[1] for row in info]
    key_columns = [row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5])]
    selected = ", ".join(q(c) for c in columns)
    kept_at = f"{shards[kept_shard]}.{q(kept_table)}"
    kept_values = connection.execute(f"SELECT {selected} FROM {kept_at} WHERE rowid = ?", (kept_rowid,)).fetchone()
    same_key = " AND ".join(f"t.{q(k)} = c.{q(k)}" for k in key_columns)  # in SQL: the key as stored
    shown_values = None
    for schema in shards.values():
        if not has_table(connection, schema, target):
            continue  # no row of this table went into that shard
        shown_values = connection.execute(
            f"SELECT {', '.join('t.' + q(c) for c in columns)} FROM {schema}.{q(target)} AS t "
            f"JOIN {kept_at} AS c ON {same_key} WHERE c.rowid = ?",
            (kept_rowid,),
        ).fetchone()
        if shown_values is not None:
            break
    differences = [
        (column, shown_values[i] if shown_values else None, kept_values[i])
        for i, column in enumerate(columns)
        if shown_values is None or not _same(shown_values[i], kept_values[i])
    ]
    return Conflict(target, json.loads(key_json), shown, kept, kept_table, kept_rowid, policy, differences)
