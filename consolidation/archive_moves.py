"""Moving a source into the archive: the file with its sidecars, or a proved copy of one
whose journal holds rows, and the links that are other names for it.

Each move is all or nothing for the source (a refusal leaves it whole where it was), so the
archive's manifest entry, written first, is either finished or taken back.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .assets.confine import unsafe_reason
from .errors import Aborted, BadInput
from .leftovers import temporary_beside
from .size import sidecar_paths
from .sqlite import database_fingerprint, open_readonly
from .sqlite.classify import is_database_path


def in_the_archive_already(folder: Path, path: Path) -> bool:
    """Does ``path`` sit in the archive ``folder`` already (a database of a hand-made archive,
    say)? It is archived where it is."""
    return Path(os.path.realpath(folder)) in Path(os.path.realpath(path)).parents


def destination_of(folder: Path, path: Path, name: str) -> Path:
    """Where source ``path`` (ledger name ``name``) is archived in ``folder``: where it is,
    when it is in the folder already; else under its ledger name, which is unique
    (``analytics.db``, ``archived_databases/analytics.db``), never outside the folder."""
    if in_the_archive_already(folder, path):
        return path
    reason = unsafe_reason(os.fsencode(name))
    if reason:
        raise BadInput(f"refusing to archive source {name!r}: its name is not a safe path ({reason})")
    return folder / name


def refuse_what_the_archive_cannot_take(folder: Path, names: dict[Path, str], nothing: str) -> None:
    """Refuse, before anything is ``nothing`` (written, moved), a source whose place in the
    archive holds another file, and one in the archive already whose journal holds rows (its
    self-contained copy would have to take its own place)."""
    for path, name in names.items():
        destination = destination_of(folder, path, name)
        if destination == path:
            if any(side.stat().st_size > 0 for side in sidecar_paths(path)):
                raise BadInput(f"{path}: is in the archive folder {folder} already, and its journal holds rows: "
                               f"checkpoint it (sqlite3 {path} 'PRAGMA wal_checkpoint(TRUNCATE)') or move it out "
                               f"of {folder}, then run again; nothing was {nothing}")
        elif os.path.lexists(destination) and not os.path.samefile(destination, path):
            raise BadInput(f"{destination}: is in the archive folder already, another file than {path}, which "
                           f"would be archived there; rename one of them, then run again; nothing was {nothing}")


def move_source(path: Path, destination: Path, live: list[Path]) -> None:
    """The source into the archive: copied when its journal holds rows, else moved with
    its empty leftovers."""
    if live:
        copy_then_remove(path, destination)
        return
    moved = []
    try:
        for sidecar in sidecar_paths(path):  # empty leftovers first, the file last: a refusal moves nothing
            leftover = destination.with_name(sidecar.name.replace(path.name, destination.name, 1))
            os.replace(sidecar, leftover)
            moved.append((leftover, sidecar))
        os.replace(path, destination)
    except OSError:
        for leftover, sidecar in reversed(moved):
            os.replace(leftover, sidecar)
        raise


def remove_together(files: list[Path]) -> None:
    """Remove ``files`` all or none: each is renamed aside first (one that cannot be renamed
    cannot be removed either), and all are put back if one cannot be."""
    aside = []
    try:
        for file in files:
            if os.path.lexists(file):
                temporary = temporary_beside(file, "archive")
                os.rename(file, temporary)
                aside.append((temporary, file))
    except OSError:
        for temporary, file in reversed(aside):
            os.rename(temporary, file)
        raise
    for temporary, _file in aside:
        temporary.unlink()


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, innermost first."""
    return [path for path in (folder, *folder.parents) if not path.exists()]


def aliases_of(path: Path) -> list[Path]:
    """The links of ``path``'s folder with a database's name that lead to it (or to where it
    was, once moved): other names of the same database, left dangling when it moves, and
    refused then by the next consolidate."""
    if not path.parent.is_dir():
        return []
    real = os.path.realpath(path)
    return sorted(link for link in path.parent.iterdir()
                  if link.is_symlink() and is_database_path(link) and os.path.realpath(link) == real)


def move_aliases(aliases: list[Path], destination: Path) -> None:
    """Each alias follows its database into the archive: a link beside it, under the same
    name (one whose name is taken there stays where it was)."""
    for alias in aliases:
        moved = destination.with_name(alias.name)
        if os.path.lexists(moved):
            continue
        os.symlink(destination.name, moved)
        alias.unlink()


def copy_then_remove(path: Path, destination: Path) -> None:
    """A database whose journal holds rows, as one proved file in the archive; then the
    original and its sidecars go. The copy is complete and equal before anything is removed."""
    partial = temporary_beside(destination, "archive")
    try:
        with open_readonly(path) as reader:  # reads the committed rows, -wal included
            expected = database_fingerprint(reader)
            writer = sqlite3.connect(partial)
            try:
                reader.backup(writer)
                writer.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            finally:
                writer.close()
        with open_readonly(partial) as copy:
            if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok" or database_fingerprint(copy) != expected:
                raise Aborted(f"archiving {path}: the copy does not hold the same content; nothing was moved")
        os.replace(partial, destination)
    except (sqlite3.Error, OSError) as error:
        raise Aborted(f"archiving {path} failed ({error}); nothing was moved") from None
    finally:
        partial.unlink(missing_ok=True)
    try:
        remove_together([path, *sidecar_paths(path), Path(f"{path}-shm")])
    except OSError:
        destination.unlink(missing_ok=True)  # the original stays where it was, journal and all: its copy goes
        raise
