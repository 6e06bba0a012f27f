"""Write assets back out, byte for byte, and check that they would be.

The database is untrusted input (anyone can edit and commit it), so the whole selection
is judged before the first byte is written (:mod:`.judge`): unsafe paths, modes that
are not a file's or a link's, sizes a blob cannot honestly inflate to, paths through
stored symlinks, symlinks out of the folder. Then files are written through
:class:`.confine.ConfinedFolder` (no symlink is ever followed under the folder), each
streamed from SQLite, inflated in chunks and hash-checked under a temporary name, with
its permission bits (never setuid, setgid or sticky) and mtime; symlinks come last; only
when every one is staged are they renamed into place, so a blob refused halfway (a bomb
that lied about its size, bytes that do not hash) leaves the folder as it was.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInput
from ..store import Operation, read_consolidated, record_operation
from ..store.owned import DatabaseSet
from .asset_rows import hostile_reads, select_assets
from .confine import ConfinedFolder, check_room
from .judge import Planned, judge
from .stored import (
    DEFAULT_MAX_FILE_SIZE,
    blob_chunks,
    decoded_chunks,
    read_blob,
    same_as_stored,
)

WRITERS = 8  # file creation is mostly waiting on the file system, so more threads than cores
#: Stored bytes read ahead for the writers: bounds memory whatever the files' sizes.
IN_FLIGHT_BYTES = 32 * 2**20
SMALL_BLOB = 2**20  # stored blobs up to this are read whole and handed to a writer thread


@dataclass
class RegenerateReport:
    out: str
    written: list[str] = field(default_factory=list)
    bytes: int = 0
    warnings: list[str] = field(default_factory=list)


def regenerate(
    database: Path | str,
    out: Path | str,
    kinds: tuple[str, ...] = (),
    path_glob: str | None = None,
    at: str | None = None,
    track=lambda items: items,
    *,
    limit: int,
    allow_outside_links: bool = False,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> RegenerateReport:
    """Write the selected assets under ``out`` with their bytes, permission bits and mtime.

    The database is read on this thread; inflating, hashing and writing small files run
    on a pool (zlib and hashlib release the GIL), with a bounded number of stored bytes
    in flight; a large blob is streamed through on this thread.
    """
    database, out = Path(database), Path(out)
    report = RegenerateReport(str(out))
    with hostile_reads(database), read_consolidated(database) as (connection, shards):
        assets = select_assets(connection, kinds, path_glob, at)
        if not assets and (path_glob is not None or at is not None):  # a mistyped selection, not an empty set
            chosen = " and ".join(f"{option} {value!r}" for option, value in (("--path", path_glob), ("--at", at))
                                  if value is not None)
            raise BadInput(f"{database}: no stored asset matches {chosen}; nothing was written")
        universe = select_assets(connection, (), None, at) if kinds or path_glob else assets
        judgement = judge(connection, shards, assets, universe, out if out.exists() else None,
                          allow_outside_links, max_file_size, database_set=DatabaseSet.of(database))
        judgement.refuse_if_any()
        _refuse_overwriting_what_differs(out, [*judgement.files, *judgement.links])
        report.warnings = judgement.warnings
        check_room(out if out.exists() else out.parent, sum(planned.asset.size for planned in judgement.files))
        with ConfinedFolder(out) as folder:
            _write_files(connection, folder, track(judgement.files), report)
            for planned in judgement.links:
                folder.stage_link(planned.asset.path, planned.target, planned.asset.mtime_ns)
                report.written.append(planned.asset.name)
            folder.commit()
    _log_regenerate(database, out, report, limit)
    return report


def _refuse_overwriting_what_differs(out: Path, planned: list[Planned]) -> None:
    """A file already under ``out`` that is not the version about to be written there is
    someone's (a local edit, when ``out`` is a workspace): refused, never overwritten.
    Writing the workspace from the set is ``sync --pull``'s, which says which are edits."""
    if not out.is_dir():
        return
    root = os.fsencode(out)
    differing = [entry.asset.name for entry in planned if os.path.lexists(os.path.join(root, entry.asset.path))
                 and not same_as_stored(os.path.join(root, entry.asset.path), entry.asset)]
    if differing:
        shown = ", ".join(differing[:5]) + (" …" if len(differing) > 5 else "")
        raise BadInput(f"{out}: {len(differing)} files there differ from the versions regenerate would write over them "
                       f"({shown}); regenerate into a new folder, or update a workspace with assetdb sync WORKSPACE "
                       "--db DB --pull (it keeps local edits unless --force); nothing was written")


def _write_files(connection, folder: ConfinedFolder, files, report: RegenerateReport) -> None:
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        pending: deque = deque()
        in_flight = 0
        try:
            for planned in files:
                if planned.blob.length > SMALL_BLOB:
                    chunks = decoded_chunks(planned.asset, planned.blob, blob_chunks(connection, planned.blob))
                    report.bytes += folder.stage_file(planned.asset.path, chunks, planned.asset.mode,
                                                      planned.asset.mtime_ns)
                    report.written.append(planned.asset.name)
                    continue
                raw = read_blob(connection, planned.blob)
                pending.append((planned, len(raw), pool.submit(_write_small, folder, planned, raw)))
                in_flight += len(raw)
                while pending and (in_flight > IN_FLIGHT_BYTES or len(pending) > 4 * WRITERS):
                    in_flight -= _collect(pending.popleft(), report)
            while pending:
                _collect(pending.popleft(), report)
        finally:
            for _, _, future in pending:
                future.cancel()


def _write_small(folder: ConfinedFolder, planned: Planned, raw: bytes) -> int:
    chunks = decoded_chunks(planned.asset, planned.blob, [raw])
    return folder.stage_file(planned.asset.path, chunks, planned.asset.mode, planned.asset.mtime_ns)


def _collect(entry, report: RegenerateReport) -> int:
    planned, stored, future = entry
    report.bytes += future.result()
    report.written.append(planned.asset.name)
    return stored


def _log_regenerate(database: Path, out: Path, report: RegenerateReport, limit: int) -> None:
    record_operation(
        database, Operation("regenerate", subject=str(out), counts={"written": len(report.written)}, bytes=report.bytes),
        limit,
    )
