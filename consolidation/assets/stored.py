"""Reading stored assets back: which versions, and their exact bytes.

Every reader of asset bytes (regenerate, sync's pull, render, the reproducibility proof)
decodes them here, so all of them check the same things: the recorded size, a bounded
inflate, and the SHA-256 of the result.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import zlib
from dataclasses import dataclass
from datetime import datetime

from ..errors import BadInput, CheckFailed
from ..sqlite.introspect import quote_identifier as q
from ..store import ASSET_TABLES
from ..store.schema import BLOB_TABLE


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
