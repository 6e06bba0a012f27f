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
* A few sources are migrated in one transaction, so a kill at any moment leaves the target
  as it was before them or as it is after them; migrating an unchanged source again does
  nothing (it is recognised before the transaction begins), and a changed source first
  has its old contribution removed.

The heavy lifting is set-based SQL over the ATTACHed source; Python only plans.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Aborted, BadInput
from ..size import database_size, sidecar_paths
from ..sqlite import (
    SourceDescription,
    describe_source,
    file_sha256,
)
from ..sqlite.describe import fingerprint_source
from ..sqlite.fingerprint import FORMAT, fingerprint_format
from ..sqlite.recreate import journal_mode, source_encoding
from ..store import (
    Operation,
    ShardSet,
    utc_now,
    write_session,
)
from ..store.provenance import reaches_next_link
from ..store.set_files import source_location
from ..store.shards import OutOfFiles
from .accounting import record_conflicts, remove_source
from .fingerprinting import SourceReads
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


#: Sources written in one transaction at most. Each commit syncs every file it wrote
#: through a super-journal, about a tenth of a migration's time when every source had a
#: transaction of its own; a few sources share one, and a kill still leaves the set as it
#: was before them or as it is after them.
SOURCES_PER_TRANSACTION = 4


@dataclass
class _ChangedSource:
    """A source attached and found changed (or new): what its write needs."""

    path: Path
    name: str
    previous: tuple | None
    description: SourceDescription
    outcome: SourceOutcome
    #: Its fingerprints and file hash, when already taken to tell it unchanged; else they
    #: are read alongside its write.
    fingerprints: Callable[[], tuple] | None = None


def migrate_sources(
    connection: sqlite3.Connection,
    target: Path,
    sources: list[Path],
    names: dict[Path, str],
    settings: MigrationSettings,
    reads: SourceReads,
    committed: list[SourceOutcome],
    before_write: Callable[[], None] = lambda: None,
) -> None:
    """Migrate ``sources`` (under their ``names`` in the set, read through ``reads``) in one
    transaction, recognising those already migrated and unchanged; each outcome goes into
    ``committed`` once its transaction has committed, so a refusal can say what stays. A
    group that runs out of files to attach (each source takes an attachment a shard could
    have) is undone and migrated a source at a time."""
    try:
        committed += _migrate_together(connection, target, sources, names, settings, reads, before_write)
        return
    except OutOfFiles:
        if len(sources) == 1:
            raise
    for source in sources:
        committed += _migrate_together(connection, target, [source], names, settings, reads, before_write)


def _migrate_together(connection, target, sources, names, settings, reads, before_write) -> list[SourceOutcome]:
    outcomes: dict[str, SourceOutcome] = {}
    changed: list[_ChangedSource] = []
    with ExitStack() as attached:
        for index, path in enumerate(sources, 1):
            name = names[path]
            with _named_in_errors(path):
                uri = reads.uri(path)
                alias = f"{SOURCE_ALIAS}{index}"
                connection.execute(f"ATTACH DATABASE ? AS {alias}", (uri,))
                attached.callback(connection.execute, f"DETACH DATABASE {alias}")
                found = _changed_or_unchanged(connection, path, uri, alias, name)
            if isinstance(found, SourceOutcome):
                outcomes[name] = found
            else:
                changed.append(found)
        if changed:
            before_write()
            with write_session(target, settings.limit, f"migrating {', '.join(c.name for c in changed)}",
                               expected_bytes=sum(database_size(c.path) for c in changed),
                               partition=settings.partition, connection=connection) as session:
                for source in changed:
                    with _named_in_errors(source.path):
                        outcomes[source.name] = _write_changed(session.shards, source, settings, reads)
    for path in sources:  # committed (or unchanged): their snapshots are done with
        reads.finished(path)
    return [outcomes[names[path]] for path in sources]


@contextmanager
def _named_in_errors(path: Path) -> Iterator[None]:
    """A source SQLite cannot read as it must is bad input, named; a full file or disk is
    left for the write session to say which."""
    try:
        yield
    except sqlite3.DatabaseError as error:
        if isinstance(error, sqlite3.OperationalError) and "full" in str(error):
            raise
        raise BadInput(f"{path}: cannot be migrated ({error})") from None


