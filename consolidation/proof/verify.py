"""Prove, independently of the writer's counters, that every source row is accounted for.

For each migrated source table, the rows reconstructed from the consolidated set
(following ``migration_row_links``) are compared with the source:

* **live**, when the source file is given: joins inside SQLite prove that every source
  row reaches a consolidated row equal in value and storage class, and that the source's
  rows, the links and the rows reached are as many (:mod:`.rowproof`); on any
  difference, each changed, missing or extra row is named by its rowid;
* **ledger**, otherwise (the source is archived): the reconstructed rows must have the
  fingerprint recorded before migration.

The size of the consolidated file is checked against the cap as well.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import BadInput
from ..size import database_size, format_size, sidecar_paths
from ..sqlite import describe_source, readonly_uri
from ..sqlite.classify import classify
from ..sqlite.describe import describe_table, source_fingerprint, table_kinds
from ..sqlite.fingerprint import file_sha256, fingerprint_format, rows_fingerprint
from ..sqlite.locks import interrupted_journal
from ..store import read_consolidated, shard_path
from ..store.identity import claims_assetdb
from ..store.set_files import recorded_source, skipped_files
from ..store.shard_files import in_the_set
from .ledger import LedgerSource, LedgerTable, find_source, read_sources
from .rowproof import SHOWN_DIFFERENCES, LiveProof

LIVE = "live"


@dataclass
class TableVerdict:
    source: str
    table: str
    mode: str  # "live" or "ledger"
    rows: int
    problem: str | None = None
    #: Compared live, it differs, and the source file is not the one migrated: the source
    #: moved on (``migrate`` takes the change in), the set did not lose rows.
    source_moved_on: bool = False
    #: Rows the set holds that the live source no longer has: taken in, they leave the set.
    rows_gone: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def check_id(self) -> str:
        return f"{self.source}:{self.table}"


@dataclass
class VerifyReport:
    database: str
    verdicts: list[TableVerdict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # files given that the set left out, with why

    @property
    def ok(self) -> bool:
        return not self.problems and all(verdict.ok for verdict in self.verdicts)

    def failures(self) -> list[str]:
        return self.problems + [f"{v.check_id}: {v.problem}" for v in self.verdicts if not v.ok]


def compare_live(
    connection: sqlite3.Connection, shards: dict[int, str], source: LedgerSource, table: LedgerTable,
    called: str | None = None,
) -> TableVerdict:
    """A live source table against the consolidated rows its links reach, as joins in SQL.
    ``called`` names the file attached as the source when that file is the one under proof
    (a rebuilt file), so that what is found is said of it; by default the consolidated set
    is under proof, against the source."""
    verdict = TableVerdict(source.name, table.source_table, LIVE, 0)
    exists = connection.execute(
        f"SELECT 1 FROM {LIVE}.sqlite_schema WHERE type = 'table' AND name = ?", (table.source_table,)
    ).fetchone()
    if not exists:
        verdict.problem = f"table no longer exists in {called or 'the source'}"
        return verdict
    live = describe_table(connection, LIVE, table.source_table)
    if live.column_names != table.columns:
        verdict.problem = f"columns changed since migration ({', '.join(live.column_names)}); run: assetdb migrate"
        return verdict
    proof = LiveProof(connection, shards, table, live, LIVE)
    source_rows, links, matched = proof.counts()
    verdict.rows = source_rows
    if source_rows == links == matched:
        return verdict
    found = proof.differences()
    identity = "rowid" if table.row_identity == "rowid" else "row"
    said = (  # (rows of the file reaching no equal row, reaching none, consolidated rows it lacks)
        ("differs in the consolidated set", "missing from the consolidated set",
         "in the consolidated set but not in the source") if called is None else
        (f"differs in {called}", f"in {called} but not in the consolidated set", f"missing from {called}")
    )
    problems = [
        f"{_listing(identities, identity)} {what}"
        for identities, what in zip((found.changed, found.missing, found.extra), said)
        if identities
    ]
    if not problems:
        problems.append(f"{source_rows} rows in {called or 'the source'}, {links} provenance links, "
                        f"{matched} rows reached")
    verdict.problem = "; ".join(problems)
    verdict.rows_gone = bool(found.extra)
    return verdict


def _listing(identities: list[int], word: str) -> str:
    shown = ", ".join(str(i) for i in identities[:SHOWN_DIFFERENCES])
    more = " and more" if len(identities) > SHOWN_DIFFERENCES else ""
    return f"{word} {shown}{more}"


def compare_ledger(
    connection: sqlite3.Connection, shards: dict[int, str], source: LedgerSource, table: LedgerTable
) -> TableVerdict:
    """Reconstructed rows must carry the fingerprint taken from the source before migration."""
    places = table.places(connection, shards)  # so that large blobs are read in pieces
    select = table.reconstruct(connection, "main", shards, locate=places is not None)
    fingerprint = rows_fingerprint(connection, select, 1 + len(table.columns), in_order=True, stored=places,
                                   form=fingerprint_format(table.fingerprint))
    verdict = TableVerdict(source.name, table.source_table, "ledger", int(fingerprint.split(":")[0]))
    if fingerprint != table.fingerprint:
        verdict.problem = (
            f"reconstructed rows do not match the fingerprint taken at migration "
            f"({fingerprint.split(':')[0]} rows now, {table.fingerprint.split(':')[0]} then)"
        )
    return verdict


def locate_live_source(database: Path, source: LedgerSource) -> Path | None:
    """The source file, if it is still where it was migrated from or beside ``database``
    and SQLite can read it as one: a Git LFS pointer never fetched, or a file cut short, in
    its place says nothing about the set, which is then proved against the ledger. An
    archived source has none: a file at the path it was migrated from is another database
    made there since (its archived copy is proved by the archive's own check)."""
    if source.archived_path:
        return None
    for candidate in (recorded_source(Path(database), source.original_path), Path(database).parent / source.name):
        if candidate.is_file() and classify(candidate).usable:
            return candidate
    return None


def verify_table(
    connection: sqlite3.Connection,
    shards: dict[int, str],
    source: LedgerSource,
    table: LedgerTable,
    live: Path | None,
) -> TableVerdict:
    """One source table: live against ``live`` when given, else against the ledger."""
    if live is None:
        return compare_ledger(connection, shards, source, table)
    with readonly_uri(live, allow_empty=True, attach=True) as uri:
        connection.execute(f"ATTACH DATABASE ? AS {LIVE}", (uri,))
        try:
            return said_where_the_change_is(connection, source, live, [compare_live(connection, shards, source, table)])[0]
        finally:
            connection.execute(f"DETACH DATABASE {LIVE}")


def moved_on(connection: sqlite3.Connection, source: LedgerSource, live: Path) -> bool:
    """Are ``live``'s bytes (its -wal too) other than those the ledger recorded when the
    source was migrated?"""
    recorded = connection.execute("SELECT file_sha256 FROM main.migration_sources WHERE id = ?",
                                  (source.source_id,)).fetchone()
    return bool(recorded and recorded[0]) and recorded[0] != file_sha256(live, *sidecar_paths(live))


def said_where_the_change_is(connection: sqlite3.Connection, source: LedgerSource, live: Path,
                             verdicts: list[TableVerdict]) -> list[TableVerdict]:
    """Live comparisons that failed, told apart: when the live file is not the bytes the
    ledger recorded at migration, the source moved on since, and the verdict says how to
    take the change in, instead of leaving the set suspected of losing rows."""
    if all(verdict.ok for verdict in verdicts) or not moved_on(connection, source, live):
        return verdicts
    return [verdict if verdict.ok else replace(
        verdict, source_moved_on=True,
        problem=f"{verdict.problem}; {live} changed since it was migrated: take the change in with "
                f"assetdb migrate {live} --into the set (or assetdb consolidate)"
                + (ROWS_GONE_CAUTION if verdict.rows_gone else "")) for verdict in verdicts]


#: Taking in a source that lost rows takes them out of the set too: said before anyone does.
ROWS_GONE_CAUTION = (" — the rows it no longer has then leave the set too: if they went missing rather than "
                     "being deleted (a -wal never committed, an older copy restored), restore the file instead")


def match_sources(database: Path, ledger: list[LedgerSource],
                  given: Iterable[Path]) -> tuple[dict[int, Path], list[str]]:
    """Ledger source id -> live file, by where it was migrated from, else by unique file name."""
    matched, problems = {}, []
    for path in given:
        resolved = os.path.realpath(path)  # (realpath: a link in a loop is compared, not followed forever)
        candidates = [s for s in ledger if os.path.realpath(recorded_source(database, s.original_path)) == resolved] or [
            s for s in ledger if s.name.rsplit("/", 1)[-1] == path.name
        ]
        if len(candidates) != 1:
            problems.append(f"{path}: not a migrated source of this database (run: assetdb migrate {path} --into …)")
            continue
        archived = candidates[0].archived_path and recorded_source(database, candidates[0].archived_path)
        if archived and os.path.realpath(archived) != resolved:
            problems.append(f"{path}: the set's {candidates[0].name} is archived, at {archived}; this is another file "
                            f"under its name (compare the archived copy: --sources {archived})")
            continue
        matched[candidates[0].source_id] = path
    return matched, problems


def _sources_to_compare(connection: sqlite3.Connection, database: Path, sources: Iterable[Path],
                        report: VerifyReport) -> list[Path]:
    """The files to compare live: each given one, but the set's own files (named with the
    sources, as ``databases/*.db`` does) and those the set records as left out (named in
    the report); anything else that cannot be a source is bad input."""
    left_out = {os.path.abspath(path): f"{status}: {reason}"  # as recorded: a link not followed (a loop may be one)
                for path, status, reason in skipped_files(connection, database)}
    given = []
    for path in sources:
        if os.path.abspath(path) in left_out:
            report.left_out.append(f"{path} ({left_out[os.path.abspath(path)]})")
            continue
        if not path.is_file():
            raise BadInput(f"{path}: no such source database")
        judged = classify(path)
        if not judged.usable:
            raise BadInput(f"{path}: {judged.reason}; it cannot be a source")
        if claims_assetdb(path):
            if in_the_set(path, database):
                continue
            raise BadInput(f"{path}: is a file of another consolidated set, never a legacy source")
        given.append(path)
    return given


def verify_database(
    database: Path | str, sources: Iterable[Path | str] = (), limit: int | None = None, track=lambda items: items
) -> VerifyReport:
    database = Path(database)
    report = VerifyReport(str(database))
    with read_consolidated(database) as (connection, shards):
        given = _sources_to_compare(connection, database, map(Path, sources), report)
        ledger = read_sources(connection)
        matched, report.problems = match_sources(database, ledger, given)
        for source in track(ledger):
            live = matched.get(source.source_id)
            if live is None:  # a source in place that moved on since is compared live, as the gate does
                in_place = locate_live_source(database, source)
                live = in_place if in_place is not None and moved_on(connection, source, in_place) else None
            if live is None:
                report.verdicts.extend(compare_ledger(connection, shards, source, table) for table in source.tables)
                continue
            with readonly_uri(live, allow_empty=True, attach=True) as uri:
                connection.execute(f"ATTACH DATABASE ? AS {LIVE}", (uri,))
                try:
                    report.verdicts.extend(said_where_the_change_is(
                        connection, source, live, [compare_live(connection, shards, source, table)
                                                   for table in source.tables]))
                    report.problems.extend(_untracked_tables(connection, source, uri))
                finally:
                    connection.execute(f"DETACH DATABASE {LIVE}")
        files = [database] + [shard_path(database, number) for number in shards if number > 1]
    if limit is not None:
        for path in files:
            if database_size(path) > limit:
                left = interrupted_journal(path)
                report.problems.append(
                    f"{path}: {format_size(database_size(path))} is over the cap of {format_size(limit)}"
                    + (f", with the {left.name} of a write cut short: rerun the command that was writing, which "
                       "rolls it back" if left is not None else "")
                )
    return report


def verify_rebuilt(database: Path | str, name: str, rebuilt: Path) -> list[str]:
    """What is wrong with ``rebuilt``, a file rebuilt from the set for source ``name``
    (nothing, when it is the source as migrated): its schema objects and SQLite's own rows
    must give the fingerprint taken from the source at migration, and each table's rows,
    joined inside SQLite, equal the rows the ledger's links reach, byte for byte and storage
    class, as many as were read. Those rows are the source's by the proof of each source
    table (the gate checks it first)."""
    with read_consolidated(Path(database)) as (connection, shards):
        source = find_source(read_sources(connection), name)
        with readonly_uri(rebuilt, allow_empty=True, attach=True) as uri:
            connection.execute(f"ATTACH DATABASE ? AS {LIVE}", (uri,))
            try:
                problems = []
                # the source's fingerprint, from the rebuilt schema and SQLite's own rows and the
                # recorded fingerprint of each table (whose rows the joins below prove)
                recorded = {table.source_table: table.fingerprint for table in source.tables}
                if source_fingerprint(describe_source(connection, LIVE, uri), recorded) != source.fingerprint:
                    problems.append("its schema objects or SQLite's own rows are not the source's as migrated")
                problems += [
                    f"{verdict.table}: {verdict.problem}"
                    for verdict in (compare_live(connection, shards, source, table, "the rebuilt file")
                                    for table in source.tables)
                    if not verdict.ok
                ]
                problems += [f"{name}: a table the source did not have" for name in _tables_not_migrated(connection, source, uri)]
            finally:
                connection.execute(f"DETACH DATABASE {LIVE}")
    return problems


def _untracked_tables(connection: sqlite3.Connection, source: LedgerSource, uri: str) -> list[str]:
    """Tables of the live source that its migration did not bring in."""
    return [
        f"{source.name}:{name}: table added to the source after migration; run: assetdb migrate"
        for name in _tables_not_migrated(connection, source, uri)
    ]


def _tables_not_migrated(connection: sqlite3.Connection, source: LedgerSource, uri: str) -> list[str]:
    """Tables of the file attached as ``live`` (by ``uri``) that the ledger does not know for ``source``."""
    migrated = {table.source_table for table in source.tables}
    return [name for name, kind in table_kinds(connection, LIVE, uri).items() if kind == "table" and name not in migrated]
