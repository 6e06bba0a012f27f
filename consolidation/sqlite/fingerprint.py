"""Logical content fingerprints of SQLite tables and databases.

Two files with the same schema and the same rows (same rowids, same values, same
storage classes) have the same fingerprint, whatever their page layout, free pages or
journal mode. Backups use it to prove a copy is faithful; the migration ledger uses it
to prove a source is unchanged or fully accounted for.

A table's fingerprint is ``ROWS:v3:SHA256`` over its rows in identity order, each value
serialised in SQL as its storage class, then (text and blobs) its length in bytes and its
bytes as they are, (numbers) its exact text: self-delimiting, exact for every storage
class (``1``, ``1.0``, ``'1'`` and ``X'31'`` all differ; reals round-trip, -0.0 apart from
0.0; a text holding a NUL keeps what follows it), computed in C, so Python only feeds the
hash. A blob larger than STREAMED_BLOB_BYTES in a table with a rowid is hashed the same
way, but read from the file in pieces: never held whole.

Fingerprints recorded before are still taken in their format to be compared with
(:func:`fingerprint_format`): format 1 (``ROWS:SHA256``) serialised each value with
``quote()``, which drops what follows a NUL in a text and spells blobs in hex; format 2
(``ROWS:v2:SHA256``) is format 3 but for the sign of a zero, which it spelled 0.0 either way.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass

from .expressions import any_of, balanced
from .introspect import (
    ordinary_tables,
    quote_identifier,
    rowid_expression,
    table_columns,
)
from .signed_zero import NEGATIVE_ZERO, tell_the_sign_of_zero

#: Rows are fetched in batches sized by bytes, not by count: a batch Python holds stays
#: near BATCH_BYTES whatever the width of a row (a row of 1 MB blobs is 2 MB quoted).
BATCH_BYTES = 8 << 20
FIRST_BATCH_ROWS = 16
MAX_BATCH_ROWS = 4096
#: Blobs longer than this are read in pieces of this size (where the table allows it).
STREAMED_BLOB_BYTES = 1 << 20
#: The format fingerprints are taken in now (see the module's docstring).
FORMAT = 3
def fingerprint_format(fingerprint: str) -> int:
    """The format a recorded fingerprint was taken in: a table's ``ROWS:SHA256`` and a
    database's bare ``SHA256`` are 1; ``ROWS:vN:SHA256`` and ``vN:SHA256`` are N."""
    tags = [part for part in fingerprint.split(":")[:-1] if part[:1] == "v" and part[1:].isdigit()]
    return int(tags[0][1:]) if tags else 1


def _serialised(value: str, form: int = FORMAT, raw_blobs: bool = True) -> str:
    """SQL: the value of ``value`` (an expression) as the fingerprint hashes it. From format 2
    on it is text in the database's encoding, read back as the bytes it is (:func:`_as_read`).
    A blob joins that text as it is in a UTF-8 database; a UTF-16 one would drop an odd
    last byte, so there (``raw_blobs`` false) blobs are spelled in hex, tagged apart."""
    if form == 1:
        return f"quote({value})"
    blob = (f"'b' || length({value}) || ':' || {value}" if raw_blobs
            else f"'B' || length({value}) || ':' || hex({value})")
    real = (f"CASE WHEN {value} <> 0 OR NOT {NEGATIVE_ZERO}({value}) THEN quote({value}) ELSE '-0.0' END"
            if form >= 3 else f"quote({value})")
    return (
        f"CASE typeof({value}) WHEN 'null' THEN 'n' WHEN 'integer' THEN 'i' || {value} "
        f"WHEN 'real' THEN 'r' || {real} "
        f"WHEN 'text' THEN 't' || length(CAST({value} AS BLOB)) || ':' || {value} "
        f"ELSE {blob} END"
    )


def _raw_blobs(connection: sqlite3.Connection) -> bool:
    """Can blobs join serialised text as they are? Only where text is UTF-8 (an attached
    database always has the main one's encoding)."""
    return connection.execute("PRAGMA encoding").fetchone()[0] == "UTF-8"


def _as_read(serialised_sql: str, form: int) -> str:
    """How serialised text is read back: as the bytes it is (format 2), or as text."""
    return serialised_sql if form == 1 else f"CAST({serialised_sql} AS BLOB)"


