"""One writer per consolidated set at a time, wherever it runs from.

A command that writes a set (sync, ingest, migrate, consolidate) decides what to write from
what it reads first (which assets exist, which sources are migrated), so two of them side
by side must not interleave even though SQLite serialises their transactions. The lock is
an ``flock`` on ``NAME.assetdb-lock`` *beside the database*: every process that writes the
file sees the same lock whatever its environment (a lock in ``$TMPDIR`` was two locks for
two ``TMPDIR``s), and the kernel releases it when its holder dies, so a kill never leaves
it stuck. The file names its holder; the holder removes it when done, and a lock file left
by a killed holder is removed by the next writer (nobody holds it any more).

Creating a new database happens under the same lock, so two writers racing to create it
make it once. The lock is re-entrant within a process: a sync that ingests takes it once.
A writer that meets another waits up to its timeout, then stops with exit 3 naming who holds it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import BadInput
from ..faults import NO_SPACE_ERRNOS, NotWritable, no_space
from ..globs import resolved
from ..leftovers import sweep_folder, sweep_super_journals
from ..sqlite.locks import DatabaseLocked
from .oplog import utc_now
from .shard_files import discard_unregistered_shards

LOCK_SUFFIX = ".assetdb-lock"
#: How long a writer waits for another by default (the command line's ``--lock-timeout``).
DEFAULT_LOCK_TIMEOUT = 30.0
_POLL_SECONDS = 0.05

#: Locks this process holds: lock path -> depth (the lock is re-entrant per process).
_held: dict[str, int] = {}


def lock_path(database: Path | str) -> Path:
    """``enterprise_assets.db`` -> ``enterprise_assets.db.assetdb-lock`` beside the file itself:
    a database reached through a symlink and by its real path has one lock."""
    database = resolved(database)
    return database.with_name(database.name + LOCK_SUFFIX)


def _holder(descriptor: int) -> str:
    return os.pread(descriptor, 200, 0).decode(errors="replace").strip() or "another process"


def _open_locked(path: Path, database: Path, timeout: float) -> int:
    """A descriptor of ``path`` holding its ``flock``, the file still the one at ``path``
    (a holder that removed it as we opened it leaves us a dead inode: open again)."""
    import fcntl  # POSIX only: imported here so the rest of the tool loads everywhere

    if not path.parent.is_dir():
        raise BadInput(f"{path.parent}: no such directory")
    deadline = time.monotonic() + timeout
    while True:
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise NotWritable(f"{path}: cannot create the lock beside {database.name} ({error.strerror.lower()}); "
                              "nothing was changed") from None
        try:
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise DatabaseLocked(f"{database}: another writer holds it ({_holder(descriptor)}; lock "
                                      f"{path.name}); waited {timeout:g} s, nothing was changed") from None
                    time.sleep(_POLL_SECONDS)
            try:
                same = os.fstat(descriptor).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return descriptor
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)


@contextmanager
def database_lock(database: Path | str, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the writer lock of ``database`` (waiting up to ``timeout`` seconds), then sweep
    the database's folder of what killed runs left: temporaries whose owner is gone,
    super-journals no journal names, shards no committed write registered."""
    import fcntl  # POSIX only, as in _open_locked

    path = lock_path(database)
    key = str(path)
    if _held.get(key):
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    descriptor = _open_locked(path, Path(database), timeout)
    _held[key] = 1
    try:
        try:
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"pid {os.getpid()} on {socket.gethostname()} since {utc_now()}".encode(), 0)
        except OSError as error:  # a full disk refuses even the holder's line: name it, not "a file"
            if error.errno in NO_SPACE_ERRNOS:
                raise no_space(Path(database), "taking the writer lock") from None
            raise
        sweep_folder(path.parent)
        sweep_super_journals(Path(database))
        discard_unregistered_shards(Path(database))
        yield
    finally:
        del _held[key]
        sweep_super_journals(Path(database))  # one whose journals this run replayed or discarded
        try:
            os.unlink(path)  # removed while still held: whoever opens it next makes a new one
        except OSError:
            pass
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)

