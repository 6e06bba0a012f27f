"""Fingerprints: a row holding a large blob is hashed from the file in pieces, to the same
fingerprint SQLite's own ``quote()`` of the whole row gives."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing

from conftest import make_database, sqldiff
from consolidation.merge import MigrationSettings, migrate
from consolidation.proof import rebuild_source, verify_database
from consolidation.sqlite import describe_source
from consolidation.sqlite.describe import fingerprint_source
from consolidation.sqlite.fingerprint import (
    STREAMED_BLOB_BYTES,
    rows_fingerprint,
    table_fingerprint,
)

LIMIT = 50_000_000


def _large_blob_source(path):
    source = make_database(
        path,
        "CREATE TABLE b (id INTEGER PRIMARY KEY, name TEXT, data BLOB, more BLOB, score REAL, "
        "doubled BLOB GENERATED ALWAYS AS (data || data) VIRTUAL)",
        "CREATE TABLE plain (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID",
    )
    with closing(sqlite3.connect(source)) as connection:
        rows = [
            (1, "small", b"\x00\x01'", None, 1.5),
            (2, "one large", os.urandom(STREAMED_BLOB_BYTES * 2 + 17), b"x", 0.1),
            (3, "two large", os.urandom(STREAMED_BLOB_BYTES + 1), os.urandom(STREAMED_BLOB_BYTES * 3), None),
            (4, "it's text", "a 'quoted' text", STREAMED_BLOB_BYTES, -0.0),
        ]
        connection.executemany("INSERT INTO b (id, name, data, more, score) VALUES (?, ?, ?, ?, ?)", rows)
        connection.execute("INSERT INTO plain VALUES ('k', ?)", (os.urandom(STREAMED_BLOB_BYTES + 5),))
        connection.commit()
    return source


def _quoted_in_sql(connection, description):
    """Each table's fingerprint with every row serialised by SQLite whole (no pieces)."""
    return {
        table.name: rows_fingerprint(connection, table.select_rows("main"), 1 + len(table.columns))
        for table in description.tables
    }


def test_large_blobs_read_in_pieces_hash_as_quote_does(tmp_path):
    source = _large_blob_source(tmp_path / "large.db")
    with closing(sqlite3.connect(source)) as connection:
        description = describe_source(connection, "main")
        streamed, _ = fingerprint_source(connection, "main", description)
        assert streamed == _quoted_in_sql(connection, description)
        assert streamed["b"].startswith("4:")
        whole = "SELECT rowid, id, name, data, more, score, doubled FROM b"
        assert table_fingerprint(connection, "b") == rows_fingerprint(connection, whole, 7)


def test_one_changed_byte_inside_a_large_blob_changes_the_fingerprint(tmp_path):
    source = _large_blob_source(tmp_path / "large.db")
    with closing(sqlite3.connect(source)) as connection:
        before = table_fingerprint(connection, "b")
        data = bytearray(connection.execute("SELECT more FROM b WHERE id = 3").fetchone()[0])
        data[STREAMED_BLOB_BYTES + 3] ^= 1
        connection.execute("UPDATE b SET more = ? WHERE id = 3", (bytes(data),))
        assert table_fingerprint(connection, "b") != before


def test_sources_with_large_blobs_migrate_verify_and_rebuild(tmp_path):
    """The ledger's proof reads large blobs in pieces from whichever table holds them (the
    merged table, or the conflicts table for the version that lost), and still catches one
    changed byte."""
    first = _large_blob_source(tmp_path / "legacy" / "first.db")
    second = _large_blob_source(tmp_path / "legacy" / "second.db")  # same keys, other random blobs
    target = tmp_path / "enterprise_assets.db"
    migrate(target, [first, second], MigrationSettings(limit=LIMIT))
    with closing(sqlite3.connect(target)) as connection:
        assert connection.execute("SELECT count(*) FROM assetdb_conflicts_b").fetchone()[0] == 2  # ids 2 and 3
    assert verify_database(target, [first, second], LIMIT).ok  # the live join proof
    assert verify_database(target, [], LIMIT).ok  # the ledger: fingerprints taken in pieces, at migration
    for source in (first, second):
        rebuilt = tmp_path / f"rebuilt-{source.name}"
        rebuild_source(target, source.name, rebuilt)
        assert sqldiff(source, rebuilt) == ""
    with closing(sqlite3.connect(target)) as connection:
        data = bytearray(connection.execute("SELECT more FROM assetdb_conflicts_b WHERE id = 3").fetchone()[0])
        data[-1] ^= 1
        connection.execute("UPDATE assetdb_conflicts_b SET more = ? WHERE id = 3", (bytes(data),))
        connection.commit()
    failures = verify_database(target, [], LIMIT).failures()
    assert any("second.db:b" in failure and "fingerprint" in failure for failure in failures), failures
