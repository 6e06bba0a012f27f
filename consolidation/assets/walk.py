"""Which files of a workspace are candidates to store.

In a Git work tree, the files Git tracks or would track (``git ls-files``, so
``.gitignore`` is honoured); elsewhere, a walk of the folder. Tool state (``.git``,
virtual environments, ``__pycache__``) is never a candidate; FIFOs and sockets are
named and skipped.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AssetdbError, BadInput
from ..globs import Exclusions
from ..listing import is_kept_list
from ..sqlite.classify import DATABASE_SUFFIXES, SIDECAR_SUFFIXES, has_sqlite_header
from ..sqlite.header import read_header
from ..store.owned import LIST_FILENAME, DatabaseSet, is_tool_file
from .confine import NEVER_STORED_FOLDERS


@dataclass(frozen=True)
class WorkspaceFile:
    path: bytes  # relative, POSIX separators
    stat: os.stat_result

    @property
    def name(self) -> str:
        return os.fsdecode(self.path)


@dataclass
class WorkspaceListing:
    """The candidates to store, the database files set aside, and notes on what was skipped.

    ``databases`` are files of the database world, recognised by name (a database suffix,
    or a ``-wal``/``-shm``/``-journal`` beside one): they are never assets. A file whose
    *bytes* say SQLite is recognised by :func:`holds_sqlite` when it is about to be read.
    """

    files: list[WorkspaceFile] = field(default_factory=list)
    databases: list[WorkspaceFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def holds_sqlite(workspace: Path, file: WorkspaceFile) -> bool:
    """Is this a SQLite database, whatever its name? Its whole header says so, not the magic
    string alone: a file that only starts with it (a fragment, a test's fixture of a cut
    database) is a file like any other, stored. (Symlinks are links, not databases.)"""
    full = os.path.join(os.fsencode(workspace), file.path)
    if not stat.S_ISREG(file.stat.st_mode):
        return False
    try:
        read_header(Path(os.fsdecode(full)))
    except (AssetdbError, OSError):
        return False
    return True


def _git_files(workspace: Path) -> list[bytes] | None:
    """Files git tracks or would track (not ignored), or None outside a git work tree."""
    if not (workspace / ".git").exists() or shutil.which("git") is None:
        return None
    result = subprocess.run(
        ["git", "-C", str(workspace), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
    )
    if result.returncode != 0:
        return None
    return sorted({entry for entry in result.stdout.split(b"\0") if entry})


def _walked_files(workspace: Path) -> list[bytes]:
    """Every file and symlink under ``workspace`` (a link to a folder is a link, as git has
    it, not a folder to walk); a folder that cannot be read is refused, not skipped unseen."""
    found = []
    root = os.fsencode(workspace)
    for folder, subfolders, files in os.walk(root, onerror=_unreadable_folder):
        links = [name for name in subfolders if os.path.islink(os.path.join(folder, name))]
        subfolders[:] = sorted(
            name for name in subfolders
            if name not in links and name.lower() not in NEVER_STORED_FOLDERS
            and not os.path.exists(os.path.join(folder, name, b"pyvenv.cfg"))
        )
        relative = os.path.relpath(folder, root)
        for name in [*files, *links]:
            found.append(name if relative == b"." else relative.replace(os.sep.encode(), b"/") + b"/" + name)
    return sorted(found)


#: An mtime is stored in nanoseconds, a 64-bit SQLite integer.
_NANOSECONDS_SQLITE_HOLDS = 2**63


def _virtual_environments(root: bytes, names: list[bytes]) -> set[bytes]:
    """The folders among ``names``' folders that hold a ``pyvenv.cfg``: virtual
    environments, which git lists too when nothing ignores them."""
    folders = {name.rsplit(b"/", 1)[0] for name in names if b"/" in name}
    every = {b"/".join(folder.split(b"/")[:end]) for folder in folders for end in range(1, folder.count(b"/") + 2)}
    return {folder for folder in every if os.path.isfile(os.path.join(root, folder, b"pyvenv.cfg"))}


def _unreadable_folder(error: OSError) -> None:
    raise BadInput(f"{os.fsdecode(error.filename)}: cannot be read ({(error.strerror or str(error)).lower()}); "
                   "nothing was stored")


_DATABASE_SUFFIXES = tuple(os.fsencode(suffix) for suffix in DATABASE_SUFFIXES)
_LIST_NAME = os.fsencode(LIST_FILENAME)
_SIDECAR_SUFFIXES = tuple(os.fsencode(suffix) for suffix in SIDECAR_SUFFIXES)


def _is_database_name(root: bytes, name: bytes, names: set[bytes]) -> bool:
    """A database by its name, or the ``-wal``/``-shm``/``-journal`` of one. (Bytes all the
    way: this runs for every file of the workspace on every sync.)"""
    if name.lower().endswith(_DATABASE_SUFFIXES):
        return True
    for suffix in _SIDECAR_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            base = name[: -len(suffix)]
            return base.lower().endswith(_DATABASE_SUFFIXES) or (
                base in names and has_sqlite_header(os.path.join(root, base)))
    return False


def list_workspace(
    workspace: Path, database_set: DatabaseSet | None = None, exclusions: Exclusions = Exclusions()
) -> WorkspaceListing:
    """The workspace's candidate files; the database set's own files and anything
    excluded on purpose are left out, database files are set aside."""
    workspace = Path(workspace)
    if not workspace.is_dir():
        raise BadInput(f"{workspace}: no such workspace folder")
    names = _git_files(workspace)
    names = _walked_files(workspace) if names is None else names
    known = set(names)
    listing = WorkspaceListing()
    root = os.fsencode(workspace)
    environments = _virtual_environments(root, names)
    lists = sum(1 for name in names if name.rsplit(b"/", 1)[-1] == _LIST_NAME)
    for name in names:
        parts = name.split(b"/")
        if any(part.lower() in NEVER_STORED_FOLDERS for part in parts) or is_tool_file(os.fsdecode(parts[-1])):
            continue
        if parts[-1] == _LIST_NAME and is_kept_list(Path(os.fsdecode(os.path.join(root, name))), lists,
                                                    database_set is not None and database_set.keeps_list):
            continue
        if environments and any(b"/".join(parts[:end]) in environments for end in range(1, len(parts))):
            continue
        full = os.path.join(root, name)
        if database_set is not None and database_set.owns(full, aliases=_is_database_name(root, name, known)):
            continue
        if exclusions and exclusions.matching(Path(os.fsdecode(full))):
            continue
        try:
            info = os.lstat(full)
        except FileNotFoundError:
            continue  # listed by git, deleted since
        except PermissionError:  # a folder on the way that may not be searched
            raise BadInput(f"{os.fsdecode(name)}: cannot be read (permission denied on a folder on its way); "
                           "nothing was stored") from None
        if not -_NANOSECONDS_SQLITE_HOLDS <= info.st_mtime_ns < _NANOSECONDS_SQLITE_HOLDS:
            raise BadInput(f"{os.fsdecode(name)}: its modification time is past what SQLite stores to the "
                           "nanosecond (1677-09-21 to 2262-04-11); set it (touch FILE) or leave the file out "
                           "(--exclude); nothing was stored")
        file = WorkspaceFile(name, info)
        if _is_database_name(root, name, known):
            listing.databases.append(file)
        elif stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
            listing.files.append(file)
        else:
            listing.notes.append(f"{os.fsdecode(name)}: not a regular file or symlink, skipped")
    return listing
