"""Candidates judged before the first write, files left out on purpose, and the database
set's own files kept out of the workspace's assets."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import sqlite3
from pathlib import Path

import pytest

from conftest import folder_state, make_database
from consolidation.assets import ingest, push
from consolidation.demo import lfs_pointer
from consolidation.errors import Aborted, BadInput
from consolidation.merge import MigrationSettings, migrate
from consolidation.sqlite.classify import classify
from consolidation.store import initialize

LIMIT = 99_900_000


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "repo" / "databases"
    make_database(folder / "good.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'a')")
    return folder


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (lambda p: lfs_pointer(p, 3_000_000), "lfs-pointer", "Git LFS pointer to a 3.0 MB object"),
        (lambda p: p.touch(), "empty", None),
        (lambda p: p.write_text("hello\n" * 40), "not-sqlite", "not a SQLite database (text"),
        (lambda p: p.write_bytes(os.urandom(2000)), "not-sqlite", "binary data"),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x10\x00" + os.urandom(5000)), "corrupt", "cannot be read"),
        (lambda p: os.symlink(p.name, p), "symlink", "symlink loop"),
        (lambda p: os.symlink("gone.db", p), "symlink", "dangling symlink (to gone.db)"),
        (lambda p: os.symlink("/etc/hostname", p), "symlink", "symlink pointing outside"),
        (lambda p: os.mkfifo(p), "not-sqlite", "not a regular file"),
    ],
    ids=["lfs", "zero", "text", "binary", "encrypted-looking", "loop", "dangling", "outside", "fifo"],
)
def test_each_kind_of_candidate_is_named_for_what_it_is(tmp_path, make, status, reason):
    path = tmp_path / "x.db"
    make(path)
    candidate = classify(path, root=tmp_path)
    assert candidate.status == status
    assert (candidate.reason is None) if reason is None else (reason in candidate.reason)


def test_a_truncated_and_a_damaged_database_are_unusable(tmp_path):
    source = make_database(tmp_path / "t.db", "CREATE TABLE t (x)", *[f"INSERT INTO t VALUES ('{'x' * 900}')"] * 40)
    data = source.read_bytes()
    (tmp_path / "short.db").write_bytes(data[:10_000])
    assert classify(tmp_path / "short.db").status == "truncated"
    damaged = bytearray(data)
    damaged[8192:11192] = os.urandom(3000)
    (tmp_path / "damaged.db").write_bytes(bytes(damaged))
    assert classify(tmp_path / "damaged.db", deep=True).status == "corrupt"


def test_migrate_refuses_every_unusable_source_in_one_line_and_writes_nothing(assetdb, folder, tmp_path):
    lfs_pointer(folder / "big.db", 2_000_000)
    (folder / "notes.db").write_text("notes\n" * 10)
    target = tmp_path / "new.db"
    result = assetdb("migrate", folder / "good.db", folder / "big.db", folder / "notes.db", "--into", target)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "cannot migrate 2 of 3 databases" in result.stderr
    assert "big.db (Git LFS pointer" in result.stderr and "notes.db (not a SQLite database" in result.stderr
    assert not target.exists() and list(tmp_path.glob("*new.db*")) == []
    only_bad = assetdb("migrate", folder / "notes.db", "--into", target)
    assert only_bad.exit_code == 2 and not target.exists()


def test_skip_unusable_records_each_file_in_the_ledger_and_the_log(assetdb, folder, tmp_path):
    lfs_pointer(folder / "big.db", 2_000_000)
    target = tmp_path / "out" / "enterprise_assets.db"
    target.parent.mkdir()
    result = assetdb("migrate", folder / "good.db", folder / "big.db", "--into", target, "--skip-unusable", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert "left out: " in result.stdout and "big.db (lfs-pointer: Git LFS pointer" in result.stdout
    connection = sqlite3.connect(target)
    [(path, role, status, reason)] = connection.execute(
        "SELECT path, role, status, reason FROM database_set_files").fetchall()
    assert (path, role, status) == ("../repo/databases/big.db", "skipped", "lfs-pointer") and "git lfs pull" in reason
    [details] = connection.execute("SELECT details FROM cross_database_sync_operations WHERE operation = 'skip'").fetchone()
    assert json.loads(details)["files"][0]["status"] == "lfs-pointer"
    connection.close()
    # fetched at last: the next run migrates it and forgets the skip
    (folder / "big.db").unlink()
    make_database(folder / "big.db", "CREATE TABLE b (x)", "INSERT INTO b VALUES (1)")
    assert assetdb("migrate", folder / "good.db", folder / "big.db", "--into", target, "--quiet").exit_code == 0
    assert sqlite3.connect(target).execute("SELECT count(*) FROM database_set_files").fetchone() == (0,)


def test_only_a_lock_in_the_way_is_aborted_not_bad_input(folder, tmp_path, writer_lock):
    writer_lock(folder / "good.db")
    with pytest.raises(Aborted, match="locked by another writer"):
        migrate(tmp_path / "new.db", [folder / "good.db"], MigrationSettings(LIMIT))
    assert not (tmp_path / "new.db").exists()


def test_exclude_leaves_files_out_of_inventory_migrate_and_the_gate(assetdb, folder, tmp_path, pytester):
    lfs_pointer(folder / "telemetry_2023.db", 9_000_000)
    inventory = assetdb("inventory", folder, "--exclude", "telemetry_*.db", "--json")
    assert [entry["path"] for entry in json.loads(inventory.stdout)["databases"]] == ["good.db"]
    target = tmp_path / "new.db"
    result = assetdb("migrate", folder / "good.db", folder / "telemetry_2023.db", "--into", target,
                     "--exclude", "telemetry_*.db", "--quiet")
    assert result.exit_code == 0 and "excluded: left out on purpose (--exclude telemetry_*.db)" in result.stdout
    whole = assetdb("inventory", folder, "--exclude", str(folder.resolve() / "telemetry_2023.db"), "--json")
    assert [entry["path"] for entry in json.loads(whole.stdout)["databases"]] == ["good.db"]  # a path given whole
    (tmp_path / "through").symlink_to(folder)
    linked = assetdb("inventory", folder, "--exclude", str(tmp_path / "through" / "telemetry_2023.db"), "--json")
    assert [entry["path"] for entry in json.loads(linked.stdout)["databases"]] == ["good.db"]  # spelled through a link
    gate_folder = pytester.path / "databases"
    gate_folder.mkdir()
    lfs_pointer(gate_folder / "telemetry_2023.db", 9_000_000)
    make_database(gate_folder / "a.db", "CREATE TABLE t (x)")
    pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider").assert_outcomes(passed=3, failed=1)  # its size passes, its integrity does not
    (pytester.path / "pyproject.toml").write_text('[tool.assetdb]\nexclude = ["telemetry_*.db"]\n')
    pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_ingest_and_sync_never_store_a_database_and_name_those_outside_the_set(tmp_path):
    workspace = tmp_path / "ws"
    database = workspace / "databases" / "enterprise_assets.db"
    database.parent.mkdir(parents=True)
    initialize(database, LIMIT)
    (workspace / "README.md").write_text("# hi\n")
    make_database(workspace / "data" / "cache.bin", "CREATE TABLE c (x)")  # SQLite under another name
    make_database(workspace / "archived_databases" / "old.db", "CREATE TABLE o (x)", wal=True)
    Path(f"{workspace / 'archived_databases' / 'old.db'}-journal").write_bytes(b"")
    (workspace / "databases" / ".enterprise_assets.db.initializing").write_bytes(b"x")
    (workspace / "databases" / "CONSOLIDATED_DATABASE_LIST.md").write_text("# list\n")
    report = ingest(workspace, database, limit=LIMIT)
    assert report.added == ["README.md"]
    assert report.databases_outside == ["archived_databases/old.db", "archived_databases/old.db-journal", "data/cache.bin"]
    sizes = []
    for _ in range(4):
        pushed = push(workspace, database, LIMIT)
        assert not pushed.changed_anything
        sizes.append(database.stat().st_size)
    assert len(set(sizes)) == 1


def test_a_link_to_a_migrated_source_is_that_source_not_a_database_outside_the_set(tmp_path):
    """``databases/current.db -> app.db``: the set took app.db, so neither name is news to
    ingest; a link to a database the set never took is named, as that database would be."""
    workspace = tmp_path / "ws"
    source = make_database(workspace / "databases" / "app.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    (workspace / "databases" / "current.db").symlink_to("app.db")
    stray = make_database(workspace / "other" / "stray.db", "CREATE TABLE s (x)")
    (workspace / "other" / "latest.db").symlink_to(stray.name)
    database = workspace / "databases" / "enterprise_assets.db"
    migrate(database, [source], MigrationSettings(LIMIT))
    (workspace / "README.md").write_text("# hi\n")
    report = ingest(workspace, database, limit=LIMIT)
    assert report.added == ["README.md"]
    assert report.databases_outside == ["other/latest.db", "other/stray.db"]


def test_consolidate_refuses_two_lists_before_writing_anything(assetdb, folder, tmp_path):
    for name in ("docs", "documentation"):
        (folder.parent / name).mkdir()
        (folder.parent / name / "CONSOLIDATED_DATABASE_LIST.md").write_text("# databases\n")
    before = folder_state(folder.parent)
    result = assetdb("consolidate", folder, "--workspace", folder.parent, "--backup-dir", tmp_path / "backups")
    assert result.exit_code == 2 and "2 database lists" in result.stderr
    assert folder_state(folder.parent) == before and not (tmp_path / "backups").exists()


def test_a_missing_source_folder_and_a_source_folder_given_to_migrate_are_one_line(assetdb, folder, tmp_path):
    missing = assetdb("consolidate", tmp_path / "nowhere", "--backup-dir", tmp_path / "backups")
    assert missing.exit_code == 2 and "no such folder" in missing.stderr
    folder_as_source = assetdb("migrate", folder, "--into", tmp_path / "x.db")
    assert folder_as_source.exit_code == 2 and "is a folder" in folder_as_source.stderr
    with pytest.raises(BadInput, match="no source databases given"):
        migrate(tmp_path / "x.db", [], MigrationSettings(LIMIT))


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (lambda root: (root / "lists").mkdir(), ["list", "databases", "--write", "--list", "lists"], "is a folder"),
        (lambda root: (root / "CONSOLIDATED_DATABASE_LIST.md").write_bytes(b"\xff\xfe not utf-8"),
         ["list", "databases", "--write", "--list", "CONSOLIDATED_DATABASE_LIST.md"], "cannot read the database list"),
        (lambda root: None, ["consolidate", "databases", "--workspace", "nowhere", "--backup-dir", "../b"],
         "nowhere: no such workspace folder"),
        (lambda root: (root / "pyproject.toml").write_text('[tool.assetdb]\nexclude = "*.db"\n'),
         ["inventory", "databases"], "exclude must be a list of path globs"),
        (lambda root: None, ["list", "missing", "--write"], "missing: no such folder"),
    ],
    ids=["list-is-a-folder", "list-not-utf8", "workspace-missing", "exclude-not-a-list", "list-folder-missing"],
)
def test_bad_input_to_the_list_and_consolidate_is_one_line(assetdb, setup, args, message):
    root = Path.cwd()
    make_database(root / "databases" / "a.db", "CREATE TABLE t (x)")
    setup(root)
    before = folder_state(root)
    result = assetdb(*args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and folder_state(root) == before


def test_the_hint_for_databases_outside_the_set_can_be_pasted_into_a_shell():
    """The set's own folder first (named first, it is where the set stays; a folder of the
    workspace first made a second set), every folder quoted, and a database's -wal or
    -journal not counted as a database of its own."""
    from consolidation.reports import outside_note

    note = outside_note(["c.db", "my docs/b.db", "my docs/b.db-journal", "old/o.db-wal"], "databases")
    assert note == ("skipped 2 SQLite databases outside the consolidated set: c.db, my docs/b.db; "
                    "consolidate them with `assetdb consolidate databases . 'my docs'`")


def test_the_hint_pasted_after_a_run_that_left_files_out_leaves_them_out_again(assetdb, tmp_path, monkeypatch):
    """The set recorded an LFS pointer as left out; the pointer is still there, so the
    command the hint gives must say --skip-unusable, or it is refused."""
    repo = tmp_path / "repo"
    make_database(repo / "databases" / "app.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    lfs_pointer(repo / "databases" / "big.db", 48_000_000)
    (repo / "README.md").write_text("# repo\n")
    monkeypatch.chdir(repo)
    backups = ("--backup-dir", str(tmp_path / "backups"))
    assert assetdb("consolidate", "databases", "--workspace", ".", *backups, "--yes", "--skip-unusable",
                   "--quiet").exit_code == 0
    make_database(repo / "analytics.db", "CREATE TABLE a (x)", "INSERT INTO a VALUES (1)")
    synced = assetdb("sync", ".", "--db", "databases/enterprise_assets.db", "--quiet")
    assert synced.exit_code == 0
    [hint] = re.findall(r"consolidate them with `assetdb ([^`]*)`", synced.stderr)
    assert hint == "consolidate databases . --skip-unusable"
    assert assetdb(*shlex.split(hint), *backups, "--quiet").exit_code == 0


def test_a_file_that_only_starts_like_a_database_is_stored_and_a_damaged_one_is_named(assetdb, tmp_path):
    """The magic string alone (a fragment, a fixture of a cut database) is no database: it
    was neither stored nor migratable, so it was lost. A file with a whole header whose pages
    are missing is a damaged database: named as one, never given a migrate that fails."""
    workspace = tmp_path / "ws"
    (workspace / "tests").mkdir(parents=True)
    fragment = b"SQLite format 3\0 truncated fixture"
    (workspace / "tests" / "truncated.bin").write_bytes(fragment)
    whole = make_database(tmp_path / "whole.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (randomblob(20000))")
    (workspace / "tests" / "cut.bin").write_bytes(whole.read_bytes()[:8192])
    database = workspace / "databases" / "enterprise_assets.db"
    database.parent.mkdir()
    synced = assetdb("sync", workspace, "--db", database)
    assert synced.exit_code == 0, synced.stderr
    assert synced.stderr.strip() == ("skipped 1 damaged SQLite databases under other names: tests/cut.bin "
                                     "(never stored; see assetdb inventory)")
    out = tmp_path / "out"
    assert assetdb("regenerate", database, "--out", out, "--quiet").exit_code == 0
    assert (out / "tests" / "truncated.bin").read_bytes() == fragment


def test_the_hint_beside_files_named_as_databases_that_are_not_leaves_them_out(assetdb, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    make_database(repo / "real.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    (repo / "config.db").write_text("key = value\n")
    (repo / "databases").mkdir()
    monkeypatch.chdir(repo)
    synced = assetdb("sync", ".", "--db", "databases/enterprise_assets.db", "--quiet")
    [hint] = re.findall(r"consolidate them with `assetdb ([^`]*)`", synced.stderr)
    assert hint == "consolidate databases . --skip-unusable"
    assert assetdb(*shlex.split(hint), "--backup-dir", str(tmp_path / "backups"), "--quiet").exit_code == 0


def test_the_note_on_what_sync_left_out_gives_a_way_on_that_works_for_each(assetdb, tmp_path):
    """A journal whose database is gone is no database (no "skipped 0"); a text file named
    as a database is said to be one SQLite cannot use; a SQLite file under another name,
    which consolidate never finds, gets the migrate command, and that command works."""
    workspace = tmp_path / "ws"
    (workspace / "databases").mkdir(parents=True)
    (workspace / "app.py").write_text("print(1)\n")
    (workspace / "old.db-journal").write_bytes(b"left over")
    database = workspace / "databases" / "enterprise_assets.db"
    alone = assetdb("ingest", workspace, "--into", database)
    assert alone.exit_code == 0 and "skipped" not in alone.stderr, alone.stderr
    (workspace / "notes.db").write_text("just notes\n")
    make_database(workspace / "cache_file", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    synced = assetdb("sync", workspace, "--db", database)
    assert synced.exit_code == 0
    assert synced.stderr.strip().splitlines() == [
        f"skipped 1 SQLite databases under other names: cache_file; migrate them with `assetdb migrate "
        f"{workspace / 'cache_file'} --into {database}`; skipped 1 files named as databases that SQLite cannot use: notes.db (never stored; "
        "see assetdb inventory)"]
    assert assetdb("migrate", workspace / "cache_file", "--into", database, "--quiet").exit_code == 0
    after = assetdb("sync", workspace, "--db", database)
    assert "cache_file" not in after.stderr and "notes.db" in after.stderr


def test_the_way_on_printed_from_a_folder_of_the_workspace_works_from_there(assetdb, tmp_path, monkeypatch):
    """Run from ``scripts/`` (``assetdb sync .. --db ../databases/…``): the migrate it prints
    names the file from there, not from the workspace, and works pasted where it was printed."""
    workspace = tmp_path / "ws"
    (workspace / "databases").mkdir(parents=True)
    (workspace / "scripts").mkdir()
    (workspace / "scripts" / "app.py").write_text("print(1)\n")
    make_database(workspace / "data" / "settings.json", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    monkeypatch.chdir(workspace / "scripts")
    synced = assetdb("sync", "..", "--db", "../databases/enterprise_assets.db")
    assert synced.exit_code == 0, synced.stderr
    [hint] = [part.split("`")[1] for part in synced.stderr.split("; ") if "migrate them with" in part]
    assert hint == "assetdb migrate ../data/settings.json --into ../databases/enterprise_assets.db"
    pasted = assetdb(*shlex.split(hint)[1:], "--quiet")
    assert pasted.exit_code == 0, pasted.stderr


def test_the_summary_counts_only_the_databases_consolidated_not_those_left_out(assetdb, folder, tmp_path):
    lfs_pointer(folder / "big.db", 2_000_000)
    (folder / "notes.db").write_text("notes\n" * 10)
    result = assetdb("consolidate", folder, "--workspace", folder.parent, "--backup-dir", tmp_path / "backups",
                     "--skip-unusable", "--quiet")
    assert result.exit_code == 0, result.stderr
    [done] = [line for line in result.stdout.splitlines() if line.startswith("done in ")]
    assert "1 databases consolidated (still in place until --yes archives them), 2 left out" in done, done


def test_the_set_s_own_files_among_the_sources_are_passed_over_and_another_set_s_are_refused(folder, tmp_path):
    """``migrate databases/*.db --into databases/enterprise_assets.db``: the glob names the
    target and its shards too, which are never sources; a file of another consolidated set
    is not a legacy source either, and is refused like any unusable file."""
    from consolidation.errors import BadInput

    target = folder / "enterprise_assets.db"
    blob = make_database(tmp_path / "blob.db", "CREATE TABLE b (id INTEGER PRIMARY KEY, v)",
                         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30) "
                         "INSERT INTO b SELECT i, randomblob(20000) FROM n")
    migrate(target, [folder / "good.db", blob], MigrationSettings(400_000))
    assert len(list(folder.glob("enterprise_assets*.db"))) > 1
    before = hashlib_of(folder)
    again = migrate(target, sorted(folder.glob("*.db")), MigrationSettings(400_000),
                    backup_directory=tmp_path / "backups")
    assert [(o.name, o.action) for o in again.sources] == [("good.db", "unchanged")]
    assert hashlib_of(folder) == before and not (tmp_path / "backups").exists()

    other = tmp_path / "other" / "enterprise_assets.db"
    other.parent.mkdir()
    with pytest.raises(BadInput, match=r"enterprise_assets\.db \(a file of another consolidated set \(its primary or "
                                        r"a shard\), never a legacy source; leave it out of the sources\)"):
        migrate(other, sorted(folder.glob("*.db")), MigrationSettings(400_000))
    assert not other.exists()
    report = migrate(other, sorted(folder.glob("*.db")), MigrationSettings(400_000), skip_unusable=True)
    assert [o.name for o in report.sources] == ["good.db"] and len(report.left_out) == len(before)


def test_a_rerun_that_leaves_out_what_it_left_out_before_changes_no_byte(folder, tmp_path):
    lfs_pointer(folder / "big.db", 2_000_000)
    target = tmp_path / "set" / "enterprise_assets.db"
    target.parent.mkdir()
    migrate(target, sorted(folder.glob("*.db")), MigrationSettings(LIMIT), skip_unusable=True)
    before = hashlib_of(target.parent)
    report = migrate(target, sorted(folder.glob("*.db")), MigrationSettings(LIMIT), skip_unusable=True,
                     backup_directory=tmp_path / "backups")
    assert report.backup is None and hashlib_of(target.parent) == before


def hashlib_of(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.glob("enterprise_assets*.db")}


def test_verify_given_a_file_the_set_left_out_names_it_and_proves_the_rest(assetdb, folder, tmp_path):
    lfs_pointer(folder / "big.db", 2_000_000)
    target = tmp_path / "set" / "enterprise_assets.db"
    target.parent.mkdir()
    migrate(target, sorted(folder.glob("*.db")), MigrationSettings(LIMIT), skip_unusable=True)
    verified = assetdb("verify", target, "--sources", *sorted(folder.glob("*.db")))
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    assert "1 compared live" in verified.stdout
    assert f"left out of the set, as it records: {folder / 'big.db'} (lfs-pointer: Git LFS pointer" in verified.stdout


def test_a_copy_of_the_set_kept_beside_it_is_neither_a_shard_nor_a_database_to_consolidate(assetdb, tmp_path):
    """``cp enterprise_assets.db enterprise_assets.backup.db`` before a risky change: the
    summary counts the set's own files only, and sync says the copy is a set's file, not a
    database to consolidate (consolidate passes over it)."""
    import shutil

    workspace = tmp_path / "ws"
    (workspace / "databases").mkdir(parents=True)
    make_database(workspace / "databases" / "a.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    (workspace / "app.py").write_text("print(1)\n")
    arguments = ["consolidate", workspace / "databases", "--workspace", workspace, "--backup-dir", tmp_path / "b"]
    assert assetdb(*arguments).exit_code == 0
    database = workspace / "databases" / "enterprise_assets.db"
    shutil.copyfile(database, workspace / "databases" / "enterprise_assets.backup.db")
    again = assetdb(*arguments)
    assert again.exit_code == 0 and "1 shard(s): enterprise_assets.db " in again.stdout, again.stdout
    synced = assetdb("sync", workspace, "--db", database)
    assert synced.stderr.strip().splitlines() == [
        "skipped 1 files of another consolidated set or copies of one: databases/enterprise_assets.backup.db "
        "(never stored, never a legacy source)"]


def test_a_database_whose_name_is_not_utf8_is_inventoried_and_refused_by_name(assetdb, tmp_path):
    """A file system allows any byte in a name: inventory (and every reader) crashed on it,
    an internal error. Inventory lists it; migrate refuses it in one line, as the ledger keeps
    names as text."""
    folder = tmp_path / "databases"
    folder.mkdir()
    odd = os.fsdecode(os.fsencode(folder) + b"/bad\xff\xfe.db")
    make_database(Path(odd), "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    listed = assetdb("inventory", folder)
    assert listed.exit_code == 0, listed.stderr
    assert "1 databases" in listed.stdout
    before = folder_state(tmp_path)
    refused = assetdb("migrate", odd, "--into", tmp_path / "set.db")
    assert refused.exit_code == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "its name is not UTF-8" in refused.stderr and folder_state(tmp_path) == before
