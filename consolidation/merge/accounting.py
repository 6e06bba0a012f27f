"""Keeping the migration ledger exact: per-table counts, the conflicts list, removal.

The statements that place rows count them, and a displacement books the links it moves;
when a changed source's old contribution is taken out again, the counts and the list are
recomputed from the provenance links themselves (its rows may be anyone's now).
"""

from __future__ import annotations

import sqlite3

from ..sqlite.expressions import balanced
from ..sqlite.introspect import quote_identifier as q
from ..store import ShardSet
from ..store.provenance import owner_of_merged_row, split_kept_runs
from .plan import (
    UNIFIED_TABLES,
    conflicts_table,
    ensure_table,
    holding,
    key_json,
    target_shape,
)
from .policy import ConflictPolicy


def recount(connection: sqlite3.Connection, target: str, table_id: int | None = None) -> None:
    """Recompute source accounting for ``target`` from the links themselves.

    A merged row is *stored* for the first source linked to it and *folded* for every
    later one; a row in a conflicts table is a *conflict* (a link may cover a run of
    stored rows or of conflicts). Recomputing (rather than
    adding up as rows move) keeps the books right when a removed source releases rows.
    With ``table_id``, only that source table is recounted.
    """
    scope = "l.table_id = :table_id" if table_id is not None else "a.target_table = :target"
    owner = owner_of_merged_row("l.shard", "l.target_rowid")
    connection.execute(
        f"""
        WITH links AS (
            SELECT l.table_id, l.shard, l.target_rowid, l.in_conflicts, l.span, a.source_id
            FROM main.migration_row_links AS l
            JOIN main.migration_table_accounting AS a ON a.id = l.table_id
            WHERE {scope}
        ),
        counts AS (
            SELECT l.table_id,
                   total(l.span) AS rows_read,
                   total(CASE WHEN l.in_conflicts = 1 THEN 0 WHEN l.span > 1 THEN l.span
                              WHEN {owner} = l.source_id THEN 1 END) AS stored,
                   total(l.span = 1 AND l.in_conflicts = 0 AND {owner} <> l.source_id) AS folded,
                   total(CASE WHEN l.in_conflicts = 1 THEN l.span END) AS conflicts
            FROM links AS l
            GROUP BY l.table_id
        )
        UPDATE main.migration_table_accounting AS a
        SET rows_read = c.rows_read, rows_stored = c.stored, duplicates_folded = c.folded,
            conflicts_kept = c.conflicts
        FROM counts AS c WHERE a.id = c.table_id
        """,
        {"target": target, "table_id": table_id},
    )


def record_conflicts(
    connection: sqlite3.Connection,
    shards: ShardSet,
    target: str,
    policy: ConflictPolicy,
) -> None:
    """Write the conflicts list for ``target`` anew from the links: one entry per kept
    version, naming the source whose version is shown for its key."""
    connection.execute(
        "DELETE FROM main.migration_conflict_entries WHERE kept_table_id IN "
        "(SELECT id FROM main.migration_table_accounting WHERE target_table = :target)",
        {"target": target},
    )
    conflicts = conflicts_table(target)
    key = target_shape(connection, target).key
    key_match = " AND ".join(f"t.{q(k)} = c.{q(k)}" for k in key) or "0"
    shown_in = [
        f"(SELECT {owner_of_merged_row(str(n), 't.rowid')} FROM {shards.schema(n)}.{q(target)} AS t WHERE {key_match})"
        for n in holding(connection, shards, target)
    ]
    shown = f"coalesce({', '.join(shown_in)}, NULL)" if shown_in else "NULL"
    for number in holding(connection, shards, conflicts):
        connection.execute(
            f"""
            INSERT INTO main.migration_conflict_entries
                (kept_table_id, row_key, shown_source_id, kept_shard, kept_rowid, policy)
            SELECT l.table_id, {key_json('c', key)}, {shown}, :shard, c.rowid, :policy
            FROM main.migration_row_links AS l
            JOIN main.migration_table_accounting AS a ON a.id = l.table_id
            JOIN {shards.schema(number)}.{q(conflicts)} AS c
                ON c.rowid BETWEEN l.target_rowid AND l.target_rowid + l.span - 1
            WHERE a.target_table = :target AND l.in_conflicts = 1 AND l.shard = :shard
            ORDER BY c.rowid, a.source_id
            """,
            {"target": target, "policy": str(policy), "shard": number},
        )


