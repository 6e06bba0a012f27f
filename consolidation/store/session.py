"""The one way to write a consolidated set: a write session that owns the cap.

Every change to an assetdb database — a migration, an ingest or sync, a render, an
archive's bookkeeping, a log row — goes through :func:`write_session`: it opens only files
that are assetdb databases, attaches the shards a write may need, starts the transaction
with ``BEGIN IMMEDIATE`` (so a held lock is reported at once, as exit 3), makes SQLite
itself refuse any page past the cap (``max_page_count``, in every file), records the
files' sizes and commits, or rolls everything back. The cap is a required argument: no
write falls back to a default its caller did not choose.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import Aborted, BadInput
from ..faults import disk_is_full, no_space
from ..size import format_size
from ..sqlite import read_header
from ..sqlite.locks import LOCK_TIMEOUT_SECONDS, DatabaseLocked
from ..sqlite.readonly import uri_for
from ..sqlite.signed_zero import tell_the_sign_of_zero
from .identity import require_primary
from .lock import database_lock
from .oplog import Operation
from .shard_files import shard_path
from .shards import ShardSet


def begin_write(connection: sqlite3.Connection, path: Path) -> None:
    """Start a write transaction, translating a held lock into ``Aborted`` (exit 3)."""
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise DatabaseLocked(f"{path}: locked by another process; nothing was changed") from None
        if "full" in str(error):
            raise no_space(path, "starting a write") from None
        raise BadInput(f"{path}: cannot write ({error})") from None


@contextmanager
def write_transaction(connection: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error (for files that are not
    yet a consolidated set: the initializer's new file, a legacy file being cleaned)."""
    begin_write(connection, path)
    try:
        yield connection
        connection.execute("COMMIT")  # a full disk may refuse the commit itself
    except BaseException as error:
        if connection.in_transaction:  # SQLite may already have rolled back (a full disk, a full cap)
            connection.execute("ROLLBACK")
        settle_journals(connection)
        if isinstance(error, sqlite3.OperationalError) and "full" in str(error):
            raise no_space(path.parent, f"writing {path.name}") from None
        raise


def connect_for_write(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode: callers open their own explicit transactions.

    Opened by URI, so that sources can be ATTACHed by URI (read-only, immutable).
    """
    try:
        connection = sqlite3.connect(uri_for(path), uri=True, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None)
    except sqlite3.Error as error:
        raise BadInput(f"{path}: cannot open for writing ({error})") from None
    tell_the_sign_of_zero(connection)  # the merge compares rows
    return connection


def connect_assetdb(path: Path | str) -> sqlite3.Connection:
    """Open an existing assetdb database for writing, refusing anything else."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such database (create it with: assetdb init {path})")
    read_header(path)
    connection = connect_for_write(path)
    try:
        require_primary(connection, path)
    except sqlite3.DatabaseError as error:
        connection.close()
        raise BadInput(f"{path}: not a usable SQLite database ({error})") from None
    except BadInput:
        connection.close()
        raise
    _finish_interrupted_commits(connection, path)
    return connection


def _finish_interrupted_commits(connection: sqlite3.Connection, primary: Path) -> None:
    """A writer killed while committing across files can leave a shard's journal behind.
    SQLite rolls it back (or, its commit being done, drops it) on the first read through a
    connection that may write; readers only read, and a write that does not touch that
    shard never reads it. So each writer reads every shard that has one, first."""
    for (number,) in connection.execute("SELECT shard FROM main.shard_manifest WHERE shard > 1").fetchall():
        path = shard_path(primary, number)
        if path.is_file() and Path(f"{path}-journal").exists():
            shard = connect_for_write(path)
            try:
                shard.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            finally:
                shard.close()


@dataclass
class WriteSession:
    """An open write transaction on a consolidated set: its connection and shards."""

    database: Path
    limit: int
    connection: sqlite3.Connection
    shards: ShardSet


def full_error(session: WriteSession, what: str, needed: int = 0) -> Aborted:
    """What "database or disk is full" means here: the cap was met, or the file system is
    full — never reported as the cap, since the remedy differs. Asked before the rollback,
    while the files still show which one is full: the ledger filling the primary while rows
    go to shards has a refusal of its own (the remedy is a larger cap)."""
    if disk_is_full(session.database.parent):
        return no_space(session.database.parent, what, needed or None)
    shards = session.shards
    try:
        if shards.ledger_filled_primary():
            return shards.exhausted()
        full = [shard_path(session.database, n).name for n in shards.numbers if shards.at_hard_cap(n)]
    except sqlite3.Error:  # the transaction is gone with the files' state: say what is known
        full = []
    file = " and ".join(full) or "a file"
    return Aborted(f"{session.database}: {what} would take {file} past the cap of "
                   f"{format_size(session.limit)}; rolled back")


def settle_journals(connection: sqlite3.Connection) -> None:
    """Roll back, now, a journal a failed write left hot in any attached file.

    After an I/O error (a full disk above all) SQLite leaves the rollback journal in
    place for the next reader to replay; until then read-only opens of the file fail.
    The next read on the same connection replays it, so a failed writer reads once.
    """
    try:
        schemas = [row[1] for row in connection.execute("PRAGMA database_list")]
        for schema in schemas:
            connection.execute(f'SELECT count(*) FROM "{schema}".sqlite_schema').fetchone()
    except sqlite3.Error:
        pass  # the file is beyond replay from here; the next opener replays it


@contextmanager
def write_session(
    database: Path | str,
    limit: int,
    what: str = "writing",
    expected_bytes: int = 0,
    partition: bool = True,
    connection: sqlite3.Connection | None = None,
) -> Iterator[WriteSession]:
    """One transaction on ``database`` under ``limit`` bytes per file; ``what`` names the
    work in messages, ``expected_bytes`` about how much it may add (said when the disk is
    full). Shards beyond the last are made as the write fills it (``partition`` false:
    never). A ``connection`` already open on the database is used, and left open. Held
    under the set's writer lock (kept, if the command already holds it), so no other
    writer is ever between making a shard and registering it."""
    with database_lock(database), _session(Path(database), limit, what, expected_bytes, partition,
                                           connection) as session:
        yield session


@contextmanager
def _session(database: Path, limit: int, what: str, expected_bytes: int, partition: bool,
             connection: sqlite3.Connection | None) -> Iterator[WriteSession]:
    owned = connection is None
    connection = connection or connect_assetdb(database)
    shards = ShardSet(connection, database, limit, partition)
    session = WriteSession(database, limit, connection, shards)
    committed = False
    try:
        shards.open()
        begin_write(connection, database)
        try:
            shards.enforce_cap()
            yield session
            shards.record_sizes()
            connection.execute("COMMIT")
            committed = True
        except sqlite3.OperationalError as error:
            if "full" not in str(error):
                raise
            raise full_error(session, what, expected_bytes) from None
        finally:
            if not committed and connection.in_transaction:  # SQLite may have rolled back already
                connection.execute("ROLLBACK")
            if not committed:
                settle_journals(connection)
    finally:
        shards.close(committed)
        if owned:
            connection.close()


def record_operation(database: Path | str, operation: Operation, limit: int, status: str = "ok") -> int:
    """Log one finished operation in ``database`` (a session of its own)."""
    with write_session(database, limit, f"logging {operation.operation}") as session:
        return operation.record(session.connection, status)
