"""sync: incremental push with deletions and renames, pull with local edits, the lock, the log."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

import pytest

from consolidation.assets import pull, push
from consolidation.errors import Aborted, CheckFailed
from consolidation.store import initialize
from consolidation.store.lock import database_lock

LIMIT = 99_900_000


@pytest.fixture
def workspace(tmp_path) -> Path:
    root = tmp_path / "ws"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "a.py").write_text("print('a')\n")
    (root / "README.md").write_text("# readme\n")
    (root / "notes.txt").write_text("notes\n")
    return root


def current(database: Path) -> dict[str, int]:
    rows = {}
    for table in ("script_assets", "documentation_assets"):
        for path, version in sqlite3.connect(database).execute(
            f"SELECT path, version FROM {table} WHERE is_current AND deleted_at IS NULL"
        ):
            rows[path] = version
    return rows


def test_a_renamed_file_is_said_to_be_one_of_the_added_and_deleted(assetdb, workspace, database):
    assert assetdb("sync", workspace, "--db", database, "--quiet").exit_code == 0
    (workspace / "notes.txt").rename(workspace / "notes-renamed.txt")
    synced = assetdb("sync", workspace, "--db", database, "--quiet")
    assert synced.exit_code == 0, synced.stderr
    assert "synced: 1 added, 0 changed, 1 deleted (1 of them renamed: added under the new path), 0 touched" \
        in synced.stdout, synced.stdout


def test_content_only_takes_what_git_keeps_a_new_mtime_or_umask_rewrites_nothing(assetdb, workspace, database):
    (workspace / "scripts" / "run.sh").write_text("echo hi\n")
    os.chmod(workspace / "scripts" / "run.sh", 0o755)
    assert assetdb("sync", workspace, "--db", database, "--quiet").exit_code == 0
    before = database.read_bytes()
    checkout = 1_700_000_000_000_000_000
    for path in sorted(p for p in workspace.rglob("*") if p.is_file()):  # as a fresh clone under umask 000 has them
        os.chmod(path, 0o777 if os.access(path, os.X_OK) else 0o666)
        os.utime(path, ns=(checkout, checkout))
    synced = assetdb("sync", workspace, "--db", database, "--content-only", "--quiet")
    assert synced.exit_code == 0, synced.stderr
    assert "0 touched, 4 unchanged" in synced.stdout and database.read_bytes() == before
    (workspace / "notes.txt").write_text("NOTES\n")  # same size, new bytes
    os.utime(workspace / "notes.txt", ns=(checkout, checkout))
    os.chmod(workspace / "scripts" / "a.py", 0o777)  # made executable: git keeps that
    synced = assetdb("sync", workspace, "--db", database, "--content-only", "--quiet")
    assert "0 added, 1 changed, 0 deleted, 1 touched, 2 unchanged" in synced.stdout, synced.stdout
    plain = assetdb("sync", workspace, "--db", database, "--quiet")  # without it, mtime and mode are recorded
    assert "0 changed, 0 deleted, 2 touched, 2 unchanged" in plain.stdout, plain.stdout


def test_a_mistyped_db_beside_a_consolidated_set_is_refused_not_made_a_second_set(assetdb, workspace, database):
    assert assetdb("sync", workspace, "--db", database, "--quiet").exit_code == 0
    mistyped = database.with_name("enterprise_asset.db")
    before = sorted(os.listdir(database.parent))
    for command in (["sync", workspace, "--db", mistyped], ["ingest", workspace, "--into", mistyped]):
        refused = assetdb(*command, "--quiet")
        assert refused.exit_code == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert f"holds the consolidated set {database.name}: give that one" in refused.stderr
        assert sorted(os.listdir(database.parent)) == before
    assert assetdb("init", mistyped).exit_code == 0  # a second set, asked for
    assert assetdb("sync", workspace, "--db", mistyped, "--quiet").exit_code == 0


def test_a_setuid_or_sticky_file_syncs_to_a_green_gate(assetdb, workspace, database):
    """Regenerate never restores setuid, setgid or sticky bits, and verify calls a row that
    asks for one tampered: sync stores the mode without them, so what it stores verifies,
    and a second sync finds the file as stored."""
    tool = workspace / "scripts" / "tool.sh"
    tool.write_text("echo tool\n")
    os.chmod(tool, 0o4755)
    os.chmod(workspace / "notes.txt", 0o1644)
    if not os.stat(tool).st_mode & 0o4000:
        pytest.skip("this file system keeps no setuid bit")
    assert assetdb("sync", workspace, "--db", database, "--quiet").exit_code == 0
    stored = dict(sqlite3.connect(database).execute("SELECT path, mode FROM script_assets UNION ALL "
                                                    "SELECT path, mode FROM documentation_assets"))
    assert stored["scripts/tool.sh"] == 0o100755 and stored["notes.txt"] == 0o100644
    verified = assetdb("verify", database, "--workspace", workspace)
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    again = assetdb("sync", workspace, "--db", database, "--quiet")
    assert "0 touched, 4 unchanged" in again.stdout, again.stdout


def test_push_records_new_changed_deleted_and_renamed_files(workspace, database):
    first = push(workspace, database, LIMIT)
    assert sorted(first.added) == ["README.md", "notes.txt", "scripts/a.py"]
    (workspace / "scripts" / "a.py").write_text("print('a, changed')\n")
    (workspace / "notes.txt").rename(workspace / "notes-renamed.txt")
    (workspace / "README.md").unlink()
    second = push(workspace, database, LIMIT)
    assert second.changed == ["scripts/a.py"]
    assert sorted(second.deleted) == ["README.md", "notes.txt"]
    assert second.renamed == [("notes.txt", "notes-renamed.txt")]
    assert current(database) == {"scripts/a.py": 2, "notes-renamed.txt": 1}
    deleted = sqlite3.connect(database).execute(
        "SELECT path, deleted_at IS NOT NULL FROM documentation_assets WHERE path = 'README.md'"
    ).fetchall()
    assert deleted == [("README.md", 1)]  # history kept
    names = {row[0] for row in sqlite3.connect(database).execute("SELECT name FROM sqlar")}
    assert names == {"scripts/a.py", "notes-renamed.txt"}  # the archive view is the current tree


def test_a_deleted_file_that_comes_back_continues_its_history(workspace, database):
    push(workspace, database, LIMIT)
    (workspace / "README.md").unlink()
    push(workspace, database, LIMIT)
    (workspace / "README.md").write_text("# back\n")
    push(workspace, database, LIMIT)
    versions = sqlite3.connect(database).execute(
        "SELECT version, is_current FROM documentation_assets WHERE path = 'README.md' ORDER BY version"
    ).fetchall()
    assert versions == [(1, 0), (2, 1)]


def test_an_unchanged_sync_reads_and_writes_nothing(workspace, database):
    push(workspace, database, LIMIT)
    before = database.read_bytes()
    report = push(workspace, database, LIMIT)
    assert report.unchanged == 3 and not report.changed_anything
    assert database.read_bytes() == before


def test_pull_writes_assets_and_refuses_local_edits_unless_forced(workspace, database, tmp_path):
    push(workspace, database, LIMIT)
    other = tmp_path / "clone"
    other.mkdir()
    assert sorted(pull(other, database, LIMIT).written) == ["README.md", "notes.txt", "scripts/a.py"]
    assert (other / "scripts" / "a.py").read_text() == "print('a')\n"
    (other / "notes.txt").write_text("edited locally\n")
    with pytest.raises(CheckFailed, match="1 local edits would be overwritten .notes.txt."):
        pull(other, database, LIMIT)
    assert (other / "notes.txt").read_text() == "edited locally\n"
    forced = pull(other, database, LIMIT, force=True)
    assert forced.written == ["notes.txt"] and (other / "notes.txt").read_text() == "notes\n"
    assert pull(other, database, LIMIT).written == []


def test_pull_refuses_a_symlink_planted_in_the_workspace(workspace, database, tmp_path):
    push(workspace, database, LIMIT)
    other = tmp_path / "clone"
    other.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, other / "scripts")
    from consolidation.errors import BadInput

    with pytest.raises(BadInput, match="is a symlink"):
        pull(other, database, LIMIT)
    assert list(outside.iterdir()) == []


def test_a_second_sync_waits_then_names_the_holder(database):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(
            """
            import sys, time
            from pathlib import Path
            from consolidation.store.lock import database_lock
            with database_lock(Path(sys.argv[1]), 5):
                print("holding", flush=True)
                sys.stdin.read()
            """
        ), str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(Aborted, match=rf"another writer holds it \(pid {holder.pid} on .* since .*waited 0.5 s"):
            with database_lock(database, 0.5):
                pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()
    with database_lock(database, 0.5):
        pass  # released when the holder ended


def test_a_killed_sync_does_not_leave_the_lock_stuck(database):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\nfrom consolidation.store.lock import database_lock\n"
         "with database_lock(Path(sys.argv[1]), 5):\n    print('holding', flush=True)\n    time.sleep(60)\n", str(database)],
        stdout=subprocess.PIPE,
        text=True,
    )
    with holder:  # closes the pipe once the holder is gone
        assert holder.stdout.readline().strip() == "holding"
        holder.kill()
    with database_lock(database, 2):
        pass


def test_cli_sync_log_and_watch(assetdb, workspace, tmp_path):
    database = tmp_path / "cli.db"
    first = assetdb("sync", workspace, "--db", database, "--quiet")
    assert first.exit_code == 0 and first.stdout.startswith("synced: 3 added")
    log = assetdb("log", database, "--json")
    operations = [row["operation"] for row in json.loads(log.stdout)]
    assert operations == ["init", "sync"]
    assert json.loads(log.stdout)[1]["counts"]["added"] == 3
    future = assetdb("log", database, "--since", "2999-01-01")
    assert future.stdout.strip().endswith("0 operations")
    for recent in ("1h", "7d", "2w", "2000-01-01T00:00:00+02:00"):
        assert assetdb("log", database, "--since", recent).stdout.strip().endswith("2 operations"), recent
    assert assetdb("log", database, "--since", "30s").exit_code == 0
    for bad in ("yesterday", "7 days", "2026-13-40", "-1d", ""):
        refused = assetdb("log", database, "--since", bad)
        assert refused.exit_code == 2 and len(refused.stderr.strip().splitlines()) == 1, bad
        assert f"--since {bad!r}: use a date" in refused.stderr
    missing = assetdb("sync", tmp_path / "nowhere", "--db", database)
    assert missing.exit_code == 2 and "no such workspace folder" in missing.stderr


def test_watch_stops_cleanly_on_interrupt(workspace, tmp_path):
    import signal

    database = tmp_path / "watch.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "consolidation", "sync", str(workspace), "--db", str(database), "--watch",
         "--interval", "0.2", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A suite started in the background inherits SIGINT ignored, and Python then
        # keeps ignoring it: give the child the default disposition a terminal gives.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not _synced(database):
        time.sleep(0.1)
    (workspace / "later.py").write_text("print('written while watching')\n")
    while time.monotonic() < deadline and _synced(database) < 2:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, (out, err)
    # the interrupt may land between a round's commit and its line: the log is the proof
    assert "stopped watching" in out and out.count("synced:") >= 1, (out, err)
    assert _synced(database) == 2, (out, err)  # the edit was picked up by a later round


def _synced(database: Path) -> int:
    """Sync rows in the log (a sync that changed nothing writes none)."""
    try:
        # closed at once: a reader left open would hold a shared lock the watcher must wait out
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            return connection.execute(
                "SELECT count(*) FROM cross_database_sync_operations WHERE operation = 'sync'"
            ).fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_file_deleted_mid_sync_is_skipped_and_recorded_next_time(workspace, database, monkeypatch):
    from consolidation.assets import pack as pack_module

    real_read = pack_module._read_regular

    def delete_first(full, file, scratch):
        if full.endswith(b"notes.txt"):
            os.unlink(full)
        return real_read(full, file, scratch)

    monkeypatch.setattr(pack_module, "_read_regular", delete_first)
    report = push(workspace, database, LIMIT)
    assert "notes.txt: vanished while being stored, skipped" in report.skipped
    assert "notes.txt" not in current(database)
    monkeypatch.undo()
    assert push(workspace, database, LIMIT).deleted == []  # it never was an asset


def test_assets_past_the_cap_continue_in_shards(workspace, database, tmp_path):
    from consolidation.assets import regenerate
    from consolidation.proof import check_reproducible
    from consolidation.size import database_size

    cap = database.stat().st_size + 300_000
    for index in range(6):
        (workspace / f"blob{index}.bin").write_bytes(os.urandom(100_000))  # 600 KB that will not compress
    report = push(workspace, database, cap)
    assert len(report.added) == 9
    files = sorted(database.parent.glob("enterprise_assets*.db"))
    assert len(files) >= 2 and all(database_size(path) <= cap for path in files)
    assert check_reproducible(database, workspace).ok
    out = tmp_path / "out"
    regenerate(database, out, limit=LIMIT)
    assert (out / "blob5.bin").read_bytes() == (workspace / "blob5.bin").read_bytes()
    clone = tmp_path / "clone"
    clone.mkdir()
    assert len(pull(clone, database, LIMIT).written) == 9
    (workspace / "blob0.bin").unlink()
    assert push(workspace, database, cap).deleted == ["blob0.bin"]
    assert check_reproducible(database, workspace).ok


def test_a_changed_file_in_a_full_shard_syncs_and_the_gate_stays_green(pytester):
    """A changed file's old bytes become history in the shard that holds them: they went
    there beside the archive's copy first, so a full shard met its cap and every later sync
    was refused. A shard a sync makes is the listed set's, and the gate passes."""
    root = pytester.path
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "databases").mkdir()
    with closing(sqlite3.connect(root / "databases" / "s1.db")) as connection, connection:
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
        connection.execute("INSERT INTO t VALUES (1, 'a')")
    (root / "pyproject.toml").write_text('[tool.assetdb]\nsize_limit = "600KB"\n')
    (root / "bin").mkdir()
    for index in range(6):
        (root / "bin" / f"blob{index}.bin").write_bytes(os.urandom(150_000))  # does not compress
    assetdb = [sys.executable, "-m", "consolidation"]
    done = subprocess.run([*assetdb, "consolidate", "databases", "--workspace", ".", "--yes", "--quiet",
                           "--backup-dir", str(root.parent / "backups")], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    before = len(list((root / "databases").glob("enterprise_assets*.db")))
    assert f"{before} shard(s):" in done.stdout  # the set's files, those ingest made too
    listed = (root / "databases" / "CONSOLIDATED_DATABASE_LIST.md").read_text()
    assert "| 1 |" in listed.split("`enterprise_assets.db`", 1)[1].splitlines()[0]  # its sources' rows
    assert "more: the set is split into shards" in listed
    for round_number in range(2):
        for index in range(round_number + 1):
            (root / "bin" / f"blob{index}.bin").write_bytes(os.urandom(150_000))
        synced = subprocess.run([*assetdb, "sync", ".", "--db", "databases/enterprise_assets.db", "--quiet"],
                                cwd=root, capture_output=True, text=True)
        assert synced.returncode == 0, synced.stderr
    assert len(list((root / "databases").glob("enterprise_assets*.db"))) > before  # a sync made a shard
    gate = pytester.runpytest("--assetdb", "databases/", "--assetdb-workspace", ".", "-p", "no:cacheprovider")
    assert gate.ret == 0, gate.stdout.str()


def test_each_asset_shard_is_a_sqlite_archive_of_its_own(workspace, database, tmp_path):
    from conftest import sqlite_shell

    shell = sqlite_shell()
    for index in range(6):
        (workspace / f"blob{index}.bin").write_bytes(os.urandom(100_000))
    push(workspace, database, database.stat().st_size + 300_000)
    out = tmp_path / "shell-out"
    out.mkdir()
    for path in sorted(database.parent.glob("enterprise_assets*.db")):
        subprocess.run([shell, str(path), "-Ax"], cwd=out, check=True, capture_output=True)
    restored = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    expected = sorted(str(p.relative_to(workspace)) for p in workspace.rglob("*") if p.is_file())
    assert restored == expected
    assert all((out / name).read_bytes() == (workspace / name).read_bytes() for name in expected)


def test_the_whole_set_extracted_file_after_file_restores_every_link(workspace, database, tmp_path):
    """The primary and then each shard extracted in turn by the shell restore every link,
    whichever shard holds it or its target, a link to a folder, dangling links and a loop
    too; a second sync adding a shard keeps it so."""
    from conftest import sqlite_shell

    shell = sqlite_shell()
    (workspace / "deep" / "dir").mkdir(parents=True)
    (workspace / "deep" / "dir" / "inner.txt").write_text("inner\n")
    (workspace / "first.bin").write_bytes(os.urandom(100_000))
    links = {"a_dangling": "nowhere", "b_loop": "b_loop", "to_first": "first.bin", "to_dir": "deep/dir",
             "deep/up": "../first.bin", "z_dangling": "gone"}
    for name, target in links.items():
        os.symlink(target, workspace / name)
    cap = 400_000
    for round_number in range(2):
        for index in range(3):
            (workspace / f"blob{round_number}{index}.bin").write_bytes(os.urandom(100_000))
        push(workspace, database, cap)
        files = [database, *sorted(database.parent.glob("enterprise_assets.[0-9]*.db"))]
        assert len(files) > 1 + round_number
        out = tmp_path / f"shell-out-{round_number}"
        out.mkdir()
        for path in files:
            subprocess.run([shell, str(path), "-Ax"], cwd=out, check=True, capture_output=True)
        for name, target in links.items():
            assert os.readlink(out / name) == target, name
        assert (out / "to_dir" / "inner.txt").read_text() == "inner\n"
        restored = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and not p.is_symlink())
        assert restored == sorted(str(p.relative_to(workspace)) for p in workspace.rglob("*")
                                  if p.is_file() and not p.is_symlink())
    assert push(workspace, database, cap).changed_anything is False


