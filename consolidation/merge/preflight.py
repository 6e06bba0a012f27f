"""Before the first write: every source classified, the target checked, or nothing at all.

A migration that commits three sources and then meets a Git LFS pointer leaves the user
with a half-made target and a failure to untangle. So every source is judged first —
classified (:mod:`consolidation.sqlite.classify`) and, when it is a database, described,
which finds what the merge could not carry (a table with no rowid and no key, a
contentless full-text index) — and the target too. Bad input is refused in one line
naming every unusable file and the way on, with nothing written; ``--skip-unusable``
goes on without them, and each is reported so it can be recorded.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Aborted, AssetdbError, BadInput
from ..globs import Exclusions
from ..sqlite import (
    EmptyDatabase,
    describe_source,
    open_readonly,
    read_header,
    writer_lock_holder,
)
from ..sqlite.classify import Candidate, classify, folder_holding, refuse_broken_symlink
from ..store import APPLICATION_ID, SCHEMA_VERSION
from ..store.identity import PRIMARY, SHARD, claims_assetdb, newer_schema, role
from ..store.set_files import recorded_source
from ..store.shard_files import in_the_set

SHOWN_UNUSABLE = 12


@dataclass
class Preflight:
    """The sources to migrate, and those left out: unusable (with why) or excluded."""

    sources: list[Path] = field(default_factory=list)
    unusable: list[Candidate] = field(default_factory=list)
    excluded: list[tuple[Path, str]] = field(default_factory=list)  # (file, the pattern)

    def left_out(self) -> list[tuple[Path, str, str]]:
        """``(file, status, reason)`` of every file left out, as the ledger records them."""
        return [(c.path, c.status, f"{c.reason}; {c.way_on}") for c in self.unusable] + [
            (path, "excluded", f"left out on purpose (--exclude {pattern})") for path, pattern in self.excluded
        ]


def refusal(unusable: list[Candidate], total: int, verb: str) -> AssetdbError:
    """The one line that names every unusable file and the ways on: bad input (exit 2),
    or, when all that stands in the way is another writer's lock, aborted (exit 3)."""
    shown = "; ".join(candidate.describe() for candidate in unusable[:SHOWN_UNUSABLE])
    more = f"; and {len(unusable) - SHOWN_UNUSABLE} more" if len(unusable) > SHOWN_UNUSABLE else ""
    kind = Aborted if all(candidate.status == "locked" for candidate in unusable) else BadInput
    return kind(
        f"cannot {verb} {len(unusable)} of {total} databases: {shown}{more} — fix them, go on without them "
        "with --skip-unusable, or leave them out with --exclude GLOB; nothing was written"
    )


def judge_source(path: Path, deep: bool = False, root: Path | None = None) -> Candidate:
    """What ``path`` is as a source: usable, or why not (what it is, or what the merge
    cannot carry in it). ``deep`` reads every page too (``quick_check``); a symlink must
    stay inside ``root``, when given."""
    candidate = classify(path, root, deep=deep)
    return (_describe_problem(candidate) or candidate) if candidate.usable else candidate


def _describe_problem(candidate: Candidate) -> Candidate | None:
    """What the merge cannot carry in a readable source, found by describing it."""
    if candidate.status != "sqlite":
        return None
    try:
        with open_readonly(candidate.path) as connection:
            describe_source(connection)
    except sqlite3.DatabaseError as error:
        if "Could not decode to UTF-8" in str(error):  # SQLite read it; its schema's text is what Python cannot
            return Candidate(candidate.path, "unsupported",
                             f"its schema holds text that is not UTF-8 ({error}): SQLite keeps it as given, but it "
                             "cannot be written into the consolidated set; rewrite that declaration in UTF-8",
                             candidate.header)
        return Candidate(candidate.path, "corrupt", f"cannot be read by SQLite ({error})", candidate.header)
    except AssetdbError as error:
        return Candidate(candidate.path, "unsupported", str(error), candidate.header)
    return None


