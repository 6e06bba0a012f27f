"""Phases 4–5: store every file of a workspace as an asset, so it regenerates byte for byte.

Each file becomes a row of ``script_assets``, ``documentation_assets``,
``template_assets`` or ``pattern_assets`` (path, SHA-256, size, mode, mtime, first seen,
last changed, version), classified by path rules from ``[tool.assetdb.kinds]`` and the
``assetdb_classify_asset`` hook. The bytes of the current version live in the ``sqlar``
table (so the stock ``sqlite3 DB -Ax`` restores the workspace), superseded versions once
per SHA-256 in ``asset_blobs``; both zlib-compressed only when that is smaller.

The hash and the stored bytes come from the same read of the file. Reading and
compressing run on a thread pool (zlib and hashlib release the GIL); one connection
writes, in one transaction, so an interrupted ingest leaves the database as it was.
Paths are handled as bytes, so names that are not UTF-8 round-trip too.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Aborted, BadInput
from ..globs import Exclusions
from ..leftovers import private_scratch
from ..size import format_size
from ..sqlite.classify import refuse_broken_symlink
from ..sqlite.introspect import quote_identifier as q
from ..store import (
    ASSET_TABLES,
    Operation,
    ShardSet,
    connect_assetdb,
    initialize,
    utc_now,
    write_session,
)
from ..store.identity import refuse_a_set_beside
from ..store.lock import DEFAULT_LOCK_TIMEOUT, database_lock
from ..store.owned import DatabaseSet
from ..store.schema import BLOB_TABLE, USAGE_TRACKING_KINDS
from ..store.shard_files import discard_new_set
from .current import (
    CurrentAsset,
    as_stored,
    current_assets,
    refuse_a_folder_of_the_stored_tree,
)
from .kinds import Classifier
from .links import archive_mtime, untime_links
from .pack import CHUNK, Packed, pack_file
from .walk import WorkspaceFile, holds_sqlite, list_workspace

# -- finding files ------------------------------------------------------------------------


# -- reading and packing ------------------------------------------------------------------


# -- writing --------------------------------------------------------------------------------


@dataclass
class IngestReport:
    workspace: str
    database: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # same bytes, new mode or mtime
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    bytes_read: int = 0
    deleted: list[str] = field(default_factory=list)  # only when deletions are recorded (sync)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (old path, new path), same bytes
    databases_outside: list[str] = field(default_factory=list)  # database files found, never stored
    set_leaves_files_out: bool = False  # so a hint to consolidate those says --skip-unusable

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.changed or self.touched or self.deleted)


def _store_bytes(connection: sqlite3.Connection, packed: Packed, name: bytes, schema: str) -> None:
    """The current bytes of ``name`` into ``schema``'s ``sqlar`` (streamed for large files)."""
    mtime = archive_mtime(packed.mode, packed.mtime_ns)
    if packed.data is not None:
        connection.execute(
            f"REPLACE INTO {schema}.sqlar (name, mode, mtime, sz, data) VALUES (CAST(? AS TEXT), ?, ?, ?, ?)",
            (name, packed.mode, mtime, packed.size, packed.data),
        )
        return
    cursor = connection.execute(
        f"REPLACE INTO {schema}.sqlar (name, mode, mtime, sz, data) VALUES (CAST(? AS TEXT), ?, ?, ?, zeroblob(?))",
        (name, packed.mode, mtime, packed.size, packed.stored_size),
    )
    with connection.blobopen("sqlar", "data", cursor.lastrowid, name=schema) as blob, open(packed.spool, "rb") as source:
        while chunk := source.read(CHUNK):
            blob.write(chunk)


