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
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput

#: Folders that are tool state, never assets (a folder holding ``pyvenv.cfg`` is a
#: virtual environment whatever its name; a folder merely named ``venv`` may be code).
SKIPPED_FOLDERS = frozenset({b".git", b".hg", b".svn", b".venv", b"__pycache__"})


@dataclass(frozen=True)
class WorkspaceFile:
    path: bytes  # relative, POSIX separators
    stat: os.stat_result

    @property
    def name(self) -> str:
        return os.fsdecode(self.path)


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
    found = []
    root = os.fsencode(workspace)
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(
            name for name in subfolders
            if name not in SKIPPED_FOLDERS and not os.path.exists(os.path.join(folder, name, b"pyvenv.cfg"))
        )
        relative = os.path.relpath(folder, root)
        for name in files:
            found.append(name if relative == b"." else relative.replace(os.sep.encode(), b"/") + b"/" + name)
    return sorted(found)


def list_workspace(workspace: Path) -> tuple[list[WorkspaceFile], list[str]]:
    """Regular files and symlinks to store, and notes on what was skipped (FIFOs, sockets…)."""
    workspace = Path(workspace)
    if not workspace.is_dir():
        raise BadInput(f"{workspace}: no such workspace folder")
    names = _git_files(workspace)
    names = _walked_files(workspace) if names is None else names
    files, skipped = [], []
    for name in names:
        if any(part in SKIPPED_FOLDERS for part in name.split(b"/")):
            continue
        try:
            info = os.lstat(os.path.join(os.fsencode(workspace), name))
        except FileNotFoundError:
            continue  # listed by git, deleted since
        if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
            files.append(WorkspaceFile(name, info))
        else:
            skipped.append(f"{os.fsdecode(name)}: not a regular file or symlink, skipped")
    return files, skipped
