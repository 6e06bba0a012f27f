"""All phases end to end: from a repository's legacy databases to one consolidated set.

inventory → backup → init → migrate → ingest → documentation → verify → archive → list,
each doing the work of one phase of :mod:`consolidation.phases`. Each step reports one line; the first that fails stops the run with the database set
valid (every write before it committed whole) and a ``consolidate`` row in the log
naming the step. Rerunning resumes: migrated sources are recognised and skipped,
archived ones are gone from the folders, and the rest is idempotent.

The candidates are every database file under the given folders except the set's own
(the consolidated file, its shards, the archive). Every candidate is classified before
the first write — backups included — so an unusable one (a Git LFS pointer, a damaged
file…) stops the run at once with nothing written, or, with ``skip_unusable``, is left
out and recorded with why.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .archive import (
    archive_sources,
    left_behind,
    reconcile_archive,
    refuse_sources_in_use,
)
from .archive_moves import refuse_what_the_archive_cannot_take
from .assets import ingest
from .assets.walk import list_workspace
from .database_list import ListRequest, keep_list, require_list_folder
from .docs_cleanup import plan_cleanup
from .errors import AssetdbError, BadInput, CheckFailed
from .globs import Exclusions, resolved
from .inventory import relative_name, walk_databases
from .listing import DatabaseList, find_list, read_list
from .merge import ConflictPolicy, MigrationSettings, migrate
from .merge.preflight import Preflight, preflight
from .merge.run import planned_names
from .phases import STEPS
from .proof import verify_database
from .reports import outside_note
from .size import database_size, format_size
from .sqlite import (
    backup_database,
    default_backup_directory,
    open_readonly,
)
from .sqlite.backup import find_workspace, refuse_inside_workspace
from .store import Operation, initialize, record_operation
from .store.archive_manifest import in_archive
from .store.copies import files_of_set
from .store.identity import PRIMARY, claims_assetdb, role
from .store.lock import DEFAULT_LOCK_TIMEOUT, database_lock
from .store.owned import DatabaseSet

TARGET_NAME = "enterprise_assets.db"


@dataclass
class ConsolidationSummary:
    target: str
    databases_before: int = 0  # database files in the folders before the run: the set's own too
    databases_after: int = 0
    consolidated: int = 0  # the legacy sources this run took
    rows: int = 0
    conflicts: int = 0
    assets: int = 0
    shards: int = 1
    sizes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    archived: list[str] = field(default_factory=list)
    left_out: list[tuple[Path, str, str]] = field(default_factory=list)
    database_list: Path | None = None
    list_findings: list[str] = field(default_factory=list)
    databases_outside: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    """What to consolidate and how: the folders, where the set goes, and the choices."""

    folders: tuple[Path, ...]
    limit: int
    workspace: Path | None = None
    backup_directory: Path | None = None
    archive: bool = False
    database_list: Path | None = None
    exclusions: Exclusions = Exclusions()
    skip_unusable: bool = False
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT

    @property
    def target(self) -> Path:
        return self.folders[0] / TARGET_NAME

    @property
    def archive_folder(self) -> Path:
        return self.target.parent / "archive"

    @property
    def backups(self) -> Path:
        return self.backup_directory or default_backup_directory()

    def list_file(self) -> Path:
        """The database list kept true: ``--list``, else the one in the workspace, else new."""
        workspace = self.workspace or find_workspace(self.folders[0])
        return find_list(workspace, self.folders[0], self.database_list)


def candidates(request: Request) -> list[Path]:
    """Every database file under the folders that is not the database set's own (the
    consolidated file, its shards, the archive and aliases of what it holds); sources
    migrated before are candidates again, recognised as unchanged by the merge."""
    found: set[Path] = set()
    archived_from = left_behind(request.archive_folder)
    for folder in request.folders:
        if not folder.is_dir():
            raise BadInput(f"{folder}: no such folder")
        for path in walk_databases(folder):
            if path.absolute() == request.target.absolute() or in_archive(folder, relative_name(path, folder)):
                continue
            if path.is_symlink() and not path.exists() and os.path.realpath(path) in archived_from:
                continue  # an alias of an archived source, left dangling: the archive step moves it
            if path.is_file() and not path.is_symlink() and claims_assetdb(path):
                continue  # a consolidated set (or a shard of one): never a legacy source
            found.add(path)
    return sorted(found)


#: Sources backed up at once: each copy and its proof are SQLite's work, outside the GIL.
BACKUPS_AT_ONCE = max(2, min(4, os.cpu_count() or 2))


def _back_up(source: Path, request: Request) -> None:
    if source.stat().st_size:  # a zero-byte file has nothing to lose
        backup_database(source, request.backups, request.workspace)


def check_request(request: Request) -> Preflight:
    """Everything judged before the first write: folders, candidates, target, backups."""
    for folder in request.folders:
        if not folder.is_dir():
            raise BadInput(f"{folder}: no such folder")
    found = candidates(request)
    if not found:
        checked = Preflight()
    else:
        checked = preflight(request.target, found, request.exclusions, request.skip_unusable,
                            verb="consolidate", deep=True, folders=tuple(request.folders))
    if request.archive:  # the sources move at the end: what archiving would refuse is refused first
        refuse_sources_in_use(checked.sources)
        refuse_what_the_archive_cannot_take(request.archive_folder, planned_names(request.target, checked.sources),
                                            "written")
    refuse_inside_workspace(request.backups, request.workspace or find_workspace(request.folders[0]))
    if request.workspace is not None:  # a file the ingest would refuse is refused before the first write
        list_workspace(request.workspace, DatabaseSet.of(request.target, extra=(request.list_file(),)),
                       request.exclusions)
    # several lists, one that cannot be read or has no folder to be written in: refused
    # now, not after the migration
    require_list_folder(request.list_file())
    _refuse_a_second_set(request, read_list(request.list_file()))
    return checked


def _refuse_a_second_set(request: Request, listed: DatabaseList) -> None:
    """The workspace's list keeps a consolidated set in another folder: a run whose first
    folder is a new one would start a second set there and rewrite the list for it alone.
    The way on is to name the set's folder first, so the new databases join it."""
    for name in listed.active:
        path = listed.path.parent / name
        if path.name == TARGET_NAME and resolved(path) != resolved(request.target) and path.is_file() \
                and role(path) == PRIMARY:
            folders = [os.path.relpath(path.parent), *(os.path.relpath(folder) for folder in request.folders)]
            raise BadInput(f"{listed.path}: keeps the consolidated set {os.path.relpath(path)}; consolidating into "
                           f"{os.path.relpath(request.target)} would start a second one — name its folder first: "
                           f"assetdb consolidate {shlex.join(folders)}")


