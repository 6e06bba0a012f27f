"""The ``assetdb`` commands about file assets: ingest, regenerate, render, assets, sync, log,
and the documentation clean-up. Each parses, makes one library call, and prints; the
command group in :mod:`consolidation.cli` adds them.
"""

from __future__ import annotations

import os
import time

import click

from .assets import (
    ingest,
    list_assets,
    parse_assignments,
    pull,
    push,
    read_log,
    regenerate,
    render,
)
from .cli_options import (
    KIND_CHOICE,
    PATH,
    allow_outside_links_option,
    exclude_option,
    finite_seconds,
    limit_option,
    lock_timeout_option,
    max_file_size_option,
    progress,
    quiet_option,
)
from .config import load_settings, resolve_exclusions, resolve_size_limit
from .docs_cleanup import dedupe_docs
from .errors import BadInput
from .hookspecs import plugin_manager
from .reports import (
    render_assets,
    render_dedupe,
    render_ingest,
    render_log,
    render_notes,
    render_push,
)
from .size import parse_size
from .store.lock import database_lock


@click.command("ingest")
@click.argument("workspace", type=PATH)
@click.option("--into", "database", required=True, type=PATH, help="The consolidated database (created if missing).")
@click.option("--kind", "kinds", multiple=True, type=KIND_CHOICE, help="Only assets of this kind (repeatable).")
@limit_option
@lock_timeout_option
@exclude_option
@quiet_option
def ingest_command(workspace, database, kinds, limit, lock_timeout, exclude, quiet) -> None:
    """Store every file of WORKSPACE as a script, documentation, template or pattern asset."""
    report = ingest(workspace, database, tuple(kinds), limit=resolve_size_limit(limit), manager=plugin_manager(),
                    track=progress(quiet, "ingest", "file"), exclusions=resolve_exclusions(exclude),
                    database_list=load_settings().database_list, lock_timeout=lock_timeout)
    _echo_err(render_notes(report))
    click.echo(render_ingest(report))


@click.command("regenerate")
@click.argument("database", type=PATH)
@click.option("--out", required=True, type=PATH, help="Folder to write into (created if missing).")
@click.option("--kind", "kinds", multiple=True, type=KIND_CHOICE, help="Only assets of this kind (repeatable).")
@click.option("--path", "path_glob", help="Only paths matching this glob (SQLite GLOB).")
@click.option("--at", help="A version number, or a date: each path as it was then.")
@allow_outside_links_option
@max_file_size_option
@limit_option
@quiet_option
def regenerate_command(database, out, kinds, path_glob, at, allow_outside_links, max_file_size, limit, quiet) -> None:
    """Write stored assets back out, hash-checked, with their permission bits and mtime.

    DATABASE is untrusted input: every row is judged before anything is written, and
    nothing is written outside OUT."""
    report = regenerate(database, out, tuple(kinds), path_glob, at, progress(quiet, "regenerate", "file"),
                        limit=resolve_size_limit(limit), allow_outside_links=allow_outside_links,
                        max_file_size=parse_size(max_file_size))
    _echo_warnings(report.warnings)
    click.echo(f"{len(report.written)} files written under {out}, every one matching its SHA-256")


@click.command("dedupe-docs")
@click.argument("database", type=PATH)
@click.option("--out", type=PATH, help="Cleaned copy to write. Default: NAME.cleaned.db beside DATABASE.")
@click.option("--in-place", is_flag=True, help="Clean DATABASE itself, after a verified backup.")
@click.option("--backup-dir", type=PATH, help="Where --in-place backs up first (outside the workspace). Default: $ASSETDB_BACKUP_DIR, else ~/.local/state/assetdb/backups.")
@click.option("--table", help="The documentation table (default: found by its path and content columns).")
@click.option("--log", "log_database", type=PATH, help="Record the cleanup in this assetdb database's log.")
@click.option("--dry-run", is_flag=True, help="Report only; write nothing.")
@limit_option
def dedupe_docs_command(database, out, in_place, backup_dir, table, log_database, dry_run, limit) -> None:
    """Drop duplicate and backup entries from a legacy documentation database."""
    if in_place and out:
        raise BadInput("--in-place and --out exclude each other")
    report = dedupe_docs(database, out, in_place, backup_dir, table, log_database, dry_run,
                         limit=resolve_size_limit(limit))
    click.echo(render_dedupe(report, dry_run))