def remove_source(connection: sqlite3.Connection, shards: ShardSet, source_id: int, policy: ConflictPolicy) -> None:
    """Take a source's contribution out again, as if it had never been migrated.

    Only rows this source's links pointed at are candidates for deletion, and only when
    no other source links to them, so rows anyone else (or a user) put there stay. Where
    the removed version was the one shown, the earliest remaining conflicting version
    takes its place.
    """
    targets = [
        row[0]
        for row in connection.execute(
            "SELECT DISTINCT target_table FROM main.migration_table_accounting WHERE source_id = ?", (source_id,)
        )
    ]
    for target in targets:
        split_kept_runs(connection, target)
    connection.execute("DROP TABLE IF EXISTS temp.assetdb_released")
    connection.execute(
        "CREATE TEMP TABLE assetdb_released AS SELECT a.target_table AS target_table, l.shard AS shard, "
        "l.target_rowid AS target_rowid, l.in_conflicts AS in_conflicts, l.span AS span "
        "FROM main.migration_row_links AS l JOIN main.migration_table_accounting AS a ON a.id = l.table_id "
        "WHERE a.source_id = ?",
        (source_id,),
    )
    connection.execute(
        "DELETE FROM main.migration_row_links WHERE table_id IN "
        "(SELECT id FROM main.migration_table_accounting WHERE source_id = ?)",
        (source_id,),
    )
    connection.execute(
        "DELETE FROM main.migration_conflict_entries WHERE shown_source_id = :source OR kept_table_id IN "
        "(SELECT id FROM main.migration_table_accounting WHERE source_id = :source)",
        {"source": source_id},
    )
    connection.execute("DELETE FROM main.migration_table_accounting WHERE source_id = ?", (source_id,))
    connection.execute("DELETE FROM main.migration_sources WHERE id = ?", (source_id,))
    for target in targets:
        _drop_released_rows(connection, shards, target)
        _promote_orphaned_conflicts(connection, shards, target)
        holders = holding(connection, shards, target)
        orphaned_table = target not in UNIFIED_TABLES and not connection.execute(
            "SELECT 1 FROM main.migration_table_accounting WHERE target_table = ? LIMIT 1", (target,)
        ).fetchone()
        if orphaned_table and not any(
            connection.execute(f"SELECT 1 FROM {shards.schema(n)}.{q(target)} LIMIT 1").fetchone() for n in holders
        ):
            for number in holders:
                connection.execute(f"DROP TABLE {shards.schema(number)}.{q(target)}")
            for number in holding(connection, shards, conflicts_table(target)):
                connection.execute(f"DROP TABLE {shards.schema(number)}.{q(conflicts_table(target))}")
            continue
        recount(connection, target)
        record_conflicts(connection, shards, target, policy)
    connection.execute("DROP TABLE temp.assetdb_released")


def _drop_released_rows(connection: sqlite3.Connection, shards: ShardSet, target: str) -> None:
    """Delete the rows the removed source released that no remaining link holds."""
    for number in holding(connection, shards, target):
        unowned = f"{owner_of_merged_row(str(number), 'r.rowid')} IS NULL"
        connection.execute(
            f"DELETE FROM {shards.schema(number)}.{q(target)} AS r WHERE r.rowid IN "
            "(SELECT target_rowid FROM temp.assetdb_released "
            f"WHERE target_table = :target AND shard = :shard AND in_conflicts = 0 AND span = 1) AND {unowned}",
            {"target": target, "shard": number},
        )
        runs = connection.execute(
            "SELECT target_rowid, target_rowid + span - 1 FROM temp.assetdb_released "
            "WHERE target_table = ? AND shard = ? AND span > 1",
            (target, number),
        ).fetchall()
        for first, last in runs:
            connection.execute(
                f"DELETE FROM {shards.schema(number)}.{q(target)} AS r WHERE r.rowid BETWEEN :first AND :last "
                f"AND {unowned}",
                {"first": first, "last": last, "target": target},
            )
    conflicts = conflicts_table(target)
    for number in holding(connection, shards, conflicts):
        connection.execute(
            f"DELETE FROM {shards.schema(number)}.{q(conflicts)} AS r WHERE r.rowid IN "
            "(SELECT target_rowid FROM temp.assetdb_released WHERE target_table = ? AND shard = ? AND in_conflicts = 1) "
            "AND NOT EXISTS (SELECT 1 FROM main.migration_row_links AS l "
            "JOIN main.migration_table_accounting AS a ON a.id = l.table_id "
            "WHERE a.target_table = ? AND l.shard = ? AND l.in_conflicts = 1 AND l.target_rowid = r.rowid)",
            (target, number, target, number),
        )


