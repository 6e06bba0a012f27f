"""Fingerprints: a row holding a large blob is hashed from the file in pieces, to the same
fingerprint SQLite's own ``quote()`` of the whole row gives."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing

import pytest

from conftest import make_database, sqldiff
from consolidation.merge import MigrationSettings, migrate
from consolidation.proof import rebuild_source, verify_database
from consolidation.sqlite import describe_source
from consolidation.sqlite.describe import fingerprint_source
from consolidation.sqlite.fingerprint import (
    FORMAT,
    STREAMED_BLOB_BYTES,
    fingerprint_format,
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


def _serialised_in_sql(connection, description, form):
    """Each table's fingerprint with every row serialised by SQLite whole (no pieces)."""
    return {
        table.name: rows_fingerprint(connection, table.select_rows("main"), 1 + len(table.columns), form=form)
        for table in description.tables
    }


@pytest.mark.parametrize("form", [1, FORMAT], ids=["recorded-before", "now"])
def test_large_blobs_read_in_pieces_hash_as_when_serialised_whole(tmp_path, form):
    source = _large_blob_source(tmp_path / "large.db")
    with closing(sqlite3.connect(source)) as connection:
        description = describe_source(connection, "main")
        streamed, _ = fingerprint_source(connection, "main", description, form)
        assert streamed == _serialised_in_sql(connection, description, form)
        assert streamed["b"].startswith("4:") and fingerprint_format(streamed["b"]) == form
        whole = "SELECT rowid, id, name, data, more, score, doubled FROM b"
        if form == FORMAT:
            assert table_fingerprint(connection, "b") == rows_fingerprint(connection, whole, 7)


