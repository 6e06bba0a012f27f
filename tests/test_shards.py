"""Partitioning at the cap: numbered shards, every file under the cap, readers follow."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from conftest import folder_state, make_database, sqldiff, unwritable
from consolidation.assets import ingest
from consolidation.demo.repository import write_wal_with_pending_rows
from consolidation.errors import Aborted, BadInput, DamagedSet
from consolidation.merge import ConflictPolicy, MigrationSettings, migrate
from consolidation.proof import rebuild_source, verify_database
from consolidation.size import database_size
from consolidation.store.shards import most_shards
from pytest_assetdb.testing import run_gate

CAP = 400_000


def blob_source(path: Path, first_id: int, rows: int, size: int = 20_000) -> Path:
    return make_database(
        path,
        "CREATE TABLE blobs (id INTEGER PRIMARY KEY, label TEXT, data BLOB)",
        f"WITH RECURSIVE n(i) AS (SELECT {first_id} UNION ALL SELECT i + 1 FROM n WHERE i < {first_id + rows - 1}) "
        f"INSERT INTO blobs SELECT i, 'row ' || i, randomblob({size}) FROM n",
        "CREATE TABLE notes (k TEXT PRIMARY KEY, v)",
        f"INSERT INTO notes VALUES ('shared', 'same'), ('own{first_id}', {first_id})",
    )


def files_of(target: Path) -> list[Path]:
    return sorted(target.parent.glob("enterprise_assets*.db"))


def assert_verified_and_rebuilt(target: Path, sources: list[Path], out: Path) -> None:
    """Every source proved against the set, and rebuilt from it sqldiff-clean."""
    assert verify_database(target, sources, CAP).ok
    for source in sources:
        rebuilt = out / f"rebuilt-{source.name}"
        rebuild_source(target, source.name, rebuilt)
        assert sqldiff(source, rebuilt) == ""


def test_data_over_the_cap_continues_in_numbered_shards(target, tmp_path):
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 12) for i in range(3)]  # ~720 KB of blobs
    report = migrate(target, sources, MigrationSettings(CAP))
    files = files_of(target)
    assert len(files) >= 2
    assert {f.name for f in files} == {"enterprise_assets.db"} | {
        f"enterprise_assets.{n:03d}.db" for n in range(2, len(files) + 1)
    }
    assert all(database_size(f) <= CAP for f in files), [(f.name, database_size(f)) for f in files]
    manifest = sqlite3.connect(target).execute("SELECT shard, file_name FROM shard_manifest ORDER BY shard").fetchall()
    assert [name for _, name in manifest] == [f.name for f in [target] + [f for f in files if f != target]]
    assert max(outcome.shards for outcome in report.sources) == len(files)
    assert verify_database(target, sources, CAP).ok
    assert verify_database(target, [], CAP).ok
    for source in sources:
        rebuilt = tmp_path / f"rebuilt-{source.name}"
        rebuild_source(target, source.name, rebuilt)
        assert sqldiff(source, rebuilt) == ""


def test_a_single_source_larger_than_the_cap_is_split_by_rows(target, tmp_path):
    source = blob_source(tmp_path / "huge.db", 1, 40)  # ~800 KB in one table
    migrate(target, [source], MigrationSettings(CAP))
    files = files_of(target)
    assert len(files) >= 3 and all(database_size(f) <= CAP for f in files)
    counts = [sqlite3.connect(f).execute("SELECT count(*) FROM blobs").fetchone()[0] for f in files]
    assert sum(counts) == 40 and sum(1 for c in counts if c) >= 2
    assert verify_database(target, [source], CAP).ok
    rebuild_source(target, "huge.db", tmp_path / "rebuilt.db")
    assert sqldiff(source, tmp_path / "rebuilt.db") == ""


def test_no_partition_aborts_and_rolls_back(target, tmp_path):
    small = blob_source(tmp_path / "small.db", 1, 2)
    migrate(target, [small], MigrationSettings(CAP))
    before = folder_state(target.parent)
    big = blob_source(tmp_path / "big.db", 100, 30)
    with pytest.raises(Aborted, match="does not fit under the cap"):
        migrate(target, [big], MigrationSettings(CAP, partition=False), backup_directory=tmp_path / "backups")
    assert folder_state(target.parent) == before


def test_unused_spare_shards_are_removed_and_reruns_are_no_ops(target, tmp_path):
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 12) for i in range(3)]
    migrate(target, sources, MigrationSettings(CAP))
    before = folder_state(target.parent)
    listed = sqlite3.connect(target).execute("SELECT file_name FROM shard_manifest").fetchall()
    assert sorted(name for (name,) in listed) == sorted(f.name for f in files_of(target))
    report = migrate(target, sources, MigrationSettings(CAP), backup_directory=tmp_path / "backups")
    assert {outcome.action for outcome in report.sources} == {"unchanged"}
    assert folder_state(target.parent) == before


def test_changed_source_is_remigrated_across_shards(target, tmp_path):
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 12) for i in range(3)]
    migrate(target, sources, MigrationSettings(CAP))
    connection = sqlite3.connect(sources[0])
    connection.execute("DELETE FROM blobs WHERE id % 2 = 0")
    connection.execute("UPDATE notes SET v = 'changed' WHERE k = 'shared'")
    connection.commit()
    connection.close()
    report = migrate(target, sources, MigrationSettings(CAP), backup_directory=tmp_path / "backups")
    assert report.sources[0].action == "remigrated"
    assert_verified_and_rebuilt(target, sources, tmp_path)


def test_a_version_promoted_when_its_source_is_remigrated_moves_on_from_a_full_shard(target, tmp_path):
    """A changed source is taken out before it comes in again; where its version was the one
    shown, the earliest kept version of the key is shown instead. That version sits in a
    full shard (here an INTEGER PRIMARY KEY DESC key, whose own index weighs too): it goes
    to a shard with room, not into its own past the cap."""
    def source(name: str, rows: int, label: str, modified: int, desc: bool = True) -> Path:
        path = tmp_path / name
        with sqlite3.connect(path) as connection:
            connection.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY{' DESC' if desc else ''}, v TEXT)")
            connection.executemany("INSERT INTO t VALUES (?, ?)", [
                (i if i % 3 or not desc else f"k{i}", f"{label}-" + "x" * 2000) for i in range(rows)])
        connection.close()
        os.utime(path, (modified, modified))  # the order --prefer newest goes by
        return path

    sources = [source("a.db", 300, "A", 1000), source("b.db", 300, "B", 2000),
               source("c.db", 200, "C", 3000, desc=False)]
    newest = MigrationSettings(CAP, policy=ConflictPolicy.parse("newest"))
    migrate(target, sources, newest)
    with sqlite3.connect(sources[1]) as connection:
        connection.execute("UPDATE t SET v = 'changed ' || v WHERE typeof(id) = 'text' OR id < 50")
    connection.close()
    os.utime(sources[1], (2500, 2500))
    report = migrate(target, sources, newest, backup_directory=tmp_path / "backups")
    assert [outcome.action for outcome in report.sources] == ["unchanged", "remigrated", "unchanged"]
    assert all(database_size(path) <= CAP for path in files_of(target))
    assert verify_database(target, [], CAP).ok
    assert_verified_and_rebuilt(target, sources, tmp_path)


def test_rows_skip_a_primary_already_past_its_share(target, tmp_path):
    """Under a small cap a new primary's own schema is already half of it: the first rows go
    to a shard, not into the primary, which then had no room for any later source's ledger."""
    cap = 300_000
    big = make_database(tmp_path / "a.db", "CREATE TABLE big (id INTEGER PRIMARY KEY, data BLOB)",
                        "INSERT INTO big VALUES (1, randomblob(120000))")
    many = make_database(tmp_path / "b.db", "CREATE TABLE big (id INTEGER PRIMARY KEY, data BLOB)",
                         "INSERT INTO big VALUES (1, x'00')",
                         *(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v TEXT)" for i in range(6)),
                         *(f"INSERT INTO t{i} VALUES (1, 'x')" for i in range(6)))
    migrate(target, [big], MigrationSettings(cap))
    migrate(target, [many], MigrationSettings(cap), backup_directory=tmp_path / "backups")
    assert len(files_of(target)) >= 2 and all(database_size(path) <= cap for path in files_of(target))
    assert verify_database(target, [big, many], cap).ok and verify_database(target, [], cap).ok


