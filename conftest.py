"""Shared fixtures for the project's own tests: real SQLite files, real processes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from consolidation.cli import main
from consolidation.demo import write_wal_with_pending_rows as write_wal_with_pending_rows  # tests import it from here
from pytest_assetdb.testing import make_database as make_database  # tests import it from here

pytest_plugins = ["pytester"]

#: Real legacy databases, vendored with their licence notice (tests/data/realworld/NOTICE.md).
REALWORLD = Path(__file__).resolve().parent / "tests" / "data" / "realworld"


@pytest.fixture(autouse=True)
def _backups_in_a_temporary_folder(tmp_path_factory, monkeypatch):
    """A command that takes a backup with no folder given uses the user's own state folder
    (``~/.local/state/assetdb/backups``): the suite's go to a temporary folder instead, so a
    test run leaves nothing in the home of whoever runs it."""
    monkeypatch.setenv("ASSETDB_BACKUP_DIR", str(tmp_path_factory.mktemp("backups")))


def _writable(path: Path) -> bool:
    """Can this process write the file ``path``, or make a file in the folder ``path``?"""
    try:
        if path.is_dir():
            probe = path / ".assetdb-probe"
            os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            probe.unlink()
        else:
            os.close(os.open(path, os.O_RDWR))
    except OSError:
        return False
    return True


@contextmanager
def unwritable(path: Path):
    """``path`` (a file, or a folder) made unwritable for this process: its mode made
    read-only, and, for root (who writes through modes), made immutable where the file
    system can. Skips the test where neither holds."""
    mode = path.stat().st_mode
    path.chmod(0o555 if path.is_dir() else 0o444)
    immutable = os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    try:
        if _writable(path):
            pytest.skip(f"cannot make {path} read-only here")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


def folder_state(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the SHA-256 of its bytes: 'untouched' means equal."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def readme_example(name: str, language: str = "python") -> str:
    """The code block of README.md introduced by ``<!-- example: NAME -->``: what the README
    shows is what the tests run."""
    readme = (Path(__file__).resolve().parent / "README.md").read_text(encoding="utf-8")
    block = readme.split(f"<!-- example: {name} -->", 1)[1]
    return block.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        check=True,
        capture_output=True,
        text=True,
    )


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def assetdb(capsys, monkeypatch, tmp_path):
    """Run the ``assetdb`` command in-process, from an empty folder, and capture it."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliResult(exit_info.value.code, captured.out, captured.err)

    return run


@pytest.fixture
def target(tmp_path) -> Path:
    """A consolidated database path in a workspace of its own, so backups can go outside it."""
    (tmp_path / "ws").mkdir()
    return tmp_path / "ws" / "enterprise_assets.db"


@pytest.fixture
def database(tmp_path) -> Path:
    """An empty assetdb database (the unified schema, nothing stored yet)."""
    from consolidation.store import initialize

    path = tmp_path / "db" / "enterprise_assets.db"
    path.parent.mkdir()
    initialize(path, 99_900_000)
    return path


@pytest.fixture
def realworld() -> Path:
    """The folder of real legacy databases (read it only: copy a file before touching it)."""
    return REALWORLD


@pytest.fixture
def writer_lock(tmp_path):
    """Hold a write transaction on a database from another process while the test runs."""
    holders = []

    def hold(path: Path) -> int:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(
                    """
                    import sqlite3, sys
                    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
                    connection.execute("BEGIN IMMEDIATE")
                    connection.execute("CREATE TABLE IF NOT EXISTS lock_probe (x)")
                    print("locked", flush=True)
                    sys.stdin.read()
                    """
                ),
                str(path),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout.readline().strip() == "locked"
        holders.append(process)
        return process.pid

    from consolidation.sqlite.readonly import set_reader_wait

    previous = set_reader_wait(0.2)  # these tests want the refusal: a reader waits a moment, not the default
    yield hold
    set_reader_wait(previous)
    for process in holders:
        process.stdin.close()
        process.wait(timeout=10)
        process.stdout.close()


def sqlite_shell() -> str:
    """Path of the sqlite3 shell, or skip: it is an independent oracle, installed by .ci/run."""
    found = shutil.which("sqlite3")
    if found is None:
        pytest.skip("sqlite3 shell not installed (apt-get install sqlite3); .ci/run installs it")
    return found


def sqldiff(original: Path, rebuilt: Path, *options: str) -> str:
    """What ``sqldiff`` prints between two files ('' when identical); skips without it.

    It is run on copies: sqldiff opens files read-write, which would leave WAL
    sidecars next to an original.
    """
    tool = shutil.which("sqldiff")
    if tool is None:
        pytest.skip("sqldiff not installed (apt-get install sqlite3-tools); .ci/run installs it")
    scratch = Path(tempfile.mkdtemp(prefix="sqldiff-"))
    try:
        copies = []
        for index, path in enumerate((original, rebuilt)):
            copy = scratch / f"{index}.db"
            shutil.copyfile(path, copy)
            for suffix in ("-wal", "-journal"):
                if Path(f"{path}{suffix}").exists():
                    shutil.copyfile(f"{path}{suffix}", f"{copy}{suffix}")
            copies.append(copy)
        result = subprocess.run([tool, *options, *map(str, copies)], capture_output=True, text=True)
        return result.stdout + result.stderr
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def small_filesystem(tmp_path):
    """Mount a tmpfs of a given size (optionally read-only) at a new folder; needs root.

    A full or read-only file system cannot be faked faithfully (SQLite, rename and the
    kernel must all see it), so the tests mount a real one, and skip without privileges.
    """
    mounted = []

    def mount(name: str, size: str = "2m", readonly: bool = False) -> Path:
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a small file system needs root (mount -t tmpfs)")
        folder = tmp_path / name
        folder.mkdir()
        options = f"size={size}" + (",ro" if readonly else "")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()})")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], check=False)


def listing(folder: Path) -> list[str]:
    """Every name under ``folder`` (hidden ones included), as ``ls -aR`` would show them."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def dead_pid() -> int:
    """The pid of a process that has already exited (for temporaries whose owner is gone)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
