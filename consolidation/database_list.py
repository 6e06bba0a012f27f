"""Phase 7: the database list, kept true where it lives.

``assetdb`` owns one block of the list, between two marker comments, and writes it from
the facts: the active databases (file, purpose from its tables, size, % of cap, rows),
the shards, the archived sources with where they went, the files skipped with why, and
the count before and after. Everything outside the block — a hand-written list's prose,
headings, bullets — is kept byte for byte; a list without markers gets the block after
its prose. Every path is relative to the list file, so the list means the same in every
clone. The prose is cross-checked against the facts (a database it names that exists
nowhere, an active one it does not name), and the findings go into the block.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from .errors import AssetdbError, BadInput
from .globs import Exclusions, resolved
from .inventory import (
    DatabaseReport,
    TableCount,
    find_databases,
    inspect_database,
    relative_name,
)
from .leftovers import sweep_folder, temporary_beside
from .listing import (
    BEGIN_MARKER,
    END_MARKER,
    LIST_FILENAME,
    DatabaseList,
    find_list,
    read_list,
)
from .proof import read_sources
from .size import format_size
from .sqlite import open_readonly
from .sqlite.backup import find_workspace
from .sqlite.classify import has_sqlite_header, is_database_path
from .store import ASSET_TABLES, shard_path, utc_now, write_session
from .store.archive_manifest import in_archive
from .store.identity import PRIMARY, claims_assetdb, role
from .store.lock import DEFAULT_LOCK_TIMEOUT, database_lock
from .store.set_files import database_list_path, record_database_list, skipped_files
from .store.shard_files import existing_shard, manifest

#: What marked the whole file as ours before the list had markers.
_OLD_GENERATED_START = "# Consolidated database list\n\nWritten by `assetdb list`"


@dataclass
class ListFacts:
    """What is true of a database set, whatever any list says."""

    active: list[tuple[Path, DatabaseReport]] = field(default_factory=list)
    shards: list[tuple[Path, int]] = field(default_factory=list)  # (file, shard number)
    archived: list[tuple[str, Path | None]] = field(default_factory=list)  # (source name, where it went)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, why)
    legacy_before: int = 0
    primaries: list[Path] = field(default_factory=list)  # the consolidated sets among the databases
    purposes: dict[Path, str] = field(default_factory=dict)  # what a consolidated set holds, in words

    @property
    def known_files(self) -> set[Path]:
        return {resolved(path) for path, _ in self.active} | {
            resolved(path) for path, _ in self.shards} | {
            resolved(path) for _, path in self.archived if path is not None} | {
            resolved(path) for path, _ in self.skipped}


def gather_facts(folders: list[Path], limit: int, exclusions: Exclusions = Exclusions()) -> ListFacts:
    """The active databases of ``folders`` and, from each consolidated set among them,
    its shards, archived sources and skipped files."""
    facts = ListFacts()
    unique: dict[Path, Path] = {}
    for folder in folders:  # a folder named twice (databases, documentation/../databases) is listed once
        unique.setdefault(resolved(folder), folder)
    folders = list(unique.values())
    shard_files: set[Path] = set()
    for path in find_databases(folders, exclusions, require=False):
        root = next(folder for folder in folders if folder == path.parent or folder in path.parents)
        if in_archive(root, relative_name(path, root)):
            continue
        report = inspect_database(path, limit, str(path))
        facts.active.append((path, report))
        if role(path) != PRIMARY:
            continue  # a legacy database, or a shard (its primary lists it)
        try:
            with open_readonly(path) as connection:
                facts.primaries.append(path)
                sources = read_sources(connection)
                assets = sum(connection.execute(f'SELECT count(*) FROM "{table}" WHERE is_current').fetchone()[0]
                             for table in ASSET_TABLES.values())
                report.problem = None
                # its rows are the sources' rows it accounts for, not those of its own ledger tables
                report.tables = [TableCount("source rows accounted for",
                                            sum(table.rows_read for source in sources for table in source.tables))]
                facts.purposes[path] = (f"the consolidated set: {len(sources)} sources "
                                        f"({sum(s.status == 'archived' for s in sources)} archived), {assets:,} file assets")
                for number, _name in manifest(connection):
                    facts.shards.append((shard_path(path, number), number))
                    shard_files.add(resolved(shard_path(path, number)))
                for source in sources:
                    if source.status == "archived":
                        facts.archived.append((source.name, _archived_file(path, source.archived_path)))
                facts.skipped.extend((file, f"{status}: {why}") for file, status, why in skipped_files(connection, path))
        except (AssetdbError, sqlite3.DatabaseError):
            continue  # a shard, or a damaged file: the inventory line says so
    left_out = {resolved(path) for path, _why in facts.skipped}
    facts.active = [(path, report) for path, report in facts.active
                    if resolved(path) not in shard_files and resolved(path) not in left_out]
    legacy = [path for path, report in facts.active if not claims_assetdb(path)]
    facts.legacy_before = len(legacy) + len(facts.archived) + len(facts.skipped)
    return facts


def _archived_file(primary: Path, recorded: str | None) -> Path | None:
    """Where an archived source is now: a recorded path relative to the primary's folder
    (or, from older ledgers, absolute)."""
    if not recorded:
        return None
    return Path(recorded) if os.path.isabs(recorded) else primary.parent / recorded


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def cross_check(facts: ListFacts, database_list: DatabaseList, workspace: Path) -> list[str]:
    """Where the facts are wrong (a registered shard is missing) and where the hand-written
    prose and the facts disagree (the prose is asked nothing when it names nothing)."""
    findings = [f"`{database_list.relative(path)}` is shard {number} of the consolidated set but is missing "
                "(restore it from a backup: assetdb verify names what is lost without it)"
                for path, number in facts.shards if not path.is_file()]
    mentioned = database_list.mentioned()
    if not mentioned:
        return findings
    known = facts.known_files
    known_names = {path.name for path in known} | {name.rsplit("/", 1)[-1] for name, _ in facts.archived}
    for name in sorted(mentioned):
        candidates = [database_list.path.parent / name, workspace / name]
        if not any(resolved(candidate) in known or candidate.exists() for candidate in candidates) and (
            name.rsplit("/", 1)[-1] not in known_names
        ):
            findings.append(f"`{name}` is named in the list but exists nowhere in the database set")
    for path, _report in facts.active:
        if not database_list.prose_names(path):  # the block names every active file: the prose is asked
            findings.append(f"`{database_list.relative(path)}` is active but the hand-written list does not name it")
    return findings


def _section(title: str, columns: str, rule: str, rows: list[str], empty: str) -> list[str]:
    """``### title`` and a Markdown table of ``rows`` (or the ``empty`` sentence)."""
    return ["", f"### {title}", "", *([columns, rule, *rows] if rows else [empty])]


