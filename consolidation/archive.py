"""Phase 7: archive sources whose migration is proved lossless.

A source is archived only when a live verification of every one of its tables passes
against the consolidated set; anything else is refused with the reason. Archiving moves
the file, never deletes its data: a file whose sidecars hold nothing is renamed into the
archive folder (its bytes unchanged); a file whose ``-wal`` or ``-journal`` still holds
committed rows (a WAL database its application never checkpointed) is copied there as
one self-contained file through SQLite's backup API, proved to hold the same content,
and only then removed with its sidecars — two renames could split a database from its
journal. Each archived file's SHA-256 is recorded in ``ARCHIVE_MANIFEST.json`` of the
archive folder, and the ledger marks it archived, from where it stays rebuildable
(``assetdb rebuild-source``). Paths in the manifest are relative to it, in the ledger
relative to the consolidated file, so both mean the same in every clone.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import asdict
from pathlib import Path

from .archive_moves import (
    aliases_of,
    destination_of,
    missing_folders,
    move_aliases,
    move_source,
    refuse_what_the_archive_cannot_take,
)
from .errors import Aborted, BadInput, CheckFailed
from .faults import NoSpace, NotWritable
from .globs import resolved
from .leftovers import sweep_folder, temporary_beside
from .proof import read_sources
from .proof.verify import match_sources, verify_table
from .size import format_size, sidecar_paths
from .sqlite import (
    file_sha256,
    opened_elsewhere,
    writer_lock_holder,
)
from .sqlite.locks import DatabaseLocked
from .store import Operation, read_consolidated, utc_now, write_session
from .store.archive_manifest import Archived, read_manifest
from .store.owned import ARCHIVE_MANIFEST
from .store.set_files import recorded_source, skipped_files
from .store.shard_files import in_the_set

MANIFEST = ARCHIVE_MANIFEST


def prove_lossless(database: Path, source: Path) -> str:
    """The source's ledger name, if every one of its tables verifies live; else raise."""
    with read_consolidated(database) as (connection, shards):
        ledger = read_sources(connection)
        matched, problems = match_sources(database, ledger, [source])
        if problems:
            raise BadInput(f"refusing to archive {source}: not a migrated source of {database}")
        entry = next(s for s in ledger if s.source_id in matched)
        failures = [
            verdict
            for verdict in (verify_table(connection, shards, entry, table, source) for table in entry.tables)
            if not verdict.ok
        ]
    if failures:
        raise CheckFailed(
            f"refusing to archive {source}: not proved lossless ({failures[0].check_id}: {failures[0].problem})"
            f" — run: assetdb migrate {source} --into {database}"
        )
    return entry.name


def left_behind(folder: Path) -> set[str]:
    """Where the sources archived into ``folder`` were (real paths): a link still leading
    there is an alias an earlier run left dangling, which the next archive run moves."""
    return {os.path.realpath(folder / entry.original) for entry in read_manifest(folder)
            if not os.path.lexists(folder / entry.original)}


def reconcile_archive(database: Path, folder: Path, limit: int) -> int:
    """Finish what a killed archive run left: mark archived in the ledger every source the
    manifest holds, remove the sidecars of a copied source whose file is gone, and move the
    aliases it left dangling."""
    entries = read_manifest(folder)
    if not entries:
        return 0
    finished = 0
    with read_consolidated(database) as (connection, _):
        statuses = dict(connection.execute("SELECT name, status FROM migration_sources"))
    for index, entry in enumerate(entries):
        if not entry.location(folder).is_file():
            continue
        if not entry.sha256:  # killed between the move and its record: the move itself is atomic
            location = entry.location(folder)
            entry = entries[index] = Archived(**{**asdict(entry), "sha256": file_sha256(location),
                                                 "bytes": location.stat().st_size})
            _write_manifest(folder, entries)
        original = Path(entry.original) if os.path.isabs(entry.original) else folder / entry.original
        if entry.original_sha256 and not original.exists():
            for sidecar in sidecar_paths(original) + [Path(f"{original}-shm")]:
                sidecar.unlink(missing_ok=True)
        if not os.path.lexists(original):  # its aliases follow it (a set archived before they did too)
            move_aliases(aliases_of(original), entry.location(folder))
        if statuses.get(entry.name) == "migrated":
            _mark_archived(database, entry, folder, limit)
            finished += 1
    return finished


class _Rehearsed(Exception):
    """Raised inside a write session to roll back what it rehearsed."""