@click.command("render")
@click.argument("name")
@click.option("--db", "database", default="enterprise_assets.db", show_default=True, type=PATH,
              help="The consolidated database holding the template.")
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE", help="A placeholder value (repeatable).")
@click.option("--out", type=PATH, help="Write the result here (default: standard output).")
@click.option("--ingest", "store", is_flag=True, help="Also store the result as a script asset (at --as PATH).")
@click.option("--as", "store_path", metavar="PATH", help="Asset path for --ingest. Default: generated/NAME.")
@click.option("--kind", type=click.Choice(["template", "pattern"]), default="template", show_default=True)
@limit_option
def render_command(name, database, assignments, out, store, store_path, kind, limit) -> None:
    """Render stored template NAME with ${placeholder} values, and count the use."""
    if store_path and not store:
        raise BadInput("--as names where --ingest stores the result; give --ingest too")
    if out is not None and os.path.lexists(out):  # a link too: written through, it would write elsewhere
        raise BadInput(f"{out}: already exists; refusing to overwrite it")
    if out is not None and not out.parent.is_dir():  # judged before the use is counted in the database
        raise BadInput(f"{out.parent}: no such folder for --out")
    store_as = (store_path or f"generated/{name.rsplit('/', 1)[-1]}") if store else None
    rendered = render(database, name, parse_assignments(list(assignments)), kind, store_as,
                      limit=resolve_size_limit(limit))
    if out is None:
        click.echo(rendered.text, nl=False)
        return
    out.write_text(rendered.text)
    click.echo(f"rendered {rendered.name} -> {out}" + (f"; stored as {store_as}" if store_as else ""))


@click.command("assets")
@click.argument("database", type=PATH)
@click.option("--kind", "kinds", multiple=True, type=KIND_CHOICE, help="Only this kind (repeatable).")
@click.option("--top-used", is_flag=True, help="Templates and patterns, most used first.")
def assets_command(database, kinds, top_used) -> None:
    """List stored assets: kind, path, version, size, usage."""
    click.echo(render_assets(list_assets(database, tuple(kinds), top_used)))


@click.command("sync")
@click.argument("workspace", type=PATH)
@click.option("--db", "database", required=True, type=PATH, help="The consolidated database.")
@click.option("--pull", "pull_assets", is_flag=True, help="Write the database's assets into WORKSPACE instead.")
@click.option("--force", is_flag=True, help="With --pull: overwrite local edits.")
@click.option("--watch", is_flag=True, help="Sync again every --interval seconds until interrupted (Ctrl-C).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              callback=finite_seconds, help="Seconds between two syncs with --watch.")
@click.option("--rehash", is_flag=True,
              help="Read every file, also those whose size, mode and mtime are as stored (a tree unpacked "
                   "with normalised mtimes).")
@click.option("--content-only", is_flag=True,
              help="A file is unchanged when what git keeps of it is as stored: its bytes, type and executable "
                   "bit. A fresh clone's mtimes and umask rewrite nothing.")
@lock_timeout_option
@allow_outside_links_option
@max_file_size_option
@limit_option
@exclude_option
@quiet_option
def sync_command(workspace, database, pull_assets, force, watch, interval, rehash, content_only, lock_timeout,
                 allow_outside_links, max_file_size, limit, exclude, quiet) -> None:
    """Bring DB up to date with WORKSPACE (or, with --pull, the other way), incrementally."""
    cap, exclusions, database_list = resolve_size_limit(limit), resolve_exclusions(exclude), load_settings().database_list

    def once() -> None:
        with database_lock(database, lock_timeout):
            if pull_assets:
                pulled = pull(workspace, database, cap, force, allow_outside_links, parse_size(max_file_size))
                _echo_warnings(pulled.warnings)
                click.echo(f"pulled: {len(pulled.written)} written, {pulled.unchanged} already up to date")
                return
            report = push(workspace, database, cap, plugin_manager(), progress(quiet, "sync", "file"),
                          exclusions, database_list, rehash, content_only)
            _echo_err(render_notes(report))
            click.echo(render_push(report))

    if not watch:
        once()
        return
    try:
        while True:
            once()
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("stopped watching (a sync cut short is rolled back whole)")


@click.command("log")
@click.argument("database", type=PATH)
@click.option("--since", help="Only operations started at or after this moment: a date (2026-11-24), a date and time (2026-11-24T10:00:00Z; UTC unless it says) or a time ago (12h, 7d, 2w).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def log_command(database, since, as_json) -> None:
    """Show the operation log (cross_database_sync_operations)."""
    click.echo(render_log(read_log(database, since), as_json))


def _echo_err(text: str) -> None:
    if text:
        click.echo(text, err=True)


def _echo_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"assetdb: warning: {warning}", err=True)
