"""archive, list and consolidate: from a legacy folder to one consolidated set and a green gate."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import (
    folder_state,
    make_database,
    sqldiff,
    unwritable,
    write_wal_with_pending_rows,
)
from consolidation.archive import MANIFEST, archive_sources
from consolidation.database_list import ListRequest, keep_list
from consolidation.demo import build_demo_workspace, build_legacy_set
from consolidation.errors import BadInput, CheckFailed
from consolidation.listing import read_list
from consolidation.merge import MigrationSettings, migrate
from consolidation.proof import rebuild_source
from consolidation.sqlite import open_readonly
from consolidation.sqlite.fingerprint import table_fingerprint

LIMIT = 99_900_000


@pytest.fixture
def legacy(tmp_path) -> Path:
    folder = tmp_path / "repo" / "databases"
    build_legacy_set(folder)
    return folder


def test_archive_moves_proved_sources_and_they_stay_rebuildable(legacy, tmp_path):
    target = legacy / "enterprise_assets.db"
    sources = sorted(legacy.glob("*.db"))
    migrate(target, sources, MigrationSettings(LIMIT))
    originals = {path.name: path.read_bytes() for path in sources}
    archived = archive_sources(target, sources, LIMIT)
    assert [record.name for record in archived] == [path.name for path in sources]
    assert sorted(p.name for p in legacy.glob("*.db")) == ["enterprise_assets.db"]
    manifest = json.loads((legacy / "archive" / MANIFEST).read_text())
    assert {entry["name"] for entry in manifest} == set(originals)
    statuses = sqlite3.connect(target).execute("SELECT DISTINCT status FROM migration_sources").fetchall()
    assert statuses == [("archived",)]
    for name, data in originals.items():
        assert (legacy / "archive" / name).read_bytes() == data  # moved, not changed
        rebuilt = tmp_path / f"rebuilt-{name}"
        rebuild_source(target, name, rebuilt)
        assert sqldiff(legacy / "archive" / name, rebuilt) == ""


def test_another_file_under_an_archived_source_s_name_is_refused_before_any_write(tmp_path):
    """An archived source is proved by its archived copy. A new file where it was, under its
    name, would be taken for it: migrating it dropped the archived rows from the set, then
    every run stopped at the archive. It is refused first, with the way on."""
    folder = tmp_path / "databases"
    source = make_database(folder / "a.db", "CREATE TABLE items (id INTEGER PRIMARY KEY, n TEXT)",
                           "INSERT INTO items VALUES (1, 'old'), (2, 'only-in-old')")
    target = folder / "enterprise_assets.db"
    migrate(target, [source], MigrationSettings(LIMIT))
    archive_sources(target, [source], LIMIT)
    make_database(folder / "a.db", "CREATE TABLE items (id INTEGER PRIMARY KEY, n TEXT)", "INSERT INTO items VALUES (1, 'new')")
    before = folder_state(folder)
    with pytest.raises(BadInput, match="holds a.db as an archived source, and this is another file under its name; rename"):
        migrate(target, [folder / "a.db"], MigrationSettings(LIMIT), backup_directory=tmp_path / "backups")
    assert folder_state(folder) == before
    (folder / "a.db").rename(folder / "a_new.db")
    migrate(target, [folder / "a_new.db"], MigrationSettings(LIMIT), backup_directory=tmp_path / "backups")
    with sqlite3.connect(target) as connection:
        assert connection.execute("SELECT n FROM items ORDER BY id").fetchall() == [("old",), ("only-in-old",)]
    connection.close()


def test_archived_sources_named_to_migrate_again_are_passed_over(legacy):
    """The archive is the set's own: its files named as sources (``migrate archive/*.db``)
    are the sources they were archived as, not new ones migrated a second time."""
    target = legacy / "enterprise_assets.db"
    sources = sorted(legacy.glob("*.db"))
    migrate(target, sources, MigrationSettings(LIMIT))
    archive_sources(target, sources, LIMIT)
    with sqlite3.connect(target) as connection:
        before = connection.execute("SELECT name, fingerprint FROM migration_sources ORDER BY id").fetchall()
        conflicts = connection.execute("SELECT count(*) FROM migration_conflicts").fetchone()
    connection.close()
    report = migrate(target, sorted((legacy / "archive").glob("*.db")), MigrationSettings(LIMIT))
    assert report.sources == []
    with sqlite3.connect(target) as connection:
        assert connection.execute("SELECT name, fingerprint FROM migration_sources ORDER BY id").fetchall() == before
        assert connection.execute("SELECT count(*) FROM migration_conflicts").fetchone() == conflicts
    connection.close()


def test_a_new_database_made_under_an_archived_source_s_name_is_not_taken_for_it(pytester, legacy):
    """The application makes ``monitoring.db`` again after its rows were archived: the gate
    proves the archived source as archived (against the ledger, its copy by the archive's
    own check), not against the new file, so it stays green; ``verify --sources`` given the
    new file says whose name it took, and compares the archived copy when given that."""
    from consolidation.proof import verify_database

    target = legacy / "enterprise_assets.db"
    sources = sorted(legacy.glob("*.db"))
    migrate(target, sources, MigrationSettings(LIMIT))
    archive_sources(target, sources, LIMIT)
    make_database(legacy / "monitoring.db", "CREATE TABLE log (id INTEGER PRIMARY KEY, message TEXT)",
                  "INSERT INTO log (message) VALUES ('new application data')")
    folder = pytester.path / "databases"
    shutil.copytree(legacy, folder)
    gate = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider")
    assert gate.ret == pytest.ExitCode.OK, gate.stdout.str()
    report = verify_database(target, [legacy / "monitoring.db"])
    assert report.problems == [f"{legacy / 'monitoring.db'}: the set's monitoring.db is archived, at "
                               f"{(legacy / 'archive' / 'monitoring.db').resolve()}; this is another file under its "
                               f"name (compare the archived copy: --sources "
                               f"{(legacy / 'archive' / 'monitoring.db').resolve()})"]
    assert verify_database(target, [legacy / "archive" / "monitoring.db"]).ok


def test_archive_refuses_unproved_sources_and_moves_nothing(legacy):
    target = legacy / "enterprise_assets.db"
    migrated = legacy / "development.db"
    migrate(target, [migrated], MigrationSettings(LIMIT))
    with pytest.raises(BadInput, match="not a migrated source"):
        archive_sources(target, [migrated, legacy / "monitoring.db"], LIMIT)
    assert migrated.exists() and (legacy / "monitoring.db").exists()
    connection = sqlite3.connect(migrated)
    connection.execute("UPDATE regeneration_patterns SET pattern_type = 'changed after migration'")
    connection.commit()
    connection.close()
    with pytest.raises(CheckFailed, match="not proved lossless"):
        archive_sources(target, [migrated], LIMIT)
    assert migrated.exists() and not (legacy / "archive").exists()


def test_cli_archive_exit_codes(assetdb, legacy):
    target = legacy / "enterprise_assets.db"
    refused = assetdb("archive", legacy / "monitoring.db", "--db", target)
    assert refused.exit_code == 2  # no consolidated database yet
    migrate(target, [legacy / "monitoring.db"], MigrationSettings(LIMIT))
    moved = assetdb("archive", legacy / "monitoring.db", "--db", target, "--to", legacy.parent / "old")
    assert moved.exit_code == 0 and "archived monitoring.db" in moved.stdout
    assert (legacy.parent / "old" / "monitoring.db").is_file()


def test_list_is_written_and_read_back_and_the_gate_follows_it(pytester, legacy):
    target = legacy / "enterprise_assets.db"
    sources = sorted(legacy.glob("*.db"))
    migrate(target, sources, MigrationSettings(LIMIT))
    archive_sources(target, sources[:2], LIMIT)
    written = keep_list(ListRequest((legacy,), LIMIT))
    assert written.path == legacy / "CONSOLIDATED_DATABASE_LIST.md" and written.created
    parsed = read_list(written.path)
    assert sorted(parsed.active) == sorted(p.name for p in legacy.glob("*.db"))
    assert parsed.archived == [f"archive/{p.name}" for p in sources[:2]]
    text = written.path.read_text()
    assert "### Count" in text and "6 databases before, 5 after (16.7% fewer)." in text
    assert str(legacy) not in text  # every path relative to the list
    folder = pytester.path / "databases"
    shutil.copytree(legacy, folder)
    result = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-m", "assetdb_check(name='listed')")
    result.assert_outcomes(passed=8)  # five databases listed, two archived listed as archived, and the list complete
    (folder / "monitoring.db").unlink()
    make_database(folder / "stray.db", "CREATE TABLE t (x)")
    result = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-m", "assetdb_check(name='listed')")
    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(["listed but missing on disk: monitoring.db — run: assetdb list * --write --list *"])
    result.stdout.fnmatch_lines(["not listed: databases/stray.db is missing from *"])


def test_a_hand_written_list_is_updated_in_place_its_prose_kept_byte_for_byte(legacy, tmp_path):
    documentation = legacy.parent / "documentation"
    documentation.mkdir()
    prose = ("# Our databases\n\nReviewed quarterly.\n\n- `development.db` (70 KB)\n- monitoring.db\n"
             "- `retired.db` (gone since 2024)\n\nAsk the data team before adding one.\n")
    (documentation / "CONSOLIDATED_DATABASE_LIST.md").write_bytes(prose.encode())
    first = keep_list(ListRequest((legacy,), LIMIT, workspace=legacy.parent))
    assert first.path == documentation / "CONSOLIDATED_DATABASE_LIST.md" and not first.created
    text = first.path.read_text()
    assert text.startswith(prose) and text.count("assetdb:database-list:begin") == 1
    assert "`../databases/development.db`" in text and str(legacy) not in text
    assert any("`retired.db` is named in the list but exists nowhere" in finding for finding in first.findings)
    assert any("`../databases/analytics_collector.db` is active but the hand-written list does not name it" in finding
               for finding in first.findings)
    (documentation / "CONSOLIDATED_DATABASE_LIST.md").write_text(text + "\nA note added under the block.\n")
    second = keep_list(ListRequest((legacy,), LIMIT, workspace=legacy.parent))
    again = second.path.read_text()
    assert again.startswith(prose) and again.endswith("\nA note added under the block.\n")
    assert second.findings == first.findings  # the block it wrote is not taken for the prose
    assert again.count("assetdb:database-list:begin") == 1


def test_a_hand_written_list_may_name_databases_by_their_path_from_the_repository_root(pytester):
    """``documentation/CONSOLIDATED_DATABASE_LIST.md`` naming ``databases/a.db`` (as the gate
    itself prints it) names it: inventory and the gate say it is listed, the cross-check
    does not call it unnamed, and the list's own item finds it on disk."""
    repository = pytester.path
    subprocess.run(["git", "init", "-q", str(repository)], check=True)
    make_database(repository / "databases" / "a.db", "CREATE TABLE t (x)")
    make_database(repository / "databases" / "b.db", "CREATE TABLE t (x)")
    listed = repository / "documentation" / "CONSOLIDATED_DATABASE_LIST.md"
    listed.parent.mkdir()
    listed.write_text("# Databases\n\n- databases/a.db — the app database\n- `databases/b.db`\n")
    inventory = subprocess.run([sys.executable, "-m", "consolidation", "inventory", "databases", "--json"],
                               cwd=repository, capture_output=True, text=True, check=True)
    assert [entry["listed"] for entry in json.loads(inventory.stdout)["databases"]] == [True, True]
    gate = pytester.runpytest("--assetdb", "databases", "documentation", "-p", "no:cacheprovider",
                              "-m", "assetdb_check(name='listed')")
    gate.assert_outcomes(passed=3)  # each database listed, and the list's databases all on disk
    written = keep_list(ListRequest((repository / "databases",), LIMIT, workspace=repository))
    assert not any("does not name it" in finding or "exists nowhere" in finding for finding in written.findings)


