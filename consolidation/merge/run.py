"""A migration run: many sources into one consolidated set, a few per transaction.

Every source is judged before the first write (the preflight); an existing set is backed
up, verified and outside the workspace, before its first change; a set the run created is
removed again if the run fails; files left out on purpose or as unusable are recorded in
the set's ledger. ``dry_run`` rehearses all of it on a private copy.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import Aborted, BadInput
from ..globs import Exclusions
from ..leftovers import private_scratch
from ..size import database_size, sidecar_paths
from ..sqlite import (
    default_backup_directory,
    file_sha256,
    open_readonly,
)
from ..store import Operation, connect_assetdb, initialize, write_session
from ..store.copies import back_up_set, copy_set
from ..store.set_files import (
    already_recorded,
    forget_skipped,
    has_left_out,
    record_skipped,
    recorded_source,
)
from ..store.shard_files import discard_new_set, manifest
from ..store.shards import SHARD_FILL, most_shards
from .engine import SOURCES_PER_TRANSACTION, MigrationSettings, migrate_sources
from .fingerprinting import SourceReads
from .naming import assign_source_names
from .outcome import MigrationReport
from .preflight import Preflight, preflight


def migrate(
    target: Path | str,
    sources: list[Path | str],
    settings: MigrationSettings,
    backup_directory: Path | None = None,
    track=lambda items: items,
    dry_run: bool = False,
    exclusions: Exclusions = Exclusions(),
    skip_unusable: bool = False,
    preflighted: Preflight | None = None,
) -> MigrationReport:
    """Merge ``sources`` into ``target`` (created if missing), a few sources per transaction.

    Every source is judged before the first write (:func:`preflight`): an unusable one
    stops the run with nothing written, unless ``skip_unusable``; files ``exclusions``
    names are left out on purpose. Either way each file left out is recorded in the
    target's ledger. An existing target is backed up (verified, outside the workspace)
    before its first change; a target this run created is removed again if it fails.
    Sources are only ever read. ``dry_run`` rehearses the whole migration on a private
    temporary copy of the target, so its report is exact and nothing is written.
    """
    target = Path(target)
    checked = preflighted or preflight(target, sources, exclusions, skip_unusable)
    if not dry_run:
        return _migrate_into(target, checked, settings, backup_directory, track)
    with private_scratch("dryrun") as scratch:  # named by its owner, so a kill's leftover is swept
        rehearsal = copy_set(target, scratch)  # every file of the set: rows may go to any
        report = _migrate_into(rehearsal, checked, settings, None, track, rehearsing=target)
    report.target = str(target)
    for outcome in report.sources:
        outcome.action = "planned" if outcome.action != "unchanged" else outcome.action
    return report


def _migrate_into(target: Path, checked: Preflight, settings, backup_directory, track,
                  rehearsing: Path | None = None) -> MigrationReport:
    """Migrate into ``target``; when ``rehearsing`` (the real set ``target`` is a private
    copy of), nothing is backed up and the ledger's source locations are read as the real
    set's, so its sources are recognised in the copy."""
    existed = target.exists()
    report = MigrationReport(str(target), [], left_out=checked.left_out())
    try:
        if not existed:
            initialize(target, settings.limit)
        connection = connect_assetdb(target)
        try:
            known = _known_sources(connection, rehearsing or target)
            names = assign_source_names(checked.sources, known)
            _refuse_a_preferred_source_nobody_named(settings.policy, [*known, *names.values()])
            _refuse_files_in_place_of_archived_sources(connection, checked.sources, names)

            def backup_once() -> None:
                if rehearsing is None and existed and report.backup is None:
                    record = back_up_set(target, backup_directory or default_backup_directory())
                    report.backup = record.backup

            group: list[Path] = []
            new = [path for path in checked.sources if names[path] not in known]
            try:
                with SourceReads(new) as reads:
                    for path in track(checked.sources):
                        if group and not _share_a_transaction(connection, settings.limit, [*group, path]):
                            migrate_sources(connection, target, group, names, settings, reads, report.sources,
                                            backup_once)
                            group = []
                        group.append(path)
                    if group:
                        migrate_sources(connection, target, group, names, settings, reads, report.sources,
                                        backup_once)
            except Aborted as error:
                if not existed:
                    raise
                raise _saying_what_is_kept(error, report, [names[path] for path in group]) from None
            _record_left_out(connection, target, checked, settings.limit, backup_once)
        finally:
            connection.close()
    except BaseException:
        if not existed:
            discard_new_set(target)  # nothing of anyone's was in it: leave the folder as it was
        raise
    return report


