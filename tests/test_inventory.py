"""Phase 0 inventory: statuses, tables, rows, journal mode, the database list, and the CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import folder_state, make_database, write_wal_with_pending_rows
from consolidation.inventory import find_databases, inspect_database, take_inventory

LIMIT = 99_900_000


def statuses(inventory):
    return {report.path: report.status for report in inventory.databases}


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    folder = tmp_path / "dbs"
    make_database(
        folder / "good.db",
        "CREATE TABLE a (x)",
        "CREATE TABLE \"b c\" (y)",
        "INSERT INTO a VALUES (1), (2)",
        "INSERT INTO \"b c\" VALUES (3)",
        "CREATE TABLE auto (id INTEGER PRIMARY KEY AUTOINCREMENT)",
        "INSERT INTO auto DEFAULT VALUES",
    )
    write_wal_with_pending_rows(folder / "sub" / "wal.sqlite", rows=4)
    (folder / "zero.db").touch()
    (folder / "text.db").write_text("not a database\n" * 20)
    (folder / "readme.txt").write_text("ignored")
    make_database(folder / ".git" / "hidden.db", "CREATE TABLE t (x)")
    return folder


def test_inventory_reports_each_database(mixed_folder):
    before = folder_state(mixed_folder)
    inventory = take_inventory(mixed_folder, LIMIT)
    assert statuses(inventory) == {
        "good.db": "ok",
        "sub/wal.sqlite": "ok",
        "text.db": "not-sqlite",
        "zero.db": "empty",
    }
    good = inventory.databases[0]
    assert [(t.name, t.rows) for t in good.tables] == [("a", 2), ("auto", 1), ("b c", 1)]
    assert good.total_rows == 4 and good.journal_mode == "rollback"
    wal = inventory.databases[1]
    assert wal.journal_mode == "wal" and wal.total_rows == 4  # rows that live only in the -wal
    assert wal.bytes == (mixed_folder / "sub" / "wal.sqlite").stat().st_size + (
        mixed_folder / "sub" / "wal.sqlite-wal"
    ).stat().st_size
    assert inventory.list_file is None and all(r.listed is None for r in inventory.databases)
    assert folder_state(mixed_folder) == before


def test_near_and_over_the_cap(tmp_path):
    database = make_database(tmp_path / "x.db", "CREATE TABLE t (x)")
    size = database.stat().st_size
    assert inspect_database(database, size - 1).status == "over"
    assert inspect_database(database, size).status == "near"
    assert inspect_database(database, int(size / 0.9)).status == "near"
    assert inspect_database(database, int(size / 0.9) + 10).status == "ok"
    assert inspect_database(database, 2 * size).percent_of_limit == pytest.approx(50.0)


def test_quick_check_failure_is_corrupt(tmp_path):
    database = make_database(
        tmp_path / "idx.db",
        "CREATE TABLE t (x)",
        "CREATE INDEX t_x ON t (x)",
        *[f"INSERT INTO t VALUES ({n})" for n in range(200)],
    )
    # Point the table's root at the index's root page: quick_check notices.
    import sqlite3

    connection = sqlite3.connect(database)
    index_root = connection.execute("SELECT rootpage FROM sqlite_schema WHERE name = 't_x'").fetchone()[0]
    connection.execute("PRAGMA writable_schema = ON")
    connection.execute("UPDATE sqlite_schema SET rootpage = ? WHERE name = 't'", (index_root,))
    connection.commit()
    connection.close()
    report = inspect_database(database, LIMIT)
    assert report.status == "corrupt"
    assert report.problem


def test_locked_database(tmp_path, writer_lock):
    database = make_database(tmp_path / "busy.db", "CREATE TABLE t (x)")
    pid = writer_lock(database)
    report = inspect_database(database, LIMIT)
    assert report.status == "locked" and f"pid {pid}" in report.problem


def test_listed_follows_the_database_list(tmp_path):
    make_database(tmp_path / "a.db", "CREATE TABLE t (x)")
    make_database(tmp_path / "b.db", "CREATE TABLE t (x)")
    make_database(tmp_path / "sub" / "c.db", "CREATE TABLE t (x)")
    (tmp_path / "CONSOLIDATED_DATABASE_LIST.md").write_text(
        "# Databases\n\n| file | purpose |\n|---|---|\n| `a.db` | main |\n\nAlso sub/c.db. Old copy: b.db.bak\n"
    )
    inventory = take_inventory(tmp_path, LIMIT)
    assert {r.path: r.listed for r in inventory.databases} == {"a.db": True, "b.db": False, "sub/c.db": True}
    assert inventory.list_file.endswith("CONSOLIDATED_DATABASE_LIST.md")


def test_find_databases_refuses_missing_and_empty_folders(tmp_path):
    from consolidation.errors import BadInput

    with pytest.raises(BadInput, match="no such file or directory"):
        find_databases([tmp_path / "absent"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="no SQLite databases found"):
        find_databases([tmp_path / "empty"])


def test_cli_table_and_json(assetdb, mixed_folder):
    table = assetdb("inventory", mixed_folder, "--quiet")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["database", "size", "%", "cap"]
    assert any(line.startswith("zero.db") and "empty" in line for line in lines)
    assert "4 databases" in table.stdout

    result = assetdb("inventory", mixed_folder, "--json", "--limit", "1MB")
    data = json.loads(result.stdout)
    assert data["limit"] == 1_000_000
    good = data["databases"][0]
    assert good["path"] == "good.db" and good["total_rows"] == 4 and good["status"] == "ok"
    assert {t["name"] for t in good["tables"]} == {"a", "auto", "b c"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inventory", "MISSING"], "no such file or directory"),
        (["inventory", "EMPTY"], "no SQLite databases found"),
        (["inventory", "EMPTY", "--limit", "lots"], "invalid size 'lots'"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(assetdb, tmp_path, args, message):
    (tmp_path / "EMPTY").mkdir()
    args = [str(tmp_path / arg) if arg in ("MISSING", "EMPTY") else arg for arg in args]
    result = assetdb(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_realworld_inventory_lists_every_database_and_touches_nothing(realworld, tmp_path):
    before = folder_state(realworld)
    inventory = take_inventory(realworld, LIMIT)
    assert len(inventory.databases) == 4
    assert all(report.status == "ok" for report in inventory.databases)
    by_name = {report.path: report for report in inventory.databases}
    assert by_name["logs_migrated_backup_20250716_151622.db"].journal_mode == "rollback"
    assert by_name["documentation_sync.db"].journal_mode == "wal"
    assert all(report.total_rows > 0 for report in inventory.databases)
    assert folder_state(realworld) == before
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS", "--quiet"], cwd=realworld, capture_output=True)
    assert check.returncode == 0, check.stdout


def test_a_shard_filled_to_its_share_is_not_near_the_cap(tmp_path):
    """Shards are filled to about 90 % of the cap by design (the next one takes what
    follows): inventory says ok, as the gate and size-check do; any other file that full is
    near."""
    from consolidation.merge import MigrationSettings, migrate

    cap = 400_000
    source = make_database(tmp_path / "s.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)",
                           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) "
                           "INSERT INTO t SELECT i, randomblob(20000) FROM n")
    target = tmp_path / "set" / "enterprise_assets.db"
    target.parent.mkdir()
    migrate(target, [source], MigrationSettings(cap))
    shard = target.with_name("enterprise_assets.002.db")
    near = int(shard.stat().st_size / 0.95)  # a cap the shard is at 95 % of
    assert inspect_database(shard, near).status == "ok"
    copy = make_database(tmp_path / "copy.db", "CREATE TABLE t (x)")
    assert inspect_database(copy, int(copy.stat().st_size / 0.95)).status == "near"