def place_bytes(connection: sqlite3.Connection, shards: ShardSet, packed: Packed) -> int:
    """Store ``packed``'s bytes where they fit under the cap; returns the shard.

    Placement is decided before writing, from the bytes' size, so a file goes whole
    into the current shard or the next; SQLite's page limit only backs that up.
    """
    page_size = connection.execute("PRAGMA main.page_size").fetchone()[0]
    needed = packed.stored_size + 4 * page_size
    too_large = Aborted(f"{packed.name}: {format_size(packed.stored_size)} does not fit under the cap of "
                        f"{format_size(shards.limit)}; rolled back")
    if not shards.has_room_for(shards.current, needed):
        shards.go_back_to_room_for(needed)
    while not shards.has_room_for(shards.current, needed):
        if shards.holds_nothing_yet(shards.current):  # a file of its own: as full as SQLite lets it be
            if shards.could_hold_alone(shards.current, needed):
                break
            raise too_large
        if not shards.can_advance():
            if packed.stored_size < shards.limit // 2:  # a new file would take it: it is the files that ran out
                raise shards.exhausted()
            raise too_large
        shards.advance()
    _store_bytes(connection, packed, packed.path, shards.schema(shards.current))
    return shards.current


def _retire_bytes(connection: sqlite3.Connection, shards: ShardSet, name: bytes, asset: CurrentAsset) -> None:
    """The current bytes of ``name`` become history: kept once per SHA-256 in the shard
    that holds them, and out of that shard's archive view. They go by way of a temporary
    copy, the archive's row first: the shard never holds them twice (a full shard could
    not, and the sync of a changed file in it was refused for good)."""
    schema = shards.schema(asset.shard)
    if connection.execute(f"SELECT 1 FROM {schema}.{BLOB_TABLE} WHERE sha256 = ?", (asset.sha256,)).fetchone():
        connection.execute(f"DELETE FROM {schema}.sqlar WHERE name = CAST(? AS TEXT)", (name,))
        return  # kept already, for an earlier version of the same bytes
    connection.execute("DROP TABLE IF EXISTS temp.assetdb_retired")
    connection.execute(
        f"CREATE TEMP TABLE assetdb_retired AS SELECT data FROM {schema}.sqlar WHERE name = CAST(? AS TEXT)", (name,)
    )
    connection.execute(f"DELETE FROM {schema}.sqlar WHERE name = CAST(? AS TEXT)", (name,))
    connection.execute(
        f"INSERT INTO {schema}.{BLOB_TABLE} (sha256, size, data) SELECT ?, ?, data FROM temp.assetdb_retired",
        (asset.sha256, asset.size),
    )
    connection.execute("DROP TABLE temp.assetdb_retired")


