"""The files a database set owns, so that none of them is ever taken for something else.

Everything the tool writes or moves — the consolidated file and its shards, archived
sources and their manifest, the database list, locks and temporaries — belongs to the
database set: it is never a workspace asset (a sync that stored ``enterprise_assets.db``
inside itself would double it every run) and never a legacy source to migrate.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..errors import AssetdbError
from ..leftovers import is_super_journal, is_temporary_name
from ..sqlite import open_readonly
from .identity import PRIMARY, connection_role
from .lock import LOCK_SUFFIX, lock_path
from .set_files import database_list_path, skipped_files

ARCHIVE_MANIFEST = "ARCHIVE_MANIFEST.json"
LIST_FILENAME = "CONSOLIDATED_DATABASE_LIST.md"
#: Temporary names earlier versions gave files they were still writing (``.NAME.SUFFIX``);
#: today's carry their owner's pid (:mod:`.leftovers`).
TEMPORARY_SUFFIXES = (".assetdb-tmp", ".initializing", ".partial")


def is_tool_file(name: str) -> bool:
    """A file name only the tool writes: a manifest, a lock, a temporary. (A database list is
    told by more than its name: see :func:`consolidation.listing.is_kept_list`.)"""
    if name == ARCHIVE_MANIFEST or name.endswith(LOCK_SUFFIX) or is_super_journal(name):
        return True
    return name.startswith(".") and (name.endswith(TEMPORARY_SUFFIXES) or is_temporary_name(name))


def _key(path: Path | str | bytes) -> str:
    return os.path.abspath(os.fsdecode(path))


@dataclass
class DatabaseSet:
    """What one consolidated set owns: its files, its sources (in place or archived), the
    files it recorded as skipped, and its database list. Empty for a set not made yet."""

    primary: Path
    files: set[str] = field(default_factory=set)
    leaves_files_out: bool = False  # has it recorded files left out (``--skip-unusable``)?
    keeps_list: bool = False  # has it recorded the database list it keeps (then any other is a document)?

    @classmethod
    def of(cls, primary: Path, extra: tuple[Path, ...] = ()) -> DatabaseSet:
        owned = cls(primary, {_key(primary), _key(lock_path(primary)), *(_key(path) for path in extra)})
        try:
            with open_readonly(primary) as connection:
                if connection_role(connection) != PRIMARY:
                    return owned
                owned.files.update(_key(primary.with_name(name)) for (name,) in connection.execute(
                    "SELECT file_name FROM shard_manifest WHERE instr(file_name, '/') = 0"))
                for original, archived in connection.execute("SELECT original_path, archived_path FROM migration_sources"):
                    owned.files.update(_key(primary.parent / path) for path in (original, archived) if path)
                left_out = skipped_files(connection, primary)
                owned.files.update(_key(path) for path, _status, _reason in left_out)
                owned.leaves_files_out = bool(left_out)
                listed = database_list_path(connection, primary)
                if listed is not None:
                    owned.files.add(_key(listed))
                    owned.keeps_list = listed.is_file()  # else moved (git mv), and found as before
        except (AssetdbError, sqlite3.Error, OSError):
            pass  # no usable set there yet: it owns only the path it will have
        return owned

    def owns(self, path: Path | str | bytes, aliases: bool = True) -> bool:
        """One of the set's files, or (with ``aliases``) a link to one: an alias of a source,
        ``current.db -> app.db``, is that source. A link by another name (``scripts/current_db``)
        is a file of the workspace like any other, stored as the link it is."""
        if _key(path) in self.files:
            return True
        return aliases and os.path.islink(path) and os.path.realpath(os.fsdecode(path)) in self._real_files

    @cached_property
    def _real_files(self) -> set[str]:
        return {os.path.realpath(path) for path in self.files}