def _check_room(database: Path, limit: int, records: list[Archived], folder: Path) -> None:
    """Refuse before moving anything when the ledger could not record the moves under the
    cap: a move the ledger cannot record is a move half-done. The records are written
    once and rolled back, so SQLite itself says whether they fit (an estimate either
    refuses a set with room or lets through one without)."""
    try:
        with write_session(database, limit, f"recording {len(records)} archived sources") as session:
            for record in records:  # with a hash as long as the one each will carry
                _record_archived(session.connection, database, Archived(**{**asdict(record), "sha256": "0" * 64}),
                                 folder)
            raise _Rehearsed
    except _Rehearsed:
        return
    except (DatabaseLocked, NoSpace):  # not the cap: each says what stopped it
        raise
    except Aborted:
        raise Aborted(f"{database}: recording {len(records)} archived sources would take it past the cap of "
                      f"{format_size(limit)}; nothing was moved") from None


def _check_movable(path: Path, database: Path) -> None:
    if path.is_symlink():  # moved, the link would be archived and its database left where it is
        raise BadInput(f"{path}: is a symlink (to {os.readlink(path)}); archive the database it leads to")
    if not path.is_file():
        raise BadInput(f"{path}: no such source database")
    if resolved(path) == resolved(database):
        raise BadInput(f"{path}: is the consolidated database itself")
    holder = writer_lock_holder(path)
    if holder:
        raise Aborted(f"refusing to archive {path}: locked by another writer (pid {holder}); nothing was moved")


def refuse_sources_in_use(paths: list[Path]) -> None:
    """An application that has a source open goes on writing to the file it opened: moved
    into the archive, or removed once copied there, its next rows would be lost to the set."""
    in_use = opened_elsewhere(paths)
    if in_use:
        listed = ", ".join(f"{path} (pid {pid})" for path, pid in sorted(in_use.items()))
        raise Aborted(f"refusing to archive {len(in_use)} source(s) another process has open: {listed}; its next "
                      "writes would go to a file moved away. Close the application, then run again; nothing was moved")


def passed_over(database: Path | str, sources: list[Path | str]) -> dict[Path, str]:
    """Of ``sources`` (``databases/*.db``, say), the files archive passes over, with why, as
    migrate and verify do: the set's own files, those it records as left out, and sources
    already archived from there (a rerun after an archive was killed midway goes on)."""
    database = Path(database)
    if not database.is_file():
        return {}
    with read_consolidated(database) as (connection, _):
        left_out = {os.path.abspath(path): f"left out of the set ({status}: {reason})"
                    for path, status, reason in skipped_files(connection, database)}
        moved = _archived_from(connection, database)
    over = {}
    for source in map(Path, sources):
        if os.path.lexists(source) and in_the_set(source, database):
            over[source] = "a file of the consolidated set itself"
        elif os.path.abspath(source) in left_out:
            over[source] = left_out[os.path.abspath(source)]
    return {**over, **_gone_from(moved, [source for source in map(Path, sources) if source not in over], database)}


def _archived_from(connection, database: Path) -> dict[str, str]:
    """Where each archived source came from (a real path) -> where it is in the archive."""
    return {os.path.realpath(recorded_source(database, source.original_path)): source.archived_path
            for source in read_sources(connection) if source.status == "archived" and source.original_path}


def _gone_from(moved: dict[str, str], sources: list[Path | str], database: Path) -> dict[Path, str]:
    """Of ``sources``, those archived already: gone from where an archived source came from
    (``moved``), or archived where they are (in the archive folder already)."""
    found = {}
    for source in sources:
        came_from = os.path.realpath(source)
        if came_from not in moved:
            continue
        if not os.path.lexists(source):
            found[Path(source)] = f"archived already (to {moved[came_from]})"
        elif os.path.realpath(recorded_source(database, moved[came_from])) == came_from:
            found[Path(source)] = "archived already (where it is, in the archive folder)"
    return found


