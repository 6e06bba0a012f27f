"""Phase 7: ``CONSOLIDATED_DATABASE_LIST.md``, written from the facts and read back.

The list names the active databases of a folder (file, purpose from its tables, size,
% of cap, rows), the archived sources (from the consolidated set's ledger), the shard
manifest, the count reduction and the date. The gate reads it back: every database on
disk must be listed as active, and every listed active database must be on disk.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from .archive import in_archive
from .errors import AssetdbError
from .inventory import take_inventory
from .listing import LIST_FILENAME
from .proof import read_sources
from .size import format_size
from .sqlite import open_readonly, read_header
from .store import APPLICATION_ID, utc_now
from .store.shards import manifest

ACTIVE, ARCHIVED, SHARDS = "## Active databases", "## Archived databases", "## Shards"
_FIRST_CELL = re.compile(r"^\|\s*`([^`]+)`")


@dataclass
class DatabaseList:
    active: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)


def _purpose(tables) -> str:
    names = [table.name for table in tables]
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return f"tables: {shown}" if names else "no tables"


def _is_assetdb(path: Path) -> bool:
    try:
        return read_header(path).application_id == APPLICATION_ID
    except AssetdbError:
        return False


def render_list(root: Path, limit: int) -> str:
    """The list for folder ``root`` as Markdown."""
    inventory = take_inventory(root, limit)
    inventory.databases = [report for report in inventory.databases if not in_archive(root, report.path)]
    archived, shards = [], []
    for report in inventory.databases:
        try:
            with open_readonly(root / report.path) as connection:
                archived.extend(s for s in read_sources(connection) if s.status == "archived")
                shards.extend((report.path, number, name) for number, name in manifest(connection))
        except (AssetdbError, sqlite3.DatabaseError):  # not a consolidated database: nothing to add
            continue
    legacy = [r for r in inventory.databases if r.status == "corrupt" or not _is_assetdb(root / r.path)]
    before = len(legacy) + len(archived)
    after = len(inventory.databases)
    reduction = 100.0 * (before - after) / before if before else 0.0
    lines = [
        "# Consolidated database list",
        "",
        f"Written by `assetdb list` on {utc_now()} for `{root}` (cap {format_size(limit)}).",
        "",
        ACTIVE,
        "",
        "| file | purpose | size | % of cap | rows |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for report in inventory.databases:
        lines.append(
            f"| `{report.path}` | {_purpose(report.tables)} | {format_size(report.bytes)} | "
            f"{report.percent_of_limit:.1f}% | {report.total_rows:,} |"
        )
    lines += ["", ARCHIVED, ""]
    if archived:
        lines += ["| file | archived to |", "| --- | --- |"]
        lines += [f"| `{source.name}` | `{source.archived_path or source.original_path}` |" for source in archived]
    else:
        lines.append("None.")
    lines += ["", SHARDS, ""]
    if shards:
        lines += ["| primary | shard | file |", "| --- | ---: | --- |"]
        lines += [f"| `{primary}` | {number} | `{name}` |" for primary, number, name in shards]
    else:
        lines.append("None: every consolidated database fits in one file.")
    lines += ["", "## Count", "", f"{before} databases before, {after} after ({reduction:.1f}% fewer).", ""]
    return "\n".join(lines)


def write_list(root: Path, limit: int) -> Path:
    target = root / LIST_FILENAME
    temporary = target.with_name(f".{LIST_FILENAME}.tmp")
    temporary.write_text(render_list(root, limit), encoding="utf-8")
    os.replace(temporary, target)
    return target


def read_list(path: Path) -> DatabaseList:
    """The active and archived names of a list written by :func:`render_list`."""
    parsed = DatabaseList()
    section = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line.strip()
            continue
        match = _FIRST_CELL.match(line)
        if match and section == ACTIVE:
            parsed.active.append(match.group(1))
        elif match and section == ARCHIVED:
            parsed.archived.append(match.group(1))
    return parsed
