"""Reading the migration ledger of a consolidated set.

Rebuild, verify, the ``conflicts`` listing and the gate all start here, so they read
the ledger one way: a source's recorded schema and header, and for each of its tables
the query that reconstructs its rows (identity first, then the stored columns) from the
merged table and the conflicts table, following ``migration_row_links``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass

from ..errors import BadInput
from ..sqlite import has_table
from ..sqlite.expressions import any_of
from ..sqlite.fingerprint import StoredRows, large_blob_in
from ..sqlite.introspect import quote_identifier as q

#: SQLite's limit on the tables of one join.
MOST_JOINED_TABLES = 64
#: SQLite's limit on the columns of a result.
MOST_RESULT_COLUMNS = 2000


@dataclass(frozen=True)
class Part:
    """Where some of a source table's rows went: one table in one shard."""

    shard: int
    schema: str
    table: str
    in_conflicts: int


@dataclass(frozen=True)
class LedgerTable:
    table_id: int
    source_table: str
    target_table: str
    conflicts_table: str
    key: list[str]
    columns: list[str]
    row_identity: str
    rows_read: int
    rows_stored: int
    duplicates_folded: int
    conflicts_kept: int
    fingerprint: str
    note: str | None

    def parts(self, connection: sqlite3.Connection, shards: dict[int, str]) -> list[Part]:
        """Where this source table's rows went: its merged and conflicts tables, in every
        shard that has them (``shards`` maps shard numbers to attached schemas)."""
        return [
            Part(number, schema, table, in_conflicts)
            for number, schema in shards.items()
            for table, in_conflicts in ((self.target_table, 0), (self.conflicts_table, 1))
            if has_table(connection, schema, table)
        ]

    def places(self, connection: sqlite3.Connection, shards: dict[int, str]) -> list[StoredRows] | None:
        """Where :meth:`reconstruct` with ``locate`` says each row is stored, by part index;
        None when no part holds a blob too large to serialise whole (then nothing needs
        reading in pieces, and testing every row for it would cost a fifth of the proof),
        or the table is too wide for the three columns that say it."""
        parts = self.parts(connection, shards)
        if 1 + len(self.columns) + 3 > MOST_RESULT_COLUMNS or not any(_holds_large_blobs(connection, p) for p in parts):
            return None
        return [StoredRows(part.schema, part.table, "rowid", self.columns) for part in parts]

    def reconstruct(self, connection: sqlite3.Connection, ledger: str, shards: dict[int, str],
                    locate: bool = False) -> str:
        """``SELECT identity, columns…`` of this source table, rebuilt from the consolidated set,
        in identity order.

        ``ledger`` is the schema holding the links; ``shards`` maps shard numbers to the
        schemas they are attached as (shard 1 being the primary). The links are read in
        their own key order and each is joined to the one table that holds its rows (a
        span's by a rowid range), so rows come out in identity order with no sort:
        fingerprinting or rebuilding a table of large rows never holds it in a sorter. A
        link whose row is gone yields no row. ``locate`` adds three columns: does the row
        hold a blob too large to serialise whole, the index of its part (see
        :meth:`places`), its rowid there.
        """
        parts = [(f"r{index}", part) for index, part in enumerate(self.parts(connection, shards))]
        if not parts:
            return f"SELECT {', '.join(['NULL'] * (len(self.columns) + 1 + 3 * locate))} WHERE 0"

        def reaches(alias: str, part: Part) -> str:
            """A link of span n reaches n consecutive rowids of its part, and an empty range
            of every other part (so a LEFT JOIN does not scan the range there to say no)."""
            return (f"{alias}.rowid BETWEEN l.target_rowid AND CASE WHEN l.shard = {part.shard} "
                    f"AND l.in_conflicts = {part.in_conflicts} THEN l.target_rowid + l.span - 1 ELSE l.target_rowid - 1 END")

        def raw(alias: str) -> list[str]:
            return [f"{alias}.{q(c)}" for c in self.columns]

        if len(parts) + 1 > MOST_JOINED_TABLES:  # SQLite joins at most 64 tables: union, then sort
            columns = ", ".join(raw("r"))
            large = f", {large_blob_in(raw('r'))}" if locate else ""
            return " UNION ALL ".join(
                f"SELECT l.source_rowid + (r.rowid - l.target_rowid), {columns}{large}"
                f"{f', {index}, r.rowid' if locate else ''} "
                f"FROM {ledger}.migration_row_links AS l "
                f"JOIN {part.schema}.{q(part.table)} AS r ON {reaches('r', part)} "
                f"WHERE l.table_id = {int(self.table_id)}"
                for index, (_alias, part) in enumerate(parts)
            ) + " ORDER BY 1"
        joins = " ".join(
            f"LEFT JOIN {part.schema}.{q(part.table)} AS {alias} ON {reaches(alias, part)}" for alias, part in parts
        )

        def column(name: str) -> str:
            if len(parts) == 1:
                return f"{parts[0][0]}.{q(name)}"
            cases = " ".join(f"WHEN {alias}.rowid IS NOT NULL THEN {alias}.{q(name)}" for alias, _ in parts)
            return f"CASE {cases} END"

        found = any_of([f"{alias}.rowid IS NOT NULL" for alias, _ in parts])
        rowids = [f"{alias}.rowid" for alias, _ in parts]
        reached = rowids[0] if len(rowids) == 1 else f"coalesce({', '.join(rowids)})"
        # within a link only one part's rowid varies, ascending with the identity: ordering by
        # the link, then those rowids, is identity order and what the joins already produce
        where = ""
        if locate:  # tested on the part's own columns, where typeof and length do not read a blob
            large = " ".join(f"WHEN {alias}.rowid IS NOT NULL THEN {large_blob_in(raw(alias))}" for alias, _ in parts)
            which = " ".join(f"WHEN {alias}.rowid IS NOT NULL THEN {index}" for index, (alias, _) in enumerate(parts))
            where = f", CASE {large} END, CASE {which} END, {reached}"
        return (
            f"SELECT l.source_rowid + ({reached} - l.target_rowid), "
            f"{', '.join(column(name) for name in self.columns)}{where} "
            f"FROM {ledger}.migration_row_links AS l {joins} "
            f"WHERE l.table_id = {int(self.table_id)} AND {found} ORDER BY l.source_rowid, {', '.join(rowids)}"
        )


