"""Recreating a database from its description: schema, header, rows, SQLite's own rows.

Two things rebuild a database object by object rather than copy its pages: a rebuild of
a source from the consolidated set, and a copy in another text encoding (SQLite attaches
only databases in the main one's encoding, so a UTF-16 source is read through a UTF-8
copy and rebuilt in UTF-16 again). Both follow the same order: header fields that must
come first, every CREATE statement in its original order (shadow tables and automatic
indexes come by themselves, triggers wait until the rows are in, or they would fire on
them), the rows, external-content full-text indexes rebuilt over them, then
``sqlite_sequence``/``sqlite_stat*`` exactly as recorded and the remaining header fields.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator

from ..errors import Aborted
from .describe import (
    SourceDescription,
    SourceTable,
    content_option,
    describe_source,
    untyped,
)
from .header import read_header
from .introspect import quote_identifier as q

#: ``PRAGMA encoding`` values, by the number in the database header (offset 56).
ENCODINGS = {1: "UTF-8", 2: "UTF-16le", 3: "UTF-16be"}
#: Rows handed from one connection to the other at a time when copying through Python.
COPY_BATCH = 256


def source_encoding(path) -> str:
    """The text encoding a database file records (``UTF-8`` for an empty file)."""
    return ENCODINGS.get(read_header(path).text_encoding, "UTF-8") if os.stat(path).st_size else "UTF-8"


def journal_mode(path) -> str:
    """``wal`` or ``rollback``: the journal mode a database file records (``rollback`` for an
    empty file)."""
    return read_header(path).journal_mode if os.stat(path).st_size else "rollback"


def in_wal_mode(path) -> None:
    """Put a finished file in WAL mode, as its header then records; closed at once, so no
    ``-wal`` is left beside it."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
    finally:
        connection.close()


def prepare_like(connection: sqlite3.Connection, header: dict) -> None:
    """Give the new, empty main database of ``connection`` the page size and auto-vacuum of
    ``header``, and let in rows a CHECK of the schema refuses: the rows are the source's as
    they are, and one such got in there all the same (under ``ignore_check_constraints``,
    or before the CHECK was declared)."""
    connection.execute(f"PRAGMA page_size = {int(header.get('page_size', 4096))}")
    connection.execute(f"PRAGMA auto_vacuum = {int(header.get('auto_vacuum', 0))}")
    connection.execute("PRAGMA ignore_check_constraints = ON")


def recreate(
    connection: sqlite3.Connection,
    schema_objects: list[list],
    header: dict,
    internal_rows: dict[str, list[list]],
    fill: Callable[[], int],
) -> int:
    """Recreate into the new, empty database of ``connection``; ``fill`` puts the rows in
    (returning how many). One transaction; returns the row count."""
    connection.execute(f"PRAGMA encoding = '{header.get('encoding', 'UTF-8')}'")
    prepare_like(connection, header)
    connection.execute("BEGIN")
    deferred = []
    for kind, name, _table, sql in schema_objects:
        if sql is None or name.startswith("sqlite_") or kind == "shadow":
            continue
        if kind == "trigger":
            deferred.append(sql)
        else:
            connection.execute(sql)
    rows = fill()
    for kind, name, _table, sql in schema_objects:
        if kind == "table" and content_option(sql):  # an external-content index over the rows
            connection.execute(f"INSERT INTO main.{q(name)} ({q(name)}) VALUES ('rebuild')")
    restore_internal_rows(connection, internal_rows)
    for sql in deferred:
        connection.execute(sql)
    connection.execute(f"PRAGMA user_version = {int(header.get('user_version', 0))}")
    connection.execute(f"PRAGMA application_id = {int(header.get('application_id', 0))}")
    connection.execute("COMMIT")
    return rows


