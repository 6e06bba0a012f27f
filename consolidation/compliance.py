"""Size compliance: is every database under the cap? (phase 6, used from phase 0 on, and
as a pre-commit hook).

Directories are searched for databases the way the inventory searches them; files
named explicitly are checked whatever their suffix, since any file over the cap is
rejected by the Git host. Three more things a commit must not carry can be asked for:
a database near the cap (``warn_at``; a consolidated set's shard never is), a Git LFS pointer where a database is expected
(its database was never fetched, so what is committed is 130 bytes of text), and a
SQLite file outside the folders the consolidated set lives in (recognised by its header,
whatever its name). A symlink that loops or dangles has no content to measure: it is
counted as what the Git host stores for it (the link itself) and named for what it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .globs import Exclusions, resolved
from .inventory import find_databases
from .size import database_size, format_size
from .sqlite.classify import (
    has_sqlite_header,
    is_database_path,
    lfs_pointer_size,
    symlink_problem,
)
from .sqlite.locks import interrupted_journal
from .store import Operation, record_operation
from .store.identity import SHARD, role


@dataclass(frozen=True)
class SizePolicy:
    """What a size check fails on besides the cap; everything off by default.

    ``database_folders`` empty means SQLite files may be anywhere; ``exclusions`` are
    files left out on purpose, never called out as outside the set.
    """

    warn_at: int | None = None
    refuse_lfs_pointers: bool = False
    database_folders: tuple[Path, ...] = ()
    exclusions: Exclusions = Exclusions()

    def outside_the_set(self, path: Path) -> bool:
        if not self.database_folders or self.exclusions.matching(path):
            return False
        resolved_path = resolved(path)
        return not any(resolved_path.is_relative_to(resolved(folder)) for folder in self.database_folders)


@dataclass(frozen=True)
class SizeFinding:
    path: Path
    bytes: int
    limit: int
    database: bool = True  # named like one or with a SQLite header (other files are shown only when failing)
    near: bool = False  # at or over the warning threshold, under the cap
    lfs_object_size: int | None = None  # a Git LFS pointer where a database is expected, refused
    stray: bool = False  # a SQLite file outside the consolidated set's folders
    note: str | None = None  # why the file was not measured as a database (a broken symlink)

    @property
    def over(self) -> bool:
        return self.bytes > self.limit

    @property
    def status(self) -> str:
        """``OVER``, ``LFS``, ``STRAY``, ``NEAR`` or ``ok``: the worst that applies."""
        if self.over:
            return "OVER"
        if self.lfs_object_size is not None:
            return "LFS"
        if self.stray:
            return "STRAY"
        return "NEAR" if self.near else "ok"

    @property
    def failed(self) -> bool:
        return self.status != "ok"

    def problem(self) -> str:
        """What is wrong, in words, for the line that names each failing file."""
        if self.over:
            return f"{self.path}: over the cap ({format_size(self.bytes)} > {format_size(self.limit)})"
        if self.lfs_object_size is not None:
            return (f"{self.path}: a Git LFS pointer (to a {format_size(self.lfs_object_size)} object), not the "
                    "database; run `git lfs pull` and commit the database")
        if self.stray:
            return (f"{self.path}: a SQLite database outside the consolidated set's folders; move it into one and "
                    "consolidate it, or leave it out with [tool.assetdb] exclude")
        return f"{self.path}: near the cap ({format_size(self.bytes)} of {format_size(self.limit)})"


def check_sizes(paths: list[Path], limit: int, track=lambda paths: paths,
                policy: SizePolicy = SizePolicy()) -> list[SizeFinding]:
    """Size of every database under ``paths`` (sidecars included) against ``limit``, and
    what ``policy`` also refuses."""
    return [_finding(path, limit, policy) for path in track(find_databases(paths))]


def _measured(path: Path) -> tuple[int, str | None]:
    """The database's bytes, or a broken symlink's own bytes with what it is."""
    try:
        return database_size(path), None
    except OSError:
        if not path.is_symlink():
            raise
        return path.lstat().st_size, f"{symlink_problem(path)}: the link itself measured"


def _finding(path: Path, limit: int, policy: SizePolicy) -> SizeFinding:
    size, note = _measured(path)
    if note is None and size > limit and interrupted_journal(path) is not None:
        note = "with the -journal of a write cut short: rerun the command that was writing, which rolls it back"
    sqlite = has_sqlite_header(path)
    pointer = lfs_pointer_size(path) if policy.refuse_lfs_pointers and is_database_path(path) else None
    return SizeFinding(
        path, size, limit,
        database=sqlite or is_database_path(path),
        # A shard is filled to 90 % by design and held under the cap by SQLite itself: no
        # write can take it over, so it is never "near" it.
        near=policy.warn_at is not None and policy.warn_at <= size <= limit and role(path) != SHARD,
        lfs_object_size=pointer,
        stray=sqlite and policy.outside_the_set(path),
        note=note,
    )


def log_size_check(database: Path, findings: list[SizeFinding], limit: int) -> int:
    """Record a size check in ``database``'s operation log; returns the row id."""
    failed = [finding for finding in findings if finding.failed]
    operation = Operation(
        "size-check",
        subject=f"{len(findings)} files",
        counts={"checked": len(findings), "over": sum(finding.over for finding in findings),
                "failed": len(failed)},
        bytes=sum(finding.bytes for finding in findings),
        details={
            "limit": limit,
            "limit_human": format_size(limit),
            "over": [{"path": str(finding.path), "bytes": finding.bytes} for finding in findings if finding.over],
            "failed": [{"path": str(finding.path), "status": finding.status, "bytes": finding.bytes}
                       for finding in failed],
        },
    )
    return record_operation(database, operation, limit, "failed" if failed else "ok")
