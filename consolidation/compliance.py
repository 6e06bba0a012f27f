"""Size compliance: is every database under the cap? (phase 6, used from phase 0 on).

Directories are searched for databases the way the inventory searches them; files
named explicitly are checked whatever their suffix, since any file over the cap is
rejected by the Git host. A symlink that loops or dangles has no content to measure: it
is counted as what the Git host stores for it (the link itself) and named for what it is.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from .inventory import find_databases
from .size import database_size, format_size
from .store import Operation, record_operation


@dataclass(frozen=True)
class SizeFinding:
    path: Path
    bytes: int
    limit: int
    note: str | None = None  # why the file was not measured as a database (a broken symlink)

    @property
    def over(self) -> bool:
        return self.bytes > self.limit


def check_sizes(paths: list[Path], limit: int, track=lambda paths: paths) -> list[SizeFinding]:
    """Size of every database under ``paths`` (sidecars included) against ``limit``."""
    return [_measure(path, limit) for path in track(find_databases(paths))]


def _measure(path: Path, limit: int) -> SizeFinding:
    try:
        return SizeFinding(path, database_size(path), limit)
    except OSError as error:
        if not path.is_symlink():
            raise
        what = "symlink loop" if error.errno == errno.ELOOP else f"dangling symlink (to {os.readlink(path)})"
        return SizeFinding(path, path.lstat().st_size, limit, f"{what}: the link itself measured")


def log_size_check(database: Path, findings: list[SizeFinding], limit: int) -> int:
    """Record a size check in ``database``'s operation log; returns the row id."""
    over = [finding for finding in findings if finding.over]
    operation = Operation(
        "size-check",
        subject=f"{len(findings)} files",
        counts={"checked": len(findings), "over": len(over)},
        bytes=sum(finding.bytes for finding in findings),
        details={
            "limit": limit,
            "limit_human": format_size(limit),
            "over": [{"path": str(finding.path), "bytes": finding.bytes} for finding in over],
        },
    )
    return record_operation(database, operation, limit, "failed" if over else "ok")
