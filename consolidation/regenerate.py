"""Write assets back out, byte for byte, and check that they would be.

Paths come from a database, and a database can be tampered with, so none is trusted:
an absolute path, a ``..`` or empty component, a NUL, or a path through a symlink already
in the output folder is refused before anything is written. Bytes are decompressed with
a bound taken from the recorded size (a blob that inflates past it is refused), and the
SHA-256 is checked before a temporary file is renamed into place; mode and mtime follow.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .errors import BadInput, CheckFailed
from .fingerprint import quote_identifier as q
from .schema import ASSET_TABLES, BLOB_TABLE, record_operation
from .shards import read_consolidated
from .synclog import Operation

SHOWN_PATHS = 20
IN_FLIGHT = 32  # files inflated and written at once: bounds memory
WRITERS = 8  # file creation is mostly waiting on the file system, so more threads than cores


@dataclass(frozen=True)
class StoredAsset:
    kind: str
    path: bytes
    version: int
    sha256: str
    size: int
    mode: int
    mtime_ns: int
    current: bool
    shard: int = 1

    @property
    def name(self) -> str:
        return os.fsdecode(self.path)


def select_assets(
    connection: sqlite3.Connection, kinds: tuple[str, ...] = (), path_glob: str | None = None, at: str | None = None
) -> list[StoredAsset]:
    """The assets to regenerate: current ones, or each path as of version N or a date."""
    for kind in kinds:
        if kind not in ASSET_TABLES:
            raise BadInput(f"unknown asset kind {kind!r} (kinds: {', '.join(ASSET_TABLES)})")
    version, moment = _parse_at(at)
    previous_factory = connection.text_factory
    connection.text_factory = bytes
    try:
        selected = []
        for kind, table in ASSET_TABLES.items():
            if kinds and kind not in kinds:
                continue
            if version is not None:
                condition, parameters = "version = ?", (version,)
            elif moment is not None:
                condition = (
                    f"id IN (SELECT id FROM {q(table)} AS a WHERE a.last_changed <= ? AND a.version = "
                    f"(SELECT max(version) FROM {q(table)} AS b WHERE b.path = a.path AND b.last_changed <= ?))"
                )
                parameters = (moment, moment)
            else:
                condition, parameters = "is_current AND deleted_at IS NULL", ()
            if path_glob:
                condition += " AND path GLOB CAST(? AS TEXT)"
                parameters += (os.fsencode(path_glob),)
            for row in connection.execute(
                f"SELECT path, version, sha256, size, mode, mtime_ns, is_current, shard FROM {q(table)} "
                f"WHERE {condition} ORDER BY path",
                parameters,
            ):
                path, number, sha, size, mode, mtime_ns, current, shard = row
                selected.append(
                    StoredAsset(kind, path, number, sha.decode(), size, mode, mtime_ns, bool(current), shard)
                )
        return selected
    finally:
        connection.text_factory = previous_factory


def _parse_at(at: str | None) -> tuple[int | None, str | None]:
    if at is None:
        return None, None
    if at.isdigit():
        return int(at), None
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"--at {at!r}: use a version number or a date (2026-11-24 or 2026-11-24T10:00:00Z)") from None
    if moment.tzinfo is None and len(at) == 10:
        return None, f"{at}T23:59:59Z"
    return None, moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def unsafe_reason(path: bytes) -> str | None:
    """Why a stored path may not be written under an output folder, or None if it may."""
    if not path:
        return "empty path"
    if b"\0" in path:
        return "NUL in path"
    if path.startswith(b"/") or path.startswith(b"\\") or (len(path) > 1 and path[1:2] == b":"):
        return "absolute path"
    parts = path.split(b"/")
    if any(part in (b"", b".", b"..") for part in parts):
        return "'..', '.' or empty component"
    return None


def check_destination(out: Path, path: bytes, safe_folders: set[bytes] | None = None) -> Path:
    """The file to write for ``path`` under ``out``, refusing any way out of ``out``:
    an unsafe path, or a component that is already a symlink (planted or not).
    ``safe_folders`` remembers folders already checked, so a tree costs one check each."""
    reason = unsafe_reason(path)
    if reason:
        raise BadInput(f"refusing stored path {os.fsdecode(path)!r}: {reason}; nothing was written")
    root = os.fsencode(out.resolve())
    current = root
    for part in path.split(b"/")[:-1]:
        current = os.path.join(current, part)
        if safe_folders is not None and current in safe_folders:
            continue
        if os.path.islink(current):
            raise BadInput(
                f"refusing stored path {os.fsdecode(path)!r}: {os.fsdecode(current)} is a symlink; nothing was written"
            )
        if os.path.exists(current) and not os.path.isdir(current):
            raise BadInput(f"refusing stored path {os.fsdecode(path)!r}: {os.fsdecode(current)} is not a folder")
        if safe_folders is not None:
            safe_folders.add(current)
    return Path(os.fsdecode(os.path.join(root, path)))


def fetch_stored(connection: sqlite3.Connection, shards: dict[int, str], asset: StoredAsset) -> tuple[int, bytes]:
    """The stored size and bytes of ``asset`` (compressed or not), from the shard holding them."""
    schema = shards.get(asset.shard)
    if schema is None:
        raise CheckFailed(f"{asset.name}: its bytes are in shard {asset.shard}, which is not in the manifest")
    if asset.current:
        row = connection.execute(
            f"SELECT sz, data FROM {schema}.sqlar WHERE name = CAST(? AS TEXT)", (asset.path,)
        ).fetchone()
    else:
        row = connection.execute(
            f"SELECT size, data FROM {schema}.{BLOB_TABLE} WHERE sha256 = ?", (asset.sha256,)
        ).fetchone()
    if row is None:
        raise CheckFailed(f"{asset.name}: its bytes are missing from the database")
    return row[0], bytes(row[1] or b"")


def decode_stored(asset: StoredAsset, size: int, data: bytes) -> bytes:
    """The exact bytes of ``asset``: inflated within its recorded size, hash-checked."""
    if size != asset.size:
        raise CheckFailed(f"{asset.name}: stored size {size} differs from the recorded {asset.size}")
    if len(data) != asset.size:  # the SQLite Archive rule: a different length means zlib
        inflater = zlib.decompressobj()
        try:
            content = inflater.decompress(data, asset.size + 1)
        except zlib.error as error:
            raise CheckFailed(f"{asset.name}: stored bytes are corrupt ({error})") from None
        if len(content) > asset.size or inflater.unconsumed_tail:
            raise CheckFailed(f"{asset.name}: stored bytes inflate past the recorded {asset.size} bytes; refused")
    else:
        content = data
    if len(content) != asset.size or hashlib.sha256(content).hexdigest() != asset.sha256:
        raise CheckFailed(f"{asset.name}: content does not match its recorded SHA-256 (tampered or corrupt)")
    return content


def stored_bytes(connection: sqlite3.Connection, shards: dict[int, str], asset: StoredAsset) -> bytes:
    return decode_stored(asset, *fetch_stored(connection, shards, asset))


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
    _log_regenerate(database, out, report)
    return report


def _collect(entry, report: RegenerateReport) -> None:
    asset, future = entry
    report.bytes += future.result()
    report.written.append(asset.name)


def _materialize(destination: Path, asset: StoredAsset, size: int, data: bytes) -> int:
    content = decode_stored(asset, size, data)
    write_asset(destination, asset, content)
    return len(content)


def _log_regenerate(database: Path, out: Path, report: RegenerateReport) -> None:
    record_operation(
        database, Operation("regenerate", subject=str(out), counts={"written": len(report.written)}, bytes=report.bytes)
    )


def write_asset(destination: Path, asset: StoredAsset, content: bytes) -> None:
    """Write to a temporary name beside ``destination``, then rename into place."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.assetdb-tmp")
    if os.path.lexists(temporary):
        os.unlink(temporary)
    if stat.S_ISLNK(asset.mode):
        os.symlink(content, temporary)
    else:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        os.chmod(temporary, stat.S_IMODE(asset.mode))
    os.utime(temporary, ns=(asset.mtime_ns, asset.mtime_ns), follow_symlinks=False)
    os.replace(temporary, destination)


