"""No leftovers: temporaries carry their owner's pid, and the next run of any command removes
those whose owner is gone — after a real SIGKILL too — while a live owner's are left alone."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import dead_pid, listing, make_database

ASSETDB = [sys.executable, "-m", "consolidation"]


def run(*args, tmpdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*ASSETDB, *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "TMPDIR": str(tmpdir)})


def a_workspace(tmp_path: Path) -> Path:
    """A workspace of one script, for a command that must write."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "a.py").write_text("print(1)\n")
    return workspace


def a_dead_and_a_live_owner_s(tmp_path: Path, dead: str, live: str) -> tuple[Path, int, int]:
    """A temporary folder holding a scratch folder (with a file) of a process that is gone,
    named ``assetdb-PID-dead``, and one of this live process, ``assetdb-PID-live``."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    gone, alive = dead_pid(), os.getpid()
    (tmpdir / f"assetdb-{gone}-{dead}").mkdir()
    (tmpdir / f"assetdb-{gone}-{dead}" / "left.db").write_bytes(b"what the killed run left")
    (tmpdir / f"assetdb-{alive}-{live}").mkdir()
    return tmpdir, gone, alive


def test_the_next_command_removes_what_a_dead_owner_left_and_keeps_a_live_ones(tmp_path, database):
    tmpdir, gone, alive = a_dead_and_a_live_owner_s(tmp_path, "snapshot-k2j4_9xz", "snapshot-p0q1r2s3")
    (tmpdir / "assetdb-not-ours").mkdir()  # no owner named: never touched
    # a user's own files that merely look alike: not one of the tool's purposes or shapes
    (tmpdir / "assetdb-20260301-export-final").mkdir()
    (tmpdir / "assetdb-20260301-export-final" / "report.csv").write_text("a,b\n")
    (tmpdir / f"assetdb-{gone}-notes-v2.txt").write_text("mine")
    (tmpdir / f"assetdb-{gone}-snapshot-k2j4_9xz.bak").write_text("mine too")
    result = run("inventory", database.parent, tmpdir=tmpdir)  # any command, even one that only reads
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmpdir)) == sorted([
        f"assetdb-{alive}-snapshot-p0q1r2s3", "assetdb-not-ours", "assetdb-20260301-export-final",
        f"assetdb-{gone}-notes-v2.txt", f"assetdb-{gone}-snapshot-k2j4_9xz.bak",
    ])
    assert (tmpdir / "assetdb-20260301-export-final" / "report.csv").read_text() == "a,b\n"


def test_the_gate_removes_what_a_killed_gate_left(tmp_path, database):
    """A gate killed while it rebuilt a source leaves the rebuilt copy in its scratch folder:
    the next gate sweeps it, as every command does, and leaves a live owner's alone."""
    tmpdir, _gone, alive = a_dead_and_a_live_owner_s(tmp_path, "rebuild-x1y2z3w4", "rebuild-a1b2c3d4")
    gate = subprocess.run([sys.executable, "-m", "pytest", "--assetdb", str(database.parent), "-p", "no:cacheprovider",
                           "-q"], capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "TMPDIR": str(tmpdir)})
    assert gate.returncode == 0, gate.stdout
    assert os.listdir(tmpdir) == [f"assetdb-{alive}-rebuild-a1b2c3d4"]


def test_a_writer_sweeps_its_database_folder(tmp_path, database):
    gone = dead_pid()
    stale = [f".enterprise_assets.db.assetdb-{gone}-init.tmp", f".enterprise_assets.db.assetdb-{gone}-init.tmp-journal",
             f".CONSOLIDATED_DATABASE_LIST.md.assetdb-{gone}-list.tmp"]
    live = f".enterprise_assets.db.assetdb-{os.getpid()}-init.tmp"
    for name in (*stale, live):
        (database.parent / name).write_bytes(b"left")
    workspace = a_workspace(tmp_path)
    result = run("sync", workspace, "--db", database, "--quiet", tmpdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(database.parent)) == sorted([live, "enterprise_assets.db"])


