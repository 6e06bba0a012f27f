"""Temporaries named by their owner, so what a killed run left behind can be found and removed.

A run cleans up after itself when it fails; a run that is killed (``SIGKILL``, a power
cut, the OOM killer) cannot. So every temporary the tool makes carries the pid of the
process that made it:

* beside the file it will become: ``.NAME.assetdb-<pid>-<purpose>.tmp`` (a database being
  initialized, a backup or copy being proved, a list being rewritten, a regenerated file
  being staged — ``.assetdb-<pid>-<token>.tmp``);
* in the system's temporary folder: ``assetdb-<pid>-<purpose>-…`` (snapshots of databases
  with live journals, UTF-8 copies, ingest spools).

Only the standard library is used here, so every layer may name its temporaries this way.
The next run of any command sweeps the system's temporary folder, and every command that
writes into a folder sweeps that folder: each temporary whose owner is no longer running
is removed (its SQLite sidecars too). A temporary whose pid is alive is never touched, so
two runs side by side leave each other's work alone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: What the tool writes beside a file until it is complete, and what it makes in the
#: system's temporary folder: a name is swept only when it is exactly one of these (a
#: user's ``assetdb-2026-export`` folder is never touched).
BESIDE_PURPOSES = ("backup", "cleaned", "init", "shard", "archive", "manifest", "list")
SYSTEM_PURPOSES = ("ingest", "snapshot", "utf8", "dryrun", "rebuild")
#: ``.NAME.assetdb-<pid>-<purpose>.tmp`` (or ``.assetdb-<pid>-<hex token>.tmp``), with any sidecar.
_BESIDE = re.compile(
    rf"^\.(?:.+\.)?assetdb-(\d+)-(?:{'|'.join(BESIDE_PURPOSES)}|[0-9a-f]{{8,32}})\.tmp(?:-journal|-wal|-shm)?$"
)
#: ``assetdb-<pid>-<purpose>-<mkdtemp's eight characters>`` in the system's temporary folder.
_SYSTEM = re.compile(rf"^assetdb-(\d+)-(?:{'|'.join(SYSTEM_PURPOSES)})-[a-z0-9_]{{8}}$")
#: SQLite's super-journal of a commit across attached files (``NAME-mj`` + 6 hex, 9, 2 hex).
_SUPER_JOURNAL = re.compile(r"-mj[0-9A-F]{6}9[0-9A-F]{2}$")


def owner_is_running(pid: int) -> bool:
    """Is process ``pid`` alive (ours included)? A process we may not signal is alive; a
    zombie is not (killed, but not yet reaped by its parent: it still answers a signal)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """Has ``pid`` ended, its exit status not yet collected? Read from Linux's ``/proc``;
    elsewhere (no ``/proc``) a process that answers is taken as running."""
    try:
        status = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    # "pid (name) state …": the name may hold spaces and parentheses, so split after the last ")"
    return status[status.rfind(b")") + 1:].split()[:1] == [b"Z"]


def temporary_beside(final: Path, purpose: str) -> Path:
    """The name to write ``final``'s content under until it is complete and renamed."""
    assert purpose in BESIDE_PURPOSES, purpose  # or the sweep would never know it
    return final.with_name(f".{final.name}.assetdb-{os.getpid()}-{purpose}.tmp")


def staging_name(token: str) -> bytes:
    """A staged file's name in a folder being written (regenerate, pull)."""
    return f".assetdb-{os.getpid()}-{token}.tmp".encode()


def is_temporary_name(name: str) -> bool:
    """Is ``name`` one of the tool's temporaries beside a file (any owner)?"""
    return _BESIDE.match(name) is not None


def is_super_journal(name: str) -> bool:
    """Is ``name`` SQLite's super-journal of a commit that spanned several files?"""
    return _SUPER_JOURNAL.search(name) is not None


def sweep_super_journals(database: Path) -> list[str]:
    """Remove the super-journals of ``database`` that no journal refers to any more.

    A commit across attached files (the primary and its shards) writes a super-journal
    and deletes it last; a kill between the two leaves it behind for good, since SQLite
    only deletes one while replaying a journal that names it. With no ``-journal`` left in
    the folder, none does. Call it holding the database's writer lock."""
    folder = Path(database).parent
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    if any(name.endswith("-journal") for name in names):
        return []  # a hot journal may name it: SQLite removes it after replaying that
    removed = []
    for name in names:
        if name.startswith(Path(database).name + "-mj") and is_super_journal(name):
            try:
                os.unlink(folder / name)
                removed.append(name)
            except OSError:
                continue
    return removed


def system_temporary_folder() -> Path:
    """The system's temporary folder, chosen as :mod:`tempfile` would but without its probe.

    On first use :mod:`tempfile` writes and deletes a file with a random, prefix-less name
    in each candidate folder to see if it is writable; a process killed between the two
    leaves that file for good, with no name that says whose it is. Naming the folder first
    (``$TMPDIR``, ``$TEMP``, ``$TMP``, else the platform's) spares the probe."""
    if tempfile.tempdir is None:
        for variable in ("TMPDIR", "TEMP", "TMP"):
            folder = os.environ.get(variable)
            if folder and os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
                tempfile.tempdir = os.path.abspath(folder)
                break
        else:
            tempfile.tempdir = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
    return Path(tempfile.tempdir)


def private_folder(purpose: str) -> Path:
    """A new private folder in the system's temporary folder, named by its owner."""
    assert purpose in SYSTEM_PURPOSES, purpose  # or the sweep would never know it
    return Path(tempfile.mkdtemp(prefix=f"assetdb-{os.getpid()}-{purpose}-", dir=system_temporary_folder()))


@contextmanager
def private_scratch(purpose: str) -> Iterator[Path]:
    """A :func:`private_folder` for the length of a ``with`` block, removed after it."""
    folder = private_folder(purpose)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _stale(pattern: re.Pattern, name: str, path: str | None = None, at: int | None = None) -> bool:
    """Named as one of the tool's temporaries, owned by this user, and its owner is gone."""
    match = pattern.match(name)
    if match is None or owner_is_running(int(match.group(1))):
        return False
    try:
        owner = os.stat(path if path is not None else name, dir_fd=at, follow_symlinks=False).st_uid
    except OSError:
        return False
    return owner == os.getuid()


def sweep_folder(folder: Path | str | bytes, at: int | None = None) -> list[str]:
    """Remove the temporaries in ``folder`` (or the open folder ``at``) whose owner is gone;
    returns their names. Never raises: a folder that cannot be listed has nothing to sweep."""
    removed = []
    try:
        names = os.listdir(at if at is not None else folder)
    except OSError:
        return removed
    for name in names:
        text = os.fsdecode(name)
        where = (None, at) if at is not None else (os.path.join(os.fsdecode(folder), text), None)
        if text.startswith(".") and "assetdb-" in text and _stale(_BESIDE, text, *where):
            try:
                if at is not None:
                    os.unlink(name, dir_fd=at)
                else:
                    os.unlink(os.path.join(folder, name))
                removed.append(text)
            except OSError:
                continue
    return removed


def sweep_system_temporaries() -> list[str]:
    """Remove what killed runs left in the system's temporary folder; returns the names."""
    root = system_temporary_folder()
    removed = []
    try:
        entries = [entry for entry in os.scandir(root) if entry.name.startswith("assetdb-")]
    except OSError:
        return removed
    for entry in entries:
        if _stale(_SYSTEM, entry.name, entry.path):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                try:
                    os.unlink(entry.path)
                except OSError:
                    continue
            removed.append(entry.name)
    return removed