def test_a_rebuild_that_fails_in_a_sharded_set_says_why(target, tmp_path, monkeypatch):
    """The rebuild's transaction is rolled back before the shards are detached: detaching a
    file the open transaction read failed ("database … is locked") and hid the real error."""
    import consolidation.proof.rebuild as rebuild

    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 12) for i in range(3)]
    migrate(target, sources, MigrationSettings(CAP))
    assert len(files_of(target)) > 1

    def refused(*_arguments):
        raise Aborted("the internal rows cannot be restored here")

    monkeypatch.setattr(rebuild, "restore_internal_rows", refused)
    with pytest.raises(Aborted, match="the internal rows cannot be restored here"):
        rebuild_source(target, "s0.db", tmp_path / "rebuilt.db")
    assert not (tmp_path / "rebuilt.db").exists()


def test_a_missing_shard_is_reported(target, tmp_path):
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 12) for i in range(3)]
    migrate(target, sources, MigrationSettings(CAP))
    shard = [f for f in files_of(target) if f != target][0]
    shard.unlink()
    with pytest.raises(DamagedSet, match="is missing"):
        verify_database(target, [], CAP)
    newcomer = blob_source(tmp_path / "new.db", 9_000, 2)
    before = folder_state(target.parent)
    for dry_run in (True, False):  # its copy, or its backup, before anything is written
        with pytest.raises(Aborted, match=rf"shard \d+ \({shard.name}\) is missing; restore it before writing to the set"):
            migrate(target, [*sources, newcomer], MigrationSettings(CAP), dry_run=dry_run,
                    backup_directory=tmp_path / "backups")
    assert folder_state(target.parent) == before and not (tmp_path / "backups").exists()


