"""Where an incoming version wins a key: the shown row is displaced.

The version shown so far moves into the conflicts table (kept, never lost), every link to
it follows, the books of the sources it belonged to say so, and the conflicts list names
the incoming source for that key; then the merged row takes the incoming values. All of it
set-based, one statement per step for the chunk's displaced rows of one shard. Each step
takes the ``RowMerger`` placing the chunk (its scratch tables, plan and shards).
"""

from __future__ import annotations

from ..sqlite.expressions import balanced
from ..sqlite.introspect import folded
from ..sqlite.introspect import quote_identifier as q
from ..store.provenance import owner_of_merged_row, split_spans_holding
from ..store.schema import ENTRIES_KEY_INDEX
from .plan import ensure_table, key_json


def displace_shown_rows(merger, number: int, current: int, conflicts: str) -> None:
    """Where the incoming version wins, move the shown row into the conflicts table,
    re-point every link to it, and overwrite the merged row with the incoming values."""
    if not merger.execute(
        "SELECT 1 FROM temp.assetdb_pairs WHERE incoming_wins AND shown_shard = ? LIMIT 1", (number,)
    ).fetchone():
        return
    merger.moved_shown_rows = True
    target_names = [row[1] for row in merger.execute(f"PRAGMA main.table_info({q(merger.target)})")]
    target_columns = [q(name) for name in target_names]
    base = merger.max_rowid(current, conflicts)
    merger.execute(
        f"INSERT INTO {merger.fresh('assetdb_moves')} (shown_rowid, kept_rowid) SELECT shown_rowid, "
        f"{base} + row_number() OVER (ORDER BY shown_rowid) AS kept_rowid "
        f"FROM temp.assetdb_pairs WHERE incoming_wins AND shown_shard = {number}"
    )
    merger.execute(
        f"INSERT INTO {merger.schema(current)}.{q(conflicts)} (rowid, {', '.join(target_columns)}) "
        f"SELECT m.kept_rowid, {', '.join('t.' + c for c in target_columns)} "
        f"FROM temp.assetdb_moves AS m JOIN {merger.schema(number)}.{q(merger.target)} AS t ON t.rowid = m.shown_rowid"
    )
    split_spans_holding(merger.connection, number, merger.target, "SELECT shown_rowid AS moved FROM temp.assetdb_moves")
    _book_moved_links(merger, number)
    if merger.list_by_key:
        _list_taken_over_keys(merger, number)
    merger.execute(
        "UPDATE main.migration_row_links AS l SET shard = ?, target_rowid = m.kept_rowid, in_conflicts = 1 "
        "FROM temp.assetdb_moves AS m, main.migration_table_accounting AS a "
        "WHERE l.shard = ? AND l.target_rowid = m.shown_rowid AND l.in_conflicts = 0 "
        "AND a.id = l.table_id AND a.target_table = ?",
        (current, number, merger.target),
    )
    if merger.list_by_key:
        _list_displaced_versions(merger, number, current)
    # a column of the source may be spelled in another (ASCII) case than the table's: it is the same column
    incoming = {folded(name): q(name) for name in merger.names}
    values = {name: f"s.{incoming[folded(name)]}" if folded(name) in incoming else "NULL" for name in target_names}
    if number == current or merger.shards.has_room_for(number, _incoming_bytes(merger, number, values)):
        merger.execute(
            f"UPDATE {merger.schema(number)}.{q(merger.target)} AS t "
            f"SET {', '.join(f'{q(name)} = {value}' for name, value in values.items())} "
            f"FROM temp.assetdb_pairs AS p JOIN {merger.rows} AS s ON s.{merger.identity} = p.identity "
            f"WHERE p.incoming_wins AND p.shown_shard = {number} AND t.rowid = p.shown_rowid"
        )
    else:
        _move_taken_over_rows(merger, number, current, values)


def _incoming_bytes(merger, number: int, values: dict[str, str]) -> int:
    """The bytes of the incoming versions that take over rows shown in shard ``number``."""
    lengths = [f"coalesce(length(CAST({value} AS BLOB)), 0)" for value in values.values() if value != "NULL"]
    return merger.execute(
        f"SELECT total({balanced(lengths, '+', '0')}) FROM temp.assetdb_pairs AS p "
        f"JOIN {merger.rows} AS s ON s.{merger.identity} = p.identity "
        f"WHERE p.incoming_wins AND p.shown_shard = {number}"
    ).fetchone()[0]


