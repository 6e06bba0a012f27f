"""Write assets back out, byte for byte, and check that they would be.

Paths come from a database, and a database can be tampered with, so none is trusted:
an absolute path, a ``..`` or empty component, a NUL, or a path through a symlink already
in the output folder is refused before anything is written. Bytes are decompressed with
a bound taken from the recorded size (a blob that inflates past it is refused), and the
SHA-256 is checked before a temporary file is renamed into place; mode and mtime follow.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..store import Operation, read_consolidated, record_operation
from .confine import check_destination, write_asset
from .stored import StoredAsset, decode_stored, fetch_stored, select_assets

IN_FLIGHT = 32  # files inflated and written at once: bounds memory
WRITERS = 8  # file creation is mostly waiting on the file system, so more threads than cores


@dataclass
class RegenerateReport:
    out: str
    written: list[str] = field(default_factory=list)
    bytes: int = 0


def regenerate(
    database: Path | str,
    out: Path | str,
    kinds: tuple[str, ...] = (),
    path_glob: str | None = None,
    at: str | None = None,
    track=lambda items: items,
    *,
    limit: int,
) -> RegenerateReport:
    """Write the selected assets under ``out`` with their bytes, mode and mtime.

    The database is read on this thread; inflating, hashing and writing run on a pool
    (zlib and hashlib release the GIL), a bounded number of files at a time.
    """
    database, out = Path(database), Path(out)
    report = RegenerateReport(str(out))
    with read_consolidated(database) as (connection, shards):
        assets = select_assets(connection, kinds, path_glob, at)
        out.mkdir(parents=True, exist_ok=True)
        safe_folders: set[bytes] = set()
        destinations = [check_destination(out, asset.path, safe_folders) for asset in assets]  # all judged first
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            pending: deque = deque()
            try:
                for asset, destination in zip(track(assets), destinations):
                    size, data = fetch_stored(connection, shards, asset)
                    pending.append((asset, pool.submit(_materialize, destination, asset, size, data)))
                    while len(pending) > IN_FLIGHT:
                        _collect(pending.popleft(), report)
                while pending:
                    _collect(pending.popleft(), report)
            finally:
                for _, future in pending:
                    future.cancel()
    _log_regenerate(database, out, report, limit)
    return report


def _collect(entry, report: RegenerateReport) -> None:
    asset, future = entry
    report.bytes += future.result()
    report.written.append(asset.name)


def _materialize(destination: Path, asset: StoredAsset, size: int, data: bytes) -> int:
    content = decode_stored(asset, size, data)
    write_asset(destination, asset, content)
    return len(content)


def _log_regenerate(database: Path, out: Path, report: RegenerateReport, limit: int) -> None:
    record_operation(
        database, Operation("regenerate", subject=str(out), counts={"written": len(report.written)}, bytes=report.bytes),
        limit,
    )


