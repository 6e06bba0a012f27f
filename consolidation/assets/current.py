"""What the set holds now, asset by asset, and whether a workspace file is as stored.

A sync of an unchanged tree must cost little more than listing it: a file whose size, mode
and mtime are the stored ones is not read at all. What decides otherwise (``--rehash``, and
``--content-only``: what git keeps of a file) lives here, beside the assets it compares with.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from ..sqlite.backup import find_workspace
from ..sqlite.introspect import quote_identifier as q
from ..store import ASSET_TABLES
from .confine import executable, stored_mode
from .stored import file_hashes_to
from .walk import WorkspaceFile


@dataclass(frozen=True)
class CurrentAsset:
    kind: str
    row_id: int
    version: int
    sha256: str
    size: int
    mode: int
    mtime_ns: int
    shard: int = 1


def current_assets(connection: sqlite3.Connection) -> dict[bytes, CurrentAsset]:
    """Every current asset by path (bytes), across kinds."""
    previous_factory = connection.text_factory
    connection.text_factory = bytes
    try:
        assets = {}
        for kind, table in ASSET_TABLES.items():
            for path, row_id, version, sha, size, mode, mtime_ns, shard in connection.execute(
                f"SELECT path, id, version, sha256, size, mode, mtime_ns, shard FROM {q(table)} "
                "WHERE is_current AND deleted_at IS NULL"
            ):
                assets[path] = CurrentAsset(kind, row_id, version, sha.decode(), size, mode, mtime_ns, shard)
        return assets
    finally:
        connection.text_factory = previous_factory


def as_stored(workspace: Path, file: WorkspaceFile, previous: CurrentAsset, rehash: bool, content_only: bool) -> bool:
    """Is ``file`` as ``previous`` stored it? Its size, mode and mtime as stored say so
    without a read (unless ``rehash``); with ``content_only``, its bytes decide when what
    else differs is what git does not keep (see :func:`_what_git_keeps`)."""
    if previous.size != file.stat.st_size:
        return False
    if (previous.mode, previous.mtime_ns) == (stored_mode(file.stat.st_mode), file.stat.st_mtime_ns):
        return not rehash or _same_bytes(workspace, file, previous.sha256)
    return (content_only and _what_git_keeps(previous.mode) == _what_git_keeps(file.stat.st_mode)
            and _same_bytes(workspace, file, previous.sha256))


def _what_git_keeps(mode: int) -> tuple[int, bool]:
    """Of a file's mode, what git records: its type, and whether its owner may execute it."""
    return stat.S_IFMT(mode), executable(mode)


def _same_bytes(workspace: Path, file: WorkspaceFile, sha256: str) -> bool:
    """Does the file (a link: its target) hash to ``sha256``? Read without following a link."""
    full = os.path.join(os.fsencode(workspace), file.path)
    try:
        if stat.S_ISLNK(file.stat.st_mode):
            return hashlib.sha256(os.readlink(full)).hexdigest() == sha256
        return file_hashes_to(full, sha256)
    except OSError:
        return False  # read again with the changed files, where a failure is reported


def refuse_a_folder_of_the_stored_tree(workspace: Path, database: Path, stored: dict[bytes, CurrentAsset],
                                       command: str) -> None:
    """Refuse a workspace that is a folder of the work tree the set's files were stored from
    (``scripts/`` of the repository, say): its files would be stored again under other names,
    and, synced, every file outside it recorded as deleted. The stored paths tell: some begin
    with that folder's own path in the tree, and more of them are files from the tree's top
    than from the folder (a project kept in ``mysite/``, whose files include ``mysite/…``
    again, is stored from ``mysite/``)."""
    root, given = find_workspace(database), workspace.resolve()
    if given == root or root not in given.parents:
        return
    folder = given.relative_to(root).as_posix()
    if not any(path.startswith(os.fsencode(folder) + b"/") for path in stored):
        return  # nothing says the files were stored from higher up (a folder made since is not told apart)
    from_top = sum(os.path.lexists(os.path.join(os.fsencode(root), path)) for path in stored)
    from_folder = sum(os.path.lexists(os.path.join(os.fsencode(given), path)) for path in stored)
    if from_top > from_folder:
        raise BadInput(f"{workspace}: is the folder {folder}/ of {root}, the tree this set's files were stored from "
                       f"(paths like {folder}/… are stored); taken as the workspace, every other file would be "
                       f"{'recorded as deleted' if command == 'sync' else 'stored again under another name'} — "
                       f"run assetdb {command} on {root} instead; nothing was changed")
