"""Locks that mean it: one writer per set whatever the environment, a new database made once,
a writer that meets another waits then names it, readers that wait out a committing writer.
Every case runs real processes side by side."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

import pytest

from consolidation.store.lock import lock_path

ASSETDB = [sys.executable, "-m", "consolidation"]


@pytest.fixture
def workspace(tmp_path) -> Path:
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    for index in range(40):
        (root / "docs" / f"note{index}.md").write_text(f"# note {index}\n" + "text " * 2000)
    (root / "run.py").write_text("print('hi')\n")
    return root


def start(*args, env=None) -> subprocess.Popen:
    return subprocess.Popen([*ASSETDB, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def finish(process: subprocess.Popen) -> tuple[int, str]:
    _out, err = process.communicate(timeout=120)
    return process.returncode, err


def stored_paths(database: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return [os.fsdecode(path) for (path,) in connection.execute(
            "SELECT path FROM documentation_assets WHERE is_current = 1 ORDER BY path")]
    finally:
        connection.close()


def test_two_syncs_with_different_temporary_folders_take_turns(workspace, tmp_path):
    database = tmp_path / "db" / "enterprise_assets.db"
    database.parent.mkdir()
    (tmp_path / "t1").mkdir()
    (tmp_path / "t2").mkdir()
    first = start("sync", workspace, "--db", database, "--quiet", env={"TMPDIR": str(tmp_path / "t1")})
    second = start("sync", workspace, "--db", database, "--quiet", env={"TMPDIR": str(tmp_path / "t2")})
    results = [finish(first), finish(second)]
    assert [code for code, _ in results] == [0, 0], results
    assert all("Traceback" not in err for _, err in results)
    paths = stored_paths(database)
    assert len(paths) == len(set(paths)) == 40
    assert sorted(os.listdir(database.parent)) == ["enterprise_assets.db"]  # the lock went with its holder


@pytest.mark.parametrize("attempt", range(3))
def test_two_writers_creating_the_same_new_database_make_it_once(workspace, tmp_path, attempt):
    database = tmp_path / "db" / "enterprise_assets.db"
    database.parent.mkdir()
    writers = [start("ingest", workspace, "--into", database, "--quiet") for _ in range(2)]
    results = [finish(writer) for writer in writers]
    assert [code for code, _ in results] == [0, 0], results
    assert sorted(os.listdir(database.parent)) == ["enterprise_assets.db"]
    assert len(stored_paths(database)) == 40


def hold_lock(database: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys
            from consolidation.store.lock import database_lock
            with database_lock(sys.argv[1], 5):
                print("holding", flush=True)
                sys.stdin.read()
            """), str(database)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def release(holder: subprocess.Popen) -> None:
    holder.stdin.close()
    holder.wait(timeout=10)
    holder.stdout.close()


@pytest.mark.parametrize("command", ["ingest", "migrate", "sync", "init"])
def test_a_writer_that_meets_another_waits_then_exits_3_naming_it(workspace, tmp_path, database, command):
    source = tmp_path / "legacy.db"
    sqlite3.connect(source).execute("CREATE TABLE t (x)").connection.close()
    if command == "init":  # one with something to do: a complete set is left alone, lock or none
        with closing(sqlite3.connect(database)) as connection:
            connection.execute("PRAGMA user_version = 3")
    holder = hold_lock(database)
    try:
        arguments = {"ingest": ("ingest", workspace, "--into", database), "migrate": ("migrate", source, "--into", database),
                     "sync": ("sync", workspace, "--db", database), "init": ("init", database)}[command]
        code, err = finish(start(*arguments, "--lock-timeout", "0.3", *(["--quiet"] if command != "init" else [])))
        assert code == 3
        [line] = err.strip().splitlines()
        assert line.startswith(f"assetdb: error: {database}: another writer holds it (pid {holder.pid} on "
                               f"{os.uname().nodename} since ")
        assert line.endswith(f"; lock {lock_path(database).name}); waited 0.3 s, nothing was changed")
    finally:
        release(holder)
    assert not lock_path(database).exists()


