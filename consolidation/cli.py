"""The ``assetdb`` command line: parses, calls the library, prints.

Every error a user can cause surfaces as one line on stderr and the exit code of
the tool (0 ok, 1 check failed, 2 bad usage or input, 3 aborted and rolled back).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from tqdm import tqdm

from . import __version__
from .archive import archive_sources
from .assets import list_assets, parse_assignments, read_log, sync_lock
from .assets.ingest import ingest as ingest_workspace
from .assets.regenerate import regenerate as regenerate_assets
from .assets.sync import pull as pull_workspace
from .assets.sync import push as push_workspace
from .assets.templates import render as render_template
from .compliance import check_sizes, log_size_check
from .config import load_settings, resolve_exclusions, resolve_size_limit
from .consolidate import Request, outside_note
from .consolidate import consolidate as run_consolidation
from .consolidate import plan as consolidation_plan
from .database_list import ListRequest, keep_list
from .demo import run_demo
from .docs_cleanup import dedupe_docs
from .errors import AssetdbError, BadInput, CheckFailed
from .hookspecs import plugin_manager
from .inventory import take_inventory
from .merge import ConflictPolicy, MigrationSettings, conflict_resolver
from .merge.engine import migrate as run_migration
from .proof import check_reproducible, list_conflicts, rebuild_source, verify_database
from .reports import render_inventory, render_migration, render_summary, text_table
from .size import format_size, parse_size
from .sqlite import backup_database, restore_database
from .store import ASSET_TABLES, SCHEMA_VERSION, initialize

EXISTING_PATH = click.Path(exists=False, path_type=Path)
SHOWN_FAILURES = 20


class SizeParam(click.ParamType):
    """``99.9MB``, ``95MiB``, ``1.5GB`` or bytes, validated when parsed."""

    name = "SIZE"

    def convert(self, value, param, ctx):
        try:
            parse_size(value)
        except BadInput as error:
            self.fail(str(error), param, ctx)
        return value


limit_option = click.option(
    "--limit",
    type=SizeParam(),
    default=None,
    help="Size cap (99.9MB, 95MiB, 1.5GB or bytes). Default: [tool.assetdb] size_limit, else 99.9MB.",
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
exclude_option = click.option(
    "--exclude", "exclude", multiple=True, metavar="GLOB",
    help="Leave out files matching GLOB (repeatable; also [tool.assetdb] exclude).",
)
skip_unusable_option = click.option(
    "--skip-unusable", is_flag=True,
    help="Go on without unusable files (LFS pointers, damaged, locked…); each is recorded with why.",
)


def progress(quiet: bool, description: str, unit: str):
    """A tqdm wrapper for library loops: shown on a terminal, silent otherwise."""

    def track(items):
        items = list(items)
        return tqdm(
            items,
            desc=description,
            unit=unit,
            disable=quiet or not sys.stderr.isatty(),
            leave=False,
            file=sys.stderr,
        )

    return track


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assetdb")
def cli() -> None:
    """Consolidate SQLite databases into enterprise_assets.db, losslessly and under the cap."""


# -- inventory --------------------------------------------------------------------------


list_option = click.option(
    "--list", "list_file", type=EXISTING_PATH,
    help="The database list to read and keep. Default: [tool.assetdb] database_list, else the one "
    "CONSOLIDATED_DATABASE_LIST.md in the workspace, else a new one in the (first) folder.",
)


@cli.command()
@click.argument("directories", metavar="DIR...", nargs=-1, required=True, type=EXISTING_PATH)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@limit_option
@exclude_option
@list_option
@quiet_option
def inventory(directories, as_json: bool, limit: str | None, exclude, list_file, quiet: bool) -> None:
    """List every database under each DIR: size, % of cap, status, tables, rows, journal mode."""
    cap = resolve_size_limit(limit)
    result = take_inventory(list(directories), cap, progress(quiet, "inventory", "db"), resolve_exclusions(exclude),
                            list_file or load_settings().database_list)
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else render_inventory(result))


# -- size-check -------------------------------------------------------------------------


@cli.command("size-check")
@click.argument("paths", nargs=-1, required=True, type=EXISTING_PATH)
@limit_option
@click.option("--log", "log_database", type=EXISTING_PATH, help="Record the check in this assetdb database's log.")
@quiet_option
def size_check(paths: tuple[Path, ...], limit: str | None, log_database: Path | None, quiet: bool) -> None:
    """Exit 1 when any database under PATHS is over the cap (sidecars counted)."""
    cap = resolve_size_limit(limit)
    findings = check_sizes(list(paths), cap, progress(quiet, "size-check", "db"))
    for finding in findings:
        verdict = "OVER" if finding.over else "ok"
        click.echo(
            f"{verdict:4}  {format_size(finding.bytes):>9}  "
            f"{100 * finding.bytes / cap:6.1f}%  {finding.path}"
        )
    if log_database is not None:
        log_size_check(log_database, findings, cap)
    over = [finding for finding in findings if finding.over]
    if over:
        raise CheckFailed(
            f"{len(over)} of {len(findings)} files over the cap of {format_size(cap)}: "
            + ", ".join(str(finding.path) for finding in over)
        )
    click.echo(f"all {len(findings)} files under the cap of {format_size(cap)}")


# -- init -------------------------------------------------------------------------------


@cli.command()
@click.argument("database", type=EXISTING_PATH)
@limit_option
def init(database: Path, limit: str | None) -> None:
    """Create the unified schema in DATABASE (idempotent)."""
    result = initialize(database, resolve_size_limit(limit))
    if result.action == "unchanged":
        click.echo(f"{database}: already at schema v{SCHEMA_VERSION}; nothing changed")
    else:
        click.echo(f"{database}: {result.action} schema v{SCHEMA_VERSION} ({format_size(result.size)})")


# -- backup and restore ----------------------------------------------------------------


@cli.command()
@click.argument("database", type=EXISTING_PATH)
@click.option("--to", "directory", required=True, type=EXISTING_PATH, help="Backup directory, outside the workspace.")
@click.option("--workspace", type=EXISTING_PATH, help="The workspace to stay out of. Default: the Git work tree of DATABASE, else its folder.")
def backup(database: Path, directory: Path, workspace: Path | None) -> None:
    """Copy DATABASE with the online backup API, verified, to a timestamped file."""
    record = backup_database(database, directory, workspace)
    click.echo(f"backed up {database} -> {record.backup} ({format_size(record.bytes)}, verified)")


@cli.command()
@click.argument("backup_file", metavar="BACKUP", type=EXISTING_PATH)
@click.option("--to", "target", required=True, type=EXISTING_PATH, help="Database to restore into.")
@click.option("--safety-dir", type=EXISTING_PATH, help="Where to back up the current target first. Default: BACKUP's folder.")
def restore(backup_file: Path, target: Path, safety_dir: Path | None) -> None:
    """Restore BACKUP into a database, after proving the backup; the old target is kept."""
    safety = restore_database(backup_file, target, safety_dir)
    if safety is not None:
        click.echo(f"previous {target} saved as {safety.backup}")
    click.echo(f"restored {backup_file} -> {target} (verified)")


# -- migrate, verify, rebuild-source, conflicts -------------------------------------------


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=EXISTING_PATH)
@click.option("--into", "target", required=True, type=EXISTING_PATH, help="The consolidated database (created if missing).")
@limit_option
@click.option("--backup-dir", type=EXISTING_PATH, help="Where the existing target is backed up first (outside the workspace). Default: $ASSETDB_BACKUP_DIR, else ~/.local/state/assetdb/backups.")
@click.option("--prefer", default="first", show_default=True, help="Which version of a conflicting key the merged table shows: first, newest, or source:NAME.")
@click.option("--no-partition", is_flag=True, help="Abort (exit 3, rolled back) instead of continuing in numbered shards at the cap.")
@click.option("--dry-run", is_flag=True, help="Rehearse on a private copy and report; write nothing.")
@skip_unusable_option
@exclude_option
@quiet_option
def migrate(sources, target, limit, backup_dir, prefer, no_partition, dry_run, skip_unusable, exclude, quiet) -> None:
    """Merge SOURCES into the consolidated database, losslessly, one transaction per source."""
    settings = MigrationSettings(
        resolve_size_limit(limit), ConflictPolicy.parse(prefer), conflict_resolver(), partition=not no_partition
    )
    report = run_migration(target, list(sources), settings, backup_dir, progress(quiet, "migrate", "db"), dry_run,
                           resolve_exclusions(exclude), skip_unusable)
    click.echo(render_migration(report))
    if dry_run:
        click.echo("dry run: nothing was written")


@cli.command()
@click.argument("database", type=EXISTING_PATH)
@click.argument("sources", nargs=-1, type=EXISTING_PATH)
@click.option("--sources", "sources_follow", is_flag=True, help="Marks the live source files that follow (optional).")
@click.option("--workspace", type=EXISTING_PATH, help="Also check that every workspace file is stored, byte for byte.")
@limit_option
@quiet_option
def verify(database, sources, sources_follow, workspace, limit, quiet) -> None:
    """Prove DATABASE: migrated rows (live against SOURCES, else the ledger), assets, size."""
    del sources_follow  # only lets "--sources A B" read as documented; the sources are positional
    report = verify_database(database, sources, resolve_size_limit(limit), progress(quiet, "verify", "source"))
    assets = check_reproducible(database, workspace, manager=plugin_manager())
    failures = report.failures() + assets.problems
    if failures:
        for failure in failures[:SHOWN_FAILURES]:
            click.echo(f"FAIL  {failure}")
        if len(failures) > SHOWN_FAILURES:
            click.echo(f"FAIL  … and {len(failures) - SHOWN_FAILURES} more")
        raise CheckFailed(f"{len(failures)} problems in {database}")
    live = sum(verdict.mode == "live" for verdict in report.verdicts)
    rows = sum(verdict.rows for verdict in report.verdicts)
    click.echo(
        f"ok: {len(report.verdicts)} source tables, {rows:,} rows accounted for "
        f"({live} compared live, {len(report.verdicts) - live} against the ledger); "
        f"{assets.checked} assets regenerate to their SHA-256"
        + (f", and match {workspace}" if workspace else "")
    )


@cli.command("rebuild-source")
@click.argument("database", type=EXISTING_PATH)
@click.argument("name")
@click.option("--out", required=True, type=EXISTING_PATH, help="The file to write (must not exist).")
def rebuild_source_command(database, name, out) -> None:
    """Rebuild migrated source NAME from DATABASE, with its schema, rowids and values."""
    result = rebuild_source(database, name, out)
    click.echo(f"rebuilt {result.source} -> {result.path} ({result.tables} tables, {result.rows:,} rows)")


@cli.command()
@click.argument("database", type=EXISTING_PATH)
@click.option("--table", help="Only this consolidated table.")
def conflicts(database, table) -> None:
    """List key conflicts: the version shown and each version kept, column by column."""
    found = list_conflicts(database, table)
    for conflict in found:
        key = ", ".join(json.dumps(part) for part in conflict.key)
        click.echo(
            f"{conflict.table} [{key}]: shown from {conflict.shown_source}, kept from {conflict.kept_source} "
            f"({conflict.kept_table} row {conflict.kept_rowid}, policy {conflict.policy})"
        )
        for column, shown, kept in conflict.differences:
            click.echo(f"    {column}: {shown!r} | {kept!r}")
    click.echo(f"{len(found)} conflicts")


# -- file assets -------------------------------------------------------------------------

KIND_CHOICE = click.Choice(sorted(ASSET_TABLES))


@cli.command()
@click.argument("workspace", type=EXISTING_PATH)
@click.option("--into", "database", required=True, type=EXISTING_PATH, help="The consolidated database (created if missing).")
@click.option("--kind", "kinds", multiple=True, type=KIND_CHOICE, help="Only assets of this kind (repeatable).")
@limit_option
@exclude_option
@quiet_option
def ingest(workspace, database, kinds, limit, exclude, quiet) -> None:
    """Store every file of WORKSPACE as a script, documentation, template or pattern asset."""
    cap = resolve_size_limit(limit)
    if not database.exists():
        initialize(database, cap)
    report = ingest_workspace(workspace, database, tuple(kinds), limit=cap, manager=plugin_manager(),
                              track=progress(quiet, "ingest", "file"),
                              exclusions=resolve_exclusions(exclude), database_list=load_settings().database_list)
    for note in report.skipped:
        click.echo(f"skipped: {note}", err=True)
    if report.databases_outside:
        click.echo(outside_note(report.databases_outside).removeprefix("; "), err=True)
    if not report.changed_anything:
        click.echo(f"unchanged: {report.unchanged} assets already stored; nothing was written")
        return
    click.echo(
        f"{len(report.added)} added, {len(report.changed)} changed (new version), {len(report.touched)} with new "
        f"mode or mtime, {report.unchanged} unchanged ({format_size(report.bytes_read)} read)"
    )


@cli.command()
@click.argument("database", type=EXISTING_PATH)
@click.option("--out", required=True, type=EXISTING_PATH, help="Folder to write into (created if missing).")
@click.option("--kind", "kinds", multiple=True, type=KIND_CHOICE, help="Only assets of this kind (repeatable).")
@click.option("--path", "path_glob", help="Only paths matching this glob (SQLite GLOB).")
@click.option("--at", help="A version number, or a date: each path as it was then.")
@limit_option
@quiet_option
def regenerate(database, out, kinds, path_glob, at, limit, quiet) -> None:
    """Write stored assets back out, hash-checked, with their mode and mtime."""
    report = regenerate_assets(database, out, tuple(kinds), path_glob, at, progress(quiet, "regenerate", "file"),
                               limit=resolve_size_limit(limit))
    click.echo(f"{len(report.written)} files written under {out}, every one matching its SHA-256")


@cli.command("dedupe-docs")
@click.argument("database", type=EXISTING_PATH)
@click.option("--out", type=EXISTING_PATH, help="Cleaned copy to write. Default: NAME.cleaned.db beside DATABASE.")
@click.option("--in-place", is_flag=True, help="Clean DATABASE itself, after a verified backup.")
@click.option("--backup-dir", type=EXISTING_PATH, help="Where --in-place backs up first (outside the workspace).")
@click.option("--table", help="The documentation table (default: found by its path and content columns).")
@click.option("--log", "log_database", type=EXISTING_PATH, help="Record the cleanup in this assetdb database's log.")
@click.option("--dry-run", is_flag=True, help="Report only; write nothing.")
@limit_option
def dedupe_docs_command(database, out, in_place, backup_dir, table, log_database, dry_run, limit) -> None:
    """Drop duplicate and backup entries from a legacy documentation database."""
    if in_place and out:
        raise BadInput("--in-place and --out exclude each other")
    report = dedupe_docs(database, out, in_place, backup_dir, table, log_database, dry_run,
                         limit=resolve_size_limit(limit))
    for rowid, path, canonical in report.duplicates:
        click.echo(f"duplicate  #{rowid} {path} (same content as #{canonical})")
    for rowid, path in report.backups:
        click.echo(f"backup     #{rowid} {path}")
    summary = (
        f"{report.table}: {report.rows} entries, {len(report.duplicates)} duplicates, "
        f"{len(report.backups)} backup entries"
    )
    if dry_run:
        click.echo(f"{summary}; dry run: nothing was written")
    else:
        click.echo(f"{summary}; {len(report.removed)} removed in {report.written}")
        if report.backup:
            click.echo(f"original backed up first: {report.backup}")


@cli.command("render")
@click.argument("name")
@click.option("--db", "database", default="enterprise_assets.db", show_default=True, type=EXISTING_PATH,
              help="The consolidated database holding the template.")
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE", help="A placeholder value (repeatable).")
@click.option("--out", type=EXISTING_PATH, help="Write the result here (default: standard output).")
@click.option("--ingest", is_flag=True, help="Also store the result as a script asset (at --as PATH).")
@click.option("--as", "store_path", metavar="PATH", help="Asset path for --ingest. Default: generated/NAME.")
@click.option("--kind", type=click.Choice(["template", "pattern"]), default="template", show_default=True)
@limit_option
def render_command(name, database, assignments, out, ingest, store_path, kind, limit) -> None:
    """Render stored template NAME with ${placeholder} values, and count the use."""
    if store_path and not ingest:
        raise BadInput("--as names where --ingest stores the result; give --ingest too")
    store_as = (store_path or f"generated/{name.rsplit('/', 1)[-1]}") if ingest else None
    values = parse_assignments(list(assignments))
    rendered = render_template(database, name, values, kind, store_as, limit=resolve_size_limit(limit))
    if out is None:
        click.echo(rendered.text, nl=False)
        return
    if out.exists():
        raise BadInput(f"{out}: already exists; refusing to overwrite it")
    out.write_text(rendered.text)
    click.echo(f"rendered {rendered.name} -> {out}" + (f"; stored as {store_as}" if store_as else ""))


@cli.command("assets")
@click.argument("database", type=EXISTING_PATH)
@click.option("--kind", "kinds", multiple=True, type=KIND_CHOICE, help="Only this kind (repeatable).")
@click.option("--top-used", is_flag=True, help="Templates and patterns, most used first.")
def assets_command(database, kinds, top_used) -> None:
    """List stored assets: kind, path, version, size, usage."""
    listing = list_assets(database, tuple(kinds), top_used)
    rows = [
        (
            asset.kind,
            asset.path,
            str(asset.version),
            format_size(asset.size),
            asset.sha256[:12],
            "-" if asset.usage_count is None else str(asset.usage_count),
            asset.last_used or "-",
        )
        for asset in listing
    ]
    if rows:
        click.echo("\n".join(text_table(("kind", "path", "version", "size", "sha256", "used", "last used"), rows, {2, 3, 5})))
    click.echo(f"{len(listing)} assets")


# -- sync, log, archive, list -------------------------------------------------------------


@cli.command("sync")
@click.argument("workspace", type=EXISTING_PATH)
@click.option("--db", "database", required=True, type=EXISTING_PATH, help="The consolidated database.")
@click.option("--pull", "pull_assets", is_flag=True, help="Write the database's assets into WORKSPACE instead.")
@click.option("--force", is_flag=True, help="With --pull: overwrite local edits.")
@click.option("--watch", is_flag=True, help="Sync again every --interval seconds until interrupted (Ctrl-C).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=60.0, show_default=True)
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds to wait for another sync of the same database.")
@limit_option
@exclude_option
@quiet_option
def sync_command(workspace, database, pull_assets, force, watch, interval, lock_timeout, limit, exclude, quiet) -> None:
    """Bring DB up to date with WORKSPACE (or, with --pull, the other way), incrementally."""
    cap = resolve_size_limit(limit)
    if not workspace.is_dir():
        raise BadInput(f"{workspace}: no such workspace folder")
    if not database.exists() and not pull_assets:
        initialize(database, cap)

    def once() -> None:
        with sync_lock(database, lock_timeout):
            if pull_assets:
                pulled = pull_workspace(workspace, database, cap, force)
                click.echo(f"pulled: {len(pulled.written)} written, {pulled.unchanged} already up to date")
                return
            report = push_workspace(workspace, database, cap, plugin_manager(), progress(quiet, "sync", "file"),
                                    resolve_exclusions(exclude), load_settings().database_list)
            if report.databases_outside:
                click.echo(outside_note(report.databases_outside).removeprefix("; "), err=True)
            renamed = f", {len(report.renamed)} renamed" if report.renamed else ""
            click.echo(
                f"synced: {len(report.added)} added, {len(report.changed)} changed, {len(report.deleted)} deleted"
                f"{renamed}, {len(report.touched)} touched, {report.unchanged} unchanged"
            )

    if not watch:
        once()
        return
    try:
        while True:
            once()
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("stopped watching (a sync cut short is rolled back whole)")


@cli.command("log")
@click.argument("database", type=EXISTING_PATH)
@click.option("--since", help="Only operations started at or after this UTC time (2026-11-24 or 2026-11-24T10:00:00Z).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def log_command(database, since, as_json) -> None:
    """Show the operation log (cross_database_sync_operations)."""
    rows = read_log(database, since)
    if as_json:
        click.echo(json.dumps([{**row, "counts": json.loads(row["counts"]), "details": json.loads(row["details"])}
                               for row in rows], indent=2))
        return
    table = [
        (str(row["id"]), row["started_at"], row["operation"], row["status"], str(row["subject"] or ""),
         ", ".join(f"{k} {v}" for k, v in json.loads(row["counts"]).items()))
        for row in rows
    ]
    if table:
        click.echo("\n".join(text_table(("id", "started", "operation", "status", "subject", "counts"), table, {0})))
    click.echo(f"{len(rows)} operations")


@cli.command("archive")
@click.argument("sources", nargs=-1, required=True, type=EXISTING_PATH)
@click.option("--db", "database", required=True, type=EXISTING_PATH, help="The consolidated database.")
@click.option("--to", "folder", type=EXISTING_PATH, help="Archive folder. Default: archive/ beside DB.")
@limit_option
def archive_command(sources, database, folder, limit) -> None:
    """Move sources whose migration verifies lossless into the archive (never deleted)."""
    for record in archive_sources(database, list(sources), resolve_size_limit(limit), folder):
        click.echo(f"archived {record.name} -> {record.archived} (sha256 {record.sha256[:16]}…)")


@cli.command("list")
@click.argument("directories", metavar="DIR...", nargs=-1, required=True, type=EXISTING_PATH)
@click.option("--write", "write", is_flag=True, help="Write the generated block into the list (its own text is kept).")
@click.option("--workspace", type=EXISTING_PATH, help="Where to look for an existing list. Default: the Git work tree.")
@list_option
@limit_option
@exclude_option
def list_command(directories, write, workspace, list_file, limit, exclude) -> None:
    """The database list of the DIRs: active, shards, archived, skipped, the count."""
    result = keep_list(ListRequest(tuple(directories), resolve_size_limit(limit), workspace,
                                   list_file or load_settings().database_list, resolve_exclusions(exclude)),
                       write=write)
    if not write:
        click.echo(result.text, nl=False)
        return
    click.echo(f"{'wrote' if result.created else 'updated'} {result.path}")
    for finding in result.findings:
        click.echo(f"  cross-check: {finding}")


@cli.command("consolidate")
@click.argument("directories", metavar="DIR...", nargs=-1, required=True, type=EXISTING_PATH)
@click.option("--workspace", type=EXISTING_PATH, help="Also ingest this workspace's files as assets.")
@click.option("--backup-dir", type=EXISTING_PATH, help="Verified backups go here (outside the workspace).")
@click.option("--yes", is_flag=True, help="Archive the verified sources (move them into archive/ beside the set).")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@list_option
@skip_unusable_option
@exclude_option
@limit_option
@quiet_option
def consolidate_command(directories, workspace, backup_dir, yes, dry_run, list_file, skip_unusable, exclude, limit,
                        quiet) -> None:
    """Every phase end to end: inventory, backup, init, migrate, ingest, documentation, verify, archive, list.

    The consolidated set is written into the first DIR."""
    request = Request(tuple(directories), resolve_size_limit(limit), workspace, backup_dir, archive=yes,
                      database_list=list_file or load_settings().database_list,
                      exclusions=resolve_exclusions(exclude), skip_unusable=skip_unusable)
    if dry_run:
        for line in consolidation_plan(request):
            click.echo(f"plan  {line}")
        click.echo("dry run: nothing was written")
        return
    summary = run_consolidation(
        request,
        announce=lambda step, line: click.echo(f"{step:<13} {line}"),
        track=lambda label: progress(quiet, label, "item"),
    )
    click.echo(render_summary(summary, archived=yes))


@cli.command()
@click.argument("directory", required=False, type=EXISTING_PATH)
@click.option("--no-gate", is_flag=True, help="Skip running pytest --assetdb at the end.")
@quiet_option
def demo(directory: Path | None, no_gate: bool, quiet: bool) -> None:
    """Build a demo legacy repository in DIRECTORY (default: a temporary folder, removed at
    the end) and run the README's workflow on it: inventory, consolidate, the gate, sync."""
    run_demo(directory, gate=not no_gate, say=click.echo, track=lambda label: progress(quiet, label, "item"))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map every user-caused error to one line and an exit code."""
    try:
        code = cli.main(args=argv, prog_name="assetdb", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("assetdb: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        click.echo(f"assetdb: error: {error.format_message()}", err=True)
        sys.exit(error.exit_code)
    except CheckFailed as error:
        click.echo(f"assetdb: check failed: {error}", err=True)
        sys.exit(error.exit_code)
    except AssetdbError as error:
        click.echo(f"assetdb: error: {error}", err=True)
        sys.exit(error.exit_code)
    sys.exit(code or 0)
