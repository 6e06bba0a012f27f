"""Proof that every stored asset regenerates, safely, and that the workspace is fully stored.

Independent of the writer: it reads bytes back through the same judged, streamed
decoder regenerate uses (declared size against what the blob can inflate to, a running
count, the SHA-256), and it asks every row the questions regenerate asks before writing
(:mod:`consolidation.assets.judge`): an unsafe path, a mode that is not a file's or a
link's or that asks for setuid/setgid/sticky, a path through a stored symlink, a symlink
out of the folder, a size that does not match. So CI fails on a poisoned database before
anyone regenerates it. The ``sqlar`` table is checked too, since ``sqlite3 -Ax`` extracts
it: every row must be a current asset's, with that asset's mode.

A symlink out of the folder that the workspace itself holds (same target) is what the
repository has, not a poisoned row: with a workspace, it passes.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ..assets import Classifier
from ..assets.asset_rows import (
    StoredAsset,
    hostile_reads,
    select_assets,
    select_history,
)
from ..assets.confine import executable, unsafe_reason
from ..assets.judge import judge
from ..assets.stored import NO_CAP, check_stored, same_as_stored
from ..assets.walk import WorkspaceListing, holds_sqlite, list_workspace
from ..globs import Exclusions
from ..sqlite.backup import find_workspace
from ..store import read_consolidated
from ..store.owned import DatabaseSet

SHOWN_PATHS = 20


@dataclass
class ReproducibilityReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    #: Of the problems, those that are the workspace ahead of the set (a file edited, made
    #: executable, added or deleted since the last sync): a sync, not a repair, mends them.
    workspace_changes: int = 0
    #: Some file changed while keeping its size and mtime: only ``sync --rehash`` sees it.
    needs_rehash: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        shown = self.problems[:SHOWN_PATHS]
        more = len(self.problems) - len(shown)
        return "\n".join(shown + ([f"… and {more} more"] if more > 0 else []))


def check_reproducible(
    database: Path | str,
    workspace: Path | str | None = None,
    kinds: tuple[str, ...] = (),
    manager=None,
    exclusions: Exclusions = Exclusions(),
    listing: WorkspaceListing | None = None,
) -> ReproducibilityReport:
    """Every asset (of ``kinds``) is safe to regenerate and regenerates to its recorded
    hash; with a workspace, every file that should be an asset is one, with the same bytes.
    ``listing``: the workspace's files as :func:`workspace_listing` took them for this run
    (checks of several kinds share one walk of a large tree); else they are listed here."""
    report = ReproducibilityReport()
    workspace = Path(workspace) if workspace is not None else None
    with hostile_reads(database), read_consolidated(database) as (connection, shards):
        universe = select_assets(connection)
        selected = [asset for asset in universe if not kinds or asset.kind in kinds]
        report.checked = len(selected)
        judgement = judge(connection, shards, selected, universe, max_file_size=NO_CAP, privileges_are_problems=True,
                          accepted_links=_workspace_links(workspace, universe) if workspace else frozenset())
        report.problems += [f"{asset.row}: {reason}" for asset, reason in judgement.problems]
        report.problems += _the_set_s_own(Path(database), selected)
        for planned in judgement.files:
            problem = check_stored(connection, shards, planned.asset, NO_CAP)
            if problem:
                report.problems.append(problem)
            elif workspace is not None:
                _compare_with_workspace(workspace, database, planned.asset, report)
        if workspace is not None:
            for planned in judgement.links:
                _compare_with_workspace(workspace, database, planned.asset, report)
        report.problems += _sqlar_problems(connection, shards, universe, kinds)
        _check_history(connection, shards, kinds, report)
    if workspace is not None:
        stored = {asset.path for asset in universe}
        classifier = Classifier.for_workspace(workspace, manager)
        listing = listing or workspace_listing(database, workspace, exclusions)
        for file in listing.files:
            if file.path in stored or (kinds and classifier.kind_of(file.name) not in kinds):
                continue
            if not holds_sqlite(workspace, file):  # a database under another name is never an asset
                report.problems.append(f"{file.name}: in the workspace but not stored ({_sync_hint(workspace, database)})")
                report.workspace_changes += 1
    return report


def _the_set_s_own(database: Path, assets: list[StoredAsset]) -> list[str]:
    """Rows at the path of one of the set's own files (from the workspace it sits in): no
    ingest stores one; regenerated or pulled, it would replace that file."""
    owned, workspace = DatabaseSet.of(database), os.fsencode(find_workspace(database))
    return [f"{asset.row}: a file of the consolidated set itself, which is never an asset" for asset in assets
            if owned.owns(os.path.join(workspace, asset.path), aliases=False)]


def workspace_listing(database: Path | str, workspace: Path | str,
                      exclusions: Exclusions = Exclusions()) -> WorkspaceListing:
    """The files of ``workspace`` the set ``database`` is compared with: its own files, and
    anything ``exclusions`` names, left out."""
    return list_workspace(Path(workspace), DatabaseSet.of(Path(database)), exclusions)


def workspace_kinds(database: Path | str, workspace: Path | str, manager=None,
                    listing: WorkspaceListing | None = None) -> set[str]:
    """The asset kinds of the files in ``workspace`` that the set ``database`` should hold (its
    own files and databases left out): each is a kind the workspace is compared in, stored or
    not. ``listing``: as :func:`workspace_listing` took it, if it has been."""
    workspace = Path(workspace)
    classifier = Classifier.for_workspace(workspace, manager)
    kinds: set[str] = set()
    for file in (listing or workspace_listing(database, workspace)).files:
        kind = classifier.kind_of(file.name)
        if kind not in kinds and not holds_sqlite(workspace, file):  # a kind seen needs no file opened again
            kinds.add(kind)
    return kinds


def _check_history(connection: sqlite3.Connection, shards: dict[int, str], kinds: tuple[str, ...],
                   report: ReproducibilityReport) -> None:
    """Past versions are what ``regenerate --at`` writes: each row judged alone, and each
    blob of history hash-checked once, however many versions share it. A past symlink that
    led out of the folder was the workspace's as it was then (the check accepted it while
    it was current): ``regenerate --at`` asks for --allow-outside-links to write it, and the
    proof takes it as it is."""
    history = select_history(connection, kinds)
    past = judge(connection, shards, history, max_file_size=NO_CAP, privileges_are_problems=True, as_tree=False,
                 allow_outside_links=True)
    report.problems += [f"{asset.row}, version {asset.version}: {reason}" for asset, reason in past.problems]
    hashed: set[tuple[int, str]] = set()
    for planned in past.files:
        key = (planned.asset.shard, planned.asset.sha256)
        if key not in hashed:
            hashed.add(key)
            problem = check_stored(connection, shards, planned.asset, NO_CAP)
            if problem:
                report.problems.append(problem)


def _workspace_links(workspace: Path, universe: list[StoredAsset]) -> frozenset[tuple[bytes, bytes]]:
    """The stored symlinks the workspace holds too, with their targets."""
    root = os.fsencode(workspace)
    found = set()
    for asset in universe:
        if asset.is_link and not asset.defect and not unsafe_reason(asset.path):
            try:
                found.add((asset.path, os.readlink(os.path.join(root, asset.path))))
            except OSError:
                continue
    return frozenset(found)


def _sync_hint(workspace: Path, database) -> str:
    return f"run: assetdb sync {workspace} --db {database}"


def _compare_with_workspace(workspace: Path, database, asset: StoredAsset, report: ReproducibilityReport) -> None:
    """Is the workspace's file the stored version: the same bytes (a link's target), and
    executable or not alike (what git records of a file's mode; the other bits follow
    each checkout's umask)?"""
    full = os.path.join(os.fsencode(workspace), asset.path)
    info = os.lstat(full) if os.path.lexists(full) else None
    hint = _sync_hint(workspace, database)
    if info is None:
        problem = "stored but missing from the workspace"
    elif not same_as_stored(full, asset, executable_too=False):  # the bit is said apart, below
        problem = f"workspace bytes differ from the stored version {asset.version}"
        if (info.st_size, info.st_mtime_ns) == (asset.size, asset.mtime_ns):  # a sync would take it for unchanged
            problem, hint = f"{problem}, its size and mtime as stored", f"{hint} --rehash"
            report.needs_rehash = True
    elif not asset.is_link and executable(info.st_mode) != executable(asset.mode):
        now = "executable" if executable(info.st_mode) else "not executable"
        problem = f"{now} in the workspace, unlike the stored version {asset.version} ({asset.mode & 0o7777:#o})"
    else:
        return
    report.problems.append(f"{asset.name}: {problem} ({hint})")
    report.workspace_changes += 1


def _sqlar_problems(connection: sqlite3.Connection, shards: dict[int, str], universe: list[StoredAsset],
                    kinds: tuple[str, ...]) -> list[str]:
    """``sqlar`` rows that ``sqlite3 -Ax`` would extract but no current asset accounts
    for (reported whatever the kinds asked), or whose mode is not their asset's."""
    current = {(asset.shard, asset.path): asset for asset in universe}
    problems = []
    for number, schema in shards.items():
        where = "the primary" if number == 1 else f"shard {number}"
        for rowid, name, mode in connection.execute(f"SELECT rowid, CAST(name AS BLOB), mode FROM {schema}.sqlar"):
            shown = os.fsdecode(name) if isinstance(name, bytes) else repr(name)
            asset = current.get((number, name))
            if asset is None:
                problems.append(f"sqlar row {rowid} ({shown!r}) in {where}: no current asset holds it, "
                                "yet sqlite3 -Ax would extract it")
            elif kinds and asset.kind not in kinds:
                continue
            elif mode != asset.mode:
                problems.append(f"sqlar row {rowid} ({shown!r}) in {where}: mode {mode!r} differs from {asset.row}'s "
                                f"{asset.mode:#o}")
    return problems
