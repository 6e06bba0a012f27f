"""An archive folder's manifest, ``ARCHIVE_MANIFEST.json``: which sources were archived
there, from where, with their SHA-256. Read by the archive that writes it, by the gate that
checks archived copies, and by everything that must pass an archived source over (another
set's archive in the same repository among them) without importing the archive itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from .owned import ARCHIVE_MANIFEST


@dataclass(frozen=True)
class Archived:
    """One manifest entry: ``archived`` is relative to the manifest's folder."""

    name: str
    original: str
    archived: str
    sha256: str
    bytes: int
    original_sha256: str = ""  # of the file and its sidecars as they were, when copied
    archived_at: str = ""

    def location(self, folder: Path) -> Path:
        archived = Path(self.archived)
        return archived if archived.is_absolute() else folder / archived


def read_manifest(folder: Path) -> list[Archived]:
    """The archive folder's manifest entries (none when it has no manifest)."""
    path = folder / ARCHIVE_MANIFEST
    if not path.is_file():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        return [Archived(**{key: entry[key] for key in Archived.__dataclass_fields__ if key in entry}) for entry in entries]
    except (ValueError, TypeError, KeyError) as error:
        raise BadInput(f"{path}: not an archive manifest ({error})") from None


def in_archive(root: Path, relative: str) -> bool:
    """Whether ``relative`` (a database path under ``root``) lies in an archive folder: one of
    the folders between ``root`` and it holds an archive's manifest, or ``root`` (or a folder
    above it) holds one that names it (``root`` being another set's archive folder, say)."""
    parts = relative.split("/")
    if any((root.joinpath(*parts[:depth]) / ARCHIVE_MANIFEST).is_file() for depth in range(1, len(parts))):
        return True
    real = os.path.realpath(root.joinpath(*parts))
    return any(real in _archived_in(folder) for folder in (root, *root.absolute().parents)
               if (folder / ARCHIVE_MANIFEST).is_file())


def _archived_in(folder: Path) -> set[str]:
    """The real paths of the files the archive manifest of ``folder`` names (none when it
    cannot be read: it then archives nothing the caller needs to pass over)."""
    try:
        return {os.path.realpath(entry.location(folder)) for entry in read_manifest(folder)}
    except BadInput:
        return set()