def plan(request: Request) -> list[str]:
    checked = check_request(request)
    where = ", ".join(str(folder) for folder in request.folders)
    left_out = f"; {len(checked.unusable) + len(checked.excluded)} left out" if checked.left_out() else ""
    return [
        f"inventory: {len(checked.sources)} legacy databases in {where}{left_out}",
        *(f"  left out: {path} ({status}: {reason})" for path, status, reason in checked.left_out()),
        f"backup: each source, verified, into {request.backups}",
        f"init: {request.target} (unified schema)",
        f"migrate: {len(checked.sources)} sources, conflict-aware, shards at the cap",
        f"ingest: {request.workspace}" if request.workspace else "ingest: no workspace given, skipped",
        "documentation: report duplicates and backup entries of documentation databases",
        "verify: every source table live against the consolidated set",
        f"archive: verified sources into {request.archive_folder}" if request.archive else "archive: skipped without --yes",
        f"list: keep {request.list_file()} (its own text kept as it is)",
    ]


def consolidate(
    request: Request,
    announce: Callable[[str, str], None] = lambda step, line: None,
    track=lambda label: (lambda items: items),
) -> ConsolidationSummary:
    """Run every step, holding the set's writer lock throughout (waiting up to the
    request's ``lock_timeout`` for another writer); ``announce(step, line)`` receives each
    step's outcome."""
    if not request.target.parent.is_dir():
        raise BadInput(f"{request.target.parent}: no such folder")
    with database_lock(request.target, request.lock_timeout):
        return _consolidate(request, announce, track)