def _changed_or_unchanged(connection, path, uri, alias, name) -> SourceOutcome | _ChangedSource:
    """The outcome of a source already migrated whose rows are unchanged, or what its
    write needs."""
    previous = connection.execute(
        "SELECT id, fingerprint, file_sha256, header FROM main.migration_sources WHERE name = ?", (name,)
    ).fetchone()
    outcome = SourceOutcome(name, str(path), "migrated")
    # The same bytes are the same rows: only a changed file is read row by row. (A new
    # source's bytes are hashed on the fingerprint's thread, alongside the merge.)
    file_hash = file_sha256(path, *sidecar_paths(path)) if previous is not None else None
    if previous is not None and previous[2] == file_hash:
        return _unchanged(connection, outcome, previous[0])
    description = describe_source(connection, alias, uri)
    description.header["encoding"] = source_encoding(path)  # the attached copy of a UTF-16 file is UTF-8
    description.header["journal_mode"] = journal_mode(path)  # the file's own: a rebuild gives it back
    changed = _ChangedSource(path, name, previous, description, outcome)
    # Rows recorded in an earlier format are not proved the same by it (format 1 could not
    # see past a NUL in a text, format 2 the sign of a zero): such a source is migrated again.
    if previous is not None and _recorded_format(connection, previous[0]) == FORMAT:
        taken = fingerprint_source(connection, alias, description)
        # the same rows and schema, and the same header fields the rebuild writes
        # (user_version, application_id…), which no fingerprint covers
        if previous[1] == taken[1] and json.loads(previous[3]) == description.header:
            return _unchanged(connection, outcome, previous[0])
        changed.fingerprints = lambda: (*taken, file_hash)
    return changed


def _unchanged(connection, outcome: SourceOutcome, source_id: int) -> SourceOutcome:
    outcome.action = "unchanged"
    outcome.tables = [
        TableOutcome(*row)
        for row in connection.execute(
            "SELECT source_table, target_table, rows_read, rows_stored, duplicates_folded, conflicts_kept, note "
            "FROM main.migration_table_accounting WHERE source_id = ? ORDER BY source_table",
            (source_id,),
        )
    ]
    return outcome


def _write_changed(shards: ShardSet, source: _ChangedSource, settings, reads: SourceReads) -> SourceOutcome:
    """Write one changed source in the open session; a new source's fingerprint is read
    on a second thread meanwhile (or before)."""
    if source.fingerprints is not None:  # taken in line, to tell it unchanged
        taken = source.fingerprints

        def of_the_file_as_opened() -> tuple:
            reads.require_as_opened(source.path)
            return taken()

        return _write_source(shards, source, settings, of_the_file_as_opened)
    return _write_source(shards, source, settings, lambda: reads.fingerprints(source.path, source.description))


def _recorded_format(connection: sqlite3.Connection, source_id: int) -> int:
    """The fingerprint format a migrated source's tables were recorded in (the current one
    for a source without tables: its fingerprint does not depend on it)."""
    row = connection.execute(
        "SELECT fingerprint FROM main.migration_table_accounting WHERE source_id = ? AND fingerprint <> '' LIMIT 1",
        (source_id,),
    ).fetchone()
    return FORMAT if row is None else fingerprint_format(row[0])


def _write_source(shards: ShardSet, source: _ChangedSource, settings, fingerprints) -> SourceOutcome:
    """A source's rows, schema objects, fingerprints and log row, in the open session."""
    connection, path, name, description, outcome = (shards.connection, source.path, source.name,
                                                     source.description, source.outcome)
    operation = Operation("migrate", subject=name)
    installed_triggers = lift_triggers(connection)
    if source.previous:
        remove_source(connection, shards, source.previous[0], settings.policy)
        outcome.action = "remigrated"
    source_id = _record_source(connection, path, source_location(shards.primary, path), name, description)
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
    outcome.notes.extend(rebuild_content_indexes(connection, description,
                                                 {table: plan.target for table, plan in plans.items()}))
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


def _record_source(connection, path: Path, location: str, name: str, description: SourceDescription) -> int:
    """The source's ledger row (``location``: where it was migrated from, relative to the
    set); its fingerprint and file hash are filled in by :func:`_record_fingerprints`."""
    stat = os.stat(path)
    cursor = connection.execute(
        "INSERT INTO main.migration_sources (name, original_path, file_sha256, fingerprint, bytes, mtime_ns, "
        "schema_objects, internal_rows, header, status, migrated_at) "
        "VALUES (?, ?, '', '', ?, ?, ?, ?, ?, 'migrated', ?)",
        (
            name,
            location,
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
    merger = RowMerger(connection, plan, table_id, shards, str(settings.policy), source_name)
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
