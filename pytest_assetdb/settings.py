"""The gate's settings: ``--assetdb-*`` options, ``assetdb_*`` ini keys, ``[tool.assetdb]``.

The command line wins over the ini file, which wins over ``pyproject.toml``; a bad value
is a usage error (pytest's exit 4), never a failing item.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from consolidation.config import load_settings
from consolidation.errors import BadInput
from consolidation.globs import Exclusions
from consolidation.listing import LIST_FILENAME, the_one_list
from consolidation.size import (
    NEAR_LIMIT_FRACTION,
    format_size,
    parse_size,
    parse_warn_threshold,
)
from consolidation.sqlite.backup import find_workspace
from consolidation.store.lock import DEFAULT_LOCK_TIMEOUT

from .gate import PHASES

SETTINGS_KEY = pytest.StashKey["GateSettings"]()


@dataclass(frozen=True)
class GateSettings:
    limit: int
    workspace: Path | None
    phase: str
    database_list: Path | None  # configured (--assetdb-list, ini, [tool.assetdb])
    exclusions: Exclusions = Exclusions()
    warn_at: int | None = None  # bytes from which a database under the cap is warned about
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT  # seconds a check waits for a committing writer
    found_list: Path | None = None  # the workspace's one database list, when it has one


    def header(self) -> str:
        """What ``pytest --assetdb`` reports it gates with, at the top of the run."""
        near = f", warn from {format_size(self.warn_at)}" if self.warn_at else ""
        parts = [f"cap {format_size(self.limit)}{near}", f"up to phase {self.phase}",
                 f"workspace {self.workspace or '-'}", f"list {self._list_shown()}"]
        if self.exclusions:
            parts.append(f"excluding {', '.join(self.exclusions.patterns)}")
        return "assetdb: " + "; ".join(parts)


    def _list_shown(self) -> str:
        if self.database_list is not None:
            return str(self.database_list)
        return f"the one each set keeps, else {self.found_list or 'the one beside each database'}"


def add_options(parser: pytest.Parser) -> None:
    """The ``--assetdb*`` options and the ``assetdb_*`` ini keys."""
    group = parser.getgroup("assetdb", "SQLite database gate (pytest-assetdb)")
    group.addoption(
        "--assetdb",
        action="store_true",
        default=False,
        help="collect the SQLite databases under the given paths as gate items",
    )
    group.addoption(
        "--assetdb-limit",
        metavar="SIZE",
        default=None,
        help="size cap per database (99.9MB, 95MiB, 1.5GB or bytes); "
        "overrides ini assetdb_size_limit and [tool.assetdb] size_limit",
    )
    group.addoption(
        "--assetdb-workspace",
        metavar="DIR",
        default=None,
        help="workspace the reproducible[KIND] items compare stored assets with; overrides ini assetdb_workspace",
    )
    group.addoption(
        "--assetdb-phase",
        metavar="PHASE",
        default=None,  # judged by resolve_settings: one line naming where it was set, not argparse's four
        help=f"run the checks up to this phase ({', '.join(PHASES)}); overrides ini assetdb_phase",
    )
    group.addoption(
        "--assetdb-list",
        metavar="FILE",
        default=None,
        help=f"the database list the listed items check (default: the one {LIST_FILENAME} in the workspace, "
        "else the one beside each database, if any)",
    )
    group.addoption(
        "--assetdb-exclude",
        metavar="GLOB",
        action="append",
        default=[],
        help="leave database files matching GLOB out of the gate (repeatable; also ini assetdb_exclude "
        "and [tool.assetdb] exclude)",
    )
    group.addoption(
        "--assetdb-warn",
        metavar="SIZE|PERCENT",
        default=None,
        help="warn (without failing) about a database at or over this size, or this share of the cap "
        "(default 90%%; 0 turns it off); overrides ini assetdb_warn",
    )
    group.addoption(
        "--assetdb-lock-timeout",
        metavar="SECONDS",
        default=None,  # judged by resolve_lock_timeout: one line, not argparse's four
        help=f"wait this long for a writer (a sync) to commit before reading a database (default "
        f"{DEFAULT_LOCK_TIMEOUT:g}); overrides ini assetdb_lock_timeout",
    )
    parser.addini("assetdb_lock_timeout", "seconds the gate waits for a writer to commit before reading",
                  type="string", default="")
    parser.addini("assetdb_size_limit", "size cap per database for --assetdb (99.9MB, 95MiB, 1.5GB or bytes)",
                  type="string", default="")
    parser.addini("assetdb_warn", "warn about databases at this size or share of the cap (default 90%)",
                  type="string", default="")
    parser.addini("assetdb_workspace", "workspace for reproducible[KIND] items (relative to the ini file)",
                  type="paths", default=[])
    parser.addini("assetdb_phase", f"last phase --assetdb checks ({', '.join(PHASES)})", type="string", default="")
    parser.addini("assetdb_list", "database list for listed items (relative to the ini file)", type="paths",
                  default=[])
    parser.addini("assetdb_exclude", "globs of database files the gate leaves out", type="linelist", default=[])


def resolve_limit(config: pytest.Config) -> int:
    """``--assetdb-limit``, else ini ``assetdb_size_limit``, else ``[tool.assetdb]``, else 99.9 MB."""
    for source, value in (
        ("--assetdb-limit", config.getoption("assetdb_limit")),
        ("assetdb_size_limit", config.getini("assetdb_size_limit")),
    ):
        if value:
            try:
                return parse_size(value)
            except BadInput as error:
                raise pytest.UsageError(f"{source}: {error}") from None
    try:
        return load_settings(config.rootpath).size_limit
    except BadInput as error:
        raise pytest.UsageError(str(error)) from None


def _path_setting(config: pytest.Config, option: str, ini: str, project: Path | None) -> Path | None:
    """The command line wins over the ini file, which wins over ``[tool.assetdb]``."""
    value = config.getoption(option)
    if value:
        return Path(value).resolve()
    configured = config.getini(ini)
    if configured:
        return Path(configured[0]).resolve()
    return project.resolve() if project else None


def resolve_warn(config: pytest.Config, limit: int) -> int | None:
    """``--assetdb-warn``, else ini ``assetdb_warn``, else 90 % of the cap; 0 turns it off."""
    source, value = "--assetdb-warn", config.getoption("assetdb_warn")
    if not value:
        source, value = "assetdb_warn", config.getini("assetdb_warn")
    try:
        return parse_warn_threshold(value or f"{NEAR_LIMIT_FRACTION:.0%}", limit)
    except BadInput as error:
        raise pytest.UsageError(f"{source} {error}") from None


def resolve_settings(config: pytest.Config) -> GateSettings:
    try:
        project = load_settings(config.rootpath)
    except BadInput as error:
        raise pytest.UsageError(str(error)) from None
    workspace = _path_setting(config, "assetdb_workspace", "assetdb_workspace", project.workspace)
    if workspace is not None and not workspace.is_dir():
        raise pytest.UsageError(f"assetdb workspace {workspace} is not a folder")
    source, phase = next(((source, value) for source, value in (
        ("--assetdb-phase", config.getoption("assetdb_phase")), ("assetdb_phase", config.getini("assetdb_phase")),
        ("pyproject.toml: [tool.assetdb] phase", project.phase)) if value), ("", PHASES[-1]))
    if phase not in PHASES:
        raise pytest.UsageError(f"{source}: unknown phase {phase!r} (phases: {', '.join(PHASES)})")
    database_list = _path_setting(config, "assetdb_list", "assetdb_list", project.database_list)
    if database_list is not None and database_list.is_dir():
        raise pytest.UsageError(f"assetdb list {database_list} is a folder; name the list file itself "
                                f"({database_list / LIST_FILENAME}, say)")
    found_list = None if database_list is not None else the_one_list(workspace or find_workspace(config.rootpath))
    patterns = (*project.exclude, *config.getini("assetdb_exclude"), *config.getoption("assetdb_exclude"))
    exclusions = Exclusions.of(patterns, project.project_root or config.rootpath)
    limit = resolve_limit(config)
    return GateSettings(limit, workspace, phase, database_list, exclusions, resolve_warn(config, limit),
                        resolve_lock_timeout(config), found_list)


def resolve_lock_timeout(config: pytest.Config) -> float:
    """``--assetdb-lock-timeout``, else ini ``assetdb_lock_timeout``, else the default."""
    source, text = "--assetdb-lock-timeout", config.getoption("assetdb_lock_timeout")
    if text is None:
        source, text = "assetdb_lock_timeout", config.getini("assetdb_lock_timeout").strip()
        if not text:
            return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value >= 0):  # negative, nan, or inf (a wait that never ends)
        raise pytest.UsageError(f"{source}: {text!r} is not a number of seconds to wait")
    return value


def settings(config: pytest.Config) -> GateSettings:
    if SETTINGS_KEY not in config.stash:
        config.stash[SETTINGS_KEY] = resolve_settings(config)
    return config.stash[SETTINGS_KEY]
