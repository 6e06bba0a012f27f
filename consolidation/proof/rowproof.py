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

from ..sqlite import SourceTable
from ..sqlite.expressions import any_of, same_row
from ..sqlite.introspect import quote_identifier as q
from .ledger import LedgerTable, Part

#: How many rows of each kind of difference are named.
SHOWN_DIFFERENCES = 5


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
        self.table_id = int(table.table_id)
        self.parts = table.parts(connection, shards)
        self.columns = [q(name) for name in table.columns]
        source = f"{schema}.{q(live.name)}"
        if live.rowid:  # seek the source row by its rowid
            self.numbered, self.source, self.identity = "", source, f"s.{live.rowid}"
            self.in_source = f"EXISTS (SELECT 1 FROM {source} AS s WHERE s.{live.rowid} = l.source_rowid)"
        else:  # WITHOUT ROWID: rows are numbered in key order once per statement, then sought by number
            self.numbered = f"WITH numbered AS MATERIALIZED ({live.select_rows(schema)}) "
            self.source, self.identity = "numbered", "s._identity"
            # ordinals are 1…N: a link is to a source row exactly when it is in that range
            self.in_source = f"l.source_rowid BETWEEN 1 AND (SELECT count(*) FROM {source})"
        self.source_rows_sql = f"SELECT count(*) FROM {source}"

    def _query(self, sql: str) -> sqlite3.Cursor:
        return self.connection.execute(self.numbered + sql)

    def _count(self, sql: str) -> int:
        return self._query(sql).fetchone()[0]

    def _reached(self, part: Part, equal: bool) -> str:
        """Links into ``part`` whose source row and consolidated row exist, equal or not."""
        agreement = same_row("s", "r", self.columns)
        return (
            f"FROM main.migration_row_links AS l "
            f"JOIN {part.schema}.{q(part.table)} AS r ON r.rowid = l.target_rowid "
            f"JOIN {self.source} AS s ON {self.identity} = l.source_rowid "
            f"WHERE l.table_id = {self.table_id} AND l.shard = {part.shard} "
            f"AND l.in_conflicts = {part.in_conflicts} AND {'' if equal else 'NOT '}{agreement}"
        )

    def counts(self) -> tuple[int, int, int]:
        """(source rows, links, links reaching an equal row)."""
        matched = sum(self._count(f"SELECT count(*) {self._reached(part, True)}") for part in self.parts)
        links = self._count(f"SELECT count(*) FROM main.migration_row_links WHERE table_id = {self.table_id}")
        return self._count(self.source_rows_sql), links, matched

    def differences(self) -> Differences:
        """Identities of rows that differ, are missing, or are reached but not in the source."""
        limit = SHOWN_DIFFERENCES + 1
        changed = sorted({
            row[0]
            for part in self.parts
            for row in self._query(
                f"SELECT l.source_rowid {self._reached(part, False)} ORDER BY 1 LIMIT {limit}"
            )
        })
        placed = any_of([
            f"(l.shard = {part.shard} AND l.in_conflicts = {part.in_conflicts} AND EXISTS "
            f"(SELECT 1 FROM {part.schema}.{q(part.table)} AS r WHERE r.rowid = l.target_rowid))"
            for part in self.parts
        ])
        missing = [
            row[0]
            for row in self._query(
                f"SELECT {self.identity} FROM {self.source} AS s WHERE NOT EXISTS "
                f"(SELECT 1 FROM main.migration_row_links AS l WHERE l.table_id = {self.table_id} "
                f"AND l.source_rowid = {self.identity} AND ({placed})) ORDER BY 1 LIMIT {limit}"
            )
        ]
        extra = [
            row[0]
            for row in self._query(
                f"SELECT l.source_rowid FROM main.migration_row_links AS l "
                f"WHERE l.table_id = {self.table_id} AND ({placed}) AND NOT {self.in_source} "
                f"ORDER BY 1 LIMIT {limit}"
            )
        ]
        return Differences(changed, missing, extra)
