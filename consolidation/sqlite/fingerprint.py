"""Logical content fingerprints of SQLite tables and databases.

Two files with the same schema and the same rows (same rowids, same values, same
storage classes) have the same fingerprint, whatever their page layout, free pages or
journal mode. Backups use it to prove a copy is faithful; the migration ledger uses it
to prove a source is unchanged or fully accounted for.

A table's fingerprint is ``ROWS:SHA256`` over its rows in identity order, each row
serialised by SQLite's own ``quote()``: self-delimiting, exact for every storage class
(``1``, ``1.0``, ``'1'`` and ``X'31'`` all differ; reals round-trip), and computed in C,
so Python only feeds large chunks to the hash.
"""

from __future__ import annotations

import hashlib
import sqlite3

from .expressions import balanced
from .introspect import (
    ordinary_tables,
    quote_identifier,
    rowid_expression,
    table_columns,
)

#: Rows are fetched in batches sized by bytes, not by count: a batch Python holds stays
#: near BATCH_BYTES whatever the width of a row (a row of 1 MB blobs is 2 MB quoted).
BATCH_BYTES = 8 << 20
FIRST_BATCH_ROWS = 16
MAX_BATCH_ROWS = 4096


def file_sha256(*paths) -> str:
    """SHA-256 of the bytes of ``paths``, one after the other, read in chunks."""
    hasher = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(chunk)
    return hasher.hexdigest()


def fingerprint_query(select: str, width: int, unique_first: bool = True, in_order: bool = False) -> str:
    """The query :func:`rows_fingerprint` hashes the rows of: one serialised row each."""
    names = [f"c{index}" for index in range(width)]
    serialised = balanced([f"quote({name})" for name in names], "|| ',' ||", "''")
    order = "" if in_order else " ORDER BY " + ("c0" if unique_first else ", ".join(names))
    return f"WITH r({', '.join(names)}) AS ({select}) SELECT {serialised} FROM r{order}"


def rows_fingerprint(connection: sqlite3.Connection, select: str, width: int, unique_first: bool = True,
                     in_order: bool = False) -> str:
    """``ROWS:SHA256`` over the rows of a ``SELECT`` with ``width`` columns, in order of the
    first column when it is unique (a rowid or an identity: a rowid scan needs no sort),
    else of all columns. ``in_order``: the ``SELECT`` orders its rows by its first column
    itself, in a way SQLite satisfies without sorting (an identity computed from a join
    would otherwise be sorted again, large rows and all)."""
    query = fingerprint_query(select, width, unique_first, in_order)
    previous_factory = connection.text_factory
    connection.text_factory = bytes  # TEXT as bytes: invalid UTF-8 must hash too
    hasher = hashlib.sha256()
    rows = 0
    try:
        cursor = connection.execute(query)
        batch_rows = FIRST_BATCH_ROWS
        while batch := cursor.fetchmany(batch_rows):
            held = 0
            for (serialised_row,) in batch:
                hasher.update(serialised_row)
                hasher.update(b"\n")
                held += len(serialised_row)
            rows += len(batch)
            batch_rows = max(1, min(MAX_BATCH_ROWS, BATCH_BYTES * len(batch) // max(1, held)))
            del batch
    finally:
        connection.text_factory = previous_factory
    return f"{rows}:{hasher.hexdigest()}"


def table_fingerprint(connection: sqlite3.Connection, table: str) -> str:
    """``ROWS:SHA256`` over every row of ``table``, rowid included where there is one."""
    columns = [quote_identifier(column) for column in table_columns(connection, table)]
    rowid = rowid_expression(connection, table)
    if rowid:
        columns.insert(0, rowid)
    select = f"SELECT {', '.join(columns)} FROM {quote_identifier(table)}"
    return rows_fingerprint(connection, select, len(columns), unique_first=rowid is not None)


def database_fingerprint(connection: sqlite3.Connection) -> str:
    """SHA-256 over the schema and every ordinary table's fingerprint.

    Virtual tables contribute their schema only: their rows live in shadow tables,
    which are ordinary tables and are fingerprinted as such.
    """
    hasher = hashlib.sha256()
    for row in connection.execute(
        "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema ORDER BY type, name"
    ):
        hasher.update(repr(row).encode())
    for table in ordinary_tables(connection):
        hasher.update(f"{table}={table_fingerprint(connection, table)};".encode())
    return hasher.hexdigest()
