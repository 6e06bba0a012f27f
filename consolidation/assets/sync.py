"""Phase 3: keep ``enterprise_assets.db`` and a workspace in step, one sync at a time.

A sync pushes the workspace into the database (new, changed, deleted and renamed files;
deleted files keep their history), skipping unchanged files by size, mode and mtime,
then proves that what it wrote regenerates to its hashes. ``pull`` writes the
database's current assets into the workspace, refusing to overwrite local edits unless
forced. No other database is ever written: the original project's scheduler copied one
database over all the others; never that.

Only one writer per database runs at a time (:func:`~consolidation.store.lock.database_lock`,
a lock beside the database): a second sync waits up to a timeout, then stops with exit 3
naming who holds it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInput, CheckFailed
from ..globs import Exclusions
from ..store import Operation, read_consolidated, record_operation
from ..store.oplog import parse_moment
from ..store.owned import DatabaseSet
from .asset_rows import hostile_reads, select_assets
from .confine import ConfinedFolder, check_room
from .ingest import IngestReport, ingest
from .judge import judge
from .stored import (
    DEFAULT_MAX_FILE_SIZE,
    NO_CAP,
    blob_chunks,
    check_stored,
    decoded_chunks,
    same_as_stored,
)


def verify_written(database: Path, names: list[str]) -> list[str]:
    """Problems regenerating the assets a sync just wrote (their bytes and hashes)."""
    wanted = {os.fsencode(name) for name in names}
    problems = []
    with hostile_reads(database), read_consolidated(database) as (connection, shards):
        for asset in select_assets(connection):
            if asset.path in wanted:
                problem = check_stored(connection, shards, asset, NO_CAP)
                if problem:
                    problems.append(problem)
    return problems


def push(workspace: Path, database: Path, limit: int, manager=None, track=lambda items: items,
         exclusions: Exclusions = Exclusions(), database_list: Path | None = None, rehash: bool = False,
         content_only: bool = False) -> IngestReport:
    """The workspace into the database, deletions and renames included; then prove it.
    ``rehash``: read every file, not only those whose size, mode or mtime changed;
    ``content_only``: a file whose bytes, type and executable bit are as stored is unchanged,
    whatever its mtime and other permission bits."""
    report = ingest(workspace, database, limit=limit, manager=manager, track=track, record_deletions=True,
                    operation="sync", exclusions=exclusions, database_list=database_list, rehash=rehash,
                    content_only=content_only)
    problems = verify_written(database, report.added + report.changed)
    if problems:
        raise CheckFailed(f"sync wrote assets that do not regenerate: {problems[0]} (+{len(problems) - 1} more)")
    return report


@dataclass
class PullReport:
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    local_edits: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def pull(workspace: Path, database: Path, limit: int, force: bool = False, allow_outside_links: bool = False,
         max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> PullReport:
    """The database's current assets into the workspace, judged as regenerate judges them
    (nothing is written if any row is refused); local edits (a workspace file that differs
    from the stored version) are refused unless ``force``."""
    report = PullReport()
    root = os.fsencode(workspace)
    if not Path(workspace).is_dir():
        raise BadInput(f"{workspace}: no such workspace folder")
    with hostile_reads(database), read_consolidated(database) as (connection, shards):
        judgement = judge(connection, shards, select_assets(connection), root=Path(workspace),
                          allow_outside_links=allow_outside_links, max_file_size=max_file_size,
                          database_set=DatabaseSet.of(Path(database)))
        judgement.refuse_if_any()
        report.warnings = judgement.warnings
        plan = {"files": [], "links": []}
        for group, entries in (("files", judgement.files), ("links", judgement.links)):
            for planned in entries:
                full = os.path.join(root, planned.asset.path)
                if os.path.lexists(full):
                    if same_as_stored(full, planned.asset):
                        report.unchanged += 1
                        continue
                    report.local_edits.append(planned.asset.name)
                plan[group].append(planned)
        if report.local_edits and not force:
            shown = ", ".join(report.local_edits[:10]) + (" …" if len(report.local_edits) > 10 else "")
            raise CheckFailed(
                f"{len(report.local_edits)} local edits would be overwritten ({shown}); nothing was written "
                "— push them first (assetdb sync) or rerun with --force"
            )
        check_room(Path(workspace), sum(planned.asset.size for planned in plan["files"]))
        with ConfinedFolder(Path(workspace)) as folder:
            for planned in plan["files"]:
                asset = planned.asset
                chunks = decoded_chunks(asset, planned.blob, blob_chunks(connection, planned.blob))
                folder.stage_file(asset.path, chunks, asset.mode, asset.mtime_ns)
                report.written.append(asset.name)
            for planned in plan["links"]:
                folder.stage_link(planned.asset.path, planned.target, planned.asset.mtime_ns)
                report.written.append(planned.asset.name)
            folder.commit()
    record_operation(
        database,
        Operation(
            "sync-pull",
            subject=str(workspace),
            counts={"written": len(report.written), "unchanged": report.unchanged,
                    "overwritten_edits": len(report.local_edits)},
        ),
        limit,
    )
    return report


def read_log(database: Path, since: str | None = None) -> list[dict]:
    """Rows of the operation log, oldest first; ``since``: a date, a date and time, or a
    time ago (``7d``)."""
    since = parse_moment(since, "--since") if since is not None else None
    with read_consolidated(database) as (connection, _):
        connection.row_factory = lambda cursor, row: {d[0]: v for d, v in zip(cursor.description, row)}
        return connection.execute(
            "SELECT id, operation, subject, status, started_at, finished_at, counts, bytes, size_after, details "
            "FROM cross_database_sync_operations WHERE ? IS NULL OR started_at >= ? ORDER BY id",
            (since, since),
        ).fetchall()