def test_a_row_larger_than_the_cap_is_named_with_its_source_and_size_and_nothing_is_written(target, tmp_path):
    small = blob_source(tmp_path / "small.db", 1, 3, size=1_000)
    huge = blob_source(tmp_path / "one-huge-row.db", 7, 1, size=500_000)
    with pytest.raises(Aborted, match=r"^one-huge-row\.db: a row of 'blobs' \(identity 7, 500\.0 KB\) does not fit "
                                      r"under the cap"):
        migrate(target, [small, huge], MigrationSettings(CAP))
    assert not target.exists()


def test_a_set_that_needs_more_files_than_sqlite_can_attach_says_so_and_writes_nothing(target, tmp_path):
    """Small rows, too many of them: the refusal names the files running out (not a row
    too large for the cap, which is what splitting the chunk down to one row used to say)."""
    most = most_shards(sqlite3.connect(":memory:"))  # nine on a default build
    big = blob_source(tmp_path / "big.db", 1, 20 * (most + 2))  # 20 rows of 20 KB fill a 400 KB file
    with pytest.raises(Aborted, match=rf"does not fit under the cap of 400\.0 KB in {most} files \(the most this"):
        migrate(target, [big], MigrationSettings(CAP))
    assert not target.exists() and files_of(target) == []


def test_a_set_of_as_many_files_as_sqlite_can_attach_is_proved_rebuilt_and_gated(pytester):
    """Every path that reads the whole set attaches each shard and one file more (the source,
    the file being proved, or the primary beside a rebuilt file): the most files a set may
    have is SQLite's own limit of attachments, and at that many each of them still works."""
    folder = pytester.path / "databases"
    folder.mkdir()
    target, sources = folder / "enterprise_assets.db", []
    most = most_shards(sqlite3.connect(":memory:"))
    while len(files_of(target)) < most:
        sources.append(blob_source(pytester.path / f"s{len(sources):02d}.db", len(sources) * 100, 8))
        migrate(target, sources, MigrationSettings(CAP))
        assert len(sources) < 6 * most, "the set stopped growing"
    assert len(files_of(target)) == most
    assert verify_database(target, [], CAP).ok
    assert_verified_and_rebuilt(target, sources, pytester.path)
    pytester.makeini(f"[pytest]\nassetdb_size_limit = {CAP}\n")
    gate = run_gate(pytester, "databases", args=("-q",))
    assert gate.ret == 0, gate.stdout.str()
    assert any(f"lossless[{sources[-1].name}:blobs]" in line for line in run_gate(
        pytester, "databases", args=("--collect-only", "-q")).stdout.lines)


def test_a_full_shard_is_not_near_the_cap_and_a_full_primary_is(assetdb, pytester):
    """Shards are filled to 90 % by design, and SQLite holds every file of the set under the
    cap: no write can take a shard over it, so neither size-check nor the gate warns about
    one however full. The primary still warns: its ledger is what runs out of room."""
    folder = pytester.path / "databases"
    folder.mkdir()
    target = folder / "enterprise_assets.db"
    migrate(target, [blob_source(pytester.path / f"s{i}.db", i * 100, 30) for i in range(3)],
            MigrationSettings(CAP))
    shards = [path for path in files_of(target) if path != target]
    assert shards and all(database_size(path) > CAP // 2 for path in files_of(target))
    checked = assetdb("size-check", folder, "--limit", str(CAP), "--warn", "50%")
    statuses = {line.split()[-1]: line.split()[0] for line in checked.stdout.splitlines() if "%" in line}
    assert statuses[str(target)] == "NEAR" and all(statuses[str(path)] == "ok" for path in shards), checked.stdout
    gate = run_gate(pytester, "databases/enterprise_assets.db", *(f"databases/{path.name}" for path in shards),
                    args=("--assetdb-limit", str(CAP), "--assetdb-warn", "50%",
                          "-W", "default::pytest_assetdb.AssetdbNearCapWarning"))
    gate.stdout.fnmatch_lines(["*AssetdbNearCapWarning: databases/enterprise_assets.db is near the cap*"])
    assert not any("AssetdbNearCapWarning: databases/enterprise_assets.0" in line for line in gate.stdout.lines)


def test_rows_held_only_in_a_write_ahead_log_get_the_spare_files_they_need(target, tmp_path):
    source = write_wal_with_pending_rows(tmp_path / "busy.db", rows=40_000)
    assert source.stat().st_size < CAP < Path(f"{source}-wal").stat().st_size
    migrate(target, [source], MigrationSettings(CAP))
    assert len(files_of(target)) > 2 and all(database_size(path) <= CAP for path in files_of(target))
    assert verify_database(target, [source], CAP).ok


def test_shards_are_made_as_rows_fill_them_inside_the_one_transaction(target, tmp_path, monkeypatch):
    """Nothing is estimated ahead: each source is written once, in one transaction, and a
    shard is made (and attached) when the last one is full, so every file in the folder is
    one the manifest lists, and a write that does not commit leaves none of its own."""
    import consolidation.merge.engine as engine

    writes = []
    write = engine._write_source
    monkeypatch.setattr(engine, "_write_source", lambda *a, **k: writes.append(a[1].name) or write(*a, **k))
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 30) for i in range(2)]
    migrate(target, sources, MigrationSettings(CAP))
    assert writes == ["s0.db", "s1.db"]
    with sqlite3.connect(target) as connection:
        listed = {name for (name,) in connection.execute("SELECT file_name FROM shard_manifest")}
    connection.close()
    assert len(files_of(target)) > 2 and {path.name for path in files_of(target)} == listed
    assert all(database_size(path) <= CAP for path in files_of(target))
    assert_verified_and_rebuilt(target, sources, tmp_path)
    too_many = blob_source(tmp_path / "too_many.db", 10_000, 20 * (most_shards(sqlite3.connect(":memory:")) + 2))
    before = folder_state(target.parent)
    with pytest.raises(Aborted, match="does not fit under the cap"):
        migrate(target, [too_many], MigrationSettings(CAP))
    assert folder_state(target.parent) == before


