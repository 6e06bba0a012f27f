"""What a file is, from its 100-byte SQLite header, before SQLite opens it.

Reading the header first lets every command name the problem precisely (an empty file,
no SQLite header, a corrupt page size, a file shorter than its header says) instead of
passing on SQLite's generic "file is not a database".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from ..size import sidecar_paths

SQLITE_MAGIC = b"SQLite format 3\x00"


HEADER_SIZE = 100


class EmptyDatabase(BadInput):
    """A zero-byte file where a database was expected."""


class NotADatabase(BadInput):
    """A file SQLite cannot read as a database (wrong header, truncated, corrupt)."""


@dataclass(frozen=True)
class Header:
    """The fields of the 100-byte database header this project needs."""

    page_size: int
    page_count: int | None  # None when the header's own count is not trustworthy
    wal_mode: bool
    application_id: int
    text_encoding: int = 1  # 1 UTF-8, 2 UTF-16le, 3 UTF-16be
    user_version: int = 0  # as of the last checkpoint, for a WAL file

    @property
    def journal_mode(self) -> str:
        """``wal`` or ``rollback``: the only journal mode a file records persistently."""
        return "wal" if self.wal_mode else "rollback"


def read_header(path: Path) -> Header:
    """Parse the database header, raising a precise error for non-databases."""
    with open(path, "rb") as handle:
        raw = handle.read(HEADER_SIZE)
    if not raw:
        raise EmptyDatabase(f"{path}: empty file (0 bytes), not a database")
    if len(raw) < HEADER_SIZE or not raw.startswith(SQLITE_MAGIC):
        raise NotADatabase(f"{path}: not a SQLite database (no SQLite header)")
    page_size = int.from_bytes(raw[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise NotADatabase(f"{path}: corrupt SQLite header (page size {page_size})")
    change_counter = int.from_bytes(raw[24:28], "big")
    version_valid_for = int.from_bytes(raw[92:96], "big")
    declared_pages = int.from_bytes(raw[28:32], "big")
    trusted = declared_pages > 0 and change_counter == version_valid_for
    return Header(
        page_size=page_size,
        page_count=declared_pages if trusted else None,
        wal_mode=raw[18] == 2 or raw[19] == 2,
        application_id=int.from_bytes(raw[68:72], "big", signed=True),
        text_encoding=int.from_bytes(raw[56:60], "big") or 1,  # 0: no table yet, UTF-8 by default
        user_version=int.from_bytes(raw[60:64], "big", signed=True),
    )


def check_not_truncated(path: Path, header: Header) -> None:
    """Refuse a file shorter than its header says, unless a sidecar may complete it."""
    if header.page_count is None or sidecar_paths(path):
        return
    expected = header.page_count * header.page_size
    actual = os.stat(path).st_size
    if actual < expected:
        raise NotADatabase(
            f"{path}: truncated database ({actual} bytes, header says "
            f"{header.page_count} pages of {header.page_size} bytes = {expected})"
        )
