"""Phase 4: clean a legacy documentation database of duplicates and backup copies.

The original project's documentation databases hold the same text under several paths
and keep backup copies as entries (``guide_backup.md``, ``README.md.bak``, ``backup/…``,
``notes.md~``, ``api_20250716_151622.md``). Cleaning keeps one canonical entry per content
(the earliest whose path and title are not backup-like) and drops the rest, and backup
entries themselves. By default it writes a cleaned copy and leaves the original alone;
``in_place`` first takes a verified backup outside the workspace.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from .config import load_settings
from .errors import BadInput
from .leftovers import temporary_beside
from .sqlite import backup_database, default_backup_directory, open_readonly
from .sqlite.introspect import quote_identifier as q
from .sqlite.introspect import rowid_expression
from .store import Operation, read_consolidated, record_operation, write_transaction
from .store.identity import claims_assetdb

PATH_COLUMNS = ("path", "file_path", "filepath", "doc_path", "document_path", "filename", "file_name")
CONTENT_COLUMNS = ("content", "body", "text", "markdown", "document", "contents")
HASH_COLUMNS = ("content_hash", "sha256", "hash", "checksum")
TITLE_COLUMNS = ("title", "name", "doc_title")
#: Backup-like paths or titles (regular expressions, searched case-insensitively).
DEFAULT_BACKUP_PATTERNS = (
    r"_backup(\.|$|[_-]?\d)",  # guide_backup.md, notes_backup_2.md (not backup_manager.md)
    r"(^|[/\\])backup_",  # backup_schema.md
    r"(^|[/\\])backups?[/\\]",  # backup/setup.md
    r"\.(bak|orig|old)$|~$",  # README.md.bak, notes.md~
)
#: A timestamp in a name marks a copy only when the undated name is an entry too
#: (api_20250716_151622.md beside api.md); a dated report on its own is an original.
TIMESTAMP = re.compile(r"[_-]\d{8}[_-]?\d{6}(?=\.|$)")


@dataclass(frozen=True)
class DocumentTable:
    name: str
    path: str
    content: str | None
    hash: str | None
    title: str | None
    rowid: str = "rowid"  # how its rows are named: a column may be called rowid itself


@dataclass
class CleanupReport:
    table: str
    rows: int = 0
    duplicates: list[tuple[int, str, int]] = field(default_factory=list)  # (rowid, path, canonical rowid)
    rowid: str = "rowid"  # how the table's rows are named (see DocumentTable)
    backups: list[tuple[int, str]] = field(default_factory=list)
    written: str | None = None
    backup: str | None = None

    @property
    def removed(self) -> list[int]:
        return sorted({rowid for rowid, *_ in self.duplicates} | {rowid for rowid, _ in self.backups})


def find_document_table(connection: sqlite3.Connection, table: str | None = None) -> DocumentTable:
    """The table holding documents: a path column and content (or a content hash)."""
    names = [table] if table else [
        row[0] for row in connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
    ]
    for name in names:
        columns = {row[1].lower(): row[1] for row in connection.execute(f"PRAGMA table_info({q(name)})")}
        if not columns:
            raise BadInput(f"no table {name!r} in this database")
        path = next((columns[c] for c in PATH_COLUMNS if c in columns), None)
        content = next((columns[c] for c in CONTENT_COLUMNS if c in columns), None)
        hashed = next((columns[c] for c in HASH_COLUMNS if c in columns), None)
        if path and (content or hashed):
            title = next((columns[c] for c in TITLE_COLUMNS if c in columns), None)
            return DocumentTable(name, path, content, hashed if not content else None, title,
                                 _rows_named_by(connection, name))
    raise BadInput("no documentation table found (a table with a path column and a content or content-hash column)")


def _rows_named_by(connection: sqlite3.Connection, table: str) -> str:
    """The rowid of ``table`` under a name no column shadows (a column called ``rowid`` would
    name other rows, and a row it did not report would be deleted); a table with none (a
    view, ``WITHOUT ROWID``, every name taken) is refused."""
    kind = connection.execute("SELECT type FROM pragma_table_list WHERE schema = 'main' AND name = ?",
                              (table,)).fetchone()
    if kind is not None and kind[0] == "view":
        raise BadInput(f"{table!r} is a view: dedupe-docs removes entries from a table; nothing was written")
    rowid = rowid_expression(connection, table)
    if rowid is None:
        raise BadInput(f"{table!r} has no rowid to name its entries by (a WITHOUT ROWID table, or columns called "
                       "rowid, _rowid_ and oid); nothing was written")
    return rowid


def backup_patterns(start: Path | None = None) -> list[re.Pattern[str]]:
    configured = load_settings(start).backup_patterns
    return [re.compile(pattern, re.IGNORECASE) for pattern in (configured or DEFAULT_BACKUP_PATTERNS)]


def plan_cleanup(connection: sqlite3.Connection, table: str | None = None, patterns=None) -> CleanupReport:
    """Which entries are duplicates of a canonical one, and which are backup copies."""
    documents = find_document_table(connection, table)
    patterns = patterns if patterns is not None else backup_patterns()
    report = CleanupReport(documents.name)
    selected = [documents.rowid, q(documents.path), q(documents.content or documents.hash)]
    selected.append(q(documents.title) if documents.title else "NULL")
    rows = connection.execute(
        f"SELECT {', '.join(selected)} FROM {q(documents.name)} ORDER BY {documents.rowid}").fetchall()
    report.rows = len(rows)
    report.rowid = documents.rowid

    paths = {str(path) for _, path, _, _ in rows}

    def is_backup(path, title) -> bool:
        if any(p.search(str(value)) for p in patterns for value in (path, title) if value):
            return True
        undated = TIMESTAMP.sub("", str(path))
        return undated != str(path) and undated in paths

    groups: dict[str, list[tuple[int, str, bool]]] = {}
    for rowid, path, content, title in rows:
        backup = is_backup(path, title)
        if backup:
            report.backups.append((rowid, str(path)))
        if content is None:
            continue
        key = content if documents.hash else hashlib.sha256(
            content if isinstance(content, bytes) else str(content).encode()
        ).hexdigest()
        groups.setdefault(key, []).append((rowid, str(path), backup))
    for entries in groups.values():
        canonical = next((rowid for rowid, _, backup in entries if not backup), None)
        for rowid, path, backup in entries:
            if canonical is not None and rowid != canonical and not backup:
                report.duplicates.append((rowid, path, canonical))
    return report


def dedupe_docs(
    database: Path | str,
    out: Path | str | None = None,
    in_place: bool = False,
    backup_directory: Path | None = None,
    table: str | None = None,
    log: Path | None = None,
    dry_run: bool = False,
    *,
    limit: int,
) -> CleanupReport:
    """Report, then write a cleaned copy (default) or clean in place after a verified backup;
    ``limit`` caps the log row written into ``log``, the consolidated set's own log."""
    database = Path(database)
    if log is not None:  # the log it is recorded in is judged first: the cleaned copy is not left behind
        with read_consolidated(Path(log)):
            pass
    if claims_assetdb(database):  # its documentation rows are sources' rows, accounted for in its ledger
        raise BadInput(f"{database}: is a file of a consolidated set; dedupe-docs cleans a legacy documentation "
                       "database (consolidate reports the duplicates of the ones it takes in); nothing was written")
    with open_readonly(database) as connection:
        report = plan_cleanup(connection, table, backup_patterns(database.parent))
        if dry_run:
            return report
        if not in_place:
            target = Path(out) if out else database.with_name(f"{database.stem}.cleaned{database.suffix}")
            if os.path.lexists(target):  # a link too, dangling or in a loop: replaced, it would be lost
                raise BadInput(f"{target}: already exists; refusing to overwrite it")
            partial = temporary_beside(target, "cleaned")
            writer = sqlite3.connect(partial)
            try:
                connection.backup(writer)
            finally:
                writer.close()
    if in_place:
        report.backup = backup_database(database, backup_directory or default_backup_directory()).backup
        _delete(database, report)
        target = database
    else:
        try:
            _delete(partial, report)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    report.written = str(target)
    if log is not None:
        _log(log, database, report, limit)
    return report


def _delete(path: Path, report: CleanupReport) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        with write_transaction(connection, path):
            connection.executemany(
                f"DELETE FROM {q(report.table)} WHERE {report.rowid} = ?", [(rowid,) for rowid in report.removed]
            )
        connection.execute("VACUUM")
    finally:
        connection.close()


def _log(log: Path, database: Path, report: CleanupReport, limit: int) -> None:
    operation = Operation(
        "dedupe-docs",
        subject=str(database),
        counts={"rows": report.rows, "duplicates": len(report.duplicates), "backups": len(report.backups)},
        details={"written": report.written, "backup": report.backup, "removed": report.removed[:200]},
    )
    record_operation(log, operation, limit)
