"""size-check: exit codes, sidecars, directory walking, and the operation log."""

from __future__ import annotations

import json
import sqlite3

from conftest import make_database
from consolidation.store import initialize


def test_all_under_the_cap_exits_0(assetdb, tmp_path):
    make_database(tmp_path / "a.db", "CREATE TABLE t (x)")
    make_database(tmp_path / "sub" / "b.sqlite3", "CREATE TABLE t (x)")
    result = assetdb("size-check", tmp_path)
    assert result.exit_code == 0
    assert "all 2 files under the cap of 99.9 MB" in result.stdout


def test_over_the_cap_exits_1_and_names_each_file(assetdb, tmp_path):
    small = make_database(tmp_path / "small.db", "CREATE TABLE t (x)")
    big = make_database(
        tmp_path / "big.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (zeroblob(60000))"
    )
    (tmp_path / "small.db-wal").write_bytes(b"\0" * 70_000)  # sidecars count
    result = assetdb("size-check", small, big, "--limit", "50KB")
    assert result.exit_code == 1
    assert "2 of 2 files over the cap of 50.0 KB" in result.stderr
    assert str(big) in result.stderr and str(small) in result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["OVER", "OVER"]


def test_an_explicit_file_is_checked_whatever_its_name(assetdb, tmp_path):
    blob = tmp_path / "dump.bin"
    blob.write_bytes(b"\0" * 2000)
    assert assetdb("size-check", blob, "--limit", "1KB").exit_code == 1


def test_bad_input(assetdb, tmp_path):
    missing = assetdb("size-check", tmp_path / "absent")
    assert missing.exit_code == 2 and "no such file or directory" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = assetdb("size-check", tmp_path / "empty")
    assert empty.exit_code == 2 and "no SQLite databases found" in empty.stderr
    make_database(tmp_path / "a.db", "CREATE TABLE t (x)")
    bad_limit = assetdb("size-check", tmp_path / "a.db", "--limit", "ten")
    assert bad_limit.exit_code == 2 and len(bad_limit.stderr.strip().splitlines()) == 1
    no_args = assetdb("size-check")
    assert no_args.exit_code == 2


def test_log_records_the_check(assetdb, tmp_path):
    target = tmp_path / "enterprise_assets.db"
    initialize(target, 99_900_000)
    make_database(tmp_path / "dbs" / "big.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (zeroblob(9000))")
    result = assetdb("size-check", tmp_path / "dbs", "--limit", "8KB", "--log", target)
    assert result.exit_code == 1
    row = sqlite3.connect(target).execute(
        "SELECT status, counts, bytes, details FROM cross_database_sync_operations "
        "WHERE operation = 'size-check'"
    ).fetchone()
    status, counts, size, details = row
    assert status == "failed" and json.loads(counts) == {"checked": 1, "over": 1}
    assert size == (tmp_path / "dbs" / "big.db").stat().st_size
    assert json.loads(details)["over"][0]["path"].endswith("big.db")


def test_log_into_a_foreign_database_is_refused(assetdb, tmp_path):
    other = make_database(tmp_path / "other.db", "CREATE TABLE t (x)")
    result = assetdb("size-check", other, "--log", other)
    assert result.exit_code == 2 and "not an assetdb database" in result.stderr


def test_pyproject_limit_applies_to_the_cli(assetdb, tmp_path):
    make_database(tmp_path / "dbs" / "a.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (zeroblob(9000))")
    (tmp_path / "cwd" / "pyproject.toml").write_text('[tool.assetdb]\nsize_limit = "4KB"\n')
    assert assetdb("size-check", tmp_path / "dbs").exit_code == 1
    assert assetdb("size-check", tmp_path / "dbs", "--limit", "1MB").exit_code == 0
