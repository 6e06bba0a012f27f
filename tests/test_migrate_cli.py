"""migrate, verify, rebuild-source and conflicts on the command line, and crash safety."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_database, sqldiff
from consolidation.sqlite import open_readonly
from consolidation.sqlite.fingerprint import table_fingerprint


@pytest.fixture
def sources(tmp_path):
    a = make_database(
        tmp_path / "legacy" / "a.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",
        "INSERT INTO t VALUES (1, 'one'), (2, 'two')",
    )
    b = make_database(
        tmp_path / "legacy" / "b.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",
        "INSERT INTO t VALUES (2, 'TWO'), (3, 'three')",
    )
    return a, b


def test_migrate_prints_a_summary_and_verify_agrees(assetdb, sources, target, tmp_path):
    result = assetdb("migrate", *sources, "--into", target, "--quiet")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["source", "action", "tables", "read", "stored", "folded", "conflicts", "shards"]
    assert lines[2].split() == ["a.db", "migrated", "1", "2", "2", "0", "0", "1"]
    assert lines[3].split() == ["b.db", "migrated", "1", "2", "1", "0", "1", "1"]

    verified = assetdb("verify", target, "--sources", *sources)
    assert verified.exit_code == 0 and "2 compared live" in verified.stdout
    archived = assetdb("verify", target)
    assert archived.exit_code == 0 and "2 against the ledger" in archived.stdout

    listing = assetdb("conflicts", target)
    assert listing.exit_code == 0
    assert "t [2]: shown from a.db, kept from b.db" in listing.stdout
    assert "    name: 'two' | 'TWO'" in listing.stdout and "1 conflicts" in listing.stdout

    out = tmp_path / "rebuilt-b.db"
    rebuilt = assetdb("rebuild-source", target, "b.db", "--out", out)
    assert rebuilt.exit_code == 0 and "2 rows" in rebuilt.stdout
    assert sqldiff(sources[1], out) == ""


def test_conflicts_of_texts_that_are_not_utf8_are_listed_escaped(assetdb, tmp_path, target):
    """SQLite stores a text as it is given, valid UTF-8 or not: its key and values are listed
    with the stray bytes escaped, and two such texts that differ still show as different."""
    sources = [
        make_database(tmp_path / f"{name}.db", "CREATE TABLE t (k TEXT PRIMARY KEY, v)",
                      f"INSERT INTO t VALUES (CAST(x'61ff62' AS TEXT), CAST(x'{byte}' AS TEXT))")
        for name, byte in (("a", "fe"), ("b", "fd"))
    ]
    assert assetdb("migrate", *sources, "--into", target, "--quiet").exit_code == 0
    listing = assetdb("conflicts", target)
    assert listing.exit_code == 0, listing.stderr
    assert 't ["a\\udcffb"]: shown from a.db, kept from b.db' in listing.stdout
    assert "    v: '\\udcfe' | '\\udcfd'" in listing.stdout and "1 conflicts" in listing.stdout


def test_a_conflict_over_the_sign_of_a_zero_lists_the_difference(assetdb, tmp_path, target):
    """The merge keeps -0.0 apart from 0.0 (in a column without affinity); the listing shows
    the two, as Python's == would not."""
    sources = []
    for name, value in (("a", 0.0), ("b", -0.0)):
        path = make_database(tmp_path / f"{name}.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
        with sqlite3.connect(path) as connection:
            connection.execute("INSERT INTO t VALUES (1, ?)", (value,))
        connection.close()
        sources.append(path)
    assert assetdb("migrate", *sources, "--into", target, "--quiet").exit_code == 0
    listing = assetdb("conflicts", target)
    assert listing.exit_code == 0 and "    v: 0.0 | -0.0" in listing.stdout, listing.stdout


def test_verify_fails_with_a_precise_report(assetdb, sources, target):
    assert assetdb("migrate", *sources, "--into", target, "--quiet").exit_code == 0
    connection = sqlite3.connect(target)
    connection.execute("UPDATE t SET name = 'tampered' WHERE id = 3")
    connection.commit()
    connection.close()
    result = assetdb("verify", target, "--sources", *sources)
    assert result.exit_code == 1
    assert "FAIL  b.db:t: rowid 3 differs in the consolidated set" in result.stdout
    assert "check failed: 1 problems" in result.stderr
    ledger = assetdb("verify", target)
    assert ledger.exit_code == 1 and "do not match the fingerprint" in ledger.stdout


def test_verify_notices_a_source_changed_after_migration(assetdb, sources, target):
    assert assetdb("migrate", *sources, "--into", target, "--quiet").exit_code == 0
    connection = sqlite3.connect(sources[0])
    connection.execute("INSERT INTO t VALUES (9, 'late')")
    connection.execute("CREATE TABLE added (x)")
    connection.commit()
    connection.close()
    result = assetdb("verify", target, sources[0])
    assert result.exit_code == 1
    assert "a.db:t: rowid 9 missing from the consolidated set" in result.stdout
    assert "a.db:added: table added to the source after migration" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["migrate", "MISSING", "--into", "TARGET"], 2, "no such source database"),
        (["migrate", "A", "--into", "TARGET", "--prefer", "loudest"], 2, "invalid conflict policy"),
        (["migrate", "A", "--into", "TARGET", "--limit", "10KB"], 3, "over the cap"),
        (["migrate", "A", "B", "--into", "TARGET", "--limit", "1"], 3, "under the cap of 1 B"),
        (["verify", "A"], 2, "not an assetdb database, so not a consolidated set"),
        (["rebuild-source", "TARGET", "nope.db", "--out", "OUT"], 2, "no migrated source named 'nope.db'"),
        (["rebuild-source", "TARGET", "a.db", "--out", "A"], 2, "already exists"),
        (["conflicts", "A"], 2, "not an assetdb database, so not a consolidated set"),
        (["verify", "TARGET", "--sources", "TEXT"], 2, "not a SQLite database (text"),
        (["verify", "TARGET", "--sources", "OTHER"], 2, "is a file of another consolidated set, never a legacy source"),
    ],
)
def test_bad_input_is_one_line(assetdb, sources, target, tmp_path, args, code, message):
    if args[-2:] != ["--limit", "10KB"]:
        assert assetdb("migrate", sources[0], "--into", target, "--quiet").exit_code == 0
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "other").mkdir()
    assert assetdb("init", tmp_path / "other" / "enterprise_assets.db").exit_code == 0
    names = {"MISSING": tmp_path / "missing.db", "A": sources[0], "B": sources[1], "TARGET": target,
             "OUT": tmp_path / "out.db",
             "TEXT": tmp_path / "notes.txt", "OTHER": tmp_path / "other" / "enterprise_assets.db"}
    result = assetdb(*[names.get(arg, arg) for arg in args])
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_verify_passes_over_the_set_s_own_files_among_the_sources(assetdb, sources, target):
    """``verify databases/enterprise_assets.db --sources databases/*.db`` names the set too."""
    assert assetdb("migrate", *sources, "--into", target, "--quiet").exit_code == 0
    verified = assetdb("verify", target, "--sources", *sources, target)
    assert verified.exit_code == 0 and "2 compared live" in verified.stdout, verified.stdout + verified.stderr