def test_a_primary_filled_outside_the_rows_is_named_as_the_ledger(target, tmp_path):
    """The rows go to shards; what each source records beside them in the primary (its
    tables' accounting, fingerprints and schema, to rebuild it) fills it source by source,
    until a write outside any chunk of rows meets the cap. The refusal is the ledger's, as
    when the conflicts list fills it, not a bare "past the cap"."""
    rows = blob_source(tmp_path / "rows.db", 1, 30)
    many = [
        make_database(tmp_path / f"tables{index:02d}.db",
                      *(f"CREATE TABLE t{index}_{table} (id INTEGER PRIMARY KEY, v)" for table in range(60)),
                      *(f"INSERT INTO t{index}_{table} VALUES (1, 'x')" for table in range(60)))
        for index in range(12)
    ]
    with pytest.raises(Aborted, match="the primary file is full under the cap of 400.0 KB: the migration ledger and the file assets. records"):
        migrate(target, [rows, *many], MigrationSettings(CAP))
    assert not target.exists() and files_of(target) == []


def test_a_ledger_that_fills_the_primary_is_named_and_nothing_is_written(target, tmp_path):
    """Every row conflicts and its key is long: the conflicts list in the primary outgrows
    the cap while the rows themselves would fit in shards. The refusal says so."""
    sources = [
        make_database(
            tmp_path / f"s{index}.db",
            "CREATE TABLE t (k TEXT PRIMARY KEY, v)",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) "
            f"INSERT INTO t SELECT printf('%0700d', i), {index} FROM n",
        )
        for index in range(3)
    ]
    with pytest.raises(Aborted, match="the primary file is full under the cap of 400.0 KB: the migration ledger and the file assets. records"):
        migrate(target, sources, MigrationSettings(CAP))
    assert not target.exists() and files_of(target) == []


def test_room_a_remigrated_source_frees_is_placed_into_again(target, tmp_path):
    """A changed source's old rows are removed before its new ones come in: the pages they
    held are free room in their shard, and the new rows go there, not into a file more. A
    source changed and migrated again, time after time, keeps the set as many files as the
    first migration made."""
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 15) for i in range(3)]
    migrate(target, sources, MigrationSettings(CAP))
    files = files_of(target)
    assert len(files) >= 3
    for round_ in range(8):
        with sqlite3.connect(sources[round_ % 3]) as connection:
            connection.execute("UPDATE blobs SET data = randomblob(20000), label = ? WHERE id % 3 = ?",
                               (f"round {round_}", round_ % 3))
        connection.close()
        report = migrate(target, sources, MigrationSettings(CAP), backup_directory=tmp_path / "backups")
        assert report.sources[round_ % 3].action == "remigrated"
        assert files_of(target) == files, f"round {round_}"
        assert all(database_size(path) <= CAP for path in files_of(target))
    assert_verified_and_rebuilt(target, sources, tmp_path)


def test_a_large_row_meeting_a_shard_with_a_little_room_goes_on_to_another(target, tmp_path):
    """Room freed in a shard is written into again, and it may be less than the next row:
    such a row moves on to a shard it fits in, it is not refused as larger than the cap."""
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 15) for i in range(2)]
    migrate(target, sources, MigrationSettings(CAP))
    with sqlite3.connect(sources[0]) as connection:
        connection.execute("DELETE FROM blobs WHERE id % 5 = 0")  # frees about 60 KB where they were
    connection.close()
    migrate(target, sources, MigrationSettings(CAP), backup_directory=tmp_path / "backups")
    large = blob_source(tmp_path / "large.db", 5_000, 1, size=250_000)
    migrate(target, [*sources, large], MigrationSettings(CAP), backup_directory=tmp_path / "backups")
    assert all(database_size(path) <= CAP for path in files_of(target))
    assert_verified_and_rebuilt(target, [*sources, large], tmp_path)


