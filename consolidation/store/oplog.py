"""The operation log: one row in ``cross_database_sync_operations`` per mutating step.

Every migration, ingest, sync, dedupe, archive and size check is
recorded with what it did, when, how it ended, its counts, the bytes it handled and the
size of the database afterwards. Callers record inside their own transaction, so the
log row and the work it describes commit (or roll back) together.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import BadInput

LOG_TABLE = "cross_database_sync_operations"
STATUSES = ("running", "ok", "failed", "aborted", "interrupted")


TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def utc_now() -> str:
    """Timestamps are UTC ISO-8601 with a ``Z``, so they sort as text."""
    return datetime.now(timezone.utc).strftime(TIMESTAMP)


def parse_moment(text: str, option: str, end_of_day: bool = False) -> str:
    """A moment as the log stores them (UTC, ``Z``), from what a user types: a date
    (``2026-11-24``: its start, or with ``end_of_day`` its last second), a date and time
    (``2026-11-24T10:00:00Z``, any offset, none meaning UTC), or a time ago (``90m``,
    ``12h``, ``7d``, ``2w``). Anything else is bad input, named with its ``option``."""
    duration = _DURATION.match(text)
    if duration:
        try:
            ago = timedelta(seconds=int(duration.group(1)) * _UNIT_SECONDS[duration.group(2).lower()])
            return (datetime.now(timezone.utc) - ago).strftime(TIMESTAMP)
        except OverflowError:
            raise BadInput(f"{option} {text!r}: further back than any date can be") from None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{option} {text!r}: use a date (2026-11-24), a date and time (2026-11-24T10:00:00Z) "
                       "or a time ago (12h, 7d, 2w)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if end_of_day and len(text.strip()) == 10:
        moment += timedelta(days=1, seconds=-1)
    return moment.astimezone(timezone.utc).strftime(TIMESTAMP)


def allocated_size(connection: sqlite3.Connection) -> int:
    """Size of the main database once the current transaction commits (pages × page size)."""
    page_count = connection.execute("PRAGMA page_count").fetchone()[0]
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    return page_count * page_size


@dataclass
class Operation:
    """An operation under way; ``record`` writes its row when the outcome is known."""

    operation: str
    subject: str | None = None
    started_at: str = field(default_factory=utc_now)
    counts: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    bytes: int | None = None

    def record(self, connection: sqlite3.Connection, status: str) -> int:
        """Insert the log row in the caller's transaction and return its id."""
        if status not in STATUSES:
            raise ValueError(f"unknown operation status {status!r}")
        cursor = connection.execute(
            f'INSERT INTO "{LOG_TABLE}" (operation, subject, status, started_at, finished_at,'
            " counts, bytes, size_after, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.operation,
                self.subject,
                status,
                self.started_at,
                utc_now(),
                json.dumps(self.counts, sort_keys=True),
                self.bytes,
                allocated_size(connection),
                json.dumps(self.details, sort_keys=True),
            ),
        )
        return cursor.lastrowid
