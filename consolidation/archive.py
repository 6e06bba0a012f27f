"""Phase 7: archive sources whose migration is proved lossless.

A source is archived only when a live verification of every one of its tables passes
against the consolidated set; anything else is refused with the reason. Archiving moves
the file (with any ``-wal``/``-journal`` sidecar), never deletes it, records its SHA-256
in ``ARCHIVE_MANIFEST.json`` of the archive folder, and marks it archived in the ledger,
from where it stays rebuildable (``assetdb rebuild-source``).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput, CheckFailed
from .proof import read_sources
from .proof.verify import match_sources, verify_table
from .size import sidecar_paths
from .sqlite import file_sha256, writer_lock_holder
from .store import Operation, read_consolidated, utc_now, writing

MANIFEST = "ARCHIVE_MANIFEST.json"


@dataclass(frozen=True)
class Archived:
    name: str
    original: str
    archived: str
    sha256: str
    bytes: int


def in_archive(root: Path, relative: str) -> bool:
    """Whether ``relative`` (a database path under ``root``) lies in an archive folder."""
    parts = relative.split("/")
    return any((root.joinpath(*parts[:depth]) / MANIFEST).is_file() for depth in range(1, len(parts)))


def prove_lossless(database: Path, source: Path) -> str:
    """The source's ledger name, if every one of its tables verifies live; else raise."""
    with read_consolidated(database) as (connection, shards):
        ledger = read_sources(connection)
        matched, problems = match_sources(ledger, [source])
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
            " — run: assetdb migrate"
        )
    return entry.name


def reconcile_archive(database: Path, folder: Path) -> int:
    """Mark archived in the ledger every source the folder's manifest holds (a run killed
    between moving a file and recording it leaves exactly that to finish); returns how many."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return 0
    finished = 0
    with read_consolidated(database) as (connection, _):
        statuses = dict(connection.execute("SELECT name, status FROM migration_sources"))
    for entry in json.loads(manifest_path.read_text()):
        if statuses.get(entry["name"]) == "migrated" and Path(entry["archived"]).is_file():
            _mark_archived(database, Archived(entry["name"], entry["original"], entry["archived"],
                                              entry["sha256"], entry["bytes"]))
            finished += 1
    return finished


def archive_sources(database: Path | str, sources: list[Path | str], to: Path | str | None = None) -> list[Archived]:
    """Move every proved source into the archive folder; refuse all if any is unproved.

    Each move is recorded in the manifest first, then made (a rename), then marked in
    the ledger, so a run killed at any point leaves nothing half-done that the next run
    cannot finish: ``reconcile_archive`` completes the ledger, and a source still in
    place is simply archived again.
    """
    database = Path(database)
    folder = Path(to) if to else database.parent / "archive"
    reconcile_archive(database, folder)
    paths = [Path(source) for source in sources]
    for path in paths:
        if not path.is_file():
            raise BadInput(f"{path}: no such source database")
        if path.resolve() == database.resolve():
            raise BadInput(f"{path}: is the consolidated database itself")
        holder = writer_lock_holder(path)
        if holder:
            raise BadInput(f"refusing to archive {path}: locked by another writer (pid {holder})")
        live = [side.name for side in sidecar_paths(path) if side.stat().st_size > 0]
        if live:  # moving a database and its journal is two moves: never risk splitting them
            raise BadInput(
                f"refusing to archive {path}: {', '.join(live)} still holds data; let its application "
                "checkpoint it (close it cleanly), then archive"
            )
        if (folder / path.name).exists():
            raise BadInput(f"{folder / path.name}: already in the archive; refusing to overwrite it")
    names = {path: prove_lossless(database, path) for path in paths}  # every one proved before any moves
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else []
    archived = []
    for path in paths:
        destination = folder / path.name
        record = Archived(names[path], str(path.resolve()), str(destination.resolve()), file_sha256(path), path.stat().st_size)
        manifest = [entry for entry in manifest if entry["archived"] != record.archived]  # an unfinished earlier try
        manifest.append({**record.__dict__, "archived_at": utc_now()})
        _write_manifest(manifest_path, manifest)
        shutil.move(path, destination)
        for sidecar in sidecar_paths(path):  # empty leftovers follow the file
            shutil.move(sidecar, folder / sidecar.name)
        _mark_archived(database, record)
        archived.append(record)
    return archived


def _write_manifest(path: Path, manifest: list[dict]) -> None:
    temporary = path.with_name(f".{MANIFEST}.tmp")
    temporary.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(temporary, path)


def _mark_archived(database: Path, record: Archived) -> None:
    with writing(database) as connection:
        connection.execute(
            "UPDATE migration_sources SET status = 'archived', archived_path = ? WHERE name = ?",
            (record.archived, record.name),
        )
        Operation(
            "archive",
            subject=record.name,
            counts={"files": 1},
            bytes=record.bytes,
            details={"from": record.original, "to": record.archived, "sha256": record.sha256},
        ).record(connection, "ok")
