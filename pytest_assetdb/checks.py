"""Per-database checks shared by the pytest gate and the command line.

Each check returns a :class:`CheckResult` whose ``message`` starts with one line saying
what is wrong and what to run, and whose ``figures`` are the numbers behind it (the
gate reports them as JUnit properties).
"""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from consolidation.database_list import read_list
from consolidation.errors import AssetdbError
from consolidation.inventory import relative_name
from consolidation.listing import is_listed, names_in_list
from consolidation.proof import (
    LedgerSource,
    check_reproducible,
    find_source,
    read_sources,
    rebuild_source,
)
from consolidation.proof.verify import locate_live_source, verify_table
from consolidation.size import database_size, format_size, percent_of_limit
from consolidation.sqlite import (
    DatabaseLocked,
    EmptyDatabase,
    NotADatabase,
    describe_source,
    open_readonly,
    read_header,
)
from consolidation.sqlite.describe import fingerprint_source
from consolidation.sqlite.introspect import quote_identifier as q
from consolidation.store import (
    APPLICATION_ID,
    ASSET_TABLES,
    SCHEMA_VERSION,
    read_consolidated,
)
from consolidation.store.schema import missing_tables


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    figures: dict[str, object] = field(default_factory=dict)


def check_size(path: Path, limit: int, shown_as: str | None = None) -> CheckResult:
    """Is the database, sidecars included, at or under ``limit`` bytes?

    ``shown_as`` is how messages name the file (a path relative to where the user is).
    """
    size = database_size(path)
    name = shown_as or str(path)
    percent = percent_of_limit(size, limit)
    figures = {"bytes": size, "limit": limit, "percent_of_cap": round(percent, 2)}
    if size <= limit:
        return CheckResult(True, f"{format_size(size)} of {format_size(limit)} ({percent:.1f}% of cap)", figures)
    return CheckResult(
        False,
        f"over the cap: {format_size(size)} > {format_size(limit)} ({percent:.1f}% of cap) "
        f"— run: assetdb migrate {name} --into enterprise_assets.db to partition it\n"
        f"{name}: {size:,} bytes (main file plus -wal/-journal), cap {limit:,} bytes",
        figures,
    )


def check_integrity(path: Path, shown_as: str | None = None) -> CheckResult:
    """Can SQLite read the whole file, and does ``PRAGMA integrity_check`` say ``ok``?"""
    name = shown_as or str(path)
    restore = f"restore it from a verified backup: assetdb restore BACKUP --to {name}"
    try:
        with open_readonly(path) as connection:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            pages = connection.execute("PRAGMA page_count").fetchone()[0]
    except EmptyDatabase:
        return CheckResult(False, f"empty file: {name} is 0 bytes, not a database — delete it or {restore}")
    except NotADatabase as error:
        return CheckResult(False, f"unreadable: {error} — {restore}")
    except DatabaseLocked as error:
        return CheckResult(False, f"locked: {error} — rerun the gate when the writer is done")
    except sqlite3.DatabaseError as error:
        return CheckResult(False, f"unreadable: {name}: {error} — {restore}")
    if problems == ["ok"]:
        return CheckResult(True, "integrity_check ok", {"pages": pages})
    shown = "\n".join(problems[:20]) + (f"\n… and {len(problems) - 20} more" if len(problems) > 20 else "")
    return CheckResult(
        False,
        f"integrity_check failed ({len(problems)} problems) — {restore}\n{shown}",
        {"pages": pages, "problems": len(problems)},
    )


def migrated_sources(path: Path) -> list[LedgerSource]:
    """The ledger of a consolidated database; empty for any other file (or an unreadable one)."""
    try:
        with open_readonly(path) as connection:
            return read_sources(connection)
    except (AssetdbError, sqlite3.DatabaseError):
        return []


def check_lossless(path: Path, source_name: str, table_name: str, shown_as: str | None = None) -> CheckResult:
    """Are all rows of one migrated source table reachable, as they were?"""
    name = shown_as or str(path)
    with read_consolidated(path) as (connection, shards):
        source = find_source(read_sources(connection), source_name)
        table = next(t for t in source.tables if t.source_table == table_name)
        live = locate_live_source(path, source)
        verdict = verify_table(connection, shards, source, table, live)
    figures = {
        "rows": verdict.rows,
        "compared": verdict.mode,
        "rows_stored": table.rows_stored,
        "duplicates_folded": table.duplicates_folded,
        "conflicts_kept": table.conflicts_kept,
    }
    if verdict.ok:
        return CheckResult(True, f"{verdict.rows} rows accounted for ({verdict.mode})", figures)
    hint = f"assetdb verify {name} --sources {live}" if live else f"assetdb verify {name}"
    return CheckResult(
        False,
        f"rows lost or changed: {source_name}:{table_name}: {verdict.problem} — run: {hint}",
        figures,
    )


