"""The ``assetdb`` command line: each command parses, makes one library call, and prints.

Every error a user can cause surfaces as one line on stderr and the exit code of the tool
(0 ok, 1 check failed, 2 bad usage or input, 3 aborted and rolled back). The boundary is
:func:`main`: the library's own errors carry their code, the file system's and SQLite's
are mapped class by class (:mod:`consolidation.faults`), and anything else is a bug, shown
as one line with where to report it — the traceback only under ``--debug``. The commands live
in :mod:`consolidation.cli_commands` and :mod:`consolidation.cli_assets` and are loaded
only when they run, so ``assetdb sync`` from cron does not pay for importing the merge
engine; the work and the wording of every report live in the library.
"""

from __future__ import annotations

import importlib
import sys
import traceback

import click

from . import __version__
from .errors import AssetdbError, CheckFailed
from .faults import explain
from .leftovers import sweep_system_temporaries
from .sqlite.locks import LOCK_TIMEOUT_SECONDS
from .sqlite.readonly import set_reader_wait

#: Set by the group's ``--debug`` flag: read by :func:`main` once the command has failed.
_RUN = {"debug": False}

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
@click.option("--debug", is_flag=True, help="On an unexpected error, show the full traceback.")
def cli(debug: bool) -> None:
    """Consolidate SQLite databases into enterprise_assets.db, losslessly and under the cap."""
    _RUN["debug"] = debug
    sweep_system_temporaries()  # what killed runs left in the temporary folder


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map every user-caused error to one line and an exit code."""
    for stream in (sys.stdout, sys.stderr):  # a file name may hold bytes no text can: shown escaped, never a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    # a command's --lock-timeout sets how long its reads wait for a writer: for that command only
    reader_wait = set_reader_wait(LOCK_TIMEOUT_SECONDS)
    try:
        code = cli.main(args=argv, prog_name="assetdb", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("assetdb: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        click.echo(f"assetdb: error: {error.format_message()}", err=True)
        sys.exit(error.exit_code)
    except CheckFailed as error:
        click.echo(f"assetdb: check failed: {_one_line(error)}", err=True)
        sys.exit(error.exit_code)
    except AssetdbError as error:
        click.echo(f"assetdb: error: {_one_line(error)}", err=True)
        sys.exit(error.exit_code)
    except Exception as error:  # noqa: BLE001 — the one boundary: mapped, or shown as a bug
        _fail(error)
    finally:
        set_reader_wait(reader_wait)
    sys.exit(code or 0)


def _one_line(error: Exception) -> str:
    """The error as the one line it is promised to be: a newline a path holds, shown escaped."""
    return str(error).replace("\r", "\\r").replace("\n", "\\n")


def _fail(error: Exception) -> None:
    """One line for an error the library did not raise itself: what it means when the
    file system or SQLite says it (:func:`explain`), else a bug with where to report it."""
    meaning = explain(error)
    if _RUN["debug"]:
        traceback.print_exception(error)
    if meaning is not None:
        click.echo(f"assetdb: error: {meaning}", err=True)
        sys.exit(meaning.exit_code)
    first_line = (str(error).splitlines() or [""])[0]
    click.echo(f"assetdb: internal error: {type(error).__name__}: {first_line} — this is a bug; "
               + ("please report it with the traceback above" if _RUN["debug"] else
                  "rerun with --debug (assetdb --debug COMMAND …) and report it with the traceback"), err=True)
    sys.exit(1)