def test_dry_run_on_the_command_line(assetdb, sources, target):
    result = assetdb("migrate", *sources, "--into", target, "--dry-run", "--quiet")
    assert result.exit_code == 0 and "planned" in result.stdout and "nothing was written" in result.stdout
    assert not target.exists()


# -- crash safety -------------------------------------------------------------------------------


def _many_sources(folder: Path, count: int, rows: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = folder / f"part{index}.db"
        make_database(
            path,
            "CREATE TABLE events (id INTEGER PRIMARY KEY, source TEXT, payload TEXT, weight REAL)",
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
            f"INSERT INTO events SELECT i, 'part{index}', printf('payload %d %d', i, i % {index + 2}), i / 7.0 FROM n",
            "CREATE TABLE shared (k TEXT PRIMARY KEY, v)",
            f"INSERT INTO shared VALUES ('common', 'same'), ('mine{index}', {index}), ('clash', 'v{index}')",
        )
        paths.append(path)
    return paths


def _logical_state(target: Path) -> dict:
    """Everything a migration decides, without the timestamps of when it ran."""
    with open_readonly(target) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT IN "
                "('migration_sources', 'cross_database_sync_operations', 'migration_conflicts') ORDER BY name"
            )
        ]
        state = {table: table_fingerprint(connection, table) for table in tables}
        state["sources"] = connection.execute(
            "SELECT id, name, fingerprint, status FROM migration_sources ORDER BY id"
        ).fetchall()
        state["conflicts"] = connection.execute(
            "SELECT target_table, row_key, shown_source_id, kept_source_id, kept_rowid FROM migration_conflicts ORDER BY id"
        ).fetchall()
        state["log"] = connection.execute(
            "SELECT operation, subject, status FROM cross_database_sync_operations ORDER BY subject, operation"
        ).fetchall()
    return state


