"""Where each source table's rows go, and what the target needs first.

Tables of the same name become one when their keys agree; new columns are added;
a column whose affinity drifts is widened to no affinity (never converted); a table that
cannot be reconciled is kept apart as ``<source>__<table>``, with the reason.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass, field

from ..sqlite import SourceTable
from ..sqlite.describe import Column, affinity, key_has_no_index
from ..sqlite.expressions import balanced
from ..sqlite.introspect import folded, has_table, name_taken
from ..sqlite.introspect import quote_identifier as q
from ..store import ShardSet
from ..store.schema import EXPECTED_TABLES, EXPECTED_VIEWS
from .naming import _stem

#: Unified tables of the schema that receive the sources' tables of the same name.
UNIFIED_TABLES = ("enterprise_metadata", "integration_tracking")


#: Names the consolidated set uses itself; a source table of such a name is kept apart.
RESERVED_TABLES = frozenset(EXPECTED_TABLES | EXPECTED_VIEWS) - set(UNIFIED_TABLES)


RESERVED_PREFIX = "assetdb_"


CONFLICTS_PREFIX = "assetdb_conflicts_"


@dataclass
class TargetShape:
    columns: dict[str, str]  # folded name (introspect.folded) -> declared type
    names: dict[str, str]  # folded name -> name as declared
    key: list[str]
    integer_key: bool  # one key column, declared INTEGER
    key_is_rowid: bool  # ... and it is the rowid (not declared INTEGER PRIMARY KEY DESC)


def target_shape(connection: sqlite3.Connection, table: str) -> TargetShape | None:
    """The primary's table ``table`` as a target; None if there is no such table (a view of
    that name has columns too, and is no target)."""
    if not has_table(connection, "main", table):
        return None
    rows = connection.execute(f"PRAGMA main.table_info({q(table)})").fetchall()
    key = [name for _, name in sorted((row[5], row[1]) for row in rows if row[5])]
    types = {folded(row[1]): row[2] or "" for row in rows}
    integer_key = len(key) == 1 and types[folded(key[0])].upper() == "INTEGER"
    key_is_rowid = integer_key and key_has_no_index(connection, "main", table)
    return TargetShape(types, {folded(row[1]): row[1] for row in rows}, key, integer_key, key_is_rowid)


@dataclass
class TablePlan:
    source: SourceTable
    target: str
    note: str | None = None
    create: bool = False
    add: list[Column] = field(default_factory=list)
    widen: list[str] = field(default_factory=list)


def plan_table(connection: sqlite3.Connection, shards: ShardSet, table: SourceTable, source_name: str,
               lifted_triggers: Collection[str] = ()) -> TablePlan:
    """Where ``table``'s rows go, and what the target needs first, or why it is kept apart.
    ``lifted_triggers``: the set's triggers, out of the schema while rows move, whose names
    are taken all the same."""
    plan = _plan_table(connection, table, source_name)
    trigger = next((t for t in lifted_triggers if folded(t) == folded(plan.target)), None)
    if plan.create and trigger is not None:
        plan = keep_apart(connection, table, source_name,
                          f"the name is taken by the trigger {trigger!r} of the consolidated set")
    if plan.widen and _estimated_bytes(connection, shards, plan.target) > shards.limit * WIDEN_SHARE:
        columns = ", ".join(repr(column) for column in plan.widen)
        plan = keep_apart(
            connection,
            table,
            source_name,
            f"column {columns} has another type than in the consolidated {plan.target!r}, which is too large "
            "to rewrite with widened types under the cap",
        )
    if table.generated:
        generated = ", ".join(repr(column) for column in table.generated)
        note = f"generated column {generated} of {table.name!r}: its values are stored as data, its rebuild computes them"
        plan.note = f"{plan.note}; {note}" if plan.note else note
    return plan


def _plan_table(connection: sqlite3.Connection, table: SourceTable, source_name: str) -> TablePlan:
    name = table.name
    if folded(name) in {folded(t) for t in RESERVED_TABLES} or folded(name).startswith(RESERVED_PREFIX):
        return keep_apart(connection, table, source_name, f"{name!r} is a name the consolidated set uses itself")
    module_table = connection.execute(  # a virtual table, or one a virtual table keeps its data in
        "SELECT type FROM pragma_table_list WHERE schema = 'main' AND type IN ('virtual', 'shadow') "
        "AND lower(name) = lower(?)", (name,)
    ).fetchone()
    if module_table is not None:
        what = "a virtual table" if module_table[0] == "virtual" else "a shadow table of a virtual table"
        return keep_apart(connection, table, source_name, f"the name is taken by {what} of the consolidated set")
    shape = target_shape(connection, name)
    if shape is None:
        taken = connection.execute(  # tables, indexes, views and triggers share one namespace
            "SELECT type, name FROM main.sqlite_schema WHERE lower(name) = lower(?)", (name,)
        ).fetchone()
        if taken is not None:  # an index or view carried from an earlier source has the name
            return keep_apart(connection, table, source_name,
                              f"the name is taken by the {taken[0]} {taken[1]!r} of the consolidated set")
        return TablePlan(table, name, create=True)
    source_key, integer_here = [folded(k) for k in table.key], _declares_integer_key(table)
    if source_key != [folded(k) for k in shape.key] or integer_here != shape.integer_key:
        here, there = f"({', '.join(table.key) or 'none'})", f"({', '.join(shape.key) or 'none'})"
        if source_key == [folded(k) for k in shape.key]:  # the same columns: one is declared INTEGER, the other not
            here += " declared INTEGER" if integer_here else " not declared INTEGER"
            there += " declared INTEGER" if shape.integer_key else " not declared INTEGER"
        return keep_apart(connection, table, source_name,
                          f"primary key differs: {here} here, {there} in the consolidated {name!r}")
    if shape.key_is_rowid and not table.key_is_rowid and _key_not_all_integers(connection, table):
        return keep_apart(connection, table, source_name,
                          f"key {table.key[0]!r} is not the rowid here (declared INTEGER PRIMARY KEY DESC, or in a "
                          f"WITHOUT ROWID table) and holds values other than integers; it is the rowid in the "
                          f"consolidated {name!r}")
    plan = TablePlan(table, name)
    for column in table.merged_columns:
        existing = shape.columns.get(folded(column.name))
        if existing is None:
            plan.add.append(column)
        elif affinity(existing) not in ("BLOB", column.affinity):
            if folded(column.name) in source_key:
                return keep_apart(
                    connection, table, source_name, f"key column {column.name!r} has another type"
                )
            plan.widen.append(shape.names[folded(column.name)])
    # The conflicts table holds the merged table's columns and its own bookkeeping too.
    column_limit = connection.getlimit(sqlite3.SQLITE_LIMIT_COLUMN) - 1
    if plan.add and len(shape.columns) + len(plan.add) > column_limit:
        return keep_apart(
            connection,
            table,
            source_name,
            f"the union of its columns with the consolidated {name!r} ({len(shape.columns) + len(plan.add):,}) "
            f"is more than the {column_limit:,} a merged table can have (SQLite's limit of {column_limit + 1:,} "
            "columns, less the row identity read beside them)",
        )
    return plan


#: Widening rewrites a table (and journals every page of it), so only tables this small
#: next to the cap are widened; larger ones keep a drifting source's rows apart.
WIDEN_SHARE = 0.1


def _estimated_bytes(connection: sqlite3.Connection, shards: ShardSet, table: str) -> int:
    """Rows × sampled row size of ``table`` across the shards: cheap, and enough to decide."""
    columns = [q(row[1]) for row in connection.execute(f"PRAGMA main.table_info({q(table)})")]
    sizes = balanced([f"coalesce(length({c}), 0)" for c in columns], "+", "0")
    total = 0
    for number in holding(connection, shards, table):
        schema = shards.schema(number)
        rows = connection.execute(f"SELECT count(*) FROM {schema}.{q(table)}").fetchone()[0]
        sample = connection.execute(f"SELECT avg({sizes}) FROM (SELECT * FROM {schema}.{q(table)} LIMIT 500)").fetchone()[0]
        total += int(rows * ((sample or 0) + 16))
    return total


def _key_not_all_integers(connection: sqlite3.Connection, table: SourceTable) -> bool:
    """Does the source's INTEGER key column hold a value a rowid cannot (text, a real, NULL)?
    Such a key is one SQLite did not make the rowid; when every value is an integer, its rows
    merge into a table whose key is the rowid exactly (one scan of the key's own index)."""
    key = q(table.key[0])
    return connection.execute(
        f"SELECT 1 FROM {table.qualified_name} WHERE typeof({key}) <> 'integer' LIMIT 1"
    ).fetchone() is not None


def keep_apart(connection: sqlite3.Connection, table: SourceTable, source_name: str, why: str) -> TablePlan:
    """``table`` planned into a table of its own, ``<source>__<table>`` (numbered on while
    the name is taken), with ``why`` in its note."""
    base = f"{_stem(source_name)}__{table.name}"
    candidate, counter = base, 2
    while name_taken(connection, "main", candidate):
        candidate, counter = f"{base}_{counter}", counter + 1
    return TablePlan(table, candidate, note=f"kept apart as {candidate!r}: {why}", create=True)


def _declares_integer_key(table: SourceTable) -> bool:
    """One key column, declared INTEGER: the rowid in a rowid table, unless declared
    ``INTEGER PRIMARY KEY DESC``; in a ``WITHOUT ROWID`` table, a column that may hold any
    value. (The target is always a rowid table: :func:`_integer_key_definition` keeps which.)"""
    return len(table.key) == 1 and next(
        c for c in table.columns if c.name == table.key[0]).declared_type.upper() == "INTEGER"


def _integer_key_definition(name: str, key_is_rowid: bool) -> str:
    """The one form of an INTEGER key that keeps what it is: the rowid, or (``DESC``, the only
    spelling SQLite does not make the rowid) a column of its own that may hold any value."""
    return f"{q(name)} INTEGER PRIMARY KEY{'' if key_is_rowid else ' DESC'}"


def _column_definition(column: Column, integer_key: bool, key_is_rowid: bool) -> str:
    declared = "" if column.affinity == "BLOB" else column.declared_type
    if integer_key:
        return _integer_key_definition(column.name, key_is_rowid)
    return f"{q(column.name)} {declared}".rstrip()


def create_target_table(connection: sqlite3.Connection, plan: TablePlan) -> None:
    table = plan.source
    definitions = [
        _column_definition(column, _declares_integer_key(table) and column.name == table.key[0], table.key_is_rowid)
        for column in table.merged_columns
    ]
    if table.key and not _declares_integer_key(table):
        definitions.append(f"PRIMARY KEY ({', '.join(q(k) for k in table.key)})")
    connection.execute(f"CREATE TABLE main.{q(plan.target)} ({', '.join(definitions)})")


def table_definition(connection: sqlite3.Connection, table: str, untyped: frozenset[str] = frozenset()) -> str:
    """``(columns…, PRIMARY KEY (…))`` of the primary's ``table``; ``untyped`` columns lose their type."""
    rows = connection.execute(f"PRAGMA main.table_info({q(table)})").fetchall()
    shape = target_shape(connection, table)
    definitions = []
    for _cid, name, declared, _notnull, _default, _pk in rows:
        if shape.integer_key and folded(name) == folded(shape.key[0]):
            definitions.append(_integer_key_definition(name, shape.key_is_rowid))
        else:
            definitions.append(f"{q(name)} {'' if folded(name) in untyped else declared or ''}".rstrip())
    if shape.key and not shape.integer_key:
        definitions.append(f"PRIMARY KEY ({', '.join(q(k) for k in shape.key)})")
    return f"({', '.join(definitions)})"


def conflicts_table(target: str) -> str:
    return f"{CONFLICTS_PREFIX}{target}"


def key_json(alias: str, key: list[str]) -> str:
    """A row's key as JSON text, blobs as ``x'…'`` (how ``migration_conflicts`` names a row)."""
    quote = "'"
    parts = [
        f"CASE typeof({alias}.{q(k)}) WHEN 'blob' THEN 'x{quote * 2}' || hex({alias}.{q(k)}) || '{quote * 2}' "
        f"ELSE {alias}.{q(k)} END"
        for k in key
    ]
    return f"json_array({', '.join(parts)})"


def holding(connection: sqlite3.Connection, shards: ShardSet, table: str) -> list[int]:
    """The shards in which ``table`` exists."""
    return [n for n in shards.numbers if has_table(connection, shards.schema(n), table)]


def ensure_table(connection: sqlite3.Connection, shards: ShardSet, number: int, target: str) -> None:
    """``target``, as the primary defines it, in shard ``number``."""
    schema = shards.schema(number)
    if not has_table(connection, schema, target):
        connection.execute(f"CREATE TABLE {schema}.{q(target)} {table_definition(connection, target)}")


def ensure_conflicts_table(connection: sqlite3.Connection, shards: ShardSet, number: int, target: str) -> str:
    """The untyped twin of ``target`` in shard ``number``, keeping losing versions exactly."""
    name = conflicts_table(target)
    schema = shards.schema(number)
    columns = [row[1] for row in connection.execute(f"PRAGMA main.table_info({q(target)})")]
    existing = {folded(row[1]) for row in connection.execute(f"PRAGMA {schema}.table_info({q(name)})")}
    if not existing:
        connection.execute(f"CREATE TABLE {schema}.{q(name)} ({', '.join(q(c) for c in columns)})")
    else:
        for column in columns:
            if folded(column) not in existing:
                connection.execute(f"ALTER TABLE {schema}.{q(name)} ADD COLUMN {q(column)}")
    return name


def widen_columns(connection: sqlite3.Connection, shards: ShardSet, target: str, columns: list[str]) -> None:
    """Rebuild ``target`` in every shard with ``columns`` untyped, keeping rowids, values, indexes."""
    definition = table_definition(connection, target, frozenset(folded(c) for c in columns))
    names = ", ".join(q(row[1]) for row in connection.execute(f"PRAGMA main.table_info({q(target)})"))
    interim = f"{RESERVED_PREFIX}widening_{target}"  # no source table is merged under that prefix
    connection.execute("PRAGMA legacy_alter_table = ON")  # views on the table stay as written
    try:
        for number in holding(connection, shards, target):
            schema = shards.schema(number)
            indexes = [
                row[0]
                for row in connection.execute(
                    f"SELECT sql FROM {schema}.sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                    (target,),
                )
            ]
            connection.execute(f"CREATE TABLE {schema}.{q(interim)} {definition}")
            connection.execute(
                f"INSERT INTO {schema}.{q(interim)} (rowid, {names}) SELECT rowid, {names} FROM {schema}.{q(target)}"
            )
            connection.execute(f"DROP TABLE {schema}.{q(target)}")
            connection.execute(f"ALTER TABLE {schema}.{q(interim)} RENAME TO {q(target)}")
            for statement in indexes:
                connection.execute(statement.replace("CREATE INDEX ", f"CREATE INDEX {schema}.", 1))
    finally:
        connection.execute("PRAGMA legacy_alter_table = OFF")


def apply_plan(connection: sqlite3.Connection, shards: ShardSet, plan: TablePlan) -> None:
    if plan.create:
        create_target_table(connection, plan)
        return
    for column in plan.add:
        declared = "" if column.affinity == "BLOB" else column.declared_type
        for number in holding(connection, shards, plan.target):
            schema = shards.schema(number)
            connection.execute(f"ALTER TABLE {schema}.{q(plan.target)} ADD COLUMN {q(column.name)} {declared}".rstrip())
        for number in holding(connection, shards, conflicts_table(plan.target)):
            connection.execute(
                f"ALTER TABLE {shards.schema(number)}.{q(conflicts_table(plan.target))} ADD COLUMN {q(column.name)}"
            )
    if plan.widen:
        widen_columns(connection, shards, plan.target, plan.widen)