@dataclass
class ReproducibilityReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        shown = self.problems[:SHOWN_PATHS]
        more = len(self.problems) - len(shown)
        return "\n".join(shown + ([f"… and {more} more"] if more > 0 else []))


def check_reproducible(
    database: Path | str, workspace: Path | str | None = None, kinds: tuple[str, ...] = (), manager=None
) -> ReproducibilityReport:
    """Every asset regenerates to its recorded hash; with a workspace, every file that
    should be an asset is one, with the same bytes."""
    from .assets import Classifier, list_workspace

    report = ReproducibilityReport()
    with read_consolidated(database) as (connection, shards):
        assets = select_assets(connection, kinds)
        for asset in assets:
            report.checked += 1
            reason = unsafe_reason(asset.path)
            if reason:
                report.problems.append(f"{asset.name}: unsafe stored path ({reason})")
                continue
            try:
                content = stored_bytes(connection, shards, asset)
            except CheckFailed as error:
                report.problems.append(str(error))
                continue
            if workspace is not None:
                _compare_with_workspace(Path(workspace), asset, content, report)
    if workspace is not None:
        stored = {asset.path for asset in assets}
        classifier = Classifier.for_workspace(Path(workspace), manager)
        files, _ = list_workspace(Path(workspace))
        for file in files:
            if file.path not in stored and (not kinds or classifier.kind_of(file.name) in kinds):
                report.problems.append(f"{file.name}: in the workspace but not stored (run: assetdb ingest)")
    return report


def _compare_with_workspace(workspace: Path, asset: StoredAsset, content: bytes, report: ReproducibilityReport) -> None:
    full = os.path.join(os.fsencode(workspace), asset.path)
    if not os.path.lexists(full):
        report.problems.append(f"{asset.name}: stored but missing from the workspace")
        return
    if stat.S_ISLNK(asset.mode):
        actual = os.readlink(full) if os.path.islink(full) else None
    else:
        with open(full, "rb") as handle:
            actual = handle.read()
    if actual != content:
        report.problems.append(f"{asset.name}: workspace bytes differ from the stored version {asset.version}")
