"""Virtual tables of a source: recreated through their module, never by copying shadow tables.

An FTS table's shadow tables (``_content``, ``_segments``, ``_data``…) are the module's
private business: copying them would carry another file's internals. The table is
recreated from its declaration and filled with its rows, and the module builds its own
index; an external-content index holds no rows and is rebuilt over its content table.
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from ..errors import Aborted, BadInput
from ..faults import disk_is_full
from ..sqlite import SourceDescription, SourceTable
from ..sqlite.describe import content_option, with_module_option
from ..sqlite.introspect import name_taken
from ..sqlite.introspect import quote_identifier as q
from .accounting import recount
from .outcome import TableOutcome
from .plan import conflicts_table, keep_apart
from .rows import LINK_COLUMNS

_VIRTUAL_TABLE_NAME = re.compile(
    r"^(\s*CREATE\s+VIRTUAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?)"
    r"(\"(?:[^\"]|\"\")*\"|\[[^\]]*\]|`(?:[^`]|``)*`|'(?:[^']|'')*'|[^\s(]+)",
    re.IGNORECASE,
)


def migrate_virtual_table(connection, table: SourceTable, source_id: int, source_name: str) -> TableOutcome:
    """Recreate a virtual table (FTS5 and the like) and fill it through its module.

    Its shadow tables are never copied: the module builds its own from the rows. Virtual
    tables are not merged across sources; a second one of the same name is kept apart.
    """
    target, note = table.name, None
    if name_taken(connection, "main", target) or not _created(connection, table, target):
        target = keep_apart(connection, table, source_name, "virtual tables are not merged").target
        note = f"virtual table kept apart as {target!r}: virtual tables are not merged"
        if not _created(connection, table, target):
            raise BadInput(f"{source_name}: virtual table {table.name!r} cannot be recreated in the consolidated set "
                           f"under its name nor as {target!r}: the names of its module's own tables are taken")
    columns = ", ".join(q(name) for name in table.column_names)
    table_id = connection.execute(
        "INSERT INTO main.migration_table_accounting (source_id, source_table, target_table, conflicts_table, "
        "key_columns, columns, row_identity, note, rows_read, rows_stored, duplicates_folded, conflicts_kept, "
        "fingerprint) VALUES (?, ?, ?, ?, '[]', ?, 'rowid', ?, 0, 0, 0, 0, '')",
        (source_id, table.name, target, conflicts_table(target), json.dumps(table.column_names), note),
    ).lastrowid
    source = table.qualified_name
    connection.execute(
        f"INSERT INTO main.migration_row_links ({LINK_COLUMNS}) SELECT {table_id}, rowid, 1, rowid, 0 FROM {source}"
    )
    with _whole_in_the_primary(connection, source_name, table.name):
        connection.execute(f"INSERT INTO main.{q(target)} (rowid, {columns}) SELECT rowid, {columns} FROM {source}")
    recount(connection, target, table_id)
    row = connection.execute(
        "SELECT rows_read, rows_stored, duplicates_folded, conflicts_kept FROM main.migration_table_accounting "
        "WHERE id = ?",
        (table_id,),
    ).fetchone()
    if row[0] != connection.execute(f"SELECT count(*) FROM {source}").fetchone()[0]:
        raise Aborted(f"{source_name}: virtual table {table.name!r}: not every row was placed; rolled back")
    return TableOutcome(table.name, target, *row, note=note)


@contextmanager
def _whole_in_the_primary(connection, source_name: str, name: str):
    """A virtual table lives whole in the primary file (its module keeps its rows and index
    in tables of its own, beside it): one that does not fit there is named, with the way on,
    rather than reported as the whole write meeting the cap."""
    try:
        yield
    except sqlite3.OperationalError as error:
        primary = Path(connection.execute("PRAGMA main.database_list").fetchone()[2] or ".")
        if "full" not in str(error) or disk_is_full(primary.parent):
            raise
        raise Aborted(f"{source_name}: the virtual table {name!r} does not fit under the cap in the primary file, "
                      "where a virtual table is kept whole (its module's own tables are not split into shards); "
                      "use a larger --limit; rolled back") from None


def _created(connection, table: SourceTable, target: str) -> bool:
    """Create ``table`` as ``target`` through its module; False when a table the module
    makes beside it (``target_data``, ``target_content``…) has a name already taken."""
    connection.execute("SAVEPOINT assetdb_virtual")
    try:
        connection.execute(_VIRTUAL_TABLE_NAME.sub(lambda match: match.group(1) + q(target), table.virtual_sql, count=1))
    except sqlite3.OperationalError as error:
        connection.execute("ROLLBACK TO assetdb_virtual")
        connection.execute("RELEASE assetdb_virtual")
        if "already exists" not in str(error):
            raise
        return False
    connection.execute("RELEASE assetdb_virtual")
    return True


def rebuild_content_indexes(connection, description: SourceDescription, targets: dict[str, str]) -> list[str]:
    """External-content full-text indexes hold no rows of their own: recreate each of the
    source's over the consolidated table its content table went to (``targets``: source
    table -> consolidated table, which may be one kept apart), and rebuild every index
    already in the set over a table this source has just written rows into."""
    notes, made = [], set()
    for kind, name, _table, sql in description.schema_objects:
        content = _external_content(sql) if kind == "table" else None
        if not content:
            continue
        if name_taken(connection, "main", name):
            notes.append(f"full-text index {name!r} already exists in the consolidated set; kept for rebuild only")
            continue
        target = targets.get(content, content)
        connection.execute(sql if target == content else with_module_option(sql, "content", target))
        connection.execute(f"INSERT INTO main.{q(name)} ({q(name)}) VALUES ('rebuild')")
        made.add(name)
        notes.append(f"full-text index {name!r} rebuilt over the consolidated {target!r}")
    written = set(targets.values())
    for name, sql in connection.execute("SELECT name, sql FROM main.sqlite_schema WHERE type = 'table'").fetchall():
        if name not in made and _external_content(sql) in written:  # its content table has rows it has not seen
            connection.execute(f"INSERT INTO main.{q(name)} ({q(name)}) VALUES ('rebuild')")
    return notes


def _external_content(sql: str | None) -> str | None:
    """The content table of an external-content full-text index declared by ``sql``."""
    return content_option(sql) if sql and sql.upper().startswith("CREATE VIRTUAL") else None