def test_a_list_written_with_crlf_line_endings_keeps_them_and_its_block_follows(legacy):
    """Editors on Windows write CRLF: the prose keeps every byte (no newline translated) and
    the block is written in the same line endings, so Git shows no line changed but the block's."""
    listed = legacy.parent / "documentation" / "CONSOLIDATED_DATABASE_LIST.md"
    listed.parent.mkdir()
    prose = b"# Databases\r\n\r\nHand-written prose.\r\n\r\n- monitoring.db\r\n"
    listed.write_bytes(prose)
    keep_list(ListRequest((legacy,), LIMIT, workspace=legacy.parent))
    written = listed.read_bytes()
    assert written.startswith(prose) and b"assetdb:database-list:begin" in written
    assert b"\n" not in written.replace(b"\r\n", b"")
    keep_list(ListRequest((legacy,), LIMIT, workspace=legacy.parent))
    again = listed.read_bytes()
    assert again.startswith(prose) and again.count(b"assetdb:database-list:begin") == 1
    assert b"\n" not in again.replace(b"\r\n", b"")


def test_a_list_that_cannot_be_read_is_refused_before_anything_is_written(assetdb, legacy, tmp_path):
    """A list in another encoding than UTF-8 is judged with the candidates: the dry run and
    the real run refuse it in one line, before a backup, a migration or an archive."""
    listed = legacy.parent / "documentation" / "CONSOLIDATED_DATABASE_LIST.md"
    listed.parent.mkdir()
    listed.write_bytes(b"# Databases\n\nCaf\xe9 (saved by a Latin-1 editor)\n\n- monitoring.db\n")
    before = folder_state(legacy.parent)
    for extra in (["--dry-run"], []):
        result = assetdb("consolidate", legacy, "--workspace", legacy.parent, "--backup-dir", tmp_path / "backups",
                         "--yes", *extra)
        assert result.exit_code == 2, result.stdout
        assert result.stderr.strip().splitlines() == [
            f"assetdb: error: {listed}: cannot read the database list "
            "('utf-8' codec can't decode byte 0xe9 in position 16: invalid continuation byte)"]
    assert folder_state(legacy.parent) == before and not (tmp_path / "backups").exists()


