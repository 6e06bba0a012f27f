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
  source rebuildable and verifiable; rows stored as they are are linked a run at a time.
* Each source is migrated in one transaction, so a kill at any moment leaves the target
  as it was before that source or as it is after it; migrating an unchanged source again
  does nothing, and a changed source first has its old contribution removed.

The heavy lifting is set-based SQL over the ATTACHed source; Python only plans.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Aborted, BadInput
from ..size import database_size, sidecar_paths
from ..sqlite import (
    SourceDescription,
    describe_source,
    file_sha256,
    readonly_uri,
)
from ..sqlite.describe import fingerprint_source
from ..sqlite.fingerprint import FORMAT, fingerprint_format
from ..sqlite.recreate import source_encoding
from ..store import (
    Operation,
    utc_now,
    write_session,
)
from ..store.provenance import reaches_next_link
from .accounting import record_conflicts, remove_source
from .fingerprinting import BackgroundFingerprint
from .objects import _carry_statement, carry_schema_objects, lift_triggers
from .outcome import SourceOutcome, TableOutcome
from .plan import (
    TablePlan,
    apply_plan,
    conflicts_table,
    plan_table,
)
from .policy import ConflictPolicy, policy_decider
from .rows import RowMerger
from .virtual import migrate_virtual_table, rebuild_content_indexes

#: The name a source is attached under while it is migrated.
SOURCE_ALIAS = "src"


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
    with readonly_uri(path, allow_empty=True, attach=True) as uri:
        connection.execute(f"ATTACH DATABASE ? AS {SOURCE_ALIAS}", (uri,))
        try:
            return _migrate_attached(connection, target, path, uri, name, settings, before_write)
        except sqlite3.DatabaseError as error:
            raise BadInput(f"{path}: cannot be migrated ({error})") from None
        finally:
            connection.execute(f"DETACH DATABASE {SOURCE_ALIAS}")


def _migrate_attached(connection, target, path, uri, name, settings, before_write) -> SourceOutcome:
    previous = connection.execute(
        "SELECT id, fingerprint, file_sha256, header FROM main.migration_sources WHERE name = ?", (name,)
    ).fetchone()
    outcome = SourceOutcome(name, str(path), "migrated")
    # The same bytes are the same rows: only a changed file is read row by row. (A new
    # source's bytes are hashed on the fingerprint's thread, alongside the merge.)
    file_hash = file_sha256(path, *sidecar_paths(path)) if previous is not None else None
    unchanged = previous is not None and previous[2] == file_hash
    if not unchanged:
        description = describe_source(connection, SOURCE_ALIAS, uri)
        description.header["encoding"] = source_encoding(path)  # the attached copy of a UTF-16 file is UTF-8
        if previous is not None:
            # Rows recorded in an earlier format are not proved the same by it (format 1
            # could not see past a NUL in a text, format 2 the sign of a zero): such a
            # source is migrated again.
            recorded = _recorded_format(connection, previous[0])
            if recorded == FORMAT:
                taken = fingerprint_source(connection, SOURCE_ALIAS, description)
                # the same rows and schema, and the same header fields the rebuild writes
                # (user_version, application_id…), which no fingerprint covers
                unchanged = previous[1] == taken[1] and json.loads(previous[3]) == description.header
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
    if previous is not None and recorded == FORMAT:  # fingerprinted above, to tell an unchanged source
        return _write_source(connection, target, path, name, settings, previous, description,
                             outcome, lambda: (*taken, file_hash))
    background = BackgroundFingerprint(uri, description, (path, *sidecar_paths(path)))
    try:
        return _write_source(connection, target, path, name, settings, previous, description,
                             outcome, background.result)
    finally:
        background.cancel()  # a no-op once the read is done; stops it if the write failed


def _recorded_format(connection: sqlite3.Connection, source_id: int) -> int:
    """The fingerprint format a migrated source's tables were recorded in (the current one
    for a source without tables: its fingerprint does not depend on it)."""
    row = connection.execute(
        "SELECT fingerprint FROM main.migration_table_accounting WHERE source_id = ? AND fingerprint <> '' LIMIT 1",
        (source_id,),
    ).fetchone()
    return FORMAT if row is None else fingerprint_format(row[0])