def archive_sources(
    database: Path | str, sources: list[Path | str], limit: int, to: Path | str | None = None
) -> list[Archived]:
    """Move every proved source into the archive folder; refuse all if any is unproved.

    Each move is recorded in the manifest first, then made, then marked in the ledger, so a
    run killed at any point leaves nothing half-done that the next run cannot finish:
    ``reconcile_archive`` completes the ledger, and a source still in place is simply
    archived again.
    """
    database = Path(database)
    if not database.is_file():
        raise BadInput(f"{database}: no such consolidated database (make it with: assetdb migrate SRC… --into {database})")
    folder = Path(to) if to else database.parent / "archive"
    if os.path.lexists(folder) and (folder.is_symlink() or not folder.is_dir()):
        raise BadInput(f"{folder}: is not a folder; --to names the archive folder (made if missing)")
    reconcile_archive(database, folder, limit)  # a kill between a move and its record: finished now
    with read_consolidated(database) as (connection, _):  # and what is archived already is not archived again
        finished = _gone_from(_archived_from(connection, database), sources, database)
    sources = [source for source in sources if Path(source) not in finished]
    for parent in {Path(source).parent for source in sources}:  # a source renamed aside by a killed removal
        sweep_folder(parent)
    unique: dict[Path, Path] = {}
    for source in map(Path, sources):  # a file named twice is archived once, by its own name, not a link's
        if unique.setdefault(resolved(source), source).is_symlink():
            unique[resolved(source)] = source
    paths = list(unique.values())
    for path in paths:
        _check_movable(path, database)
    refuse_sources_in_use(paths)
    names = {path: prove_lossless(database, path) for path in paths}  # every one proved before any moves
    refuse_what_the_archive_cannot_take(folder, names, "moved")
    _check_room(database, limit, [_record_of(path, names[path], folder) for path in paths], folder)
    made = missing_folders(folder)  # taken away again when its first move is refused
    folder.mkdir(parents=True, exist_ok=True)
    had_manifest = (folder / MANIFEST).exists()
    for inside, _folders, _files in os.walk(folder):  # what a killed archive left, in any of its folders
        sweep_folder(inside)
    manifest = read_manifest(folder)
    archived = []
    for path in paths:
        destination = destination_of(folder, path, names[path])
        made_here = missing_folders(destination.parent)
        destination.parent.mkdir(parents=True, exist_ok=True)
        live = [side for side in sidecar_paths(path) if side.stat().st_size > 0]
        aliases = aliases_of(path)
        record = _record_of(path, names[path], folder, original_sha256=file_sha256(path, *live) if live else "")
        manifest = [entry for entry in manifest  # an unfinished earlier try of the same move
                    if entry.location(folder).absolute() != destination.absolute()]
        _write_manifest(folder, [*manifest, record])
        try:
            if destination != path:  # one in the archive already stays where it is
                move_source(path, destination, live)
        except (OSError, Aborted) as error:
            if not path.exists() or destination.exists():
                raise  # it moved: its pending entry is what the next run finishes from
            _undo_pending(folder, manifest, had_manifest or bool(manifest), made_here + ([] if archived else made))
            if isinstance(error, Aborted):
                raise
            stay = (f"archived before it, and staying so: {', '.join(entry.name for entry in archived)}" if archived
                    else "nothing was changed")
            raise NotWritable(f"{path}: cannot be moved into {folder} ({error.strerror}); {stay}") from None
        move_aliases(aliases, destination)
        record = Archived(**{**asdict(record), "sha256": file_sha256(destination), "bytes": destination.stat().st_size})
        manifest.append(record)  # the pending entry is replaced by the finished one
        _write_manifest(folder, manifest)
        _mark_archived(database, record, folder, limit)
        archived.append(record)
    return archived


def _undo_pending(folder: Path, manifest: list[Archived], keep_manifest: bool, made: list[Path]) -> None:
    """A move refused before anything of it moved: its pending entry goes (and the manifest
    with it, when this run made it), and so do the folders this run made for it, innermost
    first, while they are empty."""
    if keep_manifest:
        _write_manifest(folder, manifest)
    else:
        (folder / MANIFEST).unlink(missing_ok=True)
    for path in made:
        try:
            path.rmdir()
        except OSError:
            return


def _write_manifest(folder: Path, manifest: list[Archived]) -> None:
    temporary = temporary_beside(folder / MANIFEST, "manifest")
    entries = [asdict(entry) for entry in manifest]
    try:
        temporary.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, folder / MANIFEST)
    finally:
        temporary.unlink(missing_ok=True)  # written and renamed, or interrupted (Ctrl-C) on the way


def _record_of(path: Path, name: str, folder: Path, original_sha256: str = "") -> Archived:
    """The manifest entry of source ``path`` (ledger name ``name``) about to be archived in
    ``folder``: its file's hash is taken once it is there."""
    destination = destination_of(folder, path, name)
    return Archived(name, os.path.relpath(path.absolute(), folder.absolute()),
                    os.path.relpath(destination.absolute(), folder.absolute()), "", path.stat().st_size,
                    original_sha256=original_sha256, archived_at=utc_now())


def _mark_archived(database: Path, record: Archived, folder: Path, limit: int) -> None:
    with write_session(database, limit, f"recording {record.name} as archived") as session:
        _record_archived(session.connection, database, record, folder)


def _record_archived(connection: sqlite3.Connection, database: Path, record: Archived, folder: Path) -> None:
    """The ledger's and the log's record of one archived source."""
    location = os.path.relpath(record.location(folder).absolute(), database.parent.absolute())
    connection.execute(
        "UPDATE migration_sources SET status = 'archived', archived_path = ? WHERE name = ?",
        (location, record.name),
    )
    Operation(
        "archive",
        subject=record.name,
        counts={"files": 1},
        bytes=record.bytes,
        details={"from": record.original, "to": location, "sha256": record.sha256,
                 "copied": bool(record.original_sha256)},
    ).record(connection, "ok")