def _move_taken_over_rows(merger, number: int, current: int, values: dict[str, str]) -> None:
    """Shard ``number`` has no room for the incoming versions: the merged rows they take
    over leave it for the current shard (every link to them already follows the version
    displaced, so none points at where they were), stored anew with the incoming values
    under the same key; the incoming source is linked to them where they are now."""
    shown = f"SELECT shown_rowid FROM temp.assetdb_pairs WHERE incoming_wins AND shown_shard = {number}"
    merger.execute(f"DELETE FROM {merger.schema(number)}.{q(merger.target)} WHERE rowid IN ({shown})")
    ensure_table(merger.connection, merger.shards, current, merger.target)
    merger.execute(
        f"INSERT INTO {merger.schema(current)}.{q(merger.target)} ({', '.join(q(name) for name in values)}) "
        f"SELECT {', '.join(values.values())} FROM temp.assetdb_pairs AS p "
        f"JOIN {merger.rows} AS s ON s.{merger.identity} = p.identity "
        f"WHERE p.incoming_wins AND p.shown_shard = {number} ORDER BY p.identity"
    )
    merger.execute(  # (a correlated read: UPDATE … FROM cannot see a joined table's rowid)
        f"UPDATE temp.assetdb_pairs AS p SET shown_shard = {current}, shown_rowid = "
        f"(SELECT t.rowid FROM {merger.rows} AS s JOIN {merger.schema(current)}.{q(merger.target)} AS t "
        f"ON {merger.key_join} WHERE s.{merger.identity} = p.identity) "
        f"WHERE p.incoming_wins AND p.shown_shard = {number}"
    )

def _book_moved_links(merger, number: int) -> None:
    """The books of the sources whose rows are about to be displaced: each link to a
    displaced row becomes a conflict kept, from stored (its source showed the row) or
    folded (another did). Asked before the links move, one owner per displaced row."""
    moved = merger.execute(
        f"SELECT l.table_id, total(a.source_id = ({owner_of_merged_row(':shard', 'm.shown_rowid')})), count(*) "
        "FROM temp.assetdb_moves AS m "
        "JOIN main.migration_row_links AS l ON l.shard = :shard AND l.target_rowid = m.shown_rowid "
        "AND l.in_conflicts = 0 "
        "JOIN main.migration_table_accounting AS a ON a.id = l.table_id AND a.target_table = :target "
        "GROUP BY l.table_id",
        {"shard": number, "target": merger.target},
    ).fetchall()
    for table_id, stored, links in moved:
        merger.execute(
            "UPDATE main.migration_table_accounting SET rows_stored = rows_stored - :stored, "
            "duplicates_folded = duplicates_folded - :folded, conflicts_kept = conflicts_kept + :links "
            "WHERE id = :id",
            {"stored": int(stored), "folded": links - int(stored), "links": links, "id": table_id},
        )

def _list_taken_over_keys(merger, number: int) -> None:
    """The versions already kept of each key taken over now show the incoming source's."""
    merger.execute(ENTRIES_KEY_INDEX)
    key = key_json("t", merger.table.key)
    merger.execute(
        "UPDATE main.migration_conflict_entries SET shown_source_id = "
        "(SELECT source_id FROM main.migration_table_accounting WHERE id = :table_id) "
        f"WHERE row_key IN (SELECT {key} FROM temp.assetdb_moves AS m "
        f"JOIN {merger.schema(number)}.{q(merger.target)} AS t ON t.rowid = m.shown_rowid) "
        "AND kept_table_id IN (SELECT id FROM main.migration_table_accounting WHERE target_table = :target)",
        {"table_id": merger.table_id, "target": merger.target},
    )

def _list_displaced_versions(merger, number: int, current: int) -> None:
    """One entry per link to a version just displaced into the conflicts table (its
    merged row, still unchanged, gives its key)."""
    merger.execute(
        "INSERT INTO main.migration_conflict_entries (kept_table_id, row_key, shown_source_id, kept_shard, "
        f"kept_rowid, policy) SELECT l.table_id, {key_json('t', merger.table.key)}, "
        "(SELECT source_id FROM main.migration_table_accounting WHERE id = :table_id), :current, m.kept_rowid, "
        ":policy FROM temp.assetdb_moves AS m "
        f"JOIN {merger.schema(number)}.{q(merger.target)} AS t ON t.rowid = m.shown_rowid "
        "JOIN main.migration_row_links AS l ON l.shard = :current AND l.target_rowid = m.kept_rowid "
        "AND l.in_conflicts = 1 "
        "JOIN main.migration_table_accounting AS a ON a.id = l.table_id AND a.target_table = :target "
        "ORDER BY m.kept_rowid, a.source_id",
        {"table_id": merger.table_id, "target": merger.target, "current": current, "policy": merger.policy},
    )
