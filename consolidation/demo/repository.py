"""A demo legacy repository shaped like the real ones, in real git.

Tidy fixtures are how a tool comes to fail on its first real repository, so the demo is
messy the way real repositories are: the databases live inside the workspace, under Git,
with a ``.gitignore`` that ignores some ``*.db`` and a tracked file matching it anyway; a
Git LFS pointer stands where a database should be, a zero-byte database beside it, a WAL
database whose newest rows live only in its ``-wal``; more databases sit elsewhere in the
tree (``archived_databases/`` with copies, ``deployment/…/databases/``, a stray one at the
root); a hand-written ``CONSOLIDATED_DATABASE_LIST.md`` lives under ``documentation/``;
and the files around them have spaces, non-ASCII letters, non-breaking hyphens, symlinks
and binary content. The project's own tests build the same repository with thousands of
files more.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInput
from .legacy import build_legacy_set
from .rows import BASE_TIME, SEED
from .workspace import DEMO_WORKSPACE

LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"

HAND_WRITTEN_LIST = """\
# Consolidated database list

Maintained by hand since the 2025 clean-up. Every database the platform uses is listed
here with its size at the last review; ask the data team before adding one.

## Databases

- `analytics_collector.db` (about 80 KB): analytics events and data points
- `development.db` (about 70 KB): development metadata and integration tracking
- `documentation.db` (about 60 KB): the documentation store, with its backup copies
- `monitoring.db` (about 90 KB): health metrics
- `template_completion.db`: templates and placeholders
- `legacy_reports.db` (retired in 2024, kept for reference)

Databases under `archived_databases/` are historical copies and need no review.
"""

GITIGNORE = """\
# SQLite sidecars and scratch databases never belong in Git
*.db-wal
*.db-shm
*.db-journal
databases/scratch*.db
__pycache__/
"""

#: Files around the databases, as a real repository has them (names with spaces,
#: non-ASCII letters, a non-breaking hyphen U+2011).
EXTRA_FILES = {
    "README.md": "# Platform\n\nScripts, documentation and the databases they use.\n",
    "documentation/Übersicht der Datenbanken.md": "# Übersicht\n\nSiehe CONSOLIDATED_DATABASE_LIST.md.\n",
    "documentation/re\u2011indexing guide.md": "# Re\u2011indexing\n\nRun the nightly job.\n",
    "config/settings.json": '{"environment": "production", "retries": 3}\n',
    "scripts/nightly job.py": "print('nightly')\n",
}


@dataclass
class DemoRepository:
    """Where the demo repository's pieces are."""

    root: Path
    database_folders: list[Path] = field(default_factory=list)
    lfs_pointers: list[Path] = field(default_factory=list)
    wal_with_rows: Path | None = None
    stray: list[Path] = field(default_factory=list)  # databases outside the database folders
    database_list: Path | None = None

    @property
    def databases(self) -> Path:
        return self.root / "databases"


def _git(root: Path, *args: str) -> None:
    environment = {**os.environ, "GIT_AUTHOR_NAME": "assetdb demo", "GIT_AUTHOR_EMAIL": "demo@example.invalid",
                   "GIT_COMMITTER_NAME": "assetdb demo", "GIT_COMMITTER_EMAIL": "demo@example.invalid"}
    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise BadInput(f"git {' '.join(args)} failed in {root}: {result.stderr.strip()}")


def _small_database(path: Path, table: str, rows: int, seed: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{SEED}:{seed}")
    connection = sqlite3.connect(path)
    try:
        connection.execute(f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY, name TEXT, value REAL, payload BLOB)')
        connection.executemany(
            f'INSERT INTO "{table}" (name, value, payload) VALUES (?, ?, ?)',
            [(f"{seed}-{n}", round(rng.uniform(0, 100), 3), rng.randbytes(rng.randrange(0, 64))) for n in range(rows)],
        )
        connection.commit()
    finally:
        connection.close()
    return path


def write_wal_with_pending_rows(path: Path, rows: int = 3) -> Path:
    """A WAL database whose newest committed rows live only in its ``-wal``.

    A child process commits them with checkpoints off and exits without closing, as a
    running (or crashed) application leaves its database.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    code = textwrap.dedent(
        """
        import os, sqlite3, sys
        connection = sqlite3.connect(sys.argv[1])
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, label TEXT)")
        connection.commit()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA wal_autocheckpoint = 0")
        connection.executemany("INSERT INTO items (label) VALUES (?)",
                               [(f"pending {n}",) for n in range(int(sys.argv[2]))])
        connection.commit()
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(rows)], check=True)
    return path