def record_asset(
    connection, shards: ShardSet, packed: Packed, kind: str, previous: CurrentAsset | None, now: str
) -> str:
    """Write one packed file; returns what happened: added, changed or touched."""
    name = packed.path
    table = q(ASSET_TABLES[kind])
    if previous is not None and previous.sha256 == packed.sha256 and previous.kind == kind:
        connection.execute(
            f"UPDATE {table} SET mode = ?, mtime = ?, mtime_ns = ? WHERE id = ?",
            (packed.mode, packed.mtime_ns // 1_000_000_000, packed.mtime_ns, previous.row_id),
        )
        connection.execute(
            f"UPDATE {shards.schema(previous.shard)}.sqlar SET mode = ?, mtime = ? WHERE name = CAST(? AS TEXT)",
            (packed.mode, archive_mtime(packed.mode, packed.mtime_ns), name),
        )
        return "touched"
    first_seen = now
    version = connection.execute(
        f"SELECT coalesce(max(version), 0) + 1 FROM {table} WHERE path = CAST(? AS TEXT)", (name,)
    ).fetchone()[0]  # a path that comes back after a deletion continues its history
    if previous is not None:
        _retire_bytes(connection, shards, name, previous)
        old_table = q(ASSET_TABLES[previous.kind])
        connection.execute(f"UPDATE {old_table} SET is_current = 0 WHERE id = ?", (previous.row_id,))
        first_seen = connection.execute(f"SELECT first_seen FROM {old_table} WHERE id = ?", (previous.row_id,)).fetchone()[0]
    shard = place_bytes(connection, shards, packed)
    cursor = connection.execute(
        f"INSERT INTO {table} (path, version, is_current, sha256, size, mode, mtime, mtime_ns, first_seen, "
        "last_changed, shard) VALUES (CAST(? AS TEXT), ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
        (name, version, packed.sha256, packed.size, packed.mode, packed.mtime_ns // 1_000_000_000,
         packed.mtime_ns, first_seen, now, shard),
    )
    if kind in USAGE_TRACKING_KINDS:  # usage carries over from version to version
        usage = (0, None)
        if previous is not None and previous.kind == kind:
            usage = connection.execute(
                f"SELECT usage_count, last_used FROM {table} WHERE id = ?", (previous.row_id,)
            ).fetchone()
        connection.execute(
            f"UPDATE {table} SET name = ?, usage_count = ?, last_used = ? WHERE id = ?",
            (asset_name(packed.name), *usage, cursor.lastrowid),
        )
    return "added" if previous is None else "changed"


def asset_name(path: str) -> str:
    """The name a template or pattern is used by: its path without the conventional
    folder and suffix (``templates/script.py.tmpl`` -> ``script.py``)."""
    for folder in ("templates/", "patterns/"):
        if path.startswith(folder):
            path = path[len(folder):]
    for suffix in (".tmpl", ".template", ".pattern"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return path


def ingest(
    workspace: Path | str,
    database: Path | str,
    kinds: tuple[str, ...] = (),
    *,
    limit: int,
    manager=None,
    track=lambda items: items,
    record_deletions: bool = False,
    operation: str = "ingest",
    exclusions: Exclusions = Exclusions(),
    database_list: Path | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    rehash: bool = False,
    content_only: bool = False,
) -> IngestReport:
    """Store every (selected) file of ``workspace`` in ``database`` (created if missing); unchanged files,
    recognised by size, mode and mtime, are not even read. With ``record_deletions``
    (sync), assets whose file is gone are marked deleted, their history kept.

    Database files are never stored, wherever they are: the set's own files (and
    ``database_list``) are left out, and every other SQLite file — by its name or by its
    bytes — is reported in ``databases_outside`` for the user to consolidate.

    With ``rehash``, a file whose size, mode and mtime are the stored ones is read too, and
    stored again if its bytes differ (a tree unpacked with normalised mtimes keeps both
    when a file changes but not its length). With ``content_only``, what git keeps of a
    file decides: its bytes, its type and its executable bit; a file whose mtime or other
    permission bits differ (a fresh clone's checkout time, its umask) is read, and left as
    stored when those are the stored ones, so the database is not rewritten for it.

    Runs under the database's writer lock (waiting up to ``lock_timeout`` seconds for
    another writer); a database this run created is removed again if the run fails.
    """
    workspace, database = Path(workspace), Path(database)
    for kind in kinds:
        if kind not in ASSET_TABLES:
            raise BadInput(f"unknown asset kind {kind!r} (kinds: {', '.join(ASSET_TABLES)})")
    classifier = Classifier.for_workspace(workspace, manager)
    if not workspace.is_dir():
        raise BadInput(f"{workspace}: no such workspace folder")
    refuse_broken_symlink(database)
    refuse_a_set_beside(database, operation)
    with database_lock(database, lock_timeout):
        existed = database.exists()
        try:
            if not existed:
                initialize(database, limit)  # a new consolidated set, as migrate makes one
            return _ingest(workspace, database, kinds, limit, manager, track, record_deletions, operation,
                           exclusions, database_list, classifier, rehash, content_only)
        except BaseException:
            if not existed:
                discard_new_set(database)  # nothing of anyone's was in it: leave the folder as it was
            raise


def _ingest(workspace: Path, database: Path, kinds, limit, manager, track, record_deletions, operation,
            exclusions, database_list, classifier, rehash, content_only) -> IngestReport:
    database_set = DatabaseSet.of(database, extra=(database_list,) if database_list else ())
    listing = list_workspace(workspace, database_set, exclusions)
    report = IngestReport(str(workspace), str(database), skipped=listing.notes,
                          databases_outside=[file.name for file in listing.databases],
                          set_leaves_files_out=database_set.leaves_files_out)
    connection = connect_assetdb(database)
    try:
        existing = current_assets(connection)
        refuse_a_folder_of_the_stored_tree(workspace, database, existing, operation)
        work = []
        files = []
        for file in listing.files:
            kind = classifier.kind_of(file.name)
            if kinds and kind not in kinds:
                files.append(file)
                continue
            previous = existing.get(file.path)
            if previous is not None and previous.kind == kind and as_stored(workspace, file, previous, rehash,
                                                                              content_only):
                report.unchanged += 1
                files.append(file)
                continue
            if holds_sqlite(workspace, file):  # a database under another name: never an asset
                report.databases_outside.append(file.name)
                continue
            files.append(file)
            work.append((file, kind, previous))
        report.databases_outside.sort()
        gone = []
        if record_deletions:
            present = {file.path for file in files}
            gone = [(path, asset) for path, asset in sorted(existing.items()) if path not in present
                    and (not kinds or asset.kind in kinds)]
        if work or gone:
            _write(connection, database, workspace, work, report, limit, track, gone, operation)
    finally:
        connection.close()
    return report


def _packed_in_order(
    workspace: Path, work, scratch: Path
) -> Iterator[tuple[Packed | None, str, CurrentAsset | None, WorkspaceFile]]:
    root = os.fsencode(workspace)
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = [(pool.submit(pack_file, root, file, scratch), kind, previous) for file, kind, previous in work]
        try:
            for (future, kind, previous), (file, _, _) in zip(futures, work):
                yield future.result(), kind, previous, file
        finally:
            for future, _, _ in futures:
                future.cancel()


def _mark_deleted(connection: sqlite3.Connection, shards: ShardSet, path: bytes, asset: CurrentAsset, now: str) -> None:
    """A file is gone: its last version stays, retrievable, and leaves the archive view."""
    _retire_bytes(connection, shards, path, asset)
    connection.execute(
        f"UPDATE {q(ASSET_TABLES[asset.kind])} SET is_current = 0, deleted_at = ? WHERE id = ?", (now, asset.row_id)
    )


def _write(connection, database: Path, workspace: Path, work, report: IngestReport, limit: int, track,
           gone=(), operation_name: str = "ingest") -> None:
    now = utc_now()
    operation = Operation(operation_name, subject=str(workspace))
    expected = sum(file.stat.st_size for file, _, _ in work)
    with private_scratch("ingest") as scratch, write_session(
        database, limit, "storing the assets", expected, connection=connection
    ) as session:
        shards = session.shards
        added_hashes: dict[str, str] = {}
        for packed, kind, previous, file in track(_packed_in_order(workspace, work, Path(scratch))):
            if packed is None:  # deleted while we worked: the next sync records it
                report.skipped.append(f"{file.name}: vanished while being stored, skipped")
                continue
            try:
                outcome = record_asset(connection, shards, packed, kind, previous, now)
            finally:
                packed.discard()
            getattr(report, outcome).append(packed.name)
            report.bytes_read += packed.size
            if outcome == "added":
                added_hashes.setdefault(packed.sha256, packed.name)
        for path, asset in gone:
            _mark_deleted(connection, shards, path, asset, now)
            report.deleted.append(os.fsdecode(path))
            if asset.sha256 in added_hashes:
                report.renamed.append((os.fsdecode(path), added_hashes[asset.sha256]))
        untime_links(connection, shards)
        operation.counts = {
            "added": len(report.added),
            "changed": len(report.changed),
            "touched": len(report.touched),
            "deleted": len(report.deleted),
            "renamed": len(report.renamed),
            "unchanged": report.unchanged,
            "skipped": len(report.skipped),
        }
        operation.bytes = report.bytes_read
        operation.details = {"skipped": report.skipped[:50], "renamed": report.renamed[:50],
                             "shards": len(shards.numbers), "databases_outside": report.databases_outside[:50]}
        operation.record(connection, "ok")
