"""Size limits and on-disk sizes of SQLite databases.

Git hosting rejects files over 100 MB, so every database the project keeps must stay
under a cap (99,900,000 bytes unless configured). What counts is what would be
committed or copied: the main file plus its ``-wal`` and ``-journal`` sidecars, which
hold data that belongs to the database until it is checkpointed or rolled back.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .errors import BadInput

DEFAULT_SIZE_LIMIT = 99_900_000
NEAR_LIMIT_FRACTION = 0.9

#: Sidecar files whose bytes belong to the database (``-shm`` is only an index).
DATA_SIDECAR_SUFFIXES = ("-wal", "-journal")

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """Parse ``99.9MB``, ``95MiB``, ``1.5GB`` or a byte count into bytes.

    Decimal units (KB, MB, GB, TB) are powers of 1000 and binary units (KiB, MiB, GiB,
    TiB) powers of 1024, as on a file-size cap. Fractions of a byte round down, so the
    limit never grows past what the user wrote.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value, unit = Decimal(text), ""
    else:
        match = _SIZE_PATTERN.match(str(text))
        if not match or match.group(2).lower() not in _UNITS:
            raise BadInput(
                f"invalid size {str(text)!r}: use bytes or a number with a unit "
                "(KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 99.9MB"
            )
        try:
            value = Decimal(match.group(1))
        except InvalidOperation:  # pragma: no cover - the pattern only admits numbers
            raise BadInput(f"invalid size {text!r}") from None
        unit = match.group(2).lower()
    size = int(value * _UNITS[unit])
    if size <= 0:
        raise BadInput(f"invalid size {str(text)!r}: a size limit must be at least one byte")
    return size


def format_size(size: int) -> str:
    """Human size in decimal units, as Git hosts state their limits (``104.2 MB``)."""
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"


#: Every file SQLite may keep beside a database: its journal, write-ahead log and shared memory.
ALL_SIDECAR_SUFFIXES = ("-journal", "-wal", "-shm")


def remove_database_file(path: Path) -> None:
    """Remove a database file this tool made, with whatever SQLite kept beside it (never
    a symlink: the tool makes none, so one there is somebody else's)."""
    for leftover in (path, *(Path(f"{path}{suffix}") for suffix in ALL_SIDECAR_SUFFIXES)):
        if not leftover.is_symlink():
            leftover.unlink(missing_ok=True)


def sidecar_paths(path: Path) -> list[Path]:
    """The data-bearing sidecars of ``path`` that exist right now: of the database a link
    leads to, beside it, where SQLite keeps them (not beside the link)."""
    base = os.path.realpath(path) if os.path.islink(path) else path
    return [
        candidate
        for candidate in (Path(f"{base}{suffix}") for suffix in DATA_SIDECAR_SUFFIXES)
        if candidate.exists()
    ]


def database_size(path: Path) -> int:
    """Bytes the database occupies: the main file plus its ``-wal`` and ``-journal``."""
    return os.stat(path).st_size + sum(os.stat(side).st_size for side in sidecar_paths(path))


def percent_of_limit(size: int, limit: int) -> float:
    return 100.0 * size / limit


def is_near_limit(size: int, limit: int) -> bool:
    return NEAR_LIMIT_FRACTION * limit <= size <= limit


def parse_warn_threshold(text: str, limit: int) -> int | None:
    """Bytes from which a database under ``limit`` is near the cap: a size (``95MB``) or a
    share of the cap (``90%``); ``0`` (or ``0%``) turns the warning off (None).

    One reading for ``assetdb size-check --warn`` and the gate's ``--assetdb-warn``, so
    the same words mean the same threshold in a hook, in CI and at a prompt.
    """
    stripped = str(text).strip()
    try:
        if stripped.endswith("%"):
            share = float(stripped[:-1])
            if not 0 <= share <= 100:
                raise ValueError
            return int(limit * share / 100) or None
        return None if stripped == "0" else parse_size(stripped)
    except (ValueError, BadInput):
        raise BadInput(f"{stripped!r}: use a size (95MB) or a share of the cap (90%)") from None