def _known_sources(connection: sqlite3.Connection, target: Path) -> dict[str, str]:
    """The ledger's sources: name -> where it was migrated from (a real path)."""
    return {name: os.path.realpath(recorded_source(target, location))  # never raises on a loop
            for name, location in connection.execute("SELECT name, original_path FROM main.migration_sources")}


def planned_names(target: Path, sources: list[Path]) -> dict[Path, str]:
    """The names ``sources`` will be migrated under into ``target`` (made if missing)."""
    if not target.is_file():
        return assign_source_names(sources, {})
    with open_readonly(target) as connection:
        return assign_source_names(sources, _known_sources(connection, target))


def _saying_what_is_kept(error: Aborted, report: MigrationReport, group: list[str]) -> Aborted:
    """A refusal saying which sources stay migrated: a few sources commit together, all
    their files or none, so a refusal undoes only the sources of the ``group`` it met not
    yet committed (a group migrated a source at a time commits some), and the same command
    run again goes on from there."""
    kept = [outcome.name for outcome in report.sources if outcome.action in ("migrated", "remigrated")]
    if not kept:
        return error
    done = {outcome.name for outcome in report.sources}
    refused = next(name for name in group if name not in done)
    shown = ", ".join(kept[:5]) + (f" and {len(kept) - 5} more" if len(kept) > 5 else "")
    return type(error)(f"{error} from {refused} on; the {len(kept)} sources migrated before it stay migrated, "
                       f"each proved in its own commit ({shown}): once that is mended, the same command goes on "
                       "from there")


def _share_a_transaction(connection: sqlite3.Connection, limit: int, group: list[Path]) -> bool:
    """May ``group`` be migrated in one transaction? A few sources may, while this SQLite
    can attach them all beside every file the set has and every shard their bytes may
    add (one more for a part-filled one). A group that runs out of files all the same is
    migrated again a source at a time."""
    if len(group) > SOURCES_PER_TRANSACTION:
        return False
    files = 1 + len(manifest(connection))
    may_add = 1 + sum(database_size(path) for path in group) // max(1, int(limit * SHARD_FILL))
    return files + may_add + len(group) <= most_shards(connection)


def _refuse_a_preferred_source_nobody_named(policy, names: list[str]) -> None:
    """``--prefer source:NAME`` names a source of this run or of the set: a NAME that is
    neither (a typo) would quietly leave every conflict to the first source."""
    if policy.kind == "source" and policy.source_name not in names:
        known = ", ".join(sorted(set(names))[:8]) or "none"
        raise BadInput(f"--prefer source:{policy.source_name}: no source of that name (sources: {known})")


def _refuse_files_in_place_of_archived_sources(connection: sqlite3.Connection, sources: list[Path],
                                               names: dict[Path, str]) -> None:
    """A source the set holds as archived is proved by its archived copy. Another file under
    its name (a new ``a.db`` where the archived one was) would be taken for it, and migrating
    it would drop the archived rows from the set: it is refused before anything is written."""
    archived = dict(connection.execute("SELECT name, file_sha256 FROM main.migration_sources WHERE status = 'archived'"))
    for path in sources:
        name = names[path]
        if name in archived and file_sha256(path, *sidecar_paths(path)) != archived[name]:
            raise BadInput(
                f"{path}: the consolidated set holds {name} as an archived source, and this is another file under "
                f"its name; rename it (or move it out of the folder) to migrate it as a source of its own")


def _record_left_out(connection: sqlite3.Connection, target: Path, checked: Preflight, limit: int, before_write) -> None:
    """Keep the ledger's list of files left out true: what this run left out is recorded
    (with a log row), and a file that was left out before and is migrated now is forgotten."""
    left_out = checked.left_out()
    if not has_left_out(connection, target, checked.sources) and already_recorded(connection, target, left_out):
        return  # nothing to forget, nothing new to record: not a byte changes
    before_write()
    with write_session(target, limit, "recording the files left out", connection=connection):
        forget_skipped(connection, target, checked.sources)
        if left_out:
            record_skipped(connection, target, left_out)
            Operation(
                "skip",
                subject=f"{len(left_out)} files",
                counts={"unusable": len(checked.unusable), "excluded": len(checked.excluded)},
                details={"files": [{"path": str(path), "status": status, "reason": reason}
                                   for path, status, reason in left_out[:200]]},
            ).record(connection, "ok")