#: Parts known to hold (or not) a blob too large to serialise whole, by file state and table.
_LARGE_BLOBS: dict[tuple, bool] = {}
REMEMBERED_PARTS = 4096


def _holds_large_blobs(connection: sqlite3.Connection, part: Part) -> bool:
    """One pass over the part's record headers (``typeof`` and ``length`` of a stored blob do
    not read it), remembered while its file is unchanged. A stale answer costs memory only:
    the fingerprint is the same either way."""
    file = next((row[2] for row in connection.execute("PRAGMA database_list") if row[1] == part.schema), "")
    state = os.stat(file) if file and os.path.exists(file) else None
    key = (file, state.st_size, state.st_mtime_ns, part.table) if state else None
    if key is None or key not in _LARGE_BLOBS:
        columns = [f"t.{q(row[1])}" for row in connection.execute(f"PRAGMA {part.schema}.table_xinfo({q(part.table)})")]
        found = bool(connection.execute(
            f"SELECT EXISTS (SELECT 1 FROM {part.schema}.{q(part.table)} AS t WHERE {large_blob_in(columns)})"
        ).fetchone()[0])
        if key is None:
            return found
        if len(_LARGE_BLOBS) >= REMEMBERED_PARTS:  # a long-lived process checking many states
            _LARGE_BLOBS.clear()
        _LARGE_BLOBS[key] = found
    return _LARGE_BLOBS[key]


@dataclass(frozen=True)
class LedgerSource:
    source_id: int
    name: str
    original_path: str
    fingerprint: str
    status: str
    schema_objects: list[list]
    internal_rows: dict[str, list[list]]
    header: dict[str, int]
    tables: list[LedgerTable]
    archived_path: str | None = None
    bytes: int = 0  # the source file's size when it was migrated


def read_sources(connection: sqlite3.Connection, schema: str = "main") -> list[LedgerSource]:
    """Every migrated source, with its tables, in migration order."""
    sources = []
    for row in connection.execute(
        f"SELECT id, name, original_path, fingerprint, status, schema_objects, internal_rows, header, archived_path, "
        f"bytes FROM {schema}.migration_sources ORDER BY id"
    ).fetchall():
        tables = [
            LedgerTable(
                table_id,
                source_table,
                target_table,
                conflicts_table,
                json.loads(key),
                json.loads(columns),
                identity,
                *counts,
                note,
            )
            for table_id, source_table, target_table, conflicts_table, key, columns, identity, *counts, note in connection.execute(
                f"SELECT id, source_table, target_table, conflicts_table, key_columns, columns, row_identity, "
                f"rows_read, rows_stored, duplicates_folded, conflicts_kept, fingerprint, note "
                f"FROM {schema}.migration_table_accounting WHERE source_id = ? ORDER BY source_table",
                (row[0],),
            )
        ]
        sources.append(
            LedgerSource(
                row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), json.loads(row[6]), json.loads(row[7]),
                tables, row[8], row[9],
            )
        )
    return sources


def find_source(sources: list[LedgerSource], name: str) -> LedgerSource:
    """The source called ``name`` (its ledger name, or a unique file name)."""
    exact = [source for source in sources if source.name == name]
    if exact:
        return exact[0]
    by_file = [source for source in sources if source.name.rsplit("/", 1)[-1] == name]
    if len(by_file) == 1:
        return by_file[0]
    known = ", ".join(source.name for source in sources) or "none"
    if by_file:
        raise BadInput(f"{name!r} names several sources ({', '.join(s.name for s in by_file)}); use the full name")
    raise BadInput(f"no migrated source named {name!r} (known: {known})")