def test_links_an_earlier_version_archived_with_their_own_mtime_are_untimed_by_the_next_sync(workspace, database,
                                                                                            tmp_path):
    """A set an earlier version wrote gave links their own mtime in the archive, on which
    the shell's ``-Ax`` stops: the next sync that writes gives them none."""
    from conftest import sqlite_shell

    os.symlink("nowhere", workspace / "a_dangling")
    os.symlink("notes.txt", workspace / "to_notes")
    push(workspace, database, LIMIT)
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("UPDATE sqlar SET mtime = 1262304000 WHERE mode >> 12 = 10")
    (workspace / "notes.txt").write_text("notes, changed\n")
    push(workspace, database, LIMIT)
    with closing(sqlite3.connect(database)) as connection:
        assert connection.execute("SELECT DISTINCT mtime FROM sqlar WHERE mode >> 12 = 10").fetchall() == [(-1,)]
    out = tmp_path / "shell-out"
    out.mkdir()
    subprocess.run([sqlite_shell(), str(database), "-Ax"], cwd=out, check=True, capture_output=True)
    assert os.readlink(out / "a_dangling") == "nowhere" and (out / "to_notes").read_text() == "notes, changed\n"


def test_a_file_larger_than_the_cap_is_rolled_back(workspace, database):
    push(workspace, database, LIMIT)
    before = database.read_bytes()
    (workspace / "huge.bin").write_bytes(os.urandom(400_000))
    with pytest.raises(Aborted, match="does not fit under the cap"):
        push(workspace, database, database.stat().st_size + 100_000)
    assert database.read_bytes() == before
    assert sorted(p.name for p in database.parent.iterdir()) == ["enterprise_assets.db"]


