"""Creating or completing the unified schema: idempotent, atomic, under the cap.

Running it on a complete database changes no byte; on one missing tables it recreates
them and logs a repair; on anything that is not ours it refuses. A new database is
built under a temporary name and renamed into place, so a kill never leaves a half-made
(or zero-byte) file under the real name. Every run that writes holds the database's
writer lock, so two runs creating the same database make it once, and an upgrade never
changes the schema under another writer.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..errors import Aborted, AssetdbError, BadInput
from ..leftovers import temporary_beside
from ..size import format_size
from ..sqlite import EmptyDatabase, open_readonly, read_header
from ..sqlite.classify import refuse_broken_symlink
from .identity import SHARD, newer_schema, role
from .lock import DEFAULT_LOCK_TIMEOUT, database_lock
from .oplog import Operation, allocated_size
from .provenance import reaches_next_link
from .schema import (
    APPLICATION_ID,
    COMPATIBLE_SINCE,
    SCHEMA_STATEMENTS,
    SCHEMA_VERSION,
    UPGRADES,
    missing_tables,
)
from .session import connect_for_write, write_transaction


@dataclass(frozen=True)
class InitResult:
    """What ``initialize`` did: ``action`` is ``created``, ``upgraded``, ``repaired`` or ``unchanged``."""

    path: Path
    action: str
    size: int


def _user_objects(connection: sqlite3.Connection) -> int:
    return connection.execute(
        "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    ).fetchone()[0]


def _classify_target(connection: sqlite3.Connection, path: Path) -> str:
    """``fresh``, ``current`` or raise: never initialize over somebody else's database."""
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if application_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise newer_schema(path, version)
        if version < 1:
            raise BadInput(f"{path}: assetdb database with invalid schema version {version}")
        return "current"
    if application_id == 0 and version == 0 and _user_objects(connection) == 0:
        return "fresh"
    raise BadInput(
        f"{path}: is another application's database ({_user_objects(connection)} schema "
        f"objects, application_id {application_id}); refusing to initialize over it"
    )


