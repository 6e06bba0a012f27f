"""The ``assetdb`` commands about databases: inventory, size-check, init, backup, restore,
migrate, verify, rebuild-source, conflicts, archive, list, consolidate, demo.

Each parses, makes one library call, and prints; :mod:`consolidation.cli` loads this
module only when one of them runs.
"""

from __future__ import annotations

import json
from contextlib import nullcontext

import click

from .archive import archive_sources, passed_over
from .cli_options import (
    FOLDER,
    PATH,
    exclude_option,
    limit_option,
    list_option,
    lock_timeout_option,
    progress,
    quiet_option,
    reader_wait,
    skip_unusable_option,
)
from .compliance import SizePolicy, check_sizes, log_size_check
from .config import load_settings, resolve_exclusions, resolve_size_limit
from .consolidate import Request, consolidate, plan
from .database_list import ListRequest, keep_list
from .demo import run_demo
from .errors import BadInput, CheckFailed
from .hookspecs import plugin_manager
from .inventory import take_inventory
from .merge import ConflictPolicy, MigrationSettings, conflict_resolver, migrate
from .proof import list_conflicts, prove, rebuild_source
from .reports import (
    render_conflicts,
    render_inventory,
    render_migration,
    render_size_check,
    render_summary,
    render_verify,
    size_check_refusal,
)
from .size import format_size, parse_warn_threshold
from .sqlite import backup_database, restore_database
from .store import SCHEMA_VERSION, initialize
from .store.lock import database_lock

# -- phase 0: what is there ---------------------------------------------------------------


@click.command("inventory")
@click.argument("directories", metavar="DIR...", nargs=-1, required=True, type=PATH)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@limit_option
@exclude_option
@list_option
@quiet_option
def inventory_command(directories, as_json, limit, exclude, list_file, quiet) -> None:
    """List every database under each DIR: size, % of cap, status, tables, rows, journal mode."""
    result = take_inventory(list(directories), resolve_size_limit(limit), progress(quiet, "inventory", "db"),
                            resolve_exclusions(exclude), list_file or load_settings().database_list)
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else render_inventory(result))


@click.command("size-check")
@click.argument("paths", nargs=-1, required=True, type=PATH)
@limit_option
@click.option("--warn", "warn", metavar="SIZE|PERCENT",
              help="Also fail on a file at or over this size or share of the cap (95MB, 90%): caught before it is over.")
@click.option("--refuse-lfs-pointers", is_flag=True,
              help="Also fail on a Git LFS pointer file named like a database (its database was never fetched).")
@click.option("--database-folder", "database_folders", multiple=True, type=FOLDER, metavar="DIR",
              help="Where SQLite files belong (repeatable; also [tool.assetdb] database_folders): fail on a SQLite "
              "file anywhere else, recognised by its header.")
@click.option("--log", "log_database", type=PATH, help="Record the check in this assetdb database's log.")
@quiet_option
def size_check_command(paths, limit, warn, refuse_lfs_pointers, database_folders, log_database, quiet) -> None:
    """Exit 1 when any database under PATHS is over the cap (sidecars counted), or fails what the options add."""
    cap = resolve_size_limit(limit)
    try:
        warn_at = parse_warn_threshold(warn, cap) if warn is not None else None
    except BadInput as error:
        raise click.BadParameter(str(error), param_hint="'--warn'") from None
    policy = SizePolicy(warn_at=warn_at,
                        refuse_lfs_pointers=refuse_lfs_pointers,
                        database_folders=tuple(database_folders) or load_settings().database_folders,
                        exclusions=resolve_exclusions())
    findings = check_sizes(list(paths), cap, progress(quiet, "size-check", "file"), policy)
    click.echo(render_size_check(findings, cap))
    if log_database is not None:
        log_size_check(log_database, findings, cap)
    refusal = size_check_refusal(findings, cap, policy)
    if refusal:
        raise CheckFailed(refusal)


# -- phase 1: the schema, and the safety net ----------------------------------------------


@click.command("init")
@click.argument("database", type=PATH)
@limit_option
@lock_timeout_option
def init_command(database, limit, lock_timeout) -> None:
    """Create the unified schema in DATABASE, or upgrade or repair it (idempotent)."""
    result = initialize(database, resolve_size_limit(limit), lock_timeout)
    if result.action == "unchanged":
        click.echo(f"{database}: already at schema v{SCHEMA_VERSION}; nothing changed")
    else:
        click.echo(f"{database}: {result.action} schema v{SCHEMA_VERSION} ({format_size(result.size)})")


