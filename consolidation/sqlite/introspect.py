"""Names and shapes of SQLite schema objects, quoted and queried one way.

Identifiers are always quoted with :func:`quote_identifier`, whatever characters they
hold, and "does this table exist?" is asked with :func:`has_table` everywhere.
"""

from __future__ import annotations

import sqlite3
import string
from collections.abc import Iterable

ROWID_ALIASES = ("rowid", "_rowid_", "oid")


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def folded(name: str) -> str:
    """``name`` as SQLite compares identifiers: ASCII letters in either case alike, every
    other character as it is (to SQLite ``"É"`` and ``"é"`` are two names; to
    ``str.lower`` one)."""
    return name.translate(_ASCII_LOWER)


def quote_identifier(name: str) -> str:
    """Quote an SQL identifier for SQLite, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def table_columns(connection: sqlite3.Connection, table: str) -> list[str]:
    """Stored and generated columns, excluding virtual-table hidden columns."""
    rows = connection.execute(f"PRAGMA table_xinfo({quote_identifier(table)})").fetchall()
    return [row[1] for row in rows if row[6] != 1]


def free_rowid_alias(column_names: Iterable[str]) -> str | None:
    """The first of ``rowid``, ``_rowid_``, ``oid`` that no column shadows, if any."""
    taken = {folded(name) for name in column_names}
    return next((alias for alias in ROWID_ALIASES if alias not in taken), None)


def rowid_expression(connection: sqlite3.Connection, table: str) -> str | None:
    """An expression selecting the rowid of ``table``, or None for WITHOUT ROWID tables."""
    info = connection.execute(
        "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?", (table,)
    ).fetchone()
    if info is None or info[0]:
        return None
    return free_rowid_alias(table_columns(connection, table))


def ordinary_tables(connection: sqlite3.Connection) -> list[str]:
    """Every table that stores rows itself: internal ``sqlite_*`` and FTS shadow tables too."""
    return [
        row[0]
        for row in connection.execute(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'shadow') "
            "AND name <> 'sqlite_schema' ORDER BY name"
        )
    ]


def has_table(connection: sqlite3.Connection, schema: str, name: str) -> bool:
    """Whether ``schema`` holds a table called ``name`` (as SQLite matches names: ASCII
    letters in any case)."""
    return (
        connection.execute(
            f"SELECT 1 FROM {schema}.sqlite_schema WHERE type = 'table' AND lower(name) = lower(?)", (name,)
        ).fetchone()
        is not None
    )


def name_taken(connection: sqlite3.Connection, schema: str, name: str) -> bool:
    """Whether any table, index, view or trigger of ``schema`` is called ``name``: they share
    one namespace, so a new table cannot take a name an index has."""
    return (
        connection.execute(f"SELECT 1 FROM {schema}.sqlite_schema WHERE lower(name) = lower(?)", (name,)).fetchone()
        is not None
    )
