"""Phase 2: a conflict-aware, lossless, resumable merge of many databases into one.

The original project merged with ``INSERT OR IGNORE`` after renaming clashing tables,
and silently lost every row whose key was already taken. Here no row is ever dropped:

* Tables of the same name become one table when their keys agree; columns are matched
  by name (union of columns) and a column whose affinity differs between sources is
  widened to no affinity, so no value is ever converted. A table that cannot be
  reconciled is kept apart as ``<source>__<table>``, and the report says why.
* A source row whose key is new is stored; one identical to the stored row (same key,
  same values, same storage classes) is *folded* into it; one with the same key and
  different values is a *conflict*: it is kept, unchanged, in the table's conflicts
  table ``assetdb_conflicts_<table>``, recorded in ``migration_conflicts``, and a policy
  decides which version the merged table shows.
* ``migration_row_links`` ties every source row (by rowid, or by ordinal in key order
  for ``WITHOUT ROWID`` tables) to the row holding its values, which is what makes each
  source rebuildable and verifiable.
* Each source is migrated in one transaction, so a kill at any moment leaves the target
  as it was before that source or as it is after it; migrating an unchanged source again
  does nothing, and a changed source first has its old contribution removed.

The heavy lifting is set-based SQL over the ATTACHed source; Python only plans.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .backup import backup_database, default_backup_directory
from .errors import Aborted, BadInput
from .fingerprint import file_sha256
from .fingerprint import quote_identifier as q
from .readonly import open_readonly, readonly_uri
from .schema import EXPECTED_TABLES, connect_assetdb, initialize, write_transaction
from .shards import ShardSet
from .size import format_size, sidecar_paths
from .sources import (
    Column,
    SourceDescription,
    SourceTable,
    affinity,
    content_option,
    describe_source,
    fingerprint_source,
)
from .synclog import Operation, utc_now

#: Unified tables of PRODUCT.md §4 that receive the sources' tables of the same name.
UNIFIED_TABLES = ("enterprise_metadata", "integration_tracking")
#: Names the consolidated set uses itself; a source table of such a name is kept apart.
RESERVED_TABLES = frozenset(EXPECTED_TABLES) - set(UNIFIED_TABLES)
RESERVED_PREFIX = "assetdb_"
CONFLICTS_PREFIX = "assetdb_conflicts_"
SOURCE_ALIAS = "src"


@dataclass(frozen=True)
class ConflictPolicy:
    """Which version of a conflicting key the merged table shows.

    ``first``: the source migrated first keeps it (default). ``newest``: the source
    file modified last wins. ``source``: the named source wins. Either way the other
    version stays in the conflicts table.
    """

    kind: str = "first"
    source_name: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> ConflictPolicy:
        if not text or text == "first":
            return cls()
        if text == "newest":
            return cls("newest")
        for prefix in ("source:", "source "):  # --prefer source:NAME, or --prefer "source NAME"
            if text.startswith(prefix) and text[len(prefix):].strip():
                return cls("source", text[len(prefix):].strip())
        raise BadInput(f"invalid conflict policy {text!r}: use first, newest or source:NAME")

    def __str__(self) -> str:
        return f"source:{self.source_name}" if self.kind == "source" else self.kind


@dataclass
class TableOutcome:
    source_table: str
    target_table: str
    rows_read: int = 0
    rows_stored: int = 0
    duplicates_folded: int = 0
    conflicts_kept: int = 0
    note: str | None = None


@dataclass
class SourceOutcome:
    """What happened to one source: ``migrated``, ``remigrated``, ``unchanged`` or ``planned``."""

    name: str
    path: str
    action: str
    tables: list[TableOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shards: int = 1

    def total(self, attribute: str) -> int:
        return sum(getattr(table, attribute) for table in self.tables)


@dataclass
class MigrationReport:
    target: str
    sources: list[SourceOutcome]
    backup: str | None = None


# -- naming -----------------------------------------------------------------------------


def assign_source_names(paths: list[Path], known: dict[str, str]) -> dict[Path, str]:
    """A stable, unique name per source: a path already in the ledger keeps its name;
    otherwise its file name, lengthened by parent folders while another source (in this
    run, or in the ledger from elsewhere) would share it."""
    by_original = {original: name for name, original in known.items()}
    resolved = {path: path.resolve() for path in paths}
    taken = dict(known)
    names: dict[Path, str] = {}

    def suffix(path: Path, depth: int) -> str:
        return "/".join(resolved[path].parts[-depth:])

    for path in paths:
        original = str(resolved[path])
        if original in by_original:
            names[path] = by_original[original]
            continue
        for depth in range(1, len(resolved[path].parts) + 1):
            candidate = suffix(path, depth)
            shared_in_run = any(other != path and suffix(other, depth) == candidate for other in paths)
            if not shared_in_run and taken.get(candidate, original) == original:
                break
        names[path] = candidate
        taken[candidate] = original
    return names


def _stem(source_name: str) -> str:
    stem = source_name.rsplit("/", 1)[-1]
    return stem.rsplit(".", 1)[0] if "." in stem else stem


# -- the target's current shape -----------------------------------------------------------


@dataclass
class TargetShape:
    columns: dict[str, str]  # lower-case name -> declared type
    names: dict[str, str]  # lower-case name -> name as declared
    key: list[str]
    integer_key: bool


def target_shape(connection: sqlite3.Connection, table: str) -> TargetShape | None:
    rows = connection.execute(f"PRAGMA main.table_info({q(table)})").fetchall()
    if not rows:
        return None
    key = [name for _, name in sorted((row[5], row[1]) for row in rows if row[5])]
    types = {row[1].lower(): row[2] or "" for row in rows}
    integer_key = len(key) == 1 and types[key[0].lower()].upper() == "INTEGER"
    return TargetShape(types, {row[1].lower(): row[1] for row in rows}, key, integer_key)


def _table_exists(connection: sqlite3.Connection, name: str) -> bool:
    return (
        connection.execute(
            "SELECT 1 FROM main.sqlite_schema WHERE lower(name) = lower(?)", (name,)
        ).fetchone()
        is not None
    )


@dataclass
class TablePlan:
    source: SourceTable
    target: str
    note: str | None = None
    create: bool = False
    add: list[Column] = field(default_factory=list)
    widen: list[str] = field(default_factory=list)


def plan_table(connection: sqlite3.Connection, shards: ShardSet, table: SourceTable, source_name: str) -> TablePlan:
    """Where ``table``'s rows go, and what the target needs first, or why it is kept apart."""
    plan = _plan_table(connection, table, source_name)
    if plan.widen and _estimated_bytes(connection, shards, plan.target) > shards.limit * WIDEN_SHARE:
        columns = ", ".join(repr(column) for column in plan.widen)
        plan = _apart(
            connection,
            table,
            source_name,
            f"column {columns} has another type than in the consolidated {plan.target!r}, which is too large "
            "to rewrite with widened types under the cap",
        )
    if table.generated:
        generated = ", ".join(repr(column) for column in table.generated)
        note = f"generated column {generated} of {table.name!r} is computed, not copied"
        plan.note = f"{plan.note}; {note}" if plan.note else note
    return plan