@click.command("backup")
@click.argument("database", type=PATH)
@click.option("--to", "directory", required=True, type=PATH, help="Backup directory, outside the workspace.")
@click.option("--workspace", type=FOLDER,
              help="The workspace to stay out of. Default: the Git work tree of DATABASE, else its folder.")
def backup_command(database, directory, workspace) -> None:
    """Copy DATABASE with the online backup API, verified, to a timestamped file."""
    record = backup_database(database, directory, workspace)
    click.echo(f"backed up {database} -> {record.backup} ({format_size(record.bytes)}, verified)")


@click.command("restore")
@click.argument("backup_file", metavar="BACKUP", type=PATH)
@click.option("--to", "target", required=True, type=PATH, help="Database to restore into.")
@click.option("--safety-dir", type=PATH,
              help="Where to back up the current target first. Default: BACKUP's folder.")
def restore_command(backup_file, target, safety_dir) -> None:
    """Restore BACKUP into a database, after proving the backup; the old target is kept."""
    safety = restore_database(backup_file, target, safety_dir)
    if safety is not None:
        click.echo(f"previous {target} saved as {safety.backup}")
    click.echo(f"restored {backup_file} -> {target} (verified)")


# -- phase 2: the merge, and its proofs ----------------------------------------------------


@click.command("migrate")
@click.argument("sources", nargs=-1, required=True, type=PATH)
@click.option("--into", "target", required=True, type=PATH, help="The consolidated database (created if missing).")
@limit_option
@click.option("--backup-dir", type=PATH, help="Where the existing target is backed up first (outside the "
              "workspace). Default: $ASSETDB_BACKUP_DIR, else ~/.local/state/assetdb/backups.")
@click.option("--prefer", default="first", show_default=True,
              help="Which version of a conflicting key the merged table shows: first, newest, or source:NAME.")
@click.option("--no-partition", is_flag=True,
              help="Abort (exit 3, rolled back) instead of continuing in numbered shards at the cap.")
@click.option("--dry-run", is_flag=True, help="Rehearse on a private copy and report; write nothing.")
@skip_unusable_option
@exclude_option
@lock_timeout_option
@quiet_option
def migrate_command(sources, target, limit, backup_dir, prefer, no_partition, dry_run, skip_unusable, exclude,
                    lock_timeout, quiet) -> None:
    """Merge SOURCES into the consolidated database, losslessly, a few sources per transaction."""
    settings = MigrationSettings(resolve_size_limit(limit), ConflictPolicy.parse(prefer), conflict_resolver(),
                                 partition=not no_partition)
    with nullcontext() if dry_run else database_lock(target, lock_timeout):
        report = migrate(target, list(sources), settings, backup_dir, progress(quiet, "migrate", "db"), dry_run,
                         resolve_exclusions(exclude), skip_unusable)
    click.echo(render_migration(report))
    if dry_run:
        click.echo("dry run: nothing was written")


@click.command("verify")
@click.argument("database", type=PATH)
@click.argument("sources", nargs=-1, type=PATH)
@click.option("--sources", "sources_follow", is_flag=True, help="Marks the live source files that follow (optional).")
@click.option("--workspace", type=PATH, help="Also check that every workspace file is stored, byte for byte.")
@limit_option
@exclude_option
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
              callback=reader_wait, help="Seconds to wait for a writer (a sync) to commit before reading.")
@quiet_option
def verify_command(database, sources, sources_follow, workspace, limit, exclude, lock_timeout, quiet) -> None:
    """Prove DATABASE: migrated rows (live against SOURCES, else the ledger), assets, size."""
    # sources_follow only lets "--sources A B" read as documented (the sources are positional);
    # the wait for a writer is set by its option's callback
    del sources_follow, lock_timeout
    proof = prove(database, sources, workspace, resolve_size_limit(limit), plugin_manager(),
                  progress(quiet, "verify", "source"), resolve_exclusions(exclude))
    click.echo(render_verify(proof, workspace))
    if not proof.ok:
        raise CheckFailed(f"{len(proof.failures)} problems in {database}")


