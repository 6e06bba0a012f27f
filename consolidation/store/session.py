"""Opening the consolidated database for writing, one transaction at a time.

Every change to an assetdb database goes through a write transaction started with
``BEGIN IMMEDIATE`` (so a held lock is reported at once, as exit 3) and rolled back on
any error; only files that are assetdb databases are opened for writing at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import Aborted, BadInput
from ..sqlite import read_header
from ..sqlite.locks import LOCK_TIMEOUT_SECONDS
from ..sqlite.readonly import uri_for
from .oplog import Operation
from .schema import APPLICATION_ID, SCHEMA_VERSION


def begin_write(connection: sqlite3.Connection, path: Path) -> None:
    """Start a write transaction, translating a held lock into ``Aborted`` (exit 3)."""
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise Aborted(f"{path}: locked by another process; nothing was changed") from None
        raise BadInput(f"{path}: cannot write ({error})") from None


@contextmanager
def write_transaction(connection: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error."""
    begin_write(connection, path)
    try:
        yield connection
    except BaseException:
        if connection.in_transaction:  # SQLite may already have rolled back (a full disk, a full cap)
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def connect_for_write(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode: callers open their own explicit transactions.

    Opened by URI, so that sources can be ATTACHed by URI (read-only, immutable).
    """
    try:
        return sqlite3.connect(uri_for(path), uri=True, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None)
    except sqlite3.Error as error:
        raise BadInput(f"{path}: cannot open for writing ({error})") from None


@contextmanager
def writing(path: Path | str) -> Iterator[sqlite3.Connection]:
    """An assetdb database opened for one write transaction, and closed after it."""
    path = Path(path)
    connection = connect_assetdb(path)
    try:
        with write_transaction(connection, path):
            yield connection
    finally:
        connection.close()


def record_operation(database: Path | str, operation: Operation, status: str = "ok") -> int:
    """Log one finished operation in ``database`` (its own transaction)."""
    with writing(database) as connection:
        return operation.record(connection, status)


def connect_assetdb(path: Path | str) -> sqlite3.Connection:
    """Open an existing assetdb database for writing, refusing anything else."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such database (create it with: assetdb init {path})")
    read_header(path)
    connection = connect_for_write(path)
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as error:
        connection.close()
        raise BadInput(f"{path}: not a usable SQLite database ({error})") from None
    if application_id != APPLICATION_ID or not 1 <= version <= SCHEMA_VERSION:
        connection.close()
        raise BadInput(f"{path}: not an assetdb database (create one with: assetdb init PATH)")
    return connection