def _run_migrate(paths: list[Path], target: Path, backups: Path, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """Start a migration; its stderr is piped only when the caller reads it (a killed run's
    pipe would be left open)."""
    return subprocess.Popen(
        [sys.executable, "-m", "consolidation", "migrate", *map(str, paths), "--into", str(target),
         "--backup-dir", str(backups), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def test_killed_migration_resumes_to_the_same_state_as_a_clean_run(tmp_path):
    paths = _many_sources(tmp_path / "legacy", count=6, rows=20_000)
    clean = tmp_path / "clean" / "enterprise_assets.db"
    clean.parent.mkdir()
    started = time.monotonic()
    assert _run_migrate(paths, clean, tmp_path / "backups").wait() == 0
    duration = time.monotonic() - started

    crashed = tmp_path / "crashed" / "enterprise_assets.db"
    crashed.parent.mkdir()
    for fraction in (0.35, 0.6, 0.85):
        process = _run_migrate(paths, crashed, tmp_path / "backups")
        time.sleep(duration * fraction)
        process.send_signal(signal.SIGKILL)
        process.wait()
    final = _run_migrate(paths, crashed, tmp_path / "backups", stderr=subprocess.PIPE)
    _, errors = final.communicate()
    assert final.returncode == 0, errors.decode()

    assert _logical_state(crashed) == _logical_state(clean)
    verified = subprocess.run(
        [sys.executable, "-m", "consolidation", "verify", str(crashed), "--sources", *map(str, paths)],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stdout
    assert not Path(f"{crashed}-journal").exists()


def test_backup_is_taken_before_an_existing_target_changes(assetdb, sources, target, tmp_path):
    assert assetdb("migrate", sources[0], "--into", target, "--quiet").exit_code == 0
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    result = assetdb("migrate", sources[1], "--into", target, "--backup-dir", tmp_path / "backups", "--quiet")
    assert result.exit_code == 0 and "target backed up first" in result.stdout
    [backup] = (tmp_path / "backups").glob("*.db")
    assert json.loads(Path(f"{backup}.json").read_text())["source"] == str(target.resolve())
    with open_readonly(backup) as connection:
        assert connection.execute("SELECT count(*) FROM migration_sources").fetchone()[0] == 1
    assert hashlib.sha256(target.read_bytes()).hexdigest() != digest
    inside = assetdb("migrate", sources[1], "--into", target, "--backup-dir", target.parent / "bk", "--quiet")
    assert inside.exit_code == 0  # unchanged source: nothing to back up, nothing written
    assert not (target.parent / "bk").exists()


def test_backup_inside_the_workspace_is_refused_before_anything_changes(assetdb, sources, target):
    assert assetdb("migrate", sources[0], "--into", target, "--quiet").exit_code == 0
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    result = assetdb("migrate", sources[1], "--into", target, "--backup-dir", target.parent / "bk")
    assert result.exit_code == 2 and "inside the workspace" in result.stderr
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest
    assert os.listdir(target.parent) == [target.name]


def test_a_refusal_after_some_sources_committed_says_which_stay_and_a_rerun_goes_on(assetdb, tmp_path):
    """Sources commit a few at a time; a refusal (here a row larger than the cap) undoes only
    the sources from its group on, and says which sources before it stay migrated; once the
    offending source is left out, the same command goes on and migrates the rest."""
    folder, target = tmp_path / "src", tmp_path / "out" / "enterprise_assets.db"
    target.parent.mkdir()
    paths = [make_database(folder / f"s{index}.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)",
                           *[f"INSERT INTO t VALUES ({index * 100 + row}, randomblob(10000))" for row in range(5)])
             for index in range(7)]
    big = make_database(folder / "z_big.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)",
                        "INSERT INTO t VALUES (999, randomblob(280000))")
    assert assetdb("migrate", paths[0], "--into", target, "--limit", "300KB", "--quiet").exit_code == 0
    refused = assetdb("migrate", *paths, big, "--into", target, "--limit", "300KB", "--quiet")
    assert refused.exit_code == 3
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1 and "does not fit under the cap" in line
    with sqlite3.connect(target) as connection:
        kept = sorted(name for (name,) in connection.execute("SELECT name FROM migration_sources"))
    connection.close()
    newly = [name for name in kept if name != "s0.db"]
    assert newly and f"the {len(newly)} sources migrated before it stay migrated" in line
    assert f"({', '.join(newly)})" in line and "the same command goes on from there" in line
    rerun = assetdb("migrate", *paths, "--into", target, "--limit", "300KB", "--quiet")
    assert rerun.exit_code == 0, rerun.stderr
    assert assetdb("verify", target, "--sources", *paths).exit_code == 0


def _stderr_on_a_terminal(*args: str | os.PathLike) -> bytes:
    """Run ``assetdb ARGS`` with its stderr on a pseudo-terminal (as a person sees it); what it drew there."""
    import fcntl
    import pty
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # a new one is 0 wide
    try:
        done = subprocess.run([sys.executable, "-m", "consolidation", *map(str, args)], stderr=terminal,
                              stdout=subprocess.DEVNULL, timeout=120)
        os.close(terminal)
        terminal = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end is closed: all of it was read
                break
            if not chunk:
                break
            drawn += chunk
        assert done.returncode == 0, drawn
        return drawn
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)


def test_rebuild_source_shows_progress_on_a_terminal_and_none_with_quiet(assetdb, sources, target, tmp_path):
    assert assetdb("migrate", *sources, "--into", target, "--quiet").exit_code == 0
    drawn = _stderr_on_a_terminal("rebuild-source", target, "a.db", "--out", tmp_path / "bar.db")
    assert b"rebuild-source" in drawn and b"table" in drawn
    assert _stderr_on_a_terminal("rebuild-source", target, "a.db", "--out", tmp_path / "quiet.db", "--quiet") == b""
    assert sqldiff(sources[0], tmp_path / "quiet.db") == ""


def test_rebuild_source_never_replaces_a_link_given_as_out(assetdb, sources, target, tmp_path):
    assert assetdb("migrate", *sources, "--into", target, "--quiet").exit_code == 0
    for name, points_at in (("dangling.db", "nowhere.db"), ("loop.db", "loop.db")):
        link = tmp_path / name
        link.symlink_to(tmp_path / points_at)
        refused = assetdb("rebuild-source", target, "a.db", "--out", link)
        assert refused.exit_code == 2 and "already exists" in refused.stderr and link.is_symlink()


def test_a_target_held_by_a_writer_is_named_locked_after_the_lock_timeout(assetdb, sources, target, tmp_path):
    """It waited 15 s whatever --lock-timeout said, then called the set another application's
    database (exit 2, with a hint to choose another file)."""
    assert assetdb("migrate", sources[0], "--into", target, "--quiet").exit_code == 0
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        "connection = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "connection.execute('BEGIN IMMEDIATE')\n"
        "connection.execute('UPDATE cross_database_sync_operations SET details = details')\n"
        "print('holding', flush=True)\n"
        "time.sleep(30)\n"), str(target)], stdout=subprocess.PIPE, text=True)
    try:
        with holder.stdout:
            assert holder.stdout.readline().strip() == "holding"
            started = time.monotonic()
            refused = assetdb("migrate", sources[1], "--into", target, "--lock-timeout", "0.2", "--quiet")
            waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert refused.exit_code == 3 and f"locked by another writer (pid {holder.pid})" in refused.stderr
    assert waited < 10, waited  # the option's wait, not a fixed one


@pytest.mark.parametrize("option", [["--lock-timeout", "nan"], ["--lock-timeout", "inf"]])
def test_a_wait_that_is_no_number_of_seconds_is_refused(assetdb, sources, target, option):
    refused = assetdb("migrate", sources[0], "--into", target, *option)
    assert refused.exit_code == 2 and "is not a number of seconds" in refused.stderr and not target.exists()
