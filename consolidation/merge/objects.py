"""Carrying a source's indexes, views and triggers onto the consolidated set.

Uniqueness that held within one source need not hold across sources, so indexes are
recreated non-unique; an object that cannot apply is kept in the ledger for rebuilds and
noted in the report. Triggers are lifted while rows move, so none fires on migrated rows.
"""

from __future__ import annotations

import sqlite3

from ..sqlite import SourceDescription
from ..sqlite.introspect import quote_identifier as q
from .naming import _stem
from .plan import TablePlan


def _object_sql(connection: sqlite3.Connection, name: str) -> tuple[str, str | None] | None:
    row = connection.execute(
        "SELECT type, sql FROM main.sqlite_schema WHERE lower(name) = lower(?)", (name,)
    ).fetchone()
    return tuple(row) if row else None


def carry_index(connection: sqlite3.Connection, name: str, plan: TablePlan, source_name: str) -> str | None:
    """Recreate a source index on its target table (non-unique: uniqueness held per
    source need not hold across sources). Returns a note when it cannot."""
    listing = {
        row[1]: row for row in connection.execute(f"PRAGMA {plan.source.schema}.index_list({q(plan.source.name)})")
    }
    if listing.get(name) and listing[name][4]:
        return f"partial index {name!r} kept for rebuild only"
    parts = []
    for _seq, cid, column, desc, collation, is_key in connection.execute(
        f"PRAGMA {plan.source.schema}.index_xinfo({q(name)})"
    ):
        if not is_key:
            continue
        if cid < 0:
            return f"expression index {name!r} kept for rebuild only"
        parts.append(f"{q(column)} COLLATE {q(collation)}{' DESC' if desc else ''}")
    statement = f"ON {q(plan.target)} ({', '.join(parts)})"
    for candidate in (name, f"{_stem(source_name)}__{name}"):
        existing = _object_sql(connection, candidate)
        if existing is None:
            connection.execute(f"CREATE INDEX main.{q(candidate)} {statement}")
            return None
        if existing[0] == "index" and existing[1] and existing[1].endswith(statement):
            return None
    return f"index {name!r} could not be named in the consolidated set; kept for rebuild only"


def carry_schema_objects(
    connection: sqlite3.Connection, description: SourceDescription, plans: dict[str, TablePlan], source_name: str
) -> tuple[list[str], list[str]]:
    """Indexes and views of a source onto the consolidated set; triggers are returned
    to be installed after all rows are in place. Returns (notes, trigger statements)."""
    notes, triggers = [], []
    for kind, name, table, sql in description.schema_objects:
        if kind == "index" and sql and table in plans:
            note = carry_index(connection, name, plans[table], source_name)
        elif kind == "view":
            note = _carry_statement(connection, name, sql, "view")
        elif kind == "trigger":
            triggers.append((name, sql))
            note = None
        else:
            continue
        if note:
            notes.append(note)
    return notes, triggers


def _carry_statement(connection: sqlite3.Connection, name: str, sql: str, kind: str) -> str | None:
    existing = _object_sql(connection, name)
    if existing is not None:
        if existing[1] == sql:
            return None
        return f"{kind} {name!r} differs from the one already in the consolidated set; kept for rebuild only"
    try:
        connection.execute("SAVEPOINT assetdb_object")
        connection.execute(sql)
        if kind == "view":  # a view is only checked when used: use it once
            connection.execute(f"SELECT * FROM main.{q(name)} LIMIT 0").fetchall()
        connection.execute("RELEASE assetdb_object")
    except sqlite3.Error as error:
        connection.execute("ROLLBACK TO assetdb_object")
        connection.execute("RELEASE assetdb_object")
        return f"{kind} {name!r} does not apply to the consolidated set ({error}); kept for rebuild only"
    return None


def lift_triggers(connection: sqlite3.Connection) -> list[tuple[str, str]]:
    """Drop the consolidated set's triggers for the duration of a migration, so that no
    trigger fires on migrated rows; they are installed again at the end."""
    triggers = connection.execute(
        "SELECT name, sql FROM main.sqlite_schema WHERE type = 'trigger' ORDER BY rowid"
    ).fetchall()
    for name, _sql in triggers:
        connection.execute(f"DROP TRIGGER main.{q(name)}")
    return triggers
