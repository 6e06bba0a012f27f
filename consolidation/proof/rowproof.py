"""The live proof of one source table, as joins inside SQLite.

Every source row must reach, through its provenance link, a consolidated row (merged, or
kept in the conflicts table) equal to it in value *and* storage class, compared byte for
byte; the source's rows, the links and the rows they reach must be as many. Counting the
rows that satisfy the join is the proof: no side is serialised, sorted or hashed in
Python, and nothing the writer counted is trusted. Only when the counts disagree are the
rows that differ looked for, to name them.

The source is attached as ``live``; shards map shard numbers to the schemas they are
attached as (1 is the primary, ``main``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..sqlite import SourceTable, has_table
from ..sqlite.expressions import same_row
from ..sqlite.introspect import quote_identifier as q
from .ledger import LedgerTable

#: How many rows of each kind of difference are named.
SHOWN_DIFFERENCES = 5


@dataclass(frozen=True)
class Part:
    """Where some of a source table's rows went: one table in one shard."""

    shard: int
    schema: str
    table: str
    in_conflicts: int


@dataclass
class Differences:
    changed: list[int]
    missing: list[int]
    extra: list[int]


class LiveProof:
    """A source table (``live.<table>``) against the consolidated rows its links reach."""

    def __init__(self, connection: sqlite3.Connection, shards: dict[int, str], table: LedgerTable,
                 live: SourceTable, schema: str = "live"):
        self.connection = connection
        self.table = table
        self.links = f"main.migration_row_links WHERE table_id = {int(table.table_id)}"
        self.parts = [
            Part(number, name, target, in_conflicts)
            for number, name in shards.items()
            for target, in_conflicts in ((table.target_table, 0), (table.conflicts_table, 1))
            if has_table(connection, name, target)
        ]
        self.columns = [q(name) for name in table.columns]
        source = f"{schema}.{q(live.name)}"
        if live.rowid:  # seek the source row by its rowid
            self.source, self.identity = source, f"s.{live.rowid}"
        else:  # WITHOUT ROWID: rows are numbered in key order once, then sought by number
            self.source, self.identity = f"(SELECT * FROM ({live.select_rows(schema)}))", "s._identity"
        self.source_rows_sql = f"SELECT count(*) FROM {source}"

    def _count(self, sql: str) -> int:
        return self.connection.execute(sql).fetchone()[0]

    def _reached(self, part: Part, equal: bool) -> str:
        """Links into ``part`` whose source row and consolidated row exist, equal or not."""
        agreement = same_row("s", "r", self.columns)
        return (
            f"FROM main.migration_row_links AS l "
            f"JOIN {part.schema}.{q(part.table)} AS r ON r.rowid = l.target_rowid "
            f"JOIN {self.source} AS s ON {self.identity} = l.source_rowid "
            f"WHERE l.table_id = {int(self.table.table_id)} AND l.shard = {part.shard} "
            f"AND l.in_conflicts = {part.in_conflicts} AND {'' if equal else 'NOT '}{agreement}"
        )

    def counts(self) -> tuple[int, int, int]:
        """(source rows, links, links reaching an equal row)."""
        matched = sum(self._count(f"SELECT count(*) {self._reached(part, True)}") for part in self.parts)
        return self._count(self.source_rows_sql), self._count(f"SELECT count(*) FROM {self.links}"), matched

    def differences(self) -> Differences:
        """Identities of rows that differ, are missing, or are reached but not in the source."""
        limit = SHOWN_DIFFERENCES + 1
        changed = sorted({
            row[0]
            for part in self.parts
            for row in self.connection.execute(
                f"SELECT l.source_rowid {self._reached(part, False)} ORDER BY 1 LIMIT {limit}"
            )
        })
        placed = " OR ".join(
            f"(l.shard = {part.shard} AND l.in_conflicts = {part.in_conflicts} AND EXISTS "
            f"(SELECT 1 FROM {part.schema}.{q(part.table)} AS r WHERE r.rowid = l.target_rowid))"
            for part in self.parts
        ) or "0"
        missing = [
            row[0]
            for row in self.connection.execute(
                f"SELECT {self.identity} FROM {self.source} AS s WHERE NOT EXISTS "
                f"(SELECT 1 FROM main.migration_row_links AS l WHERE l.table_id = {int(self.table.table_id)} "
                f"AND l.source_rowid = {self.identity} AND ({placed})) ORDER BY 1 LIMIT {limit}"
            )
        ]
        extra = [
            row[0]
            for row in self.connection.execute(
                f"SELECT l.source_rowid FROM main.migration_row_links AS l "
                f"WHERE l.table_id = {int(self.table.table_id)} AND ({placed}) AND NOT EXISTS "
                f"(SELECT 1 FROM {self.source} AS s WHERE {self.identity} = l.source_rowid) ORDER BY 1 LIMIT {limit}"
            )
        ]
        return Differences(changed, missing, extra)
