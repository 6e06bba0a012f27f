"""Reading the consolidated set: its primary opened read-only, every shard attached beside it.

Every reader (verify, regenerate, rebuild-source, the gate) starts here, so each refuses a
file that is not a set's primary, and a shard that is missing or damaged, the same way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ..errors import AssetdbError, BadInput, DamagedSet
from ..sqlite import open_readonly, readonly_uri
from ..sqlite.introspect import quote_identifier as q
from .identity import PRIMARY, require_primary, role
from .shard_files import (
    damaged,
    manifest,
    not_a_file_of_the_folder,
    not_the_shard,
    shard_path,
)
from .shards import most_shards


@contextmanager
def read_consolidated(path: Path | str) -> Iterator[tuple[sqlite3.Connection, dict[int, str]]]:
    """A read-only connection to an assetdb database with its shards attached.

    Every reader of the consolidated set starts here, so each refuses the same way a
    file that is not one (a legacy database, a text file) instead of failing on a
    missing table.
    """
    path = Path(path)
    with open_readonly(path) as connection:
        require_primary(connection, path)
        with attach_shards_readonly(connection, path, "main") as shards:
            yield connection, shards


@contextmanager
def attach_shards_readonly(connection: sqlite3.Connection, primary: Path, schema: str) -> Iterator[dict[int, str]]:
    """Attach, read-only, every shard the manifest in ``schema`` lists, each held to it: a
    shard missing, damaged, or a file under its name that is not that shard, is
    :class:`DamagedSet`.

    Yields shard number -> schema name, the primary (``schema`` itself) included.
    """
    schemas = {1: schema}
    most_shards(connection)
    with ExitStack() as stack:
        try:
            listed = manifest(connection, schema)
        except sqlite3.OperationalError:
            listed = []
        for number, _file_name in listed:  # found by its number, as writers find it: a path from the
            name = f"{schema}_shard{number}"  # database is never followed
            problem = _attach_shard(stack, connection, name, primary, number)
            if problem is not None:
                path = shard_path(primary, number)
                raise DamagedSet(f"{primary}: shard {number} ({path.name}) {problem}; restore it from a verified "
                                 f"backup (assetdb restore BACKUP --to {path})")
            schemas[number] = name
        yield schemas


def registering_primary(path: Path) -> tuple[Path, int] | None:
    """(primary, shard number) when the primary beside ``path`` registers it as one of its
    shards: known by the name and the manifest alone, so a shard emptied or overwritten is
    still known for what it should be."""
    parts = path.name.rsplit(".", 2)
    if len(parts) != 3 or len(parts[1]) != 3 or not parts[1].isdigit():
        return None
    primary = path.with_name(f"{parts[0]}.{parts[2]}")
    if role(primary) != PRIMARY:
        return None
    try:
        with open_readonly(primary) as connection:
            registered = dict((name, number) for number, name in manifest(connection))
    except (AssetdbError, sqlite3.Error):
        return None
    return (primary, registered[path.name]) if path.name in registered else None


def _attach_shard(stack: ExitStack, connection: sqlite3.Connection, name: str, primary: Path, number: int) -> str | None:
    """Attach shard ``number`` read-only as ``name`` (detached when ``stack`` closes); what is
    wrong with the file under its name, if anything."""
    path = shard_path(primary, number)
    problem = not_a_file_of_the_folder(path)
    if problem is not None:
        return problem
    try:
        uri = stack.enter_context(readonly_uri(path))
    except BadInput as error:  # emptied, truncated, not SQLite at all
        return damaged(error, path)
    connection.execute(f"ATTACH DATABASE ? AS {name}", (uri,))
    stack.callback(connection.execute, f"DETACH DATABASE {name}")
    return not_the_shard(connection, name, primary, number)


def shadow_with_union_views(connection: sqlite3.Connection, shards: dict[int, str]) -> None:
    """Shadow every table of the primary with a temporary view that unions its shards, so
    a reader sees each merged table whole, whichever files its rows are in."""
    if len(shards) < 2:
        return
    tables = [row[0] for row in connection.execute("SELECT name FROM main.sqlite_schema WHERE type = 'table'")]
    for table in tables:
        columns = [row[1] for row in connection.execute(f"PRAGMA main.table_info({q(table)})")]
        selected = ", ".join(q(c) for c in columns)
        parts = [f"SELECT {selected} FROM main.{q(table)}"]
        for schema in list(shards.values())[1:]:
            if connection.execute(f"SELECT 1 FROM {schema}.sqlite_schema WHERE name = ?", (table,)).fetchone():
                parts.append(f"SELECT {selected} FROM {schema}.{q(table)}")
        if len(parts) > 1:
            connection.execute(f"CREATE TEMP VIEW {q(table)} AS {' UNION ALL '.join(parts)}")
