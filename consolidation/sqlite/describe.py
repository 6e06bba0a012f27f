"""What a source database holds, as the migration engine needs to know it.

Read through the read-only opener; nothing here writes. The description records, per
table, its stored columns with their declared types and affinities, its key (declared
primary key, or none), whether rows are identified by rowid or, for ``WITHOUT ROWID``
tables, by their ordinal in key order, and the schema objects and internal rows
(``sqlite_sequence``, ``sqlite_stat*``) a faithful rebuild needs.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass, field

from ..errors import BadInput
from .fingerprint import FORMAT, StoredRows, rows_fingerprint
from .introspect import folded, free_rowid_alias, quote_identifier

#: Internal tables that are state of SQLite itself, never data to merge.
INTERNAL_TABLES = ("sqlite_sequence", "sqlite_stat1", "sqlite_stat2", "sqlite_stat3", "sqlite_stat4")


def affinity(declared_type: str, strict: bool = False) -> str:
    """The column affinity SQLite derives from a declared type (datatype3.html §3.1).

    In a STRICT table ``ANY`` keeps every value as given, which is affinity BLOB
    ("none") outside STRICT tables.
    """
    upper = declared_type.upper()
    if strict and upper == "ANY":
        return "BLOB"
    if "INT" in upper:
        return "INTEGER"
    if any(marker in upper for marker in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in upper or not upper:
        return "BLOB"
    if any(marker in upper for marker in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


@dataclass(frozen=True)
class Column:
    name: str
    declared_type: str
    affinity: str


@dataclass
class SourceTable:
    """One ordinary table of a source and how its rows are identified."""

    name: str
    columns: list[Column]
    key: list[str]  # declared primary key columns, in key order; [] when none
    integer_key: bool  # one key column declared INTEGER, in a rowid table (the rowid unless DESC)
    rowid: str | None  # expression selecting the rowid; None for WITHOUT ROWID
    generated: list[str] = field(default_factory=list)
    virtual_sql: str | None = None  # CREATE VIRTUAL TABLE …, for virtual tables
    #: The key is the rowid, so a row's identity is its key. Not so for a column declared
    #: ``INTEGER PRIMARY KEY DESC``: SQLite gives it an index and the rows rowids of their own.
    key_is_rowid: bool = False
    #: The schema it was described in, on the connection that described it (a source is
    #: attached under a name of its own, so the merge reads it where it was found).
    schema: str = "main"

    @property
    def qualified_name(self) -> str:
        """``schema."name"``, as the connection that described the table reads it."""
        return f"{self.schema}.{quote_identifier(self.name)}"

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def merged_columns(self) -> list[Column]:
        """What the merge copies into the consolidated table: the stored columns, and each
        generated column's values as data (without affinity, so never converted), compared
        like any other; only the stored ones are the source's to prove and rebuild."""
        return [*self.columns, *(Column(name, "", "BLOB") for name in self.generated)]

    @property
    def row_identity(self) -> str:
        return "rowid" if self.rowid else "ordinal"

    def identity_expression(self, alias: str) -> str:
        """SQL for a row's identity: its rowid, or its ordinal in primary-key order."""
        if self.rowid:
            return f"{alias}.{self.rowid}"
        order = ", ".join(f"{alias}.{quote_identifier(name)}" for name in self.key)
        return f"row_number() OVER (ORDER BY {order})"

    @property
    def identity_column(self) -> str:
        """The name a row's identity goes under beside the table's own columns in
        :meth:`select_rows`: ``_identity``, with one more underscore in front for as long as
        the table has a column of that name (which the alias would otherwise shadow, and a
        copy of the rows take the identity for the column's values)."""
        taken = {folded(name) for name in [*self.column_names, *self.generated]}
        name = "_identity"
        while name in taken:
            name = f"_{name}"
        return name

    def select_rows(self, schema: str, names: list[str] | None = None) -> str:
        """``SELECT identity, columns…`` (``names``, else the stored columns) over this table
        in ``schema``; the identity is called :attr:`identity_column`."""
        columns = ", ".join(f"s.{quote_identifier(name)}" for name in (names or self.column_names))
        return (
            f"SELECT {self.identity_expression('s')} AS {quote_identifier(self.identity_column)}, {columns} "
            f"FROM {schema}.{quote_identifier(self.name)} AS s"
        )