def _consolidate(request: Request, announce, track) -> ConsolidationSummary:
    started = time.monotonic()
    target = request.target
    summary = ConsolidationSummary(str(target))
    step = "inventory"
    checked = check_request(request)  # bad input writes nothing, not even a failed run's log row
    before = _state_of(target, request.list_file())
    try:
        sources = checked.sources
        summary.left_out = checked.left_out()
        summary.consolidated = len(sources)
        summary.databases_before = len(_set_files(target)) + len(sources) + len(summary.left_out)
        skipped = f"; {len(summary.left_out)} left out (recorded with why)" if summary.left_out else ""
        announce(step, f"{len(sources)} legacy databases, {format_size(sum(map(database_size, sources)))}{skipped}")

        step = "backup"
        with ThreadPoolExecutor(max_workers=BACKUPS_AT_ONCE) as pool:  # SQLite copies and proves without the GIL
            for _ in track("backup")(pool.map(lambda source: _back_up(source, request), sources)):
                pass
        announce(step, f"{len(sources)} sources, verified backups in {request.backups}")

        step = "init"
        result = initialize(target, request.limit)
        announce(step, f"{target.name}: {result.action}")

        step = "migrate"
        if sources or summary.left_out:
            report = migrate(target, sources, MigrationSettings(request.limit, ConflictPolicy()), request.backups,
                             track("migrate"), preflighted=checked)
            summary.rows = sum(outcome.total("rows_read") for outcome in report.sources)
            summary.conflicts = sum(outcome.total("conflicts_kept") for outcome in report.sources)
            changed = sum(outcome.action != "unchanged" for outcome in report.sources)
            announce(step, f"{changed} migrated, {len(report.sources) - changed} unchanged; "
                           f"{summary.rows:,} rows, {summary.conflicts} conflicts kept")
        else:
            announce(step, "no legacy database left to migrate")

        list_file = request.list_file()
        summary.database_list = list_file
        step = "ingest"
        if request.workspace is None:
            announce(step, "no workspace given; skipped")
        else:
            ingested = ingest(request.workspace, target, limit=request.limit, track=track("ingest"),
                              exclusions=request.exclusions, database_list=list_file)
            summary.assets = len(ingested.added) + len(ingested.changed) + len(ingested.touched) + ingested.unchanged
            summary.databases_outside = ingested.databases_outside
            set_folder = os.path.relpath(target.parent, request.workspace)
            note = outside_note(ingested.databases_outside, set_folder, request.workspace, str(target),
                                ingested.set_leaves_files_out)
            outside = f"; {note}" if note else ""
            announce(step, f"{summary.assets} assets ({len(ingested.added)} new, {len(ingested.changed)} changed)"
                     + outside)

        step = "documentation"
        announce(step, _documentation_report(sources))

        step = "verify"
        verdict = verify_database(target, sources, request.limit)
        if not verdict.ok:
            raise CheckFailed(f"verify: {verdict.failures()[0]} (+{len(verdict.failures()) - 1} more)")
        announce(step, f"{len(verdict.verdicts)} source tables proved lossless")

        step = "archive"
        reconcile_archive(target, request.archive_folder, request.limit)
        if request.archive and sources:
            records = archive_sources(target, sources, request.limit, request.archive_folder)
            summary.archived = [record.name for record in records]
            over = [record.name for record in records if record.bytes > request.limit]
            announce(step, f"{len(summary.archived)} sources archived in {request.archive_folder}" + (
                f"; {len(over)} of them over the cap ({', '.join(over[:5])}): the Git host takes no such file — "
                "keep it out of the repository (its rows are in the set: assetdb rebuild-source rebuilds it) "
                "or in Git LFS" if over else ""))
        else:
            announce(step, "skipped (rerun with --yes to move the verified sources into the archive)" if sources
                     else "nothing left to archive")

        step = "list"
        written = keep_list(ListRequest(request.folders, request.limit, request.workspace, list_file,
                                        request.exclusions, request.lock_timeout))
        summary.list_findings = written.findings
        found = f"; {len(written.findings)} differences with its prose (listed in it)" if written.findings else ""
        announce(step, f"{'wrote' if written.created else 'updated'} {list_file}{found}")
    except AssetdbError as error:
        _log(target, request.limit, "failed", {"step": step, "phase": STEPS[step], "error": str(error)}, summary)
        raise
    still_there = [source for source in sources if source.exists()] + [
        path for path, _status, _reason in summary.left_out if path.exists()]
    files = _set_files(target)  # the set's files now: ingest may have added shards
    summary.databases_after = len(files) + len(still_there)
    summary.shards = len(files)
    summary.seconds = time.monotonic() - started
    if _state_of(target, summary.database_list) != before:  # a rerun with nothing to do leaves the set as it was
        _log(target, request.limit, "ok", {"archived": summary.archived, "left_out": len(summary.left_out)}, summary)
    summary.sizes = {path.name: database_size(path) for path in files}  # as left: its log row too
    return summary


def _state_of(target: Path, list_file: Path | None) -> dict[Path, tuple[int, int]]:
    """Size and mtime of each file of the set and of the list: a run that wrote none of
    them did nothing worth a log row, which would itself change the set's bytes."""
    files = [*_set_files(target), *([list_file] if list_file is not None else [])]
    return {path: (info.st_size, info.st_mtime_ns) for path in files if (info := _stat(path)) is not None}


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def _set_files(target: Path) -> list[Path]:
    """The consolidated file and the shards its manifest lists, as they are on disk now
    (a copy of the set beside it, ``enterprise_assets.backup.db``, is not one of them)."""
    return files_of_set(target)


def _documentation_report(sources: list[Path]) -> str:
    """Duplicates and backup entries found in documentation sources (sources stay as they are)."""
    found = []
    for source in sources:
        if not source.stat().st_size:
            continue
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


def _log(target: Path, limit: int, status: str, details: dict, summary: ConsolidationSummary) -> None:
    """Record the run in the target's log, when there is a usable target to hold it."""
    operation = Operation(
        "consolidate",
        subject=str(target.parent),
        counts={"rows": summary.rows, "conflicts": summary.conflicts, "assets": summary.assets,
                "shards": summary.shards, "left_out": len(summary.left_out)},
        details=details,
    )
    try:
        record_operation(target, operation, limit, status)
    except AssetdbError:
        pass  # stopped before init made one: the error itself tells where