def _plan_table(connection: sqlite3.Connection, table: SourceTable, source_name: str) -> TablePlan:
    name = table.name
    if name.lower() in {t.lower() for t in RESERVED_TABLES} or name.lower().startswith(RESERVED_PREFIX):
        return _apart(connection, table, source_name, f"{name!r} is a name the consolidated set uses itself")
    shape = target_shape(connection, name)
    if shape is None:
        return TablePlan(table, name, create=True)
    source_key = [k.lower() for k in table.key]
    if source_key != [k.lower() for k in shape.key] or (table.integer_key != shape.integer_key):
        return _apart(
            connection,
            table,
            source_name,
            f"primary key differs: ({', '.join(table.key) or 'none'}) here, "
            f"({', '.join(shape.key) or 'none'}) in the consolidated {name!r}",
        )
    plan = TablePlan(table, name)
    for column in table.columns:
        existing = shape.columns.get(column.name.lower())
        if existing is None:
            plan.add.append(column)
        elif affinity(existing) not in ("BLOB", column.affinity):
            if column.name.lower() in source_key:
                return _apart(
                    connection, table, source_name, f"key column {column.name!r} has another type"
                )
            plan.widen.append(shape.names[column.name.lower()])
    return plan


#: Widening rewrites a table (and journals every page of it), so only tables this small
#: next to the cap are widened; larger ones keep a drifting source's rows apart.
WIDEN_SHARE = 0.1


def _estimated_bytes(connection: sqlite3.Connection, shards: ShardSet, table: str) -> int:
    """Rows × sampled row size of ``table`` across the shards: cheap, and enough to decide."""
    columns = [q(row[1]) for row in connection.execute(f"PRAGMA main.table_info({q(table)})")]
    sizes = " + ".join(f"coalesce(length({c}), 0)" for c in columns) or "0"
    total = 0
    for number in holding(connection, shards, table):
        schema = shards.schema(number)
        rows = connection.execute(f"SELECT count(*) FROM {schema}.{q(table)}").fetchone()[0]
        sample = connection.execute(f"SELECT avg({sizes}) FROM (SELECT * FROM {schema}.{q(table)} LIMIT 500)").fetchone()[0]
        total += int(rows * ((sample or 0) + 16))
    return total


def _apart(connection: sqlite3.Connection, table: SourceTable, source_name: str, why: str) -> TablePlan:
    base = f"{_stem(source_name)}__{table.name}"
    candidate, counter = base, 2
    while _table_exists(connection, candidate):
        candidate, counter = f"{base}_{counter}", counter + 1
    return TablePlan(table, candidate, note=f"kept apart as {candidate!r}: {why}", create=True)


# -- schema changes on the target ---------------------------------------------------------


def _column_definition(column: Column, integer_key: bool) -> str:
    declared = "" if column.affinity == "BLOB" else column.declared_type
    if integer_key:
        return f"{q(column.name)} INTEGER PRIMARY KEY"
    return f"{q(column.name)} {declared}".rstrip()


def create_target_table(connection: sqlite3.Connection, plan: TablePlan) -> None:
    table = plan.source
    definitions = [
        _column_definition(column, table.integer_key and column.name == table.key[0])
        for column in table.columns
    ]
    if table.key and not table.integer_key:
        definitions.append(f"PRIMARY KEY ({', '.join(q(k) for k in table.key)})")
    connection.execute(f"CREATE TABLE main.{q(plan.target)} ({', '.join(definitions)})")


def table_definition(connection: sqlite3.Connection, table: str, untyped: frozenset[str] = frozenset()) -> str:
    """``(columns…, PRIMARY KEY (…))`` of the primary's ``table``; ``untyped`` columns lose their type."""
    rows = connection.execute(f"PRAGMA main.table_info({q(table)})").fetchall()
    shape = target_shape(connection, table)
    definitions = []
    for _cid, name, declared, _notnull, _default, _pk in rows:
        if shape.integer_key and name.lower() == shape.key[0].lower():
            definitions.append(f"{q(name)} INTEGER PRIMARY KEY")
        else:
            definitions.append(f"{q(name)} {'' if name.lower() in untyped else declared or ''}".rstrip())
    if shape.key and not shape.integer_key:
        definitions.append(f"PRIMARY KEY ({', '.join(q(k) for k in shape.key)})")
    return f"({', '.join(definitions)})"


def conflicts_table(target: str) -> str:
    return f"{CONFLICTS_PREFIX}{target}"


def exists_in(connection: sqlite3.Connection, schema: str, table: str) -> bool:
    return (
        connection.execute(
            f"SELECT 1 FROM {schema}.sqlite_schema WHERE type = 'table' AND lower(name) = lower(?)", (table,)
        ).fetchone()
        is not None
    )


def holding(connection: sqlite3.Connection, shards: ShardSet, table: str) -> list[int]:
    """The shards in which ``table`` exists."""
    return [n for n in shards.numbers if exists_in(connection, shards.schema(n), table)]


def ensure_table(connection: sqlite3.Connection, shards: ShardSet, number: int, target: str) -> None:
    """``target``, as the primary defines it, in shard ``number``."""
    schema = shards.schema(number)
    if not exists_in(connection, schema, target):
        connection.execute(f"CREATE TABLE {schema}.{q(target)} {table_definition(connection, target)}")


def ensure_conflicts_table(connection: sqlite3.Connection, shards: ShardSet, number: int, target: str) -> str:
    """The untyped twin of ``target`` in shard ``number``, keeping losing versions exactly."""
    name = conflicts_table(target)
    schema = shards.schema(number)
    columns = [row[1] for row in connection.execute(f"PRAGMA main.table_info({q(target)})")]
    existing = {row[1].lower() for row in connection.execute(f"PRAGMA {schema}.table_info({q(name)})")}
    if not existing:
        connection.execute(f"CREATE TABLE {schema}.{q(name)} ({', '.join(q(c) for c in columns)})")
    else:
        for column in columns:
            if column.lower() not in existing:
                connection.execute(f"ALTER TABLE {schema}.{q(name)} ADD COLUMN {q(column)}")
    return name