def test_a_killed_owner_not_yet_reaped_counts_as_gone(tmp_path, database):
    """A run killed by its parent's SIGKILL stays a zombie until the parent reaps it: it still
    answers a signal, but it will never finish what it left."""
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        killed.kill()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{killed.pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z":
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.01)
        stale = database.parent / f".enterprise_assets.db.assetdb-{killed.pid}-init.tmp"
        stale.write_bytes(b"left by the killed run")
        workspace = a_workspace(tmp_path)
        result = run("sync", workspace, "--db", database, "--quiet", tmpdir=tmp_path)
        assert result.returncode == 0, result.stderr
        assert not stale.exists()
    finally:
        killed.wait()  # reaped only now


def test_regenerate_sweeps_the_folders_it_writes_into(tmp_path, database):
    workspace = tmp_path / "ws"
    (workspace / "docs").mkdir(parents=True)
    (workspace / "docs" / "a.md").write_text("# a\n")
    assert run("ingest", workspace, "--into", database, "--quiet", tmpdir=tmp_path).returncode == 0
    out = tmp_path / "out"
    (out / "docs").mkdir(parents=True)
    gone = dead_pid()
    (out / f".assetdb-{gone}-0a1b2c3d.tmp").write_bytes(b"staged by a killed run")
    (out / "docs" / f".assetdb-{gone}-4e5f6a7b.tmp").write_bytes(b"staged by a killed run")
    result = run("regenerate", database, "--out", out, tmpdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert listing(out) == ["docs", "docs/a.md"]


def test_after_a_sigkill_the_rerun_leaves_nothing_stale(tmp_path):
    """Kill an ingest while it spools a large file through its private folder, then rerun."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    workspace = tmp_path / "ws"
    (workspace / "data").mkdir(parents=True)
    for index in range(4):
        (workspace / "data" / f"blob{index}.bin").write_bytes(os.urandom(9 * 2**20))  # spooled: over 8 MB
    database = tmp_path / "db" / "enterprise_assets.db"
    database.parent.mkdir()
    process = subprocess.Popen([*ASSETDB, "ingest", str(workspace), "--into", str(database), "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "TMPDIR": str(tmpdir)})
    scratch = f"assetdb-{process.pid}-ingest-"
    while process.poll() is None and not any(name.startswith(scratch) for name in os.listdir(tmpdir)):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    left = os.listdir(tmpdir) + os.listdir(database.parent)
    assert process.returncode == -signal.SIGKILL, "the ingest ended before it could be killed"
    assert any(name.startswith(scratch) for name in left)
    rerun = run("ingest", workspace, "--into", database, "--quiet", tmpdir=tmpdir)
    assert rerun.returncode == 0, rerun.stderr
    assert os.listdir(tmpdir) == []
    assert sorted(os.listdir(database.parent)) == ["enterprise_assets.db"]
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    assert connection.execute("SELECT count(*) FROM script_assets WHERE is_current = 1").fetchone()[0] + \
        connection.execute("SELECT count(*) FROM documentation_assets WHERE is_current = 1").fetchone()[0] + \
        connection.execute("SELECT count(*) FROM template_assets WHERE is_current = 1").fetchone()[0] + \
        connection.execute("SELECT count(*) FROM pattern_assets WHERE is_current = 1").fetchone()[0] == 4
    connection.close()


def test_an_orphan_super_journal_is_removed_and_one_a_journal_may_name_is_kept(tmp_path, database):
    """A commit across the primary and its shards killed after its journals were deleted
    leaves SQLite's super-journal (``NAME-mjXXXXXX9XX``) for good; the next writer removes it."""
    workspace = a_workspace(tmp_path)
    orphan = database.parent / "enterprise_assets.db-mj1A2B3C9D4"
    orphan.write_bytes(b"/path/enterprise_assets.002.db-journal\x00")
    assert run("sync", workspace, "--db", database, "--quiet", tmpdir=tmp_path).returncode == 0
    assert not orphan.exists()
    orphan.write_bytes(b"/path/enterprise_assets.002.db-journal\x00")
    journal = database.parent / "enterprise_assets.002.db-journal"
    journal.write_bytes(b"")  # a journal that may still name it: SQLite's to resolve, not ours
    (workspace / "b.py").write_text("print(2)\n")
    assert run("sync", workspace, "--db", database, "--quiet", tmpdir=tmp_path).returncode == 0
    assert orphan.exists()


def test_a_spare_shard_no_write_registered_is_removed_by_the_next_writer(tmp_path, database):
    """A write killed between creating a spare shard and registering it leaves a file that
    says it is a shard of the set; the manifest does not list it, so the next writer removes
    it (a registered shard, or another set's file of that name, is left alone)."""
    from consolidation.store.shard_files import create_shard_file

    spare = database.with_name("enterprise_assets.004.db")
    create_shard_file(spare, database, 4)
    foreign = database.with_name("enterprise_assets.005.db")
    sqlite3.connect(foreign).execute("CREATE TABLE kept (x)").connection.close()
    workspace = a_workspace(tmp_path)
    assert run("sync", workspace, "--db", database, "--quiet", tmpdir=tmp_path).returncode == 0
    assert sorted(os.listdir(database.parent)) == ["enterprise_assets.005.db", "enterprise_assets.db"]


def test_shards_are_never_removed_when_the_primary_cannot_vouch_for_them(tmp_path):
    """A primary that is damaged (here: no longer marked as an assetdb database) or moved
    away has no manifest to judge its shards by: a writer refuses, and every shard stays."""
    from consolidation.merge import MigrationSettings, migrate

    sources = []
    for index in range(3):
        path = tmp_path / "legacy" / f"s{index}.db"
        path.parent.mkdir(exist_ok=True)
        connection = sqlite3.connect(path)
        connection.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
        connection.executemany("INSERT INTO blobs VALUES (?, randomblob(20000))",
                               [(index * 100 + row,) for row in range(12)])
        connection.commit()
        connection.close()
        sources.append(path)
    database = tmp_path / "db" / "enterprise_assets.db"
    database.parent.mkdir()
    migrate(database, sources, MigrationSettings(400_000))
    shards = sorted(path.name for path in database.parent.glob("enterprise_assets.0*.db"))
    assert shards
    with open(database, "r+b") as handle:  # application_id lives at bytes 68-71 of the header
        handle.seek(68)
        handle.write(b"\0\0\0\0")
    workspace = a_workspace(tmp_path)
    refused = run("ingest", workspace, "--into", database, "--quiet", tmpdir=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert sorted(path.name for path in database.parent.glob("enterprise_assets.0*.db")) == shards
    database.rename(tmp_path / "moved-away.db")
    assert run("ingest", workspace, "--into", database, "--quiet", tmpdir=tmp_path).returncode == 0
    assert set(shards) <= {path.name for path in database.parent.glob("enterprise_assets.0*.db")}


def test_what_a_killed_archive_or_list_left_is_swept_by_the_next_consolidate(tmp_path, monkeypatch):
    """Temporaries beside the archive's manifest, in its subfolders, and beside the database
    list, left by a writer that is gone, are removed when the next run writes there; the
    manifest's own temporary goes even when the write is interrupted (Ctrl-C)."""
    import consolidation.archive as archive
    from consolidation.demo import build_demo_repository

    repo = build_demo_repository(tmp_path / "demo").root
    folders = ["databases", "archived_databases", "deployment/production/databases"]
    consolidate = [*ASSETDB, "consolidate", *folders, "--workspace", ".", "--backup-dir", str(tmp_path / "backups"),
                   "--yes", "--skip-unusable", "--quiet"]
    assert subprocess.run(consolidate, cwd=repo, capture_output=True).returncode == 0
    gone = dead_pid()
    stale = [repo / "databases" / "archive" / f".ARCHIVE_MANIFEST.json.assetdb-{gone}-manifest.tmp",
             repo / "databases" / "archive" / "databases" / f".monitoring.db.assetdb-{gone}-archive.tmp",
             repo / "documentation" / f".CONSOLIDATED_DATABASE_LIST.md.assetdb-{gone}-list.tmp"]
    for path in stale:
        path.write_text("left by a killed run")
    make_database(repo / "databases" / "late.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    again = subprocess.run(consolidate, cwd=repo, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert [path for path in stale if path.exists()] == []

    def interrupted(source, destination):
        raise KeyboardInterrupt
    monkeypatch.setattr(archive.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        archive._write_manifest(tmp_path, [])
    assert list(tmp_path.glob(".ARCHIVE_MANIFEST.json.*")) == []