@dataclass
class SourceDescription:
    tables: list[SourceTable]
    schema_objects: list[list[str | None]]  # [type, name, tbl_name, sql] in creation order
    internal_rows: dict[str, list[list]]  # internal table -> [[rowid, typed values…]]
    header: dict[str, int]
    virtual_tables: list[SourceTable]  # read through their module, recreated, never via shadow tables


def _hidden_data_columns(connection: sqlite3.Connection, schema: str, table: str) -> set[str]:
    """Hidden columns of a virtual table that hold data all the same: an FTS4 table's
    ``languageid=`` column (every other hidden column — FTS's own name, rank, docid — is
    the module's, not the rows')."""
    row = connection.execute(f"SELECT sql FROM {schema}.sqlite_schema WHERE name = ?", (table,)).fetchone()
    sql = row[0] if row else None
    if virtual_module(sql) != "fts4":
        return set()
    column = module_option(sql, "languageid")
    return {column} if column else set()


def untyped_columns(connection: sqlite3.Connection, source: SourceTable, schema: str, table: str) -> set[str]:
    """The columns of ``source``, quoted as it spells them, without affinity there or in
    ``schema.table`` (the rows they are compared with, whatever the ASCII case of the names
    there): the only ones in which a -0.0 stays apart from 0.0 (see ``expressions.same_row``)."""
    declared = {folded(row[1]): affinity(row[2] or "") for row in connection.execute(
        f"PRAGMA {schema}.table_info({quote_identifier(table)})")}
    return {quote_identifier(column.name) for column in source.merged_columns
            if column.affinity == "BLOB" or declared.get(folded(column.name)) == "BLOB"}


def _columns(connection: sqlite3.Connection, schema: str, table: str, strict: bool):
    stored, generated, key = [], [], []
    rows = connection.execute(f"PRAGMA {schema}.table_xinfo({quote_identifier(table)})").fetchall()
    hidden_data = _hidden_data_columns(connection, schema, table) if any(row[6] == 1 for row in rows) else set()
    for _cid, name, declared, _notnull, _default, pk, hidden in rows:
        if hidden == 1 and name not in hidden_data:  # the module's own (FTS's table name, rank): not data
            continue
        if hidden in (2, 3):
            generated.append(name)
            continue
        stored.append(Column(name, declared or "", affinity(declared or "", strict)))
        if pk:
            key.append((pk, name))
    return stored, generated, [name for _, name in sorted(key)]


def describe_table(connection: sqlite3.Connection, schema: str, name: str) -> SourceTable:
    listing = connection.execute(
        "SELECT wr, strict FROM pragma_table_list WHERE schema = ? AND name = ?", (schema, name)
    ).fetchone()
    without_rowid, strict = bool(listing[0]), bool(listing[1])
    columns, generated, key = _columns(connection, schema, name, strict)
    integer_key = (
        not without_rowid
        and len(key) == 1
        and next(c for c in columns if c.name == key[0]).declared_type.upper() == "INTEGER"
    )
    rowid = None if without_rowid else free_rowid_alias([c.name for c in columns] + generated)
    key_is_rowid = integer_key and key_has_no_index(connection, schema, name)
    return SourceTable(name, columns, key, integer_key, rowid, generated, key_is_rowid=key_is_rowid, schema=schema)


def key_has_no_index(connection: sqlite3.Connection, schema: str, name: str) -> bool:
    """Is the single INTEGER primary key of table ``name`` the rowid itself? It is unless it
    was declared ``INTEGER PRIMARY KEY DESC``: SQLite then gives the key an index of its own
    and the column may hold any value (text, reals, NULL), as any other column would."""
    # The schema goes as the pragma's argument: a "schema.pragma_index_list" prefix reads the
    # table of that name in main.
    return not connection.execute(
        "SELECT 1 FROM pragma_index_list(?, ?) WHERE origin = 'pk'", (name, schema)
    ).fetchone()


_OPTION = r"[(,]\s*{name}\s*=\s*(?:'((?:[^']|'')*)'|\"((?:[^\"]|\"\")*)\"|([^\s,)]*))"


