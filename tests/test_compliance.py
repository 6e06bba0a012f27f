"""size-check: exit codes, sidecars, directory walking, the operation log, and what a
commit hook also refuses (near the cap, Git LFS pointers, SQLite files outside the set)."""

from __future__ import annotations

import json
import sqlite3

from conftest import REALWORLD, make_database
from consolidation.demo import lfs_pointer
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
    assert status == "failed" and json.loads(counts) == {"checked": 1, "over": 1, "failed": 1}
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


def test_near_the_cap_fails_only_when_warn_is_asked_for(assetdb, tmp_path):
    database = make_database(tmp_path / "a.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (zeroblob(9000))")
    limit = str(int(database.stat().st_size / 0.95))  # the file is at 95 % of this cap
    assert assetdb("size-check", database, "--limit", limit).exit_code == 0
    near = assetdb("size-check", database, "--limit", limit, "--warn", "90%")
    assert near.exit_code == 1
    assert near.stdout.split()[0] == "NEAR" and "95.0%" in near.stdout
    assert f"{database}: near the cap" in near.stderr and "near from" in near.stderr
    assert assetdb("size-check", database, "--limit", limit, "--warn", "96%").exit_code == 0
    assert assetdb("size-check", database, "--limit", limit, "--warn", "1KB").exit_code == 1
    assert assetdb("size-check", database, "--limit", limit, "--warn", "0").exit_code == 0


def test_a_bad_warn_threshold_is_one_line_exit_2(assetdb, tmp_path):
    database = make_database(tmp_path / "a.db", "CREATE TABLE t (x)")
    for bad in ("lots", "120%", "-5%", "5 parsecs"):
        result = assetdb("size-check", database, "--warn", bad)
        assert result.exit_code == 2, bad
        assert result.stderr.strip().splitlines() == [
            f"assetdb: error: Invalid value for '--warn': {bad!r}: use a size (95MB) or a share of the cap (90%)"]


def test_an_lfs_pointer_where_a_database_is_expected_is_refused_when_asked(assetdb, tmp_path):
    real = make_database(tmp_path / "databases" / "real.db", "CREATE TABLE t (x)")
    pointer = lfs_pointer(tmp_path / "databases" / "telemetry.db", 52_000_000)
    notes = tmp_path / "databases" / "pointer.txt"
    notes.write_bytes(pointer.read_bytes())  # not named like a database: a pointer is what it should be
    assert assetdb("size-check", tmp_path / "databases").exit_code == 0  # measured, as before
    result = assetdb("size-check", tmp_path / "databases", notes, "--refuse-lfs-pointers")
    assert result.exit_code == 1
    statuses = {line.split()[-1]: line.split()[0] for line in result.stdout.splitlines()}
    assert statuses == {str(real): "ok", str(pointer): "LFS"}  # the text file is counted, not listed
    assert f"{pointer}: a Git LFS pointer (to a 52.0 MB object), not the database; run `git lfs pull`" in result.stderr
    assert "1 of 3 files fail the size check" in result.stderr


def test_a_sqlite_file_outside_the_database_folders_is_refused(assetdb, tmp_path):
    (tmp_path / "cwd" / "databases").mkdir()
    inside = make_database(tmp_path / "cwd" / "databases" / "kept.db", "CREATE TABLE t (x)")
    stray = tmp_path / "cwd" / "analytics.db"
    stray.write_bytes((REALWORLD / "template_completion.db").read_bytes())
    disguised = tmp_path / "cwd" / "cache.bin"  # a SQLite file is known by its header, not its name
    disguised.write_bytes(inside.read_bytes())
    text = tmp_path / "cwd" / "notes.db"
    text.write_text("not a database, only named like one")
    everything = (inside, stray, disguised, text)
    assert assetdb("size-check", *everything).exit_code == 0  # no folders configured: allowed anywhere
    result = assetdb("size-check", *everything, "--database-folder", "databases")
    assert result.exit_code == 1
    assert {line.split()[-1]: line.split()[0] for line in result.stdout.splitlines()} == {
        str(inside): "ok", str(stray): "STRAY", str(disguised): "STRAY", str(text): "ok"}
    assert "2 of 4 files fail the size check (cap 99.9 MB, SQLite files in databases)" in result.stderr
    assert f"{stray}: a SQLite database outside the consolidated set's folders" in result.stderr

    pyproject = tmp_path / "cwd" / "pyproject.toml"
    pyproject.write_text('[tool.assetdb]\ndatabase_folders = ["databases"]\nexclude = ["*.bin"]\n')
    configured = assetdb("size-check", *everything)
    assert configured.exit_code == 1  # the excluded cache.bin is left out on purpose, analytics.db is not
    assert {line.split()[-1]: line.split()[0] for line in configured.stdout.splitlines()} == {
        str(inside): "ok", str(stray): "STRAY", str(disguised): "ok", str(text): "ok"}
    pyproject.write_text('[tool.assetdb]\ndatabase_folders = "databases"\n')
    malformed = assetdb("size-check", inside)
    assert malformed.exit_code == 2 and len(malformed.stderr.strip().splitlines()) == 1
    assert "database_folders must be a list of folders" in malformed.stderr


def test_the_log_records_every_refusal(assetdb, tmp_path):
    target = tmp_path / "enterprise_assets.db"
    initialize(target, 99_900_000)
    pointer = lfs_pointer(tmp_path / "dbs" / "big.db", 1_000_000)
    result = assetdb("size-check", pointer, "--refuse-lfs-pointers", "--log", target)
    assert result.exit_code == 1
    with sqlite3.connect(target) as connection:
        status, counts, details = connection.execute(
            "SELECT status, counts, details FROM cross_database_sync_operations WHERE operation = 'size-check'"
        ).fetchone()
    connection.close()
    assert status == "failed" and json.loads(counts) == {"checked": 1, "over": 0, "failed": 1}
    assert json.loads(details)["failed"] == [{"path": str(pointer), "status": "LFS", "bytes": pointer.stat().st_size}]

