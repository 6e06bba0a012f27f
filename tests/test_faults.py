"""The error boundary: every file-system and SQLite failure is one line and the right exit
code, with nothing left behind — on real full and read-only file systems (tmpfs mounts)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import listing, make_database
from consolidation.faults import NoSpace, NotWritable, Unreadable, explain

INCOMPRESSIBLE = 1_000_000


@pytest.fixture
def workspace(tmp_path) -> Path:
    """Nine megabytes that do not compress, and a README: more than a 2 MB disk holds."""
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    for index in range(9):
        (root / "docs" / f"part{index}.bin").write_bytes(os.urandom(INCOMPRESSIBLE))
    (root / "README.md").write_text("# workspace\n")
    return root


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "sources" / "legacy.db"
    path.parent.mkdir()
    make_database(path, "CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT)",
                  "INSERT INTO events (what) VALUES ('a'), ('b'), ('c')")
    return path


def one_error_line(result, code: int, *words: str) -> None:
    assert result.exit_code == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("assetdb: error: "), result.stderr
    for word in words:
        assert word in lines[0]


# -- the map, on real errors ---------------------------------------------------------------------


def test_each_class_of_os_error_maps_to_its_code(tmp_path):
    no_room = OSError(28, "No space left on device", str(tmp_path / "x.db"))
    read_only = OSError(30, "Read-only file system", str(tmp_path / "x.db"))
    denied = PermissionError(13, "Permission denied", str(tmp_path / "x.db"))
    assert isinstance(explain(no_room), NoSpace) and explain(no_room).exit_code == 3
    assert "no space left on the file system at" in str(explain(no_room))
    for error in (read_only, denied):
        meaning = explain(error)
        assert isinstance(meaning, NotWritable) and meaning.exit_code == 2 and str(tmp_path / "x.db") in str(meaning)
    assert explain(RuntimeError("a bug")) is None


def test_a_file_sqlite_cannot_read_is_named_encrypted_or_damaged(tmp_path):
    scrambled = tmp_path / "scrambled.db"
    make_database(scrambled, "CREATE TABLE t (x)", "INSERT INTO t SELECT value FROM generate_series(1, 50)"
                  if sqlite3.sqlite_version_info >= (3, 45) else "INSERT INTO t VALUES (1)")
    data = bytearray(scrambled.read_bytes())
    data[100:] = os.urandom(len(data) - 100)  # header kept, every page unreadable (as SQLCipher's look)
    scrambled.write_bytes(bytes(data))
    with pytest.raises(sqlite3.DatabaseError) as raised:
        sqlite3.connect(scrambled).execute("SELECT * FROM sqlite_schema").fetchall()
    meaning = explain(raised.value)
    assert isinstance(meaning, Unreadable) and meaning.exit_code == 2
    assert "cannot be read by SQLite (encrypted or damaged" in str(meaning)


# -- unexpected errors: one line, the traceback only under --debug --------------------------------


def test_an_unexpected_error_is_one_line_with_a_bug_report_hint(assetdb, tmp_path, monkeypatch, source):
    import consolidation.cli_commands as commands

    def broken(*args, **kwargs):
        raise RuntimeError("an invariant the code relies on did not hold")

    monkeypatch.setattr(commands, "check_sizes", broken)
    plain = assetdb("size-check", source)
    assert plain.exit_code == 1 and "Traceback" not in plain.stderr
    assert plain.stderr.strip().splitlines() == [
        "assetdb: internal error: RuntimeError: an invariant the code relies on did not hold — this is a bug; "
        "rerun with --debug (assetdb --debug COMMAND …) and report it with the traceback"]
    debug = assetdb("--debug", "size-check", source)
    assert debug.exit_code == 1 and "Traceback (most recent call last)" in debug.stderr
    assert "in broken" in debug.stderr


# -- symlinks named *.db ---------------------------------------------------------------------------


def test_size_check_and_inventory_name_looping_and_dangling_symlinks(assetdb, tmp_path, source):
    folder = source.parent
    os.symlink("nowhere.db", folder / "dangling.db")
    os.symlink("loop.db", folder / "loop.db")
    sized = assetdb("size-check", folder)
    assert sized.exit_code == 0 and sized.stderr == ""
    assert "dangling.db  (dangling symlink (to nowhere.db): the link itself measured)" in sized.stdout
    assert "loop.db  (symlink loop: the link itself measured)" in sized.stdout
    listed = assetdb("inventory", folder, "--exclude", "nothing*")
    assert listed.exit_code == 0 and "Traceback" not in listed.stderr
    assert "dangling symlink" in listed.stdout and "symlink loop" in listed.stdout
    outside = assetdb("size-check", folder, "--database-folder", folder)
    assert outside.exit_code == 0 and "symlink loop" in outside.stdout
    the_list = assetdb("list", folder)
    assert the_list.exit_code == 0 and "internal error" not in the_list.stderr
    consolidated = assetdb("consolidate", folder, "--skip-unusable", "--backup-dir", tmp_path / "backups", "--quiet")
    assert consolidated.exit_code == 0, consolidated.stderr
    assert "2 left out" in consolidated.stdout


@pytest.mark.parametrize("link", ["loop", "dangling"])
@pytest.mark.parametrize("command", ["init", "ingest", "sync", "migrate"])
def test_a_database_path_that_is_a_broken_symlink_is_refused_and_the_link_kept(assetdb, tmp_path, source,
                                                                                 command, link):
    """A database made at a dangling or looping symlink would replace the link (and a failed
    one would be removed with it): each command that may create the database refuses the
    path in one line, and the folder is as it was."""
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "README.md").write_text("# hi\n")
    database = folder / "enterprise_assets.db"
    os.symlink("enterprise_assets.db" if link == "loop" else "gone.db", database)
    arguments = {"init": [database], "ingest": [folder, "--into", database], "sync": [folder, "--db", database],
                 "migrate": [source, "--into", database]}[command]
    before = listing(folder)
    one_error_line(assetdb(command, *arguments), 2, f"{database}: is a ",
                   "symlink loop" if link == "loop" else "dangling symlink (to gone.db)")
    assert listing(folder) == before and database.is_symlink()
    assert assetdb("inventory", database).exit_code == 0  # a file looked at, not a folder's workspace


@pytest.mark.parametrize("arguments", [["regenerate", "DB", "--out", ""], ["ingest", "", "--into", "DB"],
                                       ["sync", "", "--db", "DB"], ["migrate", "", "--into", "DB"],
                                       ["inventory", ""], ["rebuild-source", "DB", "a.db", "--out", ""]],
                         ids=lambda arguments: arguments[0])
def test_an_empty_path_is_bad_input_never_the_current_folder(assetdb, tmp_path, source, arguments, monkeypatch):
    """``--out "$OUT"`` with OUT unset would have written into the current folder."""
    database = tmp_path / "set" / "enterprise_assets.db"
    database.parent.mkdir()
    assert assetdb("migrate", source, "--into", database, "--quiet").exit_code == 0
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    one_error_line(assetdb(*[str(database) if argument == "DB" else argument for argument in arguments]), 2,
                   "an empty path")
    assert list(here.iterdir()) == []


# -- a read-only file system -----------------------------------------------------------------------


def test_a_read_only_target_folder_is_exit_2_naming_the_path(assetdb, small_filesystem, source, workspace):
    frozen = small_filesystem("frozen", readonly=True)
    for command in (("migrate", source, "--into", frozen / "out.db"), ("ingest", workspace, "--into", frozen / "out.db"),
                    ("sync", workspace, "--db", frozen / "out.db")):
        result = assetdb(*command, "--quiet")
        one_error_line(result, 2, str(frozen), "read-only file system")
        assert listing(frozen) == []
    regenerated = assetdb("regenerate", source, "--out", frozen / "out")
    assert regenerated.exit_code == 2 and "Traceback" not in regenerated.stderr and listing(frozen) == []


# -- a full disk: exit 3, one line naming the file system, nothing left behind --------------------


def test_a_full_disk_during_ingest_of_a_new_database_leaves_the_folder_as_it_was(assetdb, small_filesystem, workspace):
    disk = small_filesystem("disk")
    result = assetdb("ingest", workspace, "--into", disk / "enterprise_assets.db", "--quiet")
    one_error_line(result, 3, "no space left on the file system at", str(disk), "needed", "rolled back")
    assert "cap" not in result.stderr
    assert listing(disk) == []


def test_a_full_disk_during_ingest_and_sync_leaves_no_hot_journal(assetdb, small_filesystem, workspace):
    disk = small_filesystem("disk")
    database = disk / "enterprise_assets.db"
    assert assetdb("init", database).exit_code == 0
    before = listing(disk)
    for command in (("ingest", workspace, "--into", database), ("sync", workspace, "--db", database)):
        result = assetdb(*command, "--quiet")
        one_error_line(result, 3, "no space left on the file system at", "rolled back")
        assert listing(disk) == before  # no -journal, no temporary, no lock
    # the file is as it was: SQLite opens it read-only (a hot journal would make that fail)
    reader = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    assert reader.execute("SELECT count(*) FROM script_assets").fetchone() == (0,)
    reader.close()


def test_a_full_disk_during_migrate_is_not_the_cap(assetdb, small_filesystem, tmp_path):
    big = tmp_path / "big.db"
    connection = sqlite3.connect(big)
    connection.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
    connection.executemany("INSERT INTO blobs (data) VALUES (?)", [(os.urandom(100_000),) for _ in range(40)])
    connection.commit()
    connection.close()
    disk = small_filesystem("disk")
    result = assetdb("migrate", big, "--into", disk / "enterprise_assets.db", "--quiet")
    one_error_line(result, 3, "no space left on the file system at", str(disk))
    assert "cap" not in result.stderr
    assert listing(disk) == []


def test_a_full_disk_during_regenerate_leaves_no_staged_file(assetdb, small_filesystem, workspace, tmp_path):
    database = tmp_path / "db" / "enterprise_assets.db"
    database.parent.mkdir()
    assert assetdb("ingest", workspace, "--into", database, "--quiet").exit_code == 0
    disk = small_filesystem("disk")
    (disk / "kept.txt").write_text("already here\n")
    result = assetdb("regenerate", database, "--out", disk)
    one_error_line(result, 3, "no space left on the file system at", str(disk), "needed")
    assert listing(disk) == ["kept.txt"]


def test_a_full_disk_met_while_writing_is_rolled_back_too(small_filesystem, workspace, tmp_path):
    """The room check passes (a smaller file system is not foreseen): the write itself
    meets ENOSPC midway, and still leaves nothing."""
    disk = small_filesystem("disk", size="4m")
    database = tmp_path / "db" / "enterprise_assets.db"
    database.parent.mkdir()
    subprocess.run([sys.executable, "-m", "consolidation", "ingest", str(workspace), "--into", str(database),
                    "--quiet"], check=True, capture_output=True)
    result = subprocess.run(
        [sys.executable, "-c",
         "import os, sys\n"
         "from consolidation.assets import confine\n"
         "confine.check_room = lambda folder, needed: None  # the room check passes; the disk fills later\n"
         "from consolidation.assets import regenerate as module\n"
         "module.check_room = confine.check_room\n"
         "from consolidation.cli import main\n"
         "main(sys.argv[1:])\n",
         "regenerate", str(database), "--out", str(disk / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1 and "no space left on the file system at" in result.stderr
    assert listing(disk) == []


def test_a_disk_too_full_to_create_the_database_is_one_line_too(assetdb, small_filesystem, workspace):
    disk = small_filesystem("disk")
    filler = disk / "filler"
    filler.write_bytes(b"\0" * (shutil.disk_usage(disk).free - 16 * 1024))
    before = listing(disk)
    result = assetdb("ingest", workspace, "--into", disk / "enterprise_assets.db", "--quiet")
    one_error_line(result, 3, "no space left on the file system at", str(disk))
    assert listing(disk) == before