def test_sync_never_writes_another_database(workspace, database, tmp_path):
    from conftest import folder_state

    neighbours = database.parent
    (neighbours / "other.db").write_bytes(database.read_bytes())
    before = {name: digest for name, digest in folder_state(neighbours).items() if name != database.name}
    push(workspace, database, LIMIT)
    after = {name: digest for name, digest in folder_state(neighbours).items() if name != database.name}
    assert after == before


def test_a_killed_sync_resumes_to_the_same_state(tmp_path):
    import signal

    workspace = tmp_path / "big-ws"
    for index in range(400):
        folder = workspace / f"pkg{index % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"module{index}.py").write_bytes(os.urandom(20_000))
    databases = []
    for name in ("clean", "killed"):
        path = tmp_path / name / "enterprise_assets.db"
        path.parent.mkdir()
        initialize(path, 99_900_000)
        databases.append(path)
    command = lambda path: [sys.executable, "-m", "consolidation", "sync", str(workspace), "--db", str(path), "-q"]  # noqa: E731
    started = time.monotonic()
    subprocess.run(command(databases[0]), check=True, capture_output=True)
    duration = time.monotonic() - started
    for fraction in (0.4, 0.7, 0.9):
        process = subprocess.Popen(command(databases[1]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * fraction)
        process.send_signal(signal.SIGKILL)
        process.wait()
    subprocess.run(command(databases[1]), check=True, capture_output=True)
    state = [
        sqlite3.connect(path).execute("SELECT path, version, sha256, size FROM script_assets ORDER BY path").fetchall()
        for path in databases
    ]
    assert state[0] == state[1] and len(state[0]) == 400


def test_a_file_changed_keeping_its_size_and_mtime_is_named_with_rehash_which_takes_it_in(assetdb, workspace,
                                                                                          database):
    """A tree unpacked with normalised mtimes (``tar --mtime``, SOURCE_DATE_EPOCH): a file's
    new version of the same length keeps size and mtime, so a sync takes it for unchanged.
    verify names it with ``sync --rehash``, which reads every file and stores it."""
    assert assetdb("sync", workspace, "--db", database, "--quiet").exit_code == 0
    path = workspace / "notes.txt"
    stamp = path.stat().st_mtime_ns
    path.write_text("NOTES\n")  # the same length
    os.utime(path, ns=(stamp, stamp))
    assert "0 changed" in assetdb("sync", workspace, "--db", database).stdout
    verified = assetdb("verify", database, "--workspace", workspace)
    assert verified.exit_code == 1
    assert (f"notes.txt: workspace bytes differ from the stored version 1, its size and mtime as stored "
            f"(run: assetdb sync {workspace} --db {database} --rehash)") in verified.stdout
    rehashed = assetdb("sync", workspace, "--db", database, "--rehash")
    assert rehashed.exit_code == 0 and "1 changed" in rehashed.stdout, rehashed.stdout
    assert assetdb("verify", database, "--workspace", workspace).exit_code == 0
    again = assetdb("sync", workspace, "--db", database, "--rehash")
    assert "0 changed" in again.stdout and "0 touched" in again.stdout


def test_pull_takes_an_executable_bit_changed_for_a_local_edit_and_force_restores_it(assetdb, workspace, database):
    """Git keeps the bit: a file made executable is not the stored version. Pull called it up to
    date, so --force never restored it and the gate stayed red."""
    assert assetdb("sync", workspace, "--db", database, "--quiet").exit_code == 0
    os.chmod(workspace / "notes.txt", 0o755)
    refused = assetdb("sync", workspace, "--db", database, "--pull")
    assert refused.exit_code == 1 and "1 local edits would be overwritten (notes.txt)" in refused.stderr
    forced = assetdb("sync", workspace, "--db", database, "--pull", "--force")
    assert forced.exit_code == 0 and "1 written" in forced.stdout
    assert not os.stat(workspace / "notes.txt").st_mode & 0o111


def test_a_sync_of_one_folder_of_the_tree_the_files_were_stored_from_is_refused(assetdb, tmp_path, monkeypatch):
    """Stored from the repository's root, then synced from ``scripts/`` (``assetdb sync .`` run
    there): every file outside it would be recorded as deleted and its own stored again under
    other names. Refused, naming the tree to sync; nothing changes."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "docs").mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for n in range(3):
        (repo / "scripts" / f"s{n}.py").write_text(f"print({n})\n")
        (repo / "docs" / f"d{n}.md").write_text(f"# d{n}\n")
    database = repo / "databases" / "enterprise_assets.db"
    database.parent.mkdir()
    assert assetdb("ingest", repo, "--into", database).exit_code == 0
    before = database.read_bytes()
    monkeypatch.chdir(repo / "scripts")
    for command in (["sync", ".", "--db", "../databases/enterprise_assets.db"],
                    ["ingest", ".", "--into", "../databases/enterprise_assets.db"]):
        refused = assetdb(*command)
        assert refused.exit_code == 2, refused.stdout + refused.stderr
        assert f"the folder scripts/ of {repo.resolve()}" in refused.stderr and "nothing was changed" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    assert database.read_bytes() == before
    assert assetdb("sync", "..", "--db", "../databases/enterprise_assets.db").exit_code == 0  # the tree it came from
    (repo / "notes").mkdir()
    (repo / "notes" / "n.md").write_text("# a set of its own, stored from this folder\n")
    own = repo / "notes" / "own.db"
    assert assetdb("ingest", repo / "notes", "--into", own).exit_code == 0
    assert assetdb("sync", repo / "notes", "--db", own).exit_code == 0  # a folder its files were stored from: fine
    (repo / "mysite" / "mysite").mkdir(parents=True)  # a project whose files include its own name again
    (repo / "mysite" / "manage.py").write_text("import os\n")
    (repo / "mysite" / "mysite" / "settings.py").write_text("DEBUG = 1\n")
    site = repo / "mysite" / "site.db"
    assert assetdb("ingest", repo / "mysite", "--into", site).exit_code == 0
    (repo / "mysite" / "mysite" / "settings.py").write_text("DEBUG = 0\n")
    resynced = assetdb("sync", repo / "mysite", "--db", site)
    assert resynced.exit_code == 0 and "1 changed" in resynced.stdout, resynced.stdout + resynced.stderr
