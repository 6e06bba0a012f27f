"""The ``assetdb`` command line: each command parses, makes one library call, and prints.

Every error a user can cause surfaces as one line on stderr and the exit code of the tool
(0 ok, 1 check failed, 2 bad usage or input, 3 aborted and rolled back). The commands live
in :mod:`consolidation.cli_commands` and :mod:`consolidation.cli_assets` and are loaded
only when they run, so ``assetdb sync`` from cron does not pay for importing the merge
engine; the work and the wording of every report live in the library.
"""

from __future__ import annotations

import importlib
import sys

import click

from . import __version__
from .errors import AssetdbError, CheckFailed

#: Command name -> "module:function" that defines it.
COMMANDS = {
    **{name: f"consolidation.cli_commands:{name.replace('-', '_')}_command" for name in (
        "inventory", "size-check", "init", "backup", "restore", "migrate", "verify", "rebuild-source",
        "conflicts", "archive", "list", "consolidate", "demo")},
    **{name: f"consolidation.cli_assets:{name.replace('-', '_')}_command" for name in (
        "ingest", "regenerate", "dedupe-docs", "render", "assets", "sync", "log")},
}


class LazyGroup(click.Group):
    """A command group that imports a command's module only when the command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, function = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), function)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assetdb")
def cli() -> None:
    """Consolidate SQLite databases into enterprise_assets.db, losslessly and under the cap."""


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
