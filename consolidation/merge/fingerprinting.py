"""How a run reads its sources: each by one snapshot, shared by its merge and its fingerprint,
and the new sources' fingerprints read on a second core, ahead of the merge.

The ledger keeps each source table's fingerprint (row count and SHA-256 of every row,
read from the source itself), the independent record that proves an archived source is
still whole. Taking it is a full read of the source, and costs about what the merge of
the source does; both are spent mostly inside SQLite with the GIL released. Read source
by source beside each one's write, the merge waited for it at every source and the
reading core idled through every commit. So one thread reads the fingerprints of the
run's new sources in the run's order, at most AHEAD sources ahead of the merge, and each
source's write takes its own when the write is done, before its transaction commits. (A
source seen before is fingerprinted first, in line: a file whose bytes changed but whose
rows did not is recognised as unchanged without a write.)

Both reads of a source go through the one URI :func:`readonly_uri` gives it (a private
copy for a file whose ``-wal`` holds rows), open until the source is committed or the run
ends; and its files must lie on disk as they did when it was opened once both are read (a
file read in place is read at two moments, and its hash is taken after its rows), or its
write is refused: a fingerprint or a hash of other rows than those merged would prove the
wrong file, or take a changed one for unchanged.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import ExitStack
from pathlib import Path

from ..errors import Aborted, BadInput
from ..size import sidecar_paths
from ..sqlite import SourceDescription, describe_source, file_sha256, readonly_uri
from ..sqlite.describe import fingerprint_source, source_fingerprint

#: SQLite virtual-machine steps between two looks at whether the read was cancelled.
CANCEL_CHECK_STEPS = 10_000
#: Sources the fingerprints may be read ahead of the merge: each holds its snapshot (a
#: copy, for a file whose sidecars hold rows) until it is committed.
AHEAD = 4


def files_state(path: Path) -> tuple:
    """A source's files as they lie on disk (each one's name, size and mtime): the same when
    it was opened and once its merge and fingerprint are read, the rows both read and the
    bytes hashed are one state of the file."""
    files = [(file.name, info.st_size, info.st_mtime_ns) for file in (path, *sidecar_paths(path))
             for info in (file.stat(),)]
    return tuple(files[:1] + [side for side in files[1:] if side[1] > 0])  # an empty -wal a reader makes is nothing


class SourceReads:
    """The sources of one run: the URI each is read by, and the fingerprints of the new ones
    (``new``, in the order the run migrates them), read on a thread of their own."""

    def __init__(self, new: list[Path]):
        self._new = list(new)
        self._lock = threading.Lock()
        self._opening: dict[Path, threading.Lock] = {}
        self._open: dict[Path, tuple[ExitStack, str]] = {}
        self._state_when_opened: dict[Path, tuple] = {}
        self._read: dict[Path, tuple[dict[str, str], str] | BaseException] = {}
        self._taken: set[Path] = set()  # the sources whose write has asked for its fingerprint
        self._stopped = False  # the thread is done, whether or not it read them all
        self._progress = threading.Condition(self._lock)
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._read_ahead, name="assetdb-fingerprints", daemon=True)
        if self._new:
            self._thread.start()

    def __enter__(self) -> SourceReads:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def uri(self, path: Path) -> str:
        """The URI ``path`` is read by in this run, opened at the first call (refused as
        :func:`readonly_uri` refuses; a refusal is not kept: the next call tries again)."""
        with self._lock:
            opening = self._opening.setdefault(path, threading.Lock())
        with opening:  # one source's snapshot being copied holds up no other source's
            if path not in self._open:
                try:
                    state = files_state(path) if path.is_file() else None  # else readonly_uri says what it is
                    stack = ExitStack()
                    uri = stack.enter_context(readonly_uri(path, allow_empty=True, attach=True))
                except OSError as error:  # a source made unreadable since it was judged (chmod 000, say)
                    raise BadInput(f"{path}: cannot be read ({error.strerror or error}); nothing of it was "
                                   "written") from None
                self._open[path] = (stack, uri)
                self._state_when_opened[path] = state
            return self._open[path][1]

    def finished(self, path: Path) -> None:
        """``path`` is committed (or found unchanged): its snapshot goes."""
        opened = self._open.pop(path, None)
        if opened is not None:
            opened[0].close()

    def fingerprints(self, path: Path, description: SourceDescription) -> tuple[dict[str, str], str, str]:
        """A new source's tables' fingerprints, its own (from ``description``, the one its
        merge read) and its files' SHA-256, once read; what stopped the read is raised here.
        (A source migrated before, in an earlier fingerprint format, is read here, in line.)"""
        if path not in self._new:
            found: tuple[dict[str, str], str] | BaseException = self._fingerprint(path)
        else:
            with self._progress:
                self._taken.add(path)
                self._progress.notify_all()
                self._progress.wait_for(lambda: path in self._read or self._stopped)
                found = self._read.get(path) or Aborted(f"{path}: its fingerprint was not read; rolled back")
        if isinstance(found, BaseException):
            raise found
        self.require_as_opened(path)
        tables, file_hash = found
        merged = {table.name for table in description.tables + description.virtual_tables}
        if set(tables) != merged:  # both read one snapshot: never, unless a reader is wrong
            raise Aborted(f"{path}: its fingerprint was read of other tables than its merge; rolled back")
        return tables, source_fingerprint(description, tables), file_hash

    def require_as_opened(self, path: Path) -> None:
        """Refuse ``path``'s write unless its files lie on disk as they did when it was opened
        (its merge done, its fingerprint and hash read: all of one state of the file)."""
        if files_state(path) != self._state_when_opened.get(path):
            raise Aborted(f"{path}: changed while it was being migrated (another process wrote to it); rolled back — "
                          "run the same command again once it is idle")

    def _read_ahead(self) -> None:
        try:
            for index, path in enumerate(self._new):
                with self._progress:
                    self._progress.wait_for(lambda: self._cancelled.is_set() or index < len(self._taken) + AHEAD)
                if self._cancelled.is_set():
                    return
                try:
                    found: tuple[dict[str, str], str] | BaseException = self._fingerprint(path)
                except Exception as error:  # noqa: BLE001 - raised by fingerprints(), in the merge's thread
                    found = error
                with self._progress:
                    self._read[path] = found
                    self._progress.notify_all()
        finally:
            with self._progress:
                self._stopped = True
                self._progress.notify_all()

    def _fingerprint(self, path: Path) -> tuple[dict[str, str], str]:
        uri = self.uri(path)
        connection = sqlite3.connect(uri, uri=True)
        try:
            # Every statement looks at the flag as it runs, so a cancel is never lost
            # between two statements (an interrupt is, when none is running).
            connection.set_progress_handler(self._cancelled.is_set, CANCEL_CHECK_STEPS)
            tables, _ = fingerprint_source(connection, "main", describe_source(connection, "main", uri))
        finally:
            connection.close()
        return tables, file_sha256(path, *sidecar_paths(path))

    def close(self) -> None:
        """Stop reading (the run failed, or is done), wait for the thread, close every URI."""
        self._cancelled.set()
        with self._progress:
            self._progress.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        for path in list(self._open):
            self.finished(path)