def test_a_write_that_fills_a_shard_with_its_last_rows_makes_no_file_after_it(target, tmp_path):
    """A shard filled past its share by the last rows a write has leaves the next file to
    the next write that has rows for it (one was made, empty, every time)."""
    source = make_database(tmp_path / "one.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)",
                           "INSERT INTO t VALUES (1, randomblob(345000))")
    migrate(target, [source], MigrationSettings(CAP))
    assert [path.name for path in files_of(target)] == ["enterprise_assets.002.db", "enterprise_assets.db"]
    with sqlite3.connect(target) as connection:
        assert connection.execute("SELECT count(*) FROM shard_manifest").fetchone()[0] == 2
    connection.close()
    more = blob_source(tmp_path / "more.db", 100, 3)
    migrate(target, [source, more], MigrationSettings(CAP))  # the next rows make the next file
    assert len(files_of(target)) == 3
    assert_verified_and_rebuilt(target, [source, more], tmp_path)


def test_a_row_split_off_at_a_shard_s_last_room_goes_on_to_a_later_shard_with_room_not_a_new_file(target, tmp_path):
    """A row that does not fit moves to the next shard with room; when it meets that
    shard's last room too, it goes on to a later shard that has room for it, and the set
    keeps its files (a new one each time would run into how many
    files SQLite attaches, and refuse a row that had room)."""
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, rows) for i, rows in enumerate((15, 15, 6))]
    migrate(target, sources, MigrationSettings(CAP))
    with sqlite3.connect(sources[0]) as connection:
        connection.execute("DELETE FROM blobs WHERE id >= 12")  # frees room in the primary
    connection.close()
    migrate(target, sources, MigrationSettings(CAP), backup_directory=tmp_path / "backups")
    files = files_of(target)
    pair = make_database(tmp_path / "pair.db", "CREATE TABLE blobs (id INTEGER PRIMARY KEY, label TEXT, data BLOB)",
                         "INSERT INTO blobs VALUES (5000, 'small', randomblob(80000)), (5001, 'large', randomblob(200000))")
    migrate(target, [*sources, pair], MigrationSettings(CAP), backup_directory=tmp_path / "backups")
    assert files_of(target) == files
    with sqlite3.connect(target) as connection:
        shards = dict(connection.execute(
            "SELECT l.source_rowid, l.shard FROM migration_row_links AS l "
            "JOIN migration_table_accounting AS a ON a.id = l.table_id JOIN migration_sources AS s ON s.id = a.source_id "
            "WHERE s.name = 'pair.db' AND a.source_table = 'blobs'").fetchall())
    connection.close()
    assert shards[5001] > shards[5000]  # the large one went on past a shard it met the last room of
    assert all(database_size(path) <= CAP for path in files_of(target))
    assert_verified_and_rebuilt(target, [*sources, pair], tmp_path)


@pytest.mark.parametrize("key", ["id INTEGER PRIMARY KEY", "id TEXT PRIMARY KEY"], ids=["rowid-key", "text-key"])
def test_a_version_taking_over_a_row_shown_in_a_full_shard_moves_it_to_a_shard_with_room(target, tmp_path, key):
    """Under --prefer newest a newer, larger version takes over rows shown in a full shard:
    the version shown so far is kept as a conflict, and the merged row, too large for its
    shard now, moves to one with room (its key and provenance with it) instead of the
    migration being refused as if a 12 KB row could not fit under a 400 KB cap."""
    def source(name: str, letter: str, size: int, modified: int) -> Path:
        path = make_database(tmp_path / name, f"CREATE TABLE t ({key}, v BLOB)",
                             *(f"INSERT INTO t VALUES ({i if 'INTEGER' in key else repr(f'k{i}')}, "
                               f"CAST(printf('%.{size}c', '{letter}') AS BLOB))"
                               for i in range(40)))
        os.utime(path, (modified, modified))  # the order --prefer newest goes by
        return path

    older, newer = source("older.db", "a", 8000, 1000), source("newer.db", "b", 12000, 2000)
    newest = MigrationSettings(CAP, policy=ConflictPolicy.parse("newest"))
    migrate(target, [older, newer], newest)
    assert len(files_of(target)) > 2 and all(database_size(path) <= CAP for path in files_of(target))
    with sqlite3.connect(target) as connection:
        accounting = connection.execute(
            "SELECT s.name, a.rows_stored, a.conflicts_kept FROM migration_table_accounting AS a "
            "JOIN migration_sources AS s ON s.id = a.source_id ORDER BY s.name").fetchall()
    connection.close()
    assert accounting == [("newer.db", 40, 0), ("older.db", 0, 40)]
    assert_verified_and_rebuilt(target, [older, newer], tmp_path)
    assert verify_database(target, [], CAP).ok
    with sqlite3.connect(newer) as connection:  # and the moved rows' source changes: taken out, then in again
        connection.execute("UPDATE t SET v = CAST('changed' AS BLOB) WHERE rowid % 4 = 0")
    connection.close()
    os.utime(newer, (3000, 3000))
    report = migrate(target, [older, newer], newest, backup_directory=tmp_path / "backups")
    assert [outcome.action for outcome in report.sources] == ["unchanged", "remigrated"]
    assert all(database_size(path) <= CAP for path in files_of(target))
    (tmp_path / "again").mkdir()
    assert_verified_and_rebuilt(target, [older, newer], tmp_path / "again")
    assert verify_database(target, [], CAP).ok