def _promotion_shard(connection: sqlite3.Connection, shards: ShardSet, number: int, conflicts: str,
                     kept_rowid: int, columns: list[str]) -> int:
    """Where a kept version in shard ``number`` goes when it becomes the shown one: into
    that shard when it has room for the row beside the version (which leaves it after),
    else into the current shard, or a new one. A promotion happens outside the chunks of
    rows, where a file meeting its cap could not move on."""
    size = connection.execute(
        f"SELECT {balanced([f'coalesce(length(CAST({c} AS BLOB)), 0)' for c in columns], '+', '0')} "
        f"FROM {shards.schema(number)}.{q(conflicts)} WHERE rowid = ?", (kept_rowid,)
    ).fetchone()[0]
    needed = size + PROMOTION_HEADROOM_PAGES * connection.execute("PRAGMA main.page_size").fetchone()[0]
    if shards.has_room_for(number, needed):
        return number
    while not shards.has_room_for(shards.current, needed) and shards.can_advance():
        shards.advance()
    return shards.current


#: Pages a promoted row may take beyond its bytes (the table's and its index's pages split).
PROMOTION_HEADROOM_PAGES = 4


def _promote_orphaned_conflicts(connection: sqlite3.Connection, shards: ShardSet, target: str) -> None:
    """Where no shard shows a key any more, its earliest kept version becomes the shown one,
    in the shard that holds it when there is room (see :func:`_promotion_shard`)."""
    conflicts = conflicts_table(target)
    shape = target_shape(connection, target)
    if not shape.key:
        return
    names = [q(shape.names[name]) for name in shape.columns]
    columns = ", ".join(names)
    key_match = " AND ".join(f"t.{q(k)} = c.{q(k)}" for k in shape.key)
    promoted: set[tuple] = set()
    for number in holding(connection, shards, conflicts):
        schema = shards.schema(number)
        shown_somewhere = " OR ".join(
            f"EXISTS (SELECT 1 FROM {shards.schema(n)}.{q(target)} AS t WHERE {key_match})"
            for n in holding(connection, shards, target)
        ) or "0"
        orphans = connection.execute(
            f"SELECT c.rowid, {', '.join('c.' + q(k) for k in shape.key)} FROM {schema}.{q(conflicts)} AS c "
            f"WHERE NOT ({shown_somewhere}) "
            "ORDER BY (SELECT min(a.source_id) FROM main.migration_row_links AS l "
            "JOIN main.migration_table_accounting AS a ON a.id = l.table_id "
            "WHERE a.target_table = ? AND l.shard = ? AND l.in_conflicts = 1 AND l.target_rowid = c.rowid), c.rowid",
            (target, number),
        ).fetchall()
        for kept_rowid, *key in orphans:
            if tuple(key) in promoted:
                continue
            promoted.add(tuple(key))
            place = _promotion_shard(connection, shards, number, conflicts, kept_rowid, names)
            ensure_table(connection, shards, place, target)
            cursor = connection.execute(
                f"INSERT INTO {shards.schema(place)}.{q(target)} ({columns}) SELECT {columns} "
                f"FROM {schema}.{q(conflicts)} WHERE rowid = ?",
                (kept_rowid,),
            )
            connection.execute(
                "UPDATE main.migration_row_links SET shard = ?, target_rowid = ?, in_conflicts = 0 "
                "WHERE in_conflicts = 1 AND shard = ? AND target_rowid = ? AND table_id IN "
                "(SELECT id FROM main.migration_table_accounting WHERE target_table = ?)",
                (place, cursor.lastrowid, number, kept_rowid, target),
            )
            connection.execute(f"DELETE FROM {schema}.{q(conflicts)} WHERE rowid = ?", (kept_rowid,))
