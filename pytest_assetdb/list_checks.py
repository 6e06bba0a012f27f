"""The gate's checks about the database list: is each database named as what it is, and is
every database the list gives as active on disk? Each failure carries the ``assetdb list``
that makes the list true again, over every folder the list keeps."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from consolidation.listing import DatabaseList, read_list, the_one_list
from consolidation.sqlite.backup import find_workspace
from consolidation.store.reading import registering_primary

from .checks import CheckResult, shell_quoted


def _list_hint(path: Path, list_file: Path, archived: bool = False) -> str:
    """The list command that makes the list true again: over every folder it keeps (its active
    databases' folders, and the database's own unless it is an archived source, whose folder
    is the archive), quoted for a shell."""
    folders = _folders_kept(read_list(list_file)) if list_file.is_file() else {}
    if not archived or not folders:
        own = path.parent.parent if archived else path.parent
        folders.setdefault(os.path.realpath(own), os.path.normpath(own))
    return _list_command(folders, list_file)


def _folders_kept(database_list: DatabaseList) -> dict[str, str]:
    """The folders of the list's active databases, by where each resolves: one folder reached
    two ways (databases, documentation/../databases) is named once."""
    folders: dict[str, str] = {}
    for name in listed_as_active(database_list):
        folder = database_list.located(name).parent
        folders.setdefault(os.path.realpath(folder), os.path.normpath(folder))
    return folders


def _list_command(folders: dict[str, str], list_file: Path) -> str:
    return f"assetdb list {' '.join(map(shell_quoted, sorted(folders.values())))} --write --list {shell_quoted(list_file)}"


def check_listed(path: Path, list_file: Path, shown_as: str | None = None, archived: bool = False) -> CheckResult:
    """Is the database named in the database list (an archived source: as archived)?"""
    name = shown_as or str(path)
    hint = _list_hint(path, list_file, archived)
    if not list_file.is_file():
        now = the_one_list(find_workspace(list_file.parent))  # moved there?
        moved = f" (if it is {now} now, run: {_list_hint(path, now, archived)})" if now else ""
        return CheckResult(False, f"no database list at {list_file} — run: {hint}{moved}")
    database_list = read_list(list_file)
    relative = database_list.relative(path)
    section = database_list.section_of(path)
    if section is None and not database_list.names(path) and path.is_symlink():
        target = Path(os.path.realpath(path))  # another name of a listed database is that database
        if database_list.section_of(target) is not None:
            verdict = check_listed(target, list_file, database_list.relative(target), archived)
            return replace(verdict, message=f"{relative} is a link: {verdict.message}")
    if archived and section not in (None, "archived"):
        return CheckResult(False, f"listed as {section}, but {name} is archived — run: {hint}")
    if not archived and section == "archived":
        return CheckResult(False, f"listed as archived, but {name} is an active database — run: {hint}")
    if section is not None or database_list.names(path):
        return CheckResult(True, f"{relative} is listed in {list_file.name}" + (f" ({section})" if section else ""))
    primary = (registering_primary(path) or (None,))[0]
    if primary is not None and (database_list.section_of(primary) is not None or database_list.names(primary)):
        # a later write (a sync, an ingest) made this shard: the set it belongs to is listed
        return CheckResult(True, f"{relative} is a shard of {database_list.relative(primary)}, which is listed in "
                                 f"{list_file.name} (its shards table is brought up to date by: {hint})")
    return CheckResult(False, f"not listed: {name} is missing from {list_file} — run: {hint}")


def listed_as_active(parsed: DatabaseList) -> list[str]:
    """Names a list gives as active: its generated block's active databases and shards
    (relative to the list), or, in a list without one, every database it mentions."""
    return sorted({*parsed.active, *parsed.shards} if parsed.generated else parsed.mentioned())


def check_list_complete(list_file: Path, shown_as: str | None = None) -> CheckResult:
    """Is every database the list gives as active on disk?"""
    name = shown_as or str(list_file)
    database_list = read_list(list_file)
    active = listed_as_active(database_list)
    missing = [listed for listed in active if not os.path.lexists(database_list.located(listed))]  # a link listed as one too
    figures = {"listed": len(active), "missing": len(missing)}
    if missing:
        return CheckResult(
            False,
            f"listed but missing on disk: {', '.join(missing[:20])} — run: "
            f"{_list_command(_folders_kept(database_list), list_file)} (or restore them)\n{name}",
            figures,
        )
    return CheckResult(True, "every listed database is on disk", figures)