def check_rebuildable(path: Path, source_name: str, shown_as: str | None = None) -> CheckResult:
    """Does the source rebuild, from the consolidated set alone, to what was migrated?"""
    name = shown_as or str(path)
    with tempfile.TemporaryDirectory(prefix="assetdb-rebuild-") as scratch:
        rebuilt = Path(scratch) / "rebuilt.db"
        try:
            result = rebuild_source(path, source_name, rebuilt)
        except AssetdbError as error:
            return CheckResult(False, f"cannot rebuild {source_name}: {error} — run: assetdb verify {name}")
        with open_readonly(rebuilt) as connection:
            _, fingerprint = fingerprint_source(connection, "main", describe_source(connection))
    with open_readonly(path) as connection:
        expected = find_source(read_sources(connection), source_name).fingerprint
    figures = {"tables": result.tables, "rows": result.rows}
    if fingerprint == expected:
        return CheckResult(True, f"{source_name} rebuilds exactly ({result.rows} rows)", figures)
    return CheckResult(
        False,
        f"{source_name} does not rebuild to what was migrated — run: assetdb rebuild-source {name} "
        f"{source_name} --out FILE, then sqldiff ORIGINAL FILE",
        figures,
    )


def asset_kinds(path: Path) -> list[str]:
    """Asset kinds a database holds current assets of; empty for any other file."""
    try:
        with open_readonly(path) as connection:
            return [
                kind
                for kind, table in ASSET_TABLES.items()
                if connection.execute(f"SELECT 1 FROM {q(table)} WHERE is_current LIMIT 1").fetchone()
            ]
    except (AssetdbError, sqlite3.DatabaseError):
        return []


def check_reproducible_kind(path: Path, kind: str, workspace: Path | None, shown_as: str | None = None) -> CheckResult:
    """Does every asset of ``kind`` regenerate to its hash (and match the workspace, if given)?"""
    name = shown_as or str(path)
    report = check_reproducible(path, workspace, kinds=(kind,))
    figures = {"assets_checked": report.checked, "problems": len(report.problems)}
    if report.ok:
        where = f" and match {workspace}" if workspace else ""
        return CheckResult(True, f"{report.checked} {kind} assets regenerate{where}", figures)
    hint = f"assetdb verify {name}" + (f" --workspace {workspace}" if workspace else "")
    return CheckResult(
        False,
        f"{len(report.problems)} {kind} assets do not reproduce — run: {hint}\n{report.summary()}",
        figures,
    )


def is_assetdb_primary(path: Path) -> bool:
    """An assetdb database that is not a shard: it has the full schema to check."""
    try:
        if read_header(path).application_id != APPLICATION_ID:
            return False
        with open_readonly(path) as connection:
            return not connection.execute(
                "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'assetdb_shard'"
            ).fetchone()
    except (AssetdbError, sqlite3.DatabaseError):
        return False


def check_schema(path: Path, shown_as: str | None = None) -> CheckResult:
    """Does an assetdb database have every table of the schema version it declares?"""
    name = shown_as or str(path)
    with open_readonly(path) as connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        missing = missing_tables(connection)
    figures = {"schema_version": version, "missing_tables": len(missing)}
    if version != SCHEMA_VERSION:
        return CheckResult(False, f"schema version {version}, this assetdb writes {SCHEMA_VERSION} — run: assetdb init {name}", figures)
    if missing:
        return CheckResult(
            False, f"schema incomplete: missing {', '.join(missing)} — run: assetdb init {name} to repair it", figures
        )
    return CheckResult(True, f"schema v{version} complete", figures)


def check_listed(path: Path, list_file: Path, shown_as: str | None = None) -> CheckResult:
    """Is the database named in the database list?"""
    name = shown_as or str(path)
    if not list_file.is_file():
        return CheckResult(False, f"no database list at {list_file} — run: assetdb list {list_file.parent} --write")
    relative = relative_name(path.resolve(), list_file.resolve().parent)
    if is_listed(relative, listed_as_active(list_file)):
        return CheckResult(True, f"{relative} is listed in {list_file.name}")
    return CheckResult(
        False, f"not listed: {name} is missing from {list_file} — run: assetdb list {list_file.parent} --write"
    )


def listed_as_active(list_file: Path) -> set[str]:
    """Names a list gives as active: its "Active databases" table when it has one (as
    ``assetdb list`` writes it), else every database name it mentions."""

    parsed = read_list(list_file)
    return set(parsed.active) if parsed.active else names_in_list(list_file)


def check_list_complete(list_file: Path, shown_as: str | None = None) -> CheckResult:
    """Is every database the list gives as active on disk?"""
    name = shown_as or str(list_file)
    missing = sorted(
        listed for listed in listed_as_active(list_file) if not (list_file.parent / listed).is_file()
    )
    figures = {"listed": len(listed_as_active(list_file)), "missing": len(missing)}
    if missing:
        return CheckResult(
            False,
            f"listed but missing on disk: {', '.join(missing[:20])} — run: assetdb list {list_file.parent} --write "
            f"(or restore them)\n{name}",
            figures,
        )
    return CheckResult(True, "every listed database is on disk", figures)