@click.command("rebuild-source")
@click.argument("database", type=PATH)
@click.argument("name")
@click.option("--out", required=True, type=PATH, help="The file to write (must not exist).")
@quiet_option
def rebuild_source_command(database, name, out, quiet) -> None:
    """Rebuild migrated source NAME from DATABASE, with its schema, rowids and values."""
    result = rebuild_source(database, name, out, progress(quiet, "rebuild-source", "table"))
    click.echo(f"rebuilt {result.source} -> {result.path} ({result.tables} tables, {result.rows:,} rows)")


@click.command("conflicts")
@click.argument("database", type=PATH)
@click.option("--table", help="Only this consolidated table.")
def conflicts_command(database, table) -> None:
    """List key conflicts: the version shown and each version kept, column by column."""
    click.echo(render_conflicts(list_conflicts(database, table)))


# -- phase 7: finalization -----------------------------------------------------------------


@click.command("archive")
@click.argument("sources", nargs=-1, required=True, type=PATH)
@click.option("--db", "database", required=True, type=PATH, help="The consolidated database.")
@click.option("--to", "folder", type=PATH, help="Archive folder. Default: archive/ beside DB.")
@limit_option
def archive_command(sources, database, folder, limit) -> None:
    """Move sources whose migration verifies lossless into the archive (never deleted)."""
    over = passed_over(database, list(sources))
    for path, why in over.items():
        click.echo(f"passed over {path}: {why}")
    for record in archive_sources(database, [path for path in sources if path not in over],
                                  resolve_size_limit(limit), folder):
        click.echo(f"archived {record.name} -> {record.archived} (sha256 {record.sha256[:16]}…)")


@click.command("list")
@click.argument("directories", metavar="DIR...", nargs=-1, required=True, type=PATH)
@click.option("--write", "write", is_flag=True, help="Write the generated block into the list (its own text is kept).")
@click.option("--workspace", type=FOLDER, help="Where to look for an existing list. Default: the Git work tree.")
@list_option
@limit_option
@exclude_option
@lock_timeout_option
def list_command(directories, write, workspace, list_file, limit, exclude, lock_timeout) -> None:
    """The database list of the DIRs: active, shards, archived, skipped, the count."""
    result = keep_list(ListRequest(tuple(directories), resolve_size_limit(limit), workspace,
                                   list_file or load_settings().database_list, resolve_exclusions(exclude),
                                   lock_timeout),
                       write=write)
    if not write:
        click.echo(result.text, nl=False)
        return
    click.echo(f"{'wrote' if result.created else 'updated'} {result.path}")
    for finding in result.findings:
        click.echo(f"  cross-check: {finding}")


# -- every phase -----------------------------------------------------------------------------


@click.command("consolidate")
@click.argument("directories", metavar="DIR...", nargs=-1, required=True, type=PATH)
@click.option("--workspace", type=PATH, help="Also ingest this workspace's files as assets.")
@click.option("--backup-dir", type=PATH, help="Verified backups go here (outside the workspace).")
@click.option("--yes", is_flag=True, help="Archive the verified sources (move them into archive/ beside the set).")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@list_option
@skip_unusable_option
@exclude_option
@limit_option
@lock_timeout_option
@quiet_option
def consolidate_command(directories, workspace, backup_dir, yes, dry_run, list_file, skip_unusable, exclude, limit,
                        lock_timeout, quiet) -> None:
    """Every phase end to end: inventory, backup, init, migrate, ingest, documentation, verify, archive, list.

    The consolidated set is written into the first DIR."""
    request = Request(tuple(directories), resolve_size_limit(limit), workspace, backup_dir, archive=yes,
                      database_list=list_file or load_settings().database_list,
                      exclusions=resolve_exclusions(exclude), skip_unusable=skip_unusable,
                      lock_timeout=lock_timeout)
    if dry_run:
        click.echo("\n".join(f"plan  {line}" for line in plan(request)))
        click.echo("dry run: nothing was written")
        return
    summary = consolidate(request, announce=lambda step, line: click.echo(f"{step:<13} {line}"),
                          track=lambda label: progress(quiet, label, "item"))
    click.echo(render_summary(summary, archived=yes))


@click.command("demo")
@click.argument("directory", required=False, type=PATH)
@click.option("--no-gate", is_flag=True, help="Skip running pytest --assetdb at the end.")
@quiet_option
def demo_command(directory, no_gate, quiet) -> None:
    """Build a demo legacy repository in DIRECTORY (default: a temporary folder, removed at
    the end) and run the README's workflow on it: inventory, consolidate, the gate, sync."""
    run_demo(directory, gate=not no_gate, say=click.echo, track=lambda label: progress(quiet, label, "item"))
