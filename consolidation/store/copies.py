"""Copies of a whole consolidated set: the primary and every shard its manifest lists.

Rows may be written into any file of a set, so the backup taken before a set changes is a
backup of each of them, and the private copy a dry run rehearses on holds each of them too
(under the same names, which the manifest and each shard's marker refer to).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..sqlite import BackupRecord, backup_database, open_readonly
from .identity import PRIMARY, role
from .shard_files import existing_shard, manifest


def files_of_set(primary: Path) -> list[Path]:
    """The primary and the shards its manifest lists, in order (the file alone when it is
    not yet a set's primary: a zero-byte target; none when it does not exist). A listed
    shard that is missing is refused, as a write to the set would refuse it."""
    if not primary.is_file():
        return []
    if not primary.stat().st_size or role(primary) != PRIMARY:
        return [primary]
    with open_readonly(primary) as connection:
        numbers = [number for number, _ in manifest(connection)]
    return [primary, *(existing_shard(primary, number) for number in numbers)]


def back_up_set(primary: Path, directory: Path) -> BackupRecord:
    """A verified backup of every file of the set in ``directory`` (outside the workspace);
    the primary's record."""
    records = [backup_database(path, directory) for path in files_of_set(primary)]
    return records[0]


def copy_set(primary: Path, folder: Path) -> Path:
    """Copy every file of the set into ``folder`` under its own name (SQLite's backup API,
    from a read-only view); the copy's primary."""
    for path in files_of_set(primary):
        if not path.stat().st_size:
            continue  # a zero-byte target: SQLite reads it as an empty database, so none is made
        with open_readonly(path) as reader:
            writer = sqlite3.connect(folder / path.name)
            try:
                reader.backup(writer)
            finally:
                writer.close()
    return folder / primary.name