@dataclass(frozen=True)
class StoredRows:
    """Where the rows of a fingerprinted ``SELECT`` are stored, so that large blobs can be
    read in pieces: rows of ``table`` in ``schema`` (``rowid`` names its rowid), the
    ``SELECT``'s columns after the first being ``columns`` of that table, in order."""

    schema: str
    table: str
    rowid: str
    columns: list[str]


def file_sha256(*paths) -> str:
    """SHA-256 of the bytes of ``paths``, one after the other, read in chunks."""
    hasher = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(chunk)
    return hasher.hexdigest()


def large_blob_in(columns: list[str]) -> str:
    """SQL: does one of ``columns`` (expressions) hold a blob too large to serialise whole?
    (``typeof`` and ``length`` of a stored blob do not read it.)"""
    return any_of([f"(typeof({c}) = 'blob' AND length({c}) > {STREAMED_BLOB_BYTES})" for c in columns])


def fingerprint_query(select: str, width: int, unique_first: bool = True, in_order: bool = False,
                      streamed: bool = False, located: bool = False, form: int = FORMAT,
                      raw_blobs: bool = True) -> str:
    """The query :func:`rows_fingerprint` hashes the rows of: one serialised row each (on a
    connection given ``signed_zero.tell_the_sign_of_zero`` first, from format 3 on).

    With ``streamed``, a row holding a blob too large to serialise in SQL comes with a NULL
    serialised row and its first column, to be serialised in pieces. With ``located`` the
    ``SELECT`` says so itself in three more columns (large or not, the index of the table
    holding the row, its rowid there), and those come instead.
    """
    names = [f"c{index}" for index in range(width)]
    places = ["p_large", "p_part", "p_rowid"] if located else []
    row = _as_read(balanced([_serialised(name, form, raw_blobs) for name in names], "|| ',' ||", "''"), form)
    order = "" if in_order else " ORDER BY " + ("c0" if unique_first else ", ".join(names))
    if located:
        where = ", ".join(f"CASE WHEN p_large THEN {name} END" for name in ["c0", "p_part", "p_rowid"])
        row = f"CASE WHEN p_large THEN NULL ELSE {row} END, {where}"
    elif streamed and width > 1:
        large = large_blob_in(names[1:])
        row = f"CASE WHEN {large} THEN NULL ELSE {row} END, CASE WHEN {large} THEN c0 END"
    return f"WITH r({', '.join(names + places)}) AS ({select}) SELECT {row} FROM r{order}"


def _hash_row_in_pieces(connection: sqlite3.Connection, place: StoredRows, identity: int, rowid: int,
                        hasher, form: int, raw_blobs: bool) -> None:
    """Feed ``hasher`` the serialised row with ``identity`` stored at ``rowid`` of ``place``
    (as :func:`serialised` makes it), reading large blobs in pieces."""
    table = f"{place.schema}.{quote_identifier(place.table)}"
    small = [
        f"CASE WHEN typeof({quote_identifier(c)}) = 'blob' AND length({quote_identifier(c)}) > {STREAMED_BLOB_BYTES} "
        f"THEN NULL ELSE {_as_read(_serialised(quote_identifier(c), form, raw_blobs), form)} END"
        for c in place.columns
    ]
    values = connection.execute(f"SELECT {', '.join(small)} FROM {table} WHERE {place.rowid} = ?", (rowid,)).fetchone()
    hasher.update((str(identity) if form == 1 else f"i{identity}").encode())
    for column, value in zip(place.columns, values):
        hasher.update(b",")
        if value is not None:
            hasher.update(value)
            continue
        try:
            blob = connection.blobopen(place.table, column, rowid, readonly=True, name=place.schema)
        except sqlite3.OperationalError:  # a generated column is computed, not stored: serialised whole
            hasher.update(connection.execute(
                f"SELECT {_as_read(_serialised(quote_identifier(column), form, raw_blobs), form)} FROM {table} "
                f"WHERE {place.rowid} = ?", (rowid,)
            ).fetchone()[0])
            continue
        hexed = form == 1 or not raw_blobs
        with blob:
            hasher.update(b"X'" if form == 1 else f"{'b' if raw_blobs else 'B'}{len(blob)}:".encode())
            while piece := blob.read(STREAMED_BLOB_BYTES):
                hasher.update(piece.hex().upper().encode() if hexed else piece)
            if form == 1:
                hasher.update(b"'")