def module_option(sql: str | None, name: str) -> str | None:
    """The value of option ``name`` in a ``CREATE VIRTUAL TABLE … USING module(…)``, or None."""
    match = re.search(_OPTION.format(name=re.escape(name)), sql or "", re.IGNORECASE)
    if match is None:
        return None
    return next(group for group in match.groups() if group is not None)


def with_module_option(sql: str, name: str, value: str) -> str:
    """``sql`` with the value of its module's option ``name`` (which it has) set to ``value``."""
    match = re.search(_OPTION.format(name=re.escape(name)), sql, re.IGNORECASE)
    group = next(index for index in (1, 2, 3) if match.group(index) is not None)
    start, end = match.span(group)
    if group != 3:  # the quotes go with the value
        start, end = start - 1, end + 1
    return sql[:start] + "'" + value.replace("'", "''") + "'" + sql[end:]


_MODULE = re.compile(r"\bUSING\s+(\w+)\s*\(", re.IGNORECASE)
#: Modules that read ``content=`` as an option. FTS3 has no such option: there,
#: ``content="x"`` declares a column named ``content``, whose text the table keeps.
CONTENT_OPTION_MODULES = ("fts4", "fts5")


def virtual_module(sql: str | None) -> str | None:
    """The module a ``CREATE VIRTUAL TABLE`` statement uses, lower-cased (``fts5``)."""
    match = _MODULE.search(sql or "")
    return match.group(1).lower() if match else None


def content_option(sql: str) -> str | None:
    """The ``content=`` option of an FTS4 or FTS5 table: None when it keeps its own text,
    the content table's name for an external-content index, '' for a contentless one."""
    if virtual_module(sql) not in CONTENT_OPTION_MODULES:
        return None
    return module_option(sql, "content")


def _describe_virtual(connection: sqlite3.Connection, schema: str, name: str, sql: str) -> SourceTable:
    try:
        columns, _, _ = _columns(connection, schema, name, strict=False)
        connection.execute(f"SELECT rowid FROM {schema}.{quote_identifier(name)} LIMIT 1").fetchall()
    except sqlite3.OperationalError as error:
        raise BadInput(f"virtual table {name!r} cannot be read here ({error})") from None
    return SourceTable(name, columns, [], False, "rowid", virtual_sql=sql, schema=schema)


def _typed(value) -> list:
    """A JSON-safe value that keeps its SQLite storage class."""
    if isinstance(value, bytes):
        return ["blob", value.hex()]
    if isinstance(value, float):
        return ["real", value.hex()]
    return ["value", value]


def untyped(pair: list):
    """Inverse of :func:`_typed`."""
    kind, value = pair
    if kind == "blob":
        return bytes.fromhex(value)
    if kind == "real":
        return float.fromhex(value)
    return value


def _require_known_collations(connection: sqlite3.Connection, schema: str, table: SourceTable) -> None:
    """A column declared with a collation this SQLite lacks (one an application registered)
    cannot be recreated in the consolidated set; say so before anything is written. SQLite
    looks a column's collation up when a statement orders by it, so preparing one tells."""
    if not table.columns:
        return
    order = ", ".join(quote_identifier(name) for name in table.column_names)
    try:
        connection.execute(f"EXPLAIN SELECT 1 FROM {schema}.{quote_identifier(table.name)} ORDER BY {order}")
    except sqlite3.OperationalError as error:
        if "no such collation sequence" not in str(error):
            raise
        collation = str(error).rsplit(":", 1)[-1].strip()
        raise BadInput(
            f"table {table.name!r} uses the collation {collation!r}, which only the application that wrote it defines"
        ) from None


def table_kinds(connection: sqlite3.Connection, schema: str = "main", uri: str | None = None) -> dict[str, str]:
    """Each table of ``schema`` (SQLite's own aside), by name in order, as ``table``,
    ``virtual`` or ``shadow`` (one a virtual table of the same schema keeps its data in).

    SQLite's ``pragma_table_list`` calls a table a shadow table when a virtual table named
    like its prefix exists in ANY schema, main first: for an attached source, the
    consolidated set's. So an attached schema's shadow tables are asked of the file on a
    connection of its own, opened by ``uri`` (the one it was attached by)."""
    listing = connection.execute(
        "SELECT name, type FROM pragma_table_list "
        "WHERE schema = ? AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        (schema,),
    ).fetchall()
    if not any(kind in ("virtual", "shadow") for _name, kind in listing):
        return dict(listing)  # no virtual table here: none of its tables is one's (the usual case, asked once)
    shadows = _shadow_tables(connection if schema == "main" else None, uri)
    return {name: "shadow" if name in shadows else "table" if kind == "shadow" else kind for name, kind in listing}


