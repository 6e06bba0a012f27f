"""The files of a consolidated set beyond its primary: their names, whether a file is the
shard its manifest registers, and clearing what a failed or killed write left.

Shards are found by their number, never by a path a database holds: ``enterprise_assets.db``
is shard 1, ``enterprise_assets.002.db`` shard 2, and so on. A file under a shard's name is
read or written as that shard only when its marker says so (see :mod:`.identity`).
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from pathlib import Path

from ..errors import Aborted, AssetdbError
from ..leftovers import temporary_beside
from ..size import remove_database_file
from ..sqlite import open_readonly
from ..sqlite.introspect import quote_identifier as q
from ..sqlite.readonly import uri_for
from .identity import (
    SHARD,
    SHARD_MARKER,
    claims_assetdb,
    require_primary,
    role,
    shard_mismatch,
)
from .schema import APPLICATION_ID, CONTENT_STATEMENTS, SCHEMA_VERSION


def discard_new_set(primary: Path) -> None:
    """Remove a consolidated set made by a run that failed: the primary, its numbered
    shards and their journals. Only for a set that did not exist before that run."""
    for path in [primary, *primary.parent.glob(f"{primary.stem}.[0-9][0-9][0-9]{primary.suffix}")]:
        remove_database_file(path)


def existing_shard(primary: Path, number: int) -> Path:
    """Shard ``number``'s file, refused when it is missing or not that shard: nothing is
    written to a set missing one, and no other file is ever written as one."""
    path = shard_path(primary, number)
    problem = shard_problem(primary, number, path)
    if problem is not None:
        raise Aborted(f"{primary}: shard {number} ({path.name}) {problem}; restore it before writing to the set "
                      f"(assetdb restore BACKUP --to {path})")
    return path


def shard_problem(primary: Path, number: int, path: Path) -> str | None:
    """What is wrong with ``path`` as shard ``number`` of ``primary`` (None: nothing): missing,
    damaged (emptied, truncated, not SQLite), or another file (a legacy database, another
    shard's copy) under its name."""
    problem = not_a_file_of_the_folder(path)
    if problem is not None:
        return problem
    try:
        with open_readonly(path) as connection:
            return not_the_shard(connection, "main", primary, number)
    except AssetdbError as error:
        return damaged(error, path)


def not_a_file_of_the_folder(path: Path) -> str | None:
    """A shard must be a file in the primary's folder: missing, or a symlink (which git carries
    as a link, leaving the rows behind; one out of the folder is written through), it is not."""
    if path.is_symlink():
        target = os.readlink(path)
        return (f"is a symlink (to {target}), not a file in the set's folder (copy the file over the link: "
                f"cp --remove-destination {shlex.quote(target)} {shlex.quote(str(path))})")
    return None if path.is_file() else "is missing"


def not_the_shard(connection: sqlite3.Connection, schema: str, primary: Path, number: int) -> str | None:
    """What is wrong with the file open as ``schema`` as shard ``number`` of ``primary``, if anything."""
    instead = shard_mismatch(connection, schema, primary.name, number)
    return None if instead is None else f"is not this set's shard {number} (it is {instead})"


def damaged(error: AssetdbError, path: Path) -> str:
    """Why SQLite cannot read ``path`` as a shard, without naming it again."""
    return f"is damaged ({str(error).removeprefix(f'{path}: ')})"


def shard_path(primary: Path, number: int) -> Path:
    """``enterprise_assets.db`` -> ``enterprise_assets.002.db`` for shard 2."""
    return primary if number == 1 else primary.with_name(f"{primary.stem}.{number:03d}{primary.suffix}")


def shard_schema(number: int, prefix: str = "shard") -> str:
    return "main" if number == 1 and prefix == "shard" else f"{prefix}{number}"


def manifest(connection: sqlite3.Connection, schema: str = "main") -> list[tuple[int, str]]:
    """(shard, file name) for every shard beyond the primary, in order."""
    return connection.execute(
        f"SELECT shard, file_name FROM {schema}.shard_manifest WHERE shard > 1 ORDER BY shard"
    ).fetchall()


def create_shard_file(path: Path, primary: Path, number: int, version: int = SCHEMA_VERSION) -> None:
    """A new, empty shard of schema ``version`` (its primary's), built under a temporary name
    and renamed into place: a kill never leaves a half-made file under a shard's name (one a
    later run would take for a legacy source, since it does not yet say it is ours)."""
    building = temporary_beside(path, "shard")
    connection = sqlite3.connect(building, isolation_level=None)
    try:
        connection.execute("BEGIN")
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        connection.execute(f"PRAGMA user_version = {int(version)}")
        connection.execute(f"CREATE TABLE {SHARD_MARKER} (primary_name TEXT NOT NULL, shard INTEGER NOT NULL)")
        connection.execute(f"INSERT INTO {SHARD_MARKER} VALUES (?, ?)", (primary.name, number))
        for statement in CONTENT_STATEMENTS:  # asset bytes too can continue in a shard
            connection.execute(statement)
        connection.execute("COMMIT")
        connection.close()  # closed before the rename: no handle on the file under its old name
        os.replace(building, path)
    finally:
        connection.close()  # a no-op after the first close, the close after a failure
        remove_database_file(building)


def discard_unregistered_shards(primary: Path) -> list[str]:
    """Remove the shards of ``primary`` that no committed write registered and that hold nothing.

    A write makes a new shard inside its transaction and removes it if it does not commit;
    a write killed in between leaves it, its rows rolled back with the transaction. Such a
    file says it is a shard of ``primary`` yet the manifest does not list it: nothing refers
    to it. One that holds rows is no such leftover (a primary restored from a backup older
    than it): it is kept, and the write that would need its name refuses, naming it. Call it
    holding the set's writer lock (no write is between creating and registering one)."""
    if not (primary.is_file() and claims_assetdb(primary)):
        return []  # no manifest to judge by (a primary moved away, damaged, a pointer): touch nothing
    try:
        with open_readonly(primary) as connection:
            require_primary(connection, primary)
            registered = {name for _number, name in manifest(connection)}
    except (AssetdbError, sqlite3.Error):
        return []  # the manifest cannot be read: leave every file as it is
    removed = []
    for path in primary.parent.glob(f"{primary.stem}.[0-9][0-9][0-9]{primary.suffix}"):
        if path.name in registered or path.is_symlink() or not is_shard_of(path, primary) or _holds_rows(path):
            continue
        remove_database_file(path)
        removed.append(path.name)
    return removed


def what_holds(path: Path, primary: Path) -> str:
    """What the file under a shard's name is, said in the refusal that names it."""
    if path.is_symlink() or not path.is_file():
        return "not a file"
    if is_shard_of(path, primary):
        return "a shard this set's manifest does not list, holding rows: was the primary restored without it?"
    return "a database of its own" if role(path) is None else "a file of another consolidated set"


def _holds_rows(path: Path) -> bool:
    """Does the shard at ``path`` hold a row, once a write cut short in it is rolled back?
    (Opened for writing, so that SQLite rolls its journal back; the writer lock is held.)"""
    connection = sqlite3.connect(uri_for(path), uri=True, isolation_level=None)
    try:
        tables = [name for (name,) in connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> ?",
            (SHARD_MARKER,))]
        return any(connection.execute(f"SELECT 1 FROM {q(name)} LIMIT 1").fetchone() for name in tables)
    except sqlite3.Error:
        return True  # unreadable: never removed on a guess
    finally:
        connection.close()


def in_the_set(path: Path, primary: Path) -> bool:
    """Is ``path`` the consolidated set ``primary`` itself, or one of its shards?"""
    path, primary = Path(path).resolve(), Path(primary).resolve()
    return path == primary or (path.parent == primary.parent and is_shard_of(path, primary))


def is_shard_of(path: Path, primary: Path) -> bool:
    """Is ``path`` a shard whose marker names ``primary`` (a file beside it)?"""
    if role(path) != SHARD:
        return False
    try:
        with open_readonly(path) as connection:
            return connection.execute(f"SELECT primary_name FROM {SHARD_MARKER}").fetchone() == (primary.name,)
    except (AssetdbError, sqlite3.Error):
        return False