def widen_columns(connection: sqlite3.Connection, shards: ShardSet, target: str, columns: list[str]) -> None:
    """Rebuild ``target`` in every shard with ``columns`` untyped, keeping rowids, values, indexes."""
    definition = table_definition(connection, target, frozenset(c.lower() for c in columns))
    names = ", ".join(q(row[1]) for row in connection.execute(f"PRAGMA main.table_info({q(target)})"))
    interim = f"{target}__widening"
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


# -- moving rows ---------------------------------------------------------------------------

LINK_COLUMNS = "table_id, source_rowid, shard, target_rowid, in_conflicts"
#: Rows per chunk are capped so that one chunk's growth stays a small share of the cap.
MAX_CHUNK_ROWS = 50_000


class RowMerger:
    """Set-based SQL that places one source table's rows, chunk by chunk, and links each.

    Each chunk runs in a savepoint; if a file would pass the cap (SQLite refuses the
    write), the chunk is undone and placed again in the next shard.
    """

    def __init__(self, connection: sqlite3.Connection, plan: TablePlan, table_id: int, shards: ShardSet):
        self.connection = connection
        self.table = plan.source
        self.target = plan.target
        self.table_id = table_id
        self.shards = shards
        self.columns = [q(name) for name in self.table.column_names]
        self.rows = self._stage_rows()
        self.key_join = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in self.table.key)
        self.same_values = " AND ".join(
            f"t.{c} IS s.{c} AND typeof(t.{c}) = typeof(s.{c})" for c in self.columns
        ) or "1"
        self.has_key = " AND ".join(f"s.{q(k)} IS NOT NULL" for k in self.table.key) or "0"
        self.moved_shown_rows = False  # did an incoming version displace a shown one?

    def _stage_rows(self) -> str:
        """Rows as ``(_identity, columns…)``. WITHOUT ROWID tables are numbered once, in
        key order, into a temporary table, so every later step can seek by identity."""
        if self.table.rowid:
            return f"({self.table.select_rows(SOURCE_ALIAS)})"
        self.execute("DROP TABLE IF EXISTS temp.assetdb_stage")
        self.execute(f"CREATE TEMP TABLE assetdb_stage (_identity INTEGER PRIMARY KEY, {', '.join(self.columns)})")
        self.execute(f"INSERT INTO temp.assetdb_stage {self.table.select_rows(SOURCE_ALIAS)}")
        return "(SELECT * FROM temp.assetdb_stage)"

    def execute(self, sql: str, parameters: tuple | dict = ()) -> sqlite3.Cursor:
        return self.connection.execute(sql, parameters)

    def schema(self, number: int) -> str:
        return self.shards.schema(number)

    # chunks and placement

    def _chunk_rows(self) -> int:
        sizes = " + ".join(f"coalesce(length(s.{c}), 0)" for c in self.columns) or "0"
        average = self.execute(f"SELECT avg({sizes}) FROM (SELECT * FROM {self.rows} LIMIT 200) AS s").fetchone()[0]
        budget = max(64 * 1024, self.shards.limit // 50)
        return max(1, min(MAX_CHUNK_ROWS, int(budget // max(1.0, (average or 0) + 16))))

    def _chunks(self):
        size = self._chunk_rows()
        low = self.execute(f"SELECT min(_identity) FROM {self.rows}").fetchone()[0]
        while low is not None:
            high = self.execute(
                f"SELECT _identity FROM {self.rows} WHERE _identity >= ? ORDER BY _identity LIMIT 1 OFFSET ?",
                (low, size - 1),
            ).fetchone()
            if high is None:
                yield low, self.execute(f"SELECT max(_identity) FROM {self.rows}").fetchone()[0]
                return
            yield low, high[0]
            low = self.execute(f"SELECT min(_identity) FROM {self.rows} WHERE _identity > ?", (high[0],)).fetchone()[0]

    def merge(self, decide: Callable[[RowMerger], None]) -> None:
        for low, high in self._chunks():
            self._place(low, high, decide, retried=False)

    def _place(self, low: int, high: int, decide, retried: bool) -> None:
        self.execute("SAVEPOINT assetdb_chunk")
        try:
            self._merge_chunk(f"s._identity BETWEEN {int(low)} AND {int(high)}", decide)
        except sqlite3.OperationalError as error:
            self.execute("ROLLBACK TO assetdb_chunk")
            self.execute("RELEASE assetdb_chunk")
            if "full" not in str(error):
                raise
            if not retried and self.shards.can_advance():
                self.shards.advance()
                self._place(low, high, decide, retried=True)
                return
            middle = self.execute(
                f"SELECT _identity FROM {self.rows} WHERE _identity BETWEEN :low AND :high ORDER BY _identity "
                f"LIMIT 1 OFFSET (SELECT count(*) / 2 FROM {self.rows} WHERE _identity BETWEEN :low AND :high)",
                {"low": low, "high": high},
            ).fetchone()[0]
            if middle == low:
                raise Aborted(
                    f"a row of {self.table.name!r} (identity {low}) does not fit under the cap of "
                    f"{format_size(self.shards.limit)}; rolled back"
                ) from None
            self._place(low, middle - 1, decide, retried=True)
            self._place(middle, high, decide, retried=True)
            return
        self.execute("RELEASE assetdb_chunk")
        if not self.shards.has_room(self.shards.current) and self.shards.can_advance():
            self.shards.advance()

    def _merge_chunk(self, chunk: str, decide) -> None:
        current = self.shards.current
        if self.table.key:
            shards = holding(self.connection, self.shards, self.target)
            for number in shards:
                self._fold_duplicates(number, chunk)
            self._keep_conflicts(shards, chunk, decide)
            self._store_new_keys(shards, chunk, current)
        self._append_rest(chunk, current)

    def _unlinked(self) -> str:
        return (
            f"NOT EXISTS (SELECT 1 FROM main.migration_row_links AS l "
            f"WHERE l.table_id = {self.table_id} AND l.source_rowid = s._identity)"
        )

    def _fold_duplicates(self, number: int, chunk: str) -> None:
        self.execute(
            f"INSERT INTO main.migration_row_links ({LINK_COLUMNS}) "
            f"SELECT {self.table_id}, s._identity, {number}, t.rowid, 0 FROM {self.rows} AS s "
            f"JOIN {self.schema(number)}.{q(self.target)} AS t ON {self.key_join} "
            f"WHERE {chunk} AND {self.same_values}"
        )

    def _keep_conflicts(self, shards: list[int], chunk: str, decide) -> None:
        self.execute("DROP TABLE IF EXISTS temp.assetdb_pairs")
        self.execute(
            "CREATE TEMP TABLE assetdb_pairs (identity INTEGER PRIMARY KEY, shown_shard INTEGER NOT NULL, "
            "shown_rowid INTEGER NOT NULL, incoming_wins INTEGER NOT NULL DEFAULT 0)"
        )
        for number in shards:
            self.execute(
                f"INSERT INTO temp.assetdb_pairs (identity, shown_shard, shown_rowid) "
                f"SELECT s._identity, {number}, t.rowid FROM {self.rows} AS s "
                f"JOIN {self.schema(number)}.{q(self.target)} AS t ON {self.key_join} "
                f"WHERE {chunk} AND NOT ({self.same_values})"
            )
        if self.execute("SELECT 1 FROM temp.assetdb_pairs LIMIT 1").fetchone():
            current = self.shards.current
            conflicts = ensure_conflicts_table(self.connection, self.shards, current, self.target)
            decide(self)
            for number in shards:
                self._displace_shown_rows(number, current, conflicts)
            base = self._max_rowid(current, conflicts)
            self.execute(
                f"INSERT INTO main.migration_row_links ({LINK_COLUMNS}) "
                f"SELECT {self.table_id}, identity, {current}, {base} + row_number() OVER (ORDER BY identity), 1 "
                f"FROM temp.assetdb_pairs WHERE NOT incoming_wins"
            )
            self.execute(
                f"INSERT INTO {self.schema(current)}.{q(conflicts)} (rowid, {', '.join(self.columns)}) "
                f"SELECT l.target_rowid, {', '.join('s.' + c for c in self.columns)} "
                f"FROM main.migration_row_links AS l JOIN {self.rows} AS s ON s._identity = l.source_rowid "
                f"WHERE l.table_id = {self.table_id} AND l.shard = {current} AND l.in_conflicts = 1 "
                f"AND l.target_rowid > {base}"
            )
            self.execute(
                f"INSERT INTO main.migration_row_links ({LINK_COLUMNS}) "
                f"SELECT {self.table_id}, identity, shown_shard, shown_rowid, 0 FROM temp.assetdb_pairs WHERE incoming_wins"
            )
        self.execute("DROP TABLE temp.assetdb_pairs")

    def _displace_shown_rows(self, number: int, current: int, conflicts: str) -> None:
        """Where the incoming version wins, move the shown row into the conflicts table,
        re-point every link to it, and overwrite the merged row with the incoming values."""
        if not self.execute(
            "SELECT 1 FROM temp.assetdb_pairs WHERE incoming_wins AND shown_shard = ? LIMIT 1", (number,)
        ).fetchone():
            return
        self.moved_shown_rows = True
        target_columns = [q(row[1]) for row in self.execute(f"PRAGMA main.table_info({q(self.target)})")]
        base = self._max_rowid(current, conflicts)
        self.execute("DROP TABLE IF EXISTS temp.assetdb_moves")
        self.execute(
            f"CREATE TEMP TABLE assetdb_moves AS SELECT shown_rowid, "
            f"{base} + row_number() OVER (ORDER BY shown_rowid) AS kept_rowid "
            f"FROM temp.assetdb_pairs WHERE incoming_wins AND shown_shard = {number}"
        )
        self.execute(
            f"INSERT INTO {self.schema(current)}.{q(conflicts)} (rowid, {', '.join(target_columns)}) "
            f"SELECT m.kept_rowid, {', '.join('t.' + c for c in target_columns)} "
            f"FROM temp.assetdb_moves AS m JOIN {self.schema(number)}.{q(self.target)} AS t ON t.rowid = m.shown_rowid"
        )
        self.execute(
            "UPDATE main.migration_row_links AS l SET shard = ?, target_rowid = m.kept_rowid, in_conflicts = 1 "
            "FROM temp.assetdb_moves AS m, main.migration_table_accounting AS a "
            "WHERE l.shard = ? AND l.target_rowid = m.shown_rowid AND l.in_conflicts = 0 "
            "AND a.id = l.table_id AND a.target_table = ?",
            (current, number, self.target),
        )
        assignments = ", ".join(f"{c} = s.{c}" if c in self.columns else f"{c} = NULL" for c in target_columns)
        self.execute(
            f"UPDATE {self.schema(number)}.{q(self.target)} AS t SET {assignments} "
            f"FROM temp.assetdb_pairs AS p JOIN {self.rows} AS s ON s._identity = p.identity "
            f"WHERE p.incoming_wins AND p.shown_shard = {number} AND t.rowid = p.shown_rowid"
        )
        self.execute("DROP TABLE temp.assetdb_moves")

    def _store_new_keys(self, shards: list[int], chunk: str, current: int) -> None:
        ensure_table(self.connection, self.shards, current, self.target)
        absent = " AND ".join(
            f"NOT EXISTS (SELECT 1 FROM {self.schema(n)}.{q(self.target)} AS t WHERE {self.key_join})"
            for n in sorted(set(shards) | {current})
        )
        self.execute(
            f"INSERT INTO {self.schema(current)}.{q(self.target)} ({', '.join(self.columns)}) "
            f"SELECT {', '.join('s.' + c for c in self.columns)} FROM {self.rows} AS s "
            f"WHERE {chunk} AND {self.has_key} AND {absent} ORDER BY s._identity"
        )
        self.execute(
            f"INSERT INTO main.migration_row_links ({LINK_COLUMNS}) "
            f"SELECT {self.table_id}, s._identity, {current}, t.rowid, 0 FROM {self.rows} AS s "
            f"JOIN {self.schema(current)}.{q(self.target)} AS t ON {self.key_join} "
            f"WHERE {chunk} AND {self._unlinked()}"
        )

    def _append_rest(self, chunk: str, current: int) -> None:
        """Rows without a key (no primary key, or a NULL in it) are appended as they are."""
        ensure_table(self.connection, self.shards, current, self.target)
        base = self._max_rowid(current, self.target)
        self.execute(
            f"INSERT INTO main.migration_row_links ({LINK_COLUMNS}) "
            f"SELECT {self.table_id}, s._identity, {current}, {base} + row_number() OVER (ORDER BY s._identity), 0 "
            f"FROM {self.rows} AS s WHERE {chunk} AND {self._unlinked()}"
        )
        self.execute(
            f"INSERT INTO {self.schema(current)}.{q(self.target)} (rowid, {', '.join(self.columns)}) "
            f"SELECT l.target_rowid, {', '.join('s.' + c for c in self.columns)} "
            f"FROM main.migration_row_links AS l JOIN {self.rows} AS s ON s._identity = l.source_rowid "
            f"WHERE l.table_id = {self.table_id} AND l.shard = {current} AND l.in_conflicts = 0 "
            f"AND l.target_rowid > {base}"
        )

    def _max_rowid(self, number: int, table: str) -> int:
        return self.execute(f"SELECT coalesce(max(rowid), 0) FROM {self.schema(number)}.{q(table)}").fetchone()[0]


# -- conflict policy -----------------------------------------------------------------------

OWNER_OF_SHOWN_ROW = (
    "SELECT a.source_id FROM main.migration_row_links AS l "
    "JOIN main.migration_table_accounting AS a ON a.id = l.table_id "
    "WHERE a.target_table = :target AND l.shard = p.shown_shard AND l.target_rowid = p.shown_rowid "
    "AND l.in_conflicts = 0 ORDER BY a.source_id LIMIT 1"
)


def policy_decider(policy: ConflictPolicy, source_id: int, source_name: str, resolver=None):
    """A function that marks, in ``temp.assetdb_pairs``, the conflicts the incoming row wins.

    ``resolver`` (the ``assetdb_resolve_conflict`` hook) is asked after the policy, per
    conflict, and overrides it where it answers.
    """

    def decide(merger: RowMerger) -> None:
        connection, target = merger.connection, merger.target
        if policy.kind == "source" and policy.source_name == source_name:
            connection.execute("UPDATE temp.assetdb_pairs SET incoming_wins = 1")
        elif policy.kind == "newest":
            connection.execute(
                "UPDATE temp.assetdb_pairs AS p SET incoming_wins = 1 WHERE "
                "(SELECT mtime_ns FROM main.migration_sources WHERE id = :incoming) > "
                f"(SELECT mtime_ns FROM main.migration_sources WHERE id = ({OWNER_OF_SHOWN_ROW}))",
                {"incoming": source_id, "target": target},
            )
        if resolver is not None:
            resolver(connection, merger, source_name)

    return decide


# -- ledger upkeep ---------------------------------------------------------------------------


def recount(connection: sqlite3.Connection, target: str, table_id: int | None = None) -> None:
    """Recompute source accounting for ``target`` from the links themselves.

    A merged row is *stored* for the first source linked to it and *folded* for every
    later one; a row in a conflicts table is a *conflict*. Recomputing (rather than
    adding up as rows move) keeps the books right when a policy swaps versions. With
    ``table_id``, only that source table is recounted: enough when no shown row moved,
    since a later source never changes who owns a row.
    """
    scope = "l.table_id = :table_id" if table_id is not None else "a.target_table = :target"
    connection.execute(
        f"""
        WITH links AS (
            SELECT l.table_id, l.shard, l.target_rowid, l.in_conflicts, a.source_id
            FROM main.migration_row_links AS l
            JOIN main.migration_table_accounting AS a ON a.id = l.table_id
            WHERE {scope}
        ),
        counts AS (
            SELECT l.table_id,
                   count(*) AS rows_read,
                   total(l.in_conflicts = 0 AND {OWNER} = l.source_id) AS stored,
                   total(l.in_conflicts = 0 AND {OWNER} <> l.source_id) AS folded,
                   total(l.in_conflicts) AS conflicts
            FROM links AS l
            GROUP BY l.table_id
        )
        UPDATE main.migration_table_accounting AS a
        SET rows_read = c.rows_read, rows_stored = c.stored, duplicates_folded = c.folded,
            conflicts_kept = c.conflicts
        FROM counts AS c WHERE a.id = c.table_id
        """,
        {"target": target, "table_id": table_id},
    )


#: The first source linked to the merged row a link ``l`` points at (index lookup).
OWNER = (
    "(SELECT min(a2.source_id) FROM main.migration_row_links AS l2 "
    "JOIN main.migration_table_accounting AS a2 ON a2.id = l2.table_id "
    "WHERE l2.target_rowid = l.target_rowid AND l2.shard = l.shard AND l2.in_conflicts = 0 "
    "AND a2.target_table = :target)"
)


def _key_json(alias: str, key: list[str]) -> str:
    quote = "'"
    parts = [
        f"CASE typeof({alias}.{q(k)}) WHEN 'blob' THEN 'x{quote * 2}' || hex({alias}.{q(k)}) || '{quote * 2}' "
        f"ELSE {alias}.{q(k)} END"
        for k in key
    ]
    return f"json_array({', '.join(parts)})"


def record_conflicts(
    connection: sqlite3.Connection,
    shards: ShardSet,
    target: str,
    policy: ConflictPolicy,
    kept_source: int | None = None,
) -> None:
    """Write ``migration_conflicts`` for ``target`` from the links: one row per kept version.

    With ``kept_source``, only that source's kept versions are (re)written: enough when
    no shown row moved. Otherwise every conflict of ``target`` is rewritten.
    """
    if kept_source is None:
        connection.execute("DELETE FROM main.migration_conflicts WHERE target_table = ?", (target,))
    else:
        connection.execute(
            "DELETE FROM main.migration_conflicts WHERE target_table = ? AND kept_source_id = ?", (target, kept_source)
        )
    conflicts = conflicts_table(target)
    key = target_shape(connection, target).key
    key_match = " AND ".join(f"t.{q(k)} = c.{q(k)}" for k in key) or "0"
    shown_in = [
        "(SELECT min(a2.source_id) FROM "
        f"{shards.schema(n)}.{q(target)} AS t "
        f"JOIN main.migration_row_links AS l2 ON l2.target_rowid = t.rowid AND l2.shard = {n} AND l2.in_conflicts = 0 "
        "JOIN main.migration_table_accounting AS a2 ON a2.id = l2.table_id AND a2.target_table = :target "
        f"WHERE {key_match})"
        for n in holding(connection, shards, target)
    ]
    shown = f"coalesce({', '.join(shown_in)}, NULL)" if shown_in else "NULL"
    only = "" if kept_source is None else "AND a.source_id = :kept_source"
    for number in holding(connection, shards, conflicts):
        connection.execute(
            f"""
            INSERT INTO main.migration_conflicts
                (target_table, row_key, shown_source_id, kept_source_id, kept_table, kept_shard, kept_rowid,
                 policy, recorded_at)
            SELECT :target, {_key_json('c', key)}, {shown}, a.source_id, :conflicts, :shard, c.rowid, :policy,
                   s.migrated_at
            FROM main.migration_row_links AS l
            JOIN main.migration_table_accounting AS a ON a.id = l.table_id
            JOIN main.migration_sources AS s ON s.id = a.source_id
            JOIN {shards.schema(number)}.{q(conflicts)} AS c ON c.rowid = l.target_rowid
            WHERE a.target_table = :target AND l.in_conflicts = 1 AND l.shard = :shard {only}
            ORDER BY c.rowid, a.source_id
            """,
            {
                "target": target,
                "conflicts": conflicts,
                "policy": str(policy),
                "shard": number,
                "kept_source": kept_source,
            },
        )


def remove_source(connection: sqlite3.Connection, shards: ShardSet, source_id: int, policy: ConflictPolicy) -> None:
    """Take a source's contribution out again, as if it had never been migrated.

    Only rows this source's links pointed at are candidates for deletion, and only when
    no other source links to them, so rows anyone else (or a user) put there stay. Where
    the removed version was the one shown, the earliest remaining conflicting version
    takes its place.
    """
    connection.execute("DROP TABLE IF EXISTS temp.assetdb_released")
    connection.execute(
        "CREATE TEMP TABLE assetdb_released AS SELECT a.target_table AS target_table, l.shard AS shard, "
        "l.target_rowid AS target_rowid, l.in_conflicts AS in_conflicts "
        "FROM main.migration_row_links AS l JOIN main.migration_table_accounting AS a ON a.id = l.table_id "
        "WHERE a.source_id = ?",
        (source_id,),
    )
    targets = [
        row[0]
        for row in connection.execute(
            "SELECT DISTINCT target_table FROM main.migration_table_accounting WHERE source_id = ?", (source_id,)
        )
    ]
    connection.execute(
        "DELETE FROM main.migration_row_links WHERE table_id IN "
        "(SELECT id FROM main.migration_table_accounting WHERE source_id = ?)",
        (source_id,),
    )
    connection.execute("DELETE FROM main.migration_table_accounting WHERE source_id = ?", (source_id,))
    connection.execute(
        "DELETE FROM main.migration_conflicts WHERE kept_source_id = ? OR shown_source_id = ?", (source_id, source_id)
    )
    connection.execute("DELETE FROM main.migration_sources WHERE id = ?", (source_id,))
    for target in targets:
        _drop_released_rows(connection, shards, target)
        _promote_orphaned_conflicts(connection, shards, target)
        holders = holding(connection, shards, target)
        orphaned_table = target not in UNIFIED_TABLES and not connection.execute(
            "SELECT 1 FROM main.migration_table_accounting WHERE target_table = ? LIMIT 1", (target,)
        ).fetchone()
        if orphaned_table and not any(
            connection.execute(f"SELECT 1 FROM {shards.schema(n)}.{q(target)} LIMIT 1").fetchone() for n in holders
        ):
            for number in holders:
                connection.execute(f"DROP TABLE {shards.schema(number)}.{q(target)}")
            for number in holding(connection, shards, conflicts_table(target)):
                connection.execute(f"DROP TABLE {shards.schema(number)}.{q(conflicts_table(target))}")
            continue
        recount(connection, target)
        record_conflicts(connection, shards, target, policy)
    connection.execute("DROP TABLE temp.assetdb_released")


def _drop_released_rows(connection: sqlite3.Connection, shards: ShardSet, target: str) -> None:
    """Delete the rows the removed source released that no remaining link holds."""
    for table, in_conflicts in ((target, 0), (conflicts_table(target), 1)):
        for number in holding(connection, shards, table):
            connection.execute(
                f"DELETE FROM {shards.schema(number)}.{q(table)} AS r WHERE r.rowid IN "
                "(SELECT target_rowid FROM temp.assetdb_released "
                f"WHERE target_table = ? AND shard = ? AND in_conflicts = {in_conflicts}) "
                "AND NOT EXISTS (SELECT 1 FROM main.migration_row_links AS l "
                "JOIN main.migration_table_accounting AS a ON a.id = l.table_id "
                f"WHERE a.target_table = ? AND l.shard = ? AND l.in_conflicts = {in_conflicts} "
                "AND l.target_rowid = r.rowid)",
                (target, number, target, number),
            )


def _promote_orphaned_conflicts(connection: sqlite3.Connection, shards: ShardSet, target: str) -> None:
    """Where no shard shows a key any more, its earliest kept version becomes the shown one,
    in the shard that already holds it, so no file grows."""
    conflicts = conflicts_table(target)
    shape = target_shape(connection, target)
    if not shape.key:
        return
    columns = ", ".join(q(shape.names[name]) for name in shape.columns)
    key_match = " AND ".join(f"t.{q(k)} = c.{q(k)}" for k in shape.key)
    promoted: set[tuple] = set()
    for number in holding(connection, shards, conflicts):
        schema = shards.schema(number)
        shown_somewhere = " OR ".join(
            f"EXISTS (SELECT 1 FROM {shards.schema(n)}.{q(target)} AS t WHERE {key_match})"
            for n in holding(connection, shards, target)
        ) or "0"
        orphans = connection.execute(
            f"SELECT c.rowid, {', '.join('c.' + q(k) for k in shape.key)} FROM {schema}.{q(conflicts)} AS c "
            f"WHERE NOT ({shown_somewhere}) "
            "ORDER BY (SELECT min(a.source_id) FROM main.migration_row_links AS l "
            "JOIN main.migration_table_accounting AS a ON a.id = l.table_id "
            "WHERE a.target_table = ? AND l.shard = ? AND l.in_conflicts = 1 AND l.target_rowid = c.rowid), c.rowid",
            (target, number),
        ).fetchall()
        for kept_rowid, *key in orphans:
            if tuple(key) in promoted:
                continue
            promoted.add(tuple(key))
            ensure_table(connection, shards, number, target)
            cursor = connection.execute(
                f"INSERT INTO {schema}.{q(target)} ({columns}) SELECT {columns} FROM {schema}.{q(conflicts)} "
                "WHERE rowid = ?",
                (kept_rowid,),
            )
            connection.execute(
                "UPDATE main.migration_row_links SET target_rowid = ?, in_conflicts = 0 "
                "WHERE in_conflicts = 1 AND shard = ? AND target_rowid = ? AND table_id IN "
                "(SELECT id FROM main.migration_table_accounting WHERE target_table = ?)",
                (cursor.lastrowid, number, kept_rowid, target),
            )
            connection.execute(f"DELETE FROM {schema}.{q(conflicts)} WHERE rowid = ?", (kept_rowid,))


# -- indexes, views and triggers ------------------------------------------------------------


def _object_sql(connection: sqlite3.Connection, name: str) -> tuple[str, str | None] | None:
    row = connection.execute(
        "SELECT type, sql FROM main.sqlite_schema WHERE lower(name) = lower(?)", (name,)
    ).fetchone()
    return tuple(row) if row else None


def carry_index(connection: sqlite3.Connection, name: str, plan: TablePlan, source_name: str) -> str | None:
    """Recreate a source index on its target table (non-unique: uniqueness held per
    source need not hold across sources). Returns a note when it cannot."""
    listing = {
        row[1]: row for row in connection.execute(f"PRAGMA {SOURCE_ALIAS}.index_list({q(plan.source.name)})")
    }
    if listing.get(name) and listing[name][4]:
        return f"partial index {name!r} kept for rebuild only"
    parts = []
    for _seq, cid, column, desc, collation, is_key in connection.execute(
        f"PRAGMA {SOURCE_ALIAS}.index_xinfo({q(name)})"
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


# -- one source ------------------------------------------------------------------------------


@dataclass
class MigrationSettings:
    """``partition``: continue in numbered shards at the cap (else abort and roll back)."""

    limit: int
    policy: ConflictPolicy = field(default_factory=ConflictPolicy)
    resolver: Callable | None = None
    partition: bool = True


def migrate_source(
    connection: sqlite3.Connection,
    target: Path,
    path: Path,
    name: str,
    settings: MigrationSettings,
    before_write: Callable[[], None] = lambda: None,
) -> SourceOutcome:
    """Migrate one source in one transaction (or recognise it as already migrated)."""
    with readonly_uri(path) as uri:
        connection.execute(f"ATTACH DATABASE ? AS {SOURCE_ALIAS}", (uri,))
        shards = ShardSet(connection, target, settings.limit, settings.partition)
        committed = False
        try:
            outcome = _migrate_attached(connection, shards, target, path, name, settings, before_write)
            committed = True
            return outcome
        except sqlite3.DatabaseError as error:
            if "full" in str(error):
                raise Aborted(
                    f"{target}: would grow past the cap of {format_size(settings.limit)} while "
                    f"migrating {name}; rolled back"
                ) from None
            raise BadInput(f"{path}: cannot be migrated ({error})") from None
        finally:
            shards.close(committed)
            connection.execute(f"DETACH DATABASE {SOURCE_ALIAS}")


def _migrate_attached(connection, shards: ShardSet, target, path, name, settings, before_write) -> SourceOutcome:
    previous = connection.execute(
        "SELECT id, fingerprint, file_sha256 FROM main.migration_sources WHERE name = ?", (name,)
    ).fetchone()
    file_hash = file_sha256(path, *sidecar_paths(path))
    outcome = SourceOutcome(name, str(path), "migrated")
    # The same bytes are the same rows: only a changed file is read row by row.
    unchanged = previous is not None and previous[2] == file_hash
    if not unchanged:
        description = describe_source(connection, SOURCE_ALIAS)
        fingerprints, fingerprint = fingerprint_source(connection, SOURCE_ALIAS, description)
        unchanged = previous is not None and previous[1] == fingerprint
    if unchanged:
        outcome.action = "unchanged"
        outcome.tables = [
            TableOutcome(*row)
            for row in connection.execute(
                "SELECT source_table, target_table, rows_read, rows_stored, duplicates_folded, conflicts_kept, note "
                "FROM main.migration_table_accounting WHERE source_id = ? ORDER BY source_table",
                (previous[0],),
            )
        ]
        return outcome
    before_write()
    shards.open(expected_bytes=os.stat(path).st_size)
    operation = Operation("migrate", subject=name)
    with write_transaction(connection, target):
        shards.enforce_cap()
        installed_triggers = lift_triggers(connection)
        if previous:
            remove_source(connection, shards, previous[0], settings.policy)
            outcome.action = "remigrated"
        source_id = _record_source(connection, path, name, description, fingerprint, file_hash)
        plans = {}
        for table in description.tables:
            plan = plan_table(connection, shards, table, name)
            plans[table.name] = plan
            outcome.tables.append(
                _migrate_table(connection, shards, plan, source_id, name, fingerprints[table.name], settings)
            )
        for table in description.virtual_tables:
            outcome.tables.append(
                _migrate_virtual_table(connection, table, source_id, name, fingerprints[table.name])
            )
        outcome.notes.extend(_rebuild_content_indexes(connection, description, name))
        notes, source_triggers = carry_schema_objects(connection, description, plans, name)
        outcome.notes = [t.note for t in outcome.tables if t.note] + outcome.notes + notes
        for trigger_name, sql in installed_triggers + source_triggers:
            note = _carry_statement(connection, trigger_name, sql, "trigger")
            if note and (trigger_name, sql) in source_triggers:
                outcome.notes.append(note)
        shards.record_sizes()
        operation.counts = {
            "tables": len(outcome.tables),
            "rows_read": outcome.total("rows_read"),
            "rows_stored": outcome.total("rows_stored"),
            "duplicates_folded": outcome.total("duplicates_folded"),
            "conflicts_kept": outcome.total("conflicts_kept"),
            "shards": len(shards.numbers),
        }
        operation.bytes = os.stat(path).st_size
        operation.details = {
            "action": outcome.action,
            "policy": str(settings.policy),
            "notes": outcome.notes,
            "shard_sizes": {str(n): shards.allocated(n) for n in shards.numbers},
        }
        operation.record(connection, "ok")
        outcome.shards = len(shards.numbers)
    return outcome


def _record_source(
    connection, path: Path, name: str, description: SourceDescription, fingerprint: str, file_hash: str
) -> int:
    stat = os.stat(path)
    cursor = connection.execute(
        "INSERT INTO main.migration_sources (name, original_path, file_sha256, fingerprint, bytes, mtime_ns, "
        "schema_objects, internal_rows, header, status, migrated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'migrated', ?)",
        (
            name,
            str(path.resolve()),
            file_hash,
            fingerprint,
            stat.st_size,
            stat.st_mtime_ns,
            json.dumps(description.schema_objects),
            json.dumps(description.internal_rows),
            json.dumps(description.header),
            utc_now(),
        ),
    )
    return cursor.lastrowid


def _migrate_table(connection, shards, plan: TablePlan, source_id: int, source_name: str, fingerprint: str, settings) -> TableOutcome:
    table = plan.source
    apply_plan(connection, shards, plan)
    table_id = connection.execute(
        "INSERT INTO main.migration_table_accounting (source_id, source_table, target_table, conflicts_table, "
        "key_columns, columns, row_identity, note, rows_read, rows_stored, duplicates_folded, conflicts_kept, "
        "fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, ?)",
        (
            source_id,
            table.name,
            plan.target,
            conflicts_table(plan.target),
            json.dumps(table.key),
            json.dumps(table.column_names),
            table.row_identity,
            plan.note,
            fingerprint,
        ),
    ).lastrowid
    decide = policy_decider(settings.policy, source_id, source_name, settings.resolver)
    merger = RowMerger(connection, plan, table_id, shards)
    merger.merge(decide)
    rows_read = int(fingerprint.split(":", 1)[0])
    linked = connection.execute(
        "SELECT count(*) FROM main.migration_row_links WHERE table_id = ?", (table_id,)
    ).fetchone()[0]
    if linked != rows_read:  # never commit a migration that cannot account for every row
        raise Aborted(
            f"{source_name}: table {table.name!r}: {rows_read} rows read but {linked} placed; rolled back"
        )
    if merger.moved_shown_rows:
        recount(connection, plan.target)
        record_conflicts(connection, shards, plan.target, settings.policy)
    else:
        recount(connection, plan.target, table_id)
        record_conflicts(connection, shards, plan.target, settings.policy, kept_source=source_id)
    row = connection.execute(
        "SELECT rows_read, rows_stored, duplicates_folded, conflicts_kept FROM main.migration_table_accounting "
        "WHERE id = ?",
        (table_id,),
    ).fetchone()
    return TableOutcome(table.name, plan.target, *row, note=plan.note)


_VIRTUAL_TABLE_NAME = re.compile(
    r"^(\s*CREATE\s+VIRTUAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?)"
    r"(\"(?:[^\"]|\"\")*\"|\[[^\]]*\]|`(?:[^`]|``)*`|'(?:[^']|'')*'|[^\s(]+)",
    re.IGNORECASE,
)


def _migrate_virtual_table(connection, table: SourceTable, source_id: int, source_name: str, fingerprint: str) -> TableOutcome:
    """Recreate a virtual table (FTS5 and the like) and fill it through its module.

    Its shadow tables are never copied: the module builds its own from the rows. Virtual
    tables are not merged across sources; a second one of the same name is kept apart.
    """
    target, note = table.name, None
    if _table_exists(connection, target):
        target = _apart(connection, table, source_name, "virtual tables are not merged").target
        note = f"virtual table kept apart as {target!r}: virtual tables are not merged"
    connection.execute(_VIRTUAL_TABLE_NAME.sub(lambda match: match.group(1) + q(target), table.virtual_sql, count=1))
    columns = ", ".join(q(name) for name in table.column_names)
    table_id = connection.execute(
        "INSERT INTO main.migration_table_accounting (source_id, source_table, target_table, conflicts_table, "
        "key_columns, columns, row_identity, note, rows_read, rows_stored, duplicates_folded, conflicts_kept, "
        "fingerprint) VALUES (?, ?, ?, ?, '[]', ?, 'rowid', ?, 0, 0, 0, 0, ?)",
        (source_id, table.name, target, conflicts_table(target), json.dumps(table.column_names), note, fingerprint),
    ).lastrowid
    source = f"{SOURCE_ALIAS}.{q(table.name)}"
    connection.execute(
        f"INSERT INTO main.migration_row_links ({LINK_COLUMNS}) SELECT {table_id}, rowid, 1, rowid, 0 FROM {source}"
    )
    connection.execute(f"INSERT INTO main.{q(target)} (rowid, {columns}) SELECT rowid, {columns} FROM {source}")
    recount(connection, target, table_id)
    row = connection.execute(
        "SELECT rows_read, rows_stored, duplicates_folded, conflicts_kept FROM main.migration_table_accounting "
        "WHERE id = ?",
        (table_id,),
    ).fetchone()
    if row[0] != int(fingerprint.split(":", 1)[0]):
        raise Aborted(f"{source_name}: virtual table {table.name!r}: not every row was placed; rolled back")
    return TableOutcome(table.name, target, *row, note=note)


def _rebuild_content_indexes(connection, description: SourceDescription, source_name: str) -> list[str]:
    """External-content full-text indexes hold no rows of their own: recreate each over
    the consolidated content table and let the module rebuild it."""
    notes = []
    for kind, name, _table, sql in description.schema_objects:
        content = content_option(sql) if kind == "table" and sql and sql.upper().startswith("CREATE VIRTUAL") else None
        if not content:
            continue
        if _table_exists(connection, name):
            notes.append(f"full-text index {name!r} already exists in the consolidated set; kept for rebuild only")
            continue
        connection.execute(sql)
        connection.execute(f"INSERT INTO main.{q(name)} ({q(name)}) VALUES ('rebuild')")
        notes.append(f"full-text index {name!r} rebuilt over the consolidated {content!r}")
    return notes


# -- many sources ------------------------------------------------------------------------------


def migrate(
    target: Path | str,
    sources: list[Path | str],
    settings: MigrationSettings,
    backup_directory: Path | None = None,
    track=lambda items: items,
    dry_run: bool = False,
) -> MigrationReport:
    """Merge ``sources`` into ``target`` (created if missing), one transaction per source.

    An existing target is backed up (verified, outside the workspace) before its first
    change. Sources are only ever read. ``dry_run`` rehearses the whole migration on a
    private temporary copy of the target, so its report is exact and nothing is written.
    """
    target = Path(target)
    paths = _validate_sources(target, sources)
    if not dry_run:
        return _migrate_into(target, paths, settings, backup_directory, track)
    with tempfile.TemporaryDirectory(prefix="assetdb-dry-run-") as scratch:
        rehearsal = Path(scratch) / target.name
        if target.exists():
            with open_readonly(target) as reader:
                writer = sqlite3.connect(rehearsal)
                reader.backup(writer)
                writer.close()
        report = _migrate_into(rehearsal, paths, settings, None, track, back_up=False)
    report.target = str(target)
    for outcome in report.sources:
        outcome.action = "planned" if outcome.action != "unchanged" else outcome.action
    return report


def _migrate_into(target, paths, settings, backup_directory, track, back_up=True) -> MigrationReport:
    existed = target.exists()
    if not existed:
        initialize(target, settings.limit)
    connection = connect_assetdb(target)
    report = MigrationReport(str(target), [])
    try:
        known = dict(connection.execute("SELECT name, original_path FROM main.migration_sources"))
        names = assign_source_names(paths, known)

        def backup_once() -> None:
            if back_up and existed and report.backup is None:
                record = backup_database(target, backup_directory or default_backup_directory())
                report.backup = record.backup

        for path in track(paths):
            report.sources.append(migrate_source(connection, target, path, names[path], settings, backup_once))
    finally:
        connection.close()
    return report


def _validate_sources(target: Path, sources: list[Path | str]) -> list[Path]:
    if not sources:
        raise BadInput("no source databases given")
    paths, seen = [], set()
    for raw in sources:
        path = Path(raw)
        if not path.is_file():
            raise BadInput(f"{path}: no such source database")
        resolved = path.resolve()
        if target.exists() and resolved == target.resolve():
            raise BadInput(f"{path}: is the target itself")
        if resolved not in seen:
            seen.add(resolved)
            paths.append(path)
    return paths
