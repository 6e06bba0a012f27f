"""Placing one source table's rows: stored, folded as duplicates, or kept as conflicts.

Set-based SQL over the attached source, chunk by chunk; each chunk runs in a savepoint,
and a chunk that would take a file past the cap is undone and placed again in the next
shard.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ..errors import Aborted
from ..faults import disk_is_full, no_space
from ..size import format_size
from ..sqlite.describe import untyped_columns
from ..sqlite.expressions import balanced, same_row
from ..sqlite.introspect import quote_identifier as q
from ..store import ShardSet
from ..store.provenance import (
    MAX_SPAN,
    owner_of_merged_row,
)
from .displacement import displace_shown_rows
from .plan import (
    TablePlan,
    ensure_conflicts_table,
    ensure_table,
    holding,
    key_json,
    target_shape,
)

LINK_COLUMNS = "table_id, source_rowid, shard, target_rowid, in_conflicts"


#: Rows per chunk are capped so that one chunk's growth stays a small share of the cap.
MAX_CHUNK_ROWS = 50_000

#: The largest rowid SQLite holds: a chunk's range never reaches past it.
MAX_IDENTITY = 2**63 - 1

#: The temporary tables a chunk works in. Made once per connection and emptied per use:
#: creating and dropping them per chunk changed the schema each time, which made SQLite
#: prepare every statement of the merge again.
SCRATCH = {
    "assetdb_matches": "identity INTEGER PRIMARY KEY, shard INTEGER NOT NULL, shown_rowid INTEGER NOT NULL, "
                       "same INTEGER NOT NULL",
    "assetdb_pairs": "identity INTEGER PRIMARY KEY, shown_shard INTEGER NOT NULL, shown_rowid INTEGER NOT NULL, "
                     "incoming_wins INTEGER NOT NULL DEFAULT 0",
    "assetdb_kept": "kept_rowid INTEGER PRIMARY KEY, identity INTEGER NOT NULL, shown_shard INTEGER NOT NULL, "
                    "shown_rowid INTEGER NOT NULL",
    "assetdb_moves": "shown_rowid INTEGER PRIMARY KEY, kept_rowid INTEGER NOT NULL",
    "assetdb_new": "identity INTEGER PRIMARY KEY",
    "assetdb_placed": "identity INTEGER PRIMARY KEY, target_rowid INTEGER NOT NULL",
    "assetdb_rest": "identity INTEGER PRIMARY KEY, target_rowid INTEGER NOT NULL",
}


class RowMerger:
    """Set-based SQL that places one source table's rows, chunk by chunk, and links each.

    Each chunk runs in a savepoint; if a file would pass the cap (SQLite refuses the
    write), the chunk is undone and placed again in the next shard.
    """

    def __init__(self, connection: sqlite3.Connection, plan: TablePlan, table_id: int, shards: ShardSet,
                 policy: str, source_name: str):
        self.connection = connection
        self.source_name = source_name  # named by a refusal
        self.policy = policy  # recorded with each conflict kept
        self.table = plan.source
        self.target = plan.target
        self.table_id = table_id
        self.shards = shards
        self.names = [column.name for column in self.table.merged_columns]
        self.columns = [q(name) for name in self.names]
        self.identity = q(self.table.identity_column)  # what self.rows calls a row's identity
        for name, columns in SCRATCH.items():
            self.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns})")
        self.rows = self._stage_rows()
        self.key_join = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in self.table.key)
        untyped = untyped_columns(connection, self.table, "main", self.target)
        self.same_values = f"CASE WHEN {same_row('t', 's', self.columns, untyped)} THEN 1 ELSE 0 END"  # stops early
        self.has_key = " AND ".join(f"s.{q(k)} IS NOT NULL" for k in self.table.key) or "0"
        # its negation spelled out, so that a key's index finds the rows lacking one
        self.lacks_key = " OR ".join(f"s.{q(k)} IS NULL" for k in self.table.key) or "1"
        self.moved_shown_rows = False  # did an incoming version displace a shown one?
        # Can the entries of a key taken over be found by its JSON text? Only where equal keys
        # are equal text and unequal keys never are: keys that are the rowid, always integers
        # (a text key may hold a blob spelled as one; a real key may print the same as another).
        self.target_key_is_rowid = target_shape(connection, self.target).key_is_rowid
        self.list_by_key = self.target_key_is_rowid
        # Rows placed, by how, as the statements that placed them counted them (changes());
        # a chunk's figures count once its savepoint is released.
        self.placed = {"stored": 0, "folded": 0, "conflicts": 0}
        self._chunk_placed = dict.fromkeys(self.placed, 0)

    def _stage_rows(self) -> str:
        """Rows as ``(identity, columns…)``, the identity called :attr:`identity`. WITHOUT ROWID tables are numbered once, in
        key order, into a temporary table, so every later step can seek by identity."""
        if self.table.rowid:
            return f"({self.table.select_rows(self.table.schema, self.names)})"
        self.execute("DROP TABLE IF EXISTS temp.assetdb_stage")
        self.execute(f"CREATE TEMP TABLE assetdb_stage ({self.identity} INTEGER PRIMARY KEY, {', '.join(self.columns)})")
        self.execute(f"INSERT INTO temp.assetdb_stage {self.table.select_rows(self.table.schema, self.names)}")
        return "(SELECT * FROM temp.assetdb_stage)"

    def execute(self, sql: str, parameters: tuple | dict = ()) -> sqlite3.Cursor:
        return self.connection.execute(sql, parameters)

    def schema(self, number: int) -> str:
        return self.shards.schema(number)

    def fresh(self, name: str) -> str:
        """Empty scratch table ``name`` and give its qualified name."""
        self.execute(f"DELETE FROM temp.{name}")
        return f"temp.{name}"

    # chunks and placement

    def _row_size_sql(self) -> str:
        return balanced([f"coalesce(length(CAST(s.{c} AS BLOB)), 0)" for c in self.columns], "+", "0")

    def _row_bytes(self, identity: int) -> int:
        """The bytes of one source row's values (as stored: text in bytes, numbers as text)."""
        row = self.execute(f"SELECT {self._row_size_sql()} FROM {self.rows} AS s WHERE s.{self.identity} = ?", (identity,))
        return row.fetchone()[0] or 0

    def _chunk_rows(self) -> int:
        sizes = self._row_size_sql()
        average = self.execute(f"SELECT avg({sizes}) FROM (SELECT * FROM {self.rows} LIMIT 200) AS s").fetchone()[0]
        budget = max(64 * 1024, self.shards.limit // 50)
        return max(1, min(MAX_CHUNK_ROWS, int(budget // max(1.0, (average or 0) + 16))))

    def _chunks(self):
        """Identity ranges of at most ``size`` rows each. While identities are dense (a chunk
        of ``size`` consecutive identities held at least half as many rows), a range is
        counted off by arithmetic; once they are not, its end is found by walking ``size``
        rows (which reads them), so a sparse table is not cut into many near-empty chunks."""
        size = self._chunk_rows()
        dense = True
        low = self.execute(f"SELECT min({self.identity}) FROM {self.rows}").fetchone()[0]
        while low is not None:
            high = min(low + size - 1, MAX_IDENTITY) if dense else self._end_of_chunk(low, size)
            before = sum(self.placed.values())
            yield low, high
            dense = dense and sum(self.placed.values()) - before >= size // 2
            if high >= MAX_IDENTITY:
                return
            low = self.execute(f"SELECT min({self.identity}) FROM {self.rows} WHERE {self.identity} > ?", (high,)).fetchone()[0]

    def _end_of_chunk(self, low: int, size: int) -> int:
        high = self.execute(
            f"SELECT {self.identity} FROM {self.rows} WHERE {self.identity} >= ? ORDER BY {self.identity} LIMIT 1 OFFSET ?",
            (low, size - 1),
        ).fetchone()
        return MAX_IDENTITY if high is None else high[0]

    def merge(self, decide: Callable[[RowMerger], None]) -> None:
        for low, high in self._chunks():
            self._place(low, high, decide, retried=False)

    def _count(self, how: str, cursor: sqlite3.Cursor) -> None:
        self._chunk_placed[how] += cursor.rowcount

    def _place(self, low: int, high: int, decide, retried: bool, in_new_shard: bool = False) -> None:
        if not self.shards.has_room(self.shards.current) and self.shards.can_advance():
            self.shards.advance()  # a file already past its share (a primary whose schema is half a small cap)
        self._chunk_placed = dict.fromkeys(self.placed, 0)
        self.execute("SAVEPOINT assetdb_chunk")
        try:
            self._merge_chunk(f"s.{self.identity} BETWEEN {int(low)} AND {int(high)}", decide)
        except sqlite3.OperationalError as error:
            if not self.connection.in_transaction:  # SQLite rolled the whole transaction back (a full
                raise  # disk can): there is no chunk to undo; the write session says what happened
            self.execute("ROLLBACK TO assetdb_chunk")
            self.execute("RELEASE assetdb_chunk")
            if "full" not in str(error):
                raise
            if not retried and self.shards.can_advance():
                self.shards.advance()
                self._place(low, high, decide, retried=True)
                return
            middle = self.execute(
                f"SELECT {self.identity} FROM {self.rows} WHERE {self.identity} BETWEEN :low AND :high ORDER BY {self.identity} "
                f"LIMIT 1 OFFSET (SELECT count(*) / 2 FROM {self.rows} WHERE {self.identity} BETWEEN :low AND :high)",
                {"low": low, "high": high},
            ).fetchone()[0]
            if middle == low:
                if disk_is_full(self.shards.primary.parent):  # SQLite says "full" for both
                    raise no_space(self.shards.primary, f"placing the rows of {self.table.name!r}") from None
                if self.shards.ledger_filled_primary():
                    raise self.shards.exhausted() from None
                if not in_new_shard and self.shards.can_advance():  # the room it met was what a shard had left
                    known = set(self.shards.numbers)
                    number = self.shards.advance()  # the next shard with room, else a new one
                    self._place(low, high, decide, retried=True, in_new_shard=number not in known)
                    return
                if not self.shards.can_advance() and self._row_bytes(low) < self.shards.limit // 2:
                    raise self.shards.exhausted() from None  # a small row: it is the files that ran out
                raise Aborted(
                    f"{self.source_name}: a row of {self.table.name!r} (identity {low}, {format_size(self._row_bytes(low))}) does not "
                    f"fit under the cap of {format_size(self.shards.limit)} with what the file must hold beside it; "
                    "rolled back"
                ) from None
            self._place(low, middle - 1, decide, retried=True)
            self._place(middle, high, decide, retried=True)
            return
        self.execute("RELEASE assetdb_chunk")
        for how, rows in self._chunk_placed.items():
            self.placed[how] += rows
        # a shard this chunk filled is left at the start of the next chunk, if one comes:
        # moving on now would make a file no row needs

    def _merge_chunk(self, chunk: str, decide) -> None:
        current = self.shards.current
        if self.table.key:
            self._match_keys(holding(self.connection, self.shards, self.target), chunk)
            self._fold_duplicates()
            self._keep_conflicts(decide)
            self._store_new_keys(chunk, current)
        if not self._every_row_has_a_key():
            self._append_rest(chunk, current)

    def _every_row_has_a_key(self) -> bool:
        """Can no row lack a key? So where the key is the rowid (never NULL) or the table is
        WITHOUT ROWID (SQLite holds its key NOT NULL): then no statement looks for rows without one."""
        return bool(self.table.key) and (self.table.key_is_rowid or not self.table.rowid)

    def _match_keys(self, shards: list[int], chunk: str) -> None:
        """One join per shard: which of the chunk's rows meet a stored row of the same key,
        and whether their values are the same. A key is shown in one shard at most."""
        self.fresh("assetdb_matches")
        for number in shards:
            self.execute(
                f"INSERT INTO temp.assetdb_matches (identity, shard, shown_rowid, same) "
                f"SELECT s.{self.identity}, {number}, t.rowid, {self.same_values} FROM {self.rows} AS s "
                f"JOIN {self.schema(number)}.{q(self.target)} AS t ON {self.key_join} WHERE {chunk}"
            )

    def _fold_duplicates(self) -> None:
        self._count("folded", self.execute(
            f"INSERT INTO main.migration_row_links ({LINK_COLUMNS}) "
            f"SELECT {self.table_id}, identity, shard, shown_rowid, 0 FROM temp.assetdb_matches WHERE same"
        ))

    def _keep_conflicts(self, decide) -> None:
        self.fresh("assetdb_pairs")
        self.execute(
            "INSERT INTO temp.assetdb_pairs (identity, shown_shard, shown_rowid) "
            "SELECT identity, shard, shown_rowid FROM temp.assetdb_matches WHERE NOT same"
        )
        if self.execute("SELECT 1 FROM temp.assetdb_pairs LIMIT 1").fetchone():
            current = self.shards.current
            conflicts = ensure_conflicts_table(self.connection, self.shards, current, self.target)
            decide(self)
            shown_in = [row[0] for row in self.execute("SELECT DISTINCT shown_shard FROM temp.assetdb_pairs")]
            # the current shard first: rows a full shard's displacement moves into it are the
            # incoming versions already, never to be displaced again
            for number in sorted(shown_in, key=lambda number: number != current):
                displace_shown_rows(self, number, current, conflicts)
            self._keep_losing_versions(current, conflicts)
            self._count("stored", self.execute(  # the incoming source now shows (owns) the row
                f"INSERT INTO main.migration_row_links ({LINK_COLUMNS}) "
                f"SELECT {self.table_id}, identity, shown_shard, shown_rowid, 0 FROM temp.assetdb_pairs WHERE incoming_wins"
            ))

    def _keep_losing_versions(self, current: int, conflicts: str) -> None:
        """The incoming versions that lose are numbered once into the conflicts table's next
        rowids; their rows, links and conflicts-list entries are all written from
        that numbering, so no statement scans the links written before it."""
        base = self.max_rowid(current, conflicts)
        kept = self.fresh("assetdb_kept")  # numbered by SQLite itself, each next rowid, from base + 1 on
        self.execute(f"INSERT INTO {kept} (kept_rowid, identity, shown_shard, shown_rowid) VALUES ({base}, 0, 0, 0)")
        kept_rows = self.execute(
            f"INSERT INTO {kept} (identity, shown_shard, shown_rowid) SELECT identity, shown_shard, shown_rowid "
            f"FROM temp.assetdb_pairs WHERE NOT incoming_wins ORDER BY identity"
        ).rowcount
        self.execute(f"DELETE FROM {kept} WHERE kept_rowid = {base}")
        self._chunk_placed["conflicts"] += kept_rows
        if self.shards.links_kept_runs:  # kept rowids rise with identity: consecutive identities are a run
            self._link_kept_runs(current, base, kept_rows)
        else:
            self.execute(f"INSERT INTO main.migration_row_links ({LINK_COLUMNS}) "
                         f"SELECT {self.table_id}, identity, {current}, kept_rowid, 1 FROM temp.assetdb_kept")
        self.execute(
            f"INSERT INTO {self.schema(current)}.{q(conflicts)} (rowid, {', '.join(self.columns)}) "
            f"SELECT k.kept_rowid, {', '.join('s.' + c for c in self.columns)} "
            f"FROM temp.assetdb_kept AS k JOIN {self.rows} AS s ON s.{self.identity} = k.identity ORDER BY k.kept_rowid"
        )
        self._record_kept(current)

    def _record_kept(self, current: int) -> None:
        """One conflicts-list entry per version kept in this chunk, naming the source whose
        version is shown (the first linked to the shown row). A displacement mends the
        entries of the keys it takes over (see :mod:`.displacement`)."""
        if self.table.key_is_rowid:  # the key is the identity: no need to read the row again
            key, rows = "json_array(k.identity)", ""
        else:
            key, rows = key_json("s", self.table.key), f"CROSS JOIN {self.rows} AS s ON s.{self.identity} = k.identity "
        self.execute(
            "INSERT INTO main.migration_conflict_entries (kept_table_id, row_key, shown_source_id, kept_shard, "
            f"kept_rowid, policy) SELECT :table_id, {key}, "
            f"{owner_of_merged_row('k.shown_shard', 'k.shown_rowid')}, :shard, k.kept_rowid, :policy "
            f"FROM temp.assetdb_kept AS k {rows}ORDER BY k.kept_rowid",  # identities rise with it
            {"target": self.target, "shard": current, "policy": self.policy, "table_id": self.table_id},
        )

    def _store_new_keys(self, chunk: str, current: int) -> None:
        """Rows whose key no shard holds are staged by identity first, then stored: no
        statement reads the table it is writing (SQLite would copy its rows aside)."""
        ensure_table(self.connection, self.shards, current, self.target)
        self.execute(
            f"INSERT INTO {self.fresh('assetdb_new')} (identity) SELECT s.{self.identity} FROM {self.rows} AS s "
            f"WHERE {chunk} AND {self.has_key} "
            f"AND NOT EXISTS (SELECT 1 FROM temp.assetdb_matches AS m WHERE m.identity = s.{self.identity}) "
            f"ORDER BY s.{self.identity}"
        )
        self._count("stored", self.execute(
            f"INSERT INTO {self.schema(current)}.{q(self.target)} ({', '.join(self.columns)}) "
            f"SELECT {', '.join('s.' + c for c in self.columns)} FROM temp.assetdb_new AS n "
            f"JOIN {self.rows} AS s ON s.{self.identity} = n.identity ORDER BY n.identity"
        ))
        if self.table.key_is_rowid and self.target_key_is_rowid:  # both keys the rowid: stored at its identity
            self._link_runs("(SELECT identity, identity AS target_rowid FROM temp.assetdb_new)", current)
            return
        self.execute(
            f"INSERT INTO {self.fresh('assetdb_placed')} (identity, target_rowid) SELECT n.identity, t.rowid "
            f"FROM temp.assetdb_new AS n JOIN {self.rows} AS s ON s.{self.identity} = n.identity "
            f"JOIN {self.schema(current)}.{q(self.target)} AS t ON {self.key_join} ORDER BY n.identity"
        )
        self._link_runs("temp.assetdb_placed", current)

    def _link_runs(self, placed: str, current: int) -> None:
        """Link rows just stored (``placed``: identity, target rowid) one link per run of
        consecutive identities at consecutive rowids, cut where an identity is a multiple of
        MAX_SPAN (so no link covers more).

        One look-up per row, no sort of them all: a row starts a link unless the row before
        it in both identity and rowid was stored too, and ends one unless the row after it
        was; the n-th start and the n-th end bound the n-th link. Rows whose rowids do not rise
        with identity (an ``INTEGER PRIMARY KEY DESC`` gives such rows) are each a link. The
        smallest identity is a multiple of MAX_SPAN and the largest one below a multiple, so
        neither needs the neighbour past it (which would be no integer)."""
        def bounds(step: int, cut: str) -> str:
            return (f"SELECT identity, target_rowid, row_number() OVER (ORDER BY identity) AS n FROM {placed} AS k "
                    f"WHERE k.identity % {MAX_SPAN} {cut} OR NOT EXISTS (SELECT 1 FROM {placed} AS o "
                    f"WHERE o.identity = k.identity {step:+d} AND o.target_rowid = k.target_rowid {step:+d})")
        self._insert_links(
            f"SELECT {self.table_id}, s.identity, {current}, s.target_rowid, 0, e.identity - s.identity + 1 "
            f"FROM ({bounds(-1, '= 0')}) AS s JOIN ({bounds(+1, f'IN ({MAX_SPAN - 1}, -1)')}) AS e ON e.n = s.n"
        )

    def _link_kept_runs(self, current: int, base: int, kept_rows: int) -> None:
        """Link the ``kept_rows`` versions just kept one link per run of consecutive
        identities, in pieces of at most MAX_SPAN rows. They were numbered in identity order
        from ``base``, so a version starts a link when the identity before it was not kept
        (if it was, it is the row before it) or when its number starts a piece; a link
        reaches the next start. One look-up per version, no sort of them all. (The smallest
        identity, whose predecessor is no integer, is always the first kept: it starts one.)"""
        self._insert_links(
            f"SELECT {self.table_id}, identity, {current}, kept_rowid, 1, coalesce(lead(kept_rowid) OVER "
            f"(ORDER BY kept_rowid), {base + kept_rows + 1}) - kept_rowid "
            f"FROM temp.assetdb_kept AS k WHERE (kept_rowid - {base} - 1) % {MAX_SPAN} = 0 "
            f"OR NOT EXISTS (SELECT 1 FROM temp.assetdb_kept AS p WHERE p.kept_rowid = k.kept_rowid - 1 "
            f"AND p.identity = k.identity - 1)"
        )

    def _insert_links(self, links: str) -> None:
        """Insert the links ``links`` selects (as LINK_COLUMNS and span); the table's own
        check at its end holds them to the rows read (see ``engine._migrate_table``)."""
        self.execute(f"INSERT INTO main.migration_row_links ({LINK_COLUMNS}, span) {links}")

    def _append_rest(self, chunk: str, current: int) -> None:
        """Rows without a key (no primary key, or a NULL in it) are appended as they are,
        numbered once into the table's next rowids."""
        ensure_table(self.connection, self.shards, current, self.target)
        base = self.max_rowid(current, self.target)
        self.execute(
            f"INSERT INTO {self.fresh('assetdb_rest')} (identity, target_rowid) SELECT s.{self.identity}, "
            f"{base} + row_number() OVER (ORDER BY s.{self.identity}) AS target_rowid "
            f"FROM {self.rows} AS s WHERE {chunk} AND ({self.lacks_key}) ORDER BY s.{self.identity}"
        )
        self._count("stored", self.execute(
            f"INSERT INTO {self.schema(current)}.{q(self.target)} (rowid, {', '.join(self.columns)}) "
            f"SELECT r.target_rowid, {', '.join('s.' + c for c in self.columns)} "
            f"FROM temp.assetdb_rest AS r JOIN {self.rows} AS s ON s.{self.identity} = r.identity ORDER BY r.identity"
        ))
        self._link_runs("temp.assetdb_rest", current)

    def max_rowid(self, number: int, table: str) -> int:
        return self.execute(f"SELECT coalesce(max(rowid), 0) FROM {self.schema(number)}.{q(table)}").fetchone()[0]
