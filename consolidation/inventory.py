"""Phase 0: what databases the folders hold, how big they are, and whether they are sound.

``find_databases`` decides which files are candidates (by suffix, never following into
``.git`` or virtual environments, leaving out what ``--exclude`` names); each is
classified (:mod:`consolidation.sqlite.classify`) and, when it is a readable database,
checked with ``quick_check`` and counted through the read-only opener, so an inventory
never changes a byte on disk.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import AssetdbError, BadInput
from .globs import Exclusions
from .listing import DatabaseList, find_list, read_list
from .size import database_size, is_near_limit, percent_of_limit
from .sqlite import open_readonly, quote_identifier
from .sqlite.backup import find_workspace
from .sqlite.classify import (
    DATABASE_SUFFIXES,
    classify,
    folder_holding,
    is_database_path,
)
from .store.identity import SHARD, role

#: Folders never searched: tool state, not the repository's data.
SKIPPED_DIRECTORIES = frozenset({".git", ".hg", ".svn", ".venv", "venv", "__pycache__", "node_modules", ".tox", ".pytest_cache"})

SIZE_STATUSES = ("ok", "near", "over")


def find_databases(
    paths: Iterable[Path | str], exclusions: Exclusions = Exclusions(), require: bool = True
) -> list[Path]:
    """Database candidates named by ``paths``: files as given, folders searched recursively,
    minus the excluded ones.

    A missing path is an error; so is a folder holding no candidate (unless not
    ``require``d), since a typo in a CI command must not turn into a silently green gate. Symlinks are listed, not followed
    into: the classification judges where they lead.
    """
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and not path.is_symlink():
            in_folder = [candidate for candidate in walk_databases(path) if not exclusions.matching(candidate)]
            if not in_folder and require:
                raise BadInput(
                    f"{path}: no SQLite databases found (looked for "
                    f"{', '.join('*' + suffix for suffix in DATABASE_SUFFIXES)})"
                )
            found.update(in_folder)
        elif os.path.lexists(path) and not path.is_dir():
            found.add(path)
        else:
            raise BadInput(f"{path}: no such file or directory")
    return sorted(found)


def walk_databases(root: Path) -> list[Path]:
    """Every file under ``root`` whose name makes it a database candidate."""
    databases = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if name not in SKIPPED_DIRECTORIES)
        databases.extend(Path(folder) / name for name in files if is_database_path(name))
    return databases


@dataclass
class TableCount:
    name: str
    rows: int | None  # None when SQLite cannot count it (a virtual table without its module)


@dataclass
class DatabaseReport:
    """One inventory line. ``listed`` is None when there is no database list.

    ``status`` is ``ok``, ``near`` (90 % of the cap or more), ``over``, ``empty`` (zero
    bytes), or what makes the file unusable: ``lfs-pointer``, ``not-sqlite``,
    ``truncated``, ``corrupt``, ``locked``, ``symlink``, ``unreadable``.
    """

    path: str
    bytes: int
    limit: int
    status: str
    journal_mode: str | None = None
    tables: list[TableCount] = field(default_factory=list)
    listed: bool | None = None
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return self.status in (*SIZE_STATUSES, "empty")

    @property
    def percent_of_limit(self) -> float:
        return percent_of_limit(self.bytes, self.limit)

    @property
    def total_rows(self) -> int:
        return sum(table.rows or 0 for table in self.tables)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["percent_of_limit"] = round(self.percent_of_limit, 2)
        data["total_rows"] = self.total_rows
        return data


def _size_status(size: int, limit: int) -> str:
    if size > limit:
        return "over"
    return "near" if is_near_limit(size, limit) else "ok"


def count_tables(connection: sqlite3.Connection) -> list[TableCount]:
    """Row counts of every user table (``sqlite_*`` internals excluded), by name."""
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
    ]
    counts = []
    for name in names:
        try:
            rows = connection.execute(f"SELECT count(*) FROM {quote_identifier(name)}").fetchone()[0]
        except sqlite3.OperationalError:  # e.g. "no such module: fts4" for a virtual table
            rows = None
        counts.append(TableCount(name, rows))
    return counts


def _on_disk_size(path: Path) -> int:
    """Bytes of a candidate as it stands; a symlink that leads nowhere counts as nothing."""
    try:
        return database_size(path)
    except OSError:
        return 0


def inspect_database(path: Path, limit: int, display_path: str | None = None, root: Path | None = None) -> DatabaseReport:
    """Size, status, tables and journal mode of one candidate, without changing it."""
    report = DatabaseReport(path=display_path or str(path), bytes=_on_disk_size(path), limit=limit, status="ok")
    candidate = classify(path, root)
    if candidate.header is not None:
        report.journal_mode = candidate.header.journal_mode
    if not candidate.usable:
        report.status, report.problem = candidate.status, candidate.reason
        return report
    if candidate.status == "empty":
        report.status, report.problem = "empty", "empty file (0 bytes): an empty database"
        return report
    try:
        with open_readonly(path) as connection:
            problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                report.status = "corrupt"
                report.problem = f"quick_check: {problems[0]}" + (
                    f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
                )
                return report
            report.tables = count_tables(connection)
    except (AssetdbError, sqlite3.DatabaseError) as error:  # changed since it was classified
        report.status, report.problem = "corrupt", str(error).split(": ", 1)[-1]
        return report
    report.status = _size_status(report.bytes, limit)
    if report.status == "near" and role(path) == SHARD:
        report.status = "ok"  # a shard is filled to near the cap by design; the next one takes what follows
    return report


@dataclass
class Inventory:
    """The inventory of one or more folders; ``list_file`` is None when there is no list."""

    root: str
    limit: int
    list_file: str | None
    databases: list[DatabaseReport]

    def as_dict(self) -> dict:
        return {
            "root": self.root,
            "limit": self.limit,
            "list_file": self.list_file,
            "databases": [report.as_dict() for report in self.databases],
        }

    @property
    def unusable(self) -> list[DatabaseReport]:
        return [report for report in self.databases if not report.usable]


def relative_name(path: Path, root: Path) -> str:
    """POSIX path of ``path`` relative to ``root`` (as lists and gate ids show it)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def display_base(roots: list[Path]) -> Path:
    """What inventory paths are shown relative to: the folder itself when there is one,
    else the folders' common parent (``databases/a.db``, ``archived_databases/b.db``)."""
    folders = [Path(os.path.abspath(root if root.is_dir() else root.parent)) for root in roots]
    return Path(os.path.commonpath(folders))


def mark_listed(reports: list[DatabaseReport], base: Path, database_list: DatabaseList) -> None:
    for report in reports:
        report.listed = database_list.names(base / report.path)


def take_inventory(
    roots: Path | Iterable[Path],
    limit: int,
    track=lambda paths: paths,
    exclusions: Exclusions = Exclusions(),
    list_file: Path | None = None,
) -> Inventory:
    """Inventory every candidate under ``roots``; ``track`` wraps the file loop (progress).

    ``listed`` follows the database list: ``list_file``, else the one list anywhere in the
    folders' workspace (their Git work tree), if there is one.
    """
    roots = [Path(roots)] if isinstance(roots, (str, Path)) else [Path(root) for root in roots]
    base = display_base(roots)
    paths = find_databases(roots, exclusions)
    reports = [
        inspect_database(path, limit, relative_name(Path(os.path.abspath(path)), base), folder_holding(path, roots))
        for path in track(paths)
    ]
    found = find_list(find_workspace(roots[0]), base, list_file)
    shown = None
    if found.is_file():
        mark_listed(reports, base, read_list(found))
        shown = str(found)
    return Inventory(root=", ".join(str(root) for root in roots), limit=limit, list_file=shown, databases=reports)
