"""The options the ``assetdb`` commands share, and the progress bars they show.

Kept apart from the commands so each command reads as what it does: its own options, one
library call, one report.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from .errors import BadInput
from .size import parse_size
from .sqlite.readonly import set_reader_wait
from .store import ASSET_TABLES


class PathParam(click.Path):
    """A path, existing or not (each command judges its own); never an empty one, which
    would mean the current folder (an unset variable in ``--out "$OUT"``)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path (an unset variable?); give the path itself", param, ctx)
        return super().convert(value, param, ctx)


PATH = PathParam(path_type=Path)
#: A folder that must exist (where something is looked for, never made).
FOLDER = PathParam(path_type=Path, exists=True, file_okay=False)


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


def finite_seconds(_context, parameter, value):
    """A number of seconds that a wait can be: finite (``nan`` and ``inf`` pass a range)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds", param=parameter)
    return value


def reader_wait(context, parameter, value):
    """The wait for another writer, which every read of this command waits for as well (a
    writer committing is waited out the same time, then named, exit 3)."""
    seconds = finite_seconds(context, parameter, value)
    set_reader_wait(seconds)
    return seconds


lock_timeout_option = click.option(
    "--lock-timeout", type=click.FloatRange(min=0), default=30.0, show_default=True, callback=reader_wait,
    help="Seconds to wait for another writer of the same database before stopping (exit 3).",
)


quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")


allow_outside_links_option = click.option(
    "--allow-outside-links", is_flag=True,
    help="Also write stored symlinks whose target leads out of the folder (never followed while writing).",
)


max_file_size_option = click.option(
    "--max-file-size", type=SizeParam(), default="4GiB", show_default=True,
    help="Refuse, before inflating, any stored file declaring more than this.",
)


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
        if quiet or not sys.stderr.isatty():
            return items
        from tqdm import (
            tqdm,  # only when a bar is drawn: a quiet run (cron, CI) starts faster
        )

        # Never materialise ``items``: the library hands over streams (a pool packing files
        # while the writer stores them) that must flow; a total is shown when one is known.
        return tqdm(items, desc=description, unit=unit, total=len(items) if hasattr(items, "__len__") else None,
                    leave=False, file=sys.stderr)

    return track


list_option = click.option(
    "--list", "list_file", type=PATH,
    help="The database list to read and keep. Default: [tool.assetdb] database_list, else the one "
    "CONSOLIDATED_DATABASE_LIST.md in the workspace, else a new one in the (first) folder.",
)


KIND_CHOICE = click.Choice(sorted(ASSET_TABLES))