def lfs_pointer(path: Path, size: int) -> Path:
    """A Git LFS pointer file standing where a ``size``-byte database should be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    oid = hashlib.sha256(path.name.encode()).hexdigest()
    path.write_text(LFS_POINTER.format(oid=oid, size=size), encoding="ascii")
    return path


def _binary(rng: random.Random, size: int, magic: bytes) -> bytes:
    return magic + rng.randbytes(max(0, size - len(magic)))


def write_files(root: Path, count: int, seed: str = "files") -> list[Path]:
    """``count`` more files of every kind (Python, Markdown, JSON, PDF, PNG, text), spread
    over folders, some with spaces and non-ASCII letters in their names."""
    rng = random.Random(f"{SEED}:{seed}")
    folders = ["src/app", "src/app/jobs", "docs/guides", "docs/api", "assets/images", "reports/2025",
               "notebooks", "tools/ci", "data/exports", "docs/Überblick"]
    kinds = [
        (".py", lambda n: f"def task_{n}():\n    return {n}\n".encode()),
        (".md", lambda n: f"# Note {n}\n\n{' '.join(rng.choice(('alpha', 'beta', 'gamma', 'delta')) for _ in range(40))}\n".encode()),
        (".json", lambda n: f'{{"id": {n}, "ok": true}}\n'.encode()),
        (".pdf", lambda n: _binary(rng, rng.randrange(300, 6000), b"%PDF-1.4\n")),
        (".png", lambda n: _binary(rng, rng.randrange(100, 4000), b"\x89PNG\r\n\x1a\n")),
        (".txt", lambda n: f"line {n}\n".encode() * rng.randrange(1, 30)),
    ]
    written = []
    for number in range(count):
        suffix, content = kinds[number % len(kinds)]
        folder = folders[number % len(folders)]
        name = f"item {number}{suffix}" if number % 7 == 0 else f"item_{number}{suffix}"
        path = root / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content(number))
        written.append(path)
    return written


def build_demo_repository(root: Path, extra_files: int = 0) -> DemoRepository:
    """Write the demo repository into ``root`` (which must not exist or be empty), and commit it."""
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise BadInput(f"{root}: already exists and is not empty; the demo repository is only written into a new folder")
    if shutil.which("git") is None:
        raise BadInput("the demo repository needs git, which is not installed")
    root.mkdir(parents=True, exist_ok=True)
    repo = DemoRepository(root)
    _git(root, "init", "--quiet", "--initial-branch=main")
    (root / ".gitignore").write_text(GITIGNORE, encoding="utf-8")

    databases = root / "databases"
    build_legacy_set(databases)
    repo.lfs_pointers.append(lfs_pointer(databases / "telemetry_2023.db", 48_213_504))
    (databases / "empty.db").touch()
    _small_database(databases / "scratch_tracked.db", "scratch", 5, "scratch")  # ignored by name, tracked anyway
    repo.wal_with_rows = write_wal_with_pending_rows(databases / "queue.db", rows=4)

    archived = root / "archived_databases"
    archived.mkdir()
    shutil.copyfile(databases / "monitoring.db", archived / "monitoring.db")  # a copy, under the same name
    _small_database(archived / "reports_2024.db", "reports", 40, "reports")
    deployment = root / "deployment" / "production" / "databases"
    _small_database(deployment / "app_state.db", "state", 25, "state")
    repo.database_folders = [databases, archived, deployment]
    repo.stray.append(_small_database(root / "analytics.db", "events", 12, "stray"))

    repo.database_list = root / "documentation" / "CONSOLIDATED_DATABASE_LIST.md"
    repo.database_list.parent.mkdir(parents=True, exist_ok=True)
    repo.database_list.write_text(HAND_WRITTEN_LIST, encoding="utf-8")
    for relative, text in {**DEMO_WORKSPACE, **EXTRA_FILES}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        os.utime(path, (BASE_TIME.timestamp(), BASE_TIME.timestamp()))
    (root / "assets").mkdir(exist_ok=True)
    (root / "assets" / "logo.png").write_bytes(_binary(random.Random(SEED), 2048, b"\x89PNG\r\n\x1a\n"))
    os.symlink("setup.md", root / "docs" / "latest.md")
    write_files(root, extra_files)

    _git(root, "add", "--all")
    _git(root, "add", "--force", "databases/scratch_tracked.db")
    _git(root, "commit", "--quiet", "-m", "The legacy repository, as found")
    return repo
