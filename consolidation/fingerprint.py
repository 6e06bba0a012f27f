"""Logical content fingerprints of SQLite tables and databases.

Two files with the same schema and the same rows (same rowids, same values, same
storage classes) have the same fingerprint, whatever their page layout, free pages or
journal mode. Backups use it to prove a copy is faithful; the migration ledger uses it
to prove a source is unchanged or fully accounted for.

A table's fingerprint is ``ROWS:SUM`` where SUM adds up the SHA-256 of every row modulo
2**256. Addition makes it independent of row order and lets a multiset be fingerprinted
piecewise; every value is tagged with its storage class, so ``1``, ``1.0``, ``'1'`` and
``x'31'`` all differ.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable

MODULUS = 2**256
ROWID_ALIASES = ("rowid", "_rowid_", "oid")


def quote_identifier(name: str) -> str:
    """Quote an SQL identifier for SQLite, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def _encode_value(storage_class: bytes, value: object) -> bytes:
    if value is None:
        return b"n;"
    if isinstance(value, bytes):
        return storage_class[:1] + str(len(value)).encode() + b":" + value
    if isinstance(value, float):
        return b"r" + value.hex().encode() + b";"
    return b"i" + str(value).encode() + b";"


def row_digest(typed_values: Iterable[tuple[bytes, object]]) -> int:
    """SHA-256 of one row, as an integer, from ``(storage class, value)`` pairs."""
    hasher = hashlib.sha256()
    for storage_class, value in typed_values:
        hasher.update(_encode_value(storage_class, value))
    return int.from_bytes(hasher.digest(), "big")


def table_columns(connection: sqlite3.Connection, table: str) -> list[str]:
    """Stored and generated columns, excluding virtual-table hidden columns."""
    rows = connection.execute(f"PRAGMA table_xinfo({quote_identifier(table)})").fetchall()
    return [row[1] for row in rows if row[6] != 1]


def free_rowid_alias(column_names: Iterable[str]) -> str | None:
    """The first of ``rowid``, ``_rowid_``, ``oid`` that no column shadows, if any."""
    taken = {name.lower() for name in column_names}
    return next((alias for alias in ROWID_ALIASES if alias not in taken), None)


def rowid_expression(connection: sqlite3.Connection, table: str) -> str | None:
    """An expression selecting the rowid of ``table``, or None for WITHOUT ROWID tables."""
    info = connection.execute(
        "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?", (table,)
    ).fetchone()
    if info is None or info[0]:
        return None
    return free_rowid_alias(table_columns(connection, table))


def rows_fingerprint(connection: sqlite3.Connection, select: str, width: int) -> str:
    """``ROWS:SUM`` over the rows of a ``SELECT`` with ``width`` result columns."""
    names = [f"c{index}" for index in range(width)]
    typed = ", ".join(f"typeof({name}), {name}" for name in names)
    query = f"WITH r({', '.join(names)}) AS ({select}) SELECT {typed} FROM r"
    previous_factory = connection.text_factory
    connection.text_factory = bytes  # read TEXT as bytes: invalid UTF-8 must hash too
    try:
        rows = 0
        total = 0
        for row in connection.execute(query):
            total = (total + row_digest(zip(row[0::2], row[1::2]))) % MODULUS
            rows += 1
    finally:
        connection.text_factory = previous_factory
    return f"{rows}:{total:064x}"


def table_fingerprint(connection: sqlite3.Connection, table: str) -> str:
    """``ROWS:SUM`` over every row of ``table``, rowid included where there is one."""
    columns = [quote_identifier(column) for column in table_columns(connection, table)]
    rowid = rowid_expression(connection, table)
    if rowid:
        columns.insert(0, rowid)
    return rows_fingerprint(connection, f"SELECT {', '.join(columns)} FROM {quote_identifier(table)}", len(columns))


def ordinary_tables(connection: sqlite3.Connection) -> list[str]:
    """Every table that stores rows itself: internal ``sqlite_*`` and FTS shadow tables too."""
    return [
        row[0]
        for row in connection.execute(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'shadow') "
            "AND name <> 'sqlite_schema' ORDER BY name"
        )
    ]


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