def rows_fingerprint(connection: sqlite3.Connection, select: str, width: int, unique_first: bool = True,
                     in_order: bool = False, stored: StoredRows | list[StoredRows] | None = None,
                     form: int = FORMAT) -> str:
    """``ROWS:SHA256`` over the rows of a ``SELECT`` with ``width`` columns, in order of the
    first column when it is unique (a rowid or an identity: a rowid scan needs no sort),
    else of all columns. ``in_order``: the ``SELECT`` orders its rows by its first column
    itself, in a way SQLite satisfies without sorting (an identity computed from a join
    would otherwise be sorted again, large rows and all). ``stored``: where the rows live,
    so that a row holding a blob past STREAMED_BLOB_BYTES is read in pieces; a list when
    they live in several tables, the ``SELECT`` then ending with three more columns: does
    the row hold such a blob, the index of its table in the list, its rowid there.
    ``form``: the format to take it in (a recorded one's, to compare with it)."""
    places = stored if isinstance(stored, list) else None  # rows from several tables: which, and where
    raw_blobs = _raw_blobs(connection)
    tell_the_sign_of_zero(connection)
    query = fingerprint_query(select, width, unique_first, in_order, streamed=stored is not None,
                              located=places is not None, form=form, raw_blobs=raw_blobs)
    previous_factory = connection.text_factory
    connection.text_factory = bytes  # TEXT as bytes: invalid UTF-8 must hash too
    hasher = hashlib.sha256()
    rows = 0
    try:
        cursor = connection.execute(query)
        batch_rows = FIRST_BATCH_ROWS
        while batch := cursor.fetchmany(batch_rows):
            serialised = [row[0] for row in batch]
            held = sum(map(len, filter(None, serialised)))
            if None not in serialised:  # every row serialised whole: one piece, not row by row
                hasher.update(b"\n".join(serialised))
                hasher.update(b"\n")
            else:
                for serialised_row, *large in batch:
                    if serialised_row is None and places:  # a row with a large blob: serialised here, in pieces
                        identity, part, rowid = large
                        _hash_row_in_pieces(connection, places[part], identity, rowid, hasher, form, raw_blobs)
                    elif serialised_row is None:
                        _hash_row_in_pieces(connection, stored, large[0], large[0], hasher, form, raw_blobs)
                    else:
                        hasher.update(serialised_row)
                    hasher.update(b"\n")
            rows += len(batch)
            batch_rows = max(1, min(MAX_BATCH_ROWS, BATCH_BYTES * len(batch) // max(1, held)))
            del batch, serialised
    finally:
        connection.text_factory = previous_factory
    return f"{rows}:{hasher.hexdigest()}" if form == 1 else f"{rows}:v{form}:{hasher.hexdigest()}"


def table_fingerprint(connection: sqlite3.Connection, table: str, form: int = FORMAT) -> str:
    """The fingerprint of every row of ``table``, rowid included where there is one."""
    columns = [quote_identifier(column) for column in table_columns(connection, table)]
    rowid = rowid_expression(connection, table)
    if rowid:
        columns.insert(0, rowid)
    select = f"SELECT {', '.join(columns)} FROM {quote_identifier(table)}"
    stored = StoredRows("main", table, rowid, table_columns(connection, table)) if rowid else None
    return rows_fingerprint(connection, select, len(columns), unique_first=rowid is not None, stored=stored,
                            form=form)


def database_fingerprint(connection: sqlite3.Connection, form: int = FORMAT) -> str:
    """SHA-256 over the schema and every ordinary table's fingerprint, taken in format
    ``form`` (``v3:SHA256``; a bare ``SHA256`` is format 1, as backups recorded it before).

    Virtual tables contribute their schema only: their rows live in shadow tables,
    which are ordinary tables and are fingerprinted as such.
    """
    hasher = hashlib.sha256()
    for row in connection.execute(
        "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema ORDER BY type, name"
    ):
        hasher.update(repr(row).encode())
    for table in ordinary_tables(connection):
        hasher.update(f"{table}={table_fingerprint(connection, table, form)};".encode())
    return hasher.hexdigest() if form == 1 else f"v{form}:{hasher.hexdigest()}"