def test_two_lists_in_the_workspace_are_refused_naming_both(assetdb, legacy):
    for folder in ("docs", "documentation"):
        (legacy.parent / folder).mkdir()
        (legacy.parent / folder / "CONSOLIDATED_DATABASE_LIST.md").write_text("# Databases\n")
    result = assetdb("list", legacy, "--write", "--workspace", legacy.parent)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "2 database lists" in result.stderr and "docs/CONSOLIDATED_DATABASE_LIST.md" in result.stderr
    assert "documentation/CONSOLIDATED_DATABASE_LIST.md" in result.stderr and "--list FILE" in result.stderr


def test_consolidate_end_to_end_then_resume(assetdb, tmp_path):
    root = tmp_path / "project"
    databases = root / "databases"
    build_legacy_set(databases)
    build_demo_workspace(root / "workspace")
    backups = tmp_path / "backups"
    first = assetdb("consolidate", databases, "--workspace", root / "workspace", "--backup-dir", backups, "--yes", "--quiet")
    assert first.exit_code == 0, first.stderr
    phases = [line.split()[0] for line in first.stdout.splitlines()[:-1]]
    assert phases == ["inventory", "backup", "init", "migrate", "ingest", "documentation", "verify", "archive", "list"]
    assert "databases 6 -> 1" in first.stdout
    assert sorted(p.name for p in databases.iterdir()) == ["CONSOLIDATED_DATABASE_LIST.md", "archive", "enterprise_assets.db"]
    again = assetdb("consolidate", databases, "--workspace", root / "workspace", "--backup-dir", backups, "--yes", "--quiet")
    assert again.exit_code == 0
    assert "no legacy database left to migrate" in again.stdout and "nothing left to archive" in again.stdout
    assert "databases 1 -> 1" in again.stdout  # the set itself, before as after
    log = sqlite3.connect(databases / "enterprise_assets.db").execute(
        "SELECT status FROM cross_database_sync_operations WHERE operation = 'consolidate'"
    ).fetchall()
    assert log == [("ok",)]  # the rerun had nothing to do: no log row changes the set's bytes
    set_bytes = (databases / "enterprise_assets.db").read_bytes()
    assert assetdb("consolidate", databases, "--workspace", root / "workspace", "--backup-dir", backups, "--yes",
                   "--quiet").exit_code == 0
    assert (databases / "enterprise_assets.db").read_bytes() == set_bytes
    gate = subprocess.run(
        [sys.executable, "-m", "pytest", "--assetdb", str(databases), "--assetdb-workspace", str(root / "workspace"),
         "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert gate.returncode == 0, gate.stdout[-3000:]


def test_consolidate_dry_run_writes_nothing(assetdb, legacy, tmp_path):
    before = folder_state(legacy.parent)
    result = assetdb("consolidate", legacy, "--dry-run", "--backup-dir", tmp_path / "backups")
    assert result.exit_code == 0 and "dry run: nothing was written" in result.stdout
    assert result.stdout.count("plan  ") == 9
    assert folder_state(legacy.parent) == before and not (tmp_path / "backups").exists()


def test_consolidate_stops_at_the_first_failed_phase(assetdb, legacy, tmp_path):
    (legacy / "broken.db").write_text("not sqlite" * 100)
    before = folder_state(legacy.parent)
    result = assetdb("consolidate", legacy, "--backup-dir", tmp_path / "backups")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "cannot consolidate 1 of 7 databases: " in result.stderr and "broken.db (not a SQLite database (text" in result.stderr
    assert "--skip-unusable" in result.stderr and "nothing was written" in result.stderr
    assert folder_state(legacy.parent) == before and not (tmp_path / "backups").exists()


def test_consolidate_refuses_backups_inside_the_workspace(assetdb, legacy):
    (legacy.parent / ".git").mkdir()
    result = assetdb("consolidate", legacy, "--backup-dir", legacy.parent / "backups")
    assert result.exit_code == 2 and "inside the workspace" in result.stderr
    assert not (legacy / "enterprise_assets.db").exists()


def _consolidated_state(databases: Path) -> dict:
    with open_readonly(databases / "enterprise_assets.db") as connection:
        tables = [
            row[0] for row in connection.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT IN "
                "('migration_sources', 'cross_database_sync_operations', 'migration_conflicts', 'script_assets', "
                "'documentation_assets', 'template_assets', 'pattern_assets', 'database_set_files') ORDER BY name"
            )
        ]
        state = {table: table_fingerprint(connection, table) for table in tables}
        state["sources"] = connection.execute("SELECT name, fingerprint, status FROM migration_sources ORDER BY id").fetchall()
        state["set_files"] = connection.execute("SELECT path, role, status, reason FROM database_set_files ORDER BY path").fetchall()
        for kind in ("script", "documentation", "template", "pattern"):
            state[kind] = connection.execute(f"SELECT path, version, sha256 FROM {kind}_assets ORDER BY path").fetchall()
    state["archive"] = sorted(p.name for p in (databases / "archive").glob("*.db"))
    return state


def test_killed_consolidate_resumes_to_the_same_state_as_a_clean_run(tmp_path):
    def fresh(name: str) -> tuple[Path, Path]:
        root = tmp_path / name
        build_legacy_set(root / "databases")
        build_demo_workspace(root / "workspace")
        return root / "databases", root / "workspace"

    def command(databases: Path, workspace: Path) -> list[str]:
        return [sys.executable, "-m", "consolidation", "consolidate", str(databases), "--workspace", str(workspace),
                "--backup-dir", str(tmp_path / "backups"), "--yes", "--quiet"]

    clean_databases, clean_workspace = fresh("clean")
    started = time.monotonic()
    subprocess.run(command(clean_databases, clean_workspace), check=True, capture_output=True)
    duration = time.monotonic() - started

    databases, workspace = fresh("killed")
    for fraction in (0.3, 0.5, 0.7, 0.9):
        process = subprocess.Popen(command(databases, workspace), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * fraction)
        process.send_signal(signal.SIGKILL)
        process.wait()
    resumed = subprocess.run(command(databases, workspace), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert _consolidated_state(databases) == _consolidated_state(clean_databases)


def test_an_archive_interrupted_before_the_ledger_is_finished_on_the_next_run(legacy):
    from consolidation.archive import reconcile_archive

    target = legacy / "enterprise_assets.db"
    source = legacy / "monitoring.db"
    migrate(target, [source], MigrationSettings(LIMIT))
    archive_sources(target, [source], LIMIT)
    connection = sqlite3.connect(target)
    connection.execute("UPDATE migration_sources SET status = 'migrated', archived_path = NULL")  # as if killed
    connection.commit()
    connection.close()
    assert reconcile_archive(target, legacy / "archive", LIMIT) == 1
    assert sqlite3.connect(target).execute("SELECT status FROM migration_sources").fetchall() == [("archived",)]


def test_a_source_whose_wal_holds_rows_is_archived_whole_as_one_proved_file(tmp_path):
    source = write_wal_with_pending_rows(tmp_path / "repo" / "databases" / "wal.db", rows=3)
    target = tmp_path / "repo" / "databases" / "enterprise_assets.db"
    migrate(target, [source], MigrationSettings(LIMIT))
    with open_readonly(source) as connection:
        expected = table_fingerprint(connection, "items")
    [record] = archive_sources(target, [source], LIMIT)
    archived = source.parent / "archive" / "wal.db"
    assert not source.exists() and not Path(f"{source}-wal").exists() and not Path(f"{source}-shm").exists()
    assert not Path(f"{archived}-wal").exists()  # one self-contained file, rows included
    with open_readonly(archived) as connection:
        assert table_fingerprint(connection, "items") == expected
        assert connection.execute("SELECT count(*) FROM items").fetchone()[0] == 3
    assert record.original_sha256 and record.sha256 != record.original_sha256
    rebuilt = tmp_path / "rebuilt.db"
    rebuild_source(target, "wal.db", rebuilt)
    assert sqldiff(archived, rebuilt) == ""


def test_an_archive_killed_after_its_manifest_entry_is_redone_cleanly(legacy):
    target = legacy / "enterprise_assets.db"
    source = legacy / "monitoring.db"
    migrate(target, [source], MigrationSettings(LIMIT))
    folder = legacy / "archive"
    folder.mkdir()
    (folder / MANIFEST).write_text(json.dumps([{  # written, then killed before the move
        "name": "monitoring.db", "original": str(source.resolve()), "archived": str((folder / "monitoring.db").resolve()),
        "sha256": "0" * 64, "bytes": 1, "archived_at": "2026-01-01T00:00:00Z",
    }]))
    archive_sources(target, [source], LIMIT)
    entries = json.loads((folder / MANIFEST).read_text())
    assert len(entries) == 1 and entries[0]["sha256"] != "0" * 64
    assert (folder / "monitoring.db").is_file() and not source.exists()


def test_a_zero_byte_consolidated_database_left_by_a_kill_does_not_block(assetdb, legacy, tmp_path):
    (legacy / "enterprise_assets.db").touch()  # what a kill right after creating the file leaves
    result = assetdb("consolidate", legacy, "--backup-dir", tmp_path / "backups", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert "init          enterprise_assets.db: created" in result.stdout


def test_the_list_says_why_there_are_more_databases_before_the_archive(assetdb, tmp_path):
    folder = tmp_path / "repo" / "databases"
    for name in ("a", "b"):
        make_database(folder / f"{name}.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    result = assetdb("consolidate", folder, "--workspace", folder.parent, "--backup-dir", tmp_path / "backups",
                     "--quiet")
    assert result.exit_code == 0, result.stderr
    text = (folder / "CONSOLIDATED_DATABASE_LIST.md").read_text()
    assert "2 databases before, 3 after (50.0% more: the legacy databases are still in place until " \
           "`assetdb consolidate --yes` archives them)." in text


def test_a_new_folder_consolidated_on_its_own_is_refused_while_the_list_keeps_a_set(assetdb, tmp_path, monkeypatch):
    """After the first consolidation, `consolidate tools/db` would start a second set there
    and rewrite the list for it alone: refused, naming the set and the command that adds the
    new databases to it; that command works."""
    from consolidation.demo import build_demo_repository

    repo = build_demo_repository(tmp_path / "demo").root
    folders = ["databases", "archived_databases", "deployment/production/databases"]
    monkeypatch.chdir(repo)
    first = assetdb("consolidate", *folders, "--workspace", ".", "--backup-dir", tmp_path / "backups", "--yes",
                    "--skip-unusable", "--quiet")
    assert first.exit_code == 0, first.stderr
    make_database(repo / "tools" / "db" / "extra.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
                  "INSERT INTO t VALUES (1, 2)")
    before = folder_state(repo)
    second = assetdb("consolidate", "tools/db", "--workspace", ".", "--backup-dir", tmp_path / "backups", "--yes")
    assert second.exit_code == 2
    assert second.stderr.strip() == (
        "assetdb: error: documentation/CONSOLIDATED_DATABASE_LIST.md: keeps the consolidated set "
        "databases/enterprise_assets.db; consolidating into tools/db/enterprise_assets.db would start a second one "
        "— name its folder first: assetdb consolidate databases tools/db")
    assert folder_state(repo) == before
    joined = assetdb("consolidate", "databases", "tools/db", "--workspace", ".", "--backup-dir", tmp_path / "backups",
                     "--yes", "--skip-unusable", "--quiet")
    assert joined.exit_code == 0, joined.stderr
    assert "1 migrated" in joined.stdout and not (repo / "tools" / "db" / "enterprise_assets.db").exists()


def test_a_list_still_true_is_not_written_again(legacy):
    """Writing the list again when nothing it says has changed leaves it byte for byte (its
    'Written' time included), so a rerun leaves Git nothing to commit."""
    first = keep_list(ListRequest((legacy,), LIMIT, workspace=legacy.parent))
    written = first.path.read_bytes()
    stamp = first.path.stat().st_mtime_ns
    time.sleep(1.1)  # the block's time is to the second
    again = keep_list(ListRequest((legacy,), LIMIT, workspace=legacy.parent))
    assert again.path.read_bytes() == written and again.path.stat().st_mtime_ns == stamp
    migrate(legacy / "enterprise_assets.db", sorted(legacy.glob("*.db")), MigrationSettings(LIMIT))
    keep_list(ListRequest((legacy,), LIMIT, workspace=legacy.parent))
    with sqlite3.connect(legacy / "enterprise_assets.db") as connection:  # as a kill between the two writes leaves it
        connection.execute("DELETE FROM database_set_files WHERE role = 'database-list'")
    connection.close()
    keep_list(ListRequest((legacy,), LIMIT, workspace=legacy.parent))  # the list is true: only the record is made
    with sqlite3.connect(legacy / "enterprise_assets.db") as connection:
        assert connection.execute("SELECT path FROM database_set_files WHERE role = 'database-list'").fetchall() == [
            ("CONSOLIDATED_DATABASE_LIST.md",)]
    connection.close()
    make_database(legacy / "late.db", "CREATE TABLE t (x)")
    changed = keep_list(ListRequest((legacy,), LIMIT, workspace=legacy.parent))
    assert "late.db" in changed.path.read_text() and changed.path.read_bytes() != written


APPLICATION = """
import sqlite3, sys, time
from pathlib import Path
connection = sqlite3.connect(sys.argv[1])
connection.execute(f"PRAGMA journal_mode = {sys.argv[2]}")
connection.execute("CREATE TABLE IF NOT EXISTS app (id INTEGER PRIMARY KEY, x)")
connection.execute("INSERT INTO app (x) VALUES ('first')")
connection.commit()
Path(sys.argv[3]).touch()  # ready, and idle between its writes: it holds no write lock
while True:
    time.sleep(0.1)
"""


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_a_source_an_application_has_open_is_never_archived(assetdb, tmp_path, journal_mode):
    """Its next writes would go to the file moved away (or removed once copied, in WAL mode):
    consolidate --yes refuses before writing anything, archive before moving anything."""
    folder = tmp_path / "repo" / "databases"
    folder.mkdir(parents=True)
    live, ready = folder / "live.db", tmp_path / "ready"
    application = subprocess.Popen([sys.executable, "-c", APPLICATION, str(live), journal_mode, str(ready)])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert time.monotonic() < deadline and application.poll() is None, "the application never started"
            time.sleep(0.05)
        before = folder_state(folder)
        refused = assetdb("consolidate", folder, "--workspace", folder.parent, "--backup-dir", tmp_path / "backups",
                          "--yes", "--quiet")
        assert refused.exit_code == 3, refused.stderr
        assert f"another process has open: {live} (pid {application.pid})" in refused.stderr
        assert "nothing was moved" in refused.stderr and folder_state(folder) == before
        target = tmp_path / "set" / "enterprise_assets.db"
        target.parent.mkdir()
        assert assetdb("migrate", live, "--into", target, "--quiet").exit_code == 0  # reading it is fine
        moved = assetdb("archive", live, "--db", target)
        assert moved.exit_code == 3 and f"{live} (pid {application.pid})" in moved.stderr
        assert live.is_file() and not (target.parent / "archive").exists()
    finally:
        application.kill()
        application.wait()
    assert assetdb("archive", live, "--db", target).exit_code == 0  # once it is closed


def test_a_link_to_an_archived_source_follows_it_into_the_archive(assetdb, pytester):
    """``databases/current.db -> app.db``: archived alone, the link would dangle in databases/
    and the next consolidate would refuse it; it goes beside its database, and the gate and
    the list take it for that database. A link left dangling by an earlier run is moved too."""
    folder = pytester.path / "databases"
    make_database(folder / "app.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, x)", "INSERT INTO t VALUES (1, 'a')")
    make_database(folder / "other.db", "CREATE TABLE u (id INTEGER PRIMARY KEY, x)", "INSERT INTO u VALUES (1, 'b')")
    (folder / "current.db").symlink_to("app.db")
    backups = pytester.path.parent / f"{pytester.path.name}-backups"
    first = assetdb("consolidate", folder, "--workspace", pytester.path, "--backup-dir", backups, "--yes", "--quiet")
    assert first.exit_code == 0, first.stderr
    assert "databases 2 -> 1" in first.stdout
    assert os.readlink(folder / "archive" / "current.db") == "app.db" and not os.path.lexists(folder / "current.db")
    assert "2 databases before, 1 after" in (folder / "CONSOLIDATED_DATABASE_LIST.md").read_text()
    gate = pytester.runpytest("--assetdb", "databases", "--assetdb-workspace", ".", "-p", "no:cacheprovider", "-v")
    gate.assert_outcomes(passed=len([line for line in gate.outlines if " PASSED" in line]), failed=0)
    gate.stdout.fnmatch_lines(["*databases/archive/current.db::listed PASSED*"])

    (folder / "archive" / "current.db").rename(folder / "current.db")  # as an earlier version left it: dangling
    make_database(folder / "new.db", "CREATE TABLE n (id INTEGER PRIMARY KEY)", "INSERT INTO n VALUES (1)")
    again = assetdb("consolidate", folder, "--workspace", pytester.path, "--backup-dir", backups, "--yes", "--quiet")
    assert again.exit_code == 0, again.stderr
    assert not os.path.lexists(folder / "current.db") and (folder / "archive" / "current.db").resolve().is_file()


def test_the_sizes_consolidate_ends_with_are_the_files_as_it_leaves_them(tmp_path, monkeypatch):
    """Its own log row is the last thing it writes: measured before it, the primary was shown a
    page smaller than the file (569.3 KB for a file of 573,440 bytes) whenever that row took one."""
    import consolidation.consolidate as consolidate_module
    from consolidation.consolidate import Request, consolidate
    from consolidation.size import database_size
    from consolidation.store import Operation, record_operation

    logged = consolidate_module._log

    def a_log_row_that_takes_pages(target, limit, status, details, summary):
        logged(target, limit, status, details, summary)
        record_operation(target, Operation("note", details={"padding": "x" * 200_000}), limit)

    monkeypatch.setattr(consolidate_module, "_log", a_log_row_that_takes_pages)
    folder = tmp_path / "repo" / "databases"
    build_legacy_set(folder)
    summary = consolidate(Request((folder,), LIMIT, None, tmp_path / "backups", archive=True))
    assert summary.sizes == {"enterprise_assets.db": database_size(folder / "enterprise_assets.db")}


def test_archive_takes_the_folder_s_glob_as_migrate_does(assetdb, tmp_path, monkeypatch):
    """``assetdb archive databases/*.db``: the glob names the set's own file and a file the set
    left out too; migrate and verify pass over both, and archive refused the whole command."""
    from consolidation.demo import lfs_pointer

    repo = tmp_path / "repo"
    folder = repo / "databases"
    for offset, name in enumerate("ab"):
        make_database(folder / f"{name}.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
                      f"INSERT INTO t VALUES ({offset + 1}, '{name}')")
    lfs_pointer(folder / "big.db", 9_000_000)
    monkeypatch.chdir(repo)
    assert assetdb("consolidate", "databases", "--backup-dir", tmp_path / "backups", "--skip-unusable",
                   "--quiet").exit_code == 0
    every = sorted(str(path.relative_to(repo)) for path in folder.glob("*.db"))
    archived = assetdb("archive", *every, "--db", "databases/enterprise_assets.db")
    assert archived.exit_code == 0, archived.stderr
    assert "passed over databases/enterprise_assets.db: a file of the consolidated set itself" in archived.stdout
    assert "passed over databases/big.db: left out of the set (lfs-pointer: " in archived.stdout
    assert sorted(path.name for path in (folder / "archive").glob("*.db")) == ["a.db", "b.db"]


def test_a_list_that_is_a_database_is_refused_before_anything_is_written(assetdb, legacy, tmp_path):
    """Given as --list, it took the Markdown after its pages and said 'updated'."""
    database = make_database(tmp_path / "u.db", "CREATE TABLE t (x)")
    held = database.read_bytes()
    refused = assetdb("list", legacy, "--write", "--list", database)
    assert refused.exit_code == 2 and "is a database, not a database list" in refused.stderr
    assert database.read_bytes() == held


def test_archive_takes_a_source_named_twice_once_and_refuses_a_link(assetdb, legacy, tmp_path):
    target = legacy / "enterprise_assets.db"
    migrate(target, [legacy / "monitoring.db"], MigrationSettings(LIMIT))
    (legacy / "alias.db").symlink_to("monitoring.db")
    refused = assetdb("archive", legacy / "alias.db", "--db", target)
    assert refused.exit_code == 2 and "is a symlink (to monitoring.db); archive the database it leads to" in refused.stderr
    assert (legacy / "monitoring.db").is_file() and not (legacy / "archive").exists()
    twice = assetdb("archive", legacy / "monitoring.db", legacy / "monitoring.db", "--db", target)
    assert twice.exit_code == 0, twice.stderr
    assert twice.stdout.count("archived monitoring.db") == 1 and (legacy / "archive" / "monitoring.db").is_file()


def test_an_archive_rerun_passes_over_the_sources_it_moved_already(assetdb, legacy):
    """A killed archive moved some of its sources; the same command again refused the first of
    them ("no such source database") and archived none of the rest."""
    target = legacy / "enterprise_assets.db"
    names = ["monitoring.db", "development.db"]
    migrate(target, [legacy / name for name in names], MigrationSettings(LIMIT))
    assert assetdb("archive", legacy / names[0], "--db", target).exit_code == 0
    again = assetdb("archive", *(legacy / name for name in names), "--db", target)
    assert again.exit_code == 0, again.stderr
    assert f"passed over {legacy / names[0]}: archived already (to archive/{names[0]})" in again.stdout
    assert f"archived {names[1]}" in again.stdout and (legacy / "archive" / names[1]).is_file()


def test_a_folder_named_twice_is_listed_once(legacy, tmp_path):
    """``assetdb list databases documentation/../databases`` (as a hint could name it) listed
    every database twice and doubled the count."""
    (legacy.parent / "documentation").mkdir()
    twice = keep_list(ListRequest((legacy, legacy.parent / "documentation" / ".." / legacy.name), LIMIT, None,
                                  tmp_path / "LIST.md"), write=False)
    once = keep_list(ListRequest((legacy,), LIMIT, None, tmp_path / "LIST.md"), write=False)
    assert twice.text.split("### Active", 1)[1] == once.text.split("### Active", 1)[1]


def test_the_list_names_a_registered_shard_that_is_missing(assetdb, tmp_path):
    """A shard deleted by hand is still in the manifest: the list's shards table lists it,
    and its cross-check says it is missing and how to get it back (writing the list, which
    logs into the set, is refused until it is back)."""
    folder = tmp_path / "databases"
    sources = [make_database(folder / "legacy" / f"s{i}.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)",
                             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150) "
                             f"INSERT INTO t SELECT i + {i * 1000}, randomblob(1000) FROM n") for i in range(3)]
    target = folder / "enterprise_assets.db"
    migrate(target, sources, MigrationSettings(400_000))
    shard = target.with_name("enterprise_assets.002.db")
    assert shard.is_file()
    listed = assetdb("list", folder, "--workspace", tmp_path)
    assert listed.exit_code == 0, listed.stderr
    assert "Cross-check" not in listed.stdout
    shard.unlink()
    missing = ("`enterprise_assets.002.db` is shard 2 of the consolidated set but is missing (restore it from a "
               "backup: assetdb verify names what is lost without it)")
    listed = assetdb("list", folder, "--workspace", tmp_path)
    assert listed.exit_code == 0, listed.stderr
    assert "| `enterprise_assets.002.db` | 2 |" in listed.stdout and f"- {missing}" in listed.stdout
    refused = assetdb("list", folder, "--workspace", tmp_path, "--write")  # the set records the list it is in
    assert refused.exit_code == 3 and "assetdb restore" in refused.stderr, refused.stderr
    assert not (folder / "CONSOLIDATED_DATABASE_LIST.md").exists()  # refused before the list is written


def test_a_source_that_cannot_be_moved_leaves_no_pending_entry_and_no_new_folder(assetdb, tmp_path):
    """Its manifest entry is written before the move: a move refused (a folder that takes no
    change) left it pending, and the archive folder made for it, behind. Sources moved before
    it stay archived, and the line names them."""
    folder = tmp_path / "databases"
    stuck = make_database(folder / "stuck" / "b.db", "CREATE TABLE u (x)", "INSERT INTO u VALUES (2)")
    movable = make_database(folder / "a.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    target = folder / "enterprise_assets.db"
    migrate(target, [movable, stuck], MigrationSettings(LIMIT))
    archive = tmp_path / "archive"
    with unwritable(stuck.parent):
        refused = assetdb("archive", stuck, "--db", target, "--to", archive)
        assert refused.exit_code == 2, refused.stderr
        assert f"{stuck}: cannot be moved into {archive} (" in refused.stderr
        assert refused.stderr.rstrip().endswith("; nothing was changed"), refused.stderr
        assert not archive.exists() and stuck.is_file()
        refused = assetdb("archive", movable, stuck, "--db", target, "--to", archive)
        assert refused.exit_code == 2 and "archived before it, and staying so: a.db" in refused.stderr, refused.stderr
    assert [entry["name"] for entry in json.loads((archive / MANIFEST).read_text())] == ["a.db"]
    assert sorted(path.name for path in archive.iterdir()) == [MANIFEST, "a.db"]
    assert assetdb("archive", stuck, "--db", target, "--to", archive).exit_code == 0
    assert assetdb("verify", target).exit_code == 0


def test_a_source_with_rows_in_its_journal_that_cannot_be_moved_leaves_no_copy_behind(assetdb, tmp_path):
    """Such a source is copied into the archive, then removed: when its folder takes no
    change, the copy goes again, with its pending entry, the manifest this run made, and the
    folders it made (an existing archive folder stays as it was)."""
    folder = tmp_path / "databases"
    stuck = write_wal_with_pending_rows(folder / "stuck" / "w.db")
    target = folder / "enterprise_assets.db"
    migrate(target, [stuck], MigrationSettings(LIMIT))
    existing = tmp_path / "existing"
    existing.mkdir()
    for to in (tmp_path / "made" / "deeper", existing):
        with unwritable(stuck.parent):
            refused = assetdb("archive", stuck, "--db", target, "--to", to)
            assert refused.exit_code == 2, refused.stderr
            assert f"{stuck}: cannot be moved into {to} (" in refused.stderr and "nothing was changed" in refused.stderr
        assert stuck.is_file() and Path(f"{stuck}-wal").stat().st_size > 0
    assert not (tmp_path / "made").exists() and list(existing.iterdir()) == []
    assert assetdb("verify", target, "--sources", stuck).exit_code == 0
    assert assetdb("archive", stuck, "--db", target, "--to", existing).exit_code == 0
    assert assetdb("verify", target).exit_code == 0


def test_an_archive_killed_between_a_move_and_its_record_is_finished_by_the_same_command(assetdb, tmp_path):
    """The rerun finds the moved source gone from where it was: the ledger is completed
    from the manifest first, and that source is then archived already, not missing."""
    folder = tmp_path / "databases"
    sources = [make_database(folder / f"s{i}.db", f"CREATE TABLE t{i} (x)", f"INSERT INTO t{i} VALUES ({i})")
               for i in (1, 2)]
    target = folder / "enterprise_assets.db"
    migrate(target, sources, MigrationSettings(LIMIT))
    killed = subprocess.run([sys.executable, "-c", (
        "import os, sys\nimport consolidation.archive as archive\n"
        "archive._mark_archived = lambda *arguments: os._exit(137)  # killed right after the first move\n"
        "archive.archive_sources(sys.argv[1], sys.argv[2:], 99_900_000)\n"), str(target), *map(str, sources)])
    assert killed.returncode == 137 and not sources[0].exists() and sources[1].exists()
    rerun = assetdb("archive", *sources, "--db", target)
    assert rerun.exit_code == 0, rerun.stderr
    assert "archived s2.db" in rerun.stdout
    assert assetdb("verify", target).exit_code == 0
    with open_readonly(target) as connection:
        assert connection.execute("SELECT DISTINCT status FROM migration_sources").fetchall() == [("archived",)]


@pytest.mark.parametrize("sidecar", ["-wal", "-shm"])
def test_a_source_whose_sidecar_cannot_be_removed_stays_whole_where_it_is(assetdb, tmp_path, sidecar):
    """The file and its sidecars go together or not at all: the file was removed, then its
    -wal holding rows could not be, so the source was half-moved (and every later archive
    of the set refused)."""
    folder = tmp_path / "databases"
    stuck = write_wal_with_pending_rows(folder / "w.db")
    other = make_database(folder / "a.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    target = folder / "enterprise_assets.db"
    migrate(target, [other, stuck], MigrationSettings(LIMIT))
    kept = Path(f"{stuck}{sidecar}")
    assert kept.is_file()
    before = {path.name: path.read_bytes() for path in (stuck, Path(f"{stuck}-wal"))}
    with unwritable(kept):
        refused = assetdb("archive", other, stuck, "--db", target)
        assert refused.exit_code == 2, refused.stderr
        assert f"{stuck}: cannot be moved into" in refused.stderr
        assert "archived before it, and staying so: a.db" in refused.stderr
    assert {path.name: path.read_bytes() for path in (stuck, Path(f"{stuck}-wal"))} == before
    archive = folder / "archive"
    assert sorted(path.name for path in archive.iterdir()) == [MANIFEST, "a.db"]
    assert [entry["name"] for entry in json.loads((archive / MANIFEST).read_text())] == ["a.db"]
    assert assetdb("verify", target, "--sources", stuck).exit_code == 0
    archived = assetdb("archive", stuck, "--db", target)
    assert archived.exit_code == 0, archived.stderr
    assert not stuck.exists() and not kept.exists() and assetdb("verify", target).exit_code == 0


def test_a_source_left_renamed_aside_by_a_killed_archive_is_swept_by_the_next(assetdb, tmp_path):
    """A source whose journal holds rows is copied into the archive, then renamed aside with
    its sidecars and removed: a run killed in between left it under a temporary name in its
    own folder, which the next archive of that folder removes (its proved copy is archived)."""
    folder = tmp_path / "legacy"  # not the set's own folder, which every writer sweeps
    stuck = write_wal_with_pending_rows(folder / "w.db")
    other = make_database(folder / "a.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    target = tmp_path / "databases" / "enterprise_assets.db"
    target.parent.mkdir()
    migrate(target, [stuck, other], MigrationSettings(LIMIT))
    killed = subprocess.run([sys.executable, "-c", (
        "import os, sys\nimport consolidation.archive_moves as moves\n"
        "real = os.rename\n"
        "def rename(source, destination):\n"
        "    real(source, destination)\n"
        "    os._exit(137)  # killed once the source is renamed aside\n"
        "moves.os.rename = rename\n"
        "import consolidation.archive as archive\n"
        "archive.archive_sources(sys.argv[1], sys.argv[2:], 99_900_000)\n"), str(target), str(stuck)])
    assert killed.returncode == 137 and not stuck.exists()
    assert [path.name for path in folder.iterdir() if ".assetdb-" in path.name], "renamed aside"
    finished = assetdb("archive", other, stuck, "--db", target)
    assert finished.exit_code == 0, finished.stderr
    assert [path.name for path in folder.iterdir() if ".assetdb-" in path.name or path.name.startswith("w.db")] == []
    assert assetdb("verify", target).exit_code == 0


def _hand_made_archive(tmp_path: Path) -> Path:
    """databases/ of a repository whose team kept an archive/ folder of old databases by hand."""
    folder = tmp_path / "repo" / "databases"
    for name in ("a.db", "b.db", "archive/legacy_2019.db"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        make_database(folder / name, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", f"INSERT INTO t VALUES (1, '{name}')")
    return folder


def test_a_database_of_a_hand_made_archive_folder_is_archived_where_it_is(assetdb, tmp_path):
    folder = _hand_made_archive(tmp_path)
    legacy = (folder / "archive" / "legacy_2019.db").read_bytes()
    done = assetdb("consolidate", folder, "--backup-dir", tmp_path / "backups", "--yes")
    assert done.exit_code == 0, done.stdout + done.stderr
    entries = {entry["name"]: entry for entry in json.loads((folder / "archive" / MANIFEST).read_text())}
    assert entries["legacy_2019.db"]["original"] == entries["legacy_2019.db"]["archived"] == "legacy_2019.db"
    assert (folder / "archive" / "legacy_2019.db").read_bytes() == legacy  # not a byte of it changed
    assert sorted(path.name for path in folder.iterdir()) == ["CONSOLIDATED_DATABASE_LIST.md", "archive",
                                                             "enterprise_assets.db"]
    again = assetdb("consolidate", folder, "--backup-dir", tmp_path / "backups", "--yes")
    assert again.exit_code == 0, again.stdout + again.stderr
    archived_again = assetdb("archive", folder / "archive" / "legacy_2019.db", "--db", folder / "enterprise_assets.db")
    assert archived_again.exit_code == 0, archived_again.stderr
    assert "archived already (where it is, in the archive folder)" in archived_again.stdout + archived_again.stderr
    with sqlite3.connect(folder / "enterprise_assets.db") as connection:
        assert connection.execute("SELECT count(*) FROM cross_database_sync_operations WHERE operation = 'archive' "
                                  "AND subject = 'legacy_2019.db'").fetchone()[0] == 1
    connection.close()
    rebuilt = tmp_path / "rebuilt.db"
    assert assetdb("rebuild-source", folder / "enterprise_assets.db", "legacy_2019.db", "--out", rebuilt).exit_code == 0
    assert sqldiff(folder / "archive" / "legacy_2019.db", rebuilt) == ""


def test_what_a_hand_made_archive_folder_cannot_take_is_refused_before_anything_is_written(assetdb, tmp_path):
    """A source whose place in the archive holds another file, or one in the archive folder
    whose -wal holds rows (its self-contained copy would take its own place): refused in one
    line before the first write, not after the merge."""
    from consolidation.demo import lfs_pointer

    folder = _hand_made_archive(tmp_path)
    lfs_pointer(folder / "archive" / "a.db", 4096)  # an older a.db, kept by hand in LFS and never fetched
    before = folder_state(folder)
    refused = assetdb("consolidate", folder, "--backup-dir", tmp_path / "backups", "--yes", "--skip-unusable")
    assert refused.exit_code == 2, refused.stdout + refused.stderr
    assert f"{folder / 'archive' / 'a.db'}: is in the archive folder already, another file than" in refused.stderr
    assert "nothing was written" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert folder_state(folder) == before and not (tmp_path / "backups").exists()
    (folder / "archive" / "a.db").unlink()
    writer = sqlite3.connect(folder / "archive" / "legacy_2019.db")
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("INSERT INTO t VALUES (2, 'only in the -wal')")
    writer.commit()
    try:
        before = folder_state(folder)
        refused = assetdb("consolidate", folder, "--backup-dir", tmp_path / "backups", "--yes")
        assert refused.exit_code == 2, refused.stdout + refused.stderr
        assert "is in the archive folder" in refused.stderr and "its journal holds rows" in refused.stderr
        assert folder_state(folder) == before
    finally:
        writer.close()


def test_a_link_among_the_sources_named_is_archived_with_the_database_it_leads_to(assetdb, tmp_path):
    """``archive databases/*.db`` names an alias beside its database: whichever sorts first,
    the database is archived under its own name and the link follows it."""
    folder = tmp_path / "databases"
    for name in ("production.db", "other.db"):
        make_database(folder / name, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", f"INSERT INTO t VALUES (1, '{name}')")
    (folder / "alias.db").symlink_to("production.db")  # sorts before its target
    target = folder / "enterprise_assets.db"
    assert assetdb("migrate", folder / "production.db", folder / "other.db", "--into", target).exit_code == 0
    done = assetdb("archive", *sorted(folder.glob("*.db")), "--db", target)
    assert done.exit_code == 0, done.stdout + done.stderr
    assert (folder / "archive" / "production.db").is_file() and not (folder / "archive" / "production.db").is_symlink()
    assert os.readlink(folder / "archive" / "alias.db") == "production.db"
    assert not os.path.lexists(folder / "alias.db") and not (folder / "production.db").exists()


def test_a_source_over_the_cap_is_archived_named_as_such_and_only_its_size_item_fails(assetdb, tmp_path):
    folder = tmp_path / "databases"
    make_database(folder / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'a')")
    make_database(folder / "big.db", "CREATE TABLE b (id INTEGER PRIMARY KEY, v)",
                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
                  "INSERT INTO b SELECT i, printf('%400d', i) FROM n")
    done = assetdb("consolidate", folder, "--limit", "300KB", "--backup-dir", tmp_path / "backups", "--yes")
    assert done.exit_code == 0, done.stdout + done.stderr
    assert "1 of them over the cap (big.db): the Git host takes no such file" in done.stdout
    gate = subprocess.run([sys.executable, "-m", "pytest", "--assetdb", str(folder), "--assetdb-limit", "300KB", "-v",
                           "-p", "no:cacheprovider"], capture_output=True, text=True, cwd=tmp_path)
    failed = [line.split(" ")[0] for line in gate.stdout.splitlines() if " FAILED" in line and "::" in line]
    assert failed == [f"{os.path.relpath(folder, tmp_path)}/archive/big.db::size"], gate.stdout


def test_another_set_s_archive_in_the_same_repository_is_never_offered_as_sources(assetdb, tmp_path):
    """Two sets in one repository: a sync of the second named the first's archived sources as
    databases to consolidate, and the consolidate it printed moved them into the second set,
    the first set's rebuild proof losing its archived copy."""
    repo = tmp_path / "repo"
    for folder, name in (("one", "a.db"), ("two", "c.db")):
        make_database(repo / folder / name, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", f"INSERT INTO t VALUES (1, '{name}')")
    (repo / "README.md").write_text("# two sets\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    backups = tmp_path / "backups"
    assert assetdb("consolidate", repo / "one", "--workspace", repo, "--backup-dir", backups, "--yes").exit_code == 0
    second = assetdb("consolidate", repo / "two", "--workspace", repo, "--backup-dir", backups, "--yes",
                     "--list", repo / "two" / "CONSOLIDATED_DATABASE_LIST.md")
    assert second.exit_code == 0, second.stdout + second.stderr
    synced = assetdb("sync", repo, "--db", repo / "two" / "enterprise_assets.db")
    assert synced.exit_code == 0
    assert "files of another consolidated set or copies of one: one/archive/a.db" in synced.stderr
    assert "consolidate them with" not in synced.stderr
    again = assetdb("consolidate", repo / "two", repo / "one" / "archive", "--workspace", repo, "--backup-dir", backups,
                    "--yes", "--list", repo / "two" / "CONSOLIDATED_DATABASE_LIST.md")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert (repo / "one" / "archive" / "a.db").is_file() and not (repo / "two" / "archive" / "a.db").exists()


def test_a_folder_that_is_an_archive_too_still_offers_its_new_databases(assetdb, tmp_path):
    """``archive --to databases`` makes the sources' own folder the archive: a database added
    there since, which its manifest does not name, is a source like any other."""
    folder = tmp_path / "databases"
    make_database(folder / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'a')")
    target = folder / "enterprise_assets.db"
    assert assetdb("migrate", folder / "a.db", "--into", target, "--quiet").exit_code == 0
    assert assetdb("archive", folder / "a.db", "--db", target, "--to", folder).exit_code == 0
    make_database(folder / "new.db", "CREATE TABLE n (id INTEGER PRIMARY KEY, v)", "INSERT INTO n VALUES (1, 'n')")
    done = assetdb("consolidate", folder, "--backup-dir", tmp_path / "backups", "--yes")
    assert done.exit_code == 0, done.stdout + done.stderr
    with sqlite3.connect(target) as connection:
        assert connection.execute("SELECT count(*) FROM migration_sources WHERE name = 'new.db'").fetchone()[0] == 1
    connection.close()
