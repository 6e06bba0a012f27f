"""Reading the consolidated set: its primary opened read-only, every shard attached beside it.

Every reader (verify, regenerate, rebuild-source, the gate) starts here, so each refuses a
file that is not a set's primary, and a shard that is missing, the same way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ..errors import Aborted
from ..sqlite import open_readonly, readonly_uri
from ..sqlite.introspect import quote_identifier as q
from .identity import require_primary
from .shards import manifest, most_shards


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
    """Attach, read-only, every shard the manifest in ``schema`` lists.

    Yields shard number -> schema name, the primary (``schema`` itself) included.
    """
    schemas = {1: schema}
    most_shards(connection)
    with ExitStack() as stack:
        try:
            listed = manifest(connection, schema)
        except sqlite3.OperationalError:
            listed = []
        for number, file_name in listed:
            path = primary.with_name(file_name)
            if "/" in file_name or not path.is_file():
                raise Aborted(f"{primary}: shard {number} ({file_name}) is missing; restore it from a verified "
                              f"backup (assetdb restore BACKUP --to {path})")
            uri = stack.enter_context(readonly_uri(path))
            name = f"{schema}_shard{number}"
            connection.execute(f"ATTACH DATABASE ? AS {name}", (uri,))
            stack.callback(connection.execute, f"DETACH DATABASE {name}")
            schemas[number] = name
        yield schemas


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
