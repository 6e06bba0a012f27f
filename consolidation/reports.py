"""How results read as text: aligned tables and one function per report.

The command line, the demo and the gate's summary print through these, so a report reads
the same wherever it is shown.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only: printing a report never needs the code that made it
    from .inventory import Inventory
    from .merge import MigrationReport
from .size import format_size
from .sqlite.classify import UNUSABLE, classify, is_database_path, sidecar_of
from .store.archive_manifest import in_archive
from .store.identity import claims_assetdb


def text_table(headers: tuple[str, ...], rows: list[tuple[str, ...]], numeric: set[int]) -> list[str]:
    """Aligned text columns: numbers right, text left, a rule under the header."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = []
    for row in (headers, *rows):
        cells = [
            cell.rjust(width) if index in numeric else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def render_inventory(inventory: Inventory) -> str:
    headers = ("database", "size", "% cap", "status", "tables", "rows", "journal", "listed")
    rows = []
    for report in inventory.databases:
        listed = "-" if report.listed is None else ("yes" if report.listed else "NO")
        rows.append(
            (
                report.path,
                format_size(report.bytes),
                f"{report.percent_of_limit:.1f}%",
                report.status,
                str(len(report.tables)),
                f"{report.total_rows:,}",
                report.journal_mode or "-",
                listed,
            )
        )
    lines = text_table(headers, rows, numeric={1, 2, 4, 5})
    total = sum(report.bytes for report in inventory.databases)
    counts = {}
    for report in inventory.databases:
        counts[report.status] = counts.get(report.status, 0) + 1
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    lines.append(
        f"{len(inventory.databases)} databases, {format_size(total)} in all, "
        f"cap {format_size(inventory.limit)}: {summary}"
    )
    lines.extend(f"  {report.path}: {report.problem}" for report in inventory.databases
                 if report.problem and report.status != "empty")
    if inventory.list_file is None:
        lines.append("no database list found (CONSOLIDATED_DATABASE_LIST.md): 'listed' is unknown")
    unusable = inventory.unusable
    if unusable:
        lines.append(f"{len(unusable)} unusable: consolidating them needs --skip-unusable (recorded with why) "
                     "or --exclude GLOB" + ("; for Git LFS pointers, run `git lfs pull` first"
                                             if any(r.status == "lfs-pointer" for r in unusable) else ""))
    return "\n".join(lines)


def render_migration(report: MigrationReport) -> str:
    headers = ("source", "action", "tables", "read", "stored", "folded", "conflicts", "shards")
    rows = [
        (
            outcome.name,
            outcome.action,
            str(len(outcome.tables)),
            *(f"{outcome.total(attribute):,}" for attribute in ("rows_read", "rows_stored", "duplicates_folded", "conflicts_kept")),
            str(outcome.shards) if outcome.action != "unchanged" else "-",
        )
        for outcome in report.sources
    ]
    lines = text_table(headers, rows, numeric={2, 3, 4, 5, 6, 7})
    for outcome in report.sources:
        lines.extend(f"  {outcome.name}: {note}" for note in outcome.notes)
    lines.extend(f"left out: {path} ({status}: {reason})" for path, status, reason in report.left_out)
    if report.backup:
        lines.append(f"target backed up first: {report.backup}")
    return "\n".join(lines)


def render_summary(summary, archived: bool) -> str:
    sizes = ", ".join(f"{name} {format_size(size)}" for name, size in summary.sizes.items())
    databases = (f"databases {summary.databases_before} -> {summary.databases_after}" if archived else
                 f"{summary.consolidated} databases consolidated "
                 "(still in place until --yes archives them)")
    left_out = f", {len(summary.left_out)} left out" if summary.left_out else ""
    return (f"done in {summary.seconds:.1f} s: {databases}{left_out}, {summary.rows:,} rows, "
            f"{summary.conflicts} conflicts kept, {summary.assets} assets, {summary.shards} shard(s): {sizes}")


def render_size_check(findings, limit: int) -> str:
    """One line per database and per failing file (a hook hands over every staged file:
    the ones that are neither are counted, not listed), then the verdict when all pass."""
    lines = [f"{finding.status:5}  {format_size(finding.bytes):>9}  {100 * finding.bytes / limit:6.1f}%  {finding.path}"
             + (f"  ({finding.note})" if finding.note else "")
             for finding in findings if finding.database or finding.failed]
    if not any(finding.failed for finding in findings):
        lines.append(f"all {len(findings)} files under the cap of {format_size(limit)}")
    return "\n".join(lines)


def size_check_refusal(findings, limit: int, policy) -> str | None:
    """The one line a failed size check ends with (None when it passed): how many files fail
    against what, and each one's problem. Over the cap alone keeps its short form."""
    failed = [finding for finding in findings if finding.failed]
    if not failed:
        return None
    if all(finding.over for finding in failed):
        return (f"{len(failed)} of {len(findings)} files over the cap of {format_size(limit)}: "
                + ", ".join(str(finding.path) for finding in failed))
    near = f", near from {format_size(policy.warn_at)}" if policy.warn_at else ""
    folders = (f", SQLite files in {', '.join(map(os.path.relpath, policy.database_folders))}"
               if policy.database_folders else "")
    return (f"{len(failed)} of {len(findings)} files fail the size check (cap {format_size(limit)}{near}{folders}): "
            + "; ".join(finding.problem() for finding in failed))


def render_verify(proof, workspace, shown: int = 20) -> str:
    """Each failure on a ``FAIL`` line (the first ``shown``), or the one line that says what was proved."""
    failures = proof.failures
    if failures:
        lines = [f"FAIL  {failure}" for failure in failures[:shown]]
        if len(failures) > shown:
            lines.append(f"FAIL  … and {len(failures) - shown} more")
        return "\n".join(lines)
    verdicts = proof.rows.verdicts
    live = sum(verdict.mode == "live" for verdict in verdicts)
    rows = sum(verdict.rows for verdict in verdicts)
    return (f"ok: {len(verdicts)} source tables, {rows:,} rows accounted for ({live} compared live, "
            f"{len(verdicts) - live} against the ledger); {proof.assets.checked} assets regenerate to their SHA-256"
            + (f", and match {workspace}" if workspace else "")
            + "".join(f"\nleft out of the set, as it records: {left}" for left in proof.rows.left_out))


def render_conflicts(found) -> str:
    lines = []
    for conflict in found:
        key = ", ".join(json.dumps(part) for part in conflict.key)
        lines.append(f"{conflict.table} [{key}]: shown from {conflict.shown_source}, kept from {conflict.kept_source} "
                     f"({conflict.kept_table} row {conflict.kept_rowid}, policy {conflict.policy})")
        lines.extend(f"    {column}: {shown!r} | {kept!r}" for column, shown, kept in conflict.differences)
    lines.append(f"{len(found)} conflicts")
    return "\n".join(lines)


def outside_note(outside: list[str], set_folder: str | None = None, root: Path | None = None,
                 database: str | None = None, leaves_files_out: bool = False) -> str:
    """What ingest or sync left out as the database world, and the way on for each:
    'skipped N SQLite databases outside the consolidated set: …; consolidate them with …'.
    The command names the set's own folder first (so the set it adds them to is this one,
    not a second one made in the first folder named), every folder quoted for a shell;
    a database's -wal/-shm/-journal is its own, not another database. With the workspace
    ``root``, a file named as a database that SQLite cannot use (text, an LFS pointer) is
    said to be that, and a SQLite file under another name (which consolidate, looking for
    database names, never finds) gets ``assetdb migrate … --into DATABASE``. Empty when
    there is nothing to say (a journal whose database is gone)."""
    databases, unusable, unnamed, damaged, copies = [], [], [], [], []
    for name in outside:
        if sidecar_of(name) is not None:
            continue
        if root is not None and ((root / name).is_file() and claims_assetdb(root / name) or in_archive(root, name)):
            copies.append(name)  # a consolidated set's file, a copy of one, or its archive: never a legacy source
        elif not is_database_path(name):
            (damaged if root is not None and classify(root / name).status in UNUSABLE else unnamed).append(name)
        elif root is not None and classify(root / name).status in UNUSABLE:
            unusable.append(name)
        else:
            databases.append(name)
    def from_here(name: str) -> str:  # a name in the workspace, as a path from where the command was run
        return shlex.quote(str(root / name) if root is not None else name)

    notes = []
    if databases:
        folders = sorted({str(Path(name).parent) for name in databases} - {set_folder})
        folders = ([set_folder] if set_folder else []) + folders
        named = " ".join(map(from_here, folders[:5])) + (" …" if len(folders) > 5 else "")
        # files the pasted command would meet and SQLite cannot use (those the set left out,
        # ``leaves_files_out``, and those named as databases here) are left out again
        again = " --skip-unusable" if unusable or leaves_files_out else ""
        notes.append(f"skipped {len(databases)} SQLite databases outside the consolidated set: {_few(databases)}; "
                     f"consolidate them with `assetdb consolidate {named}{again}`")
    if unnamed:
        into = shlex.quote(database) if database else "DATABASE"
        notes.append(f"skipped {len(unnamed)} SQLite databases under other names: {_few(unnamed)}; migrate them with "
                     f"`assetdb migrate {' '.join(map(from_here, unnamed[:5]))} --into {into}`")
    if unusable:
        notes.append(f"skipped {len(unusable)} files named as databases that SQLite cannot use: {_few(unusable)} "
                     "(never stored; see assetdb inventory)")
    if damaged:
        notes.append(f"skipped {len(damaged)} damaged SQLite databases under other names: {_few(damaged)} "
                     "(never stored; see assetdb inventory)")
    if copies:
        notes.append(f"skipped {len(copies)} files of another consolidated set or copies of one: {_few(copies)} "
                     "(never stored, never a legacy source)")
    return "; ".join(notes)


def _few(names: list[str]) -> str:
    return ", ".join(names[:5]) + (", …" if len(names) > 5 else "")


def render_notes(report) -> str:
    """What an ingest or sync left aside, for standard error."""
    lines = [f"skipped: {note}" for note in report.skipped]
    if report.databases_outside:
        set_folder = os.path.relpath(Path(report.database).parent, report.workspace)
        note = outside_note(report.databases_outside, set_folder, Path(report.workspace), report.database,
                            report.set_leaves_files_out)
        lines += [note] if note else []
    return "\n".join(lines)


def render_ingest(report) -> str:
    if not report.changed_anything:
        return f"unchanged: {report.unchanged} assets already stored; nothing was written"
    return (f"{len(report.added)} added, {len(report.changed)} changed (new version), {len(report.touched)} with new "
            f"mode or mtime, {report.unchanged} unchanged ({format_size(report.bytes_read)} read)")


def render_push(report) -> str:
    # a rename is a file added and one deleted with the same bytes: counted in both, named once
    renamed = f" ({len(report.renamed)} of them renamed: added under the new path)" if report.renamed else ""
    return (f"synced: {len(report.added)} added, {len(report.changed)} changed, {len(report.deleted)} deleted"
            f"{renamed}, {len(report.touched)} touched, {report.unchanged} unchanged")


def render_dedupe(report, dry_run: bool) -> str:
    lines = [f"duplicate  #{rowid} {path} (same content as #{canonical})" for rowid, path, canonical in report.duplicates]
    lines += [f"backup     #{rowid} {path}" for rowid, path in report.backups]
    summary = (f"{report.table}: {report.rows} entries, {len(report.duplicates)} duplicates, "
               f"{len(report.backups)} backup entries")
    if dry_run:
        lines.append(f"{summary}; dry run: nothing was written")
    else:
        lines.append(f"{summary}; {len(report.removed)} removed in {report.written}")
        if report.backup:
            lines.append(f"original backed up first: {report.backup}")
    return "\n".join(lines)


def render_assets(listing) -> str:
    rows = [(asset.kind, asset.path, str(asset.version), format_size(asset.size), asset.sha256[:12],
             "-" if asset.usage_count is None else str(asset.usage_count), asset.last_used or "-") for asset in listing]
    lines = text_table(("kind", "path", "version", "size", "sha256", "used", "last used"), rows, {2, 3, 5}) if rows else []
    return "\n".join([*lines, f"{len(listing)} assets"])


def render_log(rows: list[dict], as_json: bool) -> str:
    if as_json:
        return json.dumps([{**row, "counts": json.loads(row["counts"]), "details": json.loads(row["details"])}
                           for row in rows], indent=2)
    table = [(str(row["id"]), row["started_at"], row["operation"], row["status"], str(row["subject"] or ""),
              ", ".join(f"{k} {v}" for k, v in json.loads(row["counts"]).items())) for row in rows]
    lines = text_table(("id", "started", "operation", "status", "subject", "counts"), table, {0}) if table else []
    return "\n".join([*lines, f"{len(rows)} operations"])
