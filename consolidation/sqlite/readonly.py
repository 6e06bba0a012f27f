"""Open a SQLite database for reading without changing a byte of it or its folder.

Every read-only path of the project (inventory, size checks, backups, the pytest gate)
opens databases through :func:`open_readonly`. A plain ``sqlite3.connect`` is not
enough: even ``mode=ro`` on a WAL-mode file creates ``-wal`` and ``-shm`` files beside
it, which dirties ``git status`` and can fail on a read-only checkout.

The rule used here:

* No sidecar holds data: open with ``immutable=1``. SQLite then takes no locks and
  creates no file, and reads exactly the bytes on disk.
* A ``-wal`` or ``-journal`` holds data: committed rows may live only in the WAL, and a
  hot journal must be rolled back before the file is consistent. Copy the database and
  its sidecars into a private temporary folder and open the copy normally, so SQLite
  recovers there. The original is never opened by SQLite at all.
* Another process holds a write lock: wait for it to commit, up to a bounded time
  (:func:`set_reader_wait`; the gate's ``--assetdb-lock-timeout``), then read the state it
  committed; refuse with :class:`DatabaseLocked` only when it is still writing by then,
  rather than read a file that is changing under us.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from ..errors import BadInput
from ..leftovers import private_folder
from ..size import sidecar_paths
from .header import NotADatabase, check_not_truncated, read_header
from .locks import LOCK_TIMEOUT_SECONDS, DatabaseLocked, writer_lock_holder
from .recreate import transcode
from .signed_zero import tell_the_sign_of_zero

SNAPSHOT_ATTEMPTS = 3
#: Seconds a reader waits for a writer to commit (:func:`set_reader_wait`).
_READER_WAIT = {"seconds": LOCK_TIMEOUT_SECONDS}
#: Files whose writer outlasted the whole wait once: this process does not wait for them
#: again (a gate reading one set for each of its files would wait once per file) until the
#: wait is set anew.
_GAVE_UP: set[str] = set()
_POLL_SECONDS = 0.05


def set_reader_wait(seconds: float) -> float:
    """How long every read-only open in this process waits for a committing writer;
    returns the wait it replaces."""
    previous, _READER_WAIT["seconds"] = _READER_WAIT["seconds"], max(0.0, float(seconds))
    _GAVE_UP.clear()
    return previous


def _wait_for_writers(path: Path) -> None:
    """Return once no other process is writing ``path``; after the reader wait, refuse (at
    once, for a file whose writer outlasted the wait before)."""
    key = os.path.realpath(path)
    deadline = time.monotonic() + (0 if key in _GAVE_UP else _READER_WAIT["seconds"])
    while holder := writer_lock_holder(path):
        if time.monotonic() >= deadline:
            _GAVE_UP.add(key)
            raise DatabaseLocked(f"{path}: locked by another writer (pid {holder}), still writing after "
                                 f"{_READER_WAIT['seconds']:g} s; retry when it is done")
        time.sleep(_POLL_SECONDS)


def _file_state(paths: list[Path]) -> list[tuple[int, int]]:
    return [(os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths]


def uri_for(path: Path, immutable: bool = False) -> str:
    """A ``file:`` URI for ``path`` with every special character escaped: from the path's own
    bytes, so a name that is not UTF-8 (a byte a file system allows) opens as well."""
    return "file:" + quote(os.fsencode(Path(path).resolve())) + ("?mode=ro&immutable=1" if immutable else "")


@contextmanager
def _snapshot(path: Path, sidecars: list[Path]) -> Iterator[str]:
    """Copy ``path`` and its sidecars to a private folder, so SQLite may recover the copy."""
    workdir = private_folder("snapshot")
    try:
        copy = workdir / "snapshot.db"
        for _ in range(SNAPSHOT_ATTEMPTS):
            _wait_for_writers(path)
            sidecars = [side for side in sidecars if side.exists()]
            before = _file_state([path, *sidecars])
            shutil.copyfile(path, copy)
            for side in sidecars:
                shutil.copyfile(side, f"{copy}{side.name[len(path.name):]}")
            if _file_state([path, *sidecars]) == before:
                break
        else:
            raise DatabaseLocked(f"{path}: kept changing while being read; retry when it is idle")
        yield uri_for(copy)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def readonly_uri(path: Path | str, allow_empty: bool = False, attach: bool = False) -> Iterator[str]:
    """A URI that reads ``path``'s committed content without touching it.

    Raises :class:`EmptyDatabase` (unless ``allow_empty``: SQLite reads a zero-byte file
    as an empty database), :class:`NotADatabase` or :class:`DatabaseLocked`; a missing
    path is :class:`~consolidation.errors.BadInput`. With ``attach``, the URI is for
    ATTACH to a UTF-8 connection, which SQLite refuses for a database in another text
    encoding: a UTF-16 file is then read through a UTF-8 copy made for the purpose (its
    text converted as text; rowids and every other value as they are).
    """
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such database file")
    path = Path(os.path.realpath(path))  # a link's database keeps its -wal beside itself, not beside the link
    live_sidecars = [side for side in sidecar_paths(path) if side.stat().st_size > 0]
    header = None
    if not (allow_empty and os.stat(path).st_size == 0):
        header = read_header(path)
        check_not_truncated(path, header)
    _wait_for_writers(path)
    if attach and header is not None and header.text_encoding != 1:
        with _utf8_copy(path) as uri:
            yield uri
    elif live_sidecars:
        with _snapshot(path, live_sidecars) as uri:
            yield uri
    else:
        yield uri_for(path, immutable=True)


@contextmanager
def _utf8_copy(path: Path) -> Iterator[str]:
    """A private UTF-8 copy of a database in another text encoding."""
    workdir = private_folder("utf8")
    try:
        copy = workdir / "utf8.db"
        out = sqlite3.connect(copy, isolation_level=None)
        try:
            with open_readonly(path) as source:
                transcode(source, out, "UTF-8")
        finally:
            out.close()
        yield uri_for(copy)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def open_readonly(path: Path | str) -> Iterator[sqlite3.Connection]:
    """Yield a read-only connection to ``path`` that leaves the file and its folder as they were."""
    with readonly_uri(path) as uri:
        connection = sqlite3.connect(uri, uri=True)
        try:
            connection.execute("PRAGMA query_only = 1")
            try:
                connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            except sqlite3.DatabaseError as error:
                raise NotADatabase(f"{path}: unreadable database ({error})") from None
            tell_the_sign_of_zero(connection)  # the live proof compares rows
            yield connection
        finally:
            connection.close()
