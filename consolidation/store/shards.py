"""Partitioning the consolidated set into numbered shards, each under the cap.

The primary file ``enterprise_assets.db`` holds the ledger and is shard 1; when rows
would push a file past the cap they continue in ``enterprise_assets.002.db``,
``enterprise_assets.003.db`` …, registered in the primary's ``shard_manifest``. Every
link in ``migration_row_links`` names the shard holding its row, so readers attach the
shards the manifest lists and follow the links.

SQLite itself enforces the cap on every file: ``PRAGMA max_page_count`` makes a write
that would grow a file past it fail instead of happening. Placement aims lower (a soft
limit), so that the journal of a transaction and the primary's growing ledger fit too.
A write starts with the set's files attached; when the last is full, the next shard is
made and attached then, inside the transaction (SQLite allows an ATTACH there, only not a
DETACH of a file the transaction has used), so it joins the one atomic commit. A write
that does not commit removes the shards it made.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import Aborted, BadInput
from ..size import format_size, remove_database_file
from ..sqlite.readonly import uri_for
from .oplog import utc_now
from .schema import KEPT_RUNS_SINCE
from .shard_files import (
    create_shard_file,
    existing_shard,
    manifest,
    shard_path,
    shard_schema,
    what_holds,
)

#: The most attached databases any SQLite build allows (SQLITE_MAX_ATTACHED's ceiling).
ATTACH_CEILING = 125


class OutOfFiles(Aborted):
    """A write needs another shard and this SQLite cannot attach one more file."""


def most_shards(connection: sqlite3.Connection) -> int:
    """How many files a consolidated set may have on this SQLite: every one is attached at
    once, each but the primary (the connection's main) as one attachment, and one more is
    kept for the source or the file being proved. The limit is raised to what the library
    was built with (ten attachments by default, up to 125)."""
    connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, ATTACH_CEILING)
    return connection.getlimit(sqlite3.SQLITE_LIMIT_ATTACHED)


#: Placement stops at this share of the cap: the rest is for journals and, in the
#: primary, for the ledger (links, accounting, conflicts), which grows with every row.
SHARD_FILL = 0.9
PRIMARY_FILL = 0.5
HARD_FILL = 0.98


def cap_file(connection: sqlite3.Connection, schema: str, limit: int) -> None:
    """Make SQLite itself refuse any write that would take the file ``schema`` past ``limit``."""
    page_size = connection.execute(f"PRAGMA {schema}.page_size").fetchone()[0]
    pages = max(1, int(limit * HARD_FILL) // page_size)
    connection.execute(f"PRAGMA {schema}.max_page_count = {pages}")


#: A primary with less free room than this many pages cannot take even one more row's
#: ledger entries (a link, a conflict, the index pages they split).
LEDGER_HEADROOM_PAGES = 16


def _require_writable(path: Path) -> None:
    """Refuse, naming it, a file of the set this write may not change (read-only, immutable):
    SQLite would open it read-only without a word and fail at the first write into it, its
    message naming no file."""
    try:
        os.close(os.open(path, os.O_RDWR))
    except OSError as error:
        raise BadInput(f"{path}: the set's file cannot be written ({error.strerror}); nothing was changed") from None


class ShardSet:
    """The primary and its shards, attached to the connection that writes them."""

    def __init__(self, connection: sqlite3.Connection, primary: Path, limit: int, partition: bool = True):
        self.connection = connection
        self.primary = primary
        self.limit = limit
        self.partition = partition
        self.registered = [1] + [number for number, _ in manifest(connection)]
        self.made: list[int] = []  # shards this write made: registered only if it commits
        self.empty_size: dict[int, int] = {}  # what each shard this write made held when made
        self.attached: list[int] = []
        self.current = self.registered[-1]  # until open() finds the first with room
        self.most = most_shards(connection)
        self.version = connection.execute("PRAGMA main.user_version").fetchone()[0]  # its new shards say it
        # Attachments the writer holds besides the shards (the sources a migration reads);
        # one is kept free at least, for the file a later read proves beside the shards.
        self.reserved = max(1, sum(1 for row in connection.execute("PRAGMA database_list")
                                   if row[1] not in ("main", "temp")))

    @property
    def links_kept_runs(self) -> bool:
        """Can one link cover a run of kept conflicting versions? Not in a file whose schema
        (version 3, until assetdb init upgrades it) forbids it."""
        return self.version >= KEPT_RUNS_SINCE

    @property
    def numbers(self) -> list[int]:
        """The shards in use: the registered ones and those this write made."""
        return self.registered + self.made

    def schema(self, number: int) -> str:
        return shard_schema(number)

    def open(self) -> None:
        """Attach the registered shards (before the transaction: a missing one is refused
        before anything is written), and write into the first with room: rows a changed
        source or a superseded file left behind free room in any of them."""
        _require_writable(self.primary)
        for number in self.registered[1:]:
            _require_writable(existing_shard(self.primary, number))
            self._attach(number)
        self.current = next((number for number in self.registered if self.has_room(number)), self.registered[-1])

    def _attach(self, number: int) -> None:
        self.connection.execute(f"ATTACH DATABASE ? AS {shard_schema(number)}", (uri_for(shard_path(self.primary, number)),))
        self.attached.append(number)

    def _fill(self, number: int) -> float:
        return PRIMARY_FILL if number == 1 else SHARD_FILL

    def enforce_cap(self) -> None:
        """Make SQLite refuse any write that would take a file past the cap."""
        for number in self.numbers:
            cap_file(self.connection, shard_schema(number), self.limit)

    def allocated(self, number: int) -> int:
        """The size of shard ``number``'s file."""
        schema = shard_schema(number)
        pages = self.connection.execute(f"PRAGMA {schema}.page_count").fetchone()[0]
        return pages * self.connection.execute(f"PRAGMA {schema}.page_size").fetchone()[0]

    def used(self, number: int) -> int:
        """The bytes of shard ``number`` that hold something: its pages less those on the
        free list (rows deleted), which SQLite fills again before it grows the file."""
        schema = shard_schema(number)
        pages, free, size = (self.connection.execute(f"PRAGMA {schema}.{pragma}").fetchone()[0]
                             for pragma in ("page_count", "freelist_count", "page_size"))
        return (pages - free) * size

    def has_room(self, number: int) -> bool:
        return self.used(number) <= self.limit * self._fill(number)

    def has_room_for(self, number: int, size: int) -> bool:
        """Can ``size`` more bytes go into shard ``number`` and stay under its fill?"""
        return self.used(number) + size <= self.limit * self._fill(number)

    def go_back_to_room_for(self, size: int) -> bool:
        """Make the first file with room for ``size`` more bytes current (not a file more)."""
        fitting = next((number for number in self.numbers if self.has_room_for(number, size)), None)
        if fitting is not None:
            self.current = fitting
        return fitting is not None

    def holds_nothing_yet(self, number: int) -> bool:
        """Is shard ``number`` one this write made, still as it was made?"""
        return self.empty_size.get(number) == self.used(number)

    def could_hold_alone(self, number: int, size: int) -> bool:
        """Can ``size`` more bytes go into shard ``number`` under SQLite's own page limit?"""
        return self.used(number) + size <= self.limit * HARD_FILL

    def _next_with_room(self) -> int | None:
        return next((number for number in self.numbers if number > self.current and self.has_room(number)), None)

    def can_make(self) -> bool:
        """May this write make a new shard? (Partitioning allowed, and one more file can be
        attached beside what the writer holds.)"""
        return self.partition and len(self.numbers) + self.reserved <= self.most

    def can_advance(self) -> bool:
        """May this write continue in another shard, a later one with room or a new one?"""
        return self.partition and (self._next_with_room() is not None or self.can_make())

    def exhausted(self) -> Aborted:
        """The refusal when every file this write may use is full, saying which wall it met."""
        cap = format_size(self.limit)
        if self.ledger_filled_primary():
            return Aborted(
                f"{self.primary}: the primary file is full under the cap of {cap}: the migration ledger and the "
                "file assets' records it holds for the whole set (the provenance of every row folded as a "
                "duplicate or kept as a conflict; each stored file's path, hash and versions) need more room than "
                "the cap leaves it; use a larger --limit; rolled back")
        if not self.partition:
            return Aborted(f"{self.primary}: the data does not fit under the cap of {cap} without partitioning; "
                           "rolled back")
        return OutOfFiles(f"{self.primary}: the data does not fit under the cap of {cap} in {len(self.numbers)} "
                          "files (the most this SQLite can attach at once); rolled back")

    def ledger_filled_primary(self) -> bool:
        """Rows go elsewhere, yet the primary has no room left for the ledger entries of even
        one more row: the ledger, not the rows, is what does not fit."""
        if self.current == 1:
            return False  # the rows themselves are filling the primary
        return self.at_hard_cap(1, LEDGER_HEADROOM_PAGES)

    def at_hard_cap(self, number: int, headroom_pages: int = 1) -> bool:
        """Is shard ``number`` within ``headroom_pages`` of the page count SQLite holds it to
        (its free pages being room too)?"""
        page_size = self.connection.execute(f"PRAGMA {shard_schema(number)}.page_size").fetchone()[0]
        return self.used(number) + headroom_pages * page_size > self.limit * HARD_FILL

    def advance(self) -> int:
        """Continue in the next shard with room, else in a new one: made, attached under the
        cap and registered in the manifest, all inside the write's transaction. Called
        outside any savepoint (a rollback to one would undo the registration and keep the
        file in use)."""
        following = self._next_with_room()
        if following is not None and self.partition:
            self.current = following
            return following
        if not self.can_make():
            raise self.exhausted()
        number = max(self.numbers) + 1
        path = shard_path(self.primary, number)
        if os.path.lexists(path):  # an empty leftover of a killed write was removed with the lock taken
            raise Aborted(f"{path}: the set's next shard needs this name, and a file that is not one of its "
                          f"shards holds it ({what_holds(path, self.primary)}); move it away, then run again; "
                          "rolled back")
        self.made.append(number)  # before it exists: a failure from here on removes it
        create_shard_file(path, self.primary, number, self.version)
        self._attach(number)
        cap_file(self.connection, shard_schema(number), self.limit)
        self.current = number
        self._register(number)
        self.empty_size[number] = self.used(number)
        return number

    def _register(self, number: int) -> None:
        self.connection.execute(
            "INSERT INTO main.shard_manifest (shard, file_name, created_at) VALUES (1, ?, ?) "
            "ON CONFLICT (shard) DO NOTHING",
            (self.primary.name, utc_now()),
        )
        self.connection.execute(
            "INSERT INTO main.shard_manifest (shard, file_name, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (shard) DO NOTHING",
            (number, shard_path(self.primary, number).name, utc_now()),
        )

    def record_sizes(self) -> None:
        """Each file's size in the manifest, just before the commit."""
        for number in self.numbers:
            self.connection.execute(
                "UPDATE main.shard_manifest SET bytes = ? WHERE shard = ?", (self.allocated(number), number)
            )

    def close(self, committed: bool) -> None:
        """Detach everything; remove the shards this write made unless it committed."""
        for number in self.attached:
            self.connection.execute(f"DETACH DATABASE {shard_schema(number)}")
        if committed:
            self.registered += self.made
        else:
            for number in self.made:
                remove_database_file(shard_path(self.primary, number))
        self.made, self.attached, self.empty_size = [], [], {}
        self.current = self.registered[-1]
