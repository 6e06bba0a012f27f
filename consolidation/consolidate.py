"""All phases end to end: from a folder of legacy databases to one consolidated set.

inventory → backup → init → migrate → ingest → documentation → verify → archive → list.
Each phase reports one line; the first that fails stops the run with the database set
valid (every write before it committed whole) and a ``consolidate`` row in the log
naming the phase. Rerunning resumes: migrated sources are recognised and skipped,
archived ones are gone from the folder, and the rest is idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .archive import archive_sources, in_archive, reconcile_archive
from .assets import ingest
from .database_list import write_list
from .docs_cleanup import plan_cleanup
from .errors import AssetdbError, BadInput, CheckFailed
from .inventory import take_inventory
from .merge import ConflictPolicy, MigrationSettings, migrate
from .proof import verify_database
from .size import database_size, format_size
from .sqlite import (
    backup_database,
    default_backup_directory,
    open_readonly,
    read_header,
)
from .store import APPLICATION_ID, Operation, initialize, record_operation

TARGET_NAME = "enterprise_assets.db"
PHASE_NAMES = ("inventory", "backup", "init", "migrate", "ingest", "documentation", "verify", "archive", "list")


@dataclass
class ConsolidationSummary:
    target: str
    databases_before: int = 0
    databases_after: int = 0
    rows: int = 0
    conflicts: int = 0
    assets: int = 0
    shards: int = 1
    sizes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    archived: list[str] = field(default_factory=list)


def legacy_sources(directory: Path) -> tuple[list[Path], list[str]]:
    """The folder's legacy databases (not assetdb's own files), and problems that stop
    the run (a corrupt, empty or locked source cannot be consolidated safely)."""
    inventory = take_inventory(directory, 2**62)
    sources, problems = [], []
    for report in inventory.databases:
        path = directory / report.path
        if in_archive(directory, report.path) or report.path == TARGET_NAME:
            continue  # archived already, or the consolidated set itself (init takes care of it)
        if report.status in ("corrupt", "empty", "locked"):
            problems.append(f"{report.path}: {report.status} ({report.problem})")
            continue
        if read_header(path).application_id == APPLICATION_ID:
            continue  # the consolidated set and its shards
        sources.append(path)
    return sources, problems


def plan(directory: Path, workspace: Path | None, backup_directory: Path, archive: bool) -> list[str]:
    sources, problems = legacy_sources(directory)
    lines = [
        f"inventory: {len(sources)} legacy databases in {directory}" + (f"; {len(problems)} unusable" if problems else ""),
        f"backup: each source, verified, into {backup_directory}",
        f"init: {directory / TARGET_NAME} (unified schema)",
        f"migrate: {len(sources)} sources, conflict-aware, shards at the cap",
        f"ingest: {workspace}" if workspace else "ingest: no workspace given, skipped",
        "documentation: report duplicates and backup entries of documentation databases",
        "verify: every source table live against the consolidated set",
        f"archive: verified sources into {directory / 'archive'}" if archive else "archive: skipped without --yes",
        f"list: write {directory / 'CONSOLIDATED_DATABASE_LIST.md'}",
    ]
    return lines


def consolidate(
    directory: Path | str,
    limit: int,
    workspace: Path | str | None = None,
    backup_directory: Path | None = None,
    archive: bool = False,
    announce: Callable[[str, str], None] = lambda phase, line: None,
    track=lambda label: (lambda items: items),
) -> ConsolidationSummary:
    """Run every phase; ``announce(phase, line)`` receives each phase's outcome."""
    started = time.monotonic()
    directory = Path(directory)
    if not directory.is_dir():
        raise BadInput(f"{directory}: no such folder")
    workspace = Path(workspace) if workspace else None
    backups = backup_directory or default_backup_directory()
    target = directory / TARGET_NAME
    summary = ConsolidationSummary(str(target))
    phase = "inventory"
    try:
        sources, problems = legacy_sources(directory)
        if problems:
            raise CheckFailed(f"cannot consolidate unusable sources: {'; '.join(problems)}")
        summary.databases_before = len(sources) + (1 if target.exists() else 0)
        announce(phase, f"{len(sources)} legacy databases, {format_size(sum(map(database_size, sources)))}")

        phase = "backup"
        for source in track("backup")(sources):
            backup_database(source, backups)
        announce(phase, f"{len(sources)} verified backups in {backups}")

        phase = "init"
        result = initialize(target, limit)
        announce(phase, f"{target.name}: {result.action}")

        phase = "migrate"
        if sources:
            report = migrate(target, sources, MigrationSettings(limit, ConflictPolicy()), backups, track("migrate"))
            summary.rows = sum(outcome.total("rows_read") for outcome in report.sources)
            summary.conflicts = sum(outcome.total("conflicts_kept") for outcome in report.sources)
            summary.shards = max((outcome.shards for outcome in report.sources), default=1)
            changed = sum(outcome.action != "unchanged" for outcome in report.sources)
            announce(phase, f"{changed} migrated, {len(report.sources) - changed} unchanged; "
                            f"{summary.rows:,} rows, {summary.conflicts} conflicts kept")
        else:
            announce(phase, "no legacy database left to migrate")

        phase = "ingest"
        if workspace is None:
            announce(phase, "no workspace given; skipped")
        else:
            ingested = ingest(workspace, target, limit=limit, track=track("ingest"))
            summary.assets = len(ingested.added) + len(ingested.changed) + len(ingested.touched) + ingested.unchanged
            announce(phase, f"{summary.assets} assets ({len(ingested.added)} new, {len(ingested.changed)} changed)")

        phase = "documentation"
        announce(phase, _documentation_report(sources, target))

        phase = "verify"
        verdict = verify_database(target, sources, limit)
        if not verdict.ok:
            raise CheckFailed(f"verify: {verdict.failures()[0]} (+{len(verdict.failures()) - 1} more)")
        announce(phase, f"{len(verdict.verdicts)} source tables proved lossless")

        phase = "archive"
        reconcile_archive(target, directory / "archive")
        if archive and sources:
            summary.archived = [record.name for record in archive_sources(target, sources, directory / "archive")]
            announce(phase, f"{len(summary.archived)} sources moved to {directory / 'archive'}")
        else:
            announce(phase, "skipped (rerun with --yes to move the verified sources into archive/)" if sources
                     else "nothing left to archive")

        phase = "list"
        announce(phase, f"wrote {write_list(directory, limit)}")
    except AssetdbError as error:
        _log(target, "failed", {"phase": phase, "error": str(error)}, summary)
        raise
    summary.databases_after = sum(
        not in_archive(directory, report.path) for report in take_inventory(directory, 2**62).databases
    )
    summary.sizes = {path.name: database_size(path) for path in sorted(directory.glob(f"{target.stem}*{target.suffix}"))}
    summary.seconds = time.monotonic() - started
    _log(target, "ok", {"archived": summary.archived}, summary)
    return summary


def _documentation_report(sources: list[Path], target: Path) -> str:
    """Duplicates and backup entries found in documentation sources (sources stay as they are)."""
    found = []
    for source in sources:
        try:
            with open_readonly(source) as connection:
                report = plan_cleanup(connection)
        except BadInput:
            continue  # not a documentation database
        if report.duplicates or report.backups:
            found.append((source.name, len(report.duplicates), len(report.backups)))
    if not found:
        return "no duplicate or backup entries in the sources' documentation tables"
    described = ", ".join(f"{name}: {dups} duplicates, {backups} backup entries" for name, dups, backups in found)
    return f"{described} (kept in the consolidated set; run assetdb dedupe-docs for cleaned copies)"


def _log(target: Path, status: str, details: dict, summary: ConsolidationSummary) -> None:
    """Record the run in the target's log, when there is a usable target to hold it."""
    operation = Operation(
        "consolidate",
        subject=str(target.parent),
        counts={"rows": summary.rows, "conflicts": summary.conflicts, "assets": summary.assets, "shards": summary.shards},
        details=details,
    )
    try:
        record_operation(target, operation, status)
    except AssetdbError:
        pass  # stopped before init made one: the error itself tells where
