"""Reading stored assets back: where their bytes are, and the bytes.

A consolidated database is a file anyone can edit and commit, so every reader
(regenerate, sync's pull, render, the reproducibility proof) reads asset rows here, as
hostile input: each row's fields are type-checked before use; each blob's declared size
is judged against what its stored bytes could possibly inflate to, and against a cap,
before a byte is inflated; bytes are read from SQLite in chunks (``blobopen``) and
inflated in chunks with a running count that stops at the declared size; the SHA-256 is
checked at the end. No reader holds a whole asset in memory unless it asks to (render,
whose templates are bounded).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import BadInput, CheckFailed
from ..size import format_size
from ..store.schema import BLOB_TABLE
from .asset_rows import StoredAsset
from .confine import executable

CHUNK = 256 * 2**10  # bytes read from SQLite, and produced by the inflater, per step
#: zlib's ceiling: a deflate stream never expands more than about 1032 to 1 (one
#: 258-byte match per two bits), so a blob claiming more is a lie, refused unread.
MAX_INFLATE_RATIO = 1032
INFLATE_SLACK = 1024  # the stream's header and final block, for tiny blobs
#: The largest file regenerate or pull writes unless told otherwise (``--max-file-size``).
DEFAULT_MAX_FILE_SIZE = 4 * 2**30  # the CLI's "4GiB"
#: For proofs, which check every size a blob can honestly hold: caps are for writing.
NO_CAP = 2**63
LINK_TARGET_MAX = 4095  # PATH_MAX less its NUL: the longest target symlink() accepts



@dataclass(frozen=True)
class StoredBlob:
    """Where an asset's bytes are, and what the row holding them declares (nothing read yet)."""

    schema: str
    table: str
    rowid: object  # an integer unless the table is not one (a view has none)
    declared: object  # ``sqlar.sz`` or ``asset_blobs.size``: hostile, so typed when judged
    length: int  # ``length(data)``, known without reading the blob
    storage: str  # ``typeof(data)``

    @property
    def compressed(self) -> bool:
        return self.storage == "blob" and self.length != self.declared


def locate_blob(connection: sqlite3.Connection, shards: dict[int, str], asset: StoredAsset) -> StoredBlob | None:
    """Where ``asset``'s bytes are (the current version's in ``sqlar``, older ones in the
    history table), from what SQLite knows without reading them; None if nowhere."""
    schema = shards.get(asset.shard)
    if schema is None:
        return None
    if asset.current:
        table, query = "sqlar", f"SELECT rowid, sz, length(data), typeof(data) FROM {schema}.sqlar WHERE name = CAST(? AS TEXT)"
        key: object = asset.path
    else:
        table = BLOB_TABLE
        query = f"SELECT rowid, size, length(data), typeof(data) FROM {schema}.{BLOB_TABLE} WHERE sha256 = ?"
        key = asset.sha256
    row = connection.execute(query, (key,)).fetchone()
    if row is None:
        return None
    rowid, declared, length, storage = row
    return StoredBlob(schema, table, rowid, declared, length or 0, storage)


def size_problem(
    asset: StoredAsset, blob: StoredBlob | None, shards: dict[int, str], max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    over_cap: str = "raise it with --max-file-size",
) -> str | None:
    """Why ``asset``'s stored bytes may not be read, judged before reading any, or None.

    The SQLite Archive rule says bytes shorter than the declared size are zlib; deflate
    cannot expand more than about 1032 times, so a declared size beyond that is a lie
    (a zip bomb's), and one over the cap is refused however honest.
    """
    if blob is None:
        if asset.shard not in shards:
            return f"its bytes are in shard {asset.shard}, which is not in the manifest"
        return "its bytes are missing from the database"
    if type(blob.rowid) is not int:
        return "its bytes are not in a table (sqlar or the history table is a view)"
    if blob.storage not in ("blob", "null"):
        return f"its stored bytes are {blob.storage}, not a blob"
    if type(blob.declared) is not int or blob.declared != asset.size:
        return f"stored size {blob.declared!r} differs from the recorded {asset.size}"
    if blob.storage == "null" and asset.size:
        return f"declares {asset.size} bytes but stores none"
    if blob.length > asset.size:
        return f"stores {blob.length} bytes for a declared size of {asset.size}"
    if blob.compressed and asset.size > blob.length * MAX_INFLATE_RATIO + INFLATE_SLACK:
        return (f"declares {format_size(asset.size)}, but {blob.length} stored bytes cannot inflate past "
                f"{format_size(blob.length * MAX_INFLATE_RATIO + INFLATE_SLACK)}; refused before inflating")
    if asset.is_link and asset.size > LINK_TARGET_MAX:
        return f"a symlink target of {asset.size} bytes (at most {LINK_TARGET_MAX})"
    if asset.size > max_file_size:
        return f"declares {format_size(asset.size)}, over the cap of {format_size(max_file_size)} ({over_cap})"
    return None


def blob_chunks(connection: sqlite3.Connection, blob: StoredBlob) -> Iterator[bytes]:
    """The stored bytes as they are in the database (compressed or not), a chunk at a time."""
    if blob.length == 0:
        return
    with connection.blobopen(blob.table, "data", blob.rowid, readonly=True, name=blob.schema) as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def read_blob(connection: sqlite3.Connection, blob: StoredBlob) -> bytes:
    """The stored bytes whole: only for blobs already judged small."""
    return b"".join(blob_chunks(connection, blob))