def _shadow_tables(connection: sqlite3.Connection | None, uri: str | None) -> set[str]:
    query = "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'"
    if connection is not None:
        return {row[0] for row in connection.execute(query)}
    if uri is None:
        raise ValueError("the shadow tables of an attached schema are asked by the URI it was attached by")
    own = sqlite3.connect(uri, uri=True)
    try:
        return {row[0] for row in own.execute(query)}
    finally:
        own.close()


def describe_source(connection: sqlite3.Connection, schema: str = "main", uri: str | None = None) -> SourceDescription:
    """Tables, schema objects, internal rows and header fields of a source: the main
    database of ``connection``, or the one attached as ``schema`` by ``uri``."""
    kinds = table_kinds(connection, schema, uri)
    tables = [describe_table(connection, schema, name) for name, kind in kinds.items() if kind == "table"]
    for table in tables:
        if table.rowid is None and not table.key:
            raise BadInput(f"table {table.name!r} has no rowid alias free and no primary key")
        _require_known_collations(connection, schema, table)
        if any(folded(name) == "rowid" for name in table.column_names + table.generated):
            # the consolidated set addresses every row it holds by ``rowid``; a column of that
            # name would be addressed instead, and its values overwritten
            raise BadInput(f"table {table.name!r} has a column named {'rowid'!r}, the name the consolidated "
                           "set gives each row's identity")
    # Shadow tables are recorded as such: a rebuild recreates them through their module.
    objects = [
        ["shadow" if kinds.get(name) == "shadow" else kind, name, table, sql]
        for kind, name, table, sql in connection.execute(
            f"SELECT type, name, tbl_name, sql FROM {schema}.sqlite_schema ORDER BY rowid"
        )
    ]
    virtual = []
    for _kind, name, _table, sql in objects:
        if kinds.get(name) != "virtual":
            continue
        content = content_option(sql)
        if content == "":
            raise BadInput(f"contentless full-text table {name!r} cannot be migrated losslessly: its text is not stored")
        if content is None:  # an external-content index is rebuilt over its content table instead
            virtual.append(_describe_virtual(connection, schema, name, sql))
    present = {row[1] for row in objects if row[0] == "table"}
    internal = {}
    for table in INTERNAL_TABLES:
        if table in present:
            internal[table] = [
                [_typed(value) for value in row]
                for row in connection.execute(f"SELECT rowid, * FROM {schema}.{quote_identifier(table)} ORDER BY rowid")
            ]
    header = {
        pragma: connection.execute(f"PRAGMA {schema}.{pragma}").fetchone()[0]
        for pragma in ("user_version", "application_id", "page_size", "auto_vacuum")
    }
    return SourceDescription(tables, objects, internal, header, virtual)


def fingerprint_source(
    connection: sqlite3.Connection, schema: str, description: SourceDescription, form: int = FORMAT
) -> tuple[dict[str, str], str]:
    """Each table's fingerprint (its identity and every stored column, row by row), and the
    source's: schema, internal rows and all tables; taken in format ``form``.

    Two files with the same source fingerprint rebuild to each other, row for row. Schema
    objects count as a set: their order in ``sqlite_schema`` is history, not content
    (``sqlite_stat1`` appears wherever ANALYZE first ran).
    """
    tables = {
        table.name: rows_fingerprint(connection, table.select_rows(schema), 1 + len(table.columns), stored=(
            StoredRows(schema, table.name, table.rowid, table.column_names)
            if table.rowid and table in description.tables else None  # a virtual table's blobs cannot be opened
        ), form=form)
        for table in description.tables + description.virtual_tables
    }
    return tables, source_fingerprint(description, tables)


def source_fingerprint(description: SourceDescription, tables: dict[str, str]) -> str:
    """The source's fingerprint from its schema objects, internal rows and each table's."""
    objects = sorted(description.schema_objects, key=lambda entry: (entry[0], entry[1]))
    document = json.dumps([objects, description.internal_rows, sorted(tables.items())], sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()