def test_a_lock_left_by_a_killed_holder_is_taken_and_removed(workspace, database):
    holder = hold_lock(database)
    holder.kill()
    holder.wait()
    holder.stdin.close()
    holder.stdout.close()
    assert lock_path(database).exists()  # the file stays; the kernel released the flock
    code, err = finish(start("sync", workspace, "--db", database, "--lock-timeout", "5", "--quiet"))
    assert code == 0, err
    assert not lock_path(database).exists()


def test_the_lock_file_is_never_an_asset(tmp_path):
    from consolidation.store.owned import is_tool_file

    assert is_tool_file("enterprise_assets.db.assetdb-lock")
    assert is_tool_file(".enterprise_assets.db.assetdb-123-init.tmp") and is_tool_file(".assetdb-9-0a1b2c3d4e5f6071.tmp-journal")
    assert not is_tool_file("notes.tmp") and not is_tool_file(".assetdb-notes.tmp")


def hold_write_transaction(database: Path) -> subprocess.Popen:
    """A writer inside a transaction on ``database`` that commits when told to."""
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sqlite3, sys
            connection = sqlite3.connect(sys.argv[1], isolation_level=None)
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO enterprise_metadata (metadata_key, metadata_value) VALUES ('k', 'v')")
            print("writing", flush=True)
            sys.stdin.readline()
            connection.execute("COMMIT")
            print("committed", flush=True)
            sys.stdin.read()
            """), str(database)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert writer.stdout.readline().strip() == "writing"
    return writer


def commit_once_started(writer: subprocess.Popen, reader: subprocess.Popen) -> None:
    """Let the writer commit only after the reader has started (and found it writing)."""
    try:
        reader.wait(timeout=1.0)  # a reader that does not wait would be done by now
    except subprocess.TimeoutExpired:
        pass
    writer.stdin.write("\n")
    writer.stdin.flush()
    assert writer.stdout.readline().strip() == "committed"


def test_verify_waits_out_a_committing_writer(database):
    writer = hold_write_transaction(database)
    try:
        reader = start("verify", database, "--lock-timeout", "60")
        commit_once_started(writer, reader)
        code, err = finish(reader)
        assert code == 0, err
    finally:
        release(writer)


def test_the_gate_waits_out_a_committing_writer(database, tmp_path):
    writer = hold_write_transaction(database)
    try:
        gate = subprocess.Popen(
            [sys.executable, "-m", "pytest", "--assetdb", str(database.parent), "--assetdb-lock-timeout", "60",
             "-p", "no:cacheprovider", "-q", "-k", "integrity"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        )
        commit_once_started(writer, gate)
        out, _err = gate.communicate(timeout=120)
        assert gate.returncode == 0, out
        assert "1 passed" in out
    finally:
        release(writer)


def test_a_reader_still_refuses_a_writer_past_its_timeout(database):
    writer = hold_write_transaction(database)
    try:
        code, err = finish(start("verify", database, "--lock-timeout", "0.2"))
        assert code == 3 and "still writing after 0.2 s" in err
    finally:
        release(writer)


def test_init_of_a_complete_set_reads_it_beside_a_writer_and_writes_nothing(database):
    """A complete set: init only reads it (so it neither waits for the writer nor writes
    under it); one with something to do waits for the lock (see above)."""
    before = database.read_bytes()
    holder = hold_lock(database)
    try:
        code, err = finish(start("init", database, "--lock-timeout", "0.3"))
        assert code == 0, err
    finally:
        release(holder)
    assert database.read_bytes() == before


def test_list_write_beside_a_writer_waits_then_writes_no_list(workspace, tmp_path, database):
    """The set records the list it is in, so its writer lock is taken before the list is
    written: a writer holding it leaves no list written but not recorded."""
    listed = database.parent / "CONSOLIDATED_DATABASE_LIST.md"
    holder = hold_lock(database)
    try:
        code, err = finish(start("list", database.parent, "--workspace", tmp_path, "--write", "--lock-timeout", "0.3"))
        assert code == 3 and "another writer holds it" in err, err
    finally:
        release(holder)
    assert not listed.exists()
    code, err = finish(start("list", database.parent, "--workspace", tmp_path, "--write"))
    assert code == 0 and listed.is_file(), err