def test_a_dry_run_on_a_sharded_set_rehearses_on_a_copy_of_every_file(target, tmp_path):
    """The rehearsal's private copy is the whole set, shards too: its report is the real
    run's, and nothing of the set changes."""
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 15) for i in range(2)]
    migrate(target, sources, MigrationSettings(CAP))
    assert len(files_of(target)) > 2
    newcomer = blob_source(tmp_path / "new.db", 5_000, 10)
    before = folder_state(target.parent)
    rehearsal = migrate(target, [*sources, newcomer], MigrationSettings(CAP), dry_run=True)
    assert folder_state(target.parent) == before
    assert [(o.name, o.action) for o in rehearsal.sources] == [("s0.db", "unchanged"), ("s1.db", "unchanged"),
                                                                ("new.db", "planned")]
    real = migrate(target, [*sources, newcomer], MigrationSettings(CAP), backup_directory=tmp_path / "backups")
    assert [o.total("rows_read") for o in real.sources] == [o.total("rows_read") for o in rehearsal.sources]
    assert [o.shards for o in real.sources][-1] == rehearsal.sources[-1].shards


def test_the_backup_before_a_change_holds_every_file_of_the_set(target, tmp_path):
    """Rows may land in any shard: the backup taken before a set changes is of every file,
    each proved, so restoring them gives back the set as it was."""
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 15) for i in range(2)]
    migrate(target, sources, MigrationSettings(CAP))
    was = tmp_path / "was"
    was.mkdir()
    for path in files_of(target):
        shutil.copyfile(path, was / path.name)
    report = migrate(target, [*sources, blob_source(tmp_path / "new.db", 5_000, 10)], MigrationSettings(CAP),
                     backup_directory=tmp_path / "backups")
    backups = {re.sub(r"\.\d{8}T\d{6}Z(-\d+)?\.db$", ".db", path.name): path
               for path in (tmp_path / "backups").glob("*.db")}
    assert sorted(backups) == sorted(path.name for path in was.iterdir())
    assert report.backup == str(backups[target.name].resolve())
    for name, backup in backups.items():
        assert sqldiff(was / name, backup) == "", name


def test_files_that_need_more_shards_than_sqlite_can_attach_are_refused_as_such(tmp_path):
    """Each file is small; together they need more files than SQLite attaches at once:
    the refusal says so, not that a 25 KB file does not fit under a 400 KB cap."""
    workspace = tmp_path / "ws"
    (workspace / "scripts").mkdir(parents=True)
    for index in range(16 * most_shards(sqlite3.connect(":memory:"))):
        (workspace / "scripts" / f"s{index}.bin").write_bytes(os.urandom(25_000))
    database = tmp_path / "set" / "enterprise_assets.db"
    database.parent.mkdir()
    with pytest.raises(Aborted, match=r"does not fit under the cap of 400\.0 KB in \d+ files \(the most this SQLite"):
        ingest(workspace, database, limit=CAP)
    assert list(database.parent.iterdir()) == []


def test_versions_taking_over_rows_in_a_full_shard_and_in_the_current_one_are_kept_once(target, tmp_path):
    """One chunk takes over rows shown in a full shard (moved into the current one) and rows
    shown in the current shard itself: every displaced version is kept once, and no incoming
    version is kept as if it had been displaced (a conflicts row nothing links to)."""
    def source(name: str, rows: list[tuple[str, str]]) -> Path:
        path = tmp_path / name
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
            connection.executemany("INSERT INTO t VALUES (?, ?)", rows)
        connection.close()
        return path

    a = source("a.db", [(f"a{i:04d}", "a" * 1500) for i in range(600)])
    b = source("b.db", [(f"b{i:04d}", "b" * 1500) for i in range(100)])
    migrate(target, [a, b], MigrationSettings(CAP))
    holders = {}
    for path in files_of(target):
        with sqlite3.connect(path) as connection:
            if connection.execute("SELECT 1 FROM sqlite_schema WHERE name = 't'").fetchone():
                holders[path.name] = [k for (k,) in connection.execute("SELECT k FROM t")]
        connection.close()
    shards = sorted(path.name for path in files_of(target) if path != target)
    full, last = shards[1], shards[-1]  # a shard filled to its share, and the last, with room
    keys = [key for pair in zip(holders[full][:5], holders[last][:5]) for key in pair]
    c = source("c.db", [(key, "c" * 100) for key in keys])
    migrate(target, [a, b, c], MigrationSettings(CAP, policy=ConflictPolicy.parse("source:c.db")),
            backup_directory=tmp_path / "backups")
    kept = 0
    for path in files_of(target):
        with sqlite3.connect(path) as connection:
            if connection.execute("SELECT 1 FROM sqlite_schema WHERE name = 'assetdb_conflicts_t'").fetchone():
                kept += connection.execute("SELECT count(*) FROM assetdb_conflicts_t").fetchone()[0]
        connection.close()
    assert kept == 10
    assert all(database_size(path) <= CAP for path in files_of(target))
    assert_verified_and_rebuilt(target, [a, b, c], tmp_path)