def initialize(path: Path | str, limit: int, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> InitResult:
    """Create or complete the unified schema in ``path``; a no-op when it is complete.

    Refuses (``BadInput``) a file that is not SQLite or is another application's
    database, and rolls back (``Aborted``) if the result would exceed ``limit`` bytes.
    A new database is built under a temporary name and renamed into place, so a kill
    can never leave a half-made (or zero-byte) database under its real name. Whatever it
    writes, it writes under the database's writer lock, waiting up to ``lock_timeout``
    seconds for another writer: a writer holding it reads the set as no other changes it.
    """
    path = Path(path)
    refuse_broken_symlink(path)
    if not path.exists():
        if not path.parent.is_dir():
            raise BadInput(f"{path.parent}: no such directory")
        with database_lock(path, lock_timeout):
            if not path.exists():  # nobody made it while we waited for the lock
                return _create(path, limit)
    if path.is_dir():
        raise BadInput(f"{path}: is a directory, not a database file")
    try:
        read_header(path)
    except EmptyDatabase:
        pass  # SQLite treats a zero-byte file as an empty database: ours to fill.
    if role(path) == SHARD:  # completed as a primary, it would take the set's schema, log and all
        raise BadInput(f"{path}: is a shard of a consolidated set, which holds rows only; give its primary file")
    complete = _already_complete(path)
    if complete is not None:  # nothing to write, so no lock (a complete set in a read-only folder is fine)
        return complete
    with database_lock(path, lock_timeout):  # an upgrade or repair never runs under another writer's reads
        return _initialize_at(path, path, limit)


def _already_complete(path: Path) -> InitResult | None:
    """``unchanged``, read and never written, when ``path`` is a complete set of this schema
    version; None when the initializer has something to do (or to say)."""
    try:
        with open_readonly(path) as connection:
            if (connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
                    and connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
                    and not missing_tables(connection)):
                return InitResult(path, "unchanged", allocated_size(connection))
    except (AssetdbError, sqlite3.DatabaseError):
        pass  # the initializer says what it is
    return None


def _create(path: Path, limit: int) -> InitResult:
    """Build a new database under a temporary name of ours, then rename it into place
    (under the writer lock: what earlier runs left is swept when it is taken)."""
    building = temporary_beside(path, "init")
    journal = Path(f"{building}-journal")
    legacy = path.with_name(f".{path.name}.initializing")  # what versions before 0.3 built under
    for leftover in (legacy, Path(f"{legacy}-journal")):
        if leftover.exists():
            leftover.unlink()
    try:
        result = _initialize_at(building, path, limit)
        os.replace(building, path)
    finally:
        for leftover in (building, journal):
            try:
                leftover.unlink(missing_ok=True)
            except OSError:
                pass  # could not be made either (a read-only folder): nothing to remove
    return result


def _initialize_at(file: Path, path: Path, limit: int) -> InitResult:
    """Initialize ``file``, naming ``path`` in messages and the log."""
    connection = connect_for_write(file)
    try:
        return _initialize(connection, path, limit)
    finally:
        connection.close()


def _upgrade(connection: sqlite3.Connection, path: Path, version: int) -> None:
    """Bring a file of an older schema version up to this one, step by step, in the
    initializer's transaction (tables a step changes that the file lacks are made whole
    by the schema statements after it)."""
    present = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    if version == 2 and _overlapping_links(connection):
        raise BadInput(
            f"{path}: its provenance links overlap (a development build of schema version 2 linked the rows of "
            "tables whose rowids do not follow their keys, such as INTEGER PRIMARY KEY DESC, wrongly), so it "
            "cannot be upgraded in place; migrate its sources into a new consolidated file; nothing was written"
        )
    for step in range(version + 1, SCHEMA_VERSION + 1):
        for table, statements in UPGRADES[step]:
            if table in present:
                for statement in statements:
                    connection.execute(statement)


def _overlapping_links(connection: sqlite3.Connection) -> int:
    """Links of a source table that reach into the next one's rows (one link each counted)."""
    return connection.execute(
        f"SELECT count(*) FROM main.migration_row_links AS l WHERE {reaches_next_link('l')}"
    ).fetchone()[0]


def _initialize(connection: sqlite3.Connection, path: Path, limit: int) -> InitResult:
    with write_transaction(connection, path):
        try:
            state = _classify_target(connection, path)
        except sqlite3.DatabaseError as error:
            raise BadInput(f"{path}: not a usable SQLite database ({error})") from None
        missing = missing_tables(connection)
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if state == "current" and not missing and version == SCHEMA_VERSION:
            return InitResult(path, "unchanged", allocated_size(connection))
        upgraded_from = version if state == "current" and version < SCHEMA_VERSION else None
        if upgraded_from is not None:
            _upgrade(connection, path, upgraded_from)
            missing = missing_tables(connection)  # what the upgrade made is not a repair
        for statement in SCHEMA_STATEMENTS:
            connection.execute(statement)
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        action = "created" if state == "fresh" else "upgraded" if upgraded_from is not None and not missing else "repaired"
        Operation(
            "init",
            subject=path.name,
            counts={"tables_created": len(missing)},
            details={"action": action, "schema_version": SCHEMA_VERSION, "created": missing,
                     "upgraded_from": upgraded_from},
        ).record(connection, "ok")
        size = allocated_size(connection)
        if size > limit:
            # an upgrade copies the provenance links once: a set this tool still writes may stay as it is
            stay = (f"; a version-{upgraded_from} set is read and written as it is, so it may stay so (or be "
                    "upgraded under a larger --limit)" if upgraded_from is not None and upgraded_from >= COMPATIBLE_SINCE
                    else "")
            raise Aborted(
                f"{path}: schema would make the file {format_size(size)} ({size} bytes), "
                f"over the cap of {format_size(limit)}; rolled back{stay}"
            )
        return InitResult(path, action, size)