def decoded_chunks(asset: StoredAsset, blob: StoredBlob, raw: Iterable[bytes]) -> Iterator[bytes]:
    """``asset``'s exact bytes, a chunk at a time, from its stored ``raw`` chunks.

    Inflation counts as it goes and stops the moment the count passes the declared
    size, so a bomb costs one chunk of memory and that many bytes of work. The caller
    must consume every chunk before trusting any: the size and SHA-256 are checked at
    the end (BadInput for a size that lies, CheckFailed for bytes that do not hash).
    """
    try:
        yield from _decoded(asset, blob, raw)
    finally:  # a refusal midway must not leave a blob handle open for the collector to find
        close = getattr(raw, "close", None)
        if close is not None:
            close()


def _decoded(asset: StoredAsset, blob: StoredBlob, raw: Iterable[bytes]) -> Iterator[bytes]:
    hasher = hashlib.sha256()
    produced = 0
    if not blob.compressed:
        for chunk in raw:
            produced += len(chunk)
            hasher.update(chunk)
            yield chunk
    else:
        inflater = zlib.decompressobj()
        try:
            for chunk in raw:
                pending = chunk
                while pending and not inflater.eof:
                    out = inflater.decompress(pending, CHUNK)
                    pending = inflater.unconsumed_tail
                    while out:
                        produced += len(out)
                        if produced > asset.size:
                            raise BadInput(f"{asset.row}: stored bytes inflate past the declared {asset.size} bytes; refused")
                        hasher.update(out)
                        yield out
                        # output may be pending inside zlib though all input is consumed
                        out = inflater.decompress(b"", CHUNK) if len(out) == CHUNK and not pending else b""
                if inflater.eof and (pending or inflater.unused_data):
                    raise CheckFailed(f"{asset.row}: stored bytes are corrupt (data after the end of the zlib stream)")
        except zlib.error as error:
            raise CheckFailed(f"{asset.row}: stored bytes are corrupt ({error})") from None
        if not inflater.eof:
            raise CheckFailed(f"{asset.row}: stored bytes are corrupt (the zlib stream is cut short)")
    if produced != asset.size:
        raise BadInput(f"{asset.row}: stored bytes are {produced} bytes, not the declared {asset.size}; refused")
    if hasher.hexdigest() != asset.sha256:
        raise CheckFailed(f"{asset.row}: content does not match its recorded SHA-256 (tampered or corrupt)")


def stored_chunks(connection: sqlite3.Connection, shards: dict[int, str], asset: StoredAsset,
                  max_file_size: int = DEFAULT_MAX_FILE_SIZE, over_cap: str = "raise it with --max-file-size",
                  ) -> Iterator[bytes]:
    """``asset``'s bytes, judged then streamed: the one way every reader gets them."""
    if asset.defect:
        raise BadInput(f"{asset.row}: {asset.defect}; refused")
    blob = locate_blob(connection, shards, asset)
    problem = size_problem(asset, blob, shards, max_file_size, over_cap)
    if problem:
        raise BadInput(f"{asset.row}: {problem}")
    yield from decoded_chunks(asset, blob, blob_chunks(connection, blob))


def stored_bytes(connection: sqlite3.Connection, shards: dict[int, str], asset: StoredAsset, max_size: int,
                 over_cap: str) -> bytes:
    """``asset``'s bytes whole, for readers that need them so (render); ``max_size`` bounds
    the memory that takes, ``over_cap`` says why to whoever meets it."""
    return b"".join(stored_chunks(connection, shards, asset, max_size, over_cap))


def check_stored(connection: sqlite3.Connection, shards: dict[int, str], asset: StoredAsset,
                 max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> str | None:
    """Why ``asset`` does not regenerate to its hash, or None: streamed, nothing kept."""
    try:
        for _ in stored_chunks(connection, shards, asset, max_file_size):
            pass
    except (BadInput, CheckFailed) as error:
        return str(error)
    return None


def same_as_stored(full: bytes, asset: StoredAsset, executable_too: bool = True) -> bool:
    """Does the file or symlink at ``full`` hold exactly the stored version, executable or not
    alike (git keeps that bit: a change of it is an edit) unless ``executable_too`` is off?
    Anything else there (a folder, a FIFO, an unreadable file) differs; nothing is followed
    or held whole."""
    try:
        info = os.lstat(full)
        if asset.is_link != stat.S_ISLNK(info.st_mode):
            return False
        if stat.S_ISLNK(info.st_mode):
            return hashlib.sha256(os.readlink(full)).hexdigest() == asset.sha256
        if not stat.S_ISREG(info.st_mode) or info.st_size != asset.size:
            return False
        if executable_too and executable(info.st_mode) != executable(asset.mode):
            return False
        return file_hashes_to(full, asset.sha256)
    except OSError:
        return False


def file_hashes_to(full: bytes, sha256: str) -> bool:
    """Do the bytes of the regular file at ``full`` (never followed) hash to ``sha256``?
    Raises OSError when it cannot be read."""
    descriptor = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest() == sha256
