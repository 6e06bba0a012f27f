"""Reading the migration ledger of a consolidated set.

Rebuild, verify, the ``conflicts`` listing and the gate all start here, so they read
the ledger one way: a source's recorded schema and header, and for each of its tables
the query that reconstructs its rows (identity first, then the stored columns) from the
merged table and the conflicts table, following ``migration_row_links``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from .errors import BadInput
from .fingerprint import quote_identifier as q


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

    def reconstruct(self, schema: str, has_conflicts_table: bool) -> str:
        """``SELECT identity, columns…`` of this source table, rebuilt from ``schema``."""
        columns = ", ".join(f"r.{q(c)}" for c in self.columns)
        parts = [
            f"SELECT l.source_rowid, {columns} FROM {schema}.migration_row_links AS l "
            f"JOIN {schema}.{q(self.target_table)} AS r ON r.rowid = l.target_rowid "
            f"WHERE l.table_id = {self.table_id} AND l.in_conflicts = 0"
        ]
        if has_conflicts_table:
            parts.append(
                f"SELECT l.source_rowid, {columns} FROM {schema}.migration_row_links AS l "
                f"JOIN {schema}.{q(self.conflicts_table)} AS r ON r.rowid = l.target_rowid "
                f"WHERE l.table_id = {self.table_id} AND l.in_conflicts = 1"
            )
        return " UNION ALL ".join(parts)


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


def has_table(connection: sqlite3.Connection, schema: str, name: str) -> bool:
    return (
        connection.execute(f"SELECT 1 FROM {schema}.sqlite_schema WHERE type = 'table' AND name = ?", (name,)).fetchone()
        is not None
    )


def read_sources(connection: sqlite3.Connection, schema: str = "main") -> list[LedgerSource]:
    """Every migrated source, with its tables, in migration order."""
    sources = []
    for row in connection.execute(
        f"SELECT id, name, original_path, fingerprint, status, schema_objects, internal_rows, header "
        f"FROM {schema}.migration_sources ORDER BY id"
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
                row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), json.loads(row[6]), json.loads(row[7]), tables
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