def restore_internal_rows(connection: sqlite3.Connection, internal_rows: dict[str, list[list]]) -> None:
    """Put back ``sqlite_sequence`` and ``sqlite_stat*`` exactly, rowids included."""
    if any(table.startswith("sqlite_stat") for table in internal_rows):
        connection.execute("ANALYZE sqlite_schema")  # creates the statistics tables
    present = {row[0] for row in connection.execute("SELECT name FROM main.sqlite_schema WHERE type = 'table'")}
    if "sqlite_sequence" in internal_rows and "sqlite_sequence" not in present:
        # SQLite keeps sqlite_sequence once made, even after its AUTOINCREMENT tables are
        # dropped; only such a table makes it, so one is made and dropped again
        connection.execute("CREATE TABLE main.assetdb_sequence_maker (id INTEGER PRIMARY KEY AUTOINCREMENT)")
        connection.execute("DROP TABLE main.assetdb_sequence_maker")
        present.add("sqlite_sequence")
    for table in ("sqlite_sequence", "sqlite_stat1", "sqlite_stat4"):
        if table in present:
            connection.execute(f"DELETE FROM main.{q(table)}")
    for table, rows in internal_rows.items():
        if table not in present:
            raise Aborted(f"cannot restore {table}: this SQLite build does not create it")
        columns = ", ".join(q(row[1]) for row in connection.execute(f"PRAGMA main.table_info({q(table)})"))
        for row in rows:
            values = [untyped(value) for value in row]
            connection.execute(f"INSERT INTO main.{q(table)} (rowid, {columns}) VALUES ({', '.join('?' * len(values))})",
                               values)


def _batches(cursor: sqlite3.Cursor) -> Iterator[list[tuple]]:
    while batch := cursor.fetchmany(COPY_BATCH):
        yield batch


def _copy_rows(source: sqlite3.Connection, out: sqlite3.Connection, table: SourceTable, encoding: str) -> int:
    """Every row of ``table``, its text handed over without passing through a Python string
    where one cannot carry it: a UTF-16 text may hold a lone surrogate, which SQLite stores
    and converts (to UTF-8 as three bytes) but which no Python string can hand to SQLite.
    Into UTF-8, text goes as its bytes cast to text; into UTF-16, as a string, and the rare
    text no string can carry is written afterwards as a literal of its UTF-16 bytes."""
    names = ([table.rowid] if table.rowid else []) + [q(name) for name in table.column_names]
    into_utf8 = encoding == "UTF-8"
    values = ", ".join("CASE ? WHEN 'text' THEN CAST(? AS TEXT) ELSE ? END" if into_utf8 else "?" for _ in names)
    insert = f"INSERT INTO main.{q(table.name)} ({', '.join(names)}) VALUES ({values})"
    select = f"SELECT {', '.join(names)}, {', '.join(f'typeof({name})' for name in names)} FROM main.{q(table.name)}"
    width, copied = len(names), 0
    text_factory, source.text_factory = source.text_factory, bytes  # text as SQLite gives it, in UTF-8
    try:
        for batch in _batches(source.execute(select)):
            patches: list[tuple[str, bytes, object]] = []
            rows = []
            for row in batch:
                if into_utf8:  # typeof() arrives as bytes too
                    rows.append([part for value, kind in zip(row[:width], row[width:])
                                 for part in (kind.decode(), value if kind == b"text" else None, value)])
                    continue
                rows.append([_as_string(value, name, row, table, patches) if kind == b"text" else value
                             for value, kind, name in zip(row[:width], row[width:], names)])
            out.executemany(insert, rows)
            for name, utf8, rowid in patches:
                literal = utf8.decode("utf-8", "surrogatepass").encode(CODECS[encoding], "surrogatepass").hex()
                out.execute(f"UPDATE main.{q(table.name)} SET {name} = CAST(x'{literal}' AS TEXT) WHERE rowid = ?",
                            (rowid,))
            copied += len(batch)
    finally:
        source.text_factory = text_factory
    return copied


#: Python's name of each UTF-16 text encoding a SQLite file may have.
CODECS = {"UTF-16le": "utf-16-le", "UTF-16be": "utf-16-be"}


def _as_string(utf8: bytes, name: str, row: tuple, table: SourceTable, patches: list) -> str:
    """A text as a Python string; one no string can carry (a lone surrogate) is held back as
    '' and noted, to be written by its row's rowid once the row is in."""
    try:
        return utf8.decode("utf-8")
    except UnicodeDecodeError:
        if not table.rowid:
            raise Aborted(f"{table.name}: a text no UTF-16 string can carry, in a table without rowid; it cannot "
                          "be written in UTF-16") from None
        patches.append((name, utf8, row[0]))
        return ""


def transcode(source: sqlite3.Connection, out: sqlite3.Connection, encoding: str) -> int:
    """Copy the database of ``source`` into the new, empty database of ``out``, in
    ``encoding``: the same schema, header fields, rowids and values (text as text,
    converted by SQLite; every other storage class as it is). Returns the rows copied."""
    description: SourceDescription = describe_source(source)
    header = {**description.header, "encoding": encoding}

    def fill() -> int:
        return sum(_copy_rows(source, out, table, encoding) for table in description.tables + description.virtual_tables)

    return recreate(out, description.schema_objects, header, description.internal_rows, fill)