def check_target(target: Path, sources: list[Path]) -> None:
    """The target must be an assetdb database, a zero-byte file, or a new file in a
    folder that exists and can be written; never one of the sources."""
    refuse_broken_symlink(target)
    resolved = {source.resolve() for source in sources}
    if target.resolve() in resolved:
        raise BadInput(f"{target}: is the target itself; it cannot also be a source")
    if target.is_dir():
        raise BadInput(f"{target}: is a folder, not a database file")
    if target.exists():
        try:
            header = read_header(target)
        except EmptyDatabase:
            return
        except AssetdbError as error:
            raise BadInput(f"{target}: the target is not a database ({str(error).split(': ', 1)[-1]})") from None
        if header.application_id == APPLICATION_ID and header.user_version > SCHEMA_VERSION:
            raise newer_schema(target, header.user_version)
        found = role(target) if header.application_id == APPLICATION_ID else None
        holder = writer_lock_holder(target) if found is None and header.application_id == APPLICATION_ID else None
        if holder:  # ours, but a writer held it past the wait: not another application's
            raise Aborted(f"{target}: locked by another writer (pid {holder}), still writing after the wait; rerun "
                          "when it is done; nothing was written")
        if found == SHARD:
            raise BadInput(f"{target}: is a shard of a consolidated set; give its primary file with --into")
        if found != PRIMARY:
            raise BadInput(f"{target}: the target is another application's database (not an assetdb database); "
                           "choose a new file with --into")
        if not os.access(target, os.W_OK):
            raise BadInput(f"{target}: the target cannot be written (permission denied)")
        return
    if not target.parent.is_dir():
        raise BadInput(f"{target.parent}: no such folder for the target")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise BadInput(f"{target.parent}: cannot create the target there (permission denied)")


def _archived_sources(target: Path) -> set[Path]:
    """The files ``target``'s ledger says its sources were archived to (none for a target
    that is not a consolidated set yet)."""
    if not (target.is_file() and role(target) == PRIMARY):
        return set()
    try:
        with open_readonly(target) as connection:
            recorded = connection.execute(
                "SELECT archived_path FROM migration_sources WHERE archived_path IS NOT NULL").fetchall()
    except (AssetdbError, sqlite3.Error):
        return set()  # a ledger that cannot be read is judged where the migration opens it
    return {recorded_source(target, path).resolve() for (path,) in recorded}


def _is_text(name: str) -> bool:
    """Is ``name`` UTF-8 text (no byte the file system allowed that UTF-8 does not)?"""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def preflight(
    target: Path,
    sources: list[Path | str],
    exclusions: Exclusions = Exclusions(),
    skip_unusable: bool = False,
    verb: str = "migrate",
    deep: bool = False,
    folders: tuple[Path, ...] = (),
) -> Preflight:
    """Judge every source and the target; raise :class:`BadInput` unless all is usable
    (or ``skip_unusable``). Reads only. A source found in one of ``folders`` that is a
    link must stay inside it; a link to another source is that source (files come before
    links, so the file is what is migrated, and archived)."""
    if not sources:
        raise BadInput("no source databases given")
    result = Preflight()
    seen: set[Path] = set()
    archived = _archived_sources(target)
    for raw in sorted(sources, key=os.path.islink):
        path = Path(raw)
        if not os.path.lexists(path):
            raise BadInput(f"{path}: no such source database")
        if path.is_dir() and not path.is_symlink():
            raise BadInput(f"{path}: is a folder; give database files (or use assetdb consolidate DIR)")
        if not _is_text(str(path.absolute())):
            raise BadInput(f"{os.fsencode(path)!r}: its name is not UTF-8, which the ledger, the list and the log "
                           "record names in; rename it, then run again; nothing was written")
        pattern = exclusions.matching(path)
        if pattern:
            result.excluded.append((path, pattern))
            continue
        key = path.resolve() if not path.is_symlink() or path.exists() else path.absolute()
        if key in seen or key in archived:  # an archived source: in the set already, as the source it was
            continue
        seen.add(key)
        if path.is_file() and claims_assetdb(path):
            if in_the_set(path, target):
                continue  # the target or a shard of it, named with the sources (databases/*.db)
            result.unusable.append(Candidate(path, "consolidated", "a file of another consolidated set (its primary "
                                             "or a shard), never a legacy source"))
            continue
        candidate = judge_source(path, deep=deep, root=folder_holding(path, folders))
        if candidate.usable:
            result.sources.append(path)
        else:
            result.unusable.append(candidate)
    check_target(target, result.sources)
    if result.unusable and not skip_unusable:
        raise refusal(result.unusable, len(result.sources) + len(result.unusable), verb)
    return result
