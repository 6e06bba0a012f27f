"""Deterministic demo legacy set: six small SQLite databases with a real repository's mess.

Why this exists: pytest-assetdb consolidates a repository's legacy SQLite databases, and a
new user needs something to run it on before pointing it at their own files. The
repository commits this module's output under ``databases/``, and ``assetdb demo`` builds
a fresh copy of it to run every phase on.

The set is modelled on the gh_COPILOT databases the product was written for:

* ``enterprise_metadata`` in four files and ``integration_tracking`` in three, with
  drifting schemas (a key/value variant and an AUTOINCREMENT variant, so
  ``sqlite_sequence`` exists; an extra ``last_error`` column in one ``integration_tracking``);
* ``regeneration_patterns`` shared by three files and ``regeneration_templates`` by two,
  whose rows overlap as identical duplicates (same key, same values) and as colliding keys
  (same key, different values), with a ``review_status`` column added in one file only;
* ``documentation.db``, whose ``documentation`` table holds the same content under several
  paths and backup copies (``docs/guide_backup.md``, ``README.md.bak``, ``backup/setup.md``,
  ``notes.md~``, ``docs/api_20250716_151622.md``);
* a templates database with ``${name}`` placeholders and a learning-patterns database;
* one file in WAL journal mode, ``sqlite_stat1`` from ANALYZE, an index and a view, NULLs,
  a BLOB column (NULL, empty and small binary values), REAL columns, mixed timestamp
  formats, and a table and columns whose names need quoting.

Everything derives from a fixed seed and fixed base dates, never from the clock, so the
committed set can be checked against the generator by logical content (schema and rows).
File bytes may still differ between SQLite versions, which is why the check is logical.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path

from ..errors import BadInput
from .knowledge import (
    build_documentation,
    build_learning_monitor,
    build_template_completion,
)
from .operational import build_analytics_collector, build_development, build_monitoring
from .rows import DEMO_DATABASES, PAGE_SIZE

WAL_DATABASE = "learning_monitor.db"
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")

# --- the databases -------------------------------------------------------------------------


DATABASE_BUILDERS: dict[str, Callable[[sqlite3.Connection], None]] = {
    "analytics_collector.db": build_analytics_collector,
    "development.db": build_development,
    "documentation.db": build_documentation,
    WAL_DATABASE: build_learning_monitor,
    "monitoring.db": build_monitoring,
    "template_completion.db": build_template_completion,
}
assert tuple(sorted(DATABASE_BUILDERS)) == DEMO_DATABASES


# --- writing -------------------------------------------------------------------------------


def build_legacy_set(directory: Path) -> list[Path]:
    """Write the demo legacy databases into `directory` (created if missing) and return their paths, sorted.

    Refuses with BadInput, before writing anything, when a target or a journal
    beside it already exists: the set is never overwritten, and a stray ``-wal`` next to
    a fresh file would be replayed into it on first open.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    targets = [directory / name for name in DEMO_DATABASES]
    for target in targets:
        for candidate in (target, *_sidecars(target)):
            if os.path.lexists(candidate):
                raise BadInput(
                    f"{candidate}: already exists; the demo set is only written into a clean directory"
                )
    for target in targets:
        _write_atomically(target, DATABASE_BUILDERS[target.name], wal=target.name == WAL_DATABASE)
    return targets


def _sidecars(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in SIDECAR_SUFFIXES]


def _write_atomically(target: Path, build: Callable[[sqlite3.Connection], None], *, wal: bool) -> None:
    """Build under a temporary name beside `target`, then rename: `target` is complete or absent."""
    temporary = _create_temporary_beside(target)
    try:
        _populate(temporary, build, wal=wal)
        if wal:
            _check_closed_wal_database(temporary)
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    except BaseException:
        for leftover in (temporary, *_sidecars(temporary)):
            leftover.unlink(missing_ok=True)
        raise


def _create_temporary_beside(target: Path) -> Path:
    """An empty new file next to `target`, created like any other file (umask applies, unlike mkstemp's 0600)."""
    while True:
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate


def _populate(path: Path, build: Callable[[sqlite3.Connection], None], *, wal: bool) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # page_size must be set before the first table, and before WAL mode fixes it.
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        if wal:
            (journal_mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if journal_mode != "wal":
                raise RuntimeError(f"{path}: SQLite refused WAL mode (got {journal_mode!r})")
        conn.execute("BEGIN")
        build(conn)
        conn.execute("COMMIT")
        conn.execute("VACUUM")
        if wal:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _check_closed_wal_database(path: Path) -> None:
    """A WAL file must reach its final name with no -wal/-shm beside it and WAL in its header."""
    leftovers = [sidecar.name for sidecar in _sidecars(path) if sidecar.exists()]
    if leftovers:
        raise RuntimeError(f"{path}: closing did not checkpoint and remove {', '.join(leftovers)}")
    with path.open("rb") as database:
        header = database.read(20)
    if header[18:20] != b"\x02\x02":
        raise RuntimeError(f"{path}: header read/write versions are {tuple(header[18:20])}, expected WAL (2, 2)")


