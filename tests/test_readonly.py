"""The read-only opener: reads committed data, never changes a byte or adds a file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from conftest import folder_state, make_database, write_wal_with_pending_rows
from consolidation.errors import BadInput
from consolidation.sqlite import (
    DatabaseLocked,
    EmptyDatabase,
    NotADatabase,
    open_readonly,
    read_header,
    writer_lock_holder,
)


def test_wal_file_with_uncheckpointed_rows_is_read_and_left_untouched(tmp_path):
    database = write_wal_with_pending_rows(tmp_path / "wal.db", rows=5)
    before = folder_state(tmp_path)
    assert {"wal.db", "wal.db-wal"} <= set(before)

    with open_readonly(database) as connection:
        labels = [row[0] for row in connection.execute("SELECT label FROM items ORDER BY id")]
        with pytest.raises(sqlite3.OperationalError):
            connection.execute("INSERT INTO items (label) VALUES ('no')")

    assert labels == [f"pending {n}" for n in range(5)]
    assert folder_state(tmp_path) == before


def test_checkpointed_wal_database_creates_no_sidecars(tmp_path):
    database = make_database(tmp_path / "wal.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)", wal=True)
    assert read_header(database).journal_mode == "wal"
    before = folder_state(tmp_path)

    with open_readonly(database) as connection:
        assert connection.execute("SELECT x FROM t").fetchall() == [(1,)]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["wal.db"]  # not even while open

    assert folder_state(tmp_path) == before


def test_hot_journal_is_rolled_back_in_a_copy_only(tmp_path):
    """A writer that died mid-transaction leaves a hot journal: we must see the old rows."""
    database = make_database(
        tmp_path / "rollback.db",
        "CREATE TABLE t (x)",
        "INSERT INTO t VALUES ('committed')",
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import os, sqlite3, sys
                connection = sqlite3.connect(sys.argv[1])
                connection.execute("PRAGMA cache_size = 1")
                connection.execute("BEGIN")
                connection.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 2000)
                os._exit(0)  # die with the transaction open
                """
            ),
            str(database),
        ],
        check=True,
    )
    assert (tmp_path / "rollback.db-journal").stat().st_size > 0
    before = folder_state(tmp_path)

    with open_readonly(database) as connection:
        assert connection.execute("SELECT x FROM t").fetchall() == [("committed",)]

    assert folder_state(tmp_path) == before


@pytest.mark.parametrize("name", ["with space.db", "what?.db", "hash#tag.db", "percent%20.db", "ünïcode.db"])
def test_awkward_file_names_open_the_right_file(tmp_path, name):
    database = make_database(tmp_path / name, "CREATE TABLE t (x)", f"INSERT INTO t VALUES ('{name}')")
    with open_readonly(database) as connection:
        assert connection.execute("SELECT x FROM t").fetchone() == (name,)


def test_zero_byte_file_is_empty(tmp_path):
    (tmp_path / "zero.db").touch()
    with pytest.raises(EmptyDatabase, match="empty file"):
        with open_readonly(tmp_path / "zero.db"):
            pass


def test_text_file_named_db_is_not_a_database(tmp_path):
    (tmp_path / "notes.db").write_text("these are notes, not a database\n" * 10)
    with pytest.raises(NotADatabase, match="not a SQLite database"):
        with open_readonly(tmp_path / "notes.db"):
            pass


def test_truncated_database_is_refused(tmp_path):
    database = make_database(
        tmp_path / "cut.db",
        "CREATE TABLE t (x)",
        *[f"INSERT INTO t VALUES ('{'y' * 900}')" for _ in range(50)],
    )
    data = database.read_bytes()
    database.write_bytes(data[: len(data) // 2])
    with pytest.raises(NotADatabase, match="truncated"):
        with open_readonly(database):
            pass


def test_garbage_after_a_valid_header_is_not_a_database(tmp_path):
    database = make_database(tmp_path / "bad.db", "CREATE TABLE t (x)")
    data = bytearray(database.read_bytes())
    data[100:4096] = os.urandom(3996)  # destroy the schema page, keep the header
    database.write_bytes(bytes(data))
    with pytest.raises(NotADatabase, match="unreadable"):
        with open_readonly(database):
            pass


def test_missing_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="no such database file"):
        with open_readonly(tmp_path / "absent.db"):
            pass


@pytest.mark.parametrize("wal", [False, True], ids=["rollback", "wal"])
def test_database_with_an_active_writer_is_locked(tmp_path, writer_lock, wal):
    database = make_database(tmp_path / "busy.db", "CREATE TABLE t (x)", wal=wal)
    pid = writer_lock(database)
    assert writer_lock_holder(database) == pid
    with pytest.raises(DatabaseLocked, match=f"pid {pid}"):
        with open_readonly(database):
            pass


def test_no_writer_means_no_lock_holder(tmp_path):
    database = make_database(tmp_path / "idle.db", "CREATE TABLE t (x)")
    assert writer_lock_holder(database) is None


def test_a_link_to_a_wal_database_elsewhere_is_read_with_the_rows_its_wal_holds(assetdb, tmp_path):
    """``databases/link.db -> ../elsewhere/w.db``, whose newest rows live in ``w.db-wal``:
    its sidecars were looked for beside the link, so the file was read without its -wal
    (no rows migrated, exit 0), and a later commit into the -wal went unseen."""
    real = write_wal_with_pending_rows(tmp_path / "elsewhere" / "w.db", rows=4)
    (tmp_path / "databases").mkdir()
    (tmp_path / "databases" / "link.db").symlink_to("../elsewhere/w.db")
    target = tmp_path / "databases" / "enterprise_assets.db"
    assert assetdb("migrate", tmp_path / "databases" / "link.db", "--into", target, "--quiet").exit_code == 0
    with sqlite3.connect(target) as connection:
        assert connection.execute("SELECT count(*) FROM items").fetchone()[0] == 4
    connection.close()
    write_wal_with_pending_rows(real, rows=2)  # two more, in the -wal only
    again = assetdb("migrate", tmp_path / "databases" / "link.db", "--into", target)
    assert again.exit_code == 0 and "remigrated" in again.stdout, again.stdout
    assert assetdb("verify", target, "--sources", tmp_path / "databases" / "link.db").exit_code == 0
