"""A new source's fingerprint (and its file's SHA-256), taken on a second core while the
merge moves its rows.

The ledger keeps each source table's fingerprint (row count and SHA-256 of every row,
read from the source itself), the independent record that proves an archived source is
still whole. Taking it is a full read of the source, mostly spent outside SQLite hashing
what it returns; the merge is a full read too, spent inside SQLite with the GIL released.
So for a source migrated for the first time the fingerprint is read on its own
read-only connection in a thread, alongside the merge, and recorded before the source's
transaction commits. (A source seen before is fingerprinted first, in line: a file whose
bytes changed but whose rows did not is recognised as unchanged without a write.)
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ..sqlite import SourceDescription, file_sha256
from ..sqlite.describe import fingerprint_source

#: SQLite virtual-machine steps between two looks at whether the read was cancelled.
CANCEL_CHECK_STEPS = 10_000


class BackgroundFingerprint:
    """``fingerprint_source`` of the database at ``uri``, and the SHA-256 of its ``files``
    (the database and its sidecars), computed in a thread."""

    def __init__(self, uri: str, description: SourceDescription, files: tuple[Path, ...]):
        self._uri = uri
        self._description = description
        self._files = files
        self._result: tuple[dict[str, str], str, str] | None = None
        self._error: BaseException | None = None
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="assetdb-fingerprint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self._uri, uri=True)
            try:
                # Every statement looks at the flag as it runs, so a cancel is never lost
                # between two statements (an interrupt is, when none is running).
                connection.set_progress_handler(self._cancelled.is_set, CANCEL_CHECK_STEPS)
                tables, fingerprint = fingerprint_source(connection, "main", self._description)
                self._result = (tables, fingerprint, file_sha256(*self._files))
            finally:
                connection.close()
        except Exception as error:  # noqa: BLE001 - re-raised by result(), in the caller's thread
            self._error = error

    def result(self) -> tuple[dict[str, str], str, str]:
        """Each table's fingerprint, the source's, and its files' SHA-256, once the thread
        is done."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def cancel(self) -> None:
        """Stop reading (the migration failed, or is done) and wait for the thread to end."""
        self._cancelled.set()
        self._thread.join()
