"""Project configuration from ``[tool.assetdb]`` in ``pyproject.toml``.

The command line and the pytest plugin both start from here, then let their own options
win, so one table in ``pyproject.toml`` configures the whole tool.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadInput
from .globs import Exclusions
from .size import DEFAULT_SIZE_LIMIT, parse_size

KNOWN_KEYS = ("size_limit", "kinds", "backup_patterns", "workspace", "phase", "database_list", "exclude",
              "database_folders")
ASSET_KINDS = ("script", "documentation", "template", "pattern")


@dataclass(frozen=True)
class Settings:
    """Effective settings; ``source`` names where they came from, for messages.

    ``kinds`` maps an asset kind to path globs that put a file in it, checked before the
    built-in rules, e.g. ``[tool.assetdb.kinds] template = ["scaffolds/**"]``.
    """

    size_limit: int = DEFAULT_SIZE_LIMIT
    source: str = "default"
    kinds: dict[str, tuple[str, ...]] = field(default_factory=dict)
    backup_patterns: tuple[str, ...] = ()
    workspace: Path | None = None  # for the gate's reproducible items, relative to pyproject.toml
    phase: str | None = None  # the last phase the gate checks
    database_list: Path | None = None
    exclude: tuple[str, ...] = ()  # globs of files left out on purpose, everywhere
    database_folders: tuple[Path, ...] = ()  # where SQLite files belong; size-check fails on one elsewhere
    project_root: Path | None = None  # the folder of pyproject.toml, where globs are rooted


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``."""
    start = start.resolve()
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_settings(start: Path | None = None) -> Settings:
    """Read ``[tool.assetdb]`` from the nearest ``pyproject.toml`` above ``start``.

    Unknown keys are an error rather than silently ignored: a misspelt ``size_limt``
    would otherwise leave the default cap in force without anyone noticing.
    """
    pyproject = find_pyproject(start or Path.cwd())
    if pyproject is None:
        return Settings()
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise BadInput(f"{pyproject}: not valid TOML ({error})") from None
    table = document.get("tool", {}).get("assetdb")
    if table is None:
        return Settings(project_root=pyproject.parent)
    if not isinstance(table, dict):
        raise BadInput(f"{pyproject}: [tool.assetdb] must be a table")
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        raise BadInput(
            f"{pyproject}: unknown key {unknown[0]!r} in [tool.assetdb] "
            f"(known: {', '.join(KNOWN_KEYS)})"
        )
    source = f"{pyproject} [tool.assetdb]"
    limit = DEFAULT_SIZE_LIMIT
    if "size_limit" in table:
        try:
            limit = parse_size(table["size_limit"])
        except BadInput as error:
            raise BadInput(f"{pyproject}: [tool.assetdb] size_limit: {error}") from None
    for key in ("workspace", "phase", "database_list"):
        if key in table and not isinstance(table[key], str):
            raise BadInput(f"{pyproject}: [tool.assetdb] {key} must be a string")
    return Settings(
        size_limit=limit,
        source=source,
        kinds=_kinds(pyproject, table.get("kinds", {})),
        backup_patterns=_patterns(pyproject, table.get("backup_patterns", [])),
        workspace=pyproject.parent / table["workspace"] if "workspace" in table else None,
        phase=table.get("phase"),
        database_list=pyproject.parent / table["database_list"] if "database_list" in table else None,
        exclude=_globs(pyproject, "exclude", table.get("exclude", [])),
        database_folders=tuple(pyproject.parent / folder
                               for folder in _globs(pyproject, "database_folders", table.get("database_folders", []),
                                                     "folders (relative to pyproject.toml)")),
        project_root=pyproject.parent,
    )


def _patterns(pyproject: Path, patterns: object) -> tuple[str, ...]:
    """Regular expressions that mark a documentation path or title as a backup copy."""
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise BadInput(f"{pyproject}: [tool.assetdb] backup_patterns must be a list of regular expressions")
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            raise BadInput(f"{pyproject}: [tool.assetdb] backup_patterns: {pattern!r} is not a regular expression ({error})") from None
    return tuple(patterns)


def _globs(pyproject: Path, key: str, globs: object, what: str = "path globs") -> tuple[str, ...]:
    if not isinstance(globs, list) or not all(isinstance(g, str) and g for g in globs):
        raise BadInput(f"{pyproject}: [tool.assetdb] {key} must be a list of {what}")
    return tuple(globs)


def _kinds(pyproject: Path, table: object) -> dict[str, tuple[str, ...]]:
    if not isinstance(table, dict):
        raise BadInput(f"{pyproject}: [tool.assetdb.kinds] must be a table of kind = [globs]")
    kinds = {}
    for kind, patterns in table.items():
        if kind not in ASSET_KINDS:
            raise BadInput(f"{pyproject}: [tool.assetdb.kinds] unknown kind {kind!r} (kinds: {', '.join(ASSET_KINDS)})")
        if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
            raise BadInput(f"{pyproject}: [tool.assetdb.kinds] {kind} must be a list of path globs")
        kinds[kind] = tuple(patterns)
    return kinds


def resolve_exclusions(patterns: tuple[str, ...] | list[str] = (), start: Path | None = None) -> Exclusions:
    """Files left out on purpose: ``--exclude`` globs plus ``[tool.assetdb] exclude``."""
    settings = load_settings(start)
    return Exclusions.of((*settings.exclude, *patterns), settings.project_root)


def resolve_size_limit(option: str | None, start: Path | None = None) -> int:
    """The cap in force: an explicit option wins over ``pyproject.toml``, then the default."""
    if option is not None:
        return parse_size(option)
    return load_settings(start).size_limit