def _write_source(connection, target, path, name, settings, previous, description,
                  outcome: SourceOutcome, fingerprints) -> SourceOutcome:
    """The source's one write session: its rows, schema objects, fingerprints and log row."""
    operation = Operation("migrate", subject=name)
    with write_session(target, settings.limit, f"migrating {name}", expected_bytes=database_size(path),
                       partition=settings.partition, connection=connection) as session:
        shards = session.shards
        installed_triggers = lift_triggers(connection)
        if previous:
            remove_source(connection, shards, previous[0], settings.policy)
            outcome.action = "remigrated"
        source_id = _record_source(connection, path, name, description)
        plans = {}
        lifted = [trigger for trigger, _sql in installed_triggers]
        for table in description.tables:
            try:
                plan = plan_table(connection, shards, table, name, lifted)
                plans[table.name] = plan
                outcome.tables.append(_migrate_table(connection, shards, plan, source_id, name, settings))
            except sqlite3.DatabaseError as error:
                if isinstance(error, sqlite3.OperationalError) and "full" in str(error):
                    raise  # the cap or the disk: the write session says which
                raise BadInput(f"{path}: table {table.name!r} cannot be migrated ({error}); nothing was written") \
                    from None
        for table in description.virtual_tables:
            outcome.tables.append(migrate_virtual_table(connection, table, source_id, name))
        _record_fingerprints(connection, source_id, name, *fingerprints())
        outcome.notes.extend(rebuild_content_indexes(connection, description, name))
        notes, source_triggers = carry_schema_objects(connection, description, plans, name)
        outcome.notes = [t.note for t in outcome.tables if t.note] + outcome.notes + notes
        for trigger_name, sql in installed_triggers + source_triggers:
            note = _carry_statement(connection, trigger_name, sql, "trigger")
            if note and (trigger_name, sql) in source_triggers:
                outcome.notes.append(note)
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


def _record_source(connection, path: Path, name: str, description: SourceDescription) -> int:
    """The source's ledger row; its fingerprint and file hash are filled in by
    :func:`_record_fingerprints`."""
    stat = os.stat(path)
    cursor = connection.execute(
        "INSERT INTO main.migration_sources (name, original_path, file_sha256, fingerprint, bytes, mtime_ns, "
        "schema_objects, internal_rows, header, status, migrated_at) "
        "VALUES (?, ?, '', '', ?, ?, ?, ?, ?, 'migrated', ?)",
        (
            name,
            str(path.resolve()),
            stat.st_size,
            stat.st_mtime_ns,
            json.dumps(description.schema_objects),
            json.dumps(description.internal_rows),
            json.dumps(description.header),
            utc_now(),
        ),
    )
    return cursor.lastrowid


def _record_fingerprints(
    connection, source_id: int, source_name: str, tables: dict[str, str], fingerprint: str, file_hash: str
) -> None:
    """Record what the source's own read found (and the SHA-256 of its bytes), and hold it
    against what was placed: a table whose fingerprint counts other rows than the merge
    read is never committed."""
    for table, table_fingerprint in tables.items():
        rows = int(table_fingerprint.split(":", 1)[0])
        updated = connection.execute(
            "UPDATE main.migration_table_accounting SET fingerprint = ? "
            "WHERE source_id = ? AND source_table = ? AND rows_read = ?",
            (table_fingerprint, source_id, table, rows),
        ).rowcount
        if updated != 1:
            raise Aborted(f"{source_name}: table {table!r}: the fingerprint counts {rows} rows, the merge others; rolled back")
    connection.execute("UPDATE main.migration_sources SET fingerprint = ?, file_sha256 = ? WHERE id = ?",
                       (fingerprint, file_hash, source_id))


def _migrate_table(connection, shards, plan: TablePlan, source_id: int, source_name: str, settings) -> TableOutcome:
    table = plan.source
    apply_plan(connection, shards, plan)
    table_id = connection.execute(
        "INSERT INTO main.migration_table_accounting (source_id, source_table, target_table, conflicts_table, "
        "key_columns, columns, row_identity, note, rows_read, rows_stored, duplicates_folded, conflicts_kept, "
        "fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, '')",
        (
            source_id,
            table.name,
            plan.target,
            conflicts_table(plan.target),
            json.dumps(table.key),
            json.dumps(table.column_names),
            table.row_identity,
            plan.note,
        ),
    ).lastrowid
    decide = policy_decider(settings.policy, source_id, source_name, settings.resolver)
    merger = RowMerger(connection, plan, table_id, shards, str(settings.policy))
    merger.merge(decide)
    rows_read = connection.execute(f"SELECT count(*) FROM {table.qualified_name}").fetchone()[0]
    linked, overlapping = connection.execute(
        f"SELECT coalesce(sum(l.span), 0), coalesce(sum({reaches_next_link('l')}), 0) "
        "FROM main.migration_row_links AS l WHERE l.table_id = ?",
        (table_id,),
    ).fetchone()
    if linked != rows_read or overlapping:  # never commit a migration that cannot account for every row
        raise Aborted(
            f"{source_name}: table {table.name!r}: {rows_read} rows read but {linked} placed"
            f"{f', {overlapping} links overlapping the next' if overlapping else ''}; rolled back"
        )
    placed = merger.placed  # the statements' own counts are the books (a displacement booked the others')
    connection.execute(
        "UPDATE main.migration_table_accounting SET rows_read = ?, rows_stored = ?, duplicates_folded = ?, "
        "conflicts_kept = ? WHERE id = ?",
        (linked, placed["stored"], placed["folded"], placed["conflicts"], table_id),
    )
    if merger.moved_shown_rows and not merger.list_by_key:  # the list is rewritten from the links
        record_conflicts(connection, shards, plan.target, settings.policy)
    row = connection.execute(
        "SELECT rows_read, rows_stored, duplicates_folded, conflicts_kept FROM main.migration_table_accounting "
        "WHERE id = ?",
        (table_id,),
    ).fetchone()
    return TableOutcome(table.name, plan.target, *row, note=plan.note)
