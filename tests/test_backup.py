"""Verified backups outside the workspace, and restores that can be undone."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import (
    folder_state,
    make_database,
    unwritable,
    write_wal_with_pending_rows,
)
from consolidation.errors import Aborted, BadInput
from consolidation.sqlite import (
    backup_database,
    database_fingerprint,
    open_readonly,
    restore_database,
)
from consolidation.sqlite.backup import find_workspace
from consolidation.sqlite.fingerprint import FORMAT


def fingerprint(path):
    with open_readonly(path) as connection:
        return database_fingerprint(connection)


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    make_database(
        root / "databases" / "data.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
        "INSERT INTO t (v) VALUES ('one'), (x'00ff'), (2.5), (NULL)",
    )
    return root


def test_backup_is_verified_named_and_described(workspace, tmp_path):
    source = workspace / "databases" / "data.db"
    before = folder_state(workspace)
    record = backup_database(source, tmp_path / "backups")
    backup = tmp_path / "backups" / record.backup.rsplit("/", 1)[-1]
    assert backup.name.startswith("data.") and backup.suffix == ".db"
    assert record.fingerprint == fingerprint(source) == fingerprint(backup)
    manifest = json.loads((tmp_path / "backups" / f"{backup.name}.json").read_text())
    assert manifest["source"] == str(source.resolve()) and manifest["fingerprint"] == record.fingerprint
    assert sorted(p.name for p in (tmp_path / "backups").iterdir()) == [backup.name, f"{backup.name}.json"]
    assert folder_state(workspace) == before


def test_two_backups_in_one_second_do_not_collide(workspace, tmp_path):
    source = workspace / "databases" / "data.db"
    first = backup_database(source, tmp_path / "b")
    second = backup_database(source, tmp_path / "b")
    assert first.backup != second.backup


def test_backup_inside_the_workspace_is_refused(workspace, assetdb):
    source = workspace / "databases" / "data.db"
    with pytest.raises(BadInput, match="inside the workspace"):
        backup_database(source, workspace / "backups")
    result = assetdb("backup", source, "--to", workspace / "databases" / "old")
    assert result.exit_code == 2 and "inside the workspace" in result.stderr
    assert not (workspace / "backups").exists() and not (workspace / "databases" / "old").exists()


def test_a_backup_folder_that_takes_no_file_is_named(workspace, tmp_path, assetdb):
    """SQLite said only "unable to open database file", naming neither file nor folder."""
    source = workspace / "databases" / "data.db"
    backups = tmp_path / "backups"
    backups.mkdir()
    with unwritable(backups):
        result = assetdb("backup", source, "--to", backups)
        assert result.exit_code == 3, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"assetdb: error: backup of {source} failed: cannot write into {backups} "
            f"({'Operation not permitted' if os.geteuid() == 0 else 'Permission denied'}); nothing was kept"]
        assert list(backups.iterdir()) == []


def test_workspace_without_git_is_the_database_folder(tmp_path):
    source = make_database(tmp_path / "loose" / "a.db", "CREATE TABLE t (x)")
    assert find_workspace(source) == (tmp_path / "loose").resolve()
    with pytest.raises(BadInput):
        backup_database(source, tmp_path / "loose" / "bk")
    assert backup_database(source, tmp_path / "elsewhere").bytes > 0


def test_backup_of_a_wal_file_includes_uncheckpointed_rows(tmp_path):
    source = write_wal_with_pending_rows(tmp_path / "ws" / "wal.db", rows=7)
    before = folder_state(tmp_path / "ws")
    record = backup_database(source, tmp_path / "backups")
    with open_readonly(record.backup) as connection:
        assert connection.execute("SELECT count(*) FROM items").fetchone()[0] == 7
    assert folder_state(tmp_path / "ws") == before


def test_backup_of_a_broken_source_keeps_nothing(tmp_path):
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "zero.db").touch()
    with pytest.raises(BadInput, match="empty file"):
        backup_database(tmp_path / "ws" / "zero.db", tmp_path / "backups")
    assert list((tmp_path / "backups").iterdir()) == []


def test_restore_round_trip_keeps_a_safety_copy(workspace, tmp_path, assetdb):
    source = workspace / "databases" / "data.db"
    original = fingerprint(source)
    record = backup_database(source, tmp_path / "backups")
    connection = sqlite3.connect(source)
    connection.execute("DELETE FROM t WHERE id = 1")
    connection.commit()
    connection.close()
    changed = fingerprint(source)
    assert changed != original

    result = assetdb("restore", record.backup, "--to", source)
    assert result.exit_code == 0, result.stderr
    assert fingerprint(source) == original
    saved = [line for line in result.stdout.splitlines() if line.startswith("previous")]
    assert saved and fingerprint(saved[0].rsplit(" ", 1)[-1]) == changed


def test_restore_onto_a_file_that_cannot_be_written_is_refused_before_its_safety_backup(workspace, tmp_path, assetdb):
    source = workspace / "databases" / "data.db"
    record = backup_database(source, tmp_path / "backups")
    before = folder_state(tmp_path / "backups")
    with unwritable(source):
        result = assetdb("restore", record.backup, "--to", source)
        assert result.exit_code == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"assetdb: error: {source}: cannot be written "
            f"({'Operation not permitted' if os.geteuid() == 0 else 'Permission denied'}); nothing was restored"]
    assert folder_state(tmp_path / "backups") == before  # no safety backup of a restore that never ran
    with unwritable(source.parent):  # the file is writable, its folder takes no journal
        result = assetdb("restore", record.backup, "--to", source)
        assert result.exit_code == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"assetdb: error: {source}: cannot write (unable to open database file; its folder {source.parent} "
            "takes its journal); nothing was restored"]
    assert folder_state(tmp_path / "backups") == before


def test_restore_into_a_new_file(workspace, tmp_path):
    record = backup_database(workspace / "databases" / "data.db", tmp_path / "backups")
    assert restore_database(record.backup, tmp_path / "fresh.db") is None
    assert fingerprint(tmp_path / "fresh.db") == record.fingerprint


def test_restore_refuses_a_tampered_backup(workspace, tmp_path):
    source = workspace / "databases" / "data.db"
    record = backup_database(source, tmp_path / "backups")
    connection = sqlite3.connect(record.backup)
    connection.execute("UPDATE t SET v = 'tampered' WHERE id = 1")
    connection.commit()
    connection.close()
    before = folder_state(workspace)
    with pytest.raises(BadInput, match="does not match its manifest"):
        restore_database(record.backup, source)
    assert folder_state(workspace) == before


def test_restore_refuses_to_overwrite_a_non_database(workspace, tmp_path):
    record = backup_database(workspace / "databases" / "data.db", tmp_path / "backups")
    precious = tmp_path / "notes.db"
    precious.write_text("my notes\n" * 20)
    with pytest.raises(BadInput, match="not a SQLite database"):
        restore_database(record.backup, precious)
    assert precious.read_text() == "my notes\n" * 20


def test_restore_never_writes_through_a_symlink(workspace, tmp_path, assetdb):
    """``--to`` a link (a shard moved out of the folder, a link left behind): written through,
    the file elsewhere would change and the link stay a link, which git carries without the rows."""
    source = workspace / "databases" / "data.db"
    record = backup_database(source, tmp_path / "backups")
    elsewhere = tmp_path / "elsewhere.db"
    shutil.copyfile(source, elsewhere)
    link = tmp_path / "linked.db"
    link.symlink_to(elsewhere)
    kept = elsewhere.read_bytes()
    refused = assetdb("restore", record.backup, "--to", link)
    assert refused.exit_code == 2 and f"{link}: is a symlink (to {elsewhere}); give the file's own path" in refused.stderr
    assert elsewhere.read_bytes() == kept and link.is_symlink()
    link.unlink()
    assert assetdb("restore", record.backup, "--to", link).exit_code == 0 and not link.is_symlink()


def test_restore_of_a_non_backup_is_bad_input(tmp_path, assetdb):
    (tmp_path / "junk.db").write_text("junk" * 100)
    result = assetdb("restore", tmp_path / "junk.db", "--to", tmp_path / "x.db")
    assert result.exit_code == 2 and "not a restorable backup" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_restore_of_a_backup_that_does_not_exist_says_so(tmp_path, assetdb):
    result = assetdb("restore", tmp_path / "monitoring.20261124T015823Z.db", "--to", tmp_path / "x.db")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"assetdb: error: {tmp_path / 'monitoring.20261124T015823Z.db'}: no such backup file"


def test_restore_into_a_locked_target_aborts(workspace, tmp_path, writer_lock):
    source = workspace / "databases" / "data.db"
    record = backup_database(source, tmp_path / "backups")
    writer_lock(source)
    with pytest.raises((Aborted,)):
        restore_database(record.backup, source, tmp_path / "safety")
    assert list((tmp_path / "safety").iterdir()) == []  # the target never changed: no safety backup of it stays


def test_a_backup_recorded_in_the_first_fingerprint_format_still_restores(workspace, tmp_path):
    """Backups made before the current fingerprint format recorded a bare SHA-256: the
    restore proves the backup in the format its manifest recorded."""
    record = backup_database(workspace / "databases" / "data.db", tmp_path / "backups")
    with open_readonly(record.backup) as connection:
        first_format = database_fingerprint(connection, 1)
    assert ":" not in first_format and record.fingerprint.startswith(f"v{FORMAT}:")
    manifest = tmp_path / "backups" / (record.backup.rsplit("/", 1)[1] + ".json")
    recorded = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**recorded, "fingerprint": first_format}))
    assert restore_database(record.backup, tmp_path / "fresh.db") is None
    with sqlite3.connect(record.backup) as connection:
        connection.execute("UPDATE t SET v = 'tampered' WHERE id = 1")
    connection.close()
    with pytest.raises(BadInput, match="does not match its manifest"):
        restore_database(record.backup, tmp_path / "again.db")


def test_a_changed_blob_byte_in_a_utf16_backup_is_refused(tmp_path):
    """In a UTF-16 database a blob read as text loses bytes: the fingerprint reads its
    serialised rows as the bytes they are."""
    source = tmp_path / "data" / "utf16.db"
    source.parent.mkdir()
    with sqlite3.connect(source) as connection:
        connection.execute("PRAGMA encoding = 'UTF-16le'")
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
        connection.executemany("INSERT INTO t VALUES (?, ?)", [(1, b"Z"), (2, b"\x00\xdc\x00")])
    connection.close()
    record = backup_database(source, tmp_path / "backups")
    with sqlite3.connect(record.backup) as connection:
        connection.execute("UPDATE t SET v = ? WHERE id = 2", (b"\x00\xdc\x01",))
    connection.close()
    with pytest.raises(BadInput, match="does not match its manifest"):
        restore_database(record.backup, tmp_path / "restored.db")


@pytest.mark.parametrize("hard_links", [True, False], ids=["hard-links", "no-hard-links"])
def test_same_named_databases_backed_up_at_once_each_keep_their_own_backup(tmp_path, monkeypatch, hard_links):
    """consolidate backs sources up on several threads, and two folders may each hold a
    ``monitoring.db``: no backup ever takes another's name (on a file system without hard
    links too, where the name is claimed before the copy takes it)."""
    from concurrent.futures import ThreadPoolExecutor

    import consolidation.sqlite.backup as backup_module

    if not hard_links:
        def no_links(source, destination):
            raise PermissionError(1, "Operation not permitted")
        monkeypatch.setattr(backup_module.os, "link", no_links)

    sources = [make_database(tmp_path / f"folder{index}" / "monitoring.db", "CREATE TABLE t (x)",
                             f"INSERT INTO t VALUES ({index})") for index in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        records = list(pool.map(lambda source: backup_database(source, tmp_path / "backups"), sources))
    assert len({record.backup for record in records}) == 6
    for source, record in zip(sources, records):
        assert json.loads(Path(f"{record.backup}.json").read_text())["source"] == str(source.resolve())
        assert fingerprint(record.backup) == fingerprint(source)
    assert sorted(path.name for path in (tmp_path / "backups").iterdir() if path.name.startswith(".")) == []
