"""The gate's checks: what is checked for each database, in which phase, and the order.

Checks belong to the phases of the consolidation, in order. A check only runs when the
checks of earlier phases that it depends on passed for the same database (those about
the whole database, and those about the same source); otherwise it fails "by gate",
naming the earlier check. Each item works its prerequisites out itself, through a
per-process cache, so gating is the same whether items run in one process or are spread
over xdist workers, and no check runs twice in a process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from consolidation.errors import AssetdbError
from consolidation.phases import PHASE_NAMES
from consolidation.proof import workspace_kinds, workspace_listing
from consolidation.size import database_size
from consolidation.sqlite import DatabaseLocked
from consolidation.store import ASSET_TABLES
from consolidation.store.set_files import recorded_source

from .checks import (
    CheckResult,
    asset_kinds,
    check_archived,
    check_integrity,
    check_lossless,
    check_rebuildable,
    check_reproducible_kind,
    check_schema,
    check_size,
    is_assetdb_primary,
    is_assetdb_shard,
    migrated_sources,
)
from .list_checks import check_listed
from .membership import Membership

PHASES = PHASE_NAMES  # the consolidation's phases, in order
#: The scope of the checks about the workspace's files of one kind: they gate nothing about
#: the rows, nor one another (a script not synced says nothing of the documents).
WORKSPACE_SCOPE = "workspace"
#: Which phase proves each asset kind reproducible.
KIND_PHASES = {"script": "sync", "documentation": "documentation", "template": "templates", "pattern": "templates"}


@dataclass(frozen=True)
class CheckContext:
    """What a check gets: the database, how to name it, and the gate's settings."""

    path: Path
    shown_as: str
    limit: int
    workspace: Path | None
    database_list: Path | None
    warn_at: int | None = None


@dataclass(frozen=True)
class Check:
    """One gate item: its id after ``::``, its phase and kind, and the function it runs.

    Plugins return these from ``pytest_assetdb_collect_checks``.
    """

    name: str
    phase: str
    kind: str
    run: Callable[[CheckContext], CheckResult]
    scope: str | None = None  # e.g. the source a check is about; None: the whole database
    #: About how many bytes the check reads (0: unknown, or next to nothing). Only the
    #: order of work under xdist uses it: the costliest checks start first.
    cost: int = 0
    #: Do later checks rely on what it proves? Not on a file's size: one over the cap is
    #: still proved lossless, rebuildable, listed.
    gates: bool = True

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"check {self.name!r}: unknown phase {self.phase!r} (phases: {', '.join(PHASES)})")

    @property
    def order(self) -> int:
        return PHASES.index(self.phase)

    def gated_by(self, earlier: Check) -> bool:
        """Checks of earlier phases gate this one when they are about the whole database
        or about the same thing (``rebuildable[s]`` waits for ``lossless[s:…]`` only)."""
        return earlier.gates and earlier.order < self.order and earlier.scope in (None, self.scope)


def builtin_checks(path: Path, database_list: Path | None, membership: Membership = Membership(),
                   workspace: Path | None = None) -> list[Check]:
    """The checks a database gets: a file its set left out, one ``skipped`` item; an
    archived source, the checks of an archive; any other, the inventory checks, and a
    consolidated one the checks of every phase: ``reproducible[KIND]`` for each kind it
    holds, and each kind of the ``workspace``'s files (stored or not: a workspace never
    synced is not as stored)."""
    if membership.skipped is not None:
        return [Check("skipped", "inventory", "skipped", lambda c, why=membership.skipped: CheckResult(
            True, f"left out of the consolidated set ({why})", {"skipped": why}, skip=True))]
    checks = [
        # A shard is filled to 90 % by design and held under the cap by SQLite itself: no
        # write can take it over, so being near the cap is no warning for it.
        Check("size", "inventory", "size", lambda c, shard=is_assetdb_shard(path), archived=membership.archived: check_size(
            c.path, c.limit, c.shown_as, None if shard else c.warn_at, archived is not None), gates=False),
        Check("integrity", "inventory", "integrity", lambda c: check_integrity(c.path, c.shown_as),
              cost=_file_bytes(path)),
    ]
    if membership.usable_since is not None:  # the list is made true once it is migrated: its skipped item says how
        return [*checks, Check("skipped", "migration", "skipped",
                               lambda c, why=membership.usable_since: CheckResult(False, why), gates=False)]
    if membership.locked is not None:
        return [checks[0], Check("integrity", "inventory", "integrity", lambda c, why=membership.locked: CheckResult(
            False, f"what the consolidated set beside it records of this file could not be read: {why} — rerun "
                   "the gate when the writer is done"))]
    if membership.archived is not None:
        checks.append(Check("archived", "finalization", "archived",
                            lambda c, entry=membership.archived, set_=membership.archived_from: check_archived(
                                c.path, entry, set_, c.shown_as)))
        if database_list is not None:
            checks.append(Check("listed", "finalization", "listed",
                                lambda c: check_listed(c.path, c.database_list, c.shown_as, archived=True)))
        return checks
    try:
        return checks + _checks_of_its_content(path, database_list, workspace)
    except DatabaseLocked as error:  # a writer held it past the wait: what it holds cannot be listed
        return [checks[0], Check("integrity", "inventory", "integrity", lambda c, why=str(error): CheckResult(
            False, f"locked while the gate listed its checks: {why} — rerun the gate when the writer is done"))]


