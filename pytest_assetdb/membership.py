"""Where a database file stands in a consolidated set: archived, skipped, or neither.

An archived source is known by the ``ARCHIVE_MANIFEST.json`` of the folder it was moved
into; a file consolidation left out is known by the ledger of the consolidated set beside
it (or above it). The gate checks an archived source as an archive (its bytes against the
manifest), and shows a left-out file as skipped with its reason — but only while the file
is still unusable, judged as consolidation judges a source: a ledger cannot excuse a
database that has become usable since (its ``skipped`` item then fails, saying to migrate it).
"""

from __future__ import annotations

import shlex
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from consolidation.errors import AssetdbError
from consolidation.globs import resolved
from consolidation.merge.preflight import judge_source
from consolidation.sqlite import DatabaseLocked, open_readonly
from consolidation.sqlite.classify import is_database_path
from consolidation.store.archive_manifest import Archived, read_manifest
from consolidation.store.identity import PRIMARY, claims_assetdb, connection_role, role
from consolidation.store.owned import ARCHIVE_MANIFEST
from consolidation.store.set_files import database_list_path, skipped_files

#: Why a file may be left out that it can stop being by itself (fetched, mended, let go of
#: by its writer): one that has is a usable database the set does not hold. (Left out on
#: purpose, or as a link leading out of its folder, it stays left out.)
OUTGROWN = ("lfs-pointer", "not-sqlite", "truncated", "corrupt", "locked", "unreadable", "unsupported")

#: How many folders up a database's consolidated set or archive manifest is looked for.
SEARCH_DEPTH = 3


@dataclass(frozen=True)
class Membership:
    archived: Archived | None = None  # the manifest entry, when the file is an archived source
    archived_from: Path | None = None  # the consolidated set beside the archive folder, if any
    skipped: str | None = None  # "status: reason", when the set left the file out
    #: What to do about a file the set left out as unusable, that is a usable database now.
    usable_since: str | None = None
    #: Why what the set beside an unusable file records of it cannot be read (a writer held
    #: the set past the wait): the file is then neither excused nor blamed.
    locked: str | None = None


def _folders_up(path: Path) -> list[Path]:
    return [path.parent, *list(path.parents)[1:SEARCH_DEPTH]]


def _manifest(folder: Path) -> dict[Path, Archived]:
    try:
        return {resolved(entry.location(folder)): entry for entry in read_manifest(folder)}
    except AssetdbError:
        return {}


@dataclass(frozen=True)
class _SetsIn:
    """What the consolidated sets in one folder record: the files they left out
    (``file -> "status: reason"``) and the database lists they keep; and why a set there
    could not be read, when a writer held it past the wait."""

    left_out: dict[Path, tuple[str, Path]]  # file -> ("status: reason", the set that left it out)
    lists: tuple[Path, ...]
    locked: str | None = None


def _sets_in(folder: Path) -> _SetsIn:
    left_out: dict[Path, tuple[str, Path]] = {}
    lists: list[Path] = []
    locked = None
    for candidate in sorted(folder.glob("*")):
        if not candidate.is_file() or not is_database_path(candidate) or not claims_assetdb(candidate):
            continue
        try:
            with open_readonly(candidate) as connection:
                if connection_role(connection) != PRIMARY:
                    continue
                for path, status, reason in skipped_files(connection, candidate):
                    left_out[resolved(path)] = (f"{status}: {reason}", candidate)
                recorded = database_list_path(connection, candidate)
        except DatabaseLocked as error:
            locked = str(error)
            continue
        except (AssetdbError, sqlite3.Error, OSError):
            continue
        if recorded is not None and resolved(recorded) not in lists:
            lists.append(resolved(recorded))
    return _SetsIn(left_out, tuple(lists), locked)


def _set_beside(archive: Path) -> Path | None:
    """The consolidated set whose archive folder ``archive`` is: the primary in its parent."""
    return next((path for path in sorted(archive.parent.iterdir()) if path.is_file() and is_database_path(path)
                 and role(path) == PRIMARY), None)


class MembershipIndex:
    """Memberships of one gate session, each folder's manifest and ledgers read once."""

    def __init__(self, gate_folders: tuple[Path, ...] = ()) -> None:
        self._manifests: dict[Path, dict[Path, Archived]] = {}
        self._sets: dict[Path, _SetsIn] = {}
        #: The folders the gate was given: their sets speak for files anywhere (a source
        #: consolidated from legacy/ beside a set in databases/).
        self._gate_folders = tuple(resolved(folder) for folder in gate_folders)

    def _sets_in(self, folder: Path) -> _SetsIn:
        if folder not in self._sets:
            self._sets[folder] = _sets_in(folder)
        return self._sets[folder]

    def recorded_in(self, folders: list[Path]) -> Path | None:
        """The database list the consolidated sets in ``folders`` keep, when they keep one."""
        lists = {listed for folder in folders for listed in self._sets_in(resolved(folder)).lists}
        return lists.pop() if len(lists) == 1 else None

    def recorded_list(self, path: Path) -> Path | None:
        """The database list the consolidated set nearest ``path`` keeps (beside it or
        above it): the list its ``listed`` items are checked against, present or not."""
        for folder in _folders_up(resolved(path)):
            lists = self._sets_in(folder).lists
            if lists:
                return lists[0]
        return None

    def of(self, path: Path) -> Membership:
        real = resolved(path)  # a looping link too
        for folder in _folders_up(real):
            if folder not in self._manifests:
                self._manifests[folder] = _manifest(folder) if (folder / ARCHIVE_MANIFEST).is_file() else {}
            if real in self._manifests[folder]:
                return Membership(archived=self._manifests[folder][real], archived_from=_set_beside(folder))
        for folder in dict.fromkeys([*_folders_up(real), *self._gate_folders]):
            left_out = self._sets_in(folder).left_out.get(real)
            if left_out is not None:
                reason, primary = left_out
                if reason.split(":")[0] not in OUTGROWN or not judge_source(path, deep=True).usable:
                    return Membership(skipped=reason)  # left out on purpose, for where it leads, or still unusable
                return Membership(usable_since=f"left out of the consolidated set as {reason.split(':')[0]}, and "
                                               f"a usable database now: its rows are not in the set — run: assetdb "
                                               f"migrate {shlex.quote(str(path))} --into {shlex.quote(str(primary))}")
        locked = next((sets.locked for sets in map(self._sets_in, _folders_up(real)) if sets.locked), None)
        if locked is not None and not claims_assetdb(path) and not judge_source(path, deep=True).usable:
            return Membership(locked=locked)
        return Membership()