def test_a_shard_journal_a_killed_commit_left_is_finished_by_the_next_writer(target, tmp_path):
    """A process killed inside a write of a shard leaves its journal: hot, so a read-only
    reader cannot open the shard. The next writer of the set finishes it first, even one
    that has nothing to write (every source unchanged)."""
    import signal
    import sys

    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 15) for i in range(2)]
    migrate(target, sources, MigrationSettings(CAP))
    shard = target.with_name("enterprise_assets.002.db")
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(shard)!r}, isolation_level=None)\n"
        "c.execute('PRAGMA cache_size = 1')\n"  # pages spill into the file: the journal is hot once killed
        "c.execute('BEGIN IMMEDIATE'); c.execute('DELETE FROM blobs'); c.execute('UPDATE notes SET v = 0')\n"
        "print('ready', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "ready"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    def read_only() -> int:
        connection = sqlite3.connect(f"file:{shard}?mode=ro", uri=True)
        try:
            return connection.execute("SELECT count(*) FROM blobs").fetchone()[0]
        finally:
            connection.close()

    with pytest.raises(sqlite3.OperationalError, match="readonly"):  # the journal is hot: readers cannot read
        read_only()
    report = migrate(target, sources, MigrationSettings(CAP), backup_directory=tmp_path / "backups")
    assert {outcome.action for outcome in report.sources} == {"unchanged"}
    assert read_only() > 0 and not Path(f"{shard}-journal").exists()
    assert verify_database(target, sources, CAP).ok


def test_a_file_under_the_cap_but_past_a_shard_s_share_is_stored_in_a_file_of_its_own(tmp_path):
    """Shards take files to 90 % of the cap to leave room for more; a file that, with a
    shard's own tables, passes that share goes into a new shard alone, up to what SQLite
    holds the file to, and regenerates; a file that cannot fit even so is refused, naming
    its size. A small file after it goes where there is room, not into a file more."""
    from consolidation.assets import regenerate

    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "big.bin").write_bytes(os.urandom(345_000))
    (workspace / "small.txt").write_text("hi\n")
    database = tmp_path / "set" / "enterprise_assets.db"
    database.parent.mkdir()
    ingest(workspace, database, limit=CAP)
    assert all(database_size(path) <= CAP for path in files_of(database))
    assert len(files_of(database)) == 2  # the small file after it went back to where there was room
    out = tmp_path / "out"
    regenerate(database, out, limit=CAP)
    assert (out / "big.bin").read_bytes() == (workspace / "big.bin").read_bytes()
    (workspace / "big.bin").write_bytes(os.urandom(395_000))
    with pytest.raises(Aborted, match=r"^big\.bin: 395\.0 KB does not fit under the cap of 400\.0 KB; rolled back$"):
        ingest(workspace, database, limit=CAP)


DAMAGES = {
    "emptied": (lambda shard, other: shard.write_bytes(b""), r"is damaged \(empty file \(0 bytes\), not a database\)"),
    "not SQLite": (lambda shard, other: shard.write_text("a shard no more\n"), r"is damaged \(not a SQLite database"),
    "a legacy database": (lambda shard, other: shutil.copyfile(make_database(shard.with_name("legacy.db"),
                          "CREATE TABLE t (x)"), shard), r"is not this set's shard 2 \(it is a database that is no shard\)"),
    "another shard's copy": (lambda shard, other: shutil.copyfile(other, shard),
                             r"is not this set's shard 2 \(it is shard 3 of enterprise_assets\.db\)"),
    "a symlink out of the folder": (lambda shard, other: _moved_out_behind_a_link(shard),
                                    r"is a symlink \(to .*elsewhere\.db\), not a file in the set's folder \(copy the "
                                    r"file over the link: cp --remove-destination .*elsewhere\.db .*002\.db\)"),
}


def _moved_out_behind_a_link(shard: Path) -> None:
    """The shard moved out of the set's folder, a link left in its place: git would carry the
    link and leave the rows behind, and every write would go through it."""
    outside = shard.parent.parent / "elsewhere.db"
    shard.rename(outside)
    shard.symlink_to(outside)


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_shard_is_refused_by_readers_and_writers_and_nothing_is_written(target, tmp_path, damage):
    """A shard emptied, overwritten or swapped under its name is never read, nor written,
    as the shard: readers fail the set's check (exit 1), writers abort before a write (exit 3)."""
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 12) for i in range(3)]
    migrate(target, sources, MigrationSettings(CAP))
    shard, other = target.with_name("enterprise_assets.002.db"), target.with_name("enterprise_assets.003.db")
    assert other.exists()
    spoil, said = DAMAGES[damage]
    spoil(shard, other)
    before = folder_state(target.parent)
    with pytest.raises(DamagedSet, match=rf"shard 2 \(enterprise_assets\.002\.db\) {said}.*; restore it from a "
                                         r"verified backup \(assetdb restore BACKUP --to .*enterprise_assets\.002\.db\)$"):
        verify_database(target, [], CAP)
    with pytest.raises(DamagedSet, match=said):
        rebuild_source(target, "s0.db", tmp_path / "rebuilt.db")
    newcomer = blob_source(tmp_path / "new.db", 9_000, 2)
    with pytest.raises(Aborted, match=rf"shard 2 \(enterprise_assets\.002\.db\) {said}.*; restore it before writing"):
        migrate(target, [newcomer], MigrationSettings(CAP))
    workspace = tmp_path / "work"
    workspace.mkdir()
    (workspace / "a.py").write_text("print(1)\n")
    with pytest.raises(Aborted, match=said):
        ingest(workspace, target, limit=CAP)
    assert folder_state(target.parent) == before and not (tmp_path / "rebuilt.db").exists()


