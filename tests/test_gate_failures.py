"""The gate when things go wrong: one line per failure, each check run once, the checks it
gates failing by gate, and pytest's own machinery (--lf, -W error) working on its items."""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys
from contextlib import contextmanager

import pytest

from conftest import make_database
from consolidation.demo import lfs_pointer
from consolidation.merge import MigrationSettings, migrate

CAP = 300_000


def consolidate(folder, rows: int = 3, blob: int = 10, limit: int = 99_900_000):
    sources = [make_database(folder / f"{name}.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)",
                             f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
                             f"INSERT INTO t SELECT i + {offset}, randomblob({blob}) FROM n")
               for offset, name in enumerate("abc")]
    migrate(folder / "enterprise_assets.db", sources, MigrationSettings(limit))
    return sources


def test_a_damaged_shard_fails_the_set_s_proofs_in_one_line_each(pytester):
    folder = pytester.path / "databases"
    consolidate(folder, rows=150, blob=1000, limit=CAP)
    shard = folder / "enterprise_assets.002.db"
    with open(shard, "r+b") as handle:
        for page in range(2, shard.stat().st_size // 4096):
            handle.seek(4096 * page)
            handle.write(b"\x0d\x00\x00\xff\xff" + os.urandom(200))
    result = pytester.runpytest("--assetdb", "databases", "--assetdb-limit", str(CAP), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    text = result.stdout.str()
    assert "Traceback" not in text and "sqlite3.DatabaseError" not in text
    assert len(result.outlines) < 120, text
    result.stdout.fnmatch_lines(["*integrity: databases/enterprise_assets.002.db*",
                                 "unreadable: databases/enterprise_assets.002.db: database disk image is malformed*",
                                 "*lossless[[]a.db:t]: databases/enterprise_assets.db*",
                                 "*SQLite cannot read the consolidated set (database disk image is malformed)*"])


def test_a_source_in_place_that_is_an_unfetched_lfs_pointer_is_proved_by_the_ledger(pytester):
    """A CI checkout without `git lfs pull`: the source left in place is a pointer; the set
    is intact, and its proofs say so (against the ledger), never that rows were lost."""
    folder = pytester.path / "databases"
    sources = consolidate(folder)
    sources[0].unlink()
    lfs_pointer(sources[0], 8192)
    result = pytester.runpytest("--assetdb", "databases/enterprise_assets.db", "-p", "no:cacheprovider",
                                "--junitxml=report.xml")
    result.assert_outcomes(passed=9)
    assert 'name="compared" value="ledger"' in (pytester.path / "report.xml").read_text()


def test_last_failed_reruns_the_failed_items_with_parameters_in_their_names(pytester):
    folder = pytester.path / "databases"
    consolidate(folder)
    with sqlite3.connect(folder / "enterprise_assets.db") as connection:
        connection.execute("UPDATE t SET v = x'00' WHERE id = 2")
    connection.close()
    first = pytester.runpytest("--assetdb", "databases/enterprise_assets.db", "-q")
    first.assert_outcomes(passed=7, failed=2)  # row 2 is the one a.db shows
    again = pytester.runpytest("--assetdb", "databases/enterprise_assets.db", "-q", "--lf", "-rf")
    again.assert_outcomes(failed=2)
    again.stdout.fnmatch_lines(["FAILED databases/enterprise_assets.db::lossless[[]a.db:t]*",
                                "FAILED databases/enterprise_assets.db::rebuildable[[]a.db]*"])


def test_a_plugin_check_that_raises_runs_once_and_gates_what_follows(pytester):
    folder = pytester.path / "databases"
    consolidate(folder)
    pytester.makeconftest("""
        from pytest_assetdb import Check
        calls = []
        def boom(context):
            calls.append(1)
            raise RuntimeError(f"the plugin's check broke (call {len(calls)})")
        def pytest_assetdb_collect_checks(path, config):
            if path.name == "enterprise_assets.db":
                return [Check("custom_rule", "migration", "custom", boom)]
    """)
    # -rN: no short summary, whose lines are as long as the terminal is wide
    result = pytester.runpytest("--assetdb", "databases/enterprise_assets.db", "-p", "no:cacheprovider", "-p",
                                "no:xdist", "-rN")
    result.assert_outcomes(passed=6, failed=4)
    text = result.stdout.str()
    assert "(call 1)" in text and "(call 2)" not in text
    assert text.count("RuntimeError: the plugin's check broke") == 1 + 3  # its own item, with its traceback
    assert "conftest.py:5: RuntimeError" in text and "runner.py:" not in text and "_caller.py:" not in text  # its own
    full = pytester.runpytest("--assetdb", "databases/enterprise_assets.db", "-p", "no:cacheprovider", "-p",
                              "no:xdist", "-rN", "--fulltrace")
    assert "runner.py:" in full.stdout.str() and "conftest.py:5: RuntimeError" in full.stdout.str()
    assert text.count("not checked: custom_rule (migration) failed first — custom_rule raised RuntimeError") == 3


def test_a_missing_shard_is_named_once_and_gates_the_set_s_later_checks(pytester):
    folder = pytester.path / "databases"
    consolidate(folder, rows=150, blob=1000, limit=CAP)
    (folder / "enterprise_assets.003.db").unlink()
    result = pytester.runpytest("--assetdb", "databases/enterprise_assets.db", "--assetdb-limit", str(CAP),
                                "-p", "no:cacheprovider", "-rN")
    result.stdout.fnmatch_lines(["*shard 3 (enterprise_assets.003.db) is missing; restore it from a verified backup "
                                 "(assetdb restore BACKUP --to *enterprise_assets.003.db)"])
    text = result.stdout.str()
    assert "Traceback" not in text and text.count("not checked: lossless[") == 3  # each rebuildable, by gate


def test_an_emptied_shard_fails_its_integrity_item_and_the_set_s_checks_say_how_to_restore_it(pytester):
    """A zero-byte legacy file is an empty database; a zero-byte file the manifest registers
    as a shard is a shard lost."""
    folder = pytester.path / "databases"
    consolidate(folder, rows=150, blob=1000, limit=CAP)
    (folder / "enterprise_assets.002.db").write_bytes(b"")
    (folder / "empty_legacy.db").write_bytes(b"")
    result = pytester.runpytest("--assetdb", "databases/", "--assetdb-limit", str(CAP), "-p", "no:cacheprovider",
                                "-p", "no:xdist", "-rN", "-v")
    result.stdout.fnmatch_lines([
        "*databases/empty_legacy.db::integrity PASSED*",
        "*databases/enterprise_assets.002.db::integrity FAILED*",
        "damaged: databases/enterprise_assets.002.db is empty (0 bytes), but enterprise_assets.db registers it as its "
        "shard 2 — restore it from a verified backup: assetdb restore BACKUP --to databases/enterprise_assets.002.db",
        "*shard 2 (enterprise_assets.002.db) is damaged (empty file (0 bytes), not a database); restore it from a "
        "verified backup (assetdb restore BACKUP --to *enterprise_assets.002.db)",
    ])
    assert "Traceback" not in result.stdout.str()


KILLED_WRITER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
connection.execute("UPDATE cross_database_sync_operations SET details = details")  # pages journaled
connection.execute("UPDATE migration_row_links SET span = span")
print("journaled", flush=True)
time.sleep(60)
"""


def _assetdb(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "consolidation", *map(str, args)], capture_output=True, text=True)


def test_a_journal_left_by_a_killed_write_is_named_as_that_not_as_a_file_over_the_cap(pytester):
    """A write killed mid-transaction leaves its -journal: with it the primary measures over
    the cap, though no file is. The way on is to rerun the write, not to raise the cap."""
    folder = pytester.path / "databases"
    consolidate(folder, rows=150, blob=1000, limit=CAP)
    primary = folder / "enterprise_assets.db"
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(primary)], stdout=subprocess.PIPE, text=True)
    with writer.stdout:
        assert writer.stdout.readline().strip() == "journaled"
        writer.kill()
        writer.wait()
    journal = folder / "enterprise_assets.db-journal"
    limit = primary.stat().st_size + journal.stat().st_size // 2  # the file alone fits; with its journal it does not
    result = pytester.runpytest("--assetdb", "databases/enterprise_assets.db", "--assetdb-limit", str(limit),
                                "-p", "no:cacheprovider", "-p", "no:xdist", "-rN")
    result.stdout.fnmatch_lines(["interrupted write: enterprise_assets.db-journal holds a write that was cut short "
                                 "(a killed run), * with it — rerun the command that was writing *enterprise_assets.db: "
                                 "it rolls that write back first, then finishes"])
    checked = _assetdb("size-check", primary, "--limit", limit)
    assert checked.returncode == 1 and "with the -journal of a write cut short: rerun the command" in checked.stdout
    workspace = pytester.path / "work"
    workspace.mkdir()
    (workspace / "notes.md").write_text("# notes\n")
    assert _assetdb("sync", workspace, "--db", primary, "--limit", CAP, "--quiet").returncode == 0  # a write
    assert not journal.exists() and _assetdb("size-check", primary, "--limit", limit).returncode == 0


def test_the_near_cap_warning_follows_a_cap_a_plugin_gives_one_database(pytester):
    folder = pytester.path / "databases"
    make_database(folder / "a.db", "CREATE TABLE t (x)")
    size = (folder / "a.db").stat().st_size
    pytester.makeconftest(f"""
        def pytest_assetdb_size_limit(path, config):
            return {int(size / 0.95)} if path.name == "a.db" else None
    """)
    near = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-W",
                              "default::pytest_assetdb.AssetdbNearCapWarning")
    near.assert_outcomes(passed=2, warnings=1)
    near.stdout.fnmatch_lines(["*databases/a.db is near the cap*(95.0% of cap)*"])
    pytester.makeconftest("""
        def pytest_assetdb_size_limit(path, config):
            return 1_000_000_000 if path.name == "a.db" else None
    """)
    generous = pytester.runpytest("--assetdb", "databases", "--assetdb-limit", str(size + 100),
                                  "-p", "no:cacheprovider", "-W", "default::pytest_assetdb.AssetdbNearCapWarning")
    generous.assert_outcomes(passed=2)


def test_near_the_cap_made_an_error_is_one_line(pytester):
    folder = pytester.path / "databases"
    make_database(folder / "a.db", "CREATE TABLE t (x)")
    size = (folder / "a.db").stat().st_size
    strict = pytester.runpytest("--assetdb", "databases", "--assetdb-limit", str(int(size / 0.95)),
                                "-p", "no:cacheprovider", "-W", "error::pytest_assetdb.AssetdbNearCapWarning")
    strict.assert_outcomes(passed=1, failed=1)
    strict.stdout.fnmatch_lines(["AssetdbNearCapWarning: databases/a.db is near the cap*"])
    assert len(strict.outlines) < 30, strict.stdout.str()


@pytest.mark.parametrize(("where", "named"), [("pyproject", "pyproject.toml: [tool.assetdb] phase"),
                                               ("ini", "assetdb_phase"), ("option", "--assetdb-phase")])
def test_an_unknown_phase_is_named_where_it_was_set(pytester, where, named):
    make_database(pytester.path / "databases" / "a.db", "CREATE TABLE t (x)")
    if where == "pyproject":
        pytester.makepyprojecttoml('[tool.assetdb]\nphase = "nope"\n')
    elif where == "ini":
        pytester.makeini("[pytest]\nassetdb_phase = nope\n")
    extra = ["--assetdb-phase", "nope"] if where == "option" else []
    result = pytester.runpytest("--assetdb", "databases", *extra, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line.strip()] == [
        f"ERROR: {named}: unknown phase 'nope' (phases: inventory, schema, migration, sync, documentation, templates, "
        "compliance, finalization)"]


@pytest.mark.parametrize(("value", "where"), [("nan", "option"), ("-1", "option"), ("abc", "option"),
                                              ("inf", "option"), ("-1", "ini"), ("abc", "ini"), ("inf", "ini")])
def test_a_lock_timeout_that_is_no_number_of_seconds_is_a_usage_error_in_one_line(pytester, value, where):
    make_database(pytester.path / "databases" / "a.db", "CREATE TABLE t (x)")
    if where == "ini":
        pytester.makeini(f"[pytest]\nassetdb_lock_timeout = {value}\n")
    extra = [f"--assetdb-lock-timeout={value}"] if where == "option" else []
    result = pytester.runpytest("--assetdb", "databases", *extra, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    named = "--assetdb-lock-timeout" if where == "option" else "assetdb_lock_timeout"
    assert [line for line in result.stderr.lines if line.strip()] == [
        f"ERROR: {named}: {value!r} is not a number of seconds to wait"]


def test_an_archived_source_changed_fails_and_each_remedy_it_names_mends_it(pytester, tmp_path):
    """A changed archived file fails with the commands that mend it filled in; a copy
    restored from a backup and one rebuilt from the set are other bytes than archived, with
    the source's content, and pass."""
    from consolidation.archive import archive_sources
    from consolidation.proof import rebuild_source
    from consolidation.sqlite import backup_database, restore_database

    folder = pytester.path / "databases"
    sources = consolidate(folder)
    target = folder / "enterprise_assets.db"
    backup = backup_database(sources[1], tmp_path / "backups").backup
    archive_sources(target, sources, 99_900_000)
    archived = folder / "archive" / "b.db"
    gate = ("--assetdb", "databases", "-p", "no:cacheprovider")
    pytester.runpytest(*gate).assert_outcomes(passed=18)
    with sqlite3.connect(archived) as connection:
        connection.execute("DELETE FROM t WHERE id = 3")
    connection.close()
    changed = pytester.runpytest(*gate)
    changed.assert_outcomes(passed=17, failed=1)
    changed.stdout.fnmatch_lines([f"archived source changed since it was archived: databases/archive/b.db has *"
                                  f"rebuild it in its place: rm {archived} && assetdb rebuild-source {target} b.db "
                                  f"--out {archived}"])
    restore_database(backup, archived, tmp_path / "safety")
    pytester.runpytest(*gate).assert_outcomes(passed=18)
    archived.unlink()
    rebuild_source(target, "b.db", archived)
    pytester.runpytest(*gate).assert_outcomes(passed=18)


def test_a_real_copy_beside_the_set_is_compared_when_the_migrated_path_holds_a_pointer(tmp_path):
    """The source is looked for where it was migrated from, then beside the set: an unfetched
    pointer at the first place does not stop the second from being compared live."""
    import shutil

    from pytest_assetdb.checks import check_lossless

    legacy = make_database(tmp_path / "legacy" / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
                           "INSERT INTO t VALUES (1, 'x')")
    target = tmp_path / "set" / "enterprise_assets.db"
    target.parent.mkdir()
    migrate(target, [legacy], MigrationSettings(99_900_000))
    shutil.copyfile(legacy, target.parent / "a.db")
    legacy.unlink()
    lfs_pointer(legacy, 8192)
    assert check_lossless(target, "a.db", "t").figures["compared"] == "live"
    with sqlite3.connect(target.parent / "a.db") as connection:
        connection.execute("UPDATE t SET v = 'changed'")
    connection.close()
    assert not check_lossless(target, "a.db", "t").ok


def test_a_source_changed_since_it_was_migrated_is_told_apart_from_rows_lost(pytester):
    """A source still in place whose application changed rows after the migration: the set
    is as migrated, so the gate says the source moved on and names the migrate that takes the
    change in (it named a verify that only repeated the failure); after it, green. A set that
    lost a row of an unchanged source still says rows were lost."""
    folder = pytester.path / "databases"
    sources = consolidate(folder)
    with sqlite3.connect(sources[0]) as connection:
        connection.execute("UPDATE t SET v = x'01' WHERE id = 1")
    connection.close()
    moved_on = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-rN")
    moved_on.stdout.fnmatch_lines([f"source changed since it was migrated: a.db:t: * — run: assetdb migrate "
                                   f"{sources[0]} --into databases/enterprise_assets.db"])
    assert "leave the set too" not in moved_on.stdout.str()  # a row changed: nothing leaves the set
    from consolidation.proof import verify_database

    verified = verify_database(folder / "enterprise_assets.db")  # no sources named: it finds the one in place
    assert [verdict.source_moved_on for verdict in verified.verdicts if not verdict.ok] == [True]
    assert any(verdict.mode == "live" for verdict in verified.verdicts)
    migrate(folder / "enterprise_assets.db", sources, MigrationSettings(99_900_000))
    assert pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider").ret == pytest.ExitCode.OK
    with sqlite3.connect(folder / "enterprise_assets.db") as connection:
        connection.execute("DELETE FROM t WHERE id = 5")  # c.db's own row, c.db unchanged
    connection.close()
    lost = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-rN")
    lost.stdout.fnmatch_lines(["rows lost or changed: c.db:t: * — run: assetdb verify *"])
    assert "source changed since" not in lost.stdout.str()


def test_a_source_that_lost_rows_is_told_that_taking_it_in_takes_them_out_of_the_set(pytester):
    """The committed file lacks rows the set holds (its -wal never committed, an older copy
    restored): the migrate the hint names would take them out of the set as well, so the
    hint says so, and what to do if they went missing rather than being deleted."""
    folder = pytester.path / "databases"
    sources = consolidate(folder)
    with sqlite3.connect(sources[1]) as connection:
        connection.execute("DELETE FROM t WHERE id > 2")  # b.db holds 2, 3, 4
    connection.close()
    result = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-rN")
    result.stdout.fnmatch_lines([f"source changed since it was migrated: b.db:t: rowid 3, 4 in the consolidated set "
                                 f"but not in the source — run: assetdb migrate {sources[1]} --into "
                                 "databases/enterprise_assets.db — the rows it no longer has then leave the set too: "
                                 "if they went missing rather than being deleted (a -wal never committed, an older "
                                 "copy restored), restore the file instead"])


def test_an_archived_copy_deleted_from_the_archive_fails_and_its_hint_puts_it_back(pytester, tmp_path):
    """The archive keeps what consolidate moved there: a copy deleted from it was not noticed
    (the set still rebuilds the source, so rebuildable passed). Now rebuildable says so, and
    the rebuild-source it names brings the gate back to green."""
    folder = pytester.path / "databases"
    for offset, name in enumerate("ab"):
        make_database(folder / f"{name}.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
                      f"INSERT INTO t VALUES ({offset + 1}, '{name}')")
    done = _assetdb("consolidate", folder, "--workspace", pytester.path, "--backup-dir", tmp_path / "backups", "--yes",
                    "--quiet")
    assert done.returncode == 0, done.stderr
    (folder / "archive" / "a.db").unlink()
    result = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-rN")
    assert result.ret == 1
    [hint] = [line.split(" — put it back: ", 1)[1] for line in result.outlines
              if line.startswith("a.db rebuilds exactly, but its archived copy ") and " is gone" in line]
    assert hint.startswith("assetdb rebuild-source databases/enterprise_assets.db a.db --out ")
    mended = subprocess.run([sys.executable, "-m", "consolidation", *shlex.split(hint)[1:]], cwd=pytester.path,
                            capture_output=True, text=True)
    assert mended.returncode == 0, mended.stderr
    assert pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider").ret == pytest.ExitCode.OK


HOLDING_WRITER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
connection.execute("UPDATE cross_database_sync_operations SET details = details")
print("holding", flush=True)
time.sleep(60)
connection.execute("COMMIT")
"""


@contextmanager
def a_writer_holding(database):
    """Another process in a write transaction on ``database`` while the block runs."""
    writer = subprocess.Popen([sys.executable, "-c", HOLDING_WRITER, str(database)], stdout=subprocess.PIPE, text=True)
    try:
        with writer.stdout:
            assert writer.stdout.readline().strip() == "holding"
            yield
    finally:
        writer.kill()
        writer.wait()


def test_a_writer_holding_the_set_while_the_gate_lists_its_checks_turns_it_red_not_green(pytester):
    """Locked past the wait while its checks were listed, the set looked like a plain file:
    its lossless and rebuildable items were never collected, and the gate passed."""
    folder = pytester.path / "databases"
    consolidate(folder)
    with a_writer_holding(folder / "enterprise_assets.db"):
        result = pytester.runpytest("--assetdb", "databases", "--assetdb-lock-timeout", "0.2",
                                    "-p", "no:cacheprovider", "-p", "no:xdist", "-rN")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["locked while the gate listed its checks: * — rerun the gate when the writer is done"])
    again = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-p", "no:xdist", "-v")
    assert again.ret == pytest.ExitCode.OK and "::lossless[a.db:t] PASSED" in again.stdout.str()


def test_a_set_held_by_a_writer_is_waited_for_once_and_a_pointer_beside_it_is_not_blamed(pytester, tmp_path,
                                                                                        monkeypatch):
    """Each archived source and each file beside the set looked the set up, and each waited
    the whole --assetdb-lock-timeout for its writer; and an LFS pointer the set had left out,
    its ledger unread, was failed as unusable. The wait is paid once; the pointer is said to
    be unreadable for the lock, not told to be fetched."""
    from consolidation.sqlite import readonly

    folder = pytester.path / "databases"
    for offset, name in enumerate("abcd"):
        make_database(folder / f"{name}.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
                      f"INSERT INTO t VALUES ({offset + 1}, '{name}')")
    lfs_pointer(folder / "telemetry.db", 9_000_000)
    done = _assetdb("consolidate", folder, "--backup-dir", tmp_path / "backups", "--yes", "--skip-unusable", "--quiet")
    assert done.returncode == 0, done.stderr
    polls = []
    real_sleep = readonly.time.sleep
    monkeypatch.setattr(readonly.time, "sleep", lambda seconds: polls.append(seconds) or real_sleep(seconds))
    with a_writer_holding(folder / "enterprise_assets.db"):
        result = pytester.runpytest_inprocess("--assetdb", "databases", "--assetdb-lock-timeout", "0.25",
                                              "-p", "no:cacheprovider", "-p", "no:xdist", "-rN", "-v")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert sum(polls) <= 0.25 + 2 * readonly._POLL_SECONDS  # one wait, not one per archived source
    output = result.stdout.str()
    assert "databases/telemetry.db::integrity FAILED" in output and "git lfs pull" not in output
    result.stdout.fnmatch_lines(["what the consolidated set beside it records of this file could not be read: * — "
                                 "rerun the gate when the writer is done"])


def test_a_file_left_out_as_unusable_that_is_a_database_now_fails_until_it_is_migrated(pytester, tmp_path):
    """``git lfs pull`` fetched the pointer the set left out: the file is a database now, its
    rows in no set, and the list still says skipped. Its skipped item fails, saying how to
    take it in; pasted, the hint makes the gate green."""
    folder = pytester.path / "databases"
    make_database(folder / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'a')")
    lfs_pointer(folder / "telemetry.db", 9_000_000)
    done = _assetdb("consolidate", folder, "--backup-dir", tmp_path / "backups", "--yes", "--skip-unusable", "--quiet")
    assert done.returncode == 0, done.stderr
    (folder / "telemetry.db").unlink()
    make_database(folder / "telemetry.db", "CREATE TABLE readings (id INTEGER PRIMARY KEY, v)",
                  "INSERT INTO readings VALUES (1, 42)")
    fetched = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-v", "-rN")
    assert fetched.ret == pytest.ExitCode.TESTS_FAILED
    assert "databases/telemetry.db::skipped FAILED" in fetched.stdout.str()
    [hint] = [line.split(" — run: ", 1)[1] for line in fetched.outlines
              if line.startswith("left out of the consolidated set as lfs-pointer, and a usable database now")]
    taken = subprocess.run([sys.executable, "-m", "consolidation", *shlex.split(hint)[1:], "--backup-dir",
                            str(tmp_path / "backups")], capture_output=True, text=True, cwd=pytester.path)
    assert taken.returncode == 0, taken.stderr
    listed = subprocess.run([sys.executable, "-m", "consolidation", "list", str(folder), "--write"],
                            capture_output=True, text=True, cwd=pytester.path)
    assert listed.returncode == 0, listed.stderr
    again = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-v")
    assert again.ret == pytest.ExitCode.OK, again.stdout.str()
    assert "databases/enterprise_assets.db::lossless[telemetry.db:readings] PASSED" in again.stdout.str()


def test_files_left_out_on_purpose_or_elsewhere_are_shown_skipped(pytester, tmp_path):
    """A database left out with --exclude stays skipped (it is usable, and meant to be left
    out); a pointer left out from legacy/, a folder beside the set's, is shown skipped too,
    and once fetched fails its skipped item."""
    folder, legacy = pytester.path / "databases", pytester.path / "legacy"
    make_database(folder / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'a')")
    make_database(folder / "scratch.db", "CREATE TABLE s (id INTEGER PRIMARY KEY)")
    legacy.mkdir()
    lfs_pointer(legacy / "telemetry.db", 12_345)
    done = _assetdb("consolidate", folder, legacy, "--backup-dir", tmp_path / "backups", "--yes", "--skip-unusable",
                    "--exclude", "scratch*.db", "--quiet")
    assert done.returncode == 0, done.stderr
    green = pytester.runpytest("--assetdb", "databases", "legacy", "-p", "no:cacheprovider", "-rs")
    assert green.ret == pytest.ExitCode.OK, green.stdout.str()
    green.stdout.fnmatch_lines(["*skipped databases/scratch.db: left out of the consolidated set (excluded: *",
                                "*skipped legacy/telemetry.db: left out of the consolidated set (lfs-pointer: *"])
    (legacy / "telemetry.db").unlink()
    make_database(legacy / "telemetry.db", "CREATE TABLE readings (id INTEGER PRIMARY KEY, v)", "INSERT INTO readings VALUES (1, 2)")
    fetched = pytester.runpytest("--assetdb", "databases", "legacy", "-p", "no:cacheprovider", "-v")
    assert "legacy/telemetry.db::skipped FAILED" in fetched.stdout.str()


def test_the_listed_hint_of_an_archived_source_rewrites_the_list_true_when_pasted(pytester, tmp_path):
    """It named the archive folder: pasted, the list took every archived source for active
    and dropped the set. It names the folders the list keeps, quoted for a shell."""
    folder = pytester.path / "my databases"
    for offset, name in enumerate("ab"):
        make_database(folder / f"{name}.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
                      f"INSERT INTO t VALUES ({offset + 1}, '{name}')")
    assert _assetdb("consolidate", folder, "--workspace", pytester.path, "--backup-dir", tmp_path / "backups",
                    "--yes", "--quiet").returncode == 0
    listed = folder / "CONSOLIDATED_DATABASE_LIST.md"
    listed.write_text("".join(line for line in listed.read_text().splitlines(keepends=True) if "archive/b.db" not in line))
    failed = pytester.runpytest("--assetdb", folder, "-p", "no:cacheprovider", "-rN")
    [hint] = [line.split(" — run: ", 1)[1] for line in failed.outlines if line.startswith("not listed: ")]
    assert hint.startswith(f"assetdb list {shlex.quote(str(folder))} --write --list ")
    pasted = subprocess.run([sys.executable, "-m", "consolidation", *shlex.split(hint)[1:]], capture_output=True,
                            text=True)
    assert pasted.returncode == 0, pasted.stderr
    assert pytester.runpytest("--assetdb", folder, "-p", "no:cacheprovider").ret == pytest.ExitCode.OK


def test_the_over_the_cap_hint_carries_the_gate_s_cap_and_an_archived_copy_is_told_apart(pytester, tmp_path):
    """The cap from pytest's ini is not the one `assetdb` reads: the pasted consolidate made
    a set under 99.9 MB, still over this cap. Once consolidated, only the archived copy of the
    big source is over the cap: it is not to be consolidated again (refused) but kept out of
    the repository, or in Git LFS."""
    pytester.makeini("[pytest]\nassetdb_size_limit = 400KB\n")
    folder = pytester.path / "databases"
    make_database(folder / "big.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)",
                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600) "
                  "INSERT INTO t (b) SELECT randomblob(1000) FROM n")
    before = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-rN")
    [hint] = [line.split(" — run: ", 1)[1].split(" (the consolidated set", 1)[0] for line in before.outlines
              if line.startswith("over the cap: ")]
    assert hint == "assetdb consolidate databases --limit 400000 --yes"
    done = subprocess.run([sys.executable, "-m", "consolidation", *shlex.split(hint)[1:], "--backup-dir",
                           str(tmp_path / "backups"), "--quiet"], cwd=pytester.path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-rN", "-v")
    failed = [line.split()[0] for line in after.outlines if " FAILED" in line]
    assert failed == ["databases/archive/big.db::size"], after.stdout.str()  # its archive and list items pass
    after.stdout.fnmatch_lines(["over the cap: * — it is archived, its rows in the set: keep the file out of the "
                                "repository or in Git LFS (git lfs track databases/archive/big.db); the set "
                                "rebuilds it whenever needed"])


def test_a_plugin_s_check_is_not_run_on_a_file_the_set_left_out(pytester, tmp_path):
    """The set skipped an LFS pointer with --skip-unusable: the gate shows it skipped, with its
    reason; a plugin's check on it failed the gate (reading a pointer as a database)."""
    folder = pytester.path / "databases"
    make_database(folder / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'a')")
    lfs_pointer(folder / "telemetry.db", 9_000_000)
    done = _assetdb("consolidate", folder, "--workspace", pytester.path, "--backup-dir", tmp_path / "backups",
                    "--skip-unusable", "--quiet")
    assert done.returncode == 0, done.stderr
    pytester.makeconftest("""
        import sqlite3
        from pytest_assetdb import Check, CheckResult

        def has_tables(context):
            count = sqlite3.connect(f"file:{context.path}?mode=ro", uri=True).execute(
                "SELECT count(*) FROM sqlite_schema").fetchone()[0]
            return CheckResult(count > 0, f"{count} schema objects")

        def pytest_assetdb_collect_checks(path, config):
            return [Check("has_tables", "inventory", "custom", has_tables)]
    """)
    result = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider", "-v")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert "databases/telemetry.db::skipped SKIPPED" in result.stdout.str()
    assert "databases/telemetry.db::has_tables" not in result.stdout.str()
    assert "databases/a.db::has_tables PASSED" in result.stdout.str()


@pytest.mark.parametrize("given", ["option", "ini"])
def test_a_database_list_that_is_a_folder_is_a_usage_error_in_one_line(pytester, given):
    """Every listed item failed instead, with a hint the list command refuses."""
    make_database(pytester.path / "databases" / "a.db", "CREATE TABLE t (x)")
    if given == "ini":
        pytester.makeini("[pytest]\nassetdb_list = databases\n")
    extra = ["--assetdb-list", "databases"] if given == "option" else []
    result = pytester.runpytest("--assetdb", "databases", *extra, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    [line] = [line for line in result.stderr.lines if line.strip()]
    assert line.startswith("ERROR: assetdb list ") and "is a folder; name the list file itself" in line
