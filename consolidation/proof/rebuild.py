"""Rebuild an archived source database from the consolidated set: reversible by construction.

The rebuilt file has the source's recorded schema (every CREATE statement, in its
original order), header fields, rows with their original rowids (or keys), values and
storage classes, and its ``sqlite_sequence``/``sqlite_stat1`` rows, so ``sqldiff`` between
the original and the rebuilt file prints nothing. It is written under a temporary name
and renamed into place only once ``integrity_check`` passes.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..errors import Aborted, BadInput
from ..sqlite import readonly_uri
from ..sqlite.describe import content_option
from ..sqlite.introspect import quote_identifier as q
from ..sqlite.recreate import (
    in_wal_mode,
    prepare_like,
    restore_internal_rows,
    transcode,
)
from ..store.identity import require_primary
from ..store.reading import attach_shards_readonly
from .ledger import find_source, read_sources

CONSOLIDATED = "consolidated"


@dataclass(frozen=True)
class RebuildResult:
    source: str
    path: Path
    tables: int
    rows: int
    encoding: str = "UTF-8"
    journal_mode: str = "rollback"  # as the source's file recorded it (sets migrated before say nothing)


def rebuild_source(database: Path | str, name: str, out: Path | str, track=lambda tables: tables) -> RebuildResult:
    """Rebuild source ``name`` into the new file ``out``; ``track`` wraps the loop over its
    tables (a progress bar)."""
    database, out = Path(database), Path(out)
    if os.path.lexists(out):  # a link too, dangling or in a loop: replaced, it would be lost
        raise BadInput(f"{out}: already exists; refusing to overwrite it")
    if not out.parent.is_dir():
        raise BadInput(f"{out.parent}: no such directory")
    partial = out.with_name(f".{out.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with readonly_uri(database) as uri:
            connection = sqlite3.connect(partial, isolation_level=None)
            try:
                # The partial file is nobody's until it is renamed into place: no rollback
                # journal and no syncs while it is written; one fsync before the rename.
                connection.execute("PRAGMA journal_mode = OFF")
                connection.execute("PRAGMA synchronous = OFF")
                connection.execute(f"ATTACH DATABASE ? AS {CONSOLIDATED}", (uri,))
                require_primary(connection, database, CONSOLIDATED)  # a shard, a legacy file: named as what it is
                with attach_shards_readonly(connection, database, CONSOLIDATED) as shards:
                    try:
                        result = _rebuild(connection, name, out, shards, track)
                    except BaseException:
                        if connection.in_transaction:  # or detaching the shards fails ("locked") and hides why
                            connection.execute("ROLLBACK")
                        raise
                connection.execute(f"DETACH DATABASE {CONSOLIDATED}")
                verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                connection.close()
        if verdict != "ok":
            raise Aborted(f"rebuilt {name} failed integrity_check: {verdict}")
        if result.encoding != "UTF-8":
            _in_encoding(partial, result.encoding)
        if result.journal_mode == "wal":  # the source's header said WAL: so does the rebuilt file's
            in_wal_mode(partial)
        _flush(partial)
        partial.replace(out)
    except sqlite3.DatabaseError as error:
        raise BadInput(f"{database}: cannot rebuild {name} ({error})") from None
    finally:
        partial.unlink(missing_ok=True)
    return result


def _flush(path: Path) -> None:
    """Put the file's bytes on disk before it takes its final name."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _in_encoding(partial: Path, encoding: str) -> None:
    """Rewrite the rebuilt file in the source's own text encoding (it was rebuilt in UTF-8,
    the only encoding the consolidated set can be attached to)."""
    converted = partial.with_name(f"{partial.name}.{encoding}")
    converted.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(partial)
        out = sqlite3.connect(converted, isolation_level=None)
        try:
            transcode(source, out, encoding)
        finally:
            source.close()
            out.close()
        converted.replace(partial)
    finally:
        converted.unlink(missing_ok=True)


def _rebuild(connection: sqlite3.Connection, name: str, out: Path, shards: dict[int, str], track) -> RebuildResult:
    try:
        sources = read_sources(connection, CONSOLIDATED)
    except sqlite3.OperationalError:
        raise BadInput("not a consolidated assetdb database (no migration ledger)") from None
    source = find_source(sources, name)
    header = source.header
    prepare_like(connection, header)
    connection.execute("BEGIN")
    deferred = []
    for kind, object_name, _table, sql in source.schema_objects:
        if sql is None or object_name.startswith("sqlite_") or kind == "shadow":
            continue  # automatic indexes, SQLite's own tables and shadow tables come by themselves
        if kind in ("index", "trigger"):
            deferred.append(sql)  # after the rows: a trigger would fire on them; an index is built faster whole
        else:
            connection.execute(sql)
    rows = 0
    for table in track(source.tables):
        names = [f"c{index}" for index in range(len(table.columns))]
        identity = ("rowid, ", "source_rowid, ") if table.row_identity == "rowid" else ("", "")
        reconstruct = table.reconstruct(connection, CONSOLIDATED, shards)
        before = connection.total_changes
        connection.execute(
            f"WITH rebuilt (source_rowid, {', '.join(names)}) AS ({reconstruct}) "
            f"INSERT INTO main.{q(table.source_table)} ({identity[0]}{', '.join(q(c) for c in table.columns)}) "
            f"SELECT {identity[1]}{', '.join(names)} FROM rebuilt"  # in identity order already, unsorted
        )
        rows += connection.total_changes - before
    for kind, object_name, _table, sql in source.schema_objects:
        if kind == "table" and content_option(sql):  # an external-content index over rebuilt rows
            connection.execute(f"INSERT INTO main.{q(object_name)} ({q(object_name)}) VALUES ('rebuild')")
    restore_internal_rows(connection, source.internal_rows)
    for sql in deferred:
        connection.execute(sql)
    connection.execute(f"PRAGMA user_version = {int(header.get('user_version', 0))}")
    connection.execute(f"PRAGMA application_id = {int(header.get('application_id', 0))}")
    connection.execute("COMMIT")
    return RebuildResult(source.name, out, len(source.tables), rows, header.get("encoding", "UTF-8"),
                         header.get("journal_mode", "rollback"))
