"""Writing stored assets under an output folder, and never outside it.

A consolidated database is a file anyone can edit, so every path it holds is untrusted:
each is judged (no absolute path, no ``..``, no NUL, no component that is a symlink)
before anything is written, and each file is written to a temporary name beside its
destination and renamed into place.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import BadInput
from .stored import StoredAsset


def unsafe_reason(path: bytes) -> str | None:
    """Why a stored path may not be written under an output folder, or None if it may."""
    if not path:
        return "empty path"
    if b"\0" in path:
        return "NUL in path"
    if path.startswith(b"/") or path.startswith(b"\\") or (len(path) > 1 and path[1:2] == b":"):
        return "absolute path"
    parts = path.split(b"/")
    if any(part in (b"", b".", b"..") for part in parts):
        return "'..', '.' or empty component"
    return None


def check_destination(out: Path, path: bytes, safe_folders: set[bytes] | None = None) -> Path:
    """The file to write for ``path`` under ``out``, refusing any way out of ``out``:
    an unsafe path, or a component that is already a symlink (planted or not).
    ``safe_folders`` remembers folders already checked, so a tree costs one check each."""
    reason = unsafe_reason(path)
    if reason:
        raise BadInput(f"refusing stored path {os.fsdecode(path)!r}: {reason}; nothing was written")
    root = os.fsencode(out.resolve())
    current = root
    for part in path.split(b"/")[:-1]:
        current = os.path.join(current, part)
        if safe_folders is not None and current in safe_folders:
            continue
        if os.path.islink(current):
            raise BadInput(
                f"refusing stored path {os.fsdecode(path)!r}: {os.fsdecode(current)} is a symlink; nothing was written"
            )
        if os.path.exists(current) and not os.path.isdir(current):
            raise BadInput(f"refusing stored path {os.fsdecode(path)!r}: {os.fsdecode(current)} is not a folder")
        if safe_folders is not None:
            safe_folders.add(current)
    return Path(os.fsdecode(os.path.join(root, path)))


def write_asset(destination: Path, asset: StoredAsset, content: bytes) -> None:
    """Write to a temporary name beside ``destination``, then rename into place."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.assetdb-tmp")
    if os.path.lexists(temporary):
        os.unlink(temporary)
    if stat.S_ISLNK(asset.mode):
        os.symlink(content, temporary)
    else:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        os.chmod(temporary, stat.S_IMODE(asset.mode))
    os.utime(temporary, ns=(asset.mtime_ns, asset.mtime_ns), follow_symlinks=False)
    os.replace(temporary, destination)
