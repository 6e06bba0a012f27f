"""The live proof of one source table, as joins inside SQLite.

Every source row must reach, through its provenance link, a consolidated row (merged, or
kept in the conflicts table) equal to it in value *and* storage class, compared byte for
byte; the source's rows, the rows the links cover and the rows they reach must be as many. Counting the
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
from ..sqlite.describe import untyped_columns
from ..sqlite.expressions import any_of, same_row
from ..sqlite.introspect import quote_identifier as q
from ..store.provenance import covering_link
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
        self.live = live
        self.table = table
        self.table_id = int(table.table_id)
        self.parts = table.parts(connection, shards)
        self.columns = [q(name) for name in table.columns]
        source = f"{schema}.{q(live.name)}"
        if live.rowid:  # seek the source row by its rowid
            self.numbered, self.source, self.identity = [], source, f"s.{live.rowid}"
            self.in_source = lambda identity: f"EXISTS (SELECT 1 FROM {source} AS s WHERE s.{live.rowid} = {identity})"
        else:  # WITHOUT ROWID: rows are numbered in key order once per statement, then sought by number
            self.numbered = [f"numbered AS MATERIALIZED ({live.select_rows(schema)})"]
            self.source, self.identity = "numbered", f"s.{q(live.identity_column)}"
            # ordinals are 1…N: a link is to a source row exactly when it is in that range
            self.in_source = lambda identity: f"{identity} BETWEEN 1 AND (SELECT count(*) FROM {source})"
        self.source_rows_sql = f"SELECT count(*) FROM {source}"

    def _query(self, sql: str, *ctes: str) -> sqlite3.Cursor:
        ctes = [*self.numbered, *ctes]
        return self.connection.execute((f"WITH RECURSIVE {', '.join(ctes)} " if ctes else "") + sql)

    def _count(self, sql: str) -> int:
        return self._query(sql).fetchone()[0]

    def _reached(self, part: Part, equal: bool) -> str:
        """Links into ``part`` whose source rows and consolidated rows exist, equal or not
        (a link of span n reaches n rows: its source identities and rowids side by side)."""
        untyped = untyped_columns(self.connection, self.live, part.schema, part.table)
        agreement = same_row("s", "r", self.columns, untyped)
        return (
            f"FROM main.migration_row_links AS l "
            f"JOIN {part.schema}.{q(part.table)} AS r "
            f"ON r.rowid BETWEEN l.target_rowid AND l.target_rowid + l.span - 1 "
            f"JOIN {self.source} AS s ON {self.identity} = l.source_rowid + (r.rowid - l.target_rowid) "
            f"WHERE l.table_id = {self.table_id} AND l.shard = {part.shard} "
            f"AND l.in_conflicts = {part.in_conflicts} AND {'' if equal else 'NOT '}{agreement}"
        )

    def counts(self) -> tuple[int, int, int]:
        """(source rows, rows the links cover, rows they reach that are equal)."""
        matched = sum(self._count(f"SELECT count(*) {self._reached(part, True)}") for part in self.parts)
        links = self._count(
            f"SELECT coalesce(sum(span), 0) FROM main.migration_row_links WHERE table_id = {self.table_id}"
        )
        return self._count(self.source_rows_sql), links, matched

    def _placed(self, link: str, identity: str) -> str:
        """Is source identity ``identity`` of link ``link`` stored where the link says?"""
        return any_of([
            f"({link}.shard = {part.shard} AND {link}.in_conflicts = {part.in_conflicts} AND EXISTS "
            f"(SELECT 1 FROM {part.schema}.{q(part.table)} AS r "
            f"WHERE r.rowid = {link}.target_rowid + ({identity} - {link}.source_rowid)))"
            for part in self.parts
        ])

    def differences(self) -> Differences:
        """Identities of rows that differ, are missing, or are reached but not in the source."""
        limit = SHOWN_DIFFERENCES + 1
        changed = sorted({
            row[0]
            for part in self.parts
            for row in self._query(
                f"SELECT l.source_rowid + (r.rowid - l.target_rowid) AS identity {self._reached(part, False)} "
                f"ORDER BY 1 LIMIT {limit}"
            )
        })
        missing = [
            row[0]
            for row in self._query(
                f"SELECT {self.identity} FROM {self.source} AS s WHERE NOT EXISTS "
                f"(SELECT 1 FROM {covering_link(str(self.table_id), self.identity)} "
                f"WHERE {self._placed('l', self.identity)}) ORDER BY 1 LIMIT {limit}"
            )
        ]
        every_linked_row = (  # one row per source identity a link covers
            "linked(identity, last, shard, target_rowid, source_rowid, in_conflicts) AS ("
            "SELECT source_rowid, source_rowid + span - 1, shard, target_rowid, source_rowid, in_conflicts "
            f"FROM main.migration_row_links WHERE table_id = {self.table_id} "
            "UNION ALL SELECT identity + 1, last, shard, target_rowid, source_rowid, in_conflicts FROM linked "
            "WHERE identity < last)"
        )
        extra = [
            row[0]
            for row in self._query(
                f"SELECT l.identity FROM linked AS l WHERE ({self._placed('l', 'l.identity')}) "
                f"AND NOT {self.in_source('l.identity')} ORDER BY 1 LIMIT {limit}",
                every_linked_row,
            )
        ]
        return Differences(changed, missing, extra)
