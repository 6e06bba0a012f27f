"""Per-database checks shared by the pytest gate and the command line.

Each check returns a :class:`CheckResult` whose ``message`` starts with one line saying
what is wrong and what to run, and whose ``figures`` are the numbers behind it (the
gate reports them as JUnit properties).
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from consolidation.assets.walk import WorkspaceListing
from consolidation.config import load_settings
from consolidation.errors import AssetdbError
from consolidation.leftovers import private_scratch
from consolidation.proof import (
    LedgerSource,
    check_reproducible,
    find_source,
    read_sources,
    rebuild_source,
)
from consolidation.proof.verify import (
    ROWS_GONE_CAUTION,
    locate_live_source,
    verify_rebuilt,
    verify_table,
)
from consolidation.size import database_size, format_size, percent_of_limit
from consolidation.sqlite import (
    DatabaseLocked,
    file_sha256,
    open_readonly,
)
from consolidation.sqlite.classify import classify
from consolidation.sqlite.introspect import quote_identifier as q
from consolidation.sqlite.locks import interrupted_journal
from consolidation.store import (
    ASSET_TABLES,
    COMPATIBLE_SINCE,
    SCHEMA_VERSION,
    read_consolidated,
)
from consolidation.store.archive_manifest import Archived
from consolidation.store.identity import PRIMARY, SHARD, role
from consolidation.store.reading import registering_primary
from consolidation.store.schema import missing_tables


@dataclass(frozen=True)
class CheckResult:
    """``skip``: the check does not apply, for the reason ``message`` gives (shown, not passed)."""

    ok: bool
    message: str
    figures: dict[str, object] = field(default_factory=dict)
    skip: bool = False
    warning: str | None = None  # passed, but worth a look (a database near the cap)
    #: What a check that raised (a plugin's, or one meeting what it did not expect) raised:
    #: its own item shows it with its traceback; the items it gates fail by gate.
    raised: BaseException | None = None


def shell_quoted(path: Path | str) -> str:
    """A path as a hint names it: quoted for a shell, so the command works pasted."""
    return shlex.quote(str(path))


def share_of_cap(size: int, limit: int) -> str:
    """``95.6%``: the one rounding every message and the summary use."""
    return f"{percent_of_limit(size, limit):.1f}%"


def check_size(path: Path, limit: int, shown_as: str | None = None, warn_at: int | None = None,
               archived: bool = False) -> CheckResult:
    """Is the database, sidecars included, at or under ``limit`` bytes? At ``warn_at`` bytes
    or more it passes with a warning: the next sync may take it over.

    ``shown_as`` is how messages name the file (a path relative to where the user is).
    """
    size = database_size(path)
    name = shown_as or str(path)
    share = share_of_cap(size, limit)
    figures = {"bytes": size, "limit": limit, "percent_of_cap": float(share[:-1])}
    if size <= limit:
        near = warn_at is not None and size >= warn_at
        warning = (f"{name} is near the cap: {format_size(size)} of {format_size(limit)} ({share} of cap); "
                   f"the next writes may take it over") if near else None
        return CheckResult(True, f"{format_size(size)} of {format_size(limit)} ({share} of cap)", figures,
                           warning=warning)
    journal = interrupted_journal(path)
    if journal is not None and os.stat(path).st_size <= limit:  # the journal is what tips it over
        return CheckResult(False, f"interrupted write: {journal.name} holds a write that was cut short (a killed run), "
                                  f"{format_size(size)} with it — rerun the command that was writing {name}: it rolls "
                                  "that write back first, then finishes", figures)
    return CheckResult(
        False,
        f"over the cap: {format_size(size)} > {format_size(limit)} ({share} of cap) — "
        f"{_over_cap_hint(path, name, limit, archived)}\n"
        f"{name}: {size:,} bytes (main file plus -wal/-journal), cap {limit:,} bytes",
        figures,
    )


def _over_cap_hint(path: Path, shown_as: str, limit: int, archived: bool) -> str:
    """What to do about a file over the cap, as a command that works pasted: a legacy
    database is consolidated (the set is partitioned into shards under the cap, the gate's
    own cap given when the project's settings would not give it); an archived one is already
    in the set, so it is the file that must not be committed as it is; a set's own file was
    written under a larger cap."""
    if archived:
        return (f"it is archived, its rows in the set: keep the file out of the repository or in Git LFS "
                f"(git lfs track {shell_quoted(shown_as)}); the set rebuilds it whenever needed")
    if role(path) is None:
        folder = shell_quoted(Path(shown_as).parent)
        cap = "" if load_settings(path.parent).size_limit == limit else f" --limit {limit}"
        return f"run: assetdb consolidate {folder}{cap} --yes (the consolidated set is split into shards under the cap)"
    return ("it was written under a larger cap: gate it with that cap (--assetdb-limit), or consolidate its "
            "sources again into a new set under this one")


def check_integrity(path: Path, shown_as: str | None = None) -> CheckResult:
    """Can SQLite read the whole file, and does ``PRAGMA integrity_check`` say ``ok``?

    What the file is comes first (:func:`classify`), so a Git LFS pointer or a text file
    is named for what it is, with the way on, rather than as "not a database".
    """
    name = shown_as or str(path)
    restore = f"restore it from a verified backup: assetdb restore BACKUP --to {shell_quoted(name)}"
    candidate = classify(path)
    registered = registering_primary(path) if candidate.status == "empty" else None
    if registered is not None:
        primary, number = registered
        return CheckResult(False, f"damaged: {name} is empty (0 bytes), but {primary.name} registers it as its shard "
                                  f"{number} — {restore}", {"status": "empty"})
    if candidate.status == "empty":
        return CheckResult(True, "empty database (0 bytes): SQLite reads it as one with no tables", {"pages": 0})
    if candidate.status == "locked":
        return CheckResult(False, f"locked: {name}: {candidate.reason} — rerun the gate when the writer is done")
    if not candidate.usable:
        way_on = "run `git lfs pull`" if candidate.status == "lfs-pointer" else restore
        return CheckResult(False, f"unusable: {name}: {candidate.reason} — {way_on}, or leave it out "
                                  "with --assetdb-exclude GLOB", {"status": candidate.status})
    try:
        with open_readonly(path) as connection:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            pages = connection.execute("PRAGMA page_count").fetchone()[0]
    except DatabaseLocked as error:
        return CheckResult(False, f"locked: {error} — rerun the gate when the writer is done")
    except (AssetdbError, sqlite3.DatabaseError) as error:
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
    except DatabaseLocked:
        raise  # not "no sources": the checks it would get cannot be listed now (see gate.builtin_checks)
    except (AssetdbError, sqlite3.DatabaseError):
        return []


def check_archived(path: Path, entry: Archived, primary: Path | None, shown_as: str | None = None) -> CheckResult:
    """Is an archived source still the file its archive manifest recorded: byte for byte,
    or else (restored from a backup, rebuilt from the set: a file of other bytes) with the
    source's own content, proved against ``primary``, the set it was consolidated into?"""
    name = shown_as or str(path)
    actual = file_sha256(path)
    figures = {"sha256": actual, "archived_as": entry.name}
    if entry.sha256 and actual == entry.sha256:
        return CheckResult(True, f"archived {entry.name}, bytes as recorded ({actual[:16]}…)", figures)
    if primary is not None and not verify_rebuilt(primary, entry.name, path):
        figures["content"] = "proved against the set"
        return CheckResult(True, f"archived {entry.name}: other bytes than archived, the source's content", figures)
    return CheckResult(
        False,
        f"archived source changed since it was archived: {name} has SHA-256 {actual[:16]}…, the manifest says "
        f"{(entry.sha256 or 'nothing yet')[:16]}… — restore it from a backup, or rebuild it in its place: "
        f"rm {shell_quoted(path)} && assetdb rebuild-source {shell_quoted(primary)} {shell_quoted(entry.name)} --out {shell_quoted(path)}",
        figures,
    )


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
    if verdict.source_moved_on:  # the set is as migrated: the source has changed since
        return CheckResult(False, f"source changed since it was migrated: {source_name}:{table_name}: "
                                  f"{verdict.problem.split('; ')[0]} — run: assetdb migrate {shell_quoted(live)} --into {shell_quoted(name)}"
                                  + (ROWS_GONE_CAUTION if verdict.rows_gone else ""), figures)
    hint = f"assetdb verify {shell_quoted(name)} --sources {shell_quoted(live)}" if live else f"assetdb verify {shell_quoted(name)}"
    return CheckResult(
        False,
        f"rows lost or changed: {source_name}:{table_name}: {verdict.problem} — run: {hint}",
        figures,
    )


def check_rebuildable(path: Path, source_name: str, shown_as: str | None = None,
                      archived_copy: Path | None = None) -> CheckResult:
    """Does the source rebuild, from the consolidated set alone, to what was migrated? The
    rebuilt file is proved by joins against the rows its links reach, which the source's
    ``lossless`` items (run first) proved to be the source's. An archived source's copy
    (``archived_copy``) must still be there: the archive keeps what was moved, never deletes it."""
    name = shown_as or str(path)
    with private_scratch("rebuild") as scratch:
        rebuilt = Path(scratch) / "rebuilt.db"
        try:
            result = rebuild_source(path, source_name, rebuilt)
            problems = verify_rebuilt(path, source_name, rebuilt)
        except AssetdbError as error:
            return CheckResult(False, f"cannot rebuild {source_name}: {error} — run: assetdb verify {shell_quoted(name)}")
    figures = {"tables": result.tables, "rows": result.rows}
    if not problems and archived_copy is not None and not os.path.lexists(archived_copy):
        return CheckResult(False, f"{source_name} rebuilds exactly, but its archived copy {archived_copy} is gone — put "
                                  f"it back: assetdb rebuild-source {shell_quoted(name)} {shell_quoted(source_name)} --out {shell_quoted(archived_copy)}",
                           figures)
    if not problems:
        return CheckResult(True, f"{source_name} rebuilds exactly ({result.rows} rows)", figures)
    return CheckResult(
        False,
        f"{source_name} does not rebuild to what was migrated ({'; '.join(problems)}) — run: assetdb "
        f"rebuild-source {name} {source_name} --out FILE, then sqldiff ORIGINAL FILE",
        figures,
    )


def asset_kinds(path: Path) -> dict[str, int]:
    """Asset kinds a database holds current assets of, with the bytes they hold; empty for
    any other file."""
    try:
        with open_readonly(path) as connection:
            kinds = {}
            for kind, table in ASSET_TABLES.items():
                held = connection.execute(f"SELECT count(*), total(size) FROM {q(table)} WHERE is_current").fetchone()
                if held[0]:
                    kinds[kind] = int(held[1])
            return kinds
    except DatabaseLocked:
        raise
    except (AssetdbError, sqlite3.DatabaseError):
        return {}


def check_reproducible_kind(path: Path, kind: str, workspace: Path | None, shown_as: str | None = None,
                            listing: WorkspaceListing | None = None) -> CheckResult:
    """Does every asset of ``kind`` regenerate to its hash (and match the workspace, if given,
    as ``listing`` found its files when the gate collected it)?"""
    name = shown_as or str(path)
    report = check_reproducible(path, workspace, kinds=(kind,), listing=listing)
    figures = {"assets_checked": report.checked, "problems": len(report.problems)}
    if report.ok:
        where = f" and match {workspace}" if workspace else ""
        return CheckResult(True, f"{report.checked} {kind} assets regenerate{where}", figures)
    if workspace and report.workspace_changes == len(report.problems):  # the set is sound: the workspace moved on
        headline = (f"{report.workspace_changes} {kind} files in {workspace} are not as stored — run: "
                    f"assetdb sync {shell_quoted(workspace)} --db {shell_quoted(name)}" + (" --rehash" if report.needs_rehash else ""))
    else:
        hint = f"assetdb verify {shell_quoted(name)}" + (f" --workspace {shell_quoted(workspace)}" if workspace else "")
        headline = f"{len(report.problems)} {kind} assets do not reproduce — run: {hint}"
    return CheckResult(
        False,
        f"{headline}\n{report.summary()}",
        figures,
    )


def is_assetdb_primary(path: Path) -> bool:
    """An assetdb database that is not a shard: it has the full schema to check."""
    return role(path) == PRIMARY


def is_assetdb_shard(path: Path) -> bool:
    """A numbered file of a consolidated set beyond its primary."""
    return role(path) == SHARD


def check_schema(path: Path, shown_as: str | None = None) -> CheckResult:
    """Does an assetdb database have every table of the schema version it declares?"""
    name = shown_as or str(path)
    with open_readonly(path) as connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        missing = missing_tables(connection)
    figures = {"schema_version": version, "missing_tables": len(missing)}
    if not COMPATIBLE_SINCE <= version <= SCHEMA_VERSION:
        return CheckResult(False, f"schema version {version}, this assetdb writes {SCHEMA_VERSION} — run: assetdb init {shell_quoted(name)}", figures)
    if missing:
        return CheckResult(
            False, f"schema incomplete: missing {', '.join(missing)} — run: assetdb init {shell_quoted(name)} to repair it", figures
        )
    return CheckResult(True, f"schema v{version} complete", figures)