def _change(reduction: float, sharded: bool) -> str:
    """``75.0% fewer``, or ``200.0% more`` with why: the set is split into shards, or the
    legacy databases it replaces are still in place beside it."""
    if reduction >= 0:
        return f"{reduction:.1f}% fewer"
    why = "the set is split into shards" if sharded else \
        "the legacy databases are still in place until `assetdb consolidate --yes` archives them"
    return f"{-reduction:.1f}% more: {why}"


def render_block(facts: ListFacts, database_list: DatabaseList, limit: int, findings: list[str]) -> str:
    """The generated block, markers included; every path relative to the list file."""
    relative = database_list.relative
    active = [f"| `{relative(path)}` | {_cell(facts.purposes.get(path) or _purpose(report))} | "
              f"{format_size(report.bytes)} | {report.percent_of_limit:.1f}% | {report.total_rows:,} |"
              for path, report in facts.active]
    after = len(facts.active) + len(facts.shards) + len(facts.skipped)
    before = facts.legacy_before
    reduction = 100.0 * (before - after) / before if before else 0.0
    lines = [
        f"{BEGIN_MARKER}: written by `assetdb list` and `assetdb consolidate`; edit outside these markers -->",
        "## Databases (kept by assetdb)",
        "",
        f"Written {utc_now()}; cap {format_size(limit)}. Paths are relative to this file.",
        *_section("Active", "| database | purpose | size | % of cap | rows |", "| --- | --- | ---: | ---: | ---: |",
                  active, "None."),
        *_section("Shards", "| file | shard |", "| --- | ---: |",
                  [f"| `{relative(path)}` | {number} |" for path, number in facts.shards],
                  "None: the consolidated set fits in one file."),
        *_section("Archived", "| archived file | source |", "| --- | --- |",
                  [f"| `{relative(path) if path else name}` | {_cell(name)} |" for name, path in facts.archived],
                  "None."),
        *_section("Skipped", "| file | why |", "| --- | --- |",
                  [f"| `{relative(path)}` | {_cell(why)} |" for path, why in facts.skipped], "None."),
        "", "### Count", "", f"{before} databases before, {after} after ({_change(reduction, bool(facts.shards))}).", "",
    ]
    if findings:
        lines += ["### Cross-check", "", *[f"- {finding}" for finding in findings], ""]
    lines.append(END_MARKER)
    return "\n".join(lines) + "\n"