def test_a_file_under_the_next_shard_s_name_is_never_overwritten(target, tmp_path):
    """The set needs ``enterprise_assets.004.db`` for its next rows and a database of its own
    holds that name (copied there, or a legacy source): refused, naming it, and kept as it is."""
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 12) for i in range(3)]
    migrate(target, sources, MigrationSettings(CAP))
    numbers = sorted(int(path.name.split(".")[1]) for path in files_of(target) if path != target)
    squatter = target.with_name(f"enterprise_assets.{numbers[-1] + 1:03d}.db")
    make_database(squatter, "CREATE TABLE precious (x)", "INSERT INTO precious VALUES ('keep me')")
    before = folder_state(target.parent)
    with pytest.raises(Aborted, match=rf"{re.escape(str(squatter))}: the set's next shard needs this name, and a file "
                                      r"that is not one of its shards holds it \(a database of its own\)"):
        migrate(target, [blob_source(tmp_path / "more.db", 5_000, 30)], MigrationSettings(CAP))
    assert folder_state(target.parent) == before
    assert sqlite3.connect(squatter).execute("SELECT x FROM precious").fetchall() == [("keep me",)]


def test_a_shard_holding_rows_that_a_restored_primary_does_not_list_is_kept(target, tmp_path):
    """The primary restored from a backup older than its last shard: that shard's rows are no
    leftover of a killed write, so the next writer neither removes it nor writes over it."""
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 12) for i in range(3)]
    migrate(target, sources[:2], MigrationSettings(CAP))
    older = tmp_path / "older-primary.db"
    shutil.copyfile(target, older)
    migrate(target, sources[2:], MigrationSettings(CAP))
    shutil.copyfile(older, target)  # as restoring the primary alone does
    newest = sorted(files_of(target))[-2]  # .00N.db sort before the primary's own name
    listed = {name for (name,) in sqlite3.connect(older).execute("SELECT file_name FROM shard_manifest")}
    assert newest != target and newest.name not in listed
    kept = newest.read_bytes()
    with pytest.raises(Aborted, match=r"a shard this set's manifest does not list, holding rows"):
        migrate(target, [blob_source(tmp_path / "more.db", 5_000, 60)], MigrationSettings(CAP))
    assert newest.read_bytes() == kept


def test_a_shard_that_cannot_be_written_is_named_before_any_write(target, tmp_path):
    """SQLite opens a read-only file read-only without a word and fails at the first write,
    naming nothing (migrate blamed the source it was reading)."""
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 12) for i in range(3)]
    migrate(target, sources, MigrationSettings(CAP))
    shard = target.with_name("enterprise_assets.003.db")
    workspace = tmp_path / "work"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("hi\n")
    before = folder_state(target.parent)
    with unwritable(shard):
        said = rf"^{re.escape(str(shard))}: the set's file cannot be written \(.*\); nothing was changed$"
        with pytest.raises(BadInput, match=said):
            migrate(target, [blob_source(tmp_path / "more.db", 5_000, 3)], MigrationSettings(CAP))
        with pytest.raises(BadInput, match=said):
            ingest(workspace, target, limit=CAP)
    assert folder_state(target.parent) == before


def test_init_refuses_a_shard_and_leaves_it_as_it_was(target, tmp_path, assetdb):
    """Completed as a primary, a shard took the set's schema and a log row of its own."""
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 12) for i in range(3)]
    migrate(target, sources, MigrationSettings(CAP))
    shard = target.with_name("enterprise_assets.002.db")
    held = shard.read_bytes()
    refused = assetdb("init", shard)
    assert refused.exit_code == 2 and "is a shard of a consolidated set" in refused.stderr
    assert shard.read_bytes() == held


def test_a_shard_whose_marker_row_is_gone_is_damaged_not_a_traceback(target, tmp_path):
    sources = [blob_source(tmp_path / f"s{i}.db", i * 100, 12) for i in range(3)]
    migrate(target, sources, MigrationSettings(CAP))
    shard = target.with_name("enterprise_assets.002.db")
    with sqlite3.connect(shard) as connection:
        connection.execute("DELETE FROM assetdb_shard")
    connection.close()
    with pytest.raises(DamagedSet, match=r"is not this set's shard 2 \(it is a shard whose marker row is gone\)"):
        verify_database(target, [], CAP)
    with pytest.raises(Aborted, match="a shard whose marker row is gone"):
        migrate(target, [blob_source(tmp_path / "more.db", 5_000, 2)], MigrationSettings(CAP))
