"""Phase 0: what databases a folder holds, how big they are, and whether they are sound.

``find_databases`` decides which files are databases (by suffix, never following into
``.git`` or virtual environments); ``inspect_database`` reads one of them through the
read-only opener, so an inventory never changes a byte on disk.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import BadInput
from .listing import DATABASE_SUFFIXES, LIST_FILENAME, is_listed, listed_names
from .size import database_size, is_near_limit, percent_of_limit
from .sqlite import (
    DatabaseLocked,
    EmptyDatabase,
    NotADatabase,
    open_readonly,
    quote_identifier,
    read_header,
)

#: Folders never searched: tool state, not the repository's data.
SKIPPED_DIRECTORIES = frozenset({".git", ".hg", ".svn", ".venv", "venv", "__pycache__", "node_modules", ".tox", ".pytest_cache"})

STATUSES = ("ok", "near", "over", "empty", "corrupt", "locked")


def is_database_path(path: Path) -> bool:
    return path.suffix.lower() in DATABASE_SUFFIXES


def find_databases(paths: Iterable[Path | str]) -> list[Path]:
    """Database files named by ``paths``: files as given, folders searched recursively.

    A missing path is an error; so is a folder holding no database, since a typo in a
    CI command must not turn into a silently green gate.
    """
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.add(path)
        elif path.is_dir():
            in_folder = _walk(path)
            if not in_folder:
                raise BadInput(
                    f"{path}: no SQLite databases found (looked for "
                    f"{', '.join('*' + suffix for suffix in DATABASE_SUFFIXES)})"
                )
            found.update(in_folder)
        else:
            raise BadInput(f"{path}: no such file or directory")
    return sorted(found)


def _walk(root: Path) -> list[Path]:
    databases = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if name not in SKIPPED_DIRECTORIES)
        databases.extend(Path(folder) / name for name in files if is_database_path(Path(name)))
    return databases


@dataclass
class TableCount:
    name: str
    rows: int | None  # None when SQLite cannot count it (a virtual table without its module)


@dataclass
class DatabaseReport:
    """One inventory line. ``listed`` is None when the folder has no database list."""

    path: str
    bytes: int
    limit: int
    status: str
    journal_mode: str | None = None
    tables: list[TableCount] = field(default_factory=list)
    listed: bool | None = None
    problem: str | None = None

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


def inspect_database(path: Path, limit: int, display_path: str | None = None) -> DatabaseReport:
    """Size, status, tables and journal mode of one database, without changing it.

    Status is ``empty`` (zero bytes), ``corrupt`` (SQLite cannot read it or its
    ``quick_check`` fails), ``locked`` (another process is writing it), else ``over``,
    ``near`` (at least 90 % of the cap) or ``ok``.
    """
    report = DatabaseReport(
        path=display_path or str(path), bytes=database_size(path), limit=limit, status="ok"
    )
    try:
        report.journal_mode = read_header(path).journal_mode
        with open_readonly(path) as connection:
            problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                report.status = "corrupt"
                report.problem = f"quick_check: {problems[0]}" + (
                    f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
                )
                return report
            report.tables = count_tables(connection)
    except EmptyDatabase:
        report.status, report.problem = "empty", "empty file (0 bytes)"
        return report
    except NotADatabase as error:
        report.status, report.problem = "corrupt", str(error).split(": ", 1)[-1]
        return report
    except DatabaseLocked as error:
        report.status, report.problem = "locked", str(error).split(": ", 1)[-1]
        return report
    except sqlite3.DatabaseError as error:
        report.status, report.problem = "corrupt", str(error)
        return report
    report.status = _size_status(report.bytes, limit)
    return report


@dataclass
class Inventory:
    """The inventory of one folder; ``list_file`` is None when it has no database list."""

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


def relative_name(path: Path, root: Path) -> str:
    """POSIX path of ``path`` relative to ``root`` (as lists and gate ids show it)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def mark_listed(reports: list[DatabaseReport], root: Path) -> str | None:
    """Fill ``listed`` from the folder's database list; return the list's path, if any."""
    names = listed_names(root)
    if names is None:
        return None
    for report in reports:
        report.listed = is_listed(report.path, names)
    return str(root / LIST_FILENAME)


def take_inventory(root: Path, limit: int, track=lambda paths: paths) -> Inventory:
    """Inventory every database under ``root``; ``track`` wraps the file loop (progress)."""
    root = Path(root)
    base = root if root.is_dir() else root.parent
    reports = [
        inspect_database(path, limit, relative_name(path, base))
        for path in track(find_databases([root]))
    ]
    list_file = mark_listed(reports, base)
    return Inventory(root=str(root), limit=limit, list_file=list_file, databases=reports)