def _checks_of_its_content(path: Path, database_list: Path | None, workspace: Path | None) -> list[Check]:
    """The checks a database's content calls for: a consolidated one's of every phase (none
    for a legacy database, whose content the inventory checks cover)."""
    checks: list[Check] = []
    if is_assetdb_primary(path):
        checks.append(Check("schema", "schema", "schema", lambda c: check_schema(c.path, c.shown_as)))
    sources = sorted(migrated_sources(path), key=lambda source: source.name)  # the ids, sorted
    for source in sources:
        rows = max(1, sum(table.rows_read for table in source.tables))
        for table in sorted(source.tables, key=lambda table: table.source_table):
            checks.append(
                Check(
                    f"lossless[{source.name}:{table.source_table}]",
                    "migration",
                    "lossless",
                    lambda c, s=source.name, t=table.source_table: check_lossless(c.path, s, t, c.shown_as),
                    scope=source.name,
                    cost=source.bytes * table.rows_read // rows,
                )
            )
    kinds = asset_kinds(path)
    listing = None  # the workspace's files, walked once here for every kind's check in this process
    if workspace is not None and is_assetdb_primary(path):
        listing = workspace_listing(path, workspace)
        in_workspace = workspace_kinds(path, workspace, listing=listing)
        kinds = {kind: kinds.get(kind, 0) for kind in ASSET_TABLES if kind in kinds or kind in in_workspace}
    for kind, stored_bytes in kinds.items():
        checks.append(
            Check(
                f"reproducible[{kind}]",
                KIND_PHASES[kind],
                "reproducible",
                lambda c, k=kind, files=listing: check_reproducible_kind(c.path, k, c.workspace, c.shown_as, files),
                scope=f"{WORKSPACE_SCOPE}:{kind}",
                cost=stored_bytes,
            )
        )
    for source in sources:
        checks.append(
            Check(
                f"rebuildable[{source.name}]",
                "finalization",
                "rebuildable",
                lambda c, s=source.name, copy=_archived_copy(path, source): check_rebuildable(
                    c.path, s, c.shown_as, copy),
                scope=source.name,
                cost=REBUILD_COST_FACTOR * source.bytes,  # it writes the file, then proves it
            )
        )
    if database_list is not None:
        checks.append(Check("listed", "finalization", "listed", lambda c: check_listed(c.path, c.database_list, c.shown_as)))
    return checks


#: A rebuild writes the source's file anew and proves it: measured, it takes about five
#: times as long as proving the same rows lossless.
REBUILD_COST_FACTOR = 5


def _archived_copy(primary: Path, source) -> Path | None:
    """Where an archived source's copy is, as the ledger records it (None: not archived)."""
    if source.status != "archived" or not source.archived_path:
        return None
    return recorded_source(primary, source.archived_path)


def _file_bytes(path: Path) -> int:
    """What an integrity check reads: the file and its sidecars (0 if it cannot be seen)."""
    try:
        return database_size(path)
    except OSError:
        return 0


class ResultCache:
    """Check results of this process, by database and check name: a check that fails by
    raising is a failed result too, so it runs once and the checks it gates fail by gate."""

    def __init__(self) -> None:
        self._results: dict[tuple[Path, str], CheckResult] = {}

    def result(self, check: Check, context: CheckContext) -> CheckResult:
        key = (context.path, check.name)
        if key not in self._results:
            self._results[key] = _run(check, context)
        return self._results[key]


def _run(check: Check, context: CheckContext) -> CheckResult:
    try:
        return check.run(context)
    except AssetdbError as error:  # what the library refuses, in its own one line
        return CheckResult(False, str(error))
    except sqlite3.DatabaseError as error:
        return CheckResult(False, f"{context.shown_as}: SQLite cannot read the consolidated set ({error}) — see each "
                                  "file's integrity item, and restore a damaged one from a verified backup "
                                  "(assetdb restore BACKUP --to FILE)")
    except Exception as error:  # a plugin's check: its traceback is for its author
        return CheckResult(False, f"{check.name} raised {type(error).__name__}: {error}", raised=error)