def _purpose(report: DatabaseReport) -> str:
    if report.problem:
        return f"{report.status}: {report.problem}"
    names = [table.name for table in report.tables]
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return f"tables: {shown}" if names else "no tables"


def updated_text(current: str, block: str) -> str:
    """``current`` with its generated block replaced (or, without one, appended after the
    prose); the text outside the block stays byte for byte, and a list written with CRLF
    line endings gets its block in them too."""
    newline = "\r\n" if "\r\n" in current else "\n"
    block = block.replace("\n", newline)
    begin, end = current.find(BEGIN_MARKER), current.find(END_MARKER)
    if begin >= 0 and end > begin:
        tail = current[end + len(END_MARKER):]
        return current[:begin] + block.removesuffix(newline) + tail
    if current.startswith(_OLD_GENERATED_START) or not current.strip():
        return block
    separator = "" if current.endswith(newline * 2) else (newline if current.endswith(newline) else newline * 2)
    return current + separator + block


@dataclass(frozen=True)
class ListRequest:
    """Which databases the list covers and where it lives (``list_file``, else found)."""

    folders: tuple[Path, ...]
    limit: int
    workspace: Path | None = None
    list_file: Path | None = None
    exclusions: Exclusions = Exclusions()
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT  # for another writer of a set it records the list in

    @property
    def root(self) -> Path:
        return self.workspace or find_workspace(self.folders[0])

    def path(self) -> Path:
        return find_list(self.root, self.folders[0], self.list_file)


@dataclass(frozen=True)
class ListResult:
    path: Path
    text: str  # the whole list as it is (written) or would be
    findings: list[str]
    created: bool


def require_list_folder(list_path: Path) -> None:
    """The database list is a text file written into a folder that exists: a missing folder,
    or a database given as the list (written into, it would take the list after its pages),
    is refused before any write."""
    if not list_path.parent.is_dir():
        raise BadInput(f"{list_path.parent}: no such folder for the database list")
    if is_database_path(list_path) or has_sqlite_header(list_path):
        raise BadInput(f"{list_path}: is a database, not a database list (a Markdown file, "
                       f"{LIST_FILENAME} by default); nothing was written")


def keep_list(request: ListRequest, write: bool = True) -> ListResult:
    """The list with its generated block up to date; with ``write``, written in place
    (atomically, its own text untouched) and recorded by each consolidated set it lists."""
    for folder in request.folders:
        if not folder.is_dir():
            raise BadInput(f"{folder}: no such folder")
    list_path = request.path()
    require_list_folder(list_path)
    existing = read_list(list_path)
    facts = gather_facts(list(request.folders), request.limit, request.exclusions)
    findings = cross_check(facts, existing, request.root)
    current = list_path.read_bytes().decode("utf-8") if list_path.is_file() else ""  # read_list judged it
    text = updated_text(current, render_block(facts, existing, request.limit, findings))
    created = not list_path.exists()
    still_true = not created and _WRITTEN_AT.sub("", text) == _WRITTEN_AT.sub("", current)
    if write:
        with ExitStack() as held:
            # each set records the list it is in: one held by another writer, or missing a
            # shard, refuses before the list is written
            for primary in facts.primaries:
                held.enter_context(database_lock(primary, request.lock_timeout))
                for path, number in facts.shards:
                    if path == shard_path(primary, number):
                        existing_shard(primary, number)
            if not still_true:
                sweep_folder(list_path.parent)  # what a killed write of the list left beside it
                _replace(list_path, text)
            for primary in facts.primaries:  # a run killed between the two has the list but not the record
                if still_true and _records_list(primary, list_path):
                    continue
                with write_session(primary, request.limit, "recording the database list") as session:
                    record_database_list(session.connection, primary, list_path)
    return ListResult(list_path, current if still_true else text, findings, created)


def _records_list(primary: Path, list_path: Path) -> bool:
    """Does the set ``primary`` record ``list_path`` as its database list already?"""
    with open_readonly(primary) as connection:
        recorded = database_list_path(connection, primary)
    return recorded is not None and resolved(recorded) == resolved(list_path)


#: When the block was written: all a rewrite of a list that is still true would change.
_WRITTEN_AT = re.compile(r"^Written \S+; ", re.MULTILINE)


def _replace(list_path: Path, text: str) -> None:
    temporary = temporary_beside(list_path, "list")
    try:
        temporary.write_bytes(text.encode("utf-8"))
        if list_path.exists():
            os.chmod(temporary, stat.S_IMODE(list_path.stat().st_mode))
        os.replace(temporary, list_path)
    except OSError as error:
        raise BadInput(f"{list_path}: cannot write the database list ({error.strerror})") from None
    finally:
        temporary.unlink(missing_ok=True)