def test_the_fingerprint_sees_every_byte_of_a_text_and_tells_classes_apart(tmp_path):
    """quote(), which the first format used, stops a text at its first NUL."""
    source = make_database(tmp_path / "nul.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
    with closing(sqlite3.connect(source)) as connection:
        taken = {}
        for value in ("a\x00b", "a\x00c", b"a\x00b", "1", 1, 1.0, 0.0, -0.0, None, "", b""):
            connection.execute("DELETE FROM t")
            connection.execute("INSERT INTO t VALUES (1, ?)", (value,))
            taken[repr(value)] = table_fingerprint(connection, "t")
        assert len(set(taken.values())) == len(taken), taken
        connection.execute("UPDATE t SET v = ?", ("a\x00b",))
        before = rows_fingerprint(connection, "SELECT rowid, v FROM t", 2, form=1)
        connection.execute("UPDATE t SET v = ?", ("a\x00c",))
        assert rows_fingerprint(connection, "SELECT rowid, v FROM t", 2, form=1) == before  # why it changed


def test_the_sign_of_a_zero_is_seen_by_the_ledger_and_brought_in_by_migrate(tmp_path):
    """SQLite's = and quote() take -0.0 for 0.0; the fingerprint does not. A source whose
    one change is the sign of a zero is migrated again, and a sign changed in the set is a
    failed ledger proof. The format before spelled both 0.0, as it still does to compare."""
    source = make_database(tmp_path / "src" / "zero.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
    with closing(sqlite3.connect(source)) as connection:
        connection.executemany("INSERT INTO t VALUES (?, ?)", [(1, 0.0), (2, 1.5)])
        connection.commit()
        before = {form: rows_fingerprint(connection, "SELECT rowid, v FROM t", 2, form=form) for form in (2, FORMAT)}
        connection.execute("UPDATE t SET v = ? WHERE id = 1", (-0.0,))
        connection.commit()
        after = {form: rows_fingerprint(connection, "SELECT rowid, v FROM t", 2, form=form) for form in (2, FORMAT)}
    assert after[FORMAT] != before[FORMAT] and after[2] == before[2]
    target = tmp_path / "enterprise_assets.db"
    migrate(target, [source], MigrationSettings(LIMIT))
    with closing(sqlite3.connect(source)) as connection:
        connection.execute("UPDATE t SET v = ? WHERE id = 1", (0.0,))
        connection.commit()
    assert [o.action for o in migrate(target, [source], MigrationSettings(LIMIT)).sources] == ["remigrated"]
    assert verify_database(target, [], LIMIT).ok and verify_database(target, [source], LIMIT).ok
    with closing(sqlite3.connect(target)) as connection:
        assert repr(connection.execute("SELECT v FROM t WHERE id = 1").fetchone()[0]) == "0.0"
        connection.execute("UPDATE t SET v = ? WHERE id = 1", (-0.0,))
        connection.commit()
    assert not verify_database(target, [], LIMIT).ok


def test_a_text_changed_after_its_nul_is_caught_by_the_ledger_proof(tmp_path):
    source = make_database(tmp_path / "src" / "nul.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    with closing(sqlite3.connect(source)) as connection:
        connection.execute("INSERT INTO t VALUES (1, ?), (2, 'plain')", ("head\x00tail",))
        connection.commit()
    target = tmp_path / "enterprise_assets.db"
    migrate(target, [source], MigrationSettings(LIMIT))
    assert verify_database(target, [], LIMIT).ok
    with closing(sqlite3.connect(target)) as connection:
        connection.execute("UPDATE t SET v = ? WHERE id = 1", ("head\x00TAIL",))
        connection.commit()
    assert not verify_database(target, [], LIMIT).ok
    assert not verify_database(target, [source], LIMIT).ok


@pytest.mark.parametrize(("form", "before", "after"), [(1, "head\x00tail", "head\x00TAIL"), (2, 0.0, -0.0)],
                         ids=["first", "second"])
def test_a_set_recorded_in_an_earlier_format_still_proves_and_is_recorded_anew(tmp_path, form, before, after):
    """Fingerprints recorded in an earlier format are taken again in theirs to be compared
    with. A source whose bytes changed is migrated again and recorded in the current
    format: the first could not see a change after a NUL in a text, the second the sign
    of a zero."""
    source = make_database(tmp_path / "src" / "old.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
                           "INSERT INTO t VALUES (1, 'one'), (2, x'00ff'), (3, 2.5)")
    with closing(sqlite3.connect(source)) as connection:
        connection.execute("INSERT INTO t VALUES (4, ?)", (before,))
        connection.commit()
    target = tmp_path / "enterprise_assets.db"
    migrate(target, [source], MigrationSettings(LIMIT))
    with closing(sqlite3.connect(source)) as reader:
        description = describe_source(reader, "main")
        tables, whole = fingerprint_source(reader, "main", description, form)
    with closing(sqlite3.connect(target)) as connection:  # what the earlier format recorded
        for table, fingerprint in tables.items():
            connection.execute("UPDATE migration_table_accounting SET fingerprint = ? WHERE source_table = ?",
                               (fingerprint, table))
        connection.execute("UPDATE migration_sources SET fingerprint = ?", (whole,))
        connection.commit()
    assert verify_database(target, [], LIMIT).ok
    assert [o.action for o in migrate(target, [source], MigrationSettings(LIMIT)).sources] == ["unchanged"]
    with closing(sqlite3.connect(source)) as connection:  # invisible to that format
        connection.execute("UPDATE t SET v = ? WHERE id = 4", (after,))
        connection.commit()
    assert [o.action for o in migrate(target, [source], MigrationSettings(LIMIT)).sources] == ["remigrated"]
    with closing(sqlite3.connect(target)) as connection:
        [(recorded,)] = connection.execute("SELECT fingerprint FROM migration_table_accounting").fetchall()
        assert repr(connection.execute("SELECT v FROM t WHERE id = 4").fetchone()[0]) == repr(after)
    assert fingerprint_format(recorded) == FORMAT
    assert verify_database(target, [], LIMIT).ok and verify_database(target, [source], LIMIT).ok
    rebuilt = tmp_path / "rebuilt.db"
    rebuild_source(target, "old.db", rebuilt)
    assert sqldiff(source, rebuilt) == ""
    with closing(sqlite3.connect(rebuilt)) as connection:
        assert repr(connection.execute("SELECT v FROM t WHERE id = 4").fetchone()[0]) == repr(after)


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
